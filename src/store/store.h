/* store.h - Ferry's own data: runs and their changes.
 *
 * The store keeps the audit record of every run (who or what started it, status, phase,
 * counts, messages, times) and a change row for every record that was not unchanged, and
 * the people who may use Ferry (users, tokens, sessions, the audit log) and the processes
 * sharing it (nodes). An open store is one connection behind three small interfaces, each a
 * struct of function pointers: runs (runs, changes, stats, the store's transaction), people
 * (users, tokens, sessions, audit) and cluster (nodes, schedule claims, cancel requests).
 * Each backend implements each interface in a file of its own (sqlite_runs.c,
 * sqlite_people.c, sqlite_cluster.c over sqlite_conn.c; the same with pg_); callers never
 * know which backend they hold. The model (the structs below and their _done/_free, the
 * names of statuses, outcomes and roles) is model.c, shared by both.
 *
 * Tables are prefixed ferry_ so they can share a database with the synced tables. At most one
 * queued-or-running run per (sync, tenant) is enforced by the database (a partial unique
 * index), not by Ferry's code.
 *
 * A store (and its connection) belongs to one thread at a time. */
#ifndef FERRY_STORE_STORE_H
#define FERRY_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef enum {
    FERRY_RUN_QUEUED = 0,
    FERRY_RUN_RUNNING,
    FERRY_RUN_SUCCEEDED,
    FERRY_RUN_FAILED,
    FERRY_RUN_CANCELLED,
    FERRY_RUN_INTERRUPTED,
    FERRY_RUN_HELD,     /* not committed: waits for a person to approve or reject its changes */
    FERRY_RUN_REJECTED, /* held, then rejected (or expired): nothing was applied */
    FERRY_RUN_STATUS_COUNT
} ferry_run_status;

typedef enum {
    FERRY_OUTCOME_CREATED = 0,
    FERRY_OUTCOME_UPDATED,
    FERRY_OUTCOME_UNCHANGED,
    FERRY_OUTCOME_SKIPPED,
    FERRY_OUTCOME_FAILED,
    FERRY_OUTCOME_DELETED,
    FERRY_OUTCOME_COUNT
} ferry_outcome;

const char *ferry_run_status_name(ferry_run_status status);
const char *ferry_outcome_name(ferry_outcome outcome);
/* Parses a status or outcome name; false when unknown. */
bool ferry_run_status_parse(const char *name, ferry_run_status *ret);
bool ferry_outcome_parse(const char *name, ferry_outcome *ret);

/* Records counted under one label (a skip rule's label:, docs/config.md). */
typedef struct {
    char *label;
    int64_t count;
} ferry_label_count;

/* Records counted apart by label, in the config's order of the labels; every label the
 * config names is there, with 0 when it counted nothing. What one part of a run counts (the
 * sync's records; a step's own, as its counts), so a struct of its own. Owned: strings and
 * items are freed by ferry_label_counts_done(). */
typedef struct {
    ferry_label_count *items;
    size_t n;
} ferry_label_counts;

void ferry_label_counts_done(ferry_label_counts *lc);

/* Deep-copies src into dst. False when out of memory (dst is then empty). */
bool ferry_label_counts_copy(ferry_label_counts *dst, const ferry_label_counts *src);

/* Sets lc to labels[0..n) with counts of 0 (lc emptied first). False when out of memory. */
bool ferry_label_counts_init(ferry_label_counts *lc, char *const *labels, size_t n);

/* The sum of the counts. */
int64_t ferry_label_counts_total(const ferry_label_counts *lc);

/* The counts as a JSON object in their order, {"FLAT":3}, as the stores keep it: returned
 * malloc'd (the caller frees it), or NULL when lc is empty or memory ran out (*ret_oom). */
char *ferry_label_counts_format(const ferry_label_counts *lc, bool *ret_oom);

/* Reads a JSON object of counts (ferry_label_counts_format()'s) into *ret, in the object's
 * order. NULL text, or text that is not such an object, gives no counts. False when out of
 * memory. */
bool ferry_label_counts_parse(const char *json, ferry_label_counts *ret);

/* Where an incremental sync's next run starts (ferry_watermarks, one row per sync, tenant
 * and step), written only by a successful run. */
typedef struct {
    int64_t cursor_ms;  /* the highest cursor value of the records it fetched */
    int64_t full_at_ms; /* when the last full run started */
    int64_t run_id;     /* the run that wrote it */
} ferry_watermark;

