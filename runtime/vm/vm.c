#include "runtime/vm/vm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "config/config.h"
#include "runtime/boot/cpu.h"
#include "runtime/devices/boot_timer.h"
#include "runtime/boot/cmdline.h"
#include "runtime/devices/i8042.h"
#include "runtime/boot/layout.h"
#include "runtime/boot/loader.h"
#include "runtime/base/log.h"
#include "runtime/devices/serial.h"
#include "runtime/vm/vcpu.h"
#include "runtime/vm/virtio.h"

/* Used when boot-source has no boot_args: Firecracker's defaults, with the
 * serial console on (Firecracker turns it off by default). */
#define VM_DEFAULT_CMDLINE \
	"console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"

int vm_irq_set(void *opaque, unsigned gsi, bool level)
{
	struct vm *vm = opaque;
	return vm->be->set_irq_line(vm->bvm, gsi, level);
}

void vm_vcpu_gone(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->nr_started--;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_vcpu_checkpoint(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	if (vm->pause_requested && !atomic_load(&vm->stopping)) {
		vm->nr_parked++;
		pthread_cond_broadcast(&vm->pause_cond);
		while (vm->pause_requested && !atomic_load(&vm->stopping))
			pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
		vm->nr_parked--;
	}
	pthread_mutex_unlock(&vm->pause_lock);
}

#define VM_PAUSE_TIMEOUT_MS 2000

int vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_requested = true;
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].started)
			vm->be->vcpu_kick(vm->vcpus[i].bv);
	pthread_mutex_lock(&vm->pause_lock);
	/* Waits in 10 ms steps: vm_request_exit may come from a signal handler,
	 * which cannot signal the condition variable. A vCPU that does not park
	 * within VM_PAUSE_TIMEOUT_MS (a backend that ignores kicks) must not
	 * stall the VMM thread: the pause is then undone and reported. */
	unsigned waited_ms = 0;
	while (vm->nr_parked < vm->nr_started && !atomic_load(&vm->stopping) &&
	       waited_ms < VM_PAUSE_TIMEOUT_MS) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 10 * 1000 * 1000;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &t);
		waited_ms += 10;
	}
	bool stopping = atomic_load(&vm->stopping);
	bool parked = vm->nr_parked >= vm->nr_started;
	if (!stopping && !parked) {
		log_err("pause: %u of %u vCPUs parked after %u ms; resuming", vm->nr_parked,
			vm->nr_started, VM_PAUSE_TIMEOUT_MS);
		vm->pause_requested = false;
		pthread_cond_broadcast(&vm->pause_cond);
	}
	pthread_mutex_unlock(&vm->pause_lock);
	return stopping ? -ESHUTDOWN : parked ? 0 : -ETIMEDOUT;
}

int vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_requested = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

bool vm_is_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	bool paused = vm->pause_requested;
	pthread_mutex_unlock(&vm->pause_lock);
	return paused;
}

void vm_request_exit(struct vm *vm, int code)
{
	int expected = -1;
	atomic_compare_exchange_strong(&vm->exit_code, &expected, code);
	atomic_store(&vm->stopping, true);
	uint64_t one = 1;
	ssize_t w = write(vm->exit_efd, &one, sizeof(one));
	(void)w; /* a full counter still wakes the loop */
}

static void vm_on_reset(void *opaque)
{
	vm_request_exit(opaque, 0);
}

/* Sections whose devices are not built yet are refused, never ignored. */
static int vm_check_supported(const struct vm_config *cfg, struct errbuf *err)
{
	if (cfg->machine.huge_pages != CONFIG_HUGE_PAGES_NONE)
		return err_set(err, -ENOTSUP, "machine-config: huge_pages: not supported yet");
	if (cfg->machine.smt)
		return err_set(err, -ENOTSUP, "machine-config: smt: not supported yet");
	return 0;
}

