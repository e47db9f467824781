/* workers.c - the worker pool (see workers.h).
 *
 * Threads: one per worker. The pool's lock protects stopping and the wake-up count; each
 * slot's lock protects that slot's live run copy. No lock is held while a run executes, while
 * the store is used, or while events are published (the hub calls subscribers back).
 *
 * A run's progress reaches the API through the slot (a copy made under the slot's lock at
 * each progress report, at most every 250 ms) and the browsers through run.progress events;
 * the store only sees the run when it is claimed and when it ends, which keeps the database's
 * write lock free for the run's own transaction.
 *
 * Config: a worker acquires the live config when it has claimed a run and releases it when
 * the run has ended, so a run finishes on the config it started with, whatever a reload
 * installs meanwhile. */
#include "queue/workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/metrics.h"
#include "notify/notify.h"
#include "queue/queue.h"
#include "sync/run.h"
#include "util/backoff.h"
#include "util/log.h"
#include "util/timeutil.h"

/* After failed claims a worker waits 1, 2, 4, ... seconds, at most this long. */
#define CLAIM_WAIT_MAX_S 30

typedef struct {
    ferry_workers *pool;
    pthread_t thread;
    bool started;
    int index;
    pthread_mutex_t lock; /* protects active, run_id, run, live, cancelled_by,
                             record_failed_ms */
    bool active;
    int64_t run_id;
    ferry_run run;
    ferry_run_live live;
    char *cancelled_by;
    int64_t record_failed_ms; /* monotonic: when writing the run's end first failed, or 0 */
    const ferry_config *cfg;  /* the config of the run executing (the worker's thread only) */
    atomic_bool cancel;
    atomic_bool requeue; /* with cancel: the pool is stopping, the run goes back to the queue */
} worker;

struct ferry_workers {
    ferry_config_live *live;
    ferry_queue queue;    /* the hub its runs are published to (no bus: cancels are local) */
    pthread_mutex_t lock; /* protects stopping, halting and wakeups */
    pthread_cond_t wake;
    bool stopping; /* no more claims (ferry_workers_drain() or _stop()) */
    bool halting;  /* ferry_workers_halt(): runs are being stopped, writes are not retried */
    bool joined;   /* the threads have ended (the owner's thread only) */
    unsigned wakeups;
    worker *workers;
    int n;
    char node[300]; /* this process's node id: where its runs execute */
};

static void on_progress(void *ctx, const ferry_run_progress *p)
{
    worker *w = ctx;
    ferry_run copy;
    ferry_run_live live = {p->rows_per_s, p->eta_ms};

    if (p->run->status != FERRY_RUN_RUNNING)
        return; /* the end is published as run.finished */
    if (!ferry_run_copy(&copy, p->run))
        return;
    if (copy.node == NULL) /* the run executes here */
        copy.node = strdup(w->pool->node);
    pthread_mutex_lock(&w->lock);
    ferry_run_done(&w->run);
    if (!ferry_run_copy(&w->run, &copy))
        memset(&w->run, 0, sizeof(w->run));
    w->live = live;
    pthread_mutex_unlock(&w->lock);
    /* The log travels entry by entry as run.activity; the slot (GET /api/runs/{id}) has it. */
    free(copy.activity);
    copy.activity = NULL;
    ferry_queue_publish(&w->pool->queue, "run.progress", &copy, &live);
    ferry_run_done(&copy);
}

static void on_activity(void *ctx, const ferry_run *run, int64_t n, int64_t at_ms, const char *kind,
                        const char *text)
{
    worker *w = ctx;

    ferry_queue_publish_activity(&w->pool->queue, run, n, at_ms, kind, text);
}

/* Who cancelled the worker's run (ferry_workers_cancel), handed to the run to record with
 * its end. */
static char *who_cancelled(void *ctx)
{
    worker *w = ctx;
    char *user;

    pthread_mutex_lock(&w->lock);
    user = w->cancelled_by; /* moved */
    w->cancelled_by = NULL;
    pthread_mutex_unlock(&w->lock);
    return user;
}

/* Between tries to record a run's end (the database failed: a lost connection, a full
 * disk): waits 1 s, 2 s, 4 s, then 5 s between tries, woken early when the pool halts, and
 * gives up when it halts or when the lease has run out (the lease path then recovers the run
 * on this node or another). So a run's end is in the store within 5 s of the database taking
 * writes again. */
