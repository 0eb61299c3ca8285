/* SPDX-License-Identifier: MIT */
/*
 * Every kind of output the daemon has (output.h), each defined in its
 * own file; outputs.c lists them in output_kinds[].
 */
#ifndef TBDAQ_OUTPUT_KINDS_H
#define TBDAQ_OUTPUT_KINDS_H

#include "daemon/output.h"
#include "daemon/sparkplug.h" /* sparkplug_output_ops */

extern const struct output_ops mqtt_output_ops; /* output_mqtt.c: JSON */

#endif
