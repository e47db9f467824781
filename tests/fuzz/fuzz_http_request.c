/* fuzz_http_request.c - fuzz target for what `ferry serve` reads of a request before its
 * handlers act: the path (the route table), the query string, headers (Authorization,
 * X-Forwarded-For, the session cookie and the CSRF token) and the JSON body.
 *
 * The input is a request in HTTP's own shape, with LF or CRLF line ends: "METHOD TARGET"
 * on the first line, then "Name: value" lines, an empty line, and the body. libmicrohttpd
 * does the framing in the server; this target feeds the pieces to Ferry's own parsers
 * (http/internal.h, util/ipnet.h, auth/). Checked (a violation aborts):
 * - a route found has the method asked (or GET for HEAD), a {name} of 1 to 127 bytes without
 *   '/' and an {id} above 0; no route leaves Allow as methods separated by ", ";
 * - every query value (unescaped with libmicrohttpd's own MHD_http_unescape) that parses as a
 *   number lies within its bounds, and one that parses as a time reads back the same after
 *   formatting;
 * - a Bearer token points inside its header value, after "Bearer " and its blanks;
 * - the client address behind trusted proxies is the peer or an address of the header, and
 *   parses again to itself;
 * - a session id that is well formed accepts its own CSRF token and no other;
 * - a body parses to an object or fails with a reason, and its string members for a login,
 *   a user and a token are C strings whose checks (user names, token labels, roles) agree
 *   with their lengths. */
#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/names.h"
#include "auth/session.h"
#include "http/internal.h"
#include "util/ipnet.h"
#include "util/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_http_request: invariant failed: %s (line %d)\n", #cond,          \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE"};

static void check_route(const char *method, const char *path)
{
    char allow[64];
    request req;
    const ferry_http_route *r;

    memset(&req, 0, sizeof(req));
    r = ferry_http_route_match(method, path, &req, allow, sizeof(allow));
    if (r != NULL) {
        CHECK(r >= ferry_http_routes && r < ferry_http_routes + ferry_http_nroutes);
        CHECK(req.arglen == strlen(req.arg) && req.arglen < sizeof(req.arg));
        CHECK(strchr(req.arg, '/') == NULL);
        CHECK(req.id >= 0);
        return;
    }
    /* Allow: known methods joined by ", ". */
    for (const char *p = allow; *p != '\0';) {
        size_t n = strcspn(p, ",");
        bool known = false;
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
            known |= strlen(methods[i]) == n && strncmp(p, methods[i], n) == 0;
        CHECK(known);
        p += n;
        if (*p == ',') {
            CHECK(p[1] == ' ');
            p += 2;
        }
    }
}

static void check_query(char *query)
{
    for (char *pair = query; pair != NULL && *pair != '\0';) {
        char *amp = strchr(pair, '&');
        char *eq;
        int64_t v = 0, ms = 0, again = 0;
        if (amp != NULL)
            *amp = '\0';
        eq = strchr(pair, '=');
        if (eq != NULL) {
            char iso[FERRY_ISO_TIME_MAX];
            char *value = eq + 1;
            size_t escaped = strlen(value);
            size_t n = MHD_http_unescape(value);
            /* %00 decodes to a NUL: the server, like this, reads the value up to it. */
            CHECK(n <= escaped && value[n] == '\0');
            if (ferry_http_param_int(value, 1, 1000, &v))
                CHECK(v >= 1 && v <= 1000);
            if (ferry_http_param_int(value, INT64_MIN, INT64_MAX, &v)) {
                char back[32];
                snprintf(back, sizeof(back), "%lld", (long long)v);
                CHECK(strlen(back) <= strlen(value));
            }
            if (ferry_http_param_time(value, &ms) && ms >= 0 && ms < 253402300800000LL) {
                ferry_time_format_iso(ms, iso);
                CHECK(ferry_http_param_time(iso, &again));
                CHECK(again == ms);
            }
        }
        pair = amp != NULL ? amp + 1 : NULL;
    }
}

static void check_forwarded(const char *xff)
{
    static const char *const trusted[] = {"10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8"};
    ferry_ipnet nets[4];
    char out[FERRY_IPNET_ADDR_MAX], again[FERRY_IPNET_ADDR_MAX];

    for (size_t i = 0; i < 4; i++)
        CHECK(ferry_ipnet_parse(trusted[i], &nets[i]));
    ferry_ipnet_client("10.1.2.3", xff, nets, 4, out);
    CHECK(strlen(out) < FERRY_IPNET_ADDR_MAX);
    /* The answer is an address in canonical form: it reads back as itself. */
    ferry_ipnet_client(out, NULL, nets, 4, again);
    CHECK(strcmp(out, again) == 0);
    /* From a peer that is not trusted, the header is ignored. */
    ferry_ipnet_client("198.51.100.1", xff, nets, 4, out);
    CHECK(strcmp(out, "198.51.100.1") == 0);
}

