/* lookup.c - look-ups (see lookup.h).
 *
 * One open-addressing hash table per look-up field. A key is the match values, each as a
 * 4-byte length and its bytes (so no separator can make two tuples collide), in one arena
 * with the values; an entry keeps the key's hash, where key and value are, and whether a
 * second row had the same key. */
#include "sync/lookup.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/source.h"
#include "sync/map.h"
#include "util/buf.h"

#define NO_VALUE UINT32_MAX
#define SHOWN_MAX 60

typedef struct {
    uint64_t hash; /* 0: empty slot */
    uint32_t key, key_len;
    uint32_t value, value_len; /* value NO_VALUE for NULL */
    bool ambiguous;            /* two rows have this key */
} entry;

typedef struct {
    size_t field;
    const ferry_lookup_spec *lk;
    entry *slots;
    size_t cap, n; /* cap a power of two */
    ferry_buf arena;
} table;

struct ferry_lookups {
    const ferry_sync_spec *sync;
    table *tables;
    size_t ntables;
    size_t bytes; /* held by all tables */
    ferry_buf key, reason, values, canon;
    const char **value; /* the resolved record's values */
    size_t *len;
    size_t *off;       /* per field: offset into values of a found value, or SIZE_MAX */
    long failed_field; /* the field of the last look-up that failed */
};

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h != 0 ? h : 1;
}

/* Appends one part of a key: its length, then its bytes. */
static ferry_rc key_part(ferry_buf *b, const char *p, size_t n)
{
    uint32_t len = (uint32_t)n;
    ferry_rc rc = ferry_buf_append(b, &len, sizeof(len));

    return rc == FERRY_OK && n > 0 ? ferry_buf_append(b, p, n) : rc;
}

static entry *find(table *t, const char *key, size_t len, uint64_t h)
{
    size_t mask = t->cap - 1;

    for (size_t i = h & mask;; i = (i + 1) & mask) {
        entry *e = &t->slots[i];
        if (e->hash == 0 ||
            (e->hash == h && e->key_len == len && memcmp(t->arena.data + e->key, key, len) == 0))
            return e;
    }
}

static bool grow(table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    entry *old = t->slots, *slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        return false;
    t->slots = slots;
    for (size_t i = 0; i < t->cap; i++) {
        if (old[i].hash == 0)
            continue;
        for (size_t j = old[i].hash & (cap - 1);; j = (j + 1) & (cap - 1)) {
            if (slots[j].hash == 0) {
                slots[j] = old[i];
                break;
            }
        }
    }
    t->cap = cap;
    free(old);
    return true;
}

typedef struct {
    ferry_lookups *l;
    table *t;
} load_ctx;

static ferry_rc too_large(const ferry_lookups *l, const table *t, ferry_err *err)
{
    return ferry_err_set(err, FERRY_ELIMIT,
                         "the look-up tables are too large to hold (over %zu MiB, reading %s for "
                         "fields.%s.lookup): narrow the look-up with scope:, or look up a "
                         "smaller table",
                         FERRY_LOOKUP_BYTES_MAX >> 20, t->lk->table,
                         l->sync->fields[t->field].name);
}

/* One row of a look-up's table. */
static ferry_rc on_row(void *ctx, const char *const *match, const size_t *match_len,
                       const char *value, size_t value_len, ferry_err *err)
{
    load_ctx *c = ctx;
    ferry_lookups *l = c->l;
    table *t = c->t;
    size_t before = t->arena.len, key_len;
    uint64_t h;
    entry *e;

    for (size_t k = 0; k < t->lk->nmatch; k++)
        if (match[k] == NULL)
            return FERRY_OK; /* NULL matches nothing */
    for (size_t k = 0; k < t->lk->nmatch; k++)
        if (key_part(&t->arena, match[k], match_len[k]) != FERRY_OK)
            return ferry_err_set(err, FERRY_ENOMEM, "holding a look-up table");
    key_len = t->arena.len - before;
    if (t->arena.len > UINT32_MAX / 2 || l->bytes + t->arena.len > FERRY_LOOKUP_BYTES_MAX)
        return too_large(l, t, err);
    if ((t->n + 1) * 2 > t->cap && !grow(t))
        return ferry_err_set(err, FERRY_ENOMEM, "holding a look-up table");
    h = hash_bytes(t->arena.data + before, key_len);
    e = find(t, t->arena.data + before, key_len, h);
    if (e->hash != 0) { /* a second row with these values: the key is kept once */
        e->ambiguous = true;
        t->arena.len = before;
        return FERRY_OK;
    }
    e->hash = h;
    e->key = (uint32_t)before;
    e->key_len = (uint32_t)key_len;
    e->value = NO_VALUE;
    e->value_len = 0;
    if (value != NULL) {
        e->value = (uint32_t)t->arena.len;
        e->value_len = (uint32_t)value_len;
        if (ferry_buf_append(&t->arena, value, value_len) != FERRY_OK)
            return ferry_err_set(err, FERRY_ENOMEM, "holding a look-up table");
    }
    t->n++;
    return FERRY_OK;
}