/* One run as stored. Strings are owned by the struct (ferry_run_done() frees them). */
typedef struct {
    int64_t id;
    char *sync;
    char *tenant;       /* NULL when the sync has no tenant */
    char *trigger;      /* "cli", "api", "schedule", "revert" */
    char *user;         /* who started it (a user name, "scheduler", the CLI's $USER), or NULL */
    char *token;        /* the label of the API token it was started with, or NULL */
    char *cancelled_by; /* who cancelled it, or NULL */
    ferry_run_status status;
    char *phase; /* queued, connecting, fetching, applying, committing, done */
    int percent;
    int64_t processed;
    int64_t total;        /* -1 when unknown */
    bool total_estimated; /* total is the last run's count, not stated by the source */
    int64_t counts[FERRY_OUTCOME_COUNT]; /* counts[skipped]: records no labelled skip rule
                                            skipped (the plain "N skipped") */
    ferry_label_counts skipped_by_label; /* records labelled skip rules skipped, per label */
    char *ui_message;
    char *log_message;
    char *error;
    char *error_code;
    bool dry_run;
    bool allow_missing; /* started with --allow-missing: on_missing may go past the guard */
    int64_t queued_at_ms, started_at_ms, finished_at_ms; /* 0 when not yet */
    int64_t duration_ms;
    int attempt;
    int64_t retry_of; /* the interrupted run this one is the next attempt of, or 0 */
    char *node; /* while running: the lease owner, the Ferry process executing it ("HOST:PID");
                   else NULL */
    /* A run of a sync with steps: a JSON array with one object per step, in order: name,
     * noun, status (pending, running, done), percent, processed, counts (as the run's) and,
     * once the step is done, its message (docs/api.md). NULL for a sync without steps. */
    char *steps;
    /* Incremental syncs (incremental: on a REST source). */
    bool full;   /* started with --full ("full": true): fetch everything this once */
    char *mode;  /* once it ran: "incremental" or "full"; NULL for other syncs */
    char *since; /* an incremental run: the since value it sent (ISO 8601 UTC), else NULL */
    /* What the run read of its source (each step's own source summed): bytes (a file's or a
     * download's, or a REST source's page bodies, as received) and records. fetched counts
     * the records read so far while the run executes (a REST source's, page by page while
     * fetching); a stored run's is its source_records. source_bytes is 0 until a byte was
     * read; source_records is -1 until the source was read to its end. */
    int64_t fetched;
    int64_t source_bytes;
    int64_t source_records;
    /* The run's activity log: a JSON array of {"at", "kind", "text"} entries, oldest first,
     * bounded (sync/activity.h), or NULL. */
    char *activity;
    /* Review (docs/review.md). A run a guard rule or a preview request stopped ends held:
     * its change rows are kept, its changes are not applied. */
    bool preview;           /* requested as a preview: held whatever it would do */
    char *held_reason;      /* why it was held, the rules it broke joined by "; ", or NULL */
    bool held_admin;        /* it changes a protected field: only an admin may approve it */
    int64_t held_until_ms;  /* when an undecided held run is rejected as expired; 0: never */
    char *change_digest;    /* a held run's change set, digested (hex): what approval must
                               reproduce to apply it */
    char *decision;         /* "approved", "rejected", "expired", or NULL */
    char *decided_by;       /* who approved or rejected it, or NULL */
    char *decision_comment; /* why (a comment), or NULL */
    int64_t decided_at_ms;  /* 0 when undecided */
    /* A revert (trigger "revert", sync/revert.h): the run it reverts, else 0; and the comment
     * its requester gave, or NULL. */
    int64_t reverts;
    char *revert_comment;
    /* When retention pruned the run's change rows (its counts and messages stay), or 0. */
    int64_t changes_pruned_at_ms;
} ferry_run;

void ferry_run_done(ferry_run *run);

/* Deep-copies src into dst (strings duplicated). Returns false when out of memory (dst is
 * then emptied). */
bool ferry_run_copy(ferry_run *dst, const ferry_run *src);

/* One change row. */
typedef struct {
    int64_t run_id;
    int64_t seq;
    char *record_key; /* NULL when the record's key could not be read */
    ferry_outcome outcome;
    long row;         /* source row, 0 for deleted records */
    char *reason;     /* skipped/failed/deleted: why */
    char *diff;       /* updated: JSON {"field": ["old", "new"], ...} */
    char *label;      /* the record's name (label: on the sync, "John Doe (john@example.com)"), or
                         NULL */
    char *step;       /* the step of a sync with steps that made it, or NULL */
    char *link;       /* skipped/failed: where the record can be fixed (its cell in a Google
                         Sheet: ".../edit#gid=0&range=C17"), or NULL */
    char *row_values; /* deleted: the row's values before it was deleted or flagged, a JSON
                         object {"column": "text" or null, ...}, so a revert can restore it;
                         NULL for other outcomes and for rows deleted before Ferry kept them */
} ferry_change;

void ferry_change_done(ferry_change *change);

typedef struct {
    const char *sync;    /* NULL for every sync */
    const char *status;  /* NULL for every status */
    const char *trigger; /* NULL for every trigger ("cli", "api", "schedule") */
    const char *tenant;  /* NULL for every tenant */
    const char *user;    /* NULL for every user; else runs started by exactly this user */
    int64_t before_id;   /* only runs with a smaller id (a page cursor); 0 for no bound */
    int64_t since_ms;    /* only runs queued at or after this time; 0 for no bound */
    int64_t until_ms;    /* only runs queued before this time; 0 for no bound */
    int limit;           /* at most this many, newest first */
} ferry_run_filter;

