/*
 * fake_openai.c — a stand-in for an OpenAI-compatible server, for the
 * end-to-end tests of `lore ask --gen-url`. Listens on 127.0.0.1 (an
 * ephemeral port, printed on stdout), answers each POST with the reply text
 * given on the command line as a stream of SSE chunks in the OpenAI format,
 * and exits after N requests or T seconds, whichever comes first.
 *   usage: fake_openai REPLY [N] [T]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* JSON string escaping of s into out (cap bytes). */
static void esc(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        if (*s == '"' || *s == '\\') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *reply = argv[1];
    int n_req = argc > 2 ? atoi(argv[2]) : 1;
    int secs = argc > 3 ? atoi(argv[3]) : 30;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 4))
        return 1;
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    time_t end = time(NULL) + secs;
    for (int r = 0; r < n_req && time(NULL) < end; r++) {
        struct pollfd pf = {s, POLLIN, 0};
        if (poll(&pf, 1, 1000 * (int)(end - time(NULL))) <= 0)
            break;
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        /* read the request head and its body (Content-Length) */
        char buf[65536];
        size_t got = 0;
        long clen = -1;
        char *body = NULL;
        while (got < sizeof buf - 1) {
            struct pollfd cp = {c, POLLIN, 0};
            if (poll(&cp, 1, 5000) <= 0)
                break;
            ssize_t k = recv(c, buf + got, sizeof buf - 1 - got, 0);
            if (k <= 0)
                break;
            got += (size_t)k;
            buf[got] = 0;
            if (!body && (body = strstr(buf, "\r\n\r\n"))) {
                body += 4;
                const char *cl = strcasestr(buf, "Content-Length:");
                clen = cl ? atol(cl + 15) : 0;
            }
            if (body && (long)(got - (size_t)(body - buf)) >= clen)
                break;
        }
        const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
        send_all(c, head, strlen(head));
        /* the reply in pieces of up to 5 bytes, as a model streams tokens */
        for (size_t i = 0; reply[i];) {
            char piece[8], e[64], ev[256];
            size_t n = strlen(reply + i) < 5 ? strlen(reply + i) : 5;
            memcpy(piece, reply + i, n);
            piece[n] = 0;
            esc(piece, e, sizeof e);
            int len = snprintf(ev, sizeof ev,
                               "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}\n\n", e);
            send_all(c, ev, (size_t)len);
            i += n;
        }
        send_all(c, "data: [DONE]\n\n", 14);
        close(c);
    }
    close(s);
    return 0;
}
