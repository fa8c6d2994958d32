/* Deferred release of KVM's VM at exit (see kvm_release.h). */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nkvm/kvm_release.h"

#define MAX_DEFERRED (2 + 256 + 2)
#define CHILD_STACK (64 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static int deferred[MAX_DEFERRED];
static int nr_deferred;

bool kvm_release_deferrable(void)
{
	const char *s = getenv("NKVM_SYNC_EXIT");

	return !SANITIZED && !(s && *s && strcmp(s, "0"));
}

void kvm_release_defer(int fd)
{
	if (fd < 0)
		return;
	if (nr_deferred == MAX_DEFERRED) {
		close(fd);
		return;
	}
	deferred[nr_deferred++] = fd;
}

/* The child shares our memory and file table: it must not touch libc state
 * (locks, errno users), only raw system calls. Closing every descriptor
 * first gives readers of nkvm's stdout/stderr their end of file at once;
 * the KVM ones are among them and their release is the slow part. */
static int release_child(void *arg)
{
	(void)arg;
	syscall(SYS_close_range, 0U, ~0U, 0U);
	syscall(SYS_exit, 0);
	return 0;
}

void kvm_release_exit(int status)
{
	void *stack;

	fflush(NULL);
	if (nr_deferred == 0)
		exit(status);
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	/* SIGCHLD as the exit signal: once we are gone the child is reparented
	 * and reaped like any other process. */
	if (stack == MAP_FAILED ||
	    clone(release_child, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_FILES | SIGCHLD,
		  NULL) < 0) {
		int i;

		for (i = 0; i < nr_deferred; i++)
			close(deferred[i]);
	}
	_exit(status);
}