static bool record_retry(void *ctx, int tries)
{
    worker *w = ctx;
    ferry_workers *pool = w->pool;
    int wait_s = (int)(ferry_backoff_ms(1000, 5000, tries, NULL) / 1000);
    struct timespec until;
    bool go_on;

    pthread_mutex_lock(&w->lock);
    int64_t run_id = w->run_id;
    int64_t since = w->record_failed_ms;
    if (since == 0)
        w->record_failed_ms = since = ferry_time_mono_ms();
    pthread_mutex_unlock(&w->lock);
    if (tries == 1)
        ferry_log(FERRY_LOG_WARN,
                  "msg=\"recording the run's end failed; trying again until the database takes "
                  "it\" run=%lld",
                  (long long)run_id);
    pthread_mutex_lock(&pool->lock);
    if (!pool->halting) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_s;
        pthread_cond_timedwait(&pool->wake, &pool->lock, &until);
    }
    go_on = !pool->halting && ferry_time_mono_ms() - since < w->cfg->lease_ms;
    pthread_mutex_unlock(&pool->lock);
    return go_on;
}

/* Publishes run id as the store holds it, after a run handed back to the queue or whose end
 * this worker could not write (or was not its to write): run.queued when the store says it
 * is queued, run.finished when it ended, nothing while it is running (whoever holds it
 * announces it). Events say only what is stored. */
static void publish_stored(ferry_workers *pool, ferry_store *store, int64_t id)
{
    ferry_run run;
    ferry_err err;

    ferry_err_clear(&err);
    if (store->runs->run_load(store, id, &run, &err) != FERRY_OK) {
        ferry_log(FERRY_LOG_WARN,
                  "msg=\"the run's stored state is unknown; nothing announced\" run=%lld "
                  "error=\"%s\"",
                  (long long)id, err.msg);
        return;
    }
    if (run.status == FERRY_RUN_QUEUED) /* handed back to the queue */
        ferry_queue_publish(&pool->queue, "run.queued", &run, NULL);
    else if (run.status != FERRY_RUN_RUNNING)
        ferry_queue_publish(&pool->queue, "run.finished", &run, NULL);
    ferry_run_done(&run);
}

/* Records a claimed run whose sync is no longer in the config as failed. */
static bool fail_unknown_sync(ferry_store *store, ferry_run *run)
{
    char msg[512];
    ferry_err err;

    snprintf(msg, sizeof(msg), "the sync '%s' is no longer in the config", run->sync);
    run->status = FERRY_RUN_FAILED;
    run->finished_at_ms = ferry_time_now_ms();
    run->duration_ms = 0;
    free(run->error);
    run->error = strdup(msg);
    free(run->ui_message);
    run->ui_message = strdup(msg);
    free(run->error_code);
    run->error_code = strdup("config");
    free(run->phase);
    run->phase = strdup("done");
    ferry_err_clear(&err);
    if (store->runs->run_finish(store, run, &err) != FERRY_OK) {
        ferry_log(FERRY_LOG_ERROR, "msg=\"recording a run failed\" run=%lld error=\"%s\"",
                  (long long)run->id, err.msg);
        return false;
    }
    return true;
}

/* The worker's run has ended: its slot is free again. */
static void worker_idle(worker *w)
{
    pthread_mutex_lock(&w->lock);
    w->active = false;
    w->run_id = 0;
    ferry_run_done(&w->run);
    free(w->cancelled_by);
    w->cancelled_by = NULL;
    pthread_mutex_unlock(&w->lock);
}

