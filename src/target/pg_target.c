/* pg_target.c - the PostgreSQL target: COPY into staging, set-wise merges, deferred outcomes.
 *
 * It gives exactly the SQLite target's outcomes, diffs and reasons for the same input
 * (sqlite_target.c is the specification), but never touches one record at a time. The whole
 * run is one transaction on the store's connection: readers go on seeing the old rows until
 * COMMIT. The table takes no lock beyond its statements' own (a stronger one would queue
 * behind autovacuum, which a freshly loaded table attracts): runs of other tenants may write
 * the table at the same time, their keys differing by the tenant column.
 *
 * Two modes, chosen at begin() by the empty-table probe (scoped to the run's tenant, as in
 * SQLite):
 *
 * - direct (the table had none of the tenant's rows): apply() streams each record with COPY
 *   straight into the table, inside a savepoint per batch. When the COPY succeeds every record
 *   of the batch was created. When it fails on a record (a duplicate key, a constraint, a value
 *   the column rejects), the batch is rolled back to its savepoint and replayed through the
 *   staging table below, which finds the offending records. The batch's rows, keys and source
 *   rows are held for that (at most DIRECT_ROWS records, DIRECT_BYTES of text).
 *
 * - staged (the table has rows): apply() and keep() stream records with COPY into a temporary
 *   table, ferry_stage (temporary tables are not WAL-logged; the session's temporary buffers
 *   are raised to TEMP_BUFFERS before the first one, so the staged records stay in memory
 *   instead of being written out and read back), which keeps every record of the run. Every
 *   CHUNK_ROWS applies the COPY ends and the chunk's merge is sent without waiting, while the
 *   client goes on reading the source (buffering records, and looking for the merge's end
 *   once per SEND_CHUNK of them, not per record). A merge is a few statements: one classifies
 *   every record of the chunk by joining it with the table (an index probe per record),
 *   writing only the records that are not unchanged (with their old values) to ferry_out; one
 *   INSERT creates the new ones; one UPDATE writes the changed ones. Unchanged records cost
 *   one join probe and nothing else, and are counted from the gaps between the rows of
 *   ferry_out. Diffs are computed here from the old and new text with the SQLite target's
 *   code (diff.c), so they are byte-identical.
 *
 * - prints (staged mode, when every key column prints its values as the mapper's canonical
 *   text, so equal keys have equal text: text; bigint for an integer or boolean field; the
 *   boolean, date and numeric columns Ferry creates for boolean, date and decimal fields;
 *   prints_canonical): begin() starts a COPY of the ctid, the key columns' text and the
 *   mapped columns' text of every row of the run's tenant (rows flagged missing left out)
 *   and keeps, per row, a 16-byte digest of its key columns' COPY text and one of
 *   all its mapped columns' COPY text, indexed by key digest (see fp_digest for why equal
 *   digests mean equal values). A record's canonical values are written as COPY text the same
 *   way, so equal digests mean exactly what the merge calls unchanged. A table under
 *   PRINTS_AT_ONCE is read in begin(); a larger one while the first records are read (a share
 *   of TAKE_LINES rows every TAKE_EVERY records). Meanwhile the connection is the COPY's, so
 *   applies and keeps are held in t->held, staging line and digests written (at most
 *   HELD_BYTES; past that the client waits for the prints), and release_held() decides them
 *   in order once the prints are in, by the same rules as below (a key held more than once,
 *   or kept, is left to the staging table). Then, per apply: a key whose print no record
 *   touched yet (FP_UNSEEN) and whose values digest the same is unchanged at once and never
 *   staged (FP_FAST); a later apply of an FP_FAST key is a duplicate at once, and a keep() of
 *   it changes nothing. Any other record is staged as without prints, and its key's print
 *   (FP_STAGED) is the staging table's from then on, so the staging table's duplicate rules
 *   see every record of such keys. on_missing copies the ctids of the FP_FAST rows into
 *   ferry_fast once and leaves them out of its anti-join (they are not updated in the run, so
 *   their ctids hold). Records answered from the prints count towards CHUNK_ROWS, so chunks
 *   stay small and their merges overlap the reading. Memory: 40 bytes per print (two
 *   digests, the ctid, the state) in an array grown by doubling, plus a slot index of 4 bytes
 *   times a power of two at least twice the rows: about 48 to 96 bytes per row of the tenant
 *   (1,000,000 rows: 48 MiB), and up to HELD_BYTES of held records while the prints arrive;
 *   past FP_MAX_ROWS rows, or short of memory, the run goes without prints.
 *
 * Records are numbered in apply order; a keep() between applies a-1 and a gets ord 2a-1 and
 * apply a gets ord 2a, so ord is the source order of everything staged. SQLite's rule for a
 * duplicate (a key whose row this run already touched) becomes: apply s is a duplicate when an
 * earlier staged record p has its key, p did not fail to insert (ok), and p was an apply or the
 * key's row exists. A Bloom filter of the keys staged so far marks the records whose key may
 * have been seen (chk); only those are checked against the staging table, so a run without
 * duplicates never pays for the check. A key's bits lie in one cache line of the filter. on_missing
 * is one anti-join of the table with the staging table, reported in key order (as SQLite does).
 *
 * When a merge statement fails on a record (SQLSTATE classes 22 and 23), its savepoint is
 * rolled back and the range is split in two and merged again, down to single records, which
 * then fail with "rejected by the target table: <PostgreSQL's message>" (a failed insert does
 * not count as seen, a failed update does, as in SQLite). Rows of other classes fail the run.
 *
 * Outcomes come from drain() (target.h), in apply order, through the caller's callback, which
 * is only called while the connection is idle (results are read in chunks with FETCH), so it
 * may write change rows through the store. Memory: one batch in direct mode; in staged mode a
 * fixed Bloom filter, one FETCH chunk and the prints, the records living on the server.
 *
 * Column types of a created table: the field type's native type (created_type: bigint,
 * numeric, boolean, date, timestamptz; text for text, email and enum fields), read back and
 * handled like any existing table's typed columns below. Tables created by earlier versions,
 * with bigint for integer and boolean fields and text otherwise, are used as they are. An
 * existing table's other column types are accepted: values are cast on the way in. Columns of
 * the types value.h knows (boolean, the integers, numeric, real, double precision, date,
 * timestamp, timestamptz, time, uuid, json, jsonb, citext, varchar(n)) are compared by value:
 * the merge compares t.col with the staged text cast to the column's type (json as jsonb),
 * the prints read such a column in the mapper's canonical form (print_expr), and the diff
 * compares the old and new text in the column's comparison form (diff.c). A value the column
 * cannot hold fails its record in apply(), before anything is staged, with a reason naming the
 * column; its row counts as seen (as keep()). An instant written into a timestamp or
 * timestamptz column is staged in the mapper's UTC form, so a timestamp without time zone
 * holds UTC whatever the session's time zone.
 *
 * A generated id (serial, bigserial, GENERATED ... AS IDENTITY, a nextval default) that no
 * field fills is the database's to fill.
 *
 * on_missing: flag marks missing rows in ferry_missing_since (added when absent), or in the
 * column target.flag names: a time column gets the run's time (as the timestamps are written)
 * and NULL when the record returns; a boolean one gets flag.value and the opposite when the
 * record returns.
 *
 * Timestamps (target.timestamps) are the run's time, taken once at begin(), written as a
 * UTC literal: into a timestamp column as UTC whatever the session's TimeZone, into a
 * timestamptz column with "+00". The created column is written by the direct COPY and the
 * merge's INSERT, the updated column also by its UPDATE and by flagging; an unchanged row
 * keeps both. A table Ferry creates gets FERRY_TARGET_OWNED_MARK as its comment. */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/diff.h"
#include "target/shape.h"
#include "target/target.h"
#include "target/value.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define MISSING_COLUMN FERRY_TARGET_MISSING_COLUMN
#define DIRECT_ROWS 65536
#define DIRECT_BYTES (32u * 1024 * 1024)
#define STAGED_ROWS (1 << 20)
#define CHUNK_ROWS 65536
#define ONE_BY_ONE 16 /* a failed range this small is merged record by record */
#define CHUNK_BYTES (16u * 1024 * 1024)
#define SEND_CHUNK (64 * 1024)
#define FETCH_ROWS 4096
#define BLOOM_WORDS ((size_t)1 << 20) /* 2^26 bits, 8 MiB */
#define BLOOM_HASHES 6
#define BLOOM_BLOCK 8 /* words: 512 bits, a cache line */
#define SQL_MAX (4u * 1024 * 1024)
#define FP_BYTES 16     /* a digest of a key or a row (SipHash-2-4, 128 bits) */
#define TAKE_EVERY 64   /* while the prints arrive: records between looks at them */
#define TAKE_LINES 2048 /* rows of prints taken per look */
#define PRINTS_AT_ONCE (8 * 1024 * 1024) /* a table smaller than this is read in begin() */
#define HELD_BYTES (32u * 1024 * 1024)   /* records held while the prints arrive */
#define FP_MAX_ROWS ((size_t)1 << 25)    /* more rows than this: no prints */
#define TEMP_BUFFERS "256MB" /* the server's buffers for the staging table, allocated as used */

/* What the run did with a printed row's key so far. */
enum { FP_UNSEEN, FP_FAST, FP_STAGED, FP_HELD };

/* A record applied or kept while the prints arrive (in t->held, followed by its staging line
 * and padding to 8 bytes), held until they are all in. */
typedef struct {
    uint8_t kd[FP_BYTES]; /* its key's digest, when HELD_KEY */
    uint8_t rd[FP_BYTES]; /* an apply's values' digest */
    uint64_t bloom;       /* bloom_hash() of its key */
    uint32_t len;         /* bytes of its staging line */
    uint32_t chk_at;      /* where the line's chk flag is */
    uint32_t flags;
} held_rec;

#define HELD_KEY 1u  /* no key value is NULL: kd is set */
#define HELD_KEEP 2u /* a keep() */

/* The print of a row of the run's tenant, as the table had it at begin(). */
typedef struct {
    uint8_t kd[FP_BYTES]; /* the key's digest */
    uint8_t rd[FP_BYTES]; /* the mapped values' digest */
    uint32_t block;       /* the row's ctid */
    uint16_t offset;
    uint8_t state; /* FP_UNSEEN; FP_FAST: an apply found it unchanged here; FP_STAGED: a
                      record with its key was staged */
} fp_entry;

typedef enum { STEP_CLASSIFY, STEP_INSERT, STEP_UPDATE } merge_step;

typedef struct {
    char *name;      /* quoted */
    char *type;      /* the column's type as PostgreSQL names it */
    const char *out; /* cast from text into the column ("" for text) */
    bool native;     /* the staging column has the column's type: compare without casts */
    bool to_utc;     /* values are staged in the UTC form of an instant */
} column;

typedef struct {
    ferry_target base;
    PGconn *conn;
    const ferry_sync_spec *sync;
    char *tenant;
    size_t *key_field;
    char *table; /* quoted */
    column *col; /* per field */
    bool flag_mode;
    bool in_txn;
    bool was_empty;
    int64_t revived;   /* rows flagged as missing before the run that the run brought back */
    bool staged_ready; /* ferry_stage exists */
    bool copying;      /* a COPY is in progress */
    bool staged_keeps; /* keeps were staged since the last merge */
    bool fallback;     /* ferry_stage has the indexes that finding failing records needs */
    bool inflight;     /* a merge runs on the server, sent without waiting */
    size_t next_poll;  /* while a merge runs: t->send's length at which to look for its end */
    bool in_failed, in_fatal, in_dups;
    int64_t in_lo, in_hi, in_block;
    int64_t chunk_first; /* staged: apply number of the chunk being staged */
    int64_t chunk_block; /* staged: first block of ferry_stage its rows may be in */
    int64_t next_apply;
    int64_t batch_first; /* apply number of the batch's first apply */
    size_t nbatch;       /* applies in the batch */
    size_t nchk;         /* records in the batch whose key may have been seen */
    uint64_t *bloom;
    ferry_buf send;  /* COPY data not sent yet */
    ferry_buf lines; /* direct: the batch in staging form, for a replay */
    ferry_buf keys;  /* direct: the batch's keys, NUL-terminated */
    long *rows;      /* direct: per apply of the batch */
    size_t *keyoff;
    ferry_buf sql;
    ferry_target_diff diff;
    char reason[768];
    fp_entry *fp;       /* staged: the prints of the tenant's rows, NULL without */
    size_t nfp, fp_cap; /* prints held, and room for */
    uint32_t *fp_slots; /* open addressing by key digest: print index + 1, 0 when free */
    size_t fp_nslots;   /* a power of two, at least twice nfp */
    size_t nfast;       /* prints in state FP_FAST */
    size_t chunk_fast;  /* records answered from the prints since the chunk began */
    bool loading;       /* the prints' COPY is running (the connection is busy with it) */
    bool fp_ok;         /* the prints read so far are all kept */
    size_t nloading;    /* applies and keeps while loading, to look at the COPY now and then */
    ferry_buf fp_line;  /* a record's key, or all its values, as COPY text */
    size_t fp_next;     /* the print after the last one found */
    bool fp_tids;       /* the prints carry ctids (on_missing needs them) */
    bool fp_keys_lead;  /* the key fields are the first fields: read once */
    unsigned char fp_secret[crypto_shorthash_siphashx24_KEYBYTES]; /* the digests' key */
    ferry_buf held;                  /* held_rec: records applied or kept while the prints arrive */
    bool checking;                   /* ferry_pg_target_check(): read the table, change nothing */
    char *created_col, *updated_col; /* quoted timestamp columns, or NULL */
    char *flag_col;                  /* quoted flag column (on_missing: flag), or NULL */
    char flag_at[FERRY_TARGET_TIME_MAX];    /* the run's time as target.flag's column takes it */
    ferry_column_type flag_type;            /* target.flag's timestamp column, for diffs */
    char created_at[FERRY_TARGET_TIME_MAX]; /* the run's time, as each column takes it */
    char updated_at[FERRY_TARGET_TIME_MAX];
    ferry_column_type *ctype; /* per field: what its column holds, how values compare */
    bool *check;              /* per field: values are checked against ctype before staging */
    bool any_check;           /* some field's values are checked */
    bool any_to_utc;          /* some column's values are staged as UTC instants (column.to_utc) */
    ferry_buf form;           /* a value in its UTC form, for put_fields */
} pg_target;

/* ---- statements ---------------------------------------------------------------------- */

static void copy_primary(PGresult *res, PGconn *conn, char *out, size_t outlen)
{
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    size_t n;

    if (msg == NULL)
        msg = PQerrorMessage(conn);
    snprintf(out, outlen, "%s", msg != NULL && msg[0] != '\0' ? msg : "unknown error");
    n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
}

static ferry_rc db_error(pg_target *t, PGresult *res, ferry_err *err, const char *what)
{
    char msg[512];
    ferry_rc rc;

    copy_primary(res, t->conn, msg, sizeof(msg));
    rc = ferry_err_set(err, FERRY_EDB, "table %s: %s: %s", t->sync->target.table, what, msg);
    if (err != NULL && PQstatus(t->conn) != CONNECTION_OK)
        err->transient = true;
    return rc;
}

/* True when res failed because of one record's values: a data exception (22) or an integrity
 * constraint (23). */
static bool record_error(PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    return state != NULL && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
}

