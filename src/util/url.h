/* url.h - showing a URL in messages and logs without its secrets.
 *
 * Every message or log line that names a URL a user configured (a source's, a database's) goes
 * through ferry_url_redact(): user names, passwords and query strings (tokens, API keys) never
 * appear, only the scheme, host, port and path. */
#ifndef FERRY_UTIL_URL_H
#define FERRY_UTIL_URL_H

#include <stddef.h>

/* Writes url without user, password, query string and fragment into out ("https://host/path");
 * a text without "://" is copied as it is. Truncates to outlen. */
void ferry_url_redact(const char *url, char *out, size_t outlen);

#endif
