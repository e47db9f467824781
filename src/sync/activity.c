/* activity.c - a run's bounded activity log (see activity.h).
 *
 * A fixed array for the first entries and a ring for the last: adding is a copy into one
 * slot, never an allocation, so a source may report every page of a long run. */
#include "sync/activity.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "util/timeutil.h"

void ferry_activity_log_init(ferry_activity_log *log)
{
    memset(log, 0, sizeof(*log));
}

static void entry_set(ferry_activity_entry *e, int64_t at_ms, const char *kind, const char *text)
{
    e->at_ms = at_ms;
    snprintf(e->kind, sizeof(e->kind), "%s", kind != NULL ? kind : "");
    snprintf(e->text, sizeof(e->text), "%s", text != NULL ? text : "");
}

int64_t ferry_activity_log_add(ferry_activity_log *log, int64_t at_ms, const char *kind,
                               const char *text)
{
    if (log->nhead < FERRY_ACTIVITY_HEAD) {
        entry_set(&log->head[log->nhead++], at_ms, kind, text);
    } else if (log->ntail < FERRY_ACTIVITY_TAIL) {
        entry_set(&log->tail[(log->tail_next + log->ntail++) % FERRY_ACTIVITY_TAIL], at_ms, kind,
                  text);
    } else { /* the oldest of the tail makes room, and is counted */
        entry_set(&log->tail[log->tail_next], at_ms, kind, text);
        log->tail_next = (log->tail_next + 1) % FERRY_ACTIVITY_TAIL;
        log->dropped++;
    }
    return ++log->added;
}

static bool append(json_t *list, int64_t at_ms, const char *kind, const char *text)
{
    char iso[FERRY_ISO_TIME_MAX];

    ferry_time_format_iso(at_ms, iso);
    return json_array_append_new(
               list, json_pack("{s:s, s:s, s:s}", "at", iso, "kind", kind, "text", text)) == 0;
}

char *ferry_activity_log_format(const ferry_activity_log *log)
{
    json_t *list;
    char *text;
    bool ok = true;

    if (log->added == 0 || (list = json_array()) == NULL)
        return NULL;
    for (size_t i = 0; i < log->nhead; i++)
        ok &= append(list, log->head[i].at_ms, log->head[i].kind, log->head[i].text);
    if (log->dropped > 0) {
        char said[64];
        snprintf(said, sizeof(said), "%lld entr%s left out", (long long)log->dropped,
                 log->dropped == 1 ? "y" : "ies");
        /* Dated as the first entry kept after the gap: the gap ends there. */
        ok &= append(list, log->tail[log->tail_next].at_ms, "dropped", said);
    }
    for (size_t i = 0; i < log->ntail; i++) {
        const ferry_activity_entry *e = &log->tail[(log->tail_next + i) % FERRY_ACTIVITY_TAIL];
        ok &= append(list, e->at_ms, e->kind, e->text);
    }
    text = ok ? json_dumps(list, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(list);
    return text;
}
