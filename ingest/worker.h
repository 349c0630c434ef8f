/* worker.h — ingest-private: the isolated parser worker (see worker.c). */
#ifndef LORE_INGEST_WORKER_H
#define LORE_INGEST_WORKER_H

#include "ingest/ingest.h"
#include <sys/types.h>

struct ing_worker {
    pid_t pid;
    int fd;                 /* read end, -1 once drained */
    struct lore_buf out;
    double started_ms;
    struct ing_limits limits;
    int timed_out, too_big, oom;
    /* owned by the pipeline: which file this is */
    size_t file_index;
    void *ctx;
};

int ing_worker_start(struct ing_worker *w, const char *uri, const char *mime, const char *data,
                     size_t n, const struct ing_extract_opts *xo, const struct ing_chunk_opts *co,
                     const struct ing_limits *l, struct lore_err *e);
/* Reads what is available (fd must be non-blocking or readable); returns 1
 * when the worker's output is complete (EOF or cut off). */
int ing_worker_pump(struct ing_worker *w);
void ing_worker_kill(struct ing_worker *w);
/* Reaps the child and decodes its result. */
int ing_worker_finish(struct ing_worker *w, struct ing_result *res, struct lore_err *e);

#endif
