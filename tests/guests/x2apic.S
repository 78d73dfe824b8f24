/* x2APIC mode as a kernel enables it: CPUID.1:ECX[21], then
 * IA32_APIC_BASE (MSR 0x1b) from xAPIC to x2APIC; the ID through MSR
 * 0x802 (the CPUID.0xB x2APIC ID), the one-shot timer, SELF_IPI and a
 * physical ICR IPI to itself through MSRs 0x832/0x838/0x83f/0x830, EOI
 * through 0x80b. What must fault does (#GP): x2APIC MSRs in xAPIC mode,
 * a write of the read-only LDR, the DFR (none in x2APIC mode), x2APIC
 * back to xAPIC. The MMIO page no longer answers; disabling the APIC and
 * enabling it in xAPIC mode brings it back. Prints
 * "EMBER-TEST-OK x2apic". */
#include "guest.h"

#define LAPIC 0xfee00000
#define LVR 0x30
#define MSR_APIC_BASE 0x1b
#define BASE_BSP (1 << 8)
#define BASE_X2APIC (1 << 10)
#define BASE_EN (1 << 11)
#define X_ID 0x802
#define X_LVR 0x803
#define X_EOI 0x80b
#define X_LDR 0x80d
#define X_DFR 0x80e
#define X_SVR 0x80f
#define X_ICR 0x830
#define X_LVTT 0x832
#define X_LVT0 0x835
#define X_TMICT 0x838
#define X_TMCCT 0x839
#define X_TDCR 0x83e
#define X_SELF_IPI 0x83f
#define VEC_TIMER 0x40
#define VEC_SELF 0x41
#define VEC_ICR 0x42
#define MASKED (1 << 16)

/* WRMSR_ msr, low, high */
.macro WRMSR_ msr, lo, hi=0
	mov $\msr, %ecx
	mov $\lo, %eax
	mov $\hi, %edx
	wrmsr
.endm

/* RDMSR_ msr: EDX:EAX */
.macro RDMSR_ msr
	mov $\msr, %ecx
	rdmsr
.endm

/* EXPECT_GP label: exactly one more #GP since the last check, else FAIL. */
.macro EXPECT_GP label
	incq want_gps(%rip)
	mov gps(%rip), %rax
	cmp want_gps(%rip), %rax
	jne \label
.endm

	.section .text.start, "ax"
	.globl _start
_start:
	GATE 13, gp
	GATE VEC_TIMER, on_timer
	GATE VEC_SELF, on_self
	GATE VEC_ICR, on_icr
	GATE 0xff, spurious
	lidt idtr(%rip)

	mov $1, %eax
	cpuid
	bt $21, %ecx
	jnc no_x2apic
	mov LAPIC+LVR, %eax
	mov %eax, %r15d                      /* the version, through the page */

	RDMSR_ MSR_APIC_BASE
	mov %eax, %r14d
	and $0xfffff000, %eax
	cmp $LAPIC, %eax
	jne bad_base
	mov %r14d, %eax
	and $(BASE_EN | BASE_BSP | BASE_X2APIC), %eax
	cmp $(BASE_EN | BASE_BSP), %eax
	jne bad_base

	RDMSR_ X_ID                          /* xAPIC mode: #GP */
	EXPECT_GP gp_missing

	WRMSR_ MSR_APIC_BASE, (LAPIC | BASE_EN | BASE_BSP | BASE_X2APIC)
	RDMSR_ MSR_APIC_BASE
	test $BASE_X2APIC, %eax
	jz not_entered
	mov gps(%rip), %rax
	cmp want_gps(%rip), %rax
	jne not_entered

	/* The ID: CPUID.0xB's x2APIC ID. */
	RDMSR_ X_ID
	mov %eax, %r13d
	mov $0xb, %eax
	xor %ecx, %ecx
	cpuid
	cmp %edx, %r13d
	jne bad_id
	RDMSR_ X_LVR
	cmp %eax, %r15d
	jne bad_version
	RDMSR_ X_LDR                         /* cluster ID >> 4, bit ID & 15 */
	mov %r13d, %ecx
	and $15, %ecx
	mov $1, %edx
	shl %cl, %edx
	mov %r13d, %ecx
	shr $4, %ecx
	shl $16, %ecx
	or %ecx, %edx
	cmp %edx, %eax
	jne bad_ldr
	WRMSR_ X_LDR, 0x10000                /* read-only */
	EXPECT_GP gp_missing
	RDMSR_ X_DFR                         /* no DFR */
	EXPECT_GP gp_missing
	WRMSR_ MSR_APIC_BASE, (LAPIC | BASE_EN | BASE_BSP)   /* x2APIC to xAPIC */
	EXPECT_GP gp_missing

	/* The page does not answer in x2APIC mode. */
	mov LAPIC+LVR, %eax
	cmp %eax, %r15d
	je page_answers

	WRMSR_ X_SVR, 0x1ff                  /* software enable */
	WRMSR_ X_LVT0, MASKED

	/* SELF_IPI. */
	sti
	WRMSR_ X_SELF_IPI, VEC_SELF
	mov $100000, %ecx
