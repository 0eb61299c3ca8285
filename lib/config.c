// SPDX-License-Identifier: MIT
/*
 * The config loader: the only module that calls libconfig. The file's bytes
 * are read once, hashed, and parsed from memory, so the SHA-256 recorded in
 * the database is of exactly the text that was parsed.
 *
 * This file is the load itself (read, pre-scan, parse, read each group),
 * the errors it collects, and freeing. Every problem is collected with its
 * line and reported together, sorted by line, as "file:line: message".
 * The groups are read through their tables (config_table.c) by
 * config_mqtt.c, config_bus.c, config_sensor.c and config_device.c;
 * config_scan.c reads the files and checks the integer literals libconfig
 * does not.
 *
 * One cause, one error: a setting that was wrong is marked bad, and checks
 * that depend on it are skipped rather than repeating the complaint.
 */
#include "lib/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "lib/config_private.h"

/* ---- errors ---- */

/* The line of s, or 0 for none (the root, or no setting at all). */
int loader_line(const config_setting_t *s)
{
    return s ? (int)config_setting_source_line(s) : 0;
}

/* Appends "file:line: msg" ("file: msg" when line is 0) to list. */
static void loader_push(struct loader *ld, struct load_list *list,
                        const char *file, int line, const char *msg)
{
    const char *dir = "", *sep = "";
    struct load_error *e;
    char at[16] = "";
    int len;

    if (!file) {
        file = ld->path;
    } else if (file[0] != '/' && strcmp(ld->dir, ".") != 0) {
        dir = ld->dir;
        sep = "/";
    }
    if (line > 0)
        snprintf(at, sizeof(at), ":%d", line);
    xgrow(&list->v, &list->cap, list->n + 1, sizeof(*list->v));
    e = &list->v[list->n];
    e->line = line;
    e->seq = list->n++;
    len = snprintf(NULL, 0, "%s%s%s%s: %s", dir, sep, file, at, msg);
    e->msg = xmalloc((size_t)len + 1);
    snprintf(e->msg, (size_t)len + 1, "%s%s%s%s: %s", dir, sep, file, at, msg);
}

/*
 * Records "file:line: msg" ("file: msg" when line is 0). file is NULL for
 * the config itself, or a file it included, named as in its @include and
 * so relative to the config's directory.
 */
void loader_add(struct loader *ld, const char *file, int line, const char *msg)
{
    loader_push(ld, &ld->errors, file, line, msg);
}

/* Formats the message of a setting and records it in list. */
__attribute__((format(printf, 4, 0))) static void
loader_vpush(struct loader *ld, struct load_list *list,
             const config_setting_t *s, const char *fmt, va_list ap)
{
    const char *file = s ? config_setting_source_file(s) : NULL;
    va_list again;
    char *msg;
    int len;

    va_copy(again, ap);
    len = vsnprintf(NULL, 0, fmt, ap);
    msg = xmalloc((size_t)len + 1);
    vsnprintf(msg, (size_t)len + 1, fmt, again);
    va_end(again);
    loader_push(ld, list, file, loader_line(s), msg);
    free(msg);
}

/* Records an error at the line of s (an included file names itself). */
void loader_error(struct loader *ld, const config_setting_t *s, const char *fmt,
                  ...)
{
    va_list ap;

    va_start(ap, fmt);
    loader_vpush(ld, &ld->errors, s, fmt, ap);
    va_end(ap);
}

/* Records a warning at the line of s: the config stays valid. */
void loader_warning(struct loader *ld, const config_setting_t *s,
                    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    loader_vpush(ld, &ld->warnings, s, fmt, ap);
    va_end(ap);
}

