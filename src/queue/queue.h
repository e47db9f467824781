/* queue.h - a run's life outside the pipeline: requested, claimed, leased, cancelled, ended.
 *
 * Every way a run comes to be goes through here: an API click and a schedule firing request
 * a run (ferry_queue_run_request), the command line records one it executes itself
 * (ferry_queue_run_start), a worker claims one (ferry_queue_run_claim). The store keeps the
 * truth (queue, de-duplication, lease); this module decides what is asked of it and announces
 * what it did: run.queued, run.started and run.finished are published only after the store's
 * write has committed, never from inside a store transaction.
 *
 * Ordering: a run's run.queued precedes its run.started in this process's hub. A request
 * publishes run.queued right after its commit; a claim of that run by a worker of the same
 * process waits for the announcement before it returns (no clock: see queue.c), so
 * run.started follows it.
 *
 * All functions may be called from any thread, each with its own store connection. */
#ifndef FERRY_QUEUE_QUEUE_H
#define FERRY_QUEUE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "events/bus.h"
#include "events/hub.h"
#include "events/run_json.h"
#include "store/store.h"
#include "util/err.h"

struct ferry_workers; /* queue/workers.h */

/* Where a run's life is announced and acted on: the caller's storage, every member borrowed
 * and any may be NULL (the command line has none: nothing is published or woken). */
typedef struct {
    ferry_hub *hub;                /* run events are published here */
    struct ferry_workers *workers; /* this process's workers: woken, asked to cancel */
    ferry_bus *bus;                /* the other nodes, for cancels of runs executing there */
} ferry_queue;

/* What a run is asked for with (all borrowed). */
typedef struct {
    const ferry_sync_spec *sync;
    const char *tenant;  /* NULL when the sync has no tenant */
    const char *trigger; /* "api", "schedule", "cli" */
    const char *user;    /* who asked (a user name, "scheduler", $USER), or NULL */
    const char *token;   /* the label of the API token it was asked with, or NULL */
    bool dry_run;
    bool allow_missing;         /* on_missing may go past the guard this once */
    bool full;                  /* an incremental sync fetches everything this once */
    bool preview;               /* held for review whatever it would do (docs/review.md) */
    int64_t queued_at_ms;       /* when it was asked for (the scheduler's due tick), 0: now */
    const char *queued_message; /* the ui_message run.queued shows ("Sync started..."), or
                                   NULL for the stored one */
} ferry_queue_request;

/* Queues a run of req->sync for a worker to claim, unless one of (sync, tenant) is already
 * queued or running: then *ret_run is that one and *ret_created false (a double click never
 * starts two runs). A new run is published as run.queued after its commit, and the workers
 * are woken. With ret_wait_ms (NULL for the scheduler, which keeps no cooldown) the sync's
 * cooldown applies: when its last run ended less than cooldown ago nothing is queued, the
 * call returns FERRY_ELIMIT and *ret_wait_ms says how long to wait. *ret_run is owned by the
 * caller (ferry_run_done()), written only on success. */
ferry_rc ferry_queue_run_request(const ferry_queue *q, ferry_store *st,
                                 const ferry_queue_request *req, ferry_run *ret_run,
                                 bool *ret_created, int64_t *ret_wait_ms, ferry_err *err);

/* Records a run this process executes at once (the command line): status running, started
 * now, this process holding its lease; nothing is published. FERRY_EINVAL with a message
 * when a run of (sync, tenant) is already queued or running. *ret_run (owned by the caller,
 * ferry_run_done()) is what ferry_sync_run() then executes. */
ferry_rc ferry_queue_run_start(ferry_store *st, const ferry_queue_request *req, ferry_run *ret_run,
                               ferry_err *err);

/* Claims the oldest queued run for this process (status running, lease held). FERRY_DONE when
 * nothing is queued. Returns once the run's run.queued, when this process is announcing it,
 * has been published. *ret_run is owned by the caller. */
ferry_rc ferry_queue_run_claim(ferry_store *st, ferry_run *ret_run, ferry_err *err);

/* Renews this process's lease on running run run_id; FERRY_ENOTFOUND when it was lost (taken
 * over by another process). Has the shape of ferry_run_options.renew_lease (ctx unused). */
