/* test_lookup.c - look-ups of field values in another table (src/sync/lookup.c).
 *
 * A SQLite target on an in-memory database holding a brands table; each test loads the
 * look-ups of a sync and resolves records: found (and typed), not found, optional, an empty
 * value, two rows with the same code, composite matches, a scope with the tenant's variable,
 * NULL match values in the table, a found value the field's type refuses, and the config's
 * own checks. */
#include "config/config.h"
#include "store/store.h"
#include "sync/lookup.h"
#include "target/target.h"
#include "testutil.h"

#include <sqlite3.h>
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

static const char brands_sql[] =
    "CREATE TABLE brands (id INTEGER PRIMARY KEY, code TEXT, region TEXT, org TEXT, rate TEXT);"
    "INSERT INTO brands VALUES (1, 'BR-1', 'EU', 'acme', '1.50');"
    "INSERT INTO brands VALUES (2, 'BR-2', 'EU', 'acme', 'lots');"
    "INSERT INTO brands VALUES (3, 'BR-1', 'US', 'acme', '2');"
    "INSERT INTO brands VALUES (4, 'BR-3', 'EU', 'other', '3');"
    "INSERT INTO brands VALUES (5, NULL, 'EU', 'acme', '4');"
    "INSERT INTO brands VALUES (6, 'BR-D', 'EU', 'acme', '5');"
    "INSERT INTO brands VALUES (7, 'BR-D', 'EU', 'acme', '6');";

typedef struct {
    char *dir;
    ferry_config *cfg;
    sqlite3 *db;
    ferry_target *target;
    ferry_lookups *lookups;
} fixture;

