#include "runtime/vm/devices.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int vm_devices_add(struct vm_devices *d, const char *name, const struct device_ops *ops,
		   void *dev)
{
	int r = 0;
	if (strlen(name) >= VM_DEVICE_NAME_MAX)
		r = -ENAMETOOLONG;
	else if (vm_devices_find(d, name))
		r = -EEXIST;
	else if (d->n == d->cap) {
		unsigned cap = d->cap ? d->cap * 2 : 8;
		struct vm_device *l = realloc(d->list, cap * sizeof(*l));
		if (l) {
			d->list = l;
			d->cap = cap;
		} else {
			r = -ENOMEM;
		}
	}
	if (r < 0) {
		if (ops->destroy)
			ops->destroy(dev);
		return r;
	}
	struct vm_device *e = &d->list[d->n++];
	strcpy(e->name, name);
	e->ops = ops;
	e->dev = dev;
	return 0;
}

struct vm_device *vm_devices_find(struct vm_devices *d, const char *name)
{
	for (unsigned i = 0; i < d->n; i++)
		if (strcmp(d->list[i].name, name) == 0)
			return &d->list[i];
	return NULL;
}

struct group_ctx {
	vm_counter_fn fn;
	void *ctx;
	const char *group;
};

static void one_counter(void *opaque, const char *name, uint64_t value)
{
	struct group_ctx *g = opaque;
	g->fn(g->ctx, g->group, name, value);
}

void vm_devices_counters(const struct vm_devices *d, vm_counter_fn fn, void *ctx)
{
	for (unsigned i = 0; i < d->n; i++) {
		const struct vm_device *e = &d->list[i];
		struct group_ctx g = { fn, ctx, e->name };
		if (e->ops->counters)
			e->ops->counters(e->dev, one_counter, &g);
	}
}

void vm_devices_destroy(struct vm_devices *d)
{
	for (unsigned i = d->n; i-- > 0;)
		if (d->list[i].ops->destroy)
			d->list[i].ops->destroy(d->list[i].dev);
	free(d->list);
	memset(d, 0, sizeof(*d));
}
