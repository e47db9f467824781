/* bus.c - LISTEN/NOTIFY between Ferry nodes (see bus.h).
 *
 * A notification's payload is one line of tab-separated text:
 *
 *     NODE \t event \t TYPE \t SYNC \t JSON     an event, as published on NODE
 *     NODE \t ref   \t TYPE \t SYNC \t RUN_ID   the same, too long to send: load the run
 *     NODE \t cancel \t RUN_ID \t USER          cancel RUN_ID (USER may be empty)
 *
 * JSON never holds a raw tab (JSON escapes control characters) and names of syncs, types and
 * users hold none either, so the fields split cleanly.
 *
 * The thread owns the connection. It waits in poll() on the connection's socket and on a
 * pipe that the forward callback writes to when it queues a message, so events leave within
 * a few milliseconds and a stop is noticed at once. The queue is bounded: beyond QUEUE_MAX
 * waiting messages (the database is slow or gone) new ones are dropped and counted. */
#include "events/bus.h"

#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events/run_json.h"
#include "store/store.h"
#include "util/backoff.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"

#define CHANNEL "ferry_events"
/* PostgreSQL's limit is 8000 bytes, terminator included. */
#define PAYLOAD_MAX 7999
#define QUEUE_MAX 4096
#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 10000

typedef struct message {
    struct message *next;
    char *payload;
} message;

struct ferry_bus {
    char *database;
    ferry_hub *hub;
    ferry_bus_cancel_cb on_cancel;
    void *ctx;
    char node[300];
    int wake[2]; /* the forward callback writes a byte to wake[1] */
    pthread_t thread;
    pthread_mutex_t lock; /* protects the queue, queued, dropped and stopping */
    message *head, *tail;
    size_t queued;
    uint64_t dropped;
    bool stopping;
    PGconn *conn;       /* the thread's */
    ferry_store *store; /* the thread's, opened for the first reference */
};

bool ferry_bus_wanted(const char *database)
{
    return database != NULL && (strncmp(database, "postgres://", 11) == 0 ||
                                strncmp(database, "postgresql://", 13) == 0);
}

static void wake_thread(ferry_bus *bus)
{
    char c = 1;

    if (write(bus->wake[1], &c, 1) < 0) {
        /* The pipe is full: the thread has wake-ups pending anyway. */
    }
}

static void enqueue(ferry_bus *bus, char *payload)
{
    message *m = malloc(sizeof(*m));

    if (m == NULL) {
        free(payload);
        return;
    }
    m->next = NULL;
    m->payload = payload;
    pthread_mutex_lock(&bus->lock);
    if (bus->stopping || bus->queued >= QUEUE_MAX) {
        bus->dropped++;
        pthread_mutex_unlock(&bus->lock);
        free(payload);
        free(m);
        return;
    }
    if (bus->tail != NULL)
        bus->tail->next = m;
    else
        bus->head = m;
    bus->tail = m;
    bus->queued++;
    pthread_mutex_unlock(&bus->lock);
    wake_thread(bus);
}

/* The run id in an event's JSON ({"id": N, ...}), or 0. */
static int64_t event_run_id(const char *data)
{
    json_t *root = json_loads(data, 0, NULL);
    json_int_t id = 0;

    if (root != NULL)
        id = json_integer_value(json_object_get(root, "id"));
    json_decref(root);
    return (int64_t)id;
}

static void on_forward(void *ctx, const char *type, const char *sync, const char *data)
{
    ferry_bus *bus = ctx;
    ferry_buf b;

    ferry_rc rc;

    ferry_buf_init(&b, SIZE_MAX / 2);
    rc = ferry_buf_printf(&b, "%s\tevent\t%s\t%s\t%s", bus->node, type, sync != NULL ? sync : "",
                          data);
    if (rc == FERRY_OK && b.len > PAYLOAD_MAX) {
        int64_t id = event_run_id(data);
        ferry_buf_reset(&b);
        if (id <= 0) {
            ferry_buf_done(&b);
            return; /* not a run's event: nothing to refer to */
        }
        rc = ferry_buf_printf(&b, "%s\tref\t%s\t%s\t%lld", bus->node, type,
                              sync != NULL ? sync : "", (long long)id);
    }
    if (rc != FERRY_OK) {
        ferry_buf_done(&b);
        return;
    }
    enqueue(bus, ferry_buf_take(&b));
}

void ferry_bus_send_cancel(ferry_bus *bus, int64_t run_id, const char *user)
{
    ferry_buf b;

    if (bus == NULL)
        return;
    ferry_buf_init(&b, 4096);
    if (ferry_buf_printf(&b, "%s\tcancel\t%lld\t%s", bus->node, (long long)run_id,
                         user != NULL ? user : "") != FERRY_OK) {
        ferry_buf_done(&b);
        return;
    }
    enqueue(bus, ferry_buf_take(&b));
}

