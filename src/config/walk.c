/* walk.c - the schema walker (see walk.h): the path, messages, and reading one value. */
#include "config/walk.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/expand.h"

#define RESERVED_PREFIX "ferry_"

/* ---- paths and messages ---- */

size_t ferry_config_path_push(struct walk *w, const char *key, size_t keylen)
{
    size_t old = w->pathlen;
    size_t room = sizeof(w->path) - w->pathlen;
    int n;

    if (keylen > SHOW_MAX)
        keylen = SHOW_MAX;
    n = snprintf(w->path + w->pathlen, room, "%s%.*s", old > 0 ? "." : "", (int)keylen, key);
    if (n > 0)
        w->pathlen += (size_t)n < room ? (size_t)n : room - 1;
    return old;
}

size_t ferry_config_path_push_index(struct walk *w, size_t index)
{
    size_t old = w->pathlen;
    size_t room = sizeof(w->path) - w->pathlen;
    int n = snprintf(w->path + w->pathlen, room, "[%zu]", index);

    if (n > 0)
        w->pathlen += (size_t)n < room ? (size_t)n : room - 1;
    return old;
}

void ferry_config_path_pop(struct walk *w, size_t old)
{
    w->pathlen = old;
    w->path[old] = '\0';
}

/* One value with its references replaced, owned by the walk. */
struct expanded {
    struct expanded *next;
    const char *raw; /* the value as written, borrowed from the document */
    size_t raw_len;
    size_t len;
    char text[]; /* len bytes and a NUL */
};

/* Replaces in msg each quote of a value that came from the environment ('%.*s' with
 * ferry_config_show_len(), as messages quote values back) with the value as written
 * ('${LISTEN}'): a variable may hold a secret. */
static void unquote_expanded(const struct walk *w, char *msg, size_t size)
{
    for (const struct expanded *e = w->expanded; e != NULL; e = e->next) {
        char needle[SHOW_MAX + 3], with[SHOW_MAX + 3], rest[FERRY_ERR_MSG_MAX];
        size_t at = 0, needle_len, with_len;
        char *hit;

        snprintf(needle, sizeof(needle), "'%.*s'", ferry_config_show_len(e->len), e->text);
        snprintf(with, sizeof(with), "'%.*s'", ferry_config_show_len(e->raw_len), e->raw);
        needle_len = strlen(needle);
        with_len = strlen(with);
        while (at < strlen(msg) && (hit = strstr(msg + at, needle)) != NULL) {
            size_t off = (size_t)(hit - msg);

            snprintf(rest, sizeof(rest), "%s", hit + needle_len);
            snprintf(hit, size - off, "%s%s", with, rest);
            at = off + with_len;
        }
    }
}

/* Records "FILE:LINE: PATH: message" (no PATH at the top level) and returns FERRY_ECONFIG. */
ferry_rc ferry_config_fail(struct walk *w, int line, const char *fmt, ...)
{
    char msg[FERRY_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    unquote_expanded(w, msg, sizeof(msg));
    if (w->pathlen > 0)
        return ferry_err_set(w->err, FERRY_ECONFIG, "%s:%d: %s: %s", w->file, line, w->path, msg);
    return ferry_err_set(w->err, FERRY_ECONFIG, "%s:%d: %s", w->file, line, msg);
}

ferry_rc ferry_config_oom(struct walk *w)
{
    return ferry_err_set(w->err, FERRY_ENOMEM, "%s: out of memory while loading the config",
                         w->file);
}

/* For quoting a value back: "'%.*s'", ferry_config_show_len(len), s. */
int ferry_config_show_len(size_t len)
{
    return len > SHOW_MAX ? SHOW_MAX : (int)len;
}

void ferry_config_walk_done(struct walk *w)
{
    while (w->expanded != NULL) {
        struct expanded *next = w->expanded->next;

        memset(w->expanded->text, 0, w->expanded->len); /* it may be a secret */
        free(w->expanded);
        w->expanded = next;
    }
}

/* ---- nodes ---- */

/* The 1-based line of a node, or 0 when it has no position of its own. */
int ferry_config_node_line(struct fy_node *n)
{
    void *it = NULL;

    if (n == NULL)
        return 0;
    if (fy_node_is_scalar(n)) {
        struct fy_token *tok = fy_node_get_scalar_token(n);
        const struct fy_mark *mark = tok != NULL ? fy_token_start_mark(tok) : NULL;

        return mark != NULL ? mark->line + 1 : 0;
    }
    if (fy_node_is_sequence(n))
        return ferry_config_node_line(fy_node_sequence_iterate(n, &it));
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *pair = fy_node_mapping_iterate(n, &it);

        return pair != NULL ? ferry_config_node_line(fy_node_pair_key(pair)) : 0;
    }
    return 0;
}

