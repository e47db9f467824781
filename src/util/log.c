/* log.c - key=value lines on stderr (see log.h). */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "util/timeutil.h"

ferry_log_level ferry_log_threshold = FERRY_LOG_INFO;

void ferry_log_write(ferry_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char iso[FERRY_ISO_TIME_MAX], line[2048];
    va_list ap;

    ferry_time_format_iso(ferry_time_now_ms(), iso);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s level=%s %s\n", iso, names[level], line);
}
