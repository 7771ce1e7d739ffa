// The PostgreSQL writer's round-trip savings (issue 13): deferred writes (libpq pipeline mode),
// ids drawn ahead, and what a transaction remembers of its own reads and writes. Each would be
// wrong if it ever answered differently from the one-statement-per-call store; the registry's
// suites on PostgreSQL check the use cases, these the edges.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "audit/resident_map.h"
#include "audit/targets.h"
#include "crypto/sha256.h"
#include "store/pg/pg_registry_store.h"
#include "support/pg_server.h"

namespace kakunin::store::pg {
namespace {

using kakunin::testing::PgServer;

class PgPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int next = 0;
    schema_ = "pp" + std::to_string(++next);
    auto url = PgServer::Shared()->FreshSchema(schema_);
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
    auto s = OpenRegistryStore(url_, /*create=*/true);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  static ResidentRow Resident(const std::string& code, const std::string& mac) {
    ResidentRow r;
    r.resident_code = code;
    r.status = ResidentStatus::kActive;
    r.municipality_code = "192015";
    r.name = "名前";
    r.name_kana = "ナマエ";
    r.sex = "female";
    r.birth_date = "1990-01-01";
    r.address = "山梨県甲府市丸の内一丁目1番1号";
    r.number_mac = mac;
    r.name_key = "なまえ";
    r.kana_key = "なまえ";
    r.address_key = "やまなし";
    r.updated_at = 1;
    return r;
  }

  int64_t Count(const std::string& table) {
    auto n = PgServer::Shared()->Psql("SELECT count(*) FROM " + schema_ + "." + table);
    EXPECT_TRUE(n.ok());
    return n.ok() ? std::stoll(*n) : -1;
  }

  std::string Psql(const std::string& sql) {
    auto out = PgServer::Shared()->Psql(sql);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : std::string();
  }

  static VersionRow Version(int64_t person, const std::string& code, int64_t seq) {
    VersionRow v;
    v.person_id = person;
    v.municipality_code = "192015";
    v.sequence = seq;
    v.kind = "entry";
    v.reason = "birth";
    v.change_date = "2026-01-01";
    v.resident_code = code;
    v.sealed_number = "sealed";
    v.name = "名前";
    v.sex = "female";
    v.birth_date = "1990-01-01";
    v.address = "山梨県";
    return v;
  }

  std::string schema_, url_;
  std::unique_ptr<RegistryStore> store_;
};

// A deferred write that fails is reported by a later call, every call after it fails too, and
// the transaction commits nothing: not even what came before the failure.
TEST_F(PgPipelineTest, AFailedDeferredWriteFailsTheWholeTransaction) {
  ASSERT_TRUE(store_->Write([](RegistryTxn& t) {
    return t.RecordApplied("192015", 1, "mac1", 1);
  }).ok());
  Status st = store_->Write([](RegistryTxn& t) -> Status {
    EXPECT_TRUE(t.RecordApplied("192015", 2, "mac2", 2).ok());
    // The same (municipality, sequence) again: refused by the primary key, but only the server
    // knows, later.
    EXPECT_TRUE(t.RecordApplied("192015", 1, "again", 3).ok());
    EXPECT_TRUE(t.RecordApplied("192015", 3, "mac3", 3).ok());
    auto read = t.AppliedMac("192015", 2);  // needs an answer: the failure surfaces here
    EXPECT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), StatusCode::kAlreadyExists) << read.status().ToString();
    // From then on nothing succeeds, a rollback to a savepoint included.
    EXPECT_FALSE(t.LastSequence("192999").ok());
    EXPECT_FALSE(t.Savepoint().ok());
    return Status::Ok();  // even a caller that carries on cannot commit
  });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(Count("applied"), 1);
  // The connection is usable again for the next transaction.
  ASSERT_TRUE(store_->Write([](RegistryTxn& t) {
    return t.RecordApplied("192015", 2, "mac2", 2);
  }).ok());
  EXPECT_EQ(Count("applied"), 2);
}

