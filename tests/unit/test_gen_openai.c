/* test_gen_openai.c — the OpenAI-compatible backend against a tiny scripted
 * HTTP/1.1 server on 127.0.0.1 (a thread, one connection at a time), and the
 * scripted backend. Every wait is bounded; the server thread is joined after
 * each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/lore.h"
#include "generate/generate.h"

/* ---- the scripted server ------------------------------------------------------- */

enum act {
    ACT_SEND,       /* send reply, close */
    ACT_SEND_WAIT,  /* send reply, then wait for the client to close */
    ACT_HANG,       /* read the request, never answer */
    ACT_CLOSE,      /* read the request, close at once */
    ACT_TRICKLE,    /* send reply (headers), then a keep-alive comment every 200 ms */
    ACT_SPLIT,      /* send reply in two sends, split_at bytes after the headers, 2 ms apart */
};

struct srv {
    int lfd, port;
    pthread_t th;
    atomic_int quit;
    pthread_mutex_t mu;
    /* script, set by the test before a request */
    enum act act;
    int bytewise;            /* send the reply one byte per send() */
    size_t split_at;         /* ACT_SPLIT: offset into the body */
    char reply[16384];
    size_t reply_len;
    /* the last request, captured */
    char req[65536];
    size_t req_len, body_off;
    int n_req;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (bounded, quit-aware) until the peer closes; returns 1 if it did. */
static int wait_closed(struct srv *s, int fd, int max_ms)
{
    char tmp[512];
    for (int waited = 0; waited < max_ms && !atomic_load(&s->quit); waited += 50) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            ssize_t k = recv(fd, tmp, sizeof tmp, 0);
            if (k <= 0)
                return 1;
        }
    }
    return 0;
}

static int send_all(int fd, const char *p, size_t n, int bytewise)
{
    size_t step = bytewise ? 1 : n;
    for (size_t i = 0; i < n;) {
        size_t k = n - i < step ? n - i : step;
        ssize_t w = send(fd, p + i, k, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        i += (size_t)w;
        if (bytewise)
            usleep(200);
    }
    return 0;
}

/* Reads headers and a Content-Length body, within 5 s. */
static void read_request(struct srv *s, int fd)
{
    char buf[65536];
    size_t n = 0, body_off = 0, want = 0;
    double t0 = lore_now_ms();
    while (n < sizeof buf - 1 && lore_now_ms() - t0 < 5000 && !atomic_load(&s->quit)) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
        buf[n] = 0;
        if (!body_off) {
            char *end = strstr(buf, "\r\n\r\n");
            if (!end)
                continue;
            body_off = (size_t)(end - buf) + 4;
            for (char *l = buf; l && l < end; l = strstr(l, "\r\n") ? strstr(l, "\r\n") + 2 : NULL)
                if (strncasecmp(l, "Content-Length:", 15) == 0)
                    want = strtoul(l + 15, NULL, 10);
        }
        if (body_off && n >= body_off + want)
            break;
    }
    buf[n] = 0;
    pthread_mutex_lock(&s->mu);
    memcpy(s->req, buf, n + 1);
    s->req_len = n;
    s->body_off = body_off;
    s->n_req++;
    pthread_mutex_unlock(&s->mu);
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    while (!atomic_load(&s->quit)) {
        struct pollfd p = {s->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        read_request(s, fd);
        pthread_mutex_lock(&s->mu);
        enum act act = s->act;
        int bytewise = s->bytewise;
        size_t split_at = s->split_at;
        char *reply = malloc(s->reply_len + 1);
        size_t reply_len = s->reply_len;
        if (reply)
            memcpy(reply, s->reply, reply_len);
        pthread_mutex_unlock(&s->mu);
        switch (act) {
        case ACT_SEND:
            if (reply)
                send_all(fd, reply, reply_len, bytewise);
            break;
        case ACT_SEND_WAIT:
            if (reply && send_all(fd, reply, reply_len, bytewise) == 0)
                wait_closed(s, fd, 10000);
            break;
        case ACT_HANG:
            wait_closed(s, fd, 10000);
            break;
        case ACT_CLOSE:
            break;
        case ACT_SPLIT: {
            char *body = reply ? strstr(reply, "\r\n\r\n") : NULL;
            if (!body)
                break;
            size_t cut = (size_t)(body + 4 - reply) + split_at;
            if (cut > reply_len)
                cut = reply_len;
            if (send_all(fd, reply, cut, 0) == 0) {
                sleep_ms(2);
                send_all(fd, reply + cut, reply_len - cut, 0);
            }
            break;
        }
        case ACT_TRICKLE:
            if (reply && send_all(fd, reply, reply_len, 0) == 0)
                for (int i = 0; i < 50 && !atomic_load(&s->quit); i++) {
                    if (send_all(fd, ": ka\n\n", 6, 0))
                        break;
                    if (wait_closed(s, fd, 200))
                        break;
                }
            break;
        }
        free(reply);
        close(fd);
    }
    return NULL;
}

static int srv_setup(void **state)
{
    struct srv *s = calloc(1, sizeof *s);
    assert_non_null(s);
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
    *state = s;
    return 0;
}

static int srv_teardown(void **state)
{
    struct srv *s = *state;
    atomic_store(&s->quit, 1);
    pthread_join(s->th, NULL);
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return 0;
}

static void script(struct srv *s, enum act act, int bytewise, const char *fmt, ...)
{
    pthread_mutex_lock(&s->mu);
    s->act = act;
    s->bytewise = bytewise;
    s->reply_len = 0;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(s->reply, sizeof s->reply, fmt, ap);
        va_end(ap);
        assert_true(k > 0 && (size_t)k < sizeof s->reply);
        s->reply_len = (size_t)k;
    }
    pthread_mutex_unlock(&s->mu);
}

