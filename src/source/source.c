/* source.c - picks the source implementation for a sync's source kind, and what every kind
 * shares: {variable} expansion, the connection check's result, and snapshots.
 *
 * A snapshot is what a run read, saved so that a later run (a held run, once approved)
 * applies exactly those records however the source changed since: the implementation names
 * the bytes (ferry_source_snapshot_parts), this file writes them to a file of their own,
 * exclusively and durably, and leaves nothing behind when it fails. */
#include "source/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source/sheet_link.h"
#include "util/password.h"
#include "util/template.h"

/* The most a secret (a token, a password, a service-account key file) may hold. */
#define SECRET_MAX (16 * 1024)

ferry_rc ferry_source_open(const ferry_sync_spec *sync, const ferry_source_options *opt,
                           ferry_source **ret_src, ferry_err *err)
{
    const char *why = ferry_sync_tenant_problem(sync, opt->tenant);

    if (why != NULL)
        return ferry_err_set(err, FERRY_EINVAL, "tenant%s%s: %s", opt->tenant ? " " : "",
                             opt->tenant ? opt->tenant : "", why);
    switch (sync->source.kind) {
    case FERRY_SOURCE_CSV:
        return ferry_csv_source_open(sync, opt, ret_src, err);
    case FERRY_SOURCE_REST:
        return ferry_rest_source_open(sync, opt, ret_src, err);
    }
    return ferry_err_set(err, FERRY_EINVAL, "unknown source kind");
}

struct scope {
    const ferry_sync_spec *sync;
    const char *tenant;
    const char *since; /* {since}, or NULL when it names nothing */
};

static const char *lookup(void *ctx, const char *name, size_t len)
{
    const struct scope *sc = ctx;
    const ferry_source_spec *src = &sc->sync->source;
    const char *tv = sc->sync->tenant_variable;

    if (sc->since != NULL && len == 5 && memcmp(name, "since", 5) == 0)
        return sc->since;
    if (tv != NULL && sc->tenant != NULL && strlen(tv) == len && memcmp(tv, name, len) == 0)
        return sc->tenant;
    for (size_t i = 0; i < src->nvars; i++)
        if (strlen(src->vars[i].name) == len && memcmp(src->vars[i].name, name, len) == 0)
            return src->vars[i].value;
    return NULL;
}

ferry_rc ferry_source_expand(const ferry_sync_spec *sync, const char *tenant, const char *text,
                             bool encode, ferry_buf *out, ferry_err *err)
{
    struct scope sc = {sync, tenant, NULL};

    return ferry_template_expand(text, lookup, &sc, encode, out, err);
}

ferry_rc ferry_source_expand_since(const ferry_sync_spec *sync, const char *tenant,
                                   const char *since, const char *text, bool query, ferry_buf *out,
                                   ferry_err *err)
{
    struct scope sc = {sync, tenant, since};

    return query ? ferry_template_expand_query(text, lookup, &sc, out, err)
                 : ferry_template_expand(text, lookup, &sc, true, out, err);
}

ferry_rc ferry_source_expand_query(const ferry_sync_spec *sync, const char *tenant,
                                   const char *text, ferry_buf *out, ferry_err *err)
{
    struct scope sc = {sync, tenant, NULL};

    return ferry_template_expand_query(text, lookup, &sc, out, err);
}

void ferry_source_check_done(ferry_source_check *check)
{
    if (check == NULL)
        return;
    for (size_t i = 0; i < check->nunmapped; i++)
        free(check->unmapped[i]);
    free(check->unmapped);
    for (size_t i = 0; i < check->nmissing; i++)
        free(check->missing[i]);
    free(check->missing);
    memset(check, 0, sizeof(*check));
}

void ferry_source_close(ferry_source *src)
{
    if (src != NULL)
        src->ops->close(src);
}

