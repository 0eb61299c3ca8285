// SPDX-License-Identifier: MIT
/*
 * The sparkplug group: the Sparkplug B edge node's broker (the same keys
 * as mqtt's, its own values) and its Sparkplug identity, checked beyond
 * the table where the specification sets rules: a group id, edge node id
 * and host id become topic levels, so they hold no '+', '#' or '/' and
 * are UTF-8 without control characters. Also config_sparkplug_equal(),
 * which tells a reload whether the edge node must reconnect.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "lib/config_private.h"

/* Why s cannot be a Sparkplug id (a topic level), or NULL if it can. */
static const char *spb_id_problem(const char *s)
{
    if (strpbrk(s, "+#/"))
        return "must not hold '+', '#' or '/'";
    if (!text_is_clean(s, SIZE_MAX))
        return "must be UTF-8 without control characters";
    return NULL;
}

/* Key k of g, copied, reported if it is no usable id. */
static char *spb_id_read(struct loader *ld, const struct group *g, size_t k)
{
    char *s = group_strdup(g, k);
    const char *why;

    if (s && group_has(g, k) && (why = spb_id_problem(s)))
        loader_error(ld, g->set[k], "%s '%s' in sparkplug %s", g->keys[k].name,
                     s, why);
    return s;
}

/* "<prefix><site><suffix>", for the defaults made from the site. */
static char *spb_from_site(const char *prefix, const char *site,
                           const char *suffix)
{
    size_t len = strlen(prefix) + strlen(site) + strlen(suffix) + 1;
    char *s = xmalloc(len);

    snprintf(s, len, "%s%s%s", prefix, site, suffix);
    return s;
}

void config_sparkplug_read(struct loader *ld, const config_setting_t *self)
{
    struct sparkplug_conf *p = &ld->c->sparkplug;
    const char *site = ld->c->site ? ld->c->site : "";
    struct group g;

    group_read(ld, &g, self, GROUP_SPARKPLUG, "sparkplug");
    p->enabled = true;
    p->host = group_strdup(&g, PK_HOST);
    p->port = (int)group_int(&g, PK_PORT);
    if (group_has(&g, PK_CLIENT_ID)) {
        p->client_id = group_strdup(&g, PK_CLIENT_ID);
        if (!text_is_printable_ascii(p->client_id))
            loader_error(ld, g.set[PK_CLIENT_ID],
                         "client_id '%s' in sparkplug must be printable ASCII",
                         p->client_id);
    } else {
        p->client_id = spb_from_site("tbdaq-", site, "-spb");
    }
    p->username = group_strdup(&g, PK_USERNAME);
    p->password_file = group_strdup(&g, PK_PASSWORD_FILE);
    if (p->password_file && !p->username && !g.bad[PK_USERNAME])
        loader_error(ld, g.set[PK_PASSWORD_FILE],
                     "'password_file' in sparkplug needs 'username'");
    if (group_has(&g, PK_TLS))
        config_tls_read(ld, g.set[PK_TLS], "sparkplug.tls", &p->ca_file,
                        &p->cert_file, &p->key_file);
    p->keepalive_s = (int)group_int(&g, PK_KEEPALIVE_S);
    p->group_id = spb_id_read(ld, &g, PK_GROUP_ID);
    /* The site is [A-Za-z0-9_-]+: a valid id as it is. */
    p->edge_node = group_has(&g, PK_EDGE_NODE)
                       ? spb_id_read(ld, &g, PK_EDGE_NODE)
                       : xstrdup(site);
    p->qos = (int)group_int(&g, PK_QOS);
    p->primary_host = spb_id_read(ld, &g, PK_PRIMARY_HOST);
}

bool config_sparkplug_equal(const struct config *a, const struct config *b)
{
    const struct sparkplug_conf *x = &a->sparkplug, *y = &b->sparkplug;

    return strcmp(a->site, b->site) == 0 && x->enabled == y->enabled &&
           config_str_equal(x->host, y->host) && x->port == y->port &&
           config_str_equal(x->client_id, y->client_id) &&
           config_str_equal(x->username, y->username) &&
           config_str_equal(x->password_file, y->password_file) &&
           config_str_equal(x->ca_file, y->ca_file) &&
           config_str_equal(x->cert_file, y->cert_file) &&
           config_str_equal(x->key_file, y->key_file) &&
           x->keepalive_s == y->keepalive_s &&
           config_str_equal(x->group_id, y->group_id) &&
           config_str_equal(x->edge_node, y->edge_node) && x->qos == y->qos &&
           config_str_equal(x->primary_host, y->primary_host);
}
