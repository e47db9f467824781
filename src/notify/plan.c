/* plan.c - what a run's end owes the endpoints of its sync's notify: (or the top level's).
 *
 * Called by the store inside the write that records the end, so it only reads the config and
 * the run it is handed: no I/O, no lock. A webhook hears of the ends its on: names; with
 * records: true, a committed run that changed records also owes the first batch of its
 * change feed (the later ones are enqueued as each is delivered). An e-mail endpoint hears of
 * the ends its on: names. A pg_channel is told of committed runs only. A run interrupted with
 * another attempt queued owes nothing: the next attempt's end is the one to tell. */
#include <string.h>

#include "notify/notify.h"

static unsigned end_bit(ferry_run_status status)
{
    switch (status) {
    case FERRY_RUN_SUCCEEDED:
        return FERRY_NOTIFY_ON_SUCCEEDED;
    case FERRY_RUN_FAILED:
    case FERRY_RUN_HELD: /* held for review: told like a failure, someone must act */
        return FERRY_NOTIFY_ON_FAILED;
    case FERRY_RUN_CANCELLED:
        return FERRY_NOTIFY_ON_CANCELLED;
    default:
        return 0;
    }
}

size_t ferry_notify_plan(void *ctx, const ferry_run *run, ferry_delivery_plan *out, size_t max)
{
    const ferry_config *cfg = ctx;
    const ferry_notify_list *list =
        ferry_config_notify_get(cfg, ferry_config_sync_get(cfg, run->sync));
    unsigned bit = end_bit(run->status);
    bool committed = run->status == FERRY_RUN_SUCCEEDED && !run->dry_run;
    bool changed = run->counts[FERRY_OUTCOME_CREATED] + run->counts[FERRY_OUTCOME_UPDATED] +
                       run->counts[FERRY_OUTCOME_DELETED] >
                   0;
    size_t n = 0;

    for (size_t i = 0; i < list->n && n + 2 <= max; i++) {
        const ferry_notify_spec *e = &list->items[i];
        if (!(e->on & bit))
            continue;
        switch (e->kind) {
        case FERRY_NOTIFY_WEBHOOK:
            out[n++] = (ferry_delivery_plan){(int)i, "webhook", NULL};
            if (e->records && committed && changed)
                out[n++] = (ferry_delivery_plan){(int)i, "records", NULL};
            break;
        case FERRY_NOTIFY_EMAIL:
            out[n++] = (ferry_delivery_plan){(int)i, "email", NULL};
            break;
        case FERRY_NOTIFY_PG_CHANNEL:
            if (committed)
                out[n++] = (ferry_delivery_plan){(int)i, "pg_channel", e->channel};
            break;
        }
    }
    return n;
}

void ferry_notify_attach(ferry_store *st, const ferry_config *cfg)
{
    ferry_outbox_planner planner = {ferry_notify_plan, (void *)cfg};

    ferry_store_planner_set(st, &planner);
}
