/* pg_target.c - the PostgreSQL target. Not built yet: creating one fails. */
#include "target/target.h"

ferry_rc ferry_pg_target_new(struct pg_conn *conn, const ferry_sync_spec *sync, const char *tenant,
                             ferry_target **ret_target, ferry_err *err)
{
    (void)conn;
    (void)sync;
    (void)tenant;
    (void)ret_target;
    return ferry_err_set(err, FERRY_ECONFIG, "PostgreSQL targets are not supported yet");
}
