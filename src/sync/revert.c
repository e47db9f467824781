/* revert.c - reverting a succeeded run (revert.h; docs/sync.md, "Reverting a run").
 *
 * Order of work: every refusal is decided before anything is written (the run, its sync,
 * the deleted rows without values); then the keys later runs of the same sync and tenant
 * changed are collected (a record one of them touched is a conflict: the reverted run is not
 * the last to have written it); then the revert run is recorded as running (committed on its
 * own, so a crash leaves a run that recovery ends as interrupted), and the undoing, the
 * revert's change rows and its final record go into one transaction on the store's
 * connection: a crash or an error leaves the tables exactly as before, a commit exactly as
 * after. Only then is the result audited.
 *
 * The reverted run's change rows are undone the last first; since a run's steps write their
 * change rows one after the other, that is the steps in reverse order. A record's current
 * row is read by key (target/rows.h) and compared with what the run left: a created row must
 * still exist, an updated row's diffed fields must still hold their new values, a deleted
 * row must not exist again (a flagged row must still be flagged).
 *
 * Memory: the reverted run's change rows and the keys later runs changed are held while the
 * revert runs (one change row each); the revert's own change rows are written CHANGE_BATCH
 * at a time. The log message keeps at most LOG_CONFLICTS conflicts. */
#include "sync/revert.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "target/rows.h"
#include "target/shape.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define CHANGE_BATCH 256
#define LOG_CONFLICTS 50
#define RUNS_PAGE 100

typedef struct {
    const ferry_revert_options *opt;
    const ferry_sync_spec *sync;
    const ferry_run *target; /* the run reverted */
    ferry_run run;           /* the revert */
    ferry_target_rows *rows[FERRY_STEPS_MAX + 1];
    json_t *later; /* "step\x1fkey" of every record a later run changed */
    ferry_change batch[CHANGE_BATCH];
    size_t nbatch;
    int64_t seq;
    int64_t deleted, restored, reinserted, conflicts, forced;
    ferry_buf log;
    ferry_buf key;
    char now[64];
} revert_ctx;

bool ferry_revert_values_same(const char *a, const char *b)
{
    static const char *const truths[] = {"1", "t", "true"}, *const lies[] = {"0", "f", "false"};
    bool ta = false, tb = false, fa = false, fb = false;
    char *end_a, *end_b;
    double da, db;

    if (a == NULL)
        a = "";
    if (b == NULL)
        b = "";
    if (strcmp(a, b) == 0)
        return true;
    if (*a == '\0' || *b == '\0')
        return false;
    for (size_t i = 0; i < 3; i++) {
        ta |= strcasecmp(a, truths[i]) == 0;
        tb |= strcasecmp(b, truths[i]) == 0;
        fa |= strcasecmp(a, lies[i]) == 0;
        fb |= strcasecmp(b, lies[i]) == 0;
    }
    if ((ta && tb) || (fa && fb))
        return true;
    da = strtod(a, &end_a);
    db = strtod(b, &end_b);
    return *end_a == '\0' && *end_b == '\0' && da == db;
}

void ferry_revert_message(int64_t run_id, int64_t deleted, int64_t restored, int64_t reinserted,
                          int64_t left, int64_t forced, char *out, size_t outlen)
{
    int n =
        snprintf(out, outlen, "Reverted run %lld: %lld deleted, %lld restored, %lld re-inserted",
                 (long long)run_id, (long long)deleted, (long long)restored, (long long)reinserted);

    if (n >= 0 && (size_t)n < outlen && left > 0)
        n += snprintf(out + n, outlen - (size_t)n, ", %lld conflict%s left alone", (long long)left,
                      left == 1 ? "" : "s");
    if (n >= 0 && (size_t)n < outlen && forced > 0)
        n += snprintf(out + n, outlen - (size_t)n, ", %lld conflict%s forced", (long long)forced,
                      forced == 1 ? "" : "s");
    if (n >= 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, ".");
}

