#pragma once

// Residents' rights (DESIGN §1.5, docs/disclosure.md): the disclosure requests (開示請求,
// 住民基本台帳法 第30条の32) the prefecture received, the correction requests (訂正等の申出)
// that followed them and went to the municipality, and the printout register (帳票の管理簿,
// the operating rules' 第3 2(4)): every document the node printed. Disclosure and correction
// rows hold a resident code and (sealed) what the resident asked to correct: never log them.
// Printout rows hold no personal data: kinds, references, counts, digests and actor ids.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace kakunin::store {

struct DisclosureRow {
  int64_t id = 0;                 // assigned by InsertDisclosure
  std::string purpose;            // the disclosure purpose (disclosure.self)
  std::string resident_code;      // as the request named it
  std::string requester;          // self | legal_representative
  std::string identity_document;  // individual_number_card | driver_license | passport | two_documents
  std::string channel;            // counter | post | online
  std::string received_on;        // YYYY-MM-DD (JST): the day the written request arrived
  std::string due_on;             // YYYY-MM-DD: the decision is due by then
  int64_t registered_at = 0;      // µs since epoch
  std::string registered_by;      // operator id
  std::string status;             // received | disclosed | no_record
  int64_t decided_at = 0;         // µs; 0 until decided (by its first notice or its closing)
  std::string decided_by;         // operator id; "" until decided
  int64_t documents = 0;          // notices printed for it (the first decides it)
  // A request that ends without a notice (status stays received, documents 0): withdrawn (取下げ),
  // rejected (却下) or entered_in_error (登録誤り); "" while it is open or once it is decided by
  // a notice. decided_at/decided_by say when and by whom it was closed.
  std::string closed_as;
  // Why a rejected request was rejected: identity_not_confirmed | not_entitled | incomplete;
  // "" otherwise.
  std::string close_reason;
};

struct CorrectionRow {
  int64_t id = 0;                 // assigned by InsertCorrection
  int64_t disclosure_id = 0;
  std::string resident_code;
  std::string municipality_code;  // the municipality it goes to (the resident's, when asked)
  std::string fields;             // the items to correct, comma-separated (kProvisionItems names)
  std::string details_sealed;     // what the resident says is wrong, sealed (FieldCipher)
  int64_t received_at = 0;        // µs
  std::string received_by;        // operator id
  std::string status;             // open | answered
  int64_t answered_at = 0;        // µs; 0 while open
  std::string answered_by;        // the municipality's actor ("cert:<spki>")
  std::string outcome;            // corrected | not_corrected; "" while open
  // The written result to the resident (調査結果通知書): when the first was printed and by whom;
  // 0 and "" until then.
  int64_t notified_at = 0;
  std::string notified_by;
};

struct PrintoutRow {
  int64_t id = 0;             // assigned by InsertPrintout
  // disclosure_notice | no_record_notice | correction_result_notice
  std::string kind;
  // What it prints, without personal data: "disclosure:12", or for a correction's result
  // "disclosure:12/correction:3".
  std::string reference;
  int64_t printed_at = 0;     // µs
  std::string printed_by;     // operator id
  int64_t pages = 0;
  std::string sha256;         // hex SHA-256 of the document's bytes
  // What became of it (交付・廃棄), once recorded: handed_over | mailed | destroyed, "" before.
  std::string outcome;
  std::string outcome_method;  // for destroyed: shredded | dissolved; "" otherwise
  std::string outcome_on;      // the day it happened, YYYY-MM-DD
  int64_t outcome_at = 0;      // when it was recorded, µs
  std::string outcome_by;      // operator id
};

class DisclosureReader {
 public:
  virtual ~DisclosureReader() = default;
  virtual Result<std::optional<DisclosureRow>> FindDisclosure(int64_t id) = 0;
  // The access statement the latest notice of request `id` printed the digest of: "" before a
  // notice, nullopt if there is no such request. Not in DisclosureRow: a statement can be
  // megabytes, and lists need none.
  virtual Result<std::optional<std::string>> DisclosureStatement(int64_t id) = 0;
  // Newest first, at most `limit`.
  virtual Result<std::vector<DisclosureRow>> ListDisclosures(int limit) = 0;
  virtual Result<std::optional<CorrectionRow>> FindCorrection(int64_t id) = 0;
  // Oldest first.
  virtual Result<std::vector<CorrectionRow>> CorrectionsOfDisclosure(int64_t disclosure_id) = 0;
  // The open corrections received for one municipality ("": for every municipality) with an id
  // above `after_id`, oldest first, at most `limit` (a page: the next one starts after the last
  // id of this one).
  virtual Result<std::vector<CorrectionRow>> OpenCorrections(const std::string& municipality_code,
                                                             int limit, int64_t after_id) = 0;
  // Newest first, at most `limit`.
  virtual Result<std::vector<PrintoutRow>> ListPrintouts(int limit) = 0;
  virtual Result<std::optional<PrintoutRow>> FindPrintout(int64_t id) = 0;
};

