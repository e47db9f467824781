/* pg_store.c - the store on PostgreSQL (see store.h), for several Ferry processes sharing one
 * database.
 *
 * One connection (libpq) per store object; a store belongs to one thread at a time, and every
 * thread that needs the database opens its own. Every statement is parameterised
 * (PQexecParams, values sent as text); no value is ever spliced into SQL.
 *
 * Schema. Opening migrates: in one transaction that first takes a transaction-level advisory
 * lock (pg_advisory_xact_lock), the version in ferry_schema_version is read and the missing
 * steps are applied, so any number of processes may start at once against an empty database:
 * one creates the tables, the others wait for it and then find them. A database written by a
 * newer Ferry is refused. The tables are those of the SQLite store plus ferry_nodes (the
 * processes serving the database), ferry_schedule_fires (which scheduled firings were claimed)
 * and ferry_cancel_requests. Ids are bigint identities; times are timestamptz holding whole
 * milliseconds (values from Ferry are sent as ISO 8601 UTC text; the database's own clock is
 * truncated to milliseconds) and read back as epoch milliseconds.
 *
 * Several processes. At most one queued-or-running run per (sync, coalesce(tenant, '')) is a
 * partial unique index; run_start and run_enqueue insert with ON CONFLICT DO NOTHING, so a
 * second run is refused (or the active one returned) without an error aborting anything, and
 * concurrent enqueues wait on the index for the first one's transaction and then find its run.
 * run_claim takes the oldest queued run with FOR UPDATE SKIP LOCKED: claimers on other
 * connections skip a row another one is taking, and a run is handed to exactly one of them.
 * Leases use the database's clock (clock_timestamp(), not now(), which is the start of the
 * transaction), never the hosts' clocks.
 *
 * Transactions. A run's target shares this connection (ferry_pg_store_conn()): its change rows
 * (changes_add) and its final record (run_finish) are written inside the target's open
 * transaction and commit or roll back with its rows; the store never commits a transaction it
 * did not begin. The heartbeat written inside that transaction locks the run's row until the
 * run commits. That is why run_reclaim_expired and run_recover skip locked rows (a row locked
 * by a live transaction belongs to a live run; a dead process's transaction is rolled back by
 * the server, which releases its locks), and why a cancel request is a row of its own
 * (ferry_cancel_requests) rather than an UPDATE of the run that would wait for the run to end.
 *
 * Broken connections. When the connection is found broken, it is reset (PQreset) once and the
 * statement tried again, except by the calls made inside a run's transaction (changes_add,
 * run_heartbeat, run_cancel_requested, and run_finish of a successful run): the transaction is
 * gone, and a new connection under the target would let its remaining statements commit one
 * by one. Those calls fail; the run fails, rolls back, and records its failure (a failed run's
 * run_finish does reconnect).
 *
 * Change rows are written with COPY FROM STDIN in text format, one COPY per call (a batch of
 * up to 256 rows, sent in pieces of COPY_CHUNK bytes): a million rows take about 3 s on a
 * local server, as fast as a prepared 256-row INSERT and over ten times faster than one
 * INSERT per row, with no statement to prepare again after a reconnect.
 *
 * Secrets. Errors name the database by its URL without user, password or query string, and
 * every message is scrubbed of the connection's password before it is stored. Tokens and
 * sessions are stored only as SHA-256 hashes, which never appear in a message. */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "store/store.h"
#include "target/target.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* PostgreSQL schema version this Ferry writes (independent of SQLite's). */
#define SCHEMA_VERSION 3

/* The advisory lock key that serialises migrations: "ferry" in ASCII. */
#define MIGRATE_LOCK_KEY "435459617401"

/* A token's last use and a session's last request are written at most this often. */
#define TOUCH_EVERY_MS 60000

/* audit_list's page size when the filter gives none, and its largest. */
#define AUDIT_LIST_DEFAULT 100
#define AUDIT_LIST_MAX 1001

/* Nodes silent this long are deleted by node_beat; claimed schedule firings this old are
 * deleted by schedule_claim, at most once per FIRES_PURGE_EVERY_MS. */
#define NODE_FORGET "1 day"
#define FIRES_KEEP "7 days"
#define FIRES_PURGE_EVERY_MS (3600 * 1000LL)

/* changes_add sends COPY data in pieces of about this size. */
#define COPY_CHUNK (256 * 1024)

/* A database time as epoch milliseconds (NULL stays NULL). */
#define MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"
/* The database's clock, to the millisecond. */
#define CLOCK "date_trunc('milliseconds', clock_timestamp())"

typedef struct {
    ferry_store base;
    PGconn *conn;
    char where[512];         /* the URL without user, password or query, for messages */
    int64_t fires_purged_ms; /* when schedule_claim last deleted old firings */
} pg_store;

static const char *const schema_v1 =
    "CREATE TABLE IF NOT EXISTS ferry_runs ("
    "  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  sync text NOT NULL,"
    "  tenant text,"
    "  trigger text NOT NULL,"
    "  user_name text,"
    "  status text NOT NULL,"
    "  phase text NOT NULL,"
    "  percent integer NOT NULL DEFAULT 0,"
    "  processed bigint NOT NULL DEFAULT 0,"
    "  total bigint,"
    "  created bigint NOT NULL DEFAULT 0,"
    "  updated bigint NOT NULL DEFAULT 0,"
    "  unchanged bigint NOT NULL DEFAULT 0,"
    "  skipped bigint NOT NULL DEFAULT 0,"
    "  failed bigint NOT NULL DEFAULT 0,"
    "  deleted bigint NOT NULL DEFAULT 0,"
    "  ui_message text,"
    "  log_message text,"
    "  error text,"
    "  error_code text,"
    "  dry_run boolean NOT NULL DEFAULT false,"
    "  queued_at timestamptz NOT NULL,"
    "  started_at timestamptz,"
    "  finished_at timestamptz,"
    "  heartbeat_at timestamptz,"
    "  duration_ms bigint,"
    "  lease_owner text,"
    "  attempt integer NOT NULL DEFAULT 1,"
    "  cancelled_by text,"
    "  token_label text"
    ");"
    "CREATE UNIQUE INDEX IF NOT EXISTS ferry_runs_one_active"
    "  ON ferry_runs (sync, (coalesce(tenant, ''))) WHERE status IN ('queued', 'running');"
    "CREATE INDEX IF NOT EXISTS ferry_runs_by_sync ON ferry_runs (sync, id);"
    "CREATE INDEX IF NOT EXISTS ferry_runs_queued ON ferry_runs (id) WHERE status = 'queued';"
    "CREATE INDEX IF NOT EXISTS ferry_runs_running ON ferry_runs (id)"
    "  WHERE status = 'running';"
    "CREATE TABLE IF NOT EXISTS ferry_changes ("
    "  run_id bigint NOT NULL,"
    "  seq bigint NOT NULL,"
    "  record_key text,"
    "  outcome text NOT NULL,"
    "  \"row\" bigint,"
    "  reason text,"
    "  diff text,"
    "  PRIMARY KEY (run_id, seq)"
    ");"
    "CREATE TABLE IF NOT EXISTS ferry_cancel_requests ("
    "  run_id bigint PRIMARY KEY,"
    "  user_name text,"
    "  requested_at timestamptz NOT NULL"
    ");"
    "CREATE TABLE IF NOT EXISTS ferry_users ("
    "  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  name text NOT NULL,"
    "  role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),"
    "  password_hash text NOT NULL,"
    "  disabled boolean NOT NULL DEFAULT false,"
    "  created_at timestamptz NOT NULL,"
    "  password_changed_at timestamptz NOT NULL"
    ");"
    "CREATE UNIQUE INDEX IF NOT EXISTS ferry_users_name ON ferry_users (lower(name));"
    "CREATE TABLE IF NOT EXISTS ferry_api_tokens ("
    "  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  user_id bigint NOT NULL REFERENCES ferry_users (id),"
    "  label text NOT NULL,"
    "  token_hash text NOT NULL UNIQUE,"
    "  created_at timestamptz NOT NULL,"
    "  last_used_at timestamptz,"
    "  revoked_at timestamptz"
    ");"
    "CREATE TABLE IF NOT EXISTS ferry_sessions ("
    "  session_hash text PRIMARY KEY,"
    "  user_id bigint NOT NULL REFERENCES ferry_users (id),"
    "  created_at timestamptz NOT NULL,"
    "  last_seen_at timestamptz NOT NULL"
    ");"
    "CREATE INDEX IF NOT EXISTS ferry_sessions_by_user ON ferry_sessions (user_id);"
    "CREATE TABLE IF NOT EXISTS ferry_audit ("
    "  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  at timestamptz NOT NULL,"
    "  actor text,"
    "  action text NOT NULL,"
    "  target text,"
    "  detail text,"
    "  client text"
    ");"
    "CREATE INDEX IF NOT EXISTS ferry_audit_by_actor ON ferry_audit (actor, id);"
    "CREATE TABLE IF NOT EXISTS ferry_nodes ("
    "  id text PRIMARY KEY,"
    "  address text,"
    "  workers integer NOT NULL DEFAULT 0,"
    "  started_at timestamptz NOT NULL,"
    "  heartbeat_at timestamptz NOT NULL"
    ");"
    "CREATE TABLE IF NOT EXISTS ferry_schedule_fires ("
    "  sync text NOT NULL,"
    "  tenant text NOT NULL,"
    "  due_ms bigint NOT NULL,"
    "  node text,"
    "  claimed_at timestamptz NOT NULL,"
    "  PRIMARY KEY (sync, tenant, due_ms)"
    ");"
    "CREATE INDEX IF NOT EXISTS ferry_schedule_fires_by_time"
    "  ON ferry_schedule_fires (claimed_at);";

/* Version 2: a run started with --allow-missing (or "allow_missing": true) may delete or
 * flag more rows than the sync's guard allows. */
static const char *const schema_v2 =
    "ALTER TABLE ferry_runs ADD COLUMN IF NOT EXISTS allow_missing boolean NOT NULL DEFAULT false;";

/* Version 3: the interrupted run a run is the next attempt of. */
static const char *const schema_v3 =
    "ALTER TABLE ferry_runs ADD COLUMN IF NOT EXISTS retry_of bigint;";

/* Parameters of one statement, as text (NULL is SQL NULL). */
#define MAX_PARAMS 24
typedef struct {
    int n;
    const char *v[MAX_PARAMS];
    char num[MAX_PARAMS][FERRY_ISO_TIME_MAX];
} params;

