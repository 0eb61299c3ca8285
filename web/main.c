// SPDX-License-Identifier: MIT
/*
 * tbdaq-web (SPEC tbdaq-web): options, the configuration's web group, the
 * refusals (beyond loopback without users_file), then the live model and
 * the server until SIGTERM or SIGINT. Signals are blocked in every thread
 * and taken by sigwait() here, so no handler runs inside libmicrohttpd or
 * SQLite.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "version.h"
#include "web/web.h"

/* A certificate chain or key file is a few KiB. */
#define WEB_PEM_MAX (1024 * 1024)

static const char web_help[] =
    "usage: tbdaq-web [-h] [-V] [-c FILE] [--listen ADDR:PORT]\n"
    "\n"
    "The live page, Prometheus metrics and run reports of a tbdaq database\n"
    "over HTTP: / (live page), /runs, /runs/NAME (a run's report),\n"
    "/metrics, /api/status. Reads the database read-only and the daemon's\n"
    "live counters from its control channel.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE   configuration file (default " CONFIG_DEFAULT_PATH
    ")\n"
    "      --listen ADDR:PORT\n"
    "                      listen there instead of web.listen (default\n"
    "                      " CONFIG_WEB_LISTEN_DEFAULT "; IPv6 as [::1]:8080);"
    " an\n"
    "                      address beyond loopback needs web.users_file\n"
    "  -V, --version       print the version and exit\n"
    "  -h, --help          print this help and exit\n";

struct web_options {
    const char *config_path;
    const char *listen;
};

/* Parses the command line: 0, 1 after --help or --version, 2 on misuse. */
static int web_options(int argc, char **argv, struct web_options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    o->config_path = CONFIG_DEFAULT_PATH;
    while ((ch = opt_next(argc, argv, ":c:hV", longopts, "tbdaq-web --help")) !=
           -1) {
        switch (ch) {
        case 'c':
            o->config_path = optarg;
            break;
        case 'l':
            o->listen = optarg;
            break;
        case 'h':
            fputs(web_help, stdout);
            return 1;
        case 'V':
            printf("tbdaq-web %s\n", TBDAQ_VERSION);
            return 1;
        default:
            return 2;
        }
    }
    if (optind < argc) {
        log_err("unexpected argument '%s' (see tbdaq-web --help)",
                argv[optind]);
        return 2;
    }
    return 0;
}

/* Reads a PEM file whole; NULL (logged) on error. */
static char *web_read_pem(const char *path)
{
    FILE *f = fopen(path, "r");
    char *p;
    size_t n;

    if (!f) {
        log_err("cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    p = xmalloc(WEB_PEM_MAX + 1);
    n = fread(p, 1, WEB_PEM_MAX, f);
    if (ferror(f) || n == 0) {
        log_err("cannot read '%s': %s", path,
                ferror(f) ? strerror(errno) : "empty");
        free(p);
        p = NULL;
    } else {
        p[n] = '\0';
    }
    fclose(f);
    return p;
}

/* What the configuration and options give the server; -1 (logged) if it
 * must not start. */
static int web_setup(struct web *w, const struct config *c, const char *listen)
{
    const struct web_conf *wc = &c->web;
    char err[512];

    w->database = c->database;
    w->at = wc->at;
    if (listen && config_listen_parse(listen, &w->at, err, sizeof(err)) < 0) {
        log_err("bad --listen '%s': %s (see tbdaq-web --help)", listen, err);
        return -1;
    }
    if (!w->at.loopback && !wc->users_file) {
        log_err("%s: listening on %s beyond loopback needs web.users_file "
                "(basic authentication); refusing to start",
                c->path, w->at.addr);
        return -1;
    }
    if (wc->users_file &&
        !(w->auth = auth_load(wc->users_file, err, sizeof(err)))) {
        log_err("%s", err);
        return -1;
    }
    if (wc->tls_cert_file &&
        (!(w->tls_cert = web_read_pem(wc->tls_cert_file)) ||
         !(w->tls_key = web_read_pem(wc->tls_key_file))))
        return -1;
    if (!w->at.loopback && !w->tls_cert)
        log_warnx("serving %s without TLS: passwords and data cross the "
                  "network in clear (set web.tls)",
                  w->at.addr);
    return 0;
}

static void web_release(struct web *w)
{
    auth_free(w->auth);
    if (w->tls_key)
        explicit_bzero(w->tls_key, strlen(w->tls_key));
    free(w->tls_cert);
    free(w->tls_key);
}

int main(int argc, char **argv)
{
    struct web_options o = {0};
    struct web w = {0};
    struct config *c;
    sigset_t set;
    void *server;
    int rc, sig;

    log_init("tbdaq-web", LOG_LEVEL_INFO, LOG_PLAIN);
    if ((rc = web_options(argc, argv, &o)) != 0)
        return rc == 1 ? 0 : 2;
    log_init("tbdaq-web", LOG_LEVEL_INFO, LOG_STAMP);
    if (!(c = config_load_logged(o.config_path)))
        return 1;
    if (web_setup(&w, c, o.listen) < 0) {
        web_release(&w);
        config_free(c);
        return 1;
    }
    /* Every thread started from here inherits the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pool_init(&w.pool, w.database);
    rc = 1;
    if (!(w.model = model_start(c->database, c->control_socket)))
        goto out;
    if (!(server = server_start(&w)))
        goto out;
    log_info("listening on %s://%s%s%s:%d/", w.tls_cert ? "https" : "http",
             w.at.family == AF_INET6 ? "[" : "", w.at.addr,
             w.at.family == AF_INET6 ? "]" : "", w.at.port);
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP)
            log_info("SIGHUP: a changed configuration takes effect at the "
                     "next start");
    }
    log_info("stopping");
    server_stop(server);
    rc = 0;
out:
    model_stop(w.model);
    pool_release(&w.pool);
    web_release(&w);
    config_free(c);
    return rc;
}