static int loader_error_cmp(const void *a, const void *b)
{
    const struct load_error *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Empties list into *v (grown from *n, capacity *cap), in line order. */
static void loader_flush(struct load_list *list, char ***v, size_t *n,
                         size_t *cap)
{
    if (list->n == 0)
        return; /* qsort() must not see the NULL of an empty list */
    qsort(list->v, list->n, sizeof(*list->v), loader_error_cmp);
    xgrow(v, cap, *n + list->n, sizeof(**v));
    for (size_t i = 0; i < list->n; i++)
        (*v)[(*n)++] = list->v[i].msg;
    free(list->v);
    list->v = NULL;
    list->n = list->cap = 0;
}

/* Frees the messages of list. */
static void loader_drop(struct load_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i].msg);
    free(list->v);
    list->v = NULL;
    list->n = list->cap = 0;
}

/* ---- the top level ---- */

static void config_top_read(struct loader *ld, const struct group *g)
{
    struct config *c = ld->c;
    const char *level;

    if (group_has(g, TK_SITE)) {
        const char *site = group_str(g, TK_SITE);

        /* A site names topics and files: no '.', unlike a bus or a
         * sensor. */
        if (text_is_name(site, CONFIG_NAME_MAX) && !strchr(site, '.'))
            c->site = xstrdup(site);
        else
            loader_error(ld, g->set[TK_SITE],
                         "site '%s' may only hold letters, digits, '_' and "
                         "'-'",
                         site);
    }
    c->database = group_strdup(g, TK_DATABASE);
    level = group_str(g, TK_LOG_LEVEL);
    if (group_ok(g, TK_LOG_LEVEL) && log_level_parse(level, &c->log_level) < 0)
        loader_error(ld, group_at(g, TK_LOG_LEVEL),
                     "unknown log level '%s' (use error, warning, info or "
                     "debug)",
                     level);
    c->commit_interval_ms = (int)group_int(g, TK_COMMIT_INTERVAL_MS);
    c->retention_days = (int)group_int(g, TK_RETENTION_DAYS);
    c->buffer_readings = (int)group_int(g, TK_BUFFER_READINGS);
    c->witness_interval_s = (int)group_int(g, TK_WITNESS_INTERVAL_S);
    c->control_socket = group_strdup(g, TK_CONTROL_SOCKET);
    if (c->control_socket && c->control_socket[0] != '/')
        loader_error(ld, group_at(g, TK_CONTROL_SOCKET),
                     "control_socket '%s' must be an absolute path",
                     c->control_socket);
}

/* ---- loading ---- */

/* The directory of path, for @include: "." if it has none. */
static char *config_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;

    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    dir = xmalloc((size_t)(slash - path) + 1);
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return dir;
}

/* Parses and validates text into ld->c; errors go to ld. */
static void config_parse(struct loader *ld, const char *text)
{
    config_t cf;
    const config_setting_t *root;
    struct group g;

    config_init(&cf);
    config_set_include_dir(&cf, ld->dir);
    if (config_read_string(&cf, text) != CONFIG_TRUE) {
        config_explain(ld, config_error_file(&cf), config_error_line(&cf),
                       config_error_text(&cf));
        goto fail;
    }
    root = config_root_setting(&cf);
    group_read(ld, &g, root, GROUP_TOP, "");
    config_top_read(ld, &g);
    if (group_has(&g, TK_MQTT))
        config_mqtt_read(ld, g.set[TK_MQTT]);
    if (group_has(&g, TK_SPARKPLUG))
        config_sparkplug_read(ld, g.set[TK_SPARKPLUG]);
    if (group_has(&g, TK_WEB))
        config_web_read(ld, g.set[TK_WEB]);
    else
        config_web_default(ld->c);
    if (group_has(&g, TK_BUSES))
        config_buses_read(ld, g.set[TK_BUSES]);
    if (group_has(&g, TK_SENSORS))
        config_sensors_read(ld, g.set[TK_SENSORS]);
    if (group_has(&g, TK_DEVICES))
        config_devices_read(ld, g.set[TK_DEVICES]);
    /* A config with errors will not run: its warnings would be noise. */
    if (ld->errors.n == 0)
        config_warn(ld, root);
fail:
    config_destroy(&cf);
}

