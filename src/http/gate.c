/* gate.c - who may call a route: authentication, the CSRF check and the role check.
 *
 * Every request the router matched passes the gate before its body is read, so a refused
 * client cannot make the server buffer anything. A public route lets anyone through; /metrics
 * too, unless metrics_token is set. Otherwise the gate finds who is asking: a Bearer token,
 * else a session cookie (401 without either, or when the one given is not valid; a credential
 * in the URL is refused). A change (not GET or HEAD) made with a session cookie must carry the
 * session's CSRF token (403). Last, the user's role must be at least the route's (403, logged
 * and audited). On the way through, req->who names the user and req->cred_hash keeps the
 * stored form of the credential, which event streams check again later.
 *
 * Called on libmicrohttpd's threads; each uses its own store connection (ferry_http_store). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/names.h"
#include "http/internal.h"
#include "util/log.h"
#include "util/timeutil.h"

const char *ferry_http_bearer_token(const char *authorization)
{
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    authorization += 7;
    while (*authorization == ' ')
        authorization++;
    return authorization;
}

static enum MHD_Result reply_unauthorized(struct MHD_Connection *conn, const char *msg)
{
    return ferry_http_reply_json_header(conn, MHD_HTTP_UNAUTHORIZED,
                                        ferry_http_error_body("unauthorized", msg),
                                        "WWW-Authenticate", "Bearer realm=\"ferry\"");
}

/* Constant-time equality of two strings (their lengths are not secret). */
static bool secret_equal(const char *a, const char *b)
{
    size_t n = strlen(a);

    return n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

bool ferry_http_gate_credential_is_valid(struct ferry_server *srv, ferry_http_auth_kind kind,
                                         const char *secret_hash, const char *user, int64_t exp_s)
{
    const ferry_config *cfg;
    ferry_principal who;
    ferry_user u;
    ferry_store *st;
    ferry_err err;
    ferry_rc rc;

    if (kind == FERRY_HTTP_AUTH_EMBED)
        return ferry_time_now_ms() / 1000 < exp_s + FERRY_EMBED_LEEWAY_S;
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL)
        return true; /* the database is away: the next check decides */
    if (kind == FERRY_HTTP_AUTH_HEADER) {
        memset(&u, 0, sizeof(u));
        rc = st->people->user_load(st, user, &u, &err);
        rc = rc == FERRY_OK && u.disabled ? FERRY_ENOTFOUND : rc;
        ferry_user_done(&u);
        return rc != FERRY_ENOTFOUND;
    }
    memset(&who, 0, sizeof(who));
    cfg = ferry_config_live_acquire(srv->opt.live); /* an event stream's: no request's */
    rc = kind == FERRY_HTTP_AUTH_SESSION
             ? st->people->session_auth(st, secret_hash, cfg->session_idle_ms, cfg->session_max_ms,
                                        &who, &err)
             : st->people->token_auth(st, secret_hash, &who, &err);
    ferry_config_live_release(srv->opt.live, cfg);
    ferry_principal_done(&who);
    return rc == FERRY_OK || rc != FERRY_ENOTFOUND;
}

bool ferry_http_request_sees(const request *req, const char *sync, const char *tenant)
{
    return req->embed == NULL || ferry_embed_claims_allow(req->embed, sync, tenant);
}

bool ferry_http_request_may_touch(struct ferry_server *srv, struct MHD_Connection *conn,
                                  const request *req, const char *sync, const char *tenant,
                                  bool tenant_too, enum MHD_Result *ret)
{
    char target[200];

    if (req->embed == NULL || (tenant_too ? ferry_embed_claims_allow(req->embed, sync, tenant)
                                          : ferry_embed_claims_allow_sync(req->embed, sync)))
        return true;
    snprintf(target, sizeof(target), "sync %.64s%s%.64s", sync, tenant != NULL ? ", tenant " : "",
             tenant != NULL ? tenant : "");
    ferry_log(FERRY_LOG_WARN, "msg=\"refused\" user=\"%s\" what=\"%s\"", req->who.user, target);
    ferry_http_audit(srv, req, "refused", target, "%s's embed token does not list %s",
                     req->who.user, target);
    *ret = ferry_http_reply_error(conn, MHD_HTTP_FORBIDDEN, "forbidden",
                                  "this embed token does not allow %s (its syncs and tenants "
                                  "claims list what it may touch)",
                                  target);
    return false;
}

/* An embed token: verified with embed.secret_env's secret; its holder becomes "EMAIL via
 * embed" (or SUB), a viewer or an operator, never an admin. */
