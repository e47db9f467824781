/* run.h - executing one run of a sync: source -> map -> target -> recorder, in one transaction.
 *
 * ferry_sync_run() executes a run already recorded in the store as running (claimed by a
 * worker, or recorded by the command line: queue/queue.h), opens the source (header checks
 * happen before the target is touched), begins the target's transaction, streams every record
 * through the mapper and the target, records a change row for every record that was not
 * unchanged, applies on_missing, writes the final run record and commits, all or nothing. A
 * failure or a cancel at any point rolls the target back and records the run as failed or
 * cancelled with a message a person can act on.
 *
 * Runs on the calling thread; cancel may be set from any thread or a signal handler. */
#ifndef FERRY_SYNC_RUN_H
#define FERRY_SYNC_RUN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "util/err.h"

/* A running run renews its lease this often (opt->renew_lease); a lease not renewed for
 * FERRY_LEASE_MS is taken over (ferry serve checks every few seconds). */
#define FERRY_HEARTBEAT_MS 5000
#define FERRY_LEASE_MS (5 * 60 * 1000)

/* A snapshot of a run in progress, for progress displays and events. */
typedef struct {
    const ferry_run *run; /* id, status, phase, percent, processed, counts (borrowed) */
    double rows_per_s;
    int64_t eta_ms; /* -1 when unknown */
    int64_t elapsed_ms;
} ferry_run_progress;

/* Called at most every progress_interval_ms while a run executes, and once at the end. */
typedef void (*ferry_run_progress_cb)(void *ctx, const ferry_run_progress *progress);

typedef struct {
    const ferry_config *config;
    const ferry_sync_spec *sync;
    ferry_store *store;   /* borrowed; its connection is used for the target too */
    const ferry_run *run; /* the run to execute (borrowed), recorded as running and held by
                             this process (ferry_queue_run_claim(), ferry_queue_run_start());
                             its id, tenant, trigger, user, token, attempt, dry_run (do
                             everything, then roll back) and allow_missing (on_missing may
                             delete or flag any number of rows this once) are kept */
    atomic_bool *cancel;  /* may be NULL */
    atomic_bool *requeue; /* may be NULL; when set and the run is cancelled, it is rolled
                             back and queued again (store run_requeue) instead of being
                             recorded as cancelled: a stopping server hands it on */
    /* Called when writing the run's end to the store failed on the database (FERRY_EDB: a
     * lost connection, a full disk), before each new try, with the tries so far: it waits
     * as long as it sees fit and returns false to give up. NULL: one try. */
    bool (*record_retry)(void *ctx, int tries);
    void *record_retry_ctx;
    /* Called once when the run ends cancelled: who cancelled it (malloc'd, the run owns it),
     * or NULL. It is recorded in the same write as the run's end, so no reader ever sees a
     * cancelled run whose canceller is still to come. NULL: nobody is named. */
    char *(*who_cancelled)(void *ctx);
    void *who_cancelled_ctx;
    /* Called every FERRY_HEARTBEAT_MS while the run executes, on its thread, at a point where
     * the store's connection is free: renews the run's lease (ferry_queue_lease_renew()) and
     * returns FERRY_ENOTFOUND when it was lost, which stops the run without recording it.
     * NULL: the lease is not renewed. */
    ferry_rc (*renew_lease)(void *ctx, ferry_store *store, int64_t run_id, ferry_err *err);
    void *renew_lease_ctx;
    ferry_run_progress_cb on_progress;
    void *progress_ctx;
    /* Called, on the run's thread, for each entry of the run's activity log as it is added
     * (sync/activity.h: connected, each page, each wait and retry, each phase): run (its id,
     * sync, tenant; borrowed for the call), the entry's number from 1, its time (wall clock),
     * kind and text (borrowed). The run keeps the log itself (run.activity). May be NULL. */
    void (*on_activity)(void *ctx, const ferry_run *run, int64_t n, int64_t at_ms, const char *kind,
                        const char *text);
    void *activity_ctx;
    int progress_interval_ms; /* default 250 */
} ferry_run_options;

/* Executes one run. Returns FERRY_OK when the run was executed and recorded, whatever its
 * outcome: *ret_run (owned by the caller, ferry_run_done()) says succeeded, failed or
 * cancelled, or queued when opt->requeue handed it back to the queue. Returns an error only
 * when the run's end could not be recorded (the store failed) or was not this process's to
 * record (FERRY_ENOTFOUND: its lease was taken over, or a COMMIT whose answer was lost had
 * stored it already): the store then holds the truth, and nothing may be announced but what
 * it holds. */
ferry_rc ferry_sync_run(const ferry_run_options *opt, ferry_run *ret_run, ferry_err *err);

/* Formats the one-line summary of the counts of sync's records into out:
 * "Processed 151 therapists: 2 created, 5 updated, 140 unchanged, 2 skipped, 2 failed.", with
 * each label's count after the plain skipped one ("5 skipped, 3 FLAT skipped"; counts[skipped]
 * excludes them), and ", N deleted" or ", N flagged as missing" by the sync's on_missing. */
void ferry_run_format_summary(const ferry_sync_spec *sync, const int64_t counts[],
                              const ferry_label_counts *skipped_by_label, char *out, size_t outlen);

#endif
