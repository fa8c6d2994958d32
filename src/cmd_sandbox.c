/*
 * `nkvm sandbox [options] -- CMD [ARGS...]`: run one host command inside a
 * throwaway VM that sees the host's root file system read-only (9p) under
 * a writable tmpfs layer, as the caller, in the caller's directory.
 *
 * Host side: the options shared with `nkvm run` (vm_opts.c) in a struct
 * vm_spec booted by vm_boot() (no control socket: nothing manages a
 * sandbox but its caller), a read-only share of "/" tagged
 * SBX_ROOT_TAG, the command's spec appended to the initramfs as a cpio
 * archive (guest/sandbox_proto.h; nothing written to the host's disk),
 * stdout on hvc0 (virtio-console), stderr on the UART (ttyS0), stdin into
 * hvc0 (framed when it is not a terminal), kernel messages off. The guest
 * side is nkvm-init's sandbox mode.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nkvm/clock.h"
#include "nkvm/cmd.h"
#include "nkvm/log.h"
#include "nkvm/sandbox.h"
#include "nkvm/vm_boot.h"
#include "nkvm/vm_opts.h"
#include "../guest/sandbox_proto.h"

/* nkvm's own statuses for a command that did not run (see --help) */
#define EXIT_SBX_FAILED   125
#define EXIT_SBX_NOTFOUND 127
#define MAX_ENV_ARGS 64

struct sandbox_opts {
	struct vm_spec spec;
	char *env_sets[MAX_ENV_ARGS];  /* --env values (argv strings) */
	int nenv_sets;
	char **cmd;                    /* the command's argv */
};

void cmd_sandbox_usage(void)
{
	printf(
"usage: nkvm sandbox [options] [--] COMMAND [ARGS...]\n"
"\n"
"Run COMMAND in a throwaway VM that sees this host's root file system\n"
"read-only, with a writable layer on top that vanishes when the VM exits;\n"
"in the current directory, as the current user and groups, with stdin,\n"
"stdout and stderr connected to nkvm's. nkvm exits with COMMAND's status.\n"
"\n"
"  -k, --kernel FILE     bzImage or ELF vmlinux (default: the default guest's)\n"
"  -i, --initrd FILE     an initramfs with nkvm-init (default: the default\n"
"                        guest's, also with -k)\n"
"  -p, --params STRING   appended to the kernel command line\n"
"  -m, --mem SIZE        guest RAM: 512M, 4G, or MiB (default 256M; 64M-1T)\n"
"  -c, --cpus N          vCPUs, 1-%d (default 1)\n"
"      --share HOSTDIR:TAG[,ro=on]\n"
"                        HOSTDIR writable (unless ro=on) at its own path: writes\n"
"                        there reach the host\n"
"      --net none        no network interface (the default)\n"
"      --net user[,...] / --net tap[,...]\n"
"                        a network interface, configured by DHCP before COMMAND\n"
"                        starts (see nkvm run --help)\n"
"      --disk path=FILE[,ro=on][,direct=on][,serial=ID]\n"
"                        a virtio-blk disk (/dev/vda, ...)\n"
"      --rng             a virtio-rng device (/dev/hwrng)\n"
"  -e, --env NAME[=VALUE]\n"
"                        pass NAME from this environment, or set it; repeatable\n"
"      --timeout SECONDS stop the VM after this long (exit status 124)\n"
"  -v, --verbose         nkvm's debug messages and the guest kernel's on stderr\n"
"  -h, --help            this text\n"
"\n"
"Environment passed in: PATH HOME TERM COLORTERM LANG LANGUAGE LC_* TZ USER\n"
"LOGNAME SHELL, and --env.\n"
"\n"
"Exit status: COMMAND's (128+N when a signal N killed it), or nkvm's own:\n"
"  1    the VM crashed        2    usage error (bad option, kernel, disk)\n"
"  3    host setup failed (/dev/kvm, memory)\n"
"  124  --timeout expired     125  the sandbox failed: the guest could not set\n"
"                                  up or stopped without COMMAND's status\n"
"  126  COMMAND could not be executed\n"
"  127  COMMAND not found     128+N  nkvm itself got signal N (130: Ctrl-C with\n"
"                                    stdin not a terminal)\n",
	VM_MAX_CPUS);
}

