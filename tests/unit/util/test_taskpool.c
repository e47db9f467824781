/* test_taskpool.c - the bounded task pool (src/util/taskpool.c): every accepted task runs
 * exactly once, at most `threads` run at the same time, a full queue refuses at once, and
 * freeing the pool runs what was queued. */
#include "util/taskpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

typedef struct {
    atomic_int ran;
    atomic_int running;
    atomic_int max_running;
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_cond;
    bool gate_open;
} counters;

static void task(void *ctx)
{
    counters *c = ctx;
    int now = atomic_fetch_add(&c->running, 1) + 1;
    int seen = atomic_load(&c->max_running);

    while (now > seen && !atomic_compare_exchange_weak(&c->max_running, &seen, now))
        ;
    pthread_mutex_lock(&c->gate_lock);
    while (!c->gate_open)
        pthread_cond_wait(&c->gate_cond, &c->gate_lock);
    pthread_mutex_unlock(&c->gate_lock);
    atomic_fetch_sub(&c->running, 1);
    atomic_fetch_add(&c->ran, 1);
}

static void open_gate(counters *c)
{
    pthread_mutex_lock(&c->gate_lock);
    c->gate_open = true;
    pthread_cond_broadcast(&c->gate_cond);
    pthread_mutex_unlock(&c->gate_lock);
}

static void test_bounded_queue_and_concurrency(void **state)
{
    counters c = {.gate_lock = PTHREAD_MUTEX_INITIALIZER, .gate_cond = PTHREAD_COND_INITIALIZER};
    ferry_taskpool *pool = NULL;
    ferry_err err;
    int accepted = 0;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_taskpool_new(2, 3, &pool, &err), FERRY_OK);
    /* Two tasks block on the gate in the threads; wait until both started. */
    assert_true(ferry_taskpool_submit(pool, task, &c));
    assert_true(ferry_taskpool_submit(pool, task, &c));
    for (int i = 0; i < 5000 && atomic_load(&c.running) < 2; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&c.running), 2);
    /* The queue holds three more; the sixth is refused at once. */
    for (int i = 0; i < 6; i++)
        accepted += ferry_taskpool_submit(pool, task, &c) ? 1 : 0;
    assert_int_equal(accepted, 3);
    open_gate(&c);
    ferry_taskpool_free(pool); /* runs the queued ones before returning */
    assert_int_equal(atomic_load(&c.ran), 5);
    assert_int_equal(atomic_load(&c.max_running), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_queue_and_concurrency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
