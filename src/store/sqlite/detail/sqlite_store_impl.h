#pragma once

// The SQLite implementation of the registry's reader and transaction (store/registry_store.h).
// Only the declarations live here: each aggregate's methods are defined in its own file
// (residents.cc, log.cc, clients.cc, operators.cc, disclosures.cc, …) and the transaction
// control with the store in sqlite_registry_store.cc. Internal to store/sqlite/.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/registry_store.h"
#include "store/sqlite/db.h"

namespace kakunin::store::sqlite::detail {

// Reads on a connection of its own (see RegistryStore::OpenReader).
class SqliteReader final : public RegistryReader {
 public:
  explicit SqliteReader(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  // --- residents (residents.cc) ---
  Result<std::optional<ResidentRow>> FindByResidentCode(const std::string& code) override;
  Result<std::vector<ResidentRow>> FindByNumberMac(const std::string& mac,
                                                   bool include_removed) override;
  Result<SearchResult> Search(const SearchQuery& q) override;
  Result<std::vector<PopulationRow>> Population(const Date& as_of) override;
  Result<std::optional<SupportMeasureRow>> SupportMeasureOf(int64_t person_id) override;
  Result<std::vector<SupportMeasureRow>> ListSupportMeasures() override;
  Result<std::vector<VersionRow>> History(int64_t person_id) override;
  Result<std::optional<VersionRow>> Version(int64_t version_id) override;
  Result<StoreStats> Stats() override;
  Result<int64_t> CountSealedNotUnder(const std::string& current_prefix) override;  // sealed.cc
  Status ForEachCurrentRecord(
      const std::function<Status(const CurrentRecordRow&)>& fn) override;  // current_records.cc
  // state_rows.cc
  Status ForEachVersion(const std::function<Status(const VersionRow&)>& fn) override;
  Status ForEachResident(const std::function<Status(const ResidentRow&)>& fn) override;

  // --- operation log (log.cc) ---
  Result<int64_t> AuditSize() override;
  Result<std::optional<std::string>> AuditNode(uint32_t level, int64_t index) override;
  Status ForEachAuditEntry(int64_t from_seq,
                           const std::function<bool(AuditRow&)>& fn) override;
  Status ScanAuditEntries(int64_t from_seq,
                          const std::function<bool(const AuditRowView&)>& fn) override;
  Result<int64_t> CountStrayAuditNodes(int64_t size) override;
  Result<std::unique_ptr<NodeCursor>> AuditNodes(uint32_t level) override;
  Result<std::vector<CheckpointRow>> Checkpoints() override;
  Result<std::vector<AuditRow>> SearchAudit(const AuditQuery& q) override;
  Result<std::vector<ProvisionRow>> Provisions(const std::string& resident_code) override;
  Result<std::vector<ProvisionRow>> ProvisionsOfEntry(int64_t audit_seq) override;
  Result<int64_t> CountProvisionsFromEntry(int64_t seq) override;
  Result<std::optional<ResidentHeadRow>> ResidentHead(const std::string& key) override;
  Result<std::optional<MapNodeRow>> MapNode(uint32_t depth, const std::string& prefix) override;
  Result<std::vector<std::string>> ResidentKeysWithoutEntries() override;
  Result<std::vector<ResidentHeadRow>> ResidentHeadsAfter(const std::string& after,
                                                         int64_t limit) override;
  Result<std::vector<MapNodeAt>> MapNodesAfter(bool first, uint32_t after_depth,
                                               const std::string& after_prefix,
                                               int64_t limit) override;
  Status ForEachAuditTarget(int64_t from_seq,
                            const std::function<bool(std::string_view, int64_t)>& fn) override;
  Result<int64_t> CountAuditTargetsFrom(int64_t seq) override;

  // --- client register and node state (clients.cc) ---
  Result<std::optional<ClientRow>> FindClient(const std::string& spki) override;
  Result<std::vector<ClientRow>> ListClients() override;
  Result<std::optional<std::string>> GetMeta(const std::string& key) override;

  // --- operator register (operators.cc) ---
  Result<std::optional<OperatorRow>> FindOperator(const std::string& id) override;
  Result<std::vector<OperatorRow>> ListOperators() override;
  Result<std::vector<std::string>> OperatorRoles(const std::string& id) override;
  Result<std::vector<NominationRow>> Nominations(const std::string& id) override;
  Result<std::vector<CredentialRow>> Credentials(const std::string& id) override;
  Result<std::optional<CredentialRow>> FindCredential(const std::string& id) override;
  Result<std::optional<RoleRequestRow>> FindRoleRequest(int64_t id) override;
  Result<std::vector<RoleRequestRow>> PendingRoleRequests() override;
  Result<std::vector<RoleGrantRow>> RoleGrants(const std::string& id) override;
  Result<std::optional<EnrolmentRow>> FindEnrolment(const std::string& hash) override;

  // --- 外字 register (gaiji.cc) ---
  Result<std::vector<GaijiRow>> ListGaiji() override;
  Result<std::vector<GaijiPendingRow>> ListGaijiPending() override;
  Result<std::vector<GaijiRow>> GaijiOf(const std::string& municipality) override;

  // --- media register (media.cc) ---
  Result<std::vector<MediaRow>> ListMedia() override;
  Result<std::vector<MediaEventRow>> ListMediaEvents() override;
  // --- residents' requests and the printout register (disclosures.cc) ---
  Result<std::optional<DisclosureRow>> FindDisclosure(int64_t id) override;
  Result<std::optional<std::string>> DisclosureStatement(int64_t id) override;
  Result<std::vector<DisclosureRow>> ListDisclosures(int limit) override;
  Result<std::optional<CorrectionRow>> FindCorrection(int64_t id) override;
  Result<std::vector<CorrectionRow>> CorrectionsOfDisclosure(int64_t disclosure_id) override;
  Result<std::vector<CorrectionRow>> OpenCorrections(const std::string& municipality_code,
                                                     int limit, int64_t after_id) override;
  Result<std::vector<PrintoutRow>> ListPrintouts(int limit) override;
  Result<std::optional<PrintoutRow>> FindPrintout(int64_t id) override;
  // --- the staff's registers (registers.cc) ---
  Result<std::vector<TrainingRow>> ListTrainings(int limit) override;
  Result<std::vector<ContractRow>> ListContracts(int limit) override;
  Result<std::vector<ReviewRow>> ListReviews(int limit) override;
  // --- link (link.cc) ---
  Result<std::vector<OutboxRow>> OutboxAfter(int64_t after, int limit) override;
  Result<OutboxBacklog> Backlog() override;
  Result<int64_t> ReceivedSequence(int prefecture) override;

  // --- snapshots (sqlite_registry_store.cc) and key announcements (log.cc) ---
  Status BeginSnapshot() override;
  void EndSnapshot() override;
  Result<std::vector<AuditRow>> KeyAnnouncements(int limit) override;

 private:
  Result<int64_t> CountFrom(const char* sql, int64_t seq);
  Result<std::vector<ProvisionRow>> QueryProvisions(const char* sql,
                                                    const std::function<void(Stmt&)>& bind);

  std::unique_ptr<Db> db_;
  int snapshot_depth_ = 0;  // nested BeginSnapshot calls; the outermost runs BEGIN / COMMIT
};

// The writer connection's side of a bulk load (bulk.cc; RegistryStore::BeginBulkLoad).
Status BeginBulkLoad(Db* db, const BulkLoadOptions& options);
Status EndBulkLoad(Db* db);

// Writes inside the transaction RegistryStore::Write opened on the writer connection.
class SqliteTxn final : public RegistryTxn {
 public:
  explicit SqliteTxn(Db* db) : db_(db) {}

