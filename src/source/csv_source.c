/* csv_source.c - the CSV source: a file, a file:// URL or an http(s) URL, read as a stream.
 *
 * Opening reads the header and checks it: every mapped column must be present (the error
 * names all that are missing), and no column name may repeat. Each later record is projected
 * onto the sync's fields through a column index computed once. Parse errors and ragged rows
 * become record errors (the run fails that record and goes on); I/O errors, an input in
 * UTF-16 and a cut-off input end the run.
 *
 * Cut-off input: a download or an export that stops early usually stops inside a record. So
 * when the input ends inside a record (no line end after it) that has fewer fields than the
 * header, or inside a quoted field, the input is taken as cut off and the run fails (before
 * on_missing could delete what the missing part holds). A last record with all its fields
 * and no final line end is normal and read as usual. An input cut exactly at a line end
 * cannot be told from a shorter file: the sync's guard (max_missing) catches that.
 *
 * A cancel ends the wait for an input that is slow to give bytes (a named pipe) and ends the run
 * as cancelled, not as an I/O error: a signal interrupts a blocking open, and a read of anything
 * but a regular file first waits in poll(), looking at the cancel and stop flags every 100 ms
 * (the read may happen on the run's reader thread, which no signal reaches: sync/feed.h).
 *
 * The first bytes are inspected: a body that is an HTML page (what Google Sheets answers,
 * with status 200, for a sheet that is not shared) ends the run with an error that says so.
 *
 * Snapshots (source.h): what a run read is its input's bytes, so a download keeps the bytes
 * read before prefetch() (the header's) and writes them first: the downloaded file is then the
 * whole body, and a snapshot copies it. Opened with replay, the snapshot is the input, checked
 * and mapped as the real one would be (its messages and cell links name the real one).
 *
 * Memory: the reader's 64 KiB buffer, the largest record, and the HTTP stream's bounded
 * pending buffer; nothing grows with the file. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/csv_reader.h"
#include "source/google_auth.h"
#include "source/sheet_link.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/http_stream.h"
#include "util/url.h"

typedef struct {
    ferry_source base;
    const ferry_sync_spec *sync;
    const atomic_bool *cancel; /* may be NULL */
    const atomic_bool *stop;   /* may be NULL */
    int fd;                    /* file input, or -1 */
    bool slow_fd;              /* fd is not a regular file (a pipe): reads wait in poll() */
    ferry_http_stream *http;   /* http input, or NULL */
    ferry_net_policy policy;   /* where http input may connect (borrows the sync's spec) */
    uint64_t file_size;
    uint64_t stream_bytes; /* body bytes handed to the reader straight from the stream */
    bool first_chunk_checked;
    char where[4096]; /* the path or redacted URL, for messages */
    ferry_csv_reader *reader;
    char **header; /* header names, trimmed */
    size_t nheader;
    size_t nin;  /* values per record: the fields', then the templates' inputs */
    size_t *col; /* col[i]: the header index of value i (field i, then input i - nfields) */
    const char **values;
    size_t *lens;
    bool check;     /* opened for a check: missing columns are kept, not fatal */
    char **missing; /* check: the mapped columns the header lacks */
    size_t nmissing;
    char errbuf[512];
    bool keep_head; /* the stream's bytes read before prefetch() are kept in head, so the
                       download holds the whole body (a snapshot's bytes) */
    bool must_keep; /* shared: keep_head may not be given up (a later step reads the body) */
    bool whole;     /* fd holds the whole input from offset 0 (a regular file, a download
                       with its head): it can be snapshotted */
    int64_t end_at; /* where fd's input ended when the reader reached it, or -1: what was read
                       of a file that may since have grown */
    ferry_buf head;
    char *sheet_url; /* a Google Sheet's export: base.sheet_url (sheet_link.h), or NULL */
    void (*on_activity)(void *ctx, const char *kind, const char *text); /* may be NULL */
    void *ctx;
} csv_source;

/* Tells the run's activity log (source.h) what happened. */
static void tell(const csv_source *s, const char *kind, const char *text)
{
    if (s->on_activity != NULL)
        s->on_activity(s->ctx, kind, text);
}

static bool looks_like_html(const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && isspace((unsigned char)p[i]))
        i++;
    if (i + 3 <= n && memcmp(p + i, "\xEF\xBB\xBF", 3) == 0)
        i += 3;
    while (i < n && isspace((unsigned char)p[i]))
        i++;
    if (i >= n || p[i] != '<')
        return false;
    return n - i >= 5 &&
           (strncasecmp(p + i, "<!doctype html", n - i < 14 ? n - i : 14) == 0 ||
            strncasecmp(p + i, "<html", 5) == 0 || strncasecmp(p + i, "<head", 5) == 0 ||
            strncasecmp(p + i, "<!--", 4) == 0);
}