typedef enum {
    FERRY_ROLE_VIEWER = 0, /* reads everything */
    FERRY_ROLE_OPERATOR,   /* also starts and cancels runs */
    FERRY_ROLE_ADMIN,      /* also manages users and tokens */
} ferry_role;

const char *ferry_role_name(ferry_role role);
bool ferry_role_parse(const char *name, ferry_role *ret);

/* A user as stored. Strings are owned (ferry_user_done()). */
typedef struct {
    int64_t id;
    char *name;
    ferry_role role;
    char *password_hash; /* Argon2id, never shown */
    bool disabled;
    int64_t created_at_ms;
    int64_t password_changed_at_ms;
} ferry_user;

void ferry_user_done(ferry_user *user);
void ferry_users_free(ferry_user *users, size_t n);

/* An API token as stored (never the token itself). Strings are owned (ferry_token_done()). */
typedef struct {
    int64_t id;
    char *user;                                            /* the user it acts as */
    char *label;                                           /* what it is for ("app backend") */
    int64_t created_at_ms, last_used_at_ms, revoked_at_ms; /* 0 when never */
} ferry_token;

void ferry_token_done(ferry_token *token);
void ferry_tokens_free(ferry_token *tokens, size_t n);

/* Who a request acts as, found from a session or an API token. Strings are owned
 * (ferry_principal_done()). */
typedef struct {
    int64_t user_id;
    char *user; /* the user's name */
    ferry_role role;
    int64_t token_id;        /* the API token's id, or 0 for a session */
    char *token_label;       /* the API token's label, or NULL for a session */
    int64_t created_at_ms;   /* when the session or token was created */
    int64_t last_seen_at_ms; /* the session's last request, the token's last use (0: never) */
} ferry_principal;

void ferry_principal_done(ferry_principal *p);

/* One entry of the audit log of administrative actions. Strings are owned
 * (ferry_audit_done()); any but action may be NULL. */
typedef struct {
    int64_t id;
    int64_t at_ms;
    char *actor;  /* the user name, "cli" (the command line), or NULL (not logged in) */
    char *action; /* "login", "login.failed", "logout", "user.add", "user.passwd", "user.role",
                     "user.disable", "user.enable", "token.create", "token.revoke",
                     "user.passwd.failed", "refused", "run.interrupted", "delivery.redeliver",
                     "run.revert" */
    char *target; /* what it acted on: a user name, "token N", a route; or NULL */
    char *detail; /* a sentence for people, or NULL */
    char *client; /* the client's address, or NULL */
} ferry_audit_entry;

void ferry_audit_done(ferry_audit_entry *e);
void ferry_audit_free(ferry_audit_entry *entries, size_t n);

typedef struct {
    const char *actor;  /* NULL for every actor */
    const char *action; /* NULL for every action */
    int64_t before_id;  /* only entries with a smaller id (a page cursor); 0 for no bound */
    int limit;          /* at most this many, newest first */
} ferry_audit_filter;

/* Figures over a sync's finished runs, for /api/stats and /metrics. */
#define FERRY_STATS_REASONS 5
#define FERRY_STATS_BUCKETS 8
extern const int64_t ferry_stats_bucket_ms[FERRY_STATS_BUCKETS]; /* histogram upper bounds */

typedef struct {
    int64_t by_status[FERRY_RUN_STATUS_COUNT]; /* runs per ferry_run_status */
    int64_t finished;                          /* runs with a duration */
    double avg_ms;
    int64_t p95_ms;
    int64_t duration_le[FERRY_STATS_BUCKETS]; /* finished runs with duration <= bucket */
    double duration_sum_ms;
    int64_t records[FERRY_OUTCOME_COUNT];
    char *reason[FERRY_STATS_REASONS]; /* most common failure reasons, "row N: " and quoted
                                          values left out */
    int64_t reason_count[FERRY_STATS_REASONS];
    size_t nreasons;
} ferry_sync_stats;

void ferry_sync_stats_done(ferry_sync_stats *stats);

typedef struct {
    int outcome;       /* a ferry_outcome, or -1 for all */
    int64_t after_seq; /* only changes after this sequence number (a page cursor) */
    int limit;         /* at most this many; 0 for all */
} ferry_change_filter;

/* A Ferry process (`ferry serve`) using the store: a node of the cluster when several share
 * one PostgreSQL database. Strings are owned (ferry_node_done()). */
typedef struct {
    char *id;      /* "HOST:PID": the lease owner of the runs it executes */
    char *address; /* where its HTTP API listens ("127.0.0.1:8080"), or NULL */
    int workers;   /* its worker threads */
    int64_t started_at_ms, heartbeat_at_ms;
} ferry_node;

void ferry_node_done(ferry_node *node);
void ferry_nodes_free(ferry_node *nodes, size_t n);

/* The end of the latest succeeded run of one sync for one tenant (last_successes). Strings
 * owned (ferry_last_successes_free()). */
typedef struct {
    char *sync;
    char *tenant; /* "" for a run without a tenant */
    int64_t finished_at_ms;
} ferry_last_success;

void ferry_last_successes_free(ferry_last_success *list, size_t n);

