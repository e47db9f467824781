/* curl_init.h - libcurl's process-wide setup, once.
 *
 * curl_global_init() is not thread-safe and must run before any handle is made; every module
 * that makes a handle (http_fetch.c, http_stream.c, smtp.c) calls ferry_curl_init() first. */
#ifndef FERRY_UTIL_CURL_INIT_H
#define FERRY_UTIL_CURL_INIT_H

/* Runs curl_global_init() the first time it is called in the process; later calls return at
 * once. Safe from any thread. */
void ferry_curl_init(void);

#endif