#define SSE_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"

/* A copy of the captured request's path, body and headers. */
struct captured {
    char path[256];
    char head[8192];
    char body[32768];
    int n_req;
};

static void captured(struct srv *s, struct captured *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_lock(&s->mu);
    c->n_req = s->n_req;
    sscanf(s->req, "POST %255s HTTP/1.1", c->path);
    size_t hl = s->body_off < sizeof c->head ? s->body_off : sizeof c->head - 1;
    memcpy(c->head, s->req, hl);
    if (s->body_off && s->req_len > s->body_off) {
        size_t bl = s->req_len - s->body_off;
        if (bl >= sizeof c->body)
            bl = sizeof c->body - 1;
        memcpy(c->body, s->req + s->body_off, bl);
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- a client ------------------------------------------------------------------- */

struct collect {
    struct lore_buf all;
    int n_pieces;
    int stop_after;   /* 0: never */
};

static int on_piece(void *ud, const char *t, size_t n)
{
    struct collect *c = ud;
    lore_buf_append(&c->all, t, n);
    c->n_pieces++;
    return c->stop_after && c->n_pieces >= c->stop_after;
}

/* Makes a backend for the server (url suffix appended to http://127.0.0.1:P),
 * or skips the test when lore was built without libcurl. */
static struct gen_backend *backend(struct srv *s, const char *suffix, int idle_s, int timeout_s)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s ? s->port : 9, suffix ? suffix : "");
    struct gen_openai_opts o = {0};
    o.url = url;
    o.idle_timeout_s = idle_s ? idle_s : 5;
    o.timeout_s = timeout_s ? timeout_s : 15;
    o.connect_timeout_s = 3;
    struct gen_backend *b = NULL;
    struct lore_err e = {0};
    int rc = gen_backend_openai(&o, &b, &e);
    if (rc == LORE_EUNSUPPORTED)
        skip();
    assert_int_equal(rc, 0);
    assert_non_null(b);
    assert_string_equal(b->name, "openai");
    return b;
}

static const struct gen_msg k_msgs[] = {
    {"system", "Answer from the sources. Quote \"exactly\".\nLine two: caf\xc3\xa9"},
    {"user", "What is lore?"},
};

/* One chat with the default messages; returns the status. */
static int chat(struct gen_backend *b, struct collect *c, struct lore_buf *out,
                struct lore_err *e)
{
    static const char *const stops[] = {"</s>", "\n\n"};
    struct gen_params p = {64, 0.5f, 42, stops, 2};
    lore_buf_init(out);
    lore_buf_init(&c->all);
    c->n_pieces = 0;
    memset(e, 0, sizeof *e);
    return b->chat(b->self, k_msgs, 2, &p, on_piece, c, out, e);
}

static const char *str_or_empty(const struct lore_buf *b)
{
    return b->len ? b->data : "";
}

#define EV(s) "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" s "\"}}]}\n\n"
#define EV_ROLE "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n"
#define EV_FIN "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
#define EV_DONE "data: [DONE]\n\n"

/* ---- tests ----------------------------------------------------------------------- */

