/* guard.c - the HTTP server's connection guard: request deadlines and the connection cap
 * (see internal.h, "guard.c").
 *
 * libmicrohttpd's own connection timeout (idle_timeout) restarts at every byte, so a client
 * sending one header line every few seconds (slowloris) keeps a connection, and with enough of
 * them every slot, for ever. The guard tracks each connection from libmicrohttpd's
 * notify-connection callback, in one of three phases:
 *
 * - head: from the connection's start, or the end of its previous request, until the request
 *   line and headers are in (the access handler's first call). Deadline: HEAD_DEADLINE_MS,
 *   however the bytes trickle in.
 * - body: from then until the body is in. The body must keep a minimum average rate:
 *   BODY_GRACE_MS, plus one second per BODY_MIN_RATE bytes received.
 * - answer: the handler has the request (answering, suspended for a password check, an event
 *   stream). No deadline of the guard's; idle_timeout applies.
 *
 * A thread wakes every SWEEP_MS and closes the connections past their deadline with
 * shutdown(): libmicrohttpd then reads the end of the stream and closes the connection
 * itself, so the guard never frees or closes what libmicrohttpd owns. The guard is told of a
 * connection's end (NOTIFY_CLOSED) before libmicrohttpd closes its socket, and both that and
 * every shutdown() happen under the guard's lock, so the socket shut down is always the
 * connection's own.
 *
 * The cap: libmicrohttpd's connection limit is set above max_connections, and the guard
 * counts open connections itself, in total and per address (a small hash table of peers). A
 * connection that would pass max_connections makes room by closing a connection still in its
 * head phase (a slow client, or an idle keep-alive one): one of the address that holds the
 * most connections, the one waiting longest; when no connection is in its head phase, the new
 * one is closed itself. So clients that hold connections without finishing a request cannot
 * keep a well-behaved one out, and a flood from some addresses closes its own connections
 * first, never the one of a client with fewer. max_connections_per_ip stays libmicrohttpd's.
 *
 * Threads: the callbacks run on libmicrohttpd's threads, the sweep on its own; `lock` guards
 * the list and every watch in it. No lock is held across a callback into libmicrohttpd. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http/internal.h"
#include "util/log.h"

#define HEAD_DEADLINE_MS 10000 /* the request line and headers, whole */
#define BODY_GRACE_MS 10000    /* a body's first seconds, free */
#define BODY_MIN_RATE 1024     /* then at least this many bytes a second, on average */
#define SWEEP_MS 500
#define PEER_BUCKETS 1024 /* hash buckets of the per-address counts */

enum watch_phase { PHASE_HEAD, PHASE_BODY, PHASE_ANSWER };

/* One client address and its connections. */
struct peer {
    struct peer *next; /* in its bucket */
    uint8_t addr[16];  /* IPv4 in the first 4 bytes, or IPv6 */
    size_t open;       /* connections open (not closing) */
    size_t refs;       /* watches pointing here */
};

struct ferry_http_watch {
    struct ferry_http_watch *prev, *next;
    struct peer *peer; /* NULL when the address could not be read */
    int fd;
    enum watch_phase phase;
    int64_t since_ms;    /* when the phase began (monotonic) */
    uint64_t body_bytes; /* received in the body phase */
    bool closing;        /* shut down by the guard; gone at NOTIFY_CLOSED */
};

struct ferry_http_guard {
    pthread_mutex_t lock; /* protects everything below and every watch in the list */
    pthread_cond_t wake;  /* signalled to stop the sweep */
    struct ferry_http_watch *head;
    struct peer *peers[PEER_BUCKETS];
    size_t open;      /* watches not closing */
    size_t max_open;  /* max_connections */
    uint64_t evicted; /* closed to make room, since the last log line */
    uint64_t overdue; /* closed at their deadline, since the last log line */
    uint64_t refused; /* closed on arrival (no room), since the last log line */
    bool stop;
    bool joined; /* the sweep thread has ended (not under the lock: the stopping thread's) */
    pthread_t thread;
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The bucket of addr in the peers' table. */
static size_t peer_bucket(const uint8_t addr[16])
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (int i = 0; i < 16; i++)
        h = (h ^ addr[i]) * 16777619u;
    return h % PEER_BUCKETS;
}

