/* notify_section.c - notify: (top level and per sync; docs/config.md, "Notifications").
 *
 * notify: is one mapping or a list of mappings; each mapping may hold a webhook:, an email:
 * and a pg_channel:, each becoming one endpoint, in the order written. The endpoints' order
 * is their identity in the store's outbox (a delivery names its endpoint by index), so a
 * config change that reorders them sends a pending delivery to whatever now holds its index
 * when it has the same kind, and fails it otherwise.
 *
 * Secrets are read here, when the config loads: secret_env from the environment at once,
 * secret_file once the config's directory is known (ferry_config_notify_finish()). A missing
 * variable or file is a config error that names the variable or the file, never a value. The
 * secret lives in the config until ferry_config_free(), which wipes it. */
#include "config/notify_section.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/yaml.h"
#include "util/password.h" /* ferry_password_wipe() */

#define DEFAULT_BATCH 500
#define SECRET_MAX 4096

#define SPEC(member) offsetof(ferry_notify_spec, member)

static const char *const event_names[] = {"finished", "succeeded", "failed", "cancelled"};
static const unsigned event_bits[] = {FERRY_NOTIFY_ON_FINISHED, FERRY_NOTIFY_ON_SUCCEEDED,
                                      FERRY_NOTIFY_ON_FAILED, FERRY_NOTIFY_ON_CANCELLED};

/* on: [finished | succeeded | failed | cancelled], one word or a list. */
static ferry_rc on_events(struct walk *w, const struct val *v, const struct key_rule *rule,
                          void *obj, void *data)
{
    unsigned *on = FERRY_KEY_MEMBER(unsigned, data, rule->offset);
    char **words = NULL;
    size_t n = 0;
    ferry_rc rc = ferry_config_strings_load(w, v, true, false, &words, &n);

    (void)obj;
    if (rc != FERRY_OK)
        return rc;
    *on = 0;
    for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
        size_t k;
        for (k = 0; k < NITEMS(event_names); k++)
            if (strcmp(words[i], event_names[k]) == 0)
                break;
        if (k == NITEMS(event_names))
            rc = ferry_config_fail(w, v->line,
                                   "unknown event '%.*s' (expected finished, succeeded, failed "
                                   "or cancelled)",
                                   ferry_config_show_len(strlen(words[i])), words[i]);
        else
            *on |= event_bits[k];
    }
    ferry_config_strv_free(words, n);
    return rc;
}

/* The value of the environment variable a *_env key names, into *dst (wiping what was
 * there). The message names the variable, never a value. */
static ferry_rc env_secret(struct walk *w, const struct val *v, char **dst)
{
    char *name = NULL;
    const char *value;
    ferry_rc rc = ferry_config_string_load(w, v, &name);

    if (rc != FERRY_OK)
        return rc;
    value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        rc = ferry_config_fail(w, v->line, "the environment variable %.*s is not set",
                               ferry_config_show_len(strlen(name)), name);
        free(name);
        return rc;
    }
    free(name);
    if (*dst != NULL)
        ferry_password_wipe(*dst, strlen(*dst));
    free(*dst);
    if ((*dst = strdup(value)) == NULL)
        return ferry_config_oom(w);
    return FERRY_OK;
}

static ferry_rc on_secret_env(struct walk *w, const struct val *v, const struct key_rule *rule,
                              void *obj, void *data)
{
    ferry_notify_spec *spec = data;

    (void)rule;
    (void)obj;
    if (spec->secret_file != NULL)
        return ferry_config_fail(w, v->line, "give secret_env or secret_file, not both");
    return env_secret(w, v, &spec->secret);
}

static ferry_rc on_previous_secret_env(struct walk *w, const struct val *v,
                                       const struct key_rule *rule, void *obj, void *data)
{
    (void)rule;
    (void)obj;
    return env_secret(w, v, &((ferry_notify_spec *)data)->previous_secret);
}

