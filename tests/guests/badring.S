/* badring: a hostile virtio-blk driver; nkvm must stay up and the device
 * must recover after a reset.
 *
 * Expects one disk (--disk path=RW) whose sector 0 is 32 copies of
 * "nkvm-rw-disk-ok\n"; nothing is written to it.  Sets the device up
 * properly (VERSION_1 only, queue 0 with 8 entries), then three times:
 * posts a malicious request and kicks, polls Status until the device sets
 * DEVICE_NEEDS_RESET (bounded), checks InterruptStatus has the
 * configuration-change bit and that no used element appeared, acks the
 * interrupt, resets the device (Status = 0, reads back 0, InterruptStatus
 * cleared), sets it up again and reads sector 0, which must succeed.
 * The malicious requests:
 *   loop     descriptor 0 with NEXT pointing at itself
 *   outside  a data descriptor at 0xfffff00000000000 (far outside RAM)
 *   ahead    avail->idx 9 ahead of the device on a queue of 8
 *
 * Prints "nkvm-guest: badring ok" and exits 0x41 (65), or prints the
 * failing step and the value it got and exits with:
 *   11-19  first setup: vio_init step 1-9 (see blk.S)
 *   21-29  setup after a reset: vio_init step 1-9
 *   30-36 (loop), 40-46 (outside), 50-56 (ahead):
 *     +0  Status never showed NEEDS_RESET (the value is the last Status)
 *     +1  InterruptStatus lacks the configuration-change bit
 *     +2  the used index moved (the value is by how much)
 *     +3  Status not 0 after the reset
 *     +4  InterruptStatus not 0 after ack and reset
 *     +5  the read after the new setup: status (0x100: timeout)
 *     +6  the read after the new setup: not the image pattern
 */
#include "guest.h"

#define RING0	0x200000
#define RBUF	0x211000
#define EXPBUF	0x212000
#define SECTOR	512
#define FAR_AWAY_HI 0xfffff000	/* high word of the outside-RAM address */
#define STATUS_RUNNING (VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK)

	GUEST_START
	VIRTIO_LIB

/* wait_needs_reset: poll Status until NEEDS_RESET is set or a few seconds
 * have gone by; %eax = the last Status read. */
wait_needs_reset:
	rdtsc
	movl %edx, %ecx
1:	movl VIO_STATUS(%ebx), %eax
	testl $VIO_S_NEEDS_RESET, %eax
	jnz 2f
	pushl %eax
	pause
	rdtsc
	subl %ecx, %edx
	popl %eax
	cmpl $VIO_TSC_HI_TIMEOUT, %edx
	jb 1b
2:	ret

/* save_used: used_before := used->idx. */
save_used:
	movzwl VQ_USED + 2(%edi), %eax
	movl %eax, used_before
	ret

/* The request header for a read of sector 0, and descriptor 0 for it
 * (NEXT to descriptor 1). */
hdr_desc0:
	movl $BLK_T_IN, VQ_HDR(%edi)
	movl $0, VQ_HDR + 4(%edi)
	movl $0, VQ_HDR + 8(%edi)
	movl $0, VQ_HDR + 12(%edi)
	leal VQ_HDR(%edi), %eax
	movl %eax, VQ_DESC(%edi)
	movl $0, VQ_DESC + 4(%edi)
	movl $16, VQ_DESC + 8(%edi)
	movw $VQ_F_NEXT, VQ_DESC + 12(%edi)
	movw $1, VQ_DESC + 14(%edi)
	ret

/* EXPECT_RESET base, name: the device must have given up on the queue
 * (used->idx still used_before); then ack, reset, set up again and read
 * sector 0 (exit codes base + 0-6). */
