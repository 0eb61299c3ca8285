// SPDX-License-Identifier: MIT
/*
 * sd_notify wrappers. Failures to notify are not errors for tbdaq: the
 * service manager, if any, acts on their absence (a missed READY or
 * WATCHDOG), which is the right consequence.
 */
#include "daemon/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

void notify_ready(void)
{
    sd_notify(0, "READY=1");
}

void notify_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}

void notify_reloading(void)
{
    sd_notify(0, "RELOADING=1");
}

void notify_status(const char *fmt, ...)
{
    char buf[1024]; /* the counters and a database error of up to 511 */
    va_list ap;
    int n = snprintf(buf, sizeof(buf), "STATUS=");

    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    sd_notify(0, buf);
}

uint64_t notify_watchdog_usec(void)
{
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) <= 0)
        return 0;
    return usec;
}

void notify_watchdog(void)
{
    sd_notify(0, "WATCHDOG=1");
}
