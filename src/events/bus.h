/* bus.h - run events and cancel requests between the Ferry nodes sharing a PostgreSQL
 * database.
 *
 * Each `ferry serve` has its own event hub; the bus joins them with PostgreSQL's LISTEN/NOTIFY
 * on the channel ferry_events, so a browser connected to node A sees the live progress of a
 * run executing on node B, and a cancel sent to A reaches B. Events published on this node
 * (the hub's forward callback) are queued and sent by the bus thread on its own connection;
 * notifications from other nodes are published into the local hub (ferry_hub_publish_relayed)
 * or, for a cancel, handed to on_cancel. A node ignores its own notifications.
 *
 * A NOTIFY payload is at most 8000 bytes. An event whose payload would be longer (a finished
 * run with a long message) travels as a reference: the run's id, which the receiving node
 * loads from the store and turns into the same event.
 *
 * Delivery is best effort, like the hub itself: while the connection is down (it is reopened
 * with backoff) events are dropped, and a browser catches up from GET /api/runs/{id}. A
 * cancel request is also recorded in the run (store: run_request_cancel), which the executing
 * node looks at every few seconds, so a lost notification only delays it.
 *
 * All functions are thread-safe. */
#ifndef FERRY_EVENTS_BUS_H
#define FERRY_EVENTS_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "events/hub.h"
#include "util/err.h"

typedef struct ferry_bus ferry_bus;

/* Called from the bus thread when another node asks to cancel run_id (user may be NULL). */
typedef void (*ferry_bus_cancel_cb)(void *ctx, int64_t run_id, const char *user);

/* True when database names PostgreSQL, where the bus is needed. */
bool ferry_bus_wanted(const char *database);

/* Connects to database (a postgres:// URL), listens, and starts the bus thread; hub and ctx
 * are borrowed and must outlive the bus. Sets itself as hub's forward callback. node names
 * this node in its messages (NULL: ferry_node_self(), which is what servers use). */
ferry_rc ferry_bus_start(const char *database, const char *node, ferry_hub *hub,
                         ferry_bus_cancel_cb on_cancel, void *ctx, ferry_bus **ret_bus,
                         ferry_err *err);

/* Asks every other node to cancel run_id (by user, may be NULL). */
void ferry_bus_send_cancel(ferry_bus *bus, int64_t run_id, const char *user);

/* Detaches from the hub, stops the thread and frees the bus. NULL is allowed. */
void ferry_bus_stop(ferry_bus *bus);

#endif
