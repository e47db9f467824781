/* internal.h - what the store implementations share (not for use outside src/store).
 *
 * store.c holds the parts of the store that do not depend on the database: which lease
 * owners are dead processes of this host, the rule and the words for a run whose process
 * stopped, and the tally of failure reasons behind sync_stats. The SQLite and PostgreSQL
 * files both use them, so the two stores answer alike. */
#ifndef FERRY_STORE_INTERNAL_H
#define FERRY_STORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/buf.h"

/* True when owner ("HOST:PID", a run's lease owner) names a process of this host that no
 * longer exists; *ret_pid (may be NULL) gets its pid. A lease of another host cannot be
 * checked this way (that is what the heartbeat is for). */
bool ferry_store_owner_is_dead(const char *owner, long *ret_pid);

/* The rule for a run whose process stopped (store.h, ferry_recovery), written once for both
 * backends: attempt N is followed by attempt N + 1 while N <= the sync's retries, else the
 * run ends as failed. A revert (trigger "revert") has no retries. */
typedef struct {
    int retries; /* the sync's retries (0 without rec) */
    bool again;  /* a next attempt is queued: the run ends as "interrupted", else "failed" */
} ferry_store_interruption;

/* Decides, by rec (may be NULL), what becomes of run, whose process stopped. */
void ferry_store_interruption_decide(const ferry_recovery *rec, const ferry_run *run,
                                     ferry_store_interruption *ret);

/* The status run ends with: "interrupted" or "failed". */
const char *ferry_store_interruption_status(const ferry_store_interruption *in);

/* The run's error (why: cause, "its transaction was rolled back...", then what follows:
 * queued again as run next_id, or, when next_id is 0, not started again) and its message
 * for people (ui: "Sync of S was interrupted: why." or "Sync of S failed: why."). */
void ferry_store_interruption_messages(const ferry_store_interruption *in, const ferry_run *run,
                                       const char *cause, int64_t next_id, char *why, size_t whylen,
                                       char *ui, size_t uilen);

/* The error and the message for people of the active run of sync that run_start found
 * left by process pid of this host, which no longer exists. */
void ferry_store_stale_messages(const char *sync, long pid, char *why, size_t whylen, char *ui,
                                size_t uilen);

/* The cause of a run's interruption, naming its owner (may be NULL): with lease_ms 0 its
 * process ended; else it sent no heartbeat for lease_ms. */
void ferry_store_interruption_cause(const char *owner, int64_t lease_ms, char *out, size_t outlen);

/* Calls rec->on_interrupted (when there is one) with runs id and next_id (0: none) as st
 * now holds them. */
void ferry_store_announce_interrupted(ferry_store *st, const ferry_recovery *rec, int64_t id,
                                      int64_t next_id);

/* Writes the audit entry of run id's interruption (detail: what happened and what follows),
 * through st's own audit_add. */
ferry_rc ferry_store_audit_interrupted(ferry_store *st, int64_t id, const char *detail,
                                       ferry_err *err);

/* The refusal of a decision on run id that is not held (run_decide changed nothing):
 * FERRY_ENOTFOUND "there is no run 12", or FERRY_ECONFLICT "run 12 is succeeded, not held:
 * ...". */
ferry_rc ferry_store_not_held(ferry_store *st, int64_t id, ferry_err *err);

/* Counts failure reasons with "row N: " and quoted values left out, keeping the first 64
 * distinct ones. Zero-initialise; ferry_store_tally_take() empties it. */
#define FERRY_STORE_TALLY_MAX 64
typedef struct {
    char *seen[FERRY_STORE_TALLY_MAX];
    int64_t count[FERRY_STORE_TALLY_MAX];
    size_t n;
} ferry_store_tally;

/* Counts reason (borrowed). */
void ferry_store_tally_add(ferry_store_tally *t, const char *reason);

/* Moves the most common reasons (at most FERRY_STATS_REASONS) into out and frees the rest. */
void ferry_store_tally_take(ferry_store_tally *t, ferry_sync_stats *out);

/* The rules for a credential, written once for both stores. A token is refused when it is
 * revoked or its user disabled (FERRY_ENOTFOUND, err set), else FERRY_OK with *ret_touch true
 * when its last use is worth recording now (at most once a minute). */
ferry_rc ferry_store_token_check(const ferry_principal *p, bool revoked, bool disabled, int64_t now,
                                 bool *ret_touch, ferry_err *err);

/* A session is over when its user is disabled, it had no request for more than idle_ms or is
 * older than max_ms (FERRY_ENOTFOUND, err set: the caller ends it), else FERRY_OK with
 * *ret_touch true when its last request is worth recording now (at most once a minute, and
 * at least four times per idle period, so a request restarts the idle clock to within a
 * quarter of it however short it is). */
ferry_rc ferry_store_session_check(const ferry_principal *p, bool disabled, int64_t now,
                                   int64_t idle_ms, int64_t max_ms, bool *ret_touch,
                                   ferry_err *err);

/* The deliveries st's planner (ferry_store_planner_set()) owes run as it ends, into out
 * (FERRY_DELIVERY_PLAN_MAX items); 0 without a planner. */
size_t ferry_store_plan(ferry_store *st, const ferry_run *run, ferry_delivery_plan *out);

/* A new delivery id, "dlv_" and 24 random hex digits, NUL-terminated. */
#define FERRY_DELIVERY_ID_SIZE 29
void ferry_store_delivery_id(char out[FERRY_DELIVERY_ID_SIZE]);

/* Counts count deliveries of status (a status name) of run run_id into sums[i], where
 * run_ids[i] is run_id (a run not among run_ids[0..n) is left out). */
void ferry_store_summary_add(const int64_t *run_ids, size_t n, ferry_delivery_summary *sums,
                             int64_t run_id, const char *status, int64_t count);

/* Sets *ret (initialised here; the caller's, ferry_buf_done()) to the n ids as an array
 * literal: "[1,2,3]" with open '[' (SQLite's json_each), "{1,2,3}" with '{' (PostgreSQL). */
ferry_rc ferry_store_id_array(const int64_t *ids, size_t n, char open, char close, ferry_buf *ret,
                              ferry_err *err);

/* A new attempt, zeroed, at the end of the tries of the delivery of d[0..n) whose id is id:
 * NULL when there is none (*ret_oom false) or memory ran out (*ret_oom true). */
ferry_delivery_attempt *ferry_store_attempt_add(ferry_delivery *d, size_t n, const char *id,
                                                bool *ret_oom);

/* The JSON payload of a pg_channel notification for run: {"run_id":N,"sync":"NAME"}. */
void ferry_store_channel_payload(const ferry_run *run, char *out, size_t outlen);

/* The refusal of a second active run of a sync and tenant: (sync, " for tenant ", tenant). */
#define FERRY_STORE_ACTIVE_FMT                                                                     \
    "a run of '%s'%s%s is already queued, running or held for review (a held run waits for "       \
    "ferry approve RUN or ferry reject RUN)"

#endif