/* Splits s in place at tabs into at most max fields; returns how many. */
static size_t split_tabs(char *s, char **fields, size_t max)
{
    size_t n = 0;

    while (n < max) {
        fields[n++] = s;
        if (n == max || (s = strchr(s, '\t')) == NULL)
            break;
        *s++ = '\0';
    }
    return n;
}

static void relay_ref(ferry_bus *bus, const char *type, const char *sync, const char *id_text)
{
    int64_t id = strtoll(id_text, NULL, 10);
    ferry_run run;
    ferry_err err;
    char *json;

    ferry_err_clear(&err);
    if (bus->store == NULL &&
        ferry_store_open(bus->database, NULL, &bus->store, &err) != FERRY_OK) {
        ferry_log(FERRY_LOG_WARN, "msg=\"bus cannot open the store\" error=\"%s\"", err.msg);
        return;
    }
    if (bus->store->runs->run_load(bus->store, id, &run, &err) != FERRY_OK)
        return;
    if ((json = ferry_run_json_dumps(&run, NULL)) != NULL)
        ferry_hub_publish_relayed(bus->hub, type, sync, json);
    free(json);
    ferry_run_done(&run);
}

static void on_notification(ferry_bus *bus, char *payload)
{
    char *f[5] = {NULL};
    size_t n = split_tabs(payload, f, 5);

    if (n < 2 || strcmp(f[0], bus->node) == 0)
        return; /* ours, echoed back */
    if (strcmp(f[1], "event") == 0 && n == 5)
        ferry_hub_publish_relayed(bus->hub, f[2], f[3][0] != '\0' ? f[3] : NULL, f[4]);
    else if (strcmp(f[1], "ref") == 0 && n == 5)
        relay_ref(bus, f[2], f[3][0] != '\0' ? f[3] : NULL, f[4]);
    else if (strcmp(f[1], "cancel") == 0 && n >= 3 && bus->on_cancel != NULL)
        bus->on_cancel(bus->ctx, strtoll(f[2], NULL, 10), n >= 4 && f[3][0] != '\0' ? f[3] : NULL);
}

static bool command_ok(PGconn *conn, PGresult *res)
{
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

    (void)conn;
    PQclear(res);
    return ok;
}

/* libpq's last message as one line (it ends with a newline, and may hold several). */
static const char *pq_message(PGconn *conn, char *buf, size_t bufsize)
{
    snprintf(buf, bufsize, "%s", conn != NULL ? PQerrorMessage(conn) : "out of memory");
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = p[1] != '\0' ? ' ' : '\0';
    return buf;
}

static bool connect_and_listen(ferry_bus *bus, ferry_err *err)
{
    char msg[512];

    PQfinish(bus->conn);
    bus->conn = PQconnectdb(bus->database);
    if (PQstatus(bus->conn) != CONNECTION_OK) {
        ferry_err_set(err, FERRY_EDB, "event bus: connecting to PostgreSQL: %s",
                      pq_message(bus->conn, msg, sizeof(msg)));
        return false;
    }
    if (!command_ok(bus->conn, PQexec(bus->conn, "LISTEN " CHANNEL))) {
        ferry_err_set(err, FERRY_EDB, "event bus: LISTEN: %s",
                      pq_message(bus->conn, msg, sizeof(msg)));
        return false;
    }
    return true;
}

/* Sends every queued message; false when the connection failed (the rest stay queued). */
static bool send_queued(ferry_bus *bus)
{
    for (;;) {
        message *m;
        const char *params[1];
        PGresult *res;

        pthread_mutex_lock(&bus->lock);
        m = bus->head;
        pthread_mutex_unlock(&bus->lock);
        if (m == NULL)
            return true;
        params[0] = m->payload;
        res = PQexecParams(bus->conn, "SELECT pg_notify('" CHANNEL "', $1)", 1, NULL, params, NULL,
                           NULL, 0);
        if (!command_ok(bus->conn, res) && PQstatus(bus->conn) != CONNECTION_OK)
            return false;
        pthread_mutex_lock(&bus->lock);
        bus->head = m->next;
        if (bus->head == NULL)
            bus->tail = NULL;
        bus->queued--;
        pthread_mutex_unlock(&bus->lock);
        free(m->payload);
        free(m);
    }
}

