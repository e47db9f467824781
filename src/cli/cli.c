/* cli.c - the ferry command line: sync, runs, show, check, --help, --version.
 *
 * Each subcommand loads the config (--config F, else $FERRY_CONFIG, else ./ferry.yaml), opens
 * the store and does one thing. Exit statuses: 0 success, 1 a run failed, 2 a usage or config
 * error, 130 a run cancelled by Ctrl-C. The first Ctrl-C asks the run to cancel (it rolls back
 * and is recorded as cancelled); a second one ends the process at once.
 *
 * Progress goes to stderr: a redrawn bar on a terminal, otherwise a plain line every two
 * seconds, so logs stay readable. Results go to stdout. */
#include "cli/cli.h"
#include "cli/internal.h"

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/names.h"
#include "config/config.h"
#include "events/hub.h"
#include "notify/notify.h"
#include "queue/queue.h"
#include "queue/workers.h"
#include "store/store.h"
#include "sync/check.h"
#include "sync/run.h"
#include "target/target.h"
#include "target/tenants.h"
#include "util/log.h"
#include "util/password.h"
#include "util/text.h"
#include "util/timeutil.h"

static atomic_bool cancel_requested;

static void on_sigint(int sig)
{
    static const char last_word[] = "ferry: a second signal: stopping now; the run's "
                                    "transaction is rolled back\n";

    (void)sig;
    /* A second signal ends the process at once (saying so); any transaction in flight is
     * rolled back by the database, and its run is recovered by the next start. */
    if (atomic_load(&cancel_requested)) {
        ssize_t n = write(STDERR_FILENO, last_word, sizeof(last_word) - 1);
        (void)n;
        _exit(EXIT_CANCELLED);
    }
    atomic_store(&cancel_requested, true);
}

static const char usage_text[] =
    "Usage: ferry COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  sync NAME [--tenant T] [--dry-run] [--preview] [--allow-missing] [--full]\n"
    "                               run one sync now, in the foreground; --preview holds\n"
    "                               it for review (ferry approve applies it); --allow-missing\n"
    "                               lets this run delete or flag more rows than the\n"
    "                               sync's guard.max_missing allows; --full makes an\n"
    "                               incremental sync fetch everything this once\n"
    "  runs [--sync NAME] [--limit N]\n"
    "                               list recent runs, newest first\n"
    "  show RUN_ID [--limit N]      a run's counts, messages and changes\n"
    "  revert RUN_ID [--force] [--comment TEXT]\n"
    "                               undo a succeeded run as a new run: delete what it\n"
    "                               created, restore what it updated, re-insert what it\n"
    "                               deleted; records changed since are conflicts, left\n"
    "                               alone unless --force\n"
    "  check [NAME [--tenant T]]    validate the config; with a name, also fetch the\n"
    "                               source's first page and report what it holds\n"
    "  init SOURCE [--name NAME] [--table TABLE] [--output FILE] [--force]\n"
    "       [--bearer-env VAR | --basic-user USER --password-env VAR |\n"
    "        --header NAME --header-env VAR]\n"
    "                               write a starting config for one sync from a CSV file,\n"
    "                               a CSV URL or a REST URL, guessing fields, types and key\n"
    "  config                       print the effective config as YAML: ${VAR} replaced,\n"
    "                               defaults filled in, secrets masked\n"
    "  serve [--listen HOST:PORT]   run the server: HTTP API, event stream, workers\n"
    "  migrate [--targets]          create or upgrade Ferry's own tables in the database\n"
    "                               (serve and every other command also do it on start);\n"
    "                               --targets also adds the columns new fields need to\n"
    "                               the synced tables Ferry created\n"
    "  user add NAME --role viewer|operator|admin [--password-stdin]\n"
    "  user list | user passwd NAME [--password-stdin] | user disable NAME | user enable NAME\n"
    "                               manage the people who may use the server\n"
    "  token create --user NAME [--name LABEL] | token list | token revoke ID\n"
    "                               API tokens for programs (shown once, stored hashed)\n"
    "  approve RUN_ID [--comment TEXT]\n"
    "                               apply a held run's changes, as reviewed (in the\n"
    "                               foreground; held again if the target changed since)\n"
    "  reject RUN_ID [--comment TEXT]\n"
    "                               drop a held run's changes; nothing is applied\n"
    "  prune [--dry-run]            delete the history retention: no longer keeps (old\n"
    "                               runs, change rows, audit entries); --dry-run only counts\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE            the config file (default: $FERRY_CONFIG, else ferry.yaml)\n"
    "  --log-level LEVEL            debug, info, warn or error: the least a log line must be\n"
    "                               (default: $FERRY_LOG_LEVEL, else the config's log.level,\n"
    "                               else info)\n"
    "  -h, --help                   show this help\n"
    "  -V, --version                show the version\n"
    "\n"
    "Exit status: 0 success, 1 the run failed, 2 usage or config error, 3 the run is held for\n"
    "review, 130 cancelled.\n";

/* FERRY_LOG_LEVEL, unless --log-level was given; a value that is not a level is an error
 * even then, so a typo is never silently ignored. Returns 0, or -1 having said why. */
static int log_level_from_env(cli_opts *o)
{
    const char *env = getenv("FERRY_LOG_LEVEL");
    ferry_log_level level;

    if (env == NULL || env[0] == '\0')
        return 0;
    if (!ferry_log_level_parse(env, &level)) {
        fprintf(stderr,
                "ferry: FERRY_LOG_LEVEL is '%.64s', not a log level (debug, info, warn or "
                "error)\n",
                env);
        return -1;
    }
    if (o->log_level < 0)
        o->log_level = (int)level;
    return 0;
}

