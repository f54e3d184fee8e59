/* Temporary dispatcher; replaced by the real command table. */
#include "cli/cli.h"

#include <stdio.h>

int cli_main(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "ferry: not implemented yet\n");
    return 2;
}
