/* Unit tests for seccomp: Firecracker's filter format (runtime/seccomp/
 * json.c), the built-in lists (lists.c), compiling (compile.c), and that an
 * installed filter really refuses a call (runtime/base/seccomp.c) - in a
 * forked child, since a filter cannot be taken off again. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/base/seccomp.h"
#include "runtime/seccomp/filters.h"

/* A well-formed document: {"vmm": F, "api": F, "vcpu": F} with F given. */
#define DOC3(f) "{\"vmm\": " f ", \"api\": " f ", \"vcpu\": " f "}"
#define OK_FILTER "{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": []}"

static void expect_place(const char *json, const char *frag)
{
	struct filter_set set;
	struct errbuf err = { "" };
	cr_assert_eq(filters_parse(json, strlen(json), &set, &err), -EINVAL,
		     "accepted: %s (want \"%s\")", json, frag);
	cr_assert(strstr(err.msg, frag), "error \"%s\" lacks \"%s\"\nfor %s", err.msg, frag, json);
	cr_assert_null(strchr(err.msg, '\n'), "not one line: %s", err.msg);
	cr_assert_null(set.owned, "a refused document leaves nothing allocated");
}

/* A rule in the vmm filter; the others well-formed. */
#define RULE(r)                                                                              \
	"{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [" r \
	"]}, \"api\": " OK_FILTER ", \"vcpu\": " OK_FILTER "}"
#define ARG(a) RULE("{\"syscall\": \"ioctl\", \"args\": [" a "]}")

