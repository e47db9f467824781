/* test_rest_config.c - the REST source's keys, tenants and the examples (docs/sources.md). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

#define REST_SYNC(source_extra, fields)                                                            \
    "syncs:\n"                                                                                     \
    "  p:\n"                                                                                       \
    "    source:\n"                                                                                \
    "      kind: rest\n"                                                                           \
    "      url: https://api.example.com/v1/patients\n" source_extra                                \
    "    target: { table: patients, key: id }\n"                                                   \
    "    fields:\n" fields

static ferry_config *parse_ok(const char *yaml)
{
    ferry_config *cfg = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err) != FERRY_OK)
        fail_msg("unexpected error: %s", err.msg);
    return cfg;
}

/* The config fails and the message holds fragment. */
static void expect_error_with(const char *yaml, const char *fragment)
{
    ferry_config *cfg = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_not_equal(ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err),
                         FERRY_OK);
    assert_null(cfg);
    if (strstr(err.msg, fragment) == NULL)
        fail_msg("'%s' does not hold '%s'", err.msg, fragment);
}

static void rest_keys_are_read_with_defaults(void **state)
{
    (void)state;
    ferry_config *cfg = parse_ok(REST_SYNC("      headers: { Accept: application/json }\n"
                                           "      query: { per_page: 100 }\n"
                                           "      auth: { type: bearer, token_env: API_TOKEN }\n"
                                           "      records: /patients\n"
                                           "      pagination: { style: offset }\n"
                                           "      rate_limit: 200/min\n",
                                           "      id: { type: integer }\n"
                                           "      city: { pointer: /address/city }\n"));
    const ferry_source_spec *src = &cfg->syncs[0].source;

    assert_int_equal(src->kind, FERRY_SOURCE_REST);
    assert_string_equal(src->method, "GET");
    assert_int_equal(src->nheaders, 1);
    assert_string_equal(src->headers[0].name, "Accept");
    assert_string_equal(src->query[0].value, "100");
    assert_int_equal(src->auth.type, FERRY_AUTH_BEARER);
    assert_string_equal(src->auth.secret.env, "API_TOKEN");
    assert_string_equal(src->records, "/patients");
    assert_int_equal(src->pagination.style, FERRY_PAGE_OFFSET);
    assert_string_equal(src->pagination.offset_param, "startAt");
    assert_string_equal(src->pagination.limit_param, "maxResults");
    assert_int_equal(src->pagination.limit, 100);
    assert_int_equal(src->pagination.start, 0);
    assert_true(src->rate_per_s > 3.33 && src->rate_per_s < 3.34);
    assert_int_equal(src->page_retries, 4);
    assert_string_equal(cfg->syncs[0].fields[0].pointer, "/id");
    assert_string_equal(cfg->syncs[0].fields[1].pointer, "/address/city");
    ferry_config_free(cfg);
}

static void every_pagination_style_gets_its_defaults(void **state)
{
    (void)state;
    ferry_config *cfg =
        parse_ok(REST_SYNC("      pagination: { style: next_link }\n", "      id: {}\n"));
    assert_string_equal(cfg->syncs[0].source.pagination.next, "/links/next");
    ferry_config_free(cfg);
    cfg = parse_ok(REST_SYNC("      pagination: { style: cursor }\n", "      id: {}\n"));
    assert_string_equal(cfg->syncs[0].source.pagination.cursor, "/nextPageToken");
    assert_string_equal(cfg->syncs[0].source.pagination.cursor_param, "nextPageToken");
    ferry_config_free(cfg);
    cfg = parse_ok(REST_SYNC("      pagination: { style: page, size_param: per_page, size: 50 }\n",
                             "      id: {}\n"));
    assert_string_equal(cfg->syncs[0].source.pagination.page_param, "page");
    assert_int_equal(cfg->syncs[0].source.pagination.start, 1);
    assert_int_equal(cfg->syncs[0].source.pagination.size, 50);
    ferry_config_free(cfg);
}

static void literal_secrets_are_refused(void **state)
{
    (void)state;
    expect_error_with(
        REST_SYNC("      auth: { type: basic, user: me, password: hunter22 }\n", "      id: {}\n"),
        "secrets are not written in the config");
    expect_error_with(REST_SYNC("      headers: { Authorization: Bearer abc }\n", "      id: {}\n"),
                      "credentials do not belong in headers");
}

