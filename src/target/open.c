/* open.c - a target on the store's connection, or in a database of its own (target.database;
 * see target.h).
 *
 * Usually a run's target shares the store's connection, so the synced rows, the change rows
 * and the run record commit in one transaction. A sync may land its data in another database
 * than the one holding Ferry's own tables: then the target gets a connection of its own,
 * opened here and closed when the target is freed. The wrapper passes every call to the
 * real target (sqlite_target.c or pg_target.c) and only adds the connection's lifetime. The
 * other database gets no ferry_* tables. */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/target.h"

typedef struct {
    ferry_target base;
    ferry_target *inner;
    sqlite3 *db;  /* owned, or NULL */
    PGconn *conn; /* owned, or NULL */
} owning_target;

static ferry_target *inner(ferry_target *t)
{
    return ((owning_target *)t)->inner;
}

static ferry_rc ot_begin(ferry_target *t, ferry_err *err)
{
    return inner(t)->ops->begin(inner(t), err);
}

static ferry_rc ot_apply(ferry_target *t, const ferry_mapped_record *rec, ferry_apply_result *res,
                         ferry_err *err)
{
    return inner(t)->ops->apply(inner(t), rec, res, err);
}

static ferry_rc ot_keep(ferry_target *t, const ferry_mapped_record *rec, ferry_err *err)
{
    return inner(t)->ops->keep(inner(t), rec, err);
}

static ferry_rc ot_drain(ferry_target *t, ferry_target_result_cb cb, void *ctx, ferry_err *err)
{
    return inner(t)->ops->drain(inner(t), cb, ctx, err);
}

static ferry_rc ot_finish(ferry_target *t, ferry_target_missing_check_cb check,
                          ferry_target_missing_cb cb, void *ctx, ferry_err *err)
{
    return inner(t)->ops->finish(inner(t), check, cb, ctx, err);
}

static ferry_rc ot_commit(ferry_target *t, ferry_err *err)
{
    return inner(t)->ops->commit(inner(t), err);
}

static void ot_rollback(ferry_target *t)
{
    inner(t)->ops->rollback(inner(t));
}

static void ot_free(ferry_target *t)
{
    owning_target *o = (owning_target *)t;

    ferry_target_free(o->inner);
    sqlite3_close(o->db);
    PQfinish(o->conn);
    free(o);
}

static const ferry_target_ops owning_ops_drain = {
    .begin = ot_begin,
    .apply = ot_apply,
    .keep = ot_keep,
    .drain = ot_drain,
    .finish = ot_finish,
    .commit = ot_commit,
    .rollback = ot_rollback,
    .free = ot_free,
};

/* For an inner target that never defers (drain is NULL there, and must stay NULL here). */
static const ferry_target_ops owning_ops = {
    .begin = ot_begin,
    .apply = ot_apply,
    .keep = ot_keep,
    .drain = NULL,
    .finish = ot_finish,
    .commit = ot_commit,
    .rollback = ot_rollback,
    .free = ot_free,
};

