/* CPUID as the guest sees it: the host's supported leaves, normalized for
 * our topology, then narrowed by a CPU template (machine-config.cpu_template)
 * so that guests see one feature set across a fleet of hosts. */
#ifndef EMBER_CPU_TEMPLATE_H
#define EMBER_CPU_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/err.h"

struct cpuid_entry {
	uint32_t function, index;
	uint32_t eax, ebx, ecx, edx;
};

/* Rewrites entries in place for vCPU `index` of `nr_vcpus`: APIC ids,
 * topology leaves, hypervisor bit, PMU hidden, then the template's masks.
 * name NULL or "None" applies no mask. Unknown names: -EINVAL. */
int cpu_template_apply(const char *name, struct cpuid_entry *e, size_t n, unsigned index,
		       unsigned nr_vcpus, struct errbuf *err);

#endif
