// SPDX-License-Identifier: MIT
/*
 * tbdaq-sim: a Modbus sensor simulator for the demo, the tests and the
 * benchmarks. It serves the register map of regmap.c for unit ids 1..N over
 * Modbus TCP on 127.0.0.1 (any number of clients) or Modbus RTU on one tty,
 * and takes fault-injection commands (mute, exception, malformed replies,
 * delay, drip, drop) from a FIFO while it runs.
 *
 * One thread, one ppoll() loop. Every connection keeps its own input buffer
 * (requests may arrive split or pipelined), output buffer and list of
 * delayed replies, and sends a dripping unit's reply a byte at a time from
 * a staging buffer of its own, so a slow unit or a slow reader holds up
 * nobody else.
 * Replies are built when they are sent, so values are those of the moment
 * the reply leaves.
 */
#define _GNU_SOURCE /* ppoll() and accept4(): Linux is the only target */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "tests/sim/frame.h"
#include "tests/sim/regmap.h"
#include "version.h"

#define SIM_EXIT_OK 0
#define SIM_EXIT_FAIL 1
#define SIM_EXIT_USAGE 2

#define SIM_DEFAULT_PORT 5020
#define SIM_DEFAULT_UNITS 4
/* The highest unit id Modbus allows for a device. */
#define SIM_MAX_UNITS 247
#define SIM_MAX_PORT 65535
#define SIM_LISTEN_BACKLOG 128
/* Connections accepted per loop turn, so a connect storm cannot starve
 * the clients already served. */
#define SIM_ACCEPT_BATCH 64
/* After running out of descriptors, wait this long before accepting again
 * rather than spin on a listening socket that stays readable. */
#define SIM_ACCEPT_PAUSE_NS (100 * NS_PER_MS)
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

static volatile sig_atomic_t sim_stop;

enum sim_cmd_kind {
    SIM_CMD_MUTE,
    SIM_CMD_EXCEPTION,
    SIM_CMD_NORMAL,
    SIM_CMD_DELAY,
    SIM_CMD_DROP,
    SIM_CMD_MALFORMED,
    SIM_CMD_DRIP,
};

/* Transports a malformed mode has a field to spoil on. */
#define SIM_ON_TCP 1
#define SIM_ON_RTU 2

/* The modes of `malformed`, indexed by enum frame_fault. */
static const struct {
    const char *name;
    int on;
} sim_modes[] = {
    [FRAME_FAULT_NONE] = {NULL, 0},
    [FRAME_FAULT_SHORT] = {"short", SIM_ON_TCP | SIM_ON_RTU},
    [FRAME_FAULT_BYTECOUNT] = {"bytecount", SIM_ON_TCP | SIM_ON_RTU},
    [FRAME_FAULT_UNIT] = {"unit", SIM_ON_TCP | SIM_ON_RTU},
    [FRAME_FAULT_FUNCTION] = {"function", SIM_ON_TCP | SIM_ON_RTU},
    [FRAME_FAULT_TID] = {"tid", SIM_ON_TCP},
    [FRAME_FAULT_CRC] = {"crc", SIM_ON_RTU},
    [FRAME_FAULT_GARBAGE] = {"garbage", SIM_ON_TCP | SIM_ON_RTU},
    [FRAME_FAULT_LENGTH] = {"length", SIM_ON_TCP},
    [FRAME_FAULT_EXTRA] = {"extra", SIM_ON_TCP | SIM_ON_RTU},
};
#define SIM_NMODES (sizeof(sim_modes) / sizeof(sim_modes[0]))

/* The control commands: name, whether a unit comes first, the bounds of
 * the numeric argument (if any), and the usage shown when misused. */
static const struct {
    const char *name;
    enum sim_cmd_kind kind;
    int has_unit;
    int has_arg;
    long arg_min;
    long arg_max;
    const char *arg_name;
    const char *usage;
    int arg_is_mode; /* the argument names one of sim_modes */
} sim_cmds[] = {
    {"mute", SIM_CMD_MUTE, 1, 0, 0, 0, NULL, "mute UNIT", 0},
    {"exception", SIM_CMD_EXCEPTION, 1, 1, 1, SIM_EXCEPTION_MAX, "CODE",
     "exception UNIT CODE", 0},
    {"normal", SIM_CMD_NORMAL, 1, 0, 0, 0, NULL, "normal UNIT", 0},
    {"delay", SIM_CMD_DELAY, 1, 1, 0, SIM_MAX_MS, "MS", "delay UNIT MS", 0},
    {"drop", SIM_CMD_DROP, 0, 1, 0, SIM_MAX_MS, "MS", "drop MS", 0},
    {"malformed", SIM_CMD_MALFORMED, 1, 1, 0, 0, "MODE", "malformed UNIT MODE",
     1},
    {"drip", SIM_CMD_DRIP, 1, 1, 0, SIM_MAX_MS, "MS", "drip UNIT MS", 0},
};
#define SIM_NCMDS (sizeof(sim_cmds) / sizeof(sim_cmds[0]))

struct sim_cmd {
    size_t index; /* into sim_cmds */
    unsigned unit;
    long arg;
    const char *mode; /* --malformed's MODE, until it is looked up */
};

