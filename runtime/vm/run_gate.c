#include "runtime/vm/run_gate.h"

#include <errno.h>
#include <time.h>

#include "runtime/base/log.h"

void run_gate_init(struct run_gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->pause_requested = false;
	g->nr_parked = g->nr_running = 0;
	atomic_init(&g->closed, false);
}

void run_gate_destroy(struct run_gate *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
}

void run_gate_enter(struct run_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->nr_running++;
	pthread_mutex_unlock(&g->lock);
}

void run_gate_leave(struct run_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->nr_running--;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

bool run_gate_pass(struct run_gate *g)
{
	pthread_mutex_lock(&g->lock);
	if (g->pause_requested && !atomic_load(&g->closed)) {
		g->nr_parked++;
		pthread_cond_broadcast(&g->cond);
		while (g->pause_requested && !atomic_load(&g->closed))
			pthread_cond_wait(&g->cond, &g->lock);
		g->nr_parked--;
	}
	pthread_mutex_unlock(&g->lock);
	return !atomic_load(&g->closed);
}

void run_gate_close(struct run_gate *g)
{
	atomic_store(&g->closed, true);
}

bool run_gate_closed(struct run_gate *g)
{
	return atomic_load(&g->closed);
}

void run_gate_wake(struct run_gate *g)
{
	pthread_mutex_lock(&g->lock);
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

#define RUN_GATE_POLL_MS 10

int run_gate_pause(struct run_gate *g, void (*kick)(void *ctx), void *ctx, unsigned timeout_ms)
{
	pthread_mutex_lock(&g->lock);
	g->pause_requested = true;
	pthread_mutex_unlock(&g->lock);
	kick(ctx);
	pthread_mutex_lock(&g->lock);
	unsigned waited_ms = 0;
	while (g->nr_parked < g->nr_running && !atomic_load(&g->closed) &&
	       waited_ms < timeout_ms) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += RUN_GATE_POLL_MS * 1000 * 1000;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->cond, &g->lock, &t);
		waited_ms += RUN_GATE_POLL_MS;
	}
	bool closed = atomic_load(&g->closed);
	bool parked = g->nr_parked >= g->nr_running;
	if (!closed && !parked) {
		log_err("pause: %u of %u vCPUs parked after %u ms; resuming", g->nr_parked,
			g->nr_running, timeout_ms);
		g->pause_requested = false;
		pthread_cond_broadcast(&g->cond);
	}
	pthread_mutex_unlock(&g->lock);
	return closed ? -ESHUTDOWN : parked ? 0 : -ETIMEDOUT;
}

void run_gate_resume(struct run_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->pause_requested = false;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

bool run_gate_paused(struct run_gate *g)
{
	pthread_mutex_lock(&g->lock);
	bool paused = g->pause_requested;
	pthread_mutex_unlock(&g->lock);
	return paused;
}
