/* test_sqlite_target.c - the SQLite target (src/target/sqlite_target.c).
 *
 * Each test opens a store in a fresh temporary database (so Ferry's own tables exist next to
 * the synced one, as in a real run), builds records with the real mapper from raw values, and
 * drives the target through begin/apply/keep/finish/commit/rollback. It covers the table
 * created from the fields, created/updated/unchanged with their diffs, duplicates within a run
 * on the fast first-load path and the lookup path, the checks on an existing table, on_missing
 * delete and flag, rollback, and integer/boolean columns comparing equal on a re-sync. */
#include "config/config.h"
#include "store/store.h"
#include "sync/map.h"
#include "target/target.h"
#include "testutil.h"
#include "util/buf.h"

#include <sqlite3.h>
#include <stdint.h>
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

/* Fields, in order: id 0, name 1, email 2, age 3, active 4, salary 5. */
#define STAFF_YAML(on_missing)                                                                     \
    "syncs:\n"                                                                                     \
    "  staff:\n"                                                                                   \
    "    source: { url: staff.csv }\n"                                                             \
    "    target: { table: staff, key: id, on_missing: " on_missing " }\n"                          \
    "    fields:\n"                                                                                \
    "      id: {}\n"                                                                               \
    "      name: { required: true }\n"                                                             \
    "      email: { type: email }\n"                                                               \
    "      age: { type: integer }\n"                                                               \
    "      active: { type: boolean }\n"                                                            \
    "      salary: { type: decimal }\n"

#define NFIELDS 6

/* The staff table as Ferry would create it, for tests that create it themselves. */
#define STAFF_COLUMNS "id TEXT, name TEXT, email TEXT, age INTEGER, active INTEGER, salary TEXT"

typedef struct {
    char *dir;
    ferry_store *store;
    sqlite3 *db;
    ferry_config *cfg;
    const ferry_sync_spec *sync;
    ferry_mapper *mapper;
    ferry_target *target;
    ferry_apply_result res;
    ferry_mapped_record rec;
    ferry_buf missing; /* keys reported by finish(), comma-separated */
} fixture;

static void open_fx(fixture *fx, const char *yaml)
{
    char path[4200];
    ferry_err err;

    memset(fx, 0, sizeof(*fx));
    fx->dir = tu_tempdir();
    assert_non_null(fx->dir);
    snprintf(path, sizeof(path), "%s/ferry.db", fx->dir);
    ferry_err_clear(&err);
    if (ferry_sqlite_store_open(path, &fx->store, &err) != FERRY_OK)
        fail_msg("store: %s", err.msg);
    fx->db = ferry_sqlite_store_db(fx->store);
    if (ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", fx->dir, &fx->cfg, &err) != FERRY_OK)
        fail_msg("config: %s", err.msg);
    fx->sync = &fx->cfg->syncs[0];
    assert_int_equal(ferry_mapper_new(fx->sync, NULL, &fx->mapper, &err), FERRY_OK);
    ferry_buf_init(&fx->missing, 4096);
}

static void close_fx(fixture *fx)
{
    ferry_target_free(fx->target);
    ferry_mapper_free(fx->mapper);
    ferry_config_free(fx->cfg);
    ferry_store_free(fx->store);
    ferry_buf_done(&fx->missing);
    tu_rmtree(fx->dir);
    free(fx->dir);
}

static void exec_sql(fixture *fx, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(fx->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, msg);
        sqlite3_free(msg);
        fail();
    }
}

