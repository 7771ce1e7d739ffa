// kakunin gaiji: the 外字 register (docs/gaiji.md). Host administration through the use case
// registry::GaijiRegister; nothing here prints a name or a resident: only code points, senders
// and what they stand for.

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/node.h"
#include "text/json.h"

namespace kakunin::cli {
namespace {

namespace fs = std::filesystem;

const char kGaijiHelp[] =
    "使い方 / usage: kakunin gaiji SUBCOMMAND --data DIR [OPTIONS]\n\n"
    "外字の登録簿：市町村が私用領域（PUA）の符号位置で送る外字を、文字情報基盤のMJ文字図形名\n"
    "（または画像）に対応づけます。PUAの使い方は市町村ごとに異なるため、市町村ごとに登録します。\n"
    "The gaiji register: what a municipality means by a Private Use Area code point (U+E000–\n"
    "U+F8FF, planes 15–16), as an MJ character code (MJ + 6 digits) and/or a PNG image. Each\n"
    "municipality uses the PUA its own way, so entries are per municipality. Notifications with\n"
    "an unregistered code point are applied as sent and the code point is listed as pending.\n"
    "Registrations are recorded in the operation log.\n\n"
    "  register --municipality CODE --code-point U+XXXX (--mj MJnnnnnn | --image FILE.png)\n"
    "           [--description TEXT]\n"
    "  list [--pending]        the entries (or the pending code points), one JSON object a line\n\n"
    "Examples:\n"
    "  kakunin gaiji register --data /var/lib/kakunin --municipality 192015 \\\n"
    "      --code-point U+E001 --mj MJ012345 --description 髙の異体\n"
    "  kakunin gaiji list --data /var/lib/kakunin --pending\n";

int Usage(Io& io, const std::string& msg) {
  io.err << "kakunin gaiji: " << msg << "\n詳しくは / see: kakunin gaiji --help\n";
  return kExitUsage;
}

int Fail(Io& io, const Status& st) {
  io.err << "kakunin gaiji: " << st.message() << "\n";
  return st.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitRejected;
}

// The image file, refused before reading if it is larger than an entry may be.
Result<std::string> ReadImage(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return Status::InvalidArgument("cannot read the image " + path);
  if (size > registry::kMaxGaijiImageBytes) {
    return Status::InvalidArgument("the image must be a PNG file of at most 64 KiB");
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::InvalidArgument("cannot read the image " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int RunGaiji(const std::vector<std::string>& argv, Io& io) {
  auto args = Args::Parse(
      argv, {DataOption(),
             {"municipality", "CODE", "全国地方公共団体コード / the sending municipality"},
             {"code-point", "U+XXXX", "私用領域の符号位置 / the PUA code point"},
             {"mj", "MJnnnnnn", "MJ文字図形名 / the MJ character code"},
             {"image", "FILE", "字形の画像 (PNG, ≤ 64 KiB) / the glyph as a PNG image"},
             {"description", "TEXT", "説明 / a description for people"},
             {"pending", "", "未登録の符号位置を表示 / list the pending code points"}});
  if (!args.ok()) return Usage(io, args.status().message());
  if (args->help()) {
    io.out << kGaijiHelp;
    return kExitOk;
  }
  if (args->positional().size() != 1) return Usage(io, "give one subcommand");
  const std::string sub = args->positional()[0];
  if (sub != "register" && sub != "list") return Usage(io, "unknown subcommand '" + Echoable(sub) + "'");
  auto data = RequireData(*args, "gaiji", io);
  if (!data) return kExitUsage;
  auto node = OpenNode(io, *data);
  if (!node.ok()) return Fail(io, node.status());
  Node& n = **node;

  if (sub == "register") {
    registry::GaijiEntry e;
    e.municipality_code = args->Get("municipality").value_or("");
    auto cp = registry::ParseCodePoint(args->Get("code-point").value_or(""));
    if (!cp.ok()) return Fail(io, cp.status());
    e.code_point = *cp;
    e.mj_code = args->Get("mj").value_or("");
    if (auto image = args->Get("image")) {
      auto bytes = ReadImage(*image);
      if (!bytes.ok()) return Fail(io, bytes.status());
      e.image_png = std::move(*bytes);
    }
    e.description = args->Get("description").value_or("");
    Status st = n.gaiji->Register(e, n.actor);
    (void)SealLog(n);
    if (!st.ok()) return Fail(io, st);
    io.out << "登録しました / registered " << e.municipality_code << " "
           << registry::FormatCodePoint(e.code_point) << "\n";
    return kExitOk;
  }

  auto list = n.gaiji->List();
  if (!list.ok()) return Fail(io, list.status());
  if (args->Has("pending")) {
    for (const auto& p : list->pending) {
      io.out << "{\"municipality_code\":\"" << p.municipality_code << "\",\"code_point\":\""
             << registry::FormatCodePoint(p.code_point) << "\",\"first_seen\":" << p.first_seen
             << ",\"last_seen\":" << p.last_seen << ",\"count\":" << p.count << "}\n";
    }
    return kExitOk;
  }
  for (const auto& e : list->entries) {
    std::string o = "{\"municipality_code\":\"" + e.municipality_code + "\",\"code_point\":\"" +
                    registry::FormatCodePoint(e.code_point) + "\",\"mj_code\":\"" + e.mj_code +
                    "\",\"image_bytes\":" + std::to_string(e.image_png.size()) +
                    ",\"description\":";
    text::AppendJsonString(e.description, &o);
    o += ",\"registered_at\":" + std::to_string(e.registered_at) + ",\"registered_by\":";
    text::AppendJsonString(e.registered_by, &o);
    io.out << o << "}\n";
  }
  return kExitOk;
}

}  // namespace

int RunGaijiCommand(const std::vector<std::string>& a, Io& io) { return RunGaiji(a, io); }

}  // namespace kakunin::cli