static void auth_keys_must_match_the_type(void **state)
{
    (void)state;
    expect_error_with(
        REST_SYNC("      auth: { type: bearer, password_env: X }\n", "      id: {}\n"),
        "'password_env' does not go with type bearer");
    expect_error_with(REST_SYNC("      auth: { type: header, key_env: K }\n", "      id: {}\n"),
                      "type header needs header:");
    expect_error_with(REST_SYNC("      auth: { type: basic, password_env: P }\n", "      id: {}\n"),
                      "exactly one of user, user_env, user_file");
}

static void a_google_service_account_needs_its_key_and_no_type(void **state)
{
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok(REST_SYNC("      auth: { google_service_account: { key_file: sa.json, scope: "
                             "\"https://x/a\" } }\n",
                             "      id: {}\n"));
    assert_int_equal(cfg->syncs[0].source.auth.type, FERRY_AUTH_GOOGLE_SA);
    assert_non_null(strstr(cfg->syncs[0].source.auth.secret.file, "sa.json"));
    assert_string_equal(cfg->syncs[0].source.auth.scope, "https://x/a");
    ferry_config_free(cfg);
    expect_error_with(
        REST_SYNC("      auth: { google_service_account: { scope: s } }\n", "      id: {}\n"),
        "google_service_account needs key_file or key_env");
    expect_error_with(REST_SYNC("      auth: { type: bearer, google_service_account: { key_env: "
                                "K } }\n",
                                "      id: {}\n"),
                      "google_service_account does not go with type bearer");
    expect_error_with(REST_SYNC("      auth: { google_service_account: { key_env: K }, header: "
                                "X-A }\n",
                                "      id: {}\n"),
                      "'header' does not go with google_service_account");
    expect_error_with(
        REST_SYNC("      auth: { google_service_account: { key: K } }\n", "      id: {}\n"),
        "secrets are not written in the config");
    expect_error_with(
        REST_SYNC("      auth: { token_env: K }\n", "      id: {}\n"),
        "auth needs type: (basic, bearer, header), google_service_account: or oauth2:");
}

#define OAUTH2(keys)                                                                               \
    REST_SYNC("      auth:\n        oauth2:\n          token_url: https://id.example/token\n"      \
              "          client_id: app\n" keys,                                                   \
              "      id: {}\n")

static void oauth2_takes_a_client_and_one_grant(void **state)
{
    ferry_config *cfg;
    const ferry_auth_spec *a;

    (void)state;
    cfg = parse_ok(OAUTH2("          client_secret_env: CS\n          scope: read\n"));
    a = &cfg->syncs[0].source.auth;
    assert_int_equal(a->type, FERRY_AUTH_OAUTH2);
    assert_int_equal(a->oauth2.grant, FERRY_OAUTH2_CLIENT_CREDENTIALS);
    assert_int_equal(a->oauth2.client_auth, FERRY_OAUTH2_AUTH_BASIC);
    assert_string_equal(a->oauth2.token_url, "https://id.example/token");
    assert_string_equal(a->oauth2.client_id, "app");
    assert_string_equal(a->secret.env, "CS");
    assert_string_equal(a->scope, "read");
    assert_null(a->oauth2.refresh.env);
    ferry_config_free(cfg);
    cfg = parse_ok(OAUTH2("          grant: refresh_token\n          client_auth: body\n"
                          "          refresh_token_file: rt.txt\n"));
    a = &cfg->syncs[0].source.auth;
    assert_int_equal(a->oauth2.grant, FERRY_OAUTH2_REFRESH_TOKEN);
    assert_int_equal(a->oauth2.client_auth, FERRY_OAUTH2_AUTH_BODY);
    assert_string_equal(a->oauth2.refresh.file, "rt.txt");
    assert_null(a->secret.env);
    ferry_config_free(cfg);

    expect_error_with(OAUTH2("          grant: refresh_token\n"),
                      "oauth2: grant refresh_token needs refresh_token_env or refresh_token_file");
    expect_error_with(OAUTH2(""), "oauth2: grant client_credentials needs client_secret_env or "
                                  "client_secret_file");
    expect_error_with(OAUTH2("          client_secret_env: CS\n          refresh_token_env: R\n"),
                      "oauth2: a refresh token goes with grant: refresh_token");
    expect_error_with(OAUTH2("          grant: refresh_token\n          refresh_token_env: R\n"
                             "          refresh_token_file: r.txt\n"),
                      "the refresh token is given twice");
    expect_error_with(OAUTH2("          client_secret: abc\n"),
                      "secrets are not written in the config: name an environment variable "
                      "(client_secret_env, refresh_token_env)");
    expect_error_with(OAUTH2("          grant: password\n          client_secret_env: CS\n"),
                      "unknown grant 'password' (expected client_credentials or refresh_token)");
    expect_error_with(OAUTH2("          client_secret_env: CS\n          client_id_env: X\n"),
                      "client_id_env: unknown key");
    expect_error_with(REST_SYNC("      auth: { oauth2: { client_id: a, client_secret_env: C } }\n",
                                "      id: {}\n"),
                      "missing required key 'token_url'");
    expect_error_with(REST_SYNC("      auth: { oauth2: { token_url: ftp://x/t, client_id: a, "
                                "client_secret_env: C } }\n",
                                "      id: {}\n"),
                      "oauth2: token_url needs an http:// or https:// URL");
    expect_error_with(REST_SYNC("      auth: { type: bearer, token_env: T, oauth2: { token_url: "
                                "https://x/t, client_id: a, client_secret_env: C } }\n",
                                "      id: {}\n"),
                      "oauth2 does not go with bearer");
    expect_error_with(REST_SYNC("      auth: { oauth2: { token_url: https://x/t, client_id: a, "
                                "client_secret_env: C }, header: X-A }\n",
                                "      id: {}\n"),
                      "'header' does not go with oauth2");
    expect_error_with(REST_SYNC("      auth: { oauth2: { token_url: \"https://x/{nope}\", "
                                "client_id: a, client_secret_env: C } }\n",
                                "      id: {}\n"),
                      "nope");
}

