/* Counts forever, keeping the count both in a register (r15) and in
 * memory, and prints "EMBER-TEST count <hex>" after every 2^16 loop
 * iterations; a mismatch between the two prints "EMBER-TEST counter:
 * MISMATCH". A restored snapshot must go on from its last count, with
 * register and memory still agreeing: proof that both came back. */
#include "guest.h"

	.section .text.start, "ax"
	.globl _start
_start:
	PUTS msg_start
	xor %r15, %r15
	movq $0, count(%rip)
1:	mov $(1 << 16), %rcx
2:	dec %rcx
	jnz 2b
	inc %r15
	incq count(%rip)
	cmp count(%rip), %r15
	jne 3f
	PUTS msg_count
	mov %r15, %rax
	call put_hex
	PUTS msg_nl
	jmp 1b
3:	FAIL msg_mismatch

/* Prints rax as 16 hex digits. */
put_hex:
	lea hexbuf(%rip), %rdi
	mov $16, %ecx
4:	rol $4, %rax
	mov %eax, %edx
	and $0xf, %edx
	lea hexdigits(%rip), %rsi
	movb (%rsi,%rdx), %dl
	movb %dl, (%rdi)
	inc %rdi
	dec %ecx
	jnz 4b
	movb $0, (%rdi)
	push %rax
	PUTS hexbuf
	pop %rax
	ret

	.section .rodata
msg_start:    .asciz "EMBER-TEST counter: running\n"
msg_count:    .asciz "EMBER-TEST count "
msg_nl:       .asciz "\n"
msg_mismatch: .asciz "EMBER-TEST counter: MISMATCH\n"
hexdigits:    .ascii "0123456789abcdef"

	.section .data
	.balign 8
count:  .quad 0
hexbuf: .fill 17, 1, 0
