/* Disk image opening: every refusal with its message (missing, permission,
 * directory, device, FIFO, socket, empty, odd sizes, O_DIRECT refused),
 * sizes and flags of good images, read-only opens, the OFD image lock
 * (rw/rw, rw/ro, ro/rw conflict, ro/ro shares, other processes, released on
 * close), and a loop block device with 4 KiB sectors when we may make one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nkvm/blk_image.h"
#include "tap.h"

static char dir[PATH_MAX / 2];

static const char *at(const char *name)
{
	static char p[4][PATH_MAX];
	static unsigned n;
	char *s = p[n++ % 4];

	snprintf(s, PATH_MAX, "%s/%s", dir, name);
	return s;
}

/* A file of `size` bytes (sparse) with mode `mode`. */
static const char *mkfile(const char *name, uint64_t size, mode_t mode)
{
	const char *p = at(name);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		diag("cannot make %s: %s", p, strerror(errno));
	if (fd >= 0)
		close(fd);
	chmod(p, mode);
	return p;
}

/* Messages name the path first and are one line. */
static bool good_msg(const char *err, const char *path, const char *want)
{
	bool good = strncmp(err, path, strlen(path)) == 0 && !strchr(err, '\n') &&
		    strstr(err, want);

	if (!good)
		diag("  message: \"%s\"", err);
	return good;
}

/* Expect a refusal: ret, message part, and nothing left open. */
static void refused(const char *path, bool ro, bool direct, int want,
		    const char *msg, const char *what)
{
	struct blk_image img;
	char err[512] = "";
	int ret = blk_image_open(&img, path, ro, direct, err, sizeof(err));

	is_int(ret, want, "%s: refused", what);
	ok(good_msg(err, path, msg), "  message names it and says \"%s\"", msg);
	ok(img.fd == -1 && img.path == NULL, "  nothing left open");
}

static void test_refusals(void)
{
	const char *p;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	refused(at("missing.img"), false, false, -ENOENT, "no such file", "missing file");
	refused(at("missing.img"), true, false, -ENOENT, "truncate -s", "missing file, ro");
	refused(dir, false, false, -EISDIR, "is a directory", "directory");
	refused(dir, true, false, -EISDIR, "is a directory", "directory, ro");
	refused(dir, true, true, -EISDIR, "is a directory", "directory, ro, direct");
	refused("/dev/null", false, false, -EINVAL, "a character device", "/dev/null");
	p = at("fifo");
	if (mkfifo(p, 0600) == 0) {
		/* must not block waiting for a writer (main has an alarm) */
		refused(p, true, false, -EINVAL, "a FIFO", "FIFO, ro");
		refused(p, false, false, -EINVAL, "a FIFO", "FIFO");
	}
	p = at("sock");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && strlen(p) < sizeof(sa.sun_path) &&
	    bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		refused(p, false, false, -EINVAL, "a socket", "socket");
	else
		printf("ok %d # skip cannot bind a unix socket at %s\n", ++tap_n, p);
	if (s >= 0)
		close(s);
	refused(mkfile("empty.img", 0, 0600), false, false, -EINVAL, "empty image",
		"empty file");
	refused(mkfile("odd.img", 1000, 0600), false, false, -EINVAL,
		"size 1000 is not a multiple of 512", "1000-byte file");
	refused(mkfile("odd2.img", (1 << 20) + 100, 0600), true, false, -EINVAL,
		"truncate -s %512", "1 MiB + 100 bytes, ro");
	refused("", false, false, -EINVAL, "", "empty path");
	/* procfs has no O_DIRECT: a regular file the filesystem refuses */
	if (access("/proc/version", R_OK) == 0)
		refused("/proc/version", true, true, -EINVAL, "does not support O_DIRECT",
			"O_DIRECT on procfs");
}

