/* template.h - {name} placeholders in config strings (URLs, headers, query values, bodies).
 *
 * A placeholder is '{', a name of letters, digits and '_' not starting with a digit, '}'.
 * Any other brace is plain text, so a JSON body keeps its braces. Pure functions. */
#ifndef FERRY_UTIL_TEMPLATE_H
#define FERRY_UTIL_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

/* Finds the first placeholder in s at or after *pos. On true, *ret_name and *ret_len give the
 * name (borrowed from s, without braces) and *pos moves past the placeholder. */
bool ferry_template_next(const char *s, size_t *pos, const char **ret_name, size_t *ret_len);

/* Returns the value for name (len bytes, not NUL-terminated), or NULL when unknown. */
typedef const char *(*ferry_template_lookup_cb)(void *ctx, const char *name, size_t len);

/* Appends tmpl to out with each placeholder replaced by its value, percent-encoded
 * (RFC 3986 unreserved characters kept) when encode is true. An unknown name fails with
 * FERRY_EINVAL naming it; a full out fails with FERRY_ELIMIT. */
ferry_rc ferry_template_expand(const char *tmpl, ferry_template_lookup_cb lookup, void *ctx,
                               bool encode, ferry_buf *out, ferry_err *err);

/* Appends tmpl to out as one query value: the placeholders replaced, then the whole text
 * (literal and values alike) percent-encoded, so `project = "OPS"` becomes
 * `project%20%3D%20%22OPS%22`. Fails as ferry_template_expand() does. */
ferry_rc ferry_template_expand_query(const char *tmpl, ferry_template_lookup_cb lookup, void *ctx,
                                     ferry_buf *out, ferry_err *err);

/* Appends s to out percent-encoded (unreserved characters kept). */
ferry_rc ferry_url_encode(const char *s, size_t len, ferry_buf *out);

#endif
