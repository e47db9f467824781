/* json_path.c - compiled JSON pointers with a "*" wildcard (see json_path.h).
 *
 * Compiling decodes every token once (~1 to '/', ~0 to '~') into one block of NUL-separated
 * names, and notes which tokens are array indexes (decimal, no leading zero, RFC 6901 section
 * 4) and which are "*". A token always names a member on an object, so "/0" on an object
 * looks up the key "0"; "-" (RFC 6901's past-the-end index) never finds anything; a member
 * literally named "*" cannot be reached, since the pointer syntax has no escape for it.
 *
 * The text of a value is written straight into the caller's buffer, compact JSON included:
 * Ferry writes that JSON itself instead of through json_dumps(), so nothing is allocated on
 * the way and reals read the same inside JSON as alone (0.1 rather than
 * 0.10000000000000001). util/json_scan.c writes reals with the same ferry_json_real_format(),
 * so a value read from the bytes gives the same text as one read from a tree. Otherwise the
 * JSON is what jansson's JSON_COMPACT gives: members in document order, UTF-8 left as it is,
 * control characters escaped. Nesting deeper than
 * MAX_DEPTH (jansson's own parser stops at 2048) fails with FERRY_ELIMIT, which also ends a
 * document that contains itself. */
#include "util/json_path.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 2048

typedef struct {
    const char *name; /* decoded, NUL-terminated, inside the path's names block */
    size_t len;       /* of name */
    size_t index;     /* when is_index */
    bool is_index;
    bool is_star;
} token;

struct ferry_json_path {
    char *text;  /* as written */
    char *names; /* the decoded tokens, each NUL-terminated */
    token *tokens;
    size_t ntokens;
    bool wildcard;
};

/* The array index a decoded token stands for, when it is one. */
static bool token_index(const char *s, size_t *ret)
{
    size_t v = 0;

    if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (v > (SIZE_MAX - 9) / 10)
            return false; /* larger than any array */
        v = v * 10 + (size_t)(*s - '0');
    }
    *ret = v;
    return true;
}

ferry_rc ferry_json_path_compile(const char *text, ferry_json_path **ret_path, ferry_err *err)
{
    ferry_json_path *path;
    size_t len, n = 0;
    ferry_rc rc;
    char *w;

    if (text[0] != '\0' && text[0] != '/')
        return ferry_err_set(err, FERRY_EINVAL, "JSON path '%s' must start with '/'", text);
    path = calloc(1, sizeof(*path));
    if (path == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating a JSON path");
    len = strlen(text);
    for (size_t i = 0; i < len; i++)
        n += text[i] == '/';
    path->text = strdup(text);
    /* Decoding only shortens a token, and each token's '/' becomes its NUL. */
    path->names = malloc(len + 1);
    path->tokens = calloc(n > 0 ? n : 1, sizeof(*path->tokens));
    if (path->text == NULL || path->names == NULL || path->tokens == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "allocating a JSON path");
        goto out_free_path;
    }
    w = path->names;
    for (const char *p = text; *p == '/'; path->ntokens++) {
        token *t = &path->tokens[path->ntokens];
        const char *raw = ++p;
        t->name = w;
        for (; *p != '\0' && *p != '/'; p++) {
            if (*p != '~') {
                *w++ = *p;
            } else if (p[1] == '0' || p[1] == '1') {
                *w++ = p[1] == '0' ? '~' : '/';
                p++;
            } else {
                rc = ferry_err_set(err, FERRY_EINVAL, "JSON path '%s' has a bad escape '~%.1s'",
                                   text, p + 1);
                goto out_free_path;
            }
        }
        t->len = (size_t)(w - t->name);
        *w++ = '\0';
        t->is_star = p - raw == 1 && raw[0] == '*';
        t->is_index = token_index(t->name, &t->index);
        path->wildcard = path->wildcard || t->is_star;
    }
    *ret_path = path;
    return FERRY_OK;

out_free_path:
    ferry_json_path_free(path);
    return rc;
}

