/* A 32-bit Linux program without libc (as --32, ld -m elf_i386): makes
 * its system calls through the vDSO's __kernel_vsyscall (AT_SYSINFO in
 * the auxiliary vector), which Linux patches at boot to SYSENTER on an
 * Intel CPU and to SYSCALL on an AMD one. It looks which one its entry
 * holds, then writes "IA32-VSYSCALL ok via sysenter" (or syscall, or
 * int80) to stdout through it and exits 0 the same way. A SYSENTER or
 * SYSCALL that does not reach the kernel prints nothing. */
#define AT_NULL 0
#define AT_SYSINFO 32
#define NR_EXIT 1
#define NR_WRITE 4
#define SCAN 16                 /* bytes of __kernel_vsyscall looked at */

	.text
	.globl _start
_start:
	/* argc, argv..., 0, envp..., 0, then the auxv pairs. */
	mov (%esp), %eax
	lea 8(%esp, %eax, 4), %esi
1:	lodsl
	test %eax, %eax
	jnz 1b
2:	lodsl
	mov %eax, %ebx
	lodsl
	cmp $AT_NULL, %ebx
	je no_sysinfo
	cmp $AT_SYSINFO, %ebx
	jne 2b
	mov %eax, vsyscall

	/* Which instruction Linux patched in: 0f 34 or 0f 05. */
	lea msg_int80, %ecx
	mov $len_int80, %edx
	mov vsyscall, %esi
	mov $SCAN, %edi
3:	cmpb $0x0f, (%esi)
	jne 4f
	cmpb $0x34, 1(%esi)
	je 5f
	cmpb $0x05, 1(%esi)
	je 6f
4:	inc %esi
	dec %edi
	jnz 3b
	jmp 7f
5:	lea msg_sysenter, %ecx
	mov $len_sysenter, %edx
	jmp 7f
6:	lea msg_syscall, %ecx
	mov $len_syscall, %edx
7:	mov $NR_WRITE, %eax
	mov $1, %ebx
	call *vsyscall
	mov $NR_EXIT, %eax
	xor %ebx, %ebx
	call *vsyscall
	hlt                             /* not reached */

no_sysinfo:
	mov $NR_WRITE, %eax
	mov $1, %ebx
	lea msg_none, %ecx
	mov $len_none, %edx
	int $0x80
	mov $NR_EXIT, %eax
	mov $1, %ebx
	int $0x80

	.data
vsyscall: .long 0
msg_sysenter: .ascii "IA32-VSYSCALL ok via sysenter\n"
	len_sysenter = . - msg_sysenter
msg_syscall: .ascii "IA32-VSYSCALL ok via syscall\n"
	len_syscall = . - msg_syscall
msg_int80: .ascii "IA32-VSYSCALL ok via int80\n"
	len_int80 = . - msg_int80
msg_none: .ascii "IA32-VSYSCALL no AT_SYSINFO\n"
	len_none = . - msg_none
