/* Ember's seccomp filters as data: the built-in allow-lists (lists.c, one
 * table per thread kind, every entry with its reason), Firecracker's
 * seccompiler JSON format for --seccomp-filter (json.c), their compilation
 * with libseccomp into the BPF programs runtime/base/seccomp.h installs
 * (compile.c), and printing them (print.c). Only main and the tests
 * include this folder; the threads know only runtime/base/seccomp.h. */
#ifndef EMBER_SECCOMP_FILTERS_H
#define EMBER_SECCOMP_FILTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/base/err.h"
#include "runtime/base/seccomp.h"

/* What seccomp does with a call: Firecracker's actions. */
enum filter_act {
	ACT_ALLOW,
	ACT_ERRNO,        /* fail the call with value as errno */
	ACT_KILL_THREAD,
	ACT_KILL_PROCESS,
	ACT_LOG,          /* allow, and log it to the audit log */
	ACT_TRACE,        /* hand it to a ptrace tracer with value as its message */
	ACT_TRAP,         /* SIGSYS: Ember's reporter logs a line, then the process dies by SIGSYS */
};

struct filter_action {
	enum filter_act act;
	uint32_t value; /* ACT_ERRNO, ACT_TRACE */
};

/* OP_NONE ends a rule's list of conditions. */
enum filter_op { OP_NONE, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_MASKED_EQ };

/* One condition on an argument of the call. A dword compares the low 32
 * bits (an "eq" on a dword is a masked compare, as Firecracker's: the
 * kernel reads an ioctl request or an fcntl command as an int, whatever
 * the upper half holds); a qword all 64. */
struct filter_arg {
	enum filter_op op;
	uint8_t index;       /* 0..5 */
	bool qword;
	uint64_t mask;       /* OP_MASKED_EQ: (arg & mask) == val */
	uint64_t val;
	bool sigrt;          /* val is an offset from SIGRTMIN, which libc fixes at run time */
	const char *comment; /* what the value means ("KVM_RUN") */
};

#define FILTER_MAX_ARGS 6

/* A call allowed (or, with has_action, given its own action) when all its
 * conditions hold; several rules for one call are alternatives. */
struct filter_rule {
	const char *syscall;
	struct filter_arg args[FILTER_MAX_ARGS];
	const char *comment;  /* why the thread makes this call */
	bool has_action;      /* Ember's extension to the format: this rule's own action */
	struct filter_action action;
};

struct thread_filter {
	struct filter_action default_action; /* calls no rule matches */
	struct filter_action filter_action;  /* calls a rule matches */
	const struct filter_rule *rules;
	size_t nrules;
};

/* A filter for each thread kind. A set parsed from a file owns its
 * memory (filters_free); the built-in one is static. */
struct filter_set {
	struct thread_filter kind[THREAD_KINDS];
	void *owned;
};

/* The built-in lists: the kinds' filters for this build (a sanitizer
 * build adds what its runtime calls, lists.c says which). */
void filters_builtin(struct filter_set *out);

/* Parses Firecracker's seccompiler JSON: top-level keys "vmm", "api",
 * "vcpu" (each required; "vcpu_tcg", Ember's, optional: the software
 * CPU's vCPU threads, which use "vcpu" without it). A malformed document
 * is -EINVAL with one line naming the place ("vmm.filter[3].args[0].op:
 * ..."). text need not be NUL-terminated. */
int filters_parse(const char *text, size_t len, struct filter_set *out, struct errbuf *err);
/* Reads and parses a file (at most FILTERS_FILE_MAX bytes); errors start
 * with the path. */
#define FILTERS_FILE_MAX (1u << 20)
int filters_load_file(const char *path, struct filter_set *out, struct errbuf *err);
void filters_free(struct filter_set *set);

/* Compiles one filter for this architecture. A call name libseccomp does
 * not know or a rule it refuses is -EINVAL naming the rule ("filter[2]").
 * out->insns is malloc'ed. */
int filters_compile(const struct thread_filter *f, struct seccomp_bpf *out, struct errbuf *err);

/* Compiles every kind and hands the programs to runtime/base/seccomp.c
 * (seccomp_set_filters): what main calls once, before any thread starts.
 * Errors name the kind ("vcpu: filter[2]: ..."). */
int filters_install(const struct filter_set *set, struct errbuf *err);

/* Each kind's calls, one line each with its conditions and reason. */
void filters_print_text(const struct filter_set *set, FILE *f);
/* The set as a seccompiler JSON document --seccomp-filter accepts. */
int filters_print_json(const struct filter_set *set, FILE *f);

/* The number of distinct calls a filter names (how Firecracker's lists
 * are counted). */
size_t filters_count_calls(const struct thread_filter *f);

#endif
