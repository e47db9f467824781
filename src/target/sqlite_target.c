/* sqlite_target.c - upsert with outcomes and field diffs into a SQLite table.
 *
 * The whole run is one write transaction (BEGIN IMMEDIATE, so the write lock is taken up front
 * and a busy database waits for the busy timeout rather than failing half-way). Readers on
 * other connections see the old rows until COMMIT, because the database is in WAL mode.
 *
 * Per record: look the key up (one index probe) -> not found: INSERT (created); found: compare
 * every mapped column as text with the new canonical value -> equal: unchanged, else UPDATE
 * (updated, with the diff). Every row the run touches is marked in a rowset by rowid; a key
 * found on a row already marked is a duplicate within the run, and the rows left unmarked at
 * the end are the ones the source no longer has (on_missing). When the table was empty at the
 * start, the lookup is skipped and the INSERT's unique-key conflict detects duplicates: this
 * makes a first load one insert per record.
 *
 * Column types (value.h): each mapped column's declared type is read once. A record whose
 * value the column cannot hold (longer than VARCHAR(n), not 0/1 for BOOLEAN, past
 * DECIMAL(p,s)) fails with a reason naming the column, and its row counts as seen, as for a
 * record that failed validation. Values are written in the column's form (BOOLEAN as 0/1,
 * DATETIME and TIMESTAMP as "YYYY-MM-DD HH:MM:SS" in UTC, other text as the canonical text,
 * which SQLite's affinity turns into a number where the column wants one) and compared by
 * value, so a re-sync of identical data is unchanged whatever the application wrote.
 *
 * Table shape: created from the fields (INTEGER for integer, BOOLEAN for boolean, TEXT otherwise,
 * so decimals keep their exact digits) with a primary key on the key fields; an existing table must
 * have every field's column, a unique index or primary key on exactly the key columns, and no NOT
 * NULL column without a default that Ferry does not fill (an INTEGER PRIMARY KEY, with or without
 * AUTOINCREMENT and NOT NULL, is the rowid: SQLite fills it). on_missing: flag adds a
 * ferry_missing_since column when it is absent, unless target.flag names the table's own column: a
 * time column gets the run's time (as the timestamps are written) and NULL when the record returns;
 * a boolean one gets flag.value (0/1) and the opposite when the record returns or is inserted (an
 * app's boolean may be NOT NULL without a default). A time flag's diff shows the instant as a
 * DATETIME column's does; ferry_missing_since's shows its text.
 *
 * Timestamps (target.timestamps): the run's time, taken once at begin() and written as Rails
 * writes it on SQLite ("2026-03-01 09:00:00.123456", UTC), goes into the created column of
 * every row the run inserts and into the updated column of every row it inserts, changes or
 * flags; an unchanged row keeps both. A table Ferry creates is marked as its own by a comment
 * in its CREATE TABLE statement (kept in sqlite_master), so `ferry migrate --targets` may add
 * columns to it. */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/diff.h"
#include "target/shape.h"
#include "target/target.h"
#include "target/value.h"
#include "util/buf.h"
#include "util/rowset.h"
#include "util/timeutil.h"

#define MISSING_COLUMN FERRY_TARGET_MISSING_COLUMN
#define FLAG_COLUMN(t) ferry_target_flag_column(&(t)->sync->target)

typedef struct {
    ferry_target base;
    sqlite3 *db;
    const ferry_sync_spec *sync;
    char *tenant;                /* the run's tenant: rows of other tenants are not the run's */
    size_t *key_field;           /* field index of each key column */
    ferry_column_type *ctype;    /* per field: its column's type */
    ferry_column_type flag_type; /* target.flag's timestamp column, for diffs: DATETIME */
    bool *check;                 /* per field: values are checked against the column type */
    bool any_check;
    bool in_txn;
    bool was_empty; /* the table had no rows when the run began */
    bool flag_mode;
    bool checking; /* ferry_sqlite_target_check(): read the table, change nothing */
    char now[FERRY_TARGET_TIME_MAX]; /* the run's time, for the timestamp columns */
    int64_t revived;          /* rows flagged as missing before the run that the run brought back */
    sqlite3_stmt *select_key; /* rowid, fields..., [missing] by key */
    sqlite3_stmt *insert;
    sqlite3_stmt *update; /* fields..., rowid */
    ferry_rowset seen;
    ferry_buf sql;
    ferry_target_diff diff;
    char reason[512];
} sqlite_target;

static ferry_rc db_error(sqlite_target *t, ferry_err *err, const char *what)
{
    return ferry_err_set(err, FERRY_EDB, "table %s: %s: %s", t->sync->target.table, what,
                         sqlite3_errmsg(t->db));
}

/* The value that keeps field f to the run's rows, or NULL: the run's tenant in the tenant's
 * column, a scope's value in its column (target.scope). */
static const char *own_value(const sqlite_target *t, size_t f)
{
    const ferry_field_spec *fs = &t->sync->fields[f];

    return fs->is_tenant ? t->tenant : fs->scope_value;
}

/* Appends the conditions that keep a statement to the run's rows (" AND "col" = ?N", from
 * ?1 on), bound by bind_own(). Rows of other tenants and scopes are not the run's. */
static void own_rows_sql(const sqlite_target *t, ferry_buf *b)
{
    int n = 0;

    for (size_t f = 0; f < t->sync->nfields; f++)
        if (own_value(t, f) != NULL)
            ferry_buf_printf(b, " AND \"%s\" = ?%d", t->sync->fields[f].name, ++n);
}

