/* taskpool.c - fixed threads over a bounded ring of tasks (see taskpool.h). */
#include "util/taskpool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    ferry_task_fn fn;
    void *ctx;
} task;

struct ferry_taskpool {
    pthread_mutex_t lock;
    pthread_cond_t ready; /* a task was queued, or the pool is stopping */
    task *ring;
    size_t cap, head, n;
    bool stopping;
    pthread_t *threads;
    unsigned nthreads;
};

static void *pool_main(void *arg)
{
    ferry_taskpool *pool = arg;

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (pool->n == 0 && !pool->stopping)
            pthread_cond_wait(&pool->ready, &pool->lock);
        if (pool->n == 0)
            break; /* stopping, and every task has run */
        task t = pool->ring[pool->head];
        pool->head = (pool->head + 1) % pool->cap;
        pool->n--;
        pthread_mutex_unlock(&pool->lock);
        t.fn(t.ctx);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

ferry_rc ferry_taskpool_new(unsigned threads, size_t max_queued, ferry_taskpool **ret,
                            ferry_err *err)
{
    ferry_taskpool *pool = calloc(1, sizeof(*pool));

    if (pool == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating a task pool");
    pool->cap = max_queued > 0 ? max_queued : 1;
    pool->ring = calloc(pool->cap, sizeof(*pool->ring));
    pool->threads = calloc(threads > 0 ? threads : 1, sizeof(*pool->threads));
    if (pool->ring == NULL || pool->threads == NULL) {
        free(pool->ring);
        free(pool->threads);
        free(pool);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating a task pool");
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->ready, NULL);
    for (unsigned i = 0; i < (threads > 0 ? threads : 1); i++) {
        if (pthread_create(&pool->threads[i], NULL, pool_main, pool) != 0) {
            ferry_taskpool_free(pool);
            return ferry_err_set(err, FERRY_EIO, "starting a task thread");
        }
        pool->nthreads++;
    }
    *ret = pool;
    return FERRY_OK;
}

bool ferry_taskpool_submit(ferry_taskpool *pool, ferry_task_fn fn, void *ctx)
{
    bool ok = false;

    pthread_mutex_lock(&pool->lock);
    if (!pool->stopping && pool->n < pool->cap) {
        pool->ring[(pool->head + pool->n) % pool->cap] = (task){fn, ctx};
        pool->n++;
        ok = true;
        pthread_cond_signal(&pool->ready);
    }
    pthread_mutex_unlock(&pool->lock);
    return ok;
}

void ferry_taskpool_stop(ferry_taskpool *pool)
{
    unsigned n;

    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->ready);
    n = pool->nthreads;
    pool->nthreads = 0; /* joined once, by this call */
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < n; i++)
        pthread_join(pool->threads[i], NULL);
}

void ferry_taskpool_free(ferry_taskpool *pool)
{
    if (pool == NULL)
        return;
    ferry_taskpool_stop(pool);
    pthread_cond_destroy(&pool->ready);
    pthread_mutex_destroy(&pool->lock);
    free(pool->ring);
    free(pool->threads);
    free(pool);
}
