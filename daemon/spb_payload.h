/* SPDX-License-Identifier: MIT */
/*
 * Sparkplug B payloads (proto/sparkplug_b.proto), the only user of
 * protobuf-c: what the edge node (sparkplug.c) publishes, described as
 * plain structs and encoded here, and the one command it reads (NCMD's
 * Node Control/Rebirth).
 *
 * The encoder knows the few shapes tbdaq sends: metrics with a name
 * (births) or an alias (data), a timestamp, a datatype of Double,
 * Boolean, Int64, UInt64 or String, a value or is_null, is_historical,
 * and properties of type String, Int32 or UInt64.
 *
 * Errors: spb_encode() cannot fail but for memory (which aborts);
 * spb_decode_rebirth() returns -1 for bytes that are no Payload.
 * Ownership: arguments are borrowed for the call; struct spb_buf owns its
 * bytes (spb_buf_release() frees them). Threads: no shared state.
 */
#ifndef TBDAQ_SPB_PAYLOAD_H
#define TBDAQ_SPB_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The datatype numbers of the specification tbdaq uses. */
enum spb_type {
    SPB_INT32 = 3,
    SPB_INT64 = 4,
    SPB_UINT64 = 8,
    SPB_DOUBLE = 10,
    SPB_BOOLEAN = 11,
    SPB_STRING = 12,
};

/* Sparkplug's Quality property: 192 is good, 0 bad (OPC's codes). */
#define SPB_QUALITY_GOOD 192
#define SPB_QUALITY_BAD 0

/* A metric's property: key, type (String, Int32 or UInt64) and value. */
struct spb_prop {
    const char *key;
    enum spb_type type;
    const char *text; /* String */
    int64_t num;      /* Int32, UInt64 */
};

/* The most properties a metric carries. */
#define SPB_PROPS_MAX 4

struct spb_metric {
    const char *name; /* or NULL: then has_alias */
    bool has_alias;
    uint64_t alias;
    bool has_ts;
    int64_t ts_ms;
    enum spb_type type; /* Double, Boolean, Int64, UInt64, String */
    bool is_null;       /* no value: the value below is not sent */
    double value;       /* Double; Int64/UInt64 rounded; Boolean non-zero */
    const char *text;   /* String */
    bool historical;
    struct spb_prop props[SPB_PROPS_MAX];
    size_t nprops;
};

/* Bytes made by spb_encode(); start all zeros. */
struct spb_buf {
    uint8_t *data;
    size_t len, cap;
};

void spb_buf_release(struct spb_buf *b);

/*
 * Encodes a Payload into b (replacing what it held): timestamp ts_ms, the
 * n metrics in order, and seq unless seq < 0 (NDEATH has none).
 */
void spb_encode(struct spb_buf *b, int64_t ts_ms, int seq,
                const struct spb_metric *m, size_t n);

/* The metric named "Node Control/Rebirth" in an NCMD payload. */
#define SPB_REBIRTH "Node Control/Rebirth"

/*
 * Whether an NCMD payload asks for a rebirth: 1 if it holds the metric
 * SPB_REBIRTH (by name) with the value true, 0 if not, -1 if the bytes
 * are no Payload.
 */
int spb_decode_rebirth(const void *data, size_t len);

/* The datatype of a sensor by its register type's name (reg_type_name()):
 * "bool" Boolean, "int64" Int64, "uint64" UInt64, any other Double (the
 * value after scale and offset is a real number). */
enum spb_type spb_type_of(const char *reg_type);

#endif
