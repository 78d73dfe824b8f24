/* Merging a Diff memory file onto its base, as Firecracker's
 * `snapshot-editor edit-memory rebase` does. */
#ifndef EMBER_SNAP_REBASE_H
#define EMBER_SNAP_REBASE_H

#include "runtime/base/err.h"

/* A Diff memory file is sparse: each page dirtied since the base was taken
 * sits at its own offset, holes elsewhere. Copies every data extent of
 * diff_path into base_path at the same offset, then fdatasyncs the base.
 * A diff longer than its base is refused (-EINVAL): it cannot belong to
 * it, and growing the base would hide the mismatch. */
int snap_mem_rebase(const char *base_path, const char *diff_path, struct errbuf *err);

#endif
