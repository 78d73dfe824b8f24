/* Filters to BPF with libseccomp, once at start-up; the threads install
 * the programs themselves (runtime/base/seccomp.c), so no libseccomp call
 * and no allocation happens on a thread's way into its filter. */
#include "runtime/seccomp/filters.h"

#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t scmp_action(struct filter_action a)
{
	switch (a.act) {
	case ACT_ALLOW: return SCMP_ACT_ALLOW;
	case ACT_ERRNO: return SCMP_ACT_ERRNO(a.value);
	case ACT_KILL_THREAD: return SCMP_ACT_KILL_THREAD;
	case ACT_KILL_PROCESS: return SCMP_ACT_KILL_PROCESS;
	case ACT_LOG: return SCMP_ACT_LOG;
	case ACT_TRACE: return SCMP_ACT_TRACE(a.value);
	case ACT_TRAP: return SCMP_ACT_TRAP;
	}
	return SCMP_ACT_KILL_PROCESS;
}

static struct scmp_arg_cmp arg_cmp(const struct filter_arg *a)
{
	uint64_t v = a->sigrt ? (uint64_t)(SIGRTMIN + (int)a->val) : a->val;
	struct scmp_arg_cmp c = { .arg = a->index, .datum_a = v };
	switch (a->op) {
	case OP_EQ:
		if (!a->qword) {
			/* The low half only, as the kernel reads an int. */
			c.op = SCMP_CMP_MASKED_EQ;
			c.datum_a = 0xffffffffULL;
			c.datum_b = v;
		} else {
			c.op = SCMP_CMP_EQ;
		}
		break;
	case OP_NE: c.op = SCMP_CMP_NE; break;
	case OP_LT: c.op = SCMP_CMP_LT; break;
	case OP_LE: c.op = SCMP_CMP_LE; break;
	case OP_GT: c.op = SCMP_CMP_GT; break;
	case OP_GE: c.op = SCMP_CMP_GE; break;
	case OP_MASKED_EQ:
		c.op = SCMP_CMP_MASKED_EQ;
		c.datum_a = a->mask;
		c.datum_b = v;
		break;
	case OP_NONE: break;
	}
	return c;
}

/* libseccomp 2.5 exports to a file descriptor only. */
static int export_bpf(scmp_filter_ctx ctx, struct seccomp_bpf *out, struct errbuf *err)
{
	int fd = memfd_create("ember-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "memfd_create: %s", strerror(errno));
	int rc = seccomp_export_bpf(ctx, fd);
	struct stat st;
	if (rc < 0) {
		err_set(err, rc, "libseccomp could not export the filter: %s", strerror(-rc));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = err_set(err, -errno, "fstat: %s", strerror(errno));
		goto out;
	}
	size_t n = (size_t)st.st_size / sizeof(struct sock_filter);
	if (n == 0 || n > BPF_MAXINSNS) {
		rc = err_set(err, -E2BIG, "compiles to %zu BPF instructions; the kernel takes at most %d",
			     n, BPF_MAXINSNS);
		goto out;
	}
	out->insns = malloc(n * sizeof(struct sock_filter));
	if (!out->insns) {
		rc = err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (pread(fd, out->insns, n * sizeof(struct sock_filter), 0) !=
	    (ssize_t)(n * sizeof(struct sock_filter))) {
		free(out->insns);
		out->insns = NULL;
		rc = err_set(err, -EIO, "reading the exported filter back failed");
		goto out;
	}
	out->len = (unsigned short)n;
	rc = 0;
out:
	close(fd);
	return rc;
}

static int add_rule(scmp_filter_ctx ctx, const struct thread_filter *f, size_t i,
		    struct errbuf *err)
{
	const struct filter_rule *r = &f->rules[i];
	int nr = seccomp_syscall_resolve_name(r->syscall);
	if (nr == __NR_SCMP_ERROR)
		return err_set(err, -EINVAL, "filter[%zu]: unknown system call \"%s\"", i, r->syscall);
	if (nr < 0)
		return err_set(err, -EINVAL, "filter[%zu]: \"%s\" is not a system call on this architecture",
			       i, r->syscall);
	struct scmp_arg_cmp cmp[FILTER_MAX_ARGS];
	unsigned n = 0;
	while (n < FILTER_MAX_ARGS && r->args[n].op != OP_NONE) {
		cmp[n] = arg_cmp(&r->args[n]);
		n++;
	}
	struct filter_action act = r->has_action ? r->action : f->filter_action;
	int rc = seccomp_rule_add_exact_array(ctx, scmp_action(act), nr, n, cmp);
	if (rc == -EACCES)
		return err_set(err, -EINVAL, "filter[%zu] (%s): its action is the default action",
			       i, r->syscall);
	if (rc < 0)
		return err_set(err, -EINVAL, "filter[%zu] (%s): libseccomp refused the rule: %s", i,
			       r->syscall, strerror(-rc));
	return 0;
}

int filters_compile(const struct thread_filter *f, struct seccomp_bpf *out, struct errbuf *err)
{
	*out = (struct seccomp_bpf){ NULL, 0 };
	scmp_filter_ctx ctx = seccomp_init(scmp_action(f->default_action));
	if (!ctx)
		return err_set(err, -ENOMEM, "libseccomp: cannot create a filter");
	int rc = 0;
	/* no_new_privs is main's business (seccomp_set_filters), once. A call
	 * through another ABI (x32, i386's int 0x80) is an attack: killed. A
	 * binary tree keeps a long list cheap to walk. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0) {
		rc = err_set(err, -EINVAL, "libseccomp: cannot set the filter's attributes");
		goto out;
	}
	for (size_t i = 0; i < f->nrules && rc == 0; i++)
		rc = add_rule(ctx, f, i, err);
	if (rc == 0)
		rc = export_bpf(ctx, out, err);
out:
	seccomp_release(ctx);
	return rc;
}

/* The reporter's names, kept for the process's life. */
#define NAMES_MAX 512
static const char *syscall_names[NAMES_MAX];

int filters_install(const struct filter_set *set, struct errbuf *err)
{
	struct seccomp_bpf bpf[THREAD_KINDS] = { { NULL, 0 } };
	int rc = 0;
	for (unsigned k = 0; k < THREAD_KINDS && rc == 0; k++) {
		rc = filters_compile(&set->kind[k], &bpf[k], err);
		if (rc < 0) {
			/* "vmm.filter[3]: ..." as the parser names places. */
			char msg[sizeof(err->msg)];
			snprintf(msg, sizeof(msg), "%s", err->msg);
			err_set(err, rc, "%s%s%s", thread_kind_key(k),
				strncmp(msg, "filter[", 7) == 0 ? "." : ": ", msg);
		}
	}
	if (rc == 0) {
		for (int nr = 0; nr < NAMES_MAX; nr++)
			if (!syscall_names[nr])
				syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		rc = seccomp_set_filters(bpf, syscall_names, NAMES_MAX);
		if (rc < 0)
			err_set(err, rc, "cannot set up seccomp: %s", strerror(-rc));
	}
	if (rc < 0)
		for (unsigned k = 0; k < THREAD_KINDS; k++)
			free(bpf[k].insns);
	return rc;
}

size_t filters_count_calls(const struct thread_filter *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->nrules; i++) {
		size_t j = 0;
		while (j < i && strcmp(f->rules[j].syscall, f->rules[i].syscall) != 0)
			j++;
		n += j == i;
	}
	return n;
}
