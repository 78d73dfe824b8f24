/* An interrupt line as a device sees it: the device never knows which
 * backend or interrupt controller is behind it. */
#ifndef EMBER_IRQ_H
#define EMBER_IRQ_H

#include <stdbool.h>

struct irq_line {
	int (*set)(void *ctx, unsigned gsi, bool level);
	void *ctx;
	unsigned gsi;
};

static inline int irq_line_set(const struct irq_line *irq, bool level)
{
	return irq->set ? irq->set(irq->ctx, irq->gsi, level) : 0;
}

/* Edge-style pulse for edge-triggered lines (the legacy ISA ones). */
static inline void irq_line_pulse(const struct irq_line *irq)
{
	irq_line_set(irq, true);
	irq_line_set(irq, false);
}

#endif
