/* reset: Linux's reboot=k path: poll the i8042 status until its input
 * buffer is empty, then command 0xFE (pulse reset). nkvm must exit 0 with
 * no crash dump; reaching the exit port (46) means the reset was ignored. */
#include "guest.h"

	GUEST_START

main:
	PUTS msg
	mov $0x10000, %ecx
1:	inb $0x64, %al
	test $0x02, %al
	jz 2f
	loop 1b
2:	OUT8 0x64, 0xfe
	EXIT 46

	.section .rodata
msg:	.asciz "nkvm-guest: reset\n"
