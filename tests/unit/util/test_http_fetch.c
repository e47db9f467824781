/* test_http_fetch.c - ferry_http_client against a libmicrohttpd server of our own on an
 * ephemeral loopback port: status, body, content type and headers both ways, basic auth, POST
 * bodies, statuses that are not errors, the body limit with and without a Content-Length,
 * timeouts, refused connections, cancelling, keep-alive, and messages that never show the
 * query string or credentials.
 *
 * Each test gets a fresh server (setup/teardown). Slow responses wait in slices and give up
 * as soon as the teardown says stop, so the whole file runs in a few seconds. */
#include "util/http_fetch.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/timeutil.h"

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#define SLOW_MS 2000
#define BIG_BYTES (64 * 1024)

typedef struct {
    struct MHD_Daemon *daemon;
    unsigned port;
    atomic_int connections; /* connections accepted */
    atomic_bool stopping;   /* the teardown has begun: slow responses give up */
} server;

/* "hello, compressed world", gzipped. */
static const unsigned char gzipped[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
    0xd7, 0x51, 0x48, 0xce, 0xcf, 0x2d, 0x28, 0x4a, 0x2d, 0x2e, 0x4e, 0x4d, 0x51, 0x28, 0xcf,
    0x2f, 0xca, 0x49, 0x01, 0x00, 0x08, 0x9e, 0x34, 0x35, 0x17, 0x00, 0x00, 0x00};

/* The test server listens on loopback, which the default policy refuses. */
static const ferry_net_policy loopback_ok = {.allow_private = true};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* A body of BIG_BYTES 'x': with a Content-Length, or chunked when the size is unknown. */
static ssize_t big_body_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    size_t n = BIG_BYTES - (size_t)pos;

    if (pos >= BIG_BYTES)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n > max)
        n = max;
    memset(buf, 'x', n);
    return (ssize_t)n;
}

/* "late", after SLOW_MS of silence. */
static ssize_t slow_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    server *srv = cls;

    if (pos >= 4)
        return MHD_CONTENT_READER_END_OF_STREAM;
    for (int waited = 0; waited < SLOW_MS; waited += 10) {
        if (atomic_load(&srv->stopping))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        sleep_ms(10);
    }
    memcpy(buf, "late", 4);
    return 4;
}

