/* sqlite_runs.c - the runs interface of the store on SQLite (store.h: runs, changes, stats,
 * the store's own transaction).
 *
 * A run's change rows are keyed (run_id, seq) in a WITHOUT ROWID table: a run's changes are
 * one contiguous range, written in order, so inserting them is an append, CHANGE_ROWS rows a
 * statement. A run whose process stopped (killed, crashed, or silent past its lease) is ended
 * as store/internal.h's recovery rule says, in a transaction of its own. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* Rows per multi-row INSERT of changes, CHANGE_PARAMS parameters each: well under SQLite's
 * limit. */
#define CHANGE_ROWS 128
#define CHANGE_PARAMS 11 /* bind_change()'s */

static ferry_rc st_run_load(ferry_store *base, int64_t id, ferry_run *ret_run, ferry_err *err);

/* When the active run of (sync, tenant) belongs to a process on this host that no longer
 * exists (killed, or crashed), marks it interrupted so a new run can start. Returns true when
 * a run was reaped. */
static bool reap_stale(ferry_sqlite_store *s, const ferry_run *run)
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
    ferry_sqlite_bind_text_or_null(st, 2, run->tenant);
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        dead = ferry_store_owner_is_dead((const char *)sqlite3_column_text(st, 1), &pid);
    }
    sqlite3_finalize(st);
    if (!dead)
        return false;
    ferry_time_format_iso(ferry_time_now_ms(), iso);
    ferry_store_stale_messages(run->sync, pid, why, sizeof(why), ui, sizeof(ui));
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
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    static const char *const sql =
        "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase, total,"
        " dry_run, queued_at, started_at, heartbeat_at, attempt, lease_owner, token_label,"
        " allow_missing, full_requested, preview, reverts, revert_comment) VALUES (?1, ?2, ?3, ?4,"
        " ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";
    char owner[300];
    sqlite3_stmt *st;
    bool active;
    int rc;

    ferry_node_self(owner, sizeof(owner));
    for (int attempt = 0;; attempt++) {
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
            return ferry_sqlite_db_error(s->db, err, "recording the run");
        sqlite3_bind_text(st, 1, run->sync, -1, SQLITE_TRANSIENT);
        ferry_sqlite_bind_text_or_null(st, 2, run->tenant);
        ferry_sqlite_bind_text_or_null(st, 3, run->trigger != NULL ? run->trigger : "cli");
        ferry_sqlite_bind_text_or_null(st, 4, run->user);
        sqlite3_bind_text(st, 5, ferry_run_status_name(run->status), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, run->phase != NULL ? run->phase : "queued", -1, SQLITE_TRANSIENT);
        if (run->total >= 0)
            sqlite3_bind_int64(st, 7, run->total);
        sqlite3_bind_int(st, 8, run->dry_run);
        ferry_sqlite_bind_time(st, 9, run->queued_at_ms);
        ferry_sqlite_bind_time(st, 10, run->started_at_ms);
        sqlite3_bind_int(st, 11, run->attempt > 0 ? run->attempt : 1);
        sqlite3_bind_text(st, 12, owner, -1, SQLITE_STATIC);
        ferry_sqlite_bind_text_or_null(st, 13, run->token);
        sqlite3_bind_int(st, 14, run->allow_missing);
        sqlite3_bind_int(st, 15, run->full);
        sqlite3_bind_int(st, 16, run->preview);
        if (run->reverts > 0)
            sqlite3_bind_int64(st, 17, run->reverts);
        ferry_sqlite_bind_text_or_null(st, 18, run->revert_comment);
        rc = sqlite3_step(st);
        /* Only the one-active-run index makes a duplicate; any other constraint (a NOT NULL
         * column the caller left empty) is reported as what it is. */
        active =
            rc == SQLITE_CONSTRAINT && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE;
        if (rc != SQLITE_DONE && !active) {
            ferry_rc frc = ferry_sqlite_db_error(s->db, err, "recording the run");
            sqlite3_finalize(st);
            return frc;
        }
        sqlite3_finalize(st);
        if (!active || attempt > 0 || !reap_stale(s, run))
            break;
    }
    if (active)
        return ferry_err_set(err, FERRY_EINVAL, FERRY_STORE_ACTIVE_FMT, run->sync,
                             run->tenant ? " for tenant " : "", run->tenant ? run->tenant : "");
    *ret_id = sqlite3_last_insert_rowid(s->db);
    return FERRY_OK;
}

