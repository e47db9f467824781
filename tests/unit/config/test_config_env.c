/* test_config_env.c - the config's part of the environment (src/config/expand.c, walk.c,
 * config.c) and ferry config's output (src/config/show.c).
 *
 * ${VAR} references in values (set, unset with a default, empty with a default, $${, keys left
 * alone, errors naming file, line and key), DATABASE_URL and PORT, and the masking of secrets
 * in ferry_config_show(). Variables are named FERRY_T_* and unset after each test. */
#include "config/config.h"
#include "testutil.h"

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

/* A minimal valid sync: lines 1-5. Tests append keys at line 6 onwards. */
#define MINI_SYNC                                                                                  \
    "syncs:\n"                                     /* 1 */                                         \
    "  people:\n"                                  /* 2 */                                         \
    "    source: { url: people.csv }\n"            /* 3 */                                         \
    "    target: { table: people, key: id }\n"     /* 4 */                                         \
    "    fields: { id: {}, name: {}, kind: {} }\n" /* 5 */

static ferry_config *parse_ok(const char *yaml)
{
    ferry_config *cfg = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err) != FERRY_OK)
        fail_msg("unexpected error: %s", err.msg);
    assert_non_null(cfg);
    return cfg;
}

static void expect_error(const char *yaml, const char *expected)
{
    ferry_config *cfg = (ferry_config *)1;
    ferry_err err;
    ferry_rc rc;

    ferry_err_clear(&err);
    rc = ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err);
    assert_null(cfg);
    assert_int_equal(rc, FERRY_ECONFIG);
    assert_string_equal(err.msg, expected);
}

/* ferry_config_show() of yaml, which must succeed; the caller frees the text. */
static char *show_ok(const char *yaml)
{
    char *out = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_config_show(yaml, strlen(yaml), "ferry.yaml", NULL, &out, &err) != FERRY_OK)
        fail_msg("unexpected error: %s", err.msg);
    assert_non_null(out);
    return out;
}

static void expect_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return;
    fail_msg("no line '%s' in:\n%s", line, text);
}

static void expect_absent(const char *text, const char *part)
{
    if (strstr(text, part) != NULL)
        fail_msg("'%s' is in:\n%s", part, text);
}

static int unset_all(void **state)
{
    static const char *const names[] = {"FERRY_T_DB",    "FERRY_T_HOST", "FERRY_T_UNSET",
                                        "FERRY_T_EMPTY", "FERRY_T_KEY",  "FERRY_T_SECRET",
                                        "FERRY_T_TOKEN", "DATABASE_URL", "PORT"};

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unsetenv(names[i]);
    return 0;
}

/* ---- ${VAR} ---- */

static void set_variable_replaces_the_reference(void **state)
{
    ferry_config *cfg;

    (void)state;
    setenv("FERRY_T_DB", "sqlite:/tmp/from-env.db", 1);
    setenv("FERRY_T_HOST", "127.0.0.2", 1);
    cfg = parse_ok("database: ${FERRY_T_DB}\n"
                   "listen: ${FERRY_T_HOST}:8081\n");
    assert_string_equal(cfg->database, "sqlite:/tmp/from-env.db");
    assert_string_equal(cfg->listen, "127.0.0.2:8081");
    ferry_config_free(cfg);
}

static void unset_variable_takes_the_default(void **state)
{
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok("workers: ${FERRY_T_UNSET:-7}\n"
                   "listen: '${FERRY_T_UNSET:-127.0.0.1}:${FERRY_T_UNSET:-9090}'\n" MINI_SYNC
                   "    title: ${FERRY_T_UNSET:-People from HR}\n");
    assert_int_equal(cfg->workers, 7);
    assert_string_equal(cfg->listen, "127.0.0.1:9090");
    assert_string_equal(cfg->syncs[0].title, "People from HR");
    ferry_config_free(cfg);
}

static void empty_variable_takes_the_default_as_in_the_shell(void **state)
{
    ferry_config *cfg;

    (void)state;
    setenv("FERRY_T_EMPTY", "", 1);
    cfg = parse_ok("workers: ${FERRY_T_EMPTY:-5}\n");
    assert_int_equal(cfg->workers, 5);
    ferry_config_free(cfg);
    /* without :- an empty variable is an empty value */
    expect_error("database: ${FERRY_T_EMPTY}\n", "ferry.yaml:1: database: must not be empty");
}

static void double_dollar_writes_a_literal_reference(void **state)
{
    ferry_config *cfg;

    (void)state;
    setenv("FERRY_T_DB", "not this", 1);
    cfg = parse_ok(MINI_SYNC "    title: 'costs $${FERRY_T_DB} and $5'\n");
    assert_string_equal(cfg->syncs[0].title, "costs ${FERRY_T_DB} and $5");
    ferry_config_free(cfg);
}

