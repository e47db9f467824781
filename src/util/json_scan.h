/* json_scan.h - reading values out of a JSON text without building a tree.
 *
 * A REST page is read many times over for a few values each time: where the records are,
 * the next link, the total, and a handful of fields per record. Building a jansson tree for
 * every page costs more than everything else a sync does, so the REST source validates a
 * page once with ferry_json_validate() and then picks values straight out of the bytes by
 * byte range (span). Acceptance matches jansson's json_loadb(JSON_DECODE_ANY) exactly, and
 * ferry_json_scan_text() writes the same text as ferry_json_path_text() for scalars, so a
 * page read either way gives the same records (tests/fuzz/fuzz_json_scan.c checks both).
 *
 * Pure functions over the caller's bytes; nothing is allocated except in the output buffer.
 * The text need not be NUL-terminated. All scan functions require text validated first (and
 * spans that came from it); they are safe to call from any thread on a shared text.
 *
 * One jansson quirk is kept on purpose: its reader drops one NUL byte that directly follows a
 * number or true/false/null, so "[1\0]" is valid here too; such a byte lies outside spans. */
#ifndef FERRY_UTIL_JSON_SCAN_H
#define FERRY_UTIL_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/json_path.h"

/* One value's bytes: text[start..end), white space excluded. */
typedef struct {
    size_t start, end;
} ferry_json_span;

typedef enum {
    FERRY_JSON_OBJECT,
    FERRY_JSON_ARRAY,
    FERRY_JSON_STRING,
    FERRY_JSON_NUMBER,
    FERRY_JSON_TRUE,
    FERRY_JSON_FALSE,
    FERRY_JSON_NULL,
} ferry_json_kind;

/* Checks that text[0..len) is exactly one JSON value with only white space around it, as
 * jansson's json_loadb(JSON_DECODE_ANY) would accept it: RFC 8259 grammar, strings of valid
 * UTF-8 without control characters or \u0000 (surrogate pairs must pair), integers within
 * int64 (jansson's "too big integer"), reals that are finite, nesting at most 2048 deep. On
 * success *ret_root is the value's span. On failure FERRY_ESOURCE with a message saying what
 * is wrong and where: "unexpected end of input (line 1, column 18211)". */
ferry_rc ferry_json_validate(const char *text, size_t len, ferry_json_span *ret_root,
                             ferry_err *err);

/* The kind of the value at span. */
ferry_json_kind ferry_json_scan_kind(const char *text, ferry_json_span span);

/* Finds the value at path inside the value at span (a path with "*" finds nothing). A member
 * named twice in one object: the last wins, as in jansson. Decimal tokens index arrays (as in
 * json_path.h). True with *ret set when found (a null counts as found); false when absent. */
bool ferry_json_scan_find(const char *text, ferry_json_span span, const ferry_json_path *path,
                          ferry_json_span *ret);

/* Finds several paths (none with "*") inside the object at span in one pass over its members:
 * ret[i] and found[i] for paths[i], as ferry_json_scan_find() would give them (a path with "*"
 * is not found). A span that is not an object gives each path as ferry_json_scan_find() does:
 * "" finds the span itself, decimal tokens index an array, and a scalar has nothing below it. */
void ferry_json_scan_find_many(const char *text, ferry_json_span span,
                               const ferry_json_path *const *paths, size_t npaths,
                               ferry_json_span *ret, bool *found);

/* Iterates the elements of the array at span: *pos starts at 0 and is private state. True
 * with *ret set for each element in order; false after the last (and again on later calls). */
bool ferry_json_scan_next(const char *text, ferry_json_span array, size_t *pos,
                          ferry_json_span *ret);

/* The number of elements of the array at span. */
size_t ferry_json_scan_count(const char *text, ferry_json_span array);

/* Appends the text of the scalar at span to out, exactly as ferry_json_path_text() would
 * write the same value: a string unescaped (UTF-8), an integer as its decimal digits
 * ("-0" -> "0"), a real in the shortest text that reads back as the same double, true and
 * false as words; null appends nothing and sets *ret_found false (else true). An array or an
 * object is FERRY_EINVAL and appends nothing (the caller falls back to a tree). FERRY_ELIMIT
 * when out is full (out then holds what it held before). */
ferry_rc ferry_json_scan_text(const char *text, ferry_json_span span, ferry_buf *out,
                              bool *ret_found);

#endif
