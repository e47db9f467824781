/* names.c - user names and token labels (see names.h). */
#include "auth/names.h"

#include <string.h>

bool ferry_user_name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > FERRY_USER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-'))
            return false;
    }
    return true;
}

bool ferry_token_label_ok(const char *label)
{
    size_t n = strlen(label);

    if (n == 0 || n > FERRY_TOKEN_LABEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)label[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}
