/* server.c - routing, JSON handlers and Server-Sent Events on libmicrohttpd (see server.h).
 *
 * Request life: libmicrohttpd calls the access handler first with no body (a request state is
 * allocated), then with each piece of the body (appended to a buffer bounded by
 * max_body_bytes: past it the answer is 413), then once more with none, when the route is
 * dispatched. Every answer is JSON; every error is {"error": {"code", "message"}} with its
 * status mapped in one place (reply_error).
 *
 * Event streams: the response is produced by a content-reader callback. When it has nothing to
 * send it marks the stream idle, suspends the connection and returns 0; the hub's notify
 * callback (from a publishing thread) resumes idle streams. The stream's lock makes "check
 * for events, then suspend" and "mark pending, then resume" exclude each other, so no wake-up
 * is lost. A stream starts after Last-Event-ID (or the newest event, also when Last-Event-ID
 * is above it: ids start at 1 in each process) and sends a heartbeat comment when
 * ferry_server_heartbeat() finds nothing else to say.
 *
 * Store connections: one per libmicrohttpd thread, opened on first use and closed by a
 * thread-specific destructor when the thread ends. */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "events/run_json.h"
#include "store/store.h"
#include "sync/map.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"

#define SSE_BATCH 64

/* Routes and statuses counted for /metrics. */
enum route {
    R_HEALTHZ,
    R_METRICS,
    R_SYNCS,
    R_RUN_START,
    R_RUNS,
    R_RUN,
    R_CHANGES,
    R_CANCEL,
    R_EVENTS,
    R_STATS,
    R_EXPORT,
    R_OTHER,
    R_COUNT
};
static const char *const route_names[R_COUNT] = {
    "/healthz",
    "/metrics",
    "/api/syncs",
    "/api/syncs/{name}/runs",
    "/api/runs",
    "/api/runs/{id}",
    "/api/runs/{id}/changes",
    "/api/runs/{id}/cancel",
    "/api/events",
    "/api/stats",
    "/api/runs/export",
    "other",
};
static const unsigned counted_status[] = {200, 202, 400, 404, 405, 409, 413, 429, 500, 503};
#define NSTATUS (sizeof(counted_status) / sizeof(counted_status[0]))

/* The status of the answer queued by this thread's current request. */
static _Thread_local unsigned last_status;

struct ferry_server {
    ferry_server_options opt;
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_key_t store_key;
    atomic_uint_fast64_t heartbeat_gen;                  /* bumped by each heartbeat */
    atomic_bool stopping;                                /* event streams end at their next read */
    atomic_uint_fast64_t requests[R_COUNT][NSTATUS + 1]; /* the last column: other statuses */
};

typedef struct {
    ferry_buf body;
    bool too_large;
    struct ferry_server *server;
    enum route route;
} request;

typedef struct {
    struct ferry_server *server;
    struct MHD_Connection *conn;
    ferry_hub_sub *sub;
    pthread_mutex_t lock; /* protects suspended, pending, closed */
    bool suspended;
    bool pending;
    bool closed;
    uint64_t last_id;
    uint64_t heartbeat_seen;
    char *sync;    /* ?sync= filter, or NULL */
    ferry_buf out; /* formatted, not yet sent */
    size_t out_pos;
} sse_stream;

/* ---- helpers ---- */

static void store_destructor(void *p)
{
    ferry_store_free(p);
}

static ferry_store *thread_store(struct ferry_server *srv, ferry_err *err)
{
    ferry_store *st = pthread_getspecific(srv->store_key);

    if (st != NULL)
        return st;
    if (ferry_store_open(srv->opt.config->database, srv->opt.config->dir, &st, err) != FERRY_OK)
        return NULL;
    pthread_setspecific(srv->store_key, st);
    return st;
}

/* Queues body (consumed) as the answer, with one extra header when name is not NULL. */
static enum MHD_Result reply_json_header(struct MHD_Connection *conn, unsigned status, json_t *body,
                                         const char *name, const char *value)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    struct MHD_Response *resp;
    enum MHD_Result ret;

    json_decref(body);
    if (text == NULL)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (name != NULL)
        MHD_add_response_header(resp, name, value);
    last_status = status;
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, json_t *body)
{
    return reply_json_header(conn, status, body, NULL, NULL);
}

static json_t *error_body(const char *code, const char *msg)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status, const char *code,
                                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status, const char *code,
                                   const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return reply_json(conn, status, error_body(code, msg));
}

/* Maps a Ferry error to its HTTP status: the one place that does. */
static enum MHD_Result reply_ferry_error(struct MHD_Connection *conn, const ferry_err *err)
{
    switch (err->code) {
    case FERRY_ENOTFOUND:
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "%s", err->msg);
    case FERRY_EINVAL:
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err->msg);
    case FERRY_ELIMIT:
        return reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "%s", err->msg);
    default:
        return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, ferry_rc_name(err->code), "%s",
                           err->msg);
    }
}

static enum MHD_Result reply_method_not_allowed(struct MHD_Connection *conn, const char *allow)
{
    return reply_json_header(
        conn, MHD_HTTP_METHOD_NOT_ALLOWED,
        error_body("method_not_allowed", "this route does not take that method"), "Allow", allow);
}

