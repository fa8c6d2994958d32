/*
 * nkvm-init: the guest's PID 1, built static into nkvm's initramfs.
 *
 * Mounts the usual pseudo file systems, prints "nkvm-init: ready", then
 * either runs `/bin/sh -c VALUE` for `nkvm.cmd=VALUE` on the kernel command
 * line and reports its exit status to the VMM through port 0x501, or runs
 * an interactive shell on the console. It reaps every zombie and powers
 * off, halts or reboots on busybox's SIGUSR2, SIGUSR1 and SIGTERM.
 *
 * On a PVM host every guest syscall costs ~13 ms (the guest kernel is
 * emulated), so this file counts syscalls: no stdio, one write() per
 * message, vfork() instead of fork(), signals taken with sigwaitinfo()
 * instead of handlers, and nothing done that the chosen mode does not need.
 *
 * Sandbox mode (`nkvm sandbox`): when nkvm appended SBX_SPEC_PATH to the
 * initramfs (guest/sandbox_proto.h), init mounts the host's root (9p,
 * read-only) under an overlay with a tmpfs upper layer, moves it to /,
 * and runs the command from the spec as the caller's uid/gid with stdout
 * on hvc0 and stderr on ttyS0; see sandbox_run().
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "initcmd.h"
#include "sandbox_proto.h"

#define EXIT_PORT 0x501
/* nkvm starts sending stdin once this port is written (sandbox mode) */
#define INPUT_PORT 0x502
/* Overridable so the init can be tried on the host in a pid namespace. */
#ifndef CMDLINE_PATH
#define CMDLINE_PATH "/proc/cmdline"
#endif
#define MAX_ENV 64

extern char **environ;

static sigset_t orig_mask, init_mask;
static char *envp[MAX_ENV + 4];
static char cmdline[8192];
static char cmd[8192];
static int sandbox;	/* sandbox mode: no marker lines on stdout */
static void sandbox_drain(pid_t cmd);

/* Writes the strings (NULL-terminated list) and a newline in one write().
 * If the kernel could not give us a console (no /dev/console in the
 * initramfs), opens it once devtmpfs is there and tries again. */
static void __attribute__((sentinel)) say(int fd, ...)
{
	static int reopened;
	char buf[512];
	size_t n = 0;
	const char *s;
	va_list ap;

	va_start(ap, fd);
	while ((s = va_arg(ap, const char *)) != NULL) {
		size_t l = strlen(s);

		if (l > sizeof(buf) - 1 - n)
			l = sizeof(buf) - 1 - n;
		memcpy(buf + n, s, l);
		n += l;
	}
	va_end(ap);
	buf[n++] = '\n';
	if (write(fd, buf, n) >= 0 || errno != EBADF || reopened)
		return;
	reopened = 1;
	int c = open("/dev/console", O_RDWR | O_NOCTTY);
	if (c < 0)
		return;
	for (int i = 0; i < 3; i++)
		if (c != i)
			dup2(c, i);
	if (c > 2)
		close(c);
	/* Nowhere left to report a failure. */
	(void)!write(fd, buf, n);
}

/* "nkvm-init: <what>: <strerror>" on the console. */
static void warn_err(const char *what, int err)
{
	say(2, "nkvm-init: ", what, ": ", strerror(err), NULL);
}

static const char *utoa(unsigned int v, char *buf, size_t len)
{
	char *p = buf + len - 1;

	*p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v && p > buf);
	return p;
}

