// SPDX-License-Identifier: MIT
/*
 * The mqtt group and its tls group: what the publisher needs to reach the
 * broker, checked beyond the tables where MQTT itself sets rules (a topic
 * prefix holds no wildcard or empty level, a client id is ASCII) and where
 * settings go together (a certificate needs its key, a password file a
 * user name). Also config_mqtt_equal(), which tells a reload whether the
 * publisher must reconnect.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "lib/config_private.h"

/* Why s is not a usable MQTT topic prefix, or NULL if it is. */
static const char *topic_prefix_problem(const char *s)
{
    size_t len = strlen(s);

    if (strpbrk(s, "+#"))
        return "must not hold '+' or '#'";
    if (!text_is_clean(s, SIZE_MAX))
        return "must be UTF-8 without control characters";
    if (s[0] == '/' || s[len - 1] == '/')
        return "must not start or end with '/'";
    if (strstr(s, "//"))
        return "must not hold an empty level ('//')";
    return NULL;
}

void config_tls_read(struct loader *ld, const config_setting_t *self,
                     const char *label, char **ca_file, char **cert_file,
                     char **key_file)
{
    struct group g;

    group_read(ld, &g, self, GROUP_TLS, label);
    *ca_file = group_strdup(&g, LK_CA_FILE);
    *cert_file = group_strdup(&g, LK_CERT_FILE);
    *key_file = group_strdup(&g, LK_KEY_FILE);
    /* A bad key was reported; judging the combination would repeat it. */
    if (g.bad[LK_CA_FILE] || g.bad[LK_CERT_FILE] || g.bad[LK_KEY_FILE])
        return;
    if (*cert_file && !*key_file)
        loader_error(ld, g.set[LK_CERT_FILE],
                     "'cert_file' in %s needs 'key_file'", label);
    else if (*key_file && !*cert_file)
        loader_error(ld, g.set[LK_KEY_FILE],
                     "'key_file' in %s needs 'cert_file'", label);
    else if (!*ca_file && !*cert_file)
        loader_error(ld, self, "%s needs 'ca_file' or 'cert_file'", label);
}

void config_mqtt_read(struct loader *ld, const config_setting_t *self)
{
    struct mqtt_conf *m = &ld->c->mqtt;
    const char *site = ld->c->site;
    struct group g;

    group_read(ld, &g, self, GROUP_MQTT, "mqtt");
    m->enabled = true;
    m->host = group_strdup(&g, MK_HOST);
    m->port = (int)group_int(&g, MK_PORT);
    if (group_has(&g, MK_CLIENT_ID)) {
        m->client_id = group_strdup(&g, MK_CLIENT_ID);
        if (!text_is_printable_ascii(m->client_id))
            loader_error(ld, g.set[MK_CLIENT_ID],
                         "client_id '%s' must be printable ASCII",
                         m->client_id);
    } else {
        size_t len = strlen("tbdaq-") + strlen(site ? site : "") + 1;

        m->client_id = xmalloc(len);
        snprintf(m->client_id, len, "tbdaq-%s", site ? site : "");
    }
    m->topic_prefix = group_strdup(&g, MK_TOPIC_PREFIX);
    if (group_has(&g, MK_TOPIC_PREFIX)) {
        const char *why = topic_prefix_problem(m->topic_prefix);

        if (why)
            loader_error(ld, g.set[MK_TOPIC_PREFIX], "topic_prefix '%s' %s",
                         m->topic_prefix, why);
    }
    m->qos = (int)group_int(&g, MK_QOS);
    m->retain = group_bool(&g, MK_RETAIN);
    m->keepalive_s = (int)group_int(&g, MK_KEEPALIVE_S);
    m->username = group_strdup(&g, MK_USERNAME);
    m->password_file = group_strdup(&g, MK_PASSWORD_FILE);
    if (m->password_file && !m->username && !g.bad[MK_USERNAME])
        loader_error(ld, g.set[MK_PASSWORD_FILE],
                     "'password_file' in mqtt needs 'username'");
    if (group_has(&g, MK_TLS))
        config_tls_read(ld, g.set[MK_TLS], "mqtt.tls", &m->ca_file,
                        &m->cert_file, &m->key_file);
    if (group_ok(&g, MK_LAYOUT)) {
        const char *layout = group_str(&g, MK_LAYOUT);

        if (strcmp(layout, "reading") == 0)
            m->layout = MQTT_LAYOUT_READING;
        else if (strcmp(layout, "device") == 0)
            m->layout = MQTT_LAYOUT_DEVICE;
        else
            loader_error(ld, g.set[MK_LAYOUT],
                         "unknown layout '%s' in mqtt (use reading or "
                         "device)",
                         layout);
    }
}

bool config_str_equal(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool config_mqtt_equal(const struct config *a, const struct config *b)
{
    const struct mqtt_conf *x = &a->mqtt, *y = &b->mqtt;

    return strcmp(a->site, b->site) == 0 && x->enabled == y->enabled &&
           x->layout == y->layout && config_str_equal(x->host, y->host) &&
           x->port == y->port && config_str_equal(x->client_id, y->client_id) &&
           config_str_equal(x->topic_prefix, y->topic_prefix) &&
           x->qos == y->qos && x->retain == y->retain &&
           x->keepalive_s == y->keepalive_s &&
           config_str_equal(x->username, y->username) &&
           config_str_equal(x->password_file, y->password_file) &&
           config_str_equal(x->ca_file, y->ca_file) &&
           config_str_equal(x->cert_file, y->cert_file) &&
           config_str_equal(x->key_file, y->key_file);
}
