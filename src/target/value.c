/* value.c - column types, fitting and comparing values by value (see value.h).
 *
 * Design: each kind has one comparison form, built from text alone, so the same code serves
 * a stored value read back as text (SQLite's column text, PostgreSQL's ::text or COPY text)
 * and a record's canonical value. Numbers lose their sign on zero, leading and trailing zeros;
 * instants become the mapper's "YYYY-MM-DDTHH:MM:SS[.fff]Z" in UTC (an input without an
 * offset is UTC, which is what a timestamp without time zone holds); uuids their hyphens,
 * braces and case (PostgreSQL's lower-case form); JSON is re-encoded compactly with sorted
 * keys. A diff shows these forms, so it reads the same on every backend. A value that does not
 * parse is left as it is, so it compares as text. */
#define _DEFAULT_SOURCE /* timegm() */
#include "target/value.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/text.h"

#define SHOWN_MAX 60

static bool has(const char *s, const char *word)
{
    size_t n = strlen(word);

    for (; *s; s++) {
        if (strncasecmp(s, word, n) == 0)
            return true;
    }
    return false;
}

/* The numbers in "name(p)" or "name(p,s)"; false without parentheses. */
static bool type_args(const char *decl, long *p, long *s)
{
    const char *open = strchr(decl, '(');
    char *end;

    if (open == NULL)
        return false;
    *p = strtol(open + 1, &end, 10);
    *s = 0;
    while (*end == ' ')
        end++;
    if (*end == ',')
        *s = strtol(end + 1, &end, 10);
    return *p > 0;
}

/* PostgreSQL names its types exactly (format_type): match them, not words inside them
 * ("interval" is not an integer). */
static void parse_pg(const char *decl, ferry_column_type *ret)
{
    static const struct {
        const char *prefix;
        ferry_column_kind kind;
        int64_t min, max;
    } types[] = {
        {"boolean", FERRY_COLUMN_BOOLEAN, 0, 0},
        {"smallint", FERRY_COLUMN_INTEGER, -32768, 32767},
        {"integer", FERRY_COLUMN_INTEGER, INT32_MIN, INT32_MAX},
        {"bigint", FERRY_COLUMN_INTEGER, INT64_MIN, INT64_MAX},
        {"numeric", FERRY_COLUMN_NUMERIC, 0, 0},
        {"real", FERRY_COLUMN_FLOAT, 0, 0},
        {"double precision", FERRY_COLUMN_FLOAT, 0, 0},
        {"date", FERRY_COLUMN_DATE, 0, 0},
        {"uuid", FERRY_COLUMN_UUID, 0, 0},
        {"jsonb", FERRY_COLUMN_JSON, 0, 0},
        {"json", FERRY_COLUMN_JSON, 0, 0},
        {"citext", FERRY_COLUMN_CITEXT, 0, 0},
    };
    long p = 0, s = 0;

    if (strchr(decl, '[') != NULL)
        return; /* an array: compared as text */
    /* timestamp(6) without time zone, timestamp(3) with time zone */
    if (strncmp(decl, "timestamp", 9) == 0) {
        ret->kind = strstr(decl, "with time zone") != NULL && strstr(decl, "without") == NULL
                        ? FERRY_COLUMN_TIMESTAMPTZ
                        : FERRY_COLUMN_TIMESTAMP;
        return;
    }
    if (strncmp(decl, "time", 4) == 0 && strstr(decl, "without time zone") != NULL) {
        ret->kind = FERRY_COLUMN_TIME;
        return;
    }
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i].prefix);
        if (strncmp(decl, types[i].prefix, n) != 0 || (decl[n] != '\0' && decl[n] != '('))
            continue;
        ret->kind = types[i].kind;
        ret->jsonb = strcmp(decl, "jsonb") == 0;
        ret->min = types[i].min;
        ret->max = types[i].max;
        if (ret->kind == FERRY_COLUMN_NUMERIC && type_args(decl, &p, &s) && s >= 0 && s <= p) {
            ret->precision = (int)p;
            ret->scale = (int)s;
        }
        return;
    }
    /* character varying(n), character(n) */
    if (strncmp(decl, "character", 9) == 0 && type_args(decl, &p, &s))
        ret->maxlen = p;
}

