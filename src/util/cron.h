/* cron.h - five-field cron expressions ("0 * * * *"), evaluated in UTC.
 *
 * Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12), day of week (0-7,
 * 0 and 7 are Sunday). Each is "*", a number, a range "a-b", a list "a,b,c", or any of these
 * with a step "/n". As in classic cron, when both day fields are restricted a day matches
 * either. Month and day names are not accepted. */
#ifndef FERRY_UTIL_CRON_H
#define FERRY_UTIL_CRON_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t minute; /* bit n: minute n */
    uint32_t hour;
    uint32_t dom;   /* bit n: day n (1-31) */
    uint16_t month; /* bit n: month n (1-12) */
    uint8_t dow;    /* bit n: weekday n (0-6, Sunday 0) */
    bool dom_any, dow_any;
} ferry_cron;

/* Parses expr; returns NULL on success or a static description of what is wrong. */
const char *ferry_cron_parse(const char *expr, ferry_cron *ret);

/* The first matching minute strictly after after_ms (ms since the epoch, UTC), or 0 when
 * none comes within five years (an impossible date such as "0 0 31 2 *"). */
int64_t ferry_cron_next(const ferry_cron *cron, int64_t after_ms);

#endif
