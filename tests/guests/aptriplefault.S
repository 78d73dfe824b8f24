/* An AP that dies: the BSP starts the APs with INIT-SIPI-SIPI (as
 * smp.S); the first one, in real mode, loads an empty IDT and executes
 * UD2, which cannot be delivered: a triple fault on that vCPU, which
 * ember must report as that vCPU's, not the BSP's. The BSP waits in HLT
 * meanwhile. Prints "aptriplefault: starting the APs" first. */
#include "guest.h"

#define TRAMPOLINE 0x10000       /* SIPI vector 0x10 */
#define LAPIC 0xfee00000
#define ICR_LO 0x300
#define ICR_HI 0x310
#define ICR_INIT_ALL_BUT_SELF 0x000c4500
#define ICR_SIPI_ALL_BUT_SELF 0x000c4600

	.section .text.start, "ax"
	.globl _start
_start:
	PUTS msg_start
	lea trampoline(%rip), %rsi
	mov $TRAMPOLINE, %edi
	mov $(trampoline_end - trampoline), %ecx
	rep movsb
	mov $LAPIC, %ebx
	movl $0, ICR_HI(%rbx)
	movl $ICR_INIT_ALL_BUT_SELF, ICR_LO(%rbx)
	call delay
	movl $(ICR_SIPI_ALL_BUT_SELF | (TRAMPOLINE >> 12)), ICR_LO(%rbx)
	call delay
	movl $(ICR_SIPI_ALL_BUT_SELF | (TRAMPOLINE >> 12)), ICR_LO(%rbx)
1:	cli
	hlt
	jmp 1b

delay:
	mov $2000, %eax
1:	pause
	dec %eax
	jnz 1b
	ret

	/* Real mode, CS = 0x1000. */
	.code16
trampoline:
	lidt %cs:(empty_idt - trampoline)
	ud2
empty_idt:
	.word 0
	.long 0
trampoline_end:
	.code64

	.section .rodata
msg_start: .asciz "aptriplefault: starting the APs\n"
