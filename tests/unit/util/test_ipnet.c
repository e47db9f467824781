/* test_ipnet.c - addresses and CIDR blocks, and the client address behind trusted proxies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/ipnet.h"

static ferry_ipnet net(const char *text)
{
    ferry_ipnet n;

    assert_true(ferry_ipnet_parse(text, &n));
    return n;
}

static void networks_parse_and_contain_their_addresses(void **state)
{
    ferry_ipnet nets[3];

    (void)state;
    nets[0] = net("10.0.0.0/8");
    nets[1] = net("192.0.2.7");
    nets[2] = net("2001:db8::/32");
    assert_true(ferry_ipnet_contains(nets, 3, "10.255.3.4"));
    assert_false(ferry_ipnet_contains(nets, 3, "11.0.0.1"));
    assert_true(ferry_ipnet_contains(nets, 3, "192.0.2.7"));
    assert_false(ferry_ipnet_contains(nets, 3, "192.0.2.8"));
    assert_true(ferry_ipnet_contains(nets, 3, "2001:db8:1::5"));
    assert_false(ferry_ipnet_contains(nets, 3, "2001:db9::5"));
    /* An IPv4-mapped IPv6 address is its IPv4 address. */
    assert_true(ferry_ipnet_contains(nets, 3, "::ffff:10.1.2.3"));
    assert_false(ferry_ipnet_contains(nets, 3, "not an address"));
    assert_false(ferry_ipnet_contains(nets, 0, "10.1.2.3"));
    /* Prefixes that are not whole bytes. */
    nets[0] = net("172.16.0.0/12");
    assert_true(ferry_ipnet_contains(nets, 1, "172.31.255.255"));
    assert_false(ferry_ipnet_contains(nets, 1, "172.32.0.0"));
    nets[0] = net("0.0.0.0/0");
    assert_true(ferry_ipnet_contains(nets, 1, "8.8.8.8"));
    assert_false(ferry_ipnet_contains(nets, 1, "::1")); /* families never match */
}

static void malformed_networks_are_refused(void **state)
{
    static const char *const bad[] = {"",
                                      "/8",
                                      "10.0.0.0/",
                                      "10.0.0.0/33",
                                      "10.1.0.0/8",
                                      "10.0.0.0/-1",
                                      "10.0.0.0/8x",
                                      "::1/129",
                                      "10.0.0",
                                      "127.1",
                                      "0x7f.0.0.1",
                                      "host.example",
                                      "10.0.0.0/0008",
                                      "[::1]",
                                      "10.0.0.1 "};
    ferry_ipnet n;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ferry_ipnet_parse(bad[i], &n))
            fail_msg("'%s' parsed as a network", bad[i]);
    }
}

static void client(const char *peer, const char *xff, const ferry_ipnet *nets, size_t n,
                   const char *want)
{
    char out[FERRY_IPNET_ADDR_MAX];

    ferry_ipnet_client(peer, xff, nets, n, out);
    if (strcmp(out, want) != 0)
        fail_msg("peer %s, X-Forwarded-For '%s': got %s, want %s", peer, xff ? xff : "(none)", out,
                 want);
}

static void forwarded_for_is_read_only_from_trusted_proxies(void **state)
{
    ferry_ipnet nets[2];

    (void)state;
    nets[0] = net("10.0.0.0/8");
    nets[1] = net("::1");
    /* Not trusted: the header is ignored, whatever it says. */
    client("203.0.113.9", "198.51.100.1", nets, 2, "203.0.113.9");
    client("203.0.113.9", NULL, nets, 2, "203.0.113.9");
    client("198.51.100.1", "10.0.0.1", NULL, 0, "198.51.100.1");
    /* Trusted: the right-most address that is not a trusted proxy. */
    client("10.0.0.1", "198.51.100.1", nets, 2, "198.51.100.1");
    client("10.0.0.1", "spoofed, 198.51.100.1", nets, 2, "198.51.100.1");
    client("10.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.2, 10.9.9.9", nets, 2, "198.51.100.1");
    client("::1", "2001:db8::7", nets, 2, "2001:db8::7");
    /* Every hop trusted: the left-most one is the client. */
    client("10.0.0.1", "10.0.0.3, 10.0.0.2", nets, 2, "10.0.0.3");
    /* No header, or nothing in it: the proxy itself. */
    client("10.0.0.1", NULL, nets, 2, "10.0.0.1");
    client("10.0.0.1", "", nets, 2, "10.0.0.1");
    client("10.0.0.1", " , ", nets, 2, "10.0.0.1");
    /* An entry that is not an address stops the walk at the last trusted hop. */
    client("10.0.0.1", "198.51.100.1, unknown", nets, 2, "10.0.0.1");
    client("10.0.0.1", "198.51.100.1, 10.0.0.2, garbage", nets, 2, "10.0.0.1");
    client("10.0.0.1", "garbage, 10.0.0.2", nets, 2, "10.0.0.2");
    /* Blanks, ports, brackets and mapped addresses, in canonical form. */
    client("10.0.0.1", "\t198.51.100.1:4711 ", nets, 2, "198.51.100.1");
    client("10.0.0.1", "[2001:DB8::7]:443", nets, 2, "2001:db8::7");
    client("10.0.0.1", "::ffff:198.51.100.1", nets, 2, "198.51.100.1");
    client("::ffff:10.0.0.1", "198.51.100.1", nets, 2, "198.51.100.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(networks_parse_and_contain_their_addresses),
        cmocka_unit_test(malformed_networks_are_refused),
        cmocka_unit_test(forwarded_for_is_read_only_from_trusted_proxies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
