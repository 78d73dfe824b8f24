/* --accel: which backend each choice gives, and the built-in list. */
#include <criterion/criterion.h>
#include <string.h>

#include "runtime/backend/accel.h"

Test(accel, built_in_lists_both_in_preference_order)
{
	cr_assert_str_eq(accel_built_in(), "kvm tcg");
	cr_assert_str_eq(accel_built_in(), "kvm tcg", "same on a second call");
}

Test(accel, kvm_is_taken_as_asked)
{
	struct errbuf err = { 0 };
	cr_assert_eq(accel_select(CONFIG_ACCEL_KVM, &err), &backend_kvm);
}

Test(accel, tcg_is_taken_after_its_probe)
{
	struct errbuf err = { 0 };
	cr_assert_eq(accel_select(CONFIG_ACCEL_TCG, &err), &backend_tcg, "%s", err.msg);
}

Test(accel, auto_prefers_a_working_kvm)
{
	struct errbuf err = { 0 };
	char why[256];
	const struct backend_ops *want = backend_kvm.probe(why, sizeof(why)) == 0 ? &backend_kvm
										   : &backend_tcg;
	cr_assert_eq(accel_select(CONFIG_ACCEL_AUTO, &err), want, "%s", err.msg);
}
