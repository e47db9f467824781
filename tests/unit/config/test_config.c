/* test_config.c - unit tests for the YAML configuration loader (src/config/config.c).
 *
 * Most tests parse YAML held in a string with ferry_config_parse() under the name
 * "ferry.yaml", so an error message can be compared whole, line number included. A few load
 * real files from a temporary directory to cover ferry_config_load(): path, dir, missing and
 * empty files. Each YAML snippet numbers its lines in comments where the test checks one. */
#include "config/config.h"
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#define DESIGN_YAML                                                                                \
    "database: sqlite:ferry.db          # or postgres://user@host/db\n"                            \
    "listen: 127.0.0.1:8080\n"                                                                     \
    "workers: 4\n"                                                                                 \
    "syncs:\n"                                                                                     \
    "  therapists:\n"                                                                              \
    "    title: Therapists\n"                                                                      \
    "    source:\n"                                                                                \
    "      kind: csv\n"                                                                            \
    "      url: https://docs.google.com/spreadsheets/d/SHEET_ID/export?format=csv&gid=123\n"       \
    "      timeout: 90s\n"                                                                         \
    "    target: { table: therapists, key: [employee_id], on_missing: keep }\n"                    \
    "    fields:\n"                                                                                \
    "      employee_id: { column: Employee ID, type: text, required: true }\n"                     \
    "      name:        { column: Name, required: true }\n"                                        \
    "      email:       { column: Email, type: email, required: true }\n"                          \
    "      phone:       { column: Phone }\n"                                                       \
    "      employment:  { column: Employment Type, type: enum, values: [Karyawan, "                \
    "Freelance] }\n"                                                                               \
    "    skip: { employment: { not_in: [Karyawan] } }\n"                                           \
    "    schedule: every 1h\n"

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
    ferry_rc rc;

    ferry_err_clear(&err);
    rc = ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err);
    if (rc != FERRY_OK)
        fail_msg("unexpected error: %s", err.msg);
    assert_non_null(cfg);
    return cfg;
}

/* Parses yaml, which must fail with FERRY_ECONFIG and exactly the message expected. */
static void expect_error(const char *yaml, const char *expected)
{
    ferry_config *cfg = (ferry_config *)1;
    ferry_err err;
    ferry_rc rc;

    ferry_err_clear(&err);
    rc = ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err);
    assert_null(cfg);
    assert_int_equal(rc, FERRY_ECONFIG);
    assert_int_equal(err.code, FERRY_ECONFIG);
    assert_string_equal(err.msg, expected);
}

/* Like expect_error() but only checks that the message starts with prefix. */
static void expect_error_prefix(const char *yaml, const char *prefix)
{
    ferry_config *cfg = (ferry_config *)1;
    ferry_err err;
    ferry_rc rc;

    ferry_err_clear(&err);
    rc = ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err);
    assert_null(cfg);
    assert_int_equal(rc, FERRY_ECONFIG);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("message '%s' does not start with '%s'", err.msg, prefix);
}

/* ---- the design example ---- */

static void design_sketch_loads_as_written(void **state)
{
    ferry_config *cfg = parse_ok(DESIGN_YAML);
    const ferry_sync_spec *s;
    const ferry_field_spec *f;

    (void)state;
    assert_string_equal(cfg->database, "sqlite:ferry.db");
    assert_string_equal(cfg->listen, "127.0.0.1:8080");
    assert_int_equal(cfg->workers, 4);
    assert_string_equal(cfg->path, "ferry.yaml");
    assert_string_equal(cfg->dir, ".");
    assert_int_equal(cfg->nsyncs, 1);

    s = &cfg->syncs[0];
    assert_string_equal(s->name, "therapists");
    assert_string_equal(s->title, "Therapists");
    assert_string_equal(s->noun, "therapists");
    assert_int_equal(s->line, 5);
    assert_int_equal(s->source.kind, FERRY_SOURCE_CSV);
    assert_string_equal(
        s->source.url, "https://docs.google.com/spreadsheets/d/SHEET_ID/export?format=csv&gid=123");
    assert_int_equal(s->source.timeout_ms, 90000);
    assert_int_equal(s->source.max_field_bytes, 1048576);
    assert_int_equal(s->source.delimiter, ',');
    assert_string_equal(s->target.table, "therapists");
    assert_int_equal(s->target.nkey, 1);
    assert_string_equal(s->target.key[0], "employee_id");
    assert_int_equal(s->target.on_missing, FERRY_ON_MISSING_KEEP);
    assert_false(s->allow_empty);
    assert_string_equal(s->schedule, "every 1h");
    assert_int_equal(s->schedule_every_s, 3600);

    assert_int_equal(s->nfields, 5);
    f = &s->fields[0];
    assert_string_equal(f->name, "employee_id");
    assert_string_equal(f->column, "Employee ID");
    assert_int_equal(f->type, FERRY_TYPE_TEXT);
    assert_true(f->required);
    assert_true(f->trim);
    assert_int_equal(f->nvalues, 0);
    assert_null(f->values);
    assert_int_equal(f->line, 13);
    f = &s->fields[1];
    assert_string_equal(f->name, "name");
    assert_string_equal(f->column, "Name");
    assert_int_equal(f->type, FERRY_TYPE_TEXT);
    assert_true(f->required);
    assert_int_equal(f->line, 14);
    f = &s->fields[2];
    assert_string_equal(f->name, "email");
    assert_string_equal(f->column, "Email");
    assert_int_equal(f->type, FERRY_TYPE_EMAIL);
    assert_true(f->required);
    assert_int_equal(f->line, 15);
    f = &s->fields[3];
    assert_string_equal(f->name, "phone");
    assert_string_equal(f->column, "Phone");
    assert_int_equal(f->type, FERRY_TYPE_TEXT);
    assert_false(f->required);
    assert_true(f->trim);
    assert_int_equal(f->line, 16);
    f = &s->fields[4];
    assert_string_equal(f->name, "employment");
    assert_string_equal(f->column, "Employment Type");
    assert_int_equal(f->type, FERRY_TYPE_ENUM);
    assert_false(f->required);
    assert_int_equal(f->nvalues, 2);
    assert_string_equal(f->values[0], "Karyawan");
    assert_string_equal(f->values[1], "Freelance");
    assert_int_equal(f->line, 17);

    assert_int_equal(s->nskips, 1);
    assert_int_equal(s->skips[0].field, 4);
    assert_int_equal(s->skips[0].kind, FERRY_SKIP_NOT_IN);
    assert_int_equal(s->skips[0].nvalues, 1);
    assert_string_equal(s->skips[0].values[0], "Karyawan");
    ferry_config_free(cfg);
}

static void design_sketch_loads_from_file_with_path_and_dir(void **state)
{
    char *dir = tu_tempdir();
    char *path;
    ferry_config *cfg = NULL;
    ferry_err err;

    (void)state;
    assert_non_null(dir);
    path = tu_write_file(dir, "ferry.yaml", DESIGN_YAML, strlen(DESIGN_YAML));
    assert_non_null(path);
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_load(path, &cfg, &err), FERRY_OK);
    assert_non_null(cfg);
    assert_string_equal(cfg->path, path);
    assert_string_equal(cfg->dir, dir);
    assert_int_equal(cfg->nsyncs, 1);
    assert_int_equal(cfg->syncs[0].nfields, 5);
    ferry_config_free(cfg);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void load_errors_name_the_path_as_given(void **state)
{
    char *dir = tu_tempdir();
    char *path, expected[600];
    ferry_config *cfg = NULL;
    ferry_err err;
    const char *yaml = "workers: 4\n"
                       "wrokers: 5\n";

    (void)state;
    path = tu_write_file(dir, "typo.yaml", yaml, strlen(yaml));
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_load(path, &cfg, &err), FERRY_ECONFIG);
    assert_null(cfg);
    snprintf(expected, sizeof(expected),
             "%s:2: wrokers: unknown key (expected one of: database, store_key_env, listen, "
             "workers, lease, "
             "shutdown_grace, "
             "session_idle, session_max, metrics_token, max_connections, "
             "max_connections_per_ip, idle_timeout, max_body, cors_origins, allow_private, "
             "allow_hosts, files_dir, data_dir, held_max_bytes, trusted_proxies, embed, auth, "
             "base_path, notify, public_url, "
             "notify_retry_base, smtp, timezone, log, tls, retention, "
             "syncs)",
             path);
    assert_string_equal(err.msg, expected);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void relative_path_gets_dot_or_its_directory(void **state)
{
    ferry_config *cfg = NULL;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_parse("", 0, "conf/ferry.yaml", "conf", &cfg, &err), FERRY_OK);
    assert_string_equal(cfg->path, "conf/ferry.yaml");
    assert_string_equal(cfg->dir, "conf");
    ferry_config_free(cfg);
}

static void missing_file_names_the_path(void **state)
{
    char *dir = tu_tempdir();
    char path[512];
    ferry_config *cfg = (ferry_config *)1;
    ferry_err err;

    (void)state;
    snprintf(path, sizeof(path), "%s/nope.yaml", dir);
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_load(path, &cfg, &err), FERRY_ENOTFOUND);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "No such file or directory"));
    tu_rmtree(dir);
    free(dir);
}

static void directory_instead_of_file_is_an_io_error(void **state)
{
    char *dir = tu_tempdir();
    ferry_config *cfg = (ferry_config *)1;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_load(dir, &cfg, &err), FERRY_EIO);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, dir));
    tu_rmtree(dir);
    free(dir);
}

static void empty_file_is_valid_with_defaults_and_no_syncs(void **state)
{
    char *dir = tu_tempdir();
    char *path = tu_write_file(dir, "empty.yaml", "", 0);
    ferry_config *cfg = NULL;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_load(path, &cfg, &err), FERRY_OK);
    assert_string_equal(cfg->database, "sqlite:ferry.db");
    assert_string_equal(cfg->listen, "127.0.0.1:8080");
    assert_int_equal(cfg->workers, 4);
    assert_int_equal(cfg->nsyncs, 0);
    assert_null(cfg->syncs);
    assert_null(ferry_config_sync_get(cfg, "therapists"));
    ferry_config_free(cfg);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void comment_only_or_bare_document_is_valid_with_defaults(void **state)
{
    static const char *const texts[] = {"# nothing yet\n", "---\n", "--- ~\n", "{}\n"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        ferry_config *cfg = parse_ok(texts[i]);

        assert_int_equal(cfg->nsyncs, 0);
        assert_int_equal(cfg->workers, 4);
        ferry_config_free(cfg);
    }
}

static void top_level_keys_are_read(void **state)
{
    ferry_config *cfg = parse_ok("database: postgres://ferry@db.example/ferry\n"
                                 "listen: 0.0.0.0:9000\n"
                                 "workers: 64\n"
                                 "syncs: {}\n");

    (void)state;
    assert_string_equal(cfg->database, "postgres://ferry@db.example/ferry");
    assert_string_equal(cfg->listen, "0.0.0.0:9000");
    assert_int_equal(cfg->workers, 64);
    assert_int_equal(cfg->nsyncs, 0);
    ferry_config_free(cfg);

    cfg = parse_ok("database: postgresql://localhost/x\nlisten: '[::1]:1'\nworkers: 1\n");
    assert_string_equal(cfg->database, "postgresql://localhost/x");
    assert_string_equal(cfg->listen, "[::1]:1");
    assert_int_equal(cfg->workers, 1);
    ferry_config_free(cfg);
}

/* allow_private, allow_hosts and files_dir of the top level reach every source, whichever
 * order the keys come in; a source's own allow_hosts come first. */
static void outbound_keys_merge_into_every_source(void **state)
{
    ferry_config *cfg = parse_ok("syncs:\n"
                                 "  a:\n"
                                 "    source: { url: a.csv, allow_hosts: [10.0.0.5], "
                                 "max_bytes: 2GiB }\n"
                                 "    target: { table: a, key: id }\n"
                                 "    fields: { id: {} }\n"
                                 "  b:\n"
                                 "    source: { url: 'https://x.example/b.csv' }\n"
                                 "    target: { table: b, key: id }\n"
                                 "    fields: { id: {} }\n"
                                 "allow_hosts: [API.Internal, '[fd00::1]']\n"
                                 "allow_private: true\n");
    const ferry_source_spec *a = &cfg->syncs[0].source, *b = &cfg->syncs[1].source;

    (void)state;
    assert_true(cfg->allow_private);
    assert_int_equal(cfg->nallow_hosts, 2);
    assert_true(a->allow_private);
    assert_true(b->allow_private);
    assert_int_equal(a->nallow_hosts, 3);
    assert_string_equal(a->allow_hosts[0], "10.0.0.5");
    assert_string_equal(a->allow_hosts[1], "api.internal");
    assert_string_equal(a->allow_hosts[2], "[fd00::1]");
    assert_int_equal(b->nallow_hosts, 2);
    assert_string_equal(a->files_dir, ".");
    assert_int_equal(a->max_bytes, 2ULL * 1024 * 1024 * 1024);
    assert_int_equal(b->max_bytes, 1024ULL * 1024 * 1024);
    ferry_config_free(cfg);

    cfg = parse_ok(MINI_SYNC);
    assert_false(cfg->syncs[0].source.allow_private);
    assert_int_equal(cfg->syncs[0].source.nallow_hosts, 0);
    assert_null(cfg->syncs[0].source.allow_hosts);
    ferry_config_free(cfg);

    cfg = parse_ok("files_dir: /\n" MINI_SYNC);
    assert_string_equal(cfg->files_dir, "/");
    assert_string_equal(cfg->syncs[0].source.files_dir, "/");
    ferry_config_free(cfg);
}

static void outbound_keys_are_validated(void **state)
{
    (void)state;
    expect_error("allow_hosts: ['http://a.example']\n",
                 "ferry.yaml:1: allow_hosts: 'http://a.example' is not a host: allow_hosts "
                 "lists host names or addresses (such as api.internal or 10.0.0.5), without "
                 "scheme, port or path");
    expect_error("allow_hosts: [a.example:8080]\n",
                 "ferry.yaml:1: allow_hosts: 'a.example:8080' is not a host: allow_hosts "
                 "lists host names or addresses (such as api.internal or 10.0.0.5), without "
                 "scheme, port or path");
    expect_error("allow_private: maybe\n",
                 "ferry.yaml:1: allow_private: expected a boolean (true or false), not 'maybe'");
    expect_error("files_dir: /nonexistent-ferry-dir\n",
                 "ferry.yaml:1: files_dir: '/nonexistent-ferry-dir' is not a directory");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: a.csv, max_bytes: lots }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:3: syncs.people.source.max_bytes: expected a size such as "
                 "1048576, 512KiB or 1MiB, not 'lots'");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: a.csv, max_bytes: 2TiB }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:3: syncs.people.source.max_bytes: '2TiB' is out of range (1 byte "
                 "to 1TiB)");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { kind: rest, url: 'https://a.example/x', max_bytes: 1MiB }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:3: syncs.people.source: 'max_bytes' is for CSV sources");
}

/* ---- error messages ---- */

static void unknown_type_names_file_line_and_key(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  therapists:\n"
                 "    source: { url: t.csv }\n"
                 "    target: { table: therapists, key: id }\n"
                 "    fields:\n"
                 "      id: {}\n"
                 "      email:\n"
                 "        column: Email\n"
                 "        type: mail\n",
                 "ferry.yaml:9: syncs.therapists.fields.email.type: unknown type 'mail'");
}

static void unknown_top_level_key_lists_the_known_ones(void **state)
{
    (void)state;
    expect_error(
        "database: sqlite:x.db\n"
        "listen: 127.0.0.1:8080\n"
        "wokers: 4\n",
        "ferry.yaml:3: wokers: unknown key (expected one of: database, store_key_env, listen, "
        "workers, "
        "lease, "
        "shutdown_grace, "
        "session_idle, session_max, metrics_token, max_connections, "
        "max_connections_per_ip, idle_timeout, max_body, cors_origins, allow_private, allow_hosts, "
        "files_dir, data_dir, held_max_bytes, trusted_proxies, embed, auth, base_path, notify, "
        "public_url, "
        "notify_retry_base, smtp, timezone, log, tls, retention, syncs)");
}

