/* sqlite_store.c - the store on SQLite (see store.h).
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
#include <unistd.h>

#include "store/internal.h"
#include "store/store.h"
#include "target/target.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define SCHEMA_VERSION 7

/* How long a statement waits for another connection's write lock. */
#define BUSY_TIMEOUT_MS 10000

/* A token's last use and a session's last request are written at most this often. */
#define TOUCH_EVERY_MS 60000

/* Nodes silent this long are deleted by node_beat; claimed schedule firings this old are
 * deleted by schedule_claim, at most once per FIRES_PURGE_EVERY_MS. */
#define NODE_FORGET_MS (24 * 3600 * 1000LL)
#define FIRES_KEEP_MS (7 * 24 * 3600 * 1000LL)
#define FIRES_PURGE_EVERY_MS (3600 * 1000LL)

/* audit_list's page size when the filter gives none, and its largest. */
#define AUDIT_LIST_DEFAULT 100
#define AUDIT_LIST_MAX 1001 /* the API pages by 1,000 and asks one more */

typedef struct {
    ferry_store base;
    sqlite3 *db;
    sqlite3_stmt *change_insert;      /* one row */
    sqlite3_stmt *change_insert_many; /* CHANGE_ROWS rows */
    sqlite3_stmt *run_select;         /* one run by id */
    sqlite3_stmt *token_select;       /* a token and its user, by hash (every API request) */
    sqlite3_stmt *session_select;     /* a session and its user, by hash (every page request) */
    int64_t fires_purged_ms;          /* when schedule_claim last deleted old firings */
} sqlite_store;

/* Rows per multi-row INSERT of changes: 7 parameters each, well under SQLite's limit. */
#define CHANGE_ROWS 128

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

static const char *const status_names[] = {"queued", "running",   "succeeded",
                                           "failed", "cancelled", "interrupted"};
static const char *const outcome_names[] = {"created", "updated", "unchanged",
                                            "skipped", "failed",  "deleted"};

const char *ferry_run_status_name(ferry_run_status status)
{
    return (unsigned)status < 6 ? status_names[status] : "unknown";
}

const char *ferry_outcome_name(ferry_outcome outcome)
{
    return (unsigned)outcome < FERRY_OUTCOME_COUNT ? outcome_names[outcome] : "unknown";
}

bool ferry_run_status_parse(const char *name, ferry_run_status *ret)
{
    for (int i = 0; i < 6; i++) {
        if (name != NULL && strcmp(name, status_names[i]) == 0) {
            *ret = (ferry_run_status)i;
            return true;
        }
    }
    return false;
}

bool ferry_outcome_parse(const char *name, ferry_outcome *ret)
{
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++) {
        if (name != NULL && strcmp(name, outcome_names[i]) == 0) {
            *ret = (ferry_outcome)i;
            return true;
        }
    }
    return false;
}

void ferry_run_done(ferry_run *run)
{
    if (run == NULL)
        return;
    free(run->sync);
    free(run->tenant);
    free(run->trigger);
    free(run->user);
    free(run->token);
    free(run->cancelled_by);
    free(run->node);
    free(run->phase);
    free(run->ui_message);
    free(run->log_message);
    free(run->error);
    free(run->error_code);
    memset(run, 0, sizeof(*run));
}

void ferry_change_done(ferry_change *change)
{
    if (change == NULL)
        return;
    free(change->record_key);
    free(change->reason);
    free(change->diff);
    memset(change, 0, sizeof(*change));
}

void ferry_runs_free(ferry_run *runs, size_t n)
{
    for (size_t i = 0; i < n && runs != NULL; i++)
        ferry_run_done(&runs[i]);
    free(runs);
}

void ferry_changes_free(ferry_change *changes, size_t n)
{
    for (size_t i = 0; i < n && changes != NULL; i++)
        ferry_change_done(&changes[i]);
    free(changes);
}

static ferry_rc db_error(sqlite3 *db, ferry_err *err, const char *what)
{
    return ferry_err_set(err, FERRY_EDB, "%s: %s", what, sqlite3_errmsg(db));
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
    char iso[FERRY_ISO_TIME_MAX];

    if (ms <= 0) {
        sqlite3_bind_null(st, i);
        return;
    }
    ferry_time_format_iso(ms, iso);
    sqlite3_bind_text(st, i, iso, -1, SQLITE_TRANSIENT);
}

static char *col_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);

    return s != NULL ? strdup((const char *)s) : NULL;
}

static int64_t col_time(sqlite3_stmt *st, int i)
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

static ferry_rc migrate(sqlite_store *s, ferry_err *err)
{
    sqlite3_stmt *st;
    int version = 0;

    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "reading the schema version");
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
        return db_error(s->db, err, "migrating the store");
    /* Each step runs in the same transaction: a failed migration changes nothing. */
    for (int v = version; v < SCHEMA_VERSION; v++) {
        const char *const steps[SCHEMA_VERSION] = {schema_v1, schema_v2, schema_v3, schema_v4,
                                                   schema_v5, schema_v6, schema_v7};
        const char *step = steps[v];
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(s->db, step, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(s->db, bump, NULL, NULL, NULL) != SQLITE_OK) {
            ferry_rc rc = db_error(s->db, err, "creating Ferry's tables");
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(s->db, err, "migrating the store");
    return FERRY_OK;
}

static ferry_rc st_run_get(ferry_store *base, int64_t id, ferry_run *ret_run, ferry_err *err);

/* When the active run of (sync, tenant) belongs to a process on this host that no longer
 * exists (killed, or crashed), marks it interrupted so a new run can start. Returns true when
 * a run was reaped. */
static bool reap_stale(sqlite_store *s, const ferry_run *run)
{
    static const char *const find =
        "SELECT id, lease_owner FROM ferry_runs WHERE sync = ?1 AND ifnull(tenant, '') ="
        " ifnull(?2, '') AND status IN ('queued', 'running')";
    static const char *const mark =
        "UPDATE ferry_runs SET status = 'interrupted', phase = 'done', finished_at = ?2,"
        " error = ?3, error_code = 'interrupted', ui_message = ?4 WHERE id = ?1 AND status ="
        " 'running'";
    char iso[FERRY_ISO_TIME_MAX], why[512], ui[600];
    sqlite3_stmt *st;
    int64_t id = 0;
    long pid = 0;
    bool dead = false;

    if (sqlite3_prepare_v2(s->db, find, -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, run->sync, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, run->tenant);
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        dead = ferry_store_owner_is_dead((const char *)sqlite3_column_text(st, 1), &pid);
    }
    sqlite3_finalize(st);
    if (!dead)
        return false;
    ferry_time_format_iso(ferry_time_now_ms(), iso);
    snprintf(why, sizeof(why),
             "the process running it (pid %ld) ended before the run finished; its transaction "
             "was rolled back, so nothing was changed",
             pid);
    snprintf(ui, sizeof(ui), "Sync of %s was interrupted: %s.", run->sync, why);
    if (sqlite3_prepare_v2(s->db, mark, -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, iso, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, why, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ui, -1, SQLITE_STATIC);
    dead = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(s->db) == 1;
    sqlite3_finalize(st);
    if (dead) {
        ferry_err ignored;
        ferry_err_clear(&ignored);
        ferry_store_audit_interrupted(&s->base, id, ui, &ignored);
    }
    return dead;
}

static ferry_rc st_run_start(ferry_store *base, const ferry_run *run, int64_t *ret_id,
                             ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    static const char *const sql =
        "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase, total,"
        " dry_run, queued_at, started_at, heartbeat_at, attempt, lease_owner, token_label,"
        " allow_missing) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13,"
        " ?14)";
    char owner[300];
    sqlite3_stmt *st;
    bool active;
    int rc;

    ferry_node_self(owner, sizeof(owner));
    for (int attempt = 0;; attempt++) {
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
            return db_error(s->db, err, "recording the run");
        sqlite3_bind_text(st, 1, run->sync, -1, SQLITE_TRANSIENT);
        bind_text_or_null(st, 2, run->tenant);
        bind_text_or_null(st, 3, run->trigger != NULL ? run->trigger : "cli");
        bind_text_or_null(st, 4, run->user);
        sqlite3_bind_text(st, 5, ferry_run_status_name(run->status), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, run->phase != NULL ? run->phase : "queued", -1, SQLITE_TRANSIENT);
        if (run->total >= 0)
            sqlite3_bind_int64(st, 7, run->total);
        sqlite3_bind_int(st, 8, run->dry_run);
        bind_time(st, 9, run->queued_at_ms);
        bind_time(st, 10, run->started_at_ms);
        sqlite3_bind_int(st, 11, run->attempt > 0 ? run->attempt : 1);
        sqlite3_bind_text(st, 12, owner, -1, SQLITE_STATIC);
        bind_text_or_null(st, 13, run->token);
        sqlite3_bind_int(st, 14, run->allow_missing);
        rc = sqlite3_step(st);
        /* Only the one-active-run index makes a duplicate; any other constraint (a NOT NULL
         * column the caller left empty) is reported as what it is. */
        active =
            rc == SQLITE_CONSTRAINT && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE;
        if (rc != SQLITE_DONE && !active) {
            ferry_rc frc = db_error(s->db, err, "recording the run");
            sqlite3_finalize(st);
            return frc;
        }
        sqlite3_finalize(st);
        if (!active || attempt > 0 || !reap_stale(s, run))
            break;
    }
    if (active)
        return ferry_err_set(err, FERRY_EINVAL, "a run of '%s'%s%s is already queued or running",
                             run->sync, run->tenant ? " for tenant " : "",
                             run->tenant ? run->tenant : "");
    *ret_id = sqlite3_last_insert_rowid(s->db);
    return FERRY_OK;
}

static ferry_rc st_run_finish(ferry_store *base, const ferry_run *run, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    static const char *const sql =
        "UPDATE ferry_runs SET status = ?2, phase = ?3, percent = ?4, processed = ?5,"
        " total = ?6, created = ?7, updated = ?8, unchanged = ?9, skipped = ?10, failed = ?11,"
        " deleted = ?12, ui_message = ?13, log_message = ?14, error = ?15, error_code = ?16,"
        " finished_at = ?17, heartbeat_at = ?17, duration_ms = ?18,"
        " cancelled_by = COALESCE(?20, cancelled_by) WHERE id = ?1 AND"
        " status = 'running' AND (lease_owner IS NULL OR lease_owner = ?19)";
    char owner[300];
    sqlite3_stmt *st;
    int rc;

    /* Conditioned on the lease: a process whose run was taken over (recovered as a new
     * attempt elsewhere) cannot record it, and since this write is part of the run's
     * transaction, cannot commit it either. And on the run still running: a failure
     * recorded after a COMMIT whose answer was lost never overwrites what it committed. */
    ferry_node_self(owner, sizeof(owner));
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "recording the run's result");
    sqlite3_bind_text(st, 19, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 1, run->id);
    sqlite3_bind_text(st, 2, ferry_run_status_name(run->status), -1, SQLITE_STATIC);
    bind_text_or_null(st, 3, run->phase != NULL ? run->phase : "done");
    sqlite3_bind_int(st, 4, run->percent);
    sqlite3_bind_int64(st, 5, run->processed);
    if (run->total >= 0)
        sqlite3_bind_int64(st, 6, run->total);
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++)
        sqlite3_bind_int64(st, 7 + i, run->counts[i]);
    bind_text_or_null(st, 13, run->ui_message);
    bind_text_or_null(st, 14, run->log_message);
    bind_text_or_null(st, 15, run->error);
    bind_text_or_null(st, 16, run->error_code);
    bind_time(st, 17, run->finished_at_ms);
    sqlite3_bind_int64(st, 18, run->duration_ms);
    bind_text_or_null(st, 20, run->cancelled_by);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "recording the run's result");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND,
                             "run %lld is not held by this process any more (its lease was "
                             "taken over, or the run does not exist)",
                             (long long)run->id);
    return FERRY_OK;
}

