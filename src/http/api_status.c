/* api_status.c - figures: GET /api/stats (per sync), GET /metrics (Prometheus text), GET
 * /healthz (the database answers and can be written) and GET /readyz (the database answers
 * and its schema is the one this binary migrates to).
 *
 * /metrics: the gauges are read from the store at each request (what it holds now); the
 * counters are this process's (events/metrics.c and the request counts of server.c), so
 * they never go down while it lives, whatever retention deletes.
 *
 * /healthz is public and may be polled often, so its write (this node's heartbeat row, the
 * write the server makes every 5 s anyway) is made at most once a second; the requests in
 * between answer with that check's result. A write that finds the database busy (a run holds
 * SQLite's write lock) counts as writable: someone is writing. /readyz reuses a success for a
 * second too; a failure is checked again at the next request. */
#include <curl/curl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/metrics.h"
#include "events/run_json.h"
#include "http/internal.h"
#include "util/timeutil.h"

/* ---- /api/stats and /metrics ---- */

/* The largest /metrics answer. */
#define METRICS_MAX_BYTES (8 * 1024 * 1024)

static json_t *stats_json(const ferry_sync_stats *st)
{
    int64_t total = 0, ended;
    json_t *records = json_object(), *reasons = json_array();

    for (int i = 0; i < FERRY_RUN_STATUS_COUNT; i++)
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

enum MHD_Result ferry_http_get_stats(struct ferry_server *srv, struct MHD_Connection *conn,
                                     request *req)
{
    const ferry_config *cfg = ferry_http_config();
    json_t *syncs = json_object();
    ferry_sync_stats st;
    ferry_store *store;
    ferry_err err;

    ferry_err_clear(&err);
    if ((store = ferry_http_store(srv, &err)) == NULL) {
        json_decref(syncs);
        return ferry_http_reply_err(conn, &err);
    }
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        if (req->embed != NULL && !ferry_embed_claims_allow_sync(req->embed, cfg->syncs[i].name))
            continue;
        if (store->runs->sync_stats(store, cfg->syncs[i].name, &st, &err) != FERRY_OK) {
            json_decref(syncs);
            return ferry_http_reply_err(conn, &err);
        }
        json_object_set_new(syncs, cfg->syncs[i].name, stats_json(&st));
        ferry_sync_stats_done(&st);
    }
    return ferry_http_reply_json(conn, MHD_HTTP_OK, json_pack("{s:o}", "syncs", syncs));
}

/* The gauges of what the store holds now, one family after another (the text format wants
 * each family whole): runs by sync and status, the last success of each sync and tenant,
 * the queue and the outbox. */
static ferry_rc format_store_gauges(struct ferry_server *srv, ferry_store *store, ferry_buf *b,
                                    ferry_err *err)
{
    const ferry_config *cfg = ferry_http_config();
    ferry_sync_stats *st = calloc(cfg->nsyncs + 1, sizeof(*st));
    ferry_last_success *last = NULL;
    size_t nlast = 0, nstats = 0;
    int64_t queued = 0, pending = 0;
    ferry_rc rc = FERRY_OK;

    if (st == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "computing metrics");
    for (; nstats < cfg->nsyncs && rc == FERRY_OK; nstats++)
        rc = store->runs->sync_stats(store, cfg->syncs[nstats].name, &st[nstats], err);
    if (rc != FERRY_OK ||
        (rc = store->runs->last_successes(store, &last, &nlast, err)) != FERRY_OK ||
        (rc = store->outbox->delivery_pending(store, &pending, err)) != FERRY_OK)
        goto out_free;
    ferry_buf_printf_trunc(b, "# HELP ferry_runs Runs the database holds, by sync and status.\n"
                              "# TYPE ferry_runs gauge\n");
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        queued += st[i].by_status[FERRY_RUN_QUEUED];
        for (int k = 0; k < FERRY_RUN_STATUS_COUNT; k++)
            ferry_buf_printf_trunc(b, "ferry_runs{sync=\"%s\",status=\"%s\"} %lld\n",
                                   cfg->syncs[i].name, ferry_run_status_name((ferry_run_status)k),
                                   (long long)st[i].by_status[k]);
    }
    ferry_buf_printf_trunc(b, "# HELP ferry_last_success_timestamp_seconds The end of the latest "
                              "succeeded run, by sync and tenant.\n"
                              "# TYPE ferry_last_success_timestamp_seconds gauge\n");
    for (size_t i = 0; i < nlast; i++) {
        ferry_buf_printf_trunc(b, "ferry_last_success_timestamp_seconds{sync=\"");
        ferry_metrics_label_append(b, last[i].sync);
        ferry_buf_printf_trunc(b, "\",tenant=\"");
        ferry_metrics_label_append(b, last[i].tenant);
        ferry_buf_printf_trunc(b, "\"} %.3f\n", (double)last[i].finished_at_ms / 1000.0);
    }
    ferry_buf_printf_trunc(b,
                           "# HELP ferry_queue_depth Runs queued, not yet claimed.\n"
                           "# TYPE ferry_queue_depth gauge\nferry_queue_depth %lld\n"
                           "# HELP ferry_outbox_pending Deliveries waiting to be sent.\n"
                           "# TYPE ferry_outbox_pending gauge\nferry_outbox_pending %lld\n",
                           (long long)queued, (long long)pending);

