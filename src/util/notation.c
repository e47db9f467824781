/* notation.c - dates and numbers as a source writes them (see notation.h).
 *
 * Hand-written rather than strptime(3): strptime reads month names and AM/PM in the locale of
 * the process, accepts glibc's own extensions, and differs between C libraries, while a
 * format here must mean the same on every machine and be refused at load when it cannot be
 * read. A date format is interpreted directly at each record (patterns are a few bytes); a
 * number notation is two characters taken from its sample once, at load. */
#include "util/notation.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/text.h"

static const char *const month_names[12] = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december",
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- date formats ---- */

/* What a format's directives give, once each. */
enum {
    HAS_DAY = 1 << 0,
    HAS_MONTH = 1 << 1,
    HAS_YEAR = 1 << 2,
    HAS_HOUR = 1 << 3,   /* %H */
    HAS_HOUR12 = 1 << 4, /* %I */
    HAS_AMPM = 1 << 5,
    HAS_MINUTE = 1 << 6,
    HAS_SECOND = 1 << 7,
    HAS_FRACTION = 1 << 8,
    HAS_ZONE = 1 << 9,
};

/* The part directive c gives, or 0 for an unknown directive. */
static int directive_part(char c)
{
    switch (c) {
    case 'd':
    case 'e':
        return HAS_DAY;
    case 'm':
    case 'b':
    case 'B':
    case 'h':
        return HAS_MONTH;
    case 'Y':
    case 'y':
        return HAS_YEAR;
    case 'H':
        return HAS_HOUR;
    case 'I':
        return HAS_HOUR12;
    case 'p':
        return HAS_AMPM;
    case 'M':
        return HAS_MINUTE;
    case 'S':
        return HAS_SECOND;
    case 'f':
        return HAS_FRACTION;
    case 'z':
        return HAS_ZONE;
    default:
        return 0;
    }
}

bool ferry_notation_date_check(const char *format, bool datetime, char *why, size_t size)
{
    int has = 0;

    if (strlen(format) > FERRY_NOTATION_FORMAT_MAX) {
        snprintf(why, size, "a date format is at most %d characters", FERRY_NOTATION_FORMAT_MAX);
        return false;
    }
    for (const char *p = format; *p != '\0'; p++) {
        int part;
        if (*p != '%')
            continue;
        p++;
        if (*p == '%')
            continue;
        if (*p == '\0') {
            snprintf(why, size, "the format ends in a lone %% (write %%%% for a percent sign)");
            return false;
        }
        part = directive_part(*p);
        if (part == 0) {
            snprintf(why, size,
                     "unknown directive %%%c (known: %%d %%e %%m %%b %%B %%Y %%y %%H %%I %%p "
                     "%%M %%S %%f %%z %%%%)",
                     *p);
            return false;
        }
        if ((part == HAS_HOUR && (has & HAS_HOUR12)) || (part == HAS_HOUR12 && (has & HAS_HOUR)))
            part = HAS_HOUR; /* reported as given twice below */
        if (has & part) {
            snprintf(why, size, "%%%c gives a part of the date or time the format already has", *p);
            return false;
        }
        has |= part;
    }
    if ((has & (HAS_DAY | HAS_MONTH | HAS_YEAR)) != (HAS_DAY | HAS_MONTH | HAS_YEAR)) {
        snprintf(why, size,
                 "a date format needs a day (%%d), a month (%%m or %%b) and a year "
                 "(%%Y or %%y)");
        return false;
    }
    if (((has & HAS_HOUR12) != 0) != ((has & HAS_AMPM) != 0)) {
        snprintf(why, size, "%%I (a 12-hour clock) and %%p (AM or PM) go together");
        return false;
    }
    if (((has & HAS_MINUTE) && !(has & (HAS_HOUR | HAS_HOUR12))) ||
        ((has & HAS_SECOND) && !(has & HAS_MINUTE)) ||
        ((has & HAS_FRACTION) && !(has & HAS_SECOND))) {
        snprintf(why, size,
                 "minutes need an hour, seconds minutes, and %%f (a fraction of a "
                 "second) seconds");
        return false;
    }
    if (!datetime && (has & HAS_ZONE)) {
        snprintf(why, size, "%%z (a time zone) is for datetime fields: a date has none");
        return false;
    }
    return true;
}

