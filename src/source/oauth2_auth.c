/* oauth2_auth.c - access tokens for REST sources behind OAuth2 (auth: oauth2).
 *
 * Two grants (RFC 6749): client_credentials (section 4.4) and refresh_token (section 6). The
 * client authenticates with HTTP Basic (section 2.3.1, the default) or, for servers that
 * want it, with client_id and client_secret in the form (client_auth: body); a client
 * without a secret sends its client_id in the form. The access token is cached process-wide
 * (util/token_cache.c) per sync, tenant, token URL, client ID and scope until a minute before
 * its expires_in (an hour when the answer states none), so a sync's runs share it.
 *
 * Rotation: a server may answer a refresh with a new refresh token and revoke the old one.
 * The new one is kept in the vault (Ferry's store, encrypted: sync/vault.c) under a name per
 * sync, tenant, token URL and client ID, and a kept one is used before the one the config
 * names, so a restart does not fall back to a revoked token, until the configured one changes
 * (Ferry was authorized again: read_refresh()). A refresh_token grant therefore
 * needs the vault ready (the store key set) before it asks, or a rotation could be lost.
 *
 * Secrets (the client secret, the refresh token, the form, the tokens) are wiped when freed
 * and never appear in a message; the endpoint's error and error_description do. Threads: the
 * source's; the cache is shared under its own lock. */
#include "source/oauth2_auth.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/oauth2.h"
#include "util/password.h"
#include "util/template.h"
#include "util/token_cache.h"
#include "util/url.h"

#define DEFAULT_EXPIRES_S 3600
#define FORM_MAX (32 * 1024)
#define ORIGIN_BYTES 16
#define ORIGIN_HEX (2 * ORIGIN_BYTES)

static void wipe_buf(ferry_buf *b)
{
    if (b->data != NULL)
        sodium_memzero(b->data, b->len);
    ferry_buf_done(b);
}

/* text's {variables} expanded into a new string (owned by the caller). */
static ferry_rc expand(const ferry_sync_spec *sync, const char *tenant, const char *text,
                       char **ret, ferry_err *err)
{
    ferry_buf b;
    ferry_rc rc;

    ferry_buf_init(&b, 4096);
    rc = ferry_source_expand(sync, tenant, text, false, &b, err);
    if (rc == FERRY_OK && (*ret = ferry_buf_take(&b)) == NULL)
        rc = ferry_err_set(err, FERRY_ENOMEM, "reading the OAuth2 settings");
    ferry_buf_done(&b);
    return rc;
}

/* Appends "&name=value" (or "name=value" first), value form-encoded. */
static ferry_rc form_add(ferry_buf *form, const char *name, const char *value)
{
    ferry_rc rc = ferry_buf_printf(form, "%s%s=", form->len > 0 ? "&" : "", name);

    return rc == FERRY_OK ? ferry_url_encode(value, strlen(value), form) : rc;
}

static char *encoded(const char *value)
{
    ferry_buf b;

    ferry_buf_init(&b, FORM_MAX);
    if (ferry_url_encode(value, strlen(value), &b) != FERRY_OK) {
        wipe_buf(&b);
        return NULL;
    }
    return ferry_buf_take(&b);
}

struct client {
    char *token_url, *client_id; /* expanded */
    char *secret;                /* the client secret, or NULL */
    char *refresh;               /* refresh_token grant: the refresh token in use */
    char origin[ORIGIN_HEX + 1]; /* refresh_token grant: the configured token's fingerprint */
    char vault_name[FERRY_TOKEN_CACHE_KEY_MAX];
    char who[300];
};

static void client_done(struct client *c)
{
    free(c->token_url);
    free(c->client_id);
    ferry_password_free(c->secret);
    ferry_password_free(c->refresh);
}

/* The refresh token to use. A kept one is stored as "ORIGIN\nTOKEN", ORIGIN the fingerprint
 * of the configured token it descends from: while the configured token is the same, the kept
 * one is newer and used; once a person puts a new one in the variable or file (Ferry was
 * authorized again), the configured one is. */
