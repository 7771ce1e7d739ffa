#pragma once

// A thin RAII wrapper over libpq (the PostgreSQL store's only contact with it): errors as
// Status, statements prepared once per connection and reused, every value bound as a typed
// binary parameter, results read in binary. Nothing outside store/pg/ sees a libpq type.

#include <libpq-fe.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace kakunin::store::pg {

// Bound parameters, in order ($1, $2, …). Values are copied; each carries its type, so the
// server never guesses one from the SQL text.
class Params {
 public:
  Params& Int(int64_t v);
  Params& Text(std::string_view v);
  Params& Bytes(std::string_view v);  // bytea
  Params& OptionalText(const std::optional<std::string>& v);
  Params& Null(unsigned int oid);
  Params& Bool(bool v);
  // One-dimensional arrays (text[], bytea[]), for `= ANY($n)`.
  Params& TextArray(const std::vector<std::string>& v);
  Params& BytesArray(const std::vector<std::string>& v);
  Params& IntArray(const std::vector<int64_t>& v);  // int8[]

  int size() const { return static_cast<int>(values_.size()); }
  const std::vector<unsigned int>& types() const { return types_; }

 private:
  friend class Conn;
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<unsigned int> types_;
};

// A statement's result. Columns are read in binary: int2/int4/int8/bool as integers, text and
// bytea as bytes.
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r, &PQclear) {}
  int size() const { return PQntuples(r_.get()); }
  bool empty() const { return size() == 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  int64_t Int(int row, int col) const;
  std::string Text(int row, int col) const;
  std::string Blob(int row, int col) const { return Text(row, col); }
  std::optional<std::string> OptionalText(int row, int col) const;
  // Rows an INSERT/UPDATE/DELETE changed.
  int64_t Affected() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// A deferred statement that may travel with others of its kind as one statement (Conn::
// DeferBatched): `many` is the same statement over arrays, its $n the n-th parameter of every
// row in order ($n::type[], read with unnest). Deferred statements between two that must reach
// the server in order (anything not batched: a read, a command, another write) are sent
// grouped by kind, kinds in `rank` order and each kind's rows in the order they came, so a
// kind's rows may overtake a later one of a lower rank: only statements that commute with
// every statement of a lower rank are batched, and a lower rank goes first where they do not
// (a row's insert before another table's row referring to it).
struct Batchable {
  const char* many;
  int rank;
  // Rows whose first `key_params` parameters repeat an earlier row's are sent once, as the last
  // of them (an upsert or an update: the last one decides); 0 sends every row.
  int key_params = 0;
  // A row folded into a row of another kind with the same key sent with it (an update of a row
  // inserted in the same group: the insert carries the value instead): this row's parameter
  // `fold_key` matches `fold_into`'s `fold_into_key`, and its `fold_value` replaces the other's
  // `fold_into_value`.
  const Batchable* fold_into = nullptr;
  int fold_key = 0, fold_into_key = 0, fold_value = 0, fold_into_value = 0;
};

// One connection. Not thread-safe: one thread at a time.
class Conn {
 public:
  // Connects with a libpq URL or key=value string and applies the session settings every
  // connection needs (UTF-8, synchronous_commit = on, no parameters in the server's log).
  static Result<std::unique_ptr<Conn>> Open(const std::string& url);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // SQL without parameters (DDL, BEGIN/COMMIT, SAVEPOINT); may hold several statements.
  Status Exec(std::string_view sql);
  // Runs a named constant (prepared on first use on this connection, by its address).
  Result<Rows> Query(const char* sql, const Params& p);
  // The same for SQL assembled at run time from constant fragments (prepared by text).
  Result<Rows> QueryText(const std::string& sql, const Params& p);
  // Runs and returns the rows changed.
  Result<int64_t> Run(const char* sql, const Params& p);
  // The first column of the first row (0 if none).
  Result<int64_t> QueryInt(const char* sql, const Params& p);

  // Deferred statements (libpq's pipeline mode, PostgreSQL 14+): a write whose caller needs no
  // answer is sent at once and its result read later, together with the next statement that
  // needs one (Query, Exec, Commit) or every kMaxDeferred statements, so a transaction's writes
  // cost one round trip between reads instead of one each. A deferred statement that fails
  // makes every later call on this connection fail with its error until the transaction ends
  // (Commit or Rollback): the server skipped what followed it, so nothing after it may succeed.
  Status Defer(const char* sql, const Params& p);
  // Deferred, and sent with the other rows of its kind (Batchable): a group's statements go
  // together when a statement that is not batched must be sent, or every kMaxBatched rows.
  // Statements since the last such point that fail fail together, so the transaction fails
  // as with Defer.
  Status DeferBatched(const char* sql, const Params& p, const Batchable& kind);
  static constexpr size_t kMaxBatched = 512;
  // The same for a command without parameters (SAVEPOINT, RELEASE, ROLLBACK TO).
  Status DeferCommand(const std::string& sql);
  // Reads every deferred statement's result; the first failure, if any.
  Status Flush();
  // Ends the transaction: COMMIT (sent with the statements still deferred, in one round trip),
  // or ROLLBACK after the deferred ones were read. Either clears a deferred failure.
  Status Commit();
  void Rollback();
  static constexpr size_t kMaxDeferred = 256;

  // Savepoints sent only when needed: until a statement inside one must reach the server
  // before the savepoint ends (one whose answer is awaited, a command), the deferred writes
  // inside it are held here; releasing it passes them to the enclosing scope (sent once no
  // savepoint is left unsent), rolling back to it drops them. A notification whose lookups were
  // prefetched then costs no SAVEPOINT and no RELEASE, nor a subtransaction on the server.
  Status Savepoint(const std::string& name);
  Status ReleaseSavepoint();
  Status RollbackToSavepoint();

  // Whether the connection is still usable (not broken by a server that went away).
  bool Healthy() const;
  PGconn* raw() { return c_; }

  // Ids drawn ahead from a sequence on this connection and not used yet, by the statement that
  // draws them (PgTxn::DrawId), within one write transaction: DropSpareIds at its end. Kept
  // across transactions, a writer's leftover ids were lower than those another process drew
  // meanwhile (a second node, `kakunin ingest` beside `serve`), and a later version got a lower
  // id than an earlier one: history, newest first by id, put a superseded address first (found
  // in review). Drawn under the writers' lock, ids follow the order of the writes.
  std::deque<int64_t>& SpareIds(const char* draw_sql) { return spare_ids_[draw_sql]; }
  void DropSpareIds() { spare_ids_.clear(); }

 private:
  explicit Conn(PGconn* c) : c_(c) {}
  Result<std::string> PrepareNamed(const std::string& key, const char* sql, const Params& p,
                                   std::unordered_map<std::string, std::string>* cache);
  Result<Rows> ExecPrepared(const std::string& name, const Params& p);
  // Pipeline mode: queues `sql` (prepared on first use, the PREPARE queued too).
  Status SendPrepared(const std::string& key, const char* sql, const Params& p,
                      std::unordered_map<std::string, std::string>* cache, bool keep);
  Status SendCommand(const std::string& sql, bool keep);
  // Sends a sync point and reads every queued result; the kept one (a statement whose rows the
  // caller waits for) into *kept.
  Status SyncPipeline(std::optional<Rows>* kept);
  Result<Rows> QueryPipelined(const std::string& key, const char* sql, const Params& p,
                              std::unordered_map<std::string, std::string>* cache);

  // A queued command: a PREPARE (whose failure forgets the name), a deferred statement, or the
  // statement whose result the caller waits for.
  struct Queued {
    std::unordered_map<std::string, std::string>* cache = nullptr;  // a PREPARE's cache
    std::string key;
    bool keep = false;
  };

  Status EnsurePipeline();
  // Sends what is held (its savepoints as SAVEPOINT): every open savepoint is then sent.
  // Batched statements among them join pending_.
  Status SendHeld();
  // SendHeld, then SendPending: everything deferred is on its way, in order.
  Status SendAll();

  struct Held {
    std::string savepoint;  // a savepoint not sent yet, or
    const char* sql = nullptr;  // a deferred statement inside one
    Params params;
    const Batchable* kind = nullptr;  // if batched
  };
  // Sends a deferred statement (SendPrepared), checked against kMaxDeferred.
  Status SendDeferred(const char* sql, const Params& p);
  // Sends the batched statements waiting in pending_ (DeferBatched).
  Status SendPending();
  struct Scope {
    std::string name;
    bool sent = false;
  };

  PGconn* c_;
  std::vector<Held> held_;
  std::vector<Scope> scopes_;  // the sent ones first
  std::vector<Held> pending_;  // batched statements not sent yet (outside unsent savepoints)
  int unsent_ = 0;
  bool pipeline_ = false;
  std::deque<Queued> queued_;
  Status deferred_error_;
  std::unordered_map<std::string, std::string> by_address_;  // address → statement name
  std::unordered_map<std::string, std::string> by_text_;
  std::unordered_map<std::string, std::deque<int64_t>> spare_ids_;
  int next_ = 0;
};

// A result's error as a Status, without any bound value: the SQLSTATE, the constraint's name and
// our own words. The server's message is kept only for classes that cannot hold data
// (connection, syntax, resources).
Status ResultError(const PGresult* r, std::string_view what);
// A connection's error (libpq's message names hosts and ports, never data).
Status ConnError(const PGconn* c, std::string_view what);

// Whether the server would write a session's bound parameters into its log, from that session's
// settings (name → value as pg_settings gives it; a name missing has its default, auto_explain's
// are missing where it is not loaded). The rule is docs/postgresql.md's, "Privacy on the
// server". `setting` names what logs them ("log_statement = 'all' with
// log_parameter_max_length = -1"), empty if nothing would; `fix` is the role setting that
// stops it ("log_parameter_max_length = 0").
struct ParameterLogging {
  std::string setting;
  std::string fix;
};
ParameterLogging WouldLogParameters(const std::map<std::string, std::string>& settings);

}  // namespace kakunin::store::pg
