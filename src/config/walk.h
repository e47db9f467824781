/* walk.h - the schema walker config.c is built on, shared by the files of config/.
 *
 * Internal to config/: config.c walks the document and the top-level and sync keys;
 * rest.c adds the keys of REST sources (docs/sources.md). Every message reads
 * "FILE:LINE: dotted.key.path: message" (see config.c's opening comment). */
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

/* The state of one walk over the document. */
struct walk {
    const char *file; /* the name used in messages */
    ferry_err *err;
    char path[PATH_BUF]; /* dotted key path of the node being checked */
    size_t pathlen;
};

/* A value under a key, with the line to blame for it. */
struct val {
    struct fy_node *node; /* NULL when the key has no value at all */
    int line;             /* 1-based */
};

typedef ferry_rc (*key_handler)(struct walk *w, const struct val *v, void *obj);

/* One row of a fixed-key mapping's schema. */
struct key_rule {
    const char *name;
    bool required;
    key_handler fn;
};

/* Called for each entry of a mapping whose keys are names; name is NUL-terminated and
 * borrowed, line is the key's. */
typedef ferry_rc (*entry_handler)(struct walk *w, const char *name, int line, const struct val *v,
                                  void *obj);

#define NRULES(rules) (sizeof(rules) / sizeof((rules)[0]))

size_t path_push(struct walk *w, const char *key, size_t keylen);
size_t path_push_index(struct walk *w, size_t index);
void path_pop(struct walk *w, size_t old);
ferry_rc fail(struct walk *w, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

ferry_rc oom(struct walk *w);
int show_len(size_t len);
struct val val_of(struct fy_node *n, int fallback_line);
bool is_null(struct fy_node *n);
ferry_rc get_scalar(struct walk *w, const struct val *v, const char **ret, size_t *ret_len);
ferry_rc dup_scalar(struct walk *w, const struct val *v, char **ret);
ferry_rc get_string(struct walk *w, const struct val *v, char **ret);
ferry_rc set_string(struct walk *w, const struct val *v, char **dst);
ferry_rc get_bool(struct walk *w, const struct val *v, bool *ret);
bool parse_long(const char *s, long *ret);
ferry_rc get_long(struct walk *w, const struct val *v, long min, long max, long *ret);
void free_strv(char **v, size_t n);
ferry_rc get_string_list(struct walk *w, const struct val *v, bool scalar_ok, bool nocase,
                         char ***ret, size_t *ret_n);
struct val list_item(const struct val *list, size_t index);
ferry_rc walk_mapping(struct walk *w, const struct val *map, const struct key_rule *rules,
                      size_t nrules, void *obj);
ferry_rc mapping_count(struct walk *w, const struct val *map, size_t *ret);
ferry_rc walk_entries(struct walk *w, const struct val *map, entry_handler fn, void *obj);
bool is_alpha(char c);
bool is_digit(char c);
bool is_identifier(const char *s);
ferry_rc check_identifier(struct walk *w, int line, const char *s, const char *what);
int parse_size(const char *s, size_t *ret);
int parse_size_max(const char *s, unsigned long long max, size_t *ret);
/* allow_hosts: a list of host names or literal addresses (no scheme, port or path), stored in
 * lower case in *dst (what it held before is freed) (source.c). */
ferry_rc set_allow_hosts(struct walk *w, const struct val *v, char ***dst, size_t *dst_n);
const char *url_problem(const char *url, char *buf, size_t bufsize);
ferry_rc get_duration(struct walk *w, const struct val *v, long *ret_ms);

/* A duration within [min_ms, max_ms]. */
ferry_rc get_duration_within(struct walk *w, const struct val *v, long min_ms, long max_ms,
                             long *ret_ms);

/* ---- syncs.NAME.source (source.c) ---- */

/* What walking a source keeps for the checks that need the whole sync. */
struct source_state {
    ferry_source_spec *src;
    const char *rest_key; /* the first key given that only REST sources take, or NULL */
    int rest_line;
    const char *csv_key; /* the first key given that only CSV sources take, or NULL */
    int csv_line;
    int line; /* the source: mapping's */
};

/* Sets a source's defaults (kind csv). */
void ferry_config_source_defaults(ferry_source_spec *src);

/* Walks syncs.NAME.source into st->src. */
ferry_rc ferry_config_source_walk(struct walk *w, const struct val *v, struct source_state *st);

/* The checks that need the whole sync (its kind, fields and tenant variable), and the
 * defaults that depend on the kind; the walk's path is the sync's. */
ferry_rc ferry_config_source_check(struct walk *w, ferry_sync_spec *sync,
                                   const struct source_state *st);

/* Gives src the top level's allow_private, allow_hosts and files_dir (cfg's), merged with its
 * own. Fails only when memory runs out. */
ferry_rc ferry_config_source_inherit(struct walk *w, ferry_source_spec *src,
                                     const ferry_config *cfg);

/* Frees what a source spec holds (not the spec itself). */
void ferry_config_source_done(ferry_source_spec *src);

#endif