static int parse_opts(int argc, char **argv, cli_opts *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"sync", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'n'},
        {"dry-run", no_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"role", required_argument, NULL, 'r'},
        {"password-stdin", no_argument, NULL, 'P'},
        {"user", required_argument, NULL, 'u'},
        {"name", required_argument, NULL, 'N'},
        {"tenant", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"allow-missing", no_argument, NULL, 'M'},
        {"targets", no_argument, NULL, 'T'},
        {"full", no_argument, NULL, 'F'},
        {"force", no_argument, NULL, 'f'},
        {"comment", required_argument, NULL, 'C'},
        {"preview", no_argument, NULL, 'p'},
        {"log-level", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(o, 0, sizeof(*o));
    o->limit = 20;
    o->log_level = -1;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:s:n:dl:r:Pu:N:t:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config_path = optarg;
            o->config_explicit = true;
            break;
        case 's':
            o->sync = optarg;
            break;
        case 'n': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 1 || v > 100000) {
                fprintf(stderr, "ferry: --limit takes a number from 1 to 100000\n");
                return EXIT_USAGE;
            }
            o->limit = (int)v;
            break;
        }
        case 'd':
            o->dry_run = true;
            break;
        case 'M':
            o->allow_missing = true;
            break;
        case 'F':
            o->full = true;
            break;
        case 'T':
            o->targets = true;
            break;
        case 'f':
            o->force = true;
            break;
        case 'l':
            o->listen = optarg;
            break;
        case 'r':
            o->role = optarg;
            break;
        case 'P':
            o->password_stdin = true;
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'N':
            o->label = optarg;
            break;
        case 't':
            o->tenant = optarg;
            break;
        case 'C':
            o->comment = optarg;
            break;
        case 'p':
            o->preview = true;
            break;
        case 'L': {
            ferry_log_level level;
            if (!ferry_log_level_parse(optarg, &level)) {
                fprintf(stderr, "ferry: --log-level takes debug, info, warn or error, not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            o->log_level = (int)level;
            break;
        }
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            fprintf(stderr, "Try 'ferry --help'.\n");
            return EXIT_USAGE;
        }
    }
    o->nargs = argc - optind;
    o->args = argv + optind;
    if (log_level_from_env(o) != 0)
        return EXIT_USAGE;
    if (o->log_level >= 0)
        ferry_log_level_pin((ferry_log_level)o->log_level);
    if (o->config_path == NULL)
        o->config_path = getenv("FERRY_CONFIG");
    if (o->config_path == NULL || o->config_path[0] == '\0')
        o->config_path = "ferry.yaml";
    return 0;
}