static ferry_rc finish_write(ferry_sqlite_store *s, const ferry_run *run, void *arg, ferry_err *err)
{
    static const char *const sql =
        "UPDATE ferry_runs SET status = ?2, phase = ?3, percent = ?4, processed = ?5,"
        " total = ?6, created = ?7, updated = ?8, unchanged = ?9, skipped = ?10, failed = ?11,"
        " deleted = ?12, ui_message = ?13, log_message = ?14, error = ?15, error_code = ?16,"
        " finished_at = ?17, heartbeat_at = ?17, duration_ms = ?18,"
        " cancelled_by = COALESCE(?20, cancelled_by), steps = ?21, skipped_by_label = ?22,"
        " run_mode = ?23, since = ?24, source_bytes = ?25, source_records = ?26, activity = ?27,"
        " held_reason = ?28, held_admin = ?29, held_until = ?30, change_digest = ?31"
        " WHERE id = ?1 AND"
        " status = 'running' AND (lease_owner IS NULL OR lease_owner = ?19)";
    char owner[300], *labels;
    sqlite3_stmt *st;
    bool oom;
    int rc;

    (void)arg;
    /* Conditioned on the lease: a process whose run was taken over (recovered as a new
     * attempt elsewhere) cannot record it, and since this write is part of the run's
     * transaction, cannot commit it either. And on the run still running: a failure
     * recorded after a COMMIT whose answer was lost never overwrites what it committed. */
    ferry_node_self(owner, sizeof(owner));
    labels = ferry_label_counts_format(&run->skipped_by_label, &oom);
    if (oom)
        return ferry_err_set(err, FERRY_ENOMEM, "recording the run's result");
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        free(labels);
        return ferry_sqlite_db_error(s->db, err, "recording the run's result");
    }
    sqlite3_bind_text(st, 19, owner, -1, SQLITE_STATIC);
    ferry_sqlite_bind_text_or_null(st, 22, labels);
    free(labels);
    sqlite3_bind_int64(st, 1, run->id);
    sqlite3_bind_text(st, 2, ferry_run_status_name(run->status), -1, SQLITE_STATIC);
    ferry_sqlite_bind_text_or_null(st, 3, run->phase != NULL ? run->phase : "done");
    sqlite3_bind_int(st, 4, run->percent);
    sqlite3_bind_int64(st, 5, run->processed);
    if (run->total >= 0)
        sqlite3_bind_int64(st, 6, run->total);
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++)
        sqlite3_bind_int64(st, 7 + i, run->counts[i]);
    ferry_sqlite_bind_text_or_null(st, 13, run->ui_message);
    ferry_sqlite_bind_text_or_null(st, 14, run->log_message);
    ferry_sqlite_bind_text_or_null(st, 15, run->error);
    ferry_sqlite_bind_text_or_null(st, 16, run->error_code);
    ferry_sqlite_bind_time(st, 17, run->finished_at_ms);
    sqlite3_bind_int64(st, 18, run->duration_ms);
    ferry_sqlite_bind_text_or_null(st, 20, run->cancelled_by);
    ferry_sqlite_bind_text_or_null(st, 21, run->steps);
    ferry_sqlite_bind_text_or_null(st, 23, run->mode);
    ferry_sqlite_bind_text_or_null(st, 24, run->since);
    if (run->source_bytes > 0)
        sqlite3_bind_int64(st, 25, run->source_bytes);
    if (run->source_bytes > 0 && run->source_records >= 0)
        sqlite3_bind_int64(st, 26, run->source_records);
    ferry_sqlite_bind_text_or_null(st, 27, run->activity);
    ferry_sqlite_bind_text_or_null(st, 28, run->held_reason);
    sqlite3_bind_int(st, 29, run->held_admin);
    ferry_sqlite_bind_time(st, 30, run->held_until_ms);
    ferry_sqlite_bind_text_or_null(st, 31, run->change_digest);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "recording the run's result");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND,
                             "run %lld is not held by this process any more (its lease was "
                             "taken over, or the run does not exist)",
                             (long long)run->id);
    return FERRY_OK;
}

/* The run's end and the deliveries it owes, in one write (sqlite_outbox.c). */
static ferry_rc st_run_finish(ferry_store *base, const ferry_run *run, ferry_err *err)
{
    return ferry_sqlite_finish_with_deliveries((ferry_sqlite_store *)base, run, finish_write, NULL,
                                               err);
}

#define RUN_COLUMNS                                                                                \
    "id, sync, tenant, trigger, user_name, status, phase, percent, processed, total, created,"     \
    " updated, unchanged, skipped, failed, deleted, ui_message, log_message, error,"               \
    " error_code, dry_run, queued_at, started_at, finished_at, duration_ms, attempt,"              \
    " token_label, cancelled_by, CASE WHEN status = 'running' THEN lease_owner END,"               \
    " allow_missing, retry_of, steps, skipped_by_label, full_requested, run_mode, since,"          \
    " source_bytes, source_records, activity, preview, held_reason, held_admin, held_until,"       \
    " change_digest, decision, decided_by, decision_comment, decided_at, reverts, revert_comment," \
    " changes_pruned_at"

