/* sqlite_conn.c - the store on SQLite (see store.h): its connection, its schema, and what
 * sqlite_runs.c, sqlite_people.c and sqlite_cluster.c share (store/sqlite.h).
 *
 * One connection, opened in WAL mode with a busy timeout, so readers (ferry runs, the API)
 * never block a run and a run waits, rather than fails, while another writer commits. The
 * schema is versioned with PRAGMA user_version and migrated forward on open, inside one
 * transaction. Change rows are keyed (run_id, seq) in a WITHOUT ROWID table: a run's changes
 * are one contiguous range, written in order, so inserting them is an append.
 *
 * Users, API tokens and login sessions live here too. Tokens and sessions are stored only as
 * the SHA-256 of the secret, and those hashes never appear in an error message. Checking a
 * token or a session is a read; recording its use is a write at most once a minute, and one
 * that does not wait: a run holds the write lock of a shared database for its whole
 * transaction, and a request must not stall (or fail) over bookkeeping. Changing a password
 * or disabling a user deletes the user's sessions in the same transaction.
 *
 * Times are stored as ISO 8601 UTC text with milliseconds, which sorts and reads well (and
 * compares correctly as text, which the session and token queries rely on). */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite.h"
#include "store/store.h"
#include "util/timeutil.h"

#define SCHEMA_VERSION 17

static const char *const schema_v1 =
    "CREATE TABLE IF NOT EXISTS ferry_runs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  sync TEXT NOT NULL,"
    "  tenant TEXT,"
    "  trigger TEXT NOT NULL,"
    "  user_name TEXT,"
    "  status TEXT NOT NULL,"
    "  phase TEXT NOT NULL,"
    "  percent INTEGER NOT NULL DEFAULT 0,"
    "  processed INTEGER NOT NULL DEFAULT 0,"
    "  total INTEGER,"
    "  created INTEGER NOT NULL DEFAULT 0,"
    "  updated INTEGER NOT NULL DEFAULT 0,"
    "  unchanged INTEGER NOT NULL DEFAULT 0,"
    "  skipped INTEGER NOT NULL DEFAULT 0,"
    "  failed INTEGER NOT NULL DEFAULT 0,"
    "  deleted INTEGER NOT NULL DEFAULT 0,"
    "  ui_message TEXT,"
    "  log_message TEXT,"
    "  error TEXT,"
    "  error_code TEXT,"
    "  dry_run INTEGER NOT NULL DEFAULT 0,"
    "  queued_at TEXT NOT NULL,"
    "  started_at TEXT,"
    "  finished_at TEXT,"
    "  heartbeat_at TEXT,"
    "  duration_ms INTEGER,"
    "  lease_owner TEXT,"
    "  attempt INTEGER NOT NULL DEFAULT 1,"
    "  cancel_requested INTEGER NOT NULL DEFAULT 0,"
    "  cancelled_by TEXT"
    ");"
    "CREATE UNIQUE INDEX IF NOT EXISTS ferry_runs_one_active"
    "  ON ferry_runs (sync, ifnull(tenant, '')) WHERE status IN ('queued', 'running');"
    "CREATE INDEX IF NOT EXISTS ferry_runs_by_sync ON ferry_runs (sync, id);"
    "CREATE TABLE IF NOT EXISTS ferry_changes ("
    "  run_id INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  record_key TEXT,"
    "  outcome TEXT NOT NULL,"
    "  row INTEGER,"
    "  reason TEXT,"
    "  diff TEXT,"
    "  PRIMARY KEY (run_id, seq)"
    ") WITHOUT ROWID;";

/* Version 2: users (the users issue); sessions and tokens follow in later versions. */
static const char *const schema_v2 =
    "CREATE TABLE IF NOT EXISTS ferry_users ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),"
    "  password_hash TEXT NOT NULL,"
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  created_at TEXT NOT NULL,"
    "  password_changed_at TEXT NOT NULL"
    ");";

