/* test_transform.c - a field's transforms (src/sync/transform.c) as the mapper applies them.
 *
 * Each test loads a sync from YAML and maps records through ferry_mapper_map(), so what is
 * checked is what a run writes: value, template (with its inputs beside the fields' values),
 * trim, default, map and otherwise, case, format, their order, the reasons of a record a rule
 * refuses, skip rules seeing transformed values, and a look-up field handed the transformed
 * text. The last tests read a CSV file through the source, which reads the columns templates
 * name, and refuses a header without one. */
#include "config/config.h"
#include "source/source.h"
#include "sync/map.h"
#include "sync/transform.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

typedef struct {
    ferry_config *cfg;
    const ferry_sync_spec *sync;
    ferry_mapper *mapper;
    ferry_mapped_record out;
} fixture;

/* Loads a sync reading people.csv keyed by id (column ID) with the other fields given. */
static void load(fixture *fx, const char *fields)
{
    char yaml[4096];
    ferry_err err;
    int n;

    memset(fx, 0, sizeof(*fx));
    n = snprintf(yaml, sizeof(yaml),
                 "syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields:\n"
                 "      id: { column: ID }\n"
                 "%s",
                 fields);
    assert_true(n > 0 && (size_t)n < sizeof(yaml));
    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, (size_t)n, "ferry.yaml", NULL, &fx->cfg, &err) != FERRY_OK)
        fail_msg("config: %s", err.msg);
    fx->sync = &fx->cfg->syncs[0];
    assert_int_equal(ferry_mapper_new(fx->sync, NULL, &fx->mapper, &err), FERRY_OK);
}

static void unload(fixture *fx)
{
    ferry_mapper_free(fx->mapper);
    ferry_config_free(fx->cfg);
}

/* Maps one record at row 2 whose values are given (one per value of the source record: the
 * fields', then the templates' inputs; NULL for none). */
static ferry_map_result map(fixture *fx, const char *const *values)
{
    size_t n = ferry_sync_input_count(fx->sync), len[16];
    ferry_source_record in;
    ferry_map_result result = FERRY_MAP_OK;
    ferry_err err;

    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        len[i] = values[i] != NULL ? strlen(values[i]) : 0;
    memset(&in, 0, sizeof(in));
    in.nvalues = n;
    in.value = values;
    in.len = len;
    in.row = 2;
    ferry_err_clear(&err);
    assert_int_equal(ferry_mapper_map(fx->mapper, &in, &result, &fx->out, &err), FERRY_OK);
    return result;
}

/* The mapped value of field f (a NULL value as "(null)"), after map() returned FERRY_MAP_OK. */
static const char *value_of(const fixture *fx, size_t f)
{
    return fx->out.value[f] != NULL ? fx->out.value[f] : "(null)";
}

/* Maps the one-field record v (after the key) and checks field 1's value. */
static void expect_mapped(fixture *fx, const char *v, const char *want)
{
    const char *rec[2] = {"1", v};

    if (map(fx, rec) != FERRY_MAP_OK)
        fail_msg("'%s': %s, want '%s'", v != NULL ? v : "(null)", fx->out.reason, want);
    assert_string_equal(value_of(fx, 1), want);
}

/* Maps the one-field record v and checks that it fails with reason. */
static void expect_refused(fixture *fx, const char *v, const char *reason)
{
    const char *rec[2] = {"1", v};

    if (map(fx, rec) != FERRY_MAP_FAILED)
        fail_msg("'%s' mapped to '%s', want it to fail: %s", v, value_of(fx, 1), reason);
    assert_string_equal(fx->out.reason, reason);
}

/* ---- value and template ---- */

static void value_is_a_constant_that_reads_no_column(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      country: { value: ID }\n"
              "      rate: { value: '12.50', type: decimal }\n");
    assert_true(fx.sync->fields[1].filled);
    assert_null(ferry_sync_input_column(fx.sync, 1));
    const char *rec[3] = {"1", "whatever the source had", NULL};
    assert_int_equal(map(&fx, rec), FERRY_MAP_OK);
    assert_string_equal(value_of(&fx, 1), "ID");
    assert_string_equal(value_of(&fx, 2), "12.5");
    unload(&fx);
}

