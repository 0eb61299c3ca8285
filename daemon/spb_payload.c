// SPDX-License-Identifier: MIT
/*
 * Sparkplug B payloads with protobuf-c: the plain description of
 * spb_payload.h turned into the generated structs and packed. The structs
 * point into the caller's strings and into arrays made for one call, so
 * nothing is copied but the packed bytes.
 */
#include "daemon/spb_payload.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "proto/sparkplug_b.pb-c.h"

typedef Tbdaq__Spb__Payload Payload;
typedef Tbdaq__Spb__Payload__Metric Metric;
typedef Tbdaq__Spb__Payload__PropertySet PropertySet;
typedef Tbdaq__Spb__Payload__PropertyValue PropertyValue;

/* What one metric's generated structs need, made for one call. */
struct spb_cell {
    Metric metric;
    PropertySet set;
    char *keys[SPB_PROPS_MAX];
    PropertyValue values[SPB_PROPS_MAX];
    PropertyValue *value_ptrs[SPB_PROPS_MAX];
};

void spb_buf_release(struct spb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

enum spb_type spb_type_of(const char *reg_type)
{
    if (strcmp(reg_type, "bool") == 0)
        return SPB_BOOLEAN;
    if (strcmp(reg_type, "int64") == 0)
        return SPB_INT64;
    if (strcmp(reg_type, "uint64") == 0)
        return SPB_UINT64;
    return SPB_DOUBLE;
}

/* A double as the nearest integer, clamped to what the type holds (a
 * value is a scaled register: it may have left the integers). */
static int64_t spb_to_int64(double v)
{
    if (!(v > (double)INT64_MIN))
        return INT64_MIN;
    if (v >= 9223372036854775808.0)
        return INT64_MAX;
    return (int64_t)llround(v);
}

static uint64_t spb_to_uint64(double v)
{
    if (!(v > 0))
        return 0;
    if (v >= 18446744073709551616.0)
        return UINT64_MAX;
    return (uint64_t)llroundl((long double)v);
}

static void spb_fill_prop(PropertyValue *pv, const struct spb_prop *p)
{
    tbdaq__spb__payload__property_value__init(pv);
    pv->has_type = true;
    pv->type = (uint32_t)p->type;
    switch (p->type) {
    case SPB_STRING:
        pv->value_case =
            TBDAQ__SPB__PAYLOAD__PROPERTY_VALUE__VALUE_STRING_VALUE;
        /* protobuf-c only reads it. */
        pv->string_value = (char *)p->text;
        break;
    case SPB_INT32:
        /* Int32 travels as its 32 bits in a uint32 (the specification). */
        pv->value_case = TBDAQ__SPB__PAYLOAD__PROPERTY_VALUE__VALUE_INT_VALUE;
        pv->int_value = (uint32_t)(int32_t)p->num;
        break;
    default:
        pv->value_case = TBDAQ__SPB__PAYLOAD__PROPERTY_VALUE__VALUE_LONG_VALUE;
        pv->long_value = (uint64_t)p->num;
        break;
    }
}

static void spb_fill_value(Metric *pm, const struct spb_metric *m)
{
    if (m->is_null) {
        pm->has_is_null = true;
        pm->is_null = true;
        return;
    }
    switch (m->type) {
    case SPB_BOOLEAN:
        pm->value_case = TBDAQ__SPB__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE;
        pm->boolean_value = m->value != 0;
        break;
    case SPB_INT64:
        /* Two's complement in the uint64 (the specification). */
        pm->value_case = TBDAQ__SPB__PAYLOAD__METRIC__VALUE_LONG_VALUE;
        pm->long_value = (uint64_t)spb_to_int64(m->value);
        break;
    case SPB_UINT64:
        pm->value_case = TBDAQ__SPB__PAYLOAD__METRIC__VALUE_LONG_VALUE;
        pm->long_value = spb_to_uint64(m->value);
        break;
    case SPB_STRING:
        pm->value_case = TBDAQ__SPB__PAYLOAD__METRIC__VALUE_STRING_VALUE;
        pm->string_value = (char *)m->text;
        break;
    default:
        pm->value_case = TBDAQ__SPB__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE;
        pm->double_value = m->value;
        break;
    }
}

static void spb_fill_metric(struct spb_cell *c, const struct spb_metric *m)
{
    Metric *pm = &c->metric;

    tbdaq__spb__payload__metric__init(pm);
    pm->name = (char *)m->name;
    pm->has_alias = m->has_alias;
    pm->alias = m->alias;
    pm->has_timestamp = m->has_ts;
    pm->timestamp = (uint64_t)m->ts_ms;
    pm->has_datatype = true;
    pm->datatype = (uint32_t)m->type;
    if (m->historical) {
        pm->has_is_historical = true;
        pm->is_historical = true;
    }
    spb_fill_value(pm, m);
    if (m->nprops == 0)
        return;
    tbdaq__spb__payload__property_set__init(&c->set);
    for (size_t i = 0; i < m->nprops && i < SPB_PROPS_MAX; i++) {
        c->keys[i] = (char *)m->props[i].key;
        spb_fill_prop(&c->values[i], &m->props[i]);
        c->value_ptrs[i] = &c->values[i];
    }
    c->set.n_keys = c->set.n_values = m->nprops;
    c->set.keys = c->keys;
    c->set.values = c->value_ptrs;
    pm->properties = &c->set;
}

void spb_encode(struct spb_buf *b, int64_t ts_ms, int seq,
                const struct spb_metric *m, size_t n)
{
    struct spb_cell *cells = n ? xcalloc(n, sizeof(*cells)) : NULL;
    Metric **ptrs = n ? xcalloc(n, sizeof(*ptrs)) : NULL;
    Payload p;
    size_t need;

    tbdaq__spb__payload__init(&p);
    p.has_timestamp = true;
    p.timestamp = (uint64_t)ts_ms;
    if (seq >= 0) {
        p.has_seq = true;
        p.seq = (uint64_t)seq;
    }
    for (size_t i = 0; i < n; i++) {
        spb_fill_metric(&cells[i], &m[i]);
        ptrs[i] = &cells[i].metric;
    }
    p.n_metrics = n;
    p.metrics = ptrs;
    need = tbdaq__spb__payload__get_packed_size(&p);
    if (need > b->cap) {
        b->data = xrealloc(b->data, need);
        b->cap = need;
    }
    b->len = tbdaq__spb__payload__pack(&p, b->data);
    free(ptrs);
    free(cells);
}

int spb_decode_rebirth(const void *data, size_t len)
{
    Payload *p = tbdaq__spb__payload__unpack(NULL, len, data);
    int rebirth = 0;

    if (!p)
        return -1;
    for (size_t i = 0; i < p->n_metrics; i++) {
        const Metric *m = p->metrics[i];

        if (m->name && strcmp(m->name, SPB_REBIRTH) == 0 &&
            m->value_case == TBDAQ__SPB__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE &&
            m->boolean_value)
            rebirth = 1;
    }
    tbdaq__spb__payload__free_unpacked(p, NULL);
    return rebirth;
}
