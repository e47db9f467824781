/* test_smtp.c - the e-mail message ferry_smtp_send() sends, and what it refuses before
 * connecting. (Sending is exercised against a loopback SMTP server by the integration tests.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/smtp.h"

static const ferry_smtp_server server = {
    .url = "smtp://mail.clinic.example:587",
    .from = "ferry@clinic.example",
};

/* 2026-12-07 12:00:00 UTC */
#define DATE 1796644800LL

static void headers_and_body_have_crlf_line_ends(void **state)
{
    const char *to[] = {"ops@clinic.example", "olga@clinic.example"};
    char *m = ferry_smtp_message_format(&server, to, 2, "Ferry: sync of Therapists failed",
                                        "Line one\nLine two\r\nLine three", DATE);

    (void)state;
    assert_non_null(m);
    assert_non_null(strstr(m, "Date: Mon, 07 Dec 2026 12:00:00 +0000\r\n"));
    assert_non_null(strstr(m, "From: ferry@clinic.example\r\n"));
    assert_non_null(strstr(m, "To: ops@clinic.example,\r\n olga@clinic.example\r\n"));
    assert_non_null(strstr(m, "Subject: Ferry: sync of Therapists failed\r\n"));
    assert_non_null(strstr(m, "@clinic.example>\r\n"));
    assert_non_null(strstr(m, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_non_null(strstr(m, "\r\n\r\nLine one\r\nLine two\r\nLine three\r\n"));
    /* no bare LF anywhere */
    for (const char *p = m; (p = strchr(p, '\n')) != NULL; p++)
        assert_true(p > m && p[-1] == '\r');
    free(m);
}

static void a_header_value_cannot_add_a_header(void **state)
{
    const char *to[] = {"ops@clinic.example\r\nBcc: thief@evil.example"};
    char *m = ferry_smtp_message_format(&server, to, 1, "Hi\r\nBcc: thief@evil.example", "x", DATE);

    (void)state;
    assert_non_null(m);
    assert_null(strstr(m, "\r\nBcc:"));
    assert_non_null(strstr(m, "Subject: Hi  Bcc: thief@evil.example\r\n"));
    free(m);
}

static void a_subject_beyond_ascii_is_encoded(void **state)
{
    const char *to[] = {"ops@clinic.example"};
    char *m = ferry_smtp_message_format(&server, to, 1, "Ferry: Terapis Jakarta gagal — 2 gagal",
                                        "x", DATE);

    (void)state;
    assert_non_null(m);
    assert_non_null(strstr(m, "Subject: =?UTF-8?B?"));
    assert_null(strstr(m, "—"));
    free(m);
}

static void long_lines_are_split_at_character_boundaries(void **state)
{
    const char *to[] = {"ops@clinic.example"};
    char body[3001];
    char *m, *line;

    (void)state;
    /* "é" is two bytes: 1500 of them, no line end */
    for (int i = 0; i < 1500; i++)
        memcpy(body + 2 * i, "\xc3\xa9", 2);
    body[3000] = '\0';
    m = ferry_smtp_message_format(&server, to, 1, "s", body, DATE);
    assert_non_null(m);
    line = strstr(m, "\r\n\r\n") + 4;
    while (*line != '\0') {
        char *end = strstr(line, "\r\n");
        assert_non_null(end);
        assert_true(end - line <= 998);
        assert_true(((unsigned char)*line & 0xC0) != 0x80); /* starts a character */
        line = end + 2;
    }
    free(m);
}

static void refused_before_connecting(void **state)
{
    const char *to[] = {"ops@clinic.example"};
    ferry_smtp_server clear = server;
    ferry_err err;

    (void)state;
    clear.user = "ferry";
    clear.password = "hunter2-not-shown";
    clear.no_starttls = true;
    ferry_err_clear(&err);
    assert_int_equal(ferry_smtp_send(&clear, to, 1, "s", "b", &err), FERRY_EINVAL);
    assert_non_null(strstr(err.msg, "without TLS"));
    assert_null(strstr(err.msg, "hunter2"));

    ferry_err_clear(&err);
    assert_int_equal(ferry_smtp_send(&server, to, 0, "s", "b", &err), FERRY_EINVAL);
    ferry_err_clear(&err);
    clear = server;
    clear.url = "https://mail.clinic.example";
    assert_int_equal(ferry_smtp_send(&clear, to, 1, "s", "b", &err), FERRY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(headers_and_body_have_crlf_line_ends),
        cmocka_unit_test(a_header_value_cannot_add_a_header),
        cmocka_unit_test(a_subject_beyond_ascii_is_encoded),
        cmocka_unit_test(long_lines_are_split_at_character_boundaries),
        cmocka_unit_test(refused_before_connecting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
