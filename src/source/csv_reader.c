/* csv_reader.c - the streaming RFC 4180 reader (see csv_reader.h).
 *
 * Design: input arrives in a fixed buffer (inbuf) refilled by the read callback. Field bytes
 * are copied into one record buffer (rec), each field followed by a NUL, so a record's fields
 * are contiguous and borrowed pointers stay valid until the next call. The parser is a small
 * state machine over bytes; runs of ordinary bytes inside a field are copied with one memcpy
 * using a class table, which keeps the common case (short unquoted fields) fast.
 *
 * Limits: a field past max_field_bytes, a record past max_fields or max_record_bytes stops
 * being stored but is still scanned to its end, so the next record starts in the right place
 * and the oversized one is reported with its row and line. Memory is at most the 64 KiB input
 * buffer plus the largest record within the limits.
 *
 * Strictness: a closing quote must be followed by the delimiter or a line end; other text
 * after it ("d"junk) fails the record rather than being glued on, since it means the
 * quoting is not what the exporter meant. Errors about one byte (a NUL, invalid UTF-8) give
 * its offset in the input: each field remembers where its text starts in the input and
 * whether it was quoted, and the only bytes a field stores differently from the input are
 * doubled quotes (one stored, two read), so the offset is the field's start plus the stored
 * offset plus the quotes before it.
 *
 * Encoding: the input must be UTF-8. An input that starts as UTF-16 (a UTF-16 byte order
 * mark, or a NUL after or before each of the first two characters) is refused as a whole
 * with a message naming the encoding, instead of failing every record with "contains a NUL
 * byte".
 *
 * Why not a library: Debian has libcsv, but it is callback-driven, cannot report the physical
 * line of a record, and has no per-field limit; these are the three things Ferry needs to fail
 * one record with a precise reason and go on. */
#include "source/csv_reader.h"
#include "util/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INBUF_SIZE (64 * 1024)

enum state {
    ST_FIELD_START, /* at the start of a field */
    ST_UNQUOTED,    /* inside an unquoted field */
    ST_QUOTED,      /* inside a quoted field */
    ST_QUOTE,       /* just read a quote inside a quoted field */
};

/* Byte classes for the fast scan of ordinary bytes. */
enum { C_PLAIN = 0, C_SPECIAL = 1 };

struct ferry_csv_reader {
    ferry_csv_limits limits;
    ferry_csv_read_cb read;
    void *read_ctx;

    char *inbuf;
    size_t inpos, inlen;
    bool eof;
    bool started;    /* the BOM check has been made */
    bool pending_cr; /* the previous record ended with CR: skip one LF */
    uint64_t consumed;

    char *rec; /* field bytes, each field NUL-terminated */
    size_t reclen, reccap;
    size_t *starts; /* field start offsets into rec */
    size_t *lens;
    uint64_t *in_starts; /* where each field's text starts in the input */
    bool *quoted;        /* each field was quoted */
    char **ptrs;
    size_t nfields, fieldcap;

    long row;  /* rows returned or skipped so far */
    long line; /* current physical line, 1-based */

    /* The record being read. */
    size_t field_start;
    uint64_t field_in_start; /* the input offset of the field's first byte of text */
    size_t field_len;
    bool field_quoted;
    bool field_truncated;
    bool record_dropping; /* too many fields or bytes: stop storing */
    char errbuf[256];
    bool has_error;
    long error_field;
    int64_t error_offset;
    char fatal[160]; /* set: the input is refused as a whole (UTF-16) */

    unsigned char cls[256];
};

void ferry_csv_limits_default(ferry_csv_limits *limits)
{
    limits->max_field_bytes = 1024 * 1024;
    limits->max_fields = 16384;
    limits->max_record_bytes = 64 * 1024 * 1024;
    limits->delimiter = ',';
}

ferry_rc ferry_csv_reader_new(const ferry_csv_limits *limits, ferry_csv_read_cb read, void *ctx,
                              ferry_csv_reader **ret_reader, ferry_err *err)
{
    ferry_csv_reader *r;

    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the CSV reader");
    if (limits != NULL)
        r->limits = *limits;
    else
        ferry_csv_limits_default(&r->limits);
    if (r->limits.max_field_bytes == 0 || r->limits.max_fields == 0 ||
        r->limits.max_record_bytes == 0 || r->limits.delimiter == '"' ||
        r->limits.delimiter == '\r' || r->limits.delimiter == '\n') {
        free(r);
        return ferry_err_set(err, FERRY_EINVAL, "invalid CSV reader limits");
    }
    r->read = read;
    r->read_ctx = ctx;
    r->inbuf = malloc(INBUF_SIZE);
    if (r->inbuf == NULL) {
        free(r);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the CSV input buffer");
    }
    r->line = 1;
    r->cls['"'] = C_SPECIAL;
    r->cls['\r'] = C_SPECIAL;
    r->cls['\n'] = C_SPECIAL;
    r->cls[(unsigned char)r->limits.delimiter] = C_SPECIAL;
    *ret_reader = r;
    return FERRY_OK;
}

