#include "render/pdf.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string_view>

#include "text/utf8.h"

namespace kakunin::render {
namespace {

// Geometry, in PDF points (1/72 inch).
constexpr double kPageWidth = 595.2756;   // 210 mm
constexpr double kPageHeight = 841.8898;  // 297 mm
constexpr double kMargin = 56.6929;       // 20 mm
constexpr double kContentLeft = kMargin;
constexpr double kContentWidth = kPageWidth - 2 * kMargin;
constexpr double kContentTop = kMargin;
constexpr double kContentBottom = kPageHeight - kMargin;
constexpr double kContentHeight = kContentBottom - kContentTop;
// The footer sits in the bottom margin, its top this far below the content.
constexpr double kFooterGap = 8;
constexpr double kPageNumberWidth = 60;
constexpr double kPageNumberSpaceExtra = 2;

constexpr double kTitleSize = 18;
constexpr double kReferenceSize = 10;
constexpr double kHeadingSize = 13;
constexpr double kBodySize = 10.5;
constexpr double kTableSize = 9;
constexpr double kFooterSize = 8;

// Baseline-to-baseline distance as a factor of the font's height (Noto Sans CJK's is already
// 1.45 em: body text comes to about 1.65 em, table cells to the font's own).
constexpr double kBodySpacing = 1.15;
constexpr double kCellSpacing = 1.0;

constexpr double kCellPadX = 4;
constexpr double kCellPadY = 3;
constexpr double kRuleWidth = 0.5;
constexpr double kRuleGrey = 0.55;
constexpr double kHeaderShade = 0.88;
constexpr double kLabelShade = 0.94;
constexpr double kTextGrey = 0.0;
constexpr double kFooterGrey = 0.35;

constexpr double kAfterTitle = 16;
constexpr double kAfterReference = 10;
constexpr double kBeforeHeading = 12;
constexpr double kHeadingRuleGap = 2;
constexpr double kAfterHeading = 6;
constexpr double kAfterParagraph = 6;
constexpr double kAfterTable = 10;
constexpr double kSpacer = 12;
// A row taller than a page starts on a new page unless this much is left on the current one.
constexpr double kMinSplitSpace = 80;
// No column is narrower than this, whatever the relative widths say.
constexpr double kMinColumnWidth = 24;

constexpr const char* kFontFamily = "Noto Sans CJK JP,sans-serif";

// RAII for the C handles.
struct GObjectUnref {
  void operator()(void* p) const { g_object_unref(p); }
};
struct FontDescriptionFree {
  void operator()(PangoFontDescription* p) const { pango_font_description_free(p); }
};
struct LayoutIterFree {
  void operator()(PangoLayoutIter* p) const { pango_layout_iter_free(p); }
};
struct AttrListUnref {
  void operator()(PangoAttrList* p) const { pango_attr_list_unref(p); }
};
struct SurfaceDestroy {
  void operator()(cairo_surface_t* p) const { cairo_surface_destroy(p); }
};
struct CairoDestroy {
  void operator()(cairo_t* p) const { cairo_destroy(p); }
};
using FontMapPtr = std::unique_ptr<PangoFontMap, GObjectUnref>;
using ContextPtr = std::unique_ptr<PangoContext, GObjectUnref>;
using LayoutPtr = std::unique_ptr<PangoLayout, GObjectUnref>;
using FontPtr = std::unique_ptr<PangoFontDescription, FontDescriptionFree>;
using IterPtr = std::unique_ptr<PangoLayoutIter, LayoutIterFree>;
using SurfacePtr = std::unique_ptr<cairo_surface_t, SurfaceDestroy>;
using CairoPtr = std::unique_ptr<cairo_t, CairoDestroy>;

// ---- Validation ------------------------------------------------------------------------------

std::string Where(size_t block) { return "block " + std::to_string(block + 1); }

// Well-formed UTF-8 with no control character but tab and line breaks, and no bidirectional
// override (which could make printed text read other than it is stored).
Status CheckPrintable(std::string_view s, size_t max_bytes, const std::string& what,
                      size_t* total) {
  if (s.size() > max_bytes) {
    return Status::InvalidArgument(what + " is longer than " + std::to_string(max_bytes) +
                                   " bytes");
  }
  *total += s.size();
  if (*total > kPdfMaxTotalBytes) {
    return Status::InvalidArgument("the document holds more than " +
                                   std::to_string(kPdfMaxTotalBytes) + " bytes of text");
  }
  size_t pos = 0;
  while (pos < s.size()) {
    auto cp = text::DecodeOne(s, &pos);
    if (!cp) return Status::InvalidArgument(what + " is not valid UTF-8");
    if (*cp == '\t' || *cp == '\n' || *cp == '\r') continue;
    if (text::IsForbiddenCodePoint(*cp)) {
      return Status::InvalidArgument(what + " holds a control character");
    }
  }
  return Status::Ok();
}

Status CheckTable(const PdfTable& t, const std::string& where, size_t* rows, size_t* total) {
  const size_t n = t.header.size();
  if (n == 0) return Status::InvalidArgument(where + ": the table has no columns");
  if (n > kPdfMaxColumns) {
    return Status::InvalidArgument(where + ": the table has " + std::to_string(n) +
                                   " columns, more than " + std::to_string(kPdfMaxColumns));
  }
  if (!t.widths.empty()) {
    if (t.widths.size() != n) {
      return Status::InvalidArgument(where + ": the table has " + std::to_string(t.widths.size()) +
                                     " widths for " + std::to_string(n) + " columns");
    }
    for (size_t c = 0; c < n; ++c) {
      if (!std::isfinite(t.widths[c]) || !(t.widths[c] > 0)) {
        return Status::InvalidArgument(where + ": the width of column " + std::to_string(c + 1) +
                                       " is not a positive number");
      }
    }
  }
  for (size_t c = 0; c < n; ++c) {
    KAKUNIN_RETURN_IF_ERROR(CheckPrintable(t.header[c], kPdfMaxCellBytes,
                                           where + ": header column " + std::to_string(c + 1),
                                           total));
  }
  *rows += t.rows.size();
  if (*rows > kPdfMaxTableRows) {
    return Status::InvalidArgument("the document's tables have more than " +
                                   std::to_string(kPdfMaxTableRows) + " rows");
  }
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const std::string at = where + ": table row " + std::to_string(r + 1);
    if (row.size() != n) {
      return Status::InvalidArgument(at + " has " + std::to_string(row.size()) +
                                     " cells, the header has " + std::to_string(n));
    }
    for (size_t c = 0; c < n; ++c) {
      KAKUNIN_RETURN_IF_ERROR(
          CheckPrintable(row[c], kPdfMaxCellBytes, at + ", column " + std::to_string(c + 1), total));
    }
  }
  return Status::Ok();
}

Status CheckDocument(const PdfDocument& doc) {
  size_t total = 0;
  KAKUNIN_RETURN_IF_ERROR(CheckPrintable(doc.title, kPdfMaxLineBytes, "the title", &total));
  KAKUNIN_RETURN_IF_ERROR(
      CheckPrintable(doc.reference, kPdfMaxLineBytes, "the reference line", &total));
  KAKUNIN_RETURN_IF_ERROR(CheckPrintable(doc.footer, kPdfMaxLineBytes, "the footer", &total));
  KAKUNIN_RETURN_IF_ERROR(
      CheckPrintable(doc.metadata_title, kPdfMaxLineBytes, "the metadata title", &total));
  if (doc.blocks.size() > kPdfMaxBlocks) {
    return Status::InvalidArgument("the document has " + std::to_string(doc.blocks.size()) +
                                   " blocks, more than " + std::to_string(kPdfMaxBlocks));
  }
  size_t rows = 0;
  for (size_t b = 0; b < doc.blocks.size(); ++b) {
    const PdfBlock& block = doc.blocks[b];
    const std::string where = Where(b);
    switch (block.kind) {
      case PdfBlock::Kind::kHeading:
      case PdfBlock::Kind::kParagraph:
        KAKUNIN_RETURN_IF_ERROR(
            CheckPrintable(block.text, kPdfMaxParagraphBytes, where + ": the text", &total));
        break;
      case PdfBlock::Kind::kKeyValues:
        rows += block.key_values.size();
        if (rows > kPdfMaxTableRows) {
          return Status::InvalidArgument("the document's tables have more than " +
                                         std::to_string(kPdfMaxTableRows) + " rows");
        }
        for (size_t r = 0; r < block.key_values.size(); ++r) {
          const std::string at = where + ": row " + std::to_string(r + 1);
          KAKUNIN_RETURN_IF_ERROR(
              CheckPrintable(block.key_values[r].first, kPdfMaxCellBytes, at + ", label", &total));
          KAKUNIN_RETURN_IF_ERROR(
              CheckPrintable(block.key_values[r].second, kPdfMaxCellBytes, at + ", value", &total));
        }
        break;
      case PdfBlock::Kind::kTable:
        KAKUNIN_RETURN_IF_ERROR(CheckTable(block.table, where, &rows, &total));
        break;
      case PdfBlock::Kind::kSpacer:
        break;
      default:
        return Status::InvalidArgument(where + ": unknown block kind");
    }
  }
  return Status::Ok();
}

// Column widths in points: proportional to `relative` (empty: equal), none below
// kMinColumnWidth. REQUIRES: relative is empty or holds n positive finite values; n >= 1.
std::vector<double> ColumnWidths(const std::vector<double>& relative, size_t n) {
  std::vector<double> r = relative.empty() ? std::vector<double>(n, 1.0) : relative;
  const double top = *std::max_element(r.begin(), r.end());
  for (double& v : r) v /= top;  // no overflow when summing below
  std::vector<double> w(n, 0);
  std::vector<bool> fixed(n, false);
  // Columns that would come out too narrow get the minimum; the rest share what is left.
  for (size_t round = 0; round <= n; ++round) {
    double free_width = kContentWidth;
    double free_sum = 0;
    for (size_t c = 0; c < n; ++c) {
      if (fixed[c]) {
        free_width -= kMinColumnWidth;
      } else {
        free_sum += r[c];
      }
    }
    bool changed = false;
    for (size_t c = 0; c < n; ++c) {
      if (fixed[c]) {
        w[c] = kMinColumnWidth;
        continue;
      }
      w[c] = free_sum > 0 ? free_width * r[c] / free_sum : kMinColumnWidth;
      if (w[c] < kMinColumnWidth) {
        fixed[c] = true;
        changed = true;
      }
    }
    if (!changed) break;
  }
  return w;
}

// ---- Layout ----------------------------------------------------------------------------------

// One line of a laid-out text, in points from the top of its layout.
struct Line {
  double top = 0;
  double bottom = 0;
  double baseline = 0;
  double origin_x = 0;  // where the line starts (alignment)
  int index = 0;        // in pango_layout_get_line_readonly
};

// A text laid out at a given width.
struct Text {
  LayoutPtr layout;
  std::vector<Line> lines;
  double height() const { return lines.empty() ? 0 : lines.back().bottom - lines.front().top; }
  // The height of lines [from, to).
  double Span(size_t from, size_t to) const {
    return from >= to ? 0 : lines[to - 1].bottom - lines[from].top;
  }
};

struct Style {
  double size;
  bool bold;
  double spacing;
  PangoAlignment align;
};

constexpr Style kTitleStyle{kTitleSize, true, 1.0, PANGO_ALIGN_CENTER};
constexpr Style kReferenceStyle{kReferenceSize, false, 1.0, PANGO_ALIGN_RIGHT};
constexpr Style kHeadingStyle{kHeadingSize, true, 1.0, PANGO_ALIGN_LEFT};
constexpr Style kBodyStyle{kBodySize, false, kBodySpacing, PANGO_ALIGN_LEFT};
constexpr Style kKeyValueStyle{kBodySize, false, kCellSpacing, PANGO_ALIGN_LEFT};
constexpr Style kCellStyle{kTableSize, false, kCellSpacing, PANGO_ALIGN_LEFT};
constexpr Style kHeaderCellStyle{kTableSize, true, kCellSpacing, PANGO_ALIGN_LEFT};
constexpr Style kFooterStyle{kFooterSize, false, 1.0, PANGO_ALIGN_LEFT};
constexpr Style kPageNumberStyle{kFooterSize, false, 1.0, PANGO_ALIGN_RIGHT};

// A table as drawn: column geometry and how rows look.
struct TableGeometry {
  std::vector<double> x;  // left edge of each column
  std::vector<double> w;  // width of each column
  bool shade_first_column = false;
  Style body = kCellStyle;
};

// A row of cells, laid out.
struct Row {
  std::vector<Text> cells;
  bool header = false;
  double height = 0;  // including padding
};

class Renderer {
 public:
  explicit Renderer(PangoContext* context) : context_(context) {}

