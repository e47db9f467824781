/* tls.h - a certificate chain and its private key, loaded for the HTTPS server (GnuTLS).
 *
 * A pair is loaded and checked once (both files PEM, the key the certificate's), then only
 * read: the server hands its parts to GnuTLS for each new connection. It is counted, so a
 * config and the server may share it; the key is wiped when the last holder lets it go. Its
 * functions may be called from any thread. */
#ifndef FERRY_UTIL_TLS_H
#define FERRY_UTIL_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdatomic.h>

#include "util/err.h"

#define FERRY_TLS_CHAIN_MAX 16 /* certificates in one chain */

typedef struct ferry_tls_pair {
    gnutls_pcert_st chain[FERRY_TLS_CHAIN_MAX];
    unsigned nchain;
    gnutls_privkey_t key;
    _Atomic int refs;
} ferry_tls_pair;

/* Loads the PEM certificate chain at cert_path and the PEM private key at key_path, and
 * checks that the key is the first certificate's. On success *ret_pair has one reference,
 * owned by the caller (ferry_tls_pair_unref()). On failure err says which file and why,
 * never what the key holds. */
ferry_rc ferry_tls_pair_load(const char *cert_path, const char *key_path, ferry_tls_pair **ret_pair,
                             ferry_err *err);

/* Takes one more reference to pair; returns pair. NULL is allowed. */
ferry_tls_pair *ferry_tls_pair_ref(ferry_tls_pair *pair);

/* Drops a reference; the last one frees the pair. NULL is allowed. */
void ferry_tls_pair_unref(ferry_tls_pair *pair);

#endif