/* Executes claimed on w->cfg, the config acquired for it. */
static void execute(worker *w, ferry_store *store, ferry_run *claimed)
{
    ferry_workers *pool = w->pool;
    const ferry_sync_spec *sync = ferry_config_sync_get(w->cfg, claimed->sync);
    ferry_run_options opt;
    ferry_run result;
    ferry_err err;

    if (sync == NULL) {
        if (fail_unknown_sync(store, claimed)) {
            ferry_metrics_run_finished(claimed, true);
            ferry_queue_publish(&pool->queue, "run.finished", claimed, NULL);
        } else
            publish_stored(pool, store, claimed->id);
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->active = true;
    w->run_id = claimed->id;
    ferry_run_done(&w->run);
    if (!ferry_run_copy(&w->run, claimed))
        memset(&w->run, 0, sizeof(w->run));
    w->live = (ferry_run_live){0, -1};
    w->record_failed_ms = 0;
    atomic_store(&w->cancel, false);
    atomic_store(&w->requeue, false);
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_lock(&pool->lock);
    if (pool->stopping) { /* claimed while the server was stopping: back to the queue */
        atomic_store(&w->requeue, true);
        atomic_store(&w->cancel, true);
    }
    pthread_mutex_unlock(&pool->lock);
    ferry_queue_publish(&pool->queue, "run.started", claimed, NULL);
    ferry_log(FERRY_LOG_INFO, "msg=\"run started\" run=%lld sync=\"%s\" worker=%d",
              (long long)claimed->id, claimed->sync, w->index);

    memset(&opt, 0, sizeof(opt));
    opt.config = w->cfg;
    opt.sync = sync;
    opt.store = store;
    opt.run = claimed;
    opt.renew_lease = ferry_queue_lease_renew;
    opt.cancel = &w->cancel;
    opt.requeue = &w->requeue;
    opt.record_retry = record_retry;
    opt.record_retry_ctx = w;
    opt.who_cancelled = who_cancelled;
    opt.who_cancelled_ctx = w;
    opt.on_progress = on_progress;
    opt.progress_ctx = w;
    opt.progress_interval_ms = 250;
    opt.on_activity = on_activity;
    opt.activity_ctx = w;
    ferry_err_clear(&err);
    if (ferry_sync_run(&opt, &result, &err) != FERRY_OK) {
        /* Its end is not recorded here: the store holds the truth (ended by a COMMIT whose
         * answer was lost, taken over by another node, or still running until the lease
         * path recovers it). */
        ferry_log(FERRY_LOG_ERROR,
                  "msg=\"run's end not recorded by this process\" run=%lld "
                  "sync=\"%s\" error=\"%s\"",
                  (long long)claimed->id, claimed->sync, err.msg);
        worker_idle(w);
        publish_stored(pool, store, claimed->id);
        return;
    }
    if (result.status == FERRY_RUN_QUEUED)
        ferry_log(FERRY_LOG_INFO, "msg=\"run rolled back and queued again\" run=%lld sync=\"%s\"",
                  (long long)result.id, claimed->sync);
    else
        ferry_log(FERRY_LOG_INFO,
                  "msg=\"run finished\" run=%lld sync=\"%s\" status=%s duration_ms=%lld",
                  (long long)result.id, claimed->sync, ferry_run_status_name(result.status),
                  (long long)result.duration_ms);
    worker_idle(w);
    if (result.status == FERRY_RUN_QUEUED) {
        /* Handed back to the queue by a stopping server: announced as the store holds it. */
        publish_stored(pool, store, result.id);
    } else {
        ferry_metrics_run_finished(&result, true);
        ferry_queue_publish(&pool->queue, "run.finished", &result, NULL);
    }
    ferry_run_done(&result);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    ferry_workers *pool = w->pool;
    ferry_store *store = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    const ferry_config *cfg = ferry_config_live_acquire(pool->live); /* database: as at start */
    ferry_rc opened = ferry_store_open(cfg->database, cfg->dir, &store, &err);
    ferry_config_live_release(pool->live, cfg);
    if (opened != FERRY_OK) {
        ferry_log(FERRY_LOG_ERROR, "msg=\"worker cannot open the store\" worker=%d error=\"%s\"",
                  w->index, err.msg);
        return NULL;
    }
    int failures = 0; /* claims failed in a row */
    for (;;) {
        ferry_run claimed;
        ferry_rc rc;
        int wait_s = 1;

        pthread_mutex_lock(&pool->lock);
        bool stopping = pool->stopping;
        pthread_mutex_unlock(&pool->lock);
        if (stopping)
            break;
        ferry_err_clear(&err);
        rc = ferry_queue_run_claim(store, &claimed, &err);
        if (rc == FERRY_OK) {
            failures = 0;
            w->cfg = ferry_config_live_acquire(pool->live); /* pinned until the run ends */
            ferry_notify_attach(store, w->cfg); /* a run's end enqueues its deliveries */
            /* every line the run's work writes on this thread names the run */
            ferry_log_context_set_run(claimed.id, claimed.sync, claimed.tenant);
            execute(w, store, &claimed);
            ferry_log_context_clear();
            ferry_store_planner_set(store, NULL);
            ferry_config_live_release(pool->live, w->cfg);
            w->cfg = NULL;
            ferry_run_done(&claimed);
            continue;
        }
        if (rc != FERRY_DONE) {
            /* A database that refuses writes refuses every claim: the wait doubles up to
             * CLAIM_WAIT_MAX_S and the failure is logged when it starts and then at each
             * longest wait, not once a second per worker. */
            failures++;
            wait_s = (int)ferry_backoff_ms(1, CLAIM_WAIT_MAX_S, failures, NULL);
            if (failures == 1 || wait_s == CLAIM_WAIT_MAX_S)
                ferry_log(FERRY_LOG_ERROR,
                          "msg=\"claiming a run failed\" worker=%d failures=%d error=\"%s\"",
                          w->index, failures, err.msg);
        } else {
            failures = 0;
        }
        /* Nothing queued: sleep until woken, or a second (runs queued elsewhere). */
        pthread_mutex_lock(&pool->lock);
        if (!pool->stopping && pool->wakeups == 0) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += wait_s;
            pthread_cond_timedwait(&pool->wake, &pool->lock, &until);
        }
        if (pool->wakeups > 0)
            pool->wakeups--;
        pthread_mutex_unlock(&pool->lock);
    }
    ferry_store_close(store);
    return NULL;
}

