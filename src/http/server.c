/* server.c - the HTTP server's life cycle, route table and gate (see server.h, internal.h).
 *
 * Request life: libmicrohttpd calls the access handler first with the headers only. That
 * first call matches the route (404, or 405 with Allow) and passes the gate: who is asking
 * (a Bearer token, or a session cookie; 401 without one), whether a cookie-authenticated
 * change carries its CSRF token (403), and whether the user's role allows the route (403,
 * logged and audited). A refused request is answered before its body is read, so an
 * unauthenticated client cannot make the server buffer anything. A URL or header holding a
 * bare CR is refused (400) before that. Then the body is appended to a buffer bounded by
 * max_body_bytes as it arrives: the piece that passes the limit is answered 413 at once and
 * the connection closed (a chunked body announces no length), and a last call dispatches to
 * the route's handler. A handler that needs a password hashed suspends the
 * connection and hands the work to a small pool (ferry_http_run_task); it is called again
 * when the work is done.
 *
 * Store connections: one per libmicrohttpd thread, opened on first use and closed by a
 * thread-specific destructor when the thread ends. */
#include "http/server.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http/internal.h"
#include "util/ipnet.h"
#include "util/log.h"
#include "util/password.h"
#include "util/timeutil.h"

#define HASHING_THREADS 2         /* Argon2id hashes at once: about 64 MiB each */
#define HASHING_QUEUE 32          /* more waiting logins are answered 503 */
#define CHECK_THREADS 2           /* connection checks at once (each waits on a server) */
#define CHECK_QUEUE 8             /* more waiting checks are answered 503 */
#define HEADER_MEMORY (32 * 1024) /* per connection: larger request headers are refused (431) */

const char *const ferry_route_names[R_COUNT] = {
    "/healthz",
    "/metrics",
    "/api/syncs",
    "/api/syncs/{name}/runs",
    "/api/syncs/{name}/check",
    "/api/runs",
    "/api/runs/{id}",
    "/api/runs/{id}/changes",
    "/api/runs/{id}/cancel",
    "/api/events",
    "/api/stats",
    "/api/runs/export",
    "/api/login",
    "/api/logout",
    "/api/me",
    "/api/me/password",
    "/api/users",
    "/api/users/{name}",
    "/api/tokens",
    "/api/tokens/{id}",
    "/api/audit",
    "/api/nodes",
    "the page",
    "other",
};
const unsigned ferry_counted_status[NSTATUS] = {200, 201, 202, 204, 304, 400, 401,
                                                403, 404, 405, 409, 413, 429, 500};

/* Who may call a route. */
typedef enum {
    ACCESS_PUBLIC,  /* anyone */
    ACCESS_METRICS, /* anyone, unless metrics_token is set: then that token or a user */
    ACCESS_USER,    /* a user with at least the route's role */
} access_kind;

/* A route: its method, its path with {name} ("*") and {id} ("#") segments, and who may call
 * it. Paths are matched segment by segment; the first route whose path and method match
 * wins, so /api/runs/export is listed before /api/runs/#. */
struct route_def {
    const char *method;
    const char *path;
    enum route route;
    access_kind access;
    ferry_role role;
    const char *what; /* the action, for a refusal: "starting runs" */
};

