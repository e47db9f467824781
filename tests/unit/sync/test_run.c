/* test_run.c - one run of a sync end to end (src/sync/run.c).
 *
 * Each test writes a CSV and a config into a fresh temporary directory, parses the config with
 * that directory (so `url: staff.csv` and `database: sqlite:ferry.db` resolve there), opens
 * the store and calls ferry_sync_run() as the CLI does. It checks the exact summary and log
 * messages, the counts, the change rows, dry runs, empty sources, header errors, cancelling,
 * the progress callback, on_missing, and ferry_run_format_summary() on its own. */
#include "config/config.h"
#include "queue/queue.h"
#include "store/store.h"
#include "sync/run.h"
#include "testutil.h"
#include "util/buf.h"

#include <sqlite3.h>
#include <stdatomic.h>
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

typedef struct {
    char *dir;
    char *csv_path;
    ferry_config *cfg;
    ferry_store *store;
    bool allow_missing; /* runs are started with --allow-missing */
} fixture;

/* The sync: title Staff, records called "people", key ID, skip (the rules' YAML mapping). */
static void setup_fx_skip(fixture *fx, const char *on_missing, const char *skip, const char *extra)
{
    char yaml[2048];
    ferry_err err;
    int n;

    memset(fx, 0, sizeof(*fx));
    fx->dir = tu_tempdir();
    assert_non_null(fx->dir);
    n = snprintf(yaml, sizeof(yaml),
                 "database: sqlite:ferry.db\n"
                 "syncs:\n"
                 "  staff:\n"
                 "    title: Staff\n"
                 "    noun: people\n"
                 "    source: { url: staff.csv }\n"
                 "    target: { table: staff, key: id, on_missing: %s }\n"
                 "    fields:\n"
                 "      id: { column: ID }\n"
                 "      name: { column: Name, required: true }\n"
                 "      email: { column: Email, type: email }\n"
                 "      employment: { column: Employment, type: enum, values: [Karyawan, "
                 "Freelance] }\n"
                 "      age: { column: Age, type: integer }\n"
                 "    skip: %s\n"
                 "%s",
                 on_missing, skip, extra != NULL ? extra : "");
    assert_true(n > 0 && (size_t)n < sizeof(yaml));
    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, (size_t)n, "ferry.yaml", fx->dir, &fx->cfg, &err) != FERRY_OK)
        fail_msg("config: %s", err.msg);
    if (ferry_store_open(fx->cfg->database, fx->cfg->dir, &fx->store, &err) != FERRY_OK)
        fail_msg("store: %s", err.msg);
}

/* The sync of setup_fx_skip(), skipping every record that is not Karyawan. */
static void setup_fx(fixture *fx, const char *on_missing, const char *extra)
{
    setup_fx_skip(fx, on_missing, "{ employment: { not_in: [Karyawan] } }", extra);
}

static void teardown_fx(fixture *fx)
{
    ferry_store_close(fx->store);
    ferry_config_free(fx->cfg);
    tu_rmtree(fx->dir);
    free(fx->csv_path);
    free(fx->dir);
}

static void write_csv(fixture *fx, const char *csv)
{
    free(fx->csv_path);
    fx->csv_path = tu_write_file(fx->dir, "staff.csv", csv, strlen(csv));
    assert_non_null(fx->csv_path);
}

typedef struct {
    int calls;
    int percent[4096];
    ferry_run_status last_status;
    char last_phase[16];
    int64_t last_processed;
    int64_t last_eta;
} progress_log;

static void on_progress(void *ctx, const ferry_run_progress *p)
{
    progress_log *log = ctx;

    if (log->calls < 4096)
        log->percent[log->calls] = p->run->percent;
    log->calls++;
    log->last_status = p->run->status;
    snprintf(log->last_phase, sizeof(log->last_phase), "%s", p->run->phase);
    log->last_processed = p->run->processed;
    log->last_eta = p->eta_ms;
}

/* Runs the sync; the run must be recorded. */
static ferry_run run_sync(fixture *fx, bool dry_run, atomic_bool *cancel, progress_log *log)
{
    ferry_queue_request rq = {0};
    ferry_run_options opt;
    ferry_run started, run;
    ferry_err err;

    rq.sync = &fx->cfg->syncs[0];
    rq.trigger = "api";
    rq.user = "tester";
    rq.dry_run = dry_run;
    rq.allow_missing = fx->allow_missing;
    ferry_err_clear(&err);
    if (ferry_queue_run_start(fx->store, &rq, &started, &err) != FERRY_OK)
        fail_msg("ferry_queue_run_start: %s", err.msg);
    memset(&opt, 0, sizeof(opt));
    opt.config = fx->cfg;
    opt.sync = &fx->cfg->syncs[0];
    opt.store = fx->store;
    opt.run = &started;
    opt.cancel = cancel;
    opt.on_progress = log != NULL ? on_progress : NULL;
    opt.progress_ctx = log;
    opt.progress_interval_ms = 1;
    ferry_err_clear(&err);
    if (ferry_sync_run(&opt, &run, &err) != FERRY_OK)
        fail_msg("ferry_sync_run: %s", err.msg);
    ferry_run_done(&started);
    return run;
}

