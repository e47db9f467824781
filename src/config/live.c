/* live.c - the live config: the current config, those still in use, and reloads.
 *
 * Each config ever installed has a slot with a count of its users; the current one counts
 * one more, held by the live config itself. The lock protects the slots and the current
 * pointer and is held only to count, never while a file is read: a reload loads the new
 * config outside it (under reload_lock, which only reloads take, so reloads run one at a
 * time) and takes the lock only to install it. A slot whose count drops to zero is freed by
 * whoever dropped it, outside the lock. */
#include "config/live.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    ferry_config *cfg;
    long users;
    struct slot *next;
} slot;

struct ferry_config_live {
    pthread_mutex_t lock;        /* protects slots, current and every slot's users */
    pthread_mutex_t reload_lock; /* one reload at a time */
    slot *slots;                 /* every config still in use, the current one first */
    slot *current;
};

ferry_rc ferry_config_live_new(ferry_config *cfg, ferry_config_live **ret_live, ferry_err *err)
{
    ferry_config_live *live = calloc(1, sizeof(*live));
    slot *s = calloc(1, sizeof(*s));

    if (live == NULL || s == NULL) {
        free(live);
        free(s);
        ferry_config_free(cfg);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the live config");
    }
    s->cfg = cfg;
    s->users = 1; /* the live config's own */
    live->slots = live->current = s;
    pthread_mutex_init(&live->lock, NULL);
    pthread_mutex_init(&live->reload_lock, NULL);
    *ret_live = live;
    return FERRY_OK;
}

void ferry_config_live_free(ferry_config_live *live)
{
    if (live == NULL)
        return;
    while (live->slots != NULL) {
        slot *s = live->slots;
        live->slots = s->next;
        ferry_config_free(s->cfg);
        free(s);
    }
    pthread_mutex_destroy(&live->lock);
    pthread_mutex_destroy(&live->reload_lock);
    free(live);
}

const ferry_config *ferry_config_live_acquire(ferry_config_live *live)
{
    const ferry_config *cfg;

    pthread_mutex_lock(&live->lock);
    live->current->users++;
    cfg = live->current->cfg;
    pthread_mutex_unlock(&live->lock);
    return cfg;
}

/* Drops one user of the slot of cfg (the lock held); returns the slot, unlinked, when that
 * was its last user, for the caller to free outside the lock. */
static slot *drop_user(ferry_config_live *live, const ferry_config *cfg)
{
    for (slot **p = &live->slots; *p != NULL; p = &(*p)->next) {
        slot *s = *p;
        if (s->cfg != cfg)
            continue;
        if (--s->users > 0)
            return NULL;
        *p = s->next;
        return s;
    }
    return NULL; /* not ours: a programmer error, left alone */
}

void ferry_config_live_release(ferry_config_live *live, const ferry_config *cfg)
{
    slot *gone;

    if (cfg == NULL)
        return;
    pthread_mutex_lock(&live->lock);
    gone = drop_user(live, cfg);
    pthread_mutex_unlock(&live->lock);
    if (gone != NULL) {
        ferry_config_free(gone->cfg);
        free(gone);
    }
}

/* ---- reload ---- */

/* Appends a copy of text to the list *v (*n items). False when memory ran out. */
static bool list_add(char ***v, size_t *n, const char *text)
{
    char **grown = realloc(*v, (*n + 1) * sizeof(**v));
    char *copy = strdup(text);

    if (grown == NULL || copy == NULL) {
        free(copy);
        if (grown != NULL)
            *v = grown;
        return false;
    }
    *v = grown;
    grown[(*n)++] = copy;
    return true;
}

static void list_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void ferry_config_reload_done(ferry_config_reload *r)
{
    list_free(r->syncs, r->nsyncs);
    list_free(r->added, r->nadded);
    list_free(r->removed, r->nremoved);
    list_free(r->warnings, r->nwarnings);
    memset(r, 0, sizeof(*r));
}

static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* A text setting that needs a restart: next keeps cur's value; a warning when it differed. */
static bool keep_text(char **next, const char *cur, const char *key, ferry_config_reload *r)
{
    char msg[160];
    char *copy = NULL;

    if (same_text(*next, cur))
        return true;
    if (cur != NULL && (copy = strdup(cur)) == NULL)
        return false;
    free(*next);
    *next = copy;
    snprintf(msg, sizeof(msg), "%s changed: restart Ferry for it to take effect", key);
    return list_add(&r->warnings, &r->nwarnings, msg);
}