static const char *header_or_dash(struct MHD_Connection *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

    return v != NULL ? v : "-";
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
                             const char *content_type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (content_type != NULL)
        MHD_add_response_header(r, "Content-Type", content_type);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result queue_and_destroy(struct MHD_Connection *conn, unsigned status,
                                         struct MHD_Response *r)
{
    enum MHD_Result ret = MHD_queue_response(conn, status, r);

    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    server *srv = cls;
    char text[1024];

    /* The first call only announces the request; the body, if any, arrives over the calls
     * that follow, and the last one has no data. Answering on the first call would make MHD
     * close the connection afterwards. */
    char *got = *con_cls;
    if (got == NULL) {
        *con_cls = calloc(1, 256);
        return *con_cls != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size > 0) {
        size_t have = strlen(got), n = *upload_data_size;
        if (n > 255 - have)
            n = 255 - have;
        memcpy(got + have, upload_data, n);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") == 0) {
        snprintf(text, sizeof(text), "%s %s %s %s", method, url,
                 header_or_dash(conn, "Content-Type"), got);
        return reply(conn, MHD_HTTP_OK, text, "text/plain");
    }
    if (strcmp(url, "/hello") == 0)
        return reply(conn, MHD_HTTP_OK, "hello", "text/plain; charset=utf-8");
    if (strcmp(url, "/echo-headers") == 0) {
        snprintf(text, sizeof(text), "X-One=%s X-Two=%s Authorization=%s",
                 header_or_dash(conn, "X-One"), header_or_dash(conn, "X-Two"),
                 header_or_dash(conn, "Authorization"));
        return reply(conn, MHD_HTTP_OK, text, "text/plain");
    }
    if (strcmp(url, "/auth") == 0) {
        if (strcmp(header_or_dash(conn, "Authorization"), "Basic YWxpY2U6czNjcmV0") == 0)
            return reply(conn, MHD_HTTP_OK, "welcome", "text/plain");
        return reply(conn, MHD_HTTP_UNAUTHORIZED, "who are you?", "text/plain");
    }
    if (strcmp(url, "/links") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(2, (void *)"[]", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "X-RateLimit-Remaining", "41");
        MHD_add_response_header(r, "Link", "<http://x/?page=2>; rel=\"next\"");
        MHD_add_response_header(r, "Link", "<http://x/?page=9>; rel=\"last\"");
        return queue_and_destroy(conn, MHD_HTTP_OK, r);
    }
    if (strcmp(url, "/many-headers") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
        for (int i = 0; i < 150; i++) {
            char name[32];
            snprintf(name, sizeof(name), "X-H-%d", i);
            MHD_add_response_header(r, name, "v");
        }
        return queue_and_destroy(conn, MHD_HTTP_OK, r);
    }
    if (strcmp(url, "/redirect") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(5, (void *)"moved", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", "/hello");
        return queue_and_destroy(conn, MHD_HTTP_FOUND, r);
    }
    if (strcmp(url, "/gzip") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(gzipped), (void *)gzipped,
                                                                 MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Encoding", "gzip");
        MHD_add_response_header(r, "Content-Type", "text/plain");
        return queue_and_destroy(conn, MHD_HTTP_OK, r);
    }
    if (strcmp(url, "/big") == 0)
        return queue_and_destroy(
            conn, MHD_HTTP_OK,
            MHD_create_response_from_callback(BIG_BYTES, 4096, big_body_cb, NULL, NULL));
    if (strcmp(url, "/big-chunked") == 0)
        return queue_and_destroy(
            conn, MHD_HTTP_OK,
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, big_body_cb, NULL, NULL));
    if (strcmp(url, "/slow") == 0)
        return queue_and_destroy(
            conn, MHD_HTTP_OK,
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, slow_cb, srv, NULL));
    return reply(conn, MHD_HTTP_NOT_FOUND, "no such thing", "text/plain");
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    server *srv = cls;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&srv->connections, 1);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    free(*con_cls);
    *con_cls = NULL;
}

static int server_start(void **state)
{
    struct sockaddr_in addr;
    const union MHD_DaemonInfo *info;
    server *srv = calloc(1, sizeof(*srv));

    if (srv == NULL)
        return -1;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, handler, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_NOTIFY_CONNECTION, notify_connection, srv,
                         MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        free(srv);
        return -1;
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info->port;
    *state = srv;
    return 0;
}

static int server_stop(void **state)
{
    server *srv = *state;

    atomic_store(&srv->stopping, true);
    MHD_stop_daemon(srv->daemon);
    free(srv);
    return 0;
}

static void url_for(const server *srv, const char *path, char *out, size_t outlen)
{
    snprintf(out, outlen, "http://127.0.0.1:%u%s", srv->port, path);
}

/* A loopback port nothing listens on: bound, then closed. */
static unsigned closed_port(void)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

/* Fetches req on a new client; returns the code and leaves the response in *resp. */
static ferry_rc fetch_once(const ferry_http_request *req, ferry_http_response *resp, ferry_err *err)
{
    ferry_http_client *c = NULL;
    ferry_rc rc;

    ferry_err_clear(err);
    assert_int_equal(ferry_http_client_new(&c, err), FERRY_OK);
    rc = ferry_http_client_fetch(c, req, resp, err);
    ferry_http_client_free(c);
    return rc;
}

static void assert_empty_response(const ferry_http_response *resp)
{
    assert_int_equal(resp->status, 0);
    assert_null(resp->body.data);
    assert_null(resp->content_type);
    assert_int_equal(resp->nheaders, 0);
}

static void get_returns_status_body_and_content_type(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    url_for(*state, "/hello", url, sizeof(url));
    req.url = url;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body.len, 5);
    assert_string_equal(ferry_buf_str(&resp.body), "hello");
    assert_string_equal(resp.content_type, "text/plain; charset=utf-8");
    ferry_http_response_done(&resp);
    assert_empty_response(&resp);
}

