/* Firecracker's custom CPU template JSON (cpu_config/templates.rs,
 * x86_64/custom_cpu_template.rs) into struct cpu_template, and back. */
#include "config/cpu_config.h"
#include "config/config_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reg_names[] = { "eax", "ebx", "ecx", "edx" };

/* Puts where before an error: "where.field: ..." when the error starts
 * with a field's name, "where: ..." otherwise, so that a message names
 * its place as a path: cpuid_modifiers[2].modifiers[0].bitmap. */
static int place(struct errbuf *err, int rc, const char *array, size_t i)
{
	char where[48];
	snprintf(where, sizeof(where), "%s[%zu]", array, i);
	const char *m = err->msg;
	while ((*m >= 'a' && *m <= 'z') || *m == '_')
		m++;
	bool field = m > err->msg && (*m == ':' || *m == '[' || *m == '.');
	char old[sizeof(err->msg)];
	memcpy(old, err->msg, sizeof(old));
	return err_set(err, rc, "%s%s%s", where, field ? "." : ": ", old);
}

int cpu_bitmap_parse(const char *s, unsigned bits, uint64_t *mask, uint64_t *value,
		     struct errbuf *err)
{
	char e[CONFIG_ECHO_MAX];
	const char *digits = strncmp(s, "0b", 2) == 0 ? s + 2 : s;
	uint64_t m = 0, v = 0;
	unsigned bit = 0;
	for (size_t i = strlen(digits); i-- > 0;) {
		if (bit == bits)
			return err_set(err, -EINVAL, "\"%s\": more than %u bits",
				       config_echo(s, SIZE_MAX, e), bits);
		switch (digits[i]) {
		case '_':
			continue;
		case 'x':
			break;
		case '1':
			v |= 1ULL << bit;
			/* fall through */
		case '0':
			m |= 1ULL << bit;
			break;
		default:
			return err_set(err, -EINVAL,
				       "\"%s\": '%c' is not a bitmap digit (0, 1, x or _)",
				       config_echo(s, SIZE_MAX, e),
				       digits[i] > 0x20 && digits[i] < 0x7f ? digits[i] : '?');
		}
		bit++;
	}
	*mask = m;
	*value = v;
	return 0;
}

void cpu_bitmap_format(uint64_t mask, uint64_t value, unsigned bits, char *out)
{
	*out++ = '0';
	*out++ = 'b';
	for (unsigned i = bits; i-- > 0;)
		*out++ = !(mask >> i & 1) ? 'x' : (value >> i & 1) ? '1' : '0';
	*out = 0;
}

/* Firecracker's deserialize_from_str_u32: a string, "0x" + hex digits or
 * "0b" + binary digits (no integers, no sign, no underscores). */
static int get_number(json_t *obj, const char *key, uint32_t *out, struct errbuf *err)
{
	char e[CONFIG_ECHO_MAX];
	json_t *v = json_object_get(obj, key);
	if (!v)
		return err_set(err, -EINVAL, "%s: missing", key);
	if (!json_is_string(v))
		return err_set(err, -EINVAL, "%s: must be a string such as \"0x1f\" (got %s)", key,
			       config_json_type(v));
	const char *s = json_string_value(v);
	unsigned base = strncmp(s, "0x", 2) == 0 ? 16 : strncmp(s, "0b", 2) == 0 ? 2 : 0;
	if (!base)
		return err_set(err, -EINVAL, "%s: \"%s\" must start with 0x (hex) or 0b (binary)",
			       key, config_echo(s, SIZE_MAX, e));
	uint64_t n = 0;
	const char *p = s + 2;
	if (!*p)
		return err_set(err, -EINVAL, "%s: \"%s\" has no digits", key,
			       config_echo(s, SIZE_MAX, e));
	for (; *p; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0'
			: *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
			: *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
						 : 99;
		if ((unsigned)d >= base)
			return err_set(err, -EINVAL, "%s: \"%s\" is not a base-%u number", key,
				       config_echo(s, SIZE_MAX, e), base);
		n = n * base + (unsigned)d;
		if (n > UINT32_MAX)
			return err_set(err, -EINVAL, "%s: \"%s\" does not fit in 32 bits", key,
				       config_echo(s, SIZE_MAX, e));
	}
	*out = (uint32_t)n;
	return 0;
}

