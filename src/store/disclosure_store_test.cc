// The disclosure store (store/disclosure_store.h) on a real store: SQLite, or PostgreSQL with
// KAKUNIN_TEST_STORE=postgresql (the conformance run, tests/CMakeLists.txt). The rows are made
// up: no real resident.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "store/registry_store.h"
#include "support/registry_fixture.h"

namespace kakunin::store {
namespace {

namespace fs = std::filesystem;

class DisclosureStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("kakunin_disclosure_store_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto store = registry::testing::OpenTestStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  static DisclosureRow Disclosure(const std::string& code, int64_t registered_at) {
    DisclosureRow r;
    r.purpose = "disclosure.self";
    r.resident_code = code;
    r.requester = "self";
    r.identity_document = "individual_number_card";
    r.channel = "counter";
    r.received_on = "2026-04-01";
    r.due_on = "2026-05-01";
    r.registered_at = registered_at;
    r.registered_by = "op-1";
    r.status = "received";
    return r;
  }

  static CorrectionRow Correction(int64_t disclosure_id, const std::string& municipality,
                                  int64_t received_at) {
    CorrectionRow r;
    r.disclosure_id = disclosure_id;
    r.resident_code = "12345678901";
    r.municipality_code = municipality;
    r.fields = "name,address";
    r.details_sealed = "sealed";
    r.received_at = received_at;
    r.received_by = "op-2";
    r.status = "open";
    return r;
  }

  static PrintoutRow Printout(const std::string& reference, int64_t printed_at) {
    PrintoutRow r;
    r.kind = "disclosure_notice";
    r.reference = reference;
    r.printed_at = printed_at;
    r.printed_by = "op-3";
    r.pages = 2;
    r.sha256 = std::string(64, 'a');
    return r;
  }

