/* SPDX-License-Identifier: MIT */
/*
 * What the Sparkplug B edge node's files share, and nothing else
 * includes:
 *
 *   sparkplug.c  the session: the output's ops, the connection (bdSeq and
 *                the NDEATH will at each attempt), NCMD and the primary
 *                host's STATE, births, the messages in flight and the
 *                acknowledged seq
 *   spb_flow.c   the readings: the node's devices and metrics, DDATA per
 *                device and poll (grouped by spb_group.c), DDEATH and
 *                DBIRTH as polls fail and recover, and the historical
 *                readings owed per device
 *
 * Main thread only, like every output.
 */
#ifndef TBDAQ_SPARKPLUG_PRIVATE_H
#define TBDAQ_SPARKPLUG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/mqtt_conn.h"
#include "daemon/spb_group.h"
#include "daemon/spb_payload.h"
#include "lib/config.h"
#include "lib/store.h"

/* Readings read back from the database per query. */
#define SPB_PAGE 500
/* Historical readings published per pump at most, beside every live one
 * (bounds the time one pump takes: the daemon pumps at every wake-up). */
#define SPB_HISTORY_PER_PUMP 2000
/* History is published only while fewer DDATA than this are unacknowledged
 * (QoS 1) or unwritten (QoS 0). libmosquitto sends 20 at a time and
 * queues the rest in order, so a live DDATA waits behind this many at
 * most, not behind the whole backlog (a 10-minute outage at W2: 12,000
 * DDATA queued in a few seconds held live ones back 3 s); a little over
 * the 20 keeps the pipe full while PUBACKs come back. */
#define SPB_HISTORY_WINDOW 64
/* DDATA messages in flight (sent, not yet acknowledged) at most; with
 * QoS 0 also those written less than keepalive_s ago. */
#define SPB_FLIGHT_MAX 65536

/* A sensor of the configuration as a metric of its device. */
struct spb_sensor {
    const struct sensor_conf *conf;
    size_t dev;
    uint64_t alias; /* unique in the node: the sensor's index + 1 */
    enum spb_type type;
};

/* Readings owed to the host as historical DDATA: seqs [from, to). */
struct spb_range {
    int64_t from, to; /* to INT64_MAX: the device is dead, open-ended */
};

/* A Sparkplug device: one (bus, unit) of the configuration. */
struct spb_device {
    char *id; /* "<bus>-<unit_id>" */
    char *t_dbirth, *t_ddeath, *t_ddata;
    size_t *sensors; /* indexes into sparkplug.sensors */
    size_t nsensors;
    bool alive;               /* DBIRTH published, no DDEATH since */
    struct spb_range *ranges; /* ascending, disjoint */
    size_t nranges, capranges;
};

/* A DDATA in flight: the lowest seq it carries. */
struct spb_flight {
    int64_t min_seq;
    int mid;
    bool done;       /* PUBACK (QoS 1), or written (QoS 0) */
    int64_t done_ns; /* when, CLOCK_MONOTONIC */
};

struct sparkplug {
    struct mqtt_conn conn;
    struct store *store;
    const struct config *config;
    char *version;
    int qos;
    int keepalive_s;
    char *t_nbirth, *t_ndeath, *t_ncmd, *t_state; /* t_state: or NULL */

    struct spb_sensor *sensors; /* in configuration order */
    size_t nsensors;
    size_t *by_tag; /* sensor indexes sorted by tag, for rows */
    size_t *dev_of; /* the device of each sensor, for the groups */
    struct spb_device *devs;
    size_t ndevs;
    /* Live rows read, not yet in a DDATA: each device's poll so far. */
    struct spb_groups live;

    int bdseq; /* this connection's */
    /* Whether a broker may have taken a session with bdseq (a connection
     * was accepted with it, or this process has not tried yet): only
     * then does the next attempt take the next one. Attempts that never
     * reached a broker (it is down) keep theirs, so the host sees bdSeq
     * go up by one per session, as the specification asks. */
    bool bdseq_used;
    unsigned seq; /* the next message's, 0..255 */
    bool born;    /* NBIRTH published on this connection */
    bool rebirth; /* an NCMD asked for births again */
    bool online;  /* the primary host is online (always, without one) */
    int64_t online_ts;
    bool drop; /* the primary host went offline: NDEATH, disconnect */

    int64_t last_seq;    /* the newest committed seq the pump was given */
    int64_t live_cursor; /* every seq up to it handed over live */
    int64_t acked;

    struct spb_flight *ring; /* cap entries (a power of two), oldest at
                                head */
    size_t head, n, cap;
    size_t undone; /* entries of the ring not done yet */
    int early_mid; /* written before mosquitto_publish() returned */
    int64_t early_ns;
    int ndeath_mid;
    bool ndeath_done;

    struct spb_buf buf;
    struct spb_row *rows;
    size_t nrows, caprows;
    int64_t page_last;  /* the last seq a page read, used or not */
    int64_t page_limit; /* a page stops before this seq */
    bool read_failing;
};

/* --- sparkplug.c -------------------------------------------------------- */

/* Publishes s->buf on topic: with track, a DDATA at the session's QoS
 * carrying min_seq onwards, tracked until acknowledged; else (births,
 * DDEATH) at QoS 0, as the specification asks. Returns 0 or -1
 * (logged at debug: the connection's loss is noticed anyway). */
int spb_send(struct sparkplug *s, const char *topic, bool track,
             int64_t min_seq);
/* The next message's seq, counted. */
int spb_next_seq(struct sparkplug *s);
/* Whether another DDATA may be put in flight; a historical one, also
 * below SPB_HISTORY_WINDOW. */
bool spb_room(const struct sparkplug *s);
bool spb_history_room(const struct sparkplug *s);

/* --- spb_flow.c --------------------------------------------------------- */

/* The devices and metrics of c (sensors by (bus, unit)); frees them. */
void spb_flow_init(struct sparkplug *s, const struct config *c);
void spb_flow_release(struct sparkplug *s);
/* Whether a and b lay out the same devices and metrics. */
bool spb_flow_same(const struct config *a, const struct config *b);

/* A DBIRTH of every device (fresh: a new connection, whose history is
 * every reading after acked up to last_seq), or of every live one (a
 * rebirth). */
void spb_flow_births(struct sparkplug *s, bool fresh);
/* Hands over the readings committed up to s->last_seq, live, and then
 * historical ones, as the window allows. */
void spb_flow_pump(struct sparkplug *s);
/* The lowest seq owed to the host as history or not read yet. */
int64_t spb_flow_owed(const struct sparkplug *s);

#endif
