/* shape.h - whether an existing table fits a sync, checked the same way by every target.
 *
 * A target reads its table's columns and unique indexes its own way (PRAGMA table_info,
 * pg_attribute) and hands what it found to these checks, so the rules and their messages are
 * written once: every field has its column; the timestamp columns (target.timestamps) exist;
 * a column no field fills is not NOT NULL without a default (a generated id, such as a SQLite
 * rowid alias or a PostgreSQL identity or serial column, counts as having one: the target
 * says so); ferry_missing_since (on_missing: flag) is noted, not mapped; some primary key,
 * unique constraint or unique index is on exactly the sync's key. Each refusal names the
 * table, the columns and the fix, with the statement to run where there is one.
 *
 * Tables Ferry creates carry a mark (FERRY_TARGET_OWNED_MARK): in SQLite a comment inside
 * the CREATE TABLE statement, in PostgreSQL the table's comment. Only such tables are
 * changed by `ferry migrate --targets`.
 *
 * A ferry_target_shape belongs to the target checking its table (one thread). */
#ifndef FERRY_TARGET_SHAPE_H
#define FERRY_TARGET_SHAPE_H

#include <stdbool.h>

#include "config/config.h"
#include "util/buf.h"
#include "util/err.h"

/* The column on_missing: flag writes the time a row went missing into. */
#define FERRY_TARGET_MISSING_COLUMN "ferry_missing_since"

/* The column on_missing: flag marks missing rows in: target.flag's column, or
 * FERRY_TARGET_MISSING_COLUMN when flag: names none (borrowed from tg). */
const char *ferry_target_flag_column(const ferry_target_spec *tg);

/* How a table Ferry created says so. */
#define FERRY_TARGET_OWNED_MARK "created by Ferry"

/* The declared type a column gets when Ferry adds it: for a field of type, or (timestamp
 * true) for a timestamp column. */
typedef const char *(*ferry_target_column_type_fn)(ferry_field_type type, bool timestamp);

typedef struct {
    const ferry_sync_spec *sync; /* borrowed */
    ferry_target_column_type_fn column_type;
    bool owned;           /* the table carries FERRY_TARGET_OWNED_MARK (the target sets it) */
    bool *present;        /* per field: its column was seen */
    bool has_missing_col; /* the flag column (ferry_target_flag_column()) was seen */
    bool has_created;     /* target.timestamps' created column was seen */
    bool has_updated;     /* and its updated column */
    ferry_buf unfilled;   /* "'a', 'b'": NOT NULL columns without a default no field fills */
    size_t nunfilled;
} ferry_target_shape;

/* Starts the checks of sync's table (sync borrowed; must outlive shape); column_type names
 * the types of the ALTER TABLE statements the messages give. FERRY_ENOMEM is the only
 * error. */
ferry_rc ferry_target_shape_init(ferry_target_shape *shape, const ferry_sync_spec *sync,
                                 ferry_target_column_type_fn column_type, ferry_err *err);

/* Frees what init allocated; a zeroed shape is allowed. */
void ferry_target_shape_done(ferry_target_shape *shape);

/* One column of the table: its name, whether it is NOT NULL and whether it has a default (or
 * is filled by the database: a generated id). *ret_field is the index of the field it holds,
 * or -1 (the missing-since column, a timestamp column, or one no field fills). A NOT NULL
 * column without a default that nothing fills is noted for ferry_target_shape_check_columns().
 * FERRY_ENOMEM is the only error. */
ferry_rc ferry_target_shape_column(ferry_target_shape *shape, const char *name, bool notnull,
                                   bool has_default, long *ret_field, ferry_err *err);

/* After every column, FERRY_ESCHEMA when: NOT NULL columns without a default would be left
 * empty (named all at once); fields have no column (each with the ALTER TABLE statement that
 * adds it; for a table Ferry created, also `ferry migrate --targets`); a timestamp column is
 * missing; the column target.flag names is missing. */
ferry_rc ferry_target_shape_check_columns(const ferry_target_shape *shape, ferry_err *err);

/* After the indexes: FERRY_ESCHEMA when none (has_key_index false) is on exactly the key,
 * with the CREATE UNIQUE INDEX statement that makes one. */
ferry_rc ferry_target_shape_check_key(const ferry_target_shape *shape, bool has_key_index,
                                      ferry_err *err);

/* The migration of sync's table (ferry migrate --targets): appends the statements adding
 * the columns it lacks (fields, then timestamps; NULL-able, as its rows have no value for
 * them yet) to out, each "ALTER TABLE "t" ADD COLUMN "c" TYPE;", nothing when it lacks none.
 * FERRY_ESCHEMA, naming the statements for a person to run, when Ferry did not create the
 * table; FERRY_ELIMIT when out is too small for them. */
ferry_rc ferry_target_shape_migration(const ferry_target_shape *shape, ferry_buf *out,
                                      ferry_err *err);

/* Room for ferry_target_time_now()'s text and its NUL. */
#define FERRY_TARGET_TIME_MAX 64

/* Writes the time now in UTC as the frameworks write their timestamps,
 * "2026-03-01 09:00:00.123456", into out; with offset, followed by "+00" (for a PostgreSQL
 * timestamptz column, which would otherwise read it in the session's time zone). Room is
 * left after it for "+00". */
void ferry_target_time_now(bool offset, char out[FERRY_TARGET_TIME_MAX]);

#endif
