/* SPDX-License-Identifier: MIT */
/*
 * A sensor's reading from the words read for it: what the daemon records
 * (daemon/poller.c) and what `tbdaq read` shows (cli/read.c), so that the
 * two cannot differ. Pure functions of their arguments: thread-safe, no
 * allocation, no errors (a configuration that loaded is valid).
 */
#ifndef TBDAQ_SAMPLE_H
#define TBDAQ_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/reading.h"

/* The words a sensor occupies in its table: 1 for a bool (a bit) or a bit
 * sensor's register, else its type's width. */
unsigned sample_words(const struct sensor_conf *s);

/*
 * Fills rd's raw words, value and quality from w, the sensor's own words
 * (w[0] is its address's): a bit sensor takes its bit after the byte
 * order, every other one its type's value; then scale and offset (SPEC
 * value rounding) and the range's judgement. Leaves the other fields.
 */
void sample_decode(const struct sensor_conf *s, const uint16_t *w,
                   struct reading *rd);

/* Makes rd a comm_error reading with errno err's text; sent false: no
 * request could be sent ("not connected: ..."). */
void sample_comm_error(struct reading *rd, int err, bool sent);

#endif