static void check_cookie(const char *cookie)
{
    char csrf[FERRY_CSRF_MAX];
    const char *p = strstr(cookie, FERRY_SESSION_COOKIE "=");
    char id[FERRY_SESSION_ID_MAX + 1];
    size_t n;

    if (p == NULL)
        return;
    p += strlen(FERRY_SESSION_COOKIE "=");
    n = strcspn(p, "; ");
    if (n >= sizeof(id))
        return;
    memcpy(id, p, n);
    id[n] = '\0';
    if (!ferry_session_id_ok(id))
        return;
    CHECK(strlen(id) < FERRY_SESSION_ID_MAX);
    ferry_session_csrf(id, csrf);
    CHECK(strlen(csrf) == FERRY_CSRF_MAX - 1);
    CHECK(ferry_session_csrf_ok(id, csrf));
    csrf[0] = csrf[0] == '0' ? '1' : '0';
    CHECK(!ferry_session_csrf_ok(id, csrf));
    CHECK(!ferry_session_csrf_ok(id, NULL));
}

static void check_body(const char *body, size_t len)
{
    static const char *const members[] = {"user", "password",         "name",
                                          "role", "current_password", "new_password"};
    char why[256];
    json_t *doc = ferry_http_body_parse(body, len, len % 2 == 0, why, sizeof(why));

    if (doc == NULL) {
        CHECK(why[0] != '\0' && strlen(why) < sizeof(why));
        return;
    }
    CHECK(json_is_object(doc));
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        const char *value = NULL;
        int rc = ferry_http_body_string(doc, members[i], i % 2 == 0, &value);
        json_t *v = json_object_get(doc, members[i]);
        ferry_role role;
        CHECK(rc == 0 || rc == -1 || rc == -2);
        CHECK(rc != -1 || v == NULL);
        CHECK(rc != 0 || value == NULL || json_is_string(v));
        if (value == NULL)
            continue;
        CHECK(strlen(value) == json_string_length(v)); /* no NUL inside */
        if (ferry_user_name_ok(value))
            CHECK(strlen(value) >= 1 && strlen(value) <= FERRY_USER_NAME_MAX);
        if (ferry_token_label_ok(value))
            CHECK(strlen(value) >= 1);
        if (ferry_role_parse(value, &role))
            CHECK(role == FERRY_ROLE_VIEWER || role == FERRY_ROLE_OPERATOR ||
                  role == FERRY_ROLE_ADMIN);
    }
    json_decref(doc);
}

/* The next line of text[*pos..len) without its LF or CRLF, NUL-terminated in place; NULL at
 * the end. */
static char *next_line(char *text, size_t len, size_t *pos)
{
    size_t start = *pos, end;

    if (start >= len)
        return NULL;
    for (end = start; end < len && text[end] != '\n'; end++)
        ;
    *pos = end < len ? end + 1 : len;
    if (end > start && text[end - 1] == '\r')
        end--;
    text[end] = '\0';
    return text + start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char *line, *target, *query, *method;
    size_t pos = 0;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if ((line = next_line(text, size, &pos)) == NULL) {
        free(text);
        return 0;
    }
    method = line;
    target = strchr(line, ' ');
    if (target != NULL) {
        *target++ = '\0';
        if ((query = strchr(target, '?')) != NULL)
            *query++ = '\0';
        check_route(method, target);
        check_route("GET", target);
        check_route("HEAD", target);
        if (query != NULL)
            check_query(query);
    }
    while ((line = next_line(text, size, &pos)) != NULL && line[0] != '\0') {
        char *colon = strchr(line, ':');
        const char *value;
        if (colon == NULL)
            continue;
        *colon = '\0';
        value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        if (strcasecmp(line, "Authorization") == 0) {
            const char *token = ferry_http_bearer_token(value);
            CHECK(token == NULL || (token >= value + 7 && token <= value + strlen(value)));
            CHECK(token == NULL || token == value + 7 || token[-1] == ' ');
        } else if (strcasecmp(line, "X-Forwarded-For") == 0) {
            check_forwarded(value);
        } else if (strcasecmp(line, "Cookie") == 0) {
            check_cookie(value);
        }
    }
    check_body(text + pos, size - pos);
    free(text);
    return 0;
}
