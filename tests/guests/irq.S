/* irq: take one interrupt through the 8259 PIC in 32-bit protected mode.
 *
 * Builds an IDT (exceptions and unexpected vectors -> exit 46), remaps the
 * PIC to vectors 0x20-0x2f with everything but IRQ 4 masked, enables the
 * 16550's THR-empty interrupt (IER.THRI, MCR.OUT2), then waits in sti; hlt.
 * The IRQ 4 handler prints the marker and exits with 43.  No interrupt:
 * the guest halts for ever (the harness's --timeout ends it).
 *
 * PIC interrupts reach the CPU only through LAPIC LINT0 in ExtINT mode.
 * nkvm programs that before the guest starts; QEMU's microvm firmware
 * leaves LINT0 masked.  If LVT0 is not unmasked ExtINT, the guest prints
 * "nkvm-guest: lint0 not extint" and programs it itself (software-enable
 * the LAPIC, spurious vector 0x2f, LVT0 = ExtINT), so the same ELF runs on
 * QEMU while the nkvm test can insist that the note is absent.
 */
#include "guest.h"

#define NVEC	0x30		/* exceptions + the 16 PIC vectors */
#define VEC_IRQ4 0x24
#define GATE_INT32 0x8e00	/* present, DPL 0, 32-bit interrupt gate */

#define LAPIC_SVR	0xfee000f0
#define LAPIC_LVT0	0xfee00350
#define LVT_MASKED	0x10000
#define LVT_MODE	0x00700
#define LVT_EXTINT	0x00700
#define SVR_ENABLE	0x100

	GUEST_START

/* set_gate: IDT entry %ecx := interrupt gate to handler %ebx. */
set_gate:
	movl %ebx, %eax
	andl $0xffff, %eax
	orl $(SEL_CODE << 16), %eax
	movl %eax, idt(, %ecx, 8)
	movl %ebx, %eax
	andl $0xffff0000, %eax
	orl $GATE_INT32, %eax
	movl %eax, idt + 4(, %ecx, 8)
	ret

main:
	/* Every vector is unexpected except IRQ 4 (and PIC spurious 7/15). */
	xorl %ecx, %ecx
	movl $unexpected, %ebx
1:	call set_gate
	incl %ecx
	cmpl $NVEC, %ecx
	jne 1b
	movl $spurious, %ebx
	movl $0x27, %ecx
	call set_gate
	movl $0x2f, %ecx
	call set_gate
	movl $irq4, %ebx
	movl $VEC_IRQ4, %ecx
	call set_gate
	lidt idt_desc

	/* LINT0 must be unmasked ExtINT, see the top of the file. */
	movl LAPIC_LVT0, %eax
	andl $(LVT_MASKED | LVT_MODE), %eax
	cmpl $LVT_EXTINT, %eax
	je 2f
	PUTS msg_lint0
	movl $(SVR_ENABLE | 0x2f), LAPIC_SVR
	movl $LVT_EXTINT, LAPIC_LVT0
2:

	/* 8259 pair: edge triggered, cascade on IRQ 2, 8086 mode. */
	OUT8 PIC1_CMD, 0x11		/* ICW1: init, ICW4 follows */
	OUT8 PIC2_CMD, 0x11
	OUT8 PIC1_DATA, 0x20		/* ICW2: vector base */
	OUT8 PIC2_DATA, 0x28
	OUT8 PIC1_DATA, 0x04		/* ICW3: slave on IRQ 2 */
	OUT8 PIC2_DATA, 0x02
	OUT8 PIC1_DATA, 0x01		/* ICW4: 8086 mode, normal EOI */
	OUT8 PIC2_DATA, 0x01
	OUT8 PIC1_DATA, 0xef		/* OCW1: only IRQ 4 unmasked */
	OUT8 PIC2_DATA, 0xff

	/* 16550: 8N1, OUT2 (routes the IRQ on PCs), THR-empty interrupt. */
	OUT8 COM1_LCR, 0x03
	OUT8 COM1_MCR, MCR_DTR_RTS_OUT2
	OUT8 COM1_IER, IER_THRI

1:	sti
	hlt
	jmp 1b

irq4:
	OUT8 COM1_IER, 0		/* quiet the line; IF stays 0 anyway */
	PUTS msg_irq
	EXIT 43

unexpected:
	PUTS msg_unexpected
	EXIT 46

spurious:
	iret

	.section .rodata
msg_irq:	.asciz "nkvm-guest: irq\n"
msg_unexpected:	.asciz "nkvm-guest: unexpected vector\n"
msg_lint0:	.asciz "nkvm-guest: lint0 not extint\n"

	.section .data
	.balign 4
	.word 0
idt_desc:
	.word NVEC * 8 - 1
	.long idt

	.section .bss
	.balign 8
idt:	.skip NVEC * 8