static int vm_create_devices(struct vm *vm, struct errbuf *err)
{
	struct irq_line com1 = { vm_irq_set, vm, LAYOUT_COM1_IRQ };
	struct irq_line kbd = { vm_irq_set, vm, LAYOUT_I8042_IRQ };
	int r = serial_create(&vm->serial, &com1, vm->opts.console_out);
	if (r == 0)
		r = serial_register(vm->serial, &vm->pio, LAYOUT_COM1_PORT);
	if (r < 0)
		return err_set(err, r, "serial console: %s", strerror(-r));
	r = i8042_create(&vm->i8042, &kbd, vm_on_reset, vm);
	if (r == 0)
		r = i8042_register(vm->i8042, &vm->pio);
	if (r < 0)
		return err_set(err, r, "i8042: %s", strerror(-r));
	if (vm->opts.boot_timer) {
		r = boot_timer_create(&vm->boot_timer, &vm->opts.start_wall, &vm->opts.start_cpu);
		if (r == 0)
			r = boot_timer_register(vm->boot_timer, &vm->mmio, LAYOUT_BOOT_TIMER);
		if (r < 0)
			return err_set(err, r, "boot timer: %s", strerror(-r));
	}
	return 0;
}

static int vm_load(struct vm *vm, const struct vm_config *cfg, const struct cmdline *cl,
		   struct errbuf *err)
{
	struct boot_spec spec = {
		.kernel_path = cfg->boot.kernel_image_path,
		.initrd_path = cfg->boot.initrd_path,
		.cmdline = cl->buf,
		.nr_vcpus = vm->nr_vcpus,
		.no_mptable = !vm->be->has_apic,
	};
	struct boot_setup setup;
	struct x86_regs regs;
	struct x86_sregs sregs;
	int r = boot_load(&vm->mem, &spec, &setup, err);
	if (r < 0)
		return r;
	r = boot_cpu_state(&vm->mem, &setup, &regs, &sregs, err);
	if (r < 0)
		return r;
	log_info("kernel %s: entry 0x%" PRIx64 " (%s), cmdline \"%s\"", spec.kernel_path,
		 setup.entry, setup.mode == BOOT_ENTRY_PVH ? "PVH" : "64-bit boot protocol",
		 spec.cmdline);
	/* Only the BSP gets a boot state; APs wait for INIT/SIPI from it. */
	struct backend_vcpu *bsp = vm->vcpus[0].bv;
	if ((r = vm->be->set_sregs(bsp, &sregs)) < 0 || (r = vm->be->set_regs(bsp, &regs)) < 0)
		return err_set(err, r, "boot vCPU state: %s", strerror(-r));
	return 0;
}