/* The child of v that t names, or NULL. */
static json_t *step(const token *t, json_t *v)
{
    if (json_is_object(v))
        return json_object_get(v, t->name);
    if (json_is_array(v) && t->is_index)
        return json_array_get(v, t->index);
    return NULL;
}

json_t *ferry_json_path_get(const ferry_json_path *path, json_t *doc)
{
    json_t *v = doc;

    if (path->wildcard)
        return NULL;
    for (size_t i = 0; i < path->ntokens && v != NULL; i++)
        v = step(&path->tokens[i], v);
    return v;
}

/* 17 significant digits always read back as the same double. */
void ferry_json_real_format(double d, char *out, size_t outlen)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

static ferry_rc append_str(ferry_buf *out, const char *s)
{
    return ferry_buf_append(out, s, strlen(s));
}

/* A JSON string literal of the len bytes at s. */
static ferry_rc write_json_string(ferry_buf *out, const char *s, size_t len)
{
    size_t run = 0;
    ferry_rc rc;

    if ((rc = ferry_buf_append(out, "\"", 1)) != FERRY_OK)
        return rc;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        /* Flush the plain bytes before this one, then its escape. */
        if ((rc = ferry_buf_append(out, s + run, i - run)) != FERRY_OK)
            return rc;
        run = i + 1;
        switch (c) {
        case '"':
        case '\\':
            snprintf(esc, sizeof(esc), "\\%c", c);
            break;
        case '\b':
            snprintf(esc, sizeof(esc), "\\b");
            break;
        case '\f':
            snprintf(esc, sizeof(esc), "\\f");
            break;
        case '\n':
            snprintf(esc, sizeof(esc), "\\n");
            break;
        case '\r':
            snprintf(esc, sizeof(esc), "\\r");
            break;
        case '\t':
            snprintf(esc, sizeof(esc), "\\t");
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04X", c);
            break;
        }
        if ((rc = append_str(out, esc)) != FERRY_OK)
            return rc;
    }
    if ((rc = ferry_buf_append(out, s + run, len - run)) != FERRY_OK)
        return rc;
    return ferry_buf_append(out, "\"", 1);
}

/* The text of a scalar (never null): a string's bytes, true/false, or a number. */
static ferry_rc write_scalar(ferry_buf *out, json_t *v)
{
    char num[64];

    switch (json_typeof(v)) {
    case JSON_STRING:
        return ferry_buf_append(out, json_string_value(v), json_string_length(v));
    case JSON_TRUE:
        return append_str(out, "true");
    case JSON_FALSE:
        return append_str(out, "false");
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return append_str(out, num);
    case JSON_REAL:
        ferry_json_real_format(json_real_value(v), num, sizeof(num));
        return append_str(out, num);
    default:
        return append_str(out, "null");
    }
}

/* Compact JSON of v. */
static ferry_rc write_json(ferry_buf *out, json_t *v, int depth)
{
    ferry_rc rc = FERRY_OK;

    if (depth > MAX_DEPTH)
        return FERRY_ELIMIT;
    if (json_is_string(v))
        return write_json_string(out, json_string_value(v), json_string_length(v));
    if (json_is_array(v)) {
        if ((rc = ferry_buf_append(out, "[", 1)) != FERRY_OK)
            return rc;
        for (size_t i = 0; i < json_array_size(v) && rc == FERRY_OK; i++) {
            if (i > 0 && (rc = ferry_buf_append(out, ",", 1)) != FERRY_OK)
                break;
            rc = write_json(out, json_array_get(v, i), depth + 1);
        }
        return rc != FERRY_OK ? rc : ferry_buf_append(out, "]", 1);
    }
    if (json_is_object(v)) {
        if ((rc = ferry_buf_append(out, "{", 1)) != FERRY_OK)
            return rc;
        /* Iteration follows insertion order, which for a parsed document is document order. */
        bool first = true;
        for (void *it = json_object_iter(v); it != NULL && rc == FERRY_OK;
             it = json_object_iter_next(v, it)) {
            if (!first && (rc = ferry_buf_append(out, ",", 1)) != FERRY_OK)
                break;
            first = false;
            if ((rc = write_json_string(out, json_object_iter_key(it),
                                        json_object_iter_key_len(it))) != FERRY_OK ||
                (rc = ferry_buf_append(out, ":", 1)) != FERRY_OK)
                break;
            rc = write_json(out, json_object_iter_value(it), depth + 1);
        }
        return rc != FERRY_OK ? rc : ferry_buf_append(out, "}", 1);
    }
    return write_scalar(out, v);
}

