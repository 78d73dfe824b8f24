/* runtime/vm/run_gate.c: the pause and end handshake with vCPU threads,
 * driven by plain threads standing in for vCPUs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "runtime/vm/run_gate.h"

static struct run_gate gate;
static atomic_ulong runs;
static atomic_int kicks;

static void *fake_vcpu(void *arg)
{
	(void)arg;
	while (run_gate_pass(&gate)) {
		atomic_fetch_add(&runs, 1); /* "guest code" */
		usleep(200);
	}
	run_gate_leave(&gate);
	return NULL;
}

static void count_kick(void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&kicks, 1);
}

static void setup(void)
{
	run_gate_init(&gate);
	atomic_store(&runs, 0);
	atomic_store(&kicks, 0);
}

static void teardown(void)
{
	run_gate_destroy(&gate);
}

TestSuite(run_gate, .init = setup, .fini = teardown, .timeout = 20);

Test(run_gate, pause_parks_every_thread_and_resume_lets_them_go)
{
	pthread_t t[3];
	for (int i = 0; i < 3; i++) {
		run_gate_enter(&gate);
		cr_assert_eq(pthread_create(&t[i], NULL, fake_vcpu, NULL), 0);
	}
	cr_assert_eq(run_gate_pause(&gate, count_kick, NULL, 2000), 0);
	cr_expect_eq(atomic_load(&kicks), 1);
	cr_expect(run_gate_paused(&gate));
	unsigned long before = atomic_load(&runs);
	usleep(20000);
	cr_expect_eq(atomic_load(&runs), before, "a paused thread ran guest code");
	run_gate_resume(&gate);
	cr_expect_not(run_gate_paused(&gate));
	usleep(20000);
	cr_expect_gt(atomic_load(&runs), before);
	/* Closing while paused releases the parked threads too. */
	cr_assert_eq(run_gate_pause(&gate, count_kick, NULL, 2000), 0);
	run_gate_close(&gate);
	run_gate_wake(&gate);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	cr_expect(run_gate_closed(&gate));
}

Test(run_gate, a_thread_that_never_parks_times_out_and_the_pause_is_undone)
{
	run_gate_enter(&gate); /* counted, but never reaches the gate */
	cr_assert_eq(run_gate_pause(&gate, count_kick, NULL, 50), -ETIMEDOUT);
	cr_expect_not(run_gate_paused(&gate), "a failed pause must leave the VM running");
	run_gate_leave(&gate);
	cr_expect_eq(run_gate_pause(&gate, count_kick, NULL, 50), 0, "nobody left to wait for");
}

Test(run_gate, pause_after_close_reports_shutdown)
{
	run_gate_enter(&gate);
	run_gate_close(&gate);
	cr_expect_eq(run_gate_pause(&gate, count_kick, NULL, 50), -ESHUTDOWN);
	cr_expect_not(run_gate_pass(&gate), "a closed gate sends threads home");
	run_gate_leave(&gate);
}
