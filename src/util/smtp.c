/* smtp.c - one plain-text e-mail through an SMTP server, with libcurl (see smtp.h).
 *
 * libcurl speaks the protocol (EHLO, STARTTLS, AUTH, MAIL FROM, RCPT TO, DATA, dot-stuffing);
 * this file builds the message and turns a failure into words a person can act on. libcurl
 * keeps the server's answers to itself, so a debug callback keeps the last answer the server
 * refused with (CURLINFO_HEADER_IN only: what Ferry sends, including AUTH's base64 credentials, is
 * never looked at). */
#include "util/smtp.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/curl_init.h"
#include "util/url.h"
#include "util/utf8.h"

#define MESSAGE_MAX ((size_t)4 * 1024 * 1024)
#define LINE_MAX_BYTES 990 /* RFC 5321: 998 octets before CRLF; a margin */
#define DEFAULT_TIMEOUT_MS 30000L
#define REPLY_MAX 256

/* Appends a header value with CR, LF and other control characters made spaces. */
static ferry_rc append_header_value(ferry_buf *b, const char *s)
{
    ferry_rc rc = FERRY_OK;

    for (const char *p = s; *p != '\0' && rc == FERRY_OK; p++) {
        char c = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
        rc = ferry_buf_append(b, &c, 1);
    }
    return rc;
}

static bool is_ascii(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* The subject as is when it is ASCII, else as RFC 2047 encoded-words of at most 45 bytes of
 * text each (60 base64 characters), cut at character boundaries. */
static ferry_rc append_subject(ferry_buf *b, const char *subject)
{
    size_t len = strlen(subject), at = 0;
    ferry_rc rc = FERRY_OK;

    if (is_ascii(subject) || !ferry_utf8_is_valid(subject, len))
        return append_header_value(b, subject);
    while (at < len && rc == FERRY_OK) {
        char clean[46], enc[sodium_base64_ENCODED_LEN(45, sodium_base64_VARIANT_ORIGINAL)];
        size_t n = len - at < 45 ? len - at : 45;
        while (n > 0 && at + n < len && ((unsigned char)subject[at + n] & 0xC0) == 0x80)
            n--; /* do not split a character */
        for (size_t i = 0; i < n; i++)
            clean[i] = (unsigned char)subject[at + i] < 0x20 ? ' ' : subject[at + i];
        sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)clean, n,
                          sodium_base64_VARIANT_ORIGINAL);
        rc = ferry_buf_printf(b, "%s=?UTF-8?B?%s?=", at > 0 ? "\r\n " : "", enc);
        at += n;
    }
    return rc;
}

/* Appends body with CRLF line ends (a lone CR or LF counts as one), splitting a line longer
 * than LINE_MAX_BYTES at a character boundary. */
static ferry_rc append_body(ferry_buf *b, const char *body)
{
    const char *p = body;
    ferry_rc rc = FERRY_OK;

    while (*p != '\0' && rc == FERRY_OK) {
        size_t n = strcspn(p, "\r\n");
        const char *next = p + n;
        while (n > LINE_MAX_BYTES && rc == FERRY_OK) {
            size_t cut = LINE_MAX_BYTES;
            while (cut > 0 && ((unsigned char)p[cut] & 0xC0) == 0x80)
                cut--;
            rc = ferry_buf_append(b, p, cut);
            if (rc == FERRY_OK)
                rc = ferry_buf_append(b, "\r\n", 2);
            p += cut;
            n -= cut;
        }
        if (rc == FERRY_OK)
            rc = ferry_buf_append(b, p, n);
        if (rc == FERRY_OK)
            rc = ferry_buf_append(b, "\r\n", 2);
        p = next;
        if (p[0] == '\r' && p[1] == '\n')
            p += 2;
        else if (*p != '\0')
            p++;
    }
    return rc;
}

/* The domain of the sender's address, for the Message-ID ("ferry.invalid" without one). */
static const char *from_domain(const char *from)
{
    const char *at = strrchr(from, '@');
    return at != NULL && at[1] != '\0' && strpbrk(at + 1, " <>\r\n") == NULL ? at + 1
                                                                             : "ferry.invalid";
}

char *ferry_smtp_message_format(const ferry_smtp_server *srv, const char *const *to, size_t n_to,
                                const char *subject, const char *body, long long date)
{
    ferry_buf b;
    ferry_rc rc;
    char when[64], id[17];
    unsigned char raw[8];
    time_t t = (time_t)date;
    struct tm tm;

    if (sodium_init() < 0)
        return NULL;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(id, sizeof(id), raw, sizeof(raw));
    ferry_buf_init(&b, MESSAGE_MAX);
    rc = ferry_buf_printf(&b, "Date: %s\r\nFrom: ", when);
    if (rc == FERRY_OK)
        rc = append_header_value(&b, srv->from);
    if (rc == FERRY_OK)
        rc = ferry_buf_append(&b, "\r\nTo: ", 6);
    for (size_t i = 0; i < n_to && rc == FERRY_OK; i++) {
        if (i > 0)
            rc = ferry_buf_append(&b, ",\r\n ", 4);
        if (rc == FERRY_OK)
            rc = append_header_value(&b, to[i]);
    }
    if (rc == FERRY_OK)
        rc = ferry_buf_append(&b, "\r\nSubject: ", 11);
    if (rc == FERRY_OK)
        rc = append_subject(&b, subject);
    if (rc == FERRY_OK)
        rc =
            ferry_buf_printf(&b,
                             "\r\nMessage-ID: <%lld.%s@%s>\r\nMIME-Version: 1.0\r\n"
                             "Content-Type: text/plain; charset=utf-8\r\n"
                             "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n"
                             "\r\n",
                             date, id, from_domain(srv->from));
    if (rc == FERRY_OK)
        rc = append_body(&b, body);
    if (rc != FERRY_OK) {
        ferry_buf_done(&b);
        return NULL;
    }
    return ferry_buf_take(&b);
}

