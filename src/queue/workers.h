/* workers.h - the worker pool: threads that claim queued runs and execute them.
 *
 * Each worker thread has its own store connection. It claims the oldest queued run, executes
 * it with ferry_sync_run(), publishes run.started, run.progress (at most 4 a second) and
 * run.finished to the event hub, and keeps a live copy of the run in its slot so the API can
 * answer GET /api/runs/{id} with the current phase, percent and rate. Workers sleep on a
 * condition variable, woken by ferry_workers_wake() after an enqueue, and look at the queue
 * every second anyway so runs queued by another process are picked up.
 *
 * All functions are thread-safe. */
#ifndef FERRY_QUEUE_WORKERS_H
#define FERRY_QUEUE_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "config/live.h"
#include "events/hub.h"
#include "events/run_json.h"
#include "store/store.h"
#include "util/err.h"

typedef struct ferry_workers ferry_workers;

/* Starts the current config's workers threads. live and hub are borrowed and must outlive
 * the pool; each run executes on the config current when it was claimed. *ret_workers is
 * stopped and freed with ferry_workers_stop(). */
ferry_rc ferry_workers_start(ferry_config_live *live, ferry_hub *hub, ferry_workers **ret_workers,
                             ferry_err *err);

/* Wakes an idle worker: a run was queued. */
void ferry_workers_wake(ferry_workers *w);

/* Asks the worker executing run_id to cancel it (by user, may be NULL). Returns false when
 * no worker of this process executes that run. */
bool ferry_workers_cancel(ferry_workers *w, int64_t run_id, const char *user);

/* Copies the live state of run_id into *ret_run (owned by the caller, ferry_run_done())
 * and *ret_live when a worker of this process executes it; false otherwise. */
bool ferry_workers_snapshot(ferry_workers *w, int64_t run_id, ferry_run *ret_run,
                            ferry_run_live *ret_live);

/* Writes the ids of the runs executing now (at most max) to ids; returns how many. */
size_t ferry_workers_active(ferry_workers *w, int64_t *ids, size_t max);

/* The number of runs executing now. */
int ferry_workers_busy(ferry_workers *w);

/* Stops claiming: idle workers end, busy ones end once their run has (ferry_workers_busy()
 * counts them). A stopping server calls it first, then waits out its grace. */
void ferry_workers_drain(ferry_workers *w);

/* Stops every active run: each rolls back and goes back to the queue as it was (a run a
 * user cancelled is recorded cancelled), and its stored state is published (run.queued).
 * Waits for the threads to end. The pool stays readable (ferry_workers_busy(),
 * _snapshot(): nothing runs) until ferry_workers_stop(), so the HTTP server may still be
 * answering. Called by the pool's owner only, once or more. */
void ferry_workers_halt(ferry_workers *w);

/* Halts the pool (when ferry_workers_halt() has not) and frees it. NULL is allowed. */
void ferry_workers_stop(ferry_workers *w);

#endif
