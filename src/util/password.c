/* password.c - Argon2id hashing and password input (see password.h). */
#include "util/password.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

ferry_rc ferry_password_hash(const char *password, char out[FERRY_PASSWORD_HASH_MAX],
                             ferry_err *err)
{
    size_t len = strlen(password);

    if (sodium_init() < 0)
        return ferry_err_set(err, FERRY_EIO, "the cryptography library could not start");
    if (len < FERRY_PASSWORD_MIN)
        return ferry_err_set(err, FERRY_EINVAL, "a password needs at least %d characters",
                             FERRY_PASSWORD_MIN);
    if (len > FERRY_PASSWORD_MAX)
        return ferry_err_set(err, FERRY_EINVAL, "a password may have at most %d characters",
                             FERRY_PASSWORD_MAX);
    _Static_assert(crypto_pwhash_STRBYTES <= FERRY_PASSWORD_HASH_MAX, "hash buffer too small");
    if (crypto_pwhash_str_alg(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return ferry_err_set(err, FERRY_ENOMEM, "hashing the password ran out of memory");
    return FERRY_OK;
}

bool ferry_password_verify(const char *password, const char *hash)
{
    if (sodium_init() < 0 || password == NULL || hash == NULL)
        return false;
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

ferry_rc ferry_token_new(char out[FERRY_TOKEN_MAX], char hash_hex[FERRY_TOKEN_HASH_HEX],
                         ferry_err *err)
{
    unsigned char raw[32];

    if (sodium_init() < 0)
        return ferry_err_set(err, FERRY_EIO, "the cryptography library could not start");
    randombytes_buf(raw, sizeof(raw));
    memcpy(out, "fy_", 3);
    sodium_bin2base64(out + 3, FERRY_TOKEN_MAX - 3, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    ferry_token_hash(out, hash_hex);
    return FERRY_OK;
}

void ferry_token_hash(const char *token, char hash_hex[FERRY_TOKEN_HASH_HEX])
{
    unsigned char digest[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hash_hex, FERRY_TOKEN_HASH_HEX, digest, sizeof(digest));
}

void ferry_password_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}

void ferry_password_free(char *s)
{
    if (s == NULL)
        return;
    sodium_memzero(s, strlen(s));
    free(s);
}

/* Reads one line into out without its newline. */
static ferry_rc read_line(FILE *in, char *out, ferry_err *err)
{
    size_t n;

    if (fgets(out, FERRY_PASSWORD_MAX + 1, in) == NULL)
        return ferry_err_set(err, FERRY_EINVAL, "no password was given");
    n = strlen(out);
    if (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    else if (!feof(in))
        return ferry_err_set(err, FERRY_EINVAL, "a password may have at most %d characters",
                             FERRY_PASSWORD_MAX);
    if (n > 0 && out[n - 1] == '\r')
        out[--n] = '\0';
    return FERRY_OK;
}

static ferry_rc read_hidden(const char *prompt, char *out, ferry_err *err)
{
    struct termios old, quiet;
    ferry_rc rc;

    fprintf(stderr, "%s", prompt);
    fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return read_line(stdin, out, err);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    rc = read_line(stdin, out, err);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    return rc;
}

ferry_rc ferry_password_read(const char *prompt, bool confirm, bool from_stdin, char *out,
                             ferry_err *err)
{
    char again[FERRY_PASSWORD_MAX + 1];
    ferry_rc rc;

    if (from_stdin)
        return read_line(stdin, out, err);
    if (!isatty(STDIN_FILENO))
        return ferry_err_set(err, FERRY_EINVAL,
                             "standard input is not a terminal: pass --password-stdin to read "
                             "the password from it");
    if ((rc = read_hidden(prompt, out, err)) != FERRY_OK || !confirm)
        return rc;
    rc = read_hidden("Again: ", again, err);
    if (rc == FERRY_OK && strcmp(out, again) != 0)
        rc = ferry_err_set(err, FERRY_EINVAL, "the two passwords differ");
    ferry_password_wipe(again, sizeof(again));
    return rc;
}
