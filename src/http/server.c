/* server.c - the HTTP server's daemon: its life cycle and the life of each request (see
 * server.h, internal.h).
 *
 * Request life: libmicrohttpd calls the access handler first with the headers only. A URL or
 * header holding a bare CR is refused (400), a CORS preflight answered; then the router
 * (routes.c) finds the route (404, or 405 with Allow) and the gate (gate.c) decides whether
 * the caller may use it (401, 403). A refused request is answered before its body is read,
 * so an unauthenticated client cannot make the server buffer anything. Then the body is
 * appended to a buffer bounded by max_body_bytes as it arrives: the piece that passes the
 * limit is answered 413 at once and the connection closed (a chunked body announces no
 * length), and a last call calls the route's handler. A handler that needs a password hashed
 * suspends the connection and hands the work to a small pool (ferry_http_run_task); it is
 * called again when the work is done. Every answer is counted for /metrics under its route.
 *
 * Store connections: one per libmicrohttpd thread, opened on first use and closed by a
 * thread-specific destructor when the thread ends.
 *
 * Config: each request acquires the live config when it starts and releases it when it
 * completes; its handlers read it through ferry_http_config(). An event stream's later reads
 * are not the request's calls: what they need of the config they acquire for that use.
 *
 * HTTPS (tls: in the config): GnuTLS asks for the certificate of each new connection through
 * tls_certificate(), which hands out the pair a reload installed last. GnuTLS reads the pair
 * during the handshake, after the callback returned, so a replaced pair is kept until the
 * server stops (a reload of a changed certificate keeps one more). The callback has no
 * argument of its own, so the pair is the process's: one HTTPS server per process. */
#include "http/server.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

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
#define STREAM_DRAIN_MS 2000      /* a stop waits this long at most for event streams to end */
#define EMBED_SECRET_MIN 32       /* bytes of embed.secret_env's secret: HS256's key size */

/* The certificate and key new HTTPS connections get (tls_certificate()). */
static struct {
    pthread_mutex_t lock;     /* protects pair, retired and nretired */
    ferry_tls_pair *pair;     /* NULL: no HTTPS server */
    ferry_tls_pair **retired; /* replaced by reloads: freed when the server stops */
    size_t nretired;
} tls = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0};

const unsigned ferry_counted_status[NSTATUS] = {200, 201, 202, 204, 304, 400, 401, 403,
                                                404, 405, 409, 413, 429, 500, 503};

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
static void client_address(struct ferry_server *srv, struct MHD_Connection *conn, char *peer,
                           char *out)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const ferry_config *cfg = ferry_http_config();
    ferry_buf xff;

    peer[0] = '\0';
    if (info != NULL && info->client_addr != NULL && info->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)info->client_addr)->sin_addr, peer,
                  FERRY_IPNET_ADDR_MAX);
    else if (info != NULL && info->client_addr != NULL && info->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)info->client_addr)->sin6_addr, peer,
                  FERRY_IPNET_ADDR_MAX);
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
        return ferry_http_reply_error(conn, MHD_HTTP_FORBIDDEN, "cors",
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

/* base_path: the part of url under it (a pointer into url), or NULL with an answer queued in
 * *ret: the prefix itself is sent to the prefix with a slash, so the page's relative URLs
 * resolve under it (308); anything outside it is 404. /healthz and /readyz answer outside it
 * too, for probes that reach the port itself. */
static const char *under_base_path(struct MHD_Connection *conn, const char *base, const char *url,
                                   enum MHD_Result *ret)
{
    size_t n = strlen(base);
    char location[128];

    if (strncmp(url, base, n) == 0 && url[n] == '/')
        return url + n;
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0)
        return url;
    if (strncmp(url, base, n) == 0 && url[n] == '\0') {
        snprintf(location, sizeof(location), "%s/", base);
        *ret = ferry_http_reply_json_header(
            conn, MHD_HTTP_PERMANENT_REDIRECT,
            ferry_http_error_body("moved", "Ferry's page is at its base_path with a slash"),
            "Location", location);
        return NULL;
    }
    *ret = ferry_http_reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found",
                                  "no route for %.200s: Ferry is served under %s/", url, base);
    return NULL;
}

