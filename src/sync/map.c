/* map.c - field typing, validation and skip rules (see map.h).
 *
 * Canonical forms (what is stored and compared):
 *   text      the value as given (after trim)
 *   integer   optional '-', digits without leading zeros; must fit 64 bits
 *   decimal   optional '-', digits, '.' and fraction digits without trailing zeros ("12.5")
 *   boolean   "1" or "0" (accepts true/false, yes/no, y/n, t/f, on/off, 1/0)
 *   date      "YYYY-MM-DD" (a real calendar date)
 *   datetime  "YYYY-MM-DDTHH:MM:SS[.fff]Z" in UTC; an input offset is applied, an input
 *             without one is taken as UTC
 *   email     local part as given, domain lower-cased
 *   enum      the spelling from the config's values (matched case-insensitively)
 *
 * Order per record: a source error fails it; then fields used by skip rules are converted and
 * the rules applied (a skipped record is not validated further); then every other field. The
 * first problem is the reason. A record skipped or failed still has its key fields and its
 * name's (label:) fields read where they can be, for its change row. Values are copied into one
 * arena per record; pointers into it are fixed up once the record is complete, since the arena may
 * move while it grows. */
#include "sync/map.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sync/transform.h"
#include "util/text.h"

#define REASON_MAX 1024
#define SHOWN_VALUE_MAX 60

struct ferry_mapper {
    const ferry_sync_spec *sync;
    ferry_buf arena;
    ferry_buf tmp;
    ferry_buf key;
    ferry_buf reason;
    ferry_transform_bufs tx; /* the fields' transforms build values here */
    size_t *off;             /* offset of each value in the arena, or SIZE_MAX for NULL */
    const char **value;
    size_t *len;
    bool *in_skip;     /* the field is used by a skip rule */
    size_t *key_field; /* field index of each key column */
    char *tenant;      /* the value of the tenant's field, or NULL */
    const char *word;  /* what messages call a record: "row" (CSV) or "record" (REST) */
};

ferry_rc ferry_mapper_new(const ferry_sync_spec *sync, const char *tenant,
                          ferry_mapper **ret_mapper, ferry_err *err)
{
    ferry_mapper *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the mapper");
    m->sync = sync;
    m->word = sync->source.kind == FERRY_SOURCE_REST ? "record" : "row";
    if (tenant != NULL && (m->tenant = strdup(tenant)) == NULL) {
        free(m);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the mapper");
    }
    /* A record's values are bounded by the source's field limit times the field count. */
    ferry_buf_init(&m->arena, SIZE_MAX / 2);
    ferry_buf_init(&m->tmp, SIZE_MAX / 2);
    ferry_buf_init(&m->key, 4096);
    ferry_buf_init(&m->reason, REASON_MAX);
    ferry_transform_bufs_init(&m->tx, SIZE_MAX / 2);
    m->off = calloc(sync->nfields, sizeof(*m->off));
    m->value = calloc(sync->nfields, sizeof(*m->value));
    m->len = calloc(sync->nfields, sizeof(*m->len));
    m->in_skip = calloc(sync->nfields, sizeof(*m->in_skip));
    if (m->off == NULL || m->value == NULL || m->len == NULL || m->in_skip == NULL) {
        ferry_mapper_free(m);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the mapper");
    }
    for (size_t i = 0; i < sync->nskips; i++)
        m->in_skip[sync->skips[i].field] = true;
    m->key_field = calloc(sync->target.nkey, sizeof(*m->key_field));
    if (m->key_field == NULL) {
        ferry_mapper_free(m);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the mapper");
    }
    for (size_t k = 0; k < sync->target.nkey; k++) {
        long f = ferry_sync_field_index(sync, sync->target.key[k]);
        if (f < 0) {
            ferry_mapper_free(m);
            return ferry_err_set(err, FERRY_ECONFIG, "key '%s' is not a field",
                                 sync->target.key[k]);
        }
        m->key_field[k] = (size_t)f;
    }
    *ret_mapper = m;
    return FERRY_OK;
}

