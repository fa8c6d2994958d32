/*
 * The pure half of the PVM fix-ups (DESIGN.md section 5): decoding the few
 * instructions kvm_pvm's emulator cannot execute, and recognising a
 * misdelivered SYSCALL. No KVM here, so it is unit-tested directly.
 */
#ifndef NKVM_PVM_INSN_H
#define NKVM_PVM_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pvm_insn_kind {
	PVM_INSN_UNKNOWN = 0,
	PVM_INSN_INT3,     /* cc */
	PVM_INSN_UD2,      /* 0f 0b */
	PVM_INSN_FWAIT,    /* 9b */
	PVM_INSN_CLAC,     /* 0f 01 ca */
	PVM_INSN_STAC,     /* 0f 01 cb */
	PVM_INSN_VMCALL,   /* 0f 01 c1 (vmcall) or 0f 01 d9 (vmmcall) */
	PVM_INSN_LDMXCSR,  /* [prefixes] 0f ae /2 m32 */
	PVM_INSN_STMXCSR,  /* [prefixes] 0f ae /3 m32 */
};

/* Segment override that matters in 64-bit mode. */
enum pvm_seg { PVM_SEG_NONE, PVM_SEG_FS, PVM_SEG_GS };

struct pvm_insn {
	enum pvm_insn_kind kind;
	unsigned len;          /* total length in bytes */
	/* memory operand (LDMXCSR/STMXCSR) */
	enum pvm_seg seg;
	int base;              /* GPR number 0..15, or -1 */
	int index;             /* GPR number 0..15, or -1 */
	unsigned scale;        /* 1, 2, 4, 8 */
	int64_t disp;
	bool rip_relative;
};

/*
 * Decode the instruction in code[0..n). Only 64-bit code is decoded for
 * memory operands. Returns 0, or -EINVAL for anything not in the list above
 * (including truncated input and 32-bit address-size prefixes).
 */
int pvm_decode(const uint8_t *code, size_t n, bool long_mode, struct pvm_insn *out)
	__attribute__((warn_unused_result));

/* Effective address of a decoded memory operand. gpr[] is in encoding order
 * (rax rcx rdx rbx rsp rbp rsi rdi r8..r15); rip is the instruction's. */
uint64_t pvm_insn_ea(const struct pvm_insn *in, const uint64_t gpr[16],
		     uint64_t rip, uint64_t seg_base);

/*
 * The hardware frame of a page fault taken at `frame` (error code, RIP, CS,
 * RFLAGS, RSP, SS): true when it is kvm_pvm's broken SYSCALL, i.e. an
 * instruction fetch at LSTAR from CPL 3.
 */
bool pvm_is_syscall_fault(const uint64_t frame[6], uint64_t cr2, uint64_t lstar);

/*
 * Where a hook int3 can go at the start of the guest's page-fault handler:
 * the offset of a 3-byte NOP (what Linux's CLAC alternative becomes on a CPU
 * without SMAP), optionally after an ENDBR64. -1 if the handler does not
 * start that way (pre-alternatives 90 90 90 included: patching must wait).
 */
int pvm_pf_hook_offset(const uint8_t *code, size_t n);

#endif
