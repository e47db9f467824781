/* internal.h - what the command line's files share (cli.c: the commands and their options;
 * review.c: approve, reject and revert; serve.c: the server; init.c: a starting config;
 * config.c: ferry config; prune.c: retention). */
#ifndef FERRY_CLI_INTERNAL_H
#define FERRY_CLI_INTERNAL_H

#include <stdbool.h>

#include "config/config.h"
#include "store/store.h"

#define EXIT_RUN_FAILED 1
#define EXIT_USAGE 2
#define EXIT_HELD 3 /* the run is held for review (docs/review.md) */
#define EXIT_CANCELLED 130

typedef struct {
    const char *config_path;
    bool config_explicit; /* --config was given */
    const char *sync;
    int limit;
    bool dry_run;
    bool allow_missing; /* sync --allow-missing */
    bool full;          /* sync --full */
    bool preview;       /* sync --preview */
    bool targets;       /* migrate --targets */
    const char *listen; /* serve --listen */
    const char *role;   /* user add --role */
    bool password_stdin;
    const char *user;    /* token create --user */
    const char *label;   /* token create --name */
    const char *tenant;  /* sync, check --tenant */
    bool force;          /* revert --force */
    const char *comment; /* approve, reject, revert --comment */
    int log_level;       /* --log-level, else $FERRY_LOG_LEVEL (a ferry_log_level); -1:
                            neither, the config's log.level decides */
    int nargs;
    char **args;
} cli_opts;

/* Loads the config and (store not NULL) opens the store, saying what failed on stderr:
 * 0, or the exit status. */
int ferry_cli_load(const cli_opts *o, ferry_config **cfg, ferry_store **store);

/* Executes started (recorded running, this process holding its lease) in the foreground:
 * progress on stderr, Ctrl-C cancels; prints how it ended and returns the exit status. */
int ferry_cli_execute(const cli_opts *o, const ferry_config *cfg, ferry_store *store,
                      const ferry_sync_spec *sync, const ferry_run *started);

/* ferry serve [--listen HOST:PORT] (serve.c). */
int ferry_cli_serve(const cli_opts *o);

/* ferry approve RUN_ID [--comment TEXT], ferry reject RUN_ID [--comment TEXT] (review.c). */
int ferry_cli_approve(const cli_opts *o);
int ferry_cli_reject(const cli_opts *o);
/* ferry revert RUN_ID [--force] [--comment TEXT] (review.c). */
int ferry_cli_revert(const cli_opts *o);
/* ferry init SOURCE [OPTIONS] (init.c): parses its own options; argv[0] is "init". */
int ferry_cli_init(int argc, char **argv);

/* ferry config: the effective config, secrets masked (config.c). */
int ferry_cli_config(const cli_opts *o);
/* ferry prune [--dry-run] (prune.c). */
int ferry_cli_prune(const cli_opts *o);

#endif
