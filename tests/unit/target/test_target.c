/* test_target.c - the targets (src/target/sqlite_target.c and pg_target.c), case by case.
 *
 * Every case runs twice, in a cmocka group per backend: on SQLite (a store in a fresh
 * temporary database, so Ferry's own tables exist next to the synced one, as in a real run)
 * and on PostgreSQL (a fresh database on the test run's throwaway server, through a
 * connection of the test's own). The same expectations hold on both, except where a backend
 * names things its own way (column types, constraint messages). Records are built with the
 * real mapper from raw values and driven through begin/apply/keep/drain/finish/commit/
 * rollback. apply() here settles each record at once (draining a deferring target after every
 * apply); the batch cases apply many records and drain once, as a run does.
 *
 * It covers the table created from the fields, created/updated/unchanged with their diffs,
 * duplicates within a run on the first-load path and the lookup path, the checks on an
 * existing table, constraints of the table failing single records, on_missing delete and
 * flag, rollback, integer/boolean columns comparing equal on a re-sync, and values COPY must
 * escape. SQLite's own table probes stay SQLite-only. */
#include "config/config.h"
#include "store/store.h"
#include "sync/map.h"
#include "target/shape.h"
#include "target/target.h"
#include "testutil.h"
#include "util/buf.h"

#include <libpq-fe.h>
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

/* The staff table as a person might create it, for tests that create it themselves (on
 * PostgreSQL, INTEGER is not the bigint Ferry creates: values go through casts). */
#define STAFF_COLUMNS "id TEXT, name TEXT, email TEXT, age INTEGER, active INTEGER, salary TEXT"

typedef enum { BACKEND_SQLITE, BACKEND_PG } backend;

static const backend on_sqlite = BACKEND_SQLITE, on_pg = BACKEND_PG;

#define MAX_RESULTS 4096

typedef struct {
    backend be;
    char *dir;
    ferry_store *store;
    sqlite3 *db;
    PGconn *pg;
    ferry_config *cfg;
    const ferry_sync_spec *sync;
    ferry_mapper *mapper;
    ferry_target *target;
    ferry_apply_result res;
    ferry_mapped_record rec;
    const char *tenant;                 /* the run's tenant (NULL without tenants) */
    ferry_buf missing;                  /* keys reported by finish(), comma-separated */
    ferry_buf values;                   /* their row values, one line each */
    int checks;                         /* calls of finish()'s check */
    int64_t check_missing, check_scope; /* what the last check was told */
    bool refuse;                        /* the check fails finish() (as the guard does) */
    /* Outcomes delivered by drain(), copied (the target's strings are borrowed). */
    ferry_apply_result got[MAX_RESULTS];
    size_t ngot;
} fixture;

/* Picks the expectation of the fixture's backend. */
#define BY_BACKEND(fx, on_sqlite_, on_pg_) ((fx)->be == BACKEND_SQLITE ? (on_sqlite_) : (on_pg_))