/* The step of sync a change row names (NULL: the sync itself), and its index. */
static const ferry_sync_spec *step_of(const ferry_sync_spec *sync, const char *name, size_t *ret_i)
{
    size_t n = ferry_sync_step_count(sync);

    for (size_t i = 0; i < n; i++) {
        const ferry_sync_spec *s = ferry_sync_step(sync, i);
        if (name == NULL || sync->nsteps == 0 || strcmp(s->name, name) == 0) {
            *ret_i = i;
            return s;
        }
    }
    return NULL;
}

static ferry_rc later_key(revert_ctx *c, const char *step, const char *key, ferry_buf *out,
                          ferry_err *err)
{
    ferry_buf_reset(out);
    if (ferry_buf_printf(out, "%s\x1f%s", step != NULL ? step : "", key != NULL ? key : "") !=
        FERRY_OK)
        return ferry_err_set(err, FERRY_ELIMIT, "run %lld: a key is too long",
                             (long long)c->target->id);
    return FERRY_OK;
}

/* The keys every later succeeded run of the same sync and tenant changed. */
static ferry_rc collect_later(revert_ctx *c, ferry_err *err)
{
    ferry_store *st = c->opt->store;
    ferry_run_filter f = {.sync = c->target->sync, .status = "succeeded", .limit = RUNS_PAGE};
    ferry_change_filter all = {.outcome = -1};
    ferry_rc rc = FERRY_OK;

    if ((c->later = json_object()) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "reading later runs");
    for (;;) {
        ferry_run *runs = NULL;
        size_t n = 0;
        bool more;
        if ((rc = st->runs->run_list(st, &f, &runs, &n, err)) != FERRY_OK)
            return rc;
        more = n == RUNS_PAGE;
        for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
            const ferry_run *r = &runs[i];
            ferry_change *ch = NULL;
            size_t nch = 0;
            f.before_id = r->id;
            if (r->id <= c->target->id) {
                more = false;
                break;
            }
            if (r->dry_run || (r->tenant == NULL) != (c->target->tenant == NULL) ||
                (r->tenant != NULL && strcmp(r->tenant, c->target->tenant) != 0))
                continue;
            if ((rc = st->runs->change_list(st, r->id, &all, &ch, &nch, err)) != FERRY_OK)
                break;
            for (size_t k = 0; k < nch && rc == FERRY_OK; k++) {
                if (ch[k].outcome != FERRY_OUTCOME_CREATED &&
                    ch[k].outcome != FERRY_OUTCOME_UPDATED &&
                    ch[k].outcome != FERRY_OUTCOME_DELETED)
                    continue;
                if ((rc = later_key(c, ch[k].step, ch[k].record_key, &c->key, err)) == FERRY_OK &&
                    json_object_set_new(c->later, ferry_buf_str(&c->key), json_integer(r->id)))
                    rc = ferry_err_set(err, FERRY_ENOMEM, "reading later runs");
            }
            ferry_changes_free(ch, nch);
        }
        ferry_runs_free(runs, n);
        if (rc != FERRY_OK || !more)
            return rc;
    }
}

static ferry_rc flush(revert_ctx *c, ferry_err *err)
{
    ferry_store *st = c->opt->store;
    ferry_rc rc = FERRY_OK;

    if (c->nbatch > 0)
        rc = st->runs->changes_add(st, c->batch, c->nbatch, err);
    for (size_t i = 0; i < c->nbatch; i++)
        ferry_change_done(&c->batch[i]);
    c->nbatch = 0;
    return rc;
}

static char *dup_or_null(const char *s, bool *ok)
{
    char *d;

    if (s == NULL)
        return NULL;
    if ((d = strdup(s)) == NULL)
        *ok = false;
    return d;
}

