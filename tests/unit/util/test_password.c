/* test_password.c - Argon2id password hashes: they verify, differ per hash (salted), reject
 * wrong passwords and bound the length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "util/password.h"

static void a_hash_verifies_its_password_only(void **state)
{
    char hash[FERRY_PASSWORD_HASH_MAX];
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_password_hash("correct horse", hash, &err), FERRY_OK);
    assert_int_equal(strncmp(hash, "$argon2id$", 10), 0);
    assert_null(strstr(hash, "correct horse"));
    assert_true(ferry_password_verify("correct horse", hash));
    assert_false(ferry_password_verify("correct horsE", hash));
    assert_false(ferry_password_verify("", hash));
    assert_false(ferry_password_verify("correct horse", "not a hash"));
}

static void the_same_password_hashes_differently_each_time(void **state)
{
    char a[FERRY_PASSWORD_HASH_MAX], b[FERRY_PASSWORD_HASH_MAX];
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_password_hash("same password", a, &err), FERRY_OK);
    assert_int_equal(ferry_password_hash("same password", b, &err), FERRY_OK);
    assert_string_not_equal(a, b);
}

static void too_short_and_too_long_passwords_are_refused(void **state)
{
    char hash[FERRY_PASSWORD_HASH_MAX], big[FERRY_PASSWORD_MAX + 2];
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_password_hash("short", hash, &err), FERRY_EINVAL);
    assert_string_equal(err.msg, "a password needs at least 8 characters");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ferry_err_clear(&err);
    assert_int_equal(ferry_password_hash(big, hash, &err), FERRY_EINVAL);
}

static void tokens_are_random_and_their_hash_is_sha256_hex(void **state)
{
    char a[FERRY_TOKEN_MAX], b[FERRY_TOKEN_MAX], ha[FERRY_TOKEN_HASH_HEX], hb[FERRY_TOKEN_HASH_HEX];
    char again[FERRY_TOKEN_HASH_HEX];
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_token_new(a, ha, &err), FERRY_OK);
    assert_int_equal(ferry_token_new(b, hb, &err), FERRY_OK);
    assert_int_equal(strncmp(a, "fy_", 3), 0);
    assert_int_equal(strlen(a), 46);
    assert_string_not_equal(a, b);
    assert_int_equal(strlen(ha), 64);
    ferry_token_hash(a, again);
    assert_string_equal(ha, again);
    ferry_token_hash("abc", again);
    assert_string_equal(again, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_hash_verifies_its_password_only),
        cmocka_unit_test(the_same_password_hashes_differently_each_time),
        cmocka_unit_test(too_short_and_too_long_passwords_are_refused),
        cmocka_unit_test(tokens_are_random_and_their_hash_is_sha256_hex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
