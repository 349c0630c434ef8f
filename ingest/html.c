/*
 * html.c — the HTML extractor: libxml2's forgiving HTML parser builds the
 * tree, lore walks it and keeps what a reader would call the content.
 *
 *   bytes ─► html_decode (BOM, <meta charset>, UTF-8 or windows-1252) ─► UTF-8
 *         ─► htmlReadMemory (no network, no entity or DTD loading, errors
 *            silenced, the document's own encoding hint ignored)
 *         ─► the content root: <main>, role=main, a lone <article>, or <body>
 *         ─► an iterative walk (no recursion: 100k nested <div>s are fine)
 *            that drops boilerplate — script/style/nav/aside/form/…, page
 *            headers and footers, hidden nodes, cookie/consent/newsletter/
 *            share/breadcrumb blocks recognised by class or id — and emits:
 *              h1–h6       ING_HEADING (and the heading path)
 *              p, div, …   ING_PARA, whitespace collapsed
 *              ul/ol       ING_LIST, "- item" / "1. item", nested indented
 *              table       ING_TABLE, one row a line, cells " | "
 *              pre         ING_CODE, verbatim
 *              blockquote  ING_QUOTE
 *
 * The document's text is its blocks joined by "\n\n"; each block's char span
 * is its code-point range in that text (page 0: HTML has no pages).
 */
#include "ingest/extract_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef LORE_HAVE_LIBXML2

#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <limits.h>
#include <pthread.h>

/* ---- libxml2 set-up: nothing is ever loaded from outside ------------------- */

static xmlParserInputPtr refuse_entity(const char *url, const char *id, xmlParserCtxtPtr c)
{
    (void)url; (void)id; (void)c;
    return NULL;
}

static void quiet_generic(void *ctx, const char *msg, ...)
{
    (void)ctx; (void)msg;
}

static void quiet_structured(void *ctx, xmlErrorPtr err)
{
    (void)ctx; (void)err;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libxml(void)
{
    xmlInitParser();
    xmlSetExternalEntityLoader(refuse_entity);
}

/* ---- element classes ------------------------------------------------------------ */

static int name_in(const xmlChar *name, const char *const *list)
{
    for (; *list; list++)
        if (!xmlStrcasecmp(name, BAD_CAST *list))
            return 1;
    return 0;
}

static const char *const drop_tags[] = {
    "script", "style", "noscript", "template", "nav", "aside", "form", "button",
    "iframe", "svg", "math", "select", "textarea", "input", "head", "object",
    "embed", "canvas", "audio", "video", "map", "dialog", "menu", "frameset",
    "frame", "link", "meta", "title", "base", NULL};

static const char *const block_tags[] = {
    "p", "div", "section", "article", "main", "address", "hr", "figure",
    "figcaption", "dl", "dt", "dd", "center", "fieldset", "details", "summary",
    "body", "html", "header", "footer", "hgroup", "caption", "legend", NULL};

/* Tokens of class/id values that mark boilerplate. */
static const char *const junk_tokens[] = {
    "cookie", "cookies", "consent", "gdpr", "newsletter", "subscribe", "subscription",
    "share", "sharing", "social", "breadcrumb", "breadcrumbs", "navbar", "navbox",
    "nav", "navigation", "menu", "sidebar", "advert", "advertisement", "ads", "ad",
    "popup", "modal", "promo", "editsection", "noprint", "skiplink", "toc", NULL};

static int token_match(const char *v, size_t n, int page_level)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && !((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
                          (v[i] >= '0' && v[i] <= '9')))
            i++;
        size_t j = i;
        while (j < n && ((v[j] >= 'a' && v[j] <= 'z') || (v[j] >= 'A' && v[j] <= 'Z') ||
                         (v[j] >= '0' && v[j] <= '9')))
            j++;
        if (j > i && j - i < 32) {
            char tok[32];
            for (size_t k = i; k < j; k++)
                tok[k - i] = (char)(v[k] >= 'A' && v[k] <= 'Z' ? v[k] + 32 : v[k]);
            tok[j - i] = 0;
            for (const char *const *t = junk_tokens; *t; t++)
                if (!strcmp(tok, *t))
                    return 1;
            if (page_level && (!strcmp(tok, "header") || !strcmp(tok, "footer") ||
                               !strcmp(tok, "masthead")))
                return 1;
        }
        i = j;
    }
    return 0;
}