/* The first call of a request: route, gate, and the announced body size. Returns MHD_YES
 * with nothing queued to go on reading the body. */
static enum MHD_Result on_headers(struct ferry_server *srv, struct MHD_Connection *conn,
                                  const char *url, const char *method, request *req)
{
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const ferry_config *cfg = req->config;
    enum MHD_Result ret = MHD_YES;

    if (has_bare_cr(conn, url))
        return ferry_http_reply_json_header(
            conn, MHD_HTTP_BAD_REQUEST,
            ferry_http_error_body("bad_request",
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
    if (cfg->base_path != NULL && (url = under_base_path(conn, cfg->base_path, url, &ret)) == NULL)
        return ret;
    if ((req->route = ferry_http_route_find(conn, method, url, req, &ret)) == NULL)
        return ret;
    client_address(srv, conn, req->peer, req->client);
    if (!ferry_http_gate_pass(srv, conn, method, req, &ret))
        return ret;
    req->gate_passed = true;
    if (length != NULL && strtoull(length, NULL, 10) > srv->opt.max_body_bytes)
        return ferry_http_reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                      "the request body is larger than %zu bytes",
                                      srv->opt.max_body_bytes);
    return MHD_YES;
}

/* The request's id: the client's X-Request-Id when it is a sane one (so a proxy's id follows
 * the request through), else 16 random hex digits. */
static void request_id_set(struct MHD_Connection *conn, request *req)
{
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    unsigned char bytes[8];

    if (ferry_log_request_id_is_valid(given)) {
        snprintf(req->request_id, sizeof(req->request_id), "%s", given);
        return;
    }
    randombytes_buf(bytes, sizeof(bytes));
    sodium_bin2hex(req->request_id, sizeof(req->request_id), bytes, sizeof(bytes));
}

/* The debug line of an answered request; the request id comes from the thread's context. */
static void request_log(const request *req, const char *method, const char *url, unsigned status)
{
    char m[40], path[512];

    if (FERRY_LOG_DEBUG < ferry_log_threshold)
        return;
    ferry_log(FERRY_LOG_DEBUG, "msg=\"request\" method=%s path=%s status=%u duration_ms=%lld",
              ferry_log_quote(method, m, sizeof(m)), ferry_log_quote(url, path, sizeof(path)),
              status, (long long)(ferry_time_mono_ms() - req->started_ms));
}

static enum MHD_Result answer(struct ferry_server *srv, struct MHD_Connection *conn,
                              const char *url, const char *method, const char *upload_data,
                              size_t *upload_data_size, request *req, bool first)
{
    enum MHD_Result ret;
    size_t col = NSTATUS;

    if (first) {
        ferry_buf_init(&req->body, srv->opt.max_body_bytes);
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
        ret = req->route->handler(srv, conn, req);
    }
    if (ferry_http_last_status() == 0)
        return ret; /* nothing answered yet: reading the body, or suspended */
    ferry_http_guard_answering(srv->guard, conn); /* an answer, sent at its reader's pace */
    for (size_t i = 0; i < NSTATUS; i++) {
        if (ferry_counted_status[i] == ferry_http_last_status())
            col = i;
    }
    atomic_fetch_add(&srv->requests[ferry_http_route_counter(req->counted)][col], 1);
    request_log(req, method, url, ferry_http_last_status());
    return ret;
}

void ferry_http_request_unpin(struct ferry_server *srv, request *req)
{
    ferry_http_set_config(NULL);
    ferry_http_set_cors(NULL);
    req->cors_origin = NULL; /* it pointed into the config */
    ferry_config_live_release(srv->opt.live, req->config);
    req->config = NULL;
}

/* Each call of a request: the request holds the config current when it started until it
 * completes (on_completed), and this thread's calls see it through ferry_http_config(); each
 * call runs with the request's id in the thread's log context, and only then. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct ferry_server *srv = cls;
    request *req = *con_cls;
    bool first = req == NULL;
    enum MHD_Result ret;

    (void)version;
    ferry_http_set_status(0);
    ferry_http_set_cors(req != NULL ? req->cors_origin : NULL);
    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        req->server = srv;
        req->started_ms = ferry_time_mono_ms();
        request_id_set(conn, req);
        req->config = ferry_config_live_acquire(srv->opt.live);
        *con_cls = req;
    }
    ferry_log_context_set_request(req->request_id);
    ferry_http_set_config(req->config);
    ret = answer(srv, conn, url, method, upload_data, upload_data_size, req, first);
    ferry_http_set_config(NULL);
    ferry_log_context_clear();
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
    ferry_embed_claims_done(req->embed);
    free(req->embed);
    ferry_password_wipe(req->session_id, sizeof(req->session_id));
    if (req->task != NULL) {
        ferry_password_wipe(req->task, sizeof(*req->task));
        free(req->task);
    }
    ferry_http_check_task_free(req->check);
    json_decref(req->doc);
    ferry_config_live_release(srv->opt.live, req->config);
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

/* embed.secret_env's secret, read once at start: a server without it refuses to start rather
 * than refuse every embed token later. It is kept only here and wiped when the server
 * stops; messages name the variable, never its value. */
static ferry_rc embed_secret_load(struct ferry_server *srv, const ferry_config *cfg, ferry_err *err)
{
    const char *name = cfg->embed.secret_env;
    const char *value;

    if (name == NULL)
        return FERRY_OK;
    value = getenv(name);
    if (value == NULL || value[0] == '\0')
        return ferry_err_set(err, FERRY_ECONFIG,
                             "embed.secret_env: the environment variable %s is not set", name);
    if (strlen(value) < EMBED_SECRET_MIN)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "embed.secret_env: the secret in %s is shorter than %d bytes (use "
                             "32 random bytes, such as the output of openssl rand -hex 32)",
                             name, EMBED_SECRET_MIN);
    srv->embed_secret_len = strlen(value);
    if ((srv->embed_secret = malloc(srv->embed_secret_len)) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the embed secret");
    memcpy(srv->embed_secret, value, srv->embed_secret_len);
    return FERRY_OK;
}

/* GnuTLS's gnutls_certificate_retrieve_function2: the pair installed last, for every
 * client (Ferry serves one name). */
static int tls_certificate(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                           const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                           gnutls_pcert_st **pcert, unsigned int *pcert_length,
                           gnutls_privkey_t *pkey)
{
    int rc = -1;

    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    pthread_mutex_lock(&tls.lock);
    if (tls.pair != NULL) {
        *pcert = tls.pair->chain;
        *pcert_length = tls.pair->nchain;
        *pkey = tls.pair->key;
        rc = 0;
    }
    pthread_mutex_unlock(&tls.lock);
    return rc;
}

/* Serves pair (a new reference taken) to new connections from now on. False when memory ran
 * out (the current pair stays). */
static bool tls_install(ferry_tls_pair *pair)
{
    ferry_tls_pair **grown;

    pthread_mutex_lock(&tls.lock);
    if (pair == tls.pair) {
        pthread_mutex_unlock(&tls.lock);
        return true;
    }
    if (tls.pair != NULL) {
        grown = realloc(tls.retired, (tls.nretired + 1) * sizeof(*grown));
        if (grown == NULL) {
            pthread_mutex_unlock(&tls.lock);
            return false;
        }
        tls.retired = grown;
        tls.retired[tls.nretired++] = tls.pair;
    }
    tls.pair = ferry_tls_pair_ref(pair);
    pthread_mutex_unlock(&tls.lock);
    return true;
}

/* Once the daemon has stopped: no handshake uses a pair any more. */
static void tls_forget(void)
{
    pthread_mutex_lock(&tls.lock);
    for (size_t i = 0; i < tls.nretired; i++)
        ferry_tls_pair_unref(tls.retired[i]);
    free(tls.retired);
    tls.retired = NULL;
    tls.nretired = 0;
    ferry_tls_pair_unref(tls.pair);
    tls.pair = NULL;
    pthread_mutex_unlock(&tls.lock);
}

static void server_free(struct ferry_server *srv)
{
    if (srv->embed_secret != NULL)
        sodium_memzero(srv->embed_secret, srv->embed_secret_len);
    free(srv->embed_secret);
    ferry_http_guard_free(srv->guard);
    ferry_taskpool_free(srv->hashing);
    ferry_taskpool_free(srv->checking);
    ferry_throttle_free(srv->throttle_pair);
    ferry_throttle_free(srv->throttle_user);
    ferry_throttle_free(srv->throttle_address);
    free(srv);
}

/* ferry_server_start() with the config current at start (the listener's settings, which a
 * reload does not change). On failure srv is freed. */
static ferry_rc start(struct ferry_server *srv, const ferry_server_options *opt,
                      const ferry_config *cfg, ferry_err *err)
{
    unsigned char random_password[24];
    char dummy[2 * sizeof(random_password) + 1];
    struct sockaddr_in addr;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    ferry_rc rc;

    srv->opt = *opt;
    if (srv->opt.threads == 0)
        srv->opt.threads = 2;
    if (srv->opt.max_body_bytes == 0)
        srv->opt.max_body_bytes = (size_t)cfg->max_body_bytes;
    if (srv->opt.max_connections == 0)
        srv->opt.max_connections = (unsigned)cfg->max_connections;
    if ((rc = parse_listen(opt->listen, &addr, err)) != FERRY_OK ||
        (rc = embed_secret_load(srv, cfg, err)) != FERRY_OK) {
        server_free(srv);
        return rc;
    }
    /* A login for a user who does not exist verifies against this hash of a random password,
     * so it costs what a real one does and the answer's timing does not tell. */
    randombytes_buf(random_password, sizeof(random_password));
    sodium_bin2hex(dummy, sizeof(dummy), random_password, sizeof(random_password));
    rc = ferry_password_hash(dummy, srv->dummy_hash, err);
    ferry_password_wipe(dummy, sizeof(dummy));
    if (rc != FERRY_OK) {
        server_free(srv);
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
    if (cfg->tls.pair != NULL) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
            MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES) {
            server_free(srv);
            return ferry_err_set(err, FERRY_ECONFIG,
                                 "tls: this libmicrohttpd was built without HTTPS (GnuTLS)");
        }
        if (!tls_install(cfg->tls.pair)) {
            server_free(srv);
            return ferry_err_set(err, FERRY_ENOMEM, "installing the certificate");
        }
        flags |= MHD_USE_TLS;
        srv->https = true;
    }
    pthread_key_create(&srv->store_key, store_destructor);
    /* The guard keeps max_connections (guard.c); libmicrohttpd's own limit, which it divides
     * among its threads, lets each thread hold that many and connections being closed, so a
     * new connection reaches the guard, which makes room for it by closing a slow one. */
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->opt.threads, MHD_OPTION_CONNECTION_LIMIT,
        ((unsigned)srv->opt.max_connections + 64) * (unsigned)srv->opt.threads,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((cfg->idle_timeout_ms + 999) / 1000),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, ferry_http_guard_notify_cb, srv->guard,
        srv->https ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, tls_certificate,
        MHD_OPTION_END);
    if (srv->daemon == NULL) {
        pthread_key_delete(srv->store_key);
        server_free(srv);
        return ferry_err_set(err, FERRY_EIO, "cannot listen on %s (is the port in use?)",
                             opt->listen);
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info != NULL ? info->port : ntohs(addr.sin_port);
    return FERRY_OK;
}

