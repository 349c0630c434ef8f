/* pdf.c — placeholder until the Poppler extractor lands (issue 4). */
#include "ingest/ingest.h"

int ing_extract_pdf(const char *uri, const char *data, size_t n,
                    const struct ing_extract_opts *opts, struct ing_doc **out,
                    struct lore_err *e)
{
    *out = NULL;
    return lore_err_set(e, LORE_EUNSUPPORTED, "'%s': PDF support is not built yet", uri);
}