static int vm_create_vcpus(struct vm *vm, struct errbuf *err)
{
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return err_set(err, -ENOMEM, "vCPUs: out of memory");
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->vm = vm;
		v->index = i;
		int r = vm->be->vcpu_create(vm->bvm, i, &v->bv);
		if (r < 0)
			return err_set(err, r, "vCPU %u: %s", i, strerror(-r));
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, const struct backend_ops *be,
	      const struct vm_opts *opts, struct errbuf *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->be = be;
	vm->opts = *opts;
	vm->exit_efd = vm->console_retry_fd = -1;
	vm->loop = opts->loop;
	atomic_init(&vm->exit_code, -1);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->nr_vcpus = cfg->machine.vcpu_count;
	bus_init(&vm->mmio, "mmio");
	bus_init(&vm->pio, "pio");

	int r = vm_check_supported(cfg, err);
	if (r < 0)
		goto fail;
	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_efd < 0) {
		r = -errno;
		err_set(err, r, "exit eventfd: %s", strerror(-r));
		goto fail;
	}
	uint64_t mem_bytes = cfg->machine.mem_size_mib << 20;
	r = gm_alloc(&vm->mem, mem_bytes);
	if (r < 0) {
		err_set(err, r, "guest memory (%" PRIu64 " MiB): %s", cfg->machine.mem_size_mib,
			strerror(-r));
		goto fail;
	}
	struct backend_vm_opts bopts = {
		.nr_vcpus = vm->nr_vcpus,
		.cpu_template = config_cpu_template_name(cfg->machine.cpu_template),
		.mem = &vm->mem,
		.mmio_bus = &vm->mmio,
		.pio_bus = &vm->pio,
	};
	r = be->vm_create(&bopts, &vm->bvm);
	if (r < 0) {
		err_set(err, r, "%s: cannot create the VM: %s", be->name, strerror(-r));
		goto fail;
	}
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct gm_region *g = &vm->mem.regions[i];
		r = be->map_memory(vm->bvm, i, g->gpa, g->size, g->host);
		if (r < 0) {
			err_set(err, r, "%s: mapping guest memory: %s", be->name, strerror(-r));
			goto fail;
		}
	}
	/* The command line outlives vm_create only inside guest memory. */
	struct cmdline *cl = malloc(sizeof(*cl));
	if (!cl) {
		r = err_set(err, -ENOMEM, "command line: out of memory");
		goto fail;
	}
	r = cmdline_init(cl, cfg->boot.boot_args ? cfg->boot.boot_args : VM_DEFAULT_CMDLINE, err);
	if (r == 0)
		r = vm_create_devices(vm, err);
	if (r == 0)
		r = vm_virtio_create(vm, cfg, cl, err);
	if (r == 0 && be->kernel_cmdline) {
		char extra[256];
		r = be->kernel_cmdline(vm->bvm, extra, sizeof(extra));
		if (r < 0)
			err_set(err, r, "%s: kernel parameters: %s", be->name, strerror(-r));
		else
			r = cmdline_append_missing(cl, err, extra);
	}
	if (r == 0)
		r = vm_create_vcpus(vm, err);
	if (r == 0)
		r = vm_load(vm, cfg, cl, err);
	free(cl);
	if (r < 0)
		goto fail;
	return 0;
fail:
	vm_destroy(vm);
	return r;
}

static void vm_on_exit_event(void *opaque, uint32_t events)
{
	(void)events;
	struct vm *vm = opaque;
	uint64_t v;
	ssize_t n = read(vm->exit_efd, &v, sizeof(v));
	(void)n;
}

static void vm_on_console_in(void *opaque, uint32_t events);

/* The UART's FIFO was full: stop watching the console until a short timer
 * says to look again, instead of spinning on a readable fd. */
static void vm_console_backoff(struct vm *vm)
{
	evloop_del(vm->loop, vm->opts.console_in);
	vm->console_in_armed = false;
	struct itimerspec t = { .it_value = { .tv_nsec = 10 * 1000 * 1000 } };
	timerfd_settime(vm->console_retry_fd, 0, &t, NULL);
}

static void vm_on_console_retry(void *opaque, uint32_t events)
{
	(void)events;
	struct vm *vm = opaque;
	uint64_t ticks;
	ssize_t n = read(vm->console_retry_fd, &ticks, sizeof(ticks));
	(void)n;
	if (serial_rx_space(vm->serial) == 0) {
		vm_console_backoff(vm);
		return;
	}
	if (!vm->console_in_armed &&
	    evloop_add(vm->loop, vm->opts.console_in, EPOLLIN, vm_on_console_in, vm) == 0)
		vm->console_in_armed = true;
}

static void vm_on_console_in(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint8_t buf[SERIAL_FIFO_SIZE];
	size_t space = serial_rx_space(vm->serial);
	if (space == 0) {
		vm_console_backoff(vm);
		return;
	}
	if (space > sizeof(buf))
		space = sizeof(buf);
	ssize_t n = read(vm->opts.console_in, buf, space);
	if (n > 0) {
		serial_receive(vm->serial, buf, (size_t)n);
		return;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || (events & EPOLLHUP)) {
		/* End of input: the guest keeps running without a console in. */
		evloop_del(vm->loop, vm->opts.console_in);
		vm->console_in_armed = false;
	}
}

static int vm_watch_console(struct vm *vm)
{
	if (vm->opts.console_in < 0)
		return 0;
	vm->console_retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vm->console_retry_fd < 0)
		return -errno;
	int r = evloop_add(vm->loop, vm->console_retry_fd, EPOLLIN, vm_on_console_retry, vm);
	if (r < 0)
		return r;
	/* epoll refuses regular files (e.g. stdin from /dev/null): no console in. */
	r = evloop_add(vm->loop, vm->opts.console_in, EPOLLIN, vm_on_console_in, vm);
	if (r == 0)
		vm->console_in_armed = true;
	else if (r != -EPERM)
		return r;
	return 0;
}

