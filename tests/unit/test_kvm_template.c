/* runtime/backend/kvm/template.c on this host's KVM: what vm_create
 * refuses for a CPU template, with the reason the API passes on, and a
 * vCPU that gets a template's CPUID and MSR. Skips without usable KVM. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "runtime/backend/kvm/kvm.h"
#include "runtime/base/gmem.h"

static struct guest_mem mem;
static struct backend_vm *vm;

static void setup(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_skip_test("no /dev/kvm here");
	close(fd);
	cr_assert_eq(gm_alloc(&mem, 1 << 20), 0);
	vm = NULL;
}

static void teardown(void)
{
	if (vm)
		backend_kvm.vm_destroy(vm);
	gm_free(&mem);
}

TestSuite(kvm_template, .init = setup, .fini = teardown);

static int create(enum config_cpu_template t, const struct cpu_template *custom,
		  struct errbuf *err)
{
	struct backend_vm_opts o = { .nr_vcpus = 1, .cpu_template = t, .cpu_config = custom,
				     .mem = &mem };
	return backend_kvm.vm_create(&o, &vm, err);
}

static const char *host_vendor(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	static char line[256];
	const char *v = "?";
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "vendor_id", 9) == 0) {
			v = strstr(line, "GenuineIntel") ? CPU_VENDOR_INTEL : CPU_VENDOR_AMD;
			break;
		}
	if (f)
		fclose(f);
	return v;
}

Test(kvm_template, refusals_name_what_is_missing)
{
	struct errbuf err = { "" };
	static const struct kvm_cap_mod caps[] = { { KVM_CAP_XSAVE, true }, { 999999, false } };
	struct cpu_template t = { .n_caps = 2, .caps = caps };
	cr_assert_eq(create(CONFIG_CPU_TEMPLATE_CUSTOM, &t, &err), -ENOTSUP);
	cr_assert_str_eq(err.msg, "kvm: kvm_capabilities: KVM capability 999999 is not offered by this "
				  "host's KVM");
	cr_assert_null(vm);
	t.n_caps = 1; /* removing one only stops its check */
	cr_assert_eq(create(CONFIG_CPU_TEMPLATE_CUSTOM, &t, &err), 0, "%s", err.msg);
	backend_kvm.vm_destroy(vm);
	vm = NULL;

	static const struct cpuid_leaf_mod leaves[] = { { 0x4ffffff0, 0, 0, 0, NULL } };
	struct cpu_template l = { .n_cpuid = 1, .cpuid = leaves };
	cr_assert_eq(create(CONFIG_CPU_TEMPLATE_CUSTOM, &l, &err), -ENOENT);
	cr_assert(strstr(err.msg, "leaf 0x4ffffff0 subleaf 0x0 is not a CPUID leaf this host's KVM "
				  "has"),
		  "%s", err.msg);
	static const struct msr_mod msrs[] = { { 0x12345, 1, 1 } };
	struct cpu_template m = { .n_msrs = 1, .msrs = msrs };
	cr_assert_eq(create(CONFIG_CPU_TEMPLATE_CUSTOM, &m, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "MSR 0x12345 is not one this host's KVM lets a VMM set"), "%s",
		  err.msg);

	enum config_cpu_template other = strcmp(host_vendor(), CPU_VENDOR_INTEL) == 0
						 ? CONFIG_CPU_TEMPLATE_T2A
						 : CONFIG_CPU_TEMPLATE_T2;
	cr_assert_eq(create(other, NULL, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "this host is"), "%s", err.msg);
}

/* The template's CPUID reaches KVM_SET_CPUID2 and its MSR the vCPU. */
Test(kvm_template, a_vcpu_gets_the_template)
{
	static const struct cpuid_reg_mod l1[] = { { CPUID_EAX, ~0u, 0x000306f2 } };
	static const struct cpuid_leaf_mod leaves[] = { { 1, 0, 0, 1, l1 } };
	static const struct msr_mod msrs[] = { { 0x277, 0xff, 0x04 } }; /* PAT entry 0: WT */
	struct cpu_template t = { .n_cpuid = 1, .cpuid = leaves, .n_msrs = 1, .msrs = msrs };
	struct errbuf err = { "" };
	cr_assert_eq(create(CONFIG_CPU_TEMPLATE_CUSTOM, &t, &err), 0, "%s", err.msg);
	struct backend_vcpu *v = NULL;
	cr_assert_eq(backend_kvm.vcpu_create(vm, 0, &v, &err), 0, "%s", err.msg);
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} c = { .c.nent = 256 };
	cr_assert_eq(ioctl(v->fd, KVM_GET_CPUID2, &c), 0, "%s", strerror(errno));
	bool found = false;
	for (unsigned i = 0; i < c.c.nent; i++)
		if (c.e[i].function == 1) {
			cr_assert_eq(c.e[i].eax, 0x000306f2);
			found = true;
		}
	cr_assert(found);
	struct {
		struct kvm_msrs m;
		struct kvm_msr_entry e[1];
	} m = { .m.nmsrs = 1, .e[0].index = 0x277 };
	cr_assert_eq(ioctl(v->fd, KVM_GET_MSRS, &m), 1);
	cr_assert_eq(m.e[0].data, 0x0007040600070404ULL);
	backend_kvm.vcpu_destroy(v);
}
