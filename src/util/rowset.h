/* rowset.h - a set of 64-bit row ids in memory proportional to the ids' spread, not count.
 *
 * Ids are grouped in chunks of 65,536; each chunk present is an 8 KiB bitmap found through an
 * open-addressing hash table. A run marks every target row it touched, so 1,000,000 dense
 * rowids cost about 125 KiB; on_missing then visits the rows not in the set. */
#ifndef FERRY_UTIL_ROWSET_H
#define FERRY_UTIL_ROWSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct {
    int64_t *keys;   /* chunk numbers; INT64_MIN marks an empty slot */
    uint64_t **bits; /* bitmap per slot */
    size_t cap;      /* slots, a power of two */
    size_t used;
} ferry_rowset;

void ferry_rowset_init(ferry_rowset *set);
void ferry_rowset_done(ferry_rowset *set);

/* Adds id; FERRY_ENOMEM when a chunk cannot be allocated. */
ferry_rc ferry_rowset_add(ferry_rowset *set, int64_t id);

/* True when id was added. */
bool ferry_rowset_has(const ferry_rowset *set, int64_t id);

#endif
