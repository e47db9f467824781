/* value.h - a table column's type, and field values written into it and compared by value.
 *
 * A target reads each mapped column's declared type (SQLite's PRAGMA table_info type,
 * PostgreSQL's format_type) into a ferry_column_type. Through it, every target:
 *
 * - checks that a record's value fits the column before writing it (too long for
 *   varchar(n), out of a smallint's range, not a uuid, ...), so the record fails with a
 *   reason naming the column instead of the database failing the statement;
 * - compares the stored value with the record's by value, from their text forms: both are
 *   put in one comparison form per kind of column (numbers without redundant zeros, booleans
 *   as 1/0, instants in UTC, uuids in PostgreSQL's lower-case form, JSON compact with sorted
 *   keys), so
 *   92 and 92.00, t and 1, the same instant at another offset are equal;
 * - shows a changed value in a diff in that form, the same on every backend, as a person
 *   writes it (booleans of a boolean column as true/false, dates as YYYY-MM-DD, instants as
 *   the mapper's UTC form, text as written).
 *
 * A column of a type it does not know is a text column: written as text and compared as text,
 * as Ferry always did. Pure functions; any thread. */
#ifndef FERRY_TARGET_VALUE_H
#define FERRY_TARGET_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "target/record.h"
#include "util/buf.h"

typedef enum {
    FERRY_COLUMN_TEXT = 0,    /* text, varchar(n), char(n), and types not listed here */
    FERRY_COLUMN_CITEXT,      /* PostgreSQL citext: compared without case */
    FERRY_COLUMN_INTEGER,     /* smallint, integer, bigint; SQLite INTEGER */
    FERRY_COLUMN_NUMERIC,     /* numeric(p,s), decimal(p,s); SQLite NUMERIC, DECIMAL */
    FERRY_COLUMN_FLOAT,       /* real, double precision; SQLite REAL */
    FERRY_COLUMN_BOOLEAN,     /* boolean; SQLite BOOLEAN (0/1) */
    FERRY_COLUMN_DATE,        /* date */
    FERRY_COLUMN_TIMESTAMP,   /* timestamp without time zone, SQLite DATETIME: holds UTC */
    FERRY_COLUMN_TIMESTAMPTZ, /* timestamp with time zone */
    FERRY_COLUMN_TIME,        /* time without time zone */
    FERRY_COLUMN_UUID,
    FERRY_COLUMN_JSON, /* json, jsonb */
} ferry_column_kind;

#define FERRY_COLUMN_DECL_MAX 64

typedef struct {
    ferry_column_kind kind;
    bool strict;   /* the database rejects what does not parse (PostgreSQL); SQLite keeps it */
    bool jsonb;    /* FERRY_COLUMN_JSON: jsonb rather than json */
    long maxlen;   /* varchar(n), char(n): characters; 0 without a limit */
    int precision; /* numeric(p,s): p, 0 without */
    int scale;     /* numeric(p,s): s */
    int64_t min;   /* FERRY_COLUMN_INTEGER with strict: the type's range */
    int64_t max;
    char decl[FERRY_COLUMN_DECL_MAX]; /* the type as the database names it, for reasons */
} ferry_column_type;

/* Reads a declared type: a SQLite declared type (sqlite true; by SQLite's affinity rules,
 * with the names above recognised first), or PostgreSQL's format_type() text. decl is
 * borrowed; NULL or empty is a text column. */
void ferry_column_type_parse(const char *decl, bool sqlite, ferry_column_type *ret);

/* True when a value of this column may differ in text from the record's and still be equal
 * (comparison by ferry_column_value_norm() needed); false for text columns. */
bool ferry_column_type_has_norm(const ferry_column_type *ct);

/* False when every canonical value of a field of type ft fits the column (an integer field in
 * a bigint, a boolean field in a boolean, a text field in a text column), so that
 * ferry_column_value_fits() need not be called. */
bool ferry_column_type_needs_check(const ferry_column_type *ct, ferry_field_type ft);

/* Checks that v (len bytes, not NULL) fits the column. Returns true when it does; otherwise
 * writes "column 'name' (type) cannot hold 'v': why" to reason and returns false. */
bool ferry_column_value_fits(const ferry_column_type *ct, const char *name, const char *v,
                             size_t len, char *reason, size_t reasonlen);

/* Checks every value of rec against its field's column type (types and check: per field of
 * sync; a field whose check is false is not looked at). Returns true when all fit; otherwise
 * writes the first misfit's reason (as ferry_column_value_fits()) and returns false. */
bool ferry_column_record_fits(const ferry_sync_spec *sync, const ferry_column_type *types,
                              const bool *check, const ferry_mapped_record *rec, char *reason,
                              size_t reasonlen);

/* The comparison form of v (a stored value's text, or a record's; NULL for NULL): v itself,
 * or out's contents (out is reset first). Two values are equal in the column exactly when
 * their forms are equal strings. A value that does not parse as the kind is its own form. */
const char *ferry_column_value_norm(const ferry_column_type *ct, const char *v, ferry_buf *out);

/* How a diff shows a value of the column, given its raw text v and its comparison form norm:
 * true/false for a boolean column, v for a text or citext column, norm for the others.
 * Borrowed from the arguments or static. */
const char *ferry_column_value_show(const ferry_column_type *ct, const char *v, const char *norm);

/* Writes the "YYYY-MM-DD HH:MM:SS[.fff]" text (UTC, no zone) of an instant given in any form
 * ferry_column_value_norm() reads into out; false when v is not an instant. */
bool ferry_column_datetime_plain(const char *v, char *out, size_t outlen);

#endif
