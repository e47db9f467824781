/* test_google_sa.c - service-account keys and their assertions: base64url, the key file's
 * checks, and a JWT whose claims are Google's and whose RS256 signature verifies with the
 * public half of a key made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "util/google_sa.h"

static void base64url_has_no_padding_and_url_letters(void **state)
{
    ferry_buf b;

    (void)state;
    ferry_buf_init(&b, 64);
    assert_int_equal(ferry_base64url_append(&b, "\xfb\xff\xbf", 3), FERRY_OK);
    assert_string_equal(b.data, "-_-_");
    ferry_buf_reset(&b);
    assert_int_equal(ferry_base64url_append(&b, "f", 1), FERRY_OK);
    assert_string_equal(b.data, "Zg");
    ferry_buf_reset(&b);
    assert_int_equal(ferry_base64url_append(&b, "fo", 2), FERRY_OK);
    assert_string_equal(b.data, "Zm8");
    ferry_buf_reset(&b);
    assert_int_equal(ferry_base64url_append(&b, "foobar", 6), FERRY_OK);
    assert_string_equal(b.data, "Zm9vYmFy");
    ferry_buf_done(&b);
}

static void a_file_that_is_not_a_service_account_key_is_named_as_such(void **state)
{
    static const char user_key[] = "{\"type\": \"authorized_user\", \"client_id\": \"x\"}";
    static const char no_email[] =
        "{\"type\": \"service_account\", \"token_uri\": \"t\", \"private_key\": \"SECRETPEM\"}";
    ferry_google_sa_key key;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_google_sa_key_parse("<html>", 6, "key.json", &key, &err), FERRY_ESOURCE);
    assert_string_equal(err.msg, "key.json is not a service-account key: not JSON");
    ferry_err_clear(&err);
    assert_int_equal(ferry_google_sa_key_parse(user_key, strlen(user_key), "key.json", &key, &err),
                     FERRY_ESOURCE);
    assert_non_null(strstr(err.msg, "\"type\" is not \"service_account\""));
    ferry_err_clear(&err);
    assert_int_equal(ferry_google_sa_key_parse(no_email, strlen(no_email), "key.json", &key, &err),
                     FERRY_ESOURCE);
    assert_string_equal(err.msg,
                        "key.json is not a service-account key: it has no \"client_email\"");
    assert_null(strstr(err.msg, "SECRETPEM"));
    assert_null(key.private_key);
}

static char *make_rsa_pem(EVP_PKEY **ret_pkey)
{
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *pem;
    long n;

    assert_non_null(pkey);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &data);
    pem = strndup(data, (size_t)n);
    BIO_free(bio);
    *ret_pkey = pkey;
    return pem;
}

static void b64url_decode(const char *s, size_t n, unsigned char *out, size_t *ret_len)
{
    char tmp[1024];
    size_t i, padded;
    int len;

    assert_true(n + 4 < sizeof(tmp));
    for (i = 0; i < n; i++)
        tmp[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    padded = (n + 3) / 4 * 4;
    for (; i < padded; i++)
        tmp[i] = '=';
    len = EVP_DecodeBlock(out, (const unsigned char *)tmp, (int)padded);
    assert_true(len >= 0);
    *ret_len = (size_t)len - (padded - n);
}

static void the_assertion_carries_googles_claims_and_verifies_with_rs256(void **state)
{
    ferry_google_sa_key key = {0};
    unsigned char claims[1024], sig[512];
    size_t claims_len, sig_len;
    const char *dot1, *dot2;
    EVP_PKEY *pkey;
    EVP_MD_CTX *ctx;
    json_t *c;
    ferry_buf b;
    ferry_err err;

    (void)state;
    key.client_email = strdup("sync@proj.iam.gserviceaccount.com");
    key.token_uri = strdup("https://oauth2.googleapis.com/token");
    key.private_key = make_rsa_pem(&pkey);
    ferry_buf_init(&b, 8192);
    ferry_err_clear(&err);
    assert_int_equal(ferry_google_sa_jwt_build(&key, NULL, 1700000000, &b, &err), FERRY_OK);
    dot1 = strchr(b.data, '.');
    assert_non_null(dot1);
    dot2 = strchr(dot1 + 1, '.');
    assert_non_null(dot2);
    assert_null(strchr(dot2 + 1, '.'));
    assert_null(strchr(b.data, '='));
    assert_int_equal(strncmp(b.data, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.", 37), 0);

    b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), claims, &claims_len);
    c = json_loadb((const char *)claims, claims_len, 0, NULL);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "iss")), key.client_email);
    assert_string_equal(json_string_value(json_object_get(c, "aud")), key.token_uri);
    assert_string_equal(json_string_value(json_object_get(c, "scope")),
                        FERRY_GOOGLE_SA_SCOPE_DEFAULT);
    assert_int_equal(json_integer_value(json_object_get(c, "iat")), 1700000000);
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), 1700000000 + 3600);
    json_decref(c);

    b64url_decode(dot2 + 1, strlen(dot2 + 1), sig, &sig_len);
    assert_int_equal(sig_len, 256);
    ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
    assert_int_equal(
        EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)b.data, (size_t)(dot2 - b.data)),
        1);
    /* One changed byte of the signed part no longer verifies. */
    b.data[40] ^= 1;
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
    assert_int_not_equal(
        EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)b.data, (size_t)(dot2 - b.data)),
        1);
    EVP_MD_CTX_free(ctx);

    ferry_buf_reset(&b);
    assert_int_equal(ferry_google_sa_jwt_build(&key, "https://x/scope", 5, &b, &err), FERRY_OK);
    EVP_PKEY_free(pkey);
    ferry_google_sa_key_done(&key);
    ferry_buf_done(&b);
}

static void a_private_key_that_does_not_load_is_refused_without_showing_it(void **state)
{
    ferry_google_sa_key key = {0};
    ferry_buf b;
    ferry_err err;

    (void)state;
    key.client_email = strdup("sync@proj.iam.gserviceaccount.com");
    key.token_uri = strdup("https://oauth2.googleapis.com/token");
    key.private_key =
        strdup("-----BEGIN PRIVATE KEY-----\nSECRETBITS\n-----END PRIVATE KEY-----\n");
    ferry_buf_init(&b, 8192);
    ferry_err_clear(&err);
    assert_int_equal(ferry_google_sa_jwt_build(&key, NULL, 5, &b, &err), FERRY_ESOURCE);
    assert_null(strstr(err.msg, "SECRETBITS"));
    assert_int_equal(b.len, 0);
    ferry_google_sa_key_done(&key);
    assert_null(key.private_key);
    ferry_buf_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64url_has_no_padding_and_url_letters),
        cmocka_unit_test(a_file_that_is_not_a_service_account_key_is_named_as_such),
        cmocka_unit_test(the_assertion_carries_googles_claims_and_verifies_with_rs256),
        cmocka_unit_test(a_private_key_that_does_not_load_is_refused_without_showing_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
