/* Seccomp in this process: the compiled filter of each thread kind and
 * the call with which a thread confines itself (docs/seccomp.md).
 *
 * The table is process-wide on purpose. The filters are a property of the
 * process, chosen once from the command line (built in, --seccomp-filter
 * or --no-seccomp) by main before any thread starts, and read-only from
 * then on, so reading it needs no lock. The threads that must confine
 * themselves start deep inside the layers (the logger here in base, the
 * TCG timer and the warm-up in runtime/backend, the vCPUs in runtime/vm,
 * the API in api/); a table they all reach spares every layer between main
 * and them a parameter they would only pass on. With no table set (unit
 * tests, fuzz targets, --no-seccomp) seccomp_enter does nothing.
 *
 * What the filters say lives in runtime/seccomp/ (the lists and their
 * reasons, the Firecracker-format parser, the compiler), which only main
 * includes; this file knows only compiled BPF. */
#ifndef EMBER_SECCOMP_H
#define EMBER_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

/* Firecracker's three thread categories; the vCPU one in two flavours,
 * since the backends' vCPU threads make different calls (a custom filter
 * file's "vcpu" serves both). */
enum thread_kind {
	THREAD_VMM,      /* the VMM (main) thread and its helpers: logger, TCG timer, warm-up */
	THREAD_API,      /* the API server thread */
	THREAD_VCPU_KVM, /* a vCPU thread on KVM */
	THREAD_VCPU_TCG, /* a vCPU thread on the software CPU */
	THREAD_KINDS,
};

/* "vmm", "api", "vcpu", "vcpu_tcg": the filter file's key for the kind. */
const char *thread_kind_key(enum thread_kind kind);

/* One compiled filter (classic BPF, at most BPF_MAXINSNS instructions);
 * len 0: the kind runs unfiltered. */
struct seccomp_bpf {
	struct sock_filter *insns;
	unsigned short len;
};

/* main, once, before any thread starts. Takes the programs (kept for the
 * process's life), sets no_new_privs (required to install a filter
 * without CAP_SYS_ADMIN; the jailer sets it too) and installs the SIGSYS
 * reporter. names[nr] (nnames entries, NULL where unknown) names system
 * calls in the reporter's line; it must outlive the process's threads.
 * Returns 0 or -errno (the table is then left unset). */
int seccomp_set_filters(const struct seccomp_bpf filters[THREAD_KINDS],
			const char *const *names, size_t nnames);
/* Whether seccomp_set_filters ran: filters are on. */
bool seccomp_enabled(void);

/* Confines the calling thread to its kind's filter; every thread calls it
 * before it handles guest or API input. Filters stack and are inherited by
 * threads created later: a thread started by an already confined VMM
 * thread (a vCPU, the TCG timer) runs under the VMM filter and adds its
 * own, so the VMM list allows what those threads need (runtime/seccomp/).
 * A VMM-kind thread that inherited the VMM filter adds nothing. Does
 * nothing when no table is set. A thread that cannot confine itself must
 * not go on: the process ends with a one-line error (exit status 1). */
void seccomp_enter(enum thread_kind kind);

#endif
