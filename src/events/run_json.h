/* run_json.h - the JSON form of a run, shared by the API and the events. */
#ifndef FERRY_EVENTS_RUN_JSON_H
#define FERRY_EVENTS_RUN_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "store/store.h"

/* Live figures of an active run (rates are not stored). */
typedef struct {
    double rows_per_s; /* 0 when unknown */
    int64_t eta_ms;    /* -1 when unknown */
} ferry_run_live;

/* Returns a new JSON object for run (live may be NULL), or NULL when out of memory:
 * {"id", "sync", "tenant", "status", "phase", "percent", "processed", "total", "counts":
 * {"created", ..., "skipped" (unlabelled skips), ...}, "skipped_by_label": {"FLAT": 3, ...} (in
 * the config's order of the labels; {} without labels), "rows_per_second", "eta_seconds",
 * "message", "ui_message", "log_message", "error", "error_code", "trigger", "user", "dry_run",
 * "attempt", "queued_at", "started_at", "finished_at", "duration_ms", "fetched",
 * "source_bytes", "source_records" (null until known)}. Without the activity log, which only
 * one run's own answer carries (ferry_run_json_add_activity()): lists stay small. */
json_t *ferry_run_to_json(const ferry_run *run, const ferry_run_live *live);

/* Adds run's activity log to o, a run's JSON, as "activity" (an array), when it has one;
 * nothing for a NULL o. */
void ferry_run_json_add_activity(json_t *o, const ferry_run *run);

/* The run's JSON with its activity log as one line of compact JSON (caller frees), or NULL
 * when out of memory: the events' data, and the JSON export's rows. */
char *ferry_run_json_dumps(const ferry_run *run, const ferry_run_live *live);

/* One entry of a run's activity log as a run.activity event's data, one line of compact
 * JSON (caller frees), or NULL when out of memory: {"id" (the run's), "sync", "tenant", "n"
 * (the entry's number in the run, from 1), "at", "kind", "text"}. */
char *ferry_run_activity_json_dumps(const ferry_run *run, int64_t n, int64_t at_ms,
                                    const char *kind, const char *text);

/* A run's deliveries by status: {"total", "delivered", "pending", "failed"}; NULL when out of
 * memory. */
json_t *ferry_delivery_summary_to_json(const ferry_delivery_summary *sum);

/* One delivery as the API lists it: {"id", "run_id", "kind", "endpoint" (endpoint, a text
 * naming it: a redacted URL or the recipients; may be NULL), "seq", "status", "attempts",
 * "last_status", "last_error", "created_at", "next_attempt_at" (null unless pending),
 * "delivered_at", "give_up_at", "tries": [{"n", "at", "status", "error", "duration_ms"}]};
 * NULL when out of memory. */
json_t *ferry_delivery_to_json(const ferry_delivery *d, const char *endpoint);

/* ms (wall clock) as an ISO 8601 UTC JSON string, or JSON null when ms <= 0. */
json_t *ferry_json_time(int64_t ms);

#endif
