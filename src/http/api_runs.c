/* api_runs.c - syncs and runs: list syncs, start, read, list, export and cancel runs, and a
 * run's changes (docs/api.md). Starting and cancelling need an operator; the gate (gate.c)
 * has checked that before these are called, and req->who names the user recorded on the
 * run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/run_json.h"
#include "http/internal.h"
#include "queue/queue.h"
#include "target/target.h"
#include "target/tenants.h"
#include "util/timeutil.h"

/* ---- /api/syncs ---- */

/* A sync with tenants: how many rows its table holds for each tenant (one grouped query,
 * at most this many tenants), only those the caller may see. */
#define TENANT_ROWS_MAX 1000

static json_t *tenant_rows_json(const request *req, ferry_store *st, const ferry_sync_spec *sync)
{
    ferry_tenant_count *counts = NULL;
    json_t *o;
    size_t n = 0;
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_target_tenant_counts(st, sync, TENANT_ROWS_MAX, &counts, &n, &err) != FERRY_OK ||
        (o = json_object()) == NULL) {
        ferry_tenant_counts_free(counts, n);
        return json_null();
    }
    for (size_t i = 0; i < n; i++)
        if (ferry_http_request_sees(req, sync->name, counts[i].tenant))
            json_object_set_new(o, counts[i].tenant, json_integer(counts[i].rows));
    ferry_tenant_counts_free(counts, n);
    return o;
}

static json_t *sync_json(struct ferry_server *srv, const request *req, ferry_store *st,
                         const ferry_sync_spec *sync)
{
    ferry_run_filter filter = {.sync = sync->name, .limit = 10};
    json_t *o = json_object(), *latest = json_null(), *active = json_null();
    ferry_run *runs = NULL;
    size_t n = 0;
    ferry_err err;

    ferry_err_clear(&err);
    if (st->runs->run_list(st, &filter, &runs, &n, &err) == FERRY_OK) {
        for (size_t i = 0; i < n; i++) {
            bool live = runs[i].status == FERRY_RUN_QUEUED || runs[i].status == FERRY_RUN_RUNNING;
            if (!ferry_http_request_sees(req, runs[i].sync, runs[i].tenant))
                continue; /* another organisation's run */
            if (live && json_is_null(active)) {
                ferry_run snap;
                ferry_run_live lv;
                if (ferry_workers_snapshot(srv->opt.workers, runs[i].id, &snap, &lv)) {
                    active = ferry_run_to_json(&snap, &lv);
                    ferry_run_done(&snap);
                } else {
                    active = ferry_run_to_json(&runs[i], NULL);
                }
            } else if (!live && json_is_null(latest)) {
                latest = ferry_run_to_json(&runs[i], NULL);
            }
        }
        ferry_runs_free(runs, n);
    }
    json_object_set_new(o, "name", json_string(sync->name));
    json_object_set_new(o, "title", json_string(sync->title));
    const ferry_sync_spec *first = ferry_sync_step(sync, 0);
    json_object_set_new(o, "source_kind",
                        json_string(first->source.kind == FERRY_SOURCE_REST ? "rest" : "csv"));
    {
        bool incremental = false;
        for (size_t k = 0; k < ferry_sync_step_count(sync); k++)
            incremental =
                incremental || ferry_sync_step(sync, k)->source.incremental.cursor != NULL;
        json_object_set_new(o, "incremental", json_boolean(incremental));
    }
    if (sync->nsteps > 0) {
        json_t *steps = json_array();
        for (size_t k = 0; k < sync->nsteps; k++)
            json_array_append_new(steps, json_pack("{s:s, s:s}", "name", sync->steps[k].name,
                                                   "noun", sync->steps[k].noun));
        json_object_set_new(o, "steps", steps);
    }
    if (sync->tenant_variable != NULL) {
        json_t *values = json_null(), *query_error = json_null();
        if (sync->tenant_values != NULL) {
            values = json_array();
            for (size_t i = 0; i < sync->ntenant_values; i++)
                json_array_append_new(values, json_string(sync->tenant_values[i]));
        } else if (sync->tenants.query != NULL) {
            /* Read now, as a run request would: the page's rows are the query's tenants. */
            ferry_tenant_list l;
            ferry_err_clear(&err);
            if (ferry_tenants_read(ferry_http_config(), sync, &l, &err) == FERRY_OK) {
                values = json_array();
                for (size_t i = 0; i < l.n; i++)
                    json_array_append_new(values, json_string(l.values[i]));
                ferry_tenant_list_done(&l);
            } else {
                query_error = json_string(err.msg);
            }
        }
        json_object_set_new(
            o, "tenant",
            json_pack("{s:s, s:s, s:o, s:b, s:o}", "variable", sync->tenant_variable, "column",
                      first->fields[first->tenant_field].name, "values", values, "query",
                      sync->tenants.query != NULL, "query_error", query_error));
        json_object_set_new(o, "tenant_rows", tenant_rows_json(req, st, sync));
    } else {
        json_object_set_new(o, "tenant", json_null());
    }
    json_object_set_new(o, "schedule", sync->schedule ? json_string(sync->schedule) : json_null());
    /* The zone its cron schedule is read in, so the page can show next_run_at in it. */
    json_object_set_new(o, "timezone", json_string(ferry_tz_name(sync->tz)));
    int64_t next = ferry_scheduler_next_ms(srv->opt.scheduler, sync->name);
    if (next > 0 && next != INT64_MAX) {
        char iso[FERRY_ISO_TIME_MAX];
        ferry_time_format_iso(next, iso);
        json_object_set_new(o, "next_run_at", json_string(iso));
    } else {
        json_object_set_new(o, "next_run_at", json_null());
    }
    json_object_set_new(o, "latest_run", latest != NULL ? latest : json_null());
    json_object_set_new(o, "active_run", active != NULL ? active : json_null());
    return o;
}

