/* SPDX-License-Identifier: MIT */
/*
 * Logging for all tbdaq programs, in the manner of OpenBSD ntpd: one line
 * per event on stderr with a level word. Under systemd (JOURNAL_STREAM set)
 * each line starts with a "<N>" syslog priority instead, which journald
 * turns into the entry's priority.
 *
 * Every function is thread-safe (one write per line) and preserves errno.
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

/* Sets the program name shown on each line and the initial level. */
void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "error", "warning", "info", "debug". Returns 0, or -1 if unknown. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

/* log_warn appends ": strerror(errno)"; the x variants do not. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs at error level and exits with status 1. Only for "cannot happen". */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
