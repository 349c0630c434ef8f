/*
 * faiss_c_compat.cpp — the part of FAISS's official C API that lore uses,
 * implemented over the C++ API. Debian's libfaiss-dev ships the C API
 * headers (<faiss/c_api/...>) but not the compiled libfaiss_c, so we build
 * the declarations we call ourselves; when a system libfaiss_c is found
 * (LORE_HAVE_FAISS_C) this file compiles to nothing and that library is used.
 *
 * Every function is noexcept at the boundary: a C++ exception (FaissException,
 * std::bad_alloc, anything) is caught here and becomes the C API's negative
 * error code, with its message kept for faiss_get_last_error(). That message
 * is valid only until the next failing call on the same thread: callers copy
 * it at once (index/vectors.c does).
 *
 * Handles are the C++ objects themselves (FaissIndex* is a faiss::Index*),
 * as in the official library, so either implementation behaves the same.
 * Only index/vectors.c calls these.
 *
 * At the end, lore's own extensions (lore_faiss_*, declared in
 * index/vectors_internal.h): HNSW, which FAISS 1.7.3's C API lacks, and
 * access to an index's float rows; built in either case.
 */
#if defined(LORE_HAVE_FAISS)

#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/IndexFlat_c.h>
#include <faiss/c_api/MetaIndexes_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/impl/AuxIndexStructures_c.h>
#include <faiss/c_api/index_io_c.h>

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_io.h>

#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// The last error of this thread. A fixed buffer: recording an error must not
// allocate (it may be reporting std::bad_alloc).
thread_local char last_error[512] = "";

void set_error(const char *what) noexcept
{
    std::snprintf(last_error, sizeof last_error, "%s", what && *what ? what : "unknown error");
}

// Runs f, turning any exception into the C API's error code.
template <class F> int guarded(F &&f) noexcept
{
    try {
        f();
        return OK;
    } catch (const faiss::FaissException &ex) {
        set_error(ex.what());
        return FAISS_EXCEPT;
    } catch (const std::bad_alloc &) {
        set_error("out of memory");
        return STD_EXCEPT;
    } catch (const std::exception &ex) {
        set_error(ex.what());
        return STD_EXCEPT;
    } catch (...) {
        set_error("unknown error");
        return UNKNOWN_EXCEPT;
    }
}

faiss::Index *ix(FaissIndex *p) { return reinterpret_cast<faiss::Index *>(p); }
const faiss::Index *ix(const FaissIndex *p) { return reinterpret_cast<const faiss::Index *>(p); }
FaissIndex *handle(faiss::Index *p) { return reinterpret_cast<FaissIndex *>(p); }

void check_out(const void *p, const char *what)
{
    if (!p)
        throw std::invalid_argument(std::string(what) + " is NULL");
}

} // namespace

