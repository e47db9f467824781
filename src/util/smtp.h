/* smtp.h - sending one plain-text e-mail through an SMTP server, with libcurl.
 *
 * The server is named by a URL: smtps://host:465 (TLS from the first byte) or
 * smtp://host:587, where STARTTLS is required before anything else is sent unless the caller
 * turns it off (a relay on the same host). The certificate is verified against the system's
 * CAs, or ca_file when given. A login (user and password) is used when both are given; the
 * password never appears in err.
 *
 * The message is built here: Date, From, To, Subject (RFC 2047 encoded when it is not ASCII),
 * Message-ID, MIME-Version and a text/plain UTF-8 body with CRLF line ends, lines longer than
 * SMTP allows split at a character boundary. Header values lose CR and LF, so a subject or an
 * address cannot add a header. libcurl doubles a line's leading dot. */
#ifndef FERRY_UTIL_SMTP_H
#define FERRY_UTIL_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

typedef struct {
    const char *url;      /* smtps://host[:port] or smtp://host[:port] */
    const char *user;     /* NULL: no login */
    const char *password; /* NULL: no login */
    const char *from;     /* the sender's address, "ferry@clinic.example" */
    const char *ca_file;  /* NULL: the system's CAs */
    bool no_starttls;     /* smtp:// only: send in clear (refused when a login is given) */
    long timeout_ms;      /* the whole exchange; 0: 30 s */
} ferry_smtp_server;

/* The server's last answer to a failed exchange ("535 5.7.8 Authentication failed") is kept
 * in err's message, with what failed; err->transient is set when trying again later may work
 * (a connection error, a timeout, a 4xx answer). to holds n_to addresses (at least one). */
ferry_rc ferry_smtp_send(const ferry_smtp_server *srv, const char *const *to, size_t n_to,
                         const char *subject, const char *body, ferry_err *err);

/* The message ferry_smtp_send() sends, for tests and logs: headers, a blank line, the body;
 * CRLF line ends. date is a Unix time in seconds. Returns NULL when out of memory. */
char *ferry_smtp_message_format(const ferry_smtp_server *srv, const char *const *to, size_t n_to,
                                const char *subject, const char *body, long long date);

#endif
