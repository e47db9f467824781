/* test_utf8.c - the UTF-8 validator the CSV reader and the config loader share: overlongs,
 * surrogates, values past U+10FFFF and cut-short sequences are refused, and the valid prefix
 * ends at the first byte of the first bad sequence. */
#include "util/utf8.h"

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

static void utf8_validator_rejects_overlongs_and_surrogates(void **state)
{
    (void)state;
    assert_true(ferry_utf8_is_valid("plain", 5));
    assert_true(ferry_utf8_is_valid("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9));
    assert_false(ferry_utf8_is_valid("\xC0\xAF", 2));
    assert_false(ferry_utf8_is_valid("\xE0\x80\xAF", 3));
    assert_false(ferry_utf8_is_valid("\xED\xA0\x80", 3));
    assert_false(ferry_utf8_is_valid("\xF4\x90\x80\x80", 4));
    assert_false(ferry_utf8_is_valid("\xE2\x82", 2));
    assert_false(ferry_utf8_is_valid("\xFF", 1));
}

static void valid_prefix_ends_at_the_first_bad_sequence(void **state)
{
    (void)state;
    assert_int_equal(ferry_utf8_valid_prefix("", 0), 0);
    assert_int_equal(ferry_utf8_valid_prefix("caf\xC3\xA9", 5), 5);
    assert_int_equal(ferry_utf8_valid_prefix("caf\xE9!", 5), 3);
    assert_int_equal(ferry_utf8_valid_prefix("ab\xF0\x9F\x98", 5), 2);
    assert_int_equal(ferry_utf8_valid_prefix("\xE2\x82\xAC\xED\xA0\x80", 6), 3);
    assert_int_equal(ferry_utf8_valid_prefix("x\x80", 2), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_validator_rejects_overlongs_and_surrogates),
        cmocka_unit_test(valid_prefix_ends_at_the_first_bad_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
