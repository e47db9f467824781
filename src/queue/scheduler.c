/* scheduler.c - the schedule thread (see scheduler.h).
 *
 * The lock protects next[] (read by the API) and stopping; the store and the hub are used
 * without it. Times are wall-clock milliseconds because they are compared with the stored
 * queued_at of the last scheduled run, which survives restarts. A cron schedule is read in
 * its sync's zone (sync->tz, loaded with the config and never changed, so shared without a
 * lock); 'every' schedules are elapsed time in any zone.
 *
 * Config: each tick acquires the live config and keeps it until the next tick has acquired
 * its own (so a config seen is never freed and reallocated at the same address while the
 * thread compares against it). When a reload installed another one, next[] is made again
 * for its syncs: a sync whose schedule did not change keeps its due time, the others are
 * worked out again from the store, and a removed sync is no longer scheduled. */
#include "queue/scheduler.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/metrics.h"
#include "notify/notify.h"
#include "queue/queue.h"
#include "store/store.h"
#include "sync/run.h"
#include "target/tenants.h"
#include "util/log.h"
#include "util/timeutil.h"

/* A scheduled sync: when its next run is due, 0 when not known yet. */
typedef struct {
    char *name;
    long every_s;
    bool has_cron;
    ferry_cron cron;
    const char *zone; /* the zone cron is read in, borrowed from the config the slot was made
                         for (held by the scheduler until the next remake has compared it) */
    int64_t due;
} slot;

struct ferry_scheduler {
    ferry_config_live *live;
    const ferry_config *cfg; /* the config of the current tick (the thread's own) */
    ferry_queue queue;       /* the hub and the workers; no bus */
    pthread_t thread;
    pthread_mutex_t lock; /* protects next, nnext and stopping */
    pthread_cond_t wake;
    slot *next; /* per sync of cfg, in its order */
    size_t nnext;
    bool stopping;
    bool joined; /* the thread has ended (the owner's thread only) */
};

/* The time the last scheduled run of sync was queued, or 0. */
static int64_t last_scheduled(ferry_store *st, const char *sync)
{
    ferry_run_filter filter = {.sync = sync, .trigger = "schedule", .limit = 1};
    ferry_run *runs = NULL;
    size_t n = 0;
    int64_t at = 0;
    ferry_err err;

    ferry_err_clear(&err);
    if (st->runs->run_list(st, &filter, &runs, &n, &err) == FERRY_OK && n > 0)
        at = runs[0].queued_at_ms;
    ferry_runs_free(runs, n);
    return at;
}

/* Queues a scheduled run of sync for tenant (NULL without tenants) for the firing due at
 * due: only when this process wins the firing, so a schedule fires once across every node
 * sharing the store. */
static void fire_one(ferry_scheduler *s, ferry_store *st, const ferry_sync_spec *sync,
                     const char *tenant, int64_t due, int64_t now)
{
    ferry_queue_request rq = {0};
    ferry_run got;
    bool created = false, won = false;
    ferry_err err;

    ferry_err_clear(&err);
    if (st->cluster->schedule_claim(st, sync->name, tenant, due, &won, &err) != FERRY_OK) {
        ferry_log(FERRY_LOG_ERROR,
                  "msg=\"claiming a scheduled run failed\" sync=\"%s\" tenant=\"%s\" error=\"%s\"",
                  sync->name, tenant != NULL ? tenant : "", err.msg);
        return;
    }
    if (!won)
        return; /* another node fired it */
    rq.sync = sync;
    rq.tenant = tenant;
    rq.trigger = "schedule";
    rq.user = "scheduler";
    rq.queued_at_ms = now;
    if (ferry_queue_run_request(&s->queue, st, &rq, &got, &created, NULL, &err) != FERRY_OK) {
        ferry_log(FERRY_LOG_ERROR,
                  "msg=\"scheduling a run failed\" sync=\"%s\" tenant=\"%s\" error=\"%s\"",
                  sync->name, tenant != NULL ? tenant : "", err.msg);
        return;
    }
    if (created)
        ferry_log(FERRY_LOG_INFO, "msg=\"scheduled run queued\" run=%lld sync=\"%s\"",
                  (long long)got.id, sync->name);
    ferry_run_done(&got);
}

/* A sync with tenants runs once for each of tenant.values, or for each tenant its
 * tenants.query names at this firing (the config requires one of them). */
