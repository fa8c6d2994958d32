/*
 * Fix-ups for kvm_pvm hosts (DESIGN.md section 5): a KVM whose CPL0 guest
 * code runs in an instruction emulator that cannot execute a few
 * instructions, delivers SYSCALL from user mode without switching to CPL0,
 * hangs on vmcall and lets user-mode port I/O through unchecked.
 * Active only when vm->pvm is set (pvm_detect); nothing here runs on
 * VMX/SVM hosts. Every fix-up is counted in vm->pvm_stats.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "nkvm/log.h"
#include "nkvm/pvm_insn.h"
#include "nkvm/vm.h"

#define MSR_STAR         0xc0000081
#define MSR_LSTAR        0xc0000082
#define MSR_SYSCALL_MASK 0xc0000084

#define RFLAGS_AC  (1ull << 18)
#define VEC_BP 3
#define VEC_UD 6
#define VEC_GP 13
#define PF_VECTOR 14
/* KVM's hypercall "not implemented" return value */
#define KVM_ENOSYS_RET ((uint64_t)-1000)

static struct log_ratelimit pvm_rl = { .burst = 10 };

bool pvm_detect(void)
{
	const char *force = getenv("NKVM_PVM");

	if (force && *force)
		return strcmp(force, "0") != 0;
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/*
 * The emulator cannot run these features' instructions, and KVM_SET_CPUID2
 * is ignored, so the guest kernel is asked not to use them; nopv keeps it
 * off hypercalls, which hang. nopv also turns off kvmclock, and the guest
 * then fails to calibrate its TSC against the PIT (emulated timing is too
 * uneven) and falls back to jiffies, paying for clock catch-up on every tick:
 * so nkvm tells it the TSC frequency KVM reports. swiotlb=noforce: with RAM
 * above 4 GiB the guest would zero a 64 MiB bounce buffer and set up its
 * slots, about two minutes of emulated code, for devices nkvm does not have
 * (virtio needs no bouncing).
 */
char *pvm_cmdline(struct vm *vm)
{
	int khz = ioctl(vm->vm_fd, KVM_GET_TSC_KHZ, 0);
	char *s = NULL;

	if (asprintf(&s, "nopv clearcpuid=cx16,xsave,smap,popcnt,erms,fsrm,ssse3,rdtscp,"
		     "fsgsbase,rdrand,rdseed,pcid,invpcid swiotlb=noforce%s%.0d%s",
		     khz > 0 ? " tsc_early_khz=" : "", khz > 0 ? khz : 0,
		     khz > 0 ? " tsc=reliable" : "") < 0)
		return NULL;
	return s;
}

static int get_msr(struct vcpu *v, uint32_t idx, uint64_t *val)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.e.index = idx;
	if (ioctl(v->fd, KVM_GET_MSRS, &m) != 1)
		return -EIO;
	*val = m.e.data;
	return 0;
}

static int inject_exception(struct vcpu *v, unsigned vector, bool has_err, uint32_t err)
{
	struct kvm_vcpu_events ev;

	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = vector;
	ev.exception.has_error_code = has_err;
	ev.exception.error_code = err;
	ev.flags = 0;
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	return 0;
}

static void regs_to_gpr(const struct kvm_regs *r, uint64_t g[16])
{
	g[0] = r->rax; g[1] = r->rcx; g[2] = r->rdx; g[3] = r->rbx;
	g[4] = r->rsp; g[5] = r->rbp; g[6] = r->rsi; g[7] = r->rdi;
	g[8] = r->r8; g[9] = r->r9; g[10] = r->r10; g[11] = r->r11;
	g[12] = r->r12; g[13] = r->r13; g[14] = r->r14; g[15] = r->r15;
}

/* ldmxcsr / stmxcsr: move MXCSR between guest memory and the FPU state. */
static bool emulate_mxcsr(struct vcpu *v, struct kvm_regs *r, struct kvm_sregs *s,
			  const struct pvm_insn *in)
{
	struct kvm_fpu fpu;
	uint64_t g[16], seg = 0, ea;
	uint32_t val;

	regs_to_gpr(r, g);
	if (in->seg == PVM_SEG_FS)
		seg = s->fs.base;
	else if (in->seg == PVM_SEG_GS)
		seg = s->gs.base;
	ea = pvm_insn_ea(in, g, r->rip, seg);
	if (ioctl(v->fd, KVM_GET_FPU, &fpu) < 0)
		return false;
	if (in->kind == PVM_INSN_LDMXCSR) {
		if (vcpu_read_virt(v, ea, &val, 4) < 0)
			return false;
		if (val & 0xffff0000u)      /* reserved bits: the CPU raises #GP */
			return inject_exception(v, VEC_GP, true, 0) == 0;
		fpu.mxcsr = val;
		if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
			return false;
	} else {
		val = fpu.mxcsr;
		if (vcpu_write_virt(v, ea, &val, 4) < 0)
			return false;
	}
	r->rip += in->len;
	return true;
}

