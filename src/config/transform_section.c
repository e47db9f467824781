/* transform_section.c - a field's transform keys (see transform_section.h).
 *
 * A template is split into parts once, here: literal text and references ({First Name}),
 * with {{ and }} for literal braces. What a reference reads depends on the source, which may
 * come after the fields in the file, so references are resolved in a second pass
 * (ferry_config_templates_resolve()), when the sync is complete: a reference to a column (or
 * pointer) some field reads shares that field's value, any other becomes an input of the
 * sync, which the source reads beside the fields. A map is sorted by its keys, so that the
 * mapper finds a value by binary search. */
#include "config/transform_section.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/source_section.h"

#define TEMPLATE_REFS_MAX 32
#define MAP_MAX 100000

/* ---- template ---- */

/* Appends a part to tf: literal text (ref false) or a reference. */
static ferry_rc part_add(struct walk *w, ferry_transform_spec *tf, const char *text, size_t len,
                         bool ref)
{
    ferry_template_part *parts = realloc(tf->parts, (tf->nparts + 1) * sizeof(*parts));
    ferry_template_part *p;

    if (parts == NULL)
        return ferry_config_oom(w);
    tf->parts = parts;
    p = &parts[tf->nparts];
    memset(p, 0, sizeof(*p));
    if ((p->text = strndup(text, len)) == NULL)
        return ferry_config_oom(w);
    p->len = len;
    p->ref = ref;
    tf->nparts++;
    return FERRY_OK;
}

/* Splits the template s into tf's parts; the literal text is gathered in lit. */
static ferry_rc template_split(struct walk *w, int line, const char *s, ferry_transform_spec *tf,
                               ferry_buf *lit)
{
    size_t nrefs = 0;
    ferry_rc rc;

    for (size_t i = 0; s[i] != '\0'; i++) {
        const char *end;
        if ((s[i] == '{' || s[i] == '}') && s[i + 1] == s[i]) {
            if (ferry_buf_append(lit, s + i, 1) != FERRY_OK)
                return ferry_config_oom(w);
            i++;
            continue;
        }
        if (s[i] == '}')
            return ferry_config_fail(w, line,
                                     "a '}' without its '{' at character %zu (write }} for a "
                                     "brace)",
                                     i + 1);
        if (s[i] != '{') {
            if (ferry_buf_append(lit, s + i, 1) != FERRY_OK)
                return ferry_config_oom(w);
            continue;
        }
        end = strpbrk(s + i + 1, "{}");
        if (end == NULL || *end == '{')
            return ferry_config_fail(w, line,
                                     "the '{' at character %zu is not closed (write {{ for a "
                                     "brace)",
                                     i + 1);
        if (end == s + i + 1)
            return ferry_config_fail(w, line,
                                     "'{}' at character %zu names no column: write {Column "
                                     "Name}",
                                     i + 1);
        if (++nrefs > TEMPLATE_REFS_MAX)
            return ferry_config_fail(w, line, "a template names at most %d values",
                                     TEMPLATE_REFS_MAX);
        if (lit->len > 0 && (rc = part_add(w, tf, lit->data, lit->len, false)) != FERRY_OK)
            return rc;
        ferry_buf_reset(lit);
        if ((rc = part_add(w, tf, s + i + 1, (size_t)(end - s - i - 1), true)) != FERRY_OK)
            return rc;
        i = (size_t)(end - s);
    }
    if (lit->len > 0 && (rc = part_add(w, tf, lit->data, lit->len, false)) != FERRY_OK)
        return rc;
    if (nrefs == 0)
        return ferry_config_fail(w, line,
                                 "the template names no column ({Column Name}): for a constant, "
                                 "write value:");
    return FERRY_OK;
}

ferry_rc ferry_config_template_parse(struct walk *w, const struct val *v,
                                     const struct key_rule *rule, void *obj, void *data)
{
    ferry_transform_spec *tf = &((ferry_field_spec *)data)->tf;
    ferry_buf lit;
    ferry_rc rc;

    (void)rule;
    (void)obj;
    tf->template_line = v->line;
    ferry_buf_init(&lit, SIZE_MAX / 2);
    rc = template_split(w, v->line, tf->template, tf, &lit);
    ferry_buf_done(&lit);
    return rc;
}

/* ---- map and otherwise ---- */

struct map_state {
    ferry_transform_spec *tf;
    size_t cap;
};

static ferry_rc on_map_entry(struct walk *w, const char *name, int line, const struct val *v,
                             void *obj)
{
    struct map_state *ms = obj;
    ferry_pair *pair = &ms->tf->map[ms->tf->nmap];

    if (name[0] == '\0')
        return ferry_config_fail(w, line,
                                 "an empty key: an empty cell takes the field's default: instead");
    if (v->node == NULL || ferry_config_is_null(v->node))
        return ferry_config_fail(w, v->line, "expected a value (\"\" for an empty one)");
    if (ms->tf->nmap >= ms->cap)
        return ferry_config_fail(w, line, "too many entries");
    ferry_rc rc = ferry_config_scalar_load(w, v, &pair->value);

    if (rc != FERRY_OK)
        return rc;
    if ((pair->name = strdup(name)) == NULL)
        return ferry_config_oom(w);
    ms->tf->nmap++;
    return FERRY_OK;
}