struct config *config_load(const char *path, struct config_errors *errs)
{
    struct loader ld = {.path = path};
    struct config *c = xcalloc(1, sizeof(*c));
    size_t len = 0, wcap = 0;
    char *text = config_slurp(path, &len);
    int nul;

    ld.c = c;
    ld.dir = config_dir(path);
    c->path = xstrdup(path);
    if (!text) {
        char msg[256];

        snprintf(msg, sizeof(msg), "cannot read: %s", strerror(errno));
        loader_add(&ld, NULL, 0, msg);
        goto fail;
    }
    sha256_hex(text, len, c->sha256);
    config_keep_file(c, path, text, len);
    /* libconfig would stop at a NUL: the hash would then cover text that
     * was never parsed. */
    if ((nul = config_nul_line(text, len)) > 0) {
        loader_add(&ld, NULL, nul, "file holds a NUL byte");
        goto fail;
    }
    if (config_check_integers(&ld, text) > 0)
        goto fail;
    config_parse(&ld, text);
    if (ld.errors.n > 0)
        goto fail;
    loader_flush(&ld.warnings, &c->warnings, &c->nwarnings, &wcap);
    free(text);
    free(ld.dir);
    free(ld.bus_ok);
    free(ld.regs_ok);
    return c;
fail:
    free(text);
    free(ld.dir);
    free(ld.bus_ok);
    free(ld.regs_ok);
    loader_flush(&ld.errors, &errs->v, &errs->n, &errs->cap);
    loader_drop(&ld.warnings);
    config_free(c);
    return NULL;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->site);
    free(c->database);
    free(c->control_socket);
    for (size_t i = 0; i < c->nfiles; i++) {
        free(c->files[i].name);
        free(c->files[i].bytes);
    }
    free(c->files);
    free(c->mqtt.host);
    free(c->mqtt.client_id);
    free(c->mqtt.topic_prefix);
    free(c->mqtt.username);
    free(c->mqtt.password_file);
    free(c->mqtt.ca_file);
    free(c->mqtt.cert_file);
    free(c->mqtt.key_file);
    free(c->sparkplug.host);
    free(c->sparkplug.client_id);
    free(c->sparkplug.username);
    free(c->sparkplug.password_file);
    free(c->sparkplug.ca_file);
    free(c->sparkplug.cert_file);
    free(c->sparkplug.key_file);
    free(c->sparkplug.group_id);
    free(c->sparkplug.edge_node);
    free(c->sparkplug.primary_host);
    free(c->web.listen);
    free(c->web.users_file);
    free(c->web.tls_cert_file);
    free(c->web.tls_key_file);
    for (size_t i = 0; i < c->nbuses; i++)
        free(c->buses[i].name);
    free(c->buses);
    for (size_t i = 0; i < c->nsensors; i++) {
        struct sensor_conf *s = &c->sensors[i];

        free(s->id);
        free(s->unit);
        free(s->cal.date);
        free(s->cal.due);
        free(s->cal.certificate);
    }
    free(c->sensors);
    for (size_t i = 0; i < c->ndevices; i++)
        free(c->devices[i].model);
    free(c->devices);
    for (size_t i = 0; i < c->nwarnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    free(c);
}

void config_errors_release(struct config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        free(errs->v[i]);
    free(errs->v);
    errs->v = NULL;
    errs->n = errs->cap = 0;
}

size_t config_find_bus(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->nbuses; i++)
        if (c->buses[i].name && strcmp(c->buses[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

size_t config_warnings_log(const struct config *c)
{
    for (size_t i = 0; i < c->nwarnings; i++)
        log_warnx("%s", c->warnings[i]);
    return c->nwarnings;
}

struct config *config_load_logged(const char *path)
{
    struct config_errors errs = {0};
    struct config *c = config_load(path, &errs);

    for (size_t i = 0; i < errs.n; i++)
        log_err("%s", errs.v[i]);
    config_errors_release(&errs);
    return c;
}
