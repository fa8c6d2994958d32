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
 *
 * The virtio-blk guests (blk.S, badring.S) also use the polling
 * virtio-mmio driver below: VIO_* / VQ_* / BLK_* constants, VIRTIO_LIB
 * (the functions, expanded once after GUEST_START) and the VIO_INIT,
 * CHECK_EAX and CHECK_BITS macros.
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

/*
 * virtio-mmio version 2 (virtio 1.2 section 4.2.2) and virtio-blk (5.2),
 * driven by polling: no interrupts, one request at a time on queue 0.
 */
#define VIO_BASE		0xd0000000	/* window i at VIO_BASE + i * 0x1000 */
#define VIO_MAGIC		0x000
#define VIO_VERSION		0x004
#define VIO_DEVICE_ID		0x008
#define VIO_DEV_FEATURES	0x010
#define VIO_DEV_FEATURES_SEL	0x014
#define VIO_DRV_FEATURES	0x020
#define VIO_DRV_FEATURES_SEL	0x024
#define VIO_QUEUE_SEL		0x030
#define VIO_QUEUE_NUM_MAX	0x034
#define VIO_QUEUE_NUM		0x038
#define VIO_QUEUE_READY		0x044
#define VIO_QUEUE_NOTIFY	0x050
#define VIO_INT_STATUS		0x060
#define VIO_INT_ACK		0x064
#define VIO_STATUS		0x070
#define VIO_QUEUE_DESC		0x080	/* low word; high word at +4 */
#define VIO_QUEUE_AVAIL		0x090
#define VIO_QUEUE_USED		0x0a0
#define VIO_CONFIG		0x100

#define VIO_MAGIC_VALUE		0x74726976	/* "virt" */
#define VIO_ID_BLOCK		2
#define VIO_S_ACK		1
#define VIO_S_DRIVER		2
#define VIO_S_DRIVER_OK		4
#define VIO_S_FEATURES_OK	8
#define VIO_S_NEEDS_RESET	64
#define VIO_INT_VRING		1
#define VIO_INT_CONFIG		2

/* Queue 0 of a device lives in one zeroed 4 KiB page R (the "ring page"):
 * descriptors at R, the avail ring at R + VQ_AVAIL, the used ring at
 * R + VQ_USED, and the request header and status byte behind them. */
#define VQ_NUM			8
#define VQ_DESC			0x000	/* 16 bytes each: addr, len, flags, next */
#define VQ_AVAIL		0x200	/* u16 flags, u16 idx, u16 ring[VQ_NUM] */
#define VQ_USED			0x400	/* u16 flags, u16 idx, {u32 id, u32 len}[] */
#define VQ_HDR			0x800	/* u32 type, u32 reserved, u64 sector */
#define VQ_STATUS		0x810
#define VQ_F_NEXT		1
#define VQ_F_WRITE		2

#define BLK_T_IN		0
#define BLK_T_OUT		1
#define BLK_T_FLUSH		4
#define BLK_T_GET_ID		8
#define BLK_S_OK		0
#define BLK_S_IOERR		1
#define BLK_F_RO		5
#define BLK_CAPACITY		0x000	/* at VIO_CONFIG: u64 capacity, sectors */

/* vio_blk_req results that are not a status byte. */
#define VIO_TIMEOUT		0x100	/* the used index did not move */
#define VIO_BADUSED		0x101	/* the used element names another head */
/* Polling gives up when the TSC's high word has moved this much (2^33 to
 * 2^33 + 2^32 cycles: seconds at any clock rate, emulated or not). */
#define VIO_TSC_HI_TIMEOUT	3

/* VIO_INIT base, ring, codebase, msg: vio_init the device at base with the
 * ring page ring (left in %ebx / %edi); on failure print msg and the step,
 * and exit with codebase + step (1..9). */
.macro VIO_INIT base, ring, codebase, msg
	movl $\base, %ebx
	movl $\ring, %edi
	call vio_init
	testl %eax, %eax
	jz .Lvio_init_ok\@
	pushl %eax
	PUTS \msg
	movl (%esp), %eax
	call puthex_nl
	popl %eax
	addl $\codebase, %eax
	jmp exit_al
.Lvio_init_ok\@:
.endm

/* CHECK_EAX value, code, msg: unless %eax == value, print msg and %eax in
 * hex, and exit with code. */
.macro CHECK_EAX value, code, msg
	cmpl $\value, %eax
	je .Lcheck_ok\@
	pushl %eax
	PUTS \msg
	popl %eax
	call puthex_nl
	EXIT \code
.Lcheck_ok\@:
.endm

/* CHECK_BITS bits, code, msg: unless every bit of bits is set in %eax,
 * print msg and %eax in hex, and exit with code. */
.macro CHECK_BITS bits, code, msg
	pushl %eax
	andl $\bits, %eax
	cmpl $\bits, %eax
	popl %eax
	je .Lcheck_ok\@
	pushl %eax
	PUTS \msg
	popl %eax
	call puthex_nl
	EXIT \code
