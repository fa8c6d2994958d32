/* Instruction decoding for the PVM fix-ups. Pure code; see pvm_insn.h. */
#include <errno.h>
#include <string.h>

#include "nkvm/pvm_insn.h"

/* Decode a ModRM memory operand starting at code[*pos]. */
static int decode_modrm_mem(const uint8_t *code, size_t n, size_t *pos,
			    unsigned rex, struct pvm_insn *out)
{
	uint8_t modrm, mod, rm;

	if (*pos >= n)
		return -EINVAL;
	modrm = code[(*pos)++];
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod == 3)
		return -EINVAL;         /* register operand: not ld/stmxcsr */
	out->base = out->index = -1;
	out->scale = 1;
	out->disp = 0;
	out->rip_relative = false;
	if (rm == 4) {
		uint8_t sib, idx, base;

		if (*pos >= n)
			return -EINVAL;
		sib = code[(*pos)++];
		out->scale = 1u << (sib >> 6);
		idx = ((sib >> 3) & 7) | ((rex & 2) ? 8 : 0);
		if (idx != 4)
			out->index = idx;
		base = sib & 7;
		if (base == 5 && mod == 0) {
			mod = 2;        /* disp32, no base */
		} else {
			out->base = base | ((rex & 1) ? 8 : 0);
		}
	} else if (rm == 5 && mod == 0) {
		out->rip_relative = true;
		mod = 2;
	} else {
		out->base = rm | ((rex & 1) ? 8 : 0);
	}
	if (mod == 1) {
		if (*pos + 1 > n)
			return -EINVAL;
		out->disp = (int8_t)code[*pos];
		*pos += 1;
	} else if (mod == 2) {
		int32_t d;

		if (*pos + 4 > n)
			return -EINVAL;
		memcpy(&d, code + *pos, 4);
		out->disp = d;
		*pos += 4;
	}
	return 0;
}

int pvm_decode(const uint8_t *code, size_t n, bool long_mode, struct pvm_insn *out)
{
	size_t pos = 0;
	unsigned rex = 0;

	memset(out, 0, sizeof(*out));
	out->base = out->index = -1;
	/* legacy prefixes, at most 4 of them */
	for (; pos < n && pos < 4; pos++) {
		uint8_t b = code[pos];

		if (b == 0x64)
			out->seg = PVM_SEG_FS;
		else if (b == 0x65)
			out->seg = PVM_SEG_GS;
		else if (b == 0x67)
			return -EINVAL; /* 32-bit addressing: never seen, refuse */
		else if (b != 0x26 && b != 0x2e && b != 0x36 && b != 0x3e &&
			 b != 0x66 && b != 0xf0 && b != 0xf2 && b != 0xf3)
			break;
	}
	if (pos >= n)
		return -EINVAL;
	if (long_mode && (code[pos] & 0xf0) == 0x40)
		rex = code[pos++] & 0xf;
	if (pos >= n)
		return -EINVAL;
	if (code[pos] == 0xcc && pos == 0) {
		out->kind = PVM_INSN_INT3;
		out->len = 1;
		return 0;
	}
	if (code[pos] == 0x9b && pos == 0) {
		out->kind = PVM_INSN_FWAIT;
		out->len = 1;
		return 0;
	}
	if (code[pos] != 0x0f || pos + 1 >= n)
		return -EINVAL;
	pos++;
	switch (code[pos]) {
	case 0x0b:
		out->kind = PVM_INSN_UD2;
		out->len = pos + 1;
		return 0;
	case 0x01:
		if (pos + 1 >= n)
			return -EINVAL;
		switch (code[pos + 1]) {
		case 0xca: out->kind = PVM_INSN_CLAC; break;
		case 0xcb: out->kind = PVM_INSN_STAC; break;
		case 0xc1: case 0xd9: out->kind = PVM_INSN_VMCALL; break;
		default: return -EINVAL;
		}
		out->len = pos + 2;
		return 0;
	case 0xae: {
		uint8_t reg;

		pos++;
		if (!long_mode || pos >= n)
			return -EINVAL;
		reg = (code[pos] >> 3) & 7;
		if (reg != 2 && reg != 3)
			return -EINVAL;
		if (decode_modrm_mem(code, n, &pos, rex, out) < 0)
			return -EINVAL;
		out->kind = reg == 2 ? PVM_INSN_LDMXCSR : PVM_INSN_STMXCSR;
		out->len = pos;
		return 0;
	}
	default:
		return -EINVAL;
	}
}

uint64_t pvm_insn_ea(const struct pvm_insn *in, const uint64_t gpr[16],
		     uint64_t rip, uint64_t seg_base)
{
	uint64_t ea = (uint64_t)in->disp;

	if (in->rip_relative)
		ea += rip + in->len;
	if (in->base >= 0)
		ea += gpr[in->base];
	if (in->index >= 0)
		ea += gpr[in->index] * in->scale;
	return ea + seg_base;
}

bool pvm_is_syscall_fault(const uint64_t frame[6], uint64_t cr2, uint64_t lstar)
{
	/* frame: [0] error code, [1] RIP, [2] CS, [3] RFLAGS, [4] RSP, [5] SS */
	return lstar && frame[1] == lstar && (frame[2] & 3) == 3 && cr2 == lstar &&
	       (frame[0] & 4);  /* PF_USER */
}

int pvm_pf_hook_offset(const uint8_t *code, size_t n)
{
	static const uint8_t nop3[] = { 0x0f, 0x1f, 0x00 };
	static const uint8_t endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	size_t off = 0;

	if (n >= sizeof(endbr64) && !memcmp(code, endbr64, sizeof(endbr64)))
		off = sizeof(endbr64);
	if (n >= off + sizeof(nop3) && !memcmp(code + off, nop3, sizeof(nop3)))
		return (int)off;
	return -1;
}