// A job of a write queue that reported success is never undone by a later job's failure that
// surfaces after it: the later rollback fails and so does the whole batch (nothing acknowledged).
TEST_F(PgPipelineTest, ALaterJobsFailureNeverUndoesAnEarlierJobQuietly) {
  Status st = store_->Write([](RegistryTxn& t) -> Status {
    // Job A: done.
    KAKUNIN_RETURN_IF_ERROR(t.Savepoint());
    KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", 1, "a", 1));
    KAKUNIN_RETURN_IF_ERROR(t.ReleaseSavepoint());
    // Job B: its write fails on the server, which a read inside it reports; B rolls back.
    KAKUNIN_RETURN_IF_ERROR(t.Savepoint());
    KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", 1, "b", 2));
    EXPECT_FALSE(t.AppliedMac("192015", 1).ok());
    EXPECT_FALSE(t.RollbackToSavepoint().ok());
    return Status::Ok();
  });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(Count("applied"), 0);
}

// A savepoint none of whose statements had to reach the server is never sent: rolling back to
// it drops its writes (one that would have failed included), releasing it keeps them.
TEST_F(PgPipelineTest, ASavepointNothingNeededIsHeldAndDropped) {
  ASSERT_TRUE(store_->Write([](RegistryTxn& t) -> Status {
    KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", 1, "a", 1));
    KAKUNIN_RETURN_IF_ERROR(t.Savepoint());
    KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", 1, "again", 2));  // would fail
    KAKUNIN_RETURN_IF_ERROR(t.Savepoint());
    KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", 7, "inner", 2));
    KAKUNIN_RETURN_IF_ERROR(t.ReleaseSavepoint());
    KAKUNIN_RETURN_IF_ERROR(t.RollbackToSavepoint());  // drops both
    KAKUNIN_RETURN_IF_ERROR(t.Savepoint());
    KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", 2, "b", 3));
    KAKUNIN_RETURN_IF_ERROR(t.ReleaseSavepoint());
    // A savepoint that had to be sent (a read inside it) still undoes on the server.
    KAKUNIN_RETURN_IF_ERROR(t.Savepoint());
    KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", 3, "c", 4));
    auto mac = t.AppliedMac("192015", 3);
    EXPECT_TRUE(mac.ok() && *mac == std::optional<std::string>("c"));
    KAKUNIN_RETURN_IF_ERROR(t.RollbackToSavepoint());
    auto gone = t.AppliedMac("192015", 3);
    EXPECT_TRUE(gone.ok() && !gone->has_value());
    return Status::Ok();
  }).ok());
  auto macs = PgServer::Shared()->Psql("SELECT string_agg(sequence::text, ',' ORDER BY sequence) "
                                       "FROM " + schema_ + ".applied");
  ASSERT_TRUE(macs.ok());
  EXPECT_EQ(*macs, "1,2\n");
}

// Reads that need an answer go after the deferred writes: they see them.
TEST_F(PgPipelineTest, AReadSeesTheDeferredWritesBeforeIt) {
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) -> Status {
    for (int64_t s = 1; s <= 600; ++s) {  // more than one pipeline's worth
      KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", s, "m" + std::to_string(s), s));
    }
    auto mac = t.AppliedMac("192015", 600);
    EXPECT_TRUE(mac.ok());
    EXPECT_EQ(mac.ok() ? *mac : std::nullopt, std::optional<std::string>("m600"));
    auto last = t.LastSequence("192015");
    EXPECT_EQ(last.ok() ? *last : -1, 600);
    return Status::Ok();
  }).ok());
  EXPECT_EQ(Count("applied"), 600);
}

