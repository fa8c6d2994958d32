/* One VM's process: control socket, API server, boot, cleanup (vmm_main.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "nkvm/api.h"
#include "nkvm/api_server.h"
#include "nkvm/ctl_dir.h"
#include "nkvm/ctl_sock.h"
#include "nkvm/log.h"
#include "nkvm/vm.h"
#include "nkvm/vmm_main.h"

/* Removed at exit() too, should anything exit without coming back here. */
static struct ctl_sock sock = { .fd = -1 };

static void remove_sock(void)
{
	ctl_sock_close(&sock);
}

/* optional: nobody asked for the socket (nkvm run without --name or
 * --api-sock); a failure is then a warning and the VM runs without it. */
static int open_sock(const char *name, const char *path, bool optional)
{
	enum log_level lvl = optional ? LOG_WARN : LOG_ERR;
	char buf[sizeof(sock.path)], err[512];
	static bool registered;
	int r;

	if (!path) {
		r = ctl_sock_path(buf, sizeof(buf), name, true);
		if (r < 0) {
			log_msg(lvl, "control socket for VM '%s': %s", name,
				r == -EPERM ? "the socket directory is not ours or open to others" :
				strerror(-r));
			return r == -EINVAL || r == -ENAMETOOLONG ? -EXIT_USAGE : -EXIT_HOST;
		}
		path = buf;
	}
	r = ctl_sock_open(&sock, path, err, sizeof(err));
	if (r < 0) {
		log_msg(lvl, "%s", err);
		return r == -EADDRINUSE || r == -EEXIST || r == -ENAMETOOLONG || r == -ENOENT ||
		       r == -ENOTDIR || r == -EACCES ? -EXIT_USAGE : -EXIT_HOST;
	}
	if (!registered && atexit(remove_sock) == 0)
		registered = true;
	return 0;
}

/* Wait for a start request or a signal: 0, or the exit status to leave
 * with (128 + signal). */
static int wait_start(struct api *a)
{
	struct signalfd_siginfo si;
	struct pollfd p[2];
	sigset_t set;
	int r = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	p[0].fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	p[0].events = POLLIN;
	p[1].fd = api_start_fd(a);
	p[1].events = POLLIN;
	if (p[0].fd < 0) {
		log_err("signalfd: %s", strerror(errno));
		return EXIT_HOST;
	}
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			r = EXIT_HOST;
			break;
		}
		if ((p[0].revents & POLLIN) && read(p[0].fd, &si, sizeof(si)) == sizeof(si)) {
			log_info("signal %u before InstanceStart: exiting", si.ssi_signo);
			r = 128 + (int)si.ssi_signo;
			break;
		}
		if (p[1].revents & POLLIN)
			break;
	}
	close(p[0].fd);
	return r;
}

int vmm_main(struct vm_spec *spec, const struct vmm_opts *o, uint64_t t0)
{
	struct api_server *srv = NULL;
	struct vm_boot_hooks hooks;
	struct vm_spec boot;
	char name[CTL_NAME_MAX + 1], err[512];
	struct api *a = NULL;
	int r;

	if (o->name)
		snprintf(name, sizeof(name), "%s", o->name);
	else
		snprintf(name, sizeof(name), "vm-%d", (int)getpid());
	/* before any thread: all of them inherit the blocked signals */
	if (vm_boot_block_signals() < 0) {
		log_err("cannot block signals: %s", strerror(errno));
		return EXIT_HOST;
	}
	a = api_new(name, spec, o->logger, o->metrics, err, sizeof(err));
	if (!a) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	hooks = api_boot_hooks(a);
	if (!o->no_api) {
		bool optional = !o->name && !o->api_sock && !o->wait_start;

		r = open_sock(name, o->api_sock, optional);
		if (!r && (r = api_server_start(&srv, a, sock.fd)) < 0) {
			log_msg(optional ? LOG_WARN : LOG_ERR, "cannot start the API server on %s",
				sock.path);
			r = -EXIT_HOST;
		}
		if (r && optional) {
			log_warn("VM %s runs without a control socket", name);
			ctl_sock_close(&sock);
			r = 0;
		}
		if (r) {
			r = -r;
			goto out;
		}
	}
	if (!o->wait_start)
		api_request_start(a);
	for (;;) {
		if (o->wait_start && (r = wait_start(a)) != 0)
			break;
		r = api_take_start(a, &boot);
		if (r == -EAGAIN)
			continue;	/* a spurious wake-up */
		if (r < 0) {
			log_err("out of memory");
			r = EXIT_HOST;
			break;
		}
		r = vm_boot(&boot, &hooks, t0);
		vm_spec_free(&boot);
		/* a failed InstanceStart leaves nkvm waiting for a better one */
		if (!o->wait_start || api_was_started(a))
			break;
	}
out:
	api_shutdown(a);
	api_server_stop(srv);
	ctl_sock_close(&sock);
	api_free(a);
	return r;
}