/* Lowercased copy of v with whitespace removed, into out (cap bytes). */
static void squash(const char *v, char *out, size_t cap)
{
    size_t o = 0;
    for (; *v && o + 1 < cap; v++)
        if (*v != ' ' && *v != '\t' && *v != '\n' && *v != '\r')
            out[o++] = (char)(*v >= 'A' && *v <= 'Z' ? *v + 32 : *v);
    out[o] = 0;
}

/* Hidden or boilerplate by its attributes. */
static int is_junk_node(xmlNodePtr n, int page_level)
{
    int junk = 0;
    for (xmlAttrPtr a = n->properties; a && !junk; a = a->next) {
        const char *an = (const char *)a->name;
        if (!strcasecmp(an, "hidden"))
            return 1;
        xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);
        if (!v)
            continue;
        const char *s = (const char *)v;
        if (!strcasecmp(an, "aria-hidden")) {
            junk = !strcasecmp(s, "true");
        } else if (!strcasecmp(an, "style")) {
            char sq[512];
            squash(s, sq, sizeof sq);
            junk = strstr(sq, "display:none") || strstr(sq, "visibility:hidden");
        } else if (!strcasecmp(an, "class") || !strcasecmp(an, "id")) {
            junk = token_match(s, strlen(s), page_level) || strstr(s, "sr-only") ||
                   strstr(s, "visually-hidden") || strstr(s, "screen-reader");
        } else if (!strcasecmp(an, "role")) {
            junk = !strcasecmp(s, "navigation") || !strcasecmp(s, "banner") ||
                   !strcasecmp(s, "contentinfo") || !strcasecmp(s, "complementary") ||
                   !strcasecmp(s, "search") || !strcasecmp(s, "dialog");
        }
        xmlFree(v);
    }
    return junk;
}

static int heading_level(const xmlChar *name)
{
    if ((name[0] == 'h' || name[0] == 'H') && name[1] >= '1' && name[1] <= '6' && !name[2])
        return name[1] - '0';
    return 0;
}

/* ---- the walk ------------------------------------------------------------------ */

#define MAX_LIST 16

struct hx {
    const char *uri;
    struct ing_doc *d;
    struct lore_buf cur;      /* the block being built */
    struct txn_w w;
    int kind;                 /* kind of the block being built */
    char *stack[6];           /* heading path */
    struct lore_buf path;
    int64_t cursor;           /* code points of document text so far */
    int list_depth, list_block;
    int ordered[MAX_LIST], counter[MAX_LIST];
    int table_depth, table_block, cells, rows, max_cells;
    int pre_depth, quote_depth, section_depth;
    int heading;              /* level of the open heading, 0 when none */
    int rc;
};