static void open_fx(fixture *fx, void **state, const char *yaml)
{
    char path[4200];
    ferry_err err;

    memset(fx, 0, sizeof(*fx));
    fx->be = *(const backend *)*state;
    fx->dir = tu_tempdir();
    assert_non_null(fx->dir);
    ferry_err_clear(&err);
    if (fx->be == BACKEND_SQLITE) {
        snprintf(path, sizeof(path), "%s/ferry.db", fx->dir);
        if (ferry_sqlite_store_open(path, &fx->store, &err) != FERRY_OK)
            fail_msg("store: %s", err.msg);
        fx->db = ferry_sqlite_store_db(fx->store);
    } else {
        char *url = tu_pg_database();
        if (url == NULL)
            fail_msg("no PostgreSQL server for the tests");
        fx->pg = PQconnectdb(url);
        free(url);
        if (PQstatus(fx->pg) != CONNECTION_OK)
            fail_msg("connecting: %s", PQerrorMessage(fx->pg));
        PQclear(PQexec(fx->pg, "SET client_min_messages = warning"));
    }
    if (ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", fx->dir, &fx->cfg, &err) != FERRY_OK)
        fail_msg("config: %s", err.msg);
    fx->sync = &fx->cfg->syncs[0];
    assert_int_equal(ferry_mapper_new(fx->sync, NULL, &fx->mapper, &err), FERRY_OK);
    ferry_buf_init(&fx->missing, 4096);
    ferry_buf_init(&fx->values, 4096);
}

static void clear_got(fixture *fx)
{
    for (size_t i = 0; i < fx->ngot; i++) {
        free((char *)fx->got[i].diff_json);
        free((char *)fx->got[i].diff_text);
        free((char *)fx->got[i].reason);
        free((char *)fx->got[i].key);
    }
    fx->ngot = 0;
}

static void close_fx(fixture *fx)
{
    ferry_target_free(fx->target);
    clear_got(fx);
    ferry_mapper_free(fx->mapper);
    ferry_config_free(fx->cfg);
    ferry_store_close(fx->store);
    if (fx->pg != NULL)
        PQfinish(fx->pg);
    ferry_buf_done(&fx->missing);
    ferry_buf_done(&fx->values);
    tu_rmtree(fx->dir);
    free(fx->dir);
}

static void exec_sql(fixture *fx, const char *sql)
{
    char *msg = NULL;

    if (fx->be == BACKEND_SQLITE) {
        if (sqlite3_exec(fx->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            fprintf(stderr, "%s: %s\n", sql, msg);
            sqlite3_free(msg);
            fail();
        }
    } else {
        PGresult *res = PQexec(fx->pg, sql);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            fprintf(stderr, "%s: %s\n", sql, PQerrorMessage(fx->pg));
            PQclear(res);
            fail();
        }
        PQclear(res);
    }
}

/* Every row of sql as "a|b|c\n" (NULL as "NULL"); the caller frees. */
static char *dump(fixture *fx, const char *sql)
{
    sqlite3_stmt *st;
    ferry_buf b;

    ferry_buf_init(&b, 1 << 20);
    if (fx->be == BACKEND_PG) {
        PGresult *res = PQexec(fx->pg, sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            fail_msg("%s: %s", sql, PQerrorMessage(fx->pg));
        for (int r = 0; r < PQntuples(res); r++) {
            for (int i = 0; i < PQnfields(res); i++)
                ferry_buf_printf(&b, "%s%s", i ? "|" : "",
                                 PQgetisnull(res, r, i) ? "NULL" : PQgetvalue(res, r, i));
            ferry_buf_printf(&b, "\n");
        }
        PQclear(res);
        return ferry_buf_take(&b);
    }
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

/* A table's columns as "name|type|notnull|pk position" lines. */
static char *columns(fixture *fx, const char *table)
{
    char sql[1024];

    if (fx->be == BACKEND_SQLITE)
        snprintf(sql, sizeof(sql),
                 "SELECT name, type, \"notnull\", pk FROM pragma_table_info('%s')", table);
    else
        snprintf(sql, sizeof(sql),
                 "SELECT a.attname, format_type(a.atttypid, a.atttypmod),"
                 " CASE WHEN a.attnotnull THEN 1 ELSE 0 END,"
                 " COALESCE((SELECT array_position(i.indkey::int2[], a.attnum) + 1 FROM pg_index i"
                 " WHERE i.indrelid = a.attrelid AND i.indisprimary), 0)"
                 " FROM pg_attribute a WHERE a.attrelid = '%s'::regclass AND a.attnum > 0"
                 " AND NOT a.attisdropped ORDER BY a.attnum",
                 table);
    return dump(fx, sql);
}

static void expect_columns(fixture *fx, const char *table, const char *want)
{
    char *got = columns(fx, table);

    if (strcmp(got, want) != 0) {
        fprintf(stderr, "columns of %s\ngot:\n%swant:\n%s", table, got, want);
        free(got);
        fail();
    }
    free(got);
}

static bool table_exists(fixture *fx, const char *name)
{
    sqlite3_stmt *st;
    bool found;

    if (fx->be == BACKEND_PG) {
        const char *params[1] = {name};
        PGresult *res = PQexecParams(fx->pg, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, params,
                                     NULL, NULL, 0);
        found = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        return found;
    }
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
    if (fx->be == BACKEND_SQLITE)
        assert_int_equal(ferry_sqlite_target_new(fx->db, fx->sync, fx->tenant, &fx->target, err),
                         FERRY_OK);
    else
        assert_int_equal(ferry_pg_target_new(fx->pg, fx->sync, fx->tenant, &fx->target, err),
                         FERRY_OK);
    return fx->target->ops->begin(fx->target, err);
}

static void begin(fixture *fx)
{
    ferry_err err;

    if (try_begin(fx, &err) != FERRY_OK)
        fail_msg("begin: %s", err.msg);
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static ferry_rc collect_result(void *ctx, const ferry_apply_result *res, ferry_err *err)
{
    fixture *fx = ctx;
    ferry_apply_result *g;

    (void)err;
    assert_true(fx->ngot < MAX_RESULTS);
    g = &fx->got[fx->ngot++];
    *g = *res;
    g->diff_json = dup_or_null(res->diff_json);
    g->diff_text = dup_or_null(res->diff_text);
    g->reason = dup_or_null(res->reason);
    g->key = dup_or_null(res->key);
    return FERRY_OK;
}

/* Drains a deferring target into fx->got (after clearing it). */
static void drain(fixture *fx)
{
    ferry_err err;

    clear_got(fx);
    if (fx->target->ops->drain == NULL)
        return;
    ferry_err_clear(&err);
    if (fx->target->ops->drain(fx->target, collect_result, fx, &err) != FERRY_OK)
        fail_msg("drain: %s", err.msg);
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

/* Maps and applies one record without settling it; returns whether its outcome is pending
 * (fx->res has an immediate one). */
static bool apply_only(fixture *fx, long row, const char *const *raw)
{
    ferry_err err;

    if (map(fx, row, raw) != FERRY_MAP_OK)
        fail_msg("row %ld did not map: %s", row, fx->rec.reason);
    ferry_err_clear(&err);
    if (fx->target->ops->apply(fx->target, &fx->rec, &fx->res, &err) != FERRY_OK)
        fail_msg("apply row %ld: %s", row, err.msg);
    return fx->res.pending;
}

/* Maps, applies and settles one record; returns its outcome (fx->res has the rest). */
static ferry_outcome apply(fixture *fx, long row, const char *const *raw)
{
    if (apply_only(fx, row, raw)) {
        drain(fx);
        assert_int_equal(fx->ngot, 1);
        fx->res = fx->got[0];
        if (fx->res.outcome != FERRY_OUTCOME_UNCHANGED) {
            assert_int_equal(fx->res.row, row);
            assert_non_null(fx->res.key);
        }
    }
    return fx->res.outcome;
}

/* Applies n records (rows 2, 3, ...) and settles them together, as a run does; out[i] gets
 * each outcome and fx->got the details (immediate outcomes included). */
static void apply_batch(fixture *fx, const char *const *const *raws, size_t n, ferry_outcome *out)
{
    size_t pending = 0;
    ferry_apply_result immediate[64];
    bool was_pending[64];

    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        was_pending[i] = apply_only(fx, (long)i + 2, raws[i]);
        immediate[i] = fx->res;
        immediate[i].diff_json = dup_or_null(fx->res.diff_json);
        immediate[i].diff_text = dup_or_null(fx->res.diff_text);
        immediate[i].reason = dup_or_null(fx->res.reason);
        immediate[i].key = dup_or_null(fx->rec.key);
        immediate[i].row = (long)i + 2;
        pending += was_pending[i];
    }
    drain(fx);
    assert_int_equal(fx->ngot, pending);
    /* Merge into one list in apply order. */
    {
        ferry_apply_result drained[64];
        size_t d = 0;
        memcpy(drained, fx->got, fx->ngot * sizeof(drained[0]));
        fx->ngot = 0;
        for (size_t i = 0; i < n; i++) {
            if (was_pending[i]) {
                fx->got[fx->ngot++] = drained[d++];
            } else {
                fx->got[fx->ngot++] = immediate[i];
                continue;
            }
            free((char *)immediate[i].diff_json);
            free((char *)immediate[i].diff_text);
            free((char *)immediate[i].reason);
            free((char *)immediate[i].key);
        }
    }
    for (size_t i = 0; i < n; i++)
        out[i] = fx->got[i].outcome;
}

static void keep(fixture *fx, long row, const char *const *raw)
{
    ferry_err err;

    map(fx, row, raw);
    ferry_err_clear(&err);
    assert_int_equal(fx->target->ops->keep(fx->target, &fx->rec, &err), FERRY_OK);
}

static void commit(fixture *fx)
{
    ferry_err err;

    drain(fx);
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

static ferry_rc collect_missing(void *ctx, const char *key, const char *row_values, ferry_err *err)
{
    fixture *fx = ctx;

    (void)err;
    ferry_buf_printf(&fx->missing, "%s%s", fx->missing.len ? "," : "", key);
    ferry_buf_printf(&fx->values, "%s\n", row_values);
    return FERRY_OK;
}

static ferry_rc check_missing(void *ctx, int64_t missing, int64_t in_scope, ferry_err *err)
{
    fixture *fx = ctx;

    fx->checks++;
    fx->check_missing = missing;
    fx->check_scope = in_scope;
    if (fx->refuse)
        return ferry_err_set(err, FERRY_ELIMIT, "refused %lld of %lld", (long long)missing,
                             (long long)in_scope);
    return FERRY_OK;
}

/* finish() with the check; returns its code (an error only when the check refused). */
static ferry_rc finish_checked(fixture *fx)
{
    ferry_err err;
    ferry_rc rc;

    drain(fx);
    ferry_err_clear(&err);
    ferry_buf_reset(&fx->missing);
    ferry_buf_reset(&fx->values);
    fx->checks = 0;
    rc = fx->target->ops->finish(fx->target, check_missing, collect_missing, fx, &err);
    if (rc != FERRY_OK && !(fx->refuse && rc == FERRY_ELIMIT))
        fail_msg("finish: %s", err.msg);
    return rc;
}

static void finish(fixture *fx)
{
    assert_int_equal(finish_checked(fx), FERRY_OK);
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

/* active as 1/0 on both backends (a boolean column on PostgreSQL prints t/f). */
#define STAFF_ROWS                                                                                 \
    "SELECT id, name, email, age, CAST(active AS INTEGER), salary FROM staff ORDER BY id"
#define THREE_ROWS                                                                                 \
    "E001|Ayu|ayu@example.com|30|1|1.5\n"                                                          \
    "E002|Budi|NULL|41|0|NULL\n"                                                                   \
    "E003|Citra|citra@example.com|NULL|NULL|12\n"

static void table_is_created_with_column_types_and_primary_key(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    assert_false(table_exists(&fx, "staff"));
    begin(&fx);
    commit(&fx);
    expect_columns(&fx, "staff",
                   BY_BACKEND(&fx,
                              "id|TEXT|1|1\n"
                              "name|TEXT|1|0\n"
                              "email|TEXT|0|0\n"
                              "age|INTEGER|0|0\n"
                              "active|BOOLEAN|0|0\n"
                              "salary|TEXT|0|0\n",
                              "id|text|1|1\n"
                              "name|text|1|0\n"
                              "email|text|0|0\n"
                              "age|bigint|0|0\n"
                              "active|boolean|0|0\n"
                              "salary|numeric|0|0\n"));
    close_fx(&fx);
}

static void composite_key_becomes_a_composite_primary_key(void **state)
{
    fixture fx;

    open_fx(&fx, state,
            "syncs:\n"
            "  shifts:\n"
            "    source: { url: s.csv }\n"
            "    target: { table: shifts, key: [day, room] }\n"
            "    fields: { day: { type: date }, room: { type: integer }, who: {} }\n");
    begin(&fx);
    commit(&fx);
    expect_columns(&fx, "shifts",
                   BY_BACKEND(&fx,
                              "day|TEXT|1|1\n"
                              "room|INTEGER|1|2\n"
                              "who|TEXT|0|0\n",
                              "day|date|1|1\n"
                              "room|bigint|1|2\n"
                              "who|text|0|0\n"));
    close_fx(&fx);
}

static void flag_mode_table_gets_a_missing_since_column(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("flag"));
    begin(&fx);
    commit(&fx);
    {
        char *cols = columns(&fx, "staff");
        const char *last = strstr(cols, "salary|");
        assert_non_null(last);
        assert_string_equal(
            strchr(last, '\n') + 1,
            BY_BACKEND(&fx, "ferry_missing_since|TEXT|0|0\n", "ferry_missing_since|text|0|0\n"));
        free(cols);
    }
    close_fx(&fx);
}

static void first_records_are_created_with_typed_values(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    load_three(&fx);
    expect_dump(&fx, STAFF_ROWS, THREE_ROWS);
    if (fx.be == BACKEND_SQLITE)
        expect_dump(&fx,
                    "SELECT typeof(age), typeof(active), typeof(salary) FROM staff WHERE id = "
                    "'E001'",
                    "integer|integer|text\n");
    else
        expect_dump(&fx,
                    "SELECT pg_typeof(age), pg_typeof(active), pg_typeof(salary) FROM staff"
                    " WHERE id = 'E001'",
                    "bigint|boolean|numeric\n");
    close_fx(&fx);
}

static void same_record_again_is_unchanged(void **state)
{
    /* Other spellings of the same canonical values. */
    const char *const ayu_again[NFIELDS] = {"E001", " Ayu ", "ayu@EXAMPLE.com",
                                            "030",  "Y",     "1.5000"};
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
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

    open_fx(&fx, state, STAFF_YAML("keep"));
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
    expect_dump(&fx,
                BY_BACKEND(&fx,
                           "SELECT id, age, typeof(age), active, salary FROM staff ORDER BY id",
                           "SELECT id, age, pg_typeof(age), active, pg_typeof(active), salary,"
                           " pg_typeof(salary) FROM staff ORDER BY id"),
                BY_BACKEND(&fx,
                           "E7|0|integer|0|0.5\n"
                           "E8|-9223372036854775808|integer|0|0\n"
                           "E9|9223372036854775807|integer|1|0\n",
                           "E7|0|bigint|f|boolean|0.5|numeric\n"
                           "E8|-9223372036854775808|bigint|f|boolean|0|numeric\n"
                           "E9|9223372036854775807|bigint|t|boolean|0|numeric\n"));
    close_fx(&fx);
}

static void changed_fields_are_updated_with_json_and_text_diff(void **state)
{
    const char *const ayu_new[NFIELDS] = {"E001", "Ayu Lestari", "ayu@example.com",
                                          "31",   "yes",         "1.50"};
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
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

    open_fx(&fx, state, STAFF_YAML("keep"));
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

    /* 56 ASCII bytes, then a 2-byte 'é' straddling byte 57. */
    memset(longname, 'n', 56);
    snprintf(longname + 56, sizeof(longname) - 56, "\xC3\xA9 and then some more text");
    snprintf(want, sizeof(want), "name: 'Ayu' -> '%.56s...'", longname);
    open_fx(&fx, state, STAFF_YAML("keep"));
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

    open_fx(&fx, state, STAFF_YAML("keep"));
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

    open_fx(&fx, state, STAFF_YAML("keep"));
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

    open_fx(&fx, state, SHIFTS_YAML);
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

    open_fx(&fx, state, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (id TEXT PRIMARY KEY, name TEXT, age INTEGER, active "
                  "INTEGER, salary TEXT)");
    assert_int_equal(try_begin(&fx, &err), FERRY_ESCHEMA);
    assert_string_equal(err.msg, "table staff exists but has no column 'email' for field 'email': "
                                 "add the column or rename the field: ALTER TABLE \"staff\" ADD "
                                 "COLUMN \"email\" TEXT");
    rollback(&fx);
    close_fx(&fx);
}

static void existing_table_without_a_unique_index_on_the_key_is_a_schema_error(void **state)
{
    fixture fx;
    ferry_err err;

    open_fx(&fx, state, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ");"
                  "CREATE INDEX staff_by_id ON staff (id);"
                  "CREATE UNIQUE INDEX staff_by_name ON staff (name)");
    assert_int_equal(try_begin(&fx, &err), FERRY_ESCHEMA);
    assert_string_equal(err.msg, "table staff has no primary key or unique index on (id), the "
                                 "sync's key: create one so each key is one row: CREATE UNIQUE "
                                 "INDEX \"staff_id_key\" ON \"staff\" (\"id\")");
    rollback(&fx);
    close_fx(&fx);
}

static void
existing_table_whose_primary_key_only_starts_with_the_key_is_a_schema_error(void **state)
{
    fixture fx;
    ferry_err err;

    open_fx(&fx, state, STAFF_YAML("keep"));
    /* (id, name) is unique, id alone is not: two rows may share an id. */
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ", PRIMARY KEY (id, name))");
    assert_int_equal(try_begin(&fx, &err), FERRY_ESCHEMA);
    assert_string_equal(err.msg, "table staff has no primary key or unique index on (id), the "
                                 "sync's key: create one so each key is one row: CREATE UNIQUE "
                                 "INDEX \"staff_id_key\" ON \"staff\" (\"id\")");
    rollback(&fx);
    close_fx(&fx);
}

static void existing_table_with_a_unique_index_on_the_key_is_used(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
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

    open_fx(&fx, state,
            "syncs:\n"
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
    if (fx.be == BACKEND_SQLITE) /* the INTEGER PRIMARY KEY is the rowid */
        expect_dump(&fx, "SELECT rowid, room_no, name FROM rooms ORDER BY room_no",
                    "5|5|Anggrek\n101|101|Mawar\n");
    else
        expect_dump(&fx, "SELECT room_no, name FROM rooms ORDER BY room_no",
                    "5|Anggrek\n101|Mawar\n");
    close_fx(&fx);
}

static void existing_table_with_extra_nullable_columns_is_fine(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
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

    open_fx(&fx, state, STAFF_YAML("keep"));
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

    open_fx(&fx, state, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ", PRIMARY KEY (id), CHECK (age >= 0))");
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, 3, young), FERRY_OUTCOME_FAILED);
    assert_non_null(strstr(fx.res.reason,
                           BY_BACKEND(&fx, "rejected by the target table: CHECK constraint failed",
                                      "rejected by the target table: new row for relation "
                                      "\"staff\" violates check constraint")));
    assert_int_equal(apply(&fx, 4, budi), FERRY_OUTCOME_CREATED);
    commit(&fx);
    expect_dump(&fx, "SELECT id FROM staff ORDER BY id", "E001\nE002\n");
    close_fx(&fx);
}

static void on_missing_delete_removes_unseen_rows_and_reports_their_keys(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("delete"));
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

static void on_missing_passes_each_missing_rows_values(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("delete"));
    load_three(&fx);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply(&fx, 3, citra), FERRY_OUTCOME_UNCHANGED);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.values),
                        BY_BACKEND(&fx,
                                   "{\"id\":\"E002\",\"name\":\"Budi\",\"email\":null,\"age\":"
                                   "\"41\",\"active\":\"0\",\"salary\":null}\n",
                                   "{\"id\":\"E002\",\"name\":\"Budi\",\"email\":null,\"age\":"
                                   "\"41\",\"active\":\"false\",\"salary\":null}\n"));
    commit(&fx);
    close_fx(&fx);
}

