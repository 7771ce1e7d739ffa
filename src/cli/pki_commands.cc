// kakunin pki: a private CA for test and demo deployments (a real deployment brings its own
// CA; see README "Certificates").

#include <algorithm>
#include <ostream>

#include "cli/commands.h"
#include "crypto/pki.h"
#include "domain/local_gov_code.h"

namespace kakunin::cli {
namespace {

const char kHelp[] =
    "使い方 / usage: kakunin pki SUBCOMMAND --ca DIR [OPTIONS]\n\n"
    "試験・デモ用の認証局。本番では自前の認証局を使います。\n"
    "A private certificate authority for test and demo deployments. Systems are identified by\n"
    "their certificate's SPKI SHA-256, never by the common name.\n\n"
    "  init [--name CN] [--days N]                 create the CA (ca.pem, ca.key 0600, crl.pem)\n"
    "  issue --kind municipal-cs|agency|national|operator --name NAME\n"
    "        [--municipality CODE] --out PREFIX [--days N]\n"
    "                                              a client certificate: PREFIX.pem, PREFIX.key\n"
    "  server --dns localhost[,…] [--ip 127.0.0.1[,…]] --out PREFIX [--days N]\n"
    "                                              the node's server certificate\n"
    "  revoke --serial HEX                         revoke and re-issue the CRL\n"
    "  renew-crl                                   re-issue the CRL (it is valid 30 days)\n"
    "  list                                        every certificate issued (no keys)\n"
    "\nExamples:\n"
    "  kakunin pki init --ca /etc/kakunin/ca\n"
    "  kakunin pki issue --ca /etc/kakunin/ca --kind municipal-cs --name 甲府市CS "
    "--municipality 192015 --out kofu\n";

int Usage(Io& io, const std::string& msg) {
  io.err << "kakunin pki: " << msg << "\n詳しくは / see: kakunin pki --help\n";
  return kExitUsage;
}

int Fail(Io& io, const Status& st) {
  io.err << "kakunin pki: " << st.message() << "\n";
  return kExitUsage;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    size_t c = s.find(',', start);
    out.push_back(s.substr(start, c == std::string::npos ? std::string::npos : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

void PrintIssued(const crypto::IssuedCert& c, Io& io) {
  io.out << "{\"serial\":\"" << c.serial_hex << "\",\"spki_sha256\":\"" << c.spki_sha256_hex
         << "\",\"certificate\":\"" << c.cert_path << "\",\"key\":\"" << c.key_path << "\"}\n";
}

}  // namespace

int RunPkiCommand(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {
      {"ca", "DIR", "CA directory"},     {"name", "NAME", "common name"},
      {"days", "N", "validity in days"}, {"kind", "KIND", "municipal-cs|agency|national|operator"},
      {"municipality", "CODE", "全国地方公共団体コード (municipal-cs)"},
      {"out", "PREFIX", "output path prefix"}, {"dns", "NAMES", "DNS names, comma-separated"},
      {"ip", "ADDRS", "IP addresses, comma-separated"}, {"serial", "HEX", "certificate serial"},
  };
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Usage(io, args.status().message());
  if (args->help() || args->positional().size() != 1) {
    io.out << kHelp;
    return args->help() ? kExitOk : kExitUsage;
  }
  const std::string sub = args->positional()[0];
  auto ca = args->Get("ca");
  if (!ca) return Usage(io, "--ca DIR is required");
  int days = 365;
  if (auto d = args->Get("days")) {
    try {
      days = std::stoi(*d);
    } catch (...) {
      return Usage(io, "--days must be a number");
    }
  }
  if (sub == "init") {
    Status st = crypto::CreateCertificateAuthority(
        *ca, args->Get("name").value_or("Kakunin demo CA"), args->Has("days") ? days : 3650);
    if (!st.ok()) return Fail(io, st);
    io.out << "認証局を作成しました / CA created in " << *ca << "\n";
    return kExitOk;
  }
  if (sub == "issue") {
    // `clients register` spells the kinds with an underscore (municipal_cs): both are taken.
    std::string kind_text = args->Get("kind").value_or("");
    std::replace(kind_text.begin(), kind_text.end(), '_', '-');
    auto kind = crypto::ParseClientKind(kind_text);
    auto out = args->Get("out");
    if (!args->Get("kind") || !args->Get("name") || !out) {
      return Usage(io, "issue needs --kind, --name and --out");
    }
    if (!kind) {
      return Usage(io, "--kind must be municipal-cs, agency, national or operator");
    }
    crypto::ClientCertRequest req;
    req.kind = *kind;
    req.name = *args->Get("name");
    req.municipality_code = args->Get("municipality").value_or("");
    req.days = days;
    if (*kind == crypto::ClientKind::kMunicipalCs) {
      ErrorCode e;
      const LocalGovEntry* m =
          LookupLocalGovCode(req.municipality_code, LocalGovTable::Builtin(), &e);
      if (m == nullptr || !m->is_municipality()) {
        return Usage(io, "--municipality must be a municipality's code");
      }
    }
    auto issued = crypto::IssueClientCertificate(*ca, req, *out + ".pem", *out + ".key");
    if (!issued.ok()) return Fail(io, issued.status());
    PrintIssued(*issued, io);
    return kExitOk;
  }
  if (sub == "server") {
    auto out = args->Get("out");
    if (!out || !args->Get("dns")) return Usage(io, "server needs --dns and --out");
    auto issued = crypto::IssueServerCertificate(*ca, SplitComma(*args->Get("dns")),
                                                 SplitComma(args->Get("ip").value_or("")), days,
                                                 *out + ".pem", *out + ".key");
    if (!issued.ok()) return Fail(io, issued.status());
    PrintIssued(*issued, io);
    return kExitOk;
  }
  if (sub == "revoke") {
    auto serial = args->Get("serial");
    if (!serial) return Usage(io, "revoke needs --serial");
    Status st = crypto::RevokeCertificate(*ca, *serial);
    if (!st.ok()) return Fail(io, st);
    io.out << "失効しました / revoked; crl.pem re-issued\n";
    return kExitOk;
  }
  if (sub == "renew-crl") {
    Status st = crypto::RenewCrl(*ca);
    if (!st.ok()) return Fail(io, st);
    io.out << "crl.pem re-issued\n";
    return kExitOk;
  }
  if (sub == "list") {
    auto list = crypto::ListCertificates(*ca);
    if (!list.ok()) return Fail(io, list.status());
    for (const auto& c : *list) {
      io.out << "{\"serial\":\"" << c.serial_hex << "\",\"kind\":\""
             << (c.kind ? crypto::ClientKindName(*c.kind) : "server") << "\",\"municipality\":\""
             << c.municipality_code << "\",\"spki_sha256\":\"" << c.spki_sha256_hex
             << "\",\"not_after\":" << c.not_after
             << ",\"revoked\":" << (c.revoked_at ? "true" : "false") << "}\n";
    }
    return kExitOk;
  }
  return Usage(io, "unknown subcommand '" + Echoable(sub) + "'");
}

}  // namespace kakunin::cli
