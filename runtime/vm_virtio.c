#include "runtime/vm_virtio.h"

#include <errno.h>

#include "config/config.h"
#include "runtime/vm.h"

int vm_virtio_create(struct vm *vm, const struct vm_config *cfg, struct cmdline *cl,
		     struct errbuf *err)
{
	(void)vm;
	(void)cl;
	/* Devices not built yet are refused, never ignored. */
	if (cfg->n_drives)
		return err_set(err, -ENOTSUP, "drives: not supported yet");
	if (cfg->n_nets)
		return err_set(err, -ENOTSUP, "network-interfaces: not supported yet");
	if (cfg->vsock.present)
		return err_set(err, -ENOTSUP, "vsock: not supported yet");
	if (cfg->entropy.present)
		return err_set(err, -ENOTSUP, "entropy: not supported yet");
	return 0;
}

void vm_virtio_destroy(struct vm *vm)
{
	(void)vm;
}
