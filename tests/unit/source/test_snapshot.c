/* test_snapshot.c - ferry_source_snapshot() and options.replay: a source read to its end,
 * saved, then opened on the snapshot gives the same records (row, error, values) in the same
 * order, the same progress total, bytes, records and cursor watermark, and a replayed REST
 * source asks its server nothing. CSV from a local file and from a Google-Sheet-like export
 * served over HTTP; REST over several pages. Also: the size bound, a damaged snapshot, a
 * missing one.
 *
 * The sources' server is libmicrohttpd on an ephemeral loopback port, started per test; it
 * counts the requests it answers. */
#include "source/source.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "testutil.h"
#include "util/buf.h"

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#define NRECORDS 7 /* the API's records: six objects and one that is not */
#define PAGE_SIZE 3
#define CSV_ROWS 3000 /* enough that the body outgrows what is read before the prefetch */

typedef struct {
    struct MHD_Daemon *daemon;
    unsigned port;
    atomic_int requests;
    char *csv; /* the export's body */
    size_t csv_len;
    char *csv_path; /* the local copy, once written */
    char *dir;
    ferry_config *cfg;
} fixture;

static const char csv_head[] = "Note,ID,Name\n"
                               "\"said \"\"hi\"\"\",1,\"Smith, Ann\"\n"
                               "\"two\nlines\",2,Bob\n"
                               "extra,3,Carl,ragged\n"
                               ",4,\"Dora\"\n";

static enum MHD_Result reply(struct MHD_Connection *conn, const char *body, size_t len,
                             const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    MHD_add_response_header(r, "Content-Type", type);
    ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* The API's page at startAt: {"total": 7, "items": [...]}, record 5 a string. */
static enum MHD_Result api_page(struct MHD_Connection *conn)
{
    const char *at = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "startAt");
    long start = at != NULL ? strtol(at, NULL, 10) : 0;
    ferry_buf b;
    enum MHD_Result ret;

    ferry_buf_init(&b, 1 << 20);
    ferry_buf_printf(&b, "{\"total\": %d, \"items\": [", NRECORDS);
    for (long i = start; i < start + PAGE_SIZE && i < NRECORDS; i++) {
        if (i > start)
            ferry_buf_printf(&b, ",");
        if (i == 4)
            ferry_buf_printf(&b, "\"not a record\"");
        else
            ferry_buf_printf(&b,
                             "{\"id\": %ld, \"name\": \"N\\u00e4me \\\"%ld\\\"\", "
                             "\"updated\": \"2026-12-0%ldT10:00:00Z\"%s}",
                             i + 1, i + 1, i + 1, i == 2 ? ", \"note\": null" : "");
    }
    ferry_buf_printf(&b, "]}");
    ret = reply(conn, b.data, b.len, "application/json");
    ferry_buf_done(&b);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_len, void **con_cls)
{
    fixture *fx = cls;

    (void)method;
    (void)version;
    (void)upload;
    (void)upload_len;
    (void)con_cls;
    atomic_fetch_add(&fx->requests, 1);
    if (strcmp(url, "/api") == 0)
        return api_page(conn);
    if (strcmp(url, "/spreadsheets/d/XY/export") == 0)
        return reply(conn, fx->csv, fx->csv_len, "text/csv");
    return reply(conn, "", 0, "text/plain");
}

static int setup(void **state)
{
    struct sockaddr_in addr;
    fixture *fx = calloc(1, sizeof(*fx));
    ferry_buf csv;

    if (fx == NULL)
        return -1;
    ferry_buf_init(&csv, 64 << 20);
    ferry_buf_printf(&csv, "%s", csv_head);
    for (int i = 5; i < 5 + CSV_ROWS; i++)
        ferry_buf_printf(&csv, "\"note %d, padded to make the body long\",%d,Name %d\n", i, i, i);
    fx->csv_len = csv.len;
    fx->csv = ferry_buf_take(&csv);
    ferry_buf_done(&csv);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fx->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                                  0, NULL, NULL, handler, fx, MHD_OPTION_SOCK_ADDR,
                                  (struct sockaddr *)&addr, MHD_OPTION_END);
    if (fx->daemon == NULL || fx->csv == NULL)
        return -1;
    fx->port = MHD_get_daemon_info(fx->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    fx->dir = tu_tempdir();
    *state = fx;
    return fx->dir != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    MHD_stop_daemon(fx->daemon);
    ferry_config_free(fx->cfg);
    tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx->csv);
    free(fx->csv_path);
    free(fx);
    return 0;
}