/* Parses a positive decimal id of a path segment; false when it is not one. */
static bool parse_id(const char *s, size_t len, int64_t *ret)
{
    int64_t v = 0;

    if (len == 0 || len > 18)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v <= 0)
        return false;
    *ret = v;
    return true;
}

/* Reads an integer query parameter within [min, max]; false (with a 400 queued) when bad. */
static bool query_int(struct MHD_Connection *conn, const char *name, int64_t min, int64_t max,
                      int64_t *value, enum MHD_Result *ret)
{
    const char *s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    char *end;
    long long v;

    if (s == NULL)
        return true;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
        *ret = reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                           "%s must be a whole number from %lld to %lld", name, (long long)min,
                           (long long)max);
        return false;
    }
    *value = v;
    return true;
}

/* Reads the since= parameter (a date or a date-time, UTC unless it has an offset) into ms;
 * false (with a 400 queued) when it is not one. */
static bool query_since(struct MHD_Connection *conn, int64_t *ret_ms, enum MHD_Result *ret)
{
    const char *s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
    ferry_field_spec field = {.name = (char *)"since", .type = FERRY_TYPE_DATETIME};
    struct tm tm;
    ferry_buf canon;
    bool ok;

    if (s == NULL)
        return true;
    ferry_buf_init(&canon, 64);
    memset(&tm, 0, sizeof(tm));
    ok = ferry_map_convert(&field, s, strlen(s), &canon) == NULL &&
         sscanf(ferry_buf_str(&canon), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6;
    ferry_buf_done(&canon);
    if (!ok) {
        *ret = reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                           "since must be a date (2026-11-23) or a date-time "
                           "(2026-11-23T06:00:00Z)");
        return false;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ret_ms = (int64_t)timegm(&tm) * 1000;
    return true;
}

/* ---- /api/syncs ---- */

static json_t *sync_json(struct ferry_server *srv, ferry_store *st, const ferry_sync_spec *sync)
{
    ferry_run_filter filter = {.sync = sync->name, .limit = 10};
    json_t *o = json_object(), *latest = json_null(), *active = json_null();
    ferry_run *runs = NULL;
    size_t n = 0;
    ferry_err err;

    ferry_err_clear(&err);
    if (st->ops->run_list(st, &filter, &runs, &n, &err) == FERRY_OK) {
        for (size_t i = 0; i < n; i++) {
            bool live = runs[i].status == FERRY_RUN_QUEUED || runs[i].status == FERRY_RUN_RUNNING;
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
    json_object_set_new(o, "source_kind", json_string("csv"));
    json_object_set_new(o, "schedule", sync->schedule ? json_string(sync->schedule) : json_null());
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

static enum MHD_Result get_syncs(struct ferry_server *srv, struct MHD_Connection *conn)
{
    const ferry_config *cfg = srv->opt.config;
    json_t *list = json_array();
    ferry_store *st;
    ferry_err err;

    ferry_err_clear(&err);
    if ((st = thread_store(srv, &err)) == NULL) {
        json_decref(list);
        return reply_ferry_error(conn, &err);
    }
    for (size_t i = 0; i < cfg->nsyncs; i++)
        json_array_append_new(list, sync_json(srv, st, &cfg->syncs[i]));
    return reply_json(conn, MHD_HTTP_OK, json_pack("{s:o}", "syncs", list));
}

/* How long until a new run of sync may start, when its cooldown has not passed since the last
 * run finished; 0 when it may start now (or one is active: the caller answers with it). */
static int64_t cooldown_left(ferry_store *st, const ferry_sync_spec *sync)
{
    ferry_run_filter filter = {.sync = sync->name, .limit = 1};
    ferry_run *runs = NULL;
    int64_t left = 0;
    size_t n = 0;
    ferry_err err;

    ferry_err_clear(&err);
    if (st->ops->run_list(st, &filter, &runs, &n, &err) == FERRY_OK && n == 1 &&
        runs[0].status != FERRY_RUN_QUEUED && runs[0].status != FERRY_RUN_RUNNING &&
        runs[0].finished_at_ms > 0)
        left = runs[0].finished_at_ms + sync->cooldown_ms - ferry_time_now_ms();
    ferry_runs_free(runs, n);
    return left > 0 ? left : 0;
}

static enum MHD_Result reply_cooldown(struct MHD_Connection *conn, const ferry_sync_spec *sync,
                                      int64_t wait_ms)
{
    char msg[256], retry[32];

    snprintf(retry, sizeof(retry), "%lld", (long long)((wait_ms + 999) / 1000));
    snprintf(msg, sizeof(msg), "%s was synced moments ago; try again in %s s", sync->title, retry);
    return reply_json_header(conn, MHD_HTTP_TOO_MANY_REQUESTS, error_body("cooldown", msg),
                             "Retry-After", retry);
}

/* Publishes run.queued for a run just queued (before a worker can claim it). */
static void publish_queued(void *ctx, const ferry_run *run)
{
    struct ferry_server *srv = ctx;
    ferry_run shown = *run; /* a shallow copy: only ui_message differs */
    char *json;

    shown.ui_message = (char *)"Sync started...";
    json = ferry_run_json_dumps(&shown, NULL);
    if (json != NULL)
        ferry_hub_publish(srv->opt.hub, "run.queued", run->sync, json);
    free(json);
}

static enum MHD_Result post_run(struct ferry_server *srv, struct MHD_Connection *conn,
                                const char *name, size_t namelen, request *req)
{
    const ferry_config *cfg = srv->opt.config;
    const ferry_sync_spec *sync = NULL;
    ferry_run want, got;
    bool created = false;
    ferry_store *st;
    ferry_err err;
    json_t *body;

    for (size_t i = 0; i < cfg->nsyncs; i++) {
        if (strlen(cfg->syncs[i].name) == namelen && memcmp(cfg->syncs[i].name, name, namelen) == 0)
            sync = &cfg->syncs[i];
    }
    if (sync == NULL)
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "there is no sync named '%.*s'",
                           (int)(namelen > 64 ? 64 : namelen), name);
    if (req->body.len > 0) {
        json_error_t jerr;
        json_t *doc = json_loadb(req->body.data, req->body.len, 0, &jerr);
        if (doc == NULL || !json_is_object(doc)) {
            json_decref(doc);
            return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_json",
                               "the body must be a JSON object%s%s", doc == NULL ? ": " : "",
                               doc == NULL ? jerr.text : "");
        }
        json_t *tenant = json_object_get(doc, "tenant");
        bool has_tenant = tenant != NULL && !json_is_null(tenant);
        json_decref(doc);
        if (has_tenant)
            return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                               "the sync '%s' has no tenant", sync->name);
    }
    ferry_err_clear(&err);
    if ((st = thread_store(srv, &err)) == NULL)
        return reply_ferry_error(conn, &err);
    if (sync->cooldown_ms > 0) {
        int64_t wait_ms = cooldown_left(st, sync);
        if (wait_ms > 0)
            return reply_cooldown(conn, sync, wait_ms);
    }
    memset(&want, 0, sizeof(want));
    want.sync = (char *)sync->name;
    want.trigger = (char *)"api";
    want.queued_at_ms = ferry_time_now_ms();
    if (st->ops->run_enqueue(st, &want, publish_queued, srv, &got, &created, &err) != FERRY_OK)
        return reply_ferry_error(conn, &err);
    free(got.ui_message);
    got.ui_message = strdup(created ? "Sync started..." : "Sync already in progress...");
    body = ferry_run_to_json(&got, NULL);
    json_object_set_new(body, "message", json_string(got.ui_message));
    if (created)
        ferry_workers_wake(srv->opt.workers);
    ferry_run_done(&got);
    return reply_json(conn, created ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK, body);
}

/* ---- /api/runs ---- */

static enum MHD_Result get_run(struct ferry_server *srv, struct MHD_Connection *conn, int64_t id)
{
    ferry_run run;
    ferry_run_live live;
    ferry_store *st;
    ferry_err err;
    json_t *body;

    if (ferry_workers_snapshot(srv->opt.workers, id, &run, &live)) {
        body = ferry_run_to_json(&run, &live);
        ferry_run_done(&run);
        return reply_json(conn, MHD_HTTP_OK, body);
    }
    ferry_err_clear(&err);
    if ((st = thread_store(srv, &err)) == NULL || st->ops->run_get(st, id, &run, &err) != FERRY_OK)
        return reply_ferry_error(conn, &err);
    body = ferry_run_to_json(&run, NULL);
    ferry_run_done(&run);
    return reply_json(conn, MHD_HTTP_OK, body);
}

static enum MHD_Result list_runs(struct ferry_server *srv, struct MHD_Connection *conn)
{
    ferry_run_filter filter = {0};
    int64_t limit = 50, cursor = 0;
    enum MHD_Result ret = MHD_NO;
    ferry_run *runs = NULL;
    ferry_run_status status;
    json_t *list;
    ferry_store *st;
    ferry_err err;
    size_t n = 0;

    if (!query_int(conn, "limit", 1, 500, &limit, &ret) ||
        !query_int(conn, "cursor", 1, INT64_MAX, &cursor, &ret) ||
        !query_since(conn, &filter.since_ms, &ret))
        return ret;
    filter.sync = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sync");
    filter.status = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "status");
    filter.tenant = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tenant");
    if (filter.status != NULL && !ferry_run_status_parse(filter.status, &status))
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                           "status must be one of queued, running, succeeded, failed, "
                           "cancelled, interrupted");
    filter.before_id = cursor;
    filter.limit = (int)limit;
    ferry_err_clear(&err);
    if ((st = thread_store(srv, &err)) == NULL ||
        st->ops->run_list(st, &filter, &runs, &n, &err) != FERRY_OK)
        return reply_ferry_error(conn, &err);
    list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, ferry_run_to_json(&runs[i], NULL));
    json_t *next = (int64_t)n == limit && n > 0 ? json_sprintf("%lld", (long long)runs[n - 1].id)
                                                : json_null();
    ferry_runs_free(runs, n);
    return reply_json(conn, MHD_HTTP_OK,
                      json_pack("{s:o, s:o}", "runs", list, "next_cursor", next));
}

