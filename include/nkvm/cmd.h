/* Subcommands (src/cmd_*.c), dispatched from main.c. */
#ifndef NKVM_CMD_H
#define NKVM_CMD_H

int cmd_run(int argc, char **argv);
void cmd_run_usage(void);
/* nkvm --api-sock / --config-file (cmd_vmm.c) */
int cmd_vmm(int argc, char **argv);
void cmd_vmm_usage(void);
int cmd_sandbox(int argc, char **argv);
void cmd_sandbox_usage(void);

#endif
