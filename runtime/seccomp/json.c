/* Firecracker's seccompiler JSON (docs/seccompiler.md in Firecracker's
 * tree) into a filter_set. Stricter than serde where leniency would open
 * a hole: an unknown key is refused (a misspelt "args" would otherwise
 * allow a call with any arguments), and so is a value a dword cannot
 * hold. Every error names its place as a key path: vmm.filter[3].args[0].op. */
#include "runtime/seccomp/filters.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a parsed set owns. */
struct owned {
	json_t *root; /* the strings the rules point at */
	struct filter_rule *rules[THREAD_KINDS];
};

#define ECHO_MAX 48
/* A key path: "vmm.filter[12].args[3].masked_eq" and room to spare. */
#define PLACE_MAX 96

/* out = place + suffix, cut to PLACE_MAX (place names are ours and short). */
static const char *at(char out[PLACE_MAX], const char *place, const char *suffix)
{
	size_t a = strnlen(place, PLACE_MAX - 1), b = strnlen(suffix, PLACE_MAX - 1 - a);
	memcpy(out, place, a);
	memcpy(out + a, suffix, b);
	out[a + b] = 0;
	return out;
}

/* out = place + "[i]". */
static const char *at_index(char out[PLACE_MAX], const char *place, size_t i)
{
	char idx[24];
	snprintf(idx, sizeof(idx), "[%zu]", i);
	return at(out, place, idx);
}

/* Input quoted back in an error: cut, non-printable bytes as '?'. */
static const char *echo(const char *s, char out[ECHO_MAX + 4])
{
	size_t i = 0;
	for (; s[i] && i < ECHO_MAX; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s[i])
		memcpy(out + i, "...", 3), i += 3;
	out[i] = 0;
	return out;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* -EINVAL "PLACE.key: unknown key (allowed: ...)" for the first key not in
 * allowed (NULL-ended). */
static int check_keys(json_t *obj, const char *place, const char *const *allowed,
		      const char *list, struct errbuf *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		unsigned i = 0;
		while (allowed[i] && strcmp(allowed[i], key) != 0)
			i++;
		if (!allowed[i]) {
			char e[ECHO_MAX + 4];
			return err_set(err, -EINVAL, "%s: unknown key \"%s\" (it may have: %s)", place,
				       echo(key, e), list);
		}
	}
	return 0;
}

