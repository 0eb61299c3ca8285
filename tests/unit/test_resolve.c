// SPDX-License-Identifier: MIT
/*
 * Host name lookups off the caller's thread (daemon/resolve.c): numeric
 * addresses parsed on the caller's thread, "localhost" and a name that
 * cannot exist looked up on a helper thread with every signal blocked,
 * lookups abandoned by their owner while still inside getaddrinfo() (the
 * helper frees them when it returns: nothing leaks, nothing is used after
 * being freed; run it in the sanitizer build too), and the loopback
 * predicate.
 *
 * getaddrinfo() is this file's own: it notes who called it and how, and
 * holds a lookup of HELD_NAME until the test lets it go, so that a lookup
 * is known to be running when its owner frees it; every other name goes
 * to the C library's getaddrinfo(). No name is sent to any resolver: the
 * names looked up for real are in /etc/hosts or cannot be put into a DNS
 * query at all.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "common/util.h"
#include "daemon/resolve.h"

/* Longest wait for anything a helper thread should do. */
#define WAIT_MS 5000
/* How often a condition is checked while waiting for it. */
#define TICK_MS 2
/* The name whose lookup waits in getaddrinfo() until released. */
#define HELD_NAME "held.tbdaq-test.invalid"
/* Held lookups started at once in the abandonment test. */
#define HELD_LOOKUPS 8
/* A label of 64 octets: RFC 1035 allows 63, so no resolver can be asked
 * about this name, and it is in no hosts file. */
#define NO_SUCH_NAME                                                           \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"                                         \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.invalid"

/* --- getaddrinfo(), as the module sees it ------------------------------- */

/* Everything below is guarded by gai_lock. */
static pthread_mutex_t gai_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gai_cond = PTHREAD_COND_INITIALIZER;
static unsigned gai_calls;
static pthread_t gai_thread;  /* the last caller */
static int gai_flags;         /* its hints' ai_flags */
static bool gai_signals_open; /* it could take a signal the daemon uses */
static unsigned gai_held;     /* lookups of HELD_NAME waiting inside */
static bool gai_release;      /* they may return */

int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGALRM};
    int (*real)(const char *, const char *, const struct addrinfo *,
                struct addrinfo **);
    sigset_t cur;

    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    pthread_mutex_lock(&gai_lock);
    gai_calls++;
    gai_thread = pthread_self();
    gai_flags = hints ? hints->ai_flags : 0;
    gai_signals_open = false;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        gai_signals_open |= sigismember(&cur, sigs[i]) != 1;
    if (node && strcmp(node, HELD_NAME) == 0) {
        gai_held++;
        pthread_cond_broadcast(&gai_cond);
        while (!gai_release)
            pthread_cond_wait(&gai_cond, &gai_lock);
        gai_held--;
        pthread_mutex_unlock(&gai_lock);
        return EAI_NONAME;
    }
    pthread_mutex_unlock(&gai_lock);
    /* POSIX's way to turn dlsym()'s pointer into a function pointer. */
    *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    if (!real)
        return EAI_SYSTEM;
    return real(node, service, hints, res);
}

/* What the last getaddrinfo() call saw. */
struct gai_seen {
    unsigned calls;
    pthread_t thread;
    int flags;
    bool signals_open;
};

static struct gai_seen gai_seen(void)
{
    struct gai_seen s;

    pthread_mutex_lock(&gai_lock);
    s = (struct gai_seen){gai_calls, gai_thread, gai_flags, gai_signals_open};
    pthread_mutex_unlock(&gai_lock);
    return s;
}

static unsigned gai_held_now(void)
{
    unsigned n;

    pthread_mutex_lock(&gai_lock);
    n = gai_held;
    pthread_mutex_unlock(&gai_lock);
    return n;
}

static void gai_hold(bool hold)
{
    pthread_mutex_lock(&gai_lock);
    gai_release = !hold;
    pthread_cond_broadcast(&gai_cond);
    pthread_mutex_unlock(&gai_lock);
}

/* --- helpers ----------------------------------------------------------- */

static void tick(void)
{
    struct timespec ts = {0, TICK_MS * 1000000L};

    nanosleep(&ts, NULL);
}

/* True if fd polls readable within ms. */
static bool readable_within(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    return poll(&pfd, 1, ms) == 1 && (pfd.revents & POLLIN);
}

/* Waits for the lookup to be over (its descriptor readable first), within
 * WAIT_MS; fails the test otherwise. */
