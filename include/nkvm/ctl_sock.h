/*
 * A running nkvm's control socket: a listening unix socket at a path
 * (--api-sock, or ctl_sock_path() for the VM's name), mode 0600, removed
 * by ctl_sock_close() on every exit path; only if it is still ours, so a
 * socket another nkvm has since bound at that path stays.
 */
#ifndef NKVM_CTL_SOCK_H
#define NKVM_CTL_SOCK_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

struct ctl_sock {
	int fd;                   /* -1: none */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
};

/*
 * Bind and listen. A socket left by an nkvm that died (connect() refused)
 * is removed and the path reused; a live one is -EADDRINUSE ("name in
 * use"); anything at the path that is not a socket is -EEXIST, a path too
 * long for a unix socket -ENAMETOOLONG. 0 or -errno, with one line in err.
 */
int ctl_sock_open(struct ctl_sock *c, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Close and unlink (idempotent). */
void ctl_sock_close(struct ctl_sock *c);

#endif
