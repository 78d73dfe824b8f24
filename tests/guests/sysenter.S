/* SYSENTER, SYSEXIT and SYSCALL by the CPU vendor CPUID.0 names
 * (docs/platform.md). The guest builds its own GDT, TSS, IDT and page
 * tables (user-accessible), then:
 *
 * GenuineIntel (SDM Vol. 2B):
 *   1. SYSENTER with IA32_SYSENTER_CS = 0 raises #GP(0), in 64-bit kernel
 *      mode and in compatibility mode.
 *   2. From 64-bit user mode, SYSENTER lands in the 64-bit handler with
 *      CS = SYSENTER_CS, SS = SYSENTER_CS + 8, RSP = SYSENTER_ESP; SYSEXIT
 *      with REX.W returns to CS + 32 | 3, SS + 40 | 3, RIP = RDX, RSP = RCX.
 *   3. The same from compatibility mode; SYSEXIT without REX.W returns to
 *      CS + 16 | 3, SS + 24 | 3 (32-bit code).
 *   4. SYSCALL in compatibility mode raises #UD (EFER.SCE set).
 *   Prints "EMBER-TEST-OK sysenter intel".
 * AuthenticAMD (APM Vol. 3): SYSENTER and SYSEXIT raise #UD in long mode,
 *   64-bit (kernel and user) and compatibility mode alike, SYSENTER_CS 0
 *   or not. Prints "EMBER-TEST-OK sysenter amd".
 * "sysenter=cpl0" on the command line keeps to what this machine's nested
 * KVM can run: its instruction emulator refuses SYSENTER in 64-bit mode
 * and INT3 in compatibility mode (emulation failures), and it cannot
 * enter CPL 3. The steps then run in compatibility mode at CPL 0 (a
 * 32-bit DPL-0 code segment), return with a far jump, and the handler
 * jumps back instead of SYSEXIT: SYSENTER_CS 0 (#GP), SYSENTER from
 * compatibility mode (the 64-bit handler, CS, SS, RSP) and SYSCALL there
 * (#UD) are checked; SYSEXIT and 64-bit mode are not.
 *
 * Each user step runs "sysenter; int3" (or "syscall; int3"): a #UD or
 * #GP handler records the vector and resumes after the 2-byte
 * instruction, SYSEXIT returns to the int3; the int3 handler notes the
 * user CS, SS and RSP it interrupted, and the kernel checks the step. */
#include "guest.h"

#define KCODE 0x08          /* IA32_SYSENTER_CS */
#define KDATA 0x10
#define UCODE32 (0x18 | 3)
#define UDATA32 (0x20 | 3)
#define UCODE64 (0x28 | 3)
#define UDATA64 (0x30 | 3)
#define TSS_SEL 0x38
#define KCODE32 0x48        /* 32-bit code, DPL 0 ("sysenter=cpl0") */
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_EFER 0xc0000080
#define NONE 0xff           /* no fault recorded */
#define ARG_CPL0_LEN 13     /* "sysenter=cpl0" */
#define USER_RSP_BACK (-64) /* SYSEXIT's RCX: ustack_top less this */

/* KGATE n, handler, type: a 64-bit gate in idt with the kernel CS (0x8e00 DPL 0, 0xee00 DPL 3). */
.macro KGATE n, handler, type
	lea idt(%rip), %rdi
	lea \handler(%rip), %rax
	mov %ax, \n*16(%rdi)
	movw $KCODE, \n*16+2(%rdi)
	movw $\type, \n*16+4(%rdi)
	shr $16, %rax
	mov %ax, \n*16+6(%rdi)
	shr $16, %rax
	mov %eax, \n*16+8(%rdi)
.endm

/* SET_MSR msr, symbol-or-immediate: WRMSR of a 64-bit value. */
.macro SET_MSR msr, value
	mov $\msr, %ecx
	lea \value, %rax
	mov %rax, %rdx
	shr $32, %rdx
	wrmsr
.endm

/* ENTER cs, ss, rip, phase: iretq to rip on cs, stack ustack_top. */
.macro ENTER cs, ss, rip, phase
	movq $\phase, phase(%rip)
	movb $NONE, fault_vec(%rip)
	movq $-1, fault_err(%rip)
	pushq $\ss
	lea ustack_top(%rip), %rax
	push %rax
	pushq $2
	pushq $\cs
	lea \rip(%rip), %rax
	push %rax
	iretq
