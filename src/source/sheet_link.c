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

/* A sheet's URL, taken apart: its scheme, host, port (NULL when none), path, query and
 * fragment (NULL when absent), all curl_free()d by sheet_url_done(); id points into path at
 * the sheet's id (idlen bytes), rest after it. */
typedef struct {
    CURLU *u;
    char *scheme, *host, *port, *path, *query, *frag;
    const char *id, *rest;
    size_t idlen;
} sheet_url;

static void sheet_url_done(sheet_url *su)
{
    curl_free(su->scheme);
    curl_free(su->host);
    curl_free(su->port);
    curl_free(su->path);
    curl_free(su->query);
    curl_free(su->frag);
    curl_url_cleanup(su->u);
}

static const char sheet_prefix[] = "/spreadsheets/d/";

/* Parses url as /spreadsheets/d/ID...: false (su still to be freed) when it is not one. */
static bool sheet_url_parse(const char *url, sheet_url *su)
{
    memset(su, 0, sizeof(*su));
    if ((su->u = curl_url()) == NULL || curl_url_set(su->u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(su->u, CURLUPART_SCHEME, &su->scheme, 0) != CURLUE_OK ||
        curl_url_get(su->u, CURLUPART_HOST, &su->host, 0) != CURLUE_OK ||
        curl_url_get(su->u, CURLUPART_PATH, &su->path, 0) != CURLUE_OK)
        return false;
    (void)curl_url_get(su->u, CURLUPART_PORT, &su->port, 0);
    (void)curl_url_get(su->u, CURLUPART_QUERY, &su->query, 0);
    (void)curl_url_get(su->u, CURLUPART_FRAGMENT, &su->frag, 0);
    if (strncmp(su->path, sheet_prefix, sizeof(sheet_prefix) - 1) != 0)
        return false;
    su->id = su->path + sizeof(sheet_prefix) - 1;
    su->idlen = strspn(su->id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    su->rest = su->id + su->idlen;
    return su->idlen >= 2;
}

/* Appends the sheet's origin and /spreadsheets/d/ID, then /, what and the gid. */
static bool sheet_url_print(const sheet_url *su, ferry_buf *out, const char *what, const char *gid,
                            size_t gidlen)
{
    return ferry_buf_printf(out, "%s://%s%s%s%.*s/%s%.*s", su->scheme, su->host,
                            su->port ? ":" : "", su->port ? su->port : "",
                            (int)(sizeof(sheet_prefix) - 1 + su->idlen), su->path, what,
                            (int)gidlen, gid) == FERRY_OK;
}

bool ferry_sheet_edit_url(const char *url, ferry_buf *out)
{
    sheet_url su;
    const char *gid = "0";
    size_t gidlen = 1;
    bool ok = false;

    if (!sheet_url_parse(url, &su))
        goto out;
    /* The id, then /export or /gviz/...: a published sheet's "e/2PACX..." has no editor. */
    if (su.rest[0] != '/' ||
        (strncmp(su.rest, "/export", 7) != 0 && strncmp(su.rest, "/gviz/", 6) != 0))
        goto out;
    if (su.query != NULL && strstr(su.query, "gid=") != NULL &&
        (gidlen = gid_of(su.query, &gid)) == 0)
        goto out; /* a gid that is no number: no guess */
    ok = sheet_url_print(&su, out, "edit#gid=", gid, gidlen);
out:
    sheet_url_done(&su);
    return ok;
}

bool ferry_sheet_export_url(const char *url, ferry_buf *out)
{
    sheet_url su;
    const char *gid = "0";
    size_t gidlen = 1;
    bool ok = false;

    if (!sheet_url_parse(url, &su))
        goto out;
    /* The id alone or with /edit (a published sheet's "e/2PACX..." is no editor's link). */
    if (!(strcmp(su.rest, "") == 0 || strcmp(su.rest, "/") == 0 || strcmp(su.rest, "/edit") == 0 ||
          strcmp(su.rest, "/edit/") == 0))
        goto out;
    if (su.frag != NULL && strstr(su.frag, "gid=") != NULL)
        gidlen = gid_of(su.frag, &gid);
    else if (su.query != NULL && strstr(su.query, "gid=") != NULL)
        gidlen = gid_of(su.query, &gid);
    if (gidlen == 0)
        goto out; /* a gid that is no number: no guess */
    ok = sheet_url_print(&su, out, "export?format=csv&gid=", gid, gidlen);
out:
    sheet_url_done(&su);
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
