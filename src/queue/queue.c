/* queue.c - a run's life outside the pipeline (see queue.h).
 *
 * Design: the store's writes (enqueue, claim, cancel, lease) commit on their own; events are
 * published after them, so no JSON is encoded and no subscriber woken while the database's
 * write lock is held.
 *
 * The announcement fence keeps run.queued ahead of run.started within this process: a request
 * takes a ticket (naming its sync) before it asks the store, notes its run's id once the store
 * has answered, and drops the ticket once run.queued is published. A claim that returns run X
 * of sync S waits while a ticket taken before it holds X, and while one of S taken before it
 * has no id yet (it may be X's, between its commit and its answer). No clock is involved: a
 * request of S still in the store ends when the database answers it (with X, or with the run
 * of S already there), so the wait is bounded by the store's own limits. Tickets live on the
 * requesters' stacks; announce_lock protects the list and next_ticket and is never held
 * across the store or the hub. */
#include "queue/queue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/metrics.h"
#include "queue/workers.h"
#include "sync/hold.h"
#include "util/log.h"
#include "util/timeutil.h"

typedef struct ticket {
    uint64_t n;
    const char *sync; /* the requested sync's name (borrowed from the request) */
    int64_t run_id;   /* 0 while the request is in the store */
    struct ticket *next;
} ticket;

static pthread_mutex_t announce_lock = PTHREAD_MUTEX_INITIALIZER; /* protects announcing and
                                                                     next_ticket */
static pthread_cond_t announced = PTHREAD_COND_INITIALIZER;
static ticket *announcing;
static uint64_t next_ticket = 1;

static void ticket_take(ticket *t, const char *sync)
{
    pthread_mutex_lock(&announce_lock);
    t->n = next_ticket++;
    t->sync = sync;
    t->run_id = 0;
    t->next = announcing;
    announcing = t;
    pthread_mutex_unlock(&announce_lock);
}

static void ticket_set_run(ticket *t, int64_t run_id)
{
    pthread_mutex_lock(&announce_lock);
    t->run_id = run_id;
    pthread_cond_broadcast(&announced);
    pthread_mutex_unlock(&announce_lock);
}

