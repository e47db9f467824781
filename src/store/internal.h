/* internal.h - what the store implementations share (not for use outside src/store).
 *
 * store.c holds the parts of the store that do not depend on the database: which lease
 * owners are dead processes of this host, and the tally of failure reasons behind
 * sync_stats. sqlite_store.c and pg_store.c both use them, so the two stores answer alike. */
#ifndef FERRY_STORE_INTERNAL_H
#define FERRY_STORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* True when owner ("HOST:PID", a run's lease owner) names a process of this host that no
 * longer exists; *ret_pid (may be NULL) gets its pid. A lease of another host cannot be
 * checked this way (that is what the heartbeat is for). */
bool ferry_store_owner_is_dead(const char *owner, long *ret_pid);

/* Counts failure reasons with "row N: " and quoted values left out, keeping the first 64
 * distinct ones. Zero-initialise; ferry_store_tally_take() empties it. */
#define FERRY_STORE_TALLY_MAX 64
typedef struct {
    char *seen[FERRY_STORE_TALLY_MAX];
    int64_t count[FERRY_STORE_TALLY_MAX];
    size_t n;
} ferry_store_tally;

/* Counts reason (borrowed). */
void ferry_store_tally_add(ferry_store_tally *t, const char *reason);

/* Moves the most common reasons (at most FERRY_STATS_REASONS) into out and frees the rest. */
void ferry_store_tally_take(ferry_store_tally *t, ferry_sync_stats *out);

#endif
