/*
 * make_pdf.c — writes a text PDF of N pages with cairo, for the ingest
 * benchmark: a heading and ~45 lines of prose per page, a running header and
 * a page number, like a long report.   usage: make_pdf OUT.pdf [PAGES]
 */
#include <cairo-pdf.h>
#include <stdio.h>
#include <stdlib.h>

static const char *words[] = {
    "archive", "budget", "clinic", "data", "evidence", "finance", "growth", "hospital", "index",
    "journal", "knowledge", "library", "market", "network", "office", "policy", "quarter", "report",
    "science", "table", "update", "value", "window", "year", "patient", "retention", "backup",
    "security", "audit", "citation", "passage", "document", "revenue", "method", "result", "the",
    "of", "and", "to", "in", "for", "with", "on", "by", "was", "is", "are", "from", "that", "this",
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: make_pdf OUT.pdf [PAGES]\n");
        return 2;
    }
    int pages = argc > 2 ? atoi(argv[2]) : 500;
    cairo_surface_t *s = cairo_pdf_surface_create(argv[1], 612, 792);
    cairo_t *cr = cairo_create(s);
    unsigned long long seed = 12345;
    for (int p = 1; p <= pages; p++) {
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, 8);
        cairo_move_to(cr, 72, 40);
        cairo_show_text(cr, "Northwind Clinic Annual Report 2026");
        char num[32];
        snprintf(num, sizeof num, "%d", p);
        cairo_move_to(cr, 300, 770);
        cairo_show_text(cr, num);
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
        cairo_set_font_size(cr, 16);
        char h[64];
        snprintf(h, sizeof h, "Section %d", p);
        cairo_move_to(cr, 72, 80);
        cairo_show_text(cr, h);
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, 10);
        for (int l = 0; l < 45; l++) {
            char line[256];
            int n = 0;
            for (int w = 0; w < 13; w++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                const char *word = words[(seed >> 33) % (sizeof words / sizeof words[0])];
                n += snprintf(line + n, sizeof line - (size_t)n, "%s%s", w ? " " : "", word);
            }
            if (l % 6 == 5)
                snprintf(line + n, sizeof line - (size_t)n, ".");
            cairo_move_to(cr, 72, 110 + l * 14);
            cairo_show_text(cr, line);
        }
        cairo_show_page(cr);
    }
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    return 0;
}
