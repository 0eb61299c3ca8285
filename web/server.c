// SPDX-License-Identifier: MIT
/*
 * HTTP over libmicrohttpd (the only file that uses it): one thread per
 * connection, so that a report that takes seconds or a client that sends
 * slowly holds its own thread only; at most SERVER_CONNECTIONS at once,
 * SERVER_PER_IP from one address, each dropped after SERVER_TIMEOUT_S of
 * silence; a request whose headers do not fit SERVER_MEMORY is refused by
 * libmicrohttpd itself (431), a longer target (414) or a body (413) by
 * us. Only GET and HEAD (405 for the rest, with Allow). The target is
 * parsed by web/parse.c from the raw text the client sent (the URI log
 * callback hands it over before libmicrohttpd decodes anything).
 *
 * Every response says no-store, nosniff and a Content-Security-Policy
 * that lets a page load nothing from anywhere but its own inline style
 * and script and /api/status.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "web/parse.h"
#include "web/web.h"

/* Limits: many browsers open 6 connections to a host; a few operators
 * and a Prometheus server fit easily. */
#define SERVER_CONNECTIONS 64
#define SERVER_PER_IP 16
#define SERVER_TIMEOUT_S 10
/* Headers and the target must fit in this (libmicrohttpd's pool per
 * connection): far more than a browser sends. */
#define SERVER_MEMORY (32 * 1024)

static const char server_csp[] =
    "default-src 'none'; script-src 'unsafe-inline'; style-src "
    "'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

/* One request: its raw target, from the URI log callback. */
struct request {
    char raw[WEB_TARGET_MAX + 1];
    bool too_long;
};

static void server_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warnx("http: %s", msg);
}

static void *server_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct request *r = xcalloc(1, sizeof(*r));

    (void)cls;
    (void)c;
    if (strlen(uri) > WEB_TARGET_MAX)
        r->too_long = true;
    else
        strcpy(r->raw, uri);
    return r;
}

static void server_done(void *cls, struct MHD_Connection *c, void **req_cls,
                        enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*req_cls);
    *req_cls = NULL;
}

/* Queues body (taken: freed by libmicrohttpd) with status and type;
 * render_ns > 0 is said in a Server-Timing header (make bench tells the
 * work from the machine's load with it). */
static enum MHD_Result server_reply_timed(struct MHD_Connection *c,
                                          unsigned status, const char *type,
                                          struct buf *body, int64_t render_ns)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    size_t len;
    char *p = buf_steal(body, &len);

    resp = MHD_create_response_from_buffer(len, p ? p : (char *)"",
                                           p ? MHD_RESPMEM_MUST_FREE
                                             : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(p);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Content-Security-Policy", server_csp);
    if (render_ns > 0) {
        char timing[64];

        snprintf(timing, sizeof(timing), "render;dur=%.3f",
                 (double)render_ns / 1e6);
        MHD_add_response_header(resp, "Server-Timing", timing);
    }
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Basic realm=\"tbdaq\", charset=\"UTF-8\"");
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result server_reply(struct MHD_Connection *c, unsigned status,
                                    const char *type, struct buf *body)
{
    return server_reply_timed(c, status, type, body, 0);
}

/* A short text/plain error page: "404 not found: why". */
static enum MHD_Result server_error(struct MHD_Connection *c, unsigned status,
                                    const char *what, const char *why)
{
    struct buf b = {0};

    buf_printf(&b, "%u %s%s%s\n", status, what, why ? ": " : "",
               why ? why : "");
    return server_reply(c, status, "text/plain; charset=utf-8", &b);
}

/* Whether the request carries a body (GET and HEAD take none). */
static bool server_has_body(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);

    return te || (cl && strspn(cl, "0") != strlen(cl));
}

static enum MHD_Result serve_runs(struct web *w, struct MHD_Connection *c,
                                  const char *name, bool html)
{
    struct buf b = {0};
    char err[512];
    struct store *s = pool_get(&w->pool, err, sizeof(err));
    int rc;

    if (!s)
        return server_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "database unavailable", err);
    rc = name ? render_run(s, name, html, &b, err, sizeof(err))
              : render_runs(s, &b, err, sizeof(err));
    pool_put(&w->pool, s, rc < 0);
    if (rc == 1) {
        buf_release(&b);
        return server_error(c, MHD_HTTP_NOT_FOUND, "no such run", name);
    }
    if (rc < 0) {
        buf_release(&b);
        log_warnx("%s: %s", name ? name : "runs", err);
        return server_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                            "cannot read the database", err);
    }
    return server_reply(c, MHD_HTTP_OK,
                        html ? "text/html; charset=utf-8"
                             : "application/json; charset=utf-8",
                        &b);
}

/* Renders a page of the live model. */
static enum MHD_Result serve_live(struct web *w, struct MHD_Connection *c,
                                  enum web_route route, bool trend)
{
    int64_t t0 = time_mono_ns();
    struct buf b = {0};
    const struct model_view *v = model_lock(w->model);
    int64_t now = time_real_us();
    const char *type;

