/* init.c - ferry init: a starting config for one sync, written from the source it reads.
 *
 * ferry init SOURCE [--name NAME] [--table TABLE] [--output FILE] [--force]
 *            [--bearer-env VAR | --basic-user USER --password-env VAR |
 *             --header NAME --header-env VAR]
 *
 * SOURCE is a CSV file, a CSV URL (a Google Sheets share link becomes its CSV export), or a
 * REST URL answering JSON. The source is fetched once: a file or a CSV download up to
 * SAMPLE_ROWS records (or SAMPLE_BYTES, so a wide file's sample stays bounded), a JSON answer
 * whole up to PAGE_MAX. A URL without credentials is downloaded as a CSV source downloads
 * (util/http_stream.h: redirects followed); with credentials it is one request, as a REST
 * source asks for its first page (util/http_fetch.h: no redirects). JSON or CSV is decided by
 * the Content-Type, else by the first byte of the body. Every connection passes the destination
 * policy; a host that resolves to a private or loopback address is allowed by name, for this
 * fetch and in the config written (allow_hosts), since the person named it.
 *
 * The guessing is sync/guess.h; this file fetches, finds the records (a REST page's records
 * array, a record's leaves as JSON pointers) and writes the YAML, with comments where it
 * guessed.
 *
 * Secrets never reach the command line: auth options name environment variables, which this
 * command reads to fetch and the config references by name. Nothing is written when the source
 * cannot be read; an existing output file is kept unless --force (exit 2). Errors name the
 * source (without credentials or query string) and the problem; exit 1. */
#include "cli/internal.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "source/csv_reader.h"
#include "source/sheet_link.h"
#include "sync/guess.h"
#include "util/buf.h"
#include "util/http_fetch.h"
#include "util/http_stream.h"
#include "util/json_path.h"
#include "util/net_policy.h"
#include "util/url.h"

#define SAMPLE_ROWS 10000
#define SAMPLE_BYTES (64 * 1024 * 1024) /* a CSV sample ends after the record passing it */
#define PAGE_MAX (16 * 1024 * 1024)     /* a REST page: rest_source's max_page_bytes default */
#define CSV_MAX (256ULL * 1024 * 1024)
#define LEAVES_MAX 500
#define DEPTH_MAX 8
#define FETCH_TIMEOUT_MS 60000
#define FIELD_COMMENT_MAX 72 /* a field's comment starts at most at this column */

typedef struct {
    const char *source;
    const char *name;
    const char *table;
    const char *output;
    bool force;
    const char *bearer_env;
    const char *basic_user;
    const char *password_env;
    const char *header;
    const char *header_env;
} init_opts;

/* What was found at the source. */
typedef struct {
    char *url;         /* the URL fetched (a share link's export), or NULL for a file */
    char *path;        /* a file's absolute path, or NULL */
    char *host;        /* the URL's host, lower case */
    bool private_host; /* it resolves to a loopback or private address */
    bool rest;         /* JSON records: pointers, not columns */
    char *records;     /* REST: the pointer to the records array ("" for the page) */
    char shown[512];   /* the source for messages: no credentials, no query */
    char **dups;       /* CSV: messages about repeated or empty headers */
    size_t ndups;
    bool *skip; /* CSV: a column not mapped (repeated after its first, or unnamed) */
} init_source;

static const char usage[] =
    "Usage: ferry init SOURCE [--name NAME] [--table TABLE] [--output FILE] [--force]\n"
    "                  [--bearer-env VAR | --basic-user USER --password-env VAR |\n"
    "                   --header NAME --header-env VAR]\n";

/* Says on stderr what went wrong with the source: head, detail and tail joined. */
static int fail3(const init_source *s, const char *head, const char *detail, const char *tail)
{
    if (head[0] == '\0' && strstr(detail, s->shown) != NULL) /* it names the source already */
        fprintf(stderr, "ferry: init: %s%s\n", detail, tail);
    else
        fprintf(stderr, "ferry: init: %s: %s%s%s\n", s->shown, head, detail, tail);
    return EXIT_RUN_FAILED;
}

static int fail(const init_source *s, const char *head, const char *detail)
{
    return fail3(s, head, detail, "");
}