/* Every row of sql as "a|b|c\n" (NULL as "NULL"); the caller frees. */
static char *dump(fixture *fx, const char *sql)
{
    sqlite3 *db = ferry_sqlite_store_db(fx->store);
    size_t len = 0, cap = 4096;
    char *out = malloc(cap);
    sqlite3_stmt *st;

    assert_non_null(out);
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            size_t need = len + (v != NULL ? strlen(v) : 4) + 3;
            if (need > cap) {
                cap = need * 2;
                out = realloc(out, cap);
                assert_non_null(out);
            }
            len += (size_t)sprintf(out + len, "%s%s", i ? "|" : "", v != NULL ? v : "NULL");
        }
        len += (size_t)sprintf(out + len, "\n");
    }
    sqlite3_finalize(st);
    return out;
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

static bool staff_table_exists(fixture *fx)
{
    char *got = dump(fx, "SELECT count(*) FROM sqlite_master WHERE name = 'staff'");
    bool exists = strcmp(got, "1\n") == 0;

    free(got);
    return exists;
}

/* The changes of run as "seq|outcome|key|row|reason|diff\n" lines. */
static char *changes_of(fixture *fx, int64_t run_id)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT seq, outcome, record_key, row, reason, diff FROM ferry_changes"
             " WHERE run_id = %lld ORDER BY seq",
             (long long)run_id);
    return dump(fx, sql);
}

static void expect_changes(fixture *fx, int64_t run_id, const char *want)
{
    char *got = changes_of(fx, run_id);

    if (strcmp(got, want) != 0) {
        fprintf(stderr, "changes got:\n%swant:\n%s", got, want);
        free(got);
        fail();
    }
    free(got);
}

#define HEADER "ID,Name,Email,Employment,Age\n"
#define FIRST_CSV                                                                                  \
    HEADER "E001,Ayu,ayu@example.com,Karyawan,30\n"                                                \
           "E002,Budi,budi@example.com,Karyawan,41\n"                                              \
           "E003,Citra,citra@example.com,Karyawan,25\n"
#define SECOND_CSV                                                                                 \
    HEADER "E001,Ayu Lestari,ayu@example.com,Karyawan,30\n"                                        \
           "E002,Budi,budi@example.com,karyawan,041\n"                                             \
           "E004,Dewi,dewi@example.com,Freelance,22\n"                                             \
           "E005,Eko,eko@,Karyawan,33\n"                                                           \
           "E006,Fajar,fajar@example.com,Karyawan,29\n"
#define SECOND_SUMMARY "Processed 5 people: 1 created, 1 updated, 1 unchanged, 1 skipped, 1 failed"
#define SECOND_CHANGES                                                                             \
    "1|updated|E001|2|NULL|{\"name\":[\"Ayu\",\"Ayu Lestari\"]}\n"                                 \
    "2|skipped|E004|4|row 4: employment 'Freelance' not in [Karyawan]|NULL\n"                      \
    "3|failed|E005|5|row 5: email 'eko@' is not an email address|NULL\n"                           \
    "4|created|E006|6|NULL|NULL\n"
#define STAFF_ROWS "SELECT id, name, email, employment, age FROM staff ORDER BY id"
#define FIRST_ROWS                                                                                 \
    "E001|Ayu|ayu@example.com|Karyawan|30\n"                                                       \
    "E002|Budi|budi@example.com|Karyawan|41\n"                                                     \
    "E003|Citra|citra@example.com|Karyawan|25\n"