/* The scope's values, with the run's tenant's {variable} expanded, into values (one string
 * after another, NUL-separated) and ptrs. */
static ferry_rc scope_values(const ferry_sync_spec *sync, const char *tenant,
                             const ferry_lookup_spec *lk, ferry_buf *values, const char **ptrs,
                             ferry_err *err)
{
    size_t *at = calloc(lk->nscope + 1, sizeof(*at));
    ferry_rc rc = at != NULL ? FERRY_OK : ferry_err_set(err, FERRY_ENOMEM, "expanding a scope");

    ferry_buf_reset(values);
    for (size_t s = 0; s < lk->nscope && rc == FERRY_OK; s++) {
        at[s] = values->len;
        rc = ferry_source_expand(sync, tenant, lk->scope[s].value, false, values, err);
        if (rc == FERRY_OK && ferry_buf_append(values, "", 1) != FERRY_OK)
            rc = ferry_err_set(err, FERRY_ENOMEM, "expanding a scope");
    }
    for (size_t s = 0; s < lk->nscope && rc == FERRY_OK; s++)
        ptrs[s] = values->data + at[s];
    free(at);
    return rc;
}

ferry_rc ferry_lookups_load(const ferry_sync_spec *sync, const char *tenant, ferry_target *target,
                            ferry_lookups **ret_lookups, ferry_err *err)
{
    ferry_lookups *l;
    ferry_buf scope;
    const char **ptrs = NULL;
    size_t n = 0;
    ferry_rc rc = FERRY_OK;

    *ret_lookups = NULL;
    for (size_t i = 0; i < sync->nfields; i++)
        n += sync->fields[i].lookup.table != NULL;
    if (n == 0)
        return FERRY_OK;
    if (target->ops->lookup_rows == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "this target cannot read look-up tables");
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the look-ups");
    l->sync = sync;
    ferry_buf_init(&l->key, SIZE_MAX / 2);
    ferry_buf_init(&l->reason, 1024);
    ferry_buf_init(&l->values, SIZE_MAX / 2);
    ferry_buf_init(&l->canon, SIZE_MAX / 2);
    ferry_buf_init(&scope, 64 * 1024);
    l->tables = calloc(n, sizeof(*l->tables));
    l->value = calloc(sync->nfields, sizeof(*l->value));
    l->len = calloc(sync->nfields, sizeof(*l->len));
    l->off = calloc(sync->nfields, sizeof(*l->off));
    ptrs = calloc(FERRY_LOOKUP_MATCH_MAX + sync->nfields, sizeof(*ptrs));
    if (l->tables == NULL || l->value == NULL || l->len == NULL || l->off == NULL || ptrs == NULL)
        rc = ferry_err_set(err, FERRY_ENOMEM, "allocating the look-ups");
    for (size_t i = 0; i < sync->nfields && rc == FERRY_OK; i++) {
        const ferry_lookup_spec *lk = &sync->fields[i].lookup;
        table *t = &l->tables[l->ntables];
        load_ctx c = {l, t};

        if (lk->table == NULL)
            continue;
        l->ntables++;
        t->field = i;
        t->lk = lk;
        ferry_buf_init(&t->arena, SIZE_MAX / 2);
        if (!grow(t)) {
            rc = ferry_err_set(err, FERRY_ENOMEM, "allocating the look-ups");
            break;
        }
        rc = scope_values(sync, tenant, lk, &scope, ptrs, err);
        if (rc == FERRY_OK)
            rc = target->ops->lookup_rows(target, lk, ptrs, on_row, &c, err);
        if (rc != FERRY_OK)
            ferry_err_prefix(err, "fields.%s.lookup", sync->fields[i].name);
        l->bytes += t->arena.len + t->cap * sizeof(entry);
    }
    free(ptrs);
    ferry_buf_done(&scope);
    if (rc != FERRY_OK) {
        ferry_lookups_free(l);
        return rc;
    }
    *ret_lookups = l;
    return FERRY_OK;
}

/* Appends 'value' to the reason, cut at SHOWN_MAX bytes. */
static void show(ferry_buf *b, const char *s, size_t n)
{
    ferry_buf_printf_trunc(b, "'%.*s%s'", (int)(n > SHOWN_MAX ? SHOWN_MAX : n), s,
                           n > SHOWN_MAX ? "..." : "");
}

/* "brand_id 'BR-9' not found in brands.code", or with several match columns
 * "brand_id 'BR-9', region 'EU' not found in brands (code, region)". */
