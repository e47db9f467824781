/* hold.c - what a held run keeps (see hold.h). */
#include "sync/hold.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Change rows read or written at once. */
#define HOLD_BATCH 512
#define NO_TEXT UINT32_MAX

void ferry_change_digest_init(ferry_change_digest *d)
{
    crypto_generichash_init(&d->state, NULL, 0, 32);
    d->rows = 0;
}

static void digest_text(ferry_change_digest *d, const char *s)
{
    uint32_t len = s != NULL ? (uint32_t)strlen(s) : NO_TEXT;

    crypto_generichash_update(&d->state, (const unsigned char *)&len, sizeof(len));
    if (s != NULL)
        crypto_generichash_update(&d->state, (const unsigned char *)s, len);
}

void ferry_change_digest_add(ferry_change_digest *d, const ferry_change *change)
{
    int64_t head[2] = {(int64_t)change->outcome, (int64_t)change->row};

    crypto_generichash_update(&d->state, (const unsigned char *)head, sizeof(head));
    digest_text(d, change->record_key);
    digest_text(d, change->reason);
    digest_text(d, change->diff);
    digest_text(d, change->step);
    digest_text(d, change->row_values);
    d->rows++;
}

void ferry_change_digest_final(ferry_change_digest *d, char out[FERRY_CHANGE_DIGEST_HEX])
{
    unsigned char raw[32];

    crypto_generichash_final(&d->state, raw, sizeof(raw));
    sodium_bin2hex(out, FERRY_CHANGE_DIGEST_HEX, raw, sizeof(raw));
}

/* ---- change rows across the rollback ---- */

/* The texts of a change row, in the order the spool keeps them. */
#define CHANGE_TEXTS 7

static char **change_text(ferry_change *c, int i)
{
    char **texts[CHANGE_TEXTS] = {&c->record_key, &c->reason, &c->diff,      &c->label,
                                  &c->step,       &c->link,   &c->row_values};
    return texts[i];
}

static bool put_change(FILE *f, ferry_change *c)
{
    int64_t head[3] = {c->seq, (int64_t)c->outcome, (int64_t)c->row};
    bool ok = fwrite(head, sizeof(head), 1, f) == 1;

    for (int i = 0; i < CHANGE_TEXTS && ok; i++) {
        const char *s = *change_text(c, i);
        uint32_t len = s != NULL ? (uint32_t)strlen(s) : NO_TEXT;
        ok = fwrite(&len, sizeof(len), 1, f) == 1 && (s == NULL || fwrite(s, 1, len, f) == len);
    }
    return ok;
}

/* Reads one change row into c (its texts malloc'd); FERRY_DONE at the end. */
static ferry_rc get_change(FILE *f, ferry_change *c, ferry_err *err)
{
    int64_t head[3];

    memset(c, 0, sizeof(*c));
    if (fread(head, sizeof(head), 1, f) != 1)
        return feof(f) ? FERRY_DONE
                       : ferry_err_set(err, FERRY_EIO, "reading back the held run's changes");
    c->seq = head[0];
    c->outcome = (ferry_outcome)head[1];
    c->row = (long)head[2];
    for (int i = 0; i < CHANGE_TEXTS; i++) {
        uint32_t len;
        char *s;
        if (fread(&len, sizeof(len), 1, f) != 1)
            goto damaged;
        if (len == NO_TEXT)
            continue;
        if ((s = malloc((size_t)len + 1)) == NULL) {
            ferry_change_done(c);
            return ferry_err_set(err, FERRY_ENOMEM, "reading back the held run's changes");
        }
        *change_text(c, i) = s;
        if (fread(s, 1, len, f) != len)
            goto damaged;
        s[len] = '\0';
    }
    return FERRY_OK;
damaged:
    ferry_change_done(c);
    return ferry_err_set(err, FERRY_EIO, "reading back the held run's changes: the file is cut");
}

