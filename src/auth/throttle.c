/* throttle.c - per-key failure counting with doubling delays (see throttle.h).
 *
 * A flat array searched linearly: capacity is a few thousand keys at most and a login costs
 * an Argon2id hash (tens of milliseconds), so a scan of the array is noise beside it and needs
 * no hashing code. Keys are truncated to KEY_MAX bytes; an address and a user name together
 * fit. */
#include "auth/throttle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/backoff.h"

#define KEY_MAX 128 /* "a:" ADDRESS "|u:" USER: 2 + 45 + 3 + 64 + 1 */

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

/* How long the entry e (may be NULL) is still locked at now_ms; 0 when it is not. */
static int64_t locked_for(const entry *e, int64_t now_ms)
{
    return e != NULL && e->locked_until_ms > now_ms ? e->locked_until_ms - now_ms : 0;
}

int64_t ferry_throttle_wait_ms(ferry_throttle *t, const char *key, int64_t now_ms)
{
    int64_t wait;

    pthread_mutex_lock(&t->lock);
    wait = locked_for(find(t, key, now_ms), now_ms);
    pthread_mutex_unlock(&t->lock);
    return wait;
}

/* Whether a is a better entry to forget than b at now_ms: an unlocked one before a locked
 * one; among unlocked ones the one idle longest, among locked ones the one that ends first. */
static bool forget_before(const entry *a, const entry *b, int64_t now_ms)
{
    bool a_locked = a->locked_until_ms > now_ms, b_locked = b->locked_until_ms > now_ms;

    if (a_locked != b_locked)
        return !a_locked;
    return a_locked ? a->locked_until_ms < b->locked_until_ms : a->last_ms < b->last_ms;
}

/* Counts a failure of key (found or made) at now_ms; returns the lock it sets (0: none). */
static int64_t record_failure(ferry_throttle *t, entry *e, const char *key, int64_t now_ms)
{
    int64_t wait = 0;

    if (e == NULL) {
        if (t->n == t->policy.capacity) {
            size_t victim = 0;
            for (size_t i = 1; i < t->n; i++)
                if (forget_before(&t->entries[i], &t->entries[victim], now_ms))
                    victim = i;
            t->entries[victim] = t->entries[--t->n];
        }
        e = &t->entries[t->n++];
        memset(e, 0, sizeof(*e));
        snprintf(e->key, sizeof(e->key), "%s", key);
    }
    e->failures++;
    e->last_ms = now_ms;
    if (e->failures > t->policy.free_failures) {
        wait = ferry_backoff_ms(t->policy.base_ms, t->policy.max_ms,
                                e->failures - t->policy.free_failures, NULL);
        e->locked_until_ms = now_ms + wait;
    }
    return wait;
}

int64_t ferry_throttle_fail(ferry_throttle *t, const char *key, int64_t now_ms)
{
    int64_t wait;

    pthread_mutex_lock(&t->lock);
    wait = record_failure(t, find(t, key, now_ms), key, now_ms);
    pthread_mutex_unlock(&t->lock);
    return wait;
}

int64_t ferry_throttle_take(ferry_throttle *t, const char *key, int64_t now_ms)
{
    int64_t wait;
    entry *e;

    pthread_mutex_lock(&t->lock);
    e = find(t, key, now_ms);
    if ((wait = locked_for(e, now_ms)) == 0)
        record_failure(t, e, key, now_ms);
    pthread_mutex_unlock(&t->lock);
    return wait;
}

void ferry_throttle_refund(ferry_throttle *t, const char *key)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        entry *e = &t->entries[i];
        if (strncmp(e->key, key, KEY_MAX - 1) != 0)
            continue;
        if (e->failures > 0)
            e->failures--;
        if (e->failures <= t->policy.free_failures)
            e->locked_until_ms = 0;
        break;
    }
    pthread_mutex_unlock(&t->lock);
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
