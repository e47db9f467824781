/* http_stream.c - pull-style HTTP GET on libcurl's multi interface (see http_stream.h).
 *
 * The write callback appends to a pending buffer; once that holds more than PAUSE_AT bytes it
 * returns CURL_WRITEFUNC_PAUSE, and the reader unpauses the transfer when it has drained the
 * buffer. curl_global_init() runs once per process (ferry_curl_init()).
 *
 * Limits: the write callback counts the body after decoding (curl inflates gzip and deflate
 * before it), so a small compressed body cannot expand past max_bytes; the transfer stops as
 * soon as one more chunk would pass it, and fails even when curl ends it as if the body ended
 * there (it does so for data it held back during a pause, with stacked encodings). Redirects: curl
 * follows at most MAX_REDIRECTS, with the protocols net_policy allows (https stays https), and
 * every connection of every hop passes the guard's open-socket check.
 *
 * A Google Sheets URL naming a tab (gid=) that does not exist is answered with HTTP 400 and an
 * HTML page; the gid is kept from the URL so that answer says which tab was not found. */
#include "util/http_stream.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/curl_init.h"
#include "util/url.h"

#define PAUSE_AT (256 * 1024)
#define PENDING_MAX (64 * 1024 * 1024)
#define MAX_REDIRECTS 5L

struct ferry_http_stream {
    CURLM *multi;
    CURL *easy;
    const atomic_bool *cancel; /* may be NULL */
    ferry_net_guard guard;     /* the destination policy's check, filled by curl's callback */
    bool https;                /* the URL was https: a redirect to http is refused */
    uint64_t max_bytes;        /* 0: no limit */
    uint64_t received;         /* body bytes accepted, after decoding */
    bool over_limit;           /* the body passed max_bytes */
    char sheet_gid[24];        /* a Google Sheets URL's gid=, or "" */
    ferry_buf pending;         /* received, not yet read */
    size_t pending_pos;
    bool paused;
    bool done;
    bool checked; /* the status has been checked */
    CURLcode result;
    long status;
    char *content_type;
    int64_t content_length;
    char redacted[512];
    char curl_error[CURL_ERROR_SIZE];
    struct curl_slist *headers; /* the auth header, or NULL; wiped at close */
    char share_with[320];       /* a service account's e-mail, or "" */
};

void ferry_size_format(uint64_t n, char *out, size_t outlen)
{
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        uint64_t unit = 1ULL << (10 * (4 - i));
        if (n >= unit && n % unit == 0) {
            snprintf(out, outlen, "%llu %s", (unsigned long long)(n / unit), units[i]);
            return;
        }
    }
    snprintf(out, outlen, "%llu bytes", (unsigned long long)n);
}

/* The gid= of a Google Sheets URL (a path with /spreadsheets/) into out, digits only; "" when
 * there is none. */
static void sheet_gid(const char *url, char *out, size_t outlen)
{
    const char *q = strchr(url, '?'), *g;
    size_t n;

    out[0] = '\0';
    if (q == NULL || strstr(url, "/spreadsheets/") == NULL || strstr(url, "/spreadsheets/") > q)
        return;
    for (g = q; (g = strstr(g, "gid=")) != NULL; g += 4) {
        if (g[-1] == '?' || g[-1] == '&')
            break;
    }
    if (g == NULL)
        return;
    g += 4;
    n = strspn(g, "0123456789");
    if (n > 0 && n < outlen)
        snprintf(out, outlen, "%.*s", (int)n, g);
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    ferry_http_stream *s = userdata;
    size_t n = size * nmemb;

    if (s->pending.len - s->pending_pos > PAUSE_AT) {
        s->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (s->max_bytes > 0 && (uint64_t)n > s->max_bytes - s->received) {
        s->over_limit = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (s->pending_pos > 0 && s->pending_pos == s->pending.len) {
        ferry_buf_reset(&s->pending);
        s->pending_pos = 0;
    }
    if (ferry_buf_append(&s->pending, ptr, n) != FERRY_OK)
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    s->received += n;
    return n;
}

ferry_rc ferry_http_stream_open(const char *url, const ferry_http_stream_options *opt,
                                ferry_http_stream **ret_stream, ferry_err *err)
{
    ferry_http_stream *s;

    ferry_curl_init();
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating an HTTP stream");
    ferry_buf_init(&s->pending, PENDING_MAX);
    s->cancel = opt->cancel;
    s->max_bytes = opt->max_bytes;
    s->https = strncasecmp(url, "https://", 8) == 0;
    s->content_length = -1;
    ferry_url_redact(url, s->redacted, sizeof(s->redacted));
    sheet_gid(url, s->sheet_gid, sizeof(s->sheet_gid));
    s->multi = curl_multi_init();
    s->easy = curl_easy_init();
    if (s->multi == NULL || s->easy == NULL) {
        ferry_http_stream_close(s);
        return ferry_err_set(err, FERRY_ENOMEM, "initialising libcurl");
    }
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    ferry_net_guard_apply(&s->guard, s->easy, opt->policy, url);
    curl_easy_setopt(s->easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(s->easy, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "ferry/" FERRY_VERSION);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
    if (opt->timeout_ms > 0)
        curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, opt->timeout_ms);
    /* A transfer slower than 1 byte/s for 60 s has stalled. */
    curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->curl_error);
    if (opt->share_with != NULL)
        snprintf(s->share_with, sizeof(s->share_with), "%s", opt->share_with);
    if (opt->auth_header != NULL) {
        s->headers = curl_slist_append(NULL, opt->auth_header);
        if (s->headers == NULL) {
            ferry_http_stream_close(s);
            return ferry_err_set(err, FERRY_ENOMEM, "building the request to %s", s->redacted);
        }
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    }
    if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) {
        ferry_http_stream_close(s);
        return ferry_err_set(err, FERRY_EHTTP, "starting the request to %s", s->redacted);
    }
    *ret_stream = s;
    return FERRY_OK;
}

