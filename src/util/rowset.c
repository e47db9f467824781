/* rowset.c - chunked bitmap of row ids (see rowset.h). */
#include "util/rowset.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_SHIFT 16
#define CHUNK_WORDS ((1 << CHUNK_SHIFT) / 64)

void ferry_rowset_init(ferry_rowset *set)
{
    memset(set, 0, sizeof(*set));
}

void ferry_rowset_done(ferry_rowset *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->bits[i]);
    free(set->keys);
    free(set->bits);
    memset(set, 0, sizeof(*set));
}

static size_t slot_of(int64_t chunk, size_t cap)
{
    uint64_t h = (uint64_t)chunk * 0x9E3779B97F4A7C15ull;

    return (size_t)(h >> 17) & (cap - 1);
}

static size_t find(const ferry_rowset *set, int64_t chunk)
{
    size_t i = slot_of(chunk, set->cap);

    while (set->keys[i] != INT64_MIN && set->keys[i] != chunk)
        i = (i + 1) & (set->cap - 1);
    return i;
}

static ferry_rc grow(ferry_rowset *set)
{
    size_t ncap = set->cap ? set->cap * 2 : 16;
    ferry_rowset bigger = {0};

    bigger.keys = malloc(ncap * sizeof(*bigger.keys));
    bigger.bits = calloc(ncap, sizeof(*bigger.bits));
    if (bigger.keys == NULL || bigger.bits == NULL) {
        free(bigger.keys);
        free(bigger.bits);
        return FERRY_ENOMEM;
    }
    bigger.cap = ncap;
    for (size_t i = 0; i < ncap; i++)
        bigger.keys[i] = INT64_MIN;
    for (size_t i = 0; i < set->cap; i++) {
        if (set->keys[i] == INT64_MIN)
            continue;
        size_t j = find(&bigger, set->keys[i]);
        bigger.keys[j] = set->keys[i];
        bigger.bits[j] = set->bits[i];
    }
    bigger.used = set->used;
    free(set->keys);
    free(set->bits);
    *set = bigger;
    return FERRY_OK;
}

ferry_rc ferry_rowset_add(ferry_rowset *set, int64_t id)
{
    int64_t chunk = id >> CHUNK_SHIFT;
    uint64_t bit = (uint64_t)id & ((1u << CHUNK_SHIFT) - 1);
    size_t i;

    if ((set->used + 1) * 2 > set->cap && grow(set) != FERRY_OK)
        return FERRY_ENOMEM;
    i = find(set, chunk);
    if (set->keys[i] == INT64_MIN) {
        set->bits[i] = calloc(CHUNK_WORDS, sizeof(uint64_t));
        if (set->bits[i] == NULL)
            return FERRY_ENOMEM;
        set->keys[i] = chunk;
        set->used++;
    }
    set->bits[i][bit / 64] |= 1ull << (bit % 64);
    return FERRY_OK;
}

bool ferry_rowset_has(const ferry_rowset *set, int64_t id)
{
    int64_t chunk = id >> CHUNK_SHIFT;
    uint64_t bit = (uint64_t)id & ((1u << CHUNK_SHIFT) - 1);
    size_t i;

    if (set->cap == 0)
        return false;
    i = find(set, chunk);
    if (set->keys[i] == INT64_MIN)
        return false;
    return (set->bits[i][bit / 64] >> (bit % 64)) & 1;
}