/* Records one change row of the revert (strings copied; values may be NULL). */
static ferry_rc add(revert_ctx *c, const ferry_change *of, ferry_outcome outcome, const char *key,
                    const char *reason, const char *diff, const char *values, ferry_err *err)
{
    ferry_change *ch = &c->batch[c->nbatch];
    bool ok = true;

    memset(ch, 0, sizeof(*ch));
    ch->run_id = c->run.id;
    ch->seq = ++c->seq;
    ch->outcome = outcome;
    ch->record_key = dup_or_null(key, &ok);
    ch->reason = dup_or_null(reason, &ok);
    ch->diff = dup_or_null(diff, &ok);
    ch->row_values = dup_or_null(values, &ok);
    ch->step = dup_or_null(of->step, &ok);
    ch->label = dup_or_null(of->label, &ok);
    c->nbatch++;
    c->run.counts[outcome]++;
    if (!ok)
        return ferry_err_set(err, FERRY_ENOMEM, "recording the revert's changes");
    if (c->nbatch == CHANGE_BATCH)
        return flush(c, err);
    return FERRY_OK;
}

/* A conflict: left alone (a skipped change row saying why), or, forced, counted and done. */
static ferry_rc conflict(revert_ctx *c, const ferry_change *of, const char *why, ferry_err *err)
{
    char reason[600];

    c->conflicts++;
    snprintf(reason, sizeof(reason), "conflict: %s", why);
    if (c->conflicts <= LOG_CONFLICTS)
        ferry_buf_printf(&c->log, "\n  %s: %s", of->record_key ? of->record_key : "?", reason);
    else if (c->conflicts == LOG_CONFLICTS + 1)
        ferry_buf_printf(&c->log, "\n  ...");
    return add(c, of, FERRY_OUTCOME_SKIPPED, of->record_key, reason, NULL, NULL, err);
}

static const char *text_of(const json_t *row, const char *name)
{
    return json_string_value(json_object_get(row, name));
}

static char *dumps(const json_t *j, ferry_err *err)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

    if (s == NULL)
        ferry_err_set(err, FERRY_ENOMEM, "recording the revert's changes");
    return s;
}

/* Whether a later run changed the change's record; why is set when it did. */
static bool touched_later(revert_ctx *c, const ferry_change *ch, char *why, size_t len)
{
    ferry_err ignored;
    json_t *by;

    if (later_key(c, ch->step, ch->record_key, &c->key, &ignored) != FERRY_OK)
        return false;
    by = json_object_get(c->later, ferry_buf_str(&c->key));
    if (by == NULL)
        return false;
    snprintf(why, len, "changed since by run %lld", (long long)json_integer_value(by));
    return true;
}