out_free:
    for (size_t i = 0; i < nstats; i++)
        ferry_sync_stats_done(&st[i]);
    free(st);
    ferry_last_successes_free(last, nlast);
    return rc;
}

/* This process's figures: build, workers, event streams, HTTP requests. */
static void format_process(struct ferry_server *srv, ferry_buf *b)
{
    ferry_buf_printf_trunc(
        b,
        "# HELP ferry_build_info The version of Ferry and its libraries.\n"
        "# TYPE ferry_build_info gauge\n"
        "ferry_build_info{version=\"%s\",sqlite=\"%s\",curl=\"%s\"} 1\n"
        "# HELP ferry_busy_workers Workers executing a run.\n"
        "# TYPE ferry_busy_workers gauge\nferry_busy_workers %d\n"
        "# HELP ferry_sse_clients Open event streams.\n"
        "# TYPE ferry_sse_clients gauge\nferry_sse_clients %zu\n"
        "# HELP ferry_http_requests_total HTTP requests answered, by route and "
        "status.\n# TYPE ferry_http_requests_total counter\n",
        FERRY_VERSION, sqlite3_libversion(), curl_version_info(CURLVERSION_NOW)->version,
        ferry_workers_busy(srv->opt.workers), ferry_hub_subscribers(srv->opt.hub));
    for (size_t r = 0; r < FERRY_HTTP_COUNTERS; r++) {
        for (size_t k = 0; k <= NSTATUS; k++) {
            uint64_t v = atomic_load(&srv->requests[r][k]);
            char code[16] = "other";
            if (v == 0)
                continue;
            if (k < NSTATUS)
                snprintf(code, sizeof(code), "%u", ferry_counted_status[k]);
            ferry_buf_printf_trunc(b, "ferry_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                                   ferry_http_counter_label(r), code, (unsigned long long)v);
        }
    }
}

enum MHD_Result ferry_http_get_metrics(struct ferry_server *srv, struct MHD_Connection *conn,
                                       request *req)
{
    const ferry_config *cfg = ferry_http_config();
    struct MHD_Response *resp;
    ferry_store *store;
    ferry_err err;
    ferry_buf b;

    (void)req;
    ferry_err_clear(&err);
    if ((store = ferry_http_store(srv, &err)) == NULL)
        return ferry_http_reply_err(conn, &err);
    for (size_t i = 0; i < cfg->nsyncs; i++)
        ferry_metrics_sync_add(cfg->syncs[i].name);
    ferry_buf_init(&b, METRICS_MAX_BYTES);
    if (format_store_gauges(srv, store, &b, &err) != FERRY_OK) {
        ferry_buf_done(&b);
        return ferry_http_reply_err(conn, &err);
    }
    format_process(srv, &b);
    if (ferry_metrics_format(&b) != FERRY_OK || b.truncated) {
        ferry_buf_done(&b);
        ferry_err_set(&err, FERRY_ELIMIT, "the metrics exceed %d bytes", METRICS_MAX_BYTES);
        return ferry_http_reply_err(conn, &err);
    }
    resp = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        ferry_buf_done(&b);
        return MHD_NO;
    }
    b.data = NULL;
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
    return ferry_http_queue(conn, MHD_HTTP_OK, resp);
}

/* Protects the health_* fields of every server (one check at a time). */
static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;

/* The write check is made at most this often. */
#define HEALTH_WRITE_EVERY_MS 1000