static const struct resolve_result *wait_done(struct resolve *r)
{
    const struct resolve_result *res;

    if (!readable_within(resolve_fd(r), WAIT_MS))
        fail_msg("the lookup's descriptor is not readable within %d ms",
                 WAIT_MS);
    res = resolve_done(r);
    assert_non_null(res);
    /* Readable it stays: a later poll must not miss it. */
    assert_true(readable_within(resolve_fd(r), 0));
    return res;
}

/* True once resolve_pending() is n, within WAIT_MS. */
static bool pending_becomes(size_t n)
{
    int64_t end = time_mono_ns() + (int64_t)WAIT_MS * NS_PER_MS;

    while (resolve_pending() != n) {
        if (time_mono_ns() >= end)
            return false;
        tick();
    }
    return true;
}

/* The lookup ran on a helper thread that could take no signal. */
static void assert_helper(const struct gai_seen *s, unsigned calls_before)
{
    assert_int_equal(s->calls, calls_before + 1);
    assert_false(pthread_equal(s->thread, pthread_self()));
    assert_false(s->flags & AI_NUMERICHOST);
    if (s->signals_open)
        fail_msg("the helper thread can take signals");
}

static bool has_addr(const struct resolve_result *res, const char *addr)
{
    for (size_t i = 0; i < res->n; i++)
        if (strcmp(res->addrs[i], addr) == 0)
            return true;
    return false;
}

/* --- numeric addresses ------------------------------------------------- */

static const struct {
    const char *host;
    const char *addr; /* its numeric form, or NULL: not numeric */
} numeric_cases[] = {
    {"192.0.2.7", "192.0.2.7"},
    {"127.0.0.1", "127.0.0.1"},
    {"::1", "::1"},
    {"2001:db8::1", "2001:db8::1"},
    {"2001:DB8:0:0::1", "2001:db8::1"},
    {"fe80::1%lo", "fe80::1%lo"},
    {"localhost", NULL},
    {"broker.example", NULL},
    {"192.0.2.256", NULL},
    {"", NULL},
};

static void test_numeric(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(numeric_cases) / sizeof(numeric_cases[0]);
         i++) {
        const char *host = numeric_cases[i].host, *want = numeric_cases[i].addr;
        struct resolve_result res;
        unsigned calls = gai_seen().calls;
        struct gai_seen s;
        int rc = resolve_numeric(host, &res);

        s = gai_seen();
        /* Parsed here, on this thread, never asking a resolver. */
        assert_int_equal(s.calls, calls + 1);
        assert_true(pthread_equal(s.thread, pthread_self()));
        assert_true(s.flags & AI_NUMERICHOST);
        if (!want) {
            if (rc != -1 || res.rc == 0 || res.n != 0)
                fail_msg("'%s' taken for a numeric address", host);
            assert_string_not_equal(resolve_strerror(&res), "");
            continue;
        }
        if (rc != 0 || res.rc != 0 || res.n != 1)
            fail_msg("'%s': rc %d, %zu addresses (%s)", host, rc, res.n,
                     resolve_strerror(&res));
        assert_string_equal(res.addrs[0], want);
    }
    assert_int_equal(resolve_pending(), 0);
}

/* --- lookups on a helper thread ---------------------------------------- */

static void test_localhost(void **state)
{
    unsigned calls = gai_seen().calls;
    const struct resolve_result *res;
    struct gai_seen s;
    struct resolve *r;
    char why[128] = "";

    (void)state;
    r = resolve_start("localhost", why, sizeof(why));
    assert_non_null(r);
    assert_string_equal(why, "");
    res = wait_done(r);
    s = gai_seen();
    assert_helper(&s, calls);
    if (res->rc != 0)
        fail_msg("localhost: %s", resolve_strerror(res));
    assert_true(res->n >= 1);
    for (size_t i = 0; i < res->n; i++) {
        if (!resolve_is_loopback(res->addrs[i]))
            fail_msg("localhost resolved to '%s'", res->addrs[i]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(res->addrs[i], res->addrs[j]);
    }
    assert_true(has_addr(res, "127.0.0.1") || has_addr(res, "::1"));
    assert_int_equal(resolve_pending(), 1);
    resolve_free(r);
    assert_true(pending_becomes(0));
}

static void test_no_such_name(void **state)
{
    unsigned calls = gai_seen().calls;
    const struct resolve_result *res;
    struct gai_seen s;
    struct resolve *r;
    char why[128] = "";

    (void)state;
    r = resolve_start(NO_SUCH_NAME, why, sizeof(why));
    assert_non_null(r);
    res = wait_done(r);
    s = gai_seen();
    assert_helper(&s, calls);
    if (res->rc == 0)
        fail_msg("'%s' resolved, to %zu addresses", NO_SUCH_NAME, res->n);
    assert_int_equal(res->n, 0);
    assert_string_not_equal(resolve_strerror(res), "");
    resolve_free(r);
    assert_true(pending_becomes(0));
}

/* A lookup that cannot start says why and leaves nothing behind. */
static void test_cannot_start(void **state)
{
    struct rlimit old, none = {0, 0};
    struct resolve *r;
    char why[128] = "";
    int errnum;

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    none.rlim_max = old.rlim_max;
    /* No descriptor can be opened: the eventfd fails. */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &none), 0);
    r = resolve_start("localhost", why, sizeof(why));
    errnum = errno;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    if (r)
        fail_msg("started without a descriptor (errno %d)", errnum);
    if (!strstr(why, "cannot resolve 'localhost': eventfd: "))
        fail_msg("why: '%s'", why);
    assert_int_equal(resolve_pending(), 0);
}

