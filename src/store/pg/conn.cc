#include "store/pg/conn.h"

#include <endian.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>
#include <utility>

namespace kakunin::store::pg {
namespace {

// Type OIDs (pg_type.h; stable across releases).
constexpr unsigned int kBoolOid = 16;
constexpr unsigned int kByteaOid = 17;
constexpr unsigned int kInt8Oid = 20;
constexpr unsigned int kInt2Oid = 21;
constexpr unsigned int kInt4Oid = 23;
constexpr unsigned int kTextOid = 25;

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// What decides whether the server logs a statement's bound parameters, as this session sees it
// (WouldLogParameters): pg_settings gives SHOW's values, in base units.
constexpr char kLogSettings[] =
    "SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN ('log_statement', "
    "'log_min_duration_statement', 'log_min_duration_sample', 'log_statement_sample_rate', "
    "'log_transaction_sample_rate', 'log_parameter_max_length', "
    "'log_parameter_max_length_on_error', 'auto_explain.log_min_duration', "
    "'auto_explain.sample_rate')";
constexpr char kCurrentRole[] = "SELECT quote_ident(current_user)";

}  // namespace

ParameterLogging WouldLogParameters(const std::map<std::string, std::string>& settings) {
  auto get = [&](const char* name, const char* fallback) {
    auto it = settings.find(name);
    return it == settings.end() ? std::string(fallback) : it->second;
  };
  auto num = [&](const char* name, const char* fallback) {
    return std::strtod(get(name, fallback).c_str(), nullptr);
  };
  // auto_explain logs plans, and the plan of a statement with parameters is a custom plan (every
  // unnamed statement's, a prepared one's first five) with their values folded in as constants:
  // no length setting applies to them.
  if (num("auto_explain.log_min_duration", "-1") >= 0 && num("auto_explain.sample_rate", "1") > 0) {
    return {"auto_explain.log_min_duration = " + get("auto_explain.log_min_duration", "") +
                " (its plans hold the parameters' values)",
            "auto_explain.log_min_duration = -1"};
  }
  // Conn::Open sets it to 0 (any role may): only a failure of that would leave it.
  if (num("log_parameter_max_length_on_error", "0") != 0) {
    return {"log_parameter_max_length_on_error = " + get("log_parameter_max_length_on_error", ""),
            "log_parameter_max_length_on_error = 0"};
  }
  // Before PostgreSQL 13 there is no such setting, and parameters are logged in full.
  const std::string length = get("log_parameter_max_length", "-1");
  if (std::strtod(length.c_str(), nullptr) == 0) return {};
  const std::string with = " with log_parameter_max_length = " + length;
  auto logged = [&](const std::string& what) {
    return ParameterLogging{what + with, "log_parameter_max_length = 0"};
  };
  const std::string statement = get("log_statement", "none");
  if (statement == "mod" || statement == "all") {
    return logged("log_statement = '" + statement + "'");
  }
  if (num("log_min_duration_statement", "-1") >= 0) {
    return logged("log_min_duration_statement = " + get("log_min_duration_statement", ""));
  }
  if (num("log_min_duration_sample", "-1") >= 0 && num("log_statement_sample_rate", "1") > 0) {
    return logged("log_min_duration_sample = " + get("log_min_duration_sample", "") +
                  " and log_statement_sample_rate = " + get("log_statement_sample_rate", "1"));
  }
  if (num("log_transaction_sample_rate", "0") > 0) {
    return logged("log_transaction_sample_rate = " + get("log_transaction_sample_rate", ""));
  }
  return {};
}

Params& Params::Int(int64_t v) {
  uint64_t be = htobe64(static_cast<uint64_t>(v));
  values_.emplace_back(reinterpret_cast<const char*>(&be), sizeof(be));
  null_.push_back(false);
  types_.push_back(kInt8Oid);
  return *this;
}

Params& Params::Text(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  types_.push_back(kTextOid);
  return *this;
}

Params& Params::Bytes(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  types_.push_back(kByteaOid);
  return *this;
}

Params& Params::OptionalText(const std::optional<std::string>& v) {
  return v ? Text(*v) : Null(kTextOid);
}

Params& Params::Null(unsigned int oid) {
  values_.emplace_back();
  null_.push_back(true);
  types_.push_back(oid);
  return *this;
}

Params& Params::Bool(bool v) {
  values_.emplace_back(1, v ? '\1' : '\0');
  null_.push_back(false);
  types_.push_back(kBoolOid);
  return *this;
}

namespace {

constexpr unsigned int kTextArrayOid = 1009;
constexpr unsigned int kByteaArrayOid = 1001;
constexpr unsigned int kInt8ArrayOid = 1016;

void PutBe32(std::string* out, uint32_t v) {
  uint32_t be = htobe32(v);
  out->append(reinterpret_cast<const char*>(&be), sizeof(be));
}

// PostgreSQL's binary array format (array_recv): dimensions, no NULLs, the element type, the
// length and lower bound of the one dimension, then each element's length and bytes.
std::string BinaryArray(const std::vector<std::string>& v, unsigned int element_oid) {
  std::string out;
  PutBe32(&out, v.empty() ? 0 : 1);
  PutBe32(&out, 0);
  PutBe32(&out, element_oid);
  if (!v.empty()) {
    PutBe32(&out, static_cast<uint32_t>(v.size()));
    PutBe32(&out, 1);
  }
  for (const std::string& e : v) {
    PutBe32(&out, static_cast<uint32_t>(e.size()));
    out += e;
  }
  return out;
}

}  // namespace

Params& Params::TextArray(const std::vector<std::string>& v) {
  values_.push_back(BinaryArray(v, kTextOid));
  null_.push_back(false);
  types_.push_back(kTextArrayOid);
  return *this;
}

Params& Params::BytesArray(const std::vector<std::string>& v) {
  values_.push_back(BinaryArray(v, kByteaOid));
  null_.push_back(false);
  types_.push_back(kByteaArrayOid);
  return *this;
}

Params& Params::IntArray(const std::vector<int64_t>& v) {
  std::vector<std::string> elements;
  elements.reserve(v.size());
  for (int64_t x : v) {
    uint64_t be = htobe64(static_cast<uint64_t>(x));
    elements.emplace_back(reinterpret_cast<const char*>(&be), sizeof(be));
  }
  values_.push_back(BinaryArray(elements, kInt8Oid));
  null_.push_back(false);
  types_.push_back(kInt8ArrayOid);
  return *this;
}

int64_t Rows::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const char* p = PQgetvalue(r_.get(), row, col);
  switch (PQftype(r_.get(), col)) {
    case kInt8Oid: {
      uint64_t v;
      std::memcpy(&v, p, sizeof(v));
      return static_cast<int64_t>(be64toh(v));
    }
    case kInt4Oid: {
      uint32_t v;
      std::memcpy(&v, p, sizeof(v));
      return static_cast<int32_t>(be32toh(v));
    }
    case kInt2Oid: {
      uint16_t v;
      std::memcpy(&v, p, sizeof(v));
      return static_cast<int16_t>(be16toh(v));
    }
    case kBoolOid:
      return p[0] != 0 ? 1 : 0;
    default:
      return 0;  // a column of another type is a bug in our SQL; the tests catch it
  }
}

