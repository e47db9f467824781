/* http_headers.h - reading the response headers that drive paging and throttling.
 *
 * Pure functions over header values; no I/O, no allocation except a returned URL. */
#ifndef FERRY_UTIL_HTTP_HEADERS_H
#define FERRY_UTIL_HTTP_HEADERS_H

#include <stdbool.h>
#include <stdint.h>

/* The target of the first link whose rel lists "next" (case-insensitive; rel="next" or
 * rel=next, possibly among other types: rel="next last") in an RFC 8288 Link header value
 * such as `<https://x/api?page=2>; rel="next", <https://x/api?page=9>; rel="last"`. A
 * relative target is resolved against base_url. Returns a malloc'd URL owned by the caller,
 * or NULL when there is no next link or the value is malformed (a target that does not
 * resolve to an http or https URL counts as malformed). */
char *ferry_link_next(const char *link_value, const char *base_url);

/* As ferry_link_next(), for the link of relation want (at most 7 characters: "last",
 * "prev"). */
char *ferry_link_rel(const char *link_value, const char *want, const char *base_url);

/* Retry-After: delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT").
 * Sets *ret_until_ms (wall clock, ms since the epoch) and returns true; a date in the past
 * gives now_ms. False when the value cannot be read. */
bool ferry_retry_after_parse(const char *value, int64_t now_ms, int64_t *ret_until_ms);

/* X-RateLimit-Reset, in the forms services send: epoch seconds ("1700000000", any integer of
 * 10 digits or more read as seconds, of 13 or more as milliseconds), seconds to wait (a
 * smaller integer), or an ISO 8601 time ("2026-11-23T12:00:00Z", "...+10:00", fractions
 * allowed; one without a zone is refused). The integer forms may carry a fraction
 * ("1700000000.25", "1.5"), and an HTTP-date is read too. Same results as
 * ferry_retry_after_parse(). */
bool ferry_ratelimit_reset_parse(const char *value, int64_t now_ms, int64_t *ret_until_ms);

#endif
