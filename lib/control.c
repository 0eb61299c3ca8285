// SPDX-License-Identifier: MIT
/*
 * The control protocol, both ends' shared part: where a daemon's channel
 * is, the request lines, who may ask; and the asking side, for tbdaq (and
 * tbdaq-web). See control.h. The daemon's side is daemon/channel.c.
 */
#define _GNU_SOURCE /* struct ucred, SO_PEERCRED: Linux only */
#include "lib/control.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/text.h"
#include "common/util.h"

/* The abstract name's prefix (after its NUL). */
#define CONTROL_ABSTRACT_PREFIX "tbdaq-"

int control_address(const char *control_socket, const char *database,
                    struct control_addr *a, char *err, size_t errlen)
{
    char hex[SHA256_HEX_LEN];
    char *real;

    memset(a, 0, sizeof(*a));
    a->sun.sun_family = AF_UNIX;
    if (control_socket) {
        size_t n = strlen(control_socket);

        if (n >= sizeof(a->sun.sun_path) || n >= sizeof(a->shown)) {
            snprintf(err, errlen,
                     "control_socket '%s' is longer than %zu bytes",
                     control_socket, sizeof(a->sun.sun_path) - 1);
            return -1;
        }
        memcpy(a->sun.sun_path, control_socket, n);
        memcpy(a->shown, control_socket, n + 1);
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    if (!(real = realpath(database, NULL))) {
        snprintf(err, errlen, "cannot resolve database '%s': %s", database,
                 strerror(errno));
        return -1;
    }
    sha256_hex(real, strlen(real), hex);
    free(real);
    /* sun_path: a NUL, then the name (not NUL-terminated). */
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                         (size_t)snprintf(a->sun.sun_path + 1,
                                          sizeof(a->sun.sun_path) - 1,
                                          CONTROL_ABSTRACT_PREFIX "%s", hex));
    snprintf(a->shown, sizeof(a->shown), "@" CONTROL_ABSTRACT_PREFIX "%s", hex);
    return 0;
}

/* ---- Requests ---------------------------------------------------------- */

static const char *const control_cmds[] = {
    [CONTROL_STATUS] = "status",
    [CONTROL_RUN_START] = "run-start",
    [CONTROL_RUN_MARK] = "run-mark",
    [CONTROL_RUN_STOP] = "run-stop",
};

/* Why name is not a run name, or NULL if it is. */
static const char *control_bad_name(const char *name)
{
    if (text_is_name(name, CONTROL_NAME_MAX))
        return NULL;
    if (name[0] == '\0')
        return "run name is empty";
    if (strlen(name) > CONTROL_NAME_MAX && text_is_name(name, SIZE_MAX))
        return "run name is longer than 64 characters";
    return "run name has characters outside [A-Za-z0-9_.-]";
}

int control_parse(char *line, struct control_request *req, char *err,
                  size_t errlen)
{
    char *field[4];
    size_t nf = 0;
    const char *why = NULL;
    char *p = line;
    size_t i;

    memset(req, 0, sizeof(*req));
    for (;;) {
        if (nf == sizeof(field) / sizeof(field[0])) {
            why = "too many fields";
            goto fail;
        }
        field[nf++] = p;
        if (!(p = strchr(p, '\t')))
            break;
        *p++ = '\0';
    }
    for (i = 0; i < sizeof(control_cmds) / sizeof(control_cmds[0]); i++)
        if (strcmp(field[0], control_cmds[i]) == 0)
            break;
    if (i == sizeof(control_cmds) / sizeof(control_cmds[0])) {
        why = "unknown request";
        goto fail;
    }
    req->cmd = (enum control_cmd)i;
    switch (req->cmd) {
    case CONTROL_STATUS:
        if (nf != 1)
            why = "status takes no arguments";
        break;
    case CONTROL_RUN_START:
        if (nf < 2) {
            why = "run-start needs a run name";
            break;
        }
        req->name = field[1];
        for (i = 2; i < nf && !why; i++) {
            if (strncmp(field[i], "operator=", 9) == 0 && !req->operator_name)
                req->operator_name = field[i] + 9;
            else if (strncmp(field[i], "note=", 5) == 0 && !req->note)
                req->note = field[i] + 5;
            else
                why = "run-start takes operator= and note= once each";
        }
        if (why)
            break;
        if (!(why = control_bad_name(req->name))) {
            if (req->operator_name &&
                !text_is_clean(req->operator_name, CONTROL_OPERATOR_MAX))
                why = "operator is not UTF-8 text without control characters "
                      "of at most 128 bytes";
            else if (req->note && !text_is_clean(req->note, CONTROL_TEXT_MAX))
                why = "note is not UTF-8 text without control characters of "
                      "at most 1024 bytes";
        }
        break;
    case CONTROL_RUN_MARK:
        if (nf != 2)
            why = "run-mark takes one text";
        else if (field[1][0] == '\0')
            why = "the mark's text is empty";
        else if (!text_is_clean(field[1], CONTROL_TEXT_MAX))
            why = "the mark's text is not UTF-8 text without control "
                  "characters of at most 1024 bytes";
        else
            req->text = field[1];
        break;
    case CONTROL_RUN_STOP:
        if (nf > 2)
            why = "run-stop takes at most one run name";
        else if (nf == 2 && !(why = control_bad_name(field[1])))
            req->name = field[1];
        break;
    }
    if (!why)
        return 0;
fail:
    snprintf(err, errlen, "%s", why);
    return -1;
}

