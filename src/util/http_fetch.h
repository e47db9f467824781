/* http_fetch.h - one HTTP request whose whole response is wanted in memory: a page of an API.
 *
 * A ferry_http_client keeps one libcurl easy handle, so the pages of one run reuse the same
 * connection (keep-alive). A fetch never treats a status as an error: the caller decides what
 * 429 or 503 mean. Transport failures are errors with err->transient set when trying again may
 * help (timeouts, resets, refused connections, a stalled transfer, a host name that did not
 * resolve: DNS fails for a moment too, and the caller's retries are bounded). The body is counted
 * as it arrives and the transfer stops as soon as it passes max_bytes (FERRY_ELIMIT), whatever the
 * Content-Length said. Messages name the URL without user, password or query string
 * (ferry_url_redact()); request headers and credentials never appear in messages.
 *
 * Redirects are not followed: a page URL that redirects is answered as it is (3xx) and the
 * caller decides, so credentials are never sent to a host the config did not name. Every
 * connection passes the request's destination policy (util/net_policy.h): a refused address
 * is an error that says how to allow it, never transient.
 *
 * The response keeps the headers of the final response only (not those of a 1xx), at most 100
 * header lines and 64 KiB of them; later ones are ignored. Nothing of one request (headers,
 * credentials, body) carries over to the next fetch on the same client.
 *
 * A client belongs to one thread. */
#ifndef FERRY_UTIL_HTTP_FETCH_H
#define FERRY_UTIL_HTTP_FETCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/net_policy.h"

typedef struct {
    const char *method;             /* "GET" when NULL, or "POST"; others are FERRY_EINVAL */
    const char *url;                /* http:// or https:// */
    const char *const *headers;     /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;               /* request body (POST only), or NULL */
    const char *user;               /* HTTP basic authentication when not NULL */
    const char *password;           /* with user; NULL means empty */
    long timeout_ms;                /* whole request; 0 for none */
    long connect_timeout_ms;        /* 0 for 30 s */
    long low_speed_time_s;          /* slower than 1 byte/s for this long fails; 0 for 60 s */
    size_t max_bytes;               /* a larger body fails with FERRY_ELIMIT; 0 for 64 MiB */
    const atomic_bool *cancel;      /* may be NULL; checked at least every 100 ms */
    const ferry_net_policy *policy; /* where it may connect; NULL: public addresses only */
} ferry_http_request;

typedef struct ferry_http_header ferry_http_header;

typedef struct {
    long status;        /* the final status code */
    ferry_buf body;     /* the body (decoded when the server compressed it) */
    char *content_type; /* or NULL */
    ferry_http_header
        *headers; /* private: every response header, for ferry_http_response_header() */
    size_t nheaders;
} ferry_http_response;

typedef struct ferry_http_client ferry_http_client;

/* Creates a client. On success *ret_client is owned by the caller (ferry_http_client_free()). */
ferry_rc ferry_http_client_new(ferry_http_client **ret_client, ferry_err *err);

/* Performs req (borrowed). On FERRY_OK *ret_resp holds the response and is owned by the caller
 * (ferry_http_response_done()), whatever the status. Errors: FERRY_EHTTP (transport; transient
 * when worth retrying), FERRY_ELIMIT (body over max_bytes), FERRY_ECANCELLED, FERRY_ENOMEM,
 * FERRY_EINVAL (no URL, a method other than GET or POST, a GET with a body). On an error
 * *ret_resp is left empty (safe to pass to ferry_http_response_done()). Call from the client's
 * thread. */
ferry_rc ferry_http_client_fetch(ferry_http_client *c, const ferry_http_request *req,
                                 ferry_http_response *ret_resp, ferry_err *err);

/* The two halves of a fetch, for a caller that has other work while the server answers:
 * start sends req (as far as one step without waiting gets: on a kept-alive connection the
 * whole request) and returns; finish waits for the answer and returns it as fetch does. One
 * request at a time: a start ends any request in flight; freeing the client ends it too.
 * Everything req points to must stay valid until finish returns. */
ferry_rc ferry_http_client_start(ferry_http_client *c, const ferry_http_request *req,
                                 ferry_err *err);
ferry_rc ferry_http_client_finish(ferry_http_client *c, ferry_http_response *ret_resp,
                                  ferry_err *err);

/* The value of response header name (case-insensitive), borrowed from resp; when the header
 * came several times, the values joined by ", " (RFC 9110 list semantics: several Link
 * headers read as one). NULL when absent. */
const char *ferry_http_response_header(const ferry_http_response *resp, const char *name);

/* Frees what the response holds and zeroes it; an all-zero response is allowed. */
void ferry_http_response_done(ferry_http_response *resp);

/* Frees the client; NULL is allowed. */
void ferry_http_client_free(ferry_http_client *c);

#endif