  // Inserts in one transaction; the new ids.
  std::vector<int64_t> InsertDisclosures(const std::vector<DisclosureRow>& rows) {
    std::vector<int64_t> ids;
    Status st = store_->Write([&](RegistryTxn& t) {
      for (const DisclosureRow& r : rows) {
        KAKUNIN_ASSIGN_OR_RETURN(id, t.InsertDisclosure(r));
        ids.push_back(id);
      }
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return ids;
  }
  int64_t InsertCorrection(const CorrectionRow& row) {
    int64_t id = 0;
    Status st = store_->Write([&](RegistryTxn& t) {
      KAKUNIN_ASSIGN_OR_RETURN(got, t.InsertCorrection(row));
      id = got;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return id;
  }
  int64_t InsertPrintout(const PrintoutRow& row) {
    int64_t id = 0;
    Status st = store_->Write([&](RegistryTxn& t) {
      KAKUNIN_ASSIGN_OR_RETURN(got, t.InsertPrintout(row));
      id = got;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return id;
  }
  std::unique_ptr<RegistryReader> Reader() {
    auto r = store_->OpenReader();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }

  fs::path dir_;
  std::unique_ptr<RegistryStore> store_;
};

std::vector<int64_t> Ids(const auto& rows) {
  std::vector<int64_t> out;
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}

TEST_F(DisclosureStoreTest, InsertsFindsAndListsNewestFirst) {
  DisclosureRow first = Disclosure("1000000001", 100);
  first.requester = "legal_representative";
  first.identity_document = "two_documents";
  first.channel = "post";
  std::vector<int64_t> ids =
      InsertDisclosures({first, Disclosure("1000000002", 200), Disclosure("1000000003", 300)});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_LT(ids[0], ids[1]);
  EXPECT_LT(ids[1], ids[2]);

  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  auto found = reader->FindDisclosure(ids[0]);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  const DisclosureRow& f = **found;
  EXPECT_EQ(f.id, ids[0]);
  EXPECT_EQ(f.purpose, "disclosure.self");
  EXPECT_EQ(f.resident_code, "1000000001");
  EXPECT_EQ(f.requester, "legal_representative");
  EXPECT_EQ(f.identity_document, "two_documents");
  EXPECT_EQ(f.channel, "post");
  EXPECT_EQ(f.received_on, "2026-04-01");
  EXPECT_EQ(f.due_on, "2026-05-01");
  EXPECT_EQ(f.registered_at, 100);
  EXPECT_EQ(f.registered_by, "op-1");
  EXPECT_EQ(f.status, "received");
  EXPECT_EQ(f.decided_at, 0);
  EXPECT_EQ(f.decided_by, "");
  EXPECT_EQ(f.documents, 0);

  auto missing = reader->FindDisclosure(ids[2] + 100);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto all = reader->ListDisclosures(10);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(Ids(*all), (std::vector<int64_t>{ids[2], ids[1], ids[0]}));
  auto two = reader->ListDisclosures(2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(Ids(*two), (std::vector<int64_t>{ids[2], ids[1]}));

  int64_t p1 = InsertPrintout(Printout("disclosure:1", 10));
  int64_t p2 = InsertPrintout(Printout("disclosure:2", 20));
  int64_t p3 = InsertPrintout(Printout("disclosure:3", 30));
  auto printouts = reader->ListPrintouts(2);
  ASSERT_TRUE(printouts.ok()) << printouts.status().ToString();
  EXPECT_EQ(Ids(*printouts), (std::vector<int64_t>{p3, p2}));
  auto every = reader->ListPrintouts(10);
  ASSERT_TRUE(every.ok());
  ASSERT_EQ(Ids(*every), (std::vector<int64_t>{p3, p2, p1}));
  const PrintoutRow& p = every->back();
  EXPECT_EQ(p.kind, "disclosure_notice");
  EXPECT_EQ(p.reference, "disclosure:1");
  EXPECT_EQ(p.printed_at, 10);
  EXPECT_EQ(p.printed_by, "op-3");
  EXPECT_EQ(p.pages, 2);
  EXPECT_EQ(p.sha256, std::string(64, 'a'));
}

// The first notice decides the request; later ones only count.
TEST_F(DisclosureStoreTest, TheFirstDocumentDecidesLaterOnesOnlyCount) {
  int64_t id = InsertDisclosures({Disclosure("1000000001", 100)}).at(0);
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) {
                      return t.RecordDisclosureDocument(id, "disclosed", 500, "op-9", "{\"a\":1}");
                    }).ok());
  Status again = store_->Write(
      [&](RegistryTxn& t) { return t.RecordDisclosureDocument(id, "no_record", 900, "op-8", "{\"b\":2}"); });
  ASSERT_TRUE(again.ok()) << again.ToString();
  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  auto row = reader->FindDisclosure(id);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->documents, 2);
  EXPECT_EQ((*row)->status, "disclosed");
  EXPECT_EQ((*row)->decided_at, 500);
  EXPECT_EQ((*row)->decided_by, "op-9");
  // The latest document's statement is kept; none for an unknown request.
  auto statement = reader->DisclosureStatement(id);
  ASSERT_TRUE(statement.ok() && statement->has_value());
  EXPECT_EQ(**statement, "{\"b\":2}");
  EXPECT_FALSE(reader->DisclosureStatement(id + 1)->has_value());

  Status unknown = store_->Write(
      [&](RegistryTxn& t) { return t.RecordDisclosureDocument(id + 1, "disclosed", 1, "op-9", ""); });
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound) << unknown.ToString();
}

// A request closed without a notice: only one awaiting its decision, once; it then takes no
// notice, and a request a notice decided cannot be closed.
TEST_F(DisclosureStoreTest, ARequestIsClosedOnlyWhileItAwaitsItsDecision) {
  auto ids = InsertDisclosures({Disclosure("1000000001", 100), Disclosure("1000000002", 110)});
  const int64_t open = ids.at(0), decided = ids.at(1);
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) {
                      return t.RecordDisclosureDocument(decided, "disclosed", 150, "op-1", "");
                    }).ok());
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) {
                      return t.CloseDisclosure(open, "rejected", "not_entitled", 200, "op-2");
                    }).ok());
  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  auto row = reader->FindDisclosure(open);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->status, "received");
  EXPECT_EQ((*row)->closed_as, "rejected");
  EXPECT_EQ((*row)->close_reason, "not_entitled");
  EXPECT_EQ((*row)->decided_at, 200);
  EXPECT_EQ((*row)->decided_by, "op-2");
  EXPECT_EQ((*row)->documents, 0);
  for (int64_t id : {open, decided}) {
    Status again = store_->Write(
        [&](RegistryTxn& t) { return t.CloseDisclosure(id, "withdrawn", "", 300, "op-3"); });
    EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << id << " " << again.ToString();
    EXPECT_EQ(again.reason(), "already_decided") << id;
  }
  Status notice = store_->Write(
      [&](RegistryTxn& t) { return t.RecordDisclosureDocument(open, "disclosed", 400, "op-4", ""); });
  EXPECT_EQ(notice.code(), StatusCode::kFailedPrecondition) << notice.ToString();
  EXPECT_EQ(notice.reason(), "request_closed");
  Status unknown = store_->Write(
      [&](RegistryTxn& t) { return t.CloseDisclosure(decided + 1, "withdrawn", "", 1, "op-3"); });
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound) << unknown.ToString();
  // The schema keeps to the closings and reasons it knows.
  const int64_t third = InsertDisclosures({Disclosure("1000000003", 120)}).at(0);
  EXPECT_FALSE(store_->Write([&](RegistryTxn& t) {
                       return t.CloseDisclosure(third, "lost", "", 1, "op-3");
                     }).ok());
  EXPECT_FALSE(store_->Write([&](RegistryTxn& t) {
                       return t.CloseDisclosure(third, "rejected", "too_late", 1, "op-3");
                     }).ok());
  EXPECT_EQ(Reader()->FindDisclosure(third)->value().closed_as, "");
  auto after = Reader()->FindDisclosure(open);
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->closed_as, "rejected");
  EXPECT_EQ((*after)->documents, 0);
  EXPECT_EQ(Reader()->FindDisclosure(decided)->value().closed_as, "");
}