static const struct route_def routes[] = {
    {"GET", "/healthz", R_HEALTHZ, ACCESS_PUBLIC, 0, NULL},
    {"GET", "/metrics", R_METRICS, ACCESS_METRICS, FERRY_ROLE_VIEWER, "reading metrics"},
    {"POST", "/api/login", R_LOGIN, ACCESS_PUBLIC, 0, NULL},
    {"POST", "/api/logout", R_LOGOUT, ACCESS_USER, FERRY_ROLE_VIEWER, "logging out"},
    {"GET", "/api/me", R_ME, ACCESS_USER, FERRY_ROLE_VIEWER, "reading who you are"},
    {"POST", "/api/me/password", R_ME_PASSWORD, ACCESS_USER, FERRY_ROLE_VIEWER,
     "changing your password"},
    {"GET", "/api/syncs", R_SYNCS, ACCESS_USER, FERRY_ROLE_VIEWER, "reading syncs"},
    {"POST", "/api/syncs/*/runs", R_RUN_START, ACCESS_USER, FERRY_ROLE_OPERATOR, "starting runs"},
    {"GET", "/api/syncs/*/check", R_CHECK, ACCESS_USER, FERRY_ROLE_OPERATOR,
     "checking connections"},
    {"GET", "/api/runs", R_RUNS, ACCESS_USER, FERRY_ROLE_VIEWER, "reading runs"},
    {"GET", "/api/runs/export", R_EXPORT, ACCESS_USER, FERRY_ROLE_VIEWER, "exporting runs"},
    {"GET", "/api/runs/#", R_RUN, ACCESS_USER, FERRY_ROLE_VIEWER, "reading runs"},
    {"GET", "/api/runs/#/changes", R_CHANGES, ACCESS_USER, FERRY_ROLE_VIEWER, "reading runs"},
    {"POST", "/api/runs/#/cancel", R_CANCEL, ACCESS_USER, FERRY_ROLE_OPERATOR, "cancelling runs"},
    {"GET", "/api/events", R_EVENTS, ACCESS_USER, FERRY_ROLE_VIEWER, "reading events"},
    {"GET", "/api/stats", R_STATS, ACCESS_USER, FERRY_ROLE_VIEWER, "reading figures"},
    {"GET", "/api/users", R_USERS, ACCESS_USER, FERRY_ROLE_ADMIN, "managing users"},
    {"POST", "/api/users", R_USERS, ACCESS_USER, FERRY_ROLE_ADMIN, "managing users"},
    {"PATCH", "/api/users/*", R_USER, ACCESS_USER, FERRY_ROLE_ADMIN, "managing users"},
    {"GET", "/api/tokens", R_TOKENS, ACCESS_USER, FERRY_ROLE_ADMIN, "managing tokens"},
    {"POST", "/api/tokens", R_TOKENS, ACCESS_USER, FERRY_ROLE_ADMIN, "managing tokens"},
    {"DELETE", "/api/tokens/#", R_TOKEN, ACCESS_USER, FERRY_ROLE_ADMIN, "managing tokens"},
    {"GET", "/api/audit", R_AUDIT, ACCESS_USER, FERRY_ROLE_ADMIN, "reading the audit log"},
    {"GET", "/api/nodes", R_NODES, ACCESS_USER, FERRY_ROLE_VIEWER, "reading nodes"},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Any GET of a file of the admin page (web/, embedded). */
static const struct route_def asset_route = {"GET", NULL, R_ASSET, ACCESS_PUBLIC, 0, NULL};

/* ---- matching ---- */

/* Matches url against a route's path; on a match, fills req's arg and id. */
static bool path_match(const char *pattern, const char *url, request *req)
{
    const char *p = pattern, *u = url;

    while (*p == '/' && *u == '/') {
        const char *ps = ++p, *us = ++u;
        size_t plen, ulen;
        while (*p != '\0' && *p != '/')
            p++;
        while (*u != '\0' && *u != '/')
            u++;
        plen = (size_t)(p - ps);
        ulen = (size_t)(u - us);
        if (plen == 1 && *ps == '*') {
            if (ulen == 0 || ulen >= sizeof(req->arg))
                return false;
            memcpy(req->arg, us, ulen);
            req->arg[ulen] = '\0';
            req->arglen = ulen;
        } else if (plen == 1 && *ps == '#') {
            if (!parse_id(us, ulen, &req->id))
                return false;
        } else if (plen != ulen || memcmp(ps, us, plen) != 0) {
            return false;
        }
    }
    if (*p == '\0' && u[0] == '/' && u[1] == '\0')
        return true; /* a trailing slash */
    return *p == '\0' && *u == '\0';
}

/* Finds the route of method and url. NULL with *allow set to the methods the path takes
 * (405), or to "" when no route has that path (404). */
static const struct route_def *route_find(const char *method, const char *url, request *req,
                                          char *allow, size_t allowlen)
{
    bool head = strcmp(method, "HEAD") == 0;

    allow[0] = '\0';
    for (size_t i = 0; i < NROUTES; i++) {
        if (!path_match(routes[i].path, url, req))
            continue;
        if (strcmp(routes[i].method, method) == 0 || (head && strcmp(routes[i].method, "GET") == 0))
            return &routes[i];
        req->route = routes[i].route;
        if (strstr(allow, routes[i].method) == NULL) {
            size_t n = strlen(allow);
            snprintf(allow + n, allowlen - n, "%s%s", n > 0 ? ", " : "", routes[i].method);
        }
    }
    return NULL;
}

enum route ferry_http_route_match(const char *method, const char *url, request *req, char *allow,
                                  size_t allowlen)
{
    const struct route_def *def = route_find(method, url, req, allow, allowlen);

    return def != NULL ? def->route : R_OTHER;
}

const char *ferry_http_bearer_token(const char *authorization)
{
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    authorization += 7;
    while (*authorization == ' ')
        authorization++;
    return authorization;
}

/* ---- the gate ---- */

static enum MHD_Result reply_unauthorized(struct MHD_Connection *conn, const char *msg)
{
    return reply_json_header(conn, MHD_HTTP_UNAUTHORIZED, error_body("unauthorized", msg),
                             "WWW-Authenticate", "Bearer realm=\"ferry\"");
}

/* Constant-time equality of two strings (their lengths are not secret). */
static bool secret_equal(const char *a, const char *b)
{
    size_t n = strlen(a);

    return n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

bool ferry_http_credential_valid(struct ferry_server *srv, bool by_cookie, const char *secret_hash)
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
        if (req->def->access == ACCESS_METRICS && cfg->metrics_token != NULL &&
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
    *ret = reply_ferry_error(conn, &err);
    return false;
}

/* Lets the request through, or queues its refusal and returns false. */
static bool gate(struct ferry_server *srv, struct MHD_Connection *conn, const char *method,
                 request *req, enum MHD_Result *ret)
{
    const struct route_def *def = req->def;
    bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool metrics_ok = false;

    if (def->access == ACCESS_PUBLIC ||
        (def->access == ACCESS_METRICS && srv->opt.config->metrics_token == NULL))
        return true;
    if (!authenticate(srv, conn, req, &metrics_ok, ret))
        return false;
    if (metrics_ok)
        return true;
    if (req->by_cookie && !safe &&
        !ferry_session_csrf_ok(
            req->session_id, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token"))) {
        *ret = reply_error(conn, MHD_HTTP_FORBIDDEN, "csrf",
                           "this request needs the X-CSRF-Token header given at login (or by "
                           "GET /api/me)");
        return false;
    }
    if (req->who.role < def->role) {
        char target[160];
        snprintf(target, sizeof(target), "%s %s", method, ferry_route_names[def->route]);
        ferry_log(FERRY_LOG_WARN, "msg=\"refused\" user=\"%s\" role=%s route=\"%s\"", req->who.user,
                  ferry_role_name(req->who.role), target);
        audit(srv, req, "refused", target, "%s is %s %s; %s needs the %s role", req->who.user,
              req->who.role == FERRY_ROLE_ADMIN ? "an" : "a", ferry_role_name(req->who.role),
              def->what, ferry_role_name(def->role));
        *ret = reply_error(
            conn, MHD_HTTP_FORBIDDEN, "forbidden", "%s needs the %s role; %s is %s %s", def->what,
            ferry_role_name(def->role), req->who.user,
            req->who.role == FERRY_ROLE_ADMIN ? "an" : "a", ferry_role_name(req->who.role));
        return false;
    }
    return true;
}

/* ---- password work ---- */

static void pw_task_run(void *ctx)
{
    pw_task *t = ctx;

    ferry_err_clear(&t->err);
    if (t->kind == PW_VERIFY || t->kind == PW_VERIFY_THEN_HASH)
        t->verified = ferry_password_verify(t->password, t->hash);
    if (t->kind == PW_HASH)
        ferry_password_hash(t->password, t->new_hash, &t->err);
    if (t->kind == PW_VERIFY_THEN_HASH && t->verified)
        ferry_password_hash(t->new_password, t->new_hash, &t->err);
    ferry_password_wipe(t->password, sizeof(t->password));
    ferry_password_wipe(t->new_password, sizeof(t->new_password));
    atomic_store(&t->done, true);
    MHD_resume_connection(t->conn);
}

void ferry_http_run_task(struct ferry_server *srv, struct MHD_Connection *conn, request *req,
                         pw_task *t)
{
    req->task = t;
    t->conn = conn;
    /* Suspended before the task is queued, so its resume always finds it suspended. */
    MHD_suspend_connection(conn);
    if (!ferry_taskpool_submit(srv->hashing, pw_task_run, t)) {
        ferry_password_wipe(t->password, sizeof(t->password));
        ferry_password_wipe(t->new_password, sizeof(t->new_password));
        t->refused = true;
        atomic_store(&t->done, true);
        MHD_resume_connection(conn);
    }
}

/* ---- dispatch ---- */

static enum MHD_Result dispatch(struct ferry_server *srv, struct MHD_Connection *conn, request *req)
{
    switch (req->def->route) {
    case R_HEALTHZ:
        return get_health(srv, conn);
    case R_METRICS:
        return get_metrics(srv, conn);
    case R_LOGIN:
        return post_login(srv, conn, req);
    case R_LOGOUT:
        return post_logout(srv, conn, req);
    case R_ME:
        return get_me(srv, conn, req);
    case R_ME_PASSWORD:
        return post_me_password(srv, conn, req);
    case R_SYNCS:
        return get_syncs(srv, conn);
    case R_RUN_START:
        return post_run(srv, conn, req->arg, req->arglen, req);
    case R_CHECK:
        return get_check(srv, conn, req);
    case R_RUNS:
        return list_runs(srv, conn);
    case R_EXPORT:
        return get_export(srv, conn);
    case R_RUN:
        return get_run(srv, conn, req->id);
    case R_CHANGES:
        return get_changes(srv, conn, req->id);
    case R_CANCEL:
        return post_cancel(srv, conn, req->id, req);
    case R_EVENTS:
        return get_events(srv, conn, req);
    case R_STATS:
        return get_stats(srv, conn);
    case R_USERS:
        return req->def->method[0] == 'G' ? get_users(srv, conn) : post_user(srv, conn, req);
    case R_USER:
        return patch_user(srv, conn, req->arg, req->arglen, req);
    case R_TOKENS:
        return req->def->method[0] == 'G' ? get_tokens(srv, conn) : post_token(srv, conn, req);
    case R_TOKEN:
        return delete_token(srv, conn, req->id, req);
    case R_AUDIT:
        return get_audit(srv, conn);
    case R_NODES:
        return get_nodes(srv, conn);
    case R_ASSET:
        return get_asset(srv, conn, req->asset);
    default:
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such route");
    }
}

static void store_destructor(void *p)
{
    ferry_store_close(p);
}

/* Appends each X-Forwarded-For value to the ferry_buf cls, separated by commas. */
static enum MHD_Result join_forwarded_for(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
    ferry_buf *b = cls;

    (void)kind;
    if (value != NULL && strcasecmp(key, "X-Forwarded-For") == 0)
        ferry_buf_printf(b, "%s%s", b->len > 0 ? "," : "", value);
    return MHD_YES;
}

/* The client's address: the connection's peer, or, when the peer is one of trusted_proxies,
 * the right-most address of X-Forwarded-For that is not a trusted proxy (util/ipnet.h). Every
 * X-Forwarded-For header counts, in order, as RFC 9110 section 5.3 joins repeated fields. */
static void client_address(struct ferry_server *srv, struct MHD_Connection *conn, char *out)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const ferry_config *cfg = srv->opt.config;
    char peer[FERRY_IPNET_ADDR_MAX] = "";
    ferry_buf xff;

    if (info != NULL && info->client_addr != NULL && info->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)info->client_addr)->sin_addr, peer,
                  sizeof(peer));
    else if (info != NULL && info->client_addr != NULL && info->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)info->client_addr)->sin6_addr, peer,
                  sizeof(peer));
    if (cfg->ntrusted_proxies == 0 ||
        !ferry_ipnet_contains(cfg->trusted_proxies, cfg->ntrusted_proxies, peer)) {
        snprintf(out, FERRY_IPNET_ADDR_MAX, "%s", peer);
        return;
    }
    ferry_buf_init(&xff, HEADER_MEMORY);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, join_forwarded_for, &xff);
    ferry_ipnet_client(peer, xff.len > 0 ? ferry_buf_str(&xff) : NULL, cfg->trusted_proxies,
                       cfg->ntrusted_proxies, out);
    ferry_buf_done(&xff);
}