static void on_missing_delete_spares_rows_created_in_the_run(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("delete"));
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

    open_fx(&fx, state,
            "syncs:\n"
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

/* The check hears of the missing rows, and of the rows in scope, before any is touched; a
 * check that refuses leaves the rows alone and unreported. */
static void missing_rows_are_counted_before_they_go(void **state, const char *yaml)
{
    const char *const dewi[NFIELDS] = {"E004", "Dewi", NULL, NULL, NULL, NULL};
    fixture fx;

    open_fx(&fx, state, yaml);
    load_three(&fx);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply(&fx, 3, dewi), FERRY_OUTCOME_CREATED);
    fx.refuse = true;
    assert_int_equal(finish_checked(&fx), FERRY_ELIMIT);
    assert_int_equal(fx.checks, 1);
    assert_int_equal(fx.check_missing, 2);
    assert_int_equal(fx.check_scope, 4); /* the three rows and the one created */
    assert_string_equal(ferry_buf_str(&fx.missing), "");
    rollback(&fx);
    expect_dump(&fx, STAFF_ROWS, THREE_ROWS);

    /* Allowed, the same run goes ahead; with nothing missing the check is not called. */
    fx.refuse = false;
    begin(&fx);
    apply(&fx, 2, ayu);
    apply(&fx, 3, dewi);
    finish(&fx);
    assert_int_equal(fx.checks, 1);
    assert_string_equal(ferry_buf_str(&fx.missing), "E002,E003");
    commit(&fx);
    begin(&fx);
    apply(&fx, 2, ayu);
    apply(&fx, 3, dewi);
    finish(&fx);
    assert_int_equal(fx.checks, 0);
    commit(&fx);
    close_fx(&fx);
}

static void missing_rows_to_delete_are_counted_before_they_go(void **state)
{
    missing_rows_are_counted_before_they_go(state, STAFF_YAML("delete"));
}

static void missing_rows_to_flag_are_counted_before_they_go(void **state)
{
    missing_rows_are_counted_before_they_go(state, STAFF_YAML("flag"));
}

/* In flag mode, rows already flagged are out of scope: they are not missing again. */
static void rows_flagged_before_are_not_in_scope(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("flag"));
    load_three(&fx);
    begin(&fx);
    apply(&fx, 2, ayu);
    apply(&fx, 3, citra);
    finish(&fx);
    commit(&fx);
    begin(&fx);
    apply(&fx, 2, ayu);
    finish(&fx);
    assert_int_equal(fx.checks, 1);
    assert_int_equal(fx.check_missing, 1); /* citra; budi was flagged before */
    assert_int_equal(fx.check_scope, 2);
    assert_string_equal(ferry_buf_str(&fx.missing), "E003");
    commit(&fx);
    close_fx(&fx);
}

static void on_missing_flag_marks_unseen_rows_once(void **state)
{
    char *first;
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("flag"));
    load_three(&fx);
    begin(&fx);
    apply(&fx, 2, ayu);
    apply(&fx, 3, citra);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "E002");
    commit(&fx);
    expect_dump(&fx,
                "SELECT id, CASE WHEN ferry_missing_since IS NOT NULL THEN 1 ELSE 0 END"
                " FROM staff ORDER BY id",
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

    open_fx(&fx, state, STAFF_YAML("flag"));
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

    open_fx(&fx, state, STAFF_YAML("flag"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ", PRIMARY KEY (id))");
    load_three(&fx);
    {
        char *cols = columns(&fx, "staff");
        assert_non_null(strstr(cols, "\nferry_missing_since|"));
        free(cols);
    }
    close_fx(&fx);
}

static void keep_protects_a_row_from_on_missing(void **state)
{
    /* Budi failed validation this run, but his key was read: his row must stay. */
    const char *const budi_bad[NFIELDS] = {"E002", "Budi", "budi@", "41", "no", NULL};
    ferry_err err;
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("delete"));
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

    open_fx(&fx, state, STAFF_YAML("delete"));
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

    open_fx(&fx, state, STAFF_YAML("keep"));
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

    open_fx(&fx, state, STAFF_YAML("delete"));
    load_three(&fx);
    before = dump(&fx, BY_BACKEND(&fx, "SELECT rowid, * FROM staff ORDER BY rowid",
                                  "SELECT ctid, * FROM staff ORDER BY ctid"));
    schema = BY_BACKEND(&fx, dump(&fx, "SELECT sql FROM sqlite_master ORDER BY name"),
                        columns(&fx, "staff"));
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu_new), FERRY_OUTCOME_UPDATED);
    assert_int_equal(apply(&fx, 3, dewi), FERRY_OUTCOME_CREATED);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "E002,E003");
    rollback(&fx);
    expect_dump(&fx,
                BY_BACKEND(&fx, "SELECT rowid, * FROM staff ORDER BY rowid",
                           "SELECT ctid, * FROM staff ORDER BY ctid"),
                before);
    if (fx.be == BACKEND_SQLITE)
        expect_dump(&fx, "SELECT sql FROM sqlite_master ORDER BY name", schema);
    else
        expect_columns(&fx, "staff", schema);
    free(before);
    free(schema);
    close_fx(&fx);
}

static void rollback_of_a_first_run_leaves_no_table(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_CREATED);
    rollback(&fx);
    assert_false(table_exists(&fx, "staff"));
    /* Ferry's own tables are not affected. */
    if (fx.be == BACKEND_SQLITE)
        assert_true(table_exists(&fx, "ferry_runs"));
    close_fx(&fx);
}

static void rollback_undoes_the_added_missing_column(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("flag"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ", PRIMARY KEY (id))");
    begin(&fx);
    rollback(&fx);
    {
        char *cols = columns(&fx, "staff");
        assert_null(strstr(cols, "ferry_missing_since"));
        free(cols);
    }
    close_fx(&fx);
}

static void freeing_an_uncommitted_target_rolls_back(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    load_three(&fx);
    begin(&fx);
    apply(&fx, 2, (const char *const[NFIELDS]){"E001", "Changed", NULL, NULL, NULL, NULL});
    ferry_target_free(fx.target);
    fx.target = NULL;
    expect_dump(&fx, STAFF_ROWS, THREE_ROWS);
    if (fx.be == BACKEND_SQLITE)
        assert_int_equal(sqlite3_get_autocommit(fx.db), 1);
    else
        assert_int_equal(PQtransactionStatus(fx.pg), PQTRANS_IDLE);
    close_fx(&fx);
}

/* Values COPY's text format gives a meaning to, and others that must come back byte for byte:
 * created, then unchanged on a re-sync, then updated with exact diffs. */
