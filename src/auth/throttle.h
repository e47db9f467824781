/* throttle.h - slowing down password guessing, per key (a user name, a client address).
 *
 * Each key counts its recent failures. Up to `free_failures` failures cost nothing; each one
 * after that locks the key for a delay that doubles from base_ms up to max_ms. A key whose
 * last failure is older than forget_ms starts over. The table has a fixed capacity: when it is
 * full, an entry that is not locked is forgotten (the one idle longest), else the lock that
 * ends first, so a flood of distinct keys costs bounded memory and never blocks new keys.
 *
 * Attempts whose outcome takes a while (a password check) are counted when they start
 * (ferry_throttle_take) and given back when they succeed (ferry_throttle_refund): counted
 * only at the end, a burst of attempts sent at once would all pass the check before the
 * first failure was recorded, and every one of them would then double the lock.
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

/* Starts an attempt of key: when key is locked, returns how long it must wait and counts
 * nothing; else counts the attempt as a failure (locking key for later attempts once past the
 * free ones) and returns 0. An attempt that then succeeds is given back with
 * ferry_throttle_refund(), or forgotten with ferry_throttle_reset(). */
int64_t ferry_throttle_take(ferry_throttle *t, const char *key, int64_t now_ms);

/* Gives back one attempt counted by ferry_throttle_take() that did not fail; the lock it set,
 * if any, is lifted when the failures left are free ones. */
void ferry_throttle_refund(ferry_throttle *t, const char *key);

/* Forgets key's failures (a successful login of that user). */
void ferry_throttle_reset(ferry_throttle *t, const char *key);

/* Keys remembered now (for tests). */
size_t ferry_throttle_size(ferry_throttle *t);

#endif