/* Answers a CORS preflight (OPTIONS with Access-Control-Request-Method) from an origin that
 * cors_origins lists; others are refused, and the browser then refuses the call. */
static enum MHD_Result reply_preflight(struct MHD_Connection *conn, const request *req,
                                       const char *origin)
{
    struct MHD_Response *resp;

    if (req->cors_origin == NULL)
        return reply_error(conn, MHD_HTTP_FORBIDDEN, "cors",
                           "the origin %.200s is not in cors_origins", origin);
    resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            "Authorization, Content-Type, X-CSRF-Token, Last-Event-ID");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    return ferry_http_queue(conn, MHD_HTTP_NO_CONTENT, resp);
}

static enum MHD_Result find_bare_cr(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    bool *found = cls;

    (void)kind;
    if (strchr(key, '\r') != NULL || (value != NULL && strchr(value, '\r') != NULL)) {
        *found = true;
        return MHD_NO;
    }
    return MHD_YES;
}

/* True when the URL or a header of the request holds a carriage return that does not end a
 * line. libmicrohttpd keeps such a CR inside the value ("a\rX-Injected: b"), where a proxy in
 * front may have read two headers: RFC 9112 section 2.2 lets a recipient refuse it, and Ferry
 * does, so the two never disagree about what was asked. */