/* Fault state of one unit. */
struct sim_unit {
    int muted;
    uint8_t exception; /* 0: answer normally */
    enum frame_fault malformed;
    long delay_ms;
    long drip_ms;    /* 0: replies go out whole */
    uint32_t served; /* requests answered, exceptions included */
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

static const char *const sim_help[] = {
    "usage: tbdaq-sim [-h] [-V] [--port N | --rtu PATH] [--units N] [--log "
    "FILE]",
    "                 [--control PATH] [--mute UNIT]...",
    "                 [--exception UNIT:CODE]... [--malformed UNIT:MODE]...",
    "",
    "Modbus sensor simulator for tbdaq: serves unit ids 1..N over Modbus TCP",
    "on 127.0.0.1, or Modbus RTU on a serial device or pty.",
    "",
    "options:",
    "  --port N         TCP port on 127.0.0.1 (default 5020; 0 picks a free",
    "                   one). Once listening, prints one line to stdout:",
    "                   'tbdaq-sim: listening on 127.0.0.1:PORT'",
    "  --rtu PATH       serve Modbus RTU on the tty PATH instead (raw, 9600",
    "                   8N1), every unit on the one line; prints",
    "                   'tbdaq-sim: serving rtu on PATH'",
    "  --units N        serve unit ids 1..N (default 4, at most 247)",
    "  --log FILE       append one line per request answered (exception",
    "                   answers included, muted requests not):",
    "                   '<realtime ns> <unit> <function> <address> <count>'",
    "                   with the CLOCK_REALTIME time the request arrived",
    "                   (over TCP, the kernel's receive timestamp)",
    "  --control PATH   read control commands from the FIFO PATH (created if",
    "                   absent, removed at exit if created)",
    "  --mute UNIT      start with UNIT muted (repeatable)",
    "  --exception UNIT:CODE",
    "                   start with UNIT answering exception CODE (repeatable)",
    "  --malformed UNIT:MODE",
    "                   start with UNIT answering malformed frames of MODE",
    "                   (see 'malformed' below; repeatable)",
    "  -V, --version    print the version and exit",
    "  -h, --help       print this help and exit",
    "",
    "register map: the same for every unit u, on the holding (function 3)",
    "and input (function 4) tables; t = CLOCK_REALTIME in seconds when the",
    "reply is built.",
    "  block B   0 flow       v = 20 + u     + 5   sin(2 pi t / 60)  m3/h",
    "          100 pressure   v = 4 + 0.1 u  + 0.5 sin(2 pi t / 30)  bar",
    "          200 turbidity  v = 1 + 0.1 u  + 0.5 sin(2 pi t / 45)  NTU",
    "          300 ph         v = 7 + 0.01 u + 0.1 sin(2 pi t / 90)  pH",
    "  B+0  int16 AB    B+1  int16 BA    B+2 uint16 AB   B+3 uint16 BA",
    "       all round(v * 100)",
    "  B+4  int32 ABCD  B+6  CDAB  B+8  BADC  B+10 DCBA  round(v * 1000)",
    "  B+12 uint32 ABCD B+14 CDAB  B+16 BADC  B+18 DCBA  round(v * 1000)",
    "  B+20 float32 ABCD  B+22 CDAB  B+24 BADC  B+26 DCBA  (float)v",
    "  B+28 float64 ABCDEFGH  B+32 GHEFCDAB  B+36 BADCFEHG  B+40 HGFEDCBA  v",
    "  fixed, ABCD:  900 int16 -12345     901 uint16 54321",
    "                902 int32 -123456789 904 uint32 3000000000",
    "                906 float32 1234.5   908 float64 -9876.54321",
    "                912 float32 NaN (7fc0 0000)  914 float32 +Inf (7f80 0000)",
    "                916 uint16 unit id   917 uint16 requests answered for",
    "                this unit, this one included, mod 65536",
    "  bulk:  1000 + 2k (k = 0..999) float32 ABCD",
    "         k + 0.5 + 0.25 sin(2 pi t / 60 + k)",
    "  Every other register in 0..2999 reads 0. A read touching 3000 or more",
    "  gets exception 2, a count outside 1..125 exception 3, a function other",
    "  than 3 or 4 exception 1. A unit outside 1..N gets exception 11 on TCP",
    "  and no answer on RTU; RTU frames with a bad CRC are ignored.",
    "",
    "control commands, one per line on the FIFO:",
    "  mute UNIT             drop every request to UNIT without an answer",
    "  exception UNIT CODE   answer every request to UNIT with exception CODE",
    "                        (1..255)",
    "  delay UNIT MS         answer UNIT MS milliseconds late (0..3600000);",
    "                        other units and clients are not held up",
    "  malformed UNIT MODE   answer every request to UNIT with a spoiled",
    "                        frame of MODE:",
    "     short      the reply cut to half its length (connection kept)",
    "     bytecount  byte count 2 off the data sent (replies with data)",
    "     unit       another unit id",
    "     function   another function code (3 <-> 4, 0x83 <-> 0x84)",
    "     tid        TCP only: another transaction id",
    "     crc        RTU only: a CRC that does not hold",
    "     garbage    random bytes, as many as the reply",
    "     length     TCP only: MBAP length field 4 more than sent",
    "     extra      the valid reply, then 4 random bytes",
    "     on RTU the CRC holds unless the mode is crc or garbage",
    "  drip UNIT MS          send each reply of UNIT one byte at a time, MS",
    "                        ms apart (0..3600000; 0 ends dripping); replies",
    "                        behind it on the same connection (or line) wait,",
    "                        other connections are not held up",
    "  normal UNIT           clear UNIT's mute, exception, malformed, delay",
    "                        and drip; a reply dripping is sent whole at once",
    "  mute, exception and malformed replace each other; a delay also delays",
    "  exception and malformed answers, and a drip drips them.",
    "  drop MS               close every TCP connection and accept-and-close",
    "                        new ones for MS ms; on RTU ignore every request",
    "                        for MS ms",
    "  Each command applied is logged to stderr ('control: mute 2'); an",
    "  unknown or malformed one is warned about and ignored.",
    "",
    "SIGTERM and SIGINT exit 0. Exit status: 0 success, 1 failure (cannot",
    "listen, open or create a file), 2 usage error.",
};

static void sim_on_signal(int sig)
{
    (void)sig;
    sim_stop = 1;
}

static int64_t sim_real_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Parses a whole decimal string within [min, max]. Returns 0, or -1. */
static int sim_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Formats a command as it is logged, e.g. "exception 2 4". */
static void sim_cmd_format(const struct sim_cmd *cmd, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s", sim_cmds[cmd->index].name);

    if (sim_cmds[cmd->index].has_unit && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " %u", cmd->unit);
    if (sim_cmds[cmd->index].arg_is_mode && n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " %s", sim_modes[cmd->arg].name);
    else if (sim_cmds[cmd->index].has_arg && n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " %ld", cmd->arg);
}

/* The malformed mode called name, usable on the transport: its index
 * into sim_modes, or -1 after warning (where says whence it came). */
static long sim_mode_parse(const char *name, int rtu, const char *where)
{
    for (size_t i = 1; i < SIM_NMODES; i++) {
        if (strcmp(name, sim_modes[i].name) != 0)
            continue;
        if (!(sim_modes[i].on & (rtu ? SIM_ON_RTU : SIM_ON_TCP))) {
            log_warnx("%s: malformed mode '%s' is for %s only", where, name,
                      rtu ? "tcp" : "rtu");
            return -1;
        }
        return (long)i;
    }
    log_warnx("%s: unknown malformed mode '%s': expected short, bytecount, "
              "unit, function, tid, crc, garbage, length or extra",
              where, name);
    return -1;
}

/*
 * Parses one control line (modified in place) into *cmd. Returns 1 for a
 * command, 0 for a blank or comment line, -1 after warning about it.
 */
static int sim_cmd_parse(char *line, unsigned units, int rtu,
                         struct sim_cmd *cmd)
{
    char *tok[4], *save = NULL, *p;
    size_t ntok = 0, i, want;
    long v;

