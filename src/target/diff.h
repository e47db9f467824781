/* diff.h - the words a target uses for a record's outcome, shared by every target.
 *
 * An updated record is described twice: as JSON ({"field": ["old", "new"], ...}, for the
 * change rows) and as text ("email: 'a@x.io' -> 'b@x.io'", for the log message). A duplicate
 * key within a run has one reason. Every target builds these through this file, so the same
 * input gives byte-identical diffs and reasons on every backend.
 *
 * A ferry_target_diff belongs to one target (one thread); what it returns is borrowed until
 * its next reset. */
#ifndef FERRY_TARGET_DIFF_H
#define FERRY_TARGET_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "target/value.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct {
    ferry_buf text;
    char *json;
    void *fields; /* the JSON object being built (json_t *), NULL until the first change */
    ferry_buf old_form, new_form; /* scratch for ferry_target_diff_add_typed() */
} ferry_target_diff;

void ferry_target_diff_init(ferry_target_diff *d);
void ferry_target_diff_done(ferry_target_diff *d);

/* Forgets the previous diff. */
void ferry_target_diff_reset(ferry_target_diff *d);

/* Compares one field's old and new text (NULL for empty) and records the change when they
 * differ. name and the values are borrowed. */
ferry_rc ferry_target_diff_add(ferry_target_diff *d, const char *name, const char *old,
                               const char *new, ferry_err *err);

/* Like ferry_target_diff_add() for a column of type ct (borrowed): the values are compared by
 * value (ferry_column_value_norm()) and a change is shown as ferry_column_value_show() says.
 * A text column compares and shows exactly as ferry_target_diff_add(). */
ferry_rc ferry_target_diff_add_typed(ferry_target_diff *d, const char *name,
                                     const ferry_column_type *ct, const char *old, const char *new,
                                     ferry_err *err);

/* Ends the diff: *ret_changed says whether any field differed; when it did, the JSON and the
 * text are ready (ferry_target_diff_json(), ferry_target_diff_text()). */
ferry_rc ferry_target_diff_finish(ferry_target_diff *d, bool *ret_changed, ferry_err *err);

const char *ferry_target_diff_json(const ferry_target_diff *d);
const char *ferry_target_diff_text(const ferry_target_diff *d);

/* Writes the reason a record fails as a duplicate of an earlier one with the same key
 * ("duplicate key id 'E001': ...", or "duplicate key 'a=1, b=2': ..." for a composite key)
 * into out. key (the mapper's form of the record key) may be NULL. */
void ferry_target_reason_duplicate(const ferry_sync_spec *sync, const char *key, char *out,
                                   size_t outlen);

#endif
