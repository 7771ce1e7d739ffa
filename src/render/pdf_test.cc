// Real PDFs, read back with poppler-utils (a test dependency: scripts/bootstrap installs it).

#include "render/pdf.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace kakunin::render {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("kakunin_render_test_" + std::to_string(::getpid()) + "_" + std::to_string(next_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& bytes) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    // To look at what the tests made: KAKUNIN_KEEP_PDF_DIR=/tmp/x build/tests/render_test
    if (const char* keep = getenv("KAKUNIN_KEEP_PDF_DIR")) {
      fs::copy_file(p, fs::path(keep) / name, fs::copy_options::overwrite_existing);
    }
    return p.string();
  }

 private:
  static inline std::atomic<int> next_{0};
  fs::path path_;
};

// Runs `command`, returns its standard output; fails the test if it does not exit 0 (a
// missing poppler-utils is a failure, not a skip).
std::string Run(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen failed: " << command;
    return "";
  }
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)
      << command << " failed (rc " << rc
      << "); poppler-utils is a test dependency: scripts/bootstrap installs it";
  return out;
}

std::string PdfToText(const std::string& file) {
  return Run("pdftotext -layout '" + file + "' - 2>&1");
}
std::string PdfInfo(const std::string& file) { return Run("pdfinfo '" + file + "' 2>&1"); }

// The value of a "Key:   value" line of pdfinfo's output ("" if none). (No std::regex here:
// GCC 12 warns inside it under -fsanitize=address, and warnings are errors.)
std::string InfoField(const std::string& info, const std::string& key) {
  size_t at = 0;
  while (at < info.size()) {
    size_t end = info.find('\n', at);
    if (end == std::string::npos) end = info.size();
    const std::string line = info.substr(at, end - at);
    if (line.rfind(key + ":", 0) == 0) {
      const size_t value = line.find_first_not_of(' ', key.size() + 1);
      return value == std::string::npos ? "" : line.substr(value);
    }
    at = end + 1;
  }
  return "";
}

int PageCount(const std::string& info) {
  const std::string pages = InfoField(info, "Pages");
  return pages.empty() ? -1 : std::stoi(pages);
}

// True if `page` holds a row number 第N号.
bool HasRowNumber(const std::string& page) {
  const std::string kDai = "第";
  for (size_t at = page.find(kDai); at != std::string::npos; at = page.find(kDai, at + 1)) {
    size_t i = at + kDai.size();
    const size_t digits = i;
    while (i < page.size() && page[i] >= '0' && page[i] <= '9') ++i;
    if (i > digits && page.compare(i, 3, "号") == 0) return true;
  }
  return false;
}

std::vector<std::string> Pages(const std::string& text) {
  std::vector<std::string> pages;
  size_t start = 0;
  for (size_t ff; (ff = text.find('\f', start)) != std::string::npos; start = ff + 1) {
    pages.push_back(text.substr(start, ff - start));
  }
  if (start < text.size() && text.find_first_not_of(" \n", start) != std::string::npos) {
    pages.push_back(text.substr(start));
  }
  return pages;
}

// pdftotext -layout may put spaces between glyphs of a wide line; compare without them.
std::string Squeeze(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\n') out += c;
  }
  return out;
}

constexpr const char* kHeader[] = {"番号", "日時", "提供先", "事務", "根拠法令", "項目", "件数",
                                   "備考"};

std::string Cell(int row, int col) {
  switch (col) {
    case 0:
      return "第" + std::to_string(row + 1) + "号";
    case 1:
      return "2026年4月" + std::to_string(row % 28 + 1) + "日";
    case 2:
      return row % 3 == 0 ? "甲府市役所市民課" : "山梨県総務部市町村課";
    case 3:
      return row % 5 == 0
                 ? "住民基本台帳法第30条の15第1項に基づく本人確認情報の利用（長い事務名の例として折り返す）"
                 : "旅券事務";
    case 4:
      return "住基法別表第五";
    case 5:
      return "氏名・住所";
    case 6:
      return std::to_string(row % 7 + 1);
    default:
      return row == 119 ? "末行備考" : (row == 0 ? "初行備考" : "");
  }
}