/* Parses the config of one sync whose source keys are source. */
static void use_source(fixture *fx, const char *source, const char *fields)
{
    char yaml[4096];
    ferry_err err;

    snprintf(yaml, sizeof(yaml),
             "database: sqlite:ferry.db\n"
             "allow_private: true\n"
             "syncs:\n"
             "  people:\n"
             "    source:\n%s"
             "    target: { table: people, key: id }\n"
             "    fields:\n%s",
             source, fields);
    ferry_config_free(fx->cfg);
    fx->cfg = NULL;
    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", fx->dir, &fx->cfg, &err) != FERRY_OK)
        fail_msg("config: %s", err.msg);
}

static const char csv_fields[] = "      id: { column: ID, type: integer }\n"
                                 "      name: { column: Name }\n"
                                 "      note: { column: Note }\n";

static void use_rest(fixture *fx)
{
    char source[1024];

    snprintf(source, sizeof(source),
             "      kind: rest\n"
             "      url: http://127.0.0.1:%u/api\n"
             "      auth: { type: bearer, token_env: FERRY_SNAPSHOT_TEST_TOKEN }\n"
             "      records: /items\n"
             "      pagination: { style: offset, limit: %d, total: /total }\n"
             "      incremental: { cursor: /updated, param: since }\n",
             fx->port, PAGE_SIZE);
    use_source(fx, source,
               "      id: { type: integer }\n"
               "      name: {}\n"
               "      note: {}\n");
}

static ferry_rc open_source(fixture *fx, const char *replay, ferry_source **ret, ferry_err *err)
{
    ferry_source_options so = {.base_dir = fx->dir, .estimate = -1, .replay = replay};

    ferry_err_clear(err);
    return ferry_source_open(&fx->cfg->syncs[0], &so, ret, err);
}

static ferry_source *open_ok(fixture *fx, const char *replay)
{
    ferry_source *src = NULL;
    ferry_err err;

    if (open_source(fx, replay, &src, &err) != FERRY_OK)
        fail_msg("open: %s", err.msg);
    return src;
}

static void prefetch_ok(ferry_source *src)
{
    ferry_err err;

    ferry_err_clear(&err);
    if (src->ops->prefetch != NULL && src->ops->prefetch(src, NULL, NULL, &err) != FERRY_OK)
        fail_msg("prefetch: %s", err.msg);
}

/* Every record (row, error, values), then the end and the source's counts, as text. The first
 * cell link of each record too, when the source is a sheet. */
static void transcript(ferry_source *src, ferry_buf *out)
{
    ferry_source_record rec;
    uint64_t done, total;
    ferry_buf link;
    ferry_err err;
    ferry_rc rc;

    ferry_buf_init(&link, 8192);
    ferry_err_clear(&err);
    while ((rc = ferry_source_next(src, &rec, &err)) == FERRY_OK) {
        ferry_buf_printf(out, "row %ld", rec.row);
        if (rec.error != NULL)
            ferry_buf_printf(out, " error '%s'", rec.error);
        for (size_t i = 0; rec.error == NULL && i < rec.nvalues; i++) {
            if (rec.value[i] == NULL)
                ferry_buf_printf(out, " NULL");
            else
                ferry_buf_printf(out, " [%zu:%s]", rec.len[i], rec.value[i]);
        }
        if (ferry_source_cell_link(src, 2, rec.row, &link))
            ferry_buf_printf(out, " %s", ferry_buf_str(&link));
        ferry_buf_printf(out, "\n");
    }
    if (rc != FERRY_DONE)
        fail_msg("next: %s", err.msg);
    ferry_source_progress(src, &done, &total);
    ferry_buf_printf(
        out, "end: done %llu of %llu%s, bytes %lld, records %lld, cursor %lld x %lld\n",
        (unsigned long long)done, (unsigned long long)total,
        src->total_estimated ? " (estimated)" : "", (long long)src->bytes, (long long)src->records,
        (long long)src->cursor_max_ms, (long long)src->cursor_count);
    ferry_buf_done(&link);
}

