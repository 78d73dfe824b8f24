/* Programs the PIT's channel 0 for divisor 1 (mode 2: an edge every
 * 838 ns) and halts with interrupts off. On the software CPU each edge
 * wakes the timer thread: unclamped, it never sleeps. */
#include "guest.h"

	.section .text.start, "ax"
	.globl _start
_start:
	mov $0x34, %al /* channel 0, LSB then MSB, mode 2 */
	out %al, $0x43
	mov $1, %al
	out %al, $0x40
	xor %al, %al
	out %al, $0x40
	PUTS msg_start
	jmp guest_halt

	.section .rodata
msg_start: .asciz "EMBER-TEST pit1: running\n"