static void run_from_row(sqlite3_stmt *st, ferry_run *run)
{
    memset(run, 0, sizeof(*run));
    run->id = sqlite3_column_int64(st, 0);
    run->sync = ferry_sqlite_col_strdup(st, 1);
    run->tenant = ferry_sqlite_col_strdup(st, 2);
    run->trigger = ferry_sqlite_col_strdup(st, 3);
    run->user = ferry_sqlite_col_strdup(st, 4);
    ferry_run_status_parse((const char *)sqlite3_column_text(st, 5), &run->status);
    run->phase = ferry_sqlite_col_strdup(st, 6);
    run->percent = sqlite3_column_int(st, 7);
    run->processed = sqlite3_column_int64(st, 8);
    run->total = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 9);
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++)
        run->counts[i] = sqlite3_column_int64(st, 10 + i);
    run->ui_message = ferry_sqlite_col_strdup(st, 16);
    run->log_message = ferry_sqlite_col_strdup(st, 17);
    run->error = ferry_sqlite_col_strdup(st, 18);
    run->error_code = ferry_sqlite_col_strdup(st, 19);
    run->dry_run = sqlite3_column_int(st, 20) != 0;
    run->queued_at_ms = ferry_sqlite_col_time(st, 21);
    run->started_at_ms = ferry_sqlite_col_time(st, 22);
    run->finished_at_ms = ferry_sqlite_col_time(st, 23);
    run->duration_ms = sqlite3_column_int64(st, 24);
    run->attempt = sqlite3_column_int(st, 25);
    run->token = ferry_sqlite_col_strdup(st, 26);
    run->cancelled_by = ferry_sqlite_col_strdup(st, 27);
    run->node = ferry_sqlite_col_strdup(st, 28);
    run->allow_missing = sqlite3_column_int(st, 29) != 0;
    run->retry_of = sqlite3_column_int64(st, 30);
    run->steps = ferry_sqlite_col_strdup(st, 31);
    (void)ferry_label_counts_parse((const char *)sqlite3_column_text(st, 32),
                                   &run->skipped_by_label);
    run->full = sqlite3_column_int(st, 33) != 0;
    run->mode = ferry_sqlite_col_strdup(st, 34);
    run->since = ferry_sqlite_col_strdup(st, 35);
    run->source_bytes = sqlite3_column_int64(st, 36);
    run->source_records =
        sqlite3_column_type(st, 37) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 37);
    run->fetched = run->source_records > 0 ? run->source_records : 0;
    run->activity = ferry_sqlite_col_strdup(st, 38);
    run->preview = sqlite3_column_int(st, 39) != 0;
    run->held_reason = ferry_sqlite_col_strdup(st, 40);
    run->held_admin = sqlite3_column_int(st, 41) != 0;
    run->held_until_ms = ferry_sqlite_col_time(st, 42);
    run->change_digest = ferry_sqlite_col_strdup(st, 43);
    run->decision = ferry_sqlite_col_strdup(st, 44);
    run->decided_by = ferry_sqlite_col_strdup(st, 45);
    run->decision_comment = ferry_sqlite_col_strdup(st, 46);
    run->decided_at_ms = ferry_sqlite_col_time(st, 47);
    run->reverts = sqlite3_column_int64(st, 48);
    run->revert_comment = ferry_sqlite_col_strdup(st, 49);
    run->changes_pruned_at_ms = ferry_sqlite_col_time(st, 50);
}

static ferry_rc st_run_load(ferry_store *base, int64_t id, ferry_run *ret_run, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    /* The API's hottest read (a page polls it): the statement is prepared once. */
    if (s->run_select == NULL &&
        sqlite3_prepare_v3(s->db, "SELECT " RUN_COLUMNS " FROM ferry_runs WHERE id = ?1", -1,
                           SQLITE_PREPARE_PERSISTENT, &s->run_select, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "reading the run");
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
    return ferry_sqlite_db_error(s->db, err, "reading the run");
}

static ferry_rc st_run_list(ferry_store *base, const ferry_run_filter *filter, ferry_run **ret_runs,
                            size_t *ret_n, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
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
        return ferry_sqlite_db_error(s->db, err, "listing runs");
    ferry_sqlite_bind_text_or_null(st, 1, filter->sync);
    sqlite3_bind_int(st, 2, filter->limit > 0 ? filter->limit : 20);
    ferry_sqlite_bind_text_or_null(st, 3, filter->status);
    sqlite3_bind_int64(st, 4, filter->before_id > 0 ? filter->before_id : 0);
    ferry_sqlite_bind_text_or_null(st, 5, filter->trigger);
    ferry_sqlite_bind_time(st, 6, filter->since_ms);
    ferry_sqlite_bind_text_or_null(st, 7, filter->tenant);
    ferry_sqlite_bind_text_or_null(st, 8, filter->user);
    ferry_sqlite_bind_time(st, 9, filter->until_ms);
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
        return ferry_sqlite_db_error(s->db, err, "listing runs");
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
    if (c->step != NULL)
        sqlite3_bind_text(st, base + 8, c->step, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, base + 8);
    if (c->label != NULL)
        sqlite3_bind_text(st, base + 9, c->label, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, base + 9);
    if (c->link != NULL)
        sqlite3_bind_text(st, base + 10, c->link, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, base + 10);
    if (c->row_values != NULL)
        sqlite3_bind_text(st, base + 11, c->row_values, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, base + 11);
}

static ferry_rc prepare_change_insert(ferry_sqlite_store *s, size_t rows, sqlite3_stmt **ret,
                                      ferry_err *err)
{
    ferry_buf sql;
    ferry_rc rc = FERRY_OK;

    ferry_buf_init(&sql, 64 * 1024);
    ferry_buf_printf(&sql, "INSERT INTO ferry_changes (run_id, seq, record_key, outcome, row,"
                           " reason, diff, step, label, link, row_values) VALUES ");
    for (size_t i = 0; i < rows; i++)
        ferry_buf_printf(&sql, "%s(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", i ? ", " : "");
    if (sqlite3_prepare_v3(s->db, ferry_buf_str(&sql), -1, SQLITE_PREPARE_PERSISTENT, ret, NULL) !=
        SQLITE_OK)
        rc = ferry_sqlite_db_error(s->db, err, "recording changes");
    ferry_buf_done(&sql);
    return rc;
}

static ferry_rc step_once(ferry_sqlite_store *s, sqlite3_stmt *st, ferry_err *err)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "recording changes");
    return FERRY_OK;
}