/* Reads min to max digits (as many as there are) at s[*i] into *ret. */
static bool read_number(const char *s, size_t n, size_t *i, int min, int max, int *ret)
{
    int v = 0, k = 0;

    while (k < max && *i < n && is_digit(s[*i])) {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    *ret = v;
    return k >= min;
}

/* An English month name, whole or its first three letters, in any case. */
static bool read_month_name(const char *s, size_t n, size_t *i, int *ret)
{
    for (int m = 0; m < 12; m++) {
        size_t len = strlen(month_names[m]);
        if (n - *i >= len && strncasecmp(s + *i, month_names[m], len) == 0) {
            *i += len;
            *ret = m + 1;
            return true;
        }
    }
    for (int m = 0; m < 12; m++) {
        if (n - *i >= 3 && strncasecmp(s + *i, month_names[m], 3) == 0) {
            *i += 3;
            *ret = m + 1;
            return true;
        }
    }
    return false;
}

/* Z, or +HH, +HHMM, +HH:MM (or -), into zone as "Z" or "+HH:MM". */
static bool read_zone(const char *s, size_t n, size_t *i, char zone[8])
{
    int oh = 0, om = 0;
    char sign;

    if (*i < n && (s[*i] == 'Z' || s[*i] == 'z')) {
        (*i)++;
        memcpy(zone, "Z", 2);
        return true;
    }
    if (*i >= n || (s[*i] != '+' && s[*i] != '-'))
        return false;
    sign = s[(*i)++];
    if (!ferry_text_digits_read(s, n, i, 2, &oh))
        return false;
    if (*i < n && s[*i] == ':')
        (*i)++;
    if (*i < n && is_digit(s[*i]) && !ferry_text_digits_read(s, n, i, 2, &om))
        return false;
    if (oh > 23 || om > 59)
        return false;
    snprintf(zone, 8, "%c%02d:%02d", sign, oh, om);
    return true;
}

/* The parts of a date as read. */
struct date_parts {
    int year, month, day, hour, minute, second;
    int hour12; /* %I, or -1 */
    int pm;     /* %p: 1 for PM, 0 for AM, -1 when not given */
    const char *fraction;
    size_t nfraction;
    char zone[8]; /* "" when not given */
};

/* Reads one directive c at s[*i]; false when the text does not fit it. */
static bool read_directive(char c, const char *s, size_t n, size_t *i, struct date_parts *d)
{
    size_t start;

    switch (c) {
    case 'd':
    case 'e':
        return read_number(s, n, i, 1, 2, &d->day);
    case 'm':
        return read_number(s, n, i, 1, 2, &d->month);
    case 'b':
    case 'B':
    case 'h':
        return read_month_name(s, n, i, &d->month);
    case 'Y':
        return ferry_text_digits_read(s, n, i, 4, &d->year);
    case 'y':
        if (!ferry_text_digits_read(s, n, i, 2, &d->year))
            return false;
        d->year += d->year < 69 ? 2000 : 1900; /* as POSIX strptime */
        return true;
    case 'H':
        return read_number(s, n, i, 1, 2, &d->hour) && d->hour <= 23;
    case 'I':
        return read_number(s, n, i, 1, 2, &d->hour12) && d->hour12 >= 1 && d->hour12 <= 12;
    case 'p':
        if (n - *i >= 2 &&
            (strncasecmp(s + *i, "am", 2) == 0 || strncasecmp(s + *i, "pm", 2) == 0)) {
            d->pm = s[*i] == 'p' || s[*i] == 'P';
            *i += 2;
            return true;
        }
        return false;
    case 'M':
        return read_number(s, n, i, 1, 2, &d->minute) && d->minute <= 59;
    case 'S':
        return read_number(s, n, i, 1, 2, &d->second) && d->second <= 60;
    case 'f':
        start = *i;
        while (*i < n && is_digit(s[*i]) && *i - start < 9)
            (*i)++;
        d->fraction = s + start;
        d->nfraction = *i - start;
        return d->nfraction > 0;
    case 'z':
        return read_zone(s, n, i, d->zone);
    case '%':
        if (*i < n && s[*i] == '%') {
            (*i)++;
            return true;
        }
        return false;
    default:
        return false;
    }
}

ferry_notation_result ferry_notation_date_read(const char *format, bool datetime, const char *s,
                                               size_t n, ferry_buf *out)
{
    const ferry_notation_result mismatch = FERRY_NOTATION_NO_MATCH;
    struct date_parts d = {.hour12 = -1, .pm = -1};
    char buf[48];
    size_t i = 0;
    int len;

    for (const char *p = format; *p != '\0'; p++) {
        if (*p == '%') {
            p++;
            if (*p == '\0' || !read_directive(*p, s, n, &i, &d))
                return mismatch;
        } else if (is_blank(*p)) {
            size_t start = i;
            while (is_blank(p[1]))
                p++;
            while (i < n && is_blank(s[i]))
                i++;
            if (i == start)
                return mismatch;
        } else if (i < n && s[i] == *p) {
            i++;
        } else {
            return mismatch;
        }
    }
    if (i != n)
        return mismatch;
    if (d.year < 1 || d.month < 1 || d.month > 12 || d.day < 1 ||
        d.day > ferry_text_days_in_month(d.year, d.month))
        return FERRY_NOTATION_NOT_A_DATE;
    if (d.hour12 >= 0)
        d.hour = d.hour12 % 12 + (d.pm == 1 ? 12 : 0);
    if (!datetime)
        len = snprintf(buf, sizeof(buf), "%04d-%02d-%02d", d.year, d.month, d.day);
    else
        len = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", d.year, d.month, d.day,
                       d.hour, d.minute, d.second);
    if (ferry_buf_append(out, buf, (size_t)len) != FERRY_OK)
        return FERRY_NOTATION_NOMEM;
    if (datetime && d.nfraction > 0 &&
        (ferry_buf_append(out, ".", 1) != FERRY_OK ||
         ferry_buf_append(out, d.fraction, d.nfraction) != FERRY_OK))
        return FERRY_NOTATION_NOMEM;
    if (datetime && ferry_buf_append(out, d.zone, strlen(d.zone)) != FERRY_OK)
        return FERRY_NOTATION_NOMEM;
    return FERRY_NOTATION_OK;
}

