/* The control socket's life: bind, stale-socket takeover, removal. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nkvm/ctl_sock.h"
#include "nkvm/log.h"

#define BACKLOG 16

/* Is someone accepting on path? 1 yes, 0 a dead socket, -errno else. */
static int alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ? 1 :
	    errno == ECONNREFUSED ? 0 : -errno;
	close(fd);
	return r;
}

static int try_bind(int fd, const struct sockaddr_un *sa)
{
	mode_t old = umask(0177);	/* the socket is born 0600 */
	int r = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));

	umask(old);
	return r < 0 ? -errno : 0;
}

int ctl_sock_open(struct ctl_sock *c, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int r;

	c->fd = -1;
	c->path[0] = '\0';
	if (strlen(path) >= sizeof(sa.sun_path) || !*path) {
		errbuf_printf(err, errlen, "control socket '%s': path empty or longer than %zu bytes",
			      path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		errbuf_printf(err, errlen, "control socket: %s", strerror(-r));
		return r;
	}
	r = try_bind(c->fd, &sa);
	if (r == -EADDRINUSE) {
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			errbuf_printf(err, errlen, "control socket '%s': exists and is not a socket", path);
			r = -EEXIST;
			goto fail;
		}
		r = alive(&sa);
		if (r == 1) {
			errbuf_printf(err, errlen, "control socket '%s': name in use by a running nkvm (pick another --name or --api-sock)",
				      path);
			r = -EADDRINUSE;
			goto fail;
		}
		/* left behind by an nkvm that died: take the path over */
		if (r == 0 && unlink(path) < 0 && errno != ENOENT)
			r = -errno;
		else
			r = try_bind(c->fd, &sa);
	}
	if (r) {
		errbuf_printf(err, errlen, "control socket '%s': %s", path, strerror(-r));
		goto fail;
	}
	/* bound: from here on the path is ours to remove on failure */
	if (listen(c->fd, BACKLOG) < 0 || stat(path, &st) < 0) {
		r = -errno;
		errbuf_printf(err, errlen, "control socket '%s': %s", path, strerror(-r));
		unlink(path);
		goto fail;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	return r;
}

void ctl_sock_close(struct ctl_sock *c)
{
	struct stat st;

	if (c->path[0] && stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	c->path[0] = '\0';
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
