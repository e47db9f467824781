/* prune.h - retention: deleting old history from the store in small batches.
 *
 * What goes (docs/config.md, "Retention"): the change rows of runs that ended longer ago than
 * retention.changes (the run stays, with its counts, and records when its detail went); runs
 * that ended longer ago than retention.runs, with their change rows and deliveries; delivered
 * or given-up deliveries older than retention.runs; audit entries older than retention.audit;
 * schedule firings older than a week; expired login sessions. Never pruned, whatever their
 * age: queued, running and held runs; the latest finished run and the latest succeeded run of
 * each sync and tenant; the latest scheduled run of each sync; the run an incremental
 * watermark names; the run an active revert reverts.
 *
 * Each batch deletes at most opts->batch rows in its own short transaction, then the caller's
 * pause runs, so a sync's writes wait at most one batch. Written once over the store's
 * prune primitives (store.h, ferry_store_prune_ops): both backends delete the same rows. */
#ifndef FERRY_STORE_PRUNE_H
#define FERRY_STORE_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* What is pruned, in the order it goes. */
typedef enum {
    FERRY_PRUNE_CHANGES = 0, /* change rows of runs past retention.changes */
    FERRY_PRUNE_RUN_CHANGES, /* the change rows still left of runs past retention.runs */
    FERRY_PRUNE_ATTEMPTS,    /* attempts of the deliveries below */
    FERRY_PRUNE_DELIVERIES,  /* deliveries of pruned runs; delivered or failed ones past runs */
    FERRY_PRUNE_RUNS,        /* runs past retention.runs */
    FERRY_PRUNE_AUDIT,       /* audit entries past retention.audit */
    FERRY_PRUNE_FIRES,       /* schedule firings older than a week */
    FERRY_PRUNE_SESSIONS,    /* expired login sessions */
    FERRY_PRUNE_KIND_COUNT
} ferry_prune_kind;

/* How long things are kept, in ms; 0 keeps them forever. */
typedef struct {
    int64_t runs_ms, changes_ms, audit_ms;
    int64_t session_idle_ms, session_max_ms; /* 0: sessions are not pruned */
} ferry_prune_policy;

/* Rows deleted (or that would be) per kind, and the runs whose change detail went. */
typedef struct {
    int64_t rows[FERRY_PRUNE_KIND_COUNT];
    int64_t change_runs;
} ferry_prune_counts;

/* Rows per batch by default. */
#define FERRY_PRUNE_BATCH 2000

typedef struct {
    bool dry_run; /* count what would go, delete nothing */
    int batch;    /* rows per transaction; 0: FERRY_PRUNE_BATCH */
    /* Called between batches (may be NULL): sleeps a little; false stops the prune early. */
    bool (*pause)(void *ctx);
    void *ctx;
} ferry_prune_opts;

/* Prunes st by policy as of now_ms (wall clock). *ret (zeroed here) counts what went, also
 * when an error stops it part way (what was committed stays deleted). A dry run counts
 * exactly what a prune would delete. The calling thread must own st. */
ferry_rc ferry_store_prune(ferry_store *st, const ferry_prune_policy *policy, int64_t now_ms,
                           const ferry_prune_opts *opts, ferry_prune_counts *ret, ferry_err *err);

/* The total of rows in c. */
int64_t ferry_prune_counts_total(const ferry_prune_counts *c);

/* The table a kind deletes from, for metrics ("ferry_changes"). */
const char *ferry_prune_kind_table(ferry_prune_kind kind);

#endif
