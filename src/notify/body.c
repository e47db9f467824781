/* body.c - the bodies deliveries send, read from the store at each attempt (body.h).
 *
 * The run delivery is the API's run object (events/run_json.c) with the run's deliveries
 * summary and its page link. A records batch reads the run's change rows after the batch's
 * first seq, a page of PAGE rows at a time, keeping created, updated and deleted (a delete of
 * a sync whose on_missing is flag is "flagged"); skipped and failed records changed nothing
 * in the application's tables and are left out. One more qualifying change is looked for
 * after the batch is full, to say whether the batch is the last. Memory: one page of change
 * rows and the batch's JSON (at most FERRY_NOTIFY_BATCH_MAX records). */
#include "notify/body.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/run_json.h"
#include "util/buf.h"

#define PAGE 1000
#define EMAIL_REASONS 20
#define EMAIL_MAX (256 * 1024)

void ferry_notify_run_url(const ferry_config *cfg, int64_t id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/#/runs/%lld", cfg->public_url != NULL ? cfg->public_url : "",
             (long long)id);
}

static char *dump(json_t *o, ferry_err *err)
{
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    json_decref(o);
    if (s == NULL)
        ferry_err_set(err, FERRY_ENOMEM, "building the delivery's body");
    return s;
}

ferry_rc ferry_notify_run_body(ferry_store *st, const ferry_config *cfg, const ferry_delivery *d,
                               const ferry_run *run, char **ret, ferry_err *err)
{
    ferry_delivery_summary sum;
    char url[1024];
    json_t *o, *r;
    ferry_rc rc;

    if ((rc = st->outbox->delivery_summary(st, &run->id, 1, &sum, err)) != FERRY_OK)
        return rc;
    ferry_notify_run_url(cfg, run->id, url, sizeof(url));
    if ((r = ferry_run_to_json(run, NULL)) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "building the delivery's body");
    json_object_set_new(r, "deliveries", ferry_delivery_summary_to_json(&sum));
    json_object_set_new(r, "url", json_string(url));
    o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "type", json_string("run.finished"));
        json_object_set_new(o, "delivery_id", json_string(d->id));
        json_object_set_new(o, "run", r);
    } else {
        json_decref(r);
    }
    *ret = dump(o, err);
    return *ret != NULL ? FERRY_OK : FERRY_ENOMEM;
}

/* The on_missing of the step (of sync) named step, or of sync itself. */
static ferry_on_missing on_missing_of(const ferry_sync_spec *sync, const char *step)
{
    if (sync == NULL)
        return FERRY_ON_MISSING_DELETE;
    for (size_t k = 0; step != NULL && k < sync->nsteps; k++)
        if (strcmp(sync->steps[k].name, step) == 0)
            return sync->steps[k].target.on_missing;
    return sync->target.on_missing;
}

static json_t *record_json(const ferry_sync_spec *sync, const ferry_change *c)
{
    const char *outcome = c->outcome == FERRY_OUTCOME_CREATED                     ? "created"
                          : c->outcome == FERRY_OUTCOME_UPDATED                   ? "updated"
                          : on_missing_of(sync, c->step) == FERRY_ON_MISSING_FLAG ? "flagged"
                                                                                  : "deleted";
    json_t *diff = c->diff != NULL ? json_loads(c->diff, 0, NULL) : NULL;

    return json_pack("{s:o s:o s:s s:o}", "step", c->step ? json_string(c->step) : json_null(),
                     "key", c->record_key ? json_string(c->record_key) : json_null(), "outcome",
                     outcome, "diff", diff != NULL ? diff : json_null());
}

static bool feeds(const ferry_change *c)
{
    return c->outcome == FERRY_OUTCOME_CREATED || c->outcome == FERRY_OUTCOME_UPDATED ||
           c->outcome == FERRY_OUTCOME_DELETED;
}

