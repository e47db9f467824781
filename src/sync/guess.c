/* guess.c - guessing a starting config's fields from sampled records (see guess.h).
 *
 * Each column keeps a bit per candidate type; a non-empty value clears the bits of the types
 * it does not read as, using the sync's own trim (ferry_transform_apply() with a plain field)
 * and typing (ferry_map_convert()), so a guess never promises what a sync would refuse. The
 * values are kept (bounded by the caller's sample) and, in the form the guessed type stores,
 * sorted once at the end to tell whether a column is unique. */
#include "sync/guess.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sync/map.h"

/* The types tried, in order of preference: the first every value reads as wins. */
static const ferry_field_type candidates[] = {
    FERRY_TYPE_INTEGER, FERRY_TYPE_DECIMAL,  FERRY_TYPE_BOOLEAN,
    FERRY_TYPE_DATE,    FERRY_TYPE_DATETIME, FERRY_TYPE_EMAIL,
};
#define NCANDIDATES (sizeof(candidates) / sizeof(candidates[0]))
#define ALL_TYPES ((1u << NCANDIDATES) - 1)
#define VALUE_MAX (1024 * 1024) /* a transformed value's limit, as a CSV field's default */

static const char reserved_prefix[] = "ferry_";

ferry_rc ferry_guess_name(const char *text, const char *fallback, ferry_buf *out)
{
    char name[FERRY_GUESS_NAME_MAX + 1];
    size_t n = 0;
    bool gap = false;

    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (isalnum(*p) && *p < 0x80) {
            if (gap && n > 0 && n < FERRY_GUESS_NAME_MAX)
                name[n++] = '_';
            gap = false;
            if (n < FERRY_GUESS_NAME_MAX)
                name[n++] = (char)tolower(*p);
        } else {
            gap = true;
        }
    }
    while (n > 0 && name[n - 1] == '_')
        n--;
    name[n] = '\0';
    if (n == 0)
        return ferry_buf_printf(out, "%s", fallback != NULL ? fallback : "field");
    if (isdigit((unsigned char)name[0]) ||
        strncasecmp(name, reserved_prefix, sizeof(reserved_prefix) - 1) == 0)
        return ferry_buf_printf(out, "field_%.*s", FERRY_GUESS_NAME_MAX - 6, name);
    return ferry_buf_printf(out, "%s", name);
}

static bool name_taken(const ferry_guess *g, size_t upto, const char *name)
{
    for (size_t i = 0; i < upto; i++) {
        if (strcasecmp(g->cols[i].name, name) == 0)
            return true;
    }
    return false;
}

/* Sets column i's name: its own, or numbered ("_2", "_3"...) apart from the earlier ones. */
static ferry_rc name_column(ferry_guess *g, size_t i, ferry_buf *b)
{
    char fallback[32];
    ferry_rc rc;

    snprintf(fallback, sizeof(fallback), "column_%zu", i + 1);
    ferry_buf_reset(b);
    if ((rc = ferry_guess_name(g->cols[i].source, fallback, b)) != FERRY_OK)
        return rc;
    if (name_taken(g, i, ferry_buf_str(b))) {
        char base[FERRY_GUESS_NAME_MAX + 1];
        snprintf(base, sizeof(base), "%s", ferry_buf_str(b));
        for (size_t k = 2;; k++) {
            char suffix[24];
            int slen = snprintf(suffix, sizeof(suffix), "_%zu", k);
            ferry_buf_reset(b);
            if ((rc = ferry_buf_printf(b, "%.*s%s", FERRY_GUESS_NAME_MAX - slen, base, suffix)) !=
                FERRY_OK)
                return rc;
            if (!name_taken(g, i, ferry_buf_str(b)))
                break;
        }
    }
    g->cols[i].name = ferry_buf_take(b);
    return g->cols[i].name != NULL ? FERRY_OK : FERRY_ENOMEM;
}

ferry_rc ferry_guess_init(ferry_guess *g, const char *const *sources, size_t n, ferry_err *err)
{
    ferry_buf b;
    ferry_rc rc = FERRY_OK;

    memset(g, 0, sizeof(*g));
    g->key = SIZE_MAX;
    ferry_transform_bufs_init(&g->bufs, VALUE_MAX);
    ferry_buf_init(&g->tmp, VALUE_MAX);
    ferry_buf_init(&b, FERRY_GUESS_NAME_MAX + 32);
    if (n > 0 && (g->cols = calloc(n, sizeof(*g->cols))) == NULL) {
        rc = FERRY_ENOMEM;
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        g->ncols++;
        g->cols[i].possible = ALL_TYPES;
        if ((g->cols[i].source = strdup(sources[i])) == NULL ||
            (rc = name_column(g, i, &b)) != FERRY_OK) {
            rc = FERRY_ENOMEM;
            goto out_free;
        }
    }
    ferry_buf_done(&b);
    return FERRY_OK;

out_free:
    ferry_buf_done(&b);
    ferry_guess_done(g);
    return ferry_err_set(err, rc, "allocating the guessed fields");
}

