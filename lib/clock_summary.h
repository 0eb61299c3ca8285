/* SPDX-License-Identifier: MIT */
/*
 * The clock as the record tells it: the `clock` and `clock_step` events
 * the daemon wrote (daemon/clock.h has their texts) read back and summed
 * up for an export's manifest. No state beyond the summary; thread-safe.
 * Nothing is logged or allocated; kind and detail are read, not kept.
 */
#ifndef TBDAQ_CLOCK_SUMMARY_H
#define TBDAQ_CLOCK_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The clock over a window of the record, for an export's manifest, from
 * the events: feed, in time order, the newest `clock` event at or before
 * the window's start (the state in force then) and every `clock` and
 * `clock_step` event inside it; other kinds are ignored.
 * - known: some `clock` event was fed (else the record cannot tell:
 *   "synchronized" is then null in the manifest, as for a database older
 *   than these events);
 * - synchronized: every `clock` event fed says synchronized;
 * - max_error_us: the largest estimated error those events report, -1
 *   (null) unless synchronized;
 * - steps: the `clock_step` events fed.
 */
struct clock_summary {
    bool known;
    bool synchronized;
    int64_t max_error_us;
    uint64_t steps;
};

void clock_summary_init(struct clock_summary *cs);
/* Returns 0, or -1 for a `clock` or `clock_step` event whose detail it
 * cannot read (counted as unsynchronized, or as a step). */
int clock_summary_add(struct clock_summary *cs, const char *kind,
                      const char *detail);

#endif
