/* guest.h: shared pieces of nkvm's tiny test guests (GNU as, preprocessed).
 *
 * A guest includes this file, writes GUEST_START, and defines `main`
 * (32-bit code, called with a flat GDT loaded and a 4 KiB stack).  When
 * main returns, the low byte of %eax goes to the exit port.
 *
 *   PUTS label      print the NUL-terminated string at label on COM1
 *   OUT8 port, val  8-bit OUT of an immediate to an immediate port
 *   EXIT code       write code to the exit port (0x501) and stop
 *
 * puts and exit_al work with interrupts off; puts polls LSR.THRE before
 * every byte.  Register use: puts clobbers %eax, %edx, %esi.
 */
#ifndef NKVM_GUEST_H
#define NKVM_GUEST_H

#define COM1		0x3f8
#define COM1_IER	(COM1 + 1)
#define COM1_IIR	(COM1 + 2)
#define COM1_LCR	(COM1 + 3)
#define COM1_MCR	(COM1 + 4)
#define COM1_LSR	(COM1 + 5)
#define LSR_THRE	0x20
#define IER_THRI	0x02
#define MCR_DTR_RTS_OUT2 0x0b

#define PIC1_CMD	0x20
#define PIC1_DATA	0x21
#define PIC2_CMD	0xa0
#define PIC2_DATA	0xa1

#define EXIT_PORT	0x501	/* nkvm: exit status; QEMU isa-debug-exit */
#define I8042_CMD	0x64
#define I8042_RESET	0xfe

#define SEL_CODE	0x08
#define SEL_DATA	0x10

#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.code32

/* The Xen PVH note: name "Xen", type 18, a 4-byte 32-bit entry address. */
.macro PVH_NOTE entry
	.pushsection .note.pvh, "a", @note
	.balign 4
	.long 2f - 1f			/* namesz */
	.long 4f - 3f			/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY	/* type */
1:	.asciz "Xen"
2:	.balign 4
3:	.long \entry
4:	.balign 4
	.popsection
.endm

.macro OUT8 port, val
	movb $\val, %al
	movw $\port, %dx
	outb %al, %dx
.endm

.macro PUTS str
	movl $\str, %esi
	call puts
.endm

.macro EXIT code
	movb $\code, %al
	jmp exit_al
.endm

/* Entry point, runtime library (puts, exit_al), GDT and stack. */
.macro GUEST_START
	PVH_NOTE _start

	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	lgdt gdt_desc
	ljmp $SEL_CODE, $1f
1:	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %fs
	movl %eax, %gs
	movl %eax, %ss
	movl $stack_top, %esp
	cld
	call main
	jmp exit_al

/* puts: write the NUL-terminated string at %esi to COM1, polling THRE. */
puts:
1:	movb (%esi), %ah
	incl %esi
	testb %ah, %ah
	jz 3f
	movw $COM1_LSR, %dx
2:	inb %dx, %al
	testb $LSR_THRE, %al
	jz 2b
	movw $COM1, %dx
	movb %ah, %al
	outb %al, %dx
	jmp 1b
3:	ret

/* exit_al: OUT %al to the exit port; if that returns, halt forever. */
exit_al:
	movw $EXIT_PORT, %dx
	outb %al, %dx
1:	cli
	hlt
	jmp 1b

	.section .data
	.balign 8
gdt:
	.quad 0
	.quad 0x00cf9b000000ffff	/* 0x08: code, base 0, 4 GiB, 32-bit */
	.quad 0x00cf93000000ffff	/* 0x10: data, base 0, 4 GiB */
gdt_end:
	.balign 4
	.word 0
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.section .bss
	.balign 16
stack:
	.skip 4096
stack_top:

	.text
.endm

#endif
