/* Smallest useful guest for start-up benchmarks: entered through PVH in
 * 32-bit protected mode, it prints one line on COM1 at once and resets
 * through the i8042. The first byte on the console marks "guest running". */
#define COM1 0x3f8
#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.Xen, "a", @note
	.balign 4
	.long 4                         /* name size: "Xen\0" */
	.long 4                         /* descriptor size */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long _start

	.text
	.code32
	.globl _start
_start:
	lea msg, %esi
1:	lodsb
	test %al, %al
	jz 2f
	mov $COM1, %dx
	out %al, %dx
	jmp 1b
2:	mov $0xfe, %al
	out %al, $0x64
3:	cli
	hlt
	jmp 3b

msg:	.asciz "EMBER-BENCH guest running\n"
