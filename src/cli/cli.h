/* cli.h - the ferry command line. */
#ifndef FERRY_CLI_CLI_H
#define FERRY_CLI_CLI_H

/* Runs the ferry command with argv and returns the process exit status. */
int ferry_cli_main(int argc, char **argv);

#endif