static int emit_block(struct hx *h, int kind, int level)
{
    if (h->kind != ING_CODE)
        txn_w_trim(&h->w);
    struct lore_buf *b = &h->cur;
    /* code: drop leading and trailing blank lines only */
    size_t start = 0;
    if (kind == ING_CODE) {
        while (start < b->len && b->data[start] == '\n')
            start++;
        while (b->len > start && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == ' '))
            b->len--;
    }
    /* other blocks: no blank line ends */
    while (kind != ING_CODE && b->len && b->data[b->len - 1] == '\n')
        b->len--;
    while (kind != ING_CODE && start < b->len && (b->data[start] == '\n' || b->data[start] == ' '))
        start++;
    int rc = 0;
    if (b->len > start) {
        const char *t = b->data + start;
        size_t n = b->len - start;
        if (kind == ING_HEADING) {
            int lv = level < 1 ? 1 : level > 6 ? 6 : level;
            char *copy = malloc(n + 1);
            if (!copy)
                return LORE_ENOMEM;
            for (size_t i = 0; i < n; i++)
                copy[i] = t[i] == '\n' ? ' ' : t[i];
            copy[n] = 0;
            free(h->stack[lv - 1]);
            h->stack[lv - 1] = copy;
            for (int k = lv; k < 6; k++) {
                free(h->stack[k]);
                h->stack[k] = NULL;
            }
            if (lv == 1 && !h->d->title[0])
                rc = ing_doc_set_title(h->d, copy);
        }
        h->path.len = 0;
        for (int k = 0; k < 6 && !rc; k++)
            if (h->stack[k])
                rc = (h->path.len ? lore_buf_puts(&h->path, " > ") : 0) ||
                     lore_buf_puts(&h->path, h->stack[k]) ? LORE_ENOMEM : 0;
        if (!rc) {
            if (h->path.data)
                h->path.data[h->path.len] = 0;
            int64_t cps = (int64_t)lore_utf8_len(t, n);
            size_t before = h->d->n_blocks;
            rc = ing_doc_add(h->d, kind, kind == ING_HEADING ? level : 0, 0,
                             h->path.len ? h->path.data : "", t, n, h->cursor,
                             h->cursor + cps);
            if (!rc && h->d->n_blocks > before)
                h->cursor += cps + 2;
        }
    }
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
    h->w.pending_space = 0;
    h->kind = h->quote_depth ? ING_QUOTE : ING_PARA;
    return rc;
}

/* Ends the paragraph in progress, if any (not inside lists or tables). */
static int flush_para(struct hx *h)
{
    if (h->list_block || h->table_block || h->pre_depth || h->heading)
        return 0;
    return emit_block(h, h->quote_depth ? ING_QUOTE : ING_PARA, 0);
}

static int soft_break(struct hx *h)
{
    /* inside a list item or a cell a block boundary is just a space */
    if (h->cur.len && h->cur.data[h->cur.len - 1] != ' ' && h->cur.data[h->cur.len - 1] != '\n')
        h->w.pending_space = 1;
    return 0;
}

static int put_raw(struct hx *h, const char *s)
{
    h->w.pending_space = 0;
    return lore_buf_puts(&h->cur, s);
}

