/* reply.c - the HTTP server's answers, query and body parsing, and the audit helper.
 *
 * Every answer is JSON; every error is {"error": {"code", "message"}} with its status mapped
 * from a Ferry error in one place (ferry_http_reply_err). The status of the answer a thread
 * queued last is kept for /metrics.
 *
 * Store connections: one per libmicrohttpd thread, opened on first use and closed by a
 * thread-specific destructor when the thread ends (see server.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "notify/notify.h"
#include "sync/map.h"
#include "util/log.h"

/* The status of the answer queued by this thread's current request. */
static _Thread_local unsigned last_status;
/* The request's Origin when cors_origins allows it (its answers say so), or NULL. */
static _Thread_local const char *cors_origin;

/* The config of the request this thread answers (server.c sets it). */
static _Thread_local const ferry_config *request_config;

void ferry_http_set_cors(const char *origin)
{
    cors_origin = origin;
}

const ferry_config *ferry_http_config(void)
{
    return request_config;
}

void ferry_http_set_config(const ferry_config *cfg)
{
    request_config = cfg;
}

enum MHD_Result ferry_http_queue(struct MHD_Connection *conn, unsigned status,
                                 struct MHD_Response *resp)
{
    enum MHD_Result ret;

    /* Every answer names the request, as its log lines do. */
    if (ferry_log_context_request()[0] != '\0')
        MHD_add_response_header(resp, "X-Request-Id", ferry_log_context_request());
    /* An answer for any origin (the component's script: "*") keeps its own header. */
    if (cors_origin != NULL &&
        MHD_get_response_header(resp, "Access-Control-Allow-Origin") == NULL) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", cors_origin);
        MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", "Retry-After, X-Request-Id");
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    last_status = status;
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

void ferry_http_set_status(unsigned status)
{
    last_status = status;
}

unsigned ferry_http_last_status(void)
{
    return last_status;
}

ferry_store *ferry_http_store(struct ferry_server *srv, ferry_err *err)
{
    ferry_store *st = pthread_getspecific(srv->store_key);
    const ferry_config *cfg = request_config;

    if (st == NULL) {
        /* database is a setting a reload does not change: any config names the same. */
        const ferry_config *any = cfg != NULL ? cfg : ferry_config_live_acquire(srv->opt.live);
        ferry_rc rc = ferry_store_open(any->database, any->dir, &st, err);
        if (any != cfg)
            ferry_config_live_release(srv->opt.live, any);
        if (rc != FERRY_OK)
            return NULL;
        pthread_setspecific(srv->store_key, st);
    }
    /* A queued run cancelled owes its deliveries, as the request's config says. */
    if (cfg != NULL)
        ferry_notify_attach(st, cfg);
    else
        ferry_store_planner_set(st, NULL);
    return st;
}

/* Queues body (consumed) as the answer, with one extra header when name is not NULL. */
enum MHD_Result ferry_http_reply_json_header(struct MHD_Connection *conn, unsigned status,
                                             json_t *body, const char *name, const char *value)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    struct MHD_Response *resp;

    json_decref(body);
    if (text == NULL)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (name != NULL)
        MHD_add_response_header(resp, name, value);
    return ferry_http_queue(conn, status, resp);
}

enum MHD_Result ferry_http_reply_json(struct MHD_Connection *conn, unsigned status, json_t *body)
{
    return ferry_http_reply_json_header(conn, status, body, NULL, NULL);
}

json_t *ferry_http_error_body(const char *code, const char *msg)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

enum MHD_Result ferry_http_reply_error(struct MHD_Connection *conn, unsigned status,
                                       const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return ferry_http_reply_json(conn, status, ferry_http_error_body(code, msg));
}

/* Maps a Ferry error to its HTTP status: the one place that does. */
enum MHD_Result ferry_http_reply_err(struct MHD_Connection *conn, const ferry_err *err)
{
    switch (err->code) {
    case FERRY_ENOTFOUND:
        return ferry_http_reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "%s", err->msg);
    case FERRY_EINVAL:
        return ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err->msg);
    case FERRY_ELIMIT:
        return ferry_http_reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "%s",
                                      err->msg);
    case FERRY_ECONFLICT:
        return ferry_http_reply_error(conn, MHD_HTTP_CONFLICT, "conflict", "%s", err->msg);
    case FERRY_EFORBIDDEN:
        return ferry_http_reply_error(conn, MHD_HTTP_FORBIDDEN, "forbidden", "%s", err->msg);
    default:
        return ferry_http_reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                      ferry_rc_name(err->code), "%s", err->msg);
    }
}

enum MHD_Result ferry_http_reply_method_not_allowed(struct MHD_Connection *conn, const char *allow)
{
    return ferry_http_reply_json_header(
        conn, MHD_HTTP_METHOD_NOT_ALLOWED,
        ferry_http_error_body("method_not_allowed", "this route does not take that method"),
        "Allow", allow);
}

/* Parses a positive decimal id of a path segment; false when it is not one. */
bool ferry_http_param_id(const char *s, size_t len, int64_t *ret)
{
    int64_t v = 0;

    if (len == 0 || len > 18)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v <= 0)
        return false;
    *ret = v;
    return true;
}

bool ferry_http_param_int(const char *s, int64_t min, int64_t max, int64_t *value)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
        return false;
    *value = v;
    return true;
}

