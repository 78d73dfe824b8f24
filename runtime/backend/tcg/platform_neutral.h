/* The software CPU's 8259 pair, 8254 with port 0x61 and I/O APIC in the
 * neutral platform form (runtime/backend/x86_platform.h, KVM's meanings),
 * and back. Pure functions over the chips' structs, so a unit test can
 * cross them both ways. */
#ifndef EMBER_TCG_PLATFORM_NEUTRAL_H
#define EMBER_TCG_PLATFORM_NEUTRAL_H

#include <stdint.h>

#include "runtime/backend/tcg/ioapic.h"
#include "runtime/backend/tcg/pic.h"
#include "runtime/backend/tcg/pit.h"
#include "runtime/backend/x86_platform.h"
#include "runtime/base/err.h"

/* Fills the PIC, PIT and I/O APIC parts of out (the rest untouched); now
 * is the chips' clock (tcg_now_ns) at the save. */
void tcg_platform_to_neutral(const struct tcg_pic *pic, const struct tcg_pit *pit,
			     const struct tcg_ioapic *ioapic, int64_t now,
			     struct x86_platform *out);
/* The chips from a decoded neutral state, their timers counting on from
 * `now`; -ENOTSUP (err naming it) for what these chips cannot be in,
 * -EINVAL for values they cannot hold. The I/O APIC's send hook is taken
 * from *ioapic, which is otherwise overwritten. Nothing is written on
 * failure. */
int tcg_platform_from_neutral(const struct x86_platform *in, int64_t now, struct tcg_pic *pic,
			      struct tcg_pit *pit, struct tcg_ioapic *ioapic,
			      struct errbuf *err);

#endif