static ferry_rc undo_created(revert_ctx *c, const ferry_sync_spec *step, ferry_target_rows *rows,
                             const ferry_change *ch, ferry_err *err)
{
    json_t *key = NULL, *cur = NULL;
    char why[300], reason[300], *values = NULL;
    int64_t n = 0;
    ferry_rc rc;
    bool later = touched_later(c, ch, why, sizeof(why));

    if ((rc = ferry_target_rows_key_parse(step, c->target->tenant, ch->record_key, &key, err)) !=
            FERRY_OK ||
        (rc = ferry_target_rows_get(rows, key, &cur, err)) != FERRY_OK)
        goto out;
    if (cur == NULL) {
        rc = conflict(c, ch, "the row it created is gone", err);
        goto out;
    }
    if (later && !c->opt->force) {
        rc = conflict(c, ch, why, err);
        goto out;
    }
    if (later)
        c->forced++;
    if ((values = dumps(cur, err)) == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    if ((rc = ferry_target_rows_delete(rows, key, &n, err)) != FERRY_OK)
        goto out;
    snprintf(reason, sizeof(reason), "reverted: created by run %lld", (long long)c->target->id);
    c->deleted++;
    rc = add(c, ch, FERRY_OUTCOME_DELETED, ch->record_key, reason, NULL, values, err);
out:
    free(values);
    json_decref(key);
    json_decref(cur);
    return rc;
}

static ferry_rc undo_updated(revert_ctx *c, const ferry_sync_spec *step, ferry_target_rows *rows,
                             const ferry_change *ch, ferry_err *err)
{
    json_t *key = NULL, *cur = NULL, *diff = NULL, *set = NULL, *shown = NULL, *pair;
    const char *field;
    char why[300], *text = NULL;
    bool later = touched_later(c, ch, why, sizeof(why)), moved = false;
    ferry_rc rc;

    if ((diff = json_loads(ch->diff != NULL ? ch->diff : "{}", 0, NULL)) == NULL ||
        !json_is_object(diff)) {
        rc = ferry_err_set(err, FERRY_EINVAL, "run %lld: the change of '%s' has no diff",
                           (long long)c->target->id, ch->record_key ? ch->record_key : "?");
        goto out;
    }
    if ((rc = ferry_target_rows_key_parse(step, c->target->tenant, ch->record_key, &key, err)) !=
            FERRY_OK ||
        (rc = ferry_target_rows_get(rows, key, &cur, err)) != FERRY_OK)
        goto out;
    if (cur == NULL) {
        rc = conflict(c, ch, "the row it updated is gone", err);
        goto out;
    }
    json_object_foreach(diff, field, pair)
    {
        const char *now = text_of(cur, field);
        const char *new = json_string_value(json_array_get(pair, 1));
        if (!moved && !ferry_revert_values_same(now, new) &&
            !ferry_target_rows_same(rows, field, now, new)) {
            snprintf(why, sizeof(why), "%s is now '%s', not '%s' as run %lld left it", field,
                     now ? now : "", new ? new : "", (long long)c->target->id);
            moved = true;
        }
    }
    if ((later || moved) && !c->opt->force) {
        rc = conflict(c, ch, why, err);
        goto out;
    }
    if (later || moved)
        c->forced++;
    if ((set = json_object()) == NULL || (shown = json_object()) == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "restoring a row");
        goto out;
    }
    json_object_foreach(diff, field, pair)
    {
        const char *old = json_string_value(json_array_get(pair, 0));
        const char *now = text_of(cur, field);
        json_object_set_new(set, field,
                            old != NULL && *old != '\0' ? json_string(old) : json_null());
        json_object_set_new(shown, field,
                            json_pack("[ss]", now != NULL ? now : "", old != NULL ? old : ""));
    }
    if (step->target.updated_column != NULL)
        json_object_set_new(set, step->target.updated_column, json_string(c->now));
    if ((text = dumps(shown, err)) == NULL) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    if ((rc = ferry_target_rows_update(rows, key, set, err)) != FERRY_OK)
        goto out;
    c->restored++;
    rc = add(c, ch, FERRY_OUTCOME_UPDATED, ch->record_key, NULL, text, NULL, err);
out:
    free(text);
    json_decref(key);
    json_decref(cur);
    json_decref(diff);
    json_decref(set);
    json_decref(shown);
    return rc;
}

/* Writes set into the row of key and records the revert's change row: updated, with shown
 * (field -> [now, restored]) as its diff. */
static ferry_rc restore(revert_ctx *c, ferry_target_rows *rows, const ferry_change *ch, json_t *key,
                        json_t *set, json_t *shown, ferry_err *err)
{
    char *text = dumps(shown, err);
    ferry_rc rc;

    if (text == NULL)
        return FERRY_ENOMEM;
    if ((rc = ferry_target_rows_update(rows, key, set, err)) == FERRY_OK) {
        c->restored++;
        rc = add(c, ch, FERRY_OUTCOME_UPDATED, ch->record_key, NULL, text, NULL, err);
    }
    free(text);
    return rc;
}