/* What libcurl reads as the message. */
struct upload {
    const char *data;
    size_t len, at;
};

static size_t read_cb(char *out, size_t size, size_t nmemb, void *userp)
{
    struct upload *u = userp;
    size_t n = size * nmemb;

    if (n > u->len - u->at)
        n = u->len - u->at;
    memcpy(out, u->data + u->at, n);
    u->at += n;
    return n;
}

/* Keeps the last refusal the server sent (a line whose code is 4xx or 5xx): the answers that
 * follow it (to QUIT, say) do not say what went wrong. */
static int debug_cb(CURL *easy, curl_infotype type, char *data, size_t size, void *userp)
{
    char *reply = userp;
    size_t n = size;

    (void)easy;
    if (type != CURLINFO_HEADER_IN || size == 0 || (data[0] != '4' && data[0] != '5'))
        return 0;
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        n--;
    if (n == 0)
        return 0;
    if (n >= REPLY_MAX)
        n = REPLY_MAX - 1;
    n = ferry_utf8_valid_prefix(data, n);
    for (size_t i = 0; i < n; i++)
        reply[i] = (unsigned char)data[i] < 0x20 ? ' ' : data[i];
    reply[n] = '\0';
    return 0;
}

static bool url_is_smtps(const char *url)
{
    return strncmp(url, "smtps://", 8) == 0;
}

ferry_rc ferry_smtp_send(const ferry_smtp_server *srv, const char *const *to, size_t n_to,
                         const char *subject, const char *body, ferry_err *err)
{
    char where[512], curl_error[CURL_ERROR_SIZE] = "", reply[REPLY_MAX] = "";
    struct curl_slist *rcpt = NULL;
    struct upload up = {0};
    bool login = srv->user != NULL && srv->password != NULL;
    char *message;
    CURL *easy;
    CURLcode cc;
    long code = 0;
    ferry_rc rc = FERRY_OK;

    ferry_url_redact(srv->url, where, sizeof(where));
    if (strncmp(srv->url, "smtp://", 7) != 0 && !url_is_smtps(srv->url))
        return ferry_err_set(err, FERRY_EINVAL, "%s is not an smtp:// or smtps:// URL", where);
    if (n_to == 0)
        return ferry_err_set(err, FERRY_EINVAL, "an e-mail needs at least one recipient");
    if (login && srv->no_starttls && !url_is_smtps(srv->url))
        return ferry_err_set(err, FERRY_EINVAL,
                             "refusing to send the SMTP password to %s without TLS", where);
    ferry_curl_init();
    message = ferry_smtp_message_format(srv, to, n_to, subject, body, (long long)time(NULL));
    if (message == NULL || (easy = curl_easy_init()) == NULL) {
        free(message);
        return ferry_err_set(err, FERRY_ENOMEM, "preparing an e-mail");
    }
    for (size_t i = 0; i < n_to && rc == FERRY_OK; i++) {
        struct curl_slist *next = curl_slist_append(rcpt, to[i]);
        if (next == NULL)
            rc = ferry_err_set(err, FERRY_ENOMEM, "preparing an e-mail");
        else
            rcpt = next;
    }
    if (rc == FERRY_OK) {
        up.data = message;
        up.len = strlen(message);
        curl_easy_setopt(easy, CURLOPT_URL, srv->url);
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_MAIL_FROM, srv->from);
        curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, rcpt);
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(easy, CURLOPT_READDATA, &up);
        curl_easy_setopt(easy, CURLOPT_INFILESIZE, (long)up.len);
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_error);
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                         srv->timeout_ms > 0 ? srv->timeout_ms : DEFAULT_TIMEOUT_MS);
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, debug_cb);
        curl_easy_setopt(easy, CURLOPT_DEBUGDATA, reply);
        curl_easy_setopt(easy, CURLOPT_PROXY, "");
        if (!url_is_smtps(srv->url))
            curl_easy_setopt(easy, CURLOPT_USE_SSL,
                             srv->no_starttls ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
        if (srv->ca_file != NULL)
            curl_easy_setopt(easy, CURLOPT_CAINFO, srv->ca_file);
        if (login) {
            curl_easy_setopt(easy, CURLOPT_USERNAME, srv->user);
            curl_easy_setopt(easy, CURLOPT_PASSWORD, srv->password);
        }
        cc = curl_easy_perform(easy);
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        if (cc != CURLE_OK) {
            const char *why = curl_error[0] != '\0' ? curl_error : curl_easy_strerror(cc);
            rc = reply[0] != '\0' && code >= 400
                     ? ferry_err_set(err, FERRY_EIO, "the SMTP server %s answered: %s (%s)", where,
                                     reply, why)
                     : ferry_err_set(err, FERRY_EIO, "sending e-mail through %s failed: %s", where,
                                     why);
            if (err != NULL)
                err->transient = !(code >= 500 && code < 600);
        }
    }
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(easy);
    sodium_memzero(message, strlen(message));
    free(message);
    return rc;
}
