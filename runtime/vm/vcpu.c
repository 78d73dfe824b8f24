#include "runtime/vm/vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "runtime/base/log.h"
#include "runtime/base/seccomp.h"

enum vcpu_action vcpu_dispatch_exit(const struct bus *mmio, const struct bus *pio,
				    struct vcpu_exit *exit)
{
	switch (exit->reason) {
	case VCPU_EXIT_IO: {
		uint32_t size = exit->io.size;
		if (size != 1 && size != 2 && size != 4)
			return VCPU_ACTION_FATAL;
		/* String I/O (rep ins/outs) arrives as count elements. */
		for (uint32_t i = 0; i < exit->io.count; i++) {
			uint8_t *d = exit->io.data + (size_t)i * size;
			if (exit->io.is_write)
				bus_write(pio, exit->io.port, d, size);
			else
				bus_read(pio, exit->io.port, d, size);
		}
		return VCPU_ACTION_CONTINUE;
	}
	case VCPU_EXIT_MMIO:
		if (exit->mmio.len == 0 || exit->mmio.len > 8)
			return VCPU_ACTION_FATAL;
		if (exit->mmio.is_write)
			bus_write(mmio, exit->mmio.addr, exit->mmio.data, exit->mmio.len);
		else
			bus_read(mmio, exit->mmio.addr, exit->mmio.data, exit->mmio.len);
		return VCPU_ACTION_CONTINUE;
	case VCPU_EXIT_HLT:
	case VCPU_EXIT_KICKED:
		return VCPU_ACTION_CONTINUE;
	case VCPU_EXIT_RESET:
		return VCPU_ACTION_RESET;
	case VCPU_EXIT_SHUTDOWN:
	case VCPU_EXIT_INTERNAL_ERROR:
	case VCPU_EXIT_FAIL_ENTRY:
	case VCPU_EXIT_UNKNOWN:
	default:
		return VCPU_ACTION_FATAL;
	}
}

static const char *exit_name(const struct vcpu_exit *exit)
{
	switch (exit->reason) {
	case VCPU_EXIT_SHUTDOWN: return "triple fault (shutdown)";
	case VCPU_EXIT_IO: return "bad port I/O exit";
	case VCPU_EXIT_MMIO: return "bad MMIO exit";
	default: return exit->error.what[0] ? exit->error.what : "unhandled exit";
	}
}

/* One line naming the vCPU, RIP and the bytes there, for a fatal exit. */
static void vcpu_report(struct vcpu *v, const struct vcpu_exit *exit)
{
	const struct vcpu_host *h = v->host;
	struct x86_regs regs;
	char bytes[3 * 16 + 1] = "";
	uint8_t insn[16];
	uint32_t n = 0;

	if (h->be->get_regs(v->bv, &regs) < 0)
		regs.rip = ~0ULL;
	if (exit->reason == VCPU_EXIT_INTERNAL_ERROR && exit->error.nr_insn) {
		n = exit->error.nr_insn;
		memcpy(insn, exit->error.insn, n);
	} else {
		uint64_t gpa;
		if (h->be->translate(v->bv, regs.rip, &gpa) == 0) {
			/* Stop at the page end: the next page may not be mapped. */
			uint64_t room = 4096 - (gpa & 4095);
			n = room < sizeof(insn) ? (uint32_t)room : (uint32_t)sizeof(insn);
			if (gm_read(h->mem, gpa, insn, n) < 0)
				n = 0;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		snprintf(bytes + 3 * i, sizeof(bytes) - 3 * i, "%02x ", insn[i]);
	log_err("vCPU %u: %s at RIP 0x%016" PRIx64 ", code bytes: %s", v->index, exit_name(exit),
		regs.rip, n ? bytes : "(unreadable)");
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	const struct vcpu_host *h = v->host;
	struct vcpu_exit exit;
	char name[16];

	snprintf(name, sizeof(name), "ember-vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	/* Before the first guest instruction; on top of the VMM filter the
	 * thread inherited from the VMM thread that made it. */
	seccomp_enter(h->be->vcpu_thread);
	while (run_gate_pass(h->gate)) {
		exit.other = false;
		exit.vcpu = 0;
		int r = h->be->vcpu_run(v->bv, &exit);
		if (r < 0) {
			log_err("vCPU %u: run failed: %s", v->index, strerror(-r));
			h->end(h->ctx, VM_EXIT_FAILURE);
			break;
		}
		enum vcpu_action act = vcpu_dispatch_exit(h->mmio, h->pio, &exit);
		if (act == VCPU_ACTION_RESET) {
			log_info("vCPU %u: guest reset", v->index);
			h->end(h->ctx, VM_EXIT_RESET);
			break;
		}
		if (act == VCPU_ACTION_FATAL) {
			/* The vCPU the exit is about, with its registers. */
			struct vcpu *src = v;
			if (exit.other && h->vcpus && exit.vcpu < h->nr_vcpus)
				src = &h->vcpus[exit.vcpu];
			vcpu_report(src, &exit);
			h->end(h->ctx, VM_EXIT_FAILURE);
			break;
		}
	}
	run_gate_leave(h->gate);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	/* Process-control signals belong to the VMM thread; the backend's kick
	 * signal (a real-time one) stays deliverable here. */
	sigset_t ctl, old;
	sigemptyset(&ctl);
	sigaddset(&ctl, SIGINT);
	sigaddset(&ctl, SIGTERM);
	sigaddset(&ctl, SIGHUP);
	sigaddset(&ctl, SIGQUIT);
	sigaddset(&ctl, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &ctl, &old);
	run_gate_enter(v->host->gate);
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		run_gate_leave(v->host->gate);
		return -r;
	}
	v->started = true;
	return 0;
}

void vcpu_stop(struct vcpu *v)
{
	if (!v->started)
		return;
	v->host->be->vcpu_kick(v->bv);
	pthread_join(v->thread, NULL);
	v->started = false;
}
