/* Atomicity across vCPUs: the BSP starts every AP the MP table lists with
 * INIT-SIPI-SIPI; each CPU, the BSP included, adds 1 to one counter
 * ITER times with `lock xadd` and to another ITER times with a
 * `lock cmpxchg` loop. Both must come out exactly CPUs * ITER.
 * Prints "EMBER-TEST-OK hammer cpus=N". */
#include "guest.h"

#define EBDA 0x9fc00
#define TRAMPOLINE 0x10000       /* SIPI vector 0x10 */
#define DONE (TRAMPOLINE + 0x100)
#define COUNT_A (TRAMPOLINE + 0x140)  /* separate cache lines */
#define COUNT_B (TRAMPOLINE + 0x180)
#define ITER 20000
#define LAPIC 0xfee00000
#define ICR_LO 0x300
#define ICR_HI 0x310
#define ICR_INIT_ALL_BUT_SELF 0x000c4500
#define ICR_SIPI_ALL_BUT_SELF 0x000c4600

	.section .text.start, "ax"
	.globl _start
_start:
	mov $EBDA, %ebx
	cmpl $0x5f504d5f, (%rbx)  /* "_MP_" */
	jne no_mp
	mov 4(%rbx), %ebx
	cmpl $0x504d4350, (%rbx)  /* "PCMP" */
	jne no_mp
	movzwl 34(%rbx), %ecx
	lea 44(%rbx), %rsi
	xor %r12d, %r12d          /* processors listed */
next_entry:
	test %ecx, %ecx
	jz counted
	movzbl (%rsi), %eax
	test %eax, %eax
	jnz not_cpu
	testb $1, 3(%rsi)
	jz 1f
	inc %r12d
1:	add $20, %rsi
	dec %ecx
	jmp next_entry
not_cpu:
	add $8, %rsi
	dec %ecx
	jmp next_entry
counted:
	lea trampoline(%rip), %rsi
	mov $TRAMPOLINE, %edi
	mov $(trampoline_end - trampoline), %ecx
	rep movsb
	movl $0, DONE
	movl $0, COUNT_A
	movl $0, COUNT_B

	cmp $1, %r12d
	je hammer                 /* no AP to start */
	mov $LAPIC, %ebx
	movl $0, ICR_HI(%rbx)
	movl $ICR_INIT_ALL_BUT_SELF, ICR_LO(%rbx)
	call delay
	movl $(ICR_SIPI_ALL_BUT_SELF | (TRAMPOLINE >> 12)), ICR_LO(%rbx)
	call delay
	movl $(ICR_SIPI_ALL_BUT_SELF | (TRAMPOLINE >> 12)), ICR_LO(%rbx)

hammer:
	mov $ITER, %ecx
1:	mov $1, %eax
	lock xaddl %eax, COUNT_A
2:	movl COUNT_B, %eax
	lea 1(%rax), %edx
	lock cmpxchgl %edx, COUNT_B
	jne 2b
	dec %ecx
	jnz 1b

	/* Every AP done, bounded. */
	mov %r12d, %r14d
	dec %r14d
	mov $20000, %r13d
wait_aps:
	cmp DONE, %r14d
	je all_in
	call delay
	dec %r13d
	jnz wait_aps
	FAIL msg_missing
all_in:
	mov %r12d, %eax
	imul $ITER, %eax
	cmp COUNT_A, %eax
	jne lost_a
	cmp COUNT_B, %eax
	jne lost_b
	mov %r12d, %eax
	add $'0', %al             /* single digit is enough for the test */
	mov %al, count_digit(%rip)
	PUTS msg_ok
	jmp guest_reset
no_mp:
	FAIL msg_no_mp
lost_a:
	FAIL msg_lost_a
lost_b:
	FAIL msg_lost_b

delay:
	mov $2000, %eax
1:	pause
	dec %eax
	jnz 1b
	ret

	/* Real mode, CS = 0x1000: the same two loops, then check in. */
	.code16
trampoline:
	mov $(TRAMPOLINE >> 4), %ax
	mov %ax, %ds
	mov $ITER, %ecx
1:	mov $1, %eax
	lock xaddl %eax, (COUNT_A - TRAMPOLINE)
2:	movl (COUNT_B - TRAMPOLINE), %eax
	mov %eax, %edx
	inc %edx
	lock cmpxchgl %edx, (COUNT_B - TRAMPOLINE)
	jne 2b
	dec %ecx
	jnz 1b
	lock incl (DONE - TRAMPOLINE)
3:	cli
	hlt
	jmp 3b
trampoline_end:
	.code64

	.section .data
msg_ok:       .ascii "EMBER-TEST-OK hammer cpus="
count_digit:  .asciz "?\n"
	.section .rodata
msg_no_mp:    .asciz "EMBER-TEST-FAIL hammer: no MP table\n"
msg_missing:  .asciz "EMBER-TEST-FAIL hammer: not every AP finished\n"
msg_lost_a:   .asciz "EMBER-TEST-FAIL hammer: lock xadd lost updates\n"
msg_lost_b:   .asciz "EMBER-TEST-FAIL hammer: lock cmpxchg lost updates\n"
