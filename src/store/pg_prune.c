/* pg_prune.c - the PostgreSQL store's prune primitives (store.h, ferry_store_prune_ops): the
 * statements store/prune.c writes, with their parameters as text (times as ISO 8601, which
 * PostgreSQL reads as timestamptz where a column is one). PostgreSQL keeps its own
 * write-ahead log in check: checkpoint does nothing. */
#include <libpq-fe.h>

#include "store/pg.h"
#include "store/store.h"

/* p[0..np) as the text parameters of a statement. */
static ferry_rc params(const ferry_prune_param *p, int np, ferry_pg_params *ret, ferry_err *err)
{
    if (np > MAX_PARAMS)
        return ferry_err_set(err, FERRY_EINVAL, "too many parameters");
    for (int i = 0; i < np; i++) {
        if (p[i].time)
            ferry_pg_param_time(ret, p[i].v);
        else
            ferry_pg_param_int(ret, p[i].v);
    }
    return FERRY_OK;
}

static ferry_rc pg_exec(ferry_store *base, const char *sql, const ferry_prune_param *p, int np,
                        int64_t *ret_changed, ferry_err *err)
{
    ferry_pg_params pp = {0};
    ferry_rc rc = params(p, np, &pp, err);
    int64_t n;

    if (rc != FERRY_OK)
        return rc;
    n = ferry_pg_run_count((ferry_pg_store *)base, FERRY_PG_NO_RESET, "the statement failed", sql,
                           &pp, err);
    if (n < 0)
        return FERRY_EDB;
    if (ret_changed != NULL)
        *ret_changed = n;
    return FERRY_OK;
}

static ferry_rc pg_select(ferry_store *base, const char *sql, const ferry_prune_param *p, int np,
                          int64_t *ret, int ncols, int max_rows, int *ret_rows, ferry_err *err)
{
    ferry_pg_params pp = {0};
    ferry_rc rc = params(p, np, &pp, err);
    PGresult *res;
    int n;

    if (rc != FERRY_OK)
        return rc;
    res = ferry_pg_run_sql((ferry_pg_store *)base, FERRY_PG_MAY_RESET, "the statement failed", sql,
                           &pp, err);
    if (res == NULL)
        return FERRY_EDB;
    n = PQntuples(res) < max_rows ? PQntuples(res) : max_rows;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < ncols; c++)
            ret[i * ncols + c] = ferry_pg_col_int(res, i, c);
    PQclear(res);
    *ret_rows = n;
    return FERRY_OK;
}

static ferry_rc pg_checkpoint(ferry_store *base, bool force, bool *ret_done, ferry_err *err)
{
    (void)base;
    (void)force;
    (void)err;
    *ret_done = false;
    return FERRY_OK;
}

const ferry_store_prune_ops ferry_pg_prune_ops = {
    .exec = pg_exec,
    .select = pg_select,
    .checkpoint = pg_checkpoint,
};
