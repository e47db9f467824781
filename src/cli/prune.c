/* prune.c - ferry prune [--dry-run]: deletes the history the config's retention: no longer
 * keeps (store/prune.h), in short batches, and says per table what went; --dry-run counts
 * the same rows and deletes nothing. A server running meanwhile is not held up: each batch
 * is its own short transaction, with a pause after it. */
#include <stdio.h>
#include <time.h>

#include "cli/internal.h"
#include "queue/pruner.h"
#include "store/prune.h"
#include "util/text.h"
#include "util/timeutil.h"

/* The pause between two batches. */
#define BATCH_PAUSE_NS (10 * 1000 * 1000L)

static bool pause_cb(void *ctx)
{
    struct timespec ts = {0, BATCH_PAUSE_NS};

    (void)ctx;
    nanosleep(&ts, NULL);
    return true;
}

/* A retention as the config writes it: "180d", "12h", "keep". */
static void retention_format(long ms, char *out, size_t outlen)
{
    static const struct {
        long ms;
        const char *unit;
    } units[] = {{86400000L, "d"}, {3600000L, "h"}, {60000L, "m"}, {1000L, "s"}, {1L, "ms"}};

    if (ms == FERRY_RETENTION_KEEP) {
        snprintf(out, outlen, "keep");
        return;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (ms % units[i].ms == 0) {
            snprintf(out, outlen, "%ld%s", ms / units[i].ms, units[i].unit);
            return;
        }
}

/* "  N noun(s)" and the rest of the line. */
static void line(int64_t n, const char *one, const char *many, const char *rest)
{
    char count[32];

    ferry_text_count(n, count, sizeof(count));
    printf("  %s %s%s\n", count, n == 1 ? one : many, rest);
}

static void report(const ferry_config *cfg, bool dry_run, const ferry_prune_counts *c)
{
    char runs[32], changes[32], audit[32], rest[96], count[32];
    const int64_t *rows = c->rows;

    retention_format(cfg->retention.runs_ms, runs, sizeof(runs));
    retention_format(cfg->retention.changes_ms, changes, sizeof(changes));
    retention_format(cfg->retention.audit_ms, audit, sizeof(audit));
    printf("%s (retention: runs %s, changes %s, audit %s):\n", dry_run ? "Would prune" : "Pruned",
           runs, changes, audit);
    ferry_text_count(c->change_runs, count, sizeof(count));
    snprintf(rest, sizeof(rest), " (of %s run%s)", count, c->change_runs == 1 ? "" : "s");
    line(rows[FERRY_PRUNE_CHANGES], "change row", "change rows", rest);
    rest[0] = '\0';
    if (rows[FERRY_PRUNE_RUN_CHANGES] > 0) {
        ferry_text_count(rows[FERRY_PRUNE_RUN_CHANGES], count, sizeof(count));
        snprintf(rest, sizeof(rest), " (with their %s change row%s)", count,
                 rows[FERRY_PRUNE_RUN_CHANGES] == 1 ? "" : "s");
    }
    line(rows[FERRY_PRUNE_RUNS], "run", "runs", rest);
    ferry_text_count(rows[FERRY_PRUNE_ATTEMPTS], count, sizeof(count));
    snprintf(rest, sizeof(rest), " (with %s attempt%s)", count,
             rows[FERRY_PRUNE_ATTEMPTS] == 1 ? "" : "s");
    line(rows[FERRY_PRUNE_DELIVERIES], "delivery", "deliveries", rest);
    line(rows[FERRY_PRUNE_AUDIT], "audit entry", "audit entries", "");
    line(rows[FERRY_PRUNE_FIRES], "schedule firing", "schedule firings", "");
    line(rows[FERRY_PRUNE_SESSIONS], "expired session", "expired sessions", "");
}

int ferry_cli_prune(const cli_opts *o)
{
    ferry_config *cfg = NULL;
    ferry_store *store = NULL;
    ferry_prune_policy policy;
    ferry_prune_opts opts = {.dry_run = o->dry_run, .pause = pause_cb};
    ferry_prune_counts c;
    ferry_err err;
    int status;
    bool done;

    if (o->nargs != 0) {
        fprintf(stderr, "ferry: prune takes no arguments (try 'ferry --help')\n");
        return EXIT_USAGE;
    }
    if ((status = ferry_cli_load(o, &cfg, &store)) != 0)
        return status;
    ferry_pruner_policy(cfg, &policy);
    ferry_err_clear(&err);
    if (ferry_store_prune(store, &policy, ferry_time_now_ms(), &opts, &c, &err) != FERRY_OK) {
        if (ferry_prune_counts_total(&c) > 0)
            report(cfg, false, &c);
        fprintf(stderr, "ferry: %s\n", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    report(cfg, o->dry_run, &c);
    if (!o->dry_run && ferry_prune_counts_total(&c) >= FERRY_PRUNER_CHECKPOINT_ROWS)
        (void)store->prune->checkpoint(store, true, &done, &err);
out:
    ferry_store_close(store);
    ferry_config_free(cfg);
    return status;
}