void ferry_csv_reader_free(ferry_csv_reader *reader)
{
    if (reader == NULL)
        return;
    free(reader->inbuf);
    free(reader->rec);
    free(reader->starts);
    free(reader->lens);
    free(reader->in_starts);
    free(reader->quoted);
    free(reader->ptrs);
    free(reader);
}

uint64_t ferry_csv_reader_bytes_consumed(const ferry_csv_reader *reader)
{
    return reader->consumed;
}

/* Refills the input buffer. Returns FERRY_OK with inlen == 0 at the end of the input. */
static ferry_rc fill(ferry_csv_reader *r, ferry_err *err)
{
    size_t n = 0;
    ferry_rc rc;

    r->inpos = 0;
    r->inlen = 0;
    if (r->eof)
        return FERRY_OK;
    rc = r->read(r->read_ctx, r->inbuf, INBUF_SIZE, &n, err);
    if (rc != FERRY_OK)
        return rc;
    if (n == 0)
        r->eof = true;
    r->inlen = n;
    return FERRY_OK;
}

static void set_error(ferry_csv_reader *r, long field, const char *msg)
{
    if (r->has_error)
        return;
    r->has_error = true;
    r->error_field = field;
    r->error_offset = -1;
    snprintf(r->errbuf, sizeof(r->errbuf), "%s", msg);
}

static bool rec_reserve(ferry_csv_reader *r, size_t extra)
{
    size_t need = r->reclen + extra;
    size_t cap;
    char *grown;

    if (need <= r->reccap)
        return true;
    cap = r->reccap ? r->reccap : 4096;
    while (cap < need)
        cap *= 2;
    grown = realloc(r->rec, cap);
    if (grown == NULL)
        return false;
    r->rec = grown;
    r->reccap = cap;
    return true;
}

/* Appends n bytes to the current field, within the limits. */
static ferry_rc append(ferry_csv_reader *r, const char *p, size_t n, ferry_err *err)
{
    char msg[160];

    if (r->record_dropping || r->field_truncated)
        return FERRY_OK;
    if (r->field_len + n > r->limits.max_field_bytes) {
        snprintf(msg, sizeof(msg), "field %zu is larger than the limit of %zu bytes",
                 r->nfields + 1, r->limits.max_field_bytes);
        set_error(r, (long)r->nfields, msg);
        r->field_truncated = true;
        return FERRY_OK;
    }
    if (r->reclen + n + 1 > r->limits.max_record_bytes) {
        snprintf(msg, sizeof(msg), "record is larger than the limit of %zu bytes",
                 r->limits.max_record_bytes);
        set_error(r, -1, msg);
        r->record_dropping = true;
        return FERRY_OK;
    }
    if (!rec_reserve(r, n + 1))
        return ferry_err_set(err, FERRY_ENOMEM, "allocating a CSV record of %zu bytes",
                             r->reclen + n + 1);
    memcpy(r->rec + r->reclen, p, n);
    r->reclen += n;
    r->field_len += n;
    return FERRY_OK;
}

static ferry_rc end_field(ferry_csv_reader *r, ferry_err *err)
{
    char msg[96];

    if (r->record_dropping)
        goto next;
    if (r->nfields >= r->limits.max_fields) {
        snprintf(msg, sizeof(msg), "record has more than %zu fields", r->limits.max_fields);
        set_error(r, -1, msg);
        r->record_dropping = true;
        goto next;
    }
    if (r->nfields == r->fieldcap) {
        size_t cap = r->fieldcap ? r->fieldcap * 2 : 32;
        size_t *s = realloc(r->starts, cap * sizeof(*s));
        if (s == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "allocating CSV fields");
        r->starts = s;
        s = realloc(r->lens, cap * sizeof(*s));
        if (s == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "allocating CSV fields");
        r->lens = s;
        uint64_t *in = realloc(r->in_starts, cap * sizeof(*in));
        if (in == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "allocating CSV fields");
        r->in_starts = in;
        bool *q = realloc(r->quoted, cap * sizeof(*q));
        if (q == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "allocating CSV fields");
        r->quoted = q;
        r->fieldcap = cap;
    }
    if (!rec_reserve(r, 1))
        return ferry_err_set(err, FERRY_ENOMEM, "allocating a CSV record");
    r->rec[r->reclen++] = '\0';
    r->starts[r->nfields] = r->field_start;
    r->lens[r->nfields] = r->field_len;
    r->in_starts[r->nfields] = r->field_in_start;
    r->quoted[r->nfields] = r->field_quoted;
    r->nfields++;
next:
    r->field_start = r->reclen;
    r->field_len = 0;
    r->field_quoted = false;
    r->field_truncated = false;
    return FERRY_OK;
}