static void custom_request_headers_arrive(void **state)
{
    const char *headers[] = {"X-One: first", "X-Two: second value", NULL};
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    url_for(*state, "/echo-headers", url, sizeof(url));
    req.url = url;
    req.headers = headers;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_OK);
    assert_string_equal(ferry_buf_str(&resp.body),
                        "X-One=first X-Two=second value Authorization=-");
    ferry_http_response_done(&resp);
}

static void basic_auth_arrives(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    url_for(*state, "/auth", url, sizeof(url));
    req.url = url;
    req.user = "alice";
    req.password = "s3cret";
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(ferry_buf_str(&resp.body), "welcome");
    ferry_http_response_done(&resp);

    req.password = "wrong";
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_OK);
    assert_int_equal(resp.status, 401);
    ferry_http_response_done(&resp);
}

static void post_body_arrives(void **state)
{
    const char *headers[] = {"Content-Type: application/json", NULL};
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    url_for(*state, "/search", url, sizeof(url));
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.body = "{\"page\":2}";
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(ferry_buf_str(&resp.body), "POST /search application/json {\"page\":2}");
    ferry_http_response_done(&resp);
}

static void not_found_is_a_response_not_an_error(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    url_for(*state, "/nowhere", url, sizeof(url));
    req.url = url;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_OK);
    assert_int_equal(err.code, FERRY_OK);
    assert_int_equal(resp.status, 404);
    assert_string_equal(ferry_buf_str(&resp.body), "no such thing");
    ferry_http_response_done(&resp);
}

static void redirect_is_returned_not_followed(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    url_for(*state, "/redirect", url, sizeof(url));
    req.url = url;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_OK);
    assert_int_equal(resp.status, 302);
    assert_string_equal(ferry_buf_str(&resp.body), "moved");
    assert_string_equal(ferry_http_response_header(&resp, "location"), "/hello");
    ferry_http_response_done(&resp);
}

static void response_headers_read_case_insensitively_and_repeats_join(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    url_for(*state, "/links", url, sizeof(url));
    req.url = url;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_OK);
    assert_string_equal(ferry_http_response_header(&resp, "x-ratelimit-remaining"), "41");
    assert_string_equal(ferry_http_response_header(&resp, "X-RATELIMIT-REMAINING"), "41");
    assert_string_equal(ferry_http_response_header(&resp, "content-type"), "application/json");
    assert_string_equal(ferry_http_response_header(&resp, "link"),
                        "<http://x/?page=2>; rel=\"next\", <http://x/?page=9>; rel=\"last\"");
    assert_null(ferry_http_response_header(&resp, "X-Absent"));
    ferry_http_response_done(&resp);
}

static void headers_past_the_limit_are_ignored(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    url_for(*state, "/many-headers", url, sizeof(url));
    req.url = url;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(ferry_buf_str(&resp.body), "ok");
    assert_true(resp.nheaders <= 100);
    assert_true(resp.nheaders >= 90);
    assert_string_equal(ferry_http_response_header(&resp, "X-H-0"), "v");
    assert_null(ferry_http_response_header(&resp, "X-H-149"));
    ferry_http_response_done(&resp);
}

static void compressed_body_is_decoded(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    url_for(*state, "/gzip", url, sizeof(url));
    req.url = url;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_OK);
    assert_string_equal(ferry_buf_str(&resp.body), "hello, compressed world");
    ferry_http_response_done(&resp);
}

static void body_over_max_bytes_is_elimit(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    url_for(*state, "/big", url, sizeof(url));
    req.url = url;
    req.max_bytes = 1000;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_ELIMIT);
    assert_false(err.transient);
    assert_non_null(strstr(err.msg, "larger than 1000 bytes"));
    assert_non_null(strstr(err.msg, "/big"));
    assert_empty_response(&resp);
    ferry_http_response_done(&resp);

    /* Exactly at the limit is fine. */
    req.max_bytes = BIG_BYTES;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_OK);
    assert_int_equal(resp.body.len, BIG_BYTES);
    ferry_http_response_done(&resp);
}

