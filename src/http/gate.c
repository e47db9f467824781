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

#include "http/internal.h"
#include "util/log.h"

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

bool ferry_http_gate_credential_is_valid(struct ferry_server *srv, bool by_cookie,
                                         const char *secret_hash)
{
    const ferry_config *cfg = srv->opt.config;
    ferry_principal who;
    ferry_store *st;
    ferry_err err;
    ferry_rc rc;

    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL)
        return true; /* the database is away: the next check decides */
    memset(&who, 0, sizeof(who));
    rc = by_cookie ? st->people->session_auth(st, secret_hash, cfg->session_idle_ms,
                                              cfg->session_max_ms, &who, &err)
                   : st->people->token_auth(st, secret_hash, &who, &err);
    ferry_principal_done(&who);
    return rc == FERRY_OK || rc != FERRY_ENOTFOUND;
}

/* Finds who is asking: a Bearer token, else a session cookie. False (with a 401 or 500
 * queued) when neither is valid. *metrics_ok is set when the token is metrics_token. */
static bool authenticate(struct ferry_server *srv, struct MHD_Connection *conn, request *req,
                         bool *metrics_ok, enum MHD_Result *ret)
{
    const ferry_config *cfg = srv->opt.config;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *cookie;
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
    if (auth != NULL) {
        const char *token = ferry_http_bearer_token(auth);
        if (token == NULL) {
            *ret = reply_unauthorized(conn, "the Authorization header must be 'Bearer TOKEN'");
            return false;
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

    if (route->access == FERRY_HTTP_ACCESS_PUBLIC ||
        (route->access == FERRY_HTTP_ACCESS_METRICS && srv->opt.config->metrics_token == NULL))
        return true;
    if (!authenticate(srv, conn, req, &metrics_ok, ret))
        return false;
    if (metrics_ok)
        return true;
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
