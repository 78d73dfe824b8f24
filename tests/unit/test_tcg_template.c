/* runtime/backend/tcg/template.c: a CPU template on the software CPU's
 * fixed CPUID table, and what it refuses, through the backend's
 * vm_create as the VM builder calls it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "runtime/backend/tcg/tcg.h"
#include "runtime/base/bus.h"
#include "runtime/base/gmem.h"

static struct guest_mem mem;
static struct bus mmio, pio;
static struct backend_vm *vm;

static void setup(void)
{
	cr_assert_eq(gm_alloc(&mem, 1 << 20), 0);
	bus_init(&mmio, "mmio");
	bus_init(&pio, "pio");
	vm = NULL;
}

static void teardown(void)
{
	if (vm)
		backend_tcg.vm_destroy(vm);
	gm_free(&mem);
}

TestSuite(tcg_template, .init = setup, .fini = teardown);

static int create(enum config_cpu_template t, const struct cpu_template *custom,
		  struct errbuf *err)
{
	struct backend_vm_opts o = { .nr_vcpus = 1, .cpu_template = t, .cpu_config = custom,
				     .mem = &mem, .mmio_bus = &mmio, .pio_bus = &pio };
	return backend_tcg.vm_create(&o, &vm, err);
}

Test(tcg_template, custom_modifiers_shape_the_table)
{
	static const struct cpuid_reg_mod l1[] = { { CPUID_ECX, 1u << 20, 0 }, /* SSE4.2 off */
						   { CPUID_EAX, ~0u, 0x000306f2 } };
	static const struct cpuid_reg_mod l7[] = { { CPUID_EBX, 1u << 9, 1u << 9 } };
	static const struct cpuid_leaf_mod leaves[] = { { 1, 0, 0, 2, l1 }, { 7, 0, 1, 1, l7 } };
	static const struct kvm_cap_mod caps[] = { { 999999, false } };
	struct cpu_template t = { .n_caps = 1, .caps = caps, .n_cpuid = 2, .cpuid = leaves };
	struct errbuf err = { "" };
	struct tcg_cpuid_regs plain, r;
	cr_assert_eq(create(CONFIG_CPU_TEMPLATE_CUSTOM, &t, &err), 0, "%s", err.msg);
	tcg_cpuid(1, 0, &plain);
	tcg_template_cpuid(vm, 1, 0, &r);
	cr_assert_eq(r.eax, 0x000306f2);
	cr_assert_eq(r.ecx, plain.ecx & ~(1u << 20));
	cr_assert_eq(r.edx, plain.edx);
	tcg_template_cpuid(vm, 1, 5, &r);
	cr_assert_eq(r.eax, 0x000306f2, "leaf 1 answers every subleaf");
	tcg_template_cpuid(vm, 7, 0, &r);
	cr_assert_eq(r.ebx, 1u << 9);
	tcg_template_cpuid(vm, 7, 1, &r);
	cr_assert_eq(r.ebx, 0, "leaf 7's other subleaves are the table's");
	tcg_template_cpuid(vm, 0x80000001, 0, &r);
	tcg_cpuid(0x80000001, 0, &plain);
	cr_assert_eq(memcmp(&r, &plain, sizeof(r)), 0, "untouched leaf");
}

Test(tcg_template, refusals_say_why)
{
	struct errbuf err = { "" };
	cr_assert_eq(create(CONFIG_CPU_TEMPLATE_C3, NULL, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "C3 is made for GenuineIntel CPUs; the software CPU is "
				  "AuthenticAMD"),
		  "%s", err.msg);
	cr_assert_null(vm);
	cr_assert_eq(create(CONFIG_CPU_TEMPLATE_T2A, NULL, &err), -ENOENT);
	cr_assert(strstr(err.msg, "leaf 0xd subleaf 0x0 is not a CPUID leaf the software CPU has"),
		  "%s", err.msg);
	static const struct msr_mod msrs[] = { { 0x277, 0xff, 4 }, { 0x174, 1, 1 } };
	struct cpu_template t = { .n_msrs = 2, .msrs = msrs };
	cr_assert_eq(create(CONFIG_CPU_TEMPLATE_CUSTOM, &t, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "msr_modifiers[1]: MSR 0x174 is not one the software CPU keeps"),
		  "%s", err.msg);
	cr_assert_null(vm);
	t.n_msrs = 1;
	cr_assert_eq(create(CONFIG_CPU_TEMPLATE_CUSTOM, &t, &err), 0, "%s", err.msg);
}
