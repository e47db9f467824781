/* test_auth.c - login throttling (src/auth/throttle.c) and session ids and CSRF tokens
 * (src/auth/session.c).
 *
 * Throttling is checked with explicit times: free failures cost nothing, the next ones lock
 * the key for doubling delays up to the cap, a success resets a key, quiet keys are forgotten,
 * and a full table forgets its oldest key instead of growing. Session ids are checked for
 * shape, uniqueness and hashing; CSRF tokens for being bound to their session. */
#include "auth/session.h"
#include "auth/throttle.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

static const ferry_throttle_policy policy = {
    .free_failures = 3, .base_ms = 1000, .max_ms = 8000, .forget_ms = 60000, .capacity = 4};

static void test_free_failures_then_doubling_delays(void **state)
{
    ferry_throttle *t = ferry_throttle_new(&policy);
    int64_t now = 1000000;

    (void)state;
    assert_non_null(t);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ferry_throttle_wait_ms(t, "alice", now), 0);
        assert_int_equal(ferry_throttle_fail(t, "alice", now), 0);
    }
    assert_int_equal(ferry_throttle_fail(t, "alice", now), 1000);
    assert_int_equal(ferry_throttle_wait_ms(t, "alice", now + 400), 600);
    assert_int_equal(ferry_throttle_wait_ms(t, "bob", now), 0); /* keys are separate */
    assert_int_equal(ferry_throttle_fail(t, "alice", now + 1000), 2000);
    assert_int_equal(ferry_throttle_fail(t, "alice", now + 3000), 4000);
    assert_int_equal(ferry_throttle_fail(t, "alice", now + 7000), 8000);
    assert_int_equal(ferry_throttle_fail(t, "alice", now + 15000), 8000); /* capped */
    assert_int_equal(ferry_throttle_wait_ms(t, "alice", now + 23000), 0);
    ferry_throttle_free(t);
}

static void test_reset_and_forget(void **state)
{
    ferry_throttle *t = ferry_throttle_new(&policy);
    int64_t now = 5000;

    (void)state;
    for (int i = 0; i < 5; i++)
        ferry_throttle_fail(t, "alice", now);
    assert_true(ferry_throttle_wait_ms(t, "alice", now) > 0);
    ferry_throttle_reset(t, "alice");
    assert_int_equal(ferry_throttle_wait_ms(t, "alice", now), 0);
    assert_int_equal(ferry_throttle_fail(t, "alice", now), 0); /* counting starts over */

    ferry_throttle_fail(t, "10.0.0.1", now);
    assert_int_equal(ferry_throttle_size(t), 2);
    /* A minute of quiet later both are forgotten. */
    assert_int_equal(ferry_throttle_wait_ms(t, "x", now + 60001), 0);
    assert_int_equal(ferry_throttle_size(t), 0);
    ferry_throttle_free(t);
}

static void test_full_table_forgets_the_oldest(void **state)
{
    ferry_throttle *t = ferry_throttle_new(&policy);
    char key[16];

    (void)state;
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        for (int k = 0; k < 4; k++)
            ferry_throttle_fail(t, key, 100 + i);
    }
    assert_int_equal(ferry_throttle_size(t), 4);
    assert_true(ferry_throttle_wait_ms(t, "k0", 110) > 0);
    ferry_throttle_fail(t, "new", 120);
    assert_int_equal(ferry_throttle_size(t), 4);
    assert_int_equal(ferry_throttle_wait_ms(t, "k0", 121), 0); /* the oldest went */
    assert_true(ferry_throttle_wait_ms(t, "k3", 121) > 0);
    ferry_throttle_free(t);
}

static void test_a_burst_of_takes_meets_the_lock_without_doubling_it(void **state)
{
    ferry_throttle *t = ferry_throttle_new(&policy);
    int64_t now = 5000;

    (void)state;
    /* Attempts counted when they start: three free, the fourth goes ahead but locks the key;
     * the rest of the burst is refused and counted for nothing, so the lock stays 1 s. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(ferry_throttle_take(t, "a|user:ana", now), 0);
    for (int i = 0; i < 50; i++)
        assert_int_equal(ferry_throttle_take(t, "a|user:ana", now), 1000);
    assert_int_equal(ferry_throttle_take(t, "a|user:ana", now + 1000), 0); /* then 2 s */
    assert_int_equal(ferry_throttle_wait_ms(t, "a|user:ana", now + 1000), 2000);
    ferry_throttle_free(t);
}

