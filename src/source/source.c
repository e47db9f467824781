/* source.c - picks the source implementation for a sync's source kind. */
#include "source/source.h"

ferry_rc ferry_source_open(const ferry_sync_spec *sync, const char *base_dir,
                           const atomic_bool *cancel, ferry_source **ret_src, ferry_err *err)
{
    switch (sync->source.kind) {
    case FERRY_SOURCE_CSV:
        return ferry_csv_source_open(sync, base_dir, cancel, ret_src, err);
    }
    return ferry_err_set(err, FERRY_EINVAL, "unknown source kind");
}

void ferry_source_free(ferry_source *src)
{
    if (src != NULL)
        src->ops->free(src);
}