  // --- transaction control (sqlite_registry_store.cc) ---
  Status Savepoint() override;
  Status RollbackToSavepoint() override;
  Status ReleaseSavepoint() override;

  // --- residents (residents.cc) ---
  Result<int64_t> LastSequence(const std::string& municipality) override;
  Result<std::optional<std::string>> AppliedMac(const std::string& municipality,
                                                int64_t sequence) override;
  Status RecordApplied(const std::string& municipality, int64_t sequence,
                       const std::string& payload_mac, int64_t applied_at) override;
  Result<std::optional<ResidentRow>> FindByResidentCode(const std::string& code) override;
  Result<std::optional<ResidentRow>> FindByAnyResidentCode(const std::string& code) override;
  Status AddExpectedMoveOut(int64_t person_id, const std::string& municipality) override;
  Result<bool> TakeExpectedMoveOut(int64_t person_id, const std::string& municipality) override;
  Result<std::vector<VersionRow>> MergeResident(int64_t from_person, int64_t into_person) override;
  Result<bool> IsResidentCodeKnown(const std::string& code) override;
  Result<std::vector<std::pair<std::string, std::string>>> EntriesOf(
      int64_t person_id) override;
  Result<int64_t> RekeyResidents(
      const std::function<std::string(std::string_view)>& key) override;
  Result<std::optional<VersionRow>> Version(int64_t version_id) override;
  Result<bool> NumberHeldByOther(const std::string& mac, int64_t except_person) override;
  Result<std::vector<ResidentRow>> ActiveHoldersOfNumber(const std::string& mac) override;
  Result<std::optional<SupportMeasureRow>> SupportMeasureOf(int64_t person_id) override;
  Status PutSupportMeasure(const SupportMeasureRow& row) override;
  Result<int64_t> InsertResident(const ResidentRow& row) override;
  Status UpdateResident(const ResidentRow& row) override;
  Result<int64_t> InsertVersion(const VersionRow& v) override;
  Status SetResidentVersion(int64_t person_id, int64_t version_id) override;
  Status MarkSuperseded(int64_t version_id, int64_t at) override;
  Status RecordCodeChange(const std::string& old_code, const std::string& new_code,
                          int64_t person_id, int64_t at) override;
  Status EnqueueOutbox(int64_t version_id, int64_t at) override;
  Status EnqueueSupportMeasure(int64_t version_id, int64_t at,
                               const std::string& municipality_code,
                               const std::optional<std::string>& valid_until) override;
  Result<PurgeCounts> Purge(int64_t superseded_before, int64_t removed_before,
                            bool dry_run) override;
  Result<std::vector<std::pair<int64_t, int64_t>>> PurgeableVersions(
      int64_t superseded_before, int64_t removed_before) override;  // state_rows.cc
  // --- field-key rotation (sealed.cc) ---
  Result<std::vector<SealedNumberRow>> SealedNumbersNotUnder(const std::string& current_prefix,
                                                             int64_t after_version_id,
                                                             int limit) override;
  Result<bool> ReplaceSealedNumber(int64_t version_id, const std::string& old_sealed,
                                   const std::string& new_sealed) override;
  Result<int64_t> CountSealedNotUnder(const std::string& current_prefix) override;

