/* json_path.h - JSON pointers (RFC 6901) that pick a value out of an API record.
 *
 * A path is "" (the whole document) or "/"-separated tokens with ~0 for '~' and ~1 for '/';
 * a token that is a decimal number indexes an array. One extension: a token "*" selects every
 * element of an array (or every member value of an object), so "/labels/ *" or
 * "/phone_numbers/ * /number" (without the spaces) collects a value from each element.
 *
 * Compiled once per field when a source opens; evaluating allocates nothing but the output.
 * A compiled path is immutable and may be shared between threads. */
#ifndef FERRY_UTIL_JSON_PATH_H
#define FERRY_UTIL_JSON_PATH_H

#include <jansson.h>
#include <stdbool.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct ferry_json_path ferry_json_path;

/* Compiles text (borrowed). Fails with FERRY_EINVAL and a message saying what is wrong
 * ("must start with '/'", "bad escape '~2'") when text is not a path. On success *ret_path is
 * owned by the caller (ferry_json_path_free()). */
ferry_rc ferry_json_path_compile(const char *text, ferry_json_path **ret_path, ferry_err *err);

/* The value at path in doc (borrowed from doc), or NULL when absent. A path with "*" gives
 * NULL; use ferry_json_path_text(). */
json_t *ferry_json_path_get(const ferry_json_path *path, json_t *doc);

/* Appends the text of the value at path in doc to out and sets *ret_found:
 * - absent or null: nothing appended, *ret_found false;
 * - string: its bytes; true/false: "true"/"false"; integer: decimal digits;
 *   real: the shortest text that reads back as the same double ("12.5", "0.1", "1e+300");
 * - array: the texts of its non-null scalar elements joined by join ("a, b"); nested arrays
 *   and objects inside it are written as compact JSON;
 * - object: compact JSON with keys in document order;
 * - with "*": every selected value as above (arrays flattened one level), joined by join;
 *   *ret_found is true when at least one non-null value was selected.
 * An empty array is found and appends nothing. join NULL means ", ". Returns FERRY_OK, or
 * FERRY_ELIMIT when out is full (its maximum) or the value nests deeper than 2048 levels
 * (FERRY_ENOMEM when out cannot grow); on an error out is left as it was. */
ferry_rc ferry_json_path_text(const ferry_json_path *path, json_t *doc, const char *join,
                              ferry_buf *out, bool *ret_found);

/* The path as written (borrowed). */
const char *ferry_json_path_str(const ferry_json_path *path);

/* True when path has a "*" token. */
bool ferry_json_path_has_wildcard(const ferry_json_path *path);

/* The number of tokens in path: 0 for "", 2 for "/a/b". */
size_t ferry_json_path_ntokens(const ferry_json_path *path);

/* Token i (below ferry_json_path_ntokens()) decoded (~1 is '/', ~0 is '~'), borrowed from
 * path and NUL-terminated; *ret_len is its length. */
const char *ferry_json_path_token(const ferry_json_path *path, size_t i, size_t *ret_len);

/* True with *ret_index set when token i is an array index: decimal digits without a leading
 * zero (RFC 6901 section 4), small enough for a size_t. "-" is never one. */
bool ferry_json_path_token_index(const ferry_json_path *path, size_t i, size_t *ret_index);

/* Writes the shortest of %.15g, %.16g and %.17g that reads back as v into out (outlen at least
 * 32): the text ferry_json_path_text() gives a real ("12.5", "0.1", "1e+300", "-0"). */
void ferry_json_real_format(double v, char *out, size_t outlen);

/* Frees a path; NULL is allowed. */
void ferry_json_path_free(ferry_json_path *path);

#endif
