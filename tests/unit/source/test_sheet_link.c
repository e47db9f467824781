/* test_sheet_link.c - a Google Sheet's edit address and cell ranges (source/sheet_link.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "source/sheet_link.h"

static void expect_edit(const char *url, const char *want)
{
    ferry_buf b;

    ferry_buf_init(&b, 4096);
    if (want == NULL) {
        assert_false(ferry_sheet_edit_url(url, &b));
        assert_int_equal(b.len, 0);
    } else {
        assert_true(ferry_sheet_edit_url(url, &b));
        assert_string_equal(ferry_buf_str(&b), want);
    }
    ferry_buf_done(&b);
}

static void exports_give_the_tabs_edit_address(void **state)
{
    (void)state;
    expect_edit("https://docs.google.com/spreadsheets/d/1AbC_d-E/export?format=csv&gid=42",
                "https://docs.google.com/spreadsheets/d/1AbC_d-E/edit#gid=42");
    expect_edit("https://docs.google.com/spreadsheets/d/1AbC/export?gid=7&format=csv",
                "https://docs.google.com/spreadsheets/d/1AbC/edit#gid=7");
    expect_edit("https://docs.google.com/spreadsheets/d/1AbC/export?format=csv",
                "https://docs.google.com/spreadsheets/d/1AbC/edit#gid=0");
    expect_edit("https://docs.google.com/spreadsheets/d/1AbC/gviz/tq?tqx=out:csv&gid=3",
                "https://docs.google.com/spreadsheets/d/1AbC/edit#gid=3");
    expect_edit("http://127.0.0.1:8123/spreadsheets/d/XY/export?format=csv&gid=1",
                "http://127.0.0.1:8123/spreadsheets/d/XY/edit#gid=1");
}

static void other_addresses_give_none(void **state)
{
    (void)state;
    expect_edit("https://docs.google.com/spreadsheets/d/e/2PACX-1vQ/pub?output=csv", NULL);
    expect_edit("https://example.com/exports/people.csv", NULL);
    expect_edit("https://docs.google.com/spreadsheets/d/1AbC/edit#gid=0", NULL);
    expect_edit("https://docs.google.com/spreadsheets/d/1AbC/export?gid=1%26x&format=csv", NULL);
    expect_edit("https://docs.google.com/spreadsheets/d/1AbC/export?gid=abc", NULL);
    expect_edit("not a url", NULL);
}

static void expect_export(const char *url, const char *want)
{
    ferry_buf b;

    ferry_buf_init(&b, 4096);
    assert_int_equal(ferry_sheet_export_url(url, &b), want != NULL);
    assert_string_equal(ferry_buf_str(&b), want != NULL ? want : "");
    ferry_buf_done(&b);
}

static void share_links_give_the_tabs_csv_export(void **state)
{
    (void)state;
    expect_export("https://docs.google.com/spreadsheets/d/1AbC_d-E/edit#gid=42",
                  "https://docs.google.com/spreadsheets/d/1AbC_d-E/export?format=csv&gid=42");
    expect_export("https://docs.google.com/spreadsheets/d/1AbC/edit?usp=sharing",
                  "https://docs.google.com/spreadsheets/d/1AbC/export?format=csv&gid=0");
    expect_export("https://docs.google.com/spreadsheets/d/1AbC/edit?gid=7#gid=9",
                  "https://docs.google.com/spreadsheets/d/1AbC/export?format=csv&gid=9");
    expect_export("https://docs.google.com/spreadsheets/d/1AbC",
                  "https://docs.google.com/spreadsheets/d/1AbC/export?format=csv&gid=0");
    expect_export("http://127.0.0.1:8123/spreadsheets/d/XY/edit#gid=1",
                  "http://127.0.0.1:8123/spreadsheets/d/XY/export?format=csv&gid=1");
    expect_export("https://docs.google.com/spreadsheets/d/1AbC/export?format=csv&gid=1", NULL);
    expect_export("https://docs.google.com/spreadsheets/d/e/2PACX-1vQ/pubhtml", NULL);
    expect_export("https://docs.google.com/spreadsheets/d/1AbC/edit#gid=abc", NULL);
    expect_export("https://example.com/people.csv", NULL);
}

static void expect_range(size_t column, long row, const char *want)
{
    ferry_buf b;

    ferry_buf_init(&b, 4096);
    ferry_sheet_range_append(column, row, &b);
    assert_string_equal(ferry_buf_str(&b), want);
    ferry_buf_done(&b);
}

static void columns_are_letters_as_the_sheet_names_them(void **state)
{
    (void)state;
    expect_range(0, 2, "&range=A2");
    expect_range(2, 17, "&range=C17");
    expect_range(25, 9, "&range=Z9");
    expect_range(26, 9, "&range=AA9");
    expect_range(27, 9, "&range=AB9");
    expect_range(701, 3, "&range=ZZ3");
    expect_range(702, 3, "&range=AAA3");
    expect_range(SIZE_MAX, 5, "&range=A5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exports_give_the_tabs_edit_address),
        cmocka_unit_test(other_addresses_give_none),
        cmocka_unit_test(share_links_give_the_tabs_csv_export),
        cmocka_unit_test(columns_are_letters_as_the_sheet_names_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