  // --- operation log (log.cc) ---
  Result<int64_t> AuditSize() override;
  Status InsertAuditEntry(const AuditRow& a, const std::vector<std::string>& targets) override;
  Result<std::optional<std::string>> AuditNode(uint32_t level, int64_t index) override;
  Status PutAuditNode(uint32_t level, int64_t index, const std::string& hash) override;
  Status InsertCheckpoint(const CheckpointRow& c) override;
  Result<std::optional<CheckpointRow>> LatestCheckpoint() override;
  Status InsertProvision(const ProvisionRow& p) override;
  Result<std::optional<ResidentHeadRow>> ResidentHead(const std::string& key) override;
  Status PutResidentHead(const ResidentHeadRow& row) override;
  Result<int64_t> LatestMapCheckpointSize() override;
  Result<std::vector<ResidentHeadRow>> ResidentHeadsFrom(int64_t seq) override;
  Result<std::optional<MapNodeRow>> MapNode(uint32_t depth, const std::string& prefix) override;
  Status PutMapNode(uint32_t depth, const std::string& prefix, const MapNodeRow& row) override;
  Result<int64_t> AuditLastTime() override;
  Result<AuditTailRow> AuditTail() override;
  Status ForEachAuditTargets(int64_t from_seq, const AuditTargetsFn& fn) override;
  Result<AuditErasure> EraseAuditBefore(int64_t time, bool dry_run) override;