/* Every row of sql as "a|b|c\n" (NULL as "NULL"); the caller frees. */
static char *dump(fixture *fx, const char *sql)
{
    sqlite3_stmt *st;
    ferry_buf b;

    ferry_buf_init(&b, 1 << 20);
    if (sqlite3_prepare_v2(fx->db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(fx->db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            ferry_buf_printf(&b, "%s%s", i ? "|" : "", v != NULL ? v : "NULL");
        }
        ferry_buf_printf(&b, "\n");
    }
    sqlite3_finalize(st);
    return ferry_buf_take(&b);
}

static void expect_dump(fixture *fx, const char *sql, const char *want)
{
    char *got = dump(fx, sql);

    if (strcmp(got, want) != 0) {
        fprintf(stderr, "%s\ngot:\n%swant:\n%s", sql, got, want);
        free(got);
        fail();
    }
    free(got);
}

static bool table_exists(fixture *fx, const char *name)
{
    sqlite3_stmt *st;
    bool found;

    assert_int_equal(
        sqlite3_prepare_v2(fx->db, "SELECT 1 FROM sqlite_master WHERE name = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* Creates the target and begins; returns begin's code. */
static ferry_rc try_begin(fixture *fx, ferry_err *err)
{
    ferry_err_clear(err);
    ferry_target_free(fx->target);
    fx->target = NULL;
    assert_int_equal(ferry_sqlite_target_new(fx->db, fx->sync, NULL, &fx->target, err), FERRY_OK);
    return fx->target->ops->begin(fx->target, err);
}

static void begin(fixture *fx)
{
    ferry_err err;

    if (try_begin(fx, &err) != FERRY_OK)
        fail_msg("begin: %s", err.msg);
}

/* Maps raw values at row into fx->rec; returns the mapper's result. */
static ferry_map_result map(fixture *fx, long row, const char *const *raw)
{
    size_t len[NFIELDS + 4];
    ferry_source_record in;
    ferry_map_result result;
    ferry_err err;

    for (size_t i = 0; i < fx->sync->nfields; i++)
        len[i] = raw[i] != NULL ? strlen(raw[i]) : 0;
    memset(&in, 0, sizeof(in));
    in.nvalues = fx->sync->nfields;
    in.value = raw;
    in.len = len;
    in.row = row;
    ferry_err_clear(&err);
    assert_int_equal(ferry_mapper_map(fx->mapper, &in, &result, &fx->rec, &err), FERRY_OK);
    return result;
}

/* Maps and applies one record; returns its outcome (fx->res has the rest). */
static ferry_outcome apply(fixture *fx, long row, const char *const *raw)
{
    ferry_err err;

    if (map(fx, row, raw) != FERRY_MAP_OK)
        fail_msg("row %ld did not map: %s", row, fx->rec.reason);
    ferry_err_clear(&err);
    if (fx->target->ops->apply(fx->target, &fx->rec, &fx->res, &err) != FERRY_OK)
        fail_msg("apply row %ld: %s", row, err.msg);
    return fx->res.outcome;
}

static void commit(fixture *fx)
{
    ferry_err err;

    ferry_err_clear(&err);
    if (fx->target->ops->commit(fx->target, &err) != FERRY_OK)
        fail_msg("commit: %s", err.msg);
    ferry_target_free(fx->target);
    fx->target = NULL;
}

static void rollback(fixture *fx)
{
    fx->target->ops->rollback(fx->target);
    ferry_target_free(fx->target);
    fx->target = NULL;
}

static ferry_rc collect_missing(void *ctx, const char *key, ferry_err *err)
{
    fixture *fx = ctx;

    (void)err;
    ferry_buf_printf(&fx->missing, "%s%s", fx->missing.len ? "," : "", key);
    return FERRY_OK;
}

static void finish(fixture *fx)
{
    ferry_err err;

    ferry_err_clear(&err);
    ferry_buf_reset(&fx->missing);
    if (fx->target->ops->finish(fx->target, collect_missing, fx, &err) != FERRY_OK)
        fail_msg("finish: %s", err.msg);
}

static const char *const ayu[NFIELDS] = {"E001", "Ayu", "ayu@example.com", "30", "yes", "1.50"};
static const char *const budi[NFIELDS] = {"E002", "Budi", NULL, "41", "no", NULL};
static const char *const citra[NFIELDS] = {"E003", "Citra", "citra@example.com", NULL, NULL, "12"};

/* A first run that creates ayu, budi and citra. */
static void load_three(fixture *fx)
{
    begin(fx);
    assert_int_equal(apply(fx, 2, ayu), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(fx, 3, budi), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(fx, 4, citra), FERRY_OUTCOME_CREATED);
    commit(fx);
}

#define STAFF_ROWS "SELECT id, name, email, age, active, salary FROM staff ORDER BY id"
#define THREE_ROWS                                                                                 \
    "E001|Ayu|ayu@example.com|30|1|1.5\n"                                                          \
    "E002|Budi|NULL|41|0|NULL\n"                                                                   \
    "E003|Citra|citra@example.com|NULL|NULL|12\n"

static void table_is_created_with_column_types_and_primary_key(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    assert_false(table_exists(&fx, "staff"));
    begin(&fx);
    commit(&fx);
    expect_dump(&fx, "SELECT name, type, \"notnull\", pk FROM pragma_table_info('staff')",
                "id|TEXT|1|1\n"
                "name|TEXT|1|0\n"
                "email|TEXT|0|0\n"
                "age|INTEGER|0|0\n"
                "active|INTEGER|0|0\n"
                "salary|TEXT|0|0\n");
    close_fx(&fx);
}

static void composite_key_becomes_a_composite_primary_key(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, "syncs:\n"
                 "  shifts:\n"
                 "    source: { url: s.csv }\n"
                 "    target: { table: shifts, key: [day, room] }\n"
                 "    fields: { day: { type: date }, room: { type: integer }, who: {} }\n");
    begin(&fx);
    commit(&fx);
    expect_dump(&fx, "SELECT name, type, \"notnull\", pk FROM pragma_table_info('shifts')",
                "day|TEXT|1|1\n"
                "room|INTEGER|1|2\n"
                "who|TEXT|0|0\n");
    close_fx(&fx);
}

static void flag_mode_table_gets_a_missing_since_column(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("flag"));
    begin(&fx);
    commit(&fx);
    expect_dump(&fx, "SELECT name, type FROM pragma_table_info('staff') WHERE cid >= 6",
                "ferry_missing_since|TEXT\n");
    close_fx(&fx);
}

static void first_records_are_created_with_typed_values(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    load_three(&fx);
    expect_dump(&fx, STAFF_ROWS, THREE_ROWS);
    expect_dump(&fx,
                "SELECT typeof(age), typeof(active), typeof(salary) FROM staff WHERE id = "
                "'E001'",
                "integer|integer|text\n");
    close_fx(&fx);
}

static void same_record_again_is_unchanged(void **state)
{
    /* Other spellings of the same canonical values. */
    const char *const ayu_again[NFIELDS] = {"E001", " Ayu ", "ayu@EXAMPLE.com",
                                            "030",  "Y",     "1.5000"};
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    load_three(&fx);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu_again), FERRY_OUTCOME_UNCHANGED);
    assert_null(fx.res.diff_json);
    assert_null(fx.res.diff_text);
    assert_null(fx.res.reason);
    assert_int_equal(apply(&fx, 3, budi), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply(&fx, 4, citra), FERRY_OUTCOME_UNCHANGED);
    commit(&fx);
    expect_dump(&fx, STAFF_ROWS, THREE_ROWS);
    close_fx(&fx);
}

