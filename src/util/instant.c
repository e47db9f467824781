/* instant.c - cursor values read as instants and written as "since" values (instant.h).
 *
 * No locale and no time zone database: dates are counted with the civil-from-days
 * arithmetic (proleptic Gregorian calendar), offsets applied by hand. */
#include "util/instant.h"

#include <stdio.h>
#include <string.h>

int64_t ferry_instant_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void ferry_instant_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* n digits at s[*i] into *ret. */
static bool digits(const char *s, size_t len, size_t *i, int n, int *ret)
{
    int v = 0;

    for (int k = 0; k < n; k++, (*i)++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return false;
        v = v * 10 + (s[*i] - '0');
    }
    *ret = v;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool parse_number(const char *s, size_t len, int64_t *ret_ms)
{
    int64_t whole = 0, frac_ms = 0;
    size_t i = 0;
    int scale = 100;

    if (len == 0 || len > 20)
        return false;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (whole > (INT64_MAX / 1000 - 9) / 10)
            return false;
        whole = whole * 10 + (s[i] - '0');
    }
    if (i == 0)
        return false;
    if (i < len && s[i] == '.') {
        if (++i == len)
            return false;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac_ms += (s[i] - '0') * scale;
    }
    if (i != len)
        return false;
    *ret_ms = whole * 1000 + frac_ms;
    return true;
}

static bool parse_iso(const char *s, size_t len, int64_t *ret_ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
    int64_t ms = 0;
    size_t i = 0;

    if (!digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' || !digits(s, len, &i, 2, &mo) ||
        i >= len || s[i++] != '-' || !digits(s, len, &i, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
        return false;
    if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        if (!digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || !digits(s, len, &i, 2, &mi))
            return false;
        if (i < len && s[i] == ':') {
            i++;
            if (!digits(s, len, &i, 2, &sec))
                return false;
            if (i < len && (s[i] == '.' || s[i] == ',')) {
                int scale = 100;
                if (++i >= len || s[i] < '0' || s[i] > '9')
                    return false;
                for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
                    ms += (s[i] - '0') * scale;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return false;
        if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            sign = s[i++] == '-' ? -1 : 1;
            if (!digits(s, len, &i, 2, &oh))
                return false;
            if (i < len && s[i] == ':')
                i++;
            if (!digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
                return false;
        }
    }
    if (i != len)
        return false;
    *ret_ms = ((ferry_instant_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
               (int64_t)sign * (oh * 3600 + om * 60)) *
                  1000 +
              ms;
    return true;
}

bool ferry_instant_parse(const char *s, size_t len, int64_t *ret_ms)
{
    if (s == NULL)
        return false;
    if (len >= 10 && s[4] == '-')
        return parse_iso(s, len, ret_ms);
    return parse_number(s, len, ret_ms);
}

void ferry_instant_format(int64_t ms, bool epoch, char out[FERRY_INSTANT_TEXT_MAX])
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400, y;
    int m, d;

    if (epoch) {
        snprintf(out, FERRY_INSTANT_TEXT_MAX, "%lld", (long long)secs);
        return;
    }
    ferry_instant_civil_from_days(days, &y, &m, &d);
    snprintf(out, FERRY_INSTANT_TEXT_MAX, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d,
             (int)(rem / 3600), (int)(rem % 3600 / 60), (int)(rem % 60));
}
