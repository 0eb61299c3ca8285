/* SPDX-License-Identifier: MIT */
/*
 * One turn of a bench subscriber's libmosquitto client, driven by poll(2)
 * rather than mosquitto_loop(): benchsub.c and spbhost.c share it. Not
 * thread-safe (the client is the caller's); errors are returned, never
 * logged.
 */
#ifndef TBDAQ_BENCH_MQSTEP_H
#define TBDAQ_BENCH_MQSTEP_H

#include <mosquitto.h>
#include <signal.h>

/*
 * Waits up to timeout_ms for the client's socket, reads every packet it
 * holds (libmosquitto reads one a call; several wait when messages come
 * fast), writes what waits and does the client's housekeeping, stopping
 * early once *stop is set. Returns MOSQ_ERR_SUCCESS, libmosquitto's error,
 * or MQSTEP_POLL_FAILED if poll(2) failed (errno says why). The connection
 * is lost if mosquitto_socket() is negative afterwards; with no socket at
 * the call, returns MOSQ_ERR_NO_CONN at once.
 */
#define MQSTEP_POLL_FAILED (-100) /* below libmosquitto's codes */
int mqstep(struct mosquitto *mosq, int timeout_ms,
           const volatile sig_atomic_t *stop);

#endif