void ferry_mapper_free(ferry_mapper *m)
{
    if (m == NULL)
        return;
    ferry_buf_done(&m->arena);
    ferry_buf_done(&m->tmp);
    ferry_buf_done(&m->key);
    ferry_buf_done(&m->reason);
    ferry_transform_bufs_done(&m->tx);
    free(m->tenant);
    free(m->off);
    free(m->value);
    free(m->len);
    free(m->in_skip);
    free(m->key_field);
    free(m);
}

/* ---- conversions ---- */

static ferry_rc put(ferry_buf *out, const char *p, size_t n)
{
    return ferry_buf_append(out, p, n);
}

static const char *conv_integer(const char *s, size_t n, ferry_buf *out)
{
    size_t i = 0, start;
    bool neg = false;
    uint64_t v = 0;
    char digits[24];

    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    start = i;
    if (i == n)
        return "is not an integer";
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return "is not an integer";
        if (v > (UINT64_MAX - 9) / 10)
            return "is out of range for an integer";
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    (void)start;
    if ((!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1))
        return "is out of range for an integer";
    if (v == 0)
        neg = false;
    snprintf(digits, sizeof(digits), "%s%llu", neg ? "-" : "", (unsigned long long)v);
    return put(out, digits, strlen(digits)) == FERRY_OK ? NULL : "is too long";
}

static const char *conv_decimal(const char *s, size_t n, ferry_buf *out)
{
    size_t i = 0, int_start, int_end, frac_start, frac_end;
    bool neg = false;

    if (n > 64)
        return "is too long for a decimal";
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    int_start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    int_end = i;
    frac_start = frac_end = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        frac_end = i;
    }
    if (i != n || (int_end == int_start && frac_end == frac_start))
        return "is not a decimal number";
    while (int_start < int_end - 1 && s[int_start] == '0')
        int_start++;
    while (frac_end > frac_start && s[frac_end - 1] == '0')
        frac_end--;
    bool zero = true;
    for (size_t k = int_start; k < int_end; k++)
        zero = zero && s[k] == '0';
    zero = zero && frac_end == frac_start;
    if (neg && !zero)
        put(out, "-", 1);
    if (int_end == int_start)
        put(out, "0", 1);
    else
        put(out, s + int_start, int_end - int_start);
    if (frac_end > frac_start) {
        put(out, ".", 1);
        put(out, s + frac_start, frac_end - frac_start);
    }
    return NULL;
}

static const char *conv_boolean(const char *s, size_t n, ferry_buf *out)
{
    int b = ferry_text_boolean_parse(s, n);

    if (b < 0)
        return "is not a boolean (expected true/false, yes/no or 1/0)";
    return put(out, b ? "1" : "0", 1) == FERRY_OK ? NULL : "is too long";
}

static bool parse_date(const char *s, size_t n, size_t *i, int *y, int *mo, int *d)
{
    char sep;

    if (!ferry_text_digits_read(s, n, i, 4, y) || *i >= n)
        return false;
    sep = s[*i];
    if (sep != '-' && sep != '/')
        return false;
    (*i)++;
    if (!ferry_text_digits_read(s, n, i, 2, mo) || *i >= n || s[*i] != sep)
        return false;
    (*i)++;
    if (!ferry_text_digits_read(s, n, i, 2, d))
        return false;
    return *y >= 1 && *mo >= 1 && *mo <= 12 && *d >= 1 && *d <= ferry_text_days_in_month(*y, *mo);
}

