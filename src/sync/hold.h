/* hold.h - what a held run keeps (docs/review.md): the digest of its change set, its change
 * rows across the rollback that undoes its writes, and the snapshots of its sources.
 *
 * A run the guard holds (sync/guard.h) or that was asked for as a preview has written its
 * change rows in the same transaction as the target's rows. To keep the one and not the
 * other, the rows are copied to an unlinked temporary file, the transaction is rolled back,
 * and they are written again in a transaction of their own with the run's end (status held).
 * What each source read is kept in Ferry's data folder (data_dir/held/RUN/step-K) until the
 * run is decided; approving it runs the sync again on those snapshots, and applies it only
 * when the change set's digest is the one reviewed.
 *
 * The run's thread. */
#ifndef FERRY_SYNC_HOLD_H
#define FERRY_SYNC_HOLD_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"
#include "util/err.h"

/* The digest of a change set: each change row (outcome, key, row, reason, diff, step, a deleted
 * row's values), in sequence order, through BLAKE2b. */
typedef struct {
    crypto_generichash_state state;
    int64_t rows;
} ferry_change_digest;

#define FERRY_CHANGE_DIGEST_HEX 65 /* 32 bytes as hex, and the NUL */

void ferry_change_digest_init(ferry_change_digest *d);
void ferry_change_digest_add(ferry_change_digest *d, const ferry_change *change);
/* Writes the digest as hex into out; d is spent. */
void ferry_change_digest_final(ferry_change_digest *d, char out[FERRY_CHANGE_DIGEST_HEX]);

/* Reads the change rows of run_id (inside the run's transaction) in sequence order, in
 * pages, into the digest (hex, and *ret_rows, the rows digested) and, unless ret is NULL,
 * into a new unlinked temporary file, *ret (fclose() it), read back by
 * ferry_hold_changes_restore(). Only a run that is held or approved reads them back: a plain
 * run pays nothing. */
ferry_rc ferry_hold_changes_save(ferry_store *st, int64_t run_id, FILE **ret,
                                 char digest[FERRY_CHANGE_DIGEST_HEX], int64_t *ret_rows,
                                 ferry_err *err);

/* Writes the change rows saved in f as run_id's through st->runs->changes_add, in batches. */
ferry_rc ferry_hold_changes_restore(ferry_store *st, int64_t run_id, FILE *f, ferry_err *err);

/* The folder of run_id's snapshots (data_dir/held/RUN) and the file of step's. */
void ferry_hold_snapshot_dir(const char *data_dir, int64_t run_id, char *out, size_t outlen);
void ferry_hold_snapshot_path(const char *data_dir, int64_t run_id, size_t step, char *out,
                              size_t outlen);

/* Makes run_id's snapshot folder (and data_dir/held), mode 0700; an old one is emptied. */
ferry_rc ferry_hold_snapshot_mkdir(const char *data_dir, int64_t run_id, ferry_err *err);

/* Whether run_id's snapshot folder is there. */
bool ferry_hold_snapshot_exists(const char *data_dir, int64_t run_id);

/* Removes run_id's snapshots and their folder (nothing when there are none). */
void ferry_hold_snapshot_remove(const char *data_dir, int64_t run_id);

#endif
