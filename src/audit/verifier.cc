#include "audit/verifier.h"

#include <algorithm>
#include <array>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "audit/key_rotation.h"
#include "audit/merkle.h"
#include "audit/resident_map.h"
#include "audit/targets.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/date.h"
#include "crypto/sha256.h"
#include "crypto/siphash.h"

namespace kakunin::audit {
namespace {

// Where a field of a row lies in its chunk's bytes.
struct Slice {
  size_t at = 0;
  size_t size = 0;
};

// One entry copied out of the store's buffers, and what the hasher computed of it.
struct Row {
  int64_t seq = 0;
  int64_t time = 0;
  Slice actor, action, purpose, payload, leaf_hash, targets;
  bool has_payload = false;
  bool has_targets = false;
  // The hasher's results.
  char leaf[kHashSize];  // the payload's leaf hash, when has_payload
  bool decoded = false;
  EntryHead head;  // views into the chunk's bytes, when decoded
  bool targets_ok = false;
  bool columns_match = false;  // the searchable columns equal the decoded head's, when decoded
  // A version-2 entry with its targets intact: the target-index rows it calls for.
  crypto::MultisetDigest index_rows;
};

// A tree node's hash computed from the entries (absent above an entry that is not itself).
struct Computed {
  bool has = false;
  char b[kHashSize];
};

// Up to chunk_rows entries, their bytes in one buffer reused from chunk to chunk.
struct Chunk {
  std::string bytes;
  std::vector<Row> rows;
  size_t used = 0;
  // The hasher's tree from the entries: every node its leaves completed, in the order the
  // reader's tree completes them, and the root at each checkpoint's size.
  std::vector<Computed> nodes;
  std::vector<std::optional<std::string>> roots;
  // The leaves of the chains as they stood after the entry that completes the newest
  // map-signing checkpoint, when that entry is in this chunk (once retention erased entries,
  // over the kept ones: the reader completes them with the residents left without entries).
  std::optional<std::vector<std::pair<std::string, std::string>>> map_leaves;

  std::string_view View(Slice s) const { return std::string_view(bytes).substr(s.at, s.size); }
  void Add(const store::AuditRowView& v, size_t capacity) {
    if (used == 0) {
      bytes.clear();
      map_leaves.reset();
    }
    if (rows.size() <= used) rows.resize(std::max(capacity, used + 1));
    Row& r = rows[used++];
    r.seq = v.seq;
    r.time = v.time;
    r.has_payload = v.has_payload;
    r.has_targets = v.has_targets;
    // One resize for the row's six fields, then plain copies (the reader thread is the
    // pipeline's slower stage: every append's own capacity check showed in its profile).
    size_t at = bytes.size();
    bytes.resize(at + v.actor.size() + v.action.size() + v.purpose.size() + v.payload.size() +
                 v.leaf_hash.size() + v.targets.size());
    auto copy = [&](std::string_view f) {
      if (!f.empty()) std::memcpy(bytes.data() + at, f.data(), f.size());
      Slice sl{at, f.size()};
      at += f.size();
      return sl;
    };
    r.actor = copy(v.actor);
    r.action = copy(v.action);
    r.purpose = copy(v.purpose);
    r.payload = copy(v.payload);
    r.leaf_hash = copy(v.leaf_hash);
    r.targets = copy(v.targets);
  }
  store::AuditRowView ViewOf(const Row& r) const {
    return store::AuditRowView{r.seq,           r.time,         View(r.actor),   View(r.action),
                               View(r.purpose), r.has_payload,  View(r.payload), View(r.leaf_hash),
                               r.has_targets,   View(r.targets)};
  }
};

// A hash as the verifier holds it: absent, 32 bytes in place, or (a stored value of another
// length, tampered) any bytes.
struct Hash {
  bool has = false;
  bool odd = false;
  char b[kHashSize];
  std::string other;

  std::string_view view() const {
    return odd ? std::string_view(other) : std::string_view(b, kHashSize);
  }
  void Set(std::string_view v) {
    has = true;
    odd = v.size() != kHashSize;
    if (odd) {
      other.assign(v);
    } else {
      std::memcpy(b, v.data(), kHashSize);
    }
  }
  void SetNode(const Hash& left, const Hash& right) {
    has = true;
    odd = false;
    crypto::Sha256To({std::string_view("\x01", 1), left.view(), right.view()}, b);
  }
  std::optional<std::string> Optional() const {
    return has ? std::optional<std::string>(std::string(view())) : std::nullopt;
  }
  friend bool operator==(const Hash& x, const Hash& y) {
    return x.has == y.has && (!x.has || x.view() == y.view());
  }
};

// Each resident's chain (count, head), keyed by the 32-byte MAC: open addressing in one array,
// so a step costs one cache line, not a node, a key and a value on the heap.
class Heads {
 public:
  struct Slot {
    bool used = false;
    char key[kTargetMacSize];
    char head[kHashSize];
    int64_t count = 0;
  };
  // The chain of `mac` (kTargetMacSize bytes), created empty if new.
  Slot& Find(std::string_view mac) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    size_t i = Bucket(mac);
    for (;; i = (i + 1) & (slots_.size() - 1)) {
      Slot& s = slots_[i];
      if (!s.used) {
        s.used = true;
        std::memcpy(s.key, mac.data(), kTargetMacSize);
        std::memcpy(s.head, MapEmpty().data(), kHashSize);
        s.count = 0;
        ++size_;
        return s;
      }
      if (std::memcmp(s.key, mac.data(), kTargetMacSize) == 0) return s;
    }
  }
  // Reads `mac`'s home slot (both its cache lines) and returns something of it, so that the
  // chain step that follows finds it in cache. A step is otherwise a cache miss (the residents
  // being many and the order random) that nothing overlaps, since each step hashes; a loop of
  // touches alone keeps many misses in flight at once. Loads, not prefetch hints: those were
  // measured to be dropped here (a quarter of the hasher's time stayed on the miss).
  uint64_t Touch(std::string_view mac) const {
    if (slots_.empty() || mac.size() < sizeof(uint64_t)) return 0;
    const Slot& s = slots_[Bucket(mac)];
    return static_cast<uint64_t>(s.used) + static_cast<uint64_t>(s.count);
  }
  size_t size() const { return size_; }
  const std::vector<Slot>& slots() const { return slots_; }