/* The peer of addr, made when missing (lock held); NULL when out of memory. */
static struct peer *peer_get(ferry_http_guard *g, const uint8_t addr[16])
{
    size_t b = peer_bucket(addr);
    struct peer *p;

    for (p = g->peers[b]; p != NULL; p = p->next) {
        if (memcmp(p->addr, addr, 16) == 0)
            return p;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return NULL;
    memcpy(p->addr, addr, 16);
    p->next = g->peers[b];
    g->peers[b] = p;
    return p;
}

/* Drops a watch's reference to p, freeing it with the last (lock held). */
static void peer_put(ferry_http_guard *g, struct peer *p)
{
    if (p == NULL || --p->refs > 0)
        return;
    for (struct peer **link = &g->peers[peer_bucket(p->addr)]; *link != NULL;
         link = &(*link)->next) {
        if (*link == p) {
            *link = p->next;
            free(p);
            return;
        }
    }
}

/* Closes w's connection (lock held). */
static void watch_close(ferry_http_guard *g, struct ferry_http_watch *w)
{
    if (w->closing)
        return;
    shutdown(w->fd, SHUT_RDWR);
    w->closing = true;
    g->open--;
    if (w->peer != NULL)
        w->peer->open--;
}

/* The connection to close to make room for w (lock held): in its head phase, of the address
 * with the most open connections, waiting longest; NULL when none is in its head phase. */
static struct ferry_http_watch *eviction_victim(ferry_http_guard *g,
                                                const struct ferry_http_watch *w)
{
    struct ferry_http_watch *best = NULL;

    for (struct ferry_http_watch *o = g->head; o != NULL; o = o->next) {
        size_t n = o->peer != NULL ? o->peer->open : 1;
        size_t bn = best != NULL && best->peer != NULL ? best->peer->open : 1;
        if (o == w || o->closing || o->phase != PHASE_HEAD)
            continue;
        if (best == NULL || n > bn || (n == bn && o->since_ms < best->since_ms))
            best = o;
    }
    return best;
}

/* The moment w's phase ends, or INT64_MAX when it has no deadline. */
static int64_t watch_deadline(const struct ferry_http_watch *w)
{
    switch (w->phase) {
    case PHASE_HEAD:
        return w->since_ms + HEAD_DEADLINE_MS;
    case PHASE_BODY:
        return w->since_ms + BODY_GRACE_MS + (int64_t)(w->body_bytes * 1000 / BODY_MIN_RATE);
    default:
        return INT64_MAX;
    }
}

/* Logs what was closed since the last line, if anything (lock held on entry and return; it
 * is released while the line is written). */
static void log_counts(ferry_http_guard *g)
{
    uint64_t overdue = g->overdue, evicted = g->evicted, refused = g->refused;
    size_t open = g->open;

    if (overdue + evicted + refused == 0)
        return;
    g->overdue = g->evicted = g->refused = 0;
    pthread_mutex_unlock(&g->lock);
    ferry_log(FERRY_LOG_WARN,
              "msg=\"connections closed\" too_slow=%llu to_make_room=%llu no_room=%llu open=%zu",
              (unsigned long long)overdue, (unsigned long long)evicted, (unsigned long long)refused,
              open);
    pthread_mutex_lock(&g->lock);
}

static void *sweep_main(void *arg)
{
    ferry_http_guard *g = arg;
    struct timespec until;

    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        int64_t now = mono_ms();
        for (struct ferry_http_watch *w = g->head; w != NULL; w = w->next) {
            if (!w->closing && now > watch_deadline(w)) {
                watch_close(g, w);
                g->overdue++;
            }
        }
        log_counts(g);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SWEEP_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!g->stop && pthread_cond_timedwait(&g->wake, &g->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

ferry_rc ferry_http_guard_start(size_t max_connections, ferry_http_guard **ret_guard,
                                ferry_err *err)
{
    ferry_http_guard *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the connection guard");
    g->max_open = max_connections;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    if (pthread_create(&g->thread, NULL, sweep_main, g) != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return ferry_err_set(err, FERRY_EIO, "starting the connection guard's thread");
    }
    *ret_guard = g;
    return FERRY_OK;
}

void ferry_http_guard_stop(ferry_http_guard *g)
{
    if (g == NULL || g->joined)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    g->joined = true;
}

void ferry_http_guard_free(ferry_http_guard *g)
{
    if (g == NULL)
        return;
    ferry_http_guard_stop(g);
    /* The daemon has stopped: every connection was closed and its watch freed. */
    while (g->head != NULL) {
        struct ferry_http_watch *w = g->head;
        g->head = w->next;
        free(w);
    }
    for (size_t b = 0; b < PEER_BUCKETS; b++) {
        while (g->peers[b] != NULL) {
            struct peer *p = g->peers[b];
            g->peers[b] = p->next;
            free(p);
        }
    }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

void ferry_http_guard_notify_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode toe)
{
    ferry_http_guard *g = cls;
    struct ferry_http_watch *w = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (w == NULL)
            return;
        pthread_mutex_lock(&g->lock);
        if (!w->closing) {
            g->open--;
            if (w->peer != NULL)
                w->peer->open--;
        }
        peer_put(g, w->peer);
        if (w->prev != NULL)
            w->prev->next = w->next;
        else
            g->head = w->next;
        if (w->next != NULL)
            w->next->prev = w->prev;
        pthread_mutex_unlock(&g->lock);
        free(w);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *client =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    uint8_t addr[16] = {0};
    bool has_addr = false;
    if (info == NULL || (w = calloc(1, sizeof(*w))) == NULL)
        return; /* not watched: libmicrohttpd's own limits still hold */
    if (client != NULL && client->client_addr != NULL &&
        client->client_addr->sa_family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)client->client_addr)->sin_addr, 4);
        has_addr = true;
    } else if (client != NULL && client->client_addr != NULL &&
               client->client_addr->sa_family == AF_INET6) {
        memcpy(addr, &((const struct sockaddr_in6 *)client->client_addr)->sin6_addr, 16);
        has_addr = true;
    }
    w->fd = info->connect_fd;
    w->phase = PHASE_HEAD;
    w->since_ms = mono_ms();
    pthread_mutex_lock(&g->lock);
    if (has_addr && (w->peer = peer_get(g, addr)) != NULL) {
        w->peer->refs++;
        w->peer->open++;
    }
    w->next = g->head;
    if (g->head != NULL)
        g->head->prev = w;
    g->head = w;
    g->open++;
    if (g->open > g->max_open) {
        struct ferry_http_watch *victim = eviction_victim(g, w);
        if (victim != NULL) {
            watch_close(g, victim);
            g->evicted++;
        } else {
            watch_close(g, w);
            g->refused++;
        }
    }
    pthread_mutex_unlock(&g->lock);
    *socket_context = w;
}

/* The watch of conn, or NULL when it has none. */
static struct ferry_http_watch *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info != NULL ? info->socket_context : NULL;
}

static void set_phase(ferry_http_guard *g, struct MHD_Connection *conn, enum watch_phase phase)
{
    struct ferry_http_watch *w = watch_of(conn);

    if (w == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    if (w->phase != phase) {
        w->phase = phase;
        w->since_ms = mono_ms();
        w->body_bytes = 0;
    }
    pthread_mutex_unlock(&g->lock);
}

void ferry_http_guard_head_done(ferry_http_guard *g, struct MHD_Connection *conn)
{
    set_phase(g, conn, PHASE_BODY);
}

void ferry_http_guard_body_read(ferry_http_guard *g, struct MHD_Connection *conn, size_t n)
{
    struct ferry_http_watch *w = watch_of(conn);

    if (w == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    w->body_bytes += n;
    pthread_mutex_unlock(&g->lock);
}

void ferry_http_guard_answering(ferry_http_guard *g, struct MHD_Connection *conn)
{
    set_phase(g, conn, PHASE_ANSWER);
}

void ferry_http_guard_request_done(ferry_http_guard *g, struct MHD_Connection *conn)
{
    set_phase(g, conn, PHASE_HEAD);
}
