/* prune.c - retention over either backend (see prune.h).
 *
 * Each kind of row that goes is one table and one condition, written once: a dry run counts
 * the rows the condition selects, a prune deletes them in batches of at most opts->batch rows,
 * each batch one statement (its own transaction), until a batch deletes nothing. The
 * conditions of later kinds do not depend on the rows earlier kinds delete, except that the
 * change rows of a run being pruned whose detail the first kind already took are not counted
 * twice: so a dry run's counts are a prune's.
 *
 * The change rows of runs past retention.changes go run by run, in (run_id, seq) order: a
 * batch takes the first rows of the oldest runs, deletes them as ranges of each run's
 * sequence numbers, and marks each run left without change rows as pruned, all in one
 * transaction (so a run is never seen without rows and without its mark). */
#include <stdio.h>
#include <string.h>

#include "store/prune.h"

/* Old firings are kept a week so that a late node cannot fire them again (sqlite_cluster.c
 * deletes them too, as it claims). */
#define FIRES_KEEP_MS (7 * 24 * 3600 * 1000LL)

/* A run that has ended (queued, running and held runs are never pruned). */
#define ENDED "status NOT IN ('queued', 'running', 'held') AND finished_at IS NOT NULL"

/* The runs kept whatever their age: the latest finished and the latest succeeded run of each
 * sync and tenant (status and "last success" read them), the latest scheduled run of each
 * sync (the scheduler keeps its rhythm from it), the run a watermark names, and the run a
 * revert still to be done reverts. */
#define NOT_KEPT                                                                                   \
    " AND id NOT IN (SELECT max(id) FROM ferry_runs WHERE " ENDED                                  \
    " GROUP BY sync, coalesce(tenant, ''))"                                                        \
    " AND id NOT IN (SELECT max(id) FROM ferry_runs WHERE status = 'succeeded'"                    \
    " GROUP BY sync, coalesce(tenant, ''))"                                                        \
    " AND id NOT IN (SELECT max(id) FROM ferry_runs WHERE trigger = 'schedule' GROUP BY sync)"     \
    " AND id NOT IN (SELECT run_id FROM ferry_watermarks WHERE run_id IS NOT NULL)"                \
    " AND id NOT IN (SELECT reverts FROM ferry_runs WHERE reverts IS NOT NULL"                     \
    " AND status IN ('queued', 'running', 'held'))"

/* The runs that ended before the time p. */
#define RUNS_BEFORE(p) "SELECT id FROM ferry_runs WHERE " ENDED " AND finished_at < " p NOT_KEPT

/* The runs whose change rows go: ended before p, detail not yet pruned. */
#define CHANGE_RUNS(p) RUNS_BEFORE(p) " AND changes_pruned_at IS NULL"

/* Deliveries that go with runs that ended before p, or that were delivered or given up and
 * made before p. */
#define DOOMED_DELIVERIES(p)                                                                       \
    "SELECT id FROM ferry_deliveries WHERE run_id IN (" RUNS_BEFORE(                               \
        p) ")"                                                                                     \
           " OR (status IN ('delivered', 'failed') AND created_at < " p ")"

/* The cut-offs a kind's condition reads, as $1, $2... in this order. */
enum cut { CUT_CHANGES, CUT_RUNS, CUT_AUDIT, CUT_FIRES, CUT_IDLE, CUT_MAX, CUT_COUNT };

struct kind {
    const char *table;
    const char *keys;  /* the columns that name a row */
    const char *where; /* which rows go */
    enum cut cuts[2];
    int ncuts;
};

