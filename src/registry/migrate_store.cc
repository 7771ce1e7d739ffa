#include "registry/migrate_store.h"

#include <endian.h>

#include <algorithm>
#include <future>
#include <set>

#include "audit/log.h"
#include "core/bytes.h"
#include "crypto/sha256.h"
#include "registry/record_digest.h"

namespace kakunin::registry {
namespace {

// The import's progress table is created on first use (store/sqlite/bulk.cc, store/pg/bulk.cc):
// a target made with the schema alone lacks it, and gets the source's.
constexpr char kCreatedOnFirstUse[] = "import_batches";

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string Resolve(const std::string& data_dir, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  return data_dir + "/" + path;
}

// Tables in an order that loads every referenced table before the tables pointing at it (the
// target checks its foreign keys row by row), otherwise by name.
Result<std::vector<const store::TableShape*>> LoadOrder(
    const std::vector<store::TableShape>& tables) {
  std::vector<const store::TableShape*> out;
  std::set<std::string> done;
  while (out.size() < tables.size()) {
    bool progressed = false;
    for (const auto& t : tables) {
      if (done.count(t.name)) continue;
      bool ready = std::all_of(t.references.begin(), t.references.end(), [&](const auto& r) {
        return r == t.name || done.count(r) > 0 ||
               std::none_of(tables.begin(), tables.end(),
                            [&](const auto& o) { return o.name == r; });
      });
      if (!ready) continue;
      out.push_back(&t);
      done.insert(t.name);
      progressed = true;
    }
    if (!progressed) return Status::FailedPrecondition("the tables' foreign keys form a cycle");
  }
  return out;
}

const store::TableShape* Find(const std::vector<store::TableShape>& tables,
                              const std::string& name) {
  for (const auto& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// The target's table must hold the source's columns, each with the same type.
Status SameColumns(const store::TableShape& from, const store::TableShape& to) {
  if (from.columns.size() != to.columns.size()) {
    return Status::FailedPrecondition("table " + from.name + " has " +
                                      std::to_string(from.columns.size()) + " columns here and " +
                                      std::to_string(to.columns.size()) + " in the target");
  }
  for (size_t i = 0; i < from.columns.size(); ++i) {
    auto at = std::find(to.columns.begin(), to.columns.end(), from.columns[i]);
    if (at == to.columns.end()) {
      return Status::FailedPrecondition("table " + from.name + ": the target has no column " +
                                        from.columns[i]);
    }
    if (to.types[static_cast<size_t>(at - to.columns.begin())] != from.types[i]) {
      return Status::FailedPrecondition("table " + from.name + ", column " + from.columns[i] +
                                        ": another type in the target");
    }
  }
  return Status::Ok();
}

void HashRow(const store::TableRow& row, crypto::Sha256Hasher* h) {
  for (const store::Cell& c : row) {
    const char kind = static_cast<char>(c.kind);
    h->Update(std::string_view(&kind, 1));
    uint64_t be = htobe64(c.kind == store::Cell::Kind::kInt ? static_cast<uint64_t>(c.i)
                                                            : static_cast<uint64_t>(c.s.size()));
    h->Update(std::string_view(reinterpret_cast<const char*>(&be), sizeof be));
    if (c.kind == store::Cell::Kind::kText || c.kind == store::Cell::Kind::kBlob) h->Update(c.s);
  }
}

struct TableSum {
  int64_t rows = 0;
  std::string sha256;
};

Result<TableSum> SumTable(store::TableStore& s, const store::TableShape& shape, size_t batch) {
  crypto::Sha256Hasher h;
  h.Update("kakunin-migrate-table-v1\n" + shape.name + "\n");
  TableSum sum;
  KAKUNIN_RETURN_IF_ERROR(s.Scan(shape, batch, [&](const std::vector<store::TableRow>& rows) {
    for (const auto& row : rows) HashRow(row, &h);
    sum.rows += static_cast<int64_t>(rows.size());
    return Status::Ok();
  }));
  sum.sha256 = h.Finish();
  return sum;
}

}  // namespace

Result<StoreLocation> ParseStoreLocation(const std::string& to, const std::string& data_dir) {
  StoreLocation loc;
  if (to.empty() || to.size() > 4096) {
    return Status::InvalidArgument("--to: give a PostgreSQL URL, sqlite, sqlite:PATH or PATH.db");
  }
  if (to.rfind("postgresql://", 0) == 0 || to.rfind("postgres://", 0) == 0) {
    loc.kind = "postgresql";
    loc.url = to;
    loc.config_value = to;
    return loc;
  }
  std::string path;
  if (to == "sqlite") {
    path = "registry.db";
  } else if (to.rfind("sqlite:", 0) == 0) {
    path = to.substr(7);
  } else if (to.find("://") == std::string::npos && EndsWith(to, ".db")) {
    path = to;
  } else {
    return Status::InvalidArgument(
        "--to: not a store this node can move to (postgresql://…, postgres://…, sqlite, "
        "sqlite:PATH or PATH.db)");
  }
  if (path.empty() || path.back() == '/') {
    return Status::InvalidArgument("--to sqlite:PATH needs a file name");
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') {
      return Status::InvalidArgument("--to: the path holds a character it may not");
    }
  }
  loc.kind = "sqlite";
  loc.path = Resolve(data_dir, path);
  loc.config_value = path;
  return loc;
}

Status CheckTargetEmpty(store::TableStore& to) {
  KAKUNIN_ASSIGN_OR_RETURN(tables, to.Tables());
  for (const auto& t : tables) {
    KAKUNIN_ASSIGN_OR_RETURN(n, to.CountRows(t.name));
    if (n > 0) {
      return Status::FailedPrecondition(
          "the target is not empty (table " + t.name + " holds " + std::to_string(n) +
          " rows): a node moves only into a new file or an empty database; nothing was changed");
    }
  }
  return Status::Ok();
}

Status CopyTables(store::TableStore& from, store::TableStore& to, size_t batch,
                  const MigrationProgress& progress, MigrationReport* report) {
  KAKUNIN_ASSIGN_OR_RETURN(from_version, from.SchemaVersion());
  KAKUNIN_ASSIGN_OR_RETURN(to_version, to.SchemaVersion());
  if (from_version != to_version) {
    return Status::FailedPrecondition("the source's schema is version " +
                                      std::to_string(from_version) + ", the target's " +
                                      std::to_string(to_version));
  }
  KAKUNIN_ASSIGN_OR_RETURN(source, from.Tables());
  KAKUNIN_ASSIGN_OR_RETURN(target, to.Tables());
  for (const auto& t : target) {
    if (Find(source, t.name) == nullptr) {
      return Status::FailedPrecondition("the target has a table the source lacks: " + t.name);
    }
  }
  KAKUNIN_RETURN_IF_ERROR(to.BeginLoad());
  for (const auto& t : source) {
    const store::TableShape* there = Find(target, t.name);
    if (there == nullptr) {
      if (t.name != kCreatedOnFirstUse) {
        return Status::FailedPrecondition("the target's schema has no table " + t.name);
      }
      KAKUNIN_RETURN_IF_ERROR(to.CreateTable(t));
      continue;
    }
    KAKUNIN_RETURN_IF_ERROR(SameColumns(t, *there));
  }
  // The target's foreign keys decide the order (the source declares the same ones).
  std::vector<store::TableShape> ordered = source;
  for (auto& t : ordered) {
    if (const store::TableShape* there = Find(target, t.name)) t.references = there->references;
  }
  KAKUNIN_ASSIGN_OR_RETURN(order, LoadOrder(ordered));
  report->tables.clear();
  report->rows = 0;
  for (const store::TableShape* t : order) {
    KAKUNIN_ASSIGN_OR_RETURN(total, from.CountRows(t->name));
    KAKUNIN_RETURN_IF_ERROR(to.StartTable(*t));
    int64_t copied = 0;
    int64_t next_report = 100000;
    KAKUNIN_RETURN_IF_ERROR(from.Scan(*t, batch, [&](const std::vector<store::TableRow>& rows) {
      KAKUNIN_RETURN_IF_ERROR(to.LoadRows(rows));
      copied += static_cast<int64_t>(rows.size());
      if (progress && copied >= next_report) {
        progress("copy " + t->name + ": " + std::to_string(copied) + "/" + std::to_string(total) +
                 " rows");
        next_report += 100000;
      }
      return Status::Ok();
    }));
    KAKUNIN_RETURN_IF_ERROR(to.EndTable());
    if (progress) progress("copied " + t->name + ": " + std::to_string(copied) + " rows");
    report->tables.push_back({t->name, copied, ""});
    report->rows += copied;
  }
  KAKUNIN_ASSIGN_OR_RETURN(counters, from.Counters());
  KAKUNIN_RETURN_IF_ERROR(to.SetCounters(counters));
  KAKUNIN_RETURN_IF_ERROR(to.CommitLoad());
  std::sort(report->tables.begin(), report->tables.end(),
            [](const auto& a, const auto& b) { return a.table < b.table; });
  return Status::Ok();
}

Status CompareTables(store::TableStore& from, store::TableStore& to, size_t batch,
                     const MigrationProgress& progress, MigrationReport* report) {
  KAKUNIN_ASSIGN_OR_RETURN(source, from.Tables());
  KAKUNIN_RETURN_IF_ERROR(to.BeginRead());
  auto compare = [&]() -> Status {
    KAKUNIN_ASSIGN_OR_RETURN(target, to.Tables());
    if (source.size() != target.size()) {
      return Status::DataLoss("the target holds " + std::to_string(target.size()) +
                              " tables, the source " + std::to_string(source.size()));
    }
    report->tables.clear();
    for (const auto& t : source) {
      const store::TableShape* there = Find(target, t.name);
      if (there == nullptr) return Status::DataLoss("the target has no table " + t.name);
      Status same = SameColumns(t, *there);
      if (!same.ok()) return Status::DataLoss(same.message());
      KAKUNIN_ASSIGN_OR_RETURN(a, SumTable(from, t, batch));
      KAKUNIN_ASSIGN_OR_RETURN(b, SumTable(to, t, batch));
      if (a.rows != b.rows) {
        return Status::DataLoss("table " + t.name + ": " + std::to_string(a.rows) +
                                " rows in the source, " + std::to_string(b.rows) +
                                " in the target");
      }
      if (a.sha256 != b.sha256) {
        return Status::DataLoss("table " + t.name + ": the rows differ (" + std::to_string(a.rows) +
                                " rows on each side)");
      }
      if (progress) progress("checked " + t.name + ": " + std::to_string(a.rows) + " rows equal");
      report->tables.push_back({t.name, a.rows, HexEncode(a.sha256)});
    }
    KAKUNIN_ASSIGN_OR_RETURN(cf, from.Counters());
    KAKUNIN_ASSIGN_OR_RETURN(ct, to.Counters());
    // SQLite keeps a counter only for AUTOINCREMENT tables (the outbox), PostgreSQL one per
    // identity column: the SQLite side's are the ones that must agree.
    std::set<std::string> names;
    const bool from_sqlite = std::string(from.kind()) == "sqlite";
    const bool to_sqlite = std::string(to.kind()) == "sqlite";
    for (const auto& [name, v] : cf) {
      if (from_sqlite || !to_sqlite) names.insert(name);
    }
    for (const auto& [name, v] : ct) {
      if (to_sqlite || !from_sqlite) names.insert(name);
    }
    for (const std::string& name : names) {
      const int64_t a = cf.count(name) ? cf.at(name) : 0;
      const int64_t b = ct.count(name) ? ct.at(name) : 0;
      if (a != b) {
        return Status::DataLoss("the row-id counter of " + name + " is " + std::to_string(a) +
                                " in the source and " + std::to_string(b) + " in the target");
      }
    }
    return Status::Ok();
  };
  Status st = compare();
  Status ended = to.EndRead();
  KAKUNIN_RETURN_IF_ERROR(st);
  return ended;
}

Status CompareRegistries(store::RegistryStore& from, store::RegistryStore& to,
                         const crypto::FieldCipher& cipher, MigrationReport* report) {
  KAKUNIN_ASSIGN_OR_RETURN(a, from.OpenReader());
  KAKUNIN_ASSIGN_OR_RETURN(b, to.OpenReader());
  // The two walks are independent (each its own reader and snapshot; the cipher serves any
  // thread): side by side, the check takes the time of the slower one.
  auto source_walk =
      std::async(std::launch::async, [&] { return CurrentRecordDigests(*a, cipher); });
  auto target_digests = CurrentRecordDigests(*b, cipher);
  auto source_digests = source_walk.get();
  KAKUNIN_ASSIGN_OR_RETURN(da, std::move(source_digests));
  KAKUNIN_ASSIGN_OR_RETURN(db, std::move(target_digests));
  if (da.size() != db.size()) {
    return Status::DataLoss("the record digests differ: " + std::to_string(da.size()) +
                            " prefectures in the source, " + std::to_string(db.size()) +
                            " in the target");
  }
  report->residents = 0;
  for (size_t i = 0; i < da.size(); ++i) {
    if (da[i].prefecture != db[i].prefecture || da[i].residents != db[i].residents ||
        da[i].digest_hex != db[i].digest_hex) {
      return Status::DataLoss("the record digest of prefecture " +
                              std::to_string(da[i].prefecture) + " differs");
    }
    report->residents += da[i].residents;
  }
  KAKUNIN_ASSIGN_OR_RETURN(na, a->AuditSize());
  KAKUNIN_ASSIGN_OR_RETURN(nb, b->AuditSize());
  if (na != nb) {
    return Status::DataLoss("the operation log holds " + std::to_string(na) +
                            " entries in the source and " + std::to_string(nb) + " in the target");
  }
  report->log_size = na;
  if (na > 0) {
    KAKUNIN_ASSIGN_OR_RETURN(ra, audit::RootAt(*a, na));
    KAKUNIN_ASSIGN_OR_RETURN(rb, audit::RootAt(*b, nb));
    if (ra != rb) return Status::DataLoss("the operation log's root differs");
    report->log_root_hex = HexEncode(ra);
  }
  return Status::Ok();
}

}  // namespace kakunin::registry
