/* shape.h - whether an existing table fits a sync, checked the same way by every target.
 *
 * A target reads its table's columns and unique indexes its own way (PRAGMA table_info,
 * pg_attribute) and hands what it found to these checks, so the rules and their messages are
 * written once: every field has its column; a column no field fills is not NOT NULL without
 * a default; ferry_missing_since (on_missing: flag) is noted, not mapped; some primary key or
 * unique index is on exactly the sync's key.
 *
 * A ferry_target_shape belongs to the target checking its table (one thread). */
#ifndef FERRY_TARGET_SHAPE_H
#define FERRY_TARGET_SHAPE_H

#include <stdbool.h>

#include "config/config.h"
#include "util/err.h"

/* The column on_missing: flag writes the time a row went missing into. */
#define FERRY_TARGET_MISSING_COLUMN "ferry_missing_since"

typedef struct {
    const ferry_sync_spec *sync; /* borrowed */
    bool *present;               /* per field: its column was seen */
    bool has_missing_col;        /* FERRY_TARGET_MISSING_COLUMN was seen */
} ferry_target_shape;

/* Starts the checks of sync's table (sync borrowed; must outlive shape). FERRY_ENOMEM is the
 * only error. */
ferry_rc ferry_target_shape_init(ferry_target_shape *shape, const ferry_sync_spec *sync,
                                 ferry_err *err);

/* Frees what init allocated; a zeroed shape is allowed. */
void ferry_target_shape_done(ferry_target_shape *shape);

/* One column of the table: its name, whether it is NOT NULL and whether it has a default (or
 * is filled by the database). *ret_field is the index of the field it holds, or -1 (the
 * missing-since column, or one no field fills). FERRY_ESCHEMA when a NOT NULL column without
 * a default would be left empty. */
ferry_rc ferry_target_shape_column(ferry_target_shape *shape, const char *name, bool notnull,
                                   bool has_default, long *ret_field, ferry_err *err);

/* After every column: FERRY_ESCHEMA naming the first field without a column. */
ferry_rc ferry_target_shape_check_fields(const ferry_target_shape *shape, ferry_err *err);

/* After the indexes: FERRY_ESCHEMA when none (has_key_index false) is on exactly the key. */
ferry_rc ferry_target_shape_check_key(const ferry_target_shape *shape, bool has_key_index,
                                      ferry_err *err);

#endif