#define RUN_COLUMNS                                                                                \
    "id, sync, tenant, trigger, user_name, status, phase, percent, processed, total, created,"     \
    " updated, unchanged, skipped, failed, deleted, ui_message, log_message, error,"               \
    " error_code, dry_run, queued_at, started_at, finished_at, duration_ms, attempt,"              \
    " token_label, cancelled_by, CASE WHEN status = 'running' THEN lease_owner END,"               \
    " allow_missing, retry_of"

static void run_from_row(sqlite3_stmt *st, ferry_run *run)
{
    memset(run, 0, sizeof(*run));
    run->id = sqlite3_column_int64(st, 0);
    run->sync = col_strdup(st, 1);
    run->tenant = col_strdup(st, 2);
    run->trigger = col_strdup(st, 3);
    run->user = col_strdup(st, 4);
    ferry_run_status_parse((const char *)sqlite3_column_text(st, 5), &run->status);
    run->phase = col_strdup(st, 6);
    run->percent = sqlite3_column_int(st, 7);
    run->processed = sqlite3_column_int64(st, 8);
    run->total = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 9);
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++)
        run->counts[i] = sqlite3_column_int64(st, 10 + i);
    run->ui_message = col_strdup(st, 16);
    run->log_message = col_strdup(st, 17);
    run->error = col_strdup(st, 18);
    run->error_code = col_strdup(st, 19);
    run->dry_run = sqlite3_column_int(st, 20) != 0;
    run->queued_at_ms = col_time(st, 21);
    run->started_at_ms = col_time(st, 22);
    run->finished_at_ms = col_time(st, 23);
    run->duration_ms = sqlite3_column_int64(st, 24);
    run->attempt = sqlite3_column_int(st, 25);
    run->token = col_strdup(st, 26);
    run->cancelled_by = col_strdup(st, 27);
    run->node = col_strdup(st, 28);
    run->allow_missing = sqlite3_column_int(st, 29) != 0;
    run->retry_of = sqlite3_column_int64(st, 30);
}

static ferry_rc st_run_get(ferry_store *base, int64_t id, ferry_run *ret_run, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    /* The API's hottest read (a page polls it): the statement is prepared once. */
    if (s->run_select == NULL &&
        sqlite3_prepare_v3(s->db, "SELECT " RUN_COLUMNS " FROM ferry_runs WHERE id = ?1", -1,
                           SQLITE_PREPARE_PERSISTENT, &s->run_select, NULL) != SQLITE_OK)
        return db_error(s->db, err, "reading the run");
    st = s->run_select;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        run_from_row(st, ret_run);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return FERRY_OK;
    if (rc == SQLITE_DONE)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no run %lld", (long long)id);
    return db_error(s->db, err, "reading the run");
}

static ferry_rc st_run_list(ferry_store *base, const ferry_run_filter *filter, ferry_run **ret_runs,
                            size_t *ret_n, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    ferry_run *runs = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT " RUN_COLUMNS " FROM ferry_runs"
                           " WHERE (?1 IS NULL OR sync = ?1) AND (?3 IS NULL OR status = ?3)"
                           " AND (?4 = 0 OR id < ?4) AND (?5 IS NULL OR trigger = ?5)"
                           " AND (?6 IS NULL OR queued_at >= ?6) AND (?7 IS NULL OR tenant = ?7)"
                           " AND (?8 IS NULL OR user_name = ?8) AND (?9 IS NULL OR queued_at < ?9)"
                           " ORDER BY id DESC LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "listing runs");
    bind_text_or_null(st, 1, filter->sync);
    sqlite3_bind_int(st, 2, filter->limit > 0 ? filter->limit : 20);
    bind_text_or_null(st, 3, filter->status);
    sqlite3_bind_int64(st, 4, filter->before_id > 0 ? filter->before_id : 0);
    bind_text_or_null(st, 5, filter->trigger);
    bind_time(st, 6, filter->since_ms);
    bind_text_or_null(st, 7, filter->tenant);
    bind_text_or_null(st, 8, filter->user);
    bind_time(st, 9, filter->until_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ferry_run *grown = realloc(runs, ncap * sizeof(*runs));
            if (grown == NULL) {
                sqlite3_finalize(st);
                ferry_runs_free(runs, n);
                return ferry_err_set(err, FERRY_ENOMEM, "listing runs");
            }
            runs = grown;
            cap = ncap;
        }
        run_from_row(st, &runs[n++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_runs_free(runs, n);
        return db_error(s->db, err, "listing runs");
    }
    *ret_runs = runs;
    *ret_n = n;
    return FERRY_OK;
}

static void bind_change(sqlite3_stmt *st, int base, const ferry_change *c)
{
    sqlite3_bind_int64(st, base + 1, c->run_id);
    sqlite3_bind_int64(st, base + 2, c->seq);
    if (c->record_key != NULL)
        sqlite3_bind_text(st, base + 3, c->record_key, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, base + 3);
    sqlite3_bind_text(st, base + 4, ferry_outcome_name(c->outcome), -1, SQLITE_STATIC);
    if (c->row > 0)
        sqlite3_bind_int64(st, base + 5, c->row);
    else
        sqlite3_bind_null(st, base + 5);
    if (c->reason != NULL)
        sqlite3_bind_text(st, base + 6, c->reason, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, base + 6);
    if (c->diff != NULL)
        sqlite3_bind_text(st, base + 7, c->diff, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, base + 7);
}

static ferry_rc prepare_change_insert(sqlite_store *s, size_t rows, sqlite3_stmt **ret,
                                      ferry_err *err)
{
    ferry_buf sql;
    ferry_rc rc = FERRY_OK;

    ferry_buf_init(&sql, 64 * 1024);
    ferry_buf_printf(&sql, "INSERT INTO ferry_changes (run_id, seq, record_key, outcome, row,"
                           " reason, diff) VALUES ");
    for (size_t i = 0; i < rows; i++)
        ferry_buf_printf(&sql, "%s(?, ?, ?, ?, ?, ?, ?)", i ? ", " : "");
    if (sqlite3_prepare_v3(s->db, ferry_buf_str(&sql), -1, SQLITE_PREPARE_PERSISTENT, ret, NULL) !=
        SQLITE_OK)
        rc = db_error(s->db, err, "recording changes");
    ferry_buf_done(&sql);
    return rc;
}

static ferry_rc step_once(sqlite_store *s, sqlite3_stmt *st, ferry_err *err)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "recording changes");
    return FERRY_OK;
}

