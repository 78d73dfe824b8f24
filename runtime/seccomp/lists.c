/* The built-in seccomp filters: an allow-list per thread kind, every entry
 * with the reason its thread makes that call. Found by running the whole
 * test suite with the filters on (a missing call ends the test's VMM with
 * a line naming it and its arguments) and kept to what the code makes;
 * the counts, and how they differ from Firecracker's, are in
 * docs/seccomp.md. `make seccomp-lists` prints them.
 *
 * Reading an entry: ALLOW(call, why) allows every call of it; WITH(call,
 * why, conditions...) only with these arguments (several entries for one
 * call are alternatives); REFUSE(call, errno, why) fails it with an error
 * instead of ending the process. Any other call is refused with the trap:
 * the reporter writes one line and the process ends by SIGSYS
 * (runtime/base/seccomp.c).
 *
 * Inheritance shapes the VMM list: filters stack, and a thread starts
 * under the filters of the thread that made it. The VMM thread confines
 * itself before it serves (runtime/main.c) and makes the vCPU threads and
 * the TCG timer afterwards, so a vCPU thread runs under the VMM filter and
 * its own, and a call passes only if both allow it. The VMM list therefore
 * allows what the vCPU threads make (KVM_RUN, say), and the vCPU lists are
 * what narrows those threads. */
#include "runtime/seccomp/filters.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Conditions. A dword compares the low 32 bits (how the kernel reads an
 * int argument: an ioctl request, an fcntl command, flags), a qword all 64. */