    for (p = strtok_r(line, " \t\r", &save); p;
         p = strtok_r(NULL, " \t\r", &save)) {
        if (ntok == sizeof(tok) / sizeof(tok[0])) {
            ntok++;
            break;
        }
        tok[ntok++] = p;
    }
    if (ntok == 0 || tok[0][0] == '#')
        return 0;
    for (i = 0; i < SIM_NCMDS; i++)
        if (strcmp(tok[0], sim_cmds[i].name) == 0)
            break;
    if (i == SIM_NCMDS) {
        log_warnx("control: unknown command '%s'", tok[0]);
        return -1;
    }
    want = 1 + (size_t)sim_cmds[i].has_unit + (size_t)sim_cmds[i].has_arg;
    if (ntok != want) {
        log_warnx("control: wrong arguments to '%s': usage: %s", tok[0],
                  sim_cmds[i].usage);
        return -1;
    }
    cmd->index = i;
    cmd->unit = 0;
    cmd->arg = 0;
    if (sim_cmds[i].has_unit) {
        if (sim_parse_long(tok[1], 1, (long)units, &v) < 0) {
            log_warnx("control: bad unit '%s' to '%s': expected 1..%u", tok[1],
                      tok[0], units);
            return -1;
        }
        cmd->unit = (unsigned)v;
    }
    if (sim_cmds[i].arg_is_mode) {
        cmd->arg = sim_mode_parse(tok[ntok - 1], rtu, "control");
        if (cmd->arg < 0)
            return -1;
    } else if (sim_cmds[i].has_arg) {
        p = tok[ntok - 1];
        if (sim_parse_long(p, sim_cmds[i].arg_min, sim_cmds[i].arg_max,
                           &cmd->arg) < 0) {
            log_warnx("control: bad %s '%s' to '%s': expected %ld..%ld",
                      sim_cmds[i].arg_name, p, tok[0], sim_cmds[i].arg_min,
                      sim_cmds[i].arg_max);
            return -1;
        }
    }
    return 1;
}

static struct sim_conn *sim_conn_new(int fd)
{
    struct sim_conn *c = xcalloc(1, sizeof(*c));