 private:
  size_t Bucket(std::string_view mac) const {
    uint64_t h;
    std::memcpy(&h, mac.data(), sizeof h);
    return static_cast<size_t>((h * 0x9E3779B97F4A7C15ull) >> 20) & (slots_.size() - 1);
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(1024, old.size() * 2), Slot{});
    size_ = 0;
    for (const Slot& s : old) {
      if (!s.used) continue;
      Slot& n = Find(std::string_view(s.key, kTargetMacSize));
      n = s;
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

// A version-2 entry's stored target leaves against the count and root its payload commits to
// (the root follows the count in the encoding, audit/entry.h), read in place: each stored leaf
// record (mac ‖ status ‖ u8 len ‖ digest, audit/targets.h) is what its leaf hash covers after
// the domain, and the root is folded from the frontier of perfect subtrees (RFC 9162's MTH).
// Exactly DecodeTargetLeaves' checks and TargetRoot's hashes; `macs` gets the leaves' MACs
// (views into `stored`), for the resident chains. `frontier` is scratch.
constexpr std::string_view kTargetLeafPrefix("\0kakunin-target-v2", 18);

bool V2TargetsMatch(std::string_view payload, const EntryHead& head, bool has_stored,
                    std::string_view stored, std::vector<std::string_view>* macs,
                    std::vector<std::pair<uint32_t, Computed>>* frontier) {
  const size_t at =
      static_cast<size_t>(head.purpose.data() + head.purpose.size() - payload.data()) + 4;
  if (payload.size() < at + kHashSize) return false;
  const std::string_view root = payload.substr(at, kHashSize);
  frontier->clear();
  if (has_stored) {
    for (size_t pos = 0; pos < stored.size();) {
      if (stored.size() - pos < kTargetMacSize + 2 || macs->size() >= kMaxTargets) return false;
      const auto status = static_cast<uint8_t>(stored[pos + kTargetMacSize]);
      const auto len = static_cast<uint8_t>(stored[pos + kTargetMacSize + 1]);
      if (status > 2 || (len != 0 && len != 32) || stored.size() - pos - kTargetMacSize - 2 < len) {
        return false;
      }
      const std::string_view record = stored.substr(pos, kTargetMacSize + 2 + len);
      macs->push_back(record.substr(0, kTargetMacSize));
      pos += record.size();
      std::pair<uint32_t, Computed> leaf{0, Computed{true, {}}};
      crypto::Sha256To({kTargetLeafPrefix, record}, leaf.second.b);
      frontier->push_back(leaf);
      while (frontier->size() >= 2 &&
             (*frontier)[frontier->size() - 2].first == frontier->back().first) {
        const Computed right = frontier->back().second;
        frontier->pop_back();
        auto& left = frontier->back();
        left.first += 1;
        crypto::Sha256To({std::string_view("\x01", 1), std::string_view(left.second.b, kHashSize),
                          std::string_view(right.b, kHashSize)},
                         left.second.b);
      }
    }
  }
  if (macs->size() != head.target_count) return false;
  if (frontier->empty()) return crypto::Sha256("") == root;
  char h[kHashSize];
  std::memcpy(h, frontier->back().second.b, kHashSize);
  for (size_t i = frontier->size() - 1; i-- > 0;) {
    crypto::Sha256To(
        {std::string_view("\x01", 1), std::string_view((*frontier)[i].second.b, kHashSize),
         std::string_view(h, kHashSize)},
        h);
  }
  return std::string_view(h, kHashSize) == root;
}

// Whether mac i is the first of `macs` with its resident (found and missing name one): a scan
// for the few targets of most entries, `seen` (filled in order) for a batch.
bool FirstNaming(const std::vector<std::string_view>& macs, size_t i,
                 std::set<std::string_view>* seen) {
  if (macs.size() > 16) return seen->insert(macs[i]).second;
  for (size_t j = 0; j < i; ++j) {
    if (macs[j] == macs[i]) return false;
  }
  return true;
}

// The hasher stage: what can be computed of each entry on its own, and the resident chains,
// which need only the log order (each entry the hasher takes is the next in the log).
class Hasher {
 public:
  // `map_size`: the tree size of the newest checkpoint that signs a resident map (-1: none).
  // `checkpoint_sizes`: every checkpoint's tree size, in the order the verifier takes them.
  // `keyed`: the keys of the target-index digest (detail::TargetIndexDigest).
  Hasher(int64_t map_size, std::vector<int64_t> checkpoint_sizes, EntryObserver* observer,
         const crypto::MultisetDigest& keyed)
      : map_size_(map_size),
        checkpoint_sizes_(std::move(checkpoint_sizes)),
        observer_(observer),
        no_rows_(keyed.Keyed()) {}

  void Run(Chunk& c) {
    c.nodes.clear();
    c.roots.clear();
    // Every chain the chunk steps first (its first target's; most entries name one), in a loop
    // of independent loads.
    uint64_t touched = 0;
    for (size_t i = 0; i < c.used; ++i) {
      if (c.rows[i].has_targets) touched += heads_.Touch(c.View(c.rows[i].targets));
    }
    touched_ += touched;
    for (size_t i = 0; i < c.used; ++i) One(c, c.rows[i]);
  }

  // More missing entries than this in one gap are named, and the tree is not rebuilt past it.
  static constexpr int64_t kMaxGap = int64_t{1} << 20;
  // Every entry whose stored action announces a signing key, in order (as a search for them
  // finds them: audit/key_rotation.h).
  std::vector<store::AuditRow> TakeAnnouncements() { return std::move(announcements_); }

 private:
  void One(Chunk& c, Row& r) {
    r.decoded = false;
    r.targets_ok = false;
    r.columns_match = false;
    macs_.clear();
    const std::string_view payload = c.View(r.payload);
    if (r.has_payload) {
      crypto::Sha256To({std::string_view("\0", 1), payload}, r.leaf);
      if (auto e = DecodeEntryHead(payload)) {
        r.decoded = true;
        r.head = *e;
        // Checked here rather than by the reader, the busier of the two threads.
        r.columns_match = e->time == r.time && e->actor == c.View(r.actor) &&
                          e->action == c.View(r.action) && e->purpose == c.View(r.purpose);
        r.targets_ok =
            e->version == kEntryVersion1
                ? !r.has_targets
                : V2TargetsMatch(payload, *e, r.has_targets, c.View(r.targets), &macs_, &frontier_);
      }
    }
    r.index_rows = no_rows_;
    if (r.targets_ok && r.head.version != kEntryVersion1 && !macs_.empty()) {
      // Each mac is followed by its status in the stored record.
      records_.clear();
      for (std::string_view m : macs_) records_.emplace_back(m.data(), kTargetMacSize + 1);
      detail::AddTargetIndexRows(records_, r.seq, &r.index_rows);
    }
    if (c.View(r.action) == kSigningKeyRotateAction &&
        announcements_.size() < static_cast<size_t>(kMaxSigningKeyAnnouncements)) {
      store::AuditRow a;
      a.seq = r.seq;
      a.time = r.time;
      a.actor = c.View(r.actor);
      a.action = c.View(r.action);
      a.purpose = c.View(r.purpose);
      if (r.has_payload) a.payload = std::string(payload);
      a.leaf_hash = c.View(r.leaf_hash);
      if (r.has_targets) a.targets = std::string(c.View(r.targets));
      announcements_.push_back(std::move(a));
    }
    if (observer_) {
      observer_->Observe(
          c.ViewOf(r), r.has_payload && std::string_view(r.leaf, kHashSize) == c.View(r.leaf_hash));
    }
    // The chains and the tree step exactly where the verifier takes the entry: in its place
    // (not before an entry already taken); the chains only for an entry holding its own
    // sequence, with its targets intact.
    if (r.seq < expected_) return;
    if (!dead_) {
      if (r.seq - expected_ > kMaxGap) {
        dead_ = true;  // the verifier stops here
      } else {
        for (int64_t s = expected_; s < r.seq; ++s) PushLeaf(c, nullptr);  // missing
        // What the verifier takes as the entry's leaf from the entries alone.
        const char* leaf = nullptr;
        if (r.has_payload) {
          if (r.decoded && static_cast<int64_t>(r.head.sequence) == r.seq) leaf = r.leaf;
        } else if (r.leaf_hash.size == kHashSize) {
          leaf = c.bytes.data() + r.leaf_hash.at;
        }
        PushLeaf(c, leaf);
      }
    }
    expected_ = r.seq + 1;
    if (r.decoded && static_cast<int64_t>(r.head.sequence) == r.seq && r.targets_ok) {
      seen_.clear();
      for (size_t i = 0; i < macs_.size(); ++i) {
        if (!FirstNaming(macs_, i, &seen_)) continue;  // found and missing: one chain step
        Heads::Slot& h = heads_.Find(macs_[i]);
        h.count += 1;
        NextResidentHeadTo(std::string_view(h.head, kHashSize), static_cast<uint64_t>(r.seq),
                           std::string_view(r.leaf, kHashSize), h.head);
      }
    }
    if (expected_ == map_size_) {
      // The resident map the newest map-signing checkpoint should sign, from the chains.
      std::vector<std::pair<std::string, std::string>> leaves;
      leaves.reserve(heads_.size());
      for (const Heads::Slot& h : heads_.slots()) {
        if (!h.used) continue;
        const std::string_view key(h.key, kTargetMacSize);
        const std::string_view head(h.head, kHashSize);
        leaves.emplace_back(key, MapLeaf(key, MapValue(h.count, head)));
      }
      std::sort(leaves.begin(), leaves.end());
      c.map_leaves = std::move(leaves);
    }
  }

  // The frontier of the tree from the entries (O(log n) perfect subtrees): pushes a leaf
  // (nullptr: none can be computed), merging equal levels into c.nodes, then the root at every
  // checkpoint of the new size into c.roots — the reader's add_leaf, hash for hash.
  void PushLeaf(Chunk& c, const char* leaf) {
    Frontier f;
    f.hash.has = leaf != nullptr;
    if (leaf) std::memcpy(f.hash.b, leaf, kHashSize);
    stack_.push_back(f);
    while (stack_.size() >= 2 && stack_[stack_.size() - 2].level == stack_.back().level) {
      const Frontier right = stack_.back();
      stack_.pop_back();
      Frontier& left = stack_.back();
      left.level += 1;
      if (left.hash.has && right.hash.has) {
        crypto::Sha256To({std::string_view("\x01", 1), std::string_view(left.hash.b, kHashSize),
                          std::string_view(right.hash.b, kHashSize)},
                         left.hash.b);
      } else {
        left.hash.has = false;
      }
      c.nodes.push_back(left.hash);
    }
    ++size_;
    while (next_checkpoint_ < checkpoint_sizes_.size() &&
           checkpoint_sizes_[next_checkpoint_] == size_) {
      std::optional<std::string> h;
      if (stack_.back().hash.has) h = std::string(stack_.back().hash.b, kHashSize);
      for (size_t i = stack_.size() - 1; h && i-- > 0;) {
        if (!stack_[i].hash.has) {
          h.reset();
          break;
        }
        h = NodeHash(std::string_view(stack_[i].hash.b, kHashSize), *h);
      }
      c.roots.push_back(std::move(h));
      ++next_checkpoint_;
    }
  }

  struct Frontier {
    uint32_t level = 0;
    Computed hash;
  };
  const int64_t map_size_;
  const std::vector<int64_t> checkpoint_sizes_;
  EntryObserver* observer_;
  std::vector<Frontier> stack_;
  int64_t size_ = 0;
  size_t next_checkpoint_ = 0;
  bool dead_ = false;
  int64_t expected_ = 0;
  Heads heads_;
  uint64_t touched_ = 0;  // what Touch read, kept so that the loads are not optimised away
  std::vector<std::string_view> macs_;
  std::vector<std::pair<uint32_t, Computed>> frontier_;
  const crypto::MultisetDigest no_rows_;
  std::vector<std::string_view> records_;
  std::set<std::string_view> seen_;
  std::vector<store::AuditRow> announcements_;
};

// Chunks handed from the reader to the hasher and back, in order.
class Pipeline {
 public:
  Pipeline(Hasher* hasher, bool threaded) : hasher_(hasher) {
    if (threaded) worker_ = std::thread([this] { Work(); });
  }
  ~Pipeline() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }
  void Submit(Chunk* c) {
    if (!worker_.joinable()) {
      hasher_->Run(*c);
      hashed_.push_back(c);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      to_hash_.push_back(c);
    }
    cv_.notify_all();
  }
  // The oldest hashed chunk; with `wait`, waits for it (REQUIRES: one was submitted and not
  // yet taken), else nullptr if none is ready.
  Chunk* Take(bool wait) {
    std::unique_lock<std::mutex> lock(mu_);
    if (wait) cv_.wait(lock, [&] { return !hashed_.empty(); });
    if (hashed_.empty()) return nullptr;
    Chunk* c = hashed_.front();
    hashed_.pop_front();
    return c;
  }

 private:
  void Work() {
    for (;;) {
      Chunk* c;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return closing_ || !to_hash_.empty(); });
        if (to_hash_.empty()) return;
        c = to_hash_.front();
        to_hash_.pop_front();
      }
      hasher_->Run(*c);
      {
        std::lock_guard<std::mutex> lock(mu_);
        hashed_.push_back(c);
      }
      cv_.notify_all();
    }
  }

  Hasher* hasher_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk*> to_hash_, hashed_;
  bool closing_ = false;
  std::thread worker_;
};

}  // namespace