static void p_text(params *p, const char *s)
{
    p->v[p->n++] = s;
}

static void p_int(params *p, int64_t x)
{
    snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)x);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

/* A time in ms as ISO 8601 text, or NULL when ms <= 0 (not yet). */
static void p_time(params *p, int64_t ms)
{
    if (ms <= 0) {
        p->v[p->n++] = NULL;
        return;
    }
    ferry_time_format_iso(ms, p->num[p->n]);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

static void p_bool(params *p, bool b)
{
    p->v[p->n++] = b ? "t" : "f";
}

/* Replaces every occurrence of secret in text (in place) with "***". */
static void scrub(char *text, size_t size, const char *secret)
{
    size_t slen = secret != NULL ? strlen(secret) : 0;
    char *from = text, *hit;

    if (slen == 0)
        return;
    while ((hit = strstr(from, secret)) != NULL) {
        size_t tail = strlen(hit + slen);
        if (slen >= 3 || strlen(text) + 3 - slen < size) {
            memmove(hit + 3, hit + slen, tail + 1);
            memcpy(hit, "***", 3);
            from = hit + 3;
        } else {
            memset(hit, '*', slen);
            from = hit + slen;
        }
    }
}

/* Copies a libpq message into out on one line: the "ERROR:  " prefix dropped, newlines and
 * tabs folded into single spaces, the connection's password scrubbed. */
static void clean_message(PGconn *conn, const char *msg, char *out, size_t outlen)
{
    size_t n = 0;
    bool space = false;

    if (msg == NULL || msg[0] == '\0')
        msg = "the connection was lost";
    if (strncmp(msg, "ERROR:  ", 8) == 0)
        msg += 8;
    for (const char *p = msg; *p != '\0' && n + 1 < outlen; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < outlen)
            out[n++] = ' ';
        space = false;
        out[n++] = *p;
    }
    out[n] = '\0';
    if (conn != NULL)
        scrub(out, outlen, PQpass(conn));
}

/* err = "database: what: the server's reason" (FERRY_EDB). res may be NULL. */
static ferry_rc db_error(pg_store *s, const PGresult *res, const char *what, ferry_err *err)
{
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char text[700];

    clean_message(s->conn, msg != NULL ? msg : PQerrorMessage(s->conn), text, sizeof(text));
    return ferry_err_set(err, FERRY_EDB, "database: %s: %s", what, text);
}

/* Whether a failed call may reconnect and try again (see the top comment). */
typedef enum { NO_RESET = 0, MAY_RESET } reset_policy;

/* Runs sql with p's parameters (p may be NULL). Returns the result (the caller PQclear()s
 * it), or NULL with err set. With MAY_RESET, a connection found broken is reset once, and a
 * statement that failed because the connection broke, outside a transaction, is tried once
 * more. */
static PGresult *run_sql(pg_store *s, reset_policy policy, const char *what, const char *sql,
                         const params *p, ferry_err *err)
{
    bool reset = false;
    PGresult *res;

    for (;;) {
        if (PQstatus(s->conn) == CONNECTION_BAD) {
            if (policy != MAY_RESET || reset) {
                db_error(s, NULL, what, err);
                return NULL;
            }
            PQreset(s->conn);
            reset = true;
        }
        PGTransactionStatusType tx = PQtransactionStatus(s->conn);
        res = PQexecParams(s->conn, sql, p != NULL ? p->n : 0, NULL, p != NULL ? p->v : NULL, NULL,
                           NULL, 0);
        ExecStatusType status = PQresultStatus(res);
        if (res != NULL && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK))
            return res;
        if (policy == MAY_RESET && !reset && tx == PQTRANS_IDLE &&
            PQstatus(s->conn) == CONNECTION_BAD) {
            PQclear(res);
            continue;
        }
        db_error(s, res, what, err);
        PQclear(res);
        return NULL;
    }
}

/* Runs sql, several statements without parameters (schema steps), on a working connection. */
static ferry_rc run_script(pg_store *s, const char *what, const char *sql, ferry_err *err)
{
    PGresult *res = PQexec(s->conn, sql);
    ferry_rc rc = FERRY_OK;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = db_error(s, res, what, err);
    PQclear(res);
    return rc;
}

/* Runs sql and returns the number of rows it changed, or -1 with err set. */
static int64_t run_count(pg_store *s, reset_policy policy, const char *what, const char *sql,
                         const params *p, ferry_err *err)
{
    PGresult *res = run_sql(s, policy, what, sql, p, err);
    int64_t n;

    if (res == NULL)
        return -1;
    n = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return n;
}

static char *col_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static int64_t col_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static bool col_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

/* Begins a transaction when none is open. *ret_own says whether this call began it (and so
 * must end it). */
static ferry_rc tx_begin(pg_store *s, const char *what, bool *ret_own, ferry_err *err)
{
    PGresult *res;

    *ret_own = false;
    if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        return FERRY_OK;
    res = run_sql(s, MAY_RESET, what, "BEGIN", NULL, err);
    if (res == NULL)
        return FERRY_EDB;
    PQclear(res);
    *ret_own = true;
    return FERRY_OK;
}

static ferry_rc tx_commit(pg_store *s, bool own, const char *what, ferry_err *err)
{
    PGresult *res;

    if (!own)
        return FERRY_OK;
    res = run_sql(s, NO_RESET, what, "COMMIT", NULL, err);
    if (res == NULL)
        return FERRY_EDB;
    PQclear(res);
    return FERRY_OK;
}