/* ---- number notations ---- */

/* The length of a separator at s[i] (normalised into *ret: a no-break space is ' '), or 0. */
static size_t separator_at(const char *s, size_t n, size_t i, char *ret)
{
    if (s[i] == '.' || s[i] == ',' || s[i] == ' ' || s[i] == '\'') {
        *ret = s[i];
        return 1;
    }
    if (n - i >= 2 && memcmp(s + i, "\xC2\xA0", 2) == 0) { /* U+00A0 no-break space */
        *ret = ' ';
        return 2;
    }
    if (n - i >= 3 && memcmp(s + i, "\xE2\x80\xAF", 3) == 0) { /* U+202F narrow no-break space */
        *ret = ' ';
        return 3;
    }
    return 0;
}

bool ferry_notation_number_parse(const char *sample, bool whole, ferry_number_notation *ret,
                                 char *why, size_t size)
{
    static const char *const hint =
        "write a sample number such as 1.234,50 ('.' groups thousands, ',' marks decimals) or "
        "1,234.50";
    size_t n = strlen(sample), i = 0, k, nsep = 0, digits = 0;
    char sep[32];
    size_t run[33]; /* digits before each separator, then after the last */
    ferry_number_notation nn = {0, 0};

    if (i < n && (sample[i] == '-' || sample[i] == '+'))
        i++;
    while (i < n) {
        char c;
        if (is_digit(sample[i])) {
            digits++;
            i++;
            continue;
        }
        if ((k = separator_at(sample, n, i, &c)) == 0 || digits == 0 || nsep == 31)
            goto bad;
        run[nsep] = digits;
        sep[nsep++] = c;
        digits = 0;
        i += k;
    }
    run[nsep] = digits;
    if (digits == 0 || nsep == 0)
        goto bad;
    /* The last separator marks decimals when another kind comes before it, or when it is a
     * '.' or ',' that is not followed by a group of three; the others group thousands. */
    char last = sep[nsep - 1];
    bool mixed = false;
    size_t ngroup = nsep;
    for (k = 0; k + 1 < nsep; k++)
        mixed = mixed || sep[k] != last;
    bool grouped = nsep == 1 && run[1] == 3 && run[0] <= 3; /* "1.234" */
    if (mixed || (nsep == 1 && (last == '.' || last == ',') && !(grouped && whole))) {
        if (grouped && !mixed) {
            snprintf(why, size, "'%s' is ambiguous: '%c' may group thousands or mark decimals; %s",
                     sample, last, hint);
            return false;
        }
        if (last != '.' && last != ',')
            goto bad;
        nn.decimal = last;
        ngroup = nsep - 1;
    }
    for (k = 0; k < ngroup; k++)
        if (sep[k] != sep[0] || (k == 0 ? run[0] > 3 : run[k] != 3) || run[k + 1] != 3)
            goto bad;
    if (ngroup > 0)
        nn.group = sep[0];
    if (nn.decimal == 0 && nn.group == '.')
        nn.decimal = ',';
    else if (nn.decimal == 0 && nn.group == ',')
        nn.decimal = '.';
    *ret = nn;
    return true;
bad:
    snprintf(why, size, "'%s' is not a number notation: %s", sample, hint);
    return false;
}