PdfDocument Sample() {
  PdfDocument doc;
  doc.title = "本人確認情報開示決定通知書";
  doc.reference = "山梨県指令第1234号　令和8年4月1日";
  doc.footer = "山梨県 総務部 市町村課（住民基本台帳ネットワーク担当）";
  doc.metadata_title = "本人確認情報開示決定通知書";
  PdfBlock kv;
  kv.kind = PdfBlock::Kind::kKeyValues;
  kv.key_values = {{"住民票コード", "12345678901"},
                   {"氏名", "山梨 太郎"},
                   {"ふりがな", "やまなし たろう"},
                   {"住所", "山梨県甲府市丸の内一丁目6番1号"}};
  doc.blocks.push_back(kv);
  PdfBlock heading;
  heading.kind = PdfBlock::Kind::kHeading;
  heading.text = "本人確認情報の提供状況";
  doc.blocks.push_back(heading);
  PdfBlock paragraph;
  paragraph.text =
      "令和8年3月15日付けで請求のあった本人確認情報の開示について、山梨県個人情報保護条例"
      "の規定に基づき、次のとおり開示することと決定したので通知します。\n"
      "なお、この決定に不服がある場合は、この通知を受けた日の翌日から起算して3か月以内に、"
      "山梨県知事に対して審査請求をすることができます。";
  doc.blocks.push_back(paragraph);
  PdfBlock table;
  table.kind = PdfBlock::Kind::kTable;
  table.table.header.assign(std::begin(kHeader), std::end(kHeader));
  table.table.widths = {1.1, 1.9, 1.6, 2.4, 1.4, 1.2, 0.7, 1.2};
  for (int r = 0; r < 120; ++r) {
    std::vector<std::string> row;
    for (int c = 0; c < 8; ++c) row.push_back(Cell(r, c));
    table.table.rows.push_back(row);
  }
  doc.blocks.push_back(table);
  return doc;
}

TEST(RenderPdf, SampleReadsBackWithLayoutAndMetadata) {
  auto pdf = RenderPdf(Sample());
  ASSERT_TRUE(pdf.ok()) << pdf.status().ToString();
  ASSERT_EQ(pdf->rfind("%PDF-", 0), 0u);
  TempDir dir;
  const std::string file = dir.Write("sample.pdf", *pdf);
  const std::string info = PdfInfo(file);
  const int n = PageCount(info);
  ASSERT_GT(n, 1) << info;
  EXPECT_EQ(InfoField(info, "Title"), "本人確認情報開示決定通知書") << info;
  EXPECT_EQ(InfoField(info, "Creator"), "Kakunin") << info;
  for (const char* personal : {"山梨 太郎", "山梨太郎", "やまなし", "12345678901", "丸の内"}) {
    EXPECT_EQ(info.find(personal), std::string::npos) << personal << " in\n" << info;
  }

  const std::string text = PdfToText(file);
  const std::string flat = Squeeze(text);
  for (const char* want :
       {"本人確認情報開示決定通知書", "山梨県指令第1234号", "住民票コード", "12345678901", "氏名",
        "山梨太郎", "ふりがな", "やまなしたろう", "住所", "山梨県甲府市丸の内一丁目6番1号",
        "本人確認情報の提供状況", "審査請求をすることができます", "第1号", "初行備考",
        "第120号", "末行備考", "山梨県総務部市町村課（住民基本台帳ネットワーク担当）"}) {
    EXPECT_NE(flat.find(want), std::string::npos) << want;
  }
  const std::vector<std::string> pages = Pages(text);
  ASSERT_EQ(static_cast<int>(pages.size()), n);
  for (int p = 0; p < n; ++p) {
    const std::string number = std::to_string(p + 1) + " / " + std::to_string(n);
    EXPECT_NE(pages[p].find(number), std::string::npos) << "page " << p + 1;
    EXPECT_NE(Squeeze(pages[p]).find("住民基本台帳ネットワーク担当"), std::string::npos)
        << "footer on page " << p + 1;
  }
  EXPECT_NE(text.find("1 / " + std::to_string(n)), std::string::npos);
  EXPECT_NE(text.find(std::to_string(n) + " / " + std::to_string(n)), std::string::npos);
}