// Ids drawn ahead are the rows' ids, unique across transactions (also one rolled back).
TEST_F(PgPipelineTest, IdsDrawnAheadAreTheRowsIds) {
  std::vector<int64_t> ids;
  for (int round = 0; round < 3; ++round) {
    Status st = store_->Write([&](RegistryTxn& t) -> Status {
      for (int i = 0; i < 40; ++i) {
        std::string code = std::to_string(10000000000LL + round * 100 + i);
        KAKUNIN_ASSIGN_OR_RETURN(pid, t.InsertResident(Resident(code, "mac" + code)));
        KAKUNIN_ASSIGN_OR_RETURN(vid, t.InsertVersion(Version(pid, code, round * 100 + i + 1)));
        KAKUNIN_RETURN_IF_ERROR(t.SetResidentVersion(pid, vid));
        auto row = t.FindByResidentCode(code);
        EXPECT_TRUE(row.ok() && row->has_value());
        if (row.ok() && row->has_value()) {
          EXPECT_EQ((*row)->person_id, pid);
          EXPECT_EQ((*row)->version_id, vid);
        }
        ids.push_back(pid);
      }
      if (round == 1) return Status::FailedPrecondition("rolled back on purpose");
      return Status::Ok();
    });
    EXPECT_EQ(st.ok(), round != 1);
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  EXPECT_EQ(Count("residents"), 80);
  // Every resident points at its own version.
  auto bad = PgServer::Shared()->Psql("SELECT count(*) FROM " + schema_ + ".residents r JOIN " +
                                      schema_ +
                                      ".versions v ON v.version_id = r.version_id "
                                      "WHERE v.person_id <> r.person_id");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(*bad, "0\n");
}

// After a prefetch, lookups answer from memory exactly as the database would: through inserts,
// a code change, a number change, and a rollback to a savepoint (which forgets).
TEST_F(PgPipelineTest, PrefetchedLookupsFollowTheTransactionsWrites) {
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) -> Status {
    return t.InsertResident(Resident("20000000001", "macA")).status();
  }).ok());
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) -> Status {
    RegistryTxn::PrefetchHint hint;
    hint.resident_codes = {"20000000001", "20000000002", "20000000003"};
    hint.number_macs = {"macA", "macB"};
    KAKUNIN_RETURN_IF_ERROR(t.Prefetch(hint));
    auto a = t.FindByResidentCode("20000000001");
    EXPECT_TRUE(a.ok() && a->has_value());
    if (!a.ok() || !a->has_value()) return Status::Internal("no A");
    ResidentRow row = **a;
    EXPECT_TRUE(*t.NumberHeldByOther("macA", 0));
    EXPECT_FALSE(*t.NumberHeldByOther("macA", row.person_id));
    EXPECT_FALSE(*t.NumberHeldByOther("macB", 0));
    EXPECT_FALSE(*t.IsResidentCodeKnown("20000000002"));
    // A new person with number B.
    KAKUNIN_ASSIGN_OR_RETURN(b, t.InsertResident(Resident("20000000002", "macB")));
    EXPECT_TRUE(*t.NumberHeldByOther("macB", row.person_id));
    EXPECT_FALSE(*t.NumberHeldByOther("macB", b));
    EXPECT_TRUE(*t.IsResidentCodeKnown("20000000002"));
    // A's code changes to 3 and A's number to B's (B removed first).
    ResidentRow b_row = Resident("20000000002", "macB");
    b_row.person_id = b;
    b_row.status = ResidentStatus::kRemoved;
    KAKUNIN_RETURN_IF_ERROR(t.UpdateResident(b_row));
    EXPECT_FALSE(*t.NumberHeldByOther("macB", 0));  // removed holders do not count
    row.resident_code = "20000000003";
    row.number_mac = "macB";
    KAKUNIN_RETURN_IF_ERROR(t.UpdateResident(row));
    KAKUNIN_RETURN_IF_ERROR(t.RecordCodeChange("20000000001", "20000000003", row.person_id, 5));
    EXPECT_FALSE(t.FindByResidentCode("20000000001")->has_value());
    EXPECT_TRUE(*t.IsResidentCodeKnown("20000000001"));  // replaced codes stay known
    auto any = t.FindByAnyResidentCode("20000000001");
    EXPECT_TRUE(any.ok() && any->has_value() && (*any)->resident_code == "20000000003");
    EXPECT_EQ((*t.FindByResidentCode("20000000003"))->person_id, row.person_id);
    EXPECT_FALSE(*t.NumberHeldByOther("macA", 0));
    EXPECT_TRUE(*t.NumberHeldByOther("macB", 0));
    // A savepoint rolled back: what it undid is read again from the database.
    KAKUNIN_RETURN_IF_ERROR(t.Savepoint());
    ResidentRow c = row;
    c.status = ResidentStatus::kRemoved;
    KAKUNIN_RETURN_IF_ERROR(t.UpdateResident(c));
    EXPECT_FALSE(*t.NumberHeldByOther("macB", 0));
    KAKUNIN_RETURN_IF_ERROR(t.RollbackToSavepoint());
    EXPECT_TRUE(*t.NumberHeldByOther("macB", 0));
    EXPECT_EQ((*t.FindByResidentCode("20000000003"))->status, ResidentStatus::kActive);
    return Status::Ok();
  }).ok());
  // And the database agrees with what the transaction remembered.
  auto reader = store_->OpenReader();
  ASSERT_TRUE(reader.ok());
  auto moved = (*reader)->FindByResidentCode("20000000001");  // an old code finds the person
  ASSERT_TRUE(moved.ok() && moved->has_value());
  EXPECT_EQ((*moved)->resident_code, "20000000003");
  auto holders = (*reader)->FindByNumberMac("macB", /*include_removed=*/true);
  ASSERT_TRUE(holders.ok());
  EXPECT_EQ(holders->size(), 2u);
}