static ferry_rc html_error(csv_source *s, ferry_err *err)
{
    return ferry_err_set(err, FERRY_ESOURCE,
                         "the source %s returned an HTML page, not CSV: is the sheet shared "
                         "with 'Anyone with the link' or published to the web as CSV?",
                         s->where);
}

static bool is_cancelled(const atomic_bool *cancel)
{
    return cancel != NULL && atomic_load(cancel);
}

/* Waits until a slow input (a pipe) has bytes or ended, looking at the cancel and stop flags
 * every 100 ms: the read may be on a thread no signal reaches (sync/feed.h). */
static ferry_rc wait_readable(csv_source *s, ferry_err *err)
{
    struct pollfd p = {.fd = s->fd, .events = POLLIN};

    for (;;) {
        if (is_cancelled(s->cancel) || is_cancelled(s->stop))
            return ferry_err_set(err, FERRY_ECANCELLED, "the run was cancelled");
        int n = poll(&p, 1, 100);
        if (n > 0)
            return FERRY_OK; /* bytes, the end or an error: read() tells */
        if (n < 0 && errno != EINTR)
            return ferry_err_set_errno(err, FERRY_EIO, "waiting for %s", s->where);
    }
}

static ferry_rc read_input(void *ctx, char *buf, size_t cap, size_t *ret_n, ferry_err *err)
{
    csv_source *s = ctx;
    ferry_rc rc;

    if (s->fd < 0) {
        rc = ferry_http_stream_read(s->http, buf, cap, ret_n, err);
        if (rc != FERRY_OK)
            return rc;
        s->stream_bytes += *ret_n;
        if (s->keep_head && ferry_buf_append(&s->head, buf, *ret_n) != FERRY_OK) {
            if (s->must_keep)
                return ferry_err_set(err, FERRY_ELIMIT, "the header of %s is too large", s->where);
            /* Only a snapshot needed it: a stream read far without a prefetch (a check). */
            s->keep_head = false;
            ferry_buf_done(&s->head);
        }
    } else {
        ssize_t n;
        if (s->slow_fd && (rc = wait_readable(s, err)) != FERRY_OK)
            return rc;
        do {
            n = read(s->fd, buf, cap);
        } while (n < 0 && errno == EINTR && !is_cancelled(s->cancel));
        if (n < 0 && errno == EINTR)
            return ferry_err_set(err, FERRY_ECANCELLED, "the run was cancelled");
        if (n < 0)
            return ferry_err_set_errno(err, FERRY_EIO, "reading %s", s->where);
        if (n == 0 && s->whole)
            s->end_at = (int64_t)lseek(s->fd, 0, SEEK_CUR);
        *ret_n = (size_t)n;
    }
    if (!s->first_chunk_checked && *ret_n > 0) {
        s->first_chunk_checked = true;
        const char *ct = s->http != NULL ? ferry_http_stream_content_type(s->http) : NULL;
        if ((ct != NULL && strncasecmp(ct, "text/html", 9) == 0) || looks_like_html(buf, *ret_n))
            return html_error(s, err);
    }
    return FERRY_OK;
}

static void csv_progress(ferry_source *base, uint64_t *ret_done, uint64_t *ret_total)
{
    csv_source *s = (csv_source *)base;

    *ret_done = ferry_csv_reader_bytes_consumed(s->reader);
    if (s->http != NULL && s->fd < 0) {
        /* Content-Length counts the bytes as sent, compressed or not, so progress compares
         * it with the bytes received, which run ahead of parsing by at most the stream's
         * pause threshold. */
        int64_t cl = ferry_http_stream_content_length(s->http);
        *ret_total = cl > 0 ? (uint64_t)cl : 0;
        *ret_done = (uint64_t)ferry_http_stream_bytes_received(s->http);
    } else {
        /* A file, or a download saved whole by prefetch: the bytes parsed of its size. */
        *ret_total = s->file_size;
    }
    if (*ret_total > 0 && *ret_done > *ret_total)
        *ret_done = *ret_total;
}

/* The header name of column i, for messages. */
static const char *column_name(const csv_source *s, long i)
{
    if (i >= 0 && (size_t)i < s->nheader && s->header[i][0] != '\0')
        return s->header[i];
    return NULL;
}

/* Fails the run: the input ended inside rec, which is short of fields or inside a quote. */
static ferry_rc cut_off_error(const csv_source *s, const ferry_csv_record *rec, ferry_err *err)
{
    ferry_rc rc;

    if (rec->quote_open)
        rc = ferry_err_set(err, FERRY_ECSV,
                           "the source %s looks cut off: it ends inside a quoted field of its "
                           "last record (row %ld, line %ld), with no line end; download or "
                           "export it again",
                           s->where, rec->row, rec->line);
    else
        rc = ferry_err_set(err, FERRY_ECSV,
                           "the source %s looks cut off: its last record (row %ld, line %ld) "
                           "has %zu of the header's %zu fields and no line end; download or "
                           "export it again",
                           s->where, rec->row, rec->line, rec->nfields, s->nheader);
    /* A transfer that stopped early may well be complete the next time. */
    if (err != NULL && s->http != NULL)
        err->transient = true;
    return rc;
}