/* Loads a config with one sync whose fields are given, and its look-ups. */
static ferry_rc setup_fx(fixture *fx, const char *fields, const char *tenant, ferry_err *err)
{
    char yaml[2048];
    int n;

    memset(fx, 0, sizeof(*fx));
    fx->dir = tu_tempdir();
    assert_non_null(fx->dir);
    n = snprintf(yaml, sizeof(yaml),
                 "database: sqlite:ferry.db\n"
                 "syncs:\n"
                 "  packages:\n"
                 "    source: { url: packages.csv }\n"
                 "    target: { table: packages, key: code }\n"
                 "    fields:\n"
                 "      code: { column: Code }\n"
                 "%s",
                 fields);
    assert_true(n > 0 && (size_t)n < sizeof(yaml));
    ferry_err_clear(err);
    if (ferry_config_parse(yaml, (size_t)n, "ferry.yaml", fx->dir, &fx->cfg, err) != FERRY_OK)
        return err->code;
    /* Ferry's own connection settings: a double-quoted name that is no column is an error. */
    assert_int_equal(ferry_sqlite_connect(":memory:", &fx->db, err), FERRY_OK);
    assert_int_equal(sqlite3_exec(fx->db, brands_sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(ferry_sqlite_target_new(fx->db, &fx->cfg->syncs[0], tenant, &fx->target, err),
                     FERRY_OK);
    return ferry_lookups_load(&fx->cfg->syncs[0], tenant, fx->target, &fx->lookups, err);
}

static void teardown_fx(fixture *fx)
{
    ferry_lookups_free(fx->lookups);
    ferry_target_free(fx->target);
    sqlite3_close(fx->db);
    ferry_config_free(fx->cfg);
    tu_rmtree(fx->dir);
    free(fx->dir);
}

/* Resolves a record of the given values (NULL for empty); returns the failure reason or NULL,
 * and the resolved values through out (borrowed). */
static const char *resolve(fixture *fx, const char *const *values, const char ***out)
{
    size_t n = fx->cfg->syncs[0].nfields, len[8];
    ferry_mapped_record rec = {0}, found;
    const char *why;
    ferry_err err;

    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        len[i] = values[i] != NULL ? strlen(values[i]) : 0;
    rec.nvalues = n;
    rec.value = values;
    rec.len = len;
    rec.key = values[0];
    rec.row = 2;
    ferry_err_clear(&err);
    assert_int_equal(ferry_lookups_resolve(fx->lookups, &rec, &found, &why, &err), FERRY_OK);
    if (why == NULL) {
        for (size_t i = 0; i < n; i++)
            assert_int_equal(found.value[i] != NULL ? strlen(found.value[i]) : 0, found.len[i]);
        *out = (const char **)found.value;
    }
    return why;
}

/* The record of values resolves, and its field holds want (NULL: NULL). */
static void expect_found(fixture *fx, const char *const *values, size_t field, const char *want)
{
    const char **out = NULL;
    const char *why = resolve(fx, values, &out);

    if (why != NULL)
        fail_msg("%s: %s", values[0], why);
    if (want == NULL)
        assert_null(out[field]);
    else
        assert_string_equal(out[field], want);
}

/* The record of values fails with the reason want. */
static void expect_failure(fixture *fx, const char *const *values, const char *want)
{
    const char **out = NULL;
    const char *why = resolve(fx, values, &out);

    if (why == NULL)
        fail_msg("%s: resolved, expected \"%s\"", values[0], want);
    assert_string_equal(why, want);
}

static void found_values_are_written_and_typed(void **state)
{
    fixture fx;
    ferry_err err;
    (void)state;

    assert_int_equal(setup_fx(&fx,
                              "      brand_id: { column: Brand, type: integer,"
                              " lookup: { table: brands, match: code } }\n",
                              NULL, &err),
                     FERRY_OK);
    expect_found(&fx, (const char *[]){"P1", "BR-2"}, 0, "P1");
    expect_found(&fx, (const char *[]){"P1", "BR-2"}, 1, "2");
    /* BR-1 is in two regions: a code alone names two rows. */
    expect_failure(&fx, (const char *[]){"P2", "BR-1"},
                   "brand_id 'BR-1' matches more than one row of brands.code");
    expect_failure(&fx, (const char *[]){"P3", "BR-9"}, "brand_id 'BR-9' not found in brands.code");
    /* Matched exactly as the table holds it. */
    expect_failure(&fx, (const char *[]){"P4", "br-2"}, "brand_id 'br-2' not found in brands.code");
    /* An empty value is not looked up. */
    expect_found(&fx, (const char *[]){"P5", NULL}, 1, NULL);
    teardown_fx(&fx);
}

static void optional_writes_null_and_a_value_the_type_refuses_fails(void **state)
{
    fixture fx;
    ferry_err err;
    (void)state;

    assert_int_equal(setup_fx(&fx,
                              "      rate: { column: Brand, type: decimal,"
                              " lookup: { table: brands, match: code, value: rate,"
                              " optional: true } }\n",
                              NULL, &err),
                     FERRY_OK);
    expect_found(&fx, (const char *[]){"P1", "BR-9"}, 1, NULL);
    expect_found(&fx, (const char *[]){"P2", "BR-3"}, 1, "3");
    expect_failure(&fx, (const char *[]){"P3", "BR-2"},
                   "rate: brands.rate 'lots' is not a decimal number");
    /* Two rows still fail an optional look-up: which one is meant cannot be told. */
    expect_failure(&fx, (const char *[]){"P4", "BR-D"},
                   "rate 'BR-D' matches more than one row of brands.code");
    teardown_fx(&fx);
}

static void composite_matches_and_scope_with_the_tenant(void **state)
{
    fixture fx;
    ferry_err err;
    (void)state;

    assert_int_equal(setup_fx(&fx,
                              "      region: { column: Region }\n"
                              "      brand_id: { column: Brand, type: integer,"
                              " lookup: { table: brands, match: [code, region],"
                              " scope: { org: acme } } }\n",
                              NULL, &err),
                     FERRY_OK);
    expect_found(&fx, (const char *[]){"P1", "US", "BR-1"}, 2, "3");
    expect_found(&fx, (const char *[]){"P2", "EU", "BR-1"}, 2, "1");
    /* BR-3 is another org's. */
    expect_failure(&fx, (const char *[]){"P3", "EU", "BR-3"},
                   "brand_id 'BR-3', region 'EU' not found in brands (code, region)");
    expect_failure(&fx, (const char *[]){"P4", NULL, "BR-1"},
                   "brand_id 'BR-1', region '' not found in brands (code, region)");
    teardown_fx(&fx);
}

static void a_scope_value_takes_the_runs_tenant(void **state)
{
    fixture fx;
    ferry_err err;
    (void)state;

    assert_int_equal(setup_fx(&fx,
                              "      brand_id: { column: Brand, type: integer,"
                              " lookup: { table: brands, match: code, scope: { org: '{org}' } } }\n"
                              "    tenant: { variable: org, column: org_name }\n",
                              "other", &err),
                     FERRY_OK);
    expect_found(&fx, (const char *[]){"P1", "BR-3", "other"}, 1, "4");
    expect_failure(&fx, (const char *[]){"P2", "BR-2", "other"},
                   "brand_id 'BR-2' not found in brands.code");
    teardown_fx(&fx);
}

static void a_missing_table_or_column_fails_the_load(void **state)
{
    fixture fx;
    ferry_err err;
    (void)state;

    assert_int_equal(setup_fx(&fx,
                              "      brand_id: { column: Brand,"
                              " lookup: { table: brandz, match: code } }\n",
                              NULL, &err),
                     FERRY_ESCHEMA);
    assert_non_null(strstr(err.msg, "fields.brand_id.lookup: cannot read the look-up table "
                                    "brandz: no such table: brandz"));
    teardown_fx(&fx);
    /* A double-quoted name that is no column must not read as a string: */
    assert_int_equal(setup_fx(&fx,
                              "      brand_id: { column: Brand,"
                              " lookup: { table: brands, match: kode } }\n",
                              NULL, &err),
                     FERRY_ESCHEMA);
    assert_non_null(strstr(err.msg, "no such column: kode"));
    teardown_fx(&fx);
}

static void the_config_checks_a_lookup(void **state)
{
    static const struct {
        const char *fields, *want;
    } cases[] = {
        {"      b: { lookup: { match: code } }\n", "missing required key 'table'"},
        {"      b: { lookup: { table: brands } }\n", "missing required key 'match'"},
        {"      b: { lookup: { table: brands, match: [code, region] } }\n",
         "no other field named 'region'"},
        {"      b: { lookup: { table: 'br ands', match: code } }\n", "table"},
        {"      b: { lookup: { table: brands, match: 'co de' } }\n", "is not a column name"},
        {"      b: { lookup: { table: brands, match: code, scope: { 'o rg': x } } }\n",
         "a column name is letters"},
        {"      b: { lookup: { table: brands, match: code, colour: red } }\n", "colour"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fixture fx;
        ferry_err err;

        assert_int_equal(setup_fx(&fx, cases[i].fields, NULL, &err), FERRY_ECONFIG);
        if (strstr(err.msg, cases[i].want) == NULL || strstr(err.msg, "ferry.yaml:") == NULL ||
            strstr(err.msg, "syncs.packages.fields.b.lookup") == NULL)
            fail_msg("case %zu: %s", i, err.msg);
        teardown_fx(&fx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(found_values_are_written_and_typed),
        cmocka_unit_test(optional_writes_null_and_a_value_the_type_refuses_fails),
        cmocka_unit_test(composite_matches_and_scope_with_the_tenant),
        cmocka_unit_test(a_scope_value_takes_the_runs_tenant),
        cmocka_unit_test(a_missing_table_or_column_fails_the_load),
        cmocka_unit_test(the_config_checks_a_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
