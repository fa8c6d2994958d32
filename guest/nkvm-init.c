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
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "initcmd.h"

#define EXIT_PORT 0x501
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