static void unknown_key_in_flow_mapping_names_its_line(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  therapists:\n"
                 "    source: { url: t.csv }\n"
                 "    fields: { id: {} }\n"
                 "    target:\n"
                 "      table: therapists\n"
                 "      tabel: therapists\n",
                 "ferry.yaml:7: syncs.therapists.target.tabel: unknown key (expected one of: "
                 "table, database, key, on_missing, timestamps, flag, scope)");
    expect_error(
        MINI_SYNC "    sourcce: { url: x }\n",
        "ferry.yaml:6: syncs.people.sourcce: unknown key (expected one of: noun, label, "
        "source, target, fields, skip, title, steps, schedule, timezone, allow_empty, timeout, "
        "cooldown, retries, tenant, tenants, guard, notify)");
    expect_error(MINI_SYNC "    skip: { id: { empty: true, emtpy: true } }\n",
                 "ferry.yaml:6: syncs.people.skip.id.emtpy: unknown key (expected one of: in, "
                 "not_in, empty, label)");
}

static void tenants_query_is_read_and_checked(void **state)
{
    ferry_config *cfg;
    const ferry_sync_spec *s;

    (void)state;
    cfg = parse_ok(MINI_SYNC "    tenant: { variable: org, column: org_id }\n"
                             "    schedule: every 1h\n"
                             "    tenants: { query: \"SELECT slug FROM orgs\", database: "
                             "\"sqlite:app.db\" }\n");
    s = ferry_config_sync_get(cfg, "people");
    assert_string_equal(s->tenants.query, "SELECT slug FROM orgs");
    assert_string_equal(s->tenants.database, "sqlite:app.db");
    assert_null(s->tenant_values);
    ferry_config_free(cfg);
    cfg = parse_ok(MINI_SYNC "    tenant: { variable: org, column: org_id }\n"
                             "    tenants: { query: \" with o as (select 1) select * from o\" }\n");
    assert_null(ferry_config_sync_get(cfg, "people")->tenants.database);
    ferry_config_free(cfg);
    expect_error(MINI_SYNC "    tenants: { query: \"SELECT slug FROM orgs\" }\n",
                 "ferry.yaml:6: syncs.people: tenants: needs tenant: { variable, column } beside "
                 "it (the query names the tenants, tenant: says where they go)");
    expect_error(MINI_SYNC "    tenant: { variable: org, column: org_id, values: [a] }\n"
                           "    tenants: { query: \"SELECT slug FROM orgs\" }\n",
                 "ferry.yaml:7: syncs.people: tenants: and tenant.values both name the tenants: "
                 "keep one");
    expect_error(MINI_SYNC "    tenant: { variable: org, column: org_id }\n"
                           "    tenants: { query: \"DELETE FROM orgs\" }\n",
                 "ferry.yaml:7: syncs.people.tenants.query: expected one SELECT statement whose "
                 "first column names the tenants, such as \"SELECT slug FROM organisations WHERE "
                 "sync_enabled\"");
    expect_error(MINI_SYNC "    tenant: { variable: org, column: org_id }\n"
                           "    tenants: { query: \"SELECT 1\", database: \"mysql://x\" }\n",
                 "ferry.yaml:7: syncs.people.tenants.database: expected sqlite:PATH or a "
                 "postgres:// or postgresql:// URL");
    expect_error(MINI_SYNC "    tenant: { variable: org, column: org_id }\n"
                           "    schedule: every 1h\n",
                 "ferry.yaml:2: syncs.people: a scheduled sync with tenants needs tenant.values "
                 "or tenants.query: the tenants each scheduled time runs");
}

/* A sync whose target's keys go on, one a line, from line 7. */
#define FLAG_SYNC                                                                                  \
    "syncs:\n"                                                                                     \
    "  people:\n"                                                                                  \
    "    source: { url: people.csv }\n"                                                            \
    "    target:\n"                                                                                \
    "      table: people\n"                                                                        \
    "      key: id\n"

static void flag_names_the_apps_column(void **state)
{
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok("syncs:\n"
                   "  people:\n"
                   "    source: { url: people.csv }\n"
                   "    target: { table: people, key: id, on_missing: flag,\n"
                   "              flag: { column: active, value: false } }\n"
                   "    fields: { id: {} }\n");
    assert_string_equal(cfg->syncs[0].target.flag_column, "active");
    assert_true(cfg->syncs[0].target.flag_bool);
    assert_false(cfg->syncs[0].target.flag_value);
    ferry_config_free(cfg);
    cfg = parse_ok("syncs:\n"
                   "  people:\n"
                   "    source: { url: people.csv }\n"
                   "    target: { table: people, key: id, on_missing: flag,\n"
                   "              flag: { column: deleted_at } }\n"
                   "    fields: { id: {} }\n");
    assert_string_equal(cfg->syncs[0].target.flag_column, "deleted_at");
    assert_false(cfg->syncs[0].target.flag_bool);
    ferry_config_free(cfg);
    expect_error(FLAG_SYNC "      flag: { column: deleted_at }\n"
                           "    fields: { id: {} }\n",
                 "ferry.yaml:7: syncs.people.target.flag: flag needs on_missing: flag (it names "
                 "the column that marks the rows the source no longer has)");
    expect_error(FLAG_SYNC "      on_missing: flag\n"
                           "      flag: { column: id }\n"
                           "    fields: { id: {} }\n",
                 "ferry.yaml:8: syncs.people.target.flag: column 'id' is already written by a "
                 "field or target.timestamps: name another column for flag");
}

static void scope_adds_constant_key_columns(void **state)
{
    const ferry_sync_spec *s;
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok(FLAG_SYNC "      scope: { source_system: jira, kind: 3 }\n"
                             "    fields: { id: {}, name: {} }\n");
    s = &cfg->syncs[0];
    assert_int_equal(s->nfields, 4);
    assert_int_equal(s->target.nscope, 2);
    assert_int_equal(s->target.nkey, 3);
    assert_string_equal(s->target.key[0], "id");
    assert_string_equal(s->target.key[1], "source_system");
    assert_string_equal(s->target.key[2], "kind");
    assert_string_equal(s->fields[2].name, "source_system");
    assert_string_equal(s->fields[2].scope_value, "jira");
    assert_true(s->fields[2].filled && s->fields[2].required && !s->fields[2].is_tenant);
    assert_string_equal(s->fields[3].scope_value, "3");
    assert_null(s->fields[0].scope_value);
    assert_false(s->fields[0].filled);
    /* A record's key text leaves the scope out: "E001", as without a scope. */
    assert_int_equal(ferry_sync_key_shown(s), 1);
    ferry_buf key;
    ferry_buf_init(&key, 64);
    for (size_t k = 0; k < s->target.nkey; k++)
        assert_true(ferry_sync_key_append(s, k, k == 0 ? "E001" : "x", k == 0 ? 4 : 1, &key));
    assert_string_equal(ferry_buf_str(&key), "E001");
    ferry_buf_done(&key);
    ferry_config_free(cfg);

    expect_error(FLAG_SYNC "      scope: jira\n"
                           "    fields: { id: {} }\n",
                 "ferry.yaml:7: syncs.people.target.scope: expected a mapping of columns to "
                 "values such as {source_system: jira}");
    expect_error(FLAG_SYNC "      scope: {}\n"
                           "    fields: { id: {} }\n",
                 "ferry.yaml:7: syncs.people.target.scope: a scope names at least one column "
                 "and its value, such as {source_system: jira}");
    expect_error(FLAG_SYNC "      scope: { source_system: '' }\n"
                           "    fields: { id: {} }\n",
                 "ferry.yaml:7: syncs.people.target.scope.source_system: a scope value cannot "
                 "be empty");
    expect_error(FLAG_SYNC "      scope: { source_system: [a, b] }\n"
                           "    fields: { id: {} }\n",
                 "ferry.yaml:7: syncs.people.target.scope.source_system: expected the value "
                 "every row of this sync holds");
    expect_error(FLAG_SYNC "      scope: { id: jira }\n"
                           "    fields: { id: {} }\n",
                 "ferry.yaml:7: syncs.people.target.scope.id: column 'id' is also a field: a "
                 "scope column is filled by Ferry with the scope's value");
    expect_error(FLAG_SYNC "      timestamps: true\n"
                           "      scope: { updated_at: jira }\n"
                           "    fields: { id: {} }\n",
                 "ferry.yaml:8: syncs.people.target.scope.updated_at: column 'updated_at' is "
                 "already written by target.timestamps or target.flag: name another column for "
                 "the scope");
    expect_error(FLAG_SYNC "      scope: { \"bad name\": jira }\n"
                           "    fields: { id: {} }\n",
                 "ferry.yaml:7: syncs.people.target.scope.bad name: invalid column name 'bad "
                 "name' (use letters, digits and '_', not starting with a digit, at most 63 "
                 "characters)");
}

/* Two syncs a and b (b from line 7) on tables ta and tb with on_missing ma and mb and target
 * keys xa and xb added after them. */
static void expect_pair(const char *ta, const char *ma, const char *xa, const char *tb,
                        const char *mb, const char *xb, const char *error)
{
    char yaml[2048];

    snprintf(yaml, sizeof(yaml),
             "syncs:\n"
             "  a:\n"
             "    source: { url: a.csv }\n"
             "    target: { table: %s, key: id, on_missing: %s%s }\n"
             "    fields: { id: {} }\n"
             "\n"
             "  b:\n"
             "    source: { url: b.csv }\n"
             "    target: { table: %s, key: id, on_missing: %s%s }\n"
             "    fields: { id: {} }\n",
             ta, ma, xa, tb, mb, xb);
    if (error != NULL) {
        expect_error(yaml, error);
    } else {
        ferry_config *cfg = parse_ok(yaml);
        ferry_config_free(cfg);
    }
}

static void two_syncs_on_one_table_need_scopes_that_keep_them_apart(void **state)
{
    static const char both_delete[] =
        "ferry.yaml:7: syncs.b.target: syncs 'a' and 'b' both write table t, and 'a' deletes "
        "the rows its source no longer has (on_missing: delete), so each run would take the "
        "other's rows for missing ones: give both a target.scope with a column whose values "
        "differ, such as scope: {source_system: a} and scope: {source_system: b}";

    (void)state;
    expect_pair("t", "delete", "", "t", "delete", "", both_delete);
    expect_pair("t", "delete", "", "T", "keep", "", both_delete); /* names ignore case */
    expect_pair("t", "keep", "", "t", "flag", "",
                "ferry.yaml:7: syncs.b.target: syncs 'a' and 'b' both write table t, and 'b' "
                "flags the rows its source no longer has (on_missing: flag), so each run would "
                "take the other's rows for missing ones: give both a target.scope with a column "
                "whose values differ, such as scope: {source_system: a} and scope: "
                "{source_system: b}");
    /* Only one scoped, the same value, or different columns: not apart. */
    expect_pair("t", "delete", ", scope: {s: a}", "t", "delete", "", both_delete);
    expect_pair("t", "delete", ", scope: {s: a}", "t", "delete", ", scope: {s: a}", both_delete);
    expect_pair("t", "delete", ", scope: {s: a}", "t", "delete", ", scope: {u: b}", both_delete);
    /* Apart: a shared scope column with different values (other columns may be anything). */
    expect_pair("t", "delete", ", scope: {s: a}", "t", "delete", ", scope: {s: b}", NULL);
    expect_pair("t", "delete", ", scope: {s: a, u: x}", "t", "flag", ", scope: {u: y}", NULL);
    /* Neither removes rows; other tables; the same name in another database. */
    expect_pair("t", "keep", "", "t", "keep", "", NULL);
    expect_pair("t", "delete", "", "u", "delete", "", NULL);
    expect_pair("t", "delete", "", "t", "delete", ", database: 'sqlite:other.db'", NULL);
}

static void unknown_keys_in_source_and_field_are_errors(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source:\n"
                 "      url: people.csv\n"
                 "      timout: 5s\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:5: syncs.people.source.timout: unknown key (expected one of: kind, "
                 "url, timeout, max_field_bytes, delimiter, vars, method, headers, query, body, "
                 "auth, records, pagination, rate_limit, stall_timeout, max_page_bytes, retries, "
                 "retry_backoff, max_wait, incremental, allow_private, allow_hosts, max_bytes)");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields:\n"
                 "      id: { requird: true }\n",
                 "ferry.yaml:6: syncs.people.fields.id.requird: unknown key (expected one of: "
                 "column, type, required, trim, values, pointer, join, lookup, value, template, "
                 "default, map, otherwise, case, format)");
}

/* A sync of people.csv whose field on line 7 is field (the key id is on line 6). */
#define FIELD_AT_LINE_7(field)                                                                     \
    "syncs:\n"                                                                                     \
    "  people:\n"                                                                                  \
    "    source: { url: people.csv }\n"                                                            \
    "    target: { table: people, key: id }\n"                                                     \
    "    fields:\n"                                                                                \
    "      id: {}\n"                                                                               \
    "      " field "\n"

static void transform_keys_load_into_the_field(void **state)
{
    ferry_config *cfg;
    const ferry_field_spec *f;

    (void)state;
    cfg = parse_ok(FIELD_AT_LINE_7(
        "t: { column: Type, default: Full Time, map: { Part Time: Freelance, Full Time: "
        "Karyawan }, otherwise: fail, case: upper }\n"
        "      name: { template: '{First} {{x}} {Last}' }\n"
        "      country: { value: ID }\n"
        "      hired: { type: date, format: '%d/%m/%Y' }\n"
        "      price: { type: decimal, format: '1.234,50' }"));
    f = &cfg->syncs[0].fields[1];
    assert_string_equal(f->tf.def, "Full Time");
    assert_int_equal(f->tf.nmap, 2);
    assert_string_equal(f->tf.map[0].name, "Full Time"); /* sorted */
    assert_string_equal(f->tf.map[0].value, "Karyawan");
    assert_int_equal(f->tf.otherwise, FERRY_OTHERWISE_FAIL);
    assert_int_equal(f->tf.letter_case, FERRY_CASE_UPPER);
    assert_false(f->filled);
    f = &cfg->syncs[0].fields[2];
    assert_true(f->filled);
    assert_int_equal(f->tf.nparts, 3);
    assert_true(f->tf.parts[0].ref);
    assert_string_equal(f->tf.parts[1].text, " {x} ");
    assert_false(f->tf.parts[1].ref);
    assert_int_equal(f->tf.parts[2].input, cfg->syncs[0].nfields + 1);
    assert_int_equal(cfg->syncs[0].ninputs, 2);
    assert_string_equal(cfg->syncs[0].inputs[0].column, "First");
    assert_true(cfg->syncs[0].fields[3].filled);
    assert_string_equal(cfg->syncs[0].fields[3].tf.value, "ID");
    assert_int_equal(cfg->syncs[0].fields[5].tf.number.group, '.');
    assert_int_equal(cfg->syncs[0].fields[5].tf.number.decimal, ',');
    /* otherwise: VALUE */
    ferry_config_free(cfg);
    cfg = parse_ok(FIELD_AT_LINE_7("t: { map: { a: b }, otherwise: unknown }"));
    assert_int_equal(cfg->syncs[0].fields[1].tf.otherwise, FERRY_OTHERWISE_VALUE);
    assert_string_equal(cfg->syncs[0].fields[1].tf.otherwise_value, "unknown");
    ferry_config_free(cfg);
}

