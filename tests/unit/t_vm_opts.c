/* Unit tests for the options `nkvm run` and `nkvm sandbox` share
 * (vm_opts.c) and the vm_spec fields the sandbox adds (vm_spec.c): every
 * option with good and bad values, the subcommand's own options first,
 * "+" stopping at the command, the default-guest fallback, and a deep
 * copy and command line holding the sandbox's fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nkvm/vm.h"
#include "nkvm/vm_opts.h"
#include "tap.h"

static const struct option longopts[] = {
	VM_OPTS_LONGOPTS,
	{ "own", required_argument, NULL, 'o' },
	{ NULL, 0, NULL, 0 },
};
static char errbuf[1024];
static int own_calls;

/* The test subcommand's one option: --own VALUE; "bad" is refused. */
static int own_opt(void *ctx, int c)
{
	if (c != 'o')
		return VM_OPTS_NOT_MINE;
	own_calls++;
	if (!strcmp(optarg, "bad"))
		return vm_opts_usage_error("test", "--own '%s': bad", optarg);
	*(const char **)ctx = optarg;
	return 0;
}

/* vm_opts_getopt over a NULL-terminated list, stderr kept in errbuf. */
static int parse(struct vm_spec *s, const char *shortopts, char **argv, const char **own)
{
	int argc = 0, saved = dup(2), r;
	FILE *f = tmpfile();
	size_t n = 0;

	while (argv[argc])
		argc++;
	fflush(stderr);
	dup2(fileno(f), 2);
	r = vm_opts_getopt(s, "test", argc, argv, shortopts, longopts, own_opt, own);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(errbuf, 1, sizeof(errbuf) - 1, f);
	errbuf[n] = 0;
	fclose(f);
	return r;
}

#define ARGV(...) ((char *[]){ "test", __VA_ARGS__, NULL })

/* One bad command line: -EXIT_USAGE and a message holding want. */
static void bad(char **argv, const char *want, const char *what)
{
	struct vm_spec s;
	const char *own = NULL;
	int r;

	vm_spec_init(&s);
	r = parse(&s, ":" VM_OPTS_SHORTOPTS, argv, &own);
	ok(r == -EXIT_USAGE && strstr(errbuf, want) && strstr(errbuf, "(see nkvm test --help)\n"),
	   "refused: %s", what);
	if (r != -EXIT_USAGE || !strstr(errbuf, want))
		diag("  got %d, \"%s\"", r, errbuf);
	vm_spec_free(&s);
}

static void test_good(void)
{
	struct vm_spec s;
	const char *own = NULL;

	vm_spec_init(&s);
	is_int(parse(&s, ":" VM_OPTS_SHORTOPTS,
		     ARGV("-k", "K", "-i", "I", "-p", "a=b", "-m", "101M", "-c", "4",
			  "--timeout", "5", "--rng", "--net", "none", "--own", "x",
			  "--share", "/tmp:t,ro=on", "-v"), &own), 0, "every shared option");
	ok(!strcmp(s.kernel, "K") && !strcmp(s.initrd, "I") && !strcmp(s.params, "a=b"),
	   "  kernel, initrd, params");
	is_int(s.mem, 102ULL << 20, "  --mem rounded up to 2 MiB");
	ok(s.cpus == 4 && s.timeout_s == 5 && s.dev.rng && s.dev.net_none && s.verbose,
	   "  cpus, timeout, rng, net none, verbose");
	ok(s.dev.nr_shares == 1 && s.dev.share[0].ro && !strcmp(s.dev.share[0].tag, "t"),
	   "  the share");
	ok(own && !strcmp(own, "x") && own_calls > 0, "  the subcommand's own option went to it");
	is_str(errbuf, "", "  nothing on stderr");
	vm_spec_free(&s);

	/* "+": the command's own options stay its own */
	vm_spec_init(&s);
	is_int(parse(&s, "+:" VM_OPTS_SHORTOPTS, ARGV("-v", "cmd", "-k", "x"), &own), 0,
	       "'+' stops at the first argument");
	ok(optind == 2 && !s.kernel && s.verbose, "  optind at the command, -k after it untouched");
	vm_spec_free(&s);
}