ferry_rc ferry_source_secret_read(const ferry_sync_spec *sync, const ferry_source_options *opt,
                                  const ferry_secret_ref *ref, const char *what, char **ret,
                                  ferry_err *err)
{
    char path[4096], name[512];
    ferry_buf expanded;
    char *buf;
    size_t n = 0;
    FILE *f;

    /* The variable's and the file's names may hold {variables}: one key per tenant. */
    if (ref->env != NULL || ref->file != NULL) {
        ferry_rc rc;
        ferry_buf_init(&expanded, sizeof(name) - 1);
        rc = ferry_source_expand(sync, opt->tenant, ref->env != NULL ? ref->env : ref->file, false,
                                 &expanded, err);
        if (rc == FERRY_OK)
            snprintf(name, sizeof(name), "%s", ferry_buf_str(&expanded));
        ferry_buf_done(&expanded);
        if (rc != FERRY_OK)
            return rc;
    }

    if (ref->literal != NULL) {
        *ret = strdup(ref->literal);
        return *ret != NULL ? FERRY_OK : ferry_err_set(err, FERRY_ENOMEM, "reading %s", what);
    }
    if (ref->env != NULL) {
        const char *v = getenv(name);
        if (v == NULL || v[0] == '\0')
            return ferry_err_set(err, FERRY_ECREDENTIAL,
                                 "the %s is read from the environment variable %s, which is not "
                                 "set",
                                 what, name);
        *ret = strdup(v);
        return *ret != NULL ? FERRY_OK : ferry_err_set(err, FERRY_ENOMEM, "reading %s", what);
    }
    if (ref->file == NULL) {
        *ret = strdup("");
        return *ret != NULL ? FERRY_OK : ferry_err_set(err, FERRY_ENOMEM, "reading %s", what);
    }
    if (name[0] == '/' || opt->base_dir == NULL)
        snprintf(path, sizeof(path), "%s", name);
    else
        snprintf(path, sizeof(path), "%s/%s", opt->base_dir, name);
    f = fopen(path, "re");
    if (f == NULL)
        return ferry_err_set_errno(err, FERRY_ECREDENTIAL,
                                   "the %s is read from %s, which cannot be "
                                   "opened",
                                   what, path);
    buf = calloc(1, SECRET_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return ferry_err_set(err, FERRY_ENOMEM, "reading %s", what);
    }
    n = fread(buf, 1, SECRET_MAX + 1, f);
    fclose(f);
    if (n > SECRET_MAX) {
        ferry_password_wipe(buf, SECRET_MAX + 1);
        free(buf);
        return ferry_err_set(err, FERRY_ECREDENTIAL, "the %s file %s is too large", what, path);
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (n == 0 || memchr(buf, '\0', n) != NULL) {
        free(buf);
        return ferry_err_set(err, FERRY_ECREDENTIAL, "the %s file %s is empty or not text", what,
                             path);
    }
    *ret = buf;
    return FERRY_OK;
}

bool ferry_source_cell_link(const ferry_source *src, long field, long row, ferry_buf *out)
{
    if (src == NULL || src->sheet_url == NULL || row <= 0)
        return false;
    ferry_buf_reset(out);
    if (ferry_buf_append(out, src->sheet_url, strlen(src->sheet_url)) != FERRY_OK)
        return false;
    ferry_sheet_range_append(field >= 0 ? src->field_column[field] : SIZE_MAX, row, out);
    return true;
}

/* Writes n bytes of p to fd. */
static ferry_rc write_all(int fd, const void *p, size_t n, const char *path, ferry_err *err)
{
    const char *b = p;

    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return ferry_err_set_errno(err, FERRY_EIO, "writing the snapshot %s", path);
        b += w;
        n -= (size_t)w;
    }
    return FERRY_OK;
}

/* Copies len bytes of from (at offset, with pread: from's read position does not move) to to. */
static ferry_rc copy_range(int from, int64_t offset, int64_t len, int to, const char *path,
                           ferry_err *err)
{
    char buf[64 * 1024];
    ferry_rc rc = FERRY_OK;

    while (len > 0 && rc == FERRY_OK) {
        size_t want = len < (int64_t)sizeof(buf) ? (size_t)len : sizeof(buf);
        ssize_t n = pread(from, buf, want, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ferry_err_set_errno(err, FERRY_EIO, "reading the source for the snapshot %s",
                                       path);
        if (n == 0)
            return ferry_err_set(err, FERRY_EIO,
                                 "the source's bytes ended %lld bytes early while saving the "
                                 "snapshot %s",
                                 (long long)len, path);
        rc = write_all(to, buf, (size_t)n, path, err);
        offset += n;
        len -= n;
    }
    return rc;
}

ferry_rc ferry_source_snapshot(ferry_source *src, const char *path, int64_t max_bytes,
                               ferry_err *err)
{
    ferry_source_snapshot_parts parts = {.fd = -1};
    int64_t size;
    ferry_rc rc;
    int fd;

    if (src->ops->snapshot == NULL)
        return ferry_err_set(err, FERRY_EINVAL,
                             "a %s source cannot save what it read for a later run", src->kind);
    rc = src->ops->snapshot(src, &parts, err);
    if (rc != FERRY_OK)
        return rc;
    size = (int64_t)parts.head_len + parts.len;
    if (max_bytes > 0 && size > max_bytes)
        return ferry_err_set(err, FERRY_ELIMIT,
                             "what the source read (%lld bytes) is more than the %lld bytes a "
                             "snapshot may hold",
                             (long long)size, (long long)max_bytes);
    do {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return ferry_err_set_errno(err, FERRY_EIO, "creating the snapshot %s", path);
    rc = write_all(fd, parts.head, parts.head_len, path, err);
    if (rc == FERRY_OK && parts.len > 0)
        rc = copy_range(parts.fd, parts.offset, parts.len, fd, path, err);
    if (rc == FERRY_OK && fsync(fd) != 0)
        rc = ferry_err_set_errno(err, FERRY_EIO, "saving the snapshot %s", path);
    if (close(fd) != 0 && rc == FERRY_OK)
        rc = ferry_err_set_errno(err, FERRY_EIO, "saving the snapshot %s", path);
    if (rc != FERRY_OK)
        unlink(path);
    return rc;
}

ferry_rc ferry_source_replay_open(const char *path, int *ret_fd, ferry_err *err)
{
    int fd;

    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0 && errno == ENOENT)
        return ferry_err_set(err, FERRY_ENOTFOUND, "the snapshot %s does not exist", path);
    if (fd < 0)
        return ferry_err_set_errno(err, FERRY_EIO, "cannot open the snapshot %s", path);
    *ret_fd = fd;
    return FERRY_OK;
}
