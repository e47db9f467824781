/* session.h - login session ids and the CSRF token derived from each.
 *
 * A session id is 256 random bits ("fs_" + base64url), sent to the browser in an HttpOnly
 * cookie and stored only as its SHA-256. The CSRF token is derived from the id (a SHA-256
 * with its own prefix), so it needs no storage, changes with every login, and cannot be
 * turned back into the id. Both are compared in constant time. */
#ifndef FERRY_AUTH_SESSION_H
#define FERRY_AUTH_SESSION_H

#include <stdbool.h>

#include "util/err.h"
#include "util/password.h"

#define FERRY_SESSION_COOKIE "ferry_session"
#define FERRY_SESSION_ID_MAX 64 /* "fs_" and 43 base64url characters, NUL included */
#define FERRY_CSRF_MAX 65       /* 64 hex characters, NUL included */

/* Makes a new session id (to send once, in the cookie) and its hash (to store). */
ferry_rc ferry_session_new(char id[FERRY_SESSION_ID_MAX], char hash_hex[FERRY_TOKEN_HASH_HEX],
                           ferry_err *err);

/* True when id looks like a session id (so junk cookies are refused before any lookup). */
bool ferry_session_id_ok(const char *id);

/* The CSRF token of session id. */
void ferry_session_csrf(const char *id, char csrf[FERRY_CSRF_MAX]);

/* True when the presented CSRF token belongs to session id (constant time). */
bool ferry_session_csrf_ok(const char *id, const char *presented);

#endif