/* Version 3: API tokens, stored as SHA-256 of the token (tokens are 256 random bits, so a
 * fast hash is enough; the token itself is shown once and never stored). */
static const char *const schema_v3 = "CREATE TABLE IF NOT EXISTS ferry_api_tokens ("
                                     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                     "  user_id INTEGER NOT NULL REFERENCES ferry_users (id),"
                                     "  label TEXT NOT NULL,"
                                     "  token_hash TEXT NOT NULL UNIQUE,"
                                     "  created_at TEXT NOT NULL,"
                                     "  last_used_at TEXT,"
                                     "  revoked_at TEXT"
                                     ");";

/* Version 4: login sessions (keyed by the SHA-256 of the session id, like tokens), the audit
 * log of administrative actions, and the label of the API token a run was started with. */
static const char *const schema_v4 =
    "ALTER TABLE ferry_runs ADD COLUMN token_label TEXT;"
    "CREATE TABLE IF NOT EXISTS ferry_sessions ("
    "  session_hash TEXT PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES ferry_users (id),"
    "  created_at TEXT NOT NULL,"
    "  last_seen_at TEXT NOT NULL"
    ");"
    "CREATE INDEX IF NOT EXISTS ferry_sessions_by_user ON ferry_sessions (user_id);"
    "CREATE TABLE IF NOT EXISTS ferry_audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at TEXT NOT NULL,"
    "  actor TEXT,"
    "  action TEXT NOT NULL,"
    "  target TEXT,"
    "  detail TEXT,"
    "  client TEXT"
    ");"
    "CREATE INDEX IF NOT EXISTS ferry_audit_by_actor ON ferry_audit (actor, id);";

/* Version 5: who asked to cancel a running run (whichever process executes it), the nodes
 * (Ferry processes serving this database) and the claimed firings of schedules. */
static const char *const schema_v5 = "ALTER TABLE ferry_runs ADD COLUMN cancel_requested_by TEXT;"
                                     "CREATE TABLE IF NOT EXISTS ferry_nodes ("
                                     "  id TEXT PRIMARY KEY,"
                                     "  address TEXT,"
                                     "  workers INTEGER NOT NULL DEFAULT 0,"
                                     "  started_at TEXT NOT NULL,"
                                     "  heartbeat_at TEXT NOT NULL"
                                     ");"
                                     "CREATE TABLE IF NOT EXISTS ferry_schedule_fires ("
                                     "  sync TEXT NOT NULL,"
                                     "  tenant TEXT NOT NULL,"
                                     "  due_ms INTEGER NOT NULL,"
                                     "  node TEXT,"
                                     "  claimed_at TEXT NOT NULL,"
                                     "  PRIMARY KEY (sync, tenant, due_ms)"
                                     ") WITHOUT ROWID;";

/* Version 6: a run started with --allow-missing (or "allow_missing": true) may delete or
 * flag more rows than the sync's guard allows. */
static const char *const schema_v6 =
    "ALTER TABLE ferry_runs ADD COLUMN allow_missing INTEGER NOT NULL DEFAULT 0;";

/* Version 7: the interrupted run a run is the next attempt of. */
static const char *const schema_v7 = "ALTER TABLE ferry_runs ADD COLUMN retry_of INTEGER;";

/* Version 8: the steps of a run of a sync with steps, and the step of each change. */
static const char *const schema_v8 = "ALTER TABLE ferry_runs ADD COLUMN steps TEXT;"
                                     "ALTER TABLE ferry_changes ADD COLUMN step TEXT;";

/* Version 9: the records labelled skip rules skipped, per label (a JSON object, NULL without
 * labels), and each change row's record name (a sync's label:). */
static const char *const schema_v9 = "ALTER TABLE ferry_runs ADD COLUMN skipped_by_label TEXT;"
                                     "ALTER TABLE ferry_changes ADD COLUMN label TEXT;";

