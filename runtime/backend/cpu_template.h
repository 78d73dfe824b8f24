/* CPU templates for both backends: the static ones Firecracker names in
 * machine-config's cpu_template (T2, T2S, C3, T2CL, T2A), expressed as
 * custom templates (config/cpu_config.h), and the pieces each backend uses
 * to apply one: CPUID modifiers on a table of leaves, bitmaps on MSR
 * values, the KVM capabilities a template requires. A template shapes
 * what the guest is told; it is no security boundary (see
 * docs/cpu-templates.md). */
#ifndef EMBER_BACKEND_CPU_TEMPLATE_H
#define EMBER_BACKEND_CPU_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "config/cpu_config.h"
#include "runtime/base/err.h"

/* One CPUID leaf/subleaf as a backend presents it; flags as KVM's
 * kvm_cpuid_entry2 (CPUID_FLAG_*). */
struct cpuid_entry {
	uint32_t function, index, flags;
	uint32_t eax, ebx, ecx, edx;
};

#define CPU_VENDOR_INTEL "GenuineIntel"
#define CPU_VENDOR_AMD "AuthenticAMD"

/* The vendor string CPUID leaf 0 spells in EBX, EDX, ECX; out holds 13. */
void cpu_vendor_of(uint32_t ebx, uint32_t ecx, uint32_t edx, char *out);

/* Firecracker's definition of a static template; NULL for None and Custom. */
const struct cpu_template *cpu_template_static(enum config_cpu_template t);

/* The template a VM gets: the static one named (refused unless the CPU's
 * vendor is the one it was made for, as Firecracker does), or custom when
 * t is CONFIG_CPU_TEMPLATE_CUSTOM. *out is NULL for None. what_cpu names
 * the CPU in errors ("this host", "the software CPU"). */
int cpu_template_select(enum config_cpu_template t, const struct cpu_template *custom,
			const char *vendor, const char *what_cpu,
			const struct cpu_template **out, struct errbuf *err);

/* A register after a bitmap: the template's bits where mask says, the
 * old ones elsewhere. */
static inline uint64_t cpu_bitmap_apply(uint64_t mask, uint64_t value, uint64_t old)
{
	return (old & ~mask) | (value & mask);
}

/* The entry of e[0..n) a modifier names (function and index equal), or NULL. */
struct cpuid_entry *cpuid_entry_find(struct cpuid_entry *e, size_t n, uint32_t leaf,
				     uint32_t subleaf);
/* -ENOENT naming the first modifier whose leaf/subleaf is not in e[0..n)
 * (Firecracker refuses those too: a template cannot invent a leaf). */
int cpu_template_check_cpuid(const struct cpu_template *t, struct cpuid_entry *e, size_t n,
			     const char *what_cpu, struct errbuf *err);
/* Applies every CPUID modifier, in order, to its entry (flags replaced by
 * the modifier's, as Firecracker); modifiers without an entry are skipped
 * (cpu_template_check_cpuid refuses them first). */
void cpu_template_apply_cpuid(const struct cpu_template *t, struct cpuid_entry *e, size_t n);

/* The KVM capabilities a VM with template t needs: base[0..n_base), plus
 * each "N", less each "!N", in order. Writes at most max into out and
 * returns how many there are. */
size_t cpu_template_caps(const struct cpu_template *t, const uint32_t *base, size_t n_base,
			 uint32_t *out, size_t max);

#endif
