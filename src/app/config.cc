#include "app/config.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>
#include <type_traits>

#include <toml++/toml.h>

#include "app/hsm_config.h"
#include "core/file.h"
#include "registry/registry.h"  // IsValidPurposeId

namespace kakunin::app {

constexpr int64_t kMinRetentionYears = 5;
constexpr int64_t kMinAuditYears = 7;

using registry::ConsoleConfig;
using registry::NodeConfig;
using registry::NodeRole;
using registry::QuotaConfig;
using registry::QuotaOverride;
using registry::ServerConfig;

namespace {

std::string Resolve(const std::string& dir, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  return dir + "/" + path;
}

Status CheckKeys(const toml::table& t, const std::set<std::string>& allowed,
                 const std::string& where) {
  for (const auto& [k, v] : t) {
    if (!allowed.count(std::string(k.str()))) {
      return Status::InvalidArgument("config: unknown key '" + where + std::string(k.str()) + "'");
    }
  }
  return Status::Ok();
}

Status ParseServer(const toml::table& st, const std::string& data_dir, ServerConfig* out) {
  KAKUNIN_RETURN_IF_ERROR(CheckKeys(
      st,
      {"address", "port", "certificate", "key", "client_ca", "crl", "access_log",
       "max_body_bytes", "max_connections", "max_connections_per_address", "read_timeout_ms", "idle_timeout_ms", "io_threads",
       "worker_threads"},
      "server."));
  out->present = true;
  auto text = [&](const char* key, std::string* target, bool is_path, bool required) -> Status {
    auto n = st[key];
    if (!n) {
      if (required) return Status::InvalidArgument(std::string("config: server.") + key + " is required");
      return Status::Ok();
    }
    if (!n.is_string() || n.value<std::string>()->empty() || n.value<std::string>()->size() > 4096) {
      return Status::InvalidArgument(std::string("config: server.") + key + " must be a string");
    }
    *target = is_path ? Resolve(data_dir, *n.value<std::string>()) : *n.value<std::string>();
    return Status::Ok();
  };
  KAKUNIN_RETURN_IF_ERROR(text("address", &out->address, false, false));
  KAKUNIN_RETURN_IF_ERROR(text("certificate", &out->certificate, true, true));
  KAKUNIN_RETURN_IF_ERROR(text("key", &out->key, true, true));
  KAKUNIN_RETURN_IF_ERROR(text("client_ca", &out->client_ca, true, true));
  KAKUNIN_RETURN_IF_ERROR(text("crl", &out->crl, true, false));
  std::string log = out->access_log;
  KAKUNIN_RETURN_IF_ERROR(text("access_log", &log, false, false));
  out->access_log = log == "-" ? log : Resolve(data_dir, log);
  auto integer = [&](const char* key, int64_t lo, int64_t hi, auto* target) -> Status {
    auto n = st[key];
    if (!n) return Status::Ok();
    if (!n.is_integer() || *n.value<int64_t>() < lo || *n.value<int64_t>() > hi) {
      return Status::InvalidArgument(std::string("config: server.") + key + " must be an integer " +
                                     std::to_string(lo) + ".." + std::to_string(hi));
    }
    *target = static_cast<std::remove_pointer_t<decltype(target)>>(*n.value<int64_t>());
    return Status::Ok();
  };
  KAKUNIN_RETURN_IF_ERROR(integer("port", 0, 65535, &out->port));
  KAKUNIN_RETURN_IF_ERROR(integer("max_body_bytes", 1024, int64_t{64} << 20, &out->max_body_bytes));
  KAKUNIN_RETURN_IF_ERROR(integer("max_connections", 1, 100000, &out->max_connections));
  KAKUNIN_RETURN_IF_ERROR(integer("max_connections_per_address", 1, 100000,
                                  &out->max_connections_per_address));
  KAKUNIN_RETURN_IF_ERROR(integer("read_timeout_ms", 10, 600000, &out->read_timeout_ms));
  KAKUNIN_RETURN_IF_ERROR(integer("idle_timeout_ms", 10, 3600000, &out->idle_timeout_ms));
  KAKUNIN_RETURN_IF_ERROR(integer("io_threads", 1, 64, &out->io_threads));
  KAKUNIN_RETURN_IF_ERROR(integer("worker_threads", 1, 256, &out->worker_threads));
  return Status::Ok();
}

constexpr int64_t kMaxQuota = 1000000000;

// The four limits of a [quotas] table or one of its sub-tables: positive integers. A zero or a
// negative limit is refused rather than read as "no limit": an unlimited caller is what the
// quotas exist to prevent.
Status ParseQuotaLimits(const toml::table& t, const std::string& where, QuotaOverride* out) {
  for (auto [key, target] : {std::pair{"requests_per_minute", &out->requests_per_minute},
                             std::pair{"residents_per_minute", &out->residents_per_minute},
                             std::pair{"requests_per_day", &out->requests_per_day},
                             std::pair{"residents_per_day", &out->residents_per_day}}) {
    if (auto n = t[key]) {
      if (!n.is_integer() || *n.value<int64_t>() < 1 || *n.value<int64_t>() > kMaxQuota) {
        return Status::InvalidArgument("config: " + where + key + " must be an integer 1.." +
                                       std::to_string(kMaxQuota));
      }
      *target = *n.value<int64_t>();
    }
  }
  return Status::Ok();
}

Status ParseQuotas(const toml::table& qt, QuotaConfig* out) {
  KAKUNIN_RETURN_IF_ERROR(CheckKeys(
      qt,
      {"enabled", "requests_per_minute", "residents_per_minute", "requests_per_day",
       "residents_per_day", "alert_interval_minutes", "operator", "purpose"},
      "quotas."));
  out->present = true;
  if (auto n = qt["enabled"]) {
    if (!n.is_boolean()) return Status::InvalidArgument("config: quotas.enabled must be a boolean");
    out->enabled = *n.value<bool>();
  }
  if (auto n = qt["alert_interval_minutes"]) {
    if (!n.is_integer() || *n.value<int64_t>() < 1 || *n.value<int64_t>() > 7 * 24 * 60) {
      return Status::InvalidArgument(
          "config: quotas.alert_interval_minutes must be an integer 1..10080");
    }
    out->alert_interval_minutes = static_cast<int>(*n.value<int64_t>());
  }
  QuotaOverride top;
  KAKUNIN_RETURN_IF_ERROR(ParseQuotaLimits(qt, "quotas.", &top));
  out->defaults = top.Over(out->defaults);
  if (auto op = qt["operator"]) {
    if (!op.is_table()) return Status::InvalidArgument("config: [quotas.operator] must be a table");
    const toml::table& ot = *op.as_table();
    KAKUNIN_RETURN_IF_ERROR(CheckKeys(ot,
                                      {"requests_per_minute", "residents_per_minute",
                                       "requests_per_day", "residents_per_day"},
                                      "quotas.operator."));
    KAKUNIN_RETURN_IF_ERROR(ParseQuotaLimits(ot, "quotas.operator.", &out->operators));
  }
  if (auto pp = qt["purpose"]) {
    if (!pp.is_table()) return Status::InvalidArgument("config: [quotas.purpose] must be a table");
    for (const auto& [id, node] : *pp.as_table()) {
      const std::string purpose(id.str());
      // The id is checked for shape here; against the catalogue when the server starts.
      if (!registry::IsValidPurposeId(purpose)) {
        return Status::InvalidArgument("config: quotas.purpose: not a purpose id");
      }
      if (!node.is_table()) {
        return Status::InvalidArgument("config: [quotas.purpose.\"" + purpose +
                                       "\"] must be a table");
      }
      const toml::table& pt = *node.as_table();
      const std::string where = "quotas.purpose.\"" + purpose + "\".";
      KAKUNIN_RETURN_IF_ERROR(CheckKeys(pt,
                                        {"requests_per_minute", "residents_per_minute",
                                         "requests_per_day", "residents_per_day"},
                                        where));
      QuotaOverride o;
      KAKUNIN_RETURN_IF_ERROR(ParseQuotaLimits(pt, where, &o));
      out->purposes[purpose] = o;
    }
  }
  return Status::Ok();
}

// [upstream]: the link to the national node (registry/config.h).
Status ParseUpstream(const toml::table& ut, const std::string& data_dir,
                     registry::UpstreamConfig* u) {
  KAKUNIN_RETURN_IF_ERROR(CheckKeys(
      ut, {"url", "ca_file", "cert_file", "key_file", "batch_size", "retry_min_ms",
           "retry_max_ms", "timeout_ms", "poll_ms", "delivered_retention_hours",
           "ready_threshold_seconds"},
      "upstream."));
  u->present = true;
  for (auto [key, target] : {std::pair{"url", &u->url}, std::pair{"ca_file", &u->ca_file},
                             std::pair{"cert_file", &u->cert_file},
                             std::pair{"key_file", &u->key_file}}) {
    auto n = ut[key];
    if (!n || !n.is_string() || n.value<std::string>()->empty() ||
        n.value<std::string>()->size() > 4096) {
      return Status::InvalidArgument(std::string("config: upstream.") + key +
                                     " is required (a string)");
    }
    *target = *n.value<std::string>();
  }
  if (u->url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("config: upstream.url must begin with https://");
  }
  u->ca_file = Resolve(data_dir, u->ca_file);
  u->cert_file = Resolve(data_dir, u->cert_file);
  u->key_file = Resolve(data_dir, u->key_file);
  for (auto [key, target, lo, hi] :
       {std::tuple{"batch_size", &u->batch_size, 1, 1000},
        std::tuple{"retry_min_ms", &u->retry_min_ms, 1, 600000},
        std::tuple{"retry_max_ms", &u->retry_max_ms, 1, 3600000},
        std::tuple{"timeout_ms", &u->timeout_ms, 100, 600000},
        std::tuple{"poll_ms", &u->poll_ms, 1, 60000},
        std::tuple{"delivered_retention_hours", &u->delivered_retention_hours, 0, 24 * 3660},
        std::tuple{"ready_threshold_seconds", &u->ready_threshold_seconds, 1, 86400 * 30}}) {
    if (auto n = ut[key]) {
      if (!n.is_integer() || *n.value<int64_t>() < lo || *n.value<int64_t>() > hi) {
        return Status::InvalidArgument(std::string("config: upstream.") + key +
                                       " must be an integer " + std::to_string(lo) + ".." +
                                       std::to_string(hi));
      }
      *target = static_cast<int>(*n.value<int64_t>());
    }
  }
  if (u->retry_max_ms < u->retry_min_ms) {
    return Status::InvalidArgument("config: upstream.retry_max_ms is below retry_min_ms");
  }
  return Status::Ok();
}

}  // namespace

Result<NodeConfig> ParseNodeConfig(std::string_view text, const std::string& data_dir) {
  if (text.size() > 64 * 1024) return Status::InvalidArgument("config: file too large");
  // Debian's toml++ is built with exceptions; they stop here, at the module edge.
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error& err) {
    return Status::InvalidArgument("config: syntax error at line " +
                                   std::to_string(err.source().begin.line) + ": " +
                                   std::string(err.description()));
  }
  KAKUNIN_RETURN_IF_ERROR(CheckKeys(
      t, {"role", "prefecture", "database", "key_file", "signing_key", "purposes", "retention",
          "audit", "disclosure", "operators", "checks", "server", "console", "quotas", "upstream", "limits", "hsm"},
      ""));
  NodeConfig c;
  c.data_dir = data_dir;
  auto role = t["role"];
  if (!role) return Status::InvalidArgument("config: 'role' is required");
  if (!role.is_string()) return Status::InvalidArgument("config: 'role' must be a string");
  std::string r = *role.value<std::string>();
  if (r == "prefecture") {
    c.role = NodeRole::kPrefecture;
  } else if (r == "national") {
    c.role = NodeRole::kNational;
  } else {
    return Status::InvalidArgument("config: 'role' must be \"prefecture\" or \"national\"");
  }
  if (auto p = t["prefecture"]) {
    // The national node's database is made with prefecture 0, which no value here can be: with
    // role = "national" the key can only name a prefecture's database (found in review: such a
    // database opened as the national node's, with no outside-prefecture check).
    if (c.role == NodeRole::kNational) {
      return Status::InvalidArgument(
          "config: 'prefecture' is for role = \"prefecture\" only; a national node has none");
    }
    if (!p.is_integer()) return Status::InvalidArgument("config: 'prefecture' must be an integer");
    int64_t v = *p.value<int64_t>();
    if (v < 1 || v > 47) return Status::InvalidArgument("config: 'prefecture' must be 1..47");
    c.prefecture = static_cast<int>(v);
  } else if (c.role == NodeRole::kPrefecture) {
    return Status::InvalidArgument("config: a prefecture node needs 'prefecture'");
  }
  auto path = [&](const char* key, const char* def) -> Result<std::string> {
    auto n = t[key];
    if (!n) return Resolve(data_dir, def);
    if (!n.is_string() || n.value<std::string>()->empty()) {
      return Status::InvalidArgument(std::string("config: '") + key + "' must be a path");
    }
    return Resolve(data_dir, *n.value<std::string>());
  };
  if (auto d = t["database"]; d && d.is_table()) {
    // [database]: kind = "sqlite" (path) | "postgresql" (url).
    const toml::table& dt = *d.as_table();
    KAKUNIN_RETURN_IF_ERROR(CheckKeys(dt, {"kind", "url", "path"}, "database."));
    for (const char* key : {"kind", "url", "path"}) {
      if (auto n = dt[key]; n && (!n.is_string() || n.value<std::string>()->empty() ||
                                  n.value<std::string>()->size() > 4096)) {
        return Status::InvalidArgument(std::string("config: database.") + key +
                                       " must be a non-empty string");
      }
    }
    c.database_kind = dt["kind"].value<std::string>().value_or("sqlite");
    if (c.database_kind != "sqlite" && c.database_kind != "postgresql") {
      return Status::InvalidArgument(
          "config: database.kind must be \"sqlite\" or \"postgresql\"");
    }
    if (c.database_kind == "postgresql") {
      if (!dt["url"]) return Status::InvalidArgument("config: database.url is required");
      if (dt["path"]) return Status::InvalidArgument("config: database.path is for sqlite");
      c.database_url = *dt["url"].value<std::string>();
    } else if (dt["url"]) {
      return Status::InvalidArgument("config: database.url is for kind = \"postgresql\"");
    }
    c.database_path = Resolve(data_dir, dt["path"].value<std::string>().value_or("registry.db"));
  } else {
    auto db = path("database", "registry.db");
    if (!db.ok()) return db.status();
    c.database_path = *db;
  }
  auto key = path("key_file", "keys");
  if (!key.ok()) return key.status();
  c.key_file = *key;
  auto signing = path("signing_key", "audit.key");
  if (!signing.ok()) return signing.status();
  c.signing_key = *signing;
  if (t["purposes"]) {
    auto purposes = path("purposes", "");
    if (!purposes.ok()) return purposes.status();
    c.purposes_file = *purposes;
  }
  if (auto ret = t["retention"]) {
    if (!ret.is_table()) return Status::InvalidArgument("config: [retention] must be a table");
    const toml::table& rt = *ret.as_table();
    KAKUNIN_RETURN_IF_ERROR(
        CheckKeys(rt, {"superseded_years", "removed_years", "audit_years"}, "retention."));
    for (auto [key_name, target] :
         {std::pair{"superseded_years", &c.superseded_retention_years},
          std::pair{"removed_years", &c.removed_retention_years},
          std::pair{"audit_years", &c.audit_retention_years}}) {
      // No period shorter than the shortest the rules know (5 years: 消除者 before the 2019
      // amendment; 7 and 150 today): a slip of the finger must not make `kakunin purge` erase
      // what the law still keeps. The operation log and the provision records: 7 years, the
      // period every provision is kept for (found in review: 5 was accepted).
      const int64_t least = std::string_view(key_name) == "audit_years" ? kMinAuditYears
                                                                         : kMinRetentionYears;
      if (auto n = rt[key_name]) {
        if (!n.is_integer() || *n.value<int64_t>() < least || *n.value<int64_t>() > 1000) {
          return Status::InvalidArgument(std::string("config: retention.") + key_name +
                                         " must be an integer " + std::to_string(least) +
                                         "..1000");
        }
        *target = static_cast<int>(*n.value<int64_t>());
      }
    }
  }
  if (auto au = t["audit"]) {
    if (!au.is_table()) return Status::InvalidArgument("config: [audit] must be a table");
    const toml::table& at = *au.as_table();
    KAKUNIN_RETURN_IF_ERROR(CheckKeys(at, {"map_every_checkpoint"}, "audit."));
    if (auto m = at["map_every_checkpoint"]) {
      if (!m.is_boolean()) {
        return Status::InvalidArgument("config: audit.map_every_checkpoint must be true or false");
      }
      c.audit_map_every_checkpoint = *m.value<bool>();
    }
  }
  if (auto dt = t["disclosure"]) {
    if (!dt.is_table()) return Status::InvalidArgument("config: [disclosure] must be a table");
    const toml::table& d = *dt.as_table();
    KAKUNIN_RETURN_IF_ERROR(CheckKeys(d, {"due_days"}, "disclosure."));
    if (auto n = d["due_days"]) {
      if (!n.is_integer() || *n.value<int64_t>() < 1 || *n.value<int64_t>() > 90) {
        return Status::InvalidArgument("config: disclosure.due_days must be an integer 1..90");
      }
      c.disclosure_due_days = static_cast<int>(*n.value<int64_t>());
    }
  }
  if (auto ot = t["operators"]) {
    if (!ot.is_table()) return Status::InvalidArgument("config: [operators] must be a table");
    const toml::table& o = *ot.as_table();
    KAKUNIN_RETURN_IF_ERROR(CheckKeys(o, {"require_training"}, "operators."));
    if (auto r = o["require_training"]) {
      if (!r.is_boolean()) {
        return Status::InvalidArgument("config: operators.require_training must be true or false");
      }
      c.operators_require_training = *r.value<bool>();
    }
  }
  if (auto lim = t["limits"]) {
    if (!lim.is_table()) return Status::InvalidArgument("config: [limits] must be a table");
    const toml::table& lt = *lim.as_table();
    KAKUNIN_RETURN_IF_ERROR(
        CheckKeys(lt, {"cache_mib", "import_batch", "import_queue", "write_batch"}, "limits."));
    c.limits.present = true;
    for (auto [key_name, target, lo, hi] :
         {std::tuple{"cache_mib", &c.limits.cache_mib, int64_t{1}, int64_t{1} << 20},
          std::tuple{"import_batch", &c.limits.import_batch, int64_t{1}, int64_t{1000000}},
          std::tuple{"import_queue", &c.limits.import_queue, int64_t{1}, int64_t{64}},
          std::tuple{"write_batch", &c.limits.write_batch, int64_t{1}, int64_t{100000}}}) {
      if (auto n = lt[key_name]) {
        if (!n.is_integer() || *n.value<int64_t>() < lo || *n.value<int64_t>() > hi) {
          return Status::InvalidArgument(std::string("config: limits.") + key_name +
                                         " must be an integer " + std::to_string(lo) + ".." +
                                         std::to_string(hi));
        }
        *target = *n.value<int64_t>();
      }
    }
  }
  if (auto chk = t["checks"]) {
    if (!chk.is_table()) return Status::InvalidArgument("config: [checks] must be a table");
    const toml::table& ct = *chk.as_table();
    KAKUNIN_RETURN_IF_ERROR(CheckKeys(ct, {"resident_code_check"}, "checks."));
    if (auto n = ct["resident_code_check"]) {
      std::string v = n.value<std::string>().value_or("");
      if (v == "full") {
        c.resident_code_check = ResidentCodeCheck::kFull;
      } else if (v == "format") {
        c.resident_code_check = ResidentCodeCheck::kFormatOnly;
      } else {
        return Status::InvalidArgument(
            "config: checks.resident_code_check must be \"full\" or \"format\"");
      }
    }
  }
  if (auto up = t["upstream"]) {
    if (!up.is_table()) return Status::InvalidArgument("config: [upstream] must be a table");
    if (c.role != NodeRole::kPrefecture) {
      return Status::InvalidArgument("config: only a prefecture node has an [upstream]");
    }
    KAKUNIN_RETURN_IF_ERROR(ParseUpstream(*up.as_table(), data_dir, &c.upstream));
  }
  if (auto con = t["console"]) {
    if (!con.is_table()) return Status::InvalidArgument("config: [console] must be a table");
    const toml::table& ct = *con.as_table();
    KAKUNIN_RETURN_IF_ERROR(CheckKeys(
        ct, {"address", "port", "rp_id", "idle_lock_seconds", "web_dir", "refusal_sample_seconds",
             "login_attempts_per_minute"},
        "console."));
    c.console.present = true;
    for (auto [key, target] : {std::pair{"address", &c.console.address},
                               std::pair{"rp_id", &c.console.rp_id},
                               std::pair{"web_dir", &c.console.web_dir}}) {
      if (auto n = ct[key]) {
        if (!n.is_string() || n.value<std::string>()->empty() ||
            n.value<std::string>()->size() > 4096) {
          return Status::InvalidArgument(std::string("config: console.") + key +
                                         " must be a string");
        }
        *target = *n.value<std::string>();
      }
    }
    if (!c.console.web_dir.empty()) c.console.web_dir = Resolve(data_dir, c.console.web_dir);
    for (auto [key, target, lo, hi] : {std::tuple{"port", &c.console.port, 0, 65535},
                                       std::tuple{"idle_lock_seconds",
                                                  &c.console.idle_lock_seconds, 1, 300},
                                       std::tuple{"refusal_sample_seconds",
                                                  &c.console.refusal_sample_seconds, 1, 3600},
                                       std::tuple{"login_attempts_per_minute",
                                                  &c.console.login_attempts_per_minute, 1, 600}}) {
      if (auto n = ct[key]) {
        if (!n.is_integer() || *n.value<int64_t>() < lo || *n.value<int64_t>() > hi) {
          return Status::InvalidArgument(std::string("config: console.") + key +
                                         " must be an integer " + std::to_string(lo) + ".." +
                                         std::to_string(hi));
        }
        *target = static_cast<int>(*n.value<int64_t>());
      }
    }
    if (!c.server.present && !t["server"]) {
      return Status::InvalidArgument("config: [console] needs [server] (its certificate)");
    }
  }
  if (auto srv = t["server"]) {
    if (!srv.is_table()) return Status::InvalidArgument("config: [server] must be a table");
    KAKUNIN_RETURN_IF_ERROR(ParseServer(*srv.as_table(), data_dir, &c.server));
  }
  if (auto q = t["quotas"]) {
    if (!q.is_table()) return Status::InvalidArgument("config: [quotas] must be a table");
    KAKUNIN_RETURN_IF_ERROR(ParseQuotas(*q.as_table(), &c.quotas));
  }
  if (auto h = t["hsm"]) {
    if (!h.is_table()) return Status::InvalidArgument("config: [hsm] must be a table");
    KAKUNIN_RETURN_IF_ERROR(ParseHsmConfig(*h.as_table(), data_dir, &c));
  }
  return c;
}