void ferry_column_type_parse(const char *decl, bool sqlite, ferry_column_type *ret)
{
    long p = 0, s = 0;

    memset(ret, 0, sizeof(*ret));
    ret->strict = !sqlite;
    ret->kind = FERRY_COLUMN_TEXT;
    if (decl == NULL)
        decl = "";
    snprintf(ret->decl, sizeof(ret->decl), "%s", decl);
    if (!sqlite) {
        parse_pg(decl, ret);
        return;
    }
    /* SQLite: words inside the declared type, as its affinity rules read them; "timestamp"
     * before "time", "bool" and "uuid" before "int". tinyint(1) is MySQL's boolean, which
     * Laravel's boolean() declares on SQLite too. */
    if (has(decl, "bool") || strcasecmp(decl, "tinyint(1)") == 0) {
        ret->kind = FERRY_COLUMN_BOOLEAN;
    } else if (has(decl, "uuid")) {
        ret->kind = FERRY_COLUMN_UUID;
    } else if (has(decl, "json")) {
        ret->kind = FERRY_COLUMN_JSON;
        ret->jsonb = has(decl, "jsonb");
    } else if (has(decl, "citext")) {
        ret->kind = FERRY_COLUMN_CITEXT;
    } else if (has(decl, "timestamp") || has(decl, "datetime")) {
        ret->kind = has(decl, "with time zone") && !has(decl, "without") ? FERRY_COLUMN_TIMESTAMPTZ
                                                                         : FERRY_COLUMN_TIMESTAMP;
    } else if (has(decl, "date")) {
        ret->kind = FERRY_COLUMN_DATE;
    } else if (has(decl, "time")) {
        /* time with time zone keeps an offset of its own: compared as text. */
        ret->kind = has(decl, "with time zone") && !has(decl, "without") ? FERRY_COLUMN_TEXT
                                                                         : FERRY_COLUMN_TIME;
    } else if (has(decl, "int")) {
        ret->kind = FERRY_COLUMN_INTEGER;
        ret->min = INT64_MIN;
        ret->max = INT64_MAX;
        if (has(decl, "smallint") || has(decl, "int2")) {
            /* SQLite stores any integer; the application's schema says smallint. */
            ret->min = -32768;
            ret->max = 32767;
        }
    } else if (has(decl, "char") || has(decl, "clob") || has(decl, "text")) {
        ret->kind = FERRY_COLUMN_TEXT;
        if (type_args(decl, &p, &s))
            ret->maxlen = p;
    } else if (has(decl, "real") || has(decl, "floa") || has(decl, "doub")) {
        ret->kind = FERRY_COLUMN_FLOAT;
    } else if (has(decl, "numeric") || has(decl, "decimal")) {
        ret->kind = FERRY_COLUMN_NUMERIC;
        if (type_args(decl, &p, &s) && s >= 0 && s <= p) {
            ret->precision = (int)p;
            ret->scale = (int)s;
        }
    }
}

bool ferry_column_type_has_norm(const ferry_column_type *ct)
{
    return ct->kind != FERRY_COLUMN_TEXT;
}

bool ferry_column_type_needs_check(const ferry_column_type *ct, ferry_field_type ft)
{
    switch (ct->kind) {
    case FERRY_COLUMN_TEXT:
        return ct->maxlen > 0;
    case FERRY_COLUMN_CITEXT:
        return false;
    case FERRY_COLUMN_INTEGER:
        return ct->min != INT64_MIN ||
               (ct->strict && ft != FERRY_TYPE_INTEGER && ft != FERRY_TYPE_BOOLEAN);
    case FERRY_COLUMN_NUMERIC:
        return ct->precision > 0 ||
               (ct->strict && ft != FERRY_TYPE_INTEGER && ft != FERRY_TYPE_DECIMAL);
    case FERRY_COLUMN_FLOAT:
        return ct->strict && ft != FERRY_TYPE_INTEGER && ft != FERRY_TYPE_DECIMAL;
    case FERRY_COLUMN_BOOLEAN:
        return ft != FERRY_TYPE_BOOLEAN;
    case FERRY_COLUMN_DATE:
        return ct->strict && ft != FERRY_TYPE_DATE;
    case FERRY_COLUMN_TIMESTAMP:
    case FERRY_COLUMN_TIMESTAMPTZ:
        return ct->strict && ft != FERRY_TYPE_DATETIME && ft != FERRY_TYPE_DATE;
    default:
        return true;
    }
}

