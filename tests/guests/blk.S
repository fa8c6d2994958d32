/* blk: a minimal polling virtio-blk driver against nkvm's virtio-mmio disks.
 *
 * Expects two disks, in this order (nkvm places them at 0xd0000000 and
 * 0xd0001000):
 *   --disk path=RW,serial=tiny-serial  a writable image of at least 2
 *        sectors, every 16 bytes "nkvm-rw-disk-ok\n" (yes | head -c);
 *   --disk path=RO,ro=on               every 16 bytes "nkvm-ro-disk-ok\n".
 * On the rw disk: the RO feature is not offered, capacity >= 2; read
 * sector 1 (the image pattern); write sector 1 with 32 lines
 * "nkvm-sector1-XX\n" (XX = 00..1f, hex); FLUSH; read sector 1 back and
 * compare; a read at sector = capacity fails with IOERR and leaves the
 * buffer alone; GET_ID returns the serial NUL-padded to 20 bytes.  On the
 * ro disk: RO is offered, sector 0 reads back the pattern, a write of
 * sector 1 fails with IOERR (the harness checks both images on the host).
 *
 * Prints "nkvm-guest: blk ok" and exits 64, or prints the failing step
 * and the value it got and exits with:
 *   11-19  rw disk: vio_init step 1-9 (magic, version, device id, reset,
 *          VERSION_1 offered, FEATURES_OK kept, queue 0 free and big
 *          enough, QueueReady kept, DRIVER_OK kept)
 *   21-29  ro disk: the same
 *   30 rw disk offers RO         31 capacity < 2
 *   32 first read: status        33 first read: data
 *   34 write: status             35 flush: status
 *   36 read back: status         37 read back: data
 *   38 read past the end: status is not IOERR
 *   39 read past the end: the buffer changed
 *   40 GET_ID: status            41 GET_ID: data
 *   42 ro disk: RO not offered   43 ro read: status   44 ro read: data
 *   45 ro write: status is not IOERR
 *   46-48 the used length of the read back (513), the write (1), GET_ID
 *         (21: the 20 id bytes and the status byte)
 * A status of 0x100 means the request never completed (timeout), 0x101
 * that the used element named the wrong descriptor.
 */
#include "guest.h"

#define RING0	0x200000	/* ring pages: rw disk, ro disk */
#define RING1	0x201000
#define WBUF	0x210000	/* 512-byte buffers */
#define RBUF	0x211000
#define EXPBUF	0x212000
#define IDBUF	0x213000	/* GET_ID: 20 bytes */
#define SECTOR	512

	GUEST_START
	VIRTIO_LIB

/* read_sector: sector %ecx into RBUF (filled with 0xee first); %eax =
 * status.  Clobbers everything but %ebx, %edi. */
read_sector:
	pushl %ecx
	movl $RBUF, %edx
	movl $SECTOR, %ecx
	movb $0xee, %al
	call fill
	popl %ecx
	xorl %edx, %edx
	movl $BLK_T_IN, %eax
	movl $RBUF, %esi
	movl $SECTOR, %ebp
	jmp vio_blk_req

/* rbuf_is: %eax = 0 if RBUF holds copies of the 16 bytes at %esi. */
rbuf_is:
	movl $EXPBUF, %edx
	call rep16
	movl $RBUF, %esi
	movl $EXPBUF, %edx
	movl $SECTOR, %ecx
	jmp memeq

main:
	PUTS msg_start
	VIO_INIT VIO_BASE, RING0, 10, msg_init0
	movl vio_feat0, %eax
	andl $(1 << BLK_F_RO), %eax
	CHECK_EAX 0, 30, msg_rw_ro
	movl VIO_CONFIG + BLK_CAPACITY + 4(%ebx), %eax
	testl %eax, %eax
	jnz 1f
	movl VIO_CONFIG + BLK_CAPACITY(%ebx), %eax
	cmpl $2, %eax
	jae 1f
	CHECK_EAX 2, 31, msg_capacity
