/* Prints "EMBER-TEST tick" every 2^18 loop iterations, forever: a guest
 * whose progress the host can watch (pause/resume tests). That is a few
 * lines a second under nested KVM, many more on bare metal. */
#include "guest.h"

	.section .text.start, "ax"
	.globl _start
_start:
	PUTS msg_start
1:	mov $(1 << 18), %rcx
2:	dec %rcx
	jnz 2b
	PUTS msg_tick
	jmp 1b

	.section .rodata
msg_start: .asciz "EMBER-TEST ticker: running\n"
msg_tick:  .asciz "EMBER-TEST tick\n"
