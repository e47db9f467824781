/* text.c - small readers of values written as text (see text.h). */
#include "util/text.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool ferry_text_digits_read(const char *s, size_t n, size_t *i, int width, int *ret)
{
    int v = 0;

    if (*i + (size_t)width > n)
        return false;
    for (int k = 0; k < width; k++) {
        char c = s[*i + (size_t)k];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)width;
    *ret = v;
    return true;
}

int ferry_text_boolean_parse(const char *s, size_t n)
{
    static const char *const yes[] = {"true", "yes", "y", "t", "on", "1"};
    static const char *const no[] = {"false", "no", "n", "f", "off", "0"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0)
            return 1;
        if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0)
            return 0;
    }
    return -1;
}

int ferry_text_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

void ferry_text_count(int64_t v, char *out, size_t outlen)
{
    char digits[32];
    size_t n, o = 0;

    if (outlen == 0)
        return;
    snprintf(digits, sizeof(digits), "%lld", (long long)v);
    n = strlen(digits);
    for (size_t i = 0; i < n && o + 2 < outlen; i++) {
        if (i > 0 && (n - i) % 3 == 0 && digits[0] != '-')
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

int ferry_text_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
