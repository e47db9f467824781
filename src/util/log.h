/* log.h - one line per event on stderr, as text or as JSON (docs/config.md, "log").
 *
 * Callers write the event as logfmt: ferry_log(FERRY_LOG_INFO, "msg=\"run started\" run=%lld
 * sync=\"%s\"", ...). Text lines are "2026-11-23T06:05:44.123Z level=info msg=... k=v"; JSON
 * lines are one object, {"time":"...","level":"info","msg":"...","run":12,...}, converted
 * here from the caller's text, so call sites do not know the format. Only the server, the
 * workers and the CLI log; library modules return errors instead. The level check happens in
 * the macro, before the arguments are evaluated. User values must be quoted by the caller
 * (%s inside "..."); secrets are never logged.
 *
 * A thread may set a log context (the run it executes, the HTTP request it answers): its
 * fields are added to each line that thread writes, unless the line already has the key.
 *
 * Thread-safe: each line is written with one write(2). The threshold and the format are
 * atomic: a config reload may change them while other threads log. */
#ifndef FERRY_UTIL_LOG_H
#define FERRY_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    FERRY_LOG_DEBUG = 0,
    FERRY_LOG_INFO,
    FERRY_LOG_WARN,
    FERRY_LOG_ERROR
} ferry_log_level;

typedef enum {
    FERRY_LOG_TEXT = 0, /* logfmt, the default */
    FERRY_LOG_JSON,     /* one JSON object a line */
} ferry_log_format;

/* Lines below it are not written; default FERRY_LOG_INFO. */
extern _Atomic ferry_log_level ferry_log_threshold;

/* The longest request id a context keeps (X-Request-Id), in bytes. */
#define FERRY_LOG_REQUEST_ID_MAX 64

/* Sets the format of the lines written from now on (default FERRY_LOG_TEXT). */
void ferry_log_format_set(ferry_log_format format);

/* The level given on the command line or in FERRY_LOG_LEVEL: set now, and kept whatever a
 * config says (ferry_log_configure()). */
void ferry_log_level_pin(ferry_log_level level);

/* A config's log: settings (at start and at every reload): the format, and the level unless
 * one was pinned. */
void ferry_log_configure(ferry_log_format format, ferry_log_level level);

/* The level named name ("debug", "info", "warn", "error"): true and *ret set, or false. */
bool ferry_log_level_parse(const char *name, ferry_log_level *ret);

/* Writes one line at level: fmt and its arguments are the logfmt text of the event. */
void ferry_log_write(ferry_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define ferry_log(level, ...)                                                                      \
    do {                                                                                           \
        if ((level) >= ferry_log_threshold)                                                        \
            ferry_log_write((level), __VA_ARGS__);                                                 \
    } while (0)

/* The calling thread's log context: the run it executes (run_id > 0; sync and tenant may be
 * NULL) until ferry_log_context_clear(). The strings are copied (cut at 255 bytes). */
void ferry_log_context_set_run(int64_t run_id, const char *sync, const char *tenant);

/* The calling thread's log context: the HTTP request it answers (copied, cut at
 * FERRY_LOG_REQUEST_ID_MAX bytes; NULL or "" clears it). */
void ferry_log_context_set_request(const char *request_id);

/* The calling thread's request id, "" when none (borrowed, valid until the thread sets or
 * clears its context). */
const char *ferry_log_context_request(void);

/* Clears the calling thread's log context. */
void ferry_log_context_clear(void);

/* Whether id may be taken as a request id: 1 to FERRY_LOG_REQUEST_ID_MAX characters of
 * [A-Za-z0-9._-]. */
bool ferry_log_request_id_is_valid(const char *id);

/* Writes value into out (size n >= 3) as a logfmt value: bare when it is a plain word, else
 * quoted with \" \\ \n \r \t and \xHH escapes; cut to fit. Returns out. */
char *ferry_log_quote(const char *value, char *out, size_t n);

/* Converts one logfmt event text (without time and level) to the JSON line written for it at
 * level and time iso, with the calling thread's context; no newline. Returns a string the
 * caller frees with free(), or NULL when memory runs out. For the tests and ferry_log_write. */
char *ferry_log_json_format(ferry_log_level level, const char *iso, const char *text);

/* The text line written for the event text at level and time iso, with the calling thread's
 * context, into out (size n); no newline. Returns the length written (cut to fit). */
size_t ferry_log_text_format(ferry_log_level level, const char *iso, const char *text, char *out,
                             size_t n);

#endif
