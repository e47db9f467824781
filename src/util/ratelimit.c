/* ratelimit.c - per-host token buckets shared by the whole process (see ratelimit.h).
 *
 * The registry is a fixed table of FERRY_RATELIMIT_HOSTS buckets, so it never grows and needs
 * no freeing; a host key longer than HOST_MAX - 1 bytes (no real host and port is) is cut to
 * that length. Lookup is a linear scan, which for 256 entries costs less than one request.
 * The least recently used bucket makes room for a new host; forgetting a bucket only forgets
 * its budget and its pause, which the next 429 restores.
 *
 * Tokens refill on the monotonic clock, so a wall-clock step cannot grant or withhold a burst;
 * pauses are wall-clock times because the service names them that way (Retry-After). A new
 * bucket holds one token, so the first request goes at once and the ones after it are spread
 * out at the rate; an idle bucket fills up to its capacity (one second's worth, at least one).
 *
 * A taker reserves its token under the lock (the count may go below zero) and then sleeps
 * until the reservation is due, so waiting takers are served in the order they came instead
 * of racing for each refill. A cancelled taker gives its token back. The lock is never held
 * while sleeping or calling on_wait. */
#include "util/ratelimit.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/timeutil.h"

#define HOST_MAX 320      /* a DNS name (253) with ":port", and room to spare */
#define SLICE_MS 100      /* the longest sleep between looks at the cancel flag */
#define LONG_WAIT_MS 1000 /* waits longer than this are announced through on_wait */

typedef struct {
    char host[HOST_MAX]; /* "" when the slot is free */
    double per_s;        /* the lowest rate asked for; 0 while none was */
    double tokens;       /* may be negative: tokens reserved by sleeping takers */
    int64_t refilled_mono_ms;
    int64_t paused_until_ms; /* wall clock; 0 when never paused */
    uint64_t used;           /* the registry's tick at the last use, for LRU eviction */
} bucket;

/* registry_lock protects buckets[] and tick. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static bucket buckets[FERRY_RATELIMIT_HOSTS];
static uint64_t tick;

bool ferry_rate_parse(const char *text, double *ret_per_s)
{
    static const struct {
        const char *name;
        double seconds;
    } units[] = {
        {"s", 1},       {"sec", 1},  {"second", 1}, {"m", 60},      {"min", 60},
        {"minute", 60}, {"h", 3600}, {"hr", 3600},  {"hour", 3600},
    };
    const char *unit;
    char *end;
    long count;

    if (text == NULL || *text < '0' || *text > '9')
        return false;
    errno = 0;
    count = strtol(text, &end, 10);
    if (errno != 0 || count <= 0 || *end != '/')
        return false;
    unit = end + 1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(unit, units[i].name) == 0) {
            *ret_per_s = (double)count / units[i].seconds;
            return true;
        }
    }
    return false;
}

static bool same_host(const bucket *b, const char *host)
{
    /* Host names are case-insensitive (RFC 4343). */
    return strncasecmp(b->host, host, HOST_MAX - 1) == 0;
}

/* Caller holds registry_lock. Finds host's bucket or makes one, evicting the least recently
 * used bucket when the table is full. */
static bucket *bucket_get(const char *host, int64_t now_mono)
{
    bucket *found = NULL, *victim = NULL;

    for (size_t i = 0; i < FERRY_RATELIMIT_HOSTS && found == NULL; i++) {
        bucket *b = &buckets[i];
        if (b->host[0] == '\0') {
            if (victim == NULL || victim->host[0] != '\0')
                victim = b; /* a free slot beats any eviction */
        } else if (same_host(b, host)) {
            found = b;
        } else if (victim == NULL || (victim->host[0] != '\0' && b->used < victim->used)) {
            victim = b;
        }
    }
    if (found == NULL) {
        found = victim;
        memset(found, 0, sizeof(*found));
        /* A longer key is cut to the slot, as same_host() compares it. */
        snprintf(found->host, sizeof(found->host), "%s", host);
        found->tokens = 1;
        found->refilled_mono_ms = now_mono;
    }
    found->used = ++tick;
    return found;
}

