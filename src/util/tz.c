/* tz.c - TZif files and POSIX TZ rules (see tz.h).
 *
 * Format: RFC 8536. A v1 file holds 32-bit transition times; v2 and v3 repeat the data with
 * 64-bit times after the v1 block and end with a footer, a POSIX TZ string ("EST5EDT,M3.2.0,
 * M11.1.0") that gives the offset after the last transition. Debian's "slim" files stop their
 * transitions at the last rule change, so dates past it (2090) come only from the footer.
 *
 * The file is external input: every count is bounded (FERRY_TZ_FILE_MAX, MAX_TRANS, 256
 * types) and checked against the bytes left before it is used, offsets are bounded to +-26 h,
 * transitions must ascend and type indexes must exist. Leap-second ("right/") files are
 * refused: cron times are civil times.
 *
 * A loaded zone is never changed, so threads share it without a lock. Nothing here touches
 * the process-global TZ or localtime(). */
#include "util/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/instant.h"

#define MAX_TRANS 50000
#define MAX_TYPES 256
#define MAX_OFFSET (26 * 3600)
#define NAME_MAX_LEN 255

/* A POSIX TZ rule date: Jn (1-365, no Feb 29), n (0-365) or Mm.w.d, and the local time of
 * day (seconds, may be negative or past 24 h in v3). */
typedef struct {
    char kind; /* 'J', 'N' or 'M' */
    int day, week, month;
    int32_t time;
} rule_date;

typedef struct {
    bool present;
    bool has_dst;
    int32_t std_off, dst_off; /* seconds east of UTC */
    rule_date start, end;
} posix_rule;

struct ferry_tz {
    char *name;
    size_t ntrans;
    int64_t *trans; /* ascending UTC seconds */
    uint8_t *idx;   /* per transition: its type */
    size_t ntypes;
    int32_t off[MAX_TYPES];
    posix_rule footer;
    int32_t min_off, max_off;
};

bool ferry_tz_name_is_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > NAME_MAX_LEN || name[0] == '/' || name[n - 1] == '/' ||
        strstr(name, "..") != NULL || strstr(name, "//") != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '/'))
            return false;
    }
    return true;
}

static ferry_tz *tz_new(const char *name)
{
    ferry_tz *tz = calloc(1, sizeof(*tz));

    if (tz == NULL || (tz->name = strdup(name)) == NULL) {
        free(tz);
        return NULL;
    }
    return tz;
}

ferry_tz *ferry_tz_utc(void)
{
    ferry_tz *tz = tz_new("UTC");

    if (tz != NULL)
        tz->ntypes = 1; /* off[0] is 0 */
    return tz;
}

void ferry_tz_free(ferry_tz *tz)
{
    if (tz == NULL)
        return;
    free(tz->name);
    free(tz->trans);
    free(tz->idx);
    free(tz);
}

const char *ferry_tz_name(const ferry_tz *tz)
{
    return tz != NULL ? tz->name : "UTC";
}

/* --- the POSIX TZ footer ------------------------------------------------------------ */

