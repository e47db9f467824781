/* model.c - the store's model, the same whichever database holds it (store.h): the names of
 * run statuses, outcomes and roles and their parsing, and the _done/_free/_copy of the
 * structs the store returns. Both backends and their callers use these, so a run, a user or
 * an audit entry reads and frees alike from SQLite and PostgreSQL. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static const char *const status_names[FERRY_RUN_STATUS_COUNT] = {
    "queued", "running", "succeeded", "failed", "cancelled", "interrupted", "held", "rejected"};
static const char *const outcome_names[] = {"created", "updated", "unchanged",
                                            "skipped", "failed",  "deleted"};

const char *ferry_run_status_name(ferry_run_status status)
{
    return (unsigned)status < FERRY_RUN_STATUS_COUNT ? status_names[status] : "unknown";
}

const char *ferry_outcome_name(ferry_outcome outcome)
{
    return (unsigned)outcome < FERRY_OUTCOME_COUNT ? outcome_names[outcome] : "unknown";
}

bool ferry_run_status_parse(const char *name, ferry_run_status *ret)
{
    for (int i = 0; i < FERRY_RUN_STATUS_COUNT; i++) {
        if (name != NULL && strcmp(name, status_names[i]) == 0) {
            *ret = (ferry_run_status)i;
            return true;
        }
    }
    return false;
}

bool ferry_outcome_parse(const char *name, ferry_outcome *ret)
{
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++) {
        if (name != NULL && strcmp(name, outcome_names[i]) == 0) {
            *ret = (ferry_outcome)i;
            return true;
        }
    }
    return false;
}

void ferry_label_counts_done(ferry_label_counts *lc)
{
    if (lc == NULL)
        return;
    for (size_t i = 0; i < lc->n; i++)
        free(lc->items[i].label);
    free(lc->items);
    lc->items = NULL;
    lc->n = 0;
}

/* Appends label (copied) with count; false when out of memory. */
static bool label_count_add(ferry_label_counts *lc, const char *label, int64_t count)
{
    ferry_label_count *grown = realloc(lc->items, (lc->n + 1) * sizeof(*grown));
    char *copy = strdup(label);

    if (grown != NULL)
        lc->items = grown;
    if (grown == NULL || copy == NULL) {
        free(copy);
        return false;
    }
    lc->items[lc->n].label = copy;
    lc->items[lc->n].count = count;
    lc->n++;
    return true;
}

bool ferry_label_counts_init(ferry_label_counts *lc, char *const *labels, size_t n)
{
    ferry_label_counts_done(lc);
    for (size_t i = 0; i < n; i++) {
        if (!label_count_add(lc, labels[i], 0)) {
            ferry_label_counts_done(lc);
            return false;
        }
    }
    return true;
}

bool ferry_label_counts_copy(ferry_label_counts *dst, const ferry_label_counts *src)
{
    dst->items = NULL;
    dst->n = 0;
    for (size_t i = 0; i < src->n; i++) {
        if (!label_count_add(dst, src->items[i].label, src->items[i].count)) {
            ferry_label_counts_done(dst);
            return false;
        }
    }
    return true;
}

int64_t ferry_label_counts_total(const ferry_label_counts *lc)
{
    int64_t total = 0;

    for (size_t i = 0; i < lc->n; i++)
        total += lc->items[i].count;
    return total;
}

char *ferry_label_counts_format(const ferry_label_counts *lc, bool *ret_oom)
{
    json_t *o;
    char *text = NULL;

    *ret_oom = false;
    if (lc->n == 0)
        return NULL;
    if ((o = json_object()) != NULL) {
        bool ok = true;
        for (size_t i = 0; i < lc->n && ok; i++)
            ok = json_object_set_new(o, lc->items[i].label, json_integer(lc->items[i].count)) == 0;
        if (ok)
            text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
    }
    *ret_oom = text == NULL;
    return text;
}

bool ferry_label_counts_parse(const char *json, ferry_label_counts *ret)
{
    json_t *o, *v;
    const char *label;

    ret->items = NULL;
    ret->n = 0;
    if (json == NULL || (o = json_loads(json, 0, NULL)) == NULL)
        return true;
    /* jansson keeps an object's members in the order the text gives them. */
    json_object_foreach(o, label, v)
    {
        if (!json_is_integer(v))
            continue;
        if (!label_count_add(ret, label, (int64_t)json_integer_value(v))) {
            json_decref(o);
            ferry_label_counts_done(ret);
            return false;
        }
    }
    json_decref(o);
    return true;
}

void ferry_run_done(ferry_run *run)
{
    if (run == NULL)
        return;
    ferry_label_counts_done(&run->skipped_by_label);
    free(run->sync);
    free(run->tenant);
    free(run->trigger);
    free(run->user);
    free(run->token);
    free(run->cancelled_by);
    free(run->node);
    free(run->phase);
    free(run->ui_message);
    free(run->log_message);
    free(run->error);
    free(run->error_code);
    free(run->steps);
    free(run->mode);
    free(run->since);
    free(run->activity);
    free(run->held_reason);
    free(run->change_digest);
    free(run->decision);
    free(run->decided_by);
    free(run->decision_comment);
    free(run->revert_comment);
    memset(run, 0, sizeof(*run));
}

void ferry_change_done(ferry_change *change)
{
    if (change == NULL)
        return;
    free(change->record_key);
    free(change->reason);
    free(change->diff);
    free(change->label);
    free(change->step);
    free(change->link);
    free(change->row_values);
    memset(change, 0, sizeof(*change));
}

void ferry_runs_free(ferry_run *runs, size_t n)
{
    for (size_t i = 0; i < n && runs != NULL; i++)
        ferry_run_done(&runs[i]);
    free(runs);
}

