/* cron.h - five-field cron expressions ("0 * * * *"), evaluated in a time zone.
 *
 * Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC), day of
 * week (0-7, 0 and 7 are Sunday, or SUN-SAT). Names are case-insensitive. Each field is "*",
 * a value, a range "a-b", a list "a,b,c", or any of these with a step "/n". As in classic
 * cron, when both day fields are restricted a day matches either. The macros @hourly, @daily
 * (@midnight), @weekly, @monthly and @yearly (@annually) stand for their five fields.
 *
 * Daylight saving time, when the zone has it: a local time that does not exist (skipped
 * when the clocks go forward) fires at the first instant after the gap; a local time that
 * happens twice (the clocks go back) fires once, at its first occurrence. A schedule whose
 * hour field is "*" or "*" with a step fires at every real instant that matches instead:
 * the repeated hour is another hour of real time, and the skipped one never happened. */
#ifndef FERRY_UTIL_CRON_H
#define FERRY_UTIL_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "util/tz.h"

typedef struct {
    uint64_t minute; /* bit n: minute n */
    uint32_t hour;
    uint32_t dom;   /* bit n: day n (1-31) */
    uint16_t month; /* bit n: month n (1-12) */
    uint8_t dow;    /* bit n: weekday n (0-6, Sunday 0) */
    bool dom_any, dow_any;
    bool hour_any; /* the hour field is "*" or "*" with a step: real-time hours (see above) */
} ferry_cron;

/* Parses expr; returns NULL on success or a static description of what is wrong. */
const char *ferry_cron_parse(const char *expr, ferry_cron *ret);

/* The first matching instant (ms since the epoch) strictly after after_ms, with the fields
 * read as local times in tz (borrowed; NULL is UTC), or 0 when none comes within five years
 * (an impossible date such as "0 0 31 2 *"). Any thread. */
int64_t ferry_cron_next(const ferry_cron *cron, const ferry_tz *tz, int64_t after_ms);

#endif