static ferry_rc csv_next(ferry_source *base, ferry_source_record *ret_rec, ferry_err *err)
{
    csv_source *s = (csv_source *)base;
    ferry_csv_record rec;
    char where[96];
    ferry_rc rc;

    rc = ferry_csv_reader_next(s->reader, &rec, err);
    int64_t consumed = (int64_t)ferry_csv_reader_bytes_consumed(s->reader);
    if (consumed > s->base.bytes) /* a download counted them already (prefetch) */
        s->base.bytes = consumed;
    if (rc != FERRY_OK)
        return rc;
    s->base.records++;
    if (rec.unterminated && (rec.quote_open || rec.nfields < s->nheader))
        return cut_off_error(s, &rec, err);
    memset(ret_rec, 0, sizeof(*ret_rec));
    ret_rec->nvalues = s->nin;
    ret_rec->row = rec.row;
    if (rec.error != NULL) {
        const char *name = column_name(s, rec.error_field);
        if (rec.error_offset >= 0)
            snprintf(where, sizeof(where), "line %ld, byte offset %lld", rec.line,
                     (long long)rec.error_offset);
        else
            snprintf(where, sizeof(where), "line %ld", rec.line);
        if (name != NULL && strncmp(rec.error, "field ", 6) == 0) {
            /* "field 3 is ..." reads better as "column 'Email' is ...". */
            const char *rest = strchr(rec.error + 6, ' ');
            snprintf(s->errbuf, sizeof(s->errbuf), "column '%s'%s (%s)", name,
                     rest != NULL ? rest : "", where);
        } else {
            snprintf(s->errbuf, sizeof(s->errbuf), "%s (%s)", rec.error, where);
        }
        ret_rec->error = s->errbuf;
        return FERRY_OK;
    }
    if (rec.nfields != s->nheader) {
        snprintf(s->errbuf, sizeof(s->errbuf), "has %zu fields but the header has %zu (line %ld)",
                 rec.nfields, s->nheader, rec.line);
        ret_rec->error = s->errbuf;
        return FERRY_OK;
    }
    for (size_t i = 0; i < s->nin; i++) {
        if (s->col[i] >= s->nheader) { /* a field Ferry fills, or missing in a check */
            s->values[i] = NULL;
            s->lens[i] = 0;
            continue;
        }
        s->values[i] = rec.field[s->col[i]];
        s->lens[i] = rec.len[s->col[i]];
    }
    ret_rec->value = s->values;
    ret_rec->len = s->lens;
    return FERRY_OK;
}

static void csv_close(ferry_source *base)
{
    csv_source *s = (csv_source *)base;

    if (s == NULL)
        return;
    ferry_csv_reader_free(s->reader);
    ferry_http_stream_close(s->http);
    if (s->fd >= 0)
        close(s->fd);
    for (size_t i = 0; i < s->nheader; i++)
        free(s->header[i]);
    free(s->header);
    free(s->col);
    free(s->values);
    free(s->lens);
    for (size_t i = 0; i < s->nmissing; i++)
        free(s->missing[i]);
    free(s->missing);
    ferry_buf_done(&s->head);
    free(s->sheet_url);
    free(s);
}

/* Opens s on the bytes the source src (of an earlier step) fetched: its file or its download,
 * read again from the start. */
static ferry_rc open_rows_of(csv_source *s, const ferry_source *src, ferry_err *err)
{
    const csv_source *from = (const csv_source *)src;
    struct stat st;

    snprintf(s->where, sizeof(s->where), "%s", from->where);
    if (strcmp(src->kind, "csv") != 0 || from->fd < 0)
        return ferry_err_set(err, FERRY_EINVAL, "%s was not fetched to be read again", s->where);
    if ((s->fd = dup(from->fd)) < 0)
        return ferry_err_set_errno(err, FERRY_EIO, "reading %s again", s->where);
    /* The earlier step read to the end, so the offset the two share is free to move. */
    if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode) || lseek(s->fd, 0, SEEK_SET) != 0)
        return ferry_err_set(err, FERRY_EIO,
                             "%s cannot be read a second time (not a regular file): give the "
                             "step a source of its own",
                             s->where);
    s->file_size = (uint64_t)st.st_size;
    s->whole = from->whole;
    if (from->sheet_url != NULL && (s->sheet_url = strdup(from->sheet_url)) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the CSV source");
    return FERRY_OK;
}

