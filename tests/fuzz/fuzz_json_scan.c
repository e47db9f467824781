/* fuzz_json_scan.c - differential fuzz target: util/json_scan.c against jansson.
 *
 * The input is a JSON page. Checked (a violation aborts):
 * - ferry_json_validate() accepts it exactly when json_loadb(JSON_DECODE_ANY) does, and a
 *   rejection is FERRY_ESOURCE with a "(line L, column C)" message;
 * - on an accepted page, for fixed paths and paths built from the data (each member of the
 *   root, each member of the first element of each array member of the root, each member of
 *   the root array's first element), ferry_json_scan_find() finds a value exactly when
 *   ferry_json_path_get() does, of the same kind; a scalar's ferry_json_scan_text() equals
 *   ferry_json_path_text() byte for byte; an array's elements count and iterate alike;
 * - ferry_json_scan_find_many() over all those paths gives what ferry_json_scan_find() does. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/json_path.h"
#include "util/json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_json_scan: invariant failed: %s (line %d)\n", #cond, __LINE__);  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_PATHS 64

typedef struct {
    ferry_json_path *paths[MAX_PATHS];
    size_t n;
} path_set;

static void add_path(path_set *set, const char *text)
{
    ferry_json_path *p = NULL;

    if (set->n == MAX_PATHS || ferry_json_path_compile(text, &p, NULL) != FERRY_OK)
        return;
    set->paths[set->n++] = p;
}

/* Appends "/" and name escaped as a pointer token to b. */
static void append_token(ferry_buf *b, const char *name)
{
    ferry_buf_append(b, "/", 1);
    for (const char *s = name; *s != '\0'; s++) {
        if (*s == '~')
            ferry_buf_append(b, "~0", 2);
        else if (*s == '/')
            ferry_buf_append(b, "~1", 2);
        else
            ferry_buf_append(b, s, 1);
    }
}

/* Adds prefix + "/" + name for each member name of object. */
static void add_members(path_set *set, const char *prefix, json_t *object)
{
    const char *key;
    json_t *value;
    ferry_buf b;

    ferry_buf_init(&b, 1 << 16);
    json_object_foreach(object, key, value)
    {
        (void)value;
        ferry_buf_reset(&b);
        ferry_buf_append(&b, prefix, strlen(prefix));
        append_token(&b, key);
        add_path(set, ferry_buf_str(&b));
    }
    ferry_buf_done(&b);
}

static bool same_kind(ferry_json_kind kind, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return kind == FERRY_JSON_OBJECT;
    case JSON_ARRAY:
        return kind == FERRY_JSON_ARRAY;
    case JSON_STRING:
        return kind == FERRY_JSON_STRING;
    case JSON_INTEGER:
    case JSON_REAL:
        return kind == FERRY_JSON_NUMBER;
    case JSON_TRUE:
        return kind == FERRY_JSON_TRUE;
    case JSON_FALSE:
        return kind == FERRY_JSON_FALSE;
    default:
        return kind == FERRY_JSON_NULL;
    }
}

