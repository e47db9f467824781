/* run_json.c - a run as JSON (see run_json.h). */
#include "events/run_json.h"

#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"

json_t *ferry_json_time(int64_t ms)
{
    char iso[FERRY_ISO_TIME_MAX];

    if (ms <= 0)
        return json_null();
    ferry_time_format_iso(ms, iso);
    return json_string(iso);
}

static json_t *string_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *ferry_run_to_json(const ferry_run *run, const ferry_run_live *live)
{
    json_t *o = json_object(), *counts = json_object(), *labels = json_object();

    if (o == NULL || counts == NULL || labels == NULL) {
        json_decref(o);
        json_decref(counts);
        json_decref(labels);
        return NULL;
    }
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++)
        json_object_set_new(counts, ferry_outcome_name((ferry_outcome)i),
                            json_integer(run->counts[i]));
    for (size_t i = 0; i < run->skipped_by_label.n; i++)
        json_object_set_new(labels, run->skipped_by_label.items[i].label,
                            json_integer(run->skipped_by_label.items[i].count));
    json_object_set_new(o, "id", json_integer(run->id));
    json_object_set_new(o, "sync", string_or_null(run->sync));
    json_object_set_new(o, "tenant", string_or_null(run->tenant));
    json_object_set_new(o, "status", json_string(ferry_run_status_name(run->status)));
    json_object_set_new(o, "phase", string_or_null(run->phase));
    json_object_set_new(o, "percent", json_integer(run->percent));
    json_object_set_new(o, "processed", json_integer(run->processed));
    json_object_set_new(o, "total", run->total >= 0 ? json_integer(run->total) : json_null());
    json_object_set_new(o, "total_estimated",
                        json_boolean(run->total >= 0 && run->total_estimated));
    json_object_set_new(o, "fetched", json_integer(run->fetched));
    json_object_set_new(o, "source_bytes",
                        run->source_bytes > 0 ? json_integer(run->source_bytes) : json_null());
    json_object_set_new(o, "source_records",
                        run->source_bytes > 0 && run->source_records >= 0
                            ? json_integer(run->source_records)
                            : json_null());
    json_object_set_new(o, "counts", counts);
    json_object_set_new(o, "skipped_by_label", labels);
    json_object_set_new(o, "rows_per_second",
                        live != NULL ? json_integer((json_int_t)live->rows_per_s) : json_null());
    json_object_set_new(o, "eta_seconds",
                        live != NULL && live->eta_ms >= 0
                            ? json_integer((live->eta_ms + 999) / 1000)
                            : json_null());
    json_object_set_new(o, "ui_message", string_or_null(run->ui_message));
    json_object_set_new(o, "log_message", string_or_null(run->log_message));
    json_object_set_new(o, "error", string_or_null(run->error));
    json_object_set_new(o, "error_code", string_or_null(run->error_code));
    json_object_set_new(o, "trigger", string_or_null(run->trigger));
    json_object_set_new(o, "user", string_or_null(run->user));
    json_object_set_new(o, "token", string_or_null(run->token));
    json_object_set_new(o, "cancelled_by", string_or_null(run->cancelled_by));
    json_object_set_new(o, "dry_run", json_boolean(run->dry_run));
    json_object_set_new(o, "allow_missing", json_boolean(run->allow_missing));
    json_object_set_new(o, "full", json_boolean(run->full));
    json_object_set_new(o, "mode", string_or_null(run->mode));
    json_object_set_new(o, "since", string_or_null(run->since));
    json_object_set_new(o, "attempt", json_integer(run->attempt));
    json_object_set_new(o, "retry_of",
                        run->retry_of > 0 ? json_integer((json_int_t)run->retry_of) : json_null());
    json_object_set_new(o, "reverts",
                        run->reverts > 0 ? json_integer((json_int_t)run->reverts) : json_null());
    json_object_set_new(o, "revert_comment",
                        run->revert_comment != NULL ? json_string(run->revert_comment)
                                                    : json_null());
    json_object_set_new(o, "node", string_or_null(run->node));
    json_object_set_new(o, "queued_at", ferry_json_time(run->queued_at_ms));
    json_object_set_new(o, "started_at", ferry_json_time(run->started_at_ms));
    json_object_set_new(o, "finished_at", ferry_json_time(run->finished_at_ms));
    /* retention pruned its change rows (counts remain), or null */
    json_object_set_new(o, "changes_pruned_at", ferry_json_time(run->changes_pruned_at_ms));
    json_object_set_new(o, "duration_ms",
                        run->finished_at_ms > 0 ? json_integer(run->duration_ms) : json_null());
    /* Review (docs/review.md). */
    json_object_set_new(o, "preview", json_boolean(run->preview));
    json_object_set_new(o, "held_reason", string_or_null(run->held_reason));
    json_object_set_new(o, "held_admin", json_boolean(run->held_admin));
    json_object_set_new(o, "held_until", ferry_json_time(run->held_until_ms));
    json_object_set_new(o, "decision", string_or_null(run->decision));
    json_object_set_new(o, "decided_by", string_or_null(run->decided_by));
    json_object_set_new(o, "decision_comment", string_or_null(run->decision_comment));
    json_object_set_new(o, "decided_at", ferry_json_time(run->decided_at_ms));
    if (run->steps != NULL) {
        /* Written by the run (sync/run.c) as JSON; a text that does not parse is left out
         * rather than sent broken. */
        json_t *steps = json_loads(run->steps, 0, NULL);
        if (json_is_array(steps))
            json_object_set_new(o, "steps", steps);
        else
            json_decref(steps);
    }
    return o;
}