static const char *conv_date(const char *s, size_t n, ferry_buf *out)
{
    char buf[16];
    size_t i = 0;
    int y, mo, d;

    if (!parse_date(s, n, &i, &y, &mo, &d) || i != n)
        return "is not a date (expected YYYY-MM-DD)";
    /* Hot for date columns: digits by hand rather than snprintf. */
    buf[0] = (char)('0' + y / 1000);
    buf[1] = (char)('0' + y / 100 % 10);
    buf[2] = (char)('0' + y / 10 % 10);
    buf[3] = (char)('0' + y % 10);
    buf[4] = '-';
    buf[5] = (char)('0' + mo / 10);
    buf[6] = (char)('0' + mo % 10);
    buf[7] = '-';
    buf[8] = (char)('0' + d / 10);
    buf[9] = (char)('0' + d % 10);
    return put(out, buf, 10) == FERRY_OK ? NULL : "is too long";
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static const char *conv_datetime(const char *s, size_t n, ferry_buf *out)
{
    static const char *const bad = "is not a date-time (expected YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM])";
    int y, mo, d, h, mi, sec = 0, oh = 0, om = 0, sign = 0;
    size_t i = 0, frac_start = 0, frac_end = 0;
    char buf[48];

    if (!parse_date(s, n, &i, &y, &mo, &d))
        return bad;
    if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        if (!ferry_text_digits_read(s, n, &i, 2, &h) || i >= n || s[i] != ':')
            return bad;
        i++;
        if (!ferry_text_digits_read(s, n, &i, 2, &mi))
            return bad;
        if (i < n && s[i] == ':') {
            i++;
            if (!ferry_text_digits_read(s, n, &i, 2, &sec))
                return bad;
            if (i < n && s[i] == '.') {
                frac_start = ++i;
                while (i < n && s[i] >= '0' && s[i] <= '9' && i - frac_start < 9)
                    i++;
                frac_end = i;
                if (frac_end == frac_start)
                    return bad;
            }
        }
    } else {
        h = mi = 0;
    }
    if (h > 23 || mi > 59 || sec > 60)
        return bad;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        sign = s[i++] == '+' ? 1 : -1;
        if (!ferry_text_digits_read(s, n, &i, 2, &oh))
            return bad;
        if (i < n && s[i] == ':')
            i++;
        if (i < n && !ferry_text_digits_read(s, n, &i, 2, &om))
            return bad;
        if (oh > 23 || om > 59)
            return bad;
    }
    if (i != n)
        return bad;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec);
    t -= sign * (oh * 3600 + om * 60);
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t rem = t - days * 86400;
    civil_from_days(days, &y, &mo, &d);
    while (frac_end > frac_start && s[frac_end - 1] == '0')
        frac_end--;
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, (int)(rem / 3600),
             (int)(rem % 3600 / 60), (int)(rem % 60));
    put(out, buf, strlen(buf));
    if (frac_end > frac_start) {
        put(out, ".", 1);
        put(out, s + frac_start, frac_end - frac_start);
    }
    return put(out, "Z", 1) == FERRY_OK ? NULL : "is too long";
}

static const char *conv_email(const char *s, size_t n, ferry_buf *out)
{
    static const char *const bad = "is not an email address";
    const char *at = memchr(s, '@', n);
    size_t local, dom, label = 0, labels = 0, last_label = 0;
    bool last_alpha = true;

    if (at == NULL || n > 254)
        return bad;
    local = (size_t)(at - s);
    dom = n - local - 1;
    if (local == 0 || local > 64 || dom == 0 || memchr(at + 1, '@', dom) != NULL)
        return bad;
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f || strchr("()<>[]:;\\,\"", c) != NULL)
            return bad;
    }
    if (s[0] == '.' || s[local - 1] == '.' || memmem(s, local, "..", 2) != NULL)
        return bad;
    for (size_t i = 0; i <= dom; i++) {
        char c = i < dom ? at[1 + i] : '.';
        if (c == '.') {
            if (label == 0 || at[i] == '-')
                return bad;
            labels++;
            last_label = label;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)c) && c != '-' && (unsigned char)c < 0x80)
            return bad;
        if (label == 0 && c == '-')
            return bad;
        if (label == 0)
            last_alpha = true;
        if (isdigit((unsigned char)c))
            last_alpha = false;
        label++;
    }
    if (labels < 2 || last_label < 2 || !last_alpha)
        return bad;
    put(out, s, local + 1);
    for (size_t i = 0; i < dom; i++) {
        char c = (char)tolower((unsigned char)at[1 + i]);
        put(out, &c, 1);
    }
    return NULL;
}