static ferry_rc st_changes_add(ferry_store *base, const ferry_change *c, size_t n, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    size_t i = 0;
    ferry_rc rc;

    if (n >= CHANGE_ROWS && s->change_insert_many == NULL &&
        (rc = prepare_change_insert(s, CHANGE_ROWS, &s->change_insert_many, err)) != FERRY_OK)
        return rc;
    for (; i + CHANGE_ROWS <= n; i += CHANGE_ROWS) {
        for (size_t j = 0; j < CHANGE_ROWS; j++)
            bind_change(s->change_insert_many, (int)j * 7, &c[i + j]);
        if ((rc = step_once(s, s->change_insert_many, err)) != FERRY_OK)
            return rc;
    }
    if (i < n && s->change_insert == NULL &&
        (rc = prepare_change_insert(s, 1, &s->change_insert, err)) != FERRY_OK)
        return rc;
    for (; i < n; i++) {
        bind_change(s->change_insert, 0, &c[i]);
        if ((rc = step_once(s, s->change_insert, err)) != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

static ferry_rc st_change_list(ferry_store *base, int64_t run_id, const ferry_change_filter *filter,
                               ferry_change **ret_changes, size_t *ret_n, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    ferry_change *changes = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(
            s->db,
            "SELECT run_id, seq, record_key, outcome, row, reason, diff"
            " FROM ferry_changes WHERE run_id = ?1 AND (?2 IS NULL OR outcome = ?2) AND seq > ?4"
            " ORDER BY seq LIMIT ?3",
            -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "listing changes");
    sqlite3_bind_int64(st, 1, run_id);
    if (filter->outcome >= 0)
        sqlite3_bind_text(st, 2, ferry_outcome_name((ferry_outcome)filter->outcome), -1,
                          SQLITE_STATIC);
    sqlite3_bind_int(st, 3, filter->limit > 0 ? filter->limit : -1);
    sqlite3_bind_int64(st, 4, filter->after_seq);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            ferry_change *grown = realloc(changes, ncap * sizeof(*changes));
            if (grown == NULL) {
                sqlite3_finalize(st);
                ferry_changes_free(changes, n);
                return ferry_err_set(err, FERRY_ENOMEM, "listing changes");
            }
            changes = grown;
            cap = ncap;
        }
        ferry_change *c = &changes[n++];
        memset(c, 0, sizeof(*c));
        c->run_id = sqlite3_column_int64(st, 0);
        c->seq = sqlite3_column_int64(st, 1);
        c->record_key = col_strdup(st, 2);
        ferry_outcome_parse((const char *)sqlite3_column_text(st, 3), &c->outcome);
        c->row = (long)sqlite3_column_int64(st, 4);
        c->reason = col_strdup(st, 5);
        c->diff = col_strdup(st, 6);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_changes_free(changes, n);
        return db_error(s->db, err, "listing changes");
    }
    *ret_changes = changes;
    *ret_n = n;
    return FERRY_OK;
}

/* Loads the queued or running run of (sync, tenant). */
static ferry_rc active_run(sqlite_store *s, const char *sync, const char *tenant, ferry_run *ret,
                           ferry_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT " RUN_COLUMNS " FROM ferry_runs WHERE sync = ?1 AND"
                           " ifnull(tenant, '') = ifnull(?2, '') AND status IN ('queued',"
                           " 'running')",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "reading the active run");
    sqlite3_bind_text(st, 1, sync, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, tenant);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        run_from_row(st, ret);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return FERRY_OK;
    if (rc == SQLITE_DONE)
        return ferry_err_set(err, FERRY_ENOTFOUND, "no active run of '%s'", sync);
    return db_error(s->db, err, "reading the active run");
}

static ferry_rc st_run_enqueue(ferry_store *base, const ferry_run *run, ferry_run *ret_run,
                               bool *ret_created, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    static const char *const sql =
        "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase, dry_run,"
        " queued_at, attempt, token_label, allow_missing) VALUES (?1, ?2, ?3, ?4, 'queued',"
        " 'queued', ?5, ?6, 1, ?7, ?8)";
    sqlite3_stmt *st;
    ferry_rc frc;
    int rc;

    /* An active run is found with a read first: a running run holds the write lock for its
     * whole transaction, so the INSERT would wait for it to commit, and then queue a second
     * run. A stale one (its process is gone) is reaped and a new run queued. */
    frc = active_run(s, run->sync, run->tenant, ret_run, err);
    if (frc == FERRY_OK) {
        if (!reap_stale(s, run)) {
            *ret_created = false;
            return FERRY_OK;
        }
        ferry_run_done(ret_run);
    } else if (frc != FERRY_ENOTFOUND) {
        return frc;
    }
    ferry_err_clear(err);
    for (int attempt = 0;; attempt++) {
        if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return db_error(s->db, err, "queueing the run");
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
            frc = db_error(s->db, err, "queueing the run");
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return frc;
        }
        sqlite3_bind_text(st, 1, run->sync, -1, SQLITE_STATIC);
        bind_text_or_null(st, 2, run->tenant);
        bind_text_or_null(st, 3, run->trigger != NULL ? run->trigger : "api");
        bind_text_or_null(st, 4, run->user);
        sqlite3_bind_int(st, 5, run->dry_run);
        bind_time(st, 6, run->queued_at_ms > 0 ? run->queued_at_ms : ferry_time_now_ms());
        bind_text_or_null(st, 7, run->token);
        sqlite3_bind_int(st, 8, run->allow_missing);
        rc = sqlite3_step(st);
        bool active =
            rc == SQLITE_CONSTRAINT && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE;
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE) {
            frc = st_run_get(base, sqlite3_last_insert_rowid(s->db), ret_run, err);
            if (frc == FERRY_OK) {
                if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
                    *ret_created = true;
                    return FERRY_OK;
                }
                frc = db_error(s->db, err, "queueing the run");
                ferry_run_done(ret_run);
            }
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return frc;
        }
        frc = active ? FERRY_OK : db_error(s->db, err, "queueing the run");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        if (!active)
            return frc;
        if (attempt > 0 || !reap_stale(s, run))
            break;
    }
    *ret_created = false;
    return active_run(s, run->sync, run->tenant, ret_run, err);
}