static void integer_and_boolean_columns_compare_equal_on_resync(void **state)
{
    const char *const extremes[NFIELDS] = {"E9", "Max", NULL, "9223372036854775807", "TRUE", "0"};
    const char *const lows[NFIELDS] = {"E8", "Min", NULL, "-9223372036854775808", "off", "-0.0"};
    const char *const zeros[NFIELDS] = {"E7", "Zero", NULL, "-0", "0", ".50"};
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    begin(&fx);
    assert_int_equal(apply(&fx, 2, extremes), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, 3, lows), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, 4, zeros), FERRY_OUTCOME_CREATED);
    commit(&fx);
    for (int run = 0; run < 2; run++) {
        begin(&fx);
        assert_int_equal(apply(&fx, 2, extremes), FERRY_OUTCOME_UNCHANGED);
        assert_int_equal(apply(&fx, 3, lows), FERRY_OUTCOME_UNCHANGED);
        assert_int_equal(apply(&fx, 4, zeros), FERRY_OUTCOME_UNCHANGED);
        commit(&fx);
    }
    expect_dump(&fx, "SELECT id, age, typeof(age), active, salary FROM staff ORDER BY id",
                "E7|0|integer|0|0.5\n"
                "E8|-9223372036854775808|integer|0|0\n"
                "E9|9223372036854775807|integer|1|0\n");
    close_fx(&fx);
}