static int pair_name_cmp(const void *a, const void *b)
{
    return strcmp(((const ferry_pair *)a)->name, ((const ferry_pair *)b)->name);
}

ferry_rc ferry_config_map_walk(struct walk *w, const struct val *v, const struct key_rule *rule,
                               void *obj, void *data)
{
    ferry_transform_spec *tf = &((ferry_field_spec *)data)->tf;
    struct map_state ms = {tf, 0};
    ferry_rc rc;

    (void)rule;
    (void)obj;
    if ((rc = ferry_config_mapping_count(w, v, &ms.cap)) != FERRY_OK)
        return rc;
    if (ms.cap == 0)
        return ferry_config_fail(w, v->line, "a map has at least one entry: source value: value");
    if (ms.cap > MAP_MAX)
        return ferry_config_fail(w, v->line, "a map has at most %d entries", MAP_MAX);
    /* One more than the entries: ferry_config_pairs_free() frees a half-filled last one. */
    if ((tf->map = calloc(ms.cap + 1, sizeof(*tf->map))) == NULL)
        return ferry_config_oom(w);
    if ((rc = ferry_config_entries_walk(w, v, on_map_entry, &ms)) != FERRY_OK)
        return rc;
    qsort(tf->map, tf->nmap, sizeof(*tf->map), pair_name_cmp);
    /* YAML refuses a key given twice; "1" and 1, two spellings of one text, are caught here. */
    for (size_t i = 1; i < tf->nmap; i++)
        if (strcmp(tf->map[i - 1].name, tf->map[i].name) == 0)
            return ferry_config_fail(w, v->line, "'%.*s' is given twice",
                                     ferry_config_show_len(strlen(tf->map[i].name)),
                                     tf->map[i].name);
    return FERRY_OK;
}

ferry_rc ferry_config_otherwise_parse(struct walk *w, const struct val *v,
                                      const struct key_rule *rule, void *obj, void *data)
{
    ferry_transform_spec *tf = &((ferry_field_spec *)data)->tf;

    (void)w;
    (void)v;
    (void)rule;
    (void)obj;
    if (strcmp(tf->otherwise_value, "keep") == 0)
        tf->otherwise = FERRY_OTHERWISE_KEEP;
    else if (strcmp(tf->otherwise_value, "fail") == 0)
        tf->otherwise = FERRY_OTHERWISE_FAIL;
    else
        tf->otherwise = FERRY_OTHERWISE_VALUE;
    return FERRY_OK;
}

ferry_rc ferry_config_format_note(struct walk *w, const struct val *v, const struct key_rule *rule,
                                  void *obj, void *data)
{
    (void)w;
    (void)rule;
    (void)obj;
    ((ferry_field_spec *)data)->tf.format_line = v->line;
    return FERRY_OK;
}

/* ---- the field as a whole ---- */

/* Fails with text at key's line, the path ending in key. */
static ferry_rc fail_at(struct walk *w, const char *key, const struct val *at, const char *text)
{
    size_t old = ferry_config_path_push(w, key, strlen(key));
    ferry_rc rc = ferry_config_fail(w, at->line, "%s", text);

    ferry_config_path_pop(w, old);
    return rc;
}

static ferry_rc format_check(struct walk *w, ferry_field_spec *f, const struct val *at)
{
    ferry_transform_spec *tf = &f->tf;
    char why[256];
    bool ok;

    switch (f->type) {
    case FERRY_TYPE_DATE:
    case FERRY_TYPE_DATETIME:
        ok =
            ferry_notation_date_check(tf->format, f->type == FERRY_TYPE_DATETIME, why, sizeof(why));
        break;
    case FERRY_TYPE_DECIMAL:
    case FERRY_TYPE_INTEGER:
        ok = ferry_notation_number_parse(tf->format, f->type == FERRY_TYPE_INTEGER, &tf->number,
                                         why, sizeof(why));
        if (ok && f->type == FERRY_TYPE_DECIMAL && tf->number.decimal == 0) {
            snprintf(why, sizeof(why),
                     "'%s' shows no decimal mark: add the decimal part, such as %s,50", tf->format,
                     tf->format);
            ok = false;
        }
        break;
    default:
        snprintf(why, sizeof(why),
                 "format: is for date, datetime, decimal and integer fields (this field is %s)",
                 ferry_field_type_name(f->type));
        ok = false;
    }
    return ok ? FERRY_OK : fail_at(w, "format", at, why);
}

