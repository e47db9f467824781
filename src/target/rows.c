/* rows.c - one row of a sync's table at a time, by key, on the store's connection (rows.h).
 *
 * Each call builds its statement (a revert touches a run's changed rows once each, so nothing
 * is worth preparing twice): names quoted as identifiers, values bound as text parameters
 * (?N on SQLite, $N on PostgreSQL, where untyped parameters take their column's type). A
 * key's NULL value matches with IS / IS NOT DISTINCT FROM. Statements are bounded by
 * ROWS_SQL_MAX; a row read is bounded by FERRY_TARGET_ROW_VALUES_MAX. */
#include "target/rows.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "target/shape.h"
#include "target/target.h"
#include "target/value.h"
#include "util/buf.h"

#define ROWS_SQL_MAX (4 * 1024 * 1024)
#define ROWS_PARAMS_MAX 1024

struct ferry_target_rows {
    ferry_store *st;
    const ferry_sync_spec *sync;
    sqlite3 *db;   /* SQLite, else NULL */
    PGconn *conn;  /* PostgreSQL, else NULL */
    json_t *types; /* the table's columns: name -> index into ctype */
    ferry_column_type *ctype;
    size_t ntypes;
    ferry_buf sql, form_a, form_b;
    const char *param[ROWS_PARAMS_MAX];
    int nparam;
};

static ferry_rc sqlite_error(ferry_target_rows *r, ferry_err *err, const char *what)
{
    return ferry_err_set(err, FERRY_EDB, "table %s: %s: %s", r->sync->target.table, what,
                         sqlite3_errmsg(r->db));
}

static ferry_rc pg_error(ferry_target_rows *r, const PGresult *res, ferry_err *err,
                         const char *what)
{
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (msg == NULL)
        msg = PQerrorMessage(r->conn);
    return ferry_err_set(err, FERRY_EDB, "table %s: %s: %.*s", r->sync->target.table, what,
                         (int)strcspn(msg, "\n"), msg);
}

static void put_name(ferry_target_rows *r, const char *name)
{
    ferry_buf_append(&r->sql, "\"", 1);
    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '"')
            ferry_buf_append(&r->sql, "\"", 1); /* doubled, as SQL quotes a quote */
        ferry_buf_append(&r->sql, p, 1);
    }
    ferry_buf_append(&r->sql, "\"", 1);
}

/* Appends a parameter holding v (borrowed until the statement runs; NULL: SQL NULL). */
static bool put_param(ferry_target_rows *r, const char *v)
{
    if (r->nparam == ROWS_PARAMS_MAX)
        return false;
    r->param[r->nparam++] = v;
    ferry_buf_printf(&r->sql, "%s%d", r->conn != NULL ? "$" : "?", r->nparam);
    return true;
}

/* The declared type of column name, or NULL when the table has no such column. */
static const ferry_column_type *column_type(const ferry_target_rows *r, const char *name)
{
    json_t *i = json_object_get(r->types, name);

    return i != NULL ? &r->ctype[json_integer_value(i)] : NULL;
}

/* A value of column name as it is written: SQLite's BOOLEAN columns take 1/0. */
static const char *written(ferry_target_rows *r, const char *name, const json_t *v)
{
    const char *s = json_string_value(v);

    const ferry_column_type *ct = column_type(r, name);

    if (s != NULL && r->db != NULL && ct != NULL && ct->kind == FERRY_COLUMN_BOOLEAN) {
        if (strcasecmp(s, "true") == 0)
            return "1";
        if (strcasecmp(s, "false") == 0)
            return "0";
    }
    return s;
}

static bool put_where(ferry_target_rows *r, const json_t *key)
{
    const char *name;
    json_t *v;
    bool first = true;

    ferry_buf_printf(&r->sql, " WHERE ");
    json_object_foreach((json_t *)key, name, v)
    {
        ferry_buf_printf(&r->sql, "%s", first ? "" : " AND ");
        put_name(r, name);
        ferry_buf_printf(&r->sql, r->conn != NULL ? " IS NOT DISTINCT FROM " : " IS ");
        if (!put_param(r, written(r, name, v)))
            return false;
        first = false;
    }
    return !first;
}

static void start(ferry_target_rows *r, const char *verb)
{
    ferry_buf_reset(&r->sql);
    r->nparam = 0;
    ferry_buf_printf(&r->sql, "%s", verb);
}

