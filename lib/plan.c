// SPDX-License-Identifier: MIT
/*
 * Request coalescing. Sensors that can share a request (same bus, interval,
 * unit and table) are sorted by address and swept once: a sensor joins the
 * current request if the gap before it is at most the bus's max_gap and the
 * request stays within max_registers (max_bits for coils and discrete
 * inputs); otherwise it starts a new one. The sweep is greedy, which is
 * optimal for this one-dimensional packing. A `bit` sensor is its
 * register's sensor here: bit sensors of one register share its read.
 */
#include "lib/plan.h"

#include <math.h>
#include <stdlib.h>

#include "common/util.h"

/* A register's two bytes on the wire carry 16 bits: a gap of max_gap
 * registers costs what a gap of 16 x max_gap coils does. */
#define PLAN_BITS_PER_REGISTER 16

struct plan_key {
    size_t bus;
    int interval_ms;
    int unit_id;
    enum reg_table table;
    int address;
    size_t sensor;
};

static int plan_key_cmp(const void *a, const void *b)
{
    const struct plan_key *x = a, *y = b;

#define PLAN_CMP(f)                                                            \
    if (x->f != y->f)                                                          \
        return x->f < y->f ? -1 : 1;
    PLAN_CMP(bus)
    PLAN_CMP(interval_ms)
    PLAN_CMP(unit_id)
    PLAN_CMP(table)
    PLAN_CMP(address)
    PLAN_CMP(sensor)
#undef PLAN_CMP
    return 0;
}

static bool plan_same_group(const struct plan_key *x, const struct plan_key *y)
{
    return x->bus == y->bus && x->interval_ms == y->interval_ms &&
           x->unit_id == y->unit_id && x->table == y->table;
}

/* The longest request on table of bus b, in addresses. */
static int plan_max_count(const struct bus_conf *b, enum reg_table table)
{
    if (!reg_table_bits(table))
        return b->params.max_registers;
    /* 0: a bus made before max_bits had a default (BUS_MAX_BITS). */
    return b->params.max_bits > 0 ? b->params.max_bits : BUS_MAX_BITS;
}

/* The unused addresses one request of table may span to join two. */
static int plan_max_gap(const struct bus_conf *b, enum reg_table table)
{
    return reg_table_bits(table) ? b->max_gap * PLAN_BITS_PER_REGISTER
                                 : b->max_gap;
}

void plan_build(const struct config *c, struct plan *p)
{
    struct plan_key *keys = xcalloc(c->nsensors, sizeof(*keys));
    size_t cap = 0;
    size_t rcap = 0; /* of the last request's sensors */

    p->requests = NULL;
    p->nrequests = 0;
    for (size_t i = 0; i < c->nsensors; i++) {
        const struct sensor_conf *s = &c->sensors[i];

        keys[i] = (struct plan_key){s->bus,   s->interval_ms, s->unit_id,
                                    s->table, s->address,     i};
    }
    qsort(keys, c->nsensors, sizeof(*keys), plan_key_cmp);

    for (size_t i = 0; i < c->nsensors; i++) {
        const struct sensor_conf *s = &c->sensors[keys[i].sensor];
        const struct bus_conf *b = &c->buses[s->bus];
        int end = s->address + (int)reg_type_words(s->type);
        struct plan_request *r =
            p->nrequests ? &p->requests[p->nrequests - 1] : NULL;

        if (r && plan_same_group(&keys[i - 1], &keys[i]) &&
            s->address - (r->address + r->count) <= plan_max_gap(b, s->table) &&
            end - r->address <= plan_max_count(b, s->table)) {
            if (end > r->address + r->count)
                r->count = end - r->address;
        } else {
            xgrow(&p->requests, &cap, p->nrequests + 1, sizeof(*p->requests));
            r = &p->requests[p->nrequests++];
            *r = (struct plan_request){
                .bus = s->bus,
                .unit_id = s->unit_id,
                .table = s->table,
                .interval_ms = s->interval_ms,
                .address = s->address,
                .count = end - s->address,
            };
            rcap = 0;
        }
        xgrow(&r->sensors, &rcap, r->nsensors + 1, sizeof(size_t));
        r->sensors[r->nsensors++] = keys[i].sensor;
    }
    free(keys);
}

