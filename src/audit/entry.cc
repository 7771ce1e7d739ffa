#include "audit/entry.h"

#include "audit/targets.h"
#include "crypto/sha256.h"

namespace kakunin::audit {
namespace {

void PutU32(uint32_t v, std::string* out) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutU64(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutStr(std::string_view s, std::string* out) {
  PutU32(static_cast<uint32_t>(s.size()), out);
  out->append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (pos_ + 1 > in_.size()) return false;
    *v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool U32(uint32_t* v) {
    if (pos_ + 4 > in_.size()) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v = (*v << 8) | static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool U64(uint64_t* v) {
    if (pos_ + 8 > in_.size()) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v = (*v << 8) | static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool Bytes(size_t n, std::string* s) {
    if (n > in_.size() - pos_) return false;
    s->assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool Str(std::string* s) {
    uint32_t n;
    if (!U32(&n) || n > in_.size() - pos_) return false;
    s->assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }
  std::string_view rest() const { return in_.substr(pos_); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

uint64_t BigEndian(std::string_view b, size_t pos, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b[pos + static_cast<size_t>(i)]);
  return v;
}

}  // namespace

std::optional<EntryHead> DecodeEntryHead(std::string_view b) {
  if (b.size() < 17) return std::nullopt;
  EntryHead h;
  h.version = static_cast<uint8_t>(b[0]);
  if (h.version != kEntryVersion1 && h.version != kEntryVersion && h.version != kEntryVersion3) {
    return std::nullopt;
  }
  h.sequence = BigEndian(b, 1, 8);
  h.time = static_cast<int64_t>(BigEndian(b, 9, 8));
  size_t pos = 17;
  for (std::string_view* s : {&h.actor, &h.terminal, &h.action, &h.purpose}) {
    if (b.size() - pos < 4) return std::nullopt;
    uint64_t n = BigEndian(b, pos, 4);
    pos += 4;
    if (n > b.size() - pos) return std::nullopt;
    *s = b.substr(pos, n);
    pos += n;
  }
  if (b.size() - pos < 4) return std::nullopt;
  h.target_count = static_cast<uint32_t>(BigEndian(b, pos, 4));
  return h;
}

std::string EncodeEntry(const AuditEntry& e) {
  std::string out;
  out.reserve(128 + e.conditions.size());
  out.push_back(static_cast<char>(e.version == kEntryVersion1   ? kEntryVersion1
                                  : e.version == kEntryVersion3 ? kEntryVersion3
                                                                : kEntryVersion));
  PutU64(e.sequence, &out);
  PutU64(static_cast<uint64_t>(e.time), &out);
  PutStr(e.actor, &out);
  PutStr(e.terminal, &out);
  PutStr(e.action, &out);
  PutStr(e.purpose, &out);
  if (e.version != kEntryVersion1) {
    PutU32(e.target_count, &out);
    out += e.target_root;
    PutU32(static_cast<uint32_t>(e.criteria.size()), &out);
    for (const auto& c : e.criteria) PutStr(c, &out);
    PutStr(e.commitment, &out);
    PutStr(e.conditions, &out);
    PutU64(static_cast<uint64_t>(e.result_count), &out);
    PutStr(e.outcome, &out);
    if (e.version == kEntryVersion3) EncodeStateLeaves(e.state, &out);
    return out;
  }
  PutU32(static_cast<uint32_t>(e.targets.size()), &out);
  for (const auto& t : e.targets) PutStr(t, &out);
  PutStr(e.conditions, &out);
  PutU64(static_cast<uint64_t>(e.result_count), &out);
  PutStr(e.outcome, &out);
  return out;
}

Result<AuditEntry> DecodeEntry(std::string_view bytes) {
  Reader r(bytes);
  AuditEntry e;
  uint8_t version;
  uint64_t time, count;
  uint32_t targets;
  if (!r.U8(&version) ||
      (version != kEntryVersion1 && version != kEntryVersion && version != kEntryVersion3)) {
    return Status::DataLoss("operation-log entry has an unknown version");
  }
  e.version = version;
  bool ok = r.U64(&e.sequence) && r.U64(&time) && r.Str(&e.actor) && r.Str(&e.terminal) &&
            r.Str(&e.action) && r.Str(&e.purpose) && r.U32(&targets);
  if (version == kEntryVersion || version == kEntryVersion3) {
    uint32_t criteria = 0;
    ok = ok && targets <= kMaxTargets && r.Bytes(32, &e.target_root) &&
         (targets == 0) == (e.target_root == crypto::Sha256("")) && r.U32(&criteria) &&
         criteria <= kMaxCriteria;
    for (uint32_t i = 0; ok && i < criteria; ++i) {
      std::string c;
      ok = r.Str(&c) && !c.empty() && c.size() <= 64;
      e.criteria.push_back(std::move(c));
    }
    ok = ok && r.Str(&e.commitment) && (e.commitment.empty() || e.commitment.size() == 32) &&
         r.Str(&e.conditions) && r.U64(&count) && r.Str(&e.outcome) &&
         (version == kEntryVersion3 || r.done());
    if (!ok) return Status::DataLoss("operation-log entry is malformed");
    if (version == kEntryVersion3) {
      KAKUNIN_ASSIGN_OR_RETURN(state, DecodeStateLeaves(r.rest()));
      e.state = std::move(state);
    }
    e.target_count = targets;
    e.time = static_cast<int64_t>(time);
    e.result_count = static_cast<int64_t>(count);
    return e;
  }
  // Each target needs at least its 4-byte length: bound the count before reserving.
  ok = ok && targets <= bytes.size() / 4;
  for (uint32_t i = 0; ok && i < targets; ++i) {
    std::string t;
    ok = r.Str(&t);
    e.targets.push_back(std::move(t));
  }
  ok = ok && r.Str(&e.conditions) && r.U64(&count) && r.Str(&e.outcome) && r.done();
  if (!ok) return Status::DataLoss("operation-log entry is malformed");
  e.time = static_cast<int64_t>(time);
  e.result_count = static_cast<int64_t>(count);
  return e;
}

}  // namespace kakunin::audit