static ferry_rc undo_deleted(revert_ctx *c, const ferry_sync_spec *step, ferry_target_rows *rows,
                             const ferry_change *ch, ferry_err *err)
{
    const ferry_target_spec *tg = &step->target;
    bool flagged = ch->reason != NULL && strstr(ch->reason, "flagged") != NULL;
    json_t *values = NULL, *key = NULL, *cur = NULL, *set = NULL, *shown = NULL;
    char why[300], *text = NULL;
    bool later = touched_later(c, ch, why, sizeof(why));
    ferry_rc rc = FERRY_OK;

    if (ch->row_values == NULL)
        return conflict(c, ch, "deleted before Ferry kept row values: cannot be re-inserted", err);
    if ((values = json_loads(ch->row_values, 0, NULL)) == NULL || !json_is_object(values) ||
        (key = json_object()) == NULL) {
        rc = ferry_err_set(err, FERRY_EINVAL, "run %lld: the values of '%s' do not read",
                           (long long)c->target->id, ch->record_key ? ch->record_key : "?");
        goto out;
    }
    for (size_t k = 0; k < tg->nkey; k++)
        json_object_set(key, tg->key[k],
                        json_object_get(values, tg->key[k]) ? json_object_get(values, tg->key[k])
                                                            : json_null());
    if ((rc = ferry_target_rows_get(rows, key, &cur, err)) != FERRY_OK)
        goto out;
    if (flagged) {
        const char *col = ferry_target_flag_column(tg);
        const char *was = text_of(values, col), *is = cur ? text_of(cur, col) : NULL;
        bool still = cur != NULL && is != NULL &&
                     (!tg->flag_bool || ferry_revert_values_same(is, tg->flag_value ? "1" : "0"));
        if (cur == NULL) {
            rc = conflict(c, ch, "the row it flagged is gone", err);
            goto out;
        }
        if ((later || !still) && !c->opt->force) {
            rc = conflict(c, ch, later ? why : "the row is no longer flagged as missing", err);
            goto out;
        }
        if (later || !still)
            c->forced++;
        if ((set = json_object()) == NULL || (shown = json_object()) == NULL) {
            rc = ferry_err_set(err, FERRY_ENOMEM, "restoring a flag");
            goto out;
        }
        json_object_set_new(set, col, was != NULL ? json_string(was) : json_null());
        json_object_set_new(shown, col, json_pack("[ss]", is ? is : "", was ? was : ""));
        if (tg->updated_column != NULL)
            json_object_set_new(set, tg->updated_column, json_string(c->now));
        rc = restore(c, rows, ch, key, set, shown, err);
        goto out;
    }
    if ((cur != NULL || later) && !c->opt->force) {
        rc = conflict(c, ch, cur != NULL ? "a row with this key exists again" : why, err);
        goto out;
    }
    if (cur != NULL || later)
        c->forced++;
    if (cur != NULL) { /* forced: the row that came back takes the old values */
        const char *field;
        json_t *v;
        if ((shown = json_object()) == NULL) {
            rc = ferry_err_set(err, FERRY_ENOMEM, "restoring a row");
            goto out;
        }
        json_object_foreach(values, field, v)
        {
            const char *is = text_of(cur, field), *was = json_string_value(v);
            if (!ferry_revert_values_same(is, was) && !ferry_target_rows_same(rows, field, is, was))
                json_object_set_new(shown, field, json_pack("[ss]", is ? is : "", was ? was : ""));
        }
        rc = restore(c, rows, ch, key, values, shown, err);
        goto out;
    }
    if ((rc = ferry_target_rows_insert(rows, values, err)) != FERRY_OK)
        goto out;
    c->reinserted++;
    rc = add(c, ch, FERRY_OUTCOME_CREATED, ch->record_key, NULL, NULL, NULL, err);
out:
    free(text);
    json_decref(values);
    json_decref(key);
    json_decref(cur);
    json_decref(set);
    json_decref(shown);
    return rc;
}