static const struct kind kinds[FERRY_PRUNE_KIND_COUNT] = {
    [FERRY_PRUNE_CHANGES] =
        {"ferry_changes", "run_id, seq", "run_id IN (" CHANGE_RUNS("$1") ")", {CUT_CHANGES}, 1},
    [FERRY_PRUNE_RUN_CHANGES] = {"ferry_changes",
                                 "run_id, seq",
                                 "run_id IN (" RUNS_BEFORE(
                                     "$1") ") AND run_id NOT IN (" CHANGE_RUNS("$2") ")",
                                 {CUT_RUNS, CUT_CHANGES},
                                 2},
    [FERRY_PRUNE_ATTEMPTS] = {"ferry_delivery_attempts",
                              "delivery_id, n",
                              "delivery_id IN (" DOOMED_DELIVERIES("$1") ")",
                              {CUT_RUNS},
                              1},
    [FERRY_PRUNE_DELIVERIES] =
        {"ferry_deliveries", "id", "id IN (" DOOMED_DELIVERIES("$1") ")", {CUT_RUNS}, 1},
    [FERRY_PRUNE_RUNS] = {"ferry_runs", "id", "id IN (" RUNS_BEFORE("$1") ")", {CUT_RUNS}, 1},
    [FERRY_PRUNE_AUDIT] = {"ferry_audit", "id", "at < $1", {CUT_AUDIT}, 1},
    [FERRY_PRUNE_FIRES] =
        {"ferry_schedule_fires", "sync, tenant, due_ms", "claimed_at < $1", {CUT_FIRES}, 1},
    [FERRY_PRUNE_SESSIONS] = {"ferry_sessions",
                              "session_hash",
                              "last_seen_at < $1 OR created_at < $2",
                              {CUT_IDLE, CUT_MAX},
                              2},
};

const char *ferry_prune_kind_table(ferry_prune_kind kind)
{
    return kind < FERRY_PRUNE_KIND_COUNT ? kinds[kind].table : "";
}

int64_t ferry_prune_counts_total(const ferry_prune_counts *c)
{
    int64_t n = 0;

    for (int k = 0; k < FERRY_PRUNE_KIND_COUNT; k++)
        n += c->rows[k];
    return n;
}

/* The time ms before now, or 0 (SQL NULL: no row is older) when kept forever. */
static int64_t before(int64_t now, int64_t keep_ms)
{
    return keep_ms > 0 && now > keep_ms ? now - keep_ms : 0;
}

/* Sets p[0..) to kind k's cut-offs; returns how many. */
static int kind_params(const struct kind *k, const int64_t cut[CUT_COUNT], ferry_prune_param *p)
{
    for (int i = 0; i < k->ncuts; i++) {
        p[i].v = cut[k->cuts[i]];
        p[i].time = true;
    }
    return k->ncuts;
}

static bool pause_between(const ferry_prune_opts *opts)
{
    return opts->pause == NULL || opts->pause(opts->ctx);
}

/* One batch of the change rows of runs past retention.changes: *ret_rows rows deleted,
 * *ret_runs runs left without any and marked pruned at now. */
static ferry_rc changes_batch(ferry_store *st, int64_t cut, int64_t now, int limit,
                              int64_t *ret_rows, int64_t *ret_runs, ferry_err *err)
{
    static const char *const ranges =
        "SELECT run_id, min(seq), max(seq), count(*) FROM (SELECT run_id, seq FROM ferry_changes"
        " WHERE run_id IN (" CHANGE_RUNS("$1") ") ORDER BY run_id, seq LIMIT $2) b"
                                               " GROUP BY run_id ORDER BY run_id";
    int64_t buf[FERRY_PRUNE_BATCH][4]; /* run, first seq, last seq, rows */
    int64_t rows = 0, runs = 0;
    ferry_prune_param p[2] = {{cut, true}, {limit, false}};
    int n = 0;
    ferry_rc rc;

    if ((rc = st->prune->exec(st, "BEGIN", NULL, 0, NULL, err)) != FERRY_OK)
        return rc;
    rc = st->prune->select(st, ranges, p, 2, &buf[0][0], 4, FERRY_PRUNE_BATCH, &n, err);
    for (int i = 0; rc == FERRY_OK && i < n; i++) {
        ferry_prune_param d[3] = {{buf[i][0], false}, {buf[i][1], false}, {buf[i][2], false}};
        ferry_prune_param m[2] = {{buf[i][0], false}, {now, true}};
        int64_t deleted = 0, marked = 0;

        rc = st->prune->exec(st,
                             "DELETE FROM ferry_changes WHERE run_id = $1 AND seq >= $2"
                             " AND seq <= $3",
                             d, 3, &deleted, err);
        if (rc == FERRY_OK)
            rc = st->prune->exec(st,
                                 "UPDATE ferry_runs SET changes_pruned_at = $2 WHERE id = $1"
                                 " AND NOT EXISTS (SELECT 1 FROM ferry_changes"
                                 " WHERE run_id = $1)",
                                 m, 2, &marked, err);
        rows += deleted;
        runs += marked;
    }
    if (rc == FERRY_OK)
        rc = st->prune->exec(st, "COMMIT", NULL, 0, NULL, err);
    if (rc != FERRY_OK) {
        ferry_err ignored;
        (void)st->prune->exec(st, "ROLLBACK", NULL, 0, NULL, &ignored);
        return rc;
    }
    *ret_rows = rows;
    *ret_runs = runs;
    return FERRY_OK;
}

