/* How the controller brings a VM to life, whether it was built from a
 * configuration (InstanceStart) or from a snapshot (runtime/control/
 * snapshot.c), and the names of the states it then goes through. */
#include <string.h>

#include "runtime/control/controller.h"

const char *controller_state_name(enum controller_state s)
{
	/* Firecracker's InstanceInfo.state values. */
	switch (s) {
	case CONTROLLER_NOT_STARTED: return "Not started";
	case CONTROLLER_RUNNING: return "Running";
	case CONTROLLER_PAUSED: return "Paused";
	}
	return "?";
}

struct vm_opts controller_vm_opts(const struct controller *c)
{
	return (struct vm_opts){
		.loop = c->opts.loop,
		.boot_timer = c->opts.boot_timer,
		/* With serial_out_path the console has no input (Firecracker). */
		.console_in = c->serial_fd >= 0 ? -1 : c->opts.console_in,
		.console_out = c->serial_fd >= 0 ? c->serial_fd : c->opts.console_out,
		.start_wall = c->opts.start_wall,
		.start_cpu = c->opts.start_cpu,
		.mmds = (struct mmds *)&c->mmds,
	};
}

int controller_go_live(struct controller *c, struct errbuf *err)
{
	atomic_store(&c->vm_live, true);
	int code = atomic_load(&c->exit_request);
	if (code >= 0)
		vm_request_exit(&c->vm, code);
	int r = vm_start(&c->vm);
	if (r < 0) {
		vm_stop(&c->vm);
		atomic_store(&c->vm_live, false);
		vm_destroy(&c->vm);
		return err_set(err, r, "cannot start the VM: %s", strerror(-r));
	}
	return 0;
}