static void test_refund_gives_back_an_attempt_and_the_lock_it_set(void **state)
{
    ferry_throttle *t = ferry_throttle_new(&policy);

    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(ferry_throttle_take(t, "10.0.0.1", 100), 0);
    assert_true(ferry_throttle_wait_ms(t, "10.0.0.1", 100) > 0);
    ferry_throttle_refund(t, "10.0.0.1"); /* the fourth was the right password */
    assert_int_equal(ferry_throttle_wait_ms(t, "10.0.0.1", 100), 0);
    assert_int_equal(ferry_throttle_take(t, "10.0.0.1", 100), 0); /* the fourth again */
    assert_int_equal(ferry_throttle_take(t, "10.0.0.1", 100), 1000);
    ferry_throttle_refund(t, "nobody"); /* unknown keys: nothing happens */
    assert_int_equal(ferry_throttle_size(t), 1);
    ferry_throttle_free(t);
}

static void test_full_table_forgets_unlocked_keys_before_locks(void **state)
{
    ferry_throttle *t = ferry_throttle_new(&policy);

    (void)state;
    /* k0 is locked (its failures are the oldest); k1..k3 failed once each, later. A flood of
     * new keys must not lift k0's lock by pushing it out. */
    for (int i = 0; i < 4; i++)
        ferry_throttle_fail(t, "k0", 100);
    ferry_throttle_fail(t, "k1", 200);
    ferry_throttle_fail(t, "k2", 300);
    ferry_throttle_fail(t, "k3", 400);
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof(key), "flood%d", i);
        ferry_throttle_fail(t, key, 500 + i);
    }
    assert_int_equal(ferry_throttle_size(t), 4);
    assert_true(ferry_throttle_wait_ms(t, "k0", 600) > 0);
    ferry_throttle_free(t);
}

static void test_long_keys_are_truncated_consistently(void **state)
{
    ferry_throttle *t = ferry_throttle_new(&policy);
    char key[300];

    (void)state;
    memset(key, 'a', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    for (int i = 0; i < 4; i++)
        ferry_throttle_fail(t, key, 0);
    assert_true(ferry_throttle_wait_ms(t, key, 1) > 0);
    assert_int_equal(ferry_throttle_size(t), 1);
    ferry_throttle_free(t);
}

static void test_session_ids(void **state)
{
    char a[FERRY_SESSION_ID_MAX], b[FERRY_SESSION_ID_MAX];
    char ha[FERRY_TOKEN_HASH_HEX], hb[FERRY_TOKEN_HASH_HEX], check[FERRY_TOKEN_HASH_HEX];
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_session_new(a, ha, &err), FERRY_OK);
    assert_int_equal(ferry_session_new(b, hb, &err), FERRY_OK);
    assert_int_equal(strlen(a), 46);
    assert_memory_equal(a, "fs_", 3);
    assert_true(ferry_session_id_ok(a));
    assert_string_not_equal(a, b);
    assert_string_not_equal(ha, hb);
    ferry_token_hash(a, check);
    assert_string_equal(ha, check);
    assert_null(strstr(ha, a + 3)); /* the stored form is not the id */

    assert_false(ferry_session_id_ok(""));
    assert_false(ferry_session_id_ok("fy_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    a[10] = '%';
    assert_false(ferry_session_id_ok(a));
}

static void test_csrf_is_bound_to_its_session(void **state)
{
    char a[FERRY_SESSION_ID_MAX], b[FERRY_SESSION_ID_MAX], h[FERRY_TOKEN_HASH_HEX];
    char ca[FERRY_CSRF_MAX], cb[FERRY_CSRF_MAX];
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_session_new(a, h, &err), FERRY_OK);
    assert_int_equal(ferry_session_new(b, h, &err), FERRY_OK);
    ferry_session_csrf(a, ca);
    ferry_session_csrf(b, cb);
    assert_int_equal(strlen(ca), 64);
    assert_string_not_equal(ca, cb);
    ferry_token_hash(a, h);
    assert_string_not_equal(ca, h); /* not the stored hash either */
    assert_true(ferry_session_csrf_ok(a, ca));
    assert_false(ferry_session_csrf_ok(a, cb));
    assert_false(ferry_session_csrf_ok(a, NULL));
    assert_false(ferry_session_csrf_ok(a, ""));
    ca[63] = ca[63] == '0' ? '1' : '0';
    assert_false(ferry_session_csrf_ok(a, ca));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_failures_then_doubling_delays),
        cmocka_unit_test(test_reset_and_forget),
        cmocka_unit_test(test_full_table_forgets_the_oldest),
        cmocka_unit_test(test_a_burst_of_takes_meets_the_lock_without_doubling_it),
        cmocka_unit_test(test_refund_gives_back_an_attempt_and_the_lock_it_set),
        cmocka_unit_test(test_full_table_forgets_unlocked_keys_before_locks),
        cmocka_unit_test(test_long_keys_are_truncated_consistently),
        cmocka_unit_test(test_session_ids),
        cmocka_unit_test(test_csrf_is_bound_to_its_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
