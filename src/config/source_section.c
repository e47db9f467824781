/* source_section.c - the source: key of a sync (docs/sources.md): CSV and REST sources.
 *
 * One table of key rows (source_rules) serves both kinds, since the kind may come after the
 * keys that depend on it. Rows that only one kind takes carry FERRY_KEY_REST or
 * FERRY_KEY_CSV; ferry_config_source_check(), run once the whole sync is walked, rejects the
 * first key given of the other kind, fills the defaults that depend on the kind, compiles
 * every JSON pointer once (so a bad pointer is a config error, not a failed run) and checks
 * that every {placeholder} names a variable (vars: or the tenant's).
 *
 * Secrets are never read here: auth: names where they live (an environment variable or a
 * file) and the source reads them when a run starts. A literal password, token or key is a
 * config error, so it cannot end up in a file that is committed or shown. */
#include "config/source_section.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/ratelimit.h"
#include "util/template.h"

#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_MAX_FIELD_BYTES (1024L * 1024)
#define DEFAULT_STALL_MS 30000L
#define DEFAULT_MAX_PAGE_BYTES (16L * 1024 * 1024)
#define DEFAULT_PAGE_RETRIES 4
#define DEFAULT_BACKOFF_MS 1000L
#define DEFAULT_MAX_WAIT_MS (15L * 60 * 1000)
#define DEFAULT_MAX_BYTES (1024L * 1024 * 1024)
#define MAX_BYTES_LIMIT (1024L * 1024 * 1024 * 1024)
#define MAX_SIZE_LIMIT (256L * 1024 * 1024) /* the other sizes' */
#define DEFAULT_PAGE_SIZE 100
#define DEFAULT_MAX_PAGES 100000
#define PAIRS_MAX 64

#define SRC(member) offsetof(ferry_source_spec, member)
#define AUTH(member) offsetof(ferry_auth_spec, member)
#define PAGE(member) offsetof(ferry_pagination_spec, member)
#define INCR(member) offsetof(ferry_incremental_spec, member)

static const char *const kind_names[] = {
    [FERRY_SOURCE_CSV] = "csv",
    [FERRY_SOURCE_REST] = "rest",
};

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
    return (size_t)style < NITEMS(style_names) ? style_names[style] : "?";
}

/* ---- keys both kinds take ---- */

/* A url as written: a path, or a file://, http:// or https:// URL. Returns NULL when fine,
 * else a message. */
static const char *url_problem(const char *url, char *buf, size_t bufsize)
{
    const char *p = url;
    size_t scheme_len;

    if (!ferry_config_is_alpha(*p))
        return NULL;
    while (ferry_config_is_alpha(*p) || ferry_config_is_digit(*p) || *p == '+' || *p == '-' ||
           *p == '.')
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
             ferry_config_show_len(scheme_len), url);
    return buf;
}

static ferry_rc check_url(struct walk *w, const struct val *v, const struct key_rule *rule,
                          void *obj, void *data)
{
    ferry_source_spec *src = data;
    char buf[256];
    const char *problem = url_problem(src->url, buf, sizeof(buf));

    (void)rule;
    (void)obj;
    return problem != NULL ? ferry_config_fail(w, v->line, "%s", problem) : FERRY_OK;
}

/* ---- CSV keys ---- */

static ferry_rc on_delimiter(struct walk *w, const struct val *v, const struct key_rule *rule,
                             void *obj, void *data)
{
    ferry_source_spec *src = data;
    const char *s = NULL;
    size_t len = 0;
    ferry_rc rc = ferry_config_scalar_get(w, v, &s, &len);

    (void)rule;
    (void)obj;
    if (rc != FERRY_OK)
        return rc;
    if (len != 1)
        return ferry_config_fail(
            w, v->line, "expected a single character such as ',', ';' or \"\\t\", not '%.*s'",
            ferry_config_show_len(len), s);
    if (s[0] == '"' || s[0] == '\r' || s[0] == '\n')
        return ferry_config_fail(w, v->line, "the delimiter cannot be a double quote, CR or LF");
    src->delimiter = s[0];
    return FERRY_OK;
}

/* ---- REST keys ---- */

static ferry_rc on_method(struct walk *w, const struct val *v, const struct key_rule *rule,
                          void *obj, void *data)
{
    ferry_source_spec *src = data;
    const char *s = NULL;
    size_t len = 0;
    ferry_rc rc = ferry_config_scalar_get(w, v, &s, &len);

    (void)rule;
    (void)obj;
    if (rc != FERRY_OK)
        return rc;
    free(src->method);
    if (len == 3 && strncasecmp(s, "GET", 3) == 0)
        src->method = strdup("GET");
    else if (len == 4 && strncasecmp(s, "POST", 4) == 0)
        src->method = strdup("POST");
    else
        return ferry_config_fail(w, v->line, "expected GET or POST, not '%.*s'",
                                 ferry_config_show_len(len), s);
    return src->method != NULL ? FERRY_OK : ferry_config_oom(w);
}

struct pairs {
    ferry_pair *items;
    size_t n;
    const char *what; /* "header", "query parameter", "variable", "column" */
};