static ferry_rc st_run_claim(ferry_store *base, ferry_run *ret_run, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    static const char *const sql =
        "UPDATE ferry_runs SET status = 'running', phase = 'connecting', started_at = ?1,"
        " heartbeat_at = ?1, lease_owner = ?2 WHERE id = (SELECT id FROM ferry_runs WHERE"
        " status = 'queued' ORDER BY id LIMIT 1) RETURNING id";
    char owner[300];
    sqlite3_stmt *st;
    int64_t id = 0;
    int rc;

    ferry_node_self(owner, sizeof(owner));
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "claiming a run");
    bind_time(st, 1, ferry_time_now_ms());
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "claiming a run");
    if (id == 0)
        return FERRY_DONE;
    return st_run_get(base, id, ret_run, err);
}

static ferry_rc st_run_cancel_queued(ferry_store *base, int64_t id, const char *user,
                                     ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    static const char *const sql =
        "UPDATE ferry_runs SET status = 'cancelled', phase = 'done', finished_at = ?2,"
        " cancel_requested = 1, cancelled_by = ?3, duration_ms = 0, error_code = 'cancelled',"
        " ui_message = 'Sync of ' || sync || ' was cancelled before it started. Nothing was"
        " changed.' WHERE id = ?1 AND status = 'queued'";
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "cancelling the run");
    sqlite3_bind_int64(st, 1, id);
    bind_time(st, 2, ferry_time_now_ms());
    bind_text_or_null(st, 3, user);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "cancelling the run");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is not queued", (long long)id);
    return FERRY_OK;
}

/* Runs sql (?1 the run's id, ?2 this process) on a running run this process holds:
 * FERRY_ENOTFOUND when it changed nothing (the lease was lost, or the run ended). */
static ferry_rc update_held_run(sqlite_store *s, const char *what, const char *sql, int64_t id,
                                ferry_err *err)
{
    char owner[300];
    sqlite3_stmt *st;
    int rc;

    ferry_node_self(owner, sizeof(owner));
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, what);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, what);
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is no longer held by this process",
                             (long long)id);
    return FERRY_OK;
}

static ferry_rc st_run_heartbeat(ferry_store *base, int64_t id, ferry_err *err)
{
    return update_held_run((sqlite_store *)base, "renewing the run's lease",
                           "UPDATE ferry_runs SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ',"
                           " 'now') WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
                           id, err);
}

static ferry_rc st_run_requeue(ferry_store *base, int64_t id, ferry_err *err)
{
    return update_held_run((sqlite_store *)base, "queueing the run again",
                           "UPDATE ferry_runs SET status = 'queued', phase = 'queued', percent ="
                           " 0, processed = 0, lease_owner = NULL, started_at = NULL WHERE id ="
                           " ?1 AND status = 'running' AND lease_owner = ?2",
                           id, err);
}

/* Runs sql with ?1 = id and ?2, ?3 = a, b (text, or NULL) for its effect. */
static ferry_rc exec_run_sql(sqlite_store *s, const char *what, const char *sql, int64_t id,
                             const char *a, const char *b, ferry_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, what);
    sqlite3_bind_int64(st, 1, id);
    bind_text_or_null(st, 2, a);
    bind_text_or_null(st, 3, b);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FERRY_OK : db_error(s->db, err, what);
}

/* Records that run (running, read inside the open transaction) will not finish because its
 * process stopped (cause says how), as rec says (store.h, ferry_recovery): the run ends as
 * interrupted with its next attempt queued, or as failed; the audit trail gets the story.
 * *ret_next is the queued run's id, or 0. Inside the caller's transaction. */
static ferry_rc interrupt_held(sqlite_store *s, const ferry_run *run, const char *cause,
                               const ferry_recovery *rec, int64_t *ret_next, ferry_err *err)
{
    static const char *const what = "recording an interrupted run";
    int retries = ferry_store_retries(rec, run->sync);
    bool again = run->attempt <= retries;
    char iso[FERRY_ISO_TIME_MAX], why[800], ui[1000];
    int64_t next = 0;
    ferry_rc rc;

    ferry_time_format_iso(ferry_time_now_ms(), iso);
    /* Ended first: the one-active-run index then takes the next attempt. */
    rc = exec_run_sql(s, what,
                      "UPDATE ferry_runs SET status = ?2, phase = 'done', finished_at = ?3,"
                      " heartbeat_at = ?3, error_code = 'interrupted', percent = 0, processed = 0"
                      " WHERE id = ?1",
                      run->id, again ? "interrupted" : "failed", iso, err);
    if (rc == FERRY_OK && again) {
        rc = exec_run_sql(s, what,
                          "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase,"
                          " dry_run, queued_at, attempt, token_label, allow_missing, retry_of)"
                          " SELECT sync, tenant, trigger, user_name, 'queued', 'queued', dry_run,"
                          " ?2, attempt + 1, token_label, allow_missing, id FROM ferry_runs"
                          " WHERE id = ?1",
                          run->id, iso, NULL, err);
        next = sqlite3_last_insert_rowid(s->db);
    }
    if (rc != FERRY_OK)
        return rc;
    ferry_store_interruption_text(cause, run->attempt, retries, next, why, sizeof(why));
    snprintf(ui, sizeof(ui), "Sync of %s %s: %s.", run->sync, again ? "was interrupted" : "failed",
             why);
    rc = exec_run_sql(s, what,
                      "UPDATE ferry_runs SET error = ?2, ui_message = ?3, log_message = ?3"
                      " WHERE id = ?1",
                      run->id, why, ui, err);
    if (rc != FERRY_OK)
        return rc;
    rc = ferry_store_audit_interrupted(&s->base, run->id, ui, err);
    if (rc == FERRY_OK)
        *ret_next = next;
    return rc;
}

/* Ends running run id as interrupt_held() says, in a transaction of its own, then calls
 * rec->on_interrupted; only while owner still holds it and its heartbeat is over lease_ms
 * old (the checks that chose it, made again under the write lock). Returns 1 when it ended the run,
 * 0 when the run was not running any more (someone else ended it), -1 with err set on failure. */
static int interrupt_run(sqlite_store *s, int64_t id, const char *owner, int64_t lease_ms,
                         const char *cause, const ferry_recovery *rec, ferry_err *err)
{
    ferry_run run;
    int64_t next_id = 0;
    sqlite3_stmt *st;
    ferry_rc rc;
    int step;

    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        db_error(s->db, err, "recording an interrupted run");
        return -1;
    }
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " RUN_COLUMNS " FROM ferry_runs WHERE id = ?1 AND status ="
                           " 'running' AND lease_owner IS ?2 AND (julianday('now') -"
                           " julianday(heartbeat_at)) * 86400000.0 >= ?3",
                           -1, &st, NULL) != SQLITE_OK) {
        db_error(s->db, err, "recording an interrupted run");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    sqlite3_bind_int64(st, 1, id);
    bind_text_or_null(st, 2, owner);
    sqlite3_bind_int64(st, 3, lease_ms);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        run_from_row(st, &run);
    sqlite3_finalize(st);
    if (step != SQLITE_ROW) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        if (step == SQLITE_DONE)
            return 0;
        db_error(s->db, err, "recording an interrupted run");
        return -1;
    }
    rc = interrupt_held(s, &run, cause, rec, &next_id, err);
    ferry_run_done(&run);
    if (rc != FERRY_OK || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        if (rc == FERRY_OK)
            db_error(s->db, err, "recording an interrupted run");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    ferry_store_announce_interrupted(&s->base, rec, id, next_id);
    return 1;
}

/* Ends, with interrupt_run(), the running runs (id, lease owner) sql selects (?1 =
 * lease_ms): all of them, or with dead_only those whose owner is a dead process of this
 * host. At most 256 a call; the rest are found by the next. */
static ferry_rc interrupt_where(sqlite_store *s, const char *sql, int64_t lease_ms, bool dead_only,
                                const ferry_recovery *rec, int *ret_n, ferry_err *err)
{
    int64_t ids[256];
    char owners[256][300], causes[256][400];
    size_t n = 0;
    sqlite3_stmt *st;
    int rc, ended = 0;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "recovering runs");
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, lease_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < 256) {
        const char *owner = (const char *)sqlite3_column_text(st, 1);
        if (dead_only && !ferry_store_owner_is_dead(owner, NULL))
            continue;
        ids[n] = sqlite3_column_int64(st, 0);
        snprintf(owners[n], sizeof(owners[n]), "%s", owner != NULL ? owner : "");
        ferry_store_interruption_cause(owner, dead_only ? 0 : lease_ms, causes[n],
                                       sizeof(causes[n]));
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_error(s->db, err, "recovering runs");
    for (size_t i = 0; i < n; i++) {
        int done = interrupt_run(s, ids[i], owners[i][0] != '\0' ? owners[i] : NULL, lease_ms,
                                 causes[i], rec, err);
        if (done < 0)
            return err->code;
        ended += done;
    }
    *ret_n = ended;
    return FERRY_OK;
}

