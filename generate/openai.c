/*
 * openai.c — a generator backend that talks to any OpenAI-compatible server
 * (llama.cpp's server, Ollama, vLLM, …) over HTTP with libcurl.
 *
 * One chat() is one POST {base}/v1/chat/completions on a fresh curl handle:
 *
 *   {"messages":[{"role":"system","content":"…"},…],"stream":true,
 *    "max_tokens":512,"temperature":0,"seed":42,"stop":["…"],"model":"…"}
 *
 * and the reply is a Server-Sent Events stream, read as it arrives:
 *
 *   HTTP/1.1 200 OK
 *   Content-Type: text/event-stream
 *
 *   : keep-alive                                  comment: ignored
 *   event: message                                other fields: ignored
 *   data: {"choices":[{"delta":{"role":"assistant"}}]}
 *                                                 blank line: end of event
 *   data: {"choices":[{"delta":{"content":"Hel"}}]}
 *
 *   data:{"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}
 *
 *   data: [DONE]                                  end of the reply
 *
 * Lines end in "\n", "\r\n" or "\r" and the network cuts them at any byte,
 * so bytes are first gathered into lines. An event's data may span several
 * "data:" lines (joined by "\n"); it is handed on as soon as it parses as
 * JSON, so servers that omit the blank line work too. Each event's
 * choices[0].delta.content (or choices[0].text, as completion-style servers
 * send) is streamed through on_text and appended to out. A server that
 * ignores "stream" and answers with one JSON body
 * ({"choices":[{"message":{"content":"…"}}]}) is recognised by its first
 * byte '{' and handled too. {"error":{"message":…}} in a body or an event
 * becomes the error message.
 *
 * When on_text asks to stop, the transfer is aborted there and chat()
 * returns 0 with out holding the text so far (that piece included); the
 * "stop" strings are left to the server. Errors name the endpoint
 * (without any user:password@) and say what went wrong: cannot connect,
 * HTTP status with the server's message, timeouts, a reply that is neither
 * SSE nor JSON (quoting its first bytes), an empty or cut-short reply.
 *
 * No global state besides curl_global_init (run once): the backend holds
 * only read-only settings, so two backends, or two threads on one, are fine.
 * The API key is never written into an error message.
 */
#include "generate/generate.h"

#include <stdlib.h>
#include <string.h>

#ifdef LORE_HAVE_CURL

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#define OAI_MAX_LINE   (16u << 20)  /* one SSE line or event */
#define OAI_MAX_BODY   (64u << 20)  /* a non-streamed JSON reply */
#define OAI_MAX_ERRBODY (64u << 10) /* kept of an HTTP error body */
#define OAI_HEAD       40           /* first bytes quoted in messages */

struct oai {
    char *url;        /* full endpoint: …/v1/chat/completions */
    char *shown;      /* the same without user:password@, for messages */
    char *model;      /* NULL: no "model" field */
    char *auth;       /* "Authorization: Bearer …" or NULL */
    int connect_timeout_s, timeout_s, idle_timeout_s;
};

/* ---- curl_global_init, once ---------------------------------------------------- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- small helpers ------------------------------------------------------------- */

static void wipe(char *s)
{
    if (!s)
        return;
    volatile char *v = s;
    while (*v)
        *v++ = 0;
}