static void first_run_creates_every_record_with_exact_summary(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_string_equal(run.ui_message,
                        "Processed 3 people: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 "
                        "failed.");
    assert_string_equal(run.log_message,
                        "Processed 3 people: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 "
                        "failed.\nCreated: E001; E002; E003.");
    assert_int_equal(run.processed, 3);
    assert_int_equal(run.counts[FERRY_OUTCOME_CREATED], 3);
    assert_int_equal(run.percent, 100);
    assert_string_equal(run.phase, "done");
    assert_null(run.error);
    expect_dump(&fx, STAFF_ROWS, FIRST_ROWS);
    expect_changes(&fx, run.id,
                   "1|created|E001|2|NULL|NULL\n"
                   "2|created|E002|3|NULL|NULL\n"
                   "3|created|E003|4|NULL|NULL\n");
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void second_run_counts_each_outcome_and_records_changes(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    ferry_run_done(&run);
    write_csv(&fx, SECOND_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_string_equal(run.ui_message, SECOND_SUMMARY ".");
    assert_int_equal(run.processed, 5);
    assert_int_equal(run.counts[FERRY_OUTCOME_CREATED], 1);
    assert_int_equal(run.counts[FERRY_OUTCOME_UPDATED], 1);
    assert_int_equal(run.counts[FERRY_OUTCOME_UNCHANGED], 1);
    assert_int_equal(run.counts[FERRY_OUTCOME_SKIPPED], 1);
    assert_int_equal(run.counts[FERRY_OUTCOME_FAILED], 1);
    assert_int_equal(run.counts[FERRY_OUTCOME_DELETED], 0);
    expect_changes(&fx, run.id, SECOND_CHANGES);
    expect_dump(&fx, STAFF_ROWS,
                "E001|Ayu Lestari|ayu@example.com|Karyawan|30\n"
                "E002|Budi|budi@example.com|Karyawan|41\n"
                "E003|Citra|citra@example.com|Karyawan|25\n"
                "E006|Fajar|fajar@example.com|Karyawan|29\n");
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void log_message_details_each_outcome(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    ferry_run_done(&run);
    write_csv(&fx, SECOND_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    assert_string_equal(run.log_message,
                        SECOND_SUMMARY ".\n"
                                       "Created: E006.\n"
                                       "Updated: E001 (name: 'Ayu' -> 'Ayu Lestari').\n"
                                       "Skipped: row 4: employment 'Freelance' not in [Karyawan].\n"
                                       "Failed: row 5: email 'eko@' is not an email address.");
    ferry_run_done(&run);
    teardown_fx(&fx);
}

/* Freelancers are skipped under a label, records without an age without one; records are
 * named "{name} ({email})". */
#define LABELLED_SKIP                                                                              \
    "{ employment: { not_in: [Karyawan], label: FREELANCE }, age: { empty: true } }"
#define LABELLED_EXTRA "    label: \"{name} ({email})\"\n"
#define LABELLED_SUMMARY                                                                           \
    "Processed 6 people: 1 created, 1 updated, 1 unchanged, 1 skipped, 1 FREELANCE skipped, 1 "    \
    "failed."

static void labelled_skips_are_counted_apart_and_records_named(void **state)
{
    fixture fx;
    ferry_run run, stored;
    ferry_err err;

    (void)state;
    setup_fx_skip(&fx, "keep", LABELLED_SKIP, LABELLED_EXTRA);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    assert_string_equal(run.ui_message, "Processed 3 people: 3 created, 0 updated, 0 unchanged, 0 "
                                        "skipped, 0 FREELANCE skipped, 0 failed.");
    assert_string_equal(run.log_message,
                        "Processed 3 people: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 "
                        "FREELANCE skipped, 0 failed.\nCreated: Ayu (ayu@example.com); Budi "
                        "(budi@example.com); Citra (citra@example.com).");
    ferry_run_done(&run);
    write_csv(&fx, SECOND_CSV "E007,Gita,gita@example.com,Karyawan,\n");
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_string_equal(run.ui_message, LABELLED_SUMMARY);
    assert_string_equal(run.log_message, LABELLED_SUMMARY
                        "\n"
                        "Created: Fajar (fajar@example.com).\n"
                        "Updated: Ayu Lestari (ayu@example.com) (name: 'Ayu' -> 'Ayu Lestari').\n"
                        "Skipped: Dewi (dewi@example.com) (employment 'Freelance' not in "
                        "[Karyawan] (FREELANCE)); Gita (gita@example.com) (age is empty).\n"
                        "Failed: Eko (email 'eko@' is not an email address).");
    assert_int_equal(run.processed, 6);
    assert_int_equal(run.counts[FERRY_OUTCOME_SKIPPED], 1);
    assert_int_equal(run.skipped_by_label.n, 1);
    assert_string_equal(run.skipped_by_label.items[0].label, "FREELANCE");
    assert_int_equal(run.skipped_by_label.items[0].count, 1);
    /* The change rows keep the key, the reason (with the label) and the name. */
    expect_dump(&fx,
                "SELECT seq, outcome, record_key, row, reason, label FROM ferry_changes WHERE"
                " run_id = 2 ORDER BY seq",
                "1|updated|E001|2|NULL|Ayu Lestari (ayu@example.com)\n"
                "2|skipped|E004|4|row 4: employment 'Freelance' not in [Karyawan] "
                "(FREELANCE)|Dewi (dewi@example.com)\n"
                "3|failed|E005|5|row 5: email 'eko@' is not an email address|Eko\n"
                "4|created|E006|6|NULL|Fajar (fajar@example.com)\n"
                "5|skipped|E007|7|row 7: age is empty|Gita (gita@example.com)\n");
    /* Stored as counted. */
    ferry_err_clear(&err);
    assert_int_equal(fx.store->runs->run_load(fx.store, run.id, &stored, &err), FERRY_OK);
    assert_int_equal(stored.counts[FERRY_OUTCOME_SKIPPED], 1);
    assert_int_equal(stored.skipped_by_label.n, 1);
    assert_string_equal(stored.skipped_by_label.items[0].label, "FREELANCE");
    assert_int_equal(stored.skipped_by_label.items[0].count, 1);
    ferry_run_done(&stored);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void a_failed_run_counts_no_labelled_skips(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx_skip(&fx, "keep", LABELLED_SKIP, NULL);
    /* A last record cut off (no line end, short of fields) fails the whole run. */
    write_csv(&fx, SECOND_CSV "E999,Cut");
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_FAILED);
    assert_int_equal(run.skipped_by_label.n, 1);
    assert_int_equal(run.skipped_by_label.items[0].count, 0);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void log_message_lists_at_most_50_per_outcome(void **state)
{
    char *csv = malloc(64 * 1024);
    size_t len;
    fixture fx;
    ferry_run run;

    (void)state;
    assert_non_null(csv);
    len = (size_t)sprintf(csv, HEADER);
    for (int i = 1; i <= 60; i++)
        len += (size_t)sprintf(csv + len, "K%03d,N%d,,Karyawan,%d\n", i, i, i);
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, csv);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.counts[FERRY_OUTCOME_CREATED], 60);
    assert_non_null(strstr(run.log_message, "; K050; and 10 more (see the run's changes)."));
    assert_null(strstr(run.log_message, "K051"));
    ferry_run_done(&run);
    free(csv);
    teardown_fx(&fx);
}

static void stored_run_matches_the_returned_run(void **state)
{
    ferry_err err;
    ferry_run run, got;
    fixture fx;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    ferry_err_clear(&err);
    assert_int_equal(fx.store->runs->run_load(fx.store, run.id, &got, &err), FERRY_OK);
    assert_string_equal(got.sync, "staff");
    assert_string_equal(got.trigger, "api");
    assert_string_equal(got.user, "tester");
    assert_int_equal(got.status, FERRY_RUN_SUCCEEDED);
    assert_string_equal(got.phase, "done");
    assert_int_equal(got.percent, 100);
    assert_int_equal(got.processed, 3);
    assert_memory_equal(got.counts, run.counts, sizeof(run.counts));
    assert_string_equal(got.ui_message, run.ui_message);
    assert_string_equal(got.log_message, run.log_message);
    assert_false(got.dry_run);
    assert_int_equal(got.started_at_ms, run.started_at_ms);
    assert_int_equal(got.finished_at_ms, run.finished_at_ms);
    assert_true(got.finished_at_ms >= got.started_at_ms);
    assert_int_equal(got.duration_ms, run.duration_ms);
    ferry_run_done(&got);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void dry_run_leaves_target_and_changes_untouched_but_records_the_run(void **state)
{
    ferry_err err;
    ferry_run run, got;
    fixture fx;

    (void)state;
    setup_fx(&fx, "delete", NULL);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    ferry_run_done(&run);
    write_csv(&fx, SECOND_CSV);
    run = run_sync(&fx, true, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_true(run.dry_run);
    assert_string_equal(run.ui_message,
                        "Dry run, nothing was changed. " SECOND_SUMMARY ", 1 deleted.");
    assert_int_equal(run.counts[FERRY_OUTCOME_DELETED], 1);
    expect_dump(&fx, STAFF_ROWS, FIRST_ROWS);
    expect_changes(&fx, run.id, "");
    ferry_err_clear(&err);
    assert_int_equal(fx.store->runs->run_load(fx.store, run.id, &got, &err), FERRY_OK);
    assert_true(got.dry_run);
    assert_int_equal(got.status, FERRY_RUN_SUCCEEDED);
    assert_string_equal(got.ui_message, run.ui_message);
    assert_int_equal(got.counts[FERRY_OUTCOME_UPDATED], 1);
    ferry_run_done(&got);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void dry_first_run_does_not_create_the_table(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, true, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_int_equal(run.counts[FERRY_OUTCOME_CREATED], 3);
    assert_false(staff_table_exists(&fx));
    ferry_run_done(&run);
    teardown_fx(&fx);
}

#define EMPTY_ERROR                                                                                \
    "the source has a header but no rows; if that can be right, set allow_empty: true on the "     \
    "sync (on_missing is never applied to an empty source)"

static void source_with_only_a_header_fails_the_run(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, HEADER);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_FAILED);
    assert_string_equal(run.error_code, "empty_source");
    assert_string_equal(run.error, EMPTY_ERROR);
    assert_string_equal(run.ui_message, "Sync of Staff failed: " EMPTY_ERROR ". Nothing was "
                                        "changed.");
    assert_string_equal(run.log_message, run.ui_message);
    assert_false(staff_table_exists(&fx));
    expect_changes(&fx, run.id, "");
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void file_without_even_a_header_fails_the_run(void **state)
{
    char want[4400];
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, "");
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_FAILED);
    assert_string_equal(run.error_code, "empty_source");
    snprintf(want, sizeof(want), "the source %s is empty (not even a header row)", fx.csv_path);
    assert_string_equal(run.error, want);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void empty_source_succeeds_with_allow_empty_and_keeps_rows(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "delete", "    allow_empty: true\n");
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    ferry_run_done(&run);
    write_csv(&fx, HEADER);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_string_equal(run.ui_message, "Processed 0 people: 0 created, 0 updated, 0 unchanged, "
                                        "0 skipped, 0 failed, 0 deleted.");
    assert_string_equal(run.log_message,
                        "Processed 0 people: 0 created, 0 updated, 0 unchanged, 0 skipped, 0 "
                        "failed, 0 deleted.\non_missing was not applied: the source is empty.");
    expect_dump(&fx, STAFF_ROWS, FIRST_ROWS);
    ferry_run_done(&run);

    /* Not even a header: the same. */
    write_csv(&fx, "");
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_int_equal(run.processed, 0);
    expect_dump(&fx, STAFF_ROWS, FIRST_ROWS);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void missing_header_column_fails_before_the_table_is_created(void **state)
{
    char want[4400];
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, "ID,Name,Employment,Age\nE001,Ayu,Karyawan,30\n");
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_FAILED);
    assert_string_equal(run.error_code, "header");
    snprintf(want, sizeof(want),
             "the source %s is missing required columns: 'Email' (its header has 'ID', 'Name', "
             "'Employment', 'Age')",
             fx.csv_path);
    assert_string_equal(run.error, want);
    assert_false(staff_table_exists(&fx));
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++)
        assert_int_equal(run.counts[i], 0);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void schema_mismatch_fails_the_run_and_names_the_column(void **state)
{
    sqlite3 *db;
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    db = ferry_sqlite_store_db(fx.store);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE staff (id TEXT PRIMARY KEY, name TEXT, email "
                                  "TEXT, age INTEGER)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_FAILED);
    assert_string_equal(run.error_code, "schema");
    assert_string_equal(run.error, "table staff exists but has no column 'employment' for field "
                                   "'employment': add the column or rename the field: ALTER TABLE "
                                   "\"staff\" ADD COLUMN \"employment\" TEXT");
    expect_dump(&fx, "SELECT count(*) FROM staff", "0\n");
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void cancel_before_the_run_is_cancelled_and_leaves_the_table_untouched(void **state)
{
    atomic_bool cancel;
    ferry_err err;
    ferry_run run, got;
    fixture fx;

    (void)state;
    setup_fx(&fx, "delete", NULL);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    ferry_run_done(&run);
    write_csv(&fx, SECOND_CSV);
    atomic_init(&cancel, true);
    run = run_sync(&fx, false, &cancel, NULL);
    assert_int_equal(run.status, FERRY_RUN_CANCELLED);
    assert_string_equal(run.ui_message, "Sync of Staff was cancelled. Nothing was changed.");
    assert_string_equal(run.error_code, "cancelled");
    assert_null(run.error);
    assert_int_equal(run.processed, 0);
    expect_dump(&fx, STAFF_ROWS, FIRST_ROWS);
    expect_changes(&fx, run.id, "");
    ferry_err_clear(&err);
    assert_int_equal(fx.store->runs->run_load(fx.store, run.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_CANCELLED);
    ferry_run_done(&got);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void cancel_of_a_first_run_leaves_no_table(void **state)
{
    atomic_bool cancel;
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, FIRST_CSV);
    atomic_init(&cancel, true);
    run = run_sync(&fx, false, &cancel, NULL);
    assert_int_equal(run.status, FERRY_RUN_CANCELLED);
    assert_false(staff_table_exists(&fx));
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void finished_run_lets_the_next_one_start(void **state)
{
    atomic_bool cancel;
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, HEADER);
    run = run_sync(&fx, false, NULL, NULL); /* failed */
    ferry_run_done(&run);
    atomic_init(&cancel, true);
    run = run_sync(&fx, false, &cancel, NULL); /* cancelled */
    ferry_run_done(&run);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_int_equal(run.id, 3);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void run_while_another_is_active_is_refused(void **state)
{
    ferry_queue_request rq = {0};
    ferry_run other, run;
    int64_t id = 0;
    ferry_err err;
    fixture fx;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, FIRST_CSV);
    memset(&other, 0, sizeof(other));
    other.sync = (char *)"staff";
    other.status = FERRY_RUN_RUNNING;
    other.total = -1;
    other.queued_at_ms = other.started_at_ms = 1795500344000;
    ferry_err_clear(&err);
    assert_int_equal(fx.store->runs->run_start(fx.store, &other, &id, &err), FERRY_OK);
    rq.sync = &fx.cfg->syncs[0];
    memset(&run, 0, sizeof(run));
    assert_int_equal(ferry_queue_run_start(fx.store, &rq, &run, &err), FERRY_EINVAL);
    assert_string_equal(err.msg, "a run of 'staff' is already queued, running or held for review "
                                 "(a held run waits for ferry approve RUN or ferry reject RUN)");
    assert_null(run.sync);
    assert_false(staff_table_exists(&fx));
    teardown_fx(&fx);
}

static void progress_percent_never_decreases_and_ends_at_100(void **state)
{
    static progress_log log;
    char *csv = malloc(512 * 1024);
    size_t len;
    fixture fx;
    ferry_run run;

    (void)state;
    assert_non_null(csv);
    len = (size_t)sprintf(csv, HEADER);
    for (int i = 0; i < 5000; i++)
        len += (size_t)sprintf(csv + len, "P%05d,Person %d,p%d@example.com,Karyawan,%d\n", i, i, i,
                               i % 90);
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, csv);
    memset(&log, 0, sizeof(log));
    run = run_sync(&fx, false, NULL, &log);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_true(log.calls >= 4);
    assert_true(log.calls < 4096);
    for (int i = 1; i < log.calls; i++) {
        if (log.percent[i] < log.percent[i - 1])
            fail_msg("percent went from %d to %d at call %d", log.percent[i - 1], log.percent[i],
                     i);
    }
    for (int i = 0; i < log.calls - 1; i++)
        assert_true(log.percent[i] <= 99);
    assert_int_equal(log.percent[log.calls - 1], 100);
    assert_int_equal(log.last_status, FERRY_RUN_SUCCEEDED);
    assert_string_equal(log.last_phase, "done");
    assert_int_equal(log.last_processed, 5000);
    assert_int_equal(log.last_eta, 0);
    ferry_run_done(&run);
    free(csv);
    teardown_fx(&fx);
}

static void on_missing_delete_removes_rows_and_records_them(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "delete", NULL);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    ferry_run_done(&run);
    write_csv(&fx, SECOND_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    assert_string_equal(run.ui_message, SECOND_SUMMARY ", 1 deleted.");
    assert_int_equal(run.counts[FERRY_OUTCOME_DELETED], 1);
    assert_non_null(strstr(run.log_message, "\nDeleted: E003."));
    expect_changes(&fx, run.id,
                   SECOND_CHANGES "5|deleted|E003|NULL|no longer in the source: "
                                  "deleted|NULL\n");
    expect_dump(&fx, "SELECT id FROM staff ORDER BY id", "E001\nE002\nE006\n");
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void on_missing_flag_marks_rows_and_says_so(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "flag", NULL);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    ferry_run_done(&run);
    write_csv(&fx, SECOND_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    assert_string_equal(run.ui_message, SECOND_SUMMARY ", 1 flagged as missing.");
    expect_changes(&fx, run.id,
                   SECOND_CHANGES "5|deleted|E003|NULL|no longer in the source: "
                                  "flagged as missing|NULL\n");
    expect_dump(&fx, "SELECT id, ferry_missing_since IS NOT NULL FROM staff ORDER BY id",
                "E001|0\nE002|0\nE003|1\nE006|0\n");
    ferry_run_done(&run);
    teardown_fx(&fx);
}

/* A CSV of rows from..to-1 (E0000...); the rows from bad on fail validation (their email). */
static void write_staff(fixture *fx, int from, int to, int bad)
{
    char *csv = malloc(64 * (size_t)(to - from + 1) + sizeof(HEADER));
    size_t len;

    assert_non_null(csv);
    len = (size_t)sprintf(csv, HEADER);
    for (int i = from; i < to; i++)
        len += (size_t)sprintf(csv + len, "E%04d,P%d,%s%d@example.com,Karyawan,30\n", i, i,
                               i >= bad ? "@" : "p", i);
    write_csv(fx, csv);
    free(csv);
}

/* Rejects held run id, as a person would, so the sync may run again. */
static void reject_held(fixture *fx, int64_t id)
{
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(fx->store->runs->run_decide(fx->store, id, FERRY_RUN_REJECTED, false, "tester",
                                                 NULL, NULL, &err),
                     FERRY_OK);
}

static void missing_past_the_guard_holds_the_run_and_changes_nothing(const char *on_missing)
{
    const char *verb = strcmp(on_missing, "flag") == 0 ? "flag as missing" : "delete";
    char *before, want[256];
    fixture fx;
    ferry_run run, got;
    ferry_err err;

    setup_fx(&fx, on_missing, NULL);
    write_staff(&fx, 0, 100, 100);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    ferry_run_done(&run);
    before = dump(&fx, "SELECT * FROM staff ORDER BY id");
    /* 89 of the rows, one of them changed, and ten new ones: 11 of 100 would go. */
    write_staff(&fx, 11, 110, 200);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_HELD);
    snprintf(want, sizeof(want), "would %s 11 of 100 people (11%%), more than 10%%", verb);
    assert_string_equal(run.held_reason, want);
    assert_non_null(strstr(run.ui_message, "Held for review: "));
    assert_non_null(strstr(run.ui_message, "Nothing was changed yet."));
    expect_dump(&fx, "SELECT * FROM staff ORDER BY id", before);
    /* Its change set is kept for the review: the 11 rows it would remove among them. */
    expect_dump(&fx,
                "SELECT outcome, count(*) FROM ferry_changes WHERE run_id = (SELECT max(id) FROM"
                " ferry_runs) GROUP BY outcome ORDER BY outcome",
                "created|10\ndeleted|11\n");
    reject_held(&fx, run.id);
    ferry_run_done(&run);

    /* Ten may go: a share spares ten rows. */
    write_staff(&fx, 10, 100, 200);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_int_equal(run.counts[FERRY_OUTCOME_DELETED], 10);
    ferry_run_done(&run);
    free(before);

    /* With --allow-missing the run goes ahead, and the run says it was allowed. */
    write_staff(&fx, 50, 100, 200);
    fx.allow_missing = true;
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_int_equal(run.counts[FERRY_OUTCOME_DELETED], 40);
    ferry_err_clear(&err);
    assert_int_equal(fx.store->runs->run_load(fx.store, run.id, &got, &err), FERRY_OK);
    assert_true(got.allow_missing);
    ferry_run_done(&got);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void missing_past_the_guard_holds_a_delete_run(void **state)
{
    (void)state;
    missing_past_the_guard_holds_the_run_and_changes_nothing("delete");
}

static void missing_past_the_guard_holds_a_flag_run(void **state)
{
    (void)state;
    missing_past_the_guard_holds_the_run_and_changes_nothing("flag");
}

static void guard_in_the_config_allows_or_limits_more(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "delete", "    guard: { max_missing: 100%, max_failed: 5 }\n");
    write_staff(&fx, 0, 100, 100);
    run = run_sync(&fx, false, NULL, NULL);
    ferry_run_done(&run);
    write_staff(&fx, 60, 100, 200);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_int_equal(run.counts[FERRY_OUTCOME_DELETED], 60);
    ferry_run_done(&run);
    /* Six records of 40 fail: more than max_failed's 5, so nothing is written at all. */
    write_staff(&fx, 60, 100, 94);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_HELD);
    assert_string_equal(run.held_reason,
                        "6 of 40 people failed (15%), more than 5 (the first: row 36: email "
                        "'@94@example.com' is not an email address)");
    expect_dump(&fx,
                "SELECT count(*) FROM ferry_changes WHERE run_id = (SELECT max(id) FROM"
                " ferry_runs) AND outcome = 'failed'",
                "6\n");
    reject_held(&fx, run.id);
    ferry_run_done(&run);
    write_staff(&fx, 60, 100, 95);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_int_equal(run.counts[FERRY_OUTCOME_FAILED], 5);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void failed_record_with_a_known_key_keeps_its_row_from_on_missing(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "delete", NULL);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    ferry_run_done(&run);
    write_csv(&fx, HEADER "E001,Ayu,ayu@example.com,Karyawan,30\n"
                          "E002,Budi,budi@,Karyawan,41\n");
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.counts[FERRY_OUTCOME_FAILED], 1);
    assert_int_equal(run.counts[FERRY_OUTCOME_DELETED], 1);
    expect_dump(&fx, STAFF_ROWS,
                "E001|Ayu|ayu@example.com|Karyawan|30\n"
                "E002|Budi|budi@example.com|Karyawan|41\n");
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void failure_without_a_key_stops_on_missing_and_notes_why(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "delete", NULL);
    write_csv(&fx, FIRST_CSV);
    run = run_sync(&fx, false, NULL, NULL);
    ferry_run_done(&run);
    write_csv(&fx, HEADER "E001,Ayu,ayu@example.com,Karyawan,30\n"
                          ",Nobody,,Karyawan,1\n");
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_string_equal(run.log_message,
                        "Processed 2 people: 0 created, 0 updated, 1 unchanged, 0 skipped, 1 "
                        "failed, 0 deleted.\n"
                        "Failed: row 3: id is required but empty.\n"
                        "on_missing was not applied: some records failed before their key could "
                        "be read, and their rows must not be removed.");
    expect_changes(&fx, run.id, "1|failed|NULL|3|row 3: id is required but empty|NULL\n");
    expect_dump(&fx, STAFF_ROWS, FIRST_ROWS);
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void ragged_csv_row_fails_only_that_record(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, HEADER "E001,Ayu,ayu@example.com,Karyawan,30\n"
                          "E002,Budi\n"
                          "E003,Citra,citra@example.com,Karyawan,25\n");
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_int_equal(run.counts[FERRY_OUTCOME_CREATED], 2);
    assert_int_equal(run.counts[FERRY_OUTCOME_FAILED], 1);
    expect_changes(&fx, run.id,
                   "1|created|E001|2|NULL|NULL\n"
                   "2|failed|NULL|3|row 3: has 2 fields but the header has 5 (line 3)|NULL\n"
                   "3|created|E003|4|NULL|NULL\n");
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void duplicate_key_in_the_source_fails_the_later_row(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, HEADER "E001,Ayu,ayu@example.com,Karyawan,30\n"
                          "E001,Ayu Again,ayu@example.com,Karyawan,31\n");
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.counts[FERRY_OUTCOME_CREATED], 1);
    assert_int_equal(run.counts[FERRY_OUTCOME_FAILED], 1);
    expect_changes(&fx, run.id,
                   "1|created|E001|2|NULL|NULL\n"
                   "2|failed|E001|3|row 3: duplicate key id 'E001': an earlier row of this source "
                   "has the same key|NULL\n");
    expect_dump(&fx, "SELECT name FROM staff", "Ayu\n");
    ferry_run_done(&run);
    teardown_fx(&fx);
}

static void html_page_instead_of_csv_fails_the_run(void **state)
{
    fixture fx;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", NULL);
    write_csv(&fx, "<!DOCTYPE html><html><body>Sign in</body></html>\n");
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_FAILED);
    assert_string_equal(run.error_code, "source");
    assert_non_null(strstr(run.error, "returned an HTML page, not CSV"));
    ferry_run_done(&run);
    teardown_fx(&fx);
}

