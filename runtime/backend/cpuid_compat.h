/* Whether a CPUID table a guest was shown can be shown to it again by
 * another CPU: every feature bit the guest was offered in the feature
 * leaves must be one the target CPU supports, and the vendor one it can
 * present. Used when a snapshot is restored (docs/snapshots.md, "Across
 * backends"). Tables are the backends' struct cpuid_entry lists; an entry
 * without CPUID_FLAG_SIGNIFICANT_INDEX answers every subleaf, as KVM's do. */
#ifndef EMBER_BACKEND_CPUID_COMPAT_H
#define EMBER_BACKEND_CPUID_COMPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/backend/cpu_template.h"
#include "runtime/base/err.h"

/* The registers of leaf/subleaf in e[0..n), zeros where absent. */
void cpuid_lookup(const struct cpuid_entry *e, size_t n, uint32_t leaf, uint32_t subleaf,
		  uint32_t regs[4]);

/* The vendor string of leaf 0 (13 bytes with the NUL); "" without leaf 0. */
void cpuid_vendor(const struct cpuid_entry *e, size_t n, char out[13]);

/* Writes the usual name of a feature bit ("avx2") into out, or "" for a
 * bit without one; reg is 0..3 for EAX..EDX. */
void cpuid_feature_name(uint32_t leaf, uint32_t subleaf, unsigned reg, unsigned bit, char *out,
			size_t len);

/* -ENOTSUP naming the first feature bit set in `saved` (what the guest was
 * offered on backend `from`) that `target` lacks, in the leaves
 * docs/snapshots.md lists, with err "the guest was offered avx2
 * (CPUID.(EAX=7,ECX=0):EBX[5]) on kvm; the software CPU (tcg) lacks it".
 * target_desc names the target ("the software CPU (tcg)"). Bits that
 * describe the moment (OSXSAVE, OSPKE) or the topology (HTT) are not
 * features and are not compared. */
int cpuid_compat_check(const struct cpuid_entry *saved, size_t n_saved,
		       const struct cpuid_entry *target, size_t n_target, const char *from,
		       const char *target_desc, struct errbuf *err);

/* -ENOTSUP unless the vendor in `saved` is `vendor`: for a target that
 * runs one vendor's instruction semantics and cannot present another. */
int cpuid_vendor_check(const struct cpuid_entry *saved, size_t n_saved, const char *vendor,
		       const char *from, const char *target_desc, struct errbuf *err);

#endif
