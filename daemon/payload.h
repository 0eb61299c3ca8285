/* SPDX-License-Identifier: MIT */
/*
 * What tbdaqd puts on the wire over MQTT: SPEC's topics and JSON payloads
 * (a reading, a test run, the chain witness, the online and offline
 * status), written into a caller's buffer. Pure functions of their
 * arguments: no MQTT, no allocation, no global state, so they are tested
 * alone and are thread-safe. The publisher (publish.h) sends them.
 *
 * Errors: every writer returns the length written (NUL not counted), or
 * -1 if it does not fit in len; then buf holds "" (if len > 0). Strings
 * are JSON-escaped; nothing else is checked (the config bounds names).
 */
#ifndef TBDAQ_PAYLOAD_H
#define TBDAQ_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/reading.h"

/* Longest payload of one reading (and the buffer size callers use for
 * any payload). */
#define PAYLOAD_MAX 1024

/* The retained status: the will and the last word of a publisher, and
 * the run topic while no run is open. */
#define PAYLOAD_OFFLINE "{\"state\":\"offline\"}"
#define PAYLOAD_IDLE "{\"state\":\"idle\"}"

/*
 * Writes SPEC's reading payload of r (its version not used) for site into
 * buf (NUL-terminated):
 * {"seq":..,"site":..,"sensor":..,"kind":..,"ts":"<ISO 8601 UTC µs>",
 *  "ts_us":..,"value":..,"unit":..,"quality":..[,"error":..][,"run":..]}
 * "error" is written whenever r->error is not NULL (comm_error and missed
 * readings have one).
 * A reading without a seq (not recorded yet) has "seq":null and ends with
 * ,"recorded":false.
 * Numbers round-trip the double exactly (%.17g, shortest form preferred);
 * NaN or infinite values are written as null.
 */
int payload_reading(char *buf, size_t len, const char *site,
                    const struct reading_row *r);

/*
 * The device layout (SPEC mqtt.layout "device"): a message is
 * {"site":..,"bus":..,"unit_id":..,"readings":[R,R,...]}, each R what
 * payload_reading() writes without "site". payload_device_head() writes
 * the part up to the '[', payload_device_reading() one R; the caller
 * joins the Rs with ',' and closes with PAYLOAD_DEVICE_TAIL.
 */
#define PAYLOAD_DEVICE_TAIL "]}"
int payload_device_head(char *buf, size_t len, const char *site,
                        const char *bus, int unit_id);
int payload_device_reading(char *buf, size_t len, const struct reading_row *r);

/* A test run, for the run topics. Strings are borrowed for the call. */
struct pub_run {
    const char *name; /* NULL: no run is open */
    int64_t started_us;
    const char *operator_name; /* or NULL */
    bool sealed;               /* then the fields below count */
    int64_t ended_us;
    const char *chain_head;
    int64_t chain_seq;
    int64_t readings;
};

/*
 * The payload of <prefix>/<site>/run: {"name":..,"started":..,"operator":..}
 * for an open run, PAYLOAD_IDLE when name is NULL; and, for a sealed
 * run's <prefix>/<site>/runs/<name>, the same with "ended", "chain_head",
 * "chain_seq" and "readings" added.
 */
int payload_run(char *buf, size_t len, const struct pub_run *r);

/*
 * The chain witness's payload, for <prefix>/<site>/chain (SPEC "The chain
 * witness"): {"seq":N,"head":"<64 hex>","ts":"<ISO 8601 UTC µs>"}, head
 * being the chain head covering every reading up to seq, ts when it was
 * witnessed.
 */
int payload_witness(char *buf, size_t len, int64_t seq, const char *head,
                    int64_t ts_us);

/* The retained online status, for <prefix>/<site>/status:
 * {"state":"online","version":..,"since":"<ISO 8601 UTC µs>"}. */
int payload_online(char *buf, size_t len, const char *version,
                   int64_t since_us);

/* The topic <prefix>/<site>/<kind>/<sensor> of a reading. */
int payload_topic(char *buf, size_t len, const char *prefix, const char *site,
                  const char *kind, const char *sensor);

#endif