static void test_stream_basic(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 0, 0);
    script(s, ACT_SEND, 0, SSE_HEAD EV_ROLE EV("Hello") EV(", w\\u00f6rld") EV("! [1]") EV_FIN
           EV_DONE);
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_string_equal(out.data, "Hello, w\xc3\xb6rld! [1]");
    assert_string_equal(c.all.data, out.data);
    assert_int_equal(c.n_pieces, 3);

    struct captured cap;
    captured(s, &cap);
    assert_int_equal(cap.n_req, 1);
    assert_string_equal(cap.path, "/v1/chat/completions");
    assert_non_null(strcasestr(cap.head, "\r\nContent-Type: application/json\r\n"));
    assert_null(strcasestr(cap.head, "\r\nAuthorization:"));
    json_error_t je;
    json_t *j = json_loads(cap.body, 0, &je);
    assert_non_null(j);
    json_t *m = json_object_get(j, "messages");
    assert_int_equal(json_array_size(m), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "role")), "system");
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "content")),
                        k_msgs[0].content);
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "role")), "user");
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "content")),
                        "What is lore?");
    assert_true(json_is_true(json_object_get(j, "stream")));
    assert_int_equal(json_integer_value(json_object_get(j, "max_tokens")), 64);
    assert_int_equal(json_integer_value(json_object_get(j, "seed")), 42);
    assert_true(json_number_value(json_object_get(j, "temperature")) > 0.49 &&
                json_number_value(json_object_get(j, "temperature")) < 0.51);
    json_t *st = json_object_get(j, "stop");
    assert_int_equal(json_array_size(st), 2);
    assert_string_equal(json_string_value(json_array_get(st, 0)), "</s>");
    assert_string_equal(json_string_value(json_array_get(st, 1)), "\n\n");
    assert_null(json_object_get(j, "model"));   /* none given */
    json_decref(j);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
}

/* The same events one byte per send(), with CRLF line ends, "data:" without
 * its space, comments, event:/id:/retry: lines. */
static void test_stream_bytewise(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 0, 0);
    script(s, ACT_SEND, 1,
           SSE_HEAD ": hello\r\n\r\nretry: 1000\r\nevent: message\r\nid: 1\r\n"
                    "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\n"
                    ": keep-alive\r\n\r\n"
                    "data:{\"choices\":[{\"delta\":{\"content\":\"caf\xc3\xa9 \"}}]}\r\n\r\n"
                    "id: 2\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"au \\\"lait\\\"\\n\"}}]}\r\n\r\n"
                    "data: {\"choices\":[{\"delta\":{\"content\":\"\xe6\x97\xa5\xe6\x9c\xac\"}}]}\r\r"
                    "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\r\n\r\n"
                    "data: [DONE]\r\n\r\n");
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_string_equal(out.data, "caf\xc3\xa9 au \"lait\"\n\xe6\x97\xa5\xe6\x9c\xac");
    assert_string_equal(c.all.data, out.data);
    assert_int_equal(c.n_pieces, 3);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
}

/* The stream cut in two at every byte offset (two sends 2 ms apart, so the
 * client reads them separately): the same pieces every time. */
static void test_split_everywhere(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 0, 0);
    const char *body = ": ka\r\n\r\n" EV_ROLE
                       "data: {\"choices\":[{\"delta\":{\"content\":\"\xc3\xa9t\xc3\xa9 \"}}]}\r\n\r\n"
                       EV("[1]") EV_DONE;
    size_t n = strlen(body);
    for (size_t k = 0; k <= n; k++) {
        pthread_mutex_lock(&s->mu);
        s->split_at = k;
        pthread_mutex_unlock(&s->mu);
        script(s, ACT_SPLIT, 0, SSE_HEAD "%s", body);
        struct collect c = {0};
        struct lore_buf out;
        struct lore_err e;
        int rc = chat(b, &c, &out, &e);
        if (rc)
            fprintf(stderr, "split at %zu: %s\n", k, e.msg);
        assert_int_equal(rc, 0);
        assert_string_equal(out.data, "\xc3\xa9t\xc3\xa9 [1]");
        assert_int_equal(c.n_pieces, 2);
        lore_buf_release(&out);
        lore_buf_release(&c.all);
    }
    gen_backend_free(b);
}

/* Keep-alive comments before and between events, and a stream that ends
 * with finish_reason but no [DONE]. */
static void test_keepalive(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 0, 0);
    script(s, ACT_SEND, 0,
           SSE_HEAD ": ping\n\n: ping\n\n\n" EV("a") ": ping\n\n: ping\n\n" EV("b") ":\n\n" EV_FIN);
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_string_equal(out.data, "ab");
    assert_int_equal(c.n_pieces, 2);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
}

