/* The local APIC timer in TSC-deadline mode (CPUID.1:ECX[24], LVT timer
 * mode 2, IA32_TSC_DEADLINE = MSR 0x6e0): armed about 2 ms ahead, the
 * interrupt wakes HLT and RDTSC in its handler has reached the deadline,
 * which then reads 0; a deadline already passed fires at once; one
 * disarmed by writing 0, and one disarmed by switching the LVT to
 * one-shot mode, never fire. Prints "EMBER-TEST-OK tscdeadline". */
#include "guest.h"

#define LAPIC 0xfee00000
#define EOI 0xb0
#define SVR 0xf0
#define LVT0 0x350
#define LVTT 0x320
#define MSR_TSC_DEADLINE 0x6e0
#define VEC 0x40
#define DEADLINE_MODE (2 << 17)
#define MASKED (1 << 16)
#define AHEAD 5000000                        /* TSC counts: ~2 ms at 2.5 GHz */

/* ARM: IA32_TSC_DEADLINE = %rsi. */
.macro ARM
	mov $MSR_TSC_DEADLINE, %ecx
	mov %esi, %eax
	mov %rsi, %rdx
	shr $32, %rdx
	wrmsr
.endm

	.section .text.start, "ax"
	.globl _start
_start:
	GATE VEC, tick
	GATE 0xff, spurious
	lidt idtr(%rip)
	mov $1, %eax
	cpuid
	bt $24, %ecx
	jnc no_deadline
	mov $LAPIC, %ebx
	movl $(0x100 | 0xff), SVR(%rbx)      /* software enable */
	movl $MASKED, LVT0(%rbx)
	movl $(DEADLINE_MODE | VEC), LVTT(%rbx)

	/* Armed ahead: fires once, at or after the deadline. */
	call now
	lea AHEAD(%rax), %rsi
	mov %rsi, deadline(%rip)
	ARM
	mov $MSR_TSC_DEADLINE, %ecx
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
	cmp deadline(%rip), %rax
	jne no_readback
	sti
1:	hlt
	cmpq $1, ticks(%rip)
	jb 1b
	cli
	mov at_tick(%rip), %rax
	cmp deadline(%rip), %rax
	jb early
	mov $MSR_TSC_DEADLINE, %ecx
	rdmsr
	or %edx, %eax
	jnz not_cleared

	/* A deadline in the past fires at once. */
	mov $1, %esi
	ARM
	sti
	mov $100000, %ecx
2:	cmpq $2, ticks(%rip)
	je 3f
	pause
	dec %ecx
	jnz 2b
	jmp past_silent
3:	cli

	/* Disarmed with 0: nothing for three times as long. */
	call now
	lea AHEAD(%rax), %rsi
	ARM
	xor %esi, %esi
	ARM
	sti
	call wait_3x
	cli
	cmpq $2, ticks(%rip)
	jne fired_disarmed

	/* Disarmed by a mode switch (one-shot, no count), then back. */
	call now
	lea AHEAD(%rax), %rsi
	ARM
	movl $VEC, LVTT(%rbx)
	movl $(DEADLINE_MODE | VEC), LVTT(%rbx)
	sti
	call wait_3x
	cli
	cmpq $2, ticks(%rip)
	jne fired_switched
	PUTS msg_ok
	jmp guest_reset

no_deadline:    FAIL msg_no_deadline
no_readback:    FAIL msg_no_readback
early:          FAIL msg_early
not_cleared:    FAIL msg_not_cleared
past_silent:    FAIL msg_past_silent
fired_disarmed: FAIL msg_fired_disarmed
fired_switched: FAIL msg_fired_switched

/* %rax = TSC (clobbers %rdx). */
now:
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	ret

/* Until the TSC is 3 * AHEAD past now (interrupts as they come). */
wait_3x:
	call now
	lea 3*AHEAD(%rax), %rdi
1:	pause
	call now
	cmp %rdi, %rax
	jb 1b
	ret

tick:
	push %rax
	push %rdx
	call now
	mov %rax, at_tick(%rip)
	incq ticks(%rip)
	mov $LAPIC, %eax
	movl $0, EOI(%rax)
	pop %rdx
	pop %rax
	iretq
spurious:
	iretq

	.section .rodata
msg_ok:             .asciz "EMBER-TEST-OK tscdeadline\n"
msg_no_deadline:    .asciz "EMBER-TEST-FAIL tscdeadline: CPUID.1:ECX[24] clear\n"
msg_no_readback:    .asciz "EMBER-TEST-FAIL tscdeadline: MSR 0x6e0 does not read back the deadline\n"
msg_early:          .asciz "EMBER-TEST-FAIL tscdeadline: the interrupt came before the deadline\n"
msg_not_cleared:    .asciz "EMBER-TEST-FAIL tscdeadline: MSR 0x6e0 is not 0 after the interrupt\n"
msg_past_silent:    .asciz "EMBER-TEST-FAIL tscdeadline: a deadline in the past did not fire\n"
msg_fired_disarmed: .asciz "EMBER-TEST-FAIL tscdeadline: fired after a write of 0\n"
msg_fired_switched: .asciz "EMBER-TEST-FAIL tscdeadline: fired after a switch to one-shot mode\n"

	.section .data
	.balign 16
idt:    .fill 512, 8, 0
idtr:   .word 256*16-1
	.quad idt
	.balign 8
ticks:    .quad 0
deadline: .quad 0
at_tick:  .quad 0