static bool is_header_name(const char *s)
{
    static const char specials[] = "!#$%&'*+-.^_`|~";

    if (s[0] == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!ferry_config_is_alpha(*s) && !ferry_config_is_digit(*s) &&
            strchr(specials, *s) == NULL)
            return false;
    return true;
}

static ferry_rc on_pair(struct walk *w, const char *name, int line, const struct val *v, void *obj)
{
    struct pairs *p = obj;
    ferry_pair *pair = &p->items[p->n];
    ferry_rc rc;

    if ((strcmp(p->what, "variable") == 0 || strcmp(p->what, "column") == 0) &&
        !ferry_config_is_identifier(name))
        return ferry_config_fail(
            w, line, "a %s name is letters, digits and '_', not starting with a digit", p->what);
    if (strcmp(p->what, "header") == 0) {
        if (!is_header_name(name))
            return ferry_config_fail(w, line, "'%.*s' is not a header name",
                                     ferry_config_show_len(strlen(name)), name);
        if (strcasecmp(name, "Authorization") == 0 || strcasecmp(name, "Cookie") == 0)
            return ferry_config_fail(
                w, line,
                "credentials do not belong in headers: use auth: (type basic, bearer or "
                "header), which reads them from the environment or a file");
    }
    if (v->node == NULL || ferry_config_is_null(v->node))
        return ferry_config_fail(w, v->line, "expected a value");
    if ((rc = ferry_config_scalar_load(w, v, &pair->value)) != FERRY_OK)
        return rc;
    if (strpbrk(pair->value, "\r\n") != NULL)
        return ferry_config_fail(w, v->line, "a %s value cannot hold a line break", p->what);
    if ((pair->name = strdup(name)) == NULL)
        return ferry_config_oom(w);
    p->n++;
    return FERRY_OK;
}

ferry_rc ferry_config_pairs_get(struct walk *w, const struct val *v, const char *what,
                                ferry_pair **items, size_t *n)
{
    struct pairs p = {NULL, 0, what};
    size_t count = 0;
    ferry_rc rc = ferry_config_mapping_count(w, v, &count);

    if (rc != FERRY_OK)
        return rc;
    if (count > PAIRS_MAX)
        return ferry_config_fail(w, v->line, "at most %d entries", PAIRS_MAX);
    if (*items != NULL)
        return ferry_config_fail(w, v->line, "given twice");
    p.items = calloc(count + 1, sizeof(*p.items));
    if (p.items == NULL)
        return ferry_config_oom(w);
    rc = ferry_config_entries_walk(w, v, on_pair, &p);
    *items = p.items; /* freed with the spec, complete or not */
    *n = p.n;
    return rc;
}

/* headers:, query: and vars: (what says which: "header", "query parameter", "variable"). */
static ferry_rc on_pairs(struct walk *w, const struct val *v, const struct key_rule *rule,
                         void *obj, void *data)
{
    (void)obj;
    return ferry_config_pairs_get(w, v, rule->what,
                                  FERRY_KEY_MEMBER(ferry_pair *, data, rule->offset),
                                  FERRY_KEY_MEMBER(size_t, data, rule->count_offset));
}

static ferry_rc on_rate_limit(struct walk *w, const struct val *v, const struct key_rule *rule,
                              void *obj, void *data)
{
    ferry_source_spec *src = data;
    char *s = NULL;
    ferry_rc rc = ferry_config_scalar_load(w, v, &s);

    (void)rule;
    (void)obj;
    if (rc != FERRY_OK)
        return rc;
    if (!ferry_rate_parse(s, &src->rate_per_s)) {
        rc = ferry_config_fail(w, v->line,
                               "expected a rate such as 200/min, 5/s or 1000/h, not '%.*s'",
                               ferry_config_show_len(strlen(s)), s);
        free(s);
        return rc;
    }
    free(src->rate_limit);
    src->rate_limit = s;
    return FERRY_OK;
}

/* ---- source.auth ---- */

static const char *const auth_types[] = {
    [FERRY_AUTH_NONE] = "none",
    [FERRY_AUTH_BASIC] = "basic",
    [FERRY_AUTH_BEARER] = "bearer",
    [FERRY_AUTH_HEADER] = "header",
};

/* password_env, token_env, key_env and their _file twins: one secret, given once. */
static ferry_rc on_auth_secret(struct walk *w, const struct val *v, const struct key_rule *rule,
                               void *obj, void *data)
{
    ferry_auth_spec *a = data;

    (void)obj;
    if (a->secret.env != NULL || a->secret.file != NULL)
        return ferry_config_fail(w, v->line, "the secret is given twice");
    return ferry_config_string_set(w, v, FERRY_KEY_MEMBER(char *, data, rule->offset));
}

/* A secret written in the config. rule->what names the keys to use instead (NULL: those of
 * type:). */
static ferry_rc on_auth_literal_secret(struct walk *w, const struct val *v,
                                       const struct key_rule *rule, void *obj, void *data)
{
    (void)obj;
    (void)data;
    return ferry_config_fail(w, v->line, "secrets are not written in the config: name %s",
                             rule->what != NULL
                                 ? rule->what
                                 : "an environment variable (password_env, token_env, key_env) "
                                   "or a file (password_file, token_file, key_file) that holds it");
}