static ferry_rc st_changes_add(ferry_store *base, const ferry_change *c, size_t n, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    size_t i = 0;
    ferry_rc rc;

    if (n >= CHANGE_ROWS && s->change_insert_many == NULL &&
        (rc = prepare_change_insert(s, CHANGE_ROWS, &s->change_insert_many, err)) != FERRY_OK)
        return rc;
    for (; i + CHANGE_ROWS <= n; i += CHANGE_ROWS) {
        for (size_t j = 0; j < CHANGE_ROWS; j++)
            bind_change(s->change_insert_many, (int)j * CHANGE_PARAMS, &c[i + j]);
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
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    ferry_change *changes = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(
            s->db,
            "SELECT run_id, seq, record_key, outcome, row, reason, diff, step, label, link,"
            " row_values FROM ferry_changes WHERE run_id = ?1 AND (?2 IS NULL OR outcome = ?2) AND "
            "seq > ?4"
            " ORDER BY seq LIMIT ?3",
            -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "listing changes");
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
        c->record_key = ferry_sqlite_col_strdup(st, 2);
        ferry_outcome_parse((const char *)sqlite3_column_text(st, 3), &c->outcome);
        c->row = (long)sqlite3_column_int64(st, 4);
        c->reason = ferry_sqlite_col_strdup(st, 5);
        c->diff = ferry_sqlite_col_strdup(st, 6);
        c->step = ferry_sqlite_col_strdup(st, 7);
        c->label = ferry_sqlite_col_strdup(st, 8);
        c->link = ferry_sqlite_col_strdup(st, 9);
        c->row_values = ferry_sqlite_col_strdup(st, 10);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ferry_changes_free(changes, n);
        return ferry_sqlite_db_error(s->db, err, "listing changes");
    }
    *ret_changes = changes;
    *ret_n = n;
    return FERRY_OK;
}

/* Loads the queued or running run of (sync, tenant). */
static ferry_rc active_run(ferry_sqlite_store *s, const char *sync, const char *tenant,
                           ferry_run *ret, ferry_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT " RUN_COLUMNS " FROM ferry_runs WHERE sync = ?1 AND"
                           " ifnull(tenant, '') = ifnull(?2, '') AND status IN ('queued',"
                           " 'running', 'held')",
                           -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "reading the active run");
    sqlite3_bind_text(st, 1, sync, -1, SQLITE_STATIC);
    ferry_sqlite_bind_text_or_null(st, 2, tenant);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        run_from_row(st, ret);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return FERRY_OK;
    if (rc == SQLITE_DONE)
        return ferry_err_set(err, FERRY_ENOTFOUND, "no active run of '%s'", sync);
    return ferry_sqlite_db_error(s->db, err, "reading the active run");
}

