/* http_fetch.c - whole-response HTTP requests on one reused libcurl handle (see http_fetch.h).
 *
 * A client owns a multi handle holding one easy handle. The multi handle keeps the connection
 * cache, so removing the easy handle after a fetch and adding it back for the next reuses the
 * connection. Each fetch ends with curl_easy_reset(), which forgets the request's options (URL,
 * body, header list, credentials) without closing that connection; each fetch sets them all.
 * The transfer is driven by curl_multi_poll() with a 100 ms timeout, so a cancel flag is seen
 * within about 100 ms even while the server sends nothing; the progress callback also checks
 * it during a busy transfer.
 *
 * Limits: the body goes into a ferry_buf whose maximum is max_bytes, counted after decoding,
 * so a small compressed body cannot expand without bound; the write callback stops the
 * transfer as soon as an append would pass it. Response headers are kept up to MAX_HEADERS
 * lines and MAX_HEADER_BYTES in all; later ones are ignored. Only the final response's headers
 * are kept: a status line (after a 1xx or a proxy's CONNECT answer) empties the list. Repeated
 * names are joined with ", " as they arrive, so lookups return a stored string.
 *
 * curl_global_init() runs once per process (ferry_curl_init()). A client belongs to one
 * thread; different clients may run on different threads. */
#include "util/http_fetch.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/curl_init.h"
#include "util/http_stream.h"
#include "util/url.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 30000L
#define DEFAULT_LOW_SPEED_TIME_S 60L
#define DEFAULT_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define MAX_HEADERS 100
#define MAX_HEADER_BYTES (64 * 1024)
#define POLL_MS 100
#define REDACTED_MAX 512

struct ferry_http_header {
    char *name;
    char *value; /* every occurrence, joined by ", " */
};

/* What the callbacks of one fetch fill in; lives in the client from start to finish. */
typedef struct {
    const atomic_bool *cancel; /* may be NULL */
    ferry_buf body;
    bool over_limit; /* the body passed max_bytes */
    bool nomem;      /* an allocation failed in a callback */
    ferry_http_header *headers;
    size_t nheaders;
    size_t header_lines; /* lines kept since the last status line */
    size_t header_bytes;
    ferry_http_header *last; /* the header a continuation line extends, or NULL */
} fetch_state;

struct ferry_http_client {
    CURLM *multi; /* owns the connection cache */
    CURL *easy;
    char curl_error[CURL_ERROR_SIZE];
    ferry_net_guard guard; /* the destination policy's check of the request in flight */
    /* The request in flight between ferry_http_client_start() and _finish(). */
    bool active;
    fetch_state st;
    struct curl_slist *headers;
    char redacted[REDACTED_MAX];
};

static void headers_free(ferry_http_header *headers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(headers[i].name);
        free(headers[i].value);
    }
    free(headers);
}