#define OAUTH2_SECRET_KEYS                                                                         \
    "an environment variable (client_secret_env, refresh_token_env) or a file "                    \
    "(client_secret_file, refresh_token_file) that holds it"

static const struct key_rule google_sa_rules[] = {
    {"key_env", FERRY_KEY_CUSTOM, .offset = AUTH(secret.env), .fn = on_auth_secret},
    {"key_file", FERRY_KEY_CUSTOM, .offset = AUTH(secret.file), .fn = on_auth_secret},
    {"scope", FERRY_KEY_STRING, .offset = AUTH(scope)},
    {"key", FERRY_KEY_CUSTOM, .fn = on_auth_literal_secret},
};

/* google_service_account: { key_file | key_env, scope }: instead of type:. */
static ferry_rc on_google_sa(struct walk *w, const struct val *v, const struct key_rule *rule,
                             void *obj, void *data)
{
    ferry_auth_spec *a = data;
    ferry_rc rc;

    (void)rule;
    if (a->type != FERRY_AUTH_NONE)
        return ferry_config_fail(w, v->line, "google_service_account does not go with type %s",
                                 auth_types[a->type]);
    rc = ferry_config_table_walk(w, v, google_sa_rules, NITEMS(google_sa_rules), obj, a, NULL);
    if (rc != FERRY_OK)
        return rc;
    if (a->secret.env == NULL && a->secret.file == NULL)
        return ferry_config_fail(w, v->line,
                                 "google_service_account needs key_file or key_env (the "
                                 "service account's JSON key)");
    a->type = FERRY_AUTH_GOOGLE_SA;
    return FERRY_OK;
}

static const char *const oauth2_grants[] = {
    [FERRY_OAUTH2_CLIENT_CREDENTIALS] = "client_credentials",
    [FERRY_OAUTH2_REFRESH_TOKEN] = "refresh_token",
};

static const char *const oauth2_client_auths[] = {
    [FERRY_OAUTH2_AUTH_BASIC] = "basic",
    [FERRY_OAUTH2_AUTH_BODY] = "body",
};

static ferry_rc on_oauth2_refresh(struct walk *w, const struct val *v, const struct key_rule *rule,
                                  void *obj, void *data)
{
    ferry_auth_spec *a = data;

    (void)obj;
    if (a->oauth2.refresh.env != NULL || a->oauth2.refresh.file != NULL)
        return ferry_config_fail(w, v->line, "the refresh token is given twice");
    return ferry_config_string_set(w, v, FERRY_KEY_MEMBER(char *, data, rule->offset));
}

static const struct key_rule oauth2_rules[] = {
    {"token_url", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = AUTH(oauth2.token_url)},
    {"client_id", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = AUTH(oauth2.client_id)},
    {"client_secret_env", FERRY_KEY_CUSTOM, .offset = AUTH(secret.env), .fn = on_auth_secret},
    {"client_secret_file", FERRY_KEY_CUSTOM, .offset = AUTH(secret.file), .fn = on_auth_secret},
    {"scope", FERRY_KEY_STRING, .offset = AUTH(scope)},
    {"grant", FERRY_KEY_ENUM, .offset = AUTH(oauth2.grant), .what = "grant", .names = oauth2_grants,
     .nnames = NITEMS(oauth2_grants)},
    {"client_auth", FERRY_KEY_ENUM, .offset = AUTH(oauth2.client_auth), .what = "client_auth",
     .names = oauth2_client_auths, .nnames = NITEMS(oauth2_client_auths)},
    {"refresh_token_env", FERRY_KEY_CUSTOM, .offset = AUTH(oauth2.refresh.env),
     .fn = on_oauth2_refresh},
    {"refresh_token_file", FERRY_KEY_CUSTOM, .offset = AUTH(oauth2.refresh.file),
     .fn = on_oauth2_refresh},
    {"client_secret", FERRY_KEY_CUSTOM, .fn = on_auth_literal_secret, .what = OAUTH2_SECRET_KEYS},
    {"refresh_token", FERRY_KEY_CUSTOM, .fn = on_auth_literal_secret, .what = OAUTH2_SECRET_KEYS},
};

/* oauth2: { token_url, client_id, client_secret_env | client_secret_file, scope, grant,
 * client_auth, refresh_token_env | refresh_token_file }: instead of type:. */
