/* test_label.c - records named by their fields (src/sync/label.c).
 *
 * Labels are parsed from YAML as a config would be, then rendered for records of given
 * values: every value present, values missing (brackets they leave empty go), white space and
 * control characters folded, names cut at FERRY_RECORD_LABEL_MAX bytes on a character
 * boundary, and no name at all. */
#include "config/config.h"
#include "sync/label.h"
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

/* Fields: id 0, name 1, email 2, phone 3. */
static ferry_config *load(const char *label)
{
    char yaml[1024];
    ferry_config *cfg = NULL;
    ferry_err err;
    int n = snprintf(yaml, sizeof(yaml),
                     "syncs:\n"
                     "  staff:\n"
                     "    source: { url: staff.csv }\n"
                     "    target: { table: staff, key: id }\n"
                     "    fields: { id: {}, name: {}, email: {}, phone: {} }\n"
                     "%s%s%s",
                     label != NULL ? "    label: \"" : "", label != NULL ? label : "",
                     label != NULL ? "\"\n" : "");

    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, (size_t)n, "ferry.yaml", NULL, &cfg, &err) != FERRY_OK)
        fail_msg("config: %s", err.msg);
    return cfg;
}

/* The name label gives the record of values (NULL: none), or NULL when it gives none. */
static char *render(const char *label, const char *const values[4])
{
    ferry_config *cfg = load(label);
    size_t len[4];
    ferry_mapped_record rec = {.nvalues = 4, .value = values, .len = len, .key = "E1"};
    ferry_buf out;
    char *name = NULL;

    for (int i = 0; i < 4; i++)
        len[i] = values[i] != NULL ? strlen(values[i]) : 0;
    ferry_buf_init(&out, FERRY_RECORD_LABEL_MAX + 1);
    if (ferry_record_label_render(&cfg->syncs[0].label, &rec, &out))
        name = strdup(ferry_buf_str(&out));
    else
        assert_int_equal(out.len, 0);
    ferry_buf_done(&out);
    ferry_config_free(cfg);
    return name;
}

static void expect_name(const char *label, const char *const values[4], const char *want)
{
    char *got = render(label, values);

    if (want == NULL && got != NULL)
        fail_msg("'%s': got '%s', want no name", label, got);
    if (want != NULL && (got == NULL || strcmp(got, want) != 0))
        fail_msg("'%s': got '%s', want '%s'", label, got != NULL ? got : "(none)", want);
    free(got);
}

static void every_value_fills_its_place(void **state)
{
    const char *v[4] = {"E1", "John Doe", "john@example.com", "+628123456789"};

    (void)state;
    expect_name("{name} ({email})", v, "John Doe (john@example.com)");
    expect_name("#{id}: {name}, {phone}", v, "#E1: John Doe, +628123456789");
    expect_name("{name}", v, "John Doe");
}

static void a_missing_value_leaves_no_empty_brackets(void **state)
{
    const char *no_email[4] = {"E3", "Bob Wilson", NULL, NULL};
    const char *no_name[4] = {"E4", NULL, "x@example.com", NULL};

    (void)state;
    expect_name("{name} ({email})", no_email, "Bob Wilson");
    expect_name("{name} [{email}] - {phone}", no_email, "Bob Wilson -");
    expect_name("{name} ({email})", no_name, "(x@example.com)");
    expect_name("{name} ( {email} {phone} ) end", no_email, "Bob Wilson end");
}

static void white_space_is_folded_and_trimmed(void **state)
{
    const char *v[4] = {"E5", "  Ana\n\tMaria  ", NULL,
                        "1\x7f"
                        "2"};

    (void)state;
    expect_name("  {name}   /  {phone} ", v, "Ana Maria / 1 2");
}

static void no_label_or_nothing_to_show_gives_no_name(void **state)
{
    const char *none[4] = {"E6", NULL, NULL, NULL};
    const char *all[4] = {"E6", "Ana", NULL, NULL};

    (void)state;
    expect_name(NULL, all, NULL);
    expect_name("{name} ({email})", none, NULL);
    expect_name("({email})", none, NULL);
}

static void a_long_name_is_cut_on_a_character_boundary(void **state)
{
    char name[700];
    const char *v[4] = {"E7", name, NULL, NULL};
    char *got;
    size_t n;

    (void)state;
    /* "é" is two bytes: 300 of them pass the limit, which falls inside one. */
    name[0] = 'x';
    for (int i = 0; i < 300; i++)
        memcpy(name + 1 + 2 * i, "\xc3\xa9", 2);
    name[601] = '\0';
    got = render("{name}!", v);
    assert_non_null(got);
    n = strlen(got);
    assert_true(n <= FERRY_RECORD_LABEL_MAX);
    assert_true(n >= FERRY_RECORD_LABEL_MAX - 4);
    assert_string_equal(got + n - 3, "...");
    /* Whole characters before the dots: x, then pairs. */
    assert_int_equal((n - 3 - 1) % 2, 0);
    assert_int_equal((unsigned char)got[n - 4], 0xa9);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_value_fills_its_place),
        cmocka_unit_test(a_missing_value_leaves_no_empty_brackets),
        cmocka_unit_test(white_space_is_folded_and_trimmed),
        cmocka_unit_test(no_label_or_nothing_to_show_gives_no_name),
        cmocka_unit_test(a_long_name_is_cut_on_a_character_boundary),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