std::string Rows::Text(int row, int col) const {
  if (IsNull(row, col)) return std::string();
  return std::string(PQgetvalue(r_.get(), row, col),
                     static_cast<size_t>(PQgetlength(r_.get(), row, col)));
}

std::optional<std::string> Rows::OptionalText(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Text(row, col);
}

int64_t Rows::Affected() const {
  const char* n = PQcmdTuples(r_.get());
  return (n == nullptr || *n == '\0') ? 0 : std::strtoll(n, nullptr, 10);
}

Status ConnError(const PGconn* c, std::string_view what) {
  std::string msg = c ? PQerrorMessage(c) : "out of memory";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return Status::Unavailable(std::string(what) + ": " + msg);
}

Status ResultError(const PGresult* r, std::string_view what) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr) return Status::Unavailable(std::string(what) + ": connection lost");
  std::string code = state;
  std::string msg = std::string(what) + ": SQLSTATE " + code;
  if (const char* c = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME)) {
    msg += std::string(" (constraint ") + c + ")";
  }
  // Only classes whose message cannot hold a bound value keep it: connection (08), syntax and
  // access (42: our own SQL), resources (53), operator intervention (57), configuration (F0).
  if (StartsWith(code, "08") || StartsWith(code, "42") || StartsWith(code, "53") ||
      StartsWith(code, "57") || StartsWith(code, "F0")) {
    if (const char* p = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY))
      msg += std::string(": ") + p;
  }
  if (StartsWith(code, "23")) return Status::AlreadyExists(msg);
  if (code == "40001" || code == "40P01" || StartsWith(code, "08") || StartsWith(code, "57") ||
      code == "25006") {  // 25006: read-only transaction (a standby, during a failover)
    return Status::Unavailable(msg);
  }
  if (code == "53100") return Status::IoError(msg);
  if (StartsWith(code, "53")) return Status::ResourceExhausted(msg);
  if (code == "XX001" || code == "XX002") return Status::DataLoss(msg);
  if (code == "42501") return Status::PermissionDenied(msg);
  return Status::Internal(msg);
}

