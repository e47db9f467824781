/* google_sa.c - Google service-account keys and their RS256 assertions.
 *
 * A key file is JSON with "type": "service_account", the account's client_email, the
 * token_uri to exchange assertions at and a PEM private_key. The private key is copied once,
 * used only by ferry_google_sa_jwt_build() through OpenSSL's libcrypto (EVP_DigestSign), and
 * wiped when the key is freed; no message here quotes it or the file's text.
 *
 * Pure apart from the allocations: no I/O, no shared state, any thread. */
#include "util/google_sa.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/password.h"

void ferry_google_sa_key_done(ferry_google_sa_key *key)
{
    if (key == NULL)
        return;
    free(key->client_email);
    free(key->token_uri);
    ferry_password_free(key->private_key);
    memset(key, 0, sizeof(*key));
}

static const char *member_text(json_t *root, const char *name)
{
    json_t *v = json_object_get(root, name);

    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

ferry_rc ferry_google_sa_key_parse(const char *json, size_t len, const char *what,
                                   ferry_google_sa_key *key, ferry_err *err)
{
    static const char *const needed[] = {"client_email", "token_uri", "private_key"};
    ferry_google_sa_key k = {0};
    json_error_t jerr;
    const char *type;
    json_t *root;
    ferry_rc rc;

    memset(key, 0, sizeof(*key));
    if (len > FERRY_GOOGLE_SA_KEY_MAX)
        return ferry_err_set(err, FERRY_ESOURCE,
                             "%s is not a service-account key: larger than %d KiB", what,
                             FERRY_GOOGLE_SA_KEY_MAX / 1024);
    root = json_loadb(json, len, 0, &jerr);
    if (root == NULL || !json_is_object(root)) {
        rc = ferry_err_set(err, FERRY_ESOURCE, "%s is not a service-account key: not JSON", what);
        goto out_free_root;
    }
    type = member_text(root, "type");
    if (type == NULL || strcmp(type, "service_account") != 0) {
        rc = ferry_err_set(err, FERRY_ESOURCE,
                           "%s is not a service-account key: \"type\" is not \"service_account\" "
                           "(create a key under IAM > Service accounts > Keys)",
                           what);
        goto out_free_root;
    }
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (member_text(root, needed[i]) == NULL) {
            rc =
                ferry_err_set(err, FERRY_ESOURCE,
                              "%s is not a service-account key: it has no \"%s\"", what, needed[i]);
            goto out_free_root;
        }
    }
    k.client_email = strdup(member_text(root, "client_email"));
    k.token_uri = strdup(member_text(root, "token_uri"));
    k.private_key = strdup(member_text(root, "private_key"));
    if (k.client_email == NULL || k.token_uri == NULL || k.private_key == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "copying the service-account key");
        ferry_google_sa_key_done(&k);
        goto out_free_root;
    }
    *key = k;
    rc = FERRY_OK;

out_free_root:
    /* jansson holds its own copy of the private key's text: wipe it before it is freed. */
    if (json_is_object(root)) {
        json_t *pk = json_object_get(root, "private_key");
        if (json_is_string(pk))
            sodium_memzero((char *)json_string_value(pk), json_string_length(pk));
    }
    json_decref(root);
    return rc;
}

ferry_rc ferry_base64url_append(ferry_buf *out, const void *p, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *s = p;
    char quad[4];
    ferry_rc rc;

    for (size_t i = 0; i < n; i += 3) {
        unsigned long v = (unsigned long)s[i] << 16;
        size_t left = n - i;

        if (left > 1)
            v |= (unsigned long)s[i + 1] << 8;
        if (left > 2)
            v |= s[i + 2];
        quad[0] = alphabet[(v >> 18) & 63];
        quad[1] = alphabet[(v >> 12) & 63];
        quad[2] = alphabet[(v >> 6) & 63];
        quad[3] = alphabet[v & 63];
        rc = ferry_buf_append(out, quad, left > 2 ? 4 : left + 1);
        if (rc != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

static ferry_rc sign_rs256(const char *pem, const void *msg, size_t n, unsigned char **ret_sig,
                           size_t *ret_len, ferry_err *err)
{
    unsigned char *sig = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *ctx = NULL;
    size_t len = 0;
    BIO *bio;
    ferry_rc rc;

    bio = BIO_new_mem_buf(pem, -1);
    if (bio == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "reading the service account's private key");
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (pkey == NULL || EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
        rc = ferry_err_set(err, FERRY_ESOURCE,
                           "the service account's private_key is not an RSA key in PEM form");
        goto out_free_key;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
        EVP_DigestSign(ctx, NULL, &len, msg, n) != 1 || (sig = malloc(len)) == NULL ||
        EVP_DigestSign(ctx, sig, &len, msg, n) != 1) {
        rc = ferry_err_set(err, FERRY_ESOURCE, "signing the service account's assertion failed");
        free(sig);
        goto out_free_ctx;
    }
    *ret_sig = sig;
    *ret_len = len;
    rc = FERRY_OK;

out_free_ctx:
    EVP_MD_CTX_free(ctx);
out_free_key:
    EVP_PKEY_free(pkey);
    return rc;
}

ferry_rc ferry_google_sa_jwt_build(const ferry_google_sa_key *key, const char *scope, time_t now,
                                   ferry_buf *out, ferry_err *err)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    unsigned char *sig = NULL;
    char *claims_text;
    size_t start = out->len, sig_len = 0;
    json_t *claims;
    ferry_rc rc;

    claims =
        json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", key->client_email, "scope",
                  scope != NULL ? scope : FERRY_GOOGLE_SA_SCOPE_DEFAULT, "aud", key->token_uri,
                  "iat", (json_int_t)now, "exp", (json_int_t)now + FERRY_GOOGLE_SA_JWT_LIFETIME);
    claims_text = claims != NULL ? json_dumps(claims, JSON_COMPACT) : NULL;
    json_decref(claims);
    if (claims_text == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "building the service account's assertion");
    rc = ferry_base64url_append(out, header, sizeof(header) - 1);
    if (rc == FERRY_OK)
        rc = ferry_buf_append(out, ".", 1);
    if (rc == FERRY_OK)
        rc = ferry_base64url_append(out, claims_text, strlen(claims_text));
    free(claims_text);
    if (rc != FERRY_OK) {
        rc = ferry_err_set(err, rc, "building the service account's assertion");
        goto out_undo;
    }
    rc = sign_rs256(key->private_key, out->data + start, out->len - start, &sig, &sig_len, err);
    if (rc != FERRY_OK)
        goto out_undo;
    rc = ferry_buf_append(out, ".", 1);
    if (rc == FERRY_OK)
        rc = ferry_base64url_append(out, sig, sig_len);
    free(sig);
    if (rc != FERRY_OK) {
        rc = ferry_err_set(err, rc, "building the service account's assertion");
        goto out_undo;
    }
    return FERRY_OK;

out_undo:
    out->len = start;
    if (out->data != NULL)
        out->data[start] = '\0';
    return rc;
}
