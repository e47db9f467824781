/* embed_token.h - embed tokens: the short-lived HS256 JSON Web Tokens (RFC 7519) a host
 * application's backend mints for the person in front of it, so <ferry-sync> acts as that
 * person (docs/embedding.md).
 *
 * A token is three base64url segments: a header whose alg must be HS256, the claims, and
 * the HMAC-SHA256 of the first two with embed.secret_env's secret. Claims: sub (required),
 * name, email, role (viewer, operator; admin is taken as operator: an embed token never
 * grants admin), exp (required), iat, nbf, and optional syncs and tenants, the only syncs
 * and tenants its holder may touch. Pure functions: any thread may call them. */
#ifndef FERRY_AUTH_EMBED_TOKEN_H
#define FERRY_AUTH_EMBED_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define FERRY_EMBED_TOKEN_MAX 8192 /* bytes of a token; longer ones are refused */
#define FERRY_EMBED_CLAIM_MAX 256  /* bytes of sub, name and email */
#define FERRY_EMBED_LIST_MAX 256   /* entries of syncs and tenants */
#define FERRY_EMBED_LEEWAY_S 30    /* clock skew allowed between the host app and Ferry */

/* The claims of a verified token. Strings are owned (ferry_embed_claims_done()); name and
 * email may be NULL. A list is NULL (with limit_x false) when the claim was absent: any. */
typedef struct {
    char *sub;
    char *name;
    char *email;
    bool is_operator; /* role operator or admin; else viewer */
    int64_t iat;      /* seconds since the epoch; 0 when absent */
    int64_t exp;
    bool limit_syncs;
    char **syncs;
    size_t nsyncs;
    bool limit_tenants;
    char **tenants;
    size_t ntenants;
} ferry_embed_claims;

/* Verifies token with the secret key (keylen bytes) at now_s: only HS256, a valid signature
 * (compared in constant time), not expired, not before nbf or iat, and living at most
 * max_age_s (exp - iat, or exp - now without iat). On success fills *ret (the caller frees it
 * with ferry_embed_claims_done()); on failure nothing is allocated and err says why in a
 * sentence for the person holding the token (FERRY_EINVAL; FERRY_ENOMEM). The key and the
 * signature never appear in a message. */
ferry_rc ferry_embed_token_verify(const char *token, const unsigned char *key, size_t keylen,
                                  int64_t now_s, int64_t max_age_s, ferry_embed_claims *ret,
                                  ferry_err *err);

/* True when the claims allow touching sync (its syncs claim lists it, or is absent). */
bool ferry_embed_claims_allow_sync(const ferry_embed_claims *c, const char *sync);

/* True when the claims allow touching a run of sync for tenant (NULL: a run without a
 * tenant, refused when the token lists tenants: such a token is one organisation's). */
bool ferry_embed_claims_allow(const ferry_embed_claims *c, const char *sync, const char *tenant);

/* Frees the claims' strings; NULL and zeroed claims are allowed. */
void ferry_embed_claims_done(ferry_embed_claims *c);

#endif