static const char *conv_enum(const ferry_field_spec *f, const char *s, size_t n, ferry_buf *out)
{
    for (size_t i = 0; i < f->nvalues; i++) {
        if (strlen(f->values[i]) == n && strncasecmp(f->values[i], s, n) == 0)
            return put(out, f->values[i], n) == FERRY_OK ? NULL : "is too long";
    }
    return "is not one of the allowed values";
}

const char *ferry_map_convert(const ferry_field_spec *field, const char *text, size_t len,
                              ferry_buf *out)
{
    ferry_buf_reset(out);
    switch (field->type) {
    case FERRY_TYPE_TEXT:
        return put(out, text, len) == FERRY_OK ? NULL : "is too long";
    case FERRY_TYPE_INTEGER:
        return conv_integer(text, len, out);
    case FERRY_TYPE_DECIMAL:
        return conv_decimal(text, len, out);
    case FERRY_TYPE_BOOLEAN:
        return conv_boolean(text, len, out);
    case FERRY_TYPE_DATE:
        return conv_date(text, len, out);
    case FERRY_TYPE_DATETIME:
        return conv_datetime(text, len, out);
    case FERRY_TYPE_EMAIL:
        return conv_email(text, len, out);
    case FERRY_TYPE_ENUM:
        return conv_enum(field, text, len, out);
    }
    return "has an unknown type";
}

/* ---- records ---- */

/* Appends 'value' to b for a message: quoted, cut at SHOWN_VALUE_MAX bytes. */
static void show_value(ferry_buf *b, const char *s, size_t n)
{
    if (n > SHOWN_VALUE_MAX) {
        size_t cut = SHOWN_VALUE_MAX;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--; /* do not split a UTF-8 sequence */
        ferry_buf_printf_trunc(b, "'%.*s...'", (int)cut, s);
    } else {
        ferry_buf_printf_trunc(b, "'%.*s'", (int)n, s);
    }
}

static void show_list(ferry_buf *b, char *const *values, size_t n)
{
    ferry_buf_printf_trunc(b, "[");
    for (size_t i = 0; i < n; i++)
        ferry_buf_printf_trunc(b, "%s%s", i ? ", " : "", values[i]);
    ferry_buf_printf_trunc(b, "]");
}

/* Converts field i into the arena. Returns false with m->reason set when it fails. An empty
 * value is a failure only when check_required and the field is required: skip rules see empty
 * values first (`empty: true` on a required field must skip, not fail). */