/* Notes the Google Sheet an http(s) export URL reads, if it does. */
static ferry_rc note_sheet(csv_source *s, const char *url, ferry_err *err)
{
    ferry_buf b;
    ferry_rc rc = FERRY_OK;

    ferry_buf_init(&b, 8192);
    if (ferry_sheet_edit_url(url, &b) && (s->sheet_url = strdup(ferry_buf_str(&b))) == NULL)
        rc = ferry_err_set(err, FERRY_ENOMEM, "allocating the CSV source");
    ferry_buf_done(&b);
    return rc;
}

static bool header_has_mapped(const csv_source *s);

/* The check: every row is counted (the file is the first page), and the header's columns
 * that no field maps are listed. */
static ferry_rc csv_check(ferry_source *base, ferry_source_check *ret, ferry_err *err)
{
    csv_source *s = (csv_source *)base;
    ferry_source_check c = {.total = -1};
    bool mapped = header_has_mapped(s);
    ferry_source_record rec;
    ferry_rc rc;

    while ((rc = csv_next(base, &rec, err)) == FERRY_OK)
        c.records++;
    if (rc != FERRY_DONE)
        return rc;
    c.unmapped = calloc(s->nheader + 1, sizeof(*c.unmapped));
    c.missing = calloc(s->nmissing + 1, sizeof(*c.missing));
    if (c.unmapped == NULL || c.missing == NULL)
        goto oom;
    /* A first row with none of the mapped columns may be any file: nothing of it is listed. */
    for (size_t i = 0; i < s->nheader && mapped; i++) {
        bool used = s->header[i][0] == '\0';
        for (size_t f = 0; f < s->nin && !used; f++)
            used = s->col[f] == i;
        if (!used && (c.unmapped[c.nunmapped++] = strdup(s->header[i])) == NULL)
            goto oom;
    }
    for (size_t i = 0; i < s->nmissing; i++)
        if ((c.missing[c.nmissing++] = strdup(s->missing[i])) == NULL)
            goto oom;
    *ret = c;
    return FERRY_OK;
oom:
    ferry_source_check_done(&c);
    return ferry_err_set(err, FERRY_ENOMEM, "allocating the check's report");
}

/* Downloads the rest of an http(s) body into an unlinked temporary file and reads on from it.
 * The reader keeps what it already buffered from the stream, so switching the input is
 * seamless. Memory stays flat; the disk holds the body. */