static void test_bad(void)
{
	bad(ARGV("-m", "lots"), "--mem 'lots': not a size", "--mem not a size");
	bad(ARGV("-m", "32M"), "--mem '32M': must be between 64M and 1T", "--mem too small");
	bad(ARGV("-m", "2T"), "must be between 64M and 1T", "--mem too large");
	bad(ARGV("-c", "0"), "--cpus '0': must be a number from 1 to 256", "--cpus 0");
	bad(ARGV("-c", "257"), "--cpus '257'", "--cpus 257");
	bad(ARGV("--cpus", "2x"), "--cpus '2x'", "--cpus not a number");
	bad(ARGV("--timeout", "0"), "--timeout '0': must be a number of seconds >= 1", "--timeout 0");
	bad(ARGV("--timeout", "-1"), "--timeout '-1'", "--timeout negative");
	bad(ARGV("-k"), "option '-k' needs a value", "-k without a value");
	bad(ARGV("--disk"), "option '--disk' needs a value", "--disk without a value");
	bad(ARGV("--bogus"), "unknown option '--bogus'", "an unknown long option");
	bad(ARGV("-z"), "unknown option '-z'", "an unknown short option");
	bad(ARGV("--net", "carrier-pigeon"), "--net", "--net of an unknown kind");
	bad(ARGV("--share", "nocolon"), "--share", "--share without a tag");
	bad(ARGV("--disk", "ro=on"), "--disk", "--disk without a path");
	bad(ARGV("--own", "bad"), "--own 'bad': bad", "the subcommand's own refusal is returned");
}

