/* buf.h - a growable byte buffer with a maximum size.
 *
 * A ferry_buf always holds a NUL after its contents, so text can be used as a C string.
 * Appends past max fail with FERRY_ELIMIT (or, for the _trunc variant, stop and mark the
 * buffer truncated), so no caller can grow one without bound. */
#ifndef FERRY_UTIL_BUF_H
#define FERRY_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

typedef struct {
    char *data; /* NULL until the first append; NUL-terminated after it */
    size_t len;
    size_t cap;
    size_t max;     /* the largest len allowed */
    bool truncated; /* a _trunc append was cut short */
} ferry_buf;

/* Initialises b in the caller's storage with the given maximum length. */
void ferry_buf_init(ferry_buf *b, size_t max);

/* Frees b's storage; b may be reused after ferry_buf_init(). */
void ferry_buf_done(ferry_buf *b);

/* Empties b, keeping its storage. */
void ferry_buf_reset(ferry_buf *b);

/* Appends n bytes. FERRY_ELIMIT past max, FERRY_ENOMEM when allocation fails. */
ferry_rc ferry_buf_append(ferry_buf *b, const void *p, size_t n);

/* Appends formatted text. */
ferry_rc ferry_buf_printf(ferry_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends formatted text, cutting it (and setting truncated) where max is reached. */
void ferry_buf_printf_trunc(ferry_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends len bytes of v as one field of PostgreSQL's COPY text format: backslash, newline,
 * carriage return and tab escaped with a backslash; NULL (v == NULL) as \N. */
ferry_rc ferry_buf_append_copy_text(ferry_buf *b, const char *v, size_t len);

/* The contents as a C string ("" when empty); borrowed. */
const char *ferry_buf_str(const ferry_buf *b);

/* Moves the contents out as a malloc'd C string (caller frees) and empties b. */
char *ferry_buf_take(ferry_buf *b);

#endif
