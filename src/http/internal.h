/* internal.h - what the files of the HTTP server share (not for use outside src/http).
 *
 * server.c owns the daemon and the life of each request; guard.c the deadlines of requests
 * and the cap on connections; routes.c the route table and the router; gate.c the checks
 * every matched request passes (authentication, CSRF, role); reply.c the JSON answers and
 * the reading of queries, bodies and syncs; api_*.c the handlers. A handler is called once
 * the gate has let the request through, with req->who naming the user (for public routes
 * req->authed is false). */
#ifndef FERRY_HTTP_INTERNAL_H
#define FERRY_HTTP_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "auth/embed_token.h"
#include "auth/session.h"
#include "auth/throttle.h"
#include "http/assets.h"
#include "http/server.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/ipnet.h"
#include "util/log.h"
#include "util/taskpool.h"

/* The routes' counters of answers for /metrics: one a row of the route table (the rows of a
 * path count in its first row's), the page, and everything else. */
#define FERRY_HTTP_ROUTES_MAX 32
#define FERRY_HTTP_COUNTER_PAGE FERRY_HTTP_ROUTES_MAX
#define FERRY_HTTP_COUNTER_OTHER (FERRY_HTTP_ROUTES_MAX + 1)
#define FERRY_HTTP_COUNTERS (FERRY_HTTP_ROUTES_MAX + 2)

extern const unsigned ferry_counted_status[];
#define NSTATUS 15

/* ---- guard.c: request deadlines and the connection cap ---- */

typedef struct ferry_http_guard ferry_http_guard;

/* Starts the guard's sweep thread; at most max_connections connections are kept open. On
 * success *ret_guard is owned by the caller (ferry_http_guard_free()). */
ferry_rc ferry_http_guard_start(size_t max_connections, ferry_http_guard **ret_guard,
                                ferry_err *err);
/* Stops the sweep thread (the daemon may still be running; its callbacks stay safe). */
void ferry_http_guard_stop(ferry_http_guard *g);
/* Stops the guard if need be and frees it, once the daemon has stopped. NULL is allowed. */
void ferry_http_guard_free(ferry_http_guard *g);
/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback; cls is the guard. */
void ferry_http_guard_notify_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode toe);
/* What a request of conn has reached, from libmicrohttpd's threads: its headers are in (the
 * body's deadline starts), n more body bytes arrived, the handler has it (no deadline), it
 * ended (the next request's head deadline starts). */
void ferry_http_guard_head_done(ferry_http_guard *g, struct MHD_Connection *conn);
void ferry_http_guard_body_read(ferry_http_guard *g, struct MHD_Connection *conn, size_t n);
void ferry_http_guard_answering(ferry_http_guard *g, struct MHD_Connection *conn);
void ferry_http_guard_request_done(ferry_http_guard *g, struct MHD_Connection *conn);

struct ferry_server {
    ferry_server_options opt;
    struct MHD_Daemon *daemon;
    ferry_http_guard *guard; /* request deadlines, the connection cap */
    /* The port it listens on, known once the daemon started, whose threads may already
     * answer a request (GET /healthz names it): 0 until then. */
    _Atomic uint16_t port;
    pthread_key_t store_key;
    atomic_uint_fast64_t heartbeat_gen; /* bumped by each heartbeat */
    atomic_uint_fast64_t auth_gen;      /* bumped when a session or user changes here */
    atomic_bool stopping;               /* event streams end at their next read */
    atomic_int streams;                 /* event streams whose response is not freed */
    ferry_throttle *throttle_pair;      /* login failures per (address, user name) */
    ferry_throttle *throttle_user;      /* login failures per user name */
    ferry_throttle *throttle_address;   /* login failures per client address */
    ferry_taskpool *hashing;            /* password hashing, a few at a time */
    ferry_taskpool *checking;           /* connection checks (api_check.c) */
    bool https;                         /* tls: the listener speaks TLS (server.c's pair) */
    unsigned char *embed_secret;        /* embed.secret_env's value, or NULL: off */
    size_t embed_secret_len;
    char dummy_hash[FERRY_PASSWORD_HASH_MAX]; /* verified when a user does not exist */
    atomic_uint_fast64_t requests[FERRY_HTTP_COUNTERS]
                                 [NSTATUS + 1]; /* last column: other statuses */
    /* GET /healthz's write check (api_status.c), at most one a second; protected by that
     * file's lock. */
    int64_t health_checked_ms; /* monotonic; 0: never */
    bool health_writable;
    char health_error[FERRY_ERR_MSG_MAX];
    /* GET /readyz's last success (monotonic ms, 0: none), reused for a second; protected by
     * api_status.c's lock. */
    int64_t ready_ok_ms;
};