class DisclosureWriter {
 public:
  virtual ~DisclosureWriter() = default;
  // Returns the new row's id.
  virtual Result<int64_t> InsertDisclosure(const DisclosureRow& row) = 0;
  // The request naming `resident_code` that awaits its decision (status received, not closed),
  // the oldest if several; 0 if none. Read in the write transaction, before InsertDisclosure.
  virtual Result<int64_t> OpenDisclosureOf(const std::string& resident_code) = 0;
  // Counts one more document for `id` and keeps `statement` (the access statement it printed
  // the digest of); the first sets status, decided_at and decided_by (later ones leave them).
  // NotFound if there is no such row; FailedPrecondition (reason request_closed) if it was
  // closed without a notice (CloseDisclosure).
  virtual Status RecordDisclosureDocument(int64_t id, const std::string& status,
                                          int64_t decided_at, const std::string& decided_by,
                                          const std::string& statement) = 0;
  // Closes request `id` without a notice (DisclosureRow::closed_as, close_reason), only while it
  // awaits its decision (status received, no document, not closed) — the check and the change
  // are one statement, so of a closing and a notice at once exactly one counts. NotFound if there
  // is no such row; FailedPrecondition (reason already_decided) otherwise.
  virtual Status CloseDisclosure(int64_t id, const std::string& closed_as,
                                 const std::string& close_reason, int64_t decided_at,
                                 const std::string& decided_by) = 0;
  // The open correction of request `disclosure_id` (the oldest if several), 0 if none. Read in
  // the write transaction, before InsertCorrection: one is open at a time.
  virtual Result<int64_t> OpenCorrectionOf(int64_t disclosure_id) = 0;
  virtual Result<int64_t> InsertCorrection(const CorrectionRow& row) = 0;
  // Closes an open correction. NotFound if there is no such row; FailedPrecondition (reason
  // already_answered) if it is not open — the check and the change are one statement, so of two
  // answers at once exactly one counts.
  virtual Status AnswerCorrection(int64_t id, const std::string& outcome, int64_t answered_at,
                                  const std::string& answered_by) = 0;
  // Stamps correction `id` of request `disclosure_id` as notified (notified_at, notified_by)
  // unless an earlier result notice already did; only once it is answered — the check and the
  // change are one statement. NotFound if request `disclosure_id` has no such correction;
  // FailedPrecondition (reason not_answered) while it is open.
  virtual Status NoteCorrectionNotified(int64_t disclosure_id, int64_t id, int64_t at,
                                        const std::string& by) = 0;
  virtual Result<int64_t> InsertPrintout(const PrintoutRow& row) = 0;
  // Records what became of printout `id` (PrintoutRow::outcome…), once: the check and the change
  // are one statement, so of two records at once exactly one counts. NotFound if there is no
  // such row; FailedPrecondition (reason already_recorded) if it has one.
  virtual Status SetPrintoutOutcome(int64_t id, const std::string& outcome,
                                    const std::string& method, const std::string& on,
                                    int64_t at, const std::string& by) = 0;
  // Retention: erases disclosure requests registered before `before` (µs) with their
  // corrections, and printouts printed before it; with `dry_run` only counts. Returns how many
  // rows (disclosures + corrections + printouts).
  virtual Result<int64_t> EraseDisclosuresBefore(int64_t before, bool dry_run) = 0;
  // Field-key rotation (registry/field_key_rotation.h): at most `limit` corrections whose
  // sealed text is not under `current_prefix`, by id; and the swap of one's sealed text, only
  // if it still holds `old_sealed` (false otherwise). Counted by CountSealedNotUnder.
  virtual Result<std::vector<CorrectionRow>> CorrectionsSealedNotUnder(
      const std::string& current_prefix, int limit) = 0;
  virtual Result<bool> ReplaceCorrectionDetails(int64_t id, const std::string& old_sealed,
                                                const std::string& new_sealed) = 0;
};

}  // namespace kakunin::store
