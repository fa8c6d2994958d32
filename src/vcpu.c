/* vCPU threads: KVM_RUN loop and exit dispatch. */
#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "nkvm/clock.h"
#include "nkvm/log.h"
#include "nkvm/vm.h"

static __thread struct kvm_run *tls_run;

/* SIGUSR1 kicks a vCPU out of KVM_RUN: with immediate_exit set, a signal
 * that lands just before the ioctl still makes it return at once. */
static void kick_handler(int sig)
{
	(void)sig;
	if (tls_run)
		tls_run->immediate_exit = 1;
}

int vcpu_create(struct vm *vm, struct vcpu *v, int id)
{
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0) {
		log_err("KVM_CREATE_VCPU %d: %s", id, strerror(errno));
		return -1;
	}
	v->run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		log_err("mmap vCPU %d: %s", id, strerror(errno));
		return -1;
	}
	return 0;
}

int vcpu_translate(struct vcpu *v, uint64_t gva, uint64_t *gpa)
{
	struct kvm_translation tr = { .linear_address = gva };

	if (ioctl(v->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return -EFAULT;
	*gpa = tr.physical_address;
	return 0;
}

/* Copy between a guest virtual range and a host buffer, page by page. */
static int vcpu_copy_virt(struct vcpu *v, uint64_t gva, void *buf, size_t len, bool write)
{
	uint8_t *p = buf;

	while (len) {
		uint64_t gpa, chunk = 4096 - (gva & 4095);
		int r;

		if (chunk > len)
			chunk = len;
		if (vcpu_translate(v, gva, &gpa) < 0)
			return -EFAULT;
		r = write ? gm_write(&v->vm->gm, gpa, p, chunk) : gm_read(&v->vm->gm, gpa, p, chunk);
		if (r < 0)
			return r;
		gva += chunk;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

int vcpu_read_virt(struct vcpu *v, uint64_t gva, void *buf, size_t len)
{
	return vcpu_copy_virt(v, gva, buf, len, false);
}

int vcpu_write_virt(struct vcpu *v, uint64_t gva, const void *buf, size_t len)
{
	return vcpu_copy_virt(v, gva, (void *)buf, len, true);
}

void vcpu_dump(struct vcpu *v, const char *why)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	uint8_t code[16];
	char hex[64] = "(unreadable)";
	int i;

	log_err("vCPU %d: %s", v->id, why);
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		log_err("vCPU %d: cannot read registers: %s", v->id, strerror(errno));
		return;
	}
	/* one log line each, so the dump stays readable in raw terminal mode */
	log_err(" RIP %016llx RSP %016llx RFLAGS %08llx", r.rip, r.rsp, r.rflags);
	log_err(" RAX %016llx RBX %016llx RCX %016llx RDX %016llx", r.rax, r.rbx, r.rcx, r.rdx);
	log_err(" RSI %016llx RDI %016llx RBP %016llx", r.rsi, r.rdi, r.rbp);
	log_err(" R8  %016llx R9  %016llx R10 %016llx R11 %016llx", r.r8, r.r9, r.r10, r.r11);
	log_err(" R12 %016llx R13 %016llx R14 %016llx R15 %016llx", r.r12, r.r13, r.r14, r.r15);
	log_err(" CS %04x (base %llx, dpl %d, l %d) SS %04x DS %04x", s.cs.selector,
		s.cs.base, s.cs.dpl, s.cs.l, s.ss.selector, s.ds.selector);
	log_err(" CR0 %llx CR2 %llx CR3 %llx CR4 %llx EFER %llx", s.cr0, s.cr2, s.cr3,
		s.cr4, s.efer);
	log_err(" GDT %llx/%x IDT %llx/%x TR %04x base %llx", s.gdt.base, s.gdt.limit,
		s.idt.base, s.idt.limit, s.tr.selector, s.tr.base);
	if (vcpu_read_virt(v, s.cs.base + r.rip, code, sizeof(code)) == 0) {
		for (i = 0; i < (int)sizeof(code); i++)
			snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ", code[i]);
	}
	log_err(" code at RIP: %s", hex);
}

/* Log an access nothing handled, once per address, in debug mode. */
static void note_unhandled(struct vm *vm, const char *bus, uint64_t addr, bool write)
{
	static uint64_t seen[128];
	static unsigned nseen;
	unsigned i, n;

	if (log_threshold < LOG_DEBUG)
		return;
	n = __atomic_load_n(&nseen, __ATOMIC_RELAXED);
	for (i = 0; i < n && i < 128; i++)
		if (seen[i] == addr)
			return;
	if (n < 128) {
		seen[n] = addr;
		__atomic_store_n(&nseen, n + 1, __ATOMIC_RELAXED);
	}
	log_debug("unhandled %s %s at 0x%" PRIx64, bus, write ? "write" : "read", addr);
	(void)vm;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	unsigned size = run->io.size, count = run->io.count, i;
	uint8_t *p = (uint8_t *)run + run->io.data_offset;

	v->stats.io++;
	if ((uint64_t)run->io.data_offset + (uint64_t)size * count > (uint64_t)vm->vcpu_mmap_size) {
		log_err("vCPU %d: KVM reported an I/O buffer outside kvm_run", v->id);
		vm_request_stop(vm, VM_STOP_CRASH, EXIT_GUEST_CRASH);
		return;
	}
	if (vm->pvm && !pvm_io_allowed(v, run->io.port, size)) {
		if (!out)
			memset(p, 0xff, (size_t)size * count);
		return;
	}
	for (i = 0; i < count; i++, p += size)
		if (!bus_access(&vm->pio, run->io.port, p, size, out))
			note_unhandled(vm, "port", run->io.port, out);
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len;

	v->stats.mmio++;
	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (!bus_access(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
			run->mmio.is_write))
		note_unhandled(v->vm, "mmio", run->mmio.phys_addr, run->mmio.is_write);
}

/* Called after a kick: note whether this vCPU is halted for good (hlt with
 * interrupts off, or an AP never started), which the main loop turns into
 * a power-off, and let the PVM code look for a stuck vmcall. */
static void on_kick(struct vcpu *v)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	bool dead = false;

	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) == 0) {
		if (mp.mp_state == KVM_MP_STATE_UNINITIALIZED ||
		    mp.mp_state == KVM_MP_STATE_INIT_RECEIVED)
			dead = true;
		else if (mp.mp_state == KVM_MP_STATE_HALTED &&
			 ioctl(v->fd, KVM_GET_REGS, &regs) == 0 && !(regs.rflags & (1u << 9)))
			dead = true;
	}
	v->halted_for_good = dead;
	if (v->vm->profile) {
		/* NKVM_PROFILE: sample RIP at each tick, to see where guest time goes */
		if (dead || ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
			fprintf(v->vm->profile, "%d %llx\n", v->id, dead ? 0ULL : regs.rip);
	}
	if (v->vm->pvm && !dead)
		pvm_on_kick(v);
}