static void transform_keys_that_do_not_go_together_are_refused(void **state)
{
    (void)state;
    expect_error(FIELD_AT_LINE_7("name: { value: x, column: Name }"),
                 "ferry.yaml:7: syncs.people.fields.name.column: a field with value: reads no "
                 "column of its own: remove column:");
    expect_error(FIELD_AT_LINE_7("name: { template: '{A}', column: Name }"),
                 "ferry.yaml:7: syncs.people.fields.name.column: a field with template: reads no "
                 "column of its own: remove column:");
    expect_error(FIELD_AT_LINE_7("name: { value: x, template: '{A}' }"),
                 "ferry.yaml:7: syncs.people.fields.name.template: value: and template: both "
                 "give the field's value: keep one");
    expect_error(FIELD_AT_LINE_7("name: { value: x, default: y }"),
                 "ferry.yaml:7: syncs.people.fields.name.default: default: never applies to a "
                 "field with value: (its value is never empty)");
    expect_error(FIELD_AT_LINE_7("name: { otherwise: fail }"),
                 "ferry.yaml:7: syncs.people.fields.name.otherwise: otherwise: says what a value "
                 "the map does not have becomes, and this field has no map:");
    expect_error(FIELD_AT_LINE_7("name: { value: '' }"),
                 "ferry.yaml:7: syncs.people.fields.name.value: must not be empty");
    expect_error(FIELD_AT_LINE_7("name: { case: camel }"),
                 "ferry.yaml:7: syncs.people.fields.name.case: unknown case 'camel' (expected "
                 "lower, upper or title)");
    /* A REST field's pointer: */
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { kind: rest, url: 'https://api.example.com/people' }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields:\n"
                 "      id: {}\n"
                 "      name: { template: '{first}', pointer: /name }\n",
                 "ferry.yaml:7: syncs.people.fields.name.pointer: a field with template: reads "
                 "no pointer of its own (a template names its values: {name} or {/a/b})");
}

static void templates_that_cannot_be_read_are_refused(void **state)
{
    (void)state;
    expect_error(FIELD_AT_LINE_7("name: { template: '{First Name' }"),
                 "ferry.yaml:7: syncs.people.fields.name.template: the '{' at character 1 is not "
                 "closed (write {{ for a brace)");
    expect_error(FIELD_AT_LINE_7("name: { template: 'a {b {c}' }"),
                 "ferry.yaml:7: syncs.people.fields.name.template: the '{' at character 3 is not "
                 "closed (write {{ for a brace)");
    expect_error(FIELD_AT_LINE_7("name: { template: 'x {}' }"),
                 "ferry.yaml:7: syncs.people.fields.name.template: '{}' at character 3 names no "
                 "column: write {Column Name}");
    expect_error(FIELD_AT_LINE_7("name: { template: '{a} b}' }"),
                 "ferry.yaml:7: syncs.people.fields.name.template: a '}' without its '{' at "
                 "character 6 (write }} for a brace)");
    expect_error(FIELD_AT_LINE_7("name: { template: 'just {{text}}' }"),
                 "ferry.yaml:7: syncs.people.fields.name.template: the template names no column "
                 "({Column Name}): for a constant, write value:");
    /* A REST template reads JSON pointers: {name} is /name, {/a/b} is itself. */
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { kind: rest, url: 'https://api.example.com/people' }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields:\n"
                 "      id: {}\n"
                 "      name: { template: '{first} {/a/~2}' }\n",
                 "ferry.yaml:7: syncs.people.fields.name.template: '/a/~2' is not a JSON "
                 "pointer: JSON path '/a/~2' has a bad escape '~2'");
}

static void rest_templates_read_pointers(void **state)
{
    ferry_config *cfg;
    const ferry_sync_spec *sync;

    (void)state;
    cfg = parse_ok("syncs:\n"
                   "  people:\n"
                   "    source: { kind: rest, url: 'https://api.example.com/people' }\n"
                   "    target: { table: people, key: id }\n"
                   "    fields:\n"
                   "      id: {}\n"
                   "      name: { template: '{first} {/name/last} ({id})' }\n");
    sync = &cfg->syncs[0];
    assert_int_equal(sync->ninputs, 2);
    assert_string_equal(sync->inputs[0].pointer, "/first");
    assert_null(sync->inputs[0].column);
    assert_string_equal(sync->inputs[1].pointer, "/name/last");
    assert_int_equal(sync->fields[1].tf.parts[4].input, 0); /* the id field's own value */
    assert_null(ferry_sync_input_pointer(sync, 1));
    ferry_config_free(cfg);
}

static void incremental_rest_source_reads_its_keys_and_checks_where_since_goes(void **state)
{
    ferry_config *cfg;
    const ferry_incremental_spec *inc;

    (void)state;
    cfg = parse_ok("syncs:\n"
                   "  tickets:\n"
                   "    source:\n"
                   "      kind: rest\n"
                   "      url: 'https://api.example.com/tickets'\n"
                   "      incremental: { cursor: /meta/updated, param: updated_since, overlap: 5m,"
                   " full_every: 7d, format: epoch }\n"
                   "    target: { table: tickets, key: id }\n"
                   "    fields: { id: {} }\n");
    inc = &cfg->syncs[0].source.incremental;
    assert_string_equal(inc->cursor, "/meta/updated");
    assert_string_equal(inc->param, "updated_since");
    assert_int_equal(inc->overlap_ms, 5 * 60 * 1000);
    assert_int_equal(inc->full_every_ms, 7L * 86400 * 1000);
    assert_int_equal(inc->format, FERRY_SINCE_EPOCH);
    assert_int_equal(inc->line, 6);
    ferry_config_free(cfg);
    /* {since} in a query value instead of param. */
    cfg = parse_ok("syncs:\n"
                   "  tickets:\n"
                   "    source:\n"
                   "      kind: rest\n"
                   "      url: 'https://api.example.com/tickets'\n"
                   "      query: { q: 'updated >= \"{since}\"' }\n"
                   "      incremental: { cursor: /updated_at }\n"
                   "    target: { table: tickets, key: id }\n"
                   "    fields: { id: {} }\n");
    assert_null(cfg->syncs[0].source.incremental.param);
    assert_int_equal(cfg->syncs[0].source.incremental.format, FERRY_SINCE_ISO);
    assert_int_equal(cfg->syncs[0].source.incremental.overlap_ms, 0);
    ferry_config_free(cfg);
    expect_error("syncs:\n"
                 "  tickets:\n"
                 "    source:\n"
                 "      kind: rest\n"
                 "      url: 'https://api.example.com/tickets'\n"
                 "      incremental: { cursor: /updated_at }\n"
                 "    target: { table: tickets, key: id }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:6: syncs.tickets.source.incremental: needs param: (the query "
                 "parameter the since value goes in, such as updated_since) or {since} in the "
                 "url or a query value");
    expect_error_prefix("syncs:\n"
                        "  tickets:\n"
                        "    source:\n"
                        "      kind: rest\n"
                        "      url: 'https://api.example.com/tickets'\n"
                        "      incremental: { cursor: /updated_at, param: x, overlap: soon }\n"
                        "    target: { table: tickets, key: id }\n"
                        "    fields: { id: {} }\n",
                        "ferry.yaml:6: syncs.tickets.source.incremental.overlap: ");
    expect_error("syncs:\n"
                 "  tickets:\n"
                 "    source: { url: t.csv, incremental: { cursor: /u, param: x } }\n"
                 "    target: { table: tickets, key: id }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:3: syncs.tickets.source: 'incremental' is for REST sources (kind: "
                 "rest)");
}

static void maps_with_repeated_or_empty_keys_are_refused(void **state)
{
    (void)state;
    /* The YAML reader refuses a key given twice, also as two spellings of one text. */
    expect_error(FIELD_AT_LINE_7("t: { map: { a: x, a: y } }"),
                 "ferry.yaml:7: YAML syntax error: duplicate key (column 25)");
    expect_error(FIELD_AT_LINE_7("t: { map: { '1': x, 1: y } }"),
                 "ferry.yaml:7: YAML syntax error: duplicate key (column 27)");
    expect_error(FIELD_AT_LINE_7("t: { map: { '': x } }"),
                 "ferry.yaml:7: syncs.people.fields.t.map.: an empty key: an empty cell takes the "
                 "field's default: instead");
    expect_error(FIELD_AT_LINE_7("t: { map: { a: } }"),
                 "ferry.yaml:7: syncs.people.fields.t.map.a: expected a value (\"\" for an empty "
                 "one)");
    expect_error(FIELD_AT_LINE_7("t: { map: {} }"),
                 "ferry.yaml:7: syncs.people.fields.t.map: a map has at least one entry: source "
                 "value: value");
    expect_error(FIELD_AT_LINE_7("t: { map: [a, b] }"),
                 "ferry.yaml:7: syncs.people.fields.t.map: expected a mapping");
}

static void formats_that_cannot_be_read_are_refused(void **state)
{
    (void)state;
    expect_error(FIELD_AT_LINE_7("name: { format: '%d/%m/%Y' }"),
                 "ferry.yaml:7: syncs.people.fields.name.format: format: is for date, datetime, "
                 "decimal and integer fields (this field is text)");
    expect_error(FIELD_AT_LINE_7("d: { format: '%d/%m/%Q', type: date }"),
                 "ferry.yaml:7: syncs.people.fields.d.format: unknown directive %Q (known: %d %e "
                 "%m %b %B %Y %y %H %I %p %M %S %f %z %%)");
    expect_error(FIELD_AT_LINE_7("d: { type: datetime, format: '%H:%M' }"),
                 "ferry.yaml:7: syncs.people.fields.d.format: a date format needs a day (%d), a "
                 "month (%m or %b) and a year (%Y or %y)");
    expect_error(FIELD_AT_LINE_7("p: { type: decimal, format: '1.234' }"),
                 "ferry.yaml:7: syncs.people.fields.p.format: '1.234' is ambiguous: '.' may group "
                 "thousands or mark decimals; write a sample number such as 1.234,50 ('.' groups "
                 "thousands, ',' marks decimals) or 1,234.50");
    expect_error(FIELD_AT_LINE_7("p: { type: decimal, format: 'Rp 1.234' }"),
                 "ferry.yaml:7: syncs.people.fields.p.format: 'Rp 1.234' is not a number "
                 "notation: write a sample number such as 1.234,50 ('.' groups thousands, ',' "
                 "marks decimals) or 1,234.50");
    expect_error(FIELD_AT_LINE_7("p: { type: decimal, format: '1 234' }"),
                 "ferry.yaml:7: syncs.people.fields.p.format: '1 234' shows no decimal mark: add "
                 "the decimal part, such as 1 234,50");
    /* An integer has no decimals: a lone group of three groups thousands. */
    ferry_config_free(parse_ok(FIELD_AT_LINE_7("n: { type: integer, format: '1.234' }")));
}

static void two_template_fields_may_read_one_column(void **state)
{
    ferry_config *cfg;

    (void)state;
    /* Fields with value: or template: read no column of their own, so no column is "already
     * mapped" by them, and two templates share the one input they both name. */
    cfg = parse_ok(FIELD_AT_LINE_7("a: { template: '{Name}!' }\n"
                                   "      b: { template: '{Name}?' }\n"
                                   "      c: { value: x }\n"
                                   "      d: { value: y }\n"
                                   "      e: { column: c }"));
    assert_int_equal(cfg->syncs[0].ninputs, 1);
    assert_int_equal(cfg->syncs[0].fields[1].tf.parts[0].input,
                     cfg->syncs[0].fields[2].tf.parts[0].input);
    ferry_config_free(cfg);
}

static void missing_url_is_reported_at_the_source_mapping(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  therapists:\n"
                 "    target: { table: therapists, key: id }\n"
                 "    fields: { id: {} }\n"
                 "    source: { kind: csv, timeout: 10s }\n",
                 "ferry.yaml:5: syncs.therapists.source: missing required key 'url'");
    /* A block mapping starts at its first entry. */
    expect_error("syncs:\n"
                 "  therapists:\n"
                 "    source:\n"
                 "      kind: csv\n"
                 "    target: { table: therapists, key: id }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:4: syncs.therapists.source: missing required key 'url'");
    /* An empty mapping has no line of its own: its key's is used. */
    expect_error("syncs:\n"
                 "  therapists:\n"
                 "    target: { table: therapists, key: id }\n"
                 "    source: {}\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:4: syncs.therapists.source: missing required key 'url'");
}

static void missing_sections_of_a_sync_are_errors(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  people:\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:3: syncs.people: missing required key 'source'");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:3: syncs.people: missing required key 'target'");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n",
                 "ferry.yaml:3: syncs.people: missing required key 'fields'");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { key: id }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:4: syncs.people.target: missing required key 'table'");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:4: syncs.people.target: missing required key 'key'");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: {}\n",
                 "ferry.yaml:5: syncs.people.fields: define at least one field");
}

static void wrong_node_kinds_are_errors(void **state)
{
    (void)state;
    expect_error("- a\n- b\n", "ferry.yaml:1: expected a mapping");
    expect_error("syncs: [a, b]\n", "ferry.yaml:1: syncs: expected a mapping");
    expect_error("syncs:\n", "ferry.yaml:1: syncs: expected a mapping");
    expect_error("syncs:\n  people: just text\n", "ferry.yaml:2: syncs.people: expected a mapping");
    expect_error("workers: [4]\n", "ferry.yaml:1: workers: expected a scalar");
    expect_error("database: { sqlite: x }\n", "ferry.yaml:1: database: expected a scalar");
    expect_error(MINI_SYNC "    title:\n", "ferry.yaml:6: syncs.people.title: missing value");
    expect_error(MINI_SYNC "    title: ''\n",
                 "ferry.yaml:6: syncs.people.title: must not be empty");
    expect_error(MINI_SYNC "    skip: { id: { in: x } }\n",
                 "ferry.yaml:6: syncs.people.skip.id.in: expected a list");
    expect_error(MINI_SYNC "    skip: { id: { in: [a, [b]] } }\n",
                 "ferry.yaml:6: syncs.people.skip.id.in[1]: expected a scalar");
    expect_error(MINI_SYNC "    skip: [id]\n",
                 "ferry.yaml:6: syncs.people.skip: expected a mapping");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: { id: 1 } }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:4: syncs.people.target.key: expected a list");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: text }\n",
                 "ferry.yaml:5: syncs.people.fields.id: expected a mapping");
    expect_error("syncs:\n"
                 "  ? [a]\n"
                 "  : {}\n",
                 "ferry.yaml:2: syncs: expected a scalar key");
}

static void key_naming_an_unknown_field_is_an_error(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target:\n"
                 "      table: people\n"
                 "      key:\n"
                 "        - id\n"
                 "        - emial\n"
                 "    fields: { id: {}, email: {} }\n",
                 "ferry.yaml:8: syncs.people.target.key[1]: no field named 'emial'");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: ID }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:4: syncs.people.target.key: no field named 'ID'");
}

static void key_may_be_a_scalar_or_list_and_its_fields_become_required(void **state)
{
    ferry_config *cfg = parse_ok(MINI_SYNC);
    const ferry_sync_spec *s = &cfg->syncs[0];

    (void)state;
    assert_int_equal(s->target.nkey, 1);
    assert_string_equal(s->target.key[0], "id");
    assert_true(s->fields[0].required);
    assert_false(s->fields[1].required);
    ferry_config_free(cfg);

    cfg = parse_ok("syncs:\n"
                   "  people:\n"
                   "    source: { url: people.csv }\n"
                   "    target: { table: people, key: [name, id] }\n"
                   "    fields: { id: {}, name: {}, kind: {} }\n");
    s = &cfg->syncs[0];
    assert_int_equal(s->target.nkey, 2);
    assert_string_equal(s->target.key[0], "name");
    assert_string_equal(s->target.key[1], "id");
    assert_true(s->fields[0].required);
    assert_true(s->fields[1].required);
    assert_false(s->fields[2].required);
    ferry_config_free(cfg);
}

static void key_repeats_and_empty_key_are_errors(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: [id, id] }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:4: syncs.people.target.key[1]: 'id' is listed twice");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: [] }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:4: syncs.people.target.key: the list must not be empty");
}