    c->fd = fd;
    return c;
}

/* Forgets everything in flight on c: input, replies owed and unsent. */
static void sim_conn_reset(struct sim_conn *c)
{
    c->in_len = 0;
    c->out_off = 0;
    c->out_len = 0;
    c->npending = 0;
    c->drip_off = 0;
    c->drip_len = 0;
}

static void sim_conn_free(struct sim_conn *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    free(c->pending);
    free(c->drip);
    free(c);
}

static void sim_conn_queue(struct sim_conn *c, const unsigned char *p, size_t n)
{
    /* Compact once sent bytes outweigh unsent ones: amortised O(1). */
    if (c->out_off > 0 && c->out_off >= c->out_len - c->out_off) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    xgrow(&c->out, &c->out_cap, c->out_len + n, 1);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* Writes what the peer takes now. Returns 0, or -1 if the peer is gone. */
static int sim_conn_flush(struct sim_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = 0;
    c->out_len = 0;
    return 0;
}

static int sim_dropping(const struct sim *s)
{
    return s->drop_until_ns > time_mono_ns();
}

static int64_t sim_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int sim_dripping(const struct sim_conn *c)
{
    return c->drip_off < c->drip_len;
}

/* Stages a reply of unit to go out one byte every ms, the first now. */
static void sim_drip_start(struct sim_conn *c, unsigned unit, long ms,
                           const unsigned char *p, size_t n)
{
    xgrow(&c->drip, &c->drip_cap, n, 1);
    memcpy(c->drip, p, n);
    c->drip_off = 0;
    c->drip_len = n;
    c->drip_unit = unit;
    c->drip_ms = ms;
    c->drip_next_ns = time_mono_ns();
}

/* Queues the bytes of the staged reply that are due by now (all of them
 * if all); returns when the next one is due, or INT64_MAX once done. */
static int64_t sim_drip_pump(struct sim_conn *c, int64_t now, int all)
{
    while (sim_dripping(c) && (all || c->drip_next_ns <= now)) {
        sim_conn_queue(c, c->drip + c->drip_off++, 1);
        c->drip_next_ns += c->drip_ms * NS_PER_MS;
    }
    return sim_dripping(c) ? c->drip_next_ns : INT64_MAX;
}

/* Builds the reply owed in p, with values of this moment, and queues it
 * (or stages it, if its unit drips). */
static void sim_reply(struct sim *s, struct sim_conn *c,
                      const struct sim_pending *p)
{
    uint16_t words[REGMAP_MAX_COUNT];
    unsigned char frame[FRAME_MANGLED_MAX];
    struct timespec now;
    unsigned unit = p->req.unit;
    size_t n;

    /* No exception means a valid unit and range: see sim_request(). */
    if (!p->exception) {
        clock_gettime(CLOCK_REALTIME, &now);
        regmap_read(p->req.unit, (uint16_t)s->unit[p->req.unit].served, &now,
                    p->req.address, p->req.count, words);
    }
    if (s->opt->rtu_path)
        n = frame_rtu_reply(&p->req, p->exception, words, frame);
    else
        n = frame_tcp_reply(&p->req, p->exception, words, frame);
    /* Units outside 1..N (TCP gateway exceptions) have no fault state. */
    if (unit >= 1 && unit <= s->opt->units && s->unit[unit].malformed)
        n = frame_mangle(frame, n, s->opt->rtu_path != NULL,
                         s->unit[unit].malformed, &s->rng);
    if (unit >= 1 && unit <= s->opt->units && s->unit[unit].drip_ms) {
        sim_drip_start(c, unit, s->unit[unit].drip_ms, frame, n);
        return;
    }
    sim_conn_queue(c, frame, n);
}

/* The exception a well-behaved unit answers req with, or 0. */
static uint8_t sim_check(const struct frame_request *req)
{
    if (req->function != FRAME_READ_HOLDING &&
        req->function != FRAME_READ_INPUT)
        return FRAME_EXC_ILLEGAL_FUNCTION;
    if (!req->well_formed || req->count < 1 || req->count > REGMAP_MAX_COUNT)
        return FRAME_EXC_ILLEGAL_VALUE;
    if ((unsigned)req->address + req->count > REGMAP_SIZE)
        return FRAME_EXC_ILLEGAL_ADDRESS;
    return 0;
}

/*
 * Serves one request received on c at rx_ns (CLOCK_REALTIME): decides
 * whether and how to answer, logs it, and replies now or queues the reply
 * for its unit's delay.
 */
static void sim_request(struct sim *s, struct sim_conn *c,
                        const struct frame_request *req, int64_t rx_ns)
{
    struct sim_pending p = {.req = *req};
    struct sim_unit *u;

    if (sim_dropping(s))
        return;
    if (req->unit < 1 || req->unit > s->opt->units) {
        if (s->opt->rtu_path)
            return; /* on a shared line, another device's business */
        p.exception = FRAME_EXC_GATEWAY_TARGET;
    } else {
        u = &s->unit[req->unit];
        if (u->muted)
            return;
        u->served++;
        p.exception = u->exception ? u->exception : sim_check(req);
        p.due_ns = u->delay_ms ? time_mono_ns() + u->delay_ms * NS_PER_MS : 0;
    }
    if (s->log)
        fprintf(s->log, "%lld %u %u %u %u\n", (long long)rx_ns, req->unit,
                req->function, req->address, req->count);
    if (!p.due_ns && !sim_dripping(c)) {
        sim_reply(s, c, &p);
        sim_drip_pump(c, time_mono_ns(), 0);
        return;
    }
    /* Behind a reply still dripping: due now, sent once it is out. */
    if (!p.due_ns)
        p.due_ns = time_mono_ns();
    xgrow(&c->pending, &c->pending_cap, c->npending + 1, sizeof(p));
    c->pending[c->npending++] = p;
}

/*
 * Sends every reply on c due by now, keeping the rest in order. Returns
 * the earliest due time left, or INT64_MAX.
 */
static int64_t sim_conn_due(struct sim *s, struct sim_conn *c, int64_t now)
{
    int64_t next = INT64_MAX;
    size_t kept = 0;

    sim_drip_pump(c, now, 0);
    for (size_t i = 0; i < c->npending; i++) {
        /* Nothing overtakes a reply that is dripping; what is due goes
         * when its last byte has, and its due time, past, is no wake-up. */
        if (c->pending[i].due_ns <= now && !sim_dripping(c)) {
            sim_reply(s, c, &c->pending[i]);
            sim_drip_pump(c, now, 0);
            continue;
        }
        if (c->pending[i].due_ns > now && c->pending[i].due_ns < next)
            next = c->pending[i].due_ns;
        c->pending[kept++] = c->pending[i];
    }
    c->npending = kept;
    if (sim_dripping(c))
        next = sim_min(next, c->drip_next_ns);
    if (c->out_len > c->out_off && sim_conn_flush(c) < 0)
        c->dead = 1;
    return next;
}

static void sim_tcp_read(struct sim *s, struct sim_conn *c)
{
    struct frame_request req;
    size_t off = 0, used = 0;
    ssize_t n;
    int64_t rx_ns;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct timespec))];
    } control;
    struct iovec iov = {c->in + c->in_len, SIM_IN_CAP - c->in_len};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};

    n = recvmsg(c->fd, &msg, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        c->dead = 1;
        return;
    }
    /*
     * The arrival time logged is the kernel's receive timestamp of the
     * data, not when this loop got round to reading it: the simulator
     * stands for many devices that would each answer at once, and serving
     * them one after another must not show up as the client's lateness.
     */
    rx_ns = sim_real_ns();
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm;
         cm = CMSG_NXTHDR(&msg, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;

            memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
            rx_ns = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
        }
    c->in_len += (size_t)n;
    for (;;) {
        enum frame_status st =
            frame_tcp_parse(c->in + off, c->in_len - off, &req, &used);

        if (st == FRAME_NEED_MORE)
            break;
        if (st == FRAME_BROKEN) {
            log_debug("closing a client that sent a bad MBAP length");
            c->dead = 1;
            return;
        }
        if (st == FRAME_OK)
            sim_request(s, c, &req, rx_ns);
        off += used;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    if (sim_conn_flush(c) < 0)
        c->dead = 1;
}