static ferry_rc st_run_enqueue(ferry_store *base, const ferry_run *run, ferry_run *ret_run,
                               bool *ret_created, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    static const char *const sql =
        "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase, dry_run,"
        " queued_at, attempt, token_label, allow_missing, full_requested, preview) VALUES (?1, ?2,"
        " ?3, ?4, 'queued', 'queued', ?5, ?6, 1, ?7, ?8, ?9, ?10)";
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
            return ferry_sqlite_db_error(s->db, err, "queueing the run");
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
            frc = ferry_sqlite_db_error(s->db, err, "queueing the run");
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return frc;
        }
        sqlite3_bind_text(st, 1, run->sync, -1, SQLITE_STATIC);
        ferry_sqlite_bind_text_or_null(st, 2, run->tenant);
        ferry_sqlite_bind_text_or_null(st, 3, run->trigger != NULL ? run->trigger : "api");
        ferry_sqlite_bind_text_or_null(st, 4, run->user);
        sqlite3_bind_int(st, 5, run->dry_run);
        ferry_sqlite_bind_time(st, 6,
                               run->queued_at_ms > 0 ? run->queued_at_ms : ferry_time_now_ms());
        ferry_sqlite_bind_text_or_null(st, 7, run->token);
        sqlite3_bind_int(st, 8, run->allow_missing);
        sqlite3_bind_int(st, 9, run->full);
        sqlite3_bind_int(st, 10, run->preview);
        rc = sqlite3_step(st);
        bool active =
            rc == SQLITE_CONSTRAINT && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE;
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE) {
            frc = st_run_load(base, sqlite3_last_insert_rowid(s->db), ret_run, err);
            if (frc == FERRY_OK) {
                if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
                    *ret_created = true;
                    return FERRY_OK;
                }
                frc = ferry_sqlite_db_error(s->db, err, "queueing the run");
                ferry_run_done(ret_run);
            }
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return frc;
        }
        frc = active ? FERRY_OK : ferry_sqlite_db_error(s->db, err, "queueing the run");
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
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
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
        return ferry_sqlite_db_error(s->db, err, "claiming a run");
    ferry_sqlite_bind_time(st, 1, ferry_time_now_ms());
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "claiming a run");
    if (id == 0)
        return FERRY_DONE;
    return st_run_load(base, id, ret_run, err);
}

static ferry_rc cancel_write(ferry_sqlite_store *s, const ferry_run *run, void *arg, ferry_err *err)
{
    const char *user = arg;
    int64_t id = run->id;
    static const char *const sql =
        "UPDATE ferry_runs SET status = 'cancelled', phase = 'done', finished_at = ?2,"
        " cancel_requested = 1, cancelled_by = ?3, duration_ms = 0, error_code = 'cancelled',"
        " ui_message = 'Sync of ' || sync || ' was cancelled before it started. Nothing was"
        " changed.' WHERE id = ?1 AND status = 'queued'";
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "cancelling the run");
    sqlite3_bind_int64(st, 1, id);
    ferry_sqlite_bind_time(st, 2, ferry_time_now_ms());
    ferry_sqlite_bind_text_or_null(st, 3, user);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "cancelling the run");
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is not queued", (long long)id);
    return FERRY_OK;
}

static ferry_rc st_run_cancel_queued(ferry_store *base, int64_t id, const char *user,
                                     ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    ferry_run run;
    ferry_rc rc;

    /* Loaded first for the planner: the sync, and the end it is given. */
    if ((rc = st_run_load(base, id, &run, err)) != FERRY_OK)
        return rc == FERRY_ENOTFOUND
                   ? ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is not queued", (long long)id)
                   : rc;
    run.status = FERRY_RUN_CANCELLED;
    rc = ferry_sqlite_finish_with_deliveries(s, &run, cancel_write, (void *)user, err);
    ferry_run_done(&run);
    return rc;
}

/* Runs sql (?1 the run's id, ?2 this process) on a running run this process holds:
 * FERRY_ENOTFOUND when it changed nothing (the lease was lost, or the run ended). */
static ferry_rc update_held_run(ferry_sqlite_store *s, const char *what, const char *sql,
                                int64_t id, ferry_err *err)
{
    char owner[300];
    sqlite3_stmt *st;
    int rc;

    ferry_node_self(owner, sizeof(owner));
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, what);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, what);
    if (sqlite3_changes(s->db) == 0)
        return ferry_err_set(err, FERRY_ENOTFOUND, "run %lld is no longer held by this process",
                             (long long)id);
    return FERRY_OK;
}

static ferry_rc st_run_heartbeat(ferry_store *base, int64_t id, ferry_err *err)
{
    return update_held_run((ferry_sqlite_store *)base, "renewing the run's lease",
                           "UPDATE ferry_runs SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ',"
                           " 'now') WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
                           id, err);
}

static ferry_rc st_run_requeue(ferry_store *base, int64_t id, ferry_err *err)
{
    return update_held_run((ferry_sqlite_store *)base, "queueing the run again",
                           "UPDATE ferry_runs SET status = 'queued', phase = 'queued', percent ="
                           " 0, processed = 0, lease_owner = NULL, started_at = NULL WHERE id ="
                           " ?1 AND status = 'running' AND lease_owner = ?2",
                           id, err);
}

/* Runs sql with ?1 = id and ?2, ?3 = a, b (text, or NULL) for its effect. */
static ferry_rc exec_run_sql(ferry_sqlite_store *s, const char *what, const char *sql, int64_t id,
                             const char *a, const char *b, ferry_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, what);
    sqlite3_bind_int64(st, 1, id);
    ferry_sqlite_bind_text_or_null(st, 2, a);
    ferry_sqlite_bind_text_or_null(st, 3, b);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FERRY_OK : ferry_sqlite_db_error(s->db, err, what);
}

