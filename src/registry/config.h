#pragma once

// The node's settings as plain data: what the registry's use cases and the servers are told.
// The file they come from (kakunin.toml, below) is parsed, checked and written by app/config.h;
// nothing here reads a file.
//
//   role = "prefecture"            # or "national"
//   prefecture = 19                # JIS X 0401; the node accepts only its municipalities
//   database = "registry.db"       # relative paths are relative to the data directory
//   key_file = "keys"              # the node's key file (kakunin init creates it, mode 0600)
//   signing_key = "audit.key"      # signs the operation log's checkpoints (+ audit.key.pub)
//   [retention]
//   superseded_years = 150         # 住民基本台帳法施行令: 150 years after the next notification
//   removed_years = 150            # ... and after the removal
//   audit_years = 7                # operation log and provision records
//   [checks]
//   resident_code_check = "full"   # or "format" (the 住民票コード formula is a stand-in)
//   purposes = "purposes.toml"     # the purpose catalogue (absent: the built-in 山梨県 sample)
//   [server]                       # `kakunin serve` (docs/api.md)
//   address = "127.0.0.1"
//   port = 8443
//   certificate = "tls/server.pem" # server certificate chain and key (PEM)
//   key = "tls/server.key"
//   client_ca = "tls/client-ca.pem"  # client certificates must chain to it
//   crl = "tls/client-ca.crl"      # optional: revoked client certificates
//   access_log = "-"               # JSON lines; "-" = standard error
//   max_body_bytes = 1048576, max_connections = 256, read_timeout_ms = 10000,
//   idle_timeout_ms = 30000, io_threads = 2, worker_threads = 16
//   [quotas]                       # reads per caller and purpose (docs/quotas.md)
//   requests_per_minute = 120, residents_per_minute = 600
//   requests_per_day = 10000, residents_per_day = 10000
//   [quotas.operator]              # operators on the console: overrides of the above
//   [quotas.purpose."board.school_aid"]  # one purpose: overrides of the above
//   residents_per_day = 50000
//   [upstream]                     # prefecture node: forward the outbox to the national node
//   url = "https://national.example:8443"
//   ca_file = "tls/national-ca.pem"  # verifies the national node's server certificate
//   cert_file = "tls/link.pem"     # this node's client certificate (a prefecture client there)
//   key_file = "tls/link.key"
//   batch_size = 500, retry_min_ms = 200, retry_max_ms = 30000, timeout_ms = 10000,
//   poll_ms = 200, delivered_retention_hours = 168, ready_threshold_seconds = 300
//   [limits]                       # memory and queue bounds (docs/import.md)
//   cache_mib = 64, import_batch = 50000, import_queue = 1, write_batch = 256

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "domain/identifiers.h"
#include "crypto/pkcs11.h"

namespace kakunin::registry {

enum class NodeRole { kPrefecture, kNational };

// How `kakunin serve` listens. Paths are absolute after loading.
struct ServerConfig {
  bool present = false;  // a [server] table was given
  std::string address = "127.0.0.1";
  int port = 8443;
  std::string certificate;
  std::string key;
  std::string client_ca;
  std::string crl;  // "" = no CRL
  std::string access_log = "-";
  int64_t max_body_bytes = 1 << 20;
  int max_connections = 256;
  int max_connections_per_address = 128;  // from one source address (one host cannot take all)
  int read_timeout_ms = 10000;
  int idle_timeout_ms = 30000;
  int io_threads = 2;  // TLS and HTTP parsing; one per core gave 14 % more lookups than one
  // Handlers block on SQLite and on the durable commit of their log entry; many workers let
  // concurrent reads share one commit (DESIGN §5).
  int worker_threads = 16;
};

// The operators' console (docs/operators.md): a second HTTPS listener, client certificate
// optional (an IC card), same server certificate as [server].
struct ConsoleConfig {
  bool present = false;
  std::string address = "127.0.0.1";
  int port = 8444;
  std::string rp_id = "localhost";  // WebAuthn relying party: the host name operators use
  int idle_lock_seconds = 300;      // at most 300
  std::string web_dir;              // the console's static files; "" = the built-in default
  int refusal_sample_seconds = 60;  // anonymous refusals: one log entry per address per this
  int login_attempts_per_minute = 30;  // password and enrolment steps per source address
};

// Read quotas (docs/quotas.md): how much one caller (a client certificate or an operator) may
// read for one purpose. Minutes are a sliding window, days are JST calendar days.
struct QuotaLimits {
  int64_t requests_per_minute = 120;
  int64_t residents_per_minute = 600;
  int64_t requests_per_day = 10000;
  int64_t residents_per_day = 10000;
  friend bool operator==(const QuotaLimits&, const QuotaLimits&) = default;
};

// Some of the limits, over others.
struct QuotaOverride {
  std::optional<int64_t> requests_per_minute;
  std::optional<int64_t> residents_per_minute;
  std::optional<int64_t> requests_per_day;
  std::optional<int64_t> residents_per_day;
  QuotaLimits Over(QuotaLimits base) const;
  friend bool operator==(const QuotaOverride&, const QuotaOverride&) = default;
};

struct QuotaConfig {
  bool present = false;  // a [quotas] table was given (rendered back only then)
  bool enabled = true;   // quotas apply even without a [quotas] table, with the defaults
  QuotaLimits defaults;
  QuotaOverride operators;                        // [quotas.operator]
  std::map<std::string, QuotaOverride> purposes;  // [quotas.purpose."<id>"]
  // At most one real-time alert per (rule, actor) in this many minutes.
  int alert_interval_minutes = 60;