#define CSV_SYNC(url, auth)                                                                        \
    "syncs:\n  p:\n    source: { url: \"" url "\", auth: " auth " }\n"                             \
    "    target: { table: p, key: [id] }\n    fields:\n      id: {}\n"

static void a_csv_url_takes_a_google_service_account_and_no_other_auth(void **state)
{
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok(CSV_SYNC("https://docs.google.com/spreadsheets/d/x/export?format=csv",
                            "{ google_service_account: { key_env: SA } }"));
    assert_int_equal(cfg->syncs[0].source.kind, FERRY_SOURCE_CSV);
    assert_int_equal(cfg->syncs[0].source.auth.type, FERRY_AUTH_GOOGLE_SA);
    assert_string_equal(cfg->syncs[0].source.auth.secret.env, "SA");
    ferry_config_free(cfg);
    expect_error_with(CSV_SYNC("https://h/x.csv", "{ type: bearer, token_env: T }"),
                      "auth: a CSV source takes only google_service_account");
    expect_error_with(CSV_SYNC("people.csv", "{ google_service_account: { key_env: SA } }"),
                      "auth: google_service_account needs an http:// or https:// url");
}

static void keys_of_the_other_kind_are_errors(void **state)
{
    (void)state;
    expect_error_with("syncs:\n  p:\n    source: { url: p.csv, records: /x }\n"
                      "    target: { table: p, key: id }\n    fields: { id: {} }\n",
                      "'records' is for REST sources");
    expect_error_with(REST_SYNC("      delimiter: \";\"\n", "      id: {}\n"),
                      "'delimiter' is for CSV sources");
    expect_error_with(REST_SYNC("", "      id: { column: ID }\n"), "column: is for CSV sources");
    expect_error_with("syncs:\n  p:\n    source: { url: p.csv }\n"
                      "    target: { table: p, key: id }\n    fields: { id: { pointer: /id } }\n",
                      "pointer: and join: are for REST sources");
}

static void placeholders_must_name_a_variable(void **state)
{
    (void)state;
    ferry_config *cfg = parse_ok(REST_SYNC("      vars: { shard: au1 }\n"
                                           "      body: '{\"a\": {shard}}'\n"
                                           "      method: POST\n",
                                           "      id: {}\n"));
    assert_string_equal(cfg->syncs[0].source.vars[0].value, "au1");
    ferry_config_free(cfg);
    expect_error_with(REST_SYNC("      query: { q: \"{shrad}\" }\n", "      id: {}\n"),
                      "{shrad} names no variable");
}

static void bad_pointers_and_styles_are_errors(void **state)
{
    (void)state;
    expect_error_with(REST_SYNC("      records: patients\n", "      id: {}\n"),
                      "is not a JSON pointer");
    expect_error_with(REST_SYNC("", "      id: { pointer: /a/~2 }\n"), "is not a JSON pointer");
    expect_error_with(
        REST_SYNC("      pagination: { style: next_link, cursor: /c }\n", "      id: {}\n"),
        "'cursor' does not go with style next_link");
    expect_error_with(REST_SYNC("      pagination: { style: scroll }\n", "      id: {}\n"),
                      "unknown style 'scroll'");
    expect_error_with(REST_SYNC("      rate_limit: fast\n", "      id: {}\n"),
                      "expected a rate such as 200/min");
    expect_error_with("syncs:\n  p:\n    source: { kind: rest, url: data/p.json }\n"
                      "    target: { table: p, key: id }\n    fields: { id: {} }\n",
                      "needs an http:// or https:// URL");
}