.endm

/* STEP name, phase: run name_u in compatibility mode at CPL 3, or name_k
 * at CPL 0 with "sysenter=cpl0". */
.macro STEP name, phase
	cmpb $0, cpl0(%rip)
	jne 1f
	ENTER UCODE32, UDATA32, \name\()_u, \phase
1:	ENTER KCODE32, KDATA, \name\()_k, \phase
.endm

	.section .text.start, "ax"
	.globl _start
_start:
	cli
	mov %rsi, %rbp                  /* boot_params */
	lea kstack_top(%rip), %rsp
	/* Page tables: 0-1 GiB identity in 2 MiB pages, user-accessible. */
	lea pd(%rip), %rdi
	xor %ecx, %ecx
1:	mov %rcx, %rax
	shl $21, %rax
	or $0x87, %rax
	mov %rax, (%rdi, %rcx, 8)
	inc %ecx
	cmp $512, %ecx
	jne 1b
	lea pd(%rip), %rax
	or $7, %rax
	mov %rax, pdpt(%rip)
	lea pdpt(%rip), %rax
	or $7, %rax
	mov %rax, pml4(%rip)
	lea pml4(%rip), %rax
	mov %rax, %cr3

	/* The TSS descriptor's base, then the GDT, CS, the data segments. */
	lea tss(%rip), %rax
	lea gdt+TSS_SEL(%rip), %rdi
	mov %ax, 2(%rdi)
	shr $16, %rax
	mov %al, 4(%rdi)
	mov %ah, 7(%rdi)
	shr $16, %rax
	mov %eax, 8(%rdi)
	lea kstack_top(%rip), %rax
	mov %rax, tss+4(%rip)           /* RSP0 */
	lgdt gdtr(%rip)
	pushq $KCODE
	lea 2f(%rip), %rax
	push %rax
	lretq
2:	mov $KDATA, %ax
	mov %ax, %ss
	mov $UDATA32, %ax
	mov %ax, %ds
	mov %ax, %es
	xor %eax, %eax
	mov %ax, %fs
	mov %ax, %gs
	mov $TSS_SEL, %ax
	ltr %ax

	KGATE 3, on_int3, 0xee00
	KGATE 6, on_ud, 0x8e00
	KGATE 13, on_gp, 0x8e00
	lidt idtr(%rip)

	xor %eax, %eax
	cpuid
	cmp $0x756e6547, %ebx           /* "Genu" */
	sete intel(%rip)
	je 3f
	cmp $0x68747541, %ebx           /* "Auth" */
	jne bad_vendor
3:	mov 0x228(%rbp), %esi           /* boot_params.cmd_line_ptr */
	lea arg_cpl0(%rip), %rdi
	mov $ARG_CPL0_LEN, %ecx
	cld
	repe cmpsb
	sete cpl0(%rip)

	SET_MSR MSR_SYSENTER_CS, 0
	SET_MSR MSR_SYSENTER_EIP, sysenter_entry(%rip)
	SET_MSR MSR_SYSENTER_ESP, kstack2_top(%rip)
	mov $MSR_EFER, %ecx
	rdmsr
	or $1, %eax                     /* SCE */
	wrmsr
	cmpb $0, cpl0(%rip)
	jne 5f

	/* 64-bit kernel mode, SYSENTER_CS 0: Intel #GP(0), AMD #UD. */
	movb $NONE, fault_vec(%rip)
	movq $-1, fault_err(%rip)
	sysenter
	call check_cs0_fault
	cmpb $0, intel(%rip)
	jne 5f
	/* AMD: with SYSENTER_CS set, SYSENTER and SYSEXIT are #UD too. */
	SET_MSR MSR_SYSENTER_CS, KCODE
	movb $NONE, fault_vec(%rip)
	sysenter
	cmpb $6, fault_vec(%rip)
	jne kernel_fail
	movb $NONE, fault_vec(%rip)
	lea ustack_top(%rip), %rcx
	lea 4f(%rip), %rdx
	sysexitl