0:	cmpq $1, self_ipis(%rip)
	je 0f
	pause
	dec %ecx
	jnz 0b
	jmp no_self_ipi
0:

	/* A fixed IPI to its own 32-bit ID through the 64-bit ICR. */
	mov $X_ICR, %ecx
	mov $(0x4000 | VEC_ICR), %eax        /* fixed, physical, assert */
	mov %r13d, %edx
	wrmsr
	mov $100000, %ecx
1:	cmpq $1, icr_ipis(%rip)
	je 2f
	pause
	dec %ecx
	jnz 1b
	jmp no_icr_ipi
2:
	/* One-shot timer, 1 ms, through the MSRs. */
	WRMSR_ X_TDCR, 0xb                   /* divide by 1 */
	WRMSR_ X_LVTT, VEC_TIMER
	WRMSR_ X_TMICT, 1000000
	RDMSR_ X_TMCCT
	test %eax, %eax
	jz not_counting
3:	hlt
	cmpq $1, ticks(%rip)
	jb 3b
	cli

	/* Disabled, then xAPIC again: the page is back. */
	WRMSR_ MSR_APIC_BASE, (LAPIC | BASE_BSP)
	mov gps(%rip), %rax
	cmp want_gps(%rip), %rax
	jne gp_extra
	WRMSR_ MSR_APIC_BASE, (LAPIC | BASE_EN | BASE_BSP)
	mov LAPIC+LVR, %eax
	cmp %eax, %r15d
	jne page_gone
	mov gps(%rip), %rax
	cmp want_gps(%rip), %rax
	jne gp_extra
	PUTS msg_ok
	jmp guest_reset

no_x2apic:    FAIL msg_no_x2apic
bad_base:     FAIL msg_bad_base
gp_missing:   FAIL msg_gp_missing
gp_extra:     FAIL msg_gp_extra
not_entered:  FAIL msg_not_entered
bad_id:       FAIL msg_bad_id
bad_version:  FAIL msg_bad_version
bad_ldr:      FAIL msg_bad_ldr
page_answers: FAIL msg_page_answers
no_self_ipi:  FAIL msg_no_self_ipi
no_icr_ipi:   FAIL msg_no_icr_ipi
not_counting: FAIL msg_not_counting
page_gone:    FAIL msg_page_gone

/* #GP from RDMSR/WRMSR (2 bytes): count it, skip the instruction. */
gp:
	incq gps(%rip)
	addq $2, 8(%rsp)
	add $8, %rsp                         /* the error code */
	iretq

/* EOI through MSR 0x80b (value 0). */
eoi:
	push %rax
	push %rcx
	push %rdx
	mov $X_EOI, %ecx
	xor %eax, %eax
	xor %edx, %edx
	wrmsr
	pop %rdx
	pop %rcx
	pop %rax
	ret

on_timer:
	incq ticks(%rip)
	call eoi
	iretq
on_self:
	incq self_ipis(%rip)
	call eoi
	iretq
on_icr:
	incq icr_ipis(%rip)
	call eoi
	iretq
spurious:
	iretq

	.section .rodata
msg_ok:           .asciz "EMBER-TEST-OK x2apic\n"
msg_no_x2apic:    .asciz "EMBER-TEST-FAIL x2apic: CPUID.1:ECX[21] clear\n"
msg_bad_base:     .asciz "EMBER-TEST-FAIL x2apic: IA32_APIC_BASE is not 0xfee00000, enabled, BSP\n"
msg_gp_missing:   .asciz "EMBER-TEST-FAIL x2apic: no #GP where one is due\n"
msg_gp_extra:     .asciz "EMBER-TEST-FAIL x2apic: #GP on a valid IA32_APIC_BASE write\n"
msg_not_entered:  .asciz "EMBER-TEST-FAIL x2apic: IA32_APIC_BASE did not take x2APIC mode\n"
msg_bad_id:       .asciz "EMBER-TEST-FAIL x2apic: MSR 0x802 is not CPUID.0xB's x2APIC ID\n"
msg_bad_version:  .asciz "EMBER-TEST-FAIL x2apic: MSR 0x803 is not the page's version\n"
msg_bad_ldr:      .asciz "EMBER-TEST-FAIL x2apic: the LDR is not derived from the ID\n"
msg_page_answers: .asciz "EMBER-TEST-FAIL x2apic: the MMIO page answers in x2APIC mode\n"
msg_no_self_ipi:  .asciz "EMBER-TEST-FAIL x2apic: no SELF_IPI interrupt\n"
msg_no_icr_ipi:   .asciz "EMBER-TEST-FAIL x2apic: no interrupt from the ICR\n"
msg_not_counting: .asciz "EMBER-TEST-FAIL x2apic: the timer's current count is 0\n"
msg_page_gone:    .asciz "EMBER-TEST-FAIL x2apic: no MMIO page back in xAPIC mode\n"

	.section .data
	.balign 16
idt:    .fill 512, 8, 0
idtr:   .word 256*16-1
	.quad idt
	.balign 8
gps:       .quad 0
want_gps:  .quad 0
ticks:     .quad 0
self_ipis: .quad 0
icr_ipis:  .quad 0
