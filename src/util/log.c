/* log.c - one line per event on stderr, as text or JSON (see log.h).
 *
 * The caller's text is logfmt: key=value pairs separated by spaces, a value bare (no space
 * or quote) or quoted ("..." with \" \\ \n \r \t and \xHH escapes). For JSON it is parsed
 * into members: a bare plain integer becomes a JSON number, everything else a string (bytes
 * that are not UTF-8 become U+FFFD). A text that does not parse (an unbalanced quote, a word
 * without =) is never lost: the whole of it becomes msg. Keys the line repeats, or that are
 * time or level, get a "_" appended so no value overwrites another.
 *
 * The context is thread-local: each thread sets its own and reads only its own. Lines are
 * built whole in memory and written with one write(2), so lines of several threads (or
 * processes sharing the stream) never interleave. Control characters in a text line are
 * written escaped, so a user value cannot start a line of its own. */
#include "util/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/text.h"
#include "util/timeutil.h"
#include "util/utf8.h"

#define TEXT_MAX 4096   /* the caller's text; longer is cut */
#define LINE_MAX 8192   /* a text line with its time, level and context */
#define PAIRS_MAX 64    /* key=value pairs of one line; more: the line does not parse */
#define CONTEXT_MAX 256 /* a context string, with its NUL */

_Atomic ferry_log_level ferry_log_threshold = FERRY_LOG_INFO;
static _Atomic ferry_log_format log_format = FERRY_LOG_TEXT;
static _Atomic bool level_pinned; /* ferry_log_level_pin(): a config's level is ignored */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* What the calling thread works for. */
static _Thread_local struct {
    int64_t run; /* 0: none */
    char sync[CONTEXT_MAX];
    char tenant[CONTEXT_MAX];
    char request[FERRY_LOG_REQUEST_ID_MAX + 1];
} context;

void ferry_log_format_set(ferry_log_format format)
{
    log_format = format;
}

void ferry_log_level_pin(ferry_log_level level)
{
    ferry_log_threshold = level;
    level_pinned = true;
}

void ferry_log_configure(ferry_log_format format, ferry_log_level level)
{
    log_format = format;
    if (!level_pinned)
        ferry_log_threshold = level;
}

bool ferry_log_level_parse(const char *name, ferry_log_level *ret)
{
    for (size_t i = 0; name != NULL && i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *ret = (ferry_log_level)i;
            return true;
        }
    }
    return false;
}

/* ---- context ---- */

static void copy_cut(char *dst, size_t n, const char *src)
{
    size_t len = src != NULL ? strlen(src) : 0;

    if (len >= n)
        len = n - 1;
    if (len > 0)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

void ferry_log_context_set_run(int64_t run_id, const char *sync, const char *tenant)
{
    context.run = run_id > 0 ? run_id : 0;
    copy_cut(context.sync, sizeof(context.sync), sync);
    copy_cut(context.tenant, sizeof(context.tenant), tenant);
}

void ferry_log_context_set_request(const char *request_id)
{
    copy_cut(context.request, sizeof(context.request), request_id);
}

const char *ferry_log_context_request(void)
{
    return context.request;
}

void ferry_log_context_clear(void)
{
    context.run = 0;
    context.sync[0] = context.tenant[0] = context.request[0] = '\0';
}

bool ferry_log_request_id_is_valid(const char *id)
{
    size_t len = id != NULL ? strlen(id) : 0;

    if (len == 0 || len > FERRY_LOG_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ---- logfmt ---- */

/* One key=value of a line: key points into the text, val into the decoding buffer. */
struct pair {
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;
    bool quoted;
};

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* Parses text into at most PAIRS_MAX pairs, decoding values into scratch (strlen(text) + 1
 * bytes). Returns the number of pairs, or -1 when the text does not parse (pairs then holds
 * the *ret_n pairs read before the fault). */
static int logfmt_parse(const char *text, struct pair *pairs, char *scratch, size_t *ret_n)
{
    const char *p = text;
    char *out = scratch;
    size_t n = 0;

    *ret_n = 0;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            return (int)n;
        if (n == PAIRS_MAX)
            return -1;
        pairs[n].key = p;
        while (is_key_char(*p))
            p++;
        pairs[n].klen = (size_t)(p - pairs[n].key);
        if (pairs[n].klen == 0 || *p != '=')
            return -1;
        p++;
        pairs[n].val = out;
        pairs[n].quoted = *p == '"';
        if (*p == '"') {
            for (p++; *p != '"'; p++) {
                int hi, lo;
                if (*p == '\0')
                    return -1; /* unbalanced quote */
                if (*p != '\\') {
                    *out++ = *p;
                    continue;
                }
                switch (p[1]) {
                case '"':
                case '\\':
                    *out++ = *++p;
                    break;
                case 'n':
                    *out++ = '\n', p++;
                    break;
                case 'r':
                    *out++ = '\r', p++;
                    break;
                case 't':
                    *out++ = '\t', p++;
                    break;
                case 'x':
                    if ((hi = ferry_text_hex_digit(p[2])) >= 0 &&
                        (lo = ferry_text_hex_digit(p[3])) >= 0) {
                        *out++ = (char)(hi * 16 + lo);
                        p += 3;
                        break;
                    }
                    *out++ = '\\';
                    break;
                default: /* not an escape: the backslash is itself */
                    *out++ = '\\';
                    break;
                }
            }
            p++;
            if (*p != ' ' && *p != '\0')
                return -1; /* text after the closing quote */
        } else {
            for (; *p != ' ' && *p != '\0'; p++) {
                if (*p == '"')
                    return -1;
                *out++ = *p;
            }
        }
        pairs[n].vlen = (size_t)(out - pairs[n].val);
        *out++ = '\0';
        *ret_n = ++n;
    }
}

static bool has_key(const struct pair *pairs, size_t n, const char *key)
{
    size_t len = strlen(key);

    for (size_t i = 0; i < n; i++) {
        if (pairs[i].klen == len && memcmp(pairs[i].key, key, len) == 0)
            return true;
    }
    return false;
}

static bool is_plain_word(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '\\')
            return false;
    }
    return true;
}