static bool has_bare_cr(struct MHD_Connection *conn, const char *url)
{
    bool found = strchr(url, '\r') != NULL;

    if (!found)
        MHD_get_connection_values(conn, MHD_HEADER_KIND, find_bare_cr, &found);
    return found;
}

/* Answers 413 while the body is still arriving (a chunked body past max_body_bytes) and
 * returns MHD_NO, which closes the connection. libmicrohttpd 0.9 queues no response until
 * the whole body is read (MHD_queue_response fails in that state), and reading the rest is
 * what must not happen, so the answer is written to the socket here: a few hundred bytes,
 * which an idle connection's send buffer always takes. The write side is shut first, so the
 * client reads the answer before the reset that closing an unread socket sends. */
static enum MHD_Result refuse_body_now(struct ferry_server *srv, struct MHD_Connection *conn,
                                       const request *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char body[160], head[1024];
    int blen, hlen;

    blen = snprintf(body, sizeof(body),
                    "{\"error\":{\"code\":\"too_large\",\"message\":\"the request body is "
                    "larger than %zu bytes\"}}",
                    srv->opt.max_body_bytes);
    hlen = snprintf(head, sizeof(head),
                    "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n"
                    "Content-Type: application/json\r\nCache-Control: no-store\r\n%s%s%s"
                    "Content-Length: %d\r\n\r\n",
                    req->cors_origin != NULL ? "Access-Control-Allow-Origin: " : "",
                    req->cors_origin != NULL ? req->cors_origin : "",
                    req->cors_origin != NULL
                        ? "\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"
                        : "",
                    blen);
    ferry_http_set_status(MHD_HTTP_CONTENT_TOO_LARGE);
    if (info == NULL || hlen < 0 || (size_t)hlen >= sizeof(head) || blen < 0 ||
        (size_t)blen >= sizeof(body))
        return MHD_NO;
    if (send(info->connect_fd, head, (size_t)hlen, MSG_NOSIGNAL) == hlen &&
        send(info->connect_fd, body, (size_t)blen, MSG_NOSIGNAL) == blen)
        shutdown(info->connect_fd, SHUT_WR);
    return MHD_NO;
}

