/* pg_runs.c - the runs interface of the store on PostgreSQL (store.h: runs, changes, stats,
 * the store's own transaction). See pg_conn.c for the design: claims with FOR UPDATE SKIP
 * LOCKED, leases on the database's clock, change rows by COPY in pieces of COPY_CHUNK bytes,
 * and which calls may reconnect. A run whose process stopped is ended as store/internal.h's
 * recovery rule says. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "store/pg.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* changes_add sends COPY data in pieces of about this size. */
#define COPY_CHUNK (256 * 1024)

static void p_bool(ferry_pg_params *p, bool b)
{
    p->v[p->n++] = b ? "t" : "f";
}

/* The times RUN_COLUMNS reads, as epoch ms (NULL stays NULL). */
#define RUN_QUEUED_STARTED_FINISHED MS("queued_at") ", " MS("started_at") ", " MS("finished_at")
#define RUN_HELD_UNTIL MS("held_until")
#define RUN_DECIDED_AT MS("decided_at")
#define RUN_CHANGES_PRUNED_AT MS("changes_pruned_at")

#define RUN_COLUMNS                                                                                \
    "id, sync, tenant, trigger, user_name, status, phase, percent, processed, total, created,"     \
    " updated, unchanged, skipped, failed, deleted, ui_message, log_message, error,"               \
    " error_code, dry_run, " RUN_QUEUED_STARTED_FINISHED ", duration_ms, attempt, token_label,"    \
    " cancelled_by, CASE WHEN status = 'running' THEN lease_owner END, allow_missing,"             \
    " retry_of, steps, skipped_by_label, full_requested, run_mode, since,"                         \
    " source_bytes, source_records, activity, preview, held_reason, held_admin, " RUN_HELD_UNTIL   \
    ", change_digest, decision, decided_by, decision_comment, " RUN_DECIDED_AT                     \
    ", reverts, revert_comment, " RUN_CHANGES_PRUNED_AT

static void run_from_row(const PGresult *r, int i, ferry_run *run)
{
    memset(run, 0, sizeof(*run));
    run->id = ferry_pg_col_int(r, i, 0);
    run->sync = ferry_pg_col_str(r, i, 1);
    run->tenant = ferry_pg_col_str(r, i, 2);
    run->trigger = ferry_pg_col_str(r, i, 3);
    run->user = ferry_pg_col_str(r, i, 4);
    ferry_run_status_parse(PQgetvalue(r, i, 5), &run->status);
    run->phase = ferry_pg_col_str(r, i, 6);
    run->percent = (int)ferry_pg_col_int(r, i, 7);
    run->processed = ferry_pg_col_int(r, i, 8);
    run->total = PQgetisnull(r, i, 9) ? -1 : ferry_pg_col_int(r, i, 9);
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
        run->counts[o] = ferry_pg_col_int(r, i, 10 + o);
    run->ui_message = ferry_pg_col_str(r, i, 16);
    run->log_message = ferry_pg_col_str(r, i, 17);
    run->error = ferry_pg_col_str(r, i, 18);
    run->error_code = ferry_pg_col_str(r, i, 19);
    run->dry_run = ferry_pg_col_bool(r, i, 20);
    run->queued_at_ms = ferry_pg_col_int(r, i, 21);
    run->started_at_ms = ferry_pg_col_int(r, i, 22);
    run->finished_at_ms = ferry_pg_col_int(r, i, 23);
    run->duration_ms = ferry_pg_col_int(r, i, 24);
    run->attempt = (int)ferry_pg_col_int(r, i, 25);
    run->token = ferry_pg_col_str(r, i, 26);
    run->cancelled_by = ferry_pg_col_str(r, i, 27);
    run->node = ferry_pg_col_str(r, i, 28);
    run->allow_missing = ferry_pg_col_bool(r, i, 29);
    run->retry_of = ferry_pg_col_int(r, i, 30);
    run->steps = ferry_pg_col_str(r, i, 31);
    (void)ferry_label_counts_parse(PQgetisnull(r, i, 32) ? NULL : PQgetvalue(r, i, 32),
                                   &run->skipped_by_label);
    run->full = ferry_pg_col_bool(r, i, 33);
    run->mode = ferry_pg_col_str(r, i, 34);
    run->since = ferry_pg_col_str(r, i, 35);
    run->source_bytes = ferry_pg_col_int(r, i, 36);
    run->source_records = PQgetisnull(r, i, 37) ? -1 : ferry_pg_col_int(r, i, 37);
    run->fetched = run->source_records > 0 ? run->source_records : 0;
    run->activity = ferry_pg_col_str(r, i, 38);
    run->preview = ferry_pg_col_bool(r, i, 39);
    run->held_reason = ferry_pg_col_str(r, i, 40);
    run->held_admin = ferry_pg_col_bool(r, i, 41);
    run->held_until_ms = ferry_pg_col_int(r, i, 42);
    run->change_digest = ferry_pg_col_str(r, i, 43);
    run->decision = ferry_pg_col_str(r, i, 44);
    run->decided_by = ferry_pg_col_str(r, i, 45);
    run->decision_comment = ferry_pg_col_str(r, i, 46);
    run->decided_at_ms = ferry_pg_col_int(r, i, 47);
    run->reverts = ferry_pg_col_int(r, i, 48);
    run->revert_comment = ferry_pg_col_str(r, i, 49);
    run->changes_pruned_at_ms = ferry_pg_col_int(r, i, 50);
}