int ferry_cli_load(const cli_opts *o, ferry_config **cfg, ferry_store **store)
{
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_config_load(o->config_path, cfg, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        return EXIT_USAGE;
    }
    ferry_log_configure((*cfg)->log.format, (*cfg)->log.level);
    if (store == NULL)
        return 0;
    if (ferry_store_open((*cfg)->database, (*cfg)->dir, store, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        ferry_config_free(*cfg);
        *cfg = NULL;
        return EXIT_USAGE;
    }
    /* ferry sync enqueues the deliveries of its run; a ferry serve on the store sends them */
    ferry_notify_attach(*store, *cfg);
    return 0;
}

/* ---- ferry migrate ---- */

/* The database sync's table lives in. */
static const char *target_database(const ferry_config *cfg, const ferry_sync_spec *sync)
{
    return sync->target.database != NULL ? sync->target.database : cfg->database;
}

/* migrate --targets for one table: step's (sync itself when it has no steps). Returns the
 * exit status. */
static int migrate_target(const ferry_config *cfg, const ferry_sync_spec *sync,
                          const ferry_sync_spec *step, ferry_buf *done)
{
    ferry_err err;
    char who[160];

    if (step == sync)
        snprintf(who, sizeof(who), "sync %s", sync->name);
    else
        snprintf(who, sizeof(who), "sync %s, step %s", sync->name, step->name);
    ferry_buf_reset(done);
    ferry_err_clear(&err);
    if (ferry_target_check(target_database(cfg, step), cfg->dir, step, true, done, &err) !=
        FERRY_OK) {
        fprintf(stderr, "ferry: %s: %s\n", who, err.msg);
        return EXIT_RUN_FAILED;
    }
    if (done->len == 0)
        printf("%s: table %s is up to date\n", who, step->target.table);
    else
        printf("%s: table %s: %s\n", who, step->target.table, ferry_buf_str(done));
    return 0;
}

/* migrate --targets: adds the columns each sync's table lacks, when Ferry created the table,
 * and says what it did. Returns the exit status. */
static int migrate_targets(const ferry_config *cfg)
{
    ferry_buf done;
    int status = 0;

    ferry_buf_init(&done, 64 * 1024);
    for (size_t i = 0; i < cfg->nsyncs; i++)
        for (size_t k = 0; k < ferry_sync_step_count(&cfg->syncs[i]); k++)
            if (migrate_target(cfg, &cfg->syncs[i], ferry_sync_step(&cfg->syncs[i], k), &done) != 0)
                status = EXIT_RUN_FAILED;
    ferry_buf_done(&done);
    return status;
}

/* Opening the store creates or migrates its tables (under a lock, so several nodes starting
 * at once do it once); this command does only that, for deployments that migrate before
 * starting the servers. With --targets it also adds missing columns to the synced tables
 * Ferry created (never to others: those it names, with the statements to run). */
static int cmd_migrate(const cli_opts *o)
{
    ferry_config *cfg = NULL;
    ferry_store *store = NULL;
    int status;

    if (o->nargs != 0) {
        fprintf(stderr, "ferry: migrate takes no arguments (try 'ferry --help')\n");
        return EXIT_USAGE;
    }
    if ((status = ferry_cli_load(o, &cfg, &store)) != 0)
        return status;
    printf("Ferry's tables are up to date.\n");
    ferry_store_close(store);
    if (o->targets)
        status = migrate_targets(cfg);
    ferry_config_free(cfg);
    return status;
}

/* ---- ferry sync ---- */

typedef struct {
    bool tty;
    int64_t last_line_ms;
    bool drew;
} progress_state;

static void on_progress(void *ctx, const ferry_run_progress *p)
{
    progress_state *ps = ctx;
    const ferry_run *run = p->run;
    char rows[32], rate[32], eta[32] = "";
    int64_t now = ferry_time_mono_ms();

    ferry_text_count(run->processed, rows, sizeof(rows));
    ferry_text_count((int64_t)p->rows_per_s, rate, sizeof(rate));
    if (p->eta_ms > 0) {
        char d[24];
        ferry_time_format_duration(p->eta_ms, d, sizeof(d));
        snprintf(eta, sizeof(eta), "  ETA %s", d);
    }
    if (ps->tty) {
        char bar[31];
        int fill = run->percent * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[30] = '\0';
        if (strcmp(run->phase, "fetching") == 0 && run->fetched > 0) {
            /* A REST source's pages: "fetched 1,200 of 5,000" before any row is applied. */
            char got[32], of[48] = "";
            ferry_text_count(run->fetched, got, sizeof(got));
            if (run->total >= 0) {
                char t[32];
                ferry_text_count(run->total, t, sizeof(t));
                snprintf(of, sizeof(of), " of %s%s", run->total_estimated ? "about " : "", t);
            }
            fprintf(stderr, "\r\033[K[%s] %3d%%  %-10s fetched %s%s%s", bar, run->percent,
                    run->phase, got, of, eta);
        } else {
            fprintf(stderr, "\r\033[K[%s] %3d%%  %-10s %s rows  %s rows/s%s", bar, run->percent,
                    run->phase, rows, rate, eta);
        }
        ps->drew = true;
        if (run->status != FERRY_RUN_RUNNING) {
            fputc('\n', stderr);
            ps->drew = false;
        }
    } else {
        if (run->status == FERRY_RUN_RUNNING && now - ps->last_line_ms < 2000)
            return;
        ps->last_line_ms = now;
        fprintf(stderr,
                "progress run=%lld phase=%s percent=%d rows=%lld fetched=%lld rate=%.0f/s\n",
                (long long)run->id, run->phase, run->percent, (long long)run->processed,
                (long long)run->fetched, p->rows_per_s);
    }
    fflush(stderr);
}

int ferry_cli_execute(const cli_opts *o, const ferry_config *cfg, ferry_store *store,
                      const ferry_sync_spec *sync, const ferry_run *started)
{
    progress_state ps = {0};
    ferry_run_options opt;
    struct sigaction sa;
    ferry_run run;
    ferry_err err;
    char dur[32];
    ferry_rc rc;
    int status;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    ps.tty = isatty(STDERR_FILENO);
    memset(&opt, 0, sizeof(opt));
    opt.config = cfg;
    opt.sync = sync;
    opt.store = store;
    opt.run = started;
    opt.cancel = &cancel_requested;
    opt.renew_lease = ferry_queue_lease_renew;
    opt.on_progress = on_progress;
    opt.progress_ctx = &ps;
    opt.progress_interval_ms = ps.tty ? 200 : 1000;
    ferry_err_clear(&err);
    ferry_log_context_set_run(started->id, started->sync, started->tenant);
    rc = ferry_sync_run(&opt, &run, &err);
    ferry_log_context_clear();
    if (rc != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        return EXIT_RUN_FAILED;
    }
    ferry_time_format_duration(run.duration_ms, dur, sizeof(dur));
    printf("Run %lld %s in %s.\n", (long long)run.id, ferry_run_status_name(run.status), dur);
    if (run.dry_run && run.status == FERRY_RUN_SUCCEEDED)
        printf("%s\n", run.log_message);
    else
        printf("%s\n", run.ui_message != NULL ? run.ui_message : "");
    /* A dry run keeps no change rows, so 'ferry show' could not say why: its log message,
     * printed above, lists the failures instead. */
    if (run.status == FERRY_RUN_SUCCEEDED && run.counts[FERRY_OUTCOME_FAILED] > 0 && !run.dry_run)
        printf("See 'ferry show %lld%s%s' for why %lld record%s failed.\n", (long long)run.id,
               o->config_explicit ? " --config " : "", o->config_explicit ? o->config_path : "",
               (long long)run.counts[FERRY_OUTCOME_FAILED],
               run.counts[FERRY_OUTCOME_FAILED] == 1 ? "" : "s");
    if (run.status == FERRY_RUN_HELD)
        printf("Held: %s\nSee its changes with 'ferry show %lld', then 'ferry approve %lld' or "
               "'ferry reject %lld' (--comment TEXT says why).\n",
               run.held_reason != NULL ? run.held_reason : "", (long long)run.id, (long long)run.id,
               (long long)run.id);
    status = run.status == FERRY_RUN_SUCCEEDED   ? 0
             : run.status == FERRY_RUN_HELD      ? EXIT_HELD
             : run.status == FERRY_RUN_CANCELLED ? EXIT_CANCELLED
                                                 : EXIT_RUN_FAILED;
    ferry_run_done(&run);
    return status;
}

static int cmd_sync(const cli_opts *o)
{
    ferry_config *cfg = NULL;
    ferry_store *store = NULL;
    const ferry_sync_spec *sync;
    const char *why;
    ferry_queue_request rq = {0};
    ferry_run started;
    ferry_err err;
    int status;

    if (o->nargs != 1) {
        fprintf(stderr, "ferry: sync takes one sync name (try 'ferry --help')\n");
        return EXIT_USAGE;
    }
    if ((status = ferry_cli_load(o, &cfg, &store)) != 0)
        return status;
    sync = ferry_config_sync_get(cfg, o->args[0]);
    if (sync == NULL) {
        fprintf(stderr, "ferry: %s: no sync named '%s'", cfg->path, o->args[0]);
        for (size_t i = 0; i < cfg->nsyncs; i++)
            fprintf(stderr, "%s%s", i ? ", " : " (the config has: ", cfg->syncs[i].name);
        fprintf(stderr, "%s\n", cfg->nsyncs ? ")" : "");
        status = EXIT_USAGE;
        goto out;
    }
    if ((why = ferry_sync_tenant_problem(sync, o->tenant)) != NULL) {
        fprintf(stderr, "ferry: sync %s%s%s: %s%s\n", sync->name,
                o->tenant != NULL ? ", tenant " : "", o->tenant != NULL ? o->tenant : "", why,
                sync->tenant_variable != NULL && o->tenant == NULL ? " (--tenant)" : "");
        status = EXIT_USAGE;
        goto out;
    }
    ferry_err_clear(&err);
    if (sync->tenants.query != NULL &&
        ferry_tenants_allow(cfg, sync, o->tenant, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: sync %s, tenant %s: %s\n", sync->name, o->tenant,
                err.code == FERRY_EINVAL ? err.msg + strlen("tenant: ") : err.msg);
        status = err.code == FERRY_EINVAL ? EXIT_USAGE : EXIT_RUN_FAILED;
        goto out;
    }

    rq.sync = sync;
    rq.tenant = o->tenant;
    rq.trigger = "cli";
    rq.user = getenv("USER");
    rq.dry_run = o->dry_run;
    rq.allow_missing = o->allow_missing;
    rq.full = o->full;
    rq.preview = o->preview;
    ferry_err_clear(&err);
    if (ferry_queue_run_start(store, &rq, &started, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    status = ferry_cli_execute(o, cfg, store, sync, &started);
    ferry_run_done(&started);
out:
    ferry_store_close(store);
    ferry_config_free(cfg);
    return status;
}

/* ---- ferry runs / show ---- */

static void print_time(int64_t ms)
{
    char iso[FERRY_ISO_TIME_MAX];

    if (ms <= 0) {
        printf("%-20s", "-");
        return;
    }
    ferry_time_format_iso(ms, iso);
    iso[19] = '\0'; /* seconds are enough in a listing */
    iso[10] = ' ';
    printf("%-20s", iso);
}

static int cmd_runs(const cli_opts *o)
{
    ferry_config *cfg = NULL;
    ferry_store *store = NULL;
    ferry_run_filter filter = {.sync = o->sync, .limit = o->limit};
    ferry_run *runs = NULL;
    size_t n = 0;
    ferry_err err;
    int status;

    if (o->nargs != 0) {
        fprintf(stderr, "ferry: runs takes no arguments (try 'ferry --help')\n");
        return EXIT_USAGE;
    }
    if ((status = ferry_cli_load(o, &cfg, &store)) != 0)
        return status;
    ferry_err_clear(&err);
    if (store->runs->run_list(store, &filter, &runs, &n, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    printf("%-6s %-11s %-16s %-20s %-10s %-8s %s\n", "ID", "STATUS", "SYNC", "STARTED (UTC)",
           "DURATION", "BY", "MESSAGE");
    for (size_t i = 0; i < n; i++) {
        char dur[32] = "-";
        if (runs[i].finished_at_ms > 0)
            ferry_time_format_duration(runs[i].duration_ms, dur, sizeof(dur));
        printf("%-6lld %-11s %-16s ", (long long)runs[i].id, ferry_run_status_name(runs[i].status),
               runs[i].sync);
        print_time(runs[i].started_at_ms);
        printf(" %-10s %-8s %s\n", dur, runs[i].user != NULL ? runs[i].user : runs[i].trigger,
               runs[i].ui_message != NULL ? runs[i].ui_message : "");
    }
    if (n == 0)
        printf("(no runs yet)\n");
out:
    ferry_runs_free(runs, n);
    ferry_store_close(store);
    ferry_config_free(cfg);
    return status;
}

/* The run's activity log (run->activity: store.h), one entry a line: "  12:04:05  page  page 2:
 * 100 records, 18211 bytes". */
static void print_activity(const ferry_run *run)
{
    json_t *list = run->activity != NULL ? json_loads(run->activity, 0, NULL) : NULL;
    json_t *e;
    size_t k;

    if (json_is_array(list) && json_array_size(list) > 0)
        printf("\nActivity:\n");
    json_array_foreach(list, k, e)
    {
        const char *at = json_string_value(json_object_get(e, "at"));
        const char *kind = json_string_value(json_object_get(e, "kind"));
        const char *text = json_string_value(json_object_get(e, "text"));
        /* "2026-12-07T18:44:58.123Z" -> "18:44:58" */
        printf("  %.8s  %-9s  %s\n", at != NULL && strlen(at) >= 19 ? at + 11 : "-",
               kind != NULL ? kind : "", text != NULL ? text : "");
    }
    json_decref(list);
}

/* The counts of each step of a run of a sync with steps (run->steps: store.h). */
static void print_steps(const ferry_run *run)
{
    json_t *steps = run->steps != NULL ? json_loads(run->steps, 0, NULL) : NULL;
    size_t k;
    json_t *step;

    json_array_foreach(steps, k, step)
    {
        json_t *n = json_object_get(step, "counts");
        const char *name = json_string_value(json_object_get(step, "name"));
        const char *status = json_string_value(json_object_get(step, "status"));
        json_t *labels = json_object_get(step, "skipped_by_label"), *count;
        const char *label;
        printf("  step %zu:    %s: %lld created, %lld updated, %lld unchanged, %lld skipped, ",
               k + 1, name != NULL ? name : "?",
               (long long)json_integer_value(json_object_get(n, "created")),
               (long long)json_integer_value(json_object_get(n, "updated")),
               (long long)json_integer_value(json_object_get(n, "unchanged")),
               (long long)json_integer_value(json_object_get(n, "skipped")));
        json_object_foreach(labels, label, count)
        {
            printf("%lld %s skipped, ", (long long)json_integer_value(count), label);
        }
        printf("%lld failed, %lld deleted (%s)\n",
               (long long)json_integer_value(json_object_get(n, "failed")),
               (long long)json_integer_value(json_object_get(n, "deleted")),
               status != NULL ? status : "?");
    }
    json_decref(steps);
}

static int cmd_show(const cli_opts *o)
{
    ferry_config *cfg = NULL;
    ferry_store *store = NULL;
    ferry_change *changes = NULL;
    size_t n = 0;
    ferry_run run;
    ferry_err err;
    char *end;
    long long id;
    int status;

    if (o->nargs != 1) {
        fprintf(stderr, "ferry: show takes one run id (try 'ferry runs')\n");
        return EXIT_USAGE;
    }
    id = strtoll(o->args[0], &end, 10);
    if (o->args[0][0] == '\0' || *end != '\0' || id <= 0) {
        fprintf(stderr, "ferry: '%s' is not a run id\n", o->args[0]);
        return EXIT_USAGE;
    }
    if ((status = ferry_cli_load(o, &cfg, &store)) != 0)
        return status;
    ferry_err_clear(&err);
    if (store->runs->run_load(store, id, &run, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        status = err.code == FERRY_ENOTFOUND ? EXIT_USAGE : EXIT_RUN_FAILED;
        goto out;
    }
    char dur[32];
    ferry_time_format_duration(run.duration_ms, dur, sizeof(dur));
    printf("Run %lld of %s%s\n", (long long)run.id, run.sync, run.dry_run ? " (dry run)" : "");
    printf("  status:    %s\n", ferry_run_status_name(run.status));
    printf("  started:   ");
    print_time(run.started_at_ms);
    printf(" by %s (%s%s%s)\n", run.user != NULL ? run.user : "-", run.trigger,
           run.token != NULL ? ", token " : "", run.token != NULL ? run.token : "");
    if (run.cancelled_by != NULL)
        printf("  cancelled: by %s\n", run.cancelled_by);
    if (run.reverts > 0)
        printf("  reverts:   run %lld%s%s%s\n", (long long)run.reverts,
               run.revert_comment != NULL ? " (\"" : "",
               run.revert_comment != NULL ? run.revert_comment : "",
               run.revert_comment != NULL ? "\")" : "");
    printf("  duration:  %s\n", run.finished_at_ms > 0 ? dur : "-");
    if (run.mode != NULL && strcmp(run.mode, "incremental") == 0 && run.since != NULL)
        printf("  mode:      incremental since %.10s %.8s UTC\n", run.since, run.since + 11);
    else if (run.mode != NULL)
        printf("  mode:      %s\n", run.mode);
    printf("  counts:    %lld created, %lld updated, %lld unchanged, %lld skipped, ",
           (long long)run.counts[0], (long long)run.counts[1], (long long)run.counts[2],
           (long long)run.counts[3]);
    for (size_t i = 0; i < run.skipped_by_label.n; i++)
        printf("%lld %s skipped, ", (long long)run.skipped_by_label.items[i].count,
               run.skipped_by_label.items[i].label);
    printf("%lld failed, %lld deleted\n", (long long)run.counts[4], (long long)run.counts[5]);
    print_steps(&run);
    if (run.source_bytes > 0) {
        printf("  source:    %lld bytes", (long long)run.source_bytes);
        if (run.source_records >= 0)
            printf(", %lld records", (long long)run.source_records);
        printf("\n");
    }
    printf("  message:   %s\n", run.ui_message != NULL ? run.ui_message : "");
    if (run.error != NULL)
        printf("  error:     %s\n", run.error);
    if (run.changes_pruned_at_ms > 0) {
        char on[FERRY_ISO_TIME_MAX];
        ferry_time_format_iso(run.changes_pruned_at_ms, on);
        printf("  pruned:    the change detail was pruned on %.10s %.8s UTC; its counts remain\n",
               on, on + 11);
    }
    print_activity(&run);
    if (run.dry_run && run.log_message != NULL)
        printf("\nWhat it would have done (a dry run keeps no change rows):\n%s\n",
               run.log_message);
    if (store->runs->change_list(store, run.id,
                                 &(ferry_change_filter){.outcome = -1, .limit = o->limit}, &changes,
                                 &n, &err) == FERRY_OK) {
        if (n > 0)
            printf("\nChanges (first %zu):\n", n);
        for (size_t i = 0; i < n; i++) {
            const ferry_change *c = &changes[i];
            const char *detail = c->diff != NULL ? c->diff : c->reason;
            if (c->step != NULL)
                printf("  %-8s %-12s", ferry_outcome_name(c->outcome), c->step);
            else
                printf("  %-8s", ferry_outcome_name(c->outcome));
            /* The record's name first when the sync names records (label:). */
            printf(" %-20s %s%s%s\n", c->record_key != NULL ? c->record_key : "-",
                   c->label != NULL ? c->label : "",
                   c->label != NULL && detail != NULL ? " - " : "", detail != NULL ? detail : "");
            if (c->link != NULL) /* where to fix it: the Google Sheet's cell */
                printf("           fix it at %s\n", c->link);
        }
    }
    ferry_run_done(&run);
out:
    ferry_changes_free(changes, n);
    ferry_store_close(store);
    ferry_config_free(cfg);
    return status;
}

static void print_list(const char *title, char **items, size_t n)
{
    if (n == 0)
        return;
    printf("%s: ", title);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", items[i]);
    printf("\n");
}

/* Checks sync's table, when it exists, as a run's start would (changing nothing): 0, or
 * EXIT_USAGE having said why a run would refuse it. A database that cannot be reached is
 * only a warning: the config may be checked where the database is not. */
static int check_target(const ferry_config *cfg, const ferry_sync_spec *sync)
{
    ferry_err err;

    for (size_t k = 0; k < ferry_sync_step_count(sync); k++) {
        const ferry_sync_spec *step = ferry_sync_step(sync, k);
        ferry_err_clear(&err);
        if (ferry_target_check(target_database(cfg, step), cfg->dir, step, false, NULL, &err) ==
            FERRY_OK)
            continue;
        if (err.code == FERRY_ESCHEMA) {
            fprintf(stderr, "ferry: %s: sync %s: %s\n", cfg->path, sync->name, err.msg);
            return EXIT_USAGE;
        }
        fprintf(stderr, "ferry: warning: sync %s: table %s not checked: %s\n", sync->name,
                step->target.table, err.msg);
    }
    return 0;
}

/* Checks the header of sync's source when it is a local CSV file (the columns its fields and
 * templates read): 0, or EXIT_USAGE having said what a run would refuse. */
static int check_header(const ferry_config *cfg, const ferry_sync_spec *sync)
{
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_sync_check_header(cfg, sync, &err) == FERRY_OK)
        return 0;
    fprintf(stderr, "ferry: %s: sync %s: %s\n", cfg->path, sync->name, err.msg);
    return EXIT_USAGE;
}

static int check_tenants(const cli_opts *o, const ferry_config *cfg, const ferry_sync_spec *sync);
static int check_source(const cli_opts *o, const ferry_config *cfg, const ferry_sync_spec *sync,
                        const char *tenant);

/* ferry check NAME: the source's first page, as a person setting the sync up wants it. */
static int check_sync(const cli_opts *o, const ferry_config *cfg)
{
    const ferry_sync_spec *sync = ferry_config_sync_get(cfg, o->args[0]);
    int status;

    if (sync == NULL) {
        fprintf(stderr, "ferry: %s: no sync named '%s'\n", cfg->path, o->args[0]);
        return EXIT_USAGE;
    }
    if ((status = check_target(cfg, sync)) != 0)
        return status;
    if (sync->tenants.query != NULL)
        return check_tenants(o, cfg, sync);
    return check_source(o, cfg, sync, o->tenant);
}

/* ferry check NAME for a sync with tenants.query: the tenants it names now, then the source
 * of the tenant --tenant names (which must be one of them), else of the first. */
static int check_tenants(const cli_opts *o, const ferry_config *cfg, const ferry_sync_spec *sync)
{
    ferry_tenant_list l;
    const char *tenant = o->tenant;
    bool named = false;
    ferry_err err;
    int status;

    ferry_err_clear(&err);
    if (ferry_tenants_read(cfg, sync, &l, &err) != FERRY_OK) {
        printf("%s: tenants not read: %s\n", sync->name, err.msg);
        return EXIT_RUN_FAILED;
    }
    printf("%s: tenants.query names %zu tenant%s", sync->name, l.n, l.n == 1 ? "" : "s");
    for (size_t i = 0; i < l.n && i < 10; i++)
        printf("%s%s", i ? ", " : ": ", l.values[i]);
    printf("%s\n", l.n > 10 ? ", ..." : "");
    for (size_t i = 0; i < l.nrefused; i++)
        printf("left out: %s\n", l.refused[i]);
    for (size_t i = 0; tenant != NULL && i < l.n; i++)
        named = named || strcmp(l.values[i], tenant) == 0;
    if (tenant != NULL && !named) {
        fprintf(stderr, "ferry: sync %s, tenant %s: not one of the tenants tenants.query names\n",
                sync->name, tenant);
        status = EXIT_USAGE;
    } else if (l.n == 0) {
        printf("no tenant to check the source with\n");
        status = EXIT_RUN_FAILED;
    } else {
        status = check_source(o, cfg, sync, tenant != NULL ? tenant : l.values[0]);
    }
    ferry_tenant_list_done(&l);
    return status;
}

/* The source part of ferry check NAME, for tenant (NULL without tenants). */
static int check_source(const cli_opts *o, const ferry_config *cfg, const ferry_sync_spec *sync,
                        const char *tenant)
{
    ferry_check_report r;
    ferry_err err;
    char dur[32];
    int status;

    ferry_err_clear(&err);
    if (ferry_sync_check(cfg, sync, tenant, &cancel_requested, &r, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: sync %s: %s%s\n", sync->name, err.msg,
                sync->tenant_variable != NULL && tenant == NULL ? " (--tenant)" : "");
        return EXIT_USAGE;
    }
    ferry_time_format_duration(r.duration_ms, dur, sizeof(dur));
    if (!r.credentials_read)
        printf("%s: credentials not read, source not tried", sync->name);
    else
        printf("%s: %s, %s", sync->name, r.reachable ? "reachable" : "not reachable",
               !r.reachable      ? "credentials not tried"
               : r.auth_accepted ? "credentials accepted"
                                 : "credentials rejected");
    if (r.found.status > 0)
        printf(" (HTTP %ld, %s)\n", r.found.status, dur);
    else
        printf(" (%s)\n", dur);
    if (r.error != NULL) {
        printf("error: %s\n", r.error);
    } else {
        printf("first page: %lld record%s", (long long)r.found.records,
               r.found.records == 1 ? "" : "s");
        if (r.found.total >= 0)
            printf("; %lld in all", (long long)r.found.total);
        printf("\n");
        print_list("not mapped", r.found.unmapped, r.found.nunmapped);
        print_list("missing", r.found.missing, r.found.nmissing);
    }
    status = r.ok ? 0 : EXIT_RUN_FAILED;
    ferry_check_report_done(&r);
    return status;
}

/* A sync whose source keeps secrets needs the store key: 0, or EXIT_USAGE having said so. */
static int check_store_key(const ferry_config *cfg, const ferry_sync_spec *sync)
{
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_sync_check_store_key(cfg, sync, &err) == FERRY_OK)
        return 0;
    fprintf(stderr, "ferry: %s: sync %s: %s\n", cfg->path, sync->name, err.msg);
    return EXIT_USAGE;
}

static int cmd_check(const cli_opts *o)
{
    ferry_config *cfg = NULL;
    int status;

    if (o->nargs > 1) {
        fprintf(stderr, "ferry: check takes at most one sync name (try 'ferry --help')\n");
        return EXIT_USAGE;
    }
    if ((status = ferry_cli_load(o, &cfg, NULL)) != 0)
        return status;
    if (o->nargs == 1) {
        status = check_sync(o, cfg);
        ferry_config_free(cfg);
        return status;
    }
    for (size_t i = 0; i < cfg->nsyncs; i++) {
        if ((status = check_target(cfg, &cfg->syncs[i])) != 0 ||
            (status = check_header(cfg, &cfg->syncs[i])) != 0 ||
            (status = check_store_key(cfg, &cfg->syncs[i])) != 0) {
            ferry_config_free(cfg);
            return status;
        }
    }
    printf("%s: OK, %zu sync%s", cfg->path, cfg->nsyncs, cfg->nsyncs == 1 ? "" : "s");
    for (size_t i = 0; i < cfg->nsyncs; i++)
        printf("%s%s", i ? ", " : " (", cfg->syncs[i].name);
    printf("%s\n", cfg->nsyncs ? ")" : "");
    ferry_config_free(cfg);
    return 0;
}

/* ---- ferry user ---- */

/* Reads a new password and hashes it into hash. */
static int new_password_hash(const cli_opts *o, char hash[FERRY_PASSWORD_HASH_MAX])
{
    char password[FERRY_PASSWORD_MAX + 1];
    ferry_err err;
    int status = 0;

    ferry_err_clear(&err);
    if (ferry_password_read("Password: ", true, o->password_stdin, password, &err) != FERRY_OK ||
        ferry_password_hash(password, hash, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        status = EXIT_USAGE;
    }
    ferry_password_wipe(password, sizeof(password));
    return status;
}

/* Records an administrative action done on the command line in the audit log: the actor is
 * "cli", the detail names the account that ran it. A failure is reported, not fatal. */
static void cli_audit(ferry_store *store, const char *action, const char *target,
                      const char *detail)
{
    const char *who = getenv("USER");
    char text[256];
    ferry_audit_entry e;
    ferry_err err;

    snprintf(text, sizeof(text), "%s%sby %s on the command line", detail != NULL ? detail : "",
             detail != NULL ? "; " : "", who != NULL && who[0] != '\0' ? who : "someone");
    memset(&e, 0, sizeof(e));
    e.actor = (char *)"cli";
    e.action = (char *)action;
    e.target = (char *)target;
    e.detail = text;
    ferry_err_clear(&err);
    if (store->people->audit_add(store, &e, &err) != FERRY_OK)
        fprintf(stderr, "ferry: warning: the audit log was not written: %s\n", err.msg);
}

static int cmd_user(const cli_opts *o)
{
    const char *sub = o->nargs > 0 ? o->args[0] : "";
    const char *name = o->nargs > 1 ? o->args[1] : NULL;
    char hash[FERRY_PASSWORD_HASH_MAX];
    ferry_config *cfg = NULL;
    ferry_store *store = NULL;
    ferry_err err;
    ferry_rc rc = FERRY_OK;
    int status;

    bool list = strcmp(sub, "list") == 0;
    if (!list && strcmp(sub, "add") != 0 && strcmp(sub, "passwd") != 0 &&
        strcmp(sub, "disable") != 0 && strcmp(sub, "enable") != 0) {
        fprintf(stderr, "ferry: user takes add, list, passwd, disable or enable (try 'ferry "
                        "--help')\n");
        return EXIT_USAGE;
    }
    if (list ? o->nargs != 1 : o->nargs != 2) {
        fprintf(stderr, "ferry: user %s %s\n", sub, list ? "takes no name" : "takes one name");
        return EXIT_USAGE;
    }
    if (name != NULL && !ferry_user_name_ok(name)) {
        fprintf(stderr,
                "ferry: '%s' is not a valid user name (1 to 64 letters, digits, '.', "
                "'_', '@' or '-')\n",
                name);
        return EXIT_USAGE;
    }
    ferry_role role = FERRY_ROLE_VIEWER;
    if (strcmp(sub, "add") == 0 && (o->role == NULL || !ferry_role_parse(o->role, &role))) {
        fprintf(stderr, "ferry: user add needs --role viewer, operator or admin\n");
        return EXIT_USAGE;
    }
    if ((status = ferry_cli_load(o, &cfg, &store)) != 0)
        return status;
    ferry_err_clear(&err);
    if (list) {
        ferry_user *users = NULL;
        size_t n = 0;
        if ((rc = store->people->user_list(store, &users, &n, &err)) == FERRY_OK) {
            printf("%-24s %-9s %-9s %s\n", "NAME", "ROLE", "STATE", "PASSWORD CHANGED (UTC)");
            for (size_t i = 0; i < n; i++) {
                printf("%-24s %-9s %-9s ", users[i].name, ferry_role_name(users[i].role),
                       users[i].disabled ? "disabled" : "active");
                print_time(users[i].password_changed_at_ms);
                printf("\n");
            }
            if (n == 0)
                printf("(no users yet: ferry user add NAME --role admin)\n");
        }
        ferry_users_free(users, n);
    } else if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0) {
        bool add = strcmp(sub, "add") == 0;
        ferry_user existing;
        /* Ask for the password only when the name makes sense. */
        rc = store->people->user_load(store, name, &existing, &err);
        if (rc == FERRY_OK)
            ferry_user_done(&existing);
        if (add && rc == FERRY_OK) {
            rc = ferry_err_set(&err, FERRY_EINVAL, "a user named '%s' already exists", name);
        } else if (add || rc == FERRY_OK) {
            ferry_err_clear(&err);
            if ((status = new_password_hash(o, hash)) != 0)
                goto out;
            rc = add ? store->people->user_add(store, name, role, hash, &err)
                     : store->people->user_set_password(store, name, hash, &err);
            ferry_password_wipe(hash, sizeof(hash));
            if (rc == FERRY_OK) {
                char detail[64];
                snprintf(detail, sizeof(detail), "role %s", ferry_role_name(role));
                cli_audit(store, add ? "user.add" : "user.passwd", name, add ? detail : NULL);
                printf(add ? "User %s added as %s.\n"
                           : "Password of %s changed; its sessions were logged out.\n",
                       name, ferry_role_name(role));
            }
        }
    } else {
        bool disable = strcmp(sub, "disable") == 0;
        rc = store->people->user_set_disabled(store, name, disable, &err);
        if (rc == FERRY_OK) {
            cli_audit(store, disable ? "user.disable" : "user.enable", name, NULL);
            printf("User %s %s.\n", name, disable ? "disabled" : "enabled");
        }
    }
    if (rc != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        status = rc == FERRY_EDB ? EXIT_RUN_FAILED : EXIT_USAGE;
    }
out:
    ferry_store_close(store);
    ferry_config_free(cfg);
    return status;
}

/* ---- ferry token ---- */

static int cmd_token(const cli_opts *o)
{
    const char *sub = o->nargs > 0 ? o->args[0] : "";
    ferry_config *cfg = NULL;
    ferry_store *store = NULL;
    char token[FERRY_TOKEN_MAX], hash[FERRY_TOKEN_HASH_HEX];
    ferry_err err;
    ferry_rc rc = FERRY_OK;
    int64_t id = 0;
    int status;

    if (strcmp(sub, "create") == 0   ? (o->nargs != 1 || o->user == NULL)
        : strcmp(sub, "list") == 0   ? o->nargs != 1
        : strcmp(sub, "revoke") == 0 ? o->nargs != 2
                                     : true) {
        fprintf(stderr, "ferry: token takes create --user NAME [--name LABEL], list or revoke "
                        "ID (try 'ferry --help')\n");
        return EXIT_USAGE;
    }
    if (strcmp(sub, "revoke") == 0) {
        char *end;
        id = strtoll(o->args[1], &end, 10);
        if (o->args[1][0] == '\0' || *end != '\0' || id <= 0) {
            fprintf(stderr, "ferry: '%s' is not a token id (see 'ferry token list')\n", o->args[1]);
            return EXIT_USAGE;
        }
    }
    if ((status = ferry_cli_load(o, &cfg, &store)) != 0)
        return status;
    ferry_err_clear(&err);
    if (strcmp(sub, "create") == 0) {
        const char *label = o->label != NULL ? o->label : "api";
        if (!ferry_token_label_ok(label))
            rc = ferry_err_set(&err, FERRY_EINVAL,
                               "a token name has 1 to 64 characters, none of them control "
                               "characters");
        else if ((rc = ferry_token_new(token, hash, &err)) == FERRY_OK &&
                 (rc = store->people->token_add(store, o->user, label, hash, &id, &err)) ==
                     FERRY_OK) {
            char target[32], detail[160];
            snprintf(target, sizeof(target), "token %lld", (long long)id);
            snprintf(detail, sizeof(detail), "for %s (%s)", o->user, label);
            cli_audit(store, "token.create", target, detail);
            printf("Token %lld for %s (%s). It is shown this once; keep it secret:\n%s\n",
                   (long long)id, o->user, label, token);
        }
        ferry_password_wipe(token, sizeof(token));
    } else if (strcmp(sub, "list") == 0) {
        ferry_token *tokens = NULL;
        size_t n = 0;
        if ((rc = store->people->token_list(store, &tokens, &n, &err)) == FERRY_OK) {
            printf("%-5s %-20s %-20s %-9s %s\n", "ID", "USER", "NAME", "STATE", "CREATED (UTC)");
            for (size_t i = 0; i < n; i++) {
                printf("%-5lld %-20s %-20s %-9s ", (long long)tokens[i].id, tokens[i].user,
                       tokens[i].label, tokens[i].revoked_at_ms > 0 ? "revoked" : "active");
                print_time(tokens[i].created_at_ms);
                printf("\n");
            }
            if (n == 0)
                printf("(no tokens yet)\n");
        }
        ferry_tokens_free(tokens, n);
    } else if ((rc = store->people->token_revoke(store, id, &err)) == FERRY_OK) {
        char target[32];
        snprintf(target, sizeof(target), "token %lld", (long long)id);
        cli_audit(store, "token.revoke", target, NULL);
        printf("Token %lld revoked.\n", (long long)id);
    }
    if (rc != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        status = rc == FERRY_EDB ? EXIT_RUN_FAILED : EXIT_USAGE;
    }
    ferry_store_close(store);
    ferry_config_free(cfg);
    return status;
}

int ferry_cli_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const cli_opts *o);
    } commands[] = {
        {"sync", cmd_sync},           {"runs", cmd_runs},           {"show", cmd_show},
        {"check", cmd_check},         {"serve", ferry_cli_serve},   {"user", cmd_user},
        {"token", cmd_token},         {"migrate", cmd_migrate},     {"approve", ferry_cli_approve},
        {"reject", ferry_cli_reject}, {"revert", ferry_cli_revert}, {"config", ferry_cli_config},
        {"prune", ferry_cli_prune},
    };
    cli_opts o;
    int rc;

    /* --log-level may come before the command too: it is moved after it */
    if (argc >= 4 && strcmp(argv[1], "--log-level") == 0) {
        static char option[] = "--log-level";
        char *level = argv[2];
        argv[1] = argv[3];
        argv[2] = option;
        argv[3] = level;
    } else if (argc >= 3 && strncmp(argv[1], "--log-level=", 12) == 0) {
        char *opt = argv[1];
        argv[1] = argv[2];
        argv[2] = opt;
    }
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("ferry %s\n", FERRY_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "init") == 0) /* options of its own: init.c */
        return ferry_cli_init(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        rc = parse_opts(argc - 1, argv + 1, &o);
        if (rc != 0)
            return rc < 0 ? 0 : rc;
        return commands[i].fn(&o);
    }
    fprintf(stderr, "ferry: unknown command '%s' (try 'ferry --help')\n", argv[1]);
    return EXIT_USAGE;
}