/* ---- /api/runs/export ---- */

typedef struct {
    struct ferry_server *server;
    bool csv;
    char *sync;
    int64_t since_ms;
    int64_t cursor; /* the smallest id sent so far; 0 before the first page */
    bool started, done;
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
    char num[8][32], t[3][FERRY_ISO_TIME_MAX];
    const int64_t times[3] = {r->queued_at_ms, r->started_at_ms, r->finished_at_ms};

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
    csv_cell(b, r->dry_run ? "true" : "false", false);
    csv_cell(b, t[0], false);
    csv_cell(b, t[1], false);
    csv_cell(b, t[2], false);
    csv_cell(b, r->finished_at_ms > 0 ? num[1] : "", false);
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
        csv_cell(b, num[2 + o], false);
    csv_cell(b, r->ui_message, false);
    csv_cell(b, r->error, true);
}

/* Fills the stream's buffer with the next page of runs, or the end. */
static void export_fill(export_stream *x)
{
    ferry_run_filter filter = {.sync = x->sync, .since_ms = x->since_ms, .limit = 200};
    ferry_run *runs = NULL;
    ferry_store *st;
    ferry_err err;
    size_t n = 0;

    ferry_buf_reset(&x->out);
    x->out_pos = 0;
    if (!x->started) {
        x->started = true;
        if (x->csv)
            ferry_buf_printf(&x->out, "id,sync,tenant,status,trigger,user,dry_run,queued_at,"
                                      "started_at,finished_at,duration_ms,created,updated,"
                                      "unchanged,skipped,failed,deleted,ui_message,error\r\n");
        else
            ferry_buf_printf(&x->out, "[");
    }
    filter.before_id = x->cursor;
    ferry_err_clear(&err);
    if ((st = thread_store(x->server, &err)) == NULL ||
        st->ops->run_list(st, &filter, &runs, &n, &err) != FERRY_OK || n == 0) {
        /* The status line is sent: an error can only end the stream early. */
        if (!x->csv)
            ferry_buf_printf(&x->out, "]\n");
        x->done = true;
        ferry_runs_free(runs, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (x->csv) {
            export_csv_row(&x->out, &runs[i]);
        } else {
            char *json = ferry_run_json_dumps(&runs[i], NULL);
            if (json != NULL)
                ferry_buf_printf(&x->out, "%s%s", x->cursor == 0 && i == 0 ? "\n" : ",\n", json);
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
    free(x->sync);
    free(x);
}

static enum MHD_Result get_export(struct ferry_server *srv, struct MHD_Connection *conn)
{
    const char *format = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
    const char *sync = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sync");
    struct MHD_Response *resp;
    enum MHD_Result ret = MHD_NO;
    int64_t since = 0;
    export_stream *x;

    if (format != NULL && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                           "format must be csv or json");
    if (!query_since(conn, &since, &ret))
        return ret;
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return MHD_NO;
    x->server = srv;
    x->csv = format == NULL || strcmp(format, "csv") == 0;
    x->sync = sync != NULL ? strdup(sync) : NULL;
    x->since_ms = since;
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
    last_status = MHD_HTTP_OK;
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result get_changes(struct ferry_server *srv, struct MHD_Connection *conn,
                                   int64_t id)
{
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

    if (!query_int(conn, "limit", 1, 1000, &limit, &ret) ||
        !query_int(conn, "cursor", 1, INT64_MAX, &cursor, &ret))
        return ret;
    if (outcome_name != NULL && !ferry_outcome_parse(outcome_name, &outcome))
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                           "outcome must be one of created, updated, unchanged, skipped, "
                           "failed, deleted");
    ferry_err_clear(&err);
    if ((st = thread_store(srv, &err)) == NULL || st->ops->run_get(st, id, &run, &err) != FERRY_OK)
        return reply_ferry_error(conn, &err);
    ferry_run_done(&run);
    ferry_change_filter filter = {
        .outcome = outcome_name != NULL ? (int)outcome : -1,
        .after_seq = cursor,
        .limit = (int)limit,
    };
    if (st->ops->change_list(st, id, &filter, &changes, &n, &err) != FERRY_OK)
        return reply_ferry_error(conn, &err);
    list = json_array();
    for (size_t i = 0; i < n; i++) {
        const ferry_change *c = &changes[i];
        json_t *diff = c->diff != NULL ? json_loads(c->diff, 0, NULL) : NULL;
        json_array_append_new(
            list, json_pack("{s:I, s:s?, s:s, s:o, s:s?, s:o}", "seq", (json_int_t)c->seq, "key",
                            c->record_key, "outcome", ferry_outcome_name(c->outcome), "row",
                            c->row > 0 ? json_integer(c->row) : json_null(), "reason", c->reason,
                            "diff", diff != NULL ? diff : json_null()));
    }
    json_t *next =
        (int64_t)n == limit ? json_sprintf("%lld", (long long)changes[n - 1].seq) : json_null();
    ferry_changes_free(changes, n);
    return reply_json(
        conn, MHD_HTTP_OK,
        json_pack("{s:I, s:o, s:o}", "run", (json_int_t)id, "changes", list, "next_cursor", next));
}

static enum MHD_Result post_cancel(struct ferry_server *srv, struct MHD_Connection *conn,
                                   int64_t id)
{
    ferry_store *st;
    ferry_run run;
    ferry_err err;
    json_t *body;

    if (ferry_workers_cancel(srv->opt.workers, id, NULL)) {
        body = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "status", "running", "message",
                         "Cancelling...");
        return reply_json(conn, MHD_HTTP_ACCEPTED, body);
    }
    ferry_err_clear(&err);
    if ((st = thread_store(srv, &err)) == NULL)
        return reply_ferry_error(conn, &err);
    if (st->ops->run_cancel_queued(st, id, NULL, &err) == FERRY_OK) {
        if (st->ops->run_get(st, id, &run, &err) == FERRY_OK) {
            char *json = ferry_run_json_dumps(&run, NULL);
            if (json != NULL)
                ferry_hub_publish(srv->opt.hub, "run.finished", run.sync, json);
            free(json);
            body = ferry_run_to_json(&run, NULL);
            ferry_run_done(&run);
            return reply_json(conn, MHD_HTTP_OK, body);
        }
        return reply_ferry_error(conn, &err);
    }
    ferry_err_clear(&err);
    if (st->ops->run_get(st, id, &run, &err) != FERRY_OK)
        return reply_ferry_error(conn, &err);
    body =
        json_pack("{s:{s:s, s:s}}", "error", "code", "not_active", "message",
                  run.status == FERRY_RUN_RUNNING ? "the run is executing on another Ferry process"
                                                  : "the run has already finished");
    ferry_run_done(&run);
    return reply_json(conn, MHD_HTTP_CONFLICT, body);
}

/* ---- /api/events ---- */

static void sse_notify(void *ctx)
{
    sse_stream *s = ctx;

    pthread_mutex_lock(&s->lock);
    s->pending = true;
    if (s->suspended && !s->closed) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
    pthread_mutex_unlock(&s->lock);
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    sse_stream *s = cls;
    uint64_t gen;
    size_t n;

    (void)pos;
    if (atomic_load(&s->server->stopping))
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->out_pos == s->out.len) {
        ferry_buf_reset(&s->out);
        s->out_pos = 0;
        pthread_mutex_lock(&s->lock);
        s->pending = false;
        pthread_mutex_unlock(&s->lock);
        ferry_hub_read(s->server->opt.hub, s->last_id, s->sync, SSE_BATCH, &s->out, &s->last_id);
        gen = atomic_load(&s->server->heartbeat_gen);
        if (s->out.len == 0 && gen != s->heartbeat_seen)
            ferry_buf_printf(&s->out, ": heartbeat\n\n");
        s->heartbeat_seen = gen;
    }
    if (s->out_pos == s->out.len) {
        bool stopping;
        /* stopping is read again under the lock: ferry_server_stop() sets it before the notify
         * that resumes idle streams, so a stream never suspends after that notify (a stream
         * left suspended makes MHD_stop_daemon() abort). */
        pthread_mutex_lock(&s->lock);
        stopping = atomic_load(&s->server->stopping);
        if (!s->pending && !stopping) {
            s->suspended = true;
            MHD_suspend_connection(s->conn);
        }
        pthread_mutex_unlock(&s->lock);
        return stopping ? MHD_CONTENT_READER_END_OF_STREAM : 0;
    }
    n = s->out.len - s->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, s->out.data + s->out_pos, n);
    s->out_pos += n;
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse_stream *s = cls;

    pthread_mutex_lock(&s->lock);
    s->closed = true;
    pthread_mutex_unlock(&s->lock);
    ferry_hub_unsubscribe(s->server->opt.hub, s->sub);
    ferry_buf_done(&s->out);
    free(s->sync);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static enum MHD_Result get_events(struct ferry_server *srv, struct MHD_Connection *conn)
{
    const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    const char *sync = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sync");
    struct MHD_Response *resp;
    enum MHD_Result ret;
    sse_stream *s;
    ferry_err err;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return MHD_NO;
    s->server = srv;
    s->conn = conn;
    pthread_mutex_init(&s->lock, NULL);
    ferry_buf_init(&s->out, 4 * 1024 * 1024);
    s->sync = sync != NULL ? strdup(sync) : NULL;
    s->last_id = ferry_hub_last_id(srv->opt.hub);
    if (last != NULL) {
        char *end;
        unsigned long long v = strtoull(last, &end, 10);
        /* An id above the newest was given by an earlier process (ids start at 1 in each):
         * such a stream starts at the newest event, as without Last-Event-ID. */
        if (*last != '\0' && *end == '\0' && v <= s->last_id)
            s->last_id = v;
    }
    s->heartbeat_seen = atomic_load(&srv->heartbeat_gen);
    ferry_buf_printf(&s->out, "retry: 2000\n\n");
    ferry_err_clear(&err);
    if (ferry_hub_subscribe(srv->opt.hub, sse_notify, s, &s->sub, &err) != FERRY_OK) {
        ferry_buf_done(&s->out);
        free(s->sync);
        free(s);
        return reply_ferry_error(conn, &err);
    }
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_reader, s, sse_free);
    if (resp == NULL) {
        sse_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0);
    last_status = MHD_HTTP_OK;
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- /api/stats and /metrics ---- */

static json_t *stats_json(const ferry_sync_stats *st)
{
    int64_t total = 0, ended;
    json_t *records = json_object(), *reasons = json_array();

    for (int i = 0; i < 6; i++)
        total += st->by_status[i];
    ended = st->by_status[FERRY_RUN_SUCCEEDED] + st->by_status[FERRY_RUN_FAILED] +
            st->by_status[FERRY_RUN_CANCELLED] + st->by_status[FERRY_RUN_INTERRUPTED];
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
        json_object_set_new(records, ferry_outcome_name((ferry_outcome)o),
                            json_integer(st->records[o]));
    for (size_t i = 0; i < st->nreasons; i++)
        json_array_append_new(reasons, json_pack("{s:s, s:I}", "reason", st->reason[i], "count",
                                                 (json_int_t)st->reason_count[i]));
    return json_pack(
        "{s:I, s:o, s:o, s:o, s:o, s:o}", "runs", (json_int_t)total, "success_rate",
        ended > 0 ? json_real((double)st->by_status[FERRY_RUN_SUCCEEDED] / (double)ended)
                  : json_null(),
        "avg_duration_ms", st->finished > 0 ? json_integer((json_int_t)st->avg_ms) : json_null(),
        "p95_duration_ms", st->finished > 0 ? json_integer(st->p95_ms) : json_null(), "records",
        records, "top_failure_reasons", reasons);
}

static enum MHD_Result get_stats(struct ferry_server *srv, struct MHD_Connection *conn)
{
    const ferry_config *cfg = srv->opt.config;
    json_t *syncs = json_object();
    ferry_sync_stats st;
    ferry_store *store;
    ferry_err err;

    ferry_err_clear(&err);
    if ((store = thread_store(srv, &err)) == NULL) {
        json_decref(syncs);
        return reply_ferry_error(conn, &err);
    }
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        if (store->ops->sync_stats(store, cfg->syncs[i].name, &st, &err) != FERRY_OK) {
            json_decref(syncs);
            return reply_ferry_error(conn, &err);
        }
        json_object_set_new(syncs, cfg->syncs[i].name, stats_json(&st));
        ferry_sync_stats_done(&st);
    }
    return reply_json(conn, MHD_HTTP_OK, json_pack("{s:o}", "syncs", syncs));
}

