/* revert.h - reverting a succeeded run (docs/sync.md, "Reverting a run").
 *
 * A revert is a new run of the same sync and tenant (trigger "revert", reverts naming the
 * run) that undoes the run's change rows, the last first (so a sync's steps in reverse
 * order), in one transaction on the store's connection: a created row is deleted, an
 * updated row's diffed fields get their old values back, a deleted row is inserted again
 * from its row_values, a flagged row gets its flag column's old value back. A record that is
 * no longer as the run left it is a conflict, left alone and listed (unless forced). The
 * revert's own change rows say what it did, so a revert can be reverted.
 *
 * Runs on the caller's thread, which holds the store. */
#ifndef FERRY_SYNC_REVERT_H
#define FERRY_SYNC_REVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "util/err.h"

typedef struct {
    ferry_store *store;         /* borrowed */
    const ferry_config *config; /* borrowed: the run's sync is looked up in it */
    int64_t run_id;             /* the run to revert */
    bool force;                 /* revert conflicts too; skip deleted rows without values */
    const char *comment;        /* why, or NULL */
    const char *user;           /* who asks (the run's user), or NULL */
    const char *token;          /* the API token's label, or NULL */
    const char *actor;          /* the audit log's actor ("cli", a user name) */
    const char *client;         /* the client's address for the audit log, or NULL */
} ferry_revert_options;

/* Reverts run opt->run_id. Refusals change nothing and record no run: FERRY_ENOTFOUND when
 * there is no such run; FERRY_EINVAL when it did not succeed (failed, cancelled,
 * interrupted, or still queued or running), was a dry run, its sync is not in the config or
 * writes into a database of its own, a run of the sync is queued or running, or (without
 * force) it deleted rows before Ferry kept their values. Otherwise the revert run is
 * recorded, executed and audited ("run.revert"), and *ret_run (owned by the caller,
 * ferry_run_done()) is its final record: succeeded, or failed with the reason (everything
 * rolled back); FERRY_OK either way. */
ferry_rc ferry_sync_revert(const ferry_revert_options *opt, ferry_run *ret_run, ferry_err *err);

/* Whether two texts of a column's value are the same value: equal text, both empty or NULL,
 * the same boolean (1/t/true, 0/f/false) or the same number. Pure. */
bool ferry_revert_values_same(const char *a, const char *b);

/* The revert's message: "Reverted run 12: 3 deleted, 2 restored, 1 re-inserted, 1 conflict
 * left alone." (conflicts reverted by force: ", 2 conflicts forced"), into out. Pure. */
void ferry_revert_message(int64_t run_id, int64_t deleted, int64_t restored, int64_t reinserted,
                          int64_t left, int64_t forced, char *out, size_t outlen);

#endif
