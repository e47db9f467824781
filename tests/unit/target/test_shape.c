/* test_shape.c - an application's own tables (src/target/shape.c and the SQLite target's use
 * of it): generated ids, NOT NULL columns named at once, target.timestamps, the statements
 * a refusal gives and ferry_sqlite_target_check() (ferry check, ferry migrate --targets).
 *
 * Each case opens a SQLite database in memory, creates a table the way a framework does and
 * drives the SQLite target with records built by hand. The same rules on PostgreSQL are
 * proven end to end by the integration tests (test_app_tables.py and its pgsuite twin). */
#include "config/config.h"
#include "target/shape.h"
#include "target/target.h"
#include "util/buf.h"

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

/* Fields, in order: email 0, name 1. */
#define THERAPISTS_YAML(target_extra)                                                              \
    "syncs:\n"                                                                                     \
    "  therapists:\n"                                                                              \
    "    source: { url: t.csv }\n"                                                                 \
    "    target: { table: therapists, key: email" target_extra " }\n"                              \
    "    fields: { email: {}, name: {} }\n"

typedef struct {
    sqlite3 *db;
    ferry_config *cfg;
    const ferry_sync_spec *sync;
    ferry_target *target;
    ferry_apply_result res;
    ferry_err err;
} fixture;

static void open_fx(fixture *fx, const char *yaml, const char *ddl)
{
    memset(fx, 0, sizeof(*fx));
    ferry_err_clear(&fx->err);
    assert_int_equal(sqlite3_open(":memory:", &fx->db), SQLITE_OK);
    if (ddl != NULL)
        assert_int_equal(sqlite3_exec(fx->db, ddl, NULL, NULL, NULL), SQLITE_OK);
    if (ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &fx->cfg, &fx->err) != FERRY_OK)
        fail_msg("config: %s", fx->err.msg);
    fx->sync = &fx->cfg->syncs[0];
}

static void close_fx(fixture *fx)
{
    ferry_target_free(fx->target);
    ferry_config_free(fx->cfg);
    sqlite3_close(fx->db);
}

static ferry_rc begin(fixture *fx)
{
    ferry_target_free(fx->target);
    fx->target = NULL;
    ferry_err_clear(&fx->err);
    assert_int_equal(ferry_sqlite_target_new(fx->db, fx->sync, NULL, &fx->target, &fx->err),
                     FERRY_OK);
    return fx->target->ops->begin(fx->target, &fx->err);
}

static ferry_outcome apply(fixture *fx, const char *email, const char *name)
{
    const char *values[2] = {email, name};
    size_t lens[2] = {strlen(email), strlen(name)};
    ferry_mapped_record rec = {.nvalues = 2, .value = values, .len = lens, .key = email, .row = 2};

    assert_int_equal(fx->target->ops->apply(fx->target, &rec, &fx->res, &fx->err), FERRY_OK);
    return fx->res.outcome;
}

static ferry_rc on_missing_row(void *ctx, const char *key, const char *row_values, ferry_err *err)
{
    (void)ctx;
    (void)key;
    (void)row_values;
    (void)err;
    return FERRY_OK;
}

static void commit(fixture *fx)
{
    assert_int_equal(fx->target->ops->finish(fx->target, NULL, on_missing_row, NULL, &fx->err),
                     FERRY_OK);
    assert_int_equal(fx->target->ops->commit(fx->target, &fx->err), FERRY_OK);
}

/* The first row of sql as "a|b|c" (NULL as "NULL"), into out. */
static void row(fixture *fx, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *st;
    size_t n = 0;

    out[0] = '\0';
    assert_int_equal(sqlite3_prepare_v2(fx->db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? "|" : "", v ? v : "NULL");
        }
    }
    sqlite3_finalize(st);
}

