#pragma once

// Printable documents for residents (e.g. 本人確認情報開示決定通知書): a small block model laid out
// on A4 with Cairo and Pango and returned as PDF bytes. Headings, paragraphs, label ‖ value
// tables and ruled tables that continue across pages with their header row repeated; a footer
// and "n / m" page numbers on every page.
//
// Only this module includes Cairo or Pango.

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace kakunin::render {

struct PdfTable {
  std::vector<std::string> header;             // column titles (UTF-8); at least one
  std::vector<double> widths;                  // relative column widths, header.size() of them
                                               // (empty: equal widths)
  std::vector<std::vector<std::string>> rows;  // each row has header.size() cells; text wraps
                                               // inside its cell
};

struct PdfBlock {
  enum class Kind { kHeading, kParagraph, kKeyValues, kTable, kSpacer };
  Kind kind = Kind::kParagraph;
  std::string text;  // kHeading, kParagraph (may contain '\n')
  std::vector<std::pair<std::string, std::string>> key_values;  // kKeyValues: label ‖ value rows
                                                                // (a ruled 2-column table,
                                                                // label column shaded)
  PdfTable table;                                               // kTable
};

struct PdfDocument {
  std::string title;           // large, centred on page 1; may be empty
  std::string reference;       // right-aligned above the title on page 1 (文書番号, date); may be
                               // empty
  std::string footer;          // one small line at the bottom left of every page (cut with "…"
                               // if too long); the bottom right prints "n / m"
  std::string metadata_title;  // the PDF's Title metadata. It is readable by anything that
                               // indexes the file: callers pass a generic title, never personal
                               // data. Empty: no Title.
  std::vector<PdfBlock> blocks;
};

// Limits on a document (InvalidArgument beyond them), bounding time and memory.
inline constexpr size_t kPdfMaxBlocks = 2000;
inline constexpr size_t kPdfMaxTableRows = 10000;  // rows of all tables and key-value blocks
inline constexpr size_t kPdfMaxColumns = 16;
inline constexpr size_t kPdfMaxCellBytes = 8192;        // a table cell, header cell, label, value
inline constexpr size_t kPdfMaxParagraphBytes = 65536;  // a heading or paragraph
inline constexpr size_t kPdfMaxLineBytes = 1024;  // title, reference, footer, metadata title
inline constexpr size_t kPdfMaxTotalBytes = 4 << 20;  // all text together

// Lays `doc` out on A4 portrait (20 mm margins; Noto Sans CJK JP through fontconfig, falling back
// to "sans-serif"; body 10.5 pt, tables 9 pt) and returns the PDF. The PDF's metadata carries
// metadata_title and Creator "Kakunin" only.
//
// Layout: headings are kept with the start of what follows; paragraphs break across pages
// between lines; a table row moves whole to the next page (header row repeated there) unless
// it is taller than a page, when it is split between lines of its cells.
//
// Errors: InvalidArgument for a table without columns, more than kPdfMaxColumns columns, a row
// whose cell count differs from the header, widths of the wrong count or not positive and
// finite, text that is not valid UTF-8 or holds a control character other than tab and line
// breaks (or a bidirectional override), or a limit above exceeded; the message names the block,
// row and column, never the text. Internal if Cairo or Pango fail.
//
// Thread-safe: each call has its own font map and surfaces.
Result<std::string> RenderPdf(const PdfDocument& doc);

}  // namespace kakunin::render
