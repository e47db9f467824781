/* fuzz_api_page.c - fuzz target for what a REST source reads from a server: response header
 * values (util/http_headers.c) and JSON pages picked apart by JSON pointers
 * (util/json_path.c).
 *
 * The input's first line is a header value and a pointer; the rest is a page body. Checked
 * (a violation aborts):
 * - ferry_link_next() gives NULL or an http(s) URL;
 * - ferry_retry_after_parse() and ferry_ratelimit_reset_parse() never give a time before now;
 * - ferry_json_path_compile() either compiles or fails with FERRY_EINVAL and a message;
 * - on a page that parses, every path (the line's and a few fixed ones) evaluates to
 *   FERRY_OK or FERRY_ELIMIT within a bounded buffer, leaves the buffer NUL-terminated, and a
 *   path without '*' finds a value exactly when ferry_json_path_get() does (null aside). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/http_headers.h"
#include "util/json_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_api_page: invariant failed: %s (line %d)\n", #cond, __LINE__);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_path(const ferry_json_path *p, json_t *doc)
{
    ferry_buf out;
    bool found = false;
    ferry_rc rc;

    ferry_buf_init(&out, 4096);
    rc = ferry_json_path_text(p, doc, "|", &out, &found);
    CHECK(rc == FERRY_OK || rc == FERRY_ELIMIT || rc == FERRY_ENOMEM);
    CHECK(strlen(ferry_buf_str(&out)) <= out.len);
    if (rc == FERRY_OK && !ferry_json_path_has_wildcard(p)) {
        json_t *v = ferry_json_path_get(p, doc);
        CHECK(!found || v != NULL);
        CHECK(found || v == NULL || json_is_null(v) || json_is_array(v));
    }
    ferry_buf_done(&out);
}

static void check_text_path(const char *text, json_t *doc)
{
    ferry_json_path *p = NULL;
    ferry_err err;
    ferry_rc rc;

    ferry_err_clear(&err);
    rc = ferry_json_path_compile(text, &p, &err);
    if (rc != FERRY_OK) {
        CHECK(rc == FERRY_EINVAL || rc == FERRY_ENOMEM);
        CHECK(p == NULL && err.msg[0] != '\0');
        return;
    }
    CHECK(strcmp(ferry_json_path_str(p), text) == 0);
    if (doc != NULL)
        check_path(p, doc);
    ferry_json_path_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fixed[] = {"",   "/patients", "/patients/0/id", "/issues/*/key",
                                        "/*", "/*/*",      "/links/next",    "/a~1b/~0c"};
    const uint8_t *nl = memchr(data, '\n', size);
    size_t line_len = nl != NULL ? (size_t)(nl - data) : size;
    char *line = malloc(line_len + 1);
    const int64_t now = 1795000000000LL;
    json_t *doc = NULL;
    int64_t until = 0;
    char *next;

    if (line == NULL)
        return 0;
    memcpy(line, data, line_len);
    line[line_len] = '\0';
    if (strlen(line) != line_len) { /* a NUL inside: header values cannot hold one */
        free(line);
        return 0;
    }
    next = ferry_link_next(line, "https://api.example.com/v1/items?page=1");
    CHECK(next == NULL || strncmp(next, "http://", 7) == 0 || strncmp(next, "https://", 8) == 0);
    free(next);
    if (ferry_retry_after_parse(line, now, &until))
        CHECK(until >= now);
    if (ferry_ratelimit_reset_parse(line, now, &until))
        CHECK(until >= now);
    if (nl != NULL) {
        json_error_t jerr;
        doc = json_loadb((const char *)nl + 1, size - line_len - 1, JSON_DECODE_ANY, &jerr);
    }
    check_text_path(line, doc);
    for (size_t i = 0; doc != NULL && i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check_text_path(fixed[i], doc);
    json_decref(doc);
    free(line);
    return 0;
}