4:	cmpb $6, fault_vec(%rip)
	jne kernel_fail
	SET_MSR MSR_SYSENTER_CS, 0
	/* Compatibility mode, SYSENTER_CS 0. */
5:	STEP sysenter32_cs0, 1

/* Back in the kernel after a step (phase says which): from the int3 at
 * CPL 3 (its frame: RIP, CS, RFLAGS, RSP, SS), or by a far jump. */
on_int3:
	mov 8(%rsp), %rax
	mov %rax, back_cs(%rip)
	mov 24(%rsp), %rax
	mov %rax, back_rsp(%rip)
	mov 32(%rsp), %rax
	mov %rax, back_ss(%rip)
k64_back:
	lea kstack_top(%rip), %rsp
	mov phase(%rip), %rax
	cmp $1, %rax
	je after_cs0
	cmp $2, %rax
	je after_user64
	cmp $3, %rax
	je after_sysenter32
	cmp $4, %rax
	je after_syscall32
	FAIL msg_phase

after_cs0:
	call check_cs0_fault
	SET_MSR MSR_SYSENTER_CS, KCODE
	cmpb $0, cpl0(%rip)
	jne 1f
	ENTER UCODE64, UDATA64, user64, 2
1:	STEP sysenter32, 3

after_user64:
	mov $UCODE64, %ebx
	mov $UDATA64, %ecx
	call check_step
	STEP sysenter32, 3

after_sysenter32:
	mov $UCODE32, %ebx
	mov $UDATA32, %ecx
	call check_step
	cmpb $0, intel(%rip)
	je done
	STEP syscall32, 4

after_syscall32:
	cmpb $6, fault_vec(%rip)
	jne syscall_fail
	jmp done

/* Intel: #GP(0); AMD: #UD. */
check_cs0_fault:
	mov $13, %al
	cmpb $0, intel(%rip)
	jne 1f
	mov $6, %al
1:	cmp fault_vec(%rip), %al
	jne kernel_fail
	cmpb $0, intel(%rip)
	je 2f
	cmpq $0, fault_err(%rip)
	jne kernel_fail
2:	ret

/* Intel: the handler ran (it checked CS, SS, RSP) and SYSEXIT put back
 * the user's CS (ebx), SS (ecx) and RSP = RCX. AMD: a #UD, and the user's
 * own CS, SS, RSP. With "sysenter=cpl0" no SYSEXIT, no frame. */
check_step:
	cmpb $0, intel(%rip)
	je 1f
	cmpq $1, entered(%rip)
	jne step_no_entry
	movq $0, entered(%rip)
	lea ustack_top+USER_RSP_BACK(%rip), %rdx
	jmp 2f
1:	cmpb $6, fault_vec(%rip)
	jne step_no_ud
	lea ustack_top(%rip), %rdx
2:	cmpb $0, cpl0(%rip)
	jne 3f
	cmp %rbx, back_cs(%rip)
	jne step_bad_frame
	cmp %rcx, back_ss(%rip)
	jne step_bad_frame
	cmp %rdx, back_rsp(%rip)
	jne step_bad_frame
3:	ret

done:
	cmpb $0, intel(%rip)
	je 1f
	PUTS msg_ok_intel
	jmp guest_reset
1:	PUTS msg_ok_amd
	jmp guest_reset

/* SYSENTER's target (Intel): 64-bit code at CPL 0 on SYSENTER_CS, SS and
 * SYSENTER_ESP. Returns with SYSEXIT (REX.W to 64-bit user mode) to the
 * int3 after the user's SYSENTER, whose address the user left in %esi. */
sysenter_entry:
	mov %cs, %ax
	cmp $KCODE, %ax
	jne entry_bad
	mov %ss, %ax
	cmp $KDATA, %ax
	jne entry_bad
	lea kstack2_top(%rip), %rax
	cmp %rax, %rsp
	jne entry_bad
	movq $1, entered(%rip)
	cmpb $0, cpl0(%rip)
	jne k64_back
	lea ustack_top+USER_RSP_BACK(%rip), %rcx
	mov %esi, %edx
	cmpq $2, phase(%rip)
	jne 1f
	sysexitq
1:	sysexitl