static int parse(int argc, char **argv, init_opts *o)
{
    static const struct option longopts[] = {
        {"name", required_argument, NULL, 'N'},
        {"table", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"bearer-env", required_argument, NULL, 'B'},
        {"basic-user", required_argument, NULL, 'U'},
        {"password-env", required_argument, NULL, 'P'},
        {"header", required_argument, NULL, 'H'},
        {"header-env", required_argument, NULL, 'E'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(o, 0, sizeof(*o));
    optind = 1;
    while ((ch = getopt_long(argc, argv, "N:t:o:fh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'N':
            o->name = optarg;
            break;
        case 't':
            o->table = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'f':
            o->force = true;
            break;
        case 'B':
            o->bearer_env = optarg;
            break;
        case 'U':
            o->basic_user = optarg;
            break;
        case 'P':
            o->password_env = optarg;
            break;
        case 'H':
            o->header = optarg;
            break;
        case 'E':
            o->header_env = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        default:
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    o->source = argv[optind];
    if ((o->password_env != NULL) != (o->basic_user != NULL) ||
        (o->header != NULL) != (o->header_env != NULL)) {
        fprintf(stderr, "ferry: init: --basic-user goes with --password-env, --header with "
                        "--header-env\n");
        return EXIT_USAGE;
    }
    if (o->header != NULL &&
        (o->header[0] == '\0' ||
         strspn(o->header, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
             strlen(o->header))) {
        fprintf(stderr, "ferry: init: --header takes a header's name, such as X-API-Key\n");
        return EXIT_USAGE;
    }
    if ((o->bearer_env != NULL) + (o->basic_user != NULL) + (o->header != NULL) > 1) {
        fprintf(stderr, "ferry: init: give one kind of authentication\n");
        return EXIT_USAGE;
    }
    return 0;
}

static bool is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

/* A Google Sheets link as a browser shows it becomes its CSV export (source/sheet_link.h);
 * other URLs are copied. Owned by the caller. */
static char *export_url(const char *url)
{
    ferry_buf b;

    ferry_buf_init(&b, 8192);
    if (ferry_sheet_export_url(url, &b))
        return ferry_buf_take(&b);
    ferry_buf_done(&b);
    return strdup(url);
}

/* Sets s->host and s->private_host for s->url. */
static void find_host(init_source *s)
{
    CURLU *u = curl_url();
    char *host = NULL;
    struct sockaddr_storage ss;

    if (u == NULL || curl_url_set(u, CURLUPART_URL, s->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return;
    }
    size_t n = strlen(host);
    if (n > 1 && host[0] == '[' && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    for (char *p = host; *p != '\0'; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    s->host = strdup(host);
    if (ferry_net_host_parse(host, &ss)) {
        s->private_host = ferry_net_addr_classify((struct sockaddr *)&ss) != FERRY_ADDR_PUBLIC;
    } else {
        struct addrinfo hints = {0}, *res = NULL;
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(host, NULL, &hints, &res) == 0) {
            for (struct addrinfo *a = res; a != NULL; a = a->ai_next)
                if (ferry_net_addr_classify(a->ai_addr) != FERRY_ADDR_PUBLIC)
                    s->private_host = true;
            freeaddrinfo(res);
        }
    }
    curl_free(host);
    curl_url_cleanup(u);
}

/* ---- reading ---- */

typedef struct {
    FILE *f;
    ferry_http_stream *http;
    const char *pre; /* bytes already read, given first */
    size_t npre, off;
} csv_input;

static ferry_rc csv_read_cb(void *ctx, char *buf, size_t cap, size_t *ret_n, ferry_err *err)
{
    csv_input *in = ctx;

    if (in->off < in->npre) {
        size_t n = in->npre - in->off < cap ? in->npre - in->off : cap;
        memcpy(buf, in->pre + in->off, n);
        in->off += n;
        *ret_n = n;
        return FERRY_OK;
    }
    if (in->http != NULL)
        return ferry_http_stream_read(in->http, buf, cap, ret_n, err);
    *ret_n = fread(buf, 1, cap, in->f);
    if (*ret_n == 0 && ferror(in->f))
        return ferry_err_set_errno(err, FERRY_EIO, "reading the file");
    return FERRY_OK;
}

/* Reads the header and up to SAMPLE_ROWS records into g. */
static int sample_csv(init_source *s, csv_input *in, ferry_guess *g)
{
    ferry_csv_reader *r = NULL;
    ferry_csv_record rec;
    ferry_err err;
    char **header = NULL;
    const char **vals = NULL;
    size_t *lens = NULL, nh = 0;
    int status = EXIT_RUN_FAILED;
    ferry_rc rc;

    ferry_err_clear(&err);
    if (ferry_csv_reader_new(NULL, csv_read_cb, in, &r, &err) != FERRY_OK)
        return fail(s, "", err.msg);
    rc = ferry_csv_reader_next(r, &rec, &err);
    if (rc == FERRY_DONE) {
        fail(s, "", "it is empty: no header and no records");
        goto out;
    }
    if (rc != FERRY_OK || rec.error != NULL) {
        fail(s, "", rc != FERRY_OK ? err.msg : rec.error);
        goto out;
    }
    nh = rec.nfields;
    header = calloc(nh, sizeof(*header));
    vals = calloc(nh, sizeof(*vals));
    lens = calloc(nh, sizeof(*lens));
    s->skip = calloc(nh, sizeof(*s->skip));
    s->dups = calloc(nh, sizeof(*s->dups));
    if (header == NULL || vals == NULL || lens == NULL || s->skip == NULL || s->dups == NULL)
        goto out_nomem;
    for (size_t i = 0; i < nh; i++) {
        const char *f = rec.field[i];
        size_t n = rec.len[i];
        while (n > 0 && isspace((unsigned char)*f)) /* as the CSV source trims headers */
            f++, n--;
        while (n > 0 && isspace((unsigned char)f[n - 1]))
            n--;
        if ((header[i] = strndup(f, n)) == NULL)
            goto out_nomem;
    }
    for (size_t i = 0; i < nh; i++) {
        char msg[512];
        if (header[i][0] == '\0') {
            s->skip[i] = true;
            snprintf(msg, sizeof(msg), "column %zu has no name in the header: not mapped", i + 1);
            if ((s->dups[s->ndups] = strdup(msg)) != NULL)
                s->ndups++;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(header[i], header[j]) == 0) {
                s->skip[i] = true;
                snprintf(msg, sizeof(msg),
                         "the header repeats the column '%.200s' (columns %zu and %zu): "
                         "rename one in the source, Ferry refuses a repeated column",
                         header[i], j + 1, i + 1);
                if ((s->dups[s->ndups] = strdup(msg)) != NULL)
                    s->ndups++;
                break;
            }
        }
    }
    if (ferry_guess_init(g, (const char *const *)header, nh, &err) != FERRY_OK)
        goto out_nomem;
    for (long n = 0; n < SAMPLE_ROWS && ferry_csv_reader_bytes_consumed(r) < SAMPLE_BYTES;) {
        rc = ferry_csv_reader_next(r, &rec, &err);
        if (rc == FERRY_DONE)
            break;
        if (rc != FERRY_OK) {
            fail(s, "", err.msg);
            goto out;
        }
        if (rec.error != NULL)
            continue;
        for (size_t i = 0; i < nh; i++) {
            vals[i] = i < rec.nfields ? rec.field[i] : NULL;
            lens[i] = i < rec.nfields ? rec.len[i] : 0;
        }
        if (ferry_guess_add(g, vals, lens, &err) != FERRY_OK)
            goto out_nomem;
        n++;
    }
    if (g->nrecords == 0) {
        fail(s, "", "it has a header but no records: there is nothing to guess from");
        goto out;
    }
    status = 0;
    goto out;
out_nomem:
    fail(s, "", "out of memory");
out:
    for (size_t i = 0; header != NULL && i < nh; i++)
        free(header[i]);
    free(header);
    free(vals);
    free(lens);
    ferry_csv_reader_free(r);
    return status;
}

/* Escapes a JSON pointer token (RFC 6901: '~' as ~0, '/' as ~1) onto out. */
static void pointer_append(ferry_buf *out, const char *key)
{
    for (const char *p = key; *p != '\0'; p++) {
        if (*p == '~')
            ferry_buf_append(out, "~0", 2);
        else if (*p == '/')
            ferry_buf_append(out, "~1", 2);
        else
            ferry_buf_append(out, p, 1);
    }
}

typedef struct {
    char **ptr;
    size_t n;
} leaves;

static bool leaf_known(const leaves *l, const char *p)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->ptr[i], p) == 0)
            return true;
    return false;
}

/* Collects the pointers of v's leaves under prefix: scalars, nulls and arrays of scalars
 * (joined by the sync); objects are walked into; arrays holding objects are left out. */
static void collect(json_t *v, ferry_buf *prefix, int depth, leaves *l)
{
    if (json_is_object(v) && depth < DEPTH_MAX && json_object_size(v) > 0) {
        const char *key;
        json_t *child;
        size_t len = prefix->len;
        json_object_foreach(v, key, child)
        {
            ferry_buf_append(prefix, "/", 1);
            pointer_append(prefix, key);
            collect(child, prefix, depth + 1, l);
            prefix->len = len;
            ferry_buf_append(prefix, "", 0);
        }
        return;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (json_is_object(e) || json_is_array(e))
                return;
        }
    }
    if (json_is_object(v) || l->n >= LEAVES_MAX || prefix->len == 0)
        return;
    const char *p = ferry_buf_str(prefix);
    if (!leaf_known(l, p)) {
        char *copy = strdup(p);
        char **grown = realloc(l->ptr, (l->n + 1) * sizeof(*grown));
        if (copy == NULL || grown == NULL) {
            free(copy);
            if (grown != NULL)
                l->ptr = grown;
            return;
        }
        l->ptr = grown;
        l->ptr[l->n++] = copy;
    }
}

/* The records array of a page: the page itself, or the array of objects under the top-level
 * key holding the most (its pointer into s->records). */
static json_t *find_records(init_source *s, json_t *doc)
{
    const char *key, *best_key = NULL;
    json_t *v, *best = NULL;
    ferry_buf b;

    if (json_is_array(doc)) {
        s->records = strdup("");
        return doc;
    }
    if (!json_is_object(doc))
        return NULL;
    json_object_foreach(doc, key, v)
    {
        if (!json_is_array(v) || json_array_size(v) == 0 || !json_is_object(json_array_get(v, 0)))
            continue;
        if (best == NULL || json_array_size(v) > json_array_size(best)) {
            best = v;
            best_key = key;
        }
    }
    if (best == NULL)
        return NULL;
    ferry_buf_init(&b, 4096);
    ferry_buf_append(&b, "/", 1);
    pointer_append(&b, best_key);
    s->records = ferry_buf_take(&b);
    return best;
}

static int sample_json(init_source *s, const char *body, size_t n, ferry_guess *g)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, n, JSON_DECODE_ANY, &jerr), *recs;
    leaves l = {0};
    ferry_json_path **paths = NULL;
    const char **vals = NULL;
    size_t *lens = NULL;
    ferry_buf *bufs = NULL;
    ferry_err err;
    int status = EXIT_RUN_FAILED;

    ferry_err_clear(&err);
    if (doc == NULL)
        return fail(s, "the answer is not JSON: ", jerr.text);
    recs = find_records(s, doc);
    if (recs == NULL) {
        fail(s, "",
             "the answer holds no records: neither an array nor an object with an array of "
             "objects");
        goto out;
    }
    if (json_array_size(recs) == 0) {
        fail(s, "", "the answer's records array is empty: there is nothing to guess from");
        goto out;
    }
    size_t i;
    json_t *rec;
    ferry_buf prefix;
    ferry_buf_init(&prefix, 64 * 1024);
    json_array_foreach(recs, i, rec)
    {
        if (i >= SAMPLE_ROWS)
            break;
        collect(rec, &prefix, 0, &l);
    }
    ferry_buf_done(&prefix);
    if (l.n == 0) {
        fail(s, "", "the records have no values (they are not objects of values)");
        goto out;
    }
    if (ferry_guess_init(g, (const char *const *)l.ptr, l.n, &err) != FERRY_OK)
        goto out_nomem;
    paths = calloc(l.n, sizeof(*paths));
    vals = calloc(l.n, sizeof(*vals));
    lens = calloc(l.n, sizeof(*lens));
    bufs = calloc(l.n, sizeof(*bufs));
    if (paths == NULL || vals == NULL || lens == NULL || bufs == NULL)
        goto out_nomem;
    for (size_t k = 0; k < l.n; k++) {
        ferry_buf_init(&bufs[k], 1024 * 1024);
        if (ferry_json_path_compile(l.ptr[k], &paths[k], &err) != FERRY_OK) {
            fail(s, "", err.msg);
            goto out;
        }
    }
    json_array_foreach(recs, i, rec)
    {
        if (i >= SAMPLE_ROWS)
            break;
        for (size_t k = 0; k < l.n; k++) {
            bool found = false;
            ferry_buf_reset(&bufs[k]);
            if (ferry_json_path_text(paths[k], rec, NULL, &bufs[k], &found) != FERRY_OK)
                found = false;
            vals[k] = found ? ferry_buf_str(&bufs[k]) : NULL;
            lens[k] = found ? bufs[k].len : 0;
        }
        if (ferry_guess_add(g, vals, lens, &err) != FERRY_OK)
            goto out_nomem;
    }
    s->rest = true;
    status = 0;
    goto out;
out_nomem:
    fail(s, "", "out of memory");
out:
    for (size_t k = 0; k < l.n; k++) {
        free(l.ptr[k]);
        if (paths != NULL)
            ferry_json_path_free(paths[k]);
        if (bufs != NULL)
            ferry_buf_done(&bufs[k]);
    }
    free(l.ptr);
    free(paths);
    free(vals);
    free(lens);
    free(bufs);
    json_decref(doc);
    return status;
}

/* JSON when the Content-Type says so, CSV when it says csv or plain text, else by the first
 * byte that is not white space. */
static bool looks_json(const char *ctype, const char *body, size_t n)
{
    if (ctype != NULL && strcasestr(ctype, "json") != NULL)
        return true;
    if (ctype != NULL && (strcasestr(ctype, "csv") != NULL || strcasestr(ctype, "text/plain")))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')
            continue;
        return body[i] == '{' || body[i] == '[';
    }
    return false;
}