/* Password work handed to the hashing pool while the connection is suspended. */
typedef enum { PW_VERIFY, PW_HASH, PW_VERIFY_THEN_HASH } pw_kind;

typedef struct {
    struct MHD_Connection *conn;
    pw_kind kind;
    char password[FERRY_PASSWORD_MAX + 1];     /* to verify, or to hash (PW_HASH) */
    char hash[FERRY_PASSWORD_HASH_MAX];        /* to verify against */
    char new_password[FERRY_PASSWORD_MAX + 1]; /* PW_VERIFY_THEN_HASH: to hash */
    char new_hash[FERRY_PASSWORD_HASH_MAX];    /* the result of hashing */
    bool verified;
    bool user_ok;  /* the user exists and is enabled (logins) */
    ferry_err err; /* hashing failed (a password too short, ...) */
    bool refused;  /* the pool was full */
    atomic_bool done;
} pw_task;

/* How the caller of a request proved who they are (the gate). */
typedef enum {
    FERRY_HTTP_AUTH_TOKEN,   /* an API token (Bearer) */
    FERRY_HTTP_AUTH_SESSION, /* a session cookie */
    FERRY_HTTP_AUTH_EMBED,   /* an embed token (Bearer JWT) minted by the host application */
    FERRY_HTTP_AUTH_HEADER,  /* auth.trusted_header, from one of auth.trusted_proxies */
} ferry_http_auth_kind;

/* One request, from its first byte to its completion. */
typedef struct {
    ferry_buf body;
    struct ferry_server *server;
    const struct ferry_http_route *route;   /* the matched route, or NULL */
    const struct ferry_http_route *counted; /* what /metrics counts the answer under: the
                                               matched route, or one of the path's (405);
                                               NULL: other */
    const ferry_asset *asset;               /* the page route: the file */
    char arg[128];                          /* the {name} of the path, when it has one */
    size_t arglen;
    int64_t id; /* the {id} of the path, when it has one */
    /* Set by the gate. */
    bool gate_passed;
    bool authed;
    ferry_principal who;
    ferry_http_auth_kind auth_kind;
    ferry_embed_claims *embed; /* FERRY_HTTP_AUTH_EMBED: the token's claims (owned) */
    bool by_cookie;
    char session_id[FERRY_SESSION_ID_MAX]; /* when by_cookie */
    char cred_hash[FERRY_TOKEN_HASH_HEX];  /* the stored form of the session or token */
    char client[FERRY_IPNET_ADDR_MAX];     /* the client's address (behind trusted_proxies) */
    char peer[FERRY_IPNET_ADDR_MAX];       /* the connection's own peer address */
    const char *cors_origin;               /* its Origin, when cors_origins allows it */
    const ferry_config *config; /* acquired when the request starts, released when it ends */
    /* Set by a handler that suspended the connection for password work. */
    pw_task *task;
    struct check_task *check; /* set by GET /api/syncs/{name}/check while it runs */
    json_t *doc;              /* the parsed body, kept across the suspension */
    char request_id[FERRY_LOG_REQUEST_ID_MAX + 1]; /* the client's X-Request-Id, or made */
    int64_t started_ms;                            /* monotonic, at the first call */
} request;

/* ---- routes.c: the route table and the router ---- */