/* Records that run (running, read inside the open transaction) will not finish because its
 * process stopped (cause says how), as rec says (store.h, ferry_recovery): the run ends as
 * interrupted with its next attempt queued, or as failed; the audit trail gets the story.
 * *ret_next is the queued run's id, or 0. Inside the caller's transaction. */
static ferry_rc interrupt_held(ferry_sqlite_store *s, const ferry_run *run, const char *cause,
                               const ferry_recovery *rec, int64_t *ret_next, ferry_err *err)
{
    static const char *const what = "recording an interrupted run";
    ferry_store_interruption in;
    char iso[FERRY_ISO_TIME_MAX], why[800], ui[1000];
    int64_t next = 0;
    ferry_rc rc;

    ferry_store_interruption_decide(rec, run, &in);
    ferry_time_format_iso(ferry_time_now_ms(), iso);
    /* Ended first: the one-active-run index then takes the next attempt. */
    rc = exec_run_sql(s, what,
                      "UPDATE ferry_runs SET status = ?2, phase = 'done', finished_at = ?3,"
                      " heartbeat_at = ?3, error_code = 'interrupted', percent = 0, processed = 0"
                      " WHERE id = ?1",
                      run->id, ferry_store_interruption_status(&in), iso, err);
    if (rc == FERRY_OK && in.again) {
        rc = exec_run_sql(s, what,
                          "INSERT INTO ferry_runs (sync, tenant, trigger, user_name, status, phase,"
                          " dry_run, queued_at, attempt, token_label, allow_missing, retry_of,"
                          " full_requested)"
                          " SELECT sync, tenant, trigger, user_name, 'queued', 'queued', dry_run,"
                          " ?2, attempt + 1, token_label, allow_missing, id, full_requested"
                          " FROM ferry_runs"
                          " WHERE id = ?1",
                          run->id, iso, NULL, err);
        next = sqlite3_last_insert_rowid(s->db);
    }
    if (rc == FERRY_OK && !in.again) { /* ended as failed: the deliveries a failure owes */
        ferry_delivery_plan plan[FERRY_DELIVERY_PLAN_MAX];
        ferry_run ended = *run; /* a shallow copy, read only */
        size_t n;
        ended.status = FERRY_RUN_FAILED;
        n = ferry_store_plan(&s->base, &ended, plan);
        rc = ferry_sqlite_outbox_enqueue(s, &ended, plan, n, err);
    }
    if (rc != FERRY_OK)
        return rc;
    ferry_store_interruption_messages(&in, run, cause, next, why, sizeof(why), ui, sizeof(ui));
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
static int interrupt_run(ferry_sqlite_store *s, int64_t id, const char *owner, int64_t lease_ms,
                         const char *cause, const ferry_recovery *rec, ferry_err *err)
{
    ferry_run run;
    int64_t next_id = 0;
    sqlite3_stmt *st;
    ferry_rc rc;
    int step;

    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        ferry_sqlite_db_error(s->db, err, "recording an interrupted run");
        return -1;
    }
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " RUN_COLUMNS " FROM ferry_runs WHERE id = ?1 AND status ="
                           " 'running' AND lease_owner IS ?2 AND (julianday('now') -"
                           " julianday(heartbeat_at)) * 86400000.0 >= ?3",
                           -1, &st, NULL) != SQLITE_OK) {
        ferry_sqlite_db_error(s->db, err, "recording an interrupted run");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    sqlite3_bind_int64(st, 1, id);
    ferry_sqlite_bind_text_or_null(st, 2, owner);
    sqlite3_bind_int64(st, 3, lease_ms);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        run_from_row(st, &run);
    sqlite3_finalize(st);
    if (step != SQLITE_ROW) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        if (step == SQLITE_DONE)
            return 0;
        ferry_sqlite_db_error(s->db, err, "recording an interrupted run");
        return -1;
    }
    rc = interrupt_held(s, &run, cause, rec, &next_id, err);
    ferry_run_done(&run);
    if (rc != FERRY_OK || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        if (rc == FERRY_OK)
            ferry_sqlite_db_error(s->db, err, "recording an interrupted run");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    ferry_store_announce_interrupted(&s->base, rec, id, next_id);
    return 1;
}

/* Ends, with interrupt_run(), the running runs (id, lease owner) sql selects (?1 =
 * lease_ms): all of them, or with dead_only those whose owner is a dead process of this
 * host. At most 256 a call; the rest are found by the next. */