/* A run on the table ddl makes is refused with message, and ferry check says the same. */
static void expect_refused(const char *yaml, const char *ddl, const char *message)
{
    fixture fx;

    open_fx(&fx, yaml, ddl);
    assert_int_equal(begin(&fx), FERRY_ESCHEMA);
    assert_string_equal(fx.err.msg, message);
    fx.target->ops->rollback(fx.target);
    ferry_err_clear(&fx.err);
    assert_int_equal(ferry_sqlite_target_check(fx.db, fx.sync, false, NULL, &fx.err),
                     FERRY_ESCHEMA);
    assert_string_equal(fx.err.msg, message);
    close_fx(&fx);
}

static void rowid_alias_ids_of_every_framework_are_filled_by_sqlite(void **state)
{
    static const char *const ids[] = {
        "\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL", /* Rails */
        "\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT", /* Django */
        "\"id\" integer primary key autoincrement not null", /* Laravel */
        "id INTEGER PRIMARY KEY",                            /* a plain rowid alias */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char ddl[512], got[256];
        fixture fx;
        snprintf(ddl, sizeof(ddl),
                 "CREATE TABLE therapists (%s, email varchar NOT NULL, name varchar);"
                 "CREATE UNIQUE INDEX index_therapists_on_email ON therapists (email)",
                 ids[i]);
        open_fx(&fx, THERAPISTS_YAML(""), ddl);
        if (begin(&fx) != FERRY_OK)
            fail_msg("%s: %s", ids[i], fx.err.msg);
        assert_int_equal(apply(&fx, "ayu@x.io", "Ayu"), FERRY_OUTCOME_CREATED);
        assert_int_equal(apply(&fx, "budi@x.io", "Budi"), FERRY_OUTCOME_CREATED);
        commit(&fx);
        row(&fx, "SELECT group_concat(id || ':' || email, ',') FROM therapists", got, sizeof(got));
        assert_string_equal(got, "1:ayu@x.io,2:budi@x.io");
        close_fx(&fx);
    }
}

static void integer_id_beside_another_primary_key_column_is_not_generated(void **state)
{
    (void)state;
    /* PRIMARY KEY (id, email): id is no rowid alias, and nothing fills it. */
    expect_refused(THERAPISTS_YAML(""),
                   "CREATE TABLE therapists (id INTEGER NOT NULL, email TEXT NOT NULL, name TEXT,"
                   " PRIMARY KEY (id, email));"
                   "CREATE UNIQUE INDEX therapists_email ON therapists (email)",
                   "table therapists has a NOT NULL column 'id' without a "
                   "default that no field fills: map it or give it a default");
}

static void unfilled_not_null_columns_are_named_at_once(void **state)
{
    (void)state;
    expect_refused(THERAPISTS_YAML(""),
                   "CREATE TABLE therapists (id integer PRIMARY KEY AUTOINCREMENT NOT NULL,"
                   " email TEXT NOT NULL UNIQUE, name TEXT, location_id bigint NOT NULL,"
                   " license TEXT NOT NULL, notes TEXT NOT NULL DEFAULT '')",
                   "table therapists has NOT NULL columns 'location_id', 'license' without "
                   "a default that no field fills: map them or give them defaults");
}

static void key_without_a_unique_index_gives_the_statement_to_run(void **state)
{
    (void)state;
    expect_refused("syncs:\n"
                   "  therapists:\n"
                   "    source: { url: t.csv }\n"
                   "    target: { table: therapists, key: [clinic, email] }\n"
                   "    fields: { clinic: {}, email: {} }\n",
                   "CREATE TABLE therapists (id integer PRIMARY KEY AUTOINCREMENT NOT NULL,"
                   " clinic TEXT, email TEXT);"
                   "CREATE INDEX therapists_email ON therapists (clinic, email)",
                   "table therapists has no primary key or unique index on (clinic, email), "
                   "the sync's key: create one so each key is one row: CREATE UNIQUE INDEX "
                   "\"therapists_clinic_email_key\" ON \"therapists\" (\"clinic\", "
                   "\"email\")");
}