static void record_reset(ferry_csv_reader *r)
{
    r->reclen = 0;
    r->nfields = 0;
    r->field_start = 0;
    r->field_len = 0;
    r->field_quoted = false;
    r->field_truncated = false;
    r->record_dropping = false;
    r->has_error = false;
    r->error_field = -1;
    r->error_offset = -1;
}

/* The input offset of byte pos of stored field i: a quoted field stores one quote for the
 * two it reads. */
static int64_t input_offset(const ferry_csv_reader *r, size_t i, size_t pos)
{
    uint64_t off = r->in_starts[i] + pos;

    if (r->quoted[i]) {
        const char *f = r->rec + r->starts[i];
        for (size_t k = 0; k < pos; k++)
            off += f[k] == '"';
    }
    return (int64_t)off;
}

/* Checks the finished record for NUL bytes and invalid UTF-8 and fills out. unterminated:
 * the input ended inside the record (quote_open: inside a quoted field). */
static ferry_rc record_finish(ferry_csv_reader *r, long start_line, bool unterminated,
                              bool quote_open, ferry_csv_record *out, ferry_err *err)
{
    char msg[96];
    const char *nul;
    size_t i, valid;

    if (r->nfields > 0) {
        char **p = realloc(r->ptrs, r->nfields * sizeof(*p));
        if (p == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "allocating CSV fields");
        r->ptrs = p;
    }
    for (i = 0; i < r->nfields; i++) {
        r->ptrs[i] = r->rec + r->starts[i];
        if (r->has_error)
            continue;
        if ((nul = memchr(r->ptrs[i], '\0', r->lens[i])) != NULL) {
            snprintf(msg, sizeof(msg), "field %zu contains a NUL byte", i + 1);
            set_error(r, (long)i, msg);
            r->error_offset = input_offset(r, i, (size_t)(nul - r->ptrs[i]));
        } else if ((valid = ferry_utf8_valid_prefix(r->ptrs[i], r->lens[i])) < r->lens[i]) {
            snprintf(msg, sizeof(msg), "field %zu is not valid UTF-8", i + 1);
            set_error(r, (long)i, msg);
            r->error_offset = input_offset(r, i, valid);
        }
    }
    out->nfields = r->nfields;
    out->field = r->ptrs;
    out->len = r->lens;
    out->row = r->row;
    out->line = start_line;
    out->error = r->has_error ? r->errbuf : NULL;
    out->error_field = r->has_error ? r->error_field : -1;
    out->error_offset = r->has_error ? r->error_offset : -1;
    out->unterminated = unterminated;
    out->quote_open = quote_open;
    return FERRY_OK;
}

/* The name of the UTF-16 form the first n bytes at p are in, or NULL. Without a byte order
 * mark, two characters each with a NUL byte beside it are taken as UTF-16 (text in UTF-8
 * never holds NUL bytes). */
static const char *utf16_form(const unsigned char *p, size_t n)
{
    if (n >= 2 && p[0] == 0xFF && p[1] == 0xFE)
        return "UTF-16 LE with a byte order mark";
    if (n >= 2 && p[0] == 0xFE && p[1] == 0xFF)
        return "UTF-16 BE with a byte order mark";
    if (n >= 4 && p[0] != 0 && p[1] == 0 && p[2] != 0 && p[3] == 0)
        return "UTF-16 LE without a byte order mark";
    if (n >= 4 && p[0] == 0 && p[1] != 0 && p[2] == 0 && p[3] != 0)
        return "UTF-16 BE without a byte order mark";
    return NULL;
}

/* Drops a UTF-8 BOM at the very start of the input, and refuses UTF-16. */
static ferry_rc skip_bom(ferry_csv_reader *r, ferry_err *err)
{
    const char *form;
    ferry_rc rc;

    r->started = true;
    /* Make sure at least four bytes are buffered unless the input is shorter. */
    while (r->inlen - r->inpos < 4 && !r->eof) {
        size_t have = r->inlen - r->inpos, n = 0;
        memmove(r->inbuf, r->inbuf + r->inpos, have);
        r->inpos = 0;
        r->inlen = have;
        rc = r->read(r->read_ctx, r->inbuf + have, INBUF_SIZE - have, &n, err);
        if (rc != FERRY_OK)
            return rc;
        if (n == 0)
            r->eof = true;
        r->inlen += n;
    }
    if (r->inlen - r->inpos >= 3 && memcmp(r->inbuf + r->inpos, "\xEF\xBB\xBF", 3) == 0) {
        r->inpos += 3;
        r->consumed += 3;
    }
    form = utf16_form((const unsigned char *)r->inbuf + r->inpos, r->inlen - r->inpos);
    if (form != NULL)
        snprintf(r->fatal, sizeof(r->fatal),
                 "the input is %s, not UTF-8: export or save it as CSV in UTF-8", form);
    return FERRY_OK;
}