Result<NodeConfig> LoadNodeConfig(const std::string& data_dir) {
  std::string path = data_dir + "/kakunin.toml";
  // Bounded, and never a FIFO or a directory (found in review: a directory threw from the
  // stream, a FIFO blocked for ever).
  auto text = ReadFileAtMost(path, kMaxNodeConfigBytes);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("no node configuration at " + path + " (run kakunin init)");
    }
    return Status::InvalidArgument("config: " + text.status().message());
  }
  return ParseNodeConfig(*text, data_dir);
}

namespace {
// A TOML basic string: quotes, backslashes and control characters escaped (a path may hold any
// of them; the file must parse back to the same value).
std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(ch));
    } else if (ch < 0x20 || ch == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", ch);
      out += buf;
    } else {
      out.push_back(static_cast<char>(ch));
    }
  }
  return out + "\"";
}

void RenderQuotaLimits(const QuotaOverride& o, std::ostringstream& out) {
  for (auto [key, value] : {std::pair{"requests_per_minute", o.requests_per_minute},
                            std::pair{"residents_per_minute", o.residents_per_minute},
                            std::pair{"requests_per_day", o.requests_per_day},
                            std::pair{"residents_per_day", o.residents_per_day}}) {
    if (value) out << key << " = " << *value << "\n";
  }
}
}  // namespace