static void enum_without_values_is_an_error(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields:\n"
                 "      id: {}\n"
                 "      kind:\n"
                 "        column: Kind\n"
                 "        type: enum\n",
                 "ferry.yaml:8: syncs.people.fields.kind: missing required key 'values' (type enum "
                 "needs the list of allowed values)");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: {}, kind: { type: enum, values: [] } }\n",
                 "ferry.yaml:5: syncs.people.fields.kind.values: the list must not be empty");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: {}, kind: { type: enum, values: [a, b, a] } }\n",
                 "ferry.yaml:5: syncs.people.fields.kind.values[2]: 'a' is listed twice");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: {}, kind: { type: enum, values: [a, ''] } }\n",
                 "ferry.yaml:5: syncs.people.fields.kind.values[1]: must not be empty");
}

static void values_on_a_non_enum_field_is_an_error(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields:\n"
                 "      id: {}\n"
                 "      kind:\n"
                 "        values: [a, b]\n"
                 "        type: text\n",
                 "ferry.yaml:8: syncs.people.fields.kind.values: 'values' is only allowed with "
                 "type enum (this field is text)");
}

static void bad_duration_names_the_key(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source:\n"
                 "      url: https://example.com/people.csv\n"
                 "      timeout: 90 seconds\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:5: syncs.people.source.timeout: expected a duration such as 500ms, "
                 "90s, 15m, 1h or 2d, not '90 seconds'");
    expect_error_prefix("syncs:\n"
                        "  people:\n"
                        "    source: { url: p.csv, timeout: 0s }\n",
                        "ferry.yaml:3: syncs.people.source.timeout: expected a duration");
}

static void bad_boolean_names_the_key(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields:\n"
                 "      id: {}\n"
                 "      name: { required: maybe }\n",
                 "ferry.yaml:7: syncs.people.fields.name.required: expected a boolean (true or "
                 "false), not 'maybe'");
    expect_error(MINI_SYNC "    allow_empty: 1\n",
                 "ferry.yaml:6: syncs.people.allow_empty: expected a boolean (true or false), "
                 "not '1'");
}

static void booleans_accept_yes_no_on_off_in_any_case(void **state)
{
    ferry_config *cfg = parse_ok("syncs:\n"
                                 "  people:\n"
                                 "    source: { url: people.csv }\n"
                                 "    target: { table: people, key: id }\n"
                                 "    allow_empty: YES\n"
                                 "    fields:\n"
                                 "      id: { trim: Off }\n"
                                 "      a: { required: On, trim: no }\n"
                                 "      b: { required: True, trim: \"false\" }\n"
                                 "      c: { required: yes, trim: on }\n"
                                 "      d: { required: FALSE }\n");
    const ferry_sync_spec *s = &cfg->syncs[0];

    (void)state;
    assert_true(s->allow_empty);
    assert_false(s->fields[0].trim);
    assert_true(s->fields[1].required);
    assert_false(s->fields[1].trim);
    assert_true(s->fields[2].required);
    assert_false(s->fields[2].trim);
    assert_true(s->fields[3].required);
    assert_true(s->fields[3].trim);
    assert_false(s->fields[4].required);
    assert_true(s->fields[4].trim);
    ferry_config_free(cfg);
}

static void yaml_syntax_error_gives_file_and_line(void **state)
{
    (void)state;
    expect_error("database: sqlite:x.db\n"
                 "workers: 4\n"
                 "listen: @x\n",
                 "ferry.yaml:3: YAML syntax error: plain scalar cannot start with '@' (column 9)");
    expect_error_prefix("database: sqlite:x.db\n"
                        "workers: 4\n"
                        "syncs:\n"
                        "  t: x\n"
                        " workers: 5\n",
                        "ferry.yaml:5: YAML syntax error: ");
}

static void invalid_utf8_is_an_error_naming_its_line(void **state)
{
    (void)state;
    expect_error("workers: 4\n"
                 "# caf\xE9 in Latin-1\n",
                 "ferry.yaml:2: the file is not valid UTF-8 text");
    /* libfyaml 0.7 would loop forever on this directive line. */
    expect_error("%\x80\n", "ferry.yaml:1: the file is not valid UTF-8 text");
    /* Valid multi-byte text is fine. */
    ferry_config_free(parse_ok("# caf\xC3\xA9 \xE2\x82\xAC\n"
                               "workers: 4\n"));
}

static void error_quoting_a_line_break_stays_one_line(void **state)
{
    (void)state;
    expect_error(
        "syncs:\n"
        "  people:\n"
        "    source: { url: people.csv, \"time\\nout\": 1s }\n",
        "ferry.yaml:3: syncs.people.source.time?out: unknown key (expected one of: "
        "kind, url, timeout, max_field_bytes, delimiter, vars, method, headers, query, "
        "body, auth, records, pagination, rate_limit, stall_timeout, max_page_bytes, "
        "retries, retry_backoff, max_wait, incremental, allow_private, allow_hosts, max_bytes)");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: { type: \"mail\\nx\\ty\" } }\n",
                 "ferry.yaml:5: syncs.people.fields.id.type: unknown type 'mail?x?y'");
}

static void duplicate_yaml_keys_are_errors(void **state)
{
    (void)state;
    expect_error_prefix("workers: 4\n"
                        "listen: 127.0.0.1:1\n"
                        "workers: 5\n",
                        "ferry.yaml:3: YAML syntax error: duplicate key");
}

static void second_yaml_document_is_an_error(void **state)
{
    (void)state;
    expect_error("workers: 4\n"
                 "---\n"
                 "workers: 5\n",
                 "ferry.yaml:3: only one YAML document is allowed (a second one starts here)");
}

static void database_must_be_sqlite_or_postgres(void **state)
{
    (void)state;
    expect_error("database: mysql://x/y\n",
                 "ferry.yaml:1: database: expected sqlite:PATH or a postgres:// or "
                 "postgresql:// URL");
    expect_error_prefix("database: 'sqlite:'\n", "ferry.yaml:1: database: expected sqlite:PATH");
    expect_error_prefix("database: ferry.db\n", "ferry.yaml:1: database: expected sqlite:PATH");
}

static void database_error_does_not_echo_a_password(void **state)
{
    ferry_config *cfg = NULL;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    static const char text[] = "database: mysql://app:s3cret@db/x\n";
    assert_int_not_equal(ferry_config_parse(text, strlen(text), "ferry.yaml", NULL, &cfg, &err),
                         FERRY_OK);
    assert_null(strstr(err.msg, "s3cret"));
}

static void listen_port_must_be_1_to_65535(void **state)
{
    (void)state;
    expect_error_prefix("listen: 127.0.0.1:0\n", "ferry.yaml:1: listen: expected HOST:PORT");
    expect_error_prefix("listen: 127.0.0.1:65536\n", "ferry.yaml:1: listen: expected HOST:PORT");
    expect_error_prefix("listen: 127.0.0.1:-1\n", "ferry.yaml:1: listen: expected HOST:PORT");
    expect_error_prefix("listen: 127.0.0.1:http\n", "ferry.yaml:1: listen: expected HOST:PORT");
    expect_error_prefix("listen: 8080\n", "ferry.yaml:1: listen: expected HOST:PORT");
    expect_error_prefix("listen: ':8080'\n", "ferry.yaml:1: listen: expected HOST:PORT");
}

static void workers_must_be_1_to_64(void **state)
{
    (void)state;
    expect_error("workers: 0\n",
                 "ferry.yaml:1: workers: expected a whole number from 1 to 64, not '0'");
    expect_error("workers: 65\n",
                 "ferry.yaml:1: workers: expected a whole number from 1 to 64, not '65'");
    expect_error("workers: four\n",
                 "ferry.yaml:1: workers: expected a whole number from 1 to 64, not 'four'");
    expect_error("workers: 4.5\n",
                 "ferry.yaml:1: workers: expected a whole number from 1 to 64, not '4.5'");
    expect_error("workers: 99999999999999999999999\n",
                 "ferry.yaml:1: workers: expected a whole number from 1 to 64, not "
                 "'99999999999999999999999'");
}

static void sync_names_are_lowercase_words_up_to_64(void **state)
{
    char yaml[512];
    ferry_config *cfg;

    (void)state;
    expect_error("syncs:\n  Therapists: {}\n",
                 "ferry.yaml:2: syncs.Therapists: invalid sync name (use 1 to 64 of a-z, 0-9, "
                 "'_' and '-')");
    expect_error_prefix("syncs:\n  'a b': {}\n", "ferry.yaml:2: syncs.a b: invalid sync name");
    snprintf(yaml, sizeof(yaml),
             "syncs:\n  %s:\n    source: {url: x}\n    target: {table: t, key: id}\n"
             "    fields: {id: {}}\n",
             "a123456789b123456789c123456789d123456789e123456789f123456789-_xy");
    cfg = parse_ok(yaml);
    assert_int_equal(strlen(cfg->syncs[0].name), 64);
    ferry_config_free(cfg);
    snprintf(yaml, sizeof(yaml), "syncs:\n  %s: {}\n",
             "a123456789b123456789c123456789d123456789e123456789f123456789-_xyz");
    expect_error_prefix(yaml, "ferry.yaml:2: syncs.a123456789");
}

static void table_and_field_names_are_identifiers_without_ferry_prefix(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: ferry_runs, key: id }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:4: syncs.people.target.table: table names starting with 'ferry_' "
                 "are reserved for Ferry's own tables");
    expect_error_prefix("syncs:\n"
                        "  people:\n"
                        "    source: { url: people.csv }\n"
                        "    target: { table: 2people, key: id }\n"
                        "    fields: { id: {} }\n",
                        "ferry.yaml:4: syncs.people.target.table: invalid table name '2people'");
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields:\n"
                 "      id: {}\n"
                 "      FERRY_missing_since: {}\n",
                 "ferry.yaml:7: syncs.people.fields.FERRY_missing_since: field names starting "
                 "with 'ferry_' are reserved for Ferry's own columns");
    expect_error_prefix("syncs:\n"
                        "  people:\n"
                        "    source: { url: people.csv }\n"
                        "    target: { table: people, key: id }\n"
                        "    fields:\n"
                        "      id: {}\n"
                        "      first name: {}\n",
                        "ferry.yaml:7: syncs.people.fields.first name: invalid field name "
                        "'first name'");
    expect_error_prefix("syncs:\n"
                        "  people:\n"
                        "    source: { url: people.csv }\n"
                        "    target: { table: a234567890123456789012345678901234567890123456789"
                        "012345678901234, key: id }\n"
                        "    fields: { id: {} }\n",
                        "ferry.yaml:4: syncs.people.target.table: invalid table name");
}

static void field_names_differing_only_in_case_are_an_error(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields:\n"
                 "      id: {}\n"
                 "      Email: {}\n"
                 "      email: { column: E-mail }\n",
                 "ferry.yaml:8: syncs.people.fields.email: field 'email' repeats field 'Email' "
                 "(column names ignore case)");
}

static void two_fields_mapping_one_column_is_an_error(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields:\n"
                 "      id: { column: Email }\n"
                 "      name: {}\n"
                 "      email:\n"
                 "        type: email\n"
                 "        column: Email\n",
                 "ferry.yaml:10: syncs.people.fields.email.column: column 'Email' is already "
                 "mapped by field 'id'");
    /* A defaulted column collides too, reported at the field. */
    expect_error("syncs:\n"
                 "  people:\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields:\n"
                 "      id: { column: name }\n"
                 "      name: {}\n",
                 "ferry.yaml:7: syncs.people.fields.name: column 'name' is already mapped by "
                 "field 'id'");
}

static void field_defaults_and_bare_field_entries(void **state)
{
    ferry_config *cfg = parse_ok("syncs:\n"
                                 "  people:\n"
                                 "    source: { url: people.csv }\n"
                                 "    target: { table: people, key: id }\n"
                                 "    fields:\n"
                                 "      id:\n"
                                 "      phone: {}\n"
                                 "      score: { type: decimal, trim: false }\n");
    const ferry_sync_spec *s = &cfg->syncs[0];

    (void)state;
    assert_int_equal(s->nfields, 3);
    assert_string_equal(s->fields[0].name, "id");
    assert_string_equal(s->fields[0].column, "id");
    assert_int_equal(s->fields[0].type, FERRY_TYPE_TEXT);
    assert_true(s->fields[0].required);
    assert_true(s->fields[0].trim);
    assert_int_equal(s->fields[0].line, 6);
    assert_string_equal(s->fields[1].column, "phone");
    assert_false(s->fields[1].required);
    assert_true(s->fields[1].trim);
    assert_int_equal(s->fields[2].type, FERRY_TYPE_DECIMAL);
    assert_false(s->fields[2].trim);
    ferry_config_free(cfg);
}

static void sync_defaults_title_noun_and_source(void **state)
{
    ferry_config *cfg = parse_ok(MINI_SYNC);
    const ferry_sync_spec *s = &cfg->syncs[0];

    (void)state;
    assert_string_equal(s->title, "people");
    assert_string_equal(s->noun, "people");
    assert_int_equal(s->line, 2);
    assert_int_equal(s->source.kind, FERRY_SOURCE_CSV);
    assert_string_equal(s->source.url, "people.csv");
    assert_int_equal(s->source.timeout_ms, 60000);
    assert_int_equal(s->source.max_field_bytes, 1048576);
    assert_int_equal(s->source.delimiter, ',');
    assert_int_equal(s->target.on_missing, FERRY_ON_MISSING_KEEP);
    assert_null(s->schedule);
    assert_int_equal(s->schedule_every_s, 0);
    assert_false(s->allow_empty);
    assert_int_equal(s->nskips, 0);
    assert_null(s->skips);
    ferry_config_free(cfg);

    cfg = parse_ok(MINI_SYNC "    title: People of the org\n"
                             "    noun: persons\n");
    assert_string_equal(cfg->syncs[0].title, "People of the org");
    assert_string_equal(cfg->syncs[0].noun, "persons");
    ferry_config_free(cfg);
}

static void every_field_type_is_accepted(void **state)
{
    ferry_config *cfg = parse_ok("syncs:\n"
                                 "  s:\n"
                                 "    source: { url: s.csv }\n"
                                 "    target: { table: s, key: a }\n"
                                 "    fields:\n"
                                 "      a: { type: text }\n"
                                 "      b: { type: integer }\n"
                                 "      c: { type: decimal }\n"
                                 "      d: { type: boolean }\n"
                                 "      e: { type: date }\n"
                                 "      f: { type: datetime }\n"
                                 "      g: { type: email }\n"
                                 "      h: { type: enum, values: [x] }\n");
    size_t i;

    (void)state;
    assert_int_equal(cfg->syncs[0].nfields, 8);
    for (i = 0; i < 8; i++)
        assert_int_equal(cfg->syncs[0].fields[i].type, (ferry_field_type)i);
    ferry_config_free(cfg);
}

static void field_order_follows_the_document(void **state)
{
    ferry_config *cfg = parse_ok("syncs:\n"
                                 "  s:\n"
                                 "    source: { url: s.csv }\n"
                                 "    target: { table: s, key: m }\n"
                                 "    fields:\n"
                                 "      zeta: {}\n"
                                 "      alpha: {}\n"
                                 "      m: {}\n"
                                 "      beta: {}\n"
                                 "      a: {}\n");
    static const char *const order[] = {"zeta", "alpha", "m", "beta", "a"};
    const ferry_sync_spec *s = &cfg->syncs[0];
    size_t i;

    (void)state;
    assert_int_equal(s->nfields, 5);
    for (i = 0; i < 5; i++) {
        assert_string_equal(s->fields[i].name, order[i]);
        assert_int_equal(s->fields[i].line, (int)(6 + i));
    }
    ferry_config_free(cfg);
}