/* Version 10: the outbox. A delivery a run's end owes an endpoint (webhook, records batch,
 * e-mail), and every attempt at it. No body, URL or secret is stored. */
static const char *const schema_v10 =
    "CREATE TABLE IF NOT EXISTS ferry_deliveries ("
    "  id TEXT PRIMARY KEY,"
    "  run_id INTEGER NOT NULL,"
    "  endpoint INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  seq INTEGER NOT NULL DEFAULT 0,"
    "  from_seq INTEGER NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  last_status INTEGER,"
    "  last_error TEXT,"
    "  created_at TEXT NOT NULL,"
    "  next_attempt_at TEXT,"
    "  delivered_at TEXT,"
    "  give_up_at TEXT NOT NULL,"
    "  lease_owner TEXT,"
    "  lease_until TEXT"
    ");"
    "CREATE UNIQUE INDEX IF NOT EXISTS ferry_deliveries_one ON ferry_deliveries (run_id, endpoint, "
    "kind, seq);"
    "CREATE INDEX IF NOT EXISTS ferry_deliveries_due ON ferry_deliveries (status, next_attempt_at);"
    "CREATE TABLE IF NOT EXISTS ferry_delivery_attempts ("
    "  delivery_id TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  at TEXT NOT NULL,"
    "  status INTEGER,"
    "  error TEXT,"
    "  duration_ms INTEGER,"
    "  PRIMARY KEY (delivery_id, n)"
    ") WITHOUT ROWID;";

/* Version 11: where a skipped or failed record can be fixed (a Google Sheet's cell). */
static const char *const schema_v11 = "ALTER TABLE ferry_changes ADD COLUMN link TEXT;";
/* Version 12: incremental syncs. A run asked to fetch everything (--full), what it was
 * (incremental or full) and the since value it sent; and the watermark of each sync, tenant
 * ('' for none) and step, written by its last successful run. */
static const char *const schema_v12 =
    "ALTER TABLE ferry_runs ADD COLUMN full_requested INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE ferry_runs ADD COLUMN run_mode TEXT;"
    "ALTER TABLE ferry_runs ADD COLUMN since TEXT;"
    "CREATE TABLE IF NOT EXISTS ferry_watermarks ("
    "  sync TEXT NOT NULL,"
    "  tenant TEXT NOT NULL DEFAULT '',"
    "  step INTEGER NOT NULL DEFAULT 0,"
    "  cursor_ms INTEGER NOT NULL,"
    "  full_at TEXT,"
    "  run_id INTEGER,"
    "  updated_at TEXT NOT NULL,"
    "  PRIMARY KEY (sync, tenant, step)"
    ") WITHOUT ROWID;";
/* Version 13: secrets Ferry keeps for itself (a rotated OAuth2 refresh token), encrypted
 * before they get here (util/sealed.h). */
static const char *const schema_v13 = "CREATE TABLE IF NOT EXISTS ferry_secrets ("
                                      "  name TEXT PRIMARY KEY,"
                                      "  sealed TEXT NOT NULL,"
                                      "  updated_at TEXT NOT NULL"
                                      ");";
/* Version 14: what a run read of its source (bytes, records) and its activity log (a JSON
 * array, sync/activity.h). */
static const char *const schema_v14 = "ALTER TABLE ferry_runs ADD COLUMN source_bytes INTEGER;"
                                      "ALTER TABLE ferry_runs ADD COLUMN source_records INTEGER;"
                                      "ALTER TABLE ferry_runs ADD COLUMN activity TEXT;";
/* Version 15: held runs (docs/review.md): why a run was held and until when, the digest of
 * its change set, the decision on it; a held run is active (one per sync and tenant). */
