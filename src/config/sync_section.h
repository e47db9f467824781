/* sync_section.h - the syncs: key (internal to config/; docs/config.md). */
#ifndef FERRY_CONFIG_SYNC_SECTION_H
#define FERRY_CONFIG_SYNC_SECTION_H

#include "config/config.h"
#include "config/keys.h"
#include "config/walk.h"

/* The handler of the top level's syncs: row: walks every sync into data (a ferry_config). */
ferry_rc ferry_config_syncs_walk(struct walk *w, const struct val *v, const struct key_rule *rule,
                                 void *obj, void *data);

/* Frees what a sync spec holds (not the spec itself). */
void ferry_config_sync_done(ferry_sync_spec *s);

#endif
