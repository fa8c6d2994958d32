/*
 * nkvm-vsock: the guest's end of virtio-vsock tests (busybox has no vsock
 * applet). Static, linked like nkvm-init.
 *
 *   nkvm-vsock listen PORT       accept one connection on PORT
 *   nkvm-vsock connect CID PORT  connect to CID:PORT (the host is CID 2)
 *
 * Then it copies stdin to the socket and the socket to stdout, both ways
 * at once, until both directions have ended: stdin's EOF becomes
 * shutdown(SHUT_WR), the socket's EOF closes stdout. Pipes and FIFOs are
 * made non-blocking so that two of these joined in a loop cannot block
 * each other. Errors: one line on stderr naming the call, exit status 1;
 * bad usage: exit 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
/* <linux/vm_sockets.h>: level AF_VSOCK, a struct timeval */
#define SO_VM_SOCKETS_CONNECT_TIMEOUT 6

/* struct sockaddr_vm from <linux/vm_sockets.h>, which musl does not ship */
struct vm_addr {
	unsigned short family, reserved1;
	unsigned int port, cid;
	unsigned char flags, zero[3];
};

#define BUF (256 * 1024)

struct dir {
	int in, out;
	char *buf;
	size_t off, len;
	int eof;
};

static int fail(const char *what)
{
	const char *e = strerror(errno);

	/* one write: each guest syscall is slow on a PVM host */
	char msg[256];
	size_t n = strlen(what), m = strlen(e);

	if (n + m + 16 > sizeof(msg))
		n = m = 0;
	memcpy(msg, "nkvm-vsock: ", 12);
	memcpy(msg + 12, what, n);
	memcpy(msg + 12 + n, ": ", 2);
	memcpy(msg + 14 + n, e, m);
	msg[14 + n + m] = '\n';
	if (write(2, msg, 15 + n + m) < 0)
		return 1;
	return 1;
}

static int parse_u32(const char *s, unsigned int *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || !*s || *end || x > 0xffffffffULL)
		return -1;
	*v = (unsigned int)x;
	return 0;
}

static void nonblock_if_pipe(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		fcntl(fd, F_SETPIPE_SZ, 1 << 20);	/* fewer, bigger writes */
	}
}

/* One step of a direction after poll: read when empty, else write. */
static int step(struct dir *d, short rev, int sock)
{
	ssize_t n;

	if (d->len == 0 && !d->eof && (rev & (POLLIN | POLLHUP | POLLERR))) {
		n = read(d->in, d->buf, BUF);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0) {
			d->eof = 1;
			if (d->out == sock)
				shutdown(sock, SHUT_WR);
			else
				close(d->out);
			return 0;
		}
		d->off = 0;
		d->len = (size_t)n;
	} else if (d->len && (rev & (POLLOUT | POLLHUP | POLLERR))) {
		n = write(d->out, d->buf + d->off, d->len);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		d->off += (size_t)n;
		d->len -= (size_t)n;
	}
	return 0;
}

static int relay(int sock)
{
	struct dir d[2] = {
		{ .in = 0, .out = sock },
		{ .in = sock, .out = 1 },
	};
	int i;

	nonblock_if_pipe(0);
	nonblock_if_pipe(1);
	fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
	d[0].buf = malloc(BUF);
	d[1].buf = malloc(BUF);
	if (!d[0].buf || !d[1].buf)
		return fail("malloc");
	while (!(d[0].eof && d[1].eof && !d[0].len && !d[1].len)) {
		struct pollfd p[2];

		for (i = 0; i < 2; i++) {
			p[i].fd = d[i].len ? d[i].out : (d[i].eof ? -1 : d[i].in);
			p[i].events = d[i].len ? POLLOUT : POLLIN;
			p[i].revents = 0;
		}
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail("poll");
		}
		for (i = 0; i < 2; i++)
			if (p[i].revents && step(&d[i], p[i].revents, sock) < 0)
				return fail(i ? "socket to stdout" : "stdin to socket");
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct vm_addr a = { .family = AF_VSOCK };
	int s, c;

	signal(SIGPIPE, SIG_IGN);	/* a closed peer is an error, not death */
	if (argc == 3 && !strcmp(argv[1], "listen") && parse_u32(argv[2], &a.port) == 0) {
		a.cid = 0xffffffffu;	/* VMADDR_CID_ANY */
		s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return fail("socket");
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			return fail("bind");
		if (listen(s, 1) < 0)
			return fail("listen");
		c = accept(s, NULL, NULL);
		if (c < 0)
			return fail("accept");
		close(s);
		return relay(c);
	}
	if (argc == 4 && !strcmp(argv[1], "connect") && parse_u32(argv[2], &a.cid) == 0 &&
	    parse_u32(argv[3], &a.port) == 0) {
		struct timeval tv = { .tv_sec = 60 };

		s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return fail("socket");
		/* Linux gives up after 2 s; an emulated (PVM) guest kernel
		 * under load can take longer to see the host's answer */
		setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			return fail("connect");
		return relay(s);
	}
	if (write(2, "usage: nkvm-vsock listen PORT | connect CID PORT\n", 50) < 0)
		return 2;
	return 2;
}
