// SPDX-License-Identifier: MIT
/*
 * Control commands: the table of commands and of malformed modes, parsing
 * a command line from the FIFO, and carrying a command out on the
 * simulator's state. Commands given as options at start take the same
 * path (sim_apply), so both are logged and behave alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/sim/sim.h"

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

/* What follows a command's unit (or its name, if it has none). */
enum sim_arg {
    SIM_ARG_NONE,
    SIM_ARG_NUMBER,   /* a decimal within the command's bounds */
    SIM_ARG_MODE,     /* one of sim_modes */
    SIM_ARG_IDENTITY, /* a serial number and a firmware version */
};

/* The control commands: name, whether a unit comes first, its argument
 * with the bounds of a number, and the usage shown when misused. */
static const struct {
    const char *name;
    enum sim_cmd_kind kind;
    int has_unit;
    enum sim_arg arg;
    long arg_min;
    long arg_max;
    const char *arg_name;
    const char *usage;
} sim_cmds[] = {
    {"mute", SIM_CMD_MUTE, 1, SIM_ARG_NONE, 0, 0, NULL, "mute UNIT"},
    {"exception", SIM_CMD_EXCEPTION, 1, SIM_ARG_NUMBER, 1, SIM_EXCEPTION_MAX,
     "CODE", "exception UNIT CODE"},
    {"normal", SIM_CMD_NORMAL, 1, SIM_ARG_NONE, 0, 0, NULL, "normal UNIT"},
    {"delay", SIM_CMD_DELAY, 1, SIM_ARG_NUMBER, 0, SIM_MAX_MS, "MS",
     "delay UNIT MS"},
    {"drop", SIM_CMD_DROP, 0, SIM_ARG_NUMBER, 0, SIM_MAX_MS, "MS", "drop MS"},
    {"malformed", SIM_CMD_MALFORMED, 1, SIM_ARG_MODE, 0, 0, "MODE",
     "malformed UNIT MODE"},
    {"drip", SIM_CMD_DRIP, 1, SIM_ARG_NUMBER, 0, SIM_MAX_MS, "MS",
     "drip UNIT MS"},
    {"identity", SIM_CMD_IDENTITY, 1, SIM_ARG_IDENTITY, 0, 0, NULL,
     "identity UNIT SERIAL FIRMWARE"},
};
#define SIM_NCMDS (sizeof(sim_cmds) / sizeof(sim_cmds[0]))

size_t sim_cmd_index(enum sim_cmd_kind kind)
{
    size_t i = 0;

    while (sim_cmds[i].kind != kind)
        i++;
    return i;
}

const char *sim_cmd_name(size_t index)
{
    return sim_cmds[index].name;
}

/* Formats a command as it is logged, e.g. "exception 2 4". */
static void sim_cmd_format(const struct sim_cmd *cmd, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s", sim_cmds[cmd->index].name);

    if (sim_cmds[cmd->index].has_unit && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " %u", cmd->unit);
    if (n < 0 || (size_t)n >= len)
        return;
    switch (sim_cmds[cmd->index].arg) {
    case SIM_ARG_NONE:
        break;
    case SIM_ARG_NUMBER:
        snprintf(buf + n, len - (size_t)n, " %ld", cmd->arg);
        break;
    case SIM_ARG_MODE:
        snprintf(buf + n, len - (size_t)n, " %s", sim_modes[cmd->arg].name);
        break;
    case SIM_ARG_IDENTITY:
        snprintf(buf + n, len - (size_t)n, " %s %s", cmd->serial,
                 cmd->firmware);
        break;
    }
}

/* The malformed mode called name, usable on the transport: its index
 * into sim_modes, or -1 after warning (where says whence it came). */
long sim_mode_parse(const char *name, int rtu, const char *where)
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

/* Number of words after a command's unit (or name). */
static size_t sim_arg_words(enum sim_arg arg)
{
    switch (arg) {
    case SIM_ARG_NONE:
        return 0;
    case SIM_ARG_NUMBER:
    case SIM_ARG_MODE:
        return 1;
    case SIM_ARG_IDENTITY:
        return 2;
    }
    return 0;
}

/* Parses the argument words arg[] of command i into *cmd. Returns 0, or
 * -1 after warning. */
static int sim_cmd_arg(size_t i, char **arg, int rtu, struct sim_cmd *cmd)
{
    switch (sim_cmds[i].arg) {
    case SIM_ARG_NONE:
        return 0;
    case SIM_ARG_MODE:
        cmd->arg = sim_mode_parse(arg[0], rtu, "control");
        return cmd->arg < 0 ? -1 : 0;
    case SIM_ARG_NUMBER:
        if (sim_parse_long(arg[0], sim_cmds[i].arg_min, sim_cmds[i].arg_max,
                           &cmd->arg) < 0) {
            log_warnx("control: bad %s '%s' to '%s': expected %ld..%ld",
                      sim_cmds[i].arg_name, arg[0], sim_cmds[i].name,
                      sim_cmds[i].arg_min, sim_cmds[i].arg_max);
            return -1;
        }
        return 0;
    case SIM_ARG_IDENTITY:
        if (!regmap_identity_valid(arg[0], REGMAP_SERIAL_LEN) ||
            !regmap_identity_valid(arg[1], REGMAP_FIRMWARE_LEN)) {
            log_warnx("control: bad identity '%s %s': expected a serial of "
                      "1..%d and a firmware of 1..%d printable ASCII "
                      "characters",
                      arg[0], arg[1], REGMAP_SERIAL_LEN, REGMAP_FIRMWARE_LEN);
            return -1;
        }
        snprintf(cmd->serial, sizeof(cmd->serial), "%s", arg[0]);
        snprintf(cmd->firmware, sizeof(cmd->firmware), "%s", arg[1]);
        return 0;
    }
    return 0;
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
    want = 1 + (size_t)sim_cmds[i].has_unit + sim_arg_words(sim_cmds[i].arg);
    if (ntok != want) {
        log_warnx("control: wrong arguments to '%s': usage: %s", tok[0],
                  sim_cmds[i].usage);
        return -1;
    }
    memset(cmd, 0, sizeof(*cmd));
    cmd->index = i;
    if (sim_cmds[i].has_unit) {
        if (sim_parse_long(tok[1], 1, (long)units, &v) < 0) {
            log_warnx("control: bad unit '%s' to '%s': expected 1..%u", tok[1],
                      tok[0], units);
            return -1;
        }
        cmd->unit = (unsigned)v;
    }
    if (sim_cmd_arg(i, tok + 1 + sim_cmds[i].has_unit, rtu, cmd) < 0)
        return -1;
    return 1;
}

void sim_apply(struct sim *s, const struct sim_cmd *cmd, const char *source)
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
    case SIM_CMD_IDENTITY:
        /* Not a fault: `normal` leaves it, as a swapped instrument stays
         * swapped. */
        snprintf(u->serial, sizeof(u->serial), "%s", cmd->serial);
        snprintf(u->firmware, sizeof(u->firmware), "%s", cmd->firmware);
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

void sim_control_read(struct sim *s)
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
            sim_cmd_parse(start, s->opt->units, sim_rtu_framing(s->opt), &cmd) >
                0)
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

int sim_control_open(struct sim *s)
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