static int get_bitmap(json_t *obj, unsigned bits, uint64_t *mask, uint64_t *value,
		      struct errbuf *err)
{
	json_t *v = json_object_get(obj, "bitmap");
	if (!v)
		return err_set(err, -EINVAL, "bitmap: missing");
	if (!json_is_string(v))
		return err_set(err, -EINVAL, "bitmap: must be a string such as \"0bxx1x0\" (got %s)",
			       config_json_type(v));
	int rc = cpu_bitmap_parse(json_string_value(v), bits, mask, value, err);
	return rc < 0 ? err_wrap(err, rc, "bitmap") : 0; /* the text starts with a quote */
}

static int get_array(json_t *obj, const char *key, bool required, size_t max, json_t **out,
		     struct errbuf *err)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return required ? err_set(err, -EINVAL, "%s: missing", key) : 0;
	if (!json_is_array(v))
		return err_set(err, -EINVAL, "%s: must be an array (got %s)", key,
			       config_json_type(v));
	if (json_array_size(v) > max)
		return err_set(err, -EINVAL, "%s: more than %zu entries", key, max);
	*out = v;
	return 0;
}

static int parse_reg_mod(json_t *j, struct cpuid_reg_mod *m, struct errbuf *err)
{
	static const char *const fields[] = { "register", "bitmap", NULL };
	char e[CONFIG_ECHO_MAX];
	int rc = config_expect_object(j, err);
	if (rc == 0)
		rc = config_check_fields(j, fields, err);
	if (rc < 0)
		return rc;
	json_t *r = json_object_get(j, "register");
	if (!r)
		return err_set(err, -EINVAL, "register: missing");
	unsigned i = 0;
	while (json_is_string(r) && i < 4 && strcmp(json_string_value(r), reg_names[i]))
		i++;
	if (!json_is_string(r) || i == 4)
		return err_set(err, -EINVAL, "register: must be one of \"eax\", \"ebx\", \"ecx\", "
				  "\"edx\" (got %s)",
			       json_is_string(r) ? config_echo(json_string_value(r), SIZE_MAX, e)
						 : config_json_type(r));
	uint64_t mask, value;
	if ((rc = get_bitmap(j, 32, &mask, &value, err)) < 0)
		return rc;
	*m = (struct cpuid_reg_mod){ (enum cpuid_reg)i, (uint32_t)mask, (uint32_t)value };
	return 0;
}

static int parse_leaf_mod(json_t *j, struct cpuid_leaf_mod *m, struct errbuf *err)
{
	static const char *const fields[] = { "leaf", "subleaf", "flags", "modifiers", NULL };
	int rc = config_expect_object(j, err);
	if (rc == 0)
		rc = config_check_fields(j, fields, err);
	if (rc == 0)
		rc = get_number(j, "leaf", &m->leaf, err);
	if (rc == 0)
		rc = get_number(j, "subleaf", &m->subleaf, err);
	if (rc < 0)
		return rc;
	json_t *f = json_object_get(j, "flags");
	if (!f)
		return err_set(err, -EINVAL, "flags: missing");
	if (!json_is_integer(f) || json_integer_value(f) < 0 ||
	    json_integer_value(f) > CPUID_FLAGS_KNOWN)
		return err_set(err, -EINVAL,
			       "flags: must be an integer of KVM's CPUID flags, 0..%u "
			       "(1 significant index, 2 stateful, 4 read next)",
			       CPUID_FLAGS_KNOWN);
	m->flags = (uint32_t)json_integer_value(f);
	json_t *a;
	if ((rc = get_array(j, "modifiers", true, CPU_CONFIG_MAX_REGS, &a, err)) < 0)
		return rc;
	struct cpuid_reg_mod *regs = calloc(json_array_size(a) + 1, sizeof(*regs));
	if (!regs)
		return err_set(err, -ENOMEM, "out of memory");
	m->regs = regs;
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e) {
		if ((rc = parse_reg_mod(e, &regs[i], err)) < 0)
			return place(err, rc, "modifiers", i);
		m->n_regs = i + 1;
	}
	return 0;
}