static ferry_rc on_oauth2(struct walk *w, const struct val *v, const struct key_rule *rule,
                          void *obj, void *data)
{
    ferry_auth_spec *a = data;
    const ferry_oauth2_spec *o = &a->oauth2;
    bool refresh;
    ferry_rc rc;

    (void)rule;
    if (a->type != FERRY_AUTH_NONE)
        return ferry_config_fail(w, v->line, "oauth2 does not go with %s",
                                 a->type == FERRY_AUTH_GOOGLE_SA ? "google_service_account"
                                                                 : auth_types[a->type]);
    rc = ferry_config_table_walk(w, v, oauth2_rules, NITEMS(oauth2_rules), obj, a, NULL);
    if (rc != FERRY_OK)
        return rc;
    if (strncasecmp(o->token_url, "http://", 7) != 0 &&
        strncasecmp(o->token_url, "https://", 8) != 0)
        return ferry_config_fail(w, v->line, "oauth2: token_url needs an http:// or https:// URL");
    refresh = o->refresh.env != NULL || o->refresh.file != NULL;
    if (o->grant == FERRY_OAUTH2_REFRESH_TOKEN && !refresh)
        return ferry_config_fail(w, v->line,
                                 "oauth2: grant refresh_token needs refresh_token_env or "
                                 "refresh_token_file (the refresh token the API gave when Ferry "
                                 "was authorized)");
    if (o->grant == FERRY_OAUTH2_CLIENT_CREDENTIALS && refresh)
        return ferry_config_fail(w, v->line,
                                 "oauth2: a refresh token goes with grant: refresh_token");
    if (o->grant == FERRY_OAUTH2_CLIENT_CREDENTIALS && a->secret.env == NULL &&
        a->secret.file == NULL)
        return ferry_config_fail(w, v->line,
                                 "oauth2: grant client_credentials needs client_secret_env or "
                                 "client_secret_file");
    a->type = FERRY_AUTH_OAUTH2;
    return FERRY_OK;
}

static ferry_rc check_header_name(struct walk *w, const struct val *v, const struct key_rule *rule,
                                  void *obj, void *data)
{
    ferry_auth_spec *a = data;

    (void)rule;
    (void)obj;
    if (!is_header_name(a->header))
        return ferry_config_fail(w, v->line, "'%.*s' is not a header name",
                                 ferry_config_show_len(strlen(a->header)), a->header);
    return FERRY_OK;
}

static const struct key_rule auth_rules[] = {
    {"type", FERRY_KEY_ENUM, .offset = AUTH(type), .min = 1, .what = "auth type",
     .names = auth_types, .nnames = NITEMS(auth_types)},
    {"user", FERRY_KEY_STRING, .offset = AUTH(user.literal)},
    {"user_env", FERRY_KEY_STRING, .offset = AUTH(user.env)},
    {"user_file", FERRY_KEY_STRING, .offset = AUTH(user.file)},
    {"password_env", FERRY_KEY_CUSTOM, .offset = AUTH(secret.env), .fn = on_auth_secret},
    {"password_file", FERRY_KEY_CUSTOM, .offset = AUTH(secret.file), .fn = on_auth_secret},
    {"token_env", FERRY_KEY_CUSTOM, .offset = AUTH(secret.env), .fn = on_auth_secret},
    {"token_file", FERRY_KEY_CUSTOM, .offset = AUTH(secret.file), .fn = on_auth_secret},
    {"key_env", FERRY_KEY_CUSTOM, .offset = AUTH(secret.env), .fn = on_auth_secret},
    {"key_file", FERRY_KEY_CUSTOM, .offset = AUTH(secret.file), .fn = on_auth_secret},
    {"header", FERRY_KEY_STRING, .offset = AUTH(header), .fn = check_header_name},
    {"password", FERRY_KEY_CUSTOM, .fn = on_auth_literal_secret},
    {"token", FERRY_KEY_CUSTOM, .fn = on_auth_literal_secret},
    {"key", FERRY_KEY_CUSTOM, .fn = on_auth_literal_secret},
    {"google_service_account", FERRY_KEY_CUSTOM, .fn = on_google_sa},
    {"oauth2", FERRY_KEY_CUSTOM, .fn = on_oauth2},
};

