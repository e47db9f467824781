/* json_scan.c - validating a JSON text once and reading values straight out of its bytes
 * (see json_scan.h).
 *
 * ferry_json_validate() is one pass with no allocation: containers open and close on a bit
 * stack of MAX_DEPTH bits on the C stack, and plain string bytes are skipped by a loop over a
 * 256-entry class table, so the common case costs a table load per byte. It accepts exactly
 * what jansson 2.14's json_loadb(JSON_DECODE_ANY) accepts, quirks included:
 * - every value counts one level, a scalar too: at most MAX_DEPTH (jansson's
 *   JSON_PARSER_MAX_DEPTH) values may be open at once, so a scalar inside 2048 arrays fails;
 * - an integer (no '.', 'e' or 'E') must fit a long long; "-0" is the integer 0;
 * - a real that strtod() takes to infinity fails; one that underflows is 0 and accepted;
 * - jansson's reader drops one NUL byte that directly follows a number or a word (it pushes the
 *   byte back into a one-character buffer that treats NUL as empty), so "[1\0]" is accepted;
 *   the validator skips such a byte, and the scanners treat NUL between tokens as white space
 *   (a validated text has NUL bytes nowhere else).
 * Error positions count lines from 1 and bytes within the line from 1; they are worked out
 * only when there is an error.
 *
 * The scanners trust a validated text and only look for the bytes that end a value. Reals
 * are read with strtod() from a bounded copy on the stack; a number longer than that copy is
 * first rewritten as its leading significant digits, a sticky digit for the rest and an
 * exponent, which strtod() rounds the same way (800 digits exceed the 768 that any halfway
 * point between two doubles needs). */
#include "util/json_scan.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

#define MAX_DEPTH 2048
#define NUMBER_COPY_MAX 1024 /* bytes of a number copied for strtod() */
#define SIG_DIGITS_MAX 800   /* significant digits kept of a longer number */
#define FIND_MANY_CACHE 32   /* paths whose first token find_many keeps at hand */

/* String bytes: 0 plain, 1 '"', 2 '\\', 3 a control character, 4 the start of non-ASCII. */
/* clang-format off */
static const unsigned char str_class[256] = {
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3, 3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,2,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
};

/* Bytes inside a validated container: 0 plain, 1 '"', 2 an opening bracket, 3 a closing one. */
static const unsigned char skip_class[256] = {
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,2,0,3,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,2,0,3,0,0,
};