/* Runs sql; returns the result when it succeeded (caller clears), else NULL with err set. */
static PGresult *query(pg_target *t, const char *sql, ferry_err *err, const char *what)
{
    PGresult *res = PQexec(t->conn, sql);
    ExecStatusType st = PQresultStatus(res);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    db_error(t, res, err, what);
    PQclear(res);
    return NULL;
}

static ferry_rc exec(pg_target *t, const char *sql, ferry_err *err, const char *what)
{
    PGresult *res = query(t, sql, err, what);

    if (res == NULL)
        return FERRY_EDB;
    PQclear(res);
    return FERRY_OK;
}

/* Like exec() for the statements of a merge: a record-level failure sets *ret_failed and the
 * message, instead of an error. */
static ferry_rc exec_merge(pg_target *t, const char *sql, int64_t *ret_count, bool *ret_failed,
                           ferry_err *err, const char *what)
{
    PGresult *res = PQexec(t->conn, sql);
    ExecStatusType st = PQresultStatus(res);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (ret_count != NULL)
            *ret_count = strtoll(PQcmdTuples(res), NULL, 10);
        PQclear(res);
        return FERRY_OK;
    }
    if (record_error(res)) {
        copy_primary(res, t->conn, t->reason, sizeof(t->reason));
        *ret_failed = true;
        PQclear(res);
        return FERRY_OK;
    }
    db_error(t, res, err, what);
    PQclear(res);
    return FERRY_EDB;
}

static ferry_rc sql_ready(pg_target *t, ferry_err *err)
{
    if (t->sql.truncated)
        return ferry_err_set(err, FERRY_ELIMIT, "table %s: a statement is too long",
                             t->sync->target.table);
    return FERRY_OK;
}

/* ---- COPY data --------------------------------------------------------------------- */

/* Appends v (len bytes; NULL for NULL) as a COPY text field. */
static ferry_rc put_value(ferry_buf *b, const char *v, size_t len)
{
    return ferry_buf_append_copy_text(b, v, len);
}

static ferry_rc put_int(ferry_buf *b, int64_t v)
{
    char tmp[24];
    size_t n = sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        tmp[--n] = '-';
    return ferry_buf_append(b, tmp + n, sizeof(tmp) - n);
}

/* Appends the staging prefix: ord, row, keep, chk, key. */
static ferry_rc put_prefix(ferry_buf *b, int64_t ord, long row, bool keep, bool chk,
                           const char *key, size_t *ret_chk_at)
{
    ferry_rc rc;

    if ((rc = put_int(b, ord)) != FERRY_OK || (rc = ferry_buf_append(b, "\t", 1)) != FERRY_OK ||
        (rc = put_int(b, row)) != FERRY_OK ||
        (rc = ferry_buf_append(b, keep ? "\tt" : "\tf", 2)) != FERRY_OK)
        return rc;
    if (ret_chk_at != NULL)
        *ret_chk_at = b->len + 1;
    if ((rc = ferry_buf_append(b, chk ? "\tt\t" : "\tf\t", 3)) != FERRY_OK)
        return rc;
    return put_value(b, key, key != NULL ? strlen(key) : 0);
}

/* Appends the fields, tab-separated, and the newline. keys_only: NULL for other fields. */
static ferry_rc put_fields(pg_target *t, ferry_buf *b, const ferry_mapped_record *rec,
                           bool keys_only, bool leading_tab)
{
    ferry_rc rc = FERRY_OK;

    for (size_t i = 0; i < t->sync->nfields && rc == FERRY_OK; i++) {
        bool is_key = false;
        if (keys_only) {
            for (size_t k = 0; k < t->sync->target.nkey; k++)
                is_key = is_key || t->key_field[k] == i;
        }
        if ((i > 0 || leading_tab) && (rc = ferry_buf_append(b, "\t", 1)) != FERRY_OK)
            break;
        if (keys_only && !is_key) {
            rc = ferry_buf_append(b, "\\N", 2);
        } else if (t->any_to_utc && t->col[i].to_utc && rec->value[i] != NULL) {
            const char *v = ferry_column_value_norm(&t->ctype[i], rec->value[i], &t->form);
            rc = put_value(b, v, strlen(v));
        } else {
            rc = put_value(b, rec->value[i], rec->len[i]);
        }
    }
    if (rc == FERRY_OK)
        rc = ferry_buf_append(b, "\n", 1);
    return rc;
}

static ferry_rc send_data(pg_target *t, ferry_err *err)
{
    if (t->send.len == 0)
        return FERRY_OK;
    if (PQputCopyData(t->conn, t->send.data, (int)t->send.len) != 1)
        return db_error(t, NULL, err, "sending rows");
    ferry_buf_reset(&t->send);
    return FERRY_OK;
}

static ferry_rc start_copy(pg_target *t, const char *sql, ferry_err *err)
{
    PGresult *res = PQexec(t->conn, sql);

    if (PQresultStatus(res) != PGRES_COPY_IN) {
        ferry_rc rc = db_error(t, res, err, "starting COPY");
        PQclear(res);
        return rc;
    }
    PQclear(res);
    t->copying = true;
    return FERRY_OK;
}

/* Ends the COPY in progress; returns its result (caller clears). */
static PGresult *end_copy(pg_target *t, const char *abort_msg)
{
    PGresult *res, *next;

    if (abort_msg == NULL && t->send.len > 0 &&
        PQputCopyData(t->conn, t->send.data, (int)t->send.len) != 1)
        abort_msg = "sending rows failed";
    ferry_buf_reset(&t->send);
    t->copying = false;
    PQputCopyEnd(t->conn, abort_msg);
    res = PQgetResult(t->conn);
    while ((next = PQgetResult(t->conn)) != NULL)
        PQclear(next);
    return res;
}

/* ---- the Bloom filter of staged keys ------------------------------------------------- */

