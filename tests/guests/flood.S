/* Prints "EMBER-TEST flood ..." lines as fast as the UART takes them,
 * forever: a console that outruns any reader (the stalled-console tests). */
#include "guest.h"

	.section .text.start, "ax"
	.globl _start
_start:
	PUTS msg_start
1:	PUTS msg_line
	jmp 1b

	.section .rodata
msg_start: .asciz "EMBER-TEST flood: running\n"
msg_line:  .asciz "EMBER-TEST flood 0123456789abcdefghijklmnopqrstuvwxyz\n"