1:	PUTS msg_up0

	/* The image's own pattern in sector 1 before we write it. */
	movl $1, %ecx
	call read_sector
	CHECK_EAX BLK_S_OK, 32, msg_read1
	movl $pat_rw, %esi
	call rbuf_is
	CHECK_EAX 0, 33, msg_read1_data
	PUTS msg_read1_ok

	/* Write "nkvm-sector1-XX\n" x 32 to sector 1. */
	movl $pat_s1, %esi
	movl $WBUF, %edx
	call rep16
	xorl %ecx, %ecx
2:	movl %ecx, %edx
	shll $4, %edx
	movl %ecx, %eax
	shrl $4, %eax
	movb hexdigits(%eax), %al
	movb %al, WBUF + 13(%edx)
	movl %ecx, %eax
	andl $15, %eax
	movb hexdigits(%eax), %al
	movb %al, WBUF + 14(%edx)
	incl %ecx
	cmpl $32, %ecx
	jb 2b
	movl $BLK_T_OUT, %eax
	movl $1, %ecx
	xorl %edx, %edx
	movl $WBUF, %esi
	movl $SECTOR, %ebp
	call vio_blk_req
	CHECK_EAX BLK_S_OK, 34, msg_write
	movl vio_used_len, %eax
	CHECK_EAX 1, 47, msg_write_len
	PUTS msg_write_ok

	movl $BLK_T_FLUSH, %eax
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %ebp, %ebp
	call vio_blk_req
	CHECK_EAX BLK_S_OK, 35, msg_flush
	PUTS msg_flush_ok

	movl $1, %ecx
	call read_sector
	CHECK_EAX BLK_S_OK, 36, msg_readback
	movl vio_used_len, %eax
	CHECK_EAX SECTOR + 1, 46, msg_readback_len
	movl $RBUF, %esi
	movl $WBUF, %edx
	movl $SECTOR, %ecx
	call memeq
	CHECK_EAX 0, 37, msg_readback_data
	PUTS msg_readback_ok

	/* One sector at sector = capacity: IOERR, nothing read. */
	movl VIO_CONFIG + BLK_CAPACITY(%ebx), %ecx
	movl VIO_CONFIG + BLK_CAPACITY + 4(%ebx), %edx
	pushl %ecx
	pushl %edx
	movl $RBUF, %edx
	movl $SECTOR, %ecx
	movb $0xee, %al
	call fill
	movl $EXPBUF, %edx
	movl $SECTOR, %ecx
	movb $0xee, %al
	call fill
	popl %edx
	popl %ecx
	movl $BLK_T_IN, %eax
	movl $RBUF, %esi
	movl $SECTOR, %ebp
	call vio_blk_req
	CHECK_EAX BLK_S_IOERR, 38, msg_pastend
	movl $RBUF, %esi
	movl $EXPBUF, %edx
	movl $SECTOR, %ecx
	call memeq
	CHECK_EAX 0, 39, msg_pastend_data
	PUTS msg_pastend_ok

	/* GET_ID: the serial, NUL-padded to 20 bytes. */
	movl $IDBUF, %edx
	movl $20, %ecx
	movb $0xff, %al
	call fill
	movl $BLK_T_GET_ID, %eax
	xorl %ecx, %ecx
	xorl %edx, %edx
	movl $IDBUF, %esi
	movl $20, %ebp
	call vio_blk_req
	CHECK_EAX BLK_S_OK, 40, msg_getid
	movl vio_used_len, %eax
	CHECK_EAX 21, 48, msg_getid_len
	movl $IDBUF, %esi
	movl $id_want, %edx
	movl $20, %ecx
	call memeq
	CHECK_EAX 0, 41, msg_getid_data
	PUTS msg_getid_ok

	/* The read-only disk. */
	VIO_INIT VIO_BASE + 0x1000, RING1, 20, msg_init1
	movl vio_feat0, %eax
	andl $(1 << BLK_F_RO), %eax
	CHECK_EAX (1 << BLK_F_RO), 42, msg_ro_bit
	PUTS msg_up1
	xorl %ecx, %ecx
	call read_sector
	CHECK_EAX BLK_S_OK, 43, msg_ro_read
	movl $pat_ro, %esi
	call rbuf_is
	CHECK_EAX 0, 44, msg_ro_read_data
	movl $BLK_T_OUT, %eax
	movl $1, %ecx
	xorl %edx, %edx
	movl $WBUF, %esi
	movl $SECTOR, %ebp
	call vio_blk_req
	CHECK_EAX BLK_S_IOERR, 45, msg_ro_write
	PUTS msg_ro_ok

	PUTS msg_ok
	EXIT 64

	.section .rodata
