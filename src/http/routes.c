/* routes.c - the HTTP API's route table and the router that matches a request against it.
 *
 * One row a route: its method, its path, who may call it (access and the least role), the
 * action a refusal names, and its handler. A path's segments are literal text, {name} (1 to
 * 127 bytes, into req->arg) or {id} (a positive decimal number, into req->id); one trailing
 * slash is allowed. The first row whose path and method match wins, and HEAD takes a GET
 * row. A path that only rows of other methods have is answered 405 with their methods in
 * Allow (in the table's order); a GET of a file of the admin page (web/, embedded) takes the
 * page route; anything else is 404.
 *
 * Rows sharing a path share one line of ferry_http_requests in /metrics, and /metrics lists
 * the paths in the table's order, then the page, then everything else ("other"); so new rows
 * go at the end, or beside the rows of their path.
 *
 * The table is constant: any thread may read it. */
#include <stdio.h>
#include <string.h>

#include "http/internal.h"

#define PUBLIC FERRY_HTTP_ACCESS_PUBLIC
#define METRICS FERRY_HTTP_ACCESS_METRICS
#define USER FERRY_HTTP_ACCESS_USER
#define VIEWER FERRY_ROLE_VIEWER
#define OPERATOR FERRY_ROLE_OPERATOR
#define ADMIN FERRY_ROLE_ADMIN

const ferry_http_route ferry_http_routes[] = {
    {"GET", "/healthz", PUBLIC, VIEWER, NULL, ferry_http_get_health},
    {"GET", "/readyz", PUBLIC, VIEWER, NULL, ferry_http_get_ready},
    {"GET", "/metrics", METRICS, VIEWER, "reading metrics", ferry_http_get_metrics},
    {"GET", "/api/syncs", USER, VIEWER, "reading syncs", ferry_http_get_syncs},
    {"POST", "/api/syncs/{name}/runs", USER, OPERATOR, "starting runs", ferry_http_post_run},
    {"GET", "/api/syncs/{name}/check", USER, OPERATOR, "checking connections",
     ferry_http_get_check},
    {"GET", "/api/runs", USER, VIEWER, "reading runs", ferry_http_get_runs},
    {"GET", "/api/runs/{id}", USER, VIEWER, "reading runs", ferry_http_get_run},
    {"GET", "/api/runs/{id}/changes", USER, VIEWER, "reading runs", ferry_http_get_changes},
    {"POST", "/api/runs/{id}/cancel", USER, OPERATOR, "cancelling runs", ferry_http_post_cancel},
    {"POST", "/api/runs/{id}/approve", USER, OPERATOR, "approving held runs",
     ferry_http_post_approve},
    {"POST", "/api/runs/{id}/reject", USER, OPERATOR, "rejecting held runs",
     ferry_http_post_reject},
    {"POST", "/api/runs/{id}/revert", USER, OPERATOR, "reverting runs", ferry_http_post_revert},
    {"GET", "/api/runs/{id}/deliveries", USER, VIEWER, "reading runs", ferry_http_get_deliveries},
    {"GET", "/api/events", USER, VIEWER, "reading events", ferry_http_get_events},
    {"GET", "/api/stats", USER, VIEWER, "reading figures", ferry_http_get_stats},
    {"GET", "/api/runs/export", USER, VIEWER, "exporting runs", ferry_http_get_export},
    {"POST", "/api/login", PUBLIC, VIEWER, NULL, ferry_http_post_login},
    {"POST", "/api/logout", USER, VIEWER, "logging out", ferry_http_post_logout},
    {"GET", "/api/me", USER, VIEWER, "reading who you are", ferry_http_get_me},
    {"POST", "/api/me/password", USER, VIEWER, "changing your password",
     ferry_http_post_me_password},
    {"GET", "/api/users", USER, ADMIN, "managing users", ferry_http_get_users},
    {"POST", "/api/users", USER, ADMIN, "managing users", ferry_http_post_user},
    {"PATCH", "/api/users/{name}", USER, ADMIN, "managing users", ferry_http_patch_user},
    {"GET", "/api/tokens", USER, ADMIN, "managing tokens", ferry_http_get_tokens},
    {"POST", "/api/tokens", USER, ADMIN, "managing tokens", ferry_http_post_token},
    {"DELETE", "/api/tokens/{id}", USER, ADMIN, "managing tokens", ferry_http_delete_token},
    {"GET", "/api/audit", USER, ADMIN, "reading the audit log", ferry_http_get_audit},
    {"GET", "/api/nodes", USER, VIEWER, "reading nodes", ferry_http_get_nodes},
    {"POST", "/api/deliveries/{name}/redeliver", USER, OPERATOR, "redelivering",
     ferry_http_post_redeliver},
    {"POST", "/api/config/reload", USER, ADMIN, "reloading the config",
     ferry_http_post_config_reload},
};
const size_t ferry_http_nroutes = sizeof(ferry_http_routes) / sizeof(ferry_http_routes[0]);
_Static_assert(sizeof(ferry_http_routes) / sizeof(ferry_http_routes[0]) <= FERRY_HTTP_ROUTES_MAX,
               "FERRY_HTTP_ROUTES_MAX counts every row of the route table");

