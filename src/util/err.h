/* err.h - Ferry's error codes and the sticky error record.
 *
 * Every fallible function returns a ferry_rc (FERRY_OK is 0). When a person will need the
 * reason, the function's last parameter is a ferry_err *: the first (deepest) failure fills
 * it with a code, the errno seen at the failing call and a one-line message; callers may add
 * context in front with ferry_err_prefix(). The enum only ever grows at its end, since codes
 * are stored and shown to programs. */
#ifndef FERRY_UTIL_ERR_H
#define FERRY_UTIL_ERR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    FERRY_OK = 0,
    FERRY_ENOMEM,      /* an allocation failed */
    FERRY_EINVAL,      /* a caller passed something invalid (usage errors) */
    FERRY_EIO,         /* reading or writing a file or socket failed */
    FERRY_ECONFIG,     /* the configuration is invalid */
    FERRY_ESOURCE,     /* the source could not be read or is not what was expected */
    FERRY_EHTTP,       /* an HTTP transfer failed or answered with an error status */
    FERRY_ECSV,        /* the CSV input is malformed beyond one record */
    FERRY_EDB,         /* a database call failed */
    FERRY_ECANCELLED,  /* the run was cancelled */
    FERRY_ELIMIT,      /* a configured size or count limit was exceeded */
    FERRY_EEMPTY,      /* the source had no records and the sync does not allow that */
    FERRY_ENOTFOUND,   /* a named thing (sync, run, file) does not exist */
    FERRY_ESCHEMA,     /* the target table exists but does not match the field definitions */
    FERRY_EHEADER,     /* the source's header is missing columns or repeats one */
    FERRY_DONE,        /* not an error: an iterator has no more items */
    FERRY_ECREDENTIAL, /* a credential's variable is unset or its file cannot be read */
    FERRY_EREFUSED,    /* a server (a token endpoint) refused the credentials */
    FERRY_ECONFLICT,   /* the thing is not in a state that allows it (a run that is not held) */
    FERRY_EFORBIDDEN,  /* the caller's role does not allow it */
} ferry_rc;

#define FERRY_ERR_MSG_MAX 1024

typedef struct {
    ferry_rc code;               /* FERRY_OK while nothing failed */
    int sys_errno;               /* errno at the failing call, or 0 */
    bool transient;              /* trying again later may succeed (a timeout, a reset, 5xx) */
    char msg[FERRY_ERR_MSG_MAX]; /* one line, no trailing newline */
} ferry_err;

/* Clears err (NULL is allowed). */
void ferry_err_clear(ferry_err *err);

/* Records a failure in err unless err already holds one (the first cause wins), and returns
 * code so callers can write `return ferry_err_set(err, FERRY_EIO, "...")`. err may be NULL. */
ferry_rc ferry_err_set(ferry_err *err, ferry_rc code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like ferry_err_set() and also keeps errno (read before anything else runs). */
ferry_rc ferry_err_set_errno(ferry_err *err, ferry_rc code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts "context: " in front of the message already in err. Returns err->code. */
ferry_rc ferry_err_prefix(ferry_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A short stable name for a code ("enomem", "config"...), for logs and JSON. */
const char *ferry_rc_name(ferry_rc rc);

#endif