/* Opens the line in raw mode. quiet: the caller expects failures and
 * retries, so they are not logged. Returns 0, or -1. */
static int sim_rtu_open(struct sim *s, int quiet)
{
    const char *path = s->opt->rtu_path;
    struct termios tio;
    int fd;

    fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (!quiet)
            log_err("cannot open rtu device '%s': %s", path, strerror(errno));
        return -1;
    }
    if (tcgetattr(fd, &tio) < 0) {
        if (!quiet)
            log_err("rtu device '%s' is not a tty: %s", path, strerror(errno));
        goto fail;
    }
    cfmakeraw(&tio);
    tio.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | CRTSCTS);
    tio.c_cflag |= CS8 | CLOCAL | CREAD;
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    if (cfsetispeed(&tio, B9600) < 0 || cfsetospeed(&tio, B9600) < 0 ||
        tcsetattr(fd, TCSANOW, &tio) < 0) {
        if (!quiet)
            log_err("cannot set up rtu device '%s': %s", path, strerror(errno));
        goto fail;
    }
    /* Bytes left over from before are no request of ours to answer. */
    tcflush(fd, TCIOFLUSH);
    s->rtu->fd = fd;
    return 0;
fail:
    close(fd);
    return -1;
}

/* The line went away (a pty's other side closed): retry until it is back. */
static void sim_rtu_lost(struct sim *s, const char *why)
{
    log_warnx("rtu device '%s': %s; reopening", s->opt->rtu_path, why);
    close(s->rtu->fd);
    s->rtu->fd = -1;
    sim_conn_reset(s->rtu);
    s->rtu_reopen_ns = time_mono_ns() + SIM_RTU_REOPEN_NS;
}

static void sim_rtu_reopen(struct sim *s)
{
    if (sim_rtu_open(s, 1) < 0) {
        s->rtu_reopen_ns = time_mono_ns() + SIM_RTU_REOPEN_NS;
        return;
    }
    log_info("rtu device '%s' reopened", s->opt->rtu_path);
}