static ferry_rc read_refresh(const ferry_sync_spec *sync, const ferry_source_options *opt,
                             struct client *c, ferry_err *err)
{
    const ferry_token_vault *v = opt->vault;
    unsigned char digest[ORIGIN_BYTES];
    char *configured = NULL, *kept = NULL;
    ferry_rc rc;

    if (v == NULL)
        return ferry_err_set(err, FERRY_ECREDENTIAL,
                             "an OAuth2 refresh_token grant needs Ferry's store to keep the "
                             "refresh tokens the server rotates, and none is open here");
    if ((rc = v->ready(v->ctx, err)) != FERRY_OK)
        return ferry_err_prefix(err, "oauth2 grant refresh_token");
    rc = ferry_source_secret_read(sync, opt, &sync->source.auth.oauth2.refresh, "refresh token",
                                  &configured, err);
    if (rc != FERRY_OK)
        return rc;
    crypto_generichash(digest, sizeof(digest), (const unsigned char *)configured,
                       strlen(configured), NULL, 0);
    sodium_bin2hex(c->origin, sizeof(c->origin), digest, sizeof(digest));
    if ((rc = v->get(v->ctx, c->vault_name, &kept, err)) != FERRY_OK) {
        ferry_password_free(configured);
        return rc;
    }
    if (kept != NULL && strlen(kept) > ORIGIN_HEX + 1 && memcmp(kept, c->origin, ORIGIN_HEX) == 0 &&
        kept[ORIGIN_HEX] == '\n') {
        c->refresh = strdup(kept + ORIGIN_HEX + 1);
        ferry_password_free(configured);
        ferry_password_free(kept);
        return c->refresh != NULL ? FERRY_OK
                                  : ferry_err_set(err, FERRY_ENOMEM, "reading the refresh token");
    }
    ferry_password_free(kept);
    c->refresh = configured;
    return FERRY_OK;
}

/* Keeps refresh, the token a rotation gave, with the fingerprint of its origin. */
static ferry_rc keep_refresh(const ferry_source_options *opt, const struct client *c,
                             const char *refresh, ferry_err *err)
{
    size_t n = ORIGIN_HEX + 2 + strlen(refresh);
    char *text = malloc(n);
    ferry_rc rc;

    if (text == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "keeping the refresh token");
    snprintf(text, n, "%s\n%s", c->origin, refresh);
    rc = opt->vault->put(opt->vault->ctx, c->vault_name, text, err);
    ferry_password_free(text);
    return rc;
}

static ferry_rc build_form(const ferry_auth_spec *auth, const struct client *c, ferry_buf *form)
{
    const ferry_oauth2_spec *o = &auth->oauth2;
    bool body_auth = o->client_auth == FERRY_OAUTH2_AUTH_BODY || c->secret == NULL;
    ferry_rc rc;

    if (o->grant == FERRY_OAUTH2_REFRESH_TOKEN) {
        rc = form_add(form, "grant_type", "refresh_token");
        if (rc == FERRY_OK)
            rc = form_add(form, "refresh_token", c->refresh);
    } else {
        rc = form_add(form, "grant_type", "client_credentials");
    }
    if (rc == FERRY_OK && auth->scope != NULL)
        rc = form_add(form, "scope", auth->scope);
    if (rc == FERRY_OK && body_auth)
        rc = form_add(form, "client_id", c->client_id);
    if (rc == FERRY_OK && body_auth && c->secret != NULL)
        rc = form_add(form, "client_secret", c->secret);
    return rc;
}