/* Which keys each type takes: the secret's prefix, and the other keys allowed. */
static ferry_rc check_auth(struct walk *w, const struct val *v, ferry_auth_spec *a)
{
    struct fy_node_pair *pair;
    void *it = NULL;
    const char *prefix = a->type == FERRY_AUTH_BASIC    ? "password_"
                         : a->type == FERRY_AUTH_BEARER ? "token_"
                                                        : "key_";

    if (a->type == FERRY_AUTH_NONE)
        return ferry_config_fail(
            w, v->line,
            "auth needs type: (basic, bearer, header), google_service_account: or oauth2:");
    while ((pair = fy_node_mapping_iterate(v->node, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair);
        size_t len = 0;
        const char *name = fy_node_get_scalar(k, &len);
        struct val kv = ferry_config_val_of(k, v->line);
        bool user = len >= 4 && strncmp(name, "user", 4) == 0;
        bool secret = memchr(name, '_', len) != NULL && !user;

        if (len == 4 && strncmp(name, "type", 4) == 0)
            continue;
        if (a->type == FERRY_AUTH_GOOGLE_SA || a->type == FERRY_AUTH_OAUTH2) {
            const char *only =
                a->type == FERRY_AUTH_GOOGLE_SA ? "google_service_account" : "oauth2";
            if (len == strlen(only) && strncmp(name, only, len) == 0)
                continue;
            return ferry_config_fail(w, kv.line, "'%.*s' does not go with %s",
                                     ferry_config_show_len(len), name, only);
        }
        if ((user && a->type != FERRY_AUTH_BASIC) ||
            (secret && strncmp(name, prefix, strlen(prefix)) != 0) ||
            (len == 6 && strncmp(name, "header", 6) == 0 && a->type != FERRY_AUTH_HEADER))
            return ferry_config_fail(w, kv.line, "'%.*s' does not go with type %s",
                                     ferry_config_show_len(len), name, auth_types[a->type]);
    }
    if (a->type == FERRY_AUTH_GOOGLE_SA || a->type == FERRY_AUTH_OAUTH2)
        return FERRY_OK;
    if (a->type == FERRY_AUTH_BASIC) {
        int users = (a->user.literal != NULL) + (a->user.env != NULL) + (a->user.file != NULL);
        if (users != 1)
            return ferry_config_fail(w, v->line,
                                     "type basic needs exactly one of user, user_env, user_file");
        return FERRY_OK;
    }
    if (a->secret.env == NULL && a->secret.file == NULL)
        return ferry_config_fail(w, v->line, "type %s needs %senv or %sfile", auth_types[a->type],
                                 prefix, prefix);
    if (a->type == FERRY_AUTH_HEADER && a->header == NULL)
        return ferry_config_fail(
            w, v->line, "type header needs header: (the header's name, such as X-API-Key)");
    if (a->type == FERRY_AUTH_HEADER &&
        (strcasecmp(a->header, "Cookie") == 0 || strcasecmp(a->header, "Host") == 0))
        return ferry_config_fail(w, v->line, "header: cannot be %s", a->header);
    return FERRY_OK;
}

static ferry_rc on_auth(struct walk *w, const struct val *v, const struct key_rule *rule, void *obj,
                        void *data)
{
    ferry_source_spec *src = data;
    ferry_rc rc;

    (void)rule;
    rc = ferry_config_table_walk(w, v, auth_rules, NITEMS(auth_rules), obj, &src->auth, NULL);
    return rc == FERRY_OK ? check_auth(w, v, &src->auth) : rc;
}

/* ---- source.pagination ---- */

#define PAGE_KEY(row) ((uint64_t)1 << (row))

/* Row numbers follow the rows; style_keys() names the rows each style takes. */
static const struct key_rule pagination_rules[] = {
    {"style", FERRY_KEY_ENUM, .flags = FERRY_KEY_REQUIRED, .offset = PAGE(style), .what = "style",
     .names = style_names, .nnames = NITEMS(style_names)},
    {"next", FERRY_KEY_POINTER, .offset = PAGE(next)},                                   /* 1 */
    {"total", FERRY_KEY_POINTER, .offset = PAGE(total)},                                 /* 2 */
    {"offset_param", FERRY_KEY_STRING, .offset = PAGE(offset_param)},                    /* 3 */
    {"limit_param", FERRY_KEY_STRING, .offset = PAGE(limit_param)},                      /* 4 */
    {"limit", FERRY_KEY_LONG, .offset = PAGE(limit), .min = 1, .max = 100000},           /* 5 */
    {"start", FERRY_KEY_LONG, .offset = PAGE(start), .min = 0, .max = 1000000000},       /* 6 */
    {"cursor", FERRY_KEY_POINTER, .offset = PAGE(cursor)},                               /* 7 */
    {"cursor_param", FERRY_KEY_STRING, .offset = PAGE(cursor_param)},                    /* 8 */
    {"page_param", FERRY_KEY_STRING, .offset = PAGE(page_param)},                        /* 9 */
    {"size_param", FERRY_KEY_STRING, .offset = PAGE(size_param)},                        /* 10 */
    {"size", FERRY_KEY_LONG, .offset = PAGE(size), .min = 1, .max = 100000},             /* 11 */
    {"max_pages", FERRY_KEY_LONG, .offset = PAGE(max_pages), .min = 1, .max = 10000000}, /* 12 */
};

/* The keys each style takes besides style, total and max_pages. */
static uint64_t style_keys(ferry_page_style style)
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
        return ferry_config_oom(w);
    return FERRY_OK;
}

