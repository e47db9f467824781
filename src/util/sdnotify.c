/* sdnotify.c - sd_notify(3) messages to systemd, through Debian's libsystemd.
 *
 * sd_notify() already does nothing without NOTIFY_SOCKET; this file adds the watchdog's
 * pacing. The watchdog's interval is read once, at the first ferry_sd_watchdog() (the
 * environment does not change later; unset_environment is 0 so that child processes and a
 * later look see the same). A ping goes out when half the interval has passed since the last
 * one, as sd_watchdog_enabled(3) advises, so a main loop turning every 200 ms sends one every
 * 15 s under WatchdogSec=30s. Single-threaded by contract (sdnotify.h): no lock. */
#include "util/sdnotify.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "util/timeutil.h"

/* The watchdog: its interval in ms (0: disabled), whether it was looked up, and the last ping
 * (monotonic ms; -1: none yet). */
static int64_t watchdog_ms;
static bool watchdog_known;
static int64_t watchdog_last = -1;

void ferry_sd_ready(const char *status)
{
    if (status != NULL)
        sd_notifyf(0, "READY=1\nSTATUS=%s", status);
    else
        sd_notify(0, "READY=1");
}

void ferry_sd_reloading(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return;
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
               (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

void ferry_sd_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}

void ferry_sd_status(const char *status)
{
    if (status != NULL)
        sd_notifyf(0, "STATUS=%s", status);
}

void ferry_sd_watchdog(void)
{
    int64_t now;

    if (!watchdog_known) {
        uint64_t usec = 0;
        watchdog_known = true;
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
            watchdog_ms = (int64_t)(usec / 1000u) > 0 ? (int64_t)(usec / 1000u) : 1;
    }
    if (watchdog_ms == 0)
        return;
    now = ferry_time_mono_ms();
    if (watchdog_last >= 0 && now - watchdog_last < watchdog_ms / 2)
        return;
    watchdog_last = now;
    sd_notify(0, "WATCHDOG=1");
}
