/* transform.h - what a source value becomes before it is typed: a field's transforms
 * (docs/config.md, "Transforms").
 *
 * In this order: value: or template: make the raw value (a constant, or other source values
 * put together); trim strips white space; default: stands in for an empty value; map: replaces
 * a value it lists (otherwise: says what becomes of the others); case: changes the letters'
 * case; format: rewrites a date, date-time or number from the source's notation into the one
 * the type reads (util/notation.h). The mapper (sync/map.c) then types and validates the
 * result, or, for a look-up field, matches it as it is.
 *
 * Pure: nothing but the caller's ferry_transform_bufs is written, so mappers on different
 * threads (sync/feed.c reads and maps on a thread of its own) never share state. */
#ifndef FERRY_SYNC_TRANSFORM_H
#define FERRY_SYNC_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/err.h"

/* Where transformed values are built; one per mapper (caller's storage). */
typedef struct {
    ferry_buf buf[2]; /* each step writes into the one the value it reads is not in */
} ferry_transform_bufs;

/* What ferry_transform_apply() made of a value. */
typedef enum {
    FERRY_TRANSFORM_OK = 0,
    FERRY_TRANSFORM_NOT_IN_MAP, /* map: without the value, and otherwise: fail */
    FERRY_TRANSFORM_NO_MATCH,   /* format: the value has another shape */
    FERRY_TRANSFORM_NOT_A_DATE, /* format: the shape fits, the day does not exist */
} ferry_transform_result;

/* The value to type, and the value as the source wrote it (after map and case, before
 * format), which messages quote. Borrowed until the next ferry_transform_apply() with the
 * same bufs. */
typedef struct {
    const char *s; /* NULL when the value is empty */
    size_t n;
    const char *shown;
    size_t shown_n;
} ferry_transformed;

/* Initialises bufs in the caller's storage; each value may grow to max bytes. */
void ferry_transform_bufs_init(ferry_transform_bufs *bufs, size_t max);

/* Frees bufs' storage; a zeroed or never-used one is fine. */
void ferry_transform_bufs_done(ferry_transform_bufs *bufs);

/* Applies the transforms of field (borrowed) to raw (n bytes; NULL for no value), the field's
 * value in source record in (a template reads other values of in). FERRY_OK with *ret_result
 * and *ret_out set: on FERRY_TRANSFORM_OK, ret_out->s is the value to type; otherwise the
 * value refused is ret_out->shown and ferry_transform_reason_append() says why.
 * FERRY_ENOMEM or FERRY_ELIMIT when a value cannot be built. */
ferry_rc ferry_transform_apply(ferry_transform_bufs *bufs, const ferry_field_spec *field,
                               const ferry_source_record *in, const char *raw, size_t n,
                               ferry_transform_result *ret_result, ferry_transformed *ret_out);

/* Appends to out why field's rule refused a value, to follow the quoted value: "is not in
 * map (otherwise: fail)", "does not match format '%d/%m/%Y'". */
void ferry_transform_reason_append(const ferry_field_spec *field, ferry_transform_result result,
                                   ferry_buf *out);

#endif
