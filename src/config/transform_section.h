/* transform_section.h - a field's transform keys: value, template, default, map, otherwise,
 * case and format (internal to config/; docs/config.md, "Transforms").
 *
 * The rows themselves are in sync_section.c's field_rules, like every key of a field; their
 * handlers, and the checks that need the whole field or the whole sync, are here. */
#ifndef FERRY_CONFIG_TRANSFORM_SECTION_H
#define FERRY_CONFIG_TRANSFORM_SECTION_H

#include "config/config.h"
#include "config/keys.h"
#include "config/walk.h"

/* The fn of the template row: parses the stored template (data: the ferry_field_spec) into its
 * parts. An unterminated '{', an empty '{}', a lone '}' or a template naming no value at all
 * is refused here; what the references name is resolved with the source, later. */
ferry_rc ferry_config_template_parse(struct walk *w, const struct val *v,
                                     const struct key_rule *rule, void *obj, void *data);

/* The handler of the map row: a mapping of source values to values, sorted for look-ups.
 * Empty keys and repeated keys are refused. */
ferry_rc ferry_config_map_walk(struct walk *w, const struct val *v, const struct key_rule *rule,
                               void *obj, void *data);

/* The fn of the otherwise row: keep, fail, or any other text as the value. */
ferry_rc ferry_config_otherwise_parse(struct walk *w, const struct val *v,
                                      const struct key_rule *rule, void *obj, void *data);

/* The fn of the format row: notes its line; the format is checked against the field's type
 * once the whole field is known (ferry_config_field_transforms_check()). */
ferry_rc ferry_config_format_note(struct walk *w, const struct val *v, const struct key_rule *rule,
                                  void *obj, void *data);

/* Checks what spans a field's keys once it is walked (seen is the walk's record of rules):
 * value: and template: read no column or pointer, exclude each other, value: takes no
 * default:, otherwise: needs map:, format: fits the type and can be read. Marks a field with
 * value: or template: filled. The path is the field's. */
ferry_rc ferry_config_field_transforms_check(struct walk *w, ferry_field_spec *f,
                                             const struct key_seen *seen,
                                             const struct key_rule *rules, size_t nrules);

/* Once the sync's source kind is known: points each reference of every template at a value
 * of the source record (the field that reads that column or pointer, or a new input of
 * sync->inputs), and checks a REST reference's pointer. The path is the sync's. */
ferry_rc ferry_config_templates_resolve(struct walk *w, ferry_sync_spec *sync);

/* Frees what a field's transforms hold. */
void ferry_config_transform_done(ferry_transform_spec *tf);

#endif