.macro EXPECT_RESET base, name
	call wait_needs_reset
	CHECK_EAX (STATUS_RUNNING | VIO_S_NEEDS_RESET), \base, msg_\name\()_noreset
	movl VIO_INT_STATUS(%ebx), %eax
	CHECK_BITS VIO_INT_CONFIG, \base + 1, msg_\name\()_isr
	movzwl VQ_USED + 2(%edi), %eax
	subl used_before, %eax
	CHECK_EAX 0, \base + 2, msg_\name\()_used
	PUTS msg_\name\()_ok

	movl VIO_INT_STATUS(%ebx), %eax
	movl %eax, VIO_INT_ACK(%ebx)
	movl $0, VIO_STATUS(%ebx)
	movl VIO_STATUS(%ebx), %eax
	CHECK_EAX 0, \base + 3, msg_\name\()_status
	movl VIO_INT_STATUS(%ebx), %eax
	CHECK_EAX 0, \base + 4, msg_\name\()_isr0
	VIO_INIT VIO_BASE, RING0, 20, msg_reinit

	movl $RBUF, %edx
	movl $SECTOR, %ecx
	movb $0xee, %al
	call fill
	movl $BLK_T_IN, %eax
	xorl %ecx, %ecx
	xorl %edx, %edx
	movl $RBUF, %esi
	movl $SECTOR, %ebp
	call vio_blk_req
	CHECK_EAX BLK_S_OK, \base + 5, msg_\name\()_read
	movl $RBUF, %esi
	movl $EXPBUF, %edx
	movl $SECTOR, %ecx
	call memeq
	CHECK_EAX 0, \base + 6, msg_\name\()_data
	PUTS msg_\name\()_recovered
.endm

main:
	PUTS msg_start
	movl $pat_rw, %esi
	movl $EXPBUF, %edx
	call rep16
	VIO_INIT VIO_BASE, RING0, 10, msg_init
	PUTS msg_up

	/* loop: descriptor 0 -> descriptor 0 -> ... */
	call save_used
	call hdr_desc0
	movw $0, VQ_DESC + 14(%edi)
	xorl %eax, %eax
	call vio_post
	EXPECT_RESET 30, loop

	/* outside: header, then a writable data buffer far outside RAM */
	call save_used
	call hdr_desc0
	movl $0, VQ_DESC + 16(%edi)
	movl $FAR_AWAY_HI, VQ_DESC + 16 + 4(%edi)
	movl $SECTOR, VQ_DESC + 16 + 8(%edi)
	movw $(VQ_F_NEXT | VQ_F_WRITE), VQ_DESC + 16 + 12(%edi)
	movw $2, VQ_DESC + 16 + 14(%edi)
	leal VQ_STATUS(%edi), %eax
	movl %eax, VQ_DESC + 32(%edi)
	movl $0, VQ_DESC + 32 + 4(%edi)
	movl $1, VQ_DESC + 32 + 8(%edi)
	movw $VQ_F_WRITE, VQ_DESC + 32 + 12(%edi)
	movw $0, VQ_DESC + 32 + 14(%edi)
	xorl %eax, %eax
	call vio_post
	EXPECT_RESET 40, outside

	/* ahead: avail->idx claims 9 new entries on a queue of 8 */
	call save_used
	movzwl VQ_AVAIL + 2(%edi), %eax
	addl $(VQ_NUM + 1), %eax
	movw %ax, VQ_AVAIL + 2(%edi)
	movl $0, VIO_QUEUE_NOTIFY(%ebx)
	EXPECT_RESET 50, ahead

	PUTS msg_ok
	EXIT 0x41

	.section .rodata
pat_rw:		.ascii "nkvm-rw-disk-ok\n"
msg_start:	.asciz "nkvm-guest: badring start\n"
msg_init:	.asciz "nkvm-guest: badring FAIL setup, step"
msg_reinit:	.asciz "nkvm-guest: badring FAIL setup after the reset, step"
msg_up:		.asciz "nkvm-guest: badring device up\n"
msg_ok:		.asciz "nkvm-guest: badring ok\n"

.macro MESSAGES name
msg_\name\()_noreset:	.asciz "nkvm-guest: badring FAIL \name: no NEEDS_RESET, status"
msg_\name\()_isr:	.asciz "nkvm-guest: badring FAIL \name: no config interrupt, isr"
msg_\name\()_used:	.asciz "nkvm-guest: badring FAIL \name: used index moved by"
msg_\name\()_ok:	.asciz "nkvm-guest: badring \name: device needs reset\n"
msg_\name\()_status:	.asciz "nkvm-guest: badring FAIL \name: status after reset"
msg_\name\()_isr0:	.asciz "nkvm-guest: badring FAIL \name: isr after ack and reset"
msg_\name\()_read:	.asciz "nkvm-guest: badring FAIL \name: read after recovery, status"
msg_\name\()_data:	.asciz "nkvm-guest: badring FAIL \name: read after recovery: data differs"
msg_\name\()_recovered:	.asciz "nkvm-guest: badring \name: recovered\n"
.endm
	MESSAGES loop
	MESSAGES outside
	MESSAGES ahead

	.section .bss
	.balign 4
used_before:
	.skip 4
