/* hub.c - run events with a replay ring (see hub.h).
 *
 * A run announced ended stays ended: the hub remembers the ids of the last ENDED_MAX runs it
 * published run.finished for, and drops a relayed run.started or run.progress of one of them.
 * Such an event is stale: another node queued it before it was paused or cut off, and sent it
 * once it woke, after the run's end (recorded by the node that took it over) was announced.
 *
 * The ring holds the last replay_max events; event i lives in slot i % replay_max. The
 * subscriber list is an array; notifying takes a snapshot of it under the lock and calls the
 * callbacks after releasing it. Unsubscribe waits until no notify pass is running
 * (notifying counts the passes in flight), so a subscriber's memory may be freed right after
 * ferry_hub_unsubscribe() returns. */
#include "events/hub.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ENDED_MAX 256

typedef struct {
    uint64_t id;
    char *type;
    char *sync;
    char *data;
} event;

struct ferry_hub_sub {
    ferry_hub_notify_cb notify;
    void *ctx;
};

struct ferry_hub {
    pthread_mutex_t lock; /* protects everything below */
    pthread_cond_t idle;  /* signalled when notifying drops to 0 */
    event *ring;
    size_t replay_max;
    uint64_t last_id;
    ferry_hub_sub **subs;
    size_t nsubs, capsubs;
    int notifying; /* notify passes in flight */
    ferry_hub_forward_cb forward;
    void *forward_ctx;
    int64_t ended[ENDED_MAX]; /* ids of runs announced finished, newest at ended_next - 1 */
    size_t ended_next;
};

ferry_rc ferry_hub_new(size_t replay_max, ferry_hub **ret_hub, ferry_err *err)
{
    ferry_hub *hub = calloc(1, sizeof(*hub));

    if (hub == NULL || replay_max == 0 ||
        (hub->ring = calloc(replay_max, sizeof(*hub->ring))) == NULL) {
        free(hub);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the event hub");
    }
    hub->replay_max = replay_max;
    pthread_mutex_init(&hub->lock, NULL);
    pthread_cond_init(&hub->idle, NULL);
    *ret_hub = hub;
    return FERRY_OK;
}

static void event_clear(event *e)
{
    free(e->type);
    free(e->sync);
    free(e->data);
    memset(e, 0, sizeof(*e));
}

void ferry_hub_free(ferry_hub *hub)
{
    if (hub == NULL)
        return;
    for (size_t i = 0; i < hub->replay_max; i++)
        event_clear(&hub->ring[i]);
    free(hub->ring);
    free(hub->subs);
    pthread_mutex_destroy(&hub->lock);
    pthread_cond_destroy(&hub->idle);
    free(hub);
}

/* Calls every subscriber's notify outside the lock. */
static void notify_subscribers(ferry_hub *hub)
{
    ferry_hub_sub **snapshot = NULL;
    size_t n;

    pthread_mutex_lock(&hub->lock);
    n = hub->nsubs;
    if (n > 0 && (snapshot = malloc(n * sizeof(*snapshot))) != NULL)
        memcpy(snapshot, hub->subs, n * sizeof(*snapshot));
    hub->notifying++;
    pthread_mutex_unlock(&hub->lock);
    for (size_t i = 0; snapshot != NULL && i < n; i++)
        snapshot[i]->notify(snapshot[i]->ctx);
    free(snapshot);
    pthread_mutex_lock(&hub->lock);
    if (--hub->notifying == 0)
        pthread_cond_broadcast(&hub->idle);
    pthread_mutex_unlock(&hub->lock);
}

/* The run id of a run event's data ({"id": N, ...}), or 0. */
static int64_t run_id_of(const char *type, const char *data)
{
    json_t *o;
    int64_t id;

    if (strncmp(type, "run.", 4) != 0)
        return 0;
    o = json_loads(data, 0, NULL);
    id = (int64_t)json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    return id;
}

static bool has_ended(const ferry_hub *hub, int64_t run)
{
    for (size_t i = 0; i < ENDED_MAX; i++)
        if (hub->ended[i] == run)
            return true;
    return false;
}

