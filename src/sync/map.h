/* map.h - turns a source record's raw values into typed, validated field values.
 *
 * ferry_map_record() applies, per field: trim, required, the type's parsing and its canonical
 * form (the form stored and compared, so "12.50" and "12.5" are the same decimal), then the
 * sync's skip rules. The result is one outcome: mapped, skipped (with the rule that matched)
 * or failed (with the first reason). Reasons name the row, field and value:
 * "row 17: email 'bob@' is not an email address".
 *
 * A ferry_mapper is owned by one thread; values it returns are borrowed until the next call. */
#ifndef FERRY_SYNC_MAP_H
#define FERRY_SYNC_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "source/source.h"
#include "target/record.h"
#include "util/buf.h"
#include "util/err.h"

typedef enum {
    FERRY_MAP_OK = 0,
    FERRY_MAP_SKIPPED,
    FERRY_MAP_FAILED,
} ferry_map_result;

/* ferry_mapped_record, the mapper's output, is target/record.h's: what a target takes. */

typedef struct ferry_mapper ferry_mapper;

/* Creates a mapper for sync (borrowed; must outlive the mapper). tenant (copied; NULL for a
 * sync without tenants) is the value of the sync's tenant field in every record. Messages
 * call a record "row N" for CSV sources and "record N" for REST sources. */
ferry_rc ferry_mapper_new(const ferry_sync_spec *sync, const char *tenant,
                          ferry_mapper **ret_mapper, ferry_err *err);

/* Maps one source record. Returns FERRY_OK with *ret_result set and *ret_out filled (borrowed
 * until the next call); FERRY_ENOMEM is the only error. */
ferry_rc ferry_mapper_map(ferry_mapper *m, const ferry_source_record *in,
                          ferry_map_result *ret_result, ferry_mapped_record *ret_out,
                          ferry_err *err);

/* Frees the mapper; NULL is allowed. */
void ferry_mapper_free(ferry_mapper *m);

/* Converts text of len bytes to the canonical form of type into out (reset first). Returns
 * NULL on success or a static description of what is wrong ("is not an integer"). enum
 * values are matched case-insensitively against field->values. */
const char *ferry_map_convert(const ferry_field_spec *field, const char *text, size_t len,
                              ferry_buf *out);

#endif
