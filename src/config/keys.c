/* keys.c - config keys as data (see keys.h): walking a table of rows, one handler per kind of
 * value, and the checks that rows of several tables share. */
#include "config/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_path.h"
#include "util/tz.h"

/* Enums are stored through an int. */
_Static_assert(sizeof(ferry_field_type) == sizeof(int), "enums are int-sized");

static ferry_rc unknown_key(struct walk *w, int line, const struct key_rule *rules, size_t n)
{
    char names[512];
    size_t len = 0, i;

    names[0] = '\0';
    for (i = 0; i < n && len < sizeof(names); i++) {
        int k =
            snprintf(names + len, sizeof(names) - len, "%s%s", i > 0 ? ", " : "", rules[i].name);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    return ferry_config_fail(w, line, "unknown key (expected one of: %s)", names);
}

/* ---- one handler per kind ---- */

/* A size (bytes, or a number followed by a unit) from 1 byte to max (written max_text). */
static ferry_rc size_get(struct walk *w, const struct val *v, unsigned long long max,
                         const char *max_text, size_t *ret)
{
    char *s = NULL;
    int ok;
    ferry_rc rc = ferry_config_scalar_load(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    ok = ferry_config_size_parse(s, max, ret);
    if (ok == 0)
        rc = ferry_config_fail(w, v->line,
                               "expected a size such as 1048576, 512KiB or 1MiB, not '%.*s'",
                               ferry_config_show_len(strlen(s)), s);
    else if (ok < 0)
        rc = ferry_config_fail(w, v->line, "'%.*s' is out of range (1 byte to %s)",
                               ferry_config_show_len(strlen(s)), s, max_text);
    free(s);
    return rc;
}

ferry_rc ferry_config_pointer_check(struct walk *w, int line, const char *text)
{
    ferry_json_path *p = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_json_path_compile(text, &p, &err) != FERRY_OK)
        return ferry_config_fail(w, line, "'%.*s' is not a JSON pointer: %s",
                                 ferry_config_show_len(strlen(text)), text, err.msg);
    ferry_json_path_free(p);
    return FERRY_OK;
}

/* A string that may be empty (a JSON pointer when pointer), replacing *dst. */
static ferry_rc text_set(struct walk *w, const struct val *v, bool pointer, char **dst)
{
    char *s = NULL;
    ferry_rc rc = ferry_config_scalar_load(w, v, &s);

    if (rc == FERRY_OK && pointer)
        rc = ferry_config_pointer_check(w, v->line, s);
    if (rc != FERRY_OK) {
        free(s);
        return rc;
    }
    free(*dst);
    *dst = s;
    return FERRY_OK;
}

static ferry_rc strings_set(struct walk *w, const struct val *v, const struct key_rule *rule,
                            void *data)
{
    char ***dst = FERRY_KEY_MEMBER(char **, data, rule->offset);
    size_t *dst_n = FERRY_KEY_MEMBER(size_t, data, rule->count_offset);
    char **items = NULL;
    size_t n = 0;
    ferry_rc rc = ferry_config_strings_load(w, v, rule->flags & FERRY_KEY_ONE_OK,
                                            rule->flags & FERRY_KEY_NOCASE, &items, &n);

    if (rc != FERRY_OK)
        return rc;
    ferry_config_strv_free(*dst, *dst_n);
    *dst = items;
    *dst_n = n;
    return FERRY_OK;
}

static ferry_rc number_get(struct walk *w, const struct val *v, const struct key_rule *rule,
                           void *data)
{
    long n = 0;
    ferry_rc rc = ferry_config_long_get(w, v, rule->min, rule->max, &n);

    if (rc != FERRY_OK)
        return rc;
    if (rule->kind == FERRY_KEY_INT)
        *FERRY_KEY_MEMBER(int, data, rule->offset) = (int)n;
    else
        *FERRY_KEY_MEMBER(long, data, rule->offset) = n;
    return FERRY_OK;
}

static ferry_rc duration_get(struct walk *w, const struct val *v, const struct key_rule *rule,
                             void *data)
{
    long *dst = FERRY_KEY_MEMBER(long, data, rule->offset);

    if (rule->flags & FERRY_KEY_ZERO_OK) {
        char *s = NULL;
        ferry_rc rc = ferry_config_scalar_load(w, v, &s);
        bool none;

        if (rc != FERRY_OK)
            return rc;
        none = strcmp(s, "0") == 0 || strcmp(s, "0s") == 0;
        free(s);
        if (none) {
            *dst = 0;
            return FERRY_OK;
        }
    }
    if (rule->max == 0)
        return ferry_config_duration_get(w, v, dst);
    return ferry_config_duration_get_within(w, v, rule->min, rule->max, dst);
}

/* "a, b or c": the names of an enum from min on. */
static void names_list(const struct key_rule *rule, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = (size_t)rule->min; i < rule->nnames && len < size; i++) {
        const char *sep = i == (size_t)rule->min ? "" : i + 1 == rule->nnames ? " or " : ", ";
        int k = snprintf(buf + len, size - len, "%s%s", sep, rule->names[i]);
        if (k < 0)
            break;
        len += (size_t)k;
    }
}

