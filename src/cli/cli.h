/* The command line: global options (-c, -f, --log-level), one file per command. */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

int cli_main(int argc, char **argv);

#endif
