// The PostgreSQL side of moving a node (store/table_copy.h): rows loaded with COPY … FROM STDIN
// (text format, sent in chunks of about a megabyte, so memory stays bounded whatever the table's
// size) inside one transaction, and read through a cursor in one REPEATABLE READ snapshot, a
// batch at a time, in binary. SQL is assembled from identifiers read from the server's own
// catalogue (quoted), never from input. Sealed individual numbers are bytes like any other
// bytea: the server never sees one in clear.

#include "store/pg/copy.h"

#include <algorithm>
#include <cstdio>

#include "store/pg/conn.h"

namespace kakunin::store::pg {
namespace {

constexpr char kTables[] =
    "SELECT c.relname::text FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
    "AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations' ORDER BY 1";
constexpr char kColumns[] =
    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
    "WHERE a.attrelid = quote_ident($1)::regclass AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum";
constexpr char kKey[] =
    "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
    "AND a.attnum = ANY (i.indkey) WHERE i.indrelid = quote_ident($1)::regclass AND i.indisprimary "
    "ORDER BY array_position(i.indkey::int2[], a.attnum)";
constexpr char kReferences[] =
    "SELECT DISTINCT c.relname::text FROM pg_constraint f JOIN pg_class c ON c.oid = f.confrelid "
    "WHERE f.conrelid = quote_ident($1)::regclass AND f.contype = 'f' ORDER BY 1";
constexpr char kHasMigrations[] =
    "SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
    "AND relname = 'schema_migrations'";
constexpr char kSchemaVersion[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
constexpr char kIdentities[] =
    "SELECT table_name::text, column_name::text, "
    "coalesce(pg_sequence_last_value(pg_get_serial_sequence(quote_ident(table_name), "
    "column_name)::regclass), 0) FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY 1";
constexpr char kSetSequence[] =
    "SELECT setval(pg_get_serial_sequence(quote_ident($1), $2)::regclass, $3, true)";
constexpr char kOtherSessions[] =
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'";

// COPY's text format: a tab between columns, \N for NULL, backslash escapes for the characters
// that would break a line; bytea as its hex form (whose backslash is escaped in turn).
void AppendCopyText(const Cell& cell, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  switch (cell.kind) {
    case Cell::Kind::kNull:
      *out += "\\N";
      return;
    case Cell::Kind::kInt:
      *out += std::to_string(cell.i);
      return;
    case Cell::Kind::kBlob:
      *out += "\\\\x";
      for (unsigned char b : cell.s) {
        out->push_back(kHex[b >> 4]);
        out->push_back(kHex[b & 15]);
      }
      return;
    case Cell::Kind::kText:
      for (char c : cell.s) {
        switch (c) {
          case '\\':
            *out += "\\\\";
            break;
          case '\n':
            *out += "\\n";
            break;
          case '\r':
            *out += "\\r";
            break;
          case '\t':
            *out += "\\t";
            break;
          default:
            out->push_back(c);
        }
      }
      return;
  }
}

constexpr size_t kCopyChunk = size_t{1} << 20;

class PgTables : public TableStore {
 public:
  explicit PgTables(std::unique_ptr<Conn> conn) : c_(std::move(conn)) {}
  ~PgTables() override {
    if (copying_) (void)PQputCopyEnd(c_->raw(), "abandoned");
    if (in_txn_) (void)c_->Exec("ROLLBACK");
  }
  const char* kind() const override { return "postgresql"; }

  Result<std::vector<TableShape>> Tables() override {
    KAKUNIN_ASSIGN_OR_RETURN(names, c_->Query(kTables, Params()));
    std::vector<TableShape> out;
    for (int r = 0; r < names.size(); ++r) {
      TableShape t;
      t.name = names.Text(r, 0);
      KAKUNIN_ASSIGN_OR_RETURN(cols, c_->Query(kColumns, Params().Text(t.name)));
      for (int i = 0; i < cols.size(); ++i) {
        std::string column = cols.Text(i, 0);
        std::string type = cols.Text(i, 1);
        Cell::Kind kind;
        if (type == "bigint" || type == "integer" || type == "smallint") {
          kind = Cell::Kind::kInt;
        } else if (type == "text") {
          kind = Cell::Kind::kText;
        } else if (type == "bytea") {
          kind = Cell::Kind::kBlob;
        } else {
          return Status::FailedPrecondition("table " + t.name + ", column " + column +
                                            ": a type this copy does not know (" + type + ")");
        }
        t.columns.push_back(column);
        t.types.push_back(kind);
      }
      KAKUNIN_ASSIGN_OR_RETURN(key, c_->Query(kKey, Params().Text(t.name)));
      for (int i = 0; i < key.size(); ++i) t.key.push_back(key.Text(i, 0));
      if (t.key.empty()) t.key = t.columns;
      KAKUNIN_ASSIGN_OR_RETURN(refs, c_->Query(kReferences, Params().Text(t.name)));
      for (int i = 0; i < refs.size(); ++i) t.references.push_back(refs.Text(i, 0));
      out.push_back(std::move(t));
    }
    return out;
  }

  Result<int64_t> SchemaVersion() override {
    KAKUNIN_ASSIGN_OR_RETURN(has, c_->QueryInt(kHasMigrations, Params()));
    if (has == 0) return int64_t{0};
    return c_->QueryInt(kSchemaVersion, Params());
  }

  Status BeginRead() override {
    KAKUNIN_RETURN_IF_ERROR(c_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    in_txn_ = true;
    return Status::Ok();
  }

  Status EndRead() override {
    if (!in_txn_) return Status::Ok();
    in_txn_ = false;
    return c_->Exec("COMMIT");
  }

  Status Scan(const TableShape& table, size_t batch,
              const std::function<Status(const std::vector<TableRow>&)>& fn) override {
    if (!in_txn_) return Status::Internal("Scan outside BeginRead");
    std::string order;
    for (const std::string& k : table.key) {
      auto at = std::find(table.columns.begin(), table.columns.end(), k) - table.columns.begin();
      bool text = static_cast<size_t>(at) < table.types.size() &&
                  table.types[static_cast<size_t>(at)] == Cell::Kind::kText;
      // Byte order, as SQLite compares (every text column is COLLATE "C" already).
      order +=
          (order.empty() ? "" : ", ") + QuoteIdentifier(k) + (text ? " COLLATE \"C\"" : "") + " NULLS FIRST";
    }
    KAKUNIN_RETURN_IF_ERROR(c_->Exec("DECLARE kakunin_scan NO SCROLL CURSOR FOR SELECT " +
                                     ColumnList(table.columns) + " FROM " + QuoteIdentifier(table.name) +
                                     " ORDER BY " + order));
    const std::string fetch = "FETCH " + std::to_string(batch) + " FROM kakunin_scan";
    const int n = static_cast<int>(table.columns.size());
    Status result;
    while (result.ok()) {
      PGresult* raw = PQexecParams(c_->raw(), fetch.c_str(), 0, nullptr, nullptr, nullptr, nullptr,
                                   /*resultFormat=*/1);
      if (raw == nullptr) return ConnError(c_->raw(), "fetch");
      if (PQresultStatus(raw) != PGRES_TUPLES_OK) {
        Status err = ResultError(raw, "fetch from " + table.name);
        PQclear(raw);
        return err;
      }
      Rows rows(raw);
      if (rows.empty()) break;
      std::vector<TableRow> out(static_cast<size_t>(rows.size()));
      for (int r = 0; r < rows.size(); ++r) {
        TableRow& row = out[static_cast<size_t>(r)];
        row.resize(static_cast<size_t>(n));
        for (int c = 0; c < n; ++c) {
          Cell& cell = row[static_cast<size_t>(c)];
          if (rows.IsNull(r, c)) continue;  // kNull
          cell.kind = table.types[static_cast<size_t>(c)];
          if (cell.kind == Cell::Kind::kInt) {
            cell.i = rows.Int(r, c);
          } else {
            cell.s = rows.Text(r, c);
          }
        }
      }
      result = fn(out);
    }
    Status closed = c_->Exec("CLOSE kakunin_scan");
    KAKUNIN_RETURN_IF_ERROR(result);
    return closed;
  }

  Result<int64_t> CountRows(const std::string& table) override {
    KAKUNIN_ASSIGN_OR_RETURN(r, c_->QueryText("SELECT count(*) FROM " + QuoteIdentifier(table), Params()));
    return r.empty() ? 0 : r.Int(0, 0);
  }

  Result<std::map<std::string, int64_t>> Counters() override {
    KAKUNIN_ASSIGN_OR_RETURN(r, c_->Query(kIdentities, Params()));
    std::map<std::string, int64_t> out;
    for (int i = 0; i < r.size(); ++i) out[r.Text(i, 0)] = r.Int(i, 2);
    return out;
  }

  Status BeginLoad() override {
    KAKUNIN_RETURN_IF_ERROR(c_->Exec("BEGIN"));
    in_txn_ = true;
    return Status::Ok();
  }

  Status CreateTable(const TableShape& table) override {
    std::string sql = "CREATE TABLE " + QuoteIdentifier(table.name) + " (";
    for (size_t i = 0; i < table.columns.size(); ++i) {
      const char* type = table.types[i] == Cell::Kind::kInt    ? "int8"
                         : table.types[i] == Cell::Kind::kText ? "text COLLATE \"C\""
                                                               : "bytea";
      sql += QuoteIdentifier(table.columns[i]) + " " + type + ", ";
    }
    sql += "PRIMARY KEY (" + ColumnList(table.key) + "))";
    return c_->Exec(sql);
  }

  Status StartTable(const TableShape& table) override {
    std::string sql =
        "COPY " + QuoteIdentifier(table.name) + " (" + ColumnList(table.columns) + ") FROM STDIN";
    PGresult* r = PQexec(c_->raw(), sql.c_str());
    if (r == nullptr) return ConnError(c_->raw(), "copy");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
      Status err = ResultError(r, "copy into " + table.name);
      PQclear(r);
      return err;
    }
    PQclear(r);
    copying_ = true;
    table_ = table.name;
    return Status::Ok();
  }

  Status LoadRows(const std::vector<TableRow>& rows) override {
    if (!copying_) return Status::Internal("LoadRows before StartTable");
    for (const TableRow& row : rows) {
      for (size_t c = 0; c < row.size(); ++c) {
        if (c > 0) buffer_.push_back('\t');
        AppendCopyText(row[c], &buffer_);
      }
      buffer_.push_back('\n');
      if (buffer_.size() >= kCopyChunk) KAKUNIN_RETURN_IF_ERROR(Flush());
    }
    return Status::Ok();
  }

  Status EndTable() override {
    KAKUNIN_RETURN_IF_ERROR(Flush());
    copying_ = false;
    if (PQputCopyEnd(c_->raw(), nullptr) != 1) return ConnError(c_->raw(), "copy");
    Status st;
    while (PGresult* r = PQgetResult(c_->raw())) {
      if (PQresultStatus(r) != PGRES_COMMAND_OK && st.ok()) {
        // The SQLSTATE and constraint only: the server's message may quote a row.
        st = ResultError(r, "copy into " + table_);
      }
      PQclear(r);
    }
    return st;
  }

  Status SetCounters(const std::map<std::string, int64_t>& counters) override {
    // Every identity column: at least the largest id loaded, and the source's counter if it
    // kept a larger one (ids handed out and deleted since are never handed out again).
    KAKUNIN_ASSIGN_OR_RETURN(r, c_->Query(kIdentities, Params()));
    for (int i = 0; i < r.size(); ++i) {
      const std::string table = r.Text(i, 0);
      const std::string column = r.Text(i, 1);
      KAKUNIN_ASSIGN_OR_RETURN(
          max, c_->QueryText("SELECT coalesce(max(" + QuoteIdentifier(column) + "), 0) FROM " + QuoteIdentifier(table),
                             Params()));
      int64_t value = max.empty() ? 0 : max.Int(0, 0);
      if (auto it = counters.find(table); it != counters.end()) value = std::max(value, it->second);
      if (value <= 0) continue;  // nothing handed out yet: the sequence starts at 1
      KAKUNIN_RETURN_IF_ERROR(
          c_->Query(kSetSequence, Params().Text(table).Text(column).Int(value)).status());
    }
    return Status::Ok();
  }

  Status CommitLoad() override {
    in_txn_ = false;
    return c_->Exec("COMMIT");
  }

 private:
  Status Flush() {
    if (buffer_.empty()) return Status::Ok();
    if (PQputCopyData(c_->raw(), buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
      return ConnError(c_->raw(), "copy");
    }
    buffer_.clear();
    return Status::Ok();
  }

  std::unique_ptr<Conn> c_;
  bool in_txn_ = false;
  bool copying_ = false;
  std::string table_;
  std::string buffer_;
};

}  // namespace

Result<std::unique_ptr<TableStore>> OpenTableStore(const std::string& url) {
  KAKUNIN_RETURN_IF_ERROR(CheckUrl(url));
  KAKUNIN_ASSIGN_OR_RETURN(conn, Conn::Open(url));
  return std::unique_ptr<TableStore>(new PgTables(std::move(conn)));
}

Status CheckUrl(const std::string& url) {
  if (url.empty() || url.size() > 4096) {
    return Status::InvalidArgument("the PostgreSQL URL is empty or too long");
  }
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    // libpq's message names the part it could not parse; it may quote the URL, so it is left
    // out (a password can be in it).
    if (err != nullptr) PQfreemem(err);
    return Status::InvalidArgument(
        "not a PostgreSQL connection URL (postgresql://[user@]host[:port]/database?...)");
  }
  PQconninfoFree(opts);
  return Status::Ok();
}

Status CheckNoOtherSessions(const std::string& url) {
  KAKUNIN_RETURN_IF_ERROR(CheckUrl(url));
  KAKUNIN_ASSIGN_OR_RETURN(conn, Conn::Open(url));
  KAKUNIN_ASSIGN_OR_RETURN(n, conn->QueryInt(kOtherSessions, Params()));
  if (n > 0) {
    return Status::FailedPrecondition(
        "the node's database is in use: " + std::to_string(n) +
        " other session(s) connected (is the node running? stop it first, e.g. systemctl stop "
        "kakunin); nothing was changed");
  }
  return Status::Ok();
}

}  // namespace kakunin::store::pg