static void ticket_drop(ticket *t)
{
    pthread_mutex_lock(&announce_lock);
    for (ticket **p = &announcing; *p != NULL; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    pthread_cond_broadcast(&announced);
    pthread_mutex_unlock(&announce_lock);
}

/* Waits until run_id's run.queued (a run of sync), if a request of this process is
 * announcing it, is out. */
static void await_announcement(int64_t run_id, const char *sync)
{
    uint64_t before;

    pthread_mutex_lock(&announce_lock);
    before = next_ticket;
    for (;;) {
        bool wait = false;
        for (ticket *t = announcing; t != NULL && !wait; t = t->next) {
            if (t->n >= before)
                continue; /* taken after the claim: not this run's */
            wait = t->run_id == run_id || (t->run_id == 0 && strcmp(t->sync, sync) == 0);
        }
        if (!wait)
            break;
        pthread_cond_wait(&announced, &announce_lock);
    }
    pthread_mutex_unlock(&announce_lock);
}

void ferry_queue_publish(const ferry_queue *q, const char *type, const ferry_run *run,
                         const ferry_run_live *live)
{
    char *json;

    if (q == NULL || q->hub == NULL)
        return;
    json = ferry_run_json_dumps(run, live);
    if (json == NULL)
        return;
    ferry_hub_publish(q->hub, type, run->sync, json);
    free(json);
}

void ferry_queue_publish_activity(const ferry_queue *q, const ferry_run *run, int64_t n,
                                  int64_t at_ms, const char *kind, const char *text)
{
    char *json;

    if (q == NULL || q->hub == NULL)
        return;
    json = ferry_run_activity_json_dumps(run, n, at_ms, kind, text);
    if (json == NULL)
        return;
    ferry_hub_publish(q->hub, "run.activity", run->sync, json);
    free(json);
}

/* How long until a new run of sync may start, when its cooldown has not passed since the last
 * run finished; 0 when it may start now (or one is active: the request answers with it). */
static int64_t cooldown_left(ferry_store *st, const ferry_sync_spec *sync, const char *tenant)
{
    ferry_run_filter filter = {.sync = sync->name, .tenant = tenant, .limit = 1};
    ferry_run *runs = NULL;
    int64_t left = 0;
    size_t n = 0;
    ferry_err err;

    ferry_err_clear(&err);
    if (st->runs->run_list(st, &filter, &runs, &n, &err) == FERRY_OK && n == 1 &&
        runs[0].status != FERRY_RUN_QUEUED && runs[0].status != FERRY_RUN_RUNNING &&
        runs[0].finished_at_ms > 0)
        left = runs[0].finished_at_ms + sync->cooldown_ms - ferry_time_now_ms();
    ferry_runs_free(runs, n);
    return left > 0 ? left : 0;
}

/* The run req asks for, as the store takes it (strings borrowed from req). */
static ferry_run wanted(const ferry_queue_request *req)
{
    ferry_run want;

    memset(&want, 0, sizeof(want));
    want.sync = (char *)req->sync->name;
    want.tenant = (char *)req->tenant;
    want.trigger = (char *)req->trigger;
    want.user = (char *)req->user;
    want.token = (char *)req->token;
    want.dry_run = req->dry_run;
    want.allow_missing = req->allow_missing;
    want.full = req->full;
    want.preview = req->preview;
    want.queued_at_ms = req->queued_at_ms > 0 ? req->queued_at_ms : ferry_time_now_ms();
    return want;
}

ferry_rc ferry_queue_run_request(const ferry_queue *q, ferry_store *st,
                                 const ferry_queue_request *req, ferry_run *ret_run,
                                 bool *ret_created, int64_t *ret_wait_ms, ferry_err *err)
{
    ferry_run want, got;
    bool created = false;
    ticket t;
    ferry_rc rc;

    if (ret_wait_ms != NULL && req->sync->cooldown_ms > 0) {
        int64_t wait_ms = cooldown_left(st, req->sync, req->tenant);
        if (wait_ms > 0) {
            *ret_wait_ms = wait_ms;
            return ferry_err_set(err, FERRY_ELIMIT,
                                 "%s was synced moments ago; try again in %lld s", req->sync->title,
                                 (long long)((wait_ms + 999) / 1000));
        }
    }
    want = wanted(req);
    ticket_take(&t, req->sync->name);
    rc = st->runs->run_enqueue(st, &want, &got, &created, err);
    if (rc == FERRY_OK && created) {
        ferry_run shown = got; /* a shallow copy: only ui_message differs */
        ticket_set_run(&t, got.id);
        if (req->queued_message != NULL)
            shown.ui_message = (char *)req->queued_message;
        ferry_queue_publish(q, "run.queued", &shown, NULL);
    }
    ticket_drop(&t);
    if (rc != FERRY_OK)
        return rc;
    if (created && q != NULL && q->workers != NULL)
        ferry_workers_wake(q->workers);
    *ret_run = got;
    *ret_created = created;
    return FERRY_OK;
}

ferry_rc ferry_queue_run_start(ferry_store *st, const ferry_queue_request *req, ferry_run *ret_run,
                               ferry_err *err)
{
    ferry_run want = wanted(req), run;
    ferry_rc rc;

    want.status = FERRY_RUN_RUNNING;
    want.phase = (char *)"queued";
    want.total = -1;
    want.attempt = 1;
    want.started_at_ms = want.queued_at_ms;
    if ((rc = st->runs->run_start(st, &want, &want.id, err)) != FERRY_OK)
        return rc;
    if (!ferry_run_copy(&run, &want))
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the run");
    *ret_run = run;
    return FERRY_OK;
}

ferry_rc ferry_queue_run_claim(ferry_store *st, ferry_run *ret_run, ferry_err *err)
{
    ferry_rc rc = st->runs->run_claim(st, ret_run, err);

    if (rc == FERRY_OK)
        await_announcement(ret_run->id, ret_run->sync);
    return rc;
}

ferry_rc ferry_queue_lease_renew(void *ctx, ferry_store *st, int64_t run_id, ferry_err *err)
{
    (void)ctx;
    return st->runs->run_heartbeat(st, run_id, err);
}

bool ferry_queue_run_cancel_here(const ferry_queue *q, int64_t run_id, const char *user)
{
    return q != NULL && q->workers != NULL && ferry_workers_cancel(q->workers, run_id, user);
}

ferry_rc ferry_queue_run_cancel(const ferry_queue *q, ferry_store *st, int64_t run_id,
                                const char *user, ferry_queue_cancel_result *ret_result,
                                ferry_run *ret_run, ferry_err *err)
{
    ferry_run run;
    ferry_rc rc;

    if (st->runs->run_cancel_queued(st, run_id, user, err) == FERRY_OK) {
        if ((rc = st->runs->run_load(st, run_id, &run, err)) != FERRY_OK)
            return rc;
        ferry_metrics_run_finished(&run, false);
        ferry_queue_publish(q, "run.finished", &run, NULL);
        *ret_run = run;
        *ret_result = FERRY_QUEUE_CANCELLED;
        return FERRY_OK;
    }
    ferry_err_clear(err);
    /* Running on another node (or another process on this database): ask it through the
     * store, which the executing node checks every few seconds, and through the bus at once. */
    if (st->cluster->run_request_cancel(st, run_id, user, err) == FERRY_OK) {
        if (q != NULL && q->bus != NULL)
            ferry_bus_send_cancel(q->bus, run_id, user);
        *ret_result = FERRY_QUEUE_CANCELLING;
        return FERRY_OK;
    }
    ferry_err_clear(err);
    if ((rc = st->runs->run_load(st, run_id, &run, err)) != FERRY_OK)
        return rc;
    ferry_run_done(&run);
    *ret_result = FERRY_QUEUE_NOT_ACTIVE;
    return FERRY_OK;
}

void ferry_queue_node_tick(const ferry_queue *q, ferry_store *st, const char *address, int nworkers,
                           int tick)
{
    int64_t ids[256];
    size_t n;
    ferry_err err;

    ferry_err_clear(&err);
    if (tick % 25 == 0 && st->cluster->node_beat(st, address, nworkers, &err) != FERRY_OK)
        ferry_log(FERRY_LOG_WARN, "msg=\"recording the node's heartbeat failed\" error=\"%s\"",
                  err.msg);
    if (tick % 10 != 0 || q == NULL || q->workers == NULL)
        return;
    n = ferry_workers_active(q->workers, ids, sizeof(ids) / sizeof(ids[0]));
    for (size_t i = 0; i < n; i++) {
        bool requested = false;
        char *user = NULL;
        ferry_err_clear(&err);
        if (st->cluster->run_cancel_requested(st, ids[i], &requested, &user, &err) == FERRY_OK &&
            requested)
            ferry_workers_cancel(q->workers, ids[i], user);
        free(user);
    }
}

/* ---- held runs (docs/review.md) ---- */

/* The audit entry of a decision on run run_id. */
static void audit_decision(ferry_store *st, const char *action, const char *who, int64_t run_id,
                           const char *comment)
{
    ferry_audit_entry e = {.action = (char *)action, .actor = (char *)who};
    char target[64];
    ferry_err err;

    snprintf(target, sizeof(target), "run %lld", (long long)run_id);
    e.target = target;
    e.detail = (char *)comment;
    ferry_err_clear(&err);
    if (st->people->audit_add(st, &e, &err) != FERRY_OK)
        ferry_log(FERRY_LOG_WARN,
                  "msg=\"writing the audit entry failed\" event=%s run=%lld error=\"%s\"", action,
                  (long long)run_id, err.msg);
}

ferry_rc ferry_queue_run_approve(const ferry_queue *q, ferry_store *st,
                                 const ferry_queue_decision *d, int64_t run_id, ferry_run *ret_run,
                                 ferry_err *err)
{
    ferry_run run;
    ticket t;
    ferry_rc rc;

    if ((rc = st->runs->run_load(st, run_id, &run, err)) != FERRY_OK)
        return rc;
    if (run.status == FERRY_RUN_HELD && run.held_admin && !d->admin)
        rc = ferry_err_set(err, FERRY_EFORBIDDEN,
                           "run %lld changes a protected field (%s): only an admin may approve it",
                           (long long)run_id, run.held_reason != NULL ? run.held_reason : "");
    else if (run.status == FERRY_RUN_HELD && !ferry_hold_snapshot_exists(d->data_dir, run_id))
        rc = ferry_err_set(err, FERRY_ENOTFOUND,
                           "what run %lld read is no longer kept in %s/held (removed, or kept by "
                           "another Ferry's data_dir), so it cannot be applied as reviewed; reject "
                           "it and run the sync again",
                           (long long)run_id, d->data_dir);
    ticket_take(&t, run.sync);
    ferry_run_done(&run);
    if (rc == FERRY_OK)
        rc = st->runs->run_decide(st, run_id, d->now ? FERRY_RUN_RUNNING : FERRY_RUN_QUEUED, false,
                                  d->who, d->comment, ret_run, err);
    if (rc == FERRY_OK && !d->now) {
        ticket_set_run(&t, run_id);
        ferry_queue_publish(q, "run.queued", ret_run, NULL);
    }
    ticket_drop(&t);
    if (rc != FERRY_OK)
        return rc;
    audit_decision(st, "run.approve", d->who, run_id, d->comment);
    if (!d->now && q != NULL && q->workers != NULL)
        ferry_workers_wake(q->workers);
    return FERRY_OK;
}

ferry_rc ferry_queue_run_reject(const ferry_queue *q, ferry_store *st,
                                const ferry_queue_decision *d, int64_t run_id, bool expired,
                                ferry_run *ret_run, ferry_err *err)
{
    ferry_rc rc = st->runs->run_decide(st, run_id, FERRY_RUN_REJECTED, expired,
                                       expired ? "ferry" : d->who, d->comment, ret_run, err);

    if (rc != FERRY_OK)
        return rc;
    ferry_hold_snapshot_remove(d->data_dir, run_id);
    audit_decision(st, expired ? "run.expire" : "run.reject", expired ? "ferry" : d->who, run_id,
                   d->comment);
    ferry_metrics_run_finished(ret_run, false);
    ferry_queue_publish(q, "run.finished", ret_run, NULL);
    return FERRY_OK;
}

int ferry_queue_expire_held(const ferry_queue *q, ferry_store *st, const char *data_dir)
{
    ferry_run_filter f = {.status = "held", .limit = 100};
    ferry_queue_decision d = {.data_dir = data_dir,
                              .comment = "not decided within the sync's guard.hold_for"};
    ferry_run *runs = NULL;
    size_t n = 0;
    int64_t now = ferry_time_now_ms();
    int expired = 0;
    ferry_err err;

    ferry_err_clear(&err);
    if (st->runs->run_list(st, &f, &runs, &n, &err) != FERRY_OK) {
        ferry_log(FERRY_LOG_WARN, "msg=\"listing held runs failed\" error=\"%s\"", err.msg);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        ferry_run got;
        if (runs[i].held_until_ms <= 0 || runs[i].held_until_ms > now)
            continue;
        ferry_err_clear(&err);
        if (ferry_queue_run_reject(q, st, &d, runs[i].id, true, &got, &err) == FERRY_OK) {
            ferry_log(FERRY_LOG_INFO, "msg=\"held run expired, rejected\" run=%lld sync=%s",
                      (long long)got.id, got.sync);
            ferry_run_done(&got);
            expired++;
        }
    }
    ferry_runs_free(runs, n);
    return expired;
}
