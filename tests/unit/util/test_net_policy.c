/* test_net_policy.c - the destination policy: every spelling of a refused address is refused,
 * public addresses pass, allow_private and allow_hosts open the way, redirects from https stay
 * on https. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "util/net_policy.h"

/* The class of host written as in a URL; fails the test when it is not an address. */
static ferry_addr_class class_of(const char *host)
{
    struct sockaddr_storage ss;

    if (!ferry_net_host_parse(host, &ss))
        fail_msg("'%s' did not parse as an address", host);
    return ferry_net_addr_classify((struct sockaddr *)&ss);
}

static void loopback_is_refused_in_every_spelling(void **state)
{
    static const char *const spellings[] = {
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0x7f.1",
        "0177.0.0.1",
        "0177.1",
        "127.1",
        "127.0.1",
        "127.255.255.254",
        "017700000001",
        "[::1]",
        "::1",
        "[::ffff:7f00:1]",
        "[::ffff:127.0.0.1]",
        "[0:0:0:0:0:ffff:7f00:1]",
        "[::127.0.0.1]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "[0000::1]",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        ferry_addr_class c = class_of(spellings[i]);
        if (c != FERRY_ADDR_LOOPBACK)
            fail_msg("%s is %s, not loopback", spellings[i], ferry_net_addr_class_name(c));
    }
}

static void private_link_local_and_special_ranges_are_refused(void **state)
{
    static const struct {
        const char *host;
        ferry_addr_class c;
    } cases[] = {
        {"10.0.0.1", FERRY_ADDR_PRIVATE},
        {"10.255.255.255", FERRY_ADDR_PRIVATE},
        {"012.1", FERRY_ADDR_PRIVATE}, /* octal 10.0.0.1 */
        {"172.16.0.1", FERRY_ADDR_PRIVATE},
        {"172.31.255.255", FERRY_ADDR_PRIVATE},
        {"192.168.1.1", FERRY_ADDR_PRIVATE},
        {"0xc0a80101", FERRY_ADDR_PRIVATE},
        {"169.254.169.254", FERRY_ADDR_LINK_LOCAL},
        {"2852039166", FERRY_ADDR_LINK_LOCAL}, /* 169.254.169.254 in decimal */
        {"0xa9.0xfe.0xa9.0xfe", FERRY_ADDR_LINK_LOCAL},
        {"[::ffff:169.254.169.254]", FERRY_ADDR_LINK_LOCAL},
        {"[::ffff:a9fe:a9fe]", FERRY_ADDR_LINK_LOCAL},
        {"100.64.0.1", FERRY_ADDR_SHARED},
        {"100.127.255.255", FERRY_ADDR_SHARED},
        {"0.0.0.0", FERRY_ADDR_UNSPECIFIED},
        {"0", FERRY_ADDR_UNSPECIFIED},
        {"[::]", FERRY_ADDR_UNSPECIFIED},
        {"224.0.0.1", FERRY_ADDR_MULTICAST},
        {"239.255.255.250", FERRY_ADDR_MULTICAST},
        {"255.255.255.255", FERRY_ADDR_BROADCAST},
        {"240.0.0.1", FERRY_ADDR_RESERVED},
        {"192.0.2.1", FERRY_ADDR_RESERVED},
        {"198.18.0.1", FERRY_ADDR_RESERVED},
        {"203.0.113.9", FERRY_ADDR_RESERVED},
        {"[fe80::1]", FERRY_ADDR_LINK_LOCAL},
        {"[fe80::1%eth0]", FERRY_ADDR_LINK_LOCAL},
        {"[febf::1]", FERRY_ADDR_LINK_LOCAL},
        {"[fc00::1]", FERRY_ADDR_UNIQUE_LOCAL},
        {"[fd12:3456::1]", FERRY_ADDR_UNIQUE_LOCAL},
        {"[fec0::1]", FERRY_ADDR_PRIVATE},
        {"[ff02::1]", FERRY_ADDR_MULTICAST},
        {"[2001:db8::1]", FERRY_ADDR_RESERVED},
        {"[100::1]", FERRY_ADDR_RESERVED},
        {"[::ffff:10.1.2.3]", FERRY_ADDR_PRIVATE},
        {"[::ffff:192.168.0.1]", FERRY_ADDR_PRIVATE},
        {"[::ffff:100.64.0.1]", FERRY_ADDR_SHARED},
        {"[::ffff:0.0.0.0]", FERRY_ADDR_UNSPECIFIED},
        {"[64:ff9b::a00:1]", FERRY_ADDR_PRIVATE},
        {"[2002:c0a8:101::1]", FERRY_ADDR_PRIVATE},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ferry_addr_class c = class_of(cases[i].host);
        if (c != cases[i].c)
            fail_msg("%s is %s, not %s", cases[i].host, ferry_net_addr_class_name(c),
                     ferry_net_addr_class_name(cases[i].c));
    }
}