/* Asks the token endpoint; keeps a rotated refresh token. The token goes to out. */
static ferry_rc ask(const ferry_sync_spec *sync, const ferry_source_options *opt,
                    const ferry_net_policy *policy, struct client *c, char *out, time_t *ret_until,
                    ferry_err *err)
{
    const ferry_auth_spec *auth = &sync->source.auth;
    bool basic = auth->oauth2.client_auth == FERRY_OAUTH2_AUTH_BASIC && c->secret != NULL;
    ferry_oauth2_answer answer = {0};
    char *user = NULL, *password = NULL;
    time_t now = time(NULL);
    int64_t expires;
    ferry_buf form;
    ferry_rc rc;

    ferry_buf_init(&form, FORM_MAX);
    if (build_form(auth, c, &form) != FERRY_OK) {
        rc = ferry_err_set(err, FERRY_ELIMIT, "the OAuth2 token request is too large");
        goto out_wipe;
    }
    /* RFC 6749 2.3.1: the id and secret are form-encoded before Basic encodes them. */
    if (basic &&
        ((user = encoded(c->client_id)) == NULL || (password = encoded(c->secret)) == NULL)) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "building the OAuth2 token request");
        goto out_wipe;
    }
    rc = ferry_oauth2_request(c->token_url, ferry_buf_str(&form), user, password, policy,
                              opt->cancel, c->who, &answer, err);
    if (rc != FERRY_OK)
        goto out_wipe;
    if (answer.refresh_token != NULL && auth->oauth2.grant == FERRY_OAUTH2_REFRESH_TOKEN &&
        strcmp(answer.refresh_token, c->refresh) != 0) {
        rc = keep_refresh(opt, c, answer.refresh_token, err);
        if (rc != FERRY_OK) {
            char where[512];
            ferry_url_redact(c->token_url, where, sizeof(where));
            ferry_err_prefix(err, "keeping the new refresh token %s gave %s", where, c->who);
            goto out_done_answer;
        }
    }
    expires = answer.expires_in > 0 ? answer.expires_in : DEFAULT_EXPIRES_S;
    snprintf(out, FERRY_TOKEN_CACHE_TOKEN_MAX, "%s", answer.access_token);
    *ret_until = now + (time_t)expires - FERRY_TOKEN_CACHE_EARLY_S;

out_done_answer:
    ferry_oauth2_answer_done(&answer);
out_wipe:
    ferry_password_free(user);
    ferry_password_free(password);
    wipe_buf(&form);
    return rc;
}

ferry_rc ferry_source_oauth2_header(const ferry_sync_spec *sync, const ferry_source_options *opt,
                                    const ferry_net_policy *policy, bool renew, char **ret_header,
                                    ferry_err *err)
{
    const ferry_auth_spec *auth = &sync->source.auth;
    const char *tenant = opt->tenant != NULL ? opt->tenant : "";
    const char *owner = sync->parent != NULL ? sync->parent->name : sync->name;
    char cache_key[FERRY_TOKEN_CACHE_KEY_MAX], token[FERRY_TOKEN_CACHE_TOKEN_MAX];
    struct client c = {0};
    time_t until = 0;
    char *header;
    ferry_rc rc;

    rc = expand(sync, opt->tenant, auth->oauth2.token_url, &c.token_url, err);
    if (rc == FERRY_OK)
        rc = expand(sync, opt->tenant, auth->oauth2.client_id, &c.client_id, err);
    if (rc != FERRY_OK)
        goto out_done;
    snprintf(c.who, sizeof(c.who), "the client ID %.200s", c.client_id);
    /* The steps of one sync share its client: one authorization, one token. */
    snprintf(c.vault_name, sizeof(c.vault_name), "oauth2 refresh_token\n%s\n%s\n%s\n%s", owner,
             tenant, c.token_url, c.client_id);
    snprintf(cache_key, sizeof(cache_key), "oauth2\n%s\n%s\n%s\n%s\n%s", owner, tenant, c.token_url,
             c.client_id, auth->scope != NULL ? auth->scope : "");
    if (renew)
        ferry_token_cache_drop(cache_key);
    if (!ferry_token_cache_get(cache_key, time(NULL), token)) {
        if ((auth->secret.env != NULL || auth->secret.file != NULL) &&
            (rc = ferry_source_secret_read(sync, opt, &auth->secret, "client secret", &c.secret,
                                           err)) != FERRY_OK)
            goto out_done;
        if (auth->oauth2.grant == FERRY_OAUTH2_REFRESH_TOKEN &&
            (rc = read_refresh(sync, opt, &c, err)) != FERRY_OK)
            goto out_done;
        if ((rc = ask(sync, opt, policy, &c, token, &until, err)) != FERRY_OK)
            goto out_done;
        ferry_token_cache_put(cache_key, token, until);
    }
    if ((header = ferry_token_cache_bearer(token)) == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "building the request");
        goto out_done;
    }
    *ret_header = header;

out_done:
    sodium_memzero(token, sizeof(token));
    client_done(&c);
    return rc;
}
