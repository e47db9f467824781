/* guard.h - a sync's guard: limits on what one run may do before it is refused.
 *
 * A run that would delete or flag more of the table's rows than guard.max_missing allows,
 * or in which more records fail than guard.max_failed allows, fails before it writes
 * anything that lasts: the run is one transaction, so the target is left exactly as it was.
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
#include "util/err.h"

/* A share limit lets this many rows (or records) go whatever the share. */
#define FERRY_GUARD_SHARE_FLOOR 10

/* True when count out of of is over limit (never when limit is not set). */
bool ferry_guard_limit_is_exceeded(const ferry_guard_limit *limit, int64_t count, int64_t of);

/* Writes limit as written in a config ("10%", "2.5%", "50") to out (outlen bytes). */
void ferry_guard_limit_format(const ferry_guard_limit *limit, char *out, size_t outlen);

/* Checks the rows on_missing would delete or flag (missing) against guard.max_missing, out of
 * scope: the rows of the table (of tenant, when not NULL) before the run. FERRY_ELIMIT with a
 * message that gives the count and the two ways to allow it when over. */
ferry_rc ferry_guard_check_missing(const ferry_sync_spec *sync, const char *tenant, int64_t missing,
                                   int64_t scope, ferry_err *err);

/* Checks the records that failed against guard.max_failed, out of the records the run
 * processed. first_failure (may be NULL) is the reason of the first one, quoted in the
 * message. FERRY_ELIMIT when over. */
ferry_rc ferry_guard_check_failed(const ferry_sync_spec *sync, int64_t failed, int64_t processed,
                                  const char *first_failure, ferry_err *err);

#endif
