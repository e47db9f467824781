/* feed.c - a run's records, read and mapped ahead of the apply (see feed.h).
 *
 * Threaded: a ring of FEED_SLOTS batches. The reader fills the slot after the full ones
 * (without the lock: no one else looks at a slot that is not full), then counts it full; the
 * run takes the oldest full slot and hands it back when it asks for the record after its last.
 * So the reader may be up to FEED_SLOTS - 1 batches ahead. A batch copies each mapped record
 * (values, key, reason) into its arena, since the mapper's output is borrowed until its next
 * call (the skip label is the config's, so only its pointer is kept); the last batch carries
 * the end (FERRY_DONE or the error) after its records. */
#include "sync/feed.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define FEED_BATCH 1024
#define FEED_BATCH_BYTES (256 * 1024)
#define FEED_SLOTS 3
/* A batch stops at FEED_BATCH_BYTES; one record may take it past, up to the source's own limit. */
#define FEED_ARENA_MAX ((size_t)1 << 30)
#define NO_STRING SIZE_MAX

typedef struct {
    size_t n;
    ferry_map_result *result; /* FEED_BATCH of each */
    long *row;
    long *field;             /* the mapped record's field (skipped/failed) */
    size_t *key, *reason;    /* offsets into arena, or NO_STRING */
    const char **skip_label; /* borrowed from the config */
    size_t *value, *len;     /* FEED_BATCH * nvalues; value as offsets, or NO_STRING */
    ferry_buf arena;
    uint64_t done, total; /* the source's progress after the last record */
    ferry_rc end;         /* FERRY_OK: more batches follow; else the end, after the records */
    ferry_err err;
} feed_batch;

struct ferry_feed {
    ferry_source *src;
    ferry_mapper *mapper;
    size_t nvalues;
    atomic_bool *stop_source;
    bool threaded;
    bool ended; /* next() gave the end */

    /* inline */
    uint64_t done, total;

    /* threaded */
    pthread_t reader;
    bool reader_started;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    feed_batch slot[FEED_SLOTS];
    size_t head, full; /* the oldest full slot; how many are full (under mu) */
    bool stop;         /* under mu */
    feed_batch *cur;   /* the slot the run reads from, or NULL */
    size_t pos;        /* the next record in cur */
    const char **values;
};

static bool batch_init(feed_batch *b, size_t nvalues)
{
    size_t nv = nvalues > 0 ? nvalues : 1;

    memset(b, 0, sizeof(*b));
    ferry_buf_init(&b->arena, FEED_ARENA_MAX);
    b->result = malloc(FEED_BATCH * sizeof(*b->result));
    b->row = malloc(FEED_BATCH * sizeof(*b->row));
    b->field = malloc(FEED_BATCH * sizeof(*b->field));
    b->key = malloc(FEED_BATCH * sizeof(*b->key));
    b->reason = malloc(FEED_BATCH * sizeof(*b->reason));
    b->skip_label = malloc(FEED_BATCH * sizeof(*b->skip_label));
    b->value = malloc(FEED_BATCH * nv * sizeof(*b->value));
    b->len = malloc(FEED_BATCH * nv * sizeof(*b->len));
    return b->result != NULL && b->row != NULL && b->field != NULL && b->key != NULL &&
           b->reason != NULL && b->skip_label != NULL && b->value != NULL && b->len != NULL;
}

static void batch_done(feed_batch *b)
{
    free(b->result);
    free(b->row);
    free(b->field);
    free(b->key);
    free(b->reason);
    free(b->skip_label);
    free(b->value);
    free(b->len);
    ferry_buf_done(&b->arena);
}

/* Copies s (len bytes) and a NUL into the arena; returns its offset, or NO_STRING for NULL. */
static size_t stash(feed_batch *b, const char *s, size_t len, bool *ok)
{
    size_t off = b->arena.len;

    if (s == NULL)
        return NO_STRING;
    if (ferry_buf_append(&b->arena, s, len) != FERRY_OK ||
        ferry_buf_append(&b->arena, "", 1) != FERRY_OK)
        *ok = false;
    return off;
}

/* Reads and maps records into b until it is full or the input ends (b->end says how). */
static void fill(ferry_feed *f, feed_batch *b)
{
    ferry_source_record rec;
    ferry_mapped_record m;
    ferry_map_result result;
    ferry_rc rc = FERRY_OK;

    b->n = 0;
    b->end = FERRY_OK;
    ferry_err_clear(&b->err);
    ferry_buf_reset(&b->arena);
    while (b->n < FEED_BATCH && b->arena.len < FEED_BATCH_BYTES) {
        size_t i = b->n, *value = b->value + i * f->nvalues, *len = b->len + i * f->nvalues;
        bool ok = true;

        if ((rc = ferry_source_next(f->src, &rec, &b->err)) != FERRY_OK)
            break;
        if ((rc = ferry_mapper_map(f->mapper, &rec, &result, &m, &b->err)) != FERRY_OK)
            break;
        for (size_t j = 0; j < f->nvalues; j++) {
            value[j] = stash(b, m.value[j], m.value[j] != NULL ? m.len[j] : 0, &ok);
            len[j] = m.value[j] != NULL ? m.len[j] : 0;
        }
        b->key[i] = stash(b, m.key, m.key != NULL ? strlen(m.key) : 0, &ok);
        b->reason[i] = stash(b, m.reason, m.reason != NULL ? strlen(m.reason) : 0, &ok);
        if (!ok) {
            rc = ferry_err_set(&b->err, FERRY_ENOMEM, "holding the records read ahead");
            break;
        }
        b->result[i] = result;
        b->row[i] = m.row;
        b->field[i] = m.field;
        b->skip_label[i] = m.skip_label;
        b->n++;
    }
    b->end = rc;
    ferry_source_progress(f->src, &b->done, &b->total);
}

