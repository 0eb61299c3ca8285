/* SPDX-License-Identifier: MIT */
/*
 * The poll plan: sensors grouped into Modbus requests. Sensors on the same
 * bus, unit, table and interval whose registers lie close together (gaps of
 * at most the bus's max_gap unused registers, 16 x max_gap unused bits on
 * coils and discrete inputs) are read by one request of at most the bus's
 * max_registers (max_bits for bits). Bit sensors of one register share it.
 *
 * No state: any thread may build a plan. A plan owns its arrays, which
 * plan_release() frees; its indexes are into the config it was built
 * from, which must outlive the plan's use. A built plan is read-only: any
 * number of threads may read it at once (the pollers do).
 */
#ifndef TBDAQ_PLAN_H
#define TBDAQ_PLAN_H

#include <stddef.h>
#include <stdio.h>

#include "lib/config.h"

struct plan_request {
    size_t bus;
    int unit_id;
    enum reg_table table;
    int interval_ms;
    int address; /* first register (or bit) read */
    int count;   /* registers read, 1..max_registers; or bits, 1..max_bits */
    size_t *sensors; /* indexes into config.sensors, by address */
    size_t nsensors;
};

struct plan {
    struct plan_request *requests; /* ordered by bus, interval, unit, ... */
    size_t nrequests;
};

/* Builds the plan of a valid config into p (what p held is not freed).
 * Aborts only when out of memory. */
void plan_build(const struct config *c, struct plan *p);
/* Frees the plan's arrays and leaves it empty (releasing it again is
 * harmless). */
void plan_release(struct plan *p);

/* Prints buses, sensors and requests for `tbdaqd -t` and `tbdaq check`;
 * out's errors are the caller's to check (ferror()). */
void plan_print(const struct config *c, const struct plan *p, FILE *out);

#endif