ferry_rc ferry_hold_changes_save(ferry_store *st, int64_t run_id, FILE **ret,
                                 char digest[FERRY_CHANGE_DIGEST_HEX], int64_t *ret_rows,
                                 ferry_err *err)
{
    ferry_change_filter filter = {.outcome = -1, .limit = HOLD_BATCH};
    ferry_change_digest d;
    FILE *f = NULL;
    ferry_rc rc = FERRY_OK;

    if (ret != NULL && (f = tmpfile()) == NULL)
        return ferry_err_set(err, FERRY_EIO, "keeping the held run's changes: %s", strerror(errno));
    ferry_change_digest_init(&d);
    for (;;) {
        ferry_change *changes = NULL;
        size_t n = 0;
        bool ok = true;
        if ((rc = st->runs->change_list(st, run_id, &filter, &changes, &n, err)) != FERRY_OK)
            break;
        for (size_t i = 0; i < n; i++) {
            ferry_change_digest_add(&d, &changes[i]);
            ok = ok && (f == NULL || put_change(f, &changes[i]));
        }
        if (n > 0)
            filter.after_seq = changes[n - 1].seq;
        ferry_changes_free(changes, n);
        if (!ok) {
            rc = ferry_err_set(err, FERRY_EIO, "keeping the held run's changes: %s",
                               strerror(errno));
            break;
        }
        if (n < HOLD_BATCH)
            break;
    }
    if (rc == FERRY_OK && f != NULL && (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0))
        rc = ferry_err_set(err, FERRY_EIO, "keeping the held run's changes: %s", strerror(errno));
    if (rc != FERRY_OK) {
        if (f != NULL)
            fclose(f);
        return rc;
    }
    *ret_rows = d.rows;
    ferry_change_digest_final(&d, digest);
    if (ret != NULL)
        *ret = f;
    return FERRY_OK;
}

ferry_rc ferry_hold_changes_restore(ferry_store *st, int64_t run_id, FILE *f, ferry_err *err)
{
    ferry_change batch[64];
    size_t n = 0;
    ferry_rc rc;

    for (;;) {
        rc = get_change(f, &batch[n], err);
        if (rc == FERRY_OK)
            batch[n++].run_id = run_id;
        if (n > 0 && (n == sizeof(batch) / sizeof(batch[0]) || rc != FERRY_OK)) {
            ferry_rc wrc =
                rc == FERRY_OK || rc == FERRY_DONE ? st->runs->changes_add(st, batch, n, err) : rc;
            for (size_t i = 0; i < n; i++)
                ferry_change_done(&batch[i]);
            n = 0;
            if (wrc != FERRY_OK)
                return wrc;
        }
        if (rc == FERRY_DONE)
            return FERRY_OK;
        if (rc != FERRY_OK)
            return rc;
    }
}

/* ---- snapshots ---- */

void ferry_hold_snapshot_dir(const char *data_dir, int64_t run_id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/held/%" PRId64, data_dir, run_id);
}

void ferry_hold_snapshot_path(const char *data_dir, int64_t run_id, size_t step, char *out,
                              size_t outlen)
{
    snprintf(out, outlen, "%s/held/%" PRId64 "/step-%zu", data_dir, run_id, step);
}

static ferry_rc make_dir(const char *path, ferry_err *err)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return ferry_err_set(err, FERRY_EIO, "making %s for the held run's snapshot: %s", path,
                             strerror(errno));
    return FERRY_OK;
}

ferry_rc ferry_hold_snapshot_mkdir(const char *data_dir, int64_t run_id, ferry_err *err)
{
    char path[4096];
    ferry_rc rc;

    ferry_hold_snapshot_remove(data_dir, run_id);
    if ((rc = make_dir(data_dir, err)) != FERRY_OK)
        return rc;
    snprintf(path, sizeof(path), "%s/held", data_dir);
    if ((rc = make_dir(path, err)) != FERRY_OK)
        return rc;
    ferry_hold_snapshot_dir(data_dir, run_id, path, sizeof(path));
    return make_dir(path, err);
}

bool ferry_hold_snapshot_exists(const char *data_dir, int64_t run_id)
{
    char path[4096];
    struct stat st;

    ferry_hold_snapshot_dir(data_dir, run_id, path, sizeof(path));
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void ferry_hold_snapshot_remove(const char *data_dir, int64_t run_id)
{
    char dir[4096], path[4400];
    DIR *d;
    struct dirent *e;

    ferry_hold_snapshot_dir(data_dir, run_id, dir, sizeof(dir));
    if ((d = opendir(dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        (void)unlink(path);
    }
    closedir(d);
    (void)rmdir(dir);
}