static void mount_all(void)
{
	static const struct {
		const char *src, *dir, *type, *data;
		unsigned long flags;
	} m[] = {
		{ "proc", "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
		{ "sysfs", "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
		{ "devtmpfs", "/dev", "devtmpfs", "mode=0755", MS_NOSUID },
		{ "devpts", "/dev/pts", "devpts", "gid=5,mode=0620,ptmxmode=0666",
		  MS_NOSUID | MS_NOEXEC },
		{ "tmpfs", "/tmp", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV },
		{ "tmpfs", "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		/* devtmpfs hides the initramfs /dev, so pts is made after it. */
		if (!strcmp(m[i].type, "devpts") && mkdir(m[i].dir, 0755) < 0 &&
		    errno != EEXIST)
			warn_err("mkdir /dev/pts", errno);
		if (mount(m[i].src, m[i].dir, m[i].type, m[i].flags, m[i].data) == 0)
			continue;
		/* The kernel may have mounted devtmpfs itself. */
		if (errno == EBUSY && !strcmp(m[i].type, "devtmpfs"))
			continue;
		say(2, "nkvm-init: mount ", m[i].dir, ": ", strerror(errno), NULL);
	}
}

/* Environment for children: the kernel's, with our PATH and HOME, and
 * TERM=linux unless the command line gave one. Built in place, no malloc. */
static void build_env(void)
{
	static char path[] = "PATH=/bin:/sbin:/usr/bin:/usr/sbin";
	static char home[] = "HOME=/root";
	static char term[] = "TERM=linux";
	int n = 0, have_term = 0;

	envp[n++] = path;
	envp[n++] = home;
	for (char **e = environ; e && *e && n < MAX_ENV; e++) {
		if (!strncmp(*e, "PATH=", 5) || !strncmp(*e, "HOME=", 5))
			continue;
		if (!strncmp(*e, "TERM=", 5))
			have_term = 1;
		envp[n++] = *e;
	}
	if (!have_term)
		envp[n++] = term;
	envp[n] = NULL;
}

/* Returns the nkvm.cmd value, or NULL for interactive mode. */
static const char *read_cmd(void)
{
	ssize_t n = 0;
	int fd = open(CMDLINE_PATH, O_RDONLY);

	if (fd < 0) {
		warn_err("open " CMDLINE_PATH, errno);
		return NULL;
	}
	/* One read: /proc/cmdline hands over the whole line at once. */
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	if (n < 0) {
		warn_err("read " CMDLINE_PATH, errno);
		n = 0;
	}
	close(fd);
	cmdline[n] = '\0';
	int r = initcmd_find(cmdline, cmd, sizeof(cmd));
	if (r == INITCMD_TOOLONG)
		warn_err("nkvm.cmd", ENAMETOOLONG);
	return r >= 0 ? cmd : NULL;
}

/* The device behind /dev/console, so the shell gets a real controlling
 * tty (job control, ^C): the last name in /sys/class/tty/console/active. */
static void console_path(char *out, size_t len)
{
	char buf[128];
	ssize_t n;
	int fd = open("/sys/class/tty/console/active", O_RDONLY);

	strcpy(out, "/dev/console");
	if (fd < 0) {
		warn_err("open /sys/class/tty/console/active", errno);
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && initcmd_space(buf[n - 1]))
		buf[--n] = '\0';
	char *name = buf + n;
	while (name > buf && !initcmd_space(name[-1]))
		name--;
	if (!*name || strchr(name, '/') || strlen(name) + 6 > len)
		return;
	strcpy(out, "/dev/");
	strcat(out, name);
}

/* vfork() child: never returns. Shares our memory until execve(), so it
 * only makes syscalls and writes its own stack. */
static void __attribute__((noreturn)) child_exec(const char *tty, char *const argv[])
{
	sigprocmask(SIG_SETMASK, &orig_mask, NULL);
	if (tty) {
		int fd;

		if (setsid() < 0)
			warn_err("setsid", errno);
		fd = open(tty, O_RDWR | O_NOCTTY);
		if (fd < 0) {
			say(2, "nkvm-init: open ", tty, ": ", strerror(errno), NULL);
		} else {
			if (ioctl(fd, TIOCSCTTY, 0) < 0)
				warn_err("TIOCSCTTY", errno);
			for (int i = 0; i < 3; i++)
				if (fd != i)
					dup2(fd, i);
			if (fd > 2)
				close(fd);
		}
	}
	execve("/bin/sh", argv, envp);
	warn_err("exec /bin/sh", errno);
	_exit(127);
}

/* Reaps every exited child without blocking. Returns 1 and sets *status
 * when `pid` was among them, -1 when no children are left, else 0. */
static int reap(pid_t pid, int *status)
{
	int ret = 0, st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) != 0) {
		if (p < 0) {
			if (errno == EINTR)
				continue;
			return ret ? ret : -1;
		}
		if (p == pid && pid > 0) {
			*status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
			ret = 1;
		}
	}
	return ret;
}

/* Waits up to rounds * 200 ms for all processes to go, reaping them. */
static void drain(int rounds)
{
	static const struct timespec tick = { 0, 200 * 1000 * 1000 };
	sigset_t chld;
	int dummy;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while (rounds-- > 0) {
		if (reap(0, &dummy) < 0)
			return;
		if (sigtimedwait(&chld, NULL, &tick) < 0 && errno == EAGAIN)
			return;
	}
}

/* Ends every process, syncs and halts, powers off or reboots. PID 1 must
 * never exit (the kernel panics), so this only returns to nobody. */
static void __attribute__((noreturn)) shutdown_now(int how)
{
	/* ESRCH: nobody else left, nothing to wait for. */
	if (kill(-1, SIGTERM) == 0) {
		drain(10);
		if (kill(-1, SIGKILL) == 0)
			drain(2);
	}
	sync();
	tcdrain(1);	/* see report_exit */
	reboot(how);
	warn_err("reboot", errno);
	for (;;) {
		int dummy;

		sigwaitinfo(&init_mask, NULL);
		reap(0, &dummy);
	}
}

/* Hands the status to nkvm (it exits with it on a write to 0x501). Another
 * VMM ignores the port and we come back here to power off normally. */
static void report_exit(int status)
{
	unsigned char b = (unsigned char)status;
	char num[16];
	int fd, port_err;

	if (!sandbox)
		say(1, "nkvm: exit ", utoa((unsigned int)status, num, sizeof(num)), NULL);
	/* The VMM stops at once: get the command's writes to disk first, and
	 * wait until the console has really sent everything (write() only
	 * queues it for the UART driver, which sends it on later interrupts;
	 * without this the last lines, this marker included, are sometimes
	 * lost). Not a tty: tcdrain fails harmlessly. */
	sync();
	tcdrain(1);
	tcdrain(2);
	/* /dev/port first: the kernel does the OUT at CPL0, which every VMM
	 * accepts (a PVM-aware VMM may #GP a CPL3 OUT, killing PID 1), and it
	 * works on kernels built without ioperm (CONFIG_X86_IOPL_IOPERM). */
	fd = open("/dev/port", O_WRONLY);
	if (fd >= 0) {
		if (pwrite(fd, &b, 1, EXIT_PORT) == 1)
			return;
		port_err = errno;
		close(fd);
	} else {
		port_err = errno;
	}
	if (ioperm(EXIT_PORT, 1, 1) < 0) {
		say(2, "nkvm-init: exit port: /dev/port: ", strerror(port_err),
		    ", ioperm: ", strerror(errno), NULL);
		return;
	}
	outb(b, EXIT_PORT);
}

/* Waits for signals forever: reaps zombies, handles busybox's halt,
 * poweroff and reboot requests, and shuts down when `main_pid` ends. */
static void __attribute__((noreturn)) serve(pid_t main_pid, int report)
{
	for (;;) {
		int sig = sigwaitinfo(&init_mask, NULL), status;

		switch (sig) {
		case SIGCHLD:
			if (reap(main_pid, &status) != 1)
				break;
			if (sandbox)
				sandbox_drain(main_pid);
			if (report)
				report_exit(status);
			shutdown_now(RB_POWER_OFF);
		case SIGUSR1:
			shutdown_now(RB_HALT_SYSTEM);
		case SIGUSR2:
			shutdown_now(RB_POWER_OFF);
		case SIGTERM:
			shutdown_now(RB_AUTOBOOT);
		default:
			break;
		}
	}
}

/* With a network interface, run /etc/nkvm-net (loopback, DHCP) and wait
 * for it, so nkvm.cmd and the shell start with the network configured.
 * nkvm.net=off on the kernel command line skips it. */
static void setup_network(void)
{
	char *argv[] = { "sh", "/etc/nkvm-net", NULL };
	pid_t pid;
	int status;

	if (access("/sys/class/net/eth0", F_OK) < 0 || strstr(cmdline, "nkvm.net=off"))
		return;
	pid = vfork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &orig_mask, NULL);
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	if (pid < 0) {
		warn_err("vfork", errno);
		return;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* ---- sandbox mode (nkvm sandbox) ---- */

/* 9p options: msize = the 6.1 virtio transport's largest (125 pages).
 * The root is read-only and the host is not expected to change it under
 * a running command: cache=loose keeps pages and metadata in the guest
 * (each 9p round trip is emulated guest kernel work). Writable shares use
 * cache=mmap: no cached data, so host and guest see each other's writes,
 * but mmap works. */
#define SBX_9P_OPTS "trans=virtio,version=9p2000.L,msize=512000,"
#define SBX_ROOT "/sbx/root"

static struct sbx_spec spec;
static char spec_buf[SBX_SPEC_MAX];
static gid_t spec_groups[SBX_MAX_GROUPS];

/* Reads and decodes SBX_SPEC_PATH: 1 in sandbox mode, 0 when there is no
 * spec (a normal boot). A spec that cannot be read or decoded ends the VM
 * with status 125. */
static int sandbox_load(void)
{
	size_t bad_at;
	ssize_t n;
	int fd = open(SBX_SPEC_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	sandbox = 1;
	n = read(fd, spec_buf, sizeof(spec_buf));
	close(fd);
	if (n < 0) {
		warn_err("read " SBX_SPEC_PATH, errno);
		return -1;
	}
	if (sbx_spec_decode(&spec, spec_buf, (size_t)n, &bad_at) < 0) {
		char num[24];

		say(2, "nkvm-init: " SBX_SPEC_PATH ": malformed at byte ",
		    utoa((unsigned int)bad_at, num, sizeof(num)), NULL);
		return -1;
	}
	for (int i = 0; i < spec.ngroups; i++)
		spec_groups[i] = (gid_t)spec.groups[i];
	return 1;
}

/* mount(2) with one error line naming the mount point. */
static int sbx_mount(const char *src, const char *dir, const char *type,
		     unsigned long flags, const char *data)
{
	if (mount(src, dir, type, flags, data) == 0)
		return 0;
	say(2, "nkvm-init: mount ", type, " on ", dir, ": ", strerror(errno), NULL);
	return -1;
}

/* "/sbx/root" + path into out (PATH_MAX-sized); -1 if too long. */
static int sbx_path(char *out, size_t len, const char *path)
{
	size_t a = sizeof(SBX_ROOT) - 1, b = strlen(path);

	if (a + b + 1 > len)
		return -1;
	memcpy(out, SBX_ROOT, a);
	memcpy(out + a, path, b + 1);
	return 0;
}

/* The host root (9p, read-only) under an overlay whose upper layer is a
 * tmpfs, the usual pseudo file systems in it, the --share directories at
 * their host paths; then it becomes /. */
static int sandbox_mount_root(void)
{
	static const struct {
		const char *src, *dir, *type, *data;
		unsigned long flags;
		int mkdir;
	} m[] = {
		{ "proc", SBX_ROOT "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0 },
		{ "sysfs", SBX_ROOT "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0 },
		{ "devtmpfs", SBX_ROOT "/dev", "devtmpfs", "mode=0755", MS_NOSUID, 0 },
		{ "devpts", SBX_ROOT "/dev/pts", "devpts", "gid=5,mode=0620,ptmxmode=0666",
		  MS_NOSUID | MS_NOEXEC, 1 },
		{ "tmpfs", SBX_ROOT "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 1 },
	};
	char dir[4200];

	if (sbx_mount(SBX_ROOT_TAG, "/sbx/lower", "9p", MS_RDONLY,
		      SBX_9P_OPTS "cache=loose") < 0 ||
	    sbx_mount("tmpfs", "/sbx/rw", "tmpfs", 0, "mode=0755") < 0)
		return -1;
	if (mkdir("/sbx/rw/upper", 0755) < 0 || mkdir("/sbx/rw/work", 0755) < 0) {
		warn_err("mkdir /sbx/rw/upper", errno);
		return -1;
	}
	if (sbx_mount("overlay", SBX_ROOT, "overlay", 0,
		      "lowerdir=/sbx/lower,upperdir=/sbx/rw/upper,workdir=/sbx/rw/work") < 0)
		return -1;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (m[i].mkdir && mkdir(m[i].dir, 0755) < 0 && errno != EEXIST)
			warn_err(m[i].dir, errno);
		if (sbx_mount(m[i].src, m[i].dir, m[i].type, m[i].flags, m[i].data) < 0 &&
		    !m[i].mkdir)
			return -1;
	}
	for (int i = 0; i < spec.nshares; i++) {
		const struct sbx_share *sh = &spec.share[i];

		if (sbx_path(dir, sizeof(dir), sh->path) < 0 ||
		    sbx_mount(sh->tag, dir, "9p", sh->ro ? MS_RDONLY : 0,
			      SBX_9P_OPTS "cache=mmap") < 0)
			return -1;
	}
	/* switch_root's way: the initramfs cannot be pivot_root'ed away */
	if (chdir(SBX_ROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0) {
		warn_err("switch to the sandbox root", errno);
		return -1;
	}
	return 0;
}

/* A terminal side gets the kernel's cooked defaults (line editing, echo,
 * ^C), output processing only when nkvm's end is a terminal too; a pipe
 * side is raw, so bytes pass unchanged. */
static void sandbox_tty_mode(int fd, int terminal, int out_tty)
{
	struct termios t;

	if (tcgetattr(fd, &t) < 0) {
		warn_err("tcgetattr", errno);
		return;
	}
	if (!terminal) {
		cfmakeraw(&t);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
	} else if (!out_tty) {
		/* the echo would land in nkvm's redirected stdout */
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	}
	if (out_tty)
		t.c_oflag |= OPOST | ONLCR;
	else
		t.c_oflag &= ~(tcflag_t)OPOST;
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		warn_err("tcsetattr", errno);
}

/* A relay: copies `from` to `to` until end of input, unframing stdin
 * (framed) on the way. A forked child: it loops, so it cannot share
 * init's memory the way vfork() does. `others` lists fds it must close
 * (the other pipes' ends), or a write end would never see EOF. */
static void __attribute__((noreturn)) sandbox_relay(int from, int to, int framed,
						    const int *others, int nothers)
{
	static uint8_t buf[65536];
	struct sbx_unframe u = { 0 };

	sigprocmask(SIG_SETMASK, &orig_mask, NULL);
	for (int i = 0; i < nothers; i++)
		if (others[i] >= 0 && others[i] != from && others[i] != to)
			close(others[i]);
	while (!u.eof) {
		ssize_t n = read(from, buf, sizeof(buf));
		size_t len, off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len = framed ? sbx_unframe(&u, buf, (size_t)n) : (size_t)n;
		while (off < len) {
			ssize_t w = write(to, buf + off, len - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				_exit(0);	/* the reader is gone */
			off += (size_t)w;
		}
	}
	_exit(0);
}

/* Output relays still copying (pids, 0 once reaped). */
static pid_t out_relay[2];

/* After the command: its process group goes (the VM ends with the
 * command, as its other processes would), then the output relays get up
 * to 5 s to pass on what is left in their pipes. */
static void sandbox_drain(pid_t cmd)
{
	static const struct timespec tick = { 0, 200 * 1000 * 1000 };
	sigset_t chld;

	kill(-cmd, SIGKILL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (int round = 0; round < 25 && (out_relay[0] || out_relay[1]); round++) {
		pid_t p;
		int st;

		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			for (int i = 0; i < 2; i++)
				if (out_relay[i] == p)
					out_relay[i] = 0;
		if (out_relay[0] || out_relay[1])
			sigtimedwait(&chld, NULL, &tick);
	}
}

/* vfork() child: the command, as the caller. Never returns. */
static void __attribute__((noreturn)) sandbox_child(int in, int out, int err)
{
	sigprocmask(SIG_SETMASK, &orig_mask, NULL);
	if (setsid() < 0)
		warn_err("setsid", errno);
	if ((spec.tty & SBX_TTY_IN) && ioctl(in, TIOCSCTTY, 0) < 0)
		warn_err("TIOCSCTTY", errno);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(125);
	if (setgroups((size_t)spec.ngroups, spec_groups) < 0 ||
	    setgid((gid_t)spec.gid) < 0 || setuid((uid_t)spec.uid) < 0) {
		warn_err("cannot take the caller's uid/gid", errno);
		_exit(125);
	}
	umask((mode_t)spec.umask);
	if (chdir(spec.cwd) < 0) {
		say(2, "nkvm-init: chdir ", spec.cwd, ": ", strerror(errno), NULL);
		_exit(125);
	}
	execve(spec.exe, spec.argv, spec.envp);
	say(2, "nkvm-init: exec ", spec.exe, ": ", strerror(errno), NULL);
	_exit(errno == ENOENT ? 127 : 126);
}

/* The command's fds 0-2: the ttys themselves where nkvm's end is a
 * terminal; otherwise pipes with a relay each, so the command's isatty()
 * says what nkvm's stdin/stdout/stderr are, and stdin can end. */
static int cmd_fd[3];

static int sandbox_streams(int con, int ser)
{
	/* [i][0] read end, [i][1] write end; the command gets [0][0], [1][1], [2][1] */
	int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	static const int bit[3] = { SBX_TTY_IN, SBX_TTY_OUT, SBX_TTY_ERR };
	const int tty[3] = { con, con, ser };

	for (int i = 0; i < 3; i++) {
		cmd_fd[i] = tty[i];
		if (!(spec.tty & bit[i]) && pipe2(p[i], O_CLOEXEC) < 0) {
			warn_err("pipe", errno);
			return -1;
		}
	}
	for (int i = 0; i < 3; i++) {
		pid_t pid;

		if (p[i][0] < 0)
			continue;
		pid = fork();
		if (pid == 0) {
			if (i == 0)
				sandbox_relay(con, p[0][1], 1, &p[0][0], 6);
			sandbox_relay(p[i][0], tty[i], 0, &p[0][0], 6);
		}
		if (pid < 0) {
			warn_err("fork", errno);
			return -1;
		}
		if (i)
			out_relay[i - 1] = pid;
		/* keep the command's end only */
		close(p[i][i == 0]);
		cmd_fd[i] = p[i][i != 0];
	}
	return 0;
}

/* vfork() in a function of its own: the caller's locals stay its own. */
static pid_t __attribute__((noinline)) sandbox_spawn(int in, int out, int err)
{
	pid_t pid = vfork();

	if (pid == 0)
		sandbox_child(in, out, err);
	return pid;
}

/* Sandbox mode from start to the command's exit status. */
static void __attribute__((noreturn)) sandbox_run(int loaded)
{
	static const unsigned char go = 1;
	int con, ser, port;
	pid_t pid;

	/* /dev/port (the exit report) even if setting up fails early */
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0)
		warn_err("mount /dev", errno);
	if (loaded < 0)
		goto fail;
	if (spec.net) {
		/* udhcpc and ip are the initramfs's busybox: before the switch */
		mount_all();
		build_env();
		setup_network();
	}
	if (sethostname("nkvm", 4) < 0)
		warn_err("sethostname", errno);
	if (sandbox_mount_root() < 0)
		goto fail;
	con = open("/dev/hvc0", O_RDWR | O_NOCTTY | O_CLOEXEC);
	ser = open("/dev/ttyS0", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (con < 0 || ser < 0) {
		warn_err(con < 0 ? "open /dev/hvc0" : "open /dev/ttyS0", errno);
		goto fail;
	}
	/* init's own messages and tcdrain() in report_exit: the same ttys */
	dup2(con, 1);
	dup2(ser, 2);
	sandbox_tty_mode(con, spec.tty & SBX_TTY_IN, spec.tty & SBX_TTY_OUT);
	sandbox_tty_mode(ser, 0, spec.tty & SBX_TTY_ERR);
	/* Only now may stdin come: bytes that reached the tty before its mode
	 * was set would have been echoed and translated. */
	port = open("/dev/port", O_WRONLY | O_CLOEXEC);
	if (port < 0 || pwrite(port, &go, 1, INPUT_PORT) != 1)
		warn_err("input port", errno);
	if (sandbox_streams(con, ser) < 0)
		goto fail;
	pid = sandbox_spawn(cmd_fd[0], cmd_fd[1], cmd_fd[2]);
	if (pid < 0) {
		warn_err("vfork", errno);
		goto fail;
	}
	for (int i = 0; i < 3; i++)
		if (cmd_fd[i] != con && cmd_fd[i] != ser)
			close(cmd_fd[i]);
	serve(pid, 1);
fail:
	report_exit(125);
	shutdown_now(RB_POWER_OFF);
}

/* PID 1 entry: set up, say ready, run the command or the shell. */
int main(void)
{
	char *argv[4];
	char tty[64];
	const char *c;
	pid_t pid;

	/* On the host this would mount over /proc and kill(-1) everything. */
	if (getpid() != 1) {
		say(2, "nkvm-init: not PID 1, refusing to run (guest init only)", NULL);
		return 1;
	}
	/* Blocked, these queue for sigwaitinfo() even in PID 1, which the
	 * kernel otherwise shields from signals it has no handler for. */
	sigemptyset(&init_mask);
	sigaddset(&init_mask, SIGCHLD);
	sigaddset(&init_mask, SIGUSR1);
	sigaddset(&init_mask, SIGUSR2);
	sigaddset(&init_mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &init_mask, &orig_mask) < 0)
		warn_err("sigprocmask", errno);

	int sbx = sandbox_load();
	if (sbx)
		sandbox_run(sbx);
	mount_all();
	if (sethostname("nkvm", 4) < 0)
		warn_err("sethostname", errno);
	build_env();
	c = read_cmd();
	setup_network();
	say(1, "nkvm-init: ready", NULL);

	if (c) {
		argv[0] = "sh";
		argv[1] = "-c";
		argv[2] = (char *)c;
		argv[3] = NULL;
		tty[0] = '\0';
	} else {
		console_path(tty, sizeof(tty));
		argv[0] = "sh";
		argv[1] = NULL;
	}
	pid = vfork();
	if (pid == 0)
		child_exec(c ? NULL : tty, argv);
	if (pid < 0) {
		warn_err("vfork", errno);
		if (c)
			report_exit(127);
		shutdown_now(RB_POWER_OFF);
	}
	serve(pid, c != NULL);
}