static void values_with_tabs_newlines_backslashes_and_unicode_round_trip(void **state)
{
    static const char *const names[] = {
        "tab\there",
        "new\nline",
        "cr\rlf\r\n",
        "back\\slash",
        "\\N",
        "\\\\N",
        "N\\",
        "ends with backslash\\",
        "\\t not a tab",
        "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x9A\xA2",
        "quote ' and \" and ,",
        "NULL",
    };
    const size_t n = sizeof(names) / sizeof(names[0]);
    char ids[16][8];
    const char *raws[16][NFIELDS];
    const char *const *rows[16];
    ferry_outcome out[16];
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "V%02zu", i);
        raws[i][0] = ids[i];
        raws[i][1] = names[i];
        raws[i][2] = NULL;
        raws[i][3] = i % 2 ? "" : "7";
        raws[i][4] = NULL;
        raws[i][5] = i % 3 ? NULL : "";
        rows[i] = raws[i];
    }
    for (int run = 0; run < 2; run++) {
        begin(&fx);
        apply_batch(&fx, rows, n, out);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(out[i], run == 0 ? FERRY_OUTCOME_CREATED : FERRY_OUTCOME_UNCHANGED);
        commit(&fx);
    }
    for (size_t i = 0; i < n; i++) {
        char sql[128], *got;
        snprintf(sql, sizeof(sql), "SELECT name, age, salary FROM staff WHERE id = 'V%02zu'", i);
        got = dump(&fx, sql);
        {
            char want[256];
            /* The mapper trims names; an empty value is NULL (not an empty string). */
            const char *trimmed = names[i];
            snprintf(want, sizeof(want), "%s|%s|NULL\n", trimmed, i % 2 ? "NULL" : "7");
            if (strcmp(names[i], "cr\rlf\r\n") == 0)
                snprintf(want, sizeof(want), "cr\rlf|%s|NULL\n", i % 2 ? "NULL" : "7");
            assert_string_equal(got, want);
        }
        free(got);
    }
    /* A changed value with a tab and a backslash diffs exactly. */
    {
        const char *const changed[NFIELDS] = {"V00", "tab\there\\too", NULL, "7", NULL, NULL};
        begin(&fx);
        assert_int_equal(apply(&fx, 2, changed), FERRY_OUTCOME_UPDATED);
        assert_string_equal(fx.res.diff_json, "{\"name\":[\"tab\\there\",\"tab\\there\\\\too\"]}");
        assert_string_equal(fx.res.diff_text, "name: 'tab\there' -> 'tab\there\\too'");
        commit(&fx);
    }
    close_fx(&fx);
}

/* Many records settled together, as a run does, on a table that started empty: duplicates of
 * a new key fail, in apply order, with their keys and rows. */
static void batch_with_duplicates_on_an_empty_table(void **state)
{
    const char *const a[NFIELDS] = {"E001", "Ayu", NULL, NULL, NULL, NULL};
    const char *const b[NFIELDS] = {"E002", "Budi", NULL, NULL, NULL, NULL};
    const char *const a2[NFIELDS] = {"E001", "Ayu Two", NULL, NULL, NULL, NULL};
    const char *const c[NFIELDS] = {"E003", "Citra", NULL, NULL, NULL, NULL};
    const char *const a3[NFIELDS] = {"E001", "Ayu Three", NULL, NULL, NULL, NULL};
    const char *const *rows[] = {a, b, a2, c, a3};
    ferry_outcome out[5];
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("delete"));
    begin(&fx);
    apply_batch(&fx, rows, 5, out);
    assert_int_equal(out[0], FERRY_OUTCOME_CREATED);
    assert_int_equal(out[1], FERRY_OUTCOME_CREATED);
    assert_int_equal(out[2], FERRY_OUTCOME_FAILED);
    assert_string_equal(fx.got[2].reason,
                        "duplicate key id 'E001': an earlier row of this source has the same key");
    assert_int_equal(fx.got[2].row, 4);
    assert_string_equal(fx.got[2].key, "E001");
    assert_int_equal(out[3], FERRY_OUTCOME_CREATED);
    assert_string_equal(fx.got[3].key, "E003");
    assert_int_equal(fx.got[3].row, 5);
    assert_int_equal(out[4], FERRY_OUTCOME_FAILED);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "");
    commit(&fx);
    expect_dump(&fx, "SELECT id, name FROM staff ORDER BY id", "E001|Ayu\nE002|Budi\nE003|Citra\n");
    close_fx(&fx);
}

/* The same on a table with rows, with keep() in between: a kept key's later record is a
 * duplicate, a record after a keep of an unknown key is created. */
static void batch_with_keeps_duplicates_and_updates_on_a_table_with_rows(void **state)
{
    const char *const budi_bad[NFIELDS] = {"E002", "Budi", "budi@", "41", "no", NULL};
    const char *const budi_again[NFIELDS] = {"E002", "Budi Again", NULL, NULL, NULL, NULL};
    const char *const dewi_bad[NFIELDS] = {"E004", "Dewi", "dewi@", NULL, NULL, NULL};
    const char *const dewi[NFIELDS] = {"E004", "Dewi", NULL, NULL, NULL, NULL};
    const char *const ayu_new[NFIELDS] = {"E001", "Ayu L", "ayu@example.com", "30", "yes", "1.50"};
    const char *const ayu_twin[NFIELDS] = {"E001", "Ayu T", NULL, NULL, NULL, NULL};
    ferry_err err;
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("delete"));
    load_three(&fx);
    begin(&fx);
    keep(&fx, 2, budi_bad);
    keep(&fx, 3, dewi_bad);
    (void)err;
    {
        const char *const *rows[] = {budi_again, dewi, ayu_new, ayu_twin};
        ferry_outcome out[4];
        apply_batch(&fx, rows, 4, out);
        assert_int_equal(out[0], FERRY_OUTCOME_FAILED);
        assert_string_equal(fx.got[0].reason, "duplicate key id 'E002': an earlier row of this "
                                              "source has the same key");
        assert_int_equal(out[1], FERRY_OUTCOME_CREATED);
        assert_int_equal(out[2], FERRY_OUTCOME_UPDATED);
        assert_string_equal(fx.got[2].diff_text, "name: 'Ayu' -> 'Ayu L'");
        assert_int_equal(out[3], FERRY_OUTCOME_FAILED);
    }
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "E003");
    commit(&fx);
    expect_dump(&fx, "SELECT id, name FROM staff ORDER BY id",
                "E001|Ayu L\nE002|Budi\nE004|Dewi\n");
    close_fx(&fx);
}

/* A constraint of the table fails exactly the records that break it, in a batch of many, on
 * both paths (an empty table, then one with rows); the others are applied. */
static void batch_with_constraint_failures_fails_only_those_records(void **state)
{
    char ids[40][8], ages[40][8];
    const char *raws[40][NFIELDS];
    const char *const *rows[40];
    ferry_outcome out[40];
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ", PRIMARY KEY (id), CHECK (age >= 0))");
    for (int run = 0; run < 2; run++) {
        for (int i = 0; i < 40; i++) {
            snprintf(ids[i], sizeof(ids[i]), "E%03d", i);
            /* Rows 5, 17 and 30 break the CHECK; the second run changes every age. */
            snprintf(ages[i], sizeof(ages[i]), "%d",
                     i == 5 || i == 17 || i == 30 ? -1 : i + run * 100);
            raws[i][0] = ids[i];
            raws[i][1] = "Someone";
            raws[i][2] = NULL;
            raws[i][3] = ages[i];
            raws[i][4] = NULL;
            raws[i][5] = NULL;
            rows[i] = raws[i];
        }
        begin(&fx);
        apply_batch(&fx, rows, 40, out);
        for (int i = 0; i < 40; i++) {
            if (i == 5 || i == 17 || i == 30) {
                assert_int_equal(out[i], FERRY_OUTCOME_FAILED);
                assert_non_null(strstr(fx.got[i].reason, "rejected by the target table: "));
                assert_int_equal(fx.got[i].row, i + 2);
            } else {
                assert_int_equal(out[i], run == 0 ? FERRY_OUTCOME_CREATED : FERRY_OUTCOME_UPDATED);
            }
        }
        commit(&fx);
    }
    expect_dump(&fx, "SELECT count(*), min(age), max(age) FROM staff", "37|100|139\n");
    close_fx(&fx);
}

/* ---- the PostgreSQL target's prints of the table's rows ---------------------------------- */

/* Maps and applies one record that must be answered at once on every backend (on PostgreSQL:
 * by the prints of the table's rows, without staging it); returns its outcome. */
static ferry_outcome apply_at_once(fixture *fx, long row, const char *const *raw)
{
    if (apply_only(fx, row, raw))
        fail_msg("row %ld was not answered at once", row);
    return fx->res.outcome;
}

/* Applies one record that must be staged on PostgreSQL (answered by drain()). */
static ferry_outcome apply_staged(fixture *fx, long row, const char *const *raw)
{
    if (fx->be == BACKEND_PG) {
        if (!apply_only(fx, row, raw))
            fail_msg("row %ld was answered at once", row);
        drain(fx);
        assert_int_equal(fx->ngot, 1);
        fx->res = fx->got[0];
        return fx->res.outcome;
    }
    return apply(fx, row, raw);
}

static void unchanged_rows_are_answered_at_once(void **state)
{
    const char *const ayu_new[NFIELDS] = {"E001", "Ayu L", "ayu@example.com", "30", "yes", "1.50"};
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    load_three(&fx);
    begin(&fx);
    /* NULLs print as NULL in every column type (on PostgreSQL: text email, numeric salary,
     * bigint age, boolean active). */
    assert_int_equal(apply_at_once(&fx, 2, budi), FERRY_OUTCOME_UNCHANGED);
    assert_null(fx.res.reason);
    assert_int_equal(apply_at_once(&fx, 3, citra), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply_staged(&fx, 4, ayu_new), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_text, "name: 'Ayu' -> 'Ayu L'");
    commit(&fx);
    expect_dump(&fx, "SELECT id, name FROM staff ORDER BY id",
                "E001|Ayu L\nE002|Budi\nE003|Citra\n");
    close_fx(&fx);
}

static void duplicate_of_a_row_found_unchanged_fails_at_once(void **state)
{
    const char *const ayu_twin[NFIELDS] = {"E001", "Other Ayu", NULL, NULL, NULL, NULL};
    const char *const want =
        "duplicate key id 'E001': an earlier row of this source has the same key";
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    load_three(&fx);
    begin(&fx);
    assert_int_equal(apply_at_once(&fx, 2, ayu), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply_at_once(&fx, 3, ayu_twin), FERRY_OUTCOME_FAILED);
    assert_string_equal(fx.res.reason, want);
    /* The same values again are a duplicate too, not unchanged. */
    assert_int_equal(apply_at_once(&fx, 4, ayu), FERRY_OUTCOME_FAILED);
    assert_string_equal(fx.res.reason, want);
    assert_int_equal(apply_at_once(&fx, 5, budi), FERRY_OUTCOME_UNCHANGED);
    commit(&fx);
    expect_dump(&fx, STAFF_ROWS, THREE_ROWS);
    close_fx(&fx);
}