static void changed_fields_are_updated_with_json_and_text_diff(void **state)
{
    const char *const ayu_new[NFIELDS] = {"E001", "Ayu Lestari", "ayu@example.com",
                                          "31",   "yes",         "1.50"};
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    load_three(&fx);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu_new), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_json, "{\"name\":[\"Ayu\",\"Ayu Lestari\"],\"age\":[\"30\","
                                          "\"31\"]}");
    assert_string_equal(fx.res.diff_text, "name: 'Ayu' -> 'Ayu Lestari', age: '30' -> '31'");
    commit(&fx);
    expect_dump(&fx, "SELECT name, age FROM staff WHERE id = 'E001'", "Ayu Lestari|31\n");
    close_fx(&fx);
}

static void emptied_and_filled_fields_diff_against_null(void **state)
{
    const char *const ayu_new[NFIELDS] = {"E001", "Ayu", "", "30", "yes", "1.50"};
    const char *const budi_new[NFIELDS] = {"E002", "Budi", "budi@example.com", "41", "no", NULL};
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    load_three(&fx);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu_new), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_json, "{\"email\":[\"ayu@example.com\",null]}");
    assert_string_equal(fx.res.diff_text, "email: 'ayu@example.com' -> (empty)");
    assert_int_equal(apply(&fx, 3, budi_new), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_json, "{\"email\":[null,\"budi@example.com\"]}");
    assert_string_equal(fx.res.diff_text, "email: (empty) -> 'budi@example.com'");
    commit(&fx);
    expect_dump(&fx, "SELECT id, email FROM staff WHERE id < 'E003' ORDER BY id",
                "E001|NULL\nE002|budi@example.com\n");
    close_fx(&fx);
}

static void diff_text_cuts_long_values_on_a_character_boundary(void **state)
{
    char longname[128];
    const char *const ayu_new[NFIELDS] = {"E001", longname, "ayu@example.com", "30", "yes", "1.50"};
    char want[256];
    fixture fx;

    (void)state;
    /* 56 ASCII bytes, then a 2-byte 'é' straddling byte 57. */
    memset(longname, 'n', 56);
    snprintf(longname + 56, sizeof(longname) - 56, "\xC3\xA9 and then some more text");
    snprintf(want, sizeof(want), "name: 'Ayu' -> '%.56s...'", longname);
    open_fx(&fx, STAFF_YAML("keep"));
    load_three(&fx);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu_new), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_text, want);
    commit(&fx);
    close_fx(&fx);
}

static void duplicate_key_in_one_run_fails_second_record_when_table_started_empty(void **state)
{
    const char *const ayu_twin[NFIELDS] = {"E001", "Other Ayu", NULL, NULL, NULL, NULL};
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, 3, ayu_twin), FERRY_OUTCOME_FAILED);
    assert_string_equal(fx.res.reason,
                        "duplicate key id 'E001': an earlier row of this source has the same key");
    assert_int_equal(apply(&fx, 4, budi), FERRY_OUTCOME_CREATED);
    commit(&fx);
    expect_dump(&fx, "SELECT id, name FROM staff ORDER BY id", "E001|Ayu\nE002|Budi\n");
    close_fx(&fx);
}

static void duplicate_key_in_one_run_fails_second_record_when_table_had_rows(void **state)
{
    const char *const ayu_twin[NFIELDS] = {"E001", "Other Ayu", NULL, NULL, NULL, NULL};
    const char *const dewi[NFIELDS] = {"E004", "Dewi", NULL, NULL, NULL, NULL};
    const char *const dewi_twin[NFIELDS] = {"E004", "Other Dewi", NULL, NULL, NULL, NULL};
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    load_three(&fx);
    begin(&fx);
    /* An existing key seen twice. */
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply(&fx, 3, ayu_twin), FERRY_OUTCOME_FAILED);
    assert_string_equal(fx.res.reason,
                        "duplicate key id 'E001': an earlier row of this source has the same key");
    /* A new key seen twice. */
    assert_int_equal(apply(&fx, 4, dewi), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, 5, dewi_twin), FERRY_OUTCOME_FAILED);
    assert_string_equal(fx.res.reason,
                        "duplicate key id 'E004': an earlier row of this source has the same key");
    commit(&fx);
    expect_dump(&fx, "SELECT id, name FROM staff WHERE id IN ('E001', 'E004') ORDER BY id",
                "E001|Ayu\nE004|Dewi\n");
    close_fx(&fx);
}

