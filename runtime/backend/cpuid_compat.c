/* The CPUID compatibility check of a cross-backend restore; see
 * cpuid_compat.h. */
#include "runtime/backend/cpuid_compat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { EAX, EBX, ECX, EDX };

/* The feature registers compared (docs/snapshots.md); 0xd.0 EAX/EDX are
 * XCR0's components, handled apart. */
static const struct feature_reg {
	uint32_t leaf, subleaf;
	unsigned reg;
	uint32_t ignore; /* state or topology, not features */
} feature_regs[] = {
	{ 1, 0, EDX, 1u << 28 },         /* HTT: how many vCPUs share a package */
	{ 1, 0, ECX, 1u << 27 },         /* OSXSAVE: CR4.OSXSAVE as the guest set it */
	{ 7, 0, EBX, 0 },
	{ 7, 0, ECX, 1u << 4 },          /* OSPKE: CR4.PKE */
	{ 7, 0, EDX, 0 },
	{ 7, 1, EAX, 0 },
	{ 0xd, 1, EAX, 0 },
	{ 0x80000001, 0, ECX, 0 },
	{ 0x80000001, 0, EDX, 0 },
	{ 0x80000007, 0, EDX, 0 },
	{ 0x80000008, 0, EBX, 0 },
};

/* XCR0 components every x86-64 CPU holds (x87 and SSE state, which FXSAVE
 * carries too): a table listing them offers nothing a target could lack. */
#define XCR0_LEGACY 0x3ull

struct bit_name {
	uint32_t leaf, subleaf;
	uint8_t reg, bit;
	const char *name;
};

