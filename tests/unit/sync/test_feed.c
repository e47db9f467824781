/* test_feed.c - records read and mapped ahead of the apply (src/sync/feed.c).
 *
 * A threaded feed must give exactly what an inline feed (the plain source -> mapper loop)
 * gives: every record in order with its outcome, values, key, row and reason, across many
 * batches, with values larger than a batch, and the input's error at its place after the
 * records before it. Freeing a feed early stops its reader, also one blocked on a pipe nobody
 * writes. */
#include "config/config.h"
#include "source/source.h"
#include "sync/feed.h"
#include "sync/map.h"
#include "testutil.h"
#include "util/buf.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

typedef struct {
    char *dir;
    ferry_config *cfg;
    ferry_source *src;
    ferry_mapper *mapper;
    atomic_bool stop;
} fixture;

static void setup_fx(fixture *fx)
{
    static const char yaml[] = "database: sqlite:ferry.db\n"
                               "syncs:\n"
                               "  staff:\n"
                               "    source: { url: staff.csv }\n"
                               "    target: { table: staff, key: id }\n"
                               "    fields:\n"
                               "      id: { column: ID, type: integer }\n"
                               "      name: { column: Name, required: true }\n"
                               "      note: { column: Note }\n"
                               "      kind: { column: Kind, type: enum, values: [a, b] }\n"
                               "    skip: { kind: { in: [b], label: B } }\n";
    ferry_err err;

    memset(fx, 0, sizeof(*fx));
    atomic_init(&fx->stop, false);
    fx->dir = tu_tempdir();
    assert_non_null(fx->dir);
    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, sizeof(yaml) - 1, "ferry.yaml", fx->dir, &fx->cfg, &err) !=
        FERRY_OK)
        fail_msg("config: %s", err.msg);
}

static void open_source(fixture *fx)
{
    ferry_source_options so = {.base_dir = fx->dir, .estimate = -1, .stop = &fx->stop};
    ferry_err err;

    ferry_err_clear(&err);
    atomic_store(&fx->stop, false);
    if (ferry_source_open(&fx->cfg->syncs[0], &so, &fx->src, &err) != FERRY_OK)
        fail_msg("source: %s", err.msg);
    if (ferry_mapper_new(&fx->cfg->syncs[0], NULL, &fx->mapper, &err) != FERRY_OK)
        fail_msg("mapper: %s", err.msg);
}

static void close_source(fixture *fx)
{
    ferry_mapper_free(fx->mapper);
    ferry_source_close(fx->src);
    fx->mapper = NULL;
    fx->src = NULL;
}

static void teardown_fx(fixture *fx)
{
    close_source(fx);
    ferry_config_free(fx->cfg);
    tu_rmtree(fx->dir);
    free(fx->dir);
}

static void write_csv(fixture *fx, const char *csv, size_t len)
{
    char *path = tu_write_file(fx->dir, "staff.csv", csv, len);
    assert_non_null(path);
    free(path);
}

/* Writes the header and n records "i,Name i,<note>i,a", then tail (may be NULL). */
static void write_rows(fixture *fx, int n, const char *note, const char *tail)
{
    ferry_buf csv;

    ferry_buf_init(&csv, SIZE_MAX / 2);
    ferry_buf_printf(&csv, "ID,Name,Note,Kind\n");
    for (int i = 1; i <= n; i++)
        ferry_buf_printf(&csv, "%d,Name %d,%s%d,a\n", i, i, note, i);
    if (tail != NULL)
        ferry_buf_printf(&csv, "%s", tail);
    write_csv(fx, csv.data, csv.len);
    ferry_buf_done(&csv);
}

/* Everything a feed gives, one line per record and one for the end, as text. */
static void transcript(fixture *fx, bool threaded, ferry_buf *out)
{
    ferry_feed *feed;
    ferry_mapped_record m;
    ferry_map_result result;
    ferry_err err;
    ferry_rc rc;

    open_source(fx);
    ferry_err_clear(&err);
    assert_int_equal(ferry_feed_start(fx->src, fx->mapper, fx->cfg->syncs[0].nfields, threaded,
                                      &fx->stop, &feed, &err),
                     FERRY_OK);
    while ((rc = ferry_feed_next(feed, &result, &m, &err)) == FERRY_OK) {
        assert_int_equal(m.nvalues, fx->cfg->syncs[0].nfields);
        /* The sync's one skip rule has a label: every skipped record carries it. */
        if (result == FERRY_MAP_SKIPPED)
            assert_string_equal(m.skip_label, "B");
        else
            assert_null(m.skip_label);
        ferry_buf_printf(out, "%d row=%ld key=%s reason=%s skip_label=%s |", (int)result, m.row,
                         m.key ? m.key : "-", m.reason ? m.reason : "-",
                         m.skip_label ? m.skip_label : "-");
        for (size_t i = 0; i < m.nvalues; i++) {
            if (m.value[i] == NULL) {
                ferry_buf_printf(out, " NULL");
                continue;
            }
            assert_int_equal(strlen(m.value[i]), m.len[i]);
            ferry_buf_printf(out, " %s", m.value[i]);
        }
        ferry_buf_printf(out, "\n");
    }
    ferry_buf_printf(out, "end %s: %s\n", ferry_rc_name(rc), rc == FERRY_DONE ? "" : err.msg);
    /* The end is given once; asking again is a caller's mistake, said as one. */
    assert_int_not_equal(ferry_feed_next(feed, &result, &m, &err), FERRY_OK);
    ferry_feed_free(feed);
    close_source(fx);
}

/* The inline and the threaded transcripts of the current file are the same; returns how many
 * records they hold. */