static bool map_field(ferry_mapper *m, const ferry_source_record *in, size_t i, bool check_required,
                      ferry_rc *rc)
{
    const ferry_field_spec *f = &m->sync->fields[i];
    const char *s = in->value != NULL ? in->value[i] : NULL;
    size_t n = s != NULL ? in->len[i] : 0;
    ferry_transform_result result;
    ferry_transformed t;
    const char *why;

    if (f->is_tenant || f->scope_value != NULL) { /* filled here, whatever the source had */
        s = f->is_tenant ? m->tenant : f->scope_value;
        n = s != NULL ? strlen(s) : 0;
    }
    if ((*rc = ferry_transform_apply(&m->tx, f, in, s, n, &result, &t)) != FERRY_OK)
        return false;
    if (result != FERRY_TRANSFORM_OK) {
        ferry_buf_printf_trunc(&m->reason, "%s %ld: %s ", m->word, in->row, f->name);
        show_value(&m->reason, t.shown, t.shown_n);
        ferry_buf_printf_trunc(&m->reason, " ");
        ferry_transform_reason_append(f, result, &m->reason);
        return false;
    }
    s = t.s;
    n = t.n;
    if (s == NULL) {
        m->off[i] = SIZE_MAX;
        if (!f->required || !check_required)
            return true;
        ferry_buf_printf_trunc(&m->reason, "%s %ld: %s is required but empty", m->word, in->row,
                               f->name);
        return false;
    }
    /* A look-up's value is matched as text; the found value takes the type (sync/lookup.h). */
    if (f->lookup.table != NULL) {
        ferry_buf_reset(&m->tmp);
        why = put(&m->tmp, s, n) == FERRY_OK ? NULL : "is too long";
    } else {
        why = ferry_map_convert(f, s, n, &m->tmp);
    }
    if (why != NULL) { /* quoted as the source wrote it, before format: */
        ferry_buf_printf_trunc(&m->reason, "%s %ld: %s ", m->word, in->row, f->name);
        show_value(&m->reason, t.shown, t.shown_n);
        ferry_buf_printf_trunc(&m->reason, " %s", why);
        if (f->type == FERRY_TYPE_ENUM) {
            ferry_buf_printf_trunc(&m->reason, " ");
            show_list(&m->reason, f->values, f->nvalues);
        }
        return false;
    }
    m->off[i] = m->arena.len;
    if (ferry_buf_append(&m->arena, ferry_buf_str(&m->tmp), m->tmp.len) != FERRY_OK ||
        ferry_buf_append(&m->arena, "", 1) != FERRY_OK) {
        *rc = FERRY_ENOMEM;
        return false;
    }
    return true;
}

static bool in_list(char *const *values, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(values[i]) == len && strncasecmp(values[i], s, len) == 0)
            return true;
    }
    return false;
}

/* The first skip rule that matches the record (the reason set), or NULL. */
static const ferry_skip_rule *find_skip(ferry_mapper *m, long row)
{
    for (size_t r = 0; r < m->sync->nskips; r++) {
        const ferry_skip_rule *rule = &m->sync->skips[r];
        const char *name = m->sync->fields[rule->field].name;
        size_t off = m->off[rule->field];
        const char *v = off == SIZE_MAX ? NULL : m->arena.data + off;
        size_t len = v != NULL ? strlen(v) : 0;

        if (rule->kind == FERRY_SKIP_EMPTY) {
            if (v != NULL)
                continue;
            ferry_buf_printf_trunc(&m->reason, "%s %ld: %s is empty", m->word, row, name);
            return rule;
        }
        bool listed = v != NULL && in_list(rule->values, rule->nvalues, v, len);
        if (listed != (rule->kind == FERRY_SKIP_IN))
            continue;
        ferry_buf_printf_trunc(&m->reason, "%s %ld: %s ", m->word, row, name);
        if (v != NULL)
            show_value(&m->reason, v, len);
        else
            ferry_buf_printf_trunc(&m->reason, "(empty)");
        ferry_buf_printf_trunc(&m->reason, rule->kind == FERRY_SKIP_IN ? " in " : " not in ");
        show_list(&m->reason, rule->values, rule->nvalues);
        return rule;
    }
    return NULL;
}

/* Applies the skip rules: the rule that skips the record (with the reason set; a labelled
 * rule's label ends it, "... in [Flat] (FLAT)"), or NULL. */
static const ferry_skip_rule *skip_matches(ferry_mapper *m, long row)
{
    const ferry_skip_rule *rule = find_skip(m, row);

    if (rule != NULL && rule->label >= 0)
        ferry_buf_printf_trunc(&m->reason, " (%s)", m->sync->skip_labels[rule->label]);
    return rule;
}

static void build_key(ferry_mapper *m)
{
    const ferry_sync_spec *sync = m->sync;

    /* Called once per record: plain appends, no printf. */
    ferry_buf_reset(&m->key);
    for (size_t k = 0; k < sync->target.nkey; k++) {
        size_t f = m->key_field[k];
        const char *v = m->value[f];
        if (v == NULL) {
            ferry_buf_reset(&m->key);
            return;
        }
        if (!ferry_sync_key_append(sync, k, v, m->len[f], &m->key)) {
            m->key.truncated = true;
            return;
        }
    }
}