static enum MHD_Result get_metrics(struct ferry_server *srv, struct MHD_Connection *conn)
{
    const ferry_config *cfg = srv->opt.config;
    ferry_sync_stats *st = calloc(cfg->nsyncs + 1, sizeof(*st));
    struct MHD_Response *resp;
    enum MHD_Result ret;
    ferry_store *store;
    ferry_err err;
    ferry_buf b;
    int64_t queued = 0;

    ferry_err_clear(&err);
    if (st == NULL)
        return MHD_NO;
    if ((store = thread_store(srv, &err)) == NULL)
        goto fail;
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        if (store->ops->sync_stats(store, cfg->syncs[i].name, &st[i], &err) != FERRY_OK)
            goto fail;
        queued += st[i].by_status[FERRY_RUN_QUEUED];
    }
    /* Each family once, with a line per sync (the text format wants families whole). */
    ferry_buf_init(&b, 4 * 1024 * 1024);
    ferry_buf_printf(&b, "# HELP ferry_runs Runs by sync and status.\n# TYPE ferry_runs gauge\n");
    for (size_t i = 0; i < cfg->nsyncs; i++)
        for (int k = 0; k < 6; k++)
            ferry_buf_printf(&b, "ferry_runs{sync=\"%s\",status=\"%s\"} %lld\n", cfg->syncs[i].name,
                             ferry_run_status_name((ferry_run_status)k),
                             (long long)st[i].by_status[k]);
    ferry_buf_printf(&b, "# HELP ferry_run_duration_seconds Durations of finished runs.\n"
                         "# TYPE ferry_run_duration_seconds histogram\n");
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        const char *name = cfg->syncs[i].name;
        for (int k = 0; k < FERRY_STATS_BUCKETS; k++)
            ferry_buf_printf(&b, "ferry_run_duration_seconds_bucket{sync=\"%s\",le=\"%g\"} %lld\n",
                             name, (double)ferry_stats_bucket_ms[k] / 1000.0,
                             (long long)st[i].duration_le[k]);
        ferry_buf_printf(&b,
                         "ferry_run_duration_seconds_bucket{sync=\"%s\",le=\"+Inf\"} %lld\n"
                         "ferry_run_duration_seconds_sum{sync=\"%s\"} %.3f\n"
                         "ferry_run_duration_seconds_count{sync=\"%s\"} %lld\n",
                         name, (long long)st[i].finished, name, st[i].duration_sum_ms / 1000.0,
                         name, (long long)st[i].finished);
    }
    ferry_buf_printf(&b, "# HELP ferry_records Records by sync and outcome.\n"
                         "# TYPE ferry_records counter\n");
    for (size_t i = 0; i < cfg->nsyncs; i++)
        for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
            ferry_buf_printf(&b, "ferry_records{sync=\"%s\",outcome=\"%s\"} %lld\n",
                             cfg->syncs[i].name, ferry_outcome_name((ferry_outcome)o),
                             (long long)st[i].records[o]);
    ferry_buf_printf(&b,
                     "# HELP ferry_queue_depth Runs queued, not yet claimed.\n"
                     "# TYPE ferry_queue_depth gauge\nferry_queue_depth %lld\n"
                     "# HELP ferry_busy_workers Workers executing a run.\n"
                     "# TYPE ferry_busy_workers gauge\nferry_busy_workers %d\n"
                     "# HELP ferry_sse_clients Open event streams.\n"
                     "# TYPE ferry_sse_clients gauge\nferry_sse_clients %zu\n"
                     "# HELP ferry_http_requests HTTP requests by route and status.\n"
                     "# TYPE ferry_http_requests counter\n",
                     (long long)queued, ferry_workers_busy(srv->opt.workers),
                     ferry_hub_subscribers(srv->opt.hub));
    for (int r = 0; r < R_COUNT; r++) {
        for (size_t k = 0; k <= NSTATUS; k++) {
            uint64_t v = atomic_load(&srv->requests[r][k]);
            char code[16] = "other";
            if (v == 0)
                continue;
            if (k < NSTATUS)
                snprintf(code, sizeof(code), "%u", counted_status[k]);
            ferry_buf_printf(&b, "ferry_http_requests{route=\"%s\",code=\"%s\"} %llu\n",
                             route_names[r], code, (unsigned long long)v);
        }
    }
    for (size_t i = 0; i < cfg->nsyncs; i++)
        ferry_sync_stats_done(&st[i]);
    free(st);
    resp = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        ferry_buf_done(&b);
        return MHD_NO;
    }
    b.data = NULL;
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
    last_status = MHD_HTTP_OK;
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;

