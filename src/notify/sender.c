/* sender.c - the threads of `ferry serve` that deliver the outbox.
 *
 * SENDERS threads, each with a store connection and an HTTP client of its own (claims are
 * atomic, so they never send one delivery twice; a change feed's next batch exists only once
 * the one before it was delivered, so batches stay in order). It claims the delivery
 * due first (a lease of LEASE_MS: another process takes it over only if this one died), finds
 * its endpoint in the config (the run's sync's notify:, or the top level's, by index), builds
 * the body from the store, signs it and sends it; then records the attempt and the next state
 * in one write. Nothing here touches a run: a failed delivery never fails a run, and runs
 * never wait for a delivery.
 *
 * A webhook is a POST with Content-Type application/json, Ferry-Delivery (the delivery id,
 * the same on every attempt), Ferry-Signature (t=UNIX,v1=HEX: HMAC-SHA256 of "T.BODY" with
 * the endpoint's secret), User-Agent Ferry; 10 s at most; redirects are not followed (a 3xx
 * is a failed attempt) and the destination policy of sources applies (allow_private,
 * allow_hosts). A 2xx is delivered. Anything else is an attempt recorded with its status or
 * error (URLs without credentials or query: ferry_url_redact), and the next one is scheduled
 * after notify_retry_base doubled per failure (at most an hour, with up to a quarter of
 * jitter) until 24 h after the delivery was made, when it is given up (failed).
 *
 * Threads: each sender's state is its own (its store, client and jitter seed); they share
 * the live config (each delivery acquires the current one and releases it once its attempt
 * is made, so a reload's endpoints apply from the next delivery) and the stop flag (atomic), which
 * ferry_notify_stop() sets and signals under the lock of the condition they wait on. */
#include "notify/notify.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "events/metrics.h"
#include "notify/body.h"
#include "util/backoff.h"
#include "util/http_fetch.h"
#include "util/log.h"
#include "util/smtp.h"
#include "util/timeutil.h"
#include "util/url.h"

#define LEASE_MS (2L * 60 * 1000)
#define TIMEOUT_MS (10L * 1000)
#define RETRY_CAP_MS (3600L * 1000)
#define IDLE_WAIT_MS 500
#define ANSWER_MAX (64 * 1024)
#define SENDERS 2 /* threads: an endpoint that times out does not hold up every other one */

struct ferry_notify {
    ferry_config_live *live; /* acquired per delivery */
    pthread_t threads[SENDERS];
    int nthreads;
    pthread_mutex_t lock; /* protects wake */
    pthread_cond_t wake;
    atomic_bool stop;
};

/* The lower-case hex HMAC-SHA256 of "T.BODY" with secret, into hex (65 bytes). */
static void hmac_hex(const char *secret, int64_t t, const char *body, size_t len, char *hex)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char ts[32];

    snprintf(ts, sizeof(ts), "%lld.", (long long)t);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, 2 * crypto_auth_hmacsha256_BYTES + 1, mac, sizeof(mac));
    sodium_memzero(&st, sizeof(st));
}

void ferry_notify_sign(const char *secret, const char *previous, int64_t t, const char *body,
                       size_t len, char *out)
{
    char hex[2 * crypto_auth_hmacsha256_BYTES + 1], old[sizeof(hex)] = "";

    hmac_hex(secret, t, body, len, hex);
    if (previous != NULL)
        hmac_hex(previous, t, body, len, old);
    snprintf(out, FERRY_NOTIFY_SIGNATURE_MAX, "t=%lld,v1=%s%s%s", (long long)t, hex,
             previous != NULL ? ",v1=" : "", old);
}

/* What one attempt came to. */
typedef struct {
    int status;                    /* HTTP status or SMTP code, 0 when none */
    char error[FERRY_ERR_MSG_MAX]; /* empty when delivered */
    bool more;                     /* records: another batch follows */
    int64_t end;                   /* records: the seq where the next batch starts */
} outcome;

