// SPDX-License-Identifier: MIT
/*
 * The publisher against mosquitto brokers the test starts itself on free
 * ports of 127.0.0.1 (the payloads alone are test_payload.c's): status and run
 * topics, readings and their acknowledgement, a broker restart while readings
 * keep coming (every seq must reach a persistent subscriber), authentication,
 * and what happens to messages in flight when the connection drops. For the
 * last, a proxy in the test's own poll loop sits between publisher and broker
 * and can hold either direction or cut the connection, so that messages are in
 * flight at a known stage of the QoS 1 or QoS 2 exchange.
 *
 * Everything runs in this thread, driven by one poll loop; every wait is a
 * condition polled against a deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/publish.h"

#define MOSQUITTO_BIN "/usr/sbin/mosquitto"
#define MOSQUITTO_PASSWD_BIN "/usr/bin/mosquitto_passwd"
#define OPENSSL_BIN "/usr/bin/openssl"
/* Longest wait for a broker to accept connections, or to exit. */
#define BROKER_START_MS 5000
#define BROKER_STOP_MS 5000
/* Longest wait for anything the publisher or the subscriber should do. */
#define WAIT_MS 8000
/* Longest single poll(2) of the test loop. */
#define POLL_MS 20
/* How often the subscriber tries to reconnect while its broker is away. */
#define SUB_RETRY_MS 50
/* Longest path the tests build. */
#define TEST_PATH_MAX 512
/* Readings in the stream tests. */
#define STREAM_READINGS 3000
/* Readings in flight in the resend experiments: fewer than the publisher
 * lets out at once with QoS 2, so that all of them are on the wire. */
#define INFLIGHT_READINGS 12
/* Bytes of one PUBACK, PUBREC, PUBREL or PUBCOMP in MQTT 3.1.1. */
#define ACK_PACKET_LEN 4
/* One publisher_service() call may take at most this long (never block). */
#define SERVICE_MAX_MS 200
/* How long a publisher with a wrong password keeps trying in the test. */
#define AUTH_TRY_MS 2000
/* Messages the subscriber keeps at most. */
#define SUB_MAX 20000

#define SITE "daegu-demo-1"
#define PREFIX "tbdaq"
#define VERSION "1.2.3-test"
#define STARTED_US INT64_C(1795568523456789)
#define STARTED_ISO "2026-11-25T01:02:03.456789Z"

static char test_dir[64];
/* Brokers running, by PID, so that a failed test leaves none behind. */
#define BROKERS_MAX 8
static pid_t brokers[BROKERS_MAX];

/* --- config ------------------------------------------------------------ */

static char conf_site[] = SITE;
static char conf_host[] = "127.0.0.1";
static char conf_localhost[] = "localhost";
static char conf_prefix[] = PREFIX;
static char conf_user[] = "tbdaq";
static char conf_client[64];
static char conf_passfile[TEST_PATH_MAX];

static void config_make(struct config *c, int port, int qos, bool retain)
{
    static unsigned clients;

    memset(c, 0, sizeof(*c));
    c->site = conf_site;
    c->mqtt.enabled = true;
    c->mqtt.host = conf_host;
    c->mqtt.port = port;
    /* A client id per publisher: a session must not leak between tests. */
    snprintf(conf_client, sizeof(conf_client), "tbdaq-test-%d-%u",
             (int)getpid(), ++clients);
    c->mqtt.client_id = conf_client;
    c->mqtt.topic_prefix = conf_prefix;
    c->mqtt.qos = qos;
    c->mqtt.retain = retain;
    c->mqtt.keepalive_s = 5;
}

/* --- processes and files ----------------------------------------------- */

static void path_of(char *buf, const char *name)
{
    snprintf(buf, TEST_PATH_MAX, "%s/%s", test_dir, name);
}

static int64_t now_ms(void)
{
    return time_mono_ns() / NS_PER_MS;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int tcp_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void run_cmd(const char *const argv[])
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 1);
        dup2(null, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

struct broker {
    pid_t pid;
    int port;
    bool persistence;
    bool auth;
    bool tls;         /* certificates made by make_certs() */
    const char *cert; /* the server certificate's name: "server" if NULL */
    char conf[TEST_PATH_MAX];
};

static void broker_start(struct broker *b)
{
    char dir[TEST_PATH_MAX];
    char log[TEST_PATH_MAX];
    FILE *f;
    int64_t deadline = now_ms() + BROKER_START_MS;

    path_of(b->conf, "mosquitto.conf");
    snprintf(log, sizeof(log), "%s/mosquitto-%d.log", test_dir, b->port);
    path_of(dir, "");
    f = fopen(b->conf, "w");
    assert_non_null(f);
    fprintf(f, "listener %d 127.0.0.1\n", b->port);
    /* As root, mosquitto would switch to a user that cannot reach the
     * temporary directory. */
    if (geteuid() == 0)
        fprintf(f, "user root\n");
    if (b->auth)
        fprintf(f, "allow_anonymous false\npassword_file %s\n", conf_passfile);
    else
        fprintf(f, "allow_anonymous true\n");
    if (b->tls)
        fprintf(f,
                "cafile %s/ca.crt\ncertfile %s/%s.crt\n"
                "keyfile %s/server.key\n",
                test_dir, test_dir, b->cert ? b->cert : "server", test_dir);
    if (b->persistence)
        fprintf(f, "persistence true\npersistence_location %s\n", dir);
    /* A persistent subscriber away while the broker restarts must not miss
     * anything; the default (1000) would drop. Not 0: in 2.0.11 that limits
     * a client's QoS 2 messages awaiting PUBREL to max_inflight_messages. */
    fprintf(f, "max_queued_messages 100000\nlog_type all\n");
    fclose(f);

    b->pid = fork();
    assert_true(b->pid >= 0);
    if (b->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        dup2(fd, 1);
        dup2(fd, 2);
        execl(MOSQUITTO_BIN, "mosquitto", "-c", b->conf, (char *)NULL);
        _exit(127);
    }
    for (size_t i = 0; i < BROKERS_MAX; i++) {
        if (brokers[i] == 0) {
            brokers[i] = b->pid;
            break;
        }
    }
    for (;;) {
        int fd = tcp_connect(b->port);
        int status;

        if (fd >= 0) {
            close(fd);
            return;
        }
        if (waitpid(b->pid, &status, WNOHANG) == b->pid)
            fail_msg("mosquitto exited at start, see %s", log);
        if (now_ms() > deadline)
            fail_msg("mosquitto does not listen on %d", b->port);
        poll(NULL, 0, 10);
    }
}

static void broker_stop(struct broker *b)
{
    int64_t deadline = now_ms() + BROKER_STOP_MS;
    int status;

    if (b->pid <= 0)
        return;
    for (size_t i = 0; i < BROKERS_MAX; i++)
        if (brokers[i] == b->pid)
            brokers[i] = 0;
    kill(b->pid, SIGTERM);
    while (waitpid(b->pid, &status, WNOHANG) != b->pid) {
        if (now_ms() > deadline) {
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &status, 0);
            break;
        }
        poll(NULL, 0, 5);
    }
    b->pid = 0;
}

