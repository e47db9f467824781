/* transform.c - a field's transforms (see transform.h).
 *
 * A value is passed from step to step as a pointer and a length: into the source record, the
 * config (a constant, a default, a map's value) or one of the two buffers. A step that builds
 * a new value (template, case, format) writes into the buffer the current value is not in, so
 * no step reads what it is overwriting. A field without transforms costs a test and a trim.
 *
 * Case changes letters of the Latin (ASCII, Latin-1, Latin Extended-A), Greek and Cyrillic
 * alphabets, one code point for one, the same on every machine (no locale, no C library
 * tables); other characters, and bytes that are not UTF-8, are kept as they are. Title case
 * makes the first letter of each word upper case and the rest lower case; a word is a run of
 * letters, digits and apostrophes, so "o'neil" becomes "O'neil" and "mary-jane" "Mary-Jane". */
#include "sync/transform.h"

#include <ctype.h>
#include <string.h>

#include "util/notation.h"

void ferry_transform_bufs_init(ferry_transform_bufs *bufs, size_t max)
{
    ferry_buf_init(&bufs->buf[0], max);
    ferry_buf_init(&bufs->buf[1], max);
}

void ferry_transform_bufs_done(ferry_transform_bufs *bufs)
{
    if (bufs == NULL)
        return;
    ferry_buf_done(&bufs->buf[0]);
    ferry_buf_done(&bufs->buf[1]);
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* ---- template ---- */

/* Builds f's template from the values of in into out. An empty value takes one space beside
 * it along, so "{First} {Middle} {Last}" without a middle name has one space, not two; and
 * the whole is empty when every value it names is, so that "{First} {Last}" of two empty
 * cells is an empty value, not a space. */
static ferry_rc build_template(const ferry_field_spec *f, const ferry_source_record *in,
                               ferry_buf *out)
{
    const ferry_transform_spec *tf = &f->tf;
    bool any = false, drop_space = false;
    ferry_rc rc = FERRY_OK;

    ferry_buf_reset(out);
    for (size_t k = 0; k < tf->nparts && rc == FERRY_OK; k++) {
        const ferry_template_part *part = &tf->parts[k];
        const char *v = NULL;
        size_t n = 0;

        if (!part->ref) {
            size_t skip = drop_space && part->text[0] == ' ' ? 1 : 0;
            rc = ferry_buf_append(out, part->text + skip, part->len - skip);
            drop_space = false;
            continue;
        }
        if (in->value != NULL && part->input < in->nvalues && in->value[part->input] != NULL) {
            v = in->value[part->input];
            n = in->len[part->input];
        }
        if (v != NULL && f->trim)
            trim(&v, &n);
        any = any || n > 0;
        drop_space = n == 0 && (out->len == 0 || out->data[out->len - 1] == ' ');
        rc = ferry_buf_append(out, v, n);
    }
    if (!any)
        ferry_buf_reset(out);
    return rc;
}

/* ---- map ---- */

static int key_cmp(const char *s, size_t n, const char *name)
{
    size_t len = strlen(name);
    int c = memcmp(s, name, n < len ? n : len);

    if (c != 0)
        return c;
    return n < len ? -1 : n > len ? 1 : 0;
}

/* The entry of tf's map (sorted by name) whose source value is exactly s, or NULL. */
static const ferry_pair *map_find(const ferry_transform_spec *tf, const char *s, size_t n)
{
    size_t lo = 0, hi = tf->nmap;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(s, n, tf->map[mid].name);
        if (c == 0)
            return &tf->map[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* ---- case ---- */

static unsigned lower_of(unsigned c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7))
        return c + 0x20;
    if ((c >= 0x100 && c <= 0x137 && c % 2 == 0 && c != 0x130) ||
        (c >= 0x139 && c <= 0x148 && c % 2 == 1) || (c >= 0x14A && c <= 0x177 && c % 2 == 0) ||
        (c >= 0x179 && c <= 0x17E && c % 2 == 1))
        return c + 1;
    if (c == 0x178)
        return 0xFF;
    if ((c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F))
        return c + 0x20;
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    return c;
}

static unsigned upper_of(unsigned c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7))
        return c - 0x20;
    if (c == 0xFF)
        return 0x178;
    if ((c >= 0x101 && c <= 0x137 && c % 2 == 1 && c != 0x131) ||
        (c >= 0x13A && c <= 0x148 && c % 2 == 0) || (c >= 0x14B && c <= 0x177 && c % 2 == 1) ||
        (c >= 0x17A && c <= 0x17E && c % 2 == 0))
        return c - 1;
    if (c == 0x3C2) /* final sigma */
        return 0x3A3;
    if ((c >= 0x3B1 && c <= 0x3C9) || (c >= 0x430 && c <= 0x44F))
        return c - 0x20;
    if (c >= 0x450 && c <= 0x45F)
        return c - 0x50;
    return c;
}