static void sim_rtu_read(struct sim *s)
{
    struct sim_conn *c = s->rtu;
    struct frame_request req;
    size_t off = 0, used = 0;
    ssize_t n;
    int64_t rx_ns;

    n = read(c->fd, c->in + c->in_len, SIM_IN_CAP - c->in_len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        sim_rtu_lost(s, n == 0 ? "hung up" : strerror(errno));
        return;
    }
    rx_ns = sim_real_ns();
    c->last_rx_ns = time_mono_ns();
    c->in_len += (size_t)n;
    while (frame_rtu_parse(c->in + off, c->in_len - off, &req, &used) ==
           FRAME_OK) {
        sim_request(s, c, &req, rx_ns);
        off += used;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    /* A full buffer without one valid frame in it is noise. */
    if (c->in_len == SIM_IN_CAP)
        c->in_len = 0;
    if (sim_conn_flush(c) < 0)
        sim_rtu_lost(s, strerror(errno));
}

/* A silence ends whatever frame is buffered: serve it if its CRC holds. */
static void sim_rtu_gap(struct sim *s)
{
    struct sim_conn *c = s->rtu;
    struct frame_request req;

    if (frame_rtu_parse_whole(c->in, c->in_len, &req) == FRAME_OK)
        sim_request(s, c, &req, sim_real_ns());
    c->in_len = 0;
    if (sim_conn_flush(c) < 0)
        sim_rtu_lost(s, strerror(errno));
}

/* Ends the drips of unit's replies in progress: the rest of each goes at
 * once (sent by the next loop turn), so the client gets a whole reply. */
static void sim_drip_finish(struct sim *s, unsigned unit)
{
    for (size_t i = 0; i < s->nconn; i++)
        if (sim_dripping(s->conn[i]) && s->conn[i]->drip_unit == unit)
            sim_drip_pump(s->conn[i], 0, 1);
    if (s->rtu && sim_dripping(s->rtu) && s->rtu->drip_unit == unit)
        sim_drip_pump(s->rtu, 0, 1);
}

static void sim_apply(struct sim *s, const struct sim_cmd *cmd,
                      const char *source)
{
    struct sim_unit *u = &s->unit[cmd->unit];
    char text[SIM_CONTROL_LINE_MAX];

    switch (sim_cmds[cmd->index].kind) {
    /* Mute and exception replace each other: the latest one holds. A
     * delay and a drip apply to whatever the unit answers. */
    case SIM_CMD_MUTE:
        u->muted = 1;
        u->exception = 0;
        u->malformed = FRAME_FAULT_NONE;
        break;
    case SIM_CMD_EXCEPTION:
        u->muted = 0;
        u->exception = (uint8_t)cmd->arg;
        u->malformed = FRAME_FAULT_NONE;
        break;
    case SIM_CMD_MALFORMED:
        u->muted = 0;
        u->exception = 0;
        u->malformed = (enum frame_fault)cmd->arg;
        break;
    case SIM_CMD_NORMAL:
        u->muted = 0;
        u->exception = 0;
        u->malformed = FRAME_FAULT_NONE;
        u->delay_ms = 0;
        u->drip_ms = 0;
        sim_drip_finish(s, cmd->unit);
        break;
    case SIM_CMD_DELAY:
        u->delay_ms = cmd->arg;
        break;
    case SIM_CMD_DRIP:
        u->drip_ms = cmd->arg;
        if (!u->drip_ms)
            sim_drip_finish(s, cmd->unit);
        break;
    case SIM_CMD_DROP:
        s->drop_until_ns = time_mono_ns() + cmd->arg * NS_PER_MS;
        for (size_t i = 0; i < s->nconn; i++)
            s->conn[i]->dead = 1;
        if (s->rtu)
            sim_conn_reset(s->rtu);
        break;
    }
    sim_cmd_format(cmd, text, sizeof(text));
    log_info("%s: %s", source, text);
}

static void sim_control_read(struct sim *s)
{
    char *start, *nl;
    struct sim_cmd cmd;
    ssize_t n;

    n = read(s->control_fd, s->control_buf + s->control_len,
             sizeof(s->control_buf) - s->control_len);
    if (n <= 0)
        return; /* EAGAIN; the FIFO is ours read-write, so never EOF */
    s->control_len += (size_t)n;
    start = s->control_buf;
    while ((nl = memchr(start, '\n',
                        s->control_len - (size_t)(start - s->control_buf)))) {
        *nl = '\0';
        if (!s->control_overlong &&
            sim_cmd_parse(start, s->opt->units, s->opt->rtu_path != NULL,
                          &cmd) > 0)
            sim_apply(s, &cmd, "control");
        s->control_overlong = 0;
        start = nl + 1;
    }
    s->control_len -= (size_t)(start - s->control_buf);
    memmove(s->control_buf, start, s->control_len);
    if (s->control_len == sizeof(s->control_buf)) {
        if (!s->control_overlong)
            log_warnx("control: line longer than %d bytes ignored",
                      SIM_CONTROL_LINE_MAX - 1);
        s->control_overlong = 1;
        s->control_len = 0;
    }
}

static int sim_control_open(struct sim *s)
{
    const char *path = s->opt->control_path;
    struct stat st;

    if (stat(path, &st) == 0) {
        if (!S_ISFIFO(st.st_mode)) {
            log_err("control '%s' exists and is not a FIFO", path);
            return -1;
        }
    } else if (errno != ENOENT || mkfifo(path, 0600) < 0) {
        log_err("cannot create control FIFO '%s': %s", path, strerror(errno));
        return -1;
    } else {
        s->control_created = 1;
    }
    /* Read-write: the FIFO always has a writer, so writers may come and
     * go without the sim ever reading end-of-file. */
    s->control_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (s->control_fd < 0) {
        log_err("cannot open control FIFO '%s': %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int sim_listen(struct sim *s)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    int one = 1;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s->opt->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->listen_fd =
        socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0 ||
        setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) <
            0 ||
        bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(s->listen_fd, SIM_LISTEN_BACKLOG) < 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&addr, &len) < 0) {
        log_err("cannot listen on 127.0.0.1:%ld: %s", s->opt->port,
                strerror(errno));
        return -1;
    }
    s->port = ntohs(addr.sin_port);
    return 0;
}

static void sim_accept(struct sim *s)
{
    int one = 1;

    for (int i = 0; i < SIM_ACCEPT_BATCH; i++) {
        int fd =
            accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                log_warn("cannot accept on 127.0.0.1:%u", s->port);
                s->accept_pause_ns = time_mono_ns() + SIM_ACCEPT_PAUSE_NS;
            }
            return;
        }
        if (sim_dropping(s)) {
            close(fd);
            continue;
        }
        /* Replies are small and clients wait for them: no Nagle delay. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* The kernel stamps each request's arrival (see sim_tcp_read). */
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
        xgrow(&s->conn, &s->conn_cap, s->nconn + 1, sizeof(*s->conn));
        s->conn[s->nconn++] = sim_conn_new(fd);
    }
}

/* Closes the connections marked dead, keeping the others' order. */
static void sim_sweep(struct sim *s)
{
    size_t kept = 0;

    for (size_t i = 0; i < s->nconn; i++) {
        if (s->conn[i]->dead)
            sim_conn_free(s->conn[i]);
        else
            s->conn[kept++] = s->conn[i];
    }
    s->nconn = kept;
}

static short sim_conn_events(const struct sim_conn *c)
{
    short ev = 0;

    if (c->out_len - c->out_off < SIM_OUT_HIGH)
        ev |= POLLIN;
    if (c->out_len > c->out_off)
        ev |= POLLOUT;
    return ev;
}

/* Sends due replies and timed work; returns the next deadline or
 * INT64_MAX. */
