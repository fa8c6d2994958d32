/* The options `nkvm run` and `nkvm sandbox` share (see vm_opts.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "nkvm/opts.h"
#include "nkvm/vm.h"
#include "nkvm/vm_opts.h"
#include "nkvm/vsock_opts.h"

int vm_opts_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "nkvm: %s (see nkvm %s --help)\n", msg, cmd);
	return -EXIT_USAGE;
}

/* A device option through its run_devices parser. */
static int dev_opt(struct vm_spec *s, const char *cmd,
		   int (*parse)(struct run_devices *, const char *, char *, size_t),
		   const char *arg)
{
	char err[256];

	if (parse(&s->dev, arg, err, sizeof(err)) < 0)
		return vm_opts_usage_error(cmd, "%s", err);
	return 0;
}

int vm_opts_parse(struct vm_spec *s, const char *cmd, int c, char **argv)
{
	uint64_t u;

	switch (c) {
	case 'k':
	case 'i':
	case 'p':
		if (vm_spec_set_str(c == 'k' ? &s->kernel : c == 'i' ? &s->initrd :
				    &s->params, optarg) < 0)
			return -EXIT_HOST;
		break;
	case 'm':
		if (opts_parse_size(optarg, &s->mem) < 0)
			return vm_opts_usage_error(cmd, "--mem '%s': not a size (examples: 512M, 4G)",
						   optarg);
		if (s->mem < GM_MIN_SIZE || s->mem > GM_MAX_SIZE)
			return vm_opts_usage_error(cmd, "--mem '%s': must be between 64M and 1T",
						   optarg);
		/* round up to the 2 MiB granule guest memory uses */
		s->mem = (s->mem + (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
		break;
	case 'c':
		if (opts_parse_uint(optarg, 1, VM_MAX_CPUS, &u) < 0)
			return vm_opts_usage_error(cmd, "--cpus '%s': must be a number from 1 to 256",
						   optarg);
		s->cpus = (int)u;
		break;
	case 'D': return dev_opt(s, cmd, rundev_parse_disk, optarg);
	case 'N': return dev_opt(s, cmd, rundev_parse_net, optarg);
	case 'S': return dev_opt(s, cmd, rundev_parse_share, optarg);
	case 'R': s->dev.rng = true; break;
	case 'F': {
		char err[256];

		if (runfs_parse(&s->dev.fs, optarg, err, sizeof(err)) < 0)
			return vm_opts_usage_error(cmd, "%s", err);
		break;
	}
	case 'V':
		s->dev.fs.virtiofsd = optarg;
		break;
	case 'K': {
		char err[256];

		if (s->dev.vsock.enabled)
			return vm_opts_usage_error(cmd, "--vsock given twice: one vsock device per VM");
		if (vsock_opts_parse(optarg, &s->dev.vsock, err, sizeof(err)) < 0)
			return vm_opts_usage_error(cmd, "%s", err);
		break;
	}
	case 'T':
		if (opts_parse_uint(optarg, 1, 1000000000, &u) < 0)
			return vm_opts_usage_error(cmd, "--timeout '%s': must be a number of seconds >= 1",
						   optarg);
		s->timeout_s = (unsigned)u;
		break;
	case 'v': s->verbose = true; break;
	case ':':
		return vm_opts_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
	default:
		return vm_opts_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	}
	return 0;
}

int vm_opts_getopt(struct vm_spec *s, const char *cmd, int argc, char **argv,
		   const char *shortopts, const struct option *longopts,
		   int (*own)(void *ctx, int c), void *ctx)
{
	int c, r;

	opterr = 0;
	/* 0, not 1: glibc then re-reads shortopts' '+' (it keeps the
	 * ordering mode of an earlier scan otherwise) */
	optind = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		r = own(ctx, c);
		if (r == VM_OPTS_NOT_MINE)
			r = vm_opts_parse(s, cmd, c, argv);
		if (r)
			return r;
	}
	return 0;
}

int vm_opts_finish(struct vm_spec *s, bool default_initrd)
{
	if (!s->kernel) {
		s->kernel = vm_spec_default_guest_file("vmlinux");
		if (!s->kernel)
			return -EXIT_HOST;
		if (access(s->kernel, R_OK) < 0) {
			fprintf(stderr, "nkvm: no kernel given and no default guest at %s: "
				"build it with 'make guest' or pass -k KERNEL\n", s->kernel);
			return -EXIT_USAGE;
		}
		default_initrd = true;
	}
	if (default_initrd && !s->initrd &&
	    !(s->initrd = vm_spec_default_guest_file("initramfs.cpio")))
		return -EXIT_HOST;
	return 0;
}