Result<VerifyReport> VerifyLog(
    store::RegistryReader& reader, std::string_view public_key,
    const std::function<std::string(const std::string&)>& provided_target) {
  return VerifyLogWith(reader, public_key, provided_target, VerifierTuning{});
}

Result<VerifyReport> VerifyLogWith(
    store::RegistryReader& reader, std::string_view public_key,
    const std::function<std::string(const std::string&)>& provided_target,
    const VerifierTuning& tuning, EntryObserver* observer) {
  VerifyReport report;
  auto add_final = [&](std::string problem) {
    if (report.problem_count == 0) report.problem = problem;
    if (report.problems.size() < kMaxListedProblems) report.problems.push_back(std::move(problem));
    ++report.problem_count;
  };
  auto checkpoints = reader.Checkpoints();
  if (!checkpoints.ok()) return checkpoints.status();
  report.checkpoints = static_cast<int64_t>(checkpoints->size());
  auto keyed = crypto::MultisetDigest::Random();
  if (!keyed.ok()) return keyed.status();
  detail::TargetIndexDigest target_index(keyed->Keyed());
  // Signatures are named first (a replaced checkpoint before anything else, and its root not
  // compared: what it claims is worthless), each with the key in force at its size, which
  // changes only through an announcement in the log (audit/key_rotation.h). The announcements
  // are collected on the scan (a search for them would read the whole table once more), so
  // what the scan finds is held until the signatures are known: a checkpoint's root problem
  // stands only if its signature is good, the resident map's check only if nothing was named
  // before it. Unconditional problems past the listed ones are only counted.
  enum class When { kAlways, kGoodSignature, kMapCheck };
  struct Pending {
    std::string text;  // empty: the resident map check's place, without a problem
    When when = When::kAlways;
    size_t checkpoint = 0;
  };
  std::vector<Pending> pending;
  int64_t unconditional = 0;  // kAlways problems found, listed in `pending` or not
  size_t listed_unconditional = 0;
  auto add = [&](std::string problem) {
    ++unconditional;
    if (listed_unconditional >= kMaxListedProblems) return;
    ++listed_unconditional;
    pending.push_back(Pending{std::move(problem), When::kAlways, 0});
  };

  // Rebuild the tree from the entries: a stack of perfect subtrees (the frontier, O(log n)).
  // Each carries two hashes: `computed` from the entries alone (nullopt under an entry that is
  // missing or not itself) and `stored`, as the database holds it. Where they first part, the
  // problem is named; above it the stored hash is checked against what is stored beneath it,
  // so one changed entry or node is named once and not again at every node and checkpoint
  // above it.
  struct Perfect {
    uint32_t level = 0;
    Hash computed;
    Hash stored;
    bool named = false;  // a difference beneath (or here) has been named
  };
  std::vector<Perfect> stack;
  // Stored nodes, read level by level in index order, with one node of look-ahead.
  struct Level {
    std::unique_ptr<store::NodeCursor> cursor;
    bool has = false, ended = false;
    int64_t index = 0;
    std::string hash;
  };
  std::vector<Level> levels;
  size_t next_checkpoint = 0;
  int64_t expected = 0;
  int64_t last_time = INT64_MIN;
  bool seen_payload = false;
  int64_t justified_erasure = 0;    // the greatest erased_before_seq a signed purge entry names
  int64_t first_counted_seq = -1;   // the first entry whose index rows are accounted for
  int64_t targets_expected = 0;     // target-index rows the kept entries call for
  int64_t provisions_expected = 0;  // provision records the kept provide entries call for
  std::string provision_source;     // every provision record names this node as its source
  Status failure;

  // The resident map: each resident's chain recomputed over the version-2 entries (by the
  // hasher), checked against the newest checkpoint that signs a map (older ones were checked
  // when they were newest); after retention, once the purge that erased the prefix is under
  // it (detail::MapCheckableAfterRetention). Not checkable when an entry cannot be read.
  size_t last_map_checkpoint = checkpoints->size();
  for (size_t i = 0; i < checkpoints->size(); ++i) {
    if (!(*checkpoints)[i].map_root.empty()) last_map_checkpoint = i;
  }
  const int64_t map_size = last_map_checkpoint < checkpoints->size()
                               ? (*checkpoints)[last_map_checkpoint].tree_size
                               : -1;
  // From the hasher, once it passed map_size: the chains' leaves there.
  std::optional<std::vector<std::pair<std::string, std::string>>> map_leaves;
  int64_t justifying_purge = -1;  // the purge entry that named justified_erasure
  Status map_failure;             // a read of the stored map that failed
  bool map_checkable = true;
  // The stored node (level, index), or null; valid until the next call for that level (the
  // level's buffer is reused, so reading a node allocates nothing).
  auto stored_node = [&](uint32_t level, int64_t index) -> const std::string* {
    while (levels.size() <= level) {
      auto c = reader.AuditNodes(static_cast<uint32_t>(levels.size()));
      if (!c.ok()) {
        failure = c.status();
        return nullptr;
      }
      levels.push_back(Level{std::move(*c), false, false, 0, std::string()});
    }
    Level& l = levels[level];
    for (;;) {
      if (!l.has && !l.ended) {
        Status st;
        l.has = l.cursor->Next(&l.index, &l.hash, &st);
        l.ended = !l.has;
        if (!st.ok()) failure = st;
      }
      if (!l.has || l.index > index) return nullptr;
      l.has = false;
      if (l.index == index) return &l.hash;
    }
  };
  // Rows beside the entries for sequences [from, to): what an entry we cannot read has.
  auto rows_between = [&](int64_t from, int64_t to) -> bool {
    auto t_from = reader.CountAuditTargetsFrom(from);
    auto t_to = reader.CountAuditTargetsFrom(to);
    auto p_from = reader.CountProvisionsFromEntry(from);
    auto p_to = reader.CountProvisionsFromEntry(to);
    for (const Status& st : {t_from.status(), t_to.status(), p_from.status(), p_to.status()}) {
      if (!st.ok()) {
        failure = st;
        return false;
      }
    }
    if (first_counted_seq < 0) first_counted_seq = from;
    targets_expected += *t_from - *t_to;
    provisions_expected += *p_from - *p_to;
    return true;
  };
  // The root of the stored tree as far as it goes (the hasher gives the one from the entries).
  auto stored_root = [&]() -> std::optional<std::string> {
    if (stack.empty()) return crypto::Sha256("");
    std::optional<std::string> h = stack.back().stored.Optional();
    for (size_t i = stack.size() - 1; h && i-- > 0;) {
      const Hash& left = stack[i].stored;
      if (!left.has) return std::nullopt;
      h = NodeHash(left.view(), *h);
    }
    return h;
  };
  // Pushes leaf `seq` and merges equal levels, checking each completed node against the
  // store, then every checkpoint of the new size. The hashes from the entries alone come from
  // the hasher's tree (chunk->nodes and chunk->roots, taken in order).
  const Chunk* chunk = nullptr;
  size_t node_at = 0, root_at = 0;
  auto add_leaf = [&](int64_t seq, Perfect leaf) {
    stack.push_back(std::move(leaf));
    int64_t index = seq;
    while (stack.size() >= 2 && stack[stack.size() - 2].level == stack.back().level) {
      Perfect right = std::move(stack.back());
      stack.pop_back();
      Perfect& left = stack.back();
      const uint32_t level = left.level + 1;
      index >>= 1;
      // From the hasher's tree, which completed this node the same way.
      Hash computed;
      if (node_at >= chunk->nodes.size()) {
        failure = Status::Internal("the verifier's two trees parted");
        break;
      }
      if (chunk->nodes[node_at].has) {
        computed.Set(std::string_view(chunk->nodes[node_at].b, kHashSize));
      }
      ++node_at;
      Hash stored;
      if (auto s = stored_node(level, index)) stored.Set(*s);
      // Only where the stored tree and the entries part (rare) is the hash of what is stored
      // beneath needed, and a name for the node: the common path hashes each node once.
      auto beneath = [&]() {
        Hash b;
        if (left.stored.has && right.stored.has) b.SetNode(left.stored, right.stored);
        return b;
      };
      auto where = [&] {
        return "stored tree node (" + std::to_string(level) + ", " + std::to_string(index) + ")";
      };
      bool named = left.named || right.named;
      if (!stored.has) {
        add(where() + " is missing");
        Hash b = beneath();
        stored = b.has ? b : computed;
        named = true;
      } else if (!(stored == computed)) {
        // Explained by a difference named beneath if the node agrees with what is stored
        // under it (or nothing under it can be read).
        Hash b = beneath();
        if (!(named && (!b.has || b.view() == stored.view()))) {
          add(where() + " does not match entries " + std::to_string(index << level) + "…" +
              std::to_string(((index + 1) << level) - 1));
        }
        named = true;
      }
      left.level = level;
      left.computed = computed;
      left.stored = stored;
      left.named = named;
    }
    expected = seq + 1;
    while (next_checkpoint < checkpoints->size() &&
           (*checkpoints)[next_checkpoint].tree_size == expected) {
      const auto& cp = (*checkpoints)[next_checkpoint];
      if (root_at >= chunk->roots.size()) {
        failure = Status::Internal("the verifier's two trees parted");
        return;
      }
      auto computed = std::move(chunk->roots[root_at++]);
      auto stored = stored_root();
      // Either the entries or the stored tree must give the signed root: if only one does,
      // the difference was named beneath. If neither can be computed, an entry is missing
      // (named).
      const bool matches = (computed && *computed == cp.root) || (stored && *stored == cp.root);
      if (!matches && (computed || stored)) {
        pending.push_back(Pending{
            "checkpoint at tree size " + std::to_string(expected) +
                " does not match the entries (one of entries 0…" + std::to_string(expected - 1) +
                (next_checkpoint > 0
                     ? ", after the previous checkpoint at " +
                           std::to_string((*checkpoints)[next_checkpoint - 1].tree_size)
                     : std::string()) +
                ", was changed)",
            When::kGoodSignature, next_checkpoint});
      }
      if (next_checkpoint == last_map_checkpoint && map_checkable &&
          detail::MapCheckableAfterRetention(report.erased_payloads, justified_erasure,
                                             justifying_purge, expected)) {
        // The resident map it signs, from the chains the hasher recomputed over the entries
        // (checked if its signature is good and nothing was named before it).
        std::string problem;
        std::optional<std::string> map_root;
        std::vector<std::string> head_problems;
        std::vector<std::pair<std::string, std::string>> all_leaves;  // with the chains of none
        if (!map_leaves) {
          map_failure = Status::Internal("the verifier lost the resident map's leaves");
        } else if (report.erased_payloads > 0) {
          auto emptied = reader.ResidentKeysWithoutEntries();
          if (emptied.ok()) {
            all_leaves = MapLeavesAfterRetention(*map_leaves, *emptied);
            map_root = MapRootOf(all_leaves);
          } else {
            map_failure = emptied.status();
          }
        } else {
          map_root = MapRootOf(*map_leaves);
        }
        if (!map_failure.ok()) {
          // reported when the map check's turn comes, below
        } else if (*map_root != cp.map_root) {
          problem = "checkpoint at tree size " + std::to_string(expected) +
                    " signs a resident map that the entries do not give (access statements "
                    "would not show every entry)";
        } else {
          // The stored map, from which statements are proved, must be that map (it changes
          // only when a checkpoint signs it), and the stored chains the entries'.
          auto note = [&](std::string text) { head_problems.push_back(std::move(text)); };
          map_failure = detail::CheckStoredMap(
              reader, report.erased_payloads > 0 ? all_leaves : *map_leaves, cp.map_root, note);
          if (map_failure.ok() && head_problems.empty()) {
            map_failure = detail::CheckResidentHeads(reader, *map_leaves, expected,
                                                     report.erased_payloads > 0, note);
          }
        }
        map_leaves.reset();
        pending.push_back(Pending{std::move(problem), When::kMapCheck, next_checkpoint});
        for (std::string& text : head_problems) {
          pending.push_back(Pending{std::move(text), When::kMapCheck, next_checkpoint});
        }
      }
      ++next_checkpoint;
    }
  };

  constexpr int64_t kMaxGap = Hasher::kMaxGap;
  auto process = [&](const Chunk& c, Row& r) -> bool {
    const store::AuditRowView row = c.ViewOf(r);
    auto entry = [&] { return "entry " + std::to_string(row.seq); };  // named only on a problem
    if (row.seq < expected) {
      add(entry() + " is out of place (after entry " + std::to_string(expected - 1) + ")");
      return true;
    }
    if (row.seq > expected) {
      add(row.seq == expected + 1
              ? "entry " + std::to_string(expected) + " is missing (next is " +
                    std::to_string(row.seq) + ")"
              : "entries " + std::to_string(expected) + "…" + std::to_string(row.seq - 1) +
                    " are missing (next is " + std::to_string(row.seq) + ")");
      if (row.seq - expected > kMaxGap) {
        add("the log is not checked past entry " + std::to_string(expected) +
            " (too many entries missing)");
        return false;
      }
      if (!rows_between(expected, row.seq)) return false;
      for (int64_t s = expected; s < row.seq && failure.ok(); ++s) {
        add_leaf(s, Perfect{0, Hash{}, Hash{}, true});
      }
      if (!failure.ok()) return false;
    }
    // Times never decrease (each entry against the one before it, so one bad time is named
    // once); payloads are erased only as a prefix (retention), never in the middle, and only
    // as far as a purge entry says.
    if (row.time < last_time) {
      add(entry() + " is dated before entry " + std::to_string(row.seq - 1));
    }
    last_time = row.time;
    Perfect leaf;
    leaf.stored.Set(row.leaf_hash);
    if (row.has_payload) {
      if (first_counted_seq < 0) first_counted_seq = row.seq;
      seen_payload = true;
      const EntryHead* e = r.decoded ? &r.head : nullptr;
      if (!e || static_cast<int64_t>(e->sequence) != row.seq) {
        add(!e ? entry() + " cannot be decoded"
               : entry() + " holds entry " + std::to_string(e->sequence) + " (moved or swapped)");
        leaf.named = true;
        // A row that holds another entry carries that entry's leaf hash too: nothing of it is
        // this entry's (the node above is then taken as stored, checked by the checkpoints).
        if (e) leaf.stored = Hash{};
        // Not this entry's content: its index and provision rows are taken as they are.
        if (!rows_between(row.seq, row.seq + 1)) return false;
      } else {
        if (!r.columns_match) {
          add(entry() + ": its searchable columns differ from its content");
        }
        leaf.computed.Set(std::string_view(r.leaf, kHashSize));
        if (leaf.computed.view() != row.leaf_hash) {
          add(entry() + " does not match its leaf hash");
          leaf.named = true;
        }
        targets_expected += e->target_count;
        if (!r.targets_ok) {
          // Version 2 commits to its targets by their root: a target added, removed, altered
          // or moved to another entry shows here.
          add(entry() + ": its stored targets do not match the entry");
          map_checkable = false;
        } else if (e->version != kEntryVersion1) {
          target_index.expected.Merge(r.index_rows);
          target_index.Take(row.seq);
        }
        if (e->action == "resident.provide") {
          // Its provision records (the disclosure of who received a record reads them) must
          // be exactly what the entry says was provided.
          store::AuditRow stored_row;
          stored_row.seq = row.seq;
          stored_row.payload = std::string(row.payload);
          if (row.has_targets) stored_row.targets = std::string(row.targets);
          auto full = DecodeStoredEntry(stored_row);
          auto rows = reader.ProvisionsOfEntry(row.seq);
          if (!rows.ok()) {
            failure = rows.status();
            return false;
          }
          // Codes asked for but not found are named ":missing" and have no record; a
          // refused read wrote none (the codes it asked for are named, not found or missing).
          std::vector<std::string> provided;
          if (full.ok() && !full->outcome.starts_with("refused:")) {
            for (const auto& t : full->targets) {
              if (!std::string_view(t).ends_with(":missing")) provided.push_back(t);
            }
          }
          // A MAC target names a record's resident code through `provided_target` (the
          // registry's keyed MAC); without it, MAC targets are matched by position only.
          auto names = [&](const std::string& target, const std::string& code) {
            return target.rfind("mac:", 0) == 0
                       ? (!provided_target || provided_target(code) == target)
                       : target == code;
          };
          std::string differs;
          if (!full.ok()) {
            differs = "the entry does not decode";
          } else if (rows->size() != provided.size()) {
            differs = std::to_string(rows->size()) + " record(s) for " +
                      std::to_string(provided.size()) + " resident(s) provided";
          }
          for (size_t i = 0; differs.empty() && i < rows->size(); ++i) {
            const auto& p = (*rows)[i];
            const char* what = !names(provided[i], p.resident_code) ? "resident code"
                               : p.purpose != full->purpose         ? "purpose"
                               : detail::ProvisionFieldDiffers(*full, row.time, p, &provision_source);
            if (what) differs = "record " + std::to_string(i + 1) + ": " + what;
          }
          if (!differs.empty()) {
            add(entry() + ": its provision records differ from what it says was provided (" +
                differs + ")");
          }
          provisions_expected += static_cast<int64_t>(rows->size());
        }
        if (e->action == "registry.purge") {
          auto full = DecodeEntry(row.payload);
          if (full.ok()) {
            size_t at = full->conditions.find("erased_before_seq=");
            if (at != std::string::npos) {
              const int64_t before = std::strtoll(full->conditions.c_str() + at + 18, nullptr, 10);
              std::string early =
                  detail::ErasureBeforeItsTime(*checkpoints, row.seq, row.time, before);
              if (!early.empty()) {
                add(std::move(early));  // and the erasure stays unjustified (named below)
              } else if (before > justified_erasure) {
                justified_erasure = before;
                justifying_purge = row.seq;
              }
            }
          }
        }
      }
    } else {
      if (seen_payload) {
        add(entry() + " has lost its payload although earlier entries kept theirs");
      } else {
        ++report.erased_payloads;  // the map's check then waits for the purge (below)
      }
      if (row.leaf_hash.size() != kHashSize) {
        add(entry() + " has no valid leaf hash");
        leaf.named = true;
      } else {
        leaf.computed.Set(row.leaf_hash);  // all that is left of it; the tree vouches for it
      }
    }
    add_leaf(row.seq, std::move(leaf));
    return failure.ok();
  };

  // The scan: rows copied into chunks; each full chunk goes to the hasher, and the chunks it
  // has finished are checked here, in order, while the scan goes on.
  const size_t chunk_rows = std::max<size_t>(1, tuning.chunk_rows);
  std::vector<std::unique_ptr<Chunk>> chunks;
  std::vector<Chunk*> free_chunks;
  for (size_t i = 0; i < std::max<size_t>(2, tuning.chunks_in_flight); ++i) {
    chunks.push_back(std::make_unique<Chunk>());
    chunks.back()->bytes.reserve(chunk_rows * 256);
    free_chunks.push_back(chunks.back().get());
  }
  std::vector<int64_t> checkpoint_sizes;
  for (const auto& cp : *checkpoints) checkpoint_sizes.push_back(cp.tree_size);
  Hasher hasher(map_size, std::move(checkpoint_sizes), observer, target_index.expected);
  bool stop = false;
  size_t in_flight = 0;
  Status scanned;
  {
    Pipeline pipeline(&hasher, tuning.second_thread);
    auto consume = [&](Chunk* c) {
      --in_flight;
      chunk = c;
      node_at = 0;
      root_at = 0;
      if (c->map_leaves) map_leaves = std::move(c->map_leaves);
      for (size_t i = 0; !stop && i < c->used; ++i) {
        if (!process(*c, c->rows[i])) stop = true;
      }
      c->used = 0;
      free_chunks.push_back(c);
    };
    Chunk* current = nullptr;
    scanned = reader.ScanAuditEntries(0, [&](const store::AuditRowView& row) -> bool {
      if (!current) {
        while (free_chunks.empty()) consume(pipeline.Take(/*wait=*/true));
        current = free_chunks.back();
        free_chunks.pop_back();
      }
      current->Add(row, chunk_rows);
      if (current->used == chunk_rows) {
        pipeline.Submit(current);
        ++in_flight;
        current = nullptr;
        while (Chunk* c = pipeline.Take(/*wait=*/false)) consume(c);
      }
      return !stop;
    });
    if (current && current->used > 0) {
      pipeline.Submit(current);
      ++in_flight;
    }
    while (in_flight > 0) consume(pipeline.Take(/*wait=*/true));
  }
  if (!scanned.ok()) return scanned;
  if (!failure.ok()) return failure;
  // The signatures, now that the announcements are known (a scan cut short did not see them
  // all: then they are searched for).
  std::vector<store::AuditRow> announcements;
  if (stop) {
    store::AuditQuery q;
    q.action = std::string(kSigningKeyRotateAction);
    q.limit = kMaxSigningKeyAnnouncements;
    KAKUNIN_ASSIGN_OR_RETURN(found, reader.SearchAudit(q));
    announcements = std::move(found);
  } else {
    announcements = hasher.TakeAnnouncements();
  }
  const std::vector<bool> bad_signature =
      CheckCheckpointSignatures(announcements, *checkpoints, public_key, add_final);
  for (Pending& p : pending) {
    switch (p.when) {
      case When::kAlways:
        add_final(std::move(p.text));
        break;
      case When::kGoodSignature:
        if (!bad_signature[p.checkpoint]) add_final(std::move(p.text));
        break;
      case When::kMapCheck:
        if (bad_signature[p.checkpoint] || report.problem_count > 0) break;
        if (!map_failure.ok()) return map_failure;
        if (!p.text.empty()) add_final(std::move(p.text));
        break;
    }
  }
  report.problem_count += unconditional - static_cast<int64_t>(listed_unconditional);
  report.entries = expected;
  KAKUNIN_RETURN_IF_ERROR(
      detail::CheckScanTail(reader, *checkpoints,
                            {expected, report.erased_payloads, justified_erasure, next_checkpoint,
                             first_counted_seq, targets_expected, provisions_expected,
                             &target_index},
                            add_final));
  report.ok = report.problem_count == 0;
  return report;
}