/* The filter's hash of a key (FNV-1a). */
static uint64_t bloom_hash(const char *key)
{
    uint64_t h = 1469598103934665603ULL;

    for (const unsigned char *p = (const unsigned char *)(key != NULL ? key : ""); *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* Adds the key whose bloom_hash() is h1; true when it may have been added before. The key's
 * bits all lie in one 64-byte block (one cache line), so a key costs one memory access, not
 * one per hash. */
static bool bloom_check_add_hash(pg_target *t, uint64_t h1)
{
    uint64_t h2 = (h1 >> 29 | h1 << 35) * 0x9E3779B97F4A7C15ULL;
    uint64_t *block;
    bool seen = true;

    block = &t->bloom[(h1 % (BLOOM_WORDS / BLOOM_BLOCK)) * BLOOM_BLOCK];
    for (int i = 0; i < BLOOM_HASHES; i++) {
        unsigned bit = (unsigned)(h2 >> (9 * i)) & (BLOOM_BLOCK * 64 - 1);
        uint64_t mask = (uint64_t)1 << (bit & 63);
        if ((block[bit >> 6] & mask) == 0) {
            seen = false;
            block[bit >> 6] |= mask;
        }
    }
    return seen;
}

/* Adds key; true when it may have been added before. */
static bool bloom_check_add(pg_target *t, const char *key)
{
    return bloom_check_add_hash(t, bloom_hash(key));
}

/* ---- the prints of the tenant's rows ------------------------------------------------- */

/* A key and a row are each digested from their COPY text form: the key columns' text, then
 * all the mapped columns' text, tab-separated, as COPY TO writes them (\N for NULL). The
 * table's rows are read in that form (start_prints) and digested as they arrive, with no
 * decoding; a record's canonical values are written the same way (put_value, which writes
 * COPY's own escapes). Both are COPY text, which decodes to exactly one list of values, so
 * equal texts mean equal values: exactly when the merge would call the record unchanged. (A
 * value COPY TO escapes another way would only differ in text, and be staged.) The digest is
 * SipHash-2-4 with 128-bit output, keyed with a random key per run, so two different texts
 * have the same digest with a chance of 2^-128 that nobody can steer without the key. */
static void fp_digest(const pg_target *t, const char *text, size_t len, uint8_t out[FP_BYTES])
{
    crypto_shorthash_siphashx24((unsigned char *)out, (const unsigned char *)text,
                                (unsigned long long)len, t->fp_secret);
}

/* The record's key digest, from the COPY text of its key values written to t->fp_line. False
 * when a key value is NULL (no row can match). */
static bool fp_key(pg_target *t, const ferry_mapped_record *rec, uint8_t kd[FP_BYTES])
{
    ferry_buf *b = &t->fp_line;

    ferry_buf_reset(b);
    for (size_t k = 0; k < t->sync->target.nkey; k++) {
        size_t f = t->key_field[k];
        if (rec->value[f] == NULL)
            return false;
        if ((k > 0 && ferry_buf_append(b, "\t", 1) != FERRY_OK) ||
            put_value(b, rec->value[f], rec->len[f]) != FERRY_OK)
            return false;
    }
    fp_digest(t, b->data != NULL ? b->data : "", b->len, kd);
    return true;
}

/* Appends the record's mapped values to b as staged (a leading tab, COPY text, the newline)
 * and digests them into rd. */
static ferry_rc fp_row_append(pg_target *t, ferry_buf *b, const ferry_mapped_record *rec,
                              uint8_t rd[FP_BYTES])
{
    size_t start = b->len;
    ferry_rc rc;

    if ((rc = put_fields(t, b, rec, false, true)) != FERRY_OK)
        return rc;
    fp_digest(t, b->data + start + 1, b->len - start - 2, rd);
    return FERRY_OK;
}

/* The digest of the record's mapped values. Leaves them, as staged, in t->fp_line, to be
 * staged from there if the record is not unchanged. */
static ferry_rc fp_row(pg_target *t, const ferry_mapped_record *rec, uint8_t rd[FP_BYTES])
{
    ferry_buf_reset(&t->fp_line);
    return fp_row_append(t, &t->fp_line, rec, rd);
}

static uint64_t fp_hash(const uint8_t kd[FP_BYTES])
{
    uint64_t h;

    memcpy(&h, kd, sizeof(h));
    return h;
}

/* The print with key digest kd, or NULL. Records tend to come in the order the table holds
 * their rows (a table loaded from the same source), so the print after the last one found is
 * tried first: then the lookup reads memory in order instead of a random slot. */
static fp_entry *fp_find(pg_target *t, const uint8_t kd[FP_BYTES])
{
    size_t mask = t->fp_nslots - 1;

    if (t->fp_slots == NULL)
        return NULL;
    if (t->fp_next < t->nfp && memcmp(t->fp[t->fp_next].kd, kd, FP_BYTES) == 0)
        return &t->fp[t->fp_next++];
    for (size_t s = (size_t)fp_hash(kd) & mask;; s = (s + 1) & mask) {
        uint32_t i = t->fp_slots[s];
        if (i == 0)
            return NULL;
        if (memcmp(t->fp[i - 1].kd, kd, FP_BYTES) == 0) {
            t->fp_next = i;
            return &t->fp[i - 1];
        }
    }
}

/* Parses one line of the prints' COPY (see start_prints) into e. */
static bool fp_parse(pg_target *t, const char *line, size_t len, fp_entry *e)
{
    const char *p = line, *end = line + len, *key, *tab = NULL;
    unsigned long block = 0, off = 0;
    char num[32], *stop;
    size_t n;

    while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if (t->fp_tids) {
        if ((tab = memchr(p, '\t', (size_t)(end - p))) == NULL)
            return false;
        n = (size_t)(tab - p);
        if (n < 5 || n >= sizeof(num) || p[0] != '(')
            return false;
        memcpy(num, p + 1, n - 1);
        num[n - 1] = '\0';
        block = strtoul(num, &stop, 10);
        if (*stop != ',')
            return false;
        off = strtoul(stop + 1, &stop, 10);
        if (*stop != ')' || block > UINT32_MAX || off > UINT16_MAX)
            return false;
        p = tab + 1;
    }
    key = p;
    for (size_t k = 0; k < t->sync->target.nkey; k++) {
        if ((tab = memchr(p, '\t', (size_t)(end - p))) == NULL)
            return false;
        p = tab + 1;
    }
    fp_digest(t, key, (size_t)(tab - key), e->kd);
    if (t->fp_keys_lead)
        p = key;
    fp_digest(t, p, (size_t)(end - p), e->rd);
    e->block = (uint32_t)block;
    e->offset = (uint16_t)off;
    e->state = FP_UNSEEN;
    return true;
}

static void fp_drop(pg_target *t)
{
    free(t->fp);
    free(t->fp_slots);
    t->fp = NULL;
    t->fp_slots = NULL;
    t->nfp = t->fp_cap = t->fp_nslots = t->nfast = t->fp_next = 0;
}

/* True when column i prints (print_expr) a value as exactly the mapper's canonical text of the
 * equal record value, and no other value so: a text column; bigint for an integer or boolean
 * field; varchar(n) for any field; boolean for a boolean field (1/0); date for a date field;
 * numeric without a precision
 * for a decimal field (trim_scale, PostgreSQL 13 on: it holds every canonical decimal as it
 * is, where numeric(p,s) would round one to a value another record may spell). */
static bool prints_canonical(const pg_target *t, size_t i)
{
    ferry_field_type ft = t->sync->fields[i].type;
    const ferry_column_type *ct = &t->ctype[i];

    if (t->col[i].native)
        return true;
    switch (ct->kind) {
    case FERRY_COLUMN_TEXT: /* varchar(n) holds the text as written; char(n) pads it */
        return strncmp(t->col[i].type, "character varying", 17) == 0;
    case FERRY_COLUMN_BOOLEAN:
        return ft == FERRY_TYPE_BOOLEAN;
    case FERRY_COLUMN_DATE:
        return ft == FERRY_TYPE_DATE;
    case FERRY_COLUMN_NUMERIC:
        return ft == FERRY_TYPE_DECIMAL && ct->precision == 0 && PQserverVersion(t->conn) >= 130000;
    default:
        return false;
    }
}

/* True when the prints can be looked up by a record's values and stand for its key: the key
 * columns' text order is the key's order (the key fields in field order), and a record's key
 * matches a row's exactly when their texts are equal (every key column prints canonically). */
static bool fp_usable(const pg_target *t)
{
    for (size_t k = 0; k < t->sync->target.nkey; k++) {
        if (!prints_canonical(t, t->key_field[k]) ||
            (k > 0 && t->key_field[k] <= t->key_field[k - 1]))
            return false;
    }
    return true;
}

/* Staged mode: starts reading the text of the mapped columns and the place (ctid) of every
 * row of the run's tenant, to keep their prints (the rows arrive while the first records are
 * read: take_prints()). Rows flagged missing are left out: a record of theirs clears the
 * flag, so it is never unchanged. */
static ferry_rc take_prints(pg_target *t, bool wait, ferry_err *err);
static ferry_rc release_held(pg_target *t, ferry_err *err);

/* Appends the text of column i for its print: the mapper's canonical form of the value where
 * the field's type has one and SQL can write it, so an unchanged value of a typed column is
 * answered from the prints; its ::text otherwise (a differing text is merely staged). Equal
 * texts must mean equal values: BC dates and times keep a mark of their own. */
static void print_expr(pg_target *t, size_t i)
{
    const column *c = &t->col[i];
    ferry_field_type ft = t->sync->fields[i].type;
    const char *n = c->name;
    ferry_buf *b = &t->sql;

    if (t->ctype[i].kind == FERRY_COLUMN_BOOLEAN && ft == FERRY_TYPE_BOOLEAN)
        ferry_buf_printf_trunc(b, "t.%s::int::text", n);
    else if (t->ctype[i].kind == FERRY_COLUMN_NUMERIC && ft == FERRY_TYPE_DECIMAL &&
             PQserverVersion(t->conn) >= 130000)
        ferry_buf_printf_trunc(b, "trim_scale(t.%s)::text", n);
    else if ((t->ctype[i].kind == FERRY_COLUMN_TIMESTAMP ||
              t->ctype[i].kind == FERRY_COLUMN_TIMESTAMPTZ) &&
             ft == FERRY_TYPE_DATETIME)
        ferry_buf_printf_trunc(
            b,
            "rtrim(rtrim(to_char(t.%s%s, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '0'),"
            " '.') || CASE WHEN t.%s < '0001-01-01' THEN ' BC' ELSE 'Z' END",
            n, t->ctype[i].kind == FERRY_COLUMN_TIMESTAMPTZ ? " AT TIME ZONE 'UTC'" : "", n);
    else
        ferry_buf_printf_trunc(b, "t.%s::text", n);
}

/* Appends the condition that the row (alias a) is flagged as missing: with a boolean flag
 * column, it holds flag.value; else it holds a time. */
static void append_flagged(pg_target *t, ferry_buf *b, const char *a, bool flagged)
{
    const ferry_target_spec *tg = &t->sync->target;

    if (tg->flag_bool)
        ferry_buf_printf_trunc(b, "%s.%s IS %sDISTINCT FROM %s", a, t->flag_col,
                               flagged ? "NOT " : "", tg->flag_value ? "true" : "false");
    else
        ferry_buf_printf_trunc(b, "%s.%s IS %sNULL", a, t->flag_col, flagged ? "NOT " : "");
}

/* ---- the run's rows ------------------------------------------------------------------ */

/* Appends to t->sql the conditions that keep a statement to the run's rows (alias t): the
 * run's tenant in the tenant's column, each scope's value in its column (target.scope).
 * Rows of other tenants and scopes are not the run's. */
static ferry_rc append_own_rows(pg_target *t, ferry_err *err)
{
    for (size_t f = 0; f < t->sync->nfields; f++) {
        const ferry_field_spec *fs = &t->sync->fields[f];
        const char *v = fs->is_tenant ? t->tenant : fs->scope_value;
        char *lit;

        if (v == NULL)
            continue;
        if ((lit = PQescapeLiteral(t->conn, v, strlen(v))) == NULL)
            return db_error(t, NULL, err, "quoting the tenant or scope");
        ferry_buf_printf_trunc(&t->sql, " AND t.%s = %s", t->col[f].name, lit);
        PQfreemem(lit);
    }
    return sql_ready(t, err);
}

/* Appends to t->sql the conditions on the table's rows (alias t) that on_missing's scope
 * adds: not already flagged as missing, and the run's own (on_missing touches the run's
 * tenant's and scope's rows only). */
static ferry_rc append_missing_scope(pg_target *t, ferry_err *err)
{
    if (t->flag_mode) {
        ferry_buf_printf_trunc(&t->sql, " AND ");
        append_flagged(t, &t->sql, "t", false);
    }
    return append_own_rows(t, err);
}

static ferry_rc start_prints(pg_target *t, ferry_err *err)
{
    const ferry_sync_spec *sync = t->sync;
    PGresult *res;
    char *lit = NULL;
    bool small;
    ferry_rc rc;

    fp_drop(t);
    if (!fp_usable(t) || sodium_init() < 0)
        return FERRY_OK;
    randombytes_buf(t->fp_secret, sizeof(t->fp_secret));
    /* A small table is read at once; a large one while the first records are read. */
    if ((lit = PQescapeLiteral(t->conn, t->table, strlen(t->table))) == NULL)
        return db_error(t, NULL, err, "quoting the table");
    ferry_buf_reset(&t->sql);
    ferry_buf_printf_trunc(&t->sql, "SELECT pg_relation_size(%s::regclass)", lit);
    PQfreemem(lit);
    lit = NULL;
    if ((rc = sql_ready(t, err)) != FERRY_OK)
        return rc;
    if ((res = query(t, ferry_buf_str(&t->sql), err, "reading the table's size")) == NULL)
        return FERRY_EDB;
    small = strtoll(PQgetvalue(res, 0, 0), NULL, 10) < PRINTS_AT_ONCE;
    PQclear(res);
    ferry_buf_reset(&t->sql);
    /* Each row's ctid (when on_missing needs it), its key columns (unless they are the first
     * fields, then read once) and its mapped columns, as text. */
    t->fp_tids = sync->target.on_missing != FERRY_ON_MISSING_KEEP;
    t->fp_keys_lead = true;
    for (size_t k = 0; k < sync->target.nkey; k++)
        t->fp_keys_lead = t->fp_keys_lead && t->key_field[k] == k;
    ferry_buf_printf_trunc(&t->sql, "COPY (SELECT %s", t->fp_tids ? "t.ctid, " : "");
    for (size_t k = 0; !t->fp_keys_lead && k < sync->target.nkey; k++) {
        print_expr(t, t->key_field[k]);
        ferry_buf_printf_trunc(&t->sql, ", ");
    }
    for (size_t i = 0; i < sync->nfields; i++) {
        ferry_buf_printf_trunc(&t->sql, "%s", i ? ", " : "");
        print_expr(t, i);
    }
    ferry_buf_printf_trunc(&t->sql, " FROM %s t WHERE true", t->table);
    for (size_t k = 0; k < sync->target.nkey; k++)
        ferry_buf_printf_trunc(&t->sql, " AND t.%s IS NOT NULL", t->col[t->key_field[k]].name);
    if ((rc = append_missing_scope(t, err)) != FERRY_OK)
        return rc;
    ferry_buf_printf_trunc(&t->sql, ") TO STDOUT");
    if ((rc = sql_ready(t, err)) != FERRY_OK)
        return rc;
    res = PQexec(t->conn, ferry_buf_str(&t->sql));
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        rc = db_error(t, res, err, "reading the table's rows");
        PQclear(res);
        return rc;
    }
    PQclear(res);
    ferry_buf_reset(&t->held);
    t->fp_ok = true;
    t->loading = true;
    t->nloading = 0;
    return small ? take_prints(t, true, err) : FERRY_OK;
}

/* Takes the rows of the prints' COPY that arrived (all of them with wait). When the COPY
 * ends, indexes the prints and hands the keys staged meanwhile to the staging table. Past
 * FP_MAX_ROWS, or short of memory, the run goes on without prints (every record staged). */
static ferry_rc take_prints(pg_target *t, bool wait, ferry_err *err)
{
    PGresult *res;
    char *line = NULL;
    ferry_rc rc = FERRY_OK;
    int n;

    if (!t->loading)
        return FERRY_OK;
    for (size_t taken = 0;; taken++) {
        /* Without wait, take a share and let the caller go on reading the source. */
        if (!wait && taken >= TAKE_LINES)
            return FERRY_OK;
        n = PQgetCopyData(t->conn, &line, wait ? 0 : 1);
        if (n == 0) {
            if (PQconsumeInput(t->conn) != 1)
                return db_error(t, NULL, err, "reading the table's rows");
            if ((n = PQgetCopyData(t->conn, &line, 1)) == 0)
                return FERRY_OK;
        }
        if (n < 0)
            break;
        if (t->fp_ok && t->nfp == t->fp_cap) {
            size_t cap = t->fp_cap ? t->fp_cap * 2 : 65536;
            fp_entry *grown = cap <= FP_MAX_ROWS ? realloc(t->fp, cap * sizeof(*grown)) : NULL;
            if (grown == NULL) {
                t->fp_ok = false;
            } else {
                t->fp = grown;
                t->fp_cap = cap;
            }
        }
        if (t->fp_ok && !fp_parse(t, line, (size_t)n, &t->fp[t->nfp]))
            t->fp_ok = false;
        else if (t->fp_ok)
            t->nfp++;
        PQfreemem(line);
    }
    t->loading = false;
    res = PQgetResult(t->conn);
    if (n != -1 || PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = db_error(t, res, err, "reading the table's rows");
    PQclear(res);
    while ((res = PQgetResult(t->conn)) != NULL)
        PQclear(res);
    if (rc == FERRY_OK && t->fp_ok) {
        t->fp_nslots = 1024;
        while (t->fp_nslots < 2 * t->nfp)
            t->fp_nslots *= 2;
        t->fp_slots = calloc(t->fp_nslots, sizeof(*t->fp_slots));
    }
    if (rc != FERRY_OK)
        return rc;
    if (!t->fp_ok || t->fp_slots == NULL) {
        fp_drop(t);
    } else {
        for (size_t i = 0; i < t->nfp; i++) {
            size_t mask = t->fp_nslots - 1, s = (size_t)fp_hash(t->fp[i].kd) & mask;
            while (t->fp_slots[s] != 0)
                s = (s + 1) & mask;
            t->fp_slots[s] = (uint32_t)(i + 1);
        }
    }
    return release_held(t, err);
}

/* While the prints arrive: holds an apply (ord even) or a keep, its staging line written with
 * its digests. Past HELD_BYTES, waits for the rest of the prints. */
static ferry_rc hold(pg_target *t, const ferry_mapped_record *rec, int64_t ord, bool keep,
                     ferry_err *err)
{
    ferry_buf *b = &t->held;
    size_t at = b->len, start, chk_at;
    held_rec h;
    ferry_rc rc;

    memset(&h, 0, sizeof(h));
    if (fp_key(t, rec, h.kd))
        h.flags |= HELD_KEY;
    if (keep)
        h.flags |= HELD_KEEP;
    h.bloom = bloom_hash(rec->key);
    if ((rc = ferry_buf_append(b, (const char *)&h, sizeof(h))) != FERRY_OK)
        goto fail;
    start = b->len;
    if ((rc = put_prefix(b, ord, rec->row, keep, false, rec->key, &chk_at)) != FERRY_OK)
        goto fail;
    if ((rc = keep ? put_fields(t, b, rec, true, true) : fp_row_append(t, b, rec, h.rd)) !=
        FERRY_OK)
        goto fail;
    h.len = (uint32_t)(b->len - start);
    h.chk_at = (uint32_t)(chk_at - start);
    memcpy(b->data + at, &h, sizeof(h));
    while (b->len % 8 != 0) {
        if ((rc = ferry_buf_append(b, "", 1)) != FERRY_OK)
            goto fail;
    }
    return b->len >= HELD_BYTES ? take_prints(t, true, err) : FERRY_OK;
fail:
    return ferry_err_set(err, rc, "table %s: holding a record", t->sync->target.table);
}

static ferry_rc start_batch(pg_target *t, ferry_err *err);

/* The prints are all in (or given up): decides the held records in their order. A key held
 * once by an apply, and never kept or staged before, whose values digest as its print's, is
 * unchanged and never staged (its apply number is a gap in ferry_out, which drain() reports
 * as unchanged). Every other held record is staged, with its chk flag set now, in order. */
static ferry_rc release_held(pg_target *t, ferry_err *err)
{
    ferry_buf *b = &t->held;
    held_rec h;
    fp_entry *e;
    ferry_rc rc;

    /* First: which keys were held once by an apply alone. */
    for (size_t off = 0; t->fp != NULL && off < b->len;) {
        memcpy(&h, b->data + off, sizeof(h));
        if ((h.flags & HELD_KEY) && (e = fp_find(t, h.kd)) != NULL)
            e->state = (e->state == FP_UNSEEN && !(h.flags & HELD_KEEP)) ? FP_HELD : FP_STAGED;
        off += (sizeof(h) + h.len + 7) & ~(size_t)7;
    }
    for (size_t off = 0; off < b->len; off += (sizeof(h) + h.len + 7) & ~(size_t)7) {
        char *line = b->data + off + sizeof(h);
        memcpy(&h, b->data + off, sizeof(h));
        e = t->fp != NULL && (h.flags & HELD_KEY) ? fp_find(t, h.kd) : NULL;
        if (e != NULL && e->state == FP_HELD) {
            if (memcmp(e->rd, h.rd, FP_BYTES) == 0) {
                e->state = FP_FAST;
                t->nfast++;
                continue;
            }
            e->state = FP_STAGED;
        }
        if (bloom_check_add_hash(t, h.bloom)) {
            line[h.chk_at] = 't';
            t->nchk++;
        }
        if (h.flags & HELD_KEEP)
            t->staged_keeps = true;
        if ((rc = ferry_buf_append(&t->send, line, h.len)) != FERRY_OK)
            return ferry_err_set(err, rc, "table %s: staging a record", t->sync->target.table);
        if (t->send.len >= SEND_CHUNK &&
            (rc = t->copying ? send_data(t, err) : start_batch(t, err)) != FERRY_OK)
            return rc;
    }
    ferry_buf_done(b);
    return FERRY_OK;
}

/* ---- begin: the table -------------------------------------------------------------- */

static ferry_rc quote(pg_target *t, const char *name, char **ret, ferry_err *err)
{
    char *q = PQescapeIdentifier(t->conn, name, strlen(name));

    if (q == NULL)
        return db_error(t, NULL, err, "quoting a name");
    *ret = strdup(q);
    PQfreemem(q);
    if (*ret == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
    return FERRY_OK;
}

static ferry_rc set_type(pg_target *t, size_t i, const char *type, ferry_err *err)
{
    column *c = &t->col[i];
    ferry_field_type ft = t->sync->fields[i].type;

    free(c->type);
    if ((c->type = strdup(type)) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
    c->native =
        strcmp(type, "text") == 0 ||
        (strcmp(type, "bigint") == 0 && (ft == FERRY_TYPE_INTEGER || ft == FERRY_TYPE_BOOLEAN));
    c->out = strcmp(type, "text") == 0 ? "" : "::";
    ferry_column_type_parse(type, false, &t->ctype[i]);
    t->check[i] = ferry_column_type_needs_check(&t->ctype[i], ft);
    c->to_utc = (t->ctype[i].kind == FERRY_COLUMN_TIMESTAMP ||
                 t->ctype[i].kind == FERRY_COLUMN_TIMESTAMPTZ) &&
                ft != FERRY_TYPE_DATETIME;
    t->any_check = t->any_check || t->check[i];
    t->any_to_utc = t->any_to_utc || c->to_utc;
    return FERRY_OK;
}

/* The type of the staging column of field i. */
static const char *stage_type(const pg_target *t, size_t i)
{
    return t->col[i].native ? t->col[i].type : "text";
}

/* The native type of the column Ferry creates for a field of type: [0] as format_type()
 * names it (what read_shape() reads back from a table Ferry created), [1] as the ALTER TABLE
 * statements of shape.h write it. */
static const char *const created_type[][2] = {
    [FERRY_TYPE_TEXT] = {"text", "TEXT"},
    [FERRY_TYPE_INTEGER] = {"bigint", "BIGINT"},
    [FERRY_TYPE_DECIMAL] = {"numeric", "NUMERIC"},
    [FERRY_TYPE_BOOLEAN] = {"boolean", "BOOLEAN"},
    [FERRY_TYPE_DATE] = {"date", "DATE"},
    [FERRY_TYPE_DATETIME] = {"timestamp with time zone", "TIMESTAMPTZ"},
    [FERRY_TYPE_EMAIL] = {"text", "TEXT"},
    [FERRY_TYPE_ENUM] = {"text", "TEXT"},
};

/* The type of a column Ferry adds (shape.h). */
static const char *shape_type(ferry_field_type type, bool timestamp)
{
    return created_type[timestamp ? FERRY_TYPE_DATETIME : type][1];
}

/* Makes lit, the run's time in UTC, say so when the timestamp column of type (format_type's
 * name) would read it in the session's time zone: a timestamptz. */
static void timestamp_zone(const char *type, char lit[FERRY_TARGET_TIME_MAX])
{
    if (strncmp(type, "timestamp", 9) == 0 && strstr(type, " with time zone") != NULL &&
        strchr(lit, '+') == NULL)
        strcat(lit, "+00");
}

static ferry_rc create_table(pg_target *t, ferry_err *err)
{
    const ferry_sync_spec *sync = t->sync;
    ferry_buf *b = &t->sql;
    ferry_rc rc;

    ferry_buf_reset(b);
    ferry_buf_printf_trunc(b, "CREATE TABLE %s (", t->table);
    for (size_t i = 0; i < sync->nfields; i++) {
        const ferry_field_spec *f = &sync->fields[i];
        const char *type = created_type[f->type][0];
        if ((rc = set_type(t, i, type, err)) != FERRY_OK)
            return rc;
        ferry_buf_printf_trunc(b, "%s%s %s%s", i ? ", " : "", t->col[i].name, type,
                               f->required ? " NOT NULL" : "");
    }
    if (t->flag_mode && sync->target.flag_column == NULL)
        ferry_buf_printf_trunc(b, ", " MISSING_COLUMN " text");
    else if (t->flag_mode) {
        ferry_buf_printf_trunc(b, ", %s %s", t->flag_col,
                               sync->target.flag_bool ? "boolean" : "timestamptz");
        timestamp_zone("timestamp with time zone", t->flag_at);
    }
    if (t->created_col != NULL) {
        ferry_buf_printf_trunc(b, ", %s timestamptz NOT NULL, %s timestamptz NOT NULL",
                               t->created_col, t->updated_col);
        timestamp_zone("timestamp with time zone", t->created_at);
        timestamp_zone("timestamp with time zone", t->updated_at);
    }
    ferry_buf_printf_trunc(b, ", PRIMARY KEY (");
    for (size_t k = 0; k < sync->target.nkey; k++)
        ferry_buf_printf_trunc(b, "%s%s", k ? ", " : "", t->col[t->key_field[k]].name);
    ferry_buf_printf_trunc(b, ")); COMMENT ON TABLE %s IS '" FERRY_TARGET_OWNED_MARK "'", t->table);
    if ((rc = sql_ready(t, err)) != FERRY_OK)
        return rc;
    return exec(t, ferry_buf_str(b), err, "creating the table");
}

/* True when the index's key columns (indkey, the first nkeyatts of them) are exactly the
 * sync's key. attnum/attname map column numbers to names. */
static bool index_is_key(pg_target *t, const char *indkey, int nkeyatts, PGresult *cols)
{
    const ferry_target_spec *tg = &t->sync->target;
    size_t matched = 0;
    const char *p = indkey;

    if (nkeyatts != (int)tg->nkey)
        return false;
    for (int n = 0; n < nkeyatts; n++) {
        char *end;
        long attnum = strtol(p, &end, 10);
        const char *name = NULL;
        if (end == p)
            return false;
        p = end;
        for (int r = 0; r < PQntuples(cols); r++) {
            if (strtol(PQgetvalue(cols, r, 0), NULL, 10) == attnum)
                name = PQgetvalue(cols, r, 1);
        }
        for (size_t k = 0; name != NULL && k < tg->nkey; k++) {
            if (strcmp(name, tg->key[k]) == 0) {
                matched++;
                break;
            }
        }
    }
    return matched == tg->nkey;
}

/* Reads the table's columns (attnum, attname, ... in *ret_cols, caller clears) into shape
 * (initialised by the caller), the types of the mapped columns and the timestamps' literals,
 * and whether Ferry created the table. A serial, identity or generated column has a default. */
static ferry_rc read_shape(pg_target *t, const char *oid, ferry_target_shape *shape,
                           PGresult **ret_cols, ferry_err *err)
{
    const ferry_target_spec *tg = &t->sync->target;
    const char *params[1] = {oid};
    PGresult *cols;
    ferry_rc rc = FERRY_OK;

    cols = PQexecParams(t->conn,
                        "SELECT a.attnum, a.attname, a.attnotnull,"
                        " a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '',"
                        " format_type(a.atttypid, a.atttypmod),"
                        " coalesce(obj_description($1::oid, 'pg_class') = '" FERRY_TARGET_OWNED_MARK
                        "', false)"
                        " FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0"
                        " AND NOT a.attisdropped ORDER BY a.attnum",
                        1, NULL, params, NULL, NULL, 0);
    *ret_cols = cols;
    if (PQresultStatus(cols) != PGRES_TUPLES_OK)
        return db_error(t, cols, err, "reading the table's columns");
    for (int r = 0; r < PQntuples(cols) && rc == FERRY_OK; r++) {
        const char *name = PQgetvalue(cols, r, 1), *type = PQgetvalue(cols, r, 4);
        long f;
        shape->owned = PQgetvalue(cols, r, 5)[0] == 't';
        if (tg->created_column != NULL && strcmp(name, tg->created_column) == 0)
            timestamp_zone(type, t->created_at);
        if (tg->updated_column != NULL && strcmp(name, tg->updated_column) == 0)
            timestamp_zone(type, t->updated_at);
        if (tg->flag_column != NULL && strcmp(name, tg->flag_column) == 0) {
            timestamp_zone(type, t->flag_at);
            ferry_column_type_parse(type, false, &t->flag_type);
        }
        rc = ferry_target_shape_column(shape, name, PQgetvalue(cols, r, 2)[0] == 't',
                                       PQgetvalue(cols, r, 3)[0] == 't', &f, err);
        if (rc == FERRY_OK && f >= 0)
            rc = set_type(t, (size_t)f, type, err);
    }
    return rc;
}

static ferry_rc check_table(pg_target *t, const char *oid, ferry_err *err)
{
    const ferry_sync_spec *sync = t->sync;
    const char *params[1] = {oid};
    bool has_key_index = false;
    ferry_target_shape shape;
    PGresult *cols = NULL, *idx = NULL;
    ferry_rc rc;

    if ((rc = ferry_target_shape_init(&shape, sync, shape_type, err)) != FERRY_OK)
        return rc;
    if ((rc = read_shape(t, oid, &shape, &cols, err)) != FERRY_OK ||
        (rc = ferry_target_shape_check_columns(&shape, err)) != FERRY_OK)
        goto out;
    /* Unique, immediate, not partial, on columns only: a key the merge can rely on. */
    idx = PQexecParams(t->conn,
                       "SELECT i.indkey::text, i.indnkeyatts FROM pg_index i"
                       " WHERE i.indrelid = $1::oid AND i.indisunique AND i.indimmediate"
                       " AND i.indpred IS NULL AND i.indexprs IS NULL",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(idx) != PGRES_TUPLES_OK) {
        rc = db_error(t, idx, err, "reading the table's indexes");
        goto out;
    }
    for (int r = 0; r < PQntuples(idx) && !has_key_index; r++)
        has_key_index = index_is_key(t, PQgetvalue(idx, r, 0),
                                     (int)strtol(PQgetvalue(idx, r, 1), NULL, 10), cols);
    if ((rc = ferry_target_shape_check_key(&shape, has_key_index, err)) != FERRY_OK)
        goto out;
    if (t->flag_mode && t->sync->target.flag_column == NULL && !shape.has_missing_col &&
        !t->checking) {
        ferry_buf_reset(&t->sql);
        ferry_buf_printf_trunc(&t->sql, "ALTER TABLE %s ADD COLUMN " MISSING_COLUMN " text",
                               t->table);
        rc = exec(t, ferry_buf_str(&t->sql), err, "adding the " MISSING_COLUMN " column");
    }
out:
    ferry_target_shape_done(&shape);
    PQclear(cols);
    PQclear(idx);
    return rc;
}

/* Creates the temporary tables a merge uses (dropped at the end of the transaction). */
static ferry_rc create_work_tables(pg_target *t, bool stage, ferry_err *err)
{
    const ferry_sync_spec *sync = t->sync;
    ferry_buf *b = &t->sql;
    ferry_rc rc;

    if (stage) {
        ferry_buf_reset(b);
        ferry_buf_printf_trunc(b, "CREATE TEMP TABLE ferry_stage (ord bigint, \"row\" bigint,"
                                  " keep boolean, chk boolean, key text");
        for (size_t i = 0; i < sync->nfields; i++)
            ferry_buf_printf_trunc(b, ", f%zu %s", i, stage_type(t, i));
        ferry_buf_printf_trunc(b,
                               ", ok boolean NOT NULL DEFAULT true) ON COMMIT DROP;"
                               " CREATE TEMP TABLE ferry_cand (LIKE ferry_stage) ON COMMIT DROP");
        if ((rc = sql_ready(t, err)) != FERRY_OK ||
            (rc = exec(t, ferry_buf_str(b), err, "creating the staging table")) != FERRY_OK)
            return rc;
        t->staged_ready = true;
        return FERRY_OK;
    }
    ferry_buf_reset(b);
    ferry_buf_printf_trunc(b, "CREATE TEMP TABLE ferry_out (ord bigint, \"row\" bigint,"
                              " what \"char\", key text, tid tid, reason text");
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf_trunc(b, ", o%zu text", i);
    ferry_buf_printf_trunc(b, ", om text");
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf_trunc(b, ", n%zu text", i);
    /* Read by ord: a chunk's rows by the merge's statements, all in order by drain(). */
    ferry_buf_printf_trunc(b, ") ON COMMIT DROP; CREATE INDEX ON ferry_out (ord);"
                              " CREATE TEMP TABLE ferry_dups (ord bigint) ON COMMIT DROP");
    if ((rc = sql_ready(t, err)) != FERRY_OK)
        return rc;
    return exec(t, ferry_buf_str(b), err, "creating the work tables");
}

static ferry_rc tg_begin(ferry_target *base, ferry_err *err)
{
    pg_target *t = (pg_target *)base;
    const char *params[1];
    PGresult *res;
    char *oid = NULL;
    ferry_rc rc;

    if (!base->joined) {
        if ((rc = exec(t, "BEGIN", err, "beginning the transaction")) != FERRY_OK)
            return rc;
        t->in_txn = true;
    }
    /* One time for the whole run; each timestamp column's literal is made from it. */
    ferry_target_time_now(false, t->created_at);
    memcpy(t->updated_at, t->created_at, sizeof(t->updated_at));
    memcpy(t->flag_at, t->created_at, sizeof(t->flag_at));
    /* Compiling the merge statements would cost more than running them. A date prints as
     * YYYY-MM-DD (and " BC") in the ISO style, whatever the server's default (print_expr). */
    if ((rc = exec(t,
                   "SET LOCAL jit = off; SET LOCAL client_encoding = 'UTF8';"
                   " SET LOCAL DateStyle = 'ISO'",
                   err, "setting up the transaction")) != FERRY_OK)
        return rc;
    /* The staging table lives in the session's buffers for temporary tables (8 MB by
     * default, smaller than one chunk: each chunk would be written out and read back). The
     * size can only be set before the session's first temporary table; a session that had
     * one keeps what it has. */
    res = PQexec(t->conn, "SAVEPOINT ferry_setup; SET LOCAL temp_buffers = '" TEMP_BUFFERS
                          "'; RELEASE SAVEPOINT ferry_setup");
    rc = PQresultStatus(res) == PGRES_COMMAND_OK
             ? FERRY_OK
             : exec(t, "ROLLBACK TO SAVEPOINT ferry_setup; RELEASE SAVEPOINT ferry_setup", err,
                    "setting up the transaction");
    PQclear(res);
    if (rc != FERRY_OK)
        return rc;
    params[0] = t->table;
    res = PQexecParams(t->conn, "SELECT to_regclass($1)::oid", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = db_error(t, res, err, "looking the table up");
        PQclear(res);
        return rc;
    }
    if (!PQgetisnull(res, 0, 0) && (oid = strdup(PQgetvalue(res, 0, 0))) == NULL) {
        PQclear(res);
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
    }
    PQclear(res);
    if (oid == NULL) {
        rc = create_table(t, err);
    } else {
        rc = check_table(t, oid, err);
    }
    free(oid);
    if (rc != FERRY_OK)
        return rc;

    /* Empty for the run's tenant and scope: other rows do not count (as in SQLite). */
    ferry_buf_reset(&t->sql);
    ferry_buf_printf_trunc(&t->sql, "SELECT EXISTS (SELECT 1 FROM %s t WHERE true", t->table);
    if ((rc = append_own_rows(t, err)) != FERRY_OK)
        return rc;
    ferry_buf_printf_trunc(&t->sql, ")");
    res = PQexec(t->conn, ferry_buf_str(&t->sql));
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = db_error(t, res, err, "reading the table");
        PQclear(res);
        return rc;
    }
    t->was_empty = PQgetvalue(res, 0, 0)[0] != 't';
    PQclear(res);
    if ((rc = create_work_tables(t, false, err)) != FERRY_OK)
        return rc;
    if (!t->was_empty) {
        if ((t->bloom = calloc(BLOOM_WORDS, sizeof(*t->bloom))) == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
        if ((rc = create_work_tables(t, true, err)) != FERRY_OK ||
            (rc = start_prints(t, err)) != FERRY_OK)
            return rc;
    }
    t->batch_first = t->next_apply = t->chunk_first = t->chunk_block = 0;
    return FERRY_OK;
}

/* ---- apply and keep ----------------------------------------------------------------- */

/* Whether a new row gets target.flag's boolean column (the not-flagged value): an app's
 * boolean may be NOT NULL without a default. */
static bool inserts_flag(const pg_target *t)
{
    return t->flag_mode && t->sync->target.flag_bool;
}

/* Starts the COPY of a batch: straight into the table (direct, in a savepoint), or into the
 * staging table, sending what was buffered while a merge ran. */
static ferry_rc start_batch(pg_target *t, ferry_err *err)
{
    const ferry_sync_spec *sync = t->sync;
    ferry_buf *b = &t->sql;
    ferry_rc rc;

    ferry_buf_reset(b);
    if (t->was_empty) {
        if ((rc = exec(t, "SAVEPOINT ferry_batch", err, "starting a batch")) != FERRY_OK)
            return rc;
        ferry_buf_printf_trunc(b, "COPY %s (", t->table);
        for (size_t i = 0; i < sync->nfields; i++)
            ferry_buf_printf_trunc(b, "%s%s", i ? ", " : "", t->col[i].name);
        if (t->created_col != NULL)
            ferry_buf_printf_trunc(b, ", %s, %s", t->created_col, t->updated_col);
        if (inserts_flag(t))
            ferry_buf_printf_trunc(b, ", %s", t->flag_col);
        ferry_buf_printf_trunc(b, ") FROM STDIN");
    } else {
        ferry_buf_printf_trunc(b, "COPY ferry_stage (ord, \"row\", keep, chk, key");
        for (size_t i = 0; i < sync->nfields; i++)
            ferry_buf_printf_trunc(b, ", f%zu", i);
        ferry_buf_printf_trunc(b, ") FROM STDIN");
    }
    if ((rc = sql_ready(t, err)) != FERRY_OK ||
        (rc = start_copy(t, ferry_buf_str(b), err)) != FERRY_OK)
        return rc;
    return send_data(t, err);
}

static ferry_rc finish_copy(pg_target *t, ferry_err *err)
{
    PGresult *res = end_copy(t, NULL);
    ferry_rc rc = FERRY_OK;

    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = db_error(t, res, err, "staging records");
    PQclear(res);
    return rc;
}

static ferry_rc merge_collect(pg_target *t, bool wait, bool *ret_done, ferry_err *err);
static ferry_rc end_chunk(pg_target *t, ferry_err *err);

/* Staged mode: sends or buffers what apply() and keep() wrote to t->send. While a merge runs,
 * records wait in t->send (at most a chunk); once it is done, the COPY resumes. */
static ferry_rc stage_flow(pg_target *t, ferry_err *err)
{
    bool done = true;
    ferry_rc rc;

    /* While the prints arrive the connection is theirs: records wait in t->send. */
    if (t->loading) {
        if (t->send.len < CHUNK_BYTES)
            return FERRY_OK;
        if ((rc = take_prints(t, true, err)) != FERRY_OK)
            return rc;
    }
    if (t->inflight) {
        /* Looking costs a system call: look once per SEND_CHUNK of records, not per record. */
        if (t->send.len < t->next_poll && t->send.len < CHUNK_BYTES)
            return FERRY_OK;
        if ((rc = merge_collect(t, t->send.len >= CHUNK_BYTES, &done, err)) != FERRY_OK)
            return rc;
        if (!done) {
            t->next_poll = t->send.len + SEND_CHUNK;
            return FERRY_OK;
        }
    }
    if (!t->copying)
        return start_batch(t, err);
    if (t->send.len >= SEND_CHUNK)
        return send_data(t, err);
    return FERRY_OK;
}

/* Direct mode: ends the line just put in t->send (and copied for a replay, which the
 * merge's INSERT stamps) with the columns Ferry fills: the timestamps, and a boolean flag's
 * not-flagged value. */
static ferry_rc put_ferry_columns(pg_target *t)
{
    const char *unflagged = t->sync->target.flag_value ? "f" : "t";
    ferry_rc rc = FERRY_OK;

    if (t->created_col == NULL && !inserts_flag(t))
        return FERRY_OK;
    t->send.len--; /* the newline */
    if (t->created_col != NULL &&
        ((rc = ferry_buf_append(&t->send, "\t", 1)) != FERRY_OK ||
         (rc = put_value(&t->send, t->created_at, strlen(t->created_at))) != FERRY_OK ||
         (rc = ferry_buf_append(&t->send, "\t", 1)) != FERRY_OK ||
         (rc = put_value(&t->send, t->updated_at, strlen(t->updated_at))) != FERRY_OK))
        return rc;
    if (inserts_flag(t) && ((rc = ferry_buf_append(&t->send, "\t", 1)) != FERRY_OK ||
                            (rc = ferry_buf_append(&t->send, unflagged, 1)) != FERRY_OK))
        return rc;
    return ferry_buf_append(&t->send, "\n", 1);
}

static ferry_rc tg_keep(ferry_target *base, const ferry_mapped_record *rec, ferry_err *err);

/* When a value of rec does not fit its column: the record fails at once with the reason, and
 * its row (if any) counts as seen, as for a record that failed validation. */
static ferry_rc check_values(pg_target *t, const ferry_mapped_record *rec, ferry_apply_result *res,
                             ferry_err *err)
{
    if (ferry_column_record_fits(t->sync, t->ctype, t->check, rec, t->reason, sizeof(t->reason)))
        return FERRY_OK;
    res->outcome = FERRY_OUTCOME_FAILED;
    res->reason = t->reason;
    return tg_keep(&t->base, rec, err);
}

static ferry_rc tg_apply(ferry_target *base, const ferry_mapped_record *rec,
                         ferry_apply_result *res, ferry_err *err)
{
    pg_target *t = (pg_target *)base;
    int64_t a = t->next_apply;
    ferry_rc rc = FERRY_OK;
    bool encoded = false; /* t->fp_line holds the record's fields as staged */
    bool held = false;    /* held until the prints are in */

    memset(res, 0, sizeof(*res));
    if (t->any_check &&
        ((rc = check_values(t, rec, res, err)) != FERRY_OK || res->outcome == FERRY_OUTCOME_FAILED))
        return rc;
    if (t->loading && (++t->nloading % TAKE_EVERY) == 0 &&
        (rc = take_prints(t, false, err)) != FERRY_OK)
        return rc;
    if (t->loading) {
        if ((rc = hold(t, rec, 2 * a, false, err)) != FERRY_OK)
            return rc;
        held = true;
    } else if (t->fp != NULL) {
        uint8_t kd[FP_BYTES], rd[FP_BYTES];
        fp_entry *e = fp_key(t, rec, kd) ? fp_find(t, kd) : NULL;
        if (e != NULL && e->state == FP_FAST) {
            /* Its row was touched by an apply that never reached the staging table. */
            ferry_target_reason_duplicate(t->sync, rec->key, t->reason, sizeof(t->reason));
            res->outcome = FERRY_OUTCOME_FAILED;
            res->reason = t->reason;
            return FERRY_OK;
        }
        if (e != NULL && e->state == FP_UNSEEN) {
            /* Short of room, the record is staged the usual way, which says why. */
            encoded = fp_row(t, rec, rd) == FERRY_OK;
            if (encoded && memcmp(e->rd, rd, FP_BYTES) == 0) {
                e->state = FP_FAST;
                t->nfast++;
                t->chunk_fast++;
                res->outcome = FERRY_OUTCOME_UNCHANGED;
                return FERRY_OK;
            }
        }
        /* From here on the staging table decides for this key, as without prints. */
        if (e != NULL)
            e->state = FP_STAGED;
    }
    if (t->was_empty) {
        size_t start = t->send.len;
        if (!t->copying && (rc = start_batch(t, err)) != FERRY_OK)
            return rc;
        if (t->nbatch == 0) {
            ferry_buf_reset(&t->lines);
            ferry_buf_reset(&t->keys);
        }
        start = t->send.len;
        t->rows[t->nbatch] = rec->row;
        t->keyoff[t->nbatch] = t->keys.len;
        if ((rc = put_fields(t, &t->send, rec, false, false)) != FERRY_OK ||
            (rc = put_prefix(&t->lines, 2 * a, rec->row, false, true, rec->key, NULL)) !=
                FERRY_OK ||
            (rc = ferry_buf_append(&t->lines, "\t", 1)) != FERRY_OK ||
            (rc = ferry_buf_append(&t->lines, t->send.data + start, t->send.len - start)) !=
                FERRY_OK ||
            (rc = ferry_buf_append(&t->keys, rec->key != NULL ? rec->key : "",
                                   (rec->key != NULL ? strlen(rec->key) : 0) + 1)) != FERRY_OK ||
            (rc = put_ferry_columns(t)) != FERRY_OK)
            return ferry_err_set(err, rc, "table %s: holding a batch", t->sync->target.table);
        if (t->send.len >= SEND_CHUNK && (rc = send_data(t, err)) != FERRY_OK)
            return rc;
    } else if (!held) {
        bool chk = bloom_check_add(t, rec->key);
        t->nchk += chk;
        if ((rc = put_prefix(&t->send, 2 * a, rec->row, false, chk, rec->key, NULL)) != FERRY_OK ||
            (rc = encoded ? ferry_buf_append(&t->send, t->fp_line.data, t->fp_line.len)
                          : put_fields(t, &t->send, rec, false, true)) != FERRY_OK)
            return ferry_err_set(err, rc, "table %s: staging a record", t->sync->target.table);
        if ((rc = stage_flow(t, err)) != FERRY_OK)
            return rc;
    }
    t->next_apply++;
    t->nbatch++;
    res->pending = true;
    if (t->was_empty) {
        res->drain = t->nbatch >= DIRECT_ROWS || t->lines.len >= DIRECT_BYTES;
        return FERRY_OK;
    }
    res->drain = t->nbatch >= STAGED_ROWS;
    /* Records answered from the prints count too, so merges overlap the reading. */
    if (!res->drain && t->next_apply - t->chunk_first + t->chunk_fast >= CHUNK_ROWS)
        return end_chunk(t, err);
    return FERRY_OK;
}

static ferry_rc tg_keep(ferry_target *base, const ferry_mapped_record *rec, ferry_err *err)
{
    pg_target *t = (pg_target *)base;
    ferry_rc rc;
    bool chk;

    /* A table without the tenant's rows has nothing to protect: every row of the tenant at
     * the end was created by this run. */
    if (t->was_empty)
        return FERRY_OK;
    for (size_t k = 0; k < t->sync->target.nkey; k++) {
        if (rec->value[t->key_field[k]] == NULL)
            return FERRY_OK;
    }
    if (t->loading && (++t->nloading % TAKE_EVERY) == 0 &&
        (rc = take_prints(t, false, err)) != FERRY_OK)
        return rc;
    if (t->loading)
        return hold(t, rec, 2 * t->next_apply - 1, true, err);
    if (t->fp != NULL) {
        uint8_t kd[FP_BYTES];
        fp_entry *e = fp_key(t, rec, kd) ? fp_find(t, kd) : NULL;
        /* A row an apply found unchanged is seen already, and its later applies are
         * answered as duplicates before they are staged. */
        if (e != NULL && e->state == FP_FAST)
            return FERRY_OK;
        if (e != NULL)
            e->state = FP_STAGED;
    }
    chk = bloom_check_add(t, rec->key);
    t->nchk += chk;
    if ((rc = put_prefix(&t->send, 2 * t->next_apply - 1, rec->row, true, chk, rec->key, NULL)) !=
            FERRY_OK ||
        (rc = put_fields(t, &t->send, rec, true, true)) != FERRY_OK)
        return ferry_err_set(err, rc, "table %s: staging a record", t->sync->target.table);
    t->staged_keeps = true;
    return stage_flow(t, err);
}

/* ---- merging ------------------------------------------------------------------------ */

/* Join methods: index (or TID) nested loops to look records up in the table, hash joins to
 * match sets. The staging tables have no statistics for the planner to choose from; on a
 * million rows, a hash join of the staging table with the table (both wide) costs more than
 * a million index probes. */
#define HASH_JOINS                                                                                 \
    "SET LOCAL enable_nestloop = off; SET LOCAL enable_mergejoin = off;"                           \
    " SET LOCAL enable_hashjoin = on; "
#define LOOP_JOINS                                                                                 \
    "SET LOCAL enable_nestloop = on; SET LOCAL enable_mergejoin = off;"                            \
    " SET LOCAL enable_hashjoin = off; "

/* Appends "t.k = s.fK<cast> AND ..." joining the table (alias ta) with staging rows (sa). */
static void key_join(pg_target *t, const char *ta, const char *sa)
{
    for (size_t k = 0; k < t->sync->target.nkey; k++) {
        const column *c = &t->col[t->key_field[k]];
        ferry_buf_printf_trunc(&t->sql, "%s%s.%s = %s.f%zu%s%s", k ? " AND " : "", ta, c->name, sa,
                               t->key_field[k], c->native ? "" : "::", c->native ? "" : c->type);
    }
}

/* Appends the condition selecting the staged applies [lo, hi), found from block on. */
static void stage_range(pg_target *t, int64_t lo, int64_t hi, int64_t block)
{
    ferry_buf_printf_trunc(&t->sql, "NOT s.keep AND s.ord >= %lld AND s.ord < %lld",
                           (long long)(2 * lo), (long long)(2 * hi));
    if (block > 0)
        ferry_buf_printf_trunc(&t->sql, " AND s.ctid >= '(%lld,0)'::tid", (long long)block);
}

/* Appends the statements filling ferry_dups with the applies of [lo, hi) whose key an earlier
 * staged record holds. The candidates (chk, or every apply of a replayed batch) are few: they
 * are collected first, so the join hashes them and scans the staging table once. */
static void append_duplicates(pg_target *t, int64_t lo, int64_t hi, int64_t block)
{
    ferry_buf *b = &t->sql;

    /* While failing records are searched for, ranges are small and the staging table has an
     * index on the key: look earlier records up instead of scanning for them. */
    ferry_buf_printf_trunc(b,
                           "%sTRUNCATE ferry_dups, ferry_cand;"
                           " INSERT INTO ferry_cand SELECT * FROM ferry_stage s WHERE ",
                           t->fallback ? LOOP_JOINS : HASH_JOINS);
    stage_range(t, lo, hi, block);
    ferry_buf_printf_trunc(b,
                           "%s; INSERT INTO ferry_dups SELECT DISTINCT s.ord FROM ferry_cand s"
                           " JOIN ferry_stage p ON ",
                           t->was_empty ? "" : " AND s.chk");
    for (size_t k = 0; k < t->sync->target.nkey; k++)
        ferry_buf_printf_trunc(b, "p.f%zu = s.f%zu AND ", t->key_field[k], t->key_field[k]);
    ferry_buf_printf_trunc(b, "p.ord < s.ord AND p.ok");
    if (t->was_empty) {
        /* The staging table holds the replayed batch only; found rows are duplicates anyway. */
        ferry_buf_printf_trunc(b, " WHERE NOT p.keep; ");
    } else {
        ferry_buf_printf_trunc(b, " WHERE NOT p.keep OR EXISTS (SELECT 1 FROM %s t WHERE ",
                               t->table);
        key_join(t, "t", "s");
        ferry_buf_printf_trunc(b, "); ");
    }
}

/* True when the merge compares column c's values by value, casting the staged text to its type
 * (json as jsonb: json has no equality). */
static bool by_value(const pg_target *t, size_t i)
{
    return !t->col[i].native && t->ctype[i].kind != FERRY_COLUMN_TEXT;
}

/* Appends the statement writing the applies of [lo, hi) that are not unchanged to ferry_out,
 * with the old values, by index probes into the table. */
static void append_classify(pg_target *t, int64_t lo, int64_t hi, int64_t block, bool dups)
{
    const ferry_sync_spec *sync = t->sync;
    ferry_buf *b = &t->sql;

    ferry_buf_printf_trunc(b, LOOP_JOINS "INSERT INTO ferry_out (ord, \"row\", what, key, tid");
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf_trunc(b, ", o%zu", i);
    ferry_buf_printf_trunc(b, ", om");
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf_trunc(b, ", n%zu", i);
    ferry_buf_printf_trunc(b, ") SELECT s.ord, s.\"row\", CASE");
    if (dups)
        ferry_buf_printf_trunc(b, " WHEN s.ord IN (SELECT ord FROM ferry_dups) THEN 'd'");
    if (t->was_empty)
        ferry_buf_printf_trunc(b, " WHEN t.ctid IS NOT NULL THEN 'd' ELSE 'c' END");
    else
        ferry_buf_printf_trunc(b, " WHEN t.ctid IS NULL THEN 'c' ELSE 'u' END");
    ferry_buf_printf_trunc(b, ", s.key, t.ctid");
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf_trunc(b, ", t.%s::text", t->col[i].name);
    if (t->flag_mode && t->sync->target.flag_bool) { /* "true" when flagged, else NULL */
        ferry_buf_printf_trunc(b, ", CASE WHEN ");
        append_flagged(t, b, "t", true);
        ferry_buf_printf_trunc(b, " THEN 'true' END");
    } else if (t->flag_mode) {
        ferry_buf_printf_trunc(b, ", t.%s::text", t->flag_col);
    } else {
        ferry_buf_printf_trunc(b, ", NULL");
    }
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf_trunc(b, ", s.f%zu::text", i);
    ferry_buf_printf_trunc(b, " FROM ferry_stage s LEFT JOIN %s t ON ", t->table);
    key_join(t, "t", "s");
    ferry_buf_printf_trunc(b, " WHERE ");
    stage_range(t, lo, hi, block);
    if (!t->was_empty) {
        ferry_buf_printf_trunc(b, " AND (t.ctid IS NULL OR ROW(");
        for (size_t i = 0; i < sync->nfields; i++)
            ferry_buf_printf_trunc(b, "%st.%s%s", i ? ", " : "", t->col[i].name,
                                   by_value(t, i)
                                       ? (t->ctype[i].kind == FERRY_COLUMN_JSON ? "::jsonb" : "")
                                   : t->col[i].native ? ""
                                                      : "::text");
        ferry_buf_printf_trunc(b, ") IS DISTINCT FROM ROW(");
        for (size_t i = 0; i < sync->nfields; i++) {
            const column *c = &t->col[i];
            if (by_value(t, i))
                ferry_buf_printf_trunc(b, "%ss.f%zu::%s", i ? ", " : "", i,
                                       t->ctype[i].kind == FERRY_COLUMN_JSON ? "jsonb" : c->type);
            else
                ferry_buf_printf_trunc(b, "%ss.f%zu", i ? ", " : "", i);
        }
        ferry_buf_printf_trunc(b, ")");
        if (t->flag_mode) {
            ferry_buf_printf_trunc(b, " OR ");
            append_flagged(t, b, "t", true);
        }
        if (dups)
            ferry_buf_printf_trunc(b, " OR s.ord IN (SELECT ord FROM ferry_dups)");
        ferry_buf_printf_trunc(b, ")");
    }
    ferry_buf_printf_trunc(b, "; ");
}

/* Appends the INSERT of the created records of [lo, hi), in source order. */
static void append_insert(pg_target *t, int64_t lo, int64_t hi)
{
    const ferry_sync_spec *sync = t->sync;
    ferry_buf *b = &t->sql;

    ferry_buf_printf_trunc(b, "INSERT INTO %s (", t->table);
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf_trunc(b, "%s%s", i ? ", " : "", t->col[i].name);
    if (t->created_col != NULL)
        ferry_buf_printf_trunc(b, ", %s, %s", t->created_col, t->updated_col);
    if (inserts_flag(t)) /* a new row is not flagged */
        ferry_buf_printf_trunc(b, ", %s", t->flag_col);
    ferry_buf_printf_trunc(b, ") SELECT ");
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf_trunc(b, "%sn%zu%s%s", i ? ", " : "", i, t->col[i].out,
                               t->col[i].out[0] ? t->col[i].type : "");
    if (t->created_col != NULL)
        ferry_buf_printf_trunc(b, ", '%s', '%s'", t->created_at, t->updated_at);
    if (inserts_flag(t))
        ferry_buf_printf_trunc(b, ", %s", sync->target.flag_value ? "false" : "true");
    ferry_buf_printf_trunc(b,
                           " FROM ferry_out WHERE what = 'c' AND ord >= %lld AND ord < %lld"
                           " ORDER BY ord; ",
                           (long long)(2 * lo), (long long)(2 * hi));
}

/* Appends the UPDATE of the changed records of [lo, hi), found by their row's ctid. */
static void append_update(pg_target *t, int64_t lo, int64_t hi)
{
    const ferry_sync_spec *sync = t->sync;
    ferry_buf *b = &t->sql;

    ferry_buf_printf_trunc(b, "UPDATE %s t SET ", t->table);
    for (size_t i = 0; i < sync->nfields; i++)
        ferry_buf_printf_trunc(b, "%s%s = o.n%zu%s%s", i ? ", " : "", t->col[i].name, i,
                               t->col[i].out, t->col[i].out[0] ? t->col[i].type : "");
    if (t->flag_mode && sync->target.flag_bool) { /* a row not flagged keeps its value */
        ferry_buf_printf_trunc(b, ", %s = CASE WHEN ", t->flag_col);
        append_flagged(t, b, "t", true);
        ferry_buf_printf_trunc(b, " THEN %s ELSE t.%s END",
                               sync->target.flag_value ? "false" : "true", t->flag_col);
    } else if (t->flag_mode) {
        ferry_buf_printf_trunc(b, ", %s = NULL", t->flag_col);
    }
    if (t->updated_col != NULL)
        ferry_buf_printf_trunc(b, ", %s = '%s'", t->updated_col, t->updated_at);
    ferry_buf_printf_trunc(b,
                           " FROM ferry_out o WHERE o.what = 'u' AND o.ord >= %lld"
                           " AND o.ord < %lld AND t.ctid = o.tid; ",
                           (long long)(2 * lo), (long long)(2 * hi));
}

/* Builds the whole merge of [lo, hi) in one savepoint. */
static ferry_rc build_merge(pg_target *t, int64_t lo, int64_t hi, int64_t block, bool dups,
                            ferry_err *err)
{
    ferry_buf_reset(&t->sql);
    ferry_buf_printf_trunc(&t->sql, "SAVEPOINT ferry_range; ");
    if (dups)
        append_duplicates(t, lo, hi, block);
    append_classify(t, lo, hi, block, dups);
    append_insert(t, lo, hi);
    if (!t->was_empty)
        append_update(t, lo, hi);
    ferry_buf_printf_trunc(&t->sql, "RELEASE SAVEPOINT ferry_range");
    return sql_ready(t, err);
}

/* An apply that failed on its own: it fails with PostgreSQL's reason (in t->reason), written to
 * ferry_out for delivery. A failed insert leaves its key unseen (ok = false), as in SQLite. */
static ferry_rc fail_one(pg_target *t, int64_t a, merge_step step, ferry_err *err)
{
    char reason[512], *lit;
    ferry_rc rc;

    snprintf(reason, sizeof(reason), "rejected by the target table: %.440s", t->reason);
    if ((lit = PQescapeLiteral(t->conn, reason, strlen(reason))) == NULL)
        return db_error(t, NULL, err, "recording a failed record");
    ferry_buf_reset(&t->sql);
    if (step != STEP_UPDATE)
        ferry_buf_printf_trunc(&t->sql, "UPDATE ferry_stage SET ok = false WHERE ord = %lld; ",
                               (long long)(2 * a));
    ferry_buf_printf_trunc(&t->sql,
                           "INSERT INTO ferry_out (ord, \"row\", what, key, reason)"
                           " SELECT ord, \"row\", 'f', key, %s FROM ferry_stage WHERE ord = %lld",
                           lit, (long long)(2 * a));
    PQfreemem(lit);
    if ((rc = sql_ready(t, err)) != FERRY_OK)
        return rc;
    return exec(t, ferry_buf_str(&t->sql), err, "recording a failed record");
}

/* Merges a single apply statement by statement, to know which step failed. */
static ferry_rc merge_one(pg_target *t, int64_t a, bool dups, ferry_err *err)
{
    merge_step step = STEP_CLASSIFY;
    bool failed = false;
    ferry_rc rc;

    if ((rc = exec(t, "SAVEPOINT ferry_range", err, "merging")) != FERRY_OK)
        return rc;
    ferry_buf_reset(&t->sql);
    if (dups)
        append_duplicates(t, a, a + 1, 0);
    append_classify(t, a, a + 1, 0, dups);
    if ((rc = exec_merge(t, ferry_buf_str(&t->sql), NULL, &failed, err, "comparing records")) !=
        FERRY_OK)
        return rc;
    if (!failed) {
        step = STEP_INSERT;
        ferry_buf_reset(&t->sql);
        append_insert(t, a, a + 1);
        if ((rc = exec_merge(t, ferry_buf_str(&t->sql), NULL, &failed, err, "inserting rows")) !=
            FERRY_OK)
            return rc;
    }
    if (!failed && !t->was_empty) {
        step = STEP_UPDATE;
        ferry_buf_reset(&t->sql);
        append_update(t, a, a + 1);
        if ((rc = exec_merge(t, ferry_buf_str(&t->sql), NULL, &failed, err, "updating rows")) !=
            FERRY_OK)
            return rc;
    }
    if (!failed)
        return exec(t, "RELEASE SAVEPOINT ferry_range", err, "merging");
    if ((rc = exec(t, "ROLLBACK TO SAVEPOINT ferry_range; RELEASE SAVEPOINT ferry_range", err,
                   "merging")) != FERRY_OK)
        return rc;
    return fail_one(t, a, step, err);
}

static ferry_rc merge_range(pg_target *t, int64_t lo, int64_t hi, int64_t block, bool dups,
                            ferry_err *err);

/* Indexes the staging table by ord and by key, and ferry_out by ord, so the small ranges of a
 * search for failing records read only their own rows. Made once, at the first failure. */
static ferry_rc ensure_fallback(pg_target *t, ferry_err *err)
{
    ferry_rc rc;

    if (t->fallback)
        return FERRY_OK;
    ferry_buf_reset(&t->sql);
    ferry_buf_printf_trunc(&t->sql, "CREATE INDEX ON ferry_out (ord); CREATE INDEX ON"
                                    " ferry_stage (ord); CREATE INDEX ON ferry_stage (");
    for (size_t k = 0; k < t->sync->target.nkey; k++)
        ferry_buf_printf_trunc(&t->sql, "%sf%zu", k ? ", " : "", t->key_field[k]);
    ferry_buf_printf_trunc(&t->sql, ")");
    if ((rc = sql_ready(t, err)) != FERRY_OK ||
        (rc = exec(t, ferry_buf_str(&t->sql), err, "indexing the staging table")) != FERRY_OK)
        return rc;
    t->fallback = true;
    return FERRY_OK;
}

/* After a merge of [lo, hi) failed on a record: undoes it and merges the halves (a few
 * records one by one). */
static ferry_rc merge_split(pg_target *t, int64_t lo, int64_t hi, int64_t block, bool dups,
                            ferry_err *err)
{
    int64_t mid = lo + (hi - lo) / 2;
    ferry_rc rc;

    if ((rc = exec(t, "ROLLBACK TO SAVEPOINT ferry_range; RELEASE SAVEPOINT ferry_range", err,
                   "merging")) != FERRY_OK ||
        (rc = ensure_fallback(t, err)) != FERRY_OK)
        return rc;
    if (hi - lo <= ONE_BY_ONE) {
        for (int64_t a = lo; a < hi && rc == FERRY_OK; a++)
            rc = merge_one(t, a, dups, err);
        return rc;
    }
    if ((rc = merge_range(t, lo, mid, block, dups, err)) != FERRY_OK)
        return rc;
    return merge_range(t, mid, hi, block, dups, err);
}

/* Merges applies [lo, hi) set-wise; when a statement fails on a record, splits the range
 * until the failing records stand alone. */
static ferry_rc merge_range(pg_target *t, int64_t lo, int64_t hi, int64_t block, bool dups,
                            ferry_err *err)
{
    PGresult *res;
    ferry_rc rc;

    if (hi <= lo)
        return FERRY_OK;
    if (hi - lo == 1)
        return merge_one(t, lo, dups, err);
    if ((rc = build_merge(t, lo, hi, block, dups, err)) != FERRY_OK)
        return rc;
    res = PQexec(t->conn, ferry_buf_str(&t->sql));
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        return FERRY_OK;
    }
    if (!record_error(res)) {
        rc = db_error(t, res, err, "merging records");
        PQclear(res);
        return rc;
    }
    PQclear(res);
    return merge_split(t, lo, hi, block, dups, err);
}

/* Staged mode: sends the merge of the chunk just staged without waiting for it; the client
 * goes on reading the source meanwhile. */
static ferry_rc merge_send(pg_target *t, int64_t lo, int64_t hi, int64_t block, bool dups,
                           ferry_err *err)
{
    ferry_rc rc;

    if ((rc = build_merge(t, lo, hi, block, dups, err)) != FERRY_OK)
        return rc;
    if (PQsendQuery(t->conn, ferry_buf_str(&t->sql)) != 1)
        return db_error(t, NULL, err, "merging records");
    t->inflight = true;
    t->next_poll = t->send.len + SEND_CHUNK;
    t->in_failed = false;
    t->in_fatal = false;
    t->in_lo = lo;
    t->in_hi = hi;
    t->in_block = block;
    t->in_dups = dups;
    return FERRY_OK;
}

/* Reads the results of the merge in flight; without wait, only those already there
 * (*ret_done says whether it ended). A merge that failed on a record is undone and merged
 * again in halves. */
static ferry_rc merge_collect(pg_target *t, bool wait, bool *ret_done, ferry_err *err)
{
    PGresult *res;

    *ret_done = false;
    if (!t->inflight) {
        *ret_done = true;
        return FERRY_OK;
    }
    if (!wait && PQconsumeInput(t->conn) != 1)
        return db_error(t, NULL, err, "merging records");
    for (;;) {
        if (!wait && PQisBusy(t->conn))
            return FERRY_OK;
        if ((res = PQgetResult(t->conn)) == NULL)
            break;
        if (PQresultStatus(res) == PGRES_FATAL_ERROR && !t->in_failed && !t->in_fatal) {
            if (record_error(res)) {
                t->in_failed = true;
            } else {
                t->in_fatal = true;
                db_error(t, res, err, "merging records");
            }
        }
        PQclear(res);
    }
    t->inflight = false;
    *ret_done = true;
    if (t->in_fatal)
        return FERRY_EDB;
    if (t->in_failed)
        return merge_split(t, t->in_lo, t->in_hi, t->in_block, t->in_dups, err);
    return FERRY_OK;
}

/* The first block of the staging table that rows staged from now on may land in. */
static ferry_rc stage_end_block(pg_target *t, int64_t *ret_block, ferry_err *err)
{
    PGresult *res =
        query(t, "SELECT pg_relation_size('ferry_stage') / 8192", err, "reading the staging table");

    if (res == NULL)
        return FERRY_EDB;
    *ret_block = strtoll(PQgetvalue(res, 0, 0), NULL, 10) - 1;
    if (*ret_block < 0)
        *ret_block = 0;
    PQclear(res);
    return FERRY_OK;
}

/* Brings ferry_stage up to date with everything staged so far: the prints are read to the
 * end, a merge in flight is collected, records waiting in t->send (while either ran) are sent,
 * and the COPY is ended. */
static ferry_rc stage_settle(pg_target *t, ferry_err *err)
{
    bool done;
    ferry_rc rc;

    if ((rc = take_prints(t, true, err)) != FERRY_OK)
        return rc;
    if (t->inflight && (rc = merge_collect(t, true, &done, err)) != FERRY_OK)
        return rc;
    if (!t->copying && t->send.len > 0 && (rc = start_batch(t, err)) != FERRY_OK)
        return rc;
    if (t->copying && (rc = finish_copy(t, err)) != FERRY_OK)
        return rc;
    return FERRY_OK;
}

/* Staged mode: the chunk is complete. Ends its COPY and sends its merge. */
static ferry_rc end_chunk(pg_target *t, ferry_err *err)
{
    int64_t lo = t->chunk_first, block = t->chunk_block;
    ferry_rc rc;

    if ((rc = stage_settle(t, err)) != FERRY_OK ||
        (rc = stage_end_block(t, &t->chunk_block, err)) != FERRY_OK)
        return rc;
    t->chunk_first = t->next_apply;
    t->chunk_fast = 0;
    t->staged_keeps = false;
    rc = merge_send(t, lo, t->next_apply, block, t->nchk > 0, err);
    t->nchk = 0;
    return rc;
}

static ferry_rc result_unchanged(pg_target *t, ferry_target_result_cb cb, void *ctx, ferry_err *err)
{
    ferry_apply_result r;

    (void)t;
    memset(&r, 0, sizeof(r));
    r.outcome = FERRY_OUTCOME_UNCHANGED;
    return cb(ctx, &r, err);
}

/* Delivers the outcome of one row of ferry_out. */
static ferry_rc result_row(pg_target *t, PGresult *res, int r, ferry_target_result_cb cb, void *ctx,
                           ferry_err *err)
{
    const ferry_sync_spec *sync = t->sync;
    size_t n = sync->nfields;
    const char *what = PQgetvalue(res, r, 2);
    ferry_apply_result out;
    bool changed = false;
    ferry_rc rc;

    memset(&out, 0, sizeof(out));
    out.row = strtol(PQgetvalue(res, r, 1), NULL, 10);
    out.key = PQgetisnull(res, r, 3) ? NULL : PQgetvalue(res, r, 3);
    if (what[0] == 'c') {
        out.outcome = FERRY_OUTCOME_CREATED;
    } else if (what[0] == 'f') {
        out.outcome = FERRY_OUTCOME_FAILED;
        out.reason = PQgetvalue(res, r, 5);
    } else if (what[0] == 'd') {
        ferry_target_reason_duplicate(sync, out.key, t->reason, sizeof(t->reason));
        out.outcome = FERRY_OUTCOME_FAILED;
        out.reason = t->reason;
    } else {
        ferry_target_diff_reset(&t->diff);
        for (size_t i = 0; i < n + (t->flag_mode ? 1 : 0); i++) {
            int oc = 6 + (int)i, nc = 7 + (int)n + (int)i;
            const char *old = PQgetisnull(res, r, oc) ? NULL : PQgetvalue(res, r, oc);
            const char *new = i < n && !PQgetisnull(res, r, nc) ? PQgetvalue(res, r, nc) : NULL;
            if (i < n)
                rc = ferry_target_diff_add_typed(&t->diff, sync->fields[i].name, &t->ctype[i], old,
                                                 new, err);
            else if (sync->target.flag_bool) /* the returning record's flag flips */
                rc = old != NULL
                         ? ferry_target_diff_add(&t->diff, sync->target.flag_column,
                                                 sync->target.flag_value ? "true" : "false",
                                                 sync->target.flag_value ? "false" : "true", err)
                         : FERRY_OK;
            else if (sync->target.flag_column != NULL) /* the app's column: an instant */
                rc = ferry_target_diff_add_typed(&t->diff, sync->target.flag_column, &t->flag_type,
                                                 old, new, err);
            else
                rc = ferry_target_diff_add(&t->diff, ferry_target_flag_column(&sync->target), old,
                                           new, err);
            if (rc != FERRY_OK)
                return rc;
        }
        if ((rc = ferry_target_diff_finish(&t->diff, &changed, err)) != FERRY_OK)
            return rc;
        if (changed && t->flag_mode && !PQgetisnull(res, r, 6 + (int)n))
            t->revived++;
        out.outcome = changed ? FERRY_OUTCOME_UPDATED : FERRY_OUTCOME_UNCHANGED;
        if (changed) {
            out.diff_json = ferry_target_diff_json(&t->diff);
            out.diff_text = ferry_target_diff_text(&t->diff);
        } else {
            out.key = NULL;
            out.row = 0;
        }
    }
    return cb(ctx, &out, err);
}

/* Delivers the outcomes of applies [lo, hi): ferry_out's rows, read in chunks, and unchanged
 * in the gaps. Empties ferry_out. */
static ferry_rc deliver(pg_target *t, int64_t lo, int64_t hi, ferry_target_result_cb cb, void *ctx,
                        ferry_err *err)
{
    int64_t next = lo;
    ferry_rc rc;

    if ((rc = exec(t,
                   "DECLARE ferry_results NO SCROLL CURSOR FOR"
                   " SELECT * FROM ferry_out ORDER BY ord",
                   err, "reading the outcomes")) != FERRY_OK)
        return rc;
    for (;;) {
        PGresult *res = query(t, "FETCH 4096 FROM ferry_results", err, "reading the outcomes");
        int rows;
        if (res == NULL)
            return FERRY_EDB;
        rows = PQntuples(res);
        for (int r = 0; r < rows && rc == FERRY_OK; r++) {
            int64_t a = strtoll(PQgetvalue(res, r, 0), NULL, 10) / 2;
            while (next < a && rc == FERRY_OK) {
                rc = result_unchanged(t, cb, ctx, err);
                next++;
            }
            if (rc == FERRY_OK)
                rc = result_row(t, res, r, cb, ctx, err);
            next = a + 1;
        }
        PQclear(res);
        if (rc != FERRY_OK)
            return rc;
        if (rows < FETCH_ROWS)
            break;
    }
    while (next < hi && rc == FERRY_OK) {
        rc = result_unchanged(t, cb, ctx, err);
        next++;
    }
    if (rc != FERRY_OK)
        return rc;
    return exec(t, "CLOSE ferry_results; TRUNCATE ferry_out", err, "reading the outcomes");
}

/* Direct mode: the COPY into the table failed on a record; replays the batch through the
 * staging table. */
static ferry_rc replay_batch(pg_target *t, ferry_err *err)
{
    PGresult *res;
    ferry_rc rc;

    if (!t->staged_ready) {
        if ((rc = create_work_tables(t, true, err)) != FERRY_OK)
            return rc;
    } else if ((rc = exec(t, "TRUNCATE ferry_stage", err, "replaying a batch")) != FERRY_OK) {
        return rc;
    }
    ferry_buf_reset(&t->sql);
    ferry_buf_printf_trunc(&t->sql, "COPY ferry_stage (ord, \"row\", keep, chk, key");
    for (size_t i = 0; i < t->sync->nfields; i++)
        ferry_buf_printf_trunc(&t->sql, ", f%zu", i);
    ferry_buf_printf_trunc(&t->sql, ") FROM STDIN");
    if ((rc = sql_ready(t, err)) != FERRY_OK ||
        (rc = start_copy(t, ferry_buf_str(&t->sql), err)) != FERRY_OK)
        return rc;
    if (PQputCopyData(t->conn, t->lines.data, (int)t->lines.len) != 1) {
        PQclear(end_copy(t, "sending rows failed"));
        return db_error(t, NULL, err, "replaying a batch");
    }
    res = end_copy(t, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = db_error(t, res, err, "replaying a batch");
        PQclear(res);
        return rc;
    }
    PQclear(res);
    return merge_range(t, t->batch_first, t->next_apply, 0, true, err);
}

static ferry_rc drain_direct(pg_target *t, ferry_target_result_cb cb, void *ctx, ferry_err *err)
{
    PGresult *res = end_copy(t, NULL);
    ferry_rc rc;

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        if (!record_error(res)) {
            rc = db_error(t, res, err, "copying rows");
            PQclear(res);
            return rc;
        }
        PQclear(res);
        if ((rc = exec(t, "ROLLBACK TO SAVEPOINT ferry_batch", err, "replaying a batch")) !=
                FERRY_OK ||
            (rc = replay_batch(t, err)) != FERRY_OK ||
            (rc = exec(t, "RELEASE SAVEPOINT ferry_batch", err, "replaying a batch")) != FERRY_OK)
            return rc;
        return deliver(t, t->batch_first, t->next_apply, cb, ctx, err);
    }
    PQclear(res);
    if ((rc = exec(t, "RELEASE SAVEPOINT ferry_batch", err, "copying rows")) != FERRY_OK)
        return rc;
    for (size_t i = 0; i < t->nbatch; i++) {
        ferry_apply_result out;
        memset(&out, 0, sizeof(out));
        out.outcome = FERRY_OUTCOME_CREATED;
        out.row = t->rows[i];
        out.key = t->keys.data + t->keyoff[i];
        if ((rc = cb(ctx, &out, err)) != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

static ferry_rc drain_staged(pg_target *t, ferry_target_result_cb cb, void *ctx, ferry_err *err)
{
    int64_t lo = t->chunk_first;
    ferry_rc rc;

    if ((rc = stage_settle(t, err)) != FERRY_OK)
        return rc;
    t->staged_keeps = false;
    if (t->nbatch == 0)
        return FERRY_OK;
    if ((rc = merge_range(t, lo, t->next_apply, t->chunk_block, t->nchk > 0, err)) != FERRY_OK ||
        (rc = stage_end_block(t, &t->chunk_block, err)) != FERRY_OK)
        return rc;
    t->chunk_first = t->next_apply;
    return deliver(t, t->batch_first, t->next_apply, cb, ctx, err);
}

static ferry_rc tg_drain(ferry_target *base, ferry_target_result_cb cb, void *ctx, ferry_err *err)
{
    pg_target *t = (pg_target *)base;
    ferry_rc rc;

    if ((rc = take_prints(t, true, err)) != FERRY_OK)
        return rc;
    if (!t->copying && t->nbatch == 0 && !t->inflight && t->send.len == 0)
        return FERRY_OK;
    rc = t->was_empty ? drain_direct(t, cb, ctx, err) : drain_staged(t, cb, ctx, err);
    t->batch_first = t->chunk_first = t->next_apply;
    t->chunk_fast = 0;
    t->nbatch = 0;
    t->nchk = 0;
    return rc;
}

/* ---- on_missing, commit, rollback ----------------------------------------------------- */

/* Sends the places of the rows applies found unchanged by their prints (never staged) to
 * ferry_fast, for on_missing to leave alone. */
static ferry_rc send_fast(pg_target *t, ferry_err *err)
{
    PGresult *res;
    ferry_rc rc;

    if (t->nfast == 0)
        return FERRY_OK;
    if ((rc = exec(t, "CREATE TEMP TABLE ferry_fast (tid tid) ON COMMIT DROP", err,
                   "listing seen rows")) != FERRY_OK ||
        (rc = start_copy(t, "COPY ferry_fast FROM STDIN", err)) != FERRY_OK)
        return rc;
    for (size_t i = 0; i < t->nfp && rc == FERRY_OK; i++) {
        if (t->fp[i].state != FP_FAST)
            continue;
        if ((rc = ferry_buf_append(&t->send, "(", 1)) != FERRY_OK ||
            (rc = put_int(&t->send, t->fp[i].block)) != FERRY_OK ||
            (rc = ferry_buf_append(&t->send, ",", 1)) != FERRY_OK ||
            (rc = put_int(&t->send, t->fp[i].offset)) != FERRY_OK ||
            (rc = ferry_buf_append(&t->send, ")\n", 2)) != FERRY_OK)
            rc = ferry_err_set(err, rc, "table %s: listing seen rows", t->sync->target.table);
        else if (t->send.len >= SEND_CHUNK)
            rc = send_data(t, err);
    }
    res = end_copy(t, rc == FERRY_OK ? NULL : "listing seen rows failed");
    if (rc == FERRY_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = db_error(t, res, err, "listing seen rows");
    PQclear(res);
    return rc;
}

/* The rows on_missing's scan covers (see append_missing_scope()), less those the run brought back
 * from flagged: they were not in the scope when the run began. */
static ferry_rc count_scope(pg_target *t, int64_t *ret_scope, ferry_err *err)
{
    PGresult *res;
    ferry_rc rc;

    ferry_buf_reset(&t->sql);
    ferry_buf_printf_trunc(&t->sql, "SELECT count(*) FROM %s t WHERE true", t->table);
    if ((rc = append_missing_scope(t, err)) != FERRY_OK)
        return rc;
    res = query(t, ferry_buf_str(&t->sql), err, "counting the rows");
    if (res == NULL)
        return FERRY_EDB;
    *ret_scope = strtoll(PQgetvalue(res, 0, 0), NULL, 10) - t->revived;
    PQclear(res);
    return FERRY_OK;
}

static ferry_rc tg_finish(ferry_target *base, ferry_target_missing_check_cb check,
                          ferry_target_missing_cb cb, void *ctx, ferry_err *err)
{
    pg_target *t = (pg_target *)base;
    const ferry_sync_spec *sync = t->sync;
    ferry_buf *b = &t->sql;
    ferry_buf key;
    char now[FERRY_ISO_TIME_MAX];
    int64_t n = 0;
    bool failed = false;
    ferry_rc rc;

    /* Without the tenant's rows at the start, every row of the tenant now was created by this
     * run: nothing is missing. */
    if (sync->target.on_missing == FERRY_ON_MISSING_KEEP || t->was_empty)
        return FERRY_OK;
    if (t->copying || t->nbatch > 0 || t->inflight || t->loading)
        return ferry_err_set(err, FERRY_EINVAL, "table %s: finish before drain",
                             sync->target.table);
    if ((rc = exec(t, HASH_JOINS, err, "choosing join methods")) != FERRY_OK ||
        (rc = send_fast(t, err)) != FERRY_OK)
        return rc;
    ferry_buf_reset(b);
    ferry_buf_printf_trunc(b,
                           "CREATE TEMP TABLE ferry_gone ON COMMIT DROP AS SELECT t.ctid AS tid");
    for (size_t k = 0; k < sync->target.nkey; k++)
        ferry_buf_printf_trunc(b, ", t.%s AS k%zu", t->col[t->key_field[k]].name, k);
    /* The row's values as text, in column order, for a revert (target.h's row_values). */
    ferry_buf_printf_trunc(b, ", (SELECT '{' || string_agg(to_json(j.key)::text || ':' ||"
                              " coalesce(to_json(j.value)::text, 'null'), ',') || '}' FROM"
                              " json_each_text(row_to_json(t)) j) AS v");
    ferry_buf_printf_trunc(b, " FROM %s t WHERE NOT EXISTS (SELECT 1 FROM ferry_stage s WHERE ",
                           t->table);
    key_join(t, "t", "s");
    ferry_buf_printf_trunc(b, " AND s.ok)");
    if (t->nfast > 0)
        ferry_buf_printf_trunc(b,
                               " AND NOT EXISTS (SELECT 1 FROM ferry_fast f WHERE f.tid = t.ctid)");
    if ((rc = append_missing_scope(t, err)) != FERRY_OK ||
        (rc = exec_merge(t, ferry_buf_str(b), &n, &failed, err, "finding missing rows")) !=
            FERRY_OK)
        return rc;
    if (failed)
        return ferry_err_set(err, FERRY_EDB, "table %s: finding missing rows: %s",
                             sync->target.table, t->reason);
    if (n == 0)
        return FERRY_OK;
    if (check != NULL) {
        int64_t scope = 0;
        if ((rc = count_scope(t, &scope, err)) != FERRY_OK ||
            (rc = check(ctx, n, scope, err)) != FERRY_OK)
            return rc;
    }
    /* Key order, as the SQLite target reports them (text in byte order). */
    ferry_buf_reset(b);
    ferry_buf_printf_trunc(b, "DECLARE ferry_gone_keys NO SCROLL CURSOR FOR SELECT");
    for (size_t k = 0; k < sync->target.nkey; k++)
        ferry_buf_printf_trunc(b, "%s k%zu::text", k ? "," : "", k);
    ferry_buf_printf_trunc(b, ", v FROM ferry_gone ORDER BY");
    for (size_t k = 0; k < sync->target.nkey; k++) {
        const column *c = &t->col[t->key_field[k]];
        bool numeric = strcmp(c->type, "bigint") == 0 || strcmp(c->type, "integer") == 0 ||
                       strcmp(c->type, "smallint") == 0 || strncmp(c->type, "numeric", 7) == 0;
        ferry_buf_printf_trunc(b, "%s k%zu%s", k ? "," : "", k,
                               numeric ? "" : "::text COLLATE \"C\"");
    }
    if ((rc = sql_ready(t, err)) != FERRY_OK ||
        (rc = exec(t, ferry_buf_str(b), err, "reading missing rows")) != FERRY_OK)
        return rc;
    ferry_buf_init(&key, 4096);
    for (;;) {
        PGresult *res = query(t, "FETCH 4096 FROM ferry_gone_keys", err, "reading missing rows");
        int rows;
        if (res == NULL) {
            rc = FERRY_EDB;
            break;
        }
        rows = PQntuples(res);
        for (int r = 0; r < rows && rc == FERRY_OK; r++) {
            ferry_buf_reset(&key);
            for (size_t k = 0; k < sync->target.nkey; k++) {
                const char *v = PQgetisnull(res, r, (int)k) ? "" : PQgetvalue(res, r, (int)k);
                ferry_sync_key_append(sync, k, v, strlen(v), &key);
            }
            rc = cb(ctx, ferry_buf_str(&key), PQgetvalue(res, r, (int)sync->target.nkey), err);
        }
        PQclear(res);
        if (rc != FERRY_OK || rows < 4096)
            break;
    }
    ferry_buf_done(&key);
    if (rc == FERRY_OK)
        rc = exec(t, "CLOSE ferry_gone_keys", err, "reading missing rows");
    if (rc != FERRY_OK)
        return rc;
    ferry_buf_reset(b);
    if (t->flag_mode) {
        ferry_time_format_iso(ferry_time_now_ms(), now);
        if (t->sync->target.flag_bool)
            ferry_buf_printf_trunc(b, "UPDATE %s SET %s = %s", t->table, t->flag_col,
                                   t->sync->target.flag_value ? "true" : "false");
        else /* the app's own column takes the time as its timestamps are written */
            ferry_buf_printf_trunc(b, "UPDATE %s SET %s = '%s'", t->table, t->flag_col,
                                   t->sync->target.flag_column != NULL ? t->flag_at : now);
        if (t->updated_col != NULL)
            ferry_buf_printf_trunc(b, ", %s = '%s'", t->updated_col, t->updated_at);
        ferry_buf_printf_trunc(b, " WHERE ctid = ANY (ARRAY (SELECT tid FROM ferry_gone))");
    } else {
        ferry_buf_printf_trunc(
            b, "DELETE FROM %s WHERE ctid = ANY (ARRAY (SELECT tid FROM ferry_gone))", t->table);
    }
    if ((rc = sql_ready(t, err)) != FERRY_OK)
        return rc;
    return exec(t, ferry_buf_str(b), err,
                t->flag_mode ? "flagging missing rows" : "deleting missing rows");
}

static void reset_batch(pg_target *t)
{
    t->nbatch = 0;
    t->nchk = 0;
    ferry_buf_reset(&t->send);
    ferry_buf_reset(&t->lines);
    ferry_buf_reset(&t->keys);
}

/* Settles the connection (the prints still coming, nothing pending) for commit() or for the
 * next step's target. */
static ferry_rc settle_connection(pg_target *t, ferry_err *err)
{
    ferry_rc rc;

    if ((rc = take_prints(t, true, err)) != FERRY_OK)
        return rc;
    if (t->copying || t->nbatch > 0 || t->inflight) /* outcomes nobody read */
        return ferry_err_set(err, FERRY_EINVAL, "table %s: commit before drain",
                             t->sync->target.table);
    return FERRY_OK;
}

/* The work tables would be in the way of the next step's, which have the same names. */
static ferry_rc tg_release(ferry_target *base, ferry_err *err)
{
    pg_target *t = (pg_target *)base;
    ferry_rc rc = settle_connection(t, err);

    if (rc != FERRY_OK)
        return rc;
    t->staged_ready = false;
    return exec(t,
                "DROP TABLE IF EXISTS ferry_stage, ferry_cand, ferry_out, ferry_dups, ferry_fast,"
                " ferry_gone",
                err, "dropping the step's work tables");
}

static ferry_rc tg_commit(ferry_target *base, ferry_err *err)
{
    pg_target *t = (pg_target *)base;
    ferry_rc rc;

    if ((rc = settle_connection(t, err)) != FERRY_OK) {
        base->ops->rollback(base);
        return rc;
    }
    if (base->joined)
        return FERRY_OK;
    rc = exec(t, "COMMIT", err, "committing");
    if (rc != FERRY_OK && PQtransactionStatus(t->conn) != PQTRANS_IDLE)
        PQclear(PQexec(t->conn, "ROLLBACK"));
    t->in_txn = false;
    return rc;
}

static void tg_rollback(ferry_target *base)
{
    pg_target *t = (pg_target *)base;

    if (t->inflight) {
        PGresult *res;
        while ((res = PQgetResult(t->conn)) != NULL)
            PQclear(res);
        t->inflight = false;
    }
    if (t->loading) {
        PGresult *res;
        char *line = NULL;
        while (PQgetCopyData(t->conn, &line, 0) > 0)
            PQfreemem(line);
        while ((res = PQgetResult(t->conn)) != NULL)
            PQclear(res);
        t->loading = false;
    }
    if (t->copying)
        PQclear(end_copy(t, "the run stopped"));
    reset_batch(t);
    if (t->in_txn && PQtransactionStatus(t->conn) != PQTRANS_IDLE)
        PQclear(PQexec(t->conn, "ROLLBACK"));
    t->in_txn = false;
}

static void tg_free(ferry_target *base)
{
    pg_target *t = (pg_target *)base;

    if (t == NULL)
        return;
    tg_rollback(base);
    if (t->col != NULL) {
        for (size_t i = 0; i < t->sync->nfields; i++) {
            free(t->col[i].name);
            free(t->col[i].type);
        }
    }
    free(t->col);
    free(t->ctype);
    free(t->check);
    free(t->table);
    free(t->created_col);
    free(t->updated_col);
    free(t->flag_col);
    free(t->bloom);
    fp_drop(t);
    ferry_buf_done(&t->fp_line);
    ferry_buf_done(&t->held);
    free(t->rows);
    free(t->keyoff);
    ferry_buf_done(&t->send);
    ferry_buf_done(&t->lines);
    ferry_buf_done(&t->keys);
    ferry_buf_done(&t->sql);
    ferry_target_diff_done(&t->diff);
    ferry_buf_done(&t->form);
    free(t->key_field);
    free(t->tenant);
    free(t);
}

/* Rows come one at a time (single-row mode), so a large table is never held whole. */
static ferry_rc tg_lookup_rows(ferry_target *base, const ferry_lookup_spec *lk,
                               const char *const *scope_values, ferry_target_row_cb cb, void *ctx,
                               ferry_err *err)
{
    pg_target *t = (pg_target *)base;
    const char *match[FERRY_LOOKUP_MATCH_MAX];
    size_t match_len[FERRY_LOOKUP_MATCH_MAX];
    ferry_rc rc = FERRY_OK;
    PGresult *res;

    if (lk->nmatch > FERRY_LOOKUP_MATCH_MAX)
        return ferry_err_set(err, FERRY_EINVAL, "a look-up matches at most %d columns",
                             FERRY_LOOKUP_MATCH_MAX);
    if (ferry_target_lookup_sql(lk, true, cb == NULL, &t->sql) != FERRY_OK)
        return ferry_err_set(err, FERRY_ENOMEM, "building the look-up's query");
    if (!PQsendQueryParams(t->conn, ferry_buf_str(&t->sql), (int)lk->nscope, NULL, scope_values,
                           NULL, NULL, 0) ||
        !PQsetSingleRowMode(t->conn))
        return ferry_err_set(err, FERRY_EDB, "cannot read the look-up table %s: %s", lk->table,
                             PQerrorMessage(t->conn));
    while ((res = PQgetResult(t->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        int n = (int)lk->nmatch;

        if (rc == FERRY_OK && st == PGRES_SINGLE_TUPLE) {
            for (int k = 0; k < n; k++) {
                match[k] = PQgetisnull(res, 0, k) ? NULL : PQgetvalue(res, 0, k);
                match_len[k] = (size_t)PQgetlength(res, 0, k);
            }
            rc = cb(ctx, match, match_len, PQgetisnull(res, 0, n) ? NULL : PQgetvalue(res, 0, n),
                    (size_t)PQgetlength(res, 0, n), err);
        } else if (rc == FERRY_OK && st != PGRES_TUPLES_OK) {
            const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            /* 42P01: no such table; 42703: no such column */
            bool schema =
                code != NULL && (strcmp(code, "42P01") == 0 || strcmp(code, "42703") == 0);
            rc = ferry_err_set(err, schema ? FERRY_ESCHEMA : FERRY_EDB,
                               "cannot read the look-up table %s: %s", lk->table,
                               PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        }
        PQclear(res); /* every result is read, so the connection is idle after */
    }
    return rc;
}

static const ferry_target_ops pg_target_ops = {
    .begin = tg_begin,
    .apply = tg_apply,
    .keep = tg_keep,
    .drain = tg_drain,
    .finish = tg_finish,
    .lookup_rows = tg_lookup_rows,
    .release = tg_release,
    .commit = tg_commit,
    .rollback = tg_rollback,
    .free = tg_free,
};

ferry_rc ferry_pg_target_new(struct pg_conn *conn, const ferry_sync_spec *sync, const char *tenant,
                             ferry_target **ret_target, ferry_err *err)
{
    pg_target *t;
    ferry_rc rc;

    if (conn == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "no PostgreSQL connection for the target");
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
    t->base.ops = &pg_target_ops;
    t->conn = conn;
    t->sync = sync;
    t->flag_mode = sync->target.on_missing == FERRY_ON_MISSING_FLAG;
    ferry_column_type_parse("timestamp with time zone", false, &t->flag_type); /* as created */
    ferry_buf_init(&t->send, 2 * SEND_CHUNK + DIRECT_BYTES);
    ferry_buf_init(&t->lines, 2 * DIRECT_BYTES);
    ferry_buf_init(&t->keys, 2 * DIRECT_BYTES);
    ferry_buf_init(&t->sql, SQL_MAX);
    ferry_buf_init(&t->fp_line, 2 * SEND_CHUNK + DIRECT_BYTES);
    ferry_buf_init(&t->held, HELD_BYTES + 2 * SEND_CHUNK + DIRECT_BYTES);
    ferry_target_diff_init(&t->diff);
    ferry_buf_init(&t->form, 256);
    if ((sync->tenant_field >= 0 && tenant != NULL && (t->tenant = strdup(tenant)) == NULL) ||
        (t->key_field = calloc(sync->target.nkey, sizeof(*t->key_field))) == NULL ||
        (t->col = calloc(sync->nfields, sizeof(*t->col))) == NULL ||
        (t->ctype = calloc(sync->nfields, sizeof(*t->ctype))) == NULL ||
        (t->check = calloc(sync->nfields, sizeof(*t->check))) == NULL ||
        (t->rows = calloc(DIRECT_ROWS, sizeof(*t->rows))) == NULL ||
        (t->keyoff = calloc(DIRECT_ROWS, sizeof(*t->keyoff))) == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
        goto out_free;
    }
    if ((rc = quote(t, sync->target.table, &t->table, err)) != FERRY_OK)
        goto out_free;
    if (sync->target.created_column != NULL &&
        ((rc = quote(t, sync->target.created_column, &t->created_col, err)) != FERRY_OK ||
         (rc = quote(t, sync->target.updated_column, &t->updated_col, err)) != FERRY_OK))
        goto out_free;
    if (t->flag_mode &&
        (rc = quote(t, ferry_target_flag_column(&sync->target), &t->flag_col, err)) != FERRY_OK)
        goto out_free;
    for (size_t i = 0; i < sync->nfields; i++) {
        if ((rc = quote(t, sync->fields[i].name, &t->col[i].name, err)) != FERRY_OK)
            goto out_free;
    }
    for (size_t k = 0; k < sync->target.nkey; k++) {
        long f = ferry_sync_field_index(sync, sync->target.key[k]);
        if (f < 0) {
            rc = ferry_err_set(err, FERRY_ECONFIG, "key '%s' is not a field", sync->target.key[k]);
            goto out_free;
        }
        t->key_field[k] = (size_t)f;
    }
    *ret_target = &t->base;
    return FERRY_OK;

out_free:
    tg_free(&t->base);
    return rc;
}

ferry_rc ferry_pg_target_check(struct pg_conn *conn, const ferry_sync_spec *sync, bool migrate,
                               ferry_buf *done, ferry_err *err)
{
    ferry_target *base = NULL;
    pg_target *t;
    ferry_target_shape shape = {0};
    const char *params[1];
    PGresult *res = NULL, *cols = NULL;
    char *oid = NULL;
    ferry_buf add;
    ferry_rc rc;

    if ((rc = ferry_pg_target_new(conn, sync, NULL, &base, err)) != FERRY_OK)
        return rc;
    t = (pg_target *)base;
    t->checking = true;
    ferry_buf_init(&add, 64 * 1024);
    if ((rc = exec(t, "BEGIN", err, "beginning the transaction")) != FERRY_OK)
        goto out;
    t->in_txn = true;
    if ((rc = ferry_target_probe_lookups(base, sync, err)) != FERRY_OK)
        goto out;
    params[0] = t->table;
    res = PQexecParams(conn, "SELECT to_regclass($1)::oid", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = db_error(t, res, err, "looking the table up");
        goto out;
    }
    if (PQgetisnull(res, 0, 0))
        goto out; /* the first run creates it */
    if ((oid = strdup(PQgetvalue(res, 0, 0))) == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "allocating the target");
        goto out;
    }
    if (!migrate) {
        rc = check_table(t, oid, err);
        goto out;
    }
    if ((rc = ferry_target_shape_init(&shape, sync, shape_type, err)) != FERRY_OK ||
        (rc = read_shape(t, oid, &shape, &cols, err)) != FERRY_OK)
        goto out;
    if ((rc = ferry_target_shape_migration(&shape, &add, err)) != FERRY_OK || add.len == 0)
        goto out;
    if ((rc = exec(t, ferry_buf_str(&add), err, "adding columns")) != FERRY_OK ||
        (rc = exec(t, "COMMIT", err, "committing")) != FERRY_OK)
        goto out;
    t->in_txn = false;
    ferry_buf_printf_trunc(done, "%s", ferry_buf_str(&add));
out:
    PQclear(res);
    PQclear(cols);
    free(oid);
    ferry_target_shape_done(&shape);
    ferry_buf_done(&add);
    tg_free(base); /* rolls back what is left open */
    return rc;
}