static bool authenticate_embed(struct ferry_server *srv, struct MHD_Connection *conn, request *req,
                               const char *token, enum MHD_Result *ret)
{
    ferry_embed_claims *c = calloc(1, sizeof(*c));
    char name[FERRY_EMBED_CLAIM_MAX + 16];
    ferry_err err;

    if (c == NULL) {
        *ret = MHD_NO;
        return false;
    }
    ferry_err_clear(&err);
    if (ferry_embed_token_verify(
            token, srv->embed_secret, srv->embed_secret_len, ferry_time_now_ms() / 1000,
            ferry_http_config()->embed.max_age_ms / 1000, c, &err) != FERRY_OK) {
        free(c);
        ferry_log(FERRY_LOG_INFO, "msg=\"embed token refused\" client=%s why=\"%s\"", req->client,
                  err.msg);
        *ret = reply_unauthorized(conn, err.msg);
        return false;
    }
    snprintf(name, sizeof(name), "%s via embed", c->email != NULL ? c->email : c->sub);
    req->who.user = strdup(name);
    req->who.role = c->is_operator ? FERRY_ROLE_OPERATOR : FERRY_ROLE_VIEWER;
    if (req->who.user == NULL) {
        ferry_embed_claims_done(c);
        free(c);
        *ret = MHD_NO;
        return false;
    }
    req->embed = c;
    req->auth_kind = FERRY_HTTP_AUTH_EMBED;
    req->authed = true;
    return true;
}

/* auth.trusted_header from one of auth.trusted_proxies: the user it names, who must exist
 * and be enabled, with their role. */
static bool authenticate_header(struct ferry_server *srv, struct MHD_Connection *conn, request *req,
                                const char *name, enum MHD_Result *ret)
{
    const char *header = ferry_http_config()->auth.trusted_header;
    ferry_store *st;
    ferry_user u;
    ferry_err err;
    ferry_rc rc;

    ferry_err_clear(&err);
    memset(&u, 0, sizeof(u));
    if ((st = ferry_http_store(srv, &err)) == NULL) {
        *ret = ferry_http_reply_err(conn, &err);
        return false;
    }
    rc = ferry_user_name_ok(name) ? st->people->user_load(st, name, &u, &err) : FERRY_ENOTFOUND;
    if (rc == FERRY_ENOTFOUND || (rc == FERRY_OK && u.disabled)) {
        ferry_log(FERRY_LOG_WARN, "msg=\"unknown user from the proxy\" header=%s client=%s", header,
                  req->client);
        *ret = reply_unauthorized(conn, rc == FERRY_OK
                                            ? "the user your proxy signed in is disabled in Ferry"
                                            : "the user your proxy signed in is not a Ferry user "
                                              "(an admin adds them: ferry user add NAME --role "
                                              "viewer)");
        ferry_user_done(&u);
        return false;
    }
    if (rc != FERRY_OK) {
        *ret = ferry_http_reply_err(conn, &err);
        return false;
    }
    req->who.user = strdup(u.name);
    req->who.user_id = u.id;
    req->who.role = u.role;
    ferry_user_done(&u);
    if (req->who.user == NULL) {
        *ret = MHD_NO;
        return false;
    }
    req->auth_kind = FERRY_HTTP_AUTH_HEADER;
    req->authed = true;
    return true;
}

/* True when token has the shape of a JSON Web Token (three segments); API tokens have none. */
static bool looks_like_jwt(const char *token)
{
    const char *dot = strchr(token, '.');

    return dot != NULL && strchr(dot + 1, '.') != NULL;
}

/* Finds who is asking: a Bearer token, else a session cookie. False (with a 401 or 500
 * queued) when neither is valid. *metrics_ok is set when the token is metrics_token. */
