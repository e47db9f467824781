/* target.h - the target interface: where records land.
 *
 * A target upserts records by key inside one transaction and classifies each: created,
 * updated (with the changed fields, old -> new), unchanged, or failed (a duplicate key within
 * the run, or a constraint of the target table). At the end it applies the on_missing policy
 * to the rows the run did not see, then commits, or rolls back so the table is exactly as it
 * was. Implementations live one per file (sqlite_target.c, pg_target.c) behind ferry_target_ops.
 *
 * Outcomes may be deferred. A target that works set-wise (PostgreSQL: COPY into a staging
 * table, then a few statements per batch) cannot know a record's outcome when apply() sees it:
 * apply() answers "pending", and drain() later delivers the outcome of every pending record,
 * in apply order, through a callback. apply() says when its batch is full (res->drain); the
 * caller may also drain whenever it likes (before finish() it must). A target that answers at
 * once (SQLite) never answers pending and has no drain().
 *
 * The connection: apply() and keep() may leave it busy (a COPY in progress) while anything is
 * pending or staged. The caller must drain() before using the same connection for anything
 * else (the store's change rows, heartbeats); drain() leaves it idle, and calls its callback
 * only while it is idle, so the callback may write through the store.
 *
 * A target belongs to the thread running the run. */
#ifndef FERRY_TARGET_TARGET_H
#define FERRY_TARGET_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "target/record.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct {
    ferry_outcome outcome; /* CREATED, UPDATED, UNCHANGED or FAILED */
    const char *diff_json; /* UPDATED: {"field": ["old", "new"], ...}; borrowed until next */
    const char *diff_text; /* UPDATED: "email: 'a@x.io' -> 'b@x.io'"; borrowed until next */
    const char *reason;    /* FAILED: why, without the "row N: " prefix; borrowed */
    bool pending;          /* apply(): the outcome comes later, from drain(); the fields
                              above are unset */
    bool drain;            /* apply(): the target's batch is full: call drain() now */
    const char *key;       /* drain(): the record's key as the mapper wrote it (NULL for
                              UNCHANGED); borrowed until the callback returns */
    long row;              /* drain(): the record's source row (0 for UNCHANGED) */
} ferry_apply_result;

/* Receives one deferred outcome (res borrowed until it returns). Returning an error stops
 * drain(), which returns that error. */
typedef ferry_rc (*ferry_target_result_cb)(void *ctx, const ferry_apply_result *res,
                                           ferry_err *err);

/* Called for each row on_missing deletes or flags, before it does; key and row_values are
 * borrowed. row_values: the row's every column as it is, a JSON object {"column": "text" or
 * null, ...} in the table's column order (what a revert inserts again, or whose flag it
 * restores). Returning an error stops the pass and fails the run. */
typedef ferry_rc (*ferry_target_missing_cb)(void *ctx, const char *key, const char *row_values,
                                            ferry_err *err);

/* The largest row_values a target passes (a row whose values are longer fails the run). */
#define FERRY_TARGET_ROW_VALUES_MAX (16 * 1024 * 1024)

/* Called once by finish() when rows are missing, before any of them is deleted, flagged or
 * reported: missing rows out of in_scope, the rows the on_missing scan covers (the run's
 * tenant's, not flagged as missing when the run began; those the run created included).
 * Returning an error stops finish(), which returns that error having changed nothing more. */
typedef ferry_rc (*ferry_target_missing_check_cb)(void *ctx, int64_t missing, int64_t in_scope,
                                                  ferry_err *err);

/* Receives one row of a look-up's table (lookup_rows()): its match columns' values and its
 * value column's, as text (NULL for SQL NULL), all borrowed until it returns. */
typedef ferry_rc (*ferry_target_row_cb)(void *ctx, const char *const *match,
                                        const size_t *match_len, const char *value,
                                        size_t value_len, ferry_err *err);

typedef struct ferry_target ferry_target;

typedef struct {
    /* Begins the transaction; creates the table when it does not exist, else checks it
     * matches the fields. */
    ferry_rc (*begin)(ferry_target *t, ferry_err *err);
    /* Upserts one mapped record (rec borrowed for the call only: a target that defers copies
     * what it needs). Record-level problems are results, not errors. The result is either
     * final or pending (res->pending). */
    ferry_rc (*apply)(ferry_target *t, const ferry_mapped_record *rec, ferry_apply_result *res,
                      ferry_err *err);
    /* Marks the row with rec's key (if any) as seen without changing it, so on_missing leaves
     * it alone (used for records that failed validation but whose key is known). It takes
     * effect in order with apply(): a later record with that key is a duplicate. */
    ferry_rc (*keep)(ferry_target *t, const ferry_mapped_record *rec, ferry_err *err);
    /* Settles everything applied and kept so far and calls cb once per pending apply, in
     * apply order, with its outcome (and key and row). Leaves the connection idle. NULL for a
     * target that never answers pending. */
    ferry_rc (*drain)(ferry_target *t, ferry_target_result_cb cb, void *ctx, ferry_err *err);
    /* Applies on_missing to every row not seen in this run: first calls check (may be NULL)
     * with their count, then cb for each in key order. Called after drain(). */
    ferry_rc (*finish)(ferry_target *t, ferry_target_missing_check_cb check,
                       ferry_target_missing_cb cb, void *ctx, ferry_err *err);
    /* Reads a look-up's table (sync/lookup.h) in the run's transaction, so rows written
     * earlier in it are seen: calls cb for each row whose scope columns hold scope_values
     * (one per lk->scope entry), in no particular order. Only while nothing is pending.
     * FERRY_ESCHEMA when the table or a column does not exist. With cb NULL, only checks
     * that they do (reads no row). */
    ferry_rc (*lookup_rows)(ferry_target *t, const ferry_lookup_spec *lk,
                            const char *const *scope_values, ferry_target_row_cb cb, void *ctx,
                            ferry_err *err);
    /* The run is done with this target but not with its transaction: a later step's target
     * begins on the same connection. Settles what is still on the connection and drops the
     * target's own work tables, keeping its writes. Called after finish() (or the last
     * drain()); only commit() or rollback() may follow. */
    ferry_rc (*release)(ferry_target *t, ferry_err *err);
    /* Commits the transaction; a joined target only lets go of its statements. */
    ferry_rc (*commit)(ferry_target *t, ferry_err *err);
    /* Rolls the transaction back (a joined target: leaves the connection clean for its
     * owner's rollback). */
    void (*rollback)(ferry_target *t);
    void (*free)(ferry_target *t);
} ferry_target_ops;