namespace detail {

bool MapCheckableAfterRetention(int64_t erased, int64_t justified, int64_t purge_seq,
                                int64_t map_size) {
  return erased == 0 || (justified == erased && purge_seq >= erased && purge_seq < map_size);
}

std::string ErasureBeforeItsTime(const std::vector<store::CheckpointRow>& checkpoints,
                                 int64_t purge_seq, int64_t purge_time, int64_t before_seq) {
  if (before_seq <= 0) return "";
  // Dated no later than the checkpoint that first signed it: its own time is written by whoever
  // appended it (found in review: a forged purge dated 7 years ahead moved its own cutoff).
  auto signing = std::find_if(checkpoints.begin(), checkpoints.end(),
                              [&](const store::CheckpointRow& c) { return c.tree_size > purge_seq; });
  if (signing != checkpoints.end()) purge_time = std::min(purge_time, signing->time);
  const Date day = JstDate(purge_time);
  const int year = day.year() - kLogRetentionFloorYears;
  const int64_t floor = JstMidnightMicros(Date::FromYmd(
      year, day.month(), std::min(day.day(), Date::DaysInMonth(year, day.month()))));
  // Checkpoints are in tree-size order: the first one over entry before_seq − 1.
  auto over = std::find_if(checkpoints.begin(), checkpoints.end(),
                           [&](const store::CheckpointRow& c) { return c.tree_size >= before_seq; });
  if (over != checkpoints.end() && over->tree_size <= purge_seq &&
      over->time < floor + kErasureSignatureSlackMicros) {
    return "";
  }
  return "entry " + std::to_string(purge_seq) + " (registry.purge) erases entries 0…" +
         std::to_string(before_seq - 1) + ", but " +
         (over == checkpoints.end() || over->tree_size > purge_seq
              ? std::string("no checkpoint signed them before it")
              : "the first checkpoint over them was signed on " + JstDate(over->time).ToIso()) +
         ", within the " + std::to_string(kLogRetentionFloorYears) +
         " years the log is kept: not an erasure a purge makes";
}

Status CheckStoredMap(store::RegistryReader& reader,
                      const std::vector<std::pair<std::string, std::string>>& leaves,
                      const std::string& signed_root, const std::function<void(std::string)>& add) {
  ReaderMapNodes stored_map(reader);
  KAKUNIN_ASSIGN_OR_RETURN(root, MapRoot(stored_map));
  if (root != signed_root) {
    add("the stored resident map does not give the signed map root (access statements cannot "
        "be proved)");
    return Status::Ok();
  }
  KAKUNIN_ASSIGN_OR_RETURN(keyed, crypto::MultisetDigest::Random());
  crypto::MultisetDigest expected = keyed.Keyed(), stored = keyed.Keyed();
  // Each field length-prefixed, so that no two nodes encode alike.
  std::string element;
  auto add_node = [&](crypto::MultisetDigest& d, uint32_t depth, std::string_view prefix,
                      std::string_view hash, std::string_view leaf_key) {
    element.clear();
    for (uint64_t v : {uint64_t{depth}, uint64_t{prefix.size()}, uint64_t{hash.size()},
                       uint64_t{leaf_key.size()}}) {
      for (int i = 7; i >= 0; --i) element.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    }
    element.append(prefix).append(hash).append(leaf_key);
    d.Add(element);
  };
  ForEachMapNode(leaves, [&](uint32_t depth, std::string_view prefix, std::string_view hash,
                             std::string_view leaf_key) {
    add_node(expected, depth, prefix, hash, leaf_key);
  });
  constexpr int64_t kPage = 10000;
  bool first = true;
  uint32_t after_depth = 0;
  std::string after_prefix;
  for (;;) {
    KAKUNIN_ASSIGN_OR_RETURN(page, reader.MapNodesAfter(first, after_depth, after_prefix, kPage));
    for (const store::MapNodeAt& n : page) {
      add_node(stored, n.depth, n.prefix, n.node.hash, n.node.leaf_key);
    }
    if (static_cast<int64_t>(page.size()) < kPage) break;
    first = false;
    after_depth = page.back().depth;
    after_prefix = page.back().prefix;
  }
  if (!stored.SameAs(expected)) {
    add("the stored resident map holds " + std::to_string(stored.count()) + " node(s) where the "
        "entries give " + std::to_string(expected.count()) +
        (stored.count() == expected.count() ? ", not all of them the same" : std::string()) +
        " (access statements would be proved from a map the entries do not give)");
  }
  return Status::Ok();
}

Status CheckResidentHeads(store::RegistryReader& reader,
                          const std::vector<std::pair<std::string, std::string>>& leaves,
                          int64_t map_size, bool after_retention,
                          const std::function<void(std::string)>& add) {
  constexpr int64_t kPage = 10000;
  constexpr int64_t kNamed = 20;  // heads named one by one; the rest are counted
  int64_t differing = 0;
  auto differs = [&](const std::string& key, const char* what) {
    if (++differing <= kNamed) {
      add("the stored access chain of resident map key " + HexEncode(key.substr(0, 8)) + "… " +
          what + " (the next checkpoint would sign it: access statements would be wrong)");
    }
  };
  // A head moved since the checkpoint is a purge's restart, marked with the purge entry's
  // sequence: any other is named (found in review: a head given a large last_seq by hand was
  // skipped, and the next checkpoint took it for a restart and signed it).
  std::map<int64_t, bool> purge_at;
  auto restarted_by_purge = [&](int64_t seq) -> Result<bool> {
    auto found = purge_at.find(seq);
    if (found != purge_at.end()) return found->second;
    bool purge = false;
    KAKUNIN_RETURN_IF_ERROR(reader.ForEachAuditEntry(seq, [&](const store::AuditRow& row) {
      if (row.seq == seq && row.payload) {
        auto head = DecodeEntryHead(*row.payload);
        purge = head && head->action == "registry.purge";
      }
      return false;
    }));
    purge_at.emplace(seq, purge);
    return purge;
  };
  size_t at = 0;  // the next chain to account for, in key order
  std::string after;
  for (;;) {
    KAKUNIN_ASSIGN_OR_RETURN(page, reader.ResidentHeadsAfter(after, kPage));
    for (const store::ResidentHeadRow& h : page) {
      for (; at < leaves.size() && leaves[at].first < h.key; ++at) {
        differs(leaves[at].first, "is missing");
      }
      const bool chained = at < leaves.size() && leaves[at].first == h.key;
      const std::string* leaf = chained ? &leaves[at].second : nullptr;
      if (chained) ++at;
      if (h.last_seq >= map_size) {
        KAKUNIN_ASSIGN_OR_RETURN(purge, restarted_by_purge(h.last_seq));
        if (!purge) differs(h.key, "was moved after the checkpoint by no purge");
        continue;  // a purge's restart: the next checkpoint's to sign, and check then
      }
      if (h.count == 0) {
        // Only a purge leaves a chain of none.
        if (!after_retention) {
          differs(h.key, "names no entry");
        } else if (chained || h.head != MapEmpty()) {
          differs(h.key, "does not match the entries");
        }
      } else if (!leaf || h.head.size() != MapEmpty().size() ||
                 *leaf != MapLeaf(h.key, MapValue(h.count, h.head))) {
        differs(h.key, leaf ? "does not match the entries" : "names no entry");
      }
    }
    if (static_cast<int64_t>(page.size()) < kPage) break;
    after = page.back().key;
  }
  for (; at < leaves.size(); ++at) differs(leaves[at].first, "is missing");
  if (differing > kNamed) {
    add(std::to_string(differing - kNamed) + " more stored access chains do not match the "
                                             "entries");
  }
  return Status::Ok();
}

namespace {
// Lower-case hex digits to their value, anything else to 0xFF (upper case is not how the index
// names a target): one load per digit, for a pass over every index row.
constexpr std::array<uint8_t, 256> kHexValue = [] {
  std::array<uint8_t, 256> t{};
  t.fill(0xFF);
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  return t;
}();
}  // namespace

bool ParseTargetNameInto(std::string_view name, char* out) {
  constexpr std::string_view kMac = "mac:";
  constexpr size_t kHex = 2 * kTargetMacSize;
  if (name.size() < kMac.size() + kHex || name.substr(0, kMac.size()) != kMac) return false;
  const std::string_view suffix = name.substr(kMac.size() + kHex);
  TargetStatus status;
  if (suffix.empty()) {
    status = TargetStatus::kNone;
  } else if (suffix == ":found") {
    status = TargetStatus::kFound;
  } else if (suffix == ":missing") {
    status = TargetStatus::kMissing;
  } else {
    return false;
  }
  const auto* hex = reinterpret_cast<const unsigned char*>(name.data() + kMac.size());
  uint8_t bad = 0;
  for (size_t i = 0; i < kTargetMacSize; ++i) {
    const uint8_t hi = kHexValue[hex[2 * i]], lo = kHexValue[hex[2 * i + 1]];
    bad |= static_cast<uint8_t>(hi | lo) & 0xF0;
    out[i] = static_cast<char>(hi << 4 | (lo & 0x0F));
  }
  if (bad != 0) return false;
  out[kTargetMacSize] = static_cast<char>(status);
  return true;
}

bool TargetIndexDigest::Covers(int64_t seq) const {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), seq,
                             [](int64_t s, const std::pair<int64_t, int64_t>& r) {
                               return s < r.first;
                             });
  return it != ranges.begin() && seq < std::prev(it)->second;
}

