/* SPDX-License-Identifier: MIT */
/*
 * The control channel (SPEC Control): a local stream socket on which the
 * daemon takes `run start|mark|stop` and `status` from the CLI. One
 * request per connection, one line of TAB-separated fields:
 *
 *     status
 *     run-start TAB NAME [TAB operator=WHO] [TAB note=TEXT]
 *     run-mark TAB TEXT
 *     run-stop [TAB NAME]
 *
 * answered by "ok TEXT" or "error TEXT" on the first line (status: then
 * "key value" lines), after which the daemon closes the connection.
 * Names and texts are checked again by the daemon (text_is_name,
 * text_is_clean: no TAB or newline can hide in them).
 *
 * The channel is control_socket when configured (a socket file, mode
 * 0660), otherwise the abstract socket "@tbdaq-" followed by the SHA-256
 * (hex) of the database's realpath: one per database, whatever the length
 * of its path, no file to leave behind, and found by the CLI from -d alone.
 * Only the daemon's user, root and members of its group (the peer's
 * primary or supplementary groups) are served; the CLI in turn only
 * believes a daemon running as root or as the database file's owner.
 *
 * This module is what both ends share, and the asking end; the daemon's
 * end is daemon/channel.h. Everything here is thread-safe (no state).
 */
#ifndef TBDAQ_CONTROL_H
#define TBDAQ_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* The longest request line, newline included. */
#define CONTROL_REQUEST_MAX 4096
/* The longest reply. */
#define CONTROL_REPLY_MAX 4096
/* How long the CLI waits for the daemon's answer. */
#define CONTROL_ASK_MS 5000
/* Limits of what a run records (bytes; names are ASCII): SPEC. */
#define CONTROL_NAME_MAX 64
#define CONTROL_OPERATOR_MAX 128
#define CONTROL_TEXT_MAX 1024
/* Room for an address shown to people: "@tbdaq-" and 64 hex digits, or
 * a socket file's path. */
#define CONTROL_SHOWN_MAX 112

/* Where a daemon's channel is. */
struct control_addr {
    struct sockaddr_un sun;
    socklen_t len;
    char shown[CONTROL_SHOWN_MAX]; /* the path, or "@" and the abstract name */
};

/*
 * The channel of a daemon with control_socket (NULL: none) and database.
 * Returns 0, or -1 with err set (the database's realpath failed: "cannot
 * resolve database 'X': No such file or directory").
 */
int control_address(const char *control_socket, const char *database,
                    struct control_addr *a, char *err, size_t errlen);

enum control_cmd {
    CONTROL_STATUS,
    CONTROL_RUN_START,
    CONTROL_RUN_MARK,
    CONTROL_RUN_STOP,
};

/* A request; strings point into the line parsed, or are NULL. */
struct control_request {
    enum control_cmd cmd;
    const char *name;          /* run-start; run-stop (may be NULL) */
    const char *operator_name; /* run-start, may be NULL */
    const char *note;          /* run-start, may be NULL */
    const char *text;          /* run-mark */
};

/*
 * Parses one request line (without its newline; changed in place).
 * Returns 0, or -1 with err set to what the client is told: "unknown
 * request", "run-start needs a run name", "run name has characters outside
 * [A-Za-z0-9_.-]", ...
 */
int control_parse(char *line, struct control_request *req, char *err,
                  size_t errlen);

/* Writes req as a request line with its newline into buf. Returns its
 * length, or -1 if it does not fit (or a field holds a TAB or newline). */
int control_format(const struct control_request *req, char *buf, size_t len);

/*
 * Whether a peer with uid, gid and supplementary groups may use the
 * channel of a daemon running as daemon_uid / daemon_gid: root, the
 * daemon's user, or a member (primary or supplementary) of its group.
 */
bool control_peer_allowed(uid_t uid, gid_t gid, const gid_t *groups,
                          size_t ngroups, uid_t daemon_uid, gid_t daemon_gid);

/*
 * The asking side (tbdaq): sends request (one line with its newline) to the
 * daemon at a and reads the whole reply into reply (NUL-terminated), within
 * CONTROL_ASK_MS. A daemon whose user is neither root nor expect_uid
 * ((uid_t)-1: any) is not believed. Returns 0, 1 if no daemon listens
 * there (err: "tbdaqd is not running: no control channel at X"), or -1
 * with err set.
 */
int control_ask(const struct control_addr *a, const char *request,
                uid_t expect_uid, char *reply, size_t len, char *err,
                size_t errlen);

#endif
