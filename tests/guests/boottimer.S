/* Writes the magic byte to Firecracker's boot-timer device, then resets. */
#include "guest.h"

#define BOOT_TIMER 0xc0000000
#define BOOT_TIMER_MAGIC 123

	.section .text.start, "ax"
	.globl _start
_start:
	mov $BOOT_TIMER, %rax
	movb $BOOT_TIMER_MAGIC, (%rax)
	PUTS msg_ok
	jmp guest_reset

	.section .rodata
msg_ok: .asciz "EMBER-TEST-OK boottimer\n"
