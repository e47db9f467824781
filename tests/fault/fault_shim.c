/* fault_shim.c - an LD_PRELOAD library that makes a file's writes or syncs fail, for Ferry's
 * fault-injection tests (tests/integration/test_faults.py).
 *
 * It wraps write, pwrite, pwrite64, writev, pwritev, fsync and fdatasync. A call counts only
 * when its file descriptor names a file whose path starts with FERRY_FAULT_PATH (the SQLite
 * database: its -wal, -shm and -journal files share the prefix), and only while the control
 * file FERRY_FAULT_CONTROL exists. The control file holds one line, "GEN NTH COUNT ERRNO":
 * counted calls are numbered from 1 since the line last changed (GEN makes a new line differ
 * from the old one), and calls NTH to NTH + COUNT - 1 fail with ERRNO (a number: 28 ENOSPC,
 * 5 EIO, 30 EROFS) without touching the file; COUNT 0 means every call from NTH on. Removing
 * the control file ends the faults. Writes through a memory map (SQLite's -shm) are not
 * seen, which is what a full disk does too. When FERRY_FAULT_TALLY names a file, the number
 * of calls counted since the line last changed is written to it after each one, so a test
 * can learn how many writes and syncs a clean run makes (with an NTH it never reaches).
 *
 * The control file is read on every counted call: the tests' runs are small, and a test can
 * change the fault while the process runs. Not for production, and not thread-safe beyond
 * what the tests need: the counter is atomic, the last line is kept under a lock. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* protects last_line */
static char last_line[128];
static atomic_long counted;
static __thread int inside; /* the shim's own reads of the control file pass through */

/* Whether fd is a file under FERRY_FAULT_PATH. */
static int watched(int fd)
{
    const char *prefix = getenv("FERRY_FAULT_PATH");
    char link[64], path[4096];
    ssize_t n;

    if (prefix == NULL || prefix[0] == '\0' || fd < 0)
        return 0;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return strncmp(path, prefix, strlen(prefix)) == 0;
}

/* Writes seq to the FERRY_FAULT_TALLY file, when there is one. */
static void tally(long seq)
{
    const char *path = getenv("FERRY_FAULT_TALLY");
    char text[32];
    int fd, n;

    if (path == NULL)
        return;
    n = snprintf(text, sizeof(text), "%ld\n", seq);
    inside = 1;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, text, (size_t)n) != n) {
            /* a tally is best effort */
        }
        close(fd);
    }
    inside = 0;
}

/* The errno the call on fd must fail with, or 0 when it goes through. */
static int fault_for(int fd)
{
    const char *control = getenv("FERRY_FAULT_CONTROL");
    char line[128];
    long gen, nth, count, no, seq;
    ssize_t n;
    int cfd;

    if (inside || control == NULL || !watched(fd))
        return 0;
    inside = 1;
    cfd = open(control, O_RDONLY | O_CLOEXEC);
    n = cfd >= 0 ? read(cfd, line, sizeof(line) - 1) : -1;
    if (cfd >= 0)
        close(cfd);
    inside = 0;
    if (n <= 0)
        return 0;
    line[n] = '\0';
    if (sscanf(line, "%ld %ld %ld %ld", &gen, &nth, &count, &no) != 4 || nth < 1 || no <= 0)
        return 0;
    pthread_mutex_lock(&lock);
    if (strcmp(line, last_line) != 0) {
        snprintf(last_line, sizeof(last_line), "%s", line);
        atomic_store(&counted, 0);
    }
    pthread_mutex_unlock(&lock);
    seq = atomic_fetch_add(&counted, 1) + 1;
    tally(seq);
    if (seq >= nth && (count == 0 || seq < nth + count))
        return (int)no;
    return 0;
}

/* The next definition of name (libc's), as a function pointer of the caller's type. dlsym
 * returns an object pointer; copying its bytes is how POSIX converts it. */
static void real(const char *name, void *ret_fn)
{
    void *sym = dlsym(RTLD_NEXT, name);
    memcpy(ret_fn, &sym, sizeof(sym));
}

/* Fails the call (errno, return -1) when the fault says so. */
#define FAULT_CHECK(fd)                                                                            \
    do {                                                                                           \
        int no_ = fault_for(fd);                                                                   \
        if (no_ != 0) {                                                                            \
            errno = no_;                                                                           \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

ssize_t write(int fd, const void *buf, size_t len)
{
    ssize_t (*fn)(int, const void *, size_t);
    FAULT_CHECK(fd);
    real("write", &fn);
    return fn(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    ssize_t (*fn)(int, const void *, size_t, off_t);
    FAULT_CHECK(fd);
    real("pwrite", &fn);
    return fn(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
    ssize_t (*fn)(int, const void *, size_t, off64_t);
    FAULT_CHECK(fd);
    real("pwrite64", &fn);
    return fn(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
    ssize_t (*fn)(int, const struct iovec *, int);
    FAULT_CHECK(fd);
    real("writev", &fn);
    return fn(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    ssize_t (*fn)(int, const struct iovec *, int, off_t);
    FAULT_CHECK(fd);
    real("pwritev", &fn);
    return fn(fd, iov, n, off);
}

int fsync(int fd)
{
    int (*fn)(int);
    FAULT_CHECK(fd);
    real("fsync", &fn);
    return fn(fd);
}

int fdatasync(int fd)
{
    int (*fn)(int);
    FAULT_CHECK(fd);
    real("fdatasync", &fn);
    return fn(fd);
}