/* When the active run of (sync, tenant) belongs to a process of this host that no longer
 * exists, marks it interrupted so a new run can start. Returns true when a run was reaped. */
static bool reap_stale(ferry_pg_store *s, const ferry_run *run)
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
    ferry_pg_params p = {0};
    PGresult *res;
    int64_t id = 0;
    long pid = 0;
    bool dead = false;

    ferry_pg_param_text(&p, run->sync);
    ferry_pg_param_text(&p, run->tenant);
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "reading the active run", find, &p, NULL);
    if (res == NULL)
        return false;
    if (PQntuples(res) == 1) {
        id = ferry_pg_col_int(res, 0, 0);
        dead = ferry_store_owner_is_dead(PQgetvalue(res, 0, 1), &pid);
    }
    PQclear(res);
    if (!dead)
        return false;
    ferry_store_stale_messages(run->sync, pid, why, sizeof(why), ui, sizeof(ui));
    p = (ferry_pg_params){0};
    ferry_pg_param_int(&p, id);
    ferry_pg_param_text(&p, why);
    ferry_pg_param_text(&p, ui);
    if (ferry_pg_run_count(s, FERRY_PG_MAY_RESET, "interrupting the run", mark, &p, NULL) != 1)
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
    ferry_pg_store *s = (ferry_pg_store *)base;
    static const char *const sql =
        "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase, total,"
        " dry_run, queued_at, started_at, heartbeat_at, attempt, lease_owner, token_label,"
        " allow_missing, full_requested, preview, reverts, revert_comment)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, " CLOCK ", $11, $12, $13, $14, $15,"
        " $16, $17, $18)"
        " ON CONFLICT (sync, (coalesce(tenant, ''))) WHERE status IN ('queued', 'running', 'held')"
        " DO NOTHING RETURNING id";
    char owner[300];
    PGresult *res;
    int64_t id = 0;

    ferry_node_self(owner, sizeof(owner));
    for (int attempt = 0;; attempt++) {
        ferry_pg_params p = {0};
        ferry_pg_param_text(&p, run->sync);
        ferry_pg_param_text(&p, run->tenant);
        ferry_pg_param_text(&p, run->trigger != NULL ? run->trigger : "cli");
        ferry_pg_param_text(&p, run->user);
        ferry_pg_param_text(&p, ferry_run_status_name(run->status));
        ferry_pg_param_text(&p, run->phase != NULL ? run->phase : "queued");
        if (run->total >= 0)
            ferry_pg_param_int(&p, run->total);
        else
            ferry_pg_param_text(&p, NULL);
        p_bool(&p, run->dry_run);
        ferry_pg_param_time(&p, run->queued_at_ms);
        ferry_pg_param_time(&p, run->started_at_ms);
        ferry_pg_param_int(&p, run->attempt > 0 ? run->attempt : 1);
        ferry_pg_param_text(&p, owner);
        ferry_pg_param_text(&p, run->token);
        p_bool(&p, run->allow_missing);
        p_bool(&p, run->full);
        p_bool(&p, run->preview);
        if (run->reverts > 0)
            ferry_pg_param_int(&p, run->reverts);
        else
            ferry_pg_param_text(&p, NULL);
        ferry_pg_param_text(&p, run->revert_comment);
        res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "recording the run", sql, &p, err);
        if (res == NULL)
            return FERRY_EDB;
        if (PQntuples(res) == 1)
            id = ferry_pg_col_int(res, 0, 0);
        PQclear(res);
        /* Nothing inserted: the one-active-run index has a run of (sync, tenant). */
        if (id > 0 || attempt > 0 || !reap_stale(s, run))
            break;
    }
    if (id == 0)
        return ferry_err_set(err, FERRY_EINVAL, FERRY_STORE_ACTIVE_FMT, run->sync,
                             run->tenant ? " for tenant " : "", run->tenant ? run->tenant : "");
    *ret_id = id;
    return FERRY_OK;
}