static void keep_of_a_row_found_unchanged_then_a_duplicate(void **state)
{
    const char *const ayu_bad[NFIELDS] = {"E001", "Ayu", "ayu@", "30", "yes", "1.50"};
    const char *const ayu_twin[NFIELDS] = {"E001", "Other Ayu", NULL, NULL, NULL, NULL};
    const char *const budi_bad[NFIELDS] = {"E002", "Budi", "budi@", "41", "no", NULL};
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("delete"));
    load_three(&fx);
    begin(&fx);
    assert_int_equal(apply_at_once(&fx, 2, ayu), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(map(&fx, 3, ayu_bad), FERRY_MAP_FAILED);
    keep(&fx, 3, ayu_bad);
    assert_int_equal(apply_at_once(&fx, 4, ayu_twin), FERRY_OUTCOME_FAILED);
    assert_string_equal(fx.res.reason,
                        "duplicate key id 'E001': an earlier row of this source has the same key");
    /* A key kept before any apply: the staging table decides its duplicate. */
    keep(&fx, 5, budi_bad);
    assert_int_equal(apply_staged(&fx, 6, budi), FERRY_OUTCOME_FAILED);
    assert_string_equal(fx.res.reason,
                        "duplicate key id 'E002': an earlier row of this source has the same key");
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "E003");
    commit(&fx);
    expect_dump(&fx, "SELECT id, name FROM staff ORDER BY id", "E001|Ayu\nE002|Budi\n");
    close_fx(&fx);
}

static void empty_text_in_the_table_is_not_a_null_value(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    load_three(&fx);
    /* Someone else wrote '' where the record has no value: not the same text. */
    exec_sql(&fx, "UPDATE staff SET email = '' WHERE id = 'E002'");
    begin(&fx);
    assert_int_equal(apply_staged(&fx, 2, budi), FERRY_OUTCOME_UPDATED);
    assert_int_equal(apply_at_once(&fx, 3, ayu), FERRY_OUTCOME_UNCHANGED);
    commit(&fx);
    expect_dump(&fx, "SELECT id, email IS NULL FROM staff WHERE id = 'E002'",
                BY_BACKEND(&fx, "E002|1\n", "E002|t\n"));
    close_fx(&fx);
}

static void integer_and_boolean_values_are_answered_at_once(void **state)
{
    const char *const extremes[NFIELDS] = {"E9", "Max", NULL, "9223372036854775807", "TRUE", "0"};
    const char *const zeros[NFIELDS] = {"E7", "Zero", NULL, "-0", "0", ".50"};
    const char *const zeros_on[NFIELDS] = {"E7", "Zero", NULL, "-0", "1", ".50"};
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    begin(&fx);
    assert_int_equal(apply(&fx, 2, extremes), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, 3, zeros), FERRY_OUTCOME_CREATED);
    commit(&fx);
    begin(&fx);
    assert_int_equal(apply_at_once(&fx, 2, extremes), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply_staged(&fx, 3, zeros_on), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_text, "active: 'false' -> 'true'");
    commit(&fx);
    close_fx(&fx);
}

static void existing_table_with_other_column_types_is_answered_at_once(void **state)
{
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (" STAFF_COLUMNS ", PRIMARY KEY (id))");
    load_three(&fx);
    begin(&fx);
    /* age and active are INTEGER: compared by their text, as the merge compares them. */
    assert_int_equal(apply_at_once(&fx, 2, ayu), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply_at_once(&fx, 3, budi), FERRY_OUTCOME_UNCHANGED);
    commit(&fx);
    close_fx(&fx);
}

/* The staff table as an application would declare it: the same SQL on both backends. */
#define STAFF_TYPED                                                                                \
    "CREATE TABLE staff (id VARCHAR(10) PRIMARY KEY, name VARCHAR(5), email TEXT, age SMALLINT,"   \
    " active BOOLEAN, salary NUMERIC(8,2))"

static void typed_columns_are_compared_by_value(void **state)
{
    const char *const ayu_off[NFIELDS] = {"E001", "Ayu", "ayu@example.com", "30", "no", "1.5"};
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    exec_sql(&fx, STAFF_TYPED);
    load_three(&fx);
    expect_dump(&fx, "SELECT active, salary FROM staff WHERE id = 'E001'",
                BY_BACKEND(&fx, "1|1.5\n", "t|1.50\n"));
    for (int run = 0; run < 2; run++) {
        begin(&fx);
        assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_UNCHANGED);
        assert_int_equal(apply(&fx, 3, budi), FERRY_OUTCOME_UNCHANGED);
        assert_int_equal(apply(&fx, 4, citra), FERRY_OUTCOME_UNCHANGED);
        commit(&fx);
    }
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu_off), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_text, "active: 'true' -> 'false'");
    assert_string_equal(fx.res.diff_json, "{\"active\":[\"true\",\"false\"]}");
    commit(&fx);
    close_fx(&fx);
}

static void value_a_typed_column_cannot_hold_fails_only_that_record(void **state)
{
    const char *const long_name[NFIELDS] = {"E001", "Ayu Lestari", NULL, "30", "yes", "1.5"};
    const char *const old[NFIELDS] = {"E004", "Dewi", NULL, "40000", NULL, NULL};
    const char *const rich[NFIELDS] = {"E005", "Eko", NULL, NULL, NULL, "1000000"};
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("delete"));
    exec_sql(&fx, STAFF_TYPED);
    load_three(&fx);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, long_name), FERRY_OUTCOME_FAILED);
    assert_string_equal(fx.res.reason,
                        BY_BACKEND(&fx,
                                   "column 'name' (VARCHAR(5)) cannot hold 'Ayu Lestari': it is "
                                   "longer than 5 characters",
                                   "column 'name' (character varying(5)) cannot hold 'Ayu "
                                   "Lestari': it is longer than 5 characters"));
    assert_int_equal(apply(&fx, 3, budi), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply(&fx, 4, old), FERRY_OUTCOME_FAILED);
    assert_string_equal(fx.res.reason,
                        BY_BACKEND(&fx,
                                   "column 'age' (SMALLINT) cannot hold '40000': it is out of "
                                   "range (-32768 to 32767)",
                                   "column 'age' (smallint) cannot hold '40000': it is out of "
                                   "range (-32768 to 32767)"));
    assert_int_equal(apply(&fx, 5, rich), FERRY_OUTCOME_FAILED);
    assert_non_null(strstr(fx.res.reason, "cannot hold '1000000': it is out of range (at most 6 "
                                          "digits before the point)"));
    assert_int_equal(apply(&fx, 6, citra), FERRY_OUTCOME_UNCHANGED);
    finish(&fx);
    commit(&fx);
    /* E001 failed but is kept (seen); nothing was written for the others. */
    expect_dump(&fx, "SELECT id, name FROM staff ORDER BY id", "E001|Ayu\nE002|Budi\nE003|Citra\n");
    close_fx(&fx);
}

/* Every field type. Fields, in order: day 0, amount 1, note 2, qty 3, paid 4, at 5, mail 6,
 * kind 7; key is the target's key. */
#define LEDGER_YAML(key)                                                                           \
    "syncs:\n"                                                                                     \
    "  ledger:\n"                                                                                  \
    "    source: { url: ledger.csv }\n"                                                            \
    "    target: { table: ledger, key: " key " }\n"                                                \
    "    fields:\n"                                                                                \
    "      day: { type: date }\n"                                                                  \
    "      amount: { type: decimal }\n"                                                            \
    "      note: {}\n"                                                                             \
    "      qty: { type: integer }\n"                                                               \
    "      paid: { type: boolean }\n"                                                              \
    "      at: { type: datetime }\n"                                                               \
    "      mail: { type: email }\n"                                                                \
    "      kind: { type: enum, values: [cash, card] }\n"

#define LEDGER_FIELDS 8
#define LEDGER_ROWS                                                                                \
    "SELECT day, amount, note, qty, CAST(paid AS INTEGER), at, mail, kind FROM ledger"             \
    " ORDER BY note"

static const char *const lunch[LEDGER_FIELDS] = {
    "2024-03-01",      "12.50", "Lunch", "2", "yes", "2024-03-01T12:30+07:00",
    "Ayu@Example.COM", "Cash"};
static const char *const taxi[LEDGER_FIELDS] = {
    "2024-03-01", "7", "Taxi", "-1", "no", "2024-03-01T05:30:00.250Z", NULL, "card"};
static const char *const hotel[LEDGER_FIELDS] = {
    "2024-02-29", "1000000000000000000000.000001", "Hotel", NULL, NULL, NULL, NULL, NULL};

/* The three ledger records as the table holds them (instants in UTC on PostgreSQL). */
static void expect_ledger(fixture *fx)
{
    if (fx->be == BACKEND_PG)
        exec_sql(fx, "SET TimeZone = 'UTC'");
    expect_dump(fx, LEDGER_ROWS,
                BY_BACKEND(fx,
                           "2024-02-29|1000000000000000000000.000001|Hotel|NULL|NULL|NULL|NULL|"
                           "NULL\n"
                           "2024-03-01|12.5|Lunch|2|1|2024-03-01T05:30:00Z|Ayu@example.com|cash\n"
                           "2024-03-01|7|Taxi|-1|0|2024-03-01T05:30:00.25Z|NULL|card\n",
                           "2024-02-29|1000000000000000000000.000001|Hotel|NULL|NULL|NULL|NULL|"
                           "NULL\n"
                           "2024-03-01|12.5|Lunch|2|1|2024-03-01 05:30:00+00|Ayu@example.com|"
                           "cash\n"
                           "2024-03-01|7|Taxi|-1|0|2024-03-01 05:30:00.25+00|NULL|card\n"));
}

static void load_ledger(fixture *fx)
{
    begin(fx);
    assert_int_equal(apply(fx, 2, lunch), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(fx, 3, taxi), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(fx, 4, hotel), FERRY_OUTCOME_CREATED);
    commit(fx);
    expect_ledger(fx);
}

