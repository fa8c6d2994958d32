/* The control API served by libmicrohttpd (see api_server.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mhd_lib.h"
#include "nkvm/api.h"
#include "nkvm/api_server.h"
#include "nkvm/log.h"

#define CONN_LIMIT 16
#define CONN_TIMEOUT_S 10
#define CONN_MEMORY (32 * 1024)   /* MHD's per-connection header buffer */
#define THREAD_STACK (256 * 1024)
/* A body over API_BODY_MAX but at most this is read and dropped before
 * the 413, so the client, still sending, reads the answer instead of a
 * reset connection; a larger one is answered at once and the connection
 * closed. Bodies past the limit are never stored. */
#define DISCARD_MAX (1024 * 1024)

struct api_server {
	struct MHD_Daemon *d;
	struct api *a;
	int fd;              /* the listening socket (not ours) */
	int stop_efd;        /* wakes the waiter */
	pthread_t waiter;
	bool waiting;        /* the waiter thread exists */
};

/* libmicrohttpd, once loaded (mhd_lib.h) */
static const struct mhd_lib *M;

/* One request's body as it arrives. */
struct req {
	char *buf;
	size_t len;
	bool too_big;
};

static bool peer_ok(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		M->get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == geteuid() || cred.uid == 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body)
{
	struct MHD_Response *resp;
	enum MHD_Result r;

	resp = M->create_response_from_buffer(body ? strlen(body) : 0, body,
					       body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	if (body)
		M->add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	r = M->queue_response(c, status, resp);
	M->destroy_response(resp);
	return r;
}

static enum MHD_Result too_big(struct MHD_Connection *c)
{
	static const char msg[] = "{\"fault_message\":\"The request body is larger than 65536 bytes.\"}";
	char *body = strdup(msg);

	return body ? reply(c, 413, body) : MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **con_cls)
{
	struct api_server *s = cls;
	struct req *q = *con_cls;
	struct api_resp r;
	const char *cl;

	if (!q) {
		if (!peer_ok(c))
			return MHD_NO;	/* closes the connection */
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*con_cls = q;
		cl = M->lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > API_BODY_MAX) {
			q->too_big = true;
			/* answered before the body is read; MHD then closes */
			if (strtoull(cl, NULL, 10) > DISCARD_MAX)
				return too_big(c);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!q->too_big && q->len + *upload_size > API_BODY_MAX) {
			q->too_big = true;	/* the rest is read and dropped */
			free(q->buf);
			q->buf = NULL;
		}
		if (!q->too_big) {
			char *n = realloc(q->buf, q->len + *upload_size + 1);

			if (!n)
				return MHD_NO;
			memcpy(n + q->len, upload, *upload_size);
			q->buf = n;
			q->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (q->too_big)
		return too_big(c);
	api_handle(s->a, method, url, q->buf, q->len, &r);
	return reply(c, r.status, r.body);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	if (q) {
		free(q->buf);
		free(q);
		*con_cls = NULL;
	}
}

static int start_daemon(struct api_server *s)
{
	char err[300];

	M = mhd_lib_get(err, sizeof(err));
	if (!M) {
		log_err("control API: %s", err);
		return -ENOENT;
	}
	s->d = M->start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
			       on_request, s,
			       MHD_OPTION_LISTEN_SOCKET, s->fd,
			       MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
			       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
			       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
			       MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK,
			       MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			       MHD_OPTION_END);
	if (!s->d) {
		log_err("control API: libmicrohttpd would not start on the socket");
		return -EIO;
	}
	return 0;
}

/*
 * Until the first client connects, a small thread waits on the listening
 * socket (connections queue in its backlog meanwhile); then it loads
 * libmicrohttpd and hands the socket over. If that fails, clients are
 * accepted and closed, so they see the end at once instead of hanging.
 */
static void *waiter(void *arg)
{
	struct api_server *s = arg;
	struct pollfd p[2] = { { .fd = s->fd, .events = POLLIN },
			       { .fd = s->stop_efd, .events = POLLIN } };
	bool failed = false;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		if (!failed && start_daemon(s) == 0)
			break;
		failed = true;
		{
			int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (c >= 0)
				close(c);
		}
	}
	return NULL;
}

int api_server_start(struct api_server **out, struct api *a, int fd)
{
	struct api_server *s = calloc(1, sizeof(*s));
	sigset_t all, old;
	int r;

	if (!s)
		return -ENOMEM;
	s->a = a;
	s->fd = fd;
	s->stop_efd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_efd < 0) {
		free(s);
		return -errno;
	}
	/* the thread takes no signals: the main loop's signalfd does */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&s->waiter, NULL, waiter, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		close(s->stop_efd);
		free(s);
		return -r;
	}
	s->waiting = true;
	*out = s;
	return 0;
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	if (s->waiting) {
		uint64_t one = 1;

		if (write(s->stop_efd, &one, sizeof(one)) < 0)
			log_warn("control API: cannot wake the waiter: %s", strerror(errno));
		pthread_join(s->waiter, NULL);
	}
	close(s->stop_efd);
	if (s->d) {
		/* MHD_stop_daemon would close the listening socket: its owner does */
		M->quiesce_daemon(s->d);
		M->stop_daemon(s->d);
	}
	free(s);
}
