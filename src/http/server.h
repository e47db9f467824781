/* server.h - Ferry's HTTP server: the JSON API and the event stream, on libmicrohttpd.
 *
 * The server never executes a run: POST /api/syncs/{name}/runs queues one in the store and
 * wakes the worker pool, then answers. Routes are documented in docs/api.md.
 *
 * Threads: libmicrohttpd's internal thread pool (epoll) calls the handlers; each of those
 * threads opens its own store connection on first use. Event streams are suspended
 * connections resumed by the event hub, so idle browsers cost no thread. */
#ifndef FERRY_HTTP_SERVER_H
#define FERRY_HTTP_SERVER_H

#include <stdint.h>

#include "config/config.h"
#include "config/live.h"
#include "events/bus.h"
#include "events/hub.h"
#include "queue/scheduler.h"
#include "queue/workers.h"
#include "util/err.h"

typedef struct ferry_server ferry_server;

typedef struct {
    ferry_config_live *live;    /* borrowed, outlives the server; acquired per request */
    ferry_hub *hub;             /* borrowed */
    ferry_workers *workers;     /* borrowed */
    ferry_scheduler *scheduler; /* borrowed, may be NULL */
    ferry_bus *bus;             /* borrowed; NULL when the database is not shared (SQLite) */
    const char *listen;         /* "HOST:PORT"; port 0 picks a free one */
    unsigned threads;           /* handler threads; default 2 */
    size_t max_body_bytes;      /* default 1 MiB */
    unsigned max_connections;   /* default 4096 */
} ferry_server_options;

/* Starts listening. On success *ret_server is owned by the caller (ferry_server_stop()). */
ferry_rc ferry_server_start(const ferry_server_options *opt, ferry_server **ret_server,
                            ferry_err *err);

/* Reloads the config file and installs it (ferry_config_live_reload()): new requests, runs,
 * schedule ticks and deliveries use it; with tls:, new connections get its certificate. The
 * outcome is logged (a refusal at error level, with the config's error) and a success is
 * published on the hub as config.reloaded ({"syncs", "added", "removed"}). by names who
 * asked ("SIGHUP", a user), for the log. On success *ret is filled (the caller frees it with
 * ferry_config_reload_done()); on failure nothing changed and err holds the config's error
 * (file:line: key). One reload at a time; any thread. */
ferry_rc ferry_server_reload(ferry_server *server, const char *by, ferry_config_reload *ret,
                             ferry_err *err);

/* True when the server speaks HTTPS (tls: in the config it started with). */
bool ferry_server_is_https(const ferry_server *server);

/* The port actually bound. */
uint16_t ferry_server_port(const ferry_server *server);

/* Sends a heartbeat comment to every idle event stream. Called every few seconds. */
void ferry_server_heartbeat(ferry_server *server);

/* Stops accepting, closes every connection and frees the server. NULL is allowed. */
void ferry_server_stop(ferry_server *server);

#endif
