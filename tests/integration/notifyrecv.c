// SPDX-License-Identifier: MIT
/*
 * notifyrecv: a stand-in for systemd's end of the sd_notify protocol, for
 * the service cases of the integration tests (cases_service.sh).
 *
 *   notifyrecv PATH
 *
 * Binds an AF_UNIX datagram socket at PATH (replacing a stale one), prints
 * "ready" once it is bound, then one line per datagram:
 * "<CLOCK_MONOTONIC ms> <datagram, each newline made a space>", flushed
 * per line, so a test can read the file while it runs and time what it
 * sees against the receiver's own clock. SIGTERM or SIGINT: removes PATH
 * and exits 0. Exit status 1 on failure, 2 on misuse.
 *
 * Plain C, no libraries: it must not share code with what it tests.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define NOTIFYRECV_EXIT_OK 0
#define NOTIFYRECV_EXIT_FAIL 1
#define NOTIFYRECV_EXIT_USAGE 2
/* Longest datagram kept whole; sd_notify messages are a few hundred bytes
 * (STATUS= texts), a longer one is cut and still makes its line. */
#define NOTIFYRECV_DGRAM_MAX 4096

static volatile sig_atomic_t notifyrecv_stop;

static void notifyrecv_on_signal(int sig)
{
    (void)sig;
    notifyrecv_stop = 1;
}

static long long notifyrecv_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Binds a datagram socket at path; returns it, or -1 after saying why. */
static int notifyrecv_bind(const char *path)
{
    struct sockaddr_un addr;
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "notifyrecv: path '%s' is too long for a socket\n",
                path);
        return -1;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "notifyrecv: socket: %s\n", strerror(errno));
        return -1;
    }
    /* A socket left by an earlier run that was killed. */
    if (unlink(path) < 0 && errno != ENOENT) {
        fprintf(stderr, "notifyrecv: cannot remove '%s': %s\n", path,
                strerror(errno));
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "notifyrecv: cannot bind '%s': %s\n", path,
                strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/* Prints one datagram as its line. */
static void notifyrecv_print(const char *buf, size_t n)
{
    printf("%lld ", notifyrecv_mono_ms());
    for (size_t i = 0; i < n; i++)
        putchar(buf[i] == '\n' ? ' ' : buf[i]);
    putchar('\n');
    fflush(stdout);
}

int main(int argc, char **argv)
{
    char buf[NOTIFYRECV_DGRAM_MAX];
    struct sigaction sa;
    sigset_t block, waitmask;
    int fd, rc = NOTIFYRECV_EXIT_FAIL;

    if (argc != 2 || argv[1][0] == '\0') {
        fprintf(stderr, "usage: notifyrecv PATH\n");
        return NOTIFYRECV_EXIT_USAGE;
    }
    /* The handlers only set a flag; TERM and INT stay blocked except
     * inside pselect(), so a signal cannot slip in just before it. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = notifyrecv_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);

    if ((fd = notifyrecv_bind(argv[1])) < 0)
        return NOTIFYRECV_EXIT_FAIL;
    printf("ready\n");
    fflush(stdout);

    while (!notifyrecv_stop) {
        fd_set rd;
        ssize_t n;

        FD_ZERO(&rd);
        FD_SET(fd, &rd);
        if (pselect(fd + 1, &rd, NULL, NULL, NULL, &waitmask) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "notifyrecv: select: %s\n", strerror(errno));
            goto out;
        }
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            fprintf(stderr, "notifyrecv: recv: %s\n", strerror(errno));
            goto out;
        }
        notifyrecv_print(buf, (size_t)n);
    }
    rc = NOTIFYRECV_EXIT_OK;
out:
    close(fd);
    unlink(argv[1]);
    return rc;
}