/* This process's node id, "HOST:PID" (the lease owner written by run_claim). */
void ferry_node_self(char *out, size_t outlen);

typedef struct ferry_store ferry_store;

/* What run_recover and run_reclaim_expired do with a run whose process stopped (any member
 * may be NULL). retries gives the sync's retries: (0 for a sync not in the config): the
 * run's attempt N ends as interrupted and attempt N + 1 is queued as a new run (retry_of
 * naming it) while N <= retries; otherwise the run ends as failed, saying its process
 * stopped. Either way the interruption is written to the audit trail. on_interrupted is
 * called after each commit with the ended run and the queued one (NULL when none). */
typedef struct {
    int (*retries)(void *ctx, const char *sync);
    void (*on_interrupted)(void *ctx, const ferry_run *ended, const ferry_run *next);
    void *ctx;
} ferry_recovery;

/* Runs and their changes: a run's life from queued to ended, its change rows, the figures
 * over a sync's runs, and the store's own transaction. */
typedef struct {
    /* Creates a run with status running (started now) and returns its id. Fails with
     * FERRY_EINVAL and a message when a run of the same sync and tenant is already queued
     * or running. */
    ferry_rc (*run_start)(ferry_store *st, const ferry_run *run, int64_t *ret_id, ferry_err *err);
    /* Creates a queued run of (run->sync, run->tenant) for a worker to claim. When one is
     * already queued or running, loads that one instead and sets *ret_created to false: a
     * double click never starts two runs. Announcing a new run is the caller's, after this
     * returns (queue/queue.h). *ret_run is owned by the caller. */
    ferry_rc (*run_enqueue)(ferry_store *st, const ferry_run *run, ferry_run *ret_run,
                            bool *ret_created, ferry_err *err);
    /* Claims the oldest queued run for this process: status running, started now, lease
     * owner set. FERRY_DONE when nothing is queued. *ret_run is owned by the caller. */
    ferry_rc (*run_claim)(ferry_store *st, ferry_run *ret_run, ferry_err *err);
    /* Marks a queued run cancelled (by user, may be NULL). FERRY_ENOTFOUND when the run is
     * not queued (any more). */
    ferry_rc (*run_cancel_queued)(ferry_store *st, int64_t id, const char *user, ferry_err *err);
    /* Ends every run left running by a process of this host that no longer exists (killed
     * or crashed: its transaction was rolled back) as rec says: interrupted with a new
     * attempt queued, or failed. Called when a server starts. *ret_n is how many it ended. */
    ferry_rc (*run_recover)(ferry_store *st, const ferry_recovery *rec, int *ret_n, ferry_err *err);
    /* Renews this process's lease on running run id (heartbeat_at = now, by the database's
     * clock). FERRY_ENOTFOUND when the lease was lost (the run was taken over). */
    ferry_rc (*run_heartbeat)(ferry_store *st, int64_t id, ferry_err *err);
    /* Ends, as run_recover does, every run whose lease was not renewed for lease_ms, whatever
     * process or host held it (hung, or gone). *ret_n is how many. */
    ferry_rc (*run_reclaim_expired)(ferry_store *st, int64_t lease_ms, const ferry_recovery *rec,
                                    int *ret_n, ferry_err *err);
    /* Stores the final state of a run: status, counts, messages, error, times, and who
     * cancelled it when run->cancelled_by is set (one write: a reader never sees a cancelled
     * run without its canceller). Only a
     * running run this process holds (or one without a lease) is written: FERRY_ENOTFOUND
     * otherwise (taken over by another process, or already ended). */
    ferry_rc (*run_finish)(ferry_store *st, const ferry_run *run, ferry_err *err);
    /* Gives running run id, held by this process and rolled back, back to the queue: status
     * queued, the same attempt, no lease. A stopping server hands its runs to the next one
     * this way. FERRY_ENOTFOUND when this process does not hold it running. */
    ferry_rc (*run_requeue)(ferry_store *st, int64_t id, ferry_err *err);
    /* Loads a run; FERRY_ENOTFOUND when there is none with that id. */
    ferry_rc (*run_load)(ferry_store *st, int64_t id, ferry_run *ret_run, ferry_err *err);
    /* Lists runs matching filter, newest first; *ret_runs is owned by the caller (free each
     * with ferry_run_done(), then the array). */
    ferry_rc (*run_list)(ferry_store *st, const ferry_run_filter *filter, ferry_run **ret_runs,
                         size_t *ret_n, ferry_err *err);
    /* Adds n change rows (inside the run's transaction when there is one). Callers batch:
     * one call per few hundred rows costs far less than one per row. */
    ferry_rc (*changes_add)(ferry_store *st, const ferry_change *changes, size_t n, ferry_err *err);
    /* Removes every change row of run_id (a held run's, replaced by the ones its approval or
     * its hold again writes, in the same transaction). */
    ferry_rc (*changes_clear)(ferry_store *st, int64_t run_id, ferry_err *err);
    /* Decides held run id (who and comment may be NULL): FERRY_RUN_QUEUED approves it for a
     * worker to apply, FERRY_RUN_RUNNING approves it for this process to apply now (status
     * running, lease held), FERRY_RUN_REJECTED rejects it (expired: as the expiry). One
     * conditional write: FERRY_ECONFLICT when the run is not held (any more), FERRY_ENOTFOUND
     * when there is no such run. *ret_run (may
     * be NULL) is the run as written, owned by the caller. */
    ferry_rc (*run_decide)(ferry_store *st, int64_t id, ferry_run_status to, bool expired,
                           const char *who, const char *comment, ferry_run *ret_run,
                           ferry_err *err);
    /* Lists the changes of run_id matching filter in sequence order; owned by the caller as
     * for run_list. */
    ferry_rc (*change_list)(ferry_store *st, int64_t run_id, const ferry_change_filter *filter,
                            ferry_change **ret_changes, size_t *ret_n, ferry_err *err);
    /* Computes the figures of sync's runs (the failure reasons from its last 5,000 failed
     * records). *ret_stats is owned by the caller (ferry_sync_stats_done()). */
    ferry_rc (*sync_stats)(ferry_store *st, const char *sync, ferry_sync_stats *ret_stats,
                           ferry_err *err);
    /* The end of the latest succeeded run of every (sync, tenant) the runs table holds, in
     * one query, ordered by sync then tenant; owned by the caller (ferry_last_successes_free()). */
    ferry_rc (*last_successes)(ferry_store *st, ferry_last_success **ret_list, size_t *ret_n,
                               ferry_err *err);
    /* A transaction of the store's own, for a run whose table is in another database
     * (target.database): its change rows and final record then commit together, once the
     * target has committed. tx_rollback does nothing when no transaction is open. */
    ferry_rc (*tx_begin)(ferry_store *st, ferry_err *err);
    ferry_rc (*tx_commit)(ferry_store *st, ferry_err *err);
    void (*tx_rollback)(ferry_store *st);
    /* The watermark of step (0 for a sync without steps) of sync for tenant (NULL: none):
     * FERRY_ENOTFOUND when no successful run has set one. */
    ferry_rc (*watermark_get)(ferry_store *st, const char *sync, const char *tenant, int step,
                              ferry_watermark *ret_wm, ferry_err *err);
    /* Sets it (full_at_ms 0 keeps the stored one). Called inside the run's transaction,
     * before run_finish, so it commits with the run or not at all. */
    ferry_rc (*watermark_put)(ferry_store *st, const char *sync, const char *tenant, int step,
                              const ferry_watermark *wm, ferry_err *err);
} ferry_store_runs_ops;

