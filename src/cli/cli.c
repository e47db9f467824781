/* cli.c - parses the command line and dispatches to the subcommands. */
#include "cli/cli.h"

#include <stdio.h>

int ferry_cli_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("ferry %s\n", FERRY_VERSION);
    return 0;
}
