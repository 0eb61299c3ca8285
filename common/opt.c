// SPDX-License-Identifier: MIT
/*
 * getopt_long() with tbdaq's error messages. getopt's own name the option
 * differently for short and long forms and print the program's full path;
 * these name the option as the user typed it.
 */
#include "common/opt.h"

#include <stdbool.h>
#include <string.h>

#include "common/log.h"

/*
 * The long option name ("che=1": up to any '=') names, exactly or as an
 * abbreviation, or NULL; *n is how many it could name (2 or more: it is
 * ambiguous; entries with the same val and has_arg count once, as
 * getopt_long() counts them).
 */
static const struct option *opt_find(const struct option *longopts,
                                     const char *name, int *n)
{
    size_t len = strcspn(name, "=");
    const struct option *found = NULL;

    *n = 0;
    for (const struct option *o = longopts; o && o->name; o++) {
        if (strncmp(o->name, name, len) != 0)
            continue;
        if (strlen(o->name) == len) {
            *n = 1;
            return o;
        }
        if (!found || found->val != o->val || found->has_arg != o->has_arg)
            (*n)++;
        if (!found)
            found = o;
    }
    return found;
}

int opt_next(int argc, char **argv, const char *shortopts,
             const struct option *longopts, const char *hint)
{
    const struct option *o = NULL;
    const char *prev;
    int opt, n = 0;
    bool is_long;

    opterr = 0;
    opt = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (opt != '?' && opt != ':')
        return opt;
    /* For a long option optind has passed it; for a short one inside a
     * cluster (-tx) it may not have (prev is then the argument before),
     * but optopt names it. */
    prev = optind > 0 ? argv[optind - 1] : "";
    is_long = strncmp(prev, "--", 2) == 0 && prev[2] != '\0';
    if (is_long)
        o = opt_find(longopts, prev + 2, &n);
    if (opt == ':') {
        if (is_long && o && o->val == optopt)
            log_err("option '--%s' needs a value (see %s)", o->name, hint);
        else
            log_err("option '-%c' needs a value (see %s)", optopt, hint);
    } else if (is_long && n > 1) {
        log_err("option '%.*s' is ambiguous (see %s)", (int)strcspn(prev, "="),
                prev, hint);
    } else if (is_long && o && optopt == o->val && strchr(prev, '=') &&
               o->has_arg == no_argument) {
        log_err("option '--%s' takes no value (see %s)", o->name, hint);
    } else if (optopt) {
        log_err("unknown option '-%c' (see %s)", optopt, hint);
    } else {
        log_err("unknown option '%.*s' (see %s)", (int)strcspn(prev, "="), prev,
                hint);
    }
    return '?';
}