static ferry_rc on_pagination(struct walk *w, const struct val *v, const struct key_rule *rule,
                              void *obj, void *data)
{
    ferry_pagination_spec *p = &((ferry_source_spec *)data)->pagination;
    struct key_seen seen;
    uint64_t allowed;
    ferry_rc rc;

    (void)rule;
    p->start = -1;
    rc = ferry_config_table_walk(w, v, pagination_rules, NITEMS(pagination_rules), obj, p, &seen);
    if (rc != FERRY_OK)
        return rc;
    allowed = style_keys(p->style) | PAGE_KEY(2) | PAGE_KEY(12);
    for (unsigned row = 1; row < NITEMS(pagination_rules); row++) {
        if ((seen.given & PAGE_KEY(row)) && !(allowed & PAGE_KEY(row)))
            return ferry_config_fail(w, seen.vals[row].line, "'%s' does not go with style %s",
                                     pagination_rules[row].name, style_names[p->style]);
    }
    if (p->style == FERRY_PAGE_PAGE && p->size_param != NULL && p->size == 0)
        return ferry_config_fail(w, v->line, "size_param needs size (the page size to ask for)");
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

/* ---- source.incremental ---- */

static const char *const since_formats[] = {
    [FERRY_SINCE_ISO] = "iso",
    [FERRY_SINCE_EPOCH] = "epoch",
};

static const struct key_rule incremental_rules[] = {
    {"cursor", FERRY_KEY_POINTER, .flags = FERRY_KEY_REQUIRED, .offset = INCR(cursor)},
    {"param", FERRY_KEY_STRING, .offset = INCR(param)},
    {"overlap", FERRY_KEY_DURATION, .flags = FERRY_KEY_ZERO_OK, .offset = INCR(overlap_ms),
     .min = 1000, .max = 30L * 86400 * 1000},
    {"full_every", FERRY_KEY_DURATION, .flags = FERRY_KEY_ZERO_OK, .offset = INCR(full_every_ms),
     .min = 60L * 1000, .max = 3650L * 86400 * 1000},
    {"format", FERRY_KEY_ENUM, .offset = INCR(format), .what = "format", .names = since_formats,
     .nnames = NITEMS(since_formats)},
};

/* incremental: { cursor, param, overlap, full_every, format }; whether the since value has
 * somewhere to go is checked with the url and the query (ferry_config_source_check()). */
static ferry_rc on_incremental(struct walk *w, const struct val *v, const struct key_rule *rule,
                               void *obj, void *data)
{
    ferry_incremental_spec *inc = &((ferry_source_spec *)data)->incremental;

    (void)rule;
    inc->line = v->line;
    return ferry_config_table_walk(w, v, incremental_rules, NITEMS(incremental_rules), obj, inc,
                                   NULL);
}

/* ---- the table ---- */

static const struct key_rule source_rules[] = {
    {"kind", FERRY_KEY_ENUM, .offset = SRC(kind), .what = "source kind", .names = kind_names,
     .nnames = NITEMS(kind_names)},
    {"url", FERRY_KEY_STRING, .flags = FERRY_KEY_REQUIRED, .offset = SRC(url), .fn = check_url},
    {"timeout", FERRY_KEY_DURATION, .offset = SRC(timeout_ms), .def = DEFAULT_TIMEOUT_MS},
    {"max_field_bytes", FERRY_KEY_SIZE, .flags = FERRY_KEY_CSV, .offset = SRC(max_field_bytes),
     .max = MAX_SIZE_LIMIT, .what = "256MiB", .def = DEFAULT_MAX_FIELD_BYTES},
    {"delimiter", FERRY_KEY_CUSTOM, .flags = FERRY_KEY_CSV, .fn = on_delimiter},
    {"vars", FERRY_KEY_CUSTOM, .offset = SRC(vars), .count_offset = SRC(nvars), .what = "variable",
     .fn = on_pairs},
    {"method", FERRY_KEY_CUSTOM, .flags = FERRY_KEY_REST, .fn = on_method},
    {"headers", FERRY_KEY_CUSTOM, .flags = FERRY_KEY_REST, .offset = SRC(headers),
     .count_offset = SRC(nheaders), .what = "header", .fn = on_pairs},
    {"query", FERRY_KEY_CUSTOM, .flags = FERRY_KEY_REST, .offset = SRC(query),
     .count_offset = SRC(nquery), .what = "query parameter", .fn = on_pairs},
    {"body", FERRY_KEY_TEXT, .flags = FERRY_KEY_REST, .offset = SRC(body)},
    {"auth", FERRY_KEY_CUSTOM, .fn = on_auth},
    {"records", FERRY_KEY_POINTER, .flags = FERRY_KEY_REST, .offset = SRC(records)},
    {"pagination", FERRY_KEY_CUSTOM, .flags = FERRY_KEY_REST, .fn = on_pagination},
    {"rate_limit", FERRY_KEY_CUSTOM, .flags = FERRY_KEY_REST, .fn = on_rate_limit},
    {"stall_timeout", FERRY_KEY_DURATION, .flags = FERRY_KEY_REST, .offset = SRC(stall_timeout_ms),
     .min = 1000, .max = 3600L * 1000, .def = DEFAULT_STALL_MS},
    {"max_page_bytes", FERRY_KEY_SIZE, .flags = FERRY_KEY_REST, .offset = SRC(max_page_bytes),
     .max = MAX_SIZE_LIMIT, .what = "256MiB", .def = DEFAULT_MAX_PAGE_BYTES},
    {"retries", FERRY_KEY_INT, .flags = FERRY_KEY_REST, .offset = SRC(page_retries), .min = 0,
     .max = 10, .def = DEFAULT_PAGE_RETRIES},
    {"retry_backoff", FERRY_KEY_DURATION, .flags = FERRY_KEY_REST, .offset = SRC(retry_backoff_ms),
     .min = 1, .max = 60L * 1000, .def = DEFAULT_BACKOFF_MS},
    {"max_wait", FERRY_KEY_DURATION, .flags = FERRY_KEY_REST, .offset = SRC(max_wait_ms),
     .min = 1000, .max = 86400L * 1000, .def = DEFAULT_MAX_WAIT_MS},
    {"incremental", FERRY_KEY_CUSTOM, .flags = FERRY_KEY_REST, .fn = on_incremental},
    {"allow_private", FERRY_KEY_BOOL, .offset = SRC(allow_private)},
    {"allow_hosts", FERRY_KEY_STRINGS, .flags = FERRY_KEY_ONE_OK | FERRY_KEY_NOCASE,
     .offset = SRC(allow_hosts), .count_offset = SRC(nallow_hosts), .fn = ferry_config_hosts_check},
    {"max_bytes", FERRY_KEY_SIZE, .flags = FERRY_KEY_CSV, .offset = SRC(max_bytes),
     .max = MAX_BYTES_LIMIT, .what = "1TiB", .def = DEFAULT_MAX_BYTES},
};

void ferry_config_source_defaults(ferry_source_spec *src)
{
    (void)ferry_config_table_defaults(source_rules, NITEMS(source_rules), src); /* no strings */
    src->delimiter = ',';
}

ferry_rc ferry_config_source_walk(struct walk *w, const struct val *v, struct source_state *st)
{
    st->line = v->line;
    return ferry_config_table_walk(w, v, source_rules, NITEMS(source_rules), st, st->src,
                                   &st->seen);
}

/* ---- checks once the sync is known ---- */

struct var_scope {
    const ferry_source_spec *src;
    const char *tenant; /* the tenant variable, or NULL */
    bool since;         /* {since} names the since value (incremental:) */
};

static const char *lookup_var(void *ctx, const char *name, size_t len)
{
    const struct var_scope *vs = ctx;

    if (vs->since && len == 5 && memcmp(name, "since", 5) == 0)
        return "since";
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
        return ferry_config_fail(
            w, line, "%s: {%.*s} names no variable (%s)", key, ferry_config_show_len(len), name,
            len == 5 && memcmp(name, "since", 5) == 0
                ? "{since} is for incremental sources: add incremental: with a cursor"
            : vs->tenant != NULL ? "define it under source.vars, or use the tenant's "
                                   "variable"
                                 : "define it under source.vars");
    }
    return FERRY_OK;
}