const ferry_http_route ferry_http_page_route = {"GET",  "the page", PUBLIC,
                                                VIEWER, NULL,       ferry_http_get_asset};

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
        if (plen == 6 && memcmp(ps, "{name}", 6) == 0) {
            if (ulen == 0 || ulen >= sizeof(req->arg))
                return false;
            memcpy(req->arg, us, ulen);
            req->arg[ulen] = '\0';
            req->arglen = ulen;
        } else if (plen == 4 && memcmp(ps, "{id}", 4) == 0) {
            if (!ferry_http_param_id(us, ulen, &req->id))
                return false;
        } else if (plen != ulen || memcmp(ps, us, plen) != 0) {
            return false;
        }
    }
    if (*p == '\0' && u[0] == '/' && u[1] == '\0')
        return true; /* a trailing slash */
    return *p == '\0' && *u == '\0';
}

const ferry_http_route *ferry_http_route_match(const char *method, const char *url, request *req,
                                               char *allow, size_t allowlen)
{
    bool head = strcmp(method, "HEAD") == 0;

    allow[0] = '\0';
    for (size_t i = 0; i < ferry_http_nroutes; i++) {
        const ferry_http_route *r = &ferry_http_routes[i];
        if (!path_match(r->path, url, req))
            continue;
        if (strcmp(r->method, method) == 0 || (head && strcmp(r->method, "GET") == 0))
            return r;
        req->counted = r;
        if (strstr(allow, r->method) == NULL) {
            size_t n = strlen(allow);
            snprintf(allow + n, allowlen - n, "%s%s", n > 0 ? ", " : "", r->method);
        }
    }
    return NULL;
}

const ferry_http_route *ferry_http_route_find(struct MHD_Connection *conn, const char *method,
                                              const char *url, request *req, enum MHD_Result *ret)
{
    const ferry_http_route *r;
    char allow[64];

    r = ferry_http_route_match(method, url, req, allow, sizeof(allow));
    if (r == NULL && allow[0] == '\0' && strncmp(url, "/api/", 5) != 0 &&
        (req->asset = ferry_asset_find(url)) != NULL) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            *ret = ferry_http_reply_method_not_allowed(conn, "GET");
            return NULL;
        }
        r = &ferry_http_page_route;
    }
    if (r == NULL && allow[0] != '\0') {
        *ret = ferry_http_reply_method_not_allowed(conn, allow);
        return NULL;
    }
    if (r == NULL) {
        *ret = ferry_http_reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found",
                                      "no route for %s %.200s", method, url);
        return NULL;
    }
    req->counted = r;
    return r;
}

size_t ferry_http_route_counter(const ferry_http_route *r)
{
    if (r == NULL)
        return FERRY_HTTP_COUNTER_OTHER;
    if (r == &ferry_http_page_route)
        return FERRY_HTTP_COUNTER_PAGE;
    for (size_t i = 0; i < ferry_http_nroutes; i++) {
        if (strcmp(ferry_http_routes[i].path, r->path) == 0)
            return i;
    }
    return FERRY_HTTP_COUNTER_OTHER;
}

const char *ferry_http_counter_label(size_t counter)
{
    if (counter < ferry_http_nroutes)
        return ferry_http_routes[counter].path;
    if (counter == FERRY_HTTP_COUNTER_PAGE)
        return ferry_http_page_route.path;
    if (counter == FERRY_HTTP_COUNTER_OTHER)
        return "other";
    return NULL;
}
