/* hang: print "nkvm-guest: hang", then spin for ever with interrupts off
 * (a jmp-to-self, which on kvm_pvm keeps the vCPU inside KVM_RUN in the
 * instruction emulator), so --timeout and SIGTERM must end the VM.
 * See halt.S for hlt with interrupts off, which nkvm treats as a halt.
 */
#include "guest.h"

	GUEST_START

main:
	PUTS msg
	cli
1:	jmp 1b

	.section .rodata
msg:	.asciz "nkvm-guest: hang\n"
