/* testutil.c - helpers shared by the unit tests (see testutil.h). */
#include "testutil.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tu_tempdir(void)
{
    char tmpl[] = "/tmp/ferry-test-XXXXXX";
    char *dir = mkdtemp(tmpl);

    return dir != NULL ? strdup(dir) : NULL;
}

char *tu_write_file(const char *dir, const char *name, const char *data, size_t len)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    FILE *f;

    if (path == NULL)
        return NULL;
    snprintf(path, n, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL) {
        free(path);
        return NULL;
    }
    if (len > 0 && fwrite(data, 1, len, f) != len) {
        fclose(f);
        free(path);
        return NULL;
    }
    fclose(f);
    return path;
}

char *tu_read_file(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL)
        return NULL;
    do {
        if (cap - len < 4096) {
            char *grown = realloc(buf, cap * 2 + 4096);
            if (grown == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
            cap = cap * 2 + 4096;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    if (ret_len != NULL)
        *ret_len = len;
    return buf;
}

void tu_rmtree(const char *dir)
{
    char cmd[4200];

    if (dir == NULL || strncmp(dir, "/tmp/ferry-test-", 16) != 0)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

char *tu_pg_database(void)
{
    static unsigned counter;
    const char *state = getenv("FERRY_TEST_PG_STATE");
    char server[512], name[64], sql[128], *url = NULL, *slash;
    FILE *f;
    PGconn *conn;
    PGresult *res;
    size_t n;

    if (state == NULL || (f = fopen(state, "r")) == NULL) {
        fprintf(stderr, "no PostgreSQL server for the tests (FERRY_TEST_PG_STATE)\n");
        return NULL;
    }
    n = fgets(server, sizeof(server), f) != NULL ? strcspn(server, "\r\n") : 0;
    fclose(f);
    server[n] = '\0';
    conn = PQconnectdb(server);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "connecting to the test server: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    snprintf(name, sizeof(name), "t_%ld_%u", (long)getpid(), ++counter);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    res = PQexec(conn, sql);
    if (PQresultStatus(res) == PGRES_COMMAND_OK && (slash = strrchr(server, '/')) != NULL) {
        *slash = '\0';
        n = strlen(server) + strlen(name) + 2;
        if ((url = malloc(n)) != NULL)
            snprintf(url, n, "%s/%s", server, name);
    } else {
        fprintf(stderr, "creating a test database: %s", PQerrorMessage(conn));
    }
    PQclear(res);
    PQfinish(conn);
    return url;
}
