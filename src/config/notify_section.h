/* notify_section.h - notify: (internal to config/; docs/config.md, "Notifications"). */
#ifndef FERRY_CONFIG_NOTIFY_SECTION_H
#define FERRY_CONFIG_NOTIFY_SECTION_H

#include "config/config.h"
#include "config/keys.h"
#include "config/walk.h"

/* The handler of a notify: row (top level or sync): a mapping of endpoints, or a list of
 * such mappings, into the ferry_notify_list at rule->offset of data. */
ferry_rc ferry_config_notify_walk(struct walk *w, const struct val *v, const struct key_rule *rule,
                                  void *obj, void *data);

/* The checks that need the whole config, once it is walked: secret files read (relative to
 * the config's directory), e-mail endpoints need smtp:, pg_channel needs a PostgreSQL
 * database, public_url defaults to http://LISTEN. */
ferry_rc ferry_config_notify_finish(struct walk *w, ferry_config *cfg);

/* Frees what a list holds, wiping the secrets (not the list itself). */
void ferry_config_notify_list_done(ferry_notify_list *list);

#endif
