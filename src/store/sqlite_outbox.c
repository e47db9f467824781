/* sqlite_outbox.c - the outbox (store.h, ferry_store_outbox_ops) on SQLite.
 *
 * ferry_deliveries holds one row per delivery a run's end owes an endpoint, written in the
 * same transaction as the run's end (ferry_sqlite_finish_with_deliveries(): a savepoint,
 * which inside the run's own transaction nests in it, and outside begins one), so a delivery
 * exists exactly when the end it reports was stored. ferry_delivery_attempts keeps every
 * attempt. Rows hold ids, states and times: never a body, a URL or a secret.
 *
 * A sender claims the delivery due first with one UPDATE ... RETURNING (the write lock makes
 * it atomic), setting a lease; a sender that dies mid-delivery gives it back when the lease
 * ends. The next batch of a change feed is inserted when the one before it is delivered, in
 * the same transaction, so batches go out one after another, in order. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "util/timeutil.h"

#define DELIVERY_COLUMNS                                                                           \
    "id, run_id, endpoint, kind, seq, from_seq, status, attempts, last_status, last_error,"        \
    " created_at, next_attempt_at, delivered_at, give_up_at"

#define LIST_MAX 10000 /* deliveries of one run listed at most */

static void delivery_from_row(sqlite3_stmt *st, int col, ferry_delivery *d)
{
    memset(d, 0, sizeof(*d));
    d->id = ferry_sqlite_col_strdup(st, col);
    d->run_id = sqlite3_column_int64(st, col + 1);
    d->endpoint = sqlite3_column_int(st, col + 2);
    d->kind = ferry_sqlite_col_strdup(st, col + 3);
    d->seq = sqlite3_column_int64(st, col + 4);
    d->from_seq = sqlite3_column_int64(st, col + 5);
    d->status = ferry_delivery_status_parse((const char *)sqlite3_column_text(st, col + 6));
    d->attempts = sqlite3_column_int(st, col + 7);
    d->last_status = sqlite3_column_int(st, col + 8);
    d->last_error = ferry_sqlite_col_strdup(st, col + 9);
    d->created_at_ms = ferry_sqlite_col_time(st, col + 10);
    d->next_attempt_at_ms = ferry_sqlite_col_time(st, col + 11);
    d->delivered_at_ms = ferry_sqlite_col_time(st, col + 12);
    d->give_up_at_ms = ferry_sqlite_col_time(st, col + 13);
}

/* Inserts one pending delivery of run_id, due now. */
static ferry_rc insert_delivery(ferry_sqlite_store *s, int64_t run_id, int endpoint,
                                const char *kind, int64_t seq, int64_t from_seq, bool or_ignore,
                                ferry_err *err)
{
    char id[FERRY_DELIVERY_ID_SIZE];
    int64_t now = ferry_time_now_ms();
    sqlite3_stmt *st;
    int rc;

    ferry_store_delivery_id(id);
    if (sqlite3_prepare_v2(s->db,
                           or_ignore ? "INSERT OR IGNORE INTO ferry_deliveries (id, run_id, "
                                       "endpoint, kind, seq, from_seq, status, created_at,"
                                       " next_attempt_at, give_up_at) VALUES (?1, ?2, ?3, ?4, ?5,"
                                       " ?6, 'pending', ?7, ?7, ?8)"
                                     : "INSERT INTO ferry_deliveries (id, run_id, endpoint, kind,"
                                       " seq, from_seq, status, created_at, next_attempt_at,"
                                       " give_up_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending',"
                                       " ?7, ?7, ?8)",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "enqueueing a delivery");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, run_id);
    sqlite3_bind_int(st, 3, endpoint);
    sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, seq);
    sqlite3_bind_int64(st, 6, from_seq);
    ferry_sqlite_bind_time(st, 7, now);
    ferry_sqlite_bind_time(st, 8, now + FERRY_DELIVERY_TRY_MS);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "enqueueing a delivery");
    return FERRY_OK;
}