static ferry_rc st_run_reclaim_expired(ferry_store *base, int64_t lease_ms,
                                       const ferry_recovery *rec, int *ret_n, ferry_err *err)
{
    /* The database's clock decides, the same one heartbeats are written with. */
    return interrupt_where((sqlite_store *)base,
                           "SELECT id, lease_owner FROM ferry_runs WHERE status = 'running' AND"
                           " (julianday('now') - julianday(heartbeat_at)) * 86400000.0 > ?1",
                           lease_ms, false, rec, ret_n, err);
}

static ferry_rc st_run_recover(ferry_store *base, const ferry_recovery *rec, int *ret_n,
                               ferry_err *err)
{
    return interrupt_where((sqlite_store *)base,
                           "SELECT id, lease_owner FROM ferry_runs WHERE status = 'running'", 0,
                           true, rec, ret_n, err);
}

const int64_t ferry_stats_bucket_ms[FERRY_STATS_BUCKETS] = {100,   500,    1000,   5000,
                                                            30000, 120000, 600000, 3600000};

void ferry_sync_stats_done(ferry_sync_stats *stats)
{
    for (size_t i = 0; i < stats->nreasons; i++)
        free(stats->reason[i]);
    memset(stats, 0, sizeof(*stats));
}

static ferry_rc collect_reasons(sqlite_store *s, const char *sync, ferry_sync_stats *out,
                                ferry_err *err)
{
    static const char *const sql =
        "SELECT c.reason FROM ferry_changes c JOIN ferry_runs r ON r.id = c.run_id"
        " WHERE r.sync = ?1 AND c.outcome = 'failed' AND c.reason IS NOT NULL"
        " ORDER BY c.run_id DESC LIMIT 5000";
    ferry_store_tally tally;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "reading failure reasons");
    sqlite3_bind_text(st, 1, sync, -1, SQLITE_STATIC);
    memset(&tally, 0, sizeof(tally));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ferry_store_tally_add(&tally, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    ferry_store_tally_take(&tally, out);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "reading failure reasons");
    return FERRY_OK;
}

static ferry_rc st_sync_stats(ferry_store *base, const char *sync, ferry_sync_stats *out,
                              ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    static const char *const by_status =
        "SELECT status, count(*), sum(created), sum(updated), sum(unchanged), sum(skipped),"
        " sum(failed), sum(deleted) FROM ferry_runs WHERE sync = ?1 GROUP BY status";
    static const char *const durations =
        "SELECT count(*), avg(duration_ms), sum(duration_ms) FROM ferry_runs WHERE sync = ?1"
        " AND finished_at IS NOT NULL AND duration_ms IS NOT NULL";
    static const char *const nth =
        "SELECT duration_ms FROM ferry_runs WHERE sync = ?1 AND finished_at IS NOT NULL AND"
        " duration_ms IS NOT NULL ORDER BY duration_ms LIMIT 1 OFFSET ?2";
    static const char *const le =
        "SELECT count(*) FROM ferry_runs WHERE sync = ?1 AND finished_at IS NOT NULL AND"
        " duration_ms <= ?2";
    sqlite3_stmt *st = NULL;
    ferry_run_status status;

    memset(out, 0, sizeof(*out));
    if (sqlite3_prepare_v2(s->db, by_status, -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, sync, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!ferry_run_status_parse((const char *)sqlite3_column_text(st, 0), &status))
            continue;
        out->by_status[status] = sqlite3_column_int64(st, 1);
        for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
            out->records[o] += sqlite3_column_int64(st, 2 + o);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(s->db, durations, -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, sync, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        out->finished = sqlite3_column_int64(st, 0);
        out->avg_ms = sqlite3_column_double(st, 1);
        out->duration_sum_ms = sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    if (out->finished > 0) {
        if (sqlite3_prepare_v2(s->db, nth, -1, &st, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_text(st, 1, sync, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (out->finished * 95 + 99) / 100 - 1);
        if (sqlite3_step(st) == SQLITE_ROW)
            out->p95_ms = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (sqlite3_prepare_v2(s->db, le, -1, &st, NULL) != SQLITE_OK)
        goto fail;
    for (int b = 0; b < FERRY_STATS_BUCKETS; b++) {
        sqlite3_bind_text(st, 1, sync, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, ferry_stats_bucket_ms[b]);
        if (sqlite3_step(st) == SQLITE_ROW)
            out->duration_le[b] = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return collect_reasons(s, sync, out, err);

fail:
    return db_error(s->db, err, "computing run statistics");
}

static const char *const role_names[] = {"viewer", "operator", "admin"};

const char *ferry_role_name(ferry_role role)
{
    return (unsigned)role < 3 ? role_names[role] : "unknown";
}

bool ferry_role_parse(const char *name, ferry_role *ret)
{
    for (int i = 0; i < 3; i++) {
        if (name != NULL && strcmp(name, role_names[i]) == 0) {
            *ret = (ferry_role)i;
            return true;
        }
    }
    return false;
}

void ferry_user_done(ferry_user *user)
{
    if (user == NULL)
        return;
    free(user->name);
    if (user->password_hash != NULL)
        memset(user->password_hash, 0, strlen(user->password_hash));
    free(user->password_hash);
    memset(user, 0, sizeof(*user));
}

void ferry_users_free(ferry_user *users, size_t n)
{
    for (size_t i = 0; i < n && users != NULL; i++)
        ferry_user_done(&users[i]);
    free(users);
}

#define USER_COLUMNS "id, name, role, password_hash, disabled, created_at, password_changed_at"

static void user_from_row(sqlite3_stmt *st, ferry_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = sqlite3_column_int64(st, 0);
    u->name = col_strdup(st, 1);
    ferry_role_parse((const char *)sqlite3_column_text(st, 2), &u->role);
    u->password_hash = col_strdup(st, 3);
    u->disabled = sqlite3_column_int(st, 4) != 0;
    u->created_at_ms = col_time(st, 5);
    u->password_changed_at_ms = col_time(st, 6);
}

static ferry_rc st_user_add(ferry_store *base, const char *name, ferry_role role,
                            const char *password_hash, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO ferry_users (name, role, password_hash, created_at,"
                           " password_changed_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "adding the user");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ferry_role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, password_hash, -1, SQLITE_STATIC);
    bind_time(st, 4, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT)
        return ferry_err_set(err, FERRY_EINVAL, "a user named '%s' already exists", name);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "adding the user");
    return FERRY_OK;
}

static ferry_rc st_user_get(ferry_store *base, const char *name, ferry_user *ret, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT " USER_COLUMNS " FROM ferry_users WHERE name = ?1", -1,
                           &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "reading the user");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        user_from_row(st, ret);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return FERRY_OK;
    if (rc == SQLITE_DONE)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", name);
    return db_error(s->db, err, "reading the user");
}

static ferry_rc st_user_list(ferry_store *base, ferry_user **ret_users, size_t *ret_n,
                             ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    ferry_user *users = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT " USER_COLUMNS " FROM ferry_users ORDER BY name", -1, &st,
                           NULL) != SQLITE_OK)
        return db_error(s->db, err, "listing users");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ferry_user *grown = realloc(users, ncap * sizeof(*users));
            if (grown == NULL) {
                sqlite3_finalize(st);
                ferry_users_free(users, n);
                return ferry_err_set(err, FERRY_ENOMEM, "listing users");
            }
            users = grown;
            cap = ncap;
        }
        user_from_row(st, &users[n++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_users_free(users, n);
        return db_error(s->db, err, "listing users");
    }
    *ret_users = users;
    *ret_n = n;
    return FERRY_OK;
}

/* Runs an UPDATE of one user named ?1; FERRY_ENOTFOUND when there is none. */
static ferry_rc update_user(sqlite_store *s, const char *sql, const char *name, const char *text,
                            int64_t number, ferry_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "changing the user");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (text != NULL)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, number);
    bind_time(st, 3, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "changing the user");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", name);
    return FERRY_OK;
}

/* Runs update_user() and deletes every session of the user in one transaction: a changed
 * password or a disabled user logs every browser out, or nothing changes at all. */
static ferry_rc update_user_ending_sessions(sqlite_store *s, const char *sql, const char *name,
                                            const char *text, int64_t number, ferry_err *err)
{
    sqlite3_stmt *st;
    ferry_rc rc;
    int src;

    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(s->db, err, "changing the user");
    rc = update_user(s, sql, name, text, number, err);
    if (rc != FERRY_OK)
        goto out_rollback;
    if (sqlite3_prepare_v2(s->db,
                           "DELETE FROM ferry_sessions WHERE user_id IN (SELECT id FROM"
                           " ferry_users WHERE name = ?1)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(s->db, err, "ending the user's sessions");
        goto out_rollback;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE) {
        rc = db_error(s->db, err, "ending the user's sessions");
        goto out_rollback;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(s->db, err, "changing the user");
        goto out_rollback;
    }
    return FERRY_OK;

out_rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static ferry_rc st_user_set_password(ferry_store *base, const char *name, const char *password_hash,
                                     ferry_err *err)
{
    return update_user_ending_sessions((sqlite_store *)base,
                                       "UPDATE ferry_users SET password_hash = ?2,"
                                       " password_changed_at = ?3 WHERE name = ?1",
                                       name, password_hash, 0, err);
}

static ferry_rc st_user_set_disabled(ferry_store *base, const char *name, bool disabled,
                                     ferry_err *err)
{
    static const char *const sql =
        "UPDATE ferry_users SET disabled = ?2 WHERE name = ?1 AND ?3 IS NOT NULL";

    if (disabled)
        return update_user_ending_sessions((sqlite_store *)base, sql, name, NULL, 1, err);
    return update_user((sqlite_store *)base, sql, name, NULL, 0, err);
}

static ferry_rc st_user_set_role(ferry_store *base, const char *name, ferry_role role,
                                 ferry_err *err)
{
    if ((unsigned)role >= sizeof(role_names) / sizeof(role_names[0]))
        return ferry_err_set(err, FERRY_EINVAL, "unknown role %d", (int)role);
    return update_user((sqlite_store *)base,
                       "UPDATE ferry_users SET role = ?2 WHERE name = ?1 AND ?3 IS NOT NULL", name,
                       ferry_role_name(role), 0, err);
}

void ferry_token_done(ferry_token *token)
{
    if (token == NULL)
        return;
    free(token->user);
    free(token->label);
    memset(token, 0, sizeof(*token));
}

void ferry_tokens_free(ferry_token *tokens, size_t n)
{
    for (size_t i = 0; i < n && tokens != NULL; i++)
        ferry_token_done(&tokens[i]);
    free(tokens);
}

static ferry_rc st_token_add(ferry_store *base, const char *user, const char *label,
                             const char *token_hash, int64_t *ret_id, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO ferry_api_tokens (user_id, label, token_hash, created_at)"
                           " SELECT id, ?2, ?3, ?4 FROM ferry_users WHERE name = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "adding the token");
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, token_hash, -1, SQLITE_STATIC);
    bind_time(st, 4, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "adding the token");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", user);
    *ret_id = sqlite3_last_insert_rowid(s->db);
    return FERRY_OK;
}

static ferry_rc st_token_list(ferry_store *base, ferry_token **ret_tokens, size_t *ret_n,
                              ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    ferry_token *tokens = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT t.id, u.name, t.label, t.created_at, t.last_used_at,"
                           " t.revoked_at FROM ferry_api_tokens t JOIN ferry_users u ON"
                           " u.id = t.user_id ORDER BY t.id",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "listing tokens");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ferry_token *grown = realloc(tokens, ncap * sizeof(*tokens));
            if (grown == NULL) {
                sqlite3_finalize(st);
                ferry_tokens_free(tokens, n);
                return ferry_err_set(err, FERRY_ENOMEM, "listing tokens");
            }
            tokens = grown;
            cap = ncap;
        }
        ferry_token *t = &tokens[n++];
        memset(t, 0, sizeof(*t));
        t->id = sqlite3_column_int64(st, 0);
        t->user = col_strdup(st, 1);
        t->label = col_strdup(st, 2);
        t->created_at_ms = col_time(st, 3);
        t->last_used_at_ms = col_time(st, 4);
        t->revoked_at_ms = col_time(st, 5);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_tokens_free(tokens, n);
        return db_error(s->db, err, "listing tokens");
    }
    *ret_tokens = tokens;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc st_token_revoke(ferry_store *base, int64_t id, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "UPDATE ferry_api_tokens SET revoked_at = ?2 WHERE id = ?1 AND"
                           " revoked_at IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "revoking the token");
    sqlite3_bind_int64(st, 1, id);
    bind_time(st, 2, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "revoking the token");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no active token %lld", (long long)id);
    return FERRY_OK;
}