static void public_addresses_pass(void **state)
{
    static const char *const hosts[] = {
        "8.8.8.8",           "1.1.1.1",
        "93.184.216.34",     "172.15.255.255",
        "172.32.0.1",        "100.63.255.255",
        "100.128.0.1",       "169.253.0.1",
        "11.0.0.1",          "134744072",
        "[2606:4700::1111]", "[2a00:1450:4001::200e]",
        "[::ffff:8.8.8.8]",  "[64:ff9b::808:808]",
        "[2002:808:808::1]",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        ferry_addr_class c = class_of(hosts[i]);
        if (c != FERRY_ADDR_PUBLIC)
            fail_msg("%s is %s, not public", hosts[i], ferry_net_addr_class_name(c));
    }
}

static void names_are_not_addresses(void **state)
{
    struct sockaddr_storage ss;

    (void)state;
    assert_false(ferry_net_host_parse("example.com", &ss));
    assert_false(ferry_net_host_parse("localhost", &ss));
    assert_false(ferry_net_host_parse("", &ss));
    assert_false(ferry_net_host_parse("[]", &ss));
    assert_false(ferry_net_host_parse("1.2.3.4.5", &ss));
}

static void allow_private_and_allow_hosts_open_the_way(void **state)
{
    char *hosts[] = {"Fake.Internal", "10.1.2.3", "[fd00::7]"};
    ferry_net_policy none = {0};
    ferry_net_policy priv = {.allow_private = true};
    ferry_net_policy some = {.allow_hosts = hosts, .nallow_hosts = 3};
    struct sockaddr_storage lo, ten, fd, pub;

    (void)state;
    assert_true(ferry_net_host_parse("127.0.0.1", &lo));
    assert_true(ferry_net_host_parse("10.1.2.3", &ten));
    assert_true(ferry_net_host_parse("fd00::7", &fd));
    assert_true(ferry_net_host_parse("8.8.8.8", &pub));

    assert_false(ferry_net_policy_allows(NULL, "localhost", (struct sockaddr *)&lo));
    assert_false(ferry_net_policy_allows(&none, "localhost", (struct sockaddr *)&lo));
    assert_true(ferry_net_policy_allows(&none, "example.com", (struct sockaddr *)&pub));
    assert_true(ferry_net_policy_allows(NULL, "example.com", (struct sockaddr *)&pub));
    assert_true(ferry_net_policy_allows(&priv, "localhost", (struct sockaddr *)&lo));

    /* A listed name may resolve anywhere; names match regardless of case and a final dot. */
    assert_true(ferry_net_policy_allows(&some, "fake.internal", (struct sockaddr *)&lo));
    assert_true(ferry_net_policy_allows(&some, "FAKE.internal.", (struct sockaddr *)&lo));
    assert_false(ferry_net_policy_allows(&some, "other.internal", (struct sockaddr *)&lo));
    assert_false(ferry_net_policy_allows(&some, "internal", (struct sockaddr *)&lo));
    /* A listed address is allowed whatever name led to it; others are not. */
    assert_true(ferry_net_policy_allows(&some, "db.example", (struct sockaddr *)&ten));
    assert_true(ferry_net_policy_allows(&some, "[fd00::7]", (struct sockaddr *)&fd));
    assert_false(ferry_net_policy_allows(&some, "10.1.2.3.example", (struct sockaddr *)&lo));
}

static void redirects_from_https_stay_on_https(void **state)
{
    (void)state;
    assert_string_equal(ferry_net_redirect_protocols("https://example.com/a.csv"), "https");
    assert_string_equal(ferry_net_redirect_protocols("HTTPS://example.com/a.csv"), "https");
    assert_string_equal(ferry_net_redirect_protocols("http://example.com/a.csv"), "http,https");
}

static void a_chain_that_leaves_https_for_http_stops_there(void **state)
{
    ferry_net_guard g = {0};
    ferry_err err = {0};

    (void)state;
    /* http -> https -> http: the first hop may be plain, the way back down may not. */
    assert_true(ferry_net_guard_hop(&g, "http://example.com/a.csv"));
    assert_true(ferry_net_guard_hop(&g, "https://example.com/a.csv"));
    assert_true(ferry_net_guard_hop(&g, "HTTPS://cdn.example.com/a.csv"));
    assert_false(ferry_net_guard_hop(&g, "http://cdn.example.com/a.csv"));
    assert_true(g.downgraded);
    assert_int_equal(ferry_net_guard_error(&g, "https://example.com/a.csv", &err), FERRY_EHTTP);
    assert_non_null(strstr(err.msg, "refused a redirect from https to plain http"));
    assert_false(err.transient);

    /* Plain http all the way is a matter for the config's URL, not a downgrade. */
    memset(&g, 0, sizeof(g));
    assert_true(ferry_net_guard_hop(&g, "http://example.com/a.csv"));
    assert_true(ferry_net_guard_hop(&g, "http://example.com/b.csv"));
    assert_false(g.downgraded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_is_refused_in_every_spelling),
        cmocka_unit_test(private_link_local_and_special_ranges_are_refused),
        cmocka_unit_test(public_addresses_pass),
        cmocka_unit_test(names_are_not_addresses),
        cmocka_unit_test(allow_private_and_allow_hosts_open_the_way),
        cmocka_unit_test(redirects_from_https_stay_on_https),
        cmocka_unit_test(a_chain_that_leaves_https_for_http_stops_there),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
