/* backoff.h - how long to wait before trying again.
 *
 * Every retry loop in Ferry (a REST page, a run, the event bus's reconnect) and the login
 * throttle wait a delay that doubles with each failure up to a cap; those whose callers could
 * fail together (a database restarting, an API answering 503 to every run) add a random jitter
 * so they do not all come back at the same moment. */
#ifndef FERRY_UTIL_BACKOFF_H
#define FERRY_UTIL_BACKOFF_H

#include <stdint.h>

/* The wait before retry n (1-based): base_ms doubled n - 1 times, at most cap_ms; when seed is
 * not NULL, plus a jitter of up to a quarter of that drawn with rand_r(seed). */
int64_t ferry_backoff_ms(int64_t base_ms, int64_t cap_ms, int n, unsigned *seed);

#endif