/* Appends "\t" prefix s to buf at *at; -1 if it does not fit or s holds
 * a TAB or newline. */
static int control_put(char *buf, size_t len, size_t *at, const char *prefix,
                       const char *s)
{
    int n;

    if (strpbrk(s, "\t\n"))
        return -1;
    n = snprintf(buf + *at, len - *at, "\t%s%s", prefix, s);
    if (n < 0 || (size_t)n >= len - *at)
        return -1;
    *at += (size_t)n;
    return 0;
}

int control_format(const struct control_request *req, char *buf, size_t len)
{
    size_t at;
    int n = snprintf(buf, len, "%s", control_cmds[req->cmd]);

    if (n < 0 || (size_t)n >= len)
        return -1;
    at = (size_t)n;
    if ((req->name && control_put(buf, len, &at, "", req->name) < 0) ||
        (req->operator_name &&
         control_put(buf, len, &at, "operator=", req->operator_name) < 0) ||
        (req->note && control_put(buf, len, &at, "note=", req->note) < 0) ||
        (req->text && control_put(buf, len, &at, "", req->text) < 0))
        return -1;
    if (at + 2 > len || at + 1 > CONTROL_REQUEST_MAX)
        return -1;
    buf[at++] = '\n';
    buf[at] = '\0';
    return (int)at;
}

bool control_peer_allowed(uid_t uid, gid_t gid, const gid_t *groups,
                          size_t ngroups, uid_t daemon_uid, gid_t daemon_gid)
{
    if (uid == 0 || uid == daemon_uid || gid == daemon_gid)
        return true;
    for (size_t i = 0; i < ngroups; i++)
        if (groups[i] == daemon_gid)
            return true;
    return false;
}

/* ---- The CLI's side ---------------------------------------------------- */

int control_ask(const struct control_addr *a, const char *request,
                uid_t expect_uid, char *reply, size_t len, char *err,
                size_t errlen)
{
    struct timeval tv = {CONTROL_ASK_MS / 1000, CONTROL_ASK_MS % 1000 * 1000};
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    size_t got = 0, want = strlen(request);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = -1;

    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (const struct sockaddr *)&a->sun, a->len) < 0) {
        if (errno == ECONNREFUSED || errno == ENOENT) {
            snprintf(err, errlen,
                     "tbdaqd is not running: no control channel at %s",
                     a->shown);
            rc = 1;
        } else {
            snprintf(err, errlen, "control channel %s: %s", a->shown,
                     strerror(errno));
        }
        goto out;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
        (cred.uid != 0 && expect_uid != (uid_t)-1 && cred.uid != expect_uid)) {
        snprintf(err, errlen,
                 "control channel %s: the process listening there (uid %lu) "
                 "is not tbdaqd: it runs neither as root nor as the "
                 "database's owner",
                 a->shown, (unsigned long)cred.uid);
        goto out;
    }
    for (size_t sent = 0; sent < want;) {
        ssize_t n = send(fd, request + sent, want - sent, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            break; /* it answered already (a refusal): read that */
        if (n < 0) {
            snprintf(err, errlen, "control channel %s: %s", a->shown,
                     errno == EAGAIN ? "no answer in time" : strerror(errno));
            goto out;
        }
        sent += (size_t)n;
    }
    for (;;) {
        ssize_t n = recv(fd, reply + got, len - 1 - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        /* The daemon closes on what it did not read (a refused request):
         * its answer came first. */
        if (n < 0 && errno == ECONNRESET && got > 0)
            break;
        if (n < 0) {
            snprintf(err, errlen, "control channel %s: %s", a->shown,
                     errno == EAGAIN ? "no answer in time" : strerror(errno));
            goto out;
        }
        if (n == 0 || (got += (size_t)n) == len - 1)
            break;
    }
    reply[got] = '\0';
    if (got == 0) {
        snprintf(err, errlen, "control channel %s: no answer", a->shown);
        goto out;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}
