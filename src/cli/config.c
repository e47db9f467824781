/* config.c - ferry config: prints the effective config as YAML, after the environment's part
 * (${VAR} references, DATABASE_URL, PORT) and with every top-level default, secrets masked
 * (ferry_config_show() does the work). Reads only the file and the environment: no store. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/internal.h"

int ferry_cli_config(const cli_opts *o)
{
    ferry_err err;
    char *yaml = NULL;
    int status = 0;

    if (o->nargs > 0) {
        fprintf(stderr, "ferry: config takes no arguments (try 'ferry --help')\n");
        return EXIT_USAGE;
    }
    ferry_err_clear(&err);
    if (ferry_config_show_file(o->config_path, &yaml, &err) != FERRY_OK) {
        fprintf(stderr, "ferry: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (fputs(yaml, stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "ferry: config: cannot write the output\n");
        status = EXIT_RUN_FAILED;
    }
    free(yaml);
    return status;
}