/* Chunked transfer encoding with chunks cut inside events; an event's data
 * over two data: lines; events with no blank line between them. */
static void test_chunked_multiline(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 0, 0);
    const char *events = "data: {\"choices\":[{\"delta\":\n"
                         "data: {\"content\":\"one \"}}]}\n\n"
                         "data: {\"choices\":[{\"delta\":{\"content\":\"two \"}}]}\n"
                         "data: {\"choices\":[{\"delta\":{\"content\":\"three\"}}]}\n"
                         "data: [DONE]\n\n";
    char body[4096];
    size_t n = strlen(events), o = 0;
    o += (size_t)snprintf(body + o, sizeof body - o,
                          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n");
    for (size_t i = 0; i < n; i += 7) {
        size_t k = n - i < 7 ? n - i : 7;
        o += (size_t)snprintf(body + o, sizeof body - o, "%zx\r\n%.*s\r\n", k, (int)k, events + i);
    }
    o += (size_t)snprintf(body + o, sizeof body - o, "0\r\n\r\n");
    assert_true(o < sizeof body - 1);
    script(s, ACT_SEND_WAIT, 0, "%s", body);
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_string_equal(out.data, "one two three");
    assert_int_equal(c.n_pieces, 3);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
}

/* Servers that ignore "stream": one JSON body; and completion-style "text". */
static void test_non_streamed(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 0, 0);
    const char *j = "\n{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
                    "\"message\":{\"role\":\"assistant\",\"content\":\"Whole answer [2].\"},"
                    "\"finish_reason\":\"stop\"}],\"usage\":{\"total_tokens\":9}}";
    script(s, ACT_SEND, 0,
           "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
           strlen(j), j);
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_string_equal(out.data, "Whole answer [2].");
    assert_int_equal(c.n_pieces, 1);
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* the same, one byte at a time */
    script(s, ACT_SEND, 1,
           "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n%s", j);
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_string_equal(out.data, "Whole answer [2].");
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    script(s, ACT_SEND, 0,
           SSE_HEAD "data: {\"choices\":[{\"text\":\"legacy \",\"index\":0}]}\n\n"
                    "data: {\"choices\":[{\"text\":\"text\",\"index\":0}]}\n\n" EV_DONE);
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_string_equal(out.data, "legacy text");
    assert_int_equal(c.n_pieces, 2);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
}

static void test_http_errors(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 0, 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", s->port);
    const char *j = "{\"error\":{\"message\":\"model is still loading\",\"type\":\"server_error\","
                    "\"code\":500}}";
    script(s, ACT_SEND, 0,
           "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
           "Content-Length: %zu\r\n\r\n%s",
           strlen(j), j);
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;
    char want[512];
    assert_int_equal(chat(b, &c, &out, &e), LORE_EIO);
    snprintf(want, sizeof want, "HTTP 500 from %s: model is still loading", url);
    assert_string_equal(e.msg, want);
    assert_int_equal(c.n_pieces, 0);
    assert_int_equal(out.len, 0);
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* vLLM's shape, with a 400 */
    script(s, ACT_SEND, 0,
           "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
           "{\"object\":\"error\",\"message\":\"too many tokens\",\"code\":400}");
    assert_int_equal(chat(b, &c, &out, &e), LORE_EIO);
    snprintf(want, sizeof want, "HTTP 400 from %s: too many tokens", url);
    assert_string_equal(e.msg, want);
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* a plain-text 404 */
    script(s, ACT_SEND, 0, "HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nNot Found\n");
    assert_int_equal(chat(b, &c, &out, &e), LORE_ENOENT);
    snprintf(want, sizeof want, "HTTP 404 from %s (first bytes: Not Found\\n)", url);
    assert_string_equal(e.msg, want);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
}

/* The API key goes in the header, from opts or $LORE_GEN_API_KEY, and never
 * into an error message. */
