/* cron.c - cron expressions (see cron.h).
 *
 * Why by hand: Debian packages no C library for cron expressions; the format is small. The
 * next match is found by walking forward a day at a time until a matching day, then a minute
 * at a time within it, so it costs at most a few thousand steps. */
#include "util/cron.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Parses one field into bits over [lo, hi]; *ret_any when it is "*". */
static const char *parse_field(const char *s, size_t len, int lo, int hi, uint64_t *bits,
                               bool *ret_any)
{
    char buf[128];
    char *item, *next;

    if (len == 0 || len >= sizeof(buf))
        return "has an empty or overlong field";
    memcpy(buf, s, len);
    buf[len] = '\0';
    *bits = 0;
    *ret_any = strcmp(buf, "*") == 0;
    for (item = buf; item != NULL; item = next) {
        long a = lo, b = hi, step = 1;
        next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        if (*item == '\0')
            return "has an empty list item";
        char *slash = strchr(item, '/'), *end;
        if (slash != NULL) {
            *slash = '\0';
            step = strtol(slash + 1, &end, 10);
            if (slash[1] == '\0' || *end != '\0' || step < 1 || step > hi)
                return "has a bad step";
        }
        if (strcmp(item, "*") != 0) {
            char *dash = strchr(item, '-');
            a = strtol(item, &end, 10);
            if (end == item || (dash == NULL && *end != '\0') || (dash != NULL && end != dash))
                return "has a value that is not a number";
            b = a;
            if (dash != NULL) {
                b = strtol(dash + 1, &end, 10);
                if (dash[1] == '\0' || *end != '\0')
                    return "has a bad range";
            } else if (slash != NULL) {
                b = hi;
            }
        }
        if (a < lo || b > hi || a > b)
            return "has a value out of range";
        for (long v = a; v <= b; v += step)
            *bits |= 1ull << v;
    }
    return NULL;
}

const char *ferry_cron_parse(const char *expr, ferry_cron *ret)
{
    static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};
    const char *p = expr, *why;
    uint64_t bits[5];
    bool any[5];
    int n = 0;

    while (*p != '\0') {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        const char *start = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
        if (n == 5)
            return "has more than five fields";
        if ((why = parse_field(start, (size_t)(p - start), lo[n], hi[n], &bits[n], &any[n])))
            return why;
        n++;
    }
    if (n != 5)
        return "needs five fields: minute hour day-of-month month day-of-week";
    memset(ret, 0, sizeof(*ret));
    ret->minute = bits[0];
    ret->hour = (uint32_t)bits[1];
    ret->dom = (uint32_t)bits[2];
    ret->month = (uint16_t)bits[3];
    ret->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
    ret->dom_any = any[2];
    ret->dow_any = any[4];
    return NULL;
}

static bool day_matches(const ferry_cron *c, const struct tm *tm)
{
    bool dom = (c->dom >> tm->tm_mday) & 1, dow = (c->dow >> tm->tm_wday) & 1;

    if (!((c->month >> (tm->tm_mon + 1)) & 1))
        return false;
    if (c->dom_any || c->dow_any)
        return dom && dow;
    return dom || dow;
}

int64_t ferry_cron_next(const ferry_cron *c, int64_t after_ms)
{
    time_t t = (time_t)(after_ms / 1000 / 60 + 1) * 60; /* the next whole minute */
    struct tm tm;

    for (int days = 0; days < 5 * 366; days++) {
        gmtime_r(&t, &tm);
        if (day_matches(c, &tm)) {
            for (; tm.tm_hour < 24; tm.tm_hour++, tm.tm_min = 0) {
                if (!((c->hour >> tm.tm_hour) & 1))
                    continue;
                for (; tm.tm_min < 60; tm.tm_min++) {
                    if ((c->minute >> tm.tm_min) & 1)
                        return (int64_t)timegm(&tm) * 1000;
                }
            }
        }
        /* The start of the next day. */
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        t = timegm(&tm) + 86400;
    }
    return 0;
}