Result<std::unique_ptr<Conn>> Conn::Open(const std::string& url) {
  PGconn* raw = PQconnectdb(url.c_str());
  std::unique_ptr<Conn> c(new Conn(raw));
  if (raw == nullptr || PQstatus(raw) != CONNECTION_OK) {
    return ConnError(raw, "connect to PostgreSQL");
  }
  if (PQsetClientEncoding(raw, "UTF8") != 0) return ConnError(raw, "set client encoding");
  // The server's notices ("… already exists, skipping") are not for the node's output.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  // Durable before acknowledged (DESIGN §5): a commit returns once its WAL is flushed, on the
  // synchronous standby too when one is configured.
  KAKUNIN_RETURN_IF_ERROR(c->Exec("SET synchronous_commit = on"));
  // Bound values never reach the server's log through a failed statement's DETAIL, nor through
  // a plan tree printed with them folded in (debug_print_plan; any role may set both).
  KAKUNIN_RETURN_IF_ERROR(
      c->Exec("SET log_parameter_max_length_on_error = 0; SET debug_print_plan = off"));
  // Nor through log_statement = 'all': a superuser-only setting, so the node sets it when its
  // role may and docs/postgresql.md has the administrator set it for the role otherwise.
  PGresult* r = PQexec(raw, "SET log_parameter_max_length = 0");
  PQclear(r);
  // Where the server would log them all the same, nothing is sent (found in review: a role
  // without that setting, on a server logging statements, wrote every name, address and code
  // into the server's log in clear). Refused with the setting and the fix, never a value.
  KAKUNIN_ASSIGN_OR_RETURN(rows, c->Query(kLogSettings, Params()));
  std::map<std::string, std::string> settings;
  for (int i = 0; i < rows.size(); ++i) settings[rows.Text(i, 0)] = rows.Text(i, 1);
  const ParameterLogging logging = WouldLogParameters(settings);
  if (!logging.setting.empty()) {
    KAKUNIN_ASSIGN_OR_RETURN(role, c->Query(kCurrentRole, Params()));
    const std::string name = role.empty() ? "the node's role" : role.Text(0, 0);
    return Status::FailedPrecondition(
        "the PostgreSQL server would write the node's bound parameters (names, addresses, "
        "resident codes) into its log in clear: " + logging.setting + " for this session. As a "
        "superuser, set on the node's role: ALTER ROLE " + name + " SET " + logging.fix +
        " (docs/postgresql.md, \"Privacy on the server\"); nothing was sent");
  }
  return c;
}

Conn::~Conn() {
  if (c_) PQfinish(c_);
}

