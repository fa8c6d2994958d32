/* `nkvm run`: parse options, load the kernel, build the VM, run it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nkvm/boot.h"
#include "nkvm/clock.h"
#include "nkvm/cmd.h"
#include "nkvm/e820.h"
#include "nkvm/log.h"
#include "nkvm/mptable.h"
#include "nkvm/opts.h"
#include "nkvm/run_devices.h"
#include "nkvm/runloop.h"
#include "nkvm/term.h"
#include "nkvm/vm.h"

/* Small by default: on a PVM host boot time grows with RAM (struct page
 * setup is emulated kernel code). */
#define DEFAULT_MEM   (256ULL << 20)
/* parse_args() result for --help: not an error, nothing to run */
#define RUN_HELP_SHOWN 1000
#define MAX_FILE_SIZE (1ULL << 30)
/* nkvm's base command line; -p is appended. pci=off: nkvm has no PCI bus. */
#define BASE_CMDLINE "reboot=k panic=-1 pci=off 8250.nr_uarts=1 no_timer_check"

struct run_opts {
	const char *kernel, *initrd, *params;
	char *default_kernel, *default_initrd;
	uint64_t mem;
	uint64_t cpus;
	uint64_t timeout;
	bool verbose;
	struct run_devices dev;
};

void cmd_run_usage(void)
{
	printf(
"usage: nkvm run [options]\n"
"\n"
"Boot a Linux guest. With no -k, boots the default guest built by\n"
"guest/build.sh (${XDG_CACHE_HOME:-~/.cache}/nkvm/default).\n"
"\n"
"  -k, --kernel FILE     bzImage, or ELF vmlinux with a PVH note\n"
"  -i, --initrd FILE     initramfs/initrd (default guest: its initramfs)\n"
"  -p, --params STRING   appended to nkvm's kernel command line\n"
"  -m, --mem SIZE        guest RAM: 512M, 4G, or MiB (default 256M; 64M-1T)\n"
"  -c, --cpus N          vCPUs, 1-%d (default 1)\n"
"      --console serial  guest console on this terminal through the 16550 UART\n"
"                        (ttyS0, the default)\n"
"      --console virtio  guest console on this terminal through virtio-console\n"
"                        (hvc0)\n"
"      --disk path=FILE[,ro=on][,direct=on][,serial=ID]\n"
"                        a virtio-blk disk (/dev/vda, vdb... in order): a raw\n"
"                        image or block device; ro=on read-only, direct=on\n"
"                        O_DIRECT, serial= up to 20 characters; repeatable\n"
"      --net user[,hostfwd=tcp:[ADDR]:PORT-[GADDR]:GPORT]...[,restrict=on][,mac=MAC]\n"
"                        user-mode networking (the default: one such NIC):\n"
"                        10.0.2.15/24 by DHCP, gateway and host 10.0.2.2, DNS\n"
"                        10.0.2.3; hostfwd binds 127.0.0.1 unless ADDR is given\n"
"      --net tap[,ifname=NAME][,mac=MAC]\n"
"                        a tap device: NAME if it exists, else a new one that\n"
"                        is removed when nkvm exits\n"
"      --net none        no network interface\n"
"      --share HOSTDIR:TAG[,ro=on]\n"
"                        share a host directory (virtio-9p); in the guest:\n"
"                        mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt\n"
"      --rng             a virtio-rng entropy device (/dev/hwrng)\n"
"      --vsock [cid=N,]uds=PATH\n"
"                        virtio-vsock, guest CID N (default 3): host clients\n"
"                        connect to PATH and send 'CONNECT <port>\\n'; guest\n"
"                        connects to CID 2 port P reach PATH_P\n"
"      --timeout SECONDS stop the guest after this long (exit status 124)\n"
"  -v, --verbose         debug messages on stderr\n"
"  -h, --help            this text\n"
"\n"
"Console: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A.\n"
"\n"
"Exit status:\n"
"  0    the guest powered off, halted or rebooted, or Ctrl-A x was typed\n"
"  1    the guest crashed (triple fault, emulation failure, KVM error)\n"
"  2    usage error: bad option or value, missing or unusable kernel,\n"
"       initrd or disk image, a disk image in use by another VM\n"
"  3    host setup failed: /dev/kvm missing or not permitted, KVM too old,\n"
"       no memory\n"
"  124  --timeout expired\n"
"  128+N  stopped by signal N (130 SIGINT, 143 SIGTERM)\n"
"  other  the status the guest wrote to port 0x501 (nkvm-init's nkvm.cmd)\n",
	VM_MAX_CPUS);
}

