/* guard.c - a sync's guard (see guard.h).
 *
 * Shares are kept in hundredths of a percent and compared in integers (count * 10000 >
 * share * of), so 10% of 2,000 is exactly 200 and no rounding lets a row more through. The
 * sentences say what the run would do, with its share and the limit it is over. */
#include "sync/guard.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/text.h"

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

/* count as a share of of, for messages: whole percents ("38%"), tenths under 1% ("0.4%"). */
static void format_share(int64_t count, int64_t of, char *out, size_t outlen)
{
    int64_t tenths = of > 0 ? (count * 1000 + of / 2) / of : 0; /* rounded half up */

    if (of <= 0)
        snprintf(out, outlen, "all");
    else if (tenths < 10)
        snprintf(out, outlen, "%" PRId64 ".%" PRId64 "%%", tenths / 10, tenths % 10);
    else
        snprintf(out, outlen, "%" PRId64 "%%", (count * 100 + of / 2) / of);
}

/* Appends sentence to the reasons, "; " between two. */
static void add_reason(ferry_buf *reasons, const char *sentence)
{
    if (reasons->len > 0)
        ferry_buf_append(reasons, "; ", 2);
    ferry_buf_append(reasons, sentence, strlen(sentence));
}

bool ferry_guard_hold_limit(const ferry_guard_limit *limit, ferry_guard_rule rule, int64_t count,
                            int64_t of, const char *noun, const char *first, ferry_buf *reasons)
{
    char limit_text[32], share[32], n[32], total[32], sentence[800];

    /* A share of max_updated holds from the first row: an update of 5 of 10 rows matters. */
    if (rule == FERRY_GUARD_UPDATED && limit->set && limit->percent
            ? count * 10000 <= limit->value * (of > 0 ? of : 0)
            : !ferry_guard_limit_is_exceeded(limit, count, of))
        return false;
    ferry_guard_limit_format(limit, limit_text, sizeof(limit_text));
    format_share(count, of, share, sizeof(share));
    ferry_text_count(count, n, sizeof(n));
    ferry_text_count(of, total, sizeof(total));
    if (rule == FERRY_GUARD_FAILED)
        snprintf(sentence, sizeof(sentence), "%s of %s %s failed (%s), more than %s%s%.300s%s", n,
                 total, noun, share, limit_text, first != NULL ? " (the first: " : "",
                 first != NULL ? first : "", first != NULL ? ")" : "");
    else
        snprintf(sentence, sizeof(sentence), "would %s %s of %s %s (%s), more than %s",
                 rule == FERRY_GUARD_UPDATED   ? "update"
                 : rule == FERRY_GUARD_FLAGGED ? "flag as missing"
                                               : "delete",
                 n, total, noun, share, limit_text);
    add_reason(reasons, sentence);
    return true;
}

void ferry_guard_hold_protected(const char *field, int64_t count, int64_t of, const char *noun,
                                ferry_buf *reasons)
{
    char n[32], total[32], sentence[300];

    ferry_text_count(count, n, sizeof(n));
    ferry_text_count(of, total, sizeof(total));
    snprintf(sentence, sizeof(sentence), "would change protected field %s of %s of %s %s", field, n,
             total, noun);
    add_reason(reasons, sentence);
}

bool ferry_guard_diff_has_field(const char *diff_json, const char *field)
{
    size_t len = strlen(field);

    /* A key is a string followed by ':'; inside a JSON string every '"' is escaped, so
     * "FIELD": not preceded by a backslash is the key itself. */
    for (const char *p = diff_json; p != NULL && (p = strchr(p, '"')) != NULL; p++) {
        if ((p == diff_json || p[-1] != '\\') && strncmp(p + 1, field, len) == 0 &&
            p[len + 1] == '"' && p[len + 2] == ':')
            return true;
    }
    return false;
}