Test(seccomp_json, every_malformed_document_names_its_place)
{
	expect_place("{\"vmm\": ", "not valid JSON at line 1");
	expect_place("[]", "must be an object with the keys \"vmm\", \"api\" and \"vcpu\" (got an array)");
	expect_place("{\"vmm\": " OK_FILTER ", \"api\": " OK_FILTER ", \"vcpu\": " OK_FILTER
		     ", \"vmx\": " OK_FILTER "}",
		     "\"vmx\": not a thread kind");
	expect_place("{\"vmm\": " OK_FILTER ", \"api\": " OK_FILTER "}", "vcpu: missing");
	expect_place("{\"vmm\": " OK_FILTER ", \"vmm\": " OK_FILTER "}", "not valid JSON");
	expect_place("{\"vmm\": 3, \"api\": " OK_FILTER ", \"vcpu\": " OK_FILTER "}",
		     "vmm: must be an object (got an integer)");
	expect_place(DOC3("{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filters\": []}"),
		     "vmm: unknown key \"filters\"");
	expect_place(DOC3("{\"filter_action\": \"allow\", \"filter\": []}"),
		     "vmm.default_action: missing");
	expect_place(DOC3("{\"default_action\": \"kill\", \"filter_action\": \"allow\", \"filter\": []}"),
		     "vmm.default_action: must be one of \"allow\", \"kill_thread\", \"kill_process\", "
		     "\"log\", \"trap\", {\"errno\": N} or {\"trace\": N} (got \"kill\")");
	expect_place(DOC3("{\"default_action\": {\"errno\": 5000}, \"filter_action\": \"allow\", \"filter\": []}"),
		     "vmm.default_action.errno: must be an integer from 0 to 4095");
	expect_place(DOC3("{\"default_action\": \"trap\", \"filter_action\": {\"trace\": -1}, \"filter\": []}"),
		     "vmm.filter_action.trace: must be an integer from 0 to 65535");
	expect_place(DOC3("{\"default_action\": \"trap\", \"filter_action\": {\"stop\": 1}, \"filter\": []}"),
		     "vmm.filter_action: must be one of");
	expect_place(DOC3("{\"default_action\": \"trap\", \"filter_action\": \"allow\"}"),
		     "vmm.filter: missing");
	expect_place(DOC3("{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": {}}"),
		     "vmm.filter: must be an array (got an object)");
	expect_place(RULE("{\"syscall\": \"read\"}, 7"), "vmm.filter[1]: must be an object (got an integer)");
	expect_place(RULE("{\"comment\": \"no name\"}"), "vmm.filter[0].syscall: missing");
	expect_place(RULE("{\"syscall\": 0}"), "vmm.filter[0].syscall: must be a string");
	expect_place(RULE("{\"syscall\": \"read\"}, {\"syscall\": \"forkk\"}"),
		     "vmm.filter[1].syscall: unknown system call \"forkk\"");
	expect_place(RULE("{\"syscall\": \"ioctl\", \"arg\": []}"), "vmm.filter[0]: unknown key \"arg\"");
	expect_place(RULE("{\"syscall\": \"ioctl\", \"args\": {}}"), "vmm.filter[0].args: must be an array");
	expect_place(RULE("{\"syscall\": \"read\", \"comment\": 1}"),
		     "vmm.filter[0].comment: must be a string");
	expect_place(RULE("{\"syscall\": \"read\", \"action\": \"stop\"}"),
		     "vmm.filter[0].action: must be one of");
	expect_place(ARG("1"), "vmm.filter[0].args[0]: must be an object");
	expect_place(ARG("{\"index\": 1, \"type\": \"dword\", \"op\": \"eq\", \"val\": 1, \"value\": 2}"),
		     "vmm.filter[0].args[0]: unknown key \"value\"");
	expect_place(ARG("{\"type\": \"dword\", \"op\": \"eq\", \"val\": 1}"),
		     "vmm.filter[0].args[0].index: missing");
	expect_place(ARG("{\"index\": 6, \"type\": \"dword\", \"op\": \"eq\", \"val\": 1}"),
		     "vmm.filter[0].args[0].index: must be an integer from 0 to 5");
	expect_place(ARG("{\"index\": 1, \"op\": \"eq\", \"val\": 1}"),
		     "vmm.filter[0].args[0].type: missing");
	expect_place(ARG("{\"index\": 1, \"type\": \"word\", \"op\": \"eq\", \"val\": 1}"),
		     "vmm.filter[0].args[0].type: must be \"dword\" or \"qword\" (got \"word\")");
	expect_place(ARG("{\"index\": 1, \"type\": \"dword\", \"val\": 1}"),
		     "vmm.filter[0].args[0].op: missing");
	expect_place(ARG("{\"index\": 1, \"type\": \"dword\", \"op\": \"equals\", \"val\": 1}"),
		     "vmm.filter[0].args[0].op: must be one of \"eq\", \"ne\", \"lt\", \"le\", \"gt\", \"ge\" or "
		     "{\"masked_eq\": MASK} (got \"equals\")");
	expect_place(ARG("{\"index\": 1, \"type\": \"dword\", \"op\": {\"masked_eq\": -4}, \"val\": 0}"),
		     "vmm.filter[0].args[0].op.masked_eq: must be an integer from 0 to 4294967295");
	expect_place(ARG("{\"index\": 1, \"type\": \"dword\", \"op\": \"eq\"}"),
		     "vmm.filter[0].args[0].val: missing");
	expect_place(ARG("{\"index\": 1, \"type\": \"dword\", \"op\": \"eq\", \"val\": 4294967296}"),
		     "vmm.filter[0].args[0].val: must be an integer from 0 to 4294967295");
	expect_place(ARG("{\"index\": 1, \"type\": \"qword\", \"op\": \"eq\", \"val\": 1.5}"),
		     "vmm.filter[0].args[0].val: must be an integer");
	expect_place(ARG("{\"index\": 1, \"type\": \"qword\", \"op\": \"eq\", \"val\": 1, \"comment\": []}"),
		     "vmm.filter[0].args[0].comment: must be a string");
	const char *a = "{\"index\": 0, \"type\": \"dword\", \"op\": \"eq\", \"val\": 1}";
	char many[1024];
	snprintf(many, sizeof(many), RULE("{\"syscall\": \"ioctl\", \"args\": [%s, %s, %s, %s, %s, %s, %s]}"),
		 a, a, a, a, a, a, a);
	expect_place(many, "vmm.filter[0].args: at most 6 conditions (got 7)");
	/* The place is named in api's and vcpu's filters too. */
	expect_place("{\"vmm\": " OK_FILTER ", \"api\": {\"default_action\": \"trap\", \"filter_action\": "
		     "\"allow\", \"filter\": [{\"syscall\": \"nope\"}]}, \"vcpu\": " OK_FILTER "}",
		     "api.filter[0].syscall: unknown system call \"nope\"");
	expect_place("{\"vmm\": " OK_FILTER ", \"api\": " OK_FILTER ", \"vcpu\": " OK_FILTER
		     ", \"vcpu_tcg\": {\"default_action\": \"trap\"}}",
		     "vcpu_tcg.filter_action: missing");
}

