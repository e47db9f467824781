/* pruner.c - the server's pruning thread (see pruner.h).
 *
 * One thread, one store connection. The lock protects stopping; the thread waits on wake
 * with a deadline, so ferry_pruner_stop() never waits out a sleep: between two batches the
 * pause is a short timed wait on the same condition. Each prune reads the live config's
 * retention (a reload changes it for the next prune); what went is counted in the metrics
 * (ferry_pruned_rows_total). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/live.h"
#include "events/metrics.h"
#include "queue/pruner.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

/* The first prune after start, and the pause between two batches. */
#define FIRST_PRUNE_MS (60 * 1000LL)
#define BATCH_PAUSE_MS 20

struct ferry_pruner {
    ferry_config_live *live;
    pthread_t thread;
    pthread_mutex_t lock; /* protects stopping */
    pthread_cond_t wake;  /* signalled when stopping is set */
    bool stopping;
};

void ferry_pruner_policy(const ferry_config *cfg, ferry_prune_policy *ret)
{
    ret->runs_ms = cfg->retention.runs_ms;
    ret->changes_ms = cfg->retention.changes_ms;
    ret->audit_ms = cfg->retention.audit_ms;
    ret->session_idle_ms = cfg->session_idle_ms;
    ret->session_max_ms = cfg->session_max_ms;
}

/* Waits up to ms, or until stopped: false when stopping. */
static bool wait_ms(ferry_pruner *p, int64_t ms)
{
    struct timespec until;
    bool go_on;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->lock);
    if (!p->stopping)
        pthread_cond_timedwait(&p->wake, &p->lock, &until);
    go_on = !p->stopping;
    pthread_mutex_unlock(&p->lock);
    return go_on;
}

static bool pause_cb(void *ctx)
{
    return wait_ms(ctx, BATCH_PAUSE_MS);
}

/* Counts what went in the metrics, by table without its ferry_ prefix ("changes"). */
static void count_pruned(const ferry_prune_counts *c)
{
    for (int k = 0; k < FERRY_PRUNE_KIND_COUNT; k++) {
        const char *table = ferry_prune_kind_table((ferry_prune_kind)k);
        if (strncmp(table, "ferry_", 6) == 0)
            table += 6;
        if (c->rows[k] > 0)
            ferry_metrics_pruned(table, (uint64_t)c->rows[k]);
    }
}

/* Prunes once with the live config's retention and logs what went; FERRY_ECONFLICT when the
 * database was busy (a long run holding SQLite's write lock): tried again a minute later.
 * *ret_every is the retention's every of that config. */
static ferry_rc prune_once(ferry_pruner *p, ferry_store *st, int64_t *ret_every)
{
    const ferry_config *cfg = ferry_config_live_acquire(p->live);
    ferry_prune_policy policy;
    ferry_prune_opts opts = {.pause = pause_cb, .ctx = p};
    ferry_prune_counts c;
    ferry_err err;
    ferry_rc rc;
    bool done;

    ferry_pruner_policy(cfg, &policy);
    *ret_every = cfg->retention.every_ms;
    ferry_config_live_release(p->live, cfg);
    ferry_err_clear(&err);
    rc = ferry_store_prune(st, &policy, ferry_time_now_ms(), &opts, &c, &err);
    count_pruned(&c);
    if (rc == FERRY_ECONFLICT)
        ferry_log(FERRY_LOG_INFO, "msg=\"pruning put off: the database is busy\"");
    else if (rc != FERRY_OK)
        ferry_log(FERRY_LOG_ERROR, "msg=\"pruning failed\" error=\"%s\"", err.msg);
    if (ferry_prune_counts_total(&c) == 0)
        return rc;
    ferry_log(FERRY_LOG_INFO,
              "msg=\"pruned old history\" changes=%lld change_runs=%lld runs=%lld"
              " deliveries=%lld attempts=%lld audit=%lld fires=%lld sessions=%lld",
              (long long)(c.rows[FERRY_PRUNE_CHANGES] + c.rows[FERRY_PRUNE_RUN_CHANGES]),
              (long long)c.change_runs, (long long)c.rows[FERRY_PRUNE_RUNS],
              (long long)c.rows[FERRY_PRUNE_DELIVERIES], (long long)c.rows[FERRY_PRUNE_ATTEMPTS],
              (long long)c.rows[FERRY_PRUNE_AUDIT], (long long)c.rows[FERRY_PRUNE_FIRES],
              (long long)c.rows[FERRY_PRUNE_SESSIONS]);
    if (ferry_prune_counts_total(&c) >= FERRY_PRUNER_CHECKPOINT_ROWS)
        (void)st->prune->checkpoint(st, true, &done, &err);
    return rc;
}

static void *pruner_main(void *arg)
{
    ferry_pruner *p = arg;
    const ferry_config *cfg = ferry_config_live_acquire(p->live);
    int64_t every = cfg->retention.every_ms;
    ferry_store *st = NULL;
    ferry_err err;
    ferry_rc rc;

    ferry_err_clear(&err);
    /* The database never changes with a reload (it needs a restart). */
    rc = ferry_store_open(cfg->database, cfg->dir, &st, &err);
    ferry_config_live_release(p->live, cfg);
    if (rc != FERRY_OK) {
        ferry_log(FERRY_LOG_ERROR, "msg=\"pruner cannot open the store\" error=\"%s\"", err.msg);
        return NULL;
    }
    if (!wait_ms(p, every < FIRST_PRUNE_MS ? every : FIRST_PRUNE_MS)) {
        ferry_store_close(st);
        return NULL;
    }
    for (;;) {
        int64_t next;
        rc = prune_once(p, st, &every);
        next = every;
        if (rc == FERRY_ECONFLICT && every > FIRST_PRUNE_MS)
            next = FIRST_PRUNE_MS; /* busy: again in a minute */
        if (!wait_ms(p, next))
            break;
    }
    ferry_store_close(st);
    return NULL;
}

ferry_rc ferry_pruner_start(ferry_config_live *live, ferry_pruner **ret, ferry_err *err)
{
    ferry_pruner *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "starting the pruner");
    p->live = live;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (pthread_create(&p->thread, NULL, pruner_main, p) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return ferry_err_set(err, FERRY_EINVAL, "cannot start the pruner thread");
    }
    *ret = p;
    return FERRY_OK;
}

void ferry_pruner_stop(ferry_pruner *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
