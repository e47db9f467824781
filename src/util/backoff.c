/* backoff.c - doubling waits with jitter (see backoff.h). */
#include "util/backoff.h"

#include <stdlib.h>

int64_t ferry_backoff_ms(int64_t base_ms, int64_t cap_ms, int n, unsigned *seed)
{
    int64_t wait = base_ms;

    for (int i = 1; i < n && wait < cap_ms; i++)
        wait *= 2;
    if (wait > cap_ms)
        wait = cap_ms;
    if (seed != NULL)
        wait += (int64_t)(rand_r(seed) % (unsigned)(wait / 4 + 1));
    return wait;
}
