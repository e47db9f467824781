/* assets.h - the admin page's files (web/), embedded in the binary at build time.
 *
 * cmake/embed_assets.cmake generates the table from web/: index.html is "/", every other file
 * is "/" plus its path under web/. Each entry's bytes are followed by a NUL (not counted in
 * len). */
#ifndef FERRY_HTTP_ASSETS_H
#define FERRY_HTTP_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path; /* "/", "/app/main.js", "/ferry-sync.js" */
    const char *type; /* its media type */
    const unsigned char *data;
    size_t len;
} ferry_asset;

extern const ferry_asset ferry_assets[];
extern const size_t ferry_nassets;

/* The asset served at path (without a query string), or NULL. */
const ferry_asset *ferry_asset_find(const char *path);

#endif
