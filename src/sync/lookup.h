/* lookup.h - look-ups: a field whose value is found in another table (fields.NAME.lookup).
 *
 * A package row names its brand by code; the app's packages.brand_id holds the brand's id.
 * With `lookup: { table: brands, match: code, value: id }` on brand_id, the record's value
 * (the code) is matched against brands.code and brands.id is written.
 *
 * Each look-up's table is read once, when the run has begun its target transaction (on the
 * target's connection, so rows written earlier in the same transaction are seen), into a hash
 * table from its match values to its value; resolving a record is then one probe per look-up
 * field. Values are matched as text, exactly as the table holds them (after the field's own
 * trim and transforms); rows with NULL in a match column are left out. The found value takes
 * the field's type's canonical form, as a source value would. No row found fails the record
 * ("brand_id 'BR-9' not found in brands.code"), or writes NULL with optional: true; two rows
 * with the same match values fail the records that name them. An empty value is not looked up:
 * the field is NULL (required: says whether that is allowed).
 *
 * Memory: the tables' match and value text and about 32 bytes a row, up to
 * FERRY_LOOKUP_BYTES_MAX in all; a larger table fails the run with a message saying so.
 *
 * A ferry_lookups belongs to the run's thread. */
#ifndef FERRY_SYNC_LOOKUP_H
#define FERRY_SYNC_LOOKUP_H

#include <stdbool.h>

#include "config/config.h"
#include "target/record.h"
#include "target/target.h"
#include "util/err.h"

#define FERRY_LOOKUP_BYTES_MAX ((size_t)1 << 30)

typedef struct ferry_lookups ferry_lookups;

/* Reads the look-up tables of sync's fields through target (begun); tenant (may be NULL)
 * expands {variable}s in a look-up's scope values. *ret_lookups is NULL when no field has a
 * look-up. */
ferry_rc ferry_lookups_load(const ferry_sync_spec *sync, const char *tenant, ferry_target *target,
                            ferry_lookups **ret_lookups, ferry_err *err);

/* Resolves rec's look-up fields into *ret_rec (rec with the found values; borrowed until the
 * next call). A record whose look-up fails gets *ret_reason ("brand_id 'BR-9' not found in
 * brands.code", borrowed until the next call; *ret_rec unset); else *ret_reason is NULL.
 * FERRY_ENOMEM is the only error. */
ferry_rc ferry_lookups_resolve(ferry_lookups *l, const ferry_mapped_record *rec,
                               ferry_mapped_record *ret_rec, const char **ret_reason,
                               ferry_err *err);

/* NULL is allowed. */
void ferry_lookups_free(ferry_lookups *l);

/* The field whose look-up failed, after ferry_lookups_resolve() gave a reason. */
long ferry_lookups_failed_field(const ferry_lookups *l);

#endif