/* Undoes every change of the reverted run, the last first, inside the open transaction. */
static ferry_rc undo_all(revert_ctx *c, const ferry_change *ch, size_t n, ferry_err *err)
{
    ferry_rc rc = FERRY_OK;

    for (size_t i = n; i-- > 0 && rc == FERRY_OK;) {
        size_t s = 0;
        const ferry_sync_spec *step = step_of(c->sync, ch[i].step, &s);
        if (ch[i].outcome != FERRY_OUTCOME_CREATED && ch[i].outcome != FERRY_OUTCOME_UPDATED &&
            ch[i].outcome != FERRY_OUTCOME_DELETED)
            continue;
        if (step == NULL)
            return ferry_err_set(err, FERRY_EINVAL,
                                 "run %lld: step '%s' is no longer in the config",
                                 (long long)c->target->id, ch[i].step);
        if (c->rows[s] == NULL &&
            (rc = ferry_target_rows_new(c->opt->store, step, &c->rows[s], err)) != FERRY_OK)
            return rc;
        c->run.processed++;
        if (ch[i].outcome == FERRY_OUTCOME_CREATED)
            rc = undo_created(c, step, c->rows[s], &ch[i], err);
        else if (ch[i].outcome == FERRY_OUTCOME_UPDATED)
            rc = undo_updated(c, step, c->rows[s], &ch[i], err);
        else
            rc = undo_deleted(c, step, c->rows[s], &ch[i], err);
    }
    if (rc == FERRY_OK)
        rc = flush(c, err);
    return rc;
}

static ferry_rc refuse_unless_revertible(const ferry_run *r, ferry_err *err)
{
    if (r->status == FERRY_RUN_QUEUED || r->status == FERRY_RUN_RUNNING)
        return ferry_err_set(err, FERRY_EINVAL,
                             "run %lld is still %s: only a finished run can be reverted",
                             (long long)r->id, ferry_run_status_name(r->status));
    if (r->status != FERRY_RUN_SUCCEEDED)
        return ferry_err_set(err, FERRY_EINVAL,
                             "run %lld %s: only a succeeded run can be reverted (it changed "
                             "nothing)",
                             (long long)r->id,
                             r->status == FERRY_RUN_FAILED      ? "failed"
                             : r->status == FERRY_RUN_CANCELLED ? "was cancelled"
                                                                : "was interrupted");
    if (r->dry_run)
        return ferry_err_set(err, FERRY_EINVAL,
                             "run %lld was a dry run: it changed nothing to revert",
                             (long long)r->id);
    if (r->changes_pruned_at_ms > 0)
        return ferry_err_set(err, FERRY_EINVAL,
                             "run %lld cannot be reverted: its change detail was pruned "
                             "(retention.changes), and only its counts remain",
                             (long long)r->id);
    return FERRY_OK;
}

static ferry_rc check_values_kept(const ferry_run *r, const ferry_change *ch, size_t n, bool force,
                                  ferry_err *err)
{
    int64_t want = r->counts[FERRY_OUTCOME_CREATED] + r->counts[FERRY_OUTCOME_UPDATED] +
                   r->counts[FERRY_OUTCOME_DELETED],
            kept = 0;

    for (size_t i = 0; i < n; i++)
        kept += ch[i].outcome == FERRY_OUTCOME_CREATED || ch[i].outcome == FERRY_OUTCOME_UPDATED ||
                ch[i].outcome == FERRY_OUTCOME_DELETED;
    /* Without all of its change rows the run cannot be undone: say so, never half of it. */
    if (kept != want)
        return ferry_err_set(err, FERRY_EINVAL,
                             "run %lld changed %lld records but %lld of its change rows are kept: "
                             "it cannot be reverted",
                             (long long)r->id, (long long)want, (long long)kept);
    for (size_t i = 0; i < n && !force; i++)
        if (ch[i].outcome == FERRY_OUTCOME_DELETED && ch[i].row_values == NULL)
            return ferry_err_set(err, FERRY_EINVAL,
                                 "run %lld deleted rows before Ferry kept their values; they "
                                 "cannot be re-inserted (--force reverts the rest and skips them)",
                                 (long long)r->id);
    return FERRY_OK;
}