ferry_rc ferry_server_start(const ferry_server_options *opt, ferry_server **ret_server,
                            ferry_err *err)
{
    struct ferry_server *srv = calloc(1, sizeof(*srv));
    const ferry_config *cfg = ferry_config_live_acquire(opt->live); /* released below */
    ferry_rc rc;

    if (srv == NULL) {
        ferry_config_live_release(opt->live, cfg);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the server");
    }
    rc = start(srv, opt, cfg, err);
    ferry_config_live_release(opt->live, cfg);
    if (rc != FERRY_OK)
        return rc;
    *ret_server = srv;
    return FERRY_OK;
}

uint16_t ferry_server_port(const ferry_server *server)
{
    return server->port;
}

bool ferry_server_is_https(const ferry_server *server)
{
    return server->https;
}

/* The names of v joined with commas, for the log line (cut at outlen). */
static const char *names_text(char **v, size_t n, char *out, size_t outlen)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < outlen; i++) {
        int w = snprintf(out + used, outlen - used, "%s%s", i > 0 ? "," : "", v[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return out;
}

ferry_rc ferry_server_reload(ferry_server *server, const char *by, ferry_config_reload *ret,
                             ferry_err *err)
{
    ferry_config_reload r;
    char added[512], removed[512];
    json_t *event;
    char *data;

    if (ferry_config_live_reload(server->opt.live, &r, err) != FERRY_OK) {
        ferry_log(FERRY_LOG_ERROR,
                  "msg=\"config reload refused: the old config keeps serving\" "
                  "by=\"%s\" error=\"%s\"",
                  by, err->msg);
        return err->code;
    }
    {
        const ferry_config *cfg = ferry_config_live_acquire(server->opt.live);
        ferry_log_configure(cfg->log.format, cfg->log.level);
        ferry_config_live_release(server->opt.live, cfg);
    }
    if (server->https) {
        const ferry_config *cfg = ferry_config_live_acquire(server->opt.live);
        if (cfg->tls.pair != NULL && !tls_install(cfg->tls.pair))
            ferry_log(FERRY_LOG_ERROR,
                      "msg=\"the new certificate is not served: out of memory\" by=\"%s\"", by);
        ferry_config_live_release(server->opt.live, cfg);
    }
    for (size_t i = 0; i < r.nwarnings; i++)
        ferry_log(FERRY_LOG_WARN, "msg=\"%s\" by=\"%s\"", r.warnings[i], by);
    ferry_log(FERRY_LOG_INFO,
              "msg=\"config reloaded\" by=\"%s\" syncs=%zu added=\"%s\" "
              "removed=\"%s\"",
              by, r.nsyncs, names_text(r.added, r.nadded, added, sizeof(added)),
              names_text(r.removed, r.nremoved, removed, sizeof(removed)));
    event = json_pack("{s:o, s:o, s:o}", "syncs", ferry_http_strings_json(r.syncs, r.nsyncs),
                      "added", ferry_http_strings_json(r.added, r.nadded), "removed",
                      ferry_http_strings_json(r.removed, r.nremoved));
    data = event != NULL ? json_dumps(event, JSON_COMPACT) : NULL;
    /* This node's own news (another node reloads its own file): not passed to the bus. */
    if (data != NULL)
        ferry_hub_publish_relayed(server->opt.hub, "config.reloaded", NULL, data);
    free(data);
    json_decref(event);
    *ret = r;
    return FERRY_OK;
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

/* MHD_stop_daemon() closes connections without sending what they hold, so the streams first
 * send what was published before the stop (a stopping server's last word on its runs) and
 * end: a resumed stream needs its thread to run once more. A client that reads nothing
 * does not hold the stop for more than STREAM_DRAIN_MS. */
static void wait_for_streams(ferry_server *server)
{
    int64_t deadline = ferry_time_mono_ms() + STREAM_DRAIN_MS;

    while (atomic_load(&server->streams) > 0 && ferry_time_mono_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
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
    wait_for_streams(server);
    ferry_http_guard_stop(server->guard);
    MHD_stop_daemon(server->daemon);
    pthread_key_delete(server->store_key);
    if (server->https)
        tls_forget();
    server_free(server);
}