static ferry_rc csv_prefetch(ferry_source *base, bool (*progress)(void *, uint64_t, uint64_t),
                             void *ctx, ferry_err *err)
{
    csv_source *s = (csv_source *)base;
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    size_t cap = 64 * 1024, n = 0;
    uint64_t total = 0;
    ferry_rc rc = FERRY_OK;
    char *buf;
    int fd;

    if (s->http == NULL || s->fd >= 0)
        return FERRY_OK;
    if ((buf = malloc(cap)) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the download buffer");
    snprintf(path, sizeof(path), "%s/ferry-download-XXXXXX",
             tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp");
    fd = mkstemp(path);
    if (fd < 0) {
        free(buf);
        return ferry_err_set_errno(err, FERRY_EIO, "creating a temporary file for %s", s->where);
    }
    unlink(path);
    /* A shared source's file holds the whole body: the part the reader already has first. */
    for (size_t off = 0; s->keep_head && off < s->head.len && rc == FERRY_OK;) {
        ssize_t w = write(fd, s->head.data + off, s->head.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            rc = ferry_err_set_errno(err, FERRY_EIO, "saving the download of %s", s->where);
        else
            off += (size_t)w;
    }
    while (rc == FERRY_OK) {
        if ((rc = ferry_http_stream_read(s->http, buf, cap, &n, err)) != FERRY_OK)
            break;
        for (size_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = ferry_err_set_errno(err, FERRY_EIO, "saving the download of %s", s->where);
                break;
            }
            off += (size_t)w;
        }
        total += n;
        s->base.bytes = (int64_t)ferry_http_stream_bytes_received(s->http);
        if (progress != NULL) {
            int64_t cl = ferry_http_stream_content_length(s->http);
            if (!progress(ctx, (uint64_t)ferry_http_stream_bytes_received(s->http),
                          cl > 0 ? (uint64_t)cl : 0))
                rc = ferry_err_set(err, FERRY_ECANCELLED, "the download was stopped");
        }
        if (n == 0)
            break;
    }
    free(buf);
    off_t resume = s->keep_head ? (off_t)s->head.len : 0;
    if (rc == FERRY_OK && lseek(fd, resume, SEEK_SET) != resume)
        rc = ferry_err_set_errno(err, FERRY_EIO, "reading back the download of %s", s->where);
    if (rc != FERRY_OK) {
        close(fd);
        return rc;
    }
    s->fd = fd;
    /* The reader counts from the body's first byte, which may have come before the prefetch. */
    s->file_size = s->stream_bytes + total;
    s->whole = s->keep_head;
    ferry_buf_done(&s->head);
    char said[64]; /* the whole body: the header's bytes came before the prefetch */
    snprintf(said, sizeof(said), "downloaded %lld bytes", (long long)s->base.bytes);
    tell(s, "page", said);
    return FERRY_OK;
}

/* The snapshot is the input itself: the file, or the download with its head. */
static ferry_rc csv_snapshot(ferry_source *base, ferry_source_snapshot_parts *ret, ferry_err *err)
{
    csv_source *s = (csv_source *)base;

    if (s->fd < 0 || !s->whole)
        return ferry_err_set(err, FERRY_EINVAL,
                             "%s was not downloaded whole, so what was read of it cannot be "
                             "saved",
                             s->where);
    if (s->end_at < 0)
        return ferry_err_set(err, FERRY_EINVAL,
                             "%s was not read to its end, so what was read of it cannot be saved",
                             s->where);
    memset(ret, 0, sizeof(*ret));
    ret->fd = s->fd;
    ret->len = s->end_at;
    return FERRY_OK;
}

static const ferry_source_ops csv_ops = {
    .next = csv_next,
    .progress = csv_progress,
    .prefetch = csv_prefetch,
    .check = csv_check,
    .snapshot = csv_snapshot,
    .close = csv_close,
};

/* Opens s on the snapshot path, as the input url was: messages name url (redacted) and a
 * Google Sheet's export keeps its cell links. files_dir does not apply: Ferry wrote the file. */
static ferry_rc open_replay(csv_source *s, const char *path, const char *url, ferry_err *err)
{
    struct stat st;
    ferry_rc rc;

    if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) {
        ferry_url_redact(url, s->where, sizeof(s->where));
        if ((rc = note_sheet(s, url, err)) != FERRY_OK)
            return rc;
    } else {
        snprintf(s->where, sizeof(s->where), "%s", url);
    }
    if ((rc = ferry_source_replay_open(path, &s->fd, err)) != FERRY_OK)
        return rc;
    if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return ferry_err_set(err, FERRY_EIO, "the snapshot %s is not a file", path);
    s->file_size = (uint64_t)st.st_size;
    s->whole = true;
    return FERRY_OK;
}

/* path made absolute (against the working directory) with ".", ".." and repeated slashes
 * removed, as text only: for a path that does not exist, where realpath() cannot help. */
static void lexical_normalise(const char *path, char *out, size_t outlen)
{
    char joined[PATH_MAX * 2], cwd[PATH_MAX];
    size_t len = 0;
    const char *p;

    if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL)
        snprintf(joined, sizeof(joined), "%s/%s", cwd, path);
    else
        snprintf(joined, sizeof(joined), "%s", path);
    out[0] = '\0';
    for (p = joined; *p != '\0';) {
        size_t n;
        while (*p == '/')
            p++;
        n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.')) {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
        } else if (len + n + 2 < outlen) {
            out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
        }
        out[len] = '\0';
        p += n;
    }
    if (len == 0)
        snprintf(out, outlen, "/");
}

/* Where path leads, absolute and normalised, when realpath() cannot say because something on
 * the way does not exist: the symbolic links that do exist on the way are followed, dangling
 * ones too, and only the part that does not exist is taken as written. So a link to a missing
 * file elsewhere is placed where it points, not where it lies. False when links loop. */
static bool resolve_missing(const char *path, char *out, size_t outlen, int depth)
{
    char real[PATH_MAX], next[PATH_MAX * 2], target[PATH_MAX], last[NAME_MAX + 1];
    const char *slash;
    struct stat st;
    ssize_t n;
    size_t len;

    if (depth > 40)
        return false;
    if (realpath(path, real) != NULL) {
        snprintf(out, outlen, "%s", real);
        return true;
    }
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        if ((n = readlink(path, target, sizeof(target) - 1)) < 0)
            return false;
        target[n] = '\0';
        slash = strrchr(path, '/');
        if (target[0] == '/' || slash == NULL)
            snprintf(next, sizeof(next), "%s", target);
        else
            snprintf(next, sizeof(next), "%.*s/%s", (int)(slash - path), path, target);
        return resolve_missing(next, out, outlen, depth + 1);
    }
    /* path does not exist: where its directory leads, then its last part as written. */
    len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    snprintf(next, sizeof(next), "%.*s", (int)len, path);
    if ((slash = strrchr(next, '/')) == NULL)
        return false; /* a name alone that is not a link: taken as written */
    snprintf(last, sizeof(last), "%s", slash + 1);
    next[slash - next] = '\0';
    if (slash == next)
        snprintf(real, sizeof(real), "/");
    else if (!resolve_missing(next, real, sizeof(real), depth + 1))
        return false;
    snprintf(next, sizeof(next), "%s/%s", real, last);
    lexical_normalise(next, out, outlen);
    return true;
}