/* nkvm sandbox's own options (vm_opts_getopt's own()). */
static int sandbox_opt(void *ctx, int c)
{
	struct sandbox_opts *so = ctx;

	switch (c) {
	case 'e':
		if (!sbx_env_arg_valid(optarg))
			return vm_opts_usage_error("sandbox", "--env '%s': expected NAME or NAME=VALUE",
						   optarg);
		if (so->nenv_sets >= MAX_ENV_ARGS)
			return vm_opts_usage_error("sandbox", "--env: at most %d", MAX_ENV_ARGS);
		so->env_sets[so->nenv_sets++] = optarg;
		return 0;
	case 'h':
		cmd_sandbox_usage();
		return VM_OPTS_HELP_SHOWN;
	default:
		return VM_OPTS_NOT_MINE;
	}
}

static int parse_args(int argc, char **argv, struct sandbox_opts *so)
{
	static const struct option longopts[] = {
		VM_OPTS_LONGOPTS,
		{ "env", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int r;

	/* '+': options end at COMMAND, whose own options are its own */
	r = vm_opts_getopt(&so->spec, "sandbox", argc, argv, "+:" VM_OPTS_SHORTOPTS "he:",
			   longopts, sandbox_opt, so);
	if (r)
		return r;
	if (optind >= argc)
		return vm_opts_usage_error("sandbox", "no command given (nkvm sandbox [options] -- COMMAND [ARGS...])");
	so->cmd = argv + optind;
	/* nkvm-init runs the command: the default initramfs even with -k */
	return vm_opts_finish(&so->spec, true);
}

/* The --share directories as the guest mounts them: at their real path. */
static int host_shares(struct run_devices *d, struct sbx_host_share *out, char **paths)
{
	int i;

	for (i = 0; i < d->nr_shares; i++) {
		paths[i] = realpath(d->share[i].path, NULL);
		if (!paths[i]) {
			log_err("--share %s: %s", d->share[i].path, strerror(errno));
			return -EXIT_USAGE;
		}
		out[i] = (struct sbx_host_share){ d->share[i].tag, paths[i], d->share[i].ro };
	}
	return 0;
}

/* The spec for the guest, wrapped in a cpio archive in *cpio. 0, or a
 * negative exit status after one line on stderr. */
static int make_spec(struct sandbox_opts *so, char *const *env, struct sbx_buf *cpio)
{
	struct run_devices *d = &so->spec.dev;
	struct sbx_host_share shares[RUN_MAX_SHARES];
	char *paths[RUN_MAX_SHARES] = { 0 };
	char cwd[PATH_MAX], exe[PATH_MAX];
	gid_t groups[SBX_MAX_GROUPS + 1];
	struct sbx_buf spec = { .max = SBX_SPEC_MAX };
	struct sbx_cmd c = { 0 };
	int r, i;

	if (!getcwd(cwd, sizeof(cwd))) {
		log_err("sandbox: the current directory: %s", strerror(errno));
		return -EXIT_USAGE;
	}
	r = sbx_find_program(so->cmd[0], sbx_env_get(env, "PATH"), cwd, exe, sizeof(exe));
	if (r < 0) {
		fprintf(stderr, "nkvm: sandbox: '%s': command not found\n", so->cmd[0]);
		return -EXIT_SBX_NOTFOUND;
	}
	c.ngroups = getgroups(SBX_MAX_GROUPS + 1, groups);
	if (c.ngroups < 0 || c.ngroups > SBX_MAX_GROUPS) {
		log_err("sandbox: more than %d supplementary groups", SBX_MAX_GROUPS);
		return -EXIT_USAGE;
	}
	r = host_shares(d, shares, paths);
	c.uid = getuid();
	c.gid = getgid();
	c.groups = groups;
	c.umask = umask(022);
	umask(c.umask);
	c.tty = (isatty(0) ? SBX_TTY_IN : 0) | (isatty(1) ? SBX_TTY_OUT : 0) |
		(isatty(2) ? SBX_TTY_ERR : 0);
	c.net = d->nr_nets > 0;
	c.cwd = cwd;
	c.exe = exe;
	c.argv = so->cmd;
	c.env = env;
	/* the root share is the guest's own business, not a mount to make */
	c.shares = shares;
	c.nshares = d->nr_shares - 1;
	if (!r) {
		r = sbx_spec_encode(&spec, &c);
		if (r < 0)
			log_err("sandbox: the command and its environment are too long "
				"(at most %d KiB, %d arguments, %d variables)",
				SBX_SPEC_MAX / 1024, SBX_MAX_ARGS, SBX_MAX_ENV);
		r = r < 0 ? -EXIT_USAGE : 0;
	}
	if (!r) {
		cpio->max = SBX_SPEC_MAX + 1024;
		if (sbx_cpio_one(cpio, SBX_SPEC_PATH + 1, spec.p, spec.len) < 0) {
			log_err("sandbox: out of memory");
			r = -EXIT_HOST;
		}
	}
	sbx_buf_free(&spec);
	for (i = 0; i < RUN_MAX_SHARES; i++)
		free(paths[i]);
	return r;
}

/* Devices and console wiring on top of the parsed options. */
static int setup_vm_opts(struct vm_spec *s)
{
	char err[256];

	/* the root share goes last: the user's shares keep their order */
	if (rundev_parse_share(&s->dev, "/:" SBX_ROOT_TAG ",ro=on", err, sizeof(err)) < 0)
		return vm_opts_usage_error("sandbox", "%s (one share is the sandbox's root)", err);
	if (!s->dev.nr_nets)
		s->dev.net_none = true;     /* no network unless asked for */
	s->dev.virtio_console = true;       /* hvc0: stdin and stdout */
	s->dev.console_out_fd = STDOUT_FILENO;
	s->uart_out_fd = STDERR_FILENO;     /* ttyS0: stderr, kernel panics */
	s->console_framed = !isatty(STDIN_FILENO);
	s->console_gated = true;
	/* the UART is the kernel's console (stderr); silent unless -v, but
	 * a panic still shows (it raises the console log level) */
	if (vm_spec_set_str(&s->kernel_console, "ttyS0") < 0 ||
	    vm_spec_set_str(&s->nkvm_params, s->verbose ? NULL : "loglevel=0") < 0)
		return -EXIT_HOST;
	return 0;
}

/* The VM's stop, as the command's status or one of nkvm's. */
static int sandbox_status(const struct vm_spec *s, int r)
{
	switch (s->stop_reason) {
	case VM_RUNNING:       /* never started: r is a setup error */
	case VM_STOP_EXIT_PORT:
	case VM_STOP_CRASH:
	case VM_STOP_TIMEOUT:
	case VM_STOP_SIGNAL:
		return r;
	case VM_STOP_ESCAPE:
		fprintf(stderr, "nkvm: sandbox: stopped with Ctrl-A x\n");
		return EXIT_SBX_FAILED;
	default:
		fprintf(stderr, "nkvm: sandbox: the guest stopped without the command's "
			"exit status (run with -v to see its kernel messages)\n");
		return EXIT_SBX_FAILED;
	}
}

int cmd_sandbox(int argc, char **argv)
{
	extern char **environ;
	struct sandbox_opts so;
	struct sbx_buf cpio = { 0 };
	char **env = NULL;
	uint64_t t0 = mono_ns();
	int r;

	memset(&so, 0, sizeof(so));
	vm_spec_init(&so.spec);
	r = parse_args(argc, argv, &so);
	if (!r)
		r = setup_vm_opts(&so.spec);
	if (!r) {
		env = sbx_env_build(environ, so.env_sets, so.nenv_sets);
		r = env ? make_spec(&so, env, &cpio) : -EXIT_HOST;
	}
	/* before any thread (vm_boot's device back ends): all inherit it */
	if (!r && vm_boot_block_signals() < 0) {
		log_err("cannot block signals: %s", strerror(errno));
		r = -EXIT_HOST;
	}
	if (!r) {
		/* the spec owns the archive from here */
		so.spec.initrd_extra = cpio.p;
		so.spec.initrd_extra_size = cpio.len;
		cpio.p = NULL;
		r = sandbox_status(&so.spec, vm_boot(&so.spec, NULL, t0));
	}
	vm_spec_free(&so.spec);
	sbx_buf_free(&cpio);
	free(env);
	if (r == VM_OPTS_HELP_SHOWN)
		return 0;
	return r < 0 ? -r : r;
}
