/* timeutil.c - clocks and timestamp formatting (see timeutil.h). */
#include "util/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t ferry_time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ferry_time_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ferry_time_format_iso(int64_t ms, char out[FERRY_ISO_TIME_MAX])
{
    /* Floor division, so times before the epoch count back from the second before. */
    int64_t frac = ms % 1000;
    time_t secs = (time_t)(ms / 1000 - (frac < 0 ? 1 : 0));
    struct tm tm;

    char tmp[64];

    if (frac < 0)
        frac += 1000;
    gmtime_r(&secs, &tm);
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    memcpy(out, tmp, FERRY_ISO_TIME_MAX - 1);
    out[FERRY_ISO_TIME_MAX - 1] = '\0';
}

void ferry_time_format_duration(int64_t ms, char *out, size_t outlen)
{
    if (ms < 0)
        ms = 0;
    if (ms < 1000)
        snprintf(out, outlen, "%d ms", (int)ms);
    else if (ms < 60000)
        /* Tenths cut, not rounded: 59999 ms is "59.9 s", never "60.0 s". */
        snprintf(out, outlen, "%d.%d s", (int)(ms / 1000), (int)(ms % 1000 / 100));
    else if (ms < 3600000)
        snprintf(out, outlen, "%d min %d s", (int)(ms / 60000), (int)(ms % 60000 / 1000));
    else
        snprintf(out, outlen, "%d h %d min", (int)(ms / 3600000), (int)(ms % 3600000 / 60000));
}