static void chunked_body_over_max_bytes_is_elimit(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    url_for(*state, "/big-chunked", url, sizeof(url));
    req.url = url;
    req.max_bytes = 32 * 1024;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_ELIMIT);
    assert_non_null(strstr(err.msg, "larger than 32 KiB"));
    assert_empty_response(&resp);
}

static void slow_response_past_timeout_is_transient(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];
    int64_t start;

    url_for(*state, "/slow", url, sizeof(url));
    req.url = url;
    req.timeout_ms = 300;
    start = ferry_time_mono_ms();
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_EHTTP);
    assert_true(ferry_time_mono_ms() - start < 1500);
    assert_true(err.transient);
    assert_non_null(strstr(err.msg, "timed out"));
    assert_empty_response(&resp);
}

static void stalled_transfer_fails_on_the_low_speed_limit(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];
    int64_t start;

    url_for(*state, "/slow", url, sizeof(url));
    req.url = url;
    req.low_speed_time_s = 1;
    start = ferry_time_mono_ms();
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_EHTTP);
    assert_true(ferry_time_mono_ms() - start < SLOW_MS);
    assert_true(err.transient);
    assert_non_null(strstr(err.msg, "stalled"));
}

static void refused_connection_is_transient(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hello", closed_port());
    req.url = url;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_EHTTP);
    assert_true(err.transient);
    assert_non_null(strstr(err.msg, "unreachable"));
    assert_empty_response(&resp);
}

static void *cancel_later(void *arg)
{
    sleep_ms(100);
    atomic_store((atomic_bool *)arg, true);
    return NULL;
}

static void cancel_from_another_thread_stops_a_slow_fetch(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    atomic_bool cancel = false;
    pthread_t t;
    ferry_err err;
    char url[128];
    int64_t start;

    url_for(*state, "/slow", url, sizeof(url));
    req.url = url;
    req.cancel = &cancel;
    start = ferry_time_mono_ms();
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &cancel), 0);
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_ECANCELLED);
    assert_true(ferry_time_mono_ms() - start < 600);
    pthread_join(t, NULL);
    assert_false(err.transient);
    assert_empty_response(&resp);
}

static void sequential_fetches_reuse_the_connection(void **state)
{
    server *srv = *state;
    ferry_http_client *c = NULL;
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    ferry_err_clear(&err);
    url_for(srv, "/hello", url, sizeof(url));
    req.url = url;
    assert_int_equal(ferry_http_client_new(&c, &err), FERRY_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ferry_http_client_fetch(c, &req, &resp, &err), FERRY_OK);
        assert_string_equal(ferry_buf_str(&resp.body), "hello");
        ferry_http_response_done(&resp);
    }
    ferry_http_client_free(c);
    assert_int_equal(atomic_load(&srv->connections), 1);
}

static void options_do_not_carry_over_to_the_next_fetch(void **state)
{
    const char *headers[] = {"X-One: first", NULL};
    ferry_http_client *c = NULL;
    ferry_http_request req = {.policy = &loopback_ok}, plain = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[128];

    ferry_err_clear(&err);
    url_for(*state, "/echo-headers", url, sizeof(url));
    req.url = url;
    req.headers = headers;
    req.user = "alice";
    req.password = "s3cret";
    plain.url = url;
    assert_int_equal(ferry_http_client_new(&c, &err), FERRY_OK);
    assert_int_equal(ferry_http_client_fetch(c, &req, &resp, &err), FERRY_OK);
    assert_string_equal(ferry_buf_str(&resp.body),
                        "X-One=first X-Two=- Authorization=Basic YWxpY2U6czNjcmV0");
    ferry_http_response_done(&resp);
    assert_int_equal(ferry_http_client_fetch(c, &plain, &resp, &err), FERRY_OK);
    assert_string_equal(ferry_buf_str(&resp.body), "X-One=- X-Two=- Authorization=-");
    ferry_http_response_done(&resp);
    ferry_http_client_free(c);
}

