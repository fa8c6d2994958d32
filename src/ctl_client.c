/*
 * The control-socket client (ctl_client.h).
 *
 * Why a hand-written HTTP client instead of libcurl: nkvm is one binary,
 * and linking libcurl would load ~30 more shared libraries at every
 * `nkvm run` start, which has a budget of a few milliseconds. What the
 * control commands need is small and fixed: one request per connection on
 * a unix socket, Connection: close, a Content-Length body. So: write the
 * request, read the answer with a deadline and a size bound, and hand it
 * to a strict parser (http_resp.c, unit-tested and fuzzed) and jansson.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "nkvm/ctl_client.h"
#include "nkvm/ctl_dir.h"
#include "nkvm/http_resp.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool ctl_peer_trusted(uid_t peer, uid_t me)
{
	return peer == me || me == 0;
}

/* A pidfd for the server, opened while its connection proves it alive,
 * so later signals cannot hit a recycled pid; -1 where the kernel has no
 * pidfd_open (callers fall back to kill()). */
static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

int ctl_connect(const char *sock, int timeout_ms, struct ctl_peer *peer)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int fd, r;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		goto err_errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		goto err;
	}
	/* the directory is ours and 0700, but trust the peer only if it
	 * runs as us: the pid we may signal later comes from here too */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		goto err_errno;
	if (!ctl_peer_trusted(uc.uid, geteuid())) {
		r = -EACCES;
		goto err;
	}
	peer->pid = uc.pid;
	peer->pidfd = open_pidfd(uc.pid);
	return fd;
err_errno:
	r = -errno;
err:
	close(fd);
	return r;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT :
			       errno == EPIPE ? -ECONNRESET : -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads until the parser has a whole response, the deadline passes, or
 * the size bound is hit. *bufp is malloc'd (free it in every case). */
static int recv_response(int fd, long long deadline, char **bufp, struct http_resp *hr)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	bool eof = false;
	int r;

	*bufp = buf;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left;
		ssize_t n;

		r = http_resp_parse(buf, len, eof, hr);
		if (r != -EAGAIN)
			return r;
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (len == cap) {
			/* the parser refuses anything past HTTP_RESP_MAX, so
			 * one byte more than that is enough to tell */
			if (cap > HTTP_RESP_MAX)
				return -EMSGSIZE;
			cap = cap * 2 > HTTP_RESP_MAX ? HTTP_RESP_MAX + 1 : cap * 2;
			nb = realloc(buf, cap);
			if (!nb)
				return -ENOMEM;
			*bufp = buf = nb;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ECONNRESET ? -ECONNRESET : -errno;
		if (n == 0)
			eof = true;
		len += (size_t)n;
	}
}

int ctl_call_path(const char *sock, const char *method, const char *path,
		  const char *body, int timeout_ms, struct ctl_reply *rep)
{
	long long deadline = now_ms() + timeout_ms;
	size_t blen = body ? strlen(body) : 0;
	struct http_resp hr;
	json_error_t jerr;
	char *req = NULL, *buf = NULL;
	int fd, n, r;

	memset(rep, 0, sizeof(*rep));
	rep->peer.pidfd = -1;
	fd = ctl_connect(sock, timeout_ms, &rep->peer);
	if (fd < 0)
		return fd;
	if (body)
		n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			     "Accept: application/json\r\nConnection: close\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			     method, path, blen, body);
	else
		n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			     "Accept: application/json\r\nConnection: close\r\n\r\n",
			     method, path);
	if (n < 0) {
		r = -ENOMEM;
		req = NULL;
		goto out;
	}
	r = send_all(fd, req, (size_t)n);
	if (r)
		goto out;
	r = recv_response(fd, deadline, &buf, &hr);
	if (r)
		goto out;
	rep->status = hr.status;
	if (hr.body_len) {
		rep->json = json_loadb(buf + hr.body_off, hr.body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (!rep->json)
			r = -EBADMSG;
	}
out:
	free(req);
	free(buf);
	close(fd);
	return r;
}

int ctl_call(const char *name, const char *method, const char *path, const char *body,
	     int timeout_ms, struct ctl_reply *rep)
{
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->peer.pidfd = -1;
	r = ctl_sock_path(sock, sizeof(sock), name, false);
	if (r)
		return r;
	return ctl_call_path(sock, method, path, body, timeout_ms, rep);
}

void ctl_reply_free(struct ctl_reply *rep)
{
	json_decref(rep->json);
	rep->json = NULL;
	if (rep->peer.pidfd >= 0)
		close(rep->peer.pidfd);
	rep->peer.pidfd = -1;
}

int ctl_remove_stale(const char *sock)
{
	struct ctl_peer peer;
	int fd = ctl_connect(sock, 1000, &peer);

	if (fd >= 0) {
		close(fd);
		if (peer.pidfd >= 0)
			close(peer.pidfd);
		return 0;
	}
	if (fd != -ECONNREFUSED)
		return 0;
	return unlink(sock) == 0 ? 1 : -errno;
}

const char *ctl_fault(const struct ctl_reply *rep)
{
	return json_string_value(json_object_get(rep->json, "fault_message"));
}

const char *ctl_strerror(int err)
{
	switch (err) {
	case -EINVAL:
		return "is not a valid VM name";
	case -ENOENT:
		return "is not running";
	case -ECONNREFUSED:
		return "is gone: its nkvm exited without removing its control socket";
	case -EPERM:
		return "cannot be reached: the control directory is not yours or is open to others";
	case -EACCES:
		return "is served by another user: refused";
	case -ENAMETOOLONG:
		return "cannot be reached: the control socket path is too long "
		       "(point XDG_RUNTIME_DIR at a shorter directory)";
	case -ETIMEDOUT:
		return "did not answer in time";
	case -EPROTO:
		return "sent a malformed HTTP answer";
	case -EMSGSIZE:
		return "sent an answer larger than 1 MiB";
	case -EBADMSG:
		return "sent an answer that is not JSON";
	case -ECONNRESET:
		return "closed the connection before answering";
	}
	return strerror(-err);
}

int ctl_report(const char *name, int err)
{
	if (err == -ENOENT) {
		fprintf(stderr, "nkvm: no VM named '%s' is running (see nkvm list)\n", name);
		return CTL_EXIT_USAGE;
	}
	fprintf(stderr, "nkvm: VM '%s' %s\n", name, ctl_strerror(err));
	switch (err) {
	case -EINVAL:
	case -ECONNREFUSED:
		return CTL_EXIT_USAGE;
	case -EPERM:
	case -EACCES:
	case -ENAMETOOLONG:
	case -ENOMEM:
		return CTL_EXIT_HOST;
	}
	return CTL_EXIT_FAILED;
}

int ctl_report_reply(const char *name, const char *what, const struct ctl_reply *rep)
{
	const char *fault = ctl_fault(rep);

	fprintf(stderr, "nkvm: VM '%s': %s failed (HTTP %d)%s%s\n", name, what,
		rep->status, fault ? ": " : "", fault ? fault : "");
	return CTL_EXIT_FAILED;
}

int ctl_check_name(const char *cmd, const char *name)
{
	if (!name) {
		fprintf(stderr, "nkvm: %s: which VM? give its NAME (see nkvm list)\n", cmd);
		return CTL_EXIT_USAGE;
	}
	if (ctl_name_valid(name))
		return CTL_EXIT_OK;
	fprintf(stderr, "nkvm: %s: '%s' is not a VM name: 1-%d letters, digits, '_', '.' "
		"or '-', not starting with '.' or '-'\n", cmd, name, CTL_NAME_MAX);
	return CTL_EXIT_USAGE;
}