#if !defined(LORE_HAVE_FAISS_C)
extern "C" {

const char *faiss_get_last_error()
{
    return last_error;
}

/* ---- Index ----------------------------------------------------------------- */

void faiss_Index_free(FaissIndex *obj)
{
    delete ix(obj); // virtual destructor; deletes the sub-index when owned
}

int faiss_Index_d(const FaissIndex *obj)
{
    return static_cast<int>(ix(obj)->d);
}

int faiss_Index_is_trained(const FaissIndex *obj)
{
    return ix(obj)->is_trained ? 1 : 0;
}

idx_t faiss_Index_ntotal(const FaissIndex *obj)
{
    return static_cast<idx_t>(ix(obj)->ntotal);
}

FaissMetricType faiss_Index_metric_type(const FaissIndex *obj)
{
    return static_cast<FaissMetricType>(ix(obj)->metric_type);
}

int faiss_Index_add_with_ids(FaissIndex *index, idx_t n, const float *x, const idx_t *xids)
{
    return guarded([&] {
        check_out(index, "index");
        ix(index)->add_with_ids(n, x, reinterpret_cast<const faiss::Index::idx_t *>(xids));
    });
}

int faiss_Index_search(const FaissIndex *index, idx_t n, const float *x, idx_t k,
                       float *distances, idx_t *labels)
{
    return guarded([&] {
        check_out(index, "index");
        ix(index)->search(n, x, k, distances, reinterpret_cast<faiss::Index::idx_t *>(labels));
    });
}

int faiss_Index_reset(FaissIndex *index)
{
    return guarded([&] {
        check_out(index, "index");
        ix(index)->reset();
    });
}

int faiss_Index_remove_ids(FaissIndex *index, const FaissIDSelector *sel, size_t *n_removed)
{
    return guarded([&] {
        check_out(index, "index");
        check_out(sel, "selector");
        size_t n = ix(index)->remove_ids(*reinterpret_cast<const faiss::IDSelector *>(sel));
        if (n_removed)
            *n_removed = n;
    });
}

int faiss_Index_reconstruct(const FaissIndex *index, idx_t key, float *recons)
{
    return guarded([&] {
        check_out(index, "index");
        ix(index)->reconstruct(key, recons);
    });
}

/* ---- IndexFlatIP ----------------------------------------------------------- */

int faiss_IndexFlatIP_new_with(FaissIndexFlatIP **p_index, idx_t d)
{
    return guarded([&] {
        check_out(p_index, "output");
        *p_index = nullptr;
        *p_index = reinterpret_cast<FaissIndexFlatIP *>(new faiss::IndexFlatIP(d));
    });
}

/* ---- IndexIDMap2 ----------------------------------------------------------- */

int faiss_IndexIDMap2_new(FaissIndexIDMap2 **p_index, FaissIndex *index)
{
    return guarded([&] {
        check_out(p_index, "output");
        check_out(index, "sub-index");
        *p_index = nullptr;
        *p_index = reinterpret_cast<FaissIndexIDMap2 *>(
                static_cast<faiss::Index *>(new faiss::IndexIDMap2(ix(index))));
    });
}

int faiss_IndexIDMap2_own_fields(const FaissIndexIDMap2 *obj)
{
    auto *m = dynamic_cast<const faiss::IndexIDMap2 *>(reinterpret_cast<const faiss::Index *>(obj));
    return m && m->own_fields ? 1 : 0;
}

void faiss_IndexIDMap2_set_own_fields(FaissIndexIDMap2 *obj, int own)
{
    auto *m = dynamic_cast<faiss::IndexIDMap2 *>(reinterpret_cast<faiss::Index *>(obj));
    if (m)
        m->own_fields = own != 0;
}

FaissIndexIDMap2 *faiss_IndexIDMap2_cast(FaissIndex *index)
{
    if (!index)
        return nullptr;
    auto *m = dynamic_cast<faiss::IndexIDMap2 *>(ix(index));
    return m ? reinterpret_cast<FaissIndexIDMap2 *>(static_cast<faiss::Index *>(m)) : nullptr;
}

void faiss_IndexIDMap2_id_map(FaissIndexIDMap2 *index, idx_t **p_id_map, size_t *p_size)
{
    auto *m = dynamic_cast<faiss::IndexIDMap2 *>(reinterpret_cast<faiss::Index *>(index));
    if (!m) {
        *p_id_map = nullptr;
        *p_size = 0;
        return;
    }
    *p_id_map = reinterpret_cast<idx_t *>(m->id_map.data());
    *p_size = m->id_map.size();
}

/* ---- IDSelector -------------------------------------------------------------- */

void faiss_IDSelector_free(FaissIDSelector *obj)
{
    delete reinterpret_cast<faiss::IDSelector *>(obj);
}

int faiss_IDSelectorBatch_new(FaissIDSelectorBatch **p_sel, size_t n, const idx_t *indices)
{
    return guarded([&] {
        check_out(p_sel, "output");
        *p_sel = nullptr;
        // the handle is the base-class pointer, so faiss_IDSelector_free and
        // faiss_Index_remove_ids can take it as a FaissIDSelector*
        faiss::IDSelector *s = new faiss::IDSelectorBatch(
                n, reinterpret_cast<const faiss::Index::idx_t *>(indices));
        *p_sel = reinterpret_cast<FaissIDSelectorBatch *>(s);
    });
}

/* ---- I/O ------------------------------------------------------------------------ */

int faiss_write_index(const FaissIndex *idx, FILE *f)
{
    return guarded([&] {
        check_out(idx, "index");
        check_out(f, "file");
        faiss::write_index(ix(idx), f);
    });
}

int faiss_read_index(FILE *f, int io_flags, FaissIndex **p_out)
{
    return guarded([&] {
        check_out(p_out, "output");
        check_out(f, "file");
        *p_out = nullptr;
        *p_out = handle(faiss::read_index(f, io_flags));
    });
}

} // extern "C"
#endif // !LORE_HAVE_FAISS_C

