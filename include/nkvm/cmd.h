/* Subcommands (src/cmd_*.c), dispatched from main.c. */
#ifndef NKVM_CMD_H
#define NKVM_CMD_H

int cmd_run(int argc, char **argv);
void cmd_run_usage(void);

#endif