void ferry_principal_done(ferry_principal *p)
{
    if (p == NULL)
        return;
    free(p->user);
    free(p->token_label);
    memset(p, 0, sizeof(*p));
}

/* Runs a bookkeeping write (a token's last use, a session's last request, an expired
 * session's deletion) without waiting for the write lock: a run may hold it for minutes, and
 * the request that triggered the write must not wait or fail for it. ?1 is key (text) or id,
 * ?2 (when the statement has one) is now. A skipped write is done by a later request.
 * Returns true when the row was written. */
static bool write_if_free(sqlite_store *s, const char *sql, const char *key, int64_t id,
                          int64_t now)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return false;
    if (key != NULL)
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    if (sqlite3_bind_parameter_count(st) >= 2)
        bind_time(st, 2, now);
    sqlite3_busy_timeout(s->db, 0);
    rc = sqlite3_step(st);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE;
}

static ferry_rc st_token_auth(ferry_store *base, const char *token_hash, ferry_principal *ret,
                              ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    static const char *const sql =
        "SELECT t.id, t.label, u.id, u.name, u.role, u.disabled, t.created_at, t.last_used_at,"
        " t.revoked_at IS NOT NULL FROM ferry_api_tokens t JOIN ferry_users u ON u.id ="
        " t.user_id WHERE t.token_hash = ?1";
    int64_t now = ferry_time_now_ms();
    bool disabled, revoked;
    ferry_principal p;
    sqlite3_stmt *st;
    ferry_rc frc;
    int rc;

    /* Asked on every authenticated request: the statement is prepared once. */
    if (s->token_select == NULL && sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                                      &s->token_select, NULL) != SQLITE_OK)
        return db_error(s->db, err, "checking the API token");
    st = s->token_select;
    sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        frc = rc == SQLITE_DONE ? ferry_err_set(err, FERRY_ENOTFOUND, "no such API token")
                                : db_error(s->db, err, "checking the API token");
        sqlite3_reset(st);
        return frc;
    }
    memset(&p, 0, sizeof(p));
    p.token_id = sqlite3_column_int64(st, 0);
    p.token_label = col_strdup(st, 1);
    p.user_id = sqlite3_column_int64(st, 2);
    p.user = col_strdup(st, 3);
    ferry_role_parse((const char *)sqlite3_column_text(st, 4), &p.role);
    disabled = sqlite3_column_int(st, 5) != 0;
    p.created_at_ms = col_time(st, 6);
    p.last_seen_at_ms = col_time(st, 7);
    revoked = sqlite3_column_int(st, 8) != 0;
    sqlite3_reset(st);
    /* label and name are NOT NULL: a NULL here is a failed copy. */
    if (p.token_label == NULL || p.user == NULL) {
        frc = ferry_err_set(err, FERRY_ENOMEM, "checking the API token");
        goto out_done;
    }
    if (revoked) {
        frc =
            ferry_err_set(err, FERRY_ENOTFOUND, "API token %lld is revoked", (long long)p.token_id);
        goto out_done;
    }
    if (disabled) {
        frc = ferry_err_set(err, FERRY_ENOTFOUND, "user '%s' is disabled", p.user);
        goto out_done;
    }
    if ((p.last_seen_at_ms == 0 || now - p.last_seen_at_ms > TOUCH_EVERY_MS) &&
        write_if_free(s, "UPDATE ferry_api_tokens SET last_used_at = ?2 WHERE id = ?1", NULL,
                      p.token_id, now))
        p.last_seen_at_ms = now;
    *ret = p;
    return FERRY_OK;

