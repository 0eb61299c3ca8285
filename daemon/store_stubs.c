// SPDX-License-Identifier: MIT
/*
 * TEMPORARY: weak stand-ins for the store functions of issue 4 while they
 * are being written, so that the tree links meanwhile. Each real
 * definition in store.c overrides its stand-in; this file is deleted once
 * store.c has them all.
 */

#include "daemon/store.h"

#define STUB __attribute__((weak))

STUB int store_run_start(struct store *s, const char *name,
                         const char *operator_name, const char *note,
                         int64_t now_us)
{
    (void)s, (void)name, (void)operator_name, (void)note, (void)now_us;
    return -1;
}

STUB int store_run_stop(struct store *s, const char *name, int64_t now_us)
{
    (void)s, (void)name, (void)now_us;
    return -1;
}

STUB int store_runs(struct store *s,
                    int (*fn)(const struct store_run *, void *), void *arg)
{
    (void)s, (void)fn, (void)arg;
    return -1;
}

STUB int store_run_get(struct store *s, const char *name,
                       int (*fn)(const struct store_run *, void *), void *arg)
{
    (void)s, (void)name, (void)fn, (void)arg;
    return -1;
}

STUB int store_run_open(struct store *s,
                        int (*fn)(const struct store_run *, void *), void *arg)
{
    (void)s, (void)fn, (void)arg;
    return -1;
}

STUB int store_run_seal(struct store *s,
                        int (*fn)(const struct store_run *, void *), void *arg)
{
    (void)s, (void)fn, (void)arg;
    return -1;
}

STUB int64_t store_data_version(struct store *s)
{
    (void)s;
    return 0;
}

STUB int store_chain_head(struct store *s, char head[SHA256_HEX_LEN],
                          int64_t *last_seq)
{
    (void)s;
    head[0] = '\0';
    *last_seq = 0;
    return -1;
}

STUB int store_verify(struct store *s, int64_t from_seq, int64_t to_seq,
                      struct store_verify_result *out)
{
    (void)s, (void)from_seq, (void)to_seq, (void)out;
    return -1;
}

STUB int64_t store_export(struct store *s, int64_t from_us, int64_t to_us,
                          const char *const *sensors, size_t nsensors,
                          int (*fn)(const struct store_export_row *, void *),
                          void *arg)
{
    (void)s, (void)from_us, (void)to_us, (void)sensors, (void)nsensors;
    (void)fn, (void)arg;
    return -1;
}

STUB int store_sensor_infos(struct store *s, int64_t from_us, int64_t to_us,
                            const char *const *sensors, size_t nsensors,
                            int (*fn)(const struct store_sensor_info *, void *),
                            void *arg)
{
    (void)s, (void)from_us, (void)to_us, (void)sensors, (void)nsensors;
    (void)fn, (void)arg;
    return -1;
}

STUB int store_events(struct store *s, int64_t from_us, int64_t to_us,
                      int (*fn)(int64_t ts_us, const char *kind,
                                const char *detail, void *),
                      void *arg)
{
    (void)s, (void)from_us, (void)to_us, (void)fn, (void)arg;
    return -1;
}

STUB const char *store_site(struct store *s)
{
    (void)s;
    return NULL;
}

STUB int store_set_site(struct store *s, const char *site)
{
    (void)s, (void)site;
    return -1;
}