#define SHIFTS_YAML                                                                                \
    "syncs:\n"                                                                                     \
    "  shifts:\n"                                                                                  \
    "    source: { url: s.csv }\n"                                                                 \
    "    target: { table: shifts, key: [room, no] }\n"                                             \
    "    fields: { room: {}, no: { type: integer }, who: {} }\n"

static void duplicate_composite_key_names_every_key_field(void **state)
{
    const char *const first[3] = {"A", "7", "Ayu"};
    const char *const twin[3] = {"A", "007", "Budi"}; /* the same canonical key */
    const char *const other[3] = {"B", "7", "Citra"};
    fixture fx;

    (void)state;
    open_fx(&fx, SHIFTS_YAML);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, first), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, 3, twin), FERRY_OUTCOME_FAILED);
    assert_string_equal(fx.res.reason, "duplicate key 'room=A, no=7': an earlier row of this "
                                       "source has the same key");
    assert_int_equal(apply(&fx, 4, other), FERRY_OUTCOME_CREATED);
    commit(&fx);
    expect_dump(&fx, "SELECT room, no, who FROM shifts ORDER BY room", "A|7|Ayu\nB|7|Citra\n");
    close_fx(&fx);
}

static void existing_table_missing_a_column_is_a_schema_error(void **state)
{
    fixture fx;
    ferry_err err;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (id TEXT PRIMARY KEY, name TEXT, age INTEGER, active "
                  "INTEGER, salary TEXT)");
    assert_int_equal(try_begin(&fx, &err), FERRY_ESCHEMA);
    assert_string_equal(err.msg, "table staff exists but has no column 'email' for field 'email': "
                                 "add the column or rename the field");
    rollback(&fx);
    close_fx(&fx);
}

static void existing_table_without_a_unique_index_on_the_key_is_a_schema_error(void **state)
{
    fixture fx;
    ferry_err err;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ");"
                  "CREATE INDEX staff_by_id ON staff (id);"
                  "CREATE UNIQUE INDEX staff_by_name ON staff (name)");
    assert_int_equal(try_begin(&fx, &err), FERRY_ESCHEMA);
    assert_string_equal(err.msg, "table staff has no primary key or unique index on (id), the "
                                 "sync's key: create one so each key is one row");
    rollback(&fx);
    close_fx(&fx);
}

static void
existing_table_whose_primary_key_only_starts_with_the_key_is_a_schema_error(void **state)
{
    fixture fx;
    ferry_err err;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    /* (id, name) is unique, id alone is not: two rows may share an id. */
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ", PRIMARY KEY (id, name))");
    assert_int_equal(try_begin(&fx, &err), FERRY_ESCHEMA);
    assert_string_equal(err.msg, "table staff has no primary key or unique index on (id), the "
                                 "sync's key: create one so each key is one row");
    rollback(&fx);
    close_fx(&fx);
}

static void existing_table_with_a_unique_index_on_the_key_is_used(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ");"
                  "CREATE UNIQUE INDEX staff_by_id ON staff (id)");
    load_three(&fx);
    expect_dump(&fx, STAFF_ROWS, THREE_ROWS);
    close_fx(&fx);
}

static void existing_integer_primary_key_table_is_used(void **state)
{
    const char *const r101[2] = {"101", "Melati"};
    const char *const r101b[2] = {"0101", "Mawar"};
    fixture fx;

    (void)state;
    open_fx(&fx, "syncs:\n"
                 "  rooms:\n"
                 "    source: { url: r.csv }\n"
                 "    target: { table: rooms, key: room_no }\n"
                 "    fields: { room_no: { type: integer }, name: {} }\n");
    exec_sql(&fx, "CREATE TABLE rooms (room_no INTEGER PRIMARY KEY, name TEXT);"
                  "INSERT INTO rooms VALUES (5, 'Anggrek')");
    begin(&fx);
    assert_int_equal(apply(&fx, 2, r101), FERRY_OUTCOME_CREATED);
    commit(&fx);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, r101b), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_json, "{\"name\":[\"Melati\",\"Mawar\"]}");
    commit(&fx);
    expect_dump(&fx, "SELECT rowid, room_no, name FROM rooms ORDER BY room_no",
                "5|5|Anggrek\n101|101|Mawar\n");
    close_fx(&fx);
}

