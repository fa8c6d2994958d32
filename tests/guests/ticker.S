/* ticker: print "nkvm-guest: tick 0x0000000N" on COM1 about ten times a
 * second (every 2^28 TSC cycles), for ever, with interrupts off. A test
 * watches the count to see a VM pause (it stops) and resume (it goes on),
 * without booting Linux; SIGTERM or --timeout ends it. It has no keyboard
 * driver, so it cannot take Ctrl-Alt-Del. */
#include "guest.h"

#define TICK_CYCLES 0x10000000

	GUEST_START
	VIRTIO_LIB			/* for putc / puthex_nl */

main:
	xorl %ebp, %ebp			/* the count */
1:	incl %ebp
	PUTS msg
	movl %ebp, %eax
	call puthex_nl
	rdtsc
	movl %eax, %ebx			/* start, low word: wraps harmlessly */
2:	pause
	rdtsc
	subl %ebx, %eax
	cmpl $TICK_CYCLES, %eax
	jb 2b
	jmp 1b

	.section .rodata
msg:	.asciz "nkvm-guest: tick"