struct ferry_target {
    const ferry_target_ops *ops;
    /* Set by the caller before begin(): the connection's transaction is already open, begun
     * by the target of an earlier step of the same run (released by then), which commits or
     * rolls it back. begin() then joins it, and commit() and rollback() leave it open. */
    bool joined;
};

/* A SQLite target on db (borrowed: the store's connection, so change rows written through
 * the store commit in the same transaction). tenant (copied; NULL without tenants): the run's
 * tenant, whose rows alone on_missing may touch. */
ferry_rc ferry_sqlite_target_new(struct sqlite3 *db, const ferry_sync_spec *sync,
                                 const char *tenant, ferry_target **ret_target, ferry_err *err);

/* A PostgreSQL target on conn (borrowed: the store's connection, as for SQLite; autocommit
 * when begin() is called). Its outcomes are deferred (drain()); tenant as for SQLite. */
ferry_rc ferry_pg_target_new(struct pg_conn *conn, const ferry_sync_spec *sync, const char *tenant,
                             ferry_target **ret_target, ferry_err *err);

/* A target in a database of its own (a sync's target.database: "sqlite:PATH", relative to
 * base_dir, or a postgres:// URL), on a connection it opens and closes when freed. Its
 * transaction is separate from the store's: ferry_sync_run() commits it first, then the
 * run's record. */
ferry_rc ferry_target_open(const char *database, const char *base_dir, const ferry_sync_spec *sync,
                           const char *tenant, ferry_target **ret_target, ferry_err *err);

/* A target for sync's table in the store's own database, on the store's connection (borrowed
 * through ferry_sqlite_store_db() or ferry_pg_store_conn()), so the change rows and the final
 * run record commit in the target's transaction; tenant as for ferry_sqlite_target_new().
 * Owned by the caller (ferry_target_free()); the store must outlive it. */
ferry_rc ferry_target_new_for_store(ferry_store *st, const ferry_sync_spec *sync,
                                    const char *tenant, ferry_target **ret_target, ferry_err *err);

/* The rows a sync's table holds for one tenant (a GET /api/syncs answer's tenant_rows). */
typedef struct {
    char *tenant;
    int64_t rows;
} ferry_tenant_count;

void ferry_tenant_counts_free(ferry_tenant_count *counts, size_t n);

/* Counts the rows of sync's table per tenant (its tenant column) in one grouped query on the
 * store's connection, in tenant order, at most max tenants. A sync without tenants, a table
 * in a database of its own (target.database) or a table not created yet: none (FERRY_OK,
 * *ret_n 0). On success *ret is owned by the caller (ferry_tenant_counts_free()). Runs outside
 * any transaction; the store's thread. */
ferry_rc ferry_target_tenant_counts(ferry_store *st, const ferry_sync_spec *sync, size_t max,
                                    ferry_tenant_count **ret, size_t *ret_n, ferry_err *err);

void ferry_target_free(ferry_target *t);

/* The statement lookup_rows() runs: SELECT the match columns and the value column FROM the
 * table WHERE each scope column = a parameter (?N, or $N when dollar), into out (reset);
 * probe adds LIMIT 0. */
ferry_rc ferry_target_lookup_sql(const ferry_lookup_spec *lk, bool dollar, bool probe,
                                 ferry_buf *out);

/* Checks, for a target's check function, that the table and columns of each of sync's
 * look-ups exist (lookup_rows() with no callback): FERRY_ESCHEMA naming the config's line and
 * key when one does not. */
ferry_rc ferry_target_probe_lookups(ferry_target *t, const ferry_sync_spec *sync, ferry_err *err);

/* Checks sync's existing table in db (borrowed) as a run's begin() would, changing nothing
 * (a table that does not exist yet passes: the first run creates it); FERRY_ESCHEMA with
 * the fix when it would refuse. With migrate, instead adds the columns the table lacks (the
 * fields', the timestamps') when Ferry created it, appending the statements it ran to done
 * (each followed by ';'), or fails with FERRY_ESCHEMA naming them when Ferry did not. */
ferry_rc ferry_sqlite_target_check(struct sqlite3 *db, const ferry_sync_spec *sync, bool migrate,
                                   ferry_buf *done, ferry_err *err);
ferry_rc ferry_pg_target_check(struct pg_conn *conn, const ferry_sync_spec *sync, bool migrate,
                               ferry_buf *done, ferry_err *err);

/* The same on the database sync's table lives in: database (a URL: sync->target.database, or
 * the config's database:), relative to base_dir, on a connection of its own. A SQLite file
 * that does not exist has no tables: nothing is created. */
ferry_rc ferry_target_check(const char *database, const char *base_dir, const ferry_sync_spec *sync,
                            bool migrate, ferry_buf *done, ferry_err *err);

#endif