static void test_api_key(void **state)
{
    struct srv *s = *state;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
    struct gen_openai_opts o = {0};
    o.url = url;
    o.api_key = "sk-secret-123";
    o.model = "test-model";
    o.timeout_s = 10;
    struct gen_backend *b = NULL;
    struct lore_err e;
    int rc = gen_backend_openai(&o, &b, &e);
    if (rc == LORE_EUNSUPPORTED)
        skip();
    assert_int_equal(rc, 0);
    script(s, ACT_SEND, 0,
           "HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n"
           "{\"error\":{\"message\":\"invalid api key\"}}");
    struct collect c = {0};
    struct lore_buf out;
    assert_int_equal(chat(b, &c, &out, &e), LORE_EPERM);
    assert_non_null(strstr(e.msg, "HTTP 401"));
    assert_non_null(strstr(e.msg, "invalid api key"));
    assert_null(strstr(e.msg, "sk-secret"));
    struct captured cap;
    captured(s, &cap);
    assert_non_null(strstr(cap.head, "\r\nAuthorization: Bearer sk-secret-123\r\n"));
    json_t *j = json_loads(cap.body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "test-model");
    json_decref(j);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);

    setenv("LORE_GEN_API_KEY", "env-key-456", 1);
    o.api_key = NULL;
    assert_int_equal(gen_backend_openai(&o, &b, &e), 0);
    unsetenv("LORE_GEN_API_KEY");
    script(s, ACT_SEND, 0, SSE_HEAD EV("ok") EV_DONE);
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_string_equal(out.data, "ok");
    captured(s, &cap);
    assert_non_null(strstr(cap.head, "\r\nAuthorization: Bearer env-key-456\r\n"));
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);

    o.api_key = "bad\r\nX-Injected: 1";
    assert_int_equal(gen_backend_openai(&o, &b, &e), LORE_EINVAL);
    assert_null(b);
    assert_null(strstr(e.msg, "Injected"));
}

static void test_garbage(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 0, 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", s->port);
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;
    char want[512];

    script(s, ACT_SEND, 0,
           "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
           "<html><body>It works!</body></html>\n");
    assert_int_equal(chat(b, &c, &out, &e), LORE_EFORMAT);
    snprintf(want, sizeof want,
             "unexpected reply from %s (first bytes: <html><body>It works!</body></html>\\n)", url);
    assert_string_equal(e.msg, want);
    assert_int_equal(c.n_pieces, 0);
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* the same, one byte at a time, with binary bytes and no line end */
    script(s, ACT_SEND, 1, SSE_HEAD "\x01\x02garbage\xff");
    assert_int_equal(chat(b, &c, &out, &e), LORE_EFORMAT);
    assert_non_null(strstr(e.msg, "unexpected reply from"));
    assert_non_null(strstr(e.msg, "(first bytes: \\x01\\x02garbage\\xff)"));
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* an event whose data is not JSON */
    script(s, ACT_SEND, 0, SSE_HEAD EV("fine ") "data: {\"choices\": oops\n\n" EV_DONE);
    assert_int_equal(chat(b, &c, &out, &e), LORE_EFORMAT);
    assert_non_null(strstr(e.msg, "an event's data is not JSON"));
    assert_string_equal(str_or_empty(&out), "fine ");
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* a JSON body that is not a reply, and a truncated JSON body */
    script(s, ACT_SEND, 0, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"hello\":1}");
    assert_int_equal(chat(b, &c, &out, &e), LORE_EFORMAT);
    assert_non_null(strstr(e.msg, "no \"choices\""));
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    script(s, ACT_SEND, 0, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"choices\":[");
    assert_int_equal(chat(b, &c, &out, &e), LORE_EFORMAT);
    assert_non_null(strstr(e.msg, "unexpected reply from"));
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* not HTTP at all */
    script(s, ACT_SEND, 0, "SSH-2.0-OpenSSH_9.0\r\n");
    assert_int_equal(chat(b, &c, &out, &e), LORE_EFORMAT);
    assert_non_null(strstr(e.msg, "unexpected reply from"));
    assert_non_null(strstr(e.msg, "not HTTP"));
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* an error event in the middle of a stream */
    script(s, ACT_SEND, 0,
           SSE_HEAD EV("part") "data: {\"error\":{\"message\":\"context size exceeded\"}}\n\n");
    assert_int_equal(chat(b, &c, &out, &e), LORE_EIO);
    snprintf(want, sizeof want, "error from %s: context size exceeded", url);
    assert_string_equal(e.msg, want);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
}

