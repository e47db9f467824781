/* oauth2.c - a token endpoint's answer read into an access token, its lifetime and a
 * rotated refresh token (see oauth2.h).
 *
 * jansson keeps its own copies of the strings: the token members are wiped in the tree
 * before it is freed, so no copy of a secret outlives the call but the caller's. Messages
 * quote the endpoint's error and error_description (the server's words for a person), never
 * a token. Pure; any thread. */
#include "util/oauth2.h"

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/http_fetch.h"
#include "util/password.h"
#include "util/token_cache.h"
#include "util/url.h"

static char *secret_dup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

void ferry_oauth2_answer_done(ferry_oauth2_answer *a)
{
    if (a == NULL)
        return;
    ferry_password_free(a->access_token);
    ferry_password_free(a->refresh_token);
    memset(a, 0, sizeof(*a));
}

static void wipe_member(json_t *root, const char *name)
{
    json_t *v = json_object_get(root, name);

    if (json_is_string(v))
        sodium_memzero((char *)json_string_value(v), json_string_length(v));
}

/* What a person can do about the common refusals (RFC 6749 section 5.2). */
static const char *advice(const char *error)
{
    if (strcmp(error, "invalid_grant") == 0)
        return " (the refresh token or grant has expired or been revoked: authorize Ferry again)";
    if (strcmp(error, "invalid_client") == 0)
        return " (the client ID or secret is wrong, or the server wants them sent the other "
               "way: client_auth)";
    if (strcmp(error, "invalid_scope") == 0)
        return " (the scope asked for is not granted to this client)";
    if (strcmp(error, "unauthorized_client") == 0)
        return " (this client may not use this grant)";
    return "";
}

static bool usable(const char *tok)
{
    return tok != NULL && tok[0] != '\0' && strlen(tok) < FERRY_TOKEN_CACHE_TOKEN_MAX &&
           strpbrk(tok, "\r\n") == NULL;
}

ferry_rc ferry_oauth2_answer_parse(long status, const char *content_type, const char *body,
                                   size_t len, const char *where, const char *who,
                                   ferry_oauth2_answer *ret, ferry_err *err)
{
    const char *ctype = content_type != NULL ? content_type : "no content type";
    ferry_oauth2_answer a = {0};
    json_t *root = json_loadb(body != NULL ? body : "", len, 0, NULL);
    const char *e = json_string_value(json_object_get(root, "error"));
    const char *tok, *refresh;
    json_t *exp;
    ferry_rc rc = FERRY_OK;

    memset(ret, 0, sizeof(*ret));
    if (status < 200 || status > 299) {
        const char *d = json_string_value(json_object_get(root, "error_description"));
        if (e != NULL)
            rc = ferry_err_set(err, FERRY_EREFUSED,
                               "the token endpoint %s refused %s: %.100s%s%.300s%s", where, who, e,
                               d != NULL ? ": " : "", d != NULL ? d : "", advice(e));
        else
            rc = ferry_err_set(err, FERRY_ESOURCE,
                               "the token endpoint %s refused %s: HTTP %ld, not a token answer "
                               "(%s)",
                               where, who, status, ctype);
        goto out_free_root;
    }
    if (!json_is_object(root)) {
        rc = ferry_err_set(err, FERRY_ESOURCE,
                           "the token endpoint %s answered HTTP %ld for %s with %s that is not a "
                           "JSON object",
                           where, status, who, ctype);
        goto out_free_root;
    }
    tok = json_string_value(json_object_get(root, "access_token"));
    refresh = json_string_value(json_object_get(root, "refresh_token"));
    exp = json_object_get(root, "expires_in");
    if (!usable(tok) || (refresh != NULL && !usable(refresh))) {
        rc = ferry_err_set(
            err, FERRY_ESOURCE, "the token endpoint %s answered HTTP %ld without %s (%s) for %s",
            where, status, usable(tok) ? "a usable refresh_token" : "an access token", ctype, who);
        goto out_free_root;
    }
    /* RFC 6749 says a number; some servers send a string of digits. */
    if (json_is_integer(exp))
        a.expires_in = json_integer_value(exp);
    else if (json_is_string(exp))
        a.expires_in = strtoll(json_string_value(exp), NULL, 10);
    if (a.expires_in < 0)
        a.expires_in = 0;
    a.access_token = secret_dup(tok);
    a.refresh_token = secret_dup(refresh);
    if (a.access_token == NULL || (refresh != NULL && a.refresh_token == NULL)) {
        ferry_oauth2_answer_done(&a);
        rc = ferry_err_set(err, FERRY_ENOMEM, "reading the token endpoint's answer");
        goto out_free_root;
    }
    *ret = a;

out_free_root:
    if (json_is_object(root)) {
        wipe_member(root, "access_token");
        wipe_member(root, "refresh_token");
        wipe_member(root, "id_token");
    }
    json_decref(root);
    return rc;
}

ferry_rc ferry_oauth2_request(const char *url, const char *form, const char *user,
                              const char *password, const ferry_net_policy *policy,
                              const atomic_bool *cancel, const char *who, ferry_oauth2_answer *ret,
                              ferry_err *err)
{
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                          "Accept: application/json", NULL};
    ferry_http_response resp = {0};
    ferry_http_client *http = NULL;
    char where[512];
    ferry_rc rc;

    ferry_url_redact(url, where, sizeof(where));
    rc = ferry_http_client_new(&http, err);
    if (rc != FERRY_OK)
        return rc;
    ferry_http_request req = {.method = "POST",
                              .url = url,
                              .headers = headers,
                              .body = form,
                              .user = user,
                              .password = password,
                              .timeout_ms = 30000,
                              .max_bytes = FERRY_OAUTH2_ANSWER_MAX,
                              .cancel = cancel,
                              .policy = policy};
    rc = ferry_http_client_fetch(http, &req, &resp, err);
    if (rc != FERRY_OK) {
        ferry_err_prefix(err, "asking %s for an access token for %s", where, who);
        goto out_free_client;
    }
    rc = ferry_oauth2_answer_parse(resp.status, resp.content_type, resp.body.data, resp.body.len,
                                   where, who, ret, err);
    if (resp.body.data != NULL)
        sodium_memzero(resp.body.data, resp.body.len);
    ferry_http_response_done(&resp);
out_free_client:
    ferry_http_client_free(http);
    return rc;
}
