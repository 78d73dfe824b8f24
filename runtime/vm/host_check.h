/* The host's side of a configuration, checked when it is set (a PUT, a
 * config file) rather than at InstanceStart, as Firecracker does: the
 * kernel and initrd can be read, a drive's file opens the way is_read_only
 * asks, a network interface's TAP opens (TUNSETIFF, and takes its MTU),
 * the vsock socket's directory exists. Nothing is kept open: the VM opens
 * everything again when it is built, so a configuration holds no fd and a
 * replaced one leaves nothing behind. Paths are the process's own (inside
 * the jail for a jailed VMM). VMM thread (its seccomp list allows what
 * these make). Each returns 0 or -errno, err naming the field, the path
 * and the reason. */
#ifndef EMBER_VM_HOST_CHECK_H
#define EMBER_VM_HOST_CHECK_H

#include "config/config.h"
#include "runtime/base/err.h"

int host_check_boot(const struct config_boot *b, struct errbuf *err);
int host_check_drive(const struct config_drive *d, struct errbuf *err);
int host_check_net(const struct config_net *n, struct errbuf *err);
int host_check_vsock(const struct config_vsock *v, struct errbuf *err);
/* Every section of a config file, each error prefixed with its place
 * ("drives[1] (data): ..."). A snapshot-load file has nothing to check. */
int host_check_config(const struct vm_config *cfg, struct errbuf *err);

#endif