/* Whether text holds the placeholder {since}. */
static bool has_since(const char *text)
{
    size_t pos = 0, len = 0;
    const char *name = NULL;

    while (text != NULL && ferry_template_next(text, &pos, &name, &len))
        if (len == 5 && memcmp(name, "since", 5) == 0)
            return true;
    return false;
}

/* incremental: needs somewhere to send the since value: param, or {since} in the url or a
 * query value. */
static ferry_rc check_incremental(struct walk *w, const ferry_source_spec *src)
{
    bool placed = has_since(src->url);
    size_t old;
    ferry_rc rc;

    for (size_t i = 0; i < src->nquery && !placed; i++)
        placed = has_since(src->query[i].value);
    if (src->incremental.param != NULL || placed)
        return FERRY_OK;
    old = ferry_config_path_push(w, "incremental", 11);
    rc = ferry_config_fail(w, src->incremental.line,
                           "needs param: (the query parameter the since value goes in, such as "
                           "updated_since) or {since} in the url or a query value");
    ferry_config_path_pop(w, old);
    return rc;
}

static ferry_rc check_rest_fields(struct walk *w, ferry_sync_spec *sync)
{
    for (size_t i = 0; i < sync->nfields; i++) {
        ferry_field_spec *f = &sync->fields[i];
        size_t old;
        ferry_rc rc;

        if (f->filled)
            continue;
        old = ferry_config_path_push(w, "fields", 6);
        ferry_config_path_push(w, f->name, strlen(f->name));
        if (f->column_line > 0) {
            rc = ferry_config_fail(
                w, f->column_line,
                "column: is for CSV sources; a REST field picks its value with pointer: "
                "(such as /%s)",
                f->name);
            ferry_config_path_pop(w, old);
            return rc;
        }
        if (f->pointer == NULL) {
            size_t n = strlen(f->name) + 2;
            if ((f->pointer = malloc(n)) == NULL)
                return ferry_config_oom(w);
            snprintf(f->pointer, n, "/%s", f->name);
        }
        rc = ferry_config_pointer_check(w, f->pointer_line > 0 ? f->pointer_line : f->line,
                                        f->pointer);
        ferry_config_path_pop(w, old);
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
        old = ferry_config_path_push(w, "fields", 6);
        ferry_config_path_push(w, f->name, strlen(f->name));
        rc = ferry_config_fail(
            w, f->pointer_line,
            "pointer: and join: are for REST sources; a CSV field names its column with "
            "column:");
        ferry_config_path_pop(w, old);
        return rc;
    }
    return FERRY_OK;
}

