/* The process's seccomp table, the thread's entry into its filter and the
 * SIGSYS reporter. See seccomp.h for why the table is process-wide. */
#include "runtime/base/seccomp.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "runtime/base/log.h"

/* Written once by main before any thread exists, read-only afterwards. */
static struct seccomp_bpf seccomp_table[THREAD_KINDS];
static const char *const *seccomp_names;
static size_t seccomp_nnames;
static bool seccomp_on;

/* The calling thread's kind and name, noted by seccomp_enter for the
 * reporter, which must not make system calls to find them. */
static __thread int thread_kind_now = -1;
static __thread char thread_name_now[16];

/* siginfo's si_code for a seccomp trap (asm-generic/siginfo.h, which
 * clashes with glibc's signal.h). */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

static const char *const kind_keys[THREAD_KINDS] = {
	[THREAD_VMM] = "vmm",
	[THREAD_API] = "api",
	[THREAD_VCPU_KVM] = "vcpu",
	[THREAD_VCPU_TCG] = "vcpu_tcg",
};

const char *thread_kind_key(enum thread_kind kind)
{
	return (unsigned)kind < THREAD_KINDS ? kind_keys[kind] : "?";
}

bool seccomp_enabled(void)
{
	return seccomp_on;
}

/* The reporter's line, built without snprintf (a signal handler may only
 * use async-signal-safe calls). */
struct sig_line {
	char buf[320];
	size_t n;
};

static void line_put(struct sig_line *l, const char *s)
{
	while (s && *s && l->n < sizeof(l->buf) - 1)
		l->buf[l->n++] = *s++;
}

static void line_hex(struct sig_line *l, unsigned long long v)
{
	char d[24];
	size_t i = sizeof(d);
	d[--i] = 0;
	do {
		d[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v && i > 3);
	d[--i] = 'x';
	d[--i] = '0';
	line_put(l, d + i);
}

static void line_num(struct sig_line *l, long v)
{
	char d[24];
	size_t i = sizeof(d);
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
	d[--i] = 0;
	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u && i > 1);
	if (v < 0)
		d[--i] = '-';
	line_put(l, d + i);
}

/* A filter refused a call with the trap action (the built-in filters' way
 * of refusing): one line on stderr, then the process dies by SIGSYS as
 * SECCOMP_RET_KILL_PROCESS would have ended it. SA_RESETHAND has put
 * SIGSYS back to its default action and it is blocked in here, so making
 * the refused call again (it is refused again, the filter being a pure
 * function of the call) makes the kernel force the default action: the
 * whole process ends by SIGSYS, with a core dump where enabled. The line
 * goes to stderr only: the log file's descriptor may change under a
 * running handler, and the log's queue takes locks. */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	struct sig_line l = { .n = 0 };
	int from_filter = si->si_code == SYS_SECCOMP;
	line_put(&l, "[");
	line_put(&l, log_get_id());
	line_put(&l, ":seccomp] ");
	if (from_filter) {
		int nr = si->si_syscall;
		line_put(&l, "thread ");
		line_put(&l, thread_name_now[0] ? thread_name_now : "?");
		line_put(&l, " (");
		line_put(&l, thread_kind_now >= 0 ? kind_keys[thread_kind_now] : "inherited");
		line_put(&l, " filter) made system call ");
		line_num(&l, nr);
		if (nr >= 0 && (size_t)nr < seccomp_nnames && seccomp_names[nr]) {
			line_put(&l, " (");
			line_put(&l, seccomp_names[nr]);
			line_put(&l, ")");
		}
#if defined(__x86_64__)
		/* Its arguments: which ioctl, which flags. */
		const greg_t *g = ((const ucontext_t *)ctx)->uc_mcontext.gregs;
		const int regs[] = { REG_RDI, REG_RSI, REG_RDX, REG_R10 };
		line_put(&l, " with arguments ");
		for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
			line_put(&l, i ? ", " : "");
			line_hex(&l, (unsigned long long)g[regs[i]]);
		}
		line_put(&l, ", ...");
#endif
		line_put(&l, ", which its filter does not allow: the process ends (SIGSYS)\n");
	} else {
		line_put(&l, "SIGSYS sent by another process: the process ends\n");
	}
	ssize_t w = write(STDERR_FILENO, l.buf, l.n);
	(void)w;
#if defined(__x86_64__)
	if (from_filter) {
		const greg_t *g = ((const ucontext_t *)ctx)->uc_mcontext.gregs;
		syscall(si->si_syscall, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8],
			g[REG_R9]);
	}
#else
	(void)ctx;
#endif
	/* Not from a filter (or not refused again): raise it once more; it is
	 * delivered, at its default action now, when the handler returns. */
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
}

int seccomp_set_filters(const struct seccomp_bpf filters[THREAD_KINDS],
			const char *const *names, size_t nnames)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO | SA_RESETHAND };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	memcpy(seccomp_table, filters, sizeof(seccomp_table));
	seccomp_names = names;
	seccomp_nnames = names ? nnames : 0;
	seccomp_on = true;
	return 0;
}

void seccomp_enter(enum thread_kind kind)
{
	if (!seccomp_on || (unsigned)kind >= THREAD_KINDS)
		return;
	const struct seccomp_bpf *f = &seccomp_table[kind];
	/* Both prctl calls are in the VMM list: a thread that inherited the
	 * VMM filter makes them under it. */
	prctl(PR_GET_NAME, thread_name_now, 0, 0, 0);
	int inherited = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == SECCOMP_MODE_FILTER;
	thread_kind_now = (int)kind;
	if (!f->len || (inherited && kind == THREAD_VMM))
		return;
	/* A trap must reach the reporter: the logger and warm-up threads
	 * start with every signal blocked. */
	sigset_t sys;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	struct sock_fprog prog = { .len = f->len, .filter = f->insns };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		int e = errno;
		log_err("seccomp: thread %s cannot install the %s filter: %s; ending the process",
			thread_name_now, kind_keys[kind], strerror(e));
		log_flush(200);
		_exit(1);
	}
}
