/* `nkvm run`: parse options into a struct vm_spec and boot it (vm_boot.c)
 * behind the control API (vmm_main.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "nkvm/clock.h"
#include "nkvm/cmd.h"
#include "nkvm/ctl_dir.h"
#include "nkvm/vm.h"
#include "nkvm/vm_opts.h"
#include "nkvm/vmm_main.h"

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

/* What nkvm run's options fill. */
struct run_args {
	struct vm_spec *spec;
	struct vmm_opts *vmm;
};

/* nkvm run's own options (vm_opts_getopt's own()). */
static int run_opt(void *ctx, int c)
{
	struct run_args *a = ctx;
	struct vm_spec *o = a->spec;
	struct vmm_opts *v = a->vmm;

	switch (c) {
	case 'C':
		if (!strcmp(optarg, "serial"))
			o->dev.virtio_console = false;
		else if (!strcmp(optarg, "virtio"))
			o->dev.virtio_console = true;
		else
			return vm_opts_usage_error("run", "--console '%s': 'serial' or 'virtio'", optarg);
		return 0;
	case 'n':
		if (!ctl_name_valid(optarg))
			return vm_opts_usage_error("run", "--name '%s': 1 to %d of A-Z a-z 0-9 _ . -, not starting with . or -",
						   optarg, CTL_NAME_MAX);
		v->name = optarg;
		return 0;
	case 'A':
		v->api_sock = optarg;
		return 0;
	case 'h':
		cmd_run_usage();
		return VM_OPTS_HELP_SHOWN;
	default:
		return VM_OPTS_NOT_MINE;
	}
}

static int parse_args(int argc, char **argv, struct vm_spec *o, struct vmm_opts *v)
{
	static const struct option longopts[] = {
		VM_OPTS_LONGOPTS,
		{ "console", required_argument, NULL, 'C' },
		{ "name", required_argument, NULL, 'n' },
		{ "api-sock", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_args a = { o, v };
	int r;

	r = vm_opts_getopt(o, "run", argc, argv, ":" VM_OPTS_SHORTOPTS "h", longopts,
			   run_opt, &a);
	if (r)
		return r;
	if (optind < argc)
		return vm_opts_usage_error("run", "unexpected argument '%s'", argv[optind]);
	return vm_opts_finish(o, false);
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
	if (r == VM_OPTS_HELP_SHOWN)
		return 0;
	return r < 0 ? -r : r;
}
