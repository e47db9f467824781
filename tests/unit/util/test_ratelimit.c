/* test_ratelimit.c - rate parsing, per-host token buckets, pauses and cancelling.
 *
 * Timing assertions give lower bounds only, or upper bounds far above what is expected, since
 * test machines are noisy. The whole file sleeps about 3 s. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "util/ratelimit.h"
#include "util/timeutil.h"

static int reset(void **state)
{
    (void)state;
    ferry_ratelimit_reset();
    return 0;
}

static double rate_of(const char *text)
{
    double per_s = -1;

    assert_true(ferry_rate_parse(text, &per_s));
    return per_s;
}

typedef struct {
    int calls;
    int64_t until_ms;
    atomic_bool *cancel; /* set from the callback when not NULL */
} wait_log;

static void log_wait(void *ctx, int64_t until_ms)
{
    wait_log *log = ctx;

    log->calls++;
    log->until_ms = until_ms;
    if (log->cancel != NULL)
        atomic_store(log->cancel, true);
}

static void rates_in_every_unit_parse(void **state)
{
    (void)state;
    assert_true(rate_of("5/s") == 5.0);
    assert_true(rate_of("5/sec") == 5.0);
    assert_true(rate_of("10/m") == 10.0 / 60);
    assert_true(rate_of("200/min") == 200.0 / 60);
    assert_true(rate_of("200/min") > 3.333 && rate_of("200/min") < 3.334);
    assert_true(rate_of("1000/h") == 1000.0 / 3600);
    assert_true(rate_of("1000/hour") == 1000.0 / 3600);
}

static void non_rates_are_refused(void **state)
{
    double per_s = 42;

    (void)state;
    assert_false(ferry_rate_parse("0/min", &per_s));
    assert_false(ferry_rate_parse("abc", &per_s));
    assert_false(ferry_rate_parse("5/fortnight", &per_s));
    assert_false(ferry_rate_parse("-1/s", &per_s));
    assert_false(ferry_rate_parse("5", &per_s));
    assert_false(ferry_rate_parse("5/", &per_s));
    assert_false(ferry_rate_parse("/s", &per_s));
    assert_false(ferry_rate_parse(" 5/s", &per_s));
    assert_false(ferry_rate_parse("1.5/s", &per_s));
    assert_false(ferry_rate_parse("99999999999999999999/s", &per_s));
    assert_false(ferry_rate_parse("", &per_s));
    assert_true(per_s == 42);
}

static void twenty_per_second_spreads_ten_takes(void **state)
{
    int64_t start = ferry_time_mono_ms();

    (void)state;
    for (int i = 0; i < 10; i++)
        assert_int_equal(ferry_ratelimit_take("a.example", 20, NULL, NULL, NULL, NULL), FERRY_OK);
    /* The first goes at once, the nine after it 50 ms apart: about 450 ms. */
    assert_true(ferry_time_mono_ms() - start >= 300);
}

static void separate_hosts_do_not_share_a_bucket(void **state)
{
    int64_t start;

    (void)state;
    assert_int_equal(ferry_ratelimit_take("a.example", 0.5, NULL, NULL, NULL, NULL), FERRY_OK);
    start = ferry_time_mono_ms();
    /* a.example's bucket is empty for 2 s; b.example's first token is there at once. */
    assert_int_equal(ferry_ratelimit_take("b.example", 0.5, NULL, NULL, NULL, NULL), FERRY_OK);
    assert_int_equal(ferry_ratelimit_take("a.example:8443", 0.5, NULL, NULL, NULL, NULL), FERRY_OK);
    assert_true(ferry_time_mono_ms() - start < 1000);
}

/* Takes three tokens from a.example at 20/s; returns NULL when all three were granted. */
static void *take_three(void *arg)
{
    static char failed;

    (void)arg;
    for (int i = 0; i < 3; i++) {
        if (ferry_ratelimit_take("a.example", 20, NULL, NULL, NULL, NULL) != FERRY_OK)
            return &failed;
    }
    return NULL;
}

static void threads_share_one_host_budget(void **state)
{
    int64_t start = ferry_time_mono_ms();
    pthread_t t[4];
    void *failed;

    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, take_three, NULL), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], &failed);
        assert_null(failed);
    }
    /* Twelve tokens at 20/s, whoever takes them: about 550 ms. */
    assert_true(ferry_time_mono_ms() - start >= 400);
}

static void lowest_rate_wins(void **state)
{
    int64_t start;

    (void)state;
    assert_int_equal(ferry_ratelimit_take("a.example", 2, NULL, NULL, NULL, NULL), FERRY_OK);
    start = ferry_time_mono_ms();
    /* Asking for 100/s does not lift the 2/s another config set: the next token is 500 ms off. */
    assert_int_equal(ferry_ratelimit_take("a.example", 100, NULL, NULL, NULL, NULL), FERRY_OK);
    assert_true(ferry_time_mono_ms() - start >= 300);
}

static void pause_holds_takes_until_its_end(void **state)
{
    wait_log log = {0};
    int64_t until = ferry_time_now_ms() + 1300;

    (void)state;
    ferry_ratelimit_pause("a.example", until);
    assert_int_equal(ferry_ratelimit_take("a.example", 0, NULL, log_wait, &log, NULL), FERRY_OK);
    assert_true(ferry_time_now_ms() >= until - 20); /* the wait runs on the monotonic clock */
    assert_int_equal(log.calls, 1);
    assert_int_equal(log.until_ms, until);
}