static void fire(ferry_scheduler *s, ferry_store *st, const ferry_sync_spec *sync, int64_t due,
                 int64_t now)
{
    ferry_tenant_list l;
    ferry_err err;

    if (sync->tenant_variable == NULL) {
        fire_one(s, st, sync, NULL, due, now);
        return;
    }
    if (sync->tenants.query == NULL) {
        for (size_t i = 0; i < sync->ntenant_values; i++)
            fire_one(s, st, sync, sync->tenant_values[i], due, now);
        return;
    }
    ferry_err_clear(&err);
    if (ferry_tenants_read(s->cfg, sync, &l, &err) != FERRY_OK) {
        ferry_log(FERRY_LOG_ERROR,
                  "msg=\"reading the tenants failed: no scheduled run\" sync=\"%s\" "
                  "error=\"%s\"",
                  sync->name, err.msg);
        return;
    }
    for (size_t i = 0; i < l.nrefused; i++)
        ferry_log(FERRY_LOG_WARN,
                  "msg=\"tenants.query: a value is no tenant, left out\" "
                  "sync=\"%s\" value=\"%s\"",
                  sync->name, l.refused[i]);
    for (size_t i = 0; i < l.n; i++)
        fire_one(s, st, sync, l.values[i], due, now);
    ferry_tenant_list_done(&l);
}

/* 'every' schedules fire at whole multiples of their period (since the epoch, UTC), so every
 * node computes the same due times whenever it started. */
static int64_t slot_start(int64_t t, int64_t period)
{
    return t - t % period;
}

/* The due time after a run queued at t: the next multiple of the period, or the one after
 * when the next is less than half a period away (a run queued late in its period, such as
 * the first one at start, is not followed by another a moment later). */
static int64_t next_slot(int64_t t, int64_t period)
{
    int64_t due = slot_start(t, period) + period;

    return due - t < period / 2 ? due + period : due;
}

int ferry_scheduler_retries(void *cfg, const char *sync)
{
    const ferry_sync_spec *spec = ferry_config_sync_get(cfg, sync);

    return spec != NULL ? spec->retries : 0;
}

/* ferry_recovery.retries with the scheduler as its context. */
static int retries_of(void *ctx, const char *sync)
{
    ferry_scheduler *s = ctx;

    return ferry_scheduler_retries((void *)s->cfg, sync);
}

static void slots_free(slot *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

/* A reload installed cfg: next[] for its syncs, keeping the due time of a sync whose schedule
 * is unchanged. False (next[] as it was) when memory ran out. */
static bool slots_remake(ferry_scheduler *s, const ferry_config *cfg)
{
    slot *v = calloc(cfg->nsyncs + 1, sizeof(*v)), *old;
    size_t nold;

    if (v == NULL)
        return false;
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        const ferry_sync_spec *sync = &cfg->syncs[i];
        v[i].every_s = (long)sync->schedule_every_s;
        v[i].has_cron = sync->has_cron;
        v[i].cron = sync->cron;
        v[i].zone = sync->tz != NULL ? ferry_tz_name(sync->tz) : "UTC";
        if ((v[i].name = strdup(sync->name)) == NULL) {
            slots_free(v, i);
            return false;
        }
    }
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        for (size_t j = 0; j < s->nnext; j++) {
            const slot *o = &s->next[j];
            if (strcmp(o->name, v[i].name) == 0 && o->every_s == v[i].every_s &&
                o->has_cron == v[i].has_cron &&
                (!o->has_cron || (memcmp(&o->cron, &v[i].cron, sizeof(o->cron)) == 0 &&
                                  strcmp(o->zone, v[i].zone) == 0)))
                v[i].due = o->due;
        }
    }
    old = s->next;
    nold = s->nnext;
    s->next = v;
    s->nnext = cfg->nsyncs;
    pthread_mutex_unlock(&s->lock);
    slots_free(old, nold);
    return true;
}

/* A run whose process stopped was ended (interrupted or failed) and maybe queued again: both
 * announced as the store now holds them, and an idle worker woken for the new attempt. */
static void on_interrupted(void *ctx, const ferry_run *ended, const ferry_run *next)
{
    ferry_scheduler *s = ctx;

    ferry_metrics_run_finished(ended, false);
    ferry_queue_publish(&s->queue, "run.finished", ended, NULL);
    ferry_log(FERRY_LOG_WARN,
              "msg=\"run interrupted: its process stopped\" run=%lld sync=\"%s\" "
              "status=%s next_run=%lld",
              (long long)ended->id, ended->sync, ferry_run_status_name(ended->status),
              (long long)(next != NULL ? next->id : 0));
    if (next == NULL)
        return;
    ferry_queue_publish(&s->queue, "run.queued", next, NULL);
    ferry_workers_wake(s->queue.workers);
}