static void state_clear_headers(fetch_state *st)
{
    headers_free(st->headers, st->nheaders);
    st->headers = NULL;
    st->nheaders = 0;
    st->header_lines = 0;
    st->header_bytes = 0;
    st->last = NULL;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Appends sep and n bytes of p to *value (a malloc'd string). */
static bool value_append(char **value, const char *sep, const char *p, size_t n)
{
    size_t old = strlen(*value), seplen = strlen(sep);
    char *grown = realloc(*value, old + seplen + n + 1);

    if (grown == NULL)
        return false;
    memcpy(grown + old, sep, seplen);
    memcpy(grown + old + seplen, p, n);
    grown[old + seplen + n] = '\0';
    *value = grown;
    return true;
}

static bool header_add(fetch_state *st, const char *name, size_t namelen, const char *value,
                       size_t valuelen)
{
    ferry_http_header *h, *grown;

    for (size_t i = 0; i < st->nheaders; i++) {
        h = &st->headers[i];
        if (strlen(h->name) == namelen && strncasecmp(h->name, name, namelen) == 0) {
            if (!value_append(&h->value, ", ", value, valuelen))
                return false;
            st->last = h;
            return true;
        }
    }
    grown = realloc(st->headers, (st->nheaders + 1) * sizeof(*grown));
    if (grown == NULL)
        return false;
    st->headers = grown;
    h = &st->headers[st->nheaders];
    h->name = strndup(name, namelen);
    h->value = strndup(value, valuelen);
    if (h->name == NULL || h->value == NULL) {
        free(h->name);
        free(h->value);
        return false;
    }
    st->nheaders++;
    st->last = h;
    return true;
}

/* Called once per header line, CRLF included; also for the status line and the blank line
 * that ends the headers. Returning anything but the line's length aborts the transfer. */
static size_t header_cb(char *ptr, size_t size, size_t nitems, void *userdata)
{
    fetch_state *st = userdata;
    size_t n = size * nitems, len = n;
    const char *line = ptr, *colon, *value, *end;
    size_t namelen;

    while (len > 0 && is_space(line[len - 1]))
        len--;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        state_clear_headers(st);
        return n;
    }
    if (len == 0)
        return n;
    if (st->header_lines >= MAX_HEADERS || st->header_bytes + len > MAX_HEADER_BYTES) {
        st->last = NULL;
        return n;
    }
    /* Obsolete line folding (RFC 9112 section 5.2): a line starting with whitespace continues
     * the previous header's value. */
    if (is_space(line[0])) {
        while (len > 0 && is_space(line[0])) {
            line++;
            len--;
        }
        if (st->last != NULL && !value_append(&st->last->value, " ", line, len))
            goto out_nomem;
        st->header_bytes += len;
        return n;
    }
    colon = memchr(line, ':', len);
    if (colon == NULL || colon == line) {
        st->last = NULL;
        return n;
    }
    namelen = (size_t)(colon - line);
    while (namelen > 0 && is_space(line[namelen - 1]))
        namelen--;
    value = colon + 1;
    end = line + len;
    while (value < end && is_space(*value))
        value++;
    if (!header_add(st, line, namelen, value, (size_t)(end - value)))
        goto out_nomem;
    st->header_lines++;
    st->header_bytes += len;
    return n;

out_nomem:
    st->nomem = true;
    return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    fetch_state *st = userdata;
    size_t n = size * nmemb;
    ferry_rc rc = ferry_buf_append(&st->body, ptr, n);

    if (rc == FERRY_ELIMIT) {
        st->over_limit = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (rc != FERRY_OK) {
        st->nomem = true;
        return 0;
    }
    return n;
}

static int xferinfo_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    fetch_state *st = userdata;

    /* Non-zero aborts the transfer with CURLE_ABORTED_BY_CALLBACK. */
    return st->cancel != NULL && atomic_load(st->cancel) ? 1 : 0;
}

ferry_rc ferry_http_client_new(ferry_http_client **ret_client, ferry_err *err)
{
    ferry_http_client *c;

    ferry_curl_init();
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating an HTTP client");
    c->multi = curl_multi_init();
    c->easy = curl_easy_init();
    if (c->multi == NULL || c->easy == NULL) {
        ferry_http_client_free(c);
        return ferry_err_set(err, FERRY_ENOMEM, "initialising libcurl");
    }
    *ret_client = c;
    return FERRY_OK;
}

static ferry_rc build_headers(const ferry_http_request *req, bool post,
                              struct curl_slist **ret_list, ferry_err *err)
{
    struct curl_slist *list = NULL, *grown;
    bool has_expect = false;

    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        if (strncasecmp(req->headers[i], "Expect:", 7) == 0)
            has_expect = true;
        grown = curl_slist_append(list, req->headers[i]);
        if (grown == NULL)
            goto out_nomem;
        list = grown;
    }
    /* curl would send "Expect: 100-continue" with a large POST body and wait up to a second
     * for servers that never answer it; an empty Expect: header turns that off. */
    if (post && !has_expect) {
        grown = curl_slist_append(list, "Expect:");
        if (grown == NULL)
            goto out_nomem;
        list = grown;
    }
    *ret_list = list;
    return FERRY_OK;

out_nomem:
    curl_slist_free_all(list);
    return ferry_err_set(err, FERRY_ENOMEM, "building the request headers");
}

static void set_options(ferry_http_client *c, const ferry_http_request *req, bool post,
                        struct curl_slist *headers, fetch_state *st)
{
    CURL *e = c->easy;