static void missing_field_columns_give_every_alter_table(void **state)
{
    (void)state;
    expect_refused("syncs:\n"
                   "  therapists:\n"
                   "    source: { url: t.csv }\n"
                   "    target: { table: therapists, key: email }\n"
                   "    fields: { email: {}, name: {}, phone: {}, years: { type: integer } }\n",
                   "CREATE TABLE therapists (email TEXT PRIMARY KEY, name TEXT)",
                   "table therapists exists but has no column 'phone' for field 'phone': add "
                   "the column or rename the field: ALTER TABLE \"therapists\" ADD COLUMN "
                   "\"phone\" TEXT; ALTER TABLE \"therapists\" ADD COLUMN \"years\" INTEGER");
}

static void missing_timestamp_column_is_a_schema_error(void **state)
{
    (void)state;
    expect_refused(
        THERAPISTS_YAML(", timestamps: { created: inserted_at, updated: modified_at }"),
        "CREATE TABLE therapists (email TEXT PRIMARY KEY, name TEXT, inserted_at TEXT)",
        "table therapists has no column 'modified_at' for target.timestamps: add it (ALTER TABLE "
        "\"therapists\" ADD COLUMN \"modified_at\" TEXT) or name the table's column in "
        "target.timestamps: {updated: COLUMN}");
}

static void timestamps_are_set_on_insert_and_bumped_only_on_change(void **state)
{
    char first[256], second[256], third[256], other[256];
    fixture fx;

    (void)state;
    open_fx(&fx, THERAPISTS_YAML(", timestamps: true"),
            "CREATE TABLE \"therapists\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL,"
            " \"email\" varchar NOT NULL, \"name\" varchar,"
            " \"created_at\" datetime(6) NOT NULL, \"updated_at\" datetime(6) NOT NULL);"
            "CREATE UNIQUE INDEX \"index_therapists_on_email\" ON \"therapists\" (\"email\")");
    assert_int_equal(begin(&fx), FERRY_OK);
    assert_int_equal(apply(&fx, "ayu@x.io", "Ayu"), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, "budi@x.io", "Budi"), FERRY_OUTCOME_CREATED);
    commit(&fx);
    row(&fx, "SELECT created_at, updated_at FROM therapists WHERE email = 'ayu@x.io'", first,
        sizeof(first));
    /* "2026-03-01 09:00:00.123456|" twice: Rails' own format, in UTC. */
    assert_int_equal(strlen(first), 26 * 2 + 1);
    assert_memory_equal(first, first + 27, 26);
    assert_true(first[10] == ' ' && first[19] == '.');

    assert_int_equal(begin(&fx), FERRY_OK);
    assert_int_equal(apply(&fx, "ayu@x.io", "Ayu"), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply(&fx, "budi@x.io", "Budi S."), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_json, "{\"name\":[\"Budi\",\"Budi S.\"]}");
    commit(&fx);
    row(&fx, "SELECT created_at, updated_at FROM therapists WHERE email = 'ayu@x.io'", second,
        sizeof(second));
    assert_string_equal(second, first); /* unchanged: neither column moves */
    row(&fx, "SELECT created_at, updated_at FROM therapists WHERE email = 'budi@x.io'", other,
        sizeof(other));
    assert_memory_equal(other, first, 26);           /* created_at kept */
    assert_true(strcmp(other + 27, first + 27) > 0); /* updated_at bumped */
    row(&fx, "SELECT count(*) FROM therapists WHERE created_at = updated_at", third, sizeof(third));
    assert_string_equal(third, "1");
    close_fx(&fx);
}

