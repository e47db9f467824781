/* session.c - session ids and CSRF tokens on libsodium (see session.h). */
#include "auth/session.h"

#include <sodium.h>
#include <string.h>

#define SESSION_PREFIX "fs_"
#define CSRF_DOMAIN "ferry csrf v1:"

ferry_rc ferry_session_new(char id[FERRY_SESSION_ID_MAX], char hash_hex[FERRY_TOKEN_HASH_HEX],
                           ferry_err *err)
{
    unsigned char raw[32];

    if (sodium_init() < 0)
        return ferry_err_set(err, FERRY_EIO, "the cryptography library could not start");
    randombytes_buf(raw, sizeof(raw));
    memcpy(id, SESSION_PREFIX, 3);
    sodium_bin2base64(id + 3, FERRY_SESSION_ID_MAX - 3, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    ferry_token_hash(id, hash_hex);
    return FERRY_OK;
}

bool ferry_session_id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n != 46 || strncmp(id, SESSION_PREFIX, 3) != 0)
        return false;
    for (size_t i = 3; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

void ferry_session_csrf(const char *id, char csrf[FERRY_CSRF_MAX])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)CSRF_DOMAIN, strlen(CSRF_DOMAIN));
    crypto_hash_sha256_update(&st, (const unsigned char *)id, strlen(id));
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(csrf, FERRY_CSRF_MAX, digest, sizeof(digest));
}

bool ferry_session_csrf_ok(const char *id, const char *presented)
{
    char want[FERRY_CSRF_MAX];
    bool ok;

    if (presented == NULL || strlen(presented) != FERRY_CSRF_MAX - 1)
        return false;
    ferry_session_csrf(id, want);
    ok = sodium_memcmp(want, presented, FERRY_CSRF_MAX - 1) == 0;
    sodium_memzero(want, sizeof(want));
    return ok;
}