/* Prunes (or counts) kind k into c; *stopped when the pause said to stop. */
static ferry_rc prune_kind(ferry_store *st, ferry_prune_kind kind, const int64_t cut[CUT_COUNT],
                           int64_t now, const ferry_prune_opts *opts, int limit,
                           ferry_prune_counts *c, bool *stopped, ferry_err *err)
{
    const struct kind *k = &kinds[kind];
    ferry_prune_param p[4];
    int np = kind_params(k, cut, p);
    char sql[4096];
    ferry_rc rc;

    if (opts->dry_run) {
        int64_t got[2] = {0, 0};
        int n = 0;
        snprintf(sql, sizeof(sql), "SELECT count(*), %s FROM %s WHERE %s",
                 kind == FERRY_PRUNE_CHANGES ? "count(DISTINCT run_id)" : "0", k->table, k->where);
        if ((rc = st->prune->select(st, sql, p, np, got, 2, 1, &n, err)) != FERRY_OK)
            return rc;
        c->rows[kind] += got[0];
        c->change_runs += got[1];
        return FERRY_OK;
    }
    snprintf(sql, sizeof(sql),
             "DELETE FROM %s WHERE (%s) IN (SELECT %s FROM %s WHERE %s LIMIT $%d)", k->table,
             k->keys, k->keys, k->table, k->where, np + 1);
    p[np].v = limit;
    p[np].time = false;
    for (;;) {
        int64_t rows = 0, runs = 0;
        if (kind == FERRY_PRUNE_CHANGES)
            rc = changes_batch(st, cut[CUT_CHANGES], now, limit, &rows, &runs, err);
        else
            rc = st->prune->exec(st, sql, p, np + 1, &rows, err);
        if (rc != FERRY_OK)
            return rc;
        c->rows[kind] += rows;
        c->change_runs += runs;
        if (rows == 0)
            return FERRY_OK;
        if (!pause_between(opts)) {
            *stopped = true;
            return FERRY_OK;
        }
    }
}

ferry_rc ferry_store_prune(ferry_store *st, const ferry_prune_policy *policy, int64_t now_ms,
                           const ferry_prune_opts *opts, ferry_prune_counts *ret, ferry_err *err)
{
    int64_t cut[CUT_COUNT];
    int limit =
        opts->batch > 0 && opts->batch <= FERRY_PRUNE_BATCH ? opts->batch : FERRY_PRUNE_BATCH;
    bool sessions = policy->session_idle_ms > 0 && policy->session_max_ms > 0, stopped = false;

    memset(ret, 0, sizeof(*ret));
    cut[CUT_CHANGES] = before(now_ms, policy->changes_ms);
    cut[CUT_RUNS] = before(now_ms, policy->runs_ms);
    cut[CUT_AUDIT] = before(now_ms, policy->audit_ms);
    cut[CUT_FIRES] = before(now_ms, FIRES_KEEP_MS);
    cut[CUT_IDLE] = sessions ? before(now_ms, policy->session_idle_ms) : 0;
    cut[CUT_MAX] = sessions ? before(now_ms, policy->session_max_ms) : 0;
    for (int k = 0; k < FERRY_PRUNE_KIND_COUNT && !stopped; k++) {
        ferry_rc rc =
            prune_kind(st, (ferry_prune_kind)k, cut, now_ms, opts, limit, ret, &stopped, err);
        if (rc != FERRY_OK) {
            ferry_err_prefix(err, "pruning %s", kinds[k].table);
            return rc;
        }
    }
    return FERRY_OK;
}