static void test_empty_and_cut(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 0, 0);
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;

    script(s, ACT_CLOSE, 0, NULL);   /* closes without a byte */
    assert_int_equal(chat(b, &c, &out, &e), LORE_EIO);
    assert_non_null(strstr(e.msg, "empty reply from http://127.0.0.1:"));
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    script(s, ACT_SEND, 0, SSE_HEAD);   /* headers, no body */
    assert_int_equal(chat(b, &c, &out, &e), LORE_EIO);
    assert_non_null(strstr(e.msg, "empty reply from http://127.0.0.1:"));
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    script(s, ACT_SEND, 0, SSE_HEAD ": only comments\n\n");
    assert_int_equal(chat(b, &c, &out, &e), LORE_EIO);
    assert_non_null(strstr(e.msg, "empty reply from"));
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* the connection drops mid-answer: what came is kept, but it is an error */
    script(s, ACT_SEND, 0, SSE_HEAD EV("The answer is") "data: {\"choi");
    assert_int_equal(chat(b, &c, &out, &e), LORE_EIO);
    assert_non_null(strstr(e.msg, "cut short"));
    assert_string_equal(out.data, "The answer is");
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* an empty answer that ends properly is not an error */
    script(s, ACT_SEND, 0, SSE_HEAD EV_ROLE EV_FIN EV_DONE);
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(c.n_pieces, 0);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
}

static void test_idle_timeout(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 1, 0);
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;

    script(s, ACT_HANG, 0, NULL);   /* accepts, never answers */
    double t0 = lore_now_ms();
    assert_int_equal(chat(b, &c, &out, &e), LORE_ELIMIT);
    double dt = lore_now_ms() - t0;
    assert_true(dt >= 900 && dt < 3500);
    char want[256];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/v1/chat/completions sent nothing for 1 s "
                                "(idle timeout)", s->port);
    assert_string_equal(e.msg, want);
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* stalls after the first event */
    script(s, ACT_SEND_WAIT, 0, SSE_HEAD EV("first"));
    t0 = lore_now_ms();
    assert_int_equal(chat(b, &c, &out, &e), LORE_ELIMIT);
    assert_true(lore_now_ms() - t0 < 5000);
    assert_non_null(strstr(e.msg, "idle timeout"));
    assert_string_equal(out.data, "first");
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
}

/* Keep-alives reset the idle timer, but the whole request has its limit. */
static void test_total_timeout(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 1, 1);
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;
    script(s, ACT_TRICKLE, 0, SSE_HEAD EV("slow"));
    double t0 = lore_now_ms();
    assert_int_equal(chat(b, &c, &out, &e), LORE_ELIMIT);
    double dt = lore_now_ms() - t0;
    assert_true(dt >= 800 && dt < 5000);
    assert_non_null(strstr(e.msg, "within 1 s (timeout)"));
    assert_string_equal(out.data, "slow");
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
}

