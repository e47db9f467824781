/* oauth2_auth.h - the bearer header of a REST source's OAuth2 client (auth: oauth2), from a
 * token cache shared by the whole process. */
#ifndef FERRY_SOURCE_OAUTH2_AUTH_H
#define FERRY_SOURCE_OAUTH2_AUTH_H

#include <stdbool.h>

#include "config/config.h"
#include "source/source.h"
#include "util/err.h"
#include "util/net_policy.h"

/* Returns "Authorization: Bearer TOKEN" for sync's auth: oauth2 (opt: the tenant, the
 * config's directory, cancel and the vault), from the cache unless renew (the API refused the
 * cached token: it is forgotten first) or the cached one expires within a minute; else asks
 * the token endpoint (under policy, borrowed) with the configured grant. A refresh token
 * kept in opt->vault by an earlier rotation is used before the configured one, and a new one
 * in the answer is kept there. On success *ret_header is owned by the caller (a secret: wipe
 * it, then free()). Errors name the endpoint's host, the client ID and the server's error,
 * never a secret. The calling thread is the source's. */
ferry_rc ferry_source_oauth2_header(const ferry_sync_spec *sync, const ferry_source_options *opt,
                                    const ferry_net_policy *policy, bool renew, char **ret_header,
                                    ferry_err *err);

#endif
