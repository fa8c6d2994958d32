/* Unit tests for the PVM fix-up decoder (src/arch/x86/pvm_insn.c). */
#include <errno.h>

#include "nkvm/pvm_insn.h"
#include "tap.h"

static int dec(const uint8_t *c, size_t n, bool lm, struct pvm_insn *in)
{
	return pvm_decode(c, n, lm, in);
}

#define DECODE(lm, ...) ({ static const uint8_t b_[] = { __VA_ARGS__ }; \
	dec(b_, sizeof(b_), lm, &in); })

static void test_simple(void)
{
	struct pvm_insn in;

	is_int(DECODE(true, 0xcc), 0, "int3 decodes");
	is_int(in.kind, PVM_INSN_INT3, "int3 kind");
	is_int(in.len, 1, "int3 length 1");
	is_int(DECODE(true, 0x0f, 0x0b), 0, "ud2 decodes");
	is_int(in.kind, PVM_INSN_UD2, "ud2 kind");
	is_int(in.len, 2, "ud2 length 2");
	is_int(DECODE(true, 0x9b), 0, "fwait decodes");
	is_int(in.kind, PVM_INSN_FWAIT, "fwait kind");
	is_int(DECODE(true, 0x0f, 0x01, 0xca), 0, "clac decodes");
	is_int(in.kind, PVM_INSN_CLAC, "clac kind");
	is_int(in.len, 3, "clac length 3");
	is_int(DECODE(true, 0x0f, 0x01, 0xcb), 0, "stac decodes");
	is_int(in.kind, PVM_INSN_STAC, "stac kind");
	is_int(DECODE(true, 0x0f, 0x01, 0xc1), 0, "vmcall decodes");
	is_int(in.kind, PVM_INSN_VMCALL, "vmcall kind");
	is_int(DECODE(true, 0x0f, 0x01, 0xd9), 0, "vmmcall decodes");
	is_int(in.kind, PVM_INSN_VMCALL, "vmmcall kind");
	is_int(in.len, 3, "vmmcall length 3");
}

static void test_mxcsr(void)
{
	struct pvm_insn in;
	uint64_t g[16] = { 0 };

	g[4] = 0x1000;          /* rsp */
	g[5] = 0x2000;          /* rbp */
	g[0] = 0x10;            /* rax */
	g[9] = 0x300;           /* r9 */
	/* ldmxcsr 0x8(%rsp): 0f ae 54 24 08 */
	is_int(DECODE(true, 0x0f, 0xae, 0x54, 0x24, 0x08), 0, "ldmxcsr 8(%%rsp) decodes");
	is_int(in.kind, PVM_INSN_LDMXCSR, "ldmxcsr kind");
	is_int(in.len, 5, "ldmxcsr 8(%%rsp) length 5");
	is_int(pvm_insn_ea(&in, g, 0, 0), 0x1008, "ea = rsp + 8");
	/* stmxcsr -0x4(%rbp): 0f ae 5d fc */
	is_int(DECODE(true, 0x0f, 0xae, 0x5d, 0xfc), 0, "stmxcsr -4(%%rbp) decodes");
	is_int(in.kind, PVM_INSN_STMXCSR, "stmxcsr kind");
	is_int(pvm_insn_ea(&in, g, 0, 0), 0x1ffc, "ea = rbp - 4");
	/* ldmxcsr 0x100(%rip): 0f ae 15 00 01 00 00 */
	is_int(DECODE(true, 0x0f, 0xae, 0x15, 0x00, 0x01, 0x00, 0x00), 0, "rip-relative decodes");
	is_int(in.len, 7, "rip-relative length 7");
	is_int(pvm_insn_ea(&in, g, 0xffff0000, 0), 0xffff0000 + 7 + 0x100, "ea = next rip + disp");
	/* ldmxcsr (%r9,%rax,4) with REX.B: 41 0f ae 14 81 */
	is_int(DECODE(true, 0x41, 0x0f, 0xae, 0x14, 0x81), 0, "REX.B + SIB decodes");
	is_int(in.len, 5, "REX + SIB length 5");
	is_int(pvm_insn_ea(&in, g, 0, 0), 0x300 + 0x10 * 4, "ea = r9 + rax*4");
	/* gs-relative: 65 0f ae 14 25 20 00 00 00 = ldmxcsr %gs:0x20 */
	is_int(DECODE(true, 0x65, 0x0f, 0xae, 0x14, 0x25, 0x20, 0, 0, 0), 0, "gs:disp32 decodes");
	is_int(in.seg, PVM_SEG_GS, "gs override noted");
	is_int(pvm_insn_ea(&in, g, 0, 0xabc000), 0xabc020, "ea adds the gs base");
	/* register form 0f ae d0 is not ldmxcsr */
	is_int(DECODE(true, 0x0f, 0xae, 0xd0), -EINVAL, "register operand refused");
	/* 0f ae /0 (fxsave) is not ours */
	is_int(DECODE(true, 0x0f, 0xae, 0x04, 0x24), -EINVAL, "fxsave refused");
	/* 32-bit code: no memory decoding */
	is_int(DECODE(false, 0x0f, 0xae, 0x54, 0x24, 0x08), -EINVAL, "ldmxcsr outside long mode refused");
	/* 0x67 address-size prefix */
	is_int(DECODE(true, 0x67, 0x0f, 0xae, 0x10), -EINVAL, "addr32 prefix refused");
}

