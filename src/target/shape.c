/* shape.c - whether an existing table fits a sync (see shape.h), for every target. */
#include "target/shape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MESSAGE_MAX 900 /* of the statements a message quotes: the rest is cut */

ferry_rc ferry_target_shape_init(ferry_target_shape *shape, const ferry_sync_spec *sync,
                                 ferry_target_column_type_fn column_type, ferry_err *err)
{
    memset(shape, 0, sizeof(*shape));
    shape->sync = sync;
    shape->column_type = column_type;
    ferry_buf_init(&shape->unfilled, 4096);
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
    ferry_buf_done(&shape->unfilled);
    memset(shape, 0, sizeof(*shape));
}

static bool is_column(const char *name, const char *column)
{
    return column != NULL && strcmp(name, column) == 0;
}

ferry_rc ferry_target_shape_column(ferry_target_shape *shape, const char *name, bool notnull,
                                   bool has_default, long *ret_field, ferry_err *err)
{
    const ferry_target_spec *tg = &shape->sync->target;
    long f;

    *ret_field = -1;
    if (strcmp(name, ferry_target_flag_column(tg)) == 0) {
        shape->has_missing_col = true;
        return FERRY_OK;
    }
    if (is_column(name, tg->created_column)) {
        shape->has_created = true;
        return FERRY_OK;
    }
    if (is_column(name, tg->updated_column)) {
        shape->has_updated = true;
        return FERRY_OK;
    }
    f = ferry_sync_field_index(shape->sync, name);
    if (f >= 0) {
        shape->present[f] = true;
        *ret_field = f;
    } else if (notnull && !has_default) {
        shape->nunfilled++;
        ferry_buf_printf_trunc(&shape->unfilled, "%s'%s'", shape->nunfilled > 1 ? ", " : "", name);
        if (shape->unfilled.truncated)
            return ferry_err_set(err, FERRY_ENOMEM, "noting the table's columns");
    }
    return FERRY_OK;
}

/* Appends one ALTER TABLE ... ADD COLUMN statement. */
static void add_column(const ferry_target_shape *shape, ferry_buf *out, const char *column,
                       const char *type)
{
    ferry_buf_printf_trunc(out, "ALTER TABLE \"%s\" ADD COLUMN \"%s\" %s",
                           shape->sync->target.table, column, type);
}

ferry_rc ferry_target_shape_migration(const ferry_target_shape *shape, ferry_buf *out,
                                      ferry_err *err)
{
    const ferry_sync_spec *sync = shape->sync;
    const ferry_target_spec *tg = &sync->target;
    size_t start = out->len;

    for (size_t i = 0; i < sync->nfields; i++) {
        if (shape->present[i])
            continue;
        add_column(shape, out, sync->fields[i].name,
                   shape->column_type(sync->fields[i].type, false));
        ferry_buf_printf_trunc(out, ";");
    }
    if (tg->created_column != NULL && !shape->has_created) {
        add_column(shape, out, tg->created_column, shape->column_type(FERRY_TYPE_DATETIME, true));
        ferry_buf_printf_trunc(out, ";");
    }
    if (tg->updated_column != NULL && !shape->has_updated) {
        add_column(shape, out, tg->updated_column, shape->column_type(FERRY_TYPE_DATETIME, true));
        ferry_buf_printf_trunc(out, ";");
    }
    if (out->truncated)
        return ferry_err_set(err, FERRY_ELIMIT, "table %s: too many columns to add", tg->table);
    if (out->len > start && !shape->owned)
        return ferry_err_set(err, FERRY_ESCHEMA,
                             "table %s was not created by Ferry, so ferry migrate --targets "
                             "leaves it alone: add its columns yourself: %s",
                             tg->table, ferry_buf_str(out) + start);
    return FERRY_OK;
}

/* The first missing field's message, then the statement adding each missing field. */
static ferry_rc missing_fields(const ferry_target_shape *shape, ferry_err *err)
{
    const ferry_sync_spec *sync = shape->sync;
    long first = -1;
    ferry_buf fix;
    ferry_rc rc;

    for (size_t i = 0; i < sync->nfields && first < 0; i++) {
        if (!shape->present[i])
            first = (long)i;
    }
    if (first < 0)
        return FERRY_OK;
    ferry_buf_init(&fix, MESSAGE_MAX);
    for (size_t i = (size_t)first, n = 0; i < sync->nfields; i++) {
        if (shape->present[i])
            continue;
        ferry_buf_printf_trunc(&fix, "%s", n++ ? "; " : "");
        add_column(shape, &fix, sync->fields[i].name,
                   shape->column_type(sync->fields[i].type, false));
    }
    rc = ferry_err_set(err, FERRY_ESCHEMA,
                       "table %s exists but has no column '%s' for field '%s': add the column or "
                       "rename the field: %s%s",
                       sync->target.table, sync->fields[first].name, sync->fields[first].name,
                       ferry_buf_str(&fix),
                       shape->owned ? " (or run ferry migrate --targets, as Ferry created the "
                                      "table)"
                                    : "");
    ferry_buf_done(&fix);
    return rc;
}

