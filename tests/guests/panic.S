/* Plays a guest kernel that panics with panic=1 reboot=k: checks that
 * pvpanic offers PANICKED and CRASH_LOADED, writes PANICKED, then resets
 * through the i8042 at once. Ember must end with the panic's exit code
 * (3), not the reset's (0). */
#include "guest.h"

#define PVPANIC 0x505

	.section .text.start, "ax"
	.globl _start
_start:
	mov $PVPANIC, %dx
	in %dx, %al
	cmp $0x03, %al
	jne no_events
	PUTS msg_panicking
	mov $PVPANIC, %dx /* guest_puts used dx */
	mov $0x01, %al
	out %al, %dx
	jmp guest_reset
no_events:
	FAIL msg_no_events

	.section .rodata
msg_panicking: .asciz "EMBER-TEST panic: events 0x03, writing PANICKED\n"
msg_no_events: .asciz "EMBER-TEST-FAIL panic: port 0x505 does not read 0x03\n"
