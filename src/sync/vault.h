/* vault.h - the token vault of sources (source.h's ferry_token_vault) on Ferry's store: each
 * secret encrypted with the store key (util/sealed.h) from the variable the config names
 * (store_key_env:, default FERRY_STORE_KEY) and kept in the store's secrets. */
#ifndef FERRY_SYNC_VAULT_H
#define FERRY_SYNC_VAULT_H

#include "config/config.h"
#include "source/source.h"
#include "store/store.h"

typedef struct {
    ferry_token_vault vault; /* hand &this.vault to a source */
    const ferry_config *cfg; /* borrowed */
    ferry_store *store;      /* borrowed, or NULL: each call opens cfg's store and closes it */
} ferry_sync_vault;

/* Sets v up over store (borrowed, may be NULL) for cfg (borrowed); both must outlive the
 * sources v is handed to. The calls run on the thread that owns store, and must not come
 * while store is inside a transaction (a kept secret would be rolled back with it): a run's
 * sources are opened and fetched before its transaction begins. */
void ferry_sync_vault_init(ferry_sync_vault *v, const ferry_config *cfg, ferry_store *store);

#endif