static void *reader_main(void *arg)
{
    ferry_feed *f = arg;

    for (;;) {
        feed_batch *b;
        bool last;

        pthread_mutex_lock(&f->mu);
        while (!f->stop && f->full == FEED_SLOTS)
            pthread_cond_wait(&f->changed, &f->mu);
        if (f->stop) {
            pthread_mutex_unlock(&f->mu);
            return NULL;
        }
        b = &f->slot[(f->head + f->full) % FEED_SLOTS];
        pthread_mutex_unlock(&f->mu);

        fill(f, b);
        last = b->end != FERRY_OK;

        pthread_mutex_lock(&f->mu);
        f->full++;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->mu);
        if (last)
            return NULL;
    }
}

static ferry_rc start_reader(ferry_feed *f, ferry_err *err)
{
    sigset_t all, old;
    int prc;

    f->values = calloc(f->nvalues > 0 ? f->nvalues : 1, sizeof(*f->values));
    if (f->values == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the feed");
    for (size_t i = 0; i < FEED_SLOTS; i++)
        if (!batch_init(&f->slot[i], f->nvalues))
            return ferry_err_set(err, FERRY_ENOMEM, "allocating the feed");
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->changed, NULL);
    /* The reader inherits a mask that blocks every signal: they go to the run's thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    prc = pthread_create(&f->reader, NULL, reader_main, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0)
        return ferry_err_set(err, FERRY_ENOMEM, "starting the reader thread (error %d)", prc);
    f->reader_started = true;
    return FERRY_OK;
}

ferry_rc ferry_feed_start(ferry_source *src, ferry_mapper *mapper, size_t nvalues, bool threaded,
                          atomic_bool *stop, ferry_feed **ret_feed, ferry_err *err)
{
    ferry_feed *f = calloc(1, sizeof(*f));
    ferry_rc rc;

    *ret_feed = NULL;
    if (f == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the feed");
    f->src = src;
    f->mapper = mapper;
    f->nvalues = nvalues;
    f->stop_source = stop;
    f->threaded = threaded;
    if (threaded && (rc = start_reader(f, err)) != FERRY_OK) {
        ferry_feed_free(f);
        return rc;
    }
    *ret_feed = f;
    return FERRY_OK;
}

/* Hands the slot the run read from back to the reader. */
static void release(ferry_feed *f)
{
    if (f->cur == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->head = (f->head + 1) % FEED_SLOTS;
    f->full--;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
    f->cur = NULL;
}

static ferry_rc next_threaded(ferry_feed *f, ferry_map_result *ret_result,
                              ferry_mapped_record *ret_rec, ferry_err *err)
{
    feed_batch *b = f->cur;

    while (b == NULL || f->pos == b->n) {
        if (b != NULL && b->end != FERRY_OK) {
            f->ended = true;
            if (b->end == FERRY_DONE)
                return FERRY_DONE;
            if (err != NULL)
                *err = b->err;
            return b->end;
        }
        release(f);
        pthread_mutex_lock(&f->mu);
        while (f->full == 0)
            pthread_cond_wait(&f->changed, &f->mu);
        b = f->cur = &f->slot[f->head];
        pthread_mutex_unlock(&f->mu);
        f->pos = 0;
    }

    size_t i = f->pos++;
    const size_t *value = b->value + i * f->nvalues;
    const char *a = b->arena.data;
    for (size_t j = 0; j < f->nvalues; j++)
        f->values[j] = value[j] == NO_STRING ? NULL : a + value[j];
    *ret_result = b->result[i];
    ret_rec->nvalues = f->nvalues;
    ret_rec->value = f->values;
    ret_rec->len = b->len + i * f->nvalues;
    ret_rec->key = b->key[i] == NO_STRING ? NULL : a + b->key[i];
    ret_rec->row = b->row[i];
    ret_rec->field = b->field[i];
    ret_rec->reason = b->reason[i] == NO_STRING ? NULL : a + b->reason[i];
    ret_rec->skip_label = b->skip_label[i];
    return FERRY_OK;
}

ferry_rc ferry_feed_next(ferry_feed *f, ferry_map_result *ret_result, ferry_mapped_record *ret_rec,
                         ferry_err *err)
{
    ferry_source_record rec;
    ferry_rc rc;

    if (f->ended)
        return ferry_err_set(err, FERRY_EINVAL, "the feed's records were all read");
    if (f->threaded)
        return next_threaded(f, ret_result, ret_rec, err);
    rc = ferry_source_next(f->src, &rec, err);
    if (rc == FERRY_OK)
        rc = ferry_mapper_map(f->mapper, &rec, ret_result, ret_rec, err);
    if (rc != FERRY_OK)
        f->ended = true;
    return rc;
}

void ferry_feed_progress(ferry_feed *f, uint64_t *ret_done, uint64_t *ret_total)
{
    if (!f->threaded) {
        ferry_source_progress(f->src, ret_done, ret_total);
    } else if (f->cur != NULL) {
        *ret_done = f->cur->done;
        *ret_total = f->cur->total;
    }
}

void ferry_feed_free(ferry_feed *f)
{
    if (f == NULL)
        return;
    if (f->reader_started) {
        if (f->stop_source != NULL)
            atomic_store(f->stop_source, true);
        pthread_mutex_lock(&f->mu);
        f->stop = true;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->reader, NULL);
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->changed);
    }
    if (f->threaded)
        for (size_t i = 0; i < FEED_SLOTS; i++)
            batch_done(&f->slot[i]);
    free(f->values);
    free(f);
}
