// SPDX-License-Identifier: MIT
/*
 * `tbdaq probe`: the commissioning tool. Reads registers (or bits) of one
 * device once, over TCP, RTU over TCP or RTU, and prints the raw words and
 * what they read as in every type and byte order, so that whoever wires
 * up a new instrument finds its layout by looking rather than by trial and
 * error: the row and column where the expected number shows are the
 * sensor's `type` and `byte_order`. Needs no configuration and no
 * database.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/table.h"
#include "drivers/bus.h"
#include "drivers/decode.h"

/* What probe asks for when the command line does not say. */
#define PROBE_TCP_PORT 502
#define PROBE_TIMEOUT_MS 1000
#define PROBE_WORDS 4 /* enough for every 64-bit type */
#define PROBE_BITS 16
/* Bits per row of the bit table. */
#define PROBE_BITS_PER_ROW 8

struct probe {
    struct bus_params params;
    const char *where; /* as given: HOST[:PORT] or the device */
    int unit;
    enum reg_table table;
    int address;
    int count;
};

/* A number operand in [lo, hi]; logs and returns -1 otherwise. */
static int probe_number(const char *what, const char *text, long lo, long hi,
                        int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        log_err("%s '%s' is not a number in %ld..%ld (see tbdaq probe --help)",
                what, text, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* HOST[:PORT], or [V6ADDRESS][:PORT]; a bare IPv6 address has no port. */
static int probe_host(struct probe *p, const char *text)
{
    const char *colon = strrchr(text, ':');
    size_t hostlen = strlen(text);
    int port = PROBE_TCP_PORT;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (!close || (close[1] && close[1] != ':')) {
            log_err("'%s' is not [ADDRESS]:PORT", text);
            return -1;
        }
        if (close[1] == ':' &&
            probe_number("port", close + 2, 1, 65535, &port) < 0)
            return -1;
        text++;
        hostlen = (size_t)(close - text);
    } else if (colon && strchr(text, ':') == colon) {
        if (probe_number("port", colon + 1, 1, 65535, &port) < 0)
            return -1;
        hostlen = (size_t)(colon - text);
    }
    if (hostlen == 0 || hostlen >= sizeof(p->params.host)) {
        log_err("no host in '%s'", p->where);
        return -1;
    }
    memcpy(p->params.host, text, hostlen);
    p->params.host[hostlen] = '\0';
    p->params.port = port;
    return 0;
}

/* Whether HOST[:PORT] (or [ADDRESS]:PORT) names a port. */
static bool probe_has_port(const char *text)
{
    const char *colon = strrchr(text, ':');

    if (text[0] == '[')
        return strstr(text, "]:") != NULL;
    return colon && strchr(text, ':') == colon;
}

static int probe_parity(const char *text, char *out)
{
    if (strcmp(text, "none") == 0)
        *out = 'N';
    else if (strcmp(text, "even") == 0)
        *out = 'E';
    else if (strcmp(text, "odd") == 0)
        *out = 'O';
    else {
        log_err("unknown parity '%s' (use none, even or odd)", text);
        return -1;
    }
    return 0;
}

/* Parses the command line into p; returns -1 to go on, or the exit
 * status. */
static int probe_args(struct probe *p, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"tcp", required_argument, NULL, 't'},
        {"rtu-over-tcp", required_argument, NULL, 'o'},
        {"rtu", required_argument, NULL, 'r'},
        {"baud", required_argument, NULL, 'b'},
        {"parity", required_argument, NULL, 'p'},
        {"stop-bits", required_argument, NULL, 's'},
        {"unit", required_argument, NULL, 'u'},
        {"table", required_argument, NULL, 'T'},
        CLI_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *host = NULL;
    int opt, ntransports = 0;
    bool serial_opt = false;

    while ((opt = cli_getopt(argc, argv, ":h", longopts, "probe")) != -1) {
        switch (opt) {
        case 'h':
            return CLI_OK;
        case 't':
        case 'o':
            p->params.type = opt == 't' ? BUS_TCP : BUS_RTU_OVER_TCP;
            p->where = host = optarg;
            ntransports++;
            break;
        case 'r':
            p->params.type = BUS_RTU;
            p->where = optarg;
            if (strlen(optarg) >= sizeof(p->params.device)) {
                log_err("device path '%s' is too long", optarg);
                return CLI_USAGE;
            }
            strcpy(p->params.device, optarg);
            ntransports++;
            break;
        case 'b':
            if (probe_number("--baud", optarg, 1, 4000000, &p->params.baud) <
                    0 ||
                !bus_rtu_baud_is_valid(p->params.baud)) {
                log_err("--baud %s is not a serial rate RTU can use", optarg);
                return CLI_USAGE;
            }
            serial_opt = true;
            break;
        case 'p':
            if (probe_parity(optarg, &p->params.parity) < 0)
                return CLI_USAGE;
            serial_opt = true;
            break;
        case 's':
            if (probe_number("--stop-bits", optarg, 1, 2,
                             &p->params.stop_bits) < 0)
                return CLI_USAGE;
            serial_opt = true;
            break;
        case 'u':
            if (probe_number("--unit", optarg, 0, 255, &p->unit) < 0)
                return CLI_USAGE;
            break;
        case 'T':
            if (reg_table_parse(optarg, &p->table) < 0) {
                log_err("unknown table '%s' (use holding, input, coil or "
                        "discrete)",
                        optarg);
                return CLI_USAGE;
            }
            break;
        default:
            return CLI_USAGE;
        }
    }
    if (ntransports != 1) {
        log_err("probe needs one of --tcp, --rtu-over-tcp or --rtu (see tbdaq "
                "probe --help)");
        return CLI_USAGE;
    }
    if (serial_opt && p->params.type != BUS_RTU) {
        log_err("--baud, --parity and --stop-bits are for --rtu");
        return CLI_USAGE;
    }
    if (host && probe_host(p, host) < 0)
        return CLI_USAGE;
    /* a device server has no standard port, as the configuration says */
    if (p->params.type == BUS_RTU_OVER_TCP && !probe_has_port(host)) {
        log_err("--rtu-over-tcp needs HOST:PORT (device servers have no "
                "standard port)");
        return CLI_USAGE;
    }
    /* 0 is broadcast on a serial line (no answer comes); 248..255 are
     * reserved there; a TCP gateway may use any */
    if (p->params.type != BUS_TCP && (p->unit < 1 || p->unit > 247)) {
        log_err("--unit %d: a unit on a serial line is 1..247", p->unit);
        return CLI_USAGE;
    }
    if (optind >= argc || argc - optind > 2) {
        log_err("probe takes ADDRESS and an optional COUNT (see tbdaq probe "
                "--help)");
        return CLI_USAGE;
    }
    if (probe_number("ADDRESS", argv[optind], 0, 65535, &p->address) < 0)
        return CLI_USAGE;
    p->count = reg_table_bits(p->table) ? PROBE_BITS : PROBE_WORDS;
    if (argc - optind == 2 &&
        probe_number("COUNT", argv[optind + 1], 1,
                     reg_table_bits(p->table) ? BUS_MAX_BITS
                                              : BUS_MAX_REGISTERS,
                     &p->count) < 0)
        return CLI_USAGE;
    if (p->address + p->count - 1 > 65535) {
        log_err("ADDRESS %d and COUNT %d go past address 65535", p->address,
                p->count);
        return CLI_USAGE;
    }
    return -1;
}

