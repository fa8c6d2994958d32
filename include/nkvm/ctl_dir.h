/*
 * Where a running nkvm's control socket lives, so `nkvm list/stop/...` can
 * find the VMs of the calling user: $XDG_RUNTIME_DIR/nkvm/NAME.sock, or
 * ~/.nkvm/NAME.sock without XDG_RUNTIME_DIR. The directory is the user's
 * own, mode 0700: its permissions, with SO_PEERCRED on each connection,
 * are what keeps other users out.
 */
#ifndef NKVM_CTL_DIR_H
#define NKVM_CTL_DIR_H

#include <stdbool.h>
#include <stddef.h>

/* A VM name: 1-64 of [A-Za-z0-9_.-], not starting with '.' or '-'. */
#define CTL_NAME_MAX 64
bool ctl_name_valid(const char *name);

/* The directory, created (0700) when `create`. 0, -ENAMETOOLONG, -ENOENT
 * (absent and !create), -EPERM (not owned by us, or group/other access),
 * or another -errno. */
int ctl_dir_path(char *buf, size_t len, bool create) __attribute__((warn_unused_result));

/* DIR/NAME.sock, checked to fit a sockaddr_un. 0 or -errno as above, and
 * -EINVAL for a bad name. */
int ctl_sock_path(char *buf, size_t len, const char *name, bool create)
	__attribute__((warn_unused_result));

#endif
