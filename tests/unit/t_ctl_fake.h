/*
 * Fake nkvm control servers for the control-client tests: each fake VM is
 * a forked process serving canned HTTP answers on NAME.sock in a private
 * $XDG_RUNTIME_DIR/nkvm, so SO_PEERCRED, signals and exits are real. Every
 * request it receives is appended to DIR/NAME.log. The listening socket is
 * made before the fork, so the server is ready when fake_start returns.
 * Header-only, static functions: each test program uses what it needs.
 */
#ifndef T_CTL_FAKE_H
#define T_CTL_FAKE_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

struct fake_route {
	const char *method, *path;  /* the request line's; NULL path: any */
	const char *reply;          /* raw answer; NULL: hold the connection */
	size_t reply_len;           /* 0: strlen(reply) */
	int delay_ms;               /* before answering */
	int dribble_ms;             /* > 0: one byte every dribble_ms */
	int exit_after;             /* remove the socket and exit after it */
};

enum {
	FAKE_TERM_EXITS = 1,        /* SIGTERM: remove the socket, exit 0 */
	FAKE_TERM_IGNORED = 2,      /* SIGTERM ignored (for --force) */
};

static char fake_xdg[64];       /* the private XDG_RUNTIME_DIR */
static char fake_dir[96];       /* fake_xdg/nkvm */
static volatile sig_atomic_t fake_term;

static void fake_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double fake_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A fresh private XDG_RUNTIME_DIR with nkvm/ (0700) inside. */
static void fake_setup(void)
{
	snprintf(fake_xdg, sizeof(fake_xdg), "/tmp/nkvm-t-ctl.XXXXXX");
	if (!mkdtemp(fake_xdg)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(fake_dir, sizeof(fake_dir), "%s/nkvm", fake_xdg);
	if (mkdir(fake_dir, 0700) < 0) {
		printf("Bail out! mkdir %s: %s\n", fake_dir, strerror(errno));
		exit(1);
	}
	setenv("XDG_RUNTIME_DIR", fake_xdg, 1);
}

static void fake_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake_xdg);
	if (system(cmd) != 0)
		diag("could not remove %s", fake_xdg);
}

static void fake_path(char *buf, size_t len, const char *name, const char *ext)
{
	snprintf(buf, len, "%s/%s.%s", fake_dir, name, ext);
}

/* A bound, listening socket at path (or only bound: a stale one). */
static int fake_listen(const char *path, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (listening && listen(fd, 8) < 0)) {
		printf("Bail out! socket %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

/* A socket file nobody listens on: what a killed nkvm leaves. */
static void fake_stale(const char *name)
{
	char path[128];

	fake_path(path, sizeof(path), name, "sock");
	close(fake_listen(path, false));
}

/* Reads one request (head, and a Content-Length body) into buf. */
static size_t fake_read_request(int c, char *buf, size_t cap)
{
	size_t len = 0, need = 0;
	char *end, *cl;

	while (len < cap - 1) {
		ssize_t n = read(c, buf + len, cap - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		cl = strcasestr(buf, "\r\nContent-Length:");
		need = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
		if (len >= need)
			break;
	}
	buf[len] = '\0';
	return len;
}

static const struct fake_route *fake_match(const struct fake_route *routes, int n,
					   const char *req)
{
	int i;

	for (i = 0; i < n; i++) {
		size_t ml = strlen(routes[i].method);

		if (strncmp(req, routes[i].method, ml) || req[ml] != ' ')
			continue;
		if (!routes[i].path)
			return &routes[i];
		if (!strncmp(req + ml + 1, routes[i].path, strlen(routes[i].path)) &&
		    req[ml + 1 + strlen(routes[i].path)] == ' ')
			return &routes[i];
	}
	return NULL;
}

static void fake_answer(int c, const struct fake_route *rt, const char *sock)
{
	static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	const char *reply = rt ? rt->reply : nf;
	size_t i, len;

	if (rt && rt->delay_ms)
		fake_sleep_ms(rt->delay_ms);
	if (!reply) {
		struct pollfd p = { .fd = c, .events = POLLIN };

		poll(&p, 1, 30000);     /* until the client gives up */
		return;
	}
	len = rt && rt->reply_len ? rt->reply_len : strlen(reply);
	if (rt && rt->dribble_ms) {
		for (i = 0; i < len; i++) {
			if (write(c, reply + i, 1) != 1)
				return;
			fake_sleep_ms(rt->dribble_ms);
		}
	} else {
		for (i = 0; i < len;) {
			ssize_t n = write(c, reply + i, len - i);

			if (n <= 0)
				return;
			i += (size_t)n;
		}
	}
	if (rt && rt->exit_after) {
		unlink(sock);
		_exit(0);
	}
}

static void fake_on_term(int sig)
{
	fake_term = 1;
}

static void fake_serve(int lfd, const char *name, const struct fake_route *routes, int n,
		       int flags)
{
	char sock[128], log[128], req[65536];
	struct sigaction sa = { .sa_handler = fake_on_term };

	fake_path(sock, sizeof(sock), name, "sock");
	fake_path(log, sizeof(log), name, "log");
	if (flags & FAKE_TERM_IGNORED)
		signal(SIGTERM, SIG_IGN);
	else
		sigaction(SIGTERM, &sa, NULL);  /* no SA_RESTART: accept returns */
	for (;;) {
		int c = fake_term ? -1 : accept(lfd, NULL, NULL);
		size_t len;
		FILE *f;

		if (fake_term) {
			unlink(sock);
			_exit(0);
		}
		if (c < 0)
			continue;
		len = fake_read_request(c, req, sizeof(req));
		f = fopen(log, "a");
		if (f) {
			fwrite(req, 1, len, f);
			fputs("\n--\n", f);
			fclose(f);
		}
		fake_answer(c, fake_match(routes, n, req), sock);
		close(c);
	}
}

/* Starts a fake VM NAME answering routes; returns its pid once it
 * listens. The child binds and listens itself: SO_PEERCRED names the
 * process that called listen(). */
static pid_t fake_start(const char *name, const struct fake_route *routes, int n, int flags)
{
	char sock[128], c = 0;
	int lfd, ready[2];
	pid_t pid;

	fake_path(sock, sizeof(sock), name, "sock");
	if (pipe(ready) < 0) {
		printf("Bail out! pipe: %s\n", strerror(errno));
		exit(1);
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		lfd = fake_listen(sock, true);
		close(ready[0]);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		close(ready[1]);
		fake_serve(lfd, name, routes, n, flags);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1 || c != 'r') {
		printf("Bail out! fake VM %s did not start\n", name);
		exit(1);
	}
	close(ready[0]);
	return pid;
}

/* A complete answer with the right Content-Length (malloc'd). */
static char *fake_reply(int status, const char *reason, const char *json)
{
	char *s;

	if (asprintf(&s, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n%s", status, reason, strlen(json), json) < 0) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	return s;
}

/* Ends a fake VM for good (and reaps it); its socket may stay. */
static void fake_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* The requests NAME received so far (malloc'd, "" when none). */
static char *fake_log(const char *name)
{
	char path[128], *buf = calloc(1, 65536);
	FILE *f;

	fake_path(path, sizeof(path), name, "log");
	f = fopen(path, "r");
	if (f && buf) {
		size_t n = fread(buf, 1, 65535, f);

		buf[n] = '\0';
	}
	if (f)
		fclose(f);
	return buf;
}

static bool fake_exists(const char *name)
{
	char path[128];

	fake_path(path, sizeof(path), name, "sock");
	return access(path, F_OK) == 0;
}

#endif
