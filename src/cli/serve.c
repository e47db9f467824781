/* serve.c - ferry serve: the server process (HTTP API, event streams, workers, scheduler,
 * notifications), its start-up checks, its main loop and its graceful stop.
 *
 * The config is live (config/live.h): SIGHUP only sets a flag, and the main loop reloads the
 * file (ferry_server_reload(), the same as POST /api/config/reload). */
#include "cli/internal.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "events/bus.h"
#include "events/hub.h"
#include "http/server.h"
#include "notify/notify.h"
#include "queue/pruner.h"
#include "queue/queue.h"
#include "queue/scheduler.h"
#include "queue/workers.h"
#include "store/store.h"
#include "util/log.h"
#include "util/sdnotify.h"
#include "util/timeutil.h"

/* ferry serve: the signals received, and whether the first was SIGTERM (which has a grace
 * period; SIGINT, a person at a terminal, stops at once). */
static atomic_int serve_signals;
static atomic_bool serve_sigterm;
static atomic_bool serve_sighup; /* a reload is asked for */

static void on_serve_sighup(int sig)
{
    (void)sig;
    atomic_store(&serve_sighup, true);
}

static void on_serve_signal(int sig)
{
    if (atomic_fetch_add(&serve_signals, 1) == 0)
        atomic_store(&serve_sigterm, sig == SIGTERM);
}

/* The bus passes on a cancel asked on another node: the worker executing the run (if it is
 * one of ours) stops it. */
static void on_bus_cancel(void *ctx, int64_t run_id, const char *user)
{
    ferry_workers_cancel(ctx, run_id, user);
}

/* A server that cannot write its database can record nothing: it says so and stops before
 * it listens, rather than answer as if healthy. The write is this node's heartbeat row (a
 * busy SQLite database counts as writable). */
static int check_writable(const ferry_config *cfg, ferry_store *store)
{
    char path[4096];
    ferry_err err;

    ferry_err_clear(&err);
    if (store->cluster->node_beat(store, NULL, cfg->workers, &err) == FERRY_OK)
        return 0;
    if (strncmp(cfg->database, "sqlite:", 7) != 0 ||
        ferry_database_sqlite_path(cfg->database, cfg->dir, path, sizeof(path), NULL) != FERRY_OK)
        snprintf(path, sizeof(path), "on PostgreSQL");
    fprintf(stderr,
            "ferry: cannot write to the database %s (%s); Ferry records every run there, so it "
            "does not start: check that the database and its folder are writable by this user, "
            "that the disk has space and that the file system is not mounted read-only\n",
            path, err.msg);
    return EXIT_RUN_FAILED;
}

/* The node's tick (its heartbeat, cancels asked elsewhere) on the current config: a run it
 * ends owes the deliveries that config names. */
static void node_tick(ferry_config_live *live, ferry_queue *queue, ferry_store *store,
                      const char *address, int ticks)
{
    const ferry_config *cfg = ferry_config_live_acquire(live);

    ferry_notify_attach(store, cfg);
    ferry_queue_node_tick(queue, store, address, cfg->workers, ticks);
    ferry_store_planner_set(store, NULL);
    ferry_config_live_release(live, cfg);
}

/* The first SIGTERM or SIGINT: no more scheduled runs and no more claims; running runs may
 * finish for shutdown_grace (SIGTERM; none for SIGINT), a second signal ending the wait at
 * once; then every run still running is rolled back and queued again, and its stored state
 * published, before the HTTP server (and with it the event streams, which send what was
 * published first) stops. The API keeps answering meanwhile. */