static char *snapshot_path(const fixture *fx, const char *name)
{
    size_t n = strlen(fx->dir) + strlen(name) + 2;
    char *p = malloc(n);

    assert_non_null(p);
    snprintf(p, n, "%s/%s", fx->dir, name);
    return p;
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Reads the source to its end and saves it at path; the transcript goes into out. */
static void read_and_save(fixture *fx, const char *path, ferry_buf *out)
{
    ferry_source *src = open_ok(fx, NULL);
    struct stat st;
    ferry_err err;

    prefetch_ok(src);
    transcript(src, out);
    ferry_err_clear(&err);
    if (ferry_source_snapshot(src, path, 0, &err) != FERRY_OK)
        fail_msg("snapshot: %s", err.msg);
    ferry_source_close(src);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* Opens the source on the snapshot at path, reads it to its end and checks its transcript is
 * first. */
static void expect_replay_gives(fixture *fx, const char *path, const ferry_buf *first)
{
    ferry_source *src = open_ok(fx, path);
    ferry_buf again;

    ferry_buf_init(&again, 64 << 20);
    prefetch_ok(src); /* nothing left to do */
    transcript(src, &again);
    ferry_source_close(src);
    assert_string_equal(ferry_buf_str(&again), ferry_buf_str(first));
    ferry_buf_done(&again);
}

/* Saves the source as name, replays the snapshot, and checks both transcripts are the same;
 * returns the transcript in first (caller: ferry_buf_done). */
static void expect_same_replay(fixture *fx, const char *name, ferry_buf *first)
{
    char *path = snapshot_path(fx, name);

    ferry_buf_init(first, 64 << 20);
    read_and_save(fx, path, first);
    expect_replay_gives(fx, path, first);
    free(path);
}

static void write_local_csv(fixture *fx)
{
    free(fx->csv_path);
    fx->csv_path = tu_write_file(fx->dir, "people.csv", fx->csv, fx->csv_len);
    assert_non_null(fx->csv_path);
}

static void local_csv_replays_the_same_records(void **state)
{
    fixture *fx = *state;
    ferry_buf first;

    write_local_csv(fx);
    use_source(fx, "      url: people.csv\n", csv_fields);
    expect_same_replay(fx, "local.snap", &first);
    /* The records the file holds, the ragged one as a record error. */
    assert_non_null(strstr(ferry_buf_str(&first), "row 2 [1:1] [10:Smith, Ann] [9:said \"hi\"]"));
    assert_non_null(strstr(ferry_buf_str(&first), "[9:two\nlines]"));
    assert_non_null(strstr(ferry_buf_str(&first), "row 4 error 'has 4 fields"));
    assert_non_null(strstr(ferry_buf_str(&first), "row 5 [1:4] [4:Dora] [0:]"));
    ferry_buf_done(&first);
}

/* The file changes after the run: the replay reads what the run read. */
static void local_csv_replay_ignores_later_changes(void **state)
{
    fixture *fx = *state;
    char *path = snapshot_path(fx, "later.snap");
    ferry_buf first;

    write_local_csv(fx);
    use_source(fx, "      url: people.csv\n", csv_fields);
    ferry_buf_init(&first, 64 << 20);
    read_and_save(fx, path, &first);
    free(tu_write_file(fx->dir, "people.csv", "Note,ID,Name\nx,99,Zed\n", 22));
    expect_replay_gives(fx, path, &first);
    ferry_buf_done(&first);
    free(path);
}

/* Rows appended to the file after the run read it are not what it read: not saved. */
static void local_csv_saves_what_was_read_not_what_came_later(void **state)
{
    fixture *fx = *state;
    char *path = snapshot_path(fx, "grown.snap");
    ferry_source *src;
    ferry_buf first;
    ferry_err err;
    FILE *f;

    write_local_csv(fx);
    use_source(fx, "      url: people.csv\n", csv_fields);
    ferry_buf_init(&first, 64 << 20);
    src = open_ok(fx, NULL);
    transcript(src, &first);
    f = fopen(fx->csv_path, "ab");
    assert_non_null(f);
    fputs("late,99999,Zed\n", f);
    fclose(f);
    ferry_err_clear(&err);
    if (ferry_source_snapshot(src, path, 0, &err) != FERRY_OK)
        fail_msg("snapshot: %s", err.msg);
    ferry_source_close(src);
    expect_replay_gives(fx, path, &first);
    ferry_buf_done(&first);
    free(path);
}

/* A source not read to its end has not read what a snapshot would hold. */
static void csv_not_read_to_its_end_cannot_be_saved(void **state)
{
    fixture *fx = *state;
    char *path = snapshot_path(fx, "early.snap");
    ferry_source_record rec;
    ferry_source *src;
    ferry_err err;

    write_local_csv(fx);
    use_source(fx, "      url: people.csv\n", csv_fields);
    src = open_ok(fx, NULL);
    ferry_err_clear(&err);
    assert_int_equal(ferry_source_next(src, &rec, &err), FERRY_OK);
    assert_int_equal(ferry_source_snapshot(src, path, 0, &err), FERRY_EINVAL);
    assert_non_null(strstr(err.msg, "not read to its end"));
    assert_false(exists(path));
    ferry_source_close(src);
    free(path);
}

/* A sheet's export over HTTP, larger than what opening reads: the snapshot holds the whole
 * body, the replay keeps the cell links and asks the server nothing. */
static void sheet_export_over_http_replays_without_a_request(void **state)
{
    fixture *fx = *state;
    char source[512];
    ferry_buf first;
    char *path;
    int before;

    snprintf(source, sizeof(source),
             "      url: \"http://127.0.0.1:%u/spreadsheets/d/XY/export?format=csv&gid=1\"\n",
             fx->port);
    use_source(fx, source, csv_fields);
    expect_same_replay(fx, "sheet.snap", &first);
    /* note is column A: the link names the sheet's cell. */
    snprintf(source, sizeof(source), "http://127.0.0.1:%u/spreadsheets/d/XY/edit#gid=1&range=A3\n",
             fx->port);
    assert_non_null(strstr(ferry_buf_str(&first), source));
    assert_non_null(strstr(ferry_buf_str(&first), "row 4 error 'has 4 fields"));
    /* The whole body read, of the whole body's size: the part read before the prefetch too. */
    snprintf(source, sizeof(source), "end: done %zu of %zu, bytes %zu,", fx->csv_len, fx->csv_len,
             fx->csv_len);
    assert_non_null(strstr(ferry_buf_str(&first), source));
    /* Once more, counting: the replay asks nothing. */
    before = atomic_load(&fx->requests);
    path = snapshot_path(fx, "sheet.snap");
    expect_replay_gives(fx, path, &first);
    assert_int_equal(atomic_load(&fx->requests), before);
    ferry_buf_done(&first);
    free(path);
}

static void rest_source_replays_without_a_request(void **state)
{
    fixture *fx = *state;
    char *path = snapshot_path(fx, "rest.snap");
    ferry_buf first;
    int pages;

    use_rest(fx);
    setenv("FERRY_SNAPSHOT_TEST_TOKEN", "s3cret", 1);
    ferry_buf_init(&first, 1 << 20);
    read_and_save(fx, path, &first);
    pages = atomic_load(&fx->requests);
    assert_int_equal(pages, (NRECORDS + PAGE_SIZE - 1) / PAGE_SIZE);
    /* No credentials either: the token's variable is gone. */
    unsetenv("FERRY_SNAPSHOT_TEST_TOKEN");
    expect_replay_gives(fx, path, &first);
    assert_int_equal(atomic_load(&fx->requests), pages);
    /* What the pages held, a record error among them, and the watermark. */
    assert_non_null(strstr(ferry_buf_str(&first), "row 1 [1:1] [9:N\xc3\xa4me \"1\"] NULL\n"));
    assert_non_null(strstr(ferry_buf_str(&first), "row 5 error 'is a string, not a JSON object"));
    assert_non_null(strstr(ferry_buf_str(&first), "done 7 of 7, bytes "));
    assert_non_null(strstr(ferry_buf_str(&first), "records 7, cursor 1796637600000 x 6\n"));
    ferry_buf_done(&first);
    free(path);
}

static void over_max_bytes_is_elimit_and_leaves_no_file(void **state)
{
    fixture *fx = *state;
    char *path = snapshot_path(fx, "big.snap");
    ferry_buf t;
    ferry_source *src;
    ferry_err err;

    ferry_buf_init(&t, 64 << 20);
    write_local_csv(fx);
    use_source(fx, "      url: people.csv\n", csv_fields);
    src = open_ok(fx, NULL);
    transcript(src, &t);
    ferry_err_clear(&err);
    assert_int_equal(ferry_source_snapshot(src, path, 1000, &err), FERRY_ELIMIT);
    assert_non_null(strstr(err.msg, "1000"));
    assert_false(exists(path));
    ferry_source_close(src);

    use_rest(fx);
    setenv("FERRY_SNAPSHOT_TEST_TOKEN", "s3cret", 1);
    src = open_ok(fx, NULL);
    prefetch_ok(src);
    transcript(src, &t);
    ferry_err_clear(&err);
    assert_int_equal(ferry_source_snapshot(src, path, 100, &err), FERRY_ELIMIT);
    assert_non_null(strstr(err.msg, "100 bytes"));
    assert_false(exists(path));
    /* Within the bound it is written. */
    assert_int_equal(ferry_source_snapshot(src, path, 1 << 20, &err), FERRY_OK);
    assert_true(exists(path));
    ferry_source_close(src);
    ferry_buf_done(&t);
    free(path);
}

static void rest_source_not_prefetched_cannot_be_saved(void **state)
{
    fixture *fx = *state;
    char *path = snapshot_path(fx, "early.snap");
    ferry_source *src;
    ferry_err err;

    use_rest(fx);
    setenv("FERRY_SNAPSHOT_TEST_TOKEN", "s3cret", 1);
    src = open_ok(fx, NULL);
    ferry_err_clear(&err);
    assert_int_equal(ferry_source_snapshot(src, path, 0, &err), FERRY_EINVAL);
    assert_false(exists(path));
    ferry_source_close(src);
    free(path);
}

/* Writes len bytes of a file's first bytes back, with byte at (if >= 0) flipped. */
static void damage(const char *path, size_t keep, long at)
{
    size_t len;
    char *data = tu_read_file(path, &len);
    FILE *f;

    assert_non_null(data);
    assert_true(keep <= len);
    if (at >= 0)
        data[at] ^= 0x55;
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, keep, f), keep);
    fclose(f);
    free(data);
}

