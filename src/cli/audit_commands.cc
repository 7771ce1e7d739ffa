// kakunin audit: verify, checkpoint, prove, check-proof, search.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "audit/archive.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/review.h"
#include "audit/signer.h"
#include "audit/statement.h"
#include "cli/commands.h"
#include "cli/node.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/file.h"
#include "crypto/sha256.h"
#include "domain/identifiers.h"
#include "text/json.h"
#include "text/utf8.h"

namespace kakunin::cli {

namespace fs = std::filesystem;
namespace {

int Usage(Io& io, const std::string& msg) {
  io.err << "kakunin audit: " << msg << "\n詳しくは / see: kakunin audit --help\n";
  return kExitUsage;
}

int Fail(Io& io, const Status& st) {
  io.err << "kakunin audit: " << st.message() << "\n";
  return kExitUsage;
}

Result<std::string> ReadFile(const std::string& path, size_t limit = 1 << 20) {
  return ReadFileAtMost(path, limit);
}

// A 住民票コード as the node checks one in notifications (format, and the check digit unless
// [checks] resident_code_check = "format"): the registry never holds anything else.
bool IsResidentCode(const Node& n, const std::string& s) {
  ErrorCode error{};
  return ResidentCode::Parse(s, n.config.resident_code_check, &error).has_value();
}

std::optional<int64_t> ParseCount(const std::optional<std::string>& s) {
  if (!s || s->empty() || s->size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : *s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

const char kHelp[] =
    "使い方 / usage: kakunin audit SUBCOMMAND --data DIR [OPTIONS]\n\n"
    "操作履歴（改ざん検知可能なログ）の検証・証明・検索。\n"
    "The operation log: every operation (ingest, show, search, history, purge, refusals\n"
    "included) is an entry in an RFC 9162 Merkle tree with signed checkpoints.\n\n"
    "  verify [--checkpoint FILE]   recompute every leaf, node and checkpoint; name every\n"
    "                               entry, node or checkpoint that does not match (the first\n"
    "                               100 listed, the rest counted); the log must also\n"
    "                               extend audit.head and a witnessed checkpoint if given\n"
    "                               (exit 0 only if all holds)\n"
    "  checkpoint [--note]          the latest signed checkpoint (JSON, or with --note the\n"
    "                               C2SP tlog-checkpoint signed note)\n"
    "  prove --entry N [--size M]   inclusion proof of entry N in the tree of size M (JSON;\n"
    "                               M defaults to the latest checkpoint)\n"
    "  prove --from M --to N        consistency proof between tree sizes M and N (JSON)\n"
    "  check-proof --public-key FILE --checkpoint FILE [--old-checkpoint FILE]\n"
    "              [--old-public-key FILE] PROOF\n"
    "                               check a proof with nothing but the public key (no --data);\n"
    "                               --old-public-key: the key that signed --old-checkpoint,\n"
    "                               when a signing-key rotation came between the two\n"
    "  search [--from D] [--to D] [--actor A] [--action X] [--purpose P] [--target CODE]\n"
    "         [--criterion KIND=VALUE | --criteria JSON] [--limit N]\n"
    "                               entries as JSON lines (the search is itself recorded);\n"
    "                               with criteria, only the searches made with exactly those\n"
    "                               (tested against their keyed commitment); kinds:\n"
    "                               name_kana name birth_date sex address\n"
    "                               individual_number, each at most once; with --target,\n"
    "                               the entries of every code the resident has held\n"
    "  statement --resident CODE [--checkpoint FILE] [--out FILE]\n"
    "                               the resident's access statement (JSON): every entry that\n"
    "                               named them, under this code and every earlier or later\n"
    "                               one (a part per code), with proofs against the signed\n"
    "                               checkpoint and its resident map that none is left out\n"
    "                               (for a code never named, the map's proof that it holds\n"
    "                               none); with\n"
    "                               --checkpoint (one seen before), a consistency proof from it\n"
    "  check-statement --public-key FILE [--checkpoint FILE] STATEMENT\n"
    "                               check a statement with nothing but the public key (no\n"
    "                               --data); VALID, or what fails; with --checkpoint (one the\n"
    "                               resident holds), a statement older than it is refused;\n"
    "                               only the bytes the node wrote are VALID (their SHA-256 is\n"
    "                               on the 開示決定通知書)\n"
    "  export --from D --to D --out FILE\n"
    "                               a self-contained archive for media: entries, a proof of\n"
    "                               each, the signed checkpoint and the public key\n"
    "  verify --archive FILE [--public-key FILE]\n"
    "                               check an archive on any machine (no --data)\n"
    "  review [--from D] [--to D]   flag likely misuse: reads outside office hours (JST weekdays\n"
    "                               08:30-17:30), over 50 searches a day by one actor, searches\n"
    "                               followed by no view/provision/disclosure, 3+ refusals a day,\n"
    "                               reads of removed residents; each finding with its entries\n"
    "\nExamples:\n"
    "  kakunin audit verify --data /var/lib/kakunin\n"
    "  kakunin audit checkpoint --data d > cp.json && kakunin audit prove --data d --entry 7 > p.json\n"
    "  kakunin audit check-proof --public-key d/audit.key.pub --checkpoint cp.json p.json\n"
    "  kakunin audit export --data d --from 2026-04-01 --to 2026-05-01 --out 2026-04.kla\n"
    "  kakunin audit verify --archive 2026-04.kla --public-key audit.key.pub\n";


int Verify(Node& node, const Args& args, Io& io) {
  auto report = node.audit->Verify();
  if (!report.ok()) return Fail(io, report.status());
  std::vector<std::string> problems = report->problems;
  int64_t count = report->problem_count;
  // Checkpoints kept outside the database: the node's own audit.head, and one a witness holds.
  // Checked whatever the database showed: each finding is listed.
  std::vector<std::pair<std::string, std::string>> outside = {
      {node.config.data_dir + "/audit.head", "the last signed checkpoint (audit.head)"}};
  if (auto w = args.Get("checkpoint")) outside.push_back({*w, "the given checkpoint"});
  for (const auto& [path, what] : outside) {
    auto text = ReadFile(path, 4096);
    if (!text.ok()) {
      if (path == outside[0].first) continue;  // a node that never sealed has no head yet
      return Fail(io, text.status());
    }
    Status st = node.audit->CheckExtends(*text, what.c_str());
    if (!st.ok()) {
      if (problems.size() < audit::kMaxListedProblems) problems.push_back(st.message());
      ++count;
    }
  }
  if (count > 0) {
    // The first on the headline (what scripts grep), then every one, bounded.
    io.out << "検証失敗 / verification FAILED: " << problems.front() << "\n";
    io.out << count << " problem(s) found";
    if (count > static_cast<int64_t>(problems.size())) {
      io.out << ", the first " << problems.size() << " listed";
    }
    io.out << ":\n";
    for (const auto& p : problems) io.out << "  - " << p << "\n";
    if (count > static_cast<int64_t>(problems.size())) {
      io.out << "  … and " << (count - static_cast<int64_t>(problems.size())) << " more\n";
    }
    return kExitRejected;
  }
  io.out << "検証成功 / verified: " << report->entries << " entries ("
         << report->erased_payloads << " with payload erased by retention), "
         << report->checkpoints << " signed checkpoints";
  // The stored records against what the log says was written (issue 11 part 4); on the same
  // line, which scripts read.
  io.out << "; records: " << report->versions << " versions and " << report->residents
         << " resident rows match the log (" << report->state_entries << " entries with state)";
  if (report->unattested_versions + report->unattested_residents > 0) {
    io.out << "; " << report->unattested_versions << " versions and "
           << report->unattested_residents
           << " resident rows written before the log recorded state are not covered";
  }
  io.out << "\n";
  return kExitOk;
}

// The key as check-proof names it in an answer: its id, the same as the checkpoint's key_id.
std::string KeyName(std::string_view public_key) { return "key " + audit::PublicKeyId(public_key); }

int CheckProof(const Args& args, Io& io) {
  auto pub_path = args.Get("public-key");
  auto cp_path = args.Get("checkpoint");
  // positional: "check-proof" PROOF
  if (!pub_path || !cp_path || args.positional().size() != 2) {
    return Usage(io, "check-proof needs --public-key, --checkpoint and one PROOF file");
  }
  auto pub = audit::LoadPublicKeyFile(*pub_path);
  if (!pub.ok()) return Fail(io, pub.status());
  auto cp_text = ReadFile(*cp_path);
  if (!cp_text.ok()) return Fail(io, cp_text.status());
  auto cp = audit::ParseCheckpoint(*cp_text, *pub);
  // A well-formed note this key never signed is a proof that does not hold (INVALID, as
  // check-statement answers), not a usage error.
  if (!cp.ok() && cp.status().message() == audit::kNoSignatureByThisKey) {
    io.out << "不正 / INVALID: the checkpoint (--checkpoint) has no signature by the key given ("
           << KeyName(*pub) << ")\n";
    return kExitRejected;
  }
  if (!cp.ok()) return Fail(io, cp.status());
  if (!audit::VerifyCheckpoint(*cp, *pub)) {
    io.out << "不正 / INVALID: the checkpoint's signature (--checkpoint, tree of " << cp->tree_size
           << " entries) does not verify under the key given (" << KeyName(*pub) << ")\n";
    return kExitRejected;
  }
  auto proof_text = ReadFile(args.positional()[1]);
  if (!proof_text.ok()) return Fail(io, proof_text.status());
  if (auto inc = audit::InclusionProofFromJson(*proof_text); inc.ok()) {
    bool ok = inc->tree_size == cp->tree_size && inc->leaf_index >= 0 &&
              audit::VerifyInclusion(inc->leaf_hash, static_cast<uint64_t>(inc->leaf_index),
                                     static_cast<uint64_t>(inc->tree_size), inc->path, cp->root);
    io.out << (ok ? "有効 / VALID" : "不正 / INVALID") << ": entry " << inc->leaf_index
           << " in the signed tree of " << cp->tree_size << " entries\n";
    return ok ? kExitOk : kExitRejected;
  }
  auto con = audit::ConsistencyProofFromJson(*proof_text);
  if (!con.ok()) return Fail(io, Status::InvalidArgument("the proof file is not a proof"));
  auto old_path = args.Get("old-checkpoint");
  if (!old_path) return Usage(io, "a consistency proof needs --old-checkpoint");
  // The older checkpoint may predate a signing-key rotation (docs/keys.md): then it is signed by
  // the key the rotation replaced, which a consistency proof does not carry (a statement does,
  // in its key history). The verifier names that key with --old-public-key; without it the
  // older checkpoint is checked with --public-key, as before. Found in review: across a rotation
  // no key checked the proof, and the answer read "INVALID: the tree of 177 entries is a prefix
  // of the tree of 182", the failed signature of the older checkpoint named nowhere.
  std::string old_pub = *pub;
  if (auto old_pub_path = args.Get("old-public-key")) {
    auto loaded = audit::LoadPublicKeyFile(*old_pub_path);
    if (!loaded.ok()) return Fail(io, loaded.status());
    old_pub = std::move(*loaded);
  }
  const std::string old_key_hint =
      args.Has("old-public-key")
          ? std::string()
          : "; a checkpoint from before a signing-key rotation is checked with the key that "
            "signed it: give it with --old-public-key";
  auto old_text = ReadFile(*old_path);
  if (!old_text.ok()) return Fail(io, old_text.status());
  auto old_cp = audit::ParseCheckpoint(*old_text, old_pub);
  if (!old_cp.ok() && old_cp.status().message() == audit::kNoSignatureByThisKey) {
    io.out << "不正 / INVALID: the old checkpoint (--old-checkpoint) has no signature by "
           << KeyName(old_pub) << old_key_hint << "\n";
    return kExitRejected;
  }
  if (!old_cp.ok()) return Fail(io, old_cp.status());
  // Each refusal names what failed; only a proof that holds says "is a prefix".
  std::string problem;
  if (!audit::VerifyCheckpoint(*old_cp, old_pub)) {
    problem = "the old checkpoint's signature (--old-checkpoint, tree of " +
              std::to_string(old_cp->tree_size) + " entries) does not verify under " +
              KeyName(old_pub) + old_key_hint;
  } else if (con->old_size != old_cp->tree_size || con->new_size != cp->tree_size) {
    problem = "the proof is from a tree of " + std::to_string(con->old_size) + " entries to one of " +
              std::to_string(con->new_size) + ", the checkpoints are of " +
              std::to_string(old_cp->tree_size) + " and " + std::to_string(cp->tree_size);
  } else if (con->old_size <= 0) {
    problem = "a consistency proof from an empty tree proves nothing";
  } else if (!audit::VerifyConsistency(static_cast<uint64_t>(con->old_size),
                                       static_cast<uint64_t>(con->new_size), old_cp->root,
                                       cp->root, con->path)) {
    problem = "the proof does not show the tree of " + std::to_string(con->old_size) +
              " entries (old checkpoint) to be a prefix of the tree of " +
              std::to_string(con->new_size) + " (a forked or rewritten log, or an altered proof)";
  }
  if (!problem.empty()) {
    io.out << "不正 / INVALID: " << problem << "\n";
    return kExitRejected;
  }
  io.out << "有効 / VALID: the tree of " << con->old_size << " entries is a prefix of the tree of "
         << con->new_size << "\n";
  return kExitOk;
}

int CheckStatementCommand(const Args& args, Io& io) {
  // Review: --resident was accepted and ignored, so a resident believed the check tied the
  // statement to their code. It cannot (docs/audit-log.md, Limits: whose statement it is).
  if (args.Has("resident")) {
    return Usage(io,
                 "check-statement cannot tell whose statement it is: the statement names the "
                 "resident by a key only the node can compute. Compare the file's SHA-256 with "
                 "the one on the 開示決定通知書 that shows your record; --resident is not taken");
  }
  auto pub_path = args.Get("public-key");
  if (!pub_path || args.positional().size() != 2) {
    return Usage(io, "check-statement needs --public-key and one STATEMENT file");
  }
  auto pub = audit::LoadPublicKeyFile(*pub_path);
  if (!pub.ok()) return Fail(io, pub.status());
  auto text = ReadFile(args.positional()[1], audit::kMaxStatementBytes);
  if (text.status().code() == StatusCode::kInvalidArgument) {
    // Larger than any statement the node writes (or no file at all): an answer about the
    // statement, not an error.
    const bool large = text.status().message().ends_with("is too large");
    io.out << "不正 / INVALID: "
           << (large ? "larger than an access statement can be (" +
                           std::to_string(audit::kMaxStatementBytes) + " bytes)"
                     : std::string("not an access statement (not a file)"))
           << "\n";
    return kExitRejected;
  }
  if (!text.ok()) return Fail(io, text.status());
  auto statement = audit::StatementFromJson(*text);
  if (!statement.ok()) {
    io.out << "不正 / INVALID: not an access statement\n";
    return kExitRejected;
  }
  std::optional<audit::Checkpoint> earlier;
  if (auto cp_path = args.Get("checkpoint")) {
    auto cp_text = ReadFile(*cp_path);
    if (!cp_text.ok()) return Fail(io, cp_text.status());
    auto cp = audit::ParseCheckpoint(*cp_text, *pub);
    if (!cp.ok()) {
      // A note signed by another key of the node that the statement's key history shows from
      // the key given: a later one (the newest checkpoint the node publishes after a rotation,
      // read with the old key), or an earlier one (a checkpoint kept from before a rotation,
      // read with the current key). CheckStatement holds it to the consistency proof.
      audit::StatementCheck plain = audit::CheckStatement(*statement, *pub, std::nullopt);
      for (const std::string& key : plain.node_keys) {
        if (key == *pub) continue;
        auto by_other = audit::ParseCheckpoint(*cp_text, key);
        if (by_other.ok()) {
          cp = std::move(by_other);
          break;
        }
      }
    }
    if (!cp.ok()) return Fail(io, cp.status());
    earlier = *cp;
  }
  auto check = audit::CheckStatement(*statement, *pub, earlier);
  if (!check.ok) {
    io.out << "不正 / INVALID: " << check.problem << "\n";
    return kExitRejected;
  }
  // The proofs hold for the values read; the file must also be the bytes the node wrote, whose
  // SHA-256 the 開示決定通知書 prints (docs/disclosure.md) and which binds the statement to the
  // person. Found in review: upper-case hex or members in another order read as the same values
  // and checked VALID, while the file's digest matched no notice. Asked after the proofs, so a
  // file that is altered as well is named by what the alteration broke.
  if (!audit::IsCanonicalStatementJson(*text, *statement)) {
    io.out << "不正 / INVALID: not in the node's canonical form (the values prove what they "
              "say, but the file is spelt otherwise than the node writes it: upper-case hex, "
              "members in another order, spaces…), so its SHA-256 matches no 開示決定通知書\n";
    return kExitRejected;
  }
  io.out << "有効 / VALID: " << check.entries << " entries name this resident under " << check.codes
         << " resident code" << (check.codes == 1 ? "" : "s") << " in the signed log of "
         << check.tree_size << " entries, and none is left out";
  if (check.keys_followed > 0) {
    // Signed by a later key of the node, which the key given announced.
    io.out << " (signed by a key introduced by " << check.keys_followed
           << " signing-key announcement(s) from the key given)";
  }
  io.out << "\n";
  // What a statement proves stops at its checkpoint (found in review: VALID said nothing of its
  // age, and an old statement stays VALID for ever): say when it was signed, and, without a
  // newer checkpoint to check it against, that later entries are not covered.
  io.out << "  署名日時 / signed at: " << JstIsoTime(check.signed_at).substr(0, 19) << " (JST)\n";
  if (!earlier) {
    io.out << "  この日時より後の記録は含まれません。県が公表する最新のチェックポイントを "
              "--checkpoint に指定すると、それ以降の記録が省かれていないことも確かめられます / "
              "entries after that time are not covered: give the newest checkpoint the "
              "prefecture publishes with --checkpoint to check that none was left out since\n";
  }
  return kExitOk;
}

}  // namespace

int RunAuditCommand(const std::vector<std::string>& argv, Io& io) {
  std::vector<OptionSpec> specs = {
      DataOption(),
      {"entry", "N", "entry number"},
      {"size", "M", "tree size"},
      {"from", "M|DATE", "from (size for prove, date for search)"},
      {"to", "N|DATE", "to (size for prove, date for search; exclusive)"},
      {"public-key", "FILE", "public key file (audit.key.pub)"},
      {"checkpoint", "FILE", "checkpoint (JSON or C2SP note)"},
      {"old-checkpoint", "FILE", "older checkpoint (JSON or C2SP note)"},
      {"old-public-key", "FILE", "check-proof: the key that signed --old-checkpoint"},
      {"note", "", "the checkpoint as a C2SP tlog-checkpoint note"},
      {"resident", "CODE", "statement: the resident"},
      {"criterion", "KIND=VALUE", "search: only searches with exactly this criterion"},
      {"criteria", "JSON", "search: only searches with exactly these criteria {kind: value}"},
      {"actor", "A", "actor"},
      {"action", "X", "action"},
      {"purpose", "P", "purpose"},
      {"target", "CODE", "target resident code"},
      {"limit", "N", "at most N entries (default 1000)"},
      {"out", "FILE", "archive to write"},
      {"archive", "FILE", "archive to check"},
  };
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Usage(io, args.status().message());
  if (args->help() || args->positional().empty()) {
    io.out << kHelp;
    return args->help() ? kExitOk : kExitUsage;
  }
  const std::string sub = args->positional()[0];
  if (sub == "check-proof") return CheckProof(*args, io);  // needs no node
  if (sub == "check-statement") return CheckStatementCommand(*args, io);  // needs no node
  if (sub == "verify" && args->Has("archive")) {
    std::optional<std::string> trusted;
    if (auto pk = args->Get("public-key")) {
      auto k = audit::LoadPublicKeyFile(*pk);
      if (!k.ok()) return Fail(io, k.status());
      trusted = *k;
    }
    if (Status st = CheckRegularFile(*args->Get("archive"), "the archive"); !st.ok()) {
      return Fail(io, st);
    }
    std::ifstream in(*args->Get("archive"), std::ios::binary);
    if (!in) return Fail(io, Status::NotFound("cannot open the archive"));
    auto check = audit::CheckArchive(in, trusted);
    if (!check.ok()) return Fail(io, check.status());
    if (!check->ok) {
      io.out << "検証失敗 / verification FAILED: " << check->problem << "\n";
      return kExitRejected;
    }
    if (!trusted) {
      // Anyone can make a self-consistent archive with a key of their own.
      io.out << "未確認 / UNTRUSTED: the archive is consistent with its own key; give the node's "
                "--public-key to verify it\n";
      return kExitRejected;
    }
    io.out << "検証成功 / verified: archive of " << check->entries << " entries ("
           << check->erased << " with payload erased by retention), signed by the given key\n";
    return kExitOk;
  }
  auto data = RequireData(*args, "audit", io);
  if (!data) return kExitUsage;
  auto node = OpenNode(io, *data, /*check_head=*/sub != "verify");
  if (!node.ok()) return Fail(io, node.status());
  Node& n = **node;
  if (sub == "verify") return Verify(n, *args, io);
  if (sub == "checkpoint") {
    (void)SealLog(n);
    auto latest = n.audit->LatestCheckpoint();
    if (!latest.ok()) return Fail(io, latest.status());
    if (!*latest) return Fail(io, Status::NotFound("the log has no checkpoint yet"));
    if (args->Has("note")) {
      if ((*latest)->origin.empty()) {
        return Fail(io, Status::FailedPrecondition(
                            "the latest checkpoint is of the first format (no origin); it has "
                            "no note form until the log grows"));
      }
      io.out << n.audit->CheckpointNote(**latest);
      return kExitOk;
    }
    io.out << audit::CheckpointToJson(**latest) << "\n";
    return kExitOk;
  }
  if (sub == "prove") {
    if (args->Has("entry")) {
      auto entry = ParseCount(args->Get("entry"));
      std::optional<int64_t> size = ParseCount(args->Get("size"));
      if (!entry) return Usage(io, "--entry must be a number");
      auto p = n.audit->ProveInclusion(*entry, size);
      if (!p.ok()) return Fail(io, p.status());
      io.out << audit::InclusionProofToJson(*p) << "\n";
      return kExitOk;
    }
    auto from = ParseCount(args->Get("from"));
    auto to = ParseCount(args->Get("to"));
    if (!from || !to) return Usage(io, "prove needs --entry N, or --from M --to N");
    auto p = n.audit->ProveConsistency(*from, *to);
    if (!p.ok()) return Fail(io, p.status());
    io.out << audit::ConsistencyProofToJson(*p) << "\n";
    return kExitOk;
  }
  auto date = [&](const char* key, std::optional<int64_t>* out) -> bool {
    auto v = args->Get(key);
    if (!v) return true;
    auto d = ParseIsoDate(*v).date;
    if (!d) return false;
    *out = JstMidnightMicros(*d);
    return true;
  };
  auto record = [&](const char* action, std::string conditions, int64_t count) {
    audit::AuditEntry e;
    e.actor = n.actor.id;
    e.terminal = n.actor.terminal;
    e.action = action;
    e.conditions = std::move(conditions);
    e.result_count = count;
    e.outcome = "done";
    Status st = n.registry->Record(std::move(e));
    if (st.ok()) (void)SealLog(n);
    return st;
  };
  if (sub == "export") {
    std::optional<int64_t> from, to;
    auto out_path = args->Get("out");
    if (!date("from", &from) || !date("to", &to) || !from || !to || !out_path) {
      return Usage(io, "export needs --from DATE --to DATE --out FILE");
    }
    // Recorded first, with its row of the media register, and signed, so the archive's
    // checkpoint covers its own export.
    audit::AuditEntry begun;
    begun.actor = n.actor.id;
    begun.terminal = n.actor.terminal;
    begun.action = "audit.export";
    begun.conditions = "from=" + *args->Get("from") + " to=" + *args->Get("to");
    begun.outcome = "done";
    auto media_id = n.media->BeginExport(std::move(begun),
                                         *args->Get("from") + ".." + *args->Get("to"), *out_path);
    if (!media_id.ok()) return Fail(io, media_id.status());
    (void)SealLog(n);
    // What the medium got (or that it got nothing) goes into the register and the log too.
    auto finish = [&](bool written, int64_t bytes, const std::string& sha256) {
      Status st = n.media->FinishExport(*media_id, written, bytes, sha256, n.actor);
      if (st.ok()) (void)SealLog(n);
      return st;
    };
    auto failed = [&](const Status& why) {
      if (Status st = finish(false, 0, ""); !st.ok()) {
        io.err << "kakunin audit: medium " << *media_id
               << " stays 'writing' in the media register: " << st.message() << "\n";
      }
      return Fail(io, why);
    };
    // The archive is a copy of the signed log (entries from before version 2 may name codes
    // and search values in clear): owner-only, made durable before it takes its name.
    std::string tmp = *out_path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return failed(Status::IoError("cannot create " + tmp + " (does it exist?)"));
    ::close(fd);
    Result<audit::ArchiveSummary> summary = Status::IoError("cannot write " + tmp);
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);  // keeps mode 0600
      if (out) summary = n.audit->Export(*from, *to, out);
      out.close();
      if (summary.ok() && !out) summary = Status::IoError("cannot write " + tmp);
    }
    bool written = summary.ok();
    // Its size and SHA-256 read back after the sync, with the cached pages dropped first so
    // that what is read comes from the medium as far as the kernel lets us.
    int64_t bytes = 0;
    crypto::Sha256Hasher hasher;
    if (written) {
      fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
      written = fd >= 0 && ::fsync(fd) == 0;
      if (written) (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      char buf[1 << 16];
      for (ssize_t got; written && (got = ::read(fd, buf, sizeof buf)) != 0;) {
        if (got < 0) {
          written = false;
          break;
        }
        hasher.Update(std::string_view(buf, static_cast<size_t>(got)));
        bytes += got;
      }
      if (fd >= 0) ::close(fd);
    }
    if (!written) {
      ::unlink(tmp.c_str());
      return failed(summary.ok() ? Status::IoError("cannot write " + tmp) : summary.status());
    }
    if (std::rename(tmp.c_str(), out_path->c_str()) != 0) {
      ::unlink(tmp.c_str());
      return failed(Status::IoError("cannot write " + *out_path));
    }
    // The name is durable too before the register says complete.
    const std::string parent = fs::path(*out_path).parent_path().string();
    int dir = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const bool named = dir >= 0 && ::fsync(dir) == 0;
    if (dir >= 0) ::close(dir);
    if (!named) return failed(Status::IoError("cannot sync the directory of " + *out_path));
    const std::string sha256 = HexEncode(hasher.Finish());
    if (Status st = finish(true, bytes, sha256); !st.ok()) {
      io.err << "kakunin audit: the archive was written (sha256 " << sha256 << ") but medium "
             << *media_id << " stays 'writing' in the media register\n";
      return Fail(io, st);
    }
    io.out << "書き出しました / exported entries " << summary->from_seq << "…"
           << summary->to_seq - 1 << " with proofs in the signed tree of " << summary->tree_size
           << " entries to " << *out_path << "\n"
           << "媒体の管理簿 / media register: medium " << *media_id << ", " << bytes
           << " bytes, sha256 " << sha256 << "\n";
    return kExitOk;
  }
  if (sub == "review") {
    std::optional<int64_t> from, to;
    if (!date("from", &from) || !date("to", &to)) return Usage(io, "--from/--to are dates");
    auto findings = n.audit->Review(from.value_or(0), to.value_or(INT64_MAX));
    if (!findings.ok()) return Fail(io, findings.status());
    Status st = record("audit.review", "from=" + args->Get("from").value_or("") + " to=" +
                                           args->Get("to").value_or(""),
                       static_cast<int64_t>(findings->size()));
    if (!st.ok()) return Fail(io, st);
    for (const auto& f : *findings) {
      std::string line = "{\"rule\":\"" + f.rule + "\",\"actor\":";
      text::AppendJsonString(f.actor, &line);
      line += ",\"day\":\"" + f.day + "\",\"note\":";
      text::AppendJsonString(f.note, &line);
      line += ",\"entries\":[";
      for (size_t i = 0; i < f.entries.size(); ++i) {
        line += (i ? "," : "") + std::to_string(f.entries[i]);
      }
      io.out << line << "]}\n";
    }
    io.err << findings->size() << "件の所見 / findings\n";
    return kExitOk;
  }
  if (sub == "statement") {
    auto code = args->Get("resident");
    if (!code) return Usage(io, "statement needs --resident CODE");
    // A mistyped code would get a valid statement of no entries: "nobody read your record".
    if (!IsResidentCode(n, *code)) {
      return Usage(io, "--resident is not a 住民票コード (11 digits and their check digit)");
    }
    std::optional<std::string> earlier;
    if (auto cp_path = args->Get("checkpoint")) {
      auto cp_text = ReadFile(*cp_path);
      if (!cp_text.ok()) return Fail(io, cp_text.status());
      earlier = *cp_text;
    }
    (void)SealLog(n);  // the latest entries under a checkpoint that signs the map
    auto json = n.audit->Statement(*code, earlier);
    if (!json.ok()) return Fail(io, json.status());
    // Making a statement is an operation too; recorded after it, so it is not in its own
    // statement (the next one shows it).
    audit::AuditEntry e;
    e.actor = n.actor.id;
    e.terminal = n.actor.terminal;
    e.action = "audit.statement";
    // By its keyed MAC, neither found nor missing: a statement is made for any valid code.
    e.targets.push_back(n.audit->AskedTargetOf(*code));
    e.result_count = 1;
    e.outcome = "done";
    Status st = n.registry->Record(std::move(e));
    if (!st.ok()) return Fail(io, st);
    (void)SealLog(n);
    if (auto out_path = args->Get("out")) {
      // The person's provision history (docs/disclosure.md): owner-only, as the archive is
      // (found in review: it followed the umask, 0644).
      const std::string text = *json + "\n";
      int fd = ::open(out_path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      bool written = fd >= 0 && ::fchmod(fd, 0600) == 0;
      for (size_t at = 0; written && at < text.size();) {
        const ssize_t n = ::write(fd, text.data() + at, text.size() - at);
        written = n > 0;
        if (written) at += static_cast<size_t>(n);
      }
      written = fd >= 0 && ::close(fd) == 0 && written;
      if (!written) return Fail(io, Status::IoError("cannot write " + *out_path));
      io.err << "書き出しました / written: " << *out_path << "\n";
    } else {
      io.out << *json << "\n";
    }
    return kExitOk;
  }
  if (sub == "search") {
    registry::LogQuery q;
    if (!date("from", &q.from_time) || !date("to", &q.to_time)) {
      return Usage(io, "--from and --to are dates YYYY-MM-DD (JST)");
    }
    q.actor = args->Get("actor");
    q.action = args->Get("action");
    q.purpose = args->Get("purpose");
    q.target = args->Get("target");
    // A suspicion to test: the values go only into a keyed commitment, never into the log.
    if (auto c = args->Get("criterion")) {
      size_t eq = c->find('=');
      if (eq == std::string::npos || eq == 0) return Usage(io, "--criterion is KIND=VALUE");
      q.criteria.emplace_back(c->substr(0, eq), c->substr(eq + 1));
    }
    if (auto c = args->Get("criteria")) {
      auto v = text::ParseJson(*c, {.max_bytes = 4096, .max_depth = 2});
      if (!v.ok() || !v->is_object()) return Usage(io, "--criteria is a JSON object");
      for (const auto& [k, val] : v->members()) {
        if (!val.is_string()) return Usage(io, "--criteria values are strings");
        q.criteria.emplace_back(k, val.text());
      }
    }
    // An unknown kind or a kind twice matches no search: refused, not answered "none".
    if (Status st = registry::CheckCriteria(q.criteria); !st.ok()) {
      return Usage(io, std::string(args->Has("criteria") ? "--criteria" : "--criterion") + ": " +
                           st.message());
    }
    if (auto l = args->Get("limit")) {
      auto v = ParseCount(l);
      if (!v || *v < 1 || *v > 100000) return Usage(io, "--limit must be 1..100000");
      q.limit = static_cast<int>(*v);
    }
    if (q.target && !IsResidentCode(n, *q.target)) {
      return Usage(io, "--target is not a 住民票コード (11 digits and their check digit)");
    }
    // One entry more than asked tells whether the limit cut the answer: the entries come oldest
    // first, and a reviewer must not take the first N for all of them.
    const int limit = q.limit;
    ++q.limit;
    int codes_searched = 0;
    auto rows = n.audit->Search(q, &codes_searched);
    if (!rows.ok()) return Fail(io, rows.status());
    const bool cut = static_cast<int>(rows->size()) > limit;
    if (cut) rows->resize(limit);
    // Reading the log is an operation too.
    audit::AuditEntry e;
    e.actor = n.actor.id;
    e.terminal = n.actor.terminal;
    e.action = "audit.search";
    // The code searched for is named as reads name it, by its keyed MAC, never in clear.
    if (q.target) e.targets.push_back(n.audit->TargetOf(*q.target, !rows->empty()));
    // The filters as typed only when they have the shape of an actor or an action id; anything
    // else (a name, a code typed into the wrong option) is withheld — found in review. The
    // purpose as every entry names one.
    e.conditions = "actor=" + registry::LoggedFilter(q.actor.value_or("")) +
                   " action=" + registry::LoggedFilter(q.action.value_or("")) + " purpose=" +
                   (q.purpose ? registry::LoggedPurpose(n.registry->purposes(), *q.purpose) : "") +
                   " from=" + registry::LoggedFilter(args->Get("from").value_or("")) +
                   " to=" + registry::LoggedFilter(args->Get("to").value_or(""));
    for (const auto& c : q.criteria) e.criteria.push_back(c.first);  // kinds, never values
    e.result_count = static_cast<int64_t>(rows->size());
    e.outcome = "done";
    Status st = n.registry->Record(std::move(e));
    if (!st.ok()) return Fail(io, st);
    (void)SealLog(n);
    // Entries of version 1 held codes and search values in clear: shown as version 2 names them.
    for (auto& r : *rows) io.out << registry::LogRecordJson(n.audit->ForReview(std::move(r))) << "\n";
    if (q.target) {
      // The entries of every code the resident has held, as their statement shows them.
      io.err << "検索した住民票コード / resident codes searched: " << codes_searched
             << " (the code given and every earlier or later code of the same resident)\n";
    }
    if (cut) {
      io.err << "上限 " << limit << " 件で打ち切りました / stopped at --limit " << limit
             << ": more entries match (raise --limit up to 100000, or narrow with --from/--to)\n";
    }
    return kExitOk;
  }
  return Usage(io, "unknown subcommand '" + Echoable(sub) + "'");
}

}  // namespace kakunin::cli
