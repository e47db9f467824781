/* sealed.h - secrets Ferry keeps in its store (a rotated OAuth2 refresh token), encrypted
 * with a key from the environment: libsodium's crypto_secretbox (XSalsa20-Poly1305) with a
 * random nonce, so the store's file or database alone never gives a secret away. */
#ifndef FERRY_UTIL_SEALED_H
#define FERRY_UTIL_SEALED_H

#include "util/err.h"

#define FERRY_SEALED_KEY_BYTES 32

/* The variable read when the config names none (store_key_env:). */
#define FERRY_SEALED_KEY_ENV "FERRY_STORE_KEY"

/* The most a sealed secret may hold, in clear. */
#define FERRY_SEALED_PLAIN_MAX 8192

/* Reads the key from the environment variable var (64 hex characters) into key. Errors
 * (FERRY_ECREDENTIAL) name the variable, never its value: unset or empty, or not 64 hex
 * characters. Any thread. */
ferry_rc ferry_sealed_key_read(const char *var, unsigned char key[FERRY_SEALED_KEY_BYTES],
                               ferry_err *err);

/* Encrypts plain (borrowed, at most FERRY_SEALED_PLAIN_MAX bytes) with key into text safe to
 * store: "v1." then the base64 of nonce and box. On success *ret_text is owned by the caller
 * (free()). Any thread. */
ferry_rc ferry_sealed_seal(const unsigned char key[FERRY_SEALED_KEY_BYTES], const char *plain,
                           char **ret_text, ferry_err *err);

/* Decrypts what ferry_sealed_seal() made. var names the key's variable in the error when the
 * text does not decrypt with key (FERRY_ECREDENTIAL: another key, or the text altered) or is
 * not sealed text. On success *ret_plain is owned by the caller (a secret: wipe, then
 * free()). Any thread. */
ferry_rc ferry_sealed_open(const unsigned char key[FERRY_SEALED_KEY_BYTES], const char *text,
                           const char *var, char **ret_plain, ferry_err *err);

#endif
