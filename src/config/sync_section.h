/* sync_section.h - the syncs: key (internal to config/; docs/config.md). */
#ifndef FERRY_CONFIG_SYNC_SECTION_H
#define FERRY_CONFIG_SYNC_SECTION_H

#include "config/config.h"
#include "config/keys.h"
#include "config/walk.h"

/* The handler of the top level's syncs: row: walks every sync into data (a ferry_config). */
ferry_rc ferry_config_syncs_walk(struct walk *w, const struct val *v, const struct key_rule *rule,
                                 void *obj, void *data);

/* Refuses two syncs that write one table when either deletes or flags the rows its source no
 * longer has and their target.scope does not keep their rows apart: each run would take the
 * other's rows for missing ones. */
ferry_rc ferry_config_shared_tables_check(struct walk *w, const ferry_config *cfg);

/* Frees what a sync spec holds (not the spec itself). */
void ferry_config_sync_done(ferry_sync_spec *s);

#endif
