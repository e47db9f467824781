/* metrics.c - this process's counters for GET /metrics (see metrics.h).
 *
 * One static table: a row per sync (its name, runs ended by status, records by outcome, the
 * duration histogram), the delivery attempts by outcome and the pruned rows by table. A
 * sync's row is found under table_lock and never moves or goes away, so its counts are then
 * added to without the lock. The histogram keeps a count per bucket (not cumulative): one
 * add per observation, and the cumulative figures are summed when formatted, so a bucket is
 * never read above the +Inf count printed after it. */
#include "events/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define SYNC_NAME_BYTES 128

const double ferry_metrics_duration_buckets[] = {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200};
#define NBUCKETS ((int)(sizeof(ferry_metrics_duration_buckets) / sizeof(double)))
const int ferry_metrics_nduration_buckets = NBUCKETS;

typedef struct {
    char name[SYNC_NAME_BYTES];
    atomic_uint_fast64_t runs[FERRY_RUN_STATUS_COUNT];
    atomic_uint_fast64_t records[FERRY_OUTCOME_COUNT];
    atomic_uint_fast64_t bucket[NBUCKETS + 1]; /* the last: above every bound */
    atomic_uint_fast64_t duration_ms_sum;
} sync_row;

static const char *const pruned_tables[] = {
    "changes", "runs", "deliveries", "delivery_attempts", "audit", "schedule_fires", "sessions"};
#define NTABLES (sizeof(pruned_tables) / sizeof(pruned_tables[0]))

/* The outcomes of ferry_outbox_deliveries_total, in the order printed; failed is every
 * failed attempt (retried or abandoned). */
enum { OUT_DELIVERED, OUT_FAILED, OUT_RETRIED, OUT_ABANDONED, NOUTCOMES };
static const char *const delivery_names[NOUTCOMES] = {"delivered", "failed", "retried",
                                                      "abandoned"};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER; /* protects nsyncs, names */
static sync_row syncs[FERRY_METRICS_SYNCS_MAX];
static size_t nsyncs;
static atomic_uint_fast64_t deliveries[NOUTCOMES];
static atomic_uint_fast64_t pruned[NTABLES];

/* The row of sync, added when create and missing; NULL when there is none (or no room). */
static sync_row *row_find(const char *sync, bool create)
{
    sync_row *row = NULL;

    if (sync == NULL || strlen(sync) >= SYNC_NAME_BYTES)
        return NULL;
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < nsyncs && row == NULL; i++)
        if (strcmp(syncs[i].name, sync) == 0)
            row = &syncs[i];
    if (row == NULL && create && nsyncs < FERRY_METRICS_SYNCS_MAX) {
        row = &syncs[nsyncs];
        snprintf(row->name, sizeof(row->name), "%s", sync);
        nsyncs++;
    }
    pthread_mutex_unlock(&table_lock);
    return row;
}

static size_t rows_count(void)
{
    size_t n;

    pthread_mutex_lock(&table_lock);
    n = nsyncs;
    pthread_mutex_unlock(&table_lock);
    return n;
}

void ferry_metrics_sync_add(const char *sync)
{
    (void)row_find(sync, true);
}

void ferry_metrics_run_finished(const ferry_run *run, bool timed)
{
    sync_row *row;
    int b = 0;

    if (run == NULL || run->status == FERRY_RUN_QUEUED || run->status == FERRY_RUN_RUNNING ||
        run->status >= FERRY_RUN_STATUS_COUNT || (row = row_find(run->sync, true)) == NULL)
        return;
    atomic_fetch_add(&row->runs[run->status], 1);
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++) {
        int64_t n = run->counts[o];
        if (o == FERRY_OUTCOME_SKIPPED)
            n += ferry_label_counts_total(&run->skipped_by_label);
        if (n > 0)
            atomic_fetch_add(&row->records[o], (uint_fast64_t)n);
    }
    if (!timed || run->duration_ms < 0)
        return;
    while (b < NBUCKETS && (double)run->duration_ms > ferry_metrics_duration_buckets[b] * 1000.0)
        b++;
    atomic_fetch_add(&row->duration_ms_sum, (uint_fast64_t)run->duration_ms);
    atomic_fetch_add(&row->bucket[b], 1);
}

void ferry_metrics_delivery_attempt(ferry_metrics_delivery outcome)
{
    switch (outcome) {
    case FERRY_METRICS_DELIVERED:
        atomic_fetch_add(&deliveries[OUT_DELIVERED], 1);
        break;
    case FERRY_METRICS_RETRIED:
        atomic_fetch_add(&deliveries[OUT_FAILED], 1);
        atomic_fetch_add(&deliveries[OUT_RETRIED], 1);
        break;
    case FERRY_METRICS_ABANDONED:
        atomic_fetch_add(&deliveries[OUT_FAILED], 1);
        atomic_fetch_add(&deliveries[OUT_ABANDONED], 1);
        break;
    default:
        break;
    }
}

void ferry_metrics_pruned(const char *table, uint64_t n)
{
    for (size_t i = 0; table != NULL && i < NTABLES; i++)
        if (strcmp(pruned_tables[i], table) == 0)
            atomic_fetch_add(&pruned[i], n);
}