static void assert_no_secrets(const char *msg)
{
    assert_null(strstr(msg, "secret"));
    assert_null(strstr(msg, "token"));
    assert_null(strstr(msg, "abc"));
    assert_null(strstr(msg, "user"));
    assert_null(strstr(msg, "carol"));
    assert_null(strstr(msg, "hunter2"));
    assert_null(strstr(msg, "bearer-xyz"));
    assert_non_null(strstr(msg, "127.0.0.1"));
}

static void messages_never_show_query_or_credentials(void **state)
{
    const char *headers[] = {"Authorization: Bearer bearer-xyz", NULL};
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;
    char url[160];

    req.headers = headers;
    req.password = "hunter2";
    req.user = "carol";

    snprintf(url, sizeof(url), "http://user:secret@127.0.0.1:%u/x?token=abc", closed_port());
    req.url = url;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_EHTTP);
    assert_no_secrets(err.msg);

    snprintf(url, sizeof(url), "http://user:secret@127.0.0.1:%u/big?token=abc",
             ((server *)*state)->port);
    req.max_bytes = 100;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_ELIMIT);
    assert_no_secrets(err.msg);

    snprintf(url, sizeof(url), "http://user:secret@127.0.0.1:%u/slow?token=abc",
             ((server *)*state)->port);
    req.timeout_ms = 200;
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_EHTTP);
    assert_no_secrets(err.msg);
}

static void unsupported_scheme_and_method_are_refused(void **state)
{
    ferry_http_request req = {.policy = &loopback_ok};
    ferry_http_response resp;
    ferry_err err;

    req.url = "ftp://127.0.0.1/file";
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_EHTTP);
    assert_false(err.transient);
    assert_empty_response(&resp);

    req.url = "http://127.0.0.1/";
    req.method = "DELETE";
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_EINVAL);
}

#define SERVER_TEST(f) cmocka_unit_test_setup_teardown(f, server_start, server_stop)

static void loopback_is_refused_without_allow_private(void **state)
{
    char url[256];
    ferry_http_request req = {0};
    ferry_http_response resp;
    ferry_err err;

    url_for(*state, "/hello", url, sizeof(url));
    req.url = url;
    ferry_err_clear(&err);
    assert_int_equal(fetch_once(&req, &resp, &err), FERRY_EHTTP);
    assert_false(err.transient);
    assert_non_null(strstr(err.msg, "127.0.0.1"));
    assert_non_null(strstr(err.msg, "a loopback address"));
    assert_non_null(strstr(err.msg, "allow_private: true"));
    assert_non_null(strstr(err.msg, "allow_hosts:"));
    assert_empty_response(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SERVER_TEST(get_returns_status_body_and_content_type),
        SERVER_TEST(loopback_is_refused_without_allow_private),
        SERVER_TEST(custom_request_headers_arrive),
        SERVER_TEST(basic_auth_arrives),
        SERVER_TEST(post_body_arrives),
        SERVER_TEST(not_found_is_a_response_not_an_error),
        SERVER_TEST(redirect_is_returned_not_followed),
        SERVER_TEST(response_headers_read_case_insensitively_and_repeats_join),
        SERVER_TEST(headers_past_the_limit_are_ignored),
        SERVER_TEST(compressed_body_is_decoded),
        SERVER_TEST(body_over_max_bytes_is_elimit),
        SERVER_TEST(chunked_body_over_max_bytes_is_elimit),
        SERVER_TEST(slow_response_past_timeout_is_transient),
        SERVER_TEST(stalled_transfer_fails_on_the_low_speed_limit),
        SERVER_TEST(refused_connection_is_transient),
        SERVER_TEST(cancel_from_another_thread_stops_a_slow_fetch),
        SERVER_TEST(sequential_fetches_reuse_the_connection),
        SERVER_TEST(options_do_not_carry_over_to_the_next_fetch),
        SERVER_TEST(messages_never_show_query_or_credentials),
        SERVER_TEST(unsupported_scheme_and_method_are_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
