/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for lib/config*.c (and libconfig under it): any text
 * as a config file. config_load() takes a path, so the input goes into a
 * memfd created once per process and is read back through
 * /proc/self/fd/N: nothing is written to disk and parallel fuzzers do not
 * share a file.
 *
 * Inputs with an @include line are skipped: an include reads any file the
 * fuzzer names (/dev/zero never ends), which tests the file system, not
 * the loader. A config that loads is checked against the invariants
 * config.h promises; a config that fails must say why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/config.h"

/* Room for "/proc/self/fd/" and any int. */
#define FUZZ_CONFIG_PATH_LEN 64

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_config_fd = -1;
static char fuzz_config_path[FUZZ_CONFIG_PATH_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* syscall(): glibc declares memfd_create() only for _GNU_SOURCE. */
    fuzz_config_fd = (int)syscall(SYS_memfd_create, "fuzz_config", 0);
    if (fuzz_config_fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(fuzz_config_path, sizeof(fuzz_config_path), "/proc/self/fd/%d",
             fuzz_config_fd);
    return 0;
}

/* libconfig takes "@include" only first on a line, after blanks. */
static int fuzz_config_has_include(const uint8_t *data, size_t size)
{
    static const char word[] = "@include";
    size_t i = 0;

    while (i < size) {
        size_t k = 0;

        while (i < size && (data[i] == ' ' || data[i] == '\t'))
            i++;
        while (k < sizeof(word) - 1 && i + k < size &&
               (data[i + k] | 0x20) == (unsigned char)word[k])
            k++;
        if (k == sizeof(word) - 1)
            return 1;
        while (i < size && data[i] != '\n')
            i++;
        i++;
    }
    return 0;
}

static int fuzz_config_is_tag(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789_.-",
                    *s))
            return 0;
    return 1;
}

/* What config.h says of a config that loaded. */
static void fuzz_config_check(const struct config *c)
{
    if (!c->site || !c->database || (c->nbuses && !c->buses) ||
        (c->nsensors && !c->sensors))
        abort();
    for (size_t i = 0; i < c->nbuses; i++)
        if (!c->buses[i].name ||
            config_find_bus(c, c->buses[i].name) == SIZE_MAX)
            abort();
    for (size_t i = 0; i < c->nsensors; i++) {
        const struct sensor_conf *s = &c->sensors[i];

        if (!fuzz_config_is_tag(s->id) || s->bus >= c->nbuses ||
            s->unit_id < 0 || s->unit_id > 247 || s->address < 0 ||
            s->address + (int)reg_type_words(s->type) - 1 > 65535 || !s->unit ||
            s->interval_ms < 10)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_errors errs = {0};
    struct config *c;

    if (fuzz_config_has_include(data, size))
        return -1; /* keep it out of the corpus */
    if (ftruncate(fuzz_config_fd, 0) < 0 ||
        pwrite(fuzz_config_fd, data, size, 0) != (ssize_t)size) {
        perror("memfd");
        abort();
    }
    c = config_load(fuzz_config_path, &errs);
    if (c) {
        if (errs.n != 0)
            abort();
        fuzz_config_check(c);
        config_free(c);
    } else {
        if (errs.n == 0)
            abort();
        for (size_t i = 0; i < errs.n; i++)
            if (!errs.v[i] || !*errs.v[i])
                abort();
    }
    config_errors_release(&errs);
    return 0;
}
