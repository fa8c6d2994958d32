/* badport: accesses to nothing must be harmless and read as all ones.
 *
 * Writes to, then reads from, an unclaimed I/O port (0x1234, 8/16/32-bit)
 * and unclaimed MMIO (0xe0000000: in the PCI hole, above the virtio-mmio
 * windows at 0xd0000000, below the IOAPIC; 8/32-bit).
 * All reads must return all ones: prints "nkvm-guest: unhandled ok" and
 * exits 44, or prints which read differed ("nkvm-guest: unhandled bad
 * <what>") and exits 45.  (QEMU reads unassigned MMIO as 0, so under QEMU
 * the MMIO checks report "bad": that is QEMU's behaviour, not nkvm's.)
 */
#include "guest.h"

#define BAD_PORT	0x1234
#define BAD_MMIO	0xe0000000

/* CHECK reg, value, msg: on mismatch print msg and exit 45. */
.macro CHECK reg, value, msg
	cmpl $\value, \reg
	je 9f
	PUTS \msg
	EXIT 45
9:
.endm

	GUEST_START

main:
	/* Writes nobody claims are dropped. */
	movw $BAD_PORT, %dx
	movl $0x5a5a5a5a, %eax
	outb %al, %dx
	outl %eax, %dx
	movb %al, BAD_MMIO
	movl %eax, BAD_MMIO

	movw $BAD_PORT, %dx
	xorl %eax, %eax
	inb %dx, %al
	CHECK %eax, 0xff, msg_inb
	movw $BAD_PORT, %dx
	xorl %eax, %eax
	inw %dx, %ax
	CHECK %eax, 0xffff, msg_inw
	movw $BAD_PORT, %dx
	xorl %eax, %eax
	inl %dx, %eax
	CHECK %eax, 0xffffffff, msg_inl

	movzbl BAD_MMIO, %eax
	CHECK %eax, 0xff, msg_mmio8
	movl BAD_MMIO + 4, %eax
	CHECK %eax, 0xffffffff, msg_mmio32

	PUTS msg_ok
	EXIT 44

	.section .rodata
msg_ok:		.asciz "nkvm-guest: unhandled ok\n"
msg_inb:	.asciz "nkvm-guest: unhandled bad inb\n"
msg_inw:	.asciz "nkvm-guest: unhandled bad inw\n"
msg_inl:	.asciz "nkvm-guest: unhandled bad inl\n"
msg_mmio8:	.asciz "nkvm-guest: unhandled bad mmio8\n"
msg_mmio32:	.asciz "nkvm-guest: unhandled bad mmio32\n"
