/*
 * The VM to boot, whoever describes it: `nkvm run`'s options, the REST API
 * (PUT /boot-source, /machine-config, /drives...) and a Firecracker-style
 * config file all fill one struct vm_spec, and vm_boot() (vm_boot.h) boots
 * it. Strings are malloc'd and owned by the spec.
 */
#ifndef NKVM_VM_SPEC_H
#define NKVM_VM_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nkvm/run_devices.h"
#include "nkvm/vm.h"

/* Firecracker's drive_id / iface_id: we keep up to 64 bytes. */
#define VM_SPEC_ID_MAX 64
/* nkvm's base command line; `nkvm run -p` is appended. pci=off: nkvm has
 * no PCI bus. The console= parameter comes in front of it. */
#define VM_SPEC_BASE_CMDLINE "reboot=k panic=-1 pci=off 8250.nr_uarts=1 no_timer_check"
/* Small by default: on a PVM host boot time grows with RAM (struct page
 * setup is emulated kernel code). */
#define VM_SPEC_DEFAULT_MEM (256ULL << 20)

struct vm_spec {
	char *kernel, *initrd;
	/*
	 * The command line is BASE, the PVM host's parameters, one
	 * virtio_mmio.device= per device, root_args, then params. BASE is
	 * boot_args when set (the API's, which replaces nkvm's own as
	 * Firecracker's does), else "console=ttyS0|hvc0 " VM_SPEC_BASE_CMDLINE
	 * (kernel_console, when set, instead of ttyS0|hvc0); with
	 * base_and_args both: nkvm's base, then boot_args. nkvm_params come
	 * between root_args and params.
	 */
	char *boot_args;
	bool base_and_args;
	char *root_args;          /* "root=/dev/vda rw" for a root drive */
	char *params;             /* `nkvm run -p` */
	uint64_t mem;             /* bytes, a multiple of 2 MiB */
	int cpus;
	unsigned timeout_s;       /* 0: none */
	bool verbose;
	struct run_devices dev;
	/* the API's names for dev.disk[i] and dev.net[i] ("" from the CLI) */
	char disk_id[RUN_MAX_DISKS][VM_SPEC_ID_MAX + 1];
	char nic_id[RUN_MAX_NICS][VM_SPEC_ID_MAX + 1];
	int root_disk;            /* index of the root drive, -1: none */
	char *root_partuuid;
	struct {
		bool set;
		uint32_t guest_cid;
		char *uds_path;
	} vsock;
	/*
	 * Set by `nkvm sandbox` (cmd_sandbox.c) only; the API and config
	 * files leave the defaults.
	 */
	char *kernel_console;     /* the kernel's console= (NULL: by dev.virtio_console) */
	char *nkvm_params;        /* nkvm's own parameters, before params (-p wins) */
	/* bytes appended to the initrd at a 4-byte boundary (a newc cpio
	 * archive: the kernel unpacks concatenated archives in order) */
	uint8_t *initrd_extra;
	size_t initrd_extra_size;
	int uart_out_fd;          /* the UART's (ttyS0's) output; default stdout */
	/* console input framing (guest/sandbox_proto.h) and gating until the
	 * guest writes VM_INPUT_PORT: see struct vm_config */
	bool console_framed, console_gated;
	/* result: why the VM stopped (VM_RUNNING: it never ran); vm_boot sets it */
	enum vm_stop_reason stop_reason;
};

/* Defaults: 256 MiB, one vCPU, the UART on stdout, nothing else. */
void vm_spec_init(struct vm_spec *s);

/* Release every string and device option (not opened devices: those are
 * rundev_free's). */
void vm_spec_free(struct vm_spec *s);

/* A deep copy of the description (not of opened devices), so a boot that
 * consumes one leaves the other intact. 0 or -ENOMEM (dst then empty). */
int vm_spec_copy(struct vm_spec *dst, const struct vm_spec *src)
	__attribute__((warn_unused_result));

/* Replace *slot with a copy of s (NULL clears). 0 or -ENOMEM. */
int vm_spec_set_str(char **slot, const char *s) __attribute__((warn_unused_result));

/* Replace the initrd's appendix with a copy of data (len 0 clears).
 * 0 or -ENOMEM. */
int vm_spec_set_initrd_extra(struct vm_spec *s, const void *data, size_t len)
	__attribute__((warn_unused_result));

/* ${XDG_CACHE_HOME:-~/.cache}/nkvm/default/FILE, malloc'd (NULL: no memory). */
char *vm_spec_default_guest_file(const char *file);

/* The kernel command line for a VM whose PVM parameters and virtio
 * parameters are given ("" or NULL when none); malloc'd, NULL: no memory. */
char *vm_spec_cmdline(const struct vm_spec *s, const char *pvm, const char *virtio);

#endif