/* Caller holds registry_lock. Lowers b's rate to per_s when that is lower, and adds the
 * tokens earned since the last refill, up to one second's worth (at least one). */
static void bucket_refill(bucket *b, double per_s, int64_t now_mono)
{
    double cap;

    if (per_s > 0 && (b->per_s <= 0 || per_s < b->per_s))
        b->per_s = per_s;
    if (b->per_s <= 0)
        return;
    cap = b->per_s > 1 ? b->per_s : 1;
    if (now_mono > b->refilled_mono_ms)
        b->tokens += (double)(now_mono - b->refilled_mono_ms) * b->per_s / 1000.0;
    b->refilled_mono_ms = now_mono;
    if (b->tokens > cap)
        b->tokens = cap;
}

static bool is_cancelled(const atomic_bool *cancel)
{
    return cancel != NULL && atomic_load(cancel);
}

/* Sleeps for wait_ms of the monotonic clock in slices of at most SLICE_MS, looking at cancel
 * before each. False when cancelled. */
static bool sleep_for(int64_t wait_ms, const atomic_bool *cancel)
{
    int64_t deadline = ferry_time_mono_ms() + wait_ms;

    for (;;) {
        int64_t left = deadline - ferry_time_mono_ms();
        if (is_cancelled(cancel))
            return false;
        if (left <= 0)
            return true;
        if (left > SLICE_MS)
            left = SLICE_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}

/* Gives a reserved token back to host's bucket, when the bucket is still there. */
static void give_back(const char *host)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < FERRY_RATELIMIT_HOSTS; i++) {
        bucket *b = &buckets[i];
        if (b->host[0] != '\0' && same_host(b, host)) {
            b->tokens += 1;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

ferry_rc ferry_ratelimit_take(const char *host, double per_s, const atomic_bool *cancel,
                              ferry_ratelimit_wait_cb on_wait, void *ctx, ferry_err *err)
{
    bool reserved = false;
    int64_t announced = 0;

    if (host == NULL)
        host = "";
    for (;;) {
        int64_t now_ms, now_mono, wait_ms = 0, until_ms = 0;

        if (is_cancelled(cancel))
            goto out_cancelled;
        pthread_mutex_lock(&registry_lock);
        now_ms = ferry_time_now_ms();
        now_mono = ferry_time_mono_ms();
        bucket *b = bucket_get(host, now_mono);
        bucket_refill(b, per_s, now_mono);
        if (b->paused_until_ms > now_ms) {
            /* A pause comes first, and is looked at again after every wait: a 429 answered to
             * another run while this one slept holds this one too. */
            until_ms = b->paused_until_ms;
            wait_ms = until_ms - now_ms;
        } else if (!reserved && per_s > 0) {
            b->tokens -= 1;
            reserved = true;
            if (b->tokens < 0) {
                wait_ms = (int64_t)ceil(-b->tokens * 1000.0 / b->per_s);
                until_ms = now_ms + wait_ms;
            }
        }
        pthread_mutex_unlock(&registry_lock);

        if (wait_ms <= 0)
            return FERRY_OK;
        if (wait_ms > LONG_WAIT_MS && on_wait != NULL && until_ms != announced) {
            announced = until_ms;
            on_wait(ctx, until_ms);
        }
        if (!sleep_for(wait_ms, cancel))
            goto out_cancelled;
    }

out_cancelled:
    if (reserved)
        give_back(host);
    return ferry_err_set(err, FERRY_ECANCELLED, "cancelled while waiting for the rate limit of %s",
                         host);
}

void ferry_ratelimit_pause(const char *host, int64_t until_ms)
{
    if (host == NULL)
        host = "";
    pthread_mutex_lock(&registry_lock);
    bucket *b = bucket_get(host, ferry_time_mono_ms());
    if (until_ms > b->paused_until_ms)
        b->paused_until_ms = until_ms;
    pthread_mutex_unlock(&registry_lock);
}

void ferry_ratelimit_reset(void)
{
    pthread_mutex_lock(&registry_lock);
    memset(buckets, 0, sizeof(buckets));
    tick = 0;
    pthread_mutex_unlock(&registry_lock);
}
