/* test_guess.c - a starting config's fields guessed from sampled values (src/sync/guess.c).
 *
 * Each type is guessed when every non-empty value reads as it, as the sync would read it (so
 * trimmed); one value that does not read falls the column back to text; required means no
 * empty value; the key is a unique, non-empty column with a key-like name first; names are
 * made safe and numbered apart when two headers give the same one. */
#include "sync/guess.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#define MAXCOLS 8

/* Guesses columns named by header from rows of values ("" is empty, NULL absent). */
static void guess(ferry_guess *g, const char *const *header, size_t ncols,
                  const char *const rows[][MAXCOLS], size_t nrows)
{
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(ferry_guess_init(g, header, ncols, &err), FERRY_OK);
    for (size_t r = 0; r < nrows; r++) {
        size_t lens[MAXCOLS];
        for (size_t c = 0; c < ncols; c++)
            lens[c] = rows[r][c] != NULL ? strlen(rows[r][c]) : 0;
        assert_int_equal(ferry_guess_add(g, rows[r], lens, &err), FERRY_OK);
    }
    ferry_guess_finish(g);
}

static void each_type_is_guessed_when_every_value_reads_as_it(void **state)
{
    static const char *const header[] = {"n", "d", "b", "day", "at", "mail", "t"};
    static const char *const rows[][MAXCOLS] = {
        {"1", "1.5", "yes", "2024-01-02", "2024-01-02T10:00:00Z", "a@example.com", "x"},
        {" 22 ", "-3", "No", "1999-12-31", "2024-01-02 11:30", "b@example.org", "y"},
        {"-7", "0.25", "1", "2000-02-29", "2024-01-02T10:00:00+02:00", "c@ex.co", "1"},
    };
    ferry_guess g;

    (void)state;
    guess(&g, header, 7, rows, 3);
    assert_int_equal(g.cols[0].type, FERRY_TYPE_INTEGER);
    assert_int_equal(g.cols[1].type, FERRY_TYPE_DECIMAL);
    assert_int_equal(g.cols[2].type, FERRY_TYPE_BOOLEAN);
    assert_int_equal(g.cols[3].type, FERRY_TYPE_DATE);
    assert_int_equal(g.cols[4].type, FERRY_TYPE_DATETIME);
    assert_int_equal(g.cols[5].type, FERRY_TYPE_EMAIL);
    assert_int_equal(g.cols[6].type, FERRY_TYPE_TEXT);
    assert_int_equal(g.cols[0].nvalues, 3);
    ferry_guess_done(&g);
}

static void one_value_that_does_not_read_falls_back_to_text(void **state)
{
    static const char *const header[] = {"n", "day", "mail", "b"};
    static const char *const rows[][MAXCOLS] = {
        {"1", "2024-01-02", "a@example.com", "yes"},
        {"2", "2024-02-30", "a@example.com", "no"}, /* no 30 February */
        {"three", "2024-01-04", "bob@", "maybe"},
    };
    ferry_guess g;

    (void)state;
    guess(&g, header, 4, rows, 3);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(g.cols[i].type, FERRY_TYPE_TEXT);
    ferry_guess_done(&g);
}

static void empty_values_make_a_column_optional_not_untyped(void **state)
{
    static const char *const header[] = {"n", "blank"};
    static const char *const rows[][MAXCOLS] = {{"1", ""}, {"", NULL}, {"3", "  "}};
    ferry_guess g;

    (void)state;
    guess(&g, header, 2, rows, 3);
    assert_int_equal(g.cols[0].type, FERRY_TYPE_INTEGER);
    assert_false(g.cols[0].required);
    assert_int_equal(g.cols[0].nvalues, 2);
    assert_int_equal(g.cols[1].type, FERRY_TYPE_TEXT); /* nothing to guess from */
    assert_false(g.cols[1].required);
    assert_int_equal(g.cols[1].nvalues, 0);
    ferry_guess_done(&g);
}

static void the_key_prefers_a_key_like_name_among_unique_columns(void **state)
{
    static const char *const header[] = {"Name", "Code", "Employee ID", "Email", "Team"};
    static const char *const rows[][MAXCOLS] = {
        {"Ann", "A1", "7", "ann@example.com", "x"},
        {"Bob", "B2", "8", "bob@example.com", "x"},
        {"Cy", "C3", "9", "cy@example.com", "y"},
    };
    ferry_guess g;

    (void)state;
    guess(&g, header, 5, rows, 3);
    assert_int_equal(g.key, 2); /* employee_id before code, email and the leftmost */
    assert_true(g.cols[0].unique && g.cols[1].unique && g.cols[3].unique);
    assert_false(g.cols[4].unique);
    assert_true(g.cols[4].required);
    ferry_guess_done(&g);
}

