/* net_policy.c - the destination policy of outbound requests (see net_policy.h).
 *
 * Classification works on the address bytes the socket would connect to, never on the text
 * of a URL, so every spelling of an address (decimal, hex, octal, short forms, IPv6 forms that
 * embed an IPv4 address) lands in the same class. IPv6 addresses that carry an IPv4 address
 * (mapped ::ffff:0:0/96, compatible ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16) are classified
 * by the IPv4 address they carry. Other IPv6 addresses are public only inside 2000::/3, the
 * global unicast range, minus documentation (2001:db8::/32), Teredo and ORCHID ranges.
 *
 * The guard is libcurl's open-socket callback: curl calls it for every address it tries, on
 * every connection, redirects included, and a refused address returns CURL_SOCKET_BAD (curl
 * then tries the host's next address or fails with CURLE_COULDNT_CONNECT). The host a
 * connection is for comes from the transfer's effective URL, which curl updates before it
 * connects for a redirect, so allow_hosts is matched against each hop's own host. */
#include "util/net_policy.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HOST_MAX 256

/* Whether the first bits of a (a 32-bit address in host order) are those of net/len. */
static bool in4(uint32_t a, uint32_t net, unsigned len)
{
    uint32_t mask = len == 0 ? 0 : 0xFFFFFFFFu << (32 - len);

    return (a & mask) == (net & mask);
}

static ferry_addr_class classify4(uint32_t a)
{
    static const struct {
        uint32_t net;
        unsigned len;
        ferry_addr_class c;
    } ranges[] = {
        {0x00000000u, 8, FERRY_ADDR_UNSPECIFIED}, /* 0.0.0.0/8 "this network" */
        {0x0A000000u, 8, FERRY_ADDR_PRIVATE},     /* 10/8 */
        {0x64400000u, 10, FERRY_ADDR_SHARED},     /* 100.64/10 */
        {0x7F000000u, 8, FERRY_ADDR_LOOPBACK},    /* 127/8 */
        {0xA9FE0000u, 16, FERRY_ADDR_LINK_LOCAL}, /* 169.254/16 */
        {0xAC100000u, 12, FERRY_ADDR_PRIVATE},    /* 172.16/12 */
        {0xC0000000u, 24, FERRY_ADDR_RESERVED},   /* 192.0.0/24 protocol assignments */
        {0xC0000200u, 24, FERRY_ADDR_RESERVED},   /* 192.0.2/24 documentation */
        {0xC0586300u, 24, FERRY_ADDR_RESERVED},   /* 192.88.99/24 6to4 relays */
        {0xC0A80000u, 16, FERRY_ADDR_PRIVATE},    /* 192.168/16 */
        {0xC6120000u, 15, FERRY_ADDR_RESERVED},   /* 198.18/15 benchmarking */
        {0xC6336400u, 24, FERRY_ADDR_RESERVED},   /* 198.51.100/24 documentation */
        {0xCB007100u, 24, FERRY_ADDR_RESERVED},   /* 203.0.113/24 documentation */
        {0xE0000000u, 4, FERRY_ADDR_MULTICAST},   /* 224/4 */
        {0xFFFFFFFFu, 32, FERRY_ADDR_BROADCAST},  /* 255.255.255.255 */
        {0xF0000000u, 4, FERRY_ADDR_RESERVED},    /* 240/4 */
    };

    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (in4(a, ranges[i].net, ranges[i].len))
            return ranges[i].c;
    return FERRY_ADDR_PUBLIC;
}

static uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static ferry_addr_class classify6(const uint8_t *b)
{
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};

    if (all_zero(b, 16))
        return FERRY_ADDR_UNSPECIFIED;
    if (all_zero(b, 15) && b[15] == 1)
        return FERRY_ADDR_LOOPBACK;
    if (all_zero(b, 10) && b[10] == 0xff && b[11] == 0xff) /* ::ffff:a.b.c.d */
        return classify4(load32(b + 12));
    if (all_zero(b, 12)) /* ::a.b.c.d, deprecated but still routed by some stacks */
        return classify4(load32(b + 12));
    if (memcmp(b, nat64, 12) == 0) /* 64:ff9b::a.b.c.d */
        return classify4(load32(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02) /* 6to4: 2002:AABB:CCDD::/48 */
        return classify4(load32(b + 2));
    if (b[0] == 0xff)
        return FERRY_ADDR_MULTICAST;
    if ((b[0] & 0xfe) == 0xfc)
        return FERRY_ADDR_UNIQUE_LOCAL;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return FERRY_ADDR_LINK_LOCAL;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return FERRY_ADDR_PRIVATE; /* site-local, deprecated */
    if ((b[0] & 0xe0) != 0x20)
        return FERRY_ADDR_RESERVED; /* outside 2000::/3 */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return FERRY_ADDR_RESERVED; /* 2001:db8::/32 documentation */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 &&
        (b[3] == 0x00 || (b[3] & 0xf0) == 0x10 || (b[3] & 0xf0) == 0x20))
        return FERRY_ADDR_RESERVED; /* Teredo 2001::/32, ORCHID 2001:10::/28, 2001:20::/28 */
    return FERRY_ADDR_PUBLIC;
}