ferry_rc ferry_sqlite_outbox_enqueue(ferry_sqlite_store *s, const ferry_run *run,
                                     const ferry_delivery_plan *plan, size_t n, ferry_err *err)
{
    ferry_rc rc = FERRY_OK;

    /* pg_channel needs PostgreSQL (the config refuses it on SQLite). */
    for (size_t i = 0; i < n && rc == FERRY_OK; i++)
        if (strcmp(plan[i].kind, "pg_channel") != 0)
            rc = insert_delivery(s, run->id, plan[i].endpoint, plan[i].kind,
                                 strcmp(plan[i].kind, "records") == 0 ? 1 : 0, 0, false, err);
    return rc;
}

ferry_rc ferry_sqlite_finish_with_deliveries(ferry_sqlite_store *s, const ferry_run *run,
                                             ferry_sqlite_end_write write, void *arg,
                                             ferry_err *err)
{
    ferry_delivery_plan plan[FERRY_DELIVERY_PLAN_MAX];
    size_t n = ferry_store_plan(&s->base, run, plan);
    ferry_rc rc;

    if (n == 0)
        return write(s, run, arg, err);
    if (sqlite3_exec(s->db, "SAVEPOINT ferry_end", NULL, NULL, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "recording the run's result");
    rc = write(s, run, arg, err);
    if (rc == FERRY_OK)
        rc = ferry_sqlite_outbox_enqueue(s, run, plan, n, err);
    if (rc != FERRY_OK) {
        sqlite3_exec(s->db, "ROLLBACK TO ferry_end; RELEASE ferry_end", NULL, NULL, NULL);
        return rc;
    }
    if (sqlite3_exec(s->db, "RELEASE ferry_end", NULL, NULL, NULL) != SQLITE_OK) {
        rc = ferry_sqlite_db_error(s->db, err, "recording the run's result");
        sqlite3_exec(s->db, "ROLLBACK TO ferry_end; RELEASE ferry_end", NULL, NULL, NULL);
    }
    return rc;
}

static ferry_rc st_delivery_claim(ferry_store *base, int64_t lease_ms, ferry_delivery *ret,
                                  ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    static const char *const sql =
        "UPDATE ferry_deliveries SET lease_owner = ?1, lease_until = ?2 WHERE id = ("
        " SELECT id FROM ferry_deliveries WHERE status = 'pending' AND next_attempt_at <= ?3"
        " AND (lease_until IS NULL OR lease_until < ?3) ORDER BY next_attempt_at, created_at"
        " LIMIT 1) RETURNING " DELIVERY_COLUMNS;
    char owner[300];
    int64_t now = ferry_time_now_ms();
    sqlite3_stmt *st;
    int rc;

    /* A read first: an UPDATE takes the write lock even when it changes nothing, and a run
     * holds that lock for its whole transaction; an idle sender must not queue behind it. */
    if (sqlite3_prepare_v2(s->db,
                           "SELECT 1 FROM ferry_deliveries WHERE status = 'pending' AND"
                           " next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until < ?1)"
                           " LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "claiming a delivery");
    ferry_sqlite_bind_time(st, 1, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return FERRY_DONE;
    if (rc != SQLITE_ROW)
        return ferry_sqlite_db_error(s->db, err, "claiming a delivery");
    ferry_node_self(owner, sizeof(owner));
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "claiming a delivery");
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_TRANSIENT);
    ferry_sqlite_bind_time(st, 2, now + lease_ms);
    ferry_sqlite_bind_time(st, 3, now);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        delivery_from_row(st, 0, ret);
    /* RETURNING: the UPDATE is done when the statement is stepped to its end */
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        if (ret->id != NULL)
            ferry_delivery_done(ret);
        return ferry_sqlite_db_error(s->db, err, "claiming a delivery");
    }
    return ret->id != NULL ? FERRY_OK : FERRY_DONE;
}

static ferry_rc record_write(ferry_sqlite_store *s, const ferry_delivery *d,
                             const ferry_delivery_result *r, ferry_err *err)
{
    static const char *const update =
        "UPDATE ferry_deliveries SET attempts = attempts + 1, last_status = ?3, last_error = ?4,"
        " status = ?5, next_attempt_at = ?6, delivered_at = ?7, lease_owner = NULL,"
        " lease_until = NULL WHERE id = ?1 AND lease_owner = ?2";
    static const char *const attempt =
        "INSERT INTO ferry_delivery_attempts (delivery_id, n, at, status, error, duration_ms)"
        " SELECT id, attempts, ?2, ?3, ?4, ?5 FROM ferry_deliveries WHERE id = ?1";
    char owner[300];
    sqlite3_stmt *st;
    int rc;

    ferry_node_self(owner, sizeof(owner));
    if (sqlite3_prepare_v2(s->db, update, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "recording a delivery");
    sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, r->status);
    ferry_sqlite_bind_text_or_null(st, 4, r->error);
    sqlite3_bind_text(st, 5, ferry_delivery_status_name(r->next), -1, SQLITE_STATIC);
    ferry_sqlite_bind_time(st, 6, r->next == FERRY_DELIVERY_PENDING ? r->next_at_ms : 0);
    ferry_sqlite_bind_time(st, 7, r->next == FERRY_DELIVERY_DELIVERED ? r->at_ms : 0);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "recording a delivery");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND,
                             "delivery %s is not held by this process any more", d->id);
    if (sqlite3_prepare_v2(s->db, attempt, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "recording a delivery");
    sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
    ferry_sqlite_bind_time(st, 2, r->at_ms);
    sqlite3_bind_int(st, 3, r->status);
    ferry_sqlite_bind_text_or_null(st, 4, r->error);
    sqlite3_bind_int64(st, 5, r->duration_ms);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "recording a delivery");
    if (r->next == FERRY_DELIVERY_DELIVERED && r->more)
        return insert_delivery(s, d->run_id, d->endpoint, d->kind, d->seq + 1, r->next_from_seq,
                               true, err);
    return FERRY_OK;
}

