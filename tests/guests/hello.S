/* hello: print a marker on COM1 and leave through the exit port (42). */
#include "guest.h"

	GUEST_START

main:
	PUTS msg
	EXIT 42

	.section .rodata
msg:	.asciz "nkvm-guest: hello\n"
