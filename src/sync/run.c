/* run.c - one run of a sync, start to finish (see run.h).
 *
 * Design: the run record exists (status running) before the run starts, written in its own
 * autocommit write by whoever claimed or recorded it (queue/queue.h), so it is visible while
 * the run works. Everything the run changes afterwards, the target rows, the
 * change rows and the final run record, is written in the target's single transaction, so a
 * run that commits has its audit trail and a run that rolls back leaves nothing but a
 * failed/cancelled run record (written after the rollback).
 *
 * The log message keeps the detail people need (who was created, which fields changed, why
 * records were skipped or failed) but at most LOG_ITEMS entries per outcome; the change rows
 * hold the rest, so a million-row run stays a bounded message.
 *
 * on_missing is not applied when the source had no records (allow_empty), nor when records
 * failed before their key could be read: such a row might be one the source still has, and
 * deleting it would lose data. The log message says so.
 *
 * The guard (sync/guard.h): after the last outcome, a run in which more records failed than
 * guard.max_failed allows fails; then on_missing's target tells how many rows it would delete
 * or flag, before it touches any, and a run over guard.max_missing fails (unless the run
 * allows it: --allow-missing). The scope of max_missing is the rows before the run: those
 * on_missing's scan covers minus the ones this run created. Either way the run rolls back,
 * so the target is left exactly as it was.
 *
 * Deferred outcomes: a set-wise target (PostgreSQL) answers apply() with "pending" and tells
 * the outcomes later, in apply order, from drain() (target/target.h). Outcomes are counted,
 * logged and recorded strictly in source row order whatever the target: a record the mapper
 * skipped or failed, or any final outcome, that comes after a pending one waits in a queue
 * and is emitted between the drained outcomes, where it belongs. So counts, messages (with
 * the order of their items) and change rows (seq order) are the same on every backend. The
 * queue holds at most QUEUE_ITEMS entries (QUEUE_BYTES of text): when full, the run drains
 * the target early. The run also drains before it uses the store's connection itself (a
 * lease renewal, change rows emitted outside a drain), since a target may hold it busy with a
 * COPY, and before finish(). */
#include "sync/run.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "source/source.h"
#include "sync/activity.h"
#include "sync/feed.h"
#include "sync/guard.h"
#include "sync/hold.h"
#include "sync/label.h"
#include "sync/lookup.h"
#include "sync/map.h"
#include "sync/vault.h"
#include "target/target.h"
#include "util/backoff.h"
#include "util/buf.h"
#include "util/instant.h"
#include "util/timeutil.h"

#define LOG_ITEMS 50
#define LOG_SECTION_MAX (64 * 1024)
/* Change rows per store call: a PostgreSQL store sends each call as one COPY, so fewer, larger
 * calls cost far less per row (a million created records write a million change rows). */
#define CHANGE_BATCH 16384
#define CHANGE_ARENA_FLUSH (32 * 1024 * 1024)
#define NO_STRING SIZE_MAX
#define QUEUE_ITEMS 65536
#define QUEUE_BYTES (16 * 1024 * 1024)
#define NAMES_BYTES (256 * 1024 * 1024)

/* Change rows waiting to be written: strings live in one arena, referred to by offset until
 * the flush, since the arena may move as it grows. */
typedef struct {
    ferry_change *items; /* CHANGE_BATCH of each */
    size_t *key, *reason, *diff, *label, *link, *values;
    size_t n;
    ferry_buf arena;
    ferry_buf cell; /* a skipped or failed record's cell link, as it is made */
} change_batch;

/* One final outcome of a record, as the recorder counts, logs and records it; strings
 * borrowed. */
typedef struct {
    ferry_outcome outcome;
    const char *key;
    const char *name; /* the record's name (the sync's label:), or NULL */
    long row;
    const char *reason;     /* skipped and failed: why, with its "row N: " */
    const char *diff_text;  /* updated */
    const char *diff_json;  /* updated */
    const char *skip_label; /* skipped by a labelled rule: its label (the config's) */
    long field;             /* skipped and failed: the field behind it, or -1 */
} outcome_item;

/* A final outcome waiting for pending ones before it: strings in the arena by offset. */
typedef struct {
    int64_t after; /* how many pending applies came before it */
    ferry_outcome outcome;
    long row;
    size_t key, name, reason, diff_text, diff_json;
    const char *skip_label;
    long field;
} queued_outcome;

typedef struct {
    queued_outcome *items;
    size_t n, head, cap;
    ferry_buf arena;
} outcome_queue;

/* The names of the records whose outcome the target still owes, in apply order (the order
 * drain() tells them): strings in the arena by offset. Used only when the sync names records. */
typedef struct {
    size_t *off; /* a name's offset, or NO_STRING */
    size_t n, head, cap;
    ferry_buf arena;
} name_fifo;

/* A step's summary: "Processed 10 brands: ...", labelled skips included. */
#define STEP_SUMMARY_MAX 1024

/* What a run keeps of each step (a sync without steps is its own single step). */
typedef struct {
    int64_t counts[FERRY_OUTCOME_COUNT];
    ferry_label_counts skipped_by_label; /* the step's labelled skips, its labels in order */
    int64_t processed;
    int percent;
    const char *status;             /* pending, running, done, failed, rolled back */
    char summary[STEP_SUMMARY_MAX]; /* "Processed 10 brands: ...", once done */
} step_state;

/* What a run does with a step whose REST source is incremental (incremental:). */
typedef struct {
    bool on;                            /* the step's source is incremental */
    bool full;                          /* this run fetches everything */
    bool had;                           /* a watermark was stored (wm) */
    ferry_watermark wm;                 /* the last successful run's */
    char since[FERRY_INSTANT_TEXT_MAX]; /* sent on an incremental run, in the source's format */
} incr_plan;

typedef struct {
    const ferry_run_options *opt;
    const ferry_sync_spec *whole; /* the sync (opt->sync) */
    const ferry_sync_spec *sync;  /* the step executing (the sync itself without steps) */
    size_t nsteps, step;          /* the run's steps, and the one executing */
    step_state steps[FERRY_STEPS_MAX];
    incr_plan incr[FERRY_STEPS_MAX];
    ferry_source *sources[FERRY_STEPS_MAX];   /* each step's, opened before any target begins */
    ferry_target *targets[FERRY_STEPS_MAX];   /* each begun step's: all commit at the end */
    int64_t base_counts[FERRY_OUTCOME_COUNT]; /* the run's counts when the step began */
    int64_t base_processed;
    ferry_run run;
    ferry_source *source; /* the step's (sources[step]) */
    ferry_mapper *mapper;
    ferry_feed *feed;         /* the records, read and mapped ahead while applying */
    ferry_lookups *lookups;   /* the look-up fields' tables, or NULL */
    bool key_has_lookup;      /* a key field's value is looked up */
    atomic_bool stop_reading; /* the source's stop flag (sync/feed.h) */
    ferry_sync_vault vault;   /* the sources' kept secrets, on the run's store */
    ferry_target *target;     /* the step's (targets[step]) */
    int64_t seq;              /* change row sequence */
    change_batch batch;
    int retries_done; /* transient failures retried so far */
    int fetch_share;  /* percent the prefetch accounts for (0 or 50) */
    int64_t last_heartbeat_mono;
    bool lease_lost;          /* another process took the run over */
    bool store_txn;           /* the store's own transaction is open (target.database) */
    int64_t keyless_failures; /* failed records whose key could not be read */
    long key_field;           /* the step's first key field: what a target's refusal points at */
    int64_t pending;          /* applies whose outcome the target still owes */
    int64_t pending_total;    /* applies ever answered pending */
    int64_t settled_total;    /* pending applies whose outcome came */
    bool target_dirty;        /* the target may hold work (and its connection) */
    bool draining;            /* inside the target's drain() */
    outcome_queue queue;
    name_fifo names;                        /* the names of pending applies */
    ferry_buf name;                         /* the current record's name (label:) */
    ferry_buf section[FERRY_OUTCOME_COUNT]; /* log detail per outcome */
    int64_t shown[FERRY_OUTCOME_COUNT];
    int64_t started_mono;
    int64_t last_progress_mono;
    const char *resume_phase; /* the phase a wait interrupted */
    char phase[64];
    char logged_phase[64];            /* the last phase the activity log told (not waits) */
    int64_t phase_started_mono;       /* when logged_phase began: the ETA is the phase's */
    uint64_t fetch_done, fetch_total; /* the prefetch's last progress (bytes, or records) */
    ferry_activity_log *activity;     /* NULL when out of memory: the run goes on without */
    bool activity_dirty;              /* entries not yet in run.activity */
    char first_failure[512];          /* the reason of the first failed record, for the guard */
    /* Review (sync/hold.h). */
    ferry_buf hold;        /* the guard's rules the run broke, "; "-joined: it is held */
    bool hold_admin;       /* one of them is guard.protect's */
    bool approving;        /* applying a held run someone approved: its snapshots */
    bool reviewed_cleared; /* its reviewed change rows were removed (in the transaction) */
    int64_t scope;         /* the step's rows before the run, when its on_missing scan
                              counted them; else -1 */
    int64_t protected_n[FERRY_GUARD_PROTECT_MAX]; /* the step's updates of each protected field */
} run_ctx;

void ferry_run_format_summary(const ferry_sync_spec *sync, const int64_t c[],
                              const ferry_label_counts *skipped_by_label, char *out, size_t outlen)
{
    int64_t processed = c[FERRY_OUTCOME_CREATED] + c[FERRY_OUTCOME_UPDATED] +
                        c[FERRY_OUTCOME_UNCHANGED] + c[FERRY_OUTCOME_SKIPPED] +
                        c[FERRY_OUTCOME_FAILED] + ferry_label_counts_total(skipped_by_label);
    int n;

    n = snprintf(out, outlen,
                 "Processed %lld %s: %lld created, %lld updated, %lld unchanged, %lld skipped",
                 (long long)processed, sync->noun, (long long)c[FERRY_OUTCOME_CREATED],
                 (long long)c[FERRY_OUTCOME_UPDATED], (long long)c[FERRY_OUTCOME_UNCHANGED],
                 (long long)c[FERRY_OUTCOME_SKIPPED]);
    /* "5 skipped, 3 FLAT skipped": each label's count after the plain one, in config order. */
    for (size_t i = 0; i < skipped_by_label->n && n >= 0 && (size_t)n < outlen; i++)
        n +=
            snprintf(out + n, outlen - (size_t)n, ", %lld %s skipped",
                     (long long)skipped_by_label->items[i].count, skipped_by_label->items[i].label);
    if (n >= 0 && (size_t)n < outlen)
        n += snprintf(out + n, outlen - (size_t)n, ", %lld failed",
                      (long long)c[FERRY_OUTCOME_FAILED]);
    if (n < 0 || (size_t)n >= outlen)
        return;
    if (sync->target.on_missing == FERRY_ON_MISSING_DELETE)
        n += snprintf(out + n, outlen - (size_t)n, ", %lld deleted",
                      (long long)c[FERRY_OUTCOME_DELETED]);
    else if (sync->target.on_missing == FERRY_ON_MISSING_FLAG)
        n += snprintf(out + n, outlen - (size_t)n, ", %lld flagged as missing",
                      (long long)c[FERRY_OUTCOME_DELETED]);
    if (n >= 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, ".");
}