ferry_rc ferry_queue_lease_renew(void *ctx, ferry_store *st, int64_t run_id, ferry_err *err);

/* Asks the worker of this process executing run_id to cancel it (by user, may be NULL); false
 * when none does. Needs no store: try it first. */
bool ferry_queue_run_cancel_here(const ferry_queue *q, int64_t run_id, const char *user);

typedef enum {
    FERRY_QUEUE_CANCELLED = 0, /* it was queued: now it is cancelled (*ret_run) */
    FERRY_QUEUE_CANCELLING,    /* it runs on another node (or process): asked to stop */
    FERRY_QUEUE_NOT_ACTIVE,    /* it has already ended */
} ferry_queue_cancel_result;

/* Cancels run_id (by user, may be NULL) that no worker of this process executes: a queued run
 * is cancelled in the store and published as run.finished (*ret_run owned by the caller, set
 * only for FERRY_QUEUE_CANCELLED); a running one is asked to stop through the store and the
 * bus. FERRY_ENOTFOUND when there is no such run. */
ferry_rc ferry_queue_run_cancel(const ferry_queue *q, ferry_store *st, int64_t run_id,
                                const char *user, ferry_queue_cancel_result *ret_result,
                                ferry_run *ret_run, ferry_err *err);

/* Publishes run (borrowed) as an event of type ("run.queued", "run.started", "run.finished",
 * "run.progress"), with live figures when not NULL. Call it only after the store holds what
 * it says. */
void ferry_queue_publish(const ferry_queue *q, const char *type, const ferry_run *run,
                         const ferry_run_live *live);

/* Publishes one entry of run's activity log as a run.activity event (events/run_json.h):
 * live only, like run.progress; the run stores its log with its end. Everything borrowed. */
void ferry_queue_publish_activity(const ferry_queue *q, const ferry_run *run, int64_t n,
                                  int64_t at_ms, const char *kind, const char *text);

/* Who decides on a held run (docs/review.md), and how. Strings borrowed. */
typedef struct {
    const char *who;      /* the user name, or "cli" ($USER on the command line) */
    const char *comment;  /* why, or NULL */
    bool admin;           /* the decider may approve a change to a protected field */
    bool now;             /* approve: this process applies it at once (status running, the
                             lease held: the caller runs ferry_sync_run()); else it is queued
                             for a worker */
    const char *data_dir; /* where held runs' snapshots are (the config's data_dir) */
} ferry_queue_decision;

/* Approves held run run_id: refused with FERRY_ECONFLICT when it is not held (or no longer:
 * decided twice), FERRY_EFORBIDDEN when it changes a protected field and d->admin is not
 * set, FERRY_ENOTFOUND when there is no such run or its snapshot is gone. The decision is
 * written to the audit trail ("run.approve", who, the comment). A queued approval is
 * published as run.queued and the workers woken. *ret_run (owned by the caller) is the run
 * as approved. */
ferry_rc ferry_queue_run_approve(const ferry_queue *q, ferry_store *st,
                                 const ferry_queue_decision *d, int64_t run_id, ferry_run *ret_run,
                                 ferry_err *err);

/* Rejects held run run_id (expired: its hold_for passed; d->who is then "ferry"): status
 * rejected, snapshots removed, "run.reject" (or "run.expire") audited, run.finished
 * published. Refusals as for approval (no role is needed). */
ferry_rc ferry_queue_run_reject(const ferry_queue *q, ferry_store *st,
                                const ferry_queue_decision *d, int64_t run_id, bool expired,
                                ferry_run *ret_run, ferry_err *err);

/* Rejects, as expired, every held run whose held_until has passed (the scheduler, each tick).
 * Returns how many. */
int ferry_queue_expire_held(const ferry_queue *q, ferry_store *st, const char *data_dir);

/* The serving loop's tick, every 200 ms (tick 0 at start): every 5 s records this node's
 * heartbeat (address may be NULL, nworkers its worker threads); every 2 s asks the workers to
 * cancel the runs a cancel was requested for on another node, in case the bus missed it. */
void ferry_queue_node_tick(const ferry_queue *q, ferry_store *st, const char *address, int nworkers,
                           int tick);

#endif