static ferry_rc sqlite_exec(ferry_target_rows *r, sqlite3_stmt **ret, const char *what,
                            ferry_err *err)
{
    sqlite3_stmt *st;

    if (sqlite3_prepare_v2(r->db, ferry_buf_str(&r->sql), -1, &st, NULL) != SQLITE_OK)
        return sqlite_error(r, err, what);
    for (int i = 0; i < r->nparam; i++) {
        if (r->param[i] != NULL)
            sqlite3_bind_text(st, i + 1, r->param[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, i + 1);
    }
    *ret = st;
    return FERRY_OK;
}

static PGresult *pg_exec(ferry_target_rows *r, const char *what, ferry_err *err)
{
    PGresult *res =
        PQexecParams(r->conn, ferry_buf_str(&r->sql), r->nparam, NULL, r->param, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(res);

    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        pg_error(r, res, err, what);
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Runs a statement that returns no row; *ret_n rows it changed (may be NULL). */
static ferry_rc run(ferry_target_rows *r, const char *what, int64_t *ret_n, ferry_err *err)
{
    sqlite3_stmt *st;
    PGresult *res;
    ferry_rc rc;

    if (ferry_buf_str(&r->sql)[0] == '\0' || r->sql.len >= ROWS_SQL_MAX - 1)
        return ferry_err_set(err, FERRY_ELIMIT, "table %s: %s: the statement is too long",
                             r->sync->target.table, what);
    if (r->db != NULL) {
        if ((rc = sqlite_exec(r, &st, what, err)) != FERRY_OK)
            return rc;
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = sqlite_error(r, err, what);
            sqlite3_finalize(st);
            return rc;
        }
        sqlite3_finalize(st);
        if (ret_n != NULL)
            *ret_n = sqlite3_changes(r->db);
        return FERRY_OK;
    }
    if ((res = pg_exec(r, what, err)) == NULL)
        return FERRY_EDB;
    if (ret_n != NULL)
        *ret_n = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc add_type(ferry_target_rows *r, const char *name, const char *decl, ferry_err *err)
{
    ferry_column_type *grown = realloc(r->ctype, (r->ntypes + 1) * sizeof(*grown));

    if (grown == NULL || name == NULL ||
        json_object_set_new(r->types, name, json_integer((json_int_t)r->ntypes)) != 0) {
        if (grown != NULL)
            r->ctype = grown;
        return ferry_err_set(err, FERRY_ENOMEM, "table %s: reading its columns",
                             r->sync->target.table);
    }
    r->ctype = grown;
    ferry_column_type_parse(decl, r->db != NULL, &r->ctype[r->ntypes++]);
    return FERRY_OK;
}

/* The table's columns and their declared types (value.h). */
static ferry_rc read_types(ferry_target_rows *r, ferry_err *err)
{
    static const char *const what = "reading the table's columns";
    ferry_rc rc = FERRY_OK;

    if (r->db != NULL) {
        sqlite3_stmt *st;
        int step;
        start(r, "SELECT name, type FROM pragma_table_info(");
        put_param(r, r->sync->target.table);
        ferry_buf_printf(&r->sql, ")");
        if ((rc = sqlite_exec(r, &st, what, err)) != FERRY_OK)
            return rc;
        while (rc == FERRY_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
            rc = add_type(r, (const char *)sqlite3_column_text(st, 0),
                          (const char *)sqlite3_column_text(st, 1), err);
        sqlite3_finalize(st);
        if (rc == FERRY_OK && step != SQLITE_DONE)
            return sqlite_error(r, err, what);
        return rc;
    }
    {
        ferry_buf quoted;
        PGresult *res;
        ferry_buf_init(&quoted, 1024);
        start(r, "");
        put_name(r, r->sync->target.table);
        ferry_buf_append(&quoted, r->sql.data, r->sql.len);
        start(r, "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
                 " WHERE a.attrelid = to_regclass(");
        put_param(r, ferry_buf_str(&quoted));
        ferry_buf_printf(&r->sql, ") AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum");
        res = pg_exec(r, what, err);
        ferry_buf_done(&quoted);
        if (res == NULL)
            return FERRY_EDB;
        for (int i = 0; i < PQntuples(res) && rc == FERRY_OK; i++)
            rc = add_type(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), err);
        PQclear(res);
        return rc;
    }
}

ferry_rc ferry_target_rows_new(ferry_store *st, const ferry_sync_spec *sync,
                               ferry_target_rows **ret, ferry_err *err)
{
    ferry_target_rows *r;
    ferry_rc rc;

    if (sync->target.database != NULL)
        return ferry_err_set(err, FERRY_EINVAL,
                             "sync '%s' writes into a database of its own (target.database): "
                             "its runs cannot be reverted",
                             sync->name);
    if ((r = calloc(1, sizeof(*r))) == NULL || (r->types = json_object()) == NULL) {
        free(r);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the rows");
    }
    r->st = st;
    r->sync = sync;
    ferry_buf_init(&r->sql, ROWS_SQL_MAX);
    ferry_buf_init(&r->form_a, FERRY_TARGET_ROW_VALUES_MAX);
    ferry_buf_init(&r->form_b, FERRY_TARGET_ROW_VALUES_MAX);
    if (st->kind == FERRY_STORE_SQLITE)
        r->db = ferry_sqlite_store_db(st);
    else
        r->conn = ferry_pg_store_conn(st);
    if ((rc = read_types(r, err)) != FERRY_OK) {
        ferry_target_rows_free(r);
        return rc;
    }
    *ret = r;
    return FERRY_OK;
}

void ferry_target_rows_free(ferry_target_rows *r)
{
    if (r == NULL)
        return;
    json_decref(r->types);
    free(r->ctype);
    ferry_buf_done(&r->sql);
    ferry_buf_done(&r->form_a);
    ferry_buf_done(&r->form_b);
    free(r);
}

static ferry_rc plain(ferry_target_rows *r, const char *sql, const char *what, ferry_err *err)
{
    start(r, sql);
    return run(r, what, NULL, err);
}

ferry_rc ferry_target_rows_begin(ferry_target_rows *r, ferry_err *err)
{
    return plain(r, r->db != NULL ? "BEGIN IMMEDIATE" : "BEGIN", "beginning the revert", err);
}

ferry_rc ferry_target_rows_commit(ferry_target_rows *r, ferry_err *err)
{
    return plain(r, "COMMIT", "committing the revert", err);
}

void ferry_target_rows_rollback(ferry_target_rows *r)
{
    ferry_err ignored;

    ferry_err_clear(&ignored);
    (void)plain(r, "ROLLBACK", "rolling the revert back", &ignored);
}

/* The field spec of key column k. */
static const ferry_field_spec *key_field(const ferry_sync_spec *sync, size_t k)
{
    long f = ferry_sync_field_index(sync, sync->target.key[k]);

    return f >= 0 ? &sync->fields[f] : NULL;
}

ferry_rc ferry_target_rows_key_parse(const ferry_sync_spec *sync, const char *tenant,
                                     const char *text, json_t **ret, ferry_err *err)
{
    const ferry_target_spec *tg = &sync->target;
    size_t shown = ferry_sync_key_shown(sync), seen = 0;
    json_t *key = json_object();
    const char *p = text;

    if (key == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "reading a key");
    for (size_t k = 0; k < tg->nkey; k++) {
        const ferry_field_spec *fs = key_field(sync, k);
        const char *end;
        if (fs != NULL && fs->scope_value != NULL) {
            json_object_set_new(key, tg->key[k], json_string(fs->scope_value));
            continue;
        }
        if (shown == 1) {
            end = p + strlen(p);
        } else {
            size_t nlen = strlen(tg->key[k]);
            const char *next = NULL;
            if (strncmp(p, tg->key[k], nlen) != 0 || p[nlen] != '=')
                goto out_bad;
            p += nlen + 1;
            /* The value runs to ", NAME=" of the next shown key column, or to the end. */
            for (size_t n = k + 1; n < tg->nkey && next == NULL; n++) {
                const ferry_field_spec *ns = key_field(sync, n);
                char delim[512];
                if (ns != NULL && ns->scope_value != NULL)
                    continue;
                snprintf(delim, sizeof(delim), ", %s=", tg->key[n]);
                if ((next = strstr(p, delim)) == NULL)
                    goto out_bad;
            }
            end = next != NULL ? next : p + strlen(p);
        }
        if (fs != NULL && fs->is_tenant && tenant != NULL)
            json_object_set_new(key, tg->key[k], json_string(tenant));
        else
            json_object_set_new(key, tg->key[k], json_stringn(p, (size_t)(end - p)));
        p = *end == ',' ? end + 2 : end;
        seen++;
    }
    if (seen != shown || *p != '\0')
        goto out_bad;
    *ret = key;
    return FERRY_OK;

out_bad:
    json_decref(key);
    return ferry_err_set(err, FERRY_EINVAL, "key '%s' does not read as a key of sync '%s'", text,
                         sync->name);
}

ferry_rc ferry_target_rows_get(ferry_target_rows *r, const json_t *key, json_t **ret,
                               ferry_err *err)
{
    static const char *const what = "reading a row";
    json_t *row = NULL;
    ferry_rc rc = FERRY_OK;

    start(r, "");
    if (r->conn != NULL)
        ferry_buf_printf(&r->sql, "SELECT (SELECT json_object_agg(j.key, j.value) FROM"
                                  " json_each_text(row_to_json(t)) j)::text FROM ");
    else
        ferry_buf_printf(&r->sql, "SELECT * FROM ");
    put_name(r, r->sync->target.table);
    ferry_buf_printf(&r->sql, " t");
    if (!put_where(r, key))
        return ferry_err_set(err, FERRY_ELIMIT, "table %s: %s: too many columns",
                             r->sync->target.table, what);
    ferry_buf_printf(&r->sql, " LIMIT 1");
    if (r->db != NULL) {
        sqlite3_stmt *st;
        int step;
        if ((rc = sqlite_exec(r, &st, what, err)) != FERRY_OK)
            return rc;
        step = sqlite3_step(st);
        if (step == SQLITE_ROW && (row = json_object()) != NULL) {
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const char *v = (const char *)sqlite3_column_text(st, i);
                json_t *jv = v != NULL ? json_string(v) : NULL;
                json_object_set_new(row, sqlite3_column_name(st, i), jv != NULL ? jv : json_null());
            }
        } else if (step == SQLITE_ROW) {
            rc = ferry_err_set(err, FERRY_ENOMEM, "table %s: %s", r->sync->target.table, what);
        } else if (step != SQLITE_DONE) {
            rc = sqlite_error(r, err, what);
        }
        sqlite3_finalize(st);
    } else {
        PGresult *res = pg_exec(r, what, err);
        if (res == NULL)
            return FERRY_EDB;
        if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
            row = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
            if (row == NULL)
                rc = ferry_err_set(err, FERRY_EDB, "table %s: %s: not a JSON object",
                                   r->sync->target.table, what);
        }
        PQclear(res);
    }
    if (rc != FERRY_OK) {
        json_decref(row);
        return rc;
    }
    *ret = row;
    return FERRY_OK;
}

ferry_rc ferry_target_rows_delete(ferry_target_rows *r, const json_t *key, int64_t *ret_n,
                                  ferry_err *err)
{
    start(r, "DELETE FROM ");
    put_name(r, r->sync->target.table);
    if (!put_where(r, key))
        return ferry_err_set(err, FERRY_ELIMIT, "table %s: too many columns",
                             r->sync->target.table);
    return run(r, "deleting a row", ret_n, err);
}

ferry_rc ferry_target_rows_update(ferry_target_rows *r, const json_t *key, const json_t *set,
                                  ferry_err *err)
{
    const char *name;
    json_t *v;
    bool first = true;

    start(r, "UPDATE ");
    put_name(r, r->sync->target.table);
    ferry_buf_printf(&r->sql, " SET ");
    json_object_foreach((json_t *)set, name, v)
    {
        ferry_buf_printf(&r->sql, "%s", first ? "" : ", ");
        put_name(r, name);
        ferry_buf_printf(&r->sql, " = ");
        if (!put_param(r, written(r, name, v)))
            return ferry_err_set(err, FERRY_ELIMIT, "table %s: too many columns",
                                 r->sync->target.table);
        first = false;
    }
    if (first)
        return FERRY_OK;
    if (!put_where(r, key))
        return ferry_err_set(err, FERRY_ELIMIT, "table %s: too many columns",
                             r->sync->target.table);
    return run(r, "restoring a row", NULL, err);
}

ferry_rc ferry_target_rows_insert(ferry_target_rows *r, const json_t *values, ferry_err *err)
{
    const char *name;
    json_t *v;
    bool first = true;

    start(r, "INSERT INTO ");
    put_name(r, r->sync->target.table);
    ferry_buf_printf(&r->sql, " (");
    json_object_foreach((json_t *)values, name, v)
    {
        ferry_buf_printf(&r->sql, "%s", first ? "" : ", ");
        put_name(r, name);
        first = false;
    }
    ferry_buf_printf(&r->sql, ") VALUES (");
    first = true;
    json_object_foreach((json_t *)values, name, v)
    {
        ferry_buf_printf(&r->sql, "%s", first ? "" : ", ");
        if (!put_param(r, written(r, name, v)))
            return ferry_err_set(err, FERRY_ELIMIT, "table %s: too many columns",
                                 r->sync->target.table);
        first = false;
    }
    ferry_buf_printf(&r->sql, ")");
    return run(r, "inserting a row again", NULL, err);
}

void ferry_target_rows_now(const ferry_target_rows *r, char *out, size_t outlen)
{
    char now[FERRY_TARGET_TIME_MAX];

    ferry_target_time_now(r->conn != NULL, now);
    snprintf(out, outlen, "%s", now);
}

bool ferry_target_rows_same(ferry_target_rows *r, const char *column, const char *a, const char *b)
{
    const ferry_column_type *ct = column_type(r, column);
    const char *fa, *fb;

    if (a == NULL || b == NULL)
        return a == b;
    if (ct == NULL || !ferry_column_type_has_norm(ct))
        return strcmp(a, b) == 0;
    fa = ferry_column_value_norm(ct, a, &r->form_a);
    fb = ferry_column_value_norm(ct, b, &r->form_b);
    return fa != NULL && fb != NULL && strcmp(fa, fb) == 0;
}