static int parse_msr_mod(json_t *j, struct msr_mod *m, struct errbuf *err)
{
	static const char *const fields[] = { "addr", "bitmap", NULL };
	int rc = config_expect_object(j, err);
	if (rc == 0)
		rc = config_check_fields(j, fields, err);
	if (rc == 0)
		rc = get_number(j, "addr", &m->addr, err);
	if (rc == 0)
		rc = get_bitmap(j, 64, &m->mask, &m->value, err);
	return rc;
}

/* Firecracker's KvmCapability: "N" or "!N", N a decimal u32. */
static int parse_cap(json_t *j, struct kvm_cap_mod *m, struct errbuf *err)
{
	char e[CONFIG_ECHO_MAX];
	if (!json_is_string(j))
		return err_set(err, -EINVAL, "must be a string such as \"123\" or \"!123\" (got %s)",
			       config_json_type(j));
	const char *s = json_string_value(j);
	const char *p = s + (*s == '!');
	uint64_t n = 0;
	if (!*p)
		goto bad;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		n = n * 10 + (unsigned)(*p - '0');
		if (n > UINT32_MAX)
			goto bad;
	}
	*m = (struct kvm_cap_mod){ (uint32_t)n, *s == '!' };
	return 0;
bad:
	return err_set(err, -EINVAL,
		       "\"%s\" is not a KVM capability number (decimal, \"!\" before it to remove it)",
		       config_echo(s, SIZE_MAX, e));
}

void cpu_template_free(struct cpu_template *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_cpuid; i++)
		free((void *)t->cpuid[i].regs);
	free((void *)t->cpuid);
	free((void *)t->msrs);
	free((void *)t->caps);
	free(t);
}

int config_parse_cpu_config(json_t *obj, struct cpu_template **out, struct errbuf *err)
{
	static const char *const fields[] = { "kvm_capabilities", "cpuid_modifiers",
					      "msr_modifiers", NULL };
	int rc = config_expect_object(obj, err);
	if (rc < 0)
		return rc;
	/* aarch64's fields: say so rather than "unknown field". */
	static const char *const arm[] = { "vcpu_features", "reg_modifiers" };
	for (size_t i = 0; i < 2; i++)
		if (json_object_get(obj, arm[i]))
			return err_set(err, -EINVAL, "%s: an aarch64 field; not on x86_64", arm[i]);
	if ((rc = config_check_fields(obj, fields, err)) < 0)
		return rc;
	json_t *caps, *cpuid, *msrs;
	if ((rc = get_array(obj, "kvm_capabilities", false, CPU_CONFIG_MAX_CAPS, &caps, err)) < 0 ||
	    (rc = get_array(obj, "cpuid_modifiers", false, CPU_CONFIG_MAX_CPUID, &cpuid, err)) < 0 ||
	    (rc = get_array(obj, "msr_modifiers", false, CPU_CONFIG_MAX_MSRS, &msrs, err)) < 0)
		return rc;

	struct cpu_template *t = calloc(1, sizeof(*t));
	struct kvm_cap_mod *c = calloc(json_array_size(caps) + 1, sizeof(*c));
	struct cpuid_leaf_mod *l = calloc(json_array_size(cpuid) + 1, sizeof(*l));
	struct msr_mod *m = calloc(json_array_size(msrs) + 1, sizeof(*m));
	if (t) {
		t->caps = c;
		t->cpuid = l;
		t->msrs = m;
	}
	if (!t || !c || !l || !m) {
		if (!t) {
			free(c);
			free(l);
			free(m);
		}
		cpu_template_free(t);
		return err_set(err, -ENOMEM, "out of memory");
	}
	size_t i;
	json_t *e;
	json_array_foreach(caps, i, e) {
		if ((rc = parse_cap(e, &c[i], err)) < 0) {
			place(err, rc, "kvm_capabilities", i);
			goto fail;
		}
		t->n_caps = i + 1;
	}
	json_array_foreach(cpuid, i, e) {
		/* Counted first, so that its regs are freed on failure. */
		t->n_cpuid = i + 1;
		if ((rc = parse_leaf_mod(e, &l[i], err)) < 0) {
			place(err, rc, "cpuid_modifiers", i);
			goto fail;
		}
	}
	json_array_foreach(msrs, i, e) {
		if ((rc = parse_msr_mod(e, &m[i], err)) < 0) {
			place(err, rc, "msr_modifiers", i);
			goto fail;
		}
		t->n_msrs = i + 1;
	}
	*out = t;
	return 0;
fail:
	cpu_template_free(t);
	return rc;
}

