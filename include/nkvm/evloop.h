/*
 * The main thread's event loop: one epoll set for every fd the VMM waits on
 * while the guest runs (signals, timers, console input, queue kicks, I/O
 * completions). Callbacks run on the loop's thread, one at a time.
 */
#ifndef NKVM_EVLOOP_H
#define NKVM_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

#define EVL_MAX_FDS 128

typedef void (*evl_fn)(void *opaque, uint32_t events);

struct evl_entry {
	int fd;              /* -1: free slot */
	uint32_t events;
	evl_fn fn;
	void *opaque;
};

struct evl {
	int epfd;
	struct evl_entry e[EVL_MAX_FDS];
};

/* Create the epoll set. 0 or -errno. */
int evl_init(struct evl *evl) __attribute__((warn_unused_result));

/* Close the epoll set (the registered fds stay open: their owners'). */
void evl_destroy(struct evl *evl);

/* Call fn(opaque, revents) whenever fd has one of `events` (EPOLLIN...).
 * 0, -ENOSPC when EVL_MAX_FDS are registered, or -errno from epoll. */
int evl_add(struct evl *evl, int fd, uint32_t events, evl_fn fn, void *opaque)
	__attribute__((warn_unused_result));

/* Change the events watched on a registered fd (0: none for now). */
int evl_mod(struct evl *evl, int fd, uint32_t events)
	__attribute__((warn_unused_result));

/* Stop watching fd (safe from inside a callback). */
void evl_del(struct evl *evl, int fd);

/* Wait up to timeout_ms (-1: forever) and run the callbacks of the ready
 * fds. Returns the number run, or -errno (EINTR is returned as 0). */
int evl_run_once(struct evl *evl, int timeout_ms);

#endif