/* Who may call a route. */
typedef enum {
    FERRY_HTTP_ACCESS_PUBLIC,  /* anyone */
    FERRY_HTTP_ACCESS_METRICS, /* anyone, unless metrics_token is set: then that token or a user */
    FERRY_HTTP_ACCESS_USER,    /* a user with at least the route's role */
} ferry_http_access;

/* A route's handler: called once the gate has let req through (with its whole body), and
 * again after a suspension it asked for (ferry_http_run_task, the check pool). It queues the
 * answer and returns libmicrohttpd's result. */
typedef enum MHD_Result ferry_http_handler(struct ferry_server *srv, struct MHD_Connection *conn,
                                           request *req);

/* A row of the route table. */
typedef struct ferry_http_route {
    const char *method;
    const char *path; /* segments: literal, {name} (req->arg) or {id} (req->id) */
    ferry_http_access access;
    ferry_role role;             /* FERRY_HTTP_ACCESS_USER: the least role */
    const char *what;            /* the action, for a refusal: "starting runs" */
    ferry_http_handler *handler; /* answers the request */
} ferry_http_route;

extern const ferry_http_route ferry_http_routes[];
extern const size_t ferry_http_nroutes;
/* Any GET of a file of the admin page (web/, embedded); public. */
extern const ferry_http_route ferry_http_page_route;

/* The route of method and url, or NULL with an answer queued in *ret: 404, or 405 with the
 * methods the path takes. Fills req->arg, req->id, req->asset and req->counted. Borrowed
 * from the table. */
const ferry_http_route *ferry_http_route_find(struct MHD_Connection *conn, const char *method,
                                              const char *url, request *req, enum MHD_Result *ret);
/* The counter of srv->requests an answer of route r counts in (NULL: other). */
size_t ferry_http_route_counter(const ferry_http_route *r);
/* The route label of a counter for /metrics ("/api/runs/{id}", "the page", "other"); NULL
 * past the last. */
const char *ferry_http_counter_label(size_t counter);

/* ---- gate.c: authentication, CSRF and roles ---- */

/* Lets req (its route matched, req->client set) through, with req->who naming the caller
 * when the route is not public; or queues its refusal (401, 403, 500) in *ret and returns
 * false. */
bool ferry_http_gate_pass(struct ferry_server *srv, struct MHD_Connection *conn, const char *method,
                          request *req, enum MHD_Result *ret);
/* Checks, again, that the credential an event stream was opened with is still valid: a
 * session's or token's stored form (secret_hash), an embed token's expiry (exp_s), a trusted
 * header's user (user: not removed or disabled). True when the store cannot say. */
bool ferry_http_gate_credential_is_valid(struct ferry_server *srv, ferry_http_auth_kind kind,
                                         const char *secret_hash, const char *user, int64_t exp_s);
/* True when req's caller may see or act on runs of sync for tenant (NULL: none): always, but
 * for an embed token limited by its syncs or tenants claims. */
bool ferry_http_request_sees(const request *req, const char *sync, const char *tenant);
/* Like ferry_http_request_sees(); when false, queues a 403 naming what the embed token may
 * not touch in *ret (logged and audited). tenant_too: the run's tenant counts (else only its
 * sync). */
bool ferry_http_request_may_touch(struct ferry_server *srv, struct MHD_Connection *conn,
                                  const request *req, const char *sync, const char *tenant,
                                  bool tenant_too, enum MHD_Result *ret);

/* ---- the request path's parsers, free of libmicrohttpd (also fuzzed: tests/fuzz) ---- */

/* The route of method and url in the table, or NULL; fills req->arg and req->id from the
 * path. When NULL, allow holds the methods the path takes (405), or "" when no route has
 * that path (404), and req->counted one of the path's routes. */
const ferry_http_route *ferry_http_route_match(const char *method, const char *url, request *req,
                                               char *allow, size_t allowlen);
/* The token of an Authorization header value ("Bearer TOKEN", any case, blanks after it), a
 * pointer into it; NULL when the value is not of that form. */
