/* label.h - a record's name in messages and change rows (label: on a sync, docs/config.md).
 *
 * label: "{name} ({email})" names each record by its mapped field values, so the log message
 * says "Created: John Doe (john@example.com)" where it would say "Created: E001", and each
 * change row keeps the name beside the key. The config parses the label into literal text and
 * fields (ferry_record_label, config.h); this renders it for one record.
 *
 * Pure functions; any thread. */
#ifndef FERRY_SYNC_LABEL_H
#define FERRY_SYNC_LABEL_H

#include <stdbool.h>

#include "config/config.h"
#include "target/record.h"
#include "util/buf.h"

/* Renders label for rec into out (reset first; its max should be at least
 * FERRY_RECORD_LABEL_MAX). Each field's value is its mapped (canonical) text; a field
 * without a value (empty, or not read because the record failed or was skipped first)
 * renders empty, and brackets left empty by it go, with the space before them: "{name}
 * ({email})" without an email is "Bob Wilson". White space runs (control characters
 * included) become one space, and the ends are trimmed. A name past FERRY_RECORD_LABEL_MAX
 * bytes is cut at a character boundary and ends with "...". Returns false, with out empty,
 * when the sync has no label or the name comes out empty: the record is then named by its
 * key. */
bool ferry_record_label_render(const ferry_record_label *label, const ferry_mapped_record *rec,
                               ferry_buf *out);

#endif