/* Quotes up to OAI_HEAD bytes of p as printable ASCII into out (>= 4*OAI_HEAD+4). */
static void quote_head(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < OAI_HEAD && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c == '\r') {
            out[o++] = '\\';
            out[o++] = 'r';
        } else if (c < 0x20 || c >= 0x7f || c == '\\') {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (n > OAI_HEAD && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Base URL → endpoint. Accepts "host:port", "http://h:p", "http://h:p/",
 * "http://h:p/v1", "http://h:p/v1/", a path prefix ("…/api/v1") and the full
 * "…/v1/chat/completions". */
static int build_url(const char *base, char **url, char **shown, struct lore_err *e)
{
    if (!base || !*base)
        return lore_err_set(e, LORE_EINVAL, "no server URL given");
    while (isspace((unsigned char)*base))
        base++;
    size_t n = strlen(base);
    while (n && isspace((unsigned char)base[n - 1]))
        n--;
    struct lore_buf b;
    lore_buf_init(&b);
    const char *sep = strstr(base, "://");
    for (const char *c = base; sep && c < sep; c++)
        if (!isalnum((unsigned char)*c) && *c != '+' && *c != '-' && *c != '.')
            sep = NULL;   /* "host:port/x?u=http://…": no scheme */
    int rc = 0;
    if (!sep || (size_t)(sep - base) > n) {
        rc = lore_buf_puts(&b, "http://");
        sep = NULL;
    } else {
        size_t sl = (size_t)(sep - base);
        if (!((sl == 4 && strncasecmp(base, "http", 4) == 0) ||
              (sl == 5 && strncasecmp(base, "https", 5) == 0)))
            return lore_err_set(e, LORE_EINVAL, "unsupported URL '%.*s': use http:// or https://",
                                (int)(n > 200 ? 200 : n), base);
    }
    rc = rc ? rc : lore_buf_append(&b, base, n);
    if (!rc) {
        size_t host = (size_t)(strstr(b.data, "://") + 3 - b.data);
        while (b.len > host && b.data[b.len - 1] == '/')
            b.data[--b.len] = 0;
        if (b.len == host || b.data[host] == '/') {
            lore_buf_release(&b);
            return lore_err_set(e, LORE_EINVAL, "no host in URL '%.*s'",
                                (int)(n > 200 ? 200 : n), base);
        }
    }
    if (!rc && !ends_with(b.data, b.len, "/chat/completions"))
        rc = lore_buf_puts(&b, ends_with(b.data, b.len, "/v1") ? "/chat/completions"
                                                              : "/v1/chat/completions");
    if (rc) {
        lore_buf_release(&b);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    /* the shown form drops user:password@ */
    char *s = strdup(b.data);
    if (!s) {
        lore_buf_release(&b);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    char *host = strstr(s, "://") + 3;
    char *slash = strchr(host, '/');
    char *at = strchr(host, '@');
    if (at && (!slash || at < slash))
        memmove(host, at + 1, strlen(at + 1) + 1);
    *url = lore_buf_detach(&b, NULL);
    *shown = s;
    return 0;
}

/* ---- one request's state --------------------------------------------------------- */

enum oai_mode {
    MODE_SNIFF,   /* no significant byte yet */
    MODE_SSE,     /* text/event-stream lines */
    MODE_JSON,    /* one JSON body (server ignored "stream") */
};

struct req {
    const struct oai *o;
    CURL *h;
    gen_on_text on_text;
    void *ud;
    struct lore_buf *out;
    struct lore_err *e;
    long http;               /* status code, read at the first body byte */
    enum oai_mode mode;
    struct lore_buf line;    /* the line being gathered */
    struct lore_buf data;    /* the current event's data lines */
    struct lore_buf body;    /* JSON body, or the head of an HTTP error body */
    char head[OAI_HEAD + 1]; /* first body bytes, for messages */
    size_t n_head;
    size_t n_bytes;          /* body bytes received */
    size_t n_text;           /* text bytes handed on */
    int cr;                  /* last byte was '\r': a '\n' now ends nothing */
    int saw_field;           /* an SSE field or comment has been seen */
    int n_events;            /* JSON events parsed */
    int done;                /* "data: [DONE]" seen */
    int finished;            /* a finish_reason seen */
    int stopped;             /* on_text asked to stop */
    int failed;              /* e holds the error */
    int idle;                /* aborted: nothing received for idle_timeout_s */
    double last_rx_ms;       /* when a byte last came (or the connection was made) */
};

static int req_fail(struct req *r, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int req_fail(struct req *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lore_err_vset(r->e, status, fmt, ap);
    va_end(ap);
    r->failed = 1;
    return 1;
}

static int req_garbage(struct req *r, const char *what)
{
    char q[4 * OAI_HEAD + 8];
    quote_head(r->head, r->n_head, q, sizeof q);
    return req_fail(r, LORE_EFORMAT, "unexpected reply from %s%s%s (first bytes: %s)",
                    r->o->shown, what ? ": " : "", what ? what : "", q);
}

/* Hands a piece of text on; returns 1 to abort the transfer. */
static int emit(struct req *r, const char *s, size_t n)
{
    if (!n)
        return 0;
    if (lore_buf_append(r->out, s, n))
        return req_fail(r, LORE_ENOMEM, "out of memory reading from %s", r->o->shown);
    r->n_text += n;
    if (r->on_text && r->on_text(r->ud, s, n)) {
        r->stopped = 1;
        return 1;
    }
    return 0;
}

/* The message of an error body: {"error":{"message":…}}, {"error":"…"},
 * {"message":…} (vLLM) or {"detail":…} (FastAPI). NULL if none. */
static const char *error_message(json_t *j)
{
    if (!json_is_object(j))
        return NULL;
    json_t *err = json_object_get(j, "error");
    if (json_is_string(err))
        return json_string_value(err);
    if (json_is_object(err)) {
        json_t *m = json_object_get(err, "message");
        if (json_is_string(m))
            return json_string_value(m);
    }
    json_t *m = json_object_get(j, "message");
    if (json_is_string(m))
        return json_string_value(m);
    m = json_object_get(j, "detail");
    if (json_is_string(m))
        return json_string_value(m);
    return NULL;
}

/* One parsed event or body. Returns 1 to abort the transfer. */
static int take_json(struct req *r, json_t *j)
{
    if (!json_is_object(j))
        return req_garbage(r, "not a JSON object");
    r->n_events++;
    json_t *err = json_object_get(j, "error");
    if (err && !json_is_null(err)) {
        const char *m = error_message(j);
        return req_fail(r, LORE_EIO, "error from %s: %.300s", r->o->shown,
                        m ? m : "(no message)");
    }
    json_t *choices = json_object_get(j, "choices");
    if (!json_is_array(choices)) {
        if (r->mode == MODE_JSON)
            return req_garbage(r, "no \"choices\"");
        return 0;   /* e.g. a usage-only event */
    }
    json_t *c0 = json_array_get(choices, 0);
    if (!json_is_object(c0))
        return 0;
    if (json_is_string(json_object_get(c0, "finish_reason")))
        r->finished = 1;
    json_t *t = NULL;
    json_t *delta = json_object_get(c0, "delta");
    json_t *msg = json_object_get(c0, "message");
    if (json_is_object(delta))
        t = json_object_get(delta, "content");
    if (!json_is_string(t))
        t = json_object_get(c0, "text");
    if (!json_is_string(t) && json_is_object(msg))
        t = json_object_get(msg, "content");
    if (!json_is_string(t))
        return 0;
    return emit(r, json_string_value(t), json_string_length(t));
}

/* A "data:" field value. */
static int sse_data(struct req *r, const char *v, size_t n)
{
    if ((r->data.len && lore_buf_putc(&r->data, '\n')) || lore_buf_append(&r->data, v, n))
        return req_fail(r, LORE_ENOMEM, "out of memory reading from %s", r->o->shown);
    if (r->data.len > OAI_MAX_LINE)
        return req_fail(r, LORE_ELIMIT, "event from %s larger than %u bytes", r->o->shown,
                        OAI_MAX_LINE);
    if (r->data.len == 6 && memcmp(r->data.data, "[DONE]", 6) == 0) {
        r->done = 1;
        r->data.len = 0;
        return 1;   /* nothing more to read */
    }
    json_t *j = json_loadb(r->data.data, r->data.len, 0, NULL);
    if (!j)
        return 0;   /* maybe continued on the next data: line */
    r->data.len = 0;
    int rc = take_json(r, j);
    json_decref(j);
    return rc;
}

/* One complete SSE line (without its line end). */
static int sse_line(struct req *r, const char *s, size_t n)
{
    if (!r->saw_field && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
        s += 3;   /* a UTF-8 BOM */
        n -= 3;
    }
    if (n == 0) {   /* end of an event */
        if (r->data.len)
            return req_garbage(r, "an event's data is not JSON");
        return 0;
    }
    if (s[0] == ':') {
        r->saw_field = 1;
        return 0;
    }
    const char *colon = memchr(s, ':', n);
    size_t fl = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vl = (size_t)(s + n - v);
    if (vl && *v == ' ') {
        v++;
        vl--;
    }
    if (fl == 4 && memcmp(s, "data", 4) == 0) {
        r->saw_field = 1;
        return sse_data(r, v, vl);
    }
    if ((fl == 5 && memcmp(s, "event", 5) == 0) || (fl == 2 && memcmp(s, "id", 2) == 0) ||
        (fl == 5 && memcmp(s, "retry", 5) == 0)) {
        r->saw_field = 1;
        return 0;
    }
    /* Unknown fields are ignored in a stream, but a reply that does not
     * start like one is not SSE at all. */
    return r->saw_field ? 0 : req_garbage(r, NULL);
}

/* Gathers bytes into lines and hands each on. Returns 1 to abort. */
static int sse_feed(struct req *r, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (r->cr) {
            r->cr = 0;
            if (p[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r')
            j++;
        if (j > i) {
            if (r->line.len + (j - i) > OAI_MAX_LINE)
                return req_fail(r, LORE_ELIMIT, "line from %s longer than %u bytes",
                                r->o->shown, OAI_MAX_LINE);
            if (lore_buf_append(&r->line, p + i, j - i))
                return req_fail(r, LORE_ENOMEM, "out of memory reading from %s", r->o->shown);
        }
        if (j == n)
            return 0;
        r->cr = p[j] == '\r';
        int rc = sse_line(r, r->line.len ? r->line.data : "", r->line.len);
        r->line.len = 0;
        if (rc)
            return rc;
        i = j + 1;
    }
    return 0;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct req *r = ud;
    size_t n = size * nmemb;
    r->last_rx_ms = lore_now_ms();
    if (!r->http)
        curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->http);
    if (r->n_head < OAI_HEAD) {
        size_t k = OAI_HEAD - r->n_head < n ? OAI_HEAD - r->n_head : n;
        memcpy(r->head + r->n_head, p, k);
        r->n_head += k;
    }
    r->n_bytes += n;
    if (r->http < 200 || r->http > 299) {   /* keep the head of an error body */
        size_t room = OAI_MAX_ERRBODY - r->body.len;
        if (room && lore_buf_append(&r->body, p, n < room ? n : room))
            return 0;
        return n;
    }
    size_t i = 0;
    if (r->mode == MODE_SNIFF) {
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
            i++;
        if (i == n)
            return n;
        r->mode = p[i] == '{' ? MODE_JSON : MODE_SSE;
        r->cr = 0;
    }
    if (r->mode == MODE_JSON) {
        if (r->body.len + (n - i) > OAI_MAX_BODY) {
            req_fail(r, LORE_ELIMIT, "reply from %s larger than %u bytes", r->o->shown,
                     OAI_MAX_BODY);
            return 0;
        }
        if (lore_buf_append(&r->body, p + i, n - i)) {
            req_fail(r, LORE_ENOMEM, "out of memory reading from %s", r->o->shown);
            return 0;
        }
        return n;
    }
    return sse_feed(r, p + i, n - i) ? 0 : n;
}

/* The idle timeout. curl's LOW_SPEED_TIME alone is not enough: it averages
 * over a few seconds that include sending the request, so a server that
 * never answers would be given ~6 s more than asked. The clock starts once
 * connected (connecting has its own timeout) and restarts at every byte;
 * curl calls this about once a second or more often. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct req *r = ud;
    double now = lore_now_ms();
    curl_off_t conn = 0;
    if (curl_easy_getinfo(r->h, CURLINFO_CONNECT_TIME_T, &conn) != CURLE_OK || conn == 0) {
        r->last_rx_ms = now;
        return 0;
    }
    if (now - r->last_rx_ms >= r->o->idle_timeout_s * 1000.0) {
        r->idle = 1;
        return 1;
    }
    return 0;
}

/* ---- after the transfer ------------------------------------------------------- */

static int http_error(struct req *r)
{
    long st = r->http;
    int status = st == 401 || st == 403 ? LORE_EPERM : st == 404 ? LORE_ENOENT : LORE_EIO;
    json_t *j = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    const char *m = error_message(j);
    if (m) {
        lore_err_set(r->e, status, "HTTP %ld from %s: %.300s", st, r->o->shown, m);
    } else if (r->n_head) {
        char q[4 * OAI_HEAD + 8];
        quote_head(r->head, r->n_head, q, sizeof q);
        lore_err_set(r->e, status, "HTTP %ld from %s (first bytes: %s)", st, r->o->shown, q);
    } else {
        lore_err_set(r->e, status, "HTTP %ld from %s%s", st, r->o->shown,
                     st == 404 ? " (is it an OpenAI-compatible server?)" : "");
    }
    json_decref(j);
    return status;
}

static void lower_first(char *s)
{
    if (s[0] && isupper((unsigned char)s[0]) && !isupper((unsigned char)s[1]))
        s[0] = (char)tolower((unsigned char)s[0]);
}

static int curl_error(struct req *r, CURLcode cc, char *errbuf)
{
    const struct oai *o = r->o;
    if (!errbuf[0])
        snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(cc));
    lower_first(errbuf);
    switch (cc) {
    case CURLE_COULDNT_CONNECT: {
        long os = 0;
        curl_easy_getinfo(r->h, CURLINFO_OS_ERRNO, &os);
        char why[128];
        snprintf(why, sizeof why, "%s", os ? strerror((int)os) : errbuf);
        lower_first(why);
        return lore_err_set(r->e, LORE_EIO, "cannot connect to %s: %s", o->shown, why);
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return lore_err_set(r->e, LORE_EIO, "cannot connect to %s: unknown host", o->shown);
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t conn = 0, total = 0;
        curl_easy_getinfo(r->h, CURLINFO_CONNECT_TIME_T, &conn);
        curl_easy_getinfo(r->h, CURLINFO_TOTAL_TIME_T, &total);
        if (conn == 0)
            return lore_err_set(r->e, LORE_ELIMIT, "cannot connect to %s: timed out after %d s",
                                o->shown, o->connect_timeout_s);
        if (o->timeout_s > 0 && total >= (curl_off_t)o->timeout_s * 1000000 - 250000)
            return lore_err_set(r->e, LORE_ELIMIT,
                                "no complete reply from %s within %d s (timeout)", o->shown,
                                o->timeout_s);
        return lore_err_set(r->e, LORE_ELIMIT, "%s sent nothing for %d s (idle timeout)",
                            o->shown, o->idle_timeout_s);
    }
    case CURLE_ABORTED_BY_CALLBACK:
        if (r->idle)
            return lore_err_set(r->e, LORE_ELIMIT, "%s sent nothing for %d s (idle timeout)",
                                o->shown, o->idle_timeout_s);
        return lore_err_set(r->e, LORE_ECANCELED, "request to %s was aborted", o->shown);
    case CURLE_GOT_NOTHING:
        return lore_err_set(r->e, LORE_EIO, "empty reply from %s: the server closed the connection",
                            o->shown);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_WEIRD_SERVER_REPLY:
        return lore_err_set(r->e, LORE_EFORMAT, "unexpected reply from %s: not HTTP (%s)",
                            o->shown, errbuf);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return lore_err_set(r->e, LORE_EIO, "connection to %s lost: %s", o->shown, errbuf);
    case CURLE_OUT_OF_MEMORY:
        return lore_err_set(r->e, LORE_ENOMEM, "out of memory talking to %s", o->shown);
    default:
        return lore_err_set(r->e, LORE_EIO, "request to %s failed: %s", o->shown, errbuf);
    }
}

/* The reply ended (curl finished without error): flush and judge it. */
static int finish_reply(struct req *r)
{
    if (r->mode == MODE_SNIFF)
        return lore_err_set(r->e, LORE_EIO, "empty reply from %s", r->o->shown);
    if (r->mode == MODE_JSON) {
        json_error_t je;
        json_t *j = json_loadb(r->body.data, r->body.len, 0, &je);
        if (!j) {
            req_garbage(r, "not SSE or JSON");
            return r->e ? r->e->status : LORE_EFORMAT;
        }
        take_json(r, j);
        json_decref(j);
        if (r->failed)
            return r->e ? r->e->status : LORE_EFORMAT;
        return 0;
    }
    /* SSE: a last line without its line end, a last event without its blank line */
    if (r->line.len) {
        sse_line(r, r->line.data, r->line.len);
        r->line.len = 0;
    }
    if (r->failed)
        return r->e ? r->e->status : LORE_EFORMAT;
    if (r->done || r->stopped || (r->finished && !r->data.len))
        return 0;
    if (!r->n_events && !r->data.len)
        return lore_err_set(r->e, LORE_EIO, "empty reply from %s: no data events", r->o->shown);
    return lore_err_set(r->e, LORE_EIO,
                        "reply from %s was cut short after %zu bytes of text (no [DONE])",
                        r->o->shown, r->n_text);
}

/* ---- the request body ----------------------------------------------------------- */

static int build_body(const struct oai *o, const struct gen_msg *msgs, size_t n,
                      const struct gen_params *p, struct lore_buf *b)
{
    int rc = lore_buf_puts(b, "{\"messages\":[");
    for (size_t i = 0; i < n && !rc; i++) {
        const char *role = msgs[i].role ? msgs[i].role : "user";
        const char *content = msgs[i].content ? msgs[i].content : "";
        rc = lore_buf_puts(b, i ? ",{\"role\":" : "{\"role\":");
        rc = rc ? rc : lore_buf_json_str(b, role, strlen(role));
        rc = rc ? rc : lore_buf_puts(b, ",\"content\":");
        rc = rc ? rc : lore_buf_json_str(b, content, strlen(content));
        rc = rc ? rc : lore_buf_putc(b, '}');
    }
    rc = rc ? rc : lore_buf_puts(b, "],\"stream\":true");
    if (p) {
        if (!rc && p->max_tokens > 0)
            rc = lore_buf_printf(b, ",\"max_tokens\":%d", p->max_tokens);
        double t = p->temperature;
        if (!isfinite(t) || t < 0)
            t = 0;
        /* JSON has no uint64: seeds are sent as 63-bit numbers */
        rc = rc ? rc : lore_buf_printf(b, ",\"temperature\":%.6g,\"seed\":%llu", t,
                                       (unsigned long long)(p->seed & INT64_MAX));
        if (!rc && p->n_stop && p->stop) {
            rc = lore_buf_puts(b, ",\"stop\":[");
            size_t k = 0;
            for (size_t i = 0; i < p->n_stop && !rc; i++) {
                if (!p->stop[i] || !*p->stop[i])
                    continue;
                rc = (k++ ? lore_buf_putc(b, ',') : 0);
                rc = rc ? rc : lore_buf_json_str(b, p->stop[i], strlen(p->stop[i]));
            }
            rc = rc ? rc : lore_buf_putc(b, ']');
        }
    }
    if (!rc && o->model) {
        rc = lore_buf_puts(b, ",\"model\":");
        rc = rc ? rc : lore_buf_json_str(b, o->model, strlen(o->model));
    }
    return rc ? rc : lore_buf_putc(b, '}');
}

/* ---- the backend ---------------------------------------------------------------- */

static int oai_chat(void *self, const struct gen_msg *msgs, size_t n, const struct gen_params *p,
                    gen_on_text on_text, void *ud, struct lore_buf *out, struct lore_err *e)
{
    const struct oai *o = self;
    if (!out || (n && !msgs))
        return lore_err_set(e, LORE_EINVAL, "chat: no messages or no output buffer");
    struct lore_buf body;
    lore_buf_init(&body);
    if (build_body(o, msgs, n, p, &body)) {
        lore_buf_release(&body);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL, *t;
    const char *hs[] = {"Content-Type: application/json",
                        "Accept: text/event-stream, application/json", "Expect:", o->auth};
    int bad = !h;
    for (size_t i = 0; i < sizeof hs / sizeof hs[0] && !bad; i++) {
        if (!hs[i])
            continue;
        t = curl_slist_append(hdr, hs[i]);
        if (!t)
            bad = 1;
        else
            hdr = t;
    }
    if (bad) {
        for (t = hdr; t; t = t->next)
            wipe(t->data);
        curl_slist_free_all(hdr);
        curl_easy_cleanup(h);
        lore_buf_release(&body);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }

    struct lore_err dummy;
    struct req r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.h = h;
    r.on_text = on_text;
    r.ud = ud;
    r.out = out;
    r.e = e ? e : &dummy;
    r.mode = MODE_SNIFF;
    r.last_rx_ms = lore_now_ms();
    lore_buf_init(&r.line);
    lore_buf_init(&r.data);
    lore_buf_init(&r.body);
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = 0;

    curl_easy_setopt(h, CURLOPT_URL, o->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "lore/" LORE_VERSION);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)o->connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)o->timeout_s);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &r);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    /* a backstop for the idle timeout (see on_progress) */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)o->idle_timeout_s);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);

    CURLcode cc = curl_easy_perform(h);
    if (!r.http || r.http < 200 || r.http > 299)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.http);

    int rc;
    if (r.failed)
        rc = r.e->status;
    else if (r.stopped || r.done)
        rc = 0;   /* we cut the transfer short ourselves */
    else if (r.http >= 300 || (r.http && r.http < 200))
        rc = http_error(&r);   /* even if the error body was cut short */
    else if (cc != CURLE_OK && !(cc == CURLE_PARTIAL_FILE && r.finished))
        rc = curl_error(&r, cc, errbuf);
    else
        rc = finish_reply(&r);

    for (t = hdr; t; t = t->next)
        wipe(t->data);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    lore_buf_release(&r.line);
    lore_buf_release(&r.data);
    lore_buf_release(&r.body);
    lore_buf_release(&body);
    return rc;
}

