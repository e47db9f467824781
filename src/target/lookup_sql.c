/* lookup_sql.c - the statement both targets run to read a look-up's table (target.h). */
#include "target/target.h"

ferry_rc ferry_target_lookup_sql(const ferry_lookup_spec *lk, bool dollar, bool probe,
                                 ferry_buf *out)
{
    ferry_rc rc = FERRY_OK;

    ferry_buf_reset(out);
    /* Every name here passed the config's identifier check: quoting cannot be escaped. */
    for (size_t k = 0; k < lk->nmatch && rc == FERRY_OK; k++)
        rc = ferry_buf_printf(out, "%s\"%s\"", k ? ", " : "SELECT ", lk->match[k]);
    if (rc == FERRY_OK)
        rc = ferry_buf_printf(out, ", \"%s\" FROM \"%s\"", lk->value, lk->table);
    for (size_t s = 0; s < lk->nscope && rc == FERRY_OK; s++)
        rc = ferry_buf_printf(out, "%s\"%s\" = %c%zu", s ? " AND " : " WHERE ", lk->scope[s].name,
                              dollar ? '$' : '?', s + 1);
    if (rc == FERRY_OK && probe)
        rc = ferry_buf_printf(out, " LIMIT 0");
    return rc;
}

ferry_rc ferry_target_probe_lookups(ferry_target *t, const ferry_sync_spec *sync, ferry_err *err)
{
    for (size_t i = 0; i < sync->nfields; i++) {
        const ferry_lookup_spec *lk = &sync->fields[i].lookup;
        const char *scope[64]; /* a mapping in the config holds at most 64 pairs */
        ferry_rc rc;

        if (lk->table == NULL || lk->from_step)
            continue;
        /* The values do not matter to a query that reads no row: the scope as written. */
        for (size_t s = 0; s < lk->nscope && s < sizeof(scope) / sizeof(scope[0]); s++)
            scope[s] = lk->scope[s].value;
        rc = t->ops->lookup_rows(t, lk, scope, NULL, NULL, err);
        if (rc != FERRY_OK && sync->parent != NULL)
            return ferry_err_prefix(err, "line %d: syncs.%s.steps.%s.fields.%s.lookup", lk->line,
                                    sync->parent->name, sync->name, sync->fields[i].name);
        if (rc != FERRY_OK)
            return ferry_err_prefix(err, "line %d: syncs.%s.fields.%s.lookup", lk->line, sync->name,
                                    sync->fields[i].name);
    }
    return FERRY_OK;
}