static void unset_variable_without_default_names_file_line_and_key(void **state)
{
    (void)state;
    expect_error("workers: 2\n"
                 "database: ${FERRY_T_UNSET}\n",
                 "ferry.yaml:2: database: ${FERRY_T_UNSET} is not set and has no default");
    expect_error(MINI_SYNC "    title: Staff of ${FERRY_T_UNSET}\n",
                 "ferry.yaml:6: syncs.people.title: ${FERRY_T_UNSET} is not set and has no "
                 "default");
}

static void malformed_references_are_errors(void **state)
{
    (void)state;
    expect_error("database: 'x${'\n",
                 "ferry.yaml:1: database: '${' is not a valid reference: expected ${NAME} or "
                 "${NAME:-default} with NAME of letters, digits and _ (write $${ for a literal "
                 "${)");
    expect_error("database: ${1X}\n",
                 "ferry.yaml:1: database: '${1X}' is not a valid reference: expected ${NAME} or "
                 "${NAME:-default} with NAME of letters, digits and _ (write $${ for a literal "
                 "${)");
    expect_error("database: '${FERRY_T_DB:?x}'\n",
                 "ferry.yaml:1: database: '${FERRY_T_DB:?x}' is not a valid reference: expected "
                 "${NAME} or ${NAME:-default} with NAME of letters, digits and _ (write $${ for "
                 "a literal ${)");
}

static void keys_are_not_expanded(void **state)
{
    ferry_config *cfg = (ferry_config *)1;
    ferry_err err;

    (void)state;
    setenv("FERRY_T_KEY", "workers", 1);
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_parse("${FERRY_T_KEY}: 2\n", 18, "ferry.yaml", NULL, &cfg, &err),
                     FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "ferry.yaml:1: ${FERRY_T_KEY}: unknown key"));
}

static void errors_quote_the_reference_not_the_value(void **state)
{
    (void)state;
    setenv("FERRY_T_SECRET", "hunter2-is-secret", 1);
    expect_error("listen: ${FERRY_T_SECRET}\n",
                 "ferry.yaml:1: listen: expected HOST:PORT with a port from 1 to 65535, such as "
                 "127.0.0.1:8080, not '${FERRY_T_SECRET}'");
    setenv("FERRY_T_SECRET", "9x", 1);
    expect_error("workers: ${FERRY_T_SECRET}\n",
                 "ferry.yaml:1: workers: expected a whole number from 1 to 64, not "
                 "'${FERRY_T_SECRET}'");
}

/* ---- DATABASE_URL and PORT ---- */

static void database_url_and_port_fill_what_the_file_leaves_out(void **state)
{
    ferry_config *cfg;

    (void)state;
    setenv("DATABASE_URL", "postgres://app:pw@db.internal/ferry", 1);
    setenv("PORT", "5050", 1);
    cfg = parse_ok("workers: 2\n");
    assert_string_equal(cfg->database, "postgres://app:pw@db.internal/ferry");
    assert_string_equal(cfg->listen, "0.0.0.0:5050");
    ferry_config_free(cfg);
    /* the file wins */
    cfg = parse_ok("database: sqlite:mine.db\nlisten: 127.0.0.1:7000\n");
    assert_string_equal(cfg->database, "sqlite:mine.db");
    assert_string_equal(cfg->listen, "127.0.0.1:7000");
    ferry_config_free(cfg);
}

static void bad_database_url_or_port_names_the_variable(void **state)
{
    (void)state;
    setenv("PORT", "80000", 1);
    expect_error("workers: 2\n", "ferry.yaml: the environment variable PORT (used as the port of "
                                 "listen:) is not a port number from 1 to 65535");
    unsetenv("PORT");
    setenv("DATABASE_URL", "mysql://root:pw@db/x", 1);
    expect_error("workers: 2\n",
                 "ferry.yaml: the environment variable DATABASE_URL (used as database:) is not "
                 "sqlite:PATH or a postgres:// or postgresql:// URL");
}

/* ---- ferry config ---- */

