/* hub.h - in-process publish/subscribe of run events, with a replay buffer.
 *
 * Every event gets the next id (1, 2, 3...) and is kept in a ring of the last replay_max
 * events, so a client that reconnects with Last-Event-ID receives what it missed. Publishing
 * copies the event; subscribers never see publisher memory. Subscribers do not receive
 * events pushed at them: they are told (through their notify callback) that something new
 * exists, and read it with ferry_hub_read() when they can. So a slow client costs the hub
 * nothing, and no lock is held while a subscriber's code runs.
 *
 * All functions are thread-safe. */
#ifndef FERRY_EVENTS_HUB_H
#define FERRY_EVENTS_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct ferry_hub ferry_hub;
typedef struct ferry_hub_sub ferry_hub_sub;

/* Called (from the publishing thread, with no hub lock held) when new events exist or a
 * heartbeat is due. Must be quick and must not call back into the hub. */
typedef void (*ferry_hub_notify_cb)(void *ctx);

/* Creates a hub that keeps the last replay_max events. *ret_hub is owned by the caller. */
ferry_rc ferry_hub_new(size_t replay_max, ferry_hub **ret_hub, ferry_err *err);

/* Frees the hub; all subscriptions must have been removed. NULL is allowed. */
void ferry_hub_free(ferry_hub *hub);

/* Publishes an event: type ("run.progress"), the sync it concerns (for filters) and data
 * (one line of JSON). Copies all three. Returns the event's id, or 0 when out of memory. */
uint64_t ferry_hub_publish(ferry_hub *hub, const char *type, const char *sync, const char *data);

/* Adds a subscriber; notify(ctx) is called after each publish and each heartbeat.
 * *ret_sub is released with ferry_hub_unsubscribe(). */
ferry_rc ferry_hub_subscribe(ferry_hub *hub, ferry_hub_notify_cb notify, void *ctx,
                             ferry_hub_sub **ret_sub, ferry_err *err);

/* Removes a subscriber; after it returns, notify is not running and will not be called. */
void ferry_hub_unsubscribe(ferry_hub *hub, ferry_hub_sub *sub);

/* Appends to out, in the text/event-stream format, the events with an id above after_id
 * (only those of sync when sync is not NULL), at most max_events, and sets *ret_last_id to
 * the id of the last event looked at (pass it back as after_id). Returns the number of events
 * written. When after_id is older than the replay buffer, the oldest kept events follow. */
size_t ferry_hub_read(ferry_hub *hub, uint64_t after_id, const char *sync, size_t max_events,
                      ferry_buf *out, uint64_t *ret_last_id);

/* The id of the newest event (0 when none). */
uint64_t ferry_hub_last_id(ferry_hub *hub);

/* Calls every subscriber's notify (for heartbeats). */
void ferry_hub_notify_all(ferry_hub *hub);

/* The number of subscribers (for metrics). */
size_t ferry_hub_subscribers(ferry_hub *hub);

/* Called, from the publishing thread and with no hub lock held, for every event published
 * with ferry_hub_publish(): the bus (events/bus.h) passes them on to the other Ferry nodes.
 * Must be quick and must not call back into the hub. */
typedef void (*ferry_hub_forward_cb)(void *ctx, const char *type, const char *sync,
                                     const char *data);

/* Sets (or, with NULL, clears) the forward callback. Set it before publishing starts, clear
 * it after publishing has stopped. */
void ferry_hub_set_forward(ferry_hub *hub, ferry_hub_forward_cb forward, void *ctx);

/* Publishes an event that came from another node: as ferry_hub_publish(), but not passed to
 * the forward callback (it would echo back). A run.started or run.progress of a run this hub
 * already published run.finished for is stale (its node was paused, and sent it on waking):
 * it is dropped, and 0 returned. */
uint64_t ferry_hub_publish_relayed(ferry_hub *hub, const char *type, const char *sync,
                                   const char *data);

#endif