/* People: users, API tokens, login sessions and the audit log of administrative actions. */
typedef struct {
    /* Users. Names are unique regardless of case. user_add fails with FERRY_EINVAL when the
     * name is taken; the others with FERRY_ENOTFOUND when there is no such user. */
    ferry_rc (*user_add)(ferry_store *st, const char *name, ferry_role role,
                         const char *password_hash, ferry_err *err);
    ferry_rc (*user_load)(ferry_store *st, const char *name, ferry_user *ret_user, ferry_err *err);
    ferry_rc (*user_list)(ferry_store *st, ferry_user **ret_users, size_t *ret_n, ferry_err *err);
    ferry_rc (*user_set_password)(ferry_store *st, const char *name, const char *password_hash,
                                  ferry_err *err);
    ferry_rc (*user_set_disabled)(ferry_store *st, const char *name, bool disabled, ferry_err *err);
    /* API tokens: token_hash is the SHA-256 (hex) of the token. token_add fails with
     * FERRY_ENOTFOUND when the user does not exist; token_revoke when the token does not
     * exist or is already revoked. */
    ferry_rc (*token_add)(ferry_store *st, const char *user, const char *label,
                          const char *token_hash, int64_t *ret_id, ferry_err *err);
    ferry_rc (*token_list)(ferry_store *st, ferry_token **ret_tokens, size_t *ret_n,
                           ferry_err *err);
    ferry_rc (*token_revoke)(ferry_store *st, int64_t id, ferry_err *err);
    /* The user and token of a token hash, and records the use (last_used_at = now, written
     * at most once a minute). FERRY_ENOTFOUND when there is no such token, it is revoked or
     * its user is disabled. */
    ferry_rc (*token_auth)(ferry_store *st, const char *token_hash, ferry_principal *ret,
                           ferry_err *err);
    /* Changes a user's role (FERRY_ENOTFOUND when there is no such user). */
    ferry_rc (*user_set_role)(ferry_store *st, const char *name, ferry_role role, ferry_err *err);
    /* Login sessions, keyed by the SHA-256 (hex) of the session id. user_set_password and
     * user_set_disabled(true) delete every session of the user in the same statement
     * transaction, so a changed password or a disabled user logs every browser out.
     * session_add: FERRY_ENOTFOUND when the user does not exist or is disabled. */
    ferry_rc (*session_add)(ferry_store *st, const char *user, const char *session_hash,
                            ferry_err *err);
    /* The user of a live session, and records the request (last_seen_at = now, written at
     * most once a minute). FERRY_ENOTFOUND when there is no such session, its user is
     * disabled, it was idle for more than idle_ms or is older than max_ms (such a session
     * is deleted). */
    ferry_rc (*session_auth)(ferry_store *st, const char *session_hash, int64_t idle_ms,
                             int64_t max_ms, ferry_principal *ret, ferry_err *err);
    /* Deletes one session (logout); deleting one that does not exist is not an error. */
    ferry_rc (*session_delete)(ferry_store *st, const char *session_hash, ferry_err *err);
    /* Deletes every session idle for more than idle_ms or older than max_ms. */
    ferry_rc (*session_purge)(ferry_store *st, int64_t idle_ms, int64_t max_ms, ferry_err *err);
    /* The audit log: audit_add stores e (its id and at_ms are ignored: the store sets them);
     * audit_list lists entries newest first, owned by the caller (ferry_audit_free()). */
    ferry_rc (*audit_add)(ferry_store *st, const ferry_audit_entry *e, ferry_err *err);
    ferry_rc (*audit_list)(ferry_store *st, const ferry_audit_filter *filter,
                           ferry_audit_entry **ret, size_t *ret_n, ferry_err *err);
} ferry_store_people_ops;

