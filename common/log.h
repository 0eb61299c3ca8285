/* SPDX-License-Identifier: MIT */
/*
 * Logging for all tbdaq programs, in the manner of OpenBSD ntpd: one line
 * per event on stderr with a level word. When stderr is the journal
 * (JOURNAL_STREAM names it) each line starts with a "<N>" syslog priority
 * instead, which journald turns into the entry's priority, and journald
 * adds the time; elsewhere a daemon's lines start with the local time.
 *
 * Logging is thread-safe (one write per line) and preserves errno; it
 * cannot fail (a long line is cut, never split; a failed write is
 * dropped). log_set_level() may be called while other threads log (the
 * level is atomic); log_init() sets the name and flags, unlocked: call it
 * before any other thread starts.
 */
#ifndef TBDAQ_LOG_H
#define TBDAQ_LOG_H

#include <stdnoreturn.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARNING,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

enum log_flags {
    LOG_PLAIN = 0,
    /* Start each line with the local time to the millisecond and its UTC
     * offset (2026-12-02T17:40:01.123+01:00), unless stderr is the
     * journal: for daemons, whose lines are read later. */
    LOG_STAMP = 1,
};

/* Sets the program name shown on each line (kept, not copied: it must
 * outlive logging), the level and flags (LOG_PLAIN or LOG_STAMP). Call
 * before any thread starts; again to change the flags (a daemon stamps
 * only once its options are read). */
void log_init(const char *progname, enum log_level level, int flags);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "error", "warning", "info", "debug". Returns 0, or -1 if unknown. */
int log_level_parse(const char *name, enum log_level *out);
/* The level's name, a static string ("unknown" for a value outside the
 * enum). */
const char *log_level_name(enum log_level level);

/* log_warn appends ": strerror(errno)"; the x variants do not. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs at error level (fatal appends ": strerror(errno)", fatalx does
 * not) and exits with status 1. Only for "cannot happen"; exit(3) is not
 * thread-safe: the main thread only. */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
