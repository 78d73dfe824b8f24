/* Never ends by itself: for tests of stopping a running guest from outside. */
#include "guest.h"

	.section .text.start, "ax"
	.globl _start
_start:
	PUTS msg
1:	jmp 1b

	.section .rodata
msg: .asciz "EMBER-TEST spin: running\n"
