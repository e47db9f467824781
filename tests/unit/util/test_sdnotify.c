/* test_sdnotify.c - util/sdnotify: the messages systemd receives on NOTIFY_SOCKET (an AF_UNIX
 * datagram socket the test binds, as systemd does), nothing without NOTIFY_SOCKET, and the
 * watchdog's pacing: at most one ping per half interval. The interval (WATCHDOG_USEC, 60 s) is
 * set before the first call and read once per process, so within this test only the first
 * ping may go out; the integration test (test_package.py) sees pings repeat. */
#include "util/sdnotify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

static char *dir;
static char sock_path[108];
static int sock = -1;

/* The next datagram, or NULL when none came within wait_s seconds (a bound on a datagram the
 * test expects, or the window in which one the test forbids would have come). */
static char *next_message(char *buf, size_t size, int wait_s)
{
    struct timeval tv = {wait_s, 0};
    ssize_t n;

    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    n = recv(sock, buf, size - 1, 0);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}

static int setup(void **state)
{
    struct sockaddr_un sa;

    (void)state;
    dir = tu_tempdir();
    snprintf(sock_path, sizeof(sock_path), "%s/n", dir);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return -1;
    setenv("NOTIFY_SOCKET", sock_path, 1);
    setenv("WATCHDOG_USEC", "60000000", 1);
    unsetenv("WATCHDOG_PID");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (sock >= 0)
        close(sock);
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static void ready_carries_the_status_line(void **state)
{
    char buf[512];

    (void)state;
    ferry_sd_ready("listening on http://127.0.0.1:8080/");
    assert_non_null(next_message(buf, sizeof(buf), 10));
    assert_string_equal(buf, "READY=1\nSTATUS=listening on http://127.0.0.1:8080/");
    ferry_sd_ready(NULL);
    assert_non_null(next_message(buf, sizeof(buf), 10));
    assert_string_equal(buf, "READY=1");
}

static void stopping_status_and_reloading_are_sent_as_is(void **state)
{
    char buf[512];
    unsigned long long usec = 0;

    (void)state;
    ferry_sd_stopping();
    assert_non_null(next_message(buf, sizeof(buf), 10));
    assert_string_equal(buf, "STOPPING=1");
    ferry_sd_status("2 runs running");
    assert_non_null(next_message(buf, sizeof(buf), 10));
    assert_string_equal(buf, "STATUS=2 runs running");
    ferry_sd_reloading();
    assert_non_null(next_message(buf, sizeof(buf), 10));
    assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec), 1);
    assert_true(usec > 0);
}

static void watchdog_pings_once_per_half_interval(void **state)
{
    char buf[512];

    (void)state;
    ferry_sd_watchdog();
    assert_non_null(next_message(buf, sizeof(buf), 10));
    assert_string_equal(buf, "WATCHDOG=1");
    /* Well within 30 s of the first: no second ping. */
    for (int i = 0; i < 100; i++)
        ferry_sd_watchdog();
    ferry_sd_stopping(); /* a marker: the next datagram must be it */
    assert_non_null(next_message(buf, sizeof(buf), 10));
    assert_string_equal(buf, "STOPPING=1");
}

static void nothing_is_sent_without_notify_socket(void **state)
{
    char buf[512];

    (void)state;
    unsetenv("NOTIFY_SOCKET");
    ferry_sd_ready("listening");
    ferry_sd_stopping();
    ferry_sd_status("x");
    setenv("NOTIFY_SOCKET", sock_path, 1);
    assert_null(next_message(buf, sizeof(buf), 1));
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ready_carries_the_status_line),
        cmocka_unit_test(stopping_status_and_reloading_are_sent_as_is),
        cmocka_unit_test(watchdog_pings_once_per_half_interval),
        cmocka_unit_test(nothing_is_sent_without_notify_socket),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
