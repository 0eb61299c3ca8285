// SPDX-License-Identifier: MIT
/*
 * The connection's TLS context. The broker's name is resolved off the main
 * thread and libmosquitto is given a numeric address (mqtt_conn.c), so
 * TLS cannot be left to libmosquitto: it checks the broker's certificate
 * against the host string given to connect (and sends it as SNI), which
 * is now an address. The context is built here (MOSQ_OPT_SSL_CTX, without
 * libmosquitto's defaults): OpenSSL checks the certificate against the
 * configured name or address (X509_VERIFY_PARAM_set1_host or
 * _set1_ip_asc), and the configured name replaces the SNI libmosquitto
 * set, at the start of each handshake.
 */
#include "daemon/mqtt_conn.h"

#include <mosquitto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "daemon/resolve.h"

/* The SSL_CTX ex_data slot holding the publisher, for the callbacks. */
static int mqtt_conn_tls_slot = -1;

static struct mqtt_conn *mqtt_conn_tls_owner(const SSL *ssl)
{
    return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), mqtt_conn_tls_slot);
}

/* OpenSSL's oldest queued error as text, and the queue emptied. */
static const char *mqtt_conn_tls_error(void)
{
    static char buf[MQTT_CONN_LIB_ERR_MAX];
    unsigned long e = ERR_get_error();

    if (e == 0)
        snprintf(buf, sizeof(buf), "unknown error");
    else
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

/* Says why the broker's certificate was refused (libmosquitto only says
 * "certificate verify failed"). */
static int mqtt_conn_tls_verify(int ok, X509_STORE_CTX *x)
{
    SSL *ssl =
        X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct mqtt_conn *c = ssl ? mqtt_conn_tls_owner(ssl) : NULL;

    if (!ok && c)
        mqtt_conn_notef(
            c, "TLS: broker certificate refused: %s",
            X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
    return ok;
}

/* At the start of each handshake, before the ClientHello is written: the
 * configured name as SNI, in place of the address libmosquitto set. */
static void mqtt_conn_tls_info(const SSL *ssl, int where, int ret)
{
    struct mqtt_conn *c;

    (void)ret;
    if (!(where & SSL_CB_HANDSHAKE_START))
        return;
    c = mqtt_conn_tls_owner(ssl);
    /* OpenSSL hands the callback a const SSL it owns and may change. */
    if (c && !c->host_numeric)
        SSL_set_tlsext_host_name((SSL *)ssl, c->host);
}

/*
 * The TLS context, made here rather than by libmosquitto (see the top of
 * the file): at least TLS 1.2, the CA file or else the system's CAs, the
 * client certificate and key, and the broker's certificate checked for
 * the configured host. Files are read now: returns -1 after logging why
 * if one cannot be used.
 */
int mqtt_conn_tls_setup(struct mqtt_conn *c, const struct mqtt_conn_params *m)
{
    char ip[RESOLVE_ADDR_LEN];
    const char *what = NULL, *file = NULL;
    X509_VERIFY_PARAM *vp;
    SSL_CTX *ctx;
    int rc;

    if (mqtt_conn_tls_slot < 0)
        mqtt_conn_tls_slot =
            SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || mqtt_conn_tls_slot < 0) {
        log_err("%s.tls: cannot make a TLS context: %s", c->name,
                mqtt_conn_tls_error());
        SSL_CTX_free(ctx);
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (m->ca_file ? SSL_CTX_load_verify_locations(ctx, m->ca_file, NULL) != 1
                   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        what = "ca_file";
        file = m->ca_file ? m->ca_file : "(the system's)";
        goto fail;
    }
    if (m->cert_file &&
        SSL_CTX_use_certificate_chain_file(ctx, m->cert_file) != 1) {
        what = "cert_file";
        file = m->cert_file;
        goto fail;
    }
    if (m->key_file &&
        (SSL_CTX_use_PrivateKey_file(ctx, m->key_file, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(ctx) != 1)) {
        what = "key_file";
        file = m->key_file;
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, mqtt_conn_tls_verify);
    vp = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (c->host_numeric) {
        /* An address's scope (fe80::1%eth0) is not in certificates. */
        snprintf(ip, sizeof(ip), "%s", c->host);
        ip[strcspn(ip, "%")] = '\0';
        rc = X509_VERIFY_PARAM_set1_ip_asc(vp, ip);
    } else {
        rc = X509_VERIFY_PARAM_set1_host(vp, c->host, 0);
    }
    if (rc != 1) {
        log_err("%s.tls: cannot check certificates for host '%s': %s", c->name,
                c->host, mqtt_conn_tls_error());
        SSL_CTX_free(ctx);
        return -1;
    }
    SSL_CTX_set_ex_data(ctx, mqtt_conn_tls_slot, c);
    SSL_CTX_set_info_callback(ctx, mqtt_conn_tls_info);
    mosquitto_int_option(c->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
    rc = mosquitto_void_option(c->mosq, MOSQ_OPT_SSL_CTX, ctx);
    /* libmosquitto holds a reference of its own until destroyed. */
    SSL_CTX_free(ctx);
    if (rc != MOSQ_ERR_SUCCESS) {
        log_err("%s.tls: libmosquitto refuses the TLS context: %s", c->name,
                mosquitto_strerror(rc));
        return -1;
    }
    return 0;

fail:
    log_err("%s.tls: cannot use %s '%s': %s", c->name, what, file,
            mqtt_conn_tls_error());
    SSL_CTX_free(ctx);
    return -1;
}
