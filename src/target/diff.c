/* diff.c - field diffs and duplicate reasons shared by the targets (see diff.h).
 *
 * Values are compared from text: the target reads the old value in its text form and the new
 * one is the mapper's canonical text. For a typed column both are first put in the column's
 * comparison form (value.c), so a diff never depends on how a backend stores a type.
 * Long values are cut at 60 bytes for the text form, on a UTF-8 character boundary. */
#include "target/diff.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIFF_TEXT_MAX 8192

void ferry_target_diff_init(ferry_target_diff *d)
{
    memset(d, 0, sizeof(*d));
    ferry_buf_init(&d->text, DIFF_TEXT_MAX);
    ferry_buf_init(&d->old_form, DIFF_TEXT_MAX * 128);
    ferry_buf_init(&d->new_form, DIFF_TEXT_MAX * 128);
}

void ferry_target_diff_reset(ferry_target_diff *d)
{
    ferry_buf_reset(&d->text);
    free(d->json);
    d->json = NULL;
    json_decref(d->fields);
    d->fields = NULL;
}

void ferry_target_diff_done(ferry_target_diff *d)
{
    if (d == NULL)
        return;
    ferry_target_diff_reset(d);
    ferry_buf_done(&d->text);
    ferry_buf_done(&d->old_form);
    ferry_buf_done(&d->new_form);
}

/* Quotes a value for the text form, NULL as (empty). */
static void show(ferry_buf *b, const char *v)
{
    if (v == NULL)
        ferry_buf_printf_trunc(b, "(empty)");
    else if (strlen(v) > 60) {
        size_t cut = 57;
        while (cut > 0 && ((unsigned char)v[cut] & 0xC0) == 0x80)
            cut--; /* do not split a UTF-8 sequence */
        ferry_buf_printf_trunc(b, "'%.*s...'", (int)cut, v);
    } else
        ferry_buf_printf_trunc(b, "'%s'", v);
}

static bool same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Records one changed field, with old and new as shown. */
static ferry_rc record(ferry_target_diff *d, const char *name, const char *old, const char *new,
                       ferry_err *err)
{
    if (d->fields == NULL && (d->fields = json_object()) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "building a diff");
    json_object_set_new(d->fields, name, json_pack("[s?s?]", old, new));
    ferry_buf_printf_trunc(&d->text, "%s%s: ", d->text.len ? ", " : "", name);
    show(&d->text, old);
    ferry_buf_printf_trunc(&d->text, " -> ");
    show(&d->text, new);
    return FERRY_OK;
}

ferry_rc ferry_target_diff_add(ferry_target_diff *d, const char *name, const char *old,
                               const char *new, ferry_err *err)
{
    if (same(old, new))
        return FERRY_OK;
    return record(d, name, old, new, err);
}

ferry_rc ferry_target_diff_add_typed(ferry_target_diff *d, const char *name,
                                     const ferry_column_type *ct, const char *old, const char *new,
                                     ferry_err *err)
{
    const char *old_form, *new_form;

    if (same(old, new))
        return FERRY_OK;
    if (!ferry_column_type_has_norm(ct))
        return record(d, name, old, new, err);
    old_form = ferry_column_value_norm(ct, old, &d->old_form);
    new_form = ferry_column_value_norm(ct, new, &d->new_form);
    if (same(old_form, new_form))
        return FERRY_OK;
    return record(d, name, ferry_column_value_show(ct, old, old_form),
                  ferry_column_value_show(ct, new, new_form), err);
}

ferry_rc ferry_target_diff_finish(ferry_target_diff *d, bool *ret_changed, ferry_err *err)
{
    free(d->json);
    d->json = NULL;
    *ret_changed = d->fields != NULL;
    if (d->fields == NULL)
        return FERRY_OK;
    d->json = json_dumps(d->fields, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(d->fields);
    d->fields = NULL;
    if (d->json == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "building a diff");
    return FERRY_OK;
}

const char *ferry_target_diff_json(const ferry_target_diff *d)
{
    return d->json;
}

const char *ferry_target_diff_text(const ferry_target_diff *d)
{
    return ferry_buf_str(&d->text);
}

void ferry_target_reason_duplicate(const ferry_sync_spec *sync, const char *key, char *out,
                                   size_t outlen)
{
    bool one = ferry_sync_key_shown(sync) == 1;

    /* "duplicate key id 'E001'", or "duplicate key 'a=1, b=2'" (the key names its fields). */
    snprintf(out, outlen, "duplicate key %s%s'%s': an earlier row of this source has the same key",
             one ? sync->target.key[0] : "", one ? " " : "", key != NULL ? key : "");
}