/* The words as text: two characters each, high byte first, '.' for a
 * byte that is not printable ASCII. */
static void probe_text(uint16_t w, char out[3])
{
    unsigned char c[2] = {(unsigned char)(w >> 8), (unsigned char)(w & 0xff)};

    for (int i = 0; i < 2; i++)
        out[i] = c[i] >= 0x20 && c[i] < 0x7f ? (char)c[i] : '.';
    out[2] = '\0';
}

static void probe_print_words(const struct probe *p, const uint16_t *w)
{
    static const char *const header[] = {">address", "hex",  ">uint16",
                                         ">int16",   "text", NULL};
    struct table t;

    table_init(&t, header);
    for (int i = 0; i < p->count; i++) {
        char text[3];

        probe_text(w[i], text);
        table_cell(&t, "%d", p->address + i);
        table_cell(&t, "%04x", w[i]);
        table_cell(&t, "%u", w[i]);
        table_cell(&t, "%d", (int)(int16_t)w[i]);
        table_cell(&t, "%s", text);
    }
    table_print(&t, stdout);
    table_release(&t);
}

/* One cell: the value of type read in order from w, exact for the
 * integers (64-bit ones included), shortest round-trip for floats. */
static void probe_value(struct table *t, enum reg_type type,
                        enum byte_order order, const uint16_t *w)
{
    uint64_t u = decode_bits(order, w);
    char buf[FMT_DOUBLE_LEN];

    switch (type) {
    case REG_INT64:
        table_cell(t, "%" PRId64, (int64_t)u);
        return;
    case REG_UINT64:
        table_cell(t, "%" PRIu64, u);
        return;
    default:
        /* a float32 as its shortest decimal (decode_value's rule) */
        fmt_double(decode_value(type, decode_raw(type, order, w), 1, 0), buf);
        table_cell(t, "%s", buf);
        return;
    }
}