static void flagging_bumps_updated_at(void **state)
{
    char before[256], after[256];
    fixture fx;

    (void)state;
    open_fx(&fx, THERAPISTS_YAML(", timestamps: true, on_missing: flag"), NULL);
    assert_int_equal(begin(&fx), FERRY_OK);
    assert_int_equal(apply(&fx, "ayu@x.io", "Ayu"), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, "budi@x.io", "Budi"), FERRY_OUTCOME_CREATED);
    commit(&fx);
    row(&fx, "SELECT updated_at FROM therapists WHERE email = 'budi@x.io'", before, sizeof(before));
    assert_int_equal(begin(&fx), FERRY_OK);
    assert_int_equal(apply(&fx, "ayu@x.io", "Ayu"), FERRY_OUTCOME_UNCHANGED);
    commit(&fx);
    row(&fx,
        "SELECT updated_at FROM therapists WHERE email = 'budi@x.io'"
        " AND ferry_missing_since IS NOT NULL",
        after, sizeof(after));
    assert_true(strcmp(after, before) > 0);
    close_fx(&fx);
}

static void migrate_adds_columns_to_tables_ferry_created_only(void **state)
{
    char got[512];
    ferry_buf done;
    fixture fx;

    (void)state;
    ferry_buf_init(&done, 4096);
    open_fx(&fx, THERAPISTS_YAML(""), NULL);
    assert_int_equal(begin(&fx), FERRY_OK); /* Ferry creates the table */
    assert_int_equal(apply(&fx, "ayu@x.io", "Ayu"), FERRY_OUTCOME_CREATED);
    commit(&fx);
    ferry_target_free(fx.target);
    fx.target = NULL;
    ferry_config_free(fx.cfg);
    /* A new field and timestamps since the table was made. */
    {
        const char *yaml = "syncs:\n"
                           "  therapists:\n"
                           "    source: { url: t.csv }\n"
                           "    target: { table: therapists, key: email, timestamps: true }\n"
                           "    fields: { email: {}, name: {}, phone: {} }\n";
        assert_int_equal(
            ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &fx.cfg, &fx.err), FERRY_OK);
    }
    fx.sync = &fx.cfg->syncs[0];
    /* A run refuses, pointing at ferry migrate --targets as Ferry made the table. */
    assert_int_equal(begin(&fx), FERRY_ESCHEMA);
    assert_string_equal(fx.err.msg,
                        "table therapists exists but has no column 'phone' for field 'phone': add "
                        "the column or rename the field: ALTER TABLE \"therapists\" ADD COLUMN "
                        "\"phone\" TEXT (or run ferry migrate --targets, as Ferry created the "
                        "table)");
    fx.target->ops->rollback(fx.target);
    ferry_err_clear(&fx.err);
    assert_int_equal(ferry_sqlite_target_check(fx.db, fx.sync, true, &done, &fx.err), FERRY_OK);
    assert_string_equal(ferry_buf_str(&done),
                        "ALTER TABLE \"therapists\" ADD COLUMN \"phone\" TEXT;"
                        "ALTER TABLE \"therapists\" ADD COLUMN \"created_at\" TEXT;"
                        "ALTER TABLE \"therapists\" ADD COLUMN \"updated_at\" TEXT;");
    row(&fx, "SELECT email, phone, created_at FROM therapists", got, sizeof(got));
    assert_string_equal(got, "ayu@x.io|NULL|NULL");
    /* A second migrate has nothing to do; a run now goes through. */
    ferry_buf_reset(&done);
    assert_int_equal(ferry_sqlite_target_check(fx.db, fx.sync, true, &done, &fx.err), FERRY_OK);
    assert_int_equal(done.len, 0);
    assert_int_equal(begin(&fx), FERRY_OK);
    fx.target->ops->rollback(fx.target);

    /* A table someone else made is left alone, with the statements to run. */
    assert_int_equal(sqlite3_exec(fx.db,
                                  "DROP TABLE therapists; CREATE TABLE therapists (email TEXT "
                                  "PRIMARY KEY, name TEXT)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ferry_err_clear(&fx.err);
    assert_int_equal(ferry_sqlite_target_check(fx.db, fx.sync, true, &done, &fx.err),
                     FERRY_ESCHEMA);
    assert_string_equal(fx.err.msg,
                        "table therapists was not created by Ferry, so ferry migrate --targets "
                        "leaves it alone: add its columns yourself: ALTER TABLE \"therapists\" "
                        "ADD COLUMN \"phone\" TEXT;ALTER TABLE \"therapists\" ADD COLUMN "
                        "\"created_at\" TEXT;ALTER TABLE \"therapists\" ADD COLUMN "
                        "\"updated_at\" TEXT;");
    row(&fx, "SELECT count(*) FROM pragma_table_info('therapists')", got, sizeof(got));
    assert_string_equal(got, "2");
    ferry_buf_done(&done);
    close_fx(&fx);
}

static void timestamps_config_takes_true_false_and_names(void **state)
{
    static const char *const ok[][3] = {
        {", timestamps: true", "created_at", "updated_at"},
        {", timestamps: false", NULL, NULL},
        {", timestamps: { created: inserted_at, updated: modified_at }", "inserted_at",
         "modified_at"},
        {", timestamps: { updated: changed_on }", "created_at", "changed_on"},
    };
    char yaml[1024];
    ferry_config *cfg;
    ferry_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(yaml, sizeof(yaml),
                 "syncs:\n  t:\n    source: { url: t.csv }\n"
                 "    target: { table: t, key: email%s }\n    fields: { email: {} }\n",
                 ok[i][0]);
        ferry_err_clear(&err);
        if (ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err) != FERRY_OK)
            fail_msg("%s: %s", ok[i][0], err.msg);
        if (ok[i][1] == NULL) {
            assert_null(cfg->syncs[0].target.created_column);
            assert_null(cfg->syncs[0].target.updated_column);
        } else {
            assert_string_equal(cfg->syncs[0].target.created_column, ok[i][1]);
            assert_string_equal(cfg->syncs[0].target.updated_column, ok[i][2]);
        }
        ferry_config_free(cfg);
    }
    snprintf(yaml, sizeof(yaml),
             "syncs:\n  t:\n    source: { url: t.csv }\n"
             "    target: { table: t, key: email, timestamps: true }\n"
             "    fields: { email: {}, updated_at: {} }\n");
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err),
                     FERRY_ECONFIG);
    assert_string_equal(err.msg, "ferry.yaml:2: syncs.t.target.timestamps: field 'updated_at' is "
                                 "also the updated timestamp column: remove the field (Ferry fills "
                                 "the column) or name another column");
    snprintf(yaml, sizeof(yaml),
             "syncs:\n  t:\n    source: { url: t.csv }\n"
             "    target: { table: t, key: email, timestamps: { created: a, updated: a } }\n"
             "    fields: { email: {} }\n");
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &cfg, &err),
                     FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "created and updated name the same column 'a'"));
}

