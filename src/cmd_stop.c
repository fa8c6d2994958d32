/*
 * nkvm stop NAME [--force] [--timeout SECONDS].
 *
 * Graceful: PUT /actions SendCtrlAltDel (the guest's keyboard driver sees
 * Ctrl-Alt-Del and the guest shuts down or reboots, which ends nkvm), wait
 * for the process to exit, then SIGTERM (nkvm stops the VM cleanly on
 * it). A guest with no keyboard driver cannot take the keys: the server
 * says so (400) and we go to SIGTERM at once. --force: SIGTERM, then
 * SIGKILL a few seconds later.
 *
 * The process signalled is the socket's server by SO_PEERCRED, held as a
 * pidfd opened while its connection was up, so a recycled pid is never hit.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "nkvm/cmd.h"
#include "nkvm/ctl_client.h"
#include "nkvm/ctl_cmd.h"
#include "nkvm/ctl_dir.h"

#define STOP_TIMEOUT_S    10   /* default --timeout: Ctrl-Alt-Del to exit */
#define TERM_WAIT_MS      10000
#define FORCE_TERM_WAIT_MS 3000
#define KILL_WAIT_MS      3000

static void usage(void)
{
	printf("usage: nkvm stop NAME [--force] [--timeout SECONDS]\n"
	       "\n"
	       "Stops the running VM NAME. By default gracefully: sends Ctrl-Alt-Del\n"
	       "to the guest (it shuts down or reboots, either ends its nkvm), waits up\n"
	       "to --timeout seconds (default %d), then sends nkvm SIGTERM, which stops\n"
	       "the VM cleanly (disks flushed, terminal restored). A guest without a\n"
	       "PS/2 keyboard driver (i8042 + atkbd; nkvm's default guest has none)\n"
	       "cannot take Ctrl-Alt-Del: stop says so and sends SIGTERM at once.\n"
	       "\n"
	       "  --force            SIGTERM at once, SIGKILL if still running 3 s later\n"
	       "  --timeout SECONDS  how long to wait after Ctrl-Alt-Del (1-3600)\n"
	       "  -h, --help         this text\n"
	       "\n" CTL_EXIT_HELP, STOP_TIMEOUT_S);
}

