/* cron.c - cron expressions (see cron.h).
 *
 * Why by hand: Debian packages no C library for cron expressions; the format is small. The
 * next match is found by walking local days forward from the day of after_ms in the zone,
 * then the matching minutes of a matching day, each resolved to UTC instants by tz.h (a
 * local time may be skipped or repeated by daylight saving time). The walk costs at most a
 * few thousand steps. */
#include "util/cron.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/instant.h"

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

/* A number, or one of names (three letters, any case; names[0] is base), at s. */
static bool parse_value(const char *s, char **end, const char *const *names, int base, long *ret)
{
    if (*s >= '0' && *s <= '9') {
        *ret = strtol(s, end, 10);
        return true;
    }
    for (int i = 0; names != NULL && names[i] != NULL; i++) {
        if (strncasecmp(s, names[i], 3) == 0) {
            *ret = base + i;
            *end = (char *)s + 3;
            return true;
        }
    }
    return false;
}

/* Parses one field into bits over [lo, hi]; *ret_any when it is "*", *ret_star when it is
 * "*" with or without a step. */
static const char *parse_field(const char *s, size_t len, int lo, int hi, const char *const *names,
                               uint64_t *bits, bool *ret_any, bool *ret_star)
{
    char buf[128];
    char *item, *next;

    if (len == 0 || len >= sizeof(buf))
        return "has an empty or overlong field";
    memcpy(buf, s, len);
    buf[len] = '\0';
    *bits = 0;
    *ret_any = strcmp(buf, "*") == 0;
    *ret_star = *ret_any || strncmp(buf, "*/", 2) == 0;
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
            if (!parse_value(item, &end, names, lo == 0 ? 0 : 1, &a) ||
                (*end != '\0' && *end != '-'))
                return "has a value that is not a number or a name";
            b = a;
            if (*end == '-') {
                if (!parse_value(end + 1, &end, names, lo == 0 ? 0 : 1, &b) || *end != '\0')
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

/* The five fields a macro stands for, or NULL when expr is none. */
static const char *macro_fields(const char *expr)
{
    static const struct {
        const char *name, *fields;
    } macros[] = {{"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                  {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
                  {"@annually", "0 0 1 1 *"}};
    size_t len;

    while (*expr == ' ' || *expr == '\t')
        expr++;
    for (len = strlen(expr); len > 0 && (expr[len - 1] == ' ' || expr[len - 1] == '\t');)
        len--;
    for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
        if (strlen(macros[i].name) == len && strncasecmp(expr, macros[i].name, len) == 0)
            return macros[i].fields;
    return NULL;
}

const char *ferry_cron_parse(const char *expr, ferry_cron *ret)
{
    static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};
    static const char *const *const names[5] = {NULL, NULL, NULL, month_names, day_names};
    const char *p = expr, *why;
    uint64_t bits[5];
    bool any[5], star[5];
    int n = 0;

    if (macro_fields(expr) != NULL)
        p = macro_fields(expr);
    else if (strchr(expr, '@') != NULL)
        return "names an unknown macro (@hourly, @daily, @midnight, @weekly, @monthly, "
               "@yearly, @annually)";
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
        if ((why = parse_field(start, (size_t)(p - start), lo[n], hi[n], names[n], &bits[n],
                               &any[n], &star[n])))
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
    ret->hour_any = star[1];
    return NULL;
}

static bool day_matches(const ferry_cron *c, int month, int mday, int wday)
{
    bool dom = (c->dom >> mday) & 1, dow = (c->dow >> wday) & 1;

    if (!((c->month >> month) & 1))
        return false;
    if (c->dom_any || c->dow_any)
        return dom && dow;
    return dom || dow;
}

/* The instants (UTC seconds) local_s fires at under cron c in tz: none, one or two (the
 * rules in cron.h). */
static int firings(const ferry_cron *c, const ferry_tz *tz, int64_t local_s, int64_t out[2])
{
    int64_t first, second;

    switch (ferry_tz_local_resolve(tz, local_s, &first, &second)) {
    case FERRY_TZ_LOCAL_GAP:
        if (c->hour_any)
            return 0; /* never happened; the hour after the jump is matched on its own */
        out[0] = first;
        return 1;
    case FERRY_TZ_LOCAL_OVERLAP:
        out[0] = first;
        out[1] = second;
        return c->hour_any ? 2 : 1;
    default:
        out[0] = first;
        return 1;
    }
}

int64_t ferry_cron_next(const ferry_cron *c, const ferry_tz *tz, int64_t after_ms)
{
    int64_t after = after_ms / 1000 - (after_ms % 1000 < 0), best = INT64_MAX;
    int64_t local = after + ferry_tz_offset(tz, after_ms);
    int64_t day0 = local / 86400 - (local % 86400 < 0) - 1; /* a day early: see below */
    int32_t min_off, max_off;

    /* A local time L is the instant L - offset, so it lies in [L - max_off, L - min_off]:
     * local times whose latest instant is not after after_ms are skipped unresolved, and
     * the walk stops once no later local time can come before the best found. The day
     * before after's local day is looked at as well, for a zone's odd jumps. */
    ferry_tz_offset_range(tz, &min_off, &max_off);
    for (int64_t d = day0; d < day0 + 5 * 366 + 2; d++) {
        int64_t y;
        int m, md;
        ferry_instant_civil_from_days(d, &y, &m, &md);
        if (best != INT64_MAX && d * 86400 - max_off > best)
            break;
        if (!day_matches(c, m, md, (int)(((d + 4) % 7 + 7) % 7)))
            continue;
        for (int h = 0; h < 24; h++) {
            if (!((c->hour >> h) & 1))
                continue;
            for (int mi = 0; mi < 60; mi++) {
                int64_t l = d * 86400 + h * 3600 + mi * 60, out[2];
                if (!((c->minute >> mi) & 1) || l - min_off <= after)
                    continue;
                if (best != INT64_MAX && l - max_off > best)
                    goto out_found;
                for (int i = firings(c, tz, l, out) - 1; i >= 0; i--)
                    if (out[i] > after && out[i] < best)
                        best = out[i];
            }
        }
    }
out_found:
    return best == INT64_MAX ? 0 : best * 1000;
}