/* --- the subscriber ---------------------------------------------------- */

struct msg {
    char *topic;
    char *payload;
    bool retain;
};

struct sub {
    struct mosquitto *mosq;
    int port;
    bool subscribed;
    int64_t next_try;
    struct msg *v;
    size_t n;
    unsigned char *seen; /* by seq */
    size_t seen_count;
};

static void sub_on_connect(struct mosquitto *mosq, void *arg, int rc)
{
    (void)arg;
    /* The session may be gone (a broker restarted without persistence):
     * subscribe every time. */
    if (rc == 0)
        mosquitto_subscribe(mosq, NULL, PREFIX "/" SITE "/#", 1);
}

static void sub_on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n,
                             const int *granted)
{
    struct sub *s = arg;

    (void)mosq;
    (void)mid;
    (void)n;
    (void)granted;
    s->subscribed = true;
}

static int64_t payload_seq(const char *payload)
{
    const char *p = strstr(payload, "\"seq\":");

    return p ? strtoll(p + strlen("\"seq\":"), NULL, 10) : -1;
}

static void sub_on_message(struct mosquitto *mosq, void *arg,
                           const struct mosquitto_message *m)
{
    struct sub *s = arg;
    struct msg *x;
    int64_t seq;

    (void)mosq;
    assert_true(s->n < SUB_MAX);
    x = &s->v[s->n++];
    x->topic = xstrdup(m->topic);
    x->payload = xmalloc((size_t)m->payloadlen + 1);
    memcpy(x->payload, m->payload, (size_t)m->payloadlen);
    x->payload[m->payloadlen] = '\0';
    x->retain = m->retain;
    seq = payload_seq(x->payload);
    if (seq > 0 && seq < SUB_MAX && !s->seen[seq]) {
        s->seen[seq] = 1;
        s->seen_count++;
    }
}

static void sub_clear(struct sub *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].topic);
        free(s->v[i].payload);
    }
    s->n = 0;
    memset(s->seen, 0, SUB_MAX);
    s->seen_count = 0;
}

/* A subscriber on port; persistent: clean session off, a fixed id. */
static struct sub *sub_new(int port, const char *id)
{
    struct sub *s = xcalloc(1, sizeof(*s));

    s->port = port;
    s->v = xcalloc(SUB_MAX, sizeof(*s->v));
    s->seen = xcalloc(SUB_MAX, 1);
    s->mosq = mosquitto_new(id, false, s);
    assert_non_null(s->mosq);
    mosquitto_connect_callback_set(s->mosq, sub_on_connect);
    mosquitto_subscribe_callback_set(s->mosq, sub_on_subscribe);
    mosquitto_message_callback_set(s->mosq, sub_on_message);
    assert_int_equal(mosquitto_connect(s->mosq, "127.0.0.1", port, 5),
                     MOSQ_ERR_SUCCESS);
    return s;
}

static void sub_free(struct sub *s)
{
    sub_clear(s);
    mosquitto_disconnect(s->mosq);
    mosquitto_destroy(s->mosq);
    free(s->v);
    free(s->seen);
    free(s);
}

static const struct msg *sub_find(const struct sub *s, const char *topic,
                                  const char *payload)
{
    for (size_t i = s->n; i-- > 0;) {
        if (strcmp(s->v[i].topic, topic) == 0 &&
            (!payload || strcmp(s->v[i].payload, payload) == 0))
            return &s->v[i];
    }
    return NULL;
}

/* --- the proxy --------------------------------------------------------- */

struct bytes {
    char *v;
    size_t n, cap;
};

static void bytes_add(struct bytes *b, const char *s, size_t n)
{
    xgrow(&b->v, &b->cap, b->n + n, 1);
    memcpy(b->v + b->n, s, n);
    b->n += n;
}

/*
 * One connection at a time from the publisher (cfd) to the broker (bfd).
 * up is what the publisher sent and the broker has not been given yet,
 * down the other way; a held direction is buffered, not forwarded.
 */
struct proxy {
    int lfd, port, broker_port;
    int cfd, bfd;
    bool accepting, hold_up, hold_down;
    struct bytes up, down;
    size_t down_total; /* bytes from the broker on this connection */
};

static void proxy_cut(struct proxy *x)
{
    if (x->cfd >= 0)
        close(x->cfd);
    if (x->bfd >= 0)
        close(x->bfd);
    x->cfd = x->bfd = -1;
    x->up.n = x->down.n = 0;
    x->down_total = 0;
}

