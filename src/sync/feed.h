/* feed.h - a run's records, read and mapped ahead of the apply.
 *
 * Reading a CSV file and mapping its records (parse, trim, types, skip rules) costs about as
 * much CPU as the target's writes. A threaded feed does the reading and mapping on a thread of
 * its own, a batch at a time, while the run applies the batch before; so a run uses two cores.
 * The run sees the same sequence either way: every record in source order, exactly as the
 * mapper made it, and a source's end or error at its place, after every record before it.
 *
 * Only a source whose next() touches nothing but its own state may be read on another thread:
 * a CSV source (after its prefetch, its input is a local file descriptor). A REST source's
 * next() calls back into the run (rate-limit waits, progress), so its feed is inline: next()
 * reads and maps on the caller's thread, as a plain loop would.
 *
 * Memory: at most FEED_SLOTS batches of FEED_BATCH records (or of about FEED_BATCH_BYTES of
 * values each, whichever fills first), whatever the input's size.
 *
 * Stopping: ferry_feed_free() stops the reader and waits for it. A reader blocked on a slow
 * input (a pipe) notices through the source's stop flag (ferry_source_options.stop), which the
 * caller passes to ferry_feed_start() too: the feed sets it on free. The reader blocks every
 * signal, so a signal meant for the process (Ctrl-C) reaches the run's thread as before. */
#ifndef FERRY_SYNC_FEED_H
#define FERRY_SYNC_FEED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "source/source.h"
#include "sync/map.h"
#include "target/record.h"
#include "util/err.h"

typedef struct ferry_feed ferry_feed;

/* Starts a feed of src's records through mapper, both borrowed until ferry_feed_free() (which
 * must come before either is freed); nvalues is the sync's field count. threaded: read on a
 * thread of its own (see above). stop (may be NULL; borrowed) is the flag the source was
 * opened with as its stop flag: the feed sets it when it is freed. */
ferry_rc ferry_feed_start(ferry_source *src, ferry_mapper *mapper, size_t nvalues, bool threaded,
                          atomic_bool *stop, ferry_feed **ret_feed, ferry_err *err);

/* The next mapped record: FERRY_OK with *ret_result and *ret_rec set (borrowed until the next
 * call), FERRY_DONE after the last one, or the source's or mapper's error (after which the feed
 * gives nothing more). */
ferry_rc ferry_feed_next(ferry_feed *f, ferry_map_result *ret_result, ferry_mapped_record *ret_rec,
                         ferry_err *err);

/* The source's progress (ferry_source_progress) as of the last record next() gave. */
void ferry_feed_progress(ferry_feed *f, uint64_t *ret_done, uint64_t *ret_total);

/* Stops the reader, waits for it and frees the feed; NULL is allowed. */
void ferry_feed_free(ferry_feed *f);

#endif
