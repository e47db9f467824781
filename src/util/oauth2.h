/* oauth2.h - an OAuth 2.0 token endpoint's answer (RFC 6749 sections 5.1 and 5.2), read the
 * same way for every grant Ferry uses: client_credentials, refresh_token, and the JWT bearer
 * assertion of a Google service account. */
#ifndef FERRY_UTIL_OAUTH2_H
#define FERRY_UTIL_OAUTH2_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/net_policy.h"

/* The most of a token answer read (a larger one is refused by the fetch). */
#define FERRY_OAUTH2_ANSWER_MAX (64 * 1024)

typedef struct {
    char *access_token;  /* a secret: wiped by ferry_oauth2_answer_done() */
    int64_t expires_in;  /* seconds; 0 when the answer states none */
    char *refresh_token; /* a new refresh token (rotation), or NULL; a secret */
} ferry_oauth2_answer;

/* Reads a token endpoint's answer: status and content_type (may be NULL) as received, the
 * body (len bytes, borrowed; may be NULL when len is 0). where names the endpoint (a redacted
 * URL) and who the credentials ("the client ID abc", "the service account x@y") in messages.
 *
 * On success *ret owns the tokens (ferry_oauth2_answer_done()). Errors, never quoting a token:
 * FERRY_EREFUSED when the endpoint answered an OAuth2 error ("error", "error_description";
 * invalid_grant and invalid_client explained), FERRY_ESOURCE for anything else: a status
 * outside 2xx without an OAuth2 error (an HTML page, a 500: named with status and content
 * type), a 2xx body that is not a JSON object, or one without a usable access_token (empty,
 * over 4 KiB or holding a line break). Pure; any thread. */
ferry_rc ferry_oauth2_answer_parse(long status, const char *content_type, const char *body,
                                   size_t len, const char *where, const char *who,
                                   ferry_oauth2_answer *ret, ferry_err *err);

/* POSTs form (application/x-www-form-urlencoded, borrowed, a secret: the caller wipes it) to
 * the token endpoint url, with HTTP basic authentication when user is not NULL (RFC 6749
 * section 2.3.1: user and password already form-encoded by the caller), under policy and
 * cancel (borrowed, may be NULL), and reads the answer with ferry_oauth2_answer_parse() (who
 * as there; the endpoint named by its redacted URL). Transport failures name the endpoint.
 * Ownership of *ret as there. Any thread. */
ferry_rc ferry_oauth2_request(const char *url, const char *form, const char *user,
                              const char *password, const ferry_net_policy *policy,
                              const atomic_bool *cancel, const char *who, ferry_oauth2_answer *ret,
                              ferry_err *err);

/* Wipes and frees what a holds; accepts NULL and an empty answer. */
void ferry_oauth2_answer_done(ferry_oauth2_answer *a);

#endif