static void not_found(ferry_lookups *l, const table *t, const ferry_mapped_record *rec,
                      const char *what)
{
    const ferry_lookup_spec *lk = t->lk;

    ferry_buf_reset(&l->reason);
    for (size_t k = 0; k < lk->nmatch; k++) {
        size_t f = lk->match_field[k];
        ferry_buf_printf_trunc(&l->reason, "%s%s ", k ? ", " : "", l->sync->fields[f].name);
        show(&l->reason, rec->value[f] != NULL ? rec->value[f] : "",
             rec->value[f] != NULL ? rec->len[f] : 0);
    }
    ferry_buf_printf_trunc(&l->reason, " %s %s", what, lk->table);
    if (lk->nmatch == 1) {
        ferry_buf_printf_trunc(&l->reason, ".%s", lk->match[0]);
        return;
    }
    for (size_t k = 0; k < lk->nmatch; k++)
        ferry_buf_printf_trunc(&l->reason, "%s%s", k ? ", " : " (", lk->match[k]);
    ferry_buf_printf_trunc(&l->reason, ")");
}

/* Looks rec up in t: FERRY_OK with the field's value placed (l->off), or a reason. */
static ferry_rc resolve_one(ferry_lookups *l, table *t, const ferry_mapped_record *rec,
                            bool *ret_failed, ferry_err *err)
{
    const ferry_lookup_spec *lk = t->lk;
    const ferry_field_spec *f = &l->sync->fields[t->field];
    ferry_buf *canon = &l->canon;
    const char *why;
    entry *e;

    l->off[t->field] = SIZE_MAX;
    if (rec->value[t->field] == NULL)
        return FERRY_OK; /* empty: NULL, not looked up */
    ferry_buf_reset(&l->key);
    for (size_t k = 0; k < lk->nmatch; k++) {
        size_t m = lk->match_field[k];
        if (rec->value[m] == NULL) { /* a NULL matches nothing */
            if (lk->optional)
                return FERRY_OK;
            not_found(l, t, rec, "not found in");
            *ret_failed = true;
            return FERRY_OK;
        }
        if (key_part(&l->key, rec->value[m], rec->len[m]) != FERRY_OK)
            return ferry_err_set(err, FERRY_ENOMEM, "looking a value up");
    }
    e = find(t, l->key.data, l->key.len, hash_bytes(l->key.data, l->key.len));
    if (e->hash == 0 || e->ambiguous) {
        if (e->hash == 0 && lk->optional)
            return FERRY_OK;
        not_found(l, t, rec, e->hash == 0 ? "not found in" : "matches more than one row of");
        *ret_failed = true;
        return FERRY_OK;
    }
    if (e->value == NO_VALUE)
        return FERRY_OK;
    why = ferry_map_convert(f, t->arena.data + e->value, e->value_len, canon);
    if (why != NULL) {
        ferry_buf_reset(&l->reason);
        ferry_buf_printf_trunc(&l->reason, "%s: %s.%s ", f->name, lk->table, lk->value);
        show(&l->reason, t->arena.data + e->value, e->value_len);
        ferry_buf_printf_trunc(&l->reason, " %s", why);
        *ret_failed = true;
        return FERRY_OK;
    }
    l->off[t->field] = l->values.len;
    if (ferry_buf_append(&l->values, canon->data != NULL ? canon->data : "", canon->len) !=
            FERRY_OK ||
        ferry_buf_append(&l->values, "", 1) != FERRY_OK)
        return ferry_err_set(err, FERRY_ENOMEM, "looking a value up");
    return FERRY_OK;
}

ferry_rc ferry_lookups_resolve(ferry_lookups *l, const ferry_mapped_record *rec,
                               ferry_mapped_record *ret_rec, const char **ret_reason,
                               ferry_err *err)
{
    bool failed = false;
    ferry_rc rc;

    *ret_reason = NULL;
    ferry_buf_reset(&l->values);
    for (size_t i = 0; i < l->ntables; i++) {
        if ((rc = resolve_one(l, &l->tables[i], rec, &failed, err)) != FERRY_OK)
            return rc;
        if (failed) {
            *ret_reason = ferry_buf_str(&l->reason);
            l->failed_field = (long)l->tables[i].field;
            return FERRY_OK;
        }
    }
    /* The values buffer may have moved while it grew: pointers are taken at the end. */
    for (size_t i = 0; i < rec->nvalues; i++) {
        l->value[i] = rec->value[i];
        l->len[i] = rec->len[i];
    }
    for (size_t i = 0; i < l->ntables; i++) {
        size_t f = l->tables[i].field;
        if (rec->value[f] == NULL)
            continue;
        l->value[f] = l->off[f] == SIZE_MAX ? NULL : l->values.data + l->off[f];
        l->len[f] = l->off[f] == SIZE_MAX ? 0 : strlen(l->value[f]);
    }
    *ret_rec = *rec;
    ret_rec->value = l->value;
    ret_rec->len = l->len;
    return FERRY_OK;
}

void ferry_lookups_free(ferry_lookups *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->ntables; i++) {
        free(l->tables[i].slots);
        ferry_buf_done(&l->tables[i].arena);
    }
    free(l->tables);
    ferry_buf_done(&l->key);
    ferry_buf_done(&l->reason);
    ferry_buf_done(&l->values);
    ferry_buf_done(&l->canon);
    free(l->value);
    free(l->len);
    free(l->off);
    free(l);
}

long ferry_lookups_failed_field(const ferry_lookups *l)
{
    return l->failed_field;
}
