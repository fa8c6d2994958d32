/*
 * Running a virtiofsd for `--fs HOSTDIR:TAG`: the child process, its
 * vhost-user socket, and making sure neither outlives nkvm.
 *
 * The socket never stays in the file system: nkvm creates a listening
 * socket in a private temporary directory, connects to it (the
 * connection waits in the backlog), removes the socket and the directory,
 * and gives virtiofsd the listening fd (--fd=3), on which it accepts
 * nkvm's connection. The child gets PR_SET_PDEATHSIG(SIGKILL), so it dies
 * with nkvm even when nkvm is killed with SIGKILL, and its own process
 * group, so a Ctrl-C meant for nkvm does not reach it.
 */
#ifndef NKVM_VIRTIOFSD_H
#define NKVM_VIRTIOFSD_H

#include <stddef.h>
#include <sys/types.h>

/* QEMU's C virtiofsd as Debian 12 installs it (package qemu-system-common). */
#define VIRTIOFSD_DEFAULT "/usr/lib/qemu/virtiofsd"

struct virtiofsd {
	pid_t pid;      /* 0: none */
};

/*
 * Start `binary` serving directory `dir` with cache mode `cache`
 * ("auto", "always", "none"). Returns nkvm's end of the vhost-user
 * connection (virtiofsd answers once it is up), or -errno with one line
 * in err. Nothing is left behind on failure.
 */
int virtiofsd_spawn(struct virtiofsd *p, const char *binary, const char *dir,
		    const char *cache, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * After virtiofsd failed to answer: describe how it ended ("exited with
 * status 1") into buf, waiting for it up to wait_ms, and reap it.
 */
void virtiofsd_describe_exit(struct virtiofsd *p, int wait_ms, char *buf,
			     size_t len);

/* Stop it: SIGTERM, up to 2 s to exit, then SIGKILL; reaped (idempotent). */
void virtiofsd_stop(struct virtiofsd *p);

#endif
