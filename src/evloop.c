/* epoll event loop (see evloop.h). */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "nkvm/evloop.h"

int evl_init(struct evl *evl)
{
	int i;

	for (i = 0; i < EVL_MAX_FDS; i++)
		evl->e[i].fd = -1;
	evl->epfd = epoll_create1(EPOLL_CLOEXEC);
	return evl->epfd < 0 ? -errno : 0;
}

void evl_destroy(struct evl *evl)
{
	if (evl->epfd >= 0)
		close(evl->epfd);
	evl->epfd = -1;
}

static struct evl_entry *find(struct evl *evl, int fd)
{
	int i;

	for (i = 0; i < EVL_MAX_FDS; i++)
		if (evl->e[i].fd == fd)
			return &evl->e[i];
	return NULL;
}

int evl_add(struct evl *evl, int fd, uint32_t events, evl_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct evl_entry *e;

	if (fd < 0 || find(evl, fd))
		return -EINVAL;
	e = find(evl, -1);
	if (!e)
		return -ENOSPC;
	ev.data.ptr = e;
	if (epoll_ctl(evl->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	*e = (struct evl_entry){ .fd = fd, .events = events, .fn = fn, .opaque = opaque };
	return 0;
}

int evl_mod(struct evl *evl, int fd, uint32_t events)
{
	struct evl_entry *e = fd >= 0 ? find(evl, fd) : NULL;
	struct epoll_event ev = { .events = events };

	if (!e)
		return -ENOENT;
	if (e->events == events)
		return 0;
	ev.data.ptr = e;
	if (epoll_ctl(evl->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	e->events = events;
	return 0;
}

void evl_del(struct evl *evl, int fd)
{
	struct evl_entry *e = fd >= 0 ? find(evl, fd) : NULL;

	if (!e)
		return;
	epoll_ctl(evl->epfd, EPOLL_CTL_DEL, fd, NULL);
	/* a pending event for this slot in the current batch is skipped:
	 * fn is cleared, and the slot is reused only by a later evl_add */
	e->fd = -1;
	e->fn = NULL;
}

int evl_run_once(struct evl *evl, int timeout_ms)
{
	struct epoll_event ev[16];
	int n, i, ran = 0;

	n = epoll_wait(evl->epfd, ev, 16, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct evl_entry *e = ev[i].data.ptr;

		if (e->fn) {
			e->fn(e->opaque, ev[i].events);
			ran++;
		}
	}
	return ran;
}
