/* pg_outbox.c - the outbox (store.h, ferry_store_outbox_ops) on PostgreSQL.
 *
 * The same tables and rules as sqlite_outbox.c. A run's deliveries are inserted in the
 * transaction that records its end (the run's own when it commits, else one begun here), and
 * a pg_channel endpoint is a pg_notify() in that transaction, which PostgreSQL sends only if
 * it commits. Claims take the due delivery with FOR UPDATE SKIP LOCKED and a lease (times by
 * the database's clock), so two nodes never send one delivery at once, and a node that died
 * mid-delivery gives it back when the lease ends. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "store/pg.h"
#include "store/store.h"

#define DELIVERY_COLUMNS                                                                           \
    "id, run_id, endpoint, kind, seq, from_seq, status, attempts, last_status, last_error, " MS(   \
        "created_at") ", " MS("next_attempt_at") ", " MS("delivered_at") ", " MS("give_up_at")

#define LIST_MAX "10000" /* deliveries of one run listed at most */

static void delivery_from_row(const PGresult *res, int row, ferry_delivery *d)
{
    memset(d, 0, sizeof(*d));
    d->id = ferry_pg_col_str(res, row, 0);
    d->run_id = ferry_pg_col_int(res, row, 1);
    d->endpoint = (int)ferry_pg_col_int(res, row, 2);
    d->kind = ferry_pg_col_str(res, row, 3);
    d->seq = ferry_pg_col_int(res, row, 4);
    d->from_seq = ferry_pg_col_int(res, row, 5);
    d->status = ferry_delivery_status_parse(PQgetvalue(res, row, 6));
    d->attempts = (int)ferry_pg_col_int(res, row, 7);
    d->last_status = (int)ferry_pg_col_int(res, row, 8);
    d->last_error = ferry_pg_col_str(res, row, 9);
    d->created_at_ms = ferry_pg_col_int(res, row, 10);
    d->next_attempt_at_ms = ferry_pg_col_int(res, row, 11);
    d->delivered_at_ms = ferry_pg_col_int(res, row, 12);
    d->give_up_at_ms = ferry_pg_col_int(res, row, 13);
}