static void test_refused(void **state)
{
    /* a port that was just free: bind, note it, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    int port = ntohs(a.sin_port);
    close(fd);

    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/", port);
    struct gen_openai_opts o = {0};
    o.url = url;
    struct gen_backend *b = NULL;
    struct lore_err e;
    int rc = gen_backend_openai(&o, &b, &e);
    if (rc == LORE_EUNSUPPORTED)
        skip();
    assert_int_equal(rc, 0);
    struct collect c = {0};
    struct lore_buf out;
    double t0 = lore_now_ms();
    assert_int_equal(chat(b, &c, &out, &e), LORE_EIO);
    assert_true(lore_now_ms() - t0 < 3000);
    char want[256];
    snprintf(want, sizeof want,
             "cannot connect to http://127.0.0.1:%d/v1/chat/completions: connection refused", port);
    assert_string_equal(e.msg, want);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
}

/* on_text asks to stop after 3 pieces: the transfer is cut at once (the
 * server would otherwise hold the connection open for 10 s). */
static void test_stop_midway(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b = backend(s, NULL, 8, 0);
    script(s, ACT_SEND_WAIT, 0,
           SSE_HEAD EV("p1 ") EV("p2 ") EV("p3 ") EV("p4 ") EV("p5 ") EV("p6 "));
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;
    static const char *const stops[] = {"</s>"};
    struct gen_params p = {64, 0, 1, stops, 1};
    lore_buf_init(&out);
    lore_buf_init(&c.all);
    c.stop_after = 3;
    double t0 = lore_now_ms();
    assert_int_equal(b->chat(b->self, k_msgs, 2, &p, on_piece, &c, &out, &e), 0);
    assert_true(lore_now_ms() - t0 < 3000);
    assert_int_equal(c.n_pieces, 3);
    assert_string_equal(out.data, "p1 p2 p3 ");
    lore_buf_release(&out);
    lore_buf_release(&c.all);

    /* no callback at all is fine too */
    script(s, ACT_SEND, 0, SSE_HEAD EV("x") EV_DONE);
    lore_buf_init(&out);
    assert_int_equal(b->chat(b->self, k_msgs, 2, NULL, NULL, NULL, &out, &e), 0);
    assert_string_equal(out.data, "x");
    lore_buf_release(&out);
    gen_backend_free(b);
}

static void test_url_forms(void **state)
{
    struct srv *s = *state;
    static const struct {
        const char *suffix, *path;
    } cases[] = {
        {"", "/v1/chat/completions"},       {"/", "/v1/chat/completions"},
        {"/v1", "/v1/chat/completions"},    {"/v1/", "/v1/chat/completions"},
        {"//", "/v1/chat/completions"},     {"/v1/chat/completions", "/v1/chat/completions"},
        {"/api/v1", "/api/v1/chat/completions"}, {"/openai", "/openai/v1/chat/completions"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gen_backend *b = backend(s, cases[i].suffix, 0, 0);
        script(s, ACT_SEND, 0, SSE_HEAD EV("ok") EV_DONE);
        struct collect c = {0};
        struct lore_buf out;
        struct lore_err e;
        assert_int_equal(chat(b, &c, &out, &e), 0);
        assert_string_equal(out.data, "ok");
        struct captured cap;
        captured(s, &cap);
        assert_string_equal(cap.path, cases[i].path);
        lore_buf_release(&out);
        lore_buf_release(&c.all);
        gen_backend_free(b);
    }

    /* no scheme: http:// is assumed */
    char url[64];
    snprintf(url, sizeof url, " 127.0.0.1:%d/v1 ", s->port);
    struct gen_openai_opts o = {0};
    o.url = url;
    struct gen_backend *b = NULL;
    struct lore_err e;
    assert_int_equal(gen_backend_openai(&o, &b, &e), 0);
    script(s, ACT_SEND, 0, SSE_HEAD EV("ok") EV_DONE);
    struct collect c = {0};
    struct lore_buf out;
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_string_equal(out.data, "ok");
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);

    /* user:password@ is sent but never shown */
    snprintf(url, sizeof url, "http://user:pw@127.0.0.1:%d", s->port);
    assert_int_equal(gen_backend_openai(&o, &b, &e), 0);
    script(s, ACT_SEND, 0, "HTTP/1.1 503 Busy\r\nConnection: close\r\n\r\n");
    assert_int_equal(chat(b, &c, &out, &e), LORE_EIO);
    char want[128];
    snprintf(want, sizeof want, "HTTP 503 from http://127.0.0.1:%d/v1/chat/completions", s->port);
    assert_string_equal(e.msg, want);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);

    static const char *const bad[] = {"", "   ", "ftp://127.0.0.1/", "http://", "http:///v1",
                                      "file:///etc/passwd"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.url = bad[i];
        b = (struct gen_backend *)&o;   /* must be reset to NULL */
        assert_int_equal(gen_backend_openai(&o, &b, &e), LORE_EINVAL);
        assert_null(b);
        assert_true(e.msg[0] != 0);
    }
    o.url = NULL;
    assert_int_equal(gen_backend_openai(&o, &b, &e), LORE_EINVAL);
    assert_int_equal(gen_backend_openai(NULL, &b, &e), LORE_EINVAL);
}

/* Two backends live at once, used in turn; freeing one leaves the other. */
static void test_two_backends(void **state)
{
    struct srv *s = *state;
    struct gen_backend *b1 = backend(s, NULL, 0, 0);
    struct gen_backend *b2 = backend(s, "/v1", 0, 0);
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;
    for (int i = 0; i < 3; i++) {
        script(s, ACT_SEND, 0, SSE_HEAD EV("one") EV_DONE);
        assert_int_equal(chat(b1, &c, &out, &e), 0);
        assert_string_equal(out.data, "one");
        lore_buf_release(&out);
        lore_buf_release(&c.all);
        script(s, ACT_SEND, 0, SSE_HEAD EV("two") EV_DONE);
        assert_int_equal(chat(b2, &c, &out, &e), 0);
        assert_string_equal(out.data, "two");
        lore_buf_release(&out);
        lore_buf_release(&c.all);
    }
    gen_backend_free(b1);
    script(s, ACT_SEND, 0, SSE_HEAD EV("still") EV_DONE);
    assert_int_equal(chat(b2, &c, &out, &e), 0);
    assert_string_equal(out.data, "still");
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b2);
}

