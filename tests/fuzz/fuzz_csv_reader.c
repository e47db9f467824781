/* fuzz_csv_reader.c - fuzz target for the streaming CSV reader (src/source/csv_reader.c).
 *
 * The input bytes are the CSV. They are read twice: with the default limits, and with small
 * limits (fields of 16 bytes, 8 fields, records of 64 bytes) and a delimiter picked from the
 * data. Each read call returns a chunk whose size (1 to 8, or up to 4 KiB) is derived from
 * the data, so buffer boundaries fall in every state of the parser.
 *
 * Invariants checked (a violation aborts):
 * - the reader never fails (the read callback never does) and ends with FERRY_DONE, again
 *   on a further call; except that an input starting as UTF-16 is refused with FERRY_ECSV at
 *   the first call, and again on a further one;
 * - only the last record may be unterminated (the input ended inside it), and only an
 *   unterminated one may have its quote open; an error's byte offset lies inside the input;
 * - the bytes consumed equal the input size at the end;
 * - a record without an error has 1 to max_fields fields, each NUL-terminated at len, with
 *   strlen == len (no NUL inside), valid UTF-8 and at most max_field_bytes;
 * - rows increase, lines never decrease, error_field is -1 or a field index;
 * - the fields of all records together hold no more bytes than the input. */
#include "source/csv_reader.h"
#include "util/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_csv_reader: invariant failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    uint32_t state; /* drives the chunk sizes */
    bool tiny;      /* chunks of 1 to 8 bytes, else up to 4 KiB */
} chunked_input;

static ferry_rc chunked_read(void *ctx, char *buf, size_t cap, size_t *ret_n, ferry_err *err)
{
    chunked_input *in = ctx;
    size_t n = in->size - in->pos, want;

    (void)err;
    /* The next chunk size comes from the data itself, mixed with a running state. */
    in->state = in->state * 1103515245u + 12345u + (in->pos < in->size ? in->data[in->pos] : 0u);
    want = in->tiny ? 1 + (in->state >> 16) % 8 : 1 + (in->state >> 8) % 4096;
    if (n > want)
        n = want;
    if (n > cap)
        n = cap;
    memcpy(buf, in->data + in->pos, n);
    in->pos += n;
    *ret_n = n;
    return FERRY_OK;
}

static void read_all(const uint8_t *data, size_t size, const ferry_csv_limits *limits,
                     bool tiny_chunks)
{
    chunked_input in = {data, size, 0, (uint32_t)size, tiny_chunks};
    size_t max_fields = limits != NULL ? limits->max_fields : 16384;
    size_t max_field = limits != NULL ? limits->max_field_bytes : 1024 * 1024;
    ferry_csv_reader *r = NULL;
    ferry_csv_record rec;
    long last_row = 0, last_line = 0;
    bool saw_unterminated = false;
    size_t records = 0, field_bytes = 0;
    ferry_err err;
    ferry_rc rc;

    ferry_err_clear(&err);
    CHECK(ferry_csv_reader_new(limits, chunked_read, &in, &r, &err) == FERRY_OK);
    while ((rc = ferry_csv_reader_next(r, &rec, &err)) == FERRY_OK) {
        CHECK(!saw_unterminated);
        saw_unterminated = rec.unterminated;
        CHECK(!rec.quote_open || rec.unterminated);
        CHECK(rec.error_offset >= -1 && rec.error_offset < (int64_t)size);
        CHECK(rec.error != NULL || rec.error_offset == -1);
        records++;
        CHECK(records <= size + 1);
        CHECK(rec.row > last_row);
        CHECK(rec.line >= 1 && rec.line >= last_line);
        last_row = rec.row;
        last_line = rec.line;
        CHECK(rec.error_field >= -1);
        CHECK(rec.nfields <= max_fields);
        for (size_t i = 0; i < rec.nfields; i++) {
            CHECK(rec.field[i][rec.len[i]] == '\0');
            field_bytes += rec.len[i];
        }
        if (rec.error != NULL) {
            CHECK(rec.error[0] != '\0');
            /* The field may be one not stored (the one past max_fields). */
            CHECK(rec.error_field <= (long)max_fields);
            continue;
        }
        CHECK(rec.error_field == -1);
        CHECK(rec.nfields >= 1);
        for (size_t i = 0; i < rec.nfields; i++) {
            CHECK(strlen(rec.field[i]) == rec.len[i]);
            CHECK(rec.len[i] <= max_field);
            CHECK(ferry_utf8_is_valid(rec.field[i], rec.len[i]));
        }
    }
    if (rc == FERRY_ECSV) { /* UTF-16, refused at once */
        CHECK(records == 0);
        CHECK(strstr(err.msg, "UTF-16") != NULL);
        CHECK(ferry_csv_reader_next(r, &rec, &err) == FERRY_ECSV);
        ferry_csv_reader_free(r);
        return;
    }
    CHECK(rc == FERRY_DONE);
    CHECK(err.code == FERRY_OK);
    CHECK(field_bytes <= size);
    CHECK(ferry_csv_reader_bytes_consumed(r) == size);
    CHECK(in.pos == size);
    CHECK(ferry_csv_reader_next(r, &rec, &err) == FERRY_DONE);
    ferry_csv_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char delimiters[] = {',', ';', '\t', '|', ' ', 'a'};
    ferry_csv_limits small;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    read_all(data, size, NULL, (h & 1) != 0);

    ferry_csv_limits_default(&small);
    small.max_field_bytes = 16;
    small.max_fields = 8;
    small.max_record_bytes = 64;
    small.delimiter = delimiters[(h >> 8) % sizeof(delimiters)];
    read_all(data, size, &small, true);
    return 0;
}