static void audit(revert_ctx *c)
{
    const ferry_revert_options *o = c->opt;
    /* On the command line the actor is "cli": the detail names the account. */
    bool by_account = o->user != NULL && o->actor != NULL && strcmp(o->user, o->actor) != 0;
    char target[64], detail[1024];
    ferry_audit_entry e = {0};
    ferry_err ignored;

    snprintf(target, sizeof(target), "run %lld", (long long)c->target->id);
    snprintf(detail, sizeof(detail), "revert run %lld %s%s%s%.700s%s%s%.100s", (long long)c->run.id,
             c->run.status == FERRY_RUN_SUCCEEDED ? "succeeded" : "failed",
             o->force ? " (forced)" : "", o->comment ? ": \"" : "", o->comment ? o->comment : "",
             o->comment ? "\"" : "", by_account ? "; by " : "", by_account ? o->user : "");
    e.actor = (char *)o->actor;
    e.action = "run.revert";
    e.target = target;
    e.detail = detail;
    e.client = (char *)o->client;
    ferry_err_clear(&ignored);
    (void)o->store->people->audit_add(o->store, &e, &ignored);
}

/* Records the revert run as running; c->run then holds it. */
static ferry_rc start_run(revert_ctx *c, ferry_err *err)
{
    ferry_store *st = c->opt->store;
    ferry_run *r = &c->run;
    ferry_rc rc;
    bool ok = true;

    memset(r, 0, sizeof(*r));
    r->sync = dup_or_null(c->target->sync, &ok);
    r->tenant = dup_or_null(c->target->tenant, &ok);
    r->trigger = dup_or_null("revert", &ok);
    r->user = dup_or_null(c->opt->user, &ok);
    r->token = dup_or_null(c->opt->token, &ok);
    r->revert_comment = dup_or_null(c->opt->comment, &ok);
    r->phase = dup_or_null("applying", &ok);
    r->status = FERRY_RUN_RUNNING;
    r->total = -1;
    r->source_records = -1;
    r->reverts = c->target->id;
    r->attempt = 1;
    r->queued_at_ms = r->started_at_ms = ferry_time_now_ms();
    if (!ok)
        return ferry_err_set(err, FERRY_ENOMEM, "recording the revert");
    if ((rc = st->runs->run_start(st, r, &r->id, err)) != FERRY_OK)
        return rc;
    return FERRY_OK;
}

static ferry_rc end_run(revert_ctx *c, ferry_rc how, const ferry_err *why, ferry_err *err)
{
    ferry_store *st = c->opt->store;
    ferry_run *r = &c->run;
    char msg[1400];

    r->finished_at_ms = ferry_time_now_ms();
    r->duration_ms = r->finished_at_ms - r->started_at_ms;
    free(r->phase);
    r->phase = strdup("done");
    if (how == FERRY_OK) {
        r->status = FERRY_RUN_SUCCEEDED;
        r->percent = 100;
        r->total = r->processed;
        ferry_revert_message(c->target->id, c->deleted, c->restored, c->reinserted, c->conflicts,
                             c->forced, msg, sizeof(msg));
        r->ui_message = strdup(msg);
        if (c->log.len > 0) {
            char *log = malloc(strlen(msg) + c->log.len + 32);
            if (log != NULL)
                snprintf(log, strlen(msg) + c->log.len + 32, "%s\nConflicts:%s", msg,
                         ferry_buf_str(&c->log));
            r->log_message = log;
        } else {
            r->log_message = strdup(msg);
        }
    } else {
        r->status = FERRY_RUN_FAILED;
        snprintf(msg, sizeof(msg), "Reverting run %lld failed: %.1200s Nothing was changed.",
                 (long long)c->target->id, why->msg);
        r->ui_message = strdup(msg);
        r->log_message = strdup(msg);
        r->error = strdup(why->msg);
        r->error_code = strdup("revert");
    }
    return st->runs->run_finish(st, r, err);
}