/* ---- ferry_run_format_summary ---- */

static const int64_t sample_counts[FERRY_OUTCOME_COUNT] = {2, 5, 140, 2, 2, 3};
static const ferry_label_counts no_labels = {NULL, 0};
#define SAMPLE_SUMMARY                                                                             \
    "Processed 151 therapists: 2 created, 5 updated, 140 unchanged, 2 skipped, 2 failed"

static ferry_sync_spec summary_sync(ferry_on_missing on_missing)
{
    ferry_sync_spec sync;

    memset(&sync, 0, sizeof(sync));
    sync.noun = (char *)"therapists";
    sync.target.on_missing = on_missing;
    return sync;
}

static void summary_with_on_missing_keep_has_no_suffix(void **state)
{
    ferry_sync_spec sync = summary_sync(FERRY_ON_MISSING_KEEP);
    char out[256];

    (void)state;
    ferry_run_format_summary(&sync, sample_counts, &no_labels, out, sizeof(out));
    assert_string_equal(out, SAMPLE_SUMMARY ".");
}

static void summary_with_on_missing_delete_counts_deleted(void **state)
{
    ferry_sync_spec sync = summary_sync(FERRY_ON_MISSING_DELETE);
    char out[256];

    (void)state;
    ferry_run_format_summary(&sync, sample_counts, &no_labels, out, sizeof(out));
    assert_string_equal(out, SAMPLE_SUMMARY ", 3 deleted.");
}