static bool looks_html(const char *ctype)
{
    return ctype != NULL && strcasestr(ctype, "text/html") != NULL;
}

static const char *env_or_fail(init_source *s, const char *var, int *status)
{
    const char *v = getenv(var);
    if (v == NULL || v[0] == '\0') {
        *status = fail3(s, "the environment variable ", var, " is not set");
        return NULL;
    }
    return v;
}

/* A REST URL with credentials: one request, as the REST source sends its first page. */
static int sample_authed(init_source *s, const init_opts *o, const ferry_net_policy *pol,
                         ferry_guess *g)
{
    ferry_http_client *c = NULL;
    ferry_http_request rq = {0};
    ferry_http_response resp = {0};
    ferry_buf hdr;
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    const char *secret = NULL;
    ferry_err err;
    int status = 0;

    ferry_err_clear(&err);
    ferry_buf_init(&hdr, 64 * 1024);
    if (o->bearer_env != NULL && (secret = env_or_fail(s, o->bearer_env, &status)) != NULL)
        ferry_buf_printf(&hdr, "Authorization: Bearer %s", secret);
    else if (o->header != NULL && (secret = env_or_fail(s, o->header_env, &status)) != NULL)
        ferry_buf_printf(&hdr, "%s: %s", o->header, secret);
    else if (o->basic_user != NULL && (secret = env_or_fail(s, o->password_env, &status)) != NULL) {
        rq.user = o->basic_user;
        rq.password = secret;
    }
    if (status != 0)
        goto out;
    if (hdr.len > 0)
        headers[1] = ferry_buf_str(&hdr);
    rq.url = s->url;
    rq.headers = headers;
    rq.timeout_ms = FETCH_TIMEOUT_MS;
    rq.max_bytes = PAGE_MAX;
    rq.policy = pol;
    if (ferry_http_client_new(&c, &err) != FERRY_OK ||
        ferry_http_client_fetch(c, &rq, &resp, &err) != FERRY_OK) {
        status = fail(s, "", err.msg);
        goto out;
    }
    if (resp.status == 401 || resp.status == 403) {
        char msg[64];
        snprintf(msg, sizeof(msg), "HTTP %ld", resp.status);
        status = fail3(s, "credentials rejected (", msg, ")");
    } else if (resp.status < 200 || resp.status > 299) {
        char msg[64];
        snprintf(msg, sizeof(msg), "HTTP %ld", resp.status);
        status = fail(s, "answered ", msg);
    } else if (!looks_json(resp.content_type, resp.body.data, resp.body.len)) {
        status =
            fail3(s, "answered ", resp.content_type != NULL ? resp.content_type : "no Content-Type",
                  ", not JSON: authentication options are for REST sources");
    } else {
        status = sample_json(s, resp.body.data, resp.body.len, g);
    }
out:
    if (hdr.data != NULL)
        explicit_bzero(hdr.data, hdr.len);
    ferry_buf_done(&hdr);
    ferry_http_response_done(&resp);
    ferry_http_client_free(c);
    return status;
}