/* Whether the store takes a write (this node's heartbeat); the reason in why when not. */
static bool store_writable(struct ferry_server *srv, ferry_store *st, char *why, size_t whylen)
{
    int64_t now = ferry_time_mono_ms();
    char host[256], address[300];
    const char *listen = srv->opt.listen != NULL ? srv->opt.listen : "";
    const char *colon = strrchr(listen, ':');
    ferry_err err;
    bool ok;

    uint16_t port = atomic_load(&srv->port);

    pthread_mutex_lock(&health_lock);
    if (srv->health_checked_ms == 0 || now - srv->health_checked_ms >= HEALTH_WRITE_EVERY_MS) {
        snprintf(host, sizeof(host), "%.*s", colon != NULL ? (int)(colon - listen) : 0, listen);
        snprintf(address, sizeof(address), "%s:%u", host, (unsigned)port);
        ferry_err_clear(&err);
        srv->health_writable =
            st->cluster->node_beat(st, address, ferry_http_config()->workers, &err) == FERRY_OK;
        snprintf(srv->health_error, sizeof(srv->health_error), "%s", err.msg);
        /* A request answered before the daemon's port was known checks again at the next. */
        srv->health_checked_ms = port != 0 ? now : 0;
    }
    ok = srv->health_writable;
    snprintf(why, whylen, "%s", srv->health_error);
    pthread_mutex_unlock(&health_lock);
    return ok;
}

enum MHD_Result ferry_http_get_health(struct ferry_server *srv, struct MHD_Connection *conn,
                                      request *req)
{
    ferry_run_filter filter = {.limit = 1};
    ferry_run *runs = NULL;
    size_t n = 0;
    ferry_store *st;
    char why[FERRY_ERR_MSG_MAX];
    ferry_err err;

    (void)req;
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->runs->run_list(st, &filter, &runs, &n, &err) != FERRY_OK)
        return ferry_http_reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                     json_pack("{s:s, s:s, s:s}", "status", "unhealthy", "database",
                                               "unreachable", "error", err.msg));
    ferry_runs_free(runs, n);
    if (!store_writable(srv, st, why, sizeof(why)))
        return ferry_http_reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                     json_pack("{s:s, s:s, s:s}", "status", "unhealthy", "database",
                                               "unwritable", "error", why));
    return ferry_http_reply_json(conn, MHD_HTTP_OK,
                                 json_pack("{s:s, s:s, s:s, s:i}", "status", "ok", "database", "ok",
                                           "version", FERRY_VERSION, "busy_workers",
                                           ferry_workers_busy(srv->opt.workers)));
}

/* A ready answer is reused this long. */
#define READY_EVERY_MS 1000

/* Whether a ready answer younger than READY_EVERY_MS can be reused. */
static bool ready_cached(struct ferry_server *srv, int64_t now)
{
    bool fresh;

    pthread_mutex_lock(&health_lock);
    fresh = srv->ready_ok_ms != 0 && now - srv->ready_ok_ms < READY_EVERY_MS;
    pthread_mutex_unlock(&health_lock);
    return fresh;
}

enum MHD_Result ferry_http_get_ready(struct ferry_server *srv, struct MHD_Connection *conn,
                                     request *req)
{
    int64_t now = ferry_time_mono_ms();
    int have = 0, want = 0;
    ferry_store *st;
    ferry_err err;

    (void)req;
    if (ready_cached(srv, now))
        return ferry_http_reply_json(conn, MHD_HTTP_OK, json_pack("{s:s}", "status", "ready"));
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->cluster->schema_version(st, &have, &want, &err) != FERRY_OK)
        return ferry_http_reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                     json_pack("{s:s, s:s, s:s}", "status", "unready", "reason",
                                               "database_unreachable", "error", err.msg));
    if (have != want)
        return ferry_http_reply_json(
            conn, MHD_HTTP_SERVICE_UNAVAILABLE,
            json_pack("{s:s, s:s, s:i, s:i}", "status", "unready", "reason",
                      have < want ? "schema_older" : "schema_newer", "schema_version", have,
                      "expected_schema_version", want));
    pthread_mutex_lock(&health_lock);
    srv->ready_ok_ms = now;
    pthread_mutex_unlock(&health_lock);
    return ferry_http_reply_json(conn, MHD_HTTP_OK, json_pack("{s:s}", "status", "ready"));
}

/* ---- /api/nodes ---- */

/* A node is live while its heartbeat (every 5 s) is at most this old. */
#define NODE_LIVE_MS 15000
#define NODE_RUNS_MAX 1000

