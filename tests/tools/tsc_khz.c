/* tsc-khz: prints the host TSC rate in kHz, measured as Ember's software
 * CPU measures it (runtime/backend/tcg/tsc.c). A TCG guest's TSC runs at
 * the host's rate under Ember and QEMU alike; the distro-kernel harness
 * passes the same tsc_early_khz= to both (docs/distro-kernels.md). */
#include <stdio.h>

#include "runtime/backend/tcg/tsc.h"

int main(void)
{
	unsigned long khz = tcg_tsc_khz();
	if (!khz) {
		fprintf(stderr, "tsc-khz: this host has no usable TSC\n");
		return 1;
	}
	printf("%lu\n", khz);
	return 0;
}