/* ---- lore's extensions (index/vectors_internal.h) ------------------------------
 * Not part of FAISS's C API (1.7.3 has no HNSW there), so built here in
 * either case, over the C++ objects the handles are. Errors are reported
 * through lore_faiss_last_error(), kept separately from the C API's. */

extern "C" {
#include "engine/vecf.h"
}

namespace {

thread_local char lore_error[512] = "";

/* The distance computer of FastFlat: the engine's SIMD dot product
 * (eng_vecf_get()->dot, AVX2 / AVX-512 picked at run time) instead of
 * Debian's generic libfaiss one, which is scalar; HNSW construction and
 * search spend nearly all their time here. L2 is ‖q‖² + ‖x‖² − 2 q·x with
 * the rows' squared norms kept by FastFlat; inner product is q·x (FAISS
 * negates it for HNSW, as it does its own). */
struct FastFlat;

struct FastDis : faiss::FlatCodesDistanceComputer {
    const float *xb;
    const float *norms;
    int d;
    bool l2;
    float (*dot)(const float *, const float *, int);
    const float *q = nullptr;
    float qn = 0;

    FastDis(const float *xb_, const float *norms_, size_t code_size_, int d_, bool l2_)
        : faiss::FlatCodesDistanceComputer(reinterpret_cast<const uint8_t *>(xb_), code_size_), xb(xb_),
          norms(norms_), d(d_), l2(l2_), dot(eng_vecf_get()->dot)
    {
    }
    void set_query(const float *x) override
    {
        q = x;
        qn = l2 ? dot(x, x, d) : 0;
    }
    float distance_to_code(const uint8_t *code) override
    {
        const float *x = reinterpret_cast<const float *>(code);
        float ip = dot(q, x, d);
        if (!l2)
            return ip;
        float r = qn + norms[(x - xb) / d] - 2 * ip;
        return r > 0 ? r : 0;
    }
    float symmetric_dis(idx_t i, idx_t j) override
    {
        float ip = dot(xb + i * d, xb + j * d, d);
        if (!l2)
            return ip;
        float r = norms[i] + norms[j] - 2 * ip;
        return r > 0 ? r : 0;
    }
};

/* An IndexFlat with FastDis as its distance computer, the storage of lore's
 * HNSW indexes. write_index sees a plain IndexFlat (it goes by
 * dynamic_cast), so vectors.faiss keeps FAISS's format; after a load
 * lore_faiss_prepare puts a FastFlat back in. */
struct FastFlat : faiss::IndexFlat {
    std::vector<float> norms; // squared norms of the rows (L2 only)

    FastFlat(int d_, faiss::MetricType m) : faiss::IndexFlat(d_, m) {}

    void update_norms()
    {
        if (metric_type != faiss::METRIC_L2) {
            norms.clear();
            return;
        }
        size_t n0 = norms.size(), n = static_cast<size_t>(ntotal);
        if (n0 > n)
            n0 = 0;
        norms.resize(n);
        const float *x = get_xb();
        auto dot = eng_vecf_get()->dot;
        for (size_t i = n0; i < n; i++)
            norms[i] = dot(x + i * d, x + i * d, d);
    }
    void add(idx_t n, const float *x) override
    {
        faiss::IndexFlat::add(n, x);
        update_norms();
    }
    void reset() override
    {
        faiss::IndexFlat::reset();
        norms.clear();
    }
    faiss::FlatCodesDistanceComputer *get_FlatCodesDistanceComputer() const override
    {
        return new FastDis(get_xb(), norms.data(), code_size, d, metric_type == faiss::METRIC_L2);
    }
};

template <class F> int lore_guarded(F &&f) noexcept
{
    try {
        f();
        return 0;
    } catch (const std::bad_alloc &) {
        std::snprintf(lore_error, sizeof lore_error, "out of memory");
    } catch (const std::exception &ex) {
        std::snprintf(lore_error, sizeof lore_error, "%s", ex.what());
    } catch (...) {
        std::snprintf(lore_error, sizeof lore_error, "unknown error");
    }
    return -1;
}

const faiss::Index *sub_of(const FaissIndex *p)
{
    auto *m = dynamic_cast<const faiss::IndexIDMap2 *>(reinterpret_cast<const faiss::Index *>(p));
    return m ? m->index : nullptr;
}

} // namespace