static void summary_with_on_missing_flag_counts_flagged(void **state)
{
    ferry_sync_spec sync = summary_sync(FERRY_ON_MISSING_FLAG);
    char out[256];

    (void)state;
    ferry_run_format_summary(&sync, sample_counts, &no_labels, out, sizeof(out));
    assert_string_equal(out, SAMPLE_SUMMARY ", 3 flagged as missing.");
}

static void summary_puts_each_labels_count_after_the_plain_skipped(void **state)
{
    ferry_sync_spec sync = summary_sync(FERRY_ON_MISSING_KEEP);
    ferry_label_count items[2] = {{(char *)"FLAT", 3}, {(char *)"no email", 0}};
    ferry_label_counts labels = {items, 2};
    char out[256];

    (void)state;
    /* 151 records, 3 of them skipped by the FLAT rule and none by the other. */
    ferry_run_format_summary(&sync, sample_counts, &labels, out, sizeof(out));
    assert_string_equal(out, "Processed 154 therapists: 2 created, 5 updated, 140 unchanged, 2 "
                             "skipped, 3 FLAT skipped, 0 no email skipped, 2 failed.");
}

static void summary_is_cut_to_the_buffer(void **state)
{
    ferry_sync_spec sync = summary_sync(FERRY_ON_MISSING_DELETE);
    char out[sizeof(SAMPLE_SUMMARY) + 4];
    char tiny[10];

    (void)state;
    /* Room for the counts and 4 bytes of the suffix. */
    ferry_run_format_summary(&sync, sample_counts, &no_labels, out, sizeof(out));
    assert_string_equal(out, SAMPLE_SUMMARY ", 3 ");
    ferry_run_format_summary(&sync, sample_counts, &no_labels, tiny, sizeof(tiny));
    assert_string_equal(tiny, "Processed");
}

