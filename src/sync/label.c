/* label.c - a record's name from its fields (see label.h).
 *
 * Two passes over a bounded scratch: the parts and values are joined first (at most
 * RAW_MAX bytes; a longer join is cut, which the final cut hides), then tidied into out in
 * one walk that drops empty bracket pairs, folds white space and trims the ends. */
#include "sync/label.h"

#include <string.h>

#define RAW_MAX (4 * FERRY_RECORD_LABEL_MAX)
#define ELLIPSIS "..."

/* Appends n bytes of s to raw (len so far), cut at RAW_MAX. */
static void raw_append(char *raw, size_t *len, const char *s, size_t n)
{
    if (n > RAW_MAX - *len)
        n = RAW_MAX - *len;
    memcpy(raw + *len, s, n);
    *len += n;
}

static bool is_space(unsigned char c)
{
    return c <= ' ' || c == 0x7f;
}

/* The closing bracket of c, or 0 when c opens none. */
static char closer(char c)
{
    return c == '(' ? ')' : c == '[' ? ']' : 0;
}

bool ferry_record_label_render(const ferry_record_label *label, const ferry_mapped_record *rec,
                               ferry_buf *out)
{
    char raw[RAW_MAX], tidy[RAW_MAX];
    size_t len = 0, n = 0;
    bool space = false;

    ferry_buf_reset(out);
    if (label == NULL || label->nparts == 0)
        return false;
    for (size_t p = 0; p < label->nparts; p++) {
        const ferry_label_part *part = &label->parts[p];
        long f = part->field;

        raw_append(raw, &len, part->text, strlen(part->text));
        if (f >= 0 && (size_t)f < rec->nvalues && rec->value[f] != NULL)
            raw_append(raw, &len, rec->value[f], rec->len[f]);
    }
    for (size_t i = 0; i < len; i++) {
        char c = raw[i], close = closer(c);

        if (close != 0) {
            size_t j = i + 1;
            while (j < len && is_space((unsigned char)raw[j]))
                j++;
            if (j < len && raw[j] == close) {
                i = j; /* "()" left by a missing value, and the space before it, go */
                continue;
            }
        }
        if (is_space((unsigned char)c)) {
            space = true;
            continue;
        }
        if (space && n > 0)
            tidy[n++] = ' ';
        space = false;
        tidy[n++] = c;
    }
    if (n > FERRY_RECORD_LABEL_MAX) {
        n = FERRY_RECORD_LABEL_MAX - strlen(ELLIPSIS);
        while (n > 0 && ((unsigned char)tidy[n] & 0xC0) == 0x80)
            n--; /* not inside a UTF-8 sequence */
        memcpy(tidy + n, ELLIPSIS, strlen(ELLIPSIS));
        n += strlen(ELLIPSIS);
    }
    if (n == 0 || ferry_buf_append(out, tidy, n) != FERRY_OK) {
        ferry_buf_reset(out);
        return false;
    }
    return true;
}
