/* http_stream.h - pull bytes from an http(s) URL as they arrive (libcurl multi interface).
 *
 * The caller reads with ferry_http_stream_read() as it needs bytes; libcurl is driven only
 * from inside that call, and pauses the transfer while more than 256 KiB wait unread, so
 * memory stays bounded however large the body. The body is counted after decoding as it
 * arrives, and a body past max_bytes ends the stream with FERRY_ELIMIT at once, whatever the
 * Content-Length said. Every connection, redirects included, passes the destination policy
 * (util/net_policy.h). Redirects are followed (Google Sheets export URLs answer with one), at
 * most 5, over http or https, never from https down to plain http. Statuses of 400 and above
 * end the stream with FERRY_EHTTP and a message naming the status and the URL without
 * credentials or query string. A stream given a cancel flag checks it while it waits for the
 * server (at least once a second), so a cancel does not wait for a slow or stalled server to
 * answer or time out.
 *
 * One stream belongs to one thread. */
#ifndef FERRY_UTIL_HTTP_STREAM_H
#define FERRY_UTIL_HTTP_STREAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/net_policy.h"

typedef struct ferry_http_stream ferry_http_stream;

/* How a stream runs. Pointers are borrowed for the stream's life. */
typedef struct {
    long timeout_ms;                /* the whole transfer; 0 for none */
    const atomic_bool *cancel;      /* may be NULL: once set, reads fail with FERRY_ECANCELLED */
    uint64_t max_bytes;             /* a larger (decoded) body fails with FERRY_ELIMIT; 0: none */
    const ferry_net_policy *policy; /* where it may connect; NULL: public addresses only */
    const char *auth_header;        /* "Authorization: Bearer ..." sent with the GET, or NULL
                                       (copied, wiped at close; curl drops it on a redirect to
                                       another host) */
    const char *share_with;         /* a service account's e-mail: a 401/403/404 says to share
                                       the sheet with it; or NULL */
} ferry_http_stream_options;

/* Starts a GET of url (opt borrowed; copied where needed, policy kept). On success
 * *ret_stream is owned by the caller (ferry_http_stream_close()). Connection errors, refusals
 * by the policy included, are reported by the first read, not here. */
ferry_rc ferry_http_stream_open(const char *url, const ferry_http_stream_options *opt,
                                ferry_http_stream **ret_stream, ferry_err *err);

/* Reads up to cap bytes into buf; *ret_n == 0 at the end of the body. */
ferry_rc ferry_http_stream_read(ferry_http_stream *s, char *buf, size_t cap, size_t *ret_n,
                                ferry_err *err);

/* The Content-Length of the response, or -1 when unknown (known once a read returned). */
int64_t ferry_http_stream_content_length(const ferry_http_stream *s);

/* Bytes received so far as sent (compressed when the server compresses), to compare with
 * the Content-Length for progress. */
int64_t ferry_http_stream_bytes_received(const ferry_http_stream *s);

/* The response's Content-Type (borrowed; NULL when unknown or before the first read). */
const char *ferry_http_stream_content_type(const ferry_http_stream *s);

/* Frees the stream; NULL is allowed. */
void ferry_http_stream_close(ferry_http_stream *s);

/* Writes n bytes as "64 MiB", "1 GiB", "512 KiB" or "1000 bytes" into out. */
void ferry_size_format(uint64_t n, char *out, size_t outlen);

#endif
