/* KVM only: asks KVM for the wall clock as a Linux guest with kvmclock
 * does (MSR_KVM_WALL_CLOCK_NEW, then MSR_KVM_SYSTEM_TIME_NEW for the time
 * since), and prints the sum, seconds since the epoch:
 *   EMBER-TEST kvmclock wall=NNNNNNNNNN
 * The harness compares it with the host's time. */
#include "guest.h"

#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

	.section .text.start, "ax"
	.globl _start
_start:
	lea wall(%rip), %rax
	xor %edx, %edx
	mov $MSR_KVM_WALL_CLOCK_NEW, %ecx
	wrmsr
	lea timeinfo(%rip), %rax
	or $1, %rax /* enable */
	xor %edx, %edx
	mov $MSR_KVM_SYSTEM_TIME_NEW, %ecx
	wrmsr
	/* KVM fills timeinfo before the guest runs on; an odd version is an
	 * update in progress (there is none with one vCPU). */
	testl $1, timeinfo(%rip)
	jnz bad
	cmpl $0, timeinfo(%rip)
	je bad
	mov timeinfo+16(%rip), %rax /* system_time, ns */
	mov wall+8(%rip), %ecx      /* nsec */
	add %rcx, %rax
	xor %edx, %edx
	mov $1000000000, %rcx
	div %rcx
	mov wall+4(%rip), %ecx      /* sec */
	add %rcx, %rax
	/* Decimal, right-aligned in the 10 digits of the line. */
	lea digits_end(%rip), %rdi
	mov $10, %rcx
1:	xor %edx, %edx
	div %rcx
	add $'0', %dl
	dec %rdi
	mov %dl, (%rdi)
	test %rax, %rax
	jnz 1b
	PUTS line
	PUTS msg_ok
	jmp guest_reset
bad:
	FAIL msg_bad

	.section .data
	.balign 64
timeinfo: .fill 32, 1, 0
wall:     .fill 12, 1, 0
line:     .ascii "EMBER-TEST kvmclock wall=0000000000"
digits_end: .asciz "\n"

	.section .rodata
msg_ok:  .asciz "EMBER-TEST-OK kvmclock\n"
msg_bad: .asciz "EMBER-TEST-FAIL kvmclock: KVM did not fill the time info\n"