static void stop_gracefully(ferry_config_live *live, ferry_store *store, const char *address,
                            ferry_server *server, ferry_scheduler *scheduler,
                            ferry_workers *workers, int ticks)
{
    bool sigterm = atomic_load(&serve_sigterm);
    const ferry_config *cfg = ferry_config_live_acquire(live);
    int64_t grace_ms = sigterm ? cfg->shutdown_grace_ms : 0;
    int64_t deadline = ferry_time_mono_ms() + grace_ms;

    ferry_config_live_release(live, cfg);
    ferry_queue queue = {NULL, workers, NULL}; /* for the node's ticks */
    int busy;

    /* Halted, not freed: the HTTP server, still answering, reads both until it stops. */
    ferry_scheduler_halt(scheduler);
    ferry_workers_drain(workers);
    busy = ferry_workers_busy(workers);
    ferry_sd_stopping();
    ferry_log(FERRY_LOG_INFO, "msg=\"stopping\" signal=%s active_runs=%d grace_ms=%lld",
              sigterm ? "SIGTERM" : "SIGINT", busy, (long long)(busy > 0 ? grace_ms : 0));
    while ((busy = ferry_workers_busy(workers)) > 0) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        if (atomic_load(&serve_signals) > 1) {
            ferry_log(FERRY_LOG_INFO,
                      "msg=\"second signal: the grace period ends now\" active_runs=%d", busy);
            break;
        }
        if (ferry_time_mono_ms() >= deadline) {
            if (grace_ms > 0)
                ferry_log(FERRY_LOG_INFO, "msg=\"grace period over\" active_runs=%d", busy);
            break;
        }
        nanosleep(&ts, NULL);
        ferry_sd_watchdog();    /* the stop is still making progress */
        if (++ticks % 150 == 0) /* every 15 s */
            ferry_server_heartbeat(server);
        if (ticks % 2 == 0) /* the node's heartbeat, and cancels asked elsewhere */
            node_tick(live, &queue, store, address, ticks / 2);
    }
    if (busy > 0)
        ferry_log(FERRY_LOG_INFO,
                  "msg=\"rolling back the runs still going and queueing them again\" "
                  "active_runs=%d",
                  busy);
    ferry_workers_halt(workers);
}

/* SIGHUP: reloads the config; the outcome is logged by the server. systemd hears RELOADING=1
 * before the file is read and READY=1 after, whether the new config serves or a refused one
 * left the old one serving. */
static void reload(ferry_server *server)
{
    ferry_config_reload r;
    ferry_err err;

    ferry_sd_reloading();
    ferry_err_clear(&err);
    if (ferry_server_reload(server, "SIGHUP", &r, &err) == FERRY_OK) {
        ferry_config_reload_done(&r);
        ferry_sd_ready("config reloaded");
    } else {
        ferry_sd_ready("config reload refused: the old config serves");
    }
}

