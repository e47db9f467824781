/* text.h - small readers of values written as text, shared by the mapper (which makes a
 * field's canonical text) and the targets (which read stored values back as text), and the
 * one writer of counts for messages. Pure functions; any thread. */
#ifndef FERRY_UTIL_TEXT_H
#define FERRY_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads exactly width decimal digits at s[*i] (s has n bytes) into *ret and moves *i past
 * them; false (nothing moved) when there are fewer. */
bool ferry_text_digits_read(const char *s, size_t n, size_t *i, int width, int *ret);

/* 1 for a word meaning true (true, yes, y, t, on, 1), 0 for one meaning false (false, no, n,
 * f, off, 0), in any case; -1 for anything else. */
int ferry_text_boolean_parse(const char *s, size_t n);

/* The value of the hexadecimal digit c (0-9, a-f, A-F), or -1. */
int ferry_text_hex_digit(int c);

/* The days of month m (1 to 12) of year y in the proleptic Gregorian calendar. */
int ferry_text_days_in_month(int y, int m);

/* Writes v as messages show counts, with thousands separators ("2,000"; a negative value
 * without them), into out (outlen bytes, cut short when too small). */
void ferry_text_count(int64_t v, char *out, size_t outlen);

#endif
