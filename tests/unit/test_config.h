/* SPDX-License-Identifier: MIT */
/*
 * What the configuration's unit tests share (test_config.c,
 * test_config_bus.c, test_config_device.c): config_load() reads a path,
 * so each test writes its text to a file in a fresh temporary directory
 * (the fixture, one per test), and prints the errors it got when a case
 * fails. Include after cmocka.h.
 */
#ifndef TBDAQ_TEST_CONFIG_H
#define TBDAQ_TEST_CONFIG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"

/* Where the test's files live; made once per test. */
struct fixture {
    char dir[64];
    char path[128];
};

static inline int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/tbdaq-test-config-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/tbdaq.conf", f->dir);
    *state = f;
    return 0;
}

static inline int fixture_teardown(void **state)
{
    struct fixture *f = *state;

    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static inline void write_file(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Writes text as the fixture's file and loads it. */
static inline struct config *
load_text(const struct fixture *f, const char *text, struct config_errors *errs)
{
    write_file(f->path, text, strlen(text));
    return config_load(f->path, errs);
}

/* Prints the errors, so that a failing case shows what it got. */
static inline void print_errors(const struct config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        print_message("  got: %s\n", errs->v[i]);
}

/* A broken configuration and the one "file:line: message" it must give
 * (the line in its text). */
struct one_error_case {
    const char *name;
    const char *text;
    int line;
    const char *msg;
};

/* Loads each case; fails the test, after printing every case that did
 * not give exactly its one error (or that loaded), how many did not. */
static inline void expect_one_error(const struct fixture *f,
                                    const struct one_error_case *cases,
                                    size_t n)
{
    size_t failed = 0;

    for (size_t i = 0; i < n; i++) {
        struct config_errors errs = {0};
        struct config *c = load_text(f, cases[i].text, &errs);
        char want[512];

        snprintf(want, sizeof(want), "%s:%d: %s", f->path, cases[i].line,
                 cases[i].msg);
        if (c || errs.n != 1 || strcmp(errs.v[0], want) != 0) {
            print_message("case '%s':\n  want: %s\n", cases[i].name, want);
            print_errors(&errs);
            failed++;
        }
        config_free(c);
        config_errors_release(&errs);
    }
    assert_int_equal(failed, 0);
}

#endif
