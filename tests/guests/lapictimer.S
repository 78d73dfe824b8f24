/* The local APIC timer, periodic, through the guest's own IDT: software
 * enable (SVR), divide by 1, 1 ms period on vector 0x40, EOI per tick;
 * the TPR holds the ticks back while it is above their class; a masked
 * LVT stops them. Prints "EMBER-TEST-OK lapictimer". */
#include "guest.h"

#define LAPIC 0xfee00000
#define TPR 0x80
#define EOI 0xb0
#define SVR 0xf0
#define LVT0 0x350
#define LVTT 0x320
#define TMICT 0x380
#define TMCCT 0x390
#define TDCR 0x3e0
#define VEC 0x40
#define PERIODIC (1 << 17)
#define MASKED (1 << 16)

	.section .text.start, "ax"
	.globl _start
_start:
	GATE VEC, tick
	GATE 0xff, spurious
	lidt idtr(%rip)
	mov $LAPIC, %ebx
	movl $(0x100 | 0xff), SVR(%rbx)      /* software enable, spurious 0xff */
	movl $MASKED, LVT0(%rbx)             /* no 8259 through LINT0 */
	movl $0, TPR(%rbx)
	movl $0xb, TDCR(%rbx)                /* divide by 1 */
	movl $(PERIODIC | VEC), LVTT(%rbx)
	movl $1000000, TMICT(%rbx)           /* 1 ms at a 1 GHz bus clock */
	mov TMCCT(%rbx), %eax
	test %eax, %eax
	jz not_counting
	cmp $1000000, %eax
	ja not_counting
	sti
1:	hlt                                  /* woken by each tick */
	cmpq $10, ticks(%rip)
	jb 1b

	/* TPR at the ticks' class: none gets through while it lasts. */
	movl $0x40, TPR(%rbx)
	mov ticks(%rip), %r12
	mov $50, %ecx
2:	call delay
	dec %ecx
	jnz 2b
	mov ticks(%rip), %rax
	sub %r12, %rax
	cmp $1, %rax                         /* one may have been taken already */
	ja tpr_ignored
	movl $0, TPR(%rbx)
3:	hlt
	cmpq $20, ticks(%rip)
	jb 3b

	/* Masked: no more ticks. */
	movl $(MASKED | PERIODIC | VEC), LVTT(%rbx)
	mov ticks(%rip), %r12
	mov $50, %ecx
4:	call delay
	dec %ecx
	jnz 4b
	mov ticks(%rip), %rax
	sub %r12, %rax
	cmp $1, %rax
	ja mask_ignored
	cli
	PUTS msg_ok
	jmp guest_reset
not_counting:
	FAIL msg_not_counting
tpr_ignored:
	FAIL msg_tpr
mask_ignored:
	FAIL msg_mask

delay:
	mov $20000, %eax
1:	pause
	dec %eax
	jnz 1b
	ret

tick:
	incq ticks(%rip)
	push %rax
	mov $LAPIC, %eax                     /* zero-extended: 0xfee00000 */
	movl $0, EOI(%rax)
	pop %rax
	iretq
spurious:
	iretq

	.section .rodata
msg_ok:           .asciz "EMBER-TEST-OK lapictimer\n"
msg_not_counting: .asciz "EMBER-TEST-FAIL lapictimer: the current count is not counting\n"
msg_tpr:          .asciz "EMBER-TEST-FAIL lapictimer: ticks through a TPR above their class\n"
msg_mask:         .asciz "EMBER-TEST-FAIL lapictimer: ticks with the LVT masked\n"

	.section .data
	.balign 16
idt:    .fill 512, 8, 0
idtr:   .word 256*16-1
	.quad idt
	.balign 8
ticks:  .quad 0