static void syncs_keep_document_order_and_sync_get_finds_them(void **state)
{
    ferry_config *cfg = parse_ok("syncs:\n"
                                 "  second:\n"
                                 "    source: { url: b.csv }\n"
                                 "    target: { table: b, key: id }\n"
                                 "    fields: { id: {} }\n"
                                 "  first:\n"
                                 "    source: { url: a.csv }\n"
                                 "    target: { table: a, key: id }\n"
                                 "    fields: { id: {} }\n");
    const ferry_sync_spec *s;

    (void)state;
    assert_int_equal(cfg->nsyncs, 2);
    assert_string_equal(cfg->syncs[0].name, "second");
    assert_string_equal(cfg->syncs[1].name, "first");
    assert_int_equal(cfg->syncs[1].line, 6);
    s = ferry_config_sync_get(cfg, "first");
    assert_ptr_equal(s, &cfg->syncs[1]);
    assert_string_equal(s->source.url, "a.csv");
    assert_ptr_equal(ferry_config_sync_get(cfg, "second"), &cfg->syncs[0]);
    assert_null(ferry_config_sync_get(cfg, "third"));
    assert_null(ferry_config_sync_get(cfg, "First"));
    assert_null(ferry_config_sync_get(cfg, NULL));
    assert_null(ferry_config_sync_get(NULL, "first"));
    ferry_config_free(cfg);
}

static void sync_field_index_finds_fields_by_exact_name(void **state)
{
    ferry_config *cfg = parse_ok(DESIGN_YAML);
    const ferry_sync_spec *s = ferry_config_sync_get(cfg, "therapists");

    (void)state;
    assert_non_null(s);
    assert_int_equal(ferry_sync_field_index(s, "employee_id"), 0);
    assert_int_equal(ferry_sync_field_index(s, "email"), 2);
    assert_int_equal(ferry_sync_field_index(s, "employment"), 4);
    assert_int_equal(ferry_sync_field_index(s, "Email"), -1);
    assert_int_equal(ferry_sync_field_index(s, "Employee ID"), -1);
    assert_int_equal(ferry_sync_field_index(s, ""), -1);
    assert_int_equal(ferry_sync_field_index(s, NULL), -1);
    assert_int_equal(ferry_sync_field_index(NULL, "email"), -1);
    ferry_config_free(cfg);
}

/* ---- source ---- */

static void source_keys_are_read(void **state)
{
    ferry_config *cfg = parse_ok("syncs:\n"
                                 "  s:\n"
                                 "    source:\n"
                                 "      kind: csv\n"
                                 "      url: file:///srv/data/s.csv\n"
                                 "      timeout: 500ms\n"
                                 "      max_field_bytes: 512KiB\n"
                                 "      delimiter: ';'\n"
                                 "    target: { table: s, key: id }\n"
                                 "    fields: { id: {} }\n");
    const ferry_source_spec *src = &cfg->syncs[0].source;

    (void)state;
    assert_string_equal(src->url, "file:///srv/data/s.csv");
    assert_int_equal(src->timeout_ms, 500);
    assert_int_equal(src->max_field_bytes, 512 * 1024);
    assert_int_equal(src->delimiter, ';');
    ferry_config_free(cfg);

    cfg = parse_ok("syncs:\n"
                   "  s:\n"
                   "    source: { url: 'http://h/x.csv', timeout: 2, max_field_bytes: 100, "
                   "delimiter: \"\\t\" }\n"
                   "    target: { table: s, key: id }\n"
                   "    fields: { id: {} }\n");
    src = &cfg->syncs[0].source;
    assert_string_equal(src->url, "http://h/x.csv");
    assert_int_equal(src->timeout_ms, 2000);
    assert_int_equal(src->max_field_bytes, 100);
    assert_int_equal(src->delimiter, '\t');
    ferry_config_free(cfg);

    cfg = parse_ok("syncs:\n"
                   "  s:\n"
                   "    source: { url: ../data/s.csv, max_field_bytes: 256MiB }\n"
                   "    target: { table: s, key: id }\n"
                   "    fields: { id: {} }\n");
    assert_string_equal(cfg->syncs[0].source.url, "../data/s.csv");
    assert_int_equal(cfg->syncs[0].source.max_field_bytes, 256UL * 1024 * 1024);
    ferry_config_free(cfg);
}

static void unknown_source_kind_is_an_error(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  s:\n"
                 "    source: { kind: soap, url: x.csv }\n",
                 "ferry.yaml:3: syncs.s.source.kind: unknown source kind 'soap' (expected csv or "
                 "rest)");
}

static void url_schemes_other_than_file_and_http_are_errors(void **state)
{
    (void)state;
    expect_error("syncs:\n"
                 "  s:\n"
                 "    source: { url: 'ftp://example.com/s.csv' }\n",
                 "ferry.yaml:3: syncs.s.source.url: unsupported URL scheme 'ftp' (expected a "
                 "path, file://, http:// or https://)");
    expect_error("syncs:\n"
                 "  s:\n"
                 "    source: { url: 'https:///s.csv' }\n",
                 "ferry.yaml:3: syncs.s.source.url: the URL has no host");
    expect_error_prefix("syncs:\n"
                        "  s:\n"
                        "    source: { url: 'file://' }\n",
                        "ferry.yaml:3: syncs.s.source.url: a file:// URL needs a path");
}

static void max_field_bytes_takes_sizes_in_range(void **state)
{
    (void)state;
    expect_error("syncs:\n  s:\n    source: { url: x, max_field_bytes: 1MB }\n",
                 "ferry.yaml:3: syncs.s.source.max_field_bytes: expected a size such as 1048576, "
                 "512KiB or 1MiB, not '1MB'");
    expect_error("syncs:\n  s:\n    source: { url: x, max_field_bytes: 257MiB }\n",
                 "ferry.yaml:3: syncs.s.source.max_field_bytes: '257MiB' is out of range (1 "
                 "byte to 256MiB)");
    expect_error("syncs:\n  s:\n    source: { url: x, max_field_bytes: 0 }\n",
                 "ferry.yaml:3: syncs.s.source.max_field_bytes: '0' is out of range (1 byte to "
                 "256MiB)");
    expect_error_prefix("syncs:\n  s:\n    source: { url: x, max_field_bytes: "
                        "99999999999999999999999999KiB }\n",
                        "ferry.yaml:3: syncs.s.source.max_field_bytes: '9999");
    expect_error_prefix("syncs:\n  s:\n    source: { url: x, max_field_bytes: -1 }\n",
                        "ferry.yaml:3: syncs.s.source.max_field_bytes: expected a size");
}

static void delimiter_is_one_character_but_not_quote_or_newline(void **state)
{
    (void)state;
    expect_error_prefix("syncs:\n  s:\n    source: { url: x, delimiter: ';;' }\n",
                        "ferry.yaml:3: syncs.s.source.delimiter: expected a single character");
    expect_error("syncs:\n  s:\n    source: { url: x, delimiter: '\"' }\n",
                 "ferry.yaml:3: syncs.s.source.delimiter: the delimiter cannot be a double "
                 "quote, CR or LF");
    expect_error("syncs:\n  s:\n    source: { url: x, delimiter: \"\\n\" }\n",
                 "ferry.yaml:3: syncs.s.source.delimiter: the delimiter cannot be a double "
                 "quote, CR or LF");
    expect_error("syncs:\n  s:\n    source: { url: x, delimiter: \"\\r\" }\n",
                 "ferry.yaml:3: syncs.s.source.delimiter: the delimiter cannot be a double "
                 "quote, CR or LF");
    expect_error("syncs:\n  s:\n    source: { url: x, delimiter: \"a\\0\" }\n",
                 "ferry.yaml:3: syncs.s.source.delimiter: contains a NUL character");
}

/* ---- target ---- */

static void on_missing_takes_keep_delete_or_flag(void **state)
{
    static const char *const names[] = {"keep", "delete", "flag"};
    char yaml[256];
    size_t i;

    (void)state;
    for (i = 0; i < 3; i++) {
        ferry_config *cfg;

        snprintf(yaml, sizeof(yaml),
                 "syncs:\n  s:\n    source: {url: x}\n"
                 "    target: {table: t, key: id, on_missing: %s}\n    fields: {id: {}}\n",
                 names[i]);
        cfg = parse_ok(yaml);
        assert_int_equal(cfg->syncs[0].target.on_missing, (ferry_on_missing)i);
        ferry_config_free(cfg);
    }
    expect_error("syncs:\n  s:\n    source: {url: x}\n"
                 "    target: {table: t, key: id, on_missing: drop}\n",
                 "ferry.yaml:4: syncs.s.target.on_missing: unknown value 'drop' (expected keep, "
                 "delete or flag)");
}

/* ---- skip ---- */

static void skip_rules_in_not_in_and_empty_are_read(void **state)
{
    ferry_config *cfg = parse_ok(MINI_SYNC "    skip:\n"
                                           "      kind: { in: [Test, Demo] }\n"
                                           "      name: { empty: true }\n");
    const ferry_sync_spec *s = &cfg->syncs[0];

    (void)state;
    assert_int_equal(s->nskips, 2);
    assert_int_equal(s->skips[0].field, 2);
    assert_int_equal(s->skips[0].kind, FERRY_SKIP_IN);
    assert_int_equal(s->skips[0].nvalues, 2);
    assert_string_equal(s->skips[0].values[0], "Test");
    assert_string_equal(s->skips[0].values[1], "Demo");
    assert_int_equal(s->skips[1].field, 1);
    assert_int_equal(s->skips[1].kind, FERRY_SKIP_EMPTY);
    assert_int_equal(s->skips[1].nvalues, 0);
    assert_null(s->skips[1].values);
    ferry_config_free(cfg);
}

static void skip_on_an_unknown_field_is_an_error(void **state)
{
    (void)state;
    expect_error(MINI_SYNC "    skip:\n"
                           "      employment: { not_in: [Karyawan] }\n",
                 "ferry.yaml:7: syncs.people.skip.employment: no field named 'employment'");
}

static void skip_rule_takes_exactly_one_condition(void **state)
{
    (void)state;
    expect_error(MINI_SYNC "    skip: { kind: { in: [a], not_in: [b] } }\n",
                 "ferry.yaml:6: syncs.people.skip.kind.not_in: a rule takes exactly one of in, "
                 "not_in or empty");
    expect_error(MINI_SYNC "    skip:\n"
                           "      kind: {}\n",
                 "ferry.yaml:7: syncs.people.skip.kind: a rule takes exactly one of in, not_in "
                 "or empty");
    expect_error(MINI_SYNC "    skip: { kind: { empty: false } }\n",
                 "ferry.yaml:6: syncs.people.skip.kind.empty: only 'empty: true' is meaningful");
    expect_error(MINI_SYNC "    skip: { kind: { in: [a, A] } }\n",
                 "ferry.yaml:6: syncs.people.skip.kind.in[1]: 'A' is listed twice");
}

static void skip_labels_are_kept_once_each_in_config_order(void **state)
{
    ferry_config *cfg = parse_ok(MINI_SYNC "    skip:\n"
                                           "      kind: { in: [Flat, Studio], label: FLAT }\n"
                                           "      name: { empty: true }\n"
                                           "      id: { in: [x], label: FLAT }\n");
    const ferry_sync_spec *s = &cfg->syncs[0];

    (void)state;
    assert_int_equal(s->nskips, 3);
    assert_int_equal(s->skips[0].label, 0);
    assert_int_equal(s->skips[1].label, -1);
    assert_int_equal(s->skips[2].label, 0);
    assert_int_equal(s->nskip_labels, 1);
    assert_string_equal(s->skip_labels[0], "FLAT");
    ferry_config_free(cfg);

    cfg = parse_ok(MINI_SYNC "    skip:\n"
                             "      kind: { in: [Flat], label: no kind }\n"
                             "      name: { empty: true, label: Tanpa_nama-2 }\n");
    s = &cfg->syncs[0];
    assert_int_equal(s->nskip_labels, 2);
    assert_string_equal(s->skip_labels[0], "no kind");
    assert_string_equal(s->skip_labels[1], "Tanpa_nama-2");
    assert_int_equal(s->skips[1].label, 1);
    ferry_config_free(cfg);
}

static void skip_label_must_be_a_word_for_messages(void **state)
{
    (void)state;
    expect_error(MINI_SYNC "    skip: { kind: { in: [a], label: \"FLAT!\" } }\n",
                 "ferry.yaml:6: syncs.people.skip.kind.label: 'FLAT!' is not a label: use 1 to 64 "
                 "letters, digits, spaces, '-' and '_', such as FLAT (messages say \"3 FLAT "
                 "skipped\")");
    expect_error_prefix(MINI_SYNC "    skip: { kind: { in: [a], label: \" FLAT\" } }\n",
                        "ferry.yaml:6: syncs.people.skip.kind.label: ' FLAT' is not a label");
    expect_error(MINI_SYNC "    skip: { kind: { in: [a], label: \"\" } }\n",
                 "ferry.yaml:6: syncs.people.skip.kind.label: must not be empty");
    expect_error(MINI_SYNC "    skip: { kind: { label: FLAT } }\n",
                 "ferry.yaml:6: syncs.people.skip.kind: a rule takes exactly one of in, not_in "
                 "or empty");
}

/* ---- label: record names ---- */

static void record_label_is_split_into_text_and_fields(void **state)
{
    ferry_config *cfg = parse_ok(MINI_SYNC "    label: \"{name} ({id}) {kind}!\"\n");
    const ferry_record_label *lb = &cfg->syncs[0].label;

    (void)state;
    assert_string_equal(lb->text, "{name} ({id}) {kind}!");
    assert_int_equal(lb->line, 6);
    assert_int_equal(lb->nparts, 4);
    assert_string_equal(lb->parts[0].text, "");
    assert_int_equal(lb->parts[0].field, 1);
    assert_string_equal(lb->parts[1].text, " (");
    assert_int_equal(lb->parts[1].field, 0);
    assert_string_equal(lb->parts[2].text, ") ");
    assert_int_equal(lb->parts[2].field, 2);
    assert_string_equal(lb->parts[3].text, "!");
    assert_int_equal(lb->parts[3].field, -1);
    ferry_config_free(cfg);

    cfg = parse_ok(MINI_SYNC);
    assert_null(cfg->syncs[0].label.text);
    assert_int_equal(cfg->syncs[0].label.nparts, 0);
    ferry_config_free(cfg);
}

static void record_label_naming_no_field_is_refused(void **state)
{
    (void)state;
    expect_error(MINI_SYNC "    label: \"{name} ({emial})\"\n",
                 "ferry.yaml:6: syncs.people.label: no field named 'emial' (a label names "
                 "records by their fields' values, such as \"{name} ({email})\")");
    expect_error(MINI_SYNC "    label: Someone\n",
                 "ferry.yaml:6: syncs.people.label: a label names at least one field in braces, "
                 "such as \"{name} ({email})\"");
    expect_error(MINI_SYNC "    label: [name]\n",
                 "ferry.yaml:6: syncs.people.label: expected a scalar");
    /* The order of keys does not matter: fields come after label. */
    expect_error("syncs:\n"
                 "  people:\n"
                 "    label: \"{nama}\"\n"
                 "    source: { url: people.csv }\n"
                 "    target: { table: people, key: id }\n"
                 "    fields: { id: {}, name: {} }\n",
                 "ferry.yaml:3: syncs.people.label: no field named 'nama' (a label names records "
                 "by their fields' values, such as \"{name} ({email})\")");
}

/* ---- schedule ---- */

static void schedule_every_duration_is_read(void **state)
{
    ferry_config *cfg = parse_ok(MINI_SYNC "    schedule: every 15m\n");

    (void)state;
    assert_string_equal(cfg->syncs[0].schedule, "every 15m");
    assert_int_equal(cfg->syncs[0].schedule_every_s, 900);
    ferry_config_free(cfg);
    cfg = parse_ok(MINI_SYNC "    schedule: every 10s\n");
    assert_int_equal(cfg->syncs[0].schedule_every_s, 10);
    ferry_config_free(cfg);
    cfg = parse_ok(MINI_SYNC "    schedule: every 2d\n");
    assert_int_equal(cfg->syncs[0].schedule_every_s, 2 * 86400);
    ferry_config_free(cfg);
}