int vm_start(struct vm *vm)
{
	int r = evloop_add(vm->loop, vm->exit_efd, EPOLLIN, vm_on_exit_event, vm);
	if (r == 0)
		r = vm_watch_console(vm);
	if (r < 0) {
		log_err("VMM event loop set-up: %s", strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		pthread_mutex_lock(&vm->pause_lock);
		vm->nr_started++;
		pthread_mutex_unlock(&vm->pause_lock);
		r = vcpu_start(&vm->vcpus[i]);
		if (r < 0) {
			vm_vcpu_gone(vm);
			log_err("vCPU %u: cannot start its thread: %s", i, strerror(-r));
			vm_request_exit(vm, 1);
			return r;
		}
	}
	return 0;
}

bool vm_stopping(struct vm *vm)
{
	return atomic_load(&vm->stopping);
}

static void vm_unwatch(struct vm *vm)
{
	if (vm->console_in_armed)
		evloop_del(vm->loop, vm->opts.console_in);
	vm->console_in_armed = false;
	if (vm->console_retry_fd >= 0)
		evloop_del(vm->loop, vm->console_retry_fd);
	if (vm->exit_efd >= 0)
		evloop_del(vm->loop, vm->exit_efd);
}

/* Guest pages the host really backs: what the guest (and the loader)
 * touched. Only computed for Debug logs: mincore walks every page. */
static void vm_log_guest_resident(struct vm *vm)
{
	if (log_get_level() < LOG_DEBUG)
		return;
	uint64_t resident = 0;
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct gm_region *g = &vm->mem.regions[i];
		size_t pages = g->size / 4096;
		unsigned char *vec = malloc(pages);
		if (!vec || mincore(g->host, g->size, vec) < 0) {
			free(vec);
			return;
		}
		for (size_t p = 0; p < pages; p++)
			resident += vec[p] & 1;
		free(vec);
	}
	log_debug("guest memory resident at exit: %" PRIu64 " KiB", resident * 4);
}

int vm_stop(struct vm *vm)
{
	if (!atomic_load(&vm->stopping))
		vm_request_exit(vm, 0);
	/* Parked vCPUs wake on the stopping flag. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_stop(&vm->vcpus[i]);
	vm_unwatch(vm);
	vm_log_guest_resident(vm);
	int code = atomic_load(&vm->exit_code);
	return code < 0 ? 1 : code;
}

int vm_run(struct vm *vm)
{
	if (vm_start(vm) == 0) {
		while (!vm_stopping(vm)) {
			int r = evloop_run_once(vm->loop, -1);
			if (r < 0) {
				log_err("VMM event loop: %s", strerror(-r));
				vm_request_exit(vm, 1);
			}
		}
	}
	return vm_stop(vm);
}

void vm_destroy(struct vm *vm)
{
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			vcpu_stop(&vm->vcpus[i]);
			if (vm->vcpus[i].bv)
				vm->be->vcpu_destroy(vm->vcpus[i].bv);
		}
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	vm_virtio_destroy(vm);
	if (vm->bvm)
		vm->be->vm_destroy(vm->bvm);
	vm->bvm = NULL;
	if (vm->serial)
		serial_destroy(vm->serial);
	if (vm->i8042)
		i8042_destroy(vm->i8042);
	if (vm->boot_timer)
		boot_timer_destroy(vm->boot_timer);
	vm->serial = NULL;
	vm->i8042 = NULL;
	vm->boot_timer = NULL;
	gm_free(&vm->mem);
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	if (vm->loop)
		vm_unwatch(vm);
	if (vm->exit_efd >= 0)
		close(vm->exit_efd);
	if (vm->console_retry_fd >= 0)
		close(vm->console_retry_fd);
	vm->exit_efd = vm->console_retry_fd = -1;
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
}