  Status Render(const PdfDocument& doc);
  // Draws every page onto `pdf` with its footer. REQUIRES: Render succeeded.
  Status Emit(cairo_t* pdf, const std::string& footer);

 private:
  Result<Text> Layout(std::string_view s, const Style& style, double width, bool single_line,
                      PangoAttrList* attrs = nullptr);

  void NewPage();
  double Remaining() const { return kContentBottom - y_; }
  bool AtTop() const { return y_ <= kContentTop; }

  // Draws lines [from, to) of `t` with their first line's top at y, left edge at x.
  void DrawLines(const Text& t, size_t from, size_t to, double x, double y);
  // Draws `t` at the cursor, breaking between lines across pages.
  void Flow(const Text& t, double x);

  Status Heading(const std::string& s, double lead);
  Status Paragraph(const std::string& s);
  Status Table(const TableGeometry& g, const std::vector<std::string>* header,
               size_t row_count, const std::function<std::vector<std::string_view>(size_t)>& row);
  Result<Row> MakeRow(const TableGeometry& g, const std::vector<std::string_view>& cells,
                      bool header);
  void DrawRow(const TableGeometry& g, const Row& row);
  void DrawRowFrame(const TableGeometry& g, bool header, double y, double height);
  void SplitRow(const TableGeometry& g, const Row& row, const Row* header);
  // The height of what a block puts first on a page, to keep a heading with it.
  Result<double> Lead(const PdfDocument& doc, size_t block);

