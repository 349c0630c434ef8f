/* html.c — placeholder until the libxml2 extractor lands (issue 4). */
#include "ingest/ingest.h"

int ing_extract_html(const char *uri, const char *data, size_t n,
                     struct ing_doc **out, struct lore_err *e)
{
    *out = NULL;
    return lore_err_set(e, LORE_EUNSUPPORTED, "'%s': HTML support is not built yet", uri);
}