TEST_F(DisclosureStoreTest, ACorrectionIsAnsweredOnce) {
  int64_t d = InsertDisclosures({Disclosure("1000000001", 100)}).at(0);
  int64_t c = InsertCorrection(Correction(d, "192015", 200));
  Status first = store_->Write(
      [&](RegistryTxn& t) { return t.AnswerCorrection(c, "corrected", 300, "cert:aa"); });
  ASSERT_TRUE(first.ok()) << first.ToString();
  Status second = store_->Write(
      [&](RegistryTxn& t) { return t.AnswerCorrection(c, "not_corrected", 400, "cert:bb"); });
  EXPECT_EQ(second.code(), StatusCode::kFailedPrecondition) << second.ToString();
  EXPECT_EQ(second.reason(), "already_answered");
  Status unknown = store_->Write(
      [&](RegistryTxn& t) { return t.AnswerCorrection(c + 1, "corrected", 400, "cert:bb"); });
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound) << unknown.ToString();
  EXPECT_NE(unknown.reason(), "already_answered");

  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  auto row = reader->FindCorrection(c);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->status, "answered");
  EXPECT_EQ((*row)->outcome, "corrected");
  EXPECT_EQ((*row)->answered_at, 300);
  EXPECT_EQ((*row)->answered_by, "cert:aa");
  auto none = reader->FindCorrection(c + 1);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(DisclosureStoreTest, WhatBecameOfAPrintoutIsRecordedOnceAndOnlyAsTheSchemaAllows) {
  int64_t p = InsertPrintout(Printout("disclosure:1", 10));
  auto set = [&](int64_t id, const char* outcome, const char* method, const char* on) {
    return store_->Write(
        [&](RegistryTxn& t) { return t.SetPrintoutOutcome(id, outcome, method, on, 50, "sm"); });
  };
  // The database refuses what the desk would never write: an unknown outcome, a destruction
  // without how or a handover with it, no day or a malformed one.
  EXPECT_FALSE(set(p, "lost", "", "2026-04-02").ok());
  EXPECT_FALSE(set(p, "destroyed", "", "2026-04-02").ok());
  EXPECT_FALSE(set(p, "destroyed", "burnt", "2026-04-02").ok());
  EXPECT_FALSE(set(p, "handed_over", "shredded", "2026-04-02").ok());
  EXPECT_FALSE(set(p, "mailed", "", "").ok());
  EXPECT_FALSE(set(p, "mailed", "", "2026/04/02").ok());
  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  auto untouched = reader->FindPrintout(p);
  ASSERT_TRUE(untouched.ok() && untouched->has_value());
  EXPECT_EQ((*untouched)->outcome, "");

  Status first = set(p, "destroyed", "dissolved", "2026-04-02");
  ASSERT_TRUE(first.ok()) << first.ToString();
  Status second = set(p, "handed_over", "", "2026-04-03");
  EXPECT_EQ(second.code(), StatusCode::kFailedPrecondition) << second.ToString();
  EXPECT_EQ(second.reason(), "already_recorded");
  Status unknown = set(p + 1, "handed_over", "", "2026-04-03");
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound) << unknown.ToString();
  auto row = reader->FindPrintout(p);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->outcome, "destroyed");
  EXPECT_EQ((*row)->outcome_method, "dissolved");
  EXPECT_EQ((*row)->outcome_on, "2026-04-02");
  EXPECT_EQ((*row)->outcome_at, 50);
  EXPECT_EQ((*row)->outcome_by, "sm");
  EXPECT_EQ((*row)->reference, "disclosure:1");
  auto none = reader->FindPrintout(p + 1);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(DisclosureStoreTest, OpenCorrectionsOfOneMunicipalityOldestFirst) {
  std::vector<int64_t> d = InsertDisclosures({Disclosure("1000000001", 100),
                                              Disclosure("1000000002", 110)});
  ASSERT_EQ(d.size(), 2u);
  int64_t a1 = InsertCorrection(Correction(d[0], "192015", 200));
  int64_t b1 = InsertCorrection(Correction(d[0], "192023", 210));
  int64_t a2 = InsertCorrection(Correction(d[1], "192015", 220));
  int64_t a3 = InsertCorrection(Correction(d[1], "192015", 230));
  int64_t a4 = InsertCorrection(Correction(d[1], "192015", 240));
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) {
                      return t.AnswerCorrection(a2, "not_corrected", 300, "cert:aa");
                    }).ok());

  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  auto open = reader->OpenCorrections("192015", 10, 0);
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  EXPECT_EQ(Ids(*open), (std::vector<int64_t>{a1, a3, a4}));
  auto limited = reader->OpenCorrections("192015", 2, 0);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(Ids(*limited), (std::vector<int64_t>{a1, a3}));
  auto other = reader->OpenCorrections("192023", 10, 0);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(Ids(*other), (std::vector<int64_t>{b1}));
  auto nobody = reader->OpenCorrections("192031", 10, 0);
  ASSERT_TRUE(nobody.ok());
  EXPECT_TRUE(nobody->empty());
  // Every municipality's (the desk routes each to whoever holds the record now).
  auto every = reader->OpenCorrections("", 10, 0);
  ASSERT_TRUE(every.ok());
  EXPECT_EQ(Ids(*every), (std::vector<int64_t>{a1, b1, a3, a4}));
  // Page by page: the next page starts after the last id of the one before.
  auto next = reader->OpenCorrections("", 2, b1);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(Ids(*next), (std::vector<int64_t>{a3, a4}));
  auto past = reader->OpenCorrections("192015", 10, a4);
  ASSERT_TRUE(past.ok());
  EXPECT_TRUE(past->empty());

  auto of_first = reader->CorrectionsOfDisclosure(d[0]);
  ASSERT_TRUE(of_first.ok()) << of_first.status().ToString();
  EXPECT_EQ(Ids(*of_first), (std::vector<int64_t>{a1, b1}));
  auto of_second = reader->CorrectionsOfDisclosure(d[1]);
  ASSERT_TRUE(of_second.ok());
  EXPECT_EQ(Ids(*of_second), (std::vector<int64_t>{a2, a3, a4}));  // answered ones too
}

