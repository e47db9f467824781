/* rows.h - one row of a sync's table at a time, by key: what a revert (sync/revert.h) reads
 * and writes.
 *
 * A row is a JSON object {"column": "text" or null, ...}, the form of a deleted row's
 * row_values (target.h): every value as text, NULL as null. Reads give every column; writes
 * name the columns they set. The table is the sync's, in the store's database, on the store's
 * connection (its transaction is the revert's: begin, the writes, the change rows and the
 * run's record through the store, then commit). PostgreSQL takes the text values as untyped
 * parameters, so each is read as its column's type; SQLite stores them with the column's
 * affinity, and a BOOLEAN column's "true"/"false" as 1/0.
 *
 * Belongs to the thread that holds the store. */
#ifndef FERRY_TARGET_ROWS_H
#define FERRY_TARGET_ROWS_H

#include <jansson.h>

#include "config/config.h"
#include "store/store.h"
#include "util/err.h"

typedef struct ferry_target_rows ferry_target_rows;

/* Rows of sync's table in st's database (both borrowed; they must outlive it). FERRY_EINVAL
 * when the table lives in a database of its own (target.database). *ret owned by the caller
 * (ferry_target_rows_free()). */
ferry_rc ferry_target_rows_new(ferry_store *st, const ferry_sync_spec *sync,
                               ferry_target_rows **ret, ferry_err *err);
void ferry_target_rows_free(ferry_target_rows *r);

/* The store connection's transaction: begin (a write transaction), commit, rollback. */
ferry_rc ferry_target_rows_begin(ferry_target_rows *r, ferry_err *err);
ferry_rc ferry_target_rows_commit(ferry_target_rows *r, ferry_err *err);
void ferry_target_rows_rollback(ferry_target_rows *r);

/* The key columns' values of a record whose key text (as a run reports it, the change row's
 * record_key: the value alone, or "k1=v1, k2=v2") is text, with the tenant's and scope
 * columns' own values, as a JSON object; *ret owned by the caller (json_decref()).
 * FERRY_EINVAL when text does not read as one of sync's keys. Pure. */
ferry_rc ferry_target_rows_key_parse(const ferry_sync_spec *sync, const char *tenant,
                                     const char *text, json_t **ret, ferry_err *err);

/* The row with key (borrowed), every column; *ret NULL when there is none, else owned by the
 * caller (json_decref()). */
ferry_rc ferry_target_rows_get(ferry_target_rows *r, const json_t *key, json_t **ret,
                               ferry_err *err);
/* Deletes the row with key; *ret_n how many it deleted (0 or 1). */
ferry_rc ferry_target_rows_delete(ferry_target_rows *r, const json_t *key, int64_t *ret_n,
                                  ferry_err *err);
/* Sets the columns of set (borrowed) on the row with key. */
ferry_rc ferry_target_rows_update(ferry_target_rows *r, const json_t *key, const json_t *set,
                                  ferry_err *err);
/* Inserts a row of values (borrowed). */
ferry_rc ferry_target_rows_insert(ferry_target_rows *r, const json_t *values, ferry_err *err);

/* Whether a and b (NULL for NULL) are the same value of column (value.h's comparison form
 * for its declared type: 92 and 92.00, JSON with its keys in another order); plain text
 * equality for a column of text or one the table does not have. */
bool ferry_target_rows_same(ferry_target_rows *r, const char *column, const char *a, const char *b);

/* The time to write into the timestamp columns of a row a revert changes, in the form the
 * store's backend writes it. */
void ferry_target_rows_now(const ferry_target_rows *r, char *out, size_t outlen);

#endif
