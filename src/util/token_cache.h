/* token_cache.h - access tokens kept for the whole process until a minute before they
 * expire, so the runs of every sync using the same credentials share one token (Google
 * service accounts, OAuth2 sources). */
#ifndef FERRY_UTIL_TOKEN_CACHE_H
#define FERRY_UTIL_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The longest token kept (a longer one is refused by its parser). */
#define FERRY_TOKEN_CACHE_TOKEN_MAX 4096

/* The longest key: what identifies the credentials (never a secret). */
#define FERRY_TOKEN_CACHE_KEY_MAX 1024

/* A token is renewed this long before its expires_in runs out. */
#define FERRY_TOKEN_CACHE_EARLY_S 60

/* Copies the token cached under key (borrowed) and still valid at now into out
 * (FERRY_TOKEN_CACHE_TOKEN_MAX bytes, a secret: wipe it); false when there is none. Any
 * thread. */
bool ferry_token_cache_get(const char *key, time_t now, char *out);

/* Keeps token (borrowed) under key until `until` (wall clock, already less the early margin),
 * replacing what key held, or the entry that expires first when the cache is full. Any
 * thread. */
void ferry_token_cache_put(const char *key, const char *token, time_t until);

/* Forgets the token under key (an API answered 401 to it). Any thread. */
void ferry_token_cache_drop(const char *key);

/* "Authorization: Bearer TOKEN" for token (borrowed), owned by the caller (a secret:
 * ferry_password_free()), or NULL when out of memory. */
char *ferry_token_cache_bearer(const char *token);

/* Forgets every token (tests; a key rotated by hand). Any thread. */
void ferry_token_cache_clear(void);

#endif
