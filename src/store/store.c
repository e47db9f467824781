/* store.c - opens the store implementation named by the database setting. */
#include <stdio.h>
#include <string.h>

#include "store/store.h"

ferry_rc ferry_store_open(const char *database, const char *base_dir, ferry_store **ret_store,
                          ferry_err *err)
{
    char path[4096];

    if (strncmp(database, "sqlite:", 7) == 0) {
        const char *p = database + 7;
        if (p[0] == '\0')
            return ferry_err_set(err, FERRY_ECONFIG, "database: 'sqlite:' needs a file path");
        if (p[0] == '/' || base_dir == NULL || strcmp(p, ":memory:") == 0)
            snprintf(path, sizeof(path), "%s", p);
        else
            snprintf(path, sizeof(path), "%s/%s", base_dir, p);
        return ferry_sqlite_store_open(path, ret_store, err);
    }
    if (strncmp(database, "postgres://", 11) == 0 || strncmp(database, "postgresql://", 13) == 0)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "database: PostgreSQL is not supported by this version of Ferry "
                             "yet; use sqlite:PATH");
    return ferry_err_set(err, FERRY_ECONFIG, "database: expected sqlite:PATH");
}

void ferry_store_free(ferry_store *st)
{
    if (st != NULL)
        st->ops->free(st);
}