/* Adds an entry to the run's activity log and tells opt->on_activity (run.activity). */
static void note(run_ctx *c, const char *kind, const char *text)
{
    const ferry_run_options *opt = c->opt;
    int64_t now = ferry_time_now_ms(), n;

    if (c->activity == NULL)
        return;
    n = ferry_activity_log_add(c->activity, now, kind, text);
    c->activity_dirty = true;
    if (opt->on_activity != NULL && !c->lease_lost)
        opt->on_activity(opt->activity_ctx, &c->run, n, now, kind, text);
}

/* A source's report for the activity log (ferry_source_options.on_activity). */
static void on_source_activity(void *ctx, const char *kind, const char *text)
{
    note(ctx, kind, text);
}

/* Writes the activity log into run.activity when it changed. Out of memory, the last
 * state stays. */
static void refresh_activity(run_ctx *c)
{
    char *text;

    if (c->activity == NULL || !c->activity_dirty)
        return;
    if ((text = ferry_activity_log_format(c->activity)) == NULL)
        return;
    free(c->run.activity);
    c->run.activity = text;
    c->activity_dirty = false;
}

/* Whether step k reads a source of its own (not the rows of an earlier step's). */
static bool own_source(const run_ctx *c, size_t k)
{
    return c->sources[k] != NULL && ferry_sync_step(c->whole, k)->source_step < 0;
}

/* The run's fetched, source_bytes and source_records from its sources' counts. A CSV source
 * counts on the feed's reader thread: it is looked at only when no feed runs (while one
 * does, the feed's progress gives the bytes). whole: every source was read to its end. */
static void count_source(run_ctx *c, bool whole)
{
    int64_t bytes = 0, records = 0;

    for (size_t k = 0; k < c->nsteps; k++) {
        if (!own_source(c, k))
            continue;
        if (c->feed != NULL && k == c->step && strcmp(c->sources[k]->kind, "rest") != 0) {
            uint64_t done = 0, total = 0;
            ferry_feed_progress(c->feed, &done, &total);
            bytes += (int64_t)done; /* not the source's own count: the reader writes it */
            records += c->run.processed - c->base_processed;
            continue;
        }
        bytes += c->sources[k]->bytes;
        records += c->sources[k]->records;
    }
    if (bytes > c->run.source_bytes)
        c->run.source_bytes = bytes;
    if (records > c->run.fetched)
        c->run.fetched = records;
    if (whole)
        c->run.source_records = c->run.fetched;
}

static void set_phase(run_ctx *c, const char *phase)
{
    snprintf(c->phase, sizeof(c->phase), "%s", phase);
    c->run.phase = c->phase;
    /* A wait's phase ("rate limited until ...") is told by the source; "done" by fill_end(). */
    if (strcmp(phase, c->logged_phase) == 0 || strcmp(phase, "queued") == 0 ||
        strcmp(phase, "done") == 0)
        return;
    snprintf(c->logged_phase, sizeof(c->logged_phase), "%s", phase);
    c->phase_started_mono = ferry_time_mono_ms();
    note(c, "phase", phase);
}

/* Renews the run's lease (opt->renew_lease) every FERRY_HEARTBEAT_MS while it runs; a lease
 * found lost stops the run at its next check_lease(). */
static void renew_lease(run_ctx *c)
{
    const ferry_run_options *opt = c->opt;
    int64_t now = ferry_time_mono_ms();
    ferry_err hb;

    /* The renewal uses the store's connection, which a target may hold busy until drained. */
    if (opt->renew_lease == NULL || c->run.status != FERRY_RUN_RUNNING || c->lease_lost ||
        c->target_dirty || now - c->last_heartbeat_mono < FERRY_HEARTBEAT_MS)
        return;
    c->last_heartbeat_mono = now;
    ferry_err_clear(&hb);
    if (opt->renew_lease(opt->renew_lease_ctx, opt->store, c->run.id, &hb) == FERRY_ENOTFOUND)
        c->lease_lost = true;
}

/* The current step's count of an outcome (the run's counts are the steps' sums). */
static int64_t step_count(const run_ctx *c, ferry_outcome o)
{
    return c->run.counts[o] - c->base_counts[o];
}

/* Sets the step's percent and the run's: the steps weigh the same. Never goes back. */
static void set_percent(run_ctx *c, int pct)
{
    step_state *st = &c->steps[c->step];
    int whole;

    if (pct > 99 && c->run.status == FERRY_RUN_RUNNING)
        pct = 99; /* 100 means finished */
    if (pct > st->percent)
        st->percent = pct;
    whole = (int)(((int64_t)c->step * 100 + st->percent) / (int64_t)c->nsteps);
    if (whole > 99 && c->run.status == FERRY_RUN_RUNNING)
        whole = 99;
    if (whole > c->run.percent)
        c->run.percent = whole;
}

/* Writes the steps' state into run.steps (a run of a sync with steps: store.h). Out of
 * memory, the last state stays. */
static void refresh_steps(run_ctx *c)
{
    json_t *list;
    char *text;

    if (c->whole->nsteps == 0)
        return;
    if ((list = json_array()) == NULL)
        return;
    for (size_t k = 0; k < c->nsteps; k++) {
        const ferry_sync_spec *sp = &c->whole->steps[k];
        step_state *st = &c->steps[k];
        json_t *counts = json_object();
        if (k == c->step && strcmp(st->status, "running") == 0) {
            for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
                st->counts[o] = step_count(c, (ferry_outcome)o);
            st->processed = c->run.processed - c->base_processed;
        }
        json_t *labels = json_object();
        for (int o = 0; counts != NULL && o < FERRY_OUTCOME_COUNT; o++)
            json_object_set_new(counts, ferry_outcome_name((ferry_outcome)o),
                                json_integer(st->counts[o]));
        for (size_t i = 0; labels != NULL && i < st->skipped_by_label.n; i++)
            json_object_set_new(labels, st->skipped_by_label.items[i].label,
                                json_integer(st->skipped_by_label.items[i].count));
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:i, s:I, s:o, s:o, s:s?}", "name",
                                        sp->name, "noun", sp->noun, "status", st->status, "percent",
                                        st->percent, "processed", (json_int_t)st->processed,
                                        "counts", counts != NULL ? counts : json_null(),
                                        "skipped_by_label", labels != NULL ? labels : json_null(),
                                        "message", st->summary[0] != '\0' ? st->summary : NULL));
    }
    text = json_dumps(list, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(list);
    if (text == NULL)
        return;
    free(c->run.steps);
    c->run.steps = text;
}

static void report_progress(run_ctx *c, bool force)
{
    const ferry_run_options *opt = c->opt;
    int64_t now = ferry_time_mono_ms();
    int interval = opt->progress_interval_ms > 0 ? opt->progress_interval_ms : 250;
    uint64_t done = 0, total = 0;
    ferry_run_progress p;

    if (!force && now - c->last_progress_mono < interval)
        return;
    c->last_progress_mono = now;
    /* While fetching, on_fetch_progress sets the percent from the download. */
    if (c->feed != NULL)
        ferry_feed_progress(c->feed, &done, &total);
    else if (c->source != NULL && strcmp(c->phase, "applying") == 0)
        ferry_source_progress(c->source, &done, &total);
    if (total > 0)
        set_percent(c, c->fetch_share + (int)(done * (uint64_t)(100 - c->fetch_share) / total));
    if (strcmp(c->logged_phase, "fetching") == 0) { /* the ETA is the fetch's */
        done = c->fetch_done;
        total = c->fetch_total;
    }
    if (c->run.status == FERRY_RUN_RUNNING)
        count_source(c, false);
    refresh_steps(c);
    refresh_activity(c);
    /* A run whose lease was taken over is another process's to report: it says nothing more. */
    if (opt->on_progress == NULL || c->lease_lost)
        return;
    memset(&p, 0, sizeof(p));
    p.run = &c->run;
    p.elapsed_ms = now - c->started_mono;
    p.rows_per_s =
        p.elapsed_ms > 0 ? (double)c->run.processed * 1000.0 / (double)p.elapsed_ms : 0.0;
    p.eta_ms = -1;
    /* From the phase running: the fetch's pace says nothing of the apply's. */
    if (total > 0 && done > 0 && done <= total && c->run.status == FERRY_RUN_RUNNING)
        p.eta_ms = (int64_t)((double)(now - c->phase_started_mono) * (double)(total - done) /
                             (double)done);
    if (c->run.status != FERRY_RUN_RUNNING)
        p.eta_ms = 0;
    opt->on_progress(opt->progress_ctx, &p);
}

/* The run's duties at a safe point of its work: its lease, then its progress. */
static void checkpoint(run_ctx *c, bool force)
{
    renew_lease(c);
    report_progress(c, force);
}

/* Adds one entry ("text" or "text (detail)") to the log detail of an outcome, within
 * LOG_ITEMS. */
static void log_item(run_ctx *c, ferry_outcome outcome, const char *text, const char *detail)
{
    ferry_buf *s = &c->section[outcome];

    if (c->shown[outcome]++ >= LOG_ITEMS)
        return;
    if (s->len > 0)
        ferry_buf_printf_trunc(s, "; ");
    ferry_buf_printf_trunc(s, "%s", text != NULL ? text : "(no key)");
    if (detail != NULL)
        ferry_buf_printf_trunc(s, " (%s)", detail);
}

/* A reason without its "row N: " (or "record N: ") prefix: beside a record's name, the
 * reason says what, the name says which. */
static const char *without_row(const char *reason)
{
    const char *p = reason;

    if (strncmp(p, "row ", 4) == 0)
        p += 4;
    else if (strncmp(p, "record ", 7) == 0)
        p += 7;
    else
        return reason;
    if (*p < '0' || *p > '9')
        return reason;
    while (*p >= '0' && *p <= '9')
        p++;
    return strncmp(p, ": ", 2) == 0 ? p + 2 : reason;
}

/* Adds a final outcome's entry to the log: "KEY", "KEY (diff)" or "REASON"; a record with a
 * name shows it instead of its key, with the reason (without its row) in brackets: "John Doe
 * (john@example.com)", "Mike Johnson (phone: ... -> ...)", "Bob Wilson (email 'bob@' is not
 * an email address)". */
