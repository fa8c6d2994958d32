/* x86 vCPU state at power-on: CPUID, MSRs, FPU, LAPIC, boot registers. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "nkvm/layout.h"
#include "nkvm/log.h"
#include "nkvm/vm.h"

#define MAX_CPUID_ENTRIES 256

/* GDT selectors nkvm boots with (also written to LAYOUT_GDT). */
#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA   0x18
#define SEL_TSS    0x20

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR              0xc0000081
#define MSR_LSTAR             0xc0000082
#define MSR_CSTAR             0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

int x86_get_supported_cpuid(struct vm *vm)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + MAX_CPUID_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = MAX_CPUID_ENTRIES;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(c);
		return -errno;
	}
	vm->cpuid = c;
	return 0;
}

static unsigned order_base_2(unsigned n)
{
	unsigned s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

/* Per-vCPU CPUID: APIC IDs and a one-socket, one-thread-per-core topology. */
static int set_cpuid(struct vm *vm, struct vcpu *v)
{
	const struct kvm_cpuid2 *base = vm->cpuid;
	size_t sz = sizeof(*base) + base->nent * sizeof(base->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	unsigned shift = order_base_2(vm->ncpus), i;
	int r = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, base, sz);
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffff) | ((uint32_t)v->id << 24) |
				 ((uint32_t)(1u << shift) << 16);
			if (vm->ncpus > 1)
				e->edx |= 1u << 28; /* HTT: the count field is valid */
			e->ecx |= 1u << 31;         /* running under a hypervisor */
			break;
		case 4:
			/* cores per package - 1 in 31:26; caches private except L3 */
			e->eax &= 0x3ff;
			e->eax |= ((1u << shift) - 1) << 26;
			if (((e->eax >> 5) & 7) == 3)
				e->eax |= ((1u << shift) - 1) << 14;
			break;
		case 0xb:
		case 0x1f:
			e->edx = v->id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = shift;
				e->ebx = vm->ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008:
			e->ecx = (e->ecx & ~0xffu) | (vm->ncpus - 1);
			break;
		}
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		log_err("KVM_SET_CPUID2: %s", strerror(errno));
		r = -errno;
	}
	free(c);
	return r;
}

static int set_msrs(struct vcpu *v)
{
	static const uint32_t idx[] = {
		MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
		MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK, MSR_KERNEL_GS_BASE,
		MSR_IA32_MISC_ENABLE, MSR_MTRR_DEF_TYPE,
	};
	enum { N = sizeof(idx) / sizeof(idx[0]) };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[N];
	} m;
	int i;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = N;
	for (i = 0; i < N; i++)
		m.e[i].index = idx[i];
	m.e[8].data = 1;                   /* MISC_ENABLE: fast strings */
	m.e[9].data = (1u << 11) | 6;      /* MTRRs on, default write-back */
	if (ioctl(v->fd, KVM_SET_MSRS, &m) != N) {
		log_err("KVM_SET_MSRS: could not set the boot MSRs");
		return -EINVAL;
	}
	return 0;
}

static int set_fpu(struct vcpu *v)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0) {
		log_err("KVM_SET_FPU: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* LINT0 as ExtINT and LINT1 as NMI: PIC interrupts reach the CPU before the
 * guest programs its IOAPIC (virtual wire mode). */
static int set_lapic(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t *lint0, *lint1;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0) {
		log_err("KVM_GET_LAPIC: %s", strerror(errno));
		return -errno;
	}
	lint0 = (uint32_t *)(void *)&l.regs[0x350];
	lint1 = (uint32_t *)(void *)&l.regs[0x360];
	*lint0 = (*lint0 & ~0x700u & ~(1u << 16)) | (7u << 8);
	*lint1 = (*lint1 & ~0x700u & ~(1u << 16)) | (4u << 8);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0) {
		log_err("KVM_SET_LAPIC: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

/* Flat GDT: null, code32 (0x08), code64 (0x10), data (0x18), TSS (0x20). */
int x86_write_gdt(struct gm *gm)
{
	static const uint64_t gdt[] = {
		0,
		0x00cf9b000000ffffULL,  /* 32-bit code, base 0, 4 GiB */
		0x00af9b000000ffffULL,  /* 64-bit code */
		0x00cf93000000ffffULL,  /* data, base 0, 4 GiB */
		0x00008b0000000fffULL,  /* busy TSS, base 0 */
		0,
	};

	return gm_write(gm, LAYOUT_GDT, gdt, sizeof(gdt));
}

static int set_boot_regs(struct vm *vm, struct vcpu *v)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	bool lm = vm->boot.kind == BOOT_BZIMAGE;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		log_err("KVM_GET_SREGS: %s", strerror(errno));
		return -errno;
	}
	seg(&s.cs, lm ? SEL_CODE64 : SEL_CODE32, 0xb, lm);
	seg(&s.ds, SEL_DATA, 0x3, false);
	s.es = s.fs = s.gs = s.ss = s.ds;
	memset(&s.tr, 0, sizeof(s.tr));
	s.tr.selector = SEL_TSS;
	s.tr.limit = 0xfff;
	s.tr.type = 0xb;
	s.tr.present = 1;
	s.gdt.base = LAYOUT_GDT;
	s.gdt.limit = 6 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	if (lm) {
		s.cr0 = 0x80050033;   /* PG AM WP NE ET MP PE */
		s.cr3 = LAYOUT_PML4;
		s.cr4 = 0x20;         /* PAE */
		s.efer = 0x500;       /* LME LMA */
	} else {
		s.cr0 = 0x11;         /* ET PE: protected mode, no paging */
		s.cr3 = 0;
		s.cr4 = 0;
		s.efer = 0;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0) {
		log_err("KVM_SET_SREGS: %s", strerror(errno));
		return -errno;
	}
	memset(&r, 0, sizeof(r));
	r.rflags = 2;
	r.rip = vm->boot.entry;
	if (lm) {
		r.rsi = vm->boot.boot_info;
		r.rsp = 0x8ff0;
	} else {
		r.rbx = vm->boot.boot_info;
	}
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
		log_err("KVM_SET_REGS: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int x86_setup_vcpu(struct vm *vm, struct vcpu *v)
{
	int r;

	r = set_cpuid(vm, v);
	if (!r)
		r = set_msrs(v);
	if (!r)
		r = set_fpu(v);
	if (!r)
		r = set_lapic(v);
	if (!r && v->id == 0)
		r = set_boot_regs(vm, v);
	return r;
}