static void bind_own(const sqlite_target *t, sqlite3_stmt *st)
{
    int n = 0;

    for (size_t f = 0; f < t->sync->nfields; f++)
        if (own_value(t, f) != NULL)
            sqlite3_bind_text(st, ++n, own_value(t, f), -1, SQLITE_STATIC);
}

/* A created column's declared type: BOOLEAN (0/1, shown false/true in diffs, as the
 * frameworks declare it) for a boolean field, INTEGER for an integer one, else TEXT. */
static const char *column_type(ferry_field_type type)
{
    if (type == FERRY_TYPE_BOOLEAN)
        return "BOOLEAN";
    return type == FERRY_TYPE_INTEGER ? "INTEGER" : "TEXT";
}

static const char *shape_type(ferry_field_type type, bool timestamp)
{
    return timestamp ? "TEXT" : column_type(type);
}

static bool table_exists(sqlite_target *t)
{
    sqlite3_stmt *st;
    bool found = false;

    if (sqlite3_prepare_v2(t->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, t->sync->target.table, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* Field i's column has the declared type decl. */
static void set_type(sqlite_target *t, size_t i, const char *decl)
{
    ferry_column_type_parse(decl, true, &t->ctype[i]);
    t->check[i] = ferry_column_type_needs_check(&t->ctype[i], t->sync->fields[i].type);
    t->any_check = t->any_check || t->check[i];
}

static ferry_rc create_table(sqlite_target *t, ferry_err *err)
{
    const ferry_sync_spec *sync = t->sync;
    ferry_buf *b = &t->sql;

    ferry_buf_reset(b);
    ferry_buf_printf(b, "CREATE TABLE \"%s\" /* " FERRY_TARGET_OWNED_MARK " */ (",
                     sync->target.table);
    for (size_t i = 0; i < sync->nfields; i++) {
        const ferry_field_spec *f = &sync->fields[i];
        ferry_buf_printf(b, "%s\"%s\" %s%s", i ? ", " : "", f->name, column_type(f->type),
                         f->required ? " NOT NULL" : "");
        set_type(t, i, column_type(f->type));
    }
    if (t->flag_mode)
        ferry_buf_printf(b, ", \"%s\" %s", FLAG_COLUMN(t),
                         sync->target.flag_bool ? "BOOLEAN" : "TEXT");
    if (sync->target.created_column != NULL)
        ferry_buf_printf(b, ", \"%s\" TEXT NOT NULL, \"%s\" TEXT NOT NULL",
                         sync->target.created_column, sync->target.updated_column);
    ferry_buf_printf(b, ", PRIMARY KEY (");
    for (size_t k = 0; k < sync->target.nkey; k++)
        ferry_buf_printf(b, "%s\"%s\"", k ? ", " : "", sync->target.key[k]);
    if (ferry_buf_printf(b, "))") != FERRY_OK)
        return ferry_err_set(err, FERRY_ENOMEM, "building CREATE TABLE");
    if (sqlite3_exec(t->db, ferry_buf_str(b), NULL, NULL, NULL) != SQLITE_OK)
        return db_error(t, err, "creating the table");
    return FERRY_OK;
}

/* True when the index named index covers exactly the key columns. */
static bool index_is_key(sqlite_target *t, const char *index)
{
    const ferry_sync_spec *sync = t->sync;
    sqlite3_stmt *st;
    size_t n = 0, matched = 0;

    if (sqlite3_prepare_v2(t->db, "SELECT name FROM pragma_index_info(?1)", -1, &st, NULL) !=
        SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, index, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(st, 0);
        n++;
        for (size_t k = 0; k < sync->target.nkey; k++) {
            if (col != NULL && strcmp(col, sync->target.key[k]) == 0)
                matched++;
        }
    }
    sqlite3_finalize(st);
    return n == sync->target.nkey && matched == n;
}

/* Reads the table's columns into shape (initialised by the caller), and whether Ferry
 * created the table. The rowid alias (the one primary key column, declared INTEGER) counts
 * as having a default: SQLite fills it when no field does. */
static ferry_rc read_shape(sqlite_target *t, ferry_target_shape *shape, ferry_err *err)
{
    const char *table = t->sync->target.table;
    ferry_rc rc = FERRY_OK;
    sqlite3_stmt *st;
    long f;

    if (sqlite3_prepare_v2(t->db,
                           "SELECT name, \"notnull\", dflt_value, pk,"
                           " pk = 1 AND upper(type) = 'INTEGER'"
                           " AND (SELECT count(*) FROM pragma_table_info(?1) WHERE pk > 0) = 1,"
                           " (SELECT instr(sql, '/* " FERRY_TARGET_OWNED_MARK " */') > 0"
                           "  FROM sqlite_master WHERE type = 'table' AND name = ?1), type"
                           " FROM pragma_table_info(?1)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(t, err, "reading the table's columns");
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (rc == FERRY_OK && sqlite3_step(st) == SQLITE_ROW) {
        bool rowid_alias = sqlite3_column_int(st, 4) != 0;
        shape->owned = sqlite3_column_int(st, 5) != 0;
        rc = ferry_target_shape_column(
            shape, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1) != 0,
            sqlite3_column_type(st, 2) != SQLITE_NULL || rowid_alias, &f, err);
        if (rc == FERRY_OK && f >= 0)
            set_type(t, (size_t)f, (const char *)sqlite3_column_text(st, 6));
    }
    sqlite3_finalize(st);
    return rc;
}

static ferry_rc check_table(sqlite_target *t, ferry_err *err)
{
    const ferry_sync_spec *sync = t->sync;
    const char *table = sync->target.table;
    bool has_key_index = false;
    ferry_target_shape shape;
    sqlite3_stmt *st;
    ferry_rc rc;

    if ((rc = ferry_target_shape_init(&shape, sync, shape_type, err)) != FERRY_OK)
        return rc;
    if ((rc = read_shape(t, &shape, err)) != FERRY_OK ||
        (rc = ferry_target_shape_check_columns(&shape, err)) != FERRY_OK)
        goto out;
    if (sqlite3_prepare_v2(t->db, "SELECT name FROM pragma_index_list(?1) WHERE \"unique\" = 1", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = db_error(t, err, "reading the table's indexes");
        goto out;
    }
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (!has_key_index && sqlite3_step(st) == SQLITE_ROW)
        has_key_index = index_is_key(t, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (!has_key_index) {
        /* An INTEGER PRIMARY KEY is the rowid and has no index of its own. It must be the
         * only primary key column: the first column of PRIMARY KEY (id, x) is not unique. */
        if (sync->target.nkey == 1 &&
            sqlite3_prepare_v2(t->db,
                               "SELECT count(*), max(name = ?2) FROM pragma_table_info(?1)"
                               " WHERE pk > 0",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, sync->target.key[0], -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1 &&
                sqlite3_column_int(st, 1) == 1)
                has_key_index = true;
            sqlite3_finalize(st);
        }
    }
    if ((rc = ferry_target_shape_check_key(&shape, has_key_index, err)) != FERRY_OK)
        goto out;
    if (t->flag_mode && sync->target.flag_column == NULL && !shape.has_missing_col &&
        !t->checking) {
        ferry_buf_reset(&t->sql);
        ferry_buf_printf(&t->sql, "ALTER TABLE \"%s\" ADD COLUMN \"" MISSING_COLUMN "\" TEXT",
                         table);
        if (sqlite3_exec(t->db, ferry_buf_str(&t->sql), NULL, NULL, NULL) != SQLITE_OK)
            rc = db_error(t, err, "adding the " MISSING_COLUMN " column");
    }
out:
    ferry_target_shape_done(&shape);
    return rc;
}

static ferry_rc prepare(sqlite_target *t, sqlite3_stmt **st, ferry_err *err)
{
    if (sqlite3_prepare_v3(t->db, ferry_buf_str(&t->sql), -1, SQLITE_PREPARE_PERSISTENT, st,
                           NULL) != SQLITE_OK)
        return db_error(t, err, "preparing a statement");
    return FERRY_OK;
}

static ferry_rc prepare_statements(sqlite_target *t, ferry_err *err)
{
    const ferry_sync_spec *sync = t->sync;
    ferry_buf *b = &t->sql;
    ferry_rc rc;

    ferry_buf_reset(b);
    ferry_buf_printf(b, "SELECT rowid");
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf(b, ", \"%s\"", sync->fields[i].name);
    if (t->flag_mode)
        ferry_buf_printf(b, ", \"%s\"", FLAG_COLUMN(t));
    ferry_buf_printf(b, " FROM \"%s\" WHERE ", sync->target.table);
    for (size_t k = 0; k < sync->target.nkey; k++)
        ferry_buf_printf(b, "%s\"%s\" = ?%zu", k ? " AND " : "", sync->target.key[k], k + 1);
    if ((rc = prepare(t, &t->select_key, err)) != FERRY_OK)
        return rc;

    ferry_buf_reset(b);
    ferry_buf_printf(b, "INSERT INTO \"%s\" (", sync->target.table);
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf(b, "%s\"%s\"", i ? ", " : "", sync->fields[i].name);
    if (sync->target.created_column != NULL)
        ferry_buf_printf(b, ", \"%s\", \"%s\"", sync->target.created_column,
                         sync->target.updated_column);
    /* A new row is not flagged; an app's boolean column may be NOT NULL without a default. */
    if (t->flag_mode && sync->target.flag_bool)
        ferry_buf_printf(b, ", \"%s\"", FLAG_COLUMN(t));
    ferry_buf_printf(b, ") VALUES (");
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf(b, "%s?%zu", i ? ", " : "", i + 1);
    if (sync->target.created_column != NULL)
        ferry_buf_printf(b, ", ?%zu, ?%zu", sync->nfields + 1, sync->nfields + 1);
    if (t->flag_mode && sync->target.flag_bool)
        ferry_buf_printf(b, ", %d", !sync->target.flag_value);
    ferry_buf_printf(b, ")");
    if ((rc = prepare(t, &t->insert, err)) != FERRY_OK)
        return rc;
    /* Bindings outlive sqlite3_reset(): the run's time is bound once. */
    if (sync->target.created_column != NULL)
        sqlite3_bind_text(t->insert, (int)sync->nfields + 1, t->now, -1, SQLITE_STATIC);

    ferry_buf_reset(b);
    ferry_buf_printf(b, "UPDATE \"%s\" SET ", sync->target.table);
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf(b, "%s\"%s\" = ?%zu", i ? ", " : "", sync->fields[i].name, i + 1);
    if (t->flag_mode && sync->target.flag_bool) /* a row not flagged keeps its value */
        ferry_buf_printf(b, ", \"%s\" = CASE WHEN \"%s\" IS %d THEN %d ELSE \"%s\" END",
                         FLAG_COLUMN(t), FLAG_COLUMN(t), sync->target.flag_value,
                         !sync->target.flag_value, FLAG_COLUMN(t));
    else if (t->flag_mode)
        ferry_buf_printf(b, ", \"%s\" = NULL", FLAG_COLUMN(t));
    if (sync->target.updated_column != NULL)
        ferry_buf_printf(b, ", \"%s\" = ?%zu", sync->target.updated_column, sync->nfields + 2);
    ferry_buf_printf(b, " WHERE rowid = ?%zu", sync->nfields + 1);
    if ((rc = prepare(t, &t->update, err)) != FERRY_OK)
        return rc;
    if (sync->target.updated_column != NULL)
        sqlite3_bind_text(t->update, (int)sync->nfields + 2, t->now, -1, SQLITE_STATIC);
    return FERRY_OK;
}

static ferry_rc tg_begin(ferry_target *base, ferry_err *err)
{
    sqlite_target *t = (sqlite_target *)base;
    sqlite3_stmt *st;
    ferry_rc rc;

    if (!base->joined) {
        if (sqlite3_exec(t->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return db_error(t, err, "beginning the transaction");
        t->in_txn = true;
    }
    ferry_target_time_now(false, t->now);
    if (!table_exists(t))
        rc = create_table(t, err);
    else
        rc = check_table(t, err);
    if (rc != FERRY_OK)
        return rc;
    if ((rc = prepare_statements(t, err)) != FERRY_OK)
        return rc;
    ferry_buf_reset(&t->sql);
    ferry_buf_printf(&t->sql, "SELECT 1 FROM \"%s\" WHERE 1", t->sync->target.table);
    own_rows_sql(t, &t->sql);
    ferry_buf_printf(&t->sql, " LIMIT 1");
    if (sqlite3_prepare_v2(t->db, ferry_buf_str(&t->sql), -1, &st, NULL) != SQLITE_OK)
        return db_error(t, err, "reading the table");
    bind_own(t, st);
    t->was_empty = sqlite3_step(st) != SQLITE_ROW;
    sqlite3_finalize(st);
    return FERRY_OK;
}

static void bind_value(sqlite_target *t, sqlite3_stmt *st, int idx, size_t field,
                       const ferry_mapped_record *rec)
{
    const char *v = rec->value[field];
    ferry_field_type type = t->sync->fields[field].type;
    const ferry_column_type *ct = &t->ctype[field];
    char plain[64];

    if (v == NULL)
        sqlite3_bind_null(st, idx);
    else if (type == FERRY_TYPE_INTEGER || type == FERRY_TYPE_BOOLEAN)
        sqlite3_bind_int64(st, idx, strtoll(v, NULL, 10));
    else if (ct->kind == FERRY_COLUMN_BOOLEAN)
        sqlite3_bind_int64(st, idx, strcmp(ferry_column_value_norm(ct, v, NULL), "1") == 0);
    else if (ct->kind == FERRY_COLUMN_TIMESTAMP &&
             ferry_column_datetime_plain(v, plain, sizeof(plain)))
        sqlite3_bind_text(st, idx, plain, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_text(st, idx, v, (int)rec->len[field], SQLITE_STATIC);
}

/* Looks rec's key up. Returns SQLITE_ROW with the statement positioned on the row (the
 * caller resets it), SQLITE_DONE when absent, or an error code. */
static int lookup(sqlite_target *t, const ferry_mapped_record *rec)
{
    sqlite3_stmt *st = t->select_key;

    for (size_t k = 0; k < t->sync->target.nkey; k++)
        bind_value(t, st, (int)k + 1, t->key_field[k], rec);
    return sqlite3_step(st);
}

static ferry_rc mark_seen(sqlite_target *t, int64_t rowid, ferry_err *err)
{
    if (ferry_rowset_add(&t->seen, rowid) != FERRY_OK)
        return ferry_err_set(err, FERRY_ENOMEM, "remembering the rows seen");
    return FERRY_OK;
}

static void set_duplicate(sqlite_target *t, const ferry_mapped_record *rec, ferry_apply_result *res)
{
    ferry_target_reason_duplicate(t->sync, rec->key, t->reason, sizeof(t->reason));
    res->outcome = FERRY_OUTCOME_FAILED;
    res->reason = t->reason;
}

static void set_constraint(sqlite_target *t, ferry_apply_result *res)
{
    snprintf(t->reason, sizeof(t->reason), "rejected by the target table: %s",
             sqlite3_errmsg(t->db));
    res->outcome = FERRY_OUTCOME_FAILED;
    res->reason = t->reason;
}

static ferry_rc do_insert(sqlite_target *t, const ferry_mapped_record *rec, ferry_apply_result *res,
                          ferry_err *err)
{
    sqlite3_stmt *st = t->insert;
    int rc;

    for (size_t i = 0; i < t->sync->nfields; i++)
        bind_value(t, st, (int)i + 1, i, rec);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        res->outcome = FERRY_OUTCOME_CREATED;
        return mark_seen(t, sqlite3_last_insert_rowid(t->db), err);
    }
    if (rc != SQLITE_CONSTRAINT)
        return db_error(t, err, "inserting a row");
    set_constraint(t, res);
    return FERRY_OK;
}

/* Compares the row the select statement is on with rec; builds the diff when they differ. */
static ferry_rc compare(sqlite_target *t, const ferry_mapped_record *rec, bool was_flagged,
                        bool *ret_changed, ferry_err *err)
{
    sqlite3_stmt *st = t->select_key;
    const ferry_sync_spec *sync = t->sync;
    ferry_rc rc;

    ferry_target_diff_reset(&t->diff);
    for (size_t i = 0; i < sync->nfields + (t->flag_mode ? 1 : 0); i++) {
        const char *old = (const char *)sqlite3_column_text(st, (int)i + 1);
        const char *new = i < sync->nfields ? rec->value[i] : NULL;
        if (i < sync->nfields)
            rc = ferry_target_diff_add_typed(&t->diff, sync->fields[i].name, &t->ctype[i], old, new,
                                             err);
        else if (sync->target.flag_bool) /* the returning record's flag flips */
            rc = was_flagged
                     ? ferry_target_diff_add(&t->diff, FLAG_COLUMN(t),
                                             sync->target.flag_value ? "true" : "false",
                                             sync->target.flag_value ? "false" : "true", err)
                     : FERRY_OK;
        else if (sync->target.flag_column != NULL) /* the app's column: shown as an instant */
            rc =
                ferry_target_diff_add_typed(&t->diff, FLAG_COLUMN(t), &t->flag_type, old, new, err);
        else
            rc = ferry_target_diff_add(&t->diff, FLAG_COLUMN(t), old, new, err);
        if (rc != FERRY_OK)
            return rc;
    }
    return ferry_target_diff_finish(&t->diff, ret_changed, err);
}

/* The row the select statement is on is flagged as missing. */
static bool row_flagged(sqlite_target *t)
{
    int col = (int)t->sync->nfields + 1;

    if (!t->flag_mode || sqlite3_column_type(t->select_key, col) == SQLITE_NULL)
        return false;
    return !t->sync->target.flag_bool ||
           (sqlite3_column_int(t->select_key, col) != 0) == t->sync->target.flag_value;
}

static ferry_rc tg_keep(ferry_target *base, const ferry_mapped_record *rec, ferry_err *err);

/* When a value of rec does not fit its column: the record fails at once with the reason, and
 * its row (if any) counts as seen, as for a record that failed validation. */
static ferry_rc check_values(sqlite_target *t, const ferry_mapped_record *rec,
                             ferry_apply_result *res, ferry_err *err)
{
    if (!t->any_check ||
        ferry_column_record_fits(t->sync, t->ctype, t->check, rec, t->reason, sizeof(t->reason)))
        return FERRY_OK;
    res->outcome = FERRY_OUTCOME_FAILED;
    res->reason = t->reason;
    return tg_keep(&t->base, rec, err);
}

static ferry_rc tg_apply(ferry_target *base, const ferry_mapped_record *rec,
                         ferry_apply_result *res, ferry_err *err)
{
    sqlite_target *t = (sqlite_target *)base;
    sqlite3_stmt *sel = t->select_key;
    bool changed = false, was_flagged;
    int64_t rowid;
    ferry_rc frc;
    int rc;

    memset(res, 0, sizeof(*res));
    if ((frc = check_values(t, rec, res, err)) != FERRY_OK || res->outcome == FERRY_OUTCOME_FAILED)
        return frc;
    if (t->was_empty) {
        /* First load: insert straight away; a conflict means a duplicate in this run. */
        frc = do_insert(t, rec, res, err);
        if (frc != FERRY_OK || res->outcome != FERRY_OUTCOME_FAILED)
            return frc;
        rc = lookup(t, rec);
        sqlite3_reset(sel);
        if (rc == SQLITE_ROW)
            set_duplicate(t, rec, res);
        return FERRY_OK;
    }
    rc = lookup(t, rec);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(sel);
        return do_insert(t, rec, res, err);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(sel);
        return db_error(t, err, "looking a key up");
    }
    rowid = sqlite3_column_int64(sel, 0);
    if (ferry_rowset_has(&t->seen, rowid)) {
        sqlite3_reset(sel);
        set_duplicate(t, rec, res);
        return FERRY_OK;
    }
    was_flagged = row_flagged(t);
    if ((frc = mark_seen(t, rowid, err)) != FERRY_OK ||
        (frc = compare(t, rec, was_flagged, &changed, err)) != FERRY_OK) {
        sqlite3_reset(sel);
        return frc;
    }
    sqlite3_reset(sel);
    if (!changed) {
        res->outcome = FERRY_OUTCOME_UNCHANGED;
        return FERRY_OK;
    }
    for (size_t i = 0; i < t->sync->nfields; i++)
        bind_value(t, t->update, (int)i + 1, i, rec);
    sqlite3_bind_int64(t->update, (int)t->sync->nfields + 1, rowid);
    rc = sqlite3_step(t->update);
    sqlite3_reset(t->update);
    if (rc == SQLITE_CONSTRAINT) {
        set_constraint(t, res);
        return FERRY_OK;
    }
    if (rc != SQLITE_DONE)
        return db_error(t, err, "updating a row");
    if (was_flagged)
        t->revived++;
    res->outcome = FERRY_OUTCOME_UPDATED;
    res->diff_json = ferry_target_diff_json(&t->diff);
    res->diff_text = ferry_target_diff_text(&t->diff);
    return FERRY_OK;
}

static ferry_rc tg_keep(ferry_target *base, const ferry_mapped_record *rec, ferry_err *err)
{
    sqlite_target *t = (sqlite_target *)base;
    ferry_rc frc = FERRY_OK;
    int rc;

    for (size_t k = 0; k < t->sync->target.nkey; k++) {
        if (rec->value[t->key_field[k]] == NULL)
            return FERRY_OK;
    }
    rc = lookup(t, rec);
    if (rc == SQLITE_ROW)
        frc = mark_seen(t, sqlite3_column_int64(t->select_key, 0), err);
    else if (rc != SQLITE_DONE)
        frc = db_error(t, err, "looking a key up");
    sqlite3_reset(t->select_key);
    return frc;
}

/* The key of the row scan is on (its key columns from column first on), as the run
 * reports it: the value alone for a one-column key, else "k1=v1, k2=v2". */
static void format_key(const ferry_sync_spec *sync, sqlite3_stmt *st, int first, ferry_buf *key)
{
    ferry_buf_reset(key);
    for (size_t k = 0; k < sync->target.nkey; k++) {
        const char *v = (const char *)sqlite3_column_text(st, (int)k + first);
        ferry_sync_key_append(sync, k, v != NULL ? v : "", v != NULL ? strlen(v) : 0, key);
    }
}

/* The columns of the row st is on, from column first on, as a JSON object of their text (null
 * for NULL; a value that is not UTF-8 text, a BLOB's, as null too), into out: a deleted row's
 * values (target.h). */
static ferry_rc row_values_json(sqlite_target *t, sqlite3_stmt *st, int first, ferry_buf *out,
                                ferry_err *err)
{
    json_t *obj = json_object();
    char *text = NULL;
    ferry_rc rc = FERRY_OK;
    int n = sqlite3_column_count(st);

    if (obj == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "table %s: reading a missing row",
                             t->sync->target.table);
    for (int i = first; i < n && rc == FERRY_OK; i++) {
        const char *v = (const char *)sqlite3_column_text(st, i);
        json_t *jv = v != NULL ? json_stringn(v, (size_t)sqlite3_column_bytes(st, i)) : NULL;
        if (json_object_set_new(obj, sqlite3_column_name(st, i), jv != NULL ? jv : json_null()))
            rc = FERRY_ENOMEM;
    }
    if (rc == FERRY_OK && (text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
        rc = FERRY_ENOMEM;
    json_decref(obj);
    ferry_buf_reset(out);
    if (rc == FERRY_OK)
        rc = ferry_buf_append(out, text, strlen(text));
    free(text);
    if (rc != FERRY_OK)
        return ferry_err_set(err, rc, "table %s: reading a missing row", t->sync->target.table);
    return FERRY_OK;
}

/* Collects the rowids of the rows in on_missing's scope the run did not see into
 * temp.ferry_missing, counting the rows in scope and the missing ones. The scope leaves out
 * the rows the run brought back from flagged: they were not in it when the run began. */
static ferry_rc collect_missing(sqlite_target *t, int64_t *ret_scope, int64_t *ret_missing,
                                ferry_err *err)
{
    const ferry_sync_spec *sync = t->sync;
    sqlite3_stmt *scan = NULL, *remember = NULL;
    ferry_buf *b = &t->sql;
    int64_t scope = 0, missing = 0;
    ferry_rc frc = FERRY_OK;
    int rc;

    /* Rows cannot be deleted safely while a SELECT on the same table is stepping, so the
     * missing rowids are collected in a temporary table first. */
    if (sqlite3_exec(t->db,
                     "CREATE TEMP TABLE IF NOT EXISTS ferry_missing (id INTEGER PRIMARY KEY);"
                     "DELETE FROM temp.ferry_missing;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return db_error(t, err, "preparing on_missing");
    ferry_buf_reset(b);
    ferry_buf_printf(b, "SELECT rowid FROM \"%s\" WHERE 1", sync->target.table);
    if (t->flag_mode && sync->target.flag_bool)
        ferry_buf_printf(b, " AND \"%s\" IS NOT %d", FLAG_COLUMN(t), sync->target.flag_value);
    else if (t->flag_mode)
        ferry_buf_printf(b, " AND \"%s\" IS NULL", FLAG_COLUMN(t));
    own_rows_sql(t, b); /* on_missing touches the run's tenant's and scope's rows only */
    if (sqlite3_prepare_v2(t->db, ferry_buf_str(b), -1, &scan, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(t->db, "INSERT INTO temp.ferry_missing (id) VALUES (?1)", -1, &remember,
                           NULL) != SQLITE_OK) {
        frc = db_error(t, err, "scanning for missing rows");
        goto out;
    }
    bind_own(t, scan);
    while ((rc = sqlite3_step(scan)) == SQLITE_ROW) {
        int64_t rowid = sqlite3_column_int64(scan, 0);
        scope++;
        if (ferry_rowset_has(&t->seen, rowid))
            continue;
        missing++;
        sqlite3_bind_int64(remember, 1, rowid);
        rc = sqlite3_step(remember);
        sqlite3_reset(remember);
        if (rc != SQLITE_DONE) {
            frc = db_error(t, err, "remembering a missing row");
            goto out;
        }
    }
    if (rc != SQLITE_DONE)
        frc = db_error(t, err, "scanning for missing rows");
    *ret_scope = scope - t->revived;
    *ret_missing = missing;
out:
    sqlite3_finalize(scan);
    sqlite3_finalize(remember);
    return frc;
}

static ferry_rc tg_finish(ferry_target *base, ferry_target_missing_check_cb check,
                          ferry_target_missing_cb cb, void *ctx, ferry_err *err)
{
    sqlite_target *t = (sqlite_target *)base;
    const ferry_sync_spec *sync = t->sync;
    sqlite3_stmt *keys = NULL;
    ferry_buf *b = &t->sql;
    ferry_buf key, values;
    ferry_rc frc;
    char now[FERRY_ISO_TIME_MAX];
    int64_t scope = 0, missing = 0;
    int rc;

    if (sync->target.on_missing == FERRY_ON_MISSING_KEEP)
        return FERRY_OK;
    if ((frc = collect_missing(t, &scope, &missing, err)) != FERRY_OK)
        return frc;
    if (missing == 0)
        return FERRY_OK;
    if (check != NULL && (frc = check(ctx, missing, scope, err)) != FERRY_OK)
        return frc;
    /* Key order, so the missing rows are reported in the same order on every backend. */
    ferry_buf_reset(b);
    ferry_buf_printf(b, "SELECT rowid");
    for (size_t k = 0; k < sync->target.nkey; k++)
        ferry_buf_printf(b, ", \"%s\"", sync->target.key[k]);
    ferry_buf_printf(b, ", * FROM \"%s\" WHERE rowid IN (SELECT id FROM temp.ferry_missing)",
                     sync->target.table);
    for (size_t k = 0; k < sync->target.nkey; k++)
        ferry_buf_printf(b, "%s\"%s\"", k ? ", " : " ORDER BY ", sync->target.key[k]);
    if (sqlite3_prepare_v2(t->db, ferry_buf_str(b), -1, &keys, NULL) != SQLITE_OK)
        return db_error(t, err, "reading missing rows");
    ferry_buf_init(&key, 4096);
    ferry_buf_init(&values, FERRY_TARGET_ROW_VALUES_MAX);
    while ((rc = sqlite3_step(keys)) == SQLITE_ROW) {
        format_key(sync, keys, 1, &key);
        if ((frc = row_values_json(t, keys, 1 + (int)sync->target.nkey, &values, err)) !=
                FERRY_OK ||
            (frc = cb(ctx, ferry_buf_str(&key), ferry_buf_str(&values), err)) != FERRY_OK)
            break;
    }
    ferry_buf_done(&key);
    ferry_buf_done(&values);
    if (frc == FERRY_OK && rc != SQLITE_DONE)
        frc = db_error(t, err, "reading missing rows");
    sqlite3_finalize(keys);
    if (frc != FERRY_OK)
        return frc;
    ferry_buf_reset(b);
    if (t->flag_mode) {
        ferry_time_format_iso(ferry_time_now_ms(), now);
        if (sync->target.flag_bool)
            ferry_buf_printf(b, "UPDATE \"%s\" SET \"%s\" = %d", sync->target.table, FLAG_COLUMN(t),
                             sync->target.flag_value);
        else /* the app's own column takes the time as its timestamps are written */
            ferry_buf_printf(b, "UPDATE \"%s\" SET \"%s\" = '%s'", sync->target.table,
                             FLAG_COLUMN(t), sync->target.flag_column != NULL ? t->now : now);
        if (sync->target.updated_column != NULL)
            ferry_buf_printf(b, ", \"%s\" = '%s'", sync->target.updated_column, t->now);
        ferry_buf_printf(b, " WHERE rowid IN (SELECT id FROM temp.ferry_missing)");
    } else {
        ferry_buf_printf(b, "DELETE FROM \"%s\" WHERE rowid IN (SELECT id FROM temp.ferry_missing)",
                         sync->target.table);
    }
    if (sqlite3_exec(t->db, ferry_buf_str(b), NULL, NULL, NULL) != SQLITE_OK)
        return db_error(t, err, t->flag_mode ? "flagging missing rows" : "deleting missing rows");
    return FERRY_OK;
}

static void finalize_statements(sqlite_target *t)
{
    sqlite3_finalize(t->select_key);
    sqlite3_finalize(t->insert);
    sqlite3_finalize(t->update);
    t->select_key = t->insert = t->update = NULL;
}

/* The statements are the target's only own state; ferry_missing is emptied by each use. */
static ferry_rc tg_release(ferry_target *base, ferry_err *err)
{
    (void)err;
    finalize_statements((sqlite_target *)base);
    return FERRY_OK;
}

static ferry_rc tg_commit(ferry_target *base, ferry_err *err)
{
    sqlite_target *t = (sqlite_target *)base;

    finalize_statements(t);
    if (base->joined)
        return FERRY_OK;
    if (sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        ferry_rc rc = db_error(t, err, "committing");
        sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
        t->in_txn = false;
        return rc;
    }
    t->in_txn = false;
    return FERRY_OK;
}

static void tg_rollback(ferry_target *base)
{
    sqlite_target *t = (sqlite_target *)base;

    finalize_statements(t);
    if (t->in_txn && !sqlite3_get_autocommit(t->db))
        sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
    t->in_txn = false;
}

static void tg_free(ferry_target *base)
{
    sqlite_target *t = (sqlite_target *)base;

    if (t == NULL)
        return;
    tg_rollback(base);
    ferry_rowset_done(&t->seen);
    ferry_buf_done(&t->sql);
    ferry_target_diff_done(&t->diff);
    free(t->key_field);
    free(t->ctype);
    free(t->check);
    free(t->tenant);
    free(t);
}

static ferry_rc tg_lookup_rows(ferry_target *base, const ferry_lookup_spec *lk,
                               const char *const *scope_values, ferry_target_row_cb cb, void *ctx,
                               ferry_err *err)
{
    sqlite_target *t = (sqlite_target *)base;
    const char *match[FERRY_LOOKUP_MATCH_MAX];
    size_t match_len[FERRY_LOOKUP_MATCH_MAX];
    sqlite3_stmt *st;
    ferry_rc rc = FERRY_OK;
    int step = SQLITE_DONE;

    if (lk->nmatch > FERRY_LOOKUP_MATCH_MAX)
        return ferry_err_set(err, FERRY_EINVAL, "a look-up matches at most %d columns",
                             FERRY_LOOKUP_MATCH_MAX);
    if (ferry_target_lookup_sql(lk, false, cb == NULL, &t->sql) != FERRY_OK)
        return ferry_err_set(err, FERRY_ENOMEM, "building the look-up's query");
    if (sqlite3_prepare_v2(t->db, ferry_buf_str(&t->sql), -1, &st, NULL) != SQLITE_OK)
        return ferry_err_set(err, FERRY_ESCHEMA, "cannot read the look-up table %s: %s", lk->table,
                             sqlite3_errmsg(t->db));
    for (size_t s = 0; s < lk->nscope; s++)
        sqlite3_bind_text(st, (int)s + 1, scope_values[s], -1, SQLITE_STATIC);
    while (rc == FERRY_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        int n = (int)lk->nmatch;
        for (int k = 0; k < n; k++) {
            match[k] = (const char *)sqlite3_column_text(st, k);
            match_len[k] = (size_t)sqlite3_column_bytes(st, k);
        }
        rc = cb(ctx, match, match_len, (const char *)sqlite3_column_text(st, n),
                (size_t)sqlite3_column_bytes(st, n), err);
    }
    if (rc == FERRY_OK && step != SQLITE_DONE)
        rc = db_error(t, err, "reading a look-up table");
    sqlite3_finalize(st);
    return rc;
}

static const ferry_target_ops sqlite_target_ops = {
    .begin = tg_begin,
    .apply = tg_apply,
    .keep = tg_keep,
    .finish = tg_finish,
    .lookup_rows = tg_lookup_rows,
    .release = tg_release,
    .commit = tg_commit,
    .rollback = tg_rollback,
    .free = tg_free,
};

ferry_rc ferry_sqlite_target_new(struct sqlite3 *db, const ferry_sync_spec *sync,
                                 const char *tenant, ferry_target **ret_target, ferry_err *err)
{
    sqlite_target *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
    if (sync->tenant_field >= 0 && tenant != NULL && (t->tenant = strdup(tenant)) == NULL) {
        free(t);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
    }
    t->base.ops = &sqlite_target_ops;
    t->db = db;
    t->sync = sync;
    t->flag_mode = sync->target.on_missing == FERRY_ON_MISSING_FLAG;
    ferry_column_type_parse("DATETIME", true, &t->flag_type);
    ferry_rowset_init(&t->seen);
    ferry_buf_init(&t->sql, 1024 * 1024);
    ferry_target_diff_init(&t->diff);
    t->key_field = calloc(sync->target.nkey, sizeof(*t->key_field));
    t->ctype = calloc(sync->nfields > 0 ? sync->nfields : 1, sizeof(*t->ctype));
    t->check = calloc(sync->nfields > 0 ? sync->nfields : 1, sizeof(*t->check));
    if (t->key_field == NULL || t->ctype == NULL || t->check == NULL) {
        tg_free(&t->base);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
    }
    for (size_t k = 0; k < sync->target.nkey; k++) {
        long f = ferry_sync_field_index(sync, sync->target.key[k]);
        if (f < 0) {
            tg_free(&t->base);
            return ferry_err_set(err, FERRY_ECONFIG, "key '%s' is not a field",
                                 sync->target.key[k]);
        }
        t->key_field[k] = (size_t)f;
    }
    *ret_target = &t->base;
    return FERRY_OK;
}

ferry_rc ferry_sqlite_target_check(struct sqlite3 *db, const ferry_sync_spec *sync, bool migrate,
                                   ferry_buf *done, ferry_err *err)
{
    ferry_target *base = NULL;
    sqlite_target *t;
    ferry_target_shape shape = {0};
    ferry_buf add;
    ferry_rc rc;

    if ((rc = ferry_sqlite_target_new(db, sync, NULL, &base, err)) != FERRY_OK)
        return rc;
    t = (sqlite_target *)base;
    t->checking = true;
    ferry_buf_init(&add, 64 * 1024);
    if (sqlite3_exec(db, migrate ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(t, err, "beginning the transaction");
        goto out;
    }
    t->in_txn = true;
    if ((rc = ferry_target_probe_lookups(base, sync, err)) != FERRY_OK)
        goto out;
    if (!table_exists(t))
        goto out; /* the first run creates it */
    if (!migrate) {
        rc = check_table(t, err);
        goto out;
    }
    if ((rc = ferry_target_shape_init(&shape, sync, shape_type, err)) != FERRY_OK ||
        (rc = read_shape(t, &shape, err)) != FERRY_OK)
        goto out;
    if ((rc = ferry_target_shape_migration(&shape, &add, err)) != FERRY_OK || add.len == 0)
        goto out;
    if (sqlite3_exec(db, ferry_buf_str(&add), NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(t, err, "adding columns");
        goto out;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(t, err, "committing");
        goto out;
    }
    t->in_txn = false;
    ferry_buf_printf_trunc(done, "%s", ferry_buf_str(&add));
out:
    ferry_target_shape_done(&shape);
    ferry_buf_done(&add);
    tg_free(base); /* rolls back what is left open */
    return rc;
}

void ferry_target_free(ferry_target *t)
{
    if (t != NULL)
        t->ops->free(t);
}