/* 1 for the bytes that end a run of string bytes in a validated text: '"' and '\\'. */
static const unsigned char quote_or_backslash[256] = {
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
};
/* clang-format on */

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The four hex digits at s, or -1. */
static long hex4(const unsigned char *s)
{
    long v = 0;

    for (int i = 0; i < 4; i++) {
        int h = ferry_text_hex_digit(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* ---- Reading numbers ---- */

/* The double that strtod() reads from the n bytes of a valid JSON number at s. */
static double real_value(const char *s, size_t n)
{
    char buf[NUMBER_COPY_MAX];
    const char *p = s, *end = s + n;
    size_t w = 0, nsig = 0;
    long long exp = 0, shift = 0;
    bool sticky = false;

    if (n < sizeof(buf)) {
        memcpy(buf, s, n);
        buf[n] = '\0';
        return strtod(buf, NULL);
    }
    /* value = digits * 10^(exp + shift): shift counts fraction digits (down) and dropped
     * integer digits (up). */
    if (*p == '-')
        buf[w++] = *p++;
    for (bool frac = false; p < end && (is_digit((unsigned char)*p) || *p == '.'); p++) {
        if (*p == '.') {
            frac = true;
            continue;
        }
        if (frac)
            shift--;
        if (nsig == 0 && *p == '0')
            continue;
        if (nsig < SIG_DIGITS_MAX) {
            buf[w++] = *p;
            nsig++;
        } else {
            sticky = sticky || *p != '0';
            shift++;
        }
    }
    if (p < end) { /* 'e' or 'E' */
        bool neg = *++p == '-';
        if (*p == '-' || *p == '+')
            p++;
        for (; p < end; p++) {
            if (exp < 1000000000LL)
                exp = exp * 10 + (*p - '0');
        }
        if (neg)
            exp = -exp;
    }
    if (nsig == 0) {
        buf[w++] = '0';
        exp = shift = 0;
    }
    if (sticky) {
        buf[w++] = '1';
        shift--;
    }
    exp += shift;
    if (exp > 1000000000LL)
        exp = 1000000000LL;
    if (exp < -1000000000LL)
        exp = -1000000000LL;
    snprintf(buf + w, sizeof(buf) - w, "e%lld", exp);
    return strtod(buf, NULL);
}

/* True when a valid integer's text (at most 20 bytes with its sign) fits a long long. */
static bool integer_fits(const char *s, size_t n)
{
    bool neg = s[0] == '-';
    size_t digits = n - neg;

    if (digits < 19)
        return true;
    if (digits > 19)
        return false;
    return memcmp(s + neg, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

/* The value of a valid integer that fits. */
static long long integer_value(const char *s, size_t n)
{
    unsigned long long v = 0;
    bool neg = s[0] == '-';

    for (size_t i = neg; i < n; i++)
        v = v * 10 + (unsigned long long)(s[i] - '0');
    /* Negating in unsigned arithmetic keeps LLONG_MIN defined. */
    return neg ? (long long)(0 - v) : (long long)v;
}

/* True when a valid real cannot reach infinity without asking strtod(): fewer than 300 digits
 * before the point, counting the exponent. */
static bool real_is_small(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    long long mag = 0, exp = 0;
    bool neg;

    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    for (; p < end && is_digit((unsigned char)*p); p++)
        mag++;
    while (p < end && *p != 'e' && *p != 'E')
        p++;
    if (p < end) {
        neg = *++p == '-';
        if (*p == '-' || *p == '+')
            p++;
        for (; p < end && exp < 1000000; p++)
            exp = exp * 10 + (*p - '0');
        if (neg)
            exp = -exp;
    }
    return mag < 1000000 && mag + exp < 300;
}

/* ---- Validation ---- */

typedef struct {
    const unsigned char *text;
    size_t len;
    ferry_err *err;
} validator;

static ferry_rc fail_at(const validator *v, size_t off, const char *what)
{
    size_t line = 1, line_start = 0;

    if (off > v->len)
        off = v->len;
    for (size_t i = 0; i < off; i++) {
        if (v->text[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    return ferry_err_set(v->err, FERRY_ESOURCE, "%s (line %zu, column %zu)", what, line,
                         off - line_start + 1);
}

static ferry_rc fail_end(const validator *v)
{
    return fail_at(v, v->len, "unexpected end of input");
}

/* The length of the valid UTF-8 sequence at p (before end), or 0. */
static size_t utf8_length(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Checks the string whose opening quote is at *pos; on success *pos is past its closing
 * quote. */
static ferry_rc check_string(const validator *v, size_t *pos)
{
    const unsigned char *text = v->text, *end = text + v->len;
    const unsigned char *p = text + *pos + 1;
    char what[64];

    for (;;) {
        while (p < end && str_class[*p] == 0)
            p++;
        if (p >= end)
            return fail_end(v);
        switch (str_class[*p]) {
        case 1:
            *pos = (size_t)(p + 1 - text);
            return FERRY_OK;
        case 2: {
            long u, lo;
            if (end - p < 2)
                return fail_end(v);
            if (strchr("\"\\/bfnrt", p[1]) != NULL && p[1] != '\0') {
                p += 2;
                break;
            }
            if (p[1] != 'u')
                return fail_at(v, (size_t)(p + 1 - text), "invalid escape in a string");
            if (end - p < 6)
                return fail_end(v);
            if ((u = hex4(p + 2)) < 0)
                return fail_at(v, (size_t)(p - text), "invalid \\u escape in a string");
            if (u == 0)
                return fail_at(v, (size_t)(p - text), "\\u0000 in a string");
            if (u >= 0xDC00 && u <= 0xDFFF)
                return fail_at(v, (size_t)(p - text), "lone low surrogate in a string");
            if (u < 0xD800 || u > 0xDBFF) {
                p += 6;
                break;
            }
            if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || (lo = hex4(p + 8)) < 0 ||
                lo < 0xDC00 || lo > 0xDFFF) {
                if (end - p >= 8 && p[6] == '\\' && p[7] == 'u' && end - p < 12)
                    return fail_end(v);
                return fail_at(v, (size_t)(p - text), "lone high surrogate in a string");
            }
            p += 12;
            break;
        }
        case 3:
            snprintf(what, sizeof(what), "control character 0x%02x in a string", *p);
            return fail_at(v, (size_t)(p - text), what);
        default: {
            size_t n = utf8_length(p, end);
            if (n == 0) {
                snprintf(what, sizeof(what), "invalid UTF-8 byte 0x%02x in a string", *p);
                return fail_at(v, (size_t)(p - text), what);
            }
            p += n;
            break;
        }
        }
    }
}

/* Checks the number at *pos; on success *pos is past it. */
static ferry_rc check_number(const validator *v, size_t *pos)
{
    const unsigned char *text = v->text, *end = text + v->len;
    const unsigned char *start = text + *pos, *p = start;
    bool real = false;

    if (*p == '-')
        p++;
    if (p >= end)
        return fail_end(v);
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return fail_at(v, (size_t)(p - text), "leading zero in a number");
    } else if (is_digit(*p)) {
        while (p < end && is_digit(*p))
            p++;
    } else {
        return fail_at(v, (size_t)(p - text), "invalid number");
    }
    if (p < end && *p == '.') {
        real = true;
        p++;
        if (p >= end)
            return fail_end(v);
        if (!is_digit(*p))
            return fail_at(v, (size_t)(p - text), "invalid number");
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end)
            return fail_end(v);
        if (!is_digit(*p))
            return fail_at(v, (size_t)(p - text), "invalid number");
        while (p < end && is_digit(*p))
            p++;
    }
    size_t n = (size_t)(p - start);
    if (!real && !integer_fits((const char *)start, n))
        return fail_at(v, *pos, "integer out of range");
    if (real && !real_is_small((const char *)start, n) && isinf(real_value((const char *)start, n)))
        return fail_at(v, *pos, "real number overflow");
    *pos = (size_t)(p - text);
    return FERRY_OK;
}

/* Skips white space from pos. */
static size_t skip_ws_strict(const validator *v, size_t pos)
{
    while (pos < v->len && is_ws(v->text[pos]))
        pos++;
    return pos;
}

/* Checks a member name and its ':' at pos; returns the position of the value, or SIZE_MAX
 * after an error. */
static size_t check_member_name(const validator *v, size_t pos, ferry_rc *rc)
{
    if (pos >= v->len) {
        *rc = fail_end(v);
        return SIZE_MAX;
    }
    if (v->text[pos] != '"') {
        *rc = fail_at(v, pos, "member name expected");
        return SIZE_MAX;
    }
    if ((*rc = check_string(v, &pos)) != FERRY_OK)
        return SIZE_MAX;
    pos = skip_ws_strict(v, pos);
    if (pos >= v->len) {
        *rc = fail_end(v);
        return SIZE_MAX;
    }
    if (v->text[pos] != ':') {
        *rc = fail_at(v, pos, "':' expected");
        return SIZE_MAX;
    }
    return skip_ws_strict(v, pos + 1);
}

ferry_rc ferry_json_validate(const char *text, size_t len, ferry_json_span *ret_root,
                             ferry_err *err)
{
    validator v = {.text = (const unsigned char *)text, .len = len, .err = err};
    uint8_t is_object[MAX_DEPTH / 8] = {0}; /* one bit per open container */
    size_t depth = 0, pos, root_start, root_end = 0;
    ferry_rc rc = FERRY_OK;

    pos = root_start = skip_ws_strict(&v, 0);
    for (;;) {
        /* A value starts at pos. */
        if (pos >= len)
            return fail_end(&v);
        if (depth >= MAX_DEPTH)
            return fail_at(&v, pos, "nesting deeper than 2048 levels");
        switch (v.text[pos]) {
        case '{':
        case '[': {
            bool obj = v.text[pos] == '{';
            if (obj)
                is_object[depth / 8] |= (uint8_t)(1u << (depth % 8));
            else
                is_object[depth / 8] &= (uint8_t) ~(1u << (depth % 8));
            depth++;
            pos = skip_ws_strict(&v, pos + 1);
            if (pos < len && v.text[pos] == (obj ? '}' : ']')) {
                depth--;
                pos++;
                break;
            }
            if (obj && (pos = check_member_name(&v, pos, &rc)) == SIZE_MAX)
                return rc;
            continue;
        }
        case '"':
            if ((rc = check_string(&v, &pos)) != FERRY_OK)
                return rc;
            break;
        case 't':
        case 'f':
        case 'n': {
            const char *word = v.text[pos] == 't' ? "true" : v.text[pos] == 'f' ? "false" : "null";
            size_t n = strlen(word);
            if (len - pos < n || memcmp(text + pos, word, n) != 0)
                return fail_at(&v, pos, "invalid literal");
            pos += n;
            if (pos < len && v.text[pos] == '\0')
                pos++; /* jansson drops it, see the top of the file */
            break;
        }
        default:
            if (v.text[pos] != '-' && !is_digit(v.text[pos]))
                return fail_at(&v, pos, "unexpected character");
            if ((rc = check_number(&v, &pos)) != FERRY_OK)
                return rc;
            if (pos < len && v.text[pos] == '\0')
                pos++;
            break;
        }
        /* A value ended just before pos: close containers until another value follows. */
        for (;;) {
            if (depth == 0)
                root_end = pos;
            pos = skip_ws_strict(&v, pos);
            if (depth == 0) {
                if (pos != len)
                    return fail_at(&v, pos, "end of input expected");
                /* The root may end with a NUL that jansson drops: leave it outside. */
                while (root_end > root_start && text[root_end - 1] == '\0')
                    root_end--;
                ret_root->start = root_start;
                ret_root->end = root_end;
                return FERRY_OK;
            }
            bool obj = (is_object[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
            if (pos >= len)
                return fail_end(&v);
            if (v.text[pos] == ',') {
                pos = skip_ws_strict(&v, pos + 1);
                if (obj && (pos = check_member_name(&v, pos, &rc)) == SIZE_MAX)
                    return rc;
                break;
            }
            if (v.text[pos] != (obj ? '}' : ']'))
                return fail_at(&v, pos, obj ? "',' or '}' expected" : "',' or ']' expected");
            depth--;
            pos++;
        }
    }
}

/* ---- Scanning a validated text ---- */

static size_t skip_ws(const char *text, size_t pos, size_t end)
{
    while (pos < end && (is_ws((unsigned char)text[pos]) || text[pos] == '\0'))
        pos++;
    return pos;
}

/* The end of the string whose opening quote is at pos (past its closing quote); *ret_escaped
 * tells whether it holds a backslash. */
static size_t string_end(const char *text, size_t pos, bool *ret_escaped)
{
    const unsigned char *p = (const unsigned char *)text + pos + 1;
    bool escaped = false;

    for (;;) {
        while (!quote_or_backslash[p[0]]) {
            if (quote_or_backslash[p[1]]) {
                p += 1;
                break;
            }
            if (quote_or_backslash[p[2]]) {
                p += 2;
                break;
            }
            if (quote_or_backslash[p[3]]) {
                p += 3;
                break;
            }
            p += 4;
        }
        if (*p == '"')
            break;
        escaped = true;
        p += 2;
    }
    *ret_escaped = escaped;
    return (size_t)(p + 1 - (const unsigned char *)text);
}

/* The end of the value that starts at pos. */
static size_t value_end(const char *text, size_t pos)
{
    const unsigned char *p = (const unsigned char *)text + pos;
    size_t depth = 0;
    bool escaped;

    switch (*p) {
    case '"':
        return string_end(text, pos, &escaped);
    case '{':
    case '[':
        for (;;) {
            while (skip_class[*p] == 0)
                p++;
            switch (skip_class[*p]) {
            case 1:
                p = (const unsigned char *)text +
                    string_end(text, (size_t)(p - (const unsigned char *)text), &escaped);
                break;
            case 2:
                depth++;
                p++;
                break;
            default:
                p++;
                if (--depth == 0)
                    return (size_t)(p - (const unsigned char *)text);
                break;
            }
        }
    case 't':
    case 'n':
        return pos + 4;
    case 'f':
        return pos + 5;
    default:
        while (is_digit(*p) || *p == '-' || *p == '+' || *p == '.' || *p == 'e' || *p == 'E')
            p++;
        return (size_t)(p - (const unsigned char *)text);
    }
}

/* Decodes the escape at p (a backslash) into out (up to 4 bytes): returns the bytes written
 * and sets *ret_used to the text it took. */
static size_t decode_escape(const char *p, char *out, size_t *ret_used)
{
    const unsigned char *u = (const unsigned char *)p;
    unsigned long cp;

    switch (u[1]) {
    case 'b':
        out[0] = '\b';
        break;
    case 'f':
        out[0] = '\f';
        break;
    case 'n':
        out[0] = '\n';
        break;
    case 'r':
        out[0] = '\r';
        break;
    case 't':
        out[0] = '\t';
        break;
    case 'u':
        cp = (unsigned long)hex4(u + 2);
        *ret_used = 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)hex4(u + 8) - 0xDC00);
            *ret_used = 12;
        }
        if (cp < 0x80) {
            out[0] = (char)cp;
            return 1;
        }
        if (cp < 0x800) {
            out[0] = (char)(0xC0 | (cp >> 6));
            out[1] = (char)(0x80 | (cp & 0x3F));
            return 2;
        }
        if (cp < 0x10000) {
            out[0] = (char)(0xE0 | (cp >> 12));
            out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[2] = (char)(0x80 | (cp & 0x3F));
            return 3;
        }
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
    default: /* '"', '\\', '/' */
        out[0] = p[1];
        break;
    }
    *ret_used = 2;
    return 1;
}

/* True when the string literal text[start..end) (quotes included) decodes to name. */
static bool key_equals(const char *text, size_t start, size_t end, bool escaped, const char *name,
                       size_t name_len)
{
    const char *p = text + start + 1, *stop = text + end - 1;
    size_t i = 0;

    if (!escaped)
        return (size_t)(stop - p) == name_len && memcmp(p, name, name_len) == 0;
    if ((size_t)(stop - p) < name_len)
        return false; /* decoding only shortens */
    while (p < stop) {
        char buf[4];
        size_t n = 1, used = 1;
        if (*p == '\\')
            n = decode_escape(p, buf, &used);
        else
            buf[0] = *p;
        if (n > name_len - i || memcmp(name + i, buf, n) != 0)
            return false;
        i += n;
        p += used;
    }
    return i == name_len;
}

/* One member of an object being walked. */
typedef struct {
    size_t pos; /* where the next member (or the '}') is looked for */
    size_t key_start, key_end;
    bool key_escaped;
    ferry_json_span value;
} member_iter;

static void member_iter_init(member_iter *it, ferry_json_span object)
{
    it->pos = object.start + 1;
}

static bool member_iter_next(const char *text, member_iter *it)
{
    size_t pos = skip_ws(text, it->pos, SIZE_MAX);

    if (text[pos] == ',')
        pos = skip_ws(text, pos + 1, SIZE_MAX);
    if (text[pos] == '}')
        return false;
    it->key_start = pos;
    it->key_end = string_end(text, pos, &it->key_escaped);
    pos = skip_ws(text, it->key_end, SIZE_MAX); /* at ':' */
    it->value.start = skip_ws(text, pos + 1, SIZE_MAX);
    it->value.end = value_end(text, it->value.start);
    it->pos = it->value.end;
    return true;
}

ferry_json_kind ferry_json_scan_kind(const char *text, ferry_json_span span)
{
    switch (text[span.start]) {
    case '{':
        return FERRY_JSON_OBJECT;
    case '[':
        return FERRY_JSON_ARRAY;
    case '"':
        return FERRY_JSON_STRING;
    case 't':
        return FERRY_JSON_TRUE;
    case 'f':
        return FERRY_JSON_FALSE;
    case 'n':
        return FERRY_JSON_NULL;
    default:
        return FERRY_JSON_NUMBER;
    }
}

/* The child of the value at span that token i of path names. */
static bool step(const char *text, ferry_json_span span, const ferry_json_path *path, size_t i,
                 ferry_json_span *ret)
{
    size_t name_len, index;
    const char *name;
    bool found = false;

    if (text[span.start] == '{') {
        member_iter it;
        name = ferry_json_path_token(path, i, &name_len);
        member_iter_init(&it, span);
        while (member_iter_next(text, &it)) {
            if (key_equals(text, it.key_start, it.key_end, it.key_escaped, name, name_len)) {
                *ret = it.value; /* a later one with the same name wins */
                found = true;
            }
        }
        return found;
    }
    if (text[span.start] == '[' && ferry_json_path_token_index(path, i, &index)) {
        size_t pos = 0;
        for (size_t k = 0; ferry_json_scan_next(text, span, &pos, ret); k++) {
            if (k == index)
                return true;
        }
    }
    return false;
}

/* Follows the tokens of path from i on below span. */
static bool walk(const char *text, ferry_json_span span, const ferry_json_path *path, size_t i,
                 ferry_json_span *ret)
{
    size_t n = ferry_json_path_ntokens(path);

    for (; i < n; i++) {
        if (!step(text, span, path, i, &span))
            return false;
    }
    *ret = span;
    return true;
}

bool ferry_json_scan_find(const char *text, ferry_json_span span, const ferry_json_path *path,
                          ferry_json_span *ret)
{
    if (ferry_json_path_has_wildcard(path))
        return false;
    return walk(text, span, path, 0, ret);
}

void ferry_json_scan_find_many(const char *text, ferry_json_span span,
                               const ferry_json_path *const *paths, size_t npaths,
                               ferry_json_span *ret, bool *found)
{
    member_iter it;

    if (text[span.start] != '{') {
        for (size_t i = 0; i < npaths; i++)
            found[i] = ferry_json_scan_find(text, span, paths[i], &ret[i]);
        return;
    }
    /* found[i] first says whether the first token's member was seen, ret[i] its value. The
     * first tokens of the first FIND_MANY_CACHE paths are looked up once, not per member. */
    const char *names[FIND_MANY_CACHE];
    size_t name_lens[FIND_MANY_CACHE];
    for (size_t i = 0; i < npaths; i++) {
        found[i] = false;
        if (i < FIND_MANY_CACHE) {
            names[i] = NULL;
            if (ferry_json_path_ntokens(paths[i]) > 0)
                names[i] = ferry_json_path_token(paths[i], 0, &name_lens[i]);
        }
    }
    member_iter_init(&it, span);
    while (member_iter_next(text, &it)) {
        for (size_t i = 0; i < npaths; i++) {
            size_t name_len;
            const char *name;
            if (i < FIND_MANY_CACHE) {
                name = names[i];
                name_len = name_lens[i];
            } else if (ferry_json_path_ntokens(paths[i]) > 0) {
                name = ferry_json_path_token(paths[i], 0, &name_len);
            } else {
                name = NULL;
            }
            if (name != NULL &&
                key_equals(text, it.key_start, it.key_end, it.key_escaped, name, name_len)) {
                ret[i] = it.value;
                found[i] = true;
            }
        }
    }
    for (size_t i = 0; i < npaths; i++) {
        if (ferry_json_path_has_wildcard(paths[i]))
            found[i] = false;
        else if (ferry_json_path_ntokens(paths[i]) == 0)
            found[i] = walk(text, span, paths[i], 0, &ret[i]);
        else if (found[i])
            found[i] = walk(text, ret[i], paths[i], 1, &ret[i]);
    }
}

bool ferry_json_scan_next(const char *text, ferry_json_span array, size_t *pos,
                          ferry_json_span *ret)
{
    size_t p = *pos == 0 ? array.start + 1 : *pos;

    if (text[array.start] != '[')
        return false;
    p = skip_ws(text, p, array.end);
    if (p < array.end && text[p] == ',')
        p = skip_ws(text, p + 1, array.end);
    if (p >= array.end || text[p] == ']')
        return false;
    ret->start = p;
    ret->end = value_end(text, p);
    *pos = ret->end;
    return true;
}

size_t ferry_json_scan_count(const char *text, ferry_json_span array)
{
    ferry_json_span e;
    size_t pos = 0, n = 0;

    while (ferry_json_scan_next(text, array, &pos, &e))
        n++;
    return n;
}

/* Appends the decoded contents of the string literal at span. */
static ferry_rc append_string(const char *text, ferry_json_span span, ferry_buf *out)
{
    const char *p = text + span.start + 1, *stop = text + span.end - 1;
    ferry_rc rc;

    while (p < stop) {
        const char *run = p;
        char buf[4];
        size_t n, used;
        while (p < stop && *p != '\\')
            p++;
        if ((rc = ferry_buf_append(out, run, (size_t)(p - run))) != FERRY_OK)
            return rc;
        if (p == stop)
            break;
        n = decode_escape(p, buf, &used);
        if ((rc = ferry_buf_append(out, buf, n)) != FERRY_OK)
            return rc;
        p += used;
    }
    return FERRY_OK;
}

/* Appends the text of the number at span. */
static ferry_rc append_number(const char *text, ferry_json_span span, ferry_buf *out)
{
    const char *s = text + span.start;
    size_t n = span.end - span.start;
    char num[64];

    if (memchr(s, '.', n) == NULL && memchr(s, 'e', n) == NULL && memchr(s, 'E', n) == NULL)
        snprintf(num, sizeof(num), "%lld", integer_value(s, n));
    else
        ferry_json_real_format(real_value(s, n), num, sizeof(num));
    return ferry_buf_append(out, num, strlen(num));
}

ferry_rc ferry_json_scan_text(const char *text, ferry_json_span span, ferry_buf *out,
                              bool *ret_found)
{
    size_t start = out->len;
    ferry_rc rc;

    switch (ferry_json_scan_kind(text, span)) {
    case FERRY_JSON_OBJECT:
    case FERRY_JSON_ARRAY:
        return FERRY_EINVAL;
    case FERRY_JSON_NULL:
        *ret_found = false;
        return FERRY_OK;
    case FERRY_JSON_TRUE:
        rc = ferry_buf_append(out, "true", 4);
        break;
    case FERRY_JSON_FALSE:
        rc = ferry_buf_append(out, "false", 5);
        break;
    case FERRY_JSON_STRING:
        rc = append_string(text, span, out);
        break;
    default:
        rc = append_number(text, span, out);
        break;
    }
    if (rc != FERRY_OK) {
        /* Leave out as it was: half a value is worse than none. */
        out->len = start;
        if (out->data != NULL)
            out->data[start] = '\0';
        return rc;
    }
    *ret_found = true;
    return FERRY_OK;
}