static void existing_table_with_extra_nullable_columns_is_fine(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (notes TEXT, " STAFF_COLUMNS
                  ", added TEXT NOT NULL DEFAULT 'sync', PRIMARY KEY (id))");
    load_three(&fx);
    expect_dump(&fx, STAFF_ROWS, THREE_ROWS);
    expect_dump(&fx, "SELECT DISTINCT notes, added FROM staff", "NULL|sync\n");
    /* Re-syncing does not touch the extra columns and sees no change. */
    exec_sql(&fx, "UPDATE staff SET notes = 'kept' WHERE id = 'E001'");
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_UNCHANGED);
    commit(&fx);
    expect_dump(&fx, "SELECT notes FROM staff WHERE id = 'E001'", "kept\n");
    close_fx(&fx);
}

static void existing_table_with_a_not_null_column_without_default_is_a_schema_error(void **state)
{
    fixture fx;
    ferry_err err;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ", owner TEXT NOT NULL, PRIMARY KEY (id))");
    assert_int_equal(try_begin(&fx, &err), FERRY_ESCHEMA);
    assert_string_equal(err.msg, "table staff has a NOT NULL column 'owner' without a default that "
                                 "no field fills: map it or give it a default");
    rollback(&fx);
    close_fx(&fx);
}

static void constraint_of_the_target_table_fails_only_that_record(void **state)
{
    const char *const young[NFIELDS] = {"E005", "Kid", NULL, "-1", NULL, NULL};
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ", PRIMARY KEY (id), CHECK (age >= 0))");
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, 3, young), FERRY_OUTCOME_FAILED);
    assert_non_null(strstr(fx.res.reason, "rejected by the target table: CHECK constraint failed"));
    assert_int_equal(apply(&fx, 4, budi), FERRY_OUTCOME_CREATED);
    commit(&fx);
    expect_dump(&fx, "SELECT id FROM staff ORDER BY id", "E001\nE002\n");
    close_fx(&fx);
}

static void on_missing_delete_removes_unseen_rows_and_reports_their_keys(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("delete"));
    load_three(&fx);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply(&fx, 3, citra), FERRY_OUTCOME_UNCHANGED);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "E002");
    commit(&fx);
    expect_dump(&fx, "SELECT id FROM staff ORDER BY id", "E001\nE003\n");
    close_fx(&fx);
}

static void on_missing_delete_spares_rows_created_in_the_run(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("delete"));
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, 3, budi), FERRY_OUTCOME_CREATED);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "");
    commit(&fx);
    expect_dump(&fx, "SELECT id FROM staff ORDER BY id", "E001\nE002\n");
    close_fx(&fx);
}

static void on_missing_delete_reports_composite_keys_by_name(void **state)
{
    const char *const a7[3] = {"A", "7", "Ayu"};
    const char *const b8[3] = {"B", "8", "Budi"};
    fixture fx;

    (void)state;
    open_fx(&fx, "syncs:\n"
                 "  shifts:\n"
                 "    source: { url: s.csv }\n"
                 "    target: { table: shifts, key: [room, no], on_missing: delete }\n"
                 "    fields: { room: {}, no: { type: integer }, who: {} }\n");
    begin(&fx);
    apply(&fx, 2, a7);
    apply(&fx, 3, b8);
    commit(&fx);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, a7), FERRY_OUTCOME_UNCHANGED);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "room=B, no=8");
    commit(&fx);
    close_fx(&fx);
}

static void on_missing_flag_marks_unseen_rows_once(void **state)
{
    char *first;
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("flag"));
    load_three(&fx);
    begin(&fx);
    apply(&fx, 2, ayu);
    apply(&fx, 3, citra);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "E002");
    commit(&fx);
    expect_dump(&fx, "SELECT id, ferry_missing_since IS NOT NULL FROM staff ORDER BY id",
                "E001|0\nE002|1\nE003|0\n");
    first = dump(&fx, "SELECT ferry_missing_since FROM staff WHERE id = 'E002'");
    assert_int_equal(strlen(first), strlen("2026-11-24T06:05:44.123Z\n"));
    assert_string_equal(first + strlen(first) - 2, "Z\n");

    /* Still missing next run: not reported again, and the first time is kept. */
    begin(&fx);
    apply(&fx, 2, ayu);
    apply(&fx, 3, citra);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "");
    commit(&fx);
    expect_dump(&fx, "SELECT ferry_missing_since FROM staff WHERE id = 'E002'", first);
    free(first);
    expect_dump(&fx, "SELECT count(*) FROM staff", "3\n");
    close_fx(&fx);
}