pat_rw:		.ascii "nkvm-rw-disk-ok\n"
pat_ro:		.ascii "nkvm-ro-disk-ok\n"
pat_s1:		.ascii "nkvm-sector1-XX\n"
id_want:	.ascii "tiny-serial"
		.fill 20 - (. - id_want), 1, 0
msg_start:	.asciz "nkvm-guest: blk start\n"
msg_init0:	.asciz "nkvm-guest: blk FAIL rw disk setup, step"
msg_rw_ro:	.asciz "nkvm-guest: blk FAIL rw disk offers RO:"
msg_capacity:	.asciz "nkvm-guest: blk FAIL capacity below 2 sectors:"
msg_up0:	.asciz "nkvm-guest: blk rw disk up\n"
msg_read1:	.asciz "nkvm-guest: blk FAIL read sector 1: status"
msg_read1_data:	.asciz "nkvm-guest: blk FAIL read sector 1: not the image pattern"
msg_read1_ok:	.asciz "nkvm-guest: blk read ok\n"
msg_write:	.asciz "nkvm-guest: blk FAIL write sector 1: status"
msg_write_len:	.asciz "nkvm-guest: blk FAIL write sector 1: used length"
msg_write_ok:	.asciz "nkvm-guest: blk write ok\n"
msg_flush:	.asciz "nkvm-guest: blk FAIL flush: status"
msg_flush_ok:	.asciz "nkvm-guest: blk flush ok\n"
msg_readback:	.asciz "nkvm-guest: blk FAIL read back: status"
msg_readback_data: .asciz "nkvm-guest: blk FAIL read back: data differs"
msg_readback_len: .asciz "nkvm-guest: blk FAIL read back: used length"
msg_readback_ok: .asciz "nkvm-guest: blk read back ok\n"
msg_pastend:	.asciz "nkvm-guest: blk FAIL read past the end: status"
msg_pastend_data: .asciz "nkvm-guest: blk FAIL read past the end: buffer changed"
msg_pastend_ok:	.asciz "nkvm-guest: blk read past the end: ioerr ok\n"
msg_getid:	.asciz "nkvm-guest: blk FAIL get_id: status"
msg_getid_data:	.asciz "nkvm-guest: blk FAIL get_id: not the serial"
msg_getid_len:	.asciz "nkvm-guest: blk FAIL get_id: used length"
msg_getid_ok:	.asciz "nkvm-guest: blk get_id ok\n"
msg_init1:	.asciz "nkvm-guest: blk FAIL ro disk setup, step"
msg_ro_bit:	.asciz "nkvm-guest: blk FAIL ro disk: RO not offered:"
msg_up1:	.asciz "nkvm-guest: blk ro disk up\n"
msg_ro_read:	.asciz "nkvm-guest: blk FAIL ro read: status"
msg_ro_read_data: .asciz "nkvm-guest: blk FAIL ro read: not the image pattern"
msg_ro_write:	.asciz "nkvm-guest: blk FAIL ro write: status"
msg_ro_ok:	.asciz "nkvm-guest: blk ro write: ioerr ok\n"
msg_ok:		.asciz "nkvm-guest: blk ok\n"