/* Reads an integer query parameter within [min, max]; false (with a 400 queued) when bad. */
bool ferry_http_query_int(struct MHD_Connection *conn, const char *name, int64_t min, int64_t max,
                          int64_t *value, enum MHD_Result *ret)
{
    const char *s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);

    if (s == NULL)
        return true;
    if (!ferry_http_param_int(s, min, max, value)) {
        *ret = ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "%s must be a whole number from %lld to %lld", name,
                                      (long long)min, (long long)max);
        return false;
    }
    return true;
}

bool ferry_http_param_time(const char *s, int64_t *ret_ms)
{
    ferry_field_spec field = {.name = (char *)"time", .type = FERRY_TYPE_DATETIME};
    int64_t ms = 0, scale = 100;
    struct tm tm;
    ferry_buf canon;
    int end = 0;
    bool ok;

    if (s == NULL || s[0] == '\0')
        return true;
    ferry_buf_init(&canon, 64);
    memset(&tm, 0, sizeof(tm));
    ok = ferry_map_convert(&field, s, strlen(s), &canon) == NULL &&
         sscanf(ferry_buf_str(&canon), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &end) == 6;
    /* The canonical form keeps milliseconds ("...:05.123Z"): a run's own queued_at must
     * bound exactly. */
    for (const char *p = ok && ferry_buf_str(&canon)[end] == '.' ? ferry_buf_str(&canon) + end + 1
                                                                 : "";
         *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10)
        ms += (*p - '0') * scale;
    ferry_buf_done(&canon);
    if (!ok)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ret_ms = (int64_t)timegm(&tm) * 1000 + ms;
    return true;
}

/* Reads a time parameter (a date or a date-time, UTC unless it has an offset) into ms;
 * false (with a 400 queued) when it is not one. A date means its midnight, UTC. */
bool ferry_http_query_time(struct MHD_Connection *conn, const char *name, int64_t *ret_ms,
                           enum MHD_Result *ret)
{
    const char *s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);

    if (s == NULL || s[0] == '\0')
        return true;
    if (!ferry_http_param_time(s, ret_ms)) {
        *ret = ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      "%s must be a date (2026-11-23) or a date-time "
                                      "(2026-11-23T06:00:00Z)",
                                      name);
        return false;
    }
    return true;
}

json_t *ferry_http_body_parse(const char *data, size_t len, bool empty_ok, char *why, size_t whylen)
{
    json_error_t jerr;
    json_t *doc;

    if (len == 0 && empty_ok)
        return json_object();
    /* A body with a NUL inside is refused (JSON_ALLOW_NUL is not given), so every string
     * member read from it is a C string of its whole value. */
    doc = json_loadb(data, len, 0, &jerr);
    if (doc == NULL || !json_is_object(doc)) {
        snprintf(why, whylen, "the body must be a JSON object%s%s", doc == NULL ? ": " : "",
                 doc == NULL ? jerr.text : "");
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int ferry_http_body_string(json_t *doc, const char *name, bool required, const char **value)
{
    json_t *v = json_object_get(doc, name);

    *value = NULL;
    if ((v == NULL || json_is_null(v)) && !required)
        return 0;
    if (v == NULL)
        return -1;
    if (!json_is_string(v))
        return -2;
    *value = json_string_value(v);
    return 0;
}

bool ferry_http_request_body(struct MHD_Connection *conn, request *req, bool empty_ok,
                             enum MHD_Result *ret)
{
    char why[256];

    if (req->doc != NULL)
        return true; /* parsed before the connection was suspended */
    req->doc = ferry_http_body_parse(req->body.data, req->body.len, empty_ok, why, sizeof(why));
    if (req->doc == NULL) {
        *ret = ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_json", "%s", why);
        return false;
    }
    return true;
}

bool ferry_http_request_string(struct MHD_Connection *conn, request *req, const char *name,
                               bool required, const char **value, enum MHD_Result *ret)
{
    int rc = ferry_http_body_string(req->doc, name, required, value);

    if (rc != 0) {
        *ret = ferry_http_reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                                      rc == -1 ? "\"%s\" is required" : "\"%s\" must be a string",
                                      name);
        return false;
    }
    return true;
}

const ferry_sync_spec *ferry_http_request_sync(struct ferry_server *srv,
                                               struct MHD_Connection *conn, const request *req,
                                               enum MHD_Result *ret)
{
    const ferry_config *cfg = ferry_http_config();

    for (size_t i = 0; i < cfg->nsyncs; i++) {
        if (strcmp(cfg->syncs[i].name, req->arg) == 0)
            return ferry_http_request_may_touch(srv, conn, req, req->arg, NULL, false, ret)
                       ? &cfg->syncs[i]
                       : NULL;
    }
    *ret = ferry_http_reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found",
                                  "there is no sync named '%.64s'", req->arg);
    return NULL;
}

json_t *ferry_http_strings_json(char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

void ferry_http_audit(struct ferry_server *srv, const request *req, const char *action,
                      const char *target, const char *fmt, ...)
{
    ferry_audit_entry e;
    char detail[512];
    ferry_store *st;
    ferry_err err;
    va_list ap;

    detail[0] = '\0';
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
    }
    memset(&e, 0, sizeof(e));
    e.actor = req->authed ? req->who.user : NULL;
    e.action = (char *)action;
    e.target = (char *)target;
    e.detail = detail[0] != '\0' ? detail : NULL;
    e.client = req->client[0] != '\0' ? (char *)req->client : NULL;
    ferry_err_clear(&err);
    if ((st = ferry_http_store(srv, &err)) == NULL ||
        st->people->audit_add(st, &e, &err) != FERRY_OK)
        ferry_log(FERRY_LOG_ERROR, "msg=\"audit entry not recorded\" action=%s error=\"%s\"",
                  action, err.msg);
}