ferry_rc ferry_target_open(const char *database, const char *base_dir, const ferry_sync_spec *sync,
                           const char *tenant, ferry_target **ret_target, ferry_err *err)
{
    owning_target *o = calloc(1, sizeof(*o));
    char path[4096];
    ferry_rc rc;

    if (o == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
    if (strncmp(database, "sqlite:", 7) == 0) {
        rc = ferry_database_sqlite_path(database, base_dir, path, sizeof(path), err);
        if (rc == FERRY_OK)
            rc = ferry_sqlite_connect(path, &o->db, err);
        if (rc == FERRY_OK)
            rc = ferry_sqlite_target_new(o->db, sync, tenant, &o->inner, err);
    } else {
        rc = ferry_pg_connect(database, &o->conn, err);
        if (rc == FERRY_OK)
            rc = ferry_pg_target_new(o->conn, sync, tenant, &o->inner, err);
    }
    if (rc != FERRY_OK) {
        ferry_err_prefix(err, "target.database");
        ot_free(&o->base);
        return rc;
    }
    o->base.ops = o->inner->ops->drain != NULL ? &owning_ops_drain : &owning_ops;
    *ret_target = &o->base;
    return FERRY_OK;
}

ferry_rc ferry_target_new_for_store(ferry_store *st, const ferry_sync_spec *sync,
                                    const char *tenant, ferry_target **ret_target, ferry_err *err)
{
    if (st->kind == FERRY_STORE_SQLITE)
        return ferry_sqlite_target_new(ferry_sqlite_store_db(st), sync, tenant, ret_target, err);
    return ferry_pg_target_new(ferry_pg_store_conn(st), sync, tenant, ret_target, err);
}

ferry_rc ferry_target_check(const char *database, const char *base_dir, const ferry_sync_spec *sync,
                            bool migrate, ferry_buf *done, ferry_err *err)
{
    sqlite3 *db = NULL;
    PGconn *conn = NULL;
    char path[4096];
    ferry_rc rc;

    if (strncmp(database, "sqlite:", 7) == 0) {
        rc = ferry_database_sqlite_path(database, base_dir, path, sizeof(path), err);
        if (rc != FERRY_OK || access(path, F_OK) != 0)
            return rc; /* no file, no tables: nothing to check or add */
        if ((rc = ferry_sqlite_connect(path, &db, err)) == FERRY_OK)
            rc = ferry_sqlite_target_check(db, sync, migrate, done, err);
        sqlite3_close(db);
        return rc;
    }
    if ((rc = ferry_pg_connect(database, &conn, err)) == FERRY_OK)
        rc = ferry_pg_target_check(conn, sync, migrate, done, err);
    PQfinish(conn);
    return rc;
}

void ferry_tenant_counts_free(ferry_tenant_count *counts, size_t n)
{
    for (size_t i = 0; i < n && counts != NULL; i++)
        free(counts[i].tenant);
    free(counts);
}

/* "name" with its double quotes doubled: an identifier both databases read. */
static ferry_rc quote_name(ferry_buf *b, const char *name)
{
    ferry_rc rc = ferry_buf_append(b, "\"", 1);

    for (const char *p = name; rc == FERRY_OK && *p != '\0'; p++)
        rc = ferry_buf_append(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
    return rc == FERRY_OK ? ferry_buf_append(b, "\"", 1) : rc;
}

/* Adds (tenant, rows) to the list; false when out of memory. */
static bool counts_add(ferry_tenant_count **list, size_t *n, const char *tenant, int64_t rows)
{
    ferry_tenant_count *grown = realloc(*list, (*n + 1) * sizeof(**list));

    if (grown == NULL)
        return false;
    *list = grown;
    if ((grown[*n].tenant = strdup(tenant)) == NULL)
        return false;
    grown[(*n)++].rows = rows;
    return true;
}

ferry_rc ferry_target_tenant_counts(ferry_store *st, const ferry_sync_spec *sync, size_t max,
                                    ferry_tenant_count **ret, size_t *ret_n, ferry_err *err)
{
    const ferry_sync_spec *first = ferry_sync_step(sync, 0);
    ferry_tenant_count *list = NULL;
    size_t n = 0;
    ferry_buf sql;
    ferry_rc rc = FERRY_OK;
    bool oom = false;

    *ret = NULL;
    *ret_n = 0;
    if (first->tenant_field < 0 || first->target.database != NULL)
        return FERRY_OK; /* no tenant column, or a table on a connection of its own */
    ferry_buf_init(&sql, 4096);
    if (ferry_buf_printf(&sql, "SELECT ") != FERRY_OK ||
        quote_name(&sql, first->fields[first->tenant_field].name) != FERRY_OK ||
        ferry_buf_printf(&sql, ", COUNT(*) FROM ") != FERRY_OK ||
        quote_name(&sql, first->target.table) != FERRY_OK ||
        ferry_buf_printf(&sql, " GROUP BY 1 ORDER BY 1 LIMIT %zu", max) != FERRY_OK) {
        ferry_buf_done(&sql);
        return ferry_err_set(err, FERRY_ENOMEM, "counting the rows of each tenant");
    }
    if (st->kind == FERRY_STORE_SQLITE) {
        sqlite3 *db = ferry_sqlite_store_db(st);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, ferry_buf_str(&sql), -1, &q, NULL) != SQLITE_OK) {
            ferry_buf_done(&sql);
            return FERRY_OK; /* the table is not there yet (its first run creates it) */
        }
        while (!oom && sqlite3_step(q) == SQLITE_ROW)
            if (sqlite3_column_type(q, 0) != SQLITE_NULL)
                oom = !counts_add(&list, &n, (const char *)sqlite3_column_text(q, 0),
                                  sqlite3_column_int64(q, 1));
        sqlite3_finalize(q);
    } else {
        PGresult *res = PQexec(ferry_pg_store_conn(st), ferry_buf_str(&sql));
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            for (int i = 0; !oom && i < PQntuples(res); i++)
                if (!PQgetisnull(res, i, 0))
                    oom = !counts_add(&list, &n, PQgetvalue(res, i, 0),
                                      strtoll(PQgetvalue(res, i, 1), NULL, 10));
        }
        /* A missing table (its first run creates it) counts nothing; the statement ran on
         * its own, outside any transaction, so nothing is left aborted. */
        PQclear(res);
    }
    ferry_buf_done(&sql);
    if (oom) {
        ferry_tenant_counts_free(list, n);
        return ferry_err_set(err, FERRY_ENOMEM, "counting the rows of each tenant");
    }
    *ret = list;
    *ret_n = n;
    return rc;
}
