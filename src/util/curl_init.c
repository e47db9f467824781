/* curl_init.c - libcurl's process-wide setup, once (see curl_init.h). */
#include "util/curl_init.h"

#include <curl/curl.h>
#include <pthread.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void ferry_curl_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}