// The senders' last sequences read with a batch's prefetch answer as the database would, and
// follow the transaction's own applied rows.
TEST_F(PgPipelineTest, PrefetchedLastSequencesFollowTheTransactionsWrites) {
  ASSERT_TRUE(store_->Write([](RegistryTxn& t) -> Status {
    KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", 1, "a", 1));
    return t.RecordApplied("192015", 7, "b", 2);
  }).ok());
  ASSERT_TRUE(store_->Write([](RegistryTxn& t) -> Status {
    RegistryTxn::PrefetchHint hint;
    hint.resident_codes = {"40000000001", "40000000002", "40000000003"};
    hint.senders = {"192015", "192023", "192015"};
    KAKUNIN_RETURN_IF_ERROR(t.Prefetch(hint));
    EXPECT_EQ(*t.LastSequence("192015"), 7);
    EXPECT_EQ(*t.LastSequence("192023"), 0);
    KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192023", 1, "c", 3));
    KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", 8, "d", 3));
    EXPECT_EQ(*t.LastSequence("192023"), 1);
    EXPECT_EQ(*t.LastSequence("192015"), 8);
    // Ids drawn ahead for the batch are the rows' ids, in order.
    int64_t last = 0;
    for (const std::string& code : hint.resident_codes) {
      KAKUNIN_ASSIGN_OR_RETURN(pid, t.InsertResident(Resident(code, "mac" + code)));
      EXPECT_GT(pid, last);
      last = pid;
    }
    return Status::Ok();
  }).ok());
  EXPECT_EQ(Count("residents"), 3);
  EXPECT_EQ(Count("applied"), 4);
}