ferry_addr_class ferry_net_addr_classify(const struct sockaddr *sa)
{
    if (sa == NULL)
        return FERRY_ADDR_RESERVED;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return classify4(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return classify6(in6->sin6_addr.s6_addr);
    }
    return FERRY_ADDR_RESERVED;
}

const char *ferry_net_addr_class_name(ferry_addr_class c)
{
    switch (c) {
    case FERRY_ADDR_PUBLIC:
        return "a public address";
    case FERRY_ADDR_LOOPBACK:
        return "a loopback address";
    case FERRY_ADDR_PRIVATE:
        return "a private address";
    case FERRY_ADDR_LINK_LOCAL:
        return "a link-local address";
    case FERRY_ADDR_SHARED:
        return "a shared (carrier-grade NAT) address";
    case FERRY_ADDR_UNIQUE_LOCAL:
        return "a unique-local address";
    case FERRY_ADDR_UNSPECIFIED:
        return "an unspecified address";
    case FERRY_ADDR_MULTICAST:
        return "a multicast address";
    case FERRY_ADDR_BROADCAST:
        return "the broadcast address";
    default:
        return "a reserved address";
    }
}

bool ferry_net_host_parse(const char *host, struct sockaddr_storage *ret_addr)
{
    char buf[HOST_MAX];
    size_t n = strlen(host);
    struct in_addr a4;

    memset(ret_addr, 0, sizeof(*ret_addr));
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, host, n);
    buf[n] = '\0';
    if (strchr(buf, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret_addr;
        char *zone = strchr(buf, '%'); /* fe80::1%eth0: the zone does not change the class */
        if (zone != NULL)
            *zone = '\0';
        in6->sin6_family = AF_INET6;
        return inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1;
    }
    /* inet_aton() takes every form getaddrinfo() and curl take for IPv4: 1 to 4 parts, each
     * decimal, octal (leading 0) or hex (0x). */
    if (inet_aton(buf, &a4) == 0)
        return false;
    ((struct sockaddr_in *)ret_addr)->sin_family = AF_INET;
    ((struct sockaddr_in *)ret_addr)->sin_addr = a4;
    return true;
}

/* The IPv4 address sa carries (itself, or IPv4-mapped in IPv6), or false. */
static bool ipv4_of(const struct sockaddr *sa, uint32_t *ret)
{
    if (sa->sa_family == AF_INET) {
        *ret = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (all_zero(b, 10) && b[10] == 0xff && b[11] == 0xff) {
            *ret = load32(b + 12);
            return true;
        }
    }
    return false;
}

static bool same_address(const struct sockaddr *a, const struct sockaddr *b)
{
    uint32_t x, y;

    if (ipv4_of(a, &x) && ipv4_of(b, &y))
        return x == y;
    if (a->sa_family == AF_INET6 && b->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
    return false;
}

/* host without brackets and a trailing dot, in lower case, into out. */
static void host_normalise(const char *host, char *out, size_t outlen)
{
    size_t n = strlen(host), j = 0;

    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n > 0 && host[n - 1] == '.')
        n--;
    for (size_t i = 0; i < n && j + 1 < outlen; i++) {
        char ch = host[i];
        out[j++] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    out[j] = '\0';
}

bool ferry_net_policy_allows(const ferry_net_policy *policy, const char *host,
                             const struct sockaddr *sa)
{
    char name[HOST_MAX], entry[HOST_MAX];
    struct sockaddr_storage lit;

    if (policy != NULL && policy->allow_private)
        return true;
    if (ferry_net_addr_classify(sa) == FERRY_ADDR_PUBLIC)
        return true;
    if (policy == NULL)
        return false;
    host_normalise(host != NULL ? host : "", name, sizeof(name));
    for (size_t i = 0; i < policy->nallow_hosts; i++) {
        host_normalise(policy->allow_hosts[i], entry, sizeof(entry));
        if (name[0] != '\0' && strcmp(entry, name) == 0)
            return true;
        if (ferry_net_host_parse(entry, &lit) && same_address((struct sockaddr *)&lit, sa))
            return true;
    }
    return false;
}

const char *ferry_net_redirect_protocols(const char *url)
{
    return url != NULL && strncasecmp(url, "https://", 8) == 0 ? "https" : "http,https";
}

/* The host of the URL the transfer is about to connect for, into out ("" when unknown). */
static void current_host(CURL *easy, char *out, size_t outlen)
{
    char *url = NULL, *host = NULL;
    CURLU *u;

    out[0] = '\0';
    if (curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK || url == NULL)
        return;
    if ((u = curl_url()) == NULL)
        return;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host != NULL)
        snprintf(out, outlen, "%s", host);
    curl_free(host);
    curl_url_cleanup(u);
}

