/* Enters at the ELF entry in long mode, checks the boot protocol's promises
 * (rsi = zero page with "HdrS"), prints over the UART and resets. */
#include "guest.h"

	.section .text.start, "ax"
	.globl _start
_start:
	mov %rsi, %r12
	/* Long mode active: EFER.LMA (MSR 0xc0000080, bit 10). */
	mov $0xc0000080, %ecx
	rdmsr
	bt $10, %eax
	jnc no_long_mode
	/* The zero page's setup header magic at 0x202. */
	cmpl $0x53726448, 0x202(%r12)
	jne no_zero_page
	PUTS msg_ok
	jmp guest_reset
no_long_mode:
	FAIL msg_no_lm
no_zero_page:
	FAIL msg_no_zp

	.section .rodata
msg_ok:     .asciz "hello from the bare-metal guest\nEMBER-TEST-OK hello\n"
msg_no_lm:  .asciz "EMBER-TEST-FAIL hello: not in long mode\n"
msg_no_zp:  .asciz "EMBER-TEST-FAIL hello: rsi does not point at a zero page\n"