/* A URL without credentials: a download (redirects followed), CSV or JSON. */
static int sample_url(init_source *s, const ferry_net_policy *pol, ferry_guess *g)
{
    ferry_http_stream_options so = {0};
    ferry_http_stream *st = NULL;
    ferry_buf body;
    ferry_err err;
    char chunk[64 * 1024];
    size_t n = 0;
    int status;

    ferry_err_clear(&err);
    ferry_buf_init(&body, PAGE_MAX);
    so.timeout_ms = FETCH_TIMEOUT_MS;
    so.max_bytes = CSV_MAX;
    so.policy = pol;
    if (ferry_http_stream_open(s->url, &so, &st, &err) != FERRY_OK ||
        ferry_http_stream_read(st, chunk, sizeof(chunk), &n, &err) != FERRY_OK) {
        status = fail(s, "", err.msg);
        goto out;
    }
    const char *ct = ferry_http_stream_content_type(st);
    if (n == 0) {
        status = fail(s, "", "it answered an empty body");
    } else if (looks_json(ct, chunk, n)) {
        ferry_rc rc = ferry_buf_append(&body, chunk, n);
        while (rc == FERRY_OK && n > 0) {
            if ((rc = ferry_http_stream_read(st, chunk, sizeof(chunk), &n, &err)) == FERRY_OK)
                rc = ferry_buf_append(&body, chunk, n);
        }
        if (rc != FERRY_OK)
            status = fail(s, "", rc == FERRY_ELIMIT ? "the page is over 16 MiB" : err.msg);
        else
            status = sample_json(s, body.data, body.len, g);
    } else if (looks_html(ct)) {
        status = fail(s, "",
                      "it answered an HTML page, not CSV or JSON (a sign-in page or "
                      "a link that is not shared?)");
    } else {
        csv_input in = {.http = st, .pre = chunk, .npre = n};
        status = sample_csv(s, &in, g);
    }
out:
    ferry_buf_done(&body);
    ferry_http_stream_close(st);
    return status;
}

