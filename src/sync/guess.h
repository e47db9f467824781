/* guess.h - a starting config's fields, guessed from a sample of a source's records
 * (ferry init).
 *
 * The caller names the columns (CSV headers, or JSON pointers of a REST record's leaves) and
 * feeds the sampled records one at a time; ferry_guess_finish() then says, per column, a safe
 * field name, a type, whether it is required, and which column could be the key. A type is
 * guessed only when every non-empty sampled value reads as it exactly as a sync would read it:
 * the value is trimmed and typed by the sync's own code (sync/transform.h, sync/map.h). The
 * types are tried in the order integer, decimal, boolean, date, datetime, email; a column
 * that is none of them, or has no non-empty value, is text.
 *
 * Memory: each column keeps its sampled non-empty values (to tell whether they are unique),
 * so the caller bounds the sample. A ferry_guess belongs to one thread. */
#ifndef FERRY_SYNC_GUESS_H
#define FERRY_SYNC_GUESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "sync/transform.h"
#include "util/buf.h"
#include "util/err.h"

/* The longest field or table name (an identifier: docs/config.md, "target"). */
#define FERRY_GUESS_NAME_MAX 63

typedef struct {
    char *source;          /* the header or pointer as the source names it (owned) */
    char *name;            /* a safe field name, unique among the columns (owned) */
    ferry_field_type type; /* after ferry_guess_finish() */
    bool required;         /* after finish: some value was sampled and none was empty */
    bool unique;           /* after finish: required, and no value repeats (as its type
                              stores it: "01" and "1" are one integer) */
    size_t nvalues;        /* non-empty values sampled */
    size_t nempty;         /* empty or absent values sampled */
    /* private */
    unsigned possible; /* the types every non-empty value so far reads as (bit per type) */
    char **seen;       /* the trimmed non-empty values, for unique */
    size_t nseen, capseen;
} ferry_guess_column;

typedef struct {
    ferry_guess_column *cols;
    size_t ncols;
    size_t nrecords; /* records sampled */
    size_t key;      /* after finish: the suggested key column, or SIZE_MAX for none */
    /* private */
    ferry_transform_bufs bufs;
    ferry_buf tmp;
} ferry_guess;

/* Makes g (caller's storage) guess n columns named sources[i] (copied). Field names are made
 * with ferry_guess_name() and numbered apart when two come out the same ("email", "email_2").
 * On failure g is left empty (ferry_guess_done() is still allowed). */
ferry_rc ferry_guess_init(ferry_guess *g, const char *const *sources, size_t n, ferry_err *err);

/* Samples one record: values[i] (lens[i] bytes; NULL for absent) is column i's raw value.
 * FERRY_ENOMEM is the only error. */
ferry_rc ferry_guess_add(ferry_guess *g, const char *const *values, const size_t *lens,
                         ferry_err *err);

/* Settles each column's type, required and unique, and picks the key: a unique column,
 * preferring the name id, then names ending in id (employee_id, EmployeeID), then key and
 * code (and names ending so), then email; among the others only an integer, text or email
 * column, the leftmost. No key (SIZE_MAX) when no column qualifies. */
void ferry_guess_finish(ferry_guess *g);

/* Frees what g holds; a zeroed or failed g is fine. */
void ferry_guess_done(ferry_guess *g);

/* Appends to out a safe name (an identifier of at most FERRY_GUESS_NAME_MAX characters) made
 * of text: lower case, every run of other characters than letters and digits one '_', none at
 * the ends; "field" prefixed when it would start with a digit or Ferry's reserved "ferry_";
 * fallback (when not NULL) when nothing is left. */
ferry_rc ferry_guess_name(const char *text, const char *fallback, ferry_buf *out);

#endif