static void log_outcome(run_ctx *c, const outcome_item *it)
{
    const char *detail = it->outcome == FERRY_OUTCOME_UPDATED ? it->diff_text : NULL;

    if (it->outcome == FERRY_OUTCOME_SKIPPED || it->outcome == FERRY_OUTCOME_FAILED) {
        if (it->name == NULL) {
            log_item(c, it->outcome, it->reason, NULL);
            return;
        }
        detail = it->reason != NULL ? without_row(it->reason) : NULL;
    }
    log_item(c, it->outcome, it->name != NULL ? it->name : it->key, detail);
}

/* Copies s into the batch arena; returns its offset, or NO_STRING for NULL. */
static size_t stash(change_batch *b, const char *s, bool *ok)
{
    size_t off = b->arena.len;

    if (s == NULL)
        return NO_STRING;
    if (ferry_buf_append(&b->arena, s, strlen(s) + 1) != FERRY_OK)
        *ok = false;
    return off;
}

/* An approved run writes its change rows anew, in place of the ones reviewed: they go in its
 * transaction, before its first change row, where the store's connection is free. */
static ferry_rc clear_reviewed(run_ctx *c, ferry_err *err)
{
    ferry_rc rc;

    if (!c->approving || c->reviewed_cleared)
        return FERRY_OK;
    if ((rc = c->opt->store->runs->changes_clear(c->opt->store, c->run.id, err)) == FERRY_OK)
        c->reviewed_cleared = true;
    return rc;
}

static ferry_rc flush_changes(run_ctx *c, ferry_err *err)
{
    change_batch *b = &c->batch;
    ferry_rc rc;

    if (b->n == 0)
        return FERRY_OK;
    if ((rc = clear_reviewed(c, err)) != FERRY_OK)
        return rc;
    for (size_t i = 0; i < b->n; i++) {
        b->items[i].record_key = b->key[i] == NO_STRING ? NULL : b->arena.data + b->key[i];
        b->items[i].reason = b->reason[i] == NO_STRING ? NULL : b->arena.data + b->reason[i];
        b->items[i].diff = b->diff[i] == NO_STRING ? NULL : b->arena.data + b->diff[i];
        b->items[i].label = b->label[i] == NO_STRING ? NULL : b->arena.data + b->label[i];
        b->items[i].link = b->link[i] == NO_STRING ? NULL : b->arena.data + b->link[i];
        b->items[i].row_values = b->values[i] == NO_STRING ? NULL : b->arena.data + b->values[i];
    }
    rc = c->opt->store->runs->changes_add(c->opt->store, b->items, b->n, err);
    b->n = 0;
    ferry_buf_reset(&b->arena);
    return rc;
}

/* Records one change row; field: for a skipped or failed record, the field behind it (-1:
 * the record), which a Google Sheet's cell link points at. */
static ferry_rc add_change(run_ctx *c, ferry_outcome outcome, const char *key, const char *name,
                           long row, const char *reason, const char *diff, long field,
                           const char *values, ferry_err *err)
{
    change_batch *b = &c->batch;
    size_t i = b->n;
    bool ok = true;

    memset(&b->items[i], 0, sizeof(b->items[i]));
    b->items[i].run_id = c->run.id;
    b->items[i].seq = ++c->seq;
    b->items[i].outcome = outcome;
    b->items[i].row = row;
    b->items[i].step = c->whole->nsteps > 0 ? c->sync->name : NULL;
    b->key[i] = stash(b, key, &ok);
    b->reason[i] = stash(b, reason, &ok);
    b->diff[i] = stash(b, diff, &ok);
    b->label[i] = stash(b, name, &ok);
    b->link[i] = NO_STRING;
    b->values[i] = stash(b, values, &ok);
    if ((outcome == FERRY_OUTCOME_SKIPPED || outcome == FERRY_OUTCOME_FAILED) &&
        ferry_source_cell_link(c->source, field, row, &b->cell))
        b->link[i] = stash(b, ferry_buf_str(&b->cell), &ok);
    if (!ok)
        return ferry_err_set(err, FERRY_ENOMEM, "recording a change");
    /* A deleted row's values may be large: the arena is flushed well before its limit. */
    if (++b->n == CHANGE_BATCH || b->arena.len >= CHANGE_ARENA_FLUSH)
        return flush_changes(c, err);
    return FERRY_OK;
}

/* The guard's max_missing, before on_missing touches a row: a run over it goes on, to show
 * every row it would remove, and is held at the end. */
static ferry_rc on_missing_check_cb(void *ctx, int64_t missing, int64_t in_scope, ferry_err *err)
{
    run_ctx *c = ctx;

    (void)err;
    c->scope = in_scope - step_count(c, FERRY_OUTCOME_CREATED);
    if (c->run.allow_missing || c->approving)
        return FERRY_OK;
    (void)ferry_guard_hold_limit(&c->whole->guard.max_missing,
                                 c->sync->target.on_missing == FERRY_ON_MISSING_FLAG
                                     ? FERRY_GUARD_FLAGGED
                                     : FERRY_GUARD_DELETED,
                                 missing, c->scope, c->sync->noun, NULL, &c->hold);
    return FERRY_OK;
}

static ferry_rc on_missing_cb(void *ctx, const char *key, const char *row_values, ferry_err *err)
{
    run_ctx *c = ctx;
    const char *why = c->sync->target.on_missing == FERRY_ON_MISSING_FLAG
                          ? "no longer in the source: flagged as missing"
                          : "no longer in the source: deleted";

    c->run.counts[FERRY_OUTCOME_DELETED]++;
    log_item(c, FERRY_OUTCOME_DELETED, key, NULL);
    return add_change(c, FERRY_OUTCOME_DELETED, key, NULL, 0, why, NULL, -1, row_values, err);
}

/* Counts one final outcome: a record a labelled rule skipped under its label, the rest by
 * outcome. */
/* Adds one to label's count in lc; false when lc has no such label. */
static bool label_count_add(ferry_label_counts *lc, const char *label)
{
    for (size_t i = 0; i < lc->n; i++) {
        if (strcmp(lc->items[i].label, label) == 0) {
            lc->items[i].count++;
            return true;
        }
    }
    return false;
}

/* Counts one final outcome: a record a labelled rule skipped under its label, the step's and
 * the run's; the rest by outcome (a step's counts are the run's since the step began). */
static void count(run_ctx *c, const outcome_item *it)
{
    if (it->outcome == FERRY_OUTCOME_SKIPPED && it->skip_label != NULL &&
        label_count_add(&c->steps[c->step].skipped_by_label, it->skip_label)) {
        (void)label_count_add(&c->run.skipped_by_label, it->skip_label);
        return;
    }
    c->run.counts[it->outcome]++;
}

/* Counts, logs and records one final outcome. */
static ferry_rc emit(run_ctx *c, const outcome_item *it, ferry_err *err)
{
    count(c, it);
    switch (it->outcome) {
    case FERRY_OUTCOME_CREATED:
        log_outcome(c, it);
        return add_change(c, it->outcome, it->key, it->name, it->row, NULL, NULL, -1, NULL, err);
    case FERRY_OUTCOME_UPDATED:
        log_outcome(c, it);
        for (size_t i = 0; i < c->whole->guard.nprotect && it->diff_json != NULL; i++)
            if (ferry_guard_diff_has_field(it->diff_json, c->whole->guard.protect[i]))
                c->protected_n[i]++;
        return add_change(c, it->outcome, it->key, it->name, it->row, NULL, it->diff_json, -1, NULL,
                          err);
    case FERRY_OUTCOME_SKIPPED:
    case FERRY_OUTCOME_FAILED:
        if (it->outcome == FERRY_OUTCOME_FAILED && c->first_failure[0] == '\0' &&
            it->reason != NULL)
            snprintf(c->first_failure, sizeof(c->first_failure), "%s", it->reason);
        log_outcome(c, it);
        return add_change(c, it->outcome, it->key, it->name, it->row, it->reason, NULL, it->field,
                          NULL, err);
    default:
        return FERRY_OK;
    }
}

/* Emits the queued outcomes that came before pending apply number upto (all: INT64_MAX). */
static ferry_rc emit_queued(run_ctx *c, int64_t upto, ferry_err *err)
{
    outcome_queue *q = &c->queue;
    ferry_rc rc;

    while (q->head < q->n && q->items[q->head].after <= upto) {
        const queued_outcome *o = &q->items[q->head++];
        const char *a = q->arena.data;
        outcome_item it = {
            .outcome = o->outcome,
            .key = o->key == NO_STRING ? NULL : a + o->key,
            .name = o->name == NO_STRING ? NULL : a + o->name,
            .row = o->row,
            .reason = o->reason == NO_STRING ? NULL : a + o->reason,
            .diff_text = o->diff_text == NO_STRING ? NULL : a + o->diff_text,
            .diff_json = o->diff_json == NO_STRING ? NULL : a + o->diff_json,
            .skip_label = o->skip_label,
            .field = o->field,
        };
        if ((rc = emit(c, &it, err)) != FERRY_OK)
            return rc;
    }
    if (q->head == q->n) {
        q->head = q->n = 0;
        ferry_buf_reset(&q->arena);
    }
    return FERRY_OK;
}

/* Notes the name of a record whose outcome the target owes (when the sync names records). */
static ferry_rc names_push(run_ctx *c, const char *name, ferry_err *err)
{
    name_fifo *f = &c->names;

    if (c->sync->label.nparts == 0)
        return FERRY_OK;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 1024;
        size_t *grown = realloc(f->off, cap * sizeof(*grown));
        if (grown == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "holding the names of pending records");
        f->off = grown;
        f->cap = cap;
    }
    f->off[f->n] = NO_STRING;
    if (name != NULL) {
        f->off[f->n] = f->arena.len;
        if (ferry_buf_append(&f->arena, name, strlen(name) + 1) != FERRY_OK)
            return ferry_err_set(err, FERRY_ENOMEM, "holding the names of pending records");
    }
    f->n++;
    return FERRY_OK;
}

/* The name of the oldest record whose outcome the target owes, or NULL; borrowed until the
 * fifo is emptied (drain_target()). */
static const char *names_pop(run_ctx *c)
{
    name_fifo *f = &c->names;

    if (f->head >= f->n)
        return NULL;
    size_t off = f->off[f->head++];
    return off == NO_STRING ? NULL : f->arena.data + off;
}

/* Receives one deferred outcome from the target's drain(). */
static ferry_rc on_result(void *ctx, const ferry_apply_result *res, ferry_err *err)
{
    run_ctx *c = ctx;
    char reason[768];
    ferry_rc rc;

    if (c->pending <= 0)
        return ferry_err_set(err, FERRY_EINVAL, "the target reported more outcomes than records");
    if ((rc = emit_queued(c, c->settled_total, err)) != FERRY_OK)
        return rc;
    c->pending--;
    c->settled_total++;
    outcome_item it = {.outcome = res->outcome,
                       .key = res->key,
                       .name = names_pop(c),
                       .row = res->row,
                       .diff_text = res->diff_text,
                       .diff_json = res->diff_json,
                       .field = c->key_field};
    if (res->outcome == FERRY_OUTCOME_FAILED) {
        snprintf(reason, sizeof(reason), "%s %ld: %s",
                 c->sync->source.kind == FERRY_SOURCE_REST ? "record" : "row", res->row,
                 res->reason);
        it.reason = reason;
        it.diff_text = it.diff_json = NULL;
    }
    return emit(c, &it, err);
}

