/* pg.h - what the PostgreSQL store's files share (not for use outside src/store).
 *
 * The store object holds the one connection; pg_conn.c connects, migrates and closes it and
 * holds the helpers every statement goes through (parameters as text, the reset-and-retry
 * of a broken connection, messages without the password), which pg_runs.c, pg_people.c and
 * pg_cluster.c (one interface of store.h each) all use. */
#ifndef FERRY_STORE_PG_H
#define FERRY_STORE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/timeutil.h"

/* A database time as epoch milliseconds (NULL stays NULL). */
#define MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

/* The database's clock, to the millisecond. */
#define CLOCK "date_trunc('milliseconds', clock_timestamp())"

typedef struct {
    ferry_store base;
    PGconn *conn;
    char where[512];         /* the URL without user, password or query, for messages */
    int64_t fires_purged_ms; /* when schedule_claim last deleted old firings */
} ferry_pg_store;

/* Parameters of one statement, as text (NULL is SQL NULL). */
#define MAX_PARAMS 32

typedef struct {
    int n;
    const char *v[MAX_PARAMS];
    char num[MAX_PARAMS][FERRY_ISO_TIME_MAX];
} ferry_pg_params;

/* Whether a failed call may reconnect and try again (see the top comment). */
typedef enum { FERRY_PG_NO_RESET = 0, FERRY_PG_MAY_RESET } ferry_pg_reset_policy;

void ferry_pg_param_text(ferry_pg_params *p, const char *s);

void ferry_pg_param_int(ferry_pg_params *p, int64_t x);

/* A time in ms as ISO 8601 text, or NULL when ms <= 0 (not yet). */
void ferry_pg_param_time(ferry_pg_params *p, int64_t ms);

/* err = "database: what: the server's reason" (FERRY_EDB). res may be NULL. */
ferry_rc ferry_pg_db_error(ferry_pg_store *s, const PGresult *res, const char *what,
                           ferry_err *err);

/* Runs sql with p's parameters (p may be NULL). Returns the result (the caller PQclear()s
 * it), or NULL with err set. With FERRY_PG_MAY_RESET, a connection found broken is reset once, and
 * a statement that failed because the connection broke, outside a transaction, is tried once more.
 */
PGresult *ferry_pg_run_sql(ferry_pg_store *s, ferry_pg_reset_policy policy, const char *what,
                           const char *sql, const ferry_pg_params *p, ferry_err *err);

/* Runs sql and returns the number of rows it changed, or -1 with err set. */
int64_t ferry_pg_run_count(ferry_pg_store *s, ferry_pg_reset_policy policy, const char *what,
                           const char *sql, const ferry_pg_params *p, ferry_err *err);

char *ferry_pg_col_str(const PGresult *r, int row, int col);

int64_t ferry_pg_col_int(const PGresult *r, int row, int col);

bool ferry_pg_col_bool(const PGresult *r, int row, int col);

/* Begins a transaction when none is open. *ret_own says whether this call began it (and so
 * must end it). */
ferry_rc ferry_pg_tx_begin(ferry_pg_store *s, const char *what, bool *ret_own, ferry_err *err);

ferry_rc ferry_pg_tx_commit(ferry_pg_store *s, bool own, const char *what, ferry_err *err);

void ferry_pg_tx_rollback(ferry_pg_store *s, bool own);

/* Writes a run's end (run_finish's UPDATE, a queued run's cancel) on s; arg is the writer's. */
typedef ferry_rc (*ferry_pg_end_write)(ferry_pg_store *s, const ferry_run *run, void *arg,
                                       ferry_err *err);

/* Calls write for run, whose final status is set, and enqueues the deliveries (and sends the
 * pg_channel notifications) the store's planner owes it in the same transaction: the run's
 * own when one is open, else one begun here. */
ferry_rc ferry_pg_finish_with_deliveries(ferry_pg_store *s, const ferry_run *run,
                                         ferry_pg_end_write write, void *arg, ferry_err *err);

/* Inserts the deliveries plan[0..n) of run and sends its pg_channel notifications (inside the
 * caller's transaction). */
ferry_rc ferry_pg_outbox_enqueue(ferry_pg_store *s, const ferry_run *run,
                                 const ferry_delivery_plan *plan, size_t n, ferry_err *err);

/* The cluster interface's schema_version (pg_conn.c, which knows the version). */
ferry_rc ferry_pg_schema_version(ferry_store *base, int *ret_have, int *ret_want, ferry_err *err);

/* The interfaces (pg_runs.c, pg_people.c, pg_cluster.c, pg_outbox.c). */
extern const ferry_store_runs_ops ferry_pg_runs_ops;
extern const ferry_store_people_ops ferry_pg_people_ops;
extern const ferry_store_cluster_ops ferry_pg_cluster_ops;
extern const ferry_store_outbox_ops ferry_pg_outbox_ops;
extern const ferry_store_prune_ops ferry_pg_prune_ops; /* pg_prune.c */

#endif
