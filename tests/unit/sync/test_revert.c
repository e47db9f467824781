/* test_revert.c - the pure parts of reverting a run (src/sync/revert.c, src/target/rows.c):
 * when two texts are the same value, the revert's message, and a change row's key text read
 * back into key columns. Whole reverts are tested in tests/integration/test_revert.py. */
#include "config/config.h"
#include "sync/revert.h"
#include "target/rows.h"

#include <jansson.h>
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

static void values_compare_as_the_same_value(void **state)
{
    (void)state;
    assert_true(ferry_revert_values_same("Ann", "Ann"));
    assert_true(ferry_revert_values_same(NULL, ""));
    assert_true(ferry_revert_values_same("1", "true"));
    assert_true(ferry_revert_values_same("f", "0"));
    assert_true(ferry_revert_values_same("2.50", "2.5"));
    assert_false(ferry_revert_values_same("Ann", "ann"));
    assert_false(ferry_revert_values_same("", "0"));
    assert_false(ferry_revert_values_same("1", "false"));
    assert_false(ferry_revert_values_same("12abc", "12"));
}

static void message_counts_what_was_done_and_left(void **state)
{
    char msg[256];

    (void)state;
    ferry_revert_message(12, 3, 2, 1, 1, 0, msg, sizeof(msg));
    assert_string_equal(msg, "Reverted run 12: 3 deleted, 2 restored, 1 re-inserted, 1 conflict "
                             "left alone.");
    ferry_revert_message(7, 0, 1, 0, 0, 2, msg, sizeof(msg));
    assert_string_equal(msg, "Reverted run 7: 0 deleted, 1 restored, 0 re-inserted, 2 conflicts "
                             "forced.");
    ferry_revert_message(7, 0, 0, 0, 0, 0, msg, sizeof(msg));
    assert_string_equal(msg, "Reverted run 7: 0 deleted, 0 restored, 0 re-inserted.");
}

static ferry_config *parse(const char *yaml)
{
    ferry_config *cfg = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err) != FERRY_OK)
        fail_msg("config: %s", err.msg);
    return cfg;
}

/* The key text parsed as JSON text, or the error's message. */
static void expect_key(const ferry_sync_spec *sync, const char *tenant, const char *text,
                       const char *want)
{
    json_t *key = NULL;
    ferry_err err;
    char *got;

    ferry_err_clear(&err);
    if (ferry_target_rows_key_parse(sync, tenant, text, &key, &err) != FERRY_OK) {
        assert_string_equal(err.msg, want);
        return;
    }
    got = json_dumps(key, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(got, want);
    free(got);
    json_decref(key);
}

static void a_key_text_reads_back_into_its_columns(void **state)
{
    ferry_config *one = parse("syncs:\n"
                              "  people:\n"
                              "    source: { url: people.csv }\n"
                              "    target: { table: people, key: id }\n"
                              "    fields: { id: {}, name: {} }\n");
    ferry_config *two = parse("syncs:\n"
                              "  people:\n"
                              "    source: { url: people.csv }\n"
                              "    target: { table: people, key: [team, id] }\n"
                              "    fields: { team: {}, id: {}, name: {} }\n"
                              "    tenant: { variable: org, column: org_id }\n");

    (void)state;
    expect_key(&one->syncs[0], NULL, "P, 1=x", "{\"id\":\"P, 1=x\"}");
    expect_key(&two->syncs[0], "acme", "team=red, id=7, org_id=acme",
               "{\"team\":\"red\",\"id\":\"7\",\"org_id\":\"acme\"}");
    expect_key(&two->syncs[0], "acme", "team=a, b, id=7, org_id=acme",
               "{\"team\":\"a, b\",\"id\":\"7\",\"org_id\":\"acme\"}");
    expect_key(&two->syncs[0], "acme", "id=7, team=red, org_id=acme",
               "key 'id=7, team=red, org_id=acme' does not read as a key of sync 'people'");
    expect_key(&two->syncs[0], "acme", "team=red, id=7",
               "key 'team=red, id=7' does not read as a key of sync 'people'");
    ferry_config_free(one);
    ferry_config_free(two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_compare_as_the_same_value),
        cmocka_unit_test(message_counts_what_was_done_and_left),
        cmocka_unit_test(a_key_text_reads_back_into_its_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
