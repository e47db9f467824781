/* sdnotify.h - telling systemd how the server is (sd_notify(3)): ready, reloading, stopping,
 * a status line, and the watchdog's keep-alive.
 *
 * Every function is a no-op when the process was not started by systemd with Type=notify
 * (no NOTIFY_SOCKET in the environment), so ferry serve calls them unconditionally. They keep
 * a little process-wide state (the watchdog's interval and its last ping) and are called from
 * one thread only: ferry serve's main thread. */
#ifndef FERRY_UTIL_SDNOTIFY_H
#define FERRY_UTIL_SDNOTIFY_H

/* READY=1 with STATUS=status (borrowed; NULL sends READY=1 alone): the server listens and
 * answers. */
void ferry_sd_ready(const char *status);

/* RELOADING=1 (with MONOTONIC_USEC, as Type=notify-reload expects): the configuration is being
 * read again; ferry_sd_ready() says when it is done. */
void ferry_sd_reloading(void);

/* STOPPING=1: the server began its graceful stop. */
void ferry_sd_stopping(void);

/* STATUS=status (borrowed): one line for `systemctl status`. */
void ferry_sd_status(const char *status);

/* WATCHDOG=1 when systemd's watchdog is enabled for this process (WatchdogSec=, seen through
 * sd_watchdog_enabled()), at most once every half of its interval: the caller may call it on
 * every turn of its loop. Only a loop that turns keeps the service alive, so call it from the
 * loop whose hang must lead to a restart, not from a thread of its own. */
void ferry_sd_watchdog(void);

#endif
