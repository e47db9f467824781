/* tenants.c - reads the tenants a sync's tenants.query names (see tenants.h). */
#include "target/tenants.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

/* A query taking longer than this is stopped: a schedule must not hang on it. */
#define QUERY_TIMEOUT "'30s'"

static ferry_rc oom(ferry_err *err)
{
    return ferry_err_set(err, FERRY_ENOMEM, "reading the tenants");
}

static ferry_rc strv_push(char ***v, size_t *n, char *s, ferry_err *err)
{
    char **grown;

    if (s == NULL || (grown = realloc(*v, (*n + 1) * sizeof(*grown))) == NULL) {
        free(s);
        return oom(err);
    }
    grown[(*n)++] = s;
    *v = grown;
    return FERRY_OK;
}

/* Takes one value of the query's first column (NULL: left out). */
static ferry_rc take(ferry_tenant_list *l, const char *value, ferry_err *err)
{
    const char *why;
    char *line;
    size_t len;

    if (value == NULL)
        return FERRY_OK;
    if ((why = ferry_sync_tenant_problem(NULL, value)) != NULL) {
        len = strlen(value) > 64 ? 64 : strlen(value);
        if ((line = malloc(len + strlen(why) + 8)) != NULL)
            sprintf(line, "'%.*s': %s", (int)len, value, why);
        return strv_push(&l->refused, &l->nrefused, line, err);
    }
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->values[i], value) == 0)
            return FERRY_OK;
    if (l->n >= FERRY_TENANTS_MAX)
        return ferry_err_set(err, FERRY_EINVAL,
                             "tenants.query: more than %d tenants; name fewer (a WHERE clause)",
                             FERRY_TENANTS_MAX);
    return strv_push(&l->values, &l->n, strdup(value), err);
}

/* Only blanks and semicolons may follow the one statement. */
static bool only_one_statement(const char *tail)
{
    for (; tail != NULL && *tail != '\0'; tail++)
        if (strchr(" \t\r\n;", *tail) == NULL)
            return false;
    return true;
}

static ferry_rc read_sqlite(const char *database, const char *base_dir, const char *query,
                            ferry_tenant_list *l, ferry_err *err)
{
    char path[4096];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    ferry_rc rc;
    int step;

    if ((rc = ferry_database_sqlite_path(database, base_dir, path, sizeof(path), err)) != FERRY_OK)
        return rc;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rc = ferry_err_set(err, FERRY_EDB, "tenants.query: cannot open %s: %s", path,
                           db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, query, -1, &st, &tail) != SQLITE_OK) {
        rc = ferry_err_set(err, FERRY_EDB, "tenants.query: %s", sqlite3_errmsg(db));
    } else if (st == NULL || !only_one_statement(tail)) {
        rc = ferry_err_set(err, FERRY_ECONFIG, "tenants.query: expected exactly one statement");
    } else if (sqlite3_column_count(st) < 1) {
        rc = ferry_err_set(err, FERRY_EINVAL, "tenants.query: the statement returns no column");
    } else {
        while (rc == FERRY_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
            rc = take(l, (const char *)sqlite3_column_text(st, 0), err);
        if (rc == FERRY_OK && step != SQLITE_DONE)
            rc = ferry_err_set(err, FERRY_EDB, "tenants.query: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* PQexec's answer to a statement of ours: FERRY_OK when it is ok. */
static ferry_rc pg_ok(PGresult *res, ExecStatusType want, PGconn *conn, ferry_err *err)
{
    ferry_rc rc = FERRY_OK;
    const char *msg;

    if (PQresultStatus(res) != want) {
        msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn);
        rc = ferry_err_set(err, FERRY_EDB, "tenants.query: %.*s",
                           (int)strcspn(msg != NULL ? msg : "", "\n"), msg != NULL ? msg : "");
    }
    return rc;
}

static ferry_rc read_pg(const char *database, const char *query, ferry_tenant_list *l,
                        ferry_err *err)
{
    PGconn *conn = NULL;
    PGresult *res;
    ferry_rc rc;

    if ((rc = ferry_pg_connect(database, &conn, err)) != FERRY_OK) {
        ferry_err_prefix(err, "tenants.database");
        return rc;
    }
    res = PQexec(conn, "BEGIN READ ONLY; SET LOCAL statement_timeout = " QUERY_TIMEOUT);
    rc = pg_ok(res, PGRES_COMMAND_OK, conn, err);
    PQclear(res);
    if (rc == FERRY_OK) {
        /* PQexecParams takes one statement only (the extended protocol). */
        res = PQexecParams(conn, query, 0, NULL, NULL, NULL, NULL, 0);
        if ((rc = pg_ok(res, PGRES_TUPLES_OK, conn, err)) == FERRY_OK && PQnfields(res) < 1)
            rc = ferry_err_set(err, FERRY_EINVAL, "tenants.query: the statement returns no column");
        for (int i = 0; rc == FERRY_OK && i < PQntuples(res); i++)
            rc = take(l, PQgetisnull(res, i, 0) ? NULL : PQgetvalue(res, i, 0), err);
        PQclear(res);
    }
    PQfinish(conn); /* the transaction goes with the connection */
    return rc;
}

ferry_rc ferry_tenants_read(const ferry_config *cfg, const ferry_sync_spec *sync,
                            ferry_tenant_list *ret, ferry_err *err)
{
    const ferry_sync_spec *first = ferry_sync_step(sync, 0);
    const char *database = sync->tenants.database;
    ferry_tenant_list l = {0};
    ferry_rc rc;

    if (database == NULL)
        database = first->target.database != NULL ? first->target.database : cfg->database;
    if (strncmp(database, "sqlite:", 7) == 0)
        rc = read_sqlite(database, cfg->dir, sync->tenants.query, &l, err);
    else
        rc = read_pg(database, sync->tenants.query, &l, err);
    if (rc != FERRY_OK) {
        ferry_tenant_list_done(&l);
        return rc;
    }
    *ret = l;
    return FERRY_OK;
}

void ferry_tenant_list_done(ferry_tenant_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->values[i]);
    for (size_t i = 0; i < l->nrefused; i++)
        free(l->refused[i]);
    free(l->values);
    free(l->refused);
    memset(l, 0, sizeof(*l));
}

ferry_rc ferry_tenants_allow(const ferry_config *cfg, const ferry_sync_spec *sync,
                             const char *tenant, ferry_err *err)
{
    const char *why = ferry_sync_tenant_problem(sync, tenant);
    ferry_tenant_list l;
    bool named = false;
    ferry_rc rc;

    if (why != NULL)
        return ferry_err_set(err, FERRY_EINVAL, "tenant: %s", why);
    if (sync->tenants.query == NULL)
        return FERRY_OK;
    if ((rc = ferry_tenants_read(cfg, sync, &l, err)) != FERRY_OK)
        return rc;
    for (size_t i = 0; i < l.n && !named; i++)
        named = strcmp(l.values[i], tenant) == 0;
    ferry_tenant_list_done(&l);
    if (!named)
        return ferry_err_set(err, FERRY_EINVAL,
                             "tenant: not one of the tenants tenants.query names");
    return FERRY_OK;
}