/* The types of one width, a row each, a column per byte order. */
static void probe_print_width(const uint16_t *w, unsigned words)
{
    static const enum reg_type types[] = {
        REG_INT16,   REG_UINT16, REG_INT32,  REG_UINT32,
        REG_FLOAT32, REG_INT64,  REG_UINT64, REG_FLOAT64,
    };
    const char *header[6] = {NULL};
    enum byte_order orders[4];
    char title[16], names[4][24];
    size_t norders = 0;
    struct table t;

    snprintf(title, sizeof(title), "%u-bit", 16 * words);
    header[0] = title;
    for (int o = BO_AB; o <= BO_HGFEDCBA; o++) {
        const char *name = byte_order_name((enum byte_order)o);

        if (strlen(name) != 2 * words)
            continue;
        /* flush right: the name with '>' in front */
        snprintf(names[norders], sizeof(names[norders]), ">%s", name);
        header[norders + 1] = names[norders];
        orders[norders++] = (enum byte_order)o;
    }
    table_init(&t, header);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (reg_type_words(types[i]) != words)
            continue;
        table_cell(&t, "%s", reg_type_name(types[i]));
        for (size_t k = 0; k < norders; k++)
            probe_value(&t, types[i], orders[k], w);
    }
    table_print(&t, stdout);
    table_release(&t);
}

static void probe_print_bits(const struct probe *p, const uint16_t *w)
{
    const char *header[PROBE_BITS_PER_ROW + 2] = {">address"};
    char names[PROBE_BITS_PER_ROW][8];
    struct table t;

    for (int i = 0; i < PROBE_BITS_PER_ROW; i++) {
        snprintf(names[i], sizeof(names[i]), ">+%d", i);
        header[i + 1] = names[i];
    }
    table_init(&t, header);
    for (int i = 0; i < p->count; i += PROBE_BITS_PER_ROW) {
        table_cell(&t, "%d", p->address + i);
        for (int k = 0; k < PROBE_BITS_PER_ROW; k++)
            table_cell(&t, "%s",
                       i + k < p->count ? (w[i + k] ? "1" : "0") : "");
    }
    table_print(&t, stdout);
    table_release(&t);
}

static const char *probe_table_words(enum reg_table table)
{
    switch (table) {
    case TABLE_COIL:
        return "coils";
    case TABLE_DISCRETE:
        return "discrete inputs";
    case TABLE_INPUT:
        return "input registers";
    case TABLE_HOLDING:
        break;
    }
    return "holding registers";
}

int probe_main(struct cli *cli, int argc, char **argv)
{
    struct probe p = {
        .params = {.timeout_ms = PROBE_TIMEOUT_MS,
                   .baud = 9600,
                   .parity = 'N',
                   .data_bits = 8,
                   .stop_bits = 1,
                   .max_registers = BUS_MAX_REGISTERS,
                   .max_bits = BUS_MAX_BITS},
        .unit = 1,
        .table = TABLE_HOLDING,
    };
    uint16_t words[BUS_MAX_BITS];
    struct bus *b;
    int rc;

    (void)cli;
    if ((rc = probe_args(&p, argc, argv)) >= 0)
        return rc;
    if (p.params.type == BUS_RTU)
        p.params.delay_ms = 5;
    if (!(b = bus_new(&p.params))) {
        log_err("cannot use %s: %s", p.where, bus_strerror(errno));
        return CLI_FAIL;
    }
    if (bus_connect(b) < 0) {
        log_err("cannot connect to %s: %s", p.where, bus_strerror(errno));
        bus_free(b);
        return CLI_FAIL;
    }
    if (bus_read(b, p.unit, p.table, p.address, p.count, words) < 0) {
        int err = errno;

        log_err("%s unit %d, %s %d..%d (function %d): %s%s", p.where, p.unit,
                probe_table_words(p.table), p.address, p.address + p.count - 1,
                reg_table_function(p.table),
                bus_error_is_exception(err) ? "the device answered: " : "",
                bus_strerror(err));
        bus_free(b);
        return CLI_FAIL;
    }
    bus_free(b);
    printf("%s unit %d, %s %d..%d (function %d):\n\n", p.where, p.unit,
           probe_table_words(p.table), p.address, p.address + p.count - 1,
           reg_table_function(p.table));
    if (reg_table_bits(p.table)) {
        probe_print_bits(&p, words);
        return CLI_OK;
    }
    probe_print_words(&p, words);
    printf("\nRead from address %d on as one value (type by byte order):\n",
           p.address);
    for (unsigned width = 1; width <= REG_MAX_WORDS; width *= 2) {
        if ((int)width > p.count)
            break;
        printf("\n");
        probe_print_width(words, width);
    }
    return CLI_OK;
}
