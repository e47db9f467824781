/* sealed.c - secrets encrypted for the store (see sealed.h).
 *
 * The stored text is "v1." + base64(nonce[24] || crypto_secretbox_easy(plain)); the version
 * prefix leaves room for another scheme. A key is exactly 32 bytes given as 64 hex characters;
 * anything else is refused rather than stretched, so a typo is an error and not a weak key.
 * Pure apart from getenv() and allocations; any thread. */
#include "util/sealed.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "v1."

ferry_rc ferry_sealed_key_read(const char *var, unsigned char key[FERRY_SEALED_KEY_BYTES],
                               ferry_err *err)
{
    const char *hex = getenv(var);
    size_t n = 0;

    if (hex == NULL || hex[0] == '\0')
        return ferry_err_set(err, FERRY_ECREDENTIAL,
                             "the store key is read from the environment variable %s, which is "
                             "not set (64 hex characters, such as the output of "
                             "`openssl rand -hex 32`)",
                             var);
    if (strlen(hex) != 2 * FERRY_SEALED_KEY_BYTES ||
        sodium_hex2bin(key, FERRY_SEALED_KEY_BYTES, hex, strlen(hex), NULL, &n, NULL) != 0 ||
        n != FERRY_SEALED_KEY_BYTES) {
        sodium_memzero(key, FERRY_SEALED_KEY_BYTES);
        return ferry_err_set(err, FERRY_ECREDENTIAL,
                             "the environment variable %s does not hold a store key: it needs "
                             "64 hex characters (32 bytes)",
                             var);
    }
    return FERRY_OK;
}

ferry_rc ferry_sealed_seal(const unsigned char key[FERRY_SEALED_KEY_BYTES], const char *plain,
                           char **ret_text, ferry_err *err)
{
    size_t plen = strlen(plain),
           blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plen;
    size_t tlen =
        sizeof(PREFIX) - 1 + sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL);
    unsigned char *box;
    char *text;

    if (plen > FERRY_SEALED_PLAIN_MAX)
        return ferry_err_set(err, FERRY_ELIMIT, "a secret to store is longer than %d bytes",
                             FERRY_SEALED_PLAIN_MAX);
    box = malloc(blen);
    text = malloc(tlen);
    if (box == NULL || text == NULL) {
        free(box);
        free(text);
        return ferry_err_set(err, FERRY_ENOMEM, "encrypting a secret");
    }
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, plen,
                          box, key);
    memcpy(text, PREFIX, sizeof(PREFIX) - 1);
    sodium_bin2base64(text + sizeof(PREFIX) - 1, tlen - (sizeof(PREFIX) - 1), box, blen,
                      sodium_base64_VARIANT_ORIGINAL);
    free(box);
    *ret_text = text;
    return FERRY_OK;
}

ferry_rc ferry_sealed_open(const unsigned char key[FERRY_SEALED_KEY_BYTES], const char *text,
                           const char *var, char **ret_plain, ferry_err *err)
{
    size_t tlen = strlen(text), blen = 0, plen;
    unsigned char *box = NULL;
    char *plain = NULL;
    ferry_rc rc;

    if (strncmp(text, PREFIX, sizeof(PREFIX) - 1) != 0)
        return ferry_err_set(err, FERRY_ECREDENTIAL,
                             "a stored secret is not in a form this Ferry knows");
    text += sizeof(PREFIX) - 1;
    tlen -= sizeof(PREFIX) - 1;
    box = malloc(tlen + 1);
    if (box == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "decrypting a secret");
    if (sodium_base642bin(box, tlen + 1, text, tlen, NULL, &blen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        rc = ferry_err_set(err, FERRY_ECREDENTIAL,
                           "a stored secret is not in a form this Ferry knows");
        goto out_free_box;
    }
    plen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    plain = malloc(plen + 1);
    if (plain == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "decrypting a secret");
        goto out_free_box;
    }
    if (crypto_secretbox_open_easy((unsigned char *)plain, box + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, box, key) != 0 ||
        memchr(plain, '\0', plen) != NULL) {
        free(plain);
        rc = ferry_err_set(err, FERRY_ECREDENTIAL,
                           "a stored secret does not decrypt with the key in the environment "
                           "variable %s (was the key changed? set the key it was stored with, or "
                           "authorize Ferry again)",
                           var);
        goto out_free_box;
    }
    plain[plen] = '\0';
    *ret_plain = plain;
    rc = FERRY_OK;

out_free_box:
    free(box);
    return rc;
}