struct val ferry_config_val_of(struct fy_node *n, int fallback_line)
{
    struct val v;
    int line = ferry_config_node_line(n);

    v.node = n;
    v.line = line > 0 ? line : fallback_line;
    return v;
}

/* A YAML null: no node, an empty plain scalar, or plain ~ / null. */
bool ferry_config_is_null(struct fy_node *n)
{
    const char *s = NULL;
    size_t len = 0;

    if (n == NULL)
        return true;
    if (!fy_node_is_scalar(n))
        return false;
    if (fy_node_is_null(n))
        return true;
    if (fy_node_get_style(n) != FYNS_PLAIN)
        return false;
    s = fy_node_get_scalar(n, &len);
    if (s == NULL || len == 0)
        return true;
    return (len == 1 && s[0] == '~') ||
           (len == 4 &&
            (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

/* The text of a scalar as written. */
static ferry_rc raw_scalar_get(struct walk *w, const struct val *v, const char **ret,
                               size_t *ret_len)
{
    const char *s = NULL;
    size_t len = 0;

    if (ferry_config_is_null(v->node))
        return ferry_config_fail(w, v->line, "missing value");
    if (!fy_node_is_scalar(v->node))
        return ferry_config_fail(w, v->line, "expected a scalar");
    s = fy_node_get_scalar(v->node, &len);
    if (s == NULL)
        return ferry_config_fail(w, v->line, "expected a scalar");
    if (memchr(s, '\0', len) != NULL)
        return ferry_config_fail(w, v->line, "contains a NUL character");
    *ret = s;
    *ret_len = len;
    return FERRY_OK;
}

ferry_rc ferry_config_scalar_get(struct walk *w, const struct val *v, const char **ret,
                                 size_t *ret_len)
{
    char why[FERRY_ERR_MSG_MAX];
    const char *s = NULL;
    char *text = NULL;
    size_t len = 0, raw_len;
    struct expanded *e;
    ferry_rc rc = raw_scalar_get(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    if (!ferry_config_expand_is_needed(s, len)) {
        *ret = s;
        *ret_len = len;
        return FERRY_OK;
    }
    raw_len = len;
    why[0] = '\0';
    rc = ferry_config_expand(s, len, &text, &len, why, sizeof(why));
    if (rc == FERRY_ENOMEM)
        return ferry_config_oom(w);
    if (rc != FERRY_OK)
        return ferry_config_fail(w, v->line, "%s", why);
    e = malloc(sizeof(*e) + len + 1);
    if (e != NULL) {
        e->next = w->expanded;
        e->raw = s;
        e->raw_len = raw_len;
        e->len = len;
        memcpy(e->text, text, len + 1);
        w->expanded = e;
    }
    memset(text, 0, len);
    free(text);
    if (e == NULL)
        return ferry_config_oom(w);
    *ret = e->text;
    *ret_len = len;
    return FERRY_OK;
}

/* A malloc'ed NUL-terminated copy of a scalar value (may be empty). */
ferry_rc ferry_config_scalar_load(struct walk *w, const struct val *v, char **ret)
{
    const char *s = NULL;
    size_t len = 0;
    ferry_rc rc = ferry_config_scalar_get(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    *ret = strndup(s, len);
    return *ret != NULL ? FERRY_OK : ferry_config_oom(w);
}

/* Like ferry_config_scalar_load() but an empty string is an error. */
ferry_rc ferry_config_string_load(struct walk *w, const struct val *v, char **ret)
{
    ferry_rc rc = ferry_config_scalar_load(w, v, ret);

    if (rc != FERRY_OK)
        return rc;
    if ((*ret)[0] == '\0') {
        free(*ret);
        *ret = NULL;
        return ferry_config_fail(w, v->line, "must not be empty");
    }
    return FERRY_OK;
}

/* Replaces *dst with the string value (the old value is freed only on success). */
ferry_rc ferry_config_string_set(struct walk *w, const struct val *v, char **dst)
{
    char *s = NULL;
    ferry_rc rc = ferry_config_string_load(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    free(*dst);
    *dst = s;
    return FERRY_OK;
}

ferry_rc ferry_config_bool_get(struct walk *w, const struct val *v, bool *ret)
{
    static const char *const truths[] = {"true", "yes", "on"};
    static const char *const lies[] = {"false", "no", "off"};
    const char *s = NULL;
    size_t len = 0, i;
    ferry_rc rc = ferry_config_scalar_get(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    for (i = 0; i < NITEMS(truths); i++) {
        if (strlen(truths[i]) == len && strncasecmp(s, truths[i], len) == 0) {
            *ret = true;
            return FERRY_OK;
        }
        if (strlen(lies[i]) == len && strncasecmp(s, lies[i], len) == 0) {
            *ret = false;
            return FERRY_OK;
        }
    }
    return ferry_config_fail(w, v->line, "expected a boolean (true or false), not '%.*s'",
                             ferry_config_show_len(len), s);
}

/* A decimal integer: optional '-', then digits only, within long. */
bool ferry_config_long_parse(const char *s, long *ret)
{
    const char *p = s[0] == '-' ? s + 1 : s;
    char *end;
    long n = 0;

    if (*p < '0' || *p > '9')
        return false;
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *ret = n;
    return true;
}

ferry_rc ferry_config_long_get(struct walk *w, const struct val *v, long min, long max, long *ret)
{
    char *s = NULL;
    long n = 0;
    ferry_rc rc = ferry_config_scalar_load(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    if (!ferry_config_long_parse(s, &n) || n < min || n > max)
        rc = ferry_config_fail(w, v->line, "expected a whole number from %ld to %ld, not '%.*s'",
                               min, max, ferry_config_show_len(strlen(s)), s);
    else
        *ret = n;
    free(s);
    return rc;
}

void ferry_config_strv_free(char **v, size_t n)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* A non-empty list of non-empty strings without repeats (compared case-insensitively when
 * nocase). With scalar_ok a single scalar is taken as a list of one. */
ferry_rc ferry_config_strings_load(struct walk *w, const struct val *v, bool scalar_ok, bool nocase,
                                   char ***ret, size_t *ret_n)
{
    char **items = NULL;
    size_t n = 0, i, count;
    struct fy_node *item;
    void *it = NULL;
    ferry_rc rc = FERRY_OK;

    if (scalar_ok && v->node != NULL && fy_node_is_scalar(v->node) &&
        !ferry_config_is_null(v->node)) {
        items = calloc(1, sizeof(*items));
        if (items == NULL)
            return ferry_config_oom(w);
        rc = ferry_config_string_load(w, v, &items[0]);
        if (rc != FERRY_OK) {
            free(items);
            return rc;
        }
        *ret = items;
        *ret_n = 1;
        return FERRY_OK;
    }
    if (v->node == NULL || !fy_node_is_sequence(v->node))
        return ferry_config_fail(w, v->line, "expected a list");
    count = (size_t)fy_node_sequence_item_count(v->node);
    if (count == 0)
        return ferry_config_fail(w, v->line, "the list must not be empty");
    items = calloc(count, sizeof(*items));
    if (items == NULL)
        return ferry_config_oom(w);
    while (n < count && (item = fy_node_sequence_iterate(v->node, &it)) != NULL) {
        struct val iv = ferry_config_val_of(item, v->line);
        size_t old = ferry_config_path_push_index(w, n);

        rc = ferry_config_string_load(w, &iv, &items[n]);
        if (rc == FERRY_OK) {
            n++;
            for (i = 0; i + 1 < n; i++) {
                if ((nocase ? strcasecmp(items[i], items[n - 1])
                            : strcmp(items[i], items[n - 1])) == 0) {
                    rc = ferry_config_fail(w, iv.line, "'%s' is listed twice", items[n - 1]);
                    break;
                }
            }
        }
        ferry_config_path_pop(w, old);
        if (rc != FERRY_OK) {
            ferry_config_strv_free(items, n);
            return rc;
        }
    }
    *ret = items;
    *ret_n = n;
    return FERRY_OK;
}

/* The value node of a sequence item for messages about item i (the list itself when the
 * value is a scalar taken as a list of one). */
struct val ferry_config_list_item(const struct val *list, size_t index)
{
    struct fy_node *item = NULL;
    void *it = NULL;
    size_t i;

    if (list->node == NULL || !fy_node_is_sequence(list->node))
        return *list;
    for (i = 0; i <= index; i++)
        item = fy_node_sequence_iterate(list->node, &it);
    return ferry_config_val_of(item, list->line);
}

/* ---- mappings ---- */

/* The text of a mapping key. */
ferry_rc ferry_config_key_text_get(struct walk *w, struct fy_node *key, int fallback_line,
                                   const char **ret, size_t *ret_len, int *ret_line)
{
    struct val kv = ferry_config_val_of(key, fallback_line);

    *ret_line = kv.line;
    if (ferry_config_is_null(key))
        return ferry_config_fail(w, kv.line, "empty key");
    if (!fy_node_is_scalar(key))
        return ferry_config_fail(w, kv.line, "expected a scalar key");
    return raw_scalar_get(w, &kv, ret, ret_len);
}

ferry_rc ferry_config_mapping_count(struct walk *w, const struct val *map, size_t *ret)
{
    int n;

    if (map->node == NULL || !fy_node_is_mapping(map->node))
        return ferry_config_fail(w, map->line, "expected a mapping");
    n = fy_node_mapping_item_count(map->node);
    *ret = n > 0 ? (size_t)n : 0;
    return FERRY_OK;
}

/* Walks a mapping whose keys are names, in document order. */
ferry_rc ferry_config_entries_walk(struct walk *w, const struct val *map, entry_handler fn,
                                   void *obj)
{
    struct fy_node_pair *pair;
    void *it = NULL;
    size_t count = 0;
    ferry_rc rc = ferry_config_mapping_count(w, map, &count);

    if (rc != FERRY_OK)
        return rc;
    while ((pair = fy_node_mapping_iterate(map->node, &it)) != NULL) {
        const char *text = NULL;
        char *name;
        size_t len = 0, old;
        int line = 0;
        struct val v;

        rc = ferry_config_key_text_get(w, fy_node_pair_key(pair), map->line, &text, &len, &line);
        if (rc != FERRY_OK)
            return rc;
        name = strndup(text, len);
        if (name == NULL)
            return ferry_config_oom(w);
        old = ferry_config_path_push(w, name, len);
        v = ferry_config_val_of(fy_node_pair_value(pair), line);
        rc = fn(w, name, line, &v, obj);
        ferry_config_path_pop(w, old);
        free(name);
        if (rc != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

/* ---- value checks ---- */

bool ferry_config_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool ferry_config_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [A-Za-z_][A-Za-z0-9_]*, at most IDENT_MAX characters. */
bool ferry_config_is_identifier(const char *s)
{
    size_t i;

    if (!(ferry_config_is_alpha(s[0]) || s[0] == '_'))
        return false;
    for (i = 1; s[i] != '\0'; i++)
        if (!(ferry_config_is_alpha(s[i]) || ferry_config_is_digit(s[i]) || s[i] == '_'))
            return false;
    return i <= IDENT_MAX;
}

static bool is_reserved(const char *s)
{
    return strncasecmp(s, RESERVED_PREFIX, strlen(RESERVED_PREFIX)) == 0;
}

/* Checks a table or field name; what is "table" or "field". */
ferry_rc ferry_config_identifier_check(struct walk *w, int line, const char *s, const char *what)
{
    if (!ferry_config_is_identifier(s))
        return ferry_config_fail(
            w, line,
            "invalid %s name '%.*s' (use letters, digits and '_', not starting with a "
            "digit, at most %d characters)",
            what, ferry_config_show_len(strlen(s)), s, IDENT_MAX);
    if (is_reserved(s))
        return ferry_config_fail(
            w, line, "%s names starting with '%s' are reserved for Ferry's own %ss", what,
            RESERVED_PREFIX, strcmp(what, "table") == 0 ? "table" : "column");
    return FERRY_OK;
}

int ferry_config_size_parse(const char *s, unsigned long long max, size_t *ret)
{
    static const struct {
        const char *suffix;
        unsigned long long mult;
    } units[] = {{"", 1},
                 {"KiB", 1024},
                 {"MiB", 1024 * 1024},
                 {"GiB", 1024ULL * 1024 * 1024},
                 {"TiB", 1024ULL * 1024 * 1024 * 1024}};
    unsigned long long n;
    char *end;
    size_t i;

    if (!ferry_config_is_digit(s[0]))
        return 0;
    errno = 0;
    n = strtoull(s, &end, 10);
    for (i = 0; i < NITEMS(units); i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        if (errno != 0 || n == 0 || n > max / units[i].mult)
            return -1;
        *ret = (size_t)(n * units[i].mult);
        return 1;
    }
    return 0;
}

/* A duration into *ret_ms; bad durations name the key. */
ferry_rc ferry_config_duration_get(struct walk *w, const struct val *v, long *ret_ms)
{
    char *s = NULL;
    ferry_rc rc = ferry_config_scalar_load(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    if (!ferry_duration_parse(s, ret_ms))
        rc = ferry_config_fail(w, v->line,
                               "expected a duration such as 500ms, 90s, 15m, 1h or 2d, not '%.*s'",
                               ferry_config_show_len(strlen(s)), s);
    free(s);
    return rc;
}

/* A duration within [min_ms, max_ms]. */
ferry_rc ferry_config_duration_get_within(struct walk *w, const struct val *v, long min_ms,
                                          long max_ms, long *ret_ms)
{
    long ms = 0;
    ferry_rc rc = ferry_config_duration_get(w, v, &ms);

    if (rc != FERRY_OK)
        return rc;
    if (ms < min_ms || ms > max_ms)
        return ferry_config_fail(w, v->line, "expected a duration from %lds to %ldd", min_ms / 1000,
                                 max_ms / 86400000);
    *ret_ms = ms;
    return FERRY_OK;
}
bool ferry_duration_parse(const char *text, long *ret_ms)
{
    static const struct {
        const char *unit;
        long ms;
    } units[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000L}, {"h", 3600000L}, {"d", 86400000L},
    };
    char *end;
    long n;
    size_t i;

    if (text == NULL || ret_ms == NULL || !ferry_config_is_digit(text[0]))
        return false;
    errno = 0;
    n = strtol(text, &end, 10);
    if (errno != 0 || n <= 0)
        return false;
    for (i = 0; i < NITEMS(units); i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        if (n > LONG_MAX / units[i].ms)
            return false;
        *ret_ms = n * units[i].ms;
        return true;
    }
    return false;
}