    switch (route) {
    case WEB_ROUTE_METRICS:
        render_metrics(v, now, &b);
        type = "text/plain; version=0.0.4; charset=utf-8";
        break;
    case WEB_ROUTE_STATUS:
        render_status(v, now, trend, &b);
        type = "application/json; charset=utf-8";
        break;
    default:
        render_live(v, now, &b);
        type = "text/html; charset=utf-8";
        break;
    }
    model_unlock(w->model);
    return server_reply_timed(c, MHD_HTTP_OK, type, &b, time_mono_ns() - t0);
}

/* Routes a parsed target: 404, 400, or the page. */
static enum MHD_Result serve(struct web *w, struct MHD_Connection *c,
                             const struct web_target *t)
{
    static const char *const none[] = {NULL};
    static const char *const status_keys[] = {"trend", NULL};
    static const char *const run_keys[] = {"format", NULL};
    const char *name, *why = NULL, *fmt;
    enum web_route route = web_route(t->path, &name, &why);
    bool flag = false;

    switch (route) {
    case WEB_ROUTE_NONE:
        return server_error(c, MHD_HTTP_NOT_FOUND, "not found", NULL);
    case WEB_ROUTE_BAD:
        return server_error(c, MHD_HTTP_BAD_REQUEST, "bad request", why);
    case WEB_ROUTE_STATUS:
        if (web_params_only(t, status_keys, &why) < 0 ||
            web_param_bool(t, "trend", false, &flag, &why) < 0)
            return server_error(c, MHD_HTTP_BAD_REQUEST, "bad request", why);
        return serve_live(w, c, route, flag);
    case WEB_ROUTE_RUN:
        if (web_params_only(t, run_keys, &why) < 0)
            return server_error(c, MHD_HTTP_BAD_REQUEST, "bad request", why);
        fmt = web_param(t, "format");
        if (fmt && strcmp(fmt, "html") != 0 && strcmp(fmt, "json") != 0)
            return server_error(c, MHD_HTTP_BAD_REQUEST, "bad request",
                                "format must be html or json");
        return serve_runs(w, c, name, !fmt || strcmp(fmt, "html") == 0);
    default:
        break;
    }
    if (web_params_only(t, none, &why) < 0)
        return server_error(c, MHD_HTTP_BAD_REQUEST, "bad request", why);
    if (route == WEB_ROUTE_RUNS)
        return serve_runs(w, c, NULL, true);
    return serve_live(w, c, route, false);
}

static enum MHD_Result server_handle(void *cls, struct MHD_Connection *c,
                                     const char *url, const char *method,
                                     const char *version,
                                     const char *upload_data,
                                     size_t *upload_data_size, void **req_cls)
{
    struct web *w = cls;
    struct request *r = *req_cls;
    struct web_target *t;
    const char *why;
    enum MHD_Result ret;

    (void)url;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return server_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "method not allowed", "only GET and HEAD");
    if (server_has_body(c))
        return server_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "content too large",
                            "GET and HEAD take no body");
    if (!r || r->too_long)
        return server_error(c, MHD_HTTP_URI_TOO_LONG, "URI too long", NULL);
    if (w->auth && !auth_check(w->auth, MHD_lookup_connection_value(
                                            c, MHD_HEADER_KIND,
                                            MHD_HTTP_HEADER_AUTHORIZATION)))
        return server_error(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                            "this server needs a user and password");
    t = xmalloc(sizeof(*t));
    if (web_target_parse(r->raw, t, &why) < 0)
        ret = server_error(c, MHD_HTTP_BAD_REQUEST, "bad request", why);
    else
        ret = serve(w, c, t);
    free(t);
    return ret;
}

void *server_start(struct web *w)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    const struct sockaddr *sa;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d;

    if (w->at.family == AF_INET6) {
        memcpy(&sin6.sin6_addr, w->at.raw, 16);
        sin6.sin6_port = htons((uint16_t)w->at.port);
        sa = (const struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        memcpy(&sin.sin_addr, w->at.raw, 4);
        sin.sin_port = htons((uint16_t)w->at.port);
        sa = (const struct sockaddr *)&sin;
    }
    if (w->tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            log_err("this libmicrohttpd was built without TLS");
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    d = MHD_start_daemon(
        flags, (uint16_t)w->at.port, NULL, NULL, server_handle, w,
        /* The logger first, or libmicrohttpd logs the others' errors
         * itself. */
        MHD_OPTION_EXTERNAL_LOGGER, server_log, NULL, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVER_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)SERVER_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVER_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVER_MEMORY,
        MHD_OPTION_URI_LOG_CALLBACK, server_uri, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, server_done, NULL,
        w->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, w->tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, w->tls_key, MHD_OPTION_END);
    if (!d)
        log_err("cannot listen on %s%s%s:%d",
                w->at.family == AF_INET6 ? "[" : "", w->at.addr,
                w->at.family == AF_INET6 ? "]" : "", w->at.port);
    return d;
}

void server_stop(void *handle)
{
    if (handle)
        MHD_stop_daemon(handle);
}
