/* guard.c - a sync's guard (see guard.h).
 *
 * Shares are kept in hundredths of a percent and compared in integers (count * 10000 >
 * share * of), so 10% of 2,000 is exactly 200 and no rounding lets a row more through. The
 * messages say what the run would have done, that nothing was written, and how to allow it:
 * in the config for good, or (max_missing) with --allow-missing for one run. */
#include "sync/guard.h"

#include <inttypes.h>
#include <stdio.h>

bool ferry_guard_limit_is_exceeded(const ferry_guard_limit *limit, int64_t count, int64_t of)
{
    if (!limit->set)
        return false;
    if (!limit->percent)
        return count > limit->value;
    if (count <= FERRY_GUARD_SHARE_FLOOR)
        return false;
    return count * 10000 > limit->value * (of > 0 ? of : 0);
}

void ferry_guard_limit_format(const ferry_guard_limit *limit, char *out, size_t outlen)
{
    int64_t v = limit->value;

    if (!limit->set)
        snprintf(out, outlen, "none");
    else if (!limit->percent)
        snprintf(out, outlen, "%" PRId64, v);
    else if (v % 100 == 0)
        snprintf(out, outlen, "%" PRId64 "%%", v / 100);
    else if (v % 10 == 0)
        snprintf(out, outlen, "%" PRId64 ".%" PRId64 "%%", v / 100, (v % 100) / 10);
    else
        snprintf(out, outlen, "%" PRId64 ".%02" PRId64 "%%", v / 100, v % 100);
}

/* count as a share of of, for messages ("38.1%"). */
static void format_share(int64_t count, int64_t of, char *out, size_t outlen)
{
    int64_t tenths = of > 0 ? (count * 1000 + of / 2) / of : 0; /* rounded half up */

    if (of <= 0)
        snprintf(out, outlen, "all");
    else
        snprintf(out, outlen, "%" PRId64 ".%" PRId64 "%%", tenths / 10, tenths % 10);
}

ferry_rc ferry_guard_check_missing(const ferry_sync_spec *sync, const char *tenant, int64_t missing,
                                   int64_t scope, ferry_err *err)
{
    char limit[32], share[32];

    if (!ferry_guard_limit_is_exceeded(&sync->guard.max_missing, missing, scope))
        return FERRY_OK;
    ferry_guard_limit_format(&sync->guard.max_missing, limit, sizeof(limit));
    format_share(missing, scope, share, sizeof(share));
    return ferry_err_set(
        err, FERRY_ELIMIT,
        "the run would %s %" PRId64 " of the %" PRId64 " rows of %s%s%s%s (%s), more than "
        "guard.max_missing allows (%s), so it was stopped before writing anything; if the "
        "source is right, allow it with guard: {max_missing: 100%%} on the sync, or for one run "
        "with ferry sync %s%s%s --allow-missing",
        sync->target.on_missing == FERRY_ON_MISSING_FLAG ? "flag as missing" : "delete", missing,
        scope, sync->target.table, tenant != NULL ? " for tenant '" : "",
        tenant != NULL ? tenant : "", tenant != NULL ? "'" : "", share, limit, sync->name,
        tenant != NULL ? " --tenant " : "", tenant != NULL ? tenant : "");
}

ferry_rc ferry_guard_check_failed(const ferry_sync_spec *sync, int64_t failed, int64_t processed,
                                  const char *first_failure, ferry_err *err)
{
    char limit[32], share[32];

    if (!ferry_guard_limit_is_exceeded(&sync->guard.max_failed, failed, processed))
        return FERRY_OK;
    ferry_guard_limit_format(&sync->guard.max_failed, limit, sizeof(limit));
    format_share(failed, processed, share, sizeof(share));
    return ferry_err_set(
        err, FERRY_ELIMIT,
        "%" PRId64 " of the %" PRId64 " records failed (%s), more than "
        "guard.max_failed allows (%s), so the run was stopped before writing "
        "anything%s%.300s%s; fix the source, or raise guard.max_failed on the "
        "sync",
        failed, processed, share, limit, first_failure != NULL ? " (the first: " : "",
        first_failure != NULL ? first_failure : "", first_failure != NULL ? ")" : "");
}
