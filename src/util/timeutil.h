/* timeutil.h - wall and monotonic clocks and ISO 8601 timestamps. */
#ifndef FERRY_UTIL_TIMEUTIL_H
#define FERRY_UTIL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_ISO_TIME_MAX 32

/* Milliseconds since the Unix epoch (wall clock). */
int64_t ferry_time_now_ms(void);

/* Milliseconds from an arbitrary start (monotonic, for durations and rates). */
int64_t ferry_time_mono_ms(void);

/* Formats ms since the epoch as "2026-11-23T06:05:44.123Z" into out (FERRY_ISO_TIME_MAX). */
void ferry_time_format_iso(int64_t ms, char out[FERRY_ISO_TIME_MAX]);

/* Formats a duration in ms for people: "850 ms", "4.2 s", "3 min 5 s", "2 h 1 min". */
void ferry_time_format_duration(int64_t ms, char *out, size_t outlen);

#endif
