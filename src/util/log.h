/* log.h - one line per event on stderr: "2026-11-23T06:05:44.123Z level=info msg=... k=v".
 *
 * Only the server, the workers and the CLI log; library modules return errors instead. The
 * level check happens in the macro, before the arguments are evaluated. User values must be
 * quoted by the caller (%s inside "..."); secrets are never logged. Thread-safe (one
 * fprintf per line). */
#ifndef FERRY_UTIL_LOG_H
#define FERRY_UTIL_LOG_H

typedef enum {
    FERRY_LOG_DEBUG = 0,
    FERRY_LOG_INFO,
    FERRY_LOG_WARN,
    FERRY_LOG_ERROR
} ferry_log_level;

extern ferry_log_level ferry_log_threshold;

void ferry_log_write(ferry_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define ferry_log(level, ...)                                                                      \
    do {                                                                                           \
        if ((level) >= ferry_log_threshold)                                                        \
            ferry_log_write((level), __VA_ARGS__);                                                 \
    } while (0)

#endif
