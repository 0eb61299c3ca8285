// SPDX-License-Identifier: MIT
/*
 * daemon/notify.c against libsystemd, the protocol's own implementation:
 * every notification the daemon sends arrives as the same datagram that
 * sd_notify() sends, at a socket named by a path and at an abstract one
 * ('@'), and nothing is sent for an address libsystemd refuses; the
 * watchdog interval read from WATCHDOG_USEC and WATCHDOG_PID is the one
 * sd_watchdog_enabled() reads, for the values a manager sets and for
 * broken ones. libsystemd is linked into this test alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/notify.h"

#define DGRAM_MAX 2048

/* A datagram socket bound at addr of len bytes ('@': abstract, up to the
 * whole sun_path; otherwise a path, relative or not), non-blocking. */
static int bind_at_len(const char *addr, size_t len)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t salen;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);

    assert_true(fd >= 0);
    assert_true(len <= sizeof(sa.sun_path));
    memcpy(sa.sun_path, addr, len);
    if (addr[0] == '@') {
        sa.sun_path[0] = '\0';
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        assert_true(len < sizeof(sa.sun_path));
        unlink(addr);
        salen = (socklen_t)sizeof(sa);
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, salen), 0);
    return fd;
}

static int bind_at(const char *addr)
{
    return bind_at_len(addr, strlen(addr));
}

/* The next datagram at fd (it must be there: sending is synchronous on a
 * local socket), in buf; its length, or -1 if none waits. */
static ssize_t next_dgram(int fd, char *buf)
{
    return recv(fd, buf, DGRAM_MAX, 0);
}

static void say_status(void)
{
    notify_status("%d readings/s, %s", 1000, "bus 'a' down");
}

/* Each notification and the sd_notify() text it must equal. */
static const struct {
    void (*send)(void);
    const char *text;
} sends[] = {
    {notify_ready, "READY=1"},
    {notify_reloading, "RELOADING=1"},
    {notify_watchdog, "WATCHDOG=1"},
    {say_status, "STATUS=1000 readings/s, bus 'a' down"},
    {notify_stopping, "STOPPING=1"},
};

/* With NOTIFY_SOCKET=addr, ours and libsystemd's datagrams are equal. */
static void same_datagrams(const char *addr)
{
    char ours[DGRAM_MAX], theirs[DGRAM_MAX];
    int fd = bind_at(addr);

    assert_int_equal(setenv("NOTIFY_SOCKET", addr, 1), 0);
    for (size_t i = 0; i < sizeof(sends) / sizeof(sends[0]); i++) {
        ssize_t n, m;

        sends[i].send();
        n = next_dgram(fd, ours);
        assert_true(sd_notify(0, sends[i].text) > 0);
        m = next_dgram(fd, theirs);
        assert_true(n > 0);
        assert_int_equal(n, m);
        assert_memory_equal(ours, theirs, (size_t)n);
        assert_int_equal(next_dgram(fd, ours), -1);
    }
    close(fd);
    if (addr[0] == '/')
        unlink(addr);
}

static void test_path(void **state)
{
    char path[64];

    (void)state;
    snprintf(path, sizeof(path), "/tmp/test_notify.%ld.sock", (long)getpid());
    same_datagrams(path);
}

static void test_abstract(void **state)
{
    char name[64];

    (void)state;
    snprintf(name, sizeof(name), "@test_notify.%ld", (long)getpid());
    same_datagrams(name);
}

/* Addresses libsystemd refuses, each with a socket of that very name
 * bound where a sender could reach it: nothing arrives. A relative name
 * ("x", in a directory of the test's own), the empty abstract name, and
 * an abstract name of 108 bytes (one more than libsystemd takes). */
static void test_refused(void **state)
{
    char dir[] = "/tmp/test_notify.XXXXXX", cwd[512], buf[DGRAM_MAX];
    char longest[110];
    int fd_rel, fd_long;

    (void)state;
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    fd_rel = bind_at("x");
    memset(longest, 'n', sizeof(longest) - 1);
    longest[0] = '@';
    longest[sizeof(longest) - 2] = '\0'; /* 108 bytes */
    fd_long = bind_at_len(longest, 108);
    {
        const char *const bad[] = {"", "x", "@", longest};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            assert_int_equal(setenv("NOTIFY_SOCKET", bad[i], 1), 0);
            notify_ready();
            assert_true(sd_notify(0, "READY=1") <= 0);
        }
    }
    unsetenv("NOTIFY_SOCKET");
    notify_ready();
    assert_int_equal(sd_notify(0, "READY=1"), 0);
    assert_int_equal(next_dgram(fd_rel, buf), -1);
    assert_int_equal(next_dgram(fd_long, buf), -1);
    close(fd_rel);
    close(fd_long);
    unlink("x");
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* notify_watchdog_usec() against sd_watchdog_enabled() for one setting
 * (NULL: unset). */
static void same_watchdog(const char *usec, const char *pid)
{
    uint64_t theirs = 0;
    int rc;

    if (usec)
        assert_int_equal(setenv("WATCHDOG_USEC", usec, 1), 0);
    else
        unsetenv("WATCHDOG_USEC");
    if (pid)
        assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    else
        unsetenv("WATCHDOG_PID");
    rc = sd_watchdog_enabled(0, &theirs);
    if (rc <= 0)
        theirs = 0;
    print_message("WATCHDOG_USEC=%s WATCHDOG_PID=%s: %llu\n",
                  usec ? usec : "(unset)", pid ? pid : "(unset)",
                  (unsigned long long)theirs);
    assert_int_equal(notify_watchdog_usec(), theirs);
}

static void test_watchdog(void **state)
{
    static const char *const usecs[] = {NULL,
                                        "1000000",
                                        "30000000",
                                        "1",
                                        "0",
                                        "",
                                        "abc",
                                        "12x",
                                        "-5",
                                        "18446744073709551615",
                                        "99999999999999999999999"};
    char me[32], other[32];

    (void)state;
    snprintf(me, sizeof(me), "%ld", (long)getpid());
    snprintf(other, sizeof(other), "%ld", (long)getpid() + 1);
    for (size_t i = 0; i < sizeof(usecs) / sizeof(usecs[0]); i++) {
        same_watchdog(usecs[i], NULL);
        same_watchdog(usecs[i], me);
        same_watchdog(usecs[i], other);
        same_watchdog(usecs[i], "0");
        same_watchdog(usecs[i], "pid");
    }
    /* and what a manager sets is read as such */
    same_watchdog("1000000", me);
    assert_int_equal(notify_watchdog_usec(), 1000000);
    /* plain decimals only, on purpose (notify.h): libsystemd reads these
     * (octal, hex, a sign, spaces), no manager writes them */
    {
        static const char *const odd[] = {"010", "0x10", "+10", " 10"};

        unsetenv("WATCHDOG_PID");
        for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
            assert_int_equal(setenv("WATCHDOG_USEC", odd[i], 1), 0);
            assert_int_equal(notify_watchdog_usec(), i == 0 ? 10 : 0);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_abstract),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_watchdog),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