static ferry_rc insert_delivery(ferry_pg_store *s, int64_t run_id, int endpoint, const char *kind,
                                int64_t seq, int64_t from_seq, ferry_err *err)
{
    char id[FERRY_DELIVERY_ID_SIZE];
    ferry_pg_params p = {0};

    ferry_store_delivery_id(id);
    ferry_pg_param_text(&p, id);
    ferry_pg_param_int(&p, run_id);
    ferry_pg_param_int(&p, endpoint);
    ferry_pg_param_text(&p, kind);
    ferry_pg_param_int(&p, seq);
    ferry_pg_param_int(&p, from_seq);
    ferry_pg_param_int(&p, FERRY_DELIVERY_TRY_MS);
    if (ferry_pg_run_count(
            s, FERRY_PG_NO_RESET, "enqueueing a delivery",
            "INSERT INTO ferry_deliveries (id, run_id, endpoint, kind, seq, from_seq,"
            " status, created_at, next_attempt_at, give_up_at) VALUES ($1, $2, $3,"
            " $4, $5, $6, 'pending', " CLOCK ", " CLOCK ", " CLOCK
            " + $7 * interval '1 millisecond') ON CONFLICT DO NOTHING",
            &p, err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

ferry_rc ferry_pg_outbox_enqueue(ferry_pg_store *s, const ferry_run *run,
                                 const ferry_delivery_plan *plan, size_t n, ferry_err *err)
{
    ferry_rc rc = FERRY_OK;

    for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
        if (strcmp(plan[i].kind, "pg_channel") == 0) {
            char payload[600];
            ferry_pg_params p = {0};
            PGresult *res;
            ferry_store_channel_payload(run, payload, sizeof(payload));
            ferry_pg_param_text(&p, plan[i].channel);
            ferry_pg_param_text(&p, payload);
            res = ferry_pg_run_sql(s, FERRY_PG_NO_RESET, "notifying the channel",
                                   "SELECT pg_notify($1, $2)", &p, err);
            if (res == NULL)
                rc = FERRY_EDB;
            PQclear(res);
        } else {
            rc = insert_delivery(s, run->id, plan[i].endpoint, plan[i].kind,
                                 strcmp(plan[i].kind, "records") == 0 ? 1 : 0, 0, err);
        }
    }
    return rc;
}

ferry_rc ferry_pg_finish_with_deliveries(ferry_pg_store *s, const ferry_run *run,
                                         ferry_pg_end_write write, void *arg, ferry_err *err)
{
    ferry_delivery_plan plan[FERRY_DELIVERY_PLAN_MAX];
    size_t n = ferry_store_plan(&s->base, run, plan);
    bool own = false;
    ferry_rc rc;

    if (n == 0)
        return write(s, run, arg, err);
    if ((rc = ferry_pg_tx_begin(s, "recording the run's result", &own, err)) != FERRY_OK)
        return rc;
    rc = write(s, run, arg, err);
    if (rc == FERRY_OK)
        rc = ferry_pg_outbox_enqueue(s, run, plan, n, err);
    if (rc == FERRY_OK)
        rc = ferry_pg_tx_commit(s, own, "recording the run's result", err);
    if (rc != FERRY_OK)
        ferry_pg_tx_rollback(s, own);
    return rc;
}

static ferry_rc pg_delivery_claim(ferry_store *base, int64_t lease_ms, ferry_delivery *ret,
                                  ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    char owner[300];
    ferry_pg_params p = {0};
    PGresult *res;
    ferry_rc rc = FERRY_DONE;

    ferry_node_self(owner, sizeof(owner));
    ferry_pg_param_text(&p, owner);
    ferry_pg_param_int(&p, lease_ms);
    res = ferry_pg_run_sql(
        s, FERRY_PG_MAY_RESET, "claiming a delivery",
        "UPDATE ferry_deliveries SET lease_owner = $1, lease_until = " CLOCK
        " + $2 * interval '1 millisecond' WHERE id = (SELECT id FROM ferry_deliveries"
        " WHERE status = 'pending' AND next_attempt_at <= " CLOCK " AND (lease_until IS NULL"
        " OR lease_until < " CLOCK ") ORDER BY next_attempt_at, created_at LIMIT 1"
        " FOR UPDATE SKIP LOCKED) RETURNING " DELIVERY_COLUMNS,
        &p, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 1) {
        delivery_from_row(res, 0, ret);
        rc = FERRY_OK;
    }
    PQclear(res);
    return rc;
}

static ferry_rc record_write(ferry_pg_store *s, const ferry_delivery *d,
                             const ferry_delivery_result *r, ferry_err *err)
{
    char owner[300];
    ferry_pg_params p = {0};
    int64_t n;

    ferry_node_self(owner, sizeof(owner));
    ferry_pg_param_text(&p, d->id);
    ferry_pg_param_text(&p, owner);
    ferry_pg_param_int(&p, r->status);
    ferry_pg_param_text(&p, r->error);
    ferry_pg_param_text(&p, ferry_delivery_status_name(r->next));
    ferry_pg_param_time(&p, r->next == FERRY_DELIVERY_PENDING ? r->next_at_ms : 0);
    ferry_pg_param_time(&p, r->next == FERRY_DELIVERY_DELIVERED ? r->at_ms : 0);
    ferry_pg_param_time(&p, r->at_ms);
    ferry_pg_param_int(&p, r->duration_ms);
    n = ferry_pg_run_count(
        s, FERRY_PG_NO_RESET, "recording a delivery",
        "WITH u AS (UPDATE ferry_deliveries SET attempts = attempts + 1, last_status = $3,"
        " last_error = $4, status = $5, next_attempt_at = $6, delivered_at = $7,"
        " lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2"
        " RETURNING id, attempts)"
        " INSERT INTO ferry_delivery_attempts (delivery_id, n, at, status, error, duration_ms)"
        " SELECT id, attempts, $8, $3, $4, $9 FROM u",
        &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND,
                             "delivery %s is not held by this process any more", d->id);
    if (r->next == FERRY_DELIVERY_DELIVERED && r->more)
        return insert_delivery(s, d->run_id, d->endpoint, d->kind, d->seq + 1, r->next_from_seq,
                               err);
    return FERRY_OK;
}

static ferry_rc pg_delivery_record(ferry_store *base, const ferry_delivery *d,
                                   const ferry_delivery_result *r, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    bool own = false;
    ferry_rc rc;

    if ((rc = ferry_pg_tx_begin(s, "recording a delivery", &own, err)) != FERRY_OK)
        return rc;
    rc = record_write(s, d, r, err);
    if (rc == FERRY_OK)
        rc = ferry_pg_tx_commit(s, own, "recording a delivery", err);
    if (rc != FERRY_OK)
        ferry_pg_tx_rollback(s, own);
    return rc;
}

static ferry_rc pg_delivery_list(ferry_store *base, int64_t run_id, ferry_delivery **ret,
                                 size_t *ret_n, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_delivery *d = NULL;
    ferry_pg_params p = {0};
    PGresult *res;
    size_t n;

    ferry_pg_param_int(&p, run_id);
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "reading the deliveries",
                           "SELECT " DELIVERY_COLUMNS " FROM ferry_deliveries WHERE run_id = $1"
                           " ORDER BY endpoint, kind DESC, seq LIMIT " LIST_MAX,
                           &p, err);
    if (res == NULL)
        return FERRY_EDB;
    n = (size_t)PQntuples(res);
    if (n > 0 && (d = calloc(n, sizeof(*d))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "reading the deliveries");
    }
    for (size_t i = 0; i < n; i++)
        delivery_from_row(res, (int)i, &d[i]);
    PQclear(res);
    res = ferry_pg_run_sql(
        s, FERRY_PG_MAY_RESET, "reading the deliveries",
        "SELECT a.delivery_id, a.n, " MS(
            "a.at") ", a.status, a.error,"
                    " a.duration_ms FROM ferry_delivery_attempts a JOIN ferry_deliveries d"
                    " ON d.id = a.delivery_id WHERE d.run_id = $1"
                    " ORDER BY a.delivery_id, a.n",
        &p, err);
    if (res == NULL) {
        ferry_deliveries_free(d, n);
        return FERRY_EDB;
    }
    for (int row = 0; row < PQntuples(res); row++) {
        bool oom;
        ferry_delivery_attempt *a = ferry_store_attempt_add(d, n, PQgetvalue(res, row, 0), &oom);
        if (oom) {
            PQclear(res);
            ferry_deliveries_free(d, n);
            return ferry_err_set(err, FERRY_ENOMEM, "reading the deliveries");
        }
        if (a == NULL)
            continue;
        a->n = (int)ferry_pg_col_int(res, row, 1);
        a->at_ms = ferry_pg_col_int(res, row, 2);
        a->status = (int)ferry_pg_col_int(res, row, 3);
        a->error = ferry_pg_col_str(res, row, 4);
        a->duration_ms = ferry_pg_col_int(res, row, 5);
    }
    PQclear(res);
    *ret = d;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc pg_delivery_load(ferry_store *base, const char *id, ferry_delivery *ret,
                                 ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_pg_params p = {0};
    PGresult *res;

    ferry_pg_param_text(&p, id);
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "reading the delivery",
                           "SELECT " DELIVERY_COLUMNS " FROM ferry_deliveries WHERE id = $1", &p,
                           err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no delivery %s", id);
    }
    delivery_from_row(res, 0, ret);
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc pg_delivery_redeliver(ferry_store *base, const char *id, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_pg_params p = {0};
    int64_t n;

    ferry_pg_param_text(&p, id);
    ferry_pg_param_int(&p, FERRY_DELIVERY_TRY_MS);
    n = ferry_pg_run_count(
        s, FERRY_PG_MAY_RESET, "redelivering",
        "UPDATE ferry_deliveries SET status = 'pending', next_attempt_at = " CLOCK
        ", give_up_at = " CLOCK " + $2 * interval '1 millisecond',"
        " lease_owner = NULL, lease_until = NULL WHERE id = $1",
        &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no delivery %s", id);
    return FERRY_OK;
}

static ferry_rc pg_delivery_summary(ferry_store *base, const int64_t *run_ids, size_t n,
                                    ferry_delivery_summary *ret, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_pg_params p = {0};
    PGresult *res;
    ferry_buf ids;
    ferry_rc rc;

    memset(ret, 0, n * sizeof(*ret));
    if (n == 0)
        return FERRY_OK;
    if ((rc = ferry_store_id_array(run_ids, n, '{', '}', &ids, err)) != FERRY_OK)
        return rc;
    ferry_pg_param_text(&p, ferry_buf_str(&ids));
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "reading the deliveries",
                           "SELECT run_id, status, count(*) FROM ferry_deliveries"
                           " WHERE run_id = ANY($1::bigint[]) GROUP BY run_id, status",
                           &p, err);
    ferry_buf_done(&ids);
    if (res == NULL)
        return FERRY_EDB;
    for (int row = 0; row < PQntuples(res); row++)
        ferry_store_summary_add(run_ids, n, ret, ferry_pg_col_int(res, row, 0),
                                PQgetvalue(res, row, 1), ferry_pg_col_int(res, row, 2));
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc pg_delivery_pending(ferry_store *base, int64_t *ret_n, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    PGresult *res;

    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "counting pending deliveries",
                           "SELECT count(*) FROM ferry_deliveries WHERE status = 'pending'", NULL,
                           err);
    if (res == NULL)
        return FERRY_EDB;
    *ret_n = ferry_pg_col_int(res, 0, 0);
    PQclear(res);
    return FERRY_OK;
}

const ferry_store_outbox_ops ferry_pg_outbox_ops = {
    .delivery_claim = pg_delivery_claim,
    .delivery_record = pg_delivery_record,
    .delivery_list = pg_delivery_list,
    .delivery_load = pg_delivery_load,
    .delivery_redeliver = pg_delivery_redeliver,
    .delivery_summary = pg_delivery_summary,
    .delivery_pending = pg_delivery_pending,
};