/* Open in a child running as nobody (root ignores file modes). */
static int open_as_nobody(const char *path, bool ro, char *err, size_t errlen)
{
	int pfd[2], status, ret = -9999;
	pid_t pid;

	if (pipe(pfd) < 0)
		return ret;
	pid = fork();
	if (pid == 0) {
		struct blk_image img;
		char msg[512] = "";
		int r = -9998;

		close(pfd[0]);
		if (setgid(65534) == 0 && setuid(65534) == 0)
			r = blk_image_open(&img, path, ro, false, msg, sizeof(msg));
		if (r == 0)
			blk_image_close(&img);
		if (write(pfd[1], &r, sizeof(r)) != sizeof(r) ||
		    write(pfd[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (pid > 0 && read(pfd[0], &ret, sizeof(ret)) == sizeof(ret) &&
	    read(pfd[0], err, errlen) > 0)
		err[errlen - 1] = 0;
	close(pfd[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return ret;
}

static void test_permissions(void)
{
	const char *secret = mkfile("secret.img", 1 << 20, 0600);
	const char *pub = mkfile("public.img", 1 << 20, 0644);
	char err[512] = "";
	int ret;

	if (geteuid() != 0) {
		struct blk_image img;

		chmod(secret, 0);
		ret = blk_image_open(&img, secret, false, false, err, sizeof(err));
		is_int(ret, -EACCES, "no permission: refused");
		ok(good_msg(err, secret, "use ro=on"), "  message suggests ro=on");
		return;
	}
	chmod(dir, 0755); /* nobody may look inside */
	ret = open_as_nobody(secret, false, err, sizeof(err));
	is_int(ret, -EACCES, "mode 0600, another user, rw: refused");
	ok(good_msg(err, secret, "permission denied opening it read-write"),
	   "  message says so");
	ok(good_msg(err, secret, "use ro=on"), "  and suggests ro=on");
	ret = open_as_nobody(secret, true, err, sizeof(err));
	is_int(ret, -EACCES, "mode 0600, another user, ro: refused");
	ok(good_msg(err, secret, "permission denied opening it read-only"),
	   "  message says so");
	is_int(open_as_nobody(pub, false, err, sizeof(err)), -EACCES,
	       "mode 0644, another user, rw: refused");
	is_int(open_as_nobody(pub, true, err, sizeof(err)), 0,
	       "mode 0644, another user, ro: fine");
	chmod(dir, 0700);
}

static void test_good(void)
{
	const char *p = mkfile("good.img", 1 << 20, 0600);
	struct blk_image img;
	char err[256] = "";
	int fl;

	is_int(blk_image_open(&img, p, false, false, err, sizeof(err)), 0, "1 MiB image");
	is_int(img.size, 1 << 20, "  size");
	ok(!img.ro && !img.direct && !img.is_blockdev, "  rw, not direct, a file");
	is_int(img.logical_block, 512, "  512-byte blocks");
	is_str(img.path, p, "  path copied");
	fl = fcntl(img.fd, F_GETFL);
	ok((fl & O_ACCMODE) == O_RDWR && !(fl & O_NONBLOCK) && !(fl & O_DIRECT),
	   "  O_RDWR, blocking");
	ok(fcntl(img.fd, F_GETFD) & FD_CLOEXEC, "  close-on-exec");
	blk_image_close(&img);
	ok(img.fd == -1 && img.path == NULL, "close clears");
	blk_image_close(&img);
	ok(1, "close twice is harmless");

	is_int(blk_image_open(&img, p, true, false, err, sizeof(err)), 0, "ro open");
	ok(img.ro && (fcntl(img.fd, F_GETFL) & O_ACCMODE) == O_RDONLY, "  O_RDONLY");
	ok(write(img.fd, "x", 1) < 0 && errno == EBADF, "  writes fail");
	blk_image_close(&img);

	p = mkfile("big.img", 1ULL << 40, 0600);
	is_int(blk_image_open(&img, p, false, false, err, sizeof(err)), 0,
	       "1 TiB sparse image");
	is_int(img.size, 1ULL << 40, "  size");
	blk_image_close(&img);
	p = mkfile("sector.img", 512, 0600);
	is_int(blk_image_open(&img, p, true, false, err, sizeof(err)), 0,
	       "one-sector image");
	blk_image_close(&img);

	p = at("good.img");
	if (blk_image_open(&img, p, false, true, err, sizeof(err)) == 0) {
		ok(img.direct && (fcntl(img.fd, F_GETFL) & O_DIRECT), "direct: O_DIRECT");
		ok(img.logical_block >= 512 && img.logical_block <= 65536 &&
		   !(img.logical_block & (img.logical_block - 1)),
		   "  logical block %u is a power of two", img.logical_block);
		blk_image_close(&img);
	} else {
		printf("ok %d # skip O_DIRECT not supported in %s: %s\n", ++tap_n,
		       dir, err);
	}
}

/* Try to open in a child process; its result. */
static int open_in_child(const char *path, bool ro)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct blk_image img;
		int r = blk_image_open(&img, path, ro, false, NULL, 0);

		_exit(r == 0 ? 0 : r == -EBUSY ? 1 : 2);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -9999;
	return WEXITSTATUS(status) == 0 ? 0 : WEXITSTATUS(status) == 1 ? -EBUSY : -9998;
}

static void test_locks(void)
{
	const char *p = mkfile("shared.img", 1 << 20, 0600);
	struct blk_image a, b, c;
	char err[512] = "";

	is_int(blk_image_open(&a, p, false, false, err, sizeof(err)), 0, "lock: rw open");
	is_int(blk_image_open(&b, p, false, false, err, sizeof(err)), -EBUSY,
	       "lock: a second rw open in this process: -EBUSY");
	ok(good_msg(err, p, "in use by another process or disk (locked for writing)"),
	   "  message says it is locked for writing");
	ok(b.fd == -1, "  nothing left open");
	is_int(blk_image_open(&b, p, true, false, err, sizeof(err)), -EBUSY,
	       "lock: rw then ro: -EBUSY");
	ok(good_msg(err, p, "locked for writing"), "  locked for writing");
	is_int(open_in_child(p, false), -EBUSY, "lock: rw from another process: -EBUSY");
	is_int(open_in_child(p, true), -EBUSY, "lock: ro from another process: -EBUSY");
	blk_image_close(&a);
	is_int(blk_image_open(&a, p, false, false, err, sizeof(err)), 0,
	       "lock: released on close, rw open works again");
	blk_image_close(&a);

	is_int(blk_image_open(&a, p, true, false, err, sizeof(err)), 0, "lock: ro open");
	is_int(blk_image_open(&b, p, true, false, err, sizeof(err)), 0,
	       "lock: ro and ro share");
	is_int(open_in_child(p, true), 0, "lock: and a third ro in another process");
	is_int(blk_image_open(&c, p, false, false, err, sizeof(err)), -EBUSY,
	       "lock: ro then rw: -EBUSY");
	ok(good_msg(err, p, "open read-only); use ro=on"),
	   "  message says it is open read-only and suggests ro=on");
	is_int(open_in_child(p, false), -EBUSY, "lock: rw from another process: -EBUSY");
	blk_image_close(&a);
	is_int(blk_image_open(&c, p, false, false, err, sizeof(err)), -EBUSY,
	       "lock: one reader left is enough to refuse rw");
	blk_image_close(&b);
	is_int(blk_image_open(&c, p, false, false, err, sizeof(err)), 0,
	       "lock: no readers left: rw works");
	blk_image_close(&c);
}

/* A loop device over a 4 MiB file with 4 KiB sectors: size, sector size and
 * locking of a block device. Needs root and /dev/loop-control. */
static void test_blockdev(void)
{
	const char *back = mkfile("loop-back.img", 4 << 20, 0600);
	struct loop_config cfg = { .block_size = 4096 };
	char dev[64], err[512] = "";
	struct blk_image a, b;
	int ctl, n, bfd = -1, lfd = -1;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	n = ctl < 0 ? -1 : ioctl(ctl, LOOP_CTL_GET_FREE);
	if (ctl >= 0)
		close(ctl);
	snprintf(dev, sizeof(dev), "/dev/loop%d", n);
	if (n >= 0) {
		bfd = open(back, O_RDWR | O_CLOEXEC);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
	}
	cfg.fd = (unsigned)bfd;
	/* AUTOCLEAR: the device goes away when its last user closes it */
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (bfd < 0 || lfd < 0 || ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0) {
		printf("ok %d # skip no loop device: %s\n", ++tap_n, strerror(errno));
		goto out;
	}
	is_int(blk_image_open(&a, dev, false, false, err, sizeof(err)), 0,
	       "loop device: opens");
	ok(a.is_blockdev, "  a block device");
	is_int(a.size, 4 << 20, "  size from BLKGETSIZE64");
	is_int(a.logical_block, 4096, "  4 KiB logical blocks from BLKSSZGET");
	is_int(blk_image_open(&b, dev, true, false, err, sizeof(err)), -EBUSY,
	       "  locked like a file");
	blk_image_close(&a);
out:
	if (lfd >= 0)
		close(lfd);
	if (bfd >= 0)
		close(bfd);
}

static void cleanup(void)
{
	static const char *const names[] = {
		"fifo", "sock", "empty.img", "odd.img", "odd2.img", "secret.img",
		"public.img", "good.img", "big.img", "sector.img", "shared.img",
		"loop-back.img",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(at(names[i]));
	rmdir(dir);
}

int main(void)
{
	const char *base = access("/var/tmp", W_OK) == 0 ? "/var/tmp" : ".";

	alarm(30); /* a hang (a FIFO open that blocks) fails the test */
	snprintf(dir, sizeof(dir), "%s/nkvm-t_blk_image.XXXXXX", base);
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return done_testing();
	}
	test_refusals();
	test_permissions();
	test_good();
	test_locks();
	test_blockdev();
	cleanup();
	return done_testing();
}
