/* template.c - {name} placeholders (see template.h). */
#include "util/template.h"

#include <string.h>

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

bool ferry_template_next(const char *s, size_t *pos, const char **ret_name, size_t *ret_len)
{
    for (size_t i = *pos; s[i] != '\0'; i++) {
        size_t j;

        if (s[i] != '{' || !is_name_start(s[i + 1]))
            continue;
        for (j = i + 1; is_name_char(s[j]); j++)
            ;
        if (s[j] != '}')
            continue;
        *ret_name = s + i + 1;
        *ret_len = j - i - 1;
        *pos = j + 1;
        return true;
    }
    return false;
}

ferry_rc ferry_url_encode(const char *s, size_t len, ferry_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char enc[3];
        ferry_rc rc;

        if (is_name_char((char)c) || c == '-' || c == '.' || c == '~') {
            rc = ferry_buf_append(out, &s[i], 1);
        } else {
            enc[0] = '%';
            enc[1] = hex[c >> 4];
            enc[2] = hex[c & 15];
            rc = ferry_buf_append(out, enc, 3);
        }
        if (rc != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

ferry_rc ferry_template_expand(const char *tmpl, ferry_template_lookup_cb lookup, void *ctx,
                               bool encode, ferry_buf *out, ferry_err *err)
{
    size_t pos = 0, done = 0, len = 0;
    const char *name = NULL;
    ferry_rc rc = FERRY_OK;

    while (ferry_template_next(tmpl, &pos, &name, &len)) {
        const char *value = lookup(ctx, name, len);
        size_t start = (size_t)(name - 1 - tmpl);

        if (value == NULL)
            return ferry_err_set(err, FERRY_EINVAL, "unknown variable {%.*s}", (int)len, name);
        rc = ferry_buf_append(out, tmpl + done, start - done);
        if (rc == FERRY_OK)
            rc = encode ? ferry_url_encode(value, strlen(value), out)
                        : ferry_buf_append(out, value, strlen(value));
        if (rc != FERRY_OK)
            return ferry_err_set(err, FERRY_ELIMIT, "expanding '%.60s': too long", tmpl);
        done = pos;
    }
    if (ferry_buf_append(out, tmpl + done, strlen(tmpl + done)) != FERRY_OK)
        return ferry_err_set(err, FERRY_ELIMIT, "expanding '%.60s': too long", tmpl);
    return FERRY_OK;
}

ferry_rc ferry_template_expand_query(const char *tmpl, ferry_template_lookup_cb lookup, void *ctx,
                                     ferry_buf *out, ferry_err *err)
{
    ferry_buf plain;
    ferry_rc rc;

    ferry_buf_init(&plain, out->max);
    rc = ferry_template_expand(tmpl, lookup, ctx, false, &plain, err);
    if (rc == FERRY_OK && ferry_url_encode(ferry_buf_str(&plain), plain.len, out) != FERRY_OK)
        rc = ferry_err_set(err, FERRY_ELIMIT, "expanding '%.60s': too long", tmpl);
    ferry_buf_done(&plain);
    return rc;
}
