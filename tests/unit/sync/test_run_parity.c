/* test_run_parity.c - the same runs on SQLite and on PostgreSQL give the same results.
 *
 * A sequence of runs (two tenants; creates, updates, unchanged, skipped and failed records,
 * duplicate keys, keys failing validation, on_missing deletes, and a long source whose
 * outcomes interleave past the log's item limit) goes through ferry_sync_run() once on a
 * SQLite store and once on a PostgreSQL store (a fresh database on the test run's throwaway
 * server). For every run, the transcript of what a person or a program can see, the counts,
 * the summary, the log message (with the order of its items), every change row (seq, key,
 * outcome, row, reason, diff, the record's name) and the synced table afterwards, must be
 * byte-identical, once what each backend says its own way is set aside (constraint messages; a
 * boolean field's diffs, true/false from PostgreSQL's boolean column, 1/0 from SQLite's INTEGER
 * one). */
#include "config/config.h"
#include "queue/queue.h"
#include "store/store.h"
#include "sync/run.h"
#include "testutil.h"
#include "util/buf.h"

#include <libpq-fe.h>
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

#define YAML_TEMPLATE                                                                              \
    "database: %s\n"                                                                               \
    "syncs:\n"                                                                                     \
    "  staff:\n"                                                                                   \
    "    title: Staff\n"                                                                           \
    "    noun: people\n"                                                                           \
    "    source: { url: \"staff-{org}.csv\" }\n"                                                   \
    "    tenant: { variable: org, column: org_id }\n"                                              \
    "    target: { table: staff, key: id, on_missing: %s }\n"                                      \
    "    guard: { max_missing: 100%% }\n"                                                          \
    "    fields:\n"                                                                                \
    "      id: { column: ID }\n"                                                                   \
    "      name: { column: Name, required: true }\n"                                               \
    "      email: { column: Email, type: email }\n"                                                \
    "      employment: { column: Employment, type: enum, values: [Karyawan, Freelance] }\n"        \
    "      age: { column: Age, type: integer }\n"                                                  \
    "      active: { column: Active, type: boolean }\n"                                            \
    "      rate: { column: Rate, type: decimal }\n"                                                \
    "    skip: { employment: { not_in: [Karyawan], label: FREELANCE } }\n"                         \
    "    label: \"{name} ({email})\"\n"

#define HEADER "ID,Name,Email,Employment,Age,Active,Rate\n"

typedef struct {
    char *dir;
    char *database;
    ferry_config *cfg;
    ferry_store *store;
    ferry_buf log; /* the transcript */
} world;

static void open_world(world *w, bool pg, const char *on_missing)
{
    char yaml[4096], path[4200];
    ferry_err err;
    int n;

    memset(w, 0, sizeof(*w));
    w->dir = tu_tempdir();
    assert_non_null(w->dir);
    if (pg) {
        w->database = tu_pg_database();
        if (w->database == NULL)
            fail_msg("no PostgreSQL server for the tests");
    } else {
        snprintf(path, sizeof(path), "sqlite:%s/ferry.db", w->dir);
        w->database = strdup(path);
    }
    n = snprintf(yaml, sizeof(yaml), YAML_TEMPLATE, w->database, on_missing);
    assert_true(n > 0 && (size_t)n < sizeof(yaml));
    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, (size_t)n, "ferry.yaml", w->dir, &w->cfg, &err) != FERRY_OK)
        fail_msg("config: %s", err.msg);
    if (ferry_store_open(w->cfg->database, w->cfg->dir, &w->store, &err) != FERRY_OK)
        fail_msg("store: %s", err.msg);
    ferry_buf_init(&w->log, 64 << 20);
}

static void close_world(world *w)
{
    ferry_store_close(w->store);
    ferry_config_free(w->cfg);
    tu_rmtree(w->dir);
    free(w->dir);
    free(w->database);
    ferry_buf_done(&w->log);
}

static void write_source(world *w, const char *tenant, const char *csv)
{
    char name[64];
    char *path;

    snprintf(name, sizeof(name), "staff-%s.csv", tenant);
    path = tu_write_file(w->dir, name, csv, strlen(csv));
    assert_non_null(path);
    free(path);
}

