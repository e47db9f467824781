/* rest_source.c - the REST source: a JSON API read page by page (docs/sources.md).
 *
 * Opening resolves the credentials (from the environment or a file, at every run, never
 * kept in the config), expands the {variables} of the URL, headers, query and body, and
 * fetches the first page, so an unreachable server or rejected credentials fail before the
 * target is touched. next() hands out the records of the current page and fetches the next
 * page when it runs out; prefetch() instead fetches every remaining page up front and spools
 * the records, already projected onto the sync's fields, to an unlinked temporary file that
 * next() then reads back. A run always prefetches, so a failure on page 40 leaves the target
 * exactly as it was and the database's write lock is never held while a server is slow.
 *
 * One page in memory at a time: its body (at most max_page_bytes, counted as it arrives)
 * and its jansson tree. The spool holds the rest on disk.
 *
 * Every request goes through fetch(): the host's rate limit (util/ratelimit.c, shared with
 * every other run against that host), then the request, then the status: 2xx is a page;
 * 401/403 fail at once ("credentials rejected"), except that with auth: oauth2 a 401 gets one
 * new access token and the request one more try (source/oauth2_auth.c); 429 waits for Retry-After
 * or X-RateLimit-Reset (pausing the whole host), or as for a retry when it names no time, and tries
 * again; 5xx and transport failures (timeouts, resets, stalls) are retried with doubling backoff
 * and jitter; 3xx and other 4xx fail. One budget bounds them all: a page is tried again at most
 * `retries` times, whatever the reasons. Failure messages name the page number and the URL without
 * user, password or query string. Credentials live only in the request's headers and are wiped when
 * the source is freed.
 *
 * Snapshots (source.h): a prefetched source saves a header of its state (counts, bytes,
 * cursor watermark, total) and its spool. Opened with replay, it reads the header back and
 * next() reads the spool as after a prefetch: no client, no credentials, no page.
 *
 * Pagination guards: a next link must stay on the first URL's scheme, host and port (or the
 * credentials would go elsewhere); a URL or cursor seen before, or a page identical to the
 * one before it, is a loop; max_pages bounds the rest. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "source/google_auth.h"
#include "source/oauth2_auth.h"
#include "source/source.h"
#include "util/backoff.h"
#include "util/http_fetch.h"
#include "util/http_headers.h"
#include "util/instant.h"
#include "util/json_path.h"
#include "util/json_scan.h"
#include "util/password.h"
#include "util/ratelimit.h"
#include "util/template.h"
#include "util/timeutil.h"
#include "util/url.h"

#define URL_MAX (16 * 1024)
#define BODY_MAX (1024 * 1024)
#define BACKOFF_CAP_MS 60000

/* A snapshot (ferry_source_snapshot()): this header, then the spool as prefetch() wrote it.
 * The header: the magic, the version (uint32), the values per record (uint32), then int64s:
 * the spool's bytes, its records, then the source's bytes, records, cursor_max_ms,
 * cursor_count, stated total and pages. Native byte order: the file is read again by the
 * Ferry that wrote it. */
#define SNAP_MAGIC "FERRYRS\n"
#define SNAP_MAGIC_LEN 8
#define SNAP_VERSION 1
#define SNAP_NINT 8
#define SNAP_HEAD_LEN (SNAP_MAGIC_LEN + 2 * sizeof(uint32_t) + SNAP_NINT * sizeof(int64_t))

typedef struct {
    uint64_t *slots; /* 0 = empty; hashes are never 0 */
    size_t cap, n;
} hash_set;

typedef struct {
    ferry_source base;
    const ferry_sync_spec *sync;
    const ferry_source_spec *spec;
    ferry_source_options opt;
    ferry_http_client *http;
    ferry_net_policy policy; /* where requests may connect (borrows the sync's spec) */
    char origin[512];        /* scheme://host:port of the first URL */
    char host[300];          /* host:port, the rate limit's key */
    /* The request: headers hold the credentials (wiped at free). */
    char **headers; /* "Name: value", NULL-terminated */
    size_t nheaders;
    char *user, *password; /* basic authentication, or NULL */
    char *sa_email;        /* google_service_account: the account's e-mail, or NULL */
    size_t oauth2_header;  /* oauth2: the bearer's index in headers */
    char *body;            /* expanded request body, or NULL */
    char *base_url;        /* expanded url with the expanded query, without paging parameters */
    /* Paging. */
    char *url;      /* the page being read (or just fetched) */
    char *next_url; /* the next page's URL, or NULL after the last page */
    long page_no;   /* pages fetched */
    int64_t offset; /* offset style: the next start index */
    long page_num;  /* page style: the next page number */
    hash_set seen;  /* URLs and cursors followed */
    bool inflight;  /* the request for next_url was started early (start_next()) */
    uint64_t last_body_hash;
    /* Paths. */
    ferry_json_path *records_path, *next_path, *total_path, *cursor_path;
    size_t nin;                   /* values per record: the fields', then the templates' inputs */
    ferry_json_path **field_path; /* per value; NULL for a field Ferry fills */
    const ferry_json_path **fast; /* fields read by scanning (no "*"): paths, in field order */
    size_t *fast_field;           /* the field of each fast path */
    size_t nfast;
    ferry_json_span *fast_span;
    bool *fast_found;
    ferry_buf scratch; /* a page's text values (next link, cursor, total) */
    /* The current page: its validated bytes, and the records array in them. */
    ferry_buf page;
    ferry_json_span records; /* valid when has_records */
    bool has_records;
    size_t rec_pos;   /* ferry_json_scan_next()'s position */
    size_t rec_count; /* records on the page */
    int64_t fetched;  /* records in the pages fetched so far */
    int64_t total;    /* stated by a page, or -1 */
    int64_t returned; /* records handed out by next() */
    int64_t estimate; /* pages a Link header's "last" names times the first page's records, or
                         -1: the estimate when no total is stated */
    long last_status;
    /* The spool. */
    FILE *spool;
    bool spooled;
    int64_t spooled_count;
    int64_t spool_start; /* where the records start in the spool: after a replayed header */
    unsigned char snap_head[SNAP_HEAD_LEN]; /* a snapshot's header, as last written */
    /* The record handed out. */
    ferry_buf *vals;
    const char **values;
    size_t *lens;
    char errbuf[512];
    char where[600]; /* the redacted URL of the page being read, for messages */
    /* Incremental: the cursor's path, and what {since} stands for (the since value, or the
     * epoch's start on a full run). */
    ferry_json_path *since_path;
    char since[FERRY_INSTANT_TEXT_MAX];
} rest_source;

/* ---- small helpers ---- */

/* A 64-bit hash of n bytes, eight at a time (pages are hashed whole to spot a repeat). Not
 * for adversaries: a collision only makes a page look repeated. */
static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL ^ n, w;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    h ^= h >> 32;
    return h != 0 ? h : 1;
}