TEST(RenderPdf, TableHeaderRepeatsOnEveryPageWithRows) {
  auto pdf = RenderPdf(Sample());
  ASSERT_TRUE(pdf.ok()) << pdf.status().ToString();
  TempDir dir;
  const std::vector<std::string> pages = Pages(PdfToText(dir.Write("t.pdf", *pdf)));
  ASSERT_GT(pages.size(), 1u);
  int with_rows = 0;
  for (size_t p = 0; p < pages.size(); ++p) {
    if (!HasRowNumber(pages[p])) continue;
    ++with_rows;
    const std::string flat = Squeeze(pages[p]);
    for (const char* h : {"提供先", "根拠法令", "件数", "備考"}) {
      EXPECT_NE(flat.find(h), std::string::npos) << h << " missing on page " << p + 1;
    }
  }
  EXPECT_EQ(with_rows, static_cast<int>(pages.size()));
}

TEST(RenderPdf, RowsAreNotSplitAcrossPages) {
  // Each row's number and its last cell sit on the same page.
  auto pdf = RenderPdf(Sample());
  ASSERT_TRUE(pdf.ok());
  TempDir dir;
  const std::vector<std::string> pages = Pages(PdfToText(dir.Write("t.pdf", *pdf)));
  int seen = 0;
  for (const auto& page : pages) {
    const std::string flat = Squeeze(page);
    for (int r = 0; r < 120; ++r) {
      if (flat.find("第" + std::to_string(r + 1) + "号") == std::string::npos) continue;
      ++seen;
    }
  }
  EXPECT_EQ(seen, 120);  // each row number once: no row printed twice or lost
}

Status Code(const PdfDocument& doc) { return RenderPdf(doc).status(); }

PdfDocument OneTable(std::vector<std::string> header, std::vector<std::vector<std::string>> rows) {
  PdfDocument doc;
  doc.title = "表";
  PdfBlock b;
  b.kind = PdfBlock::Kind::kTable;
  b.table.header = std::move(header);
  b.table.rows = std::move(rows);
  doc.blocks.push_back(b);
  return doc;
}

TEST(RenderPdf, WrongCellCountIsInvalidArgumentWithoutTheText) {
  PdfDocument doc = OneTable({"a", "b", "c"}, {{"x", "y", "z"}, {"秘密の氏名", "甲府"}});
  Status s = Code(doc);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("row 2"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("2 cells"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("秘密"), std::string::npos) << s.message();
}

TEST(RenderPdf, InvalidUtf8IsInvalidArgumentWithoutTheText) {
  PdfDocument doc = OneTable({"a", "b"}, {{"x", "秘密\xff"}});
  Status s = Code(doc);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("UTF-8"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("column 2"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("秘密"), std::string::npos) << s.message();

  PdfDocument para;
  para.blocks.push_back(PdfBlock{PdfBlock::Kind::kParagraph, "\xe3\x81", {}, {}});
  s = Code(para);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("UTF-8"), std::string::npos) << s.message();

  PdfDocument title;
  title.title = "通知\xc0\xaf";  // overlong '/'
  EXPECT_EQ(Code(title).code(), StatusCode::kInvalidArgument);

  PdfDocument bidi;  // a right-to-left override would print text other than it is stored
  bidi.blocks.push_back(PdfBlock{PdfBlock::Kind::kParagraph, "abc\u202Edef", {}, {}});
  s = Code(bidi);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("control character"), std::string::npos) << s.message();
}

TEST(RenderPdf, TooManyColumnsIsInvalidArgument) {
  std::vector<std::string> header(17, "列");
  Status s = Code(OneTable(header, {std::vector<std::string>(17, "x")}));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("17 columns"), std::string::npos) << s.message();
  EXPECT_EQ(Code(OneTable({}, {})).code(), StatusCode::kInvalidArgument);  // none at all
  // Sixteen are fine.
  std::vector<std::string> sixteen(16, "列");
  EXPECT_TRUE(Code(OneTable(sixteen, {std::vector<std::string>(16, "値")})).ok());
}

