/*
 * The virtual machine: KVM handles, guest memory, vCPUs, buses and the
 * legacy devices. Only vm.c, vcpu.c and arch/x86/ include <linux/kvm.h>;
 * this header does not, so the rest of the tree stays KVM-free.
 */
#ifndef NKVM_VM_H
#define NKVM_VM_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "nkvm/boot.h"
#include "nkvm/bus.h"
#include "nkvm/evloop.h"
#include "nkvm/gm.h"
#include "nkvm/i8042.h"
#include "nkvm/rtc.h"
#include "nkvm/serial8250.h"

#define VM_MAX_CPUS 256
/* Port an 8-bit OUT to which stops the VM with that exit status. */
#define VM_EXIT_PORT 0x501
/* Port a write to which opens a gated console input (vm_config) */
#define VM_INPUT_PORT 0x502

/* nkvm's exit statuses (documented in `nkvm run --help` and the README). */
enum {
	EXIT_GUEST_OK = 0,     /* guest powered off, halted or rebooted */
	EXIT_GUEST_CRASH = 1,  /* triple fault, emulation failure, KVM error */
	EXIT_USAGE = 2,        /* bad flag or value, unusable kernel/initrd */
	EXIT_HOST = 3,         /* host setup failed: /dev/kvm, memory, capability */
	EXIT_TIMEOUT = 124,    /* --timeout expired */
};

enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_POWEROFF,
	VM_STOP_HALT,
	VM_STOP_RESET,
	VM_STOP_EXIT_PORT,
	VM_STOP_CRASH,
	VM_STOP_TIMEOUT,
	VM_STOP_SIGNAL,
	VM_STOP_ESCAPE,
};

struct vm;
struct virtio_dev;
struct virtio_slot;

/* virtio-mmio windows: 4 KiB each from VM_VIRTIO_BASE, in the PCI hole
 * below the IOAPIC; at most VM_MAX_VIRTIO (one free GSI each). */
#define VM_VIRTIO_BASE 0xd0000000ULL
#define VM_MAX_VIRTIO  18

struct vcpu_stats {
	unsigned long exits, io, mmio, intr, internal;
};

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	/* set by the vCPU thread at each kick: halted with interrupts off */
	volatile bool halted_for_good;
	struct vcpu_stats stats;
};

/* Counters for the fix-ups a PVM host needs (DESIGN.md section 5). */
struct pvm_stats {
	unsigned long int3, ud2, fwait, clac_stac, mxcsr, vmcall, syscall,
		pf_passthrough, io_denied, other;
};

struct vm_config {
	uint64_t mem_size;
	int ncpus;
	const char *kernel_path;
	const char *initrd_path;
	char *cmdline;            /* full command line */
	int console_in_fd;        /* -1: no input */
	int console_out_fd;
	/* console input framing for `nkvm sandbox` (guest/sandbox_proto.h):
	 * bytes escaped, the end of input sent as a marker */
	bool console_framed;
	/* console input waits until the guest writes VM_INPUT_PORT */
	bool console_gated;
	unsigned timeout_s;       /* 0: none */
	bool verbose;
};

struct vm {
	struct vm_config cfg;
	int kvm_fd, vm_fd;
	int vcpu_mmap_size;
	struct gm gm;
	int ncpus;
	struct vcpu *vcpus;
	struct bus pio, mmio;
	struct serial8250 serial;
	struct i8042 kbd;
	struct rtc rtc;
	struct boot_entry boot;
	struct evl evl;           /* the main thread's event loop */
	struct virtio_slot *virtio[VM_MAX_VIRTIO];
	int nr_virtio;
	void *cpuid;              /* struct kvm_cpuid2 * from KVM */
	bool pvm;                 /* running on a kvm_pvm host */
	struct pvm_stats pvm_stats;
	/* PVM: the int3 nkvm wrote over the NOP opening the guest's page-fault
	 * handler, to repair SYSCALL (see arch/x86/pvm.c) */
	struct {
		pthread_mutex_t lock;
		uint64_t gva;         /* address of the int3, 0 when none */
		unsigned nop_len;     /* length of the NOP it replaced */
		uint8_t orig;         /* the NOP's first byte */
	} pf_hook;
	/* stopping */
	pthread_mutex_t stop_lock;
	enum vm_stop_reason stop_reason;
	int exit_status;
	int stop_efd;             /* eventfd the main loop waits on */
	int console_efd;          /* eventfd: the console has room for input again */
	/* where console input goes; NULL: the UART */
	size_t (*con_push)(void *opaque, const uint8_t *buf, size_t len);
	void *con_opaque;
	/* pausing (vm_pause.c): vCPU threads park before KVM_RUN while
	 * pause_req is set; pause_cond wakes both sides */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool pause_req;
	int nr_parked;
	bool defer_kvm_release;   /* vm_destroy hands KVM fds to kvm_release.h */
	volatile bool input_open;  /* VM_INPUT_PORT was written */
	uint64_t t_start_ns;      /* process start, for the first-run timing */
	FILE *profile;            /* NKVM_PROFILE: RIP samples, one per tick */
	volatile int first_run_logged;
};