static bool authenticate(struct ferry_server *srv, struct MHD_Connection *conn, request *req,
                         bool *metrics_ok, enum MHD_Result *ret)
{
    const ferry_config *cfg = ferry_http_config();
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *cookie, *named;
    ferry_store *st;
    ferry_err err;
    ferry_rc rc;

    *metrics_ok = false;
    if (MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "access_token") != NULL ||
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token") != NULL) {
        *ret = reply_unauthorized(conn, "credentials are not accepted in the URL (it is logged "
                                        "and kept in histories); send Authorization: Bearer "
                                        "TOKEN");
        return false;
    }
    ferry_err_clear(&err);
    if (cfg->auth.trusted_header != NULL && auth == NULL &&
        (named = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, cfg->auth.trusted_header)) !=
            NULL &&
        ferry_ipnet_contains(cfg->auth.trusted_proxies, cfg->auth.ntrusted_proxies, req->peer))
        return authenticate_header(srv, conn, req, named, ret);
    /* From any other address the header is ignored: whoever sent it proves nothing. */
    if (auth != NULL) {
        const char *token = ferry_http_bearer_token(auth);
        if (token == NULL) {
            *ret = reply_unauthorized(conn, "the Authorization header must be 'Bearer TOKEN'");
            return false;
        }
        if (looks_like_jwt(token)) {
            if (srv->embed_secret == NULL) {
                *ret = reply_unauthorized(conn, "embed tokens are not enabled on this Ferry "
                                                "(embed.secret_env in its config)");
                return false;
            }
            return authenticate_embed(srv, conn, req, token, ret);
        }
        if (req->route->access == FERRY_HTTP_ACCESS_METRICS && cfg->metrics_token != NULL &&
            secret_equal(token, cfg->metrics_token)) {
            *metrics_ok = true;
            return true;
        }
        ferry_token_hash(token, req->cred_hash);
        if ((st = ferry_http_store(srv, &err)) == NULL)
            goto store_failed;
        rc = st->people->token_auth(st, req->cred_hash, &req->who, &err);
        if (rc == FERRY_ENOTFOUND) {
            *ret = reply_unauthorized(conn, "the API token is not valid: unknown, revoked, or its "
                                            "user is disabled");
            return false;
        }
        if (rc != FERRY_OK)
            goto store_failed;
        req->authed = true;
        return true;
    }
    cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, FERRY_SESSION_COOKIE);
    if (cookie != NULL && ferry_session_id_ok(cookie)) {
        ferry_token_hash(cookie, req->cred_hash);
        if ((st = ferry_http_store(srv, &err)) == NULL)
            goto store_failed;
        rc = st->people->session_auth(st, req->cred_hash, cfg->session_idle_ms, cfg->session_max_ms,
                                      &req->who, &err);
        if (rc == FERRY_ENOTFOUND) {
            *ret = reply_unauthorized(conn, "your session has ended; log in again");
            return false;
        }
        if (rc != FERRY_OK)
            goto store_failed;
        req->authed = true;
        req->auth_kind = FERRY_HTTP_AUTH_SESSION;
        req->by_cookie = true;
        memcpy(req->session_id, cookie, strlen(cookie) + 1);
        return true;
    }
    *ret = reply_unauthorized(conn, "log in first (POST /api/login), or send Authorization: "
                                    "Bearer TOKEN");
    return false;

store_failed:
    *ret = ferry_http_reply_err(conn, &err);
    return false;
}

bool ferry_http_gate_pass(struct ferry_server *srv, struct MHD_Connection *conn, const char *method,
                          request *req, enum MHD_Result *ret)
{
    const ferry_http_route *route = req->route;
    bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool metrics_ok = false;
    const char *csrf;

    if (route->access == FERRY_HTTP_ACCESS_PUBLIC ||
        (route->access == FERRY_HTTP_ACCESS_METRICS && ferry_http_config()->metrics_token == NULL))
        return true;
    if (!authenticate(srv, conn, req, &metrics_ok, ret))
        return false;
    if (metrics_ok)
        return true;
    /* A proxy adds its header to every request the browser sends it, a page of another
     * site's too; such a page cannot add a header of its own without a CORS preflight, which
     * Ferry refuses unless cors_origins lists the site. So a change signed in by the trusted
     * header must carry X-CSRF-Token, whatever its value (GET /api/me gives one). */
    csrf = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token");
    if (req->auth_kind == FERRY_HTTP_AUTH_HEADER && !safe && (csrf == NULL || csrf[0] == '\0')) {
        *ret = ferry_http_reply_error(
            conn, MHD_HTTP_FORBIDDEN, "csrf",
            "this request needs the X-CSRF-Token header given by GET /api/me");
        return false;
    }
    if (req->by_cookie && !safe &&
        !ferry_session_csrf_ok(
            req->session_id, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token"))) {
        *ret = ferry_http_reply_error(
            conn, MHD_HTTP_FORBIDDEN, "csrf",
            "this request needs the X-CSRF-Token header given at login (or by "
            "GET /api/me)");
        return false;
    }
    if (req->who.role < route->role) {
        char target[160];
        snprintf(target, sizeof(target), "%s %s", method, route->path);
        ferry_log(FERRY_LOG_WARN, "msg=\"refused\" user=\"%s\" role=%s route=\"%s\"", req->who.user,
                  ferry_role_name(req->who.role), target);
        ferry_http_audit(srv, req, "refused", target, "%s is %s %s; %s needs the %s role",
                         req->who.user, req->who.role == FERRY_ROLE_ADMIN ? "an" : "a",
                         ferry_role_name(req->who.role), route->what, ferry_role_name(route->role));
        *ret = ferry_http_reply_error(
            conn, MHD_HTTP_FORBIDDEN, "forbidden", "%s needs the %s role; %s is %s %s", route->what,
            ferry_role_name(route->role), req->who.user,
            req->who.role == FERRY_ROLE_ADMIN ? "an" : "a", ferry_role_name(req->who.role));
        return false;
    }
    return true;
}
