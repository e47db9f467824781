/* sqlite_prune.c - the SQLite store's prune primitives (store.h, ferry_store_prune_ops): the
 * statements store/prune.c writes, and checkpoints of the write-ahead log.
 *
 * prune.c writes its placeholders as $1, $2...; here they become ?1, ?2... (SQLite's
 * numbered parameters). Times are bound as the store keeps them, ISO 8601 text. Its BEGIN
 * is BEGIN IMMEDIATE: the batch takes the write lock first, so it never fails part way
 * because another writer came between its read and its write. A database still busy after
 * the busy timeout (a long run holds the write lock for its whole transaction) is
 * FERRY_ECONFLICT, which the pruner takes as "later".
 *
 * The WAL grows while a long run writes (every page it changes, until a checkpoint copies
 * them back), and SQLite's automatic checkpoints never shrink the file. A checkpoint here
 * copies what it can without waiting (PASSIVE), then truncates the file (TRUNCATE) waiting
 * at most CHECKPOINT_WAIT_MS for readers and the writer: on a busy database it gives up, and
 * the next run's end tries again. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store/sqlite.h"
#include "store/store.h"

/* How long a TRUNCATE checkpoint may wait for others (and so hold up a writer). */
#define CHECKPOINT_WAIT_MS 1000

/* The failure of the last call on db: FERRY_ECONFLICT when it was busy, else FERRY_EDB. */
static ferry_rc failed(sqlite3 *db, ferry_err *err)
{
    int code = sqlite3_errcode(db);

    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        return ferry_err_set(err, FERRY_ECONFLICT, "the database is busy (%s)", sqlite3_errmsg(db));
    return ferry_sqlite_db_error(db, err, "the statement failed");
}

static ferry_rc prepare(sqlite3 *db, const char *sql, const ferry_prune_param *p, int np,
                        sqlite3_stmt **ret, ferry_err *err)
{
    char text[4096];
    size_t len;

    if (strcmp(sql, "BEGIN") == 0)
        sql = "BEGIN IMMEDIATE";
    len = strlen(sql);
    if (len >= sizeof(text))
        return ferry_err_set(err, FERRY_EINVAL, "the statement is too long");
    memcpy(text, sql, len + 1);
    for (char *c = text; *c != '\0'; c++)
        if (*c == '$')
            *c = '?';
    if (sqlite3_prepare_v2(db, text, -1, ret, NULL) != SQLITE_OK)
        return failed(db, err);
    for (int i = 0; i < np; i++) {
        if (p[i].time)
            ferry_sqlite_bind_time(*ret, i + 1, p[i].v);
        else
            sqlite3_bind_int64(*ret, i + 1, p[i].v);
    }
    return FERRY_OK;
}

static ferry_rc sq_exec(ferry_store *base, const char *sql, const ferry_prune_param *p, int np,
                        int64_t *ret_changed, ferry_err *err)
{
    sqlite3 *db = ferry_sqlite_store_db(base);
    sqlite3_stmt *st;
    ferry_rc rc = prepare(db, sql, p, np, &st, err);

    if (rc != FERRY_OK)
        return rc;
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = failed(db, err);
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    if (ret_changed != NULL)
        *ret_changed = sqlite3_changes64(db);
    return FERRY_OK;
}

static ferry_rc sq_select(ferry_store *base, const char *sql, const ferry_prune_param *p, int np,
                          int64_t *ret, int ncols, int max_rows, int *ret_rows, ferry_err *err)
{
    sqlite3 *db = ferry_sqlite_store_db(base);
    sqlite3_stmt *st;
    ferry_rc rc = prepare(db, sql, p, np, &st, err);
    int n = 0, step = SQLITE_DONE;

    if (rc != FERRY_OK)
        return rc;
    while (n < max_rows && (step = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < ncols; c++)
            ret[n * ncols + c] = sqlite3_column_int64(st, c);
        n++;
    }
    if (n < max_rows && step != SQLITE_DONE) {
        rc = failed(db, err);
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    *ret_rows = n;
    return FERRY_OK;
}

/* The size of the -wal file of db's main database, 0 when there is none. */
static long long wal_bytes(sqlite3 *db)
{
    const char *file = sqlite3_db_filename(db, "main");
    char path[4200];
    struct stat sb;

    if (file == NULL || file[0] == '\0')
        return 0;
    snprintf(path, sizeof(path), "%s-wal", file);
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static ferry_rc sq_checkpoint(ferry_store *base, bool force, bool *ret_done, ferry_err *err)
{
    sqlite3 *db = ferry_sqlite_store_db(base);
    int rc;

    (void)err;
    *ret_done = false;
    if (!sqlite3_get_autocommit(db))
        return FERRY_OK;
    if (!force && wal_bytes(db) <= FERRY_WAL_CHECKPOINT_BYTES)
        return FERRY_OK;
    sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    sqlite3_busy_timeout(db, CHECKPOINT_WAIT_MS);
    rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    *ret_done = rc == SQLITE_OK;
    return FERRY_OK;
}

const ferry_store_prune_ops ferry_sqlite_prune_ops = {
    .exec = sq_exec,
    .select = sq_select,
    .checkpoint = sq_checkpoint,
};