// The CHECK constraints refuse what the interface does not know; the transaction writes nothing.
TEST_F(DisclosureStoreTest, ConstraintsRefuseUnknownValuesAndNothingIsWritten) {
  auto refused = [&](DisclosureRow bad) {
    Status st = store_->Write([&](RegistryTxn& t) {
      KAKUNIN_RETURN_IF_ERROR(t.InsertDisclosure(Disclosure("1000000001", 100)).status());
      return t.InsertDisclosure(bad).status();
    });
    return !st.ok();
  };
  DisclosureRow bad_status = Disclosure("1000000002", 100);
  bad_status.status = "pending";
  EXPECT_TRUE(refused(bad_status));
  DisclosureRow bad_requester = Disclosure("1000000002", 100);
  bad_requester.requester = "neighbour";
  EXPECT_TRUE(refused(bad_requester));
  DisclosureRow bad_document = Disclosure("1000000002", 100);
  bad_document.identity_document = "library_card";
  EXPECT_TRUE(refused(bad_document));
  DisclosureRow bad_channel = Disclosure("1000000002", 100);
  bad_channel.channel = "fax";
  EXPECT_TRUE(refused(bad_channel));

  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  auto none = reader->ListDisclosures(10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "a refused transaction left rows behind";

  int64_t d = InsertDisclosures({Disclosure("1000000001", 100)}).at(0);
  CorrectionRow bad_correction = Correction(d, "192015", 200);
  bad_correction.status = "closed";
  EXPECT_FALSE(
      store_->Write([&](RegistryTxn& t) { return t.InsertCorrection(bad_correction).status(); })
          .ok());
  // A correction of a request that does not exist (the foreign key).
  EXPECT_FALSE(store_->Write([&](RegistryTxn& t) {
                       return t.InsertCorrection(Correction(d + 1, "192015", 200)).status();
                     }).ok());
  int64_t c = InsertCorrection(Correction(d, "192015", 200));
  EXPECT_FALSE(
      store_->Write([&](RegistryTxn& t) { return t.AnswerCorrection(c, "maybe", 300, "cert:aa"); })
          .ok());
  auto corrections = reader->CorrectionsOfDisclosure(d);
  ASSERT_TRUE(corrections.ok());
  ASSERT_EQ(Ids(*corrections), (std::vector<int64_t>{c}));
  EXPECT_EQ(corrections->front().status, "open") << "a refused answer closed the correction";
  EXPECT_EQ(corrections->front().outcome, "");
}

TEST_F(DisclosureStoreTest, SealedDetailsRoundTripByteExact) {
  int64_t d = InsertDisclosures({Disclosure("1000000001", 100)}).at(0);
  std::string sealed("\0\xff\x00x\xff\0", 6);
  for (int b = 0; b < 256; ++b) sealed.push_back(static_cast<char>(b));
  CorrectionRow row = Correction(d, "192015", 200);
  row.details_sealed = sealed;
  int64_t c = InsertCorrection(row);
  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  auto got = reader->FindCorrection(c);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->details_sealed.size(), sealed.size());
  EXPECT_EQ((*got)->details_sealed, sealed);
  EXPECT_EQ((*got)->disclosure_id, d);
  EXPECT_EQ((*got)->resident_code, "12345678901");
  EXPECT_EQ((*got)->municipality_code, "192015");
  EXPECT_EQ((*got)->fields, "name,address");
  EXPECT_EQ((*got)->received_at, 200);
  EXPECT_EQ((*got)->received_by, "op-2");
  EXPECT_EQ((*got)->status, "open");
  EXPECT_EQ((*got)->answered_at, 0);
  EXPECT_EQ((*got)->answered_by, "");
  EXPECT_EQ((*got)->outcome, "");
}