/* Firecracker's shape: comments at every level, masked_eq, errno. */
static const char fc_style[] =
	"{\n"
	"  \"vmm\": {\n"
	"    \"default_action\": \"trap\", \"filter_action\": \"allow\",\n"
	"    \"filter\": [\n"
	"      {\"syscall\": \"read\"},\n"
	"      {\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", \"op\": \"eq\",\n"
	"        \"val\": 44672, \"comment\": \"KVM_RUN\"}], \"comment\": \"vCPUs\"},\n"
	"      {\"syscall\": \"mmap\", \"args\": [\n"
	"        {\"index\": 2, \"type\": \"dword\", \"op\": {\"masked_eq\": 4}, \"val\": 0},\n"
	"        {\"index\": 3, \"type\": \"dword\", \"op\": \"eq\", \"val\": 34}]}\n"
	"    ]\n"
	"  },\n"
	"  \"api\": {\"default_action\": {\"errno\": 1}, \"filter_action\": \"allow\",\n"
	"          \"filter\": [{\"syscall\": \"futex\", \"args\": [{\"index\": 1, \"type\": \"qword\",\n"
	"          \"op\": \"le\", \"val\": 137}]}]},\n"
	"  \"vcpu\": {\"default_action\": \"kill_process\", \"filter_action\": \"log\", \"filter\": [\n"
	"      {\"syscall\": \"getpid\"}, {\"syscall\": \"write\", \"action\": {\"errno\": 9}}]}\n"
	"}\n";

Test(seccomp_json, firecracker_style_document)
{
	struct filter_set set;
	struct errbuf err = { "" };
	cr_assert_eq(filters_parse(fc_style, strlen(fc_style), &set, &err), 0, "%s", err.msg);
	const struct thread_filter *vmm = &set.kind[THREAD_VMM];
	cr_assert_eq(vmm->nrules, 3);
	cr_assert_eq(vmm->default_action.act, ACT_TRAP);
	cr_assert_str_eq(vmm->rules[1].syscall, "ioctl");
	cr_assert_eq(vmm->rules[1].args[0].op, OP_EQ);
	cr_assert_eq(vmm->rules[1].args[0].val, KVM_RUN);
	cr_assert_not(vmm->rules[1].args[0].qword);
	cr_assert_str_eq(vmm->rules[1].args[0].comment, "KVM_RUN");
	cr_assert_eq(vmm->rules[1].args[1].op, OP_NONE);
	cr_assert_eq(vmm->rules[2].args[0].op, OP_MASKED_EQ);
	cr_assert_eq(vmm->rules[2].args[0].mask, 4);
	cr_assert_eq(set.kind[THREAD_API].default_action.act, ACT_ERRNO);
	cr_assert_eq(set.kind[THREAD_API].default_action.value, 1);
	cr_assert(set.kind[THREAD_API].rules[0].args[0].qword);
	cr_assert_eq(set.kind[THREAD_VCPU_KVM].filter_action.act, ACT_LOG);
	cr_assert(set.kind[THREAD_VCPU_KVM].rules[1].has_action);
	cr_assert_eq(set.kind[THREAD_VCPU_KVM].rules[1].action.value, 9);
	/* Without a vcpu_tcg key, "vcpu" serves the software CPU's threads. */
	cr_assert_eq(set.kind[THREAD_VCPU_TCG].rules, set.kind[THREAD_VCPU_KVM].rules);
	for (unsigned k = 0; k < THREAD_KINDS; k++) {
		struct seccomp_bpf bpf;
		cr_assert_eq(filters_compile(&set.kind[k], &bpf, &err), 0, "%s: %s",
			     thread_kind_key(k), err.msg);
		cr_assert_gt(bpf.len, 0);
		free(bpf.insns);
	}
	filters_free(&set);
}