enum MHD_Result ferry_http_get_syncs(struct ferry_server *srv, struct MHD_Connection *conn,
                                     request *req)
{
    const ferry_config *cfg = ferry_http_config();
    json_t *list = json_array();
    ferry_store *st;
    ferry_err err;

    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL) {
        json_decref(list);
        return ferry_http_reply_err(conn, &err);
    }
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        if (req->embed == NULL || ferry_embed_claims_allow_sync(req->embed, cfg->syncs[i].name))
            json_array_append_new(list, sync_json(srv, req, st, &cfg->syncs[i]));
    }
    return ferry_http_reply_json(conn, MHD_HTTP_OK, json_pack("{s:o}", "syncs", list));
}

static enum MHD_Result reply_cooldown(struct MHD_Connection *conn, const ferry_sync_spec *sync,
                                      int64_t wait_ms)
{
    char msg[256], retry[32];

    snprintf(retry, sizeof(retry), "%lld", (long long)((wait_ms + 999) / 1000));
    snprintf(msg, sizeof(msg), "%s was synced moments ago; try again in %s s", sync->title, retry);
    return ferry_http_reply_json_header(conn, MHD_HTTP_TOO_MANY_REQUESTS,
                                        ferry_http_error_body("cooldown", msg), "Retry-After",
                                        retry);
}

