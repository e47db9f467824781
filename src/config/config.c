/* config.c - loads and validates ferry.yaml into the plain structs of config.h.
 *
 * Design. libfyaml turns the text into a document tree (anchors and merge keys resolved,
 * duplicate keys rejected). Its diagnostics are collected, never printed; the first one
 * becomes "FILE:LINE: YAML syntax error: ...". The tree is then checked by a small schema
 * walker:
 *
 *   - a mapping with fixed keys is a table of struct key_rule rows (name, required, handler).
 *     walk_mapping() hands each key to its row's handler, rejects keys that have no row
 *     (listing the table's names) and reports required rows that never appeared. Adding a key
 *     to the schema is adding a row and, unless an existing handler fits, a short handler;
 *   - a mapping whose keys are names (syncs, fields, skip) goes through walk_entries();
 *   - struct walk carries the file name, the error record and the dotted path of the node
 *     being checked, so that every message reads "FILE:LINE: dotted.key.path: message".
 *     List items add "[i]" (0-based) to the path.
 *
 * Checks that span keys (target.key and skip name fields, noun defaults to the table) run
 * once a sync's mapping has been walked, from the nodes kept on the way, so the order of the
 * keys in the file does not matter.
 *
 * Lines. libfyaml 0.7 exposes source marks for tokens but not for nodes, so a scalar's line is
 * its token's, a collection's is its first entry's, and a value with neither (an empty value,
 * {} or []) takes the line of the key that introduced it.
 *
 * Everything is built straight into the final structs; on any error the half-built config
 * goes to ferry_config_free(), which copes with missing parts. */
#include "config/config.h"
#include "config/walk.h"

#include "util/password.h" /* ferry_password_wipe() */
#include "util/utf8.h"     /* ferry_utf8_is_valid() */

#include <errno.h>
#include <libfyaml.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_DATABASE "sqlite:ferry.db"
#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_WORKERS 4
#define WORKERS_MAX 64
#define DEFAULT_SESSION_IDLE_MS (30L * 60 * 1000)
#define DEFAULT_LEASE_MS (5L * 60 * 1000)
#define DEFAULT_SHUTDOWN_GRACE_MS (30L * 1000)
#define DEFAULT_SESSION_MAX_MS (12L * 3600 * 1000)
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_CONNECTIONS_PER_IP 256
#define DEFAULT_IDLE_TIMEOUT_MS (60L * 1000)
#define DEFAULT_MAX_BODY (1024L * 1024)
#define METRICS_TOKEN_MIN 16
#define MAX_BODY_LIMIT (64L * 1024 * 1024)
#define MAX_FIELD_BYTES_LIMIT (256UL * 1024 * 1024)
#define SCHEDULE_MIN_MS 10000L
#define SYNC_NAME_MAX 64

#define RESERVED_PREFIX "ferry_"
#define CONFIG_MAX_BYTES (16L * 1024 * 1024)

/* ---- paths and messages ---- */

size_t path_push(struct walk *w, const char *key, size_t keylen)
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

size_t path_push_index(struct walk *w, size_t index)
{
    size_t old = w->pathlen;
    size_t room = sizeof(w->path) - w->pathlen;
    int n = snprintf(w->path + w->pathlen, room, "[%zu]", index);

    if (n > 0)
        w->pathlen += (size_t)n < room ? (size_t)n : room - 1;
    return old;
}

void path_pop(struct walk *w, size_t old)
{
    w->pathlen = old;
    w->path[old] = '\0';
}

/* Records "FILE:LINE: PATH: message" (no PATH at the top level) and returns FERRY_ECONFIG. */
ferry_rc fail(struct walk *w, int line, const char *fmt, ...)
{
    char msg[FERRY_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (w->pathlen > 0)
        return ferry_err_set(w->err, FERRY_ECONFIG, "%s:%d: %s: %s", w->file, line, w->path, msg);
    return ferry_err_set(w->err, FERRY_ECONFIG, "%s:%d: %s", w->file, line, msg);
}

ferry_rc oom(struct walk *w)
{
    return ferry_err_set(w->err, FERRY_ENOMEM, "%s: out of memory while loading the config",
                         w->file);
}

/* For quoting a value back: "'%.*s'", show_len(len), s. */
int show_len(size_t len)
{
    return len > SHOW_MAX ? SHOW_MAX : (int)len;
}

/* ---- nodes ---- */

/* The 1-based line of a node, or 0 when it has no position of its own. */
static int node_line(struct fy_node *n)
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
        return node_line(fy_node_sequence_iterate(n, &it));
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *pair = fy_node_mapping_iterate(n, &it);

        return pair != NULL ? node_line(fy_node_pair_key(pair)) : 0;
    }
    return 0;
}

struct val val_of(struct fy_node *n, int fallback_line)
{
    struct val v;
    int line = node_line(n);

    v.node = n;
    v.line = line > 0 ? line : fallback_line;
    return v;
}

/* A YAML null: no node, an empty plain scalar, or plain ~ / null. */
bool is_null(struct fy_node *n)
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

/* The text of a scalar value (not NUL-terminated; borrowed from the document). */
ferry_rc get_scalar(struct walk *w, const struct val *v, const char **ret, size_t *ret_len)
{
    const char *s = NULL;
    size_t len = 0;

    if (is_null(v->node))
        return fail(w, v->line, "missing value");
    if (!fy_node_is_scalar(v->node))
        return fail(w, v->line, "expected a scalar");
    s = fy_node_get_scalar(v->node, &len);
    if (s == NULL)
        return fail(w, v->line, "expected a scalar");
    if (memchr(s, '\0', len) != NULL)
        return fail(w, v->line, "contains a NUL character");
    *ret = s;
    *ret_len = len;
    return FERRY_OK;
}