std::string RenderNodeConfig(const NodeConfig& c) {
  std::ostringstream o;
  o << "# Kakunin node configuration (written by kakunin init).\n"
    << "role = \"" << (c.role == NodeRole::kPrefecture ? "prefecture" : "national") << "\"\n";
  if (c.prefecture != 0) o << "prefecture = " << c.prefecture << "\n";
  if (c.database_kind != "postgresql") o << "database = \"registry.db\"\n";
  o << "# The key file encrypts individual numbers; keep it (and its backup) apart from the\n"
    << "# database's backups.\n"
    << "key_file = " << TomlString(c.key_file) << "\n"
    << "# Signs the operation log's checkpoints; its public half is audit.key.pub.\n"
    << "signing_key = " << TomlString(c.signing_key.empty() ? "audit.key" : c.signing_key)
    << "\n";
  if (!c.purposes_file.empty()) {
    o << "# The purpose catalogue (利用事由): what may be read, by whom, with which fields.\n"
      << "purposes = " << TomlString(c.purposes_file) << "\n";
  }
  if (c.database_kind == "postgresql") {
    o << "\n[database]\n"
      << "# The registry on PostgreSQL (docs/postgresql.md).\n"
      << "kind = \"postgresql\"\n"
      << "url = " << TomlString(c.database_url) << "\n";
  }
  o << "\n"
    << "[retention]\n"
    << "# 住民基本台帳法施行令: superseded versions are kept 150 years after the next\n"
    << "# notification for the person, removed residents 150 years after the removal.\n"
    << "superseded_years = " << c.superseded_retention_years << "\n"
    << "removed_years = " << c.removed_retention_years << "\n"
    << "# The operation log and the provision records: 7 years.\n"
    << "audit_years = " << c.audit_retention_years << "\n\n";
  if (c.audit_map_every_checkpoint) {
    o << "[audit]\n"
      << "# Every periodic checkpoint signs the resident map (about 4x the append's CPU).\n"
      << "map_every_checkpoint = true\n\n";
  }
  if (c.disclosure_due_days != registry::kDefaultDisclosureDueDays) {
    o << "[disclosure]\n"
      << "# Days from a disclosure request's arrival to the day its decision is due.\n"
      << "due_days = " << c.disclosure_due_days << "\n\n";
  }
  if (!c.operators_require_training) {
    o << "[operators]\n"
      << "# Nominations without this fiscal year's operator training (not the operating rules).\n"
      << "require_training = false\n\n";
  }
  o
    << "[checks]\n"
    << "resident_code_check = \""
    << (c.resident_code_check == ResidentCodeCheck::kFull ? "full" : "format") << "\"\n";
  if (c.server.present) {
    const ServerConfig& s = c.server;
    o << "\n[server]\n"
      << "# kakunin serve: HTTPS with mutual TLS (docs/api.md).\n"
      << "address = " << TomlString(s.address) << "\n"
      << "port = " << s.port << "\n"
      << "certificate = " << TomlString(s.certificate) << "\n"
      << "key = " << TomlString(s.key) << "\n"
      << "client_ca = " << TomlString(s.client_ca) << "\n";
    if (!s.crl.empty()) o << "crl = " << TomlString(s.crl) << "\n";
    o << "access_log = " << TomlString(s.access_log) << "\n"
      << "max_body_bytes = " << s.max_body_bytes << "\n"
      << "max_connections = " << s.max_connections << "\n"
      << "max_connections_per_address = " << s.max_connections_per_address << "\n"
      << "read_timeout_ms = " << s.read_timeout_ms << "\n"
      << "idle_timeout_ms = " << s.idle_timeout_ms << "\n"
      << "io_threads = " << s.io_threads << "\n"
      << "worker_threads = " << s.worker_threads << "\n";
  }
  if (c.console.present) {
    const ConsoleConfig& k = c.console;
    o << "\n[console]\n"
      << "# The operators' console (docs/operators.md): client certificate optional (IC card).\n"
      << "address = " << TomlString(k.address) << "\n"
      << "port = " << k.port << "\n"
      << "rp_id = " << TomlString(k.rp_id) << "\n"
      << "idle_lock_seconds = " << k.idle_lock_seconds << "\n";
    if (!k.web_dir.empty()) o << "web_dir = " << TomlString(k.web_dir) << "\n";
  }
  if (c.upstream.present) {
    const registry::UpstreamConfig& u = c.upstream;
    o << "\n[upstream]\n"
      << "# The link to the national node (README \"The link\").\n"
      << "url = " << TomlString(u.url) << "\n"
      << "ca_file = " << TomlString(u.ca_file) << "\n"
      << "cert_file = " << TomlString(u.cert_file) << "\n"
      << "key_file = " << TomlString(u.key_file) << "\n"
      << "batch_size = " << u.batch_size << "\n"
      << "retry_min_ms = " << u.retry_min_ms << "\n"
      << "retry_max_ms = " << u.retry_max_ms << "\n"
      << "timeout_ms = " << u.timeout_ms << "\n"
      << "poll_ms = " << u.poll_ms << "\n"
      << "delivered_retention_hours = " << u.delivered_retention_hours << "\n"
      << "ready_threshold_seconds = " << u.ready_threshold_seconds << "\n";
  }
  if (c.limits.present) {
    const registry::LimitsConfig& l = c.limits;
    o << "\n[limits]\n"
      << "# Memory and queue bounds (docs/import.md).\n"
      << "cache_mib = " << l.cache_mib << "\n"
      << "import_batch = " << l.import_batch << "\n"
      << "import_queue = " << l.import_queue << "\n"
      << "write_batch = " << l.write_batch << "\n";
  }
  if (c.quotas.present) {
    const QuotaConfig& q = c.quotas;
    o << "\n[quotas]\n"
      << "# Reads per caller and purpose (docs/quotas.md).\n"
      << "enabled = " << (q.enabled ? "true" : "false") << "\n"
      << "alert_interval_minutes = " << q.alert_interval_minutes << "\n";
    QuotaOverride all{q.defaults.requests_per_minute, q.defaults.residents_per_minute,
                      q.defaults.requests_per_day, q.defaults.residents_per_day};
    RenderQuotaLimits(all, o);
    if (q.operators != QuotaOverride{}) {
      o << "\n[quotas.operator]\n";
      RenderQuotaLimits(q.operators, o);
    }
    for (const auto& [id, limits] : q.purposes) {
      o << "\n[quotas.purpose." << TomlString(id) << "]\n";
      RenderQuotaLimits(limits, o);
    }
  }
  o << RenderHsmConfig(c);
  return o.str();
}

}  // namespace kakunin::app