bool Conn::Healthy() const {
  if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK) return false;
  // A server that closed the connection (a restart, a failover) has left a FATAL message and
  // an end of file on the socket: reading what is there (without blocking) notices it. The first
  // read may only take the message (libpq treats it as a notice while idle); the end of file
  // comes with the next one.
  if (PQtransactionStatus(c_) == PQTRANS_IDLE) {
    for (int i = 0; i < 2; ++i) {
      if (PQconsumeInput(c_) == 0) return false;
    }
  }
  return PQstatus(c_) == CONNECTION_OK;
}

namespace {

// Takes ownership of `r`: its rows, or its error.
Result<Rows> Check(PGconn* c, PGresult* r, std::string_view what) {
  if (r == nullptr) return ConnError(c, what);
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Rows(r);
  Status err = ResultError(r, what);
  PQclear(r);
  if (PQstatus(c) != CONNECTION_OK) return Status::Unavailable(err.message());
  return err;
}

}  // namespace

Status Conn::Exec(std::string_view sql) {
  if (!deferred_error_.ok()) return deferred_error_;
  KAKUNIN_RETURN_IF_ERROR(SendAll());
  if (pipeline_) KAKUNIN_RETURN_IF_ERROR(Flush());
  std::string s(sql);
  auto r = Check(c_, PQexec(c_, s.c_str()), "exec");
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::string> Conn::PrepareNamed(const std::string& key, const char* sql, const Params& p,
                                       std::unordered_map<std::string, std::string>* cache) {
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  std::string name = "k" + std::to_string(next_++);
  auto r = Check(
      c_,
      PQprepare(c_, name.c_str(), sql, p.size(), reinterpret_cast<const Oid*>(p.types().data())),
      "prepare");
  if (!r.ok()) return r.status();
  cache->emplace(key, name);
  return name;
}

namespace {

// A constant's statement is keyed by its address and the parameters' types (one SQL, one set of
// types); assembled SQL by its text.
std::string AddressKey(const char* sql, const Params& p) {
  std::string key(reinterpret_cast<const char*>(&sql), sizeof(sql));
  for (unsigned int t : p.types()) key += std::to_string(t) + ",";
  return key;
}

std::string TextKey(const std::string& sql, const Params& p) {
  std::string key = sql + '\0';
  for (unsigned int t : p.types()) key += std::to_string(t) + ",";
  return key;
}

}  // namespace

Result<Rows> Conn::ExecPrepared(const std::string& name, const Params& p) {
  std::vector<const char*> values(p.values_.size());
  std::vector<int> lengths(p.values_.size());
  std::vector<int> formats(p.values_.size(), 1);
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = p.null_[i] ? nullptr : p.values_[i].data();
    lengths[i] = static_cast<int>(p.values_[i].size());
  }
  return Check(c_,
               PQexecPrepared(c_, name.c_str(), p.size(), values.data(), lengths.data(),
                              formats.data(), /*resultFormat=*/1),
               "execute");
}

Status Conn::SendPrepared(const std::string& key, const char* sql, const Params& p,
                          std::unordered_map<std::string, std::string>* cache, bool keep) {
  std::string name;
  auto it = cache->find(key);
  if (it != cache->end()) {
    name = it->second;
  } else {
    name = "k" + std::to_string(next_++);
    if (PQsendPrepare(c_, name.c_str(), sql, p.size(),
                      reinterpret_cast<const Oid*>(p.types().data())) != 1) {
      return ConnError(c_, "prepare");
    }
    cache->emplace(key, name);
    queued_.push_back(Queued{cache, key, false});
  }
  std::vector<const char*> values(p.values_.size());
  std::vector<int> lengths(p.values_.size());
  std::vector<int> formats(p.values_.size(), 1);
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = p.null_[i] ? nullptr : p.values_[i].data();
    lengths[i] = static_cast<int>(p.values_[i].size());
  }
  if (PQsendQueryPrepared(c_, name.c_str(), p.size(), values.data(), lengths.data(),
                          formats.data(), /*resultFormat=*/1) != 1) {
    return ConnError(c_, "execute");
  }
  queued_.push_back(Queued{nullptr, std::string(), keep});
  return Status::Ok();
}