static int sample_file(init_source *s, const char *path, ferry_guess *g)
{
    char real[PATH_MAX];
    FILE *f;
    int status;

    if (strncmp(path, "file://", 7) == 0)
        path += 7;
    if (realpath(path, real) == NULL || (f = fopen(real, "rb")) == NULL)
        return fail(s, "cannot open it: ", strerror(errno));
    s->path = strdup(real);
    csv_input in = {.f = f};
    status = sample_csv(s, &in, g);
    fclose(f);
    return status;
}

/* ---- writing ---- */

/* Appends s as a YAML double-quoted scalar (JSON's string syntax, which YAML reads). */
static void yq(ferry_buf *out, const char *s)
{
    json_t *j = json_string(s);
    char *t = j != NULL ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    ferry_buf_printf(out, "%s", t != NULL ? t : "\"\"");
    free(t);
    json_decref(j);
}

/* An identifier as a YAML key: plain, but quoted where YAML would read it as no value. */
static void ykey(ferry_buf *out, const char *name)
{
    if (strcasecmp(name, "null") == 0)
        yq(out, name);
    else
        ferry_buf_printf(out, "%s", name);
}

/* Where the file is to be named from the config's directory: relative inside it, absolute
 * (with *ret_files_dir set to the file's directory, owned) outside. */