static void proxy_init(struct proxy *x, int broker_port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);

    memset(x, 0, sizeof(*x));
    x->cfd = x->bfd = -1;
    x->broker_port = broker_port;
    x->accepting = true;
    x->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(x->lfd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(x->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(x->lfd, (struct sockaddr *)&a, &alen), 0);
    x->port = ntohs(a.sin_port);
    assert_int_equal(listen(x->lfd, 4), 0);
}

static void proxy_release(struct proxy *x)
{
    proxy_cut(x);
    close(x->lfd);
    free(x->up.v);
    free(x->down.v);
}

static void proxy_accept(struct proxy *x)
{
    int fd = accept(x->lfd, NULL, NULL);

    if (fd < 0)
        return;
    if (x->cfd >= 0 || !x->accepting) {
        close(fd);
        return;
    }
    x->bfd = tcp_connect(x->broker_port);
    if (x->bfd < 0) {
        close(fd);
        return;
    }
    x->cfd = fd;
    fcntl(x->cfd, F_SETFL, O_NONBLOCK);
    fcntl(x->bfd, F_SETFL, O_NONBLOCK);
}

/* Reads what from has into b; false when the connection ended. */
static bool proxy_read(int from, struct bytes *b, size_t *total)
{
    char tmp[4096];
    ssize_t n = read(from, tmp, sizeof(tmp));

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return false;
    if (n > 0) {
        bytes_add(b, tmp, (size_t)n);
        if (total)
            *total += (size_t)n;
    }
    return true;
}

static bool proxy_write(int to, struct bytes *b)
{
    ssize_t n = write(to, b->v, b->n);

    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    memmove(b->v, b->v + n, b->n - (size_t)n);
    b->n -= (size_t)n;
    return true;
}

/* --- the loop ---------------------------------------------------------- */

/* The main loop's part: readings 1..committed are in the "database";
 * cursor is the last one handed over. */
struct feeder {
    int64_t committed;
    int64_t cursor;
    bool paused; /* hand nothing over */
};

struct world {
    struct publisher *pub;
    struct sub *sub;
    struct proxy *proxy;
    struct feeder *feed;
    int64_t service_max_ms; /* longest publisher_service() seen */
};

static struct reading_row reading_make(int64_t seq)
{
    struct reading_row r = {
        .seq = seq,
        .ts_us = STARTED_US + seq * 1000,
        .sensor = "FT-101",
        .kind = "flow",
        .unit = "m3/h",
        .has_value = true,
        .value = (double)seq / 8,
        .quality = "good",
    };
    return r;
}

static void feeder_run(struct world *w)
{
    struct feeder *f = w->feed;

    if (f->paused)
        return;
    if (publisher_take_rewind(w->pub))
        f->cursor = publisher_acked(w->pub);
    while (f->cursor < f->committed && publisher_room(w->pub) > 0) {
        struct reading_row r = reading_make(f->cursor + 1);

        if (publisher_send(w->pub, &r) < 0)
            break;
        f->cursor++;
    }
}

static void sub_service(struct sub *s, short revents)
{
    int64_t now = now_ms();

    if (mosquitto_socket(s->mosq) < 0) {
        if (now >= s->next_try) {
            s->next_try = now + SUB_RETRY_MS;
            s->subscribed = false;
            mosquitto_reconnect(s->mosq);
        }
        return;
    }
    if (revents & (POLLIN | POLLERR | POLLHUP))
        mosquitto_loop_read(s->mosq, 1);
    if (mosquitto_socket(s->mosq) >= 0 && mosquitto_want_write(s->mosq))
        mosquitto_loop_write(s->mosq, 1);
    if (mosquitto_socket(s->mosq) >= 0)
        mosquitto_loop_misc(s->mosq);
}

static void proxy_service(struct proxy *x, const struct pollfd *fds)
{
    if (fds[0].revents & POLLIN)
        proxy_accept(x);
    if (x->cfd < 0 || fds[1].fd != x->cfd)
        return;
    if ((fds[1].revents & (POLLIN | POLLERR | POLLHUP)) &&
        !proxy_read(x->cfd, &x->up, NULL))
        goto cut;
    if ((fds[2].revents & (POLLIN | POLLERR | POLLHUP)) &&
        !proxy_read(x->bfd, &x->down, &x->down_total))
        goto cut;
    if (!x->hold_up && x->up.n > 0 && !proxy_write(x->bfd, &x->up))
        goto cut;
    if (!x->hold_down && x->down.n > 0 && !proxy_write(x->cfd, &x->down))
        goto cut;
    return;
cut:
    proxy_cut(x);
}

/* Runs everything until done(w) or ms pass; returns done(w). */
static bool pump(struct world *w, bool (*done)(struct world *), int ms)
{
    int64_t deadline = now_ms() + ms;

    for (;;) {
        struct pollfd fds[5];
        int pt;
        int64_t t0;

        if (w->feed && w->pub)
            feeder_run(w);
        if (done && done(w))
            return true;
        if (now_ms() >= deadline)
            return done ? done(w) : true;
        for (size_t i = 0; i < 5; i++)
            fds[i] = (struct pollfd){.fd = -1};
        pt = POLL_MS;
        if (w->pub) {
            fds[0].fd = publisher_fd(w->pub);
            fds[0].events =
                POLLIN | (publisher_wants_write(w->pub) ? POLLOUT : 0);
            if (publisher_timeout_ms(w->pub) < pt)
                pt = publisher_timeout_ms(w->pub);
        }
        if (w->sub) {
            fds[1].fd = mosquitto_socket(w->sub->mosq);
            fds[1].events =
                POLLIN | (mosquitto_want_write(w->sub->mosq) ? POLLOUT : 0);
        }
        if (w->proxy) {
            struct proxy *x = w->proxy;

            fds[2].fd = x->lfd;
            fds[2].events = POLLIN;
            fds[3].fd = x->cfd;
            fds[3].events = POLLIN | (!x->hold_down && x->down.n ? POLLOUT : 0);
            fds[4].fd = x->bfd;
            fds[4].events = POLLIN | (!x->hold_up && x->up.n ? POLLOUT : 0);
        }
        assert_true(poll(fds, 5, pt) >= 0);
        if (w->pub) {
            t0 = now_ms();
            publisher_service(w->pub,
                              fds[0].revents & (POLLIN | POLLERR | POLLHUP),
                              fds[0].revents & POLLOUT);
            if (now_ms() - t0 > w->service_max_ms)
                w->service_max_ms = now_ms() - t0;
        }
        if (w->sub)
            sub_service(w->sub, fds[1].revents);
        if (w->proxy)
            proxy_service(w->proxy, &fds[2]);
    }
}