ferry_rc ferry_sync_revert(const ferry_revert_options *opt, ferry_run *ret_run, ferry_err *err)
{
    ferry_store *st = opt->store;
    ferry_change_filter all = {.outcome = -1};
    ferry_change *ch = NULL;
    size_t n = 0, rows0 = 0;
    ferry_run target;
    revert_ctx c;
    ferry_err why;
    ferry_rc rc;

    memset(&c, 0, sizeof(c));
    c.opt = opt;
    c.target = &target;
    ferry_buf_init(&c.log, 256 * 1024);
    ferry_buf_init(&c.key, 64 * 1024);
    if ((rc = st->runs->run_load(st, opt->run_id, &target, err)) != FERRY_OK)
        goto out_bufs;
    if ((rc = refuse_unless_revertible(&target, err)) != FERRY_OK)
        goto out_target;
    if ((c.sync = ferry_config_sync_get(opt->config, target.sync)) == NULL) {
        rc = ferry_err_set(err, FERRY_EINVAL, "run %lld: sync '%s' is no longer in the config",
                           (long long)target.id, target.sync);
        goto out_target;
    }
    /* The first step's rows: refuses a table in a database of its own before anything is
     * written; each step's is made when its first change comes. */
    if ((rc = ferry_target_rows_new(st, step_of(c.sync, NULL, &rows0), &c.rows[0], err)) !=
        FERRY_OK)
        goto out_target;
    if ((rc = st->runs->change_list(st, target.id, &all, &ch, &n, err)) != FERRY_OK ||
        (rc = check_values_kept(&target, ch, n, opt->force, err)) != FERRY_OK ||
        (rc = start_run(&c, err)) != FERRY_OK)
        goto out_changes;
    ferry_target_rows_now(c.rows[0], c.now, sizeof(c.now));
    ferry_err_clear(&why);
    /* The later runs are read once the revert holds the sync's one active run (and inside
     * its transaction): none can commit in between. */
    rc = ferry_target_rows_begin(c.rows[0], &why);
    if (rc == FERRY_OK)
        rc = collect_later(&c, &why);
    if (rc == FERRY_OK)
        rc = undo_all(&c, ch, n, &why);
    if (rc == FERRY_OK)
        rc = end_run(&c, FERRY_OK, NULL, &why);
    if (rc == FERRY_OK)
        rc = ferry_target_rows_commit(c.rows[0], &why);
    if (rc != FERRY_OK) {
        ferry_target_rows_rollback(c.rows[0]);
        for (size_t i = 0; i < c.nbatch; i++)
            ferry_change_done(&c.batch[i]);
        c.nbatch = 0;
        memset(c.run.counts, 0, sizeof(c.run.counts));
        free(c.run.ui_message);
        free(c.run.log_message);
        c.run.ui_message = c.run.log_message = NULL;
        if ((rc = end_run(&c, FERRY_EDB, &why, err)) != FERRY_OK)
            goto out_run;
    }
    audit(&c);
    *ret_run = c.run;
    memset(&c.run, 0, sizeof(c.run));
    rc = FERRY_OK;
out_run:
    ferry_run_done(&c.run);
out_changes:
    ferry_changes_free(ch, n);
    for (size_t i = 0; i <= FERRY_STEPS_MAX; i++)
        ferry_target_rows_free(c.rows[i]);
    json_decref(c.later);
out_target:
    ferry_run_done(&target);
out_bufs:
    ferry_buf_done(&c.log);
    ferry_buf_done(&c.key);
    return rc;
}