/* A number setting that needs a restart, as keep_text(). */
static bool keep_number(long *next, long cur, const char *key, ferry_config_reload *r)
{
    char msg[160];

    if (*next == cur)
        return true;
    *next = cur;
    snprintf(msg, sizeof(msg), "%s changed: restart Ferry for it to take effect", key);
    return list_add(&r->warnings, &r->nwarnings, msg);
}

/* The settings read once, when the server starts: the store (database, store_key_env), the
 * listener and its limits (listen, tls on or off, max_connections, max_connections_per_ip,
 * idle_timeout, max_body_bytes, base_path), the worker threads (workers) and the embed
 * secret (embed.secret_env, read from the environment at start). next keeps cur's. */
static bool keep_restart_settings(ferry_config *next, const ferry_config *cur,
                                  ferry_config_reload *r)
{
    long workers = next->workers;
    long tls_on = next->tls.cert != NULL;
    bool ok = keep_text(&next->database, cur->database, "database", r) &&
              keep_text(&next->store_key_env, cur->store_key_env, "store_key_env", r) &&
              keep_text(&next->listen, cur->listen, "listen", r) &&
              keep_text(&next->base_path, cur->base_path, "base_path", r) &&
              keep_text(&next->embed.secret_env, cur->embed.secret_env, "embed.secret_env", r) &&
              keep_number(&workers, cur->workers, "workers", r) &&
              keep_number(&next->max_connections, cur->max_connections, "max_connections", r) &&
              keep_number(&next->max_connections_per_ip, cur->max_connections_per_ip,
                          "max_connections_per_ip", r) &&
              keep_number(&next->idle_timeout_ms, cur->idle_timeout_ms, "idle_timeout", r) &&
              keep_number(&next->max_body_bytes, cur->max_body_bytes, "max_body_bytes", r) &&
              keep_number(&tls_on, cur->tls.cert != NULL, "tls", r);

    next->workers = (int)workers;
    if (tls_on != (next->tls.cert != NULL)) /* tls turned off: the listener keeps TLS, and */
        ferry_config_tls_keep(next, cur);   /* the pair it serves; turned on: none to serve */
    return ok;
}

static bool has_sync(const ferry_config *cfg, const char *name)
{
    return ferry_config_sync_get(cfg, name) != NULL;
}

/* The syncs of next, and those added and removed since cur, into r. */
static bool compare_syncs(const ferry_config *next, const ferry_config *cur, ferry_config_reload *r)
{
    for (size_t i = 0; i < next->nsyncs; i++) {
        if (!list_add(&r->syncs, &r->nsyncs, next->syncs[i].name) ||
            (!has_sync(cur, next->syncs[i].name) &&
             !list_add(&r->added, &r->nadded, next->syncs[i].name)))
            return false;
    }
    for (size_t i = 0; i < cur->nsyncs; i++) {
        if (!has_sync(next, cur->syncs[i].name) &&
            !list_add(&r->removed, &r->nremoved, cur->syncs[i].name))
            return false;
    }
    return true;
}

ferry_rc ferry_config_live_reload(ferry_config_live *live, ferry_config_reload *ret, ferry_err *err)
{
    ferry_config_reload r;
    ferry_config *next = NULL;
    const ferry_config *cur;
    slot *s = NULL, *gone;
    ferry_rc rc;

    memset(&r, 0, sizeof(r));
    pthread_mutex_lock(&live->reload_lock);
    cur = ferry_config_live_acquire(live);
    if ((rc = ferry_config_load(cur->path, &next, err)) != FERRY_OK)
        goto out;
    if (!keep_restart_settings(next, cur, &r) || !compare_syncs(next, cur, &r) ||
        (s = calloc(1, sizeof(*s))) == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "reloading the config");
        goto out;
    }
    s->cfg = next;
    s->users = 1; /* the live config's own */
    next = NULL;
    pthread_mutex_lock(&live->lock);
    s->next = live->slots;
    live->slots = s;
    gone = drop_user(live, live->current->cfg); /* the live config's hold on the old one */
    live->current = s;
    pthread_mutex_unlock(&live->lock);
    if (gone != NULL) { /* impossible while cur is held, but correct either way */
        ferry_config_free(gone->cfg);
        free(gone);
    }
    *ret = r;
    memset(&r, 0, sizeof(r));
out:
    ferry_config_free(next);
    ferry_config_reload_done(&r);
    ferry_config_live_release(live, cur);
    pthread_mutex_unlock(&live->reload_lock);
    return rc;
}
