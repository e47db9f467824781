/* ipnet.c - IP networks and the client address behind trusted proxies (see ipnet.h).
 *
 * Addresses are parsed with inet_pton() (dotted-quad IPv4, every IPv6 form) and compared as
 * bytes; an IPv4-mapped IPv6 address (::ffff:192.0.2.7) is taken as its IPv4 address, so a
 * dual-stack peer and a proxy's entry name the same client the same way. X-Forwarded-For is
 * walked from its end without copying it: each entry is at most an address, so anything
 * longer than FERRY_IPNET_ADDR_MAX plus a port is not one. */
#include "util/ipnet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses an address text into family and bytes; a mapped IPv4 address becomes IPv4. */
static bool addr_parse(const char *text, int *family, uint8_t bytes[16])
{
    memset(bytes, 0, 16);
    if (inet_pton(AF_INET, text, bytes) == 1) {
        *family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, text, bytes) != 1)
        return false;
    if (memcmp(bytes, v4_mapped, sizeof(v4_mapped)) == 0) {
        memmove(bytes, bytes + 12, 4);
        memset(bytes + 4, 0, 12);
        *family = 4;
        return true;
    }
    *family = 6;
    return true;
}

static void addr_format(int family, const uint8_t bytes[16], char out[FERRY_IPNET_ADDR_MAX])
{
    if (inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes, out, FERRY_IPNET_ADDR_MAX) == NULL)
        out[0] = '\0';
}

bool ferry_ipnet_parse(const char *text, ferry_ipnet *ret)
{
    char addr[FERRY_IPNET_ADDR_MAX];
    const char *slash = strchr(text, '/');
    size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);
    unsigned long prefix;
    ferry_ipnet net;
    char *end;

    if (len == 0 || len >= sizeof(addr))
        return false;
    memcpy(addr, text, len);
    addr[len] = '\0';
    memset(&net, 0, sizeof(net));
    if (!addr_parse(addr, &net.family, net.addr))
        return false;
    prefix = net.family == 4 ? 32 : 128;
    if (slash != NULL) {
        if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
            return false;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || p > prefix)
            return false;
        prefix = p;
    }
    net.prefix = (unsigned)prefix;
    /* Bits past the prefix must be zero. */
    for (unsigned bit = net.prefix; bit < (net.family == 4 ? 32u : 128u); bit++) {
        if (net.addr[bit / 8] & (0x80u >> (bit % 8)))
            return false;
    }
    *ret = net;
    return true;
}

static bool net_has(const ferry_ipnet *net, int family, const uint8_t bytes[16])
{
    unsigned full = net->prefix / 8, rest = net->prefix % 8;

    if (net->family != family || memcmp(net->addr, bytes, full) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((net->addr[full] ^ bytes[full]) & (uint8_t)(0xffu << (8 - rest))) == 0;
}

static bool nets_have(const ferry_ipnet *nets, size_t n, int family, const uint8_t bytes[16])
{
    for (size_t i = 0; i < n; i++) {
        if (net_has(&nets[i], family, bytes))
            return true;
    }
    return false;
}

bool ferry_ipnet_contains(const ferry_ipnet *nets, size_t n, const char *addr)
{
    uint8_t bytes[16];
    int family;

    return addr_parse(addr, &family, bytes) && nets_have(nets, n, family, bytes);
}

/* Parses one X-Forwarded-For entry, s[0..len): an address with blanks around it, an IPv6
 * address in brackets, or either with a :port (some proxies add one). */
static bool entry_parse(const char *s, size_t len, int *family, uint8_t bytes[16])
{
    char text[FERRY_IPNET_ADDR_MAX + 8];
    const char *close;

    while (len > 0 && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof(text))
        return false;
    memcpy(text, s, len);
    text[len] = '\0';
    if (text[0] == '[') {
        if ((close = strchr(text, ']')) == NULL || (close[1] != '\0' && close[1] != ':'))
            return false;
        *(char *)close = '\0';
        return addr_parse(text + 1, family, bytes) && *family == 6;
    }
    char *colon = strchr(text, ':');
    if (colon != NULL && strchr(colon + 1, ':') == NULL)
        *colon = '\0'; /* IPv4:port */
    return addr_parse(text, family, bytes);
}

void ferry_ipnet_client(const char *peer, const char *forwarded_for, const ferry_ipnet *nets,
                        size_t n, char out[FERRY_IPNET_ADDR_MAX])
{
    uint8_t bytes[16];
    int family;
    size_t end;

    if (!addr_parse(peer, &family, bytes)) {
        snprintf(out, FERRY_IPNET_ADDR_MAX, "%s", peer);
        return;
    }
    end = forwarded_for != NULL ? strlen(forwarded_for) : 0;
    while (nets_have(nets, n, family, bytes) && end > 0) {
        size_t start = end;
        uint8_t next[16];
        int next_family;
        while (start > 0 && forwarded_for[start - 1] != ',')
            start--;
        if (!entry_parse(forwarded_for + start, end - start, &next_family, next))
            break;
        family = next_family;
        memcpy(bytes, next, sizeof(bytes));
        end = start > 0 ? start - 1 : 0;
    }
    addr_format(family, bytes, out);
}