TEST(RenderPdf, BadWidthsAreInvalidArgument) {
  PdfDocument doc = OneTable({"a", "b", "c"}, {{"x", "y", "z"}});
  doc.blocks[0].table.widths = {1, 2};
  Status s = Code(doc);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("2 widths for 3 columns"), std::string::npos) << s.message();
  doc.blocks[0].table.widths = {1, 0, 1};
  s = Code(doc);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("column 2"), std::string::npos) << s.message();
  doc.blocks[0].table.widths = {1, -1, 1};
  EXPECT_EQ(Code(doc).code(), StatusCode::kInvalidArgument);
  doc.blocks[0].table.widths = {1, std::nan(""), 1};
  EXPECT_EQ(Code(doc).code(), StatusCode::kInvalidArgument);
  doc.blocks[0].table.widths = {1, INFINITY, 1};
  EXPECT_EQ(Code(doc).code(), StatusCode::kInvalidArgument);
  // Extreme but valid ratios: the narrow columns get a minimum width.
  doc.blocks[0].table.widths = {1e-300, 1e300, 1};
  EXPECT_TRUE(Code(doc).ok());
}

TEST(RenderPdf, LimitsAreInvalidArgument) {
  PdfDocument blocks;
  blocks.blocks.resize(kPdfMaxBlocks + 1, PdfBlock{PdfBlock::Kind::kSpacer, "", {}, {}});
  EXPECT_EQ(Code(blocks).code(), StatusCode::kInvalidArgument);

  PdfDocument cell = OneTable({"a"}, {{std::string(kPdfMaxCellBytes + 1, 'x')}});
  Status s = Code(cell);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().find("xxxx"), std::string::npos) << s.message();

  PdfDocument para;
  para.blocks.push_back(
      PdfBlock{PdfBlock::Kind::kParagraph, std::string(kPdfMaxParagraphBytes + 1, 'a'), {}, {}});
  EXPECT_EQ(Code(para).code(), StatusCode::kInvalidArgument);

  PdfDocument rows = OneTable({"a"}, {});
  rows.blocks[0].table.rows.assign(kPdfMaxTableRows / 2 + 1, {"1"});
  rows.blocks.push_back(rows.blocks[0]);  // two tables: the limit is on all rows together
  s = Code(rows);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("rows"), std::string::npos) << s.message();
}

TEST(RenderPdf, RowTallerThanAPageIsSplitAndEnds) {
  // About 6,000 characters: mostly ASCII, since a cell holds at most 8,192 bytes.
  std::string big = "開始マーカー";
  for (int i = 0; big.size() < 6000; ++i) big += "record " + std::to_string(i) + " of a long cell, ";
  big += "終了マーカー";
  ASSERT_LE(big.size(), kPdfMaxCellBytes);
  PdfDocument doc = OneTable({"番号", "内容", "備考"}, {{"1", "短い", "前"}, {"2", big, "後"},
                                                       {"3", "次の行", "末尾"}});
  doc.blocks[0].table.widths = {1, 3, 1};
  doc.footer = "フッター";
  const auto start = std::chrono::steady_clock::now();
  auto pdf = RenderPdf(doc);
  ASSERT_TRUE(pdf.ok()) << pdf.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  TempDir dir;
  const std::string file = dir.Write("big.pdf", *pdf);
  const std::string flat = Squeeze(PdfToText(file));
  EXPECT_NE(flat.find("開始マーカー"), std::string::npos);
  EXPECT_NE(flat.find("終了マーカー"), std::string::npos);
  EXPECT_NE(flat.find("次の行"), std::string::npos);
  EXPECT_GE(PageCount(PdfInfo(file)), 2);
  const std::vector<std::string> pages = Pages(PdfToText(file));
  // The row starts on page 1 (below row 1) and ends further on: split, not moved whole.
  EXPECT_NE(Squeeze(pages.front()).find("開始マーカー"), std::string::npos);
  EXPECT_EQ(Squeeze(pages.front()).find("終了マーカー"), std::string::npos);
  EXPECT_NE(Squeeze(pages.back()).find("終了マーカー"), std::string::npos);
  // The header row is repeated above every continuation.
  for (const auto& page : pages) {
    EXPECT_NE(Squeeze(page).find("番号内容備考"), std::string::npos);
  }
}