enum MHD_Result ferry_http_post_run(struct ferry_server *srv, struct MHD_Connection *conn,
                                    request *req)
{
    const ferry_sync_spec *sync;
    ferry_queue q = {srv->opt.hub, srv->opt.workers, srv->opt.bus};
    ferry_queue_request rq = {0};
    ferry_run got;
    char tenant_buf[80];
    const char *tenant = NULL, *why;
    bool created = false, allow_missing = false;
    int64_t wait_ms = 0;
    enum MHD_Result ret;
    ferry_store *st;
    ferry_err err;
    json_t *body, *t, *am, *full;

    if ((sync = ferry_http_request_sync(srv, conn, req, &ret)) == NULL ||
        !ferry_http_request_body(conn, req, true, &ret))
        return ret;
    /* Its own message, not ferry_http_request_string's: "tenant must be a string". */
    t = json_object_get(req->doc, "tenant");
    if (t != NULL && !json_is_null(t) && !json_is_string(t))
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "tenant must be a string");
    if (t != NULL && json_is_string(t)) {
        snprintf(tenant_buf, sizeof(tenant_buf), "%s", json_string_value(t));
        tenant = tenant_buf;
    }
    /* This run may delete or flag more rows than the sync's guard allows. */
    am = json_object_get(req->doc, "allow_missing");
    if (am != NULL && !json_is_boolean(am))
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "allow_missing must be true or false");
    allow_missing = am != NULL && json_is_true(am);
    /* A preview: held for review whatever it would do (docs/review.md). */
    json_t *preview = json_object_get(req->doc, "preview");
    if (preview != NULL && !json_is_boolean(preview))
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "preview must be true or false");
    /* An incremental sync fetches everything this once. */
    full = json_object_get(req->doc, "full");
    if (full != NULL && !json_is_boolean(full))
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "full must be true or false");
    if ((why = ferry_sync_tenant_problem(sync, tenant)) != NULL)
        return ferry_http_reply_error(
            conn, MHD_HTTP_BAD_REQUEST, "bad_parameter", "sync '%s'%s%.64s: %s", sync->name,
            tenant != NULL ? ", tenant " : "", tenant != NULL ? tenant : "", why);
    if (!ferry_http_request_may_touch(srv, conn, req, sync->name, tenant, true, &ret))
        return ret;
    ferry_err_clear(&err);
    if (sync->tenants.query != NULL &&
        ferry_tenants_allow(ferry_http_config(), sync, tenant, &err) != FERRY_OK)
        return err.code == FERRY_EINVAL
                   ? ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                            "sync '%s', tenant %.64s: %s", sync->name, tenant,
                                            err.msg + strlen("tenant: "))
                   : ferry_http_reply_err(conn, &err);
    if ((st = ferry_http_store(srv, &err)) == NULL)
        return ferry_http_reply_err(conn, &err);
    rq.sync = sync;
    rq.tenant = tenant;
    rq.trigger = "api";
    rq.user = req->who.user;
    rq.token = req->who.token_label;
    rq.allow_missing = allow_missing;
    rq.full = full != NULL && json_is_true(full);
    rq.preview = preview != NULL && json_is_true(preview);
    rq.queued_message = "Sync started...";
    if (ferry_queue_run_request(&q, st, &rq, &got, &created, &wait_ms, &err) != FERRY_OK)
        return wait_ms > 0 ? reply_cooldown(conn, sync, wait_ms) : ferry_http_reply_err(conn, &err);
    if (got.status == FERRY_RUN_HELD) { /* it blocks the next run until decided */
        body = json_pack("{s:{s:s, s:s}}", "error", "code", "held", "message",
                         "a run of this sync is held for review: approve or reject it first");
        json_object_set_new(body, "run", ferry_run_to_json(&got, NULL));
        ferry_run_done(&got);
        return ferry_http_reply_json(conn, MHD_HTTP_CONFLICT, body);
    }
    free(got.ui_message);
    got.ui_message = strdup(created ? "Sync started..." : "Sync already in progress...");
    body = ferry_run_to_json(&got, NULL);
    json_object_set_new(body, "message", json_string(got.ui_message));
    ferry_run_done(&got);
    return ferry_http_reply_json(conn, created ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK, body);
}

/* ---- /api/runs ---- */

/* Reads the filters GET /api/runs and the export share (sync, status, tenant, user, since,
 * until) into filter; the strings are borrowed from the connection. False (with a 400 queued)
 * when one is bad. */
static bool run_filter_from_query(struct MHD_Connection *conn, ferry_run_filter *filter,
                                  enum MHD_Result *ret)
{
    ferry_run_status status;

    if (!ferry_http_query_time(conn, "since", &filter->since_ms, ret) ||
        !ferry_http_query_time(conn, "until", &filter->until_ms, ret))
        return false;
    filter->sync = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sync");
    filter->status = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "status");
    filter->tenant = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tenant");
    filter->user = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "user");
    /* An empty parameter (an "All" choice of a form) filters nothing. */
    if (filter->sync != NULL && filter->sync[0] == '\0')
        filter->sync = NULL;
    if (filter->status != NULL && filter->status[0] == '\0')
        filter->status = NULL;
    if (filter->tenant != NULL && filter->tenant[0] == '\0')
        filter->tenant = NULL;
    if (filter->user != NULL && filter->user[0] == '\0')
        filter->user = NULL;
    if (filter->status != NULL && !ferry_run_status_parse(filter->status, &status)) {
        *ret = ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "status must be one of queued, running, succeeded, failed, "
                                      "cancelled, interrupted");
        return false;
    }
    return true;
}

