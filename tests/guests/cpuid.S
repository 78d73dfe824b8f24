/* Reports what the CPU tells it, for the CPU template tests: CPUID leaf 1
 * (EAX, ECX, EDX), leaf 7 subleaf 0 (EBX) and 0x80000001 (ECX, EDX), and
 * MSR 0x277 (PAT, low half), one "name=value" per line in hex. */
#include "guest.h"

	.section .text.start, "ax"
	.globl _start
_start:
	mov $1, %eax
	xor %ecx, %ecx
	cpuid
	mov %ecx, %r13d
	mov %edx, %r14d
	lea s_l1eax(%rip), %rsi
	call put_reg
	mov %r13d, %eax
	lea s_l1ecx(%rip), %rsi
	call put_reg
	mov %r14d, %eax
	lea s_l1edx(%rip), %rsi
	call put_reg

	mov $7, %eax
	xor %ecx, %ecx
	cpuid
	mov %ebx, %eax
	lea s_l7ebx(%rip), %rsi
	call put_reg

	mov $0x80000001, %eax
	xor %ecx, %ecx
	cpuid
	mov %edx, %r14d
	mov %ecx, %eax
	lea s_e1ecx(%rip), %rsi
	call put_reg
	mov %r14d, %eax
	lea s_e1edx(%rip), %rsi
	call put_reg

	mov $0x277, %ecx
	rdmsr
	lea s_aux(%rip), %rsi
	call put_reg

	PUTS msg_ok
	jmp guest_reset

/* Prints the string at rsi, then eax as 8 hex digits and a newline. */
put_reg:
	mov %eax, %r12d
	call guest_puts
	lea hexbuf(%rip), %rdi
	mov $8, %ecx
1:	rol $4, %r12d
	mov %r12d, %eax
	and $0xf, %eax
	lea hexdigits(%rip), %rdx
	mov (%rdx,%rax), %al
	mov %al, (%rdi)
	inc %rdi
	dec %ecx
	jnz 1b
	lea hexbuf(%rip), %rsi
	jmp guest_puts

	.section .rodata
hexdigits: .ascii "0123456789abcdef"
s_l1eax:   .asciz "cpuid.1.eax="
s_l1ecx:   .asciz "cpuid.1.ecx="
s_l1edx:   .asciz "cpuid.1.edx="
s_l7ebx:   .asciz "cpuid.7.ebx="
s_e1ecx:   .asciz "cpuid.80000001.ecx="
s_e1edx:   .asciz "cpuid.80000001.edx="
s_aux:     .asciz "msr.277="
msg_ok:    .asciz "EMBER-TEST-OK cpuid\n"

	.data
hexbuf:    .ascii "00000000\n"
	.byte 0