/*
 * Owners letting go of lookups still inside getaddrinfo(): half of them
 * while held, the rest once over. Each must stay intact for its helper
 * (it writes the result after the owner let go: ASan would see a use
 * after free) and be freed when the helper is done (resolve_pending()
 * back to 0; LeakSanitizer at exit).
 */
static void test_abandoned(void **state)
{
    struct resolve *r[HELD_LOOKUPS];
    int64_t end;
    char why[128];

    (void)state;
    gai_hold(true);
    for (size_t i = 0; i < HELD_LOOKUPS; i++) {
        r[i] = resolve_start(HELD_NAME, why, sizeof(why));
        if (!r[i])
            fail_msg("lookup %zu: %s", i, why);
    }
    end = time_mono_ns() + (int64_t)WAIT_MS * NS_PER_MS;
    while (gai_held_now() < HELD_LOOKUPS && time_mono_ns() < end)
        tick();
    assert_int_equal(gai_held_now(), HELD_LOOKUPS);
    for (size_t i = 0; i < HELD_LOOKUPS; i++) {
        assert_null(resolve_done(r[i]));
        assert_false(readable_within(resolve_fd(r[i]), 0));
    }
    assert_int_equal(resolve_pending(), HELD_LOOKUPS);
    for (size_t i = 0; i < HELD_LOOKUPS / 2; i++)
        resolve_free(r[i]);
    /* Never waited for; still alive for their helpers. */
    assert_int_equal(resolve_pending(), HELD_LOOKUPS);

    gai_hold(false);
    for (size_t i = HELD_LOOKUPS / 2; i < HELD_LOOKUPS; i++) {
        const struct resolve_result *res = wait_done(r[i]);

        assert_int_equal(res->rc, EAI_NONAME);
        assert_int_equal(res->n, 0);
    }
    /* The abandoned ones are freed by their helpers, the rest by us. */
    assert_true(pending_becomes(HELD_LOOKUPS - HELD_LOOKUPS / 2));
    for (size_t i = HELD_LOOKUPS / 2; i < HELD_LOOKUPS; i++)
        resolve_free(r[i]);
    /* a helper that posted its result may still be on its way out */
    assert_true(pending_becomes(0));
    resolve_free(NULL);
}

/* --- loopback ---------------------------------------------------------- */

static const struct {
    const char *addr;
    bool loopback;
} loopback_cases[] = {
    {"127.0.0.1", true},
    {"127.255.255.254", true},
    {"127.1.2.3", true},
    {"::1", true},
    {"::ffff:127.0.0.1", true},
    {"128.0.0.1", false},
    {"126.255.255.255", false},
    {"10.0.0.1", false},
    {"0.0.0.0", false},
    {"::", false},
    {"::2", false},
    {"fe80::1", false},
    {"::ffff:10.0.0.1", false},
    {"localhost", false}, /* a name: decided by its address, not here */
    {"127.0.0.1.example", false},
    {"", false},
};

static void test_loopback(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(loopback_cases) / sizeof(loopback_cases[0]);
         i++) {
        if (resolve_is_loopback(loopback_cases[i].addr) !=
            loopback_cases[i].loopback)
            fail_msg("'%s': want %s", loopback_cases[i].addr,
                     loopback_cases[i].loopback ? "loopback" : "not loopback");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_localhost),
        cmocka_unit_test(test_no_such_name),
        cmocka_unit_test(test_cannot_start),
        cmocka_unit_test(test_abandoned),
        cmocka_unit_test(test_loopback),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
