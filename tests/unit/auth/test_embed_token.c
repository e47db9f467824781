/* test_embed_token.c - embed tokens (src/auth/embed_token.c): HS256 JSON Web Tokens minted
 * here the way a host application does (HMAC-SHA256 over "HEADER.CLAIMS", base64url), then
 * verified: a good one gives its claims; an expired, early, too long-lived, altered, unsigned
 * or otherwise-signed one is refused with a reason; admin is taken as operator; and the
 * syncs and tenants claims limit what may be touched. */
#include "auth/embed_token.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#define NOW 1800000000
#define MAX_AGE 600

static const char secret[] = "a-secret-of-the-host-application-0123456789";

static void b64(const char *in, size_t len, char *out, size_t outlen)
{
    sodium_bin2base64(out, outlen, (const unsigned char *)in, len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Mints header.claims.signature into out with key. */
static void mint_with(const char *header, const char *claims, const char *key, char *out,
                      size_t outlen)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char h[1024], c[2048], s[64];
    crypto_auth_hmacsha256_state st;

    b64(header, strlen(header), h, sizeof(h));
    b64(claims, strlen(claims), c, sizeof(c));
    snprintf(out, outlen, "%s.%s", h, c);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)out, strlen(out));
    crypto_auth_hmacsha256_final(&st, mac);
    b64((const char *)mac, sizeof(mac), s, sizeof(s));
    snprintf(out + strlen(out), outlen - strlen(out), ".%s", s);
}

