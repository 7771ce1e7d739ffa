#include "audit/state.h"

namespace kakunin::audit {
namespace {

void PutU64(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t GetU(std::string_view b, size_t pos, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b[pos + static_cast<size_t>(i)]);
  return v;
}

}  // namespace

void EncodeStateLeaves(const std::vector<StateLeaf>& leaves, std::string* out) {
  const auto n = static_cast<uint32_t>(leaves.size());
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  out->reserve(out->size() + leaves.size() * kStateLeafSize);
  for (const StateLeaf& l : leaves) {
    out->push_back(static_cast<char>(l.op));
    PutU64(static_cast<uint64_t>(l.version_id), out);
    PutU64(static_cast<uint64_t>(l.person_id), out);
    if (l.digest.size() == kStateDigestSize) {
      out->append(l.digest);
    } else {
      out->append(kStateDigestSize, '\0');
    }
  }
}

Result<std::vector<StateLeaf>> DecodeStateLeaves(std::string_view b) {
  auto bad = [] { return Status::DataLoss("operation-log entry is malformed"); };
  if (b.size() < 4) return bad();
  const uint64_t n = GetU(b, 0, 4);
  if (n == 0 || n > kMaxStateLeaves || b.size() - 4 != n * kStateLeafSize) return bad();
  std::vector<StateLeaf> out;
  out.reserve(n);
  const std::string zero(kStateDigestSize, '\0');
  for (size_t pos = 4; pos < b.size(); pos += kStateLeafSize) {
    StateLeaf l;
    const auto op = static_cast<uint8_t>(b[pos]);
    if (op < 1 || op > 3) return bad();
    l.op = static_cast<StateOp>(op);
    const uint64_t vid = GetU(b, pos + 1, 8), pid = GetU(b, pos + 9, 8);
    if (vid == 0 || pid == 0 || vid > INT64_MAX || pid > INT64_MAX) return bad();
    l.version_id = static_cast<int64_t>(vid);
    l.person_id = static_cast<int64_t>(pid);
    l.digest.assign(b.substr(pos + 17, kStateDigestSize));
    if ((l.op == StateOp::kErased) != (l.digest == zero)) return bad();
    out.push_back(std::move(l));
  }
  return out;
}

std::string_view StateOpName(StateOp op) {
  switch (op) {
    case StateOp::kWritten:
      return "written";
    case StateOp::kHistory:
      return "history";
    case StateOp::kErased:
      return "erased";
  }
  return "?";
}

}  // namespace kakunin::audit
