/* throttle.h - slowing down password guessing, per key (a user name, a client address).
 *
 * Each key counts its recent failures. Up to `free_failures` failures cost nothing; each one
 * after that locks the key for a delay that doubles from base_ms up to max_ms. A key whose
 * last failure is older than forget_ms starts over. The table has a fixed capacity: when it is
 * full, the entry idle longest is forgotten, so a flood of distinct keys costs bounded memory
 * (and only frees the oldest locks, never blocks new keys).
 *
 * Thread-safe. Times are passed in (milliseconds) so tests need no clock. */
#ifndef FERRY_AUTH_THROTTLE_H
#define FERRY_AUTH_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ferry_throttle ferry_throttle;

typedef struct {
    int free_failures; /* failures allowed before any delay */
    int64_t base_ms;   /* the first delay */
    int64_t max_ms;    /* the longest delay */
    int64_t forget_ms; /* a key quiet this long is forgotten */
    size_t capacity;   /* keys remembered at most */
} ferry_throttle_policy;

/* NULL when out of memory. */
ferry_throttle *ferry_throttle_new(const ferry_throttle_policy *policy);
void ferry_throttle_free(ferry_throttle *t);

/* How long key must wait before its next try, in ms; 0 when it may try now. */
int64_t ferry_throttle_wait_ms(ferry_throttle *t, const char *key, int64_t now_ms);

/* Records a failure of key; returns how long it must now wait (0 while failures are free). */
int64_t ferry_throttle_fail(ferry_throttle *t, const char *key, int64_t now_ms);

/* Forgets key's failures (a successful login of that user). */
void ferry_throttle_reset(ferry_throttle *t, const char *key);

/* Keys remembered now (for tests). */
size_t ferry_throttle_size(ferry_throttle *t);

#endif