/* The cluster: the Ferry processes sharing the store, the claims that make a schedule fire
 * once across them, and cancel requests passed to the process executing a run. */
typedef struct {
    /* Nodes: node_beat records that this process serves (address may be NULL), with its
     * heartbeat now by the database's clock; a server calls it every few seconds. node_list
     * lists the nodes whose heartbeat is at most live_ms old, oldest start first (owned by
     * the caller, ferry_nodes_free()). node_leave removes this process's row (a clean stop);
     * rows silent for a day are deleted by node_beat. */
    ferry_rc (*node_beat)(ferry_store *st, const char *address, int workers, ferry_err *err);
    ferry_rc (*node_list)(ferry_store *st, int64_t live_ms, ferry_node **ret_nodes, size_t *ret_n,
                          ferry_err *err);
    ferry_rc (*node_leave)(ferry_store *st, ferry_err *err);
    /* Claims the scheduled firing of (sync, tenant) due at due_ms (wall-clock ms): *ret_won is
     * true for exactly one caller across every process sharing the store, so a schedule
     * fires once per period however many nodes run it. */
    ferry_rc (*schedule_claim)(ferry_store *st, const char *sync, const char *tenant,
                               int64_t due_ms, bool *ret_won, ferry_err *err);
    /* Asks whichever process executes running run id to cancel it (by user, may be NULL):
     * records the request in the run. FERRY_ENOTFOUND when the run is not running. */
    ferry_rc (*run_request_cancel)(ferry_store *st, int64_t id, const char *user, ferry_err *err);
    /* Whether a cancel was requested for run id (run_request_cancel), and by whom (*ret_user
     * owned by the caller, NULL when unknown; ret_user may be NULL). */
    ferry_rc (*run_cancel_requested)(ferry_store *st, int64_t id, bool *ret_requested,
                                     char **ret_user, ferry_err *err);
    /* Secrets Ferry keeps for itself (a rotated OAuth2 refresh token), already encrypted by
     * the caller (util/sealed.h): secret_put stores text under name (neither a secret in
     * clear), replacing what name held; secret_get returns it in *ret_text (owned by the
     * caller, free()), or NULL when name holds nothing. */
    ferry_rc (*secret_get)(ferry_store *st, const char *name, char **ret_text, ferry_err *err);
    ferry_rc (*secret_put)(ferry_store *st, const char *name, const char *text, ferry_err *err);
    /* Reads the schema version the database records now (a query: it fails when the database
     * does not answer) into *ret_have, and the version this Ferry migrates to into *ret_want. */
    ferry_rc (*schema_version)(ferry_store *st, int *ret_have, int *ret_want, ferry_err *err);
} ferry_store_cluster_ops;

/* ---- the outbox: what a run's end owes the application (docs/api.md, "Deliveries") ---- */

typedef enum {
    FERRY_DELIVERY_PENDING = 0, /* to be sent (again) at next_attempt_at */
    FERRY_DELIVERY_DELIVERED,   /* the endpoint took it */
    FERRY_DELIVERY_FAILED,      /* given up: every attempt failed until give_up_at */
} ferry_delivery_status;

const char *ferry_delivery_status_name(ferry_delivery_status status);
/* The status named name; an unknown name is pending. */
ferry_delivery_status ferry_delivery_status_parse(const char *name);

/* One attempt at a delivery. Strings are owned by the delivery holding it. */
typedef struct {
    int n;         /* 1 for the first */
    int64_t at_ms; /* when it started */
    int status;    /* the HTTP status or SMTP code, 0 when none came */
    char *error;   /* why it failed, or NULL when it did not */
    int64_t duration_ms;
} ferry_delivery_attempt;

/* One delivery of the outbox. Holds no copy of the data and no secret: the body is built from
 * the store and the config when it is sent. Strings are owned (ferry_delivery_done()). */