enum MHD_Result ferry_http_get_run(struct ferry_server *srv, struct MHD_Connection *conn,
                                   request *req)
{
    int64_t id = req->id;
    ferry_run run;
    ferry_run_live live;
    ferry_store *st;
    ferry_err err;
    json_t *body;

    bool snap = ferry_workers_snapshot(srv->opt.workers, id, &run, &live);
    enum MHD_Result ret;

    ferry_err_clear(&err);
    if (!snap && ((st = ferry_http_store(srv, &err)) == NULL ||
                  st->runs->run_load(st, id, &run, &err) != FERRY_OK))
        return ferry_http_reply_err(conn, &err);
    if (!ferry_http_request_may_touch(srv, conn, req, run.sync, run.tenant, true, &ret)) {
        ferry_run_done(&run);
        return ret;
    }
    body = ferry_run_to_json(&run, snap ? &live : NULL);
    ferry_run_json_add_activity(body, &run);
    ferry_run_done(&run);
    if (body != NULL && !snap) /* a live run has not ended: it owes nothing yet */
        ferry_http_run_deliveries_add(st, body, id);
    return ferry_http_reply_json(conn, MHD_HTTP_OK, body);
}

/* run_list() for req's caller: an embed token limited by its syncs or tenants claims sees
 * only theirs, so pages are read until filter->limit visible runs are found or none are
 * left. The runs are owned by the caller, as run_list's. */
static ferry_rc runs_visible(ferry_store *st, const request *req, const ferry_run_filter *filter,
                             ferry_run **ret_runs, size_t *ret_n, ferry_err *err)
{
    ferry_run_filter page = *filter;
    ferry_run *all = NULL, *got = NULL, *more;
    size_t n = 0, ngot = 0;
    ferry_rc rc;

    if (req->embed == NULL || (!req->embed->limit_syncs && !req->embed->limit_tenants))
        return st->runs->run_list(st, filter, ret_runs, ret_n, err);
    page.limit = 200;
    for (;;) {
        if ((rc = st->runs->run_list(st, &page, &got, &ngot, err)) != FERRY_OK) {
            ferry_runs_free(all, n);
            return rc;
        }
        if ((more = realloc(all, (n + ngot + 1) * sizeof(*all))) == NULL) {
            ferry_runs_free(got, ngot);
            ferry_runs_free(all, n);
            return ferry_err_set(err, FERRY_ENOMEM, "listing runs");
        }
        all = more;
        for (size_t i = 0; i < ngot; i++) {
            if ((int)n < filter->limit && ferry_http_request_sees(req, got[i].sync, got[i].tenant))
                all[n++] = got[i];
            else
                ferry_run_done(&got[i]);
        }
        page.before_id = ngot > 0 ? got[ngot - 1].id : 0;
        free(got);
        if ((int)n >= filter->limit || ngot < (size_t)page.limit)
            break;
    }
    *ret_runs = all;
    *ret_n = n;
    return FERRY_OK;
}