void ferry_changes_free(ferry_change *changes, size_t n)
{
    for (size_t i = 0; i < n && changes != NULL; i++)
        ferry_change_done(&changes[i]);
    free(changes);
}

static bool dup(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return true;
    *dst = strdup(src);
    return *dst != NULL;
}

bool ferry_run_copy(ferry_run *dst, const ferry_run *src)
{
    *dst = *src;
    if (dup(&dst->sync, src->sync) & dup(&dst->tenant, src->tenant) &
        dup(&dst->trigger, src->trigger) & dup(&dst->user, src->user) &
        dup(&dst->token, src->token) & dup(&dst->cancelled_by, src->cancelled_by) &
        dup(&dst->phase, src->phase) & dup(&dst->ui_message, src->ui_message) &
        dup(&dst->log_message, src->log_message) & dup(&dst->error, src->error) &
        dup(&dst->error_code, src->error_code) & dup(&dst->node, src->node) &
        dup(&dst->steps, src->steps) & dup(&dst->mode, src->mode) & dup(&dst->since, src->since) &
        dup(&dst->activity, src->activity) & dup(&dst->held_reason, src->held_reason) &
        dup(&dst->change_digest, src->change_digest) & dup(&dst->decision, src->decision) &
        dup(&dst->decided_by, src->decided_by) &
        dup(&dst->decision_comment, src->decision_comment) &
        dup(&dst->revert_comment, src->revert_comment) &
        ferry_label_counts_copy(&dst->skipped_by_label, &src->skipped_by_label))
        return true;
    ferry_run_done(dst);
    return false;
}

const int64_t ferry_stats_bucket_ms[FERRY_STATS_BUCKETS] = {100,   500,    1000,   5000,
                                                            30000, 120000, 600000, 3600000};

void ferry_sync_stats_done(ferry_sync_stats *stats)
{
    for (size_t i = 0; i < stats->nreasons; i++)
        free(stats->reason[i]);
    memset(stats, 0, sizeof(*stats));
}

static const char *const role_names[] = {"viewer", "operator", "admin"};

const char *ferry_role_name(ferry_role role)
{
    return (unsigned)role < 3 ? role_names[role] : "unknown";
}

bool ferry_role_parse(const char *name, ferry_role *ret)
{
    for (int i = 0; i < 3; i++) {
        if (name != NULL && strcmp(name, role_names[i]) == 0) {
            *ret = (ferry_role)i;
            return true;
        }
    }
    return false;
}

void ferry_user_done(ferry_user *user)
{
    if (user == NULL)
        return;
    free(user->name);
    if (user->password_hash != NULL)
        memset(user->password_hash, 0, strlen(user->password_hash));
    free(user->password_hash);
    memset(user, 0, sizeof(*user));
}

void ferry_users_free(ferry_user *users, size_t n)
{
    for (size_t i = 0; i < n && users != NULL; i++)
        ferry_user_done(&users[i]);
    free(users);
}

void ferry_token_done(ferry_token *token)
{
    if (token == NULL)
        return;
    free(token->user);
    free(token->label);
    memset(token, 0, sizeof(*token));
}

void ferry_tokens_free(ferry_token *tokens, size_t n)
{
    for (size_t i = 0; i < n && tokens != NULL; i++)
        ferry_token_done(&tokens[i]);
    free(tokens);
}

void ferry_principal_done(ferry_principal *p)
{
    if (p == NULL)
        return;
    free(p->user);
    free(p->token_label);
    memset(p, 0, sizeof(*p));
}

void ferry_audit_done(ferry_audit_entry *e)
{
    if (e == NULL)
        return;
    free(e->actor);
    free(e->action);
    free(e->target);
    free(e->detail);
    free(e->client);
    memset(e, 0, sizeof(*e));
}

void ferry_audit_free(ferry_audit_entry *entries, size_t n)
{
    for (size_t i = 0; i < n && entries != NULL; i++)
        ferry_audit_done(&entries[i]);
    free(entries);
}

void ferry_node_done(ferry_node *node)
{
    if (node == NULL)
        return;
    free(node->id);
    free(node->address);
    memset(node, 0, sizeof(*node));
}

void ferry_nodes_free(ferry_node *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ferry_node_done(&nodes[i]);
    free(nodes);
}

void ferry_last_successes_free(ferry_last_success *list, size_t n)
{
    for (size_t i = 0; i < n && list != NULL; i++) {
        free(list[i].sync);
        free(list[i].tenant);
    }
    free(list);
}

const char *ferry_delivery_status_name(ferry_delivery_status status)
{
    switch (status) {
    case FERRY_DELIVERY_PENDING:
        return "pending";
    case FERRY_DELIVERY_DELIVERED:
        return "delivered";
    case FERRY_DELIVERY_FAILED:
        return "failed";
    }
    return "pending";
}

ferry_delivery_status ferry_delivery_status_parse(const char *name)
{
    if (name != NULL && strcmp(name, "delivered") == 0)
        return FERRY_DELIVERY_DELIVERED;
    if (name != NULL && strcmp(name, "failed") == 0)
        return FERRY_DELIVERY_FAILED;
    return FERRY_DELIVERY_PENDING;
}

void ferry_delivery_done(ferry_delivery *d)
{
    if (d == NULL)
        return;
    free(d->id);
    free(d->kind);
    free(d->last_error);
    for (size_t i = 0; i < d->ntries; i++)
        free(d->tries[i].error);
    free(d->tries);
    memset(d, 0, sizeof(*d));
}

void ferry_deliveries_free(ferry_delivery *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ferry_delivery_done(&d[i]);
    free(d);
}
