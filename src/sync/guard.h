/* guard.h - a sync's guard: limits on what one run may do before a person looks at it.
 *
 * A run that would delete or flag more of the table's rows than guard.max_missing allows,
 * update more than guard.max_updated allows, in which more records fail than
 * guard.max_failed allows, or which changes a field guard.protect names, is held: nothing it
 * did is committed, its change set is kept for review (sync/hold.h, docs/review.md).
 * The limits are a share ("10%", of the rows in the run's scope, or of the records the run
 * processed) or a count ("50"). A share is only enforced past GUARD_SHARE_FLOOR rows, so a
 * small table can lose a row or two. docs/config.md ("guard") is the user's side.
 *
 * Pure functions; any thread. */
#ifndef FERRY_SYNC_GUARD_H
#define FERRY_SYNC_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/buf.h"
#include "util/err.h"

/* A share limit lets this many rows (or records) go whatever the share. */
#define FERRY_GUARD_SHARE_FLOOR 10

/* True when count out of of is over limit (never when limit is not set). */
bool ferry_guard_limit_is_exceeded(const ferry_guard_limit *limit, int64_t count, int64_t of);

/* Writes limit as written in a config ("10%", "2.5%", "50") to out (outlen bytes). */
void ferry_guard_limit_format(const ferry_guard_limit *limit, char *out, size_t outlen);

/* What a limit counts. */
typedef enum {
    FERRY_GUARD_DELETED, /* rows on_missing would delete (max_missing) */
    FERRY_GUARD_FLAGGED, /* rows on_missing would flag as missing (max_missing) */
    FERRY_GUARD_UPDATED, /* rows updated (max_updated) */
    FERRY_GUARD_FAILED,  /* records that failed (max_failed) */
} ferry_guard_rule;

/* When count out of of is over limit, appends the broken rule's sentence to reasons ("; "
 * between two) and returns true: "would update 5 of 10 services (50%), more than 30%",
 * "21 of 2,000 therapists failed (1%), more than 1% (the first: FIRST)". noun: the sync's
 * (plural); first (may be NULL): a failed record's reason. */
bool ferry_guard_hold_limit(const ferry_guard_limit *limit, ferry_guard_rule rule, int64_t count,
                            int64_t of, const char *noun, const char *first, ferry_buf *reasons);

/* Appends "would change protected field email of 3 of 2,000 therapists" to reasons. */
void ferry_guard_hold_protected(const char *field, int64_t count, int64_t of, const char *noun,
                                ferry_buf *reasons);

/* Whether an updated record's diff ({"field": ["old", "new"], ...}) changes field. */
bool ferry_guard_diff_has_field(const char *diff_json, const char *field);

#endif
