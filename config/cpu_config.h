/* A custom CPU template: Firecracker's "cpu-config" (PUT /cpu-config, the
 * config file's "cpu-config" section), as plain data. The static templates
 * (machine-config's cpu_template) are expressed in the same form by
 * runtime/backend/cpu_template.c, which also applies them.
 *
 * Bitmaps keep Firecracker's meaning: each bit is 0, 1 or x (keep the
 * host's); in memory, `mask` has a 1 where the template decides the bit
 * and `value` holds what it decides (value & ~mask == 0). */
#ifndef EMBER_CONFIG_CPU_CONFIG_H
#define EMBER_CONFIG_CPU_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/err.h"

/* Sanity caps (Firecracker has none; a body is at most 51200 bytes). KVM
 * holds at most 256 CPUID entries. */
#define CPU_CONFIG_MAX_CPUID 256
#define CPU_CONFIG_MAX_REGS 32 /* register modifiers per leaf */
#define CPU_CONFIG_MAX_MSRS 128
#define CPU_CONFIG_MAX_CAPS 64

/* KVM's kvm_cpuid_entry2 flags (linux/kvm.h): the only ones accepted. */
#define CPUID_FLAG_SIGNIFICANT_INDEX 1u
#define CPUID_FLAG_STATEFUL_FUNC 2u
#define CPUID_FLAG_STATE_READ_NEXT 4u
#define CPUID_FLAGS_KNOWN 7u

enum cpuid_reg { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

struct cpuid_reg_mod {
	enum cpuid_reg reg;
	uint32_t mask, value;
};

/* One leaf/subleaf and what to do to its registers, in order. */
struct cpuid_leaf_mod {
	uint32_t leaf, subleaf, flags;
	size_t n_regs;
	const struct cpuid_reg_mod *regs;
};

struct msr_mod {
	uint32_t addr;
	uint64_t mask, value;
};

/* "N" adds capability N to the set KVM must offer; "!N" removes it. */
struct kvm_cap_mod {
	uint32_t cap;
	bool remove;
};

struct cpu_template {
	size_t n_caps, n_cpuid, n_msrs;
	const struct kvm_cap_mod *caps;
	const struct cpuid_leaf_mod *cpuid;
	const struct msr_mod *msrs;
};

/* Firecracker's bitmap string: an optional "0b", then up to `bits` digits
 * of 0, 1 or x, the last one bit 0, with '_' anywhere between them for
 * readability; bits not given are x. -EINVAL with the reason in err. */
int cpu_bitmap_parse(const char *s, unsigned bits, uint64_t *mask, uint64_t *value,
		     struct errbuf *err);
/* "0b" and `bits` digits, as Firecracker prints one; out holds bits + 3. */
void cpu_bitmap_format(uint64_t mask, uint64_t value, unsigned bits, char *out);

/* PUT /cpu-config's body into a new *out (free with cpu_template_free).
 * Errors name the place: `cpuid_modifiers[2].modifiers[0].bitmap: ...`. */
int config_parse_cpu_config(json_t *obj, struct cpu_template **out, struct errbuf *err);
/* Firecracker's serialization (hex leaf, subleaf, addr; full bitmaps). */
json_t *config_cpu_config_to_json(const struct cpu_template *t);
/* A deep copy; NULL on ENOMEM (or for NULL). */
struct cpu_template *cpu_template_dup(const struct cpu_template *t);
/* Frees what config_parse_cpu_config or cpu_template_dup made. */
void cpu_template_free(struct cpu_template *t);

#endif