out_done:
    ferry_principal_done(&p);
    return frc;
}

static ferry_rc st_session_add(ferry_store *base, const char *user, const char *session_hash,
                               ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    bool disabled;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO ferry_sessions (session_hash, user_id, created_at,"
                           " last_seen_at) SELECT ?1, id, ?3, ?3 FROM ferry_users WHERE name = ?2"
                           " AND disabled = 0",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "starting the session");
    sqlite3_bind_text(st, 1, session_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    bind_time(st, 3, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "starting the session");
    if (sqlite3_changes(s->db) == 1)
        return FERRY_OK;
    /* No row was inserted: say whether the user is missing or disabled. */
    if (sqlite3_prepare_v2(s->db, "SELECT disabled FROM ferry_users WHERE name = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return db_error(s->db, err, "starting the session");
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    disabled = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(s->db, err, "starting the session");
    if (disabled)
        return ferry_err_set(err, FERRY_ENOTFOUND, "user '%s' is disabled", user);
    return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", user);
}

static ferry_rc st_session_auth(ferry_store *base, const char *session_hash, int64_t idle_ms,
                                int64_t max_ms, ferry_principal *ret, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    static const char *const sql =
        "SELECT u.id, u.name, u.role, u.disabled, s.created_at, s.last_seen_at FROM"
        " ferry_sessions s JOIN ferry_users u ON u.id = s.user_id WHERE s.session_hash = ?1";
    static const char *const end = "DELETE FROM ferry_sessions WHERE session_hash = ?1";
    int64_t now = ferry_time_now_ms();
    char limit[64];
    ferry_principal p;
    sqlite3_stmt *st;
    bool disabled;
    ferry_rc frc;
    int rc;

    /* Asked on every authenticated request: the statement is prepared once. */
    if (s->session_select == NULL && sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                                        &s->session_select, NULL) != SQLITE_OK)
        return db_error(s->db, err, "checking the session");
    st = s->session_select;
    sqlite3_bind_text(st, 1, session_hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        frc = rc == SQLITE_DONE ? ferry_err_set(err, FERRY_ENOTFOUND, "no such session")
                                : db_error(s->db, err, "checking the session");
        sqlite3_reset(st);
        return frc;
    }
    memset(&p, 0, sizeof(p));
    p.user_id = sqlite3_column_int64(st, 0);
    p.user = col_strdup(st, 1);
    ferry_role_parse((const char *)sqlite3_column_text(st, 2), &p.role);
    disabled = sqlite3_column_int(st, 3) != 0;
    p.created_at_ms = col_time(st, 4);
    p.last_seen_at_ms = col_time(st, 5);
    sqlite3_reset(st);
    if (p.user == NULL) {
        frc = ferry_err_set(err, FERRY_ENOMEM, "checking the session");
        goto out_done;
    }
    /* A dead session is deleted on the way out (when the database is free; session_purge
     * gets the others), so it cannot come back when the user is enabled again. */
    if (disabled) {
        write_if_free(s, end, session_hash, 0, now);
        frc = ferry_err_set(err, FERRY_ENOTFOUND, "user '%s' is disabled", p.user);
        goto out_done;
    }
    if (now - p.last_seen_at_ms > idle_ms) {
        write_if_free(s, end, session_hash, 0, now);
        ferry_time_format_duration(idle_ms, limit, sizeof(limit));
        frc = ferry_err_set(err, FERRY_ENOTFOUND,
                            "the session expired (no request for more than %s)", limit);
        goto out_done;
    }
    if (now - p.created_at_ms > max_ms) {
        write_if_free(s, end, session_hash, 0, now);
        ferry_time_format_duration(max_ms, limit, sizeof(limit));
        frc = ferry_err_set(err, FERRY_ENOTFOUND, "the session expired (older than %s)", limit);
        goto out_done;
    }
    /* Recorded at most once a minute, and at least four times per idle period, so a request
     * restarts the idle clock to within a quarter of it however short it is. */
    int64_t touch_every = idle_ms / 4 < TOUCH_EVERY_MS ? idle_ms / 4 : TOUCH_EVERY_MS;
    if (now - p.last_seen_at_ms > touch_every &&
        write_if_free(s, "UPDATE ferry_sessions SET last_seen_at = ?2 WHERE session_hash = ?1",
                      session_hash, 0, now))
        p.last_seen_at_ms = now;
    *ret = p;
    return FERRY_OK;

out_done:
    ferry_principal_done(&p);
    return frc;
}

static ferry_rc st_session_delete(ferry_store *base, const char *session_hash, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "DELETE FROM ferry_sessions WHERE session_hash = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return db_error(s->db, err, "ending the session");
    sqlite3_bind_text(st, 1, session_hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "ending the session");
    return FERRY_OK;
}

static ferry_rc st_session_purge(ferry_store *base, int64_t idle_ms, int64_t max_ms, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    int64_t now = ferry_time_now_ms();
    sqlite3_stmt *st;
    int rc;

    /* The same test as session_auth's, on the text times: idle for more than idle_ms is a
     * last request before now - idle_ms. A bound at or before the epoch binds NULL, which
     * matches nothing. */
    if (sqlite3_prepare_v2(s->db,
                           "DELETE FROM ferry_sessions WHERE last_seen_at < ?1 OR created_at < ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "deleting expired sessions");
    bind_time(st, 1, now - idle_ms);
    bind_time(st, 2, now - max_ms);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "deleting expired sessions");
    return FERRY_OK;
}

void ferry_audit_done(ferry_audit_entry *e)
{
    if (e == NULL)
        return;
    free(e->actor);
    free(e->action);
    free(e->target);
    free(e->detail);
    free(e->client);
    memset(e, 0, sizeof(*e));
}

void ferry_audit_free(ferry_audit_entry *entries, size_t n)
{
    for (size_t i = 0; i < n && entries != NULL; i++)
        ferry_audit_done(&entries[i]);
    free(entries);
}

static ferry_rc st_audit_add(ferry_store *base, const ferry_audit_entry *e, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (e->action == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "an audit entry needs an action");
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO ferry_audit (at, actor, action, target, detail, client)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "recording the audit entry");
    bind_time(st, 1, ferry_time_now_ms());
    bind_text_or_null(st, 2, e->actor);
    sqlite3_bind_text(st, 3, e->action, -1, SQLITE_STATIC);
    bind_text_or_null(st, 4, e->target);
    bind_text_or_null(st, 5, e->detail);
    bind_text_or_null(st, 6, e->client);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "recording the audit entry");
    return FERRY_OK;
}

static ferry_rc st_audit_list(ferry_store *base, const ferry_audit_filter *filter,
                              ferry_audit_entry **ret, size_t *ret_n, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    ferry_audit_entry *entries = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int limit = filter->limit, rc;

    if (limit <= 0)
        limit = AUDIT_LIST_DEFAULT;
    if (limit > AUDIT_LIST_MAX)
        limit = AUDIT_LIST_MAX;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, at, actor, action, target, detail, client FROM ferry_audit"
                           " WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2)"
                           " AND (?3 = 0 OR id < ?3) ORDER BY id DESC LIMIT ?4",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "listing the audit log");
    bind_text_or_null(st, 1, filter->actor);
    bind_text_or_null(st, 2, filter->action);
    sqlite3_bind_int64(st, 3, filter->before_id > 0 ? filter->before_id : 0);
    sqlite3_bind_int(st, 4, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ferry_audit_entry *grown = realloc(entries, ncap * sizeof(*entries));
            if (grown == NULL) {
                sqlite3_finalize(st);
                ferry_audit_free(entries, n);
                return ferry_err_set(err, FERRY_ENOMEM, "listing the audit log");
            }
            entries = grown;
            cap = ncap;
        }
        ferry_audit_entry *e = &entries[n++];
        memset(e, 0, sizeof(*e));
        e->id = sqlite3_column_int64(st, 0);
        e->at_ms = col_time(st, 1);
        e->actor = col_strdup(st, 2);
        e->action = col_strdup(st, 3);
        e->target = col_strdup(st, 4);
        e->detail = col_strdup(st, 5);
        e->client = col_strdup(st, 6);
        if (e->action == NULL) {
            sqlite3_finalize(st);
            ferry_audit_free(entries, n);
            return ferry_err_set(err, FERRY_ENOMEM, "listing the audit log");
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_audit_free(entries, n);
        return db_error(s->db, err, "listing the audit log");
    }
    *ret = entries;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc st_node_beat(ferry_store *base, const char *address, int workers, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
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
        return db_error(s->db, err, "recording this node");
    sqlite3_bind_text(st, 1, self, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, address);
    sqlite3_bind_int(st, 3, workers);
    bind_time(st, 4, now);
    /* A beat does not wait for a run's write lock: it is skipped, and the next one (5 s
     * later) may find the database free. */
    sqlite3_busy_timeout(s->db, 0);
    rc = sqlite3_step(st);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_finalize(st);
    if (rc == SQLITE_BUSY)
        return FERRY_OK;
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "recording this node");
    if (sqlite3_prepare_v2(s->db, "DELETE FROM ferry_nodes WHERE heartbeat_at < ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return db_error(s->db, err, "forgetting silent nodes");
    bind_time(st, 1, now - NODE_FORGET_MS);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "forgetting silent nodes");
    return FERRY_OK;
}

static ferry_rc st_node_list(ferry_store *base, int64_t live_ms, ferry_node **ret_nodes,
                             size_t *ret_n, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    ferry_node *nodes = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, address, workers, started_at, heartbeat_at FROM ferry_nodes"
                           " WHERE heartbeat_at >= ?1 ORDER BY started_at, id",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "listing nodes");
    bind_time(st, 1, ferry_time_now_ms() - live_ms);
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
        nd->id = col_strdup(st, 0);
        nd->address = col_strdup(st, 1);
        nd->workers = sqlite3_column_int(st, 2);
        nd->started_at_ms = col_time(st, 3);
        nd->heartbeat_at_ms = col_time(st, 4);
        if (nd->id == NULL) {
            sqlite3_finalize(st);
            ferry_nodes_free(nodes, n);
            return ferry_err_set(err, FERRY_ENOMEM, "listing nodes");
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_nodes_free(nodes, n);
        return db_error(s->db, err, "listing nodes");
    }
    *ret_nodes = nodes;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc st_node_leave(ferry_store *base, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    char self[300];
    sqlite3_stmt *st;
    int rc;

    ferry_node_self(self, sizeof(self));
    if (sqlite3_prepare_v2(s->db, "DELETE FROM ferry_nodes WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return db_error(s->db, err, "removing this node");
    sqlite3_bind_text(st, 1, self, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "removing this node");
    return FERRY_OK;
}

static ferry_rc st_schedule_claim(ferry_store *base, const char *sync, const char *tenant,
                                  int64_t due_ms, bool *ret_won, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    int64_t now = ferry_time_now_ms();
    char self[300];
    sqlite3_stmt *st;
    int rc;

    /* Old firings are only kept so a late node cannot fire them again: a week is plenty. */
    if (now - s->fires_purged_ms > FIRES_PURGE_EVERY_MS) {
        if (sqlite3_prepare_v2(s->db, "DELETE FROM ferry_schedule_fires WHERE claimed_at < ?1", -1,
                               &st, NULL) != SQLITE_OK)
            return db_error(s->db, err, "forgetting old schedule firings");
        bind_time(st, 1, now - FIRES_KEEP_MS);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return db_error(s->db, err, "forgetting old schedule firings");
        s->fires_purged_ms = now;
    }
    ferry_node_self(self, sizeof(self));
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO ferry_schedule_fires (sync, tenant, due_ms, node,"
                           " claimed_at) VALUES (?1, ifnull(?2, ''), ?3, ?4, ?5)"
                           " ON CONFLICT DO NOTHING",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "claiming the schedule's firing");
    sqlite3_bind_text(st, 1, sync, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, tenant);
    sqlite3_bind_int64(st, 3, due_ms);
    sqlite3_bind_text(st, 4, self, -1, SQLITE_STATIC);
    bind_time(st, 5, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "claiming the schedule's firing");
    *ret_won = sqlite3_changes(s->db) == 1;
    return FERRY_OK;
}

static ferry_rc st_run_request_cancel(ferry_store *base, int64_t id, const char *user,
                                      ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "UPDATE ferry_runs SET cancel_requested = 1, cancel_requested_by = ?2"
                           " WHERE id = ?1 AND status = 'running'",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "asking to cancel the run");
    sqlite3_bind_int64(st, 1, id);
    bind_text_or_null(st, 2, user);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s->db, err, "asking to cancel the run");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is not running", (long long)id);
    return FERRY_OK;
}

static ferry_rc st_run_cancel_requested(ferry_store *base, int64_t id, bool *ret_requested,
                                        char **ret_user, ferry_err *err)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    char *user = NULL;
    bool requested = false;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT cancel_requested, cancel_requested_by FROM ferry_runs"
                           " WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s->db, err, "reading the run's cancel request");
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        requested = sqlite3_column_int(st, 0) != 0;
        if (ret_user != NULL && sqlite3_column_type(st, 1) != SQLITE_NULL &&
            (user = col_strdup(st, 1)) == NULL) {
            sqlite3_finalize(st);
            return ferry_err_set(err, FERRY_ENOMEM, "reading the run's cancel request");
        }
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no run %lld", (long long)id);
    if (rc != SQLITE_ROW)
        return db_error(s->db, err, "reading the run's cancel request");
    *ret_requested = requested;
    if (ret_user != NULL)
        *ret_user = user;
    return FERRY_OK;
}