std::string_view TargetIndexElement(std::string_view mac_and_status, int64_t seq, char* out) {
  out[0] = '\x02';
  std::memcpy(out + 1, mac_and_status.data(), kTargetMacSize + 1);
  for (int i = 0; i < 8; ++i) {
    out[kTargetMacSize + 2 + i] = static_cast<char>((static_cast<uint64_t>(seq) >> (56 - 8 * i)) & 0xFF);
  }
  return std::string_view(out, kTargetIndexElementSize);
}

void AddTargetIndexRows(const std::vector<std::string_view>& records, int64_t seq,
                        crypto::MultisetDigest* digest) {
  char element[kTargetIndexElementSize];
  constexpr size_t kKey = kTargetMacSize + 1;
  std::set<std::string_view> seen;
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string_view key = records[i].substr(0, kKey);
    bool first = true;
    if (records.size() > 16) {
      first = seen.insert(key).second;
    } else {
      for (size_t j = 0; j < i && first; ++j) first = records[j].substr(0, kKey) != key;
    }
    if (!first) continue;
    digest->Add(TargetIndexElement(key, seq, element));
  }
}

Status CheckScanTail(store::RegistryReader& reader,
                     const std::vector<store::CheckpointRow>& checkpoints, const ScanTail& t,
                     const std::function<void(std::string)>& add) {
  if (t.erased_payloads > t.justified_erasure) {
    add("entries " + std::to_string(t.justified_erasure) + "…" +
        std::to_string(t.erased_payloads - 1) +
        " have no payload, but no purge recorded in the log erased them");
  }
  if (t.next_checkpoint < checkpoints.size()) {
    int64_t size = checkpoints[t.next_checkpoint].tree_size;
    add(size == 0
            ? "a checkpoint of size 0 exists"
            : "the log ends at " + std::to_string(t.expected) +
                  " entries but a checkpoint covers " + std::to_string(size) + " (truncated)");
  }
  // No extra or missing rows beside the entries: the target index (audit search --target)
  // and the provision records (the resident's disclosure) match the entries that keep them.
  if (t.first_counted_seq >= 0) {
    // With the version-2 entries' rows known, one pass over the index counts every row and
    // digests those of the entries taken; else the rows are counted only.
    int64_t targets = 0;
    std::optional<crypto::MultisetDigest> stored;
    if (t.target_index == nullptr) {
      KAKUNIN_ASSIGN_OR_RETURN(n, reader.CountAuditTargetsFrom(t.first_counted_seq));
      targets = n;
    } else {
      stored = t.target_index->expected.Keyed();
      char element[kTargetIndexElementSize];
      char key[kTargetMacSize + 1];
      KAKUNIN_RETURN_IF_ERROR(
          reader.ForEachAuditTarget(t.first_counted_seq, [&](std::string_view name, int64_t seq) {
            ++targets;
            if (!t.target_index->Covers(seq)) return true;
            if (ParseTargetNameInto(name, key)) {
              stored->Add(TargetIndexElement(std::string_view(key, sizeof key), seq, element));
            } else {
              // No entry names it so.
              stored->Add("\x03" + std::string(name) + std::to_string(seq));
            }
            return true;
          }));
    }
    if (targets != t.targets_expected) {
      add("the target index has " + std::to_string(targets) +
          " rows where the entries call "
          "for " +
          std::to_string(t.targets_expected));
    } else if (stored) {
      // As many rows as called for: each must be one called for.
      if (!stored->SameAs(t.target_index->expected)) {
        add("the target index names other residents or entries than the entries do (audit "
            "search --target would answer wrongly)");
      }
    }
    auto provisions = reader.CountProvisionsFromEntry(t.first_counted_seq);
    if (!provisions.ok()) return provisions.status();
    if (*provisions != t.provisions_expected) {
      add("there are " + std::to_string(*provisions) +
          " provision records where the log's "
          "provide entries call for " +
          std::to_string(t.provisions_expected));
    }
  }
  // Stored nodes beyond what the entries complete, at any level.
  auto stray = reader.CountStrayAuditNodes(t.expected);
  if (!stray.ok()) return stray.status();
  if (*stray > 0) {
    add(std::to_string(*stray) + " stored tree node(s) have no entries under them");
  }
  // Everything must be under a signature: a tail past the last checkpoint could have been
  // rewritten (after truncating the log and its checkpoints) without a trace.
  const int64_t signed_size = checkpoints.empty() ? 0 : checkpoints.back().tree_size;
  if (t.expected > signed_size) {
    add("entries " + std::to_string(signed_size) + "…" + std::to_string(t.expected - 1) +
        " are not covered by a signed checkpoint (a running node signs its newest entries "
        "within its checkpoint interval, a minute, and after a crash any kakunin command does: "
        "verify again then, or sign them now with kakunin audit checkpoint; entries that stay "
        "unsigned mean the log was cut and rewritten)");
  }
  return Status::Ok();
}

