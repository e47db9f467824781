/* api_events.c - GET /api/events: Server-Sent Events from the event hub.
 *
 * The response is produced by a content-reader callback. When it has nothing to send it
 * marks the stream idle, suspends the connection and returns 0; the hub's notify callback
 * (from a publishing thread) resumes idle streams. The stream's lock makes "check for
 * events, then suspend" and "mark pending, then resume" exclude each other, so no wake-up is
 * lost. A stream starts after Last-Event-ID (or the newest event, also when Last-Event-ID is
 * above it: ids start at 1 in each process) and sends a heartbeat comment when
 * ferry_server_heartbeat() finds nothing else to say.
 *
 * A stream keeps the stored form of the credential it was opened with and checks it again
 * when a session or user changed in this process, and at every heartbeat: a revoked session
 * or token, or a disabled user, ends the stream. */
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

#define SSE_BATCH 64
#define IDLE_KEEP 4096 /* bytes of buffer an idle stream may keep */

typedef struct {
    struct ferry_server *server;
    struct MHD_Connection *conn;
    ferry_hub_sub *sub;
    pthread_mutex_t lock; /* protects suspended, pending, closed */
    bool suspended;
    bool pending;
    bool closed;
    uint64_t last_id;
    uint64_t heartbeat_seen;
    uint64_t auth_seen;                   /* srv->auth_gen at the last credential check */
    ferry_http_auth_kind kind;            /* how the credential was given */
    char cred_hash[FERRY_TOKEN_HASH_HEX]; /* a session's or token's stored form */
    char *user;                           /* FERRY_HTTP_AUTH_HEADER: the user */
    ferry_embed_claims *embed;            /* FERRY_HTTP_AUTH_EMBED: its claims (owned) */
    char *sync;                           /* ?sync= filter, or NULL */
    ferry_buf out;                        /* formatted, not yet sent */
    ferry_buf unfiltered;                 /* a limited embed token's events before its filter */
    size_t out_pos;
} sse_stream;

static void sse_notify(void *ctx)
{
    sse_stream *s = ctx;

    pthread_mutex_lock(&s->lock);
    s->pending = true;
    if (s->suspended && !s->closed) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
    pthread_mutex_unlock(&s->lock);
}

/* Appends to out the events of in (text/event-stream blocks, each with one data line of a
 * run's JSON) that the embed token's syncs and tenants claims allow. */
static void events_filter(const ferry_embed_claims *c, const ferry_buf *in, ferry_buf *out)
{
    const char *p = in->data, *end = in->data + in->len;

    while (p < end) {
        const char *stop = memmem(p, (size_t)(end - p), "\n\n", 2);
        const char *data = memmem(p, (size_t)((stop != NULL ? stop : end) - p), "data: ", 6);
        const char *line_end;
        json_t *run;

        stop = stop != NULL ? stop + 2 : end;
        if (data != NULL) {
            data += 6;
            line_end = memchr(data, '\n', (size_t)(stop - data));
            run = json_loadb(data, (size_t)((line_end != NULL ? line_end : stop) - data), 0, NULL);
            if (run != NULL &&
                ferry_embed_claims_allow(c, json_string_value(json_object_get(run, "sync")),
                                         json_string_value(json_object_get(run, "tenant"))))
                ferry_buf_append(out, p, (size_t)(stop - p));
            json_decref(run);
        }
        p = stop;
    }
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    sse_stream *s = cls;
    uint64_t gen;
    size_t n;

    (void)pos;
    /* A stopping server sends what was published before it stopped (the last state of each
     * run), then ends the stream (below, when nothing is left). */
    if (s->out_pos == s->out.len) {
        uint64_t auth = atomic_load(&s->server->auth_gen);
        gen = atomic_load(&s->server->heartbeat_gen);
        /* A logout, a password change or a disabled user ends the stream: checked when this
         * process changed a session or user, and at each heartbeat (another process may
         * have). */
        if (auth != s->auth_seen || gen != s->heartbeat_seen) {
            s->auth_seen = auth;
            if (!ferry_http_gate_credential_is_valid(s->server, s->kind, s->cred_hash, s->user,
                                                     s->embed != NULL ? s->embed->exp : 0))
                return MHD_CONTENT_READER_END_OF_STREAM;
        }
        ferry_buf_reset(&s->out);
        s->out_pos = 0;
        pthread_mutex_lock(&s->lock);
        s->pending = false;
        pthread_mutex_unlock(&s->lock);
        if (s->embed != NULL && (s->embed->limit_syncs || s->embed->limit_tenants)) {
            ferry_buf_reset(&s->unfiltered);
            ferry_hub_read(s->server->opt.hub, s->last_id, s->sync, SSE_BATCH, &s->unfiltered,
                           &s->last_id);
            events_filter(s->embed, &s->unfiltered, &s->out);
        } else {
            ferry_hub_read(s->server->opt.hub, s->last_id, s->sync, SSE_BATCH, &s->out,
                           &s->last_id);
        }
        if (s->out.len == 0 && gen != s->heartbeat_seen)
            ferry_buf_printf(&s->out, ": heartbeat\n\n");
        s->heartbeat_seen = gen;
    }
    if (s->out_pos == s->out.len) {
        bool stopping;
        /* Nothing left to send: an idle stream keeps no copy of what it sent (a run.finished
         * with its activity log is tens of KiB, times every open stream). */
        if (s->out.cap > IDLE_KEEP) {
            size_t limit = s->out.max;
            ferry_buf_done(&s->out);
            ferry_buf_init(&s->out, limit);
            s->out_pos = 0;
        }
        if (s->unfiltered.cap > IDLE_KEEP) {
            size_t limit = s->unfiltered.max;
            ferry_buf_done(&s->unfiltered);
            ferry_buf_init(&s->unfiltered, limit);
        }
        /* stopping is read again under the lock: ferry_server_stop() sets it before the notify
         * that resumes idle streams, so a stream never suspends after that notify (a stream
         * left suspended makes MHD_stop_daemon() abort). */
        pthread_mutex_lock(&s->lock);
        stopping = atomic_load(&s->server->stopping);
        if (!s->pending && !stopping) {
            s->suspended = true;
            MHD_suspend_connection(s->conn);
        }
        pthread_mutex_unlock(&s->lock);
        return stopping ? MHD_CONTENT_READER_END_OF_STREAM : 0;
    }
    n = s->out.len - s->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, s->out.data + s->out_pos, n);
    s->out_pos += n;
    return (ssize_t)n;
}