static void expect_damaged(fixture *fx, const char *path)
{
    ferry_source *src = NULL;
    ferry_err err;

    assert_int_equal(open_source(fx, path, &src, &err), FERRY_EIO);
    assert_null(src);
    if (strstr(err.msg, "is damaged") == NULL || strstr(err.msg, path) == NULL)
        fail_msg("unexpected message: %s", err.msg);
}

static void damaged_rest_snapshot_is_eio(void **state)
{
    fixture *fx = *state;
    char *path = snapshot_path(fx, "damaged.snap");
    size_t len;
    ferry_buf t;
    char *data;
    int pages;

    use_rest(fx);
    setenv("FERRY_SNAPSHOT_TEST_TOKEN", "s3cret", 1);
    ferry_buf_init(&t, 1 << 20);
    read_and_save(fx, path, &t);
    pages = atomic_load(&fx->requests);
    data = tu_read_file(path, &len);
    assert_non_null(data);
    free(data);

    damage(path, len - 1, -1); /* cut short */
    expect_damaged(fx, path);
    damage(path, 20, -1); /* cut inside the header */
    expect_damaged(fx, path);
    unlink(path);
    read_and_save(fx, path, &t);
    damage(path, len, 0); /* the magic */
    expect_damaged(fx, path);
    unlink(path);
    read_and_save(fx, path, &t);
    damage(path, len, 8); /* the version */
    expect_damaged(fx, path);
    assert_int_equal(atomic_load(&fx->requests), 3 * pages);
    ferry_buf_done(&t);
    free(path);
}

