/* instant.h - a REST record's cursor value as an instant (incremental syncs).
 *
 * Cursor values come as ISO 8601 dates or date-times (with a 'Z' or a +hh:mm offset, and
 * fractions of a second) or as numbers of seconds since the Unix epoch. Both are read into
 * milliseconds since the epoch, so values written either way compare as instants. */
#ifndef FERRY_UTIL_INSTANT_H
#define FERRY_UTIL_INSTANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FERRY_INSTANT_TEXT_MAX 32

/* Reads len bytes of s ("2026-12-06", "2026-12-06T09:00:00Z", "2026-12-06T10:00:00.5+01:00",
 * "1796547600", "1796547600.25") into *ret_ms. A date-time without an offset is UTC. False
 * when s is neither a date nor a number (*ret_ms untouched). Pure; any thread. */
bool ferry_instant_parse(const char *s, size_t len, int64_t *ret_ms);

/* Formats ms, rounded down to the second, as "2026-12-06T09:00:00Z", or as epoch seconds
 * ("1796547600") when epoch, into out. */
void ferry_instant_format(int64_t ms, bool epoch, char out[FERRY_INSTANT_TEXT_MAX]);

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (m 1-12, d 1-31). */
int64_t ferry_instant_days_from_civil(int64_t y, int m, int d);

/* The date of day z counted from 1970-01-01 (the inverse of the above). */
void ferry_instant_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

#endif