Test(seccomp_json, file_errors_start_with_the_path)
{
	struct filter_set set;
	struct errbuf err = { "" };
	cr_assert_lt(filters_load_file("/nonexistent/filter.json", &set, &err), 0);
	cr_assert(strstr(err.msg, "/nonexistent/filter.json: No such file"), "%s", err.msg);
	char path[] = "/tmp/ember-seccomp-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	const char *doc = RULE("{\"syscall\": \"bogus\"}");
	cr_assert_eq(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
	close(fd);
	cr_assert_eq(filters_load_file(path, &set, &err), -EINVAL);
	cr_assert(strstr(err.msg, path) == err.msg, "%s", err.msg);
	cr_assert(strstr(err.msg, ": vmm.filter[0].syscall: unknown system call \"bogus\""), "%s", err.msg);
	unlink(path);
}

Test(seccomp_compile, a_rule_whose_action_is_the_default_is_named)
{
	static const struct filter_rule rules[] = { { .syscall = "read" }, { .syscall = "write" } };
	struct thread_filter f = { { ACT_ALLOW, 0 }, { ACT_ALLOW, 0 }, rules, 2 };
	struct seccomp_bpf bpf;
	struct errbuf err = { "" };
	cr_assert_eq(filters_compile(&f, &bpf, &err), -EINVAL);
	cr_assert(strstr(err.msg, "filter[0] (read): its action is the default action"), "%s", err.msg);
}

static char *print_json(const struct filter_set *set)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	cr_assert_eq(filters_print_json(set, f), 0);
	fclose(f);
	return buf;
}

/* What --print-seccomp-filter prints is a filter file that compiles to the
 * very same programs. */
Test(seccomp_lists, printed_json_compiles_to_the_same_filters)
{
	struct filter_set builtin, parsed;
	struct errbuf err = { "" };
	filters_builtin(&builtin);
	char *json = print_json(&builtin);
	cr_assert_eq(filters_parse(json, strlen(json), &parsed, &err), 0, "%s", err.msg);
	for (unsigned k = 0; k < THREAD_KINDS; k++) {
		struct seccomp_bpf a, b;
		cr_assert_eq(filters_compile(&builtin.kind[k], &a, &err), 0, "%s", err.msg);
		cr_assert_eq(filters_compile(&parsed.kind[k], &b, &err), 0, "%s", err.msg);
		cr_assert_eq(a.len, b.len, "%s", thread_kind_key(k));
		cr_assert_eq(memcmp(a.insns, b.insns, a.len * sizeof(*a.insns)), 0, "%s",
			     thread_kind_key(k));
		free(a.insns);
		free(b.insns);
	}
	filters_free(&parsed);
	free(json);
}

/* Whether condition x, when it holds, makes y hold: the same condition,
 * or an equality whose value satisfies y's mask ("== PROT_NONE" implies
 * "no PROT_EXEC"). */
static bool implies(const struct filter_arg *x, const struct filter_arg *y)
{
	if (x->index != y->index || x->sigrt != y->sigrt)
		return false;
	if (x->op == y->op && x->qword == y->qword && x->mask == y->mask && x->val == y->val)
		return true;
	return x->op == OP_EQ && y->op == OP_MASKED_EQ && (x->val & y->mask) == y->val &&
	       (y->qword || !x->qword);
}

