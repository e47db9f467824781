/* fuzz_embed_token.c - fuzz target for embed tokens (auth/embed_token.c), which arrive from
 * anyone in an Authorization header.
 *
 * The input is read three ways, so that the claims parser is reached although a mutation
 * almost never makes a valid signature:
 * 1. as a token, verified as it is;
 * 2. as a token whose signature is replaced by the right one for its first two segments;
 * 3. as "HEADER JSON\nCLAIMS JSON", each base64url-encoded and the pair signed.
 * Checked (a violation aborts): a failure is FERRY_EINVAL (or FERRY_ENOMEM) with a one-line
 * message that never holds the key, and returns no claims; a success (never for way 1 unless
 * its signature is right) has a sub and optional name and email of 1 to 256 bytes without
 * control characters or quotes, an exp not past now beyond the leeway, a lifetime within
 * max_age, and lists within their bounds whose limits allow exactly their entries. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/embed_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_embed_token: invariant failed: %s (line %d)\n", #cond,           \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define NOW 1800000000
#define MAX_AGE 600
#define OUT_MAX (2 * FERRY_EMBED_TOKEN_MAX + 256)

static const char key[] = "fuzzing-key-fuzzing-key-fuzzing-key!";

static void check_text(const char *s)
{
    size_t n;

    if (s == NULL)
        return;
    n = strlen(s);
    CHECK(n >= 1 && n <= FERRY_EMBED_CLAIM_MAX);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        CHECK(*p >= 0x20 && *p != 0x7f && *p != '"' && *p != '\\');
}

static void verify(const char *token)
{
    ferry_embed_claims c;
    ferry_err err;
    ferry_rc rc;

    memset(&c, 0, sizeof(c));
    ferry_err_clear(&err);
    rc = ferry_embed_token_verify(token, (const unsigned char *)key, strlen(key), NOW, MAX_AGE, &c,
                                  &err);
    if (rc != FERRY_OK) {
        CHECK(rc == FERRY_EINVAL || rc == FERRY_ENOMEM);
        CHECK(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL);
        CHECK(strstr(err.msg, key) == NULL);
        CHECK(c.sub == NULL && c.syncs == NULL && c.tenants == NULL);
        return;
    }
    CHECK(c.sub != NULL);
    check_text(c.sub);
    check_text(c.name);
    check_text(c.email);
    CHECK(NOW < c.exp + FERRY_EMBED_LEEWAY_S);
    CHECK(c.exp - (c.iat != 0 ? c.iat : NOW) <= MAX_AGE + FERRY_EMBED_LEEWAY_S || c.iat == 0);
    CHECK(c.nsyncs <= FERRY_EMBED_LIST_MAX && c.ntenants <= FERRY_EMBED_LIST_MAX);
    CHECK(c.limit_syncs || (c.syncs == NULL && c.nsyncs == 0));
    for (size_t i = 0; i < c.nsyncs; i++)
        CHECK(ferry_embed_claims_allow_sync(&c, c.syncs[i]));
    for (size_t i = 0; i < c.ntenants && c.nsyncs > 0; i++)
        CHECK(ferry_embed_claims_allow(&c, c.syncs[0], c.tenants[i]));
    CHECK(!c.limit_syncs || c.nsyncs > 0 || !ferry_embed_claims_allow_sync(&c, "x"));
    ferry_embed_claims_done(&c);
}

/* Appends the HS256 signature of out (its first two segments) to out. */
static void sign(char *out, size_t len)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    size_t n = strlen(out);

    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)out, n);
    crypto_auth_hmacsha256_final(&st, mac);
    if (n + 2 + sodium_base64_ENCODED_LEN(sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING) >
        len)
        return;
    out[n++] = '.';
    sodium_bin2base64(out + n, len - n, mac, sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[OUT_MAX];
    char *text, *dot, *nl;
    size_t hlen, clen, n;

    if (sodium_init() < 0)
        return 0;
    if (size > FERRY_EMBED_TOKEN_MAX + 16 || (text = malloc(size + 1)) == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    verify(text); /* 1: as it is */
    /* 2: re-signed */
    dot = strchr(text, '.');
    dot = dot != NULL ? strchr(dot + 1, '.') : NULL;
    if (dot != NULL && (size_t)(dot - text) < OUT_MAX / 2) {
        memcpy(out, text, (size_t)(dot - text));
        out[dot - text] = '\0';
        sign(out, sizeof(out));
        verify(out);
    }
    /* 3: two JSON texts, encoded and signed */
    nl = memchr(text, '\n', size);
    if (nl != NULL) {
        hlen = (size_t)(nl - text);
        clen = size - hlen - 1;
        if (sodium_base64_ENCODED_LEN(hlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
                sodium_base64_ENCODED_LEN(clen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 64 <
            sizeof(out)) {
            sodium_bin2base64(out, sizeof(out), (const unsigned char *)text, hlen,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING);
            n = strlen(out);
            out[n++] = '.';
            sodium_bin2base64(out + n, sizeof(out) - n, (const unsigned char *)nl + 1, clen,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING);
            sign(out, sizeof(out));
            verify(out);
        }
    }
    free(text);
    return 0;
}