static ferry_rc on_secret_file(struct walk *w, const struct val *v, const struct key_rule *rule,
                               void *obj, void *data)
{
    ferry_notify_spec *spec = data;

    (void)rule;
    (void)obj;
    if (spec->secret != NULL)
        return ferry_config_fail(w, v->line, "give secret_env or secret_file, not both");
    spec->secret_line = v->line;
    snprintf(spec->secret_path, sizeof(spec->secret_path), "%.*s", (int)w->pathlen, w->path);
    return ferry_config_string_set(w, v, &spec->secret_file);
}

/* url: http:// or https://, with a host. Where it may connect is the destination policy's,
 * checked when a delivery connects (allow_private, allow_hosts). */
static ferry_rc check_url(struct walk *w, const struct val *v, const struct key_rule *rule,
                          void *obj, void *data)
{
    const char *url = *FERRY_KEY_MEMBER(char *, data, rule->offset);
    const char *host = strncmp(url, "https://", 8) == 0  ? url + 8
                       : strncmp(url, "http://", 7) == 0 ? url + 7
                                                         : NULL;

    (void)obj;
    if (host == NULL || host[0] == '\0' || host[0] == '/' || strpbrk(url, " \t\r\n") != NULL)
        return ferry_config_fail(w, v->line,
                                 "expected an http:// or https:// URL, such as "
                                 "https://app.example.com/ferry/webhook");
    return FERRY_OK;
}

static const struct key_rule webhook_rules[] = {
    {"url", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = SPEC(url), .fn = check_url},
    {"secret_env", FERRY_KEY_CUSTOM, .fn = on_secret_env},
    {"secret_file", FERRY_KEY_CUSTOM, .fn = on_secret_file},
    /* while rotating: deliveries carry a signature with each */
    {"previous_secret_env", FERRY_KEY_CUSTOM, .fn = on_previous_secret_env},
    {"on", FERRY_KEY_CUSTOM, .offset = SPEC(on), .fn = on_events}, /* default: finished */
    {"records", FERRY_KEY_BOOL, .offset = SPEC(records)},
    {"batch", FERRY_KEY_LONG, .offset = SPEC(batch), .min = 1, .max = FERRY_NOTIFY_BATCH_MAX,
     .def = DEFAULT_BATCH},
};

static const struct key_rule email_rules[] = {
    {"to", FERRY_KEY_STRINGS, .flags = FERRY_KEY_REQUIRED | FERRY_KEY_ONE_OK | FERRY_KEY_NOCASE,
     .offset = SPEC(to), .count_offset = SPEC(nto)},
    {"on", FERRY_KEY_CUSTOM, .offset = SPEC(on), .fn = on_events}, /* default: failed */
};

/* Appends an endpoint of kind to list; *ret points into the list. */
static ferry_rc add_endpoint(struct walk *w, int line, ferry_notify_list *list,
                             ferry_notify_kind kind, ferry_notify_spec **ret)
{
    ferry_notify_spec *items;

    if (list->n >= FERRY_NOTIFY_MAX)
        return ferry_config_fail(w, line, "at most %d endpoints", FERRY_NOTIFY_MAX);
    items = realloc(list->items, (list->n + 1) * sizeof(*items));
    if (items == NULL)
        return ferry_config_oom(w);
    list->items = items;
    *ret = &items[list->n++];
    memset(*ret, 0, sizeof(**ret));
    (*ret)->kind = kind;
    (*ret)->line = line;
    return FERRY_OK;
}

static ferry_rc on_webhook(struct walk *w, const struct val *v, const struct key_rule *rule,
                           void *obj, void *data)
{
    ferry_notify_spec *spec;
    struct key_seen seen;
    ferry_rc rc = add_endpoint(w, v->line, data, FERRY_NOTIFY_WEBHOOK, &spec);

    (void)rule;
    if (rc != FERRY_OK)
        return rc;
    if (!ferry_config_table_defaults(webhook_rules, NITEMS(webhook_rules), spec))
        return ferry_config_oom(w);
    spec->on = FERRY_NOTIFY_ON_FINISHED;
    rc = ferry_config_table_walk(w, v, webhook_rules, NITEMS(webhook_rules), obj, spec, &seen);
    if (rc == FERRY_OK && spec->secret == NULL && spec->secret_file == NULL)
        rc = ferry_config_fail(w, v->line,
                               "a webhook needs a secret to sign its deliveries: secret_env "
                               "(an environment variable) or secret_file");
    return rc;
}

