/* NMIs through the local APIC: an NMI IPI to itself (ICR delivery mode
 * NMI, physical destination its own APIC ID) is taken with RFLAGS.IF
 * clear, through IDT vector 2; a second one sent from inside the handler
 * waits for its IRET (NMI blocking, SDM 6.7.1), then comes. Prints
 * "EMBER-TEST-OK nmi". */
#include "guest.h"

#define LAPIC 0xfee00000
#define ID 0x20
#define SVR 0xf0
#define ICR_LO 0x300
#define ICR_HI 0x310
#define ICR_NMI 0x4400                       /* NMI, physical, assert */

	.section .text.start, "ax"
	.globl _start
_start:
	GATE 2, on_nmi
	lidt idtr(%rip)
	cli
	mov $LAPIC, %ebx
	movl $(0x100 | 0xff), SVR(%rbx)
	call send_nmi
	mov $1000000, %ecx
1:	cmpq $2, nmis(%rip)
	jae 2f
	pause
	dec %ecx
	jnz 1b
	cmpq $0, nmis(%rip)
	je no_nmi
	jmp no_second
2:	cmpq $0, nested(%rip)
	jne nested_nmi
	PUTS msg_ok
	jmp guest_reset
no_nmi:     FAIL msg_no_nmi
no_second:  FAIL msg_no_second
nested_nmi: FAIL msg_nested

/* An NMI IPI to this CPU's own APIC ID. */
send_nmi:
	mov ID(%rbx), %eax
	mov %eax, ICR_HI(%rbx)
	movl $ICR_NMI, ICR_LO(%rbx)
	ret

on_nmi:
	push %rax
	push %rcx
	cmpq $0, in_nmi(%rip)
	je 1f
	incq nested(%rip)                    /* an NMI inside the handler */
1:	movq $1, in_nmi(%rip)
	incq nmis(%rip)
	cmpq $1, nmis(%rip)
	jne 3f
	call send_nmi                        /* blocked until our IRET */
	mov $200000, %ecx
2:	pause
	dec %ecx
	jnz 2b
3:	movq $0, in_nmi(%rip)
	pop %rcx
	pop %rax
	iretq

	.section .rodata
msg_ok:        .asciz "EMBER-TEST-OK nmi\n"
msg_no_nmi:    .asciz "EMBER-TEST-FAIL nmi: no NMI from the ICR\n"
msg_no_second: .asciz "EMBER-TEST-FAIL nmi: the NMI sent in the handler never came\n"
msg_nested:    .asciz "EMBER-TEST-FAIL nmi: an NMI came before the handler's IRET\n"

	.section .data
	.balign 16
idt:    .fill 512, 8, 0
idtr:   .word 256*16-1
	.quad idt
	.balign 8
nmis:   .quad 0
in_nmi: .quad 0
nested: .quad 0
