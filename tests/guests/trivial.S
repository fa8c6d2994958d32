/* trivial: the benchmark guest.  Prints "nkvm-guest: ready", then tries
 * every way out in turn, so it ends quickly under any VMM:
 *   1. OUT 0 to port 0x501 (nkvm's exit port: status 0; QEMU's
 *      isa-debug-exit: status 1),
 *   2. OUT 0xfe to port 0x64 (i8042 pulse reset line),
 *   3. a triple fault (zero-limit IDT, then a divide error; see triple.S).
 */
#include "guest.h"

	GUEST_START

main:
	PUTS msg
	OUT8 EXIT_PORT, 0
	OUT8 I8042_CMD, I8042_RESET
	lidt zero_idt
	xorl %ecx, %ecx
	divl %ecx
	ud2
	int3
	EXIT 50

	.section .rodata
msg:	.asciz "nkvm-guest: ready\n"

	.section .data
	.balign 4
	.word 0
zero_idt:
	.word 0
	.long 0
