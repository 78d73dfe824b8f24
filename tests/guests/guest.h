/* Shared code for the bare-metal test guests (GNU as, x86-64, included by
 * each guest's .S). They enter in long mode through the 64-bit boot
 * protocol, report over COM1 and end by pulsing the i8042 reset line. */
#define COM1 0x3f8
#define COM1_LSR (COM1 + 5)
#define LSR_THRE 0x20
#define I8042_CMD 0x64
#define I8042_RESET 0xfe

/* PUTS label: print the NUL-terminated string at label. */
.macro PUTS label
	lea \label(%rip), %rsi
	call guest_puts
.endm

/* FAIL label: print the string and stop without resetting (the harness
 * then sees no reset and a missing OK line). */
.macro FAIL label
	PUTS \label
	jmp guest_halt
.endm

/* GATE n, handler: a 64-bit interrupt gate for vector n in the guest's
 * own table `idt` (16 bytes an entry), present, DPL 0, the current CS. */
.macro GATE n, handler
	lea idt(%rip), %rdi
	lea \handler(%rip), %rax
	mov %ax, \n*16(%rdi)
	mov %cs, %bx
	mov %bx, \n*16+2(%rdi)
	movw $0x8e00, \n*16+4(%rdi)
	shr $16, %rax
	mov %ax, \n*16+6(%rdi)
	shr $16, %rax
	mov %eax, \n*16+8(%rdi)
.endm

	.section .text.lib, "ax"
guest_puts:
	lodsb
	test %al, %al
	jz 2f
	mov %al, %bl
1:	mov $COM1_LSR, %dx
	in %dx, %al
	test $LSR_THRE, %al
	jz 1b
	mov $COM1, %dx
	mov %bl, %al
	out %al, %dx
	jmp guest_puts
2:	ret

guest_reset:
	mov $I8042_RESET, %al
	out %al, $I8042_CMD
guest_halt:
	cli
	hlt
	jmp guest_halt
