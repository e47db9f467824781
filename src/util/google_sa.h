/* google_sa.h - Google service-account keys and the RS256 JWT that trades one for an access
 * token (RFC 7519, RFC 7515, Google's "OAuth 2.0 for server to server applications"). */
#ifndef FERRY_UTIL_GOOGLE_SA_H
#define FERRY_UTIL_GOOGLE_SA_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"
#include "util/err.h"

/* The scopes asked for when a config names none: read a sheet and export it. */
#define FERRY_GOOGLE_SA_SCOPE_DEFAULT                                                              \
    "https://www.googleapis.com/auth/spreadsheets.readonly "                                       \
    "https://www.googleapis.com/auth/drive.readonly"

/* A JWT lives at most this long (Google refuses more). */
#define FERRY_GOOGLE_SA_JWT_LIFETIME 3600

/* The most a key file may hold (Google's are about 2.3 KiB). */
#define FERRY_GOOGLE_SA_KEY_MAX (64 * 1024)

typedef struct {
    char *client_email; /* the account's e-mail: the JWT's iss, and whom to share a sheet with */
    char *token_uri;    /* where the JWT is exchanged: the JWT's aud */
    char *private_key;  /* PEM; wiped when freed, never shown */
} ferry_google_sa_key;

/* Parses a service-account key file's JSON (json, len bytes; borrowed) into *key, which the
 * caller frees with ferry_google_sa_key_done(). Refuses text that is not JSON, a key whose
 * "type" is not "service_account", and one missing client_email, token_uri or private_key;
 * err says which, naming `what` (the file or variable) and never the key's contents. On
 * failure *key is left empty. Any thread. */
ferry_rc ferry_google_sa_key_parse(const char *json, size_t len, const char *what,
                                   ferry_google_sa_key *key, ferry_err *err);

/* Frees what key owns, wiping the private key first. Accepts NULL and an empty key. */
void ferry_google_sa_key_done(ferry_google_sa_key *key);

/* Appends the base64url form (RFC 4648 section 5, no padding) of n bytes at p to out. */
ferry_rc ferry_base64url_append(ferry_buf *out, const void *p, size_t n);

/* Builds the signed assertion for key (borrowed): header {"alg":"RS256","typ":"JWT"}, claims
 * iss = client_email, scope (NULL: FERRY_GOOGLE_SA_SCOPE_DEFAULT), aud = token_uri, iat =
 * now, exp = now + FERRY_GOOGLE_SA_JWT_LIFETIME, signed with the key's private key
 * (RSASSA-PKCS1-v1_5 with SHA-256). Appends "header.claims.signature" to out. A private key
 * that does not load or is not RSA is an error that does not show it. Any thread. */
ferry_rc ferry_google_sa_jwt_build(const ferry_google_sa_key *key, const char *scope, time_t now,
                                   ferry_buf *out, ferry_err *err);

#endif
