/* `nkvm run`: parse options into a struct vm_spec and boot it (vm_boot.c)
 * behind the control API (vmm_main.c). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nkvm/clock.h"
#include "nkvm/cmd.h"
#include "nkvm/ctl_dir.h"
#include "nkvm/log.h"
#include "nkvm/opts.h"
#include "nkvm/vm.h"
#include "nkvm/vm_spec.h"
#include "nkvm/vmm_main.h"

/* parse_args() result for --help: not an error, nothing to run */
#define RUN_HELP_SHOWN 1000

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
"      --fs HOSTDIR:TAG[,cache=auto|always|none]\n"
"                        share a host directory over virtio-fs: nkvm starts\n"
"                        QEMU's virtiofsd (needs root); in the guest:\n"
"                        mount -t virtiofs TAG /mnt\n"
"      --fs socket=PATH,tag=TAG\n"
"                        virtio-fs served by a vhost-user-fs back end already\n"
"                        listening on PATH\n"
"      --virtiofsd PATH  the virtiofsd to start (default %s)\n"
"      --rng             a virtio-rng entropy device (/dev/hwrng)\n"
"      --vsock [cid=N,]uds=PATH\n"
"                        virtio-vsock, guest CID N (default 3): host clients\n"
"                        connect to PATH and send 'CONNECT <port>\\n'; guest\n"
"                        connects to CID 2 port P reach PATH_P\n"
"      --timeout SECONDS stop the guest after this long (exit status 124)\n"
"      --name NAME       the VM's name for `nkvm list/stop/...`: its control\n"
"                        socket is $XDG_RUNTIME_DIR/nkvm/NAME.sock (default\n"
"                        name vm-PID)\n"
"      --api-sock PATH   serve the control API (Firecracker's REST API) on\n"
"                        PATH instead\n"
"  -v, --verbose         debug messages on stderr\n"
"  -h, --help            this text\n"
"\n"
"Console: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A.\n"
"\n"
"Exit status:\n"
"  0    the guest powered off, halted or rebooted, or Ctrl-A x was typed\n"
"  1    the guest crashed (triple fault, emulation failure, KVM error)\n"
"  2    usage error: bad option or value, missing or unusable kernel,\n"
"       initrd or disk image, a disk image in use by another VM, a VM\n"
"       name (control socket) in use, a --fs back end that cannot be\n"
"       started or reached\n"
"  3    host setup failed: /dev/kvm missing or not permitted, KVM too old,\n"
"       no memory; or a --fs back end died while the guest ran\n"
"  124  --timeout expired\n"
"  128+N  stopped by signal N (130 SIGINT, 143 SIGTERM)\n"
"  other  the status the guest wrote to port 0x501 (nkvm-init's nkvm.cmd)\n",
	VM_MAX_CPUS, VIRTIOFSD_DEFAULT);
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

static int parse_args(int argc, char **argv, struct vm_spec *o, struct vmm_opts *v)
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
		{ "name", required_argument, NULL, 'n' },
		{ "api-sock", required_argument, NULL, 'A' },
		{ "fs", required_argument, NULL, 'F' },
		{ "virtiofsd", required_argument, NULL, 'V' },
		{ "vsock", required_argument, NULL, 'K' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t u;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":k:i:p:m:c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
		case 'i':
		case 'p':
			if (vm_spec_set_str(c == 'k' ? &o->kernel : c == 'i' ? &o->initrd :
					    &o->params, optarg) < 0)
				return -EXIT_HOST;
			break;
		case 'm':
			if (opts_parse_size(optarg, &o->mem) < 0)
				return usage_error("--mem '%s': not a size (examples: 512M, 4G)", optarg);
			if (o->mem < GM_MIN_SIZE || o->mem > GM_MAX_SIZE)
				return usage_error("--mem '%s': must be between 64M and 1T", optarg);
			/* round up to the 2 MiB granule guest memory uses */
			o->mem = (o->mem + (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
			break;
		case 'c':
			if (opts_parse_uint(optarg, 1, VM_MAX_CPUS, &u) < 0)
				return usage_error("--cpus '%s': must be a number from 1 to 256", optarg);
			o->cpus = (int)u;
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
		case 'F': {
			char err[256];

			if (runfs_parse(&o->dev.fs, optarg, err, sizeof(err)) < 0)
				return usage_error("%s", err);
			break;
		}
		case 'V':
			o->dev.fs.virtiofsd = optarg;
			break;
		case 'K': {
			char err[256];

			if (o->dev.vsock.enabled)
				return usage_error("--vsock given twice: one vsock device per VM");
			if (vsock_opts_parse(optarg, &o->dev.vsock, err, sizeof(err)) < 0)
				return usage_error("%s", err);
			break;
		}
		case 'T':
			if (opts_parse_uint(optarg, 1, 1000000000, &u) < 0)
				return usage_error("--timeout '%s': must be a number of seconds >= 1", optarg);
			o->timeout_s = (unsigned)u;
			break;
		case 'n':
			if (!ctl_name_valid(optarg))
				return usage_error("--name '%s': 1 to %d of A-Z a-z 0-9 _ . -, not starting with . or -",
						   optarg, CTL_NAME_MAX);
			v->name = optarg;
			break;
		case 'A':
			v->api_sock = optarg;
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
		o->kernel = vm_spec_default_guest_file("vmlinux");
		if (!o->kernel)
			return -EXIT_HOST;
		if (access(o->kernel, R_OK) < 0) {
			fprintf(stderr, "nkvm: no kernel given and no default guest at %s: "
				"build it with 'make guest' or pass -k KERNEL\n", o->kernel);
			return -EXIT_USAGE;
		}
		if (!o->initrd && !(o->initrd = vm_spec_default_guest_file("initramfs.cpio")))
			return -EXIT_HOST;
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct vm_spec spec;
	struct vmm_opts v = { 0 };
	uint64_t t0 = mono_ns();
	int r;

	vm_spec_init(&spec);
	r = parse_args(argc, argv, &spec, &v);
	if (!r)
		r = vmm_main(&spec, &v, t0);
	vm_spec_free(&spec);
	if (r == RUN_HELP_SHOWN)
		return 0;
	return r < 0 ? -r : r;
}