static ferry_rc st_delivery_record(ferry_store *base, const ferry_delivery *d,
                                   const ferry_delivery_result *r, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    ferry_rc rc;

    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "recording a delivery");
    rc = record_write(s, d, r, err);
    if (rc == FERRY_OK && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = ferry_sqlite_db_error(s->db, err, "recording a delivery");
    if (rc != FERRY_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Reads the attempts of the n deliveries of run_id (sorted by id in idx) into them. */
static ferry_rc list_attempts(ferry_sqlite_store *s, int64_t run_id, ferry_delivery *d, size_t n,
                              ferry_err *err)
{
    static const char *const sql =
        "SELECT a.delivery_id, a.n, a.at, a.status, a.error, a.duration_ms"
        " FROM ferry_delivery_attempts a JOIN ferry_deliveries d ON d.id = a.delivery_id"
        " WHERE d.run_id = ?1 ORDER BY a.delivery_id, a.n";
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "reading the deliveries");
    sqlite3_bind_int64(st, 1, run_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bool oom;
        ferry_delivery_attempt *a =
            ferry_store_attempt_add(d, n, (const char *)sqlite3_column_text(st, 0), &oom);
        if (oom) {
            sqlite3_finalize(st);
            return ferry_err_set(err, FERRY_ENOMEM, "reading the deliveries");
        }
        if (a == NULL)
            continue;
        a->n = sqlite3_column_int(st, 1);
        a->at_ms = ferry_sqlite_col_time(st, 2);
        a->status = sqlite3_column_int(st, 3);
        a->error = ferry_sqlite_col_strdup(st, 4);
        a->duration_ms = sqlite3_column_int64(st, 5);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "reading the deliveries");
    return FERRY_OK;
}

static ferry_rc st_delivery_list(ferry_store *base, int64_t run_id, ferry_delivery **ret,
                                 size_t *ret_n, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    ferry_delivery *d = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    ferry_rc frc;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT " DELIVERY_COLUMNS " FROM ferry_deliveries WHERE run_id = ?1"
                           " ORDER BY endpoint, kind DESC, seq LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "reading the deliveries");
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, LIST_MAX);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            ferry_delivery *more = realloc(d, (cap = cap ? cap * 2 : 8) * sizeof(*d));
            if (more == NULL) {
                sqlite3_finalize(st);
                ferry_deliveries_free(d, n);
                return ferry_err_set(err, FERRY_ENOMEM, "reading the deliveries");
            }
            d = more;
        }
        delivery_from_row(st, 0, &d[n++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_deliveries_free(d, n);
        return ferry_sqlite_db_error(s->db, err, "reading the deliveries");
    }
    if ((frc = list_attempts(s, run_id, d, n, err)) != FERRY_OK) {
        ferry_deliveries_free(d, n);
        return frc;
    }
    *ret = d;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc st_delivery_load(ferry_store *base, const char *id, ferry_delivery *ret,
                                 ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT " DELIVERY_COLUMNS " FROM ferry_deliveries WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "reading the delivery");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        delivery_from_row(st, 0, ret);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no delivery %s", id);
    if (rc != SQLITE_ROW)
        return ferry_sqlite_db_error(s->db, err, "reading the delivery");
    return FERRY_OK;
}