/* An estimate: ASCII at ~4 bytes a token (English with BPE/SPM vocabularies),
 * two-byte characters (Latin accents, Cyrillic, Greek…) at ~2 a token, and
 * CJK and other wider characters at ~1 each. Errs towards more tokens, which
 * is the safe side when packing a context. */
static int oai_count_tokens(void *self, const char *text, size_t len)
{
    size_t units = 0;   /* quarter tokens */
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x80) {
            units += 1;
            i++;
        } else if (c >= 0xc2 && c <= 0xdf) {
            units += 2;
            i += 2;
        } else {
            units += 4;
            i += c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 1;
        }
    }
    size_t t = (units + 3) / 4;
    return t > INT32_MAX ? INT32_MAX : (int)t;
}

static void oai_free(void *self)
{
    struct oai *o = self;
    if (!o)
        return;
    wipe(o->auth);
    free(o->auth);
    free(o->url);
    free(o->shown);
    free(o->model);
    free(o);
}

int gen_backend_openai(const struct gen_openai_opts *opts, struct gen_backend **out,
                       struct lore_err *e)
{
    if (!out)
        return lore_err_set(e, LORE_EINVAL, "gen_backend_openai: no output pointer");
    *out = NULL;
    if (!opts)
        return lore_err_set(e, LORE_EINVAL, "gen_backend_openai: no options");
    pthread_once(&g_once, global_init);
    if (g_init_rc != CURLE_OK)
        return lore_err_set(e, LORE_EIO, "cannot initialise libcurl: %s",
                            curl_easy_strerror(g_init_rc));
    struct oai *o = calloc(1, sizeof *o);
    struct gen_backend *b = calloc(1, sizeof *b);
    if (!o || !b) {
        free(o);
        free(b);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    int rc = build_url(opts->url, &o->url, &o->shown, e);
    if (rc) {
        free(o);
        free(b);
        return rc;
    }
    const char *key = opts->api_key && *opts->api_key ? opts->api_key : getenv("LORE_GEN_API_KEY");
    if (key && *key) {
        if (strpbrk(key, "\r\n")) {
            lore_err_set(e, LORE_EINVAL, "API key for %s contains a line break", o->shown);
            oai_free(o);
            free(b);
            return LORE_EINVAL;
        }
        struct lore_buf a;
        lore_buf_init(&a);
        if (lore_buf_puts(&a, "Authorization: Bearer ") || lore_buf_puts(&a, key)) {
            if (a.data)
                wipe(a.data);
            lore_buf_release(&a);
            oai_free(o);
            free(b);
            return lore_err_set(e, LORE_ENOMEM, "out of memory");
        }
        o->auth = lore_buf_detach(&a, NULL);
    }
    if (opts->model && *opts->model && !(o->model = strdup(opts->model))) {
        oai_free(o);
        free(b);
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    }
    o->connect_timeout_s = opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 5;
    o->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 300;
    o->idle_timeout_s = opts->idle_timeout_s > 0 ? opts->idle_timeout_s : 60;
    b->name = "openai";
    b->n_ctx = opts->n_ctx > 0 ? opts->n_ctx : 4096;
    b->self = o;
    b->chat = oai_chat;
    b->count_tokens = oai_count_tokens;
    b->free = oai_free;
    *out = b;
    return 0;
}

#else /* !LORE_HAVE_CURL */

int gen_backend_openai(const struct gen_openai_opts *opts, struct gen_backend **out,
                       struct lore_err *e)
{
    if (out)
        *out = NULL;
    return lore_err_set(e, LORE_EUNSUPPORTED,
                        "this lore was built without libcurl: no OpenAI-compatible servers");
}

#endif