/* Settles everything the target holds: every pending outcome and what waited behind them.
 * Afterwards the store's connection is free. */
static ferry_rc drain_target(run_ctx *c, ferry_err *err)
{
    ferry_rc rc;

    if (c->target == NULL || c->target->ops->drain == NULL || !c->target_dirty || c->draining)
        return FERRY_OK;
    c->draining = true;
    rc = c->target->ops->drain(c->target, on_result, c, err);
    c->draining = false;
    if (rc != FERRY_OK)
        return rc;
    c->target_dirty = false;
    if (c->pending != 0)
        return ferry_err_set(err, FERRY_EINVAL, "the target left %lld records without an outcome",
                             (long long)c->pending);
    c->names.n = c->names.head = 0;
    ferry_buf_reset(&c->names.arena);
    return emit_queued(c, INT64_MAX, err);
}

/* Copies s into the queue's arena; returns its offset, or NO_STRING for NULL. */
static size_t queue_stash(outcome_queue *q, const char *s, bool *ok)
{
    size_t off = q->arena.len;

    if (s == NULL)
        return NO_STRING;
    if (ferry_buf_append(&q->arena, s, strlen(s) + 1) != FERRY_OK)
        *ok = false;
    return off;
}

/* Emits a final outcome now, or queues it behind pending ones (draining when the queue is
 * full). */
static ferry_rc settle(run_ctx *c, const outcome_item *it, ferry_err *err)
{
    outcome_queue *q = &c->queue;
    queued_outcome *o;
    bool ok = true;
    ferry_rc rc;

    if (it->outcome == FERRY_OUTCOME_UNCHANGED) {
        /* Only counted (no change row, no log item): its place in the order changes nothing,
         * so it neither waits in the queue nor needs the connection. */
        return emit(c, it, err);
    }
    if (c->pending == 0) {
        /* Change rows go through the store's connection: free it first. */
        if ((rc = drain_target(c, err)) != FERRY_OK)
            return rc;
        return emit(c, it, err);
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        queued_outcome *grown = realloc(q->items, cap * sizeof(*grown));
        if (grown == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "queueing an outcome");
        q->items = grown;
        q->cap = cap;
    }
    o = &q->items[q->n];
    o->after = c->pending_total;
    o->outcome = it->outcome;
    o->row = it->row;
    o->skip_label = it->skip_label;
    o->field = it->field;
    o->key = queue_stash(q, it->key, &ok);
    o->name = queue_stash(q, it->name, &ok);
    o->reason = queue_stash(q, it->reason, &ok);
    o->diff_text = queue_stash(q, it->diff_text, &ok);
    o->diff_json = queue_stash(q, it->diff_json, &ok);
    if (!ok)
        return ferry_err_set(err, FERRY_ENOMEM, "queueing an outcome");
    q->n++;
    if (q->n - q->head >= QUEUE_ITEMS || q->arena.len >= QUEUE_BYTES)
        return drain_target(c, err);
    return FERRY_OK;
}

static ferry_rc apply_record(run_ctx *c, const ferry_mapped_record *m, const char *name,
                             ferry_err *err);

/* Handles one mapped record: skipped, failed, or applied to the target. */
static ferry_rc process_record(run_ctx *c, ferry_map_result result, const ferry_mapped_record *m,
                               ferry_err *err)
{
    ferry_mapped_record found;
    const char *why = NULL, *name = NULL;
    char reason[768];
    ferry_rc rc;

    /* Named from the values as mapped: a look-up's field shows the source's value. */
    if (c->sync->label.nparts > 0 && ferry_record_label_render(&c->sync->label, m, &c->name))
        name = ferry_buf_str(&c->name);
    if (result == FERRY_MAP_SKIPPED)
        return settle(c,
                      &(outcome_item){.outcome = FERRY_OUTCOME_SKIPPED,
                                      .key = m->key,
                                      .name = name,
                                      .row = m->row,
                                      .reason = m->reason,
                                      .skip_label = m->skip_label,
                                      .field = m->field},
                      err);
    if (result == FERRY_MAP_OK && c->lookups != NULL) {
        if ((rc = ferry_lookups_resolve(c->lookups, m, &found, &why, err)) != FERRY_OK)
            return rc;
        if (why == NULL)
            return apply_record(c, &found, name, err);
        snprintf(reason, sizeof(reason), "%s %ld: %s",
                 c->sync->source.kind == FERRY_SOURCE_REST ? "record" : "row", m->row, why);
    }
    if (result == FERRY_MAP_OK && why == NULL)
        return apply_record(c, m, name, err);
    /* Failed: its row is kept, never deleted. A key holding a look-up's value names the row
     * only once looked up, so such a record counts as one whose key could not be read. */
    if (m->key == NULL || c->key_has_lookup) {
        c->keyless_failures++;
    } else {
        c->target_dirty = c->target->ops->drain != NULL;
        if ((rc = c->target->ops->keep(c->target, m, err)) != FERRY_OK)
            return rc;
    }
    return settle(
        c,
        &(outcome_item){.outcome = FERRY_OUTCOME_FAILED,
                        .key = m->key,
                        .name = name,
                        .row = m->row,
                        .reason = why != NULL ? reason : m->reason,
                        .field = why != NULL ? ferry_lookups_failed_field(c->lookups) : m->field},
        err);
}

/* Hands one record (named name, or NULL) to the target and settles what it answers. */
static ferry_rc apply_record(run_ctx *c, const ferry_mapped_record *m, const char *name,
                             ferry_err *err)
{
    ferry_apply_result res;
    char reason[768];
    ferry_rc rc;

    memset(&res, 0, sizeof(res));
    if (c->target->ops->drain != NULL)
        c->target_dirty = true;
    rc = c->target->ops->apply(c->target, m, &res, err);
    if (rc != FERRY_OK)
        return rc;
    if (res.pending) {
        c->pending++;
        c->pending_total++;
        if ((rc = names_push(c, name, err)) != FERRY_OK)
            return rc;
        return res.drain ? drain_target(c, err) : FERRY_OK;
    }
    outcome_item it = {.outcome = res.outcome,
                       .key = m->key,
                       .name = name,
                       .row = m->row,
                       .diff_text = res.diff_text,
                       .diff_json = res.diff_json,
                       .field = c->key_field};
    if (res.outcome == FERRY_OUTCOME_FAILED) {
        snprintf(reason, sizeof(reason), "%s %ld: %s",
                 c->sync->source.kind == FERRY_SOURCE_REST ? "record" : "row", m->row, res.reason);
        it.reason = reason;
        it.diff_text = it.diff_json = NULL;
    }
    return settle(c, &it, err);
}

static bool cancelled(const run_ctx *c)
{
    return c->opt->cancel != NULL && atomic_load(c->opt->cancel);
}

static ferry_rc check_lease(const run_ctx *c, ferry_err *err)
{
    if (!c->lease_lost)
        return FERRY_OK;
    return ferry_err_set(err, FERRY_EINVAL,
                         "the run's lease expired and another worker took it over; this "
                         "attempt stopped without changing anything");
}

/* Fails the run once it has run longer than the sync's timeout. */
static ferry_rc check_timeout(const run_ctx *c, ferry_err *err)
{
    char limit[32];

    if (c->whole->timeout_ms <= 0 ||
        ferry_time_mono_ms() - c->started_mono <= (int64_t)c->whole->timeout_ms)
        return FERRY_OK;
    ferry_time_format_duration(c->whole->timeout_ms, limit, sizeof(limit));
    return ferry_err_set(err, FERRY_ELIMIT,
                         "the run took longer than its timeout of %s (raise timeout: on the sync "
                         "if the source is just slow)",
                         limit);
}

/* Streams every record of the feed through the target. */
static ferry_rc process_feed(run_ctx *c, ferry_err *err)
{
    ferry_mapped_record m;
    ferry_map_result result;
    ferry_rc rc;

    for (;;) {
        if ((c->run.processed & 255) == 0) {
            if (cancelled(c))
                return ferry_err_set(err, FERRY_ECANCELLED, "the run was cancelled");
            if ((rc = check_timeout(c, err)) != FERRY_OK || (rc = check_lease(c, err)) != FERRY_OK)
                return rc;
            /* A lease renewal is due: free the store's connection for it. */
            if (c->target_dirty && c->opt->renew_lease != NULL &&
                ferry_time_mono_ms() - c->last_heartbeat_mono >= FERRY_HEARTBEAT_MS &&
                (rc = drain_target(c, err)) != FERRY_OK)
                return rc;
            checkpoint(c, false);
        }
        rc = ferry_feed_next(c->feed, &result, &m, err);
        if (rc == FERRY_DONE)
            return drain_target(c, err);
        if (rc != FERRY_OK)
            return rc;
        rc = process_record(c, result, &m, err);
        if (rc != FERRY_OK)
            return rc;
        c->run.processed++;
    }
}

/* Streams every record through map and target. A CSV source is read and mapped on a thread
 * of its own, ahead of the apply; a REST source's reading calls back into the run (waits,
 * progress), so it stays on the run's thread. */
static ferry_rc process_all(run_ctx *c, ferry_err *err)
{
    bool threaded = c->sync->source.kind == FERRY_SOURCE_CSV;
    ferry_rc rc;

    rc = ferry_feed_start(c->source, c->mapper, c->sync->nfields, threaded, &c->stop_reading,
                          &c->feed, err);
    if (rc != FERRY_OK)
        return rc;
    rc = process_feed(c, err);
    ferry_feed_free(c->feed);
    c->feed = NULL;
    atomic_store(&c->stop_reading, false); /* the next step's source reads on */
    return rc;
}

static const char *const section_titles[FERRY_OUTCOME_COUNT] = {
    "Created", "Updated", "Unchanged", "Skipped", "Failed", "Deleted",
};

static char *build_log_message(run_ctx *c, const char *summary, const char *note)
{
    ferry_buf b;

    ferry_buf_init(&b, 8 * LOG_SECTION_MAX);
    ferry_buf_printf_trunc(&b, "%s", summary);
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++) {
        if (c->shown[o] == 0)
            continue;
        ferry_buf_printf_trunc(&b, "\n%s: %s", section_titles[o], ferry_buf_str(&c->section[o]));
        if (c->shown[o] > LOG_ITEMS)
            ferry_buf_printf_trunc(&b, "; and %lld more (see the run's changes)",
                                   (long long)(c->shown[o] - LOG_ITEMS));
        ferry_buf_printf_trunc(&b, ".");
    }
    if (note != NULL)
        ferry_buf_printf_trunc(&b, "\n%s", note);
    return ferry_buf_take(&b);
}

