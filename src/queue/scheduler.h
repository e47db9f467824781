/* scheduler.h - fires each sync's schedule ("every 15m", cron "0 * * * *") by queueing a run.
 *
 * One thread looks at the clock every second. An 'every' sync fires at whole multiples of its
 * period since the epoch (UTC): its next run is due at the first such time after its last
 * scheduled run, or the second when the first is less than half a period after it (found in
 * the store at start, so a restart keeps the rhythm); one that never ran on schedule is due at
 * once. A cron sync's next run is due at the first
 * matching minute after its last scheduled run (or after now, when there was none). After the
 * server was down for several periods it queues one catch-up run, not one per period, and a run
 * still queued or running is never stacked: the store's de-duplication answers with it. Scheduled
 * runs have trigger "schedule" and user "scheduler".
 *
 * Several nodes sharing one database all run a scheduler; each firing (sync, tenant, due time)
 * is claimed in the store first (schedule_claim), and only the node that wins it queues the
 * run, so a schedule fires once per period across the cluster. */
#ifndef FERRY_QUEUE_SCHEDULER_H
#define FERRY_QUEUE_SCHEDULER_H

#include <stdint.h>

#include "config/config.h"
#include "config/live.h"
#include "events/hub.h"
#include "queue/workers.h"
#include "util/err.h"

typedef struct ferry_scheduler ferry_scheduler;

/* Starts the scheduler thread. live, hub and workers are borrowed and must outlive it; each
 * tick schedules the syncs of the config then current. */
ferry_rc ferry_scheduler_start(ferry_config_live *live, ferry_hub *hub, ferry_workers *workers,
                               ferry_scheduler **ret_sched, ferry_err *err);

/* When the sync's next scheduled run is due (ms since the epoch), or 0 when it has no
 * schedule or the scheduler has not looked yet. Thread-safe. */
int64_t ferry_scheduler_next_ms(ferry_scheduler *sched, const char *sync);

/* The retries: of the sync named sync in cfg (a const ferry_config *), 0 when the config
 * has no such sync: for ferry_recovery.retries (store.h). */
int ferry_scheduler_retries(void *cfg, const char *sync);

/* Stops the thread: nothing more is scheduled or reclaimed. ferry_scheduler_next_ms() still
 * answers until ferry_scheduler_stop(). Called by the owner only, once or more. */
void ferry_scheduler_halt(ferry_scheduler *sched);

/* Stops the thread (when ferry_scheduler_halt() has not) and frees the scheduler; NULL is
 * allowed. */
void ferry_scheduler_stop(ferry_scheduler *sched);

#endif
