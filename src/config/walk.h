/* walk.h - the schema walker the files of config/ are built on (internal to config/).
 *
 * struct walk carries the file name, the error record and the dotted path of the node being
 * checked, so that every message reads "FILE:LINE: dotted.key.path: message" (no path at the
 * top level). List items add "[i]" (0-based) to the path. The functions below read one value
 * of the document each (a scalar, a bool, a number, a list of strings...) and fail with the
 * message the config tests expect; keys.h builds the key tables on them.
 *
 * Lines. libfyaml 0.7 exposes source marks for tokens but not for nodes, so a scalar's line is
 * its token's, a collection's is its first entry's, and a value with neither (an empty value,
 * {} or []) takes the line of the key that introduced it. */
#ifndef FERRY_CONFIG_WALK_H
#define FERRY_CONFIG_WALK_H

#include <libfyaml.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "util/err.h"

#define SHOW_MAX 60 /* at most this much of an offending value is quoted back */
#define IDENT_MAX 63
#define PATH_BUF 512

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

struct expanded;

/* The state of one walk over the document (zeroed, then file and err set; ended with
 * ferry_config_walk_done()). */
struct walk {
    const char *file; /* the name used in messages */
    ferry_err *err;
    char path[PATH_BUF]; /* dotted key path of the node being checked */
    size_t pathlen;
    struct expanded *expanded; /* values with ${VAR} replaced, kept until the walk is done */
};

/* Frees (and wipes) the expanded values; w itself is the caller's. */
void ferry_config_walk_done(struct walk *w);

/* A value under a key, with the line to blame for it. */
struct val {
    struct fy_node *node; /* NULL when the key has no value at all */
    int line;             /* 1-based */
};

/* Called for each entry of a mapping whose keys are names; name is NUL-terminated and
 * borrowed, line is the key's. */
typedef ferry_rc (*entry_handler)(struct walk *w, const char *name, int line, const struct val *v,
                                  void *obj);

/* ---- the path and messages ---- */

/* Appends ".key" (or "key" at the top) to the path; returns what ferry_config_path_pop()
 * takes to undo it. */
size_t ferry_config_path_push(struct walk *w, const char *key, size_t keylen);
size_t ferry_config_path_push_index(struct walk *w, size_t index);
void ferry_config_path_pop(struct walk *w, size_t old);

/* Records "FILE:LINE: PATH: message" (no PATH at the top level); returns FERRY_ECONFIG. */
ferry_rc ferry_config_fail(struct walk *w, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ferry_rc ferry_config_oom(struct walk *w);

/* For quoting a value back: "'%.*s'", ferry_config_show_len(len), s. */
int ferry_config_show_len(size_t len);

/* ---- nodes ---- */

/* The 1-based line of a node, or 0 when it has no position of its own. */
int ferry_config_node_line(struct fy_node *n);
struct val ferry_config_val_of(struct fy_node *n, int fallback_line);

/* A YAML null: no node, an empty plain scalar, or plain ~ / null. */
bool ferry_config_is_null(struct fy_node *n);

/* The text of a mapping key (borrowed, not NUL-terminated) and its line. */
ferry_rc ferry_config_key_text_get(struct walk *w, struct fy_node *key, int fallback_line,
                                   const char **ret, size_t *ret_len, int *ret_line);

/* ---- values ---- */

/* The text of a scalar value (not NUL-terminated; borrowed from the document, or from w when
 * it held ${VAR} references: expand.h; a bad reference fails naming the key and line). Every
 * value read goes through here, so every key takes references; keys never do. */
ferry_rc ferry_config_scalar_get(struct walk *w, const struct val *v, const char **ret,
                                 size_t *ret_len);

/* A malloc'ed NUL-terminated copy of a scalar value (may be empty). */
ferry_rc ferry_config_scalar_load(struct walk *w, const struct val *v, char **ret);

/* Like ferry_config_scalar_load() but an empty string is an error. */
ferry_rc ferry_config_string_load(struct walk *w, const struct val *v, char **ret);

/* Replaces *dst with the string value (the old value is freed only on success). */
ferry_rc ferry_config_string_set(struct walk *w, const struct val *v, char **dst);

ferry_rc ferry_config_bool_get(struct walk *w, const struct val *v, bool *ret);

/* A decimal integer: optional '-', then digits only, within long. */
bool ferry_config_long_parse(const char *s, long *ret);
ferry_rc ferry_config_long_get(struct walk *w, const struct val *v, long min, long max, long *ret);

/* A duration into *ret_ms; bad durations name the key. */
ferry_rc ferry_config_duration_get(struct walk *w, const struct val *v, long *ret_ms);

/* A duration within [min_ms, max_ms]. */
ferry_rc ferry_config_duration_get_within(struct walk *w, const struct val *v, long min_ms,
                                          long max_ms, long *ret_ms);

/* A size: bytes, or a number followed by KiB, MiB, GiB or TiB, from 1 to max. Returns 1
 * when valid, 0 when not a size, -1 when out of range. */
int ferry_config_size_parse(const char *s, unsigned long long max, size_t *ret);

void ferry_config_strv_free(char **v, size_t n);

/* A non-empty list of non-empty strings without repeats (compared case-insensitively when
 * nocase). With scalar_ok a single scalar is taken as a list of one. */
ferry_rc ferry_config_strings_load(struct walk *w, const struct val *v, bool scalar_ok, bool nocase,
                                   char ***ret, size_t *ret_n);

/* The value node of a sequence item for messages about item i (the list itself when the
 * value is a scalar taken as a list of one). */
struct val ferry_config_list_item(const struct val *list, size_t index);

/* ---- mappings ---- */

/* The number of entries of a mapping value. */
ferry_rc ferry_config_mapping_count(struct walk *w, const struct val *map, size_t *ret);

/* Walks a mapping whose keys are names, in document order. */
ferry_rc ferry_config_entries_walk(struct walk *w, const struct val *map, entry_handler fn,
                                   void *obj);

/* ---- names ---- */

bool ferry_config_is_alpha(char c);
bool ferry_config_is_digit(char c);

/* [A-Za-z_][A-Za-z0-9_]*, at most IDENT_MAX characters. */
bool ferry_config_is_identifier(const char *s);

/* Checks a table, field or column name; what is "table", "field" or "column". */
ferry_rc ferry_config_identifier_check(struct walk *w, int line, const char *s, const char *what);

#endif
