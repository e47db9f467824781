/* test_oauth2.c - a token endpoint's answer: tokens and their lifetime read, a rotated
 * refresh token kept, and every other answer (an OAuth2 error, an HTML page, a 500, a body
 * that is not JSON, one without a usable access token) an error that names the endpoint and
 * the client and quotes no token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/oauth2.h"

#define WHERE "https://login.example/oauth/token"
#define WHO "the client ID app"

static ferry_rc parse(long status, const char *ctype, const char *body, ferry_oauth2_answer *a,
                      ferry_err *err)
{
    ferry_err_clear(err);
    return ferry_oauth2_answer_parse(status, ctype, body, strlen(body), WHERE, WHO, a, err);
}

static void a_token_answer_gives_the_tokens_and_lifetime(void **state)
{
    ferry_oauth2_answer a;
    ferry_err err;

    (void)state;
    assert_int_equal(parse(200, "application/json",
                           "{\"access_token\":\"at-1\",\"token_type\":\"Bearer\","
                           "\"expires_in\":1800,\"refresh_token\":\"rt-2\"}",
                           &a, &err),
                     FERRY_OK);
    assert_string_equal(a.access_token, "at-1");
    assert_string_equal(a.refresh_token, "rt-2");
    assert_int_equal(a.expires_in, 1800);
    ferry_oauth2_answer_done(&a);
    assert_null(a.access_token);
    /* expires_in as a string of digits (some servers), or absent; no refresh token. */
    assert_int_equal(
        parse(200, NULL, "{\"access_token\":\"at-1\",\"expires_in\":\"60\"}", &a, &err), FERRY_OK);
    assert_int_equal(a.expires_in, 60);
    assert_null(a.refresh_token);
    ferry_oauth2_answer_done(&a);
    assert_int_equal(parse(200, NULL, "{\"access_token\":\"at-1\"}", &a, &err), FERRY_OK);
    assert_int_equal(a.expires_in, 0);
    ferry_oauth2_answer_done(&a);
}

static void an_oauth2_error_is_a_refusal_in_the_servers_words(void **state)
{
    ferry_oauth2_answer a;
    ferry_err err;

    (void)state;
    assert_int_equal(parse(400, "application/json",
                           "{\"error\":\"invalid_grant\",\"error_description\":\"Token "
                           "expired\"}",
                           &a, &err),
                     FERRY_EREFUSED);
    assert_string_equal(err.msg, "the token endpoint " WHERE " refused " WHO
                                 ": invalid_grant: Token expired (the refresh token or grant has "
                                 "expired or been revoked: authorize Ferry again)");
    assert_null(a.access_token);
    assert_int_equal(parse(401, "application/json", "{\"error\":\"invalid_client\"}", &a, &err),
                     FERRY_EREFUSED);
    assert_non_null(strstr(err.msg, "refused " WHO ": invalid_client (the client ID or secret"));
}

static void html_a_500_and_non_json_are_not_token_answers(void **state)
{
    ferry_oauth2_answer a;
    ferry_err err;

    (void)state;
    assert_int_equal(parse(500, "text/html", "<html>oops</html>", &a, &err), FERRY_ESOURCE);
    assert_string_equal(err.msg, "the token endpoint " WHERE " refused " WHO
                                 ": HTTP 500, not a token answer (text/html)");
    assert_int_equal(parse(200, "text/html", "<html>sign in</html>", &a, &err), FERRY_ESOURCE);
    assert_string_equal(err.msg, "the token endpoint " WHERE " answered HTTP 200 for " WHO
                                 " with text/html that is not a JSON object");
    assert_int_equal(parse(200, "application/json", "{\"access_token\":", &a, &err), FERRY_ESOURCE);
    assert_non_null(strstr(err.msg, "not a JSON object"));
}

static void an_answer_without_a_usable_token_is_refused_without_quoting_it(void **state)
{
    static const char *const bodies[] = {
        "{\"token_type\":\"Bearer\"}",
        "{\"access_token\":\"\"}",
        "{\"access_token\":42}",
        "{\"access_token\":\"at-x\\r\\nX-Evil: 1\"}",
    };
    ferry_oauth2_answer a;
    ferry_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(parse(200, "application/json", bodies[i], &a, &err), FERRY_ESOURCE);
        assert_non_null(strstr(err.msg, "without an access token"));
        assert_null(strstr(err.msg, "at-x"));
    }
    assert_int_equal(parse(200, "application/json",
                           "{\"access_token\":\"at-1\",\"refresh_token\":\"\"}", &a, &err),
                     FERRY_ESOURCE);
    assert_non_null(strstr(err.msg, "without a usable refresh_token"));
    assert_null(strstr(err.msg, "at-1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_token_answer_gives_the_tokens_and_lifetime),
        cmocka_unit_test(an_oauth2_error_is_a_refusal_in_the_servers_words),
        cmocka_unit_test(html_a_500_and_non_json_are_not_token_answers),
        cmocka_unit_test(an_answer_without_a_usable_token_is_refused_without_quoting_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