/* Whether c continues a word for title case: a letter, a digit or an apostrophe (' or U+2019);
 * every character from U+00C0 on counts as a letter but for the signs × and ÷ and general
 * punctuation. */
static bool in_word(unsigned c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '\'';
    return c == 0x2019 || (c >= 0xC0 && c != 0xD7 && c != 0xF7 && !(c >= 0x2000 && c <= 0x206F));
}

/* Decodes the UTF-8 sequence at s[*i] (of at most 3 bytes: the letters case changes are all
 * below U+0800); a byte that starts no such sequence comes back as a code point of its own
 * that no case changes (0xFFFFFF00 plus the byte). */
static unsigned decode(const unsigned char *s, size_t n, size_t *i)
{
    unsigned c = s[*i];

    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if ((c & 0xE0) == 0xC0 && *i + 1 < n && (s[*i + 1] & 0xC0) == 0x80) {
        unsigned cp = ((c & 0x1F) << 6) | (s[*i + 1] & 0x3F);
        *i += 2;
        return cp;
    }
    if ((c & 0xF0) == 0xE0 && *i + 2 < n && (s[*i + 1] & 0xC0) == 0x80 &&
        (s[*i + 2] & 0xC0) == 0x80) {
        unsigned cp = ((c & 0x0F) << 12) | ((s[*i + 1] & 0x3F) << 6) | (s[*i + 2] & 0x3F);
        *i += 3;
        return cp;
    }
    (*i)++;
    return 0xFFFFFF00u | c;
}

static ferry_rc encode(unsigned cp, ferry_buf *out)
{
    unsigned char b[3];

    if (cp >= 0xFFFFFF00u) {
        b[0] = (unsigned char)(cp & 0xFF);
        return ferry_buf_append(out, b, 1);
    }
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return ferry_buf_append(out, b, 1);
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return ferry_buf_append(out, b, 2);
    }
    b[0] = (unsigned char)(0xE0 | (cp >> 12));
    b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return ferry_buf_append(out, b, 3);
}

static ferry_rc change_case(ferry_letter_case how, const char *s, size_t n, ferry_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    bool word = false;
    size_t i = 0;
    ferry_rc rc = FERRY_OK;

    ferry_buf_reset(out);
    while (i < n && rc == FERRY_OK) {
        unsigned c = decode(u, n, &i), to;
        if (how == FERRY_CASE_LOWER)
            to = lower_of(c);
        else if (how == FERRY_CASE_UPPER)
            to = upper_of(c);
        else
            to = word ? lower_of(c) : upper_of(c);
        word = in_word(c);
        rc = encode(to, out);
    }
    return rc;
}

/* ---- format ---- */

static ferry_notation_result reformat(const ferry_field_spec *f, const char *s, size_t n,
                                      ferry_buf *out)
{
    ferry_buf_reset(out);
    if (f->type == FERRY_TYPE_DATE || f->type == FERRY_TYPE_DATETIME)
        return ferry_notation_date_read(f->tf.format, f->type == FERRY_TYPE_DATETIME, s, n, out);
    return ferry_notation_number_read(&f->tf.number, s, n, out);
}

