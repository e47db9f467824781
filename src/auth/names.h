/* names.h - what people may name users and API tokens, checked the same way by the command
 * line and the HTTP API. */
#ifndef FERRY_AUTH_NAMES_H
#define FERRY_AUTH_NAMES_H

#include <stdbool.h>

#define FERRY_USER_NAME_MAX 64
#define FERRY_TOKEN_LABEL_MAX 64

/* User names: letters, digits and . _ @ -, 1 to 64 of them (an email address fits). */
bool ferry_user_name_ok(const char *name);

/* Token labels: 1 to 64 printable characters (UTF-8 allowed), no control characters. */
bool ferry_token_label_ok(const char *label);

#endif
