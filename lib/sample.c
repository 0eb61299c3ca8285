// SPDX-License-Identifier: MIT
/*
 * A sensor's reading from its words: see sample.h.
 */
#include "lib/sample.h"

#include <stdio.h>
#include <string.h>

#include "drivers/bus.h"
#include "drivers/decode.h"

unsigned sample_words(const struct sensor_conf *s)
{
    return reg_type_words(s->type);
}

void sample_decode(const struct sensor_conf *s, const uint16_t *w,
                   struct reading *rd)
{
    double raw = s->has_bit ? decode_bit(s->type, s->order, w, s->bit)
                            : decode_raw(s->type, s->order, w);

    rd->nraw = (uint8_t)sample_words(s);
    memcpy(rd->raw, w, rd->nraw * sizeof(uint16_t));
    rd->value = decode_value(s->type, raw, s->scale, s->offset);
    rd->quality = quality_judge(rd->value, s->range_lo, s->range_hi);
}

void sample_comm_error(struct reading *rd, int err, bool sent)
{
    rd->quality = QUALITY_COMM_ERROR;
    snprintf(rd->error, sizeof(rd->error), "%s%s",
             sent ? "" : "not connected: ", bus_strerror(err));
}