/* ---- numbers ---------------------------------------------------------------------------- */

/* Splits a plain decimal ("-012.50", "+3", ".5", "7.") into sign and the significant digits
 * before and after the point. False for anything else (exponents, words). */
static bool split_decimal(const char *v, size_t n, bool *neg, const char **ip, size_t *in,
                          const char **fp, size_t *fn)
{
    size_t i = 0, start;

    *neg = false;
    if (i < n && (v[i] == '-' || v[i] == '+'))
        *neg = v[i++] == '-';
    start = i;
    while (i < n && isdigit((unsigned char)v[i]))
        i++;
    *ip = v + start;
    *in = i - start;
    *fp = v + i;
    *fn = 0;
    if (i < n && v[i] == '.') {
        *fp = v + ++i;
        while (i < n && isdigit((unsigned char)v[i]))
            i++;
        *fn = (size_t)(v + i - *fp);
    }
    if (i != n || *in + *fn == 0)
        return false;
    while (*in > 0 && **ip == '0') {
        (*ip)++;
        (*in)--;
    }
    while (*fn > 0 && (*fp)[*fn - 1] == '0')
        (*fn)--;
    return true;
}

static const char *norm_number(const char *v, ferry_buf *out)
{
    const char *ip, *fp;
    size_t in, fn;
    bool neg;

    if (!split_decimal(v, strlen(v), &neg, &ip, &in, &fp, &fn))
        return v;
    ferry_buf_reset(out);
    if (neg && in + fn > 0)
        ferry_buf_append(out, "-", 1);
    if (in == 0)
        ferry_buf_append(out, "0", 1);
    else
        ferry_buf_append(out, ip, in);
    if (fn > 0) {
        ferry_buf_append(out, ".", 1);
        ferry_buf_append(out, fp, fn);
    }
    return out->truncated || out->data == NULL ? v : ferry_buf_str(out);
}

/* ---- booleans ----------------------------------------------------------------------------- */

/* ---- instants ----------------------------------------------------------------------------- */

/* Reads "HH:MM[:SS[.f]]" at s[*i]; the fraction's digits without trailing zeros. */
static bool parse_clock(const char *s, size_t n, size_t *i, int *h, int *mi, int *sec,
                        const char **frac, size_t *fn)
{
    *sec = 0;
    *fn = 0;
    if (!ferry_text_digits_read(s, n, i, 2, h) || *i >= n || s[(*i)++] != ':' ||
        !ferry_text_digits_read(s, n, i, 2, mi))
        return false;
    if (*i < n && s[*i] == ':') {
        (*i)++;
        if (!ferry_text_digits_read(s, n, i, 2, sec))
            return false;
        if (*i < n && s[*i] == '.') {
            *frac = s + ++(*i);
            while (*i < n && isdigit((unsigned char)s[*i]))
                (*i)++;
            *fn = (size_t)(s + *i - *frac);
            if (*fn == 0 || *fn > 9)
                return false;
            while (*fn > 0 && (*frac)[*fn - 1] == '0')
                (*fn)--;
        }
    }
    return *h <= 24 && *mi <= 59 && *sec <= 60;
}

/* Parses "YYYY-MM-DD[( |T)HH:MM[:SS[.f]]][ ][Z|+HH[[:]MM]]" into UTC seconds and the
 * fraction's digits (trailing zeros cut). date_only: the value had no time. */
