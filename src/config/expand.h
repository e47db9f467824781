/* expand.h - ${VAR} references in config values (internal to config/).
 *
 * A scalar value may name environment variables: ${NAME} is replaced by the variable's value,
 * ${NAME:-default} by the default when the variable is unset or empty (as in the shell), and
 * $${ writes a literal ${. NAME is [A-Za-z_][A-Za-z0-9_]*; the default runs to the first }.
 * The replaced text is not expanded again. Keys are never expanded: walk.c calls this for
 * values only. Messages name the reference as written, never a variable's value (it may be a
 * secret). */
#ifndef FERRY_CONFIG_EXPAND_H
#define FERRY_CONFIG_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define FERRY_CONFIG_EXPAND_MAX (1024L * 1024) /* bytes of one expanded value */

/* True when text (len bytes) holds a ${ (or $${) that ferry_config_expand() would rewrite. */
bool ferry_config_expand_is_needed(const char *text, size_t len);

/* Expands text (len bytes, borrowed) into *ret, a NUL-terminated malloc'ed string the caller
 * frees (wiping it first: it may hold a secret), and its length into *ret_len. On a reference
 * that is malformed or names an unset variable without a default, returns FERRY_ECONFIG with
 * the reason in why ("${DATABASE_URL} is not set and has no default"); FERRY_ENOMEM when
 * memory runs out. *ret is written only on success. Any thread (reads the environment). */
ferry_rc ferry_config_expand(const char *text, size_t len, char **ret, size_t *ret_len, char *why,
                             size_t whylen);

#endif
