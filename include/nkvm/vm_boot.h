/*
 * Boot the VM a struct vm_spec describes and run it until it stops: the
 * one path `nkvm run`, the API's InstanceStart and a config file share.
 */
#ifndef NKVM_VM_BOOT_H
#define NKVM_VM_BOOT_H

#include <stdint.h>

#include "nkvm/vm_spec.h"

struct vm;

/* Who wants to know (the API server): called on the booting thread. */
struct vm_boot_hooks {
	/* The vCPUs run (vm set, status 0), or the boot failed before they
	 * did (vm NULL, status the exit status; the error line is in
	 * log_last_error()). rd: the devices in use while vm is set. */
	void (*started)(void *opaque, struct vm *vm, struct run_devices *rd, int status);
	/* The VM has stopped and is about to be destroyed. */
	void (*stopping)(void *opaque, struct vm *vm);
	void *opaque;
};

/*
 * Block the signals the main loop reads from a signalfd (SIGINT, SIGTERM,
 * SIGHUP, SIGUSR1) and ignore SIGPIPE. Call before starting any thread, so
 * every thread inherits the mask (vCPU threads unblock their kick signal).
 */
int vm_boot_block_signals(void) __attribute__((warn_unused_result));

/*
 * Check the files, open the devices, create the VM, load the kernel, start
 * the vCPUs and run the event loop until the guest stops. Consumes the
 * spec's devices (s->dev is freed). Returns nkvm's exit status. t0: the
 * process's start (mono_ns), for the first-KVM_RUN timing.
 */
int vm_boot(struct vm_spec *s, const struct vm_boot_hooks *h, uint64_t t0);

#endif
