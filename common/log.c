// SPDX-License-Identifier: MIT
/*
 * Logging to stderr, one line per event. The line is formatted in full
 * before a single write(2), so lines from poller threads never interleave.
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longest line written; longer messages are cut, never split. */
#define LOG_LINE_MAX 1024

static const char *log_progname = "tbdaq";
static enum log_level log_threshold = LOG_LEVEL_INFO;
static int log_journal; /* stderr is connected to journald */

static const struct {
    const char *name;
    int syslog_priority;
} log_levels[] = {
    [LOG_LEVEL_ERROR] = {"error", 3},
    [LOG_LEVEL_WARNING] = {"warning", 4},
    [LOG_LEVEL_INFO] = {"info", 6},
    [LOG_LEVEL_DEBUG] = {"debug", 7},
};

void log_init(const char *progname, enum log_level level)
{
    log_progname = progname;
    log_threshold = level;
    log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(enum log_level level)
{
    log_threshold = level;
}

enum log_level log_get_level(void)
{
    return log_threshold;
}

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
        if (strcmp(name, log_levels[i].name) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return log_levels[level].name;
}

static void log_vwrite(enum log_level level, int errnum, const char *fmt,
                       va_list ap) __attribute__((format(printf, 3, 0)));

static void log_vwrite(enum log_level level, int errnum, const char *fmt,
                       va_list ap)
{
    char line[LOG_LINE_MAX];
    int n;
    size_t len;

    if (level > log_threshold)
        return;
    if (log_journal)
        n = snprintf(line, sizeof(line), "<%d>",
                     log_levels[level].syslog_priority);
    else
        n = snprintf(line, sizeof(line), "%s: %s: ", log_progname,
                     log_levels[level].name);
    len = n < 0 ? 0 : (size_t)n;
    if (len < sizeof(line)) {
        n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
        if (n > 0)
            len += (size_t)n;
    }
    if (errnum && len < sizeof(line)) {
        n = snprintf(line + len, sizeof(line) - len, ": %s", strerror(errnum));
        if (n > 0)
            len += (size_t)n;
    }
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    /* A short write to stderr leaves nothing better to report it to. */
    if (write(STDERR_FILENO, line, len) < 0)
        return;
}

#define LOG_BODY(level, errnum)                                                \
    do {                                                                       \
        int saved_errno = errno;                                               \
        va_list ap;                                                            \
        va_start(ap, fmt);                                                     \
        log_vwrite(level, errnum, fmt, ap);                                    \
        va_end(ap);                                                            \
        errno = saved_errno;                                                   \
    } while (0)

void log_err(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_ERROR, 0);
}

void log_warn(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_WARNING, errno);
}

void log_warnx(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_WARNING, 0);
}

void log_info(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_INFO, 0);
}

void log_debug(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_DEBUG, 0);
}

void fatal(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_ERROR, errno);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    LOG_BODY(LOG_LEVEL_ERROR, 0);
    exit(1);
}