static ferry_rc enum_get(struct walk *w, const struct val *v, const struct key_rule *rule,
                         void *data)
{
    char expected[256];
    const char *s = NULL;
    size_t len = 0;
    ferry_rc rc = ferry_config_scalar_get(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    for (size_t i = (size_t)rule->min; i < rule->nnames; i++) {
        if (strlen(rule->names[i]) == len && memcmp(rule->names[i], s, len) == 0) {
            *FERRY_KEY_MEMBER(int, data, rule->offset) = (int)i;
            return FERRY_OK;
        }
    }
    if (rule->flags & FERRY_KEY_UNLISTED)
        return ferry_config_fail(w, v->line, "unknown %s '%.*s'", rule->what,
                                 ferry_config_show_len(len), s);
    names_list(rule, expected, sizeof(expected));
    return ferry_config_fail(w, v->line, "unknown %s '%.*s' (expected %s)", rule->what,
                             ferry_config_show_len(len), s, expected);
}

/* The value of one key, by its row. */
static ferry_rc key_set(struct walk *w, const struct val *v, const struct key_rule *rule, void *obj,
                        void *data)
{
    void *member = FERRY_KEY_MEMBER(char, data, rule->offset);
    ferry_rc rc;

    switch (rule->kind) {
    case FERRY_KEY_CUSTOM:
        return rule->fn(w, v, rule, obj, data);
    case FERRY_KEY_STRING:
        rc = ferry_config_string_set(w, v, member);
        break;
    case FERRY_KEY_TEXT:
    case FERRY_KEY_POINTER:
        rc = text_set(w, v, rule->kind == FERRY_KEY_POINTER, member);
        break;
    case FERRY_KEY_STRINGS:
        rc = strings_set(w, v, rule, data);
        break;
    case FERRY_KEY_BOOL:
        rc = ferry_config_bool_get(w, v, member);
        break;
    case FERRY_KEY_INT:
    case FERRY_KEY_LONG:
        rc = number_get(w, v, rule, data);
        break;
    case FERRY_KEY_DURATION:
        rc = duration_get(w, v, rule, data);
        break;
    case FERRY_KEY_SIZE:
        rc = size_get(w, v, (unsigned long long)rule->max, rule->what, member);
        break;
    case FERRY_KEY_ENUM:
        rc = enum_get(w, v, rule, data);
        break;
    case FERRY_KEY_TABLE:
        rc = ferry_config_table_walk(w, v, rule->sub, rule->nsub, obj, member, NULL);
        break;
    default:
        return ferry_err_set(w->err, FERRY_EINVAL, "config schema: unknown kind of key");
    }
    if (rc == FERRY_OK && rule->fn != NULL)
        rc = rule->fn(w, v, rule, obj, data);
    return rc;
}

/* ---- tables ---- */

ferry_rc ferry_config_table_walk(struct walk *w, const struct val *map,
                                 const struct key_rule *rules, size_t nrules, void *obj, void *data,
                                 struct key_seen *seen)
{
    uint64_t given = 0;
    struct fy_node_pair *pair;
    void *it = NULL;
    size_t i;
    ferry_rc rc;

    if (nrules > FERRY_KEY_TABLE_MAX)
        return ferry_err_set(w->err, FERRY_EINVAL, "config schema table too large");
    if (seen != NULL)
        memset(seen, 0, sizeof(*seen));
    if (map->node == NULL || !fy_node_is_mapping(map->node))
        return ferry_config_fail(w, map->line, "expected a mapping");
    while ((pair = fy_node_mapping_iterate(map->node, &it)) != NULL) {
        const char *name = NULL;
        size_t len = 0, old;
        int line = 0;
        struct val v;

        rc = ferry_config_key_text_get(w, fy_node_pair_key(pair), map->line, &name, &len, &line);
        if (rc != FERRY_OK)
            return rc;
        for (i = 0; i < nrules; i++)
            if (strlen(rules[i].name) == len && memcmp(rules[i].name, name, len) == 0)
                break;
        old = ferry_config_path_push(w, name, len);
        if (i == nrules) {
            rc = unknown_key(w, line, rules, nrules);
        } else {
            given |= (uint64_t)1 << i;
            v = ferry_config_val_of(fy_node_pair_value(pair), line);
            if (seen != NULL) {
                seen->vals[i] = v;
                seen->order[seen->n++] = (unsigned char)i;
            }
            rc = key_set(w, &v, &rules[i], obj, data);
        }
        ferry_config_path_pop(w, old);
        if (rc != FERRY_OK)
            return rc;
    }
    if (seen != NULL)
        seen->given = given;
    for (i = 0; i < nrules; i++)
        if ((rules[i].flags & FERRY_KEY_REQUIRED) && !(given & ((uint64_t)1 << i)))
            return ferry_config_fail(w, map->line, "missing required key '%s'", rules[i].name);
    return FERRY_OK;
}

bool ferry_config_table_defaults(const struct key_rule *rules, size_t nrules, void *data)
{
    for (size_t i = 0; i < nrules; i++) {
        const struct key_rule *r = &rules[i];
        void *member = FERRY_KEY_MEMBER(char, data, r->offset);

        switch (r->kind) {
        case FERRY_KEY_STRING:
            if (r->def_text != NULL && (*(char **)member = strdup(r->def_text)) == NULL)
                return false;
            break;
        case FERRY_KEY_BOOL:
            if (r->def != 0)
                *(bool *)member = true;
            break;
        case FERRY_KEY_INT:
        case FERRY_KEY_ENUM:
            if (r->def != 0)
                *(int *)member = (int)r->def;
            break;
        case FERRY_KEY_LONG:
        case FERRY_KEY_DURATION:
            if (r->def != 0)
                *(long *)member = r->def;
            break;
        case FERRY_KEY_SIZE:
            if (r->def != 0)
                *(size_t *)member = (size_t)r->def;
            break;
        case FERRY_KEY_TABLE:
            if (!ferry_config_table_defaults(r->sub, r->nsub, member))
                return false;
            break;
        default:
            break;
        }
    }
    return true;
}

const struct val *ferry_config_seen_get(const struct key_seen *seen, const struct key_rule *rules,
                                        size_t nrules, const char *name)
{
    for (size_t i = 0; i < nrules; i++)
        if (strcmp(rules[i].name, name) == 0)
            return (seen->given & ((uint64_t)1 << i)) ? &seen->vals[i] : NULL;
    return NULL;
}

long ferry_config_seen_first(const struct key_seen *seen, const struct key_rule *rules,
                             unsigned flag)
{
    for (size_t i = 0; i < seen->n; i++)
        if (rules[seen->order[i]].flags & flag)
            return seen->order[i];
    return -1;
}

/* ---- checks rows of several tables share ---- */

bool ferry_config_database_is_valid(const char *s)
{
    if (strncmp(s, "sqlite:", 7) == 0)
        return s[7] != '\0';
    return strncmp(s, "postgres://", 11) == 0 || strncmp(s, "postgresql://", 13) == 0;
}

ferry_rc ferry_config_database_check(struct walk *w, const struct val *v,
                                     const struct key_rule *rule, void *obj, void *data)
{
    (void)obj;
    /* The value is not echoed: a database URL may carry a password. */
    if (!ferry_config_database_is_valid(*FERRY_KEY_MEMBER(char *, data, rule->offset)))
        return ferry_config_fail(w, v->line,
                                 "expected sqlite:PATH or a postgres:// or postgresql:// URL");
    return FERRY_OK;
}

ferry_rc ferry_config_timezone_check(struct walk *w, const struct val *v,
                                     const struct key_rule *rule, void *obj, void *data)
{
    const char *name = *FERRY_KEY_MEMBER(char *, data, rule->offset);
    ferry_tz *tz = NULL;
    ferry_err err;

    (void)obj;
    ferry_err_clear(&err);
    if (!ferry_tz_name_is_valid(name))
        return ferry_config_fail(w, v->line, "unknown time zone '%.*s'",
                                 ferry_config_show_len(strlen(name)), name);
    if (ferry_tz_load(name, &tz, &err) != FERRY_OK)
        return ferry_config_fail(w, v->line, "%s", err.msg);
    ferry_tz_free(tz);
    return FERRY_OK;
}

ferry_rc ferry_config_hosts_check(struct walk *w, const struct val *v, const struct key_rule *rule,
                                  void *obj, void *data)
{
    char **hosts = *FERRY_KEY_MEMBER(char **, data, rule->offset);
    size_t n = *FERRY_KEY_MEMBER(size_t, data, rule->count_offset);

    (void)obj;
    for (size_t i = 0; i < n; i++) {
        char *h = hosts[i];
        size_t len = strlen(h);
        bool bracketed = len > 2 && h[0] == '[' && h[len - 1] == ']';
        if (strpbrk(h, "/@?# \t") != NULL ||
            (strchr(h, ':') != NULL && !bracketed && strchr(strchr(h, ':') + 1, ':') == NULL))
            return ferry_config_fail(
                w, v->line,
                "'%.*s' is not a host: allow_hosts lists host names or addresses "
                "(such as api.internal or 10.0.0.5), without scheme, port or path",
                ferry_config_show_len(len), h);
        for (char *p = h; *p != '\0'; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    return FERRY_OK;
}

ferry_rc ferry_config_identifier_key_check(struct walk *w, const struct val *v,
                                           const struct key_rule *rule, void *obj, void *data)
{
    (void)obj;
    return ferry_config_identifier_check(w, v->line, *FERRY_KEY_MEMBER(char *, data, rule->offset),
                                         rule->what);
}