/* Appends c to out[*len] (size n), escaped as in a quoted value when quote, else only a
 * control character escaped; nothing when it does not fit (with room kept for the NUL). */
static void put_escaped(char *out, size_t n, size_t *len, unsigned char c, bool quote)
{
    char e[5];
    size_t k;

    if (c == '\n' || c == '\r' || c == '\t')
        k = (size_t)snprintf(e, sizeof(e), "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
    else if (c < 0x20 || c == 0x7f)
        k = (size_t)snprintf(e, sizeof(e), "\\x%02x", c);
    else if (quote && (c == '"' || c == '\\'))
        k = (size_t)snprintf(e, sizeof(e), "\\%c", c);
    else
        e[0] = (char)c, k = 1;
    if (*len + k < n) {
        memcpy(out + *len, e, k);
        *len += k;
    }
}

char *ferry_log_quote(const char *value, char *out, size_t n)
{
    size_t len = 0;

    if (is_plain_word(value)) {
        copy_cut(out, n, value);
        return out;
    }
    out[len++] = '"';
    for (const char *s = value; *s != '\0' && len + 1 < n - 1; s++)
        put_escaped(out, n - 1, &len, (unsigned char)*s, true);
    out[len++] = '"';
    out[len] = '\0';
    return out;
}

/* ---- text lines ---- */

/* Appends " key=VALUE" (value quoted as needed) to out[*len] (size n). */
static void put_field(char *out, size_t n, size_t *len, const char *key, const char *value)
{
    char q[2 * CONTEXT_MAX + 8];
    int k = snprintf(out + *len, n - *len, " %s=%s", key, ferry_log_quote(value, q, sizeof(q)));

    if (k > 0)
        *len = *len + (size_t)k < n ? *len + (size_t)k : n - 1;
}

size_t ferry_log_text_format(ferry_log_level level, const char *iso, const char *text, char *out,
                             size_t n)
{
    size_t tlen = strlen(text), npairs, len;
    struct pair pairs[PAIRS_MAX];
    char *scratch = malloc(tlen + 1);
    char run[24];
    int k;

    npairs = 0;
    if (scratch != NULL)
        logfmt_parse(text, pairs, scratch, &npairs);
    k = snprintf(out, n, "%s level=%s ", iso, level_names[level]);
    len = k > 0 && (size_t)k < n ? (size_t)k : 0;
    for (const char *s = text; *s != '\0'; s++)
        put_escaped(out, n, &len, (unsigned char)*s, false);
    out[len] = '\0';
    snprintf(run, sizeof(run), "%lld", (long long)context.run);
    if (context.run > 0 && !has_key(pairs, npairs, "run"))
        put_field(out, n, &len, "run", run);
    if (context.sync[0] != '\0' && !has_key(pairs, npairs, "sync"))
        put_field(out, n, &len, "sync", context.sync);
    if (context.tenant[0] != '\0' && !has_key(pairs, npairs, "tenant"))
        put_field(out, n, &len, "tenant", context.tenant);
    if (context.request[0] != '\0' && !has_key(pairs, npairs, "request"))
        put_field(out, n, &len, "request", context.request);
    free(scratch);
    return len;
}

/* ---- JSON lines ---- */

/* A JSON string of s[0..len), bytes that are not UTF-8 replaced by U+FFFD. */
static json_t *json_text(const char *s, size_t len)
{
    static const char replacement[] = "\xef\xbf\xbd";
    json_t *j;
    char *fixed;
    size_t at = 0, flen = 0;

    if (ferry_utf8_is_valid(s, len))
        return json_stringn(s, len);
    fixed = malloc(len * 3 + 1);
    if (fixed == NULL)
        return NULL;
    while (at < len) {
        size_t ok = ferry_utf8_valid_prefix(s + at, len - at);
        memcpy(fixed + flen, s + at, ok);
        flen += ok;
        at += ok;
        if (at < len) {
            memcpy(fixed + flen, replacement, 3);
            flen += 3;
            at++;
        }
    }
    j = json_stringn(fixed, flen);
    free(fixed);
    return j;
}

/* A bare value that is a plain integer (no sign but -, no leading zero) within int64. */
static bool is_plain_integer(const char *s, size_t len)
{
    size_t i = s[0] == '-' ? 1 : 0;

    if (len == i || len - i > 18 || (s[i] == '0' && len - i > 1))
        return false;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return !(s[0] == '-' && s[1] == '0');
}

/* Sets obj[key] to v (consumed), appending "_" to a key that is already taken. */
static void member_set(json_t *obj, const char *key, size_t klen, json_t *v)
{
    char name[PAIRS_MAX + 72];

    if (klen > 64)
        klen = 64;
    memcpy(name, key, klen);
    name[klen] = '\0';
    while (json_object_get(obj, name) != NULL && klen + 1 < sizeof(name)) {
        name[klen++] = '_';
        name[klen] = '\0';
    }
    json_object_set_new(obj, name, v);
}

char *ferry_log_json_format(ferry_log_level level, const char *iso, const char *text)
{
    size_t tlen = strlen(text), npairs = 0;
    struct pair pairs[PAIRS_MAX];
    char *scratch = malloc(tlen + 1), *line = NULL;
    json_t *obj = json_object();
    bool parsed, msg_set = false;

    if (scratch == NULL || obj == NULL)
        goto out;
    parsed = logfmt_parse(text, pairs, scratch, &npairs) >= 0;
    if (!parsed)
        npairs = 0;
    json_object_set_new(obj, "time", json_string(iso));
    json_object_set_new(obj, "level", json_string(level_names[level]));
    json_object_set_new(obj, "msg", json_text(text, 0));
    if (!parsed)
        json_object_set_new(obj, "msg", json_text(text, tlen));
    for (size_t i = 0; i < npairs; i++) {
        const struct pair *p = &pairs[i];
        bool is_msg = p->klen == 3 && memcmp(p->key, "msg", 3) == 0;
        json_t *v = !p->quoted && !is_msg && is_plain_integer(p->val, p->vlen)
                        ? json_integer(strtoll(p->val, NULL, 10))
                        : json_text(p->val, p->vlen);
        if (is_msg && !msg_set)
            json_object_set_new(obj, "msg", v);
        else
            member_set(obj, p->key, p->klen, v);
        msg_set = msg_set || is_msg;
    }
    if (context.run > 0 && !has_key(pairs, npairs, "run"))
        json_object_set_new(obj, "run", json_integer(context.run));
    if (context.sync[0] != '\0' && !has_key(pairs, npairs, "sync"))
        json_object_set_new(obj, "sync", json_text(context.sync, strlen(context.sync)));
    if (context.tenant[0] != '\0' && !has_key(pairs, npairs, "tenant"))
        json_object_set_new(obj, "tenant", json_text(context.tenant, strlen(context.tenant)));
    if (context.request[0] != '\0' && !has_key(pairs, npairs, "request"))
        json_object_set_new(obj, "request", json_string(context.request));
    line = json_dumps(obj, JSON_COMPACT);
out:
    json_decref(obj);
    free(scratch);
    return line;
}

/* ---- writing ---- */

/* One write(2) for the whole line (more only when the stream takes part of it). */
static void write_all(const char *s, size_t len)
{
    while (len > 0) {
        ssize_t k = write(STDERR_FILENO, s, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        s += k;
        len -= (size_t)k;
    }
}

void ferry_log_write(ferry_log_level level, const char *fmt, ...)
{
    char iso[FERRY_ISO_TIME_MAX], text[TEXT_MAX];
    va_list ap;

    if ((unsigned)level > FERRY_LOG_ERROR)
        level = FERRY_LOG_ERROR;
    ferry_time_format_iso(ferry_time_now_ms(), iso);
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (log_format == FERRY_LOG_JSON) {
        char *json = ferry_log_json_format(level, iso, text);
        size_t len;
        if (json != NULL) {
            len = strlen(json);
            char *nl = realloc(json, len + 2);
            if (nl != NULL) {
                nl[len] = '\n';
                write_all(nl, len + 1);
                free(nl);
                return;
            }
            free(json);
        }
        /* out of memory: the text line is written instead */
    }
    {
        static _Thread_local char line[LINE_MAX];
        size_t len = ferry_log_text_format(level, iso, text, line, sizeof(line) - 1);
        line[len++] = '\n';
        write_all(line, len);
    }
}
