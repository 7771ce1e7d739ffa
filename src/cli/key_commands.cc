// kakunin keys: the node's keys — where they are (files or a PKCS#11 token), rotation of the
// checkpoint signing key and of the field key (docs/keys.md). Through cli::KeyAccess; prints
// key ids, labels and counts only.

#include <ostream>

#include "cli/commands.h"
#include "cli/keys.h"
#include "cli/node.h"

namespace kakunin::cli {
namespace {

const char kKeysHelp[] =
    "使い方 / usage: kakunin keys SUBCOMMAND --data DIR [OPTIONS]\n\n"
    "鍵の管理：個人番号を暗号化する鍵（フィールド鍵）と操作履歴のチェックポイント署名鍵。\n"
    "PKCS#11トークン（HSM）に置けます（kakunin.toml の [hsm]、docs/keys.md）。\n"
    "The node's keys: the field keys that seal individual numbers and the key that signs the\n"
    "operation log's checkpoints. Both can live on a PKCS#11 token (an HSM) through [hsm] in\n"
    "kakunin.toml (docs/keys.md).\n\n"
    "  status                  where each key is, its id, field-key rotation's progress\n"
    "  init-token              create the AES wrapping key on the token ([hsm] wrap_key_label)\n"
    "  wrap-field-keys         rewrite the key file wrapped by the token's AES key\n"
    "  rotate-signing-key [--label L]\n"
    "                          a new signing key (on the token as L with [hsm], else a new\n"
    "                          key file), announced in the log under a checkpoint signed by\n"
    "                          the old one; kakunin.toml is updated to name it\n"
    "  rotate-field-key        add a new current field key to the key file; send the serving\n"
    "                          node SIGHUP and it re-seals every value in the background\n"
    "  reseal                  re-seal here, to the end (a node that is not serving)\n"
    "  retire-field-keys       remove the older field keys once nothing is sealed under them\n"
    "                          (with the node stopped)\n\n"
    "Examples:\n"
    "  kakunin keys status --data /var/lib/kakunin\n"
    "  kakunin keys rotate-signing-key --data /var/lib/kakunin --label kakunin-signing-2027\n";

int Usage(Io& io, const std::string& msg) {
  io.err << "kakunin keys: " << msg << "\n詳しくは / see: kakunin keys --help\n";
  return kExitUsage;
}

int RunKeys(const std::vector<std::string>& argv, Io& io) {
  auto args = Args::Parse(
      argv, {DataOption(),
             {"label", "LABEL", "トークン上の新しい署名鍵のラベル / the new signing key's label"}});
  if (!args.ok()) return Usage(io, args.status().message());
  if (args->help()) {
    io.out << kKeysHelp;
    return kExitOk;
  }
  if (args->positional().size() != 1) return Usage(io, "give one subcommand");
  const std::string sub = args->positional()[0];
  const KeyAccess* keys = io.nodes != nullptr ? io.nodes->keys() : nullptr;
  if (keys == nullptr) {
    io.err << "kakunin keys: no key access in this build\n";
    return kExitUsage;
  }
  Result<std::vector<std::string>> lines = Status::InvalidArgument("");
  auto need_data = [&]() { return RequireData(*args, "keys", io); };
  if (sub == "status" || sub == "init-token" || sub == "wrap-field-keys" ||
      sub == "rotate-signing-key" || sub == "rotate-field-key" || sub == "reseal" ||
      sub == "retire-field-keys") {
    auto data = need_data();
    if (!data) return kExitUsage;
    if (sub != "rotate-signing-key" && args->Has("label")) {
      return Usage(io, "--label is for rotate-signing-key");
    }
    if (sub == "status") lines = keys->Status(*data);
    if (sub == "init-token") lines = keys->InitToken(*data);
    if (sub == "wrap-field-keys") lines = keys->WrapFieldKeys(*data);
    if (sub == "rotate-signing-key") {
      lines = keys->RotateSigningKey(*data, args->Get("label").value_or(""));
    }
    if (sub == "rotate-field-key") lines = keys->RotateFieldKey(*data);
    if (sub == "reseal") lines = keys->Reseal(*data);
    if (sub == "retire-field-keys") lines = keys->RetireFieldKeys(*data);
  } else {
    return Usage(io, "unknown subcommand '" + Echoable(sub) + "'");
  }
  if (!lines.ok()) {
    io.err << "kakunin keys: " << lines.status().message() << "\n";
    return lines.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitRejected;
  }
  for (const std::string& l : *lines) io.out << l << "\n";
  return kExitOk;
}

}  // namespace

int RunKeysCommand(const std::vector<std::string>& args, Io& io) { return RunKeys(args, io); }

}  // namespace kakunin::cli
