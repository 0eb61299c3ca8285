// SPDX-License-Identifier: MIT
/*
 * `tbdaq read SENSOR...`: configured sensors read once, over their own
 * bus settings, and shown as the daemon would record them (value,
 * quality, raw words; lib/sample.c decodes for both). For commissioning
 * and for checking a sensor after a change, without the daemon and
 * without writing anything. Each bus is opened once for its sensors, in
 * the order given; a sensor's words are read on their own (not in the
 * daemon's coalesced requests).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/table.h"
#include "common/util.h"
#include "drivers/bus.h"
#include "lib/sample.h"

/* The sensors asked for: indexes into the configuration, in order. */
struct read_job {
    const struct config *c;
    size_t *sensors;
    size_t n;
};

/* Finds every name; logs each unknown one. Returns 0 or -1. */
static int read_find(struct read_job *j, int argc, char **argv)
{
    int bad = 0;

    j->sensors = xcalloc((size_t)argc, sizeof(*j->sensors));
    for (int i = 0; i < argc; i++) {
        size_t k;

        for (k = 0; k < j->c->nsensors; k++)
            if (strcmp(j->c->sensors[k].id, argv[i]) == 0)
                break;
        if (k == j->c->nsensors) {
            log_err("unknown sensor '%s' (see tbdaq check)", argv[i]);
            bad = 1;
            continue;
        }
        j->sensors[j->n++] = k;
    }
    return bad ? -1 : 0;
}

/* One row of the table: what the reading of sensor s says. */
static void read_row(struct table *t, const struct sensor_conf *s,
                     const struct reading *rd)
{
    char value[FMT_DOUBLE_LEN] = "", raw[REG_MAX_WORDS * 5 + 1] = "";

    if (rd->quality != QUALITY_COMM_ERROR)
        fmt_double(rd->value, value);
    hex_words(rd->raw, rd->nraw, raw);
    table_cell(t, "%s", s->id);
    table_cell(t, "%s", value);
    table_cell(t, "%s", s->unit);
    table_cell(t, "%s", quality_name(rd->quality));
    table_cell(t, "%s", raw);
    table_cell(t, "%s", rd->error);
}

/* Reads the sensors of bus b among j's into t; returns how many readings
 * were comm errors. */
static size_t read_bus(const struct read_job *j, size_t b, struct table *t,
                       bool *done)
{
    const struct bus_conf *bc = &j->c->buses[b];
    struct bus *bus = bus_new(&bc->params);
    int link_err = 0;
    size_t failed = 0;

    if (!bus || bus_connect(bus) < 0)
        link_err = errno ? errno : EIO;
    for (size_t i = 0; i < j->n; i++) {
        const struct sensor_conf *s = &j->c->sensors[j->sensors[i]];
        uint16_t w[REG_MAX_WORDS];
        struct reading rd;

        if (s->bus != b || done[i])
            continue;
        done[i] = true;
        memset(&rd, 0, sizeof(rd));
        if (link_err)
            sample_comm_error(&rd, link_err, false);
        else if (bus_read(bus, s->unit_id, s->table, s->address,
                          (int)sample_words(s), w) < 0)
            sample_comm_error(&rd, errno, true);
        else
            sample_decode(s, w, &rd);
        failed += rd.quality == QUALITY_COMM_ERROR;
        read_row(t, s, &rd);
    }
    bus_free(bus);
    return failed;
}

int read_main(struct cli *cli, int argc, char **argv)
{
    static const char *const header[] = {"SENSOR", ">VALUE", "UNIT", "QUALITY",
                                         "RAW",    "ERROR",  NULL};
    struct read_job j = {NULL, NULL, 0};
    struct table t;
    bool *done;
    size_t failed = 0;
    int rc;

    if ((rc = cli_operands(argc, argv, "read")) >= 0)
        return rc;
    if (optind >= argc) {
        log_err("read needs at least one SENSOR (see tbdaq read --help)");
        return CLI_USAGE;
    }
    if (!(j.c = cli_config(cli)))
        return CLI_FAIL;
    if (read_find(&j, argc - optind, argv + optind) < 0) {
        free(j.sensors);
        return CLI_FAIL;
    }
    done = xcalloc(j.n, sizeof(*done));
    table_init(&t, header);
    /* bus by bus, in the order the sensors name them */
    for (size_t i = 0; i < j.n; i++)
        if (!done[i])
            failed += read_bus(&j, j.c->sensors[j.sensors[i]].bus, &t, done);
    table_print(&t, stdout);
    table_release(&t);
    free(done);
    free(j.sensors);
    if (failed)
        log_err("%zu of %zu sensors could not be read", failed, j.n);
    return failed ? CLI_FAIL : CLI_OK;
}
