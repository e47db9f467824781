/* utf8.c - UTF-8 validation (see utf8.h). */
#include "util/utf8.h"

bool ferry_utf8_is_valid(const char *s, size_t len)
{
    return ferry_utf8_valid_prefix(s, len) == len;
}

size_t ferry_utf8_valid_prefix(const char *s, size_t len)
{
    const unsigned char *start = (const unsigned char *)s;
    const unsigned char *p = start;
    const unsigned char *end = p + len;

    while (p < end) {
        unsigned char c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            if (end - p < 2 || (p[1] & 0xC0) != 0x80)
                return (size_t)(p - start);
            p += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
                return (size_t)(p - start);
            if (c == 0xE0 && p[1] < 0xA0) /* overlong */
                return (size_t)(p - start);
            if (c == 0xED && p[1] > 0x9F) /* surrogates */
                return (size_t)(p - start);
            p += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
                (p[3] & 0xC0) != 0x80)
                return (size_t)(p - start);
            if (c == 0xF0 && p[1] < 0x90) /* overlong */
                return (size_t)(p - start);
            if (c == 0xF4 && p[1] > 0x8F) /* past U+10FFFF */
                return (size_t)(p - start);
            p += 4;
        } else {
            return (size_t)(p - start);
        }
    }
    return len;
}
