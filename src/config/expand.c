/* expand.c - ${VAR}, ${VAR:-default} and $${ in config values (see expand.h).
 *
 * One pass over the text into a growing buffer capped at FERRY_CONFIG_EXPAND_MAX. A reference
 * is checked whole before it is replaced, so a malformed one is reported as written (cut to
 * SHOW_MAX characters); the values of variables are copied, never quoted in a message. */
#include "config/expand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/walk.h"

struct out {
    char *buf;
    size_t len, cap;
    bool too_long; /* past FERRY_CONFIG_EXPAND_MAX */
};

static bool out_add(struct out *o, const char *s, size_t n)
{
    if (n > (size_t)FERRY_CONFIG_EXPAND_MAX - o->len) {
        o->too_long = true;
        return false;
    }
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        char *grown = realloc(o->buf, cap);

        if (grown == NULL)
            return false;
        o->buf = grown;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
    return true;
}

bool ferry_config_expand_is_needed(const char *text, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (text[i] == '$' && text[i + 1] == '{')
            return true;
    return false;
}

/* The reference at text[0] ("${..."), as written, into why. */
static ferry_rc malformed(const char *text, size_t len, char *why, size_t whylen)
{
    const char *close = memchr(text, '}', len);
    size_t n = close != NULL ? (size_t)(close - text) + 1 : len;

    snprintf(why, whylen,
             "'%.*s' is not a valid reference: expected ${NAME} or ${NAME:-default} with NAME "
             "of letters, digits and _ (write $${ for a literal ${)",
             ferry_config_show_len(n), text);
    return FERRY_ECONFIG;
}

static void wipe_free(struct out *o)
{
    if (o->buf != NULL)
        memset(o->buf, 0, o->cap);
    free(o->buf);
}

ferry_rc ferry_config_expand(const char *text, size_t len, char **ret, size_t *ret_len, char *why,
                             size_t whylen)
{
    struct out o = {NULL, 0, 0, false};
    size_t i = 0;

    if (!out_add(&o, "", 0))
        goto oom;
    while (i < len) {
        const char *dollar = memchr(text + i, '$', len - i);
        size_t at = dollar != NULL ? (size_t)(dollar - text) : len;
        size_t name_start, name_len, end;
        const char *def = NULL, *close;
        size_t def_len = 0;
        char name[IDENT_MAX + 1];
        const char *value;

        if (!out_add(&o, text + i, at - i))
            goto oom;
        i = at;
        if (i >= len)
            break;
        if (i + 2 < len && text[i + 1] == '$' && text[i + 2] == '{') { /* $${: a literal ${ */
            if (!out_add(&o, "${", 2))
                goto oom;
            i += 3;
            continue;
        }
        if (i + 1 >= len || text[i + 1] != '{') { /* a lone $ */
            if (!out_add(&o, "$", 1))
                goto oom;
            i++;
            continue;
        }
        name_start = i + 2;
        end = name_start;
        while (end < len && (ferry_config_is_alpha(text[end]) || text[end] == '_' ||
                             (end > name_start && ferry_config_is_digit(text[end]))))
            end++;
        name_len = end - name_start;
        if (name_len == 0 || name_len > IDENT_MAX || end >= len)
            goto bad;
        if (text[end] == ':' && end + 1 < len && text[end + 1] == '-') {
            def = text + end + 2;
            close = memchr(def, '}', len - (end + 2));
            if (close == NULL)
                goto bad;
            def_len = (size_t)(close - def);
            end = (size_t)(close - text);
        } else if (text[end] != '}') {
            goto bad;
        }
        memcpy(name, text + name_start, name_len);
        name[name_len] = '\0';
        value = getenv(name);
        if (def != NULL && (value == NULL || value[0] == '\0')) {
            if (!out_add(&o, def, def_len))
                goto oom;
        } else if (value == NULL) {
            snprintf(why, whylen, "${%s} is not set and has no default", name);
            wipe_free(&o);
            return FERRY_ECONFIG;
        } else if (!out_add(&o, value, strlen(value))) {
            goto oom;
        }
        i = end + 1;
    }
    *ret = o.buf;
    *ret_len = o.len;
    return FERRY_OK;
bad:
    wipe_free(&o);
    return malformed(text + i, len - i, why, whylen);
oom:
    wipe_free(&o);
    if (!o.too_long)
        return FERRY_ENOMEM;
    snprintf(why, whylen, "the value is over %ld bytes once its references are replaced",
             FERRY_CONFIG_EXPAND_MAX);
    return FERRY_ECONFIG;
}
