/* fuzz_tzif.c - fuzz target: util/tz.c's TZif and POSIX TZ reader, and cron in its zones.
 *
 * The input is a TZif file. Checked (a violation aborts):
 * - ferry_tz_parse() either fails with FERRY_ECONFIG (or FERRY_ENOMEM), a one-line message
 *   and no zone, or returns a zone;
 * - on a zone, ferry_tz_offset() at instants from 1900 to 2200 (fixed ones and ones taken
 *   from the data) lies within ferry_tz_offset_range(), itself within +-26 h;
 * - ferry_tz_local_resolve() of local times around those instants gives instants that read
 *   back as that local time (UNIQUE, OVERLAP in order) or, in a gap, the instant the offset
 *   changed;
 * - ferry_cron_next() in the zone is 0 or strictly after the instant it was asked after. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cron.h"
#include "util/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_tzif: invariant failed: %s (line %d)\n", #cond, __LINE__);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_instant(const ferry_tz *tz, int64_t t, int32_t lo, int32_t hi)
{
    int32_t off = ferry_tz_offset(tz, t * 1000);
    int64_t local = t + off, first, second;

    CHECK(off >= lo && off <= hi);
    for (int64_t d = -7200; d <= 7200; d += 1800) {
        int64_t l = local + d;
        switch (ferry_tz_local_resolve(tz, l, &first, &second)) {
        case FERRY_TZ_LOCAL_UNIQUE:
            CHECK(first == second);
            CHECK(first + ferry_tz_offset(tz, first * 1000) == l);
            break;
        case FERRY_TZ_LOCAL_OVERLAP:
            CHECK(first < second);
            CHECK(first + ferry_tz_offset(tz, first * 1000) == l);
            CHECK(second + ferry_tz_offset(tz, second * 1000) == l);
            break;
        case FERRY_TZ_LOCAL_GAP:
            CHECK(first == second);
            CHECK(first >= l - hi && first <= l - lo);
            break;
        default:
            CHECK(0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t fixed[] = {-2208988800LL, -1,          0,          1,
                                    1000000000,    1796547600,  2147483647, 2147483648LL,
                                    3786825600LL,  7258118400LL};
    ferry_tz *tz = NULL;
    ferry_err err;
    ferry_rc rc;
    int32_t lo, hi;
    ferry_cron cron;

    ferry_err_clear(&err);
    rc = ferry_tz_parse("Fuzz/Zone", data, size, &tz, &err);
    if (rc != FERRY_OK) {
        CHECK(rc == FERRY_ECONFIG || rc == FERRY_ENOMEM);
        CHECK(tz == NULL);
        CHECK(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL);
        return 0;
    }
    CHECK(tz != NULL);
    ferry_tz_offset_range(tz, &lo, &hi);
    CHECK(lo <= hi && lo >= -26 * 3600 && hi <= 26 * 3600);
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check_instant(tz, fixed[i], lo, hi);
    /* Instants taken from the data, so mutations steer them near transitions. */
    for (size_t i = 0; i + 4 <= size && i < 64 * 4; i += 4) {
        uint32_t v = (uint32_t)data[i] << 24 | (uint32_t)data[i + 1] << 16 |
                     (uint32_t)data[i + 2] << 8 | data[i + 3];
        check_instant(tz, (int64_t)(int32_t)v, lo, hi);
    }
    CHECK(ferry_cron_parse("30 2 * * *", &cron) == NULL);
    for (size_t i = 0; i < 4; i++) {
        int64_t after = (fixed[4 + i] + 12345) * 1000, next = ferry_cron_next(&cron, tz, after);
        CHECK(next == 0 || next > after);
    }
    ferry_tz_free(tz);
    return 0;
}
