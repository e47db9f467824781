/* fuzz_config.c - fuzz target for the YAML config loader (src/config/config.c).
 *
 * The input bytes are a ferry.yaml, passed to ferry_config_parse() with their exact length
 * (no NUL after them). Invariants checked (a violation aborts):
 * - a failure returns no config, a code the loader documents (config, enomem, einval), the
 *   same code in err and a one-line, non-empty message;
 * - a success returns a config whose syncs are complete: names, title, noun, url, table,
 *   at least one field and one key, key fields that exist and are required, enum fields
 *   with values, skip rules on existing fields, and a mapper and target spec that can be
 *   built from them; ferry_config_sync_get() finds every sync by name;
 * - ferry config's output (ferry_config_show()) of a valid config is made and never holds the
 *   value of FERRY_FUZZ_SECRET, which ${FERRY_FUZZ_SECRET} references in a metrics_token or
 *   a database URL's password put there (the corpus has such files). ${FERRY_FUZZ} is set
 *   too, to a value with a ${ of its own, which is never expanded again. */
#include "config/config.h"
#include "sync/map.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_config: invariant failed: %s (line %d)\n", #cond, __LINE__);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_sync(const ferry_config *cfg, const ferry_sync_spec *sync)
{
    ferry_mapper *mapper = NULL;
    ferry_err err;

    CHECK(sync->name != NULL && sync->name[0] != '\0');
    CHECK(sync->title != NULL && sync->noun != NULL);
    CHECK(sync->source.url != NULL && sync->source.url[0] != '\0');
    CHECK(sync->source.max_field_bytes > 0);
    CHECK(sync->source.delimiter != '"' && sync->source.delimiter != '\r' &&
          sync->source.delimiter != '\n');
    CHECK(sync->target.table != NULL);
    CHECK(sync->nfields >= 1 && sync->fields != NULL);
    CHECK(sync->target.nkey >= 1);
    for (size_t i = 0; i < sync->nfields; i++) {
        const ferry_field_spec *f = &sync->fields[i];
        CHECK(f->name != NULL && f->column != NULL);
        CHECK(ferry_sync_field_index(sync, f->name) == (long)i);
        CHECK(strcmp(ferry_field_type_name(f->type), "unknown") != 0);
        CHECK((f->type == FERRY_TYPE_ENUM) == (f->nvalues > 0));
        for (size_t v = 0; v < f->nvalues; v++)
            CHECK(f->values[v] != NULL && f->values[v][0] != '\0');
    }
    for (size_t k = 0; k < sync->target.nkey; k++) {
        long f = ferry_sync_field_index(sync, sync->target.key[k]);
        CHECK(f >= 0);
        CHECK(sync->fields[f].required);
    }
    for (size_t s = 0; s < sync->nskips; s++) {
        const ferry_skip_rule *rule = &sync->skips[s];
        CHECK(rule->field < sync->nfields);
        CHECK((rule->kind == FERRY_SKIP_EMPTY) == (rule->nvalues == 0));
    }
    CHECK(ferry_config_sync_get(cfg, sync->name) == sync);
    ferry_err_clear(&err);
    CHECK(ferry_mapper_new(sync, NULL, &mapper, &err) == FERRY_OK);
    ferry_mapper_free(mapper);
}

#define FUZZ_SECRET "fuzz-secret-value-never-shown"

/* A valid config is shown without FUZZ_SECRET wherever a secret's key or a URL's password
 * holds it. */
static void check_show(const uint8_t *data, size_t size)
{
    char *out = NULL;
    ferry_err err;
    ferry_rc rc;

    ferry_err_clear(&err);
    rc = ferry_config_show((const char *)data, size, "fuzz.yaml", "/nonexistent", &out, &err);
    CHECK(rc == FERRY_OK || rc == FERRY_ENOMEM || rc == FERRY_ELIMIT);
    if (rc != FERRY_OK)
        return;
    CHECK(out != NULL);
    if (strstr(out, FUZZ_SECRET) != NULL) {
        /* only where the document puts it in a value that is not a secret's */
        CHECK(memmem(data, size, "metrics_token: ${FERRY_FUZZ_SECRET}", 35) == NULL);
        CHECK(memmem(data, size, ":${FERRY_FUZZ_SECRET}@", 22) == NULL);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ferry_config *cfg = (ferry_config *)&cfg; /* must be replaced by NULL on failure */
    ferry_err err;
    ferry_rc rc;

    setenv("FERRY_FUZZ", "a ${FERRY_FUZZ} b", 1);
    setenv("FERRY_FUZZ_SECRET", FUZZ_SECRET, 1);
    ferry_err_clear(&err);
    rc = ferry_config_parse((const char *)data, size, "fuzz.yaml", "/nonexistent", &cfg, &err);
    if (rc != FERRY_OK) {
        CHECK(cfg == NULL);
        CHECK(rc == FERRY_ECONFIG || rc == FERRY_ENOMEM || rc == FERRY_EINVAL);
        CHECK(err.code == rc);
        CHECK(err.msg[0] != '\0');
        CHECK(strlen(err.msg) < sizeof(err.msg));
        CHECK(strchr(err.msg, '\n') == NULL);
        return 0;
    }
    CHECK(cfg != NULL);
    CHECK(err.code == FERRY_OK);
    CHECK(cfg->database != NULL && cfg->listen != NULL);
    CHECK(cfg->workers >= 1 && cfg->workers <= 64);
    CHECK(strcmp(cfg->dir, "/nonexistent") == 0);
    for (size_t i = 0; i < cfg->nsyncs; i++)
        check_sync(cfg, &cfg->syncs[i]);
    CHECK(ferry_config_sync_get(cfg, "no such sync!") == NULL);
    ferry_config_free(cfg);
    check_show(data, size);
    return 0;
}
