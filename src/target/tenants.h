/* tenants.h - the tenants a sync's tenants.query names (docs/sources.md, "Tenants").
 *
 * A sync with tenants names them with a fixed list (tenant.values) or with a query on the
 * application's database (tenants: { query, database }): "SELECT slug FROM organisations
 * WHERE sync_enabled". The query is read when a schedule fires (each firing runs each tenant
 * it names then), by `ferry check`, when a run is asked for (a tenant it does not name is
 * refused, as one tenant.values does not list is), and for the page's tenant rows. It runs
 * read-only (SQLite opened read-only; PostgreSQL in a READ ONLY transaction with a statement
 * timeout) on a connection of its own, closed before it returns. */
#ifndef FERRY_TARGET_TENANTS_H
#define FERRY_TARGET_TENANTS_H

#include <stddef.h>

#include "config/config.h"
#include "util/err.h"

/* At most this many tenants: more is an error, not a silent cut. */
#define FERRY_TENANTS_MAX 10000

typedef struct {
    char **values; /* the tenants, in the query's order, each once */
    size_t n;
    char **refused; /* values that are no tenant: "'Org 1': a tenant is letters, ..." */
    size_t nrefused;
} ferry_tenant_list;

/* Runs sync's tenants.query (sync->tenants.query must be set) in its database (relative
 * SQLite paths from cfg->dir). NULL values are left out; values that are not a tenant (1 to
 * 64 letters, digits, '.', '_', '-') are listed in ret->refused. Errors (the database, the
 * query, more than FERRY_TENANTS_MAX rows) name tenants.query and never the database's
 * password. *ret is the caller's (ferry_tenant_list_done()). */
ferry_rc ferry_tenants_read(const ferry_config *cfg, const ferry_sync_spec *sync,
                            ferry_tenant_list *ret, ferry_err *err);

void ferry_tenant_list_done(ferry_tenant_list *l);

/* FERRY_OK when a run of sync for tenant may be asked for: tenant is well formed and, for a
 * sync with tenants.query, the query names it (FERRY_EINVAL "not one of the tenants
 * tenants.query names" otherwise; the query's own errors as ferry_tenants_read()'s). */
ferry_rc ferry_tenants_allow(const ferry_config *cfg, const ferry_sync_spec *sync,
                             const char *tenant, ferry_err *err);

#endif