static char *file_url(const char *path, const char *output, char **ret_files_dir)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = output != NULL ? strrchr(output, '/') : NULL;

    *ret_files_dir = NULL;
    if (output == NULL || slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == output ? 1 : (int)(slash - output), output);
    if (realpath(dir, real) != NULL) {
        size_t n = strlen(real);
        if (strncmp(path, real, n) == 0 && path[n] == '/')
            return strdup(path + n + 1);
        if (strcmp(real, "/") == 0)
            return strdup(path + 1);
    }
    const char *last = strrchr(path, '/');
    *ret_files_dir = strndup(path, last == path ? 1 : (size_t)(last - path));
    return strdup(path);
}

static void write_auth(ferry_buf *y, const init_opts *o)
{
    if (o->bearer_env != NULL) {
        ferry_buf_printf(y, "      auth: { type: bearer, token_env: ");
        yq(y, o->bearer_env);
    } else if (o->basic_user != NULL) {
        ferry_buf_printf(y, "      auth: { type: basic, user: ");
        yq(y, o->basic_user);
        ferry_buf_printf(y, ", password_env: ");
        yq(y, o->password_env);
    } else if (o->header != NULL) {
        ferry_buf_printf(y, "      auth: { type: header, header: ");
        yq(y, o->header);
        ferry_buf_printf(y, ", key_env: ");
        yq(y, o->header_env);
    } else {
        return;
    }
    ferry_buf_printf(y, " }   # read from the environment when a run starts\n");
}

/* Appends field i's line without its comment: "      name: { column: "Name", ... }". */
static void field_body(ferry_buf *y, const init_source *s, const ferry_guess *g, size_t i)
{
    const ferry_guess_column *c = &g->cols[i];
    const char *sep = " ";

    ferry_buf_printf(y, "      ");
    ykey(y, c->name);
    ferry_buf_printf(y, ": {");
    if (s->rest) {
        /* The pointer is written unless it is the default, "/" and the name. */
        if (!(c->source[0] == '/' && strcmp(c->source + 1, c->name) == 0)) {
            ferry_buf_printf(y, "%spointer: ", sep);
            yq(y, c->source);
            sep = ", ";
        }
    } else if (strcmp(c->source, c->name) != 0) {
        ferry_buf_printf(y, "%scolumn: ", sep);
        yq(y, c->source);
        sep = ", ";
    }
    if (c->type != FERRY_TYPE_TEXT) {
        ferry_buf_printf(y, "%stype: %s", sep, ferry_field_type_name(c->type));
        sep = ", ";
    }
    if (c->required || i == g->key) {
        ferry_buf_printf(y, "%srequired: true", sep);
        sep = ", ";
    }
    ferry_buf_printf(y, "%s}", strcmp(sep, " ") == 0 ? "" : " ");
}

/* Appends the comment of field i after its body (width bytes), at column pad; or nothing. */
static void field_comment(ferry_buf *y, const init_source *s, const ferry_guess_column *c,
                          size_t width, size_t pad)
{
    if (c->type == FERRY_TYPE_TEXT && c->nvalues > 0)
        return;
    ferry_buf_printf(y, "%*s# ", width < pad ? (int)(pad - width) : 1, "");
    if (c->type != FERRY_TYPE_TEXT)
        ferry_buf_printf(y, "guessed %s: all %zu value%s", ferry_field_type_name(c->type),
                         c->nvalues, c->nvalues == 1 ? "" : "s");
    else
        ferry_buf_printf(y, "empty in every sampled %s: text", s->rest ? "record" : "row");
}