static int64_t sim_timers(struct sim *s)
{
    int64_t now = time_mono_ns(), next = INT64_MAX;
    struct sim_conn *rtu = s->rtu;

    for (size_t i = 0; i < s->nconn; i++)
        next = sim_min(next, sim_conn_due(s, s->conn[i], now));
    if (!rtu) {
        if (s->accept_pause_ns > now)
            next = sim_min(next, s->accept_pause_ns);
        return next;
    }
    if (rtu->fd < 0 && now >= s->rtu_reopen_ns)
        sim_rtu_reopen(s);
    if (rtu->fd < 0)
        return sim_min(next, s->rtu_reopen_ns);
    if (rtu->in_len > 0 && now - rtu->last_rx_ns >= SIM_RTU_GAP_NS)
        sim_rtu_gap(s);
    if (rtu->fd < 0)
        return sim_min(next, s->rtu_reopen_ns);
    if (rtu->in_len > 0)
        next = sim_min(next, rtu->last_rx_ns + SIM_RTU_GAP_NS);
    next = sim_min(next, sim_conn_due(s, rtu, now));
    if (rtu->dead) {
        rtu->dead = 0;
        sim_rtu_lost(s, "write failed");
        return sim_min(next, s->rtu_reopen_ns);
    }
    return next;
}

/* One turn of the loop: wait for I/O or the next deadline, then serve. */
static int sim_turn(struct sim *s, const sigset_t *waitmask)
{
    int64_t next = sim_timers(s), now;
    struct timespec ts, *tsp = NULL;
    size_t n = 0, first_conn;
    int ready;

    xgrow(&s->pfd, &s->pfd_cap, s->nconn + 2, sizeof(*s->pfd));
    if (s->rtu) {
        s->pfd[n].fd = s->rtu->fd;
        s->pfd[n++].events = sim_conn_events(s->rtu);
    } else {
        s->pfd[n].fd = s->accept_pause_ns > time_mono_ns() ? -1 : s->listen_fd;
        s->pfd[n++].events = POLLIN;
    }
    s->pfd[n].fd = s->control_fd;
    s->pfd[n++].events = POLLIN;
    first_conn = n;
    for (size_t i = 0; i < s->nconn; i++) {
        s->pfd[n].fd = s->conn[i]->fd;
        s->pfd[n++].events = sim_conn_events(s->conn[i]);
    }
    if (next != INT64_MAX) {
        now = time_mono_ns();
        next = next > now ? next - now : 0;
        ts.tv_sec = (time_t)(next / NS_PER_S);
        ts.tv_nsec = (long)(next % NS_PER_S);
        tsp = &ts;
    }
    ready = ppoll(s->pfd, n, tsp, waitmask);
    if (ready < 0) {
        if (errno == EINTR)
            return 0;
        log_err("poll: %s", strerror(errno));
        return -1;
    }
    for (size_t i = first_conn; i < n; i++) {
        struct sim_conn *c = s->conn[i - first_conn];

        if (c->dead)
            continue;
        if ((s->pfd[i].revents & POLLOUT) && sim_conn_flush(c) < 0)
            c->dead = 1;
        if (!c->dead && (s->pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
            sim_tcp_read(s, c);
    }
    if (s->rtu && s->rtu->fd >= 0) {
        short rev = s->pfd[0].revents;

        if ((rev & POLLOUT) && sim_conn_flush(s->rtu) < 0)
            sim_rtu_lost(s, strerror(errno));
        else if (rev & POLLIN)
            sim_rtu_read(s);
        else if (rev & (POLLHUP | POLLERR | POLLNVAL))
            sim_rtu_lost(s, "hung up");
    } else if (!s->rtu && (s->pfd[0].revents & POLLIN)) {
        sim_accept(s);
    }
    if (s->pfd[1].revents & POLLIN)
        sim_control_read(s);
    sim_sweep(s);
    return 0;
}

static void sim_release(struct sim *s)
{
    for (size_t i = 0; i < s->nconn; i++)
        sim_conn_free(s->conn[i]);
    free(s->conn);
    sim_conn_free(s->rtu);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->control_fd >= 0)
        close(s->control_fd);
    if (s->control_created)
        unlink(s->opt->control_path);
    if (s->log)
        fclose(s->log);
    free(s->unit);
    free(s->pfd);
}

static int sim_run(const struct sim_options *opt)
{
    struct sim s;
    struct sigaction sa;
    sigset_t block, waitmask;
    int rc = SIM_EXIT_FAIL;

    memset(&s, 0, sizeof(s));
    s.opt = opt;
    s.listen_fd = -1;
    s.control_fd = -1;
    s.unit = xcalloc(opt->units + 1, sizeof(*s.unit));
    s.rng = SIM_RNG_SEED;

    /* The handlers only set a flag; TERM and INT stay blocked except
     * inside ppoll(), so a signal can never slip in just before it. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sim_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);

    if (opt->log_path) {
        s.log = fopen(opt->log_path, "a");
        if (!s.log) {
            log_err("cannot open log '%s': %s", opt->log_path, strerror(errno));
            goto fail;
        }
        /* Whole lines, at once: tests read the log while the sim runs. */
        setvbuf(s.log, NULL, _IOLBF, 0);
    }
    if (opt->control_path && sim_control_open(&s) < 0)
        goto fail;
    for (size_t i = 0; i < opt->nstart; i++)
        sim_apply(&s, &opt->start[i], "option");
    if (opt->rtu_path) {
        s.rtu = sim_conn_new(-1);
        if (sim_rtu_open(&s, 0) < 0)
            goto fail;
        printf("tbdaq-sim: serving rtu on %s\n", opt->rtu_path);
    } else {
        if (sim_listen(&s) < 0)
            goto fail;
        printf("tbdaq-sim: listening on 127.0.0.1:%u\n", s.port);
    }
    fflush(stdout);

    while (!sim_stop)
        if (sim_turn(&s, &waitmask) < 0)
            goto fail;
    log_info("stopping on signal");
    rc = SIM_EXIT_OK;
fail:
    sim_release(&s);
    return rc;
}