static void flagged_row_that_returns_is_updated_and_unflagged(void **state)
{
    fixture fx;
    char *when, want[200];

    (void)state;
    open_fx(&fx, STAFF_YAML("flag"));
    load_three(&fx);
    begin(&fx);
    apply(&fx, 2, ayu);
    apply(&fx, 3, citra);
    finish(&fx);
    commit(&fx);
    when = dump(&fx, "SELECT ferry_missing_since FROM staff WHERE id = 'E002'");
    when[strlen(when) - 1] = '\0';

    begin(&fx);
    assert_int_equal(apply(&fx, 3, budi), FERRY_OUTCOME_UPDATED);
    snprintf(want, sizeof(want), "{\"ferry_missing_since\":[\"%s\",null]}", when);
    assert_string_equal(fx.res.diff_json, want);
    snprintf(want, sizeof(want), "ferry_missing_since: '%s' -> (empty)", when);
    assert_string_equal(fx.res.diff_text, want);
    commit(&fx);
    expect_dump(&fx, "SELECT ferry_missing_since FROM staff WHERE id = 'E002'", "NULL\n");
    free(when);
    close_fx(&fx);
}

static void flag_mode_adds_the_missing_column_to_an_existing_table(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("flag"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ", PRIMARY KEY (id))");
    load_three(&fx);
    expect_dump(&fx,
                "SELECT count(*) FROM pragma_table_info('staff') WHERE name = "
                "'ferry_missing_since'",
                "1\n");
    close_fx(&fx);
}

static void keep_protects_a_row_from_on_missing(void **state)
{
    /* Budi failed validation this run, but his key was read: his row must stay. */
    const char *const budi_bad[NFIELDS] = {"E002", "Budi", "budi@", "41", "no", NULL};
    ferry_err err;
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("delete"));
    load_three(&fx);
    begin(&fx);
    apply(&fx, 2, ayu);
    assert_int_equal(map(&fx, 3, budi_bad), FERRY_MAP_FAILED);
    assert_string_equal(fx.rec.key, "E002");
    ferry_err_clear(&err);
    assert_int_equal(fx.target->ops->keep(fx.target, &fx.rec, &err), FERRY_OK);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "E003");
    commit(&fx);
    expect_dump(&fx, STAFF_ROWS,
                "E001|Ayu|ayu@example.com|30|1|1.5\n"
                "E002|Budi|NULL|41|0|NULL\n");
    close_fx(&fx);
}

static void keep_of_an_unknown_key_changes_nothing(void **state)
{
    const char *const nobody[NFIELDS] = {"E999", "Nobody", NULL, NULL, NULL, NULL};
    ferry_err err;
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("delete"));
    load_three(&fx);
    begin(&fx);
    assert_int_equal(map(&fx, 2, nobody), FERRY_MAP_OK);
    ferry_err_clear(&err);
    assert_int_equal(fx.target->ops->keep(fx.target, &fx.rec, &err), FERRY_OK);
    apply(&fx, 3, ayu);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "E002,E003");
    commit(&fx);
    expect_dump(&fx, "SELECT id FROM staff", "E001\n");
    close_fx(&fx);
}

static void on_missing_keep_leaves_unseen_rows_alone(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    load_three(&fx);
    begin(&fx);
    apply(&fx, 2, ayu);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "");
    commit(&fx);
    expect_dump(&fx, STAFF_ROWS, THREE_ROWS);
    close_fx(&fx);
}

static void rollback_leaves_the_table_exactly_as_before(void **state)
{
    const char *const ayu_new[NFIELDS] = {"E001", "Ayu L", NULL, "99", "no", "0"};
    const char *const dewi[NFIELDS] = {"E004", "Dewi", NULL, NULL, NULL, NULL};
    char *before, *schema;
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("delete"));
    load_three(&fx);
    before = dump(&fx, "SELECT rowid, * FROM staff ORDER BY rowid");
    schema = dump(&fx, "SELECT sql FROM sqlite_master ORDER BY name");
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu_new), FERRY_OUTCOME_UPDATED);
    assert_int_equal(apply(&fx, 3, dewi), FERRY_OUTCOME_CREATED);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "E002,E003");
    rollback(&fx);
    expect_dump(&fx, "SELECT rowid, * FROM staff ORDER BY rowid", before);
    expect_dump(&fx, "SELECT sql FROM sqlite_master ORDER BY name", schema);
    free(before);
    free(schema);
    close_fx(&fx);
}