/* Enter an element: returns 1 to descend, 0 to skip it (and its leave). */
static int enter(struct hx *h, xmlNodePtr n)
{
    const xmlChar *name = n->name;
    int page_level = h->section_depth == 0;
    if (name_in(name, drop_tags))
        return 0;
    if (page_level && (!xmlStrcasecmp(name, BAD_CAST "header") ||
                       !xmlStrcasecmp(name, BAD_CAST "footer")))
        return 0;
    if (n->properties && is_junk_node(n, page_level))
        return 0;
    int lv = heading_level(name);
    if (!xmlStrcasecmp(name, BAD_CAST "article") || !xmlStrcasecmp(name, BAD_CAST "main") ||
        !xmlStrcasecmp(name, BAD_CAST "section"))
        h->section_depth++;
    if (h->pre_depth) {
        if (!xmlStrcasecmp(name, BAD_CAST "br"))
            h->rc = lore_buf_putc(&h->cur, '\n');
        return 1;
    }
    if (lv) {
        if (h->list_block || h->table_block || h->heading)
            return soft_break(h), 1;
        if ((h->rc = flush_para(h)))
            return 0;
        h->heading = lv;
        h->kind = ING_HEADING;
        return 1;
    }
    if (!xmlStrcasecmp(name, BAD_CAST "ul") || !xmlStrcasecmp(name, BAD_CAST "ol")) {
        if (!h->list_block && !h->table_block && !h->heading) {
            if ((h->rc = flush_para(h)))
                return 0;
            h->list_block = 1;
            h->kind = ING_LIST;
        }
        if (h->list_depth < MAX_LIST) {
            h->ordered[h->list_depth] = !xmlStrcasecmp(name, BAD_CAST "ol");
            h->counter[h->list_depth] = 0;
        }
        h->list_depth++;
        return 1;
    }
    if (!xmlStrcasecmp(name, BAD_CAST "li")) {
        if (!h->list_block || h->table_block)
            return soft_break(h), 1;
        int depth = h->list_depth < 1 ? 1 : h->list_depth > MAX_LIST ? MAX_LIST : h->list_depth;
        txn_w_trim(&h->w);
        if (h->cur.len && (h->rc = lore_buf_putc(&h->cur, '\n')))
            return 0;
        for (int i = 1; i < depth && !h->rc; i++)
            h->rc = lore_buf_puts(&h->cur, "  ");
        char mark[16] = "- ";
        if (h->ordered[depth - 1])
            snprintf(mark, sizeof mark, "%d. ", ++h->counter[depth - 1]);
        if (!h->rc)
            h->rc = put_raw(h, mark);
        return !h->rc;
    }
    if (!xmlStrcasecmp(name, BAD_CAST "table")) {
        if (!h->table_block && !h->list_block && !h->heading) {
            if ((h->rc = flush_para(h)))
                return 0;
            h->table_block = 1;
            h->rows = h->cells = h->max_cells = 0;
            h->kind = ING_TABLE;
        } else {
            soft_break(h);
        }
        h->table_depth++;
        return 1;
    }
    if (h->table_block && h->table_depth == 1 && !h->list_block) {
        if (!xmlStrcasecmp(name, BAD_CAST "tr")) {
            txn_w_trim(&h->w);
            /* a new line for the row, unless the last row was empty */
            if (h->rows++ && h->cur.len && h->cur.data[h->cur.len - 1] != '\n' &&
                (h->rc = lore_buf_putc(&h->cur, '\n')))
                return 0;
            h->cells = 0;
            return 1;
        }
        if (!xmlStrcasecmp(name, BAD_CAST "td") || !xmlStrcasecmp(name, BAD_CAST "th")) {
            txn_w_trim(&h->w);
            if (!h->rows)   /* cells outside any <tr>: an implied first row */
                h->rows = 1;
            if (h->cells++ && (h->rc = put_raw(h, " | ")))
                return 0;
            if (h->cells > h->max_cells)
                h->max_cells = h->cells;
            return 1;
        }
    }
    if (!xmlStrcasecmp(name, BAD_CAST "pre")) {
        if (h->list_block || h->table_block || h->heading)
            return soft_break(h), 1;
        if ((h->rc = flush_para(h)))
            return 0;
        h->pre_depth++;
        h->kind = ING_CODE;
        return 1;
    }
    if (!xmlStrcasecmp(name, BAD_CAST "blockquote")) {
        if (!h->list_block && !h->table_block && !h->heading) {
            if ((h->rc = flush_para(h)))
                return 0;
            h->quote_depth++;
            h->kind = ING_QUOTE;
        } else {
            soft_break(h);
        }
        return 1;
    }
    if (!xmlStrcasecmp(name, BAD_CAST "br")) {
        if (h->list_block || h->table_block || h->heading)
            return soft_break(h), 1;
        txn_w_trim(&h->w);
        h->rc = h->cur.len ? lore_buf_putc(&h->cur, '\n') : 0;
        return 1;
    }
    if (name_in(name, block_tags) || !xmlStrcasecmp(name, BAD_CAST "tr") ||
        !xmlStrcasecmp(name, BAD_CAST "td") || !xmlStrcasecmp(name, BAD_CAST "th")) {
        if (h->list_block || h->table_block || h->heading)
            return soft_break(h), 1;
        h->rc = flush_para(h);
        return !h->rc;
    }
    return 1;   /* inline: a, span, b, em, code, … */
}