static void missing_snapshot_is_enotfound_naming_it(void **state)
{
    fixture *fx = *state;
    char *path = snapshot_path(fx, "nowhere.snap");
    ferry_source *src = NULL;
    ferry_err err;

    use_rest(fx);
    assert_int_equal(open_source(fx, path, &src, &err), FERRY_ENOTFOUND);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(atomic_load(&fx->requests), 0);
    write_local_csv(fx);
    use_source(fx, "      url: people.csv\n", csv_fields);
    assert_int_equal(open_source(fx, path, &src, &err), FERRY_ENOTFOUND);
    assert_non_null(strstr(err.msg, path));
    assert_null(src);
    free(path);
}

static void snapshot_never_replaces_a_file(void **state)
{
    fixture *fx = *state;
    char *path = snapshot_path(fx, "taken.snap");
    ferry_source *src;
    ferry_buf t;
    ferry_err err;
    size_t len;
    char *data;

    write_local_csv(fx);
    use_source(fx, "      url: people.csv\n", csv_fields);
    free(tu_write_file(fx->dir, "taken.snap", "keep", 4));
    ferry_buf_init(&t, 64 << 20);
    src = open_ok(fx, NULL);
    transcript(src, &t);
    ferry_err_clear(&err);
    assert_int_equal(ferry_source_snapshot(src, path, 0, &err), FERRY_EIO);
    ferry_source_close(src);
    data = tu_read_file(path, &len);
    assert_non_null(data);
    assert_int_equal(len, 4);
    free(data);
    ferry_buf_done(&t);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(local_csv_replays_the_same_records, setup, teardown),
        cmocka_unit_test_setup_teardown(local_csv_replay_ignores_later_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(local_csv_saves_what_was_read_not_what_came_later, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(csv_not_read_to_its_end_cannot_be_saved, setup, teardown),
        cmocka_unit_test_setup_teardown(sheet_export_over_http_replays_without_a_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rest_source_replays_without_a_request, setup, teardown),
        cmocka_unit_test_setup_teardown(over_max_bytes_is_elimit_and_leaves_no_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rest_source_not_prefetched_cannot_be_saved, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(damaged_rest_snapshot_is_eio, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_snapshot_is_enotfound_naming_it, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_never_replaces_a_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