static void *scheduler_main(void *arg)
{
    ferry_scheduler *s = arg;
    const ferry_config *cfg = s->cfg; /* database: as at start */
    ferry_store *st = NULL;
    ferry_recovery rec = {retries_of, on_interrupted, NULL};
    ferry_err err;

    rec.ctx = s;
    ferry_err_clear(&err);
    if (ferry_store_open(cfg->database, cfg->dir, &st, &err) != FERRY_OK) {
        ferry_log(FERRY_LOG_ERROR, "msg=\"scheduler cannot open the store\" error=\"%s\"", err.msg);
        return NULL;
    }
    for (int tick = 0;; tick++) {
        int64_t now = ferry_time_now_ms();
        struct timespec until;
        int reclaimed = 0;

        if ((cfg = ferry_config_live_acquire(s->live)) != s->cfg && !slots_remake(s, cfg)) {
            ferry_config_live_release(s->live, cfg); /* tried again next tick */
            cfg = s->cfg;
        } else {
            ferry_config_live_release(s->live, s->cfg);
            s->cfg = cfg;
        }
        ferry_notify_attach(st, cfg); /* a run reclaimed as failed owes its deliveries */

        /* Every 10 s: runs whose lease was not renewed (a hung or vanished worker, on this
         * host or another) end as interrupted, and go again as a new attempt while the sync's
         * retries allow (on_interrupted announces both). */
        if (tick % 10 == 0 &&
            st->runs->run_reclaim_expired(st, cfg->lease_ms, &rec, &reclaimed, &err) == FERRY_OK &&
            reclaimed > 0)
            ferry_log(FERRY_LOG_WARN, "msg=\"ended runs whose lease expired\" runs=%d", reclaimed);
        /* Every 10 s too: held runs nobody decided within guard.hold_for are rejected. */
        if (tick % 10 == 5)
            (void)ferry_queue_expire_held(&s->queue, st, cfg->data_dir);

        for (size_t i = 0; i < cfg->nsyncs; i++) {
            const ferry_sync_spec *sync = &cfg->syncs[i];
            int64_t period = (int64_t)sync->schedule_every_s * 1000, due;
            if (period <= 0 && !sync->has_cron)
                continue;
            pthread_mutex_lock(&s->lock);
            due = s->next[i].due;
            pthread_mutex_unlock(&s->lock);
            if (due == 0) {
                int64_t last = last_scheduled(st, sync->name);
                if (sync->has_cron) /* a missed time since the last run is caught up now */
                    due = ferry_cron_next(&sync->cron, sync->tz, last > 0 ? last : now);
                else
                    due = last > 0 ? next_slot(last, period) : slot_start(now, period);
                if (due == 0)
                    due = INT64_MAX; /* a cron date that never comes */
            }
            if (now >= due) {
                fire(s, st, sync, due, now);
                /* One catch-up run, however many periods passed. */
                due = sync->has_cron ? ferry_cron_next(&sync->cron, sync->tz, now)
                                     : next_slot(now, period);
                if (due == 0)
                    due = INT64_MAX;
            }
            pthread_mutex_lock(&s->lock);
            s->next[i].due = due;
            pthread_mutex_unlock(&s->lock);
        }
        pthread_mutex_lock(&s->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (!s->stopping)
            pthread_cond_timedwait(&s->wake, &s->lock, &until);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
    }
    ferry_store_close(st);
    return NULL;
}

ferry_rc ferry_scheduler_start(ferry_config_live *live, ferry_hub *hub, ferry_workers *workers,
                               ferry_scheduler **ret_sched, ferry_err *err)
{
    ferry_scheduler *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the scheduler");
    s->live = live;
    s->cfg = ferry_config_live_acquire(live); /* released by the thread's first tick */
    if (!slots_remake(s, s->cfg)) {
        ferry_config_live_release(live, s->cfg);
        free(s);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the scheduler");
    }
    s->queue.hub = hub;
    s->queue.workers = workers;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->wake);
        slots_free(s->next, s->nnext);
        ferry_config_live_release(live, s->cfg);
        free(s);
        return ferry_err_set_errno(err, FERRY_EIO, "starting the scheduler");
    }
    *ret_sched = s;
    return FERRY_OK;
}

int64_t ferry_scheduler_next_ms(ferry_scheduler *s, const char *sync)
{
    int64_t due = 0;

    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nnext; i++) {
        if (strcmp(s->next[i].name, sync) == 0)
            due = s->next[i].due;
    }
    pthread_mutex_unlock(&s->lock);
    return due;
}

void ferry_scheduler_halt(ferry_scheduler *s)
{
    if (s->joined)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    s->joined = true;
    ferry_config_live_release(s->live, s->cfg);
    s->cfg = NULL;
}

void ferry_scheduler_stop(ferry_scheduler *s)
{
    if (s == NULL)
        return;
    ferry_scheduler_halt(s);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    slots_free(s->next, s->nnext);
    free(s);
}