Status Conn::SendCommand(const std::string& sql, bool keep) {
  if (PQsendQueryParams(c_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
    return ConnError(c_, "exec");
  }
  queued_.push_back(Queued{nullptr, std::string(), keep});
  return Status::Ok();
}

Status Conn::SyncPipeline(std::optional<Rows>* kept) {
  Status deferred;  // the first failure of a statement nobody waited for
  Status own;       // the kept statement's
  bool broken = PQpipelineSync(c_) != 1;
  while (!broken && !queued_.empty()) {
    Queued q = std::move(queued_.front());
    queued_.pop_front();
    bool failed = false;
    while (PGresult* r = PQgetResult(c_)) {
      ExecStatusType st = PQresultStatus(r);
      if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (q.keep && kept != nullptr && !kept->has_value()) {
          kept->emplace(r);  // owns r now
          continue;
        }
      } else {
        failed = true;
        // Statements after a failure are skipped (PIPELINE_ABORTED): only the first counts.
        if (st != PGRES_PIPELINE_ABORTED) {
          Status err = ResultError(r, q.keep ? "execute" : "deferred statement");
          if (q.keep) {
            if (own.ok()) own = err;
          } else if (deferred.ok() && own.ok()) {
            deferred = err;
          }
        }
      }
      PQclear(r);
    }
    if (failed && q.cache != nullptr) q.cache->erase(q.key);  // the PREPARE did not happen
    broken = PQstatus(c_) != CONNECTION_OK;
  }
  if (!broken) {
    // The sync point's own result, after which the pipeline is empty.
    if (PGresult* r = PQgetResult(c_)) PQclear(r);
    broken = PQexitPipelineMode(c_) != 1;
  }
  queued_.clear();
  pipeline_ = false;
  if (broken) {
    // The server went away (or the protocol is out of step): nothing here is acknowledged.
    deferred_error_ = Status::Unavailable(ConnError(c_, "pipeline").message());
    return deferred_error_;
  }
  if (!deferred.ok()) {
    deferred_error_ = deferred;
    return deferred;
  }
  return own;
}

Status Conn::EnsurePipeline() {
  if (!pipeline_) {
    if (PQenterPipelineMode(c_) != 1) return ConnError(c_, "enter pipeline mode");
    pipeline_ = true;
  }
  return Status::Ok();
}

Status Conn::SendHeld() {
  if (unsent_ == 0 && held_.empty()) return Status::Ok();
  std::vector<Held> held = std::move(held_);
  held_.clear();
  unsent_ = 0;
  for (Scope& s : scopes_) s.sent = true;
  for (Held& h : held) {
    Status st;
    if (h.kind != nullptr) {
      pending_.push_back(std::move(h));
      if (pending_.size() >= kMaxBatched) st = SendPending();
    } else {
      st = SendPending();  // what came before it goes first
      if (st.ok()) st = EnsurePipeline();
      if (st.ok()) {
        st = h.sql == nullptr
                 ? SendCommand("SAVEPOINT " + h.savepoint, /*keep=*/false)
                 : SendPrepared(AddressKey(h.sql, h.params), h.sql, h.params, &by_address_, false);
      }
    }
    if (!st.ok()) {
      deferred_error_ = st;
      return st;
    }
    if (queued_.size() >= kMaxDeferred) KAKUNIN_RETURN_IF_ERROR(SyncPipeline(nullptr));
  }
  return Status::Ok();
}

Status Conn::SendAll() {
  KAKUNIN_RETURN_IF_ERROR(SendHeld());
  return SendPending();
}