ferry_rc ferry_metrics_label_append(ferry_buf *b, const char *value)
{
    ferry_rc rc = FERRY_OK;
    const char *run = value;

    for (const char *p = value; *p != '\0' && rc == FERRY_OK; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (esc == NULL)
            continue;
        if ((rc = ferry_buf_append(b, run, (size_t)(p - run))) == FERRY_OK)
            rc = ferry_buf_append(b, esc, 2);
        run = p + 1;
    }
    if (rc == FERRY_OK)
        rc = ferry_buf_append(b, run, strlen(run));
    if (rc != FERRY_OK)
        b->truncated = true; /* as ferry_buf_printf_trunc() marks it */
    return rc;
}

static void format_histogram(ferry_buf *b, const sync_row *row)
{
    uint64_t cumulative = 0;

    for (int k = 0; k <= NBUCKETS; k++) {
        cumulative += atomic_load(&row->bucket[k]);
        if (k < NBUCKETS)
            ferry_buf_printf_trunc(
                b, "ferry_run_duration_seconds_bucket{sync=\"%s\",le=\"%g\"} %llu\n", row->name,
                ferry_metrics_duration_buckets[k], (unsigned long long)cumulative);
    }
    ferry_buf_printf_trunc(b,
                           "ferry_run_duration_seconds_bucket{sync=\"%s\",le=\"+Inf\"} %llu\n"
                           "ferry_run_duration_seconds_sum{sync=\"%s\"} %.3f\n"
                           "ferry_run_duration_seconds_count{sync=\"%s\"} %llu\n",
                           row->name, (unsigned long long)cumulative, row->name,
                           (double)atomic_load(&row->duration_ms_sum) / 1000.0, row->name,
                           (unsigned long long)cumulative);
}

ferry_rc ferry_metrics_format(ferry_buf *b)
{
    size_t n = rows_count();

    /* Rows below n are complete (named under the lock before nsyncs grew) and stay. */
    ferry_buf_printf_trunc(b,
                           "# HELP ferry_runs_finished_total Runs this process ended, by sync and "
                           "status.\n# TYPE ferry_runs_finished_total counter\n");
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < FERRY_RUN_STATUS_COUNT; k++)
            if (k != FERRY_RUN_QUEUED && k != FERRY_RUN_RUNNING)
                ferry_buf_printf_trunc(
                    b, "ferry_runs_finished_total{sync=\"%s\",status=\"%s\"} %llu\n", syncs[i].name,
                    ferry_run_status_name((ferry_run_status)k),
                    (unsigned long long)atomic_load(&syncs[i].runs[k]));
    ferry_buf_printf_trunc(b,
                           "# HELP ferry_records_total Records of the runs this process ended, by "
                           "sync and outcome.\n# TYPE ferry_records_total counter\n");
    for (size_t i = 0; i < n; i++)
        for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
            ferry_buf_printf_trunc(b, "ferry_records_total{sync=\"%s\",outcome=\"%s\"} %llu\n",
                                   syncs[i].name, ferry_outcome_name((ferry_outcome)o),
                                   (unsigned long long)atomic_load(&syncs[i].records[o]));
    ferry_buf_printf_trunc(b,
                           "# HELP ferry_run_duration_seconds Durations of the runs this process "
                           "ended, by sync.\n# TYPE ferry_run_duration_seconds histogram\n");
    for (size_t i = 0; i < n; i++)
        format_histogram(b, &syncs[i]);
    ferry_buf_printf_trunc(
        b, "# HELP ferry_outbox_deliveries_total Delivery attempts this process made, "
           "by outcome (failed: retried or abandoned).\n"
           "# TYPE ferry_outbox_deliveries_total counter\n");
    for (int k = 0; k < NOUTCOMES; k++)
        ferry_buf_printf_trunc(b, "ferry_outbox_deliveries_total{outcome=\"%s\"} %llu\n",
                               delivery_names[k], (unsigned long long)atomic_load(&deliveries[k]));
    ferry_buf_printf_trunc(b,
                           "# HELP ferry_pruned_rows_total Rows this process deleted by retention, "
                           "by table.\n# TYPE ferry_pruned_rows_total counter\n");
    for (size_t k = 0; k < NTABLES; k++)
        ferry_buf_printf_trunc(b, "ferry_pruned_rows_total{table=\"%s\"} %llu\n", pruned_tables[k],
                               (unsigned long long)atomic_load(&pruned[k]));
    return b->truncated ? FERRY_ELIMIT : FERRY_OK;
}

void ferry_metrics_reset(void)
{
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < nsyncs; i++) {
        memset(syncs[i].name, 0, sizeof(syncs[i].name));
        for (int k = 0; k < FERRY_RUN_STATUS_COUNT; k++)
            atomic_store(&syncs[i].runs[k], 0);
        for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
            atomic_store(&syncs[i].records[o], 0);
        for (int k = 0; k <= NBUCKETS; k++)
            atomic_store(&syncs[i].bucket[k], 0);
        atomic_store(&syncs[i].duration_ms_sum, 0);
    }
    nsyncs = 0;
    pthread_mutex_unlock(&table_lock);
    for (int k = 0; k < NOUTCOMES; k++)
        atomic_store(&deliveries[k], 0);
    for (size_t k = 0; k < NTABLES; k++)
        atomic_store(&pruned[k], 0);
}