static void schedule_other_than_every_duration_is_an_error(void **state)
{
    static const char *const bad[] = {
        "hourly", "every", "every hour", "1h", "every -1h", "every 1h and more", "0 * * * *"};
    char yaml[512], expected[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(yaml, sizeof(yaml), MINI_SYNC "    schedule: '%s'\n", bad[i]);
        snprintf(expected, sizeof(expected),
                 "ferry.yaml:6: syncs.people.schedule: expected 'every <duration>' such as "
                 "'every 1h', or 'cron \"0 * * * *\"'");
        expect_error(yaml, expected);
    }
    expect_error(MINI_SYNC "    schedule: every 5s\n",
                 "ferry.yaml:6: syncs.people.schedule: the period must be at least 10s");
    expect_error(MINI_SYNC "    schedule: every 10500ms\n",
                 "ferry.yaml:6: syncs.people.schedule: the period must be a whole number of "
                 "seconds");
}

/* ---- helpers of the interface ---- */

static void duration_parse_accepts_units_and_bare_seconds(void **state)
{
    long ms = -1;

    (void)state;
    assert_true(ferry_duration_parse("90s", &ms));
    assert_int_equal(ms, 90000);
    assert_true(ferry_duration_parse("15m", &ms));
    assert_int_equal(ms, 900000);
    assert_true(ferry_duration_parse("1h", &ms));
    assert_int_equal(ms, 3600000);
    assert_true(ferry_duration_parse("2d", &ms));
    assert_int_equal(ms, 172800000);
    assert_true(ferry_duration_parse("500ms", &ms));
    assert_int_equal(ms, 500);
    assert_true(ferry_duration_parse("7", &ms));
    assert_int_equal(ms, 7000);
    assert_true(ferry_duration_parse("007s", &ms));
    assert_int_equal(ms, 7000);
}

static void duration_parse_rejects_zero_signs_spaces_junk_and_overflow(void **state)
{
    static const char *const bad[] = {
        "",
        "0",
        "0s",
        "-5s",
        "+5s",
        " 5s",
        "5 s",
        "5s ",
        "5x",
        "5S",
        "1.5h",
        "h",
        "5sec",
        "5mss",
        "ms",
        "1e3",
        "0x10",
        "5hm",
        "99999999999999999999999",
        "9223372036854775807d",
        "9223372036854775807ms0",
    };
    long ms = 42;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ferry_duration_parse(bad[i], &ms))
            fail_msg("'%s' was accepted as a duration", bad[i]);
        assert_int_equal(ms, 42);
    }
    assert_false(ferry_duration_parse(NULL, &ms));
    assert_false(ferry_duration_parse("5s", NULL));
#if LONG_MAX == 9223372036854775807L
    /* The largest values that fit are fine; one more overflows. */
    assert_true(ferry_duration_parse("9223372036854775807ms", &ms));
    assert_int_equal(ms, 9223372036854775807L);
    assert_false(ferry_duration_parse("9223372036854776s", &ms));
    assert_true(ferry_duration_parse("9223372036854775s", &ms));
    assert_int_equal(ms, 9223372036854775000L);
#endif
}

static void field_type_name_covers_every_type(void **state)
{
    (void)state;
    assert_string_equal(ferry_field_type_name(FERRY_TYPE_TEXT), "text");
    assert_string_equal(ferry_field_type_name(FERRY_TYPE_INTEGER), "integer");
    assert_string_equal(ferry_field_type_name(FERRY_TYPE_DECIMAL), "decimal");
    assert_string_equal(ferry_field_type_name(FERRY_TYPE_BOOLEAN), "boolean");
    assert_string_equal(ferry_field_type_name(FERRY_TYPE_DATE), "date");
    assert_string_equal(ferry_field_type_name(FERRY_TYPE_DATETIME), "datetime");
    assert_string_equal(ferry_field_type_name(FERRY_TYPE_EMAIL), "email");
    assert_string_equal(ferry_field_type_name(FERRY_TYPE_ENUM), "enum");
    assert_string_equal(ferry_field_type_name((ferry_field_type)99), "unknown");
}

static void anchors_and_aliases_are_resolved(void **state)
{
    ferry_config *cfg = parse_ok("syncs:\n"
                                 "  s:\n"
                                 "    source: { url: s.csv }\n"
                                 "    target: { table: s, key: id }\n"
                                 "    fields:\n"
                                 "      id: {}\n"
                                 "      a: &kinds { type: enum, values: [x, y] }\n"
                                 "      b: *kinds\n");
    const ferry_sync_spec *s = &cfg->syncs[0];

    (void)state;
    assert_int_equal(s->fields[2].type, FERRY_TYPE_ENUM);
    assert_int_equal(s->fields[2].nvalues, 2);
    assert_string_equal(s->fields[2].values[1], "y");
    ferry_config_free(cfg);
}

static void config_free_accepts_null(void **state)
{
    (void)state;
    ferry_config_free(NULL);
}

static void only_the_first_error_in_document_order_is_reported(void **state)
{
    ferry_config *cfg = (ferry_config *)1;
    ferry_err err;
    const char *yaml = "workers: 0\nlisten: nope\n";

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_parse(yaml, strlen(yaml), "x.yaml", NULL, &cfg, &err),
                     FERRY_ECONFIG);
    assert_null(cfg);
    assert_string_equal(err.msg, "x.yaml:1: workers: expected a whole number from 1 to 64, not "
                                 "'0'");
}

static void error_in_a_late_sync_frees_the_earlier_ones(void **state)
{
    /* Run under ASan/LSan this also proves the half-built config is released. */
    (void)state;
    expect_error(DESIGN_YAML "  second:\n"
                             "    source: { url: s.csv }\n"
                             "    target: { table: s, key: [id] }\n"
                             "    fields: { id: {}, e: { type: enum, values: [a] } }\n"
                             "    skip: { e: { in: [a], empty: true } }\n",
                 "ferry.yaml:24: syncs.second.skip.e.empty: a rule takes exactly one of in, "
                 "not_in or empty");
}

static void run_timeout_cooldown_and_retries_load(void **state)
{
    static const char text[] = "syncs:\n"
                               "  people:\n"
                               "    source: { url: people.csv }\n"
                               "    target: { table: people, key: [id] }\n"
                               "    fields: { id: {} }\n"
                               "    timeout: 10m\n"
                               "    cooldown: 30s\n"
                               "    retries: 3\n";
    ferry_config *cfg = NULL;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_parse(text, strlen(text), "ferry.yaml", NULL, &cfg, &err),
                     FERRY_OK);
    assert_int_equal(cfg->syncs[0].timeout_ms, 600000);
    assert_int_equal(cfg->syncs[0].cooldown_ms, 30000);
    assert_int_equal(cfg->syncs[0].retries, 3);
    ferry_config_free(cfg);
    ferry_err_clear(&err);
    static const char bad[] = "syncs:\n"
                              "  people:\n"
                              "    source: { url: people.csv }\n"
                              "    target: { table: people, key: [id] }\n"
                              "    fields: { id: {} }\n"
                              "    retries: 11\n";
    assert_int_not_equal(ferry_config_parse(bad, strlen(bad), "ferry.yaml", NULL, &cfg, &err),
                         FERRY_OK);
    assert_non_null(strstr(err.msg, "ferry.yaml:6: syncs.people.retries"));
}

static void guard_limits_have_defaults_load_and_are_checked(void **state)
{
    ferry_config *cfg;
    const ferry_guard_spec *g;

    (void)state;
    cfg = parse_ok(MINI_SYNC);
    g = &cfg->syncs[0].guard;
    assert_true(g->max_missing.set && g->max_missing.percent);
    assert_int_equal(g->max_missing.value, 1000); /* 10% */
    assert_false(g->max_failed.set);
    ferry_config_free(cfg);

    cfg = parse_ok(MINI_SYNC "    guard: { max_missing: 2.5%, max_failed: 50 }\n");
    g = &cfg->syncs[0].guard;
    assert_true(g->max_missing.percent);
    assert_int_equal(g->max_missing.value, 250);
    assert_true(g->max_failed.set);
    assert_false(g->max_failed.percent);
    assert_int_equal(g->max_failed.value, 50);
    ferry_config_free(cfg);

    cfg = parse_ok(MINI_SYNC "    guard:\n      max_missing: 100%\n      max_failed: 0.05%\n");
    g = &cfg->syncs[0].guard;
    assert_int_equal(g->max_missing.value, 10000);
    assert_true(g->max_failed.percent);
    assert_int_equal(g->max_failed.value, 5);
    ferry_config_free(cfg);

    static const char *const bad[] = {"101%", "10.001%", "-1", "ten", "10 %", "%", "1.%", "5.5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char yaml[512], want[512];
        snprintf(yaml, sizeof(yaml), MINI_SYNC "    guard: { max_failed: \"%s\" }\n", bad[i]);
        snprintf(want, sizeof(want),
                 "ferry.yaml:6: syncs.people.guard.max_failed: '%s' is not a limit: write a "
                 "share of the rows such as 10%% (0%% to 100%%, at most two decimals) or a "
                 "number of rows such as 50",
                 bad[i]);
        expect_error(yaml, want);
    }
    expect_error(MINI_SYNC "    guard: { max_deleted: 5 }\n",
                 "ferry.yaml:6: syncs.people.guard.max_deleted: unknown key (expected one of: "
                 "max_missing, max_failed, max_updated, protect, hold_for)");
}

static void guard_review_keys_load_and_are_checked(void **state)
{
    ferry_config *cfg;
    const ferry_guard_spec *g;

    (void)state;
    cfg = parse_ok(MINI_SYNC);
    g = &cfg->syncs[0].guard;
    assert_false(g->max_updated.set);
    assert_int_equal(g->nprotect, 0);
    assert_int_equal(g->hold_for_ms, 86400000L);
    assert_non_null(strstr(cfg->data_dir, "ferry-data"));
    assert_int_equal(cfg->held_max_bytes, 1024L * 1024 * 1024);
    ferry_config_free(cfg);

    cfg = parse_ok("data_dir: held-here\nheld_max_bytes: 5MiB\n" MINI_SYNC
                   "    guard: { max_updated: 30%, protect: [name, kind], hold_for: 2h }\n");
    g = &cfg->syncs[0].guard;
    assert_int_equal(g->max_updated.value, 3000);
    assert_int_equal(g->nprotect, 2);
    assert_string_equal(g->protect[1], "kind");
    assert_int_equal(g->hold_for_ms, 2L * 3600 * 1000);
    assert_non_null(strstr(cfg->data_dir, "held-here"));
    assert_int_equal(cfg->held_max_bytes, 5L * 1024 * 1024);
    ferry_config_free(cfg);

    expect_error(MINI_SYNC "    guard: { protect: [emial] }\n",
                 "ferry.yaml:2: syncs.people: guard.protect: 'emial' is not a field of people");
}

static void cron_schedules_load_and_bad_ones_say_why(void **state)
{
    static const char good[] = MINI_SYNC "    schedule: cron \"0 */2 * * 1-5\"\n";
    static const char bad[] = MINI_SYNC "    schedule: cron \"61 * * * *\"\n";
    ferry_config *cfg = NULL;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_parse(good, strlen(good), "ferry.yaml", NULL, &cfg, &err),
                     FERRY_OK);
    assert_true(cfg->syncs[0].has_cron);
    assert_int_equal(cfg->syncs[0].schedule_every_s, 0);
    assert_string_equal(cfg->syncs[0].schedule, "cron \"0 */2 * * 1-5\"");
    ferry_config_free(cfg);
    ferry_err_clear(&err);
    assert_int_not_equal(ferry_config_parse(bad, strlen(bad), "ferry.yaml", NULL, &cfg, &err),
                         FERRY_OK);
    assert_string_equal(err.msg, "ferry.yaml:6: syncs.people.schedule: the cron expression has a "
                                 "value out of range");
}

static void timezone_top_level_and_per_sync(void **state)
{
    static const char two[] =
        "timezone: Asia/Jakarta\n" MINI_SYNC "    schedule: cron \"0 2 * * *\"\n"
        "  other:\n"
        "    source: { url: people.csv }\n"
        "    target: { table: other, key: id }\n"
        "    fields: { id: {} }\n"
        "    schedule: \"cron @daily\"\n"
        "    timezone: America/New_York\n";
    ferry_config *cfg;

    (void)state;
    setenv("TZDIR", FERRY_TESTDATA "/tz", 1);
    cfg = parse_ok(MINI_SYNC);
    assert_null(cfg->syncs[0].tz);
    assert_string_equal(ferry_tz_name(cfg->syncs[0].tz), "UTC");
    ferry_config_free(cfg);

    cfg = parse_ok(two);
    assert_string_equal(cfg->timezone, "Asia/Jakarta");
    assert_string_equal(ferry_tz_name(cfg->syncs[0].tz), "Asia/Jakarta");
    assert_string_equal(ferry_tz_name(cfg->syncs[1].tz), "America/New_York");
    /* 02:00 in Jakarta is 19:00 UTC the day before. */
    assert_int_equal(ferry_cron_next(&cfg->syncs[0].cron, cfg->syncs[0].tz, 1796547600000LL) %
                         (86400 * 1000LL),
                     19 * 3600 * 1000LL);
    ferry_config_free(cfg);

    expect_error(MINI_SYNC "    timezone: Asia/Jakata\n",
                 "ferry.yaml:6: syncs.people.timezone: unknown time zone 'Asia/Jakata'");
    expect_error(MINI_SYNC "    timezone: ../../etc/passwd\n",
                 "ferry.yaml:6: syncs.people.timezone: unknown time zone '../../etc/passwd'");
    expect_error("timezone: Mars/Olympus\n" MINI_SYNC,
                 "ferry.yaml:1: timezone: unknown time zone 'Mars/Olympus'");
    expect_error("timezone: [UTC]\n", "ferry.yaml:1: timezone: expected a scalar");
}

/* ---- users and limits ---- */

static void server_keys_have_defaults_and_load(void **state)
{
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok("workers: 2\n");
    assert_int_equal(cfg->session_idle_ms, 30L * 60 * 1000);
    assert_int_equal(cfg->session_max_ms, 12L * 3600 * 1000);
    assert_null(cfg->metrics_token);
    assert_int_equal(cfg->max_connections, 1024);
    assert_int_equal(cfg->max_connections_per_ip, 256);
    assert_int_equal(cfg->idle_timeout_ms, 60000);
    assert_int_equal(cfg->max_body_bytes, 1024 * 1024);
    ferry_config_free(cfg);

    cfg = parse_ok("session_idle: 2h\nsession_max: 7d\nmetrics_token: abcdefghijklmnopq\n"
                   "max_connections: 4096\nmax_connections_per_ip: 0\nidle_timeout: 2m\n"
                   "max_body: 64KiB\n");
    assert_int_equal(cfg->session_idle_ms, 2L * 3600 * 1000);
    assert_int_equal(cfg->session_max_ms, 7L * 86400 * 1000);
    assert_string_equal(cfg->metrics_token, "abcdefghijklmnopq");
    assert_int_equal(cfg->max_connections, 4096);
    assert_int_equal(cfg->max_connections_per_ip, 0);
    assert_int_equal(cfg->idle_timeout_ms, 120000);
    assert_int_equal(cfg->max_body_bytes, 64 * 1024);
    ferry_config_free(cfg);
}