TEST(RenderPdf, LongParagraphBreaksAcrossPages) {
  PdfDocument doc;
  doc.title = "通知";
  std::string text = "段落の始まり。";
  for (int i = 0; i < 300; ++i) text += "この段落は複数の頁にわたって行単位で分割されます。";
  text += "段落の終わり。";
  doc.blocks.push_back(PdfBlock{PdfBlock::Kind::kParagraph, text, {}, {}});
  auto pdf = RenderPdf(doc);
  ASSERT_TRUE(pdf.ok()) << pdf.status().ToString();
  TempDir dir;
  const std::string file = dir.Write("p.pdf", *pdf);
  EXPECT_GT(PageCount(PdfInfo(file)), 1);
  const std::string flat = Squeeze(PdfToText(file));
  EXPECT_NE(flat.find("段落の始まり"), std::string::npos);
  EXPECT_NE(flat.find("段落の終わり"), std::string::npos);
}

TEST(RenderPdf, HeadingIsKeptWithWhatFollows) {
  // Short lines fill page 1 as far as they can with a heading still below them; with the
  // heading's text added, heading and text both move to page 2.
  auto filler = [](int lines) {
    std::string s;
    for (int i = 0; i < lines; ++i) s += "行\n";
    return PdfBlock{PdfBlock::Kind::kParagraph, s, {}, {}};
  };
  const PdfBlock heading{PdfBlock::Kind::kHeading, "見出しの例", {}, {}};
  TempDir dir;
  int lines = 20;
  for (;; ++lines) {  // the most lines that leave the heading alone on page 1
    PdfDocument probe;
    probe.blocks = {filler(lines + 1), heading};
    auto pdf = RenderPdf(probe);
    ASSERT_TRUE(pdf.ok());
    if (PageCount(PdfInfo(dir.Write("probe.pdf", *pdf))) > 1) break;
    ASSERT_LT(lines, 200);
  }
  PdfDocument doc;
  doc.blocks = {filler(lines), heading,
                PdfBlock{PdfBlock::Kind::kParagraph, "見出しに続く本文\n二行目", {}, {}}};
  auto pdf = RenderPdf(doc);
  ASSERT_TRUE(pdf.ok()) << pdf.status().ToString();
  const std::vector<std::string> pages = Pages(PdfToText(dir.Write("h.pdf", *pdf)));
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_EQ(pages[0].find("見出しの例"), std::string::npos);
  EXPECT_NE(pages[1].find("見出しの例"), std::string::npos);
  EXPECT_NE(pages[1].find("見出しに続く本文"), std::string::npos);
}

TEST(RenderPdf, TitleOnlyIsOnePage) {
  PdfDocument doc;
  doc.title = "本人確認情報開示決定通知書";
  auto pdf = RenderPdf(doc);
  ASSERT_TRUE(pdf.ok()) << pdf.status().ToString();
  TempDir dir;
  const std::string file = dir.Write("e.pdf", *pdf);
  EXPECT_EQ(PageCount(PdfInfo(file)), 1);
  const std::string text = PdfToText(file);
  EXPECT_NE(text.find("1 / 1"), std::string::npos);
  EXPECT_NE(Squeeze(text).find("本人確認情報開示決定通知書"), std::string::npos);
  EXPECT_TRUE(RenderPdf(PdfDocument{}).ok());  // nothing at all: still one (blank) page
}

TEST(RenderPdf, ConcurrentCallsSucceed) {
  std::vector<std::thread> threads;
  std::vector<Result<std::string>> results(4, Status::Internal("not run"));
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&results, i] {
      PdfDocument doc = Sample();
      doc.blocks[3].table.rows.resize(30 + 10 * i);
      results[i] = RenderPdf(doc);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->rfind("%PDF-", 0), 0u);
  }
}

}  // namespace
}  // namespace kakunin::render
