/* google_auth.c - access tokens for Google service accounts (auth: google_service_account).
 *
 * A source hands in the key's JSON (read from its key_file or key_env at each open); the key
 * is parsed, an RS256 assertion built (util/google_sa.c) and POSTed to the key's token_uri as
 * grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer (RFC 7523). The access token is
 * cached process-wide per (client_email, token_uri, scope) until a minute before its
 * expires_in, so the runs of every sync using the key share one token.
 *
 * Threads: any. cache_lock protects the cache; it is never held across the token request
 * (two threads missing at once both ask, and the later answer wins: harmless).
 * Limits: CACHE_MAX entries (the oldest replaced), a token answer of at most 64 KiB, a token
 * of at most 4 KiB. Secrets: the private key and the tokens are wiped when freed and never
 * appear in a message; the token endpoint's error and error_description do. */
#include "source/google_auth.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/google_sa.h"
#include "util/http_fetch.h"
#include "util/url.h"

#define CACHE_MAX 16
#define TOKEN_MAX 4096
#define ANSWER_MAX (64 * 1024)
#define EARLY_S 60 /* a cached token is renewed this long before it expires */

struct cached {
    char key[1024]; /* client_email \n token_uri \n scope */
    char token[TOKEN_MAX];
    time_t until; /* 0: an empty slot */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER; /* protects cache */
static struct cached cache[CACHE_MAX];

static bool cache_get(const char *key, time_t now, char *out)
{
    bool hit = false;

    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_MAX && !hit; i++) {
        if (cache[i].until > now && strcmp(cache[i].key, key) == 0) {
            memcpy(out, cache[i].token, TOKEN_MAX);
            hit = true;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_put(const char *key, const char *token, time_t until)
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
    sodium_memzero(cache[slot].token, TOKEN_MAX);
    snprintf(cache[slot].key, sizeof(cache[slot].key), "%s", key);
    snprintf(cache[slot].token, TOKEN_MAX, "%s", token);
    cache[slot].until = until;
    pthread_mutex_unlock(&cache_lock);
}

void ferry_google_auth_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    sodium_memzero(cache, sizeof(cache));
    pthread_mutex_unlock(&cache_lock);
}

/* The token endpoint's own words for a refusal: error and error_description, when JSON. */
static void refusal_text(const ferry_http_response *resp, char *out, size_t outlen)
{
    json_t *root =
        json_loadb(resp->body.data != NULL ? resp->body.data : "", resp->body.len, 0, NULL);
    const char *e = json_string_value(json_object_get(root, "error"));
    const char *d = json_string_value(json_object_get(root, "error_description"));

    if (e == NULL)
        snprintf(out, outlen, "HTTP %ld, not a token answer (%s)", resp->status,
                 resp->content_type != NULL ? resp->content_type : "no content type");
    else if (d != NULL)
        snprintf(out, outlen, "%.100s: %.300s", e, d);
    else
        snprintf(out, outlen, "%.100s", e);
    json_decref(root);
}

static ferry_rc exchange(const ferry_google_sa_key *key, const char *scope,
                         const ferry_net_policy *policy, const atomic_bool *cancel, time_t now,
                         char *token, time_t *ret_until, ferry_err *err)
{
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                          "Accept: application/json", NULL};
    ferry_http_response resp = {0};
    ferry_http_client *http = NULL;
    char where[512], why[512];
    json_t *root = NULL;
    const char *tok;
    json_int_t expires;
    ferry_buf body;
    ferry_rc rc;