  // The limits for a caller and purpose: defaults, then [quotas.operator] for an operator, then
  // the purpose's overrides.
  QuotaLimits LimitsFor(bool is_operator, const std::string& purpose) const;
};

// The link to the national node (src/link/, registry/national.h). Paths are absolute after
// loading.
struct UpstreamConfig {
  bool present = false;  // an [upstream] table was given: this node forwards its outbox
  std::string url;       // https://host[:port][/prefix]
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  int batch_size = 500;         // changes per request (at most 1000)
  int retry_min_ms = 200;       // first retry delay; doubles per failure, with jitter
  int retry_max_ms = 30000;     // the longest delay between retries
  int timeout_ms = 10000;       // connect, and each read or write
  int poll_ms = 200;            // how often an idle link looks for new changes
  int delivered_retention_hours = 168;  // delivered outbox rows are purged after this
  int ready_threshold_seconds = 300;    // /readyz fails when the link is down this long
};

// Memory and queue bounds (docs/import.md): what the node may hold at once.
struct LimitsConfig {
  bool present = false;       // a [limits] table was given (rendered back only then)
  int64_t cache_mib = 64;     // SQLite page cache per connection: the writer and each reader
  int64_t import_batch = 50000;  // kakunin import: records per transaction
  int64_t import_queue = 1;   // kakunin import: prepared batches waiting for the writer
  int64_t write_batch = 256;  // kakunin serve: jobs per group commit of the write queue
};

// Days from the day a disclosure request arrived to the day its decision is due ([disclosure]
// due_days). Hokkaido's practice is 14 days; a deployment sets its own rule.
inline constexpr int kDefaultDisclosureDueDays = 14;

struct NodeConfig {
  NodeRole role = NodeRole::kPrefecture;
  int prefecture = 0;  // 1..47; 0 for a national node
  std::string data_dir;
  std::string database_path;  // absolute after loading; the SQLite file
  // [database] (issue 13): "sqlite" (database_path, the default) or "postgresql" (database_url, a
  // libpq URL; a multi-host one with target_session_attrs=read-write follows a failover).
  std::string database_kind = "sqlite";
  std::string database_url;
  std::string key_file;       // absolute after loading
  std::string signing_key;    // the operation log's Ed25519 key; absolute after loading
  int superseded_retention_years = 150;
  int removed_retention_years = 150;
  int audit_retention_years = 7;  // operation log and provision records
  // [audit] map_every_checkpoint: every periodic checkpoint (each 1,000 entries or 60 s) signs
  // the resident map too, not only the sealing ones (audit::LogSettings; about 4x the append's
  // CPU in audit_bench). Off by default.
  bool audit_map_every_checkpoint = false;
  // [disclosure] due_days: a disclosure request's decision is due this many days after the day
  // it arrived (registry/disclosure.h; 1..90).
  int disclosure_due_days = kDefaultDisclosureDueDays;
  // [operators] require_training: an operator is nominated only after an operator training
  // (操作者研修) attended in the current fiscal year (registry/registers.h). On by default.
  bool operators_require_training = true;
  ResidentCodeCheck resident_code_check = ResidentCodeCheck::kFull;
  std::string purposes_file;  // absolute; "" = the built-in sample catalogue
  ServerConfig server;
  ConsoleConfig console;
  QuotaConfig quotas;
  UpstreamConfig upstream;
  LimitsConfig limits;
  // [hsm]: keys on a PKCS#11 token (docs/keys.md); unset: keys in files only.
  std::optional<crypto::HsmSettings> hsm;
};

// The lock a process serving a SQLite node holds (core/file.h LockFile): one serving process
// per database (quotas and alert thresholds are kept per process), and the commands that need
// the node stopped hold it while they run, so no serve starts under them. "" for PostgreSQL,
// whose nodes may share a database (docs/postgresql.md).
inline std::string ServeLockPath(const NodeConfig& config) {
  return config.database_kind == "postgresql" ? std::string() : config.database_path + ".serve-lock";
}

}  // namespace kakunin::registry
