/* CPUID as the guest sees it on KVM: the host's supported leaves,
 * normalized for our topology, then shaped by the VM's CPU template
 * (runtime/backend/cpu_template.h) so that guests see one feature set
 * across a fleet of hosts. */
#ifndef EMBER_KVM_CPU_TEMPLATE_H
#define EMBER_KVM_CPU_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/backend/cpu_template.h"
#include "runtime/base/err.h"

/* Rewrites entries in place for vCPU `index` of `nr_vcpus`: APIC ids,
 * topology leaves, hypervisor bit, PMU hidden, then the template's CPUID
 * modifiers (t NULL: none). The template was checked against the same
 * leaves when the VM was created (cpu_template_check_cpuid). */
int kvm_cpuid_shape(const struct cpu_template *t, struct cpuid_entry *e, size_t n,
		    unsigned index, unsigned nr_vcpus, struct errbuf *err);

#endif
