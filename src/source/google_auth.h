/* google_auth.h - the bearer header of a Google service account (auth:
 * google_service_account), from a cache shared by the whole process. */
#ifndef FERRY_SOURCE_GOOGLE_AUTH_H
#define FERRY_SOURCE_GOOGLE_AUTH_H

#include <stdatomic.h>
#include <stddef.h>

#include "config/config.h"
#include "source/source.h"
#include "util/err.h"
#include "util/net_policy.h"

/* Returns "Authorization: Bearer TOKEN" for the service-account key whose JSON is key_json
 * (key_len bytes, borrowed; `what` names where it came from in errors), asking the key's
 * token_uri for a token (scope: NULL for the Sheets and Drive read-only scopes) unless one
 * cached is valid for another minute. The token request obeys policy and cancel (borrowed,
 * may be NULL). On success *ret_header (a secret: wipe it) and *ret_email (the account's
 * e-mail) are owned by the caller (free()). Errors name the file, the account's e-mail and
 * the token endpoint's error text, never the key or a token. Any thread. */
ferry_rc ferry_google_auth_header(const char *key_json, size_t key_len, const char *what,
                                  const char *scope, const ferry_net_policy *policy,
                                  const atomic_bool *cancel, char **ret_header, char **ret_email,
                                  ferry_err *err);

/* ferry_google_auth_header() for sync's source (auth: google_service_account): its key read
 * from its key_file or key_env (opt: the tenant, the config's directory, cancel), the token
 * request under policy (borrowed). Ownership as there. Any thread. */
ferry_rc ferry_source_google_header(const ferry_sync_spec *sync, const ferry_source_options *opt,
                                    const ferry_net_policy *policy, char **ret_header,
                                    char **ret_email, ferry_err *err);

#endif
