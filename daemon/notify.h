/* SPDX-License-Identifier: MIT */
/*
 * The service manager's notification protocol (sd_notify(3)), written in
 * notify.c. Without NOTIFY_SOCKET (not under systemd) every call does
 * nothing, successfully.
 *
 * Errors are ignored, not returned or logged: the manager acts on a
 * notification's absence (a missed READY or WATCHDOG). No state of its
 * own; the daemon calls it from the main thread.
 */
#ifndef TBDAQ_NOTIFY_H
#define TBDAQ_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

void notify_ready(void);
void notify_stopping(void);
void notify_reloading(void);
/* STATUS=<text>; printf-style, the text cut to 1016 bytes. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog interval the manager asked for, in microseconds; 0 if none
 * (or not meant for this process: WATCHDOG_PID names another). Plain
 * decimal numbers only, as systemd writes them: libsystemd would also
 * read "010" as octal 8 and "0x10" as hex, which no manager sends. */
uint64_t notify_watchdog_usec(void);
void notify_watchdog(void);

#endif
