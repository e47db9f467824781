/* testutil.c - helpers shared by the unit tests (see testutil.h). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
