/* tls.c - certificate and key pairs for the HTTPS server (see tls.h).
 *
 * The files are read whole (at most FILE_MAX bytes each); their text is wiped once GnuTLS
 * has parsed it, since one of them is a private key. */
#include "util/tls.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define FILE_MAX (1024 * 1024)

/* Reads the file at path into *out (owned; gnutls_free()-able with free()). */
static ferry_rc read_file(const char *path, const char *what, gnutls_datum_t *out, ferry_err *err)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data;
    size_t n;

    if (f == NULL)
        return ferry_err_set_errno(err, FERRY_ECONFIG, "cannot read the %s file '%s'", what, path);
    if ((data = malloc(FILE_MAX + 1)) == NULL) {
        fclose(f);
        return ferry_err_set(err, FERRY_ENOMEM, "reading the %s file", what);
    }
    n = fread(data, 1, FILE_MAX + 1, f);
    if (ferror(f) || n > FILE_MAX) {
        int failed = ferror(f);
        fclose(f);
        sodium_memzero(data, FILE_MAX + 1);
        free(data);
        return failed
                   ? ferry_err_set(err, FERRY_ECONFIG, "cannot read the %s file '%s'", what, path)
                   : ferry_err_set(err, FERRY_ECONFIG, "the %s file '%s' is larger than 1 MiB",
                                   what, path);
    }
    fclose(f);
    data[n] = '\0';
    out->data = data;
    out->size = (unsigned)n;
    return FERRY_OK;
}

static void wipe_datum(gnutls_datum_t *d)
{
    if (d->data != NULL)
        sodium_memzero(d->data, d->size);
    free(d->data);
    d->data = NULL;
}

/* True when key's public half is the certificate's public key. */
static bool key_matches(gnutls_privkey_t key, gnutls_pcert_st *cert)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
    bool same = false;

    if (gnutls_pubkey_init(&pub) == 0 && gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
        gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) == 0 &&
        gnutls_pubkey_export2(cert->pubkey, GNUTLS_X509_FMT_DER, &b) == 0)
        same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
    gnutls_free(a.data);
    gnutls_free(b.data);
    if (pub != NULL)
        gnutls_pubkey_deinit(pub);
    return same;
}

static void pair_free(ferry_tls_pair *p)
{
    for (unsigned i = 0; i < p->nchain; i++)
        gnutls_pcert_deinit(&p->chain[i]);
    if (p->key != NULL)
        gnutls_privkey_deinit(p->key);
    free(p);
}

ferry_rc ferry_tls_pair_load(const char *cert_path, const char *key_path, ferry_tls_pair **ret_pair,
                             ferry_err *err)
{
    ferry_tls_pair *p = calloc(1, sizeof(*p));
    gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
    ferry_rc rc;

    if (p == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "allocating the TLS pair");
    if ((rc = read_file(cert_path, "certificate", &cert, err)) != FERRY_OK ||
        (rc = read_file(key_path, "key", &key, err)) != FERRY_OK)
        goto out;
    p->nchain = FERRY_TLS_CHAIN_MAX;
    if (gnutls_pcert_list_import_x509_raw(p->chain, &p->nchain, &cert, GNUTLS_X509_FMT_PEM, 0) <
            0 ||
        p->nchain == 0) {
        p->nchain = 0;
        rc = ferry_err_set(err, FERRY_ECONFIG,
                           "the certificate file '%s' holds no PEM certificate (at most %d)",
                           cert_path, FERRY_TLS_CHAIN_MAX);
        goto out;
    }
    if (gnutls_privkey_init(&p->key) < 0 ||
        gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
        rc = ferry_err_set(err, FERRY_ECONFIG,
                           "the key file '%s' holds no PEM private key (without a passphrase)",
                           key_path);
        goto out;
    }
    if (!key_matches(p->key, &p->chain[0])) {
        rc = ferry_err_set(err, FERRY_ECONFIG,
                           "the key file '%s' is not the key of the certificate in '%s'", key_path,
                           cert_path);
        goto out;
    }
    atomic_init(&p->refs, 1);
out:
    wipe_datum(&cert);
    wipe_datum(&key);
    if (rc != FERRY_OK) {
        pair_free(p);
        return rc;
    }
    *ret_pair = p;
    return FERRY_OK;
}

ferry_tls_pair *ferry_tls_pair_ref(ferry_tls_pair *pair)
{
    if (pair != NULL)
        atomic_fetch_add(&pair->refs, 1);
    return pair;
}

void ferry_tls_pair_unref(ferry_tls_pair *pair)
{
    if (pair != NULL && atomic_fetch_sub(&pair->refs, 1) == 1)
        pair_free(pair);
}
