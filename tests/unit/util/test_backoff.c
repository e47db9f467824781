/* test_backoff.c - ferry_backoff_ms: the wait doubles from the base up to the cap, a seed adds
 * at most a quarter of it, and the schedules Ferry's retry loops used before they shared it
 * come out the same. */
#include "util/backoff.h"

#include <stdbool.h>
#include <stdint.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

static void wait_doubles_from_the_base_up_to_the_cap(void **state)
{
    const int64_t want[] = {500, 1000, 2000, 4000, 8000, 10000, 10000};

    (void)state;
    for (int n = 1; n <= 7; n++)
        assert_int_equal(ferry_backoff_ms(500, 10000, n, NULL), want[n - 1]);
}

static void wait_stays_at_the_cap_however_many_tries(void **state)
{
    (void)state;
    assert_int_equal(ferry_backoff_ms(1000, 60000, 1000, NULL), 60000);
    assert_int_equal(ferry_backoff_ms(1000, 60000, 1 << 30, NULL), 60000);
}

static void first_try_waits_the_base_never_above_the_cap(void **state)
{
    (void)state;
    assert_int_equal(ferry_backoff_ms(1000, 60000, 1, NULL), 1000);
    assert_int_equal(ferry_backoff_ms(1000, 60000, 0, NULL), 1000);
    assert_int_equal(ferry_backoff_ms(90000, 60000, 1, NULL), 60000);
}

static void jitter_adds_at_most_a_quarter(void **state)
{
    bool varied = false;

    (void)state;
    for (unsigned s = 0; s < 2000; s++) {
        unsigned seed = s;
        int64_t w = ferry_backoff_ms(4000, 60000, 1, &seed);
        assert_in_range(w, 4000, 5000);
        varied = varied || w != 4000;
    }
    assert_true(varied);
    for (unsigned s = 0; s < 200; s++) {
        unsigned seed = s;
        assert_in_range(ferry_backoff_ms(1000, 30000, 40, &seed), 30000, 37500);
    }
}

static void same_seed_gives_the_same_wait(void **state)
{
    unsigned a = 42, b = 42;

    (void)state;
    assert_int_equal(ferry_backoff_ms(500, 30000, 3, &a), ferry_backoff_ms(500, 30000, 3, &b));
    assert_int_equal(a, b);
}

/* A run's retries waited 500 ms << (n - 1), at most 30 s; the workers' record retries 1, 2, 4,
 * then 5 s; the claim loop 1 s doubling to its longest wait. */
static void former_schedules_come_out_the_same(void **state)
{
    (void)state;
    for (int n = 1; n <= 20; n++) {
        int64_t run = 500LL << (n - 1 < 6 ? n - 1 : 6);
        int record = n < 3 ? 1 << (n - 1) : (n == 3 ? 4 : 5);
        int claim = n < 6 ? 1 << (n - 1) : 30;
        assert_int_equal(ferry_backoff_ms(500, 30000, n, NULL), run > 30000 ? 30000 : run);
        assert_int_equal(ferry_backoff_ms(1000, 5000, n, NULL), record * 1000);
        assert_int_equal(ferry_backoff_ms(1, 30, n, NULL), claim > 30 ? 30 : claim);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wait_doubles_from_the_base_up_to_the_cap),
        cmocka_unit_test(wait_stays_at_the_cap_however_many_tries),
        cmocka_unit_test(first_try_waits_the_base_never_above_the_cap),
        cmocka_unit_test(jitter_adds_at_most_a_quarter),
        cmocka_unit_test(same_seed_gives_the_same_wait),
        cmocka_unit_test(former_schedules_come_out_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