/* Whether path (absolute, normalised) is root or lies under it. */
static bool is_inside(const char *root, const char *path)
{
    size_t n = strlen(root);

    if (n == 1 && root[0] == '/')
        return true;
    return strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static ferry_rc outside_error(const char *shown, const char *root, ferry_err *err)
{
    return ferry_err_set(err, FERRY_ESOURCE,
                         "the source file %s is outside files_dir (%s): Ferry reads local files "
                         "only inside files_dir; move the file there or set files_dir: at the "
                         "top of the config",
                         shown, root);
}

/* Opens path for reading if it resolves (symbolic links and ".." followed) inside files_dir,
 * into s->fd. Nothing outside is opened, not even to say it does not exist. */
static ferry_rc open_confined(csv_source *s, const char *path, const char *files_dir,
                              const atomic_bool *cancel, ferry_err *err)
{
    char root[PATH_MAX], real[PATH_MAX], opened[PATH_MAX], link[64];
    ssize_t n;

    if (realpath(files_dir != NULL ? files_dir : ".", root) == NULL)
        return ferry_err_set_errno(err, FERRY_ESOURCE, "files_dir %s cannot be used",
                                   files_dir != NULL ? files_dir : ".");
    if (realpath(path, real) == NULL) {
        int saved = errno;
        if (!resolve_missing(path, real, sizeof(real), 0))
            lexical_normalise(path, real, sizeof(real));
        if (!is_inside(root, real))
            return outside_error(path, root, err);
        errno = saved;
        return ferry_err_set_errno(err, FERRY_ESOURCE, "cannot open the source file %s", path);
    }
    if (!is_inside(root, real))
        return outside_error(path, root, err);
    do {
        s->fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    } while (s->fd < 0 && errno == EINTR && !is_cancelled(cancel));
    if (s->fd < 0 && errno == EINTR)
        return ferry_err_set(err, FERRY_ECANCELLED, "the run was cancelled");
    if (s->fd < 0)
        return ferry_err_set_errno(err, FERRY_ESOURCE, "cannot open the source file %s", path);
    /* A directory on the way may have been swapped for a link between the check and the
     * open: what was opened must still be inside (when /proc can say). */
    snprintf(link, sizeof(link), "/proc/self/fd/%d", s->fd);
    n = readlink(link, opened, sizeof(opened) - 1);
    if (n > 0) {
        opened[n] = '\0';
        if (!is_inside(root, opened)) {
            close(s->fd);
            s->fd = -1;
            return outside_error(path, root, err);
        }
    }
    return FERRY_OK;
}

/* Opens the input named by url: an http(s) URL, or a file:// URL or a path (relative ones
 * resolve against base_dir) that must lie inside the source's files_dir. */
static ferry_rc open_input(csv_source *s, const char *url, const ferry_source_spec *spec,
                           const ferry_source_options *sopt, ferry_err *err)
{
    const char *base_dir = sopt->base_dir;
    const atomic_bool *cancel = sopt->cancel;
    char path[4096];
    struct stat st;
    ferry_rc rc;

    if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) {
        ferry_http_stream_options opt = {
            .timeout_ms = spec->timeout_ms,
            .cancel = cancel,
            .max_bytes = spec->max_bytes,
            .policy = &s->policy,
        };
        char *header = NULL, *email = NULL;
        s->policy = ferry_source_net_policy(spec);
        ferry_url_redact(url, s->where, sizeof(s->where));
        if (spec->auth.type == FERRY_AUTH_GOOGLE_SA) {
            rc = ferry_source_google_header(s->sync, sopt, &s->policy, &header, &email, err);
            if (rc != FERRY_OK)
                return rc;
            opt.auth_header = header;
            opt.share_with = email;
        }
        rc = ferry_http_stream_open(url, &opt, &s->http, err);
        if (rc == FERRY_OK) {
            char said[sizeof(s->where) + 32];
            snprintf(said, sizeof(said), "connected to %s", s->where);
            tell(s, "connected", said);
        }
        if (header != NULL)
            sodium_memzero(header, strlen(header));
        free(header);
        free(email);
        return rc;
    }
    if (strncasecmp(url, "file://", 7) == 0) {
        CURLU *u = curl_url();
        char *p = NULL;
        if (u == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "parsing a URL");
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PATH, &p, CURLU_URLDECODE) != CURLUE_OK) {
            curl_url_cleanup(u);
            return ferry_err_set(err, FERRY_ESOURCE, "'%s' is not a valid file:// URL", url);
        }
        snprintf(path, sizeof(path), "%s", p);
        curl_free(p);
        curl_url_cleanup(u);
    } else if (url[0] == '/' || base_dir == NULL) {
        snprintf(path, sizeof(path), "%s", url);
    } else {
        snprintf(path, sizeof(path), "%s/%s", base_dir, url);
    }
    snprintf(s->where, sizeof(s->where), "%s", path);
    rc = open_confined(s, path, spec->files_dir != NULL ? spec->files_dir : base_dir, cancel, err);
    if (rc != FERRY_OK)
        return rc;
    if (fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        s->file_size = (uint64_t)st.st_size;
        s->whole = true;
    } else if (fstat(s->fd, &st) == 0 && S_ISDIR(st.st_mode))
        return ferry_err_set(err, FERRY_ESOURCE, "the source %s is a directory", path);
    else
        s->slow_fd = true;
    return FERRY_OK;
}

