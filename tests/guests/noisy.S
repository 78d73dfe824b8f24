/* Provokes the VMM's guest-triggered log lines as fast as it can, forever:
 * port I/O nothing claims and 2-byte UART accesses (Debug lines, rate
 * limited per site), with a console line each round. For the
 * stalled-log tests. */
#include "guest.h"

#define NOBODY_PORT 0x300

	.section .text.start, "ax"
	.globl _start
_start:
	PUTS msg_start
1:	mov $NOBODY_PORT, %dx
	out %al, %dx
	in %dx, %al
	mov $COM1, %dx
	out %ax, %dx
	in %dx, %ax
	PUTS msg_line
	jmp 1b

	.section .rodata
msg_start: .asciz "EMBER-TEST noisy: running\n"
msg_line:  .asciz "EMBER-TEST noisy\n"