fail:
    for (size_t i = 0; i < cfg->nsyncs; i++)
        ferry_sync_stats_done(&st[i]);
    free(st);
    return reply_ferry_error(conn, &err);
}

/* ---- routing ---- */

static enum MHD_Result get_health(struct ferry_server *srv, struct MHD_Connection *conn)
{
    ferry_run_filter filter = {.limit = 1};
    ferry_run *runs = NULL;
    size_t n = 0;
    ferry_store *st;
    ferry_err err;

    ferry_err_clear(&err);
    if ((st = thread_store(srv, &err)) == NULL ||
        st->ops->run_list(st, &filter, &runs, &n, &err) != FERRY_OK)
        return reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                          json_pack("{s:s, s:s, s:s}", "status", "unhealthy", "database",
                                    "unreachable", "error", err.msg));
    ferry_runs_free(runs, n);
    return reply_json(conn, MHD_HTTP_OK,
                      json_pack("{s:s, s:s, s:s, s:i}", "status", "ok", "database", "ok", "version",
                                FERRY_VERSION, "busy_workers",
                                ferry_workers_busy(srv->opt.workers)));
}

/* Splits path into at most 5 segments after the leading '/'. */
static size_t split_path(const char *path, const char *seg[5], size_t len[5])
{
    size_t n = 0;
    const char *p = path;

    while (*p == '/' && n < 5) {
        const char *start = ++p;
        while (*p != '\0' && *p != '/')
            p++;
        seg[n] = start;
        len[n] = (size_t)(p - start);
        n++;
    }
    if (*p != '\0')
        return 6; /* too many segments: no route */
    if (n > 0 && len[n - 1] == 0)
        n--; /* a trailing slash */
    return n;
}

