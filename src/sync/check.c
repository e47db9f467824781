/* check.c - a sync's connection check (see check.h). */
#include "sync/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sync/vault.h"
#include "util/timeutil.h"

/* The check of one step's source (the sync's own without steps). */
static ferry_rc check_one(const ferry_config *cfg, const ferry_sync_spec *sync, const char *tenant,
                          const atomic_bool *cancel, ferry_check_report *ret, ferry_err *err)
{
    const char *why = ferry_sync_tenant_problem(sync, tenant);
    ferry_check_report r;
    ferry_source *src = NULL;
    long status = 0;
    ferry_sync_vault vault;
    ferry_source_options so = {
        .base_dir = cfg->dir,
        .tenant = tenant,
        .cancel = cancel,
        .estimate = -1,
        .check = true,
        .ret_status = &status,
        .vault = &vault.vault,
    };
    int64_t start = ferry_time_mono_ms();
    ferry_err why_not;
    ferry_rc rc;

    if (why != NULL)
        return ferry_err_set(err, FERRY_EINVAL, "tenant: %s", why);
    ferry_sync_vault_init(&vault, cfg, NULL);
    memset(&r, 0, sizeof(r));
    r.found.total = -1;
    ferry_err_clear(&why_not);
    rc = ferry_source_open(sync, &so, &src, &why_not);
    if (rc == FERRY_OK)
        rc = src->ops->check(src, &r.found, &why_not);
    r.duration_ms = ferry_time_mono_ms() - start;
    r.found.status = status;
    /* A token endpoint's refusal is the credentials' too, and means it was reached. */
    r.auth_accepted = status != 401 && status != 403 && why_not.code != FERRY_EREFUSED;
    r.credentials_read = rc == FERRY_OK || why_not.code != FERRY_ECREDENTIAL;
    /* A server that answered, whatever it said, was reached; a file that opened, too. */
    r.reachable = status > 0 || (rc == FERRY_OK) || why_not.code == FERRY_EREFUSED ||
                  (sync->source.kind == FERRY_SOURCE_CSV && why_not.code != FERRY_ESOURCE &&
                   why_not.code != FERRY_EHTTP);
    if (rc != FERRY_OK) {
        if (rc == FERRY_ENOMEM) {
            ferry_source_close(src);
            ferry_check_report_done(&r);
            return ferry_err_set(err, rc, "%s", why_not.msg);
        }
        if ((r.error = strdup(why_not.msg)) == NULL) {
            ferry_source_close(src);
            ferry_check_report_done(&r);
            return ferry_err_set(err, FERRY_ENOMEM, "allocating the check's report");
        }
        if (why_not.code == FERRY_EHEADER || why_not.code == FERRY_EEMPTY)
            r.reachable = true;
    }
    r.ok = rc == FERRY_OK && r.reachable && r.auth_accepted && r.found.nmissing == 0;
    ferry_source_close(src);
    *ret = r;
    return FERRY_OK;
}

ferry_rc ferry_sync_check(const ferry_config *cfg, const ferry_sync_spec *sync, const char *tenant,
                          const atomic_bool *cancel, ferry_check_report *ret, ferry_err *err)
{
    ferry_check_report r;
    ferry_rc rc;

    /* Each step's source in turn; the first that is not right is the report (its error
     * naming the step), else the last step's. */
    for (size_t k = 0; k < ferry_sync_step_count(sync); k++) {
        const ferry_sync_spec *step = ferry_sync_step(sync, k);
        if ((rc = check_one(cfg, step, tenant, cancel, &r, err)) != FERRY_OK)
            return rc;
        if (step != sync && r.error != NULL) {
            char *named = malloc(strlen(r.error) + strlen(step->name) + 8);
            if (named == NULL) {
                ferry_check_report_done(&r);
                return ferry_err_set(err, FERRY_ENOMEM, "allocating the check's report");
            }
            sprintf(named, "step %s: %s", step->name, r.error);
            free(r.error);
            r.error = named;
        }
        if (!r.ok || k + 1 == ferry_sync_step_count(sync)) {
            *ret = r;
            return FERRY_OK;
        }
        ferry_check_report_done(&r);
    }
    return ferry_err_set(err, FERRY_EINVAL, "the sync has no steps");
}

void ferry_check_report_done(ferry_check_report *r)
{
    if (r == NULL)
        return;
    ferry_source_check_done(&r->found);
    free(r->error);
    memset(r, 0, sizeof(*r));
}

/* The header check of one step's source (the sync's own without steps). */
static ferry_rc check_header_one(const ferry_config *cfg, const ferry_sync_spec *sync,
                                 ferry_err *err)
{
    const char *url = sync->source.url;
    ferry_source_options so = {.base_dir = cfg->dir, .estimate = -1};
    ferry_source *src = NULL;
    ferry_err why;
    ferry_rc rc;

    if (sync->source.kind != FERRY_SOURCE_CSV || strchr(url, '{') != NULL ||
        strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0)
        return FERRY_OK;
    ferry_err_clear(&why);
    rc = ferry_source_open(sync, &so, &src, &why);
    ferry_source_close(src);
    if (rc == FERRY_EHEADER || rc == FERRY_ENOMEM)
        return ferry_err_set(err, rc, "%s", why.msg);
    return FERRY_OK;
}

ferry_rc ferry_sync_check_header(const ferry_config *cfg, const ferry_sync_spec *sync,
                                 ferry_err *err)
{
    ferry_rc rc;

    for (size_t k = 0; k < ferry_sync_step_count(sync); k++)
        if ((rc = check_header_one(cfg, ferry_sync_step(sync, k), err)) != FERRY_OK)
            return rc;
    return FERRY_OK;
}

ferry_rc ferry_sync_check_store_key(const ferry_config *cfg, const ferry_sync_spec *sync,
                                    ferry_err *err)
{
    for (size_t k = 0; k < ferry_sync_step_count(sync); k++) {
        const ferry_auth_spec *a = &ferry_sync_step(sync, k)->source.auth;
        ferry_sync_vault vault;
        ferry_rc rc;

        if (a->type != FERRY_AUTH_OAUTH2 || a->oauth2.grant != FERRY_OAUTH2_REFRESH_TOKEN)
            continue;
        ferry_sync_vault_init(&vault, cfg, NULL);
        if ((rc = vault.vault.ready(vault.vault.ctx, err)) != FERRY_OK)
            return ferry_err_prefix(err, "oauth2 grant refresh_token");
    }
    return FERRY_OK;
}