static void created_table_has_the_native_type_of_every_field_type(void **state)
{
    fixture fx;

    open_fx(&fx, state, LEDGER_YAML("[day, amount]"));
    begin(&fx);
    commit(&fx);
    expect_columns(&fx, "ledger",
                   BY_BACKEND(&fx,
                              "day|TEXT|1|1\n"
                              "amount|TEXT|1|2\n"
                              "note|TEXT|0|0\n"
                              "qty|INTEGER|0|0\n"
                              "paid|BOOLEAN|0|0\n"
                              "at|TEXT|0|0\n"
                              "mail|TEXT|0|0\n"
                              "kind|TEXT|0|0\n",
                              "day|date|1|1\n"
                              "amount|numeric|1|2\n"
                              "note|text|0|0\n"
                              "qty|bigint|0|0\n"
                              "paid|boolean|0|0\n"
                              "at|timestamp with time zone|0|0\n"
                              "mail|text|0|0\n"
                              "kind|text|0|0\n"));
    if (fx.be == BACKEND_PG)
        expect_dump(&fx,
                    "SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_name = 'ledger' ORDER BY ordinal_position",
                    "day|date\namount|numeric\nnote|text\nqty|bigint\npaid|boolean\n"
                    "at|timestamp with time zone\nmail|text\nkind|text\n");
    close_fx(&fx);
}

static void identical_resync_into_a_created_table_is_all_unchanged(void **state)
{
    /* The same values spelled otherwise: the mapper's canonical forms are what is stored. */
    const char *const lunch_again[LEDGER_FIELDS] = {
        "2024/03/01",      "012.5000", "Lunch", "+2", "TRUE", "2024-03-01T05:30:00.000Z",
        "Ayu@EXAMPLE.com", "CASH"};
    fixture fx;

    open_fx(&fx, state, LEDGER_YAML("[day, amount]"));
    load_ledger(&fx);
    for (int run = 0; run < 2; run++) {
        /* On PostgreSQL, answered by the prints: the date and numeric keys print as the
         * records' canonical text. */
        begin(&fx);
        assert_int_equal(apply_at_once(&fx, 2, lunch_again), FERRY_OUTCOME_UNCHANGED);
        assert_int_equal(apply_at_once(&fx, 3, taxi), FERRY_OUTCOME_UNCHANGED);
        assert_int_equal(apply_at_once(&fx, 4, hotel), FERRY_OUTCOME_UNCHANGED);
        commit(&fx);
    }
    expect_ledger(&fx);
    close_fx(&fx);
}

/* A framework's string key (Rails' t.string, Django's CharField: varchar) keeps the prints'
 * fast path on PostgreSQL: an unchanged record is answered at once. */
static void varchar_keys_are_answered_by_the_prints(void **state)
{
    const char *const ayu_older[NFIELDS] = {"E001", "Ayu", "ayu@example.com", "31", "yes", "1.50"};
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (id varchar(20) PRIMARY KEY, name varchar(50), email "
                  "varchar, age INTEGER, active INTEGER, salary TEXT)");
    begin(&fx);
    assert_int_equal(apply(&fx, 2, ayu), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, 3, budi), FERRY_OUTCOME_CREATED);
    commit(&fx);
    for (int run = 0; run < 2; run++) {
        begin(&fx);
        assert_int_equal(apply_at_once(&fx, 2, ayu), FERRY_OUTCOME_UNCHANGED);
        assert_int_equal(apply_at_once(&fx, 3, budi), FERRY_OUTCOME_UNCHANGED);
        commit(&fx);
    }
    begin(&fx);
    assert_int_equal(apply_staged(&fx, 2, ayu_older), FERRY_OUTCOME_UPDATED);
    assert_int_equal(apply_staged(&fx, 4, citra), FERRY_OUTCOME_CREATED);
    commit(&fx);
    close_fx(&fx);
}

static void date_and_decimal_keys_find_their_rows_on_resync(void **state)
{
    const char *const cab[LEDGER_FIELDS] = {
        "2024-03-01", "7.0", "Cab", "-1", "no", "2024-03-01T05:30:00.250Z", NULL, "card"};
    const char *const hotel_more[LEDGER_FIELDS] = {
        "2024-02-29", "1000000000000000000000.000002", "Hotel", NULL, NULL, NULL, NULL, NULL};
    const char *const lunch_twin[LEDGER_FIELDS] = {"2024-03-01", "12.5", "Other lunch", NULL,
                                                   NULL,         NULL,   NULL,          NULL};
    fixture fx;

    open_fx(&fx, state, LEDGER_YAML("[day, amount]"));
    load_ledger(&fx);
    begin(&fx);
    assert_int_equal(apply_at_once(&fx, 2, lunch), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply_staged(&fx, 3, cab), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_text, "note: 'Taxi' -> 'Cab'");
    /* Differs from the stored key in its last digit: another row. */
    assert_int_equal(apply_staged(&fx, 4, hotel_more), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply_at_once(&fx, 5, lunch_twin), FERRY_OUTCOME_FAILED);
    assert_non_null(strstr(fx.res.reason, "duplicate key"));
    commit(&fx);
    expect_dump(&fx, "SELECT note FROM ledger ORDER BY note", "Cab\nHotel\nHotel\nLunch\n");
    close_fx(&fx);
}

static void changed_typed_values_show_in_diffs_as_written(void **state)
{
    const char *const lunch_new[LEDGER_FIELDS] = {
        "2024-03-02",      "12.75", "Lunch", "2", "no", "2024-03-01T13:00+07:00",
        "Ayu@Example.COM", "card"};
    const char *const taxi_new[LEDGER_FIELDS] = {
        "2024-03-01", "7", "Taxi", "-1", "yes", "2024-03-01T05:30:00.250Z", NULL, "card"};
    fixture fx;

    open_fx(&fx, state, LEDGER_YAML("note"));
    load_ledger(&fx);
    begin(&fx);
    assert_int_equal(apply(&fx, 2, lunch_new), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_text,
                        "day: '2024-03-01' -> '2024-03-02', amount: '12.5' -> '12.75', "
                        "paid: 'true' -> 'false', at: '2024-03-01T05:30:00Z' -> "
                        "'2024-03-01T06:00:00Z', kind: 'cash' -> 'card'");
    assert_int_equal(apply(&fx, 3, taxi_new), FERRY_OUTCOME_UPDATED);
    assert_string_equal(fx.res.diff_text, "paid: 'false' -> 'true'");
    assert_string_equal(fx.res.diff_json, "{\"paid\":[\"false\",\"true\"]}");
    assert_int_equal(apply(&fx, 4, hotel), FERRY_OUTCOME_UNCHANGED);
    commit(&fx);
    expect_dump(&fx, "SELECT day, amount, CAST(paid AS INTEGER) FROM ledger ORDER BY note",
                "2024-02-29|1000000000000000000000.000001|NULL\n"
                "2024-03-02|12.75|0\n"
                "2024-03-01|7|1\n");
    close_fx(&fx);
}

/* PostgreSQL only: SQLite keeps any text in a TEXT column. */
static void instant_the_created_column_cannot_hold_fails_only_that_record(void **state)
{
    /* One o'clock on 1 January of year 1 at +01:00 is in year 0 in UTC, before the first
     * instant a timestamptz holds. */
    const char *const early[LEDGER_FIELDS] = {
        "2024-03-03", "1", "Early", NULL, NULL, "0001-01-01T00:30+01:00", NULL, NULL};
    fixture fx;

    open_fx(&fx, state, LEDGER_YAML("[day, amount]"));
    for (int run = 0; run < 2; run++) {
        /* The first run COPYs into the empty table; the second stages its records. */
        begin(&fx);
        assert_int_equal(apply(&fx, 2, lunch),
                         run == 0 ? FERRY_OUTCOME_CREATED : FERRY_OUTCOME_UNCHANGED);
        assert_int_equal(apply(&fx, 3, early), FERRY_OUTCOME_FAILED);
        assert_non_null(strstr(fx.res.reason, "rejected by the target table: "));
        assert_int_equal(apply(&fx, 4, taxi),
                         run == 0 ? FERRY_OUTCOME_CREATED : FERRY_OUTCOME_UNCHANGED);
        commit(&fx);
    }
    expect_dump(&fx, "SELECT note FROM ledger ORDER BY note", "Lunch\nTaxi\n");
    close_fx(&fx);
}

/* PostgreSQL only: the staff table as Ferry created it before it gave columns native types. */
static void table_created_by_an_earlier_version_keeps_its_text_columns(void **state)
{
    const char *const budi_on[NFIELDS] = {"E002", "Budi", NULL, "41", "yes", NULL};
    const char *const legacy = "id|text|1|1\n"
                               "name|text|1|0\n"
                               "email|text|0|0\n"
                               "age|bigint|0|0\n"
                               "active|bigint|0|0\n"
                               "salary|text|0|0\n";
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    exec_sql(&fx, "CREATE TABLE staff (id text NOT NULL, name text NOT NULL, email text,"
                  " age bigint, active bigint, salary text, PRIMARY KEY (id));"
                  " COMMENT ON TABLE staff IS '" FERRY_TARGET_OWNED_MARK "'");
    load_three(&fx);
    expect_dump(&fx, STAFF_ROWS, THREE_ROWS);
    begin(&fx);
    assert_int_equal(apply_at_once(&fx, 2, ayu), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply_at_once(&fx, 3, citra), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply_staged(&fx, 4, budi_on), FERRY_OUTCOME_UPDATED);
    /* Compared as before: the bigint column's text. */
    assert_string_equal(fx.res.diff_text, "active: '0' -> '1'");
    commit(&fx);
    expect_columns(&fx, "staff", legacy);
    expect_dump(&fx, "SELECT active, salary FROM staff WHERE id = 'E002'", "1|NULL\n");
    close_fx(&fx);
}

#define TENANT_YAML                                                                                \
    "syncs:\n"                                                                                     \
    "  staff:\n"                                                                                   \
    "    source: { url: \"staff-{org}.csv\" }\n"                                                   \
    "    tenant: { variable: org, column: org_id }\n"                                              \
    "    target: { table: staff, key: id, on_missing: delete }\n"                                  \
    "    fields:\n"                                                                                \
    "      id: {}\n"                                                                               \
    "      name: { required: true }\n"

static void use_tenant(fixture *fx, const char *tenant)
{
    ferry_err err;

    ferry_mapper_free(fx->mapper);
    fx->mapper = NULL;
    fx->tenant = tenant;
    ferry_err_clear(&err);
    if (ferry_mapper_new(fx->sync, tenant, &fx->mapper, &err) != FERRY_OK)
        fail_msg("mapper: %s", err.msg);
}