static void rollback_of_a_first_run_leaves_no_table(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_CREATED);
    rollback(&fx);
    assert_false(table_exists(&fx, "staff"));
    /* Ferry's own tables are not affected. */
    assert_true(table_exists(&fx, "ferry_runs"));
    close_fx(&fx);
}

static void rollback_undoes_the_added_missing_column(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("flag"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ", PRIMARY KEY (id))");
    begin(&fx);
    rollback(&fx);
    expect_dump(&fx, "SELECT count(*) FROM pragma_table_info('staff')", "6\n");
    close_fx(&fx);
}

static void freeing_an_uncommitted_target_rolls_back(void **state)
{
    fixture fx;

    (void)state;
    open_fx(&fx, STAFF_YAML("keep"));
    load_three(&fx);
    begin(&fx);
    apply(&fx, 2, (const char *const[NFIELDS]){"E001", "Changed", NULL, NULL, NULL, NULL});
    ferry_target_free(fx.target);
    fx.target = NULL;
    expect_dump(&fx, STAFF_ROWS, THREE_ROWS);
    assert_int_equal(sqlite3_get_autocommit(fx.db), 1);
    close_fx(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_is_created_with_column_types_and_primary_key),
        cmocka_unit_test(composite_key_becomes_a_composite_primary_key),
        cmocka_unit_test(flag_mode_table_gets_a_missing_since_column),
        cmocka_unit_test(first_records_are_created_with_typed_values),
        cmocka_unit_test(same_record_again_is_unchanged),
        cmocka_unit_test(integer_and_boolean_columns_compare_equal_on_resync),
        cmocka_unit_test(changed_fields_are_updated_with_json_and_text_diff),
        cmocka_unit_test(emptied_and_filled_fields_diff_against_null),
        cmocka_unit_test(diff_text_cuts_long_values_on_a_character_boundary),
        cmocka_unit_test(duplicate_key_in_one_run_fails_second_record_when_table_started_empty),
        cmocka_unit_test(duplicate_key_in_one_run_fails_second_record_when_table_had_rows),
        cmocka_unit_test(duplicate_composite_key_names_every_key_field),
        cmocka_unit_test(existing_table_missing_a_column_is_a_schema_error),
        cmocka_unit_test(existing_table_without_a_unique_index_on_the_key_is_a_schema_error),
        cmocka_unit_test(
            existing_table_whose_primary_key_only_starts_with_the_key_is_a_schema_error),
        cmocka_unit_test(existing_table_with_a_unique_index_on_the_key_is_used),
        cmocka_unit_test(existing_integer_primary_key_table_is_used),
        cmocka_unit_test(existing_table_with_extra_nullable_columns_is_fine),
        cmocka_unit_test(existing_table_with_a_not_null_column_without_default_is_a_schema_error),
        cmocka_unit_test(constraint_of_the_target_table_fails_only_that_record),
        cmocka_unit_test(on_missing_delete_removes_unseen_rows_and_reports_their_keys),
        cmocka_unit_test(on_missing_delete_spares_rows_created_in_the_run),
        cmocka_unit_test(on_missing_delete_reports_composite_keys_by_name),
        cmocka_unit_test(on_missing_flag_marks_unseen_rows_once),
        cmocka_unit_test(flagged_row_that_returns_is_updated_and_unflagged),
        cmocka_unit_test(flag_mode_adds_the_missing_column_to_an_existing_table),
        cmocka_unit_test(keep_protects_a_row_from_on_missing),
        cmocka_unit_test(keep_of_an_unknown_key_changes_nothing),
        cmocka_unit_test(on_missing_keep_leaves_unseen_rows_alone),
        cmocka_unit_test(rollback_leaves_the_table_exactly_as_before),
        cmocka_unit_test(rollback_of_a_first_run_leaves_no_table),
        cmocka_unit_test(rollback_undoes_the_added_missing_column),
        cmocka_unit_test(freeing_an_uncommitted_target_rolls_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
