/* source_section.h - the source: key of a sync (internal to config/; docs/sources.md). */
#ifndef FERRY_CONFIG_SOURCE_SECTION_H
#define FERRY_CONFIG_SOURCE_SECTION_H

#include "config/config.h"
#include "config/keys.h"
#include "config/walk.h"

/* What walking a source keeps for the checks that need the whole sync. */
struct source_state {
    ferry_source_spec *src;
    struct key_seen seen; /* the keys given, for the kind's check */
    int line;             /* the source: mapping's */
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

/* A mapping of names to scalar values into *items (freed with ferry_config_pairs_free(), also
 * when this fails) and *n; what ("header", "query parameter", "variable", "column") says
 * which names are allowed and names them in messages. */
ferry_rc ferry_config_pairs_get(struct walk *w, const struct val *v, const char *what,
                                ferry_pair **items, size_t *n);
void ferry_config_pairs_free(ferry_pair *p, size_t n);

#endif
