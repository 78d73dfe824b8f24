/* The gate vCPU threads pass between two runs of guest code: it parks them
 * while the VMM thread pauses the VM, and tells them when the VM ends.
 *
 * Threads: run_gate_pass and run_gate_leave on vCPU threads; run_gate_pause,
 * _resume, _enter and _wake on the VMM thread; run_gate_close from any
 * thread and from signal handlers (it only stores an atomic, which is why
 * the pause wait polls instead of relying on a signal). */
#ifndef EMBER_VM_RUN_GATE_H
#define EMBER_VM_RUN_GATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct run_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pause_requested;
	unsigned nr_parked;  /* vCPU threads waiting in run_gate_pass */
	unsigned nr_running; /* vCPU threads between run_gate_enter and _leave */
	atomic_bool closed;
};

void run_gate_init(struct run_gate *g);
void run_gate_destroy(struct run_gate *g);
/* Counts a vCPU thread about to start (before pthread_create), so a pause
 * asked at once waits for it too. */
void run_gate_enter(struct run_gate *g);
/* A vCPU thread ends (or failed to start): a pending pause stops waiting. */
void run_gate_leave(struct run_gate *g);
/* Between runs: parks while a pause is asked for. False once the gate is
 * closed: the thread must end. */
bool run_gate_pass(struct run_gate *g);
/* The VM ends: threads stop parking and leave. Async-signal-safe. */
void run_gate_close(struct run_gate *g);
bool run_gate_closed(struct run_gate *g);
/* After run_gate_close from a signal handler: wakes threads already parked. */
void run_gate_wake(struct run_gate *g);
/* Asks for a pause, calls kick(ctx) to get every thread out of guest code,
 * and waits until all running threads are parked. -ESHUTDOWN if the gate
 * closed meanwhile; -ETIMEDOUT if they did not all park within timeout_ms,
 * in which case the pause is undone (a backend that ignores kicks must not
 * stall the VMM thread). */
int run_gate_pause(struct run_gate *g, void (*kick)(void *ctx), void *ctx, unsigned timeout_ms);
void run_gate_resume(struct run_gate *g);
bool run_gate_paused(struct run_gate *g);

#endif
