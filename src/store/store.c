/* store.c - opens the store implementation named by the database setting and closes it, and
 * the parts of the store the implementations share (store/internal.h): this process's node
 * id, which lease owners are dead processes of this host, the rule and the messages for a run
 * whose process stopped, and the tally of failure reasons. */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/internal.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

ferry_rc ferry_database_sqlite_path(const char *database, const char *base_dir, char *out,
                                    size_t outlen, ferry_err *err)
{
    const char *p = database + 7; /* after "sqlite:" */

    if (p[0] == '\0')
        return ferry_err_set(err, FERRY_ECONFIG, "database: 'sqlite:' needs a file path");
    if (p[0] == '/' || base_dir == NULL || strcmp(p, ":memory:") == 0)
        snprintf(out, outlen, "%s", p);
    else
        snprintf(out, outlen, "%s/%s", base_dir, p);
    return FERRY_OK;
}

ferry_rc ferry_store_open(const char *database, const char *base_dir, ferry_store **ret_store,
                          ferry_err *err)
{
    char path[4096];
    ferry_rc rc;

    if (strncmp(database, "sqlite:", 7) == 0) {
        rc = ferry_database_sqlite_path(database, base_dir, path, sizeof(path), err);
        if (rc != FERRY_OK)
            return rc;
        return ferry_sqlite_store_open(path, ret_store, err);
    }
    if (strncmp(database, "postgres://", 11) == 0 || strncmp(database, "postgresql://", 13) == 0)
        return ferry_pg_store_open(database, ret_store, err);
    return ferry_err_set(err, FERRY_ECONFIG,
                         "database: expected sqlite:PATH or postgres://USER@HOST:PORT/DB");
}

void ferry_node_self(char *out, size_t outlen)
{
    char host[256];

    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    snprintf(out, outlen, "%s:%ld", host, (long)getpid());
}

