/* embed_token.c - verifies embed tokens (see embed_token.h): HS256 JSON Web Tokens.
 *
 * Order of checks: the shape (three base64url segments without padding, at most
 * FERRY_EMBED_TOKEN_MAX bytes), the header (a JSON object whose alg is exactly HS256: "none"
 * and every other algorithm are refused, so a token cannot choose how it is checked; no crit),
 * the signature (HMAC-SHA256 of "HEADER.PAYLOAD" with the secret, compared in constant time),
 * and only then the claims, which are untrusted until the signature is known good. Times are
 * whole seconds; FERRY_EMBED_LEEWAY_S forgives a host whose clock is a little off.
 *
 * Claims become user names in run records, audit entries and log lines, so strings with
 * control characters or a double quote are refused, and every length is bounded. */
#include "auth/embed_token.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define LIST_ITEM_MAX 127 /* bytes of a sync or tenant name, as the API's path takes them */

/* Decodes a base64url segment (no padding) of len bytes into a new buffer of *ret_len bytes
 * plus a NUL; NULL when it is not one or memory is short. */
static unsigned char *segment_decode(const char *s, size_t len, size_t *ret_len)
{
    unsigned char *out;
    const char *end;

    if (len == 0 || len % 4 == 1)
        return NULL;
    if ((out = malloc(len * 3 / 4 + 2)) == NULL)
        return NULL;
    if (sodium_base642bin(out, len * 3 / 4 + 1, s, len, NULL, ret_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s + len) {
        free(out);
        return NULL;
    }
    out[*ret_len] = '\0';
    return out;
}

/* A segment's JSON object, owned; NULL when it is not one. */
static json_t *segment_object(const char *s, size_t len)
{
    unsigned char *text;
    size_t n = 0;
    json_t *doc;

    if ((text = segment_decode(s, len, &n)) == NULL)
        return NULL;
    doc = json_loadb((const char *)text, n, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    if (doc != NULL && !json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static bool text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            return false;
    }
    return true;
}

/* A string claim: 0 when absent or null (*ret NULL) or a fitting string (*ret owned), -1
 * when it is something else. */
static int string_claim(json_t *claims, const char *name, char **ret)
{
    json_t *v = json_object_get(claims, name);

    *ret = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || !text_ok(json_string_value(v), FERRY_EMBED_CLAIM_MAX))
        return -1;
    return (*ret = strdup(json_string_value(v))) != NULL ? 0 : -2;
}

/* A NumericDate claim, in whole seconds: false when present but not a number. */
static bool time_claim(json_t *claims, const char *name, bool *present, int64_t *ret)
{
    json_t *v = json_object_get(claims, name);

    *present = v != NULL && !json_is_null(v);
    *ret = 0;
    if (!*present)
        return true;
    if (json_is_integer(v)) {
        *ret = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) > -1e15 && json_real_value(v) < 1e15) {
        *ret = (int64_t)json_real_value(v);
        return true;
    }
    return false;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

/* A list claim (syncs, tenants): an array of names. Returns 0 (absent or null: *limit
 * false), -1 when it is not a fitting list, -2 when memory is short. */
static int list_claim(json_t *claims, const char *name, bool *limit, char ***ret, size_t *ret_n)
{
    json_t *v = json_object_get(claims, name), *item;
    size_t i, n;
    char **out;

    *limit = false;
    *ret = NULL;
    *ret_n = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v) || (n = json_array_size(v)) > FERRY_EMBED_LIST_MAX)
        return -1;
    if ((out = calloc(n > 0 ? n : 1, sizeof(*out))) == NULL)
        return -2;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || !text_ok(json_string_value(item), LIST_ITEM_MAX)) {
            strv_free(out, i);
            return -1;
        }
        if ((out[i] = strdup(json_string_value(item))) == NULL) {
            strv_free(out, i);
            return -2;
        }
    }
    *limit = true;
    *ret = out;
    *ret_n = n;
    return 0;
}