static ferry_rc finish_write(ferry_pg_store *s, const ferry_run *run, void *arg, ferry_err *err)
{
    static const char *const sql =
        "UPDATE ferry_runs SET status = $2, phase = $3, percent = $4, processed = $5,"
        " total = $6, created = $7, updated = $8, unchanged = $9, skipped = $10, failed = $11,"
        " deleted = $12, ui_message = $13, log_message = $14, error = $15, error_code = $16,"
        " finished_at = $17, heartbeat_at = " CLOCK ", duration_ms = $18,"
        " cancelled_by = COALESCE($20, cancelled_by), steps = $21, skipped_by_label = $22,"
        " run_mode = $23, since = $24, source_bytes = $25, source_records = $26, activity = $27,"
        " held_reason = $28, held_admin = $29, held_until = $30, change_digest = $31"
        " WHERE id = $1 AND"
        " status = 'running' AND (lease_owner IS NULL OR lease_owner = $19)";
    char owner[300], *labels;
    ferry_pg_params p = {0};
    bool oom;
    int64_t n;

    /* Conditioned on the lease: a process whose run was taken over cannot record it, and
     * since this write is part of the run's transaction, cannot commit it either. And on
     * the run still running: a failure recorded after a COMMIT whose answer was lost (the
     * connection broke) never overwrites what that COMMIT stored. */
    ferry_node_self(owner, sizeof(owner));
    ferry_pg_param_int(&p, run->id);
    ferry_pg_param_text(&p, ferry_run_status_name(run->status));
    ferry_pg_param_text(&p, run->phase != NULL ? run->phase : "done");
    ferry_pg_param_int(&p, run->percent);
    ferry_pg_param_int(&p, run->processed);
    if (run->total >= 0)
        ferry_pg_param_int(&p, run->total);
    else
        ferry_pg_param_text(&p, NULL);
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++)
        ferry_pg_param_int(&p, run->counts[i]);
    ferry_pg_param_text(&p, run->ui_message);
    ferry_pg_param_text(&p, run->log_message);
    ferry_pg_param_text(&p, run->error);
    ferry_pg_param_text(&p, run->error_code);
    ferry_pg_param_time(&p, run->finished_at_ms);
    ferry_pg_param_int(&p, run->duration_ms);
    ferry_pg_param_text(&p, owner);
    ferry_pg_param_text(&p, run->cancelled_by);
    ferry_pg_param_text(&p, run->steps);
    labels = ferry_label_counts_format(&run->skipped_by_label, &oom);
    if (oom)
        return ferry_err_set(err, FERRY_ENOMEM, "recording the run's result");
    ferry_pg_param_text(&p, labels);
    ferry_pg_param_text(&p, run->mode);
    ferry_pg_param_text(&p, run->since);
    if (run->source_bytes > 0)
        ferry_pg_param_int(&p, run->source_bytes);
    else
        ferry_pg_param_text(&p, NULL);
    if (run->source_bytes > 0 && run->source_records >= 0)
        ferry_pg_param_int(&p, run->source_records);
    else
        ferry_pg_param_text(&p, NULL);
    ferry_pg_param_text(&p, run->activity);
    ferry_pg_param_text(&p, run->held_reason);
    p_bool(&p, run->held_admin);
    ferry_pg_param_time(&p, run->held_until_ms);
    ferry_pg_param_text(&p, run->change_digest);
    /* A successful run's record is written inside its target's transaction: never on a
     * new connection. A failure is recorded after the rollback, and may reconnect. */
    n = ferry_pg_run_count(s,
                           run->status == FERRY_RUN_SUCCEEDED || run->status == FERRY_RUN_HELD
                               ? FERRY_PG_NO_RESET
                               : FERRY_PG_MAY_RESET,
                           "recording the run's result", sql, &p, err);
    free(labels);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND,
                             "run %lld is not held by this process any more (its lease was "
                             "taken over, or the run does not exist)",
                             (long long)run->id);
    return FERRY_OK;
}

/* The run's end and the deliveries it owes, in one transaction (pg_outbox.c). */
static ferry_rc pg_run_finish(ferry_store *base, const ferry_run *run, ferry_err *err)
{
    return ferry_pg_finish_with_deliveries((ferry_pg_store *)base, run, finish_write, NULL, err);
}

static ferry_rc pg_run_load(ferry_store *base, int64_t id, ferry_run *ret_run, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_pg_params p = {0};
    PGresult *res;

    ferry_pg_param_int(&p, id);
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "reading the run",
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
    ferry_pg_store *s = (ferry_pg_store *)base;
    static const char *const sql =
        "SELECT " RUN_COLUMNS " FROM ferry_runs"
        " WHERE ($1::text IS NULL OR sync = $1) AND ($3::text IS NULL OR status = $3)"
        " AND ($4::bigint = 0 OR id < $4) AND ($5::text IS NULL OR trigger = $5)"
        " AND ($6::timestamptz IS NULL OR queued_at >= $6)"
        " AND ($7::text IS NULL OR tenant = $7) AND ($8::text IS NULL OR user_name = $8)"
        " AND ($9::timestamptz IS NULL OR queued_at < $9) ORDER BY id DESC LIMIT $2";
    ferry_pg_params p = {0};
    PGresult *res;
    ferry_rc rc;

    ferry_pg_param_text(&p, filter->sync);
    ferry_pg_param_int(&p, filter->limit > 0 ? filter->limit : 20);
    ferry_pg_param_text(&p, filter->status);
    ferry_pg_param_int(&p, filter->before_id > 0 ? filter->before_id : 0);
    ferry_pg_param_text(&p, filter->trigger);
    ferry_pg_param_time(&p, filter->since_ms);
    ferry_pg_param_text(&p, filter->tenant);
    ferry_pg_param_text(&p, filter->user);
    ferry_pg_param_time(&p, filter->until_ms);
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "listing runs", sql, &p, err);
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
        (rc = copy_field(b, c->diff)) != FERRY_OK ||
        (rc = ferry_buf_append(b, "\t", 1)) != FERRY_OK ||
        (rc = copy_field(b, c->step)) != FERRY_OK ||
        (rc = ferry_buf_append(b, "\t", 1)) != FERRY_OK ||
        (rc = copy_field(b, c->label)) != FERRY_OK ||
        (rc = ferry_buf_append(b, "\t", 1)) != FERRY_OK ||
        (rc = copy_field(b, c->link)) != FERRY_OK ||
        (rc = ferry_buf_append(b, "\t", 1)) != FERRY_OK ||
        (rc = copy_field(b, c->row_values)) != FERRY_OK)
        return rc;
    return ferry_buf_append(b, "\n", 1);
}