static bool parse_instant(const char *s, size_t n, time_t *ret, const char **frac, size_t *fn,
                          bool *date_only)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
    size_t i = 0;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    *frac = s;
    *fn = 0;
    *date_only = true;
    if (!ferry_text_digits_read(s, n, &i, 4, &y) || i >= n || s[i++] != '-' ||
        !ferry_text_digits_read(s, n, &i, 2, &mo) || i >= n || s[i++] != '-' ||
        !ferry_text_digits_read(s, n, &i, 2, &d))
        return false;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
        return false;
    if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        *date_only = false;
        if (!parse_clock(s, n, &i, &h, &mi, &sec, frac, fn))
            return false;
        if (i < n && s[i] == ' ')
            i++;
        if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            sign = s[i++] == '+' ? 1 : -1;
            if (!ferry_text_digits_read(s, n, &i, 2, &oh))
                return false;
            if (i < n && s[i] == ':')
                i++;
            if (i < n && !ferry_text_digits_read(s, n, &i, 2, &om))
                return false;
        }
    }
    if (i != n || h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
        return false;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec == 60 ? 59 : sec;
    *ret = timegm(&tm) - (time_t)sign * (oh * 3600 + om * 60);
    return true;
}

/* Formats t as "YYYY-MM-DD<sep>HH:MM:SS[.frac]<zone>". */
static bool format_instant(time_t t, const char *frac, size_t fn, char sep, const char *zone,
                           char *out, size_t outlen)
{
    struct tm tm;
    int n;

    if (gmtime_r(&t, &tm) == NULL)
        return false;
    n = snprintf(out, outlen, "%04d-%02d-%02d%c%02d:%02d:%02d%s%.*s%s", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, sep, tm.tm_hour, tm.tm_min, tm.tm_sec, fn ? "." : "",
                 (int)fn, frac, zone);
    return n > 0 && (size_t)n < outlen;
}

static const char *norm_instant(const char *v, ferry_buf *out)
{
    const char *frac;
    size_t fn;
    bool date_only;
    time_t t;
    char tmp[64];

    if (!parse_instant(v, strlen(v), &t, &frac, &fn, &date_only) ||
        !format_instant(t, frac, fn, 'T', "Z", tmp, sizeof(tmp)))
        return v;
    ferry_buf_reset(out);
    return ferry_buf_append(out, tmp, strlen(tmp)) == FERRY_OK ? ferry_buf_str(out) : v;
}

bool ferry_column_datetime_plain(const char *v, char *out, size_t outlen)
{
    const char *frac;
    size_t fn;
    bool date_only;
    time_t t;

    return parse_instant(v, strlen(v), &t, &frac, &fn, &date_only) &&
           format_instant(t, frac, fn, ' ', "", out, outlen);
}

/* "HH:MM[:SS[.f]]" as "HH:MM:SS[.f]" without trailing zeros. */
static const char *norm_time(const char *v, ferry_buf *out)
{
    size_t n = strlen(v), i = 0, fn;
    int h, m, sec;
    const char *frac = v;
    char tmp[40];

    if (!parse_clock(v, n, &i, &h, &m, &sec, &frac, &fn) || i != n)
        return v;
    snprintf(tmp, sizeof(tmp), "%02d:%02d:%02d%s%.*s", h, m, sec, fn ? "." : "", (int)fn, frac);
    ferry_buf_reset(out);
    return ferry_buf_append(out, tmp, strlen(tmp)) == FERRY_OK ? ferry_buf_str(out) : v;
}

/* ---- uuids and JSON ------------------------------------------------------------------------ */

/* The 32 hex digits of a uuid in lower case, as PostgreSQL reads one: optional braces, a
 * hyphen after any group of four digits. False when it is not one. */
static bool uuid_digits(const char *v, size_t n, char hex[33])
{
    size_t i = 0, k = 0;
    bool brace = n > 0 && v[0] == '{';

    if (brace) {
        if (n < 2 || v[n - 1] != '}')
            return false;
        i = 1;
        n--;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '-' && k > 0 && k % 4 == 0 && i + 1 < n && v[i + 1] != '-')
            continue;
        if (!isxdigit(c) || k == 32)
            return false;
        hex[k++] = (char)tolower(c);
    }
    hex[k] = '\0';
    return k == 32;
}

