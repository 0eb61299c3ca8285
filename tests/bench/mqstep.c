// SPDX-License-Identifier: MIT
/* One poll-driven turn of a bench subscriber's client (mqstep.h). */
#include "tests/bench/mqstep.h"

#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>

/* Every packet the socket holds. */
static int mqstep_read_all(struct mosquitto *mosq, int fd,
                           const volatile sig_atomic_t *stop)
{
    int pending = 1, rc = MOSQ_ERR_SUCCESS;

    while (pending > 0 && !*stop) {
        rc = mosquitto_loop_read(mosq, 1);
        if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(mosq) < 0)
            break;
        if (ioctl(fd, FIONREAD, &pending) < 0)
            break;
    }
    return rc;
}

int mqstep(struct mosquitto *mosq, int timeout_ms,
           const volatile sig_atomic_t *stop)
{
    struct pollfd pfd = {.fd = mosquitto_socket(mosq), .events = POLLIN};
    int rc = MOSQ_ERR_SUCCESS;

    if (pfd.fd < 0)
        return MOSQ_ERR_NO_CONN;
    if (mosquitto_want_write(mosq))
        pfd.events |= POLLOUT;
    if (poll(&pfd, 1, timeout_ms) < 0)
        return errno == EINTR ? MOSQ_ERR_SUCCESS : MQSTEP_POLL_FAILED;
    if (pfd.revents & (POLLIN | POLLERR | POLLHUP))
        rc = mqstep_read_all(mosq, pfd.fd, stop);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(mosq) >= 0 &&
        mosquitto_want_write(mosq))
        rc = mosquitto_loop_write(mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(mosq) >= 0)
        rc = mosquitto_loop_misc(mosq);
    return rc;
}
