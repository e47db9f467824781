/* test_sealed.c - secrets encrypted for the store: the round trip, a random nonce per seal,
 * another key or an altered text refused with the variable named, and keys that are not 64
 * hex characters refused without showing them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/sealed.h"

#define KEY_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void read_key(const char *hex, unsigned char *key)
{
    ferry_err err;

    ferry_err_clear(&err);
    setenv("FERRY_TEST_SEALED_KEY", hex, 1);
    assert_int_equal(ferry_sealed_key_read("FERRY_TEST_SEALED_KEY", key, &err), FERRY_OK);
}

static void a_sealed_secret_opens_with_its_key_only(void **state)
{
    unsigned char key[FERRY_SEALED_KEY_BYTES], other[FERRY_SEALED_KEY_BYTES];
    char *a = NULL, *b = NULL, *plain = NULL;
    ferry_err err;

    (void)state;
    read_key(KEY_HEX, key);
    assert_int_equal(ferry_sealed_seal(key, "rt-secret-refresh", &a, &err), FERRY_OK);
    assert_int_equal(ferry_sealed_seal(key, "rt-secret-refresh", &b, &err), FERRY_OK);
    assert_true(strncmp(a, "v1.", 3) == 0);
    assert_null(strstr(a, "rt-secret"));
    assert_string_not_equal(a, b); /* a fresh nonce each time */
    assert_int_equal(ferry_sealed_open(key, a, "FERRY_TEST_SEALED_KEY", &plain, &err), FERRY_OK);
    assert_string_equal(plain, "rt-secret-refresh");
    free(plain);

    read_key("ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", other);
    ferry_err_clear(&err);
    assert_int_equal(ferry_sealed_open(other, a, "FERRY_TEST_SEALED_KEY", &plain, &err),
                     FERRY_ECREDENTIAL);
    assert_non_null(strstr(err.msg, "does not decrypt with the key in the environment variable "
                                    "FERRY_TEST_SEALED_KEY"));
    /* One letter changed in the box: the MAC refuses it. */
    a[10] = a[10] == 'A' ? 'B' : 'A';
    ferry_err_clear(&err);
    assert_int_equal(ferry_sealed_open(key, a, "FERRY_TEST_SEALED_KEY", &plain, &err),
                     FERRY_ECREDENTIAL);
    ferry_err_clear(&err);
    assert_int_equal(ferry_sealed_open(key, "v2.abc", "FERRY_TEST_SEALED_KEY", &plain, &err),
                     FERRY_ECREDENTIAL);
    assert_string_equal(err.msg, "a stored secret is not in a form this Ferry knows");
    free(a);
    free(b);
}

static void an_empty_secret_round_trips(void **state)
{
    unsigned char key[FERRY_SEALED_KEY_BYTES];
    char *text = NULL, *plain = NULL;
    ferry_err err;

    (void)state;
    read_key(KEY_HEX, key);
    assert_int_equal(ferry_sealed_seal(key, "", &text, &err), FERRY_OK);
    assert_int_equal(ferry_sealed_open(key, text, "K", &plain, &err), FERRY_OK);
    assert_string_equal(plain, "");
    free(plain);
    free(text);
}

static void keys_must_be_64_hex_characters(void **state)
{
    static const char *const bad[] = {"", "abc", KEY_HEX "00",
                                      "zz112233445566778899aabbccddeeff00112233445566778899aabbccdd"
                                      "eeff"};
    unsigned char key[FERRY_SEALED_KEY_BYTES];
    ferry_err err;

    (void)state;
    unsetenv("FERRY_TEST_SEALED_KEY");
    ferry_err_clear(&err);
    assert_int_equal(ferry_sealed_key_read("FERRY_TEST_SEALED_KEY", key, &err), FERRY_ECREDENTIAL);
    assert_non_null(strstr(err.msg, "the environment variable FERRY_TEST_SEALED_KEY, which is "
                                    "not set"));
    for (size_t i = 1; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("FERRY_TEST_SEALED_KEY", bad[i], 1);
        ferry_err_clear(&err);
        assert_int_equal(ferry_sealed_key_read("FERRY_TEST_SEALED_KEY", key, &err),
                         FERRY_ECREDENTIAL);
        assert_non_null(strstr(err.msg, "FERRY_TEST_SEALED_KEY does not hold a store key"));
        assert_null(strstr(err.msg, bad[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_sealed_secret_opens_with_its_key_only),
        cmocka_unit_test(an_empty_secret_round_trips),
        cmocka_unit_test(keys_must_be_64_hex_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