static void test_malformed(void)
{
	struct pvm_insn in;
	uint8_t b[1] = { 0 };

	is_int(dec(b, 0, true, &in), -EINVAL, "empty buffer refused");
	is_int(DECODE(true, 0x0f), -EINVAL, "lone 0f refused");
	is_int(DECODE(true, 0x0f, 0x01), -EINVAL, "truncated 0f 01 refused");
	is_int(DECODE(true, 0x0f, 0xae), -EINVAL, "truncated 0f ae refused");
	is_int(DECODE(true, 0x0f, 0xae, 0x54), -EINVAL, "missing SIB refused");
	is_int(DECODE(true, 0x0f, 0xae, 0x54, 0x24), -EINVAL, "missing disp8 refused");
	is_int(DECODE(true, 0x0f, 0xae, 0x15, 0x00, 0x01), -EINVAL, "short disp32 refused");
	is_int(DECODE(true, 0x66, 0x66, 0x66, 0x66), -EINVAL, "prefixes only refused");
	is_int(DECODE(true, 0x90), -EINVAL, "nop is not ours");
	is_int(DECODE(true, 0x0f, 0x01, 0xd0), -EINVAL, "xgetbv is not ours");
	is_int(DECODE(true, 0x48), -EINVAL, "lone REX refused");
}

static void test_syscall_fault(void)
{
	uint64_t lstar = 0xffffffff81600000ULL;
	uint64_t f[6] = { 0x14, lstar, 0x33, 0x2, 0x7ffc0000, 0x2b };

	ok(pvm_is_syscall_fault(f, lstar, lstar), "user fetch at LSTAR is the broken syscall");
	f[2] = 0x10;
	ok(!pvm_is_syscall_fault(f, lstar, lstar), "kernel CS is not");
	f[2] = 0x33;
	f[1] = lstar + 1;
	ok(!pvm_is_syscall_fault(f, lstar, lstar), "other RIP is not");
	f[1] = lstar;
	ok(!pvm_is_syscall_fault(f, 0x1234, lstar), "other CR2 is not");
	f[0] = 0x10;
	ok(!pvm_is_syscall_fault(f, lstar, lstar), "supervisor fault is not");
	f[0] = 0x14;
	ok(!pvm_is_syscall_fault(f, 0, 0), "LSTAR 0 (not set up) never matches");
}

static void test_hook_offset(void)
{
	static const uint8_t nop3[] = { 0x0f, 0x1f, 0x00, 0x48 };
	static const uint8_t endbr[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x0f, 0x1f, 0x00, 0x90 };
	static const uint8_t early[] = { 0x90, 0x90, 0x90, 0x48 };
	static const uint8_t clac[] = { 0x0f, 0x01, 0xca, 0x48 };

	is_int(pvm_pf_hook_offset(nop3, sizeof(nop3)), 0, "3-byte NOP at the start");
	is_int(pvm_pf_hook_offset(endbr, sizeof(endbr)), 4, "NOP after ENDBR64");
	is_int(pvm_pf_hook_offset(early, sizeof(early)), -1, "unpatched 90 90 90: wait");
	is_int(pvm_pf_hook_offset(clac, sizeof(clac)), -1, "real CLAC: no hook");
	is_int(pvm_pf_hook_offset(nop3, 2), -1, "too short");
	is_int(pvm_pf_hook_offset(endbr, 6), -1, "ENDBR then truncated");
}

int main(void)
{
	test_simple();
	test_mxcsr();
	test_malformed();
	test_syscall_fault();
	test_hook_offset();
	return done_testing();
}
