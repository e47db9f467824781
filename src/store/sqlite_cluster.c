/* sqlite_cluster.c - the cluster interface of the store on SQLite (store.h: nodes, schedule
 * claims, cancel requests). With SQLite the cluster is the processes of one host sharing the
 * database file; the same operations as on PostgreSQL keep the server's code one. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* Nodes silent this long are deleted by node_beat; claimed schedule firings this old are
 * deleted by schedule_claim, at most once per FIRES_PURGE_EVERY_MS. */
#define NODE_FORGET_MS (24 * 3600 * 1000LL)

#define FIRES_KEEP_MS (7 * 24 * 3600 * 1000LL)

#define FIRES_PURGE_EVERY_MS (3600 * 1000LL)

static ferry_rc st_node_beat(ferry_store *base, const char *address, int workers, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    static const char *const upsert =
        "INSERT INTO ferry_nodes (id, address, workers, started_at, heartbeat_at) VALUES (?1, ?2,"
        " ?3, ?4, ?4) ON CONFLICT (id) DO UPDATE SET address = excluded.address,"
        " workers = excluded.workers, heartbeat_at = excluded.heartbeat_at";
    int64_t now = ferry_time_now_ms();
    char self[300];
    sqlite3_stmt *st;
    int rc;

    ferry_node_self(self, sizeof(self));
    if (sqlite3_prepare_v2(s->db, upsert, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "recording this node");
    sqlite3_bind_text(st, 1, self, -1, SQLITE_STATIC);
    ferry_sqlite_bind_text_or_null(st, 2, address);
    sqlite3_bind_int(st, 3, workers);
    ferry_sqlite_bind_time(st, 4, now);
    /* A beat does not wait for a run's write lock: it is skipped, and the next one (5 s
     * later) may find the database free. */
    sqlite3_busy_timeout(s->db, 0);
    rc = sqlite3_step(st);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_finalize(st);
    if (rc == SQLITE_BUSY)
        return FERRY_OK;
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "recording this node");
    if (sqlite3_prepare_v2(s->db, "DELETE FROM ferry_nodes WHERE heartbeat_at < ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "forgetting silent nodes");
    ferry_sqlite_bind_time(st, 1, now - NODE_FORGET_MS);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "forgetting silent nodes");
    return FERRY_OK;
}

static ferry_rc st_node_list(ferry_store *base, int64_t live_ms, ferry_node **ret_nodes,
                             size_t *ret_n, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    ferry_node *nodes = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, address, workers, started_at, heartbeat_at FROM ferry_nodes"
                           " WHERE heartbeat_at >= ?1 ORDER BY started_at, id",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "listing nodes");
    ferry_sqlite_bind_time(st, 1, ferry_time_now_ms() - live_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            ferry_node *grown = realloc(nodes, ncap * sizeof(*nodes));
            if (grown == NULL) {
                sqlite3_finalize(st);
                ferry_nodes_free(nodes, n);
                return ferry_err_set(err, FERRY_ENOMEM, "listing nodes");
            }
            nodes = grown;
            cap = ncap;
        }
        ferry_node *nd = &nodes[n++];
        memset(nd, 0, sizeof(*nd));
        nd->id = ferry_sqlite_col_strdup(st, 0);
        nd->address = ferry_sqlite_col_strdup(st, 1);
        nd->workers = sqlite3_column_int(st, 2);
        nd->started_at_ms = ferry_sqlite_col_time(st, 3);
        nd->heartbeat_at_ms = ferry_sqlite_col_time(st, 4);
        if (nd->id == NULL) {
            sqlite3_finalize(st);
            ferry_nodes_free(nodes, n);
            return ferry_err_set(err, FERRY_ENOMEM, "listing nodes");
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_nodes_free(nodes, n);
        return ferry_sqlite_db_error(s->db, err, "listing nodes");
    }
    *ret_nodes = nodes;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc st_node_leave(ferry_store *base, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    char self[300];
    sqlite3_stmt *st;
    int rc;

    ferry_node_self(self, sizeof(self));
    if (sqlite3_prepare_v2(s->db, "DELETE FROM ferry_nodes WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "removing this node");
    sqlite3_bind_text(st, 1, self, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "removing this node");
    return FERRY_OK;
}

static ferry_rc st_schedule_claim(ferry_store *base, const char *sync, const char *tenant,
                                  int64_t due_ms, bool *ret_won, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    int64_t now = ferry_time_now_ms();
    char self[300];
    sqlite3_stmt *st;
    int rc;

    /* Old firings are only kept so a late node cannot fire them again: a week is plenty. */
    if (now - s->fires_purged_ms > FIRES_PURGE_EVERY_MS) {
        if (sqlite3_prepare_v2(s->db, "DELETE FROM ferry_schedule_fires WHERE claimed_at < ?1", -1,
                               &st, NULL) != SQLITE_OK)
            return ferry_sqlite_db_error(s->db, err, "forgetting old schedule firings");
        ferry_sqlite_bind_time(st, 1, now - FIRES_KEEP_MS);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return ferry_sqlite_db_error(s->db, err, "forgetting old schedule firings");
        s->fires_purged_ms = now;
    }
    ferry_node_self(self, sizeof(self));
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO ferry_schedule_fires (sync, tenant, due_ms, node,"
                           " claimed_at) VALUES (?1, ifnull(?2, ''), ?3, ?4, ?5)"
                           " ON CONFLICT DO NOTHING",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "claiming the schedule's firing");
    sqlite3_bind_text(st, 1, sync, -1, SQLITE_STATIC);
    ferry_sqlite_bind_text_or_null(st, 2, tenant);
    sqlite3_bind_int64(st, 3, due_ms);
    sqlite3_bind_text(st, 4, self, -1, SQLITE_STATIC);
    ferry_sqlite_bind_time(st, 5, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "claiming the schedule's firing");
    *ret_won = sqlite3_changes(s->db) == 1;
    return FERRY_OK;
}

static ferry_rc st_run_request_cancel(ferry_store *base, int64_t id, const char *user,
                                      ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "UPDATE ferry_runs SET cancel_requested = 1, cancel_requested_by = ?2"
                           " WHERE id = ?1 AND status = 'running'",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "asking to cancel the run");
    sqlite3_bind_int64(st, 1, id);
    ferry_sqlite_bind_text_or_null(st, 2, user);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "asking to cancel the run");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is not running", (long long)id);
    return FERRY_OK;
}

static ferry_rc st_run_cancel_requested(ferry_store *base, int64_t id, bool *ret_requested,
                                        char **ret_user, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    char *user = NULL;
    bool requested = false;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT cancel_requested, cancel_requested_by FROM ferry_runs"
                           " WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "reading the run's cancel request");
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        requested = sqlite3_column_int(st, 0) != 0;
        if (ret_user != NULL && sqlite3_column_type(st, 1) != SQLITE_NULL &&
            (user = ferry_sqlite_col_strdup(st, 1)) == NULL) {
            sqlite3_finalize(st);
            return ferry_err_set(err, FERRY_ENOMEM, "reading the run's cancel request");
        }
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no run %lld", (long long)id);
    if (rc != SQLITE_ROW)
        return ferry_sqlite_db_error(s->db, err, "reading the run's cancel request");
    *ret_requested = requested;
    if (ret_user != NULL)
        *ret_user = user;
    return FERRY_OK;
}

static ferry_rc st_secret_get(ferry_store *base, const char *name, char **ret_text, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    char *text = NULL;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT sealed FROM ferry_secrets WHERE name = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "reading a stored secret");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && (text = ferry_sqlite_col_strdup(st, 0)) == NULL) {
        sqlite3_finalize(st);
        return ferry_err_set(err, FERRY_ENOMEM, "reading a stored secret");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "reading a stored secret");
    *ret_text = text;
    return FERRY_OK;
}

static ferry_rc st_secret_put(ferry_store *base, const char *name, const char *text, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(
            s->db,
            "INSERT INTO ferry_secrets (name, sealed, updated_at) VALUES (?1, ?2, ?3)"
            " ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed,"
            " updated_at = excluded.updated_at",
            -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "storing a secret");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
    ferry_sqlite_bind_time(st, 3, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "storing a secret");
    return FERRY_OK;
}

const ferry_store_cluster_ops ferry_sqlite_cluster_ops = {
    .node_beat = st_node_beat,
    .node_list = st_node_list,
    .node_leave = st_node_leave,
    .schedule_claim = st_schedule_claim,
    .run_request_cancel = st_run_request_cancel,
    .run_cancel_requested = st_run_cancel_requested,
    .secret_get = st_secret_get,
    .secret_put = st_secret_put,
    .schema_version = ferry_sqlite_schema_version,
};
