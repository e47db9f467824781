/* utf8.h - is this text UTF-8? The CSV reader checks every field with it, the config loader
 * the YAML text.
 *
 * Valid means what RFC 3629 allows: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
 * past U+10FFFF, no sequence cut short. */
#ifndef FERRY_UTIL_UTF8_H
#define FERRY_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when the len bytes at s are valid UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF). */
bool ferry_utf8_is_valid(const char *s, size_t len);

/* The length of the longest prefix of the len bytes at s that is valid UTF-8: len when all
 * of it is, else the offset of the first byte of the first invalid sequence. */
size_t ferry_utf8_valid_prefix(const char *s, size_t len);

#endif