static void leave(struct hx *h, xmlNodePtr n)
{
    const xmlChar *name = n->name;
    if (!xmlStrcasecmp(name, BAD_CAST "article") || !xmlStrcasecmp(name, BAD_CAST "main") ||
        !xmlStrcasecmp(name, BAD_CAST "section"))
        h->section_depth--;
    if (h->rc)
        return;
    if (!xmlStrcasecmp(name, BAD_CAST "pre") && h->pre_depth && h->kind == ING_CODE) {
        if (--h->pre_depth == 0)
            h->rc = emit_block(h, ING_CODE, 0);
        return;
    }
    if (h->pre_depth)
        return;
    int lv = heading_level(name);
    if (lv && h->heading == lv) {
        h->heading = 0;
        h->rc = emit_block(h, ING_HEADING, lv);
        return;
    }
    if (!xmlStrcasecmp(name, BAD_CAST "ul") || !xmlStrcasecmp(name, BAD_CAST "ol")) {
        if (h->list_depth > 0 && --h->list_depth == 0 && h->list_block) {
            h->list_block = 0;
            h->rc = emit_block(h, ING_LIST, 0);
        }
        return;
    }
    if (!xmlStrcasecmp(name, BAD_CAST "table")) {
        if (h->table_depth > 0 && --h->table_depth == 0 && h->table_block) {
            h->table_block = 0;
            /* a layout table (one cell a row) is just text */
            h->rc = emit_block(h, h->max_cells > 1 ? ING_TABLE : ING_PARA, 0);
        }
        return;
    }
    if (!xmlStrcasecmp(name, BAD_CAST "blockquote") && h->quote_depth && !h->list_block &&
        !h->table_block && !h->heading) {
        h->rc = emit_block(h, ING_QUOTE, 0);
        h->quote_depth--;
        h->kind = h->quote_depth ? ING_QUOTE : ING_PARA;
        return;
    }
    if (h->table_block && (!xmlStrcasecmp(name, BAD_CAST "td") ||
                           !xmlStrcasecmp(name, BAD_CAST "th")))
        txn_w_trim(&h->w);
    if (name_in(name, block_tags) && !h->list_block && !h->table_block && !h->heading)
        h->rc = flush_para(h);
}

static void text(struct hx *h, xmlNodePtr n)
{
    if (!n->content || h->rc)
        return;
    const char *s = (const char *)n->content;
    size_t len = strlen(s);
    if (h->pre_depth)
        h->rc = txn_append(&h->cur, s, len);
    else
        h->rc = txn_w_put(&h->w, s, len);
}

static void walk(struct hx *h, xmlNodePtr root)
{
    xmlNodePtr n = root;
    while (n && !h->rc) {
        int down = 0;
        if (n->type == XML_ELEMENT_NODE) {
            down = enter(h, n);
            if (down && !n->children) {
                leave(h, n);
                down = 0;
            }
        } else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            text(h, n);
        }
        if (down) {
            n = n->children;
            continue;
        }
        while (n != root && !n->next) {
            n = n->parent;
            if (n->type == XML_ELEMENT_NODE)
                leave(h, n);
        }
        if (n == root)
            break;
        n = n->next;
    }
}

/* ---- picking the content ---------------------------------------------------------- */

/* Next element in document order (iterative), staying under root. */
static xmlNodePtr next_node(xmlNodePtr n, xmlNodePtr root, int descend)
{
    if (descend && n->children)
        return n->children;
    while (n != root && !n->next)
        n = n->parent;
    return n == root ? NULL : n->next;
}

static int has_attr_value(xmlNodePtr n, const char *attr, const char *value)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST attr);
    int r = v && !xmlStrcasecmp(v, BAD_CAST value);
    xmlFree(v);
    return r;
}

static xmlNodePtr content_root(xmlNodePtr top, xmlNodePtr *title)
{
    xmlNodePtr body = NULL, main_el = NULL, article = NULL;
    int articles = 0;
    *title = NULL;
    for (xmlNodePtr n = top; n; ) {
        int descend = 1;
        if (n->type == XML_ELEMENT_NODE) {
            const xmlChar *nm = n->name;
            if (!xmlStrcasecmp(nm, BAD_CAST "title") && !*title)
                *title = n;
            else if (!xmlStrcasecmp(nm, BAD_CAST "body") && !body)
                body = n;
            else if (!main_el && (!xmlStrcasecmp(nm, BAD_CAST "main") ||
                                  has_attr_value(n, "role", "main")))
                main_el = n;
            else if (!xmlStrcasecmp(nm, BAD_CAST "article")) {
                if (!articles++)
                    article = n;
                descend = 0;  /* articles inside articles count once */
            }
            if (!xmlStrcasecmp(nm, BAD_CAST "svg") || !xmlStrcasecmp(nm, BAD_CAST "script") ||
                !xmlStrcasecmp(nm, BAD_CAST "style"))
                descend = 0;
        }
        n = next_node(n, top, descend);
    }
    if (main_el)
        return main_el;
    if (articles == 1)
        return article;
    return body ? body : top;
}

