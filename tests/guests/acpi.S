/* Finds the ACPI tables as firmware-less software does: scans the BIOS
 * area 0xE0000-0xFFFFF for the RSDP on 16-byte boundaries, checks both
 * its checksums, follows the XSDT (checksum, then every entry's), and
 * from the FADT the DSDT and FACS. Prints each signature found:
 *   ACPI-TABLES: XSDT FACP DSDT APIC
 * then "EMBER-TEST-OK acpi" if the zero page's acpi_rsdp_addr (0x070)
 * names the same RSDP. Any bad checksum or signature fails. */
#include "guest.h"

#define SCAN_START 0xe0000
#define SCAN_END 0x100000
#define ZP_ACPI_RSDP 0x70
#define FADT_X_FIRMWARE_CTRL 132
#define FADT_X_DSDT 140

	.section .text.start, "ax"
	.globl _start
_start:
	mov %rsi, %r12                 /* zero page */
	mov $SCAN_START, %ebx
scan:
	cmp $SCAN_END, %ebx
	jae no_rsdp
	cmpl $0x20445352, (%rbx)       /* "RSD " */
	jne 1f
	cmpl $0x20525450, 4(%rbx)      /* "PTR " */
	jne 1f
	mov %rbx, %rsi
	mov $20, %ecx
	call sum
	test %al, %al
	jz found
1:	add $16, %ebx
	jmp scan
found:
	mov %rbx, %r13                 /* RSDP */
	cmpb $2, 15(%r13)              /* revision 2: there is an XSDT */
	jb bad_rsdp
	mov 20(%r13), %ecx             /* length */
	cmp $36, %ecx
	jb bad_rsdp
	mov %r13, %rsi
	call sum
	test %al, %al
	jnz bad_rsdp
	PUTS msg_head
	mov 24(%r13), %rbx             /* XSDT */
	cmpl $0x54445358, (%rbx)       /* "XSDT" */
	jne bad_table
	call check_and_print
	mov 4(%rbx), %r15d
	sub $36, %r15d
	shr $3, %r15d                  /* entries */
	lea 36(%rbx), %r14
entries:
	test %r15d, %r15d
	jz done
	mov (%r14), %rbx
	call check_and_print
	cmpl $0x50434146, (%rbx)       /* "FACP": its DSDT and FACS */
	jne 2f
	mov %rbx, %rbp
	mov FADT_X_FIRMWARE_CTRL(%rbp), %rbx
	test %rbx, %rbx
	jz 3f
	cmpl $0x53434146, (%rbx)       /* "FACS": no checksum, length >= 64 */
	jne bad_table
	cmpl $64, 4(%rbx)
	jb bad_table
	call print_sig
3:	mov FADT_X_DSDT(%rbp), %rbx
	cmpl $0x54445344, (%rbx)       /* "DSDT" */
	jne bad_table
	call check_and_print
2:	add $8, %r14
	dec %r15d
	jmp entries
done:
	PUTS msg_nl
	cmp ZP_ACPI_RSDP(%r12), %r13
	jne bad_zp
	PUTS msg_ok
	jmp guest_reset

/* rbx = a table with a standard header: checksum over its length must be 0. */
check_and_print:
	mov %rbx, %rsi
	mov 4(%rbx), %ecx
	cmp $36, %ecx
	jb bad_table
	call sum
	test %al, %al
	jnz bad_table
print_sig:
	mov (%rbx), %eax
	mov %eax, sig(%rip)
	push %rbx                      /* guest_puts uses bl */
	PUTS sig
	pop %rbx
	ret

/* rsi, ecx bytes: al = their sum. */
sum:
	xor %eax, %eax
1:	add (%rsi), %al
	inc %rsi
	dec %ecx
	jnz 1b
	ret

no_rsdp:
	FAIL msg_no_rsdp
bad_rsdp:
	FAIL msg_bad_rsdp
bad_table:
	PUTS msg_nl
	FAIL msg_bad_table
bad_zp:
	FAIL msg_bad_zp

	.section .data
sig:         .ascii "XXXX "
             .byte 0
	.section .rodata
msg_head:    .asciz "ACPI-TABLES: "
msg_nl:      .asciz "\n"
msg_ok:      .asciz "EMBER-TEST-OK acpi\n"
msg_no_rsdp: .asciz "EMBER-TEST-FAIL acpi: no RSDP in 0xE0000-0xFFFFF\n"
msg_bad_rsdp: .asciz "EMBER-TEST-FAIL acpi: RSDP revision, length or checksum\n"
msg_bad_table: .asciz "EMBER-TEST-FAIL acpi: bad signature or checksum\n"
msg_bad_zp:  .asciz "EMBER-TEST-FAIL acpi: zero page acpi_rsdp_addr is not the RSDP found\n"
