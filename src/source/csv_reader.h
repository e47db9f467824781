/* csv_reader.h - a streaming RFC 4180 CSV reader.
 *
 * The reader pulls bytes through a read callback into a fixed 64 KiB buffer and yields one
 * record at a time, so memory is bounded by the largest record, never by the file. Quoted
 * fields keep commas, doubled quotes (as one quote) and line breaks verbatim, CRLF included.
 * Records end at LF, CRLF or a lone CR. A UTF-8 byte order mark at the start is dropped.
 * Blank lines are not records (trailing ones included).
 *
 * A record that cannot be used (a field over the size limit, too many fields, a NUL byte,
 * invalid UTF-8, text after a closing quote, a quote left open at the end of the input) is
 * still returned, with error set, so the caller can fail that record and go on; the reader
 * always resynchronises at the next record boundary. A record the input ended inside (no line
 * end after it) says so (unterminated), so the caller can tell a cut-off input from a final
 * line without a newline.
 *
 * Only two things end the stream with an error: the read callback failing, and an input that
 * starts as UTF-16 (a UTF-16 byte order mark, or ASCII text with a NUL after or before every
 * character), which is refused at the first call with FERRY_ECSV and a message naming the
 * encoding.
 *
 * Not thread-safe; one reader belongs to one thread. */
#ifndef FERRY_SOURCE_CSV_READER_H
#define FERRY_SOURCE_CSV_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Fills buf with up to cap bytes and sets *ret_n; *ret_n == 0 means the end of the input. */
typedef ferry_rc (*ferry_csv_read_cb)(void *ctx, char *buf, size_t cap, size_t *ret_n,
                                      ferry_err *err);

typedef struct {
    size_t max_field_bytes;  /* default 1 MiB */
    size_t max_fields;       /* default 16384 */
    size_t max_record_bytes; /* default 64 MiB */
    char delimiter;          /* default ',' */
} ferry_csv_limits;

typedef struct {
    size_t nfields;
    char **field;         /* field[i] is NUL-terminated (it may hold NULs only when error is
                             set); borrowed until the next call */
    size_t *len;          /* len[i] is field[i]'s length in bytes */
    long row;             /* the record's number, counting the header as 1 and blank lines */
    long line;            /* the physical line the record starts on, 1-based */
    const char *error;    /* NULL, or why this record cannot be used (borrowed) */
    long error_field;     /* the 0-based field the error is about, or -1 */
    int64_t error_offset; /* the byte the error is about (a NUL, invalid UTF-8), counted from
                             0 at the start of the input (a BOM included), or -1 */
    bool unterminated;    /* the input ended inside this record: no line end followed it */
    bool quote_open;      /* the input ended inside a quoted field of this record */
} ferry_csv_record;

typedef struct ferry_csv_reader ferry_csv_reader;

/* Fills limits with the defaults. */
void ferry_csv_limits_default(ferry_csv_limits *limits);

/* Creates a reader over read(ctx, ...). limits may be NULL for the defaults. On success
 * *ret_reader is owned by the caller (ferry_csv_reader_free()). ctx is borrowed. */
ferry_rc ferry_csv_reader_new(const ferry_csv_limits *limits, ferry_csv_read_cb read, void *ctx,
                              ferry_csv_reader **ret_reader, ferry_err *err);

/* Reads the next record into *ret_rec (its contents are borrowed from the reader until the
 * next call). Returns FERRY_OK, FERRY_DONE at the end of the input, or the read callback's
 * error. */
ferry_rc ferry_csv_reader_next(ferry_csv_reader *reader, ferry_csv_record *ret_rec, ferry_err *err);

/* Bytes of input consumed so far (for progress). */
uint64_t ferry_csv_reader_bytes_consumed(const ferry_csv_reader *reader);

/* Frees the reader; NULL is allowed. */
void ferry_csv_reader_free(ferry_csv_reader *reader);

#endif