TEST_F(DisclosureStoreTest, RetentionErasesTheOlderRowsWithTheirCorrections) {
  std::vector<int64_t> d = InsertDisclosures({Disclosure("1000000001", 100),
                                              Disclosure("1000000002", 300)});
  ASSERT_EQ(d.size(), 2u);
  // The old request's corrections were received after the cut-off and answered: they go with it.
  int64_t c1 = InsertCorrection(Correction(d[0], "192015", 250));
  int64_t c2 = InsertCorrection(Correction(d[0], "192023", 260));
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) -> Status {
                      KAKUNIN_RETURN_IF_ERROR(t.AnswerCorrection(c1, "corrected", 270, "cert:aa"));
                      return t.AnswerCorrection(c2, "not_corrected", 280, "cert:bb");
                    }).ok());
  int64_t kept_correction = InsertCorrection(Correction(d[1], "192015", 310));
  // An old request whose correction the municipality has not answered stays, with it.
  std::vector<int64_t> open_request = InsertDisclosures({Disclosure("1000000003", 120)});
  int64_t open_correction = InsertCorrection(Correction(open_request[0], "192015", 290));
  InsertPrintout(Printout("disclosure:1", 150));
  int64_t kept_printout = InsertPrintout(Printout("disclosure:2", 400));
  const int64_t before = 200;

  int64_t counted = -1;
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) {
                      KAKUNIN_ASSIGN_OR_RETURN(n, t.EraseDisclosuresBefore(before, true));
                      counted = n;
                      return Status::Ok();
                    }).ok());
  EXPECT_EQ(counted, 4);  // 1 disclosure + 2 corrections + 1 printout
  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  auto still = reader->ListDisclosures(10);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->size(), 3u) << "the dry run erased";

  int64_t erased = -1;
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) {
                      KAKUNIN_ASSIGN_OR_RETURN(n, t.EraseDisclosuresBefore(before, false));
                      erased = n;
                      return Status::Ok();
                    }).ok());
  EXPECT_EQ(erased, 4);

  auto disclosures = reader->ListDisclosures(10);
  ASSERT_TRUE(disclosures.ok());
  std::vector<int64_t> left = Ids(*disclosures);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<int64_t>{d[1], open_request[0]}));
  auto still_open = reader->FindCorrection(open_correction);
  ASSERT_TRUE(still_open.ok());
  EXPECT_TRUE(*still_open);
  auto gone = reader->CorrectionsOfDisclosure(d[0]);
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->empty());
  auto kept = reader->CorrectionsOfDisclosure(d[1]);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(Ids(*kept), (std::vector<int64_t>{kept_correction}));
  auto open = reader->OpenCorrections("192023", 10, 0);
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->empty());
  auto printouts = reader->ListPrintouts(10);
  ASSERT_TRUE(printouts.ok());
  EXPECT_EQ(Ids(*printouts), (std::vector<int64_t>{kept_printout}));

  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) {
                      KAKUNIN_ASSIGN_OR_RETURN(n, t.EraseDisclosuresBefore(before, true));
                      counted = n;
                      return Status::Ok();
                    }).ok());
  EXPECT_EQ(counted, 0);
}