ferry_notation_result ferry_notation_number_read(const ferry_number_notation *nn, const char *s,
                                                 size_t n, ferry_buf *out)
{
    const ferry_notation_result mismatch = FERRY_NOTATION_NO_MATCH;
    size_t i = 0, run = 0, groups = 0, frac_start = 0, frac_end = 0;
    bool neg = false;
    char c;

    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (neg && ferry_buf_append(out, "-", 1) != FERRY_OK)
        return FERRY_NOTATION_NOMEM;
    while (i < n) {
        size_t k;
        if (is_digit(s[i])) {
            if (ferry_buf_append(out, s + i, 1) != FERRY_OK)
                return FERRY_NOTATION_NOMEM;
            run++;
            i++;
            continue;
        }
        if (nn->group != 0 && (k = separator_at(s, n, i, &c)) > 0 && c == nn->group) {
            /* The first group has one to three digits, every later one three. */
            if (run == 0 || run > 3 || (groups > 0 && run != 3))
                return mismatch;
            groups++;
            run = 0;
            i += k;
            continue;
        }
        break;
    }
    if (groups > 0 && run != 3)
        return mismatch;
    if (i < n && nn->decimal != 0 && s[i] == nn->decimal) {
        frac_start = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        frac_end = i;
        if (frac_end == frac_start)
            return mismatch;
    }
    if (i != n || (run == 0 && groups == 0 && frac_end == frac_start))
        return mismatch;
    while (frac_end > frac_start && s[frac_end - 1] == '0')
        frac_end--;
    if (frac_end > frac_start &&
        (ferry_buf_append(out, ".", 1) != FERRY_OK ||
         ferry_buf_append(out, s + frac_start, frac_end - frac_start) != FERRY_OK))
        return FERRY_NOTATION_NOMEM;
    return FERRY_NOTATION_OK;
}