static void template_puts_columns_together_and_trims_each(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      name: { template: '{First Name} {Last Name}' }\n");
    /* The fields' values (id, name), then the template's inputs in the order first named. */
    assert_int_equal(ferry_sync_input_count(fx.sync), 4);
    assert_string_equal(ferry_sync_input_column(fx.sync, 2), "First Name");
    assert_string_equal(ferry_sync_input_column(fx.sync, 3), "Last Name");
    const char *rec[4] = {"1", NULL, " John ", "Doe  "};
    assert_int_equal(map(&fx, rec), FERRY_MAP_OK);
    assert_string_equal(value_of(&fx, 1), "John Doe");
    /* One empty column: the literal text stays, and trim takes the space at the end. */
    const char *half[4] = {"2", NULL, "Prince", ""};
    assert_int_equal(map(&fx, half), FERRY_MAP_OK);
    assert_string_equal(value_of(&fx, 1), "Prince");
    unload(&fx);
}

static void an_empty_value_in_a_template_takes_one_space_along(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      name: { template: '{First} {Middle} {Last} ({ID})' }\n");
    const char *rec[5] = {"7", NULL, "Ayu", "", "Putri"};
    assert_int_equal(map(&fx, rec), FERRY_MAP_OK);
    assert_string_equal(value_of(&fx, 1), "Ayu Putri (7)");
    const char *first_only[5] = {"8", NULL, "Budi", NULL, NULL};
    assert_int_equal(map(&fx, first_only), FERRY_MAP_OK);
    assert_string_equal(value_of(&fx, 1), "Budi (8)");
    const char *last_only[5] = {"9", NULL, "", " ", "Citra"};
    assert_int_equal(map(&fx, last_only), FERRY_MAP_OK);
    assert_string_equal(value_of(&fx, 1), "Citra (9)");
    unload(&fx);
}

static void template_of_empty_columns_is_an_empty_value(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      name: { template: '{Last Name}, {First Name}', required: true }\n");
    const char *rec[4] = {"1", NULL, "  ", NULL};
    assert_int_equal(map(&fx, rec), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 2: name is required but empty");
    unload(&fx);
}

static void template_shares_a_column_a_field_reads(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      code: { column: Code }\n"
              "      label: { template: '{{{Code}}} {ID}: {Title}' }\n");
    /* {Code} and {ID} are the fields' own values; only Title is read for the template. */
    assert_int_equal(ferry_sync_input_count(fx.sync), 4);
    assert_string_equal(ferry_sync_input_column(fx.sync, 3), "Title");
    const char *rec[4] = {"7", "BR-1", NULL, "Sunrise"};
    assert_int_equal(map(&fx, rec), FERRY_MAP_OK);
    assert_string_equal(value_of(&fx, 2), "{BR-1} 7: Sunrise");
    unload(&fx);
}

/* ---- trim and default ---- */

static void default_fills_an_empty_or_blank_cell(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      status: { default: active }\n");
    expect_mapped(&fx, "", "active");
    expect_mapped(&fx, "   ", "active");
    expect_mapped(&fx, NULL, "active");
    expect_mapped(&fx, " paused ", "paused");
    unload(&fx);
    /* Without trim, white space is a value. */
    load(&fx, "      status: { default: active, trim: false }\n");
    expect_mapped(&fx, "   ", "   ");
    unload(&fx);
}

/* ---- map and otherwise ---- */

static void map_replaces_the_values_it_lists_exactly(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      employment: { map: { Full Time: Karyawan, Part Time: Freelance, 'N/A': '' } "
              "}\n");
    expect_mapped(&fx, "Full Time", "Karyawan");
    expect_mapped(&fx, "  Part Time ", "Freelance");
    /* Exact: another case is another value, kept (otherwise: keep is the default). */
    expect_mapped(&fx, "full time", "full time");
    expect_mapped(&fx, "Contractor", "Contractor");
    /* A map to "" empties the value: NULL. */
    expect_mapped(&fx, "N/A", "(null)");
    expect_mapped(&fx, "", "(null)");
    unload(&fx);
}

