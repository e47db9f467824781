/* pg_store.c - the store on PostgreSQL (see store.h). Not built yet: opening one fails. */
#include "store/store.h"

ferry_rc ferry_pg_store_open(const char *url, ferry_store **ret_store, ferry_err *err)
{
    (void)url;
    (void)ret_store;
    return ferry_err_set(err, FERRY_ECONFIG,
                         "database: PostgreSQL is not supported by this version of Ferry yet; "
                         "use sqlite:PATH");
}

struct pg_conn *ferry_pg_store_conn(ferry_store *st)
{
    (void)st;
    return NULL;
}