enum MHD_Result ferry_http_get_runs(struct ferry_server *srv, struct MHD_Connection *conn,
                                    request *req)
{
    ferry_run_filter filter = {0};
    int64_t limit = 50, cursor = 0;
    enum MHD_Result ret = MHD_NO;
    ferry_run *runs = NULL;
    json_t *list;
    ferry_store *st;
    ferry_err err;
    size_t n = 0;

    if (!ferry_http_query_int(conn, "limit", 1, 500, &limit, &ret) ||
        !ferry_http_query_int(conn, "cursor", 1, INT64_MAX, &cursor, &ret) ||
        !run_filter_from_query(conn, &filter, &ret))
        return ret;
    filter.before_id = cursor;
    filter.limit = (int)limit + 1; /* one more tells whether there is a next page */
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        runs_visible(st, req, &filter, &runs, &n, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    bool more = (int64_t)n > limit;
    size_t shown = more ? (size_t)limit : n, ended = 0;
    json_t **objs = calloc(shown > 0 ? shown : 1, sizeof(*objs));
    int64_t *ids = calloc(shown > 0 ? shown : 1, sizeof(*ids));
    if (objs == NULL || ids == NULL) {
        free(objs);
        free(ids);
        ferry_runs_free(runs, n);
        ferry_err_set(&err, FERRY_ENOMEM, "listing runs");
        return ferry_http_reply_err(conn, &err);
    }
    list = json_array();
    for (size_t i = 0; i < shown; i++) {
        json_t *r = ferry_run_to_json(&runs[i], NULL);
        /* A finished run's deliveries, for the whole page in one query below. */
        if (r != NULL && runs[i].status != FERRY_RUN_QUEUED &&
            runs[i].status != FERRY_RUN_RUNNING) {
            objs[ended] = r;
            ids[ended++] = runs[i].id;
        }
        json_array_append_new(list, r);
    }
    ferry_http_runs_deliveries_add(st, objs, ids, ended);
    free(objs);
    free(ids);
    json_t *next = more ? json_sprintf("%lld", (long long)runs[limit - 1].id) : json_null();
    ferry_runs_free(runs, n);
    return ferry_http_reply_json(conn, MHD_HTTP_OK,
                                 json_pack("{s:o, s:o}", "runs", list, "next_cursor", next));
}

/* ---- /api/runs/export ---- */

typedef struct {
    struct ferry_server *server;
    ferry_embed_claims *embed; /* the caller's limits (owned: moved from the request), or NULL */
    bool csv;
    ferry_run_filter filter; /* its strings owned (strdup'ed): the stream outlives the call */
    int64_t cursor;          /* the smallest id sent so far; 0 before the first page */
    bool started, done;
    size_t written; /* JSON: the runs written so far */
    ferry_buf out;
    size_t out_pos;
} export_stream;

/* Appends one CSV cell (RFC 4180 quoting when needed) and its separator. */
static void csv_cell(ferry_buf *b, const char *v, bool last)
{
    if (v != NULL && strpbrk(v, ",\"\r\n") != NULL) {
        ferry_buf_append(b, "\"", 1);
        for (const char *p = v; *p != '\0'; p++) {
            ferry_buf_append(b, p, 1);
            if (*p == '"')
                ferry_buf_append(b, "\"", 1); /* a quote is doubled */
        }
        ferry_buf_append(b, "\"", 1);
    } else if (v != NULL) {
        ferry_buf_append(b, v, strlen(v));
    }
    ferry_buf_append(b, last ? "\r\n" : ",", last ? 2 : 1);
}

static void export_csv_row(ferry_buf *b, const ferry_run *r)
{
    char num[8][32], t[3][FERRY_ISO_TIME_MAX], *labels;
    const int64_t times[3] = {r->queued_at_ms, r->started_at_ms, r->finished_at_ms};
    bool oom;

    for (int i = 0; i < 3; i++) {
        if (times[i] > 0)
            ferry_time_format_iso(times[i], t[i]);
        else
            t[i][0] = '\0';
    }
    snprintf(num[0], sizeof(num[0]), "%lld", (long long)r->id);
    snprintf(num[1], sizeof(num[1]), "%lld", (long long)r->duration_ms);
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
        snprintf(num[2 + o], sizeof(num[2 + o]), "%lld", (long long)r->counts[o]);
    csv_cell(b, num[0], false);
    csv_cell(b, r->sync, false);
    csv_cell(b, r->tenant, false);
    csv_cell(b, ferry_run_status_name(r->status), false);
    csv_cell(b, r->trigger, false);
    csv_cell(b, r->user, false);
    csv_cell(b, r->token, false);
    csv_cell(b, r->cancelled_by, false);
    csv_cell(b, r->dry_run ? "true" : "false", false);
    csv_cell(b, t[0], false);
    csv_cell(b, t[1], false);
    csv_cell(b, t[2], false);
    csv_cell(b, r->finished_at_ms > 0 ? num[1] : "", false);
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
        csv_cell(b, num[2 + o], false);
    csv_cell(b, r->ui_message, false);
    csv_cell(b, r->error, false);
    csv_cell(b, r->steps, false); /* the steps' JSON (store.h), empty without steps */
    /* {"FLAT":3}, as the run's JSON has it; empty without labels */
    labels = ferry_label_counts_format(&r->skipped_by_label, &oom);
    csv_cell(b, labels, true);
    free(labels);
}

/* Fills the stream's buffer with the next page of runs, or the end. */
static void export_fill(export_stream *x)
{
    ferry_run_filter filter = x->filter;
    ferry_run *runs = NULL;
    ferry_store *st;
    ferry_err err;
    size_t n = 0;

    ferry_buf_reset(&x->out);
    x->out_pos = 0;
    if (!x->started) {
        x->started = true;
        if (x->csv)
            ferry_buf_printf(
                &x->out, "id,sync,tenant,status,trigger,user,token,cancelled_by,dry_run,queued_at,"
                         "started_at,finished_at,duration_ms,created,updated,"
                         "unchanged,skipped,failed,deleted,ui_message,error,steps,"
                         "skipped_by_label\r\n");
        else
            ferry_buf_printf(&x->out, "[");
    }
    filter.before_id = x->cursor;
    ferry_err_clear(&err);
    if ((st = ferry_http_store(x->server, &err)) == NULL ||
        st->runs->run_list(st, &filter, &runs, &n, &err) != FERRY_OK || n == 0) {
        /* The status line is sent: an error can only end the stream early. */
        if (!x->csv)
            ferry_buf_printf(&x->out, "]\n");
        x->done = true;
        ferry_runs_free(runs, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (x->embed != NULL && !ferry_embed_claims_allow(x->embed, runs[i].sync, runs[i].tenant))
            continue;
        if (x->csv) {
            export_csv_row(&x->out, &runs[i]);
        } else {
            char *json = ferry_run_json_dumps(&runs[i], NULL);
            if (json != NULL) {
                ferry_buf_printf(&x->out, "%s%s", x->written == 0 ? "\n" : ",\n", json);
                x->written++;
            }
            free(json);
        }
    }
    x->cursor = runs[n - 1].id;
    ferry_runs_free(runs, n);
}

static ssize_t export_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    export_stream *x = cls;
    size_t n;

    (void)pos;
    while (x->out_pos == x->out.len) {
        if (x->done)
            return MHD_CONTENT_READER_END_OF_STREAM;
        export_fill(x);
    }
    n = x->out.len - x->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, x->out.data + x->out_pos, n);
    x->out_pos += n;
    return (ssize_t)n;
}

