/* http_headers.c - Link, Retry-After and X-RateLimit-Reset values (see http_headers.h).
 *
 * Link (RFC 8288 section 3) is read by hand: a list of `<target>` followed by `;`-separated
 * parameters, where commas inside the target or inside a quoted string do not end a link. The
 * parser walks the value once and copies nothing until it has found the next link; the only
 * allocation is the resolved URL, made by libcurl's URL API (RFC 3986 section 5 resolution)
 * and copied to malloc'd memory so the caller frees it with free().
 *
 * Dates are parsed by hand rather than with strptime(), whose day and month names follow the
 * locale; HTTP dates are always English and GMT (RFC 9110 section 5.6.7). */
#include "util/http_headers.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *p)
{
    while (is_ows(*p))
        p++;
    return p;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A character of a parameter name (RFC 9110 tchar). */
static bool is_tchar(char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Tracks whether a rel value lists the wanted type ("next", "last") among its space-separated
 * types, fed one unescaped character at a time (a type longer than any wanted one can never
 * match, so a few bytes suffice). */
typedef struct {
    const char *want;
    char word[8];
    size_t len; /* may pass sizeof(word): the word is then too long to be wanted */
    bool next;  /* the wanted type was listed */
} rel_scan;

static void rel_end_word(rel_scan *r)
{
    size_t n = strlen(r->want);
    if (r->len == n && strncasecmp(r->word, r->want, n) == 0)
        r->next = true;
    r->len = 0;
}

static void rel_feed(rel_scan *r, char c)
{
    if (is_ows(c)) {
        rel_end_word(r);
        return;
    }
    if (r->len < sizeof(r->word))
        r->word[r->len] = c;
    r->len++;
}

/* Reads one parameter value at p: a quoted string (with \-escapes) or a run of characters up
 * to the next ';', ',' or whitespace. When r is not NULL the value is fed to it. Returns the
 * position after the value, or NULL when a quoted string is not closed. */
static const char *param_value(const char *p, rel_scan *r)
{
    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            if (*p == '\0')
                return NULL;
            if (r != NULL)
                rel_feed(r, *p);
        }
        p++;
    } else {
        for (; *p != '\0' && *p != ';' && *p != ',' && !is_ows(*p) && *p != '"'; p++) {
            if (r != NULL)
                rel_feed(r, *p);
        }
    }
    if (r != NULL)
        rel_end_word(r);
    return p;
}

/* Resolves the len bytes of target against base_url; NULL when either cannot be read or the
 * result is not an http or https URL. */
static char *resolve(const char *target, size_t len, const char *base_url)
{
    char *ref, *url = NULL, *ret = NULL;
    CURLU *u;

    ref = strndup(target, len);
    if (ref == NULL)
        return NULL;
    u = curl_url();
    if (u == NULL)
        goto out_free_ref;
    /* A target that is already absolute needs no base, so a bad base only matters later. */
    if (base_url != NULL)
        curl_url_set(u, CURLUPART_URL, base_url, 0);
    if (curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK)
        goto out_cleanup_url;
    if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
        goto out_cleanup_url;
    /* Only pages over HTTP: a hostile service must not point the next fetch at file://. */
    if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0)
        ret = strdup(url);
    curl_free(url);
out_cleanup_url:
    curl_url_cleanup(u);
out_free_ref:
    free(ref);
    return ret;
}

char *ferry_link_next(const char *link_value, const char *base_url)
{
    return ferry_link_rel(link_value, "next", base_url);
}

char *ferry_link_rel(const char *link_value, const char *want, const char *base_url)
{
    const char *p = link_value;

    if (p == NULL)
        return NULL;
    for (;;) {
        const char *target, *target_end;
        bool seen_rel = false;
        rel_scan rel = {.want = want, .len = 0, .next = false};

        /* Empty list elements are allowed (RFC 9110 section 5.6.1). */
        while (is_ows(*p) || *p == ',')
            p++;
        if (*p == '\0')
            return NULL;
        if (*p != '<')
            return NULL;
        target = p + 1;
        target_end = strchr(target, '>');
        if (target_end == NULL)
            return NULL;
        p = skip_ows(target_end + 1);
        while (*p == ';') {
            const char *name = p = skip_ows(p + 1);
            size_t name_len;
            while (is_tchar(*p))
                p++;
            name_len = (size_t)(p - name);
            if (name_len == 0 && *p != ';' && *p != ',' && *p != '\0')
                return NULL; /* an empty parameter ("<a>; rel=next;") is only skipped */
            p = skip_ows(p);
            if (*p == '=') {
                /* Only the first rel counts (RFC 8288 section 3.3). */
                bool is_rel = name_len == 3 && strncasecmp(name, "rel", 3) == 0 && !seen_rel;
                p = param_value(skip_ows(p + 1), is_rel ? &rel : NULL);
                if (p == NULL)
                    return NULL;
                seen_rel = seen_rel || is_rel;
                p = skip_ows(p);
            }
        }
        if (*p != ',' && *p != '\0')
            return NULL;
        /* An empty target would be this same page again (and libcurl misreads it). */
        if (rel.next && target_end == target)
            return NULL;
        if (rel.next)
            return resolve(target, (size_t)(target_end - target), base_url);
    }
}

