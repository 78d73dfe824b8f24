/* Arms debug registers as a debugger in the guest would: an instruction
 * breakpoint on code it then runs, and a data breakpoint on a word it
 * then writes. The VMM must survive; a #DB, where the CPU delivers one,
 * goes to the guest's own handler, which clears DR7 and returns. The
 * guest then checks DR0 and DR7 read back what it wrote. */
#include "guest.h"

	.section .text.start, "ax"
	.globl _start
_start:
	/* IDT gate 1 (#DB): 64-bit interrupt gate to db_handler. */
	lea idt(%rip), %rdi
	lea db_handler(%rip), %rax
	mov %ax, 1*16(%rdi)
	mov %cs, %bx
	mov %bx, 1*16+2(%rdi)
	movw $0x8e00, 1*16+4(%rdi)
	shr $16, %rax
	mov %ax, 1*16+6(%rdi)
	shr $16, %rax
	mov %eax, 1*16+8(%rdi)
	lidt idtr(%rip)

	/* DR0: an instruction breakpoint on target (L0, RW 00, LEN 00). */
	lea target(%rip), %rax
	mov %rax, %dr0
	mov $0x1, %rax
	mov %rax, %dr7
	mov %dr0, %rbx
	lea target(%rip), %rcx
	cmp %rcx, %rbx
	jne bad_dr0
	call target
	/* DR1: a write breakpoint on word (L1, RW 01, LEN 11: 4 bytes). */
	lea word(%rip), %rax
	mov %rax, %dr1
	mov $0x00d00004, %rax
	mov %rax, %dr7
	movl $0x12345678, word(%rip)
	cmpl $0x12345678, word(%rip)
	jne bad_word
	xor %rax, %rax
	mov %rax, %dr7
	PUTS msg_ok
	jmp guest_reset
bad_dr0:
	FAIL msg_bad_dr0
bad_word:
	FAIL msg_bad_word

target:
	nop
	ret

db_handler:
	push %rax
	xor %rax, %rax
	mov %rax, %dr7  /* no second #DB on return */
	incq dbs(%rip)
	pop %rax
	iretq

	.section .rodata
msg_ok:       .asciz "EMBER-TEST-OK debugregs\n"
msg_bad_dr0:  .asciz "EMBER-TEST-FAIL debugregs: DR0 does not read back\n"
msg_bad_word: .asciz "EMBER-TEST-FAIL debugregs: the write was lost\n"

	.section .data
	.balign 16
idt:    .fill 64, 8, 0
idtr:   .word 32*16-1
	.quad idt
	.balign 8
dbs:  .quad 0
word: .quad 0
