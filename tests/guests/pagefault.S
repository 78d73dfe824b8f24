/* Takes a page fault through its own IDT and returns with iretq: checks
 * CR2, the error code and that execution resumes after the fault. */
#include "guest.h"

#define UNMAPPED 0x200000000 /* 8 GiB: the boot page tables map 4 GiB */

	.section .text.start, "ax"
	.globl _start
_start:
	/* IDT gate 14: 64-bit interrupt gate to pf_handler, current CS. */
	lea idt(%rip), %rdi
	lea pf_handler(%rip), %rax
	mov %ax, 14*16(%rdi)
	mov %cs, %bx
	mov %bx, 14*16+2(%rdi)
	movw $0x8e00, 14*16+4(%rdi)
	shr $16, %rax
	mov %ax, 14*16+6(%rdi)
	shr $16, %rax
	mov %eax, 14*16+8(%rdi)
	lidt idtr(%rip)

	movq $0, faults(%rip)
	mov $UNMAPPED, %rbx
	mov (%rbx), %rax        /* 3 bytes: 48 8b 03 -> #PF */
	cmpq $1, faults(%rip)
	jne no_fault
	mov $UNMAPPED, %rcx
	cmp %rcx, cr2_seen(%rip)
	jne bad_cr2
	cmpq $0, err_seen(%rip) /* supervisor read of a not-present page */
	jne bad_err
	PUTS msg_ok
	jmp guest_reset
no_fault:
	FAIL msg_no_fault
bad_cr2:
	FAIL msg_bad_cr2
bad_err:
	FAIL msg_bad_err

pf_handler:
	pop err_seen(%rip)
	push %rax
	mov %cr2, %rax
	mov %rax, cr2_seen(%rip)
	pop %rax
	incq faults(%rip)
	addq $3, (%rsp)         /* skip the faulting mov */
	iretq

	.section .rodata
msg_ok:       .asciz "EMBER-TEST-OK pagefault\n"
msg_no_fault: .asciz "EMBER-TEST-FAIL pagefault: handler did not run once\n"
msg_bad_cr2:  .asciz "EMBER-TEST-FAIL pagefault: wrong CR2\n"
msg_bad_err:  .asciz "EMBER-TEST-FAIL pagefault: wrong error code\n"

	.section .data
	.balign 16
idt:    .fill 64, 8, 0
idtr:   .word 32*16-1
	.quad idt
	.balign 8
faults:   .quad 0
cr2_seen: .quad 0
err_seen: .quad 0
