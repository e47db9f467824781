/* activity.h - a run's activity log: what it did, when (docs/api.md "The activity log").
 *
 * Entries are short texts with a kind ("connected", "page", "wait", "retry", "phase") and a
 * wall-clock time, told by the run and its source as they happen. The log is bounded: the
 * first FERRY_ACTIVITY_HEAD entries are kept, then the last FERRY_ACTIVITY_TAIL; the ones
 * between are counted and stand as one "dropped" entry saying how many were left out. So a
 * run of 100,000 pages keeps how it began and how it ended in at most
 * FERRY_ACTIVITY_HEAD + FERRY_ACTIVITY_TAIL + 1 entries.
 *
 * Texts never hold a URL's user, password or query (the sources write host and path only).
 * A log belongs to one thread (the run's). */
#ifndef FERRY_SYNC_ACTIVITY_H
#define FERRY_SYNC_ACTIVITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FERRY_ACTIVITY_HEAD 20
#define FERRY_ACTIVITY_TAIL 180
#define FERRY_ACTIVITY_TEXT_MAX 512 /* bytes of an entry's text; longer ones are cut */
#define FERRY_ACTIVITY_KIND_MAX 16

typedef struct {
    int64_t at_ms;
    char kind[FERRY_ACTIVITY_KIND_MAX];
    char text[FERRY_ACTIVITY_TEXT_MAX];
} ferry_activity_entry;

typedef struct {
    ferry_activity_entry head[FERRY_ACTIVITY_HEAD];
    ferry_activity_entry tail[FERRY_ACTIVITY_TAIL]; /* a ring: the oldest at tail_next */
    size_t nhead, ntail, tail_next;
    int64_t added;   /* entries ever added */
    int64_t dropped; /* entries left out between head and tail */
} ferry_activity_log;

/* Empties log (caller's storage: no _done needed). */
void ferry_activity_log_init(ferry_activity_log *log);

/* Adds an entry (kind and text copied, cut to their maximums); returns its number in the
 * run, from 1. */
int64_t ferry_activity_log_add(ferry_activity_log *log, int64_t at_ms, const char *kind,
                               const char *text);

/* The log as a JSON array, oldest first: [{"at": ISO 8601, "kind", "text"}, ...], with
 * {"at", "kind": "dropped", "text": "N entries left out"} where entries were dropped.
 * Returned malloc'd (the caller frees it); NULL when the log is empty or memory ran out. */
char *ferry_activity_log_format(const ferry_activity_log *log);

#endif
