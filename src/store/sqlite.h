/* sqlite.h - what the SQLite store's files share (not for use outside src/store).
 *
 * The store object holds the one connection and the statements prepared once on it;
 * sqlite_conn.c opens, migrates and closes it and holds the helpers that bind and read
 * values, which sqlite_runs.c, sqlite_people.c and sqlite_cluster.c (one interface of store.h
 * each) all use. */
#ifndef FERRY_STORE_SQLITE_H
#define FERRY_STORE_SQLITE_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/store.h"

/* How long a statement waits for another connection's write lock. */
#define BUSY_TIMEOUT_MS 10000

typedef struct {
    ferry_store base;
    sqlite3 *db;
    sqlite3_stmt *change_insert;      /* one row */
    sqlite3_stmt *change_insert_many; /* CHANGE_ROWS rows */
    sqlite3_stmt *run_select;         /* one run by id */
    sqlite3_stmt *token_select;       /* a token and its user, by hash (every API request) */
    sqlite3_stmt *session_select;     /* a session and its user, by hash (every page request) */
    int64_t fires_purged_ms;          /* when schedule_claim last deleted old firings */
} ferry_sqlite_store;

ferry_rc ferry_sqlite_db_error(sqlite3 *db, ferry_err *err, const char *what);

void ferry_sqlite_bind_text_or_null(sqlite3_stmt *st, int i, const char *s);

void ferry_sqlite_bind_time(sqlite3_stmt *st, int i, int64_t ms);

char *ferry_sqlite_col_strdup(sqlite3_stmt *st, int i);

int64_t ferry_sqlite_col_time(sqlite3_stmt *st, int i);

/* Writes a run's end (run_finish's UPDATE, a queued run's cancel) on s; arg is the writer's. */
typedef ferry_rc (*ferry_sqlite_end_write)(ferry_sqlite_store *s, const ferry_run *run, void *arg,
                                           ferry_err *err);

/* Calls write for run, whose final status is set, and enqueues the deliveries the store's
 * planner owes it in the same transaction (a savepoint: nested in the run's transaction when
 * one is open, else its own): both are written, or neither. */
ferry_rc ferry_sqlite_finish_with_deliveries(ferry_sqlite_store *s, const ferry_run *run,
                                             ferry_sqlite_end_write write, void *arg,
                                             ferry_err *err);

/* Inserts the deliveries plan[0..n) of run (inside the caller's transaction). */
ferry_rc ferry_sqlite_outbox_enqueue(ferry_sqlite_store *s, const ferry_run *run,
                                     const ferry_delivery_plan *plan, size_t n, ferry_err *err);

/* The cluster interface's schema_version (sqlite_conn.c, which knows the version). */
ferry_rc ferry_sqlite_schema_version(ferry_store *base, int *ret_have, int *ret_want,
                                     ferry_err *err);

/* The interfaces (sqlite_runs.c, sqlite_people.c, sqlite_cluster.c, sqlite_outbox.c). */
extern const ferry_store_runs_ops ferry_sqlite_runs_ops;
extern const ferry_store_people_ops ferry_sqlite_people_ops;
extern const ferry_store_cluster_ops ferry_sqlite_cluster_ops;
extern const ferry_store_outbox_ops ferry_sqlite_outbox_ops;
extern const ferry_store_prune_ops ferry_sqlite_prune_ops; /* sqlite_prune.c */

#endif
