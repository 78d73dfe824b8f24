/* The filters for people (a table per kind, `make seccomp-lists`) and as
 * a seccompiler JSON document (--print-seccomp-filter, a starting point
 * for --seccomp-filter). */
#include "runtime/seccomp/filters.h"

#include <jansson.h>
#include <signal.h>
#include <string.h>

static const char *const act_names[] = {
	[ACT_ALLOW] = "allow", [ACT_ERRNO] = "errno",   [ACT_KILL_THREAD] = "kill_thread",
	[ACT_KILL_PROCESS] = "kill_process", [ACT_LOG] = "log", [ACT_TRACE] = "trace",
	[ACT_TRAP] = "trap",
};

static const char *const op_text[] = {
	[OP_EQ] = "==", [OP_NE] = "!=", [OP_LT] = "<", [OP_LE] = "<=", [OP_GT] = ">", [OP_GE] = ">=",
};

static const char *const op_json[] = {
	[OP_EQ] = "eq", [OP_NE] = "ne", [OP_LT] = "lt", [OP_LE] = "le", [OP_GT] = "gt", [OP_GE] = "ge",
};

static uint64_t arg_value(const struct filter_arg *a)
{
	return a->sigrt ? (uint64_t)(SIGRTMIN + (int)a->val) : a->val;
}

static void action_text(struct filter_action a, char *buf, size_t len)
{
	if (a.act == ACT_ERRNO || a.act == ACT_TRACE)
		snprintf(buf, len, "%s(%u)", act_names[a.act], a.value);
	else
		snprintf(buf, len, "%s", act_names[a.act]);
}

void filters_print_text(const struct filter_set *set, FILE *f)
{
	for (unsigned k = 0; k < THREAD_KINDS; k++) {
		const struct thread_filter *t = &set->kind[k];
		char def[32], match[32];
		action_text(t->default_action, def, sizeof(def));
		action_text(t->filter_action, match, sizeof(match));
		fprintf(f, "%s%s: %zu system calls in %zu rules (a matching call: %s; any other: %s)\n",
			k ? "\n" : "", thread_kind_key(k), filters_count_calls(t), t->nrules, match, def);
		for (size_t i = 0; i < t->nrules; i++) {
			const struct filter_rule *r = &t->rules[i];
			char cond[256] = "";
			size_t at = 0;
			for (unsigned j = 0; j < FILTER_MAX_ARGS && r->args[j].op != OP_NONE; j++) {
				const struct filter_arg *a = &r->args[j];
				const char *name = a->comment ? a->comment : "";
				int n;
				if (a->op == OP_MASKED_EQ)
					n = snprintf(cond + at, sizeof(cond) - at, "%s(arg%u & %#llx) == %#llx%s%s%s",
						     j ? ", " : "", a->index, (unsigned long long)a->mask,
						     (unsigned long long)arg_value(a), *name ? " [" : "", name,
						     *name ? "]" : "");
				else
					n = snprintf(cond + at, sizeof(cond) - at, "%sarg%u %s %s%s%#llx%s",
						     j ? ", " : "", a->index, op_text[a->op],
						     *name ? name : "", *name ? " (" : "",
						     (unsigned long long)arg_value(a), *name ? ")" : "");
				if (n > 0)
					at += (size_t)n < sizeof(cond) - at ? (size_t)n : sizeof(cond) - at - 1;
			}
			char own[40] = "";
			if (r->has_action) {
				char a[32];
				action_text(r->action, a, sizeof(a));
				snprintf(own, sizeof(own), "%s-> %s", *cond ? " " : "", a);
			}
			fprintf(f, "  %-16s %s%s%s%s\n", r->syscall, cond, own, *cond || *own ? ": " : "",
				r->comment ? r->comment : "");
		}
	}
}

static json_t *action_json(struct filter_action a)
{
	if (a.act == ACT_ERRNO || a.act == ACT_TRACE)
		return json_pack("{sI}", act_names[a.act], (json_int_t)a.value);
	return json_string(act_names[a.act]);
}

int filters_print_json(const struct filter_set *set, FILE *f)
{
	json_t *root = json_object();
	for (unsigned k = 0; root && k < THREAD_KINDS; k++) {
		const struct thread_filter *t = &set->kind[k];
		json_t *list = json_array();
		for (size_t i = 0; list && i < t->nrules; i++) {
			const struct filter_rule *r = &t->rules[i];
			json_t *rule = json_pack("{ss}", "syscall", r->syscall);
			json_t *args = json_array();
			for (unsigned j = 0; j < FILTER_MAX_ARGS && r->args[j].op != OP_NONE; j++) {
				const struct filter_arg *a = &r->args[j];
				json_t *op = a->op == OP_MASKED_EQ
						     ? json_pack("{sI}", "masked_eq", (json_int_t)a->mask)
						     : json_string(op_json[a->op]);
				json_t *arg = json_pack("{sI ss so sI}", "index", (json_int_t)a->index,
							"type", a->qword ? "qword" : "dword", "op", op,
							"val", (json_int_t)arg_value(a));
				if (arg && a->comment)
					json_object_set_new(arg, "comment", json_string(a->comment));
				json_array_append_new(args, arg);
			}
			if (json_array_size(args))
				json_object_set_new(rule, "args", args);
			else
				json_decref(args);
			if (r->has_action)
				json_object_set_new(rule, "action", action_json(r->action));
			if (r->comment)
				json_object_set_new(rule, "comment", json_string(r->comment));
			json_array_append_new(list, rule);
		}
		json_object_set_new(root, thread_kind_key(k),
				    json_pack("{so so so}", "default_action", action_json(t->default_action),
					      "filter_action", action_json(t->filter_action), "filter",
					      list));
	}
	int rc = root ? json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : -1;
	fputc('\n', f);
	json_decref(root);
	return rc < 0 ? -1 : 0;
}
