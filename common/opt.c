// SPDX-License-Identifier: MIT
/*
 * getopt_long() with tbdaq's error messages. getopt's own name the option
 * differently for short and long forms and print the program's full path;
 * these name the option as the user typed it.
 */
#include "common/opt.h"

#include <string.h>

#include "common/log.h"

/* Whether name ("check=1") is a long option without a value. */
static int opt_takes_no_value(const struct option *longopts, const char *name)
{
    size_t len = strcspn(name, "=");

    for (const struct option *o = longopts; o && o->name; o++) {
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o->has_arg == no_argument;
    }
    return 0;
}

int opt_next(int argc, char **argv, const char *shortopts,
             const struct option *longopts, const char *hint)
{
    const char *prev;
    int opt;

    opterr = 0;
    opt = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (opt != '?' && opt != ':')
        return opt;
    /* For a long option optind has passed it; for a short one inside a
     * cluster (-tx) it may not have, but optopt names it. */
    prev = optind > 0 ? argv[optind - 1] : "";
    if (opt == ':') {
        if (strncmp(prev, "--", 2) == 0)
            log_err("option '%s' needs a value (see %s)", prev, hint);
        else
            log_err("option '-%c' needs a value (see %s)", optopt, hint);
    } else if (optopt && strncmp(prev, "--", 2) == 0 && strchr(prev, '=') &&
               opt_takes_no_value(longopts, prev + 2)) {
        log_err("option '%.*s' takes no value (see %s)",
                (int)strcspn(prev, "="), prev, hint);
    } else if (optopt) {
        log_err("unknown option '-%c' (see %s)", optopt, hint);
    } else {
        log_err("unknown option '%.*s' (see %s)", (int)strcspn(prev, "="), prev,
                hint);
    }
    return '?';
}
