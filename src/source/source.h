/* source.h - the source interface: where records come from.
 *
 * A source yields records one at a time, each already projected onto the sync's fields:
 * value[i] is the raw text for fields[i] (NULL when the source has no value for it). It
 * reports how much of its input it has consumed, so progress is a real fraction. Sources are
 * implemented one per file (csv_source.c) behind ferry_source_ops; callers never know which
 * kind they hold.
 *
 * A source belongs to the thread that opened it. */
#ifndef FERRY_SOURCE_SOURCE_H
#define FERRY_SOURCE_SOURCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/net_policy.h"

typedef struct {
    size_t nvalues;           /* the sync's field count */
    const char *const *value; /* value[i] is NUL-terminated or NULL; borrowed until next */
    const size_t *len;
    long row;          /* the record's row for messages (the header is row 1) */
    const char *error; /* NULL, or why the record cannot be used (no "row N: " prefix) */
} ferry_source_record;

typedef struct ferry_source ferry_source;

/* What a connection check found (ferry check, GET /api/syncs/{name}/check). Owned by the
 * caller: ferry_source_check_done(). */
typedef struct {
    long status;     /* the first page's HTTP status; 0 for files */
    int64_t records; /* records on the first page (CSV: in the file) */
    int64_t total;   /* the total the first page states, or -1 */
    char **unmapped; /* fields the records have that no field uses */
    size_t nunmapped;
    char **missing; /* mapped fields no record has: "email (/email)", "'Email'" */
    size_t nmissing;
} ferry_source_check;

void ferry_source_check_done(ferry_source_check *check);

/* Where a source keeps a secret between runs and processes (a rotated OAuth2 refresh token):
 * Ferry's store, encrypted with the store key (sync/vault.h). Names are not secrets; values
 * are, in clear on this side. Called on the thread that opened the source. */
typedef struct {
    /* FERRY_OK when secrets can be kept (the store key is set and well-formed), else why,
     * naming the key's variable. */
    ferry_rc (*ready)(void *ctx, ferry_err *err);
    /* The secret kept under name into *ret (owned: wipe, then free()), or NULL when none. */
    ferry_rc (*get)(void *ctx, const char *name, char **ret, ferry_err *err);
    /* Keeps secret (borrowed) under name, replacing what it held. */
    ferry_rc (*put)(void *ctx, const char *name, const char *secret, ferry_err *err);
    void *ctx;
} ferry_token_vault;

/* How a source is opened. Strings and the flag are borrowed for the source's life. */
typedef struct {
    const char *base_dir;      /* relative paths resolve against it (the config's directory) */
    const char *tenant;        /* the run's tenant, for {variable} in the source, or NULL */
    const atomic_bool *cancel; /* may be NULL: once set, a source waiting for input (a slow
                                  server, a pipe, a rate limit) gives up with FERRY_ECANCELLED */
    const atomic_bool *stop;   /* may be NULL: as cancel, set when the run wants no more
                                  records (it read them on another thread: sync/feed.h) */
    int64_t estimate;          /* records of the last successful run, or -1: the progress
                                  estimate when the source states no total */
    /* Told when the source starts waiting (until_ms: wall clock; what: "rate limited",
     * "retrying") and when the wait is over (until_ms 0, what NULL). May be NULL. */
    void (*on_wait)(void *ctx, int64_t until_ms, const char *what);
    /* Told what the source did, for the run's activity log (sync/activity.h): kind
     * ("connected", "page", "wait", "retry") and a short text naming hosts and paths, never
     * a URL's credentials or query. May be NULL. */
    void (*on_activity)(void *ctx, const char *kind, const char *text);
    void *ctx;
    bool check;  /* opened for a check: a missing column is reported, not an error */
    bool shared; /* a later step reads the same rows (rows_of): the source keeps every byte
                    it fetches, so they are fetched once (CSV sources) */
    /* Read the rows of this source of an earlier step (opened with shared, read to its end),
     * from the bytes it fetched, instead of opening the sync's own: a CSV source. NULL: the
     * sync's own. */
    const struct ferry_source *rows_of;
    long *ret_status; /* may be NULL: set to each HTTP status received (a check reports the
                         last one even when the open fails) */
    /* An incremental REST source (incremental:): the since value, already written in the
     * source's format, sent as incremental.param on every page and as {since}; NULL for a
     * full run (no param; {since} is the epoch's start). */
    const char *since;
    const ferry_token_vault *vault; /* may be NULL: nothing can be kept (an OAuth2 refresh_token
                                       grant then fails, saying why) */
    /* A snapshot ferry_source_snapshot() wrote, to read instead of the real input: no network
     * and no credentials; prefetch() has nothing left to do. NULL: the real input. */
    const char *replay;
} ferry_source_options;

/* What a source read, as ferry_source_snapshot() writes it: head_len bytes of head (borrowed
 * from the source), then len bytes of fd (the source's, not to be closed) from offset. */
typedef struct {
    const void *head;
    size_t head_len;
    int fd;
    int64_t offset;
    int64_t len;
} ferry_source_snapshot_parts;

