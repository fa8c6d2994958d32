/* Boot a struct vm_spec and run it (see vm_boot.h); moved out of
 * cmd_run.c so the API and config files boot the same way. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nkvm/boot.h"
#include "nkvm/e820.h"
#include "nkvm/kvm_release.h"
#include "nkvm/log.h"
#include "nkvm/mptable.h"
#include "nkvm/run_devices.h"
#include "nkvm/runloop.h"
#include "nkvm/term.h"
#include "nkvm/vm.h"
#include "nkvm/vm_boot.h"
#include "nkvm/vm_spec.h"
#include "nkvm/vsock_opts.h"

#define MAX_FILE_SIZE (1ULL << 30)

/* Map a whole regular file read-only (no copy: the loaders copy straight
 * into guest RAM). On error prints one line and returns NULL. */
static uint8_t *map_file(const char *what, const char *path, size_t *size)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		log_err("%s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_err("%s %s: not a regular file", what, path);
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size > MAX_FILE_SIZE || st.st_size == 0) {
		log_err("%s %s: %s", what, path, st.st_size ? "larger than 1 GiB" : "empty file");
		close(fd);
		return NULL;
	}
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_err("%s %s: cannot map: %s", what, path, strerror(errno));
		return NULL;
	}
	*size = st.st_size;
	return p;
}

/* Check the kernel's format before touching /dev/kvm, so a bad file is a
 * usage error even on a machine without KVM. */
static int prevalidate(const struct boot_image *img)
{
	char err[BOOT_ERR_LEN] = "";
	struct bzimage_info bz;
	struct pvh_info pvh;
	int r = -EINVAL;

	switch (boot_detect(img->kernel, img->kernel_size)) {
	case BOOT_BZIMAGE:
		r = bzimage_parse(img->kernel, img->kernel_size, &bz, err, sizeof(err));
		break;
	case BOOT_PVH:
		r = pvh_parse(img->kernel, img->kernel_size, &pvh, err, sizeof(err));
		break;
	default:
		snprintf(err, sizeof(err), "%s: not a Linux kernel (no bzImage or ELF header)",
			 img->kernel_name);
	}
	if (r < 0)
		log_err("%s", err);
	return r;
}

static int load_guest(struct vm *vm, const struct boot_image *img)
{
	char err[BOOT_ERR_LEN] = "";
	struct e820_map e820;
	int r;

	e820_build(&e820, &vm->gm);
	r = boot_load(&vm->gm, img, &e820, &vm->boot, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err[0] ? err : strerror(-r));
		return -EXIT_USAGE;
	}
	if (x86_write_gdt(&vm->gm) < 0 || boot_write_page_tables(&vm->gm) < 0 ||
	    mptable_write(&vm->gm, vm->cfg.ncpus) < 0) {
		log_err("cannot write the boot tables into guest memory");
		return -EXIT_HOST;
	}
	return 0;
}

static void signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

int vm_boot_block_signals(void)
{
	sigset_t set;

	signal_set(&set);
	signal(SIGPIPE, SIG_IGN);
	return pthread_sigmask(SIG_BLOCK, &set, NULL) ? -1 : 0;
}

/* The signalfd the main loop reads; vCPU threads inherit the mask and
 * unblock only their kick signal. */
