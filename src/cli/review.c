/* review.c - ferry approve and ferry reject: a person's decision on a held run, and ferry
 * revert: a run taken back (docs/review.md). The command line acts as an admin, as it does
 * for users and tokens: who can run it can open the store. An approval and a revert are
 * applied here, in the foreground. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/internal.h"
#include "queue/queue.h"
#include "sync/revert.h"

/* The run id of o's one argument, or 0 (said on stderr). */
static int64_t run_id_arg(const cli_opts *o, const char *cmd)
{
    char *end;
    long long id;

    if (o->nargs != 1) {
        fprintf(stderr, "ferry: %s takes one run id (try 'ferry --help')\n", cmd);
        return 0;
    }
    errno = 0;
    id = strtoll(o->args[0], &end, 10);
    if (errno != 0 || *o->args[0] == '\0' || *end != '\0' || id <= 0) {
        fprintf(stderr, "ferry: %s: '%s' is not a run id\n", cmd, o->args[0]);
        return 0;
    }
    return (int64_t)id;
}

static int decide(const cli_opts *o, bool approve)
{
    const char *cmd = approve ? "approve" : "reject";
    int64_t id = run_id_arg(o, cmd);
    ferry_config *cfg = NULL;
    ferry_store *store = NULL;
    ferry_run run;
    ferry_err err;
    int status;

    if (id == 0)
        return EXIT_USAGE;
    if ((status = ferry_cli_load(o, &cfg, &store)) != 0)
        return status;
    const char *who = getenv("USER");
    ferry_queue_decision d = {.who = who != NULL && *who != '\0' ? who : "cli",
                              .comment = o->comment,
                              .admin = true,
                              .now = true,
                              .data_dir = cfg->data_dir};
    ferry_err_clear(&err);
    ferry_rc rc = approve ? ferry_queue_run_approve(NULL, store, &d, id, &run, &err)
                          : ferry_queue_run_reject(NULL, store, &d, id, false, &run, &err);
    if (rc != FERRY_OK) {
        fprintf(stderr, "ferry: %s %lld: %s\n", cmd, (long long)id, err.msg);
        status = rc == FERRY_ENOTFOUND || rc == FERRY_ECONFLICT ? EXIT_RUN_FAILED : EXIT_USAGE;
    } else if (!approve) {
        printf("Run %lld rejected%s%s. Nothing was applied.\n", (long long)id,
               o->comment != NULL ? ": " : "", o->comment != NULL ? o->comment : "");
        status = 0;
    } else {
        const ferry_sync_spec *sync = ferry_config_sync_get(cfg, run.sync);
        if (sync == NULL) {
            /* Approved, but this config no longer has the sync: it stays running until a
             * server's recovery ends it; say so rather than guess. */
            fprintf(stderr, "ferry: approve %lld: the config has no sync '%s' any more\n",
                    (long long)id, run.sync);
            status = EXIT_USAGE;
        } else {
            printf("Run %lld approved; applying what was reviewed.\n", (long long)id);
            fflush(stdout);
            status = ferry_cli_execute(o, cfg, store, sync, &run);
        }
    }
    if (rc == FERRY_OK)
        ferry_run_done(&run);
    ferry_store_close(store);
    ferry_config_free(cfg);
    return status;
}

int ferry_cli_approve(const cli_opts *o)
{
    return decide(o, true);
}

int ferry_cli_reject(const cli_opts *o)
{
    return decide(o, false);
}

int ferry_cli_revert(const cli_opts *o)
{
    ferry_config *cfg = NULL;
    ferry_store *store = NULL;
    ferry_revert_options opt = {0};
    ferry_change_filter skipped = {.outcome = FERRY_OUTCOME_SKIPPED};
    ferry_change *conflicts = NULL;
    size_t n = 0;
    const char *who = getenv("USER");
    ferry_run run;
    ferry_err err;
    int64_t id = run_id_arg(o, "revert");
    int status;

    if (id == 0)
        return EXIT_USAGE;
    if ((status = ferry_cli_load(o, &cfg, &store)) != 0)
        return status;
    opt.store = store;
    opt.config = cfg;
    opt.run_id = id;
    opt.force = o->force;
    opt.comment = o->comment;
    opt.user = who != NULL && who[0] != '\0' ? who : NULL;
    opt.actor = "cli";
    ferry_err_clear(&err);
    if (ferry_sync_revert(&opt, &run, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    printf("Run %lld (revert of run %lld): %s\n", (long long)run.id, (long long)id,
           ferry_run_status_name(run.status));
    printf("%s\n", run.ui_message != NULL ? run.ui_message : "");
    if (store->runs->change_list(store, run.id, &skipped, &conflicts, &n, &err) == FERRY_OK) {
        if (n > 0)
            printf("Conflicts (left alone; --force reverts them):\n");
        for (size_t i = 0; i < n; i++)
            printf("  %s: %s\n", conflicts[i].record_key ? conflicts[i].record_key : "?",
                   conflicts[i].reason ? conflicts[i].reason : "");
        ferry_changes_free(conflicts, n);
    }
    status = run.status == FERRY_RUN_SUCCEEDED ? 0 : EXIT_RUN_FAILED;
    ferry_run_done(&run);
out:
    ferry_store_close(store);
    ferry_config_free(cfg);
    return status;
}