static void tenant_adds_a_key_column(void **state)
{
    (void)state;
    ferry_config *cfg = parse_ok("syncs:\n"
                                 "  p:\n"
                                 "    tenant: { variable: org, column: org_id, values: [a, b-2] }\n"
                                 "    source: { url: \"exports/{org}.csv\" }\n"
                                 "    target: { table: p, key: id }\n"
                                 "    fields: { id: {}, name: {} }\n");
    const ferry_sync_spec *s = &cfg->syncs[0];

    assert_string_equal(s->tenant_variable, "org");
    assert_int_equal(s->nfields, 3);
    assert_int_equal(s->tenant_field, 2);
    assert_true(s->fields[2].is_tenant);
    assert_string_equal(s->fields[2].name, "org_id");
    assert_int_equal(s->target.nkey, 2);
    assert_string_equal(s->target.key[1], "org_id");
    assert_null(ferry_sync_tenant_problem(s, "a"));
    assert_non_null(ferry_sync_tenant_problem(s, "c"));
    assert_non_null(ferry_sync_tenant_problem(s, NULL));
    assert_non_null(ferry_sync_tenant_problem(&cfg->syncs[0], "a b"));
    ferry_config_free(cfg);
}

static void tenant_errors_are_named(void **state)
{
    (void)state;
    expect_error_with("syncs:\n  p:\n    tenant: { variable: org, column: id }\n"
                      "    source: { url: p.csv }\n    target: { table: p, key: id }\n"
                      "    fields: { id: {} }\n",
                      "column 'id' is also a field");
    expect_error_with("syncs:\n  p:\n    tenant: { variable: org, column: org_id }\n"
                      "    schedule: every 1h\n"
                      "    source: { url: p.csv }\n    target: { table: p, key: id }\n"
                      "    fields: { id: {} }\n",
                      "needs tenant.values");
    expect_error_with("syncs:\n  p:\n    tenant: { variable: org, column: org_id, values: [a/b] }\n"
                      "    source: { url: p.csv }\n    target: { table: p, key: id }\n"
                      "    fields: { id: {} }\n",
                      "letters, digits");
}

static void sync_without_tenants_refuses_one(void **state)
{
    (void)state;
    ferry_config *cfg = parse_ok(REST_SYNC("", "      id: {}\n"));

    assert_null(ferry_sync_tenant_problem(&cfg->syncs[0], NULL));
    assert_non_null(ferry_sync_tenant_problem(&cfg->syncs[0], "a"));
    ferry_config_free(cfg);
}

/* Every config in examples/ loads. */
static void examples_load(void **state)
{
    const char *dir = FERRY_EXAMPLES;
    struct dirent *e;
    int loaded = 0;
    DIR *d = opendir(dir);

    (void)state;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        ferry_config *cfg = NULL;
        ferry_err err;
        size_t n = strlen(e->d_name);

        if (n < 5 || strcmp(e->d_name + n - 5, ".yaml") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        ferry_err_clear(&err);
        if (ferry_config_load(path, &cfg, &err) != FERRY_OK)
            fail_msg("%s: %s", e->d_name, err.msg);
        ferry_config_free(cfg);
        loaded++;
    }
    closedir(d);
    assert_true(loaded >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rest_keys_are_read_with_defaults),
        cmocka_unit_test(every_pagination_style_gets_its_defaults),
        cmocka_unit_test(literal_secrets_are_refused),
        cmocka_unit_test(auth_keys_must_match_the_type),
        cmocka_unit_test(a_google_service_account_needs_its_key_and_no_type),
        cmocka_unit_test(oauth2_takes_a_client_and_one_grant),
        cmocka_unit_test(a_csv_url_takes_a_google_service_account_and_no_other_auth),
        cmocka_unit_test(keys_of_the_other_kind_are_errors),
        cmocka_unit_test(placeholders_must_name_a_variable),
        cmocka_unit_test(bad_pointers_and_styles_are_errors),
        cmocka_unit_test(tenant_adds_a_key_column),
        cmocka_unit_test(tenant_errors_are_named),
        cmocka_unit_test(sync_without_tenants_refuses_one),
        cmocka_unit_test(examples_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