/* Adds h; false when it was there already. */
static bool hash_set_add(hash_set *s, uint64_t h, bool *ret_oom)
{
    *ret_oom = false;
    if (s->n * 2 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint64_t *slots = calloc(cap, sizeof(*slots));
        if (slots == NULL) {
            *ret_oom = true;
            return false;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i] == 0)
                continue;
            size_t j = s->slots[i] & (cap - 1);
            while (slots[j] != 0)
                j = (j + 1) & (cap - 1);
            slots[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t j = h & (s->cap - 1);
    while (s->slots[j] != 0) {
        if (s->slots[j] == h)
            return false;
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = h;
    s->n++;
    return true;
}

static bool hash_set_has(const hash_set *s, uint64_t h)
{
    if (s->cap == 0)
        return false;
    for (size_t j = h & (s->cap - 1); s->slots[j] != 0; j = (j + 1) & (s->cap - 1))
        if (s->slots[j] == h)
            return true;
    return false;
}

static bool is_cancelled(const rest_source *s)
{
    return s->opt.cancel != NULL && atomic_load(s->opt.cancel);
}

/* Sleeps until the monotonic time end_mono, waking every 100 ms for a cancel. */
static ferry_rc sleep_until(rest_source *s, int64_t end_mono, ferry_err *err)
{
    for (;;) {
        int64_t left = end_mono - ferry_time_mono_ms();
        if (is_cancelled(s))
            return ferry_err_set(err, FERRY_ECANCELLED, "the run was cancelled");
        if (left <= 0)
            return FERRY_OK;
        if (left > 100)
            left = 100;
        struct timespec ts = {0, (long)left * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Tells the run's activity log (source.h) what happened: printf-style text. */
static void tell(rest_source *s, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tell(rest_source *s, const char *kind, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    if (s->opt.on_activity == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    s->opt.on_activity(s->opt.ctx, kind, text);
}

static void tell_wait(rest_source *s, int64_t until_ms, const char *what)
{
    if (until_ms > 0) {
        char at[FERRY_ISO_TIME_MAX];
        ferry_time_format_iso(until_ms, at);
        /* "2026-11-23T12:04:05.000Z" -> "12:04:05 UTC" */
        tell(s, "wait", "%s: waiting until %.8s UTC", what, strlen(at) >= 19 ? at + 11 : at);
    }
    if (s->opt.on_wait != NULL)
        s->opt.on_wait(s->opt.ctx, until_ms, what);
}

static ferry_rc add_header(rest_source *s, const char *name, const char *value, ferry_err *err)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);

    if (line == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "building the request");
    snprintf(line, n, "%s: %s", name, value);
    s->headers[s->nheaders++] = line;
    return FERRY_OK;
}

/* google_service_account: the key traded for a token (cached process-wide), sent as the
 * bearer. */
static ferry_rc add_google_token(rest_source *s, ferry_err *err)
{
    char *header = NULL;
    ferry_rc rc;

    rc = ferry_source_google_header(s->sync, &s->opt, &s->policy, &header, &s->sa_email, err);
    if (rc != FERRY_OK)
        return rc;
    s->headers[s->nheaders++] = header;
    return FERRY_OK;
}

/* oauth2: the client's access token (cached process-wide; a new one when renew), sent as the
 * bearer. */
static ferry_rc set_oauth2_token(rest_source *s, bool renew, ferry_err *err)
{
    char *header = NULL;
    ferry_rc rc;

    rc = ferry_source_oauth2_header(s->sync, &s->opt, &s->policy, renew, &header, err);
    if (rc != FERRY_OK)
        return rc;
    if (renew) {
        ferry_password_free(s->headers[s->oauth2_header]);
    } else {
        s->oauth2_header = s->nheaders++;
    }
    s->headers[s->oauth2_header] = header;
    return FERRY_OK;
}

/* Builds the request headers and credentials. */
static ferry_rc build_request(rest_source *s, ferry_err *err)
{
    const ferry_source_spec *spec = s->spec;
    const ferry_auth_spec *auth = &spec->auth;
    char *secret = NULL;
    ferry_buf value;
    ferry_rc rc = FERRY_OK;

    s->headers = calloc(spec->nheaders + 3, sizeof(*s->headers));
    if (s->headers == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "building the request");
    ferry_buf_init(&value, URL_MAX);
    for (size_t i = 0; i < spec->nheaders && rc == FERRY_OK; i++) {
        ferry_buf_reset(&value);
        rc =
            ferry_source_expand(s->sync, s->opt.tenant, spec->headers[i].value, false, &value, err);
        if (rc == FERRY_OK)
            rc = add_header(s, spec->headers[i].name, ferry_buf_str(&value), err);
    }
    if (rc == FERRY_OK && spec->body != NULL) {
        ferry_buf body;
        ferry_buf_init(&body, BODY_MAX);
        rc = ferry_source_expand(s->sync, s->opt.tenant, spec->body, false, &body, err);
        if (rc == FERRY_OK && (s->body = ferry_buf_take(&body)) == NULL)
            rc = ferry_err_set(err, FERRY_ENOMEM, "building the request");
        ferry_buf_done(&body);
        if (rc == FERRY_OK && spec->nheaders == 0)
            rc = add_header(s, "Content-Type", "application/json", err);
    }
    ferry_buf_done(&value);
    if (rc != FERRY_OK)
        return rc;
    switch (auth->type) {
    case FERRY_AUTH_BASIC:
        if ((rc = ferry_source_secret_read(s->sync, &s->opt, &auth->user, "user name", &s->user,
                                           err)) == FERRY_OK)
            rc = ferry_source_secret_read(s->sync, &s->opt, &auth->secret, "password", &s->password,
                                          err);
        return rc;
    case FERRY_AUTH_BEARER:
    case FERRY_AUTH_HEADER:
        rc = ferry_source_secret_read(s->sync, &s->opt, &auth->secret,
                                      auth->type == FERRY_AUTH_BEARER ? "token" : "API key",
                                      &secret, err);
        if (rc != FERRY_OK)
            return rc;
        if (strpbrk(secret, "\r\n") != NULL) {
            ferry_password_free(secret);
            return ferry_err_set(err, FERRY_ESOURCE, "the credential holds a line break");
        }
        if (auth->type == FERRY_AUTH_BEARER) {
            size_t n = strlen(secret) + 8;
            char *v = malloc(n);
            if (v == NULL) {
                ferry_password_free(secret);
                return ferry_err_set(err, FERRY_ENOMEM, "building the request");
            }
            snprintf(v, n, "Bearer %s", secret);
            rc = add_header(s, "Authorization", v, err);
            ferry_password_free(v);
        } else {
            rc = add_header(s, auth->header, secret, err);
        }
        ferry_password_free(secret);
        return rc;
    case FERRY_AUTH_GOOGLE_SA:
        return add_google_token(s, err);
    case FERRY_AUTH_OAUTH2:
        return set_oauth2_token(s, false, err);
    default:
        return FERRY_OK;
    }
}

/* scheme://host:port of url (lower case, default ports filled) into out; false when url
 * cannot be parsed. */
static bool url_origin(const char *url, char *out, size_t outlen, char *host, size_t hostlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *port = NULL;
    bool ok = false;

    if (u == NULL)
        return false;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        for (char *p = h; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        snprintf(out, outlen, "%s://%s:%s", scheme, h, port);
        if (host != NULL)
            snprintf(host, hostlen, "%s:%s", h, port);
        ok = true;
    }
    curl_free(scheme);
    curl_free(h);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

/* Resolves a next link (absolute or relative to the current page) and checks it stays on
 * the first URL's origin. *ret is owned by the caller. */
static ferry_rc accept_next(rest_source *s, const char *link, char **ret, ferry_err *err)
{
    CURLU *u = curl_url();
    char *abs = NULL, origin[512], shown[600];

    if (u == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "parsing a URL");
    if (curl_url_set(u, CURLUPART_URL, s->url, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_URL, link, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &abs, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        ferry_url_redact(link, shown, sizeof(shown));
        return ferry_err_set(err, FERRY_ESOURCE, "page %ld of %s links to '%s', which is not a URL",
                             s->page_no, s->where, shown);
    }
    curl_url_cleanup(u);
    if (!url_origin(abs, origin, sizeof(origin), NULL, 0) || strcmp(origin, s->origin) != 0) {
        ferry_url_redact(abs, shown, sizeof(shown));
        curl_free(abs);
        return ferry_err_set(err, FERRY_ESOURCE,
                             "page %ld of %s links to %s, on another host than the first page "
                             "(%s): Ferry does not follow it, since the credentials would go "
                             "there too",
                             s->page_no, s->where, shown, s->origin);
    }
    *ret = strdup(abs);
    curl_free(abs);
    return *ret != NULL ? FERRY_OK : ferry_err_set(err, FERRY_ENOMEM, "parsing a URL");
}

/* base_url plus name=value (encoded) pairs; NULL names end the list. *ret owned. */
static ferry_rc url_with(rest_source *s, const char *n1, const char *v1, const char *n2,
                         const char *v2, char **ret, ferry_err *err)
{
    ferry_buf b;
    const char *names[2] = {n1, n2}, *values[2] = {v1, v2};
    ferry_rc rc;

    ferry_buf_init(&b, URL_MAX);
    rc = ferry_buf_append(&b, s->base_url, strlen(s->base_url));
    for (int i = 0; i < 2 && rc == FERRY_OK && names[i] != NULL; i++) {
        const char *sep = strchr(ferry_buf_str(&b), '?') != NULL ? "&" : "?";
        rc = ferry_buf_append(&b, sep, 1);
        if (rc == FERRY_OK)
            rc = ferry_url_encode(names[i], strlen(names[i]), &b);
        if (rc == FERRY_OK)
            rc = ferry_buf_append(&b, "=", 1);
        if (rc == FERRY_OK)
            rc = ferry_url_encode(values[i], strlen(values[i]), &b);
    }
    if (rc != FERRY_OK || (*ret = ferry_buf_take(&b)) == NULL) {
        ferry_buf_done(&b);
        return ferry_err_set(err, FERRY_ELIMIT, "building the URL of the next page: too long");
    }
    ferry_buf_done(&b);
    return FERRY_OK;
}

/* Appends name=value (both encoded) to the URL in b, after '?' or '&'. */
static ferry_rc append_param(ferry_buf *b, const char *name, const char *value)
{
    const char *sep = strchr(ferry_buf_str(b), '?') != NULL ? "&" : "?";
    ferry_rc rc = ferry_buf_append(b, sep, 1);

    if (rc == FERRY_OK)
        rc = ferry_url_encode(name, strlen(name), b);
    if (rc == FERRY_OK)
        rc = ferry_buf_append(b, "=", 1);
    if (rc == FERRY_OK)
        rc = ferry_url_encode(value, strlen(value), b);
    return rc;
}

/* Whether the query of url has a parameter named name (encoded as url_with() writes it). */
static bool has_param(const char *url, const char *name)
{
    const char *q = strchr(url, '?');
    ferry_buf enc;
    bool found = false;

    if (q == NULL)
        return false;
    ferry_buf_init(&enc, 1024);
    if (ferry_url_encode(name, strlen(name), &enc) == FERRY_OK) {
        for (const char *p = q + 1; *p != '\0' && *p != '#' && !found;) {
            size_t n = strcspn(p, "&#");
            found = (n > enc.len && strncmp(p, ferry_buf_str(&enc), enc.len) == 0 &&
                     p[enc.len] == '=') ||
                    (n == enc.len && strncmp(p, ferry_buf_str(&enc), enc.len) == 0);
            p += n;
            if (*p == '&')
                p++;
        }
    }
    ferry_buf_done(&enc);
    return found;
}

/* A next link an API wrote itself (next_link, link_header) that dropped the since
 * parameter gets it again: every page of an incremental run asks for the same window. */
static ferry_rc keep_since(rest_source *s, char **url, ferry_err *err)
{
    const char *param = s->spec->incremental.param;
    ferry_buf b;
    ferry_rc rc;

    if (*url == NULL || s->opt.since == NULL || param == NULL || has_param(*url, param))
        return FERRY_OK;
    ferry_buf_init(&b, URL_MAX);
    rc = ferry_buf_append(&b, *url, strlen(*url));
    if (rc == FERRY_OK)
        rc = append_param(&b, param, s->opt.since);
    if (rc == FERRY_OK) {
        char *with = ferry_buf_take(&b);
        if (with == NULL)
            rc = FERRY_ENOMEM;
        else {
            free(*url);
            *url = with;
        }
    }
    ferry_buf_done(&b);
    return rc == FERRY_OK
               ? FERRY_OK
               : ferry_err_set(err, FERRY_ELIMIT, "building the URL of the next page: too long");
}

/* The URL of the first page: the expanded url, the query, and the first paging parameters. */
static ferry_rc first_url(rest_source *s, ferry_err *err)
{
    const ferry_source_spec *spec = s->spec;
    const ferry_pagination_spec *p = &spec->pagination;
    char a[32], b[32];
    ferry_buf url;
    ferry_rc rc;

    ferry_buf_init(&url, URL_MAX);
    rc = ferry_source_expand_since(s->sync, s->opt.tenant, s->since, spec->url, false, &url, err);
    for (size_t i = 0; i < spec->nquery && rc == FERRY_OK; i++) {
        const char *sep = strchr(ferry_buf_str(&url), '?') != NULL ? "&" : "?";
        rc = ferry_buf_append(&url, sep, 1);
        if (rc == FERRY_OK)
            rc = ferry_url_encode(spec->query[i].name, strlen(spec->query[i].name), &url);
        if (rc == FERRY_OK)
            rc = ferry_buf_append(&url, "=", 1);
        if (rc == FERRY_OK)
            rc = ferry_source_expand_since(s->sync, s->opt.tenant, s->since, spec->query[i].value,
                                           true, &url, err);
    }
    if (rc == FERRY_OK && s->opt.since != NULL && spec->incremental.param != NULL)
        rc = append_param(&url, spec->incremental.param, s->opt.since);
    if (rc != FERRY_OK) {
        ferry_buf_done(&url);
        return ferry_err_set(err, FERRY_ELIMIT, "building the source URL");
    }
    s->base_url = ferry_buf_take(&url);
    ferry_buf_done(&url);
    if (s->base_url == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "building the source URL");
    if (!url_origin(s->base_url, s->origin, sizeof(s->origin), s->host, sizeof(s->host))) {
        char shown[600];
        ferry_url_redact(s->base_url, shown, sizeof(shown));
        return ferry_err_set(err, FERRY_ESOURCE, "'%s' is not a valid URL", shown);
    }
    switch (p->style) {
    case FERRY_PAGE_OFFSET:
        s->offset = p->start;
        snprintf(a, sizeof(a), "%ld", p->start);
        snprintf(b, sizeof(b), "%ld", p->limit);
        return url_with(s, p->offset_param, a, p->limit_param, b, &s->next_url, err);
    case FERRY_PAGE_PAGE:
        s->page_num = p->start;
        snprintf(a, sizeof(a), "%ld", p->start);
        snprintf(b, sizeof(b), "%ld", p->size);
        return url_with(s, p->page_param, a, p->size_param, b, &s->next_url, err);
    default:
        s->next_url = strdup(s->base_url);
        return s->next_url != NULL ? FERRY_OK
                                   : ferry_err_set(err, FERRY_ENOMEM, "building the source URL");
    }
}

/* ---- fetching ---- */

static void on_rate_wait(void *ctx, int64_t until_ms)
{
    tell_wait(ctx, until_ms, "rate limited");
}

/* Waits before retry n (1-based): retry_backoff doubling, capped, plus up to 25% jitter. */
static ferry_rc backoff(rest_source *s, int n, ferry_err *err)
{
    unsigned seed = (unsigned)(ferry_time_mono_ms() ^ ((int64_t)s->page_no << 16));
    int64_t wait = ferry_backoff_ms(s->spec->retry_backoff_ms, BACKOFF_CAP_MS, n, &seed);
    ferry_rc rc;

    if (wait > 1000)
        tell_wait(s, ferry_time_now_ms() + wait, "retrying");
    rc = sleep_until(s, ferry_time_mono_ms() + wait, err);
    if (wait > 1000)
        tell_wait(s, 0, NULL);
    return rc;
}

/* The time a 429 asks to wait until (wall clock), or 0 when it does not say. */
static int64_t retry_at(const ferry_http_response *resp)
{
    const char *ra = ferry_http_response_header(resp, "Retry-After");
    const char *reset = ferry_http_response_header(resp, "X-RateLimit-Reset");
    int64_t now = ferry_time_now_ms(), until = 0;

    if (ra != NULL && ferry_retry_after_parse(ra, now, &until))
        return until;
    if (reset != NULL && ferry_ratelimit_reset_parse(reset, now, &until))
        return until;
    return 0;
}

/* The request for url (everything it points to lives in s). */
static ferry_http_request make_request(const rest_source *s, const char *url)
{
    const ferry_source_spec *spec = s->spec;
    ferry_http_request req = {
        .method = spec->method,
        .url = url,
        .headers = (const char *const *)s->headers,
        .body = s->body,
        .user = s->user,
        .password = s->password,
        .timeout_ms = spec->timeout_ms,
        .low_speed_time_s = (spec->stall_timeout_ms + 999) / 1000,
        .max_bytes = spec->max_page_bytes,
        .cancel = s->opt.cancel,
        .policy = &s->policy,
    };
    return req;
}

/* Sends the request for the next page now, while this page's records are read, so the
 * server works on it meanwhile (its answer waits in the socket). Failures are left for
 * fetch() to meet again and report; a URL already followed is left for the loop check. */
static void start_next(rest_source *s)
{
    ferry_http_request req;
    ferry_err ignored;

    if (s->next_url == NULL || s->inflight ||
        hash_set_has(&s->seen, hash_bytes(s->next_url, strlen(s->next_url))))
        return;
    ferry_err_clear(&ignored);
    if (ferry_ratelimit_take(s->host, s->spec->rate_per_s, s->opt.cancel, on_rate_wait, s,
                             &ignored) != FERRY_OK)
        return;
    tell_wait(s, 0, NULL);
    req = make_request(s, s->next_url);
    s->inflight = ferry_http_client_start(s->http, &req, &ignored) == FERRY_OK;
}

/* Fetches url as page s->page_no + 1 into *resp (2xx only). */
static ferry_rc fetch(rest_source *s, const char *url, ferry_http_response *resp, ferry_err *err)
{
    const ferry_source_spec *spec = s->spec;
    ferry_http_request req = make_request(s, url);
    long page = s->page_no + 1;
    int retries = 0;      /* one budget, spec->page_retries, for every reason to try again */
    bool renewed = false; /* oauth2: a 401 gets one new token, and the request one more try */
    ferry_rc rc;

    ferry_url_redact(url, s->where, sizeof(s->where));
    for (;;) {
        ferry_err attempt;

        ferry_err_clear(&attempt);
        if (s->inflight) { /* started early by start_next(), its token taken then */
            s->inflight = false;
            rc = ferry_http_client_finish(s->http, resp, &attempt);
        } else {
            rc = ferry_ratelimit_take(s->host, spec->rate_per_s, s->opt.cancel, on_rate_wait, s,
                                      &attempt);
            tell_wait(s, 0, NULL);
            if (rc == FERRY_OK)
                rc = ferry_http_client_fetch(s->http, &req, resp, &attempt);
        }
        if (rc == FERRY_OK) {
            long st = resp->status;
            s->last_status = st;
            if (s->opt.ret_status != NULL)
                *s->opt.ret_status = st;
            if (st >= 200 && st < 300) {
                if (s->page_no == 0 && retries == 0)
                    tell(s, "connected", "connected to %s (HTTP %ld)", s->host, st);
                return FERRY_OK;
            }
            if (s->sa_email != NULL && (st == 403 || st == 404)) {
                ferry_http_response_done(resp);
                return ferry_err_set(err, FERRY_EHTTP,
                                     "%s answered HTTP %ld on page %ld to the service account "
                                     "%s: share it with %s (Share, as a viewer)",
                                     s->where, st, page, s->sa_email, s->sa_email);
            }
            if (st == 401 && spec->auth.type == FERRY_AUTH_OAUTH2 && !renewed) {
                /* The token expired early or was revoked: forget it and ask once more. */
                ferry_http_response_done(resp);
                renewed = true;
                if ((rc = set_oauth2_token(s, true, err)) != FERRY_OK)
                    return rc;
                continue;
            }
            if (st == 401 && renewed) {
                ferry_http_response_done(resp);
                return ferry_err_set(err, FERRY_EHTTP,
                                     "credentials rejected: %s answered HTTP 401 on page %ld to "
                                     "a new access token too (check the client's scope and its "
                                     "access to this API)",
                                     s->where, page);
            }
            if (st == 401 || st == 403) {
                ferry_http_response_done(resp);
                return ferry_err_set(err, FERRY_EHTTP,
                                     "credentials rejected: %s answered HTTP %ld on page %ld "
                                     "(check the source's auth: and its secret)",
                                     s->where, st, page);
            }
            if (st == 429 && retries < spec->page_retries) {
                int64_t until = retry_at(resp), now = ferry_time_now_ms();
                ferry_http_response_done(resp);
                retries++;
                tell(s, "retry", "page %ld: HTTP 429 (rate limited), retry %d of %d", page, retries,
                     spec->page_retries);
                if (until == 0) {
                    if ((rc = backoff(s, retries, err)) != FERRY_OK)
                        return rc;
                    continue;
                }
                if (until - now > spec->max_wait_ms) {
                    char wait[32];
                    ferry_time_format_duration(until - now, wait, sizeof(wait));
                    return ferry_err_set(err, FERRY_EHTTP,
                                         "%s is rate limiting (HTTP 429 on page %ld) and asks to "
                                         "wait %s, longer than max_wait",
                                         s->where, page, wait);
                }
                ferry_ratelimit_pause(s->host, until);
                continue; /* the next take waits for the pause, and says so */
            }
            if (st >= 500 && st < 600 && retries < spec->page_retries) {
                ferry_http_response_done(resp);
                tell(s, "retry", "page %ld: HTTP %ld, retry %d of %d", page, st, retries + 1,
                     spec->page_retries);
                if ((rc = backoff(s, ++retries, err)) != FERRY_OK)
                    return rc;
                continue;
            }
            ferry_http_response_done(resp);
            if (st == 429)
                return ferry_err_set(err, FERRY_EHTTP,
                                     "%s is still rate limiting (HTTP 429 on page %ld) after %d "
                                     "retries (the source's retries:)",
                                     s->where, page, retries);
            ferry_rc code = ferry_err_set(
                err, FERRY_EHTTP, "%s answered HTTP %ld on page %ld%s%s", s->where, st, page,
                st >= 300 && st < 400 ? " (a redirect: Ferry does not follow redirects of an API, "
                                        "put the final URL in the config)"
                : st == 404           ? " (not found: check the URL)"
                                      : "",
                retries > 0 ? " (after retries)" : "");
            if (st >= 500 && err != NULL)
                err->transient = true;
            return code;
        }
        if (rc == FERRY_ECANCELLED)
            return ferry_err_set(err, FERRY_ECANCELLED, "the run was cancelled");
        if (attempt.transient && retries < spec->page_retries) {
            tell(s, "retry", "page %ld: %s, retry %d of %d", page, attempt.msg, retries + 1,
                 spec->page_retries);
            if ((rc = backoff(s, ++retries, err)) != FERRY_OK)
                return rc;
            continue;
        }
        rc = ferry_err_set(err, attempt.code, "page %ld: %s%s", page, attempt.msg,
                           retries > 0 ? " (after retries)" : "");
        if (err != NULL)
            err->transient = attempt.transient;
        return rc;
    }
}

static const char *kind_name(ferry_json_kind k)
{
    switch (k) {
    case FERRY_JSON_OBJECT:
        return "an object";
    case FERRY_JSON_ARRAY:
        return "an array";
    case FERRY_JSON_STRING:
        return "a string";
    case FERRY_JSON_NULL:
        return "null";
    case FERRY_JSON_TRUE:
    case FERRY_JSON_FALSE:
        return "a boolean";
    default:
        return "a number";
    }
}

/* The text of the page's scalar at path, in s->scratch; NULL when absent, null or not a
 * scalar (*ret_kind says which kind it was; FERRY_JSON_NULL when absent). */
static const char *page_text(rest_source *s, const ferry_json_path *path, ferry_json_kind *ret_kind)
{
    ferry_json_span root = {0, s->page.len}, v;
    bool found = false;

    *ret_kind = FERRY_JSON_NULL;
    if (path == NULL || !ferry_json_scan_find(s->page.data, root, path, &v))
        return NULL;
    *ret_kind = ferry_json_scan_kind(s->page.data, v);
    ferry_buf_reset(&s->scratch);
    if (*ret_kind == FERRY_JSON_OBJECT || *ret_kind == FERRY_JSON_ARRAY ||
        ferry_json_scan_text(s->page.data, v, &s->scratch, &found) != FERRY_OK || !found)
        return NULL;
    return ferry_buf_str(&s->scratch);
}

static bool looks_like_html(const ferry_http_response *resp)
{
    const char *p = ferry_buf_str(&resp->body);

    if (resp->content_type != NULL && strncasecmp(resp->content_type, "text/html", 9) == 0)
        return true;
    while (*p != '\0' && isspace((unsigned char)*p))
        p++;
    return *p == '<';
}

/* Works out the next page's URL from the page just parsed (records: its record count). */
static ferry_rc find_next(rest_source *s, const ferry_http_response *resp, size_t records,
                          ferry_err *err)
{
    const ferry_pagination_spec *p = &s->spec->pagination;
    const char *link = NULL, *text;
    char *next = NULL, num[32], size[32];
    ferry_json_kind kind;
    ferry_rc rc = FERRY_OK;

    switch (p->style) {
    case FERRY_PAGE_NONE:
        return FERRY_OK;
    case FERRY_PAGE_NEXT_LINK:
        text = page_text(s, s->next_path, &kind);
        if (kind == FERRY_JSON_STRING && text != NULL && text[0] != '\0') {
            rc = accept_next(s, text, &next, err);
            if (rc == FERRY_OK)
                rc = keep_since(s, &next, err);
        } else if (kind != FERRY_JSON_NULL && kind != FERRY_JSON_STRING)
            rc = ferry_err_set(err, FERRY_ESOURCE, "page %ld of %s: the next link at %s is %s",
                               s->page_no, s->where, p->next, kind_name(kind));
        break;
    case FERRY_PAGE_LINK_HEADER:
        link = ferry_http_response_header(resp, "Link");
        if (link != NULL) {
            char *target = ferry_link_next(link, s->url);
            if (target != NULL)
                rc = accept_next(s, target, &next, err);
            free(target);
        }
        if (rc == FERRY_OK)
            rc = keep_since(s, &next, err);
        break;
    case FERRY_PAGE_OFFSET:
        s->offset += (int64_t)records;
        if (records == 0 || (s->total >= 0 && s->offset >= s->total) ||
            (s->total < 0 && (long)records < p->limit))
            break;
        snprintf(num, sizeof(num), "%lld", (long long)s->offset);
        snprintf(size, sizeof(size), "%ld", p->limit);
        rc = url_with(s, p->offset_param, num, p->limit_param, size, &next, err);
        break;
    case FERRY_PAGE_CURSOR: {
        const char *token = NULL;
        bool oom;

        text = page_text(s, s->cursor_path, &kind);
        if ((kind == FERRY_JSON_STRING || kind == FERRY_JSON_NUMBER) && text != NULL &&
            text[0] != '\0')
            token = text;
        if (token != NULL) {
            if (!hash_set_add(&s->seen, hash_bytes(token, strlen(token)) ^ 0x5bd1e995, &oom))
                return oom ? ferry_err_set(err, FERRY_ENOMEM, "remembering the pages")
                           : ferry_err_set(err, FERRY_ESOURCE,
                                           "pagination loop: page %ld of %s gives a cursor "
                                           "(%s) already followed",
                                           s->page_no, s->where, p->cursor);
            rc = url_with(s, p->cursor_param, token, NULL, NULL, &next, err);
        }
        break;
    }
    case FERRY_PAGE_PAGE:
        if (records == 0 || (p->size > 0 && (long)records < p->size) ||
            (s->total >= 0 && s->fetched >= s->total))
            break;
        s->page_num++;
        snprintf(num, sizeof(num), "%ld", s->page_num);
        snprintf(size, sizeof(size), "%ld", p->size);
        rc = url_with(s, p->page_param, num, p->size_param, size, &next, err);
        break;
    }
    if (rc != FERRY_OK) {
        free(next);
        return rc;
    }
    if (next != NULL && s->page_no >= p->max_pages) {
        free(next);
        return ferry_err_set(err, FERRY_ELIMIT,
                             "%s has more than max_pages (%ld) pages: raise pagination.max_pages "
                             "if that is right",
                             s->where, p->max_pages);
    }
    s->next_url = next;
    return FERRY_OK;
}

/* The number a page link gives its page parameter (name=N in its query), or -1. */
static long page_number(const char *url, const char *name)
{
    const char *q = strchr(url, '?');
    size_t n = strlen(name);

    for (q = q != NULL ? q + 1 : NULL; q != NULL && *q != '\0' && *q != '#';) {
        if (strncmp(q, name, n) == 0 && q[n] == '=') {
            char *end;
            long v = strtol(q + n + 1, &end, 10);
            return end != q + n + 1 && v > 0 ? v : -1;
        }
        q = strchr(q, '&');
        q = q != NULL ? q + 1 : NULL;
    }
    return -1;
}

/* A first page that states no total but links its last page (Link: <...?page=50>;
 * rel="last"): about that many pages of the first page's size. */
static void estimate_from_last(rest_source *s, const ferry_http_response *resp)
{
    const ferry_pagination_spec *p = &s->spec->pagination;
    const char *link = ferry_http_response_header(resp, "Link");
    char *last;
    long pages;

    if (p->style != FERRY_PAGE_LINK_HEADER || s->page_no != 1 || s->total >= 0 || link == NULL ||
        s->rec_count == 0 || (last = ferry_link_rel(link, "last", s->url)) == NULL)
        return;
    pages = page_number(last, p->page_param != NULL ? p->page_param : "page");
    free(last);
    if (pages > 0)
        s->estimate = (int64_t)pages * (int64_t)s->rec_count;
}

/* Fetches and parses the page at s->next_url; s->records holds its records. */
static ferry_rc fetch_page(rest_source *s, ferry_err *err)
{
    ferry_http_response resp;
    ferry_json_span root;
    ferry_err why;
    ferry_json_kind kind;
    const char *text;
    uint64_t body_hash;
    bool oom = false;
    ferry_rc rc;

    memset(&resp, 0, sizeof(resp));
    if (!hash_set_add(&s->seen, hash_bytes(s->next_url, strlen(s->next_url)), &oom)) {
        char shown[600];
        ferry_url_redact(s->next_url, shown, sizeof(shown));
        return oom ? ferry_err_set(err, FERRY_ENOMEM, "remembering the pages")
                   : ferry_err_set(err, FERRY_ESOURCE,
                                   "pagination loop: page %ld of %s links back to a page "
                                   "already fetched (%s)",
                                   s->page_no, s->where, shown);
    }
    free(s->url);
    s->url = s->next_url;
    s->next_url = NULL;
    s->has_records = false;
    s->rec_pos = 0;
    s->rec_count = 0;
    if ((rc = fetch(s, s->url, &resp, err)) != FERRY_OK)
        return rc;
    s->page_no++;
    if (looks_like_html(&resp)) {
        rc = ferry_err_set(err, FERRY_ESOURCE,
                           "%s answered page %ld with an HTML page, not JSON (HTTP %ld): is the "
                           "URL an API endpoint, and are the credentials accepted?",
                           s->where, s->page_no, resp.status);
        goto out;
    }
    body_hash = hash_bytes(resp.body.data, resp.body.len);
    if (s->page_no > 1 && body_hash == s->last_body_hash && resp.body.len > 2) {
        rc = ferry_err_set(err, FERRY_ESOURCE,
                           "pagination loop: page %ld of %s is the same as page %ld (does the "
                           "API take the paging parameters configured?)",
                           s->page_no, s->where, s->page_no - 1);
        goto out;
    }
    s->last_body_hash = body_hash;
    /* The page's bytes are kept (the response gives its buffer up) and read in place. */
    ferry_buf_done(&s->page);
    s->page = resp.body;
    memset(&resp.body, 0, sizeof(resp.body));
    ferry_err_clear(&why);
    if (ferry_json_validate(s->page.data, s->page.len, &root, &why) != FERRY_OK) {
        rc = ferry_err_set(err, FERRY_ESOURCE, "page %ld of %s is not valid JSON: %s", s->page_no,
                           s->where, why.msg);
        goto out;
    }
    if (!ferry_json_scan_find(s->page.data, root, s->records_path, &s->records) ||
        ferry_json_scan_kind(s->page.data, s->records) != FERRY_JSON_ARRAY) {
        const char *at = s->spec->records[0] != '\0' ? s->spec->records : "the top";
        bool found = ferry_json_scan_find(s->page.data, root, s->records_path, &s->records);
        rc = ferry_err_set(
            err, FERRY_ESOURCE, "page %ld of %s has %s at %s (records:), not an array of records",
            s->page_no, s->where,
            found ? kind_name(ferry_json_scan_kind(s->page.data, s->records)) : "nothing", at);
        goto out;
    }
    s->has_records = true;
    s->rec_count = ferry_json_scan_count(s->page.data, s->records);
    text = page_text(s, s->total_path, &kind);
    if (text != NULL && (kind == FERRY_JSON_NUMBER || kind == FERRY_JSON_STRING)) {
        char *end;
        long long t = strtoll(text, &end, 10);
        if (end != text && t >= 0)
            s->total = t;
    }
    s->fetched += (int64_t)s->rec_count;
    s->base.records = s->fetched;
    s->base.bytes += (int64_t)s->page.len;
    estimate_from_last(s, &resp);
    tell(s, "page", "page %ld: %zu record%s, %zu bytes", s->page_no, s->rec_count,
         s->rec_count == 1 ? "" : "s", s->page.len);
    rc = find_next(s, &resp, s->rec_count, err);
out:
    ferry_http_response_done(&resp);
    return rc;
}

/* ---- records ---- */

/* Appends the text of field f of rec (a jansson tree) to s->vals[f]; false when it does not
 * fit. */
static bool tree_text(rest_source *s, size_t f, json_t *rec, bool *found)
{
    const char *join = f < s->sync->nfields ? s->sync->fields[f].join : NULL;

    return ferry_json_path_text(s->field_path[f], rec, join, &s->vals[f], found) == FERRY_OK;
}

/* Projects the record at span onto the fields (values in s->vals). Scalars at plain paths
 * are read straight from the page's bytes; arrays, objects and "*" paths from a jansson tree
 * of the record alone, built only for a record that needs one. */
static void project(rest_source *s, ferry_json_span span, ferry_source_record *out)
{
    const ferry_sync_spec *sync = s->sync;
    const char *text = s->page.data;
    json_t *tree = NULL;
    bool tree_tried = false;
    size_t k = 0;

    memset(out, 0, sizeof(*out));
    out->nvalues = s->nin;
    out->row = (long)(s->returned + 1);
    if (ferry_json_scan_kind(text, span) != FERRY_JSON_OBJECT) {
        snprintf(s->errbuf, sizeof(s->errbuf), "is %s, not a JSON object",
                 kind_name(ferry_json_scan_kind(text, span)));
        out->error = s->errbuf;
        return;
    }
    ferry_json_scan_find_many(text, span, s->fast, s->nfast, s->fast_span, s->fast_found);
    for (size_t f = 0; f < s->nin; f++) {
        bool found = false, ok = true, scanned = false;

        ferry_buf_reset(&s->vals[f]);
        s->values[f] = NULL;
        s->lens[f] = 0;
        if (s->field_path[f] == NULL)
            continue;
        if (k < s->nfast && s->fast_field[k] == f) {
            bool there = s->fast_found[k];
            ferry_json_kind kind = there ? ferry_json_scan_kind(text, s->fast_span[k]) : 0;
            if (!there)
                scanned = true; /* absent: no value */
            else if (kind != FERRY_JSON_ARRAY && kind != FERRY_JSON_OBJECT) {
                ok = ferry_json_scan_text(text, s->fast_span[k], &s->vals[f], &found) == FERRY_OK;
                scanned = true;
            }
            k++;
        }
        if (!scanned) {
            if (!tree_tried) {
                json_error_t jerr;
                tree_tried = true;
                tree = json_loadb(text + span.start, span.end - span.start, JSON_DECODE_ANY, &jerr);
            }
            if (tree != NULL)
                ok = tree_text(s, f, tree, &found);
        }
        if (!ok) {
            snprintf(s->errbuf, sizeof(s->errbuf), "%s is longer than %zu bytes",
                     f < sync->nfields ? sync->fields[f].name : ferry_sync_input_pointer(sync, f),
                     sync->source.max_field_bytes);
            out->error = s->errbuf;
            json_decref(tree);
            return;
        }
        if (found) {
            s->values[f] = ferry_buf_str(&s->vals[f]);
            s->lens[f] = s->vals[f].len;
        }
    }
    json_decref(tree);
    out->value = s->values;
    out->len = s->lens;
}

/* The next record of the pages, fetching pages as needed; FERRY_DONE after the last. */
static ferry_rc next_from_pages(rest_source *s, ferry_json_span *ret, ferry_err *err)
{
    ferry_rc rc;

    for (;;) {
        if (s->has_records && ferry_json_scan_next(s->page.data, s->records, &s->rec_pos, ret))
            return FERRY_OK;
        if (s->next_url == NULL)
            return FERRY_DONE;
        if ((rc = fetch_page(s, err)) != FERRY_OK)
            return rc;
    }
}

/* Spool records: row (int64), then error length (uint32, UINT32_MAX for none) and bytes,
 * then per field the length (UINT32_MAX for no value) and bytes. */
static bool spool_write(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n;
}

static bool spool_put(FILE *f, const ferry_source_record *r)
{
    int64_t row = r->row;
    uint32_t none = UINT32_MAX, len;
    bool ok = spool_write(f, &row, sizeof(row));

    if (r->error != NULL) {
        len = (uint32_t)strlen(r->error);
        return ok && spool_write(f, &len, sizeof(len)) && spool_write(f, r->error, len);
    }
    ok = ok && spool_write(f, &none, sizeof(none));
    for (size_t i = 0; i < r->nvalues && ok; i++) {
        if (r->value[i] == NULL) {
            ok = spool_write(f, &none, sizeof(none));
            continue;
        }
        len = (uint32_t)r->len[i];
        ok = spool_write(f, &len, sizeof(len)) && spool_write(f, r->value[i], len);
    }
    return ok;
}

/* Reads len bytes into b (reset first) as a C string. */
static bool spool_read_into(FILE *f, ferry_buf *b, uint32_t len)
{
    char chunk[4096];

    ferry_buf_reset(b);
    while (len > 0) {
        size_t n = len < sizeof(chunk) ? len : sizeof(chunk);
        if (fread(chunk, 1, n, f) != n || ferry_buf_append(b, chunk, n) != FERRY_OK)
            return false;
        len -= (uint32_t)n;
    }
    return true;
}

static ferry_rc spool_get(rest_source *s, ferry_source_record *out, ferry_err *err)
{
    int64_t row;
    uint32_t len;

    memset(out, 0, sizeof(*out));
    out->nvalues = s->nin;
    if (fread(&row, sizeof(row), 1, s->spool) != 1)
        return feof(s->spool) ? FERRY_DONE
                              : ferry_err_set(err, FERRY_EIO, "reading back the fetched pages");
    out->row = (long)row;
    if (fread(&len, sizeof(len), 1, s->spool) != 1)
        goto broken;
    if (len != UINT32_MAX) {
        char text[sizeof(s->errbuf)];
        if (len >= sizeof(text) || fread(text, 1, len, s->spool) != len)
            goto broken;
        text[len] = '\0';
        memcpy(s->errbuf, text, len + 1);
        out->error = s->errbuf;
        return FERRY_OK;
    }
    for (size_t f = 0; f < s->nin; f++) {
        if (fread(&len, sizeof(len), 1, s->spool) != 1)
            goto broken;
        s->values[f] = NULL;
        s->lens[f] = 0;
        if (len == UINT32_MAX)
            continue;
        if (!spool_read_into(s->spool, &s->vals[f], len))
            goto broken;
        s->values[f] = ferry_buf_str(&s->vals[f]);
        s->lens[f] = len;
    }
    out->value = s->values;
    out->len = s->lens;
    return FERRY_OK;
broken:
    return ferry_err_set(err, FERRY_EIO, "reading back the fetched pages: the spool is damaged");
}

static ferry_rc rest_next(ferry_source *base, ferry_source_record *out, ferry_err *err)
{
    rest_source *s = (rest_source *)base;
    ferry_json_span rec;
    ferry_rc rc;

    if (s->spooled)
        rc = spool_get(s, out, err);
    else if ((rc = next_from_pages(s, &rec, err)) == FERRY_OK)
        project(s, rec, out);
    if (rc == FERRY_OK)
        s->returned++;
    return rc;
}

static void rest_progress(ferry_source *base, uint64_t *ret_done, uint64_t *ret_total)
{
    rest_source *s = (rest_source *)base;

    if (s->spooled) {
        *ret_done = (uint64_t)s->returned;
        *ret_total = (uint64_t)s->spooled_count;
        return;
    }
    *ret_done = (uint64_t)s->fetched;
    *ret_total = 0;
    s->base.total_estimated = false;
    if (s->total >= 0) {
        *ret_total = (uint64_t)s->total;
    } else if (s->estimate > 0) {
        *ret_total = (uint64_t)s->estimate;
        s->base.total_estimated = true;
    } else if (s->opt.estimate > 0) {
        *ret_total = (uint64_t)s->opt.estimate;
        s->base.total_estimated = true;
    }
    if (*ret_total > 0 && *ret_done > *ret_total)
        *ret_total = *ret_done;
}

/* Reads the cursor of the record at span (record number row) into the source's highest
 * cursor. A record without one is left out of the watermark; one that is not an instant
 * fails the run. */
static ferry_rc note_cursor(rest_source *s, ferry_json_span span, long row, ferry_err *err)
{
    const char *text = s->page.data;
    ferry_json_span at;
    bool found = false;
    int64_t ms;

    if (ferry_json_scan_kind(text, span) != FERRY_JSON_OBJECT ||
        !ferry_json_scan_find(text, span, s->since_path, &at))
        return FERRY_OK;
    if (ferry_json_scan_kind(text, at) == FERRY_JSON_NULL)
        return FERRY_OK;
    ferry_buf_reset(&s->scratch);
    if (ferry_json_scan_kind(text, at) == FERRY_JSON_STRING ||
        ferry_json_scan_kind(text, at) == FERRY_JSON_NUMBER) {
        if (ferry_json_scan_text(text, at, &s->scratch, &found) != FERRY_OK)
            found = false;
    }
    if (!found || !ferry_instant_parse(ferry_buf_str(&s->scratch), s->scratch.len, &ms)) {
        size_t n = at.end - at.start;
        return ferry_err_set(err, FERRY_ESOURCE,
                             "record %ld: the cursor %s (incremental.cursor) is '%.*s', not a "
                             "date, a date-time or a number of seconds",
                             row, s->spec->incremental.cursor, n > 80 ? 80 : (int)n,
                             text + at.start);
    }
    if (s->base.cursor_count == 0 || ms > s->base.cursor_max_ms)
        s->base.cursor_max_ms = ms;
    s->base.cursor_count++;
    return FERRY_OK;
}

static ferry_rc rest_prefetch(ferry_source *base, bool (*progress)(void *, uint64_t, uint64_t),
                              void *ctx, ferry_err *err)
{
    rest_source *s = (rest_source *)base;
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    ferry_source_record rec;
    ferry_json_span item;
    ferry_rc rc;
    int fd;

    if (s->spooled)
        return FERRY_OK;
    snprintf(path, sizeof(path), "%s/ferry-pages-XXXXXX",
             tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp");
    if ((fd = mkstemp(path)) < 0)
        return ferry_err_set_errno(err, FERRY_EIO, "creating a temporary file for the pages");
    unlink(path);
    if ((s->spool = fdopen(fd, "w+b")) == NULL) {
        close(fd);
        return ferry_err_set_errno(err, FERRY_EIO, "creating a temporary file for the pages");
    }
    setvbuf(s->spool, NULL, _IOFBF, 256 * 1024);
    if (progress != NULL) { /* the first page is in: its total (or the estimate) is known */
        uint64_t done, total;
        rest_progress(base, &done, &total);
        if (!progress(ctx, done, total))
            return ferry_err_set(err, FERRY_ECANCELLED, "the download was stopped");
    }
    for (;;) {
        long page = s->page_no;
        rc = next_from_pages(s, &item, err);
        if (rc == FERRY_DONE)
            break;
        if (rc != FERRY_OK)
            return rc;
        if (s->page_no != page)
            start_next(s);
        project(s, item, &rec);
        rec.row = (long)(s->spooled_count + 1);
        if (s->since_path != NULL && (rc = note_cursor(s, item, rec.row, err)) != FERRY_OK)
            return rc;
        if (!spool_put(s->spool, &rec))
            return ferry_err_set_errno(err, FERRY_EIO, "saving the fetched pages");
        s->spooled_count++;
        if (progress != NULL && (s->page_no != page || (s->spooled_count & 1023) == 0)) {
            uint64_t done, total;
            rest_progress(base, &done, &total);
            if (!progress(ctx, done, total))
                return ferry_err_set(err, FERRY_ECANCELLED, "the download was stopped");
        }
    }
    if (s->since_path != NULL && s->spooled_count > 0 && s->base.cursor_count == 0)
        return ferry_err_set(err, FERRY_ESOURCE,
                             "none of the %lld records of %s has the cursor %s "
                             "(incremental.cursor), so the next run could not ask for what "
                             "changed since this one",
                             (long long)s->spooled_count, s->where, s->spec->incremental.cursor);
    if (fflush(s->spool) != 0 || fseek(s->spool, 0, SEEK_SET) != 0)
        return ferry_err_set_errno(err, FERRY_EIO, "reading back the fetched pages");
    ferry_buf_done(&s->page);
    s->has_records = false;
    s->spooled = true;
    s->base.total_estimated = false;
    return FERRY_OK;
}

/* ---- the check ---- */

/* Adds every leaf pointer of v (prefix: its own pointer) that no field uses to c. */
static ferry_rc collect_unmapped(rest_source *s, json_t *v, char *prefix, size_t plen,
                                 ferry_source_check *c, size_t cap, int depth)
{
    const char *key;
    json_t *member;

    if (json_is_object(v) && depth < 8) {
        json_object_foreach(v, key, member)
        {
            size_t n = plen;
            int w = snprintf(prefix + n, 512 - n, "/");
            n += (size_t)(w > 0 ? w : 0);
            for (const char *k = key; *k != '\0' && n + 3 < 512; k++) {
                if (*k == '~' || *k == '/') {
                    prefix[n++] = '~';
                    prefix[n++] = *k == '~' ? '0' : '1';
                } else {
                    prefix[n++] = *k;
                }
            }
            prefix[n] = '\0';
            ferry_rc rc = collect_unmapped(s, member, prefix, n, c, cap, depth + 1);
            prefix[plen] = '\0';
            if (rc != FERRY_OK)
                return rc;
        }
        return FERRY_OK;
    }
    /* A leaf (or an array): used when a field's pointer is it, inside it or above it. */
    for (size_t f = 0; f < s->nin; f++) {
        const char *fp = ferry_sync_input_pointer(s->sync, f);
        size_t fl;
        if (fp == NULL)
            continue;
        fl = strlen(fp);
        if ((fl >= plen && strncmp(fp, prefix, plen) == 0 &&
             (fp[plen] == '\0' || fp[plen] == '/')) ||
            (plen > fl && strncmp(prefix, fp, fl) == 0 && prefix[fl] == '/'))
            return FERRY_OK;
    }
    for (size_t i = 0; i < c->nunmapped; i++)
        if (strcmp(c->unmapped[i], prefix) == 0)
            return FERRY_OK;
    if (c->nunmapped >= cap)
        return FERRY_OK;
    if ((c->unmapped[c->nunmapped] = strdup(prefix)) == NULL)
        return FERRY_ENOMEM;
    c->nunmapped++;
    return FERRY_OK;
}

static ferry_rc rest_check(ferry_source *base, ferry_source_check *ret, ferry_err *err)
{
    rest_source *s = (rest_source *)base;
    ferry_source_check c = {.total = s->total};
    const ferry_sync_spec *sync = s->sync;
    json_t *records = NULL; /* the first page's records, as a tree: a check reads one page */
    size_t n = 0;
    size_t cap = 200;
    char prefix[512];
    ferry_rc rc = FERRY_OK;

    if (s->has_records) {
        json_error_t jerr;
        records = json_loadb(s->page.data + s->records.start, s->records.end - s->records.start,
                             JSON_DECODE_ANY, &jerr);
        n = records != NULL ? json_array_size(records) : 0;
    }

    c.status = s->last_status;
    c.records = (int64_t)n;
    c.unmapped = calloc(cap, sizeof(*c.unmapped));
    c.missing = calloc(s->nin + 1, sizeof(*c.missing));
    if (c.unmapped == NULL || c.missing == NULL)
        goto oom;
    for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
        prefix[0] = '\0';
        rc = collect_unmapped(s, json_array_get(records, i), prefix, 0, &c, cap, 0);
    }
    if (rc != FERRY_OK)
        goto oom;
    for (size_t f = 0; f < s->nin && n > 0; f++) {
        bool seen = false;
        ferry_buf scratch;
        if (s->field_path[f] == NULL)
            continue;
        ferry_buf_init(&scratch, sync->source.max_field_bytes);
        for (size_t i = 0; i < n && !seen; i++) {
            bool found = false;
            ferry_buf_reset(&scratch);
            json_t *rec = json_array_get(records, i);
            /* Present, even as null, counts as seen: the API has the field. */
            if (!ferry_json_path_has_wildcard(s->field_path[f]) &&
                ferry_json_path_get(s->field_path[f], rec) != NULL)
                seen = true;
            else if (ferry_json_path_text(s->field_path[f], rec, NULL, &scratch, &found) ==
                         FERRY_OK &&
                     found)
                seen = true;
        }
        ferry_buf_done(&scratch);
        if (!seen) {
            char text[600];
            if (f < sync->nfields)
                snprintf(text, sizeof(text), "%s (%s)", sync->fields[f].name,
                         sync->fields[f].pointer);
            else
                snprintf(text, sizeof(text), "%s (template %s)",
                         sync->fields[sync->inputs[f - sync->nfields].field].name,
                         ferry_sync_input_pointer(sync, f));
            if ((c.missing[c.nmissing] = strdup(text)) == NULL)
                goto oom;
            c.nmissing++;
        }
    }
    json_decref(records);
    *ret = c;
    return FERRY_OK;
oom:
    json_decref(records);
    ferry_source_check_done(&c);
    return ferry_err_set(err, FERRY_ENOMEM, "allocating the check's report");
}

/* ---- life cycle ---- */

static void rest_close(ferry_source *base)
{
    rest_source *s = (rest_source *)base;

    if (s == NULL)
        return;
    ferry_http_client_free(s->http);
    for (size_t i = 0; i < s->nheaders; i++)
        ferry_password_free(s->headers[i]);
    free(s->headers);
    ferry_password_free(s->user);
    ferry_password_free(s->password);
    free(s->sa_email);
    free(s->body);
    free(s->base_url);
    free(s->url);
    free(s->next_url);
    free(s->seen.slots);
    ferry_json_path_free(s->records_path);
    ferry_json_path_free(s->next_path);
    ferry_json_path_free(s->total_path);
    ferry_json_path_free(s->cursor_path);
    ferry_json_path_free(s->since_path);
    if (s->field_path != NULL)
        for (size_t f = 0; f < s->nin; f++)
            ferry_json_path_free(s->field_path[f]);
    free(s->field_path);
    ferry_buf_done(&s->page);
    ferry_buf_done(&s->scratch);
    free(s->fast);
    free(s->fast_field);
    free(s->fast_span);
    free(s->fast_found);
    if (s->spool != NULL)
        fclose(s->spool);
    if (s->vals != NULL)
        for (size_t f = 0; f < s->nin; f++)
            ferry_buf_done(&s->vals[f]);
    free(s->vals);
    free(s->values);
    free(s->lens);
    free(s);
}

/* ---- snapshots ---- */

/* The snapshot header's integers, in their order (see SNAP_HEAD_LEN). */
static void snap_ints(rest_source *s, int64_t spool_bytes, int64_t *v[SNAP_NINT],
                      int64_t *spool_len)
{
    *spool_len = spool_bytes;
    v[0] = spool_len;
    v[1] = &s->spooled_count;
    v[2] = &s->base.bytes;
    v[3] = &s->base.records;
    v[4] = &s->base.cursor_max_ms;
    v[5] = &s->base.cursor_count;
    v[6] = &s->total;
    v[7] = &s->fetched;
}

static ferry_rc rest_snapshot(ferry_source *base, ferry_source_snapshot_parts *ret, ferry_err *err)
{
    rest_source *s = (rest_source *)base;
    uint32_t version = SNAP_VERSION, nvalues = (uint32_t)s->nin;
    int64_t *v[SNAP_NINT], spool_len;
    unsigned char *p = s->snap_head;
    struct stat st;

    if (!s->spooled)
        return ferry_err_set(err, FERRY_EINVAL,
                             "%s was not fetched up front, so what was read of it cannot be saved",
                             s->where);
    /* prefetch() flushed the spool before reading it back; nothing is written to it since. */
    if (fstat(fileno(s->spool), &st) != 0)
        return ferry_err_set_errno(err, FERRY_EIO, "reading the fetched pages for a snapshot");
    snap_ints(s, (int64_t)st.st_size - s->spool_start, v, &spool_len);
    memcpy(p, SNAP_MAGIC, SNAP_MAGIC_LEN);
    p += SNAP_MAGIC_LEN;
    memcpy(p, &version, sizeof(version));
    p += sizeof(version);
    memcpy(p, &nvalues, sizeof(nvalues));
    p += sizeof(nvalues);
    for (size_t i = 0; i < SNAP_NINT; i++, p += sizeof(int64_t))
        memcpy(p, v[i], sizeof(int64_t));
    memset(ret, 0, sizeof(*ret));
    ret->head = s->snap_head;
    ret->head_len = sizeof(s->snap_head);
    ret->fd = fileno(s->spool);
    ret->offset = s->spool_start;
    ret->len = spool_len;
    return FERRY_OK;
}

/* Opens the snapshot path instead of the API: its header restores the state a prefetch left,
 * and next() reads its spool. */
static ferry_rc open_replay(rest_source *s, const char *path, ferry_err *err)
{
    unsigned char head[SNAP_HEAD_LEN];
    const unsigned char *p = head;
    uint32_t version, nvalues;
    int64_t *v[SNAP_NINT], spool_len;
    struct stat st;
    ferry_rc rc;
    int fd;

    ferry_url_redact(s->spec->url, s->where, sizeof(s->where));
    if ((rc = ferry_source_replay_open(path, &fd, err)) != FERRY_OK)
        return rc;
    if ((s->spool = fdopen(fd, "rb")) == NULL) {
        close(fd);
        return ferry_err_set_errno(err, FERRY_EIO, "cannot open the snapshot %s", path);
    }
    setvbuf(s->spool, NULL, _IOFBF, 256 * 1024);
    if (fread(head, 1, sizeof(head), s->spool) != sizeof(head) ||
        memcmp(p, SNAP_MAGIC, SNAP_MAGIC_LEN) != 0)
        return ferry_err_set(err, FERRY_EIO,
                             "the snapshot %s is damaged: it does not start with a REST "
                             "source's header",
                             path);
    p += SNAP_MAGIC_LEN;
    memcpy(&version, p, sizeof(version));
    p += sizeof(version);
    memcpy(&nvalues, p, sizeof(nvalues));
    p += sizeof(nvalues);
    if (version != SNAP_VERSION)
        return ferry_err_set(err, FERRY_EIO,
                             "the snapshot %s is damaged: its version is %u, not %u", path, version,
                             SNAP_VERSION);
    if (nvalues != s->nin)
        return ferry_err_set(err, FERRY_EINVAL,
                             "the snapshot %s holds %u values per record, but the sync now "
                             "reads %zu: the config changed since it was saved",
                             path, nvalues, s->nin);
    snap_ints(s, 0, v, &spool_len);
    for (size_t i = 0; i < SNAP_NINT; i++, p += sizeof(int64_t))
        memcpy(v[i], p, sizeof(int64_t));
    if (fstat(fd, &st) != 0 || spool_len < 0 || s->spooled_count < 0 ||
        (int64_t)st.st_size - (int64_t)sizeof(head) != spool_len)
        return ferry_err_set(err, FERRY_EIO,
                             "the snapshot %s is damaged: it holds %lld bytes of records, not "
                             "the %lld its header says",
                             path, (long long)st.st_size - (long long)sizeof(head),
                             (long long)spool_len);
    s->spool_start = (int64_t)sizeof(head);
    s->spooled = true;
    s->base.total_estimated = false;
    return FERRY_OK;
}

static const ferry_source_ops rest_ops = {
    .next = rest_next,
    .progress = rest_progress,
    .prefetch = rest_prefetch,
    .check = rest_check,
    .snapshot = rest_snapshot,
    .close = rest_close,
};

static ferry_rc compile(const char *text, ferry_json_path **ret, ferry_err *err)
{
    if (text == NULL)
        return FERRY_OK;
    return ferry_json_path_compile(text, ret, err);
}

ferry_rc ferry_rest_source_open(const ferry_sync_spec *sync, const ferry_source_options *opt,
                                ferry_source **ret_src, ferry_err *err)
{
    const ferry_pagination_spec *p = &sync->source.pagination;
    rest_source *s;
    ferry_rc rc;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the REST source");
    s->base.ops = &rest_ops;
    s->base.kind = "rest";
    s->sync = sync;
    s->spec = &sync->source;
    s->policy = ferry_source_net_policy(s->spec);
    s->opt = *opt;
    s->total = -1;
    s->estimate = -1;
    s->nin = ferry_sync_input_count(sync);
    s->field_path = calloc(s->nin, sizeof(*s->field_path));
    s->vals = calloc(s->nin, sizeof(*s->vals));
    s->values = calloc(s->nin, sizeof(*s->values));
    s->lens = calloc(s->nin, sizeof(*s->lens));
    if (s->field_path == NULL || s->vals == NULL || s->values == NULL || s->lens == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "allocating the REST source");
        goto out_free;
    }
    for (size_t f = 0; f < s->nin; f++)
        ferry_buf_init(&s->vals[f], sync->source.max_field_bytes);
    rc = compile(s->spec->records, &s->records_path, err);
    if (rc == FERRY_OK && p->style == FERRY_PAGE_NEXT_LINK)
        rc = compile(p->next, &s->next_path, err);
    if (rc == FERRY_OK && p->style == FERRY_PAGE_CURSOR)
        rc = compile(p->cursor, &s->cursor_path, err);
    if (rc == FERRY_OK)
        rc = compile(p->total, &s->total_path, err);
    if (rc == FERRY_OK)
        rc = compile(sync->source.incremental.cursor, &s->since_path, err);
    if (opt->since != NULL)
        snprintf(s->since, sizeof(s->since), "%s", opt->since);
    else
        ferry_instant_format(0, sync->source.incremental.format == FERRY_SINCE_EPOCH, s->since);
    for (size_t f = 0; f < s->nin && rc == FERRY_OK; f++)
        if (ferry_sync_input_pointer(sync, f) != NULL)
            rc = compile(ferry_sync_input_pointer(sync, f), &s->field_path[f], err);
    /* The fields whose paths have no "*" are read by one scan over each record. */
    s->fast = calloc(s->nin + 1, sizeof(*s->fast));
    s->fast_field = calloc(s->nin + 1, sizeof(*s->fast_field));
    s->fast_span = calloc(s->nin + 1, sizeof(*s->fast_span));
    s->fast_found = calloc(s->nin + 1, sizeof(*s->fast_found));
    if (rc == FERRY_OK &&
        (s->fast == NULL || s->fast_field == NULL || s->fast_span == NULL || s->fast_found == NULL))
        rc = ferry_err_set(err, FERRY_ENOMEM, "allocating the REST source");
    for (size_t f = 0; f < s->nin && rc == FERRY_OK; f++) {
        if (s->field_path[f] == NULL || ferry_json_path_has_wildcard(s->field_path[f]))
            continue;
        s->fast[s->nfast] = s->field_path[f];
        s->fast_field[s->nfast++] = f;
    }
    ferry_buf_init(&s->scratch, URL_MAX);
    if (rc == FERRY_OK && opt->replay != NULL) {
        /* No client, no credentials, no page: the snapshot is the source. */
        if ((rc = open_replay(s, opt->replay, err)) != FERRY_OK)
            goto out_free;
        *ret_src = &s->base;
        return FERRY_OK;
    }
    if (rc == FERRY_OK)
        rc = ferry_http_client_new(&s->http, err);
    if (rc == FERRY_OK)
        rc = build_request(s, err);
    if (rc == FERRY_OK)
        rc = first_url(s, err);
    if (rc == FERRY_OK)
        rc = fetch_page(s, err);
    if (rc != FERRY_OK)
        goto out_free;
    *ret_src = &s->base;
    return FERRY_OK;

out_free:
    rest_close(&s->base);
    return rc;
}
