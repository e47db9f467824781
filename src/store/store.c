/* store.c - opens the store implementation named by the database setting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

ferry_rc ferry_store_open(const char *database, const char *base_dir, ferry_store **ret_store,
                          ferry_err *err)
{
    char path[4096];

    if (strncmp(database, "sqlite:", 7) == 0) {
        const char *p = database + 7;
        if (p[0] == '\0')
            return ferry_err_set(err, FERRY_ECONFIG, "database: 'sqlite:' needs a file path");
        if (p[0] == '/' || base_dir == NULL || strcmp(p, ":memory:") == 0)
            snprintf(path, sizeof(path), "%s", p);
        else
            snprintf(path, sizeof(path), "%s/%s", base_dir, p);
        return ferry_sqlite_store_open(path, ret_store, err);
    }
    if (strncmp(database, "postgres://", 11) == 0 || strncmp(database, "postgresql://", 13) == 0)
        return ferry_pg_store_open(database, ret_store, err);
    return ferry_err_set(err, FERRY_ECONFIG,
                         "database: expected sqlite:PATH or postgres://USER@HOST:PORT/DB");
}

void ferry_node_self(char *out, size_t outlen)
{
    char host[256];

    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    snprintf(out, outlen, "%s:%ld", host, (long)getpid());
}

void ferry_node_done(ferry_node *node)
{
    if (node == NULL)
        return;
    free(node->id);
    free(node->address);
    memset(node, 0, sizeof(*node));
}

void ferry_nodes_free(ferry_node *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ferry_node_done(&nodes[i]);
    free(nodes);
}

void ferry_store_free(ferry_store *st)
{
    if (st != NULL)
        st->ops->free(st);
}