static ferry_rc st_delivery_redeliver(ferry_store *base, const char *id, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    int64_t now = ferry_time_now_ms();
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "UPDATE ferry_deliveries SET status = 'pending', next_attempt_at = ?2,"
                           " give_up_at = ?3, lease_owner = NULL, lease_until = NULL"
                           " WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "redelivering");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    ferry_sqlite_bind_time(st, 2, now);
    ferry_sqlite_bind_time(st, 3, now + FERRY_DELIVERY_TRY_MS);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "redelivering");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no delivery %s", id);
    return FERRY_OK;
}

static ferry_rc st_delivery_summary(ferry_store *base, const int64_t *run_ids, size_t n,
                                    ferry_delivery_summary *ret, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    ferry_buf ids;
    sqlite3_stmt *st;
    ferry_rc frc;
    int rc;

    memset(ret, 0, n * sizeof(*ret));
    if (n == 0)
        return FERRY_OK;
    if ((frc = ferry_store_id_array(run_ids, n, '[', ']', &ids, err)) != FERRY_OK)
        return frc;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT run_id, status, count(*) FROM ferry_deliveries WHERE run_id IN"
                           " (SELECT value FROM json_each(?1)) GROUP BY run_id, status",
                           -1, &st, NULL) != SQLITE_OK) {
        ferry_buf_done(&ids);
        return ferry_sqlite_db_error(s->db, err, "reading the deliveries");
    }
    sqlite3_bind_text(st, 1, ferry_buf_str(&ids), -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ferry_store_summary_add(run_ids, n, ret, sqlite3_column_int64(st, 0),
                                (const char *)sqlite3_column_text(st, 1),
                                sqlite3_column_int64(st, 2));
    sqlite3_finalize(st);
    ferry_buf_done(&ids);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "reading the deliveries");
    return FERRY_OK;
}

static ferry_rc st_delivery_pending(ferry_store *base, int64_t *ret_n, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int64_t n;

    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM ferry_deliveries WHERE status = 'pending'",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "counting pending deliveries");
    if (sqlite3_step(st) != SQLITE_ROW) {
        ferry_rc rc = ferry_sqlite_db_error(s->db, err, "counting pending deliveries");
        sqlite3_finalize(st);
        return rc;
    }
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    *ret_n = n;
    return FERRY_OK;
}

const ferry_store_outbox_ops ferry_sqlite_outbox_ops = {
    .delivery_claim = st_delivery_claim,
    .delivery_record = st_delivery_record,
    .delivery_list = st_delivery_list,
    .delivery_load = st_delivery_load,
    .delivery_redeliver = st_delivery_redeliver,
    .delivery_summary = st_delivery_summary,
    .delivery_pending = st_delivery_pending,
};
