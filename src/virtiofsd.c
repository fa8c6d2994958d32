/* Starting, watching and stopping a virtiofsd child (see virtiofsd.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nkvm/log.h"
#include "nkvm/virtiofsd.h"

/* The fd number virtiofsd finds its listening socket on. */
#define VFSD_LISTEN_FD 3
#define VFSD_STOP_MS   2000

/*
 * A listening socket in a fresh private directory, and a connection to it
 * waiting in its backlog; the socket file and the directory are removed
 * before returning, whatever happened. 0 or -errno.
 */
static int make_conn(int *listen_fd, int *conn_fd)
{
	const char *tmp = getenv("TMPDIR");
	char dir[96];	/* + "/sock" fits sun_path */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = -1, c = -1, r = 0;

	if (!tmp || !*tmp || strlen(tmp) > 64)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/nkvm-fs-XXXXXX", tmp);
	if (!mkdtemp(dir))
		return -errno;
	memcpy(sa.sun_path, dir, strlen(dir));
	memcpy(sa.sun_path + strlen(dir), "/sock", 6);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l, 1) < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	unlink(sa.sun_path);
	rmdir(dir);
	if (r < 0) {
		if (l >= 0)
			close(l);
		if (c >= 0)
			close(c);
		return r;
	}
	*listen_fd = l;
	*conn_fd = c;
	return 0;
}

/* In the child, before exec: only async-signal-safe calls. */
static void child_exec(pid_t parent, int l, const char *binary, char *const argv[])
{
	sigset_t none;
	int null;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);	/* nkvm died before the prctl */
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	null = open("/dev/null", O_RDONLY);
	if (null >= 0 && null != STDIN_FILENO)
		dup2(null, STDIN_FILENO);
	if (l == VFSD_LISTEN_FD)
		fcntl(l, F_SETFD, 0);
	else if (dup2(l, VFSD_LISTEN_FD) < 0)
		_exit(127);
	execv(binary, argv);
	_exit(127);
}

int virtiofsd_spawn(struct virtiofsd *p, const char *binary, const char *dir,
		    const char *cache, char *err, size_t errlen)
{
	char *source = NULL, *cachearg = NULL, fdarg[16];
	pid_t parent = getpid();
	int l = -1, c = -1, r;

	p->pid = 0;
	if (asprintf(&source, "source=%s", dir) < 0)
		source = NULL;
	if (asprintf(&cachearg, "cache=%s", cache) < 0)
		cachearg = NULL;
	if (!source || !cachearg) {
		r = -ENOMEM;
		errbuf_printf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(fdarg, sizeof(fdarg), "--fd=%d", VFSD_LISTEN_FD);
	r = make_conn(&l, &c);
	if (r < 0) {
		errbuf_printf(err, errlen, "cannot make a socket for virtiofsd: %s",
			      strerror(-r));
		goto out;
	}
	{
		char *const argv[] = { (char *)binary, fdarg, "-o", source, "-o",
				       cachearg, "-o", "log_level=err", NULL };

		p->pid = fork();
		if (p->pid == 0)
			child_exec(parent, l, binary, argv);
	}
	r = p->pid < 0 ? -errno : c;
	close(l);	/* virtiofsd's now: if it dies, nkvm's connection resets */
	if (p->pid < 0) {
		p->pid = 0;
		close(c);
		errbuf_printf(err, errlen, "cannot start %s: %s", binary, strerror(-r));
	}
out:
	free(source);
	free(cachearg);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Reap the child if it exits within wait_ms: true with *status set. */
static bool reap(struct virtiofsd *p, int wait_ms, int *status)
{
	int waited;

	for (waited = 0;; waited += 10) {
		pid_t r = waitpid(p->pid, status, WNOHANG);

		if (r == p->pid || (r < 0 && errno == ECHILD)) {
			p->pid = 0;
			return r > 0;
		}
		if (waited >= wait_ms)
			return false;
		sleep_ms(10);
	}
}

void virtiofsd_describe_exit(struct virtiofsd *p, int wait_ms, char *buf,
			     size_t len)
{
	int st = 0;

	if (!p->pid || !reap(p, wait_ms, &st))
		snprintf(buf, len, "virtiofsd did not answer");
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		snprintf(buf, len, "virtiofsd could not be executed (status 127)");
	else if (WIFEXITED(st))
		snprintf(buf, len, "virtiofsd exited with status %d", WEXITSTATUS(st));
	else
		snprintf(buf, len, "virtiofsd was killed by signal %d", WTERMSIG(st));
	virtiofsd_stop(p);
}

void virtiofsd_stop(struct virtiofsd *p)
{
	int st;

	if (!p->pid)
		return;
	kill(p->pid, SIGTERM);
	if (reap(p, VFSD_STOP_MS, &st))
		return;
	kill(p->pid, SIGKILL);
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	p->pid = 0;
}