static json_t *hex(uint32_t v)
{
	char s[16];
	snprintf(s, sizeof(s), "0x%x", v);
	return json_string(s);
}

json_t *config_cpu_config_to_json(const struct cpu_template *t)
{
	json_t *caps = json_array(), *cpuid = json_array(), *msrs = json_array();
	json_t *root = json_pack("{s:o*, s:o*, s:o*}", "kvm_capabilities", caps, "cpuid_modifiers",
				 cpuid, "msr_modifiers", msrs);
	if (!root)
		return NULL;
	int bad = !caps || !cpuid || !msrs;
	char s[80];
	for (size_t i = 0; !bad && i < t->n_caps; i++) {
		snprintf(s, sizeof(s), "%s%u", t->caps[i].remove ? "!" : "", t->caps[i].cap);
		bad |= json_array_append_new(caps, json_string(s));
	}
	for (size_t i = 0; !bad && i < t->n_cpuid; i++) {
		const struct cpuid_leaf_mod *l = &t->cpuid[i];
		json_t *regs = json_array();
		for (size_t r = 0; regs && !bad && r < l->n_regs; r++) {
			cpu_bitmap_format(l->regs[r].mask, l->regs[r].value, 32, s);
			bad |= json_array_append_new(
				regs, json_pack("{s:s, s:s}", "register", reg_names[l->regs[r].reg],
						"bitmap", s));
		}
		bad |= json_array_append_new(cpuid, json_pack("{s:o, s:o, s:I, s:o*}", "leaf",
							      hex(l->leaf), "subleaf",
							      hex(l->subleaf), "flags",
							      (json_int_t)l->flags, "modifiers",
							      regs));
	}
	for (size_t i = 0; !bad && i < t->n_msrs; i++) {
		cpu_bitmap_format(t->msrs[i].mask, t->msrs[i].value, 64, s);
		bad |= json_array_append_new(
			msrs, json_pack("{s:o, s:s}", "addr", hex(t->msrs[i].addr), "bitmap", s));
	}
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

struct cpu_template *cpu_template_dup(const struct cpu_template *t)
{
	if (!t)
		return NULL;
	struct cpu_template *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	struct kvm_cap_mod *c = calloc(t->n_caps + 1, sizeof(*c));
	struct cpuid_leaf_mod *l = calloc(t->n_cpuid + 1, sizeof(*l));
	struct msr_mod *m = calloc(t->n_msrs + 1, sizeof(*m));
	d->caps = c;
	d->cpuid = l;
	d->msrs = m;
	if (!c || !l || !m)
		goto fail;
	/* An empty array may be NULL, which memcpy must not get. */
	if (t->n_caps)
		memcpy(c, t->caps, t->n_caps * sizeof(*c));
	if (t->n_msrs)
		memcpy(m, t->msrs, t->n_msrs * sizeof(*m));
	d->n_caps = t->n_caps;
	d->n_msrs = t->n_msrs;
	for (size_t i = 0; i < t->n_cpuid; i++) {
		struct cpuid_reg_mod *r = calloc(t->cpuid[i].n_regs + 1, sizeof(*r));
		if (!r)
			goto fail;
		l[i] = t->cpuid[i];
		if (t->cpuid[i].n_regs)
			memcpy(r, t->cpuid[i].regs, t->cpuid[i].n_regs * sizeof(*r));
		l[i].regs = r;
		d->n_cpuid = i + 1;
	}
	return d;
fail:
	cpu_template_free(d);
	return NULL;
}