static void prints_hold_the_run_tenant_rows_only(void **state)
{
    const char *const a1[3] = {"E1", "Ayu", NULL};
    const char *const a2[3] = {"E2", "Budi", NULL};
    const char *const b1[3] = {"E1", "Citra", NULL};
    fixture fx;

    open_fx(&fx, state, TENANT_YAML);
    use_tenant(&fx, "acme");
    begin(&fx);
    assert_int_equal(apply(&fx, 2, a1), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply(&fx, 3, a2), FERRY_OUTCOME_CREATED);
    commit(&fx);
    use_tenant(&fx, "bolt");
    begin(&fx);
    /* The same key in another tenant is a new row, staged. */
    assert_int_equal(apply_staged(&fx, 2, b1), FERRY_OUTCOME_CREATED);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "");
    commit(&fx);
    use_tenant(&fx, "acme");
    begin(&fx);
    assert_int_equal(apply_at_once(&fx, 2, a1), FERRY_OUTCOME_UNCHANGED);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "id=E2, org_id=acme");
    commit(&fx);
    expect_dump(&fx, "SELECT org_id, id, name FROM staff ORDER BY org_id, id",
                "acme|E1|Ayu\nbolt|E1|Citra\n");
    close_fx(&fx);
}

/* The scope of a tenant's run is that tenant's rows. */
static void missing_rows_are_counted_in_the_run_tenant_only(void **state)
{
    const char *const a1[3] = {"E1", "Ayu", NULL};
    const char *const a2[3] = {"E2", "Budi", NULL};
    const char *const a3[3] = {"E3", "Citra", NULL};
    fixture fx;

    open_fx(&fx, state, TENANT_YAML);
    use_tenant(&fx, "bolt");
    begin(&fx);
    apply(&fx, 2, a1);
    apply(&fx, 3, a2);
    apply(&fx, 4, a3);
    commit(&fx);
    use_tenant(&fx, "acme");
    begin(&fx);
    apply(&fx, 2, a1);
    apply(&fx, 3, a2);
    commit(&fx);
    begin(&fx);
    apply(&fx, 2, a1);
    fx.refuse = true;
    assert_int_equal(finish_checked(&fx), FERRY_ELIMIT);
    assert_int_equal(fx.check_missing, 1);
    assert_int_equal(fx.check_scope, 2);
    rollback(&fx);
    expect_dump(&fx, "SELECT count(*) FROM staff", "5\n");
    close_fx(&fx);
}

static void on_missing_with_rows_found_unchanged_and_staged(void **state)
{
    const char *const ids[8] = {"E001", "E002", "E003", "E004", "E005", "E006", "E007", "E008"};
    const char *raws[8][NFIELDS];
    const char *const budi_new[NFIELDS] = {"E002", "Budi B", NULL, NULL, NULL, NULL};
    const char *const bad[NFIELDS] = {"E005", "Someone", "x@", NULL, NULL, NULL};
    const char *const dewi[NFIELDS] = {"E009", "Dewi", NULL, NULL, NULL, NULL};
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("delete"));
    begin(&fx);
    for (int i = 0; i < 8; i++) {
        raws[i][0] = ids[i];
        raws[i][1] = "Someone";
        for (int f = 2; f < NFIELDS; f++)
            raws[i][f] = NULL;
        assert_int_equal(apply(&fx, i + 2, raws[i]), FERRY_OUTCOME_CREATED);
    }
    commit(&fx);
    begin(&fx);
    assert_int_equal(apply_at_once(&fx, 2, raws[0]), FERRY_OUTCOME_UNCHANGED);
    assert_int_equal(apply_staged(&fx, 3, budi_new), FERRY_OUTCOME_UPDATED);
    assert_int_equal(apply_at_once(&fx, 4, raws[3]), FERRY_OUTCOME_UNCHANGED);
    keep(&fx, 5, bad);
    assert_int_equal(apply_staged(&fx, 6, dewi), FERRY_OUTCOME_CREATED);
    assert_int_equal(apply_at_once(&fx, 7, raws[7]), FERRY_OUTCOME_UNCHANGED);
    finish(&fx);
    assert_string_equal(ferry_buf_str(&fx.missing), "E003,E006,E007");
    commit(&fx);
    expect_dump(&fx, "SELECT id FROM staff ORDER BY id", "E001\nE002\nE004\nE005\nE008\nE009\n");
    close_fx(&fx);
}

/* The three rows and F1..F30000 named name (300 x's): about 10 MB, so the prints are read
 * while records are applied, not at once. */
static void load_large(fixture *fx, char name[301])
{
    char sql[512];

    memset(name, 'x', 300);
    name[300] = '\0';
    load_three(fx);
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 30000)"
             " INSERT INTO staff (id, name) SELECT 'F' || n, '%s' FROM g",
             name);
    exec_sql(fx, sql);
}

/* A table large enough that its prints arrive while the first records are applied: those are
 * staged (their keys handed to the staging table once the prints are in), the later ones
 * answered at once, and duplicates are found across both. */
static void records_applied_while_the_prints_arrive_keep_the_same_rules(void **state)
{
    enum { ROWS = 3000, DUPS = 3 };
    static char ids[ROWS][8];
    static const char *raws[ROWS + DUPS][NFIELDS];
    static bool was_pending[ROWS + DUPS];
    static ferry_outcome at_once[ROWS + DUPS];
    static const char *const dup_ids[DUPS] = {"F1", "F2000", "F5"};
    char name[301];
    const char *const bad[NFIELDS] = {"F5", name, "x@", NULL, NULL, NULL};
    size_t pending = 0, n = 0;
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    load_large(&fx, name);
    begin(&fx);
    keep(&fx, 2, bad);
    for (int i = 1; i <= ROWS + DUPS; i++) {
        if (i <= ROWS) {
            /* F5 was kept: F3001 stands in for it. */
            snprintf(ids[n], sizeof(ids[n]), "F%d", i == 5 ? 30001 : i);
            raws[n][0] = ids[n];
        } else {
            raws[n][0] = dup_ids[i - ROWS - 1];
        }
        raws[n][1] = name;
        for (int f = 2; f < NFIELDS; f++)
            raws[n][f] = NULL;
        was_pending[n] = apply_only(&fx, i + 2, raws[n]);
        at_once[n] = fx.res.outcome;
        pending += was_pending[n];
        n++;
    }
    /* The first records are staged while the prints arrive. */
    if (fx.be == BACKEND_PG)
        assert_true(was_pending[0]);
    drain(&fx);
    assert_int_equal(fx.ngot, pending);
    for (size_t i = 0, d = 0; i < n; i++) {
        ferry_outcome o = was_pending[i] ? fx.got[d++].outcome : at_once[i];
        ferry_outcome want = i >= ROWS ? FERRY_OUTCOME_FAILED
                             : i == 4  ? FERRY_OUTCOME_CREATED
                                       : FERRY_OUTCOME_UNCHANGED;
        if (o != want)
            fail_msg("record %zu (%s): outcome %d, want %d", i, raws[i][0], (int)o, (int)want);
    }
    commit(&fx);
    expect_dump(&fx, "SELECT count(*) FROM staff", "30004\n");
    close_fx(&fx);
}

/* A run that ends before the prints of a large table are all read: its records, staged
 * while they arrived, still reach the table. */
static void records_of_a_run_shorter_than_the_prints_are_written(void **state)
{
    enum { ROWS = 10 };
    static char ids[ROWS][8];
    const char *raw[NFIELDS] = {NULL};
    char name[301];
    size_t pending = 0;
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    load_large(&fx, name);
    begin(&fx);
    for (int i = 0; i < ROWS; i++) {
        snprintf(ids[i], sizeof(ids[i]), "F%d", 1 + i * 1000);
        raw[0] = ids[i];
        raw[1] = "changed";
        if (apply_only(&fx, i + 2, raw))
            pending++;
        else
            assert_int_equal(fx.res.outcome, FERRY_OUTCOME_UPDATED);
    }
    if (fx.be == BACKEND_PG)
        assert_int_equal(pending, ROWS);
    drain(&fx);
    assert_int_equal(fx.ngot, pending);
    for (size_t i = 0; i < fx.ngot; i++)
        assert_int_equal(fx.got[i].outcome, FERRY_OUTCOME_UPDATED);
    commit(&fx);
    expect_dump(&fx, "SELECT count(*) FROM staff WHERE name = 'changed'", "10\n");
    close_fx(&fx);
}

/* Records held while the prints arrive follow the same rules as any: a key applied twice is a
 * duplicate, a kept key's apply too, a keep after an apply changes nothing. */
static void records_held_while_the_prints_arrive_keep_the_same_rules(void **state)
{
    enum { N = 9 };
    char name[301];
#define DUP_REASON "duplicate key id '%s': an earlier row of this source has the same key"
    const char *const ids[N] = {"F1", "F1", "F2", "F3", "F3", "F4", "F4", "F5", "F5"};
    const bool keeps[N] = {false, false, false, true, false, false, true, false, false};
    const char *const names[N] = {name, name, "two", name, name, name, name, "five", "five"};
    const ferry_outcome want[N] = {FERRY_OUTCOME_UNCHANGED,
                                   FERRY_OUTCOME_FAILED,
                                   FERRY_OUTCOME_UPDATED,
                                   0,
                                   FERRY_OUTCOME_FAILED,
                                   FERRY_OUTCOME_UNCHANGED,
                                   0,
                                   FERRY_OUTCOME_UPDATED,
                                   FERRY_OUTCOME_FAILED};
    ferry_apply_result got[N];
    bool was_pending[N] = {false};
    char reason[N][128];
    fixture fx;

    open_fx(&fx, state, STAFF_YAML("keep"));
    load_large(&fx, name);
    begin(&fx);
    for (size_t i = 0; i < N; i++) {
        const char *raw[NFIELDS] = {ids[i], names[i], NULL, NULL, NULL, NULL};
        if (keeps[i]) {
            keep(&fx, (long)i + 2, raw);
            continue;
        }
        was_pending[i] = apply_only(&fx, (long)i + 2, raw);
        got[i] = fx.res;
        snprintf(reason[i], sizeof(reason[i]), "%s", fx.res.reason ? fx.res.reason : "");
        if (fx.be == BACKEND_PG)
            assert_true(was_pending[i]);
    }
    drain(&fx);
    for (size_t i = 0, d = 0; i < N; i++) {
        char want_reason[128];
        if (keeps[i])
            continue;
        if (was_pending[i]) {
            got[i] = fx.got[d++];
            snprintf(reason[i], sizeof(reason[i]), "%s", got[i].reason ? got[i].reason : "");
        }
        if (got[i].outcome != want[i])
            fail_msg("record %zu (%s): outcome %d, want %d", i, ids[i], (int)got[i].outcome,
                     (int)want[i]);
        snprintf(want_reason, sizeof(want_reason), DUP_REASON, ids[i]);
        if (want[i] == FERRY_OUTCOME_FAILED)
            assert_string_equal(reason[i], want_reason);
    }
    commit(&fx);
    expect_dump(&fx, "SELECT id, name FROM staff WHERE name NOT LIKE 'x%' ORDER BY id",
                "E001|Ayu\nE002|Budi\nE003|Citra\nF2|two\nF5|five\n");
    close_fx(&fx);
}

