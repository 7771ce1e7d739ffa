// The SQLite side of moving a node (store/table_copy.h): the tables read row by row in one
// snapshot under the write lock, and written through one prepared INSERT per table in one
// transaction. SQL is assembled from identifiers read from the database's own catalogue
// (quoted), never from input; every value is bound.

#include "store/sqlite/export.h"

#include <algorithm>

#include "store/sqlite/db.h"

namespace kakunin::store::sqlite {
namespace {

constexpr char kTables[] =
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE "
    "'\\' "
    "AND name NOT IN ('schema_migrations', 'import_deferred_indexes') ORDER BY name";
constexpr char kHasTable[] =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1";
constexpr char kSchemaVersion[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
constexpr char kCounters[] = "SELECT name, seq FROM sqlite_sequence ORDER BY name";
constexpr char kIsAutoincrement[] =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1 "
    "AND upper(sql) LIKE '%AUTOINCREMENT%'";
constexpr char kCounterOf[] = "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?1";
constexpr char kDropCounter[] = "DELETE FROM sqlite_sequence WHERE name = ?1";
constexpr char kSetCounter[] = "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)";

class SqliteTables : public TableStore {
 public:
  explicit SqliteTables(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  ~SqliteTables() override {
    if (in_txn_) (void)db_->Exec("ROLLBACK");
  }
  const char* kind() const override { return "sqlite"; }

  Result<std::vector<TableShape>> Tables() override {
    std::vector<std::string> names;
    {
      KAKUNIN_ASSIGN_OR_RETURN(s, db_->Prepare(kTables));
      Status st;
      while (s->Step(&st)) names.push_back(s->Text(0));
      KAKUNIN_RETURN_IF_ERROR(st);
      s->Reset();
    }
    std::vector<TableShape> out;
    for (const std::string& name : names) {
      TableShape t;
      t.name = name;
      std::vector<std::pair<int64_t, std::string>> key;
      {
        KAKUNIN_ASSIGN_OR_RETURN(s, db_->PrepareText("PRAGMA table_info(" + QuoteIdentifier(name) + ")"));
        Status st;
        while (s->Step(&st)) {
          std::string column = s->Text(1);
          std::string type = s->Text(2);
          std::transform(type.begin(), type.end(), type.begin(), ::toupper);
          Cell::Kind kind;
          if (type == "INTEGER" || type == "INT") {
            kind = Cell::Kind::kInt;
          } else if (type == "TEXT") {
            kind = Cell::Kind::kText;
          } else if (type == "BLOB") {
            kind = Cell::Kind::kBlob;
          } else {
            return Status::FailedPrecondition("table " + name + ", column " + column +
                                              ": a type this copy does not know (" + type + ")");
          }
          t.columns.push_back(column);
          t.types.push_back(kind);
          if (s->Int(5) > 0) key.emplace_back(s->Int(5), column);
        }
        KAKUNIN_RETURN_IF_ERROR(st);
        s->Reset();
      }
      std::sort(key.begin(), key.end());
      for (auto& [pos, column] : key) t.key.push_back(column);
      if (t.key.empty()) t.key = t.columns;  // no declared key: every column orders the rows
      {
        KAKUNIN_ASSIGN_OR_RETURN(s,
                                 db_->PrepareText("PRAGMA foreign_key_list(" + QuoteIdentifier(name) + ")"));
        Status st;
        while (s->Step(&st)) {
          std::string ref = s->Text(2);
          if (std::find(t.references.begin(), t.references.end(), ref) == t.references.end()) {
            t.references.push_back(ref);
          }
        }
        KAKUNIN_RETURN_IF_ERROR(st);
        s->Reset();
      }
      out.push_back(std::move(t));
    }
    return out;
  }

  Result<int64_t> SchemaVersion() override {
    KAKUNIN_ASSIGN_OR_RETURN(has, HasTable("schema_migrations"));
    if (!has) return int64_t{0};
    return QueryInt(kSchemaVersion);
  }

  Status BeginRead() override {
    // The write lock for the whole read: no other connection can commit meanwhile, and a node
    // started by mistake cannot write to the database being moved.
    KAKUNIN_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
    in_txn_ = true;
    KAKUNIN_ASSIGN_OR_RETURN(deferred, HasTable("import_deferred_indexes"));
    if (deferred) {
      KAKUNIN_ASSIGN_OR_RETURN(n, CountRows("import_deferred_indexes"));
      if (n > 0) {
        return Status::FailedPrecondition(
            "a bulk import (kakunin import) has not finished: run it to the end first");
      }
    }
    return Status::Ok();
  }

  Status EndRead() override {
    if (!in_txn_) return Status::Ok();
    in_txn_ = false;
    return db_->Exec("COMMIT");
  }

  Status Scan(const TableShape& table, size_t batch,
              const std::function<Status(const std::vector<TableRow>&)>& fn) override {
    std::string sql = "SELECT " + ColumnList(table.columns) + " FROM " + QuoteIdentifier(table.name) +
                      " ORDER BY " + ColumnList(table.key);
    KAKUNIN_ASSIGN_OR_RETURN(s, db_->PrepareText(sql));
    std::vector<TableRow> rows;
    rows.reserve(batch);
    Status st;
    const int n = static_cast<int>(table.columns.size());
    while (s->Step(&st)) {
      TableRow row(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        Cell& cell = row[static_cast<size_t>(c)];
        // STRICT tables hold only their declared type (or NULL).
        if (s->IsNull(c)) {
          cell.kind = Cell::Kind::kNull;
          continue;
        }
        cell.kind = table.types[static_cast<size_t>(c)];
        if (cell.kind == Cell::Kind::kInt) {
          cell.i = s->Int(c);
        } else if (cell.kind == Cell::Kind::kText) {
          cell.s = s->Text(c);
        } else {
          cell.s = s->Blob(c);
        }
      }
      rows.push_back(std::move(row));
      if (rows.size() >= batch) {
        Status f = fn(rows);
        if (!f.ok()) {
          s->Reset();
          return f;
        }
        rows.clear();
      }
    }
    s->Reset();
    KAKUNIN_RETURN_IF_ERROR(st);
    if (!rows.empty()) KAKUNIN_RETURN_IF_ERROR(fn(rows));
    return Status::Ok();
  }

  Result<int64_t> CountRows(const std::string& table) override {
    KAKUNIN_ASSIGN_OR_RETURN(s, db_->PrepareText("SELECT count(*) FROM " + QuoteIdentifier(table)));
    Status st;
    int64_t n = s->Step(&st) ? s->Int(0) : 0;
    s->Reset();
    KAKUNIN_RETURN_IF_ERROR(st);
    return n;
  }

  Result<std::map<std::string, int64_t>> Counters() override {
    std::map<std::string, int64_t> out;
    KAKUNIN_ASSIGN_OR_RETURN(has, HasTable("sqlite_sequence"));
    if (!has) return out;
    KAKUNIN_ASSIGN_OR_RETURN(s, db_->Prepare(kCounters));
    Status st;
    while (s->Step(&st)) out[s->Text(0)] = s->Int(1);
    s->Reset();
    KAKUNIN_RETURN_IF_ERROR(st);
    return out;
  }

  Status BeginLoad() override {
    KAKUNIN_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
    in_txn_ = true;
    return Status::Ok();
  }

  Status CreateTable(const TableShape& table) override {
    std::string sql = "CREATE TABLE " + QuoteIdentifier(table.name) + " (";
    for (size_t i = 0; i < table.columns.size(); ++i) {
      const char* type = table.types[i] == Cell::Kind::kInt    ? "INTEGER"
                         : table.types[i] == Cell::Kind::kText ? "TEXT"
                                                               : "BLOB";
      sql += QuoteIdentifier(table.columns[i]) + " " + type + ", ";
    }
    sql += "PRIMARY KEY (" + ColumnList(table.key) + ")) STRICT";
    return db_->Exec(sql);
  }

  Status StartTable(const TableShape& table) override {
    std::string sql =
        "INSERT INTO " + QuoteIdentifier(table.name) + " (" + ColumnList(table.columns) + ") VALUES (";
    for (size_t i = 0; i < table.columns.size(); ++i) {
      sql += (i ? ", ?" : "?") + std::to_string(i + 1);
    }
    sql += ")";
    KAKUNIN_ASSIGN_OR_RETURN(s, db_->PrepareText(sql));
    insert_ = s;
    table_ = table.name;
    return Status::Ok();
  }

  Status LoadRows(const std::vector<TableRow>& rows) override {
    if (insert_ == nullptr) return Status::Internal("LoadRows before StartTable");
    for (const TableRow& row : rows) {
      for (size_t c = 0; c < row.size(); ++c) {
        const int i = static_cast<int>(c) + 1;
        const Cell& cell = row[c];
        switch (cell.kind) {
          case Cell::Kind::kNull:
            insert_->BindNull(i);
            break;
          case Cell::Kind::kInt:
            insert_->Bind(i, cell.i);
            break;
          case Cell::Kind::kText:
            insert_->Bind(i, std::string_view(cell.s));
            break;
          case Cell::Kind::kBlob:
            insert_->BindBlob(i, cell.s);
            break;
        }
      }
      Status st = insert_->Exec();
      if (!st.ok()) return Status(st.code(), "table " + table_ + ": " + st.message());
    }
    return Status::Ok();
  }

  Status EndTable() override {
    insert_ = nullptr;
    return Status::Ok();
  }

  Status SetCounters(const std::map<std::string, int64_t>& counters) override {
    for (const auto& [table, value] : counters) {
      KAKUNIN_ASSIGN_OR_RETURN(s, db_->Prepare(kIsAutoincrement));
      s->Bind(1, std::string_view(table));
      Status st;
      bool autoincrement = s->Step(&st) && s->Int(0) > 0;
      s->Reset();
      KAKUNIN_RETURN_IF_ERROR(st);
      // Only AUTOINCREMENT tables keep a counter; the others take max(rowid) + 1 as SQLite
      // always does.
      if (!autoincrement) continue;
      KAKUNIN_ASSIGN_OR_RETURN(now, QueryInt(kCounterOf, table));
      KAKUNIN_ASSIGN_OR_RETURN(drop, db_->Prepare(kDropCounter));
      drop->Bind(1, std::string_view(table));
      KAKUNIN_RETURN_IF_ERROR(drop->Exec());
      KAKUNIN_ASSIGN_OR_RETURN(set, db_->Prepare(kSetCounter));
      set->Bind(1, std::string_view(table)).Bind(2, std::max(now, value));
      KAKUNIN_RETURN_IF_ERROR(set->Exec());
    }
    return Status::Ok();
  }

  Status CommitLoad() override {
    in_txn_ = false;
    return db_->Exec("COMMIT");
  }

 private:
  Result<bool> HasTable(const std::string& name) {
    KAKUNIN_ASSIGN_OR_RETURN(n, QueryInt(kHasTable, name));
    return n > 0;
  }

  Result<int64_t> QueryInt(const char* sql, const std::string& arg = "") {
    KAKUNIN_ASSIGN_OR_RETURN(s, db_->Prepare(sql));
    if (!arg.empty()) s->Bind(1, std::string_view(arg));
    Status st;
    int64_t v = s->Step(&st) ? s->Int(0) : 0;
    s->Reset();
    KAKUNIN_RETURN_IF_ERROR(st);
    return v;
  }

  std::unique_ptr<Db> db_;
  bool in_txn_ = false;
  Stmt* insert_ = nullptr;
  std::string table_;
};

}  // namespace

Result<std::unique_ptr<TableStore>> OpenTableStore(const std::string& path) {
  KAKUNIN_ASSIGN_OR_RETURN(db, Db::Open(path, /*create=*/false, /*read_only=*/false));
  // Every table is read (or written) once, front to back: a large page cache buys nothing, and a
  // small one keeps the move's memory bounded whatever the database's size.
  KAKUNIN_RETURN_IF_ERROR(db->Exec("PRAGMA cache_size=-8192"));
  return std::unique_ptr<TableStore>(new SqliteTables(std::move(db)));
}

}  // namespace kakunin::store::sqlite