/* A malloc'ed NUL-terminated copy of a scalar value (may be empty). */
ferry_rc dup_scalar(struct walk *w, const struct val *v, char **ret)
{
    const char *s = NULL;
    size_t len = 0;
    ferry_rc rc = get_scalar(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    *ret = strndup(s, len);
    return *ret != NULL ? FERRY_OK : oom(w);
}

/* Like dup_scalar() but an empty string is an error. */
ferry_rc get_string(struct walk *w, const struct val *v, char **ret)
{
    ferry_rc rc = dup_scalar(w, v, ret);

    if (rc != FERRY_OK)
        return rc;
    if ((*ret)[0] == '\0') {
        free(*ret);
        *ret = NULL;
        return fail(w, v->line, "must not be empty");
    }
    return FERRY_OK;
}

/* Replaces *dst with the string value (the old value is freed only on success). */
ferry_rc set_string(struct walk *w, const struct val *v, char **dst)
{
    char *s = NULL;
    ferry_rc rc = get_string(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    free(*dst);
    *dst = s;
    return FERRY_OK;
}

ferry_rc get_bool(struct walk *w, const struct val *v, bool *ret)
{
    static const char *const truths[] = {"true", "yes", "on"};
    static const char *const lies[] = {"false", "no", "off"};
    const char *s = NULL;
    size_t len = 0, i;
    ferry_rc rc = get_scalar(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    for (i = 0; i < NRULES(truths); i++) {
        if (strlen(truths[i]) == len && strncasecmp(s, truths[i], len) == 0) {
            *ret = true;
            return FERRY_OK;
        }
        if (strlen(lies[i]) == len && strncasecmp(s, lies[i], len) == 0) {
            *ret = false;
            return FERRY_OK;
        }
    }
    return fail(w, v->line, "expected a boolean (true or false), not '%.*s'", show_len(len), s);
}

/* A decimal integer: optional '-', then digits only, within long. */
bool parse_long(const char *s, long *ret)
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

ferry_rc get_long(struct walk *w, const struct val *v, long min, long max, long *ret)
{
    char *s = NULL;
    long n = 0;
    ferry_rc rc = dup_scalar(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    if (!parse_long(s, &n) || n < min || n > max)
        rc = fail(w, v->line, "expected a whole number from %ld to %ld, not '%.*s'", min, max,
                  show_len(strlen(s)), s);
    else
        *ret = n;
    free(s);
    return rc;
}

void free_strv(char **v, size_t n)
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
ferry_rc get_string_list(struct walk *w, const struct val *v, bool scalar_ok, bool nocase,
                         char ***ret, size_t *ret_n)
{
    char **items = NULL;
    size_t n = 0, i, count;
    struct fy_node *item;
    void *it = NULL;
    ferry_rc rc = FERRY_OK;

    if (scalar_ok && v->node != NULL && fy_node_is_scalar(v->node) && !is_null(v->node)) {
        items = calloc(1, sizeof(*items));
        if (items == NULL)
            return oom(w);
        rc = get_string(w, v, &items[0]);
        if (rc != FERRY_OK) {
            free(items);
            return rc;
        }
        *ret = items;
        *ret_n = 1;
        return FERRY_OK;
    }
    if (v->node == NULL || !fy_node_is_sequence(v->node))
        return fail(w, v->line, "expected a list");
    count = (size_t)fy_node_sequence_item_count(v->node);
    if (count == 0)
        return fail(w, v->line, "the list must not be empty");
    items = calloc(count, sizeof(*items));
    if (items == NULL)
        return oom(w);
    while (n < count && (item = fy_node_sequence_iterate(v->node, &it)) != NULL) {
        struct val iv = val_of(item, v->line);
        size_t old = path_push_index(w, n);

        rc = get_string(w, &iv, &items[n]);
        if (rc == FERRY_OK) {
            n++;
            for (i = 0; i + 1 < n; i++) {
                if ((nocase ? strcasecmp(items[i], items[n - 1])
                            : strcmp(items[i], items[n - 1])) == 0) {
                    rc = fail(w, iv.line, "'%s' is listed twice", items[n - 1]);
                    break;
                }
            }
        }
        path_pop(w, old);
        if (rc != FERRY_OK) {
            free_strv(items, n);
            return rc;
        }
    }
    *ret = items;
    *ret_n = n;
    return FERRY_OK;
}

/* The value node of a sequence item for messages about item i (the list itself when the
 * value is a scalar taken as a list of one). */
struct val list_item(const struct val *list, size_t index)
{
    struct fy_node *item = NULL;
    void *it = NULL;
    size_t i;

    if (list->node == NULL || !fy_node_is_sequence(list->node))
        return *list;
    for (i = 0; i <= index; i++)
        item = fy_node_sequence_iterate(list->node, &it);
    return val_of(item, list->line);
}

/* ---- walking mappings ---- */

/* The text of a mapping key. */
static ferry_rc key_text(struct walk *w, struct fy_node *key, int fallback_line, const char **ret,
                         size_t *ret_len, int *ret_line)
{
    struct val kv = val_of(key, fallback_line);

    *ret_line = kv.line;
    if (is_null(key))
        return fail(w, kv.line, "empty key");
    if (!fy_node_is_scalar(key))
        return fail(w, kv.line, "expected a scalar key");
    return get_scalar(w, &kv, ret, ret_len);
}

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
    return fail(w, line, "unknown key (expected one of: %s)", names);
}

/* Walks a mapping with fixed keys: each key goes to its rule's handler with obj. */
ferry_rc walk_mapping(struct walk *w, const struct val *map, const struct key_rule *rules,
                      size_t nrules, void *obj)
{
    uint64_t seen = 0;
    struct fy_node_pair *pair;
    void *it = NULL;
    size_t i;
    ferry_rc rc;

    if (nrules > 64)
        return ferry_err_set(w->err, FERRY_EINVAL, "config schema table too large");
    if (map->node == NULL || !fy_node_is_mapping(map->node))
        return fail(w, map->line, "expected a mapping");
    while ((pair = fy_node_mapping_iterate(map->node, &it)) != NULL) {
        const char *name = NULL;
        size_t len = 0, old;
        int line = 0;
        struct val v;

        rc = key_text(w, fy_node_pair_key(pair), map->line, &name, &len, &line);
        if (rc != FERRY_OK)
            return rc;
        for (i = 0; i < nrules; i++)
            if (strlen(rules[i].name) == len && memcmp(rules[i].name, name, len) == 0)
                break;
        old = path_push(w, name, len);
        if (i == nrules) {
            rc = unknown_key(w, line, rules, nrules);
        } else {
            seen |= (uint64_t)1 << i;
            v = val_of(fy_node_pair_value(pair), line);
            rc = rules[i].fn(w, &v, obj);
        }
        path_pop(w, old);
        if (rc != FERRY_OK)
            return rc;
    }
    for (i = 0; i < nrules; i++)
        if (rules[i].required && !(seen & ((uint64_t)1 << i)))
            return fail(w, map->line, "missing required key '%s'", rules[i].name);
    return FERRY_OK;
}

/* The number of entries of a mapping value. */
ferry_rc mapping_count(struct walk *w, const struct val *map, size_t *ret)
{
    int n;

    if (map->node == NULL || !fy_node_is_mapping(map->node))
        return fail(w, map->line, "expected a mapping");
    n = fy_node_mapping_item_count(map->node);
    *ret = n > 0 ? (size_t)n : 0;
    return FERRY_OK;
}

/* Walks a mapping whose keys are names, in document order. */
ferry_rc walk_entries(struct walk *w, const struct val *map, entry_handler fn, void *obj)
{
    struct fy_node_pair *pair;
    void *it = NULL;
    size_t count = 0;
    ferry_rc rc = mapping_count(w, map, &count);

    if (rc != FERRY_OK)
        return rc;
    while ((pair = fy_node_mapping_iterate(map->node, &it)) != NULL) {
        const char *text = NULL;
        char *name;
        size_t len = 0, old;
        int line = 0;
        struct val v;

        rc = key_text(w, fy_node_pair_key(pair), map->line, &text, &len, &line);
        if (rc != FERRY_OK)
            return rc;
        name = strndup(text, len);
        if (name == NULL)
            return oom(w);
        old = path_push(w, name, len);
        v = val_of(fy_node_pair_value(pair), line);
        rc = fn(w, name, line, &v, obj);
        path_pop(w, old);
        free(name);
        if (rc != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

/* ---- value checks ---- */

bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [A-Za-z_][A-Za-z0-9_]*, at most IDENT_MAX characters. */
bool is_identifier(const char *s)
{
    size_t i;

    if (!(is_alpha(s[0]) || s[0] == '_'))
        return false;
    for (i = 1; s[i] != '\0'; i++)
        if (!(is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_'))
            return false;
    return i <= IDENT_MAX;
}

static bool is_reserved(const char *s)
{
    return strncasecmp(s, RESERVED_PREFIX, strlen(RESERVED_PREFIX)) == 0;
}

/* Checks a table or field name; what is "table" or "field". */
ferry_rc check_identifier(struct walk *w, int line, const char *s, const char *what)
{
    if (!is_identifier(s))
        return fail(w, line,
                    "invalid %s name '%.*s' (use letters, digits and '_', not starting with a "
                    "digit, at most %d characters)",
                    what, show_len(strlen(s)), s, IDENT_MAX);
    if (is_reserved(s))
        return fail(w, line, "%s names starting with '%s' are reserved for Ferry's own %ss", what,
                    RESERVED_PREFIX, strcmp(what, "table") == 0 ? "table" : "column");
    return FERRY_OK;
}

/* [a-z0-9_-]{1,SYNC_NAME_MAX} */
static bool is_sync_name(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '_' || s[i] == '-'))
            return false;
    return i >= 1 && i <= SYNC_NAME_MAX;
}

static bool database_ok(const char *s)
{
    if (strncmp(s, "sqlite:", 7) == 0)
        return s[7] != '\0';
    return strncmp(s, "postgres://", 11) == 0 || strncmp(s, "postgresql://", 13) == 0;
}

/* HOST:PORT with a non-empty host and a port from 1 to 65535. */
static bool listen_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    long port;

    if (colon == NULL || colon == s || colon[1] == '-')
        return false;
    return parse_long(colon + 1, &port) && port >= 1 && port <= 65535;
}

/* A size: bytes, or a number followed by KiB or MiB, from 1 to MAX_FIELD_BYTES_LIMIT.
 * Returns 1 when valid, 0 when not a size, -1 when out of range. */
int parse_size(const char *s, size_t *ret)
{
    return parse_size_max(s, MAX_FIELD_BYTES_LIMIT, ret);
}

/* Like parse_size() up to max, and GiB and TiB are units too. */

int parse_size_max(const char *s, unsigned long long max, size_t *ret)
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

    if (!is_digit(s[0]))
        return 0;
    errno = 0;
    n = strtoull(s, &end, 10);
    for (i = 0; i < NRULES(units); i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        if (errno != 0 || n == 0 || n > max / units[i].mult)
            return -1;
        *ret = (size_t)(n * units[i].mult);
        return 1;
    }
    return 0;
}

/* A url as written: a path, or a file://, http:// or https:// URL. Returns NULL when fine,
 * else a message. */
const char *url_problem(const char *url, char *buf, size_t bufsize)
{
    const char *p = url;
    size_t scheme_len;

    if (!is_alpha(*p))
        return NULL;
    while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0)
        return NULL; /* no scheme: a path */
    scheme_len = (size_t)(p - url);
    p += 3;
    if (scheme_len == 4 && strncasecmp(url, "file", 4) == 0)
        return *p != '\0' ? NULL : "a file:// URL needs a path (file:///path/to/file.csv)";
    if ((scheme_len == 4 && strncasecmp(url, "http", 4) == 0) ||
        (scheme_len == 5 && strncasecmp(url, "https", 5) == 0))
        return *p != '\0' && *p != '/' ? NULL : "the URL has no host";
    snprintf(buf, bufsize,
             "unsupported URL scheme '%.*s' (expected a path, file://, http:// or https://)",
             show_len(scheme_len), url);
    return buf;
}

/* ---- top level ---- */

/* A database URL (database:, target.database:) into *slot, replacing what it held. */
static ferry_rc get_database(struct walk *w, const struct val *v, char **slot)
{
    char *s = NULL;
    ferry_rc rc = get_string(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    if (!database_ok(s)) {
        /* The value is not echoed: a database URL may carry a password. */
        rc = fail(w, v->line, "expected sqlite:PATH or a postgres:// or postgresql:// URL");
        free(s);
        return rc;
    }
    free(*slot);
    *slot = s;
    return FERRY_OK;
}

static ferry_rc on_database(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;

    return get_database(w, v, &cfg->database);
}

static ferry_rc on_listen(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;
    char *s = NULL;
    ferry_rc rc = get_string(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    if (!listen_ok(s)) {
        rc = fail(w, v->line,
                  "expected HOST:PORT with a port from 1 to 65535, such as 127.0.0.1:8080, "
                  "not '%.*s'",
                  show_len(strlen(s)), s);
        free(s);
        return rc;
    }
    free(cfg->listen);
    cfg->listen = s;
    return FERRY_OK;
}

static ferry_rc on_workers(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;
    long n = 0;
    ferry_rc rc = get_long(w, v, 1, WORKERS_MAX, &n);

    if (rc == FERRY_OK)
        cfg->workers = (int)n;
    return rc;
}

/* A duration into *ret_ms; bad durations name the key. */
ferry_rc get_duration(struct walk *w, const struct val *v, long *ret_ms)
{
    char *s = NULL;
    ferry_rc rc = dup_scalar(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    if (!ferry_duration_parse(s, ret_ms))
        rc = fail(w, v->line, "expected a duration such as 500ms, 90s, 15m, 1h or 2d, not '%.*s'",
                  show_len(strlen(s)), s);
    free(s);
    return rc;
}

/* A duration within [min_ms, max_ms]. */
ferry_rc get_duration_within(struct walk *w, const struct val *v, long min_ms, long max_ms,
                             long *ret_ms)
{
    long ms = 0;
    ferry_rc rc = get_duration(w, v, &ms);

    if (rc != FERRY_OK)
        return rc;
    if (ms < min_ms || ms > max_ms)
        return fail(w, v->line, "expected a duration from %lds to %ldd", min_ms / 1000,
                    max_ms / 86400000);
    *ret_ms = ms;
    return FERRY_OK;
}

static ferry_rc on_session_idle(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;

    return get_duration_within(w, v, 60L * 1000, 30L * 86400000, &cfg->session_idle_ms);
}

/* A run's lease: the heartbeat renews it every 5 s, so it must leave room for several. */
static ferry_rc on_lease(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;

    return get_duration_within(w, v, 10L * 1000, 86400000L, &cfg->lease_ms);
}

/* How long running runs may go on after SIGTERM: 0 (or 0s) stops them at once. */
static ferry_rc on_shutdown_grace(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;
    char *s = NULL;
    ferry_rc rc = dup_scalar(w, v, &s);
    bool none;

    if (rc != FERRY_OK)
        return rc;
    none = strcmp(s, "0") == 0 || strcmp(s, "0s") == 0;
    free(s);
    if (none) {
        cfg->shutdown_grace_ms = 0;
        return FERRY_OK;
    }
    return get_duration_within(w, v, 0, 86400000L, &cfg->shutdown_grace_ms);
}

static ferry_rc on_session_max(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;

    return get_duration_within(w, v, 60L * 1000, 365L * 86400000, &cfg->session_max_ms);
}

static ferry_rc on_idle_timeout(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;

    return get_duration_within(w, v, 1000, 86400000, &cfg->idle_timeout_ms);
}

static ferry_rc on_max_connections(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;

    return get_long(w, v, 16, 100000, &cfg->max_connections);
}

static ferry_rc on_connections_per_ip(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;

    return get_long(w, v, 0, 100000, &cfg->max_connections_per_ip);
}

static ferry_rc on_max_body(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;
    char *s = NULL;
    size_t bytes = 0;
    ferry_rc rc = dup_scalar(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    if (parse_size(s, &bytes) != 1 || bytes < 1024 || bytes > MAX_BODY_LIMIT)
        rc = fail(w, v->line, "expected a size from 1KiB to 64MiB, such as 1MiB or 65536");
    else
        cfg->max_body_bytes = (long)bytes;
    free(s);
    return rc;
}

/* metrics_token: the token itself, or ${NAME} to read it from the environment (so it need not
 * be written in the file). The value is never echoed in messages. */
static ferry_rc on_metrics_token(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;
    char *s = NULL;
    size_t len;
    ferry_rc rc = get_string(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    len = strlen(s);
    if (len > 3 && s[0] == '$' && s[1] == '{' && s[len - 1] == '}') {
        const char *env;
        s[len - 1] = '\0';
        env = getenv(s + 2);
        if (env == NULL || env[0] == '\0') {
            rc = fail(w, v->line, "the environment variable %.*s is not set",
                      show_len(strlen(s + 2)), s + 2);
            free(s);
            return rc;
        }
        free(s);
        if ((s = strdup(env)) == NULL)
            return oom(w);
    }
    if (strlen(s) < METRICS_TOKEN_MIN) {
        ferry_password_wipe(s, strlen(s));
        free(s);
        return fail(w, v->line, "the token must have at least %d characters", METRICS_TOKEN_MIN);
    }
    if (cfg->metrics_token != NULL)
        ferry_password_wipe(cfg->metrics_token, strlen(cfg->metrics_token));
    free(cfg->metrics_token);
    cfg->metrics_token = s;
    return FERRY_OK;
}

/* cors_origins: [ORIGIN, ...], each scheme://host[:port] with no path, as browsers send it in
 * the Origin header. */
static ferry_rc on_cors_origins(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;
    char **origins = NULL;
    size_t n = 0;
    ferry_rc rc = get_string_list(w, v, true, false, &origins, &n);

    if (rc != FERRY_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const char *o = origins[i];
        const char *host = strncmp(o, "https://", 8) == 0  ? o + 8
                           : strncmp(o, "http://", 7) == 0 ? o + 7
                                                           : NULL;
        if (host == NULL || host[0] == '\0' || strpbrk(host, "/?#* ") != NULL) {
            rc = fail(w, v->line,
                      "'%.*s' is not an origin: expected scheme://host[:port] such as "
                      "https://admin.example.com, with no path",
                      show_len(strlen(o)), o);
            free_strv(origins, n);
            return rc;
        }
    }
    free_strv(cfg->cors_origins, cfg->ncors_origins);
    cfg->cors_origins = origins;
    cfg->ncors_origins = n;
    return FERRY_OK;
}

/* trusted_proxies: [ADDRESS or CIDR, ...], the reverse proxies in front of Ferry; only a
 * request from one of them has its client address read from X-Forwarded-For. */
static ferry_rc on_trusted_proxies(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;
    char **texts = NULL;
    size_t n = 0;
    ferry_ipnet *nets;
    ferry_rc rc = get_string_list(w, v, true, false, &texts, &n);

    if (rc != FERRY_OK)
        return rc;
    if ((nets = calloc(n > 0 ? n : 1, sizeof(*nets))) == NULL) {
        free_strv(texts, n);
        return oom(w);
    }
    for (size_t i = 0; i < n; i++) {
        if (!ferry_ipnet_parse(texts[i], &nets[i])) {
            rc = fail(w, v->line,
                      "'%.*s' is not an address or a network: expected an IPv4 or IPv6 address "
                      "(10.0.0.5) or a CIDR block (10.0.0.0/8), with no bits set past the prefix",
                      show_len(strlen(texts[i])), texts[i]);
            free(nets);
            free_strv(texts, n);
            return rc;
        }
    }
    free_strv(texts, n);
    free(cfg->trusted_proxies);
    cfg->trusted_proxies = nets;
    cfg->ntrusted_proxies = n;
    return FERRY_OK;
}

/* ---- syncs.NAME ---- */

/* What walking one sync keeps for the checks that need the whole sync. */
struct sync_state {
    ferry_sync_spec *sync;
    struct val key;  /* target.key */
    struct val skip; /* skip:, parsed once the fields are known */
    bool has_skip;
    struct val tenant; /* tenant:, applied once the fields are known */
    bool has_tenant;
    struct source_state source;
};

static ferry_rc on_target_table(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;
    char *s = NULL;
    ferry_rc rc = get_string(w, v, &s);

    if (rc == FERRY_OK)
        rc = check_identifier(w, v->line, s, "table");
    if (rc != FERRY_OK) {
        free(s);
        return rc;
    }
    free(st->sync->target.table);
    st->sync->target.table = s;
    return FERRY_OK;
}

static ferry_rc on_target_key(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;
    ferry_target_spec *t = &st->sync->target;
    char **key = NULL;
    size_t n = 0;
    ferry_rc rc = get_string_list(w, v, true, false, &key, &n);

    if (rc != FERRY_OK)
        return rc;
    free_strv(t->key, t->nkey);
    t->key = key;
    t->nkey = n;
    st->key = *v;
    return FERRY_OK;
}

static ferry_rc on_target_on_missing(struct walk *w, const struct val *v, void *obj)
{
    static const char *const names[] = {
        [FERRY_ON_MISSING_KEEP] = "keep",
        [FERRY_ON_MISSING_DELETE] = "delete",
        [FERRY_ON_MISSING_FLAG] = "flag",
    };
    struct sync_state *st = obj;
    const char *s = NULL;
    size_t len = 0, i;
    ferry_rc rc = get_scalar(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    for (i = 0; i < NRULES(names); i++) {
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
            st->sync->target.on_missing = (ferry_on_missing)i;
            return FERRY_OK;
        }
    }
    return fail(w, v->line, "unknown value '%.*s' (expected keep, delete or flag)", show_len(len),
                s);
}

/* target.database: the synced table lives in another database than Ferry's own tables. */
static ferry_rc on_target_database(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;

    return get_database(w, v, &st->sync->target.database);
}

static const struct key_rule target_rules[] = {
    {"table", true, on_target_table},
    {"database", false, on_target_database},
    {"key", true, on_target_key},
    {"on_missing", false, on_target_on_missing},
};

/* ---- syncs.NAME.fields.FIELD ---- */

static const char *const type_names[] = {
    [FERRY_TYPE_TEXT] = "text",       [FERRY_TYPE_INTEGER] = "integer",
    [FERRY_TYPE_DECIMAL] = "decimal", [FERRY_TYPE_BOOLEAN] = "boolean",
    [FERRY_TYPE_DATE] = "date",       [FERRY_TYPE_DATETIME] = "datetime",
    [FERRY_TYPE_EMAIL] = "email",     [FERRY_TYPE_ENUM] = "enum",
};

/* What walking one field keeps for its closing checks. */
struct field_state {
    ferry_field_spec *field;
    struct val column; /* node NULL unless column: was given */
    struct val values; /* node NULL unless values: was given */
};

static ferry_rc on_field_column(struct walk *w, const struct val *v, void *obj)
{
    struct field_state *fs = obj;
    ferry_rc rc = set_string(w, v, &fs->field->column);

    if (rc == FERRY_OK) {
        fs->column = *v;
        fs->field->column_line = v->line;
    }
    return rc;
}

static ferry_rc on_field_pointer(struct walk *w, const struct val *v, void *obj)
{
    struct field_state *fs = obj;
    ferry_rc rc = dup_scalar(w, v, &fs->field->pointer);

    if (rc == FERRY_OK && fs->field->pointer_line == 0)
        fs->field->pointer_line = v->line;
    return rc;
}

static ferry_rc on_field_join(struct walk *w, const struct val *v, void *obj)
{
    struct field_state *fs = obj;
    ferry_rc rc = dup_scalar(w, v, &fs->field->join);

    if (rc == FERRY_OK && fs->field->pointer_line == 0)
        fs->field->pointer_line = v->line;
    return rc;
}

static ferry_rc on_field_type(struct walk *w, const struct val *v, void *obj)
{
    struct field_state *fs = obj;
    const char *s = NULL;
    size_t len = 0, i;
    ferry_rc rc = get_scalar(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    for (i = 0; i < NRULES(type_names); i++) {
        if (strlen(type_names[i]) == len && memcmp(type_names[i], s, len) == 0) {
            fs->field->type = (ferry_field_type)i;
            return FERRY_OK;
        }
    }
    return fail(w, v->line, "unknown type '%.*s'", show_len(len), s);
}

static ferry_rc on_field_required(struct walk *w, const struct val *v, void *obj)
{
    struct field_state *fs = obj;

    return get_bool(w, v, &fs->field->required);
}

static ferry_rc on_field_trim(struct walk *w, const struct val *v, void *obj)
{
    struct field_state *fs = obj;

    return get_bool(w, v, &fs->field->trim);
}

static ferry_rc on_field_values(struct walk *w, const struct val *v, void *obj)
{
    struct field_state *fs = obj;
    char **values = NULL;
    size_t n = 0;
    ferry_rc rc = get_string_list(w, v, false, false, &values, &n);

    if (rc != FERRY_OK)
        return rc;
    free_strv(fs->field->values, fs->field->nvalues);
    fs->field->values = values;
    fs->field->nvalues = n;
    fs->values = *v;
    return FERRY_OK;
}

static const struct key_rule field_rules[] = {
    {"column", false, on_field_column},     /* default: the field's name */
    {"type", false, on_field_type},         /* default: text */
    {"required", false, on_field_required}, /* default: false; true for key fields */
    {"trim", false, on_field_trim},         /* default: true */
    {"values", false, on_field_values},     /* enum only, and required there */
    {"pointer", false, on_field_pointer},   /* rest sources: default "/name" */
    {"join", false, on_field_join},         /* rest sources: default ", " */
};

/* One entry of fields:; the path ends in the field's name. */
static ferry_rc on_field(struct walk *w, const char *name, int line, const struct val *v, void *obj)
{
    struct sync_state *st = obj;
    ferry_sync_spec *sync = st->sync;
    struct field_state fs = {0};
    ferry_field_spec *f;
    size_t i, old;
    ferry_rc rc = check_identifier(w, line, name, "field");

    if (rc != FERRY_OK)
        return rc;
    for (i = 0; i < sync->nfields; i++)
        if (strcasecmp(sync->fields[i].name, name) == 0)
            return fail(w, line, "field '%s' repeats field '%s' (column names ignore case)", name,
                        sync->fields[i].name);
    f = &sync->fields[sync->nfields++];
    f->trim = true;
    f->line = line;
    f->name = strdup(name);
    if (f->name == NULL)
        return oom(w);
    fs.field = f;
    if (!is_null(v->node)) { /* "phone:" alone means all defaults */
        rc = walk_mapping(w, v, field_rules, NRULES(field_rules), &fs);
        if (rc != FERRY_OK)
            return rc;
    }
    if (f->column == NULL) {
        f->column = strdup(name);
        if (f->column == NULL)
            return oom(w);
    }
    if (f->type == FERRY_TYPE_ENUM && fs.values.node == NULL)
        return fail(w, v->line,
                    "missing required key 'values' (type enum needs the list of "
                    "allowed values)");
    if (f->type != FERRY_TYPE_ENUM && fs.values.node != NULL) {
        old = path_push(w, "values", 6);
        rc = fail(w, fs.values.line,
                  "'values' is only allowed with type enum (this field is "
                  "%s)",
                  ferry_field_type_name(f->type));
        path_pop(w, old);
        return rc;
    }
    for (i = 0; i + 1 < sync->nfields; i++) {
        if (strcmp(sync->fields[i].column, f->column) != 0)
            continue;
        old = fs.column.node != NULL ? path_push(w, "column", 6) : w->pathlen;
        rc = fail(w, fs.column.node != NULL ? fs.column.line : line,
                  "column '%s' is already mapped by field '%s'", f->column, sync->fields[i].name);
        path_pop(w, old);
        return rc;
    }
    return FERRY_OK;
}

/* ---- syncs.NAME.skip.FIELD ---- */

struct skip_state {
    ferry_skip_rule *rule;
    int nkinds; /* how many of in, not_in and empty were given */
};

static ferry_rc skip_kind(struct walk *w, const struct val *v, struct skip_state *ss,
                          ferry_skip_kind kind)
{
    if (ss->nkinds++ > 0)
        return fail(w, v->line, "a rule takes exactly one of in, not_in or empty");
    ss->rule->kind = kind;
    if (kind == FERRY_SKIP_EMPTY) {
        bool empty = false;
        ferry_rc rc = get_bool(w, v, &empty);

        if (rc != FERRY_OK)
            return rc;
        return empty ? FERRY_OK : fail(w, v->line, "only 'empty: true' is meaningful");
    }
    return get_string_list(w, v, false, true, &ss->rule->values, &ss->rule->nvalues);
}

static ferry_rc on_skip_in(struct walk *w, const struct val *v, void *obj)
{
    return skip_kind(w, v, obj, FERRY_SKIP_IN);
}

static ferry_rc on_skip_not_in(struct walk *w, const struct val *v, void *obj)
{
    return skip_kind(w, v, obj, FERRY_SKIP_NOT_IN);
}

static ferry_rc on_skip_empty(struct walk *w, const struct val *v, void *obj)
{
    return skip_kind(w, v, obj, FERRY_SKIP_EMPTY);
}

static const struct key_rule skip_rules[] = {
    {"in", false, on_skip_in},
    {"not_in", false, on_skip_not_in},
    {"empty", false, on_skip_empty},
};

static ferry_rc on_skip(struct walk *w, const char *name, int line, const struct val *v, void *obj)
{
    struct sync_state *st = obj;
    ferry_sync_spec *sync = st->sync;
    struct skip_state ss = {0};
    long index = ferry_sync_field_index(sync, name);
    ferry_rc rc;

    if (index < 0)
        return fail(w, line, "no field named '%s'", name);
    ss.rule = &sync->skips[sync->nskips++];
    ss.rule->field = (size_t)index;
    rc = walk_mapping(w, v, skip_rules, NRULES(skip_rules), &ss);
    if (rc == FERRY_OK && ss.nkinds == 0)
        rc = fail(w, v->line, "a rule takes exactly one of in, not_in or empty");
    return rc;
}

/* ---- syncs.NAME keys ---- */

static ferry_rc on_sync_title(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;

    return set_string(w, v, &st->sync->title);
}

static ferry_rc on_sync_noun(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;

    return set_string(w, v, &st->sync->noun);
}

static ferry_rc on_sync_source(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;

    st->source.src = &st->sync->source;
    return ferry_config_source_walk(w, v, &st->source);
}

static ferry_rc on_sync_target(struct walk *w, const struct val *v, void *obj)
{
    return walk_mapping(w, v, target_rules, NRULES(target_rules), obj);
}

static ferry_rc on_sync_fields(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;
    size_t count = 0;
    ferry_rc rc = mapping_count(w, v, &count);

    if (rc != FERRY_OK)
        return rc;
    if (count == 0)
        return fail(w, v->line, "define at least one field");
    if (st->sync->fields != NULL)
        return fail(w, v->line, "fields are given twice");
    st->sync->fields = calloc(count, sizeof(*st->sync->fields));
    if (st->sync->fields == NULL)
        return oom(w);
    return walk_entries(w, v, on_field, st);
}

static ferry_rc on_sync_skip(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;
    size_t count = 0;
    ferry_rc rc = mapping_count(w, v, &count);

    if (rc == FERRY_OK) {
        st->skip = *v;
        st->has_skip = true;
    }
    return rc;
}

/* 'cron "0 * * * *"' (quotes optional): fills sync->cron; false with a reason otherwise. */
static bool parse_cron_schedule(const char *s, ferry_sync_spec *sync, const char **ret_why)
{
    char expr[256];
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(expr)) {
        *ret_why = "needs five fields: minute hour day-of-month month day-of-week";
        return false;
    }
    memcpy(expr, s, n);
    expr[n] = '\0';
    *ret_why = ferry_cron_parse(expr, &sync->cron);
    sync->has_cron = *ret_why == NULL;
    return sync->has_cron;
}

static ferry_rc on_sync_schedule(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;
    const char *p, *why = NULL;
    long ms = 0;
    char *s = NULL;
    ferry_rc rc = get_string(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    if (strncasecmp(s, "cron", 4) == 0 && (s[4] == ' ' || s[4] == '\t')) {
        if (parse_cron_schedule(s + 4, st->sync, &why)) {
            free(st->sync->schedule);
            st->sync->schedule = s;
            st->sync->schedule_every_s = 0;
            return FERRY_OK;
        }
        rc = fail(w, v->line, "the cron expression %s", why);
        free(s);
        return rc;
    }
    p = s;
    if (strncasecmp(p, "every", 5) == 0 && (p[5] == ' ' || p[5] == '\t')) {
        p += 5;
        while (*p == ' ' || *p == '\t')
            p++;
    } else {
        p = NULL;
    }
    if (p == NULL || !ferry_duration_parse(p, &ms)) {
        rc = fail(w, v->line,
                  "expected 'every <duration>' such as 'every 1h', or 'cron \"0 * * * *\"'");
    } else if (ms < SCHEDULE_MIN_MS) {
        rc = fail(w, v->line, "the period must be at least 10s");
    } else if (ms % 1000 != 0) {
        rc = fail(w, v->line, "the period must be a whole number of seconds");
    } else {
        free(st->sync->schedule);
        st->sync->schedule = s;
        st->sync->schedule_every_s = ms / 1000;
        st->sync->has_cron = false;
        return FERRY_OK;
    }
    free(s);
    return rc;
}

static ferry_rc on_sync_allow_empty(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;

    return get_bool(w, v, &st->sync->allow_empty);
}

static ferry_rc on_sync_timeout(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;

    return get_duration(w, v, &st->sync->timeout_ms);
}

static ferry_rc on_sync_cooldown(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;

    return get_duration(w, v, &st->sync->cooldown_ms);
}

static ferry_rc on_sync_retries(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;
    long n = 0;
    ferry_rc rc = get_long(w, v, 0, 10, &n);

    st->sync->retries = (int)n;
    return rc;
}

/* ---- syncs.NAME.guard ---- */

#define GUARD_COUNT_MAX 1000000000000LL

/* A limit of the guard: "10%" (0% to 100%, at most two decimals) or a count ("50"). */
static ferry_rc get_guard_limit(struct walk *w, const struct val *v, ferry_guard_limit *ret)
{
    const char *s = NULL, *p;
    size_t len = 0, i = 0;
    int64_t whole = 0, hundredths = 0;
    int decimals = 0;
    ferry_rc rc = get_scalar(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    p = s;
    while (i < len && is_digit(p[i]) && whole <= GUARD_COUNT_MAX)
        whole = whole * 10 + (p[i++] - '0');
    if (i == 0 || whole > GUARD_COUNT_MAX)
        goto bad;
    if (i == len) {
        *ret = (ferry_guard_limit){.set = true, .percent = false, .value = whole};
        return FERRY_OK;
    }
    if (p[i] == '.') {
        for (i++; i < len && is_digit(p[i]) && decimals < 2; decimals++)
            hundredths = hundredths * 10 + (p[i++] - '0');
        if (decimals == 0)
            goto bad;
        if (decimals == 1)
            hundredths *= 10;
    }
    if (i + 1 != len || p[i] != '%' || whole > 100 || (whole == 100 && hundredths > 0))
        goto bad;
    *ret = (ferry_guard_limit){.set = true, .percent = true, .value = whole * 100 + hundredths};
    return FERRY_OK;
bad:
    return fail(w, v->line,
                "'%.*s' is not a limit: write a share of the rows such as 10%% (0%% to 100%%, "
                "at most two decimals) or a number of rows such as 50",
                show_len(len), s);
}

static ferry_rc on_guard_max_missing(struct walk *w, const struct val *v, void *obj)
{
    ferry_guard_spec *guard = obj;

    return get_guard_limit(w, v, &guard->max_missing);
}

static ferry_rc on_guard_max_failed(struct walk *w, const struct val *v, void *obj)
{
    ferry_guard_spec *guard = obj;

    return get_guard_limit(w, v, &guard->max_failed);
}

static const struct key_rule guard_rules[] = {
    {"max_missing", false, on_guard_max_missing}, /* default: 10% */
    {"max_failed", false, on_guard_max_failed},   /* default: none */
};

static ferry_rc on_sync_guard(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;

    return walk_mapping(w, v, guard_rules, NRULES(guard_rules), &st->sync->guard);
}

/* ---- syncs.NAME.tenant ---- */

static ferry_rc on_sync_tenant(struct walk *w, const struct val *v, void *obj)
{
    struct sync_state *st = obj;

    if (v->node == NULL || !fy_node_is_mapping(v->node))
        return fail(w, v->line, "expected a mapping such as {variable: org_id, column: org_id}");
    st->tenant = *v;
    st->has_tenant = true;
    return FERRY_OK;
}

struct tenant_state {
    char *variable;
    char *column;
    char **values;
    size_t nvalues;
    int column_line;
};

static ferry_rc on_tenant_variable(struct walk *w, const struct val *v, void *obj)
{
    struct tenant_state *ts = obj;
    ferry_rc rc = set_string(w, v, &ts->variable);

    if (rc == FERRY_OK && !is_identifier(ts->variable))
        return fail(w, v->line,
                    "a variable name is letters, digits and '_', not starting with a "
                    "digit");
    return rc;
}

static ferry_rc on_tenant_column(struct walk *w, const struct val *v, void *obj)
{
    struct tenant_state *ts = obj;
    ferry_rc rc = set_string(w, v, &ts->column);

    ts->column_line = v->line;
    return rc == FERRY_OK ? check_identifier(w, v->line, ts->column, "column") : rc;
}

static ferry_rc on_tenant_values(struct walk *w, const struct val *v, void *obj)
{
    struct tenant_state *ts = obj;
    ferry_rc rc = get_string_list(w, v, true, false, &ts->values, &ts->nvalues);

    for (size_t i = 0; rc == FERRY_OK && i < ts->nvalues; i++) {
        const char *why = ferry_sync_tenant_problem(NULL, ts->values[i]);
        if (why != NULL)
            rc =
                fail(w, v->line, "'%.*s': %s", show_len(strlen(ts->values[i])), ts->values[i], why);
    }
    return rc;
}

static const struct key_rule tenant_rules[] = {
    {"variable", true, on_tenant_variable},
    {"column", true, on_tenant_column},
    {"values", false, on_tenant_values},
};

/* Adds the tenant's column as the last field and the last key column. */
static ferry_rc apply_tenant(struct walk *w, struct sync_state *st)
{
    ferry_sync_spec *sync = st->sync;
    struct tenant_state ts = {0};
    size_t old = path_push(w, "tenant", 6);
    ferry_field_spec *fields;
    char **key;
    ferry_rc rc = walk_mapping(w, &st->tenant, tenant_rules, NRULES(tenant_rules), &ts);

    if (rc == FERRY_OK && ferry_sync_field_index(sync, ts.column) >= 0)
        rc = fail(w, ts.column_line,
                  "column '%s' is also a field: the tenant's column is filled by Ferry", ts.column);
    if (rc != FERRY_OK)
        goto out;
    fields = realloc(sync->fields, (sync->nfields + 1) * sizeof(*fields));
    if (fields == NULL) {
        rc = oom(w);
        goto out;
    }
    sync->fields = fields;
    key = realloc(sync->target.key, (sync->target.nkey + 1) * sizeof(*key));
    if (key == NULL) {
        rc = oom(w);
        goto out;
    }
    sync->target.key = key;
    key[sync->target.nkey] = strdup(ts.column);
    if (key[sync->target.nkey] == NULL) {
        rc = oom(w);
        goto out;
    }
    sync->target.nkey++;
    memset(&fields[sync->nfields], 0, sizeof(fields[0]));
    fields[sync->nfields].name = ts.column;
    fields[sync->nfields].column = strdup(ts.column);
    fields[sync->nfields].required = true;
    fields[sync->nfields].is_tenant = true;
    fields[sync->nfields].line = st->tenant.line;
    ts.column = NULL;
    sync->tenant_field = (long)sync->nfields++;
    if (fields[sync->tenant_field].column == NULL) {
        rc = oom(w);
        goto out;
    }
    sync->tenant_variable = ts.variable;
    sync->tenant_values = ts.values;
    sync->ntenant_values = ts.nvalues;
    ts.variable = NULL;
    ts.values = NULL;
out:
    free(ts.variable);
    free(ts.column);
    free_strv(ts.values, ts.nvalues);
    path_pop(w, old);
    return rc;
}

const char *ferry_sync_tenant_problem(const ferry_sync_spec *sync, const char *tenant)
{
    size_t i;

    if (sync != NULL && sync->tenant_variable == NULL)
        return tenant == NULL ? NULL : "this sync has no tenants";
    if (tenant == NULL || tenant[0] == '\0')
        return "this sync runs per tenant: name the tenant";
    for (i = 0; tenant[i] != '\0'; i++)
        if (!is_alpha(tenant[i]) && !is_digit(tenant[i]) && strchr("._-", tenant[i]) == NULL)
            return "a tenant is letters, digits, '.', '_' and '-'";
    if (i > 64)
        return "a tenant is at most 64 characters";
    if (sync == NULL || sync->tenant_values == NULL)
        return NULL;
    for (i = 0; i < sync->ntenant_values; i++)
        if (strcmp(sync->tenant_values[i], tenant) == 0)
            return NULL;
    return "not one of the sync's tenants (tenant.values)";
}

static const struct key_rule sync_rules[] = {
    {"title", false, on_sync_title},             /* default: the sync's name */
    {"noun", false, on_sync_noun},               /* default: the target table */
    {"source", true, on_sync_source},            /* source_rules */
    {"target", true, on_sync_target},            /* target_rules */
    {"fields", true, on_sync_fields},            /* name -> field_rules */
    {"skip", false, on_sync_skip},               /* field -> skip_rules, after the fields */
    {"schedule", false, on_sync_schedule},       /* "every <duration>" */
    {"allow_empty", false, on_sync_allow_empty}, /* default: false */
    {"timeout", false, on_sync_timeout},         /* default: none */
    {"cooldown", false, on_sync_cooldown},       /* default: none */
    {"retries", false, on_sync_retries},         /* 0 to 10, default 0 */
    {"tenant", false, on_sync_tenant},           /* applied after the fields */
    {"guard", false, on_sync_guard},             /* guard_rules */
};

/* Every name in target.key must be a field; key fields become required. */
static ferry_rc check_key(struct walk *w, struct sync_state *st)
{
    ferry_sync_spec *sync = st->sync;
    size_t i, old = path_push(w, "target", 6);
    ferry_rc rc = FERRY_OK;

    path_push(w, "key", 3);
    for (i = 0; i < sync->target.nkey && rc == FERRY_OK; i++) {
        long index = ferry_sync_field_index(sync, sync->target.key[i]);

        if (index >= 0) {
            sync->fields[index].required = true;
        } else {
            struct val item = list_item(&st->key, i);
            size_t before = item.node != st->key.node ? path_push_index(w, i) : w->pathlen;

            rc = fail(w, item.line, "no field named '%s'", sync->target.key[i]);
            path_pop(w, before);
        }
    }
    path_pop(w, old);
    return rc;
}

static ferry_rc parse_skips(struct walk *w, struct sync_state *st)
{
    size_t count = 0, old;
    ferry_rc rc = mapping_count(w, &st->skip, &count);

    if (rc != FERRY_OK || count == 0)
        return rc;
    st->sync->skips = calloc(count, sizeof(*st->sync->skips));
    if (st->sync->skips == NULL)
        return oom(w);
    old = path_push(w, "skip", 4);
    rc = walk_entries(w, &st->skip, on_skip, st);
    path_pop(w, old);
    return rc;
}

static ferry_rc on_sync(struct walk *w, const char *name, int line, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;
    struct sync_state st = {0};
    ferry_sync_spec *sync;
    ferry_rc rc;

    if (!is_sync_name(name))
        return fail(w, line, "invalid sync name (use 1 to %d of a-z, 0-9, '_' and '-')",
                    SYNC_NAME_MAX);
    sync = &cfg->syncs[cfg->nsyncs++];
    sync->line = line;
    sync->tenant_field = -1;
    ferry_config_source_defaults(&sync->source);
    sync->target.on_missing = FERRY_ON_MISSING_KEEP;
    sync->guard.max_missing = (ferry_guard_limit){.set = true, .percent = true, .value = 1000};
    sync->name = strdup(name);
    if (sync->name == NULL)
        return oom(w);
    st.sync = sync;
    rc = walk_mapping(w, v, sync_rules, NRULES(sync_rules), &st);
    if (rc == FERRY_OK)
        rc = check_key(w, &st);
    if (rc == FERRY_OK && st.has_skip)
        rc = parse_skips(w, &st);
    if (rc == FERRY_OK && st.has_tenant)
        rc = apply_tenant(w, &st);
    if (rc == FERRY_OK)
        rc = ferry_config_source_check(w, sync, &st.source);
    if (rc == FERRY_OK && sync->tenant_variable != NULL && sync->schedule != NULL &&
        sync->tenant_values == NULL)
        rc = fail(w, line,
                  "a scheduled sync with tenants needs tenant.values: the tenants each "
                  "scheduled time runs");
    if (rc != FERRY_OK)
        return rc;
    if (sync->title == NULL && (sync->title = strdup(name)) == NULL)
        return oom(w);
    if (sync->noun == NULL && (sync->noun = strdup(sync->target.table)) == NULL)
        return oom(w);
    return FERRY_OK;
}

static ferry_rc on_syncs(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;
    size_t count = 0;
    ferry_rc rc = mapping_count(w, v, &count);

    if (rc != FERRY_OK || count == 0)
        return rc;
    cfg->syncs = calloc(count, sizeof(*cfg->syncs));
    if (cfg->syncs == NULL)
        return oom(w);
    return walk_entries(w, v, on_sync, cfg);
}

static ferry_rc on_top_allow_private(struct walk *w, const struct val *v, void *obj)
{
    return get_bool(w, v, &((ferry_config *)obj)->allow_private);
}

static ferry_rc on_top_allow_hosts(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;

    return set_allow_hosts(w, v, &cfg->allow_hosts, &cfg->nallow_hosts);
}

/* files_dir: a directory (relative to the config's), which must exist. */
static ferry_rc on_files_dir(struct walk *w, const struct val *v, void *obj)
{
    ferry_config *cfg = obj;
    char *s = NULL, *path;
    struct stat st;
    ferry_rc rc = get_string(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    if (s[0] == '/') {
        path = s;
    } else {
        size_t n = strlen(cfg->dir) + strlen(s) + 2;
        if ((path = malloc(n)) == NULL) {
            free(s);
            return oom(w);
        }
        snprintf(path, n, "%s/%s", cfg->dir, s);
        free(s);
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = fail(w, v->line, "'%.*s' is not a directory", show_len(strlen(path)), path);
        free(path);
        return rc;
    }
    free(cfg->files_dir);
    cfg->files_dir = path;
    return FERRY_OK;
}

/* Every source inherits the top level's allow_private, allow_hosts and files_dir, whichever
 * order the keys came in. */
static ferry_rc inherit_top_level(struct walk *w, ferry_config *cfg)
{
    ferry_rc rc = FERRY_OK;

    for (size_t i = 0; i < cfg->nsyncs && rc == FERRY_OK; i++)
        rc = ferry_config_source_inherit(w, &cfg->syncs[i].source, cfg);
    return rc;
}

static const struct key_rule top_rules[] = {
    {"database", false, on_database},
    {"listen", false, on_listen},
    {"workers", false, on_workers},
    {"lease", false, on_lease},
    {"shutdown_grace", false, on_shutdown_grace},
    {"session_idle", false, on_session_idle},
    {"session_max", false, on_session_max},
    {"metrics_token", false, on_metrics_token},
    {"max_connections", false, on_max_connections},
    {"max_connections_per_ip", false, on_connections_per_ip},
    {"idle_timeout", false, on_idle_timeout},
    {"max_body", false, on_max_body},
    {"cors_origins", false, on_cors_origins},
    {"allow_private", false, on_top_allow_private},
    {"allow_hosts", false, on_top_allow_hosts},
    {"files_dir", false, on_files_dir},
    {"trusted_proxies", false, on_trusted_proxies},
    {"syncs", false, on_syncs},
};

/* ---- YAML ---- */

/* The libfyaml objects of one parse. */
struct yaml {
    struct fy_diag *diag;
    struct fy_parser *parser;
    struct fy_document *doc;
    char output[256]; /* the first line libfyaml wanted to print, for want of a better one */
};

/* Keeps libfyaml's own output off stderr. */
static void diag_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    struct yaml *y = user;
    size_t n = strcspn(buf, "\n");

    (void)diag;
    if (y->output[0] != '\0' || len == 0)
        return;
    if (n > len)
        n = len;
    if (n >= sizeof(y->output))
        n = sizeof(y->output) - 1;
    memcpy(y->output, buf, n);
    y->output[n] = '\0';
}

static ferry_rc yaml_error(struct walk *w, struct yaml *y)
{
    struct fy_diag_error *e;
    void *it = NULL;

    while ((e = fy_diag_errors_iterate(y->diag, &it)) != NULL) {
        if (e->type < FYET_ERROR || e->msg == NULL)
            continue;
        return ferry_err_set(w->err, FERRY_ECONFIG, "%s:%d: YAML syntax error: %s (column %d)",
                             w->file, e->line > 0 ? e->line : 1, e->msg, e->column);
    }
    return ferry_err_set(w->err, FERRY_ECONFIG, "%s: YAML syntax error: %s", w->file,
                         y->output[0] != '\0' ? y->output : "the file could not be parsed");
}

/* YAML is Unicode text, and libfyaml 0.7 (Debian 12's) loops forever on some invalid UTF-8,
 * such as a directive line "%\x80" (upstream issue #101), so the bytes are checked first.
 * Line by line, since a UTF-8 sequence never spans a line break: the error names the line. */
static ferry_rc check_utf8(struct walk *w, const char *text, size_t len)
{
    size_t start = 0;
    int line = 1;

    while (start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;

        if (!ferry_utf8_is_valid(text + start, end - start))
            return fail(w, line, "the file is not valid UTF-8 text");
        start = end + 1;
        line++;
    }
    return FERRY_OK;
}

/* Parses text into y->doc; y->doc stays NULL for a stream without documents. */
static ferry_rc yaml_load(struct walk *w, const char *text, size_t len, struct yaml *y)
{
    struct fy_diag_cfg dcfg;
    struct fy_parse_cfg pcfg;
    struct fy_document *extra;
    ferry_rc rc;

    if ((rc = check_utf8(w, text, len)) != FERRY_OK)
        return rc;

    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_output;
    dcfg.user = y;
    dcfg.colorize = false;
    y->diag = fy_diag_create(&dcfg);
    if (y->diag == NULL)
        return oom(w);
    fy_diag_set_collect_errors(y->diag, true);
    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT;
    pcfg.diag = y->diag;
    y->parser = fy_parser_create(&pcfg);
    if (y->parser == NULL)
        return oom(w);
    if (fy_parser_set_string(y->parser, len > 0 ? text : "", len) != 0)
        return oom(w);
    y->doc = fy_parse_load_document(y->parser);
    if (fy_parser_get_stream_error(y->parser))
        return yaml_error(w, y);
    if (y->doc == NULL)
        return FERRY_OK;
    extra = fy_parse_load_document(y->parser);
    if (extra != NULL) {
        int line = node_line(fy_document_root(extra));

        fy_parse_document_destroy(y->parser, extra);
        return ferry_err_set(w->err, FERRY_ECONFIG,
                             "%s:%d: only one YAML document is allowed (a second one starts here)",
                             w->file, line > 0 ? line : 1);
    }
    if (fy_parser_get_stream_error(y->parser))
        return yaml_error(w, y);
    return FERRY_OK;
}

static void yaml_close(struct yaml *y)
{
    if (y->doc != NULL)
        fy_parse_document_destroy(y->parser, y->doc);
    if (y->parser != NULL)
        fy_parser_destroy(y->parser);
    if (y->diag != NULL)
        fy_diag_destroy(y->diag);
}

/* ---- public ---- */

const char *ferry_field_type_name(ferry_field_type type)
{
    if ((unsigned)type < NRULES(type_names))
        return type_names[type];
    return "unknown";
}

static ferry_config *config_new(const char *path, const char *dir)
{
    ferry_config *cfg = calloc(1, sizeof(*cfg));

    if (cfg == NULL)
        return NULL;
    cfg->workers = DEFAULT_WORKERS;
    cfg->session_idle_ms = DEFAULT_SESSION_IDLE_MS;
    cfg->lease_ms = DEFAULT_LEASE_MS;
    cfg->shutdown_grace_ms = DEFAULT_SHUTDOWN_GRACE_MS;
    cfg->session_max_ms = DEFAULT_SESSION_MAX_MS;
    cfg->max_connections = DEFAULT_MAX_CONNECTIONS;
    cfg->max_connections_per_ip = DEFAULT_CONNECTIONS_PER_IP;
    cfg->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
    cfg->max_body_bytes = DEFAULT_MAX_BODY;
    cfg->path = strdup(path);
    cfg->dir = strdup(dir);
    cfg->database = strdup(DEFAULT_DATABASE);
    cfg->listen = strdup(DEFAULT_LISTEN);
    if (cfg->path == NULL || cfg->dir == NULL || cfg->database == NULL || cfg->listen == NULL) {
        ferry_config_free(cfg);
        return NULL;
    }
    return cfg;
}

ferry_rc ferry_config_parse(const char *text, size_t len, const char *name, const char *dir,
                            ferry_config **ret_cfg, ferry_err *err)
{
    struct walk w;
    struct yaml y;
    ferry_config *cfg = NULL;
    struct fy_node *root;
    ferry_rc rc;

    if (ret_cfg == NULL || (text == NULL && len > 0))
        return ferry_err_set(err, FERRY_EINVAL, "ferry_config_parse: invalid arguments");
    *ret_cfg = NULL;
    memset(&w, 0, sizeof(w));
    memset(&y, 0, sizeof(y));
    w.file = name != NULL ? name : "<config>";
    w.err = err;
    cfg = config_new(w.file, dir != NULL ? dir : ".");
    if (cfg == NULL)
        return oom(&w);
    rc = yaml_load(&w, text, len, &y);
    if (rc != FERRY_OK)
        goto out;
    root = y.doc != NULL ? fy_document_root(y.doc) : NULL;
    if (!is_null(root)) { /* an empty document is a config of defaults */
        struct val v = val_of(root, 1);

        rc = walk_mapping(&w, &v, top_rules, NRULES(top_rules), cfg);
    }
    if (rc == FERRY_OK)
        rc = inherit_top_level(&w, cfg);
out:
    yaml_close(&y);
    if (rc != FERRY_OK) {
        ferry_config_free(cfg);
        if (err != NULL) {
            /* An error is one line: keys and values quoted in it may hold line breaks or
             * other control characters, shown as '?'. */
            for (char *p = err->msg; *p != '\0'; p++) {
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                    *p = '?';
            }
        }
        return rc;
    }
    *ret_cfg = cfg;
    return FERRY_OK;
}

/* Reads a whole file of at most CONFIG_MAX_BYTES. */
static ferry_rc read_file(const char *path, char **ret, size_t *ret_len, ferry_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL, *grown;
    size_t len = 0, cap = 0, n;
    ferry_rc rc = FERRY_OK;

    if (f == NULL)
        return ferry_err_set_errno(err, errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO,
                                   "%s: cannot open the config file", path);
    for (;;) {
        if (cap - len < 4096) {
            if (cap >= (size_t)CONFIG_MAX_BYTES) {
                rc = ferry_err_set(err, FERRY_ECONFIG, "%s: the config file is over %ld bytes",
                                   path, CONFIG_MAX_BYTES);
                goto fail;
            }
            grown = realloc(buf, cap * 2 + 4096);
            if (grown == NULL) {
                rc = ferry_err_set(err, FERRY_ENOMEM, "%s: out of memory", path);
                goto fail;
            }
            buf = grown;
            cap = cap * 2 + 4096;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        rc = ferry_err_set_errno(err, FERRY_EIO, "%s: cannot read the config file", path);
        goto fail;
    }
    fclose(f);
    *ret = buf;
    *ret_len = len;
    return FERRY_OK;
fail:
    fclose(f);
    free(buf);
    return rc;
}

ferry_rc ferry_config_load(const char *path, ferry_config **ret_cfg, ferry_err *err)
{
    char *text = NULL, *copy = NULL;
    size_t len = 0;
    ferry_rc rc;

    if (path == NULL || ret_cfg == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "ferry_config_load: invalid arguments");
    *ret_cfg = NULL;
    rc = read_file(path, &text, &len, err);
    if (rc != FERRY_OK)
        return rc;
    copy = strdup(path);
    if (copy == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    rc = ferry_config_parse(text, len, path, dirname(copy), ret_cfg, err);
out:
    free(copy);
    free(text);
    return rc;
}

static void field_free(ferry_field_spec *f)
{
    free(f->name);
    free(f->column);
    free(f->pointer);
    free(f->join);
    free_strv(f->values, f->nvalues);
}

static void sync_free(ferry_sync_spec *s)
{
    size_t i;

    free(s->name);
    free(s->title);
    free(s->noun);
    ferry_config_source_done(&s->source);
    free(s->tenant_variable);
    free_strv(s->tenant_values, s->ntenant_values);
    free(s->target.table);
    free(s->target.database);
    free_strv(s->target.key, s->target.nkey);
    for (i = 0; i < s->nfields; i++)
        field_free(&s->fields[i]);
    free(s->fields);
    for (i = 0; i < s->nskips; i++)
        free_strv(s->skips[i].values, s->skips[i].nvalues);
    free(s->skips);
    free(s->schedule);
}

void ferry_config_free(ferry_config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->nsyncs; i++)
        sync_free(&cfg->syncs[i]);
    free(cfg->syncs);
    free(cfg->path);
    free(cfg->dir);
    free(cfg->database);
    free(cfg->listen);
    if (cfg->metrics_token != NULL)
        ferry_password_wipe(cfg->metrics_token, strlen(cfg->metrics_token));
    free(cfg->metrics_token);
    free_strv(cfg->cors_origins, cfg->ncors_origins);
    free_strv(cfg->allow_hosts, cfg->nallow_hosts);
    free(cfg->files_dir);
    free(cfg->trusted_proxies);
    free(cfg);
}

const ferry_sync_spec *ferry_config_sync_get(const ferry_config *cfg, const char *name)
{
    size_t i;

    if (cfg == NULL || name == NULL)
        return NULL;
    for (i = 0; i < cfg->nsyncs; i++)
        if (strcmp(cfg->syncs[i].name, name) == 0)
            return &cfg->syncs[i];
    return NULL;
}

long ferry_sync_field_index(const ferry_sync_spec *sync, const char *name)
{
    size_t i;

    if (sync == NULL || name == NULL)
        return -1;
    for (i = 0; i < sync->nfields; i++)
        if (sync->fields[i].name != NULL && strcmp(sync->fields[i].name, name) == 0)
            return (long)i;
    return -1;
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

    if (text == NULL || ret_ms == NULL || !is_digit(text[0]))
        return false;
    errno = 0;
    n = strtol(text, &end, 10);
    if (errno != 0 || n <= 0)
        return false;
    for (i = 0; i < NRULES(units); i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        if (n > LONG_MAX / units[i].ms)
            return false;
        *ret_ms = n * units[i].ms;
        return true;
    }
    return false;
}