static void lease_and_target_database_load_and_are_checked(void **state)
{
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok("workers: 2\n");
    assert_int_equal(cfg->lease_ms, 5L * 60 * 1000);
    ferry_config_free(cfg);
    cfg = parse_ok("lease: 30s\n"
                   "syncs:\n"
                   "  t:\n"
                   "    source: { url: t.csv }\n"
                   "    target: { table: t, key: id, database: 'postgres://app@db/app' }\n"
                   "    fields: { id: {} }\n");
    assert_int_equal(cfg->lease_ms, 30000);
    assert_string_equal(cfg->syncs[0].target.database, "postgres://app@db/app");
    ferry_config_free(cfg);
    expect_error("lease: 5s\n", "ferry.yaml:1: lease: expected a duration from 10s to 1d");
    /* The value is not echoed: it may hold a password. */
    expect_error("syncs:\n"
                 "  t:\n"
                 "    source: { url: t.csv }\n"
                 "    target: { table: t, key: id, database: 'mysql://u:hunter2@db/x' }\n"
                 "    fields: { id: {} }\n",
                 "ferry.yaml:4: syncs.t.target.database: expected sqlite:PATH or a postgres:// or "
                 "postgresql:// URL");
}

static void shutdown_grace_loads_and_is_checked(void **state)
{
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok("workers: 2\n");
    assert_int_equal(cfg->shutdown_grace_ms, 30000);
    ferry_config_free(cfg);
    cfg = parse_ok("shutdown_grace: 2m\n");
    assert_int_equal(cfg->shutdown_grace_ms, 120000);
    ferry_config_free(cfg);
    cfg = parse_ok("shutdown_grace: 0s\n");
    assert_int_equal(cfg->shutdown_grace_ms, 0);
    ferry_config_free(cfg);
    expect_error("workers: 2\nshutdown_grace: 2d\n",
                 "ferry.yaml:2: shutdown_grace: expected a duration from 0s to 1d");
    expect_error("shutdown_grace: soon\n",
                 "ferry.yaml:1: shutdown_grace: expected a duration such as 500ms, 90s, 15m, 1h or "
                 "2d, not 'soon'");
}

static void metrics_token_from_the_environment(void **state)
{
    ferry_config *cfg;

    (void)state;
    setenv("FERRY_TEST_METRICS_TOKEN", "from-the-environment-123", 1);
    cfg = parse_ok("metrics_token: ${FERRY_TEST_METRICS_TOKEN}\n");
    assert_string_equal(cfg->metrics_token, "from-the-environment-123");
    ferry_config_free(cfg);
    unsetenv("FERRY_TEST_METRICS_TOKEN");
    expect_error("metrics_token: ${FERRY_TEST_METRICS_TOKEN}\n",
                 "ferry.yaml:1: metrics_token: ${FERRY_TEST_METRICS_TOKEN} is not set and "
                 "has no default");
    /* A short token is refused without being echoed. */
    expect_error("metrics_token: secret\n",
                 "ferry.yaml:1: metrics_token: the token must have at least 16 characters");
}

static void cors_origins_are_origins(void **state)
{
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok("cors_origins: [https://admin.example.com, 'http://127.0.0.1:3000']\n");
    assert_int_equal(cfg->ncors_origins, 2);
    assert_string_equal(cfg->cors_origins[0], "https://admin.example.com");
    assert_string_equal(cfg->cors_origins[1], "http://127.0.0.1:3000");
    ferry_config_free(cfg);
    cfg = parse_ok("cors_origins: https://one.example\n"); /* one, without brackets */
    assert_int_equal(cfg->ncors_origins, 1);
    ferry_config_free(cfg);
    expect_error("cors_origins: ['https://admin.example.com/']\n",
                 "ferry.yaml:1: cors_origins: 'https://admin.example.com/' is not an origin: "
                 "expected scheme://host[:port] such as https://admin.example.com, with no path");
    expect_error("cors_origins: ['*']\n",
                 "ferry.yaml:1: cors_origins: '*' is not an origin: expected "
                 "scheme://host[:port] such as https://admin.example.com, with no path");
}

/* ---- notify: and smtp: ---- */

#define NOTIFY_SYNC                                                                                \
    "syncs:\n"                                                                                     \
    "  t:\n"                                                                                       \
    "    source: {url: t.csv}\n"                                                                   \
    "    target: {table: t, key: [id]}\n"                                                          \
    "    fields: {id: {type: integer}}\n"

static void notify_webhook_reads_its_secret_and_defaults(void **state)
{
    ferry_config *cfg;
    const ferry_notify_spec *s;

    (void)state;
    setenv("FERRY_TEST_HOOK_SECRET", "s3cret-value", 1);
    cfg = parse_ok(
        "notify:\n"
        "  webhook: {url: 'https://app.example/hook', secret_env: FERRY_TEST_HOOK_SECRET}\n"
        "listen: 127.0.0.1:9000\n" NOTIFY_SYNC);
    assert_true(cfg->notify.set);
    assert_int_equal(cfg->notify.n, 1);
    s = &cfg->notify.items[0];
    assert_int_equal(s->kind, FERRY_NOTIFY_WEBHOOK);
    assert_string_equal(s->secret, "s3cret-value");
    assert_int_equal(s->on, FERRY_NOTIFY_ON_FINISHED);
    assert_false(s->records);
    assert_int_equal(s->batch, 500);
    assert_string_equal(cfg->public_url, "http://127.0.0.1:9000");
    assert_int_equal(cfg->notify_retry_base_ms, 20000);
    assert_ptr_equal(ferry_config_notify_get(cfg, &cfg->syncs[0]), &cfg->notify);
    ferry_config_free(cfg);
    /* behind a prefix: the links too */
    cfg = parse_ok("listen: 127.0.0.1:9000\nbase_path: /ferry\n");
    assert_string_equal(cfg->public_url, "http://127.0.0.1:9000/ferry");
    ferry_config_free(cfg);
}

static void notify_of_a_sync_replaces_the_top_levels(void **state)
{
    ferry_config *cfg;
    const ferry_notify_list *l;

    (void)state;
    setenv("FERRY_TEST_HOOK_SECRET", "x", 1);
    cfg =
        parse_ok("notify: {webhook: {url: 'http://a.example/h', secret_env: "
                 "FERRY_TEST_HOOK_SECRET}}\n"
                 "public_url: https://admin.example/ferry/\n" NOTIFY_SYNC "    notify:\n"
                 "      - webhook: {url: 'http://b.example/h', secret_env: FERRY_TEST_HOOK_SECRET,"
                 " on: [failed, cancelled], records: true, batch: 100}\n"
                 "      - webhook: {url: 'http://c.example/h', secret_env: FERRY_TEST_HOOK_SECRET,"
                 " on: succeeded}\n");
    l = ferry_config_notify_get(cfg, &cfg->syncs[0]);
    assert_int_equal(l->n, 2);
    assert_string_equal(l->items[0].url, "http://b.example/h");
    assert_int_equal(l->items[0].on, FERRY_NOTIFY_ON_FAILED | FERRY_NOTIFY_ON_CANCELLED);
    assert_true(l->items[0].records);
    assert_int_equal(l->items[0].batch, 100);
    assert_int_equal(l->items[1].on, FERRY_NOTIFY_ON_SUCCEEDED);
    assert_string_equal(cfg->public_url, "https://admin.example/ferry");
    ferry_config_free(cfg);
}

static void notify_secret_env_missing_names_the_variable(void **state)
{
    (void)state;
    unsetenv("FERRY_TEST_NO_SUCH_SECRET");
    expect_error("notify:\n"
                 "  webhook:\n"
                 "    url: https://app.example/hook\n"
                 "    secret_env: FERRY_TEST_NO_SUCH_SECRET\n",
                 "ferry.yaml:4: notify.webhook.secret_env: the environment variable "
                 "FERRY_TEST_NO_SUCH_SECRET is not set");
}

static void notify_webhook_without_secret_is_refused(void **state)
{
    (void)state;
    expect_error("notify: {webhook: {url: 'https://app.example/hook'}}\n",
                 "ferry.yaml:1: notify.webhook: a webhook needs a secret to sign its deliveries: "
                 "secret_env (an environment variable) or secret_file");
}

static void notify_secret_file_is_read_relative_to_the_config(void **state)
{
    char dir[] = "/tmp/ferry-notify-XXXXXX", path[256], yaml[512];
    ferry_config *cfg = NULL;
    ferry_err err;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/hook.secret", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("from-a-file\n", f);
    fclose(f);
    snprintf(yaml, sizeof(yaml),
             "notify: {webhook: {url: 'https://a.example/h', secret_file: hook.secret}}\n");
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", dir, &cfg, &err),
                     FERRY_OK);
    assert_string_equal(cfg->notify.items[0].secret, "from-a-file");
    ferry_config_free(cfg);
    unlink(path);
    snprintf(yaml, sizeof(yaml),
             "notify: {webhook: {url: 'https://a.example/h', secret_file: hook.secret}}\n");
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", dir, &cfg, &err),
                     FERRY_ECONFIG);
    assert_string_equal(err.msg, "ferry.yaml:1: notify.webhook.secret_file: cannot read the "
                                 "secret file 'hook.secret': no such file, or not readable");
    rmdir(dir);
}

static void notify_rejects_bad_endpoints(void **state)
{
    (void)state;
    setenv("FERRY_TEST_HOOK_SECRET", "x", 1);
    expect_error(
        "notify: {webhook: {url: 'ftp://a.example/h', secret_env: FERRY_TEST_HOOK_SECRET}}\n",
        "ferry.yaml:1: notify.webhook.url: expected an http:// or https:// URL, such as "
        "https://app.example.com/ferry/webhook");
    expect_error("notify: {webhook: {url: 'http://a.example/h', secret_env: FERRY_TEST_HOOK_SECRET,"
                 " on: [done]}}\n",
                 "ferry.yaml:1: notify.webhook.on: unknown event 'done' (expected finished, "
                 "succeeded, failed or cancelled)");
    expect_error("notify: {webhook: {url: 'http://a.example/h', secret_env: FERRY_TEST_HOOK_SECRET,"
                 " batch: 20000}}\n",
                 "ferry.yaml:1: notify.webhook.batch: expected a whole number from 1 to 10000, not "
                 "'20000'");
    expect_error("notify: {pg_channel: 'bad name'}\n",
                 "ferry.yaml:1: notify.pg_channel: 'bad name' is not a channel name: letters, "
                 "digits and _, not starting with a digit, at most 63");
    expect_error("notify: {pg_channel: app_sync}\n",
                 "ferry.yaml:1: notify: pg_channel needs a PostgreSQL database (database: "
                 "postgres://...)");
    expect_error("notify: {email: {to: [ops@clinic.example]}}\n",
                 "ferry.yaml:1: notify: an email endpoint needs the top level's smtp: (url, from)");
    expect_error("notify: {email: {to: [ops]}}\n",
                 "ferry.yaml:1: notify.email: 'ops' is not an e-mail address");
}

static void notify_email_endpoint(void **state)
{
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok("smtp: {url: 'smtp://mail.example:587', from: ferry@clinic.example}\n"
                   "notify: {email: {to: [ops@clinic.example, a@clinic.example]}}\n");
    assert_int_equal(cfg->notify.items[0].kind, FERRY_NOTIFY_EMAIL);
    assert_int_equal(cfg->notify.items[0].nto, 2);
    assert_int_equal(cfg->notify.items[0].on, FERRY_NOTIFY_ON_FAILED);
    ferry_config_free(cfg);
}

static void trusted_proxies_are_addresses_or_networks(void **state)
{
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok("trusted_proxies: [10.0.0.5, 192.168.0.0/16, '::1', 'fd00::/8']\n");
    assert_int_equal(cfg->ntrusted_proxies, 4);
    assert_true(ferry_ipnet_contains(cfg->trusted_proxies, 4, "10.0.0.5"));
    assert_false(ferry_ipnet_contains(cfg->trusted_proxies, 4, "10.0.0.6"));
    assert_true(ferry_ipnet_contains(cfg->trusted_proxies, 4, "192.168.7.1"));
    assert_true(ferry_ipnet_contains(cfg->trusted_proxies, 4, "::1"));
    assert_true(ferry_ipnet_contains(cfg->trusted_proxies, 4, "fd12::1"));
    ferry_config_free(cfg);
    cfg = parse_ok("trusted_proxies: 127.0.0.1\n"); /* one, without brackets */
    assert_int_equal(cfg->ntrusted_proxies, 1);
    ferry_config_free(cfg);
    cfg = parse_ok("listen: 127.0.0.1:8080\n");
    assert_int_equal(cfg->ntrusted_proxies, 0); /* none by default: X-Forwarded-For ignored */
    ferry_config_free(cfg);
    expect_error("trusted_proxies: [10.0.0.5, proxy.example]\n",
                 "ferry.yaml:1: trusted_proxies: 'proxy.example' is not an address or a network: "
                 "expected an IPv4 or IPv6 address (10.0.0.5) or a CIDR block (10.0.0.0/8), with "
                 "no bits set past the prefix");
    expect_error("trusted_proxies:\n  - 10.1.0.0/8\n",
                 "ferry.yaml:2: trusted_proxies: '10.1.0.0/8' is not an address or a network: "
                 "expected an IPv4 or IPv6 address (10.0.0.5) or a CIDR block (10.0.0.0/8), with "
                 "no bits set past the prefix");
    expect_error("trusted_proxies: [10.0.0.0/33]\n",
                 "ferry.yaml:1: trusted_proxies: '10.0.0.0/33' is not an address or a network: "
                 "expected an IPv4 or IPv6 address (10.0.0.5) or a CIDR block (10.0.0.0/8), with "
                 "no bits set past the prefix");
}

static void embed_auth_and_base_path_keys(void **state)
{
    ferry_config *cfg;

    (void)state;
    cfg = parse_ok("listen: 127.0.0.1:8080\n");
    assert_null(cfg->embed.secret_env); /* embed tokens off by default */
    assert_null(cfg->auth.trusted_header);
    assert_null(cfg->base_path);
    ferry_config_free(cfg);
    cfg = parse_ok("embed: {secret_env: FERRY_EMBED_SECRET}\n"
                   "auth:\n  trusted_header: X-Forwarded-User\n  trusted_proxies: [10.0.0.5]\n"
                   "base_path: /ferry/\n");
    assert_string_equal(cfg->embed.secret_env, "FERRY_EMBED_SECRET");
    assert_int_equal(cfg->embed.max_age_ms, 10L * 60 * 1000);
    assert_string_equal(cfg->auth.trusted_header, "X-Forwarded-User");
    assert_int_equal(cfg->auth.ntrusted_proxies, 1);
    assert_true(ferry_ipnet_contains(cfg->auth.trusted_proxies, 1, "10.0.0.5"));
    assert_int_equal(cfg->ntrusted_proxies, 0); /* the top level's are another list */
    assert_string_equal(cfg->base_path, "/ferry");
    ferry_config_free(cfg);
    cfg = parse_ok("embed: {secret_env: S, max_age: 2m}\n");
    assert_int_equal(cfg->embed.max_age_ms, 2L * 60 * 1000);
    ferry_config_free(cfg);
    expect_error("embed: {max_age: 5m}\n",
                 "ferry.yaml:1: embed: missing required key 'secret_env'");
    expect_error("embed: {secret_env: S, secret: abc}\n",
                 "ferry.yaml:1: embed.secret: unknown key (expected one of: secret_env, max_age)");
    expect_error("embed: {secret_env: S, max_age: 2s}\n",
                 "ferry.yaml:1: embed.max_age: expected a duration from 10s to 1d");
    expect_error("auth:\n  trusted_header: X-Forwarded-User\n",
                 "ferry.yaml:2: auth: trusted_header needs trusted_proxies: the addresses of the "
                 "proxies allowed to name the user (such as [10.0.0.5/32])");
    expect_error("auth: {trusted_header: 'X User', trusted_proxies: [10.0.0.5]}\n",
                 "ferry.yaml:1: auth: trusted_header must be a header's name such as "
                 "X-Forwarded-User (letters, digits, - and _), not 'X User'");
    expect_error("auth: {trusted_proxies: [10.0.0.5]}\n",
                 "ferry.yaml:1: auth: trusted_proxies is given without trusted_header");
    expect_error("base_path: ferry\n",
                 "ferry.yaml:1: base_path: expected a path such as /ferry (segments of letters, "
                 "digits and . _ ~ -), not 'ferry'");
    expect_error("base_path: /a/../b\n",
                 "ferry.yaml:1: base_path: expected a path such as /ferry (segments of letters, "
                 "digits and . _ ~ -), not '/a/../b'");
}

