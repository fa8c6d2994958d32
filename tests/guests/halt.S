/* halt: print "nkvm-guest: halt", then hlt with interrupts off, the way
 * Linux's "poweroff -f" ends without ACPI.  No interrupt can wake the CPU,
 * and with the in-kernel irqchip KVM_RUN never returns for it: nkvm must
 * notice (vCPU halted, RFLAGS.IF = 0) and end the VM with status 0.
 */
#include "guest.h"

	GUEST_START

main:
	PUTS msg
1:	cli
	hlt
	jmp 1b

	.section .rodata
msg:	.asciz "nkvm-guest: halt\n"