/* Whether every call rule v allows, rule u allows too. */
static bool covers(const struct filter_rule *u, const struct filter_rule *v)
{
	if (u->has_action || strcmp(u->syscall, v->syscall) != 0)
		return false;
	for (unsigned i = 0; i < FILTER_MAX_ARGS && u->args[i].op != OP_NONE; i++) {
		bool held = false;
		for (unsigned j = 0; j < FILTER_MAX_ARGS && v->args[j].op != OP_NONE && !held; j++)
			held = implies(&v->args[j], &u->args[i]);
		if (!held)
			return false;
	}
	return true;
}

/* A vCPU thread runs under the VMM filter it inherits and its own: the VMM
 * list must allow every call a vCPU list allows (refusals aside). */
Test(seccomp_lists, the_vmm_list_allows_what_the_vcpu_lists_allow)
{
	struct filter_set set;
	filters_builtin(&set);
	const struct thread_filter *vmm = &set.kind[THREAD_VMM];
	for (unsigned k = THREAD_VCPU_KVM; k <= THREAD_VCPU_TCG; k++) {
		const struct thread_filter *v = &set.kind[k];
		for (size_t i = 0; i < v->nrules; i++) {
			if (v->rules[i].has_action)
				continue;
			bool covered = false;
			for (size_t j = 0; j < vmm->nrules && !covered; j++)
				covered = covers(&vmm->rules[j], &v->rules[i]);
			cr_assert(covered, "%s: %s (%s) is not allowed by the vmm list",
				  thread_kind_key(k), v->rules[i].syscall, v->rules[i].comment);
		}
	}
}

Test(seccomp_lists, every_entry_says_why)
{
	struct filter_set set;
	filters_builtin(&set);
	for (unsigned k = 0; k < THREAD_KINDS; k++) {
		const struct thread_filter *t = &set.kind[k];
		cr_assert_eq(t->default_action.act, ACT_TRAP);
		cr_assert_gt(filters_count_calls(t), 5);
		for (size_t i = 0; i < t->nrules; i++) {
			const struct filter_rule *r = &t->rules[i];
			cr_assert(r->comment && strlen(r->comment) > 8, "%s: %s has no reason",
				  thread_kind_key(k), r->syscall);
			for (unsigned j = 0; j < FILTER_MAX_ARGS && r->args[j].op != OP_NONE; j++)
				cr_assert(r->args[j].comment, "%s: %s: a condition without a name",
					  thread_kind_key(k), r->syscall);
		}
	}
}

Test(seccomp_lists, text_table_names_every_kind)
{
	struct filter_set set;
	filters_builtin(&set);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	filters_print_text(&set, f);
	fclose(f);
	cr_assert(strstr(buf, "vmm: "), "%s", buf);
	cr_assert(strstr(buf, "\napi: "));
	cr_assert(strstr(buf, "\nvcpu: "));
	cr_assert(strstr(buf, "\nvcpu_tcg: "));
	cr_assert(strstr(buf, "arg1 == KVM_RUN (0xae80)"), "%s", buf);
	cr_assert(strstr(buf, "clone3"));
	free(buf);
}

/* ---- Installed filters, in a child process each. ---- */