// One transaction across the three tables; a reader opened afterwards sees all of it, and a
// transaction that fails leaves none of it.
// Printouts and log entries name requests by number: a number is never handed out again, not
// even after retention erased every row.
TEST_F(DisclosureStoreTest, ANumberIsNeverHandedOutAgain) {
  std::vector<int64_t> old = InsertDisclosures({Disclosure("1000000001", 100),
                                                Disclosure("1000000002", 100)});
  ASSERT_EQ(old.size(), 2u);
  ASSERT_TRUE(store_->Write([&](RegistryTxn& t) -> Status {
                      KAKUNIN_ASSIGN_OR_RETURN(n, t.EraseDisclosuresBefore(1000, false));
                      EXPECT_EQ(n, 2);
                      return Status::Ok();
                    }).ok());
  std::vector<int64_t> fresh = InsertDisclosures({Disclosure("1000000003", 2000)});
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_GT(fresh[0], old[1]);
}

TEST_F(DisclosureStoreTest, OneTransactionIsSeenWhole) {
  int64_t d = 0, c = 0, p = 0;
  Status st = store_->Write([&](RegistryTxn& t) {
    KAKUNIN_ASSIGN_OR_RETURN(id, t.InsertDisclosure(Disclosure("1000000001", 100)));
    d = id;
    KAKUNIN_RETURN_IF_ERROR(t.RecordDisclosureDocument(d, "disclosed", 150, "op-1", ""));
    KAKUNIN_ASSIGN_OR_RETURN(cid, t.InsertCorrection(Correction(d, "192015", 200)));
    c = cid;
    KAKUNIN_RETURN_IF_ERROR(t.AnswerCorrection(c, "corrected", 250, "cert:aa"));
    KAKUNIN_ASSIGN_OR_RETURN(pid, t.InsertPrintout(Printout("disclosure:1", 150)));
    p = pid;
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto reader = Reader();
  ASSERT_NE(reader, nullptr);
  auto disclosure = reader->FindDisclosure(d);
  ASSERT_TRUE(disclosure.ok() && disclosure->has_value());
  EXPECT_EQ((*disclosure)->status, "disclosed");
  EXPECT_EQ((*disclosure)->documents, 1);
  auto correction = reader->FindCorrection(c);
  ASSERT_TRUE(correction.ok() && correction->has_value());
  EXPECT_EQ((*correction)->status, "answered");
  auto printouts = reader->ListPrintouts(1);
  ASSERT_TRUE(printouts.ok());
  EXPECT_EQ(Ids(*printouts), (std::vector<int64_t>{p}));

  Status failed = store_->Write([&](RegistryTxn& t) -> Status {
    KAKUNIN_RETURN_IF_ERROR(t.InsertDisclosure(Disclosure("1000000002", 300)).status());
    KAKUNIN_RETURN_IF_ERROR(t.InsertPrintout(Printout("disclosure:2", 300)).status());
    return Status::Internal("the caller gave up");
  });
  EXPECT_FALSE(failed.ok());
  auto after = Reader();
  ASSERT_NE(after, nullptr);
  auto disclosures = after->ListDisclosures(10);
  ASSERT_TRUE(disclosures.ok());
  EXPECT_EQ(Ids(*disclosures), (std::vector<int64_t>{d}));
  auto all_printouts = after->ListPrintouts(10);
  ASSERT_TRUE(all_printouts.ok());
  EXPECT_EQ(Ids(*all_printouts), (std::vector<int64_t>{p}));
}

}  // namespace
}  // namespace kakunin::store