typedef struct {
    /* Reads the next record. FERRY_OK, FERRY_DONE at the end, or an error that ends the run. */
    ferry_rc (*next)(ferry_source *src, ferry_source_record *ret_rec, ferry_err *err);
    /* How much of the input has been consumed; *ret_total is 0 when unknown. */
    void (*progress)(ferry_source *src, uint64_t *ret_done, uint64_t *ret_total);
    /* Downloads what is left of a remote input to local storage, calling progress(ctx, done,
     * total) now and then (total 0 when unknown), so the run can take the database's write
     * lock only for the local, fast part. When progress returns false the download stops
     * with FERRY_ECANCELLED. NULL for local sources. */
    ferry_rc (*prefetch)(ferry_source *src,
                         bool (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
                         ferry_err *err);
    /* Reads what a connection check reports (the source was opened with check set); reads
     * at most the first page. */
    ferry_rc (*check)(ferry_source *src, ferry_source_check *ret_check, ferry_err *err);
    /* Says what ferry_source_snapshot() saves of a source read to its end: views of the
     * source's own bytes, valid until the next call on it. NULL for a kind that cannot. */
    ferry_rc (*snapshot)(ferry_source *src, ferry_source_snapshot_parts *ret_parts, ferry_err *err);
    /* Frees the source. */
    void (*close)(ferry_source *src);
} ferry_source_ops;

struct ferry_source {
    const ferry_source_ops *ops;
    const char *kind;     /* "csv", "rest" */
    bool total_estimated; /* progress's total is the last run's count, not a stated one */
    /* A Google Sheet's export (source/sheet_link.h): the tab's edit address, and per field of
     * the sync its column in the sheet (0 is A; SIZE_MAX: none). NULL otherwise. Set when
     * opened and not changed after, so any thread may read them. */
    const char *sheet_url;
    const size_t *field_column;
    /* An incremental source, once prefetched: the highest cursor of its records (ms since
     * the epoch) and how many records had one (0: no watermark to keep). */
    int64_t cursor_max_ms;
    int64_t cursor_count;
    /* What was read so far, kept by the implementation: bytes (a file's, a download's as
     * decoded, a REST source's page bodies) and records (a REST source's fetched). */
    int64_t bytes;
    int64_t records;
};

/* Opens the source of sync. A CSV source reads and checks its header (missing or repeated
 * columns fail here, before the target is touched); a REST source fetches its first page
 * (so unreachable servers and rejected credentials fail here). On success *ret_src is owned
 * by the caller (ferry_source_close()). */
ferry_rc ferry_source_open(const ferry_sync_spec *sync, const ferry_source_options *opt,
                           ferry_source **ret_src, ferry_err *err);

static inline ferry_rc ferry_source_next(ferry_source *src, ferry_source_record *ret_rec,
                                         ferry_err *err)
{
    return src->ops->next(src, ret_rec, err);
}

static inline void ferry_source_progress(ferry_source *src, uint64_t *ret_done, uint64_t *ret_total)
{
    src->ops->progress(src, ret_done, ret_total);
}

/* Frees a source; NULL is allowed. */
void ferry_source_close(ferry_source *src);

/* Saves what src read (it was read to its end: every record through next()) to a new file at
 * path (created exclusively, mode 0600, written whole, then fsync'd), so a later open with
 * options.replay reads the same records: a CSV source's input bytes, a REST source's spooled
 * records (it must have been prefetched) after a header of its state. More than max_bytes
 * (0: no bound) is FERRY_ELIMIT. On any failure no file is left at path. FERRY_EINVAL for a
 * source that cannot be saved. Called on the thread that opened src. */
ferry_rc ferry_source_snapshot(ferry_source *src, const char *path, int64_t max_bytes,
                               ferry_err *err);

/* Sets out (reset first) to the link to the cell of field (an index of the sync's fields, or
 * -1 for the row's first cell) in the source's row (the header is row 1) and returns true,
 * when the source is a Google Sheet; false otherwise. */
bool ferry_source_cell_link(const ferry_source *src, long field, long row, ferry_buf *out);

/* Expands the {variables} of a query value and percent-encodes the whole of it (spaces,
 * quotes, '&', '=', '+' and non-ASCII bytes included). Appends to out. */
ferry_rc ferry_source_expand_query(const ferry_sync_spec *sync, const char *tenant,
                                   const char *text, ferry_buf *out, ferry_err *err);

/* Expands the {variables} of a source string (url, header, query value, body): vars: and
 * the tenant's variable; URL-encoded when encode. Appends to out. */
ferry_rc ferry_source_expand(const ferry_sync_spec *sync, const char *tenant, const char *text,
                             bool encode, ferry_buf *out, ferry_err *err);

/* As ferry_source_expand() (query: as ferry_source_expand_query()), with {since} standing
 * for since (an incremental source's url and query values). */
ferry_rc ferry_source_expand_since(const ferry_sync_spec *sync, const char *tenant,
                                   const char *since, const char *text, bool query, ferry_buf *out,
                                   ferry_err *err);

/* Reads the secret ref names (its variable's or file's name may hold {variables}; a
 * relative file resolves against opt->base_dir) for sync; what names it in errors ("token").
 * On success *ret is owned by the caller (wipe it, then free()). Messages name the variable
 * or the file, never the value. Any thread. */
ferry_rc ferry_source_secret_read(const ferry_sync_spec *sync, const ferry_source_options *opt,
                                  const ferry_secret_ref *ref, const char *what, char **ret,
                                  ferry_err *err);

/* The destination policy of spec (a view of it: borrowed from spec). */
static inline ferry_net_policy ferry_source_net_policy(const ferry_source_spec *spec)
{
    ferry_net_policy p = {spec->allow_private, spec->allow_hosts, spec->nallow_hosts};
    return p;
}

/* Opens the snapshot path (options.replay) for reading into *ret_fd (owned: close()). A
 * missing one is FERRY_ENOTFOUND, naming path. For the implementations. */
ferry_rc ferry_source_replay_open(const char *path, int *ret_fd, ferry_err *err);

/* Implementations (csv_source.c, rest_source.c). */
ferry_rc ferry_csv_source_open(const ferry_sync_spec *sync, const ferry_source_options *opt,
                               ferry_source **ret_src, ferry_err *err);
ferry_rc ferry_rest_source_open(const ferry_sync_spec *sync, const ferry_source_options *opt,
                                ferry_source **ret_src, ferry_err *err);

#endif