static const char *const schema_v15 =
    "ALTER TABLE ferry_runs ADD COLUMN preview INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE ferry_runs ADD COLUMN held_reason TEXT;"
    "ALTER TABLE ferry_runs ADD COLUMN held_admin INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE ferry_runs ADD COLUMN held_until TEXT;"
    "ALTER TABLE ferry_runs ADD COLUMN change_digest TEXT;"
    "ALTER TABLE ferry_runs ADD COLUMN decision TEXT;"
    "ALTER TABLE ferry_runs ADD COLUMN decided_by TEXT;"
    "ALTER TABLE ferry_runs ADD COLUMN decision_comment TEXT;"
    "ALTER TABLE ferry_runs ADD COLUMN decided_at TEXT;"
    "DROP INDEX IF EXISTS ferry_runs_one_active;"
    "CREATE UNIQUE INDEX ferry_runs_one_active ON ferry_runs (sync, ifnull(tenant, ''))"
    "  WHERE status IN ('queued', 'running', 'held');";
/* Version 16: reverting a run: the run a revert reverts and its comment; a deleted row's
 * values (a JSON object), so a revert can insert it again. */
static const char *const schema_v16 = "ALTER TABLE ferry_runs ADD COLUMN reverts INTEGER;"
                                      "ALTER TABLE ferry_runs ADD COLUMN revert_comment TEXT;"
                                      "ALTER TABLE ferry_changes ADD COLUMN row_values TEXT;";
/* Version 17: retention. When a run's change rows were pruned (its counts stay), and the
 * indexes the pruning queries read: runs by their end, audit entries by their time. */
static const char *const schema_v17 =
    "ALTER TABLE ferry_runs ADD COLUMN changes_pruned_at TEXT;"
    "CREATE INDEX IF NOT EXISTS ferry_runs_by_finished ON ferry_runs (finished_at);"
    "CREATE INDEX IF NOT EXISTS ferry_audit_by_at ON ferry_audit (at);";

ferry_rc ferry_sqlite_db_error(sqlite3 *db, ferry_err *err, const char *what)
{
    return ferry_err_set(err, FERRY_EDB, "%s: %s", what, sqlite3_errmsg(db));
}

void ferry_sqlite_bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

void ferry_sqlite_bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
    char iso[FERRY_ISO_TIME_MAX];

    if (ms <= 0) {
        sqlite3_bind_null(st, i);
        return;
    }
    ferry_time_format_iso(ms, iso);
    sqlite3_bind_text(st, i, iso, -1, SQLITE_TRANSIENT);
}

char *ferry_sqlite_col_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);

    return s != NULL ? strdup((const char *)s) : NULL;
}

int64_t ferry_sqlite_col_time(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    struct tm tm;
    int ms = 0;

    if (s == NULL)
        return 0;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) < 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

ferry_rc ferry_sqlite_schema_version(ferry_store *base, int *ret_have, int *ret_want,
                                     ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc, moved = 0;

    /* An open connection goes on reading a file that was deleted or replaced since: the
     * database at the configured path is then another one, or none. */
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved)
        return ferry_err_set(err, FERRY_EDB,
                             "database: the file was moved or deleted since it was opened");
    /* The pragma alone may be answered from the connection's cached header; reading a table
     * makes SQLite read the file. */
    if (sqlite3_prepare_v2(s->db,
                           "SELECT (SELECT count(*) FROM sqlite_master), user_version"
                           " FROM pragma_user_version",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "reading the schema version");
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        ferry_rc ret = ferry_sqlite_db_error(s->db, err, "reading the schema version");
        sqlite3_finalize(st);
        return ret;
    }
    *ret_have = sqlite3_column_int(st, 1);
    *ret_want = SCHEMA_VERSION;
    sqlite3_finalize(st);
    return FERRY_OK;
}