/* The uuid in PostgreSQL's form: lower case, hyphens after digits 8, 12, 16 and 20. */
static const char *norm_uuid(const char *v, ferry_buf *out)
{
    char hex[33];

    if (!uuid_digits(v, strlen(v), hex))
        return v;
    ferry_buf_reset(out);
    ferry_buf_printf_trunc(out, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
                           hex + 20);
    return out->truncated ? v : ferry_buf_str(out);
}

static const char *norm_json(const char *v, ferry_buf *out)
{
    json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
    char *s;
    const char *ret = v;

    if (j == NULL)
        return v;
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(j);
    if (s == NULL)
        return v;
    ferry_buf_reset(out);
    if (ferry_buf_append(out, s, strlen(s)) == FERRY_OK)
        ret = ferry_buf_str(out);
    free(s);
    return ret;
}

static const char *norm_citext(const char *v, ferry_buf *out)
{
    size_t n = strlen(v);

    ferry_buf_reset(out);
    if (ferry_buf_append(out, v, n) != FERRY_OK)
        return v;
    for (size_t i = 0; i < n; i++)
        out->data[i] = (char)tolower((unsigned char)out->data[i]);
    return ferry_buf_str(out);
}

const char *ferry_column_value_norm(const ferry_column_type *ct, const char *v, ferry_buf *out)
{
    int b;

    if (v == NULL)
        return NULL;
    switch (ct->kind) {
    case FERRY_COLUMN_INTEGER:
    case FERRY_COLUMN_NUMERIC:
    case FERRY_COLUMN_FLOAT:
        return norm_number(v, out);
    case FERRY_COLUMN_BOOLEAN:
        b = ferry_text_boolean_parse(v, strlen(v));
        return b < 0 ? v : b ? "1" : "0";
    case FERRY_COLUMN_TIMESTAMP:
    case FERRY_COLUMN_TIMESTAMPTZ:
        return norm_instant(v, out);
    case FERRY_COLUMN_TIME:
        return norm_time(v, out);
    case FERRY_COLUMN_UUID:
        return norm_uuid(v, out);
    case FERRY_COLUMN_JSON:
        return norm_json(v, out);
    case FERRY_COLUMN_CITEXT:
        return norm_citext(v, out);
    case FERRY_COLUMN_DATE:
    case FERRY_COLUMN_TEXT:
        break;
    }
    return v;
}

const char *ferry_column_value_show(const ferry_column_type *ct, const char *v, const char *norm)
{
    if (v == NULL)
        return NULL;
    switch (ct->kind) {
    case FERRY_COLUMN_BOOLEAN:
        if (strcmp(norm, "1") == 0)
            return "true";
        return strcmp(norm, "0") == 0 ? "false" : v;
    case FERRY_COLUMN_TEXT:
    case FERRY_COLUMN_CITEXT:
        return v;
    default:
        return norm;
    }
}

/* ---- fitting ---------------------------------------------------------------------------- */

static size_t utf8_chars(const char *v, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)v[i] & 0xC0) != 0x80;
    return n;
}