static size_t expect_same(fixture *fx, const char *want_end)
{
    ferry_buf a, b;
    size_t lines = 0;

    ferry_buf_init(&a, SIZE_MAX / 2);
    ferry_buf_init(&b, SIZE_MAX / 2);
    transcript(fx, false, &a);
    transcript(fx, true, &b);
    assert_string_equal(ferry_buf_str(&a), ferry_buf_str(&b));
    assert_non_null(strstr(ferry_buf_str(&a), want_end));
    for (const char *p = ferry_buf_str(&a); *p; p++)
        lines += *p == '\n';
    ferry_buf_done(&a);
    ferry_buf_done(&b);
    return lines - 1;
}

/* 5000 records, many batches: mapped, skipped (kind b), failed (no name, bad integer, bad
 * enum), empty values. */
static void many_batches_give_the_same_records_in_order(void **state)
{
    fixture fx;
    ferry_buf csv;
    (void)state;

    setup_fx(&fx);
    ferry_buf_init(&csv, SIZE_MAX / 2);
    ferry_buf_printf(&csv, "ID,Name,Note,Kind\n");
    for (int i = 1; i <= 5000; i++) {
        switch (i % 7) {
        case 0:
            ferry_buf_printf(&csv, "%d,,note %d,a\n", i, i);
            break;
        case 1:
            ferry_buf_printf(&csv, "x%d,Name %d,,a\n", i, i);
            break;
        case 2:
            ferry_buf_printf(&csv, "%d,Name %d,\"quoted, %d\",b\n", i, i, i);
            break;
        case 3:
            ferry_buf_printf(&csv, "%d,Name %d,,c\n", i, i);
            break;
        default:
            ferry_buf_printf(&csv, "%d,  Name %d  ,note %d,a\n", i, i, i);
        }
    }
    write_csv(&fx, csv.data, csv.len);
    assert_int_equal(expect_same(&fx, "end done: \n"), 5000);
    ferry_buf_done(&csv);
    teardown_fx(&fx);
}

/* Values of 300 KiB each: a batch holds fewer records than its count allows. */
static void values_larger_than_a_batch_are_whole(void **state)
{
    fixture fx;
    char *big = malloc(300 * 1024 + 1);
    (void)state;

    assert_non_null(big);
    memset(big, 'v', 300 * 1024);
    big[300 * 1024] = '\0';
    setup_fx(&fx);
    write_rows(&fx, 12, big, NULL);
    /* The source's own limit on a field (1 MiB by default) is well above 300 KiB. */
    assert_int_equal(expect_same(&fx, "end done: \n"), 12);
    free(big);
    teardown_fx(&fx);
}

/* An input cut inside its last record: the run's error comes after every record before it. */
static void an_input_error_comes_after_the_records_before_it(void **state)
{
    fixture fx;
    (void)state;

    setup_fx(&fx);
    write_rows(&fx, 3000, "n", "3001,Na");
    assert_int_equal(expect_same(&fx, "end csv: "), 3000);
    teardown_fx(&fx);
}

/* Freed after a few records of a long file, the feed stops its reader at once. */
static void freeing_early_stops_the_reader(void **state)
{
    fixture fx;
    ferry_feed *feed;
    ferry_mapped_record m;
    ferry_map_result result;
    ferry_err err;
    (void)state;

    setup_fx(&fx);
    write_rows(&fx, 50000, "n", NULL);
    open_source(&fx);
    ferry_err_clear(&err);
    assert_int_equal(
        ferry_feed_start(fx.src, fx.mapper, fx.cfg->syncs[0].nfields, true, &fx.stop, &feed, &err),
        FERRY_OK);
    for (int i = 0; i < 10; i++)
        assert_int_equal(ferry_feed_next(feed, &result, &m, &err), FERRY_OK);
    assert_int_equal(m.row, 11);
    ferry_feed_free(feed);
    teardown_fx(&fx);
}

/* A reader waiting on a pipe that gives nothing more is stopped by free(), not left waiting. */
static void freeing_stops_a_reader_blocked_on_a_pipe(void **state)
{
    static const char head[] = "ID,Name,Note,Kind\n1,Ann,n,a\n";
    fixture fx;
    ferry_feed *feed;
    ferry_err err;
    char *path;
    int wfd;
    (void)state;

    setup_fx(&fx);
    path = malloc(strlen(fx.dir) + 16);
    assert_non_null(path);
    sprintf(path, "%s/staff.csv", fx.dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    /* Opened for reading and writing, the fifo's open never blocks, and the source's open
     * (which reads the header) finds it there. */
    wfd = open(path, O_RDWR);
    assert_true(wfd >= 0);
    assert_int_equal(write(wfd, head, sizeof(head) - 1), (ssize_t)(sizeof(head) - 1));
    open_source(&fx);
    ferry_err_clear(&err);
    assert_int_equal(
        ferry_feed_start(fx.src, fx.mapper, fx.cfg->syncs[0].nfields, true, &fx.stop, &feed, &err),
        FERRY_OK);
    /* The reader gives the one record in the pipe only with its batch, which waits for more:
     * let it settle into its wait, then free. */
    usleep(200 * 1000);
    /* Returns once the reader saw the stop flag (within the source's 100 ms poll); a reader
     * that kept waiting would hang here until the test's timeout. */
    ferry_feed_free(feed);
    close(wfd);
    free(path);
    teardown_fx(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_batches_give_the_same_records_in_order),
        cmocka_unit_test(values_larger_than_a_batch_are_whole),
        cmocka_unit_test(an_input_error_comes_after_the_records_before_it),
        cmocka_unit_test(freeing_early_stops_the_reader),
        cmocka_unit_test(freeing_stops_a_reader_blocked_on_a_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