/* POSTs body to the webhook e, signed. */
static void post(ferry_notify *n, const ferry_config *cfg, ferry_http_client *http,
                 const ferry_notify_spec *e, const ferry_delivery *d, const char *body,
                 outcome *out)
{
    ferry_net_policy policy = {cfg->allow_private, cfg->allow_hosts, cfg->nallow_hosts};
    char sig[FERRY_NOTIFY_SIGNATURE_MAX], h_sig[FERRY_NOTIFY_SIGNATURE_MAX + 32], h_id[96];
    char where[512];
    const char *headers[] = {"Content-Type: application/json", h_id, h_sig, "User-Agent: Ferry",
                             NULL};
    ferry_http_request req;
    ferry_http_response resp;
    ferry_err err;

    ferry_notify_sign(e->secret, e->previous_secret, ferry_time_now_ms() / 1000, body, strlen(body),
                      sig);
    snprintf(h_sig, sizeof(h_sig), "Ferry-Signature: %s", sig);
    snprintf(h_id, sizeof(h_id), "Ferry-Delivery: %s", d->id);
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = e->url;
    req.headers = headers;
    req.body = body;
    req.timeout_ms = TIMEOUT_MS;
    req.connect_timeout_ms = TIMEOUT_MS;
    req.low_speed_time_s = 10;
    req.max_bytes = ANSWER_MAX;
    req.cancel = &n->stop;
    req.policy = &policy;
    memset(&resp, 0, sizeof(resp));
    ferry_err_clear(&err);
    ferry_url_redact(e->url, where, sizeof(where));
    if (ferry_http_client_fetch(http, &req, &resp, &err) != FERRY_OK) {
        snprintf(out->error, sizeof(out->error), "%s", err.msg);
        ferry_http_response_done(&resp);
        return;
    }
    out->status = (int)resp.status;
    if (resp.status >= 300 && resp.status < 400)
        snprintf(out->error, sizeof(out->error),
                 "%s answered %ld (a redirect, not followed: give the final URL)", where,
                 resp.status);
    else if (resp.status < 200 || resp.status >= 300)
        snprintf(out->error, sizeof(out->error), "%s answered %ld", where, resp.status);
    ferry_http_response_done(&resp);
}

/* Sends the e-mail of run to e's recipients through smtp:. */
static void mail(const ferry_config *cfg, ferry_store *st, const ferry_notify_spec *e,
                 const ferry_sync_spec *sync, const ferry_run *run, outcome *out)
{
    const ferry_smtp_spec *s = &cfg->smtp;
    ferry_smtp_server srv = {s->url, NULL, NULL, s->from, s->ca_file, !s->starttls, TIMEOUT_MS * 3};
    char *subject = NULL, *text = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    /* The login is read from the environment now: the config holds no secret. */
    if (s->user_env != NULL && s->password_env != NULL) {
        srv.user = getenv(s->user_env);
        srv.password = getenv(s->password_env);
        if (srv.user == NULL || srv.password == NULL) {
            snprintf(out->error, sizeof(out->error),
                     "the environment variables %s and %s must hold the SMTP login", s->user_env,
                     s->password_env);
            return;
        }
    }
    if (ferry_notify_email_text(st, cfg, sync, run, &subject, &text, &err) != FERRY_OK ||
        ferry_smtp_send(&srv, (const char *const *)e->to, e->nto, subject, text, &err) != FERRY_OK)
        snprintf(out->error, sizeof(out->error), "%s", err.msg);
    free(subject);
    free(text);
}