ferry_rc ferry_notify_records_body(ferry_store *st, const ferry_sync_spec *sync,
                                   const ferry_delivery *d, long batch, char **ret, bool *ret_last,
                                   int64_t *ret_end, ferry_err *err)
{
    ferry_change_filter f = {-1, d->from_seq, PAGE};
    json_t *records = json_array(), *o;
    int64_t end = d->from_seq;
    bool last = true, done = false;
    ferry_rc rc = FERRY_OK;

    if (records == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "building the delivery's body");
    while (!done) {
        ferry_change *c = NULL;
        size_t n = 0;
        if ((rc = st->runs->change_list(st, d->run_id, &f, &c, &n, err)) != FERRY_OK)
            break;
        for (size_t i = 0; i < n && !done; i++) {
            if (!feeds(&c[i]))
                continue;
            if ((long)json_array_size(records) == batch) {
                last = false; /* one more after a full batch */
                done = true;
                break;
            }
            json_array_append_new(records, record_json(sync, &c[i]));
            end = c[i].seq;
        }
        if (n > 0)
            f.after_seq = c[n - 1].seq;
        ferry_changes_free(c, n);
        if (n < PAGE)
            done = true;
    }
    if (rc != FERRY_OK) {
        json_decref(records);
        return rc;
    }
    o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "type", json_string("run.records"));
        json_object_set_new(o, "delivery_id", json_string(d->id));
        json_object_set_new(o, "run_id", json_integer(d->run_id));
        json_object_set_new(o, "seq", json_integer(d->seq));
        json_object_set_new(o, "last", json_boolean(last));
        json_object_set_new(o, "records", records);
    } else {
        json_decref(records);
    }
    if ((*ret = dump(o, err)) == NULL)
        return FERRY_ENOMEM;
    *ret_last = last;
    *ret_end = end;
    return FERRY_OK;
}

ferry_rc ferry_notify_email_text(ferry_store *st, const ferry_config *cfg,
                                 const ferry_sync_spec *sync, const ferry_run *run,
                                 char **ret_subject, char **ret_text, ferry_err *err)
{
    ferry_change_filter f = {FERRY_OUTCOME_FAILED, 0, EMAIL_REASONS};
    const char *title = sync != NULL && sync->title != NULL ? sync->title : run->sync;
    const char *how = run->status == FERRY_RUN_SUCCEEDED   ? "succeeded"
                      : run->status == FERRY_RUN_CANCELLED ? "was cancelled"
                                                           : "failed";
    ferry_change *c = NULL;
    size_t n = 0;
    char url[1024], subject[512];
    ferry_buf b;
    ferry_rc rc;

    ferry_notify_run_url(cfg, run->id, url, sizeof(url));
    snprintf(subject, sizeof(subject), "Ferry: sync of %s %s%s%s", title, how,
             run->tenant != NULL ? " for " : "", run->tenant != NULL ? run->tenant : "");
    /* A header line: no line break may get into it. */
    for (char *p = subject; *p != '\0'; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    ferry_buf_init(&b, EMAIL_MAX);
    ferry_buf_printf_trunc(&b, "%s\n\n",
                           run->ui_message != NULL ? run->ui_message : "The run has ended.");
    if (run->error != NULL && run->status != FERRY_RUN_SUCCEEDED)
        ferry_buf_printf_trunc(&b, "Error: %s\n\n", run->error);
    if (run->counts[FERRY_OUTCOME_FAILED] > 0 &&
        st->runs->change_list(st, run->id, &f, &c, &n, err) == FERRY_OK && n > 0) {
        ferry_buf_printf_trunc(&b, "Failed records (%s%lld):\n",
                               run->counts[FERRY_OUTCOME_FAILED] > (int64_t)n ? "the first " : "",
                               (long long)(run->counts[FERRY_OUTCOME_FAILED] > (int64_t)n
                                               ? (int64_t)n
                                               : run->counts[FERRY_OUTCOME_FAILED]));
        for (size_t i = 0; i < n; i++)
            ferry_buf_printf_trunc(&b, "- %s%s%s\n", c[i].record_key ? c[i].record_key : "",
                                   c[i].record_key ? ": " : "", c[i].reason ? c[i].reason : "");
        ferry_buf_printf_trunc(&b, "\n");
    }
    ferry_changes_free(c, n);
    ferry_err_clear(err);
    ferry_buf_printf_trunc(&b, "The run: %s\n", url);
    *ret_text = ferry_buf_take(&b);
    *ret_subject = strdup(subject);
    rc = *ret_text != NULL && *ret_subject != NULL ? FERRY_OK : FERRY_ENOMEM;
    if (rc != FERRY_OK) {
        free(*ret_text);
        free(*ret_subject);
        return ferry_err_set(err, FERRY_ENOMEM, "building the e-mail");
    }
    return FERRY_OK;
}