static ferry_rc migrate(ferry_sqlite_store *s, ferry_err *err)
{
    sqlite3_stmt *st;
    int version = 0;

    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "reading the schema version");
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > SCHEMA_VERSION)
        return ferry_err_set(err, FERRY_EDB,
                             "the database was written by a newer Ferry (schema version %d; "
                             "this Ferry knows up to %d)",
                             version, SCHEMA_VERSION);
    if (version == SCHEMA_VERSION)
        return FERRY_OK;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "migrating the store");
    /* Each step runs in the same transaction: a failed migration changes nothing. */
    for (int v = version; v < SCHEMA_VERSION; v++) {
        const char *const steps[SCHEMA_VERSION] = {
            schema_v1,  schema_v2,  schema_v3,  schema_v4,  schema_v5,  schema_v6,
            schema_v7,  schema_v8,  schema_v9,  schema_v10, schema_v11, schema_v12,
            schema_v13, schema_v14, schema_v15, schema_v16, schema_v17};
        const char *step = steps[v];
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(s->db, step, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(s->db, bump, NULL, NULL, NULL) != SQLITE_OK) {
            ferry_rc rc = ferry_sqlite_db_error(s->db, err, "creating Ferry's tables");
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "migrating the store");
    return FERRY_OK;
}

static void sqlite_close(ferry_store *base)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;

    if (s == NULL)
        return;
    sqlite3_finalize(s->change_insert);
    sqlite3_finalize(s->change_insert_many);
    sqlite3_finalize(s->run_select);
    sqlite3_finalize(s->token_select);
    sqlite3_finalize(s->session_select);
    sqlite3_close_v2(s->db);
    free(s);
}

static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

/* The page cache of each connection, in KiB. A run writes in one transaction; when the cache
 * fills, SQLite spills pages to the WAL and reads some back. 8 MiB instead of SQLite's 2 MiB
 * makes a 1M-row first load about a tenth faster (bench/bench_sync.py --app-table); larger
 * caches were no faster. */
#define CACHE_KIB "8192"

/* Memory statistics make every SQLite allocation take a global mutex; Ferry does not read
 * them, and turning them off is measurably faster on bulk loads. Must precede any other
 * SQLite call in the process, hence once, before the first open. */
static void sqlite_init_once(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

ferry_rc ferry_sqlite_connect(const char *path, struct sqlite3 **ret_db, ferry_err *err)
{
    sqlite3 *db = NULL;

    pthread_once(&sqlite_once, sqlite_init_once);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        ferry_err_set(err, FERRY_EDB, "cannot open the database %s: %s", path,
                      db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return FERRY_EDB;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db, 0);
    /* A double-quoted name that is no column must be an error, not the string 'name' (what
     * SQLite takes it for by default): Ferry quotes the column names a config gives. */
    sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, (int *)NULL);
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                     " PRAGMA foreign_keys = ON; PRAGMA cache_size = -" CACHE_KIB ";",
                     NULL, NULL, NULL) != SQLITE_OK) {
        ferry_err_set(err, FERRY_EDB, "cannot use the database %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return FERRY_EDB;
    }
    *ret_db = db;
    return FERRY_OK;
}

ferry_rc ferry_sqlite_store_open(const char *path, ferry_store **ret_store, ferry_err *err)
{
    ferry_sqlite_store *s;
    ferry_rc rc;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the store");
    s->base.runs = &ferry_sqlite_runs_ops;
    s->base.people = &ferry_sqlite_people_ops;
    s->base.cluster = &ferry_sqlite_cluster_ops;
    s->base.outbox = &ferry_sqlite_outbox_ops;
    s->base.prune = &ferry_sqlite_prune_ops;
    s->base.kind = FERRY_STORE_SQLITE;
    s->base.close = sqlite_close;
    if ((rc = ferry_sqlite_connect(path, &s->db, err)) != FERRY_OK)
        goto out_free;
    rc = migrate(s, err);
    if (rc != FERRY_OK) {
        ferry_err_prefix(err, "database %s", path);
        goto out_free;
    }
    *ret_store = &s->base;
    return FERRY_OK;

out_free:
    sqlite_close(&s->base);
    return rc;
}

struct sqlite3 *ferry_sqlite_store_db(ferry_store *st)
{
    return st->kind == FERRY_STORE_SQLITE ? ((ferry_sqlite_store *)st)->db : NULL;
}