/*
 * kvm_pvm delivered SYSCALL at CPL3 and the guest faulted fetching LSTAR;
 * we stopped it at the first instruction of its page-fault handler. Build
 * the CPL0 state the architecture defines for SYSCALL instead: RIP = LSTAR,
 * RSP = the user stack, CS/SS from STAR, RFLAGS masked (RCX and R11 were
 * already set by kvm_pvm).
 */
static bool redo_syscall(struct vcpu *v, struct kvm_regs *r, struct kvm_sregs *s,
			 const uint64_t frame[6], uint64_t lstar)
{
	uint64_t star, mask;
	uint16_t cs;

	if (get_msr(v, MSR_STAR, &star) < 0 || get_msr(v, MSR_SYSCALL_MASK, &mask) < 0)
		return false;
	cs = (star >> 32) & 0xfffc;
	r->rip = lstar;
	r->rsp = frame[4];
	r->rflags = (frame[3] & ~mask) | 2;
	memset(&s->cs, 0, sizeof(s->cs));
	s->cs.selector = cs;
	s->cs.limit = 0xffffffff;
	s->cs.type = 0xb;
	s->cs.present = 1;
	s->cs.s = 1;
	s->cs.l = 1;
	s->cs.g = 1;
	s->ss = s->cs;
	s->ss.selector = cs + 8;
	s->ss.type = 0x3;
	s->ss.l = 0;
	s->ss.db = 1;
	if (ioctl(v->fd, KVM_SET_SREGS, s) < 0)
		return false;
	return true;
}

/* Our int3 at the page-fault handler fired. */
static bool handle_pf_hook(struct vcpu *v, struct kvm_regs *r, struct kvm_sregs *s)
{
	struct vm *vm = v->vm;
	uint64_t frame[6], lstar = 0;

	if (vcpu_read_virt(v, r->rsp, frame, sizeof(frame)) == 0 &&
	    get_msr(v, MSR_LSTAR, &lstar) == 0 &&
	    pvm_is_syscall_fault(frame, s->cr2, lstar)) {
		__atomic_fetch_add(&vm->pvm_stats.syscall, 1, __ATOMIC_RELAXED);
		return redo_syscall(v, r, s, frame, lstar);
	}
	/* an ordinary page fault: carry on past the NOP we replaced */
	__atomic_fetch_add(&vm->pvm_stats.pf_passthrough, 1, __ATOMIC_RELAXED);
	r->rip += vm->pf_hook.nop_len;
	return true;
}

/*
 * Put an int3 over the NOP that opens the guest's page-fault handler, once
 * Linux has patched its alternatives (the NOP is then 0f 1f 00), and put it
 * back if the guest rewrote it. Called from periodic kicks.
 */
static void pf_hook_check(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_sregs s;
	uint8_t gate[16], code[8], cc = 0xcc;
	uint64_t handler, gpa;
	int off;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0 || !(s.efer & 0x400) ||
	    s.idt.limit < PF_VECTOR * 16 + 15)
		return;
	if (vcpu_read_virt(v, s.idt.base + PF_VECTOR * 16, gate, sizeof(gate)) < 0)
		return;
	handler = (uint64_t)gate[0] | (uint64_t)gate[1] << 8 | (uint64_t)gate[6] << 16 |
		  (uint64_t)gate[7] << 24 | (uint64_t)gate[8] << 32 |
		  (uint64_t)gate[9] << 40 | (uint64_t)gate[10] << 48 |
		  (uint64_t)gate[11] << 56;
	pthread_mutex_lock(&vm->pf_hook.lock);
	if (vm->pf_hook.gva && vm->pf_hook.gva - handler <= 4) {
		if (vcpu_read_virt(v, vm->pf_hook.gva, code, 1) == 0 && code[0] == 0xcc)
			goto out;       /* still in place */
		vm->pf_hook.gva = 0;
	}
	if (vcpu_read_virt(v, handler, code, sizeof(code)) < 0)
		goto out;
	off = pvm_pf_hook_offset(code, sizeof(code));
	if (off < 0 || vcpu_translate(v, handler + off, &gpa) < 0)
		goto out;
	if (gm_write(&vm->gm, gpa, &cc, 1) < 0)
		goto out;
	vm->pf_hook.gva = handler + off;
	vm->pf_hook.nop_len = 3;
	vm->pf_hook.orig = code[off];
	log_debug("pvm: SYSCALL repair hook at 0x%llx", (unsigned long long)vm->pf_hook.gva);
out:
	pthread_mutex_unlock(&vm->pf_hook.lock);
}