/* Records the route for /metrics; true so it can stand inside a condition. */
static bool set_route(request *req, enum route r)
{
    req->route = r;
    return true;
}

static bool seg_is(const char *seg, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(seg, word, len) == 0;
}

static enum MHD_Result dispatch(struct ferry_server *srv, struct MHD_Connection *conn,
                                const char *url, const char *method, request *req)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    const char *seg[5];
    size_t len[5], n = split_path(url, seg, len);
    int64_t id;

    req->route = R_OTHER;
    if (n == 1 && seg_is(seg[0], len[0], "healthz") && set_route(req, R_HEALTHZ))
        return get ? get_health(srv, conn) : reply_method_not_allowed(conn, "GET");
    if (n == 1 && seg_is(seg[0], len[0], "metrics") && set_route(req, R_METRICS))
        return get ? get_metrics(srv, conn) : reply_method_not_allowed(conn, "GET");
    if (n < 2 || !seg_is(seg[0], len[0], "api"))
        goto not_found;
    if (n == 2 && seg_is(seg[1], len[1], "syncs") && set_route(req, R_SYNCS))
        return get ? get_syncs(srv, conn) : reply_method_not_allowed(conn, "GET");
    if (n == 4 && seg_is(seg[1], len[1], "syncs") && seg_is(seg[3], len[3], "runs") &&
        set_route(req, R_RUN_START))
        return post ? post_run(srv, conn, seg[2], len[2], req)
                    : reply_method_not_allowed(conn, "POST");
    if (n == 2 && seg_is(seg[1], len[1], "runs") && set_route(req, R_RUNS))
        return get ? list_runs(srv, conn) : reply_method_not_allowed(conn, "GET");
    if (n == 2 && seg_is(seg[1], len[1], "events") && set_route(req, R_EVENTS))
        return get ? get_events(srv, conn) : reply_method_not_allowed(conn, "GET");
    if (n == 2 && seg_is(seg[1], len[1], "stats") && set_route(req, R_STATS))
        return get ? get_stats(srv, conn) : reply_method_not_allowed(conn, "GET");
    if (n == 3 && seg_is(seg[1], len[1], "runs") && seg_is(seg[2], len[2], "export") &&
        set_route(req, R_EXPORT))
        return get ? get_export(srv, conn) : reply_method_not_allowed(conn, "GET");
    if (n >= 3 && seg_is(seg[1], len[1], "runs")) {
        if (!parse_id(seg[2], len[2], &id))
            return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "'%.*s' is not a run id",
                               (int)(len[2] > 32 ? 32 : len[2]), seg[2]);
        if (n == 3 && set_route(req, R_RUN))
            return get ? get_run(srv, conn, id) : reply_method_not_allowed(conn, "GET");
        if (n == 4 && seg_is(seg[3], len[3], "changes") && set_route(req, R_CHANGES))
            return get ? get_changes(srv, conn, id) : reply_method_not_allowed(conn, "GET");
        if (n == 4 && seg_is(seg[3], len[3], "cancel") && set_route(req, R_CANCEL))
            return post ? post_cancel(srv, conn, id) : reply_method_not_allowed(conn, "POST");
    }
