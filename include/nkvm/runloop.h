/* The main thread's event loop while the guest runs. */
#ifndef NKVM_RUNLOOP_H
#define NKVM_RUNLOOP_H

struct vm;

/*
 * Wait for the VM to stop: forwards console input (with the Ctrl-A x
 * escape) to the UART, turns SIGINT/SIGTERM/SIGHUP into a clean stop,
 * enforces --timeout, kicks the vCPUs periodically to detect a guest
 * halted for good. `sigfd` is a signalfd for the blocked signals.
 * Returns nkvm's exit status.
 */
int runloop(struct vm *vm, int sigfd);

#endif
