/* source.c - picks the source implementation for a sync's source kind, and what every kind
 * shares: {variable} expansion and the connection check's result. */
#include "source/source.h"

#include <stdlib.h>
#include <string.h>

#include "util/template.h"

ferry_rc ferry_source_open(const ferry_sync_spec *sync, const ferry_source_options *opt,
                           ferry_source **ret_src, ferry_err *err)
{
    const char *why = ferry_sync_tenant_problem(sync, opt->tenant);

    if (why != NULL)
        return ferry_err_set(err, FERRY_EINVAL, "tenant%s%s: %s", opt->tenant ? " " : "",
                             opt->tenant ? opt->tenant : "", why);
    switch (sync->source.kind) {
    case FERRY_SOURCE_CSV:
        return ferry_csv_source_open(sync, opt, ret_src, err);
    case FERRY_SOURCE_REST:
        return ferry_rest_source_open(sync, opt, ret_src, err);
    }
    return ferry_err_set(err, FERRY_EINVAL, "unknown source kind");
}

struct scope {
    const ferry_sync_spec *sync;
    const char *tenant;
};

static const char *lookup(void *ctx, const char *name, size_t len)
{
    const struct scope *sc = ctx;
    const ferry_source_spec *src = &sc->sync->source;
    const char *tv = sc->sync->tenant_variable;

    if (tv != NULL && sc->tenant != NULL && strlen(tv) == len && memcmp(tv, name, len) == 0)
        return sc->tenant;
    for (size_t i = 0; i < src->nvars; i++)
        if (strlen(src->vars[i].name) == len && memcmp(src->vars[i].name, name, len) == 0)
            return src->vars[i].value;
    return NULL;
}

ferry_rc ferry_source_expand(const ferry_sync_spec *sync, const char *tenant, const char *text,
                             bool encode, ferry_buf *out, ferry_err *err)
{
    struct scope sc = {sync, tenant};

    return ferry_template_expand(text, lookup, &sc, encode, out, err);
}

ferry_rc ferry_source_expand_query(const ferry_sync_spec *sync, const char *tenant,
                                   const char *text, ferry_buf *out, ferry_err *err)
{
    struct scope sc = {sync, tenant};

    return ferry_template_expand_query(text, lookup, &sc, out, err);
}

void ferry_source_check_done(ferry_source_check *check)
{
    if (check == NULL)
        return;
    for (size_t i = 0; i < check->nunmapped; i++)
        free(check->unmapped[i]);
    free(check->unmapped);
    for (size_t i = 0; i < check->nmissing; i++)
        free(check->missing[i]);
    free(check->missing);
    memset(check, 0, sizeof(*check));
}

void ferry_source_close(ferry_source *src)
{
    if (src != NULL)
        src->ops->close(src);
}