static void a_repeated_or_empty_value_is_no_key(void **state)
{
    static const char *const header[] = {"id", "code", "name"};
    static const char *const rows[][MAXCOLS] = {
        {"1", "A", "Ann"},
        {"1", "", "Bob"},
        {"2", "C", "Ann"},
    };
    static const char *const dated_header[] = {"when", "ratio"};
    static const char *const dated[][MAXCOLS] = {{"2024-01-01", "1.5"}, {"2024-01-02", "2.5"}};
    ferry_guess g;

    (void)state;
    guess(&g, header, 3, rows, 3);
    assert_int_equal(g.key, SIZE_MAX);
    assert_false(g.cols[0].unique);
    ferry_guess_done(&g);
    /* Unique, but a date or a decimal is no key unless its name says so. */
    guess(&g, dated_header, 2, dated, 2);
    assert_int_equal(g.key, SIZE_MAX);
    ferry_guess_done(&g);
}

static void values_equal_in_their_type_are_not_unique(void **state)
{
    static const char *const header[] = {"id", "mail", "name"};
    static const char *const rows[][MAXCOLS] = {
        {"01", "Ann@Example.com", "x"},
        {"1", "ann@example.com", "X"},
    };
    ferry_guess g;

    (void)state;
    guess(&g, header, 3, rows, 2);
    assert_int_equal(g.cols[0].type, FERRY_TYPE_INTEGER);
    assert_false(g.cols[0].unique); /* one integer, 1 */
    assert_int_equal(g.cols[1].type, FERRY_TYPE_EMAIL);
    assert_true(g.cols[1].unique); /* the local part keeps its case */
    assert_true(g.cols[2].unique); /* text is compared as written */
    assert_int_equal(g.key, 1);
    ferry_guess_done(&g);
}

static void a_unique_column_without_a_key_name_is_the_leftmost(void **state)
{
    static const char *const header[] = {"team", "name", "room"};
    static const char *const rows[][MAXCOLS] = {{"x", "Ann", "1"}, {"x", "Bob", "2"}};
    ferry_guess g;

    (void)state;
    guess(&g, header, 3, rows, 2);
    assert_int_equal(g.key, 1);
    ferry_guess_done(&g);
}

static char *name_of(const char *text)
{
    ferry_buf b;
    ferry_buf_init(&b, 256);
    assert_int_equal(ferry_guess_name(text, "fallback", &b), FERRY_OK);
    return ferry_buf_take(&b);
}

static void names_are_made_safe_column_names(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"Employee ID", "employee_id"},
        {"  E-mail (work) ", "e_mail_work"},
        {"/fields/summary", "fields_summary"},
        {"2024 total", "field_2024_total"},
        {"ferry_missing_since", "field_ferry_missing_since"},
        {"Név", "n_v"},
        {"!!!", "fallback"},
        {"", "fallback"},
    };
    char long_name[200];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = name_of(cases[i].in);
        assert_string_equal(got, cases[i].out);
        free(got);
    }
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    char *got = name_of(long_name);
    assert_int_equal(strlen(got), FERRY_GUESS_NAME_MAX);
    free(got);
}

static void duplicate_headers_get_numbered_names(void **state)
{
    static const char *const header[] = {"Email", "email", "E-mail", "E mail", ""};
    static const char *const rows[][MAXCOLS] = {{"a", "b", "c", "d", "e"}};
    ferry_guess g;

    (void)state;
    guess(&g, header, 5, rows, 1);
    assert_string_equal(g.cols[0].name, "email");
    assert_string_equal(g.cols[1].name, "email_2");
    assert_string_equal(g.cols[2].name, "e_mail");
    assert_string_equal(g.cols[3].name, "e_mail_2");
    assert_string_equal(g.cols[4].name, "column_5");
    assert_string_equal(g.cols[1].source, "email");
    ferry_guess_done(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_type_is_guessed_when_every_value_reads_as_it),
        cmocka_unit_test(one_value_that_does_not_read_falls_back_to_text),
        cmocka_unit_test(empty_values_make_a_column_optional_not_untyped),
        cmocka_unit_test(the_key_prefers_a_key_like_name_among_unique_columns),
        cmocka_unit_test(a_repeated_or_empty_value_is_no_key),
        cmocka_unit_test(values_equal_in_their_type_are_not_unique),
        cmocka_unit_test(a_unique_column_without_a_key_name_is_the_leftmost),
        cmocka_unit_test(names_are_made_safe_column_names),
        cmocka_unit_test(duplicate_headers_get_numbered_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