.Lcheck_ok\@:
.endm

/*
 * The driver's functions.  %ebx is the device's register window and %edi
 * its ring page throughout; both are preserved, like %esi and %ebp unless
 * stated.  Everything else may be clobbered.
 */
.macro VIRTIO_LIB
/* vio_init: reset the device and bring it up: magic, version 2, block
 * device, ACKNOWLEDGE|DRIVER, only VERSION_1 accepted, FEATURES_OK (read
 * back), queue 0 with VQ_NUM entries in the zeroed ring page, QueueReady
 * (read back), DRIVER_OK (read back).  %eax = 0, or the step that failed
 * (1..9).  Device features word 0 is left in vio_feat0. */
vio_init:
	movl $1, %ecx
	movl VIO_MAGIC(%ebx), %eax
	cmpl $VIO_MAGIC_VALUE, %eax
	jne 9f
	movl $2, %ecx
	movl VIO_VERSION(%ebx), %eax
	cmpl $2, %eax
	jne 9f
	movl $3, %ecx
	movl VIO_DEVICE_ID(%ebx), %eax
	cmpl $VIO_ID_BLOCK, %eax
	jne 9f
	movl $0, VIO_STATUS(%ebx)			/* reset */
	movl $4, %ecx
	movl VIO_STATUS(%ebx), %eax
	testl %eax, %eax
	jnz 9f
	movl $VIO_S_ACK, VIO_STATUS(%ebx)
	movl $(VIO_S_ACK | VIO_S_DRIVER), VIO_STATUS(%ebx)
	movl $5, %ecx
	movl $1, VIO_DEV_FEATURES_SEL(%ebx)
	movl VIO_DEV_FEATURES(%ebx), %eax
	testl $1, %eax					/* VERSION_1 (bit 32) */
	jz 9f
	movl $0, VIO_DEV_FEATURES_SEL(%ebx)
	movl VIO_DEV_FEATURES(%ebx), %eax
	movl %eax, vio_feat0
	movl $0, VIO_DRV_FEATURES_SEL(%ebx)
	movl $0, VIO_DRV_FEATURES(%ebx)
	movl $1, VIO_DRV_FEATURES_SEL(%ebx)
	movl $1, VIO_DRV_FEATURES(%ebx)
	movl $(VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK), VIO_STATUS(%ebx)
	movl $6, %ecx
	movl VIO_STATUS(%ebx), %eax
	testl $VIO_S_FEATURES_OK, %eax
	jz 9f
	movl $0, VIO_QUEUE_SEL(%ebx)
	movl $7, %ecx
	movl VIO_QUEUE_READY(%ebx), %eax
	testl %eax, %eax
	jnz 9f
	movl VIO_QUEUE_NUM_MAX(%ebx), %eax
	cmpl $VQ_NUM, %eax
	jb 9f
	pushl %edi
	xorl %eax, %eax
	movl $1024, %ecx
	rep stosl					/* zero the ring page */
	popl %edi
	movl $VQ_NUM, VIO_QUEUE_NUM(%ebx)
	leal VQ_DESC(%edi), %eax
	movl %eax, VIO_QUEUE_DESC(%ebx)
	movl $0, VIO_QUEUE_DESC + 4(%ebx)
	leal VQ_AVAIL(%edi), %eax
	movl %eax, VIO_QUEUE_AVAIL(%ebx)
	movl $0, VIO_QUEUE_AVAIL + 4(%ebx)
	leal VQ_USED(%edi), %eax
	movl %eax, VIO_QUEUE_USED(%ebx)
	movl $0, VIO_QUEUE_USED + 4(%ebx)
	movl $1, VIO_QUEUE_READY(%ebx)
	movl $8, %ecx
	movl VIO_QUEUE_READY(%ebx), %eax
	cmpl $1, %eax
	jne 9f
	movl $(VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK), VIO_STATUS(%ebx)
	movl $9, %ecx
	movl VIO_STATUS(%ebx), %eax
	cmpl $(VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK), %eax
	jne 9f
	xorl %eax, %eax
	ret
9:	movl %ecx, %eax
	ret

/* vio_post: make descriptor chain %eax available and notify queue 0. */
vio_post:
	movzwl VQ_AVAIL + 2(%edi), %ecx
	movl %ecx, %edx
	andl $(VQ_NUM - 1), %edx
	movw %ax, VQ_AVAIL + 4(%edi, %edx, 2)
	incl %ecx
	movw %cx, VQ_AVAIL + 2(%edi)		/* x86 keeps the stores in order */
	movl $0, VIO_QUEUE_NOTIFY(%ebx)
	ret

/* vio_wait_used: poll until used->idx == avail->idx.  %eax = 0, or
 * VIO_TIMEOUT after a few seconds. */
vio_wait_used:
	rdtsc
	movl %edx, %ecx