/* Linux's /proc/cpuinfo names (arch/x86/include/asm/cpufeatures.h). */
static const struct bit_name names[] = {
	{ 1, 0, EDX, 0, "fpu" },	 { 1, 0, EDX, 1, "vme" },	 { 1, 0, EDX, 2, "de" },
	{ 1, 0, EDX, 3, "pse" },	 { 1, 0, EDX, 4, "tsc" },	 { 1, 0, EDX, 5, "msr" },
	{ 1, 0, EDX, 6, "pae" },	 { 1, 0, EDX, 7, "mce" },	 { 1, 0, EDX, 8, "cx8" },
	{ 1, 0, EDX, 9, "apic" },	 { 1, 0, EDX, 11, "sep" },	 { 1, 0, EDX, 12, "mtrr" },
	{ 1, 0, EDX, 13, "pge" },	 { 1, 0, EDX, 14, "mca" },	 { 1, 0, EDX, 15, "cmov" },
	{ 1, 0, EDX, 16, "pat" },	 { 1, 0, EDX, 17, "pse36" },	 { 1, 0, EDX, 19, "clflush" },
	{ 1, 0, EDX, 21, "dts" },	 { 1, 0, EDX, 22, "acpi" },	 { 1, 0, EDX, 23, "mmx" },
	{ 1, 0, EDX, 24, "fxsr" },	 { 1, 0, EDX, 25, "sse" },	 { 1, 0, EDX, 26, "sse2" },
	{ 1, 0, EDX, 27, "ss" },	 { 1, 0, EDX, 29, "tm" },	 { 1, 0, EDX, 31, "pbe" },
	{ 1, 0, ECX, 0, "pni" },	 { 1, 0, ECX, 1, "pclmulqdq" },	 { 1, 0, ECX, 2, "dtes64" },
	{ 1, 0, ECX, 3, "monitor" },	 { 1, 0, ECX, 4, "ds_cpl" },	 { 1, 0, ECX, 5, "vmx" },
	{ 1, 0, ECX, 6, "smx" },	 { 1, 0, ECX, 7, "est" },	 { 1, 0, ECX, 8, "tm2" },
	{ 1, 0, ECX, 9, "ssse3" },	 { 1, 0, ECX, 10, "cid" },	 { 1, 0, ECX, 11, "sdbg" },
	{ 1, 0, ECX, 12, "fma" },	 { 1, 0, ECX, 13, "cx16" },	 { 1, 0, ECX, 14, "xtpr" },
	{ 1, 0, ECX, 15, "pdcm" },	 { 1, 0, ECX, 17, "pcid" },	 { 1, 0, ECX, 18, "dca" },
	{ 1, 0, ECX, 19, "sse4_1" },	 { 1, 0, ECX, 20, "sse4_2" },	 { 1, 0, ECX, 21, "x2apic" },
	{ 1, 0, ECX, 22, "movbe" },	 { 1, 0, ECX, 23, "popcnt" },
	{ 1, 0, ECX, 24, "tsc_deadline_timer" },			 { 1, 0, ECX, 25, "aes" },
	{ 1, 0, ECX, 26, "xsave" },	 { 1, 0, ECX, 28, "avx" },	 { 1, 0, ECX, 29, "f16c" },
	{ 1, 0, ECX, 30, "rdrand" },	 { 1, 0, ECX, 31, "hypervisor" },
	{ 7, 0, EBX, 0, "fsgsbase" },	 { 7, 0, EBX, 1, "tsc_adjust" }, { 7, 0, EBX, 3, "bmi1" },
	{ 7, 0, EBX, 4, "hle" },	 { 7, 0, EBX, 5, "avx2" },	 { 7, 0, EBX, 7, "smep" },
	{ 7, 0, EBX, 8, "bmi2" },	 { 7, 0, EBX, 9, "erms" },	 { 7, 0, EBX, 10, "invpcid" },
	{ 7, 0, EBX, 11, "rtm" },	 { 7, 0, EBX, 14, "mpx" },	 { 7, 0, EBX, 16, "avx512f" },
	{ 7, 0, EBX, 17, "avx512dq" },	 { 7, 0, EBX, 18, "rdseed" },	 { 7, 0, EBX, 19, "adx" },
	{ 7, 0, EBX, 20, "smap" },	 { 7, 0, EBX, 21, "avx512ifma" },
	{ 7, 0, EBX, 23, "clflushopt" }, { 7, 0, EBX, 24, "clwb" },	 { 7, 0, EBX, 26, "avx512pf" },
	{ 7, 0, EBX, 27, "avx512er" },	 { 7, 0, EBX, 28, "avx512cd" },	 { 7, 0, EBX, 29, "sha_ni" },
	{ 7, 0, EBX, 30, "avx512bw" },	 { 7, 0, EBX, 31, "avx512vl" },
	{ 7, 0, ECX, 1, "avx512vbmi" },	 { 7, 0, ECX, 2, "umip" },	 { 7, 0, ECX, 3, "pku" },
	{ 7, 0, ECX, 5, "waitpkg" },	 { 7, 0, ECX, 6, "avx512_vbmi2" },
	{ 7, 0, ECX, 8, "gfni" },	 { 7, 0, ECX, 9, "vaes" },	 { 7, 0, ECX, 10, "vpclmulqdq" },
	{ 7, 0, ECX, 11, "avx512_vnni" }, { 7, 0, ECX, 12, "avx512_bitalg" },
	{ 7, 0, ECX, 14, "avx512_vpopcntdq" },				 { 7, 0, ECX, 16, "la57" },
	{ 7, 0, ECX, 22, "rdpid" },	 { 7, 0, ECX, 25, "cldemote" },	 { 7, 0, ECX, 27, "movdiri" },
	{ 7, 0, ECX, 28, "movdir64b" },
	{ 7, 0, EDX, 4, "fsrm" },	 { 7, 0, EDX, 10, "md_clear" },	 { 7, 0, EDX, 14, "serialize" },
	{ 7, 0, EDX, 26, "spec_ctrl" },	 { 7, 0, EDX, 27, "intel_stibp" },
	{ 7, 0, EDX, 28, "flush_l1d" },	 { 7, 0, EDX, 29, "arch_capabilities" },
	{ 7, 0, EDX, 30, "core_capabilities" },				 { 7, 0, EDX, 31, "spec_ctrl_ssbd" },
	{ 7, 1, EAX, 4, "avx_vnni" },	 { 7, 1, EAX, 5, "avx512_bf16" },
	{ 0xd, 1, EAX, 0, "xsaveopt" },	 { 0xd, 1, EAX, 1, "xsavec" },	 { 0xd, 1, EAX, 2, "xgetbv1" },
	{ 0xd, 1, EAX, 3, "xsaves" },
	{ 0x80000001, 0, ECX, 0, "lahf_lm" },				 { 0x80000001, 0, ECX, 2, "svm" },
	{ 0x80000001, 0, ECX, 5, "abm" },				 { 0x80000001, 0, ECX, 6, "sse4a" },
	{ 0x80000001, 0, ECX, 8, "3dnowprefetch" },
	{ 0x80000001, 0, EDX, 11, "syscall" },				 { 0x80000001, 0, EDX, 20, "nx" },
	{ 0x80000001, 0, EDX, 26, "pdpe1gb" },				 { 0x80000001, 0, EDX, 27, "rdtscp" },
	{ 0x80000001, 0, EDX, 29, "lm" },
	{ 0x80000007, 0, EDX, 8, "constant_tsc (invariant TSC)" },
	{ 0x80000008, 0, EBX, 9, "wbnoinvd" },
};

/* XCR0 bits (SDM vol. 1, 13.1), as Linux's xstate names. */
static const char *const xcr0_names[64] = {
	[0] = "x87",	    [1] = "sse",	 [2] = "avx (YMM)", [3] = "mpx bndregs",
	[4] = "mpx bndcsr", [5] = "avx512 opmask", [6] = "avx512 zmm_hi256",
	[7] = "avx512 hi16_zmm", [9] = "pkru", [17] = "amx xtilecfg", [18] = "amx xtiledata",
};