/* Reads and checks the claims of a token whose signature is good. */
static ferry_rc claims_read(json_t *doc, int64_t now_s, int64_t max_age_s, ferry_embed_claims *c,
                            ferry_err *err)
{
    bool has_exp, has_iat, has_nbf;
    int64_t nbf;
    json_t *role = json_object_get(doc, "role");
    const char *r;
    int s;

    if (!time_claim(doc, "exp", &has_exp, &c->exp) || !time_claim(doc, "iat", &has_iat, &c->iat) ||
        !time_claim(doc, "nbf", &has_nbf, &nbf))
        return ferry_err_set(err, FERRY_EINVAL,
                             "the embed token's exp, iat and nbf must be numbers (seconds since "
                             "1970)");
    if (!has_exp)
        return ferry_err_set(err, FERRY_EINVAL, "the embed token has no exp (expiry) claim");
    if (now_s >= c->exp + FERRY_EMBED_LEEWAY_S)
        return ferry_err_set(err, FERRY_EINVAL,
                             "the embed token expired %lld s ago; the host application must "
                             "mint a new one",
                             (long long)(now_s - c->exp));
    if ((has_nbf && now_s + FERRY_EMBED_LEEWAY_S < nbf) ||
        (has_iat && now_s + FERRY_EMBED_LEEWAY_S < c->iat))
        return ferry_err_set(err, FERRY_EINVAL,
                             "the embed token is not valid yet (iat or nbf is in the future: "
                             "check the host's clock)");
    if (c->exp - (has_iat ? c->iat : now_s) > max_age_s + FERRY_EMBED_LEEWAY_S)
        return ferry_err_set(err, FERRY_EINVAL,
                             "the embed token lives longer than embed.max_age (%lld s) allows",
                             (long long)max_age_s);
    if ((s = string_claim(doc, "sub", &c->sub)) != 0 || c->sub == NULL)
        return s == -2 ? ferry_err_set(err, FERRY_ENOMEM, "out of memory")
                       : ferry_err_set(err, FERRY_EINVAL,
                                       "the embed token's sub must be a string of 1 to %d "
                                       "printable characters without quotes",
                                       FERRY_EMBED_CLAIM_MAX);
    if ((s = string_claim(doc, "name", &c->name)) != 0 ||
        (s = string_claim(doc, "email", &c->email)) != 0)
        return s == -2 ? ferry_err_set(err, FERRY_ENOMEM, "out of memory")
                       : ferry_err_set(err, FERRY_EINVAL,
                                       "the embed token's name and email must be strings of 1 "
                                       "to %d printable characters without quotes",
                                       FERRY_EMBED_CLAIM_MAX);
    r = json_is_string(role) ? json_string_value(role) : "";
    if (strcmp(r, "viewer") == 0)
        c->is_operator = false;
    else if (strcmp(r, "operator") == 0 || strcmp(r, "admin") == 0)
        c->is_operator = true; /* never admin through an embed token */
    else
        return ferry_err_set(err, FERRY_EINVAL,
                             "the embed token's role must be viewer or operator");
    if ((s = list_claim(doc, "syncs", &c->limit_syncs, &c->syncs, &c->nsyncs)) != 0 ||
        (s = list_claim(doc, "tenants", &c->limit_tenants, &c->tenants, &c->ntenants)) != 0)
        return s == -2 ? ferry_err_set(err, FERRY_ENOMEM, "out of memory")
                       : ferry_err_set(err, FERRY_EINVAL,
                                       "the embed token's syncs and tenants must be lists of at "
                                       "most %d names",
                                       FERRY_EMBED_LIST_MAX);
    return FERRY_OK;
}

ferry_rc ferry_embed_token_verify(const char *token, const unsigned char *key, size_t keylen,
                                  int64_t now_s, int64_t max_age_s, ferry_embed_claims *ret,
                                  ferry_err *err)
{
    const char *dot1, *dot2, *sig_text;
    unsigned char mac[crypto_auth_hmacsha256_BYTES], *sig = NULL;
    crypto_auth_hmacsha256_state st;
    size_t len = strnlen(token, FERRY_EMBED_TOKEN_MAX + 1), sig_len = 0;
    ferry_embed_claims c;
    json_t *header = NULL, *claims = NULL, *alg;
    ferry_rc rc;

    memset(&c, 0, sizeof(c));
    if (len > FERRY_EMBED_TOKEN_MAX)
        return ferry_err_set(err, FERRY_EINVAL, "the embed token is longer than %d bytes",
                             FERRY_EMBED_TOKEN_MAX);
    dot1 = memchr(token, '.', len);
    dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return ferry_err_set(err, FERRY_EINVAL,
                             "the embed token is not a JSON Web Token (HEADER.CLAIMS.SIGNATURE)");
    header = segment_object(token, (size_t)(dot1 - token));
    if (header == NULL)
        return ferry_err_set(err, FERRY_EINVAL,
                             "the embed token's header is not base64url-encoded JSON");
    alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0 ||
        json_object_get(header, "crit") != NULL) {
        json_decref(header);
        return ferry_err_set(err, FERRY_EINVAL,
                             "the embed token must be signed with HS256 (alg \"HS256\"); no "
                             "other algorithm, and no unsigned token, is accepted");
    }
    json_decref(header);
    sig_text = dot2 + 1;
    sig = segment_decode(sig_text, len - (size_t)(sig_text - token), &sig_len);
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, (size_t)(dot2 - token));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
    if (sig == NULL || sig_len != sizeof(mac) || sodium_memcmp(sig, mac, sizeof(mac)) != 0) {
        free(sig);
        return ferry_err_set(err, FERRY_EINVAL,
                             "the embed token's signature does not match (altered, or signed "
                             "with another secret than embed.secret_env's)");
    }
    free(sig);
    claims = segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (claims == NULL)
        return ferry_err_set(err, FERRY_EINVAL,
                             "the embed token's claims are not base64url-encoded JSON");
    rc = claims_read(claims, now_s, max_age_s, &c, err);
    json_decref(claims);
    if (rc != FERRY_OK) {
        ferry_embed_claims_done(&c);
        return rc;
    }
    *ret = c;
    return FERRY_OK;
}

static bool listed(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], s) == 0)
            return true;
    }
    return false;
}

bool ferry_embed_claims_allow_sync(const ferry_embed_claims *c, const char *sync)
{
    return !c->limit_syncs || (sync != NULL && listed(c->syncs, c->nsyncs, sync));
}

bool ferry_embed_claims_allow(const ferry_embed_claims *c, const char *sync, const char *tenant)
{
    if (!ferry_embed_claims_allow_sync(c, sync))
        return false;
    return !c->limit_tenants || (tenant != NULL && listed(c->tenants, c->ntenants, tenant));
}

void ferry_embed_claims_done(ferry_embed_claims *c)
{
    if (c == NULL)
        return;
    free(c->sub);
    free(c->name);
    free(c->email);
    strv_free(c->syncs, c->nsyncs);
    strv_free(c->tenants, c->ntenants);
    memset(c, 0, sizeof(*c));
}
