/* SPDX-License-Identifier: MIT */
/*
 * The simulator's private header: its state and the functions its files
 * share, grouped by the file that defines them. sim.c is the command line
 * and the poll loop, sim_conn.c serves requests on a connection (or the
 * RTU line), sim_rtu.c frames RTU (on the line, or over TCP) and keeps the
 * RTU line open, sim_control.c carries out control commands, sim_help.c
 * is the --help text.
 *
 * One thread: nothing here is locked, and nothing needs to be.
 */
#ifndef TBDAQ_SIM_SIM_H
#define TBDAQ_SIM_SIM_H

#include <poll.h>
#include <stdint.h>
#include <stdio.h>

#include "common/util.h"
#include "tests/sim/frame.h"
#include "tests/sim/regmap.h"

#define SIM_DEFAULT_PORT 5020
#define SIM_DEFAULT_UNITS 4
/* The highest unit id Modbus allows for a device. */
#define SIM_MAX_UNITS 247
/* Input buffered per connection: many pipelined requests of FRAME_MAX. */
#define SIM_IN_CAP 4096
/* Stop reading a client whose unread replies exceed this (back-pressure). */
#define SIM_OUT_HIGH (256 * 1024)
/* RTU: a silence this long ends a frame that no length rule completed. It
 * is far above 3.5 characters at 9600 baud (4 ms) because a pty has no
 * baud rate and a busy machine can pause a writer. */
#define SIM_RTU_GAP_NS (50 * NS_PER_MS)
/* RTU: how often to try reopening a device that went away. */
#define SIM_RTU_REOPEN_NS (250 * NS_PER_MS)
/* Longest control command line, and longest delay or drop (one hour). */
#define SIM_CONTROL_LINE_MAX 256
#define SIM_MAX_MS 3600000L
#define SIM_EXCEPTION_MAX 255
/* Seed of the random bytes of malformed replies: runs are reproducible. */
#define SIM_RNG_SEED 0x7bda0c5eu

enum sim_cmd_kind {
    SIM_CMD_MUTE,
    SIM_CMD_EXCEPTION,
    SIM_CMD_NORMAL,
    SIM_CMD_DELAY,
    SIM_CMD_DROP,
    SIM_CMD_MALFORMED,
    SIM_CMD_DRIP,
    SIM_CMD_IDENTITY,
};

/* One control command, from the FIFO or the command line. */
struct sim_cmd {
    size_t index; /* into sim_control.c's table */
    unsigned unit;
    long arg;
    const char *mode; /* --malformed's MODE, until it is looked up */
    char serial[REGMAP_SERIAL_LEN + 1]; /* identity's */
    char firmware[REGMAP_FIRMWARE_LEN + 1];
};

/* Fault state and identity of one unit. */
struct sim_unit {
    int muted;
    uint8_t exception; /* 0: answer normally */
    enum frame_fault malformed;
    long delay_ms;
    long drip_ms;    /* 0: replies go out whole */
    uint32_t served; /* requests answered, exceptions included */
    char serial[REGMAP_SERIAL_LEN + 1];
    char firmware[REGMAP_FIRMWARE_LEN + 1];
};

/* A reply owed, due at due_ns (CLOCK_MONOTONIC). */
struct sim_pending {
    int64_t due_ns;
    struct frame_request req;
    uint8_t exception;
};

/* A TCP client, or the RTU line. */
struct sim_conn {
    int fd;
    int rtu;  /* frames are RTU (the line, or a client over TCP), not MBAP */
    int dead; /* closed at the end of the loop turn */
    unsigned char in[SIM_IN_CAP];
    size_t in_len;
    int64_t last_rx_ns; /* CLOCK_MONOTONIC of the last bytes read */
    unsigned char *out;
    size_t out_off, out_len, out_cap; /* unsent bytes: out[out_off..len) */
    struct sim_pending *pending;      /* in arrival order */
    size_t npending, pending_cap;
    /* A dripping unit's reply, not yet sent: drip[drip_off..drip_len),
     * one byte every drip_ms, the next at drip_next_ns. Replies that come
     * due meanwhile wait in pending, so the stream keeps its order. */
    unsigned char *drip;
    size_t drip_off, drip_len, drip_cap;
    unsigned drip_unit;
    long drip_ms;
    int64_t drip_next_ns;
};

struct sim_options {
    long port;
    const char *rtu_path;
    int rtu_over_tcp; /* RTU frames on the TCP port */
    unsigned units;
    const char *log_path;
    const char *control_path;
    struct sim_cmd *start; /* --mute and --exception, in order */
    size_t nstart, start_cap;
};