/* The scan's text of the scalar at span equals the tree's text of v (at path in doc). */
static void check_text(const char *text, ferry_json_span span, const ferry_json_path *path,
                       json_t *doc, size_t max)
{
    ferry_buf a, b;
    bool fa = false, fb = false;
    ferry_rc ra, rb;

    ferry_buf_init(&a, max);
    ferry_buf_init(&b, max);
    ra = ferry_json_scan_text(text, span, &a, &fa);
    rb = ferry_json_path_text(path, doc, NULL, &b, &fb);
    CHECK(ra == rb);
    if (ra == FERRY_OK) {
        CHECK(fa == fb);
        CHECK(a.len == b.len);
        CHECK(a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
    } else {
        CHECK(a.len == 0);
    }
    ferry_buf_done(&a);
    ferry_buf_done(&b);
}

/* Each element of the array at span against v's elements (the first few by text). */
static void check_array(const char *text, ferry_json_span span, json_t *v)
{
    ferry_json_span e;
    size_t pos = 0, i = 0;

    CHECK(ferry_json_scan_count(text, span) == json_array_size(v));
    for (; ferry_json_scan_next(text, span, &pos, &e); i++) {
        json_t *ev = json_array_get(v, i);
        CHECK(ev != NULL);
        CHECK(same_kind(ferry_json_scan_kind(text, e), ev));
        if (i < 8 && !json_is_array(ev) && !json_is_object(ev)) {
            char index[32];
            ferry_json_path *p = NULL;
            snprintf(index, sizeof(index), "/%zu", i);
            CHECK(ferry_json_path_compile(index, &p, NULL) == FERRY_OK);
            check_text(text, e, p, v, 4096);
            ferry_json_path_free(p);
        }
    }
    CHECK(i == json_array_size(v));
    CHECK(!ferry_json_scan_next(text, span, &pos, &e));
}

static void check_path(const char *text, ferry_json_span root, const ferry_json_path *path,
                       json_t *doc, ferry_json_span *ret, bool *ret_found)
{
    json_t *v = ferry_json_path_get(path, doc);
    bool found = ferry_json_scan_find(text, root, path, ret);

    CHECK(found == (v != NULL));
    *ret_found = found;
    if (!found)
        return;
    CHECK(ret->start >= root.start && ret->end <= root.end && ret->start < ret->end);
    CHECK(same_kind(ferry_json_scan_kind(text, *ret), v));
    if (json_is_array(v)) {
        check_array(text, *ret, v);
    } else if (!json_is_object(v)) {
        check_text(text, *ret, path, doc, 4096);
        check_text(text, *ret, path, doc, 3);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fixed[] = {"",
                                        "/a",
                                        "/0",
                                        "/0/0",
                                        "/1",
                                        "/-",
                                        "/patients",
                                        "/patients/0/id",
                                        "/patients/1/first_name",
                                        "/issues/0/fields/summary",
                                        "/links/next",
                                        "/a~1b/~0c",
                                        "/total",
                                        "/*"};
    const char *text = (const char *)data;
    ferry_json_span root = {0, 0}, spans[MAX_PATHS];
    bool found[MAX_PATHS];
    path_set set = {.n = 0};
    json_error_t jerr;
    ferry_err err;
    json_t *doc;
    ferry_rc rc;

    doc = json_loadb(text, size, JSON_DECODE_ANY, &jerr);
    ferry_err_clear(&err);
    rc = ferry_json_validate(text, size, &root, &err);
    if (doc == NULL) {
        if (rc == FERRY_OK)
            fprintf(stderr, "fuzz_json_scan: accepted what jansson rejects: %s\n", jerr.text);
        CHECK(rc == FERRY_ESOURCE);
        CHECK(err.code == FERRY_ESOURCE && strstr(err.msg, "(line ") != NULL);
        return 0;
    }
    if (rc != FERRY_OK)
        fprintf(stderr, "fuzz_json_scan: rejected what jansson accepts: %s\n", err.msg);
    CHECK(rc == FERRY_OK);
    CHECK(root.start < root.end && root.end <= size);

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        add_path(&set, fixed[i]);
    if (json_is_object(doc)) {
        const char *key;
        json_t *value;
        add_members(&set, "", doc);
        json_object_foreach(doc, key, value)
        {
            if (json_is_array(value) && json_is_object(json_array_get(value, 0))) {
                ferry_buf prefix;
                ferry_buf_init(&prefix, 1 << 16);
                append_token(&prefix, key);
                ferry_buf_append(&prefix, "/0", 2);
                add_members(&set, ferry_buf_str(&prefix), json_array_get(value, 0));
                ferry_buf_done(&prefix);
            }
        }
    } else if (json_is_array(doc) && json_is_object(json_array_get(doc, 0))) {
        add_members(&set, "/0", json_array_get(doc, 0));
    }

    for (size_t i = 0; i < set.n; i++)
        check_path(text, root, set.paths[i], doc, &spans[i], &found[i]);
    {
        ferry_json_span many[MAX_PATHS];
        bool many_found[MAX_PATHS];
        ferry_json_scan_find_many(text, root, (const ferry_json_path *const *)set.paths, set.n,
                                  many, many_found);
        for (size_t i = 0; i < set.n; i++) {
            CHECK(many_found[i] == found[i]);
            CHECK(!found[i] || (many[i].start == spans[i].start && many[i].end == spans[i].end));
        }
    }
    for (size_t i = 0; i < set.n; i++)
        ferry_json_path_free(set.paths[i]);
    json_decref(doc);
    return 0;
}