static int send_signal(const struct ctl_peer *p, int sig)
{
	int r;

#ifdef SYS_pidfd_send_signal
	if (p->pidfd >= 0)
		r = (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
	else
#endif
		r = kill(p->pid, sig);
	return r < 0 && errno != ESRCH ? -errno : 0;
}

/* Waits up to ms for the process to exit; true once it has. */
static bool wait_exit(const struct ctl_peer *p, int ms)
{
	struct timespec t0, t;
	long waited = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (waited <= ms) {
		if (p->pidfd >= 0) {
			struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
			int r = poll(&pfd, 1, (int)(ms - waited));

			if (r > 0)
				return true;
			if (r == 0)
				return false;
			if (errno != EINTR)
				return false;
		} else {
			if (kill(p->pid, 0) < 0 && errno == ESRCH)
				return true;
			usleep(50 * 1000);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		waited = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
	}
	return false;
}

/* The VM is gone: its nkvm removes its socket on the way out, unless it
 * was killed; then remove what is left. */
static int stopped(const char *name, const char *sock)
{
	int r = ctl_remove_stale(sock);

	if (r < 0)
		fprintf(stderr, "nkvm: stop: cannot remove the stale socket %s: %s\n", sock,
			strerror(-r));
	printf("%s: stopped\n", name);
	return CTL_EXIT_OK;
}

static int term(const char *name, const char *sock, const struct ctl_peer *p, bool force)
{
	int r = send_signal(p, SIGTERM);

	if (r) {
		fprintf(stderr, "nkvm: VM '%s': SIGTERM to pid %d: %s\n", name, (int)p->pid,
			strerror(-r));
		return r == -EPERM ? CTL_EXIT_HOST : CTL_EXIT_FAILED;
	}
	if (wait_exit(p, force ? FORCE_TERM_WAIT_MS : TERM_WAIT_MS))
		return stopped(name, sock);
	if (!force) {
		fprintf(stderr, "nkvm: VM '%s' (pid %d) still runs %d s after SIGTERM: "
			"nkvm stop --force %s kills it\n", name, (int)p->pid,
			TERM_WAIT_MS / 1000, name);
		return CTL_EXIT_FAILED;
	}
	fprintf(stderr, "nkvm: VM '%s' (pid %d) still runs %d s after SIGTERM: SIGKILL\n",
		name, (int)p->pid, FORCE_TERM_WAIT_MS / 1000);
	r = send_signal(p, SIGKILL);
	if (!r && wait_exit(p, KILL_WAIT_MS))
		return stopped(name, sock);
	fprintf(stderr, "nkvm: VM '%s' (pid %d) survived SIGKILL%s%s\n", name, (int)p->pid,
		r ? ": " : "", r ? strerror(-r) : "");
	return CTL_EXIT_FAILED;
}

/* Ctrl-Alt-Del, and SIGTERM when it is refused or does not work in time. */
static int graceful(const char *name, const char *sock, unsigned timeout_s)
{
	struct ctl_reply rep;
	const char *fault;
	int r;

	r = ctl_call_path(sock, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}",
			  CTL_TIMEOUT_MS, &rep);
	if (r && rep.peer.pid <= 0) {
		ctl_reply_free(&rep);
		return ctl_report(name, r);     /* not connected: nothing to stop */
	}
	fault = ctl_fault(&rep);
	if (r) {
		fprintf(stderr, "nkvm: VM '%s' %s: stopping it with SIGTERM\n", name,
			ctl_strerror(r));
	} else if (rep.status == 204 || rep.status == 200) {
		printf("%s: Ctrl-Alt-Del sent, waiting up to %u s\n", name, timeout_s);
		fflush(stdout);
		if (wait_exit(&rep.peer, (int)timeout_s * 1000)) {
			ctl_reply_free(&rep);
			return stopped(name, sock);
		}
		fprintf(stderr, "nkvm: VM '%s' still runs %u s after Ctrl-Alt-Del: stopping it "
			"with SIGTERM\n", name, timeout_s);
	} else if (rep.status == 400) {
		fprintf(stderr, "nkvm: VM '%s' cannot take Ctrl-Alt-Del: %s; stopping it with "
			"SIGTERM\n", name, fault ? fault : "no keyboard driver in the guest");
	} else {
		fprintf(stderr, "nkvm: VM '%s' refused Ctrl-Alt-Del (HTTP %d%s%s): stopping it "
			"with SIGTERM\n", name, rep.status, fault ? ": " : "", fault ? fault : "");
	}
	r = term(name, sock, &rep.peer, false);
	ctl_reply_free(&rep);
	return r;
}

int cmd_stop(int argc, char **argv)
{
	struct ctl_args a = { .timeout_s = STOP_TIMEOUT_S };
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_peer peer;
	int r, fd;

	r = ctl_parse_args(argc, argv, CTL_ARG_NAME | CTL_ARG_FORCE | CTL_ARG_TIMEOUT, usage,
			   &a);
	if (r >= 0)
		return r;
	r = ctl_sock_path(sock, sizeof(sock), a.name, false);
	if (r)
		return ctl_report(a.name, r);
	if (!a.force)
		return graceful(a.name, sock, a.timeout_s);
	/* --force works on a VM that no longer answers: the kernel accepts
	 * the connection and names its server without the server's help */
	fd = ctl_connect(sock, CTL_TIMEOUT_MS, &peer);
	if (fd < 0)
		return ctl_report(a.name, fd);
	close(fd);
	r = term(a.name, sock, &peer, true);
	if (peer.pidfd >= 0)
		close(peer.pidfd);
	return r;
}