static void run_over_its_timeout_fails_and_leaves_the_table_untouched(void **state)
{
    fixture fx;
    ferry_buf csv;
    ferry_run run;

    (void)state;
    setup_fx(&fx, "keep", "    timeout: 1ms\n");
    ferry_buf_init(&csv, 8 * 1024 * 1024);
    ferry_buf_printf(&csv, HEADER);
    for (int i = 0; i < 50000; i++)
        ferry_buf_printf(&csv, "%d,Person %d,p%d@example.com,Karyawan,%d\n", i, i, i, 20 + i % 40);
    write_csv(&fx, ferry_buf_str(&csv));
    ferry_buf_done(&csv);
    run = run_sync(&fx, false, NULL, NULL);
    assert_int_equal(run.status, FERRY_RUN_FAILED);
    assert_string_equal(run.error_code, "limit");
    assert_non_null(strstr(run.error, "the run took longer than its timeout of 1 ms"));
    assert_false(staff_table_exists(&fx));
    ferry_run_done(&run);
    teardown_fx(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(run_over_its_timeout_fails_and_leaves_the_table_untouched),
        cmocka_unit_test(first_run_creates_every_record_with_exact_summary),
        cmocka_unit_test(second_run_counts_each_outcome_and_records_changes),
        cmocka_unit_test(log_message_details_each_outcome),
        cmocka_unit_test(log_message_lists_at_most_50_per_outcome),
        cmocka_unit_test(stored_run_matches_the_returned_run),
        cmocka_unit_test(dry_run_leaves_target_and_changes_untouched_but_records_the_run),
        cmocka_unit_test(dry_first_run_does_not_create_the_table),
        cmocka_unit_test(source_with_only_a_header_fails_the_run),
        cmocka_unit_test(file_without_even_a_header_fails_the_run),
        cmocka_unit_test(empty_source_succeeds_with_allow_empty_and_keeps_rows),
        cmocka_unit_test(missing_header_column_fails_before_the_table_is_created),
        cmocka_unit_test(schema_mismatch_fails_the_run_and_names_the_column),
        cmocka_unit_test(cancel_before_the_run_is_cancelled_and_leaves_the_table_untouched),
        cmocka_unit_test(cancel_of_a_first_run_leaves_no_table),
        cmocka_unit_test(finished_run_lets_the_next_one_start),
        cmocka_unit_test(run_while_another_is_active_is_refused),
        cmocka_unit_test(progress_percent_never_decreases_and_ends_at_100),
        cmocka_unit_test(on_missing_delete_removes_rows_and_records_them),
        cmocka_unit_test(missing_past_the_guard_holds_a_delete_run),
        cmocka_unit_test(missing_past_the_guard_holds_a_flag_run),
        cmocka_unit_test(guard_in_the_config_allows_or_limits_more),
        cmocka_unit_test(on_missing_flag_marks_rows_and_says_so),
        cmocka_unit_test(failed_record_with_a_known_key_keeps_its_row_from_on_missing),
        cmocka_unit_test(failure_without_a_key_stops_on_missing_and_notes_why),
        cmocka_unit_test(ragged_csv_row_fails_only_that_record),
        cmocka_unit_test(duplicate_key_in_the_source_fails_the_later_row),
        cmocka_unit_test(html_page_instead_of_csv_fails_the_run),
        cmocka_unit_test(summary_with_on_missing_keep_has_no_suffix),
        cmocka_unit_test(summary_with_on_missing_delete_counts_deleted),
        cmocka_unit_test(summary_with_on_missing_flag_counts_flagged),
        cmocka_unit_test(summary_is_cut_to_the_buffer),
        cmocka_unit_test(summary_puts_each_labels_count_after_the_plain_skipped),
        cmocka_unit_test(labelled_skips_are_counted_apart_and_records_named),
        cmocka_unit_test(a_failed_run_counts_no_labelled_skips),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
