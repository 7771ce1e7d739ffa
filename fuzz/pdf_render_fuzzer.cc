// Fuzzes the PDF renderer (render/pdf.h) with documents built from the input: every outcome must
// be a PDF or InvalidArgument (never Internal, a crash, a hang or a leak).
//
// Input: byte 0 picks the tables' column count (1..17: 17 is one too many), byte 1 their widths
// (0: equal; else one byte per column, 0 meaning a width of 0, which is invalid), then segments
// separated by 0x00. A segment's first byte picks what it is (mod 6): heading, paragraph,
// key-values, table, spacer, or the title, reference and footer; cells inside a segment are
// separated by 0x1F. Table cells fill the header then rows; a short last row is kept (and refused).

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "render/pdf.h"

namespace {

std::vector<std::string> Cells(std::string_view s) {
  std::vector<std::string> cells;
  size_t start = 0;
  for (;;) {
    const size_t end = s.find('\x1f', start);
    cells.emplace_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return cells;
    start = end + 1;
  }
}

}  // namespace

// Leaks that are not ours, so that libFuzzer's leak check finds ours: cairo 1.16 (Debian 12)
// loses 768 bytes per embedded CFF font in cairo_surface_finish of every PDF (reproduced with
// plain cairo and Pango, no Kakunin code), and fontconfig keeps its configuration's first load.
// Suppressed by library because the fast unwinder stops at those libraries' first frame;
// render_test under ASan with fast_unwind_on_malloc=0 shows every leak's whole stack (only these
// two).
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcairo.so\nleak:libfontconfig.so\n";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kakunin::render::PdfBlock;
  using kakunin::render::PdfDocument;
  if (size < 2) return 0;
  const size_t columns = data[0] % 17 + 1;
  std::vector<double> widths;
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  if (data[1] != 0) {
    for (size_t c = 0; c < columns; ++c) {
      widths.push_back(c < rest.size() ? static_cast<uint8_t>(rest[c]) : 1.0);
    }
    rest.remove_prefix(std::min(columns, rest.size()));
  }

  PdfDocument doc;
  doc.metadata_title = "fuzz";
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('\0', start);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view seg = rest.substr(start, end - start);
    start = end + 1;
    if (seg.empty()) continue;
    const uint8_t kind = static_cast<uint8_t>(seg[0]) % 6;
    seg.remove_prefix(1);
    PdfBlock b;
    switch (kind) {
      case 0:
        b.kind = PdfBlock::Kind::kHeading;
        b.text = std::string(seg);
        break;
      case 1:
        b.kind = PdfBlock::Kind::kParagraph;
        b.text = std::string(seg);
        break;
      case 2: {
        b.kind = PdfBlock::Kind::kKeyValues;
        auto cells = Cells(seg);
        for (size_t i = 0; i < cells.size(); i += 2) {
          b.key_values.emplace_back(cells[i], i + 1 < cells.size() ? cells[i + 1] : "");
        }
        break;
      }
      case 3: {
        b.kind = PdfBlock::Kind::kTable;
        auto cells = Cells(seg);
        b.table.widths = widths;
        for (size_t i = 0; i < cells.size(); ++i) {
          if (i < columns) {
            b.table.header.push_back(cells[i]);
          } else {
            if ((i - columns) % columns == 0) b.table.rows.emplace_back();
            b.table.rows.back().push_back(cells[i]);
          }
        }
        break;
      }
      case 4:
        b.kind = PdfBlock::Kind::kSpacer;
        break;
      default: {
        auto cells = Cells(seg);
        doc.title = cells[0];
        if (cells.size() > 1) doc.reference = cells[1];
        if (cells.size() > 2) doc.footer = cells[2];
        continue;
      }
    }
    doc.blocks.push_back(std::move(b));
  }

  auto pdf = kakunin::render::RenderPdf(doc);
  if (pdf.ok()) {
    if (pdf->compare(0, 5, "%PDF-") != 0) std::abort();
  } else if (pdf.status().code() != kakunin::StatusCode::kInvalidArgument) {
    std::abort();  // Internal means Cairo or Pango failed on input we accepted
  }
  return 0;
}