static json_t *node_run_json(struct ferry_server *srv, const ferry_run *run)
{
    ferry_run live_run;
    ferry_run_live live;
    json_t *j;
    bool here = ferry_workers_snapshot(srv->opt.workers, run->id, &live_run, &live);
    const ferry_run *r = here ? &live_run : run;

    j = json_pack("{s:I, s:s, s:o, s:s, s:i, s:I, s:o}", "id", (json_int_t)r->id, "sync", r->sync,
                  "tenant", r->tenant != NULL ? json_string(r->tenant) : json_null(), "phase",
                  r->phase != NULL ? r->phase : "", "percent", r->percent, "attempt",
                  (json_int_t)r->attempt, "started_at", ferry_json_time(r->started_at_ms));
    if (here)
        ferry_run_done(&live_run);
    return j;
}

static bool node_listed(const ferry_node *nodes, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(nodes[i].id, id) == 0)
            return true;
    return false;
}

enum MHD_Result ferry_http_get_nodes(struct ferry_server *srv, struct MHD_Connection *conn,
                                     request *req)
{
    ferry_run_filter filter = {.status = "running", .limit = NODE_RUNS_MAX};
    ferry_node *nodes = NULL;
    ferry_run *runs = NULL;
    size_t nnodes = 0, nruns = 0;
    json_t *list = NULL, *orphans = NULL, *body = NULL;
    char self[300];
    ferry_store *store;
    ferry_err err;

    ferry_err_clear(&err);
    ferry_node_self(self, sizeof(self));
    if ((store = ferry_http_store(srv, &err)) == NULL)
        return ferry_http_reply_err(conn, &err);
    if (store->cluster->node_list(store, NODE_LIVE_MS, &nodes, &nnodes, &err) != FERRY_OK ||
        store->runs->run_list(store, &filter, &runs, &nruns, &err) != FERRY_OK) {
        ferry_nodes_free(nodes, nnodes);
        return ferry_http_reply_err(conn, &err);
    }
    list = json_array();
    orphans = json_array();
    if (!node_listed(nodes, nnodes, self)) {
        /* This node is alive (it answers), even when its last beat was skipped: on SQLite a
         * beat does not wait for a run's write lock. */
        ferry_node *more = realloc(nodes, (nnodes + 1) * sizeof(*nodes));
        if (more != NULL) {
            nodes = more;
            memset(&nodes[nnodes], 0, sizeof(nodes[nnodes]));
            nodes[nnodes].id = strdup(self);
            nodes[nnodes].workers = ferry_http_config()->workers;
            if (nodes[nnodes].id != NULL)
                nnodes++;
        }
    }
    for (size_t i = 0; i < nnodes; i++) {
        json_t *node_runs = json_array();
        for (size_t k = 0; k < nruns; k++)
            if (runs[k].node != NULL && strcmp(runs[k].node, nodes[i].id) == 0 &&
                ferry_http_request_sees(req, runs[k].sync, runs[k].tenant))
                json_array_append_new(node_runs, node_run_json(srv, &runs[k]));
        json_array_append_new(
            list,
            json_pack("{s:s, s:b, s:o, s:i, s:I, s:o, s:o, s:o}", "id", nodes[i].id, "self",
                      strcmp(nodes[i].id, self) == 0, "address",
                      nodes[i].address != NULL ? json_string(nodes[i].address) : json_null(),
                      "workers", nodes[i].workers, "busy", (json_int_t)json_array_size(node_runs),
                      "started_at", ferry_json_time(nodes[i].started_at_ms), "heartbeat_at",
                      ferry_json_time(nodes[i].heartbeat_at_ms), "runs", node_runs));
    }
    /* Runs whose node stopped beating: another node takes them once their lease expires. */
    for (size_t k = 0; k < nruns; k++) {
        if ((runs[k].node == NULL || !node_listed(nodes, nnodes, runs[k].node)) &&
            ferry_http_request_sees(req, runs[k].sync, runs[k].tenant)) {
            json_t *j = node_run_json(srv, &runs[k]);
            json_object_set_new(j, "node",
                                runs[k].node != NULL ? json_string(runs[k].node) : json_null());
            json_array_append_new(orphans, j);
        }
    }
    body =
        json_pack("{s:s, s:I, s:I, s:o, s:o}", "self", self, "live_within_ms",
                  (json_int_t)NODE_LIVE_MS, "lease_ms", (json_int_t)ferry_http_config()->lease_ms,
                  "nodes", list, "runs_without_live_node", orphans);
    ferry_nodes_free(nodes, nnodes);
    ferry_runs_free(runs, nruns);
    return ferry_http_reply_json(conn, MHD_HTTP_OK, body);
}
