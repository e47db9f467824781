/* sheet_link.c - links to a Google Sheet's cells (see sheet_link.h). */
#include "source/sheet_link.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The value of name= in query ("a=1&gid=5"), when it is digits only: its length, else 0. */
static size_t gid_of(const char *query, const char **ret)
{
    for (const char *p = query; p != NULL && *p != '\0'; p = strchr(p, '&'), p = p ? p + 1 : p) {
        if (strncmp(p, "gid=", 4) != 0)
            continue;
        size_t n = strspn(p + 4, "0123456789");
        if (n == 0 || n > 20 || (p[4 + n] != '\0' && p[4 + n] != '&'))
            return 0;
        *ret = p + 4;
        return n;
    }
    return 0;
}

bool ferry_sheet_edit_url(const char *url, ferry_buf *out)
{
    static const char prefix[] = "/spreadsheets/d/";
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    const char *id, *gid = "0";
    size_t idlen, gidlen = 1;
    bool ok = false;

    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        goto out;
    (void)curl_url_get(u, CURLUPART_PORT, &port, 0);
    (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
        goto out;
    id = path + sizeof(prefix) - 1;
    idlen = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    /* The id, then /export or /gviz/...: a published sheet's "e/2PACX..." has no editor. */
    if (idlen < 2 || id[idlen] != '/' ||
        (strncmp(id + idlen, "/export", 7) != 0 && strncmp(id + idlen, "/gviz/", 6) != 0))
        goto out;
    if (query != NULL && strstr(query, "gid=") != NULL && (gidlen = gid_of(query, &gid)) == 0)
        goto out; /* a gid that is no number: no guess */
    ok = ferry_buf_printf(out, "%s://%s%s%s%.*s/edit#gid=%.*s", scheme, host, port ? ":" : "",
                          port ? port : "", (int)(sizeof(prefix) - 1 + idlen), path, (int)gidlen,
                          gid) == FERRY_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return ok;
}

bool ferry_sheet_export_url(const char *url, ferry_buf *out)
{
    static const char prefix[] = "/spreadsheets/d/";
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *frag = NULL;
    const char *id, *rest, *gid = "0";
    size_t idlen, gidlen = 1;
    bool ok = false;

    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        goto out;
    (void)curl_url_get(u, CURLUPART_PORT, &port, 0);
    (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
    (void)curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
        goto out;
    id = path + sizeof(prefix) - 1;
    idlen = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    rest = id + idlen;
    /* The id alone or with /edit (a published sheet's "e/2PACX..." is no editor's link). */
    if (idlen < 2 || !(strcmp(rest, "") == 0 || strcmp(rest, "/") == 0 ||
                       strcmp(rest, "/edit") == 0 || strcmp(rest, "/edit/") == 0))
        goto out;
    if (frag != NULL && strstr(frag, "gid=") != NULL)
        gidlen = gid_of(frag, &gid);
    else if (query != NULL && strstr(query, "gid=") != NULL)
        gidlen = gid_of(query, &gid);
    if (gidlen == 0)
        goto out; /* a gid that is no number: no guess */
    ok = ferry_buf_printf(out, "%s://%s%s%s%.*s/export?format=csv&gid=%.*s", scheme, host,
                          port ? ":" : "", port ? port : "", (int)(sizeof(prefix) - 1 + idlen),
                          path, (int)gidlen, gid) == FERRY_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return ok;
}

void ferry_sheet_range_append(size_t column, long row, ferry_buf *out)
{
    char letters[16];
    size_t n = sizeof(letters);

    letters[--n] = '\0';
    if (column == SIZE_MAX)
        column = 0;
    /* Bijective base 26: A..Z, AA..AZ, BA... */
    for (size_t c = column + 1; c > 0 && n > 0; c = (c - 1) / 26)
        letters[--n] = (char)('A' + (c - 1) % 26);
    (void)ferry_buf_printf(out, "&range=%s%ld", letters + n, row);
}
