/* main.c - the ferry command: hands argv to the CLI and exits with its status. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return ferry_cli_main(argc, argv);
}
