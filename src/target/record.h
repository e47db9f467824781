/* record.h - a record as a target receives it: typed, validated field values.
 *
 * The mapper (sync/map.h) produces these and the targets consume them; the type lives here,
 * with the interface that consumes it, so the target folder needs nothing of sync/. */
#ifndef FERRY_TARGET_RECORD_H
#define FERRY_TARGET_RECORD_H

#include <stddef.h>

typedef struct {
    size_t nvalues;
    const char *const *value; /* canonical text per field, NULL for empty; borrowed */
    const size_t *len;
    const char *key; /* the record key for messages ("E001", or "a=1, b=2"); NULL when
                        a key field could not be read */
    long row;
    const char *reason;     /* skipped/failed: "row 9: employment 'Freelance' not in
                               [Karyawan]"; NULL when mapped */
    const char *skip_label; /* skipped by a rule with a label: the label (borrowed from the
                               config, one of the sync's skip_labels); else NULL */
    long field;             /* skipped/failed: the index of the field whose value made it so,
                               or -1 (the record as a whole) */
} ferry_mapped_record;

#endif
