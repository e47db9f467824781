/* url.c - URLs for messages (see url.h). */
#include "util/url.h"

#include <stdio.h>
#include <string.h>

void ferry_url_redact(const char *url, char *out, size_t outlen)
{
    const char *scheme_end = strstr(url, "://");
    const char *host, *at, *slash, *q;
    size_t n;

    if (scheme_end == NULL) {
        snprintf(out, outlen, "%s", url);
        return;
    }
    host = scheme_end + 3;
    slash = host + strcspn(host, "/?#");
    /* The last '@' ends the userinfo, so a password holding an unencoded '@' is all hidden. */
    at = memrchr(host, '@', (size_t)(slash - host));
    if (at != NULL)
        host = at + 1;
    q = slash + strcspn(slash, "?#");
    n = (size_t)(scheme_end + 3 - url);
    snprintf(out, outlen, "%.*s%.*s", (int)n, url, (int)(q - host), host);
}