    curl_easy_setopt(e, CURLOPT_URL, req->url);
    ferry_net_guard_apply(&c->guard, e, req->policy, req->url);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "ferry/" FERRY_VERSION);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_error);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                 : DEFAULT_CONNECT_TIMEOUT_MS);
    if (req->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    /* A transfer slower than 1 byte/s for low_speed_time_s has stalled. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     req->low_speed_time_s > 0 ? req->low_speed_time_s : DEFAULT_LOW_SPEED_TIME_S);
    if (post) {
        const char *body = req->body != NULL ? req->body : "";
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    }
    if (headers != NULL)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    if (req->user != NULL) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, req->user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, req->password != NULL ? req->password : "");
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, st);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, st);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, st);
}

static ferry_rc transfer_error(const ferry_http_client *c, CURLcode result, const fetch_state *st,
                               const char *redacted, ferry_err *err)
{
    /* curl's own messages name the host and port at most, never the path or userinfo. */
    const char *what = c->curl_error[0] ? c->curl_error : curl_easy_strerror(result);
    bool first = err != NULL && err->code == FERRY_OK;
    bool transient = false;
    char size[32];
    ferry_rc rc;

    /* A redirect from https down to http, or every address the host had refused (curl
     * found nothing to connect to). */
    if (c->guard.downgraded || (c->guard.refused && result == CURLE_COULDNT_CONNECT))
        return ferry_net_guard_error(&c->guard, redacted, err);
    switch (result) {
    case CURLE_WRITE_ERROR:
        if (st->nomem)
            return ferry_err_set(err, FERRY_ENOMEM, "storing the response from %s", redacted);
        if (st->over_limit) {
            ferry_size_format(st->body.max, size, sizeof(size));
            return ferry_err_set(err, FERRY_ELIMIT, "the response from %s is larger than %s",
                                 redacted, size);
        }
        rc = ferry_err_set(err, FERRY_EHTTP, "reading %s failed: %s", redacted, what);
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        return ferry_err_set(err, FERRY_ECANCELLED, "the run was cancelled");
    case CURLE_OPERATION_TIMEDOUT:
        /* The low-speed check and the overall timeout share this code; curl's message tells
         * them apart. */
        if (strstr(what, "too slow") != NULL)
            rc = ferry_err_set(err, FERRY_EHTTP, "%s stalled: %s", redacted, what);
        else
            rc = ferry_err_set(err, FERRY_EHTTP, "%s timed out: %s", redacted, what);
        transient = true;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        /* A name that does not resolve is usually a typo, but DNS also fails for a moment;
         * the caller's bounded retries tell the two apart. */
        rc = ferry_err_set(err, FERRY_EHTTP, "%s: %s", redacted, what);
        transient = true;
        break;
    case CURLE_COULDNT_CONNECT:
        rc = ferry_err_set(err, FERRY_EHTTP, "%s is unreachable: %s", redacted, what);
        transient = true;
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        rc = ferry_err_set(err, FERRY_EHTTP, "%s: connection reset: %s", redacted, what);
        transient = true;
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        rc = ferry_err_set(err, FERRY_EHTTP, "%s: only http:// and https:// URLs are fetched",
                           redacted);
        break;
    case CURLE_URL_MALFORMAT:
        /* curl's message here may quote the URL; ours is redacted. */
        rc = ferry_err_set(err, FERRY_EHTTP, "%s is not a valid URL", redacted);
        break;
    default:
        rc = ferry_err_set(err, FERRY_EHTTP, "reading %s failed: %s", redacted, what);
        break;
    }
    if (first)
        err->transient = transient;
    return rc;
}

/* Runs the transfer until it ends or *cancel is set; *ret_result gets curl's verdict. The
 * handle was added to the multi handle by ferry_http_client_start(). */
static ferry_rc perform(ferry_http_client *c, const fetch_state *st, const char *redacted,
                        CURLcode *ret_result, ferry_err *err)
{
    CURLcode result = CURLE_OK;
    CURLMsg *msg;
    int running = 1, left;

    while (running > 0) {
        if (st->cancel != NULL && atomic_load(st->cancel))
            return ferry_err_set(err, FERRY_ECANCELLED, "the run was cancelled");
        if (curl_multi_perform(c->multi, &running) != CURLM_OK)
            goto out_failed;
        /* Wakes up at least every POLL_MS for the cancel check, sooner when curl has a
         * timeout due or the socket is ready. */
        if (running > 0 && curl_multi_poll(c->multi, NULL, 0, POLL_MS, NULL) != CURLM_OK)
            goto out_failed;
    }
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == c->easy)
            result = msg->data.result;
    }
    *ret_result = result;
    return FERRY_OK;

out_failed:
    return ferry_err_set(err, FERRY_EHTTP, "waiting for %s failed", redacted);
}