/* Open /dev/kvm, check the API and capabilities, create the VM, guest RAM,
 * irqchip, PIT and memory slots. Returns 0 or a negative EXIT_* code after
 * printing one clear error line. */
int vm_create(struct vm *vm, const struct vm_config *cfg) __attribute__((warn_unused_result));

/* Create the vCPUs, set CPUID/MSRs/LAPIC, and the BSP's boot registers. */
int vm_setup_vcpus(struct vm *vm) __attribute__((warn_unused_result));

/* Start one thread per vCPU. */
int vm_start(struct vm *vm) __attribute__((warn_unused_result));

/* Ask the VM to stop (first reason wins) and wake the main loop. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason why, int status);

/* True once a stop was requested. */
bool vm_stopping(struct vm *vm);

/* vm_pause.c: stop every vCPU outside KVM_RUN (guest time stands still
 * as far as its code is concerned) and continue it. Safe from any thread but
 * a vCPU's; idempotent. vm_pause waits until all started vCPUs are parked:
 * 0, or -ETIMEDOUT (then the request stays and the rest park later). */
int vm_pause(struct vm *vm) __attribute__((warn_unused_result));
void vm_resume(struct vm *vm);
bool vm_paused(struct vm *vm);
/* Called by a vCPU thread before each KVM_RUN: parks while paused. */
void vm_pause_point(struct vm *vm);

/* Interrupt every vCPU's KVM_RUN (to stop, or for periodic checks). */
void vm_kick_all(struct vm *vm);

/* Stop the vCPU threads and wait for them (idempotent). */
void vm_join(struct vm *vm);

/* Stop vCPU threads and release everything. */
void vm_destroy(struct vm *vm);

/* Raise or lower an interrupt line of the in-kernel irqchip. */
void vm_irq_line(struct vm *vm, int irq, int level);

/* Have KVM signal fd when the guest writes `datamatch` (len bytes) to MMIO
 * address addr, without an exit to userspace. 0 or -errno. */
int vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned len, uint64_t datamatch,
		 int fd) __attribute__((warn_unused_result));

/* Have KVM raise GSI `gsi` (an edge) whenever fd is signalled. 0 or -errno. */
int vm_irqfd(struct vm *vm, int gsi, int fd) __attribute__((warn_unused_result));

/* vm_virtio.c: give an initialised virtio device an MMIO window and a GSI,
 * wire its kicks and interrupt through KVM and the event loop. 0, or a
 * negative EXIT_* code after one error line. */
int vm_add_virtio(struct vm *vm, struct virtio_dev *d) __attribute__((warn_unused_result));

/* The "virtio_mmio.device=..." parameters for every device added, space
 * separated (malloc'd; "" when none), or NULL without memory. */
char *vm_virtio_cmdline(const struct vm *vm);

/* Reset and release every virtio transport (the models stay the caller's). */
void vm_virtio_destroy(struct vm *vm);

/* devices.c: register the legacy devices on the port bus. */
int devices_init(struct vm *vm) __attribute__((warn_unused_result));

/* vcpu.c */
int vcpu_create(struct vm *vm, struct vcpu *v, int id) __attribute__((warn_unused_result));
void *vcpu_thread(void *arg);
void vcpu_dump(struct vcpu *v, const char *why);
/* Translate a guest virtual address with the vCPU's page tables. */
int vcpu_translate(struct vcpu *v, uint64_t gva, uint64_t *gpa) __attribute__((warn_unused_result));
/* Read guest-virtual memory (may cross pages). 0 or -EFAULT. */
int vcpu_read_virt(struct vcpu *v, uint64_t gva, void *buf, size_t len) __attribute__((warn_unused_result));
int vcpu_write_virt(struct vcpu *v, uint64_t gva, const void *buf, size_t len) __attribute__((warn_unused_result));

/* arch/x86/cpu.c: CPUID, MSRs, LAPIC, FPU, boot registers */
int x86_get_supported_cpuid(struct vm *vm) __attribute__((warn_unused_result));
int x86_setup_vcpu(struct vm *vm, struct vcpu *v) __attribute__((warn_unused_result));
int x86_write_gdt(struct gm *gm) __attribute__((warn_unused_result));

/* arch/x86/pvm.c: the PVM host's fix-ups (DESIGN.md section 5) */
bool pvm_detect(void);
/* Kernel parameters a PVM host needs appended to the command line
 * (malloc'd, NULL when out of memory). */
char *pvm_cmdline(struct vm *vm);
/* KVM_EXIT_INTERNAL_ERROR: complete what the emulator could not. true if
 * handled and the vCPU may continue. */
bool pvm_handle_emulation_failure(struct vcpu *v);
/* Periodic check from a kick: complete a vmcall the vCPU is stuck on. */
void pvm_on_kick(struct vcpu *v);
/* Port I/O exit from the guest: false if guest user mode was not allowed
 * to do it (a #GP has been injected). */
bool pvm_io_allowed(struct vcpu *v, uint16_t port, unsigned size);

#endif