ferry_rc ferry_config_field_transforms_check(struct walk *w, ferry_field_spec *f,
                                             const struct key_seen *seen,
                                             const struct key_rule *rules, size_t nrules)
{
    const struct val *value = ferry_config_seen_get(seen, rules, nrules, "value");
    const struct val *tmpl = ferry_config_seen_get(seen, rules, nrules, "template");
    const struct val *column = ferry_config_seen_get(seen, rules, nrules, "column");
    const struct val *def = ferry_config_seen_get(seen, rules, nrules, "default");
    const struct val *map = ferry_config_seen_get(seen, rules, nrules, "map");
    const struct val *otherwise = ferry_config_seen_get(seen, rules, nrules, "otherwise");
    const struct val *format = ferry_config_seen_get(seen, rules, nrules, "format");
    long rest = ferry_config_seen_first(seen, rules, FERRY_KEY_REST);
    const char *maker = value != NULL ? "value" : "template";
    char text[256];

    if (value != NULL && tmpl != NULL)
        return fail_at(w, "template", tmpl,
                       "value: and template: both give the field's value: keep one");
    if ((value != NULL || tmpl != NULL) && column != NULL) {
        snprintf(text, sizeof(text),
                 "a field with %s: reads no column of its own: remove column:", maker);
        return fail_at(w, "column", column, text);
    }
    if ((value != NULL || tmpl != NULL) && rest >= 0) {
        snprintf(text, sizeof(text),
                 "a field with %s: reads no pointer of its own (a template names its values: "
                 "{name} or {/a/b})",
                 maker);
        return fail_at(w, rules[rest].name, &seen->vals[rest], text);
    }
    if (value != NULL && def != NULL)
        return fail_at(w, "default", def,
                       "default: never applies to a field with value: (its value is never empty)");
    if (otherwise != NULL && map == NULL)
        return fail_at(w, "otherwise", otherwise,
                       "otherwise: says what a value the map does not have becomes, and this "
                       "field has no map:");
    if (format != NULL && format_check(w, f, format) != FERRY_OK)
        return FERRY_ECONFIG;
    f->filled = f->filled || value != NULL || tmpl != NULL;
    return FERRY_OK;
}

/* ---- templates and the source ---- */

/* The index of the source value that reads column (CSV) or pointer (REST) in sync, adding an
 * input for it when no field reads it. */
static ferry_rc input_find(struct walk *w, ferry_sync_spec *sync, size_t field, char *column,
                           char *pointer, size_t *ret)
{
    size_t n = ferry_sync_input_count(sync);
    ferry_source_input *inputs;

    for (size_t i = 0; i < n; i++) {
        const char *c = ferry_sync_input_column(sync, i), *p = ferry_sync_input_pointer(sync, i);
        if ((column != NULL && c != NULL && strcmp(c, column) == 0) ||
            (pointer != NULL && p != NULL && strcmp(p, pointer) == 0)) {
            free(column);
            free(pointer);
            *ret = i;
            return FERRY_OK;
        }
    }
    inputs = realloc(sync->inputs, (sync->ninputs + 1) * sizeof(*inputs));
    if (inputs == NULL) {
        free(column);
        free(pointer);
        return ferry_config_oom(w);
    }
    sync->inputs = inputs;
    inputs[sync->ninputs] = (ferry_source_input){column, pointer, field};
    *ret = n;
    sync->ninputs++;
    return FERRY_OK;
}

/* Resolves the references of field i's template. */
static ferry_rc template_resolve(struct walk *w, ferry_sync_spec *sync, size_t i)
{
    ferry_transform_spec *tf = &sync->fields[i].tf;
    bool rest = sync->source.kind == FERRY_SOURCE_REST;

    for (size_t k = 0; k < tf->nparts; k++) {
        ferry_template_part *part = &tf->parts[k];
        char *column = NULL, *pointer = NULL;
        ferry_rc rc;

        if (!part->ref)
            continue;
        if (!rest) {
            column = strdup(part->text);
        } else if (part->text[0] == '/') {
            pointer = strdup(part->text);
        } else if ((pointer = malloc(part->len + 2)) != NULL) {
            pointer[0] = '/';
            memcpy(pointer + 1, part->text, part->len + 1);
        }
        if (column == NULL && pointer == NULL)
            return ferry_config_oom(w);
        if (pointer != NULL &&
            (rc = ferry_config_pointer_check(w, tf->template_line, pointer)) != FERRY_OK) {
            free(pointer);
            return rc;
        }
        if ((rc = input_find(w, sync, i, column, pointer, &part->input)) != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

ferry_rc ferry_config_templates_resolve(struct walk *w, ferry_sync_spec *sync)
{
    for (size_t i = 0; i < sync->nfields; i++) {
        const ferry_field_spec *f = &sync->fields[i];
        size_t old;
        ferry_rc rc;

        if (f->tf.nparts == 0)
            continue;
        old = ferry_config_path_push(w, "fields", 6);
        ferry_config_path_push(w, f->name, strlen(f->name));
        ferry_config_path_push(w, "template", 8);
        rc = template_resolve(w, sync, i);
        ferry_config_path_pop(w, old);
        if (rc != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

void ferry_config_transform_done(ferry_transform_spec *tf)
{
    free(tf->value);
    free(tf->template);
    for (size_t i = 0; i < tf->nparts; i++)
        free(tf->parts[i].text);
    free(tf->parts);
    free(tf->def);
    ferry_config_pairs_free(tf->map, tf->nmap);
    free(tf->otherwise_value);
    free(tf->format);
}
