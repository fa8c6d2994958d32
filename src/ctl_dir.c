/* The per-user directory of control sockets (see ctl_dir.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nkvm/ctl_dir.h"

bool ctl_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > CTL_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* The directory must be ours and closed to others: a socket in a directory
 * someone else controls could be swapped for theirs. */
static int check_dir(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return -EPERM;
	return 0;
}

int ctl_dir_path(char *buf, size_t len, bool create)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
	struct stat st;
	int n;

	if (xdg && *xdg == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode))
		n = snprintf(buf, len, "%s/nkvm", xdg);
	else if (home && *home == '/')
		n = snprintf(buf, len, "%s/.nkvm", home);
	else
		return -ENOENT;
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (create && mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return check_dir(buf);
}

int ctl_sock_path(char *buf, size_t len, const char *name, bool create)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n, r;

	if (!ctl_name_valid(name))
		return -EINVAL;
	r = ctl_dir_path(dir, sizeof(dir), create);
	if (r < 0)
		return r;
	n = snprintf(buf, len, "%s/%s.sock", dir, name);
	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	return 0;
}