const char *ferry_http_bearer_token(const char *authorization);
/* A whole decimal number within [min, max]; false when s is not one. */
bool ferry_http_param_int(const char *s, int64_t min, int64_t max, int64_t *value);
/* A date (midnight, UTC) or a date-time (UTC unless it has an offset) as ms since the epoch;
 * false when s is neither. */
bool ferry_http_param_time(const char *s, int64_t *ret_ms);
/* A request body as a JSON object (an empty body is {} when empty_ok): returned owned
 * (json_decref), or NULL with why (a one-line reason) filled. */
json_t *ferry_http_body_parse(const char *data, size_t len, bool empty_ok, char *why,
                              size_t whylen);
/* The string member name of doc (borrowed from doc) in *value: 0 when it is one, or absent or
 * null and not required (*value NULL); -1 when required and absent; -2 when not a string. */
int ferry_http_body_string(json_t *doc, const char *name, bool required, const char **value);

/* ---- reply.c: answers, and reading queries, bodies and syncs ---- */

/* This thread's store connection, opened on first use (borrowed); NULL with err set. A run
 * it ends owes the deliveries of the request's config (ferry_http_config()). */
ferry_store *ferry_http_store(struct ferry_server *srv, ferry_err *err);
/* The config of the request this thread answers (set by server.c for each call of a
 * request; the request holds it until it completes), or NULL outside a request (an event
 * stream's reads, which acquire their own from srv->opt.live). */
const ferry_config *ferry_http_config(void);
void ferry_http_set_config(const ferry_config *cfg);
/* Releases req's config now, its answer queued: an event stream, which lasts, keeps no config
 * (what it reads later it acquires for that read). ferry_http_config() is NULL for the rest
 * of this call. */
void ferry_http_request_unpin(struct ferry_server *srv, request *req);
/* Queues resp (consumed) with status: records the status for /metrics and adds the CORS
 * headers when the request's origin is allowed. Every answer goes through it. */
enum MHD_Result ferry_http_queue(struct MHD_Connection *conn, unsigned status,
                                 struct MHD_Response *resp);
/* Sets the allowed Origin of the request this thread handles (NULL: none). */
void ferry_http_set_cors(const char *origin);
void ferry_http_set_status(unsigned status);
unsigned ferry_http_last_status(void);
/* Queues body (consumed) as a JSON answer, with one extra header when name is not NULL. */
enum MHD_Result ferry_http_reply_json_header(struct MHD_Connection *conn, unsigned status,
                                             json_t *body, const char *name, const char *value);
