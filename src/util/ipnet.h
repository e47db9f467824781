/* ipnet.h - IP networks (an address or a CIDR block, IPv4 or IPv6) and the client address of a
 * request that came through trusted reverse proxies.
 *
 * A proxy that forwards a request appends the address it received it from to the
 * X-Forwarded-For header ("client, proxy1, proxy2"). Only the entries written by proxies one
 * trusts mean anything: a client can send the header with any text in it. So the client is
 * found from the right: the connection's peer, and while that is a trusted proxy, the entry it
 * appended; the first address that is not a trusted proxy is the client. When the peer is not
 * a trusted proxy, the header is ignored.
 *
 * Pure functions on caller-owned memory; reentrant. */
#ifndef FERRY_UTIL_IPNET_H
#define FERRY_UTIL_IPNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An address text holds at most this many bytes, NUL included (INET6_ADDRSTRLEN). */
#define FERRY_IPNET_ADDR_MAX 46

/* A network: family 4 or 6, the address's bytes (4 or 16 used), the prefix length in bits. */
typedef struct {
    int family;
    uint8_t addr[16];
    unsigned prefix;
} ferry_ipnet;

/* Parses "192.0.2.7", "10.0.0.0/8", "::1", "2001:db8::/32" (an address alone is a network of
 * one address; bits past the prefix must be zero: "10.1.0.0/8" is refused as a likely typo).
 * IPv4 only in its dotted-quad form. False when text is not one. */
bool ferry_ipnet_parse(const char *text, ferry_ipnet *ret);

/* Whether the address text addr (IPv4 or IPv6; an IPv4-mapped IPv6 address counts as its
 * IPv4 address) lies in one of nets[0..n). False when addr is not an address. */
bool ferry_ipnet_contains(const ferry_ipnet *nets, size_t n, const char *addr);

/* The client address of a request whose connection came from peer (an address text), given
 * its X-Forwarded-For value (NULL when absent; several headers joined with ","), and the
 * trusted proxies nets[0..n). Writes the client's address, in its canonical text form, to out
 * (FERRY_IPNET_ADDR_MAX bytes): the peer itself unless it is trusted; else the right-most
 * entry of forwarded_for that is not a trusted proxy. An entry that is not an address (or a
 * header without one) stops the walk: the last trusted address before it is the client. */
void ferry_ipnet_client(const char *peer, const char *forwarded_for, const ferry_ipnet *nets,
                        size_t n, char out[FERRY_IPNET_ADDR_MAX]);

#endif