static bool is_connected(struct world *w)
{
    return publisher_connected(w->pub);
}

static bool is_disconnected(struct world *w)
{
    return !publisher_connected(w->pub);
}

static bool is_subscribed(struct world *w)
{
    return w->sub->subscribed;
}

static bool all_delivered(struct world *w)
{
    return publisher_acked(w->pub) == w->feed->committed &&
           w->sub->seen_count == (size_t)w->feed->committed;
}

static bool all_acked(struct world *w)
{
    return publisher_acked(w->pub) == w->feed->committed;
}

static bool all_seen(struct world *w)
{
    return w->sub->seen_count == (size_t)w->feed->committed;
}

static bool seen_250(struct world *w)
{
    return w->sub->seen_count == 250;
}

/* status, run and the reading: what a late subscriber gets, retained. */
static bool sub_has_retained(struct world *w)
{
    return w->sub->n >= 3;
}

static bool sub_has_run(struct world *w)
{
    return sub_find(w->sub, PREFIX "/" SITE "/run", NULL) != NULL;
}

static const char run_payload[] = "{\"name\":\"R-001\",\"started\":\"x\"}";

static bool sub_has_run_r001(struct world *w)
{
    return sub_find(w->sub, PREFIX "/" SITE "/run", run_payload) != NULL;
}

/* --- against a broker -------------------------------------------------- */

static const char online_want[] = "{\"state\":\"online\",\"version\":\"" VERSION
                                  "\",\"since\":\"" STARTED_ISO "\"}";