not_found:
    return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no route for %s %.200s", method,
                       url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct ferry_server *srv = cls;
    request *req = *con_cls;

    (void)version;
    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        req->server = srv;
        ferry_buf_init(&req->body, srv->opt.max_body_bytes);
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!req->too_large &&
            ferry_buf_append(&req->body, upload_data, *upload_data_size) != FERRY_OK)
            req->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    enum MHD_Result ret;
    size_t col = NSTATUS;
    last_status = 0;
    if (req->too_large)
        ret = reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                          "the request body is larger than %zu bytes", srv->opt.max_body_bytes);
    else
        ret = dispatch(srv, conn, url, method, req);
    for (size_t i = 0; i < NSTATUS; i++) {
        if (counted_status[i] == last_status)
            col = i;
    }
    atomic_fetch_add(&srv->requests[req->route][col], 1);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request *req = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (req == NULL)
        return;
    ferry_buf_done(&req->body);
    free(req);
    *con_cls = NULL;
}

static ferry_rc parse_listen(const char *listen, struct sockaddr_in *addr, ferry_err *err)
{
    const char *colon = strrchr(listen, ':');
    char host[256];
    long port;
    char *end;

    memset(addr, 0, sizeof(*addr));
    if (colon == NULL || (size_t)(colon - listen) >= sizeof(host))
        return ferry_err_set(err, FERRY_ECONFIG, "listen: expected HOST:PORT, not '%s'", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return ferry_err_set(err, FERRY_ECONFIG, "listen: bad port in '%s'", listen);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return ferry_err_set(err, FERRY_ECONFIG, "listen: '%s' is not an IPv4 address", host);
    return FERRY_OK;
}

ferry_rc ferry_server_start(const ferry_server_options *opt, ferry_server **ret_server,
                            ferry_err *err)
{
    struct ferry_server *srv = calloc(1, sizeof(*srv));
    struct sockaddr_in addr;
    const union MHD_DaemonInfo *info;
    ferry_rc rc;

    if (srv == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the server");
    srv->opt = *opt;
    if (srv->opt.threads == 0)
        srv->opt.threads = 2;
    if (srv->opt.max_body_bytes == 0)
        srv->opt.max_body_bytes = 1024 * 1024;
    if (srv->opt.max_connections == 0)
        srv->opt.max_connections = 4096;
    if ((rc = parse_listen(opt->listen, &addr, err)) != FERRY_OK) {
        free(srv);
        return rc;
    }
    pthread_key_create(&srv->store_key, store_destructor);
    srv->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->opt.threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)srv->opt.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        pthread_key_delete(srv->store_key);
        free(srv);
        return ferry_err_set(err, FERRY_EIO, "cannot listen on %s (is the port in use?)",
                             opt->listen);
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info != NULL ? info->port : ntohs(addr.sin_port);
    *ret_server = srv;
    return FERRY_OK;
}

uint16_t ferry_server_port(const ferry_server *server)
{
    return server->port;
}

void ferry_server_heartbeat(ferry_server *server)
{
    atomic_fetch_add(&server->heartbeat_gen, 1);
    ferry_hub_notify_all(server->opt.hub);
}

void ferry_server_stop(ferry_server *server)
{
    if (server == NULL)
        return;
    /* Suspended event streams are resumed so they can end before the daemon stops. */
    atomic_store(&server->stopping, true);
    ferry_hub_notify_all(server->opt.hub);
    MHD_stop_daemon(server->daemon);
    pthread_key_delete(server->store_key);
    free(server);
}