typedef struct {
    char *id; /* "dlv_" and 24 hex digits; the same on every attempt */
    int64_t run_id;
    int endpoint;     /* the index of its endpoint in the sync's notify: list */
    char *kind;       /* "webhook" (the run), "records" (a batch of its changes), "email" */
    int64_t seq;      /* records: the batch's number, from 1; else 0 */
    int64_t from_seq; /* records: the batch holds the changes after this change seq */
    ferry_delivery_status status;
    int attempts;
    int last_status; /* of the last attempt (0: none, or no answer) */
    char *last_error;
    int64_t created_at_ms, next_attempt_at_ms, delivered_at_ms, give_up_at_ms;
    ferry_delivery_attempt *tries; /* delivery_list only: every attempt, in order */
    size_t ntries;
} ferry_delivery;

void ferry_delivery_done(ferry_delivery *d);
void ferry_deliveries_free(ferry_delivery *d, size_t n);

/* A delivery to enqueue as a run ends, as the config says (ferry_outbox_planner). */
typedef struct {
    int endpoint;
    const char *kind;    /* "webhook", "records", "email"; or "pg_channel": no row, a NOTIFY */
    const char *channel; /* pg_channel: the channel (borrowed) */
} ferry_delivery_plan;

#define FERRY_DELIVERY_PLAN_MAX 64

/* Says what a run's end owes the application; the store does not know the config. plan fills
 * out[0..max) for run (its final status set) and returns how many; it is called by the store
 * inside the write that records the run's end, so the deliveries commit with it (or not at
 * all). ctx is borrowed. */
typedef struct {
    size_t (*plan)(void *ctx, const ferry_run *run, ferry_delivery_plan *out, size_t max);
    void *ctx;
} ferry_outbox_planner;

/* How one attempt went, for delivery_record. */
typedef struct {
    int64_t at_ms;
    int status;        /* HTTP status or SMTP code, 0 when none came */
    const char *error; /* NULL when delivered */
    int64_t duration_ms;
    ferry_delivery_status next; /* delivered; pending (again at next_at_ms); failed (given up) */
    int64_t next_at_ms;
    bool more;             /* records, delivered: another batch follows */
    int64_t next_from_seq; /* ... holding the changes after this seq */
} ferry_delivery_result;

typedef struct {
    int64_t total, delivered, pending, failed;
} ferry_delivery_summary;

/* The outbox: deliveries of finished runs to the application's endpoints, claimed like runs
 * (a lease, SKIP LOCKED on PostgreSQL) so each is sent by one process at a time. */
typedef struct {
    /* Claims the delivery due first (pending, next_attempt_at passed, no live lease) for this
     * process for lease_ms. FERRY_DONE when none is due. *ret owned by the caller. */
    ferry_rc (*delivery_claim)(ferry_store *st, int64_t lease_ms, ferry_delivery *ret,
                               ferry_err *err);
    /* Records an attempt at claimed delivery d and its next state, in one transaction; with
     * r->more, enqueues the next records batch (seq + 1) with it. FERRY_ENOTFOUND when this
     * process no longer holds d's lease (nothing written). */
    ferry_rc (*delivery_record)(ferry_store *st, const ferry_delivery *d,
                                const ferry_delivery_result *r, ferry_err *err);
    /* The deliveries of run_id with their attempts, in the order they were made; owned by the
     * caller (ferry_deliveries_free()). */
    ferry_rc (*delivery_list)(ferry_store *st, int64_t run_id, ferry_delivery **ret, size_t *ret_n,
                              ferry_err *err);
    /* Loads one delivery (without its attempts). FERRY_ENOTFOUND when there is none. */
    ferry_rc (*delivery_load)(ferry_store *st, const char *id, ferry_delivery *ret, ferry_err *err);
    /* Sends delivery id again, as soon as a sender is free: pending, due now, 24 h more to
     * try, the same id. FERRY_ENOTFOUND when there is none. */
    ferry_rc (*delivery_redeliver)(ferry_store *st, const char *id, ferry_err *err);
    /* How many deliveries each of the n runs run_ids names has, by status, into ret[0..n)
     * (ret[i] for run_ids[i]), in one query: a page of runs costs one round trip. */
    ferry_rc (*delivery_summary)(ferry_store *st, const int64_t *run_ids, size_t n,
                                 ferry_delivery_summary *ret, ferry_err *err);
    /* How many deliveries are pending (to be sent, now or after a failed attempt). */
    ferry_rc (*delivery_pending)(ferry_store *st, int64_t *ret_n, ferry_err *err);
} ferry_store_outbox_ops;

/* How long a delivery is tried before it is given up. */
#define FERRY_DELIVERY_TRY_MS (24LL * 3600 * 1000)

/* ---- retention: what `ferry prune` and the server's pruner delete (store/prune.h) ---- */

/* A statement's parameter: a number, or a time in ms (bound as each backend stores times). */
typedef struct {
    int64_t v;
    bool time;
} ferry_prune_param;

/* The few primitives the pruner (store/prune.c, written once for both backends) needs. SQL
 * is written with $1, $2... placeholders and functions both databases know. */