static int title_text(xmlNodePtr t, struct ing_doc *d)
{
    xmlChar *c = xmlNodeGetContent(t);
    if (!c)
        return 0;
    struct lore_buf b;
    lore_buf_init(&b);
    struct txn_w w = {&b, 0};
    int rc = txn_w_put(&w, (const char *)c, strlen((const char *)c));
    xmlFree(c);
    if (!rc && b.len)
        rc = ing_doc_set_title(d, b.data);
    lore_buf_release(&b);
    return rc;
}

int ing_extract_html(const char *uri, const char *data, size_t n, struct ing_doc **out,
                     struct lore_err *e)
{
    *out = NULL;
    if (!uri)
        uri = "";
    if (!data)
        n = 0;
    if (n > (size_t)INT_MAX / 2)
        return lore_err_set(e, LORE_ELIMIT, "'%s': HTML file too large (%zu bytes)", uri, n);
    pthread_once(&init_once, init_libxml);
    xmlSetGenericErrorFunc(NULL, quiet_generic);
    xmlSetStructuredErrorFunc(NULL, quiet_structured);

    char *utf8 = NULL, warn[160];
    size_t ulen = 0;
    const char *charset = NULL;
    int rc = html_decode(uri, data ? data : "", n, &utf8, &ulen, &charset, warn, sizeof warn, e);
    if (rc)
        return rc;
    if (ulen > (size_t)INT_MAX) {
        free(utf8);
        return lore_err_set(e, LORE_ELIMIT, "'%s': HTML file too large", uri);
    }
    struct ing_doc *d = ing_doc_new(uri, "text/html");
    if (!d) {
        free(utf8);
        return lore_err_set(e, LORE_ENOMEM, "'%s': out of memory", uri);
    }
    if (warn[0])
        ing_doc_warn(d, "%s", warn);
    int opts = HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR |
               HTML_PARSE_NOWARNING | HTML_PARSE_IGNORE_ENC | HTML_PARSE_COMPACT;
    htmlDocPtr doc = ulen ? htmlReadMemory(utf8, (int)ulen, NULL, "UTF-8", opts) : NULL;
    free(utf8);
    xmlNodePtr top = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!top) {   /* empty or nothing parseable: an empty document */
        if (doc)
            xmlFreeDoc(doc);
        *out = d;
        return 0;
    }
    xmlNodePtr title = NULL;
    xmlNodePtr root = content_root(top, &title);
    struct hx h;
    memset(&h, 0, sizeof h);
    h.uri = uri;
    h.d = d;
    lore_buf_init(&h.cur);
    lore_buf_init(&h.path);
    h.w.b = &h.cur;
    h.kind = ING_PARA;
    if (title)
        h.rc = title_text(title, d);
    if (!h.rc)
        walk(&h, root);
    if (!h.rc) {  /* whatever is still open */
        int kind = h.table_block ? ING_TABLE : h.list_block ? ING_LIST :
                   h.pre_depth ? ING_CODE : h.heading ? ING_HEADING : h.kind;
        h.rc = emit_block(&h, kind, h.heading);
    }
    for (int k = 0; k < 6; k++)
        free(h.stack[k]);
    lore_buf_release(&h.cur);
    lore_buf_release(&h.path);
    xmlFreeDoc(doc);
    if (h.rc) {
        ing_doc_free(d);
        return lore_err_set(e, LORE_ENOMEM, "'%s': out of memory extracting HTML", uri);
    }
    *out = d;
    return 0;
}

#else /* !LORE_HAVE_LIBXML2 */

int ing_extract_html(const char *uri, const char *data, size_t n, struct ing_doc **out,
                     struct lore_err *e)
{
    (void)data; (void)n;
    *out = NULL;
    return lore_err_set(e, LORE_EUNSUPPORTED,
                        "'%s': lore was built without HTML support (libxml2)", uri);
}

#endif