static void otherwise_fail_names_the_record_the_field_and_the_rule(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      type: { map: { Full Time: Karyawan }, otherwise: fail }\n");
    expect_mapped(&fx, "Full Time", "Karyawan");
    expect_refused(&fx, "Contractor", "row 2: type 'Contractor' is not in map (otherwise: fail)");
    /* An empty cell is not a value the map lacks: it stays empty. */
    expect_mapped(&fx, "", "(null)");
    unload(&fx);
}

static void otherwise_value_stands_in_for_the_others(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      type: { type: enum, values: [Karyawan, Freelance], default: Full Time,\n"
              "              map: { Full Time: Karyawan }, otherwise: Freelance }\n");
    expect_mapped(&fx, "Contractor", "Freelance");
    /* The default goes through the map, as a cell would. */
    expect_mapped(&fx, "", "Karyawan");
    unload(&fx);
}

/* ---- case ---- */

static void case_changes_latin_greek_and_cyrillic_letters(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      v: { case: lower }\n");
    expect_mapped(&fx, "AYU@Example.COM", "ayu@example.com");
    expect_mapped(&fx,
                  "\xC3\x89MILE \xC5\x81\xC3\x93"
                  "D\xC5\xB9",
                  "\xC3\xA9mile \xC5\x82\xC3\xB3"
                  "d\xC5\xBA");
    expect_mapped(&fx, "\xD0\x9C\xD0\x98\xD0\xA0", "\xD0\xBC\xD0\xB8\xD1\x80");
    unload(&fx);
    load(&fx, "      v: { case: upper }\n");
    expect_mapped(&fx, "jakarta selatan", "JAKARTA SELATAN");
    expect_mapped(&fx, "\xC3\xA9t\xC3\xA9 \xCF\x83\xCE\xBF\xCF\x86\xCF\x82",
                  "\xC3\x89T\xC3\x89 \xCE\xA3\xCE\x9F\xCE\xA6\xCE\xA3");
    /* Characters without a case, and bytes of no letter, are kept. */
    expect_mapped(&fx, "\xE2\x82\xAC 12 \xE6\x9D\xB1", "\xE2\x82\xAC 12 \xE6\x9D\xB1");
    unload(&fx);
}

static void title_case_starts_each_word_with_a_capital(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      v: { case: title }\n");
    expect_mapped(&fx, "JOHN mcDONALD", "John Mcdonald");
    expect_mapped(&fx, "mary-jane o'neil", "Mary-Jane O'neil");
    expect_mapped(&fx, "\xC3\xA9mile zola", "\xC3\x89mile Zola");
    expect_mapped(&fx, "jl. sudirman no.5", "Jl. Sudirman No.5");
    unload(&fx);
}

/* ---- format ---- */

static void format_reads_dates_in_the_sources_notation(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      hired_on: { type: date, format: '%d/%m/%Y' }\n");
    expect_mapped(&fx, "31/12/2024", "2024-12-31");
    expect_mapped(&fx, " 1/2/2024 ", "2024-02-01");
    expect_refused(&fx, "31-12-2024",
                   "row 2: hired_on '31-12-2024' does not match format '%d/%m/%Y'");
    expect_refused(&fx, "31/02/2024",
                   "row 2: hired_on '31/02/2024' is not a real date (format '%d/%m/%Y')");
    expect_mapped(&fx, "", "(null)");
    unload(&fx);
}

static void format_reads_datetimes_and_the_type_makes_them_utc(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      seen_at: { type: datetime, format: '%d/%m/%Y %H:%M %z' }\n");
    expect_mapped(&fx, "31/12/2024 06:30 +0700", "2024-12-30T23:30:00Z");
    unload(&fx);
}