/* Appends the fields, their comments aligned (at most at column FIELD_COMMENT_MAX). */
static void write_fields(ferry_buf *y, const init_source *s, const ferry_guess *g)
{
    ferry_buf line;
    size_t pad = 0;

    ferry_buf_init(&line, 64 * 1024);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < g->ncols; i++) {
            if (s->skip != NULL && s->skip[i])
                continue;
            ferry_buf_reset(&line);
            field_body(&line, s, g, i);
            if (pass == 0) {
                if (line.len + 1 > pad && line.len + 1 <= FIELD_COMMENT_MAX)
                    pad = line.len + 1;
                continue;
            }
            field_comment(&line, s, &g->cols[i], line.len, pad);
            ferry_buf_printf(y, "%s\n", ferry_buf_str(&line));
        }
    }
    ferry_buf_done(&line);
}

static ferry_rc build_config(const init_source *s, const init_opts *o, const ferry_guess *g,
                             const char *name, const char *table, ferry_buf *y)
{
    const char *unit = s->rest ? "records" : "rows";
    char *files_dir = NULL;

    ferry_buf_printf(y, "# A starting config written by `ferry init` from %s.\n", s->shown);
    ferry_buf_printf(y,
                     "# The types, required fields and key below are guesses from %zu sampled "
                     "%s: check them,\n# then `ferry check %s` and `ferry sync %s`.\n",
                     g->nrecords, unit, name, name);
    ferry_buf_printf(y, "database: sqlite:ferry.db   # or postgres://USER@HOST/DB\n");
    if (s->path != NULL) {
        char *url = file_url(s->path, o->output, &files_dir);
        if (files_dir != NULL) {
            ferry_buf_printf(y, "files_dir: ");
            yq(y, files_dir);
            ferry_buf_printf(y, "   # the source file lies outside this config's directory\n");
        }
        ferry_buf_printf(y, "syncs:\n  %s:\n    source:\n      kind: csv\n      url: ", name);
        yq(y, url != NULL ? url : s->path);
        ferry_buf_printf(y, "\n");
        free(url);
        free(files_dir);
    } else {
        ferry_buf_printf(y, "syncs:\n  %s:\n    source:\n      kind: %s\n      url: ", name,
                         s->rest ? "rest" : "csv");
        yq(y, s->url);
        ferry_buf_printf(y, "\n");
        if (s->rest) {
            ferry_buf_printf(y, "      records: ");
            yq(y, s->records);
            ferry_buf_printf(y, "   # the array of records on the page\n");
        }
        write_auth(y, o);
        if (s->private_host && s->host != NULL) {
            ferry_buf_printf(y, "      allow_hosts: [");
            yq(y, s->host);
            ferry_buf_printf(y, "]   # %s is a private or loopback address\n", s->host);
        }
        if (s->rest)
            ferry_buf_printf(y, "      # only the first page is read: if the API pages, add "
                                "pagination: (docs/sources.md)\n");
    }
    ferry_buf_printf(y, "    target:\n      table: %s\n      key: [", table);
    if (g->key != SIZE_MAX) {
        ykey(y, g->cols[g->key].name);
        ferry_buf_printf(y, "]   # key: unique and non-empty in %zu %s (guessed)\n", g->nrecords,
                         unit);
    } else {
        size_t first = 0;
        while (first + 1 < g->ncols && s->skip != NULL && s->skip[first])
            first++;
        ykey(y, g->cols[first].name);
        ferry_buf_printf(y, "]   # no unique column: pick a key\n");
    }
    ferry_buf_printf(y, "    fields:\n");
    for (size_t i = 0; i < s->ndups; i++)
        ferry_buf_printf(y, "      # %s\n", s->dups[i]);
    write_fields(y, s, g);
    return y->len < y->max ? FERRY_OK : FERRY_ELIMIT;
}

/* The table's name from the source: the file's or the URL path's last part, without its
 * extension. */
static void default_table(const init_source *s, const char *source, ferry_buf *out)
{
    char part[256] = "";
    const char *p = s->path != NULL ? s->path : source;

    if (s->path == NULL) {
        const char *scheme = strstr(p, "://");
        p = scheme != NULL ? scheme + 3 : p;
        size_t n = strcspn(p, "?#");
        const char *end = p + n;
        while (end > p && end[-1] == '/')
            end--;
        const char *start = end;
        while (start > p && start[-1] != '/')
            start--;
        if (start == p) /* only a host */
            start = end;
        snprintf(part, sizeof(part), "%.*s", (int)(end - start), start);
    } else {
        const char *slash = strrchr(p, '/');
        snprintf(part, sizeof(part), "%s", slash != NULL ? slash + 1 : p);
    }
    char *dot = strrchr(part, '.');
    if (dot != NULL && dot != part)
        *dot = '\0';
    if (s->path == NULL && strstr(source, "/spreadsheets/d/") != NULL) /* a sheet's link */
        snprintf(part, sizeof(part), "sheet");
    ferry_guess_name(part, "records", out);
}

