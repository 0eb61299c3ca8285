/* SPDX-License-Identifier: MIT */
/*
 * The Sparkplug B edge node (SPEC "Sparkplug B"): an output (output.h)
 * that publishes the committed readings to its own broker connection as
 * Eclipse Sparkplug B 3.0, for SCADA systems and historians. Its
 * acknowledged seq is kept under "sparkplug_acked_seq", its bdSeq under
 * "sparkplug_bdseq" (state table). Main thread only; errors as output.h.
 */
#ifndef TBDAQ_SPARKPLUG_H
#define TBDAQ_SPARKPLUG_H

#include "daemon/output.h"

/* The state table's key of the bdSeq of the last connection attempt. */
#define SPARKPLUG_STATE_BDSEQ "sparkplug_bdseq"

extern const struct output_ops sparkplug_output_ops;

#endif