static ferry_rc on_email(struct walk *w, const struct val *v, const struct key_rule *rule,
                         void *obj, void *data)
{
    ferry_notify_spec *spec;
    ferry_rc rc = add_endpoint(w, v->line, data, FERRY_NOTIFY_EMAIL, &spec);

    (void)rule;
    if (rc != FERRY_OK)
        return rc;
    spec->on = FERRY_NOTIFY_ON_FAILED;
    rc = ferry_config_table_walk(w, v, email_rules, NITEMS(email_rules), obj, spec, NULL);
    for (size_t i = 0; rc == FERRY_OK && i < spec->nto; i++) {
        const char *at = strchr(spec->to[i], '@');
        if (at == NULL || at == spec->to[i] || at[1] == '\0' ||
            strpbrk(spec->to[i], " \t\r\n<>,;") != NULL)
            rc = ferry_config_fail(w, v->line, "'%.*s' is not an e-mail address",
                                   ferry_config_show_len(strlen(spec->to[i])), spec->to[i]);
    }
    return rc;
}

static ferry_rc on_pg_channel(struct walk *w, const struct val *v, const struct key_rule *rule,
                              void *obj, void *data)
{
    ferry_notify_spec *spec;
    char *name = NULL;
    ferry_rc rc = ferry_config_string_load(w, v, &name);

    (void)rule;
    (void)obj;
    if (rc != FERRY_OK)
        return rc;
    if (!ferry_config_is_identifier(name)) {
        rc = ferry_config_fail(w, v->line,
                               "'%.*s' is not a channel name: letters, digits and _, not "
                               "starting with a digit, at most 63",
                               ferry_config_show_len(strlen(name)), name);
        free(name);
        return rc;
    }
    if ((rc = add_endpoint(w, v->line, data, FERRY_NOTIFY_PG_CHANNEL, &spec)) != FERRY_OK) {
        free(name);
        return rc;
    }
    spec->channel = name;
    spec->on = FERRY_NOTIFY_ON_SUCCEEDED;
    return FERRY_OK;
}

/* One mapping of endpoints. Its rows fill the list itself (data), one endpoint per key. */
static const struct key_rule entry_rules[] = {
    {"webhook", FERRY_KEY_CUSTOM, .fn = on_webhook},
    {"email", FERRY_KEY_CUSTOM, .fn = on_email},
    {"pg_channel", FERRY_KEY_CUSTOM, .fn = on_pg_channel},
};

ferry_rc ferry_config_notify_walk(struct walk *w, const struct val *v, const struct key_rule *rule,
                                  void *obj, void *data)
{
    ferry_notify_list *list = FERRY_KEY_MEMBER(ferry_notify_list, data, rule->offset);
    ferry_rc rc = FERRY_OK;

    ferry_config_notify_list_done(list);
    list->set = true;
    if (ferry_config_is_null(v->node))
        return FERRY_OK; /* notify: with nothing: no endpoints (a sync silencing the top's) */
    if (!fy_node_is_sequence(v->node))
        return ferry_config_table_walk(w, v, entry_rules, NITEMS(entry_rules), obj, list, NULL);
    for (int i = 0; i < fy_node_sequence_item_count(v->node) && rc == FERRY_OK; i++) {
        struct fy_node *item = fy_node_sequence_get_by_index(v->node, i);
        struct val iv = ferry_config_val_of(item, v->line);
        size_t old = ferry_config_path_push_index(w, (size_t)i);
        rc = ferry_config_table_walk(w, &iv, entry_rules, NITEMS(entry_rules), obj, list, NULL);
        ferry_config_path_pop(w, old);
    }
    return rc;
}

/* Fails at the key path where spec's secret_file was written. */
static ferry_rc secret_file_fail(struct walk *w, const ferry_notify_spec *spec, const char *why)
{
    snprintf(w->path, sizeof(w->path), "%s", spec->secret_path);
    w->pathlen = strlen(w->path);
    return ferry_config_fail(w, spec->secret_line, "cannot read the secret file '%.*s': %s",
                             ferry_config_show_len(strlen(spec->secret_file)), spec->secret_file,
                             why);
}