#define SQLITE(f) cmocka_unit_test_prestate(f, (void *)&on_sqlite)
#define PG(f) cmocka_unit_test_prestate(f, (void *)&on_pg)

int main(void)
{
    const struct CMUnitTest sqlite_tests[] = {
        SQLITE(table_is_created_with_column_types_and_primary_key),
        SQLITE(composite_key_becomes_a_composite_primary_key),
        SQLITE(flag_mode_table_gets_a_missing_since_column),
        SQLITE(first_records_are_created_with_typed_values),
        SQLITE(same_record_again_is_unchanged),
        SQLITE(integer_and_boolean_columns_compare_equal_on_resync),
        SQLITE(changed_fields_are_updated_with_json_and_text_diff),
        SQLITE(emptied_and_filled_fields_diff_against_null),
        SQLITE(diff_text_cuts_long_values_on_a_character_boundary),
        SQLITE(duplicate_key_in_one_run_fails_second_record_when_table_started_empty),
        SQLITE(duplicate_key_in_one_run_fails_second_record_when_table_had_rows),
        SQLITE(duplicate_composite_key_names_every_key_field),
        SQLITE(existing_table_missing_a_column_is_a_schema_error),
        SQLITE(existing_table_without_a_unique_index_on_the_key_is_a_schema_error),
        SQLITE(existing_table_whose_primary_key_only_starts_with_the_key_is_a_schema_error),
        SQLITE(existing_table_with_a_unique_index_on_the_key_is_used),
        SQLITE(existing_integer_primary_key_table_is_used),
        SQLITE(existing_table_with_extra_nullable_columns_is_fine),
        SQLITE(existing_table_with_a_not_null_column_without_default_is_a_schema_error),
        SQLITE(constraint_of_the_target_table_fails_only_that_record),
        SQLITE(on_missing_delete_removes_unseen_rows_and_reports_their_keys),
        SQLITE(on_missing_delete_spares_rows_created_in_the_run),
        SQLITE(on_missing_passes_each_missing_rows_values),
        SQLITE(on_missing_delete_reports_composite_keys_by_name),
        SQLITE(on_missing_flag_marks_unseen_rows_once),
        SQLITE(missing_rows_to_delete_are_counted_before_they_go),
        SQLITE(missing_rows_to_flag_are_counted_before_they_go),
        SQLITE(rows_flagged_before_are_not_in_scope),
        SQLITE(missing_rows_are_counted_in_the_run_tenant_only),
        SQLITE(flagged_row_that_returns_is_updated_and_unflagged),
        SQLITE(flag_mode_adds_the_missing_column_to_an_existing_table),
        SQLITE(keep_protects_a_row_from_on_missing),
        SQLITE(keep_of_an_unknown_key_changes_nothing),
        SQLITE(on_missing_keep_leaves_unseen_rows_alone),
        SQLITE(rollback_leaves_the_table_exactly_as_before),
        SQLITE(rollback_of_a_first_run_leaves_no_table),
        SQLITE(rollback_undoes_the_added_missing_column),
        SQLITE(freeing_an_uncommitted_target_rolls_back),
        SQLITE(values_with_tabs_newlines_backslashes_and_unicode_round_trip),
        SQLITE(batch_with_duplicates_on_an_empty_table),
        SQLITE(batch_with_keeps_duplicates_and_updates_on_a_table_with_rows),
        SQLITE(batch_with_constraint_failures_fails_only_those_records),
        SQLITE(unchanged_rows_are_answered_at_once),
        SQLITE(duplicate_of_a_row_found_unchanged_fails_at_once),
        SQLITE(keep_of_a_row_found_unchanged_then_a_duplicate),
        SQLITE(empty_text_in_the_table_is_not_a_null_value),
        SQLITE(integer_and_boolean_values_are_answered_at_once),
        SQLITE(existing_table_with_other_column_types_is_answered_at_once),
        SQLITE(typed_columns_are_compared_by_value),
        SQLITE(value_a_typed_column_cannot_hold_fails_only_that_record),
        SQLITE(created_table_has_the_native_type_of_every_field_type),
        SQLITE(identical_resync_into_a_created_table_is_all_unchanged),
        SQLITE(date_and_decimal_keys_find_their_rows_on_resync),
        SQLITE(changed_typed_values_show_in_diffs_as_written),
        SQLITE(varchar_keys_are_answered_by_the_prints),
        SQLITE(prints_hold_the_run_tenant_rows_only),
        SQLITE(on_missing_with_rows_found_unchanged_and_staged),
        SQLITE(records_applied_while_the_prints_arrive_keep_the_same_rules),
        SQLITE(records_of_a_run_shorter_than_the_prints_are_written),
        SQLITE(records_held_while_the_prints_arrive_keep_the_same_rules),
    };
    const struct CMUnitTest pg_tests[] = {
        PG(table_is_created_with_column_types_and_primary_key),
        PG(composite_key_becomes_a_composite_primary_key),
        PG(flag_mode_table_gets_a_missing_since_column),
        PG(first_records_are_created_with_typed_values),
        PG(same_record_again_is_unchanged),
        PG(integer_and_boolean_columns_compare_equal_on_resync),
        PG(changed_fields_are_updated_with_json_and_text_diff),
        PG(emptied_and_filled_fields_diff_against_null),
        PG(diff_text_cuts_long_values_on_a_character_boundary),
        PG(duplicate_key_in_one_run_fails_second_record_when_table_started_empty),
        PG(duplicate_key_in_one_run_fails_second_record_when_table_had_rows),
        PG(duplicate_composite_key_names_every_key_field),
        PG(existing_table_missing_a_column_is_a_schema_error),
        PG(existing_table_without_a_unique_index_on_the_key_is_a_schema_error),
        PG(existing_table_whose_primary_key_only_starts_with_the_key_is_a_schema_error),
        PG(existing_table_with_a_unique_index_on_the_key_is_used),
        PG(existing_integer_primary_key_table_is_used),
        PG(existing_table_with_extra_nullable_columns_is_fine),
        PG(existing_table_with_a_not_null_column_without_default_is_a_schema_error),
        PG(constraint_of_the_target_table_fails_only_that_record),
        PG(on_missing_delete_removes_unseen_rows_and_reports_their_keys),
        PG(on_missing_delete_spares_rows_created_in_the_run),
        PG(on_missing_passes_each_missing_rows_values),
        PG(on_missing_delete_reports_composite_keys_by_name),
        PG(on_missing_flag_marks_unseen_rows_once),
        PG(missing_rows_to_delete_are_counted_before_they_go),
        PG(missing_rows_to_flag_are_counted_before_they_go),
        PG(rows_flagged_before_are_not_in_scope),
        PG(missing_rows_are_counted_in_the_run_tenant_only),
        PG(flagged_row_that_returns_is_updated_and_unflagged),
        PG(flag_mode_adds_the_missing_column_to_an_existing_table),
        PG(keep_protects_a_row_from_on_missing),
        PG(keep_of_an_unknown_key_changes_nothing),
        PG(on_missing_keep_leaves_unseen_rows_alone),
        PG(rollback_leaves_the_table_exactly_as_before),
        PG(rollback_of_a_first_run_leaves_no_table),
        PG(rollback_undoes_the_added_missing_column),
        PG(freeing_an_uncommitted_target_rolls_back),
        PG(values_with_tabs_newlines_backslashes_and_unicode_round_trip),
        PG(batch_with_duplicates_on_an_empty_table),
        PG(batch_with_keeps_duplicates_and_updates_on_a_table_with_rows),
        PG(batch_with_constraint_failures_fails_only_those_records),
        PG(unchanged_rows_are_answered_at_once),
        PG(duplicate_of_a_row_found_unchanged_fails_at_once),
        PG(keep_of_a_row_found_unchanged_then_a_duplicate),
        PG(empty_text_in_the_table_is_not_a_null_value),
        PG(integer_and_boolean_values_are_answered_at_once),
        PG(existing_table_with_other_column_types_is_answered_at_once),
        PG(typed_columns_are_compared_by_value),
        PG(value_a_typed_column_cannot_hold_fails_only_that_record),
        PG(created_table_has_the_native_type_of_every_field_type),
        PG(identical_resync_into_a_created_table_is_all_unchanged),
        PG(date_and_decimal_keys_find_their_rows_on_resync),
        PG(changed_typed_values_show_in_diffs_as_written),
        PG(instant_the_created_column_cannot_hold_fails_only_that_record),
        PG(table_created_by_an_earlier_version_keeps_its_text_columns),
        PG(varchar_keys_are_answered_by_the_prints),
        PG(prints_hold_the_run_tenant_rows_only),
        PG(on_missing_with_rows_found_unchanged_and_staged),
        PG(records_applied_while_the_prints_arrive_keep_the_same_rules),
        PG(records_of_a_run_shorter_than_the_prints_are_written),
        PG(records_held_while_the_prints_arrive_keep_the_same_rules),
    };
    int failed = cmocka_run_group_tests_name("sqlite", sqlite_tests, NULL, NULL);

    return failed + cmocka_run_group_tests_name("postgres", pg_tests, NULL, NULL);
}