bool ferry_store_owner_is_dead(const char *owner, long *ret_pid)
{
    char me[300];
    const char *colon;
    long pid;

    ferry_node_self(me, sizeof(me));
    colon = strrchr(me, ':');
    if (owner == NULL || colon == NULL || strncmp(owner, me, (size_t)(colon - me + 1)) != 0)
        return false;
    pid = strtol(owner + (colon - me + 1), NULL, 10);
    if (ret_pid != NULL)
        *ret_pid = pid;
    return pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static void interruption_text(const char *cause, int attempt, int retries, int64_t next_id,
                              char *out, size_t outlen)
{
    if (next_id > 0)
        snprintf(out, outlen,
                 "%s; its transaction was rolled back, so nothing was changed; queued again as "
                 "run %lld (attempt %d of %d)",
                 cause, (long long)next_id, attempt + 1, retries + 1);
    else
        snprintf(out, outlen,
                 "%s; its transaction was rolled back, so nothing was changed; it is not started "
                 "again (attempt %d, retries: %d)",
                 cause, attempt, retries);
}

/* The sync's retries by rec (0 without one). */
static int retries_of(const ferry_recovery *rec, const char *sync)
{
    int n;

    if (rec == NULL || rec->retries == NULL)
        return 0;
    n = rec->retries(rec->ctx, sync);
    return n > 0 ? n : 0;
}

void ferry_store_interruption_decide(const ferry_recovery *rec, const ferry_run *run,
                                     ferry_store_interruption *ret)
{
    ret->retries = retries_of(rec, run->sync);
    /* A revert is never run again as a sync: it ends as failed (its transaction rolled back,
     * nothing changed), and can be asked for again. */
    if (run->reverts > 0 || (run->trigger != NULL && strcmp(run->trigger, "revert") == 0))
        ret->retries = 0;
    ret->again = run->attempt <= ret->retries;
}

const char *ferry_store_interruption_status(const ferry_store_interruption *in)
{
    return in->again ? "interrupted" : "failed";
}

void ferry_store_interruption_messages(const ferry_store_interruption *in, const ferry_run *run,
                                       const char *cause, int64_t next_id, char *why, size_t whylen,
                                       char *ui, size_t uilen)
{
    interruption_text(cause, run->attempt, in->retries, next_id, why, whylen);
    snprintf(ui, uilen, "Sync of %s %s: %s.", run->sync, in->again ? "was interrupted" : "failed",
             why);
}

void ferry_store_stale_messages(const char *sync, long pid, char *why, size_t whylen, char *ui,
                                size_t uilen)
{
    snprintf(why, whylen,
             "the process running it (pid %ld) ended before the run finished; its transaction "
             "was rolled back, so nothing was changed",
             pid);
    snprintf(ui, uilen, "Sync of %s was interrupted: %s.", sync, why);
}

void ferry_store_interruption_cause(const char *owner, int64_t lease_ms, char *out, size_t outlen)
{
    if (owner == NULL)
        owner = "unknown";
    if (lease_ms == 0)
        snprintf(out, outlen, "the process running it (%s) ended before the run finished", owner);
    else
        snprintf(out, outlen, "the process running it (%s) sent no heartbeat for %llds, its lease",
                 owner, (long long)(lease_ms / 1000));
}

void ferry_store_announce_interrupted(ferry_store *st, const ferry_recovery *rec, int64_t id,
                                      int64_t next_id)
{
    ferry_run ended, next;
    bool have_next;
    ferry_err err;

    if (rec == NULL || rec->on_interrupted == NULL)
        return;
    ferry_err_clear(&err);
    if (st->runs->run_load(st, id, &ended, &err) != FERRY_OK)
        return;
    have_next = next_id > 0 && st->runs->run_load(st, next_id, &next, &err) == FERRY_OK;
    rec->on_interrupted(rec->ctx, &ended, have_next ? &next : NULL);
    ferry_run_done(&ended);
    if (have_next)
        ferry_run_done(&next);
}

ferry_rc ferry_store_audit_interrupted(ferry_store *st, int64_t id, const char *detail,
                                       ferry_err *err)
{
    ferry_audit_entry audit = {.action = (char *)"run.interrupted", .detail = (char *)detail};
    char target[64];

    snprintf(target, sizeof(target), "run %lld", (long long)id);
    audit.target = target;
    return st->people->audit_add(st, &audit, err);
}

ferry_rc ferry_store_not_held(ferry_store *st, int64_t id, ferry_err *err)
{
    ferry_run run;
    ferry_rc rc = st->runs->run_load(st, id, &run, err);

    if (rc != FERRY_OK)
        return rc;
    rc = ferry_err_set(
        err, FERRY_ECONFLICT,
        "run %lld is %s, not held: only a held run can be approved or rejected%s%s%s",
        (long long)id, ferry_run_status_name(run.status), run.decision != NULL ? " (it was " : "",
        run.decision != NULL ? run.decision : "", run.decision != NULL ? ")" : "");
    ferry_run_done(&run);
    return rc;
}

/* "row 17: email 'bob@' is not an email address" -> "email '...' is not an email address". */
static void normalize_reason(const char *reason, ferry_buf *out)
{
    const char *p = reason;
    bool quoted = false;

    ferry_buf_reset(out);
    if (strncmp(p, "row ", 4) == 0 && strstr(p, ": ") != NULL)
        p = strstr(p, ": ") + 2;
    for (; *p != '\0'; p++) {
        if (*p == '\'') {
            quoted = !quoted;
            ferry_buf_append(out, quoted ? "'..." : "'", quoted ? 4 : 1);
        } else if (!quoted) {
            ferry_buf_append(out, p, 1);
        }
    }
}

void ferry_store_tally_add(ferry_store_tally *t, const char *reason)
{
    ferry_buf norm;
    size_t i;

    if (reason == NULL)
        return;
    ferry_buf_init(&norm, 512);
    normalize_reason(reason, &norm);
    for (i = 0; i < t->n && strcmp(t->seen[i], ferry_buf_str(&norm)) != 0; i++)
        ;
    if (i < t->n)
        t->count[i]++;
    else if (t->n < FERRY_STORE_TALLY_MAX && (t->seen[t->n] = strdup(ferry_buf_str(&norm))) != NULL)
        t->count[t->n++] = 1;
    ferry_buf_done(&norm);
}

void ferry_store_tally_take(ferry_store_tally *t, ferry_sync_stats *out)
{
    /* The most common first: a selection of the top few. */
    while (out->nreasons < FERRY_STATS_REASONS) {
        size_t best = t->n;
        for (size_t i = 0; i < t->n; i++) {
            if (t->seen[i] != NULL && (best == t->n || t->count[i] > t->count[best]))
                best = i;
        }
        if (best == t->n)
            break;
        out->reason[out->nreasons] = t->seen[best];
        out->reason_count[out->nreasons++] = t->count[best];
        t->seen[best] = NULL;
    }
    for (size_t i = 0; i < t->n; i++)
        free(t->seen[i]);
    memset(t, 0, sizeof(*t));
}

void ferry_store_close(ferry_store *st)
{
    if (st != NULL)
        st->close(st);
}

#define TOUCH_EVERY_MS 60000

ferry_rc ferry_store_token_check(const ferry_principal *p, bool revoked, bool disabled, int64_t now,
                                 bool *ret_touch, ferry_err *err)
{
    *ret_touch = false;
    if (revoked)
        return ferry_err_set(err, FERRY_ENOTFOUND, "API token %lld is revoked",
                             (long long)p->token_id);
    if (disabled)
        return ferry_err_set(err, FERRY_ENOTFOUND, "user '%s' is disabled", p->user);
    *ret_touch = p->last_seen_at_ms == 0 || now - p->last_seen_at_ms > TOUCH_EVERY_MS;
    return FERRY_OK;
}

ferry_rc ferry_store_session_check(const ferry_principal *p, bool disabled, int64_t now,
                                   int64_t idle_ms, int64_t max_ms, bool *ret_touch, ferry_err *err)
{
    int64_t touch_every = idle_ms / 4 < TOUCH_EVERY_MS ? idle_ms / 4 : TOUCH_EVERY_MS;
    char limit[64];

    *ret_touch = false;
    if (disabled)
        return ferry_err_set(err, FERRY_ENOTFOUND, "user '%s' is disabled", p->user);
    if (now - p->last_seen_at_ms > idle_ms) {
        ferry_time_format_duration(idle_ms, limit, sizeof(limit));
        return ferry_err_set(err, FERRY_ENOTFOUND,
                             "the session expired (no request for more than %s)", limit);
    }
    if (now - p->created_at_ms > max_ms) {
        ferry_time_format_duration(max_ms, limit, sizeof(limit));
        return ferry_err_set(err, FERRY_ENOTFOUND, "the session expired (older than %s)", limit);
    }
    *ret_touch = now - p->last_seen_at_ms > touch_every;
    return FERRY_OK;
}

void ferry_store_planner_set(ferry_store *st, const ferry_outbox_planner *planner)
{
    if (planner != NULL)
        st->planner = *planner;
    else
        memset(&st->planner, 0, sizeof(st->planner));
}

size_t ferry_store_plan(ferry_store *st, const ferry_run *run, ferry_delivery_plan *out)
{
    if (st->planner.plan == NULL)
        return 0;
    return st->planner.plan(st->planner.ctx, run, out, FERRY_DELIVERY_PLAN_MAX);
}

void ferry_store_delivery_id(char out[FERRY_DELIVERY_ID_SIZE])
{
    unsigned char raw[12];

    randombytes_buf(raw, sizeof(raw));
    memcpy(out, "dlv_", 4);
    sodium_bin2hex(out + 4, FERRY_DELIVERY_ID_SIZE - 4, raw, sizeof(raw));
}

void ferry_store_channel_payload(const ferry_run *run, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "{\"run_id\":%lld,\"sync\":\"", (long long)run->id);

    /* Sync names are identifiers, but escape what JSON needs anyway. */
    for (const char *p = run->sync; p != NULL && *p != '\0' && n + 8 < outlen; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            n += (size_t)snprintf(out + n, outlen - n, "\\%c", c);
        else if (c < 0x20)
            n += (size_t)snprintf(out + n, outlen - n, "\\u%04x", c);
        else
            out[n++] = (char)c;
    }
    snprintf(out + n, outlen - n, "\"}");
}