#define EQ(i, v) EQ_NAMED(i, v, #v)
#define EQ_NAMED(i, v, name) { .op = OP_EQ, .index = (i), .val = (v), .comment = name }
#define EQ64(i, v) { .op = OP_EQ, .index = (i), .qword = true, .val = (v), .comment = #v }
/* None of these bits set. */
#define NONE_OF(i, bits) \
	{ .op = OP_MASKED_EQ, .index = (i), .qword = true, .mask = (bits), .val = 0, .comment = "no " #bits }
/* SIGRTMIN + n, which libc fixes at run time. */
#define SIGRT(i, n, name) { .op = OP_EQ, .index = (i), .val = (n), .sigrt = true, .comment = name }

/* Entries. */
#define ALLOW(call, why) { .syscall = call, .comment = why }
#define WITH(call, why, ...) { .syscall = call, .comment = why, .args = { __VA_ARGS__ } }
/* A rule with its own action (Ember's extension of the format). */
#define REFUSE(call, err, why) \
	{ .syscall = call, .comment = why, .has_action = true, .action = { ACT_ERRNO, (err) } }
/* The name given, not what it expands to. */
#define IOCTL(req, why) WITH("ioctl", why, EQ_NAMED(1, req, #req))
#define FCNTL(cmd, why) WITH("fcntl", why, EQ_NAMED(1, cmd, #cmd))
#define FUTEX(op, why) WITH("futex", why, EQ_NAMED(1, op, #op))

/* How every thread ends (glibc): signals blocked, the stack's pages given
 * back, the thread's exit. */
#define THREAD_END_RULES                                                                      \
	ALLOW("rt_sigprocmask", "a thread ends: glibc blocks signals first; pthread_sigmask"), \
	WITH("madvise", "a thread ends: glibc gives back its stack's pages", EQ(2, MADV_DONTNEED)), \
	ALLOW("exit", "a thread ends")

/* Sanitizer builds only (make SANITIZE=1, which `make test` runs): the
 * calls of the ASan, UBSan and LSan runtimes, on top of the real lists,
 * so that the sanitizer build tests those. Without a sanitizer the macros
 * are empty; each entry ends with its comma. */
#ifdef __SANITIZE_ADDRESS__
/* Every thread: ASan's allocator and thread registry, and a report, whose
 * stack is symbolized in the thread that found the error (libbacktrace,
 * reading the binaries) before the process ends. */
#define SANITIZER_RULES                                                                       \
	WITH("mmap", "sanitizer build: ASan's allocator", NONE_OF(2, PROT_EXEC),              \
	     EQ(3, MAP_PRIVATE | MAP_ANONYMOUS)),                                             \
	WITH("mmap", "sanitizer build: ASan's allocator and shadow at fixed addresses",       \
	     NONE_OF(2, PROT_EXEC), EQ(3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)),          \
	WITH("mmap", "sanitizer build: ASan's shadow at fixed addresses", NONE_OF(2, PROT_EXEC), \
	     EQ(3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE)),                 \
	WITH("madvise", "sanitizer build: ASan keeps its shadow out of core dumps",           \
	     EQ(2, MADV_DONTDUMP)),                                                           \
	WITH("madvise", "sanitizer build: ASan's shadow without huge pages",                  \
	     EQ(2, MADV_NOHUGEPAGE)),                                                         \
	ALLOW("sigaltstack", "sanitizer build: a thread's alternate signal stack goes at its end"), \
	ALLOW("gettid", "sanitizer build: ASan's thread registry"),                           \
	ALLOW("getpid", "sanitizer build: a report's ==PID== prefix"),                        \
	IOCTL(TCGETS, "sanitizer build: is the report's stderr a terminal (colours)"),        \
	WITH("pipe2", "sanitizer build: a report tests through a pipe whether memory is readable", \
	     EQ(1, 0)),                                                                       \
	ALLOW("open", "sanitizer build: /proc/self/maps (reports, LSan), /proc/self/task (LSan)"), \
	ALLOW("readlink", "sanitizer build: the symbolizer finds the binaries"),              \
	FCNTL(F_SETFD, "sanitizer build: the symbolizer opens the binaries close-on-exec"),   \
	ALLOW("newfstatat", "sanitizer build: the symbolizer: the binaries' sizes"),          \
	WITH("mmap", "sanitizer build: the symbolizer maps the binaries' debug information",  \
	     EQ(2, PROT_READ), EQ(3, MAP_PRIVATE)),                                           \
	ALLOW("read", "sanitizer build: /proc/self/maps"),                                    \
	ALLOW("close", "sanitizer build: /proc/self/maps, the binaries"),                     \
	ALLOW("exit_group", "sanitizer build: a report ends the process"),
/* The VMM (main) thread: LSan's leak check at exit stops every thread
 * from a tracer process of its own (clone without CLONE_THREAD, ptrace),
 * which runs under this filter too. */
#define SANITIZER_VMM_RULES                                                                   \
	ALLOW("sched_getaffinity", "sanitizer build: ASan's allocator sizes itself"),         \
	ALLOW("stat", "sanitizer build: LSan finds its suppressions file"),                   \
	WITH("prctl", "sanitizer build: LSan: is the process dumpable", EQ(0, PR_GET_DUMPABLE)), \
	WITH("prctl", "sanitizer build: LSan lets its tracer trace the process (Yama)",       \
	     EQ(0, PR_SET_PTRACER)),                                                          \
	WITH("prctl", "sanitizer build: LSan's tracer dies with the process",                 \
	     EQ(0, PR_SET_PDEATHSIG)),                                                        \
	WITH("clone", "sanitizer build: LSan's tracer",                                       \
	     EQ64(0, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED)),                    \
	ALLOW("getppid", "sanitizer build: LSan's tracer checks its parent"),                 \
	ALLOW("rt_sigaction", "sanitizer build: LSan's tracer handles its own faults"),       \
	ALLOW("getdents", "sanitizer build: LSan's tracer lists /proc/self/task"),            \
	ALLOW("ptrace", "sanitizer build: LSan's tracer stops the threads, reads their registers"), \
	ALLOW("wait4", "sanitizer build: LSan waits for its tracer, the tracer for the threads"), \
	ALLOW("sched_yield", "sanitizer build: LSan waits for its tracer"),
/* The symbolizer opens the binaries from any thread. */
#define OPENAT_REFUSED ALLOW("openat", "sanitizer build: the symbolizer opens the binaries")
#else
#define SANITIZER_RULES
#define SANITIZER_VMM_RULES
/* The threads that open nothing: glibc's malloc reads
 * /proc/sys/vm/overcommit_memory the first time a thread's arena shrinks,
 * in whichever thread that is, and does without it on an error. */
#define OPENAT_REFUSED                                                                        \
	REFUSE("openat", EACCES, "an error, not the trap: glibc's malloc asks "               \
				 "/proc/sys/vm/overcommit_memory the first time an arena "     \
				 "shrinks, and does without")
#endif

/* The VMM thread (the event loop, the controller, the devices' back ends,
 * building and restoring the VM) and its helpers: the logger, the TCG
 * timer, the backends' warm-up. */
static const struct filter_rule vmm_rules[] = {
	/* Memory. */
	ALLOW("brk", "malloc grows the main heap"),
	WITH("mmap", "malloc, guest RAM; never executable", NONE_OF(2, PROT_EXEC),
	     EQ(3, MAP_PRIVATE | MAP_ANONYMOUS)),
	WITH("mmap", "guest RAM, malloc's thread arenas: address space reserved",
	     NONE_OF(2, PROT_EXEC), EQ(3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)),
	WITH("mmap", "thread stacks", EQ(2, PROT_NONE), EQ(3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK)),
	WITH("mmap", "KVM: a vCPU's kvm_run", EQ(2, PROT_READ | PROT_WRITE), EQ(3, MAP_SHARED)),
	WITH("mmap", "a snapshot's memory file as guest RAM (the File backend)",
	     EQ(2, PROT_READ | PROT_WRITE), EQ(3, MAP_PRIVATE | MAP_NORESERVE)),
	WITH("mmap", "TCG: unicorn's translation buffer, written and run; unicorn maps it where "
		     "the software CPU's engine is made (a vCPU's creation, the self-test), on "
		     "this thread or the warm-up",
	     EQ(2, PROT_READ | PROT_WRITE | PROT_EXEC), EQ(3, MAP_PRIVATE | MAP_ANONYMOUS)),
	WITH("mprotect", "thread stacks, malloc's arenas, TCG's guard pages; never to executable",
	     NONE_OF(2, PROT_EXEC)),
	ALLOW("munmap", "free, guest RAM, thread stacks"),
	ALLOW("mremap", "realloc of a block past malloc's mmap threshold"),
	WITH("madvise", "free, a thread's end, a Uffd snapshot's discarded pages", EQ(2, MADV_DONTNEED)),
	WITH("madvise", "guest RAM is offered to KSM", EQ(2, MADV_MERGEABLE)),
	WITH("madvise", "TCG: huge pages for unicorn's translation buffer", EQ(2, MADV_HUGEPAGE)),
	ALLOW("mincore", "Debug level: how much guest RAM a VM touched"),

	/* Files: kernel, initrd, drives, snapshots, the log and metrics (paths
	 * an API request may name), /dev/kvm, /dev/net/tun, /dev/userfaultfd. */
	ALLOW("openat", "kernel, initrd, drives, snapshot files, log and metrics paths, devices"),
	ALLOW("close", "every fd the VMM lets go"),
	ALLOW("read", "eventfds, timerfds, the console, vsock, files"),
	ALLOW("write", "eventfds, the console, the log, files"),
	ALLOW("pread64", "the kernel loader, drives, snapshot files"),
	ALLOW("pwrite64", "drives, snapshot files"),
	ALLOW("preadv", "virtio-blk: reads into guest buffers"),
	ALLOW("pwritev", "virtio-blk: writes from guest buffers"),
	ALLOW("readv", "virtio-net: frames from the TAP"),
	ALLOW("writev", "virtio-net: frames to the TAP"),
	ALLOW("lseek", "drives' and snapshot files' sizes"),
	ALLOW("newfstatat", "fstat, lstat: what a file is, its size"),
	ALLOW("fsync", "virtio-blk flush; a snapshot file is on disk before its rename"),
	ALLOW("fdatasync", "virtio-blk flush"),
	ALLOW("ftruncate", "a snapshot's memory file takes its size"),
	ALLOW("fallocate", "virtio-blk discard and write-zeroes"),
	ALLOW("rename", "a snapshot file replaces the old one at once"),
	ALLOW("unlink", "temporary snapshot files, vsock's and the API's sockets"),
	FCNTL(F_GETFL, "outputs (console, log): is the fd non-blocking"),
	FCNTL(F_SETFL, "outputs: O_NONBLOCK on, and off again, where /proc cannot reopen the fd"),
	IOCTL(TCSETS, "the console: the terminal's settings back at exit (set before the filter)"),

	/* Event loops. */
	ALLOW("epoll_create1", "the virtio hub's epoll set"),
	ALLOW("epoll_ctl", "fds in and out of the VMM loop and the hub"),
	ALLOW("epoll_wait", "the VMM loop waits"),
	ALLOW("poll", "the logger waits for its buffer and its sink"),
	ALLOW("eventfd2", "wake-ups, virtio queue notifications, irqfds"),
	ALLOW("timerfd_create", "the metrics period, the console's retry"),
	ALLOW("timerfd_settime", "the metrics period, the console's retry"),

	/* Sockets: Unix only. */
	WITH("socket", "vsock's Unix sockets", EQ(0, AF_UNIX),
	     EQ(1, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC), EQ(2, 0)),
	WITH("socket", "the Uffd page-fault handler's socket", EQ(0, AF_UNIX),
	     EQ(1, SOCK_STREAM | SOCK_CLOEXEC), EQ(2, 0)),
	WITH("socket", "virtio-net: a socket for the TAP's MTU ioctls (mtu set, PUT or start)",
	     EQ(0, AF_UNIX), EQ(1, SOCK_DGRAM | SOCK_CLOEXEC), EQ(2, 0)),
	ALLOW("bind", "vsock: the listening socket"),
	ALLOW("listen", "vsock: the listening socket"),
	WITH("accept4", "vsock: a host connection", EQ(3, SOCK_NONBLOCK | SOCK_CLOEXEC)),
	ALLOW("connect", "vsock: a guest connection to a host socket; the Uffd handler"),
	ALLOW("sendto", "vsock: stream data; a socket as the log's sink"),
	ALLOW("recvfrom", "vsock: stream data"),
	ALLOW("sendmsg", "the Uffd handler gets the userfaultfd"),
	ALLOW("shutdown", "vsock: a half-closed connection"),

	/* KVM. */
	IOCTL(KVM_GET_API_VERSION, "KVM: the API version"),
	IOCTL(KVM_CHECK_EXTENSION, "KVM: capabilities, a CPU template's kvm_capabilities"),
	IOCTL(KVM_GET_VCPU_MMAP_SIZE, "KVM: kvm_run's size"),
	IOCTL(KVM_GET_SUPPORTED_CPUID, "KVM: the vCPUs' CPUID"),
	IOCTL(KVM_GET_MSR_INDEX_LIST, "KVM: the MSRs a snapshot saves; a CPU template's MSRs"),
	IOCTL(KVM_CREATE_VM, "KVM: the VM"),
	IOCTL(KVM_SET_TSS_ADDR, "KVM: the VM's TSS"),
	IOCTL(KVM_SET_IDENTITY_MAP_ADDR, "KVM: the VM's identity map"),
	IOCTL(KVM_CREATE_IRQCHIP, "KVM: PIC and I/O APIC"),
	IOCTL(KVM_CREATE_PIT2, "KVM: the PIT"),
	IOCTL(KVM_SET_USER_MEMORY_REGION, "KVM: guest RAM"),
	IOCTL(KVM_IOEVENTFD, "KVM: virtio queue notifications"),
	IOCTL(KVM_IRQFD, "KVM: virtio interrupts"),
	IOCTL(KVM_IRQ_LINE, "KVM: device interrupts (vCPU threads too)"),
	IOCTL(KVM_GET_DIRTY_LOG, "KVM: Diff snapshots"),
	IOCTL(KVM_CREATE_VCPU, "KVM: the vCPUs"),
	IOCTL(KVM_RUN, "KVM: vCPU threads run the guest; a snapshot completes a pending exit"),
	IOCTL(KVM_SET_CPUID2, "KVM: the vCPUs' CPUID (at creation; a snapshot's on restore)"),
	IOCTL(KVM_GET_MSRS, "KVM: snapshots, the TSC, a CPU template's MSRs"),
	IOCTL(KVM_SET_MSRS, "KVM: boot MSRs, a CPU template's MSRs, restore"),
	IOCTL(KVM_GET_LAPIC, "KVM: LINT0/LINT1 at boot, snapshots"),
	IOCTL(KVM_SET_LAPIC, "KVM: LINT0/LINT1 at boot, restore"),
	IOCTL(KVM_GET_FPU, "KVM: snapshots"),
	IOCTL(KVM_SET_FPU, "KVM: boot, restore"),
	IOCTL(KVM_GET_REGS, "KVM: snapshots; a fatal exit's report (vCPU threads)"),
	IOCTL(KVM_SET_REGS, "KVM: boot, restore"),
	IOCTL(KVM_GET_SREGS, "KVM: boot, snapshots"),
	IOCTL(KVM_SET_SREGS, "KVM: boot, restore"),
	IOCTL(KVM_TRANSLATE, "KVM: a fatal exit's report (vCPU threads)"),
	IOCTL(KVM_GET_XSAVE, "KVM: snapshots"),
	IOCTL(KVM_SET_XSAVE, "KVM: restore"),
	IOCTL(KVM_GET_XCRS, "KVM: snapshots"),
	IOCTL(KVM_SET_XCRS, "KVM: restore"),
	IOCTL(KVM_GET_MP_STATE, "KVM: snapshots"),
	IOCTL(KVM_SET_MP_STATE, "KVM: restore"),
	IOCTL(KVM_GET_DEBUGREGS, "KVM: snapshots"),
	IOCTL(KVM_SET_DEBUGREGS, "KVM: restore"),
	IOCTL(KVM_GET_VCPU_EVENTS, "KVM: snapshots"),
	IOCTL(KVM_SET_VCPU_EVENTS, "KVM: restore"),
	IOCTL(KVM_GET_TSC_KHZ, "KVM: the TSC rate a snapshot records"),
	IOCTL(KVM_SET_TSC_KHZ, "KVM: a restored guest's TSC rate"),
	IOCTL(KVM_KVMCLOCK_CTRL, "KVM: a restored guest's kvmclock hears it was paused"),
	IOCTL(KVM_HAS_DEVICE_ATTR, "KVM: is there a TSC offset attribute"),
	IOCTL(KVM_GET_DEVICE_ATTR, "KVM: the TSC offset (restore)"),
	IOCTL(KVM_SET_DEVICE_ATTR, "KVM: the TSC offset (restore)"),
	IOCTL(KVM_GET_IRQCHIP, "KVM: snapshots"),
	IOCTL(KVM_SET_IRQCHIP, "KVM: restore"),
	IOCTL(KVM_GET_PIT2, "KVM: snapshots"),
	IOCTL(KVM_SET_PIT2, "KVM: restore"),
	IOCTL(KVM_GET_CLOCK, "KVM: snapshots"),
	IOCTL(KVM_SET_CLOCK, "KVM: restore"),

	/* TAP, userfaultfd. */
	IOCTL(TUNSETIFF, "virtio-net: the TAP"),
	IOCTL(TUNSETVNETHDRSZ, "virtio-net: the TAP's vnet header size"),
	IOCTL(TUNSETOFFLOAD, "virtio-net: the offloads the driver took"),
	IOCTL(SIOCGIFMTU, "virtio-net: the TAP's MTU, left alone when it is the one asked for"),
	IOCTL(SIOCSIFMTU, "virtio-net: the TAP takes the interface's mtu"),
	IOCTL(USERFAULTFD_IOC_NEW, "Uffd snapshots: a userfaultfd from /dev/userfaultfd"),
	ALLOW("userfaultfd", "Uffd snapshots: a userfaultfd where /dev/userfaultfd is missing"),
	IOCTL(UFFDIO_API, "Uffd snapshots: the userfaultfd's features"),
	IOCTL(UFFDIO_REGISTER, "Uffd snapshots: guest RAM registered"),

	/* Threads: made, named, confined, waiting, kicked, ended. */
	REFUSE("clone3", ENOSYS, "glibc falls back to clone, whose flags a filter can see"),
	WITH("clone", "new threads: vCPUs, the TCG timer, the logger",
	     EQ64(0, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
			   CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)),
	ALLOW("set_robust_list", "a new thread starts (glibc)"),
	ALLOW("rseq", "a new thread starts (glibc)"),
	WITH("prctl", "a new thread names itself", EQ(0, PR_SET_NAME)),
	WITH("prctl", "seccomp_enter: the thread's name, for the reporter", EQ(0, PR_GET_NAME)),
	WITH("prctl", "seccomp_enter: did the thread inherit a filter", EQ(0, PR_GET_SECCOMP)),
	WITH("seccomp", "a vCPU thread adds its filter to the one it inherits",
	     EQ(0, SECCOMP_SET_MODE_FILTER), EQ(1, 0)),
	FUTEX(FUTEX_WAIT_PRIVATE, "a mutex held elsewhere"),
	FUTEX(FUTEX_WAKE_PRIVATE, "mutexes, condition variables"),
	FUTEX(FUTEX_WAIT_BITSET_PRIVATE, "condition variables on the monotonic clock (TCG timer)"),
	FUTEX(FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, "condition variables with a deadline"),
	FUTEX(FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, "pthread_join"),
	WITH("rt_sigaction", "KVM: the kick signal's handler", SIGRT(0, 0, "KVM_KICK_SIGNAL")),
	ALLOW("getpid", "pthread_kill"),
	WITH("tgkill", "KVM: a vCPU kicked out of KVM_RUN", SIGRT(2, 0, "KVM_KICK_SIGNAL")),
	ALLOW("rt_sigreturn", "a signal handler returns (SIGTERM, SIGINT, SIGHUP; the kick)"),
	ALLOW("restart_syscall", "the kernel resumes a timed wait after SIGSTOP/SIGCONT"),
	THREAD_END_RULES,
	ALLOW("exit_group", "the process ends"),

	/* The rest. */
	ALLOW("getrandom", "virtio-rng"),
	WITH("clock_gettime", "the process's CPU time (metrics, the boot timer): no vDSO for it",
	     EQ(0, CLOCK_PROCESS_CPUTIME_ID)),
	WITH("prlimit64", "vsock: its connection cap from the fd limit (read only)", EQ(2, 0)),
	SANITIZER_RULES
	SANITIZER_VMM_RULES
};

/* The API thread: libmicrohttpd's rounds, the deadlines, the hand-over to
 * the VMM thread (api/server.c). */
static const struct filter_rule api_rules[] = {
	ALLOW("poll", "the thread waits for libmicrohttpd's epoll set and its stop eventfd"),
	ALLOW("epoll_wait", "libmicrohttpd: which connections are ready"),
	ALLOW("epoll_ctl", "libmicrohttpd: connections in and out of its epoll set"),
	WITH("accept4", "libmicrohttpd: a new connection", EQ(3, SOCK_NONBLOCK | SOCK_CLOEXEC)),
	ALLOW("recvfrom", "libmicrohttpd: a request"),
	ALLOW("sendto", "libmicrohttpd: a reply; a socket as the log's sink"),
	ALLOW("sendmsg", "libmicrohttpd: a reply's header and body together"),
	ALLOW("shutdown", "libmicrohttpd: a connection ends"),
	ALLOW("close", "libmicrohttpd: a connection ends"),
	IOCTL(FIONREAD, "the request deadline: has a connection sent bytes yet"),
	ALLOW("write", "the eventfd to the VMM thread; the log"),
	FUTEX(FUTEX_WAIT_PRIVATE, "a mutex held elsewhere"),
	FUTEX(FUTEX_WAKE_PRIVATE, "mutexes, condition variables"),
	FUTEX(FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, "the VMM thread's reply"),
	WITH("mmap", "malloc, libmicrohttpd's connection pools; never executable",
	     NONE_OF(2, PROT_EXEC), EQ(3, MAP_PRIVATE | MAP_ANONYMOUS)),
	WITH("mmap", "malloc: the thread's arena reserves address space", EQ(2, PROT_NONE),
	     EQ(3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)),
	WITH("mprotect", "malloc: the thread's arena grows", EQ(2, PROT_READ | PROT_WRITE)),
	ALLOW("munmap", "free gives memory back"),
	ALLOW("brk", "malloc, when the thread shares the main arena"),
	OPENAT_REFUSED,
	ALLOW("restart_syscall", "the kernel resumes a timed wait after SIGSTOP/SIGCONT"),
	THREAD_END_RULES,
	SANITIZER_RULES
};

/* What both backends' vCPU threads make: a guest's device access runs the
 * device's code on this thread (an interrupt, a word to the VMM thread, a
 * log line, the boot timer). */
#define VCPU_COMMON_RULES                                                                     \
	ALLOW("write", "eventfds to the VMM thread (a device's request, the end); the log"),  \
	FUTEX(FUTEX_WAIT_PRIVATE, "mutexes: buses, devices, the run gate"),                   \
	FUTEX(FUTEX_WAKE_PRIVATE, "mutexes, condition variables"),                            \
	FUTEX(FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME,                               \
	      "condition variables: a paused vCPU, HLT on the software CPU"),                 \
	WITH("clock_gettime", "the boot timer: the process's CPU time at the guest's write",  \
	     EQ(0, CLOCK_PROCESS_CPUTIME_ID)),                                                 \
	WITH("mmap", "malloc: the thread's arena reserves address space", EQ(2, PROT_NONE),   \
	     EQ(3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)),                             \
	WITH("mprotect", "malloc: the thread's arena grows", EQ(2, PROT_READ | PROT_WRITE)),  \
	ALLOW("munmap", "free gives memory back"),                                                              \
	ALLOW("brk", "malloc, when the thread shares the main arena"),                        \
	OPENAT_REFUSED,                                                                       \
	ALLOW("restart_syscall", "the kernel resumes a timed wait after SIGSTOP/SIGCONT"),    \
	THREAD_END_RULES

/* A vCPU thread on KVM: KVM_RUN and the exits' device calls. */
static const struct filter_rule vcpu_kvm_rules[] = {
	IOCTL(KVM_RUN, "run the guest"),
	IOCTL(KVM_IRQ_LINE, "a legacy device the guest drives (the UART) raises or lowers its line"),
	IOCTL(KVM_GET_REGS, "a fatal exit's report: RIP"),
	IOCTL(KVM_TRANSLATE, "a fatal exit's report: the code bytes at RIP"),
	ALLOW("rt_sigreturn", "the kick signal's handler returns, and KVM_RUN with EINTR"),
	VCPU_COMMON_RULES,
	SANITIZER_RULES
};

/* A vCPU thread on the software CPU: unicorn runs the guest in this
 * thread's own code, so no KVM, and no signals (a kick goes through QEMU's
 * interrupt request); unicorn allocates as it translates. Its translation
 * buffer is executable, but unicorn maps it where the engine is made, on
 * the VMM thread (tcg_vcpu_create), and writes into it without another
 * system call: no PROT_EXEC here either. */
static const struct filter_rule vcpu_tcg_rules[] = {
	WITH("mmap", "malloc: unicorn's large allocations; never executable", NONE_OF(2, PROT_EXEC),
	     EQ(3, MAP_PRIVATE | MAP_ANONYMOUS)),
	VCPU_COMMON_RULES,
	SANITIZER_RULES
};

#define TRAP { ACT_TRAP, 0 }
#define ALLOWED { ACT_ALLOW, 0 }

void filters_builtin(struct filter_set *out)
{
	*out = (struct filter_set){
		.kind = {
			[THREAD_VMM] = { TRAP, ALLOWED, vmm_rules, ARRAY_LEN(vmm_rules) },
			[THREAD_API] = { TRAP, ALLOWED, api_rules, ARRAY_LEN(api_rules) },
			[THREAD_VCPU_KVM] = { TRAP, ALLOWED, vcpu_kvm_rules, ARRAY_LEN(vcpu_kvm_rules) },
			[THREAD_VCPU_TCG] = { TRAP, ALLOWED, vcpu_tcg_rules, ARRAY_LEN(vcpu_tcg_rules) },
		},
	};
}
