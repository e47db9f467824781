/* test_live.c - the live config (src/config/live.c): reloads that install a new config or
 * change nothing, settings kept until a restart, and configs freed only when their last user
 * lets them go, with readers and reloads on several threads at once. */
#include "config/live.h"
#include "testutil.h"

#include <pthread.h>
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

#define SYNC(name)                                                                                 \
    "  " name ":\n"                                                                                \
    "    source: { url: people.csv }\n"                                                            \
    "    target: { table: " name ", key: id }\n"                                                   \
    "    fields: { id: {}, name: {} }\n"

/* A live config of the file yaml written in a new directory (*ret_dir, *ret_path). */
static ferry_config_live *live_of(const char *yaml, char **ret_dir, char **ret_path)
{
    ferry_config_live *live = NULL;
    ferry_config *cfg = NULL;
    ferry_err err;

    *ret_dir = tu_tempdir();
    *ret_path = tu_write_file(*ret_dir, "ferry.yaml", yaml, strlen(yaml));
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_load(*ret_path, &cfg, &err), FERRY_OK);
    assert_int_equal(ferry_config_live_new(cfg, &live, &err), FERRY_OK);
    return live;
}

static void rewrite(const char *dir, const char *yaml)
{
    free(tu_write_file(dir, "ferry.yaml", yaml, strlen(yaml)));
}

static void done(ferry_config_live *live, char *dir, char *path)
{
    ferry_config_live_free(live);
    tu_rmtree(dir);
    free(dir);
    free(path);
}

static void reload_installs_the_new_config_and_keeps_the_old_for_its_users(void **state)
{
    char *dir, *path;
    ferry_config_live *live =
        live_of("listen: 127.0.0.1:8080\nsyncs:\n" SYNC("a") SYNC("b"), &dir, &path);
    const ferry_config *old = ferry_config_live_acquire(live), *now;
    ferry_config_reload r;
    ferry_err err;

    (void)state;
    rewrite(dir, "listen: 127.0.0.1:9090\nworkers: 9\nlease: 1h\nsyncs:\n" SYNC("a") SYNC("c"));
    ferry_err_clear(&err);
    assert_int_equal(ferry_config_live_reload(live, &r, &err), FERRY_OK);
    assert_int_equal(r.nsyncs, 2);
    assert_int_equal(r.nadded, 1);
    assert_string_equal(r.added[0], "c");
    assert_int_equal(r.nremoved, 1);
    assert_string_equal(r.removed[0], "b");
    assert_int_equal(r.nwarnings, 2);
    assert_string_equal(r.warnings[0], "listen changed: restart Ferry for it to take effect");
    assert_string_equal(r.warnings[1], "workers changed: restart Ferry for it to take effect");
    ferry_config_reload_done(&r);

    now = ferry_config_live_acquire(live);
    assert_ptr_not_equal(now, old);
    assert_string_equal(now->listen, "127.0.0.1:8080"); /* kept until a restart */
    assert_int_equal(now->workers, 4);
    assert_int_equal(now->lease_ms, 3600L * 1000); /* taken at once */
    assert_non_null(ferry_config_sync_get(now, "c"));
    assert_null(ferry_config_sync_get(now, "b"));
    /* The old config is still whole for whoever holds it. */
    assert_string_equal(old->syncs[1].name, "b");
    ferry_config_live_release(live, old);
    ferry_config_live_release(live, now);
    done(live, dir, path);
}

static void a_refused_reload_changes_nothing(void **state)
{
    char *dir, *path;
    ferry_config_live *live = live_of("syncs:\n" SYNC("a"), &dir, &path);
    const ferry_config *before = ferry_config_live_acquire(live), *after;
    ferry_config_reload r;
    ferry_err err;

    (void)state;
    rewrite(dir, "colour: red\nsyncs:\n" SYNC("b"));
    ferry_err_clear(&err);
    memset(&r, 0, sizeof(r));
    assert_int_equal(ferry_config_live_reload(live, &r, &err), FERRY_ECONFIG);
    assert_non_null(strstr(err.msg, "ferry.yaml:1: colour: unknown key"));
    assert_int_equal(r.nsyncs, 0);
    after = ferry_config_live_acquire(live);
    assert_ptr_equal(after, before);
    ferry_config_live_release(live, before);
    ferry_config_live_release(live, after);
    done(live, dir, path);
}

typedef struct {
    ferry_config_live *live;
    long reads;
} reader;

/* Acquires, reads every sync's name, releases; many times. */
static void *read_many(void *arg)
{
    reader *rd = arg;

    for (int i = 0; i < 2000; i++) {
        const ferry_config *cfg = ferry_config_live_acquire(rd->live);
        for (size_t k = 0; k < cfg->nsyncs; k++)
            rd->reads += (long)strlen(cfg->syncs[k].name);
        ferry_config_live_release(rd->live, cfg);
    }
    return NULL;
}

static void readers_and_reloads_on_several_threads(void **state)
{
    char *dir, *path;
    ferry_config_live *live = live_of("syncs:\n" SYNC("a"), &dir, &path);
    pthread_t threads[4];
    reader readers[4];
    ferry_config_reload r;
    ferry_err err;

    (void)state;
    for (int i = 0; i < 4; i++) {
        readers[i] = (reader){live, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, read_many, &readers[i]), 0);
    }
    for (int i = 0; i < 20; i++) {
        rewrite(dir, i % 2 == 0 ? "syncs:\n" SYNC("a") SYNC("bb") : "syncs:\n" SYNC("ccc"));
        ferry_err_clear(&err);
        assert_int_equal(ferry_config_live_reload(live, &r, &err), FERRY_OK);
        ferry_config_reload_done(&r);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_true(readers[i].reads >= 2000);
    }
    done(live, dir, path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reload_installs_the_new_config_and_keeps_the_old_for_its_users),
        cmocka_unit_test(a_refused_reload_changes_nothing),
        cmocka_unit_test(readers_and_reloads_on_several_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
