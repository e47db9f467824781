/* vault.c - sources' secrets kept in the store, encrypted (see vault.h).
 *
 * The key is read from the environment at every call, so it is held in memory only while a
 * secret is sealed or opened, and wiped after. A check, which has no store connection of its
 * own, opens the config's store for the call and closes it. */
#include "sync/vault.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/sealed.h"

static const char *key_var(const ferry_sync_vault *v)
{
    return v->cfg->store_key_env != NULL ? v->cfg->store_key_env : FERRY_SEALED_KEY_ENV;
}

static ferry_rc open_store(ferry_sync_vault *v, ferry_store **ret, bool *ret_own, ferry_err *err)
{
    *ret_own = v->store == NULL;
    if (v->store != NULL) {
        *ret = v->store;
        return FERRY_OK;
    }
    return ferry_store_open(v->cfg->database, v->cfg->dir, ret, err);
}

static ferry_rc vault_ready(void *ctx, ferry_err *err)
{
    ferry_sync_vault *v = ctx;
    unsigned char key[FERRY_SEALED_KEY_BYTES];
    ferry_rc rc = ferry_sealed_key_read(key_var(v), key, err);

    sodium_memzero(key, sizeof(key));
    return rc;
}

static ferry_rc vault_get(void *ctx, const char *name, char **ret, ferry_err *err)
{
    ferry_sync_vault *v = ctx;
    unsigned char key[FERRY_SEALED_KEY_BYTES];
    ferry_store *st = NULL;
    char *text = NULL, *plain = NULL;
    bool own = false;
    ferry_rc rc;

    if ((rc = ferry_sealed_key_read(key_var(v), key, err)) != FERRY_OK)
        goto out_wipe;
    if ((rc = open_store(v, &st, &own, err)) != FERRY_OK)
        goto out_wipe;
    rc = st->cluster->secret_get(st, name, &text, err);
    if (own)
        ferry_store_close(st);
    if (rc == FERRY_OK && text != NULL)
        rc = ferry_sealed_open(key, text, key_var(v), &plain, err);
    if (rc == FERRY_OK)
        *ret = plain;
    free(text);
out_wipe:
    sodium_memzero(key, sizeof(key));
    return rc;
}

static ferry_rc vault_put(void *ctx, const char *name, const char *secret, ferry_err *err)
{
    ferry_sync_vault *v = ctx;
    unsigned char key[FERRY_SEALED_KEY_BYTES];
    ferry_store *st = NULL;
    char *text = NULL;
    bool own = false;
    ferry_rc rc;

    if ((rc = ferry_sealed_key_read(key_var(v), key, err)) != FERRY_OK)
        goto out_wipe;
    if ((rc = ferry_sealed_seal(key, secret, &text, err)) != FERRY_OK)
        goto out_wipe;
    if ((rc = open_store(v, &st, &own, err)) != FERRY_OK)
        goto out_free_text;
    rc = st->cluster->secret_put(st, name, text, err);
    if (own)
        ferry_store_close(st);
out_free_text:
    free(text);
out_wipe:
    sodium_memzero(key, sizeof(key));
    return rc;
}

void ferry_sync_vault_init(ferry_sync_vault *v, const ferry_config *cfg, ferry_store *store)
{
    memset(v, 0, sizeof(*v));
    v->cfg = cfg;
    v->store = store;
    v->vault.ready = vault_ready;
    v->vault.get = vault_get;
    v->vault.put = vault_put;
    v->vault.ctx = v;
}