/* Keeps the value s (n bytes) of col for telling whether the column is unique. */
static ferry_rc keep_value(ferry_guess_column *col, const char *s, size_t n)
{
    char *copy;

    if (col->nseen == col->capseen) {
        size_t cap = col->capseen ? col->capseen * 2 : 64;
        char **grown = realloc(col->seen, cap * sizeof(*grown));
        if (grown == NULL)
            return FERRY_ENOMEM;
        col->seen = grown;
        col->capseen = cap;
    }
    if ((copy = strndup(s, n)) == NULL)
        return FERRY_ENOMEM;
    col->seen[col->nseen++] = copy;
    return FERRY_OK;
}

ferry_rc ferry_guess_add(ferry_guess *g, const char *const *values, const size_t *lens,
                         ferry_err *err)
{
    ferry_field_spec field;
    ferry_source_record in = {0};

    memset(&field, 0, sizeof(field));
    field.trim = true;
    g->nrecords++;
    for (size_t i = 0; i < g->ncols; i++) {
        ferry_guess_column *col = &g->cols[i];
        ferry_transform_result result;
        ferry_transformed t;
        ferry_rc rc;

        field.type = FERRY_TYPE_TEXT;
        rc = ferry_transform_apply(&g->bufs, &field, &in, values[i], values[i] ? lens[i] : 0,
                                   &result, &t);
        if (rc == FERRY_ELIMIT) { /* a value no field could hold: text, not required */
            col->possible = 0;
            col->nempty++;
            continue;
        }
        if (rc != FERRY_OK)
            return ferry_err_set(err, rc, "sampling column '%s'", col->source);
        if (t.s == NULL || t.n == 0) {
            col->nempty++;
            continue;
        }
        col->nvalues++;
        for (size_t k = 0; k < NCANDIDATES; k++) {
            if (!(col->possible & (1u << k)))
                continue;
            field.type = candidates[k];
            if (ferry_map_convert(&field, t.s, t.n, &g->tmp) != NULL)
                col->possible &= ~(1u << k);
        }
        if (keep_value(col, t.s, t.n) != FERRY_OK)
            return ferry_err_set(err, FERRY_ENOMEM, "sampling column '%s'", col->source);
    }
    return FERRY_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* How much col's name suggests a key: 0 best, 4 no suggestion. */
static int key_rank(const ferry_guess_column *col)
{
    const char *n = col->name;

    if (strcmp(n, "id") == 0)
        return 0;
    if (ends_with(n, "_id") || ends_with(col->source, "ID") || ends_with(col->source, "Id"))
        return 1;
    if (strcmp(n, "key") == 0 || strcmp(n, "code") == 0 || ends_with(n, "_key") ||
        ends_with(n, "_code"))
        return 2;
    if (strcmp(n, "email") == 0 || ends_with(n, "_email"))
        return 3;
    return 4;
}

/* Replaces col's values by the forms its type stores and compares ("01" and "1" are one
 * integer, so one key), or clears unique when one cannot be had. */
static void canonicalise(ferry_guess *g, ferry_guess_column *col)
{
    ferry_field_spec field;

    memset(&field, 0, sizeof(field));
    field.type = col->type;
    for (size_t j = 0; j < col->nseen; j++) {
        char *copy;
        if (ferry_map_convert(&field, col->seen[j], strlen(col->seen[j]), &g->tmp) != NULL ||
            (copy = strdup(ferry_buf_str(&g->tmp))) == NULL) {
            col->unique = false;
            return;
        }
        free(col->seen[j]);
        col->seen[j] = copy;
    }
}

void ferry_guess_finish(ferry_guess *g)
{
    int best = 5;

    g->key = SIZE_MAX;
    for (size_t i = 0; i < g->ncols; i++) {
        ferry_guess_column *col = &g->cols[i];

        col->type = FERRY_TYPE_TEXT;
        for (size_t k = 0; k < NCANDIDATES && col->nvalues > 0; k++) {
            if (col->possible & (1u << k)) {
                col->type = candidates[k];
                break;
            }
        }
        col->required = col->nvalues > 0 && col->nempty == 0;
        col->unique = col->required;
        if (col->unique && col->type != FERRY_TYPE_TEXT)
            canonicalise(g, col);
        if (col->unique && col->nseen > 1) {
            qsort(col->seen, col->nseen, sizeof(*col->seen), cmp_str);
            for (size_t j = 1; j < col->nseen && col->unique; j++)
                col->unique = strcmp(col->seen[j - 1], col->seen[j]) != 0;
        }
        if (!col->unique)
            continue;
        int rank = key_rank(col);
        if (rank == 4 && col->type != FERRY_TYPE_INTEGER && col->type != FERRY_TYPE_TEXT &&
            col->type != FERRY_TYPE_EMAIL)
            continue;
        if (rank < best) {
            best = rank;
            g->key = i;
        }
    }
}

void ferry_guess_done(ferry_guess *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->ncols; i++) {
        for (size_t j = 0; j < g->cols[i].nseen; j++)
            free(g->cols[i].seen[j]);
        free(g->cols[i].seen);
        free(g->cols[i].source);
        free(g->cols[i].name);
    }
    free(g->cols);
    ferry_transform_bufs_done(&g->bufs);
    ferry_buf_done(&g->tmp);
    memset(g, 0, sizeof(*g));
    g->key = SIZE_MAX;
}