namespace {

unsigned int ArrayOid(unsigned int element) {
  switch (element) {
    case kBoolOid:
      return 1000;
    case kByteaOid:
      return kByteaArrayOid;
    case kInt8Oid:
      return kInt8ArrayOid;
    case kTextOid:
      return kTextArrayOid;
    default:
      return 0;
  }
}

// A parameter's identity among rows: its bytes, or NULL.
void AppendKey(const std::string& value, bool null, std::string* key) {
  if (null) {
    *key += '\xff';
    return;
  }
  PutBe32(key, static_cast<uint32_t>(value.size()));
  *key += value;
}

}  // namespace

Status Conn::SendPending() {
  if (pending_.empty()) return Status::Ok();
  std::vector<Held> rows = std::move(pending_);
  pending_.clear();
  Status st = EnsurePipeline();
  if (!st.ok()) {
    deferred_error_ = st;
    return st;
  }
  // Rows that cannot be grouped (a kind whose rows differ in their parameters' types, a type
  // without an array form) are sent one by one, all of them in the order they came.
  bool groupable = true;
  std::map<std::pair<int, const Batchable*>, std::vector<size_t>> groups;
  for (size_t i = 0; i < rows.size() && groupable; ++i) {
    const Batchable* k = rows[i].kind;
    auto& g = groups[{k->rank, k}];
    const Params& p = rows[i].params;
    if (!g.empty()) {
      const Held& first = rows[g.front()];
      groupable = first.sql == rows[i].sql && first.params.types() == p.types();
    }
    for (unsigned int t : p.types()) groupable = groupable && ArrayOid(t) != 0;
    g.push_back(i);
  }
  std::vector<bool> dropped(rows.size(), false);
  if (groupable) {
    // Folds: into the latest row of the other kind with the same key that came before.
    for (auto& [at, members] : groups) {
      const Batchable* k = at.second;
      if (k->fold_into == nullptr) continue;
      auto target = groups.find({k->fold_into->rank, k->fold_into});
      if (target == groups.end()) continue;
      std::unordered_map<std::string, size_t> by_key;  // key → row, the latest so far
      size_t next = 0;
      const std::vector<size_t>& into = target->second;
      for (size_t i : members) {
        for (; next < into.size() && into[next] < i; ++next) {
          const Params& q = rows[into[next]].params;
          std::string key;
          AppendKey(q.values_[k->fold_into_key], q.null_[k->fold_into_key], &key);
          by_key[key] = into[next];
        }
        Params& p = rows[i].params;
        std::string key;
        AppendKey(p.values_[k->fold_key], p.null_[k->fold_key], &key);
        auto it = by_key.find(key);
        if (it == by_key.end()) continue;
        Params& q = rows[it->second].params;
        q.values_[k->fold_into_value] = p.values_[k->fold_value];
        q.null_[k->fold_into_value] = p.null_[k->fold_value];
        dropped[i] = true;
      }
    }
    // Repeated keys: the last row of each.
    for (auto& [at, members] : groups) {
      const Batchable* k = at.second;
      if (k->key_params == 0) continue;
      std::unordered_map<std::string, size_t> last;
      for (size_t i : members) {
        if (dropped[i]) continue;
        const Params& p = rows[i].params;
        std::string key;
        for (int c = 0; c < k->key_params; ++c) AppendKey(p.values_[c], p.null_[c], &key);
        auto [it, fresh] = last.emplace(key, i);
        if (!fresh) {
          dropped[it->second] = true;
          it->second = i;
        }
      }
    }
  }
  auto send = [&](const char* sql, const Params& p) -> Status {
    Status sent = SendPrepared(AddressKey(sql, p), sql, p, &by_address_, /*keep=*/false);
    if (sent.ok() && queued_.size() >= kMaxDeferred) sent = SyncPipeline(nullptr);
    if (sent.ok()) sent = EnsurePipeline();
    return sent;
  };
  if (!groupable) {
    for (const Held& h : rows) {
      st = send(h.sql, h.params);
      if (!st.ok()) break;
    }
  } else {
    for (const auto& [at, members] : groups) {
      std::vector<size_t> live;
      for (size_t i : members) {
        if (!dropped[i]) live.push_back(i);
      }
      if (live.empty()) continue;
      if (live.size() == 1) {
        st = send(rows[live[0]].sql, rows[live[0]].params);
      } else {
        const std::vector<unsigned int>& types = rows[live[0]].params.types();
        Params arrays;
        for (size_t c = 0; c < types.size(); ++c) {
          std::string a;
          bool nulls = false;
          for (size_t i : live) nulls = nulls || rows[i].params.null_[c];
          PutBe32(&a, 1);
          PutBe32(&a, nulls ? 1 : 0);
          PutBe32(&a, types[c]);
          PutBe32(&a, static_cast<uint32_t>(live.size()));
          PutBe32(&a, 1);
          for (size_t i : live) {
            const Params& p = rows[i].params;
            if (p.null_[c]) {
              PutBe32(&a, 0xFFFFFFFFu);
            } else {
              PutBe32(&a, static_cast<uint32_t>(p.values_[c].size()));
              a += p.values_[c];
            }
          }
          arrays.values_.push_back(std::move(a));
          arrays.null_.push_back(false);
          arrays.types_.push_back(ArrayOid(types[c]));
        }
        st = send(at.second->many, arrays);
      }
      if (!st.ok()) break;
    }
  }
  if (!st.ok()) deferred_error_ = st;
  return st;
}