static void tx_rollback(pg_store *s, bool own)
{
    if (own && PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

static ferry_rc migrate(pg_store *s, ferry_err *err)
{
    static const char *const what = "creating Ferry's tables";
    const char *const steps[SCHEMA_VERSION] = {schema_v1, schema_v2, schema_v3};
    PGresult *res;
    ferry_rc rc;
    bool own;
    int version;

    if ((rc = tx_begin(s, what, &own, err)) != FERRY_OK)
        return rc;
    /* Every process starting at once takes this lock in turn; the first one creates the
     * tables, the others then find them at the current version. */
    if (run_script(s, what,
                   "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ");"
                   "CREATE TABLE IF NOT EXISTS ferry_schema_version (version integer NOT NULL)",
                   err) != FERRY_OK)
        goto out_fail;
    res = run_sql(s, NO_RESET, what, "SELECT coalesce(max(version), 0) FROM ferry_schema_version",
                  NULL, err);
    if (res == NULL)
        goto out_fail;
    version = (int)col_int(res, 0, 0);
    PQclear(res);
    if (version > SCHEMA_VERSION) {
        ferry_err_set(err, FERRY_EDB,
                      "the database was written by a newer Ferry (schema version %d; this Ferry "
                      "knows up to %d)",
                      version, SCHEMA_VERSION);
        goto out_fail;
    }
    /* Each step runs in the same transaction: a failed migration changes nothing. */
    for (int v = version; v < SCHEMA_VERSION; v++) {
        params p = {0};
        if (run_script(s, what, steps[v], err) != FERRY_OK ||
            run_script(s, what, "DELETE FROM ferry_schema_version", err) != FERRY_OK)
            goto out_fail;
        p_int(&p, v + 1);
        res = run_sql(s, NO_RESET, what, "INSERT INTO ferry_schema_version (version) VALUES ($1)",
                      &p, err);
        if (res == NULL)
            goto out_fail;
        PQclear(res);
    }
    return tx_commit(s, own, what, err);

out_fail:
    tx_rollback(s, own);
    return FERRY_EDB;
}

#define RUN_COLUMNS                                                                                \
    "id, sync, tenant, trigger, user_name, status, phase, percent, processed, total, created,"     \
    " updated, unchanged, skipped, failed, deleted, ui_message, log_message, error,"               \
    " error_code, dry_run, " MS("queued_at") ", " MS("started_at") ", " MS(                        \
        "finished_at") ", duration_ms, attempt, token_label, cancelled_by,"                        \
                       " CASE WHEN status = 'running' THEN lease_owner END, allow_missing,"        \
                       " retry_of"

static void run_from_row(const PGresult *r, int i, ferry_run *run)
{
    memset(run, 0, sizeof(*run));
    run->id = col_int(r, i, 0);
    run->sync = col_str(r, i, 1);
    run->tenant = col_str(r, i, 2);
    run->trigger = col_str(r, i, 3);
    run->user = col_str(r, i, 4);
    ferry_run_status_parse(PQgetvalue(r, i, 5), &run->status);
    run->phase = col_str(r, i, 6);
    run->percent = (int)col_int(r, i, 7);
    run->processed = col_int(r, i, 8);
    run->total = PQgetisnull(r, i, 9) ? -1 : col_int(r, i, 9);
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
        run->counts[o] = col_int(r, i, 10 + o);
    run->ui_message = col_str(r, i, 16);
    run->log_message = col_str(r, i, 17);
    run->error = col_str(r, i, 18);
    run->error_code = col_str(r, i, 19);
    run->dry_run = col_bool(r, i, 20);
    run->queued_at_ms = col_int(r, i, 21);
    run->started_at_ms = col_int(r, i, 22);
    run->finished_at_ms = col_int(r, i, 23);
    run->duration_ms = col_int(r, i, 24);
    run->attempt = (int)col_int(r, i, 25);
    run->token = col_str(r, i, 26);
    run->cancelled_by = col_str(r, i, 27);
    run->node = col_str(r, i, 28);
    run->allow_missing = col_bool(r, i, 29);
    run->retry_of = col_int(r, i, 30);
}

/* When the active run of (sync, tenant) belongs to a process of this host that no longer
 * exists, marks it interrupted so a new run can start. Returns true when a run was reaped. */
static bool reap_stale(pg_store *s, const ferry_run *run)
{
    static const char *const find =
        "SELECT id, lease_owner FROM ferry_runs WHERE sync = $1 AND coalesce(tenant, '') ="
        " coalesce($2, '') AND status IN ('queued', 'running')";
    /* A row locked by a live transaction is not a dead process's: skip it, never wait. */
    static const char *const mark =
        "UPDATE ferry_runs SET status = 'interrupted', phase = 'done', finished_at = " CLOCK ","
        " error = $2, error_code = 'interrupted', ui_message = $3 WHERE id = (SELECT id FROM"
        " ferry_runs WHERE id = $1 AND status = 'running' FOR UPDATE SKIP LOCKED)";
    char why[512], ui[600];
    params p = {0};
    PGresult *res;
    int64_t id = 0;
    long pid = 0;
    bool dead = false;

    p_text(&p, run->sync);
    p_text(&p, run->tenant);
    res = run_sql(s, MAY_RESET, "reading the active run", find, &p, NULL);
    if (res == NULL)
        return false;
    if (PQntuples(res) == 1) {
        id = col_int(res, 0, 0);
        dead = ferry_store_owner_is_dead(PQgetvalue(res, 0, 1), &pid);
    }
    PQclear(res);
    if (!dead)
        return false;
    snprintf(why, sizeof(why),
             "the process running it (pid %ld) ended before the run finished; its transaction "
             "was rolled back, so nothing was changed",
             pid);
    snprintf(ui, sizeof(ui), "Sync of %s was interrupted: %s.", run->sync, why);
    p = (params){0};
    p_int(&p, id);
    p_text(&p, why);
    p_text(&p, ui);
    if (run_count(s, MAY_RESET, "interrupting the run", mark, &p, NULL) != 1)
        return false;
    {
        ferry_err ignored;
        ferry_err_clear(&ignored);
        ferry_store_audit_interrupted(&s->base, id, ui, &ignored);
    }
    return true;
}

static ferry_rc pg_run_start(ferry_store *base, const ferry_run *run, int64_t *ret_id,
                             ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    static const char *const sql =
        "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase, total,"
        " dry_run, queued_at, started_at, heartbeat_at, attempt, lease_owner, token_label,"
        " allow_missing)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, " CLOCK ", $11, $12, $13, $14)"
        " ON CONFLICT (sync, (coalesce(tenant, ''))) WHERE status IN ('queued', 'running')"
        " DO NOTHING RETURNING id";
    char owner[300];
    PGresult *res;
    int64_t id = 0;

    ferry_node_self(owner, sizeof(owner));
    for (int attempt = 0;; attempt++) {
        params p = {0};
        p_text(&p, run->sync);
        p_text(&p, run->tenant);
        p_text(&p, run->trigger != NULL ? run->trigger : "cli");
        p_text(&p, run->user);
        p_text(&p, ferry_run_status_name(run->status));
        p_text(&p, run->phase != NULL ? run->phase : "queued");
        if (run->total >= 0)
            p_int(&p, run->total);
        else
            p_text(&p, NULL);
        p_bool(&p, run->dry_run);
        p_time(&p, run->queued_at_ms);
        p_time(&p, run->started_at_ms);
        p_int(&p, run->attempt > 0 ? run->attempt : 1);
        p_text(&p, owner);
        p_text(&p, run->token);
        p_bool(&p, run->allow_missing);
        res = run_sql(s, MAY_RESET, "recording the run", sql, &p, err);
        if (res == NULL)
            return FERRY_EDB;
        if (PQntuples(res) == 1)
            id = col_int(res, 0, 0);
        PQclear(res);
        /* Nothing inserted: the one-active-run index has a run of (sync, tenant). */
        if (id > 0 || attempt > 0 || !reap_stale(s, run))
            break;
    }
    if (id == 0)
        return ferry_err_set(err, FERRY_EINVAL, "a run of '%s'%s%s is already queued or running",
                             run->sync, run->tenant ? " for tenant " : "",
                             run->tenant ? run->tenant : "");
    *ret_id = id;
    return FERRY_OK;
}

static ferry_rc pg_run_finish(ferry_store *base, const ferry_run *run, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    static const char *const sql =
        "UPDATE ferry_runs SET status = $2, phase = $3, percent = $4, processed = $5,"
        " total = $6, created = $7, updated = $8, unchanged = $9, skipped = $10, failed = $11,"
        " deleted = $12, ui_message = $13, log_message = $14, error = $15, error_code = $16,"
        " finished_at = $17, heartbeat_at = " CLOCK ", duration_ms = $18,"
        " cancelled_by = COALESCE($20, cancelled_by) WHERE id = $1 AND"
        " status = 'running' AND (lease_owner IS NULL OR lease_owner = $19)";
    char owner[300];
    params p = {0};
    int64_t n;

    /* Conditioned on the lease: a process whose run was taken over cannot record it, and
     * since this write is part of the run's transaction, cannot commit it either. And on
     * the run still running: a failure recorded after a COMMIT whose answer was lost (the
     * connection broke) never overwrites what that COMMIT stored. */
    ferry_node_self(owner, sizeof(owner));
    p_int(&p, run->id);
    p_text(&p, ferry_run_status_name(run->status));
    p_text(&p, run->phase != NULL ? run->phase : "done");
    p_int(&p, run->percent);
    p_int(&p, run->processed);
    if (run->total >= 0)
        p_int(&p, run->total);
    else
        p_text(&p, NULL);
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++)
        p_int(&p, run->counts[i]);
    p_text(&p, run->ui_message);
    p_text(&p, run->log_message);
    p_text(&p, run->error);
    p_text(&p, run->error_code);
    p_time(&p, run->finished_at_ms);
    p_int(&p, run->duration_ms);
    p_text(&p, owner);
    p_text(&p, run->cancelled_by);
    /* A successful run's record is written inside its target's transaction: never on a
     * new connection. A failure is recorded after the rollback, and may reconnect. */
    n = run_count(s, run->status == FERRY_RUN_SUCCEEDED ? NO_RESET : MAY_RESET,
                  "recording the run's result", sql, &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND,
                             "run %lld is not held by this process any more (its lease was "
                             "taken over, or the run does not exist)",
                             (long long)run->id);
    return FERRY_OK;
}

static ferry_rc pg_run_get(ferry_store *base, int64_t id, ferry_run *ret_run, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    params p = {0};
    PGresult *res;

    p_int(&p, id);
    res = run_sql(s, MAY_RESET, "reading the run",
                  "SELECT " RUN_COLUMNS " FROM ferry_runs WHERE id = $1", &p, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no run %lld", (long long)id);
    }
    run_from_row(res, 0, ret_run);
    PQclear(res);
    return FERRY_OK;
}