static char *trimmed_copy(const char *p, size_t n)
{
    while (n > 0 && isspace((unsigned char)*p)) {
        p++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)p[n - 1]))
        n--;
    return strndup(p, n);
}

/* Whether the header has at least one column a field maps: then it is the expected CSV, and
 * messages may quote its column names. */
static bool header_has_mapped(const csv_source *s)
{
    for (size_t f = 0; f < ferry_sync_input_count(s->sync); f++) {
        const char *column = ferry_sync_input_column(s->sync, f);
        for (size_t i = 0; i < s->nheader && column != NULL; i++)
            if (strcmp(s->header[i], column) == 0)
                return true;
    }
    return false;
}

/* The header index of column, or s->nheader. */
static size_t header_index(const csv_source *s, const char *column)
{
    size_t i;

    for (i = 0; i < s->nheader; i++)
        if (strcmp(s->header[i], column) == 0)
            break;
    return i;
}

/* Notes a column the header lacks: for a check, the text of its entry in the report; for a
 * run, in missing (the fields' columns) or, for a template's, the run's error unless one is
 * set already. */
static ferry_rc note_missing(csv_source *s, size_t v, ferry_buf *missing, ferry_buf *tmpl_missing)
{
    const ferry_sync_spec *sync = s->sync;
    const ferry_field_spec *f =
        &sync->fields[v < sync->nfields ? v : sync->inputs[v - sync->nfields].field];
    const char *column = ferry_sync_input_column(sync, v);
    char text[300];

    if (s->check) {
        if (v < sync->nfields)
            snprintf(text, sizeof(text), "%s (column '%s')", f->name, column);
        else
            snprintf(text, sizeof(text), "%s (template column '%s')", f->name, column);
        if ((s->missing[s->nmissing] = strdup(text)) == NULL)
            return FERRY_ENOMEM;
        s->nmissing++;
    } else if (v < sync->nfields) {
        ferry_buf_printf_trunc(missing, "%s'%s'", missing->len ? ", " : "", column);
    } else if (tmpl_missing->len == 0) {
        ferry_buf_printf_trunc(tmpl_missing,
                               "line %d: syncs.%s.fields.%s.template: {%s} names a column",
                               f->tf.template_line, sync->name, f->name, column);
    }
    return FERRY_OK;
}