1:	movzwl VQ_USED + 2(%edi), %eax
	cmpw VQ_AVAIL + 2(%edi), %ax
	je 2f
	pause
	rdtsc
	subl %ecx, %edx
	cmpl $VIO_TSC_HI_TIMEOUT, %edx
	jb 1b
	movl $VIO_TIMEOUT, %eax
	ret
2:	xorl %eax, %eax
	ret

/* vio_blk_req: one virtio-blk request as descriptors 0-2: header (type
 * %eax, sector %edx:%ecx), then %ebp bytes at %esi if %ebp != 0 (device
 * writable unless the type is OUT), then the status byte (preset to 0xff).
 * Posts it, waits for it, checks the used element names head 0.  %eax =
 * the status byte, VIO_TIMEOUT or VIO_BADUSED; the used element's length
 * is left in vio_used_len. */
vio_blk_req:
	movl %eax, VQ_HDR(%edi)
	movl $0, VQ_HDR + 4(%edi)
	movl %ecx, VQ_HDR + 8(%edi)
	movl %edx, VQ_HDR + 12(%edi)
	movb $0xff, VQ_STATUS(%edi)
	leal VQ_HDR(%edi), %edx
	movl %edx, VQ_DESC(%edi)
	movl $0, VQ_DESC + 4(%edi)
	movl $16, VQ_DESC + 8(%edi)
	movw $VQ_F_NEXT, VQ_DESC + 12(%edi)
	movw $1, VQ_DESC + 14(%edi)
	leal VQ_DESC + 16(%edi), %edx		/* the next descriptor */
	testl %ebp, %ebp
	jz 1f
	movl %esi, (%edx)
	movl $0, 4(%edx)
	movl %ebp, 8(%edx)
	movw $(VQ_F_NEXT | VQ_F_WRITE), 12(%edx)
	cmpl $BLK_T_OUT, %eax
	jne 2f
	movw $VQ_F_NEXT, 12(%edx)
2:	movw $2, 14(%edx)
	addl $16, %edx
1:	leal VQ_STATUS(%edi), %ecx
	movl %ecx, (%edx)
	movl $0, 4(%edx)
	movl $1, 8(%edx)
	movw $VQ_F_WRITE, 12(%edx)
	movw $0, 14(%edx)
	xorl %eax, %eax
	call vio_post
	call vio_wait_used
	testl %eax, %eax
	jnz 9f
	movzwl VQ_USED + 2(%edi), %ecx
	decl %ecx
	andl $(VQ_NUM - 1), %ecx
	movl VQ_USED + 8(%edi, %ecx, 8), %eax
	movl %eax, vio_used_len
	movl $VIO_BADUSED, %eax
	cmpl $0, VQ_USED + 4(%edi, %ecx, 8)
	jne 9f
	movzbl VQ_STATUS(%edi), %eax
9:	ret

/* memeq: %eax = 0 if the %ecx bytes at %esi and %edx are equal, else 1.
 * Clobbers %ecx, %edx, %esi. */
memeq:
1:	testl %ecx, %ecx
	jz 2f
	movb (%esi), %al
	cmpb (%edx), %al
	jne 3f
	incl %esi
	incl %edx
	decl %ecx
	jmp 1b
2:	xorl %eax, %eax
	ret
3:	movl $1, %eax
	ret

/* fill: %ecx bytes at %edx := %al.  Clobbers %ecx, %edx. */
fill:
	testl %ecx, %ecx
	jz 1f
	movb %al, (%edx)
	incl %edx
	decl %ecx
	jmp fill
1:	ret

/* rep16: the 512 bytes at %edx := copies of the 16 bytes at %esi.
 * Clobbers %eax, %ecx. */
rep16:
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	andl $15, %eax
	movb (%esi, %eax), %al
	movb %al, (%edx, %ecx)
	incl %ecx
	cmpl $512, %ecx
	jb 1b
	ret

/* putc: %al to COM1.  Clobbers %eax, %edx. */
putc:
	movb %al, %ah
	movw $COM1_LSR, %dx
1:	inb %dx, %al
	testb $LSR_THRE, %al
	jz 1b
	movw $COM1, %dx
	movb %ah, %al
	outb %al, %dx
	ret

/* puthex_nl: " 0x" and %eax in hex (8 digits), then a newline.
 * Clobbers %eax, %ecx, %edx. */
puthex_nl:
	pushl %esi
	movl %eax, %esi
	movb $0x20, %al		/* ' ' */
	call putc
	movb $0x30, %al		/* '0' */
	call putc
	movb $0x78, %al		/* 'x' */
	call putc
	movl $8, %ecx
1:	roll $4, %esi
	movl %esi, %eax
	andl $15, %eax
	movb hexdigits(%eax), %al
	call putc
	decl %ecx
	jnz 1b
	movb $0x0a, %al		/* newline */
	call putc
	popl %esi
	ret

	.section .rodata
hexdigits:
	.ascii "0123456789abcdef"

	.section .bss
	.balign 4
vio_feat0:
	.skip 4
vio_used_len:
	.skip 4

	.text
.endm

#endif