/* The first call of a request: route, gate, and the announced body size. Returns MHD_YES
 * with nothing queued to go on reading the body. */
static enum MHD_Result on_headers(struct ferry_server *srv, struct MHD_Connection *conn,
                                  const char *url, const char *method, request *req)
{
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const ferry_config *cfg = srv->opt.config;
    enum MHD_Result ret = MHD_YES;
    char allow[64];

    req->route = R_OTHER;
    if (has_bare_cr(conn, url))
        return reply_json_header(conn, MHD_HTTP_BAD_REQUEST,
                                 error_body("bad_request",
                                            "a header or the URL holds a carriage return (CR) that "
                                            "does not end a line"),
                                 "Connection", "close");
    for (size_t i = 0; origin != NULL && i < cfg->ncors_origins; i++) {
        if (strcmp(origin, cfg->cors_origins[i]) == 0)
            req->cors_origin = cfg->cors_origins[i];
    }
    ferry_http_set_cors(req->cors_origin);
    if (origin != NULL && strcmp(method, "OPTIONS") == 0 &&
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Access-Control-Request-Method") != NULL)
        return reply_preflight(conn, req, origin);
    req->def = route_find(method, url, req, allow, sizeof(allow));
    if (req->def == NULL && allow[0] == '\0' && strncmp(url, "/api/", 5) != 0 &&
        (req->asset = ferry_asset_find(url)) != NULL) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return reply_method_not_allowed(conn, "GET");
        req->def = &asset_route;
    }
    if (req->def == NULL && allow[0] != '\0')
        return reply_method_not_allowed(conn, allow);
    if (req->def == NULL)
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no route for %s %.200s", method,
                           url);
    req->route = req->def->route;
    client_address(srv, conn, req->client);
    if (!gate(srv, conn, method, req, &ret))
        return ret;
    req->gate_passed = true;
    if (length != NULL && strtoull(length, NULL, 10) > srv->opt.max_body_bytes)
        return reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                           "the request body is larger than %zu bytes", srv->opt.max_body_bytes);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct ferry_server *srv = cls;
    request *req = *con_cls;
    enum MHD_Result ret;
    size_t col = NSTATUS;

    (void)version;
    ferry_http_set_status(0);
    ferry_http_set_cors(req != NULL ? req->cors_origin : NULL);
    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        req->server = srv;
        ferry_buf_init(&req->body, srv->opt.max_body_bytes);
        *con_cls = req;
        ferry_http_guard_head_done(srv->guard, conn);
        ret = on_headers(srv, conn, url, method, req);
    } else if (*upload_data_size > 0) {
        ferry_http_guard_body_read(srv->guard, conn, *upload_data_size);
        /* Counted as it arrives: a body that did not announce its length (chunked) is
         * refused the moment it passes the limit, not once it has all been read. */
        if (ferry_buf_append(&req->body, upload_data, *upload_data_size) != FERRY_OK) {
            *upload_data_size = 0;
            ret = refuse_body_now(srv, conn, req);
        } else {
            *upload_data_size = 0;
            return MHD_YES;
        }
    } else {
        ferry_http_guard_answering(srv->guard, conn);
        ret = dispatch(srv, conn, req);
    }
    if (ferry_http_last_status() == 0)
        return ret; /* nothing answered yet: reading the body, or suspended */
    ferry_http_guard_answering(srv->guard, conn); /* an answer, sent at its reader's pace */
    for (size_t i = 0; i < NSTATUS; i++) {
        if (ferry_counted_status[i] == ferry_http_last_status())
            col = i;
    }
    atomic_fetch_add(&srv->requests[req->route][col], 1);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct ferry_server *srv = cls;
    request *req = *con_cls;

    (void)toe;
    ferry_http_guard_request_done(srv->guard, conn);
    if (req == NULL)
        return;
    if (req->body.data != NULL)
        ferry_password_wipe(req->body.data, req->body.len); /* a body may hold a password */
    ferry_buf_done(&req->body);
    ferry_principal_done(&req->who);
    ferry_password_wipe(req->session_id, sizeof(req->session_id));
    if (req->task != NULL) {
        ferry_password_wipe(req->task, sizeof(*req->task));
        free(req->task);
    }
    ferry_http_check_task_free(req->check);
    json_decref(req->doc);
    free(req);
    *con_cls = NULL;
}
static ferry_rc parse_listen(const char *listen, struct sockaddr_in *addr, ferry_err *err)
{
    const char *colon = strrchr(listen, ':');
    char host[256];
    long port;
    char *end;

    memset(addr, 0, sizeof(*addr));
    if (colon == NULL || (size_t)(colon - listen) >= sizeof(host))
        return ferry_err_set(err, FERRY_ECONFIG, "listen: expected HOST:PORT, not '%s'", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return ferry_err_set(err, FERRY_ECONFIG, "listen: bad port in '%s'", listen);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return ferry_err_set(err, FERRY_ECONFIG, "listen: '%s' is not an IPv4 address", host);
    return FERRY_OK;
}

/* Login throttling (api_auth.c), so that a guesser slows only itself: a user name from one
 * address gets 5 free failures, then waits 2 s, 4 s, 8 s... up to 15 minutes; a user name from
 * every address together 20, then up to 5 minutes (a guesser spread over many addresses); an
 * address, whatever the names (a flood of made-up ones), 20, then up to 30 s only: the lock of
 * an address is what a guesser can impose on everyone behind the same proxy or NAT. */
static const ferry_throttle_policy pair_policy = {.free_failures = 5,
                                                  .base_ms = 2000,
                                                  .max_ms = 15 * 60 * 1000,
                                                  .forget_ms = 15 * 60 * 1000,
                                                  .capacity = 8192};
static const ferry_throttle_policy user_policy = {.free_failures = 20,
                                                  .base_ms = 2000,
                                                  .max_ms = 5 * 60 * 1000,
                                                  .forget_ms = 15 * 60 * 1000,
                                                  .capacity = 4096};
static const ferry_throttle_policy address_policy = {.free_failures = 20,
                                                     .base_ms = 2000,
                                                     .max_ms = 30 * 1000,
                                                     .forget_ms = 15 * 60 * 1000,
                                                     .capacity = 4096};

static void server_free(struct ferry_server *srv)
{
    ferry_http_guard_free(srv->guard);
    ferry_taskpool_free(srv->hashing);
    ferry_taskpool_free(srv->checking);
    ferry_throttle_free(srv->throttle_pair);
    ferry_throttle_free(srv->throttle_user);
    ferry_throttle_free(srv->throttle_address);
    free(srv);
}

ferry_rc ferry_server_start(const ferry_server_options *opt, ferry_server **ret_server,
                            ferry_err *err)
{
    struct ferry_server *srv = calloc(1, sizeof(*srv));
    const ferry_config *cfg = opt->config;
    unsigned char random_password[24];
    char dummy[2 * sizeof(random_password) + 1];
    struct sockaddr_in addr;
    const union MHD_DaemonInfo *info;
    ferry_rc rc;

    if (srv == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the server");
    srv->opt = *opt;
    if (srv->opt.threads == 0)
        srv->opt.threads = 2;
    if (srv->opt.max_body_bytes == 0)
        srv->opt.max_body_bytes = (size_t)cfg->max_body_bytes;
    if (srv->opt.max_connections == 0)
        srv->opt.max_connections = (unsigned)cfg->max_connections;
    if ((rc = parse_listen(opt->listen, &addr, err)) != FERRY_OK) {
        free(srv);
        return rc;
    }
    /* A login for a user who does not exist verifies against this hash of a random password,
     * so it costs what a real one does and the answer's timing does not tell. */
    randombytes_buf(random_password, sizeof(random_password));
    sodium_bin2hex(dummy, sizeof(dummy), random_password, sizeof(random_password));
    rc = ferry_password_hash(dummy, srv->dummy_hash, err);
    ferry_password_wipe(dummy, sizeof(dummy));
    if (rc != FERRY_OK) {
        free(srv);
        return rc;
    }
    srv->throttle_pair = ferry_throttle_new(&pair_policy);
    srv->throttle_user = ferry_throttle_new(&user_policy);
    srv->throttle_address = ferry_throttle_new(&address_policy);
    if (srv->throttle_pair == NULL || srv->throttle_user == NULL || srv->throttle_address == NULL) {
        server_free(srv);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the login throttle");
    }
    if ((rc = ferry_taskpool_new(HASHING_THREADS, HASHING_QUEUE, &srv->hashing, err)) != FERRY_OK ||
        (rc = ferry_taskpool_new(CHECK_THREADS, CHECK_QUEUE, &srv->checking, err)) != FERRY_OK) {
        server_free(srv);
        return rc;
    }
    if ((rc = ferry_http_guard_start(srv->opt.max_connections, &srv->guard, err)) != FERRY_OK) {
        server_free(srv);
        return rc;
    }
    pthread_key_create(&srv->store_key, store_destructor);
    /* The guard keeps max_connections (guard.c); libmicrohttpd's own limit, which it divides
     * among its threads, lets each thread hold that many and connections being closed, so a
     * new connection reaches the guard, which makes room for it by closing a slow one. */
    srv->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->opt.threads, MHD_OPTION_CONNECTION_LIMIT,
        ((unsigned)srv->opt.max_connections + 64) * (unsigned)srv->opt.threads,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((cfg->idle_timeout_ms + 999) / 1000),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, ferry_http_guard_notify_cb, srv->guard,
        MHD_OPTION_END);
    if (srv->daemon == NULL) {
        pthread_key_delete(srv->store_key);
        server_free(srv);
        return ferry_err_set(err, FERRY_EIO, "cannot listen on %s (is the port in use?)",
                             opt->listen);
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info != NULL ? info->port : ntohs(addr.sin_port);
    *ret_server = srv;
    return FERRY_OK;
}

uint16_t ferry_server_port(const ferry_server *server)
{
    return server->port;
}

void ferry_server_heartbeat(ferry_server *server)
{
    atomic_fetch_add(&server->heartbeat_gen, 1);
    ferry_hub_notify_all(server->opt.hub);
}

void ferry_http_auth_changed(struct ferry_server *srv)
{
    atomic_fetch_add(&srv->auth_gen, 1);
    ferry_hub_notify_all(srv->opt.hub);
}

void ferry_server_stop(ferry_server *server)
{
    if (server == NULL)
        return;
    /* Suspended event streams are resumed so they can end before the daemon stops; so are
     * connections waiting for a password hash (the pool finishes its work first). */
    atomic_store(&server->stopping, true);
    ferry_hub_notify_all(server->opt.hub);
    ferry_taskpool_stop(server->hashing);
    ferry_taskpool_stop(server->checking); /* checks in flight see stopping and give up */
    ferry_http_guard_stop(server->guard);
    MHD_stop_daemon(server->daemon);
    pthread_key_delete(server->store_key);
    server_free(server);
}