static uint64_t publish(ferry_hub *hub, const char *type, const char *sync, const char *data,
                        bool relayed)
{
    ferry_hub_forward_cb forward = NULL;
    void *forward_ctx = NULL;
    event e = {0};
    uint64_t id;
    bool finished = strcmp(type, "run.finished") == 0;
    bool stale_if_ended =
        relayed && (strcmp(type, "run.started") == 0 || strcmp(type, "run.progress") == 0 ||
                    strcmp(type, "run.activity") == 0);
    int64_t run = finished || stale_if_ended ? run_id_of(type, data) : 0;

    e.type = strdup(type);
    e.sync = strdup(sync != NULL ? sync : "");
    e.data = strdup(data);
    if (e.type == NULL || e.sync == NULL || e.data == NULL) {
        event_clear(&e);
        return 0;
    }
    pthread_mutex_lock(&hub->lock);
    if (stale_if_ended && run > 0 && has_ended(hub, run)) {
        pthread_mutex_unlock(&hub->lock);
        event_clear(&e);
        return 0;
    }
    if (finished && run > 0 && !has_ended(hub, run))
        hub->ended[hub->ended_next++ % ENDED_MAX] = run;
    id = e.id = ++hub->last_id;
    event_clear(&hub->ring[id % hub->replay_max]);
    hub->ring[id % hub->replay_max] = e;
    if (!relayed) {
        forward = hub->forward;
        forward_ctx = hub->forward_ctx;
    }
    pthread_mutex_unlock(&hub->lock);
    notify_subscribers(hub);
    if (forward != NULL)
        forward(forward_ctx, type, sync, data);
    return id;
}

uint64_t ferry_hub_publish(ferry_hub *hub, const char *type, const char *sync, const char *data)
{
    return publish(hub, type, sync, data, false);
}

uint64_t ferry_hub_publish_relayed(ferry_hub *hub, const char *type, const char *sync,
                                   const char *data)
{
    return publish(hub, type, sync, data, true);
}

void ferry_hub_set_forward(ferry_hub *hub, ferry_hub_forward_cb forward, void *ctx)
{
    pthread_mutex_lock(&hub->lock);
    hub->forward = forward;
    hub->forward_ctx = ctx;
    pthread_mutex_unlock(&hub->lock);
}

ferry_rc ferry_hub_subscribe(ferry_hub *hub, ferry_hub_notify_cb notify, void *ctx,
                             ferry_hub_sub **ret_sub, ferry_err *err)
{
    ferry_hub_sub *sub = calloc(1, sizeof(*sub));

    if (sub == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating a subscription");
    sub->notify = notify;
    sub->ctx = ctx;
    pthread_mutex_lock(&hub->lock);
    if (hub->nsubs == hub->capsubs) {
        size_t cap = hub->capsubs ? hub->capsubs * 2 : 64;
        ferry_hub_sub **grown = realloc(hub->subs, cap * sizeof(*grown));
        if (grown == NULL) {
            pthread_mutex_unlock(&hub->lock);
            free(sub);
            return ferry_err_set(err, FERRY_ENOMEM, "allocating a subscription");
        }
        hub->subs = grown;
        hub->capsubs = cap;
    }
    hub->subs[hub->nsubs++] = sub;
    pthread_mutex_unlock(&hub->lock);
    *ret_sub = sub;
    return FERRY_OK;
}

void ferry_hub_unsubscribe(ferry_hub *hub, ferry_hub_sub *sub)
{
    if (sub == NULL)
        return;
    pthread_mutex_lock(&hub->lock);
    for (size_t i = 0; i < hub->nsubs; i++) {
        if (hub->subs[i] == sub) {
            hub->subs[i] = hub->subs[--hub->nsubs];
            break;
        }
    }
    /* A notify pass may hold a snapshot naming sub: wait for it to end. */
    while (hub->notifying > 0)
        pthread_cond_wait(&hub->idle, &hub->lock);
    pthread_mutex_unlock(&hub->lock);
    free(sub);
}

size_t ferry_hub_read(ferry_hub *hub, uint64_t after_id, const char *sync, size_t max_events,
                      ferry_buf *out, uint64_t *ret_last_id)
{
    uint64_t id, oldest;
    size_t written = 0;

    pthread_mutex_lock(&hub->lock);
    oldest = hub->last_id >= hub->replay_max ? hub->last_id - hub->replay_max + 1 : 1;
    id = after_id + 1 > oldest ? after_id + 1 : oldest;
    for (; id <= hub->last_id && written < max_events; id++) {
        const event *e = &hub->ring[id % hub->replay_max];
        if (sync != NULL && strcmp(sync, e->sync) != 0)
            continue;
        if (ferry_buf_printf(out, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)e->id,
                             e->type, e->data) != FERRY_OK)
            break;
        written++;
    }
    *ret_last_id = id - 1 > after_id ? id - 1 : after_id;
    pthread_mutex_unlock(&hub->lock);
    return written;
}

uint64_t ferry_hub_last_id(ferry_hub *hub)
{
    uint64_t id;

    pthread_mutex_lock(&hub->lock);
    id = hub->last_id;
    pthread_mutex_unlock(&hub->lock);
    return id;
}

void ferry_hub_notify_all(ferry_hub *hub)
{
    notify_subscribers(hub);
}

size_t ferry_hub_subscribers(ferry_hub *hub)
{
    size_t n;

    pthread_mutex_lock(&hub->lock);
    n = hub->nsubs;
    pthread_mutex_unlock(&hub->lock);
    return n;
}