static void sim_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* One line: what is wrong, and where to read how it is done. */
static void sim_usage_error(const char *fmt, ...)
{
    char msg[SIM_CONTROL_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_err("%s (see tbdaq-sim --help)", msg);
}

static int sim_add_start(struct sim_options *opt, enum sim_cmd_kind kind,
                         const char *arg)
{
    struct sim_cmd cmd = {0};
    char *colon = NULL;
    char unit[16];
    long v;

    for (cmd.index = 0; sim_cmds[cmd.index].kind != kind; cmd.index++)
        ;
    if (kind == SIM_CMD_MALFORMED) {
        colon = strchr(arg, ':');
        if (!colon || (size_t)(colon - arg) >= sizeof(unit)) {
            sim_usage_error("bad --malformed '%s': expected UNIT:MODE", arg);
            return -1;
        }
        memcpy(unit, arg, (size_t)(colon - arg));
        unit[colon - arg] = '\0';
        /* The mode is checked once the transport is known. */
        cmd.mode = colon + 1;
    } else if (kind == SIM_CMD_EXCEPTION) {
        colon = strchr(arg, ':');
        if (!colon || (size_t)(colon - arg) >= sizeof(unit) ||
            sim_parse_long(colon + 1, 1, SIM_EXCEPTION_MAX, &cmd.arg) < 0) {
            sim_usage_error("bad --exception '%s': expected UNIT:CODE, "
                            "CODE 1..255",
                            arg);
            return -1;
        }
        memcpy(unit, arg, (size_t)(colon - arg));
        unit[colon - arg] = '\0';
    } else {
        snprintf(unit, sizeof(unit), "%s", arg);
    }
    /* The bound on units is checked once --units is known. */
    if (sim_parse_long(unit, 1, SIM_MAX_UNITS, &v) < 0) {
        sim_usage_error("bad unit in '%s': expected 1..247", arg);
        return -1;
    }
    cmd.unit = (unsigned)v;
    xgrow(&opt->start, &opt->start_cap, opt->nstart + 1, sizeof(cmd));
    opt->start[opt->nstart++] = cmd;
    return 0;
}

/* Parses the command line. Returns 0, 1 after --help, -1 on misuse. */
static int sim_options_parse(struct sim_options *opt, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"rtu", required_argument, NULL, 'r'},
        {"units", required_argument, NULL, 'u'},
        {"log", required_argument, NULL, 'l'},
        {"control", required_argument, NULL, 'c'},
        {"mute", required_argument, NULL, 'm'},
        {"exception", required_argument, NULL, 'e'},
        {"malformed", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int have_port = 0, ch;
    long v;

    opt->port = SIM_DEFAULT_PORT;
    opt->units = SIM_DEFAULT_UNITS;
    while ((ch = opt_next(argc, argv, ":hV", longopts, "tbdaq-sim --help")) !=
           -1) {
        switch (ch) {
        case 'p':
            if (sim_parse_long(optarg, 0, SIM_MAX_PORT, &opt->port) < 0) {
                sim_usage_error("bad --port '%s': expected 0..65535", optarg);
                return -1;
            }
            have_port = 1;
            break;
        case 'r':
            opt->rtu_path = optarg;
            break;
        case 'u':
            if (sim_parse_long(optarg, 1, SIM_MAX_UNITS, &v) < 0) {
                sim_usage_error("bad --units '%s': expected 1..247", optarg);
                return -1;
            }
            opt->units = (unsigned)v;
            break;
        case 'l':
            opt->log_path = optarg;
            break;
        case 'c':
            opt->control_path = optarg;
            break;
        case 'm':
            if (sim_add_start(opt, SIM_CMD_MUTE, optarg) < 0)
                return -1;
            break;
        case 'e':
            if (sim_add_start(opt, SIM_CMD_EXCEPTION, optarg) < 0)
                return -1;
            break;
        case 'M':
            if (sim_add_start(opt, SIM_CMD_MALFORMED, optarg) < 0)
                return -1;
            break;
        case 'h':
            for (size_t i = 0; i < sizeof(sim_help) / sizeof(sim_help[0]); i++)
                puts(sim_help[i]);
            return 1;
        case 'V':
            printf("tbdaq-sim %s\n", TBDAQ_VERSION);
            return 1;
        default:
            return -1;
        }
    }
    if (optind < argc) {
        sim_usage_error("unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (have_port && opt->rtu_path) {
        sim_usage_error("--port and --rtu cannot be combined");
        return -1;
    }
    for (size_t i = 0; i < opt->nstart; i++) {
        if (opt->start[i].unit > opt->units) {
            sim_usage_error("unit %u of --%s is not in 1..%u",
                            opt->start[i].unit,
                            sim_cmds[opt->start[i].index].name, opt->units);
            return -1;
        }
        if (opt->start[i].mode) {
            opt->start[i].arg = sim_mode_parse(
                opt->start[i].mode, opt->rtu_path != NULL, "--malformed");
            if (opt->start[i].arg < 0) {
                log_err("bad --malformed mode '%s' (see tbdaq-sim --help)",
                        opt->start[i].mode);
                return -1;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sim_options opt;
    int rc;

    log_init("tbdaq-sim", LOG_LEVEL_INFO, LOG_PLAIN);
    memset(&opt, 0, sizeof(opt));
    rc = sim_options_parse(&opt, argc, argv);
    if (rc == 0) {
        log_init("tbdaq-sim", LOG_LEVEL_INFO, LOG_STAMP);
        rc = sim_run(&opt);
    } else
        rc = rc > 0 ? SIM_EXIT_OK : SIM_EXIT_USAGE;
    free(opt.start);
    return rc;
}
