/* show.c - ferry config: the effective config as YAML, secrets masked (see config.h).
 *
 * Design. The text is first loaded with ferry_config_parse(), so only a valid config is shown
 * and the values the file leaves out can be read from the loaded struct. The document is then
 * parsed again and written back out node by node: every value goes through
 * ferry_config_scalar_get(), the one place ${VAR} references are replaced, so the output is the
 * document as loaded; keys are written as they are. After the document come the top-level keys
 * it leaves out, from the key table of config.c, each with "# default" (or the variable it came
 * from).
 *
 * Masking. A value is written ******** when its key's name looks like a secret (token, secret,
 * password, authorization, api key, cookie...; names ending in _env or _file name where a
 * secret is, and are shown), and so is every value under such a key. Under headers:, query:
 * and params:, names such as key, auth and sig count too. Any value that is a URL has the
 * password of its user part and its secret-looking query parameters masked, which covers
 * database:, target.database and tenants.database. The output is capped at SHOW_OUT_MAX. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/expand.h"
#include "config/keys.h"
#include "config/walk.h"
#include "config/yaml.h"
#include "util/buf.h"

#define SHOW_OUT_MAX (64L * 1024 * 1024)
#define MASK "********"
#define NAME_MAX_LOWER 128

struct show {
    struct walk w;
    ferry_buf out;
};

/* name lowered, with - as _, into low (NAME_MAX_LOWER bytes). */
static void lower_name(const char *name, size_t len, char *low)
{
    size_t i;

    if (len >= NAME_MAX_LOWER)
        len = NAME_MAX_LOWER - 1;
    for (i = 0; i < len; i++) {
        char c = name[i];
        low[i] = c == '-' ? '_' : (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    low[len] = '\0';
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Whether a key (or a header, query or URL parameter: pairs) names a secret. */
static bool is_secret_name(const char *name, size_t len, bool pairs)
{
    static const char *const words[] = {"token",         "secret",    "password",   "passwd",
                                        "authorization", "api_key",   "apikey",     "cookie",
                                        "credential",    "signature", "private_key"};
    static const char *const pair_names[] = {"key", "auth", "sig", "pass", "pwd"};
    char low[NAME_MAX_LOWER];

    lower_name(name, len, low);
    if (ends_with(low, "_env") || ends_with(low, "_file") || ends_with(low, "_url"))
        return false;
    if (ends_with(low, "_key"))
        return true;
    for (size_t i = 0; i < NITEMS(words); i++)
        if (strstr(low, words[i]) != NULL)
            return true;
    if (pairs)
        for (size_t i = 0; i < NITEMS(pair_names); i++)
            if (strcmp(low, pair_names[i]) == 0)
                return true;
    return false;
}

/* Whether the children of a key are names of headers or parameters. */
static bool is_pairs_name(const char *name, size_t len)
{
    char low[NAME_MAX_LOWER];

    lower_name(name, len, low);
    return strcmp(low, "headers") == 0 || strcmp(low, "query") == 0 || strcmp(low, "params") == 0;
}

/* A plain YAML scalar that reads back as the same string (and not as a null), in block
 * context (the only one written: , [ ] { } are plain there but for the first character). */
static bool is_plain_safe(const char *s, size_t len)
{
    if (len == 0 || s[0] == ' ' || s[len - 1] == ' ' || s[len - 1] == ':')
        return false;
    if ((len == 1 && s[0] == '~') ||
        (len == 4 &&
         (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0)))
        return false;
    if (strchr("?:,[]{}#&*!|>'\"%@`", s[0]) != NULL || (s[0] == '-' && (len == 1 || s[1] == ' ')))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (c == ':' && i + 1 < len && s[i + 1] == ' ') ||
            (c == '#' && i > 0 && s[i - 1] == ' '))
            return false;
    }
    return true;
}

static ferry_rc put_scalar(ferry_buf *b, const char *s, size_t len)
{
    ferry_rc rc = FERRY_OK;

    if (is_plain_safe(s, len))
        return ferry_buf_append(b, s, len);
    rc = ferry_buf_append(b, "\"", 1);
    for (size_t i = 0; i < len && rc == FERRY_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            rc = ferry_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            rc = ferry_buf_append(b, "\\n", 2);
        else if (c == '\t')
            rc = ferry_buf_append(b, "\\t", 2);
        else if (c < 0x20 || c == 0x7f)
            rc = ferry_buf_printf(b, "\\x%02x", c);
        else
            rc = ferry_buf_append(b, s + i, 1);
    }
    return rc == FERRY_OK ? ferry_buf_append(b, "\"", 1) : rc;
}

/* Writes a value (NUL-terminated at len) that may be a URL with its secrets masked: the
 * password of user:password@ and the values of secret-looking query parameters. */
static ferry_rc put_url_masked(ferry_buf *b, const char *s, size_t len)
{
    ferry_buf tmp;
    const char *scheme = len > 3 ? strstr(s, "://") : NULL;
    size_t i = 0;
    ferry_rc rc = FERRY_OK;

    if (scheme == NULL)
        return put_scalar(b, s, len);
    ferry_buf_init(&tmp, len + 4096);
    {
        /* the last @ before the query: a password may hold a / (over-masking an @ in a path
         * is the safer mistake) */
        size_t auth = (size_t)(scheme - s) + 3;
        size_t end = auth + strcspn(s + auth, "?#");
        const char *at = NULL, *colon;

        for (size_t k = auth; k < end; k++)
            if (s[k] == '@')
                at = s + k;
        colon = at != NULL ? memchr(s + auth, ':', (size_t)(at - (s + auth))) : NULL;
        if (colon != NULL) {
            rc = ferry_buf_append(&tmp, s, (size_t)(colon - s) + 1);
            if (rc == FERRY_OK)
                rc = ferry_buf_append(&tmp, MASK, strlen(MASK));
            i = (size_t)(at - s);
        }
    }
    while (rc == FERRY_OK && i < len) {
        size_t n = strcspn(s + i, "?&#");
        bool param = i > 0 && (s[i - 1] == '?' || s[i - 1] == '&') && memchr(s, '?', i) != NULL;
        const char *eq = memchr(s + i, '=', n);

        if (param && eq != NULL && is_secret_name(s + i, (size_t)(eq - (s + i)), true)) {
            rc = ferry_buf_append(&tmp, s + i, (size_t)(eq - (s + i)) + 1);
            if (rc == FERRY_OK)
                rc = ferry_buf_append(&tmp, MASK, strlen(MASK));
        } else {
            rc = ferry_buf_append(&tmp, s + i, n);
        }
        if (rc == FERRY_OK && i + n < len)
            rc = ferry_buf_append(&tmp, s + i + n, 1);
        i += n + 1;
    }
    if (rc == FERRY_OK)
        rc = put_scalar(b, ferry_buf_str(&tmp), strlen(ferry_buf_str(&tmp)));
    ferry_buf_done(&tmp);
    return rc;
}

/* A value as loaded (NUL-terminated at len), written so that it loads the same again: a ${ it
 * holds (from $${ or a variable's value) is written $${. */
static ferry_rc put_literal(ferry_buf *b, const char *s, size_t len)
{
    ferry_buf tmp;
    size_t i = 0;
    ferry_rc rc = FERRY_OK;

    if (!ferry_config_expand_is_needed(s, len))
        return put_url_masked(b, s, len);
    ferry_buf_init(&tmp, 2 * len + 1);
    while (rc == FERRY_OK && i < len) {
        if (i + 1 < len && s[i] == '$' && s[i + 1] == '{')
            rc = ferry_buf_append(&tmp, "$", 1);
        if (rc == FERRY_OK)
            rc = ferry_buf_append(&tmp, s + i, 1);
        i++;
    }
    if (rc == FERRY_OK)
        rc = put_url_masked(b, ferry_buf_str(&tmp), strlen(ferry_buf_str(&tmp)));
    ferry_buf_done(&tmp);
    return rc;
}

static ferry_rc put_indent(ferry_buf *b, int indent)
{
    return ferry_buf_printf(b, "%*s", indent, "");
}

static ferry_rc put_mapping(struct show *sh, struct fy_node *map, int indent, bool first_inline,
                            bool pairs, bool secret);

/* A value after "key:" or "-": " scalar\n", or a line break and the block at indent. */
static ferry_rc put_value(struct show *sh, struct fy_node *n, int indent, bool pairs, bool secret)
{
    ferry_buf *b = &sh->out;
    ferry_rc rc;

    if (ferry_config_is_null(n))
        return ferry_buf_append(b, "\n", 1);
    if (fy_node_is_scalar(n)) {
        struct val v = ferry_config_val_of(n, 1);
        const char *s = NULL;
        size_t len = 0;

        if ((rc = ferry_config_scalar_get(&sh->w, &v, &s, &len)) != FERRY_OK)
            return rc;
        rc = ferry_buf_append(b, " ", 1);
        if (rc == FERRY_OK && secret) {
            rc = put_scalar(b, MASK, strlen(MASK));
        } else if (rc == FERRY_OK) {
            /* the document's text is not NUL-terminated, and the URL scan needs it */
            char *copy = strndup(s, len);

            rc = copy != NULL ? put_literal(b, copy, len) : FERRY_ENOMEM;
            free(copy);
        }
        return rc == FERRY_OK ? ferry_buf_append(b, "\n", 1) : rc;
    }
    if (fy_node_is_mapping(n)) {
        if (fy_node_mapping_item_count(n) == 0)
            return ferry_buf_append(b, " {}\n", 4);
        if ((rc = ferry_buf_append(b, "\n", 1)) != FERRY_OK)
            return rc;
        return put_mapping(sh, n, indent, false, pairs, secret);
    }
    if (fy_node_sequence_item_count(n) == 0)
        return ferry_buf_append(b, " []\n", 4);
    if ((rc = ferry_buf_append(b, "\n", 1)) != FERRY_OK)
        return rc;
    {
        void *it = NULL;
        struct fy_node *item;

        while ((item = fy_node_sequence_iterate(n, &it)) != NULL) {
            if ((rc = put_indent(b, indent)) != FERRY_OK)
                return rc;
            if (fy_node_is_mapping(item) && fy_node_mapping_item_count(item) > 0) {
                rc = ferry_buf_append(b, "- ", 2);
                if (rc == FERRY_OK)
                    rc = put_mapping(sh, item, indent + 2, true, false, secret);
            } else {
                rc = ferry_buf_append(b, "-", 1);
                if (rc == FERRY_OK)
                    rc = put_value(sh, item, indent + 2, false, secret);
            }
            if (rc != FERRY_OK)
                return rc;
        }
    }
    return FERRY_OK;
}

/* The entries of a mapping at indent (the first one on the current line when first_inline);
 * pairs: its keys are header or parameter names; secret: mask every value. */
static ferry_rc put_mapping(struct show *sh, struct fy_node *map, int indent, bool first_inline,
                            bool pairs, bool secret)
{
    ferry_buf *b = &sh->out;
    struct fy_node_pair *pair;
    void *it = NULL;
    bool first = true;
    ferry_rc rc = FERRY_OK;

    while (rc == FERRY_OK && (pair = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *key = fy_node_pair_key(pair);
        const char *name = NULL;
        size_t len = 0;
        int line = 0;

        if (!(first && first_inline) && (rc = put_indent(b, indent)) != FERRY_OK)
            return rc;
        first = false;
        rc = ferry_config_key_text_get(&sh->w, key, 1, &name, &len, &line);
        if (rc == FERRY_OK)
            rc = put_scalar(b, name, len);
        if (rc == FERRY_OK)
            rc = ferry_buf_append(b, ":", 1);
        if (rc == FERRY_OK)
            rc = put_value(sh, fy_node_pair_value(pair), indent + 2, is_pairs_name(name, len),
                           secret || is_secret_name(name, len, pairs));
    }
    return rc;
}

static bool root_has_key(struct fy_node *root, const char *name)
{
    void *it = NULL;
    struct fy_node_pair *pair;

    if (root == NULL || !fy_node_is_mapping(root))
        return false;
    while ((pair = fy_node_mapping_iterate(root, &it)) != NULL) {
        size_t len = 0;
        const char *k = fy_node_get_scalar(fy_node_pair_key(pair), &len);
        if (k != NULL && len == strlen(name) && memcmp(k, name, len) == 0)
            return true;
    }
    return false;
}

/* A count of ms as the largest unit that divides it ("30m", "500ms"). */
static ferry_rc put_duration(ferry_buf *b, long ms)
{
    static const struct {
        const char *unit;
        long ms;
    } units[] = {{"d", 86400000L}, {"h", 3600000L}, {"m", 60000L}, {"s", 1000L}};

    for (size_t i = 0; i < NITEMS(units) && ms != 0; i++)
        if (ms % units[i].ms == 0)
            return ferry_buf_printf(b, "%ld%s", ms / units[i].ms, units[i].unit);
    return ms == 0 ? ferry_buf_append(b, "0s", 2) : ferry_buf_printf(b, "%ldms", ms);
}

static ferry_rc put_size(ferry_buf *b, unsigned long long bytes)
{
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
    static const int shifts[] = {40, 30, 20, 10};

    for (size_t i = 0; i < NITEMS(units); i++)
        if (bytes >= (1ULL << shifts[i]) && bytes % (1ULL << shifts[i]) == 0)
            return ferry_buf_printf(b, "%llu%s", bytes >> shifts[i], units[i]);
    return ferry_buf_printf(b, "%llu", bytes);
}

/* The line of a top-level key the document leaves out: its effective value and where that
 * came from, or a comment when it is off. */
static ferry_rc put_default(ferry_buf *b, const struct key_rule *r, const ferry_config *cfg)
{
    const char *from = "default", *var = NULL, *text = NULL;
    ferry_rc rc;

    if (strcmp(r->name, "database") == 0) {
        var = FERRY_CONFIG_DATABASE_VAR;
        text = cfg->database;
    } else if (strcmp(r->name, "listen") == 0) {
        var = FERRY_CONFIG_PORT_VAR;
        text = cfg->listen;
    } else if (strcmp(r->name, "files_dir") == 0) {
        text = cfg->files_dir != NULL ? cfg->files_dir : cfg->dir;
    } else if (strcmp(r->name, "data_dir") == 0) {
        text = cfg->data_dir;
    } else if (r->kind == FERRY_KEY_STRING) {
        text = r->def_text;
    }
    if (var != NULL && getenv(var) != NULL && getenv(var)[0] != '\0')
        from = var;
    if (text == NULL && r->kind != FERRY_KEY_BOOL && r->kind != FERRY_KEY_INT &&
        r->kind != FERRY_KEY_LONG && r->kind != FERRY_KEY_DURATION && r->kind != FERRY_KEY_SIZE &&
        strcmp(r->name, "max_body") != 0)
        return ferry_buf_printf(b, "# %s: not set\n", r->name);
    rc = ferry_buf_printf(b, "%s: ", r->name);
    if (rc != FERRY_OK)
        return rc;
    if (text != NULL)
        rc = put_literal(b, text, strlen(text));
    else if (strcmp(r->name, "max_body") == 0)
        rc = put_size(b, (unsigned long long)cfg->max_body_bytes);
    else if (r->kind == FERRY_KEY_BOOL)
        rc = ferry_buf_printf(b, "%s", r->def != 0 ? "true" : "false");
    else if (r->kind == FERRY_KEY_DURATION)
        rc = put_duration(b, r->def);
    else if (r->kind == FERRY_KEY_SIZE)
        rc = put_size(b, (unsigned long long)r->def);
    else
        rc = ferry_buf_printf(b, "%ld", r->def);
    if (rc == FERRY_OK)
        rc = ferry_buf_printf(b, "  # %s%s\n", strcmp(from, "default") == 0 ? "" : "from ", from);
    return rc;
}

ferry_rc ferry_config_show(const char *text, size_t len, const char *name, const char *dir,
                           char **ret_yaml, ferry_err *err)
{
    struct show sh;
    struct yaml y;
    ferry_config *cfg = NULL;
    struct fy_node *root = NULL;
    const struct key_rule *rules;
    size_t nrules;
    ferry_rc rc;

    if (ret_yaml == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "ferry_config_show: invalid arguments");
    if ((rc = ferry_config_parse(text, len, name, dir, &cfg, err)) != FERRY_OK)
        return rc;
    memset(&sh, 0, sizeof(sh));
    memset(&y, 0, sizeof(y));
    sh.w.file = name != NULL ? name : "<config>";
    sh.w.err = err;
    ferry_buf_init(&sh.out, SHOW_OUT_MAX);
    rc = ferry_config_yaml_open(&sh.w, text, len, &y);
    if (rc == FERRY_OK && y.doc != NULL)
        root = fy_document_root(y.doc);
    if (rc == FERRY_OK && !ferry_config_is_null(root))
        rc = put_mapping(&sh, root, 0, false, false, false);
    rules = ferry_config_top_rules_get(&nrules);
    for (size_t i = 0; i < nrules && rc == FERRY_OK; i++)
        if (!root_has_key(root, rules[i].name))
            rc = put_default(&sh.out, &rules[i], cfg);
    if (rc == FERRY_ELIMIT)
        rc = ferry_err_set(err, FERRY_ELIMIT, "%s: the config is too large to show", sh.w.file);
    else if (rc == FERRY_ENOMEM)
        rc = ferry_err_set(err, FERRY_ENOMEM, "%s: out of memory", sh.w.file);
    if (rc == FERRY_OK && (*ret_yaml = ferry_buf_take(&sh.out)) == NULL)
        rc = ferry_err_set(err, FERRY_ENOMEM, "%s: out of memory", sh.w.file);
    ferry_buf_done(&sh.out);
    ferry_config_walk_done(&sh.w);
    ferry_config_yaml_close(&y);
    ferry_config_free(cfg);
    return rc;
}

ferry_rc ferry_config_show_file(const char *path, char **ret_yaml, ferry_err *err)
{
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    ferry_rc rc;

    if (path == NULL || ret_yaml == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "ferry_config_show_file: invalid arguments");
    if ((rc = ferry_config_file_load_with_dir(path, &text, &len, &dir, err)) != FERRY_OK)
        return rc;
    rc = ferry_config_show(text, len, path, dir, ret_yaml, err);
    free(dir);
    free(text);
    return rc;
}