/* Copies every row of res into a new array of runs (*ret_runs, owned by the caller). */
static ferry_rc runs_from_result(const PGresult *res, const char *what, ferry_run **ret_runs,
                                 size_t *ret_n, ferry_err *err)
{
    size_t n = (size_t)PQntuples(res);
    ferry_run *runs = NULL;

    if (n > 0 && (runs = calloc(n, sizeof(*runs))) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "%s", what);
    for (size_t i = 0; i < n; i++)
        run_from_row(res, (int)i, &runs[i]);
    *ret_runs = runs;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc pg_run_list(ferry_store *base, const ferry_run_filter *filter, ferry_run **ret_runs,
                            size_t *ret_n, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    static const char *const sql =
        "SELECT " RUN_COLUMNS " FROM ferry_runs"
        " WHERE ($1::text IS NULL OR sync = $1) AND ($3::text IS NULL OR status = $3)"
        " AND ($4::bigint = 0 OR id < $4) AND ($5::text IS NULL OR trigger = $5)"
        " AND ($6::timestamptz IS NULL OR queued_at >= $6)"
        " AND ($7::text IS NULL OR tenant = $7) AND ($8::text IS NULL OR user_name = $8)"
        " AND ($9::timestamptz IS NULL OR queued_at < $9) ORDER BY id DESC LIMIT $2";
    params p = {0};
    PGresult *res;
    ferry_rc rc;

    p_text(&p, filter->sync);
    p_int(&p, filter->limit > 0 ? filter->limit : 20);
    p_text(&p, filter->status);
    p_int(&p, filter->before_id > 0 ? filter->before_id : 0);
    p_text(&p, filter->trigger);
    p_time(&p, filter->since_ms);
    p_text(&p, filter->tenant);
    p_text(&p, filter->user);
    p_time(&p, filter->until_ms);
    res = run_sql(s, MAY_RESET, "listing runs", sql, &p, err);
    if (res == NULL)
        return FERRY_EDB;
    rc = runs_from_result(res, "listing runs", ret_runs, ret_n, err);
    PQclear(res);
    return rc;
}

/* Appends s (NULL allowed) to b as a COPY text field. */
static ferry_rc copy_field(ferry_buf *b, const char *s)
{
    return ferry_buf_append_copy_text(b, s, s != NULL ? strlen(s) : 0);
}

static ferry_rc copy_change(ferry_buf *b, const ferry_change *c)
{
    char num[64];
    ferry_rc rc;

    snprintf(num, sizeof(num), "%lld\t%lld\t", (long long)c->run_id, (long long)c->seq);
    if ((rc = ferry_buf_append(b, num, strlen(num))) != FERRY_OK ||
        (rc = copy_field(b, c->record_key)) != FERRY_OK)
        return rc;
    if (c->row > 0)
        snprintf(num, sizeof(num), "\t%s\t%ld\t", ferry_outcome_name(c->outcome), c->row);
    else
        snprintf(num, sizeof(num), "\t%s\t\\N\t", ferry_outcome_name(c->outcome));
    if ((rc = ferry_buf_append(b, num, strlen(num))) != FERRY_OK ||
        (rc = copy_field(b, c->reason)) != FERRY_OK ||
        (rc = ferry_buf_append(b, "\t", 1)) != FERRY_OK ||
        (rc = copy_field(b, c->diff)) != FERRY_OK)
        return rc;
    return ferry_buf_append(b, "\n", 1);
}

static ferry_rc pg_changes_add(ferry_store *base, const ferry_change *c, size_t n, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    static const char *const what = "recording changes";
    ferry_rc rc = FERRY_OK;
    bool sending = true;
    PGresult *res;
    ferry_buf b;

    if (n == 0)
        return FERRY_OK;
    /* Inside the run's transaction when there is one: never on a new connection. */
    if (PQstatus(s->conn) == CONNECTION_BAD)
        return db_error(s, NULL, what, err);
    res = PQexec(s->conn, "COPY ferry_changes (run_id, seq, record_key, outcome, \"row\","
                          " reason, diff) FROM STDIN");
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = db_error(s, res, what, err);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    ferry_buf_init(&b, 64 * 1024 * 1024);
    for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
        rc = copy_change(&b, &c[i]);
        if (rc == FERRY_OK && (b.len >= COPY_CHUNK || i + 1 == n)) {
            if (PQputCopyData(s->conn, b.data, (int)b.len) != 1) {
                rc = db_error(s, NULL, what, err);
                sending = false;
            }
            ferry_buf_reset(&b);
        }
    }
    if (rc != FERRY_OK && rc != FERRY_EDB)
        ferry_err_set(err, rc, "%s: a change row is too large", what);
    ferry_buf_done(&b);
    if (sending && PQputCopyEnd(s->conn, rc == FERRY_OK ? NULL : "Ferry stopped the copy") != 1 &&
        rc == FERRY_OK)
        rc = db_error(s, NULL, what, err);
    /* The copy's outcome, then the end of the results. */
    while ((res = PQgetResult(s->conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == FERRY_OK)
            rc = db_error(s, res, what, err);
        PQclear(res);
    }
    return rc;
}

static ferry_rc pg_change_list(ferry_store *base, int64_t run_id, const ferry_change_filter *filter,
                               ferry_change **ret_changes, size_t *ret_n, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    ferry_change *changes = NULL;
    params p = {0};
    PGresult *res;
    size_t n;

    p_int(&p, run_id);
    p_text(&p, filter->outcome >= 0 ? ferry_outcome_name((ferry_outcome)filter->outcome) : NULL);
    if (filter->limit > 0)
        p_int(&p, filter->limit);
    else
        p_text(&p, NULL); /* LIMIT NULL: no limit */
    p_int(&p, filter->after_seq);
    res =
        run_sql(s, MAY_RESET, "listing changes",
                "SELECT run_id, seq, record_key, outcome, \"row\", reason, diff FROM ferry_changes"
                " WHERE run_id = $1 AND ($2::text IS NULL OR outcome = $2) AND seq > $4"
                " ORDER BY seq LIMIT $3",
                &p, err);
    if (res == NULL)
        return FERRY_EDB;
    n = (size_t)PQntuples(res);
    if (n > 0 && (changes = calloc(n, sizeof(*changes))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "listing changes");
    }
    for (size_t i = 0; i < n; i++) {
        ferry_change *c = &changes[i];
        c->run_id = col_int(res, (int)i, 0);
        c->seq = col_int(res, (int)i, 1);
        c->record_key = col_str(res, (int)i, 2);
        ferry_outcome_parse(PQgetvalue(res, (int)i, 3), &c->outcome);
        c->row = (long)col_int(res, (int)i, 4);
        c->reason = col_str(res, (int)i, 5);
        c->diff = col_str(res, (int)i, 6);
    }
    PQclear(res);
    *ret_changes = changes;
    *ret_n = n;
    return FERRY_OK;
}

/* Loads the queued or running run of (sync, tenant); FERRY_ENOTFOUND when there is none. */
static ferry_rc active_run(pg_store *s, const char *sync, const char *tenant, ferry_run *ret,
                           ferry_err *err)
{
    params p = {0};
    PGresult *res;

    p_text(&p, sync);
    p_text(&p, tenant);
    res = run_sql(s, MAY_RESET, "reading the active run",
                  "SELECT " RUN_COLUMNS " FROM ferry_runs WHERE sync = $1 AND coalesce(tenant, '')"
                  " = coalesce($2, '') AND status IN ('queued', 'running')",
                  &p, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "no active run of '%s'", sync);
    }
    run_from_row(res, 0, ret);
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc pg_run_enqueue(ferry_store *base, const ferry_run *run, ferry_run *ret_run,
                               bool *ret_created, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    static const char *const what = "queueing the run";
    static const char *const sql =
        "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase, dry_run,"
        " queued_at, attempt, token_label, allow_missing) VALUES ($1, $2, $3, $4, 'queued',"
        " 'queued', $5, $6, 1, $7, $8) ON CONFLICT (sync, (coalesce(tenant, ''))) WHERE status IN "
        "('queued',"
        " 'running') DO NOTHING RETURNING " RUN_COLUMNS;
    ferry_rc rc;
    bool own;

    /* A few rounds: the active run that blocked the insert may end before it is read. */
    for (int attempt = 0; attempt < 4; attempt++) {
        params p = {0};
        PGresult *res;

        p_text(&p, run->sync);
        p_text(&p, run->tenant);
        p_text(&p, run->trigger != NULL ? run->trigger : "api");
        p_text(&p, run->user);
        p_bool(&p, run->dry_run);
        p_time(&p, run->queued_at_ms > 0 ? run->queued_at_ms : ferry_time_now_ms());
        p_text(&p, run->token);
        p_bool(&p, run->allow_missing);
        /* Concurrent enqueues of the same (sync, tenant) wait on the index for this
         * transaction, then insert nothing. */
        if ((rc = tx_begin(s, what, &own, err)) != FERRY_OK)
            return rc;
        res = run_sql(s, NO_RESET, what, sql, &p, err);
        if (res == NULL) {
            tx_rollback(s, own);
            return FERRY_EDB;
        }
        if (PQntuples(res) == 1) {
            run_from_row(res, 0, ret_run);
            PQclear(res);
            if (ret_run->sync == NULL) {
                ferry_run_done(ret_run);
                tx_rollback(s, own);
                return ferry_err_set(err, FERRY_ENOMEM, "%s", what);
            }
            if ((rc = tx_commit(s, own, what, err)) != FERRY_OK) {
                ferry_run_done(ret_run);
                tx_rollback(s, own);
                return rc;
            }
            *ret_created = true;
            return FERRY_OK;
        }
        PQclear(res);
        tx_rollback(s, own);
        rc = active_run(s, run->sync, run->tenant, ret_run, err);
        if (rc == FERRY_ENOTFOUND) {
            ferry_err_clear(err);
            continue;
        }
        if (rc != FERRY_OK)
            return rc;
        /* A run left by a dead process of this host is reaped, and a new one queued. */
        if (attempt == 0 && reap_stale(s, run)) {
            ferry_run_done(ret_run);
            continue;
        }
        *ret_created = false;
        return FERRY_OK;
    }
    return ferry_err_set(err, FERRY_EDB, "database: %s: the active run kept changing", what);
}

static ferry_rc pg_run_claim(ferry_store *base, ferry_run *ret_run, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    /* SKIP LOCKED: a queued row another connection is claiming is skipped, not waited for,
     * and the status is checked again on the locked row, so no run is claimed twice. */
    static const char *const sql =
        "UPDATE ferry_runs SET status = 'running', phase = 'connecting', started_at = " CLOCK ","
        " heartbeat_at = " CLOCK ", lease_owner = $1 WHERE id = (SELECT id FROM ferry_runs"
        " WHERE status = 'queued' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) AND status ="
        " 'queued' RETURNING " RUN_COLUMNS;
    char owner[300];
    params p = {0};
    PGresult *res;

    ferry_node_self(owner, sizeof(owner));
    p_text(&p, owner);
    res = run_sql(s, MAY_RESET, "claiming a run", sql, &p, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return FERRY_DONE;
    }
    run_from_row(res, 0, ret_run);
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc pg_run_cancel_queued(ferry_store *base, int64_t id, const char *user,
                                     ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    static const char *const sql =
        "WITH c AS (UPDATE ferry_runs SET status = 'cancelled', phase = 'done', finished_at ="
        " $2, cancelled_by = $3, duration_ms = 0, error_code = 'cancelled', ui_message = 'Sync"
        " of ' || sync || ' was cancelled before it started. Nothing was changed.' WHERE id ="
        " $1 AND status = 'queued' RETURNING id)"
        " INSERT INTO ferry_cancel_requests (run_id, user_name, requested_at)"
        " SELECT id, $3, " CLOCK " FROM c ON CONFLICT (run_id) DO UPDATE SET user_name ="
        " excluded.user_name";
    params p = {0};
    int64_t n;

    p_int(&p, id);
    p_time(&p, ferry_time_now_ms());
    p_text(&p, user);
    n = run_count(s, MAY_RESET, "cancelling the run", sql, &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is not queued", (long long)id);
    return FERRY_OK;
}

/* Runs sql ($1 the run's id, $2 this process) on a running run this process holds:
 * FERRY_ENOTFOUND when it changed nothing (the lease was lost, or the run ended). */
static ferry_rc update_held_run(pg_store *s, reset_policy policy, const char *what, const char *sql,
                                int64_t id, ferry_err *err)
{
    char owner[300];
    params p = {0};
    int64_t n;

    ferry_node_self(owner, sizeof(owner));
    p_int(&p, id);
    p_text(&p, owner);
    n = run_count(s, policy, what, sql, &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is no longer held by this process",
                             (long long)id);
    return FERRY_OK;
}

static ferry_rc pg_run_heartbeat(ferry_store *base, int64_t id, ferry_err *err)
{
    /* Called inside the run's transaction too: never on a new connection. */
    return update_held_run((pg_store *)base, NO_RESET, "renewing the run's lease",
                           "UPDATE ferry_runs SET heartbeat_at = " CLOCK " WHERE id = $1 AND"
                           " status = 'running' AND lease_owner = $2",
                           id, err);
}

static ferry_rc pg_run_requeue(ferry_store *base, int64_t id, ferry_err *err)
{
    /* After the run's rollback: its own transaction, and may reconnect. */
    return update_held_run((pg_store *)base, MAY_RESET, "queueing the run again",
                           "UPDATE ferry_runs SET status = 'queued', phase = 'queued', percent ="
                           " 0, processed = 0, lease_owner = NULL, started_at = NULL WHERE id ="
                           " $1 AND status = 'running' AND lease_owner = $2",
                           id, err);
}

/* Runs sql (inside the caller's transaction: never on a new connection) for its effect;
 * its result, or NULL with err set. */
static PGresult *run_in_tx(pg_store *s, const char *sql, const params *p, ferry_err *err)
{
    return run_sql(s, NO_RESET, "recording an interrupted run", sql, p, err);
}

/* Records that run (running, locked by the open transaction) will not finish because its
 * process stopped (cause says how), as rec says (store.h, ferry_recovery): the run ends as
 * interrupted with its next attempt queued, or as failed; the audit trail gets the story.
 * *ret_next is the queued run's id, or 0. */
static ferry_rc interrupt_held(pg_store *s, const ferry_run *run, const char *cause,
                               const ferry_recovery *rec, int64_t *ret_next, ferry_err *err)
{
    int retries = ferry_store_retries(rec, run->sync);
    bool again = run->attempt <= retries;
    char why[800], ui[1000], target[64];
    int64_t next = 0;
    PGresult *res;
    params p = {0};

    /* Ended first: the one-active-run index then takes the next attempt. */
    p_int(&p, run->id);
    p_text(&p, again ? "interrupted" : "failed");
    if ((res = run_in_tx(s,
                         "UPDATE ferry_runs SET status = $2, phase = 'done', finished_at = " CLOCK
                         ", error_code = 'interrupted', percent = 0, processed = 0 WHERE id = $1",
                         &p, err)) == NULL)
        return FERRY_EDB;
    PQclear(res);
    if (again) {
        p = (params){0};
        p_int(&p, run->id);
        res = run_in_tx(
            s,
            "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase,"
            " dry_run, queued_at, attempt, token_label, allow_missing, retry_of)"
            " SELECT sync, tenant, trigger, user_name, 'queued', 'queued', dry_run, " CLOCK
            ", attempt + 1, token_label, allow_missing, id FROM ferry_runs"
            " WHERE id = $1 RETURNING id",
            &p, err);
        if (res == NULL)
            return FERRY_EDB;
        next = PQntuples(res) == 1 ? col_int(res, 0, 0) : 0;
        PQclear(res);
    }
    ferry_store_interruption_text(cause, run->attempt, retries, next, why, sizeof(why));
    snprintf(ui, sizeof(ui), "Sync of %s %s: %s.", run->sync, again ? "was interrupted" : "failed",
             why);
    snprintf(target, sizeof(target), "run %lld", (long long)run->id);
    p = (params){0};
    p_int(&p, run->id);
    p_text(&p, why);
    p_text(&p, ui);
    p_text(&p, target);
    if ((res = run_in_tx(s,
                         "WITH u AS (UPDATE ferry_runs SET error = $2, ui_message = $3,"
                         " log_message = $3 WHERE id = $1) INSERT INTO ferry_audit (at, action,"
                         " target, detail) VALUES (" CLOCK ", 'run.interrupted', $4, $3)",
                         &p, err)) == NULL)
        return FERRY_EDB;
    PQclear(res);
    *ret_next = next;
    return FERRY_OK;
}

/* Ends running run id as interrupt_held() says, in a transaction of its own, then calls
 * rec->on_interrupted; only while owner still holds it, its heartbeat is over lease_ms old
 * and no transaction holds its row (a live run's), the checks that chose it, made again on
 * the locked row. Returns 1 when it ended the run, 0 when it did not (any more), -1 with err
 * set on failure. */
static int interrupt_run(pg_store *s, int64_t id, const char *owner, int64_t lease_ms,
                         const char *cause, const ferry_recovery *rec, ferry_err *err)
{
    ferry_run run, ended, next;
    int64_t next_id = 0;
    PGresult *res;
    params p = {0};
    bool own;
    ferry_rc rc;

    if (tx_begin(s, "recording an interrupted run", &own, err) != FERRY_OK)
        return -1;
    p_int(&p, id);
    p_text(&p, owner);
    p_int(&p, lease_ms);
    res = run_in_tx(s,
                    "SELECT " RUN_COLUMNS " FROM ferry_runs WHERE id = $1 AND status = 'running'"
                    " AND lease_owner IS NOT DISTINCT FROM $2 AND heartbeat_at <="
                    " clock_timestamp() - $3::bigint * interval '1 millisecond'"
                    " FOR UPDATE SKIP LOCKED",
                    &p, err);
    if (res == NULL || PQntuples(res) == 0) {
        PQclear(res);
        tx_rollback(s, own);
        return res == NULL ? -1 : 0;
    }
    run_from_row(res, 0, &run);
    PQclear(res);
    rc = interrupt_held(s, &run, cause, rec, &next_id, err);
    ferry_run_done(&run);
    if (rc != FERRY_OK || tx_commit(s, own, "recording an interrupted run", err) != FERRY_OK) {
        tx_rollback(s, own);
        return -1;
    }
    if (rec != NULL && rec->on_interrupted != NULL &&
        pg_run_get(&s->base, id, &ended, err) == FERRY_OK) {
        bool have_next = next_id > 0 && pg_run_get(&s->base, next_id, &next, err) == FERRY_OK;
        rec->on_interrupted(rec->ctx, &ended, have_next ? &next : NULL);
        ferry_run_done(&ended);
        if (have_next)
            ferry_run_done(&next);
    }
    return 1;
}

/* Ends, with interrupt_run(), the running runs (id, lease owner) sql selects ($1 =
 * lease_ms): all of them, or with dead_only those whose owner is a dead process of this
 * host. */
static ferry_rc interrupt_where(pg_store *s, const char *sql, int64_t lease_ms, bool dead_only,
                                const ferry_recovery *rec, int *ret_n, ferry_err *err)
{
    PGresult *res;
    params p = {0};
    int ended = 0;

    p_int(&p, lease_ms);
    res = run_sql(s, MAY_RESET, "recovering runs", sql, &p, err);
    if (res == NULL)
        return FERRY_EDB;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *owner = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1);
        char cause[400];
        int done;
        if (dead_only && !ferry_store_owner_is_dead(owner, NULL))
            continue;
        if (dead_only)
            snprintf(cause, sizeof(cause),
                     "the process running it (%s) ended before the run finished",
                     owner != NULL ? owner : "unknown");
        else
            snprintf(cause, sizeof(cause),
                     "the process running it (%s) sent no heartbeat for %llds, its lease",
                     owner != NULL ? owner : "unknown", (long long)(lease_ms / 1000));
        done =
            interrupt_run(s, col_int(res, i, 0), owner, dead_only ? 0 : lease_ms, cause, rec, err);
        if (done < 0) {
            PQclear(res);
            return FERRY_EDB;
        }
        ended += done;
    }
    PQclear(res);
    *ret_n = ended;
    return FERRY_OK;
}

static ferry_rc pg_run_reclaim_expired(ferry_store *base, int64_t lease_ms,
                                       const ferry_recovery *rec, int *ret_n, ferry_err *err)
{
    /* The database's clock decides, the same one heartbeats are written with. A row locked
     * by an open transaction is a live run's (its heartbeat is in that transaction):
     * interrupt_run skips it. */
    return interrupt_where((pg_store *)base,
                           "SELECT id, lease_owner FROM ferry_runs WHERE status = 'running' AND"
                           " heartbeat_at < clock_timestamp() - $1::bigint * interval"
                           " '1 millisecond' ORDER BY id LIMIT 256",
                           lease_ms, false, rec, ret_n, err);
}

static ferry_rc pg_run_recover(ferry_store *base, const ferry_recovery *rec, int *ret_n,
                               ferry_err *err)
{
    return interrupt_where((pg_store *)base,
                           "SELECT id, lease_owner FROM ferry_runs WHERE status = 'running' AND"
                           " $1::bigint >= 0 ORDER BY id LIMIT 256",
                           0, true, rec, ret_n, err);
}

static ferry_rc pg_sync_stats(ferry_store *base, const char *sync, ferry_sync_stats *out,
                              ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    static const char *const what = "computing run statistics";
    static const char *const by_status =
        "SELECT status, count(*), sum(created), sum(updated), sum(unchanged), sum(skipped),"
        " sum(failed), sum(deleted) FROM ferry_runs WHERE sync = $1 GROUP BY status";
    static const char *const durations =
        "SELECT count(*), coalesce(avg(duration_ms), 0)::float8,"
        " coalesce(sum(duration_ms), 0)::float8 FROM ferry_runs WHERE sync = $1 AND finished_at"
        " IS NOT NULL AND duration_ms IS NOT NULL";
    static const char *const nth =
        "SELECT duration_ms FROM ferry_runs WHERE sync = $1 AND finished_at IS NOT NULL AND"
        " duration_ms IS NOT NULL ORDER BY duration_ms LIMIT 1 OFFSET $2";
    static const char *const le =
        "SELECT count(*) FILTER (WHERE duration_ms <= $2), count(*) FILTER (WHERE duration_ms"
        " <= $3), count(*) FILTER (WHERE duration_ms <= $4), count(*) FILTER (WHERE"
        " duration_ms <= $5), count(*) FILTER (WHERE duration_ms <= $6), count(*) FILTER"
        " (WHERE duration_ms <= $7), count(*) FILTER (WHERE duration_ms <= $8), count(*)"
        " FILTER (WHERE duration_ms <= $9) FROM ferry_runs WHERE sync = $1 AND finished_at IS"
        " NOT NULL";
    static const char *const reasons =
        "SELECT c.reason FROM ferry_changes c JOIN ferry_runs r ON r.id = c.run_id"
        " WHERE r.sync = $1 AND c.outcome = 'failed' AND c.reason IS NOT NULL"
        " ORDER BY c.run_id DESC LIMIT 5000";
    ferry_store_tally tally;
    ferry_run_status status;
    params p = {0};
    PGresult *res;

    memset(out, 0, sizeof(*out));
    p_text(&p, sync);
    if ((res = run_sql(s, MAY_RESET, what, by_status, &p, err)) == NULL)
        return FERRY_EDB;
    for (int i = 0; i < PQntuples(res); i++) {
        if (!ferry_run_status_parse(PQgetvalue(res, i, 0), &status))
            continue;
        out->by_status[status] = col_int(res, i, 1);
        for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
            out->records[o] += col_int(res, i, 2 + o);
    }
    PQclear(res);
    if ((res = run_sql(s, MAY_RESET, what, durations, &p, err)) == NULL)
        return FERRY_EDB;
    out->finished = col_int(res, 0, 0);
    out->avg_ms = strtod(PQgetvalue(res, 0, 1), NULL);
    out->duration_sum_ms = strtod(PQgetvalue(res, 0, 2), NULL);
    PQclear(res);
    if (out->finished > 0) {
        params q = {0};
        p_text(&q, sync);
        p_int(&q, (out->finished * 95 + 99) / 100 - 1);
        if ((res = run_sql(s, MAY_RESET, what, nth, &q, err)) == NULL)
            return FERRY_EDB;
        if (PQntuples(res) == 1)
            out->p95_ms = col_int(res, 0, 0);
        PQclear(res);
    }
    params b = {0};
    p_text(&b, sync);
    for (int i = 0; i < FERRY_STATS_BUCKETS; i++)
        p_int(&b, ferry_stats_bucket_ms[i]);
    if ((res = run_sql(s, MAY_RESET, what, le, &b, err)) == NULL)
        return FERRY_EDB;
    for (int i = 0; i < FERRY_STATS_BUCKETS; i++)
        out->duration_le[i] = col_int(res, 0, i);
    PQclear(res);
    if ((res = run_sql(s, MAY_RESET, "reading failure reasons", reasons, &p, err)) == NULL)
        return FERRY_EDB;
    memset(&tally, 0, sizeof(tally));
    for (int i = 0; i < PQntuples(res); i++)
        ferry_store_tally_add(&tally, PQgetvalue(res, i, 0));
    PQclear(res);
    ferry_store_tally_take(&tally, out);
    return FERRY_OK;
}

#define USER_COLUMNS                                                                               \
    "id, name, role, password_hash, disabled, " MS("created_at") ", " MS("password_changed_at")

static void user_from_row(const PGresult *r, int i, ferry_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = col_int(r, i, 0);
    u->name = col_str(r, i, 1);
    ferry_role_parse(PQgetvalue(r, i, 2), &u->role);
    u->password_hash = col_str(r, i, 3);
    u->disabled = col_bool(r, i, 4);
    u->created_at_ms = col_int(r, i, 5);
    u->password_changed_at_ms = col_int(r, i, 6);
}

static ferry_rc pg_user_add(ferry_store *base, const char *name, ferry_role role,
                            const char *password_hash, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    params p = {0};
    int64_t n;

    p_text(&p, name);
    p_text(&p, ferry_role_name(role));
    p_text(&p, password_hash);
    p_time(&p, ferry_time_now_ms());
    /* The only unique index is the name's (regardless of case). */
    n = run_count(s, MAY_RESET, "adding the user",
                  "INSERT INTO ferry_users (name, role, password_hash, created_at,"
                  " password_changed_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
                  &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_EINVAL, "a user named '%s' already exists", name);
    return FERRY_OK;
}

static ferry_rc pg_user_get(ferry_store *base, const char *name, ferry_user *ret, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    params p = {0};
    PGresult *res;

    p_text(&p, name);
    res =
        run_sql(s, MAY_RESET, "reading the user",
                "SELECT " USER_COLUMNS " FROM ferry_users WHERE lower(name) = lower($1)", &p, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", name);
    }
    user_from_row(res, 0, ret);
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc pg_user_list(ferry_store *base, ferry_user **ret_users, size_t *ret_n,
                             ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    ferry_user *users = NULL;
    PGresult *res;
    size_t n;

    res = run_sql(s, MAY_RESET, "listing users",
                  "SELECT " USER_COLUMNS " FROM ferry_users ORDER BY lower(name), name", NULL, err);
    if (res == NULL)
        return FERRY_EDB;
    n = (size_t)PQntuples(res);
    if (n > 0 && (users = calloc(n, sizeof(*users))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "listing users");
    }
    for (size_t i = 0; i < n; i++)
        user_from_row(res, (int)i, &users[i]);
    PQclear(res);
    *ret_users = users;
    *ret_n = n;
    return FERRY_OK;
}

/* Runs an UPDATE of the user named $1 that returns its id; FERRY_ENOTFOUND when there is
 * none. */
static ferry_rc update_user(pg_store *s, const char *sql, const params *p, const char *name,
                            ferry_err *err)
{
    int64_t n = run_count(s, MAY_RESET, "changing the user", sql, p, err);

    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", name);
    return FERRY_OK;
}

/* One statement changes the user and deletes every session of it: a changed password or a
 * disabled user logs every browser out, or nothing changes at all. */
#define ENDING_SESSIONS(update)                                                                    \
    "WITH u AS (" update " RETURNING id), d AS (DELETE FROM ferry_sessions WHERE user_id IN"       \
    " (SELECT id FROM u)) SELECT id FROM u"

static ferry_rc pg_user_set_password(ferry_store *base, const char *name, const char *password_hash,
                                     ferry_err *err)
{
    params p = {0};

    p_text(&p, name);
    p_text(&p, password_hash);
    p_time(&p, ferry_time_now_ms());
    return update_user((pg_store *)base,
                       ENDING_SESSIONS("UPDATE ferry_users SET password_hash = $2,"
                                       " password_changed_at = $3 WHERE lower(name) = lower($1)"),
                       &p, name, err);
}

static ferry_rc pg_user_set_disabled(ferry_store *base, const char *name, bool disabled,
                                     ferry_err *err)
{
    params p = {0};

    p_text(&p, name);
    if (!disabled)
        return update_user((pg_store *)base,
                           "UPDATE ferry_users SET disabled = false WHERE lower(name) = lower($1)",
                           &p, name, err);
    return update_user((pg_store *)base,
                       ENDING_SESSIONS("UPDATE ferry_users SET disabled = true WHERE lower(name) ="
                                       " lower($1)"),
                       &p, name, err);
}

static ferry_rc pg_user_set_role(ferry_store *base, const char *name, ferry_role role,
                                 ferry_err *err)
{
    ferry_role parsed;
    params p = {0};

    if (!ferry_role_parse(ferry_role_name(role), &parsed))
        return ferry_err_set(err, FERRY_EINVAL, "unknown role %d", (int)role);
    p_text(&p, name);
    p_text(&p, ferry_role_name(role));
    return update_user((pg_store *)base,
                       "UPDATE ferry_users SET role = $2 WHERE lower(name) = lower($1)", &p, name,
                       err);
}

static ferry_rc pg_token_add(ferry_store *base, const char *user, const char *label,
                             const char *token_hash, int64_t *ret_id, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    params p = {0};
    PGresult *res;

    p_text(&p, user);
    p_text(&p, label);
    p_text(&p, token_hash);
    p_time(&p, ferry_time_now_ms());
    res = run_sql(s, MAY_RESET, "adding the token",
                  "INSERT INTO ferry_api_tokens (user_id, label, token_hash, created_at)"
                  " SELECT id, $2, $3, $4 FROM ferry_users WHERE lower(name) = lower($1)"
                  " RETURNING id",
                  &p, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", user);
    }
    *ret_id = col_int(res, 0, 0);
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc pg_token_list(ferry_store *base, ferry_token **ret_tokens, size_t *ret_n,
                              ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    ferry_token *tokens = NULL;
    PGresult *res;
    size_t n;

    res = run_sql(s, MAY_RESET, "listing tokens",
                  "SELECT t.id, u.name, t.label, " MS("t.created_at") ", " MS(
                      "t.last_used_at") ", " MS("t.revoked_at") " FROM ferry_api_tokens t JOIN"
                                                                " ferry_users u ON u.id = t.user_id"
                                                                " ORDER BY t.id",
                  NULL, err);
    if (res == NULL)
        return FERRY_EDB;
    n = (size_t)PQntuples(res);
    if (n > 0 && (tokens = calloc(n, sizeof(*tokens))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "listing tokens");
    }
    for (size_t i = 0; i < n; i++) {
        ferry_token *t = &tokens[i];
        t->id = col_int(res, (int)i, 0);
        t->user = col_str(res, (int)i, 1);
        t->label = col_str(res, (int)i, 2);
        t->created_at_ms = col_int(res, (int)i, 3);
        t->last_used_at_ms = col_int(res, (int)i, 4);
        t->revoked_at_ms = col_int(res, (int)i, 5);
    }
    PQclear(res);
    *ret_tokens = tokens;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc pg_token_revoke(ferry_store *base, int64_t id, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    params p = {0};
    int64_t n;

    p_int(&p, id);
    p_time(&p, ferry_time_now_ms());
    n = run_count(s, MAY_RESET, "revoking the token",
                  "UPDATE ferry_api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS"
                  " NULL",
                  &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no active token %lld", (long long)id);
    return FERRY_OK;
}

/* Runs a bookkeeping write (a token's last use, a session's last request, an expired
 * session's deletion) on a row that is not locked, never waiting for one that is: the
 * request that triggered it must not wait for it. sql's $1 is the key, $2 (when used) now.
 * A skipped write is done by a later request. Returns true when the row was written. */
static bool write_if_free(pg_store *s, const char *sql, const char *key, int64_t now)
{
    params p = {0};

    p_text(&p, key);
    p_time(&p, now);
    return run_count(s, MAY_RESET, "bookkeeping", sql, &p, NULL) == 1;
}

static ferry_rc pg_token_auth(ferry_store *base, const char *token_hash, ferry_principal *ret,
                              ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    static const char *const sql =
        "SELECT t.id, t.label, u.id, u.name, u.role, u.disabled, " MS("t.created_at") ", " MS(
            "t.last_used_at") ", t.revoked_at IS NOT NULL FROM ferry_api_tokens t JOIN"
                              " ferry_users u ON u.id = t.user_id WHERE t.token_hash = $1";
    static const char *const touch =
        "UPDATE ferry_api_tokens SET last_used_at = $2 WHERE id = (SELECT id FROM"
        " ferry_api_tokens WHERE id = $1::bigint FOR UPDATE SKIP LOCKED)";
    int64_t now = ferry_time_now_ms();
    bool disabled, revoked;
    ferry_principal p;
    params q = {0};
    PGresult *res;
    ferry_rc frc;
    char id[32];

    p_text(&q, token_hash);
    res = run_sql(s, MAY_RESET, "checking the API token", sql, &q, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "no such API token");
    }
    memset(&p, 0, sizeof(p));
    p.token_id = col_int(res, 0, 0);
    p.token_label = col_str(res, 0, 1);
    p.user_id = col_int(res, 0, 2);
    p.user = col_str(res, 0, 3);
    ferry_role_parse(PQgetvalue(res, 0, 4), &p.role);
    disabled = col_bool(res, 0, 5);
    p.created_at_ms = col_int(res, 0, 6);
    p.last_seen_at_ms = col_int(res, 0, 7);
    revoked = col_bool(res, 0, 8);
    PQclear(res);
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
    snprintf(id, sizeof(id), "%lld", (long long)p.token_id);
    if ((p.last_seen_at_ms == 0 || now - p.last_seen_at_ms > TOUCH_EVERY_MS) &&
        write_if_free(s, touch, id, now))
        p.last_seen_at_ms = now;
    *ret = p;
    return FERRY_OK;

out_done:
    ferry_principal_done(&p);
    return frc;
}

static ferry_rc pg_session_add(ferry_store *base, const char *user, const char *session_hash,
                               ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    params p = {0};
    PGresult *res;
    int64_t n;
    bool disabled;

    p_text(&p, session_hash);
    p_text(&p, user);
    p_time(&p, ferry_time_now_ms());
    n = run_count(s, MAY_RESET, "starting the session",
                  "INSERT INTO ferry_sessions (session_hash, user_id, created_at, last_seen_at)"
                  " SELECT $1, id, $3, $3 FROM ferry_users WHERE lower(name) = lower($2) AND NOT"
                  " disabled",
                  &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 1)
        return FERRY_OK;
    /* No row was inserted: say whether the user is missing or disabled. */
    p = (params){0};
    p_text(&p, user);
    res = run_sql(s, MAY_RESET, "starting the session",
                  "SELECT disabled FROM ferry_users WHERE lower(name) = lower($1)", &p, err);
    if (res == NULL)
        return FERRY_EDB;
    disabled = PQntuples(res) == 1 && col_bool(res, 0, 0);
    PQclear(res);
    if (disabled)
        return ferry_err_set(err, FERRY_ENOTFOUND, "user '%s' is disabled", user);
    return ferry_err_set(err, FERRY_ENOTFOUND, "there is no user named '%s'", user);
}

static ferry_rc pg_session_auth(ferry_store *base, const char *session_hash, int64_t idle_ms,
                                int64_t max_ms, ferry_principal *ret, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    static const char *const sql =
        "SELECT u.id, u.name, u.role, u.disabled, " MS("s.created_at") ", " MS(
            "s.last_seen_at") " FROM ferry_sessions s JOIN ferry_users u ON u.id = s.user_id"
                              " WHERE s.session_hash = $1";
    static const char *const end =
        "DELETE FROM ferry_sessions WHERE session_hash = (SELECT session_hash FROM ferry_sessions"
        " WHERE session_hash = $1 FOR UPDATE SKIP LOCKED) AND $2::text IS NOT NULL";
    static const char *const touch =
        "UPDATE ferry_sessions SET last_seen_at = $2 WHERE session_hash = (SELECT session_hash"
        " FROM ferry_sessions WHERE session_hash = $1 FOR UPDATE SKIP LOCKED)";
    int64_t now = ferry_time_now_ms();
    char limit[64];
    ferry_principal p;
    params q = {0};
    PGresult *res;
    bool disabled;
    ferry_rc frc;

    p_text(&q, session_hash);
    res = run_sql(s, MAY_RESET, "checking the session", sql, &q, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "no such session");
    }
    memset(&p, 0, sizeof(p));
    p.user_id = col_int(res, 0, 0);
    p.user = col_str(res, 0, 1);
    ferry_role_parse(PQgetvalue(res, 0, 2), &p.role);
    disabled = col_bool(res, 0, 3);
    p.created_at_ms = col_int(res, 0, 4);
    p.last_seen_at_ms = col_int(res, 0, 5);
    PQclear(res);
    if (p.user == NULL) {
        frc = ferry_err_set(err, FERRY_ENOMEM, "checking the session");
        goto out_done;
    }
    /* A dead session is deleted on the way out, so it cannot come back when the user is
     * enabled again. */
    if (disabled) {
        write_if_free(s, end, session_hash, now);
        frc = ferry_err_set(err, FERRY_ENOTFOUND, "user '%s' is disabled", p.user);
        goto out_done;
    }
    if (now - p.last_seen_at_ms > idle_ms) {
        write_if_free(s, end, session_hash, now);
        ferry_time_format_duration(idle_ms, limit, sizeof(limit));
        frc = ferry_err_set(err, FERRY_ENOTFOUND,
                            "the session expired (no request for more than %s)", limit);
        goto out_done;
    }
    if (now - p.created_at_ms > max_ms) {
        write_if_free(s, end, session_hash, now);
        ferry_time_format_duration(max_ms, limit, sizeof(limit));
        frc = ferry_err_set(err, FERRY_ENOTFOUND, "the session expired (older than %s)", limit);
        goto out_done;
    }
    /* Recorded at most once a minute, and at least four times per idle period. */
    int64_t touch_every = idle_ms / 4 < TOUCH_EVERY_MS ? idle_ms / 4 : TOUCH_EVERY_MS;
    if (now - p.last_seen_at_ms > touch_every && write_if_free(s, touch, session_hash, now))
        p.last_seen_at_ms = now;
    *ret = p;
    return FERRY_OK;

out_done:
    ferry_principal_done(&p);
    return frc;
}

static ferry_rc pg_session_delete(ferry_store *base, const char *session_hash, ferry_err *err)
{
    params p = {0};

    p_text(&p, session_hash);
    if (run_count((pg_store *)base, MAY_RESET, "ending the session",
                  "DELETE FROM ferry_sessions WHERE session_hash = $1", &p, err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

static ferry_rc pg_session_purge(ferry_store *base, int64_t idle_ms, int64_t max_ms, ferry_err *err)
{
    int64_t now = ferry_time_now_ms();
    params p = {0};

    /* The same test as session_auth's. A bound at or before the epoch is NULL, which
     * matches nothing. */
    p_time(&p, now - idle_ms);
    p_time(&p, now - max_ms);
    if (run_count((pg_store *)base, MAY_RESET, "deleting expired sessions",
                  "DELETE FROM ferry_sessions WHERE last_seen_at < $1 OR created_at < $2", &p,
                  err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

static ferry_rc pg_audit_add(ferry_store *base, const ferry_audit_entry *e, ferry_err *err)
{
    params p = {0};

    if (e->action == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "an audit entry needs an action");
    p_time(&p, ferry_time_now_ms());
    p_text(&p, e->actor);
    p_text(&p, e->action);
    p_text(&p, e->target);
    p_text(&p, e->detail);
    p_text(&p, e->client);
    if (run_count((pg_store *)base, MAY_RESET, "recording the audit entry",
                  "INSERT INTO ferry_audit (at, actor, action, target, detail, client) VALUES ($1,"
                  " $2, $3, $4, $5, $6)",
                  &p, err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

static ferry_rc pg_audit_list(ferry_store *base, const ferry_audit_filter *filter,
                              ferry_audit_entry **ret, size_t *ret_n, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    ferry_audit_entry *entries = NULL;
    int limit = filter->limit;
    params p = {0};
    PGresult *res;
    size_t n;

    if (limit <= 0)
        limit = AUDIT_LIST_DEFAULT;
    if (limit > AUDIT_LIST_MAX)
        limit = AUDIT_LIST_MAX;
    p_text(&p, filter->actor);
    p_text(&p, filter->action);
    p_int(&p, filter->before_id > 0 ? filter->before_id : 0);
    p_int(&p, limit);
    res = run_sql(s, MAY_RESET, "listing the audit log",
                  "SELECT id, " MS("at") ", actor, action, target, detail, client FROM ferry_audit"
                                         " WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS"
                                         " NULL OR action = $2) AND ($3::bigint = 0 OR id < $3)"
                                         " ORDER BY id DESC LIMIT $4",
                  &p, err);
    if (res == NULL)
        return FERRY_EDB;
    n = (size_t)PQntuples(res);
    if (n > 0 && (entries = calloc(n, sizeof(*entries))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "listing the audit log");
    }
    for (size_t i = 0; i < n; i++) {
        ferry_audit_entry *e = &entries[i];
        e->id = col_int(res, (int)i, 0);
        e->at_ms = col_int(res, (int)i, 1);
        e->actor = col_str(res, (int)i, 2);
        e->action = col_str(res, (int)i, 3);
        e->target = col_str(res, (int)i, 4);
        e->detail = col_str(res, (int)i, 5);
        e->client = col_str(res, (int)i, 6);
        if (e->action == NULL) {
            PQclear(res);
            ferry_audit_free(entries, n);
            return ferry_err_set(err, FERRY_ENOMEM, "listing the audit log");
        }
    }
    PQclear(res);
    *ret = entries;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc pg_node_beat(ferry_store *base, const char *address, int workers, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    char self[300];
    params p = {0};

    ferry_node_self(self, sizeof(self));
    p_text(&p, self);
    p_text(&p, address);
    p_int(&p, workers);
    if (run_count(s, MAY_RESET, "recording this node",
                  "INSERT INTO ferry_nodes (id, address, workers, started_at, heartbeat_at) VALUES"
                  " ($1, $2, $3, " CLOCK ", " CLOCK ") ON CONFLICT (id) DO UPDATE SET address ="
                  " excluded.address, workers = excluded.workers, heartbeat_at ="
                  " excluded.heartbeat_at",
                  &p, err) < 0)
        return FERRY_EDB;
    if (run_count(s, MAY_RESET, "forgetting silent nodes",
                  "DELETE FROM ferry_nodes WHERE heartbeat_at < clock_timestamp() - interval"
                  " '" NODE_FORGET "'",
                  NULL, err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

static ferry_rc pg_node_list(ferry_store *base, int64_t live_ms, ferry_node **ret_nodes,
                             size_t *ret_n, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    ferry_node *nodes = NULL;
    params p = {0};
    PGresult *res;
    size_t n;

    p_int(&p, live_ms);
    res = run_sql(s, MAY_RESET, "listing nodes",
                  "SELECT id, address, workers, " MS("started_at") ", " MS(
                      "heartbeat_at") " FROM ferry_nodes WHERE heartbeat_at >= clock_timestamp()"
                                      " - $1::bigint * interval '1 millisecond'"
                                      " ORDER BY started_at, id",
                  &p, err);
    if (res == NULL)
        return FERRY_EDB;
    n = (size_t)PQntuples(res);
    if (n > 0 && (nodes = calloc(n, sizeof(*nodes))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "listing nodes");
    }
    for (size_t i = 0; i < n; i++) {
        ferry_node *nd = &nodes[i];
        nd->id = col_str(res, (int)i, 0);
        nd->address = col_str(res, (int)i, 1);
        nd->workers = (int)col_int(res, (int)i, 2);
        nd->started_at_ms = col_int(res, (int)i, 3);
        nd->heartbeat_at_ms = col_int(res, (int)i, 4);
        if (nd->id == NULL) {
            PQclear(res);
            ferry_nodes_free(nodes, n);
            return ferry_err_set(err, FERRY_ENOMEM, "listing nodes");
        }
    }
    PQclear(res);
    *ret_nodes = nodes;
    *ret_n = n;
    return FERRY_OK;
}

static ferry_rc pg_node_leave(ferry_store *base, ferry_err *err)
{
    char self[300];
    params p = {0};

    ferry_node_self(self, sizeof(self));
    p_text(&p, self);
    if (run_count((pg_store *)base, MAY_RESET, "removing this node",
                  "DELETE FROM ferry_nodes WHERE id = $1", &p, err) < 0)
        return FERRY_EDB;
    return FERRY_OK;
}

static ferry_rc pg_schedule_claim(ferry_store *base, const char *sync, const char *tenant,
                                  int64_t due_ms, bool *ret_won, ferry_err *err)
{
    pg_store *s = (pg_store *)base;
    int64_t now = ferry_time_now_ms(), n;
    char self[300];
    params p = {0};

    /* Old firings are only kept so a late node cannot fire them again: a week is plenty. */
    if (now - s->fires_purged_ms > FIRES_PURGE_EVERY_MS) {
        if (run_count(s, MAY_RESET, "forgetting old schedule firings",
                      "DELETE FROM ferry_schedule_fires WHERE claimed_at < clock_timestamp() -"
                      " interval '" FIRES_KEEP "'",
                      NULL, err) < 0)
            return FERRY_EDB;
        s->fires_purged_ms = now;
    }
    ferry_node_self(self, sizeof(self));
    p_text(&p, sync);
    p_text(&p, tenant);
    p_int(&p, due_ms);
    p_text(&p, self);
    /* The primary key decides: concurrent claimers wait for the first one's insert, then
     * insert nothing. */
    n = run_count(s, MAY_RESET, "claiming the schedule's firing",
                  "INSERT INTO ferry_schedule_fires (sync, tenant, due_ms, node, claimed_at)"
                  " VALUES ($1, coalesce($2, ''), $3, $4, " CLOCK ") ON CONFLICT DO NOTHING",
                  &p, err);
    if (n < 0)
        return FERRY_EDB;
    *ret_won = n == 1;
    return FERRY_OK;
}

static ferry_rc pg_run_request_cancel(ferry_store *base, int64_t id, const char *user,
                                      ferry_err *err)
{
    params p = {0};
    int64_t n;

    p_int(&p, id);
    p_text(&p, user);
    /* A row of its own: the run's row may be locked by its transaction until it ends. */
    n = run_count((pg_store *)base, MAY_RESET, "asking to cancel the run",
                  "INSERT INTO ferry_cancel_requests (run_id, user_name, requested_at)"
                  " SELECT id, $2, " CLOCK " FROM ferry_runs WHERE id = $1 AND status ="
                  " 'running' ON CONFLICT (run_id) DO UPDATE SET user_name = excluded.user_name,"
                  " requested_at = excluded.requested_at",
                  &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is not running", (long long)id);
    return FERRY_OK;
}

static ferry_rc pg_run_cancel_requested(ferry_store *base, int64_t id, bool *ret_requested,
                                        char **ret_user, ferry_err *err)
{
    params p = {0};
    PGresult *res;
    char *user = NULL;
    bool requested;

    p_int(&p, id);
    /* Asked by the run's worker inside the run's transaction: never on a new connection. */
    res = run_sql((pg_store *)base, NO_RESET, "reading the run's cancel request",
                  "SELECT c.run_id IS NOT NULL, c.user_name FROM ferry_runs r LEFT JOIN"
                  " ferry_cancel_requests c ON c.run_id = r.id WHERE r.id = $1",
                  &p, err);
    if (res == NULL)
        return FERRY_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOTFOUND, "there is no run %lld", (long long)id);
    }
    requested = col_bool(res, 0, 0);
    if (ret_user != NULL && !PQgetisnull(res, 0, 1) && (user = col_str(res, 0, 1)) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "reading the run's cancel request");
    }
    PQclear(res);
    *ret_requested = requested;
    if (ret_user != NULL)
        *ret_user = user;
    return FERRY_OK;
}

static ferry_rc pg_target_new(ferry_store *base, const ferry_sync_spec *sync, const char *tenant,
                              ferry_target **ret_target, ferry_err *err)
{
    return ferry_pg_target_new(ferry_pg_store_conn(base), sync, tenant, ret_target, err);
}

static void pg_free(ferry_store *base)
{
    pg_store *s = (pg_store *)base;

    if (s == NULL)
        return;
    PQfinish(s->conn);
    free(s);
}

static ferry_rc tx_command(pg_store *s, const char *sql, const char *what, ferry_err *err)
{
    PGresult *res = run_sql(s, NO_RESET, what, sql, NULL, err);

    if (res == NULL)
        return err->code;
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc pg_tx_begin(ferry_store *base, ferry_err *err)
{
    return tx_command((pg_store *)base, "BEGIN", "beginning the run's transaction", err);
}

static ferry_rc pg_tx_commit(ferry_store *base, ferry_err *err)
{
    return tx_command((pg_store *)base, "COMMIT", "committing the run's record", err);
}

static void pg_tx_rollback(ferry_store *base)
{
    pg_store *s = (pg_store *)base;

    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

static const ferry_store_ops pg_ops = {
    .run_start = pg_run_start,
    .run_finish = pg_run_finish,
    .run_requeue = pg_run_requeue,
    .run_get = pg_run_get,
    .run_list = pg_run_list,
    .run_enqueue = pg_run_enqueue,
    .run_claim = pg_run_claim,
    .run_cancel_queued = pg_run_cancel_queued,
    .run_recover = pg_run_recover,
    .run_heartbeat = pg_run_heartbeat,
    .run_reclaim_expired = pg_run_reclaim_expired,
    .user_add = pg_user_add,
    .user_get = pg_user_get,
    .user_list = pg_user_list,
    .user_set_password = pg_user_set_password,
    .user_set_disabled = pg_user_set_disabled,
    .token_add = pg_token_add,
    .token_list = pg_token_list,
    .token_revoke = pg_token_revoke,
    .token_auth = pg_token_auth,
    .user_set_role = pg_user_set_role,
    .session_add = pg_session_add,
    .session_auth = pg_session_auth,
    .session_delete = pg_session_delete,
    .session_purge = pg_session_purge,
    .audit_add = pg_audit_add,
    .audit_list = pg_audit_list,
    .sync_stats = pg_sync_stats,
    .changes_add = pg_changes_add,
    .change_list = pg_change_list,
    .target_new = pg_target_new,
    .node_beat = pg_node_beat,
    .node_list = pg_node_list,
    .node_leave = pg_node_leave,
    .schedule_claim = pg_schedule_claim,
    .run_request_cancel = pg_run_request_cancel,
    .run_cancel_requested = pg_run_cancel_requested,
    .tx_begin = pg_tx_begin,
    .tx_commit = pg_tx_commit,
    .tx_rollback = pg_tx_rollback,
    .free = pg_free,
};

/* Writes url to out without its user, password and query string:
 * "postgres://ana:pw@db:5432/app?sslmode=require" -> "postgres://db:5432/app". */
static void url_for_messages(const char *url, char *out, size_t outlen)
{
    const char *auth = strstr(url, "://"), *end, *at;
    size_t scheme;

    if (auth == NULL) {
        snprintf(out, outlen, "(the database URL)");
        return;
    }
    auth += 3;
    scheme = (size_t)(auth - url);
    end = auth + strcspn(auth, "/?#");
    /* The last '@' before the path ends the user information (a password may hold '@'). */
    at = NULL;
    for (const char *p = auth; p < end; p++) {
        if (*p == '@')
            at = p;
    }
    if (at != NULL)
        auth = at + 1;
    end = auth + strcspn(auth, "?#");
    snprintf(out, outlen, "%.*s%.*s", (int)scheme, url, (int)(end - auth), auth);
}

/* The password in url's user information, as written (percent-encoded), into out ("" when
 * there is none). */
static void url_password(const char *url, char *out, size_t outlen)
{
    const char *auth = strstr(url, "://"), *end, *at = NULL, *colon;

    out[0] = '\0';
    if (auth == NULL)
        return;
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    for (const char *p = auth; p < end; p++) {
        if (*p == '@')
            at = p;
    }
    if (at == NULL || (colon = memchr(auth, ':', (size_t)(at - auth))) == NULL)
        return;
    snprintf(out, outlen, "%.*s", (int)(at - colon - 1), colon + 1);
}

/* libpq prints the server's notices (NOTICE: relation exists, skipping) to stderr by
 * default; a library does not. */
static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Never shows the password: neither the URL's, nor one the server's words repeat. */
static void scrub_url_password(const char *url, PGconn *conn, ferry_err *err)
{
    char raw_password[256];

    if (err == NULL)
        return;
    url_password(url, raw_password, sizeof(raw_password));
    scrub(err->msg, sizeof(err->msg), raw_password);
    if (conn != NULL)
        scrub(err->msg, sizeof(err->msg), PQpass(conn));
    sodium_memzero(raw_password, sizeof(raw_password));
}

ferry_rc ferry_pg_connect(const char *url, struct pg_conn **ret_conn, ferry_err *err)
{
    /* The URL comes last, so what it says overrides these defaults. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *values[] = {"10", "ferry", url, NULL};
    char text[700], where[512];
    PGconn *conn;

    url_for_messages(url, where, sizeof(where));
    conn = PQconnectdbParams(keys, values, 1);
    if (conn == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "database %s: allocating the connection", where);
    PQsetNoticeProcessor(conn, quiet_notices, NULL);
    if (PQstatus(conn) != CONNECTION_OK) {
        clean_message(conn, PQerrorMessage(conn), text, sizeof(text));
        ferry_err_set(err, FERRY_EDB, "database %s: cannot connect: %s", where, text);
        scrub_url_password(url, conn, err);
        PQfinish(conn);
        return FERRY_EDB;
    }
    *ret_conn = conn;
    return FERRY_OK;
}

ferry_rc ferry_pg_store_open(const char *url, ferry_store **ret_store, ferry_err *err)
{
    pg_store *s;
    ferry_rc rc;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the store");
    s->base.ops = &pg_ops;
    url_for_messages(url, s->where, sizeof(s->where));
    if ((rc = ferry_pg_connect(url, &s->conn, err)) != FERRY_OK)
        goto out_free;
    rc = migrate(s, err);
    if (rc != FERRY_OK) {
        ferry_err_prefix(err, "database %s", s->where);
        scrub_url_password(url, s->conn, err);
        goto out_free;
    }
    *ret_store = &s->base;
    return FERRY_OK;

out_free:
    pg_free(&s->base);
    return rc;
}

struct pg_conn *ferry_pg_store_conn(ferry_store *st)
{
    return ((pg_store *)st)->conn;
}