static void format_reads_numbers_in_the_sources_notation(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      price: { type: decimal, format: '1.234,50' }\n"
              "      qty: { type: integer, format: '1.234' }\n");
    const char *rec[3] = {"1", "4.500.000,50", "1.234.000"};
    assert_int_equal(map(&fx, rec), FERRY_MAP_OK);
    assert_string_equal(value_of(&fx, 1), "4500000.5");
    assert_string_equal(value_of(&fx, 2), "1234000");
    /* The decimal part is optional: 450.000 is 450000 under '1.234,50'. */
    const char *whole[3] = {"2", "450.000", "7"};
    assert_int_equal(map(&fx, whole), FERRY_MAP_OK);
    assert_string_equal(value_of(&fx, 1), "450000");
    /* 1.5 is not 15: a group has three digits. */
    const char *odd[3] = {"3", "1.5", "7"};
    assert_int_equal(map(&fx, odd), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 2: price '1.5' does not match format '1.234,50'");
    /* A value the type refuses after format is quoted as the source wrote it. */
    const char *frac[3] = {"4", "1", "1.234,5"};
    assert_int_equal(map(&fx, frac), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 2: qty '1.234,5' is not an integer");
    unload(&fx);
}

/* ---- order, skip rules, look-ups ---- */

static void transforms_apply_in_order_before_typing(void **state)
{
    fixture fx;

    (void)state;
    /* trim, default, map (on the value as written), case (on the mapped value), then format:
     * the month name is read after case made it upper case. */
    load(&fx, "      month: { type: date, default: 1 jan 2000, case: upper,\n"
              "               map: { soon: 1 feb 2030 }, format: '%d %b %Y' }\n");
    expect_mapped(&fx, "  ", "2000-01-01");
    expect_mapped(&fx, "soon", "2030-02-01");
    expect_mapped(&fx, "7 mar 2024", "2024-03-07");
    expect_refused(&fx, "SOON", "row 2: month 'SOON' does not match format '%d %b %Y'");
    unload(&fx);
}

static void skip_rules_see_the_transformed_value(void **state)
{
    fixture fx;

    (void)state;
    load(&fx, "      employment: { map: { Full Time: Karyawan } }\n"
              "    skip: { employment: { not_in: [Karyawan] } }\n");
    const char *kept[2] = {"1", "Full Time"};
    assert_int_equal(map(&fx, kept), FERRY_MAP_OK);
    const char *skipped[2] = {"2", "Contractor"};
    assert_int_equal(map(&fx, skipped), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.reason, "row 2: employment 'Contractor' not in [Karyawan]");
    unload(&fx);
}

static void a_lookup_field_is_handed_the_transformed_text(void **state)
{
    fixture fx;

    (void)state;
    /* Looked up after mapping (sync/run.c): the value matched is the mapped one, untyped. */
    load(&fx, "      brand_id: { column: Brand, type: integer, case: upper,\n"
              "                  map: { sunrise: br-1 }, lookup: { table: brands, match: code } "
              "}\n");
    expect_mapped(&fx, "sunrise", "BR-1");
    unload(&fx);
    load(&fx, "      brand_id: { template: 'BR-{Brand No}', type: integer,\n"
              "                  lookup: { table: brands, match: code } }\n");
    const char *rec[3] = {"1", NULL, "7"};
    assert_int_equal(map(&fx, rec), FERRY_MAP_OK);
    assert_string_equal(value_of(&fx, 1), "BR-7");
    unload(&fx);
}

/* ---- the CSV source reads what templates name ---- */

static ferry_rc open_csv(const char *csv, const char *fields, ferry_config **ret_cfg,
                         ferry_source **ret_src, char **ret_dir, ferry_err *err)
{
    char yaml[2048];
    char *dir = tu_tempdir(), *path;
    ferry_source_options so = {.estimate = -1};
    int n = snprintf(yaml, sizeof(yaml),
                     "syncs:\n"
                     "  people:\n"
                     "    source: { url: people.csv }\n"
                     "    target: { table: people, key: id }\n"
                     "    fields:\n"
                     "      id: { column: ID }\n"
                     "%s",
                     fields);

    assert_non_null(dir);
    path = tu_write_file(dir, "people.csv", csv, strlen(csv));
    free(path);
    *ret_dir = dir;
    so.base_dir = dir;
    ferry_err_clear(err);
    assert_int_equal(ferry_config_parse(yaml, (size_t)n, "ferry.yaml", dir, ret_cfg, err),
                     FERRY_OK);
    return ferry_source_open(&(*ret_cfg)->syncs[0], &so, ret_src, err);
}

static void csv_source_reads_the_columns_a_template_names(void **state)
{
    ferry_config *cfg = NULL;
    ferry_source *src = NULL;
    ferry_mapper *mapper = NULL;
    ferry_source_record rec;
    ferry_mapped_record out;
    ferry_map_result result;
    ferry_err err;
    char *dir;

    (void)state;
    assert_int_equal(open_csv("Last Name,ID,First Name,Unused\nDoe,1,John,x\n",
                              "      name: { template: '{First Name} {Last Name}' }\n", &cfg, &src,
                              &dir, &err),
                     FERRY_OK);
    assert_int_equal(ferry_mapper_new(&cfg->syncs[0], NULL, &mapper, &err), FERRY_OK);
    assert_int_equal(ferry_source_next(src, &rec, &err), FERRY_OK);
    assert_int_equal(rec.nvalues, 4);
    assert_int_equal(ferry_mapper_map(mapper, &rec, &result, &out, &err), FERRY_OK);
    assert_int_equal(result, FERRY_MAP_OK);
    assert_string_equal(out.value[1], "John Doe");
    ferry_mapper_free(mapper);
    ferry_source_close(src);
    ferry_config_free(cfg);
    tu_rmtree(dir);
    free(dir);
}

static void csv_header_without_a_template_column_names_the_key(void **state)
{
    ferry_config *cfg = NULL;
    ferry_source *src = NULL;
    ferry_err err;
    char *dir;

    (void)state;
    assert_int_equal(open_csv("ID,First Name\n1,John\n",
                              "      name:\n"
                              "        template: '{First Name} {Last Name}'\n",
                              &cfg, &src, &dir, &err),
                     FERRY_EHEADER);
    assert_null(src);
    /* The run's message names the line and the key, as ferry check prints it with the file. */
    char want[512];
    snprintf(want, sizeof(want),
             "line 8: syncs.people.fields.name.template: {Last Name} names a column the source "
             "%s/people.csv does not have (its header has 'ID', 'First Name')",
             dir);
    assert_string_equal(err.msg, want);
    ferry_config_free(cfg);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(value_is_a_constant_that_reads_no_column),
        cmocka_unit_test(template_puts_columns_together_and_trims_each),
        cmocka_unit_test(an_empty_value_in_a_template_takes_one_space_along),
        cmocka_unit_test(template_of_empty_columns_is_an_empty_value),
        cmocka_unit_test(template_shares_a_column_a_field_reads),
        cmocka_unit_test(default_fills_an_empty_or_blank_cell),
        cmocka_unit_test(map_replaces_the_values_it_lists_exactly),
        cmocka_unit_test(otherwise_fail_names_the_record_the_field_and_the_rule),
        cmocka_unit_test(otherwise_value_stands_in_for_the_others),
        cmocka_unit_test(case_changes_latin_greek_and_cyrillic_letters),
        cmocka_unit_test(title_case_starts_each_word_with_a_capital),
        cmocka_unit_test(format_reads_dates_in_the_sources_notation),
        cmocka_unit_test(format_reads_datetimes_and_the_type_makes_them_utc),
        cmocka_unit_test(format_reads_numbers_in_the_sources_notation),
        cmocka_unit_test(transforms_apply_in_order_before_typing),
        cmocka_unit_test(skip_rules_see_the_transformed_value),
        cmocka_unit_test(a_lookup_field_is_handed_the_transformed_text),
        cmocka_unit_test(csv_source_reads_the_columns_a_template_names),
        cmocka_unit_test(csv_header_without_a_template_column_names_the_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