    ferry_url_redact(key->token_uri, where, sizeof(where));
    ferry_buf_init(&body, 16 * 1024);
    rc = ferry_buf_printf(&body, "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3A"
                                 "jwt-bearer&assertion=");
    if (rc == FERRY_OK)
        rc = ferry_google_sa_jwt_build(key, scope, now, &body, err);
    if (rc == FERRY_OK)
        rc = ferry_http_client_new(&http, err);
    if (rc != FERRY_OK)
        goto out_free_body;
    ferry_http_request req = {.method = "POST",
                              .url = key->token_uri,
                              .headers = headers,
                              .body = body.data,
                              .timeout_ms = 30000,
                              .max_bytes = ANSWER_MAX,
                              .cancel = cancel,
                              .policy = policy};
    rc = ferry_http_client_fetch(http, &req, &resp, err);
    if (rc != FERRY_OK) {
        ferry_err_prefix(err, "asking %s for an access token for %s", where, key->client_email);
        goto out_free_client;
    }
    if (resp.status < 200 || resp.status > 299) {
        refusal_text(&resp, why, sizeof(why));
        rc = ferry_err_set(err, FERRY_ESOURCE,
                           "the token endpoint %s refused the service account %s: %s", where,
                           key->client_email, why);
        goto out_free_resp;
    }
    root = json_loadb(resp.body.data != NULL ? resp.body.data : "", resp.body.len, 0, NULL);
    tok = json_string_value(json_object_get(root, "access_token"));
    expires = json_integer_value(json_object_get(root, "expires_in"));
    if (tok == NULL || tok[0] == '\0' || strlen(tok) >= TOKEN_MAX || strpbrk(tok, "\r\n") ||
        expires <= 0) {
        rc = ferry_err_set(err, FERRY_ESOURCE,
                           "the token endpoint %s answered HTTP %ld without an access token and "
                           "its expires_in (%s) for the service account %s",
                           where, resp.status,
                           resp.content_type != NULL ? resp.content_type : "no content type",
                           key->client_email);
        goto out_free_root;
    }
    snprintf(token, TOKEN_MAX, "%s", tok);
    *ret_until = now + (time_t)expires - EARLY_S;

out_free_root:
    if (json_is_object(root) && json_is_string(json_object_get(root, "access_token")))
        sodium_memzero((char *)json_string_value(json_object_get(root, "access_token")),
                       json_string_length(json_object_get(root, "access_token")));
    json_decref(root);
out_free_resp:
    if (resp.body.data != NULL)
        sodium_memzero(resp.body.data, resp.body.len);
    ferry_http_response_done(&resp);
out_free_client:
    ferry_http_client_free(http);
out_free_body:
    if (body.data != NULL)
        sodium_memzero(body.data, body.len);
    ferry_buf_done(&body);
    return rc;
}

ferry_rc ferry_google_auth_header(const char *key_json, size_t key_len, const char *what,
                                  const char *scope, const ferry_net_policy *policy,
                                  const atomic_bool *cancel, char **ret_header, char **ret_email,
                                  ferry_err *err)
{
    ferry_google_sa_key key;
    char cache_key[1024], token[TOKEN_MAX];
    time_t now = time(NULL), until = 0;
    char *header = NULL, *email = NULL;
    size_t n;
    ferry_rc rc;

    rc = ferry_google_sa_key_parse(key_json, key_len, what, &key, err);
    if (rc != FERRY_OK)
        return rc;
    snprintf(cache_key, sizeof(cache_key), "%s\n%s\n%s", key.client_email, key.token_uri,
             scope != NULL ? scope : FERRY_GOOGLE_SA_SCOPE_DEFAULT);
    if (!cache_get(cache_key, now, token)) {
        rc = exchange(&key, scope, policy, cancel, now, token, &until, err);
        if (rc != FERRY_OK)
            goto out_done_key;
        cache_put(cache_key, token, until);
    }
    n = strlen(token) + sizeof("Authorization: Bearer ");
    header = malloc(n);
    email = strdup(key.client_email);
    if (header == NULL || email == NULL) {
        free(header);
        free(email);
        rc = ferry_err_set(err, FERRY_ENOMEM, "building the request");
        goto out_done_key;
    }
    snprintf(header, n, "Authorization: Bearer %s", token);
    *ret_header = header;
    *ret_email = email;

out_done_key:
    sodium_memzero(token, sizeof(token));
    ferry_google_sa_key_done(&key);
    return rc;
}

ferry_rc ferry_source_google_header(const ferry_sync_spec *sync, const ferry_source_options *opt,
                                    const ferry_net_policy *policy, char **ret_header,
                                    char **ret_email, ferry_err *err)
{
    const ferry_secret_ref *ref = &sync->source.auth.secret;
    char *key = NULL, what[600];
    ferry_rc rc;

    rc = ferry_source_secret_read(sync, opt, ref, "service-account key", &key, err);
    if (rc != FERRY_OK)
        return rc;
    snprintf(what, sizeof(what), "%s %s", ref->file != NULL ? "the key file" : "the variable",
             ref->file != NULL ? ref->file : ref->env);
    rc = ferry_google_auth_header(key, strlen(key), what, sync->source.auth.scope, policy,
                                  opt->cancel, ret_header, ret_email, err);
    sodium_memzero(key, strlen(key));
    free(key);
    return rc;
}