static void test_count_tokens_ctx(void **state)
{
    struct gen_openai_opts o = {0};
    o.url = "http://127.0.0.1:9";
    struct gen_backend *b = NULL;
    struct lore_err e;
    int rc = gen_backend_openai(&o, &b, &e);
    if (rc == LORE_EUNSUPPORTED)
        skip();
    assert_int_equal(rc, 0);
    assert_int_equal(b->n_ctx, 4096);
    assert_int_equal(b->count_tokens(b->self, "", 0), 0);
    assert_int_equal(b->count_tokens(b->self, "abcd", 4), 1);
    assert_int_equal(b->count_tokens(b->self, "abcde", 5), 2);
    assert_int_equal(b->count_tokens(b->self, "caf\xc3\xa9", 5), 2);          /* 3/4 + 1/2 */
    assert_int_equal(b->count_tokens(b->self, "\xe6\x97\xa5\xe6\x9c\xac", 6), 2); /* 2 CJK */
    char big[4000];
    memset(big, 'x', sizeof big);
    assert_int_equal(b->count_tokens(b->self, big, sizeof big), 1000);
    gen_backend_free(b);
    o.n_ctx = 32768;
    assert_int_equal(gen_backend_openai(&o, &b, &e), 0);
    assert_int_equal(b->n_ctx, 32768);
    gen_backend_free(b);
}

/* ---- the scripted backend ----------------------------------------------------------- */

static void test_script(void **state)
{
    static const char *const replies[] = {"one two", "three"};
    struct gen_backend *b = NULL;
    assert_int_equal(gen_backend_script(replies, 2, 3, 0, &b), 0);
    assert_string_equal(b->name, "script");
    assert_int_equal(b->n_ctx, 4096);
    struct collect c = {0};
    struct lore_buf out;
    struct lore_err e;
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_string_equal(out.data, "one two");
    assert_string_equal(c.all.data, "one two");
    assert_int_equal(c.n_pieces, 3);   /* "one", " tw", "o" */
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    for (int i = 0; i < 3; i++) {   /* the last one repeats */
        assert_int_equal(chat(b, &c, &out, &e), 0);
        assert_string_equal(out.data, "three");
        assert_int_equal(c.n_pieces, 2);
        lore_buf_release(&out);
        lore_buf_release(&c.all);
    }
    /* stop after the first piece */
    lore_buf_init(&out);
    lore_buf_init(&c.all);
    c.n_pieces = 0;
    c.stop_after = 1;
    assert_int_equal(b->chat(b->self, k_msgs, 2, NULL, on_piece, &c, &out, &e), 0);
    assert_string_equal(out.data, "thr");
    assert_int_equal(c.n_pieces, 1);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    c.stop_after = 0;

    assert_int_equal(b->count_tokens(b->self, "  a b\tc\n", 8), 3);
    assert_int_equal(b->count_tokens(b->self, "", 0), 0);
    assert_int_equal(b->count_tokens(b->self, "word", 4), 1);
    assert_int_equal(b->count_tokens(b->self, "two words here", 8), 2);   /* len bounds it */
    gen_backend_free(b);

    /* chunk 0: whole reply at once; n_ctx kept */
    assert_int_equal(gen_backend_script(replies, 1, 0, 2048, &b), 0);
    assert_int_equal(b->n_ctx, 2048);
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_string_equal(out.data, "one two");
    assert_int_equal(c.n_pieces, 1);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);

    /* no replies: an empty answer */
    assert_int_equal(gen_backend_script(NULL, 0, 4, 0, &b), 0);
    assert_int_equal(chat(b, &c, &out, &e), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(c.n_pieces, 0);
    lore_buf_release(&out);
    lore_buf_release(&c.all);
    gen_backend_free(b);
    gen_backend_free(NULL);
    assert_int_equal(gen_backend_script(NULL, 2, 4, 0, &b), LORE_EINVAL);
}

int main(void)
{
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy",
                                          "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    unsetenv("LORE_GEN_API_KEY");
#define T(f) cmocka_unit_test_setup_teardown(f, srv_setup, srv_teardown)
    const struct CMUnitTest tests[] = {
        T(test_stream_basic),  T(test_stream_bytewise),  T(test_split_everywhere),
        T(test_keepalive),
        T(test_chunked_multiline), T(test_non_streamed), T(test_http_errors),
        T(test_api_key),       T(test_garbage),          T(test_empty_and_cut),
        T(test_idle_timeout),  T(test_total_timeout),    T(test_stop_midway),
        T(test_url_forms),     T(test_two_backends),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_count_tokens_ctx),
        cmocka_unit_test(test_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