// Deferred writes sent a statement per table (Conn::DeferBatched) leave the same rows as one
// statement each: the pointer update folded into its resident's insert (the last one wins), one
// for a resident of an earlier transaction, repeated upserts (the last wins), NULLs, the
// outbox's ids in the order of the calls, and more rows than one group holds.
TEST_F(PgPipelineTest, BatchedWritesLeaveTheSameRows) {
  int64_t earlier = 0;
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(pid, t.InsertResident(Resident("30000000000", "mac0")));
    earlier = pid;
    KAKUNIN_ASSIGN_OR_RETURN(vid, t.InsertVersion(Version(pid, "30000000000", 1)));
    return t.SetResidentVersion(pid, vid);
  }).ok());
  std::vector<std::pair<int64_t, int64_t>> pointers;  // (person, version) expected
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) -> Status {
    for (int i = 1; i <= 700; ++i) {  // more than one group (Conn::kMaxBatched rows)
      std::string code = std::to_string(30000000000LL + i);
      KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", i + 1, "m", i));
      KAKUNIN_ASSIGN_OR_RETURN(pid, t.InsertResident(Resident(code, "mac" + code)));
      KAKUNIN_ASSIGN_OR_RETURN(v1, t.InsertVersion(Version(pid, code, i + 1)));
      KAKUNIN_RETURN_IF_ERROR(t.SetResidentVersion(pid, v1));
      int64_t last = v1;
      if (i % 3 == 0) {  // a second version at once: the pointer moves again
        KAKUNIN_ASSIGN_OR_RETURN(v2, t.InsertVersion(Version(pid, code, i + 1)));
        KAKUNIN_RETURN_IF_ERROR(t.SetResidentVersion(pid, v2));
        last = v2;
      }
      KAKUNIN_RETURN_IF_ERROR(t.EnqueueOutbox(last, i));
      pointers.emplace_back(pid, last);
    }
    // The earlier resident's pointer, set twice (an update, not a fold).
    KAKUNIN_ASSIGN_OR_RETURN(a, t.InsertVersion(Version(earlier, "30000000000", 900)));
    KAKUNIN_RETURN_IF_ERROR(t.SetResidentVersion(earlier, a));
    KAKUNIN_ASSIGN_OR_RETURN(b, t.InsertVersion(Version(earlier, "30000000000", 901)));
    KAKUNIN_RETURN_IF_ERROR(t.SetResidentVersion(earlier, b));
    pointers.emplace_back(earlier, b);
    // Upserts of one key: the last one stays; NULL and not NULL in one statement.
    const std::string key(32, 'k'), other(32, 'o');
    KAKUNIN_RETURN_IF_ERROR(t.PutResidentHead({key, 1, std::string(32, '1'), 10}));
    KAKUNIN_RETURN_IF_ERROR(t.PutResidentHead({other, 5, std::string(32, '5'), 11}));
    KAKUNIN_RETURN_IF_ERROR(t.PutResidentHead({key, 2, std::string(32, '2'), 12}));
    KAKUNIN_RETURN_IF_ERROR(t.PutMapNode(3, key, {std::string(32, 'a'), other}));
    KAKUNIN_RETURN_IF_ERROR(t.PutMapNode(3, other, {std::string(32, 'b'), ""}));
    KAKUNIN_RETURN_IF_ERROR(t.PutMapNode(3, key, {std::string(32, 'c'), ""}));
    return Status::Ok();
  }).ok());
  EXPECT_EQ(Count("residents"), 701);
  EXPECT_EQ(Count("applied"), 700);
  std::string want;
  std::sort(pointers.begin(), pointers.end());
  for (const auto& [p, v] : pointers) want += std::to_string(p) + ":" + std::to_string(v) + ",";
  EXPECT_EQ(Psql("SELECT string_agg(person_id || ':' || version_id, ',' ORDER BY person_id) || ',' "
                 "FROM " + schema_ + ".residents"),
            want + "\n");
  // The outbox's ids follow the calls: the versions in the order they were enqueued.
  EXPECT_EQ(Psql("SELECT count(*) FROM (SELECT version_id, lag(version_id) OVER (ORDER BY "
                 "outbox_id) AS prev FROM " + schema_ + ".outbox) o WHERE prev >= version_id"),
            "0\n");
  EXPECT_EQ(Count("outbox"), 700);
  EXPECT_EQ(Psql("SELECT string_agg(count || ':' || last_seq, ',' ORDER BY count) FROM " +
                 schema_ + ".audit_resident_heads"),
            "2:12,5:11\n");
  EXPECT_EQ(Psql("SELECT string_agg(encode(substr(hash, 1, 1), 'escape') || ':' || "
                 "(leaf_key IS NULL)::text, ',' ORDER BY prefix) FROM " + schema_ +
                 ".audit_map_nodes"),
            "c:true,b:true\n");
}

// A batched row the server refuses fails the whole transaction (here the log's trigger: an
// entry that is not the next one), also when it travelled with good rows.
TEST_F(PgPipelineTest, ARefusedBatchedRowFailsTheWholeTransaction) {
  auto entry = [](int64_t seq) {
    AuditRow a;
    a.seq = seq;
    a.time = seq;
    a.actor = "test";
    a.action = "test";
    a.purpose = "test";
    a.payload = "p";
    a.leaf_hash = std::string(32, 'h');
    return a;
  };
  Status st = store_->Write([&](RegistryTxn& t) -> Status {
    KAKUNIN_RETURN_IF_ERROR(t.RecordApplied("192015", 1, "a", 1));
    KAKUNIN_RETURN_IF_ERROR(t.InsertAuditEntry(entry(0), {}));
    KAKUNIN_RETURN_IF_ERROR(t.InsertAuditEntry(entry(1), {}));
    KAKUNIN_RETURN_IF_ERROR(t.InsertAuditEntry(entry(3), {}));  // a gap
    return t.RecordApplied("192015", 2, "b", 2);
  });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(Count("audit_entries"), 0);
  EXPECT_EQ(Count("applied"), 0);
  // In order they go in, however many travel together.
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) -> Status {
    for (int64_t s = 0; s < 600; ++s) KAKUNIN_RETURN_IF_ERROR(t.InsertAuditEntry(entry(s), {}));
    return Status::Ok();
  }).ok());
  EXPECT_EQ(Count("audit_entries"), 600);
}

