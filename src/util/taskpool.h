/* taskpool.h - a few threads for costly work, behind a bounded queue.
 *
 * Password hashing costs tens of megabytes and tens of milliseconds by design. The HTTP
 * handler threads hand such work to this pool, so at most `threads` hashes run at once
 * whatever the number of clients, and a queue of at most `max_queued` waits; past that,
 * submit refuses at once and the caller answers "busy, retry" rather than piling up memory.
 *
 * Thread-safe. */
#ifndef FERRY_UTIL_TASKPOOL_H
#define FERRY_UTIL_TASKPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

typedef struct ferry_taskpool ferry_taskpool;

typedef void (*ferry_task_fn)(void *ctx);

ferry_rc ferry_taskpool_new(unsigned threads, size_t max_queued, ferry_taskpool **ret,
                            ferry_err *err);

/* Queues fn(ctx) to run on a pool thread. False (nothing queued) when max_queued tasks
 * already wait or the pool is stopping. */
bool ferry_taskpool_submit(ferry_taskpool *pool, ferry_task_fn fn, void *ctx);

/* Runs every queued task and stops the threads; later submits are refused. The pool stays
 * valid until ferry_taskpool_free(). Calling it twice is harmless. */
void ferry_taskpool_stop(ferry_taskpool *pool);

/* Stops the pool (as ferry_taskpool_stop()) and frees it. NULL is allowed. */
void ferry_taskpool_free(ferry_taskpool *pool);

#endif