/* Runs fn in a child with its stderr in out; returns the wait status. */
static int in_child(void (*fn)(void), char *out, size_t outlen)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		fn();
		_exit(0);
	}
	close(p[1]);
	size_t n = 0;
	ssize_t r;
	while (n < outlen - 1 && (r = read(p[0], out + n, outlen - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
	close(p[0]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void install(const struct filter_set *set)
{
	struct errbuf err = { "" };
	if (filters_install(set, &err) < 0) {
		fprintf(stderr, "install: %s\n", err.msg);
		_exit(90);
	}
}

static void install_builtin(void)
{
	struct filter_set set;
	filters_builtin(&set);
	install(&set);
}

static void expect_sigsys(void (*fn)(void), const char *line_frag)
{
	char out[2048];
	int st = in_child(fn, out, sizeof(out));
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status %#x, want SIGSYS; stderr: %s", st,
		  out);
	if (line_frag)
		cr_assert(strstr(out, line_frag), "stderr lacks \"%s\": %s", line_frag, out);
}

static void expect_exit0(void (*fn)(void))
{
	char out[2048];
	int st = in_child(fn, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x; stderr: %s", st, out);
}

static void vmm_inet_socket(void)
{
	install_builtin();
	seccomp_enter(THREAD_VMM);
	socket(AF_INET, SOCK_STREAM, 0);
}

Test(seccomp_installed, the_vmm_filter_refuses_an_inet_socket)
{
	expect_sigsys(vmm_inet_socket, "thread ");
	expect_sigsys(vmm_inet_socket, "(vmm filter) made system call 41 (socket) with arguments 0x2, 0x1");
}

static void *nothing(void *arg)
{
	return arg;
}

/* What the list allows goes through: a Unix socket, a thread (clone3
 * refused with ENOSYS, glibc falls back to clone). */
static void vmm_allowed(void)
{
	install_builtin();
	seccomp_enter(THREAD_VMM);
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2)
		_exit(2);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		_exit(3);
	close(s);
	pthread_t t;
	if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL) != 0)
		_exit(4);
	_exit(0);
}

Test(seccomp_installed, the_vmm_filter_lets_its_calls_through)
{
	expect_exit0(vmm_allowed);
}

static void api_exec_mapping(void)
{
	install_builtin();
	seccomp_enter(THREAD_API);
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

Test(seccomp_installed, the_api_filter_refuses_executable_memory)
{
	expect_sigsys(api_exec_mapping, "(api filter) made system call 9 (mmap)");
}

/* How a thread without exit_group in its list ends the (one-threaded)
 * child: its own end is the process's. */
static void thread_exit(int code)
{
	syscall(SYS_exit, code);
}

static void api_openat(void)
{
	install_builtin();
	seccomp_enter(THREAD_API);
	int fd = open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
#ifdef __SANITIZE_ADDRESS__
	thread_exit(fd >= 0 ? 0 : 5); /* the symbolizer's opens are allowed in this build */
#else
	thread_exit(fd < 0 && errno == EACCES ? 0 : 5);
#endif
}

Test(seccomp_installed, the_api_filter_fails_an_open_without_the_trap)
{
	expect_exit0(api_openat);
}

/* A vCPU thread made by a confined VMM thread: both filters hold. */
static void vcpu_on_vmm_eventfd(void)
{
	install_builtin();
	seccomp_enter(THREAD_VMM);
	seccomp_enter(THREAD_VCPU_KVM);
	eventfd(0, EFD_CLOEXEC); /* the VMM's, not a vCPU's */
}

Test(seccomp_installed, a_vcpu_filter_narrows_the_inherited_vmm_filter)
{
	expect_sigsys(vcpu_on_vmm_eventfd, "(vcpu filter) made system call 290 (eventfd2)");
}

static void tcg_vcpu_kvm_run(void)
{
	install_builtin();
	seccomp_enter(THREAD_VMM);
	seccomp_enter(THREAD_VCPU_TCG);
	ioctl(-1, KVM_RUN, 0);
}

Test(seccomp_installed, the_software_cpus_vcpu_filter_refuses_kvm)
{
	expect_sigsys(tcg_vcpu_kvm_run, "(vcpu_tcg filter) made system call 16 (ioctl) with arguments "
					"0xffffffff, 0xae80");
}

/* A thread made by a confined VMM thread inherits its filter: a VMM-kind
 * helper adds nothing, and what the VMM refuses stays refused. */
static void *helper(void *arg)
{
	(void)arg;
	seccomp_enter(THREAD_VMM);
	socket(AF_INET6, SOCK_DGRAM, 0);
	return NULL;
}

static void helper_inherits(void)
{
	install_builtin();
	seccomp_enter(THREAD_VMM);
	pthread_t t;
	pthread_create(&t, NULL, helper, NULL);
	pthread_join(t, NULL);
}

Test(seccomp_installed, a_helper_thread_inherits_the_vmm_filter)
{
	expect_sigsys(helper_inherits, "(vmm filter) made system call 41 (socket) with arguments 0xa");
}

/* Custom filters: kill_process ends the process by SIGSYS without the
 * reporter; errno fails the call. */
static const char custom[] =
	"{\"vmm\": {\"default_action\": \"kill_process\", \"filter_action\": \"allow\", \"filter\": []},"
	" \"api\": {\"default_action\": {\"errno\": 1}, \"filter_action\": \"allow\", \"filter\": ["
	"   {\"syscall\": \"exit\"}, {\"syscall\": \"write\"},"
	"   {\"syscall\": \"getppid\", \"action\": \"trap\"}]},"
	" \"vcpu\": {\"default_action\": \"allow\", \"filter_action\": \"kill_process\", \"filter\": ["
	"   {\"syscall\": \"getpid\"}]}}";

static void install_custom(void)
{
	struct filter_set set;
	struct errbuf err = { "" };
	if (filters_parse(custom, strlen(custom), &set, &err) < 0) {
		fprintf(stderr, "parse: %s\n", err.msg);
		_exit(91);
	}
	install(&set);
}

static void custom_kill_process(void)
{
	install_custom();
	seccomp_enter(THREAD_VCPU_KVM);
	syscall(SYS_getppid);
	syscall(SYS_getpid);
}

static void custom_errno(void)
{
	install_custom();
	seccomp_enter(THREAD_API);
	errno = 0;
	long r = syscall(SYS_getuid);
	thread_exit(r == -1 && errno == EPERM ? 0 : 6);
}

static void custom_rule_action(void)
{
	install_custom();
	seccomp_enter(THREAD_API);
	syscall(SYS_getppid);
}

Test(seccomp_installed, custom_filters_actions)
{
	char out[1024];
	int st = in_child(custom_kill_process, out, sizeof(out));
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status %#x: %s", st, out);
	cr_assert_null(strstr(out, "seccomp]"), "kill_process leaves no time for a line: %s", out);
	expect_exit0(custom_errno);
	expect_sigsys(custom_rule_action, "(api filter) made system call 110 (getppid)");
}

static void nothing_set(void)
{
	seccomp_enter(THREAD_API);
	_exit(prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0 ? 0 : 7);
}

Test(seccomp_installed, without_filters_seccomp_enter_does_nothing)
{
	expect_exit0(nothing_set);
}

#ifdef __SANITIZE_ADDRESS__
/* A sanitizer build's lists let a report through from any thread: printed
 * whole, symbolized, and ending the process as ASan does (exit 1), not by
 * SIGSYS. */
static enum thread_kind overflow_kind;

/* Out of UBSan's sight (it would report the overflow first). */
__attribute__((noipa)) static char *alloc8(void)
{
	return malloc(8);
}

static void *overflow(void *arg)
{
	seccomp_enter(overflow_kind);
	volatile char *p = alloc8();
	p[8 + (uintptr_t)arg] = 1;
	free((void *)p);
	return NULL;
}

static void report_from_thread(void)
{
	install_builtin();
	seccomp_enter(THREAD_VMM);
	pthread_t t;
	pthread_create(&t, NULL, overflow, NULL);
	pthread_join(t, NULL);
	_exit(0);
}

Test(seccomp_installed, a_sanitizer_report_gets_through_every_filter)
{
	static const enum thread_kind kinds[] = { THREAD_API, THREAD_VCPU_KVM, THREAD_VCPU_TCG };
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char out[16384];
		overflow_kind = kinds[i];
		int st = in_child(report_from_thread, out, sizeof(out));
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: status %#x: %s",
			  thread_kind_key(kinds[i]), st, out);
		cr_assert(strstr(out, "heap-buffer-overflow"), "%s", out);
		cr_assert(strstr(out, "in overflow tests/unit/test_seccomp.c:"), "not symbolized: %s", out);
		cr_assert_null(strstr(out, "seccomp]"), "%s", out);
	}
}
#endif