static const char *const reg_names[4] = { "EAX", "EBX", "ECX", "EDX" };

void cpuid_lookup(const struct cpuid_entry *e, size_t n, uint32_t leaf, uint32_t subleaf,
		  uint32_t regs[4])
{
	regs[0] = regs[1] = regs[2] = regs[3] = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].function != leaf ||
		    ((e[i].flags & CPUID_FLAG_SIGNIFICANT_INDEX) && e[i].index != subleaf))
			continue;
		regs[0] = e[i].eax, regs[1] = e[i].ebx, regs[2] = e[i].ecx, regs[3] = e[i].edx;
		return;
	}
}

void cpuid_vendor(const struct cpuid_entry *e, size_t n, char out[13])
{
	out[0] = 0;
	for (size_t i = 0; i < n; i++)
		if (e[i].function == 0) {
			cpu_vendor_of(e[i].ebx, e[i].ecx, e[i].edx, out);
			/* From a file: printable in messages. */
			for (int k = 0; k < 12; k++)
				if (out[k] < 0x20 || out[k] > 0x7e)
					out[k] = '?';
			out[12] = 0;
			return;
		}
}

void cpuid_feature_name(uint32_t leaf, uint32_t subleaf, unsigned reg, unsigned bit, char *out,
			size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (names[i].leaf == leaf && names[i].subleaf == subleaf && names[i].reg == reg &&
		    names[i].bit == bit) {
			snprintf(out, len, "%s", names[i].name);
			return;
		}
	if (len)
		out[0] = 0;
}

static int refuse(struct errbuf *err, const char *what, uint32_t leaf, uint32_t subleaf,
		  unsigned reg, unsigned bit, const char *from, const char *target_desc)
{
	/* The SDM's notation, leaves below 10 in decimal as it writes them. */
	char where[64];
	snprintf(where, sizeof(where), leaf < 10 ? "CPUID.(EAX=%u,ECX=%u):%s[%u]"
						 : "CPUID.(EAX=%#x,ECX=%u):%s[%u]",
		 leaf, subleaf, reg_names[reg], bit);
	if (what[0])
		return err_set(err, -ENOTSUP, "the guest was offered %s (%s) on %s; %s lacks it",
			       what, where, from, target_desc);
	return err_set(err, -ENOTSUP, "the guest was offered the feature %s on %s; %s lacks it",
		       where, from, target_desc);
}

int cpuid_compat_check(const struct cpuid_entry *saved, size_t n_saved,
		       const struct cpuid_entry *target, size_t n_target, const char *from,
		       const char *target_desc, struct errbuf *err)
{
	for (size_t i = 0; i < ARRAY_LEN(feature_regs); i++) {
		const struct feature_reg *f = &feature_regs[i];
		uint32_t s[4], t[4];
		cpuid_lookup(saved, n_saved, f->leaf, f->subleaf, s);
		cpuid_lookup(target, n_target, f->leaf, f->subleaf, t);
		uint32_t missing = s[f->reg] & ~t[f->reg] & ~f->ignore;
		if (!missing)
			continue;
		unsigned bit = (unsigned)__builtin_ctz(missing);
		char name[48];
		cpuid_feature_name(f->leaf, f->subleaf, f->reg, bit, name, sizeof(name));
		return refuse(err, name, f->leaf, f->subleaf, f->reg, bit, from, target_desc);
	}
	/* XCR0's components: the state XSAVE would have to hold. */
	uint32_t s[4], t[4];
	cpuid_lookup(saved, n_saved, 0xd, 0, s);
	cpuid_lookup(target, n_target, 0xd, 0, t);
	uint64_t offered = ((uint64_t)s[EDX] << 32 | s[EAX]) & ~XCR0_LEGACY;
	uint64_t missing = offered & ~((uint64_t)t[EDX] << 32 | t[EAX]);
	if (missing) {
		unsigned bit = (unsigned)__builtin_ctzll(missing);
		char name[64] = "";
		if (xcr0_names[bit])
			snprintf(name, sizeof(name), "the XSAVE component %s", xcr0_names[bit]);
		return refuse(err, name, 0xd, 0, bit < 32 ? EAX : EDX, bit % 32, from,
			      target_desc);
	}
	return 0;
}

int cpuid_vendor_check(const struct cpuid_entry *saved, size_t n_saved, const char *vendor,
		       const char *from, const char *target_desc, struct errbuf *err)
{
	char v[13];
	cpuid_vendor(saved, n_saved, v);
	if (strcmp(v, vendor) == 0)
		return 0;
	return err_set(err, -ENOTSUP,
		       "the guest was shown the CPU vendor \"%s\" on %s; %s runs %s's instruction "
		       "semantics and cannot present another vendor",
		       v, from, target_desc, vendor);
}