ferry_rc ferry_mapper_map(ferry_mapper *m, const ferry_source_record *in,
                          ferry_map_result *ret_result, ferry_mapped_record *ret_out,
                          ferry_err *err)
{
    const ferry_sync_spec *sync = m->sync;
    ferry_map_result result = FERRY_MAP_OK;
    const ferry_skip_rule *skip = NULL;
    ferry_rc rc = FERRY_OK;
    long field = -1; /* the field that made it skipped or failed */
    size_t i;

    ferry_buf_reset(&m->arena);
    ferry_buf_reset(&m->reason);
    for (i = 0; i < sync->nfields; i++)
        m->off[i] = SIZE_MAX;
    if (in->error != NULL) {
        ferry_buf_printf_trunc(&m->reason, "%s %ld: %s", m->word, in->row, in->error);
        result = FERRY_MAP_FAILED;
        goto out;
    }
    for (i = 0; i < sync->nfields; i++) {
        if (m->in_skip[i] && !map_field(m, in, i, false, &rc)) {
            result = FERRY_MAP_FAILED;
            field = (long)i;
            goto out;
        }
    }
    if (sync->nskips > 0 && (skip = skip_matches(m, in->row)) != NULL) {
        result = FERRY_MAP_SKIPPED;
        field = (long)skip->field;
        goto out;
    }
    for (i = 0; i < sync->nfields; i++) {
        /* A skip field is converted already; an empty one still needs its required check. */
        bool ok = (m->in_skip[i] && m->off[i] != SIZE_MAX) || map_field(m, in, i, true, &rc);
        if (!ok) {
            result = FERRY_MAP_FAILED;
            field = (long)i;
            goto out;
        }
    }

out:
    if (rc != FERRY_OK)
        return ferry_err_set(err, rc, "mapping row %ld: out of memory", in->row);
    if (result != FERRY_MAP_OK && in->error == NULL && rc == FERRY_OK) {
        /* A failed or skipped record still names its key when the key fields can be read:
         * the key appears in its change row, and a failed record's key protects its row
         * from on_missing (a skipped record's does not: see docs/sync.md). */
        size_t keep = m->reason.len;
        for (size_t k = 0; k < sync->target.nkey; k++) {
            if (m->off[m->key_field[k]] == SIZE_MAX)
                map_field(m, in, m->key_field[k], true, &rc);
        }
        /* Its name (label:) too, from whichever of its fields can be read. */
        for (size_t p = 0; p < sync->label.nparts; p++) {
            long f = sync->label.parts[p].field;
            if (f >= 0 && m->off[f] == SIZE_MAX)
                map_field(m, in, (size_t)f, false, &rc);
        }
        m->reason.len = keep;
        m->reason.data[keep] = '\0';
        if (rc != FERRY_OK)
            return ferry_err_set(err, rc, "mapping row %ld: out of memory", in->row);
    }
    for (i = 0; i < sync->nfields; i++) {
        if (m->off[i] == SIZE_MAX) {
            m->value[i] = NULL;
            m->len[i] = 0;
        } else {
            m->value[i] = m->arena.data + m->off[i];
            m->len[i] = strlen(m->value[i]);
        }
    }
    build_key(m);
    ret_out->nvalues = sync->nfields;
    ret_out->value = m->value;
    ret_out->len = m->len;
    ret_out->key = m->key.len > 0 ? ferry_buf_str(&m->key) : NULL;
    ret_out->row = in->row;
    ret_out->reason = result != FERRY_MAP_OK ? ferry_buf_str(&m->reason) : NULL;
    ret_out->field = result != FERRY_MAP_OK ? field : -1;
    ret_out->skip_label = skip != NULL && skip->label >= 0 ? sync->skip_labels[skip->label] : NULL;
    *ret_result = result;
    return FERRY_OK;
}