/* Runs the sync for tenant and appends everything observable to the transcript. */
static void run_and_record(world *w, const char *tenant)
{
    ferry_queue_request rq = {0};
    ferry_run_options opt;
    ferry_change_filter f = {.outcome = -1};
    ferry_change *changes = NULL;
    size_t n = 0;
    ferry_run started, run;
    ferry_err err;

    rq.sync = &w->cfg->syncs[0];
    rq.trigger = "api";
    rq.tenant = tenant;
    ferry_err_clear(&err);
    if (ferry_queue_run_start(w->store, &rq, &started, &err) != FERRY_OK)
        fail_msg("ferry_queue_run_start: %s", err.msg);
    memset(&opt, 0, sizeof(opt));
    opt.config = w->cfg;
    opt.sync = &w->cfg->syncs[0];
    opt.store = w->store;
    opt.run = &started;
    if (ferry_sync_run(&opt, &run, &err) != FERRY_OK)
        fail_msg("ferry_sync_run: %s", err.msg);
    ferry_run_done(&started);
    ferry_buf_printf(&w->log, "== run %lld tenant %s: %s\n", (long long)run.id, tenant,
                     ferry_run_status_name(run.status));
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
        ferry_buf_printf(&w->log, "%s=%lld ", ferry_outcome_name((ferry_outcome)o),
                         (long long)run.counts[o]);
    for (size_t i = 0; i < run.skipped_by_label.n; i++)
        ferry_buf_printf(&w->log, "%s skipped=%lld ", run.skipped_by_label.items[i].label,
                         (long long)run.skipped_by_label.items[i].count);
    ferry_buf_printf(&w->log, "processed=%lld\nui: %s\nlog: %s\nerror: %s\n",
                     (long long)run.processed, run.ui_message, run.log_message,
                     run.error != NULL ? run.error : "-");
    ferry_err_clear(&err);
    if (w->store->runs->change_list(w->store, run.id, &f, &changes, &n, &err) != FERRY_OK)
        fail_msg("change_list: %s", err.msg);
    for (size_t i = 0; i < n; i++)
        ferry_buf_printf(&w->log, "  #%lld %s key=%s row=%ld reason=%s diff=%s label=%s\n",
                         (long long)changes[i].seq, ferry_outcome_name(changes[i].outcome),
                         changes[i].record_key != NULL ? changes[i].record_key : "NULL",
                         changes[i].row, changes[i].reason != NULL ? changes[i].reason : "NULL",
                         changes[i].diff != NULL ? changes[i].diff : "NULL",
                         changes[i].label != NULL ? changes[i].label : "NULL");
    ferry_changes_free(changes, n);
    ferry_run_done(&run);
}

