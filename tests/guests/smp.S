/* SMP bring-up as a kernel does it: find the MP table, count its
 * processors, start the APs with INIT-SIPI-SIPI through the local APIC and
 * wait until each one has checked in from its real-mode trampoline.
 * Prints "EMBER-TEST-OK smp cpus=N" with N = 1 + APs that checked in. */
#include "guest.h"

#define EBDA 0x9fc00
#define TRAMPOLINE 0x10000       /* SIPI vector 0x10 */
#define CHECKIN (TRAMPOLINE + 0x100)
#define LAPIC 0xfee00000
#define ICR_LO 0x300
#define ICR_HI 0x310
#define ICR_INIT_ALL_BUT_SELF 0x000c4500
#define ICR_SIPI_ALL_BUT_SELF 0x000c4600

	.section .text.start, "ax"
	.globl _start
_start:
	/* MP floating pointer "_MP_" at the EBDA start. */
	mov $EBDA, %ebx
	cmpl $0x5f504d5f, (%rbx)
	jne no_mp
	mov 4(%rbx), %ebx         /* config table */
	cmpl $0x504d4350, (%rbx)  /* "PCMP" */
	jne no_mp
	movzwl 34(%rbx), %ecx     /* entry count */
	lea 44(%rbx), %rsi
	xor %r12d, %r12d          /* processors listed */
next_entry:
	test %ecx, %ecx
	jz counted
	movzbl (%rsi), %eax
	test %eax, %eax
	jnz not_cpu
	testb $1, 3(%rsi)         /* enabled */
	jz 1f
	inc %r12d
1:	add $20, %rsi
	dec %ecx
	jmp next_entry
not_cpu:
	add $8, %rsi              /* every other entry type is 8 bytes */
	dec %ecx
	jmp next_entry
counted:
	/* Trampoline to 0x10000, check-in counter zeroed. */
	lea trampoline(%rip), %rsi
	mov $TRAMPOLINE, %edi
	mov $(trampoline_end - trampoline), %ecx
	rep movsb
	movw $0, CHECKIN

	mov $LAPIC, %ebx
	movl $0, ICR_HI(%rbx)
	movl $ICR_INIT_ALL_BUT_SELF, ICR_LO(%rbx)
	call delay
	movl $(ICR_SIPI_ALL_BUT_SELF | (TRAMPOLINE >> 12)), ICR_LO(%rbx)
	call delay
	movl $(ICR_SIPI_ALL_BUT_SELF | (TRAMPOLINE >> 12)), ICR_LO(%rbx)

	/* Wait for every listed AP, bounded. */
	mov $2000, %r13d
wait_aps:
	movzwl CHECKIN, %eax
	inc %eax
	cmp %r12d, %eax
	je all_in
	call delay
	dec %r13d
	jnz wait_aps
all_in:
	movzwl CHECKIN, %eax
	inc %eax
	cmp %r12d, %eax
	jne missing
	add $'0', %al             /* single digit is enough for the test */
	mov %al, count_digit(%rip)
	PUTS msg_ok
	jmp guest_reset
no_mp:
	FAIL msg_no_mp
missing:
	FAIL msg_missing

delay:
	mov $2000, %eax
1:	pause
	dec %eax
	jnz 1b
	ret

	/* Real mode, CS = 0x1000: count in, then halt for good. */
	.code16
trampoline:
	mov $(TRAMPOLINE >> 4), %ax
	mov %ax, %ds
	lock incw (CHECKIN - TRAMPOLINE)
1:	cli
	hlt
	jmp 1b
trampoline_end:
	.code64

	.section .data
msg_ok:       .ascii "EMBER-TEST-OK smp cpus="
count_digit:  .asciz "?\n"
	.section .rodata
msg_no_mp:    .asciz "EMBER-TEST-FAIL smp: no MP table\n"
msg_missing:  .asciz "EMBER-TEST-FAIL smp: not every listed AP checked in\n"
