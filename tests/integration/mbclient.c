// SPDX-License-Identifier: MIT
/*
 * mbclient: reads a Modbus server with libmodbus, a client the project did
 * not write, so that the simulator's framing, CRC and bit packing are
 * checked against an implementation other than its own. For the
 * simulator's integration cases (cases_sim.sh).
 *
 *   mbclient (--tcp PORT | --rtu DEVICE) [--timeout MS] REQUEST...
 *
 * --tcp reads Modbus TCP on 127.0.0.1:PORT; --rtu reads Modbus RTU on the
 * tty DEVICE (9600 8N1: a pty has no baud rate), which may be one end of
 * a socat bridge to an RTU-over-TCP server (libmodbus has no RTU over
 * TCP of its own). REQUEST is UNIT:FUNCTION:ADDRESS:COUNT with FUNCTION
 * 1 (coils), 2 (discrete inputs), 3 (holding) or 4 (input registers);
 * all are sent on one connection, in order. For each it prints one line:
 * the bits as a string of 0 and 1 (first bit first), the registers as
 * lower-case hex words ("0001 cfc7"), or "error: " and libmodbus's text
 * for what went wrong ("error: Connection timed out", "error: Invalid
 * CRC", "error: Illegal data address").
 *
 * Exit status: 0 if every request was answered, 1 if any was not or the
 * connection failed, 2 on misuse.
 */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Timeout for a response, and between its bytes, unless --timeout. */
#define MBCLIENT_TIMEOUT_MS 1000
/* The most a request may ask for: 2000 bits, or 125 registers. */
#define MBCLIENT_MAX_BITS 2000

static void usage(void)
{
    fprintf(stderr, "usage: mbclient (--tcp PORT | --rtu DEVICE) "
                    "[--timeout MS] UNIT:FUNCTION:ADDRESS:COUNT...\n");
    exit(2);
}

/* Sends one request on ctx and prints its line; returns 0, or -1. */
static int request(modbus_t *ctx, const char *spec)
{
    unsigned unit, function, address, count;
    uint8_t bits[MBCLIENT_MAX_BITS];
    uint16_t regs[MBCLIENT_MAX_BITS];
    char tail;
    int n = -1;

    if (sscanf(spec, "%u:%u:%u:%u%c", &unit, &function, &address, &count,
               &tail) != 4 ||
        unit > 255 || function < 1 || function > 4 || address > 65535 ||
        count < 1 || count > MBCLIENT_MAX_BITS) {
        fprintf(stderr, "mbclient: bad request '%s'\n", spec);
        exit(2);
    }
    modbus_set_slave(ctx, (int)unit);
    switch (function) {
    case 1:
        n = modbus_read_bits(ctx, (int)address, (int)count, bits);
        break;
    case 2:
        n = modbus_read_input_bits(ctx, (int)address, (int)count, bits);
        break;
    case 3:
        n = modbus_read_registers(ctx, (int)address, (int)count, regs);
        break;
    case 4:
        n = modbus_read_input_registers(ctx, (int)address, (int)count, regs);
        break;
    }
    if (n < 0) {
        printf("error: %s\n", modbus_strerror(errno));
        /* What is left of a bad answer must not spoil the next one. */
        modbus_flush(ctx);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (function <= 2)
            putchar(bits[i] ? '1' : '0');
        else
            printf("%s%04x", i ? " " : "", regs[i]);
    }
    putchar('\n');
    return 0;
}

int main(int argc, char **argv)
{
    modbus_t *ctx = NULL;
    long timeout_ms = MBCLIENT_TIMEOUT_MS;
    int i = 1, rc = 0;

    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--tcp") == 0 && !ctx)
            ctx = modbus_new_tcp("127.0.0.1", atoi(argv[i + 1]));
        else if (strcmp(argv[i], "--rtu") == 0 && !ctx)
            ctx = modbus_new_rtu(argv[i + 1], 9600, 'N', 8, 1);
        else if (strcmp(argv[i], "--timeout") == 0)
            timeout_ms = atol(argv[i + 1]);
        else
            usage();
    }
    if (!ctx || i == argc || timeout_ms < 1)
        usage();
    modbus_set_response_timeout(ctx, (uint32_t)(timeout_ms / 1000),
                                (uint32_t)(timeout_ms % 1000 * 1000));
    modbus_set_byte_timeout(ctx, (uint32_t)(timeout_ms / 1000),
                            (uint32_t)(timeout_ms % 1000 * 1000));
    if (modbus_connect(ctx) < 0) {
        printf("error: cannot connect: %s\n", modbus_strerror(errno));
        modbus_free(ctx);
        return 1;
    }
    for (; i < argc; i++)
        if (request(ctx, argv[i]) < 0)
            rc = 1;
    fflush(stdout);
    modbus_close(ctx);
    modbus_free(ctx);
    return rc;
}
