/* err.c - the sticky error record (see err.h). */
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void ferry_err_clear(ferry_err *err)
{
    if (err == NULL)
        return;
    err->code = FERRY_OK;
    err->sys_errno = 0;
    err->transient = false;
    err->msg[0] = '\0';
}

/* Declared with its format so clang's -Wformat-nonliteral (in -Wformat=2) accepts the
 * vsnprintf call below. */
static ferry_rc err_vset(ferry_err *err, ferry_rc code, int sys_errno, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static ferry_rc err_vset(ferry_err *err, ferry_rc code, int sys_errno, const char *fmt, va_list ap)
{
    if (err == NULL || err->code != FERRY_OK)
        return code;
    err->code = code;
    err->sys_errno = sys_errno;
    err->transient = false;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    if (sys_errno != 0) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(sys_errno));
    }
    return code;
}

ferry_rc ferry_err_set(ferry_err *err, ferry_rc code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

ferry_rc ferry_err_set_errno(ferry_err *err, ferry_rc code, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, code, saved, fmt, ap);
    va_end(ap);
    return code;
}

ferry_rc ferry_err_prefix(ferry_err *err, const char *fmt, ...)
{
    char head[FERRY_ERR_MSG_MAX];
    size_t hlen, mlen;
    va_list ap;
    int n;

    if (err == NULL)
        return FERRY_OK;
    va_start(ap, fmt);
    n = vsnprintf(head, sizeof(head) - 2, fmt, ap);
    va_end(ap);
    if (n < 0)
        return err->code;
    hlen = strlen(head);
    memcpy(head + hlen, ": ", 3);
    hlen += 2;
    mlen = strlen(err->msg);
    if (hlen + mlen >= sizeof(err->msg))
        mlen = sizeof(err->msg) - 1 - hlen;
    memmove(err->msg + hlen, err->msg, mlen);
    memcpy(err->msg, head, hlen);
    err->msg[hlen + mlen] = '\0';
    return err->code;
}

const char *ferry_rc_name(ferry_rc rc)
{
    static const char *const names[] = {
        [FERRY_OK] = "ok",
        [FERRY_ENOMEM] = "out_of_memory",
        [FERRY_EINVAL] = "invalid",
        [FERRY_EIO] = "io",
        [FERRY_ECONFIG] = "config",
        [FERRY_ESOURCE] = "source",
        [FERRY_EHTTP] = "http",
        [FERRY_ECSV] = "csv",
        [FERRY_EDB] = "database",
        [FERRY_ECANCELLED] = "cancelled",
        [FERRY_ELIMIT] = "limit",
        [FERRY_EEMPTY] = "empty_source",
        [FERRY_ENOTFOUND] = "not_found",
        [FERRY_ESCHEMA] = "schema",
        [FERRY_EHEADER] = "header",
        [FERRY_DONE] = "done",
        [FERRY_ECREDENTIAL] = "credentials",
        [FERRY_EREFUSED] = "refused",
        [FERRY_ECONFLICT] = "conflict",
        [FERRY_EFORBIDDEN] = "forbidden",
    };

    if ((unsigned)rc < sizeof(names) / sizeof(names[0]) && names[rc] != NULL)
        return names[rc];
    return "unknown";
}
