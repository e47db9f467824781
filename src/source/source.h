/* source.h - the source interface: where records come from.
 *
 * A source yields records one at a time, each already projected onto the sync's fields:
 * value[i] is the raw text for fields[i] (NULL when the source has no value for it). It
 * reports how much of its input it has consumed, so progress is a real fraction. Sources are
 * implemented one per file (csv_source.c) behind ferry_source_ops; callers never know which
 * kind they hold.
 *
 * A source belongs to the thread that opened it. */
#ifndef FERRY_SOURCE_SOURCE_H
#define FERRY_SOURCE_SOURCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/err.h"

typedef struct {
    size_t nvalues;           /* the sync's field count */
    const char *const *value; /* value[i] is NUL-terminated or NULL; borrowed until next */
    const size_t *len;
    long row;          /* the record's row for messages (the header is row 1) */
    const char *error; /* NULL, or why the record cannot be used (no "row N: " prefix) */
} ferry_source_record;

typedef struct ferry_source ferry_source;

typedef struct {
    /* Reads the next record. FERRY_OK, FERRY_DONE at the end, or an error that ends the run. */
    ferry_rc (*next)(ferry_source *src, ferry_source_record *ret_rec, ferry_err *err);
    /* How much of the input has been consumed; *ret_total is 0 when unknown. */
    void (*progress)(ferry_source *src, uint64_t *ret_done, uint64_t *ret_total);
    /* Downloads what is left of a remote input to local storage, calling progress(ctx, done,
     * total) now and then (total 0 when unknown), so the run can take the database's write
     * lock only for the local, fast part. When progress returns false the download stops
     * with FERRY_ECANCELLED. NULL for local sources. */
    ferry_rc (*prefetch)(ferry_source *src,
                         bool (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
                         ferry_err *err);
    /* Frees the source. */
    void (*free)(ferry_source *src);
} ferry_source_ops;

struct ferry_source {
    const ferry_source_ops *ops;
    const char *kind; /* "csv" */
};

/* Opens the source of sync; base_dir resolves relative paths. Reads and checks the header
 * (missing or repeated columns fail here, before the target is touched). cancel (borrowed,
 * may be NULL): once set, a source waiting for input (a slow server, a pipe) gives up with
 * FERRY_ECANCELLED. On success *ret_src is owned by the caller (ferry_source_free()). */
ferry_rc ferry_source_open(const ferry_sync_spec *sync, const char *base_dir,
                           const atomic_bool *cancel, ferry_source **ret_src, ferry_err *err);

static inline ferry_rc ferry_source_next(ferry_source *src, ferry_source_record *ret_rec,
                                         ferry_err *err)
{
    return src->ops->next(src, ret_rec, err);
}

static inline void ferry_source_progress(ferry_source *src, uint64_t *ret_done, uint64_t *ret_total)
{
    src->ops->progress(src, ret_done, ret_total);
}

/* Frees a source; NULL is allowed. */
void ferry_source_free(ferry_source *src);

/* CSV implementation (csv_source.c). */
ferry_rc ferry_csv_source_open(const ferry_sync_spec *sync, const char *base_dir,
                               const atomic_bool *cancel, ferry_source **ret_src, ferry_err *err);

#endif