ferry_rc ferry_workers_start(ferry_config_live *live, ferry_hub *hub, ferry_workers **ret_workers,
                             ferry_err *err)
{
    ferry_workers *pool = calloc(1, sizeof(*pool));
    const ferry_config *cfg = ferry_config_live_acquire(live);
    int n = cfg->workers > 0 ? cfg->workers : 1; /* workers: as at start */

    ferry_config_live_release(live, cfg);

    if (pool == NULL || (pool->workers = calloc((size_t)n, sizeof(worker))) == NULL) {
        free(pool);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the workers");
    }
    pool->live = live;
    ferry_node_self(pool->node, sizeof(pool->node));
    pool->queue.hub = hub;
    pool->queue.workers = pool;
    pool->n = n;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    for (int i = 0; i < n; i++) {
        worker *w = &pool->workers[i];
        w->pool = pool;
        w->index = i;
        pthread_mutex_init(&w->lock, NULL);
        atomic_init(&w->cancel, false);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            ferry_workers_stop(pool);
            return ferry_err_set_errno(err, FERRY_EIO, "starting worker %d", i);
        }
        w->started = true;
    }
    *ret_workers = pool;
    return FERRY_OK;
}

void ferry_workers_wake(ferry_workers *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->wakeups++;
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
}

bool ferry_workers_cancel(ferry_workers *pool, int64_t run_id, const char *user)
{
    for (int i = 0; i < pool->n; i++) {
        worker *w = &pool->workers[i];
        bool found;
        pthread_mutex_lock(&w->lock);
        found = w->active && w->run_id == run_id;
        if (found) {
            atomic_store(&w->cancel, true);
            free(w->cancelled_by);
            w->cancelled_by = user != NULL ? strdup(user) : NULL;
        }
        pthread_mutex_unlock(&w->lock);
        if (found)
            return true;
    }
    return false;
}

bool ferry_workers_snapshot(ferry_workers *pool, int64_t run_id, ferry_run *ret_run,
                            ferry_run_live *ret_live)
{
    for (int i = 0; i < pool->n; i++) {
        worker *w = &pool->workers[i];
        bool found;
        pthread_mutex_lock(&w->lock);
        found = w->active && w->run_id == run_id && w->run.sync != NULL &&
                ferry_run_copy(ret_run, &w->run);
        if (found && ret_live != NULL)
            *ret_live = w->live;
        pthread_mutex_unlock(&w->lock);
        if (found)
            return true;
    }
    return false;
}

size_t ferry_workers_active(ferry_workers *pool, int64_t *ids, size_t max)
{
    size_t n = 0;

    for (int i = 0; i < pool->n && n < max; i++) {
        pthread_mutex_lock(&pool->workers[i].lock);
        if (pool->workers[i].active && pool->workers[i].run_id > 0)
            ids[n++] = pool->workers[i].run_id;
        pthread_mutex_unlock(&pool->workers[i].lock);
    }
    return n;
}

int ferry_workers_busy(ferry_workers *pool)
{
    int busy = 0;

    for (int i = 0; i < pool->n; i++) {
        pthread_mutex_lock(&pool->workers[i].lock);
        busy += pool->workers[i].active;
        pthread_mutex_unlock(&pool->workers[i].lock);
    }
    return busy;
}

void ferry_workers_drain(ferry_workers *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
}

void ferry_workers_halt(ferry_workers *pool)
{
    if (pool->joined)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pool->halting = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    /* A run a user cancelled stays cancelled; every other one goes back to the queue. */
    for (int i = 0; i < pool->n; i++) {
        worker *w = &pool->workers[i];
        pthread_mutex_lock(&w->lock);
        if (!atomic_load(&w->cancel))
            atomic_store(&w->requeue, true);
        atomic_store(&w->cancel, true);
        pthread_mutex_unlock(&w->lock);
    }
    for (int i = 0; i < pool->n; i++) {
        if (pool->workers[i].started)
            pthread_join(pool->workers[i].thread, NULL);
    }
    pool->joined = true;
}

void ferry_workers_stop(ferry_workers *pool)
{
    if (pool == NULL)
        return;
    ferry_workers_halt(pool);
    for (int i = 0; i < pool->n; i++) {
        worker *w = &pool->workers[i];
        ferry_run_done(&w->run);
        free(w->cancelled_by);
        pthread_mutex_destroy(&w->lock);
    }
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    free(pool->workers);
    free(pool);
}