/* Handle one exit. Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;
	char why[96];

	v->stats.exits++;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_HLT:
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_DEBUG:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_dump(v, "triple fault (KVM_EXIT_SHUTDOWN): the guest crashed");
		vm_request_stop(vm, VM_STOP_CRASH, EXIT_GUEST_CRASH);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_stop(vm, VM_STOP_POWEROFF, EXIT_GUEST_OK);
			return false;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_stop(vm, VM_STOP_RESET, EXIT_GUEST_OK);
			return false;
		default:
			snprintf(why, sizeof(why), "system event %u", run->system_event.type);
			vcpu_dump(v, why);
			vm_request_stop(vm, VM_STOP_CRASH, EXIT_GUEST_CRASH);
			return false;
		}
	case KVM_EXIT_INTERNAL_ERROR:
		v->stats.internal++;
		if (vm->pvm && run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
			if (pvm_handle_emulation_failure(v))
				return true;
			if (vm_stopping(vm))
				return false;   /* the PVM code reported it */
		}
		snprintf(why, sizeof(why), "KVM internal error, suberror %u%s",
			 run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
			 " (instruction emulation failed)" : "");
		vcpu_dump(v, why);
		vm_request_stop(vm, VM_STOP_CRASH, EXIT_GUEST_CRASH);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "KVM entry failed, reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_dump(v, why);
		vm_request_stop(vm, VM_STOP_CRASH, EXIT_GUEST_CRASH);
		return false;
	default:
		snprintf(why, sizeof(why), "unhandled KVM exit reason %u", run->exit_reason);
		vcpu_dump(v, why);
		vm_request_stop(vm, VM_STOP_CRASH, EXIT_GUEST_CRASH);
		return false;
	}
}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t set;
	char name[16];

	snprintf(name, sizeof(name), "nkvm-vcpu%d", v->id);
	pthread_setname_np(pthread_self(), name);
	tls_run = v->run;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!vm_stopping(vm)) {
		vm_pause_point(vm);
		if (vm_stopping(vm))
			break;
		if (v->id == 0 && !vm->first_run_logged) {
			vm->first_run_logged = 1;
			log_debug("first KVM_RUN after %.3f ms",
				 (mono_ns() - vm->t_start_ns) / 1e6);
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				v->stats.intr++;
				if (!vm_stopping(vm))
					on_kick(v);
				continue;
			}
			log_err("vCPU %d: KVM_RUN: %s", v->id, strerror(errno));
			vm_request_stop(vm, VM_STOP_CRASH, EXIT_GUEST_CRASH);
			break;
		}
		if (!handle_exit(v))
			break;
	}
	return NULL;
}
