/* password.h - password hashing (Argon2id, through libsodium) and reading one from a person.
 *
 * Hashes are libsodium's self-describing strings ("$argon2id$v=19$m=...,t=...,p=...$...$..."),
 * so the cost can be raised later without losing old hashes. Hashing costs about 64 MiB and a
 * fraction of a second by design; callers bound how many run at once. */
#ifndef FERRY_UTIL_PASSWORD_H
#define FERRY_UTIL_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define FERRY_PASSWORD_MIN 8
#define FERRY_PASSWORD_MAX 1024
#define FERRY_PASSWORD_HASH_MAX 128

/* Hashes password into out (FERRY_PASSWORD_HASH_MAX bytes). Refuses passwords shorter than
 * FERRY_PASSWORD_MIN or longer than FERRY_PASSWORD_MAX bytes. */
ferry_rc ferry_password_hash(const char *password, char out[FERRY_PASSWORD_HASH_MAX],
                             ferry_err *err);

/* True when password matches hash. */
bool ferry_password_verify(const char *password, const char *hash);

/* Reads a password: from a terminal with the echo off (asking twice when confirm is set), or
 * one line of standard input when from_stdin (for scripts). out holds FERRY_PASSWORD_MAX + 1
 * bytes; the caller wipes it with ferry_password_wipe(). */
ferry_rc ferry_password_read(const char *prompt, bool confirm, bool from_stdin, char *out,
                             ferry_err *err);

#define FERRY_TOKEN_MAX 64      /* "fy_" and 43 base64url characters, NUL included */
#define FERRY_TOKEN_HASH_HEX 65 /* SHA-256 in hex, NUL included */

/* Makes a new API token (256 random bits, "fy_..."): out receives the token, to show once;
 * hash_hex its SHA-256, to store. */
ferry_rc ferry_token_new(char out[FERRY_TOKEN_MAX], char hash_hex[FERRY_TOKEN_HASH_HEX],
                         ferry_err *err);

/* The SHA-256 (hex) of a presented token, to look it up. */
void ferry_token_hash(const char *token, char hash_hex[FERRY_TOKEN_HASH_HEX]);

/* Overwrites len bytes of a secret so it does not linger in memory. */
void ferry_password_wipe(void *p, size_t len);

/* Wipes the NUL-terminated secret s (a token, a key, a form holding one) and frees it; NULL is
 * allowed. */
void ferry_password_free(char *s);

#endif