static int write_output(const init_opts *o, const ferry_buf *y)
{
    int fd, flags = O_WRONLY | O_CREAT | O_CLOEXEC | (o->force ? O_TRUNC : O_EXCL);

    if (o->output == NULL) {
        fwrite(y->data, 1, y->len, stdout);
        return fflush(stdout) == 0 ? 0 : EXIT_RUN_FAILED;
    }
    if ((fd = open(o->output, flags, 0644)) < 0) {
        if (errno == EEXIST) {
            fprintf(stderr, "ferry: init: %s already exists: give --force to replace it\n",
                    o->output);
            return EXIT_USAGE;
        }
        fprintf(stderr, "ferry: init: cannot write %s: %s\n", o->output, strerror(errno));
        return EXIT_RUN_FAILED;
    }
    size_t off = 0;
    while (off < y->len) {
        ssize_t n = write(fd, y->data + off, y->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "ferry: init: cannot write %s: %s\n", o->output, strerror(errno));
            close(fd);
            return EXIT_RUN_FAILED;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0) {
        fprintf(stderr, "ferry: init: cannot write %s: %s\n", o->output, strerror(errno));
        return EXIT_RUN_FAILED;
    }
    fprintf(stderr, "ferry: init: wrote %s\n", o->output);
    return 0;
}

static bool sync_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static bool table_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= FERRY_GUESS_NAME_MAX && !(s[0] >= '0' && s[0] <= '9') &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n &&
           strncasecmp(s, "ferry_", 6) != 0;
}

int ferry_cli_init(int argc, char **argv)
{
    init_opts o;
    init_source s = {0};
    ferry_guess g = {0};
    ferry_net_policy pol = {0};
    ferry_buf table, y;
    char *hosts[1];
    int status;

    g.key = SIZE_MAX;
    if ((status = parse(argc, argv, &o)) != 0)
        return status < 0 ? 0 : status;
    if (o.name != NULL && !sync_name_ok(o.name)) {
        fprintf(stderr, "ferry: init: --name takes 1 to 64 characters from a-z, 0-9, '_' and "
                        "'-'\n");
        return EXIT_USAGE;
    }
    if (o.table != NULL && !table_name_ok(o.table)) {
        fprintf(stderr, "ferry: init: --table takes letters, digits and '_', not starting with "
                        "a digit or 'ferry_', at most 63 characters\n");
        return EXIT_USAGE;
    }
    if (o.output != NULL && !o.force && access(o.output, F_OK) == 0) {
        fprintf(stderr, "ferry: init: %s already exists: give --force to replace it\n", o.output);
        return EXIT_USAGE;
    }
    ferry_buf_init(&table, 256);
    ferry_buf_init(&y, 4 * 1024 * 1024);
    if (is_url(o.source)) {
        if ((s.url = export_url(o.source)) == NULL)
            goto out_nomem;
        ferry_url_redact(s.url, s.shown, sizeof(s.shown));
        find_host(&s);
        if (s.private_host && s.host != NULL) {
            hosts[0] = s.host;
            pol.allow_hosts = hosts;
            pol.nallow_hosts = 1;
        }
        if (o.bearer_env != NULL || o.basic_user != NULL || o.header != NULL)
            status = sample_authed(&s, &o, &pol, &g);
        else
            status = sample_url(&s, &pol, &g);
    } else {
        snprintf(s.shown, sizeof(s.shown), "%s", o.source);
        if (o.bearer_env != NULL || o.basic_user != NULL || o.header != NULL) {
            fprintf(stderr, "ferry: init: authentication options are for REST URLs\n");
            status = EXIT_USAGE;
            goto out;
        }
        status = sample_file(&s, o.source, &g);
    }
    if (status != 0)
        goto out;
    ferry_guess_finish(&g);
    if (o.table == NULL)
        default_table(&s, o.source, &table);
    else
        ferry_buf_printf(&table, "%s", o.table);
    const char *tname = ferry_buf_str(&table);
    char sname[65];
    snprintf(sname, sizeof(sname), "%s", o.name != NULL ? o.name : tname);
    for (char *p = sname; *p != '\0'; p++) /* a sync's name is lower case; a table's may not be */
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    if (build_config(&s, &o, &g, sname, tname, &y) != FERRY_OK)
        goto out_nomem;
    for (size_t i = 0; i < s.ndups; i++)
        fprintf(stderr, "ferry: init: %s: %s\n", s.shown, s.dups[i]);
    status = write_output(&o, &y);
    goto out;
out_nomem:
    fprintf(stderr, "ferry: init: out of memory\n");
    status = EXIT_RUN_FAILED;
out:
    ferry_guess_done(&g);
    ferry_buf_done(&table);
    ferry_buf_done(&y);
    free(s.url);
    free(s.path);
    free(s.host);
    free(s.records);
    for (size_t i = 0; i < s.ndups; i++)
        free(s.dups[i]);
    free(s.dups);
    free(s.skip);
    return status;
}