const char* ProvisionFieldDiffers(const AuditEntry& entry, int64_t entry_time,
                                  const store::ProvisionRow& p, std::string* source) {
  if (entry.conditions != "function=" + p.function + " kind=" + p.provision_kind +
                              " recipient=" + p.recipient + " items=" + p.items) {
    const std::string& c = entry.conditions;
    if (c.rfind("function=" + p.function + " ", 0) != 0) return "function";
    if (c.find(" kind=" + p.provision_kind + " ") == std::string::npos) return "kind";
    if (c.find(" recipient=" + p.recipient + " ") == std::string::npos) return "recipient";
    return "items";
  }
  const bool number = ("," + p.items + ",").find(",individual_number,") != std::string::npos;
  if (p.number_provided != number) return "number provided";
  // Records written since carry the entry's time exactly; earlier ones read the clock again a
  // moment later, which a clock stepped back (NTP, a restored VM) could put before the entry's
  // (whose time never decreases): a day back is allowed for them, a minute forward.
  constexpr int64_t kMinute = int64_t{60} * 1000000;
  constexpr int64_t kDay = 24 * 60 * kMinute;
  if (p.provided_at < entry_time - kDay || p.provided_at > entry_time + kMinute) {
    return "time provided";
  }
  // The national node wrote prefecture:0 before it wrote national.
  const std::string_view here =
      p.source == "prefecture:0" ? std::string_view("national") : std::string_view(p.source);
  if (source->empty()) *source = std::string(here);
  if (here != *source) return "source";
  return nullptr;
}

}  // namespace detail

}  // namespace kakunin::audit
