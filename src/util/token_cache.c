/* token_cache.c - the process-wide cache of access tokens (see token_cache.h).
 *
 * A fixed table of CACHE_MAX entries: the oldest is replaced when it is full. Tokens are wiped
 * when replaced, dropped or cleared.
 *
 * Threads: any. cache_lock protects cache; callers never hold it across a token request (two
 * threads missing at once both ask, and the later answer wins: harmless). */
#include "util/token_cache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_MAX 16

struct cached {
    char key[FERRY_TOKEN_CACHE_KEY_MAX];
    char token[FERRY_TOKEN_CACHE_TOKEN_MAX];
    time_t until; /* 0: an empty slot */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER; /* protects cache */
static struct cached cache[CACHE_MAX];

bool ferry_token_cache_get(const char *key, time_t now, char *out)
{
    bool hit = false;

    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_MAX && !hit; i++) {
        if (cache[i].until > now && strcmp(cache[i].key, key) == 0) {
            memcpy(out, cache[i].token, FERRY_TOKEN_CACHE_TOKEN_MAX);
            hit = true;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

void ferry_token_cache_put(const char *key, const char *token, time_t until)
{
    size_t slot = 0;

    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_MAX; i++) {
        if (strcmp(cache[i].key, key) == 0 || cache[i].until < cache[slot].until) {
            slot = i;
            if (strcmp(cache[i].key, key) == 0)
                break;
        }
    }
    sodium_memzero(cache[slot].token, FERRY_TOKEN_CACHE_TOKEN_MAX);
    snprintf(cache[slot].key, sizeof(cache[slot].key), "%s", key);
    snprintf(cache[slot].token, FERRY_TOKEN_CACHE_TOKEN_MAX, "%s", token);
    cache[slot].until = until;
    pthread_mutex_unlock(&cache_lock);
}

void ferry_token_cache_drop(const char *key)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_MAX; i++)
        if (strcmp(cache[i].key, key) == 0)
            sodium_memzero(&cache[i], sizeof(cache[i]));
    pthread_mutex_unlock(&cache_lock);
}

void ferry_token_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    sodium_memzero(cache, sizeof(cache));
    pthread_mutex_unlock(&cache_lock);
}

char *ferry_token_cache_bearer(const char *token)
{
    size_t n = strlen(token) + sizeof("Authorization: Bearer ");
    char *header = malloc(n);

    if (header != NULL)
        snprintf(header, n, "Authorization: Bearer %s", token);
    return header;
}