/* Why v does not fit, or NULL; the number fits into why_buf when needed. */
static const char *misfit(const ferry_column_type *ct, const char *v, size_t len, char *why_buf,
                          size_t why_len)
{
    const char *ip, *fp, *frac;
    size_t in, fn, n;
    bool neg, date_only;
    time_t t;
    char hex[33], *end;
    json_t *j;

    switch (ct->kind) {
    case FERRY_COLUMN_TEXT:
        if (ct->maxlen > 0 && utf8_chars(v, len) > (size_t)ct->maxlen) {
            snprintf(why_buf, why_len, "it is longer than %ld characters", ct->maxlen);
            return why_buf;
        }
        return NULL;
    case FERRY_COLUMN_BOOLEAN:
        return ferry_text_boolean_parse(v, len) < 0
                   ? "it is not a boolean (true/false, yes/no or 1/0)"
                   : NULL;
    case FERRY_COLUMN_INTEGER:
        /* SQLite keeps text that is not an integer as text: only the range is checked. */
        if (!split_decimal(v, len, &neg, &ip, &in, &fp, &fn) || fn > 0)
            return ct->strict ? "it is not an integer" : NULL;
        errno = 0;
        {
            long long x = strtoll(v, &end, 10);
            if (errno == ERANGE || x < ct->min || x > ct->max) {
                snprintf(why_buf, why_len, "it is out of range (%lld to %lld)", (long long)ct->min,
                         (long long)ct->max);
                return why_buf;
            }
        }
        return NULL;
    case FERRY_COLUMN_NUMERIC:
        if (!split_decimal(v, len, &neg, &ip, &in, &fp, &fn))
            return ct->strict ? "it is not a number" : NULL;
        if (ct->precision > 0 && in > (size_t)(ct->precision - ct->scale)) {
            snprintf(why_buf, why_len, "it is out of range (at most %d digits before the point)",
                     ct->precision - ct->scale);
            return why_buf;
        }
        if (ct->precision > 0 && fn > (size_t)ct->scale) {
            snprintf(why_buf, why_len, "it has more than %d decimal places", ct->scale);
            return why_buf;
        }
        return NULL;
    case FERRY_COLUMN_FLOAT:
        if (!ct->strict)
            return NULL;
        strtod(v, &end);
        return end == v || (size_t)(end - v) != len ? "it is not a number" : NULL;
    case FERRY_COLUMN_DATE:
        if (!ct->strict)
            return NULL;
        return parse_instant(v, len, &t, &frac, &n, &date_only) && date_only
                   ? NULL
                   : "it is not a date (YYYY-MM-DD)";
    case FERRY_COLUMN_TIMESTAMP:
    case FERRY_COLUMN_TIMESTAMPTZ:
        if (!ct->strict)
            return NULL;
        return parse_instant(v, len, &t, &frac, &n, &date_only) ? NULL : "it is not a date-time";
    case FERRY_COLUMN_TIME:
        if (!ct->strict)
            return NULL;
        {
            ferry_buf tmp;
            const char *r;
            ferry_buf_init(&tmp, 64);
            r = norm_time(v, &tmp) == v ? "it is not a time (HH:MM[:SS])" : NULL;
            ferry_buf_done(&tmp);
            return r;
        }
    case FERRY_COLUMN_UUID:
        return uuid_digits(v, len, hex) ? NULL : "it is not a uuid";
    case FERRY_COLUMN_JSON:
        if ((j = json_loadb(v, len, JSON_DECODE_ANY, NULL)) == NULL)
            return "it is not JSON";
        json_decref(j);
        return NULL;
    case FERRY_COLUMN_CITEXT:
        return NULL;
    }
    return NULL;
}

bool ferry_column_value_fits(const ferry_column_type *ct, const char *name, const char *v,
                             size_t len, char *reason, size_t reasonlen)
{
    char why_buf[96];
    const char *why = misfit(ct, v, len, why_buf, sizeof(why_buf));
    size_t cut = len;

    if (why == NULL)
        return true;
    if (cut > SHOWN_MAX) {
        cut = SHOWN_MAX - 3;
        while (cut > 0 && ((unsigned char)v[cut] & 0xC0) == 0x80)
            cut--; /* do not split a UTF-8 sequence */
    }
    snprintf(reason, reasonlen, "column '%s' (%s) cannot hold '%.*s%s': %s", name, ct->decl,
             (int)cut, v, cut < len ? "..." : "", why);
    return false;
}

bool ferry_column_record_fits(const ferry_sync_spec *sync, const ferry_column_type *types,
                              const bool *check, const ferry_mapped_record *rec, char *reason,
                              size_t reasonlen)
{
    for (size_t i = 0; i < sync->nfields; i++) {
        if (check[i] && rec->value[i] != NULL &&
            !ferry_column_value_fits(&types[i], sync->fields[i].name, rec->value[i], rec->len[i],
                                     reason, reasonlen))
            return false;
    }
    return true;
}