/* Counts n deliveries of status (a status name) into sum. */
static void summary_count(ferry_delivery_summary *sum, const char *status, int64_t n)
{
    sum->total += n;
    switch (ferry_delivery_status_parse(status)) {
    case FERRY_DELIVERY_DELIVERED:
        sum->delivered += n;
        break;
    case FERRY_DELIVERY_FAILED:
        sum->failed += n;
        break;
    case FERRY_DELIVERY_PENDING:
        sum->pending += n;
        break;
    }
}

void ferry_store_summary_add(const int64_t *run_ids, size_t n, ferry_delivery_summary *sums,
                             int64_t run_id, const char *status, int64_t count)
{
    for (size_t i = 0; i < n; i++)
        if (run_ids[i] == run_id)
            summary_count(&sums[i], status, count);
}

ferry_rc ferry_store_id_array(const int64_t *ids, size_t n, char open, char close, ferry_buf *ret,
                              ferry_err *err)
{
    ferry_rc rc;

    ferry_buf_init(ret, 64 + n * 21);
    rc = ferry_buf_append(ret, &open, 1);
    for (size_t i = 0; i < n && rc == FERRY_OK; i++)
        rc = ferry_buf_printf(ret, "%s%lld", i ? "," : "", (long long)ids[i]);
    if (rc == FERRY_OK)
        rc = ferry_buf_append(ret, &close, 1);
    if (rc != FERRY_OK) {
        ferry_buf_done(ret);
        return ferry_err_set(err, FERRY_ENOMEM, "listing run ids");
    }
    return FERRY_OK;
}

ferry_delivery_attempt *ferry_store_attempt_add(ferry_delivery *d, size_t n, const char *id,
                                                bool *ret_oom)
{
    ferry_delivery_attempt *tries;

    *ret_oom = false;
    for (size_t i = 0; i < n && id != NULL; i++) {
        if (strcmp(d[i].id, id) != 0)
            continue;
        if ((tries = realloc(d[i].tries, (d[i].ntries + 1) * sizeof(*tries))) == NULL) {
            *ret_oom = true;
            return NULL;
        }
        d[i].tries = tries;
        memset(&tries[d[i].ntries], 0, sizeof(*tries));
        return &tries[d[i].ntries++];
    }
    return NULL;
}