/* Reads exactly n digits at *p into *ret and moves *p past them. */
static bool digits(const char **p, int n, int *ret)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *ret = v;
    return true;
}

/* Reads one or two digits. */
static bool digits_1_2(const char **p, int *ret)
{
    return digits(p, is_digit((*p)[0]) && is_digit((*p)[1]) ? 2 : 1, ret);
}

static bool literal(const char **p, const char *s)
{
    size_t n = strlen(s);

    if (strncmp(*p, s, n) != 0)
        return false;
    *p += n;
    return true;
}

/* Reads an English month name (three letters) into 0..11. */
static bool month(const char **p, int *ret)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

    for (int i = 0; i < 12; i++) {
        if (strncmp(*p, names + 3 * i, 3) == 0) {
            *p += 3;
            *ret = i;
            return true;
        }
    }
    return false;
}

/* Reads "HH:MM:SS" into tm. */
static bool clock_time(const char **p, struct tm *tm)
{
    return digits(p, 2, &tm->tm_hour) && literal(p, ":") && digits(p, 2, &tm->tm_min) &&
           literal(p, ":") && digits(p, 2, &tm->tm_sec);
}

static bool is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Checks the fields of a calendar date and time, so timegm() cannot wrap 31 February into
 * March. tm_year is the full year here. */
static bool valid_date(const struct tm *tm)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int mdays;

    if (tm->tm_mon < 0 || tm->tm_mon > 11 || tm->tm_year < 1 || tm->tm_year > 9999)
        return false;
    mdays = days[tm->tm_mon] + (tm->tm_mon == 1 && is_leap(tm->tm_year) ? 1 : 0);
    return tm->tm_mday >= 1 && tm->tm_mday <= mdays && tm->tm_hour <= 23 && tm->tm_min <= 59 &&
           tm->tm_sec <= 60;
}

/* ms since the epoch of tm (full year in tm_year, UTC) minus offset_min minutes. */
static int64_t tm_to_ms(struct tm *tm, int offset_min)
{
    tm->tm_year -= 1900;
    tm->tm_isdst = 0;
    return ((int64_t)timegm(tm) - (int64_t)offset_min * 60) * 1000;
}

/* The year of the wall-clock time now_ms, for RFC 850's two-digit years. */
static int year_of(int64_t now_ms)
{
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL)
        return 2000;
    return tm.tm_year + 1900;
}

/* An HTTP-date (RFC 9110 section 5.6.7) at p, all of it but trailing whitespace:
 *   IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
 *   RFC 850      Sunday, 06-Nov-94 08:49:37 GMT
 *   asctime      Sun Nov  6 08:49:37 1994 */
static bool http_date(const char *p, int64_t now_ms, int64_t *ret_ms)
{
    struct tm tm = {0};
    const char *day = p;

    while (is_alpha(*p))
        p++;
    if (p - day < 3)
        return false;
    if (*p == ',') {
        p = skip_ows(p + 1);
        if (!digits_1_2(&p, &tm.tm_mday))
            return false;
        if (*p == ' ') {
            p++;
            if (!month(&p, &tm.tm_mon) || !literal(&p, " ") || !digits(&p, 4, &tm.tm_year))
                return false;
        } else {
            int yy, now_year = year_of(now_ms);
            if (!literal(&p, "-") || !month(&p, &tm.tm_mon) || !literal(&p, "-") ||
                !digits(&p, 2, &yy))
                return false;
            /* A two-digit year more than 50 years ahead is in the past century (RFC 9110). */
            tm.tm_year = now_year / 100 * 100 + yy;
            if (tm.tm_year > now_year + 50)
                tm.tm_year -= 100;
        }
        if (!literal(&p, " ") || !clock_time(&p, &tm) || !literal(&p, " GMT"))
            return false;
    } else {
        if (!literal(&p, " ") || !month(&p, &tm.tm_mon) || !literal(&p, " "))
            return false;
        if (*p == ' ')
            p++;
        if (!digits_1_2(&p, &tm.tm_mday) || !literal(&p, " ") || !clock_time(&p, &tm) ||
            !literal(&p, " ") || !digits(&p, 4, &tm.tm_year))
            return false;
    }
    if (*skip_ows(p) != '\0' || !valid_date(&tm))
        return false;
    *ret_ms = tm_to_ms(&tm, 0);
    return true;
}