static void test_broker_basic(void **state)
{
    struct broker b = {.port = free_port()};
    struct config c;
    struct feeder feed = {0};
    struct world w = {0};
    struct sub *late;
    const struct msg *m;

    (void)state;
    broker_start(&b);
    w.sub = sub_new(b.port, "test-sub-basic");
    assert_true(pump(&w, is_subscribed, WAIT_MS));

    config_make(&c, b.port, 1, true);
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    assert_int_equal(publisher_room(w.pub), 0);
    assert_int_equal(publisher_send(w.pub, &(struct reading_row){0}), -1);
    publisher_set_acked(w.pub, 100);
    assert_int_equal(publisher_acked(w.pub), 100);
    assert_true(pump(&w, is_connected, WAIT_MS));
    assert_int_equal(publisher_room(w.pub), PUBLISH_WINDOW);

    /* Readings 101..350 follow the acknowledged 100. */
    feed.committed = 350;
    feed.cursor = 100;
    w.feed = &feed;
    assert_true(pump(&w, all_acked, WAIT_MS));
    assert_int_equal(publisher_acked(w.pub), 350);
    assert_int_equal(publisher_room(w.pub), PUBLISH_WINDOW);
    feed.paused = true;
    assert_true(pump(&w, seen_250, WAIT_MS));
    for (int64_t seq = 101; seq <= 350; seq++) {
        struct reading_row r = reading_make(seq);
        char want[PAYLOAD_MAX];

        assert_true(payload_reading(want, sizeof(want), SITE, &r) > 0);
        if (!sub_find(w.sub, PREFIX "/" SITE "/flow/FT-101", want))
            fail_msg("seq %" PRId64 " missing or different", seq);
    }
    m = sub_find(w.sub, PREFIX "/" SITE "/status", online_want);
    assert_non_null(m);
    m = sub_find(w.sub, PREFIX "/" SITE "/run", "{\"state\":\"idle\"}");
    assert_non_null(m);

    /* Run topic: given now, and kept for reconnects. */
    publisher_set_run(w.pub, run_payload);
    assert_true(pump(&w, sub_has_run_r001, WAIT_MS));

    /* What a subscriber arriving now sees, retained. */
    late = sub_new(b.port, "test-sub-late");
    {
        struct world lw = {.sub = late};

        assert_true(pump(&lw, sub_has_retained, WAIT_MS));
        m = sub_find(late, PREFIX "/" SITE "/status", online_want);
        assert_non_null(m);
        assert_true(m->retain);
        m = sub_find(late, PREFIX "/" SITE "/flow/FT-101", NULL);
        assert_non_null(m);
        assert_true(m->retain); /* mqtt.retain = true */
        assert_int_equal(payload_seq(m->payload), 350);
    }
    sub_free(late);

    publisher_close(w.pub, 2000);
    w.pub = NULL;
    late = sub_new(b.port, "test-sub-late2");
    {
        struct world lw = {.sub = late};

        assert_true(pump(&lw, sub_has_retained, WAIT_MS));
        m = sub_find(late, PREFIX "/" SITE "/status", NULL);
        assert_non_null(m);
        assert_string_equal(m->payload, "{\"state\":\"offline\"}");
        assert_true(m->retain);
    }
    sub_free(late);
    sub_free(w.sub);
    broker_stop(&b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Readings keep being committed while the broker goes away and comes
 * back (persistence on, so the subscriber's session survives): every seq
 * reaches the subscriber. */
static void test_broker_restart(void **state)
{
    struct broker b = {.port = free_port(), .persistence = true};
    struct config c;
    struct feeder feed = {0};
    struct world w = {0};

    (void)state;
    broker_start(&b);
    w.sub = sub_new(b.port, "test-sub-restart");
    assert_true(pump(&w, is_subscribed, WAIT_MS));
    config_make(&c, b.port, 1, false);
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    assert_true(pump(&w, is_connected, WAIT_MS));
    w.feed = &feed;

    for (int i = 0; i < 10; i++) {
        feed.committed += STREAM_READINGS / 30;
        pump(&w, NULL, POLL_MS);
    }
    broker_stop(&b);
    assert_true(pump(&w, is_disconnected, WAIT_MS));
    for (int i = 0; i < 10; i++) {
        feed.committed += STREAM_READINGS / 30;
        pump(&w, NULL, POLL_MS);
        assert_int_equal(publisher_room(w.pub), 0);
    }
    assert_true(publisher_acked(w.pub) < feed.committed);
    broker_start(&b);
    for (int i = 0; i < 10; i++) {
        feed.committed += STREAM_READINGS / 30;
        pump(&w, NULL, POLL_MS);
    }
    assert_int_equal(feed.committed, STREAM_READINGS);
    if (!pump(&w, all_delivered, 2 * WAIT_MS))
        fail_msg("acked %" PRId64 ", %zu of %" PRId64 " seen",
                 publisher_acked(w.pub), w.sub->seen_count, feed.committed);
    for (int64_t seq = 1; seq <= feed.committed; seq++)
        if (!w.sub->seen[seq])
            fail_msg("seq %" PRId64 " never arrived", seq);
    assert_true(w.service_max_ms < SERVICE_MAX_MS);
    publisher_close(w.pub, 1000);
    sub_free(w.sub);
    broker_stop(&b);
}

#define WITNESS_HEAD(c)                                                        \
    c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
        c c c c c c c c c c c c c c c c c c c c c c c c c c c

static char witness_want[PAYLOAD_MAX];

static bool sub_has_witness(struct world *w)
{
    return sub_find(w->sub, PREFIX "/" SITE "/chain", witness_want) != NULL;
}

/* The chain witness: retained on <prefix>/<site>/chain; while the broker
 * is away only the newest is kept, and published when it is back (a
 * broker without persistence, which lost the retained one); the witness
 * given just before publisher_close() is flushed with the offline status. */
static void test_witness(void **state)
{
    struct broker b = {.port = free_port()};
    struct config c;
    struct world w = {0};
    struct sub *late;
    const struct msg *m;
    char older[PAYLOAD_MAX];

    (void)state;
    broker_start(&b);
    w.sub = sub_new(b.port, "test-sub-witness");
    assert_true(pump(&w, is_subscribed, WAIT_MS));
    config_make(&c, b.port, 1, false);
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    assert_true(pump(&w, is_connected, WAIT_MS));

    publisher_witness(w.pub, 10, WITNESS_HEAD("a"), STARTED_US);
    payload_witness(witness_want, sizeof(witness_want), 10, WITNESS_HEAD("a"),
                    STARTED_US);
    assert_true(pump(&w, sub_has_witness, WAIT_MS));
    assert_true(sub_find(w.sub, PREFIX "/" SITE "/chain", NULL)->retain ==
                false); /* live delivery to a subscriber already there */

    broker_stop(&b);
    assert_true(pump(&w, is_disconnected, WAIT_MS));
    publisher_witness(w.pub, 20, WITNESS_HEAD("b"), STARTED_US + 1);
    publisher_witness(w.pub, 30, WITNESS_HEAD("c"), STARTED_US + 2);
    payload_witness(older, sizeof(older), 20, WITNESS_HEAD("b"),
                    STARTED_US + 1);
    payload_witness(witness_want, sizeof(witness_want), 30, WITNESS_HEAD("c"),
                    STARTED_US + 2);
    broker_start(&b);
    assert_true(pump(&w, is_connected, 2 * WAIT_MS));
    assert_true(pump(&w, sub_has_witness, WAIT_MS));
    assert_null(sub_find(w.sub, PREFIX "/" SITE "/chain", older));

    /* The witness at stop: given, then freed at once. */
    publisher_witness(w.pub, 40, WITNESS_HEAD("d"), STARTED_US + 3);
    payload_witness(witness_want, sizeof(witness_want), 40, WITNESS_HEAD("d"),
                    STARTED_US + 3);
    publisher_close(w.pub, 2000);
    w.pub = NULL;
    late = sub_new(b.port, "test-sub-witness-late");
    {
        struct world lw = {.sub = late};

        assert_true(pump(&lw, sub_has_witness, WAIT_MS));
        m = sub_find(late, PREFIX "/" SITE "/chain", witness_want);
        assert_true(m->retain);
    }
    sub_free(late);
    sub_free(w.sub);
    broker_stop(&b);
}

/* A burst of QoS 2 readings, a whole window at once: every one arrives
 * (mosquitto drops QoS 2 messages beyond its max_inflight_messages while
 * telling an MQTT 3.1.1 client nothing). */
static void test_qos2_burst(void **state)
{
    struct broker b = {.port = free_port()};
    struct config c;
    struct feeder feed = {0};
    struct world w = {0};

    (void)state;
    broker_start(&b);
    w.sub = sub_new(b.port, "test-sub-burst");
    assert_true(pump(&w, is_subscribed, WAIT_MS));
    config_make(&c, b.port, 2, false);
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    assert_true(pump(&w, is_connected, WAIT_MS));
    feed.committed = PUBLISH_WINDOW;
    w.feed = &feed;
    if (!pump(&w, all_delivered, WAIT_MS))
        fail_msg("acked %" PRId64 ", %zu of %" PRId64 " seen",
                 publisher_acked(w.pub), w.sub->seen_count, feed.committed);
    assert_false(publisher_take_rewind(w.pub));
    publisher_close(w.pub, 1000);
    sub_free(w.sub);
    broker_stop(&b);
}

/* Counts the lines of path holding needle. */
static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

static int stderr_saved = -1;

/* Sends stderr (the log) to path until stderr_back(). */
static void stderr_to(const char *path)
{
    int fd;

    fflush(stderr);
    stderr_saved = dup(2);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(stderr_saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
}

static void stderr_back(void)
{
    fflush(stderr);
    dup2(stderr_saved, 2);
    close(stderr_saved);
    stderr_saved = -1;
}

/* The broker's password file: user tbdaq with password. */
static void broker_password(const char *password)
{
    const char *argv[] = {MOSQUITTO_PASSWD_BIN,
                          "-b",
                          "-c",
                          conf_passfile,
                          "tbdaq",
                          password,
                          NULL};

    run_cmd(argv);
}

static void test_auth(void **state)
{
    struct broker b = {.port = free_port(), .auth = true};
    char good[TEST_PATH_MAX], bad[TEST_PATH_MAX], later[TEST_PATH_MAX];
    char log[TEST_PATH_MAX];
    struct config c;
    struct world w = {0};

    (void)state;
    path_of(conf_passfile, "passwd");
    path_of(good, "good.pass");
    path_of(bad, "bad.pass");
    path_of(later, "later.pass");
    path_of(log, "auth.log");
    broker_password("s3cret");
    write_file(good, "s3cret\n");
    write_file(bad, "wrong\n");
    broker_start(&b);

    config_make(&c, b.port, 1, false);
    c.mqtt.username = conf_user;
    c.mqtt.password_file = good;
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    assert_true(pump(&w, is_connected, WAIT_MS));
    publisher_close(w.pub, 1000);

    /* Unreadable for now: no attempt without it, said once, and it is
     * read again at each attempt until it can be. */
    c.mqtt.password_file = later;
    stderr_to(log);
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    assert_false(pump(&w, is_connected, AUTH_TRY_MS));
    stderr_back();
    assert_int_equal(count_lines(log, "cannot read password_file"), 1);
    assert_int_equal(count_lines(log, "not authorised"), 0);
    write_file(later, "s3cret\n");
    assert_true(pump(&w, is_connected, WAIT_MS));

    /* A new password at the broker and in the file: the reconnection
     * after the broker's restart reads and uses the new one. */
    broker_stop(&b);
    assert_true(pump(&w, is_disconnected, WAIT_MS));
    broker_password("n3w-s3cret");
    write_file(later, "n3w-s3cret\n");
    broker_start(&b);
    assert_true(pump(&w, is_connected, WAIT_MS));
    publisher_close(w.pub, 1000);

    /* Wrong: keeps trying, never connects, says why once. */
    c.mqtt.password_file = bad;
    stderr_to(log);
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    w.service_max_ms = 0;
    assert_false(pump(&w, is_connected, AUTH_TRY_MS));
    assert_int_equal(publisher_room(w.pub), 0);
    publisher_close(w.pub, 1000);
    stderr_back();
    assert_true(w.service_max_ms < SERVICE_MAX_MS);
    assert_int_equal(count_lines(log, "not authorised"), 1);
    assert_int_equal(count_lines(log, "cannot connect to broker"), 1);
    assert_int_equal(count_lines(log, "connected to broker"), 0);
    /* Loopback: the password stays on this host, no warning. */
    assert_int_equal(count_lines(log, "clear text"), 0);
    broker_stop(&b);
}

/* A command run in the test directory. */
static void run_in_dir(const char *const argv[])
{
    char cwd[TEST_PATH_MAX];

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(test_dir), 0);
    run_cmd(argv);
    assert_int_equal(chdir(cwd), 0);
}

/* A CA, a server certificate for 127.0.0.1 signed by it, and a second CA
 * that signed nothing. */
static void make_certs(void)
{
    const char *ca[] = {OPENSSL_BIN,
                        "req",
                        "-x509",
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:prime256v1",
                        "-nodes",
                        "-keyout",
                        "ca.key",
                        "-out",
                        "ca.crt",
                        "-subj",
                        "/CN=tbdaq test ca",
                        NULL};
    const char *other[] = {OPENSSL_BIN,
                           "req",
                           "-x509",
                           "-newkey",
                           "ec",
                           "-pkeyopt",
                           "ec_paramgen_curve:prime256v1",
                           "-nodes",
                           "-keyout",
                           "other.key",
                           "-out",
                           "other.crt",
                           "-subj",
                           "/CN=another ca",
                           NULL};
    const char *csr[] = {OPENSSL_BIN,     "req",
                         "-newkey",       "ec",
                         "-pkeyopt",      "ec_paramgen_curve:prime256v1",
                         "-nodes",        "-keyout",
                         "server.key",    "-out",
                         "server.csr",    "-subj",
                         "/CN=127.0.0.1", NULL};
    const char *sign[] = {
        OPENSSL_BIN, "x509",       "-req",     "-in",     "server.csr",
        "-CA",       "ca.crt",     "-CAkey",   "ca.key",  "-CAcreateserial",
        "-out",      "server.crt", "-extfile", "san.ext", NULL};
    /* The same key certified for the name localhost only. */
    const char *name_csr[] = {OPENSSL_BIN,     "req",  "-new",     "-key",
                              "server.key",    "-out", "name.csr", "-subj",
                              "/CN=localhost", NULL};
    const char *name_sign[] = {
        OPENSSL_BIN, "x509",     "-req",     "-in",      "name.csr",
        "-CA",       "ca.crt",   "-CAkey",   "ca.key",   "-CAcreateserial",
        "-out",      "name.crt", "-extfile", "name.ext", NULL};
    char ext[TEST_PATH_MAX];

    path_of(ext, "san.ext");
    write_file(ext, "subjectAltName=IP:127.0.0.1\n");
    path_of(ext, "name.ext");
    write_file(ext, "subjectAltName=DNS:localhost\n");
    run_in_dir(ca);
    run_in_dir(other);
    run_in_dir(csr);
    run_in_dir(sign);
    run_in_dir(name_csr);
    run_in_dir(name_sign);
}

/* TLS through the poll loop: the right CA connects and publishes; a CA
 * that did not sign the broker never connects, says why once, and does
 * not block; an unreadable ca_file is refused at once. */
static void test_tls(void **state)
{
    struct broker b = {.port = free_port(), .tls = true};
    char ca[TEST_PATH_MAX], other[TEST_PATH_MAX], log[TEST_PATH_MAX];
    struct config c;
    struct feeder feed = {0};
    struct world w = {0};
    int saved, fd;

    (void)state;
    make_certs();
    path_of(ca, "ca.crt");
    path_of(other, "other.crt");
    path_of(log, "tls.log");
    broker_start(&b);
    w.sub = NULL;

    config_make(&c, b.port, 1, false);
    c.mqtt.ca_file = ca;
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    assert_true(pump(&w, is_connected, WAIT_MS));
    feed.committed = 10;
    w.feed = &feed;
    assert_true(pump(&w, all_acked, WAIT_MS));
    w.feed = NULL;
    publisher_close(w.pub, 1000);

    c.mqtt.ca_file = conf_user;
    assert_null(publisher_new(&c, VERSION, STARTED_US));

    c.mqtt.ca_file = other;
    fflush(stderr);
    saved = dup(2);
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    w.service_max_ms = 0;
    assert_false(pump(&w, is_connected, AUTH_TRY_MS));
    publisher_close(w.pub, 1000);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_true(w.service_max_ms < SERVICE_MAX_MS);
    assert_int_equal(count_lines(log, "cannot connect to broker"), 1);
    assert_int_equal(count_lines(log, "connected to broker"), 0);

    /*
     * The certificate is checked for the configured host, not for the
     * address the publisher resolved it to and connected to: a broker
     * certified for 127.0.0.1 only is refused as "localhost", and one
     * certified for localhost only is accepted as "localhost" and refused
     * as 127.0.0.1.
     */
    c.mqtt.ca_file = ca;
    c.mqtt.host = conf_localhost;
    stderr_to(log);
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    assert_false(pump(&w, is_connected, AUTH_TRY_MS));
    publisher_close(w.pub, 1000);
    stderr_back();
    assert_int_equal(count_lines(log, "hostname mismatch"), 1);
    broker_stop(&b);

    b.cert = "name";
    broker_start(&b);
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    assert_true(pump(&w, is_connected, WAIT_MS));
    feed = (struct feeder){.committed = 10};
    w.feed = &feed;
    publisher_set_acked(w.pub, 0);
    assert_true(pump(&w, all_acked, WAIT_MS));
    w.feed = NULL;
    publisher_close(w.pub, 1000);

    c.mqtt.host = conf_host;
    stderr_to(log);
    w.pub = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(w.pub);
    assert_false(pump(&w, is_connected, AUTH_TRY_MS));
    publisher_close(w.pub, 1000);
    stderr_back();
    assert_int_equal(count_lines(log, "IP address mismatch"), 1);
    broker_stop(&b);
}

/* Bytes of the PUBLISH packet of reading seq. */
static size_t publish_packet_len(int64_t seq, int qos)
{
    struct reading_row r = reading_make(seq);
    char payload[PAYLOAD_MAX];
    size_t rem = 2 + strlen(PREFIX "/" SITE "/flow/FT-101") +
                 (qos > 0 ? 2 : 0) +
                 (size_t)payload_reading(payload, sizeof(payload), SITE, &r);
    size_t len = 1 + rem;

    do {
        len++;
        rem /= 128;
    } while (rem > 0);
    return len;
}

struct resend_case {
    const char *name;
    int qos;
    bool restart;  /* the broker restarts without persistence */
    bool released; /* QoS 2: in flight after PUBREC, PUBREL sent */
    bool delivers; /* libmosquitto's own re-send reaches the subscriber */
    bool rewinds;  /* the publisher has the caller offer them again */
};

/* A broker that lost the session does not say which QoS 2 messages were
 * past PUBREC: the publisher rewinds for all of them. */
static const struct resend_case resend_cases[] = {
    {"qos 1, session kept", 1, false, false, true, false},
    {"qos 2 after PUBREC, session kept", 2, false, true, true, false},
    {"qos 1, session lost", 1, true, false, true, false},
    {"qos 2 before PUBREC, session lost", 2, true, false, true, true},
    {"qos 2 after PUBREC, session lost", 2, true, true, false, true},
};

static size_t resend_held_publishes;

static bool publishes_held(struct world *w)
{
    return w->proxy->up.n >= resend_held_publishes;
}

static bool pubrecs_held(struct world *w)
{
    return w->proxy->down.n >= INFLIGHT_READINGS * ACK_PACKET_LEN;
}

static bool pubrels_held(struct world *w)
{
    return w->proxy->up.n >= INFLIGHT_READINGS * ACK_PACKET_LEN &&
           w->proxy->down.n == 0;
}

/* CONNACK and one PUBCOMP per stale PUBREL came back. */
static bool pubcomps_passed(struct world *w)
{
    return publisher_connected(w->pub) &&
           w->proxy->down_total >= ACK_PACKET_LEN * (1 + INFLIGHT_READINGS);
}

/*
 * Messages in flight when the connection drops, at a known stage of their
 * exchange: does libmosquitto's re-send after reconnecting deliver them?
 * Where it does, the publisher keeps tracking and never rewinds; where it
 * does not, the publisher must rewind.
 */
/*
 * No broker on the port (loopback refuses at once): the waits between
 * attempts double from the first and stop at PUBLISH_BACKOFF_MAX_MS, the
 * publisher's cap, not the connection code's default (30 s). Waits
 * 250+500+1000+2000+4000 ms, then reads the sixth wait: 5000, not 8000.
 */
static void test_backoff_cap(void **state)
{
    struct config c;
    struct publisher *p;
    int want = 250;

    (void)state;
    config_make(&c, free_port(), 1, false);
    p = publisher_new(&c, VERSION, STARTED_US);
    assert_non_null(p);
    for (int i = 0; i < 6; i++) {
        int ms = publisher_timeout_ms(p);
        int64_t until;

        /* Refused at once: no socket, only the wait. */
        assert_int_equal(publisher_fd(p), -1);
        assert_false(publisher_connected(p));
        assert_in_range(ms, want - 50, want);
        if (i == 5)
            break;
        until = now_ms() + ms;
        while (now_ms() < until)
            poll(NULL, 0, (int)(until - now_ms()));
        publisher_service(p, false, false);
        want *= 2;
        if (want > PUBLISH_BACKOFF_MAX_MS)
            want = PUBLISH_BACKOFF_MAX_MS;
    }
    publisher_close(p, 0);
}

static void test_resend(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(resend_cases) / sizeof(resend_cases[0]);
         i++) {
        const struct resend_case *rc = &resend_cases[i];
        struct broker b = {.port = free_port()};
        struct proxy x;
        struct config c;
        struct feeder feed = {0};
        struct world w = {0};
        char id[32];

        print_message("resend: %s\n", rc->name);
        broker_start(&b);
        proxy_init(&x, b.port);
        w.proxy = &x;
        snprintf(id, sizeof(id), "test-sub-resend-%zu", i);
        w.sub = sub_new(b.port, id);
        assert_true(pump(&w, is_subscribed, WAIT_MS));
        config_make(&c, x.port, rc->qos, false);
        w.pub = publisher_new(&c, VERSION, STARTED_US);
        assert_non_null(w.pub);
        assert_true(pump(&w, is_connected, WAIT_MS));
        assert_true(pump(&w, sub_has_run, WAIT_MS));
        /* The run's QoS 2 exchange ends with a PUBCOMP after delivery. */
        pump(&w, NULL, 5 * POLL_MS);

        w.feed = &feed;
        feed.committed = INFLIGHT_READINGS;
        if (!rc->released) {
            resend_held_publishes = 0;
            for (int64_t seq = 1; seq <= INFLIGHT_READINGS; seq++)
                resend_held_publishes += publish_packet_len(seq, rc->qos);
            x.hold_up = true;
            assert_true(pump(&w, publishes_held, WAIT_MS));
        } else {
            x.hold_down = true;
            assert_true(pump(&w, pubrecs_held, WAIT_MS));
            x.hold_up = true;
            x.hold_down = false;
            assert_true(pump(&w, pubrels_held, WAIT_MS));
        }
        feed.paused = true;
        assert_int_equal(publisher_acked(w.pub), 0);
        assert_int_equal(publisher_room(w.pub),
                         PUBLISH_WINDOW - INFLIGHT_READINGS);
        print_message("  delivered before the drop: %zu\n", w.sub->seen_count);
        assert_int_equal(w.sub->seen_count, 0);

        if (rc->restart) {
            x.accepting = false;
            broker_stop(&b);
            proxy_cut(&x);
            assert_true(pump(&w, is_disconnected, WAIT_MS));
            broker_start(&b);
            w.sub->subscribed = false;
            assert_true(pump(&w, is_subscribed, WAIT_MS));
            x.accepting = true;
        } else {
            proxy_cut(&x);
            assert_true(pump(&w, is_disconnected, WAIT_MS));
        }
        x.hold_up = x.hold_down = false;
        assert_int_equal(publisher_room(w.pub), 0);

        if (rc->rewinds) {
            /* What libmosquitto's re-send alone does: for a PUBREL, the
             * broker answers PUBCOMP for a message it no longer has. */
            assert_true(
                pump(&w, rc->delivers ? all_seen : pubcomps_passed, WAIT_MS));
            pump(&w, NULL, 5 * POLL_MS);
            print_message("  delivered by libmosquitto's re-send: %zu\n",
                          w.sub->seen_count);
            assert_int_equal(w.sub->seen_count,
                             rc->delivers ? INFLIGHT_READINGS : 0);
            assert_true(publisher_take_rewind(w.pub));
            assert_int_equal(publisher_acked(w.pub), 0);
            assert_int_equal(publisher_room(w.pub), PUBLISH_WINDOW);
            feed.cursor = publisher_acked(w.pub);
        } else {
            assert_true(pump(&w, all_acked, WAIT_MS));
            assert_false(publisher_take_rewind(w.pub));
            assert_true(pump(&w, all_seen, WAIT_MS));
            print_message("  delivered by libmosquitto's re-send: %zu\n",
                          w.sub->seen_count);
        }
        feed.paused = false;
        assert_true(pump(&w, all_delivered, WAIT_MS));
        assert_false(publisher_take_rewind(w.pub));

        /* No flush: the proxy does not run inside publisher_close(). */
        publisher_close(w.pub, 0);
        sub_free(w.sub);
        proxy_release(&x);
        broker_stop(&b);
    }
}

static void remove_dir(const char *dir)
{
    char path[TEST_PATH_MAX];
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_basic),
        cmocka_unit_test(test_broker_restart),
        cmocka_unit_test(test_witness),
        cmocka_unit_test(test_qos2_burst),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_resend),
        cmocka_unit_test(test_backoff_cap),
    };
    int rc;

    log_init("test_publish", LOG_LEVEL_INFO, LOG_PLAIN);
    snprintf(test_dir, sizeof(test_dir), "/tmp/test_publish.XXXXXX");
    if (!mkdtemp(test_dir))
        return 1;
    mosquitto_lib_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    mosquitto_lib_cleanup();
    for (size_t i = 0; i < BROKERS_MAX; i++) {
        if (brokers[i] > 0) {
            kill(brokers[i], SIGKILL);
            waitpid(brokers[i], NULL, 0);
        }
    }
    remove_dir(test_dir);
    return rc;
}