static ferry_rc pg_changes_add(ferry_store *base, const ferry_change *c, size_t n, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    static const char *const what = "recording changes";
    ferry_rc rc = FERRY_OK;
    bool sending = true;
    PGresult *res;
    ferry_buf b;

    if (n == 0)
        return FERRY_OK;
    /* Inside the run's transaction when there is one: never on a new connection. */
    if (PQstatus(s->conn) == CONNECTION_BAD)
        return ferry_pg_db_error(s, NULL, what, err);
    res = PQexec(s->conn, "COPY ferry_changes (run_id, seq, record_key, outcome, \"row\","
                          " reason, diff, step, label, link, row_values) FROM STDIN");
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = ferry_pg_db_error(s, res, what, err);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    ferry_buf_init(&b, 64 * 1024 * 1024);
    for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
        rc = copy_change(&b, &c[i]);
        if (rc == FERRY_OK && (b.len >= COPY_CHUNK || i + 1 == n)) {
            if (PQputCopyData(s->conn, b.data, (int)b.len) != 1) {
                rc = ferry_pg_db_error(s, NULL, what, err);
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
        rc = ferry_pg_db_error(s, NULL, what, err);
    /* The copy's outcome, then the end of the results. */
    while ((res = PQgetResult(s->conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == FERRY_OK)
            rc = ferry_pg_db_error(s, res, what, err);
        PQclear(res);
    }
    return rc;
}

static ferry_rc pg_change_list(ferry_store *base, int64_t run_id, const ferry_change_filter *filter,
                               ferry_change **ret_changes, size_t *ret_n, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_change *changes = NULL;
    ferry_pg_params p = {0};
    PGresult *res;
    size_t n;

    ferry_pg_param_int(&p, run_id);
    ferry_pg_param_text(
        &p, filter->outcome >= 0 ? ferry_outcome_name((ferry_outcome)filter->outcome) : NULL);
    if (filter->limit > 0)
        ferry_pg_param_int(&p, filter->limit);
    else
        ferry_pg_param_text(&p, NULL); /* LIMIT NULL: no limit */
    ferry_pg_param_int(&p, filter->after_seq);
    res = ferry_pg_run_sql(
        s, FERRY_PG_MAY_RESET, "listing changes",
        "SELECT run_id, seq, record_key, outcome, \"row\", reason, diff, step, label, link,"
        " row_values FROM ferry_changes"
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
        c->run_id = ferry_pg_col_int(res, (int)i, 0);
        c->seq = ferry_pg_col_int(res, (int)i, 1);
        c->record_key = ferry_pg_col_str(res, (int)i, 2);
        ferry_outcome_parse(PQgetvalue(res, (int)i, 3), &c->outcome);
        c->row = (long)ferry_pg_col_int(res, (int)i, 4);
        c->reason = ferry_pg_col_str(res, (int)i, 5);
        c->diff = ferry_pg_col_str(res, (int)i, 6);
        c->step = ferry_pg_col_str(res, (int)i, 7);
        c->label = ferry_pg_col_str(res, (int)i, 8);
        c->link = ferry_pg_col_str(res, (int)i, 9);
        c->row_values = ferry_pg_col_str(res, (int)i, 10);
    }
    PQclear(res);
    *ret_changes = changes;
    *ret_n = n;
    return FERRY_OK;
}

/* Loads the queued or running run of (sync, tenant); FERRY_ENOTFOUND when there is none. */
static ferry_rc active_run(ferry_pg_store *s, const char *sync, const char *tenant, ferry_run *ret,
                           ferry_err *err)
{
    ferry_pg_params p = {0};
    PGresult *res;

    ferry_pg_param_text(&p, sync);
    ferry_pg_param_text(&p, tenant);
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "reading the active run",
                           "SELECT " RUN_COLUMNS
                           " FROM ferry_runs WHERE sync = $1 AND coalesce(tenant, '')"
                           " = coalesce($2, '') AND status IN ('queued', 'running', 'held')",
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
    ferry_pg_store *s = (ferry_pg_store *)base;
    static const char *const what = "queueing the run";
    static const char *const sql =
        "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase, dry_run,"
        " queued_at, attempt, token_label, allow_missing, full_requested, preview) VALUES ($1, $2,"
        " $3, $4, 'queued', 'queued', $5, $6, 1, $7, $8, $9, $10) ON CONFLICT (sync,"
        " (coalesce(tenant, ''))) WHERE status IN ('queued', 'running', 'held') DO NOTHING"
        " RETURNING " RUN_COLUMNS;
    ferry_rc rc;
    bool own;

    /* A few rounds: the active run that blocked the insert may end before it is read. */
    for (int attempt = 0; attempt < 4; attempt++) {
        ferry_pg_params p = {0};
        PGresult *res;

        ferry_pg_param_text(&p, run->sync);
        ferry_pg_param_text(&p, run->tenant);
        ferry_pg_param_text(&p, run->trigger != NULL ? run->trigger : "api");
        ferry_pg_param_text(&p, run->user);
        p_bool(&p, run->dry_run);
        ferry_pg_param_time(&p, run->queued_at_ms > 0 ? run->queued_at_ms : ferry_time_now_ms());
        ferry_pg_param_text(&p, run->token);
        p_bool(&p, run->allow_missing);
        p_bool(&p, run->full);
        p_bool(&p, run->preview);
        /* Concurrent enqueues of the same (sync, tenant) wait on the index for this
         * transaction, then insert nothing. */
        if ((rc = ferry_pg_tx_begin(s, what, &own, err)) != FERRY_OK)
            return rc;
        res = ferry_pg_run_sql(s, FERRY_PG_NO_RESET, what, sql, &p, err);
        if (res == NULL) {
            ferry_pg_tx_rollback(s, own);
            return FERRY_EDB;
        }
        if (PQntuples(res) == 1) {
            run_from_row(res, 0, ret_run);
            PQclear(res);
            if (ret_run->sync == NULL) {
                ferry_run_done(ret_run);
                ferry_pg_tx_rollback(s, own);
                return ferry_err_set(err, FERRY_ENOMEM, "%s", what);
            }
            if ((rc = ferry_pg_tx_commit(s, own, what, err)) != FERRY_OK) {
                ferry_run_done(ret_run);
                ferry_pg_tx_rollback(s, own);
                return rc;
            }
            *ret_created = true;
            return FERRY_OK;
        }
        PQclear(res);
        ferry_pg_tx_rollback(s, own);
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
    ferry_pg_store *s = (ferry_pg_store *)base;
    /* SKIP LOCKED: a queued row another connection is claiming is skipped, not waited for,
     * and the status is checked again on the locked row, so no run is claimed twice. */
    static const char *const sql =
        "UPDATE ferry_runs SET status = 'running', phase = 'connecting', started_at = " CLOCK ","
        " heartbeat_at = " CLOCK ", lease_owner = $1 WHERE id = (SELECT id FROM ferry_runs"
        " WHERE status = 'queued' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) AND status ="
        " 'queued' RETURNING " RUN_COLUMNS;
    char owner[300];
    ferry_pg_params p = {0};
    PGresult *res;

    ferry_node_self(owner, sizeof(owner));
    ferry_pg_param_text(&p, owner);
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "claiming a run", sql, &p, err);
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

static ferry_rc cancel_write(ferry_pg_store *s, const ferry_run *run, void *arg, ferry_err *err)
{
    const char *user = arg;
    int64_t id = run->id;
    static const char *const sql =
        "WITH c AS (UPDATE ferry_runs SET status = 'cancelled', phase = 'done', finished_at ="
        " $2, cancelled_by = $3, duration_ms = 0, error_code = 'cancelled', ui_message = 'Sync"
        " of ' || sync || ' was cancelled before it started. Nothing was changed.' WHERE id ="
        " $1 AND status = 'queued' RETURNING id)"
        " INSERT INTO ferry_cancel_requests (run_id, user_name, requested_at)"
        " SELECT id, $3, " CLOCK " FROM c ON CONFLICT (run_id) DO UPDATE SET user_name ="
        " excluded.user_name";
    ferry_pg_params p = {0};
    int64_t n;

    ferry_pg_param_int(&p, id);
    ferry_pg_param_time(&p, ferry_time_now_ms());
    ferry_pg_param_text(&p, user);
    n = ferry_pg_run_count(s, FERRY_PG_MAY_RESET, "cancelling the run", sql, &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is not queued", (long long)id);
    return FERRY_OK;
}

static ferry_rc pg_run_cancel_queued(ferry_store *base, int64_t id, const char *user,
                                     ferry_err *err)
{
    ferry_run run;
    ferry_rc rc;

    /* Loaded first for the planner: the sync, and the end it is given. */
    if ((rc = pg_run_load(base, id, &run, err)) != FERRY_OK)
        return rc == FERRY_ENOTFOUND
                   ? ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is not queued", (long long)id)
                   : rc;
    run.status = FERRY_RUN_CANCELLED;
    rc = ferry_pg_finish_with_deliveries((ferry_pg_store *)base, &run, cancel_write, (void *)user,
                                         err);
    ferry_run_done(&run);
    return rc;
}

/* Runs sql ($1 the run's id, $2 this process) on a running run this process holds:
 * FERRY_ENOTFOUND when it changed nothing (the lease was lost, or the run ended). */
static ferry_rc update_held_run(ferry_pg_store *s, ferry_pg_reset_policy policy, const char *what,
                                const char *sql, int64_t id, ferry_err *err)
{
    char owner[300];
    ferry_pg_params p = {0};
    int64_t n;

    ferry_node_self(owner, sizeof(owner));
    ferry_pg_param_int(&p, id);
    ferry_pg_param_text(&p, owner);
    n = ferry_pg_run_count(s, policy, what, sql, &p, err);
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
    return update_held_run((ferry_pg_store *)base, FERRY_PG_NO_RESET, "renewing the run's lease",
                           "UPDATE ferry_runs SET heartbeat_at = " CLOCK " WHERE id = $1 AND"
                           " status = 'running' AND lease_owner = $2",
                           id, err);
}

static ferry_rc pg_run_requeue(ferry_store *base, int64_t id, ferry_err *err)
{
    /* After the run's rollback: its own transaction, and may reconnect. */
    return update_held_run((ferry_pg_store *)base, FERRY_PG_MAY_RESET, "queueing the run again",
                           "UPDATE ferry_runs SET status = 'queued', phase = 'queued', percent ="
                           " 0, processed = 0, lease_owner = NULL, started_at = NULL WHERE id ="
                           " $1 AND status = 'running' AND lease_owner = $2",
                           id, err);
}

/* Runs sql (inside the caller's transaction: never on a new connection) for its effect;
 * its result, or NULL with err set. */
static PGresult *run_in_tx(ferry_pg_store *s, const char *sql, const ferry_pg_params *p,
                           ferry_err *err)
{
    return ferry_pg_run_sql(s, FERRY_PG_NO_RESET, "recording an interrupted run", sql, p, err);
}

/* Records that run (running, locked by the open transaction) will not finish because its
 * process stopped (cause says how), as rec says (store.h, ferry_recovery): the run ends as
 * interrupted with its next attempt queued, or as failed; the audit trail gets the story.
 * *ret_next is the queued run's id, or 0. */
static ferry_rc interrupt_held(ferry_pg_store *s, const ferry_run *run, const char *cause,
                               const ferry_recovery *rec, int64_t *ret_next, ferry_err *err)
{
    ferry_store_interruption in;
    char why[800], ui[1000], target[64];
    int64_t next = 0;
    PGresult *res;
    ferry_pg_params p = {0};

    ferry_store_interruption_decide(rec, run, &in);
    /* Ended first: the one-active-run index then takes the next attempt. */
    ferry_pg_param_int(&p, run->id);
    ferry_pg_param_text(&p, ferry_store_interruption_status(&in));
    if ((res = run_in_tx(s,
                         "UPDATE ferry_runs SET status = $2, phase = 'done', finished_at = " CLOCK
                         ", error_code = 'interrupted', percent = 0, processed = 0 WHERE id = $1",
                         &p, err)) == NULL)
        return FERRY_EDB;
    PQclear(res);
    if (in.again) {
        p = (ferry_pg_params){0};
        ferry_pg_param_int(&p, run->id);
        res = run_in_tx(
            s,
            "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase,"
            " dry_run, queued_at, attempt, token_label, allow_missing, retry_of, full_requested)"
            " SELECT sync, tenant, trigger, user_name, 'queued', 'queued', dry_run, " CLOCK
            ", attempt + 1, token_label, allow_missing, id, full_requested FROM ferry_runs"
            " WHERE id = $1 RETURNING id",
            &p, err);
        if (res == NULL)
            return FERRY_EDB;
        next = PQntuples(res) == 1 ? ferry_pg_col_int(res, 0, 0) : 0;
        PQclear(res);
    } else { /* ended as failed: the deliveries a failure owes */
        ferry_delivery_plan plan[FERRY_DELIVERY_PLAN_MAX];
        ferry_run ended = *run; /* a shallow copy, read only */
        size_t n;
        ferry_rc rc;
        ended.status = FERRY_RUN_FAILED;
        n = ferry_store_plan(&s->base, &ended, plan);
        if ((rc = ferry_pg_outbox_enqueue(s, &ended, plan, n, err)) != FERRY_OK)
            return rc;
    }
    ferry_store_interruption_messages(&in, run, cause, next, why, sizeof(why), ui, sizeof(ui));
    snprintf(target, sizeof(target), "run %lld", (long long)run->id);
    p = (ferry_pg_params){0};
    ferry_pg_param_int(&p, run->id);
    ferry_pg_param_text(&p, why);
    ferry_pg_param_text(&p, ui);
    ferry_pg_param_text(&p, target);
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
static int interrupt_run(ferry_pg_store *s, int64_t id, const char *owner, int64_t lease_ms,
                         const char *cause, const ferry_recovery *rec, ferry_err *err)
{
    ferry_run run, ended, next;
    int64_t next_id = 0;
    PGresult *res;
    ferry_pg_params p = {0};
    bool own;
    ferry_rc rc;

    if (ferry_pg_tx_begin(s, "recording an interrupted run", &own, err) != FERRY_OK)
        return -1;
    ferry_pg_param_int(&p, id);
    ferry_pg_param_text(&p, owner);
    ferry_pg_param_int(&p, lease_ms);
    res = run_in_tx(s,
                    "SELECT " RUN_COLUMNS " FROM ferry_runs WHERE id = $1 AND status = 'running'"
                    " AND lease_owner IS NOT DISTINCT FROM $2 AND heartbeat_at <="
                    " clock_timestamp() - $3::bigint * interval '1 millisecond'"
                    " FOR UPDATE SKIP LOCKED",
                    &p, err);
    if (res == NULL || PQntuples(res) == 0) {
        PQclear(res);
        ferry_pg_tx_rollback(s, own);
        return res == NULL ? -1 : 0;
    }
    run_from_row(res, 0, &run);
    PQclear(res);
    rc = interrupt_held(s, &run, cause, rec, &next_id, err);
    ferry_run_done(&run);
    if (rc != FERRY_OK ||
        ferry_pg_tx_commit(s, own, "recording an interrupted run", err) != FERRY_OK) {
        ferry_pg_tx_rollback(s, own);
        return -1;
    }
    if (rec != NULL && rec->on_interrupted != NULL &&
        pg_run_load(&s->base, id, &ended, err) == FERRY_OK) {
        bool have_next = next_id > 0 && pg_run_load(&s->base, next_id, &next, err) == FERRY_OK;
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
static ferry_rc interrupt_where(ferry_pg_store *s, const char *sql, int64_t lease_ms,
                                bool dead_only, const ferry_recovery *rec, int *ret_n,
                                ferry_err *err)
{
    PGresult *res;
    ferry_pg_params p = {0};
    int ended = 0;

    ferry_pg_param_int(&p, lease_ms);
    res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "recovering runs", sql, &p, err);
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
        done = interrupt_run(s, ferry_pg_col_int(res, i, 0), owner, dead_only ? 0 : lease_ms, cause,
                             rec, err);
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
    return interrupt_where((ferry_pg_store *)base,
                           "SELECT id, lease_owner FROM ferry_runs WHERE status = 'running' AND"
                           " heartbeat_at < clock_timestamp() - $1::bigint * interval"
                           " '1 millisecond' ORDER BY id LIMIT 256",
                           lease_ms, false, rec, ret_n, err);
}

static ferry_rc pg_run_recover(ferry_store *base, const ferry_recovery *rec, int *ret_n,
                               ferry_err *err)
{
    return interrupt_where((ferry_pg_store *)base,
                           "SELECT id, lease_owner FROM ferry_runs WHERE status = 'running' AND"
                           " $1::bigint >= 0 ORDER BY id LIMIT 256",
                           0, true, rec, ret_n, err);
}

static ferry_rc pg_sync_stats(ferry_store *base, const char *sync, ferry_sync_stats *out,
                              ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    static const char *const what = "computing run statistics";
    static const char *const by_status =
        "SELECT status, count(*), sum(created), sum(updated), sum(unchanged),"
        " sum(skipped + coalesce((SELECT sum(value::bigint) FROM"
        " jsonb_each_text(skipped_by_label::jsonb)), 0)),"
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
    ferry_pg_params p = {0};
    PGresult *res;

    memset(out, 0, sizeof(*out));
    ferry_pg_param_text(&p, sync);
    if ((res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, what, by_status, &p, err)) == NULL)
        return FERRY_EDB;
    for (int i = 0; i < PQntuples(res); i++) {
        if (!ferry_run_status_parse(PQgetvalue(res, i, 0), &status))
            continue;
        out->by_status[status] = ferry_pg_col_int(res, i, 1);
        for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
            out->records[o] += ferry_pg_col_int(res, i, 2 + o);
    }
    PQclear(res);
    if ((res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, what, durations, &p, err)) == NULL)
        return FERRY_EDB;
    out->finished = ferry_pg_col_int(res, 0, 0);
    out->avg_ms = strtod(PQgetvalue(res, 0, 1), NULL);
    out->duration_sum_ms = strtod(PQgetvalue(res, 0, 2), NULL);
    PQclear(res);
    if (out->finished > 0) {
        ferry_pg_params q = {0};
        ferry_pg_param_text(&q, sync);
        ferry_pg_param_int(&q, (out->finished * 95 + 99) / 100 - 1);
        if ((res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, what, nth, &q, err)) == NULL)
            return FERRY_EDB;
        if (PQntuples(res) == 1)
            out->p95_ms = ferry_pg_col_int(res, 0, 0);
        PQclear(res);
    }
    ferry_pg_params b = {0};
    ferry_pg_param_text(&b, sync);
    for (int i = 0; i < FERRY_STATS_BUCKETS; i++)
        ferry_pg_param_int(&b, ferry_stats_bucket_ms[i]);
    if ((res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, what, le, &b, err)) == NULL)
        return FERRY_EDB;
    for (int i = 0; i < FERRY_STATS_BUCKETS; i++)
        out->duration_le[i] = ferry_pg_col_int(res, 0, i);
    PQclear(res);
    if ((res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, "reading failure reasons", reasons, &p,
                                err)) == NULL)
        return FERRY_EDB;
    memset(&tally, 0, sizeof(tally));
    for (int i = 0; i < PQntuples(res); i++)
        ferry_store_tally_add(&tally, PQgetvalue(res, i, 0));
    PQclear(res);
    ferry_store_tally_take(&tally, out);
    return FERRY_OK;
}

static ferry_rc tx_command(ferry_pg_store *s, const char *sql, const char *what, ferry_err *err)
{
    PGresult *res = ferry_pg_run_sql(s, FERRY_PG_NO_RESET, what, sql, NULL, err);

    if (res == NULL)
        return err->code;
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc pg_tx_begin(ferry_store *base, ferry_err *err)
{
    return tx_command((ferry_pg_store *)base, "BEGIN", "beginning the run's transaction", err);
}

static ferry_rc pg_tx_commit(ferry_store *base, ferry_err *err)
{
    return tx_command((ferry_pg_store *)base, "COMMIT", "committing the run's record", err);
}

static void pg_tx_rollback(ferry_store *base)
{
    ferry_pg_store *s = (ferry_pg_store *)base;

    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

static ferry_rc pg_watermark_get(ferry_store *base, const char *sync, const char *tenant, int step,
                                 ferry_watermark *ret_wm, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_pg_params p = {0};
    PGresult *res;
    bool found;

    ferry_pg_param_text(&p, sync);
    ferry_pg_param_text(&p, tenant != NULL ? tenant : "");
    ferry_pg_param_int(&p, step);
    res = ferry_pg_run_sql(
        s, FERRY_PG_MAY_RESET, "reading the watermark",
        "SELECT cursor_ms, coalesce(" MS(
            "full_at") ", 0), run_id"
                       " FROM ferry_watermarks WHERE sync = $1 AND tenant = $2 AND step = $3",
        &p, err);
    if (res == NULL)
        return FERRY_EDB;
    found = PQntuples(res) == 1;
    if (found) {
        ret_wm->cursor_ms = ferry_pg_col_int(res, 0, 0);
        ret_wm->full_at_ms = ferry_pg_col_int(res, 0, 1);
        ret_wm->run_id = ferry_pg_col_int(res, 0, 2);
    }
    PQclear(res);
    return found ? FERRY_OK : ferry_err_set(err, FERRY_ENOTFOUND, "no watermark for '%s'", sync);
}

static ferry_rc pg_watermark_put(ferry_store *base, const char *sync, const char *tenant, int step,
                                 const ferry_watermark *wm, ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    ferry_pg_params p = {0};

    ferry_pg_param_text(&p, sync);
    ferry_pg_param_text(&p, tenant != NULL ? tenant : "");
    ferry_pg_param_int(&p, step);
    ferry_pg_param_int(&p, wm->cursor_ms);
    ferry_pg_param_time(&p, wm->full_at_ms);
    ferry_pg_param_int(&p, wm->run_id);
    /* Inside the run's transaction: never on a new connection. */
    return ferry_pg_run_count(
               s, FERRY_PG_NO_RESET, "recording the watermark",
               "INSERT INTO ferry_watermarks (sync, tenant, step, cursor_ms, full_at, run_id,"
               " updated_at) VALUES ($1, $2, $3, $4, $5, $6, " CLOCK ")"
               " ON CONFLICT (sync, tenant, step) DO UPDATE SET cursor_ms = excluded.cursor_ms,"
               " full_at = coalesce(excluded.full_at, ferry_watermarks.full_at),"
               " run_id = excluded.run_id, updated_at = excluded.updated_at",
               &p, err) < 0
               ? FERRY_EDB
               : FERRY_OK;
}

static ferry_rc pg_changes_clear(ferry_store *base, int64_t run_id, ferry_err *err)
{
    ferry_pg_params p = {0};

    ferry_pg_param_int(&p, run_id);
    /* Inside the run's transaction: never on a new connection. */
    return ferry_pg_run_count((ferry_pg_store *)base, FERRY_PG_NO_RESET,
                              "replacing the held run's changes",
                              "DELETE FROM ferry_changes WHERE run_id = $1", &p, err) < 0
               ? FERRY_EDB
               : FERRY_OK;
}

static ferry_rc pg_run_decide(ferry_store *base, int64_t id, ferry_run_status to, bool expired,
                              const char *who, const char *comment, ferry_run *ret_run,
                              ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    static const char *const set_queued = "status = 'queued', phase = 'queued'";
    static const char *const set_running =
        "status = 'running', phase = 'connecting', started_at = " CLOCK ", heartbeat_at = " CLOCK
        ", lease_owner = $5";
    static const char *const set_rejected = "status = 'rejected', phase = 'done'";
    char sql[512], owner[300];
    ferry_pg_params p = {0};
    int64_t n;

    snprintf(sql, sizeof(sql),
             "UPDATE ferry_runs SET %s, decision = $2, decided_by = $3, decision_comment = $4,"
             " decided_at = " CLOCK " WHERE id = $1 AND status = 'held'",
             to == FERRY_RUN_QUEUED    ? set_queued
             : to == FERRY_RUN_RUNNING ? set_running
                                       : set_rejected);
    ferry_node_self(owner, sizeof(owner));
    ferry_pg_param_int(&p, id);
    ferry_pg_param_text(&p,
                        to == FERRY_RUN_REJECTED ? (expired ? "expired" : "rejected") : "approved");
    ferry_pg_param_text(&p, who);
    ferry_pg_param_text(&p, comment);
    if (to == FERRY_RUN_RUNNING)
        ferry_pg_param_text(&p, owner);
    n = ferry_pg_run_count(s, FERRY_PG_MAY_RESET, "deciding the held run", sql, &p, err);
    if (n < 0)
        return FERRY_EDB;
    if (n == 0)
        return ferry_store_not_held(base, id, err);
    return ret_run != NULL ? pg_run_load(base, id, ret_run, err) : FERRY_OK;
}

static ferry_rc pg_last_successes(ferry_store *base, ferry_last_success **ret_list, size_t *ret_n,
                                  ferry_err *err)
{
    ferry_pg_store *s = (ferry_pg_store *)base;
    static const char *const what = "reading the last successful runs";
    static const char *const sql = "SELECT sync, coalesce(tenant, ''), " MS(
        "max(finished_at)") " FROM ferry_runs WHERE status = 'succeeded' AND finished_at"
                            " IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2";
    ferry_last_success *list;
    PGresult *res;
    size_t n;

    if ((res = ferry_pg_run_sql(s, FERRY_PG_MAY_RESET, what, sql, NULL, err)) == NULL)
        return FERRY_EDB;
    n = (size_t)PQntuples(res);
    if ((list = calloc(n + 1, sizeof(*list))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "%s", what);
    }
    for (size_t i = 0; i < n; i++) {
        list[i].sync = ferry_pg_col_str(res, (int)i, 0);
        list[i].tenant = ferry_pg_col_str(res, (int)i, 1);
        list[i].finished_at_ms = ferry_pg_col_int(res, (int)i, 2);
        if (list[i].sync == NULL || list[i].tenant == NULL) {
            PQclear(res);
            ferry_last_successes_free(list, n);
            return ferry_err_set(err, FERRY_ENOMEM, "%s", what);
        }
    }
    PQclear(res);
    *ret_list = list;
    *ret_n = n;
    return FERRY_OK;
}

const ferry_store_runs_ops ferry_pg_runs_ops = {
    .run_start = pg_run_start,
    .run_enqueue = pg_run_enqueue,
    .run_claim = pg_run_claim,
    .run_cancel_queued = pg_run_cancel_queued,
    .run_recover = pg_run_recover,
    .run_heartbeat = pg_run_heartbeat,
    .run_reclaim_expired = pg_run_reclaim_expired,
    .run_finish = pg_run_finish,
    .run_requeue = pg_run_requeue,
    .run_load = pg_run_load,
    .run_list = pg_run_list,
    .changes_add = pg_changes_add,
    .changes_clear = pg_changes_clear,
    .run_decide = pg_run_decide,
    .change_list = pg_change_list,
    .sync_stats = pg_sync_stats,
    .last_successes = pg_last_successes,
    .tx_begin = pg_tx_begin,
    .tx_commit = pg_tx_commit,
    .tx_rollback = pg_tx_rollback,
    .watermark_get = pg_watermark_get,
    .watermark_put = pg_watermark_put,
};