bool pvm_handle_emulation_failure(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct pvm_stats *st = &vm->pvm_stats;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct pvm_insn in;
	uint8_t code[15];
	size_t n = sizeof(code);
	bool ok = false;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return false;
	/* fetch what we can: the instruction may end just before an unmapped page */
	while (n && vcpu_read_virt(v, s.cs.base + r.rip, code, n) < 0)
		n = n > 8 ? n - 4 : n - 1;
	if (!n || pvm_decode(code, n, s.cs.l, &in) < 0)
		return false;
	switch (in.kind) {
	case PVM_INSN_INT3:
		if (vm->pf_hook.gva && r.rip == vm->pf_hook.gva) {
			ok = handle_pf_hook(v, &r, &s);
			break;
		}
		if (s.idt.limit < (s.cs.l ? 16 : 8) * VEC_BP + (s.cs.l ? 15 : 7)) {
			/* No IDT entry for #BP: on real hardware a triple fault
			 * (Linux's last-resort reboot). kvm_pvm does not model it
			 * if we inject, so report it as KVM would. */
			vcpu_dump(v, "triple fault (int3 with no IDT): the guest crashed");
			vm_request_stop(vm, VM_STOP_CRASH, EXIT_GUEST_CRASH);
			return false;
		}
		__atomic_fetch_add(&st->int3, 1, __ATOMIC_RELAXED);
		r.rip += 1;     /* #BP is a trap: it reports the next RIP */
		ok = ioctl(v->fd, KVM_SET_REGS, &r) == 0 &&
		     inject_exception(v, VEC_BP, false, 0) == 0;
		if (ok)
			pf_hook_check(v);
		return ok;
	case PVM_INSN_UD2:
		__atomic_fetch_add(&st->ud2, 1, __ATOMIC_RELAXED);
		return inject_exception(v, VEC_UD, false, 0) == 0;
	case PVM_INSN_FWAIT:
		__atomic_fetch_add(&st->fwait, 1, __ATOMIC_RELAXED);
		r.rip += in.len;
		ok = true;
		break;
	case PVM_INSN_CLAC:
	case PVM_INSN_STAC:
		__atomic_fetch_add(&st->clac_stac, 1, __ATOMIC_RELAXED);
		if (in.kind == PVM_INSN_CLAC)
			r.rflags &= ~RFLAGS_AC;
		else
			r.rflags |= RFLAGS_AC;
		r.rip += in.len;
		ok = true;
		break;
	case PVM_INSN_VMCALL:
		__atomic_fetch_add(&st->vmcall, 1, __ATOMIC_RELAXED);
		r.rax = KVM_ENOSYS_RET;
		r.rip += in.len;
		ok = true;
		break;
	case PVM_INSN_LDMXCSR:
	case PVM_INSN_STMXCSR:
		__atomic_fetch_add(&st->mxcsr, 1, __ATOMIC_RELAXED);
		ok = emulate_mxcsr(v, &r, &s, &in);
		break;
	default:
		return false;
	}
	return ok && ioctl(v->fd, KVM_SET_REGS, &r) == 0;
}

void pvm_on_kick(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	uint8_t code[3];

	pf_hook_check(v);
	/* a vmcall hangs inside KVM_RUN: complete it as "not implemented" */
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return;
	if (vcpu_read_virt(v, s.cs.base + r.rip, code, 3) < 0)
		return;
	if (code[0] == 0x0f && code[1] == 0x01 && (code[2] == 0xc1 || code[2] == 0xd9)) {
		__atomic_fetch_add(&v->vm->pvm_stats.vmcall, 1, __ATOMIC_RELAXED);
		r.rax = KVM_ENOSYS_RET;
		r.rip += 3;
		if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
			log_warn("pvm: cannot complete vmcall: %s", strerror(errno));
	}
}

/* Whether the TSS I/O bitmap lets CPL3 code use [port, port+size). */
static bool tss_allows(struct vcpu *v, const struct kvm_sregs *s, uint16_t port, unsigned size)
{
	uint16_t base;
	unsigned p;

	if (s->tr.limit < 0x67 || vcpu_read_virt(v, s->tr.base + 0x66, &base, 2) < 0)
		return false;
	for (p = port; p < (unsigned)port + size; p++) {
		uint64_t off = (uint64_t)base + p / 8;
		uint8_t bits;

		if (off > s->tr.limit || vcpu_read_virt(v, s->tr.base + off, &bits, 1) < 0)
			return false;
		if (bits & (1u << (p % 8)))
			return false;
	}
	return true;
}

bool pvm_io_allowed(struct vcpu *v, uint16_t port, unsigned size)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	unsigned cpl, iopl;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return true;
	cpl = s.cs.selector & 3;
	if (cpl == 0 || !(s.cr0 & 1))
		return true;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0)
		return false;
	iopl = (r.rflags >> 12) & 3;
	if (cpl <= iopl || tss_allows(v, &s, port, size))
		return true;
	__atomic_fetch_add(&v->vm->pvm_stats.io_denied, 1, __ATOMIC_RELAXED);
	if (log_ratelimit_ok(&pvm_rl))
		log_warn("pvm: guest user mode touched port 0x%x without permission: #GP", port);
	if (inject_exception(v, VEC_GP, true, 0) < 0)
		log_warn("pvm: cannot inject #GP: %s", strerror(errno));
	return false;
}