/* An ISO 8601 / RFC 3339 time at p with a zone: "2026-11-23T12:00:00Z", "...12:00:00.25+10:00",
 * "...+1000". A time without a zone is refused: guessing its zone could mean waiting hours. */
static bool iso_time(const char *p, int64_t *ret_ms)
{
    struct tm tm = {0};
    int frac_ms = 0, offset_min = 0;

    if (!digits(&p, 4, &tm.tm_year) || !literal(&p, "-") || !digits(&p, 2, &tm.tm_mon) ||
        !literal(&p, "-") || !digits(&p, 2, &tm.tm_mday))
        return false;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return false;
    p++;
    if (!clock_time(&p, &tm))
        return false;
    if (*p == '.' || *p == ',') {
        int scale = 100;
        if (!is_digit(*++p))
            return false;
        for (; is_digit(*p); p++, scale /= 10)
            frac_ms += (*p - '0') * scale; /* digits past the millisecond add 0 */
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, hh, mm;
        if (!digits(&p, 2, &hh))
            return false;
        if (*p == ':')
            p++;
        if (!digits(&p, 2, &mm) || hh > 23 || mm > 59)
            return false;
        offset_min = sign * (hh * 60 + mm);
    } else {
        return false;
    }
    tm.tm_mon -= 1;
    if (*skip_ows(p) != '\0' || !valid_date(&tm))
        return false;
    *ret_ms = tm_to_ms(&tm, offset_min) + frac_ms;
    return true;
}

/* A run of digits at p, optionally with a fraction, and nothing after it but whitespace.
 * *ret_int gets the integer part, *ret_frac_ms the fraction in ms, *ret_ndigits the number of
 * digits before the point. False when p is not such a number or the integer overflows. */
static bool decimal(const char *p, int64_t *ret_int, int *ret_frac_ms, size_t *ret_ndigits)
{
    const char *start = p;
    int frac_ms = 0;
    long long v;
    char *end;

    if (!is_digit(*p))
        return false;
    errno = 0;
    v = strtoll(p, &end, 10);
    if (errno != 0)
        return false;
    *ret_ndigits = (size_t)(end - start);
    p = end;
    if (*p == '.') {
        int scale = 100;
        if (!is_digit(*++p))
            return false;
        for (; is_digit(*p); p++, scale /= 10)
            frac_ms += (*p - '0') * scale;
    }
    if (*skip_ows(p) != '\0')
        return false;
    *ret_int = v;
    *ret_frac_ms = frac_ms;
    return true;
}

/* now_ms + secs s + frac_ms, false when that does not fit. */
static bool after(int64_t now_ms, int64_t secs, int frac_ms, int64_t *ret_ms)
{
    if (secs > (INT64_MAX - now_ms - frac_ms) / 1000)
        return false;
    *ret_ms = now_ms + secs * 1000 + frac_ms;
    return true;
}

bool ferry_retry_after_parse(const char *value, int64_t now_ms, int64_t *ret_until_ms)
{
    int64_t secs, until_ms;
    size_t ndigits;
    int frac_ms;

    if (value == NULL)
        return false;
    value = skip_ows(value);
    if (is_digit(*value)) {
        /* delta-seconds is a bare integer (RFC 9110 section 10.2.3). */
        if (strchr(value, '.') != NULL || !decimal(value, &secs, &frac_ms, &ndigits) ||
            !after(now_ms, secs, 0, &until_ms))
            return false;
    } else if (!http_date(value, now_ms, &until_ms)) {
        return false;
    }
    *ret_until_ms = until_ms > now_ms ? until_ms : now_ms;
    return true;
}

bool ferry_ratelimit_reset_parse(const char *value, int64_t now_ms, int64_t *ret_until_ms)
{
    int64_t n, until_ms;
    size_t ndigits;
    int frac_ms;

    if (value == NULL)
        return false;
    value = skip_ows(value);
    if (decimal(value, &n, &frac_ms, &ndigits)) {
        if (ndigits >= 13) {
            until_ms = n;
        } else if (ndigits >= 10) {
            if (!after(0, n, frac_ms, &until_ms))
                return false;
        } else if (!after(now_ms, n, frac_ms, &until_ms)) {
            return false;
        }
    } else if (!iso_time(value, &until_ms) && !http_date(value, now_ms, &until_ms)) {
        return false;
    }
    *ret_until_ms = until_ms > now_ms ? until_ms : now_ms;
    return true;
}