/* A timestamp column target.timestamps names that the table lacks. */
static ferry_rc missing_timestamp(const ferry_target_shape *shape, const char *column,
                                  const char *which, ferry_err *err)
{
    const ferry_sync_spec *sync = shape->sync;
    ferry_buf fix;
    ferry_rc rc;

    ferry_buf_init(&fix, MESSAGE_MAX);
    add_column(shape, &fix, column, shape->column_type(FERRY_TYPE_DATETIME, true));
    rc = ferry_err_set(err, FERRY_ESCHEMA,
                       "table %s has no column '%s' for target.timestamps: add it (%s) or name "
                       "the table's column in target.timestamps: {%s: COLUMN}",
                       sync->target.table, column, ferry_buf_str(&fix), which);
    ferry_buf_done(&fix);
    return rc;
}

const char *ferry_target_flag_column(const ferry_target_spec *tg)
{
    return tg->flag_column != NULL ? tg->flag_column : FERRY_TARGET_MISSING_COLUMN;
}

ferry_rc ferry_target_shape_check_columns(const ferry_target_shape *shape, ferry_err *err)
{
    const ferry_sync_spec *sync = shape->sync;
    ferry_rc rc;

    if (shape->nunfilled == 1)
        return ferry_err_set(err, FERRY_ESCHEMA,
                             "table %s has a NOT NULL column %s without a default that no "
                             "field fills: map it or give it a default",
                             sync->target.table, ferry_buf_str(&shape->unfilled));
    if (shape->nunfilled > 1)
        return ferry_err_set(err, FERRY_ESCHEMA,
                             "table %s has NOT NULL columns %s without a default that no "
                             "field fills: map them or give them defaults",
                             sync->target.table, ferry_buf_str(&shape->unfilled));
    if ((rc = missing_fields(shape, err)) != FERRY_OK)
        return rc;
    if (sync->target.created_column != NULL && !shape->has_created)
        return missing_timestamp(shape, sync->target.created_column, "created", err);
    if (sync->target.updated_column != NULL && !shape->has_updated)
        return missing_timestamp(shape, sync->target.updated_column, "updated", err);
    if (sync->target.on_missing == FERRY_ON_MISSING_FLAG && sync->target.flag_column != NULL &&
        !shape->has_missing_col)
        return ferry_err_set(err, FERRY_ESCHEMA,
                             "table %s has no column '%s' for target.flag: add it or name the "
                             "table's column in flag: {column: COLUMN}",
                             sync->target.table, sync->target.flag_column);
    return FERRY_OK;
}

ferry_rc ferry_target_shape_check_key(const ferry_target_shape *shape, bool has_key_index,
                                      ferry_err *err)
{
    const ferry_sync_spec *sync = shape->sync;
    ferry_buf keys, name, quoted;
    ferry_rc rc;

    if (has_key_index)
        return FERRY_OK;
    ferry_buf_init(&keys, 1024);
    ferry_buf_init(&name, 1024);
    ferry_buf_init(&quoted, 1024);
    ferry_buf_printf_trunc(&name, "%s", sync->target.table);
    for (size_t k = 0; k < sync->target.nkey; k++) {
        ferry_buf_printf_trunc(&keys, "%s%s", k ? ", " : "", sync->target.key[k]);
        ferry_buf_printf_trunc(&quoted, "%s\"%s\"", k ? ", " : "", sync->target.key[k]);
        ferry_buf_printf_trunc(&name, "_%s", sync->target.key[k]);
    }
    rc = ferry_err_set(err, FERRY_ESCHEMA,
                       "table %s has no primary key or unique index on (%s), the sync's key: "
                       "create one so each key is one row: CREATE UNIQUE INDEX \"%s_key\" ON "
                       "\"%s\" (%s)",
                       sync->target.table, ferry_buf_str(&keys), ferry_buf_str(&name),
                       sync->target.table, ferry_buf_str(&quoted));
    ferry_buf_done(&keys);
    ferry_buf_done(&name);
    ferry_buf_done(&quoted);
    return rc;
}

void ferry_target_time_now(bool offset, char out[FERRY_TARGET_TIME_MAX])
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, FERRY_TARGET_TIME_MAX, "%04d-%02d-%02d %02d:%02d:%02d.%06ld%s", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
             offset ? "+00" : "");
}
