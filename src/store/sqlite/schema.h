#pragma once

#include "store/retention_sql.h"

// Numbered migrations and named SQL for the SQLite registry store. Every statement binds
// its parameters; nothing is concatenated from input.

namespace kakunin::store::sqlite {

struct Migration {
  int version;
  const char* sql;
};

// In order; each runs once, in its own transaction, recorded in schema_migrations.
inline constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE applied (
  municipality_code TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  payload_mac BLOB NOT NULL,
  applied_at INTEGER NOT NULL,
  PRIMARY KEY (municipality_code, sequence)
) STRICT, WITHOUT ROWID;

CREATE TABLE residents (
  person_id INTEGER PRIMARY KEY,
  resident_code TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL CHECK (status IN ('active', 'removed')),
  municipality_code TEXT NOT NULL,
  version_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  name_kana TEXT,
  sex TEXT NOT NULL CHECK (sex IN ('male', 'female')),
  birth_date TEXT NOT NULL,
  address TEXT NOT NULL,
  number_mac BLOB NOT NULL,
  name_key TEXT NOT NULL,
  kana_key TEXT NOT NULL,
  address_key TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  removed_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX residents_number ON residents (number_mac);
CREATE INDEX residents_birth_kana ON residents (birth_date, kana_key);
CREATE INDEX residents_kana ON residents (kana_key);
CREATE INDEX residents_birth_name ON residents (birth_date, name_key);
CREATE INDEX residents_name ON residents (name_key);
CREATE INDEX residents_address ON residents (address_key);
CREATE INDEX residents_removed ON residents (removed_at) WHERE status = 'removed';

CREATE TABLE versions (
  version_id INTEGER PRIMARY KEY,
  person_id INTEGER NOT NULL REFERENCES residents (person_id),
  municipality_code TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  kind TEXT NOT NULL,
  reason TEXT NOT NULL,
  change_date TEXT NOT NULL,
  resident_code TEXT NOT NULL,
  sealed_number BLOB NOT NULL,
  name TEXT NOT NULL,
  name_kana TEXT,
  former_surname TEXT,
  alias TEXT,
  sex TEXT NOT NULL,
  birth_date TEXT NOT NULL,
  address TEXT NOT NULL,
  new_resident_code TEXT,
  applied_at INTEGER NOT NULL,
  superseded_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX versions_person ON versions (person_id, version_id);
CREATE INDEX versions_superseded ON versions (superseded_at) WHERE superseded_at > 0;

-- Move-outs still expected: a 転入 at B that reached us before A's 転出 superseded A's
-- registration; A's 転出 is then recorded in history only, whatever happened since.
CREATE TABLE expected_moveouts (
  person_id INTEGER NOT NULL REFERENCES residents (person_id),
  municipality_code TEXT NOT NULL,
  PRIMARY KEY (person_id, municipality_code)
) STRICT, WITHOUT ROWID;

CREATE TABLE code_changes (
  old_code TEXT PRIMARY KEY,
  new_code TEXT NOT NULL,
  person_id INTEGER NOT NULL REFERENCES residents (person_id),
  changed_at INTEGER NOT NULL
) STRICT;
CREATE INDEX code_changes_person ON code_changes (person_id);

-- Changes to forward to the national node, in order. The payload is the version row itself
-- (it holds every field of the notification), so nothing personal is stored twice.
CREATE TABLE outbox (
  outbox_id INTEGER PRIMARY KEY AUTOINCREMENT,
  version_id INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER
) STRICT;
CREATE INDEX outbox_pending ON outbox (outbox_id) WHERE delivered_at IS NULL;
)sql"},
    {2, R"sql(
-- The operation log (操作履歴): one row per entry, in sequence order from 0. `payload` is the
-- entry's canonical encoding (audit/entry.h) and `leaf_hash` its RFC 9162 leaf hash; after the
-- retention period the payload (and the searchable copies beside it) are erased and the leaf
-- hash stays, so every proof remains valid.
CREATE TABLE audit_entries (
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  purpose TEXT NOT NULL,
  payload BLOB,
  leaf_hash BLOB NOT NULL
) STRICT;
CREATE INDEX audit_entries_time ON audit_entries (time);
CREATE INDEX audit_entries_actor ON audit_entries (actor, time);

CREATE TABLE audit_targets (
  resident_code TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (resident_code, seq)
) STRICT, WITHOUT ROWID;

-- Hashes of every complete perfect subtree above the leaves: (level, idx) covers leaves
-- [idx * 2^level, (idx + 1) * 2^level); level 0 is audit_entries.leaf_hash. Proofs read
-- O(log n) of them.
CREATE TABLE audit_nodes (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

-- Signed checkpoints (tree size, root, time; Ed25519 over audit/checkpoint.h's text).
CREATE TABLE audit_checkpoints (
  tree_size INTEGER PRIMARY KEY,
  root BLOB NOT NULL,
  time INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  signature BLOB NOT NULL
) STRICT;

-- 提供・移転の記録: every record provided or transferred, kept 7 years, per resident.
CREATE TABLE provisions (
  id INTEGER PRIMARY KEY,
  resident_code TEXT NOT NULL,
  provided_at INTEGER NOT NULL,
  function TEXT NOT NULL,
  purpose TEXT NOT NULL,
  provision_kind TEXT NOT NULL,
  number_provided INTEGER NOT NULL,
  source TEXT NOT NULL,
  recipient TEXT NOT NULL,
  items TEXT NOT NULL,
  audit_seq INTEGER NOT NULL
) STRICT;
CREATE INDEX provisions_resident ON provisions (resident_code, provided_at);
CREATE INDEX provisions_time ON provisions (provided_at);
CREATE INDEX provisions_entry ON provisions (audit_seq);
CREATE INDEX audit_targets_seq ON audit_targets (seq);
)sql"},
    {3, R"sql(
-- The client register: which system a verified TLS client certificate belongs to, identified by
-- the SHA-256 of its SubjectPublicKeyInfo (never by its CN). A row is never deleted: revoking
-- sets revoked_at, so the operation log's "cert:<spki>" actors stay explainable.
CREATE TABLE clients (
  spki_sha256 TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('municipal_cs', 'agency', 'national')),
  name TEXT NOT NULL,
  municipality_code TEXT NOT NULL,
  recipient TEXT NOT NULL,
  purposes TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0
) STRICT;
)sql"},
    {4, R"sql(
-- The operator register (操作者一覧表): named people, their roles, nominations and credentials.
-- Rows are never deleted: a retired operator stays explainable in the operation log.
CREATE TABLE operators (
  operator_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  unit TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'retired')),
  password_hash TEXT NOT NULL,
  failed_logins INTEGER NOT NULL,
  locked_until INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
) STRICT;
CREATE TABLE operator_roles (
  operator_id TEXT NOT NULL,
  role TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  approved_by TEXT NOT NULL,
  PRIMARY KEY (operator_id, role)
) STRICT, WITHOUT ROWID;
CREATE TABLE role_requests (
  request_id INTEGER PRIMARY KEY,
  operator_id TEXT NOT NULL,
  role TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  approved_by TEXT NOT NULL,
  approved_at INTEGER NOT NULL
) STRICT;
CREATE TABLE nominations (
  id INTEGER PRIMARY KEY,
  operator_id TEXT NOT NULL,
  purpose TEXT NOT NULL,
  valid_from TEXT NOT NULL,
  valid_to TEXT NOT NULL,
  nominated_by TEXT NOT NULL,
  nominated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX nominations_operator ON nominations (operator_id);
-- WebAuthn credentials (credential id, COSE alg, raw public key, sign count) and IC cards
-- (kind certificate: credential_id is the certificate's SPKI SHA-256 in hex).
CREATE TABLE operator_credentials (
  credential_id BLOB PRIMARY KEY,
  operator_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('webauthn', 'certificate')),
  alg INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  sign_count INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX operator_credentials_operator ON operator_credentials (operator_id);
-- One-time enrolment links: only the SHA-256 of the token is kept.
CREATE TABLE enrolments (
  token_hash BLOB PRIMARY KEY,
  operator_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER NOT NULL
) STRICT;
)sql"},
    {5, R"sql(
-- The 外字 register: what a municipality means by a Private Use Area code point (its MJ
-- character code, or an image), keyed by sender since each uses the PUA its own way. No
-- personal data here: only code points and senders.
CREATE TABLE gaiji (
  municipality_code TEXT NOT NULL,
  code_point INTEGER NOT NULL,
  mj_code TEXT NOT NULL,
  image_png BLOB NOT NULL,
  description TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  registered_by TEXT NOT NULL,
  PRIMARY KEY (municipality_code, code_point)
) STRICT;
-- PUA code points seen in applied notifications and not registered for their sender.
CREATE TABLE gaiji_pending (
  municipality_code TEXT NOT NULL,
  code_point INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (municipality_code, code_point)
) STRICT, WITHOUT ROWID;
)sql"},
    {6, R"sql(
-- The media register (the operating rules' 第2 3): every backup written, where, by whom, with
-- the digest of its signed manifest. No personal data.
CREATE TABLE media (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  label TEXT NOT NULL,
  location TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  status TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  digest TEXT NOT NULL
) STRICT;
)sql"},
    {7, R"sql(
-- The link to the national node (src/link/, registry/national.h). A client of kind
-- 'prefecture' is a prefecture node sending to the national node; its municipality_code holds
-- its two-digit prefecture code. A CHECK cannot be altered in SQLite: the table is rebuilt.
CREATE TABLE clients_v7 (
  spki_sha256 TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('municipal_cs', 'agency', 'national', 'prefecture')),
  name TEXT NOT NULL,
  municipality_code TEXT NOT NULL,
  recipient TEXT NOT NULL,
  purposes TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO clients_v7 SELECT spki_sha256, kind, name, municipality_code, recipient, purposes,
  registered_at, revoked_at FROM clients;
DROP TABLE clients;
ALTER TABLE clients_v7 RENAME TO clients;
-- National node: the last forwarded change applied from each prefecture (its outbox id),
-- advanced in the transaction that applies the change.
CREATE TABLE link_received (
  prefecture INTEGER PRIMARY KEY,
  last_sequence INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
-- Prefecture node: delivered rows are purged after a retention period.
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;
)sql"},
    {8, R"sql(
-- The operation log, second edition (audit/entry.h version 2). `targets` holds a version-2
-- entry's target leaves (audit/targets.h: keyed MACs, never codes), whose Merkle root the entry
-- commits to; NULL for version-1 entries and once retention erased the payload. A checkpoint
-- with an `origin` is a C2SP tlog-checkpoint note (audit/checkpoint.h), `map_root` the root of
-- the per-resident map it signs (NULL if none).
ALTER TABLE audit_entries ADD COLUMN targets BLOB;
ALTER TABLE audit_checkpoints ADD COLUMN origin TEXT;
ALTER TABLE audit_checkpoints ADD COLUMN map_root BLOB;
-- The resident map (audit/resident_map.h): per resident key (the keyed MAC of the code, never
-- the code) how many version-2 entries name them and the hash chain over those entries; and
-- the stored non-empty nodes of the sparse Merkle map over them, keyed by depth and key prefix.
CREATE TABLE audit_resident_heads (
  key BLOB PRIMARY KEY,
  count INTEGER NOT NULL,
  head BLOB NOT NULL,
  last_seq INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX audit_resident_heads_seq ON audit_resident_heads (last_seq);
CREATE TABLE audit_map_nodes (
  depth INTEGER NOT NULL,
  prefix BLOB NOT NULL,
  hash BLOB NOT NULL,
  leaf_key BLOB,
  PRIMARY KEY (depth, prefix)
) STRICT, WITHOUT ROWID;
)sql"},
    {9, R"sql(
-- Every access statement carries the log's signing-key announcements (audit/statement.h); a
-- partial index finds them without scanning the whole log (1.5-2.5 s at 10 M entries). It
-- holds only those few entries, so an append of any other entry does not touch it. Retention
-- blanks an erased entry's action, which drops it from the index.
CREATE INDEX audit_entries_key_announcements ON audit_entries (seq)
  WHERE action = 'key.signing.rotate';
)sql"},
    {10, R"sql(
-- National node: a keyed MAC of every change applied from a prefecture, by its sequence, so a
-- resend (the same change) is told from a reused sequence (another change under a number
-- already applied: a prefecture node restored from an older backup), which is refused instead
-- of acknowledged and lost (registry/national.h). The MAC (HMAC under the node's hmac key)
-- reveals nothing of the resident.
CREATE TABLE link_received_changes (
  prefecture INTEGER NOT NULL,
  sequence INTEGER NOT NULL,
  change_mac BLOB NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (prefecture, sequence)
) STRICT, WITHOUT ROWID;
-- Any change of a client row (a revocation, also one made with SQL behind the node's back)
-- bumps the register's generation, so every running node's ClientCache reads the register
-- again at the next request (registry/client_cache.h). Registration (INSERT) bumps it in the
-- Gateway: a client not in a cache is read every time anyway, and a copy (migrate-store)
-- inserts rows without touching meta.
CREATE TRIGGER clients_changed_by_update AFTER UPDATE ON clients BEGIN
  INSERT INTO meta (key, value) VALUES ('clients_generation', '1')
    ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT);
END;
CREATE TRIGGER clients_changed_by_delete AFTER DELETE ON clients BEGIN
  INSERT INTO meta (key, value) VALUES ('clients_generation', '1')
    ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT);
END;
)sql"},
    {11, R"sql(
-- Residents' rights (store/disclosure_store.h, docs/disclosure.md). The disclosure requests
-- (開示請求) the prefecture received: one row per written request, from registration to the
-- decision its first printed notice records. A row holds a resident code: personal data, erased
-- after the retention period with its corrections (EraseDisclosuresBefore, by registered_at).
-- Ids are never handed out again (AUTOINCREMENT): retention erases old rows, and printouts and
-- log entries name requests by number.
CREATE TABLE disclosures (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  purpose TEXT NOT NULL,
  resident_code TEXT NOT NULL,
  requester TEXT NOT NULL CHECK (requester IN ('self', 'legal_representative')),
  identity_document TEXT NOT NULL CHECK (identity_document IN
    ('individual_number_card', 'driver_license', 'passport', 'two_documents')),
  channel TEXT NOT NULL CHECK (channel IN ('counter', 'post', 'online')),
  received_on TEXT NOT NULL,
  due_on TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  registered_by TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('received', 'disclosed', 'no_record')),
  decided_at INTEGER NOT NULL DEFAULT 0,
  decided_by TEXT NOT NULL DEFAULT '',
  documents INTEGER NOT NULL DEFAULT 0,
  -- The access statement the latest notice printed the digest of (JSON; residents by keyed MAC
  -- only, nothing in clear); '' before the first notice.
  statement TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX disclosures_registered ON disclosures (registered_at);
-- The correction requests (訂正等の申出) that followed a disclosure, each sent to a
-- municipality, which answers it. A row holds a resident code and what the resident says is
-- wrong, sealed (FieldCipher): personal data, never logged.
CREATE TABLE corrections (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  disclosure_id INTEGER NOT NULL REFERENCES disclosures (id),
  resident_code TEXT NOT NULL,
  municipality_code TEXT NOT NULL,
  fields TEXT NOT NULL,
  details_sealed BLOB NOT NULL,
  received_at INTEGER NOT NULL,
  received_by TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'answered')),
  answered_at INTEGER NOT NULL DEFAULT 0,
  answered_by TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL DEFAULT '' CHECK (outcome IN ('', 'corrected', 'not_corrected'))
) STRICT;
CREATE INDEX corrections_open ON corrections (municipality_code, status, id);
CREATE INDEX corrections_disclosure ON corrections (disclosure_id);
-- The printout register (帳票の管理簿, the operating rules' 第3 2(4)): every document the node
-- printed, by kind, reference, time, operator, pages and digest. No personal data.
CREATE TABLE printouts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  reference TEXT NOT NULL,
  printed_at INTEGER NOT NULL,
  printed_by TEXT NOT NULL,
  pages INTEGER NOT NULL,
  sha256 TEXT NOT NULL
) STRICT;
CREATE INDEX printouts_printed ON printouts (printed_at);
)sql"},
    {12, R"sql(
-- The registers the operating rules require of the staff (store/register_store.h,
-- docs/operators.md): training sessions with their attendees (研修の記録), contracts with their
-- workers (委託先と委託作業者の名簿), self-inspections, audits and log reviews (点検・監査の記録).
-- Operator ids and company names, no resident's data. Kept: nothing here is updated or erased,
-- and ids (cited in the log and on paper) are never handed out again (AUTOINCREMENT).
CREATE TABLE trainings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  held_on TEXT NOT NULL CHECK (held_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  kind TEXT NOT NULL CHECK (kind IN ('operator', 'manager')),
  title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  recorded_at INTEGER NOT NULL,
  recorded_by TEXT NOT NULL
) STRICT;
CREATE INDEX trainings_held ON trainings (held_on, id);
CREATE TABLE training_attendees (
  training_id INTEGER NOT NULL REFERENCES trainings (id),
  operator_id TEXT NOT NULL REFERENCES operators (operator_id),
  PRIMARY KEY (training_id, operator_id)
) STRICT, WITHOUT ROWID;
-- The nomination rule's question: did this operator attend an operator training this year?
CREATE INDEX training_attendees_operator ON training_attendees (operator_id, training_id);
CREATE TABLE contracts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  company TEXT NOT NULL CHECK (length(company) BETWEEN 1 AND 200),
  work TEXT NOT NULL CHECK (length(work) BETWEEN 1 AND 500),
  valid_from TEXT NOT NULL CHECK (valid_from GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  valid_to TEXT NOT NULL CHECK (valid_to GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  subcontracting TEXT NOT NULL CHECK (subcontracting IN ('prohibited', 'approved')),
  approved_on TEXT NOT NULL DEFAULT '',
  pledge_received_on TEXT NOT NULL DEFAULT '',
  recorded_at INTEGER NOT NULL,
  recorded_by TEXT NOT NULL,
  CHECK (valid_from <= valid_to),
  -- 再委託 only with the prior written approval, whose date is kept.
  CHECK ((subcontracting = 'approved') = (approved_on <> ''))
) STRICT;
CREATE TABLE contract_workers (
  contract_id INTEGER NOT NULL REFERENCES contracts (id),
  operator_id TEXT NOT NULL REFERENCES operators (operator_id),
  added_at INTEGER NOT NULL,
  added_by TEXT NOT NULL,
  PRIMARY KEY (contract_id, operator_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX contract_workers_operator ON contract_workers (operator_id, contract_id);
CREATE TABLE reviews (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('self_inspection', 'audit', 'log_review')),
  period_from TEXT NOT NULL,
  period_to TEXT NOT NULL,
  conducted_on TEXT NOT NULL,
  result TEXT NOT NULL CHECK (result IN ('no_findings', 'findings')),
  summary TEXT NOT NULL CHECK (length(summary) BETWEEN 1 AND 2000),
  recorded_at INTEGER NOT NULL,
  recorded_by TEXT NOT NULL,
  CHECK (period_from <= period_to AND period_to <= conducted_on)
) STRICT;
CREATE INDEX reviews_conducted ON reviews (conducted_on, id);
)sql"},
    {13, R"sql(
-- What became of each medium of the media register once written (媒体の持出し・返却・廃棄;
-- store/media_store.h, docs/backup.md). Staff's short notes, no resident's data. Kept: never
-- updated or erased, ids never handed out again.
CREATE TABLE media_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  media_id INTEGER NOT NULL REFERENCES media (id),
  at INTEGER NOT NULL,
  event TEXT NOT NULL CHECK (event IN ('taken_out', 'returned', 'disposed')),
  note TEXT NOT NULL CHECK (length(note) BETWEEN 1 AND 500),
  recorded_by TEXT NOT NULL
) STRICT;
CREATE INDEX media_events_medium ON media_events (media_id, id);
)sql"},
    {14, R"sql(
-- 支援措置 (DV等支援措置): the measure the municipality holding a person's record set for them
-- (store/resident_store.h SupportMeasureRow): the current one, or the last (ended or lapsed),
-- kept for the review. One per person; erased with the person's record, carried over when two
-- persons are merged.
CREATE TABLE support_measures (
  person_id INTEGER PRIMARY KEY,
  since TEXT NOT NULL CHECK (since GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  valid_until TEXT NOT NULL
    CHECK (valid_until GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  ended_at INTEGER NOT NULL,
  municipality_code TEXT NOT NULL,
  set_at INTEGER NOT NULL,
  set_by TEXT NOT NULL
) STRICT;
)sql"},
    {15, R"sql(
-- A support measure's change travels the link to the national node in order with the records
-- (store/link_store.h OutboxRow): the municipality that set or ended it, and the measure's last
-- day (NULL: ended). NULL municipality: the row forwards its version, as before. Nothing is
-- queued here: the measures in force are queued once the national node says it applies them
-- (registry/national.h LinkOutbox::AcceptMeasures).
ALTER TABLE outbox ADD COLUMN measure_municipality TEXT
  CHECK (measure_municipality IS NULL OR measure_municipality GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]');
ALTER TABLE outbox ADD COLUMN measure_until TEXT
  CHECK (measure_until IS NULL OR measure_until GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]');
)sql"},
    {16, R"sql(
-- Taking rights back (docs/operators.md): a nomination ended before its last day, a role
-- withdrawn, a lost card or authenticator revoked. Rows stay, marked, for the register's history.
ALTER TABLE nominations ADD COLUMN ended_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nominations ADD COLUMN ended_by TEXT NOT NULL DEFAULT '';
ALTER TABLE operator_roles ADD COLUMN withdrawn_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE operator_roles ADD COLUMN withdrawn_by TEXT NOT NULL DEFAULT '';
ALTER TABLE operator_credentials ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE operator_credentials ADD COLUMN revoked_by TEXT NOT NULL DEFAULT '';
)sql"},
    {17, R"sql(
-- An IC card an access manager binds is in force only once its holder, signed in with their own
-- authenticator, presents it and confirms it (docs/operators.md): an access manager cannot make
-- their own card a second factor of someone else's account. Cards bound before this rule wait
-- for their holders' confirmation too (a card bound by a dishonest access manager before the
-- upgrade would otherwise stay a second factor: found in review); authenticators are confirmed.
ALTER TABLE operator_credentials ADD COLUMN confirmed_at INTEGER NOT NULL DEFAULT 0;
UPDATE operator_credentials SET confirmed_at = created_at WHERE kind = 'webauthn';
-- Who issued an enrolment link (operator id; "host" for kakunin operator bootstrap), for the
-- register.
ALTER TABLE enrolments ADD COLUMN issued_by TEXT NOT NULL DEFAULT '';
-- A role request a security chief turned down: decided, never approved later.
ALTER TABLE role_requests ADD COLUMN rejected_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE role_requests ADD COLUMN rejected_by TEXT NOT NULL DEFAULT '';
-- One row per grant: a role granted again after its withdrawal gets a row of its own, and the
-- earlier grant and its withdrawal stay in the register. At most one held (not withdrawn) row per
-- operator and role.
CREATE TABLE operator_role_grants (
  grant_id INTEGER PRIMARY KEY,
  operator_id TEXT NOT NULL,
  role TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  approved_by TEXT NOT NULL,
  withdrawn_at INTEGER NOT NULL DEFAULT 0,
  withdrawn_by TEXT NOT NULL DEFAULT ''
) STRICT;
INSERT INTO operator_role_grants (operator_id, role, granted_at, approved_by, withdrawn_at,
                                  withdrawn_by)
  SELECT operator_id, role, granted_at, approved_by, withdrawn_at, withdrawn_by
  FROM operator_roles ORDER BY granted_at, operator_id, role;
DROP TABLE operator_roles;
ALTER TABLE operator_role_grants RENAME TO operator_roles;
CREATE UNIQUE INDEX operator_roles_held ON operator_roles (operator_id, role)
  WHERE withdrawn_at = 0;
)sql"},
    {18, R"sql(
-- The contractor register keeps up with the contract (docs/operators.md): a worker taken off a
-- contract's roster (委託作業者の名簿) and a contract ended before its last day (解除). Rows stay,
-- marked, for the register's history: a removed worker is not listed under that contract again,
-- and a contract is ended once.
ALTER TABLE contract_workers ADD COLUMN removed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contract_workers ADD COLUMN removed_by TEXT NOT NULL DEFAULT '';
-- The contract's last day in force after it was ended ('' : not ended, in force to valid_to).
ALTER TABLE contracts ADD COLUMN ended_on TEXT NOT NULL DEFAULT ''
  CHECK (ended_on = '' OR ended_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]');
ALTER TABLE contracts ADD COLUMN ended_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contracts ADD COLUMN ended_by TEXT NOT NULL DEFAULT '';
)sql"},
    {19, R"sql(
-- A disclosure request can end without a notice (docs/disclosure.md, "Closing a request"): the
-- requester withdrew it (取下げ), it was rejected (却下: identity not confirmed, a requester who is
-- neither the person nor their legal representative, a request left incomplete) or the desk
-- registered it in error. status stays 'received' and documents 0: closed_as says how it ended,
-- decided_at and decided_by when and by whom. A closed request gets no notice.
ALTER TABLE disclosures ADD COLUMN closed_as TEXT NOT NULL DEFAULT ''
  CHECK (closed_as IN ('', 'withdrawn', 'rejected', 'entered_in_error'));
ALTER TABLE disclosures ADD COLUMN close_reason TEXT NOT NULL DEFAULT ''
  CHECK (close_reason IN ('', 'identity_not_confirmed', 'not_entitled', 'incomplete'));
)sql"},
    {20, R"sql(
-- The printout register says what became of each document (交付・廃棄, docs/disclosure.md "The
-- printout register"): handed over at the counter, mailed, or destroyed (shredded or dissolved:
-- a spoiled print, a notice never collected), on which day, recorded when and by whom. Once.
ALTER TABLE printouts ADD COLUMN outcome TEXT NOT NULL DEFAULT ''
  CHECK (outcome IN ('', 'handed_over', 'mailed', 'destroyed'));
ALTER TABLE printouts ADD COLUMN outcome_method TEXT NOT NULL DEFAULT ''
  CHECK ((outcome = 'destroyed') = (outcome_method IN ('shredded', 'dissolved'))
         AND (outcome = 'destroyed' OR outcome_method = ''));
ALTER TABLE printouts ADD COLUMN outcome_on TEXT NOT NULL DEFAULT ''
  CHECK ((outcome = '') = (outcome_on = '') AND
         (outcome_on = '' OR outcome_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'));
ALTER TABLE printouts ADD COLUMN outcome_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE printouts ADD COLUMN outcome_by TEXT NOT NULL DEFAULT '';
)sql"},
    {21, R"sql(
-- The written result of a correction request to the resident (訂正等の申出に係る調査結果通知書,
-- docs/disclosure.md): when the first was printed and by whom. Only for an answered one.
ALTER TABLE corrections ADD COLUMN notified_at INTEGER NOT NULL DEFAULT 0
  CHECK (notified_at = 0 OR status = 'answered');
ALTER TABLE corrections ADD COLUMN notified_by TEXT NOT NULL DEFAULT '';
-- One request per person awaits its decision (DisclosureDesk::Receive): found by code.
CREATE INDEX disclosures_resident ON disclosures (resident_code);
)sql"},
};

// --- media register ---
inline constexpr char kInsertMedia[] =
    "INSERT INTO media (kind, label, location, created_at, created_by, status, bytes, digest) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
inline constexpr char kFinishMedia[] =
    "UPDATE media SET status = ?2, bytes = ?3, digest = ?4 WHERE id = ?1";
inline constexpr char kListMedia[] =
    "SELECT id, kind, label, location, created_at, created_by, status, bytes, digest FROM media "
    "ORDER BY id";
inline constexpr char kListMediaEvents[] =
    "SELECT id, media_id, at, event, note, recorded_by FROM media_events ORDER BY id";
inline constexpr char kGetMediumState[] =
    "SELECT status, coalesce((SELECT event FROM media_events WHERE media_id = ?1 "
    "ORDER BY id DESC LIMIT 1), '') FROM media WHERE id = ?1";
inline constexpr char kInsertMediaEvent[] =
    "INSERT INTO media_events (media_id, at, event, note, recorded_by) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";

// --- residents' requests and the printout register (disclosures.cc) ---
#define KAKUNIN_DISCLOSURE_COLUMNS                                                          \
  "id, purpose, resident_code, requester, identity_document, channel, received_on, due_on, " \
  "registered_at, registered_by, status, decided_at, decided_by, documents, closed_as, "      \
  "close_reason"
#define KAKUNIN_CORRECTION_COLUMNS                                                        \
  "id, disclosure_id, resident_code, municipality_code, fields, details_sealed, "         \
  "received_at, received_by, status, answered_at, answered_by, outcome, notified_at, "         \
  "notified_by"
#define KAKUNIN_PRINTOUT_COLUMNS                                                       \
  "id, kind, reference, printed_at, printed_by, pages, sha256, outcome, outcome_method, " \
  "outcome_on, outcome_at, outcome_by"
inline constexpr char kInsertDisclosure[] =
    "INSERT INTO disclosures (purpose, resident_code, requester, identity_document, channel, "
    "received_on, due_on, registered_at, registered_by, status, decided_at, decided_by, "
    "documents) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
// One statement: every right-hand side reads the row as it was, so only the first document
// (documents still 0) sets the decision.
inline constexpr char kRecordDisclosureDocument[] =
    "UPDATE disclosures SET "
    "status = CASE WHEN documents = 0 THEN ?2 ELSE status END, "
    "decided_at = CASE WHEN documents = 0 THEN ?3 ELSE decided_at END, "
    "decided_by = CASE WHEN documents = 0 THEN ?4 ELSE decided_by END, "
    "documents = documents + 1, statement = ?5 WHERE id = ?1 AND closed_as = ''";
// Closing a request without a notice: only one still awaiting its decision.
inline constexpr char kCloseDisclosure[] =
    "UPDATE disclosures SET closed_as = ?2, close_reason = ?3, decided_at = ?4, "
    "decided_by = ?5 WHERE id = ?1 AND status = 'received' AND documents = 0 "
    "AND closed_as = ''";
inline constexpr char kOpenDisclosureOf[] =
    "SELECT coalesce(min(id), 0) FROM disclosures WHERE resident_code = ?1 "
    "AND status = 'received' AND closed_as = ''";
inline constexpr char kOpenCorrectionOf[] =
    "SELECT coalesce(min(id), 0) FROM corrections WHERE disclosure_id = ?1 AND status = 'open'";
inline constexpr char kDisclosureExists[] = "SELECT count(*) FROM disclosures WHERE id = ?1";
inline constexpr char kDisclosureStatement[] = "SELECT statement FROM disclosures WHERE id = ?1";
inline constexpr char kFindDisclosure[] =
    "SELECT " KAKUNIN_DISCLOSURE_COLUMNS " FROM disclosures WHERE id = ?1";
inline constexpr char kListDisclosures[] =
    "SELECT " KAKUNIN_DISCLOSURE_COLUMNS " FROM disclosures ORDER BY id DESC LIMIT ?1";
inline constexpr char kInsertCorrection[] =
    "INSERT INTO corrections (disclosure_id, resident_code, municipality_code, fields, "
    "details_sealed, received_at, received_by, status, answered_at, answered_by, outcome) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
// The check and the change in one statement: of two answers at once, exactly one counts.
inline constexpr char kAnswerCorrection[] =
    "UPDATE corrections SET status = 'answered', outcome = ?2, answered_at = ?3, "
    "answered_by = ?4 WHERE id = ?1 AND status = 'open'";
inline constexpr char kCorrectionExists[] = "SELECT count(*) FROM corrections WHERE id = ?1";
// The first result notice stamps it; later ones (a spoiled sheet printed again) leave the stamp.
inline constexpr char kNoteCorrectionNotified[] =
    "UPDATE corrections SET notified_at = CASE WHEN notified_at = 0 THEN ?3 ELSE notified_at END, "
    "notified_by = CASE WHEN notified_at = 0 THEN ?4 ELSE notified_by END "
    "WHERE id = ?2 AND disclosure_id = ?1 AND status = 'answered'";
inline constexpr char kCorrectionOfDisclosureExists[] =
    "SELECT count(*) FROM corrections WHERE id = ?2 AND disclosure_id = ?1";
inline constexpr char kFindCorrection[] =
    "SELECT " KAKUNIN_CORRECTION_COLUMNS " FROM corrections WHERE id = ?1";
inline constexpr char kCorrectionsOfDisclosure[] =
    "SELECT " KAKUNIN_CORRECTION_COLUMNS " FROM corrections WHERE disclosure_id = ?1 ORDER BY id";
inline constexpr char kOpenCorrections[] =
    "SELECT " KAKUNIN_CORRECTION_COLUMNS
    " FROM corrections WHERE status = 'open' AND (?1 = '' OR municipality_code = ?1) "
    "AND id > ?3 ORDER BY id LIMIT ?2";
inline constexpr char kInsertPrintout[] =
    "INSERT INTO printouts (kind, reference, printed_at, printed_by, pages, sha256) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr char kFindPrintout[] =
    "SELECT " KAKUNIN_PRINTOUT_COLUMNS " FROM printouts WHERE id = ?1";
inline constexpr char kSetPrintoutOutcome[] =
    "UPDATE printouts SET outcome = ?2, outcome_method = ?3, outcome_on = ?4, "
    "outcome_at = ?5, outcome_by = ?6 WHERE id = ?1 AND outcome = ''";
inline constexpr char kPrintoutExists[] = "SELECT count(*) FROM printouts WHERE id = ?1";
inline constexpr char kListPrintouts[] =
    "SELECT " KAKUNIN_PRINTOUT_COLUMNS " FROM printouts ORDER BY id DESC LIMIT ?1";
// Retention: the corrections of the disclosures erased go first (they reference them).
inline constexpr char kCountDisclosuresBefore[] =
    "SELECT (SELECT count(*) FROM corrections WHERE disclosure_id IN "
    KAKUNIN_ERASABLE_REQUESTS("?1") ") + "
    "(SELECT count(*) FROM disclosures WHERE id IN "
    KAKUNIN_ERASABLE_REQUESTS("?1") ") + "
    "(SELECT count(*) FROM printouts WHERE printed_at < ?1)";
// A request is erased with its corrections 7 years after it was registered, but not while one
// of its corrections is still open: the municipality has not answered it (found in review: one
// filed late was erased unanswered).
inline constexpr char kEraseCorrectionsBefore[] =
    "DELETE FROM corrections WHERE disclosure_id IN "
    KAKUNIN_ERASABLE_REQUESTS("?1");
inline constexpr char kEraseDisclosuresBefore[] =
    "DELETE FROM disclosures WHERE id IN "
    KAKUNIN_ERASABLE_REQUESTS("?1");
inline constexpr char kErasePrintoutsBefore[] = "DELETE FROM printouts WHERE printed_at < ?1";
// Field-key rotation of the sealed correction texts (as store/sqlite/sealed.cc for numbers).
inline constexpr char kCorrectionsSealedNotUnder[] =
    "SELECT " KAKUNIN_CORRECTION_COLUMNS " FROM corrections "
    "WHERE substr(details_sealed, 1, ?1) != ?2 ORDER BY id LIMIT ?3";
inline constexpr char kReplaceCorrectionDetails[] =
    "UPDATE corrections SET details_sealed = ?1 WHERE id = ?2 AND details_sealed = ?3";

// --- the staff's registers (registers.cc) ---
inline constexpr char kInsertTraining[] =
    "INSERT INTO trainings (held_on, kind, title, recorded_at, recorded_by) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
inline constexpr char kInsertTrainingAttendee[] =
    "INSERT INTO training_attendees (training_id, operator_id) VALUES (?1, ?2)";
inline constexpr char kListTrainings[] =
    "SELECT id, held_on, kind, title, recorded_at, recorded_by FROM trainings "
    "ORDER BY held_on DESC, id DESC LIMIT ?1";
// The attendees (workers) of the sessions (contracts) from the oldest id listed on; the caller
// keeps those of the rows it listed. A session and its attendees are written in one transaction,
// so every listed session finds all of them, on a store with a snapshot per statement too.
inline constexpr char kListTrainingAttendees[] =
    "SELECT training_id, operator_id FROM training_attendees WHERE training_id >= ?1 "
    "ORDER BY training_id, operator_id";
inline constexpr char kAttendedTraining[] =
    "SELECT count(*) FROM training_attendees a JOIN trainings t ON t.id = a.training_id "
    "WHERE a.operator_id = ?1 AND t.kind = ?2 AND t.held_on BETWEEN ?3 AND ?4 "
    "AND t.recorded_by <> ?5 AND t.recorded_by <> a.operator_id";
inline constexpr char kInsertContract[] =
    "INSERT INTO contracts (company, work, valid_from, valid_to, subcontracting, approved_on, "
    "pledge_received_on, recorded_at, recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
inline constexpr char kContractExists[] = "SELECT count(*) FROM contracts WHERE id = ?1";
// The primary key decides: of two listings at once, one inserts and the other changes nothing.
inline constexpr char kInsertContractWorker[] =
    "INSERT INTO contract_workers (contract_id, operator_id, added_at, added_by) "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (contract_id, operator_id) DO NOTHING";
inline constexpr char kListContracts[] =
    "SELECT id, company, work, valid_from, valid_to, subcontracting, approved_on, "
    "pledge_received_on, recorded_at, recorded_by, ended_on, ended_at, ended_by FROM contracts "
    "ORDER BY id DESC LIMIT ?1";
inline constexpr char kListContractWorkers[] =
    "SELECT contract_id, operator_id, added_at, added_by, removed_at, removed_by "
    "FROM contract_workers WHERE contract_id >= ?1 ORDER BY contract_id, added_at, operator_id";
inline constexpr char kWorksUnderContract[] =
    "SELECT count(*) FROM contract_workers w JOIN contracts c ON c.id = w.contract_id "
    "WHERE w.operator_id = ?1 AND w.removed_at = 0 AND (?2 = '' OR (c.valid_from <= ?2 AND "
    "?2 <= c.valid_to AND (c.ended_on = '' OR ?2 <= c.ended_on)))";
// Marks the listing removed, if it is listed and not removed yet (one change, else none).
inline constexpr char kRemoveContractWorker[] =
    "UPDATE contract_workers SET removed_at = ?3, removed_by = ?4 "
    "WHERE contract_id = ?1 AND operator_id = ?2 AND removed_at = 0";
inline constexpr char kContractWorkerRemovedAt[] =
    "SELECT removed_at FROM contract_workers WHERE contract_id = ?1 AND operator_id = ?2";
// Ends a contract not ended yet; the desk checked the day against its period.
inline constexpr char kEndContract[] =
    "UPDATE contracts SET ended_on = ?2, ended_at = ?3, ended_by = ?4 "
    "WHERE id = ?1 AND ended_on = ''";
inline constexpr char kGetContractPeriod[] =
    "SELECT valid_from, valid_to, ended_on FROM contracts WHERE id = ?1";
inline constexpr char kInsertReview[] =
    "INSERT INTO reviews (kind, period_from, period_to, conducted_on, result, summary, "
    "recorded_at, recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
inline constexpr char kListReviews[] =
    "SELECT id, kind, period_from, period_to, conducted_on, result, summary, recorded_at, "
    "recorded_by FROM reviews ORDER BY conducted_on DESC, id DESC LIMIT ?1";

// --- meta ---
inline constexpr char kGetMeta[] = "SELECT value FROM meta WHERE key = ?1";
inline constexpr char kSetMeta[] =
    "INSERT INTO meta (key, value) VALUES (?1, ?2) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value";
inline constexpr char kDeleteMeta[] = "DELETE FROM meta WHERE key = ?1";
// Only if it still holds the value read before (a scrub clears the mark it finished, not one a
// purge in another process set since).
inline constexpr char kDeleteMetaIfValue[] = "DELETE FROM meta WHERE key = ?1 AND value = ?2";

// --- client register ---
#define KAKUNIN_CLIENT_COLUMNS \
  "spki_sha256, kind, name, municipality_code, recipient, purposes, registered_at, revoked_at"
inline constexpr char kInsertClient[] =
    "INSERT INTO clients (" KAKUNIN_CLIENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)";
inline constexpr char kRevokeClient[] =
    "UPDATE clients SET revoked_at = ?2 WHERE spki_sha256 = ?1 AND revoked_at = 0";
inline constexpr char kFindClient[] =
    "SELECT " KAKUNIN_CLIENT_COLUMNS " FROM clients WHERE spki_sha256 = ?1";
inline constexpr char kListClients[] =
    "SELECT " KAKUNIN_CLIENT_COLUMNS " FROM clients ORDER BY registered_at, spki_sha256";

// --- 外字 register ---
#define KAKUNIN_GAIJI_COLUMNS \
  "municipality_code, code_point, mj_code, image_png, description, registered_at, registered_by"
inline constexpr char kInsertGaiji[] =
    "INSERT INTO gaiji (" KAKUNIN_GAIJI_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
inline constexpr char kListGaiji[] =
    "SELECT " KAKUNIN_GAIJI_COLUMNS " FROM gaiji ORDER BY municipality_code, code_point";
inline constexpr char kGaijiOf[] =
    "SELECT " KAKUNIN_GAIJI_COLUMNS " FROM gaiji WHERE municipality_code = ?1 ORDER BY code_point";
inline constexpr char kGaijiCodePointsOf[] =
    "SELECT code_point FROM gaiji WHERE municipality_code = ?1";
inline constexpr char kListGaijiPending[] =
    "SELECT municipality_code, code_point, first_seen, last_seen, count FROM gaiji_pending "
    "ORDER BY municipality_code, code_point";
inline constexpr char kFlagGaijiPending[] =
    "INSERT INTO gaiji_pending (municipality_code, code_point, first_seen, last_seen, count) "
    "VALUES (?1, ?2, ?3, ?3, 1) ON CONFLICT (municipality_code, code_point) "
    "DO UPDATE SET last_seen = excluded.last_seen, count = count + 1";
inline constexpr char kClearGaijiPending[] =
    "DELETE FROM gaiji_pending WHERE municipality_code = ?1 AND code_point = ?2";

// --- operator register ---
#define KAKUNIN_OPERATOR_COLUMNS                                                      \
  "operator_id, name, unit, status, password_hash, failed_logins, locked_until, " \
  "created_at, created_by"
inline constexpr char kInsertOperator[] =
    "INSERT INTO operators (" KAKUNIN_OPERATOR_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6, ?7)";
inline constexpr char kFindOperator[] =
    "SELECT " KAKUNIN_OPERATOR_COLUMNS " FROM operators WHERE operator_id = ?1";
inline constexpr char kListOperators[] =
    "SELECT " KAKUNIN_OPERATOR_COLUMNS " FROM operators ORDER BY operator_id";
inline constexpr char kCountOperators[] = "SELECT count(*) FROM operators";
inline constexpr char kSetOperatorStatus[] =
    "UPDATE operators SET status = ?2 WHERE operator_id = ?1";
inline constexpr char kSetOperatorPassword[] =
    "UPDATE operators SET password_hash = ?2, failed_logins = 0, locked_until = 0 "
    "WHERE operator_id = ?1";
inline constexpr char kSetLoginState[] =
    "UPDATE operators SET failed_logins = ?2, locked_until = ?3 WHERE operator_id = ?1";
inline constexpr char kOperatorRoles[] =
    "SELECT role FROM operator_roles WHERE operator_id = ?1 AND withdrawn_at = 0 ORDER BY role";
inline constexpr char kRoleGrants[] =
    "SELECT role, granted_at, approved_by, withdrawn_at, withdrawn_by FROM operator_roles "
    "WHERE operator_id = ?1 ORDER BY grant_id";
// A role held already stays as it was (its grant row untouched); otherwise a new grant row.
inline constexpr char kInsertRole[] =
    "INSERT INTO operator_roles (operator_id, role, granted_at, approved_by) "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (operator_id, role) WHERE withdrawn_at = 0 DO NOTHING";
inline constexpr char kWithdrawRole[] =
    "UPDATE operator_roles SET withdrawn_at = ?4, withdrawn_by = ?3 "
    "WHERE operator_id = ?1 AND role = ?2 AND withdrawn_at = 0";
inline constexpr char kInsertRoleRequest[] =
    "INSERT INTO role_requests (operator_id, role, requested_by, requested_at, approved_by, "
    "approved_at) VALUES (?1, ?2, ?3, ?4, '', 0)";
#define KAKUNIN_ROLE_REQUEST_COLUMNS \
  "request_id, operator_id, role, requested_by, requested_at, approved_by, approved_at, " \
  "rejected_by, rejected_at"
inline constexpr char kFindRoleRequest[] =
    "SELECT " KAKUNIN_ROLE_REQUEST_COLUMNS " FROM role_requests WHERE request_id = ?1";
// Undecided requests, oldest first.
inline constexpr char kPendingRoleRequests[] =
    "SELECT " KAKUNIN_ROLE_REQUEST_COLUMNS " FROM role_requests "
    "WHERE approved_at = 0 AND rejected_at = 0 ORDER BY request_id";
inline constexpr char kApproveRoleRequest[] =
    "UPDATE role_requests SET approved_by = ?2, approved_at = ?3 "
    "WHERE request_id = ?1 AND approved_at = 0 AND rejected_at = 0";
inline constexpr char kRejectRoleRequest[] =
    "UPDATE role_requests SET rejected_by = ?2, rejected_at = ?3 "
    "WHERE request_id = ?1 AND approved_at = 0 AND rejected_at = 0";
inline constexpr char kInsertNomination[] =
    "INSERT INTO nominations (operator_id, purpose, valid_from, valid_to, nominated_by, "
    "nominated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr char kNominationsOf[] =
    "SELECT operator_id, purpose, valid_from, valid_to, nominated_by, nominated_at, ended_at, "
    "ended_by FROM nominations WHERE operator_id = ?1 ORDER BY id";
inline constexpr char kEndNominations[] =
    "UPDATE nominations SET ended_at = ?5, ended_by = ?4 "
    "WHERE operator_id = ?1 AND purpose = ?2 AND ended_at = 0 AND valid_to >= ?3";
#define KAKUNIN_CREDENTIAL_COLUMNS \
  "credential_id, operator_id, kind, alg, public_key, sign_count, created_at, revoked_at, " \
  "revoked_by, confirmed_at"
inline constexpr char kInsertCredential[] =
    "INSERT INTO operator_credentials (" KAKUNIN_CREDENTIAL_COLUMNS ") "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, '', ?8)";
// The holder's confirmation of a card bound to them: only a card waiting for it, not revoked.
inline constexpr char kConfirmCredential[] =
    "UPDATE operator_credentials SET confirmed_at = ?3 WHERE credential_id = ?1 "
    "AND operator_id = ?2 AND kind = 'certificate' AND confirmed_at = 0 AND revoked_at = 0";
inline constexpr char kCredentialsOf[] =
    "SELECT " KAKUNIN_CREDENTIAL_COLUMNS " FROM operator_credentials WHERE operator_id = ?1";
inline constexpr char kFindCredential[] =
    "SELECT " KAKUNIN_CREDENTIAL_COLUMNS " FROM operator_credentials WHERE credential_id = ?1";
inline constexpr char kSetSignCount[] =
    "UPDATE operator_credentials SET sign_count = ?2 WHERE credential_id = ?1";
inline constexpr char kRevokeCredential[] =
    "UPDATE operator_credentials SET revoked_at = ?3, revoked_by = ?2 "
    "WHERE credential_id = ?1 AND revoked_at = 0";
inline constexpr char kInsertEnrolment[] =
    "INSERT INTO enrolments (token_hash, operator_id, expires_at, used_at, issued_by) "
    "VALUES (?1, ?2, ?3, 0, ?4)";
inline constexpr char kFindEnrolment[] =
    "SELECT token_hash, operator_id, expires_at, used_at, issued_by FROM enrolments "
    "WHERE token_hash = ?1";
inline constexpr char kUseEnrolment[] =
    "UPDATE enrolments SET used_at = ?2 WHERE token_hash = ?1 AND used_at = 0";
inline constexpr char kRevokeEnrolments[] =
    "UPDATE enrolments SET used_at = ?2 WHERE operator_id = ?1 AND used_at = 0";
// Compare-and-set: a count that does not move forward changes no row.
inline constexpr char kAdvanceSignCount[] =
    "UPDATE operator_credentials SET sign_count = ?2 WHERE credential_id = ?1 "
    "AND kind = 'webauthn' AND revoked_at = 0 "
    "AND (sign_count < ?2 OR (?2 = 0 AND sign_count = 0))";
// One atomic step: the counter cannot lose a concurrent failure.
// (In the WHERE clause, locked_until > 0 means a lock that has ended: the count starts again.)
inline constexpr char kClaimLoginAttempt[] =
    "UPDATE operators SET "
    "failed_logins = CASE WHEN locked_until > 0 THEN 1 ELSE failed_logins + 1 END, "
    "locked_until = CASE WHEN (CASE WHEN locked_until > 0 THEN 1 ELSE failed_logins + 1 END) >= ?3 "
    "THEN ?4 ELSE 0 END "
    "WHERE operator_id = ?1 AND locked_until <= ?2 AND (failed_logins < ?3 OR locked_until > 0) "
    "RETURNING failed_logins";
inline constexpr char kCountActiveWithRole[] =
    "SELECT count(*) FROM operators o JOIN operator_roles r ON r.operator_id = o.operator_id "
    "WHERE r.role = ?1 AND r.withdrawn_at = 0 AND o.status = 'active'";
inline constexpr char kIsClientKey[] = "SELECT count(*) FROM clients WHERE spki_sha256 = ?1";

// --- applied sequences (one row per applied notification; a sender's last sequence is the
// greatest, found through the primary key) ---
inline constexpr char kLastSequence[] =
    "SELECT max(sequence) FROM applied WHERE municipality_code = ?1";
inline constexpr char kAppliedMac[] =
    "SELECT payload_mac FROM applied WHERE municipality_code = ?1 AND sequence = ?2";
inline constexpr char kRecordApplied[] =
    "INSERT INTO applied (municipality_code, sequence, payload_mac, applied_at) "
    "VALUES (?1, ?2, ?3, ?4)";

// --- residents ---
#define KAKUNIN_RESIDENT_COLUMNS                                                              \
  "person_id, resident_code, status, municipality_code, version_id, name, name_kana, sex, "  \
  "birth_date, address, number_mac, name_key, kana_key, address_key, updated_at, removed_at"
inline constexpr char kResidentColumns[] = KAKUNIN_RESIDENT_COLUMNS;
inline constexpr char kResidentByCode[] =
    "SELECT " KAKUNIN_RESIDENT_COLUMNS " FROM residents WHERE resident_code = ?1";
inline constexpr char kResidentByOldCode[] =
    "SELECT " KAKUNIN_RESIDENT_COLUMNS
    " FROM residents WHERE person_id = (SELECT person_id FROM code_changes WHERE old_code = ?1)";
inline constexpr char kResidentsByNumber[] =
    "SELECT " KAKUNIN_RESIDENT_COLUMNS
    " FROM residents WHERE number_mac = ?1 AND (?2 OR status = 'active') ORDER BY person_id";
// Search keys recomputed when the fold table changes (RekeyResidents), a chunk at a time.
inline constexpr char kResidentNamesFrom[] =
    "SELECT person_id, name, name_kana, address FROM residents WHERE person_id > ? "
    "ORDER BY person_id LIMIT ?";
inline constexpr char kUpdateResidentKeys[] =
    "UPDATE residents SET name_key = ?2, kana_key = ?3, address_key = ?4 WHERE person_id = ?1";
inline constexpr char kCodeKnown[] =
    "SELECT EXISTS (SELECT 1 FROM residents WHERE resident_code = ?1) "
    "OR EXISTS (SELECT 1 FROM code_changes WHERE old_code = ?1)";
inline constexpr char kNumberHeldByOther[] =
    "SELECT EXISTS (SELECT 1 FROM residents WHERE number_mac = ?1 AND status = 'active' "
    "AND person_id <> ?2)";
inline constexpr char kInsertResident[] =
    "INSERT INTO residents (resident_code, status, municipality_code, version_id, name, "
    "name_kana, sex, birth_date, address, number_mac, name_key, kana_key, address_key, "
    "updated_at, removed_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
inline constexpr char kUpdateResident[] =
    "UPDATE residents SET resident_code = ?1, status = ?2, municipality_code = ?3, "
    "version_id = ?4, name = ?5, name_kana = ?6, sex = ?7, birth_date = ?8, address = ?9, "
    "number_mac = ?10, name_key = ?11, kana_key = ?12, address_key = ?13, updated_at = ?14, "
    "removed_at = ?15 WHERE person_id = ?16";
inline constexpr char kAddExpectedMoveOut[] =
    "INSERT OR IGNORE INTO expected_moveouts (person_id, municipality_code) VALUES (?1, ?2)";
inline constexpr char kEntriesOf[] =
    "SELECT municipality_code, change_date FROM versions WHERE person_id = ?1 "
    "AND kind = 'entry' ORDER BY version_id DESC";
inline constexpr char kTakeExpectedMoveOut[] =
    "DELETE FROM expected_moveouts WHERE person_id = ?1 AND municipality_code = ?2";

// Only the unindexed column: cheap, unlike a full update that rewrites every index entry.
inline constexpr char kSetResidentVersion[] =
    "UPDATE residents SET version_id = ?2 WHERE person_id = ?1";

// --- versions ---
#define KAKUNIN_VERSION_COLUMNS                                                               \
  "version_id, person_id, municipality_code, sequence, kind, reason, change_date, "          \
  "resident_code, sealed_number, name, name_kana, former_surname, alias, sex, birth_date, "  \
  "address, new_resident_code, applied_at, superseded_at"
inline constexpr char kInsertVersion[] =
    "INSERT INTO versions (person_id, municipality_code, sequence, kind, reason, change_date, "
    "resident_code, sealed_number, name, name_kana, former_surname, alias, sex, birth_date, "
    "address, new_resident_code, applied_at, superseded_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";
inline constexpr char kMarkSuperseded[] =
    "UPDATE versions SET superseded_at = ?2 WHERE version_id = ?1 AND superseded_at = 0";
inline constexpr char kHistory[] =
    "SELECT " KAKUNIN_VERSION_COLUMNS
    " FROM versions WHERE person_id = ?1 ORDER BY version_id DESC";
inline constexpr char kVersionById[] =
    "SELECT " KAKUNIN_VERSION_COLUMNS " FROM versions WHERE version_id = ?1";

// --- code changes and outbox ---
inline constexpr char kRecordCodeChange[] =
    "INSERT INTO code_changes (old_code, new_code, person_id, changed_at) VALUES (?1, ?2, ?3, ?4)";
inline constexpr char kEnqueueOutbox[] =
    "INSERT INTO outbox (version_id, created_at) VALUES (?1, ?2)";
inline constexpr char kEnqueueSupportMeasure[] =
    "INSERT INTO outbox (version_id, created_at, measure_municipality, measure_until) "
    "VALUES (?1, ?2, ?3, ?4)";

// --- search: a driving fragment and filters, each a constant; see SqliteReader::Search ---
inline constexpr char kSearchSelect[] = "SELECT " KAKUNIN_RESIDENT_COLUMNS " FROM residents WHERE 1";
inline constexpr char kSearchKana[] = " AND kana_key >= ? AND kana_key < ?";
inline constexpr char kSearchName[] = " AND name_key >= ? AND name_key < ?";
inline constexpr char kSearchBirth[] = " AND birth_date = ?";
inline constexpr char kSearchSex[] = " AND sex = ?";
inline constexpr char kSearchAddress[] = " AND address_key >= ? AND address_key < ?";
inline constexpr char kSearchActive[] = " AND status = 'active'";
inline constexpr char kSearchOrderKana[] = " ORDER BY kana_key, birth_date, person_id LIMIT ?";
inline constexpr char kSearchOrderName[] = " ORDER BY name_key, birth_date, person_id LIMIT ?";
inline constexpr char kSearchOrderAddress[] =
    " ORDER BY address_key, birth_date, person_id LIMIT ?";
inline constexpr char kSearchOrderBirth[] = " ORDER BY birth_date, kana_key, person_id LIMIT ?";

// --- stats ---
inline constexpr char kStats[] =
    "SELECT (SELECT count(*) FROM residents WHERE status = 'active'), "
    "(SELECT count(*) FROM residents WHERE status = 'removed'), "
    "(SELECT count(*) FROM versions), "
    "(SELECT count(*) FROM versions WHERE superseded_at > 0), "
    "(SELECT count(*) FROM code_changes), "
    "(SELECT count(DISTINCT municipality_code) FROM applied), "
    "(SELECT count(*) FROM applied), "
    "(SELECT count(*) FROM outbox WHERE delivered_at IS NULL)";

// The age in whole years as of ?1 (YYYYMMDD) from birth_date (YYYY-MM-DD), in five-year
// bands capped at 100.
inline constexpr char kPopulation[] =
    "SELECT municipality_code, sex, "
    "min((?1 - CAST(replace(birth_date, '-', '') AS INTEGER)) / 10000 / 5 * 5, 100) AS band, "
    "count(*) FROM residents WHERE status = 'active' "
    "GROUP BY municipality_code, sex, band ORDER BY municipality_code, sex, band";

// --- retention ---
inline constexpr char kCountSuperseded[] =
    "SELECT count(*) FROM versions v JOIN residents r USING (person_id) "
    "WHERE v.superseded_at > 0 AND v.superseded_at < ?1 "
    "AND r.person_id NOT IN "
    KAKUNIN_REMOVED_PAST("?2");
inline constexpr char kDeleteSuperseded[] =
    "DELETE FROM versions WHERE superseded_at > 0 AND superseded_at < ?1 AND person_id NOT IN "
    KAKUNIN_REMOVED_PAST("?2");
inline constexpr char kCountRemoved[] =
    "SELECT count(*), (SELECT count(*) FROM versions WHERE person_id IN "
    KAKUNIN_REMOVED_PAST("?1") ") "
    "FROM residents WHERE person_id IN "
    KAKUNIN_REMOVED_PAST("?1");
inline constexpr char kDeleteRemovedVersions[] =
    "DELETE FROM versions WHERE person_id IN "
    KAKUNIN_REMOVED_PAST("?1");
inline constexpr char kDeleteRemovedExpectedMoveOuts[] =
    "DELETE FROM expected_moveouts WHERE person_id IN "
    KAKUNIN_REMOVED_PAST("?1");
inline constexpr char kDeleteRemovedCodeChanges[] =
    "DELETE FROM code_changes WHERE person_id IN "
    KAKUNIN_REMOVED_PAST("?1");
inline constexpr char kDeleteRemovedSupportMeasures[] =
    "DELETE FROM support_measures WHERE person_id IN "
    KAKUNIN_REMOVED_PAST("?1");
inline constexpr char kDeleteRemovedResidents[] =
    "DELETE FROM residents WHERE person_id IN "
    KAKUNIN_REMOVED_PAST("?1");

// --- support measures (support.cc) ---
#define KAKUNIN_SUPPORT_COLUMNS \
  "m.person_id, m.since, m.valid_until, m.ended_at, m.municipality_code, m.set_at, m.set_by"
inline constexpr char kSupportMeasureOf[] =
    "SELECT " KAKUNIN_SUPPORT_COLUMNS ", '' FROM support_measures m WHERE m.person_id = ?1";
inline constexpr char kListSupportMeasures[] =
    "SELECT " KAKUNIN_SUPPORT_COLUMNS ", r.resident_code FROM support_measures m "
    "JOIN residents r USING (person_id) ORDER BY r.resident_code";
#undef KAKUNIN_SUPPORT_COLUMNS
inline constexpr char kPutSupportMeasure[] =
    "INSERT OR REPLACE INTO support_measures (person_id, since, valid_until, ended_at, "
    "municipality_code, set_at, set_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

// --- operation log ---
inline constexpr char kGetResidentHead[] =
    "SELECT key, count, head, last_seq FROM audit_resident_heads WHERE key = ?1";
inline constexpr char kPutResidentHead[] =
    "INSERT OR REPLACE INTO audit_resident_heads (key, count, head, last_seq) "
    "VALUES (?1, ?2, ?3, ?4)";
inline constexpr char kResidentKeysWithoutEntries[] =
    "SELECT key FROM audit_resident_heads WHERE count = 0 ORDER BY key";
inline constexpr char kResidentHeadsAfter[] =
    "SELECT key, count, head, last_seq FROM audit_resident_heads WHERE key > ?1 "
    "ORDER BY key LIMIT ?2";
inline constexpr char kResidentHeadsFrom[] =
    "SELECT key, count, head, last_seq FROM audit_resident_heads WHERE last_seq >= ?1 "
    "ORDER BY key";
inline constexpr char kLatestMapCheckpointSize[] =
    "SELECT coalesce((SELECT tree_size FROM audit_checkpoints WHERE map_root IS NOT NULL "
    "ORDER BY tree_size DESC LIMIT 1), 0)";
inline constexpr char kGetMapNode[] =
    "SELECT hash, leaf_key FROM audit_map_nodes WHERE depth = ?1 AND prefix = ?2";
// Pages of the whole stored map and of the target index, in primary-key order (the verifier).
inline constexpr char kMapNodesFirst[] =
    "SELECT depth, prefix, hash, leaf_key FROM audit_map_nodes ORDER BY depth, prefix LIMIT ?1";
inline constexpr char kMapNodesAfter[] =
    "SELECT depth, prefix, hash, leaf_key FROM audit_map_nodes WHERE (depth, prefix) > (?1, ?2) "
    "ORDER BY depth, prefix LIMIT ?3";
inline constexpr char kAuditTargetRowsFrom[] =
    "SELECT resident_code, seq FROM audit_targets WHERE seq >= ?1 ORDER BY resident_code, seq";
inline constexpr char kPutMapNode[] =
    "INSERT OR REPLACE INTO audit_map_nodes (depth, prefix, hash, leaf_key) "
    "VALUES (?1, ?2, ?3, ?4)";
inline constexpr char kAuditSize[] = "SELECT coalesce(max(seq) + 1, 0) FROM audit_entries";
inline constexpr char kInsertAuditEntry[] =
    "INSERT INTO audit_entries (seq, time, actor, action, purpose, payload, leaf_hash, targets) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
inline constexpr char kInsertAuditTarget[] =
    "INSERT OR IGNORE INTO audit_targets (resident_code, seq) VALUES (?1, ?2)";
// The signing-key announcements, from the partial index of migration 9 (the literal must match
// its WHERE; a bound parameter would not let the planner use it).
inline constexpr char kKeyAnnouncements[] =
    "SELECT seq, time, actor, action, purpose, payload, leaf_hash, targets FROM audit_entries "
    "WHERE action = 'key.signing.rotate' ORDER BY seq LIMIT ?1";
inline constexpr char kGetAuditLeaf[] = "SELECT leaf_hash FROM audit_entries WHERE seq = ?1";
inline constexpr char kGetAuditNode[] = "SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2";
inline constexpr char kPutAuditNode[] =
    "INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)";
inline constexpr char kInsertCheckpoint[] =
    "INSERT OR REPLACE INTO audit_checkpoints (tree_size, root, time, key_id, signature, "
    "origin, map_root) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
inline constexpr char kLatestCheckpoint[] =
    "SELECT tree_size, root, time, key_id, signature, origin, map_root FROM audit_checkpoints "
    "ORDER BY tree_size DESC LIMIT 1";
inline constexpr char kCheckpointAt[] =
    "SELECT tree_size, root, time, key_id, signature, origin, map_root FROM audit_checkpoints "
    "WHERE tree_size = ?1";
inline constexpr char kAllCheckpoints[] =
    "SELECT tree_size, root, time, key_id, signature, origin, map_root FROM audit_checkpoints "
    "ORDER BY tree_size";
inline constexpr char kAuditEntriesFrom[] =
    "SELECT seq, time, actor, action, purpose, payload, leaf_hash, targets FROM audit_entries "
    "WHERE seq >= ?1 ORDER BY seq LIMIT ?2";
inline constexpr char kAuditNodesOfLevel[] =
    "SELECT idx, hash FROM audit_nodes WHERE level = ?1 ORDER BY idx";
inline constexpr char kEraseAuditPayloads[] =
    "UPDATE audit_entries SET payload = NULL, targets = NULL, actor = '', action = '', "
    "purpose = '' "
    "WHERE seq < ?1 AND payload IS NOT NULL";
inline constexpr char kAuditLastTime[] =
    "SELECT coalesce((SELECT time FROM audit_entries ORDER BY seq DESC LIMIT 1), 0)";
// The first entry young enough to keep: everything before it is the erasable prefix.
inline constexpr char kAuditKeepFrom[] =
    "SELECT coalesce((SELECT min(seq) FROM audit_entries WHERE time >= ?1), "
    "(SELECT coalesce(max(seq) + 1, 0) FROM audit_entries))";
inline constexpr char kCountAuditPayloadsBefore[] =
    "SELECT count(*) FROM audit_entries WHERE seq < ?1 AND payload IS NOT NULL";
inline constexpr char kProvisionsOfEntry[] =
    "SELECT resident_code, provided_at, function, purpose, provision_kind, number_provided, "
    "source, recipient, items, audit_seq FROM provisions WHERE audit_seq = ?1 ORDER BY id";
inline constexpr char kCountProvisionsFromEntry[] =
    "SELECT count(*) FROM provisions WHERE audit_seq >= ?1";
inline constexpr char kCountAuditTargetsFrom[] =
    "SELECT count(*) FROM audit_targets WHERE seq >= ?1";
// Stored nodes no log of ?1 entries has (SqliteReader::CountStrayAuditNodes): a node at level L
// covers 2^L entries, so index i is complete only if (i + 1) * 2^L <= size, i.e. 0 <= i <
// size >> L. Counted as ranges of the primary key, per level, instead of a scan of every node
// (a verification of 1 M entries spent 8 % of its reader thread on that scan).
inline constexpr char kCountAuditNodesOutsideLevels[] =
    "SELECT (SELECT count(*) FROM audit_nodes WHERE level < 1) + "
    "(SELECT count(*) FROM audit_nodes WHERE level > 62)";
inline constexpr char kCountAuditNodesBeyond[] =
    "SELECT (SELECT count(*) FROM audit_nodes WHERE level = ?1 AND idx >= ?2) + "
    "(SELECT count(*) FROM audit_nodes WHERE level = ?1 AND idx < 0)";
inline constexpr char kCountProvisionsBefore[] =
    "SELECT count(*) FROM provisions WHERE provided_at < ?1";
inline constexpr char kEraseAuditTargets[] = "DELETE FROM audit_targets WHERE seq < ?1";
inline constexpr char kInsertProvision[] =
    "INSERT INTO provisions (resident_code, provided_at, function, purpose, provision_kind, "
    "number_provided, source, recipient, items, audit_seq) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
inline constexpr char kProvisionsOf[] =
    "SELECT resident_code, provided_at, function, purpose, provision_kind, number_provided, "
    "source, recipient, items, audit_seq FROM provisions WHERE resident_code = ?1 "
    "ORDER BY provided_at, id";
inline constexpr char kErasePastProvisions[] = "DELETE FROM provisions WHERE provided_at < ?1";

}  // namespace kakunin::store::sqlite