/* Frees a stream's memory: all of a stream that never subscribed; sse_free's last step. */
static void sse_free_early(sse_stream *s)
{
    ferry_buf_done(&s->out);
    ferry_buf_done(&s->unfiltered);
    free(s->sync);
    free(s->user);
    ferry_embed_claims_done(s->embed);
    free(s->embed);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static void sse_free(void *cls)
{
    sse_stream *s = cls;

    pthread_mutex_lock(&s->lock);
    s->closed = true;
    pthread_mutex_unlock(&s->lock);
    ferry_hub_unsubscribe(s->server->opt.hub, s->sub);
    atomic_fetch_sub(&s->server->streams, 1);
    sse_free_early(s);
}

enum MHD_Result ferry_http_get_events(struct ferry_server *srv, struct MHD_Connection *conn,
                                      request *req)
{
    const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    const char *sync = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sync");
    struct MHD_Response *resp;
    enum MHD_Result ret;
    sse_stream *s;
    ferry_err err;

    if (sync != NULL && !ferry_http_request_may_touch(srv, conn, req, sync, NULL, false, &ret))
        return ret;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return MHD_NO;
    s->server = srv;
    s->conn = conn;
    pthread_mutex_init(&s->lock, NULL);
    ferry_buf_init(&s->out, 4 * 1024 * 1024);
    s->sync = sync != NULL ? strdup(sync) : NULL;
    s->last_id = ferry_hub_last_id(srv->opt.hub);
    if (last != NULL) {
        char *end;
        unsigned long long v = strtoull(last, &end, 10);
        /* An id above the newest was given by an earlier process (ids start at 1 in each):
         * such a stream starts at the newest event, as without Last-Event-ID. */
        if (*last != '\0' && *end == '\0' && v <= s->last_id)
            s->last_id = v;
    }
    s->heartbeat_seen = atomic_load(&srv->heartbeat_gen);
    s->auth_seen = atomic_load(&srv->auth_gen);
    s->kind = req->auth_kind;
    memcpy(s->cred_hash, req->cred_hash, sizeof(s->cred_hash));
    s->embed = req->embed; /* the stream outlives the request: the claims move to it */
    req->embed = NULL;
    ferry_buf_init(&s->unfiltered, 4 * 1024 * 1024);
    if (s->kind == FERRY_HTTP_AUTH_HEADER && (s->user = strdup(req->who.user)) == NULL) {
        sse_free_early(s);
        return MHD_NO;
    }
    ferry_buf_printf(&s->out, "retry: 2000\n\n");
    ferry_err_clear(&err);
    if (ferry_hub_subscribe(srv->opt.hub, sse_notify, s, &s->sub, &err) != FERRY_OK) {
        sse_free_early(s);
        return ferry_http_reply_err(conn, &err);
    }
    atomic_fetch_add(&srv->streams, 1); /* sse_free takes it back */
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_reader, s, sse_free);
    if (resp == NULL) {
        sse_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0);
    ret = ferry_http_queue(conn, MHD_HTTP_OK, resp);
    ferry_http_request_unpin(srv, req); /* a stream lasts: it must not keep a reloaded config */
    return ret;
}