/* Ends the request in flight: the handle leaves the multi handle and forgets the request
 * (its body, header list and credentials). */
static void end_request(ferry_http_client *c)
{
    if (!c->active)
        return;
    curl_multi_remove_handle(c->multi, c->easy);
    curl_easy_reset(c->easy);
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    ferry_buf_done(&c->st.body);
    state_clear_headers(&c->st);
    c->active = false;
}

ferry_rc ferry_http_client_start(ferry_http_client *c, const ferry_http_request *req,
                                 ferry_err *err)
{
    int running = 0;
    bool post;
    ferry_rc rc;

    end_request(c);
    if (req->url == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "an HTTP request needs a URL");
    ferry_url_redact(req->url, c->redacted, sizeof(c->redacted));
    if (req->method == NULL || strcmp(req->method, "GET") == 0)
        post = false;
    else if (strcmp(req->method, "POST") == 0)
        post = true;
    else
        return ferry_err_set(err, FERRY_EINVAL, "HTTP method '%s' is not supported for %s",
                             req->method, c->redacted);
    if (!post && req->body != NULL)
        return ferry_err_set(err, FERRY_EINVAL, "a GET request to %s cannot carry a body",
                             c->redacted);
    memset(&c->st, 0, sizeof(c->st));
    c->st.cancel = req->cancel;
    ferry_buf_init(&c->st.body, req->max_bytes > 0 ? req->max_bytes : DEFAULT_MAX_BYTES);
    rc = build_headers(req, post, &c->headers, err);
    if (rc != FERRY_OK) {
        ferry_buf_done(&c->st.body);
        return rc;
    }
    c->curl_error[0] = '\0';
    set_options(c, req, post, c->headers, &c->st);
    c->active = true;
    if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK) {
        rc = ferry_err_set(err, FERRY_EHTTP, "starting the request to %s", c->redacted);
        end_request(c);
        return rc;
    }
    /* One step without waiting: on a kept-alive connection the request goes out now, so the
     * server works on it while the caller does something else. */
    curl_multi_perform(c->multi, &running);
    return FERRY_OK;
}

ferry_rc ferry_http_client_finish(ferry_http_client *c, ferry_http_response *ret_resp,
                                  ferry_err *err)
{
    CURLcode result = CURLE_OK;
    char *ct = NULL;
    ferry_rc rc;

    memset(ret_resp, 0, sizeof(*ret_resp));
    if (!c->active)
        return ferry_err_set(err, FERRY_EINVAL, "no request was started");
    rc = perform(c, &c->st, c->redacted, &result, err);
    if (rc != FERRY_OK)
        goto out;
    if (result != CURLE_OK) {
        rc = transfer_error(c, result, &c->st, c->redacted, err);
        goto out;
    }
    if (curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL) {
        ret_resp->content_type = strdup(ct);
        if (ret_resp->content_type == NULL) {
            rc = ferry_err_set(err, FERRY_ENOMEM, "storing the response from %s", c->redacted);
            goto out;
        }
    }
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &ret_resp->status);
    ret_resp->body = c->st.body;
    ret_resp->headers = c->st.headers;
    ret_resp->nheaders = c->st.nheaders;
    ferry_buf_init(&c->st.body, 0);
    c->st.headers = NULL;
    c->st.nheaders = 0;
out:
    end_request(c);
    return rc;
}

ferry_rc ferry_http_client_fetch(ferry_http_client *c, const ferry_http_request *req,
                                 ferry_http_response *ret_resp, ferry_err *err)
{
    ferry_rc rc = ferry_http_client_start(c, req, err);

    if (rc != FERRY_OK) {
        memset(ret_resp, 0, sizeof(*ret_resp));
        return rc;
    }
    return ferry_http_client_finish(c, ret_resp, err);
}

const char *ferry_http_response_header(const ferry_http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->nheaders; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    }
    return NULL;
}

void ferry_http_response_done(ferry_http_response *resp)
{
    if (resp == NULL)
        return;
    ferry_buf_done(&resp->body);
    free(resp->content_type);
    headers_free(resp->headers, resp->nheaders);
    memset(resp, 0, sizeof(*resp));
}

void ferry_http_client_free(ferry_http_client *c)
{
    if (c == NULL)
        return;
    end_request(c);
    if (c->easy != NULL)
        curl_easy_cleanup(c->easy);
    if (c->multi != NULL)
        curl_multi_cleanup(c->multi);
    free(c);
}
