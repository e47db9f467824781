/* buf.c - growable byte buffer with a maximum (see buf.h). */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ferry_buf_init(ferry_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void ferry_buf_done(ferry_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->truncated = false;
}

void ferry_buf_reset(ferry_buf *b)
{
    b->len = 0;
    b->truncated = false;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static ferry_rc reserve(ferry_buf *b, size_t extra)
{
    size_t need, cap;
    char *grown;

    if (extra > b->max - b->len)
        return FERRY_ELIMIT;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return FERRY_OK;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    grown = realloc(b->data, cap);
    if (grown == NULL)
        return FERRY_ENOMEM;
    b->data = grown;
    b->cap = cap;
    return FERRY_OK;
}

ferry_rc ferry_buf_append(ferry_buf *b, const void *p, size_t n)
{
    ferry_rc rc = reserve(b, n);

    if (rc != FERRY_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return FERRY_OK;
}

/* Declared with its format so clang's -Wformat-nonliteral (in -Wformat=2) accepts the
 * vsnprintf calls below. */
static ferry_rc vappend(ferry_buf *b, bool trunc, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static ferry_rc vappend(ferry_buf *b, bool trunc, const char *fmt, va_list ap)
{
    va_list ap2;
    ferry_rc rc;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return FERRY_EINVAL;
    if (trunc && (size_t)n > b->max - b->len) {
        b->truncated = true;
        n = (int)(b->max - b->len);
        if (n == 0)
            return FERRY_OK;
    }
    rc = reserve(b, (size_t)n);
    if (rc != FERRY_OK)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return FERRY_OK;
}

ferry_rc ferry_buf_printf(ferry_buf *b, const char *fmt, ...)
{
    va_list ap;
    ferry_rc rc;

    va_start(ap, fmt);
    rc = vappend(b, false, fmt, ap);
    va_end(ap);
    return rc;
}

void ferry_buf_printf_trunc(ferry_buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (vappend(b, true, fmt, ap) != FERRY_OK)
        b->truncated = true;
    va_end(ap);
}

const char *ferry_buf_str(const ferry_buf *b)
{
    return b->data != NULL ? b->data : "";
}

char *ferry_buf_take(ferry_buf *b)
{
    char *s = b->data;

    if (s == NULL)
        s = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    b->truncated = false;
    return s;
}

ferry_rc ferry_buf_append_copy_text(ferry_buf *b, const char *v, size_t len)
{
    size_t start = 0;
    ferry_rc rc;

    if (v == NULL)
        return ferry_buf_append(b, "\\N", 2);
    for (size_t i = 0; i < len; i++) {
        const char *esc;
        switch (v[i]) {
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            continue;
        }
        if ((rc = ferry_buf_append(b, v + start, i - start)) != FERRY_OK ||
            (rc = ferry_buf_append(b, esc, 2)) != FERRY_OK)
            return rc;
        start = i + 1;
    }
    return ferry_buf_append(b, v + start, len - start);
}
