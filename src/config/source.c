/* source.c - the source: key of a sync (docs/sources.md): CSV and REST sources.
 *
 * One table of key rules serves both kinds, since the kind may come after the keys that
 * depend on it. Each handler notes the first key it saw that only one kind takes, and
 * ferry_config_source_check(), run once the whole sync is walked, rejects a key of the other
 * kind, fills the defaults that depend on the kind, compiles every JSON pointer once (so a bad
 * pointer is a config error, not a failed run) and checks that every {placeholder} names a
 * variable (vars: or the tenant's).
 *
 * Secrets are never read here: auth: names where they live (an environment variable or a
 * file) and the source reads them when a run starts. A literal password, token or key is a
 * config error, so it cannot end up in a file that is committed or shown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/walk.h"
#include "util/json_path.h"
#include "util/ratelimit.h"
#include "util/template.h"

#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_MAX_FIELD_BYTES (1024UL * 1024)
#define DEFAULT_STALL_MS 30000L
#define DEFAULT_MAX_PAGE_BYTES (16UL * 1024 * 1024)
#define DEFAULT_PAGE_RETRIES 4
#define DEFAULT_BACKOFF_MS 1000L
#define DEFAULT_MAX_WAIT_MS (15L * 60 * 1000)
#define DEFAULT_MAX_BYTES (1024UL * 1024 * 1024)
#define MAX_BYTES_LIMIT (1024ULL * 1024 * 1024 * 1024)
#define MAX_SIZE_LIMIT (256ULL * 1024 * 1024) /* the other sizes' */
#define DEFAULT_PAGE_SIZE 100
#define DEFAULT_MAX_PAGES 100000
#define PAIRS_MAX 64

static const char *const style_names[] = {
    [FERRY_PAGE_NONE] = "none",
    [FERRY_PAGE_NEXT_LINK] = "next_link",
    [FERRY_PAGE_LINK_HEADER] = "link_header",
    [FERRY_PAGE_OFFSET] = "offset",
    [FERRY_PAGE_CURSOR] = "cursor",
    [FERRY_PAGE_PAGE] = "page",
};

const char *ferry_page_style_name(ferry_page_style style)
{
    return (size_t)style < NRULES(style_names) ? style_names[style] : "?";
}

static void note_rest(struct source_state *st, const struct val *v, const char *key)
{
    if (st->rest_key == NULL) {
        st->rest_key = key;
        st->rest_line = v->line;
    }
}

/* ---- keys both kinds take ---- */