/* Reads the header, checks it and computes the column of each field. */
static ferry_rc read_header(csv_source *s, ferry_err *err)
{
    const ferry_sync_spec *sync = s->sync;
    ferry_csv_record rec;
    ferry_buf missing, tmpl_missing, found;
    bool mapped; /* the header has a mapped column */
    ferry_rc rc;

    rc = ferry_csv_reader_next(s->reader, &rec, err);
    if (rc == FERRY_DONE)
        return ferry_err_set(err, FERRY_EEMPTY, "the source %s is empty (not even a header row)",
                             s->where);
    if (rc == FERRY_ECSV) /* UTF-16 */
        ferry_err_prefix(err, "the source %s", s->where);
    if (rc != FERRY_OK)
        return rc;
    if (rec.error != NULL)
        return ferry_err_set(err, FERRY_EHEADER, "the header row of %s cannot be read: %s",
                             s->where, rec.error);
    s->header = calloc(rec.nfields, sizeof(*s->header));
    if (s->header == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the header");
    for (size_t i = 0; i < rec.nfields; i++) {
        s->header[i] = trimmed_copy(rec.field[i], rec.len[i]);
        if (s->header[i] == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "allocating the header");
        s->nheader++;
    }
    /* A file with none of the mapped columns gets the message below that quotes nothing. */
    mapped = header_has_mapped(s);
    for (size_t i = 0; i < s->nheader && mapped; i++) {
        if (s->header[i][0] == '\0')
            continue;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->header[i], s->header[j]) == 0)
                return ferry_err_set(err, FERRY_EHEADER,
                                     "the header of %s repeats the column '%s' (columns %zu "
                                     "and %zu): rename one so each column has its own name",
                                     s->where, s->header[i], j + 1, i + 1);
        }
    }
    s->nin = ferry_sync_input_count(sync);
    s->col = calloc(s->nin, sizeof(*s->col));
    s->values = calloc(s->nin, sizeof(*s->values));
    s->lens = calloc(s->nin, sizeof(*s->lens));
    if (s->col == NULL || s->values == NULL || s->lens == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the column map");
    if (s->check && (s->missing = calloc(s->nin, sizeof(*s->missing))) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the column map");
    ferry_buf_init(&missing, 4096);
    ferry_buf_init(&tmpl_missing, 1024);
    for (size_t v = 0; v < s->nin && rc == FERRY_OK; v++) {
        const char *column = ferry_sync_input_column(sync, v);
        s->col[v] = column != NULL ? header_index(s, column) : SIZE_MAX; /* NULL: Ferry fills it */
        if (s->col[v] == s->nheader) {
            s->col[v] = SIZE_MAX;
            if (note_missing(s, v, &missing, &tmpl_missing) != FERRY_OK)
                rc = ferry_err_set(err, FERRY_ENOMEM, "allocating the column map");
        }
    }
    /* Without one mapped column this may be any file at all, so nothing of its first line is
     * quoted (run errors are shown to every viewer). */
    ferry_buf_init(&found, 1024);
    for (size_t i = 0; i < s->nheader && mapped; i++)
        ferry_buf_printf_trunc(&found, "%s'%s'", i ? ", " : "", s->header[i]);
    if (found.truncated)
        ferry_buf_printf_trunc(&found, "...");
    if (rc != FERRY_OK) {
        /* out of memory, said already */
    } else if (missing.len > 0 && !mapped) {
        rc = ferry_err_set(err, FERRY_EHEADER,
                           "the source %s has none of the mapped columns (%s) in its first row: "
                           "is it the right file, and is its first row the header?",
                           s->where, ferry_buf_str(&missing));
    } else if (missing.len > 0) {
        rc = ferry_err_set(err, FERRY_EHEADER,
                           "the source %s is missing required columns: %s (its header has %s)",
                           s->where, ferry_buf_str(&missing), ferry_buf_str(&found));
    } else if (tmpl_missing.len > 0) {
        rc =
            ferry_err_set(err, FERRY_EHEADER, "%s the source %s does not have%s%s%s",
                          ferry_buf_str(&tmpl_missing), s->where, mapped ? " (its header has " : "",
                          ferry_buf_str(&found), mapped ? ")" : "");
    }
    ferry_buf_done(&found);
    ferry_buf_done(&missing);
    ferry_buf_done(&tmpl_missing);
    return rc;
}

ferry_rc ferry_csv_source_open(const ferry_sync_spec *sync, const ferry_source_options *opt,
                               ferry_source **ret_src, ferry_err *err)
{
    const atomic_bool *cancel = opt->cancel;
    ferry_csv_limits limits;
    ferry_buf url;
    csv_source *s;
    ferry_rc rc;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the CSV source");
    s->base.ops = &csv_ops;
    s->base.kind = "csv";
    s->sync = sync;
    s->cancel = cancel;
    s->stop = opt->stop;
    s->fd = -1;
    s->end_at = -1;
    s->check = opt->check;
    s->keep_head = opt->shared || !opt->check; /* a check streams the body and is not saved */
    s->must_keep = opt->shared;
    s->on_activity = opt->on_activity;
    s->ctx = opt->ctx;
    ferry_buf_init(&s->head, 64 * 1024 * 1024);
    ferry_buf_init(&url, 8192);
    if (opt->rows_of != NULL)
        rc = open_rows_of(s, opt->rows_of, err);
    else
        rc = ferry_source_expand(sync, opt->tenant, sync->source.url,
                                 strncasecmp(sync->source.url, "http", 4) == 0, &url, err);
    if (rc == FERRY_OK && opt->rows_of == NULL && opt->replay != NULL)
        rc = open_replay(s, opt->replay, ferry_buf_str(&url), err);
    else if (rc == FERRY_OK && opt->rows_of == NULL)
        rc = open_input(s, ferry_buf_str(&url), &sync->source, opt, err);
    if (rc == FERRY_OK && opt->rows_of == NULL && s->http != NULL)
        rc = note_sheet(s, ferry_buf_str(&url), err);
    ferry_buf_done(&url);
    if (rc != FERRY_OK)
        goto out_free;
    ferry_csv_limits_default(&limits);
    limits.max_field_bytes = sync->source.max_field_bytes;
    limits.delimiter = sync->source.delimiter;
    rc = ferry_csv_reader_new(&limits, read_input, s, &s->reader, err);
    if (rc != FERRY_OK)
        goto out_free;
    rc = read_header(s, err);
    if (rc != FERRY_OK)
        goto out_free;
    if (s->sheet_url != NULL) {
        s->base.sheet_url = s->sheet_url;
        s->base.field_column = s->col;
    }
    *ret_src = &s->base;
    return FERRY_OK;

out_free:
    csv_close(&s->base);
    return rc;
}
