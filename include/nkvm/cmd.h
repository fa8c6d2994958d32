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

/* The control commands: talk to running VMs over their control sockets. */
int cmd_list(int argc, char **argv);
void cmd_list_usage(void);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_stat(int argc, char **argv);

#endif