static void server_keys_out_of_range(void **state)
{
    (void)state;
    expect_error("session_idle: 10s\n",
                 "ferry.yaml:1: session_idle: expected a duration from 60s to 30d");
    expect_error("session_max: forever\n",
                 "ferry.yaml:1: session_max: expected a duration such as 500ms, 90s, 15m, 1h or "
                 "2d, not 'forever'");
    expect_error("max_connections: 2\n",
                 "ferry.yaml:1: max_connections: expected a whole number from 16 to 100000, "
                 "not '2'");
    expect_error("max_body: 10\n",
                 "ferry.yaml:1: max_body: expected a size from 1KiB to 64MiB, such as 1MiB or "
                 "65536");
    expect_error("max_body: 1GiB\n",
                 "ferry.yaml:1: max_body: expected a size from 1KiB to 64MiB, such as 1MiB or "
                 "65536");
}

/* ---- smtp: ---- */

static void smtp_section_loads(void **state)
{
    ferry_config *cfg = parse_ok("smtp:\n"
                                 "  url: smtp://mail.clinic.example:587\n"
                                 "  user_env: SMTP_USER\n"
                                 "  password_env: SMTP_PASSWORD\n"
                                 "  from: ferry@clinic.example\n" MINI_SYNC);

    (void)state;
    assert_string_equal(cfg->smtp.url, "smtp://mail.clinic.example:587");
    assert_string_equal(cfg->smtp.user_env, "SMTP_USER");
    assert_string_equal(cfg->smtp.password_env, "SMTP_PASSWORD");
    assert_string_equal(cfg->smtp.from, "ferry@clinic.example");
    assert_null(cfg->smtp.ca_file);
    assert_true(cfg->smtp.starttls);
    ferry_config_free(cfg);
    cfg = parse_ok(MINI_SYNC);
    assert_null(cfg->smtp.url);
    ferry_config_free(cfg);
}

static void smtp_section_errors(void **state)
{
    (void)state;
    expect_error("smtp: { url: https://mail.example, from: f@x.example }\n" MINI_SYNC,
                 "ferry.yaml:1: smtp.url: expected smtps://HOST:465 (TLS) or smtp://HOST:587 "
                 "(STARTTLS)");
    expect_error("smtp: { url: 'smtps://u:pw@mail.example', from: f@x.example }\n" MINI_SYNC,
                 "ferry.yaml:1: smtp.url: the URL names only the server: put the login in "
                 "user_env and password_env");
    expect_error("smtp: { url: smtps://mail.example, from: ferry }\n" MINI_SYNC,
                 "ferry.yaml:1: smtp.from: expected an e-mail address such as "
                 "ferry@clinic.example");
    expect_error("smtp: { url: smtps://mail.example }\n" MINI_SYNC,
                 "ferry.yaml:1: smtp: missing required key 'from'");
    expect_error("smtp: { url: smtps://mail.example, from: f@x.example, user_env: U }\n" MINI_SYNC,
                 "ferry.yaml:1: smtp: a login needs both user_env and password_env");
    expect_error("smtp: { url: smtp://mail.example, from: f@x.example, user_env: U, "
                 "password_env: P, starttls: false }\n" MINI_SYNC,
                 "ferry.yaml:1: smtp: starttls: false would send the password in clear: use "
                 "smtps:// or leave starttls on");
    expect_error_prefix("smtp: { url: smtps://mail.example, from: f@x.example, ca_file: "
                        "/nonexistent/ca.pem }\n" MINI_SYNC,
                        "ferry.yaml:1: smtp.ca_file: cannot read '/nonexistent/ca.pem'");
}

/* ---- log: ---- */

static void log_section_loads(void **state)
{
    ferry_config *cfg = parse_ok("log: {format: json, level: debug}\n" MINI_SYNC);

    (void)state;
    assert_int_equal(cfg->log.format, FERRY_LOG_JSON);
    assert_int_equal(cfg->log.level, FERRY_LOG_DEBUG);
    ferry_config_free(cfg);
    cfg = parse_ok("log:\n  level: error\n" MINI_SYNC);
    assert_int_equal(cfg->log.format, FERRY_LOG_TEXT);
    assert_int_equal(cfg->log.level, FERRY_LOG_ERROR);
    ferry_config_free(cfg);
    cfg = parse_ok(MINI_SYNC);
    assert_int_equal(cfg->log.format, FERRY_LOG_TEXT);
    assert_int_equal(cfg->log.level, FERRY_LOG_INFO);
    ferry_config_free(cfg);
}

static void log_section_errors(void **state)
{
    (void)state;
    expect_error("log:\n  format: xml\n" MINI_SYNC,
                 "ferry.yaml:2: log.format: unknown log format 'xml' (expected text or json)");
    expect_error("log: {level: verbose}\n" MINI_SYNC,
                 "ferry.yaml:1: log.level: unknown log level 'verbose' (expected debug, info, "
                 "warn or error)");
    expect_error_prefix("log: {colour: red}\n" MINI_SYNC, "ferry.yaml:1: log.colour: unknown key");
}

/* tls: both files or neither, each readable, the key the certificate's; paths relative to
 * the config's directory. */
static void tls_needs_both_readable_files(void **state)
{
    (void)state;
    expect_error("tls: { cert: site.crt }\n" MINI_SYNC,
                 "ferry.yaml:1: tls: HTTPS needs both cert and key");
    expect_error("tls:\n  cert: /nonexistent/site.crt\n  key: /nonexistent/site.key\n" MINI_SYNC,
                 "ferry.yaml:2: tls: cannot read the certificate file '/nonexistent/site.crt': No "
                 "such file or directory");
    expect_error_prefix("tls: { cert: " FERRY_EXAMPLES
                        "/ferry.yaml, key: /nonexistent/k }\n" MINI_SYNC,
                        "ferry.yaml:1: tls: cannot read the key file '/nonexistent/k'");
    expect_error_prefix("tls: { cert: " FERRY_EXAMPLES "/ferry.yaml, key: " FERRY_EXAMPLES
                        "/ferry.yaml }\n" MINI_SYNC,
                        "ferry.yaml:1: tls: the certificate file '");
}

/* ---- retention ---- */

static void retention_defaults_keep_and_durations(void **state)
{
    ferry_config *cfg = parse_ok("syncs: {}\n");

    (void)state;
    assert_int_equal(cfg->retention.runs_ms, 180L * 86400000);
    assert_int_equal(cfg->retention.changes_ms, 30L * 86400000);
    assert_int_equal(cfg->retention.audit_ms, 365L * 86400000);
    assert_int_equal(cfg->retention.every_ms, 3600L * 1000);
    ferry_config_free(cfg);
    cfg = parse_ok("retention: {runs: keep, changes: 7d, audit: keep, every: 10m}\n");
    assert_int_equal(cfg->retention.runs_ms, FERRY_RETENTION_KEEP);
    assert_int_equal(cfg->retention.changes_ms, 7L * 86400000);
    assert_int_equal(cfg->retention.audit_ms, FERRY_RETENTION_KEEP);
    assert_int_equal(cfg->retention.every_ms, 600L * 1000);
    ferry_config_free(cfg);
    cfg = parse_ok("retention: {changes: keep}\n"); /* as long as the run */
    assert_int_equal(cfg->retention.changes_ms, FERRY_RETENTION_KEEP);
    ferry_config_free(cfg);
}

static void retention_errors_name_the_key(void **state)
{
    (void)state;
    expect_error("retention:\n  runs: 10d\n  changes: 20d\n",
                 "ferry.yaml:2: retention: changes may not be kept longer than runs: a run's "
                 "change rows go with the run");
    expect_error("retention:\n  audit: forever\n",
                 "ferry.yaml:2: retention.audit: expected a duration of at least an hour, such "
                 "as 30d, or keep");
    expect_error("retention:\n  runs: 5m\n",
                 "ferry.yaml:2: retention.runs: expected a duration of at least an hour, such "
                 "as 30d, or keep");
    expect_error_prefix("retention:\n  keep: 1d\n", "ferry.yaml:2: retention.keep: unknown key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(design_sketch_loads_as_written),
        cmocka_unit_test(design_sketch_loads_from_file_with_path_and_dir),
        cmocka_unit_test(load_errors_name_the_path_as_given),
        cmocka_unit_test(relative_path_gets_dot_or_its_directory),
        cmocka_unit_test(missing_file_names_the_path),
        cmocka_unit_test(directory_instead_of_file_is_an_io_error),
        cmocka_unit_test(empty_file_is_valid_with_defaults_and_no_syncs),
        cmocka_unit_test(retention_defaults_keep_and_durations),
        cmocka_unit_test(retention_errors_name_the_key),
        cmocka_unit_test(comment_only_or_bare_document_is_valid_with_defaults),
        cmocka_unit_test(top_level_keys_are_read),
        cmocka_unit_test(outbound_keys_merge_into_every_source),
        cmocka_unit_test(outbound_keys_are_validated),
        cmocka_unit_test(unknown_type_names_file_line_and_key),
        cmocka_unit_test(unknown_top_level_key_lists_the_known_ones),
        cmocka_unit_test(smtp_section_loads),
        cmocka_unit_test(smtp_section_errors),
        cmocka_unit_test(log_section_loads),
        cmocka_unit_test(log_section_errors),
        cmocka_unit_test(unknown_key_in_flow_mapping_names_its_line),
        cmocka_unit_test(tenants_query_is_read_and_checked),
        cmocka_unit_test(guard_limits_have_defaults_load_and_are_checked),
        cmocka_unit_test(guard_review_keys_load_and_are_checked),
        cmocka_unit_test(unknown_keys_in_source_and_field_are_errors),
        cmocka_unit_test(transform_keys_load_into_the_field),
        cmocka_unit_test(transform_keys_that_do_not_go_together_are_refused),
        cmocka_unit_test(templates_that_cannot_be_read_are_refused),
        cmocka_unit_test(rest_templates_read_pointers),
        cmocka_unit_test(incremental_rest_source_reads_its_keys_and_checks_where_since_goes),
        cmocka_unit_test(maps_with_repeated_or_empty_keys_are_refused),
        cmocka_unit_test(formats_that_cannot_be_read_are_refused),
        cmocka_unit_test(two_template_fields_may_read_one_column),
        cmocka_unit_test(missing_url_is_reported_at_the_source_mapping),
        cmocka_unit_test(missing_sections_of_a_sync_are_errors),
        cmocka_unit_test(wrong_node_kinds_are_errors),
        cmocka_unit_test(key_naming_an_unknown_field_is_an_error),
        cmocka_unit_test(key_may_be_a_scalar_or_list_and_its_fields_become_required),
        cmocka_unit_test(key_repeats_and_empty_key_are_errors),
        cmocka_unit_test(enum_without_values_is_an_error),
        cmocka_unit_test(values_on_a_non_enum_field_is_an_error),
        cmocka_unit_test(bad_duration_names_the_key),
        cmocka_unit_test(bad_boolean_names_the_key),
        cmocka_unit_test(booleans_accept_yes_no_on_off_in_any_case),
        cmocka_unit_test(yaml_syntax_error_gives_file_and_line),
        cmocka_unit_test(invalid_utf8_is_an_error_naming_its_line),
        cmocka_unit_test(error_quoting_a_line_break_stays_one_line),
        cmocka_unit_test(duplicate_yaml_keys_are_errors),
        cmocka_unit_test(second_yaml_document_is_an_error),
        cmocka_unit_test(database_must_be_sqlite_or_postgres),
        cmocka_unit_test(database_error_does_not_echo_a_password),
        cmocka_unit_test(run_timeout_cooldown_and_retries_load),
        cmocka_unit_test(listen_port_must_be_1_to_65535),
        cmocka_unit_test(workers_must_be_1_to_64),
        cmocka_unit_test(sync_names_are_lowercase_words_up_to_64),
        cmocka_unit_test(table_and_field_names_are_identifiers_without_ferry_prefix),
        cmocka_unit_test(field_names_differing_only_in_case_are_an_error),
        cmocka_unit_test(two_fields_mapping_one_column_is_an_error),
        cmocka_unit_test(field_defaults_and_bare_field_entries),
        cmocka_unit_test(sync_defaults_title_noun_and_source),
        cmocka_unit_test(every_field_type_is_accepted),
        cmocka_unit_test(field_order_follows_the_document),
        cmocka_unit_test(syncs_keep_document_order_and_sync_get_finds_them),
        cmocka_unit_test(sync_field_index_finds_fields_by_exact_name),
        cmocka_unit_test(source_keys_are_read),
        cmocka_unit_test(unknown_source_kind_is_an_error),
        cmocka_unit_test(url_schemes_other_than_file_and_http_are_errors),
        cmocka_unit_test(max_field_bytes_takes_sizes_in_range),
        cmocka_unit_test(delimiter_is_one_character_but_not_quote_or_newline),
        cmocka_unit_test(on_missing_takes_keep_delete_or_flag),
        cmocka_unit_test(skip_rules_in_not_in_and_empty_are_read),
        cmocka_unit_test(skip_labels_are_kept_once_each_in_config_order),
        cmocka_unit_test(skip_label_must_be_a_word_for_messages),
        cmocka_unit_test(record_label_is_split_into_text_and_fields),
        cmocka_unit_test(record_label_naming_no_field_is_refused),
        cmocka_unit_test(skip_on_an_unknown_field_is_an_error),
        cmocka_unit_test(skip_rule_takes_exactly_one_condition),
        cmocka_unit_test(schedule_every_duration_is_read),
        cmocka_unit_test(schedule_other_than_every_duration_is_an_error),
        cmocka_unit_test(cron_schedules_load_and_bad_ones_say_why),
        cmocka_unit_test(timezone_top_level_and_per_sync),
        cmocka_unit_test(duration_parse_accepts_units_and_bare_seconds),
        cmocka_unit_test(duration_parse_rejects_zero_signs_spaces_junk_and_overflow),
        cmocka_unit_test(field_type_name_covers_every_type),
        cmocka_unit_test(anchors_and_aliases_are_resolved),
        cmocka_unit_test(config_free_accepts_null),
        cmocka_unit_test(only_the_first_error_in_document_order_is_reported),
        cmocka_unit_test(error_in_a_late_sync_frees_the_earlier_ones),
        cmocka_unit_test(server_keys_have_defaults_and_load),
        cmocka_unit_test(metrics_token_from_the_environment),
        cmocka_unit_test(lease_and_target_database_load_and_are_checked),
        cmocka_unit_test(shutdown_grace_loads_and_is_checked),
        cmocka_unit_test(server_keys_out_of_range),
        cmocka_unit_test(cors_origins_are_origins),
        cmocka_unit_test(notify_webhook_reads_its_secret_and_defaults),
        cmocka_unit_test(notify_of_a_sync_replaces_the_top_levels),
        cmocka_unit_test(notify_secret_env_missing_names_the_variable),
        cmocka_unit_test(notify_webhook_without_secret_is_refused),
        cmocka_unit_test(notify_secret_file_is_read_relative_to_the_config),
        cmocka_unit_test(notify_rejects_bad_endpoints),
        cmocka_unit_test(notify_email_endpoint),
        cmocka_unit_test(trusted_proxies_are_addresses_or_networks),
        cmocka_unit_test(embed_auth_and_base_path_keys),
        cmocka_unit_test(flag_names_the_apps_column),
        cmocka_unit_test(scope_adds_constant_key_columns),
        cmocka_unit_test(two_syncs_on_one_table_need_scopes_that_keep_them_apart),
        cmocka_unit_test(tls_needs_both_readable_files),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
