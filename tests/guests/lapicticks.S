/* Runs forever on the local APIC timer, for snapshot tests: periodic,
 * 10 ms (10,000,000 counts of the 1 GHz bus clock both backends give the
 * timer, divide by 1) on vector 0x40, halted between ticks. Every 100
 * ticks it prints "EMBER-TEST ticks N mcycles M": the running count, and
 * the TSC's advance over those 100 ticks in millions of cycles, so a test
 * sees the count go on (not restart) after each restore and can compare
 * the timer's rate with the TSC's across backends (tests/integration/
 * t_snapshot_cross.sh judges it: the window that spans a restore may hold a
 * TSC step where KVM cannot set the guest's TSC, so one window alone
 * proves nothing). */
#include "guest.h"

#define LAPIC 0xfee00000
#define TPR 0x80
#define EOI 0xb0
#define SVR 0xf0
#define LVT0 0x350
#define LVTT 0x320
#define TMICT 0x380
#define TDCR 0x3e0
#define VEC 0x40
#define PERIODIC (1 << 17)
#define MASKED (1 << 16)
#define PERIOD 10000000
#define WINDOW 100

	.section .text.start, "ax"
	.globl _start
_start:
	GATE VEC, tick
	GATE 0xff, spurious
	lidt idtr(%rip)
	PUTS msg_start
	mov $LAPIC, %ebx
	movl $(0x100 | 0xff), SVR(%rbx)
	movl $MASKED, LVT0(%rbx)
	movl $0, TPR(%rbx)
	movl $0xb, TDCR(%rbx)
	movl $(PERIODIC | VEC), LVTT(%rbx)
	movl $PERIOD, TMICT(%rbx)
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, %r13                       /* TSC at the window's start */
	xor %r14, %r14                       /* ticks at the window's start */
	sti
1:	hlt
	mov ticks(%rip), %rax
	sub %r14, %rax
	cmp $WINDOW, %rax
	jb 1b
	add %rax, %r14
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, %r12
	sub %r13, %r12                       /* cycles over this window */
	mov %rax, %r13
	PUTS msg_ticks
	mov %r14, %rax
	call put_dec
	PUTS msg_mcycles
	mov %r12, %rax
	xor %edx, %edx
	mov $1000000, %ecx
	div %rcx
	call put_dec
	PUTS msg_nl
	jmp 1b

/* Prints rax in decimal. */
put_dec:
	lea numbuf+24(%rip), %rdi
	movb $0, (%rdi)
	mov $10, %ecx
4:	xor %edx, %edx
	div %rcx
	add $'0', %dl
	dec %rdi
	mov %dl, (%rdi)
	test %rax, %rax
	jnz 4b
	mov %rdi, %rsi
	jmp guest_puts

tick:
	incq ticks(%rip)
	push %rax
	mov $LAPIC, %eax
	movl $0, EOI(%rax)
	pop %rax
	iretq
spurious:
	iretq

	.section .rodata
msg_start:   .asciz "EMBER-TEST lapicticks: running\n"
msg_ticks:   .asciz "EMBER-TEST ticks "
msg_mcycles: .asciz " mcycles "
msg_nl:      .asciz "\n"

	.section .data
	.balign 16
idt:    .fill 512, 8, 0
idtr:   .word 256*16-1
	.quad idt
	.balign 8
ticks:  .quad 0
numbuf: .fill 32, 1, 0