// The map's update at a checkpoint reads heads and map paths ahead (log_cache.cc): whatever it
// read ahead, the map it leaves has the root computed from scratch, for keys in a map already
// holding some (also keys parting from a stored one only at the last bit, or deep below it) and
// for keys new to it.
TEST_F(PgPipelineTest, TheMapUpdatedWithPathsReadAheadHasTheRightRoot) {
  std::vector<std::string> first, second;
  for (int i = 0; i < 300; ++i) {
    std::string k = crypto::Sha256("key" + std::to_string(i));
    (i < 150 ? first : second).push_back(k);
  }
  for (int i = 0; i < 20; ++i) {
    std::string near = first[static_cast<size_t>(i)];
    near[31] = static_cast<char>(near[31] ^ 1);  // parts at the last bit
    second.push_back(near);
    std::string deep = first[static_cast<size_t>(i + 20)];
    deep[2] = static_cast<char>(deep[2] ^ 0x10);  // parts at bit 19
    second.push_back(deep);
    second.push_back(first[static_cast<size_t>(i + 40)]);  // in the map already
  }
  std::map<std::string, std::string> leaves;
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) -> Status {
    audit::TxnMapNodes nodes(t);
    for (const std::string& k : first) {
      leaves[k] = audit::MapLeaf(k, crypto::Sha256("one" + k));
      KAKUNIN_RETURN_IF_ERROR(audit::MapUpdate(nodes, k, leaves[k]).status());
    }
    return Status::Ok();
  }).ok());
  // Entries naming the second set, as the registry's appends leave them.
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) -> Status {
    for (size_t i = 0; i < second.size(); i += 3) {
      std::vector<audit::TargetLeaf> named;
      for (size_t j = i; j < std::min(second.size(), i + 3); ++j) {
        named.push_back({second[j], audit::TargetStatus::kFound, std::string(32, 'd')});
      }
      AuditRow a;
      a.seq = static_cast<int64_t>(i / 3);
      a.time = a.seq;
      a.actor = a.action = a.purpose = "test";
      a.payload = "p";
      a.leaf_hash = std::string(32, 'h');
      a.targets = audit::EncodeTargetLeaves(named);
      KAKUNIN_RETURN_IF_ERROR(t.InsertAuditEntry(a, {}));
    }
    return Status::Ok();
  }).ok());
  std::string root;
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) -> Status {
    std::vector<std::string> seen;
    KAKUNIN_RETURN_IF_ERROR(t.ForEachAuditTargets(0, [&](int64_t, const std::string&,
                                                         const std::string& targets) {
      auto named = audit::DecodeTargetLeaves(targets);
      EXPECT_TRUE(named.ok());
      for (const auto& l : *named) seen.push_back(l.mac);
      return true;
    }));
    EXPECT_EQ(seen, second);
    audit::TxnMapNodes nodes(t);
    std::vector<std::string> order = second;
    std::sort(order.begin(), order.end());
    for (const std::string& k : order) {
      KAKUNIN_ASSIGN_OR_RETURN(head, t.ResidentHead(k));
      EXPECT_FALSE(head.has_value());
      leaves[k] = audit::MapLeaf(k, crypto::Sha256("two" + k));
      KAKUNIN_RETURN_IF_ERROR(audit::MapUpdate(nodes, k, leaves[k]).status());
    }
    KAKUNIN_ASSIGN_OR_RETURN(r, audit::MapRoot(nodes));
    root = r;
    return Status::Ok();
  }).ok());
  std::vector<std::pair<std::string, std::string>> all(leaves.begin(), leaves.end());
  EXPECT_EQ(root, audit::MapRootOf(all));
  auto reader = store_->OpenReader();
  ASSERT_TRUE(reader.ok());
  audit::ReaderMapNodes stored(**reader);
  auto again = audit::MapRoot(stored);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, root);
}

}  // namespace
}  // namespace kakunin::store::pg