  // --- client register and node state (clients.cc) ---
  Status InsertClient(const ClientRow& c) override;
  Result<bool> RevokeClient(const std::string& spki, int64_t at) override;
  Result<std::optional<std::string>> GetMeta(const std::string& key) override;
  Status SetMeta(const std::string& key, const std::string& value) override;
  Status DeleteMeta(const std::string& key) override;
  Result<std::optional<ClientRow>> FindClient(const std::string& spki) override;
  Result<bool> IsClientKey(const std::string& spki) override;

  // --- link (link.cc) ---
  Result<int64_t> MarkDelivered(int64_t up_to, int64_t at) override;
  Result<int64_t> PurgeDelivered(int64_t before) override;
  Result<int64_t> LastDeliveredBefore(int64_t before) override;
  Result<int64_t> PurgeReceivedChanges(int64_t before, bool dry_run) override;
  Result<int64_t> ReceivedSequenceIn(int prefecture) override;
  Status SetReceivedSequence(int prefecture, int64_t sequence, int64_t at) override;
  Result<std::optional<std::string>> ReceivedChangeMac(int prefecture, int64_t sequence) override;
  Status ForgetReceivedChange(int prefecture, int64_t sequence) override;
  Status RecordReceivedChange(int prefecture, int64_t sequence, const std::string& mac,
                              int64_t at) override;
  Result<int64_t> SkipOutboxNumbers(int64_t gap) override;
  Result<int64_t> HighestOutboxNumber() override;

  // --- operator register (operators.cc) ---
  Result<std::optional<OperatorRow>> FindOperator(const std::string& id) override;
  Result<std::vector<NominationRow>> Nominations(const std::string& id) override;
  Result<std::vector<std::string>> OperatorRoles(const std::string& id) override;
  Result<int64_t> CountOperators() override;
  Status InsertOperator(const OperatorRow& o) override;
  Status SetOperatorStatus(const std::string& id, const std::string& status) override;
  Status SetOperatorPassword(const std::string& id, const std::string& hash) override;
  Status SetLoginState(const std::string& id, int64_t failed, int64_t until) override;
  Status InsertRole(const std::string& id, const std::string& role, int64_t at,
                    const std::string& by) override;
  Result<int64_t> InsertRoleRequest(const RoleRequestRow& r) override;
  Result<std::optional<RoleRequestRow>> FindRoleRequest(int64_t id) override;
  Result<bool> ApproveRoleRequest(int64_t id, const std::string& by, int64_t at) override;
  Result<bool> RejectRoleRequest(int64_t id, const std::string& by, int64_t at) override;
  Status InsertNomination(const NominationRow& n) override;
  Result<bool> WithdrawRole(const std::string& id, const std::string& role, const std::string& by,
                            int64_t at) override;
  Result<int64_t> EndNominations(const std::string& id, const std::string& purpose,
                                 const std::string& today, const std::string& by,
                                 int64_t at) override;
  Result<bool> RevokeCredential(const std::string& id, const std::string& by, int64_t at) override;
  Result<std::vector<CredentialRow>> Credentials(const std::string& id) override;
  Status InsertCredential(const CredentialRow& c) override;
  Result<std::optional<CredentialRow>> FindCredential(const std::string& id) override;
  Status SetSignCount(const std::string& id, int64_t count) override;
  Result<bool> ConfirmCredential(const std::string& id, const std::string& operator_id,
                                 int64_t at) override;
  Status InsertEnrolment(const EnrolmentRow& e) override;
  Result<std::optional<EnrolmentRow>> FindEnrolment(const std::string& hash) override;
  Result<bool> UseEnrolment(const std::string& hash, int64_t at) override;
  Status RevokeEnrolments(const std::string& id, int64_t at) override;
  Result<bool> AdvanceSignCount(const std::string& id, int64_t count) override;
  Result<std::optional<int64_t>> ClaimLoginAttempt(const std::string& id, int64_t now,
                                                   int64_t max_attempts,
                                                   int64_t lock_until) override;
  Result<int64_t> CountActiveWithRole(const std::string& role) override;

