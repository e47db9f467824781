/* testutil.h - small helpers shared by the unit tests. */
#ifndef FERRY_TESTUTIL_H
#define FERRY_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh temporary directory and returns its path (static storage per call site is
 * not used: the caller frees the result). */
char *tu_tempdir(void);

/* Writes len bytes of data to dir/name and returns the full path (caller frees). */
char *tu_write_file(const char *dir, const char *name, const char *data, size_t len);

/* Reads a whole file; returns NULL when it cannot. *ret_len gets the length. Caller frees. */
char *tu_read_file(const char *path, size_t *ret_len);

/* Removes a directory tree made by tu_tempdir(). */
void tu_rmtree(const char *dir);

/* A fresh, empty PostgreSQL database on the test run's shared server (tests/pg/fixture.sh, found
 * through FERRY_TEST_PG_STATE), as a postgres:// URL the caller frees. NULL, with the reason
 * printed, when there is no server. */
char *tu_pg_database(void);

#endif