Status Conn::Savepoint(const std::string& name) {
  if (!deferred_error_.ok()) return deferred_error_;
  scopes_.push_back(Scope{name, false});
  held_.push_back(Held{name, nullptr, Params()});
  ++unsent_;
  return Status::Ok();
}

Status Conn::ReleaseSavepoint() {
  if (!deferred_error_.ok()) return deferred_error_;
  if (scopes_.empty()) return Status::Internal("no savepoint to release");
  Scope s = std::move(scopes_.back());
  scopes_.pop_back();
  if (s.sent) return DeferCommand("RELEASE SAVEPOINT " + s.name);
  // Its writes now belong to the enclosing scope.
  for (size_t i = held_.size(); i-- > 0;) {
    if (held_[i].sql == nullptr) {
      held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  --unsent_;
  return unsent_ == 0 ? SendHeld() : Status::Ok();
}

Status Conn::RollbackToSavepoint() {
  if (!deferred_error_.ok()) return deferred_error_;
  if (scopes_.empty()) return Status::Internal("no savepoint to roll back to");
  Scope s = std::move(scopes_.back());
  scopes_.pop_back();
  if (s.sent) {
    KAKUNIN_RETURN_IF_ERROR(DeferCommand("ROLLBACK TO SAVEPOINT " + s.name));
    return DeferCommand("RELEASE SAVEPOINT " + s.name);
  }
  // Nothing inside it reached the server: dropping what is held undoes it.
  for (size_t i = held_.size(); i-- > 0;) {
    if (held_[i].sql == nullptr) {
      held_.resize(i);
      break;
    }
  }
  --unsent_;
  return unsent_ == 0 ? SendHeld() : Status::Ok();
}

Status Conn::Defer(const char* sql, const Params& p) {
  if (!deferred_error_.ok()) return deferred_error_;
  if (unsent_ > 0) {
    held_.push_back(Held{std::string(), sql, p});
    return Status::Ok();
  }
  KAKUNIN_RETURN_IF_ERROR(SendPending());  // batched statements before it go first
  KAKUNIN_RETURN_IF_ERROR(EnsurePipeline());
  Status st = SendPrepared(AddressKey(sql, p), sql, p, &by_address_, /*keep=*/false);
  if (!st.ok()) {
    deferred_error_ = st;
    return st;
  }
  // Bounded, so that the server's answers never fill the socket while we are still sending.
  if (queued_.size() >= kMaxDeferred) return Flush();
  return Status::Ok();
}

Status Conn::DeferBatched(const char* sql, const Params& p, const Batchable& kind) {
  if (!deferred_error_.ok()) return deferred_error_;
  if (unsent_ > 0) {
    held_.push_back(Held{std::string(), sql, p, &kind});
    return Status::Ok();
  }
  pending_.push_back(Held{std::string(), sql, p, &kind});
  if (pending_.size() >= kMaxBatched) return SendPending();
  return Status::Ok();
}

Status Conn::DeferCommand(const std::string& sql) {
  if (!deferred_error_.ok()) return deferred_error_;
  KAKUNIN_RETURN_IF_ERROR(SendAll());
  KAKUNIN_RETURN_IF_ERROR(EnsurePipeline());
  Status st = SendCommand(sql, /*keep=*/false);
  if (!st.ok()) {
    deferred_error_ = st;
    return st;
  }
  if (queued_.size() >= kMaxDeferred) return Flush();
  return Status::Ok();
}

Status Conn::Flush() {
  if (!deferred_error_.ok()) return deferred_error_;
  KAKUNIN_RETURN_IF_ERROR(SendAll());
  if (!pipeline_) return deferred_error_;
  return SyncPipeline(nullptr);
}

Status Conn::Commit() {
  if (!deferred_error_.ok()) return deferred_error_;
  KAKUNIN_RETURN_IF_ERROR(SendAll());
  scopes_.clear();
  if (!pipeline_) return Exec("COMMIT");
  Status st = SendCommand("COMMIT", /*keep=*/true);
  if (!st.ok()) {
    deferred_error_ = st;
    return st;
  }
  std::optional<Rows> rows;
  return SyncPipeline(&rows);
}

void Conn::Rollback() {
  held_.clear();
  pending_.clear();
  scopes_.clear();
  unsent_ = 0;
  if (pipeline_) (void)SyncPipeline(nullptr);
  if (pipeline_ && PQexitPipelineMode(c_) == 1) pipeline_ = false;
  queued_.clear();
  deferred_error_ = Status::Ok();
  if (PQstatus(c_) == CONNECTION_OK) PQclear(PQexec(c_, "ROLLBACK"));
}

Result<Rows> Conn::QueryPipelined(const std::string& key, const char* sql, const Params& p,
                                  std::unordered_map<std::string, std::string>* cache) {
  Status st = SendPrepared(key, sql, p, cache, /*keep=*/true);
  if (!st.ok()) {
    deferred_error_ = st;
    return st;
  }
  std::optional<Rows> rows;
  KAKUNIN_RETURN_IF_ERROR(SyncPipeline(&rows));
  if (!rows) return Status::Internal("execute: no result");
  return std::move(*rows);
}

Result<Rows> Conn::Query(const char* sql, const Params& p) {
  if (!deferred_error_.ok()) return deferred_error_;
  KAKUNIN_RETURN_IF_ERROR(SendAll());
  std::string key = AddressKey(sql, p);
  // With statements deferred, this one goes after them: one round trip for all.
  if (pipeline_) return QueryPipelined(key, sql, p, &by_address_);
  auto name = PrepareNamed(key, sql, p, &by_address_);
  if (!name.ok()) return name.status();
  return ExecPrepared(*name, p);
}

Result<Rows> Conn::QueryText(const std::string& sql, const Params& p) {
  if (!deferred_error_.ok()) return deferred_error_;
  KAKUNIN_RETURN_IF_ERROR(SendAll());
  std::string key = TextKey(sql, p);
  if (pipeline_) return QueryPipelined(key, sql.c_str(), p, &by_text_);
  auto name = PrepareNamed(key, sql.c_str(), p, &by_text_);
  if (!name.ok()) return name.status();
  return ExecPrepared(*name, p);
}

Result<int64_t> Conn::Run(const char* sql, const Params& p) {
  auto r = Query(sql, p);
  if (!r.ok()) return r.status();
  return r->Affected();
}

Result<int64_t> Conn::QueryInt(const char* sql, const Params& p) {
  auto r = Query(sql, p);
  if (!r.ok()) return r.status();
  return r->empty() ? 0 : r->Int(0, 0);
}

}  // namespace kakunin::store::pg