static ferry_rc interrupt_where(ferry_sqlite_store *s, const char *sql, int64_t lease_ms,
                                bool dead_only, const ferry_recovery *rec, int *ret_n,
                                ferry_err *err)
{
    int64_t ids[256];
    char owners[256][300], causes[256][400];
    size_t n = 0;
    sqlite3_stmt *st;
    int rc, ended = 0;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "recovering runs");
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
        return ferry_sqlite_db_error(s->db, err, "recovering runs");
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
    return interrupt_where((ferry_sqlite_store *)base,
                           "SELECT id, lease_owner FROM ferry_runs WHERE status = 'running' AND"
                           " (julianday('now') - julianday(heartbeat_at)) * 86400000.0 > ?1",
                           lease_ms, false, rec, ret_n, err);
}

static ferry_rc st_run_recover(ferry_store *base, const ferry_recovery *rec, int *ret_n,
                               ferry_err *err)
{
    return interrupt_where((ferry_sqlite_store *)base,
                           "SELECT id, lease_owner FROM ferry_runs WHERE status = 'running'", 0,
                           true, rec, ret_n, err);
}

static ferry_rc collect_reasons(ferry_sqlite_store *s, const char *sync, ferry_sync_stats *out,
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
        return ferry_sqlite_db_error(s->db, err, "reading failure reasons");
    sqlite3_bind_text(st, 1, sync, -1, SQLITE_STATIC);
    memset(&tally, 0, sizeof(tally));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ferry_store_tally_add(&tally, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    ferry_store_tally_take(&tally, out);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "reading failure reasons");
    return FERRY_OK;
}

static ferry_rc st_sync_stats(ferry_store *base, const char *sync, ferry_sync_stats *out,
                              ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    static const char *const by_status =
        "SELECT status, count(*), sum(created), sum(updated), sum(unchanged),"
        " sum(skipped + ifnull((SELECT sum(value) FROM json_each(skipped_by_label)), 0)),"
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
    return ferry_sqlite_db_error(s->db, err, "computing run statistics");
}

static ferry_rc st_tx_begin(ferry_store *base, ferry_err *err)
{
    sqlite3 *db = ferry_sqlite_store_db(base);

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(db, err, "beginning the run's transaction");
    return FERRY_OK;
}

static ferry_rc st_tx_commit(ferry_store *base, ferry_err *err)
{
    sqlite3 *db = ferry_sqlite_store_db(base);

    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(db, err, "committing the run's record");
    return FERRY_OK;
}

static void st_tx_rollback(ferry_store *base)
{
    sqlite3 *db = ferry_sqlite_store_db(base);

    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Prepares sql with a watermark's key bound to ?1 (sync), ?2 (tenant, '' for none) and ?3
 * (step). */
static int prepare_watermark(sqlite3 *db, const char *sql, const char *sync, const char *tenant,
                             int step, sqlite3_stmt **ret)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, ret, NULL);

    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(*ret, 1, sync, -1, SQLITE_STATIC);
    sqlite3_bind_text(*ret, 2, tenant != NULL ? tenant : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(*ret, 3, step);
    return SQLITE_OK;
}

static ferry_rc st_watermark_get(ferry_store *base, const char *sync, const char *tenant, int step,
                                 ferry_watermark *ret_wm, ferry_err *err)
{
    sqlite3 *db = ferry_sqlite_store_db(base);
    sqlite3_stmt *st;
    int rc;

    if (prepare_watermark(db,
                          "SELECT cursor_ms, full_at, run_id FROM ferry_watermarks"
                          " WHERE sync = ?1 AND tenant = ?2 AND step = ?3",
                          sync, tenant, step, &st) != SQLITE_OK)
        return ferry_sqlite_db_error(db, err, "reading the watermark");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        ret_wm->cursor_ms = sqlite3_column_int64(st, 0);
        ret_wm->full_at_ms = ferry_sqlite_col_time(st, 1);
        ret_wm->run_id = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return FERRY_OK;
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(db, err, "reading the watermark");
    return ferry_err_set(err, FERRY_ENOTFOUND, "no watermark for '%s'", sync);
}