/* Reads spec's secret_file (relative to dir): its first line, without the line end. */
static ferry_rc read_secret_file(struct walk *w, const char *dir, ferry_notify_spec *spec)
{
    char path[4096], *text = NULL;
    size_t len = 0;
    ferry_err ferr;

    if (spec->secret_file[0] == '/')
        snprintf(path, sizeof(path), "%s", spec->secret_file);
    else
        snprintf(path, sizeof(path), "%s/%s", dir, spec->secret_file);
    ferry_err_clear(&ferr);
    if (ferry_config_file_load(path, &text, &len, &ferr) != FERRY_OK)
        return secret_file_fail(w, spec, "no such file, or not readable");
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    if (len == 0 || len > SECRET_MAX || memchr(text, '\n', len) != NULL) {
        ferry_password_wipe(text, len);
        free(text);
        return secret_file_fail(w, spec, "expected one line of 1 to 4096 bytes");
    }
    spec->secret = text;
    return FERRY_OK;
}

static ferry_rc finish_list(struct walk *w, ferry_config *cfg, ferry_notify_list *list,
                            const char *where)
{
    bool pg = strncmp(cfg->database, "postgres://", 11) == 0 ||
              strncmp(cfg->database, "postgresql://", 13) == 0;
    ferry_rc rc = FERRY_OK;

    for (size_t i = 0; i < list->n && rc == FERRY_OK; i++) {
        ferry_notify_spec *spec = &list->items[i];
        if (spec->kind == FERRY_NOTIFY_WEBHOOK && spec->secret == NULL && spec->secret_file != NULL)
            rc = read_secret_file(w, cfg->dir, spec);
        if (rc != FERRY_OK)
            break;
        snprintf(w->path, sizeof(w->path), "%s", where);
        w->pathlen = strlen(w->path);
        if (spec->kind == FERRY_NOTIFY_EMAIL && cfg->smtp.url == NULL)
            rc = ferry_config_fail(w, spec->line,
                                   "an email endpoint needs the top level's smtp: (url, from)");
        else if (spec->kind == FERRY_NOTIFY_PG_CHANNEL && !pg)
            rc = ferry_config_fail(w, spec->line,
                                   "pg_channel needs a PostgreSQL database (database: "
                                   "postgres://...)");
    }
    return rc;
}

ferry_rc ferry_config_notify_finish(struct walk *w, ferry_config *cfg)
{
    char where[300];
    ferry_rc rc = finish_list(w, cfg, &cfg->notify, "notify");

    for (size_t i = 0; i < cfg->nsyncs && rc == FERRY_OK; i++) {
        snprintf(where, sizeof(where), "syncs.%s.notify", cfg->syncs[i].name);
        rc = finish_list(w, cfg, &cfg->syncs[i].notify, where);
    }
    w->path[0] = '\0';
    w->pathlen = 0;
    if (rc == FERRY_OK && cfg->public_url == NULL) {
        const char *prefix = cfg->base_path != NULL ? cfg->base_path : "";
        size_t n = strlen(cfg->listen) + strlen(prefix) + 9;
        if ((cfg->public_url = malloc(n)) == NULL)
            return ferry_config_oom(w);
        snprintf(cfg->public_url, n, "%s://%s%s", cfg->tls.cert != NULL ? "https" : "http",
                 cfg->listen, prefix);
    }
    return rc;
}

void ferry_config_notify_list_done(ferry_notify_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        ferry_notify_spec *s = &list->items[i];
        free(s->url);
        if (s->secret != NULL)
            ferry_password_wipe(s->secret, strlen(s->secret));
        free(s->secret);
        if (s->previous_secret != NULL)
            ferry_password_wipe(s->previous_secret, strlen(s->previous_secret));
        free(s->previous_secret);
        free(s->secret_file);
        ferry_config_strv_free(s->to, s->nto);
        free(s->channel);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}