/* Appends the synced table, ordered, to the transcript. */
static void record_table(world *w, bool pg)
{
    static const char *const sql = "SELECT id, org_id, name, email, employment, age,"
                                   " CAST(active AS INTEGER), rate FROM staff ORDER BY org_id, id";

    ferry_buf_printf(&w->log, "== table\n");
    if (pg) {
        PGconn *conn = PQconnectdb(w->database);
        PGresult *res = PQexec(conn, sql);
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        for (int r = 0; r < PQntuples(res); r++) {
            for (int i = 0; i < PQnfields(res); i++)
                ferry_buf_printf(&w->log, "%s%s", i ? "|" : "",
                                 PQgetisnull(res, r, i) ? "NULL" : PQgetvalue(res, r, i));
            ferry_buf_printf(&w->log, "\n");
        }
        PQclear(res);
        PQfinish(conn);
    } else {
        char path[4200];
        sqlite3 *db;
        sqlite3_stmt *st;
        snprintf(path, sizeof(path), "%s/ferry.db", w->dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const char *v = (const char *)sqlite3_column_text(st, i);
                ferry_buf_printf(&w->log, "%s%s", i ? "|" : "", v != NULL ? v : "NULL");
            }
            ferry_buf_printf(&w->log, "\n");
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
}

static const char *const a1 = HEADER "E001,Ayu,ayu@example.com,Karyawan,30,yes,1.50\n"
                                     "E002,Budi,,Karyawan,41,no,\n"
                                     "E003,Citra,citra@example.com,Freelance,29,yes,2\n"
                                     "E004,Dewi,dewi@,Karyawan,35,yes,3\n"
                                     "E005,Eka,eka@example.com,Karyawan,27,no,4.25\n"
                                     "E001,Ayu Twin,,Karyawan,,,\n"
                                     "E006,Fajar,\"fajar\texample\",Karyawan,x,yes,5\n"
                                     "E007,Gita \\N,gita@example.com,Karyawan,50,true,6.0\n"
                                     "E008,Hadi,,Karyawan,22,,\n";

static const char *const b1 = HEADER "E001,Other Ayu,,Karyawan,31,yes,1\n"
                                     "E009,Indah,,Karyawan,44,no,2\n";

/* Second run of tenant a: E001 changes, E002 unchanged, E003 still skipped, E004 fails
 * with its key known (kept), E005 gone (deleted), E007 and E008 change, E010 new and
 * repeated, a row without a name, a row whose key is kept and then repeats. */
static const char *const a2 = HEADER "E001,Ayu Lestari,ayu@example.com,Karyawan,31,yes,1.5\n"
                                     "E002,Budi,,Karyawan,041,N,\n"
                                     "E003,Citra,citra@example.com,Freelance,29,yes,2\n"
                                     "E004,Dewi,dewi@,Karyawan,35,yes,3\n"
                                     "E010,Joko,joko@example.com,Karyawan,60,no,7\n"
                                     "E007,Gita \\N,gita@example.com,Karyawan,51,true,6.0\n"
                                     "E010,Joko Twin,,Karyawan,,,\n"
                                     "E011,,,Karyawan,,,\n"
                                     "E008,Hadi\tTab,,Karyawan,22,yes,\n"
                                     "E004,Dewi Again,,Karyawan,,,\n";

/* A long source: 3000 rows whose outcomes interleave (created, skipped, failed, duplicate),
 * then a second version of it (updated, unchanged, deleted). */
static char *long_source(int version)
{
    ferry_buf b;

    ferry_buf_init(&b, 1 << 22);
    ferry_buf_printf(&b, HEADER);
    for (int i = 0; i < 3000; i++) {
        if (version == 2 && i % 10 == 9)
            continue; /* gone: deleted */
        if (i % 17 == 3)
            ferry_buf_printf(&b, "L%04d,Skip %d,,Freelance,1,yes,1\n", i, i);
        else if (i % 23 == 5)
            ferry_buf_printf(&b, "L%04d,Bad %d,bad@,Karyawan,1,yes,1\n", i, i);
        else
            ferry_buf_printf(&b, "L%04d,Person %d,,Karyawan,%d,%s,%d.%d\n", i, i,
                             version == 2 && i % 7 == 0 ? i + 1 : i, i % 2 ? "yes" : "no", i,
                             i % 10);
        if (i % 101 == 50)
            ferry_buf_printf(&b, "L%04d,Twin %d,,Karyawan,,,\n", i, i);
    }
    return ferry_buf_take(&b);
}

static void play(world *w, bool pg)
{
    char *l1 = long_source(1), *l2 = long_source(2);

    write_source(w, "a", a1);
    write_source(w, "b", b1);
    run_and_record(w, "a");
    run_and_record(w, "b");
    write_source(w, "a", a2);
    run_and_record(w, "a");
    run_and_record(w, "a"); /* the same again: unchanged, nothing deleted */
    write_source(w, "c", l1);
    run_and_record(w, "c");
    write_source(w, "c", l2);
    run_and_record(w, "c");
    record_table(w, pg);
    free(l1);
    free(l2);
}

/* Constraint messages are each backend's own words: the transcript keeps only that there was
 * one. */
static void normalize(ferry_buf *log)
{
    static const char prefix[] = "rejected by the target table: ";
    char *p = log->data;

    while (p != NULL && (p = strstr(p, prefix)) != NULL) {
        char *from = p + strlen(prefix), *end = from;
        while (*end != '\0' && *end != ';' && *end != '\n' && strncmp(end, " diff=", 6) != 0)
            end++;
        memmove(from, end, strlen(end) + 1);
        log->len -= (size_t)(end - from);
        p = from;
    }
}

/* A source longer than the PostgreSQL target's chunks (65,536 records merged at a time while
 * the next ones are read), into a table whose CHECK rejects some records: the failing records
 * are found inside chunks merged in the background. */
static char *chunked_source(int version)
{
    ferry_buf b;

    ferry_buf_init(&b, 1 << 24);
    ferry_buf_printf(&b, HEADER);
    for (int i = 0; i < 140000; i++) {
        int age = i % 9001 == 17 ? -1 : (version == 2 && i % 11 == 0 ? i + 1 : i) % 100;
        if (version == 2 && i % 50 == 7)
            continue;
        ferry_buf_printf(&b, "K%06d,P%d,,%s,%d,yes,1\n", i, i,
                         i % 4001 == 3 ? "Freelance" : "Karyawan", age);
        if (i % 30011 == 100)
            ferry_buf_printf(&b, "K%06d,Twin,,Karyawan,1,no,2\n", i);
    }
    return ferry_buf_take(&b);
}

static void play_chunked(world *w, bool pg)
{
    static const char *const ddl =
        "CREATE TABLE staff (id TEXT NOT NULL, name TEXT NOT NULL, email TEXT, employment TEXT,"
        " age BIGINT CHECK (age >= 0), active BIGINT, rate TEXT, org_id TEXT NOT NULL,"
        " PRIMARY KEY (id, org_id))";
    char *c1 = chunked_source(1), *c2 = chunked_source(2);

    if (pg) {
        PGconn *conn = PQconnectdb(w->database);
        PGresult *res = PQexec(conn, ddl);
        assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        PQfinish(conn);
    } else {
        char path[4200];
        sqlite3 *db;
        snprintf(path, sizeof(path), "%s/ferry.db", w->dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, ddl, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
    }
    write_source(w, "k", c1);
    run_and_record(w, "k");
    write_source(w, "k", c2);
    run_and_record(w, "k");
    normalize(&w->log);
    free(c1);
    free(c2);
}

static void compare_transcripts(world *sq, world *pg)
{
    const char *a = ferry_buf_str(&sq->log), *b = ferry_buf_str(&pg->log);
    size_t i = 0;

    if (strcmp(a, b) != 0) {
        while (a[i] != '\0' && a[i] == b[i])
            i++;
        while (i > 0 && a[i - 1] != '\n')
            i--;
        fprintf(stderr, "the backends differ from here:\nSQLite:\n%.1500s\nPostgreSQL:\n%.1500s\n",
                a + i, b + i);
        fail();
    }
}

static void chunked_runs_with_constraint_failures_match_on_both_backends(void **state)
{
    world sq, pg;
    const char *a;

    (void)state;
    open_world(&sq, false, "delete");
    open_world(&pg, true, "delete");
    play_chunked(&sq, false);
    play_chunked(&pg, true);
    compare_transcripts(&sq, &pg);
    a = ferry_buf_str(&sq.log);
    assert_non_null(strstr(a, "row 19: rejected by the target table: "));
    assert_non_null(strstr(a, "failed key=id=K126031, org_id=k row=126038 reason=row 126038: "
                              "rejected by the target table: "));
    assert_non_null(strstr(a, "duplicate key"));
    close_world(&sq);
    close_world(&pg);
}

static void compare_backends(const char *on_missing)
{
    world sq, pg;
    const char *a, *b;
    size_t i = 0;

    open_world(&sq, false, on_missing);
    open_world(&pg, true, on_missing);
    play(&sq, false);
    play(&pg, true);
    a = ferry_buf_str(&sq.log);
    b = ferry_buf_str(&pg.log);
    if (strcmp(a, b) != 0) {
        while (a[i] != '\0' && a[i] == b[i])
            i++;
        while (i > 0 && a[i - 1] != '\n')
            i--;
        fprintf(stderr, "the backends differ from here:\nSQLite:\n%.1500s\nPostgreSQL:\n%.1500s\n",
                a + i, b + i);
        fail();
    }
    if (getenv("FERRY_TEST_TRANSCRIPT") != NULL) {
        FILE *f = fopen(getenv("FERRY_TEST_TRANSCRIPT"), "w");
        if (f != NULL) {
            fputs(a, f);
            fclose(f);
        }
    }
    /* The transcript really covers the outcomes it should. */
    assert_non_null(strstr(a, "duplicate key"));
    assert_non_null(strstr(a, "deleted=1 "));
    assert_non_null(strstr(a, "deleted key=id=L0009, org_id=c row=0"));
    assert_non_null(strstr(a, "updated key=id=E001, org_id=a"));
    close_world(&sq);
    close_world(&pg);
}

static void delete_runs_match_on_both_backends(void **state)
{
    (void)state;
    compare_backends("delete");
}

static void flag_runs_match_on_both_backends(void **state)
{
    (void)state;
    compare_backends("flag");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delete_runs_match_on_both_backends),
        cmocka_unit_test(flag_runs_match_on_both_backends),
        cmocka_unit_test(chunked_runs_with_constraint_failures_match_on_both_backends),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
