/* Reads the CMOS clock as Linux's mc146818_get_time does (wait for UIP to
 * clear, read, check UIP and the seconds again), in BCD (the default) and
 * then in binary mode, and prints both:
 *   EMBER-TEST rtc bcd=CCYY-MM-DD hh:mm:ss
 *   EMBER-TEST rtc bin=CCYY-MM-DD hh:mm:ss
 * The harness compares them with the host's UTC time. Then checks a CMOS
 * RAM byte through an index with the NMI-mask bit set, and resets. */
#include "guest.h"

#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define NMI_MASK 0x80
#define REG_B 0x0b

/* CMOS_READ idx: al = register idx */
.macro CMOS_READ idx
	mov $\idx, %al
	out %al, $RTC_INDEX
	in $RTC_DATA, %al
.endm

.macro CMOS_WRITE idx, val
	mov $\idx, %al
	out %al, $RTC_INDEX
	mov $\val, %al
	out %al, $RTC_DATA
.endm

	.section .text.start, "ax"
	.globl _start
_start:
	lea line_bcd(%rip), %rdi
	lea put_bcd(%rip), %rbp
	call read_time
	PUTS line_bcd

	CMOS_WRITE REG_B, 0x06 /* 24-hour, binary */
	lea line_bin(%rip), %rdi
	lea put_bin(%rip), %rbp
	call read_time
	PUTS line_bin
	CMOS_WRITE REG_B, 0x02

	/* CMOS RAM at 0x40, selected with the NMI-mask bit set. */
	CMOS_WRITE (0x40 | NMI_MASK), 0x5a
	CMOS_READ 0x40
	cmp $0x5a, %al
	jne bad_ram
	PUTS msg_ok
	jmp guest_reset
bad_ram:
	FAIL msg_bad_ram

/* Fills the line at rdi + 19 with the time, each field through rbp
 * (al = register value, rdi = where its two digits go). */
read_time:
	mov $100000000, %r15 /* tries before giving up on UIP */
1:	dec %r15
	jz uip_stuck
	CMOS_READ 0x00
	mov %al, %r14b /* seconds before */
	CMOS_READ 0x0a
	test $0x80, %al
	jnz 1b
	add $19, %rdi
	mov %rdi, %r13
	CMOS_READ 0x32
	call *%rbp
	CMOS_READ 0x09
	call *%rbp
	inc %rdi
	CMOS_READ 0x08
	call *%rbp
	inc %rdi
	CMOS_READ 0x07
	call *%rbp
	inc %rdi
	CMOS_READ 0x04
	call *%rbp
	inc %rdi
	CMOS_READ 0x02
	call *%rbp
	inc %rdi
	CMOS_READ 0x00
	cmp %al, %r14b
	jne 2f
	call *%rbp
	CMOS_READ 0x0a
	test $0x80, %al
	jnz 2f
	ret
2:	/* the second turned over while we read: again */
	lea -19(%r13), %rdi
	jmp 1b
uip_stuck:
	FAIL msg_uip

put_bcd:
	mov %al, %ah
	shr $4, %al
	and $0x0f, %ah
	add $'0', %al
	add $'0', %ah
	mov %al, (%rdi)
	mov %ah, 1(%rdi)
	add $2, %rdi
	ret

put_bin:
	movzx %al, %ax
	mov $10, %bl
	div %bl /* al = tens, ah = ones */
	add $'0', %al
	add $'0', %ah
	mov %al, (%rdi)
	mov %ah, 1(%rdi)
	add $2, %rdi
	ret

	.section .data
line_bcd: .asciz "EMBER-TEST rtc bcd=CCYY-MM-DD hh:mm:ss\n"
line_bin: .asciz "EMBER-TEST rtc bin=CCYY-MM-DD hh:mm:ss\n"

	.section .rodata
msg_ok:      .asciz "EMBER-TEST-OK rtc\n"
msg_uip:     .asciz "EMBER-TEST-FAIL rtc: UIP never clears\n"
msg_bad_ram: .asciz "EMBER-TEST-FAIL rtc: CMOS RAM byte 0x40 did not read back\n"
