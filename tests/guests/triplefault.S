/* Faults with no usable IDT: #UD -> #DF -> triple fault. Ember must end
 * with an error naming the vCPU, RIP and the code bytes (0f 0b). */
#include "guest.h"

	.section .text.start, "ax"
	.globl _start
_start:
	PUTS msg_start
	lidt idtr(%rip)
	ud2

	.section .rodata
msg_start: .asciz "EMBER-TEST triplefault: about to fault\n"
	.balign 8
idtr:   .word 0
	.quad 0
