/* tz.h - IANA time zones read from tzdata's TZif files, without the process-global TZ.
 *
 * A ferry_tz is immutable once loaded: any thread may use one at the same time. Times are
 * UTC milliseconds (or seconds) since the epoch; "local seconds" are the local wall-clock
 * fields counted as if they were UTC (timegm() of the local date and time). */
#ifndef FERRY_UTIL_TZ_H
#define FERRY_UTIL_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct ferry_tz ferry_tz;

/* The largest TZif file read (tzdata's largest "fat" file is under 8 KiB). */
#define FERRY_TZ_FILE_MAX (256 * 1024)

/* True when name may name a zone file: 1 to 255 characters of [A-Za-z0-9_+-/], no "..",
 * no leading, trailing or doubled "/". */
bool ferry_tz_name_is_valid(const char *name);

/* Loads the zone name ("Asia/Jakarta") from $TZDIR, or /usr/share/zoneinfo without it.
 * "UTC" needs no file. Returns FERRY_OK and *ret_tz (owned, ferry_tz_free), or FERRY_ECONFIG
 * with "unknown time zone 'NAME'" (a bad name or no such file) or a message saying what is
 * wrong with the file. Any thread. */
ferry_rc ferry_tz_load(const char *name, ferry_tz **ret_tz, ferry_err *err);

/* Parses the TZif data (v1, v2 or v3; borrowed) as the zone name (borrowed, copied).
 * Damaged data is refused with FERRY_ECONFIG; returns *ret_tz owned (ferry_tz_free). */
ferry_rc ferry_tz_parse(const char *name, const uint8_t *data, size_t len, ferry_tz **ret_tz,
                        ferry_err *err);

/* The UTC zone (returned owned, ferry_tz_free), or NULL when out of memory. */
ferry_tz *ferry_tz_utc(void);

/* Frees tz; accepts NULL. */
void ferry_tz_free(ferry_tz *tz);

/* The zone's name as loaded (borrowed from tz). */
const char *ferry_tz_name(const ferry_tz *tz);

/* The offset from UTC in seconds (east positive) in tz at utc_ms; tz NULL is UTC. */
int32_t ferry_tz_offset(const ferry_tz *tz, int64_t utc_ms);

/* What a local wall-clock time is in a zone. */
typedef enum {
    FERRY_TZ_LOCAL_UNIQUE,  /* it happens once */
    FERRY_TZ_LOCAL_GAP,     /* it is skipped (clocks go forward over it) */
    FERRY_TZ_LOCAL_OVERLAP, /* it happens twice (clocks go back over it) */
} ferry_tz_local_kind;

/* Resolves local_s (local seconds, see above) in tz (NULL: UTC) to UTC seconds. UNIQUE:
 * *ret_first and *ret_second are the instant. GAP: both are the first instant after the
 * gap (the moment the clocks jumped). OVERLAP: *ret_first the earlier instant, *ret_second
 * the later. */
ferry_tz_local_kind ferry_tz_local_resolve(const ferry_tz *tz, int64_t local_s, int64_t *ret_first,
                                           int64_t *ret_second);

/* The smallest and largest offset tz ever has (seconds), for bounding searches. */
void ferry_tz_offset_range(const ferry_tz *tz, int32_t *ret_min, int32_t *ret_max);

#endif
