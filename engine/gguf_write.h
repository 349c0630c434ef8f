/*
 * gguf_write.h — engine-internal: a GGUF v3 writer (module prefix eng_gguf_w_).
 *
 * Used by the synthetic-model writer (synth.c) and by tests that need model
 * files of a given shape. The metadata and the tensor table are collected in
 * memory first; then the file is written front to back, tensor data streamed
 * in whatever pieces the caller has, so a 1 GB model never has to be held in
 * memory. Everything goes to a temporary file next to the target that is
 * renamed over it only when complete: a reader never sees half a model, and
 * a failure (disk full, bad argument) leaves no file behind.
 *
 * Layout written (all little-endian; the reader, gguf.c, draws the same):
 *
 *   0      "GGUF" | u32 version = 3 | u64 n_tensors | u64 n_kv
 *          n_kv ×      { str key | u32 value_type | value }
 *          n_tensors × { str name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type
 *                        | u64 offset (from the data start, multiple of A) }
 *          zero padding to a multiple of A
 *   data   tensor 0 | 0-pad to A | tensor 1 | 0-pad to A | … | tensor n-1 | 0-pad to A
 *
 *   str   = u64 length + bytes (no NUL)
 *   value = scalar | str | { u32 elem_type | u64 n | n × elem }  (no nesting)
 *   A     = general.alignment if that key is set (u32, a power of two), else 32
 *
 * Usage:
 *     eng_gguf_w_new(&w);
 *     eng_gguf_w_set_str(w, "general.architecture", "llama", 5); ...
 *     eng_gguf_w_add_tensor(w, "token_embd.weight", ENG_TYPE_F16, 2, ne); ...
 *     eng_gguf_w_begin(w, "out.gguf", &err);      header + tensor table
 *     eng_gguf_w_write(w, bytes, n, &err); ...     all tensors' data, in order
 *     eng_gguf_w_finish(w, &err);                  pads, closes, renames
 *     eng_gguf_w_free(w);                          (removes the temp file if
 *                                                   finish was not reached)
 *
 * Errors: the metadata and tensor setters only fail on bad arguments or out
 * of memory; they return the status and also keep the first failure, which
 * eng_gguf_w_begin then reports in full. So a run of setters can be checked
 * once. Nothing here calls exit() or prints.
 */
#ifndef ENG_GGUF_WRITE_H
#define ENG_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lore.h"
#include "engine/engine.h"

struct eng_gguf_w;

/* A new, empty writer; caller frees with eng_gguf_w_free(). LORE_ENOMEM. */
int eng_gguf_w_new(struct eng_gguf_w **out, struct lore_err *e);
/* Frees w; if the file was begun but not finished, closes and removes the
 * temporary file (the target is untouched). NULL is fine. */
void eng_gguf_w_free(struct eng_gguf_w *w);

/* ---- metadata ----------------------------------------------------------------
 * Setting a key that already exists replaces its value (and type) in place,
 * keeping its position. Keys are non-empty and at most 65535 bytes. Only
 * before eng_gguf_w_begin(). */
int eng_gguf_w_set_u8(struct eng_gguf_w *w, const char *key, uint8_t v);
int eng_gguf_w_set_i8(struct eng_gguf_w *w, const char *key, int8_t v);
int eng_gguf_w_set_u16(struct eng_gguf_w *w, const char *key, uint16_t v);
int eng_gguf_w_set_i16(struct eng_gguf_w *w, const char *key, int16_t v);
int eng_gguf_w_set_u32(struct eng_gguf_w *w, const char *key, uint32_t v);
int eng_gguf_w_set_i32(struct eng_gguf_w *w, const char *key, int32_t v);
int eng_gguf_w_set_u64(struct eng_gguf_w *w, const char *key, uint64_t v);
int eng_gguf_w_set_i64(struct eng_gguf_w *w, const char *key, int64_t v);
int eng_gguf_w_set_f32(struct eng_gguf_w *w, const char *key, float v);
int eng_gguf_w_set_f64(struct eng_gguf_w *w, const char *key, double v);
int eng_gguf_w_set_bool(struct eng_gguf_w *w, const char *key, bool v);
/* s need not be NUL-terminated (len bytes are copied). */
int eng_gguf_w_set_str(struct eng_gguf_w *w, const char *key, const char *s,
                       size_t len);
/* An array of n numeric or bool elements of elem_type (enum eng_gguf_type,
 * not STR/ARR), packed little-endian at data (copied). */
int eng_gguf_w_set_arr(struct eng_gguf_w *w, const char *key, int elem_type,
                       const void *data, uint64_t n);
/* An array of n strings; len[i] is the length of s[i], or len NULL for
 * NUL-terminated strings. */
int eng_gguf_w_set_arr_str(struct eng_gguf_w *w, const char *key,
                           const char *const *s, const size_t *len, uint64_t n);
/* Copies entry i of an open file (any type, arrays of strings included) under
 * the same key. A u64 value above INT64_MAX is not representable through the
 * reader's API and gives LORE_EUNSUPPORTED. */
int eng_gguf_w_copy_kv(struct eng_gguf_w *w, const struct eng_gguf *g, int64_t i);
/* Removes key if present (0 either way). */
int eng_gguf_w_remove(struct eng_gguf_w *w, const char *key);
/* Number of keys set so far. */
int64_t eng_gguf_w_n_kv(const struct eng_gguf_w *w);

/* ---- tensors ------------------------------------------------------------------
 * Declares the next tensor: name (unique, 1..63 bytes), type (enum eng_type,
 * one eng_type_get() knows), n_dims 1..4, ne[0] (innermost) a multiple of
 * the type's block size. Data is later written in declaration order. On
 * success returns the tensor's index (>= 0). Only before eng_gguf_w_begin(). */
int64_t eng_gguf_w_add_tensor(struct eng_gguf_w *w, const char *name, int type,
                              uint32_t n_dims, const uint64_t *ne);
/* Bytes of tensor i's data (without padding), 0 when out of range. */
uint64_t eng_gguf_w_tensor_size(const struct eng_gguf_w *w, int64_t i);

/* ---- writing --------------------------------------------------------------------
 * Creates a temporary file in path's directory and writes the header and
 * tensor table. Fails with the first error any setter met, LORE_EINVAL for a
 * bad general.alignment, LORE_ENOENT / LORE_EPERM / LORE_EIO when the file
 * cannot be created. */
int eng_gguf_w_begin(struct eng_gguf_w *w, const char *path, struct lore_err *e);
/* Appends n bytes of tensor data: tensors in the order declared, each
 * exactly its size, in as many calls as convenient (a call may span tensors;
 * padding is inserted by the writer). LORE_EINVAL when more data comes than
 * was declared, LORE_EFULL when the disk is full, LORE_EIO otherwise. */
int eng_gguf_w_write(struct eng_gguf_w *w, const void *data, size_t n,
                     struct lore_err *e);
/* Checks that every tensor got all its bytes, flushes, closes and renames
 * the temporary file to the target. After a failure the temporary file is
 * removed. */
int eng_gguf_w_finish(struct eng_gguf_w *w, struct lore_err *e);
/* Total bytes written so far (header included). */
uint64_t eng_gguf_w_bytes_written(const struct eng_gguf_w *w);

/* Fault injection for tests: the write that would take the file past
 * limit bytes fails as if the disk were full (ENOSPC). 0 = no limit. */
void eng_gguf_w_set_fail_at(struct eng_gguf_w *w, uint64_t limit);

#endif
