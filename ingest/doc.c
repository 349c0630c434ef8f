/*
 * doc.c — the document model every extractor fills: blocks with page,
 * heading path, kind and char span; warnings; and its JSON form (what
 * `lore extract --json` prints).
 */
#include "ingest/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ing_doc *ing_doc_new(const char *uri, const char *mime)
{
    struct ing_doc *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->uri = strdup(uri ? uri : "");
    d->title = strdup("");
    d->mime = strdup(mime ? mime : "text/plain");
    if (!d->uri || !d->title || !d->mime) {
        ing_doc_free(d);
        return NULL;
    }
    return d;
}

void ing_doc_free(struct ing_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_blocks; i++) {
        free(d->blocks[i].text);
        free(d->blocks[i].heading);
        free(d->blocks[i].boxes);
    }
    free(d->blocks);
    for (size_t i = 0; i < d->n_warnings; i++)
        free(d->warnings[i]);
    free(d->warnings);
    free(d->uri);
    free(d->title);
    free(d->mime);
    free(d);
}

int ing_doc_set_title(struct ing_doc *d, const char *title)
{
    char *t = strdup(title ? title : "");
    if (!t)
        return LORE_ENOMEM;
    free(d->title);
    d->title = t;
    return 0;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' &&
            s[i] != '\f' && s[i] != '\v')
            return 0;
    return 1;
}

int ing_doc_add(struct ing_doc *d, int kind, int level, int page,
                const char *heading, const char *text, size_t n,
                int64_t char_start, int64_t char_end)
{
    if (is_blank(text, n))
        return 0;
    if (d->n_blocks == d->cap_blocks) {
        size_t cap = d->cap_blocks ? d->cap_blocks * 2 : 32;
        struct ing_block *b = realloc(d->blocks, cap * sizeof *b);
        if (!b)
            return LORE_ENOMEM;
        d->blocks = b;
        d->cap_blocks = cap;
    }
    struct ing_block *b = &d->blocks[d->n_blocks];
    memset(b, 0, sizeof *b);
    b->text = malloc(n + 1);
    b->heading = strdup(heading ? heading : "");
    if (!b->text || !b->heading) {
        free(b->text);
        free(b->heading);
        return LORE_ENOMEM;
    }
    memcpy(b->text, text, n);
    b->text[n] = 0;
    b->len = n;
    b->kind = kind;
    b->level = level;
    b->page = page;
    b->char_start = char_start;
    b->char_end = char_end;
    d->n_blocks++;
    return 0;
}

int ing_doc_warn(struct ing_doc *d, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char **w = realloc(d->warnings, (d->n_warnings + 1) * sizeof *w);
    if (!w)
        return LORE_ENOMEM;
    d->warnings = w;
    if (!(w[d->n_warnings] = strdup(msg)))
        return LORE_ENOMEM;
    d->n_warnings++;
    return 0;
}

static const char *kind_name(int k)
{
    switch (k) {
    case ING_HEADING: return "heading";
    case ING_LIST: return "list";
    case ING_CODE: return "code";
    case ING_TABLE: return "table";
    case ING_QUOTE: return "quote";
    default: return "paragraph";
    }
}

int ing_doc_to_json(const struct ing_doc *d, struct lore_buf *b)
{
    int rc = 0;
    rc |= lore_buf_puts(b, "{\"uri\":");
    rc |= lore_buf_json_str(b, d->uri, strlen(d->uri));
    rc |= lore_buf_puts(b, ",\"title\":");
    rc |= lore_buf_json_str(b, d->title, strlen(d->title));
    rc |= lore_buf_puts(b, ",\"mime\":");
    rc |= lore_buf_json_str(b, d->mime, strlen(d->mime));
    rc |= lore_buf_printf(b, ",\"pages\":%d,\"blocks\":[", d->pages);
    for (size_t i = 0; i < d->n_blocks && !rc; i++) {
        const struct ing_block *k = &d->blocks[i];
        rc |= lore_buf_printf(b, "%s{\"page\":%d,\"kind\":\"%s\",\"heading\":", i ? "," : "",
                              k->page, kind_name(k->kind));
        rc |= lore_buf_json_str(b, k->heading, strlen(k->heading));
        rc |= lore_buf_printf(b, ",\"char_start\":%lld,\"char_end\":%lld,\"text\":",
                              (long long)k->char_start, (long long)k->char_end);
        rc |= lore_buf_json_str(b, k->text, k->len);
        rc |= lore_buf_putc(b, '}');
    }
    rc |= lore_buf_puts(b, "],\"warnings\":[");
    for (size_t i = 0; i < d->n_warnings && !rc; i++) {
        if (i)
            rc |= lore_buf_putc(b, ',');
        rc |= lore_buf_json_str(b, d->warnings[i], strlen(d->warnings[i]));
    }
    rc |= lore_buf_puts(b, "]}");
    return rc ? LORE_ENOMEM : 0;
}