extern "C" {

const char *lore_faiss_last_error(void)
{
    return lore_error;
}

int lore_faiss_hnsw_new(FaissIndex **out, int d, int m, int ef_construction)
{
    return lore_guarded([&] {
        *out = nullptr;
        /* L2 over unit vectors ranks as inner product does (‖q − x‖² =
         * 2 − 2 q·x); lore_faiss_search1 turns the distances back into
         * inner products */
        auto *h = new faiss::IndexHNSWFlat(d, m, faiss::METRIC_L2);
        h->hnsw.efConstruction = ef_construction;
        auto *fast = new FastFlat(d, faiss::METRIC_L2);
        delete h->storage;
        h->storage = fast;
        *out = handle(h);
    });
}

int lore_faiss_prepare(FaissIndex *map)
{
    return lore_guarded([&] {
        auto *h = dynamic_cast<faiss::IndexHNSW *>(const_cast<faiss::Index *>(sub_of(map)));
        /* read_index makes the storage an IndexFlatL2 / IndexFlatIP */
        auto *old = h ? dynamic_cast<faiss::IndexFlat *>(h->storage) : nullptr;
        if (!old || dynamic_cast<FastFlat *>(old))
            return;
        auto *fast = new FastFlat(static_cast<int>(old->d), old->metric_type);
        fast->codes.swap(old->codes);
        fast->ntotal = old->ntotal;
        fast->update_norms();
        if (h->own_fields)
            delete old;
        h->storage = fast;
        h->own_fields = true;
    });
}

int lore_faiss_kind(const FaissIndex *map)
{
    const faiss::Index *sub = sub_of(map);
    if (!sub)
        return -1;
    if (dynamic_cast<const faiss::IndexFlat *>(sub))
        return 0;
    auto *h = dynamic_cast<const faiss::IndexHNSWFlat *>(sub);
    if (h && dynamic_cast<const faiss::IndexFlat *>(h->storage))
        return 1;
    return -1;
}

int lore_faiss_vectors(const FaissIndex *map, const float **xb, size_t *n)
{
    const faiss::Index *sub = sub_of(map);
    auto *h = dynamic_cast<const faiss::IndexHNSW *>(sub);
    auto *f = dynamic_cast<const faiss::IndexFlat *>(h ? h->storage : sub);
    if (!f)
        return -1;
    *xb = f->get_xb();
    *n = static_cast<size_t>(f->ntotal);
    return 0;
}

int omp_get_max_threads(void);
void omp_set_num_threads(int n);

int lore_faiss_search1(const FaissIndex *index, const float *q, idx_t k, float *distances, idx_t *labels)
{
    /* one query: FAISS would still open a parallel region, whose idle
     * threads then spin (OMP_WAIT_POLICY) against the caller on a busy host */
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc = lore_guarded([&] {
        ix(index)->search(1, q, k, distances, reinterpret_cast<faiss::Index::idx_t *>(labels));
        /* an HNSW over L2 (unit vectors): back to inner products */
        auto *h = dynamic_cast<const faiss::IndexHNSW *>(sub_of(index));
        if (h && h->metric_type == faiss::METRIC_L2)
            for (idx_t i = 0; i < k; i++)
                if (labels[i] >= 0)
                    distances[i] = 1.0f - distances[i] / 2;
    });
    omp_set_num_threads(nt);
    return rc;
}

void lore_faiss_hnsw_set_ef(FaissIndex *map, int ef)
{
    auto *h = dynamic_cast<const faiss::IndexHNSW *>(sub_of(map));
    if (h)
        const_cast<faiss::IndexHNSW *>(h)->hnsw.efSearch = ef;
}

} // extern "C"

#endif