void ferry_run_json_add_activity(json_t *o, const ferry_run *run)
{
    json_t *activity;

    if (o == NULL || run->activity == NULL)
        return;
    /* sync/activity.c's JSON; a text that does not parse is left out, as steps are. */
    activity = json_loads(run->activity, 0, NULL);
    if (json_is_array(activity))
        json_object_set_new(o, "activity", activity);
    else
        json_decref(activity);
}

/* o as one line of compact JSON (caller frees), consuming o; NULL for a NULL o or out of
 * memory. */
static char *dumps_taking(json_t *o)
{
    char *s;

    if (o == NULL)
        return NULL;
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

char *ferry_run_activity_json_dumps(const ferry_run *run, int64_t n, int64_t at_ms,
                                    const char *kind, const char *text)
{
    return dumps_taking(json_pack("{s:I, s:s?, s:s?, s:I, s:o, s:s, s:s}", "id",
                                  (json_int_t)run->id, "sync", run->sync, "tenant", run->tenant,
                                  "n", (json_int_t)n, "at", ferry_json_time(at_ms), "kind", kind,
                                  "text", text));
}

char *ferry_run_json_dumps(const ferry_run *run, const ferry_run_live *live)
{
    json_t *o = ferry_run_to_json(run, live);

    ferry_run_json_add_activity(o, run);
    return dumps_taking(o);
}

json_t *ferry_delivery_summary_to_json(const ferry_delivery_summary *sum)
{
    return json_pack("{sI sI sI sI}", "total", (json_int_t)sum->total, "delivered",
                     (json_int_t)sum->delivered, "pending", (json_int_t)sum->pending, "failed",
                     (json_int_t)sum->failed);
}

json_t *ferry_delivery_to_json(const ferry_delivery *d, const char *endpoint)
{
    json_t *o = json_object(), *tries = json_array();

    if (o == NULL || tries == NULL) {
        json_decref(o);
        json_decref(tries);
        return NULL;
    }
    for (size_t i = 0; i < d->ntries; i++) {
        const ferry_delivery_attempt *a = &d->tries[i];
        json_t *t = json_object();
        if (t == NULL)
            continue;
        json_object_set_new(t, "n", json_integer(a->n));
        json_object_set_new(t, "at", ferry_json_time(a->at_ms));
        json_object_set_new(t, "status", a->status > 0 ? json_integer(a->status) : json_null());
        json_object_set_new(t, "error", string_or_null(a->error));
        json_object_set_new(t, "duration_ms", json_integer(a->duration_ms));
        json_array_append_new(tries, t);
    }
    json_object_set_new(o, "id", string_or_null(d->id));
    json_object_set_new(o, "run_id", json_integer(d->run_id));
    json_object_set_new(o, "kind", string_or_null(d->kind));
    json_object_set_new(o, "endpoint", string_or_null(endpoint));
    json_object_set_new(o, "seq", json_integer(d->seq));
    json_object_set_new(o, "status", json_string(ferry_delivery_status_name(d->status)));
    json_object_set_new(o, "attempts", json_integer(d->attempts));
    json_object_set_new(o, "last_status",
                        d->last_status > 0 ? json_integer(d->last_status) : json_null());
    json_object_set_new(o, "last_error", string_or_null(d->last_error));
    json_object_set_new(o, "created_at", ferry_json_time(d->created_at_ms));
    json_object_set_new(o, "next_attempt_at",
                        d->status == FERRY_DELIVERY_PENDING ? ferry_json_time(d->next_attempt_at_ms)
                                                            : json_null());
    json_object_set_new(o, "delivered_at", ferry_json_time(d->delivered_at_ms));
    json_object_set_new(o, "give_up_at", ferry_json_time(d->give_up_at_ms));
    json_object_set_new(o, "tries", tries);
    return o;
}