ferry_rc ferry_config_source_check(struct walk *w, ferry_sync_spec *sync,
                                   const struct source_state *st)
{
    ferry_source_spec *src = &sync->source;
    struct var_scope vs = {src, sync->tenant_variable, src->incremental.cursor != NULL};
    size_t old = ferry_config_path_push(w, "source", 6);
    long rest = ferry_config_seen_first(&st->seen, source_rules, FERRY_KEY_REST);
    long csv = ferry_config_seen_first(&st->seen, source_rules, FERRY_KEY_CSV);
    ferry_rc rc = FERRY_OK;

    if (src->kind == FERRY_SOURCE_CSV && rest >= 0) {
        rc = ferry_config_fail(w, st->seen.vals[rest].line, "'%s' is for REST sources (kind: rest)",
                               source_rules[rest].name);
        goto out;
    }
    if (src->kind == FERRY_SOURCE_REST && csv >= 0) {
        rc = ferry_config_fail(w, st->seen.vals[csv].line, "'%s' is for CSV sources",
                               source_rules[csv].name);
        goto out;
    }
    if ((rc = check_placeholders(w, st->line, "url", src->url, &vs)) != FERRY_OK)
        goto out;
    if (src->kind == FERRY_SOURCE_CSV && src->auth.type != FERRY_AUTH_NONE &&
        src->auth.type != FERRY_AUTH_GOOGLE_SA) {
        rc = ferry_config_fail(w, st->line,
                               "auth: a CSV source takes only google_service_account (other "
                               "kinds of auth are for REST sources, kind: rest)");
        goto out;
    }
    if (src->kind == FERRY_SOURCE_CSV && src->auth.type == FERRY_AUTH_GOOGLE_SA &&
        strncasecmp(src->url, "http://", 7) != 0 && strncasecmp(src->url, "https://", 8) != 0) {
        rc = ferry_config_fail(w, st->line,
                               "auth: google_service_account needs an http:// or https:// url");
        goto out;
    }
    if (src->kind == FERRY_SOURCE_CSV) {
        ferry_config_path_pop(w, old);
        return check_csv_fields(w, sync);
    }
    if (strncasecmp(src->url, "http://", 7) != 0 && strncasecmp(src->url, "https://", 8) != 0) {
        rc = ferry_config_fail(w, st->line, "url: a REST source needs an http:// or https:// URL");
        goto out;
    }
    for (size_t i = 0; i < src->nheaders && rc == FERRY_OK; i++)
        rc = check_placeholders(w, st->line, "headers", src->headers[i].value, &vs);
    for (size_t i = 0; i < src->nquery && rc == FERRY_OK; i++)
        rc = check_placeholders(w, st->line, "query", src->query[i].value, &vs);
    if (rc == FERRY_OK && src->body != NULL)
        rc = check_placeholders(w, st->line, "body", src->body, &vs);
    {
        const ferry_oauth2_spec *o = &src->auth.oauth2;
        const char *names[] = {src->auth.user.env,    src->auth.user.file, src->auth.secret.env,
                               src->auth.secret.file, o->token_url,        o->client_id,
                               o->refresh.env,        o->refresh.file};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && rc == FERRY_OK; i++)
            if (names[i] != NULL)
                rc = check_placeholders(w, st->line, "auth", names[i], &vs);
    }
    if (rc == FERRY_OK && src->incremental.cursor != NULL)
        rc = check_incremental(w, src);
    if (rc == FERRY_OK && src->method == NULL)
        rc = default_string(w, &src->method, "GET");
    if (rc == FERRY_OK && src->records == NULL)
        rc = default_string(w, &src->records, "");
    if (rc == FERRY_OK)
        rc = pagination_defaults(w, &src->pagination);
    if (rc != FERRY_OK)
        goto out;
    ferry_config_path_pop(w, old);
    return check_rest_fields(w, sync);
out:
    ferry_config_path_pop(w, old);
    return rc;
}

void ferry_config_pairs_free(ferry_pair *p, size_t n)
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
    ferry_config_pairs_free(src->headers, src->nheaders);
    ferry_config_pairs_free(src->query, src->nquery);
    ferry_config_pairs_free(src->vars, src->nvars);
    free(src->body);
    secret_ref_done(&src->auth.user);
    secret_ref_done(&src->auth.secret);
    free(src->auth.header);
    free(src->auth.scope);
    free(src->auth.oauth2.token_url);
    free(src->auth.oauth2.client_id);
    secret_ref_done(&src->auth.oauth2.refresh);
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
    free(src->incremental.cursor);
    free(src->incremental.param);
    ferry_config_strv_free(src->allow_hosts, src->nallow_hosts);
    free(src->files_dir);
}
ferry_rc ferry_config_source_inherit(struct walk *w, ferry_source_spec *src,
                                     const ferry_config *cfg)
{
    size_t n = src->nallow_hosts + cfg->nallow_hosts;
    char **hosts;

    src->allow_private = src->allow_private || cfg->allow_private;
    if ((src->files_dir = strdup(cfg->files_dir != NULL ? cfg->files_dir : cfg->dir)) == NULL)
        return ferry_config_oom(w);
    if (cfg->nallow_hosts == 0)
        return FERRY_OK;
    if ((hosts = realloc(src->allow_hosts, n * sizeof(*hosts))) == NULL)
        return ferry_config_oom(w);
    src->allow_hosts = hosts;
    for (size_t i = 0; i < cfg->nallow_hosts; i++) {
        if ((hosts[src->nallow_hosts] = strdup(cfg->allow_hosts[i])) == NULL)
            return ferry_config_oom(w);
        src->nallow_hosts++;
    }
    return FERRY_OK;
}
