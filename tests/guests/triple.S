/* triple: print a marker, then triple fault.
 *
 * Loads an IDT with limit 0 and divides by zero: #DE cannot be delivered
 * (#GP), nor can #GP (#DF), nor #DF: shutdown.  A divide error is raised
 * by the CPU on hardware KVM and by KVM's instruction emulator on kvm_pvm
 * hosts alike, with no help from the VMM (int3 would need nkvm's fix-up
 * on kvm_pvm, see DESIGN.md section 5); ud2 and int3 follow in case the
 * divide ever returns.  Expected: nkvm exits 1 with a register dump.
 * If the guest survives all three it prints "nkvm-guest: survived" and
 * exits 50.
 */
#include "guest.h"

	GUEST_START

main:
	PUTS msg
	lidt zero_idt
	xorl %ecx, %ecx
	divl %ecx
	ud2
	int3
	PUTS msg_survived
	EXIT 50

	.section .rodata
msg:		.asciz "nkvm-guest: triple fault next\n"
msg_survived:	.asciz "nkvm-guest: survived\n"

	.section .data
	.balign 4
	.word 0
zero_idt:
	.word 0			/* limit 0: no vector can be delivered */
	.long 0
