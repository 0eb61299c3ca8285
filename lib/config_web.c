// SPDX-License-Identifier: MIT
/*
 * The web group and its tls group: where tbdaq-web listens, who may ask it
 * (users_file) and its certificate. The tables check types and lengths;
 * this file checks what they cannot: that listen is a numeric "ADDR:PORT"
 * (config_listen_parse(), which tbdaq-web's --listen uses too). Whether
 * an address beyond loopback has a users_file is tbdaq-web's to refuse
 * (--listen may change the address), not the configuration's: the daemon
 * ignores the group.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "lib/config_private.h"

/* Whether the address bytes of family are the host itself. */
static bool listen_is_loopback(int family, const unsigned char *raw)
{
    static const unsigned char v6_loopback[16] = {[15] = 1};

    if (family == AF_INET)
        return raw[0] == 127;
    return memcmp(raw, v6_loopback, sizeof(v6_loopback)) == 0;
}

/* The port of "PORT" (digits only, 1..65535), or -1. */
static int listen_port(const char *s)
{
    long v = 0;

    if (!*s || strlen(s) > 5)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v >= 1 && v <= 65535 ? (int)v : -1;
}

int config_listen_parse(const char *s, struct listen_addr *out, char *err,
                        size_t errlen)
{
    const char *colon, *host = s, *end;
    size_t hlen;

    memset(out, 0, sizeof(*out));
    if (s[0] == '[') {
        host = s + 1;
        if (!(end = strchr(host, ']')) || end[1] != ':') {
            snprintf(err, errlen, "needs [IPV6]:PORT");
            return -1;
        }
        colon = end + 1;
        out->family = AF_INET6;
    } else {
        if (!(colon = strrchr(s, ':')) || memchr(s, ':', (size_t)(colon - s))) {
            snprintf(err, errlen,
                     "needs ADDR:PORT (an IPv6 address in brackets)");
            return -1;
        }
        end = colon;
        out->family = AF_INET;
    }
    hlen = (size_t)(end - host);
    if (hlen == 0 || hlen >= sizeof(out->addr)) {
        snprintf(err, errlen, "needs a numeric address before the port");
        return -1;
    }
    memcpy(out->addr, host, hlen);
    out->addr[hlen] = '\0';
    if (inet_pton(out->family, out->addr, out->raw) != 1) {
        snprintf(err, errlen, "'%s' is not a numeric %s address", out->addr,
                 out->family == AF_INET ? "IPv4" : "IPv6");
        return -1;
    }
    if ((out->port = listen_port(colon + 1)) < 0) {
        snprintf(err, errlen, "port '%s' must be 1..65535", colon + 1);
        return -1;
    }
    out->loopback = listen_is_loopback(out->family, out->raw);
    return 0;
}

static void config_web_tls_read(struct loader *ld, const config_setting_t *self)
{
    struct web_conf *w = &ld->c->web;
    struct group g;

    group_read(ld, &g, self, GROUP_WEB_TLS, "web.tls");
    w->tls_cert_file = group_strdup(&g, WL_CERT_FILE);
    w->tls_key_file = group_strdup(&g, WL_KEY_FILE);
}

void config_web_default(struct config *c)
{
    char err[8];

    c->web.listen = xstrdup(CONFIG_WEB_LISTEN_DEFAULT);
    config_listen_parse(c->web.listen, &c->web.at, err, sizeof(err));
}

void config_web_read(struct loader *ld, const config_setting_t *self)
{
    struct web_conf *w = &ld->c->web;
    struct group g;
    char err[128];

    group_read(ld, &g, self, GROUP_WEB, "web");
    w->given = true;
    w->line = loader_line(self);
    w->listen = group_strdup(&g, WK_LISTEN);
    if (config_listen_parse(w->listen, &w->at, err, sizeof(err)) < 0) {
        if (group_has(&g, WK_LISTEN))
            loader_error(ld, g.set[WK_LISTEN], "listen '%s' in web: %s",
                         w->listen, err);
        /* A bad value was reported already; keep a usable default. */
        free(w->listen);
        config_web_default(ld->c);
    }
    w->users_file = group_strdup(&g, WK_USERS_FILE);
    if (group_has(&g, WK_TLS))
        config_web_tls_read(ld, g.set[WK_TLS]);
}