/* Makes one attempt at d with cfg's endpoints; out says how it went. */
static void attempt(ferry_notify *n, const ferry_config *cfg, ferry_store *st,
                    ferry_http_client *http, const ferry_delivery *d, outcome *out)
{
    const ferry_sync_spec *sync;
    const ferry_notify_list *list;
    const ferry_notify_spec *e;
    ferry_run run;
    char *body = NULL;
    bool last = true;
    ferry_err err;

    memset(out, 0, sizeof(*out));
    ferry_err_clear(&err);
    if (st->runs->run_load(st, d->run_id, &run, &err) != FERRY_OK) {
        snprintf(out->error, sizeof(out->error), "%s", err.msg);
        return;
    }
    sync = ferry_config_sync_get(cfg, run.sync);
    list = ferry_config_notify_get(cfg, sync);
    e = d->endpoint >= 0 && (size_t)d->endpoint < list->n ? &list->items[d->endpoint] : NULL;
    if (e == NULL || (strcmp(d->kind, "email") == 0) != (e->kind == FERRY_NOTIFY_EMAIL) ||
        e->kind == FERRY_NOTIFY_PG_CHANNEL) {
        snprintf(out->error, sizeof(out->error),
                 "endpoint %d of the sync's notify: is no longer a%s %s in the config", d->endpoint,
                 strcmp(d->kind, "email") == 0 ? "n" : "",
                 strcmp(d->kind, "email") == 0 ? "email" : "webhook");
    } else if (strcmp(d->kind, "email") == 0) {
        mail(cfg, st, e, sync, &run, out);
    } else {
        ferry_rc rc =
            strcmp(d->kind, "records") == 0
                ? ferry_notify_records_body(st, sync, d, e->batch, &body, &last, &out->end, &err)
                : ferry_notify_run_body(st, cfg, d, &run, &body, &err);
        if (rc != FERRY_OK)
            snprintf(out->error, sizeof(out->error), "%s", err.msg);
        else
            post(n, cfg, http, e, d, body, out);
        out->more = strcmp(d->kind, "records") == 0 && !last;
    }
    free(body);
    ferry_run_done(&run);
}

/* Claims and delivers one due delivery. False when none was due (or the store failed). */
static bool deliver_one(ferry_notify *n, ferry_store *st, ferry_http_client *http, unsigned *seed)
{
    ferry_delivery d;
    ferry_delivery_result r;
    outcome out;
    int64_t t0;
    ferry_err err;
    ferry_rc rc;

    memset(&d, 0, sizeof(d));
    ferry_err_clear(&err);
    rc = st->outbox->delivery_claim(st, LEASE_MS, &d, &err);
    if (rc == FERRY_DONE)
        return false;
    if (rc != FERRY_OK) {
        ferry_log(FERRY_LOG_WARN, "msg=\"claiming a delivery failed\" error=\"%s\"", err.msg);
        return false;
    }
    t0 = ferry_time_now_ms();
    const ferry_config *cfg = ferry_config_live_acquire(n->live); /* for this delivery */
    attempt(n, cfg, st, http, &d, &out);
    memset(&r, 0, sizeof(r));
    r.at_ms = t0;
    r.duration_ms = ferry_time_now_ms() - t0;
    r.status = out.status;
    r.error = out.error[0] != '\0' ? out.error : NULL;
    if (r.error == NULL) {
        r.next = FERRY_DELIVERY_DELIVERED;
        r.more = out.more;
        r.next_from_seq = out.end;
    } else if (atomic_load(&n->stop)) { /* cut short by a stop: the next server sends it */
        r.next = FERRY_DELIVERY_PENDING;
        r.next_at_ms = ferry_time_now_ms();
    } else {
        r.next_at_ms = ferry_time_now_ms() + ferry_backoff_ms(cfg->notify_retry_base_ms,
                                                              RETRY_CAP_MS, d.attempts + 1, seed);
        r.next = r.next_at_ms > d.give_up_at_ms ? FERRY_DELIVERY_FAILED : FERRY_DELIVERY_PENDING;
    }
    ferry_config_live_release(n->live, cfg);
    if (r.error != NULL)
        ferry_log(FERRY_LOG_WARN,
                  "msg=\"delivery failed\" delivery=%s run=%lld kind=%s attempt=%d status=%d "
                  "error=\"%s\" next=%s",
                  d.id, (long long)d.run_id, d.kind, d.attempts + 1, r.status, r.error,
                  r.next == FERRY_DELIVERY_FAILED ? "gave_up" : "retry");
    else
        ferry_log(FERRY_LOG_INFO, "msg=\"delivered\" delivery=%s run=%lld kind=%s seq=%lld", d.id,
                  (long long)d.run_id, d.kind, (long long)d.seq);
    ferry_err_clear(&err);
    if (st->outbox->delivery_record(st, &d, &r, &err) != FERRY_OK)
        ferry_log(FERRY_LOG_WARN, "msg=\"recording a delivery failed\" delivery=%s error=\"%s\"",
                  d.id, err.msg);
    ferry_metrics_delivery_attempt(r.next == FERRY_DELIVERY_DELIVERED ? FERRY_METRICS_DELIVERED
                                   : r.next == FERRY_DELIVERY_FAILED  ? FERRY_METRICS_ABANDONED
                                                                      : FERRY_METRICS_RETRIED);
    ferry_delivery_done(&d);
    return true;
}