typedef struct {
    /* Runs sql with p[0..np); *ret_changed (may be NULL) gets the rows it changed. "BEGIN",
     * "COMMIT" and "ROLLBACK" make a batch's transaction (SQLite: BEGIN IMMEDIATE). A
     * database busy past the busy timeout is FERRY_ECONFLICT. */
    ferry_rc (*exec)(ferry_store *st, const char *sql, const ferry_prune_param *p, int np,
                     int64_t *ret_changed, ferry_err *err);
    /* Runs query sql with p[0..np) and reads at most max_rows rows of ncols integer columns
     * into ret (row-major; NULL is 0); *ret_rows is how many. */
    ferry_rc (*select)(ferry_store *st, const char *sql, const ferry_prune_param *p, int np,
                       int64_t *ret, int ncols, int max_rows, int *ret_rows, ferry_err *err);
    /* SQLite: checkpoints the WAL and truncates it, when force or the -wal file is larger
     * than FERRY_WAL_CHECKPOINT_BYTES; tries PASSIVE first, and waits at most about a
     * second for readers and writers (a busy database: gives up quietly, *ret_done false).
     * Never inside an open transaction. PostgreSQL: does nothing (*ret_done false). */
    ferry_rc (*checkpoint)(ferry_store *st, bool force, bool *ret_done, ferry_err *err);
} ferry_store_prune_ops;

/* The -wal file size past which a run's end checkpoints it. */
#define FERRY_WAL_CHECKPOINT_BYTES (64LL * 1024 * 1024)
/* The rows (change rows and the target's) past which a run's end checkpoints it anyway. */
#define FERRY_WAL_CHECKPOINT_ROWS 100000

typedef enum {
    FERRY_STORE_SQLITE = 0,
    FERRY_STORE_PG,
} ferry_store_kind;

/* An open store: one connection (which kind says), and the three interfaces over it. Every
 * operation takes the store itself as its first argument: st->runs->run_load(st, ...). */
struct ferry_store {
    const ferry_store_runs_ops *runs;
    const ferry_store_people_ops *people;
    const ferry_store_cluster_ops *cluster;
    const ferry_store_outbox_ops *outbox;
    const ferry_store_prune_ops *prune;
    ferry_outbox_planner planner; /* set by ferry_store_planner_set(); none by default */
    ferry_store_kind kind;
    void (*close)(ferry_store *st); /* the implementation's ferry_store_close() */
};

/* Opens the store named by database ("sqlite:PATH", relative paths resolving against
 * base_dir; or "postgres://..." / "postgresql://...", a libpq URL whose missing parts come from
 * the PG* environment variables), creating or migrating its tables. *ret_store is owned by the
 * caller. Errors never show the URL's password. */
ferry_rc ferry_store_open(const char *database, const char *base_dir, ferry_store **ret_store,
                          ferry_err *err);

/* Has st enqueue deliveries as planner (copied; its ctx borrowed) says whenever it records a
 * run's end: run_finish, run_cancel_queued, and a run ended as failed by run_recover or
 * run_reclaim_expired. Without a planner nothing is enqueued. */
void ferry_store_planner_set(ferry_store *st, const ferry_outbox_planner *planner);

/* Closes the store and its connection; NULL is allowed. */
void ferry_store_close(ferry_store *st);

/* The SQLite implementation, and its connection (borrowed: targets in the same database
 * share it so the run's data and its change rows commit together; NULL when st is not a
 * SQLite store). */
ferry_rc ferry_sqlite_store_open(const char *path, ferry_store **ret_store, ferry_err *err);
struct sqlite3 *ferry_sqlite_store_db(ferry_store *st);

/* The PostgreSQL implementation (url: a libpq connection URL), and its connection (borrowed,
 * as for SQLite; NULL when st is not a PostgreSQL store). Several processes may share one
 * database: runs are claimed with FOR UPDATE SKIP LOCKED, schema migrations take an advisory
 * lock. */
ferry_rc ferry_pg_store_open(const char *url, ferry_store **ret_store, ferry_err *err);
struct pg_conn *ferry_pg_store_conn(ferry_store *st);

/* Plain connections, for a target whose table lives in another database than the store's
 * (target.database, target/target.h's ferry_target_open()): set up as the stores set up
 * theirs (SQLite: WAL and a busy timeout; PostgreSQL: a connect timeout, errors without the
 * password), without Ferry's tables. Owned by the caller (sqlite3_close(), PQfinish()). */
ferry_rc ferry_sqlite_connect(const char *path, struct sqlite3 **ret_db, ferry_err *err);
ferry_rc ferry_pg_connect(const char *url, struct pg_conn **ret_conn, ferry_err *err);

/* The file of a "sqlite:PATH" database setting: PATH, relative to base_dir unless absolute
 * (or base_dir is NULL). FERRY_ECONFIG when PATH is empty. */
ferry_rc ferry_database_sqlite_path(const char *database, const char *base_dir, char *out,
                                    size_t outlen, ferry_err *err);

/* Frees the run and change arrays returned by run_list/change_list. */
void ferry_runs_free(ferry_run *runs, size_t n);
void ferry_changes_free(ferry_change *changes, size_t n);

#endif