/* Sets every count to 0, each label's too. */
/* Sets every count to 0, each label's too (the run's and the steps'). */
static void zero_counts(run_ctx *c)
{
    memset(c->run.counts, 0, sizeof(c->run.counts));
    for (size_t i = 0; i < c->run.skipped_by_label.n; i++)
        c->run.skipped_by_label.items[i].count = 0;
    for (size_t k = 0; k < c->nsteps; k++)
        for (size_t i = 0; i < c->steps[k].skipped_by_label.n; i++)
            c->steps[k].skipped_by_label.items[i].count = 0;
}

/* Sets up the labels each step counts (its skip rules') and the run's: every step's, each
 * once, in step order. False when out of memory. */
static bool init_labels(run_ctx *c)
{
    char **labels;
    size_t n = 0, all = 0;
    bool ok;

    for (size_t k = 0; k < c->nsteps; k++)
        all += ferry_sync_step(c->whole, k)->nskip_labels;
    if ((labels = calloc(all > 0 ? all : 1, sizeof(*labels))) == NULL)
        return false;
    for (size_t k = 0; k < c->nsteps; k++) {
        const ferry_sync_spec *sp = ferry_sync_step(c->whole, k);
        if (!ferry_label_counts_init(&c->steps[k].skipped_by_label, sp->skip_labels,
                                     sp->nskip_labels)) {
            free(labels);
            return false;
        }
        for (size_t i = 0; i < sp->nskip_labels; i++) {
            size_t j = 0;
            while (j < n && strcmp(labels[j], sp->skip_labels[i]) != 0)
                j++;
            if (j == n)
                labels[n++] = sp->skip_labels[i];
        }
    }
    ok = ferry_label_counts_init(&c->run.skipped_by_label, labels, n);
    free(labels);
    return ok;
}

static void fill_end(run_ctx *c, ferry_run_status status)
{
    int64_t now = ferry_time_now_ms();

    c->run.status = status;
    c->run.finished_at_ms = now;
    c->run.duration_ms = now - c->run.started_at_ms;
    set_phase(c, "done");
    if (status == FERRY_RUN_SUCCEEDED || status == FERRY_RUN_HELD)
        c->run.percent = 100;
    count_source(c, status == FERRY_RUN_SUCCEEDED || status == FERRY_RUN_HELD);
    char said[64];
    snprintf(said, sizeof(said), "done: %s", ferry_run_status_name(status));
    note(c, "phase", said);
    refresh_activity(c);
}

/* Records a failed or cancelled run (after the rollback). */
static void fill_failure(run_ctx *c, const ferry_err *cause)
{
    bool was_cancel = cause->code == FERRY_ECANCELLED;
    size_t len = strlen(cause->msg);
    /* A message that ends a sentence itself ("...published to the web as CSV?") gets no '.' */
    const char *stop = len > 0 && strchr(".?!", cause->msg[len - 1]) != NULL ? "" : ".";
    char ui[FERRY_ERR_MSG_MAX + 256];

    fill_end(c, was_cancel ? FERRY_RUN_CANCELLED : FERRY_RUN_FAILED);
    if (was_cancel && c->opt->who_cancelled != NULL && c->run.cancelled_by == NULL)
        c->run.cancelled_by = c->opt->who_cancelled(c->opt->who_cancelled_ctx);
    if (was_cancel)
        snprintf(ui, sizeof(ui), "Sync of %s was cancelled. Nothing was changed.", c->whole->title);
    else if (c->retries_done > 0)
        snprintf(ui, sizeof(ui), "Sync of %s failed after %d retr%s: %s%s Nothing was changed.",
                 c->whole->title, c->retries_done, c->retries_done == 1 ? "y" : "ies", cause->msg,
                 stop);
    else
        snprintf(ui, sizeof(ui), "Sync of %s failed: %s%s Nothing was changed.", c->whole->title,
                 cause->msg, stop);
    free(c->run.ui_message);
    c->run.ui_message = strdup(ui);
    free(c->run.error);
    c->run.error = was_cancel ? NULL : strdup(cause->msg);
    free(c->run.error_code);
    c->run.error_code = strdup(ferry_rc_name(cause->code));
    free(c->run.log_message);
    c->run.log_message = strdup(ui);
    zero_counts(c); /* nothing was applied */
    for (size_t k = 0; k < c->nsteps; k++) {
        step_state *st = &c->steps[k];
        if (strcmp(st->status, "done") == 0)
            st->status = "rolled back";
        else if (strcmp(st->status, "running") == 0)
            st->status = was_cancel ? "cancelled" : "failed";
        memset(st->counts, 0, sizeof(st->counts));
        st->processed = 0;
        st->summary[0] = '\0';
    }
    c->step = 0;
    refresh_steps(c);
}

/* Progress of the prefetch: the first half of the run's percent. Stops the download when the
 * run is over its timeout or lost its lease (a cancel stops it inside the stream). */
static bool on_fetch_progress(void *ctx, uint64_t done, uint64_t total)
{
    run_ctx *c = ctx;
    ferry_err probe;

    bool rest = c->source != NULL && strcmp(c->source->kind, "rest") == 0;
    c->fetch_done = done;
    c->fetch_total = total;
    if (total > 0 && c->fetch_share > 0) {
        int pct = (int)(done * (uint64_t)c->fetch_share / total);
        set_percent(c, pct < c->fetch_share ? pct : c->fetch_share - 1);
    }
    /* A REST source counts records: its total is the run's (stated, or estimated). */
    bool news = false; /* a total learnt now is shown at once */
    if (rest) {
        int64_t t = total > 0 ? (int64_t)total : -1;
        news = t != c->run.total || c->run.total_estimated != c->source->total_estimated;
        c->run.total = t;
        c->run.total_estimated = c->source->total_estimated;
    }
    checkpoint(c, news);
    ferry_err_clear(&probe);
    return check_timeout(c, &probe) == FERRY_OK && !c->lease_lost;
}

/* A source waits on a rate limit or before a retry: the phase says so and until when. */
static void on_source_wait(void *ctx, int64_t until_ms, const char *what)
{
    run_ctx *c = ctx;
    char at[FERRY_ISO_TIME_MAX];

    if (until_ms == 0) {
        if (c->resume_phase != NULL)
            set_phase(c, c->resume_phase);
        c->resume_phase = NULL;
        checkpoint(c, true);
        return;
    }
    if (c->resume_phase == NULL)
        c->resume_phase = c->source == NULL ? "connecting" : "fetching";
    ferry_time_format_iso(until_ms, at);
    /* "2026-11-23T12:04:05Z" -> "12:04:05 UTC" */
    snprintf(c->phase, sizeof(c->phase), "%s until %.8s UTC", what,
             strlen(at) >= 19 ? at + 11 : at);
    c->run.phase = c->phase;
    checkpoint(c, true);
}

/* The record count of the last successful run of the sync and tenant, or -1. */
static int64_t last_count(run_ctx *c)
{
    ferry_run_filter f = {
        .sync = c->whole->name, .tenant = c->run.tenant, .status = "succeeded", .limit = 1};
    ferry_run *runs = NULL;
    size_t n = 0;
    ferry_err err;
    int64_t count = -1;

    ferry_err_clear(&err);
    if (c->opt->store->runs->run_list(c->opt->store, &f, &runs, &n, &err) == FERRY_OK && n > 0)
        count = runs[0].processed;
    ferry_runs_free(runs, n);
    return count;
}

/* Commits the store's own transaction, when the run opened one (target.database). */
static ferry_rc commit_store(run_ctx *c, ferry_err *err)
{
    if (!c->store_txn)
        return FERRY_OK;
    c->store_txn = false;
    return c->opt->store->runs->tx_commit(c->opt->store, err);
}

/* Whether a later step of sync reads the rows of step k's source. */
static bool source_shared(const ferry_sync_spec *sync, size_t k)
{
    for (size_t j = k + 1; j < sync->nsteps; j++)
        if (sync->steps[j].source_step == (long)k)
            return true;
    return false;
}

/* A step's error names the step, and marks it failed (a sync without steps: as it is). */
static ferry_rc step_error(run_ctx *c, ferry_rc rc, ferry_err *err)
{
    if (c->whole->nsteps == 0 || rc == FERRY_ECANCELLED)
        return rc;
    c->steps[c->step].status = "failed";
    ferry_err_prefix(err, "step %s", c->sync->name);
    return rc;
}

/* Whether step k of the run fetches only what changed since the watermark. */
static bool is_incremental(const run_ctx *c, size_t k)
{
    return c->incr[k].on && !c->incr[k].full;
}

static bool set_text(char **dst, const char *s)
{
    free(*dst);
    *dst = s != NULL ? strdup(s) : NULL;
    return s == NULL || *dst != NULL;
}

/* Decides whether step k's incremental source fetches everything (no watermark yet, --full,
 * or full_every since the last full run) or what changed since the watermark minus the
 * overlap; the run's mode and since say which. */
static ferry_rc plan_incremental(run_ctx *c, size_t k, ferry_err *err)
{
    const ferry_sync_spec *sync = ferry_sync_step(c->whole, k);
    const ferry_incremental_spec *inc = &sync->source.incremental;
    ferry_store *store = c->opt->store;
    incr_plan *p = &c->incr[k];
    char iso[FERRY_INSTANT_TEXT_MAX];
    bool any = false;
    ferry_rc rc;

    memset(p, 0, sizeof(*p));
    if (sync->source.kind != FERRY_SOURCE_REST || inc->cursor == NULL || sync->source_step >= 0)
        return FERRY_OK;
    p->on = true;
    rc = store->runs->watermark_get(store, c->whole->name, c->run.tenant, (int)k, &p->wm, err);
    if (rc == FERRY_ENOTFOUND)
        ferry_err_clear(err);
    else if (rc != FERRY_OK)
        return rc;
    p->had = rc == FERRY_OK;
    p->full =
        !p->had || c->run.full ||
        (inc->full_every_ms > 0 && ferry_time_now_ms() - p->wm.full_at_ms >= inc->full_every_ms);
    if (!p->full) {
        int64_t since_ms = p->wm.cursor_ms - inc->overlap_ms;
        ferry_instant_format(since_ms, inc->format == FERRY_SINCE_EPOCH, p->since);
        ferry_instant_format(since_ms, false, iso);
        if (c->run.since == NULL && !set_text(&c->run.since, iso))
            return ferry_err_set(err, FERRY_ENOMEM, "planning the run");
    }
    for (size_t j = 0; j <= k; j++)
        any = any || is_incremental(c, j);
    if (!set_text(&c->run.mode, any ? "incremental" : "full"))
        return ferry_err_set(err, FERRY_ENOMEM, "planning the run");
    return FERRY_OK;
}

