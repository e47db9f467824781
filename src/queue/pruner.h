/* pruner.h - retention in the server: a thread that prunes the store's old history.
 *
 * The thread, with a store connection of its own, prunes (store/prune.h) a minute after it
 * starts (or after retention.every when that is shorter) and then every retention.every
 * (default an hour), pausing a little between batches so a running sync's writes wait at
 * most one short batch. After a prune that deleted many rows it checkpoints SQLite's WAL.
 * One info line per prune that deleted something. A database busy past the busy timeout (a
 * long run holding SQLite's write lock) puts the prune off by a minute. Stopping wakes it at
 * once (a condition variable; a prune in progress stops after its current batch). What went
 * is counted in ferry_pruned_rows_total{table} (events/metrics.h). */
#ifndef FERRY_QUEUE_PRUNER_H
#define FERRY_QUEUE_PRUNER_H

#include <stdint.h>

#include "config/config.h"
#include "config/live.h"
#include "store/prune.h"
#include "util/err.h"

typedef struct ferry_pruner ferry_pruner;

/* Starts the pruner thread. live is borrowed and must outlive it; each prune reads its
 * current retention. *ret owned by the caller (ferry_pruner_stop()). */
ferry_rc ferry_pruner_start(ferry_config_live *live, ferry_pruner **ret, ferry_err *err);

/* Stops and frees the pruner (NULL is allowed): returns once the thread has ended. */
void ferry_pruner_stop(ferry_pruner *p);

/* What cfg keeps, as the store's prune takes it (sessions as cfg's session limits). */
void ferry_pruner_policy(const ferry_config *cfg, ferry_prune_policy *ret);

/* Rows pruned past which the WAL is checkpointed afterwards. */
#define FERRY_PRUNER_CHECKPOINT_ROWS 10000

#endif