entry_bad:      FAIL msg_entry
kernel_fail:    FAIL msg_cs0
step_no_entry:  FAIL msg_no_entry
step_no_ud:     FAIL msg_no_ud
step_bad_frame: FAIL msg_frame
syscall_fail:   FAIL msg_syscall
bad_vendor:     FAIL msg_vendor

/* #UD, #GP: record, resume after the 2-byte instruction. */
on_ud:
	movb $6, fault_vec(%rip)
	addq $2, (%rsp)
	iretq
on_gp:
	movb $13, fault_vec(%rip)
	pop fault_err(%rip)
	addq $2, (%rsp)
	iretq

/* User mode, 64-bit. */
user64:
	lea 1f(%rip), %rsi
	sysenter
1:	int3

/* The compatibility-mode steps, ending with \back. */
.macro STEPS32 suffix, back
sysenter32_cs0\suffix:
	sysenter
	\back
sysenter32\suffix:
	mov $1f, %esi
	sysenter
1:	\back
syscall32\suffix:
	syscall
	\back
.endm
	.code32
	STEPS32 _u, int3
	STEPS32 _k, "ljmp $0x08, $k64_back"  /* KCODE (cpp leaves strings alone) */
	.code64

	.section .rodata
msg_ok_intel:  .asciz "EMBER-TEST-OK sysenter intel\n"
msg_ok_amd:    .asciz "EMBER-TEST-OK sysenter amd\n"
msg_vendor:    .asciz "EMBER-TEST-FAIL sysenter: CPUID.0 names neither Intel nor AMD\n"
msg_cs0:       .asciz "EMBER-TEST-FAIL sysenter: wrong fault for SYSENTER_CS 0, or for AMD in 64-bit kernel mode\n"
msg_phase:     .asciz "EMBER-TEST-FAIL sysenter: back in the kernel in no step\n"
msg_entry:     .asciz "EMBER-TEST-FAIL sysenter: handler entered with the wrong CS, SS or RSP\n"
msg_no_entry:  .asciz "EMBER-TEST-FAIL sysenter: SYSENTER did not reach the handler\n"
msg_no_ud:     .asciz "EMBER-TEST-FAIL sysenter: SYSENTER in long mode did not raise #UD\n"
msg_frame:     .asciz "EMBER-TEST-FAIL sysenter: back in user mode with the wrong CS, SS or RSP\n"
msg_syscall:   .asciz "EMBER-TEST-FAIL sysenter: SYSCALL in compatibility mode did not raise #UD\n"
arg_cpl0:      .ascii "sysenter=cpl0"

	.section .data
	.balign 16
gdt:	.quad 0
	.quad 0x00af9b000000ffff        /* 0x08 64-bit code, DPL 0 */
	.quad 0x00cf93000000ffff        /* 0x10 data, DPL 0 */
	.quad 0x00cffb000000ffff        /* 0x18 32-bit code, DPL 3 */
	.quad 0x00cff3000000ffff        /* 0x20 data, DPL 3 */
	.quad 0x00affb000000ffff        /* 0x28 64-bit code, DPL 3 */
	.quad 0x00cff3000000ffff        /* 0x30 data, DPL 3 */
	.quad 0x0000890000000067        /* 0x38 TSS (base filled in) */
	.quad 0
	.quad 0x00cf9b000000ffff        /* 0x48 32-bit code, DPL 0 */
gdt_end:
gdtr:	.word gdt_end - gdt - 1
	.quad gdt
	.balign 16
idt:	.fill 64, 8, 0
idtr:	.word 32*16-1
	.quad idt
	.balign 8
phase:      .quad 0
entered:    .quad 0
fault_err:  .quad 0
back_cs:    .quad 0
back_ss:    .quad 0
back_rsp:   .quad 0
fault_vec:  .byte NONE
intel:      .byte 0
cpl0:       .byte 0
	.balign 16
tss:	.fill 104, 1, 0

	.section .bss
	.balign 4096
pml4:	.fill 512, 8, 0
pdpt:	.fill 512, 8, 0
pd:	.fill 512, 8, 0
	.fill 512, 8, 0
kstack_top:
	.fill 512, 8, 0
kstack2_top:
	.fill 512, 8, 0
ustack_top:
	.fill 64, 8, 0
