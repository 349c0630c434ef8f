/*
 * weights.c — finding a model's weight tensors in its GGUF by name, with
 * the shape, type and block checks every model graph needs (llama.c,
 * bert.c), and 1-D tensors / small tables copied out as floats.
 */
#include "engine/engine.h"
#include "engine/kernels.h"

#include <stdlib.h>
#include <string.h>

int eng_weight_get(const struct eng_gguf *g, const char *name, int64_t ne0, int64_t ne1,
                   int optional, struct eng_weight *w, struct lore_err *e)
{
    struct eng_tensor_info ti;
    memset(w, 0, sizeof *w);
    if (eng_gguf_find_tensor(g, name, &ti) < 0) {
        if (optional)
            return 0;
        return lore_err_set(e, LORE_EFORMAT, "'%s': tensor '%s' is missing", eng_gguf_name(g), name);
    }
    uint64_t rows = ti.n_dims >= 2 ? ti.ne[1] : 1;
    int shape_ok = ti.n_dims <= 2 && (int64_t)ti.ne[0] == ne0 && (ne1 < 0 || (int64_t)rows == ne1);
    if (!shape_ok)
        return lore_err_set(e, LORE_EFORMAT,
                            "'%s': tensor '%s' has shape [%llu, %llu] (%u dims), expected [%lld, %lld]",
                            eng_gguf_name(g), name, (unsigned long long)ti.ne[0],
                            (unsigned long long)rows, ti.n_dims, (long long)ne0, (long long)ne1);
    const struct eng_type_info *tt = eng_type_get((int)ti.type);
    if (!tt || !tt->to_float)
        return lore_err_set(e, LORE_EUNSUPPORTED,
                            "'%s': tensor '%s' has type %s, which lore cannot compute with yet",
                            eng_gguf_name(g), name, eng_ggml_type_name(ti.type));
    if (ne0 % tt->blck)
        return lore_err_set(e, LORE_EFORMAT, "'%s': tensor '%s': row of %lld is not a multiple of the %s block",
                            eng_gguf_name(g), name, (long long)ne0, tt->name);
    w->type = (int)ti.type;
    w->data = ti.data;
    w->ne0 = ne0;
    w->ne1 = (int64_t)rows;
    return 0;
}

int eng_weight_floats(const struct eng_gguf *g, const char *name, int64_t n, int64_t rows,
                      int optional, float **out, struct lore_err *e)
{
    struct eng_weight w;
    *out = NULL;
    int rc = eng_weight_get(g, name, n, rows ? -1 : 1, optional, &w, e);
    if (!rows)
        rows = 1;
    if (rc || !w.data)
        return rc;
    if (w.ne1 < rows)
        return lore_err_set(e, LORE_EFORMAT, "'%s': tensor '%s' has %lld rows, expected at least %lld",
                            eng_gguf_name(g), name, (long long)w.ne1, (long long)rows);
    float *v = malloc((size_t)n * (size_t)rows * sizeof *v);
    if (!v)
        return lore_err_set(e, LORE_ENOMEM, "out of memory");
    eng_type_get(w.type)->to_float(w.data, v, n * rows);
    *out = v;
    return 0;
}