/* ---- all of them ---- */

ferry_rc ferry_transform_apply(ferry_transform_bufs *bufs, const ferry_field_spec *field,
                               const ferry_source_record *in, const char *raw, size_t n,
                               ferry_transform_result *ret_result, ferry_transformed *ret_out)
{
    const ferry_transform_spec *tf = &field->tf;
    const char *s = raw;
    int cur = -1; /* the buffer s is in, or -1 */
    ferry_buf *next;
    ferry_rc rc;

    *ret_result = FERRY_TRANSFORM_OK;
    if (tf->value != NULL) {
        s = tf->value;
        n = strlen(s);
    } else if (tf->nparts > 0) {
        if ((rc = build_template(field, in, &bufs->buf[0])) != FERRY_OK)
            return rc;
        s = ferry_buf_str(&bufs->buf[0]);
        n = bufs->buf[0].len;
        cur = 0;
    }
    if (s != NULL && field->trim)
        trim(&s, &n);
    if ((s == NULL || n == 0) && tf->def != NULL) {
        s = tf->def;
        n = strlen(s);
    }
    if (s != NULL && n > 0 && tf->nmap > 0) {
        const ferry_pair *hit = map_find(tf, s, n);
        if (hit != NULL || tf->otherwise == FERRY_OTHERWISE_VALUE) {
            s = hit != NULL ? hit->value : tf->otherwise_value;
            n = strlen(s);
        } else if (tf->otherwise == FERRY_OTHERWISE_FAIL) {
            *ret_result = FERRY_TRANSFORM_NOT_IN_MAP;
        }
    }
    if (s != NULL && n > 0 && *ret_result == FERRY_TRANSFORM_OK &&
        tf->letter_case != FERRY_CASE_KEEP) {
        next = &bufs->buf[cur == 0 ? 1 : 0];
        if ((rc = change_case(tf->letter_case, s, n, next)) != FERRY_OK)
            return rc;
        s = ferry_buf_str(next);
        n = next->len;
        cur = cur == 0 ? 1 : 0;
    }
    ret_out->shown = s;
    ret_out->shown_n = n;
    if (s != NULL && n > 0 && *ret_result == FERRY_TRANSFORM_OK && tf->format != NULL) {
        next = &bufs->buf[cur == 0 ? 1 : 0];
        switch (reformat(field, s, n, next)) {
        case FERRY_NOTATION_OK:
            s = ferry_buf_str(next);
            n = next->len;
            break;
        case FERRY_NOTATION_NO_MATCH:
            *ret_result = FERRY_TRANSFORM_NO_MATCH;
            break;
        case FERRY_NOTATION_NOT_A_DATE:
            *ret_result = FERRY_TRANSFORM_NOT_A_DATE;
            break;
        case FERRY_NOTATION_NOMEM:
            return FERRY_ENOMEM;
        }
    }
    ret_out->s = s != NULL && n > 0 ? s : NULL;
    ret_out->n = ret_out->s != NULL ? n : 0;
    return FERRY_OK;
}

void ferry_transform_reason_append(const ferry_field_spec *field, ferry_transform_result result,
                                   ferry_buf *out)
{
    switch (result) {
    case FERRY_TRANSFORM_OK:
        break;
    case FERRY_TRANSFORM_NOT_IN_MAP:
        ferry_buf_printf_trunc(out, "is not in map (otherwise: fail)");
        break;
    case FERRY_TRANSFORM_NO_MATCH:
        ferry_buf_printf_trunc(out, "does not match format '%s'", field->tf.format);
        break;
    case FERRY_TRANSFORM_NOT_A_DATE:
        ferry_buf_printf_trunc(out, "is not a real date (format '%s')", field->tf.format);
        break;
    }
}