ferry_rc ferry_csv_reader_next(ferry_csv_reader *r, ferry_csv_record *ret_rec, ferry_err *err)
{
    enum state st;
    long start_line;
    ferry_rc rc;
    char c;

    if (!r->started && (rc = skip_bom(r, err)) != FERRY_OK)
        return rc;
    if (r->fatal[0] != '\0')
        return ferry_err_set(err, FERRY_ECSV, "%s", r->fatal);

again:
    record_reset(r);
    st = ST_FIELD_START;
    start_line = r->line;
    for (;;) {
        if (r->inpos == r->inlen) {
            rc = fill(r, err);
            if (rc != FERRY_OK)
                return rc;
            if (r->inlen == 0)
                break;
        }
        c = r->inbuf[r->inpos];
        if (r->pending_cr) {
            r->pending_cr = false;
            if (c == '\n') {
                r->inpos++;
                r->consumed++;
                continue;
            }
        }
        if (st == ST_UNQUOTED || st == ST_QUOTED) {
            /* Copy a run of ordinary bytes at once. */
            size_t end = r->inpos;
            while (end < r->inlen && r->cls[(unsigned char)r->inbuf[end]] == C_PLAIN)
                end++;
            if (st == ST_QUOTED) {
                /* In quotes, only the quote is special; line breaks are data. */
                while (end < r->inlen && r->inbuf[end] != '"') {
                    if (r->inbuf[end] == '\n')
                        r->line++;
                    end++;
                }
            }
            if (end > r->inpos) {
                rc = append(r, r->inbuf + r->inpos, end - r->inpos, err);
                if (rc != FERRY_OK)
                    return rc;
                r->consumed += end - r->inpos;
                r->inpos = end;
                continue;
            }
        }
        r->inpos++;
        r->consumed++;
        if (st == ST_FIELD_START) /* the field's text starts here, or after its quote */
            r->field_in_start = r->consumed - (c == '"' ? 0 : 1);
        switch (st) {
        case ST_QUOTED:
            /* Only a quote reaches here (the run copy takes everything else). */
            st = ST_QUOTE;
            break;
        case ST_QUOTE:
            if (c == '"') {
                if ((rc = append(r, &c, 1, err)) != FERRY_OK)
                    return rc;
                st = ST_QUOTED;
                break;
            }
            /* A closing quote: only the delimiter or a line end may follow. Other text ("d"junk)
             * fails the record; it is scanned as an unquoted field to the next delimiter. */
            if (c != r->limits.delimiter && c != '\r' && c != '\n') {
                char msg[96];
                snprintf(msg, sizeof(msg), "field %zu has text after its closing quote",
                         r->nfields + 1);
                set_error(r, (long)r->nfields, msg);
            }
            /* fall through */
        case ST_FIELD_START:
            if (st == ST_FIELD_START && c == '"') {
                r->field_quoted = true;
                st = ST_QUOTED;
                break;
            }
            /* fall through */
        case ST_UNQUOTED:
            if (c == r->limits.delimiter) {
                if ((rc = end_field(r, err)) != FERRY_OK)
                    return rc;
                st = ST_FIELD_START;
            } else if (c == '\r' || c == '\n') {
                goto end_of_record;
            } else {
                /* A quote inside an unquoted field is kept as data. */
                if ((rc = append(r, &c, 1, err)) != FERRY_OK)
                    return rc;
                st = ST_UNQUOTED;
            }
            break;
        }
        continue;

    end_of_record:
        if (c == '\r')
            r->pending_cr = true;
        r->line++;
        r->row++;
        if (r->nfields == 0 && r->field_len == 0 && !r->field_quoted && !r->has_error)
            goto again; /* a blank line is not a record */
        if ((rc = end_field(r, err)) != FERRY_OK)
            return rc;
        return record_finish(r, start_line, false, false, ret_rec, err);
    }

    /* End of input. */
    if (st == ST_FIELD_START && r->nfields == 0 && !r->field_quoted)
        return FERRY_DONE;
    if (st == ST_QUOTED) {
        char msg[96];
        snprintf(msg, sizeof(msg), "quoted field %zu is not closed at the end of the input",
                 r->nfields + 1);
        set_error(r, (long)r->nfields, msg);
    }
    r->row++;
    if ((rc = end_field(r, err)) != FERRY_OK)
        return rc;
    return record_finish(r, start_line, true, st == ST_QUOTED, ret_rec, err);
}