static ferry_rc st_watermark_put(ferry_store *base, const char *sync, const char *tenant, int step,
                                 const ferry_watermark *wm, ferry_err *err)
{
    sqlite3 *db = ferry_sqlite_store_db(base);
    sqlite3_stmt *st;
    int rc;

    if (prepare_watermark(
            db,
            "INSERT INTO ferry_watermarks (sync, tenant, step, cursor_ms, full_at, run_id,"
            " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (sync, tenant, step)"
            " DO UPDATE SET cursor_ms = excluded.cursor_ms, full_at ="
            " COALESCE(excluded.full_at, ferry_watermarks.full_at), run_id = excluded.run_id,"
            " updated_at = excluded.updated_at",
            sync, tenant, step, &st) != SQLITE_OK)
        return ferry_sqlite_db_error(db, err, "recording the watermark");
    sqlite3_bind_int64(st, 4, wm->cursor_ms);
    ferry_sqlite_bind_time(st, 5, wm->full_at_ms);
    sqlite3_bind_int64(st, 6, wm->run_id);
    ferry_sqlite_bind_time(st, 7, ferry_time_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FERRY_OK : ferry_sqlite_db_error(db, err, "recording the watermark");
}

static ferry_rc st_changes_clear(ferry_store *base, int64_t run_id, ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "DELETE FROM ferry_changes WHERE run_id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "replacing the held run's changes");
    sqlite3_bind_int64(st, 1, run_id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "replacing the held run's changes");
    return FERRY_OK;
}

static ferry_rc st_run_decide(ferry_store *base, int64_t id, ferry_run_status to, bool expired,
                              const char *who, const char *comment, ferry_run *ret_run,
                              ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    static const char *const set_queued = "status = 'queued', phase = 'queued'";
    static const char *const set_running =
        "status = 'running', phase = 'connecting', started_at = ?5, heartbeat_at = ?5,"
        " lease_owner = ?6";
    static const char *const set_rejected = "status = 'rejected', phase = 'done'";
    char sql[512], owner[300];
    sqlite3_stmt *st;
    int rc;

    snprintf(sql, sizeof(sql),
             "UPDATE ferry_runs SET %s, decision = ?2, decided_by = ?3, decision_comment = ?4,"
             " decided_at = ?5 WHERE id = ?1 AND status = 'held'",
             to == FERRY_RUN_QUEUED    ? set_queued
             : to == FERRY_RUN_RUNNING ? set_running
                                       : set_rejected);
    ferry_node_self(owner, sizeof(owner));
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "deciding the held run");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2,
                      to == FERRY_RUN_REJECTED ? (expired ? "expired" : "rejected") : "approved",
                      -1, SQLITE_STATIC);
    ferry_sqlite_bind_text_or_null(st, 3, who);
    ferry_sqlite_bind_text_or_null(st, 4, comment);
    ferry_sqlite_bind_time(st, 5, ferry_time_now_ms());
    if (to == FERRY_RUN_RUNNING)
        sqlite3_bind_text(st, 6, owner, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ferry_sqlite_db_error(s->db, err, "deciding the held run");
    if (sqlite3_changes(s->db) == 0)
        return ferry_store_not_held(base, id, err);
    return ret_run != NULL ? st_run_load(base, id, ret_run, err) : FERRY_OK;
}

static ferry_rc st_last_successes(ferry_store *base, ferry_last_success **ret_list, size_t *ret_n,
                                  ferry_err *err)
{
    ferry_sqlite_store *s = (ferry_sqlite_store *)base;
    /* finished_at is ISO 8601 text of one width: its max is the latest. */
    static const char *const sql =
        "SELECT sync, ifnull(tenant, ''), max(finished_at) FROM ferry_runs WHERE status ="
        " 'succeeded' AND finished_at IS NOT NULL GROUP BY sync, ifnull(tenant, '')"
        " ORDER BY 1, 2";
    ferry_last_success *list = NULL, *more;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ferry_sqlite_db_error(s->db, err, "reading the last successful runs");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap == 0 ? 16 : cap * 2;
            if ((more = realloc(list, cap * sizeof(*list))) == NULL)
                goto out_nomem;
            list = more;
        }
        list[n].sync = ferry_sqlite_col_strdup(st, 0);
        list[n].tenant = ferry_sqlite_col_strdup(st, 1);
        list[n].finished_at_ms = ferry_sqlite_col_time(st, 2);
        n++;
        if (list[n - 1].sync == NULL || list[n - 1].tenant == NULL)
            goto out_nomem;
    }
    if (rc != SQLITE_DONE) {
        ferry_rc ret = ferry_sqlite_db_error(s->db, err, "reading the last successful runs");
        sqlite3_finalize(st);
        ferry_last_successes_free(list, n);
        return ret;
    }
    sqlite3_finalize(st);
    *ret_list = list;
    *ret_n = n;
    return FERRY_OK;

out_nomem:
    sqlite3_finalize(st);
    ferry_last_successes_free(list, n);
    return ferry_err_set(err, FERRY_ENOMEM, "reading the last successful runs");
}

const ferry_store_runs_ops ferry_sqlite_runs_ops = {
    .run_start = st_run_start,
    .run_enqueue = st_run_enqueue,
    .run_claim = st_run_claim,
    .run_cancel_queued = st_run_cancel_queued,
    .run_recover = st_run_recover,
    .run_heartbeat = st_run_heartbeat,
    .run_reclaim_expired = st_run_reclaim_expired,
    .run_finish = st_run_finish,
    .run_requeue = st_run_requeue,
    .run_load = st_run_load,
    .run_list = st_run_list,
    .changes_add = st_changes_add,
    .changes_clear = st_changes_clear,
    .run_decide = st_run_decide,
    .change_list = st_change_list,
    .sync_stats = st_sync_stats,
    .last_successes = st_last_successes,
    .tx_begin = st_tx_begin,
    .tx_commit = st_tx_commit,
    .tx_rollback = st_tx_rollback,
    .watermark_get = st_watermark_get,
    .watermark_put = st_watermark_put,
};
