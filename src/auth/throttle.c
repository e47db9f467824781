/* throttle.c - per-key failure counting with doubling delays (see throttle.h).
 *
 * A flat array searched linearly: capacity is a few thousand keys at most and a login costs
 * an Argon2id hash (tens of milliseconds), so a scan of the array is noise beside it and needs
 * no hashing code. Keys are truncated to KEY_MAX bytes; user names and addresses fit. */
#include "auth/throttle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 96

typedef struct {
    char key[KEY_MAX];
    int failures;
    int64_t last_ms;         /* the last failure */
    int64_t locked_until_ms; /* 0 when not locked */
} entry;

struct ferry_throttle {
    ferry_throttle_policy policy;
    pthread_mutex_t lock;
    entry *entries;
    size_t n;
};

ferry_throttle *ferry_throttle_new(const ferry_throttle_policy *policy)
{
    ferry_throttle *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->policy = *policy;
    if (t->policy.capacity == 0)
        t->policy.capacity = 1;
    t->entries = calloc(t->policy.capacity, sizeof(*t->entries));
    if (t->entries == NULL) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void ferry_throttle_free(ferry_throttle *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->entries);
    free(t);
}

/* The entry of key, or NULL; entries quiet for forget_ms are dropped on the way. */
static entry *find(ferry_throttle *t, const char *key, int64_t now_ms)
{
    for (size_t i = 0; i < t->n; i++) {
        entry *e = &t->entries[i];
        if (now_ms - e->last_ms > t->policy.forget_ms && now_ms >= e->locked_until_ms) {
            t->entries[i] = t->entries[--t->n]; /* forgotten: the last one moves here */
            i--;
            continue;
        }
        if (strncmp(e->key, key, KEY_MAX - 1) == 0)
            return e;
    }
    return NULL;
}

int64_t ferry_throttle_wait_ms(ferry_throttle *t, const char *key, int64_t now_ms)
{
    int64_t wait = 0;
    entry *e;

    pthread_mutex_lock(&t->lock);
    e = find(t, key, now_ms);
    if (e != NULL && e->locked_until_ms > now_ms)
        wait = e->locked_until_ms - now_ms;
    pthread_mutex_unlock(&t->lock);
    return wait;
}

int64_t ferry_throttle_fail(ferry_throttle *t, const char *key, int64_t now_ms)
{
    int64_t wait = 0;
    entry *e;

    pthread_mutex_lock(&t->lock);
    e = find(t, key, now_ms);
    if (e == NULL) {
        if (t->n == t->policy.capacity) {
            size_t oldest = 0;
            for (size_t i = 1; i < t->n; i++)
                if (t->entries[i].last_ms < t->entries[oldest].last_ms)
                    oldest = i;
            t->entries[oldest] = t->entries[--t->n];
        }
        e = &t->entries[t->n++];
        memset(e, 0, sizeof(*e));
        snprintf(e->key, sizeof(e->key), "%s", key);
    }
    e->failures++;
    e->last_ms = now_ms;
    if (e->failures > t->policy.free_failures) {
        int doublings = e->failures - t->policy.free_failures - 1;
        wait = t->policy.base_ms;
        while (doublings-- > 0 && wait < t->policy.max_ms)
            wait *= 2;
        if (wait > t->policy.max_ms)
            wait = t->policy.max_ms;
        e->locked_until_ms = now_ms + wait;
    }
    pthread_mutex_unlock(&t->lock);
    return wait;
}

void ferry_throttle_reset(ferry_throttle *t, const char *key)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        if (strncmp(t->entries[i].key, key, KEY_MAX - 1) == 0) {
            t->entries[i] = t->entries[--t->n];
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
}

size_t ferry_throttle_size(ferry_throttle *t)
{
    size_t n;

    pthread_mutex_lock(&t->lock);
    n = t->n;
    pthread_mutex_unlock(&t->lock);
    return n;
}
