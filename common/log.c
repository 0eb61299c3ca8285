// SPDX-License-Identifier: MIT
/*
 * Logging to stderr, one line per event. The line is formatted in full
 * before a single write(2), so lines from poller threads never interleave.
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Longest line written; longer messages are cut, never split. */
#define LOG_LINE_MAX 1024

static const char *log_progname = "tbdaq";
/* A reload changes the level while pollers log: atomic, relaxed (a line
 * logged at the old level during the change is fine). */
static atomic_int log_threshold = LOG_LEVEL_INFO;
static int log_journal; /* stderr is connected to journald */
static int log_stamped; /* lines start with the local time */

static const struct {
    const char *name;
    int syslog_priority;
} log_levels[] = {
    [LOG_LEVEL_ERROR] = {"error", 3},
    [LOG_LEVEL_WARNING] = {"warning", 4},
    [LOG_LEVEL_INFO] = {"info", 6},
    [LOG_LEVEL_DEBUG] = {"debug", 7},
};

/* Whether stderr is the stream systemd connected to the journal: its
 * device and inode are in JOURNAL_STREAM ("dev:ino"). A program started
 * from a service with its stderr redirected inherits the variable but
 * not the stream. */
static int log_stderr_is_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 ||
        fstat(STDERR_FILENO, &st) < 0)
        return 0;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

void log_init(const char *progname, enum log_level level, int flags)
{
    log_progname = progname;
    atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
    log_journal = log_stderr_is_journal();
    log_stamped = (flags & LOG_STAMP) && !log_journal;
    /* The zone is read now, before threads and sandboxing: a change of
     * zone shows in the stamps after a restart (their offset says which
     * zone they are in either way). */
    if (log_stamped)
        tzset();
}

/* Writes the local time now into buf ("2026-12-02T17:40:01.123+01:00 ");
 * returns its length, 0 if the clock cannot be read. */
static size_t log_stamp(char *buf, size_t len)
{
    struct timespec now;
    struct tm tm;
    char date[32], zone[8];
    int n;

    if (clock_gettime(CLOCK_REALTIME, &now) < 0 ||
        !localtime_r(&now.tv_sec, &tm) ||
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
        strftime(zone, sizeof(zone), "%z", &tm) != 5)
        return 0;
    /* %z gives +0100; ISO 8601's extended form wants +01:00 */
    n = snprintf(buf, len, "%s.%03ld%.3s:%s ", date, now.tv_nsec / 1000000,
                 zone, zone + 3);
    return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

void log_set_level(enum log_level level)
{
    atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load_explicit(&log_threshold,
                                                memory_order_relaxed);
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
    if ((size_t)level >= sizeof(log_levels) / sizeof(log_levels[0]))
        return "unknown";
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

    if ((int)level > atomic_load_explicit(&log_threshold, memory_order_relaxed))
        return;
    len = log_stamped ? log_stamp(line, sizeof(line)) : 0;
    if (log_journal)
        n = snprintf(line, sizeof(line), "<%d>",
                     log_levels[level].syslog_priority);
    else
        n = snprintf(line + len, sizeof(line) - len, "%s: %s: ", log_progname,
                     log_levels[level].name);
    len += n < 0 ? 0 : (size_t)n;
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
