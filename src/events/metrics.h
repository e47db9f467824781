/* metrics.h - what this process did, counted for GET /metrics.
 *
 * Counters only grow while the process lives (Prometheus reads a decrease as a restart), so
 * they count events as they happen here, never rows of the store, which retention deletes:
 * runs this process ended (by sync and status, with their records by outcome, and the
 * durations of those its workers executed in a histogram), attempts at deliveries, and rows
 * pruned. What the
 * store holds now (runs by status, the queue, pending deliveries) is read when /metrics is
 * asked for, as gauges, by http/api_status.c.
 *
 * Threads: every function may be called from any thread. Counts are atomic; the table of
 * syncs is protected by a lock taken only to find a sync's row (a run's end, a /metrics
 * request), never while formatting into a buffer. At most FERRY_METRICS_SYNCS_MAX syncs
 * are counted (a reloaded config may add syncs; rows are never removed); the ends of runs
 * of syncs past it are not counted. */
#ifndef FERRY_EVENTS_METRICS_H
#define FERRY_EVENTS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/buf.h"

#define FERRY_METRICS_SYNCS_MAX 1024

/* How one attempt at a delivery ended. */
typedef enum {
    FERRY_METRICS_DELIVERED = 0, /* the endpoint took it */
    FERRY_METRICS_RETRIED,       /* it failed; the delivery is tried again */
    FERRY_METRICS_ABANDONED,     /* it failed; the delivery is given up (failed) */
    FERRY_METRICS_DELIVERY_OUTCOMES
} ferry_metrics_delivery;

/* Counts the end of run (its sync, status, counts and skipped_by_label) by this process: a
 * run its worker executed, or a run it ended otherwise (a queued run cancelled, a held run
 * rejected, a run whose process died). With timed (a run executed here), its duration_ms is
 * observed in the duration histogram. A run handed back to the queue (status queued) has not
 * ended and is not counted. run is borrowed. */
void ferry_metrics_run_finished(const ferry_run *run, bool timed);

/* Counts one attempt at a delivery that ended as outcome. Failed attempts (retried and
 * abandoned) are also counted as failed. */
void ferry_metrics_delivery_attempt(ferry_metrics_delivery outcome);

/* Counts n rows deleted from table ("changes", "runs", "deliveries", "delivery_attempts",
 * "audit", "schedule_fires" or "sessions": Ferry's table without its ferry_ prefix) by
 * retention. Other table names are not counted. */
void ferry_metrics_pruned(const char *table, uint64_t n);

/* Makes sure sync has its row (zeros until it counts something), so that its series exist
 * from the start; a name longer than 127 bytes is ignored. sync is borrowed. */
void ferry_metrics_sync_add(const char *sync);

/* Appends the families of this process's counters to b in Prometheus' text format (0.0.4),
 * each with its HELP and TYPE: ferry_runs_finished_total, ferry_records_total,
 * ferry_run_duration_seconds, ferry_outbox_deliveries_total, ferry_pruned_rows_total. */
ferry_rc ferry_metrics_format(ferry_buf *b);

/* Appends value to b as a label value of the text format: backslash, double quote and
 * newline escaped (\\, \", \n). */
ferry_rc ferry_metrics_label_append(ferry_buf *b, const char *value);

/* The upper bounds of the run duration histogram's buckets, in seconds, and their number
 * (+Inf not included). */
extern const double ferry_metrics_duration_buckets[];
extern const int ferry_metrics_nduration_buckets;

/* Sets every count back to zero and forgets every sync: for tests only. */
void ferry_metrics_reset(void);

#endif