  PangoContext* context_;
  std::vector<SurfacePtr> pages_;
  CairoPtr cr_;
  double y_ = kContentTop;
};

Result<Text> Renderer::Layout(std::string_view s, const Style& style, double width,
                              bool single_line, PangoAttrList* attrs) {
  Text t;
  t.layout.reset(pango_layout_new(context_));
  if (!t.layout) return Status::Internal("pango_layout_new failed");
  FontPtr font(pango_font_description_from_string(kFontFamily));
  pango_font_description_set_absolute_size(font.get(), style.size * PANGO_SCALE);
  pango_font_description_set_weight(font.get(),
                                    style.bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  PangoLayout* l = t.layout.get();
  pango_layout_set_font_description(l, font.get());
  pango_layout_set_width(l, static_cast<int>(width * PANGO_SCALE));
  pango_layout_set_alignment(l, style.align);
  pango_layout_set_line_spacing(l, static_cast<float>(style.spacing));
  if (single_line) {
    pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
    pango_layout_set_single_paragraph_mode(l, TRUE);
  } else {
    pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
  }
  pango_layout_set_text(l, s.data(), static_cast<int>(s.size()));
  if (attrs != nullptr) pango_layout_set_attributes(l, attrs);
  IterPtr it(pango_layout_get_iter(l));
  int index = 0;
  do {
    int y0 = 0;
    int y1 = 0;
    pango_layout_iter_get_line_yrange(it.get(), &y0, &y1);
    PangoRectangle logical;
    pango_layout_iter_get_line_extents(it.get(), nullptr, &logical);
    PangoRectangle own;
    pango_layout_line_get_extents(pango_layout_iter_get_line_readonly(it.get()), nullptr, &own);
    Line line;
    line.top = static_cast<double>(y0) / PANGO_SCALE;
    line.bottom = static_cast<double>(y1) / PANGO_SCALE;
    line.baseline = static_cast<double>(pango_layout_iter_get_baseline(it.get())) / PANGO_SCALE;
    line.origin_x = static_cast<double>(logical.x - own.x) / PANGO_SCALE;
    line.index = index++;
    t.lines.push_back(line);
  } while (pango_layout_iter_next_line(it.get()));
  return t;
}

void Renderer::NewPage() {
  // Pages are recorded, then replayed onto the PDF once their count is known for "n / m".
  const cairo_rectangle_t page{0, 0, kPageWidth, kPageHeight};
  pages_.emplace_back(cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &page));
  cr_.reset(cairo_create(pages_.back().get()));
  y_ = kContentTop;
}

void Renderer::DrawLines(const Text& t, size_t from, size_t to, double x, double y) {
  if (from >= to) return;
  const double shift = y - t.lines[from].top;
  cairo_set_source_rgb(cr_.get(), kTextGrey, kTextGrey, kTextGrey);
  for (size_t i = from; i < to; ++i) {
    const Line& line = t.lines[i];
    cairo_move_to(cr_.get(), x + line.origin_x, shift + line.baseline);
    pango_cairo_show_layout_line(cr_.get(),
                                 pango_layout_get_line_readonly(t.layout.get(), line.index));
  }
}

void Renderer::Flow(const Text& t, double x) {
  size_t i = 0;
  while (i < t.lines.size()) {
    size_t j = i;
    while (j < t.lines.size() && t.Span(i, j + 1) <= Remaining()) ++j;
    if (j == i) {
      if (!AtTop()) {
        NewPage();
        continue;
      }
      j = i + 1;  // a line taller than a page: drawn anyway, never looped on
    }
    DrawLines(t, i, j, x, y_);
    y_ += t.Span(i, j);
    i = j;
    if (i < t.lines.size()) NewPage();
  }
}

Status Renderer::Heading(const std::string& s, double lead) {
  KAKUNIN_ASSIGN_OR_RETURN(t, Layout(s, kHeadingStyle, kContentWidth, false));
  const double before = AtTop() ? 0 : kBeforeHeading;
  const double own = t.height() + kHeadingRuleGap + kAfterHeading;
  // Kept with the start of what follows, if the two fit on one page at all.
  if (!AtTop() && before + own + lead > Remaining() && own + lead <= kContentHeight) NewPage();
  if (!AtTop()) y_ += before;
  Flow(t, kContentLeft);
  y_ += kHeadingRuleGap;
  cairo_set_source_rgb(cr_.get(), 0.25, 0.25, 0.25);
  cairo_set_line_width(cr_.get(), 0.8);
  cairo_move_to(cr_.get(), kContentLeft, y_);
  cairo_line_to(cr_.get(), kContentLeft + kContentWidth, y_);
  cairo_stroke(cr_.get());
  y_ += kAfterHeading;
  return Status::Ok();
}

Status Renderer::Paragraph(const std::string& s) {
  KAKUNIN_ASSIGN_OR_RETURN(t, Layout(s, kBodyStyle, kContentWidth, false));
  Flow(t, kContentLeft);
  y_ = std::min(y_ + kAfterParagraph, kContentBottom);
  return Status::Ok();
}

Result<Row> Renderer::MakeRow(const TableGeometry& g, const std::vector<std::string_view>& cells,
                              bool header) {
  Row row;
  row.header = header;
  double tallest = 0;
  for (size_t c = 0; c < cells.size(); ++c) {
    const Style& style = header ? kHeaderCellStyle : g.body;
    KAKUNIN_ASSIGN_OR_RETURN(t, Layout(cells[c], style, g.w[c] - 2 * kCellPadX, false));
    tallest = std::max(tallest, t.height());
    row.cells.push_back(std::move(t));
  }
  row.height = tallest + 2 * kCellPadY;
  return row;
}

void Renderer::DrawRowFrame(const TableGeometry& g, bool header, double y, double height) {
  cairo_t* cr = cr_.get();
  for (size_t c = 0; c < g.w.size(); ++c) {
    double shade = header ? kHeaderShade : (c == 0 && g.shade_first_column ? kLabelShade : 1.0);
    if (shade < 1.0) {
      cairo_set_source_rgb(cr, shade, shade, shade);
      cairo_rectangle(cr, g.x[c], y, g.w[c], height);
      cairo_fill(cr);
    }
  }
  cairo_set_source_rgb(cr, kRuleGrey, kRuleGrey, kRuleGrey);
  cairo_set_line_width(cr, kRuleWidth);
  for (size_t c = 0; c < g.w.size(); ++c) cairo_rectangle(cr, g.x[c], y, g.w[c], height);
  cairo_stroke(cr);
}

void Renderer::DrawRow(const TableGeometry& g, const Row& row) {
  DrawRowFrame(g, row.header, y_, row.height);
  for (size_t c = 0; c < row.cells.size(); ++c) {
    const Text& t = row.cells[c];
    cairo_save(cr_.get());
    cairo_rectangle(cr_.get(), g.x[c], y_, g.w[c], row.height);
    cairo_clip(cr_.get());  // a glyph wider than its column stays inside it
    DrawLines(t, 0, t.lines.size(), g.x[c] + kCellPadX, y_ + kCellPadY);
    cairo_restore(cr_.get());
  }
  y_ += row.height;
}

void Renderer::SplitRow(const TableGeometry& g, const Row& row, const Row* header) {
  std::vector<size_t> next(row.cells.size(), 0);
  auto done = [&] {
    for (size_t c = 0; c < row.cells.size(); ++c) {
      if (next[c] < row.cells[c].lines.size()) return false;
    }
    return true;
  };
  while (!done()) {
    const double avail = Remaining() - 2 * kCellPadY;
    std::vector<size_t> end(next);
    bool progress = false;
    for (size_t c = 0; c < row.cells.size(); ++c) {
      const Text& t = row.cells[c];
      while (end[c] < t.lines.size() && t.Span(next[c], end[c] + 1) <= avail) ++end[c];
      progress |= end[c] > next[c];
    }
    if (!progress) {
      // Nothing fits here: a fresh page, or (already on one) one line per cell regardless.
      if (avail < kContentHeight / 2) {
        NewPage();
        if (header != nullptr) DrawRow(g, *header);
        continue;
      }
      for (size_t c = 0; c < row.cells.size(); ++c) {
        if (end[c] < row.cells[c].lines.size()) ++end[c];
      }
    }
    double used = 0;
    for (size_t c = 0; c < row.cells.size(); ++c) {
      used = std::max(used, row.cells[c].Span(next[c], end[c]));
    }
    used = std::min(used, std::max(avail, 0.0));
    const double height = used + 2 * kCellPadY;
    DrawRowFrame(g, row.header, y_, height);
    for (size_t c = 0; c < row.cells.size(); ++c) {
      cairo_save(cr_.get());
      cairo_rectangle(cr_.get(), g.x[c], y_, g.w[c], height);
      cairo_clip(cr_.get());
      DrawLines(row.cells[c], next[c], end[c], g.x[c] + kCellPadX, y_ + kCellPadY);
      cairo_restore(cr_.get());
      next[c] = end[c];
    }
    y_ += height;
    if (!done()) {
      NewPage();
      if (header != nullptr) DrawRow(g, *header);
    }
  }
}

Status Renderer::Table(const TableGeometry& g, const std::vector<std::string>* header_cells,
                       size_t row_count,
                       const std::function<std::vector<std::string_view>(size_t)>& cells_of) {
  std::optional<Row> header;
  if (header_cells != nullptr) {
    std::vector<std::string_view> views(header_cells->begin(), header_cells->end());
    KAKUNIN_ASSIGN_OR_RETURN(h, MakeRow(g, views, true));
    header = std::move(h);
  }
  // A header taller than a third of a page is not repeated: it is drawn once, like a row.
  const bool repeat = header && header->height <= kContentHeight / 3;
  const Row* repeated = repeat ? &*header : nullptr;
  const double header_height = repeat ? header->height : 0;
  const double full = kContentHeight - header_height;  // room for rows on a fresh page

  // The header is kept with the first row.
  std::optional<Row> first;
  if (row_count > 0) {
    KAKUNIN_ASSIGN_OR_RETURN(r, MakeRow(g, cells_of(0), false));
    first = std::move(r);
  }
  double need = header_height;
  if (header && !repeat) need += std::min(header->height, kMinSplitSpace);
  if (first) need += first->height <= full ? first->height : kMinSplitSpace;
  if (!AtTop() && need > Remaining()) NewPage();

  auto place = [&](const Row& row) {
    if (row.height <= Remaining()) {
      DrawRow(g, row);
    } else if (row.height <= full) {
      NewPage();
      if (repeated != nullptr) DrawRow(g, *repeated);
      DrawRow(g, row);
    } else {
      if (Remaining() < kMinSplitSpace) {
        NewPage();
        if (repeated != nullptr) DrawRow(g, *repeated);
      }
      SplitRow(g, row, repeated);
    }
  };
  if (header) {
    if (repeat) {
      DrawRow(g, *header);
    } else {
      place(*header);
    }
  }
  for (size_t r = 0; r < row_count; ++r) {
    if (r == 0) {
      place(*first);
      first.reset();
      continue;
    }
    KAKUNIN_ASSIGN_OR_RETURN(row, MakeRow(g, cells_of(r), false));
    place(row);
  }
  y_ = std::min(y_ + kAfterTable, kContentBottom);
  return Status::Ok();
}

TableGeometry Geometry(const std::vector<double>& relative, size_t n) {
  TableGeometry g;
  g.w = ColumnWidths(relative, n);
  double x = kContentLeft;
  for (double w : g.w) {
    g.x.push_back(x);
    x += w;
  }
  return g;
}

TableGeometry KeyValueGeometry() {
  TableGeometry g = Geometry({0.28, 0.72}, 2);
  g.shade_first_column = true;
  g.body = kKeyValueStyle;
  return g;
}

Result<double> Renderer::Lead(const PdfDocument& doc, size_t b) {
  while (b < doc.blocks.size() && doc.blocks[b].kind == PdfBlock::Kind::kSpacer) ++b;
  if (b >= doc.blocks.size()) return 0.0;
  const PdfBlock& block = doc.blocks[b];
  switch (block.kind) {
    case PdfBlock::Kind::kHeading: {
      KAKUNIN_ASSIGN_OR_RETURN(t, Layout(block.text, kHeadingStyle, kContentWidth, false));
      return std::min(t.height(), kContentHeight / 4) + kBeforeHeading;
    }
    case PdfBlock::Kind::kParagraph: {
      KAKUNIN_ASSIGN_OR_RETURN(t, Layout(block.text, kBodyStyle, kContentWidth, false));
      return t.Span(0, std::min<size_t>(2, t.lines.size()));  // no line left alone below
    }
    case PdfBlock::Kind::kKeyValues: {
      if (block.key_values.empty()) return 0.0;
      TableGeometry g = KeyValueGeometry();
      const auto& kv = block.key_values[0];
      KAKUNIN_ASSIGN_OR_RETURN(row, MakeRow(g, {kv.first, kv.second}, false));
      return std::min(row.height, kMinSplitSpace);
    }
    case PdfBlock::Kind::kTable: {
      const PdfTable& t = block.table;
      TableGeometry g = Geometry(t.widths, t.header.size());
      std::vector<std::string_view> h(t.header.begin(), t.header.end());
      KAKUNIN_ASSIGN_OR_RETURN(header, MakeRow(g, h, true));
      double lead = std::min(header.height, kMinSplitSpace);
      if (!t.rows.empty()) {
        std::vector<std::string_view> r(t.rows[0].begin(), t.rows[0].end());
        KAKUNIN_ASSIGN_OR_RETURN(row, MakeRow(g, r, false));
        lead += std::min(row.height, kMinSplitSpace);
      }
      return lead;
    }
    default:
      return 0.0;
  }
}

Status Renderer::Render(const PdfDocument& doc) {
  NewPage();
  if (!doc.reference.empty()) {
    KAKUNIN_ASSIGN_OR_RETURN(t, Layout(doc.reference, kReferenceStyle, kContentWidth, false));
    Flow(t, kContentLeft);
    y_ += kAfterReference;
  }
  if (!doc.title.empty()) {
    KAKUNIN_ASSIGN_OR_RETURN(t, Layout(doc.title, kTitleStyle, kContentWidth, false));
    Flow(t, kContentLeft);
    y_ = std::min(y_ + kAfterTitle, kContentBottom);
  }
  for (size_t b = 0; b < doc.blocks.size(); ++b) {
    const PdfBlock& block = doc.blocks[b];
    switch (block.kind) {
      case PdfBlock::Kind::kHeading: {
        KAKUNIN_ASSIGN_OR_RETURN(lead, Lead(doc, b + 1));
        KAKUNIN_RETURN_IF_ERROR(Heading(block.text, lead));
        break;
      }
      case PdfBlock::Kind::kParagraph:
        KAKUNIN_RETURN_IF_ERROR(Paragraph(block.text));
        break;
      case PdfBlock::Kind::kKeyValues: {
        if (block.key_values.empty()) break;
        const auto& kv = block.key_values;
        KAKUNIN_RETURN_IF_ERROR(Table(KeyValueGeometry(), nullptr, kv.size(), [&](size_t r) {
          return std::vector<std::string_view>{kv[r].first, kv[r].second};
        }));
        break;
      }
      case PdfBlock::Kind::kTable: {
        const PdfTable& t = block.table;
        KAKUNIN_RETURN_IF_ERROR(
            Table(Geometry(t.widths, t.header.size()), &t.header, t.rows.size(), [&](size_t r) {
              return std::vector<std::string_view>(t.rows[r].begin(), t.rows[r].end());
            }));
        break;
      }
      case PdfBlock::Kind::kSpacer:
        if (!AtTop()) y_ = std::min(y_ + kSpacer, kContentBottom);
        break;
    }
  }
  cr_.reset();
  for (const auto& page : pages_) {
    if (cairo_surface_status(page.get()) != CAIRO_STATUS_SUCCESS) {
      return Status::Internal(std::string("cairo recording failed: ") +
                              cairo_status_to_string(cairo_surface_status(page.get())));
    }
  }
  return Status::Ok();
}

Status Renderer::Emit(cairo_t* pdf, const std::string& footer) {
  const size_t total = pages_.size();
  const double footer_top = kContentBottom + kFooterGap;
  for (size_t p = 0; p < total; ++p) {
    cairo_set_source_surface(pdf, pages_[p].get(), 0, 0);
    cairo_paint(pdf);
    pages_[p].reset();  // replayed: its memory is no longer needed
    if (!footer.empty()) {
      KAKUNIN_ASSIGN_OR_RETURN(
          t, Layout(footer, kFooterStyle, kContentWidth - kPageNumberWidth - 8, true));
      cairo_set_source_rgb(pdf, kFooterGrey, kFooterGrey, kFooterGrey);
      cairo_move_to(pdf, kContentLeft + t.lines[0].origin_x, footer_top + t.lines[0].baseline);
      pango_cairo_show_layout_line(pdf, pango_layout_get_line_readonly(t.layout.get(), 0));
    }
    const std::string number = std::to_string(p + 1) + " / " + std::to_string(total);
    // The font's spaces are narrow (0.22 em): widened a little, so "1 / 3" reads (and extracts
    // as text) with its spaces.
    std::unique_ptr<PangoAttrList, AttrListUnref> attrs(pango_attr_list_new());
    for (size_t i = 0; i < number.size(); ++i) {
      if (number[i] != ' ') continue;
      PangoAttribute* a =
          pango_attr_letter_spacing_new(static_cast<int>(kPageNumberSpaceExtra * PANGO_SCALE));
      a->start_index = static_cast<guint>(i);
      a->end_index = static_cast<guint>(i + 1);
      pango_attr_list_insert(attrs.get(), a);  // takes `a`
    }
    KAKUNIN_ASSIGN_OR_RETURN(
        n, Layout(number, kPageNumberStyle, kPageNumberWidth, true, attrs.get()));
    cairo_set_source_rgb(pdf, kFooterGrey, kFooterGrey, kFooterGrey);
    const double x = kContentLeft + kContentWidth - kPageNumberWidth;
    cairo_move_to(pdf, x + n.lines[0].origin_x, footer_top + n.lines[0].baseline);
    pango_cairo_show_layout_line(pdf, pango_layout_get_line_readonly(n.layout.get(), 0));
    cairo_show_page(pdf);
    if (cairo_status(pdf) != CAIRO_STATUS_SUCCESS) {
      return Status::Internal(std::string("cairo PDF output failed: ") +
                              cairo_status_to_string(cairo_status(pdf)));
    }
  }
  return Status::Ok();
}

cairo_status_t AppendToString(void* closure, const unsigned char* data, unsigned int length) {
  try {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  } catch (const std::bad_alloc&) {
    return CAIRO_STATUS_WRITE_ERROR;
  }
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

Result<std::string> RenderPdf(const PdfDocument& doc) {
  KAKUNIN_RETURN_IF_ERROR(CheckDocument(doc));

  std::string out;
  SurfacePtr surface(
      cairo_pdf_surface_create_for_stream(&AppendToString, &out, kPageWidth, kPageHeight));
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) {
    return Status::Internal(std::string("cairo_pdf_surface_create_for_stream failed: ") +
                            cairo_status_to_string(cairo_surface_status(surface.get())));
  }
  if (!doc.metadata_title.empty()) {
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE,
                                   doc.metadata_title.c_str());
  }
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "Kakunin");
  CairoPtr pdf(cairo_create(surface.get()));

  // A font map of this call's own: Pango's default one is per thread and never freed.
  FontMapPtr font_map(pango_cairo_font_map_new());
  if (!font_map) return Status::Internal("pango_cairo_font_map_new failed");
  ContextPtr context(pango_font_map_create_context(font_map.get()));
  if (!context) return Status::Internal("pango_font_map_create_context failed");
  pango_cairo_update_context(pdf.get(), context.get());  // the PDF surface's font options
  pango_context_set_round_glyph_positions(context.get(), FALSE);  // vector output

  {
    Renderer renderer(context.get());
    KAKUNIN_RETURN_IF_ERROR(renderer.Render(doc));
    KAKUNIN_RETURN_IF_ERROR(renderer.Emit(pdf.get(), doc.footer));
  }
  pdf.reset();
  cairo_surface_finish(surface.get());
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS) {
    return Status::Internal(std::string("cairo PDF output failed: ") +
                            cairo_status_to_string(cairo_surface_status(surface.get())));
  }
  surface.reset();
  return out;
}

}  // namespace kakunin::render
