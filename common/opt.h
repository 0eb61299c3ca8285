/* SPDX-License-Identifier: MIT */
/*
 * Command-line options the GNU way, with one wording of every mistake for
 * all programs: getopt_long() with its own messages turned off.
 */
#ifndef TBDAQ_OPT_H
#define TBDAQ_OPT_H

#include <getopt.h>

/*
 * getopt_long() on argc/argv; shortopts must begin with ':'. Returns the
 * next option as getopt_long() does, -1 at the end, or '?' after logging
 * what is wrong: "unknown option '--x' (see HINT)" or "option '-c' needs
 * a value (see HINT)", where hint is e.g. "tbdaqd --help".
 */
int opt_next(int argc, char **argv, const char *shortopts,
             const struct option *longopts, const char *hint);

#endif