static void export_free(void *cls)
{
    export_stream *x = cls;

    ferry_buf_done(&x->out);
    ferry_embed_claims_done(x->embed);
    free(x->embed);
    free((char *)x->filter.sync);
    free((char *)x->filter.status);
    free((char *)x->filter.tenant);
    free((char *)x->filter.user);
    free(x);
}

enum MHD_Result ferry_http_get_export(struct ferry_server *srv, struct MHD_Connection *conn,
                                      request *req)
{
    const char *format = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
    ferry_run_filter filter = {0};
    struct MHD_Response *resp;
    enum MHD_Result ret = MHD_NO;
    export_stream *x;

    if (format != NULL && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "format must be csv or json");
    if (!run_filter_from_query(conn, &filter, &ret))
        return ret;
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return MHD_NO;
    x->server = srv;
    x->embed = req->embed; /* the stream outlives the request */
    req->embed = NULL;
    x->csv = format == NULL || strcmp(format, "csv") == 0;
    x->filter.sync = filter.sync != NULL ? strdup(filter.sync) : NULL;
    x->filter.status = filter.status != NULL ? strdup(filter.status) : NULL;
    x->filter.tenant = filter.tenant != NULL ? strdup(filter.tenant) : NULL;
    x->filter.user = filter.user != NULL ? strdup(filter.user) : NULL;
    x->filter.since_ms = filter.since_ms;
    x->filter.until_ms = filter.until_ms;
    x->filter.limit = 200;
    ferry_buf_init(&x->out, 16 * 1024 * 1024);
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, export_reader, x,
                                             export_free);
    if (resp == NULL) {
        export_free(x);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            x->csv ? "text/csv; charset=utf-8" : "application/json");
    MHD_add_response_header(resp, "Content-Disposition",
                            x->csv ? "attachment; filename=\"ferry-runs.csv\""
                                   : "attachment; filename=\"ferry-runs.json\"");
    return ferry_http_queue(conn, MHD_HTTP_OK, resp);
}