static void st_free(ferry_store *base)
{
    sqlite_store *s = (sqlite_store *)base;

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

static ferry_rc st_target_new(ferry_store *base, const ferry_sync_spec *sync, const char *tenant,
                              ferry_target **ret_target, ferry_err *err)
{
    return ferry_sqlite_target_new(ferry_sqlite_store_db(base), sync, tenant, ret_target, err);
}

static ferry_rc st_tx_begin(ferry_store *base, ferry_err *err)
{
    sqlite3 *db = ferry_sqlite_store_db(base);

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(db, err, "beginning the run's transaction");
    return FERRY_OK;
}

static ferry_rc st_tx_commit(ferry_store *base, ferry_err *err)
{
    sqlite3 *db = ferry_sqlite_store_db(base);

    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(db, err, "committing the run's record");
    return FERRY_OK;
}

static void st_tx_rollback(ferry_store *base)
{
    sqlite3 *db = ferry_sqlite_store_db(base);

    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

static const ferry_store_ops sqlite_ops = {
    .run_start = st_run_start,
    .run_finish = st_run_finish,
    .run_requeue = st_run_requeue,
    .run_get = st_run_get,
    .run_list = st_run_list,
    .run_enqueue = st_run_enqueue,
    .run_claim = st_run_claim,
    .run_cancel_queued = st_run_cancel_queued,
    .run_recover = st_run_recover,
    .run_heartbeat = st_run_heartbeat,
    .run_reclaim_expired = st_run_reclaim_expired,
    .user_add = st_user_add,
    .user_get = st_user_get,
    .user_list = st_user_list,
    .user_set_password = st_user_set_password,
    .user_set_disabled = st_user_set_disabled,
    .token_add = st_token_add,
    .token_list = st_token_list,
    .token_revoke = st_token_revoke,
    .token_auth = st_token_auth,
    .user_set_role = st_user_set_role,
    .session_add = st_session_add,
    .session_auth = st_session_auth,
    .session_delete = st_session_delete,
    .session_purge = st_session_purge,
    .audit_add = st_audit_add,
    .audit_list = st_audit_list,
    .sync_stats = st_sync_stats,
    .changes_add = st_changes_add,
    .change_list = st_change_list,
    .target_new = st_target_new,
    .node_beat = st_node_beat,
    .node_list = st_node_list,
    .node_leave = st_node_leave,
    .schedule_claim = st_schedule_claim,
    .run_request_cancel = st_run_request_cancel,
    .run_cancel_requested = st_run_cancel_requested,
    .tx_begin = st_tx_begin,
    .tx_commit = st_tx_commit,
    .tx_rollback = st_tx_rollback,
    .free = st_free,
};

static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

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
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                     " PRAGMA foreign_keys = ON;",
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
    sqlite_store *s;
    ferry_rc rc;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the store");
    s->base.ops = &sqlite_ops;
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
    st_free(&s->base);
    return rc;
}

struct sqlite3 *ferry_sqlite_store_db(ferry_store *st)
{
    return ((sqlite_store *)st)->db;
}
