/* google_auth.c - access tokens for Google service accounts (auth: google_service_account).
 *
 * A source hands in the key's JSON (read from its key_file or key_env at each open); the key
 * is parsed, an RS256 assertion built (util/google_sa.c) and POSTed to the key's token_uri as
 * grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer (RFC 7523). The access token is
 * cached process-wide per (client_email, token_uri, scope) until a minute before its
 * expires_in, so the runs of every sync using the key share one token.
 *
 * The cache is util/token_cache.c's and the answer is read by util/oauth2.c, as for OAuth2
 * sources. Threads: any. Limits: a token answer of at most 64 KiB, a token of at most 4 KiB.
 * Secrets: the private key and the tokens are wiped when freed and never
 * appear in a message; the token endpoint's error and error_description do. */
#include "source/google_auth.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/google_sa.h"
#include "util/oauth2.h"
#include "util/password.h"
#include "util/token_cache.h"
#include "util/url.h"

static ferry_rc exchange(const ferry_google_sa_key *key, const char *scope,
                         const ferry_net_policy *policy, const atomic_bool *cancel, time_t now,
                         char *token, time_t *ret_until, ferry_err *err)
{
    ferry_oauth2_answer answer = {0};
    char who[600];
    ferry_buf body;
    ferry_rc rc;

    snprintf(who, sizeof(who), "the service account %s", key->client_email);
    ferry_buf_init(&body, 16 * 1024);
    rc = ferry_buf_printf(&body, "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3A"
                                 "jwt-bearer&assertion=");
    if (rc == FERRY_OK)
        rc = ferry_google_sa_jwt_build(key, scope, now, &body, err);
    if (rc == FERRY_OK)
        rc = ferry_oauth2_request(key->token_uri, body.data, NULL, NULL, policy, cancel, who,
                                  &answer, err);
    if (rc != FERRY_OK)
        goto out_free_body;
    if (answer.expires_in <= 0) {
        char where[512];
        ferry_url_redact(key->token_uri, where, sizeof(where));
        rc = ferry_err_set(err, FERRY_ESOURCE,
                           "the token endpoint %s answered without its expires_in for %s", where,
                           who);
        goto out_done_answer;
    }
    snprintf(token, FERRY_TOKEN_CACHE_TOKEN_MAX, "%s", answer.access_token);
    *ret_until = now + (time_t)answer.expires_in - FERRY_TOKEN_CACHE_EARLY_S;

out_done_answer:
    ferry_oauth2_answer_done(&answer);
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
    char cache_key[FERRY_TOKEN_CACHE_KEY_MAX], token[FERRY_TOKEN_CACHE_TOKEN_MAX];
    time_t now = time(NULL), until = 0;
    char *header = NULL, *email = NULL;
    ferry_rc rc;

    rc = ferry_google_sa_key_parse(key_json, key_len, what, &key, err);
    if (rc != FERRY_OK)
        return rc;
    snprintf(cache_key, sizeof(cache_key), "%s\n%s\n%s", key.client_email, key.token_uri,
             scope != NULL ? scope : FERRY_GOOGLE_SA_SCOPE_DEFAULT);
    if (!ferry_token_cache_get(cache_key, now, token)) {
        rc = exchange(&key, scope, policy, cancel, now, token, &until, err);
        if (rc != FERRY_OK)
            goto out_done_key;
        ferry_token_cache_put(cache_key, token, until);
    }
    header = ferry_token_cache_bearer(token);
    email = strdup(key.client_email);
    if (header == NULL || email == NULL) {
        ferry_password_free(header);
        free(email);
        rc = ferry_err_set(err, FERRY_ENOMEM, "building the request");
        goto out_done_key;
    }
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