static void test_finish(void)
{
	char dir[] = "/tmp/t_vm_opts.XXXXXX", path[256];
	struct vm_spec s;
	FILE *f;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	setenv("XDG_CACHE_HOME", dir, 1);
	vm_spec_init(&s);
	is_int(vm_opts_finish(&s, false), -EXIT_USAGE, "no -k and no default guest: usage error");
	vm_spec_free(&s);

	snprintf(path, sizeof(path), "%s/nkvm", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/nkvm/default", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/nkvm/default/vmlinux", dir);
	f = fopen(path, "w");
	if (f)
		fclose(f);
	vm_spec_init(&s);
	is_int(vm_opts_finish(&s, false), 0, "no -k: the default guest");
	ok(s.kernel && !strcmp(s.kernel, path) && s.initrd && strstr(s.initrd, "/nkvm/default/initramfs.cpio"),
	   "  its kernel and initramfs");
	vm_spec_free(&s);

	vm_spec_init(&s);
	if (vm_spec_set_str(&s.kernel, "K") == 0) {
		is_int(vm_opts_finish(&s, false), 0, "-k without -i (run)");
		ok(!s.initrd, "  no initrd");
		is_int(vm_opts_finish(&s, true), 0, "-k without -i (sandbox)");
		ok(s.initrd && strstr(s.initrd, "/nkvm/default/initramfs.cpio") && !strcmp(s.kernel, "K"),
		   "  the default initramfs, the given kernel");
	}
	vm_spec_free(&s);
	unlink(path);
	snprintf(path, sizeof(path), "%s/nkvm/default", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/nkvm", dir);
	rmdir(path);
	rmdir(dir);
}

static void test_spec_fields(void)
{
	static const uint8_t extra[] = { 1, 2, 3, 4, 5 };
	struct vm_spec s, c;
	char *line;

	vm_spec_init(&s);
	is_int(s.uart_out_fd, STDOUT_FILENO, "the UART on stdout by default");
	ok(!s.dev.console_out_fd && !s.console_framed && !s.console_gated && !s.initrd_extra,
	   "  no sandbox wiring by default");
	s.dev.virtio_console = true;
	s.dev.console_out_fd = 1;
	s.uart_out_fd = 2;
	s.console_framed = s.console_gated = true;
	s.stop_reason = VM_STOP_EXIT_PORT;
	if (vm_spec_set_str(&s.kernel_console, "ttyS0") < 0 ||
	    vm_spec_set_str(&s.nkvm_params, "loglevel=0") < 0 ||
	    vm_spec_set_str(&s.params, "loglevel=7") < 0 ||
	    vm_spec_set_initrd_extra(&s, extra, sizeof(extra)) < 0) {
		ok(0, "setting the fields");
		return;
	}
	is_int(vm_spec_copy(&c, &s), 0, "a copy");
	ok(c.kernel_console != s.kernel_console && !strcmp(c.kernel_console, "ttyS0") &&
	   c.nkvm_params != s.nkvm_params && !strcmp(c.nkvm_params, "loglevel=0"),
	   "  kernel console and nkvm's parameters copied deeply");
	ok(c.initrd_extra != s.initrd_extra && c.initrd_extra_size == sizeof(extra) &&
	   !memcmp(c.initrd_extra, extra, sizeof(extra)), "  the initrd appendix copied deeply");
	ok(c.dev.console_out_fd == 1 && c.uart_out_fd == 2 && c.console_framed &&
	   c.console_gated && c.stop_reason == VM_STOP_EXIT_PORT, "  the console wiring");

	line = vm_spec_cmdline(&c, "pvm", "virtio_mmio.device=4K@0xd0000000:5");
	is_str(line, "console=ttyS0 " VM_SPEC_BASE_CMDLINE " pvm virtio_mmio.device=4K@0xd0000000:5"
	       " loglevel=0 loglevel=7",
	       "command line: the console override, nkvm's parameters before -p");
	free(line);
	vm_spec_free(&c);
	is_int(vm_spec_set_initrd_extra(&s, NULL, 0), 0, "clearing the appendix");
	ok(!s.initrd_extra && !s.initrd_extra_size, "  cleared");
	vm_spec_free(&s);
	ok(!s.kernel_console && !s.nkvm_params && s.uart_out_fd == STDOUT_FILENO,
	   "vm_spec_free leaves the defaults");
}

/* --fs and --vsock parsed, and carried by vm_spec_copy (the copy is what
 * `nkvm run` boots: once it dropped them and the guest got no device). */
static void test_fs_vsock(void)
{
	struct vm_spec s, c;
	const char *own = NULL;

	vm_spec_init(&s);
	is_int(parse(&s, ":" VM_OPTS_SHORTOPTS,
		     ARGV("--fs", "/tmp:tagA", "--fs", "socket=/run/x.sock,tag=tagB",
			  "--virtiofsd", "/opt/vfsd", "--vsock", "cid=7,uds=/tmp/v.sock"), &own),
	       0, "--fs twice, --virtiofsd, --vsock");
	ok(s.dev.fs.nr == 2 && s.dev.vsock.enabled && s.dev.vsock.guest_cid == 7,
	   "  two virtio-fs devices and a vsock device");
	is_int(vm_spec_copy(&c, &s), 0, "a copy");
	ok(c.dev.fs.nr == 2 && !strcmp(c.dev.fs.fs[0].tag, "tagA") &&
	   c.dev.fs.fs[0].dir && c.dev.fs.fs[0].dir != s.dev.fs.fs[0].dir &&
	   !strcmp(c.dev.fs.fs[0].dir, s.dev.fs.fs[0].dir) && !c.dev.fs.fs[0].socket,
	   "  the directory share copied deeply");
	ok(!strcmp(c.dev.fs.fs[1].tag, "tagB") && c.dev.fs.fs[1].socket &&
	   !strcmp(c.dev.fs.fs[1].socket, "/run/x.sock") && !c.dev.fs.fs[1].dir,
	   "  the socket back end copied");
	ok(c.dev.fs.virtiofsd && !strcmp(c.dev.fs.virtiofsd, "/opt/vfsd"), "  --virtiofsd copied");
	ok(c.dev.vsock.enabled && c.dev.vsock.guest_cid == 7 &&
	   !strcmp(c.dev.vsock.uds_path, "/tmp/v.sock"), "  the vsock options copied");
	vm_spec_free(&c);
	vm_spec_free(&s);
}

int main(void)
{
	test_good();
	test_fs_vsock();
	test_bad();
	test_finish();
	test_spec_fields();
	return done_testing();
}
