/* Main-thread event loop: console input, signals, timeout, halt detection. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "nkvm/clock.h"
#include "nkvm/log.h"
#include "nkvm/runloop.h"
#include "nkvm/term.h"
#include "nkvm/vm.h"

/* How often vCPUs are kicked to look for a halted-for-good guest (and, on
 * PVM hosts, for a stuck vmcall and the SYSCALL repair hook). */
#define TICK_MS 100
#define CONSOLE_CHUNK 4096

struct console_in {
	int fd;                 /* -1 once closed */
	struct term_escape esc;
	uint8_t buf[CONSOLE_CHUNK + 1];
	size_t off, len;        /* bytes waiting for room in the UART */
};

/* Push what is pending into the UART; true if everything went in. */
static bool console_flush(struct vm *vm, struct console_in *c)
{
	while (c->len) {
		size_t n = serial_rx_push(&vm->serial, c->buf + c->off, c->len);

		if (!n)
			return false;
		c->off += n;
		c->len -= n;
	}
	c->off = 0;
	return true;
}

static void console_read(struct vm *vm, struct console_in *c)
{
	uint8_t in[CONSOLE_CHUNK];
	ssize_t n = read(c->fd, in, sizeof(in));
	bool quit;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF or error on input: the guest keeps running without it */
		c->fd = -1;
		return;
	}
	c->len = term_escape_filter(&c->esc, in, (size_t)n, c->buf, &quit);
	c->off = 0;
	if (quit) {
		vm_request_stop(vm, VM_STOP_ESCAPE, EXIT_GUEST_OK);
		return;
	}
	console_flush(vm, c);
}

static int arm_tick(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = {
		.it_interval = { 0, TICK_MS * 1000000L },
		.it_value = { 0, TICK_MS * 1000000L },
	};

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* All vCPUs halted with interrupts off (or never started) twice in a row. */
static bool all_halted(struct vm *vm)
{
	int i;

	for (i = 0; i < vm->ncpus; i++)
		if (!vm->vcpus[i].halted_for_good)
			return false;
	return true;
}

static void on_signal(struct vm *vm, int sigfd)
{
	struct signalfd_siginfo si;

	if (read(sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("signal %u: stopping the VM", si.ssi_signo);
	vm_request_stop(vm, VM_STOP_SIGNAL, 128 + (int)si.ssi_signo);
}

static void on_tick(struct vm *vm, int tickfd, unsigned *halted_ticks, uint64_t start_ns)
{
	uint64_t n;

	if (read(tickfd, &n, sizeof(n)) < 0)
		return;
	*halted_ticks = all_halted(vm) ? *halted_ticks + 1 : 0;
	if (*halted_ticks >= 2) {
		vm_request_stop(vm, VM_STOP_HALT, EXIT_GUEST_OK);
		return;
	}
	if (vm->cfg.timeout_s &&
	    mono_ns() - start_ns >=
	    (uint64_t)vm->cfg.timeout_s * 1000000000ULL) {
		log_err("guest still running after --timeout %u s: stopped", vm->cfg.timeout_s);
		vm_request_stop(vm, VM_STOP_TIMEOUT, EXIT_TIMEOUT);
		return;
	}
	vm_kick_all(vm);
}

int runloop(struct vm *vm, int sigfd)
{
	struct console_in con = { .fd = vm->cfg.console_in_fd };
	struct pollfd p[5];
	unsigned halted_ticks = 0;
	uint64_t start_ns, junk;
	int tickfd = arm_tick();

	if (tickfd < 0) {
		log_err("timerfd: %s", strerror(errno));
		vm_request_stop(vm, VM_STOP_CRASH, EXIT_HOST);
	}
	start_ns = mono_ns();
	while (!vm_stopping(vm)) {
		int nfd = 0, in_idx = -1;

		p[nfd++] = (struct pollfd){ .fd = vm->stop_efd, .events = POLLIN };
		p[nfd++] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		p[nfd++] = (struct pollfd){ .fd = tickfd, .events = POLLIN };
		p[nfd++] = (struct pollfd){ .fd = vm->console_efd, .events = POLLIN };
		/* read more input only when the UART took the last chunk */
		if (con.fd >= 0 && !con.len) {
			in_idx = nfd;
			p[nfd++] = (struct pollfd){ .fd = con.fd, .events = POLLIN };
		}
		if (poll(p, nfd, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			vm_request_stop(vm, VM_STOP_CRASH, EXIT_HOST);
			break;
		}
		if (p[1].revents & POLLIN)
			on_signal(vm, sigfd);
		if (p[2].revents & POLLIN)
			on_tick(vm, tickfd, &halted_ticks, start_ns);
		if (p[3].revents & POLLIN) {
			if (read(vm->console_efd, &junk, sizeof(junk)) < 0)
				junk = 0;
			console_flush(vm, &con);
		}
		if (in_idx >= 0 && (p[in_idx].revents & (POLLIN | POLLHUP | POLLERR)))
			console_read(vm, &con);
		if (con.len)
			console_flush(vm, &con);
	}
	if (tickfd >= 0)
		close(tickfd);
	return vm->exit_status;
}
