/* notify.h - telling the application: what a run's end owes its endpoints, and the thread
 * that delivers it (docs/api.md "Deliveries", docs/config.md "Notifications").
 *
 * A run's end enqueues deliveries in the store's outbox in the same write that records it
 * (the store calls the planner this module gives it: ferry_notify_attach()). Two sender
 * threads in `ferry serve` claim due deliveries, builds each body from the store (the run as the
 * API shows it, or a batch of its changes), signs it with the endpoint's secret and POSTs it;
 * failures are recorded and retried with backoff for 24 hours. A delivery never delays or
 * fails the run it reports. */
#ifndef FERRY_NOTIFY_NOTIFY_H
#define FERRY_NOTIFY_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "config/live.h"
#include "store/store.h"
#include "util/err.h"

/* Has st enqueue the deliveries cfg's notify: settings owe each run it ends. cfg is
 * borrowed and must outlive st (or a later attach). Call from st's thread. */
void ferry_notify_attach(ferry_store *st, const ferry_config *cfg);

/* The planner itself (store.h, ferry_outbox_planner.plan; ctx is the ferry_config). */
size_t ferry_notify_plan(void *ctx, const ferry_run *run, ferry_delivery_plan *out, size_t max);

/* The signature header's value for body (len bytes) sent at t (Unix seconds) with secret:
 * "t=T,v1=HEX", HEX the lower-case hex HMAC-SHA256 of "T.BODY"; with previous (may be NULL,
 * a secret being rotated out) a second ",v1=HEX" made with it. out holds at least
 * FERRY_NOTIFY_SIGNATURE_MAX bytes. */
#define FERRY_NOTIFY_SIGNATURE_MAX 176
void ferry_notify_sign(const char *secret, const char *previous, int64_t t, const char *body,
                       size_t len, char *out);

typedef struct ferry_notify ferry_notify;

/* Starts the sender threads, each with a store connection of its own. live is borrowed and
 * must outlive them; each delivery uses the config current when it is attempted. */
ferry_rc ferry_notify_start(ferry_config_live *live, ferry_notify **ret, ferry_err *err);

/* Stops the threads (a delivery in flight is cut short and recorded as an attempt to try
 * again at once) and frees them; NULL is allowed. */
void ferry_notify_stop(ferry_notify *n);

#endif