enum MHD_Result ferry_http_get_changes(struct ferry_server *srv, struct MHD_Connection *conn,
                                       request *req)
{
    int64_t id = req->id;
    const char *outcome_name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "outcome");
    int64_t limit = 100, cursor = 0;
    enum MHD_Result ret = MHD_NO;
    ferry_outcome outcome;
    ferry_change *changes = NULL;
    ferry_run run;
    ferry_store *st;
    ferry_err err;
    size_t n = 0;
    json_t *list;

    if (!ferry_http_query_int(conn, "limit", 1, 1000, &limit, &ret) ||
        !ferry_http_query_int(conn, "cursor", 1, INT64_MAX, &cursor, &ret))
        return ret;
    if (outcome_name != NULL && !ferry_outcome_parse(outcome_name, &outcome))
        return ferry_http_reply_error(
            conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
            "outcome must be one of created, updated, unchanged, skipped, "
            "failed, deleted");
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->runs->run_load(st, id, &run, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    bool allowed = ferry_http_request_may_touch(srv, conn, req, run.sync, run.tenant, true, &ret);
    ferry_run_done(&run);
    if (!allowed)
        return ret;
    ferry_change_filter filter = {
        .outcome = outcome_name != NULL ? (int)outcome : -1,
        .after_seq = cursor,
        .limit = (int)limit + 1, /* one more tells whether there is a next page */
    };
    if (st->runs->change_list(st, id, &filter, &changes, &n, &err) != FERRY_OK)
        return ferry_http_reply_err(conn, &err);
    bool more = (int64_t)n > limit;
    list = json_array();
    for (size_t i = 0; i < n && (int64_t)i < limit; i++) {
        const ferry_change *c = &changes[i];
        json_t *diff = c->diff != NULL ? json_loads(c->diff, 0, NULL) : NULL;
        json_t *values = c->row_values != NULL ? json_loads(c->row_values, 0, NULL) : NULL;
        json_array_append_new(
            list, json_pack("{s:I, s:s?, s:s?, s:s, s:o, s:s?, s:o, s:s?, s:s?, s:o}", "seq",
                            (json_int_t)c->seq, "key", c->record_key, "label", c->label, "outcome",
                            ferry_outcome_name(c->outcome), "row",
                            c->row > 0 ? json_integer(c->row) : json_null(), "reason", c->reason,
                            "diff", diff != NULL ? diff : json_null(), "step", c->step, "link",
                            c->link, "values", values != NULL ? values : json_null()));
    }
    json_t *next = more ? json_sprintf("%lld", (long long)changes[limit - 1].seq) : json_null();
    ferry_changes_free(changes, n);
    return ferry_http_reply_json(
        conn, MHD_HTTP_OK,
        json_pack("{s:I, s:o, s:o}", "run", (json_int_t)id, "changes", list, "next_cursor", next));
}

enum MHD_Result ferry_http_post_cancel(struct ferry_server *srv, struct MHD_Connection *conn,
                                       request *req)
{
    int64_t id = req->id;
    ferry_queue q = {srv->opt.hub, srv->opt.workers, srv->opt.bus};
    ferry_queue_cancel_result result;
    ferry_store *st;
    ferry_run run;
    ferry_err err;
    json_t *body;

    ferry_err_clear(&err);
    if (req->embed != NULL && (req->embed->limit_syncs || req->embed->limit_tenants)) {
        enum MHD_Result ret;
        bool allowed;
        if ((st = ferry_http_store(srv, &err)) == NULL ||
            st->runs->run_load(st, id, &run, &err) != FERRY_OK)
            return ferry_http_reply_err(conn, &err);
        allowed = ferry_http_request_may_touch(srv, conn, req, run.sync, run.tenant, true, &ret);
        ferry_run_done(&run);
        if (!allowed)
            return ret;
    }
    if (!ferry_queue_run_cancel_here(&q, id, req->who.user)) {
        if ((st = ferry_http_store(srv, &err)) == NULL ||
            ferry_queue_run_cancel(&q, st, id, req->who.user, &result, &run, &err) != FERRY_OK)
            return ferry_http_reply_err(conn, &err);
        if (result == FERRY_QUEUE_CANCELLED) {
            body = ferry_run_to_json(&run, NULL);
            ferry_run_done(&run);
            return ferry_http_reply_json(conn, MHD_HTTP_OK, body);
        }
        if (result == FERRY_QUEUE_NOT_ACTIVE)
            return ferry_http_reply_json(conn, MHD_HTTP_CONFLICT,
                                         json_pack("{s:{s:s, s:s}}", "error", "code", "not_active",
                                                   "message", "the run has already finished"));
    }
    body = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "status", "running", "message",
                     "Cancelling...");
    return ferry_http_reply_json(conn, MHD_HTTP_ACCEPTED, body);
}
