/* api_status.c - figures: GET /api/stats (per sync), GET /metrics (Prometheus text) and
 * GET /healthz (the database answers and can be written).
 *
 * /healthz is public and may be polled often, so its write (this node's heartbeat row, the
 * write the server makes every 5 s anyway) is made at most once a second; the requests in
 * between answer with that check's result. A write that finds the database busy (a run holds
 * SQLite's write lock) counts as writable: someone is writing. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/run_json.h"
#include "http/internal.h"
#include "util/timeutil.h"

/* ---- /api/stats and /metrics ---- */

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

enum MHD_Result ferry_http_get_metrics(struct ferry_server *srv, struct MHD_Connection *conn,
                                       request *req)
{
    const ferry_config *cfg = ferry_http_config();
    ferry_sync_stats *st = calloc(cfg->nsyncs + 1, sizeof(*st));
    struct MHD_Response *resp;
    ferry_store *store;
    ferry_err err;
    ferry_buf b;
    int64_t queued = 0;

    (void)req;
    ferry_err_clear(&err);
    if (st == NULL)
        return MHD_NO;
    if ((store = ferry_http_store(srv, &err)) == NULL)
        goto fail;
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        if (store->runs->sync_stats(store, cfg->syncs[i].name, &st[i], &err) != FERRY_OK)
            goto fail;
        queued += st[i].by_status[FERRY_RUN_QUEUED];
    }
    /* Each family once, with a line per sync (the text format wants families whole). */
    ferry_buf_init(&b, 4 * 1024 * 1024);
    ferry_buf_printf(&b, "# HELP ferry_runs Runs by sync and status.\n# TYPE ferry_runs gauge\n");
    for (size_t i = 0; i < cfg->nsyncs; i++)
        for (int k = 0; k < FERRY_RUN_STATUS_COUNT; k++)
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
    for (size_t r = 0; r < FERRY_HTTP_COUNTERS; r++) {
        for (size_t k = 0; k <= NSTATUS; k++) {
            uint64_t v = atomic_load(&srv->requests[r][k]);
            char code[16] = "other";
            if (v == 0)
                continue;
            if (k < NSTATUS)
                snprintf(code, sizeof(code), "%u", ferry_counted_status[k]);
            ferry_buf_printf(&b, "ferry_http_requests{route=\"%s\",code=\"%s\"} %llu\n",
                             ferry_http_counter_label(r), code, (unsigned long long)v);
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
    return ferry_http_queue(conn, MHD_HTTP_OK, resp);

fail:
    for (size_t i = 0; i < cfg->nsyncs; i++)
        ferry_sync_stats_done(&st[i]);
    free(st);
    return ferry_http_reply_err(conn, &err);
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