static void time_is_utc_with_microseconds(void **state)
{
    char plain[FERRY_TARGET_TIME_MAX], zoned[FERRY_TARGET_TIME_MAX];

    (void)state;
    ferry_target_time_now(false, plain);
    ferry_target_time_now(true, zoned);
    assert_int_equal(strlen(plain), 26);
    assert_int_equal(strlen(zoned), 29);
    assert_string_equal(zoned + 26, "+00");
    assert_true(plain[4] == '-' && plain[7] == '-' && plain[10] == ' ' && plain[13] == ':' &&
                plain[16] == ':' && plain[19] == '.');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rowid_alias_ids_of_every_framework_are_filled_by_sqlite),
        cmocka_unit_test(integer_id_beside_another_primary_key_column_is_not_generated),
        cmocka_unit_test(unfilled_not_null_columns_are_named_at_once),
        cmocka_unit_test(key_without_a_unique_index_gives_the_statement_to_run),
        cmocka_unit_test(missing_field_columns_give_every_alter_table),
        cmocka_unit_test(missing_timestamp_column_is_a_schema_error),
        cmocka_unit_test(timestamps_are_set_on_insert_and_bumped_only_on_change),
        cmocka_unit_test(flagging_bumps_updated_at),
        cmocka_unit_test(migrate_adds_columns_to_tables_ferry_created_only),
        cmocka_unit_test(timestamps_config_takes_true_false_and_names),
        cmocka_unit_test(time_is_utc_with_microseconds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