static void fetch_info(ferry_http_stream *s)
{
    curl_off_t cl = -1;
    char *ct = NULL;

    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
    if (curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK)
        s->content_length = cl;
    if (s->content_type == NULL &&
        curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
        s->content_type = strdup(ct);
}

static ferry_rc check_status(ferry_http_stream *s, ferry_err *err)
{
    if (s->checked)
        return FERRY_OK;
    fetch_info(s);
    if (s->status == 0)
        return FERRY_OK; /* no response yet */
    s->checked = true;
    if (s->status >= 400) {
        const char *hint = "";
        if (s->status == 401 || s->status == 403)
            hint = " (access denied: is the sheet shared or published?)";
        else if (s->status == 404)
            hint = " (not found: check the URL)";
        bool first = err != NULL && err->code == FERRY_OK;
        ferry_rc rc;
        if (s->share_with[0] != '\0' && (s->status == 401 || s->status == 403 || s->status == 404))
            rc = ferry_err_set(err, FERRY_EHTTP,
                               "%s answered HTTP %ld to the service account %s: share it with %s "
                               "(Share, as a viewer)",
                               s->redacted, s->status, s->share_with, s->share_with);
        else if (s->status == 400 && s->sheet_gid[0] != '\0')
            rc = ferry_err_set(err, FERRY_EHTTP,
                               "the tab (gid %s) was not found: %s answered HTTP 400; check the "
                               "gid= in the URL (the number after #gid= in the browser's address "
                               "bar while the tab is open)",
                               s->sheet_gid, s->redacted);
        else
            rc = ferry_err_set(err, FERRY_EHTTP, "%s answered HTTP %ld%s", s->redacted, s->status,
                               hint);
        /* Server errors and throttling may pass; client errors will not. */
        if (first && (s->status >= 500 || s->status == 429))
            err->transient = true;
        return rc;
    }
    return FERRY_OK;
}

static ferry_rc transfer_error(ferry_http_stream *s, ferry_err *err)
{
    const char *what = s->curl_error[0] ? s->curl_error : curl_easy_strerror(s->result);
    bool first = err != NULL && err->code == FERRY_OK;
    bool transient = true;
    char size[32];
    ferry_rc rc;

    /* A redirect from https down to http, or every address the host had refused (curl
     * found nothing to connect to). */
    if (s->guard.downgraded || (s->guard.refused && s->result == CURLE_COULDNT_CONNECT))
        return ferry_net_guard_error(&s->guard, s->redacted, err);
    /* Past max_bytes, whatever curl made of the refusal (it may end the transfer as if the
     * body ended there: never a shorter file). */
    switch (s->over_limit ? CURLE_WRITE_ERROR : s->result) {
    case CURLE_WRITE_ERROR:
        if (!s->over_limit) {
            rc = ferry_err_set(err, FERRY_ENOMEM, "storing the download of %s", s->redacted);
            break;
        }
        ferry_size_format(s->max_bytes, size, sizeof(size));
        rc = ferry_err_set(err, FERRY_ELIMIT,
                           "the download of %s is larger than max_bytes (%s, counted after "
                           "decompression): raise the source's max_bytes if the file is really "
                           "that large",
                           s->redacted, size);
        transient = false;
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        rc = ferry_err_set(err, FERRY_EHTTP,
                           s->https ? "%s redirected to a URL that is not https: Ferry does not "
                                      "follow a redirect from https to plain http"
                                    : "%s redirected to a URL that is not http or https",
                           s->redacted);
        transient = false;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        rc = ferry_err_set(err, FERRY_EHTTP, "%s timed out: %s", s->redacted, what);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        rc = ferry_err_set(err, FERRY_EHTTP, "%s: host not found", s->redacted);
        break;
    case CURLE_COULDNT_CONNECT:
        rc = ferry_err_set(err, FERRY_EHTTP, "%s is unreachable: %s", s->redacted, what);
        break;
    case CURLE_TOO_MANY_REDIRECTS:
        rc = ferry_err_set(err, FERRY_EHTTP, "%s redirected more than %ld times", s->redacted,
                           MAX_REDIRECTS);
        transient = false;
        break;
    default:
        rc = ferry_err_set(err, FERRY_EHTTP, "reading %s failed: %s", s->redacted, what);
        break;
    }
    if (first)
        err->transient = transient;
    return rc;
}

ferry_rc ferry_http_stream_read(ferry_http_stream *s, char *buf, size_t cap, size_t *ret_n,
                                ferry_err *err)
{
    size_t avail;
    ferry_rc rc;

    for (;;) {
        avail = s->pending.len - s->pending_pos;
        if (avail > 0) {
            if ((rc = check_status(s, err)) != FERRY_OK)
                return rc;
            if (avail > cap)
                avail = cap;
            memcpy(buf, s->pending.data + s->pending_pos, avail);
            s->pending_pos += avail;
            *ret_n = avail;
            return FERRY_OK;
        }
        if (s->done) {
            if (s->result != CURLE_OK || s->over_limit)
                return transfer_error(s, err);
            if ((rc = check_status(s, err)) != FERRY_OK)
                return rc;
            *ret_n = 0;
            return FERRY_OK;
        }
        /* Waiting on the server: a cancel must not wait for it (a signal wakes the poll). */
        if (s->cancel != NULL && atomic_load(s->cancel))
            return ferry_err_set(err, FERRY_ECANCELLED, "the run was cancelled");
        if (s->paused) {
            CURLcode pc;
            s->paused = false;
            /* curl hands what it held back to the write callback here; when that refuses it
             * (max_bytes), the transfer is over, whatever curl_multi_perform() says later. */
            if ((pc = curl_easy_pause(s->easy, CURLPAUSE_CONT)) != CURLE_OK) {
                s->result = pc;
                s->done = true;
                fetch_info(s);
                continue;
            }
        }
        int running = 0, numfds = 0;
        if (curl_multi_perform(s->multi, &running) != CURLM_OK)
            return ferry_err_set(err, FERRY_EHTTP, "reading %s failed", s->redacted);
        if (running == 0) {
            CURLMsg *msg;
            int left;
            while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
                if (msg->msg == CURLMSG_DONE)
                    s->result = msg->data.result;
            }
            s->done = true;
            fetch_info(s);
            continue;
        }
        if (s->pending.len - s->pending_pos == 0 &&
            curl_multi_poll(s->multi, NULL, 0, 1000, &numfds) != CURLM_OK)
            return ferry_err_set(err, FERRY_EHTTP, "waiting for %s failed", s->redacted);
    }
}

int64_t ferry_http_stream_content_length(const ferry_http_stream *s)
{
    return s->content_length;
}

int64_t ferry_http_stream_bytes_received(const ferry_http_stream *s)
{
    curl_off_t n = 0;

    if (curl_easy_getinfo(s->easy, CURLINFO_SIZE_DOWNLOAD_T, &n) != CURLE_OK)
        return 0;
    return n;
}

const char *ferry_http_stream_content_type(const ferry_http_stream *s)
{
    return s->content_type;
}

void ferry_http_stream_close(ferry_http_stream *s)
{
    if (s == NULL)
        return;
    if (s->multi != NULL && s->easy != NULL)
        curl_multi_remove_handle(s->multi, s->easy);
    if (s->easy != NULL)
        curl_easy_cleanup(s->easy);
    if (s->multi != NULL)
        curl_multi_cleanup(s->multi);
    for (struct curl_slist *h = s->headers; h != NULL; h = h->next)
        sodium_memzero(h->data, strlen(h->data));
    curl_slist_free_all(s->headers);
    ferry_buf_done(&s->pending);
    free(s->content_type);
    free(s);
}