typedef struct {
    ferry_buf *out;
    const char *join;
    size_t pieces; /* written so far, so the join goes between them */
    bool found;    /* a non-null value was selected */
} text_ctx;

/* One piece of the joined text: a scalar's text, or an array's or object's compact JSON. */
static ferry_rc write_piece(text_ctx *c, json_t *v)
{
    ferry_rc rc;

    if (c->pieces++ > 0 && (rc = append_str(c->out, c->join)) != FERRY_OK)
        return rc;
    if (json_is_array(v) || json_is_object(v))
        return write_json(c->out, v, 0);
    return write_scalar(c->out, v);
}

/* The text of one selected value: nothing for null, an array's non-null elements as pieces. */
static ferry_rc write_value(text_ctx *c, json_t *v)
{
    ferry_rc rc = FERRY_OK;

    if (v == NULL || json_is_null(v))
        return FERRY_OK;
    c->found = true;
    if (!json_is_array(v))
        return write_piece(c, v);
    for (size_t i = 0; i < json_array_size(v) && rc == FERRY_OK; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_null(e))
            rc = write_piece(c, e);
    }
    return rc;
}

/* Follows the tokens from i on below v, writing every value they select. */
static ferry_rc walk(const ferry_json_path *path, size_t i, json_t *v, text_ctx *c)
{
    ferry_rc rc = FERRY_OK;

    for (; i < path->ntokens && v != NULL; i++) {
        const token *t = &path->tokens[i];
        if (!t->is_star) {
            v = step(t, v);
            continue;
        }
        if (json_is_array(v)) {
            for (size_t k = 0; k < json_array_size(v) && rc == FERRY_OK; k++)
                rc = walk(path, i + 1, json_array_get(v, k), c);
        } else if (json_is_object(v)) {
            for (void *it = json_object_iter(v); it != NULL && rc == FERRY_OK;
                 it = json_object_iter_next(v, it))
                rc = walk(path, i + 1, json_object_iter_value(it), c);
        }
        return rc;
    }
    return write_value(c, v);
}

ferry_rc ferry_json_path_text(const ferry_json_path *path, json_t *doc, const char *join,
                              ferry_buf *out, bool *ret_found)
{
    text_ctx c = {.out = out, .join = join != NULL ? join : ", ", .pieces = 0, .found = false};
    size_t start = out->len;
    ferry_rc rc;

    rc = walk(path, 0, doc, &c);
    if (rc != FERRY_OK) {
        /* Leave out as it was: half a value is worse than none. */
        out->len = start;
        if (out->data != NULL)
            out->data[start] = '\0';
        return rc;
    }
    *ret_found = c.found;
    return FERRY_OK;
}

const char *ferry_json_path_str(const ferry_json_path *path)
{
    return path->text;
}

bool ferry_json_path_has_wildcard(const ferry_json_path *path)
{
    return path->wildcard;
}

size_t ferry_json_path_ntokens(const ferry_json_path *path)
{
    return path->ntokens;
}

const char *ferry_json_path_token(const ferry_json_path *path, size_t i, size_t *ret_len)
{
    *ret_len = path->tokens[i].len;
    return path->tokens[i].name;
}

bool ferry_json_path_token_index(const ferry_json_path *path, size_t i, size_t *ret_index)
{
    if (!path->tokens[i].is_index)
        return false;
    *ret_index = path->tokens[i].index;
    return true;
}

void ferry_json_path_free(ferry_json_path *path)
{
    if (path == NULL)
        return;
    free(path->text);
    free(path->names);
    free(path->tokens);
    free(path);
}