int ferry_cli_serve(const cli_opts *o)
{
    ferry_config *cfg = NULL; /* until live takes it */
    ferry_config_live *live = NULL;
    ferry_store *store = NULL;
    ferry_hub *hub = NULL;
    ferry_workers *workers = NULL;
    ferry_scheduler *scheduler = NULL;
    ferry_bus *bus = NULL;
    ferry_notify *sender = NULL;
    ferry_pruner *pruner = NULL;
    ferry_server *server = NULL;
    ferry_server_options sopt;
    ferry_queue queue;
    char address[300], listen[300];
    struct sigaction sa;
    ferry_err err;
    int status, recovered = 0, ticks = 0;

    if (o->nargs != 0) {
        fprintf(stderr, "ferry: serve takes no arguments (try 'ferry --help')\n");
        return EXIT_USAGE;
    }
    /* Opening the store once here creates or migrates the schema before any thread runs. */
    if ((status = ferry_cli_load(o, &cfg, &store)) != 0)
        return status;
    ferry_err_clear(&err);
    /* Runs of processes of this host that died: interrupted, and started again while their
     * sync's retries allow (nobody is subscribed to events yet). */
    ferry_recovery rec = {ferry_scheduler_retries, NULL, cfg};
    if (store->runs->run_recover(store, &rec, &recovered, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    if (recovered > 0)
        ferry_log(FERRY_LOG_WARN, "msg=\"ended runs left running by a process that died\" runs=%d",
                  recovered);
    if ((status = check_writable(cfg, store)) != 0)
        goto out;
    {
        ferry_user *users = NULL;
        size_t n = 0;
        if (store->people->user_list(store, &users, &n, &err) == FERRY_OK && n == 0)
            ferry_log(FERRY_LOG_WARN, "msg=\"no users yet: every API route answers 401 until one "
                                      "is added (ferry user add NAME --role admin)\"");
        ferry_users_free(users, n);
        ferry_err_clear(&err);
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_serve_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_serve_sighup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Every open event stream is a socket: allow as many as the hard limit permits. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max < 65536 ? nofile.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    /* From here the config is live; cfg stays held until the server listens. */
    status = ferry_config_live_new(cfg, &live, &err) != FERRY_OK ? EXIT_RUN_FAILED : 0;
    cfg = status == 0 ? (ferry_config *)ferry_config_live_acquire(live) : NULL;
    if (status != 0) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        goto out;
    }
    if (ferry_hub_new(1024, &hub, &err) != FERRY_OK ||
        ferry_workers_start(live, hub, &workers, &err) != FERRY_OK ||
        ferry_scheduler_start(live, hub, workers, &scheduler, &err) != FERRY_OK ||
        ferry_notify_start(live, &sender, &err) != FERRY_OK ||
        ferry_pruner_start(live, &pruner, &err) != FERRY_OK ||
        (ferry_bus_wanted(cfg->database) && ferry_bus_start(cfg->database, NULL, hub, on_bus_cancel,
                                                            workers, &bus, &err) != FERRY_OK)) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    queue = (ferry_queue){hub, workers, bus};
    memset(&sopt, 0, sizeof(sopt));
    sopt.live = live;
    sopt.hub = hub;
    sopt.workers = workers;
    sopt.scheduler = scheduler;
    sopt.bus = bus;
    snprintf(listen, sizeof(listen), "%s", o->listen != NULL ? o->listen : cfg->listen);
    sopt.listen = listen;
    if (ferry_server_start(&sopt, &server, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        status = EXIT_USAGE;
        goto out;
    }
    {
        char host[256];
        const char *colon = strrchr(sopt.listen, ':');
        snprintf(host, sizeof(host), "%.*s", (int)(colon - sopt.listen), sopt.listen);
        snprintf(address, sizeof(address), "%s:%u", host, (unsigned)ferry_server_port(server));
        const char *scheme = ferry_server_is_https(server) ? "https" : "http";
        ferry_log(FERRY_LOG_INFO, "msg=\"listening\" url=%s://%s:%u/ workers=%d", scheme, host,
                  (unsigned)ferry_server_port(server), cfg->workers);
        printf("Ferry is listening on %s://%s:%u/ (Ctrl-C stops it)\n", scheme, host,
               (unsigned)ferry_server_port(server));
        fflush(stdout);
    }
    {
        char line[340];
        snprintf(line, sizeof(line), "listening on %s://%s/",
                 ferry_server_is_https(server) ? "https" : "http", address);
        ferry_sd_ready(line);
    }
    /* The first config is now the live config's alone: a reload may free it. */
    ferry_config_live_release(live, cfg);
    cfg = NULL;
    node_tick(live, &queue, store, address, 0);
    while (atomic_load(&serve_signals) == 0) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        /* Only this loop pings systemd's watchdog: a hung loop (a stuck store call, a
         * deadlock) stops the pings and WatchdogSec= restarts the service. */
        ferry_sd_watchdog();
        nanosleep(&ts, NULL);
        if (++ticks % 75 == 0) /* every 15 s */
            ferry_server_heartbeat(server);
        node_tick(live, &queue, store, address, ticks);
        if (atomic_exchange(&serve_sighup, false))
            reload(server);
    }
    stop_gracefully(live, store, address, server, scheduler, workers, ticks);
    status = 0;
out:
    ferry_pruner_stop(pruner); /* a prune in progress stops after its batch */
    ferry_notify_stop(sender); /* a delivery in flight is recorded, to be sent again */
    ferry_server_stop(server);
    ferry_scheduler_stop(scheduler);
    ferry_bus_stop(bus);
    ferry_workers_stop(workers);
    if (store != NULL && server != NULL) {
        ferry_err_clear(&err);
        store->cluster->node_leave(store, &err);
    }
    ferry_hub_free(hub);
    ferry_store_close(store);
    if (live != NULL) {
        ferry_config_live_release(live, cfg);
        ferry_config_live_free(live);
    } else {
        ferry_config_free(cfg);
    }
    return status;
}