  // --- bulk import progress (bulk.cc) ---
  Result<std::optional<ImportBatchRow>> ImportedBatch(int64_t run, int64_t batch) override;
  Status RecordImportBatch(const ImportBatchRow& row) override;
  // --- 外字 register (gaiji.cc) ---
  Status InsertGaiji(const GaijiRow& row) override;
  Result<std::vector<int64_t>> RegisteredGaijiCodePoints(const std::string& municipality) override;
  Status FlagGaijiPending(const std::string& municipality, int64_t code_point,
                          int64_t at) override;
  Status ClearGaijiPending(const std::string& municipality, int64_t code_point) override;

  // --- media register (media.cc) ---
  Result<int64_t> InsertMedia(const MediaRow& row) override;
  Status FinishMedia(int64_t id, const std::string& status, int64_t bytes,
                     const std::string& digest) override;
  Result<std::optional<MediumState>> GetMediumState(int64_t id) override;
  Result<int64_t> InsertMediaEvent(const MediaEventRow& row) override;

  // --- residents' requests and the printout register (disclosures.cc) ---
  Result<int64_t> InsertDisclosure(const DisclosureRow& row) override;
  Status RecordDisclosureDocument(int64_t id, const std::string& status, int64_t decided_at,
                                  const std::string& decided_by,
                                  const std::string& statement) override;
  Result<int64_t> InsertCorrection(const CorrectionRow& row) override;
  Status CloseDisclosure(int64_t id, const std::string& closed_as,
                         const std::string& close_reason, int64_t decided_at,
                         const std::string& decided_by) override;
  Status AnswerCorrection(int64_t id, const std::string& outcome, int64_t answered_at,
                          const std::string& answered_by) override;
  Result<int64_t> OpenDisclosureOf(const std::string& resident_code) override;
  Result<int64_t> OpenCorrectionOf(int64_t disclosure_id) override;
  Status NoteCorrectionNotified(int64_t disclosure_id, int64_t id, int64_t at,
                                const std::string& by) override;
  Result<int64_t> InsertPrintout(const PrintoutRow& row) override;
  Status SetPrintoutOutcome(int64_t id, const std::string& outcome, const std::string& method,
                            const std::string& on, int64_t at, const std::string& by) override;
  Result<int64_t> EraseDisclosuresBefore(int64_t before, bool dry_run) override;
  Result<std::vector<CorrectionRow>> CorrectionsSealedNotUnder(const std::string& current_prefix,
                                                               int limit) override;
  Result<bool> ReplaceCorrectionDetails(int64_t id, const std::string& old_sealed,
                                        const std::string& new_sealed) override;

  // --- the staff's registers (registers.cc) ---
  Result<int64_t> InsertTraining(const TrainingRow& row) override;
  Result<int64_t> InsertContract(const ContractRow& row) override;
  Status InsertContractWorker(const ContractWorkerRow& row) override;
  Status RemoveContractWorker(int64_t contract_id, const std::string& operator_id, int64_t at,
                              const std::string& by) override;
  Status EndContract(int64_t contract_id, const std::string& last_day, const std::string& today,
                     int64_t at,
                     const std::string& by) override;
  Result<int64_t> InsertReview(const ReviewRow& row) override;
  Result<bool> AttendedTraining(const std::string& operator_id, const std::string& kind,
                                const std::string& from, const std::string& to,
                                const std::string& not_recorded_by) override;
  Result<bool> WorksUnderContract(const std::string& operator_id,
                                  const std::string& day) override;

 private:
  Status Run(const std::string& sql);

  Db* db_;
  int depth_ = 0;
};

}  // namespace kakunin::store::sqlite::detail
