/* ratelimit.h - request rates per host, shared by every run in the process.
 *
 * A sync's `rate_limit: 200/min` is a token bucket keyed by host name (with port), so two
 * runs against the same service share its budget. The bucket holds at most one second's
 * worth of tokens (at least one), so requests are spread out rather than sent in bursts.
 * When two configs name different rates for one host, the lowest wins. A 429 answer pauses
 * the host's bucket until the time the service named (Retry-After): every run against that
 * host waits, not only the one that was told.
 *
 * The registry is process-wide, guarded by one mutex that is never held while sleeping.
 * At most FERRY_RATELIMIT_HOSTS hosts are tracked; past that the least recently used bucket
 * is forgotten. */
#ifndef FERRY_UTIL_RATELIMIT_H
#define FERRY_UTIL_RATELIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define FERRY_RATELIMIT_HOSTS 256

/* Parses a rate such as "200/min", "5/s", "5/sec", "1000/h", "1000/hour", "10/m" into requests
 * per second (> 0). False when text is not a rate or the count is not a positive integer. */
bool ferry_rate_parse(const char *text, double *ret_per_s);

/* Called before a wait longer than 1 s, with the wall-clock time (ms since the epoch) the wait
 * ends; ctx is the caller's. */
typedef void (*ferry_ratelimit_wait_cb)(void *ctx, int64_t until_ms);

/* Takes one token from host's bucket (per_s <= 0: no rate, only pauses apply), sleeping as
 * needed. The sleep wakes at least every 100 ms to check cancel (may be NULL) and returns
 * FERRY_ECANCELLED once it is set. on_wait (may be NULL) is told before long waits. */
ferry_rc ferry_ratelimit_take(const char *host, double per_s, const atomic_bool *cancel,
                              ferry_ratelimit_wait_cb on_wait, void *ctx, ferry_err *err);

/* Pauses host until until_ms (wall clock, ms since the epoch): takes wait until then. A pause
 * never shortens a later one already set. */
void ferry_ratelimit_pause(const char *host, int64_t until_ms);

/* Forgets every bucket (tests). */
void ferry_ratelimit_reset(void);

#endif