static void shorter_pause_does_not_shorten_a_longer_one(void **state)
{
    atomic_bool cancel = false;
    wait_log log = {.cancel = &cancel};
    int64_t now = ferry_time_now_ms();
    ferry_err err = {0};

    (void)state;
    ferry_ratelimit_pause("a.example", now + 60000);
    ferry_ratelimit_pause("a.example", now + 100);
    /* The callback is told the end of the wait, then cancels it. */
    assert_int_equal(ferry_ratelimit_take("a.example", 10, &cancel, log_wait, &log, &err),
                     FERRY_ECANCELLED);
    assert_int_equal(log.until_ms, now + 60000);
    assert_int_equal(err.code, FERRY_ECANCELLED);
}

typedef struct {
    atomic_bool *cancel;
    long after_ms;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *c = arg;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = c->after_ms * 1000000L};

    nanosleep(&ts, NULL);
    atomic_store(c->cancel, true);
    return NULL;
}

static void cancel_ends_a_long_wait_quickly(void **state)
{
    atomic_bool cancel = false;
    canceller c = {.cancel = &cancel, .after_ms = 200};
    wait_log log = {0};
    int64_t start;
    pthread_t t;

    (void)state;
    ferry_ratelimit_pause("a.example", ferry_time_now_ms() + 60000);
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
    start = ferry_time_mono_ms();
    assert_int_equal(ferry_ratelimit_take("a.example", 1, &cancel, log_wait, &log, NULL),
                     FERRY_ECANCELLED);
    assert_true(ferry_time_mono_ms() - start < 5000);
    assert_int_equal(log.calls, 1);
    pthread_join(t, NULL);
}

static void cancelled_before_the_call_returns_at_once(void **state)
{
    atomic_bool cancel = true;
    int64_t start = ferry_time_mono_ms();

    (void)state;
    ferry_ratelimit_pause("a.example", ferry_time_now_ms() + 60000);
    assert_int_equal(ferry_ratelimit_take("a.example", 1, &cancel, NULL, NULL, NULL),
                     FERRY_ECANCELLED);
    assert_true(ferry_time_mono_ms() - start < 5000);
}

static void cancelled_taker_gives_its_token_back(void **state)
{
    atomic_bool cancel = false;
    wait_log log = {.cancel = &cancel};
    int64_t start;

    (void)state;
    assert_int_equal(ferry_ratelimit_take("a.example", 0.5, NULL, NULL, NULL, NULL), FERRY_OK);
    /* The next token is 2 s off: the callback cancels the reservation. */
    assert_int_equal(ferry_ratelimit_take("a.example", 0.5, &cancel, log_wait, &log, NULL),
                     FERRY_ECANCELLED);
    assert_int_equal(log.calls, 1);
    /* Had the token stayed taken, the next would be 4 s off and announced at that end. */
    cancel = false;
    log.calls = 0;
    start = ferry_time_now_ms();
    assert_int_equal(ferry_ratelimit_take("a.example", 0.5, &cancel, log_wait, &log, NULL),
                     FERRY_ECANCELLED);
    assert_true(log.until_ms - start <= 2500);
}

static void reset_forgets_pauses_and_budgets(void **state)
{
    wait_log log = {0};
    int64_t start;

    (void)state;
    ferry_ratelimit_pause("a.example", ferry_time_now_ms() + 60000);
    assert_int_equal(ferry_ratelimit_take("b.example", 0.5, NULL, NULL, NULL, NULL), FERRY_OK);
    ferry_ratelimit_reset();
    start = ferry_time_mono_ms();
    assert_int_equal(ferry_ratelimit_take("a.example", 0.5, NULL, log_wait, &log, NULL), FERRY_OK);
    assert_int_equal(ferry_ratelimit_take("b.example", 0.5, NULL, log_wait, &log, NULL), FERRY_OK);
    assert_true(ferry_time_mono_ms() - start < 1000);
    assert_int_equal(log.calls, 0);
}

static void least_recently_used_host_is_forgotten_when_full(void **state)
{
    atomic_bool cancel = false;
    wait_log log = {.cancel = &cancel};
    char host[32];

    (void)state;
    ferry_ratelimit_pause("old.example", ferry_time_now_ms() + 60000);
    for (int i = 0; i < FERRY_RATELIMIT_HOSTS; i++) {
        snprintf(host, sizeof(host), "h%d.example", i);
        assert_int_equal(ferry_ratelimit_take(host, 0, NULL, NULL, NULL, NULL), FERRY_OK);
    }
    /* old.example's bucket, and with it the pause, made room for the last of these. */
    assert_int_equal(ferry_ratelimit_take("old.example", 0, &cancel, log_wait, &log, NULL),
                     FERRY_OK);
    assert_int_equal(log.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rates_in_every_unit_parse),
        cmocka_unit_test(non_rates_are_refused),
        cmocka_unit_test_setup(twenty_per_second_spreads_ten_takes, reset),
        cmocka_unit_test_setup(separate_hosts_do_not_share_a_bucket, reset),
        cmocka_unit_test_setup(threads_share_one_host_budget, reset),
        cmocka_unit_test_setup(lowest_rate_wins, reset),
        cmocka_unit_test_setup(pause_holds_takes_until_its_end, reset),
        cmocka_unit_test_setup(shorter_pause_does_not_shorten_a_longer_one, reset),
        cmocka_unit_test_setup(cancel_ends_a_long_wait_quickly, reset),
        cmocka_unit_test_setup(cancelled_before_the_call_returns_at_once, reset),
        cmocka_unit_test_setup(cancelled_taker_gives_its_token_back, reset),
        cmocka_unit_test_setup(reset_forgets_pauses_and_budgets, reset),
        cmocka_unit_test_setup(least_recently_used_host_is_forgotten_when_full, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