static void address_text(const struct sockaddr *sa, char *out, size_t outlen)
{
    const void *bytes = sa->sa_family == AF_INET6
                            ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                            : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

    if (inet_ntop(sa->sa_family, bytes, out, (socklen_t)outlen) == NULL)
        snprintf(out, outlen, "?");
}

static curl_socket_t opensocket_cb(void *clientp, curlsocktype purpose,
                                   struct curl_sockaddr *address)
{
    ferry_net_guard *g = clientp;
    const struct sockaddr *sa = &address->addr;
    char host[HOST_MAX];

    if (purpose == CURLSOCKTYPE_IPCXN && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)) {
        current_host(g->easy, host, sizeof(host));
        if (!ferry_net_policy_allows(g->policy, host, sa)) {
            if (!g->refused) {
                g->refused = true;
                g->refused_class = ferry_net_addr_classify(sa);
                address_text(sa, g->refused_addr, sizeof(g->refused_addr));
                host_normalise(host, g->refused_host, sizeof(g->refused_host));
            }
            return CURL_SOCKET_BAD;
        }
    } else if (purpose == CURLSOCKTYPE_IPCXN) {
        return CURL_SOCKET_BAD; /* not an IP socket: nothing Ferry connects to */
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

bool ferry_net_guard_hop(ferry_net_guard *g, const char *url)
{
    bool https = url != NULL && strncasecmp(url, "https://", 8) == 0;

    if (!https && g->seen_https) {
        g->downgraded = true;
        return false;
    }
    g->seen_https = g->seen_https || https;
    return true;
}

/* Runs before each request is sent, on a new connection or a reused one: the place where every
 * hop's own scheme is known (CURLOPT_REDIR_PROTOCOLS_STR is decided once, from the first URL). */
static int prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
                     int conn_primary_port, int conn_local_port)
{
    ferry_net_guard *g = clientp;
    char *url = NULL;

    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    if (curl_easy_getinfo(g->easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK)
        url = NULL;
    return ferry_net_guard_hop(g, url) ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
}

void ferry_net_guard_apply(ferry_net_guard *g, CURL *easy, const ferry_net_policy *policy,
                           const char *url)
{
    memset(g, 0, sizeof(*g));
    g->policy = policy;
    g->easy = easy;
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, g);
    curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, prereq_cb);
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, g);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, ferry_net_redirect_protocols(url));
    /* "" turns off the proxies of http_proxy, https_proxy and ALL_PROXY. */
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
}

ferry_rc ferry_net_guard_error(const ferry_net_guard *g, const char *what, ferry_err *err)
{
    const char *host = g->refused_host[0] != '\0' ? g->refused_host : g->refused_addr;
    bool first = err != NULL && err->code == FERRY_OK;
    char where[sizeof(g->refused_addr) + 64];
    ferry_rc rc;

    if (g->downgraded) {
        rc = ferry_err_set(err, FERRY_EHTTP,
                           "%s: refused a redirect from https to plain http: Ferry follows "
                           "redirects from https only to https",
                           what);
        if (first)
            err->transient = false;
        return rc;
    }
    if (!g->refused)
        return FERRY_OK;
    /* "localhost (127.0.0.1, a loopback address)", or "127.0.0.1 (a loopback address)". */
    if (strcmp(host, g->refused_addr) == 0)
        snprintf(where, sizeof(where), "%s", ferry_net_addr_class_name(g->refused_class));
    else
        snprintf(where, sizeof(where), "%s, %s", g->refused_addr,
                 ferry_net_addr_class_name(g->refused_class));
    rc = ferry_err_set(err, FERRY_EHTTP,
                       "%s: refused to connect to %s (%s): Ferry connects only to public "
                       "addresses unless allowed; to allow it set allow_private: true, or list "
                       "'%s' under allow_hosts:, on the source or at the top of the config",
                       what, host, where, host);
    if (first)
        err->transient = false;
    return rc;
}
