/* shape.c - whether an existing table fits a sync (see shape.h), for every target. */
#include "target/shape.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

ferry_rc ferry_target_shape_init(ferry_target_shape *shape, const ferry_sync_spec *sync,
                                 ferry_err *err)
{
    memset(shape, 0, sizeof(*shape));
    shape->sync = sync;
    shape->present = calloc(sync->nfields > 0 ? sync->nfields : 1, sizeof(*shape->present));
    if (shape->present == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
    return FERRY_OK;
}

void ferry_target_shape_done(ferry_target_shape *shape)
{
    if (shape == NULL)
        return;
    free(shape->present);
    memset(shape, 0, sizeof(*shape));
}

ferry_rc ferry_target_shape_column(ferry_target_shape *shape, const char *name, bool notnull,
                                   bool has_default, long *ret_field, ferry_err *err)
{
    long f;

    *ret_field = -1;
    if (strcmp(name, FERRY_TARGET_MISSING_COLUMN) == 0) {
        shape->has_missing_col = true;
        return FERRY_OK;
    }
    f = ferry_sync_field_index(shape->sync, name);
    if (f >= 0) {
        shape->present[f] = true;
        *ret_field = f;
    } else if (notnull && !has_default) {
        return ferry_err_set(err, FERRY_ESCHEMA,
                             "table %s has a NOT NULL column '%s' without a default that no "
                             "field fills: map it or give it a default",
                             shape->sync->target.table, name);
    }
    return FERRY_OK;
}

ferry_rc ferry_target_shape_check_fields(const ferry_target_shape *shape, ferry_err *err)
{
    const ferry_sync_spec *sync = shape->sync;

    for (size_t i = 0; i < sync->nfields; i++) {
        if (!shape->present[i])
            return ferry_err_set(err, FERRY_ESCHEMA,
                                 "table %s exists but has no column '%s' for field '%s': add the "
                                 "column or rename the field",
                                 sync->target.table, sync->fields[i].name, sync->fields[i].name);
    }
    return FERRY_OK;
}

ferry_rc ferry_target_shape_check_key(const ferry_target_shape *shape, bool has_key_index,
                                      ferry_err *err)
{
    const ferry_sync_spec *sync = shape->sync;
    ferry_buf keys;
    ferry_rc rc;

    if (has_key_index)
        return FERRY_OK;
    ferry_buf_init(&keys, 1024);
    for (size_t k = 0; k < sync->target.nkey; k++)
        ferry_buf_printf_trunc(&keys, "%s%s", k ? ", " : "", sync->target.key[k]);
    rc = ferry_err_set(err, FERRY_ESCHEMA,
                       "table %s has no primary key or unique index on (%s), the sync's key: "
                       "create one so each key is one row",
                       sync->target.table, ferry_buf_str(&keys));
    ferry_buf_done(&keys);
    return rc;
}
