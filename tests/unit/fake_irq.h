/* A recording interrupt line for device tests: counts edges and calls. */
#ifndef EMBER_TEST_FAKE_IRQ_H
#define EMBER_TEST_FAKE_IRQ_H

#include <stdbool.h>

struct fake_irq {
	bool level;
	int rises, falls, calls;
	unsigned gsi;
};

static inline int fake_irq_set(void *ctx, unsigned gsi, bool level)
{
	struct fake_irq *f = ctx;
	f->calls++;
	f->gsi = gsi;
	if (level && !f->level)
		f->rises++;
	if (!level && f->level)
		f->falls++;
	f->level = level;
	return 0;
}

#endif
