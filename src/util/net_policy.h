/* net_policy.h - where Ferry's outbound requests may go: the destination policy.
 *
 * By default a source may reach public addresses only, over http or https. Loopback, private
 * (RFC 1918), link-local (the cloud metadata address 169.254.169.254 among them), shared
 * (CGNAT), unique-local, unspecified, multicast, broadcast and reserved addresses are refused,
 * in every spelling the resolver accepts and in their IPv4-mapped, -compatible, NAT64 and 6to4
 * forms. allow_private opens every address; allow_hosts names hosts (or literal addresses)
 * that may resolve anywhere.
 *
 * The check runs at connect time on the address libcurl is about to connect to (its
 * open-socket callback), so a name that resolves differently later (DNS rebinding) or a
 * redirect to another host meets the same check. Proxies from the environment are not used:
 * a proxy would connect on Ferry's behalf where the check cannot see.
 *
 * Everything here is reentrant; a guard belongs to the thread of its transfer. */
#ifndef FERRY_UTIL_NET_POLICY_H
#define FERRY_UTIL_NET_POLICY_H

#include <curl/curl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "util/err.h"

/* What kind of address an address is; everything but FERRY_ADDR_PUBLIC is refused by
 * default. */
typedef enum {
    FERRY_ADDR_PUBLIC = 0,
    FERRY_ADDR_LOOPBACK,     /* 127/8, ::1 */
    FERRY_ADDR_PRIVATE,      /* 10/8, 172.16/12, 192.168/16, fec0::/10 */
    FERRY_ADDR_LINK_LOCAL,   /* 169.254/16, fe80::/10 */
    FERRY_ADDR_SHARED,       /* 100.64/10 (carrier-grade NAT) */
    FERRY_ADDR_UNIQUE_LOCAL, /* fc00::/7 */
    FERRY_ADDR_UNSPECIFIED,  /* 0/8, :: */
    FERRY_ADDR_MULTICAST,    /* 224/4, ff00::/8 */
    FERRY_ADDR_BROADCAST,    /* 255.255.255.255 */
    FERRY_ADDR_RESERVED,     /* documentation, benchmarking, 240/4, IPv6 outside 2000::/3... */
} ferry_addr_class;

/* The policy of one source: the top level's and the source's own settings, merged. Borrowed
 * strings; an all-zero policy is the default (public addresses only). */
typedef struct {
    bool allow_private;
    char *const *allow_hosts; /* host names (lower case) or literal addresses */
    size_t nallow_hosts;
} ferry_net_policy;

/* The class of an IPv4 or IPv6 socket address (other families are FERRY_ADDR_RESERVED). */
ferry_addr_class ferry_net_addr_classify(const struct sockaddr *sa);

/* "a loopback address", "a private address"... for messages. */
const char *ferry_net_addr_class_name(ferry_addr_class c);

/* Parses a literal address as the resolver would: IPv6 with or without brackets, IPv4 in
 * every spelling inet_aton() takes (2130706433, 0x7f.1, 0177.0.0.1, 127.1). Returns false
 * when host is a name, not an address. */
bool ferry_net_host_parse(const char *host, struct sockaddr_storage *ret_addr);

/* Whether policy lets a connection to host (as written in the URL) reach sa. */
bool ferry_net_policy_allows(const ferry_net_policy *policy, const char *host,
                             const struct sockaddr *sa);

/* The protocols a redirect from url may use: "https" from an https URL (a downgrade to
 * plain http is refused), "http,https" otherwise. */
const char *ferry_net_redirect_protocols(const char *url);

/* The connect-time check of one transfer, filled by libcurl's callbacks. */
typedef struct {
    const ferry_net_policy *policy; /* borrowed; NULL means the default */
    CURL *easy;                     /* the transfer checked */
    bool refused;                   /* a connection was refused by the policy */
    ferry_addr_class refused_class;
    char refused_addr[64]; /* the refused address, as text */
    char refused_host[256];
    bool seen_https; /* a request of this transfer went over https */
    bool downgraded; /* a redirect after an https request led to plain http: refused */
} ferry_net_guard;

/* Called with the URL of each request of a transfer, the first and every redirect's, in
 * order: records an https one and refuses (returns false, and marks g downgraded) a plain
 * http one after it, so a chain http -> https -> http stops where it leaves https. */
bool ferry_net_guard_hop(ferry_net_guard *g, const char *url);

/* Prepares g for easy (both borrowed, for as long as the transfer runs) and sets the
 * transfer's options: the connect-time check, http and https only (redirects: see
 * ferry_net_redirect_protocols() for url), and no proxy. Call again before each transfer. */
void ferry_net_guard_apply(ferry_net_guard *g, CURL *easy, const ferry_net_policy *policy,
                           const char *url);

/* When g refused a connection or a downgrade: records in err why, naming the host, the address and
 * how to allow it (what names the request, already redacted), and returns FERRY_EHTTP (not
 * transient). Otherwise returns FERRY_OK and leaves err alone. */
ferry_rc ferry_net_guard_error(const ferry_net_guard *g, const char *what, ferry_err *err);

#endif