/* Writes the watermark of each incremental step, inside the run's transaction, just before
 * the run's record: the highest cursor fetched (an incremental run never moves it back). A
 * step that fetched no record with a cursor keeps what it had. */
static ferry_rc keep_watermarks(run_ctx *c, ferry_err *err)
{
    ferry_store *store = c->opt->store;

    for (size_t k = 0; k < c->nsteps; k++) {
        const incr_plan *p = &c->incr[k];
        const ferry_source *src = c->sources[k];
        ferry_watermark wm = {0};
        ferry_rc rc;

        if (!p->on || src == NULL || src->cursor_count == 0)
            continue;
        wm.cursor_ms = src->cursor_max_ms;
        if (!p->full && p->had && p->wm.cursor_ms > wm.cursor_ms)
            wm.cursor_ms = p->wm.cursor_ms;
        wm.full_at_ms = p->full ? c->run.started_at_ms : 0;
        wm.run_id = c->run.id;
        rc = store->runs->watermark_put(store, c->whole->name, c->run.tenant, (int)k, &wm, err);
        if (rc != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

/* The sentence saying what an incremental sync's run fetched: "Mode: incremental since
 * 2026-12-06 09:00 UTC." or "Mode: full."; empty for other syncs. */
static void mode_sentence(const run_ctx *c, char *out, size_t outlen)
{
    out[0] = '\0';
    if (c->run.mode == NULL)
        return;
    if (strcmp(c->run.mode, "full") == 0 || c->run.since == NULL) {
        snprintf(out, outlen, "Mode: full.");
        return;
    }
    /* 2026-12-06T09:00:00Z -> 2026-12-06 09:00 (the seconds only when they are not 0) */
    snprintf(out, outlen, "Mode: incremental since %.10s %.*s UTC.", c->run.since,
             strncmp(c->run.since + 16, ":00", 3) == 0 ? 5 : 8, c->run.since + 11);
}

/* Opens step k's source and fetches what is remote. A step reading the rows of an earlier
 * step's source opens the same bytes again when its turn comes (begin_step()). */
static ferry_rc open_source(run_ctx *c, size_t k, ferry_err *err)
{
    const ferry_run_options *opt = c->opt;
    const ferry_sync_spec *sync = ferry_sync_step(c->whole, k);
    ferry_source_options so = {
        .base_dir = opt->config->dir,
        .tenant = c->run.tenant,
        .cancel = opt->cancel,
        .stop = &c->stop_reading,
        .estimate = sync->source.kind == FERRY_SOURCE_REST ? last_count(c) : -1,
        .shared = sync != c->whole && source_shared(c->whole, k),
        .on_wait = on_source_wait,
        .on_activity = on_source_activity,
        .ctx = c,
        .vault = &c->vault.vault,
    };
    ferry_rc rc;

    c->step = k;
    c->sync = sync;
    if (sync->source_step >= 0)
        return FERRY_OK;
    if ((rc = plan_incremental(c, k, err)) != FERRY_OK)
        return rc;
    so.since = is_incremental(c, k) ? c->incr[k].since : NULL;
    char snapshot[4096];
    if (c->approving) { /* what was reviewed, not what the source holds now */
        ferry_hold_snapshot_path(opt->config->data_dir, c->run.id, k, snapshot, sizeof(snapshot));
        so.replay = snapshot;
    }
    rc = ferry_source_open(sync, &so, &c->sources[k], err);
    c->source = c->sources[k];
    if (rc == FERRY_EEMPTY && sync->allow_empty) {
        ferry_err_clear(err);
        rc = FERRY_OK;
    }
    if (rc != FERRY_OK)
        return rc;
    if (c->source != NULL && c->source->ops->prefetch != NULL) {
        /* Everything remote is fetched before the target's write lock is taken, so other
         * clicks and runs never wait on a slow server. */
        set_phase(c, "fetching");
        c->fetch_share = c->nsteps == 1 ? 50 : 0;
        checkpoint(c, true);
        rc = c->source->ops->prefetch(c->source, on_fetch_progress, c, err);
        if (rc == FERRY_ECANCELLED && !cancelled(c)) {
            /* Stopped by on_fetch_progress: say why. */
            ferry_err_clear(err);
            if ((rc = check_timeout(c, err)) == FERRY_OK)
                rc = check_lease(c, err);
        }
        if (rc != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

/* Opens step k's target: its transaction, or the one the first step's target began on the
 * same connection (the store's: steps have no target.database). */
static ferry_rc begin_target(run_ctx *c, size_t k, ferry_err *err)
{
    const ferry_run_options *opt = c->opt;
    const ferry_sync_spec *sync = c->sync;
    ferry_rc rc;

    if (sync->target.database != NULL) /* the table lives in a database of its own */
        rc = ferry_target_open(sync->target.database, opt->config->dir, sync, c->run.tenant,
                               &c->targets[k], err);
    else
        rc = ferry_target_new_for_store(opt->store, sync, c->run.tenant, &c->targets[k], err);
    if (rc != FERRY_OK)
        return rc;
    c->target = c->targets[k];
    c->target->joined = k > 0;
    if ((rc = c->target->ops->begin(c->target, err)) != FERRY_OK)
        return rc;
    if (sync->target.database != NULL) {
        /* The change rows and the run's record then commit together, after the target. */
        if ((rc = opt->store->runs->tx_begin(opt->store, err)) != FERRY_OK)
            return rc;
        c->store_txn = true;
    }
    return FERRY_OK;
}

/* The guard's rules judged at a step's end: max_updated (of the rows the table had, as the
 * on_missing scan counted them, or else of the rows the records found) and guard.protect. */
static void hold_rules(run_ctx *c)
{
    const ferry_guard_spec *g = &c->whole->guard;
    int64_t updated = step_count(c, FERRY_OUTCOME_UPDATED);
    int64_t of = c->scope >= 0 ? c->scope : updated + step_count(c, FERRY_OUTCOME_UNCHANGED);

    (void)ferry_guard_hold_limit(&g->max_updated, FERRY_GUARD_UPDATED, updated, of, c->sync->noun,
                                 NULL, &c->hold);
    for (size_t i = 0; i < g->nprotect; i++) {
        if (c->protected_n[i] == 0)
            continue;
        ferry_guard_hold_protected(g->protect[i], c->protected_n[i], of, c->sync->noun, &c->hold);
        c->hold_admin = true;
    }
}

/* Executes step k (the whole sync without steps) up to its last change row: its writes wait
 * in the transaction for the other steps. */
static ferry_rc execute_step(run_ctx *c, size_t k, const char **ret_note, ferry_err *err)
{
    const ferry_sync_spec *sync = ferry_sync_step(c->whole, k);
    step_state *st = &c->steps[k];
    ferry_rc rc;

    c->step = k;
    c->sync = sync;
    st->status = "running";
    memcpy(c->base_counts, c->run.counts, sizeof(c->base_counts));
    c->base_processed = c->run.processed;
    c->keyless_failures = 0;
    c->key_has_lookup = false;
    c->key_field = sync->target.nkey > 0 ? ferry_sync_field_index(sync, sync->target.key[0]) : -1;
    c->first_failure[0] = '\0';
    memset(c->protected_n, 0, sizeof(c->protected_n));
    if (sync->source_step >= 0) {
        /* The rows of an earlier step's source, read again from what was fetched once. */
        ferry_source_options so = {.base_dir = c->opt->config->dir,
                                   .tenant = c->run.tenant,
                                   .cancel = c->opt->cancel,
                                   .stop = &c->stop_reading,
                                   .rows_of = c->sources[sync->source_step]};
        rc = ferry_source_open(sync, &so, &c->sources[k], err);
        if (rc == FERRY_EEMPTY && sync->allow_empty) {
            ferry_err_clear(err);
            rc = FERRY_OK;
        }
        if (rc != FERRY_OK)
            return rc;
    }
    c->source = c->sources[k];
    ferry_mapper_free(c->mapper);
    c->mapper = NULL;
    if ((rc = ferry_mapper_new(sync, c->run.tenant, &c->mapper, err)) != FERRY_OK)
        return rc;
    if ((rc = begin_target(c, k, err)) != FERRY_OK)
        return rc;
    ferry_lookups_free(c->lookups);
    c->lookups = NULL;
    if ((rc = ferry_lookups_load(sync, c->run.tenant, c->target, &c->lookups, err)) != FERRY_OK)
        return rc;
    for (size_t i = 0; i < sync->target.nkey; i++) {
        long f = ferry_sync_field_index(sync, sync->target.key[i]);
        if (f >= 0 && sync->fields[f].lookup.table != NULL)
            c->key_has_lookup = true;
    }
    set_phase(c, "applying");
    checkpoint(c, true);
    if (c->source != NULL && (rc = process_all(c, err)) != FERRY_OK)
        return rc;
    if ((rc = drain_target(c, err)) != FERRY_OK)
        return rc;
    if (cancelled(c)) /* before any other verdict: the user asked to stop */
        return ferry_err_set(err, FERRY_ECANCELLED, "the run was cancelled");
    int64_t processed = c->run.processed - c->base_processed;
    if (processed == 0 && !sync->allow_empty && !is_incremental(c, k))
        return ferry_err_set(err, FERRY_EEMPTY,
                             "the source has a header but no rows; if that can be right, set "
                             "allow_empty: true on the sync (on_missing is never applied to an "
                             "empty source)");
    if (!c->approving)
        (void)ferry_guard_hold_limit(
            &c->whole->guard.max_failed, FERRY_GUARD_FAILED, step_count(c, FERRY_OUTCOME_FAILED),
            processed, sync->noun, c->first_failure[0] != '\0' ? c->first_failure : NULL, &c->hold);
    c->scope = -1;
    if (sync->target.on_missing != FERRY_ON_MISSING_KEEP) {
        if (is_incremental(c, k))
            *ret_note = "on_missing was not applied: an incremental run fetches only the records "
                        "that changed.";
        else if (processed == 0)
            *ret_note = "on_missing was not applied: the source is empty.";
        else if (c->keyless_failures > 0)
            *ret_note = "on_missing was not applied: some records failed before their key could "
                        "be read, and their rows must not be removed.";
        else if ((rc = c->target->ops->finish(c->target, on_missing_check_cb, on_missing_cb, c,
                                              err)) != FERRY_OK)
            return rc;
    }
    if ((rc = flush_changes(c, err)) != FERRY_OK)
        return rc;
    if (!c->approving)
        hold_rules(c);
    if (c->nsteps > 1 && (rc = c->target->ops->release(c->target, err)) != FERRY_OK)
        return rc;
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
        st->counts[o] = step_count(c, (ferry_outcome)o);
    st->processed = processed;
    st->percent = 100;
    st->status = "done";
    ferry_run_format_summary(sync, st->counts, &st->skipped_by_label, st->summary,
                             sizeof(st->summary));
    set_percent(c, 100);
    return FERRY_OK;
}

/* Commits every step's target: the later ones let go of their statements, then the first
 * commits the transaction they share. */
static ferry_rc commit_targets(run_ctx *c, ferry_err *err)
{
    ferry_rc rc;

    for (size_t k = c->nsteps; k-- > 0;)
        if (c->targets[k] != NULL &&
            (rc = c->targets[k]->ops->commit(c->targets[k], err)) != FERRY_OK)
            return rc;
    return FERRY_OK;
}

/* Rolls every begun target back, the later ones first (see commit_targets()). */
static void rollback_targets(run_ctx *c)
{
    for (size_t k = c->nsteps; k-- > 0;)
        if (c->targets[k] != NULL)
            c->targets[k]->ops->rollback(c->targets[k]);
}

/* An approved run's change set against the one reviewed, read back from its transaction:
 * a different one (the target changed since) holds the run again, saying so. */
static ferry_rc compare_reviewed(run_ctx *c, ferry_err *err)
{
    const char *reviewed = c->opt->run->change_digest;
    char now[FERRY_CHANGE_DIGEST_HEX];
    int64_t rows;
    ferry_rc rc;

    if ((rc = clear_reviewed(c, err)) != FERRY_OK ||
        (rc = ferry_hold_changes_save(c->opt->store, c->run.id, NULL, now, &rows, err)) != FERRY_OK)
        return rc;
    if (reviewed != NULL && strcmp(reviewed, now) == 0)
        return FERRY_OK;
    const ferry_run *was = c->opt->run;
    int64_t then = was->counts[FERRY_OUTCOME_CREATED] + was->counts[FERRY_OUTCOME_UPDATED] +
                   was->counts[FERRY_OUTCOME_SKIPPED] + was->counts[FERRY_OUTCOME_FAILED] +
                   was->counts[FERRY_OUTCOME_DELETED] +
                   ferry_label_counts_total(&was->skipped_by_label);
    ferry_buf_printf(&c->hold,
                     "the target changed since the review: applied now, its changes differ from "
                     "the ones reviewed (%lld now, %lld then); review them again",
                     (long long)rows, (long long)then);
    c->hold_admin = c->opt->run->held_admin;
    return FERRY_OK;
}

/* Keeps what the run read (each step's own source) in the data folder, for its approval. */
static ferry_rc keep_snapshots(run_ctx *c, ferry_err *err)
{
    const char *dir = c->opt->config->data_dir;
    int64_t left = (int64_t)c->opt->config->held_max_bytes;
    char path[4096];
    ferry_rc rc;

    if ((rc = ferry_hold_snapshot_mkdir(dir, c->run.id, err)) != FERRY_OK)
        return rc;
    for (size_t k = 0; k < c->nsteps; k++) {
        struct stat st;
        if (c->sources[k] == NULL || ferry_sync_step(c->whole, k)->source_step >= 0)
            continue;
        ferry_hold_snapshot_path(dir, c->run.id, k, path, sizeof(path));
        rc = ferry_source_snapshot(c->sources[k], path, left > 0 ? left : 1, err);
        if (rc == FERRY_OK && stat(path, &st) == 0)
            left -= (int64_t)st.st_size;
        if (rc != FERRY_OK) {
            ferry_hold_snapshot_remove(dir, c->run.id);
            return rc;
        }
    }
    return FERRY_OK;
}

/* Ends the run held: its change rows are kept (saved, the transaction rolled back, written
 * again with the run's end in a transaction of their own), its writes are not; what its
 * sources read is kept for the approval (an approval held again keeps the snapshots it
 * applied). */
static ferry_rc hold_run(run_ctx *c, ferry_err *err)
{
    const ferry_run_options *opt = c->opt;
    ferry_store *st = opt->store;
    char digest[FERRY_CHANGE_DIGEST_HEX];
    int64_t rows;
    FILE *saved = NULL;
    ferry_rc rc;

    if (!c->approving && (rc = keep_snapshots(c, err)) != FERRY_OK) {
        char why[FERRY_ERR_MSG_MAX];
        snprintf(why, sizeof(why), "%s", err->msg);
        return ferry_err_set(err, rc,
                             "the run would be held for review (%.300s), but what it read could "
                             "not be kept for the approval: %s",
                             ferry_buf_str(&c->hold), why);
    }
    if ((rc = clear_reviewed(c, err)) != FERRY_OK ||
        (rc = ferry_hold_changes_save(st, c->run.id, &saved, digest, &rows, err)) != FERRY_OK)
        return rc;
    rollback_targets(c);
    if (c->store_txn) {
        st->runs->tx_rollback(st);
        c->store_txn = false;
    }
    c->run.held_admin = c->hold_admin;
    free(c->run.held_reason);
    free(c->run.change_digest);
    c->run.held_reason = strdup(ferry_buf_str(&c->hold));
    c->run.change_digest = strdup(digest);
    c->run.held_until_ms = ferry_time_now_ms() + c->whole->guard.hold_for_ms;
    if (c->run.held_reason == NULL || c->run.change_digest == NULL) {
        fclose(saved);
        return ferry_err_set(err, FERRY_ENOMEM, "holding the run");
    }
    if ((rc = st->runs->tx_begin(st, err)) == FERRY_OK) {
        c->store_txn = true;
        if ((rc = st->runs->changes_clear(st, c->run.id, err)) == FERRY_OK &&
            (rc = ferry_hold_changes_restore(st, c->run.id, saved, err)) == FERRY_OK &&
            (rc = st->runs->run_finish(st, &c->run, err)) == FERRY_OK)
            rc = commit_store(c, err);
    }
    fclose(saved);
    if (rc != FERRY_OK) { /* the caller rolls back and records the failure, not held */
        c->run.status = FERRY_RUN_RUNNING;
        c->run.held_admin = false;
        c->run.held_until_ms = 0;
        free(c->run.held_reason);
        free(c->run.change_digest);
        c->run.held_reason = c->run.change_digest = NULL;
    }
    return rc;
}

static ferry_rc execute(run_ctx *c, ferry_err *err)
{
    const ferry_run_options *opt = c->opt;
    const char *note = NULL;
    char summary[FERRY_STEPS_MAX * (STEP_SUMMARY_MAX + 1) + 64], mode[64];
    ferry_rc rc;

    set_phase(c, "connecting");
    checkpoint(c, true);
    for (size_t k = 0; k < c->nsteps; k++)
        if ((rc = open_source(c, k, err)) != FERRY_OK)
            return step_error(c, rc, err);
    /* Every REST source was fetched whole: its record count is known before the apply. */
    bool fetched_whole = true;
    for (size_t k = 0; k < c->nsteps; k++)
        if (own_source(c, k) && strcmp(c->sources[k]->kind, "rest") != 0)
            fetched_whole = false;
    count_source(c, fetched_whole);
    if (c->fetch_share > 0 && c->run.percent < 50)
        set_percent(c, 50);
    for (size_t k = 0; k < c->nsteps; k++)
        if ((rc = execute_step(c, k, &note, err)) != FERRY_OK)
            return step_error(c, rc, err);
    set_phase(c, "committing");
    checkpoint(c, true);
    if (c->approving && (rc = compare_reviewed(c, err)) != FERRY_OK) /* as reviewed, or held */
        return rc;
    bool hold = !c->run.dry_run && (c->hold.len > 0 || (c->run.preview && !c->approving));
    if (hold && c->hold.len == 0)
        ferry_buf_printf(&c->hold, "a preview: nothing is applied until it is approved");
    fill_end(c, hold ? FERRY_RUN_HELD : FERRY_RUN_SUCCEEDED);
    summary[0] = '\0';
    for (size_t k = 0; k < c->nsteps; k++) /* one sentence per step, joined by a space */
        snprintf(summary + strlen(summary), sizeof(summary) - strlen(summary), "%s%s", k ? " " : "",
                 c->steps[k].summary);
    mode_sentence(c, mode, sizeof(mode));
    if (mode[0] != '\0')
        snprintf(summary + strlen(summary), sizeof(summary) - strlen(summary), " %s", mode);
    refresh_steps(c);
    char said[sizeof(summary) + 2048];
    if (c->run.dry_run && c->hold.len > 0)
        snprintf(said, sizeof(said),
                 "Dry run, nothing was changed. A real run would be held: %s. %s",
                 ferry_buf_str(&c->hold), summary);
    else if (c->run.dry_run)
        snprintf(said, sizeof(said), "Dry run, nothing was changed. %s", summary);
    else if (hold)
        snprintf(said, sizeof(said), "Held for review: %s. Nothing was changed yet. %s",
                 ferry_buf_str(&c->hold), summary);
    else
        snprintf(said, sizeof(said), "%s", summary);
    c->run.ui_message = strdup(said);
    c->run.log_message = build_log_message(c, c->run.ui_message, note);
    if (c->run.ui_message == NULL || c->run.log_message == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "building the run's messages");
    if (c->run.dry_run) {
        rollback_targets(c);
        if ((rc = opt->store->runs->run_finish(opt->store, &c->run, err)) != FERRY_OK)
            return rc;
        return commit_store(c, err);
    }
    if (hold)
        return hold_run(c, err);
    if ((rc = keep_watermarks(c, err)) != FERRY_OK || (rc = clear_reviewed(c, err)) != FERRY_OK)
        return rc;
    if ((rc = opt->store->runs->run_finish(opt->store, &c->run, err)) != FERRY_OK)
        return rc;
    if ((rc = commit_targets(c, err)) != FERRY_OK)
        return rc;
    /* With target.database, the data is in by now; should this commit fail, the run is
     * recorded as failed although its rows landed, and the next run finds them unchanged. */
    if ((rc = commit_store(c, err)) != FERRY_OK)
        return rc;
    if (c->approving)
        ferry_hold_snapshot_remove(opt->config->data_dir, c->run.id);
    return FERRY_OK;
}

/* Waits before retry number n: 0.5 s doubling up to 30 s, with up to 25% random jitter so
 * many runs failing together do not retry together. False when cancelled meanwhile. */
static bool backoff(run_ctx *c, int n)
{
    unsigned seed = (unsigned)(ferry_time_mono_ms() ^ (c->run.id << 8));
    int64_t wait = ferry_backoff_ms(500, 30000, n, &seed);

    set_phase(c, "retrying");
    checkpoint(c, true);
    for (int64_t slept = 0; slept < wait; slept += 100) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        if (cancelled(c))
            return false;
        nanosleep(&ts, NULL);
    }
    c->retries_done = n;
    return true;
}

/* Forgets everything a failed attempt did, so the run can start over. */
static void free_steps(run_ctx *c)
{
    for (size_t k = c->nsteps; k-- > 0;) {
        ferry_target_free(c->targets[k]);
        ferry_source_close(c->sources[k]);
        c->targets[k] = NULL;
        c->sources[k] = NULL;
    }
    ferry_lookups_free(c->lookups);
    ferry_mapper_free(c->mapper);
    c->lookups = NULL;
    c->target = NULL;
    c->mapper = NULL;
    c->source = NULL;
}

static void reset_for_retry(run_ctx *c)
{
    free_steps(c);
    for (size_t k = 0; k < c->nsteps; k++) {
        ferry_label_counts labels = c->steps[k].skipped_by_label; /* kept: zeroed below */
        memset(&c->steps[k], 0, sizeof(c->steps[k]));
        c->steps[k].skipped_by_label = labels;
        c->steps[k].status = "pending";
    }
    c->step = 0;
    c->sync = ferry_sync_step(c->whole, 0);
    c->fetch_share = 0;
    zero_counts(c);
    c->run.processed = 0;
    c->run.fetched = c->run.source_bytes = 0; /* the next attempt reads the source again */
    c->run.source_records = -1;
    c->fetch_done = c->fetch_total = 0;
    c->seq = 0;
    c->keyless_failures = 0;
    c->first_failure[0] = '\0';
    c->reviewed_cleared = false;
    ferry_buf_reset(&c->hold);
    c->hold_admin = false;
    c->pending = c->pending_total = c->settled_total = 0;
    c->target_dirty = c->draining = false;
    c->queue.n = c->queue.head = 0;
    ferry_buf_reset(&c->queue.arena);
    c->names.n = c->names.head = 0;
    ferry_buf_reset(&c->names.arena);
    c->batch.n = 0;
    ferry_buf_reset(&c->batch.arena);
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++) {
        ferry_buf_reset(&c->section[o]);
        c->shown[o] = 0;
    }
}

/* Writes the run's end with write(), trying again while the database fails and
 * opt->record_retry allows (see run.h). */
static ferry_rc record_with_retry(run_ctx *c, ferry_rc (*write)(run_ctx *c, ferry_err *err),
                                  ferry_err *err)
{
    const ferry_run_options *opt = c->opt;
    ferry_rc rc;

    for (int tries = 1;; tries++) {
        rc = write(c, err);
        if (rc != FERRY_EDB || opt->record_retry == NULL ||
            !opt->record_retry(opt->record_retry_ctx, tries))
            return rc;
        ferry_err_clear(err);
    }
}

static ferry_rc write_end(run_ctx *c, ferry_err *err)
{
    return c->opt->store->runs->run_finish(c->opt->store, &c->run, err);
}

static ferry_rc write_requeue(run_ctx *c, ferry_err *err)
{
    return c->opt->store->runs->run_requeue(c->opt->store, c->run.id, err);
}

/* Gives a cancelled run back to the queue (opt->requeue): it rolled back, and the next
 * server to claim it starts it from the beginning, as the same attempt. */
static ferry_rc requeue(run_ctx *c, ferry_err *err)
{
    ferry_rc rc = record_with_retry(c, write_requeue, err);

    if (rc != FERRY_OK)
        return rc;
    c->run.status = FERRY_RUN_QUEUED;
    c->run.started_at_ms = c->run.finished_at_ms = c->run.duration_ms = 0;
    c->run.percent = 0;
    c->run.processed = 0;
    zero_counts(c);
    free(c->run.steps); /* a queued run has not begun any step */
    c->run.steps = NULL;
    set_phase(c, "queued");
    return FERRY_OK;
}

/* After a run that wrote many rows, the store's write-ahead log is checkpointed and truncated
 * (SQLite: it would stay as large as the run's writes; a busy database is left alone), or
 * when it grew past FERRY_WAL_CHECKPOINT_BYTES anyway. */
static void checkpoint_wal(run_ctx *c)
{
    ferry_store *st = c->opt->store;
    int64_t wrote = 0;
    ferry_err err;
    bool done;

    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
        if (o != FERRY_OUTCOME_UNCHANGED)
            wrote += c->run.counts[o];
    ferry_err_clear(&err);
    (void)st->prune->checkpoint(st, !c->run.dry_run && wrote > FERRY_WAL_CHECKPOINT_ROWS, &done,
                                &err);
}

ferry_rc ferry_sync_run(const ferry_run_options *opt, ferry_run *ret_run, ferry_err *err)
{
    run_ctx c;
    ferry_err cause;
    ferry_rc rc;

    memset(&c, 0, sizeof(c));
    atomic_init(&c.stop_reading, false);
    c.opt = opt;
    c.whole = c.sync = opt->sync;
    ferry_sync_vault_init(&c.vault, opt->config, opt->store);
    c.nsteps = ferry_sync_step_count(opt->sync);
    for (size_t k = 0; k < c.nsteps; k++)
        c.steps[k].status = "pending";
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
        ferry_buf_init(&c.section[o], LOG_SECTION_MAX);
    /* Per batch: at most CHANGE_BATCH reasons and diffs of bounded size. */
    ferry_buf_init(&c.batch.arena, 256 * 1024 * 1024);
    c.batch.items = calloc(CHANGE_BATCH, sizeof(*c.batch.items));
    c.batch.key = calloc(CHANGE_BATCH, sizeof(*c.batch.key));
    c.batch.reason = calloc(CHANGE_BATCH, sizeof(*c.batch.reason));
    c.batch.diff = calloc(CHANGE_BATCH, sizeof(*c.batch.diff));
    c.batch.link = calloc(CHANGE_BATCH, sizeof(*c.batch.link));
    c.batch.values = calloc(CHANGE_BATCH, sizeof(*c.batch.values));
    ferry_buf_init(&c.batch.cell, 64 * 1024);
    c.batch.label = calloc(CHANGE_BATCH, sizeof(*c.batch.label));
    /* Past QUEUE_BYTES the run drains; one more record's strings always fit. */
    ferry_buf_init(&c.queue.arena, 2 * QUEUE_BYTES);
    /* The names of the records a target holds between drains (a batch of the target's). */
    ferry_buf_init(&c.names.arena, NAMES_BYTES);
    ferry_buf_init(&c.name, FERRY_RECORD_LABEL_MAX + 1);
    const ferry_run *run = opt->run;
    c.run.id = run->id;
    c.run.sync = strdup(opt->sync->name);
    c.run.trigger = strdup(run->trigger != NULL ? run->trigger : "cli");
    c.run.user = run->user != NULL ? strdup(run->user) : NULL;
    c.run.tenant = run->tenant != NULL ? strdup(run->tenant) : NULL;
    c.run.token = run->token != NULL ? strdup(run->token) : NULL;
    c.run.status = FERRY_RUN_RUNNING;
    c.run.total = -1;
    c.run.source_records = -1;
    c.activity = malloc(sizeof(*c.activity));
    if (c.activity != NULL)
        ferry_activity_log_init(c.activity);
    c.run.dry_run = run->dry_run;
    c.run.preview = run->preview;
    c.approving = run->decision != NULL && strcmp(run->decision, "approved") == 0;
    if (c.approving) {
        c.run.decision = strdup(run->decision);
        c.run.decided_by = run->decided_by != NULL ? strdup(run->decided_by) : NULL;
        c.run.decision_comment =
            run->decision_comment != NULL ? strdup(run->decision_comment) : NULL;
        c.run.decided_at_ms = run->decided_at_ms;
        /* Why it was held stays with it once applied; a hold again replaces it. */
        c.run.held_reason = run->held_reason != NULL ? strdup(run->held_reason) : NULL;
        c.run.change_digest = run->change_digest != NULL ? strdup(run->change_digest) : NULL;
        c.run.held_admin = run->held_admin;
        c.run.held_until_ms = run->held_until_ms;
    }
    ferry_buf_init(&c.hold, 16 * 1024);
    c.run.allow_missing = run->allow_missing;
    c.run.full = run->full;
    c.run.attempt = run->attempt > 0 ? run->attempt : 1;
    c.run.retry_of = run->retry_of;
    c.run.queued_at_ms = run->queued_at_ms;
    c.run.started_at_ms = run->started_at_ms > 0 ? run->started_at_ms : ferry_time_now_ms();
    c.started_mono = ferry_time_mono_ms();
    c.last_heartbeat_mono = c.started_mono;
    set_phase(&c, "queued");
    if (c.run.sync == NULL || c.run.trigger == NULL || !init_labels(&c) ||
        (run->tenant != NULL && c.run.tenant == NULL) || c.batch.items == NULL ||
        c.batch.key == NULL || c.batch.reason == NULL || c.batch.diff == NULL ||
        c.batch.link == NULL || c.batch.label == NULL || c.batch.values == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "allocating the run");
        goto out;
    }
    for (int tries = 0;; tries++) {
        ferry_err_clear(&cause);
        rc = execute(&c, &cause);
        if (rc == FERRY_OK)
            break;
        rollback_targets(&c);
        if (c.store_txn) {
            opt->store->runs->tx_rollback(opt->store);
            c.store_txn = false;
        }
        if (!cause.transient || tries >= c.whole->retries || cancelled(&c))
            break;
        char why[FERRY_ERR_MSG_MAX + 32];
        snprintf(why, sizeof(why), "attempt %d failed: %s", tries + 1, cause.msg);
        note(&c, "retry", why);
        if (!backoff(&c, tries + 1))
            break;
        reset_for_retry(&c);
    }
    if (rc != FERRY_OK && cause.code == FERRY_ECANCELLED && opt->requeue != NULL &&
        atomic_load(opt->requeue)) {
        rc = requeue(&c, err);
    } else if (rc != FERRY_OK) {
        fill_failure(&c, &cause);
        rc = record_with_retry(&c, write_end, err);
        if (c.approving) /* the approved run failed: what it was to apply goes with it */
            ferry_hold_snapshot_remove(opt->config->data_dir, c.run.id);
    }
    report_progress(&c, true);
    checkpoint_wal(&c);

out:
    free_steps(&c);
    for (size_t k = 0; k < c.nsteps; k++)
        ferry_label_counts_done(&c.steps[k].skipped_by_label);
    for (int o = 0; o < FERRY_OUTCOME_COUNT; o++)
        ferry_buf_done(&c.section[o]);
    ferry_buf_done(&c.batch.arena);
    ferry_buf_done(&c.queue.arena);
    ferry_buf_done(&c.names.arena);
    ferry_buf_done(&c.name);
    ferry_buf_done(&c.hold);
    free(c.names.off);
    free(c.queue.items);
    free(c.batch.items);
    free(c.batch.key);
    free(c.batch.reason);
    free(c.batch.diff);
    free(c.batch.link);
    free(c.batch.values);
    ferry_buf_done(&c.batch.cell);
    free(c.batch.label);
    free(c.activity);
    c.run.phase = NULL; /* points into c.phase */
    if (rc != FERRY_OK) {
        ferry_run_done(&c.run);
        return rc;
    }
    c.run.phase = strdup(c.run.status == FERRY_RUN_QUEUED ? "queued" : "done");
    *ret_run = c.run;
    return FERRY_OK;
}
