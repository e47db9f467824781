/* api_assets.c - the admin page's files (see assets.h): GET /, /app/..., /ferry-sync.js.
 *
 * Every file is public (the page shows a login form; the data comes from the API, which asks
 * for a user). Answers carry an ETag (a hash of the bytes, computed once) and no-cache, so a
 * browser revalidates and gets 304 until Ferry is rebuilt with a changed page. The page is
 * protected by a Content-Security-Policy allowing only Ferry's own scripts and styles, and
 * may not be framed. /ferry-sync.js is for other sites' pages, so it may be loaded from
 * anywhere. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "http/assets.h"
#include "http/internal.h"

#define ETAG_MAX 24

static char (*etags)[ETAG_MAX];
static pthread_once_t etags_once = PTHREAD_ONCE_INIT;

/* FNV-1a, 64 bits: enough to tell two builds of a file apart. */
static void compute_etags(void)
{
    static char storage[256][ETAG_MAX];

    etags = storage;
    for (size_t i = 0; i < ferry_nassets && i < 256; i++) {
        uint64_t h = 1469598103934665603ULL;
        for (size_t k = 0; k < ferry_assets[i].len; k++) {
            h ^= ferry_assets[i].data[k];
            h *= 1099511628211ULL;
        }
        snprintf(etags[i], ETAG_MAX, "\"%016llx\"", (unsigned long long)h);
    }
}

const ferry_asset *ferry_asset_find(const char *path)
{
    if (strcmp(path, "/index.html") == 0)
        path = "/";
    for (size_t i = 0; i < ferry_nassets; i++) {
        if (strcmp(ferry_assets[i].path, path) == 0)
            return &ferry_assets[i];
    }
    return NULL;
}

enum MHD_Result ferry_http_get_asset(struct ferry_server *srv, struct MHD_Connection *conn,
                                     request *req)
{
    const ferry_asset *a = req->asset;
    const char *match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    size_t index = (size_t)(a - ferry_assets);
    bool html = strncmp(a->type, "text/html", 9) == 0;
    bool component = strcmp(a->path, "/ferry-sync.js") == 0;
    unsigned status = MHD_HTTP_OK;
    struct MHD_Response *resp;
    const char *etag;

    (void)srv;
    pthread_once(&etags_once, compute_etags);
    etag = index < 256 ? etags[index] : NULL;
    if (etag != NULL && match != NULL && strcmp(match, etag) == 0) {
        status = MHD_HTTP_NOT_MODIFIED;
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    }
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", a->type);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (etag != NULL)
        MHD_add_response_header(resp, "ETag", etag);
    if (html) {
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                                "base-uri 'none'; form-action 'self'");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    if (component)
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    return ferry_http_queue(conn, status, resp);
}