enum MHD_Result ferry_http_reply_json(struct MHD_Connection *conn, unsigned status, json_t *body);
/* {"error": {"code": code, "message": msg}}, returned owned. */
json_t *ferry_http_error_body(const char *code, const char *msg);
enum MHD_Result ferry_http_reply_error(struct MHD_Connection *conn, unsigned status,
                                       const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers a Ferry error with its status: the one place that maps codes to statuses. */
enum MHD_Result ferry_http_reply_err(struct MHD_Connection *conn, const ferry_err *err);
enum MHD_Result ferry_http_reply_method_not_allowed(struct MHD_Connection *conn, const char *allow);
/* A positive decimal id of a path segment (s, len bytes); false when it is not one. */
bool ferry_http_param_id(const char *s, size_t len, int64_t *ret);
/* Reads an integer query parameter within [min, max] into *value (left alone when absent);
 * false (with a 400 queued in *ret) when it is bad. */
bool ferry_http_query_int(struct MHD_Connection *conn, const char *name, int64_t min, int64_t max,
                          int64_t *value, enum MHD_Result *ret);
/* Reads a time query parameter (ferry_http_param_time) into *ret_ms (left alone when absent
 * or empty); false (with a 400 queued in *ret) when it is bad. */
bool ferry_http_query_time(struct MHD_Connection *conn, const char *name, int64_t *ret_ms,
                           enum MHD_Result *ret);
/* Parses the request body as a JSON object into req->doc (kept across a suspension); false
 * (with a 400 queued) when it is not one. An empty body is an empty object when empty_ok. */
bool ferry_http_request_body(struct MHD_Connection *conn, request *req, bool empty_ok,
                             enum MHD_Result *ret);
/* A string member of req->doc, borrowed from it: NULL when absent; false (with a 400 queued)
 * when present but not a string, or required and absent. */
bool ferry_http_request_string(struct MHD_Connection *conn, request *req, const char *name,
                               bool required, const char **value, enum MHD_Result *ret);
/* The sync the path's {name} names (borrowed from the config), or NULL with a 404 queued (a
 * 403 when the caller's embed token does not list it). */
const ferry_sync_spec *ferry_http_request_sync(struct ferry_server *srv,
                                               struct MHD_Connection *conn, const request *req,
                                               enum MHD_Result *ret);
/* The strings v (n of them) as a new JSON array. */
json_t *ferry_http_strings_json(char *const *v, size_t n);
/* Records an administrative action in the audit log (failures are logged, not fatal). */
void ferry_http_audit(struct ferry_server *srv, const request *req, const char *action,
                      const char *target, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- the handlers, called through the route table (routes.c) ---- */

/* api_status.c */
ferry_http_handler ferry_http_get_health;
ferry_http_handler ferry_http_get_ready;
ferry_http_handler ferry_http_get_metrics;
ferry_http_handler ferry_http_get_stats;
ferry_http_handler ferry_http_get_nodes;
ferry_http_handler ferry_http_post_config_reload; /* api_config.c */
/* api_runs.c */
ferry_http_handler ferry_http_get_syncs;
ferry_http_handler ferry_http_post_run;
ferry_http_handler ferry_http_get_runs;
ferry_http_handler ferry_http_get_run;
ferry_http_handler ferry_http_get_export;
ferry_http_handler ferry_http_get_changes;
ferry_http_handler ferry_http_get_deliveries; /* api_deliveries.c */
ferry_http_handler ferry_http_post_redeliver;

/* Adds "deliveries" (the run's deliveries by status) to run_json, the run id's JSON; left
 * out when the store cannot say. */
void ferry_http_run_deliveries_add(ferry_store *st, json_t *run_json, int64_t id);

/* The same for n runs at once (run_json[i] for ids[i]; NULL ones are left alone), in one
 * query of the store. */
void ferry_http_runs_deliveries_add(ferry_store *st, json_t *const *run_json, const int64_t *ids,
                                    size_t n);
ferry_http_handler ferry_http_post_cancel;
ferry_http_handler ferry_http_post_approve; /* api_review.c */
ferry_http_handler ferry_http_post_reject;
ferry_http_handler ferry_http_post_revert;
/* api_check.c */
ferry_http_handler ferry_http_get_check;
void ferry_http_check_task_free(struct check_task *t);
/* api_events.c */
ferry_http_handler ferry_http_get_events;
/* api_auth.c */
ferry_http_handler ferry_http_post_login;
ferry_http_handler ferry_http_post_logout;
ferry_http_handler ferry_http_get_me;
ferry_http_handler ferry_http_post_me_password;
ferry_http_handler ferry_http_get_users;
ferry_http_handler ferry_http_post_user;
ferry_http_handler ferry_http_patch_user;
ferry_http_handler ferry_http_get_tokens;
ferry_http_handler ferry_http_post_token;
ferry_http_handler ferry_http_delete_token;
ferry_http_handler ferry_http_get_audit;
/* api_assets.c: the file in req->asset */
ferry_http_handler ferry_http_get_asset;

/* ---- server.c ---- */

/* Suspends conn and queues t on the hashing pool; the handler is called again when t is
 * done (or refused: t->refused). */
void ferry_http_run_task(struct ferry_server *srv, struct MHD_Connection *conn, request *req,
                         pw_task *t);

/* Tells event streams to check their credentials again (a session or user changed). */
void ferry_http_auth_changed(struct ferry_server *srv);

#endif