/* A zone abbreviation: three or more letters, or <...> of letters, digits, '+' and '-'. */
static const char *parse_abbr(const char *p)
{
    const char *s = p;

    if (*p == '<') {
        for (s = ++p; (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= '0' && *p <= '9') || *p == '+' || *p == '-';
             p++)
            ;
        return *p == '>' && p - s >= 3 ? p + 1 : NULL;
    }
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]h[h[h]][:mm[:ss]] with hours up to max_h, into seconds (sign applied). */
static const char *parse_hms(const char *p, int max_h, int32_t *ret)
{
    int sign = 1, h = 0, m = 0, s = 0, nd = 0;

    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    while (*p >= '0' && *p <= '9' && nd < 3)
        h = h * 10 + (*p++ - '0'), nd++;
    if (nd == 0 || h > max_h)
        return NULL;
    if (*p == ':') {
        p++;
        if (!(p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9'))
            return NULL;
        m = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':') {
            p++;
            if (!(p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9'))
                return NULL;
            s = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
    }
    *ret = sign * (h * 3600 + m * 60 + s);
    return p;
}

/* A number of at most digits digits in [lo, hi]. */
static const char *parse_num(const char *p, int lo, int hi, int *ret)
{
    int v = 0, nd = 0;

    while (*p >= '0' && *p <= '9' && nd < 4)
        v = v * 10 + (*p++ - '0'), nd++;
    if (nd == 0 || v < lo || v > hi)
        return NULL;
    *ret = v;
    return p;
}

static const char *parse_rule_date(const char *p, rule_date *d)
{
    d->time = 2 * 3600;
    if (*p == 'J') {
        d->kind = 'J';
        p = parse_num(p + 1, 1, 365, &d->day);
    } else if (*p == 'M') {
        d->kind = 'M';
        if ((p = parse_num(p + 1, 1, 12, &d->month)) == NULL || *p++ != '.' ||
            (p = parse_num(p, 1, 5, &d->week)) == NULL || *p++ != '.')
            return NULL;
        p = parse_num(p, 0, 6, &d->day);
    } else {
        d->kind = 'N';
        p = parse_num(p, 0, 365, &d->day);
    }
    if (p != NULL && *p == '/')
        p = parse_hms(p + 1, 167, &d->time);
    return p;
}

/* Parses a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3"; false when malformed. */
static bool parse_posix(const char *p, posix_rule *r)
{
    int32_t v;

    memset(r, 0, sizeof(*r));
    if ((p = parse_abbr(p)) == NULL || (p = parse_hms(p, 24, &v)) == NULL)
        return false;
    r->std_off = -v;
    r->present = true;
    if (*p == '\0')
        return true;
    if ((p = parse_abbr(p)) == NULL)
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if ((p = parse_hms(p, 24, &v)) == NULL)
            return false;
        r->dst_off = -v;
    }
    if (*p == '\0') { /* POSIX leaves it open; the US rule, as glibc does */
        r->start = (rule_date){'M', 0, 2, 3, 7200};
        r->end = (rule_date){'M', 0, 1, 11, 7200};
        return true;
    }
    if (*p++ != ',' || (p = parse_rule_date(p, &r->start)) == NULL || *p++ != ',' ||
        (p = parse_rule_date(p, &r->end)) == NULL)
        return false;
    return *p == '\0';
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The local seconds at which date d falls in year y. */
static int64_t rule_local(const rule_date *d, int64_t y)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t day;

    if (d->kind == 'J')
        day = ferry_instant_days_from_civil(y, 1, 1) + d->day - 1 +
              (is_leap(y) && d->day >= 60 ? 1 : 0);
    else if (d->kind == 'N')
        day = ferry_instant_days_from_civil(y, 1, 1) + d->day;
    else {
        int64_t first = ferry_instant_days_from_civil(y, d->month, 1);
        int wd = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
        int dom = 1 + (d->day - wd + 7) % 7 + (d->week - 1) * 7;
        int len = mdays[d->month - 1] + (d->month == 2 && is_leap(y) ? 1 : 0);
        while (dom > len)
            dom -= 7;
        day = first + dom - 1;
    }
    return day * 86400 + d->time;
}

static int32_t posix_offset(const posix_rule *r, int64_t t)
{
    int64_t y, start, end;
    int m, d;

    if (!r->has_dst)
        return r->std_off;
    /* Past a million years either way the year's arithmetic could overflow: the rule is the
     * same every year, so any year will do. */
    if (t > 31556952LL * 1000000 || t < -31556952LL * 1000000)
        t %= 31556952LL * 400; /* 400 Gregorian years: the calendar repeats */
    ferry_instant_civil_from_days((t + r->std_off) / 86400 - ((t + r->std_off) % 86400 < 0), &y, &m,
                                  &d);
    start = rule_local(&r->start, y) - r->std_off;
    end = rule_local(&r->end, y) - r->dst_off;
    if (start < end)
        return t >= start && t < end ? r->dst_off : r->std_off;
    return t >= end && t < start ? r->std_off : r->dst_off; /* southern hemisphere */
}

/* --- TZif --------------------------------------------------------------------------- */

typedef struct {
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_counts;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Reads a 44-byte header at data[*pos]; *ret_version is 0, '2', '3' (or later). */
static const char *read_header(const uint8_t *data, size_t len, size_t *pos, int *ret_version,
                               tzif_counts *c)
{
    const uint8_t *h = data + *pos;

    if (len - *pos < 44 || memcmp(h, "TZif", 4) != 0)
        return "is not a TZif file";
    *ret_version = h[4];
    c->isutcnt = be32(h + 20);
    c->isstdcnt = be32(h + 24);
    c->leapcnt = be32(h + 28);
    c->timecnt = be32(h + 32);
    c->typecnt = be32(h + 36);
    c->charcnt = be32(h + 40);
    *pos += 44;
    if (c->leapcnt != 0)
        return "has leap seconds (a right/ zone), which are not supported";
    if (c->timecnt > MAX_TRANS || c->typecnt == 0 || c->typecnt > MAX_TYPES || c->charcnt == 0 ||
        c->charcnt > 65536 || (c->isutcnt != 0 && c->isutcnt != c->typecnt) ||
        (c->isstdcnt != 0 && c->isstdcnt != c->typecnt))
        return "has impossible counts";
    return NULL;
}

/* The size of a data block with tsize-byte times. */
static uint64_t block_size(const tzif_counts *c, int tsize)
{
    return (uint64_t)c->timecnt * (uint64_t)(tsize + 1) + (uint64_t)c->typecnt * 6 + c->charcnt +
           (uint64_t)c->leapcnt * (uint64_t)(tsize + 4) + c->isstdcnt + c->isutcnt;
}

/* Reads the data block at data[pos] (tsize 4 or 8) into tz. */
static const char *read_block(ferry_tz *tz, const uint8_t *data, size_t len, size_t pos,
                              const tzif_counts *c, int tsize)
{
    const uint8_t *p = data + pos, *types;

    if (block_size(c, tsize) > len - pos)
        return "is truncated";
    tz->ntrans = c->timecnt;
    if (c->timecnt > 0) {
        tz->trans = malloc(c->timecnt * sizeof(*tz->trans));
        tz->idx = malloc(c->timecnt);
        if (tz->trans == NULL || tz->idx == NULL)
            return "cannot be held in memory";
    }
    for (uint32_t i = 0; i < c->timecnt; i++) {
        tz->trans[i] = tsize == 8 ? be64(p + (size_t)i * 8) : (int32_t)be32(p + (size_t)i * 4);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return "has transitions out of order";
    }
    p += (size_t)c->timecnt * (size_t)tsize;
    for (uint32_t i = 0; i < c->timecnt; i++) {
        if (p[i] >= c->typecnt)
            return "has a transition to a type that does not exist";
        tz->idx[i] = p[i];
    }
    types = p + c->timecnt;
    tz->ntypes = c->typecnt;
    for (uint32_t i = 0; i < c->typecnt; i++) {
        int32_t off = (int32_t)be32(types + (size_t)i * 6);
        if (off < -MAX_OFFSET || off > MAX_OFFSET || types[i * 6 + 4] > 1 ||
            types[i * 6 + 5] >= c->charcnt)
            return "has a local time type out of range";
        tz->off[i] = off;
    }
    return NULL;
}

ferry_rc ferry_tz_parse(const char *name, const uint8_t *data, size_t len, ferry_tz **ret_tz,
                        ferry_err *err)
{
    ferry_tz *tz;
    tzif_counts c;
    size_t pos = 0;
    int version;
    const char *why;

    if ((tz = tz_new(name)) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "loading time zone '%s'", name);
    if (len > FERRY_TZ_FILE_MAX) {
        why = "is too large";
        goto out_refuse;
    }
    if ((why = read_header(data, len, &pos, &version, &c)) != NULL)
        goto out_refuse;
    if (version == 0) {
        if ((why = read_block(tz, data, len, pos, &c, 4)) != NULL)
            goto out_refuse;
    } else {
        const uint8_t *nl, *end;
        char footer[256];

        if (block_size(&c, 4) > len - pos) {
            why = "is truncated";
            goto out_refuse;
        }
        pos += (size_t)block_size(&c, 4);
        if ((why = read_header(data, len, &pos, &version, &c)) != NULL ||
            (why = read_block(tz, data, len, pos, &c, 8)) != NULL)
            goto out_refuse;
        pos += (size_t)block_size(&c, 8);
        /* The footer: "\n" TZ string "\n". */
        if (len - pos < 2 || data[pos] != '\n' ||
            (nl = memchr(data + pos + 1, '\n', len - pos - 1)) == NULL) {
            why = "has no footer";
            goto out_refuse;
        }
        end = nl;
        if ((size_t)(end - (data + pos + 1)) >= sizeof(footer)) {
            why = "has an overlong footer";
            goto out_refuse;
        }
        memcpy(footer, data + pos + 1, (size_t)(end - (data + pos + 1)));
        footer[end - (data + pos + 1)] = '\0';
        if (footer[0] != '\0' && !parse_posix(footer, &tz->footer)) {
            why = "has a footer that is not a POSIX TZ rule";
            goto out_refuse;
        }
        if (tz->footer.present &&
            (tz->footer.std_off < -MAX_OFFSET || tz->footer.std_off > MAX_OFFSET ||
             tz->footer.dst_off < -MAX_OFFSET || tz->footer.dst_off > MAX_OFFSET)) {
            why = "has a footer offset out of range";
            goto out_refuse;
        }
    }
    tz->min_off = tz->max_off = tz->off[0];
    for (size_t i = 1; i < tz->ntypes; i++) {
        tz->min_off = tz->off[i] < tz->min_off ? tz->off[i] : tz->min_off;
        tz->max_off = tz->off[i] > tz->max_off ? tz->off[i] : tz->max_off;
    }
    if (tz->footer.present) {
        int32_t o[2] = {tz->footer.std_off,
                        tz->footer.has_dst ? tz->footer.dst_off : tz->footer.std_off};
        for (int i = 0; i < 2; i++) {
            tz->min_off = o[i] < tz->min_off ? o[i] : tz->min_off;
            tz->max_off = o[i] > tz->max_off ? o[i] : tz->max_off;
        }
    }
    *ret_tz = tz;
    return FERRY_OK;

out_refuse:
    ferry_tz_free(tz);
    return ferry_err_set(err, FERRY_ECONFIG, "time zone '%s': its TZif file %s", name, why);
}

ferry_rc ferry_tz_load(const char *name, ferry_tz **ret_tz, ferry_err *err)
{
    const char *dir = getenv("TZDIR");
    char path[4096];
    uint8_t *data;
    ssize_t got;
    size_t len = 0;
    int fd;
    ferry_rc rc;

    if (!ferry_tz_name_is_valid(name))
        return ferry_err_set(err, FERRY_ECONFIG, "unknown time zone '%.64s'", name);
    if (strcmp(name, "UTC") == 0) {
        if ((*ret_tz = ferry_tz_utc()) == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "loading time zone 'UTC'");
        return FERRY_OK;
    }
    if (dir == NULL || dir[0] == '\0')
        dir = "/usr/share/zoneinfo";
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return ferry_err_set(err, FERRY_ECONFIG, "unknown time zone '%s'", name);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return ferry_err_set(err, FERRY_ECONFIG, "unknown time zone '%s'", name);
    if ((data = malloc(FERRY_TZ_FILE_MAX + 1)) == NULL) {
        close(fd);
        return ferry_err_set(err, FERRY_ENOMEM, "loading time zone '%s'", name);
    }
    while (len <= FERRY_TZ_FILE_MAX &&
           (got = read(fd, data + len, FERRY_TZ_FILE_MAX + 1 - len)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) { /* a directory ("America") reads as EISDIR */
            free(data);
            close(fd);
            return ferry_err_set(err, FERRY_ECONFIG, "unknown time zone '%s'", name);
        }
        len += (size_t)got;
    }
    close(fd);
    rc = ferry_tz_parse(name, data, len, ret_tz, err);
    free(data);
    return rc;
}

static int32_t offset_s(const ferry_tz *tz, int64_t t)
{
    size_t lo = 0, hi;

    if (tz == NULL)
        return 0;
    if (tz->ntrans == 0)
        return tz->footer.present ? posix_offset(&tz->footer, t) : tz->off[0];
    if (t < tz->trans[0])
        return tz->off[0];
    if (t >= tz->trans[tz->ntrans - 1] && tz->footer.present)
        return posix_offset(&tz->footer, t);
    hi = tz->ntrans; /* the last transition at or before t is in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->off[tz->idx[lo]];
}

int32_t ferry_tz_offset(const ferry_tz *tz, int64_t utc_ms)
{
    return offset_s(tz, utc_ms / 1000 - (utc_ms % 1000 < 0));
}

void ferry_tz_offset_range(const ferry_tz *tz, int32_t *ret_min, int32_t *ret_max)
{
    *ret_min = tz != NULL ? tz->min_off : 0;
    *ret_max = tz != NULL ? tz->max_off : 0;
}

ferry_tz_local_kind ferry_tz_local_resolve(const ferry_tz *tz, int64_t local_s, int64_t *ret_first,
                                           int64_t *ret_second)
{
    int32_t lo_off, hi_off, cand[3];
    int64_t found[3], a, b;
    size_t nfound = 0;

    ferry_tz_offset_range(tz, &lo_off, &hi_off);
    /* Every instant that reads as local_s lies in [a, b]. */
    a = local_s - hi_off;
    b = local_s - lo_off;
    cand[0] = offset_s(tz, a);
    cand[1] = offset_s(tz, b);
    cand[2] = offset_s(tz, a + (b - a) / 2);
    for (int i = 0; i < 3; i++) {
        int64_t u = local_s - cand[i];
        bool seen = false;
        for (size_t j = 0; j < nfound; j++)
            seen = seen || found[j] == u;
        if (!seen && offset_s(tz, u) == cand[i])
            found[nfound++] = u;
    }
    for (size_t i = 1; i < nfound; i++) /* sort, at most three */
        for (size_t j = i; j > 0 && found[j] < found[j - 1]; j--) {
            int64_t t = found[j];
            found[j] = found[j - 1];
            found[j - 1] = t;
        }
    if (nfound == 1) {
        *ret_first = *ret_second = found[0];
        return FERRY_TZ_LOCAL_UNIQUE;
    }
    if (nfound > 1) {
        *ret_first = found[0];
        *ret_second = found[nfound - 1];
        return FERRY_TZ_LOCAL_OVERLAP;
    }
    /* A gap: the clocks jumped somewhere in (a, b]; find the instant they did. */
    {
        int32_t before = offset_s(tz, a);
        while (b - a > 1) {
            int64_t mid = a + (b - a) / 2;
            if (offset_s(tz, mid) == before)
                a = mid;
            else
                b = mid;
        }
    }
    *ret_first = *ret_second = b;
    return FERRY_TZ_LOCAL_GAP;
}