static char *cache_path(const char *file)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *p = NULL;
	int r;

	if (xdg && *xdg)
		r = asprintf(&p, "%s/nkvm/default/%s", xdg, file);
	else
		r = asprintf(&p, "%s/.cache/nkvm/default/%s", home ? home : "/", file);
	return r < 0 ? NULL : p;
}

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

static __attribute__((format(printf, 1, 2))) int usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "nkvm: %s (see nkvm run --help)\n", msg);
	return -EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "params", required_argument, NULL, 'p' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "console", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "disk", required_argument, NULL, 'D' },
		{ "rng", no_argument, NULL, 'R' },
		{ "net", required_argument, NULL, 'N' },
		{ "share", required_argument, NULL, 'S' },
		{ "vsock", required_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->mem = DEFAULT_MEM;
	o->cpus = 1;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":k:i:p:m:c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': o->kernel = optarg; break;
		case 'i': o->initrd = optarg; break;
		case 'p': o->params = optarg; break;
		case 'm':
			if (opts_parse_size(optarg, &o->mem) < 0)
				return usage_error("--mem '%s': not a size (examples: 512M, 4G)", optarg);
			if (o->mem < GM_MIN_SIZE || o->mem > GM_MAX_SIZE)
				return usage_error("--mem '%s': must be between 64M and 1T", optarg);
			/* round up to the 2 MiB granule guest memory uses */
			o->mem = (o->mem + (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
			break;
		case 'c':
			if (opts_parse_uint(optarg, 1, VM_MAX_CPUS, &o->cpus) < 0)
				return usage_error("--cpus '%s': must be a number from 1 to 256", optarg);
			break;
		case 'C':
			if (!strcmp(optarg, "serial"))
				o->dev.virtio_console = false;
			else if (!strcmp(optarg, "virtio"))
				o->dev.virtio_console = true;
			else
				return usage_error("--console '%s': 'serial' or 'virtio'", optarg);
			break;
		case 'D': {
			char err[256];

			if (rundev_parse_disk(&o->dev, optarg, err, sizeof(err)) < 0)
				return usage_error("%s", err);
			break;
		}
		case 'R':
			o->dev.rng = true;
			break;
		case 'N': {
			char err[256];

			if (rundev_parse_net(&o->dev, optarg, err, sizeof(err)) < 0)
				return usage_error("%s", err);
			break;
		}
		case 'S': {
			char err[256];

			if (rundev_parse_share(&o->dev, optarg, err, sizeof(err)) < 0)
				return usage_error("%s", err);
			break;
		}
		case 'V': {
			char err[256];

			if (o->dev.vsock.enabled)
				return usage_error("--vsock given twice: one vsock device per VM");
			if (vsock_opts_parse(optarg, &o->dev.vsock, err, sizeof(err)) < 0)
				return usage_error("%s", err);
			break;
		}
		case 'T':
			if (opts_parse_uint(optarg, 1, 1000000000, &o->timeout) < 0)
				return usage_error("--timeout '%s': must be a number of seconds >= 1", optarg);
			break;
		case 'v': o->verbose = true; break;
		case 'h':
			cmd_run_usage();
			return RUN_HELP_SHOWN;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->kernel) {
		o->default_kernel = cache_path("vmlinux");
		o->default_initrd = cache_path("initramfs.cpio");
		if (!o->default_kernel || !o->default_initrd)
			return -EXIT_HOST;
		if (access(o->default_kernel, R_OK) < 0) {
			fprintf(stderr, "nkvm: no kernel given and no default guest at %s: "
				"build it with 'make guest' or pass -k KERNEL\n", o->default_kernel);
			return -EXIT_USAGE;
		}
		o->kernel = o->default_kernel;
		if (!o->initrd)
			o->initrd = o->default_initrd;
	}
	return 0;
}

/* console, nkvm's base, PVM work-arounds, the virtio devices, then -p (last,
 * so the user's parameters win). */
static char *build_cmdline(const struct run_opts *o, struct vm *vm)
{
	char *s = NULL, *pvm = NULL, *virtio;

	if (vm->pvm && !(pvm = pvm_cmdline(vm)))
		return NULL;
	virtio = vm_virtio_cmdline(vm);
	if (virtio &&
	    asprintf(&s, "console=%s %s%s%s%s%s%s%s",
		     o->dev.virtio_console ? "hvc0" : "ttyS0", BASE_CMDLINE,
		     pvm ? " " : "", pvm ? pvm : "", *virtio ? " " : "", virtio,
		     o->params ? " " : "", o->params ? o->params : "") < 0)
		s = NULL;
	free(virtio);
	free(pvm);
	return s;
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

/* Block the signals the main loop reads from a signalfd; vCPU threads
 * inherit the mask and unblock only their kick signal. */
static int setup_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
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

static int run_vm(struct run_opts *o, struct boot_image *img, uint64_t t0)
{
	struct vm vm;
	struct vm_config cfg = {
		.mem_size = o->mem,
		.ncpus = (int)o->cpus,
		.kernel_path = o->kernel,
		.initrd_path = o->initrd,
		.console_in_fd = STDIN_FILENO,
		.console_out_fd = STDOUT_FILENO,
		.timeout_s = (unsigned)o->timeout,
		.verbose = o->verbose,
	};
	int r, sigfd = -1;

	memset(&vm, 0, sizeof(vm));
	vm.t_start_ns = t0;
	r = vm_create(&vm, &cfg);
	if (!r)
		r = rundev_attach(&o->dev, &vm);
	if (!r) {
		cfg.cmdline = build_cmdline(o, &vm);
		vm.cfg.cmdline = cfg.cmdline;
		img->cmdline = cfg.cmdline;
		if (!cfg.cmdline)
			r = -EXIT_HOST;
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
		if (!r)
			r = runloop(&vm, sigfd);
		vm_join(&vm);
		term_restore();
		report(&vm);
		vm_destroy(&vm);
	} else {
		vm_destroy(&vm);
		r = -r;
	}
	rundev_free(&o->dev);
	if (sigfd >= 0)
		close(sigfd);
	free(cfg.cmdline);
	return r;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct boot_image img = { 0 };
	uint8_t *kernel = NULL, *initrd = NULL;
	uint64_t t0 = mono_ns();
	int r;

	r = parse_args(argc, argv, &o);
	if (r)
		goto out;
	if (o.verbose)
		log_threshold = LOG_DEBUG;
	r = -EXIT_USAGE;
	kernel = map_file("kernel", o.kernel, &img.kernel_size);
	if (!kernel)
		goto out;
	img.kernel = kernel;
	img.kernel_name = o.kernel;
	if (o.initrd) {
		initrd = map_file("initrd", o.initrd, &img.initrd_size);
		if (!initrd)
			goto out;
		img.initrd = initrd;
	}
	if (prevalidate(&img) < 0)
		goto out;
	if (rundev_open(&o.dev) < 0)
		goto out;
	r = run_vm(&o, &img, t0);
out:
	if (kernel)
		munmap(kernel, img.kernel_size);
	if (initrd)
		munmap(initrd, img.initrd_size);
	rundev_free(&o.dev);
	free(o.default_kernel);
	free(o.default_initrd);
	if (r == RUN_HELP_SHOWN)
		return 0;
	return r < 0 ? -r : r;
}