void plan_release(struct plan *p)
{
    for (size_t i = 0; i < p->nrequests; i++)
        free(p->requests[i].sensors);
    free(p->requests);
    p->requests = NULL;
    p->nrequests = 0;
}

static void plan_print_bus(const struct bus_conf *b, FILE *out)
{
    const struct bus_params *bp = &b->params;

    switch (bp->type) {
    case BUS_TCP:
        fprintf(out, "  %-16s tcp %s:%d", b->name, bp->host, bp->port);
        break;
    case BUS_RTU_OVER_TCP:
        fprintf(out, "  %-16s rtu-over-tcp %s:%d", b->name, bp->host, bp->port);
        break;
    case BUS_RTU:
        fprintf(out, "  %-16s rtu %s %d %d%c%d", b->name, bp->device, bp->baud,
                bp->data_bits, bp->parity, bp->stop_bits);
        break;
    }
    fprintf(out,
            "  timeout %d ms, retries %d, delay %d ms, max %d registers, "
            "max %d bits, max gap %d\n",
            bp->timeout_ms, bp->retries, bp->delay_ms, bp->max_registers,
            plan_max_count(b, TABLE_COIL), b->max_gap);
}

static void plan_print_bound(double v, FILE *out)
{
    if (isinf(v))
        fputs(v < 0 ? "-inf" : "inf", out);
    else
        fprintf(out, "%g", v);
}

/* What a sensor reads: "holding 20 uint16 AB bit 3", "coil 0 bool",
 * "input 0 float32 ABCD x0.1 +0". */
static void plan_print_read(const struct sensor_conf *s, FILE *out)
{
    fprintf(out, "%s %d %s", reg_table_name(s->table), s->address,
            reg_type_name(s->type));
    if (s->type == REG_BOOL)
        return;
    fprintf(out, " %s", byte_order_name(s->order));
    if (s->has_bit)
        fprintf(out, " bit %d", s->bit);
    else
        fprintf(out, " x%g %+g", s->scale, s->offset);
}

static void plan_print_sensor(const struct config *c,
                              const struct sensor_conf *s, FILE *out)
{
    fprintf(out, "  %-16s %-9s %s unit %d ", s->id, kind_name(s->kind),
            c->buses[s->bus].name, s->unit_id);
    plan_print_read(s, out);
    fprintf(out, " %s every %d ms range [", s->unit, s->interval_ms);
    plan_print_bound(s->range_lo, out);
    fputs(", ", out);
    plan_print_bound(s->range_hi, out);
    fputs("]\n", out);
}

void plan_print(const struct config *c, const struct plan *p, FILE *out)
{
    fprintf(out, "site %s, database %s, config sha256 %s\n", c->site,
            c->database, c->sha256);
    fprintf(out, "buses (%zu):\n", c->nbuses);
    for (size_t i = 0; i < c->nbuses; i++)
        plan_print_bus(&c->buses[i], out);
    fprintf(out, "sensors (%zu):\n", c->nsensors);
    for (size_t i = 0; i < c->nsensors; i++)
        plan_print_sensor(c, &c->sensors[i], out);
    fprintf(out, "requests (%zu for %zu sensors):\n", p->nrequests,
            c->nsensors);
    for (size_t i = 0; i < p->nrequests; i++) {
        const struct plan_request *r = &p->requests[i];

        fprintf(out, "  %s unit %d fc%d %s %d..%d (%d %s) every %d ms:",
                c->buses[r->bus].name, r->unit_id, reg_table_function(r->table),
                reg_table_name(r->table), r->address, r->address + r->count - 1,
                r->count, reg_table_bits(r->table) ? "bits" : "registers",
                r->interval_ms);
        for (size_t j = 0; j < r->nsensors; j++)
            fprintf(out, " %s", c->sensors[r->sensors[j]].id);
        fputc('\n', out);
    }
}