/* A non-negative integer up to max. */
static int get_uint(json_t *v, const char *place, uint64_t max, uint64_t *out, struct errbuf *err)
{
	if (!v)
		return err_set(err, -EINVAL, "%s: missing", place);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return err_set(err, -EINVAL, "%s: must be an integer from 0 to %llu (got %s)", place,
			       (unsigned long long)max, json_is_integer(v) ? "a value out of range" : type_name(v));
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static const struct {
	const char *name;
	enum filter_act act;
} plain_actions[] = {
	{ "allow", ACT_ALLOW },         { "kill_thread", ACT_KILL_THREAD },
	{ "kill_process", ACT_KILL_PROCESS }, { "log", ACT_LOG },
	{ "trap", ACT_TRAP },
};

#define ACTIONS_TEXT \
	"\"allow\", \"kill_thread\", \"kill_process\", \"log\", \"trap\", {\"errno\": N} or {\"trace\": N}"

static int get_action(json_t *v, const char *place, struct filter_action *out, struct errbuf *err)
{
	char e[ECHO_MAX + 4];
	if (!v)
		return err_set(err, -EINVAL, "%s: missing (one of " ACTIONS_TEXT ")", place);
	if (json_is_string(v)) {
		for (size_t i = 0; i < sizeof(plain_actions) / sizeof(plain_actions[0]); i++)
			if (strcmp(json_string_value(v), plain_actions[i].name) == 0) {
				*out = (struct filter_action){ plain_actions[i].act, 0 };
				return 0;
			}
		return err_set(err, -EINVAL, "%s: must be one of " ACTIONS_TEXT " (got \"%s\")", place,
			       echo(json_string_value(v), e));
	}
	if (json_is_object(v) && json_object_size(v) == 1) {
		const char *key = json_object_iter_key(json_object_iter(v));
		json_t *n = json_object_get(v, key);
		char sub[PLACE_MAX];
		uint64_t val;
		if (strcmp(key, "errno") == 0) {
			at(sub, place, ".errno");
			/* The kernel's errno range (MAX_ERRNO). */
			if (get_uint(n, sub, 4095, &val, err) < 0)
				return -EINVAL;
			*out = (struct filter_action){ ACT_ERRNO, (uint32_t)val };
			return 0;
		}
		if (strcmp(key, "trace") == 0) {
			at(sub, place, ".trace");
			if (get_uint(n, sub, 0xffff, &val, err) < 0)
				return -EINVAL;
			*out = (struct filter_action){ ACT_TRACE, (uint32_t)val };
			return 0;
		}
		return err_set(err, -EINVAL, "%s: must be one of " ACTIONS_TEXT " (got {\"%s\": ...})",
			       place, echo(key, e));
	}
	return err_set(err, -EINVAL, "%s: must be one of " ACTIONS_TEXT " (got %s)", place,
		       type_name(v));
}

static const char *const op_names[] = {
	[OP_EQ] = "eq", [OP_NE] = "ne", [OP_LT] = "lt",
	[OP_LE] = "le", [OP_GT] = "gt", [OP_GE] = "ge",
};

#define OPS_TEXT "\"eq\", \"ne\", \"lt\", \"le\", \"gt\", \"ge\" or {\"masked_eq\": MASK}"

static int get_arg(json_t *v, const char *place, struct filter_arg *a, struct errbuf *err)
{
	static const char *const keys[] = { "index", "type", "op", "val", "comment", NULL };
	char sub[PLACE_MAX], e[ECHO_MAX + 4];
	if (!json_is_object(v))
		return err_set(err, -EINVAL, "%s: must be an object (got %s)", place, type_name(v));
	if (check_keys(v, place, keys, "index, type, op, val, comment", err) < 0)
		return -EINVAL;
	uint64_t n;
	at(sub, place, ".index");
	if (get_uint(json_object_get(v, "index"), sub, FILTER_MAX_ARGS - 1, &n, err) < 0)
		return -EINVAL;
	a->index = (uint8_t)n;

	json_t *t = json_object_get(v, "type");
	at(sub, place, ".type");
	if (!t)
		return err_set(err, -EINVAL, "%s: missing (\"dword\" or \"qword\")", sub);
	if (!json_is_string(t) || (strcmp(json_string_value(t), "dword") != 0 &&
				   strcmp(json_string_value(t), "qword") != 0))
		return err_set(err, -EINVAL, "%s: must be \"dword\" or \"qword\" (got %s%s%s)", sub,
			       json_is_string(t) ? "\"" : "",
			       json_is_string(t) ? echo(json_string_value(t), e) : type_name(t),
			       json_is_string(t) ? "\"" : "");
	a->qword = strcmp(json_string_value(t), "qword") == 0;
	uint64_t max = a->qword ? (uint64_t)INT64_MAX : 0xffffffffULL;

	json_t *op = json_object_get(v, "op");
	at(sub, place, ".op");
	a->op = OP_NONE;
	if (!op)
		return err_set(err, -EINVAL, "%s: missing (one of " OPS_TEXT ")", sub);
	if (json_is_string(op)) {
		for (unsigned i = OP_EQ; i <= OP_GE; i++)
			if (strcmp(json_string_value(op), op_names[i]) == 0)
				a->op = (enum filter_op)i;
		if (a->op == OP_NONE)
			return err_set(err, -EINVAL, "%s: must be one of " OPS_TEXT " (got \"%s\")", sub,
				       echo(json_string_value(op), e));
	} else if (json_is_object(op) && json_object_size(op) == 1 && json_object_get(op, "masked_eq")) {
		char msub[PLACE_MAX];
		at(msub, sub, ".masked_eq");
		if (get_uint(json_object_get(op, "masked_eq"), msub, max, &a->mask, err) < 0)
			return -EINVAL;
		a->op = OP_MASKED_EQ;
	} else {
		return err_set(err, -EINVAL, "%s: must be one of " OPS_TEXT " (got %s)", sub,
			       type_name(op));
	}

	at(sub, place, ".val");
	if (get_uint(json_object_get(v, "val"), sub, max, &a->val, err) < 0)
		return -EINVAL;
	json_t *c = json_object_get(v, "comment");
	at(sub, place, ".comment");
	if (c && !json_is_string(c))
		return err_set(err, -EINVAL, "%s: must be a string (got %s)", sub, type_name(c));
	a->comment = c ? json_string_value(c) : NULL;
	return 0;
}

static int get_rule(json_t *v, const char *place, struct filter_rule *r, struct errbuf *err)
{
	static const char *const keys[] = { "syscall", "args", "comment", "action", NULL };
	char sub[PLACE_MAX], e[ECHO_MAX + 4];
	if (!json_is_object(v))
		return err_set(err, -EINVAL, "%s: must be an object (got %s)", place, type_name(v));
	if (check_keys(v, place, keys, "syscall, args, comment, action", err) < 0)
		return -EINVAL;
	json_t *s = json_object_get(v, "syscall");
	at(sub, place, ".syscall");
	if (!s)
		return err_set(err, -EINVAL, "%s: missing", sub);
	if (!json_is_string(s))
		return err_set(err, -EINVAL, "%s: must be a string (got %s)", sub, type_name(s));
	r->syscall = json_string_value(s);
	int nr = seccomp_syscall_resolve_name(r->syscall);
	if (nr == __NR_SCMP_ERROR)
		return err_set(err, -EINVAL, "%s: unknown system call \"%s\"", sub, echo(r->syscall, e));
	if (nr < 0)
		return err_set(err, -EINVAL, "%s: \"%s\" is not a system call on this architecture", sub,
			       echo(r->syscall, e));

	json_t *args = json_object_get(v, "args");
	at(sub, place, ".args");
	if (args && !json_is_array(args))
		return err_set(err, -EINVAL, "%s: must be an array (got %s)", sub, type_name(args));
	if (args && json_array_size(args) > FILTER_MAX_ARGS)
		return err_set(err, -EINVAL, "%s: at most %d conditions (got %zu)", sub, FILTER_MAX_ARGS,
			       json_array_size(args));
	for (size_t i = 0; args && i < json_array_size(args); i++) {
		char asub[PLACE_MAX];
		at_index(asub, sub, i);
		if (get_arg(json_array_get(args, i), asub, &r->args[i], err) < 0)
			return -EINVAL;
	}

	json_t *c = json_object_get(v, "comment");
	at(sub, place, ".comment");
	if (c && !json_is_string(c))
		return err_set(err, -EINVAL, "%s: must be a string (got %s)", sub, type_name(c));
	r->comment = c ? json_string_value(c) : NULL;

	json_t *a = json_object_get(v, "action");
	if (a) {
		at(sub, place, ".action");
		if (get_action(a, sub, &r->action, err) < 0)
			return -EINVAL;
		r->has_action = true;
	}
	return 0;
}

static int get_filter(json_t *v, const char *key, struct thread_filter *f,
		      struct filter_rule **rules, struct errbuf *err)
{
	static const char *const keys[] = { "default_action", "filter_action", "filter", "comment",
					    NULL };
	char sub[PLACE_MAX];
	if (!json_is_object(v))
		return err_set(err, -EINVAL, "%s: must be an object (got %s)", key, type_name(v));
	if (check_keys(v, key, keys, "default_action, filter_action, filter, comment", err) < 0)
		return -EINVAL;
	at(sub, key, ".default_action");
	if (get_action(json_object_get(v, "default_action"), sub, &f->default_action, err) < 0)
		return -EINVAL;
	at(sub, key, ".filter_action");
	if (get_action(json_object_get(v, "filter_action"), sub, &f->filter_action, err) < 0)
		return -EINVAL;
	json_t *list = json_object_get(v, "filter");
	at(sub, key, ".filter");
	if (!list)
		return err_set(err, -EINVAL, "%s: missing", sub);
	if (!json_is_array(list))
		return err_set(err, -EINVAL, "%s: must be an array (got %s)", sub, type_name(list));
	size_t n = json_array_size(list);
	*rules = calloc(n ? n : 1, sizeof(**rules));
	if (!*rules)
		return err_set(err, -ENOMEM, "%s: out of memory", sub);
	for (size_t i = 0; i < n; i++) {
		char rsub[PLACE_MAX];
		at_index(rsub, sub, i);
		if (get_rule(json_array_get(list, i), rsub, &(*rules)[i], err) < 0)
			return -EINVAL;
	}
	f->rules = *rules;
	f->nrules = n;
	return 0;
}

void filters_free(struct filter_set *set)
{
	struct owned *o = set->owned;
	if (!o)
		return;
	for (unsigned k = 0; k < THREAD_KINDS; k++)
		free(o->rules[k]);
	json_decref(o->root);
	free(o);
	memset(set, 0, sizeof(*set));
}

int filters_parse(const char *text, size_t len, struct filter_set *out, struct errbuf *err)
{
	memset(out, 0, sizeof(*out));
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(err, -EINVAL, "not valid JSON at line %d, column %d: %s", jerr.line,
			       jerr.column, jerr.text);
	struct owned *o = calloc(1, sizeof(*o));
	if (!o) {
		json_decref(root);
		return err_set(err, -ENOMEM, "out of memory");
	}
	o->root = root;
	out->owned = o;
	int rc = 0;
	if (!json_is_object(root)) {
		rc = err_set(err, -EINVAL,
			     "must be an object with the keys \"vmm\", \"api\" and \"vcpu\" (got %s)",
			     type_name(root));
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		unsigned k = 0;
		while (k < THREAD_KINDS && strcmp(thread_kind_key(k), key) != 0)
			k++;
		if (k == THREAD_KINDS) {
			char e[ECHO_MAX + 4];
			rc = err_set(err, -EINVAL,
				     "\"%s\": not a thread kind (vmm, api, vcpu, or Ember's vcpu_tcg)",
				     echo(key, e));
			goto out;
		}
	}
	/* In the file's own order of kinds would be kinder, but a fixed one
	 * reports the same error for the same file every time. */
	for (unsigned k = 0; k < THREAD_KINDS; k++) {
		json_t *f = json_object_get(root, thread_kind_key(k));
		if (!f && k == THREAD_VCPU_TCG)
			continue;
		if (!f) {
			rc = err_set(err, -EINVAL, "%s: missing (a filter is needed for each of vmm, api and vcpu)",
				     thread_kind_key(k));
			goto out;
		}
		rc = get_filter(f, thread_kind_key(k), &out->kind[k], &o->rules[k], err);
		if (rc < 0)
			goto out;
	}
	if (!json_object_get(root, thread_kind_key(THREAD_VCPU_TCG)))
		out->kind[THREAD_VCPU_TCG] = out->kind[THREAD_VCPU_KVM];
out:
	if (rc < 0)
		filters_free(out);
	return rc;
}

int filters_load_file(const char *path, struct filter_set *out, struct errbuf *err)
{
	memset(out, 0, sizeof(*out));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
		close(fd);
		return err_set(err, -e, "%s: %s", path, strerror(e));
	}
	/* Read to the end whatever st_size says (a pipe has none). */
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int rc = buf ? 0 : -ENOMEM;
	while (rc == 0) {
		if (n == cap) {
			if (cap > FILTERS_FILE_MAX) {
				rc = -EFBIG;
				break;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = -errno;
		else if (r == 0)
			break;
		else
			n += (size_t)r;
	}
	close(fd);
	if (rc == 0 && n > FILTERS_FILE_MAX)
		rc = -EFBIG;
	if (rc == -EFBIG)
		err_set(err, rc, "%s: larger than %u bytes", path, FILTERS_FILE_MAX);
	else if (rc < 0)
		err_set(err, rc, "%s: %s", path, strerror(-rc));
	else if ((rc = filters_parse(buf, n, out, err)) < 0)
		err_wrap(err, rc, "%s", path);
	free(buf);
	return rc;
}