static void idle(ferry_notify *n, long ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (ms % 1000) * 1000000L;
    until.tv_sec += ms / 1000 + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&n->lock);
    if (!atomic_load(&n->stop))
        pthread_cond_timedwait(&n->wake, &n->lock, &until);
    pthread_mutex_unlock(&n->lock);
}

static void *sender_main(void *arg)
{
    ferry_notify *n = arg;
    ferry_store *st = NULL;
    ferry_http_client *http = NULL;
    unsigned seed = (unsigned)ferry_time_mono_ms() ^ ((unsigned)getpid() << 16) ^
                    (unsigned)(uintptr_t)&seed; /* the jitter's, this thread's own */
    ferry_err err;

    ferry_err_clear(&err);
    const ferry_config *cfg = ferry_config_live_acquire(n->live); /* database: as at start */
    while (!atomic_load(&n->stop) &&
           ferry_store_open(cfg->database, cfg->dir, &st, &err) != FERRY_OK) {
        ferry_log(FERRY_LOG_ERROR, "msg=\"the sender cannot open the store\" error=\"%s\"",
                  err.msg);
        ferry_err_clear(&err);
        idle(n, 5000);
    }
    ferry_config_live_release(n->live, cfg);
    if (st != NULL && ferry_http_client_new(&http, &err) != FERRY_OK)
        ferry_log(FERRY_LOG_ERROR, "msg=\"the sender has no HTTP client\" error=\"%s\"", err.msg);
    while (http != NULL && !atomic_load(&n->stop)) {
        if (!deliver_one(n, st, http, &seed))
            idle(n, IDLE_WAIT_MS);
    }
    ferry_http_client_free(http);
    ferry_store_close(st);
    return NULL;
}

ferry_rc ferry_notify_start(ferry_config_live *live, ferry_notify **ret, ferry_err *err)
{
    ferry_notify *n = calloc(1, sizeof(*n));

    if (n == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "starting the sender");
    n->live = live;
    atomic_init(&n->stop, false);
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->wake, NULL);
    if (sodium_init() < 0) {
        ferry_notify_stop(n);
        return ferry_err_set(err, FERRY_ENOMEM, "starting the senders: libsodium failed");
    }
    for (int i = 0; i < SENDERS; i++) {
        if (pthread_create(&n->threads[i], NULL, sender_main, n) != 0) {
            ferry_notify_stop(n); /* joins those started */
            return ferry_err_set(err, FERRY_ENOMEM, "starting the sender threads");
        }
        n->nthreads++;
    }
    *ret = n;
    return FERRY_OK;
}

void ferry_notify_stop(ferry_notify *n)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->lock);
    atomic_store(&n->stop, true);
    pthread_cond_broadcast(&n->wake);
    pthread_mutex_unlock(&n->lock);
    for (int i = 0; i < n->nthreads; i++)
        pthread_join(n->threads[i], NULL);
    pthread_cond_destroy(&n->wake);
    pthread_mutex_destroy(&n->lock);
    free(n);
}