static void show_writes_the_expanded_document_and_the_defaults(void **state)
{
    char *out;

    (void)state;
    setenv("FERRY_T_HOST", "127.0.0.3", 1);
    out = show_ok("listen: ${FERRY_T_HOST}:8080\nworkers: 3\n" MINI_SYNC "    title: 'a $${b}'\n");
    expect_line(out, "listen: 127.0.0.3:8080");
    expect_line(out, "workers: 3");
    expect_line(out, "    title: a $${b}"); /* loads back as written */
    expect_line(out, "database: sqlite:ferry.db  # default");
    expect_line(out, "lease: 5m  # default");
    expect_line(out, "max_body: 1MiB  # default");
    expect_line(out, "held_max_bytes: 1GiB  # default");
    expect_line(out, "allow_private: false  # default");
    expect_line(out, "# metrics_token: not set");
    expect_absent(out, "listen: 127.0.0.1:8080");
    free(out);
    setenv("DATABASE_URL", "postgres://app:pw@db.internal/ferry", 1);
    setenv("PORT", "5050", 1);
    out = show_ok("workers: 3\n");
    expect_line(out, "database: postgres://app:********@db.internal/ferry  # from DATABASE_URL");
    expect_line(out, "listen: 0.0.0.0:5050  # from PORT");
    free(out);
}

static void show_masks_secrets(void **state)
{
    char *out;

    (void)state;
    setenv("FERRY_T_TOKEN", "a-metrics-token-of-enough-length", 1);
    setenv("FERRY_T_SECRET", "hunter2-is-secret", 1);
    out = show_ok("database: postgres://ferry:${FERRY_T_SECRET}@db/ferry\n"
                  "metrics_token: ${FERRY_T_TOKEN}\n"
                  "smtp: {url: 'smtps://mail.example:465', user_env: SMTP_USER, password_env: "
                  "SMTP_PASSWORD, from: ferry@clinic.example}\n"
                  "embed: {secret_env: EMBED_SECRET}\n"
                  "syncs:\n"
                  "  people:\n"
                  "    source:\n"
                  "      kind: rest\n"
                  "      url: 'https://u:${FERRY_T_SECRET}@api.example/p?api_key=k1&page=1'\n"
                  "      headers: {X-Api-Key: k2, X-Auth-Token: k3, Accept: text/csv}\n"
                  "      query: {token: k4, limit: 10}\n"
                  "      auth: {type: bearer, token_env: API_TOKEN}\n"
                  "    target: {table: people, key: id, database: "
                  "'postgres://t:${FERRY_T_SECRET}@db2/app'}\n"
                  "    fields: {id: {}}\n");
    expect_absent(out, "hunter2");
    expect_absent(out, "a-metrics-token");
    expect_absent(out, "k1");
    expect_absent(out, "k2");
    expect_absent(out, "k3");
    expect_absent(out, "k4");
    expect_line(out, "database: postgres://ferry:********@db/ferry");
    expect_line(out, "metrics_token: \"********\"");
    expect_line(out, "  url: smtps://mail.example:465");
    expect_line(out, "  password_env: SMTP_PASSWORD");
    expect_line(out, "  secret_env: EMBED_SECRET");
    expect_line(out, "      url: https://u:********@api.example/p?api_key=********&page=1");
    expect_line(out, "        Accept: text/csv");
    expect_line(out, "        limit: 10");
    expect_line(out, "        token_env: API_TOKEN");
    expect_line(out, "      database: postgres://t:********@db2/app");
    free(out);
    /* a password holding a / is masked whole */
    out = show_ok("database: 'postgres://ferry:a/${FERRY_T_SECRET}@db/ferry'\n");
    expect_line(out, "database: postgres://ferry:********@db/ferry");
    free(out);
}

static void show_fails_as_the_loader_does(void **state)
{
    char *out = NULL;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(
        ferry_config_show("workers: ${FERRY_T_UNSET}\n", 26, "ferry.yaml", NULL, &out, &err),
        FERRY_ECONFIG);
    assert_null(out);
    assert_string_equal(err.msg,
                        "ferry.yaml:1: workers: ${FERRY_T_UNSET} is not set and has no default");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(set_variable_replaces_the_reference, unset_all),
        cmocka_unit_test_teardown(unset_variable_takes_the_default, unset_all),
        cmocka_unit_test_teardown(empty_variable_takes_the_default_as_in_the_shell, unset_all),
        cmocka_unit_test_teardown(double_dollar_writes_a_literal_reference, unset_all),
        cmocka_unit_test_teardown(unset_variable_without_default_names_file_line_and_key,
                                  unset_all),
        cmocka_unit_test_teardown(malformed_references_are_errors, unset_all),
        cmocka_unit_test_teardown(keys_are_not_expanded, unset_all),
        cmocka_unit_test_teardown(errors_quote_the_reference_not_the_value, unset_all),
        cmocka_unit_test_teardown(database_url_and_port_fill_what_the_file_leaves_out, unset_all),
        cmocka_unit_test_teardown(bad_database_url_or_port_names_the_variable, unset_all),
        cmocka_unit_test_teardown(show_writes_the_expanded_document_and_the_defaults, unset_all),
        cmocka_unit_test_teardown(show_masks_secrets, unset_all),
        cmocka_unit_test_teardown(show_fails_as_the_loader_does, unset_all),
    };

    unset_all(NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
