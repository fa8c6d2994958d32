/* Main-thread event loop: console input, signals, timeout, halt detection. */
#include <errno.h>
#include <sys/epoll.h>
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
#include "../guest/sandbox_proto.h"

/* How often vCPUs are kicked to look for a halted-for-good guest (and, on
 * PVM hosts, for a stuck vmcall and the SYSCALL repair hook). */
#define TICK_MS 100
#define CONSOLE_CHUNK 4096

struct console_in {
	int fd;                 /* -1 once closed */
	bool framed;            /* sandbox: escape bytes, send an end marker */
	struct term_escape esc;
	/* framed, every byte may double; escape filter: one more byte */
	uint8_t buf[2 * CONSOLE_CHUNK + 2];
	size_t off, len;        /* bytes waiting for room in the UART */
};

/* Push what is pending into the UART; true if everything went in. */
static bool console_flush(struct vm *vm, struct console_in *c)
{
	while (c->len) {
		size_t n = vm->con_push ?
			   vm->con_push(vm->con_opaque, c->buf + c->off, c->len) :
			   serial_rx_push(&vm->serial, c->buf + c->off, c->len);

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
		/* EOF or error on input: the guest keeps running without it;
		 * a framed console tells it */
		c->fd = -1;
		if (c->framed) {
			c->buf[0] = SBX_ESC;
			c->buf[1] = SBX_ESC_EOF;
			c->off = 0;
			c->len = 2;
			console_flush(vm, c);
		}
		return;
	}
	c->off = 0;
	if (c->framed) {
		/* binary input, no escape key: Ctrl-C (SIGINT) stops nkvm */
		c->len = sbx_frame(in, (size_t)n, c->buf);
		console_flush(vm, c);
		return;
	}
	c->len = term_escape_filter(&c->esc, in, (size_t)n, c->buf, &quit);
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
	/* a paused VM's vCPUs are parked, not halted */
	*halted_ticks = !vm_paused(vm) && all_halted(vm) ? *halted_ticks + 1 : 0;
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

struct loop {
	struct vm *vm;
	struct console_in con;
	bool con_watched;       /* con_watched_fd is in the epoll set */
	int con_watched_fd;
	bool con_unpollable;    /* a regular file or /dev/null: always ready */
	int sigfd, tickfd;
	unsigned halted_ticks;
	uint64_t start_ns;
};

static void cb_stop(void *opaque, uint32_t events)
{
	struct loop *l = opaque;
	uint64_t junk;

	if (read(l->vm->stop_efd, &junk, sizeof(junk)) < 0)
		junk = 0;
}

static void cb_signal(void *opaque, uint32_t events)
{
	struct loop *l = opaque;

	on_signal(l->vm, l->sigfd);
}

static void cb_tick(void *opaque, uint32_t events)
{
	struct loop *l = opaque;

	on_tick(l->vm, l->tickfd, &l->halted_ticks, l->start_ns);
}

static void cb_room(void *opaque, uint32_t events)
{
	struct loop *l = opaque;
	uint64_t junk;

	if (read(l->vm->console_efd, &junk, sizeof(junk)) < 0)
		junk = 0;
	console_flush(l->vm, &l->con);
}

static void cb_input(void *opaque, uint32_t events)
{
	struct loop *l = opaque;

	console_read(l->vm, &l->con);
}

/* Watch console input only while the last chunk has gone into the guest,
 * so a guest that does not read cannot make nkvm buffer without bound. */
static void update_input(struct loop *l)
{
	struct console_in *c = &l->con;

	if (l->con_watched && (c->fd < 0 || c->len)) {
		evl_del(&l->vm->evl, l->con_watched_fd);
		l->con_watched = false;
	}
	if (l->vm->cfg.console_gated && !l->vm->input_open)
		return;	/* the guest is not ready for input yet */
	if (!l->con_watched && c->fd >= 0 && !c->len && !l->con_unpollable) {
		int r = evl_add(&l->vm->evl, c->fd, EPOLLIN, cb_input, l);

		if (r == -EPERM)
			l->con_unpollable = true;  /* epoll refuses regular files */
		else if (r == 0) {
			l->con_watched = true;
			l->con_watched_fd = c->fd;
		}
	}
}

static int add_fds(struct loop *l)
{
	struct vm *vm = l->vm;

	if (evl_add(&vm->evl, vm->stop_efd, EPOLLIN, cb_stop, l) < 0 ||
	    evl_add(&vm->evl, l->sigfd, EPOLLIN, cb_signal, l) < 0 ||
	    evl_add(&vm->evl, l->tickfd, EPOLLIN, cb_tick, l) < 0 ||
	    evl_add(&vm->evl, vm->console_efd, EPOLLIN, cb_room, l) < 0)
		return -1;
	return 0;
}

static void del_fds(struct loop *l)
{
	struct vm *vm = l->vm;

	evl_del(&vm->evl, vm->stop_efd);
	evl_del(&vm->evl, l->sigfd);
	evl_del(&vm->evl, l->tickfd);
	evl_del(&vm->evl, vm->console_efd);
	if (l->con_watched)
		evl_del(&vm->evl, l->con_watched_fd);
}

int runloop(struct vm *vm, int sigfd)
{
	struct loop l = {
		.vm = vm,
		.con = { .fd = vm->cfg.console_in_fd, .framed = vm->cfg.console_framed },
		.sigfd = sigfd,
		.tickfd = arm_tick(),
		.start_ns = mono_ns(),
	};

	if (l.tickfd < 0 || add_fds(&l) < 0) {
		log_err("event loop setup: %s", strerror(errno));
		vm_request_stop(vm, VM_STOP_CRASH, EXIT_HOST);
	}
	while (!vm_stopping(vm)) {
		bool busy;
		int r;

		update_input(&l);
		/* unpollable input is read whenever the guest has room */
		busy = l.con_unpollable && l.con.fd >= 0 && !l.con.len &&
		       (!vm->cfg.console_gated || vm->input_open);
		r = evl_run_once(&vm->evl, busy ? 0 : -1);
		if (r < 0) {
			log_err("epoll_wait: %s", strerror(-r));
			vm_request_stop(vm, VM_STOP_CRASH, EXIT_HOST);
			break;
		}
		if (busy && !vm_stopping(vm))
			console_read(vm, &l.con);
		if (l.con.len)
			console_flush(vm, &l.con);
	}
	del_fds(&l);
	if (l.tickfd >= 0)
		close(l.tickfd);
	return vm->exit_status;
}