static ferry_rc on_kind(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;
    const char *s = NULL;
    size_t len = 0;
    ferry_rc rc = get_scalar(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    if (len == 3 && memcmp(s, "csv", 3) == 0)
        st->src->kind = FERRY_SOURCE_CSV;
    else if (len == 4 && memcmp(s, "rest", 4) == 0)
        st->src->kind = FERRY_SOURCE_REST;
    else
        return fail(w, v->line, "unknown source kind '%.*s' (expected csv or rest)", show_len(len),
                    s);
    return FERRY_OK;
}

static ferry_rc on_url(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;
    char buf[256];
    const char *problem;
    char *s = NULL;
    ferry_rc rc = get_string(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    problem = url_problem(s, buf, sizeof(buf));
    if (problem != NULL) {
        rc = fail(w, v->line, "%s", problem);
        free(s);
        return rc;
    }
    free(st->src->url);
    st->src->url = s;
    return FERRY_OK;
}

static ferry_rc on_timeout(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    return get_duration(w, v, &st->src->timeout_ms);
}

/* ---- where a source may read from (docs/security.md) ---- */

ferry_rc set_allow_hosts(struct walk *w, const struct val *v, char ***dst, size_t *dst_n)
{
    char **hosts = NULL;
    size_t n = 0;
    ferry_rc rc = get_string_list(w, v, true, true, &hosts, &n);

    if (rc != FERRY_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char *h = hosts[i];
        size_t len = strlen(h);
        bool bracketed = len > 2 && h[0] == '[' && h[len - 1] == ']';
        if (strpbrk(h, "/@?# \t") != NULL ||
            (strchr(h, ':') != NULL && !bracketed && strchr(strchr(h, ':') + 1, ':') == NULL)) {
            rc = fail(w, v->line,
                      "'%.*s' is not a host: allow_hosts lists host names or addresses "
                      "(such as api.internal or 10.0.0.5), without scheme, port or path",
                      show_len(len), h);
            free_strv(hosts, n);
            return rc;
        }
        for (char *p = h; *p != '\0'; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    free_strv(*dst, *dst_n);
    *dst = hosts;
    *dst_n = n;
    return FERRY_OK;
}

static ferry_rc on_allow_private(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    return get_bool(w, v, &st->src->allow_private);
}

static ferry_rc on_allow_hosts(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    return set_allow_hosts(w, v, &st->src->allow_hosts, &st->src->nallow_hosts);
}

ferry_rc ferry_config_source_inherit(struct walk *w, ferry_source_spec *src,
                                     const ferry_config *cfg)
{
    size_t n = src->nallow_hosts + cfg->nallow_hosts;
    char **hosts;

    src->allow_private = src->allow_private || cfg->allow_private;
    if ((src->files_dir = strdup(cfg->files_dir != NULL ? cfg->files_dir : cfg->dir)) == NULL)
        return oom(w);
    if (cfg->nallow_hosts == 0)
        return FERRY_OK;
    if ((hosts = realloc(src->allow_hosts, n * sizeof(*hosts))) == NULL)
        return oom(w);
    src->allow_hosts = hosts;
    for (size_t i = 0; i < cfg->nallow_hosts; i++) {
        if ((hosts[src->nallow_hosts] = strdup(cfg->allow_hosts[i])) == NULL)
            return oom(w);
        src->nallow_hosts++;
    }
    return FERRY_OK;
}

/* ---- CSV keys ---- */

/* A size (bytes, or a number followed by a unit) from 1 byte to max (written max_text) into
 * *ret. */
static ferry_rc get_size_max(struct walk *w, const struct val *v, unsigned long long max,
                             const char *max_text, size_t *ret)
{
    char *s = NULL;
    int ok;
    ferry_rc rc = dup_scalar(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    ok = parse_size_max(s, max, ret);
    if (ok == 0)
        rc = fail(w, v->line, "expected a size such as 1048576, 512KiB or 1MiB, not '%.*s'",
                  show_len(strlen(s)), s);
    else if (ok < 0)
        rc = fail(w, v->line, "'%.*s' is out of range (1 byte to %s)", show_len(strlen(s)), s,
                  max_text);
    free(s);
    return rc;
}

/* A size up to 256MiB into *ret. */
static ferry_rc get_size(struct walk *w, const struct val *v, size_t *ret)
{
    return get_size_max(w, v, MAX_SIZE_LIMIT, "256MiB", ret);
}

static void note_csv(struct source_state *st, const struct val *v, const char *key)
{
    if (st->csv_key == NULL) {
        st->csv_key = key;
        st->csv_line = v->line;
    }
}

static ferry_rc on_max_field_bytes(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    note_csv(st, v, "max_field_bytes");
    return get_size(w, v, &st->src->max_field_bytes);
}

static ferry_rc on_max_bytes(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    note_csv(st, v, "max_bytes");
    return get_size_max(w, v, MAX_BYTES_LIMIT, "1TiB", &st->src->max_bytes);
}

static ferry_rc on_delimiter(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;
    const char *s = NULL;
    size_t len = 0;
    ferry_rc rc = get_scalar(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    if (len != 1)
        return fail(w, v->line,
                    "expected a single character such as ',', ';' or \"\\t\", not '%.*s'",
                    show_len(len), s);
    if (s[0] == '"' || s[0] == '\r' || s[0] == '\n')
        return fail(w, v->line, "the delimiter cannot be a double quote, CR or LF");
    st->src->delimiter = s[0];
    if (st->csv_key == NULL) {
        st->csv_key = "delimiter";
        st->csv_line = v->line;
    }
    return FERRY_OK;
}

/* ---- REST keys ---- */

static ferry_rc on_method(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;
    const char *s = NULL;
    size_t len = 0;
    ferry_rc rc = get_scalar(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    note_rest(st, v, "method");
    free(st->src->method);
    if (len == 3 && strncasecmp(s, "GET", 3) == 0)
        st->src->method = strdup("GET");
    else if (len == 4 && strncasecmp(s, "POST", 4) == 0)
        st->src->method = strdup("POST");
    else
        return fail(w, v->line, "expected GET or POST, not '%.*s'", show_len(len), s);
    return st->src->method != NULL ? FERRY_OK : oom(w);
}

/* A list of pairs being filled by walk_entries(). */
struct pairs {
    ferry_pair *items;
    size_t n;
    const char *what; /* "header", "query parameter", "variable" */
};

static bool is_header_name(const char *s)
{
    static const char specials[] = "!#$%&'*+-.^_`|~";

    if (s[0] == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!is_alpha(*s) && !is_digit(*s) && strchr(specials, *s) == NULL)
            return false;
    return true;
}

static ferry_rc on_pair(struct walk *w, const char *name, int line, const struct val *v, void *obj)
{
    struct pairs *p = obj;
    ferry_pair *pair = &p->items[p->n];
    ferry_rc rc;

    if (strcmp(p->what, "variable") == 0 && !is_identifier(name))
        return fail(w, line,
                    "a variable name is letters, digits and '_', not starting with a digit");
    if (strcmp(p->what, "header") == 0) {
        if (!is_header_name(name))
            return fail(w, line, "'%.*s' is not a header name", show_len(strlen(name)), name);
        if (strcasecmp(name, "Authorization") == 0 || strcasecmp(name, "Cookie") == 0)
            return fail(w, line,
                        "credentials do not belong in headers: use auth: (type basic, bearer or "
                        "header), which reads them from the environment or a file");
    }
    if (v->node == NULL || is_null(v->node))
        return fail(w, v->line, "expected a value");
    if ((rc = dup_scalar(w, v, &pair->value)) != FERRY_OK)
        return rc;
    if (strpbrk(pair->value, "\r\n") != NULL)
        return fail(w, v->line, "a %s value cannot hold a line break", p->what);
    if ((pair->name = strdup(name)) == NULL)
        return oom(w);
    p->n++;
    return FERRY_OK;
}

static ferry_rc get_pairs(struct walk *w, const struct val *v, const char *what, ferry_pair **items,
                          size_t *n)
{
    struct pairs p = {NULL, 0, what};
    size_t count = 0;
    ferry_rc rc = mapping_count(w, v, &count);

    if (rc != FERRY_OK)
        return rc;
    if (count > PAIRS_MAX)
        return fail(w, v->line, "at most %d entries", PAIRS_MAX);
    if (*items != NULL)
        return fail(w, v->line, "given twice");
    p.items = calloc(count + 1, sizeof(*p.items));
    if (p.items == NULL)
        return oom(w);
    rc = walk_entries(w, v, on_pair, &p);
    *items = p.items; /* freed with the spec, complete or not */
    *n = p.n;
    return rc;
}

static ferry_rc on_headers(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    note_rest(st, v, "headers");
    return get_pairs(w, v, "header", &st->src->headers, &st->src->nheaders);
}

static ferry_rc on_query(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    note_rest(st, v, "query");
    return get_pairs(w, v, "query parameter", &st->src->query, &st->src->nquery);
}

static ferry_rc on_vars(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    return get_pairs(w, v, "variable", &st->src->vars, &st->src->nvars);
}

static ferry_rc on_body(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    note_rest(st, v, "body");
    free(st->src->body);
    st->src->body = NULL;
    return dup_scalar(w, v, &st->src->body);
}

/* Compiles text as a JSON pointer to check it; the message names the key. */
static ferry_rc check_pointer(struct walk *w, int line, const char *text)
{
    ferry_json_path *p = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_json_path_compile(text, &p, &err) != FERRY_OK)
        return fail(w, line, "'%.*s' is not a JSON pointer: %s", show_len(strlen(text)), text,
                    err.msg);
    ferry_json_path_free(p);
    return FERRY_OK;
}

static ferry_rc set_pointer(struct walk *w, const struct val *v, char **dst)
{
    char *s = NULL;
    ferry_rc rc = dup_scalar(w, v, &s);

    if (rc == FERRY_OK)
        rc = check_pointer(w, v->line, s);
    if (rc != FERRY_OK) {
        free(s);
        return rc;
    }
    free(*dst);
    *dst = s;
    return FERRY_OK;
}

static ferry_rc on_records(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    note_rest(st, v, "records");
    return set_pointer(w, v, &st->src->records);
}

static ferry_rc on_rate_limit(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;
    char *s = NULL;
    ferry_rc rc = dup_scalar(w, v, &s);

    if (rc != FERRY_OK)
        return rc;
    note_rest(st, v, "rate_limit");
    if (!ferry_rate_parse(s, &st->src->rate_per_s)) {
        rc = fail(w, v->line, "expected a rate such as 200/min, 5/s or 1000/h, not '%.*s'",
                  show_len(strlen(s)), s);
        free(s);
        return rc;
    }
    free(st->src->rate_limit);
    st->src->rate_limit = s;
    return FERRY_OK;
}

static ferry_rc on_stall_timeout(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    note_rest(st, v, "stall_timeout");
    return get_duration_within(w, v, 1000, 3600L * 1000, &st->src->stall_timeout_ms);
}

static ferry_rc on_max_page_bytes(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    note_rest(st, v, "max_page_bytes");
    return get_size(w, v, &st->src->max_page_bytes);
}

static ferry_rc on_retries(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;
    long n = 0;
    ferry_rc rc = get_long(w, v, 0, 10, &n);

    note_rest(st, v, "retries");
    if (rc == FERRY_OK)
        st->src->page_retries = (int)n;
    return rc;
}

static ferry_rc on_retry_backoff(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    note_rest(st, v, "retry_backoff");
    return get_duration_within(w, v, 1, 60L * 1000, &st->src->retry_backoff_ms);
}

static ferry_rc on_max_wait(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;

    note_rest(st, v, "max_wait");
    return get_duration_within(w, v, 1000, 86400L * 1000, &st->src->max_wait_ms);
}

/* ---- source.auth ---- */

static const char *const auth_types[] = {
    [FERRY_AUTH_NONE] = "none",
    [FERRY_AUTH_BASIC] = "basic",
    [FERRY_AUTH_BEARER] = "bearer",
    [FERRY_AUTH_HEADER] = "header",
};

static ferry_rc on_auth_type(struct walk *w, const struct val *v, void *obj)
{
    ferry_auth_spec *a = obj;
    const char *s = NULL;
    size_t len = 0;
    ferry_rc rc = get_scalar(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    for (size_t i = 1; i < NRULES(auth_types); i++) {
        if (strlen(auth_types[i]) == len && memcmp(auth_types[i], s, len) == 0) {
            a->type = (ferry_auth_type)i;
            return FERRY_OK;
        }
    }
    return fail(w, v->line, "unknown auth type '%.*s' (expected basic, bearer or header)",
                show_len(len), s);
}

static ferry_rc on_auth_user(struct walk *w, const struct val *v, void *obj)
{
    return set_string(w, v, &((ferry_auth_spec *)obj)->user.literal);
}

static ferry_rc on_auth_user_env(struct walk *w, const struct val *v, void *obj)
{
    return set_string(w, v, &((ferry_auth_spec *)obj)->user.env);
}

static ferry_rc on_auth_user_file(struct walk *w, const struct val *v, void *obj)
{
    return set_string(w, v, &((ferry_auth_spec *)obj)->user.file);
}

static ferry_rc on_auth_secret_env(struct walk *w, const struct val *v, void *obj)
{
    ferry_auth_spec *a = obj;

    if (a->secret.env != NULL || a->secret.file != NULL)
        return fail(w, v->line, "the secret is given twice");
    return set_string(w, v, &a->secret.env);
}

static ferry_rc on_auth_secret_file(struct walk *w, const struct val *v, void *obj)
{
    ferry_auth_spec *a = obj;

    if (a->secret.env != NULL || a->secret.file != NULL)
        return fail(w, v->line, "the secret is given twice");
    return set_string(w, v, &a->secret.file);
}

static ferry_rc on_auth_literal_secret(struct walk *w, const struct val *v, void *obj)
{
    return fail(w, v->line,
                "secrets are not written in the config: name an environment variable "
                "(password_env, token_env, key_env) or a file (password_file, token_file, "
                "key_file) that holds it");
}

static ferry_rc on_auth_header(struct walk *w, const struct val *v, void *obj)
{
    ferry_auth_spec *a = obj;
    ferry_rc rc = set_string(w, v, &a->header);

    if (rc == FERRY_OK && !is_header_name(a->header))
        return fail(w, v->line, "'%.*s' is not a header name", show_len(strlen(a->header)),
                    a->header);
    return rc;
}

static const struct key_rule auth_rules[] = {
    {"type", true, on_auth_type},
    {"user", false, on_auth_user},
    {"user_env", false, on_auth_user_env},
    {"user_file", false, on_auth_user_file},
    {"password_env", false, on_auth_secret_env},
    {"password_file", false, on_auth_secret_file},
    {"token_env", false, on_auth_secret_env},
    {"token_file", false, on_auth_secret_file},
    {"key_env", false, on_auth_secret_env},
    {"key_file", false, on_auth_secret_file},
    {"header", false, on_auth_header},
    {"password", false, on_auth_literal_secret},
    {"token", false, on_auth_literal_secret},
    {"key", false, on_auth_literal_secret},
};

/* Which keys each type takes: the secret's prefix, and the other keys allowed. */
static ferry_rc check_auth(struct walk *w, const struct val *v, ferry_auth_spec *a)
{
    struct fy_node_pair *pair;
    void *it = NULL;
    const char *prefix = a->type == FERRY_AUTH_BASIC    ? "password_"
                         : a->type == FERRY_AUTH_BEARER ? "token_"
                                                        : "key_";

    while ((pair = fy_node_mapping_iterate(v->node, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair);
        size_t len = 0;
        const char *name = fy_node_get_scalar(k, &len);
        struct val kv = val_of(k, v->line);
        bool user = len >= 4 && strncmp(name, "user", 4) == 0;
        bool secret = memchr(name, '_', len) != NULL && !user;

        if (len == 4 && strncmp(name, "type", 4) == 0)
            continue;
        if ((user && a->type != FERRY_AUTH_BASIC) ||
            (secret && strncmp(name, prefix, strlen(prefix)) != 0) ||
            (len == 6 && strncmp(name, "header", 6) == 0 && a->type != FERRY_AUTH_HEADER))
            return fail(w, kv.line, "'%.*s' does not go with type %s", show_len(len), name,
                        auth_types[a->type]);
    }
    if (a->type == FERRY_AUTH_BASIC) {
        int users = (a->user.literal != NULL) + (a->user.env != NULL) + (a->user.file != NULL);
        if (users != 1)
            return fail(w, v->line, "type basic needs exactly one of user, user_env, user_file");
        return FERRY_OK;
    }
    if (a->secret.env == NULL && a->secret.file == NULL)
        return fail(w, v->line, "type %s needs %senv or %sfile", auth_types[a->type], prefix,
                    prefix);
    if (a->type == FERRY_AUTH_HEADER && a->header == NULL)
        return fail(w, v->line, "type header needs header: (the header's name, such as X-API-Key)");
    if (a->type == FERRY_AUTH_HEADER &&
        (strcasecmp(a->header, "Cookie") == 0 || strcasecmp(a->header, "Host") == 0))
        return fail(w, v->line, "header: cannot be %s", a->header);
    return FERRY_OK;
}

static ferry_rc on_auth(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;
    ferry_rc rc;

    note_rest(st, v, "auth");
    rc = walk_mapping(w, v, auth_rules, NRULES(auth_rules), &st->src->auth);
    return rc == FERRY_OK ? check_auth(w, v, &st->src->auth) : rc;
}

/* ---- source.pagination ---- */

/* The keys given, for the per-style check. */
struct page_state {
    ferry_pagination_spec *p;
    unsigned given; /* bit per pagination_rules row */
    int lines[16];
};

#define PAGE_KEY(bit) (1u << (bit))

static ferry_rc on_page_style(struct walk *w, const struct val *v, void *obj)
{
    struct page_state *ps = obj;
    const char *s = NULL;
    size_t len = 0;
    ferry_rc rc = get_scalar(w, v, &s, &len);

    if (rc != FERRY_OK)
        return rc;
    for (size_t i = 0; i < NRULES(style_names); i++) {
        if (strlen(style_names[i]) == len && memcmp(style_names[i], s, len) == 0) {
            ps->p->style = (ferry_page_style)i;
            return FERRY_OK;
        }
    }
    return fail(w, v->line,
                "unknown style '%.*s' (expected none, next_link, link_header, offset, cursor or "
                "page)",
                show_len(len), s);
}

#define PAGE_STRING(fn, member, bit, pointer)                                                      \
    static ferry_rc fn(struct walk *w, const struct val *v, void *obj)                             \
    {                                                                                              \
        struct page_state *ps = obj;                                                               \
        ps->given |= PAGE_KEY(bit);                                                                \
        ps->lines[bit] = v->line;                                                                  \
        return pointer ? set_pointer(w, v, &ps->p->member) : set_string(w, v, &ps->p->member);     \
    }
#define PAGE_LONG(fn, member, bit, min, max)                                                       \
    static ferry_rc fn(struct walk *w, const struct val *v, void *obj)                             \
    {                                                                                              \
        struct page_state *ps = obj;                                                               \
        ps->given |= PAGE_KEY(bit);                                                                \
        ps->lines[bit] = v->line;                                                                  \
        return get_long(w, v, min, max, &ps->p->member);                                           \
    }

/* Bits follow the rows of pagination_rules below. */
PAGE_STRING(on_page_next, next, 1, true)
PAGE_STRING(on_page_total, total, 2, true)
PAGE_STRING(on_page_offset_param, offset_param, 3, false)
PAGE_STRING(on_page_limit_param, limit_param, 4, false)
PAGE_LONG(on_page_limit, limit, 5, 1, 100000)
PAGE_LONG(on_page_start, start, 6, 0, 1000000000)
PAGE_STRING(on_page_cursor, cursor, 7, true)
PAGE_STRING(on_page_cursor_param, cursor_param, 8, false)
PAGE_STRING(on_page_page_param, page_param, 9, false)
PAGE_STRING(on_page_size_param, size_param, 10, false)
PAGE_LONG(on_page_size, size, 11, 1, 100000)
PAGE_LONG(on_page_max_pages, max_pages, 12, 1, 10000000)

static const struct key_rule pagination_rules[] = {
    {"style", true, on_page_style},
    {"next", false, on_page_next},
    {"total", false, on_page_total},
    {"offset_param", false, on_page_offset_param},
    {"limit_param", false, on_page_limit_param},
    {"limit", false, on_page_limit},
    {"start", false, on_page_start},
    {"cursor", false, on_page_cursor},
    {"cursor_param", false, on_page_cursor_param},
    {"page_param", false, on_page_page_param},
    {"size_param", false, on_page_size_param},
    {"size", false, on_page_size},
    {"max_pages", false, on_page_max_pages},
};

/* The keys each style takes besides style, total and max_pages. */
static unsigned style_keys(ferry_page_style style)
{
    switch (style) {
    case FERRY_PAGE_NEXT_LINK:
        return PAGE_KEY(1);
    case FERRY_PAGE_OFFSET:
        return PAGE_KEY(3) | PAGE_KEY(4) | PAGE_KEY(5) | PAGE_KEY(6);
    case FERRY_PAGE_CURSOR:
        return PAGE_KEY(7) | PAGE_KEY(8);
    case FERRY_PAGE_PAGE:
        return PAGE_KEY(6) | PAGE_KEY(9) | PAGE_KEY(10) | PAGE_KEY(11);
    default:
        return 0;
    }
}

static ferry_rc default_string(struct walk *w, char **dst, const char *value)
{
    if (*dst == NULL && (*dst = strdup(value)) == NULL)
        return oom(w);
    return FERRY_OK;
}

static ferry_rc on_pagination(struct walk *w, const struct val *v, void *obj)
{
    struct source_state *st = obj;
    ferry_pagination_spec *p = &st->src->pagination;
    struct page_state ps = {.p = p};
    unsigned allowed;
    ferry_rc rc;

    note_rest(st, v, "pagination");
    p->start = -1;
    rc = walk_mapping(w, v, pagination_rules, NRULES(pagination_rules), &ps);
    if (rc != FERRY_OK)
        return rc;
    allowed = style_keys(p->style) | PAGE_KEY(2) | PAGE_KEY(12);
    for (unsigned bit = 1; bit < NRULES(pagination_rules); bit++) {
        if ((ps.given & PAGE_KEY(bit)) && !(allowed & PAGE_KEY(bit)))
            return fail(w, ps.lines[bit], "'%s' does not go with style %s",
                        pagination_rules[bit].name, style_names[p->style]);
    }
    if (p->style == FERRY_PAGE_PAGE && p->size_param != NULL && p->size == 0)
        return fail(w, v->line, "size_param needs size (the page size to ask for)");
    return FERRY_OK;
}

/* Fills the defaults of the pagination style. */
static ferry_rc pagination_defaults(struct walk *w, ferry_pagination_spec *p)
{
    ferry_rc rc = FERRY_OK;

    if (p->max_pages == 0)
        p->max_pages = DEFAULT_MAX_PAGES;
    switch (p->style) {
    case FERRY_PAGE_NEXT_LINK:
        rc = default_string(w, &p->next, "/links/next");
        break;
    case FERRY_PAGE_OFFSET:
        if (p->limit == 0)
            p->limit = DEFAULT_PAGE_SIZE;
        if (p->start < 0)
            p->start = 0;
        if ((rc = default_string(w, &p->offset_param, "startAt")) == FERRY_OK)
            rc = default_string(w, &p->limit_param, "maxResults");
        break;
    case FERRY_PAGE_CURSOR:
        if ((rc = default_string(w, &p->cursor, "/nextPageToken")) == FERRY_OK)
            rc = default_string(w, &p->cursor_param, "nextPageToken");
        break;
    case FERRY_PAGE_PAGE:
        if (p->start < 0)
            p->start = 1;
        rc = default_string(w, &p->page_param, "page");
        break;
    default:
        break;
    }
    return rc;
}

/* ---- the table ---- */

static const struct key_rule source_rules[] = {
    {"kind", false, on_kind},
    {"url", true, on_url},
    {"timeout", false, on_timeout},
    {"max_field_bytes", false, on_max_field_bytes},
    {"delimiter", false, on_delimiter},
    {"vars", false, on_vars},
    {"method", false, on_method},
    {"headers", false, on_headers},
    {"query", false, on_query},
    {"body", false, on_body},
    {"auth", false, on_auth},
    {"records", false, on_records},
    {"pagination", false, on_pagination},
    {"rate_limit", false, on_rate_limit},
    {"stall_timeout", false, on_stall_timeout},
    {"max_page_bytes", false, on_max_page_bytes},
    {"retries", false, on_retries},
    {"retry_backoff", false, on_retry_backoff},
    {"max_wait", false, on_max_wait},
    {"allow_private", false, on_allow_private},
    {"allow_hosts", false, on_allow_hosts},
    {"max_bytes", false, on_max_bytes},
};

void ferry_config_source_defaults(ferry_source_spec *src)
{
    src->kind = FERRY_SOURCE_CSV;
    src->timeout_ms = DEFAULT_TIMEOUT_MS;
    src->max_field_bytes = DEFAULT_MAX_FIELD_BYTES;
    src->delimiter = ',';
    src->stall_timeout_ms = DEFAULT_STALL_MS;
    src->max_page_bytes = DEFAULT_MAX_PAGE_BYTES;
    src->page_retries = DEFAULT_PAGE_RETRIES;
    src->retry_backoff_ms = DEFAULT_BACKOFF_MS;
    src->max_wait_ms = DEFAULT_MAX_WAIT_MS;
    src->max_bytes = DEFAULT_MAX_BYTES;
}

ferry_rc ferry_config_source_walk(struct walk *w, const struct val *v, struct source_state *st)
{
    st->line = v->line;
    return walk_mapping(w, v, source_rules, NRULES(source_rules), st);
}

/* ---- checks once the sync is known ---- */

struct var_scope {
    const ferry_source_spec *src;
    const char *tenant; /* the tenant variable, or NULL */
};

static const char *lookup_var(void *ctx, const char *name, size_t len)
{
    const struct var_scope *vs = ctx;

    if (vs->tenant != NULL && strlen(vs->tenant) == len && memcmp(vs->tenant, name, len) == 0)
        return "tenant";
    for (size_t i = 0; i < vs->src->nvars; i++)
        if (strlen(vs->src->vars[i].name) == len && memcmp(vs->src->vars[i].name, name, len) == 0)
            return vs->src->vars[i].value;
    return NULL;
}

/* Every placeholder in text must name a variable; key names the key for the message. */
static ferry_rc check_placeholders(struct walk *w, int line, const char *key, const char *text,
                                   const struct var_scope *vs)
{
    size_t pos = 0, len = 0;
    const char *name = NULL;

    while (ferry_template_next(text, &pos, &name, &len)) {
        if (lookup_var((void *)vs, name, len) != NULL)
            continue;
        return fail(w, line, "%s: {%.*s} names no variable (%s)", key, show_len(len), name,
                    vs->tenant != NULL ? "define it under source.vars, or use the tenant's "
                                         "variable"
                                       : "define it under source.vars");
    }
    return FERRY_OK;
}

static ferry_rc check_rest_fields(struct walk *w, ferry_sync_spec *sync)
{
    for (size_t i = 0; i < sync->nfields; i++) {
        ferry_field_spec *f = &sync->fields[i];
        size_t old;
        ferry_rc rc;

        if (f->is_tenant)
            continue;
        old = path_push(w, "fields", 6);
        path_push(w, f->name, strlen(f->name));
        if (f->column_line > 0) {
            rc = fail(w, f->column_line,
                      "column: is for CSV sources; a REST field picks its value with pointer: "
                      "(such as /%s)",
                      f->name);
            path_pop(w, old);
            return rc;
        }
        if (f->pointer == NULL) {
            size_t n = strlen(f->name) + 2;
            if ((f->pointer = malloc(n)) == NULL)
                return oom(w);
            snprintf(f->pointer, n, "/%s", f->name);
        }
        rc = check_pointer(w, f->pointer_line > 0 ? f->pointer_line : f->line, f->pointer);
        path_pop(w, old);
        if (rc != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

static ferry_rc check_csv_fields(struct walk *w, ferry_sync_spec *sync)
{
    for (size_t i = 0; i < sync->nfields; i++) {
        ferry_field_spec *f = &sync->fields[i];
        ferry_rc rc;
        size_t old;

        if (f->pointer_line == 0)
            continue;
        old = path_push(w, "fields", 6);
        path_push(w, f->name, strlen(f->name));
        rc = fail(w, f->pointer_line,
                  "pointer: and join: are for REST sources; a CSV field names its column with "
                  "column:");
        path_pop(w, old);
        return rc;
    }
    return FERRY_OK;
}

ferry_rc ferry_config_source_check(struct walk *w, ferry_sync_spec *sync,
                                   const struct source_state *st)
{
    ferry_source_spec *src = &sync->source;
    struct var_scope vs = {src, sync->tenant_variable};
    size_t old = path_push(w, "source", 6);
    ferry_rc rc = FERRY_OK;

    if (src->kind == FERRY_SOURCE_CSV && st->rest_key != NULL) {
        rc = fail(w, st->rest_line, "'%s' is for REST sources (kind: rest)", st->rest_key);
        goto out;
    }
    if (src->kind == FERRY_SOURCE_REST && st->csv_key != NULL) {
        rc = fail(w, st->csv_line, "'%s' is for CSV sources", st->csv_key);
        goto out;
    }
    if ((rc = check_placeholders(w, st->line, "url", src->url, &vs)) != FERRY_OK)
        goto out;
    if (src->kind == FERRY_SOURCE_CSV) {
        path_pop(w, old);
        return check_csv_fields(w, sync);
    }
    if (strncasecmp(src->url, "http://", 7) != 0 && strncasecmp(src->url, "https://", 8) != 0) {
        rc = fail(w, st->line, "url: a REST source needs an http:// or https:// URL");
        goto out;
    }
    for (size_t i = 0; i < src->nheaders && rc == FERRY_OK; i++)
        rc = check_placeholders(w, st->line, "headers", src->headers[i].value, &vs);
    for (size_t i = 0; i < src->nquery && rc == FERRY_OK; i++)
        rc = check_placeholders(w, st->line, "query", src->query[i].value, &vs);
    if (rc == FERRY_OK && src->body != NULL)
        rc = check_placeholders(w, st->line, "body", src->body, &vs);
    {
        const char *names[] = {src->auth.user.env, src->auth.user.file, src->auth.secret.env,
                               src->auth.secret.file};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && rc == FERRY_OK; i++)
            if (names[i] != NULL)
                rc = check_placeholders(w, st->line, "auth", names[i], &vs);
    }
    if (rc == FERRY_OK && src->method == NULL)
        rc = default_string(w, &src->method, "GET");
    if (rc == FERRY_OK && src->records == NULL)
        rc = default_string(w, &src->records, "");
    if (rc == FERRY_OK)
        rc = pagination_defaults(w, &src->pagination);
    if (rc != FERRY_OK)
        goto out;
    path_pop(w, old);
    return check_rest_fields(w, sync);
out:
    path_pop(w, old);
    return rc;
}

static void pairs_free(ferry_pair *p, size_t n)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i <= n; i++) { /* one past n: a pair half-filled when a walk failed */
        free(p[i].name);
        free(p[i].value);
    }
    free(p);
}

static void secret_ref_done(ferry_secret_ref *r)
{
    free(r->literal);
    free(r->env);
    free(r->file);
}

void ferry_config_source_done(ferry_source_spec *src)
{
    ferry_pagination_spec *p = &src->pagination;

    free(src->url);
    free(src->method);
    pairs_free(src->headers, src->nheaders);
    pairs_free(src->query, src->nquery);
    pairs_free(src->vars, src->nvars);
    free(src->body);
    secret_ref_done(&src->auth.user);
    secret_ref_done(&src->auth.secret);
    free(src->auth.header);
    free(src->records);
    free(p->next);
    free(p->total);
    free(p->offset_param);
    free(p->limit_param);
    free(p->cursor);
    free(p->cursor_param);
    free(p->page_param);
    free(p->size_param);
    free(src->rate_limit);
    free_strv(src->allow_hosts, src->nallow_hosts);
    free(src->files_dir);
}
