/* pg_cluster.c - the cluster interface of the store on PostgreSQL (store.h: nodes, schedule
 * claims, cancel requests): the Ferry processes sharing one database, a schedule's firing
 * claimed by exactly one of them, and a cancel request as a row of its own (an UPDATE of the
 * run would wait for the run's transaction to end). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "store/pg.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* Nodes silent this long are deleted by node_beat; claimed schedule firings this old are
 * deleted by schedule_claim, at most once per FIRES_PURGE_EVERY_MS. */
#define NODE_FORGET "1 day"

#define FIRES_KEEP "7 days"

#define FIRES_PURGE_EVERY_MS (3600 * 1000LL)

static ferry_rc pg_node_beat(ferry_store *base, const char *address, int workers, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    char self[300];
    ferry_pg_params p = {0};

    ferry_node_self(self, sizeof(self));
    ferry_pg_param_text(&p, self);
    ferry_pg_param_text(&p, address);
    ferry_pg_param_int(&p, workers);
    if (ferry_pg_run_count(
            s, FERRY_PG_MAY_RESET, "recording this node",
            "INSERT INTO ferry_nodes (id, address, workers, started_at, heartbeat_at) VALUES"
            " ($1, $2, $3, " CLOCK ", " CLOCK ") ON CONFLICT (id) DO UPDATE SET address ="
            " excluded.address, workers = excluded.workers, heartbeat_at ="
            " excluded.heartbeat_at",
            &p, err) < 0)
        return FERRY_EDB;
    if (ferry_pg_run_count(
            s, FERRY_PG_MAY_RESET, "forgetting silent nodes",
            "DELETE FROM ferry_nodes WHERE heartbeat_at < clock_timestamp() - interval"
            " '" NODE_FORGET "'",
            NULL, err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

static ferry_rc pg_node_list(ferry_store *base, int64_t live_ms, ferry_node **ret_nodes,
                             size_t *ret_n, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_node *nodes = NULL;
    ferry_pg_params p = {0};
    PGresult *res;
    size_t n;

    ferry_pg_param_int(&p, live_ms);
    res = ferry_pg_run_sql(
        s, FERRY_PG_MAY_RESET, "listing nodes",
        "SELECT id, address, workers, " MS("started_at") ", " MS(
            "heartbeat_at") " FROM ferry_nodes WHERE heartbeat_at >= clock_timestamp()"
                            " - $1::bigint * interval '1 millisecond'"
                            " ORDER BY started_at, id",
        &p, err);
    if (res == NULL)
        return FERRY_EDB;
    n = (size_t)PQntuples(res);
    if (n > 0 && (nodes = calloc(n, sizeof(*nodes))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "listing nodes");
    }
    for (size_t i = 0; i < n; i++) {
        ferry_node *nd = &nodes[i];
        nd->id = ferry_pg_col_str(res, (int)i, 0);
        nd->address = ferry_pg_col_str(res, (int)i, 1);
        nd->workers = (int)ferry_pg_col_int(res, (int)i, 2);
        nd->started_at_ms = ferry_pg_col_int(res, (int)i, 3);
        nd->heartbeat_at_ms = ferry_pg_col_int(res, (int)i, 4);
        if (nd->id == NULL) {
            PQclear(res);
            ferry_nodes_free(nodes, n);
            return ferry_err_set(err, FERRY_ENOMEM, "listing nodes");
        }
    }
    PQclear(res);
    *ret_nodes = nodes;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc pg_node_leave(ferry_store *base, ferry_err *err)
{
    char self[300];
    ferry_pg_params p = {0};

    ferry_node_self(self, sizeof(self));
    ferry_pg_param_text(&p, self);
    if (ferry_pg_run_count((ferry_pg_store *)base, FERRY_PG_MAY_RESET, "removing this node",
                           "DELETE FROM ferry_nodes WHERE id = $1", &p, err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

static ferry_rc pg_schedule_claim(ferry_store *base, const char *sync, const char *tenant,
                                  int64_t due_ms, bool *ret_won, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    int64_t now = ferry_time_now_ms(), n;
    char self[300];
    ferry_pg_params p = {0};

    /* Old firings are only kept so a late node cannot fire them again: a week is plenty. */
    if (now - s->fires_purged_ms > FIRES_PURGE_EVERY_MS) {
        if (ferry_pg_run_count(
                s, FERRY_PG_MAY_RESET, "forgetting old schedule firings",
                "DELETE FROM ferry_schedule_fires WHERE claimed_at < clock_timestamp() -"
                " interval '" FIRES_KEEP "'",
                NULL, err) < 0)
            return FERRY_EDB;
        s->fires_purged_ms = now;
    }
    ferry_node_self(self, sizeof(self));
    ferry_pg_param_text(&p, sync);
    ferry_pg_param_text(&p, tenant);
    ferry_pg_param_int(&p, due_ms);
    ferry_pg_param_text(&p, self);
    /* The primary key decides: concurrent claimers wait for the first one's insert, then
     * insert nothing. */
    n = ferry_pg_run_count(
        s, FERRY_PG_MAY_RESET, "claiming the schedule's firing",
        "INSERT INTO ferry_schedule_fires (sync, tenant, due_ms, node, claimed_at)"
        " VALUES ($1, coalesce($2, ''), $3, $4, " CLOCK ") ON CONFLICT DO NOTHING",
        &p, err);
    if (n < 0)
        return FERRY_EDB;
    *ret_won = n == 1;
    return FERRY_OK;
}

static ferry_rc pg_run_request_cancel(ferry_store *base, int64_t id, const char *user,
                                      ferry_err *err)
{
    ferry_pg_params p = {0};
    int64_t n;

    ferry_pg_param_int(&p, id);
    ferry_pg_param_text(&p, user);
    /* A row of its own: the run's row may be locked by its transaction until it ends. */
    n = ferry_pg_run_count(
        (ferry_pg_store *)base, FERRY_PG_MAY_RESET, "asking to cancel the run",
        "INSERT INTO ferry_cancel_requests (run_id, user_name, requested_at)"
        " SELECT id, $2, " CLOCK " FROM ferry_runs WHERE id = $1 AND status ="
        " 'running' ON CONFLICT (run_id) DO UPDATE SET user_name = excluded.user_name,"
        " requested_at = excluded.requested_at",
        &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is not running", (long long)id);
    return FERRY_OK;
}

static ferry_rc pg_run_cancel_requested(ferry_store *base, int64_t id, bool *ret_requested,
                                        char **ret_user, ferry_err *err)
{
    ferry_pg_params p = {0};
    PGresult *res;
    char *user = NULL;
    bool requested;

    ferry_pg_param_int(&p, id);
    /* Asked by the run's worker inside the run's transaction: never on a new connection. */
    res = ferry_pg_run_sql((ferry_pg_store *)base, FERRY_PG_NO_RESET,
                           "reading the run's cancel request",
                           "SELECT c.run_id IS NOT NULL, c.user_name FROM ferry_runs r LEFT JOIN"
                           " ferry_cancel_requests c ON c.run_id = r.id WHERE r.id = $1",
                           &p, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no run %lld", (long long)id);
    }
    requested = ferry_pg_col_bool(res, 0, 0);
    if (ret_user != NULL && !PQgetisnull(res, 0, 1) &&
        (user = ferry_pg_col_str(res, 0, 1)) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "reading the run's cancel request");
    }
    PQclear(res);
    *ret_requested = requested;
    if (ret_user != NULL)
        *ret_user = user;
    return FERRY_OK;
}

static ferry_rc pg_secret_get(ferry_store *base, const char *name, char **ret_text, ferry_err *err)
{
    ferry_pg_params p = {0};
    char *text = NULL;
    PGresult *res;

    ferry_pg_param_text(&p, name);
    res = ferry_pg_run_sql((ferry_pg_store *)base, FERRY_PG_MAY_RESET, "reading a stored secret",
                           "SELECT sealed FROM ferry_secrets WHERE name = $1", &p, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) > 0 && (text = ferry_pg_col_str(res, 0, 0)) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "reading a stored secret");
    }
    PQclear(res);
    *ret_text = text;
    return FERRY_OK;
}

static ferry_rc pg_secret_put(ferry_store *base, const char *name, const char *text, ferry_err *err)
{
    ferry_pg_params p = {0};

    ferry_pg_param_text(&p, name);
    ferry_pg_param_text(&p, text);
    if (ferry_pg_run_count(
            (ferry_pg_store *)base, FERRY_PG_MAY_RESET, "storing a secret",
            "INSERT INTO ferry_secrets (name, sealed, updated_at) VALUES ($1, $2, " CLOCK
            ") ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed,"
            " updated_at = excluded.updated_at",
            &p, err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

const ferry_store_cluster_ops ferry_pg_cluster_ops = {
    .node_beat = pg_node_beat,
    .node_list = pg_node_list,
    .node_leave = pg_node_leave,
    .schedule_claim = pg_schedule_claim,
    .run_request_cancel = pg_run_request_cancel,
    .run_cancel_requested = pg_run_cancel_requested,
    .secret_get = pg_secret_get,
    .secret_put = pg_secret_put,
    .schema_version = ferry_pg_schema_version,
};