static int setup_signals(void)
{
	sigset_t set;

	if (vm_boot_block_signals() < 0)
		return -1;
	signal_set(&set);
	sigdelset(&set, SIGUSR1);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static const char *stop_reason_name(enum vm_stop_reason r)
{
	switch (r) {
	case VM_STOP_POWEROFF: return "power off";
	case VM_STOP_HALT: return "halted";
	case VM_STOP_RESET: return "reset";
	case VM_STOP_EXIT_PORT: return "exit port";
	case VM_STOP_CRASH: return "crash";
	case VM_STOP_TIMEOUT: return "timeout";
	case VM_STOP_SIGNAL: return "signal";
	case VM_STOP_ESCAPE: return "console escape";
	default: return "running";
	}
}

static void report(struct vm *vm)
{
	const struct pvm_stats *p = &vm->pvm_stats;
	unsigned long exits = 0, io = 0, mmio = 0;
	int i;

	for (i = 0; i < vm->ncpus; i++) {
		exits += vm->vcpus[i].stats.exits;
		io += vm->vcpus[i].stats.io;
		mmio += vm->vcpus[i].stats.mmio;
	}
	log_info("stopped: %s, exit status %d; %lu exits (%lu pio, %lu mmio), %lu unhandled pio, %lu unhandled mmio",
		 stop_reason_name(vm->stop_reason), vm->exit_status, exits, io, mmio,
		 vm->pio.unhandled, vm->mmio.unhandled);
	if (vm->pvm)
		log_info("pvm fix-ups: int3 %lu, ud2 %lu, fwait %lu, clac/stac %lu, mxcsr %lu, vmcall %lu, syscall %lu, page faults seen %lu, io denied %lu",
			 p->int3, p->ud2, p->fwait, p->clac_stac, p->mxcsr, p->vmcall,
			 p->syscall, p->pf_passthrough, p->io_denied);
}

static void hook_started(const struct vm_boot_hooks *h, struct vm *vm,
			 struct run_devices *rd, int status)
{
	if (h && h->started)
		h->started(h->opaque, vm, rd, status);
}

static int run_vm(struct vm_spec *s, struct boot_image *img, uint64_t t0,
		  const struct vm_boot_hooks *h)
{
	struct vm vm;
	struct vm_config cfg = {
		.mem_size = s->mem,
		.ncpus = s->cpus,
		.kernel_path = s->kernel,
		.initrd_path = s->initrd,
		.console_in_fd = STDIN_FILENO,
		.console_out_fd = s->uart_out_fd,
		.console_framed = s->console_framed,
		.console_gated = s->console_gated,
		.timeout_s = s->timeout_s,
		.verbose = s->verbose,
	};
	char *pvm = NULL, *virtio = NULL;
	int r, sigfd = -1;

	memset(&vm, 0, sizeof(vm));
	vm.t_start_ns = t0;
	vm.defer_kvm_release = kvm_release_deferrable();
	r = vm_create(&vm, &cfg);
	if (!r)
		r = rundev_attach(&s->dev, &vm);
	if (!r) {
		/* console, nkvm's base, PVM work-arounds, the virtio devices,
		 * then -p (last, so the user's parameters win) */
		if (vm.pvm)
			pvm = pvm_cmdline(&vm);
		virtio = vm_virtio_cmdline(&vm);
		cfg.cmdline = (!vm.pvm || pvm) && virtio ?
			      vm_spec_cmdline(s, pvm, virtio) : NULL;
		vm.cfg.cmdline = cfg.cmdline;
		img->cmdline = cfg.cmdline;
		if (!cfg.cmdline) {
			log_err("out of memory for the kernel command line");
			r = -EXIT_HOST;
		}
	}
	if (!r)
		r = load_guest(&vm, img);
	if (!r)
		r = devices_init(&vm) < 0 ? -EXIT_HOST : 0;
	if (!r)
		r = vm_setup_vcpus(&vm);
	if (!r) {
		sigfd = setup_signals();
		if (sigfd < 0) {
			log_err("signalfd: %s", strerror(errno));
			r = -EXIT_HOST;
		}
	}
	if (!r) {
		log_debug("kernel command line: %s", cfg.cmdline);
		if (term_raw(STDIN_FILENO) < 0)
			log_warn("cannot put the terminal in raw mode: %s", strerror(errno));
		r = vm_start(&vm);
		hook_started(h, r ? NULL : &vm, &s->dev, r ? -r : 0);
		if (!r)
			r = runloop(&vm, sigfd);
		vm_join(&vm);
		if (h && h->stopping)
			h->stopping(h->opaque, &vm);
		term_restore();
		report(&vm);
		s->stop_reason = vm.stop_reason;
		vm_destroy(&vm);
	} else {
		vm_destroy(&vm);
		r = -r;
		hook_started(h, NULL, NULL, r);
	}
	rundev_free(&s->dev);
	if (sigfd >= 0)
		close(sigfd);
	free(cfg.cmdline);
	free(pvm);
	free(virtio);
	return r;
}

/* The initrd with the spec's appendix after it, at a 4-byte boundary as
 * the newc format wants (malloc'd; NULL without memory). */
static uint8_t *join_initrd(const uint8_t *initrd, size_t size, const struct vm_spec *s,
			    size_t *out_size)
{
	size_t pad = (4 - size % 4) % 4;
	uint8_t *p = malloc(size + pad + s->initrd_extra_size);

	if (!p)
		return NULL;
	if (size)
		memcpy(p, initrd, size);
	memset(p + size, 0, pad);
	memcpy(p + size + pad, s->initrd_extra, s->initrd_extra_size);
	*out_size = size + pad + s->initrd_extra_size;
	return p;
}

int vm_boot(struct vm_spec *s, const struct vm_boot_hooks *h, uint64_t t0)
{
	struct boot_image img = { 0 };
	uint8_t *kernel = NULL, *initrd = NULL, *joined = NULL;
	size_t initrd_size = 0;
	int r = EXIT_USAGE;

	s->stop_reason = VM_RUNNING;
	if (s->verbose)
		log_threshold = LOG_DEBUG;
	if (!s->kernel) {
		log_err("no kernel given");
		goto out;
	}
	if (s->vsock.set) {
		/* PUT /vsock or a config file: the same device as --vsock */
		char err[256];

		if (vsock_opts_set(&s->dev.vsock, s->vsock.guest_cid, s->vsock.uds_path, err,
				   sizeof(err)) < 0) {
			log_err("vsock: %s", err);
			goto out;
		}
	}
	kernel = map_file("kernel", s->kernel, &img.kernel_size);
	if (!kernel)
		goto out;
	img.kernel = kernel;
	img.kernel_name = s->kernel;
	if (s->initrd) {
		initrd = map_file("initrd", s->initrd, &initrd_size);
		if (!initrd)
			goto out;
		img.initrd = initrd;
		img.initrd_size = initrd_size;
	}
	if (s->initrd_extra_size) {
		joined = join_initrd(initrd, initrd_size, s, &img.initrd_size);
		if (!joined) {
			log_err("initrd: out of memory");
			r = EXIT_HOST;
			goto out;
		}
		img.initrd = joined;
	}
	if (prevalidate(&img) < 0 || rundev_open(&s->dev) < 0)
		goto out;
	r = run_vm(s, &img, t0, h);
	goto done;
out:
	hook_started(h, NULL, NULL, r);
done:
	if (kernel)
		munmap(kernel, img.kernel_size);
	if (initrd)
		munmap(initrd, initrd_size);
	free(joined);
	rundev_free(&s->dev);
	return r;
}