static void mint(const char *claims, char *out, size_t outlen)
{
    mint_with("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims, secret, out, outlen);
}

static ferry_rc verify(const char *token, ferry_embed_claims *c, ferry_err *err)
{
    ferry_err_clear(err);
    memset(c, 0, sizeof(*c));
    return ferry_embed_token_verify(token, (const unsigned char *)secret, strlen(secret), NOW,
                                    MAX_AGE, c, err);
}

static void refused(const char *token, const char *why)
{
    ferry_embed_claims c;
    ferry_err err;

    assert_int_equal(verify(token, &c, &err), FERRY_EINVAL);
    assert_non_null(strstr(err.msg, why));
    assert_null(strstr(err.msg, secret));
    assert_null(c.sub);
}

static void good_token_gives_its_claims(void **state)
{
    ferry_embed_claims c;
    ferry_err err;
    char t[4096];

    (void)state;
    mint("{\"sub\":\"u42\",\"name\":\"Olga\",\"email\":\"olga@clinic.example\",\"role\":"
         "\"operator\",\"iat\":1800000000,\"exp\":1800000300,\"syncs\":[\"therapists\"],"
         "\"tenants\":[\"clinic-1\",\"clinic-2\"]}",
         t, sizeof(t));
    assert_int_equal(verify(t, &c, &err), FERRY_OK);
    assert_string_equal(c.sub, "u42");
    assert_string_equal(c.name, "Olga");
    assert_string_equal(c.email, "olga@clinic.example");
    assert_true(c.is_operator);
    assert_int_equal(c.exp, 1800000300);
    assert_true(c.limit_syncs);
    assert_int_equal(c.nsyncs, 1);
    assert_int_equal(c.ntenants, 2);
    assert_true(ferry_embed_claims_allow(&c, "therapists", "clinic-2"));
    assert_false(ferry_embed_claims_allow(&c, "therapists", "clinic-3"));
    assert_false(ferry_embed_claims_allow(&c, "therapists", NULL)); /* one organisation's */
    assert_false(ferry_embed_claims_allow(&c, "schedules", "clinic-1"));
    assert_false(ferry_embed_claims_allow_sync(&c, "schedules"));
    ferry_embed_claims_done(&c);
}

static void without_limits_anything_may_be_touched(void **state)
{
    ferry_embed_claims c;
    ferry_err err;
    char t[4096];

    (void)state;
    mint("{\"sub\":\"u1\",\"role\":\"viewer\",\"exp\":1800000060}", t, sizeof(t));
    assert_int_equal(verify(t, &c, &err), FERRY_OK);
    assert_false(c.is_operator);
    assert_null(c.email);
    assert_true(ferry_embed_claims_allow(&c, "any", NULL));
    assert_true(ferry_embed_claims_allow(&c, "any", "tenant"));
    ferry_embed_claims_done(&c);
}

static void admin_role_is_taken_as_operator(void **state)
{
    ferry_embed_claims c;
    ferry_err err;
    char t[4096];

    (void)state;
    mint("{\"sub\":\"boss\",\"role\":\"admin\",\"exp\":1800000060}", t, sizeof(t));
    assert_int_equal(verify(t, &c, &err), FERRY_OK);
    assert_true(c.is_operator);
    ferry_embed_claims_done(&c);
    mint("{\"sub\":\"boss\",\"role\":\"root\",\"exp\":1800000060}", t, sizeof(t));
    refused(t, "role must be viewer or operator");
    mint("{\"sub\":\"boss\",\"exp\":1800000060}", t, sizeof(t));
    refused(t, "role must be viewer or operator");
}

static void expired_token_says_it_expired(void **state)
{
    char t[4096];

    (void)state;
    mint("{\"sub\":\"u1\",\"role\":\"viewer\",\"iat\":1799999000,\"exp\":1799999500}", t,
         sizeof(t));
    refused(t, "the embed token expired 500 s ago");
    mint("{\"sub\":\"u1\",\"role\":\"viewer\"}", t, sizeof(t));
    refused(t, "no exp (expiry) claim");
}

static void token_living_past_max_age_is_refused(void **state)
{
    char t[4096];

    (void)state;
    mint("{\"sub\":\"u1\",\"role\":\"viewer\",\"iat\":1800000000,\"exp\":1800086400}", t,
         sizeof(t));
    refused(t, "lives longer than embed.max_age (600 s)");
    mint("{\"sub\":\"u1\",\"role\":\"viewer\",\"exp\":1800003600}", t, sizeof(t)); /* no iat */
    refused(t, "lives longer than embed.max_age");
    mint("{\"sub\":\"u1\",\"role\":\"viewer\",\"iat\":1800000500,\"exp\":1800000600}", t,
         sizeof(t));
    refused(t, "not valid yet");
}

static void altered_token_is_refused(void **state)
{
    char t[4096], other[4096], *dot;
    char claims[512];

    (void)state;
    mint("{\"sub\":\"u1\",\"role\":\"viewer\",\"exp\":1800000060}", t, sizeof(t));
    /* The claims of an operator token, with the viewer token's signature. */
    mint("{\"sub\":\"u1\",\"role\":\"operator\",\"exp\":1800000060}", other, sizeof(other));
    dot = strrchr(other, '.');
    snprintf(claims, sizeof(claims), "%s", strrchr(t, '.'));
    snprintf(dot, sizeof(other) - (size_t)(dot - other), "%s", claims);
    refused(other, "signature does not match");
    mint_with("{\"alg\":\"HS256\"}", "{\"sub\":\"u1\",\"role\":\"viewer\",\"exp\":1800000060}",
              "another-secret-another-secret-000", t, sizeof(t));
    refused(t, "signature does not match");
    t[strlen(t) - 2] = '\0'; /* a cut signature */
    refused(t, "signature does not match");
}

static void only_hs256_is_accepted(void **state)
{
    char t[4096], h[128], c[512];

    (void)state;
    mint_with("{\"alg\":\"none\"}", "{\"sub\":\"u1\",\"role\":\"operator\",\"exp\":1800000060}",
              secret, t, sizeof(t));
    refused(t, "must be signed with HS256");
    /* alg none as attackers send it: no signature at all. */
    b64("{\"alg\":\"none\"}", 14, h, sizeof(h));
    snprintf(c, sizeof(c), "{\"sub\":\"u1\",\"role\":\"operator\",\"exp\":1800000060}");
    b64(c, strlen(c), c + 256, sizeof(c) - 256);
    memmove(c, c + 256, strlen(c + 256) + 1);
    snprintf(t, sizeof(t), "%s.%s.", h, c);
    refused(t, "must be signed with HS256");
    mint_with("{\"alg\":\"HS512\"}", "{\"sub\":\"u1\",\"role\":\"operator\",\"exp\":1800000060}",
              secret, t, sizeof(t));
    refused(t, "must be signed with HS256");
    mint_with("{\"alg\":\"HS256\",\"crit\":[\"x\"]}",
              "{\"sub\":\"u1\",\"role\":\"operator\",\"exp\":1800000060}", secret, t, sizeof(t));
    refused(t, "must be signed with HS256");
}

static void malformed_tokens_are_refused(void **state)
{
    char t[4096];

    (void)state;
    refused("", "not a JSON Web Token");
    refused("abc", "not a JSON Web Token");
    refused("a.b.c.d", "not a JSON Web Token");
    refused("!!!.e30.xx", "header is not base64url-encoded JSON");
    refused("e30.e30.", "must be signed with HS256"); /* {} has no alg */
    mint("[1,2]", t, sizeof(t));
    refused(t, "claims are not base64url-encoded JSON");
    mint("{\"sub\":\"u\\n1\",\"role\":\"viewer\",\"exp\":1800000060}", t, sizeof(t));
    refused(t, "sub must be a string");
    mint("{\"sub\":\"u1\",\"email\":\"a\\\"b\",\"role\":\"viewer\",\"exp\":1800000060}", t,
         sizeof(t));
    refused(t, "name and email must be strings");
    mint("{\"sub\":\"u1\",\"role\":\"viewer\",\"exp\":1800000060,\"syncs\":\"therapists\"}", t,
         sizeof(t));
    refused(t, "syncs and tenants must be lists");
    mint("{\"sub\":\"u1\",\"role\":\"viewer\",\"exp\":\"soon\"}", t, sizeof(t));
    refused(t, "must be numbers");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_token_gives_its_claims),
        cmocka_unit_test(without_limits_anything_may_be_touched),
        cmocka_unit_test(admin_role_is_taken_as_operator),
        cmocka_unit_test(expired_token_says_it_expired),
        cmocka_unit_test(token_living_past_max_age_is_refused),
        cmocka_unit_test(altered_token_is_refused),
        cmocka_unit_test(only_hs256_is_accepted),
        cmocka_unit_test(malformed_tokens_are_refused),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