struct sim {
    const struct sim_options *opt;
    struct sim_unit *unit; /* [0 .. units], index 0 unused */
    FILE *log;
    int listen_fd;
    unsigned port;
    int64_t accept_pause_ns;
    struct sim_conn **conn;
    size_t nconn, conn_cap;
    struct sim_conn *rtu;  /* RTU mode: the line; fd -1 while gone */
    int64_t rtu_reopen_ns; /* RTU: next attempt while fd is -1 */
    int64_t drop_until_ns; /* CLOCK_MONOTONIC end of a drop */
    int control_fd;
    int control_created; /* unlink the FIFO at exit */
    char control_buf[SIM_CONTROL_LINE_MAX];
    size_t control_len;
    int control_overlong; /* discarding up to the next newline */
    uint32_t rng;         /* random bytes of malformed replies */
    struct pollfd *pfd;
    size_t pfd_cap;
};

/* sim.c */
int64_t sim_real_ns(void);
int64_t sim_min(int64_t a, int64_t b);
/* Parses a whole decimal string within [min, max]. Returns 0, or -1. */
int sim_parse_long(const char *s, long min, long max, long *out);
/* True while a `drop` lasts. */
int sim_dropping(const struct sim *s);

/* sim_conn.c */
/* A connection on fd (-1: none yet) speaking RTU frames if rtu, else
 * Modbus TCP's; the caller frees it with sim_conn_free(). */
struct sim_conn *sim_conn_new(int fd, int rtu);
/* Forgets everything in flight on c: input, replies owed and unsent. */
void sim_conn_reset(struct sim_conn *c);
/* Closes c's descriptor (if open) and frees c; NULL is fine. */
void sim_conn_free(struct sim_conn *c);
/* Writes what the peer takes now. Returns 0, or -1 if the peer is gone. */
int sim_conn_flush(struct sim_conn *c);
/* Sends every reply on c due by now; returns the earliest due time left,
 * or INT64_MAX. Marks c dead if the peer is gone. */
int64_t sim_conn_due(struct sim *s, struct sim_conn *c, int64_t now);
/* Serves one request received on c at rx_ns (CLOCK_REALTIME). */
void sim_request(struct sim *s, struct sim_conn *c,
                 const struct frame_request *req, int64_t rx_ns);
/* Reads what a TCP client sent and serves the requests complete in it. */
void sim_tcp_read(struct sim *s, struct sim_conn *c);
/* Sends the rest of unit's replies that are dripping at once. */
void sim_drip_finish(struct sim *s, unsigned unit);

/* sim_rtu.c */
/* Whether the simulator speaks RTU frames (on a line or over TCP). */
int sim_rtu_framing(const struct sim_options *opt);
/* Serves the RTU requests complete in c's input, received at rx_ns. */
void sim_rtu_frames(struct sim *s, struct sim_conn *c, int64_t rx_ns);
/* The end of a frame at a silence on c, by now: serves what is buffered
 * if it is due, and returns when the next silence would end one (or
 * INT64_MAX). Marks c dead if a reply cannot be written. */
int64_t sim_rtu_silence(struct sim *s, struct sim_conn *c, int64_t now);
/* Opens the line in raw mode; quiet: failures are expected and not
 * logged. Returns 0, or -1. */
int sim_rtu_open(struct sim *s, int quiet);
/* The line went away: close it and retry every SIM_RTU_REOPEN_NS. */
void sim_rtu_lost(struct sim *s, const char *why);
void sim_rtu_reopen(struct sim *s);
void sim_rtu_read(struct sim *s);

/* sim_control.c */
/* The index of command kind in the table of commands, and its name. */
size_t sim_cmd_index(enum sim_cmd_kind kind);
const char *sim_cmd_name(size_t index);
/* The malformed mode called name, usable on the transport: its index
 * into the modes (an enum frame_fault), or -1 after warning (where says
 * whence it came). */
long sim_mode_parse(const char *name, int rtu, const char *where);
/* Carries out cmd; source ("control", "option") is logged with it. */
void sim_apply(struct sim *s, const struct sim_cmd *cmd, const char *source);
/* Creates (if absent) and opens the control FIFO. Returns 0, or -1. */
int sim_control_open(struct sim *s);
/* Reads and carries out the complete command lines on the FIFO. */
void sim_control_read(struct sim *s);

/* sim_help.c */
void sim_help_print(void);

#endif