static bool receive(ferry_bus *bus)
{
    PGnotify *n;

    if (!PQconsumeInput(bus->conn))
        return false;
    while ((n = PQnotifies(bus->conn)) != NULL) {
        on_notification(bus, n->extra);
        PQfreemem(n);
    }
    return true;
}

static bool stopping(ferry_bus *bus)
{
    bool stop;

    pthread_mutex_lock(&bus->lock);
    stop = bus->stopping;
    pthread_mutex_unlock(&bus->lock);
    return stop;
}

static void *bus_main(void *arg)
{
    ferry_bus *bus = arg;
    int failures = 0;      /* reconnects failed in a row */
    bool connected = true; /* ferry_bus_start connected */

    while (!stopping(bus)) {
        struct pollfd fds[2];
        char drain[64];
        int timeout = 1000;

        if (!connected) {
            ferry_err err;
            ferry_err_clear(&err);
            if (connect_and_listen(bus, &err)) {
                connected = true;
                failures = 0;
                ferry_log(FERRY_LOG_INFO, "msg=\"event bus reconnected\"");
            } else {
                failures++;
                timeout = (int)ferry_backoff_ms(RECONNECT_MIN_MS, RECONNECT_MAX_MS, failures, NULL);
            }
        }
        if (connected && (!send_queued(bus) || !receive(bus))) {
            char msg[512];
            ferry_log(FERRY_LOG_WARN,
                      "msg=\"event bus lost its connection; events from other nodes wait until "
                      "it is back\" error=\"%s\"",
                      pq_message(bus->conn, msg, sizeof(msg)));
            connected = false;
            continue;
        }
        fds[0].fd = connected ? PQsocket(bus->conn) : -1;
        fds[0].events = POLLIN;
        fds[1].fd = bus->wake[0];
        fds[1].events = POLLIN;
        if (poll(fds, 2, timeout) > 0 && (fds[1].revents & POLLIN))
            while (read(bus->wake[0], drain, sizeof(drain)) > 0) {
            }
    }
    /* What was published before the stop still reaches the other nodes: a stopping
     * server's last word on its runs. */
    if (connected)
        send_queued(bus);
    return NULL;
}

ferry_rc ferry_bus_start(const char *database, const char *node, ferry_hub *hub,
                         ferry_bus_cancel_cb on_cancel, void *ctx, ferry_bus **ret_bus,
                         ferry_err *err)
{
    ferry_bus *bus = calloc(1, sizeof(*bus));

    if (bus == NULL || (bus->database = strdup(database)) == NULL) {
        free(bus);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the event bus");
    }
    bus->hub = hub;
    bus->on_cancel = on_cancel;
    bus->ctx = ctx;
    bus->wake[0] = bus->wake[1] = -1;
    if (node != NULL)
        snprintf(bus->node, sizeof(bus->node), "%s", node);
    else
        ferry_node_self(bus->node, sizeof(bus->node));
    pthread_mutex_init(&bus->lock, NULL);
    if (pipe2(bus->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        ferry_err_set_errno(err, FERRY_EIO, "event bus: creating a pipe");
        goto fail;
    }
    if (!connect_and_listen(bus, err))
        goto fail;
    if (pthread_create(&bus->thread, NULL, bus_main, bus) != 0) {
        ferry_err_set_errno(err, FERRY_EIO, "starting the event bus");
        goto fail;
    }
    ferry_hub_set_forward(hub, on_forward, bus);
    *ret_bus = bus;
    return FERRY_OK;
fail:
    PQfinish(bus->conn);
    if (bus->wake[0] >= 0) {
        close(bus->wake[0]);
        close(bus->wake[1]);
    }
    pthread_mutex_destroy(&bus->lock);
    free(bus->database);
    free(bus);
    return err->code;
}

void ferry_bus_stop(ferry_bus *bus)
{
    message *m;

    if (bus == NULL)
        return;
    ferry_hub_set_forward(bus->hub, NULL, NULL);
    pthread_mutex_lock(&bus->lock);
    bus->stopping = true;
    pthread_mutex_unlock(&bus->lock);
    wake_thread(bus);
    pthread_join(bus->thread, NULL);
    while ((m = bus->head) != NULL) {
        bus->head = m->next;
        free(m->payload);
        free(m);
    }
    if (bus->dropped > 0)
        ferry_log(FERRY_LOG_WARN,
                  "msg=\"event bus dropped events while the database was slow\" "
                  "events=%llu",
                  (unsigned long long)bus->dropped);
    ferry_store_close(bus->store);
    PQfinish(bus->conn);
    close(bus->wake[0]);
    close(bus->wake[1]);
    pthread_mutex_destroy(&bus->lock);
    free(bus->database);
    free(bus);
}
