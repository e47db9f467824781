/* test_notify.c - what a run's end owes its endpoints (the planner) and the signature.
 *
 * The signature is checked against a value computed independently (Python's hmac, by hand:
 * hmac.new(b"whsec", b"1700000000.{}", hashlib.sha256).hexdigest()); the integration tests
 * verify real deliveries the same way. */
#include "config/config.h"
#include "notify/notify.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

static ferry_config *parse(const char *yaml)
{
    ferry_config *cfg = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err) != FERRY_OK)
        fail_msg("config: %s", err.msg);
    return cfg;
}

#define SYNCS                                                                                      \
    "syncs:\n"                                                                                     \
    "  t:\n"                                                                                       \
    "    source: {url: t.csv}\n"                                                                   \
    "    target: {table: t, key: [id]}\n"                                                          \
    "    fields: {id: {}}\n"                                                                       \
    "  quiet:\n"                                                                                   \
    "    source: {url: q.csv}\n"                                                                   \
    "    target: {table: q, key: [id]}\n"                                                          \
    "    fields: {id: {}}\n"                                                                       \
    "    notify: ~\n"

static ferry_run ended(const char *sync, ferry_run_status status, int64_t created)
{
    ferry_run run;

    memset(&run, 0, sizeof(run));
    run.id = 7;
    run.sync = (char *)sync;
    run.status = status;
    run.counts[FERRY_OUTCOME_CREATED] = created;
    return run;
}

static void plan_follows_on_and_records(void **state)
{
    ferry_delivery_plan out[FERRY_DELIVERY_PLAN_MAX];
    ferry_config *cfg;
    ferry_run run;
    size_t n;

    (void)state;
    setenv("FERRY_TEST_HOOK", "k", 1);
    cfg = parse("notify:\n"
                "  - webhook: {url: 'http://a.example/h', secret_env: FERRY_TEST_HOOK,"
                " records: true}\n"
                "  - webhook: {url: 'http://b.example/h', secret_env: FERRY_TEST_HOOK,"
                " on: [failed]}\n" SYNCS);
    run = ended("t", FERRY_RUN_SUCCEEDED, 3);
    n = ferry_notify_plan(cfg, &run, out, FERRY_DELIVERY_PLAN_MAX);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].endpoint, 0);
    assert_string_equal(out[0].kind, "webhook");
    assert_string_equal(out[1].kind, "records");
    /* nothing changed: no feed */
    run = ended("t", FERRY_RUN_SUCCEEDED, 0);
    assert_int_equal(ferry_notify_plan(cfg, &run, out, FERRY_DELIVERY_PLAN_MAX), 1);
    /* a dry run commits nothing: no feed */
    run = ended("t", FERRY_RUN_SUCCEEDED, 3);
    run.dry_run = true;
    assert_int_equal(ferry_notify_plan(cfg, &run, out, FERRY_DELIVERY_PLAN_MAX), 1);
    /* failed: both webhooks, no feed */
    run = ended("t", FERRY_RUN_FAILED, 0);
    n = ferry_notify_plan(cfg, &run, out, FERRY_DELIVERY_PLAN_MAX);
    assert_int_equal(n, 2);
    assert_int_equal(out[1].endpoint, 1);
    /* interrupted with a next attempt: nothing yet */
    run = ended("t", FERRY_RUN_INTERRUPTED, 0);
    assert_int_equal(ferry_notify_plan(cfg, &run, out, FERRY_DELIVERY_PLAN_MAX), 0);
    /* a sync whose notify: is empty silences the top level's */
    run = ended("quiet", FERRY_RUN_FAILED, 0);
    assert_int_equal(ferry_notify_plan(cfg, &run, out, FERRY_DELIVERY_PLAN_MAX), 0);
    ferry_config_free(cfg);
}

static void signature_is_hmac_sha256_of_time_dot_body(void **state)
{
    char sig[FERRY_NOTIFY_SIGNATURE_MAX];

    (void)state;
    ferry_notify_sign("whsec", 1700000000, "{}", 2, sig);
    assert_string_equal(sig, "t=1700000000,v1="
                             "7d44587dddbaf4c7f70fef20f48cd594834ffea1641e3ac227b84408298738af");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plan_follows_on_and_records),
        cmocka_unit_test(signature_is_hmac_sha256_of_time_dot_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
