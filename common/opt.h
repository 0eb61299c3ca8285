/* SPDX-License-Identifier: MIT */
/*
 * Command-line options the GNU way, with one wording of every mistake for
 * all programs: getopt_long() with its own messages turned off.
 *
 * Not thread-safe: getopt_long()'s state (optind, optarg, optopt, and
 * opterr, which opt_next() sets to 0) is global. Call it from the main
 * thread, before any other thread starts.
 */
#ifndef TBDAQ_OPT_H
#define TBDAQ_OPT_H

#include <getopt.h>

/*
 * getopt_long() on argc/argv; shortopts must hold ':' first (after a
 * leading '+' or '-'). Returns the next option as getopt_long() does, -1
 * at the end, or '?' after logging what is wrong: "unknown option '--x'
 * (see HINT)", "option '--config' needs a value (see HINT)", "option
 * '--check' takes no value", "option '--c' is ambiguous", where hint is
 * e.g. "tbdaqd --help". Long options are named in full even when the
 * user abbreviated them.
 */
int opt_next(int argc, char **argv, const char *shortopts,
             const struct option *longopts, const char *hint);

#endif
