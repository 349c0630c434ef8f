/*
 * backend.c — what every generator backend shares: gen_backend_free, and
 * the scripted generator the tests use in place of a model.
 *
 * The script backend replies with its texts in turn (the last one repeats
 * for ever), streamed through on_text in pieces of `chunk` bytes exactly as
 * a real generator would stream tokens, and counts tokens as
 * whitespace-separated words.
 */
#include "generate/generate.h"

#include <stdlib.h>
#include <string.h>

void gen_backend_free(struct gen_backend *b)
{
    if (!b)
        return;
    if (b->free)
        b->free(b->self);
    free(b);
}

/* ---- the scripted generator ------------------------------------------------------ */

struct script {
    char **replies;
    size_t n;
    size_t next;     /* the reply the next chat() gives */
    size_t chunk;    /* bytes per streamed piece; 0: the whole reply at once */
};

static int script_chat(void *self, const struct gen_msg *msgs, size_t n,
                       const struct gen_params *p, gen_on_text on_text, void *ud,
                       struct lore_buf *out, struct lore_err *e)
{
    struct script *s = self;
    if (!out)
        return lore_err_set(e, LORE_EINVAL, "chat: no output buffer");
    const char *text = "";
    if (s->n) {
        text = s->replies[s->next < s->n ? s->next : s->n - 1];
        if (s->next < s->n)
            s->next++;
    }
    size_t len = strlen(text);
    size_t step = s->chunk ? s->chunk : (len ? len : 1);
    for (size_t i = 0; i < len; i += step) {
        size_t k = len - i < step ? len - i : step;
        if (lore_buf_append(out, text + i, k))
            return lore_err_set(e, LORE_ENOMEM, "out of memory");
        if (on_text && on_text(ud, text + i, k))
            break;
    }
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int script_count_tokens(void *self, const char *text, size_t len)
{
    int words = 0;
    for (size_t i = 0; i < len; i++)
        if (!is_space(text[i]) && (i == 0 || is_space(text[i - 1])))
            words++;
    return words;
}

static void script_free(void *self)
{
    struct script *s = self;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->replies[i]);
    free(s->replies);
    free(s);
}

int gen_backend_script(const char *const *replies, size_t n, size_t chunk, int n_ctx,
                       struct gen_backend **out)
{
    if (!out || (n && !replies))
        return LORE_EINVAL;
    *out = NULL;
    struct script *s = calloc(1, sizeof *s);
    struct gen_backend *b = calloc(1, sizeof *b);
    if (!s || !b || (n && !(s->replies = calloc(n, sizeof *s->replies)))) {
        free(s);
        free(b);
        return LORE_ENOMEM;
    }
    s->chunk = chunk;
    for (; s->n < n; s->n++) {
        if (!(s->replies[s->n] = strdup(replies[s->n] ? replies[s->n] : ""))) {
            script_free(s);
            free(b);
            return LORE_ENOMEM;
        }
    }
    b->name = "script";
    b->n_ctx = n_ctx > 0 ? n_ctx : 4096;
    b->self = s;
    b->chat = script_chat;
    b->count_tokens = script_count_tokens;
    b->free = script_free;
    *out = b;
    return 0;
}
