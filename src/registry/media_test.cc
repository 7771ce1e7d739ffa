// The media register (registry::MediaDesk) on a real store (SQLite, or PostgreSQL with
// KAKUNIN_TEST_STORE=postgresql): an export's row begun and finished with its entries, what
// becomes of a medium (taken out, returned, disposed of) and what is refused in each state, what
// a malformed call changes (nothing), and what the log says of each call (the medium and the
// event, never the note).

#include "registry/media.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "audit/log.h"
#include "support/registry_fixture.h"

namespace kakunin::registry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOut[] = "監査委員事務局へ貸出（令和8年度 定期監査）";
constexpr char kBack[] = "返却を受け施錠保管庫へ";
constexpr char kDestroyed[] = "物理破砕 立会: 情報政策課";

class MediaTest : public testing::RegistryFixture {
 public:
  MediaTest() : RegistryFixture("kakunin_media_", Date::FromYmd(2026, 11, 20)) {}

  void SetUp() override {
    RegistryFixture::SetUp();
    if (HasFatalFailure()) return;
    desk_ = std::make_unique<MediaDesk>(store_.get(), registry_.get(), &clock_);
  }

  const Actor kAdmin{"os:kakunin", "host"};

  // An export's row, finished as written (or not).
  int64_t Export(bool written = true) {
    audit::AuditEntry e;
    e.actor = kAdmin.id;
    e.terminal = kAdmin.terminal;
    e.action = "audit.export";
    e.conditions = "from=2026-04-01 to=2026-09-30";
    e.outcome = "done";
    auto id = desk_->BeginExport(std::move(e), "2026-04-01..2026-09-30", "/media/usb0/log.kla");
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_TRUE(desk_
                    ->FinishExport(*id, written, written ? 4096 : 0,
                                   written ? std::string(64, 'a') : "", kAdmin)
                    .ok());
    return *id;
  }

  Medium Get(int64_t id) {
    auto all = desk_->List();
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    for (const auto& m : *all) {
      if (m.id == id) return m;
    }
    ADD_FAILURE() << "no medium " << id;
    return {};
  }

  std::vector<std::string> Outcomes(const std::string& action) {
    std::vector<std::string> out;
    for (const auto& e : LogEntries(action)) out.push_back(e.outcome + " " + e.conditions);
    return out;
  }

  size_t EventCount() {
    auto reader = store_->OpenReader();
    auto rows = (*reader)->ListMediaEvents();
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->size() : 0;
  }

  std::unique_ptr<MediaDesk> desk_;
};

TEST_F(MediaTest, AnExportIsAMediumWithItsDigestAndBothEntries) {
  int64_t id = Export();
  Medium m = Get(id);
  EXPECT_EQ(m.kind, "audit_export");
  EXPECT_EQ(m.label, "2026-04-01..2026-09-30");
  EXPECT_EQ(m.location, "/media/usb0/log.kla");
  EXPECT_EQ(m.status, "complete");
  EXPECT_EQ(m.bytes, 4096);
  EXPECT_EQ(m.digest, std::string(64, 'a'));
  EXPECT_EQ(m.created_by, "os:kakunin");
  EXPECT_EQ(m.custody, "stored");
  EXPECT_TRUE(m.events.empty());
  EXPECT_THAT(Outcomes("audit.export"), ElementsAre("done from=2026-04-01 to=2026-09-30"));
  EXPECT_THAT(Outcomes("audit.export.complete"),
              ElementsAre("done media=" + std::to_string(id) + " sha256=" + std::string(64, 'a')));

  int64_t failed = Export(/*written=*/false);
  EXPECT_EQ(Get(failed).status, "failed");
  EXPECT_THAT(Outcomes("audit.export.failed"),
              ElementsAre("failed media=" + std::to_string(failed)));
}

TEST_F(MediaTest, TakenOutReturnedDisposedInThatOrderOnly) {
  int64_t id = Export();
  const std::string m = "media=" + std::to_string(id);
  ASSERT_TRUE(desk_->RecordCustody(id, "taken_out", kOut, kAdmin).ok());
  EXPECT_EQ(Get(id).custody, "taken_out");
  // One medium is out once: a second clerk cannot take it out again, nor dispose of it twice.
  auto again = desk_->RecordCustody(id, "taken_out", kOut, kAdmin);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().reason(), "conflict");
  EXPECT_THAT(again.status().message(), HasSubstr("taken_out"));
  ASSERT_TRUE(desk_->RecordCustody(id, "returned", kBack, kAdmin).ok());
  EXPECT_EQ(Get(id).custody, "stored");
  EXPECT_EQ(desk_->RecordCustody(id, "returned", kBack, kAdmin).status().reason(), "conflict");
  ASSERT_TRUE(desk_->RecordCustody(id, "disposed", kDestroyed, kAdmin).ok());
  for (const char* event : {"taken_out", "returned", "disposed"}) {
    EXPECT_EQ(desk_->RecordCustody(id, event, kOut, kAdmin).status().reason(), "conflict")
        << event;
  }
  Medium now = Get(id);
  EXPECT_EQ(now.custody, "disposed");
  ASSERT_EQ(now.events.size(), 3u);
  EXPECT_EQ(now.events[0].event, "taken_out");
  EXPECT_EQ(now.events[0].note, kOut);
  EXPECT_EQ(now.events[0].recorded_by, "os:kakunin");
  EXPECT_EQ(now.events[1].event, "returned");
  EXPECT_EQ(now.events[2].event, "disposed");
  EXPECT_EQ(now.events[2].note, kDestroyed);
  EXPECT_THAT(Outcomes("media.custody"),
              ElementsAre("done " + m + " event=taken_out",
                          "refused:conflict " + m + " event=taken_out",
                          "done " + m + " event=returned",
                          "refused:conflict " + m + " event=returned",
                          "done " + m + " event=disposed",
                          "refused:conflict " + m + " event=taken_out",
                          "refused:conflict " + m + " event=returned",
                          "refused:conflict " + m + " event=disposed"));
  // The notes stay in the register: the seven-year log names the medium and the event only.
  std::string log = AllLogText();
  for (const char* note : {kOut, kBack, kDestroyed}) EXPECT_THAT(log, Not(HasSubstr(note)));
  EXPECT_THAT(log, Not(HasSubstr("監査委員")));
}

TEST_F(MediaTest, AFailedOrUnfinishedWriteIsOnlyDisposedOf) {
  int64_t failed = Export(/*written=*/false);
  EXPECT_EQ(desk_->RecordCustody(failed, "taken_out", kOut, kAdmin).status().reason(), "conflict");
  EXPECT_EQ(desk_->RecordCustody(failed, "returned", kBack, kAdmin).status().reason(), "conflict");
  ASSERT_TRUE(desk_->RecordCustody(failed, "disposed", kDestroyed, kAdmin).ok());
  EXPECT_EQ(Get(failed).custody, "disposed");

  // A write still under way (or one a crash cut short) is not taken out either.
  audit::AuditEntry e;
  e.actor = kAdmin.id;
  e.action = "audit.export";
  e.outcome = "done";
  auto writing = desk_->BeginExport(std::move(e), "x", "/media/usb1/log.kla");
  ASSERT_TRUE(writing.ok());
  EXPECT_EQ(Get(*writing).custody, "writing");
  EXPECT_EQ(desk_->RecordCustody(*writing, "taken_out", kOut, kAdmin).status().reason(),
            "conflict");
  EXPECT_TRUE(desk_->RecordCustody(*writing, "disposed", kDestroyed, kAdmin).ok());
}

TEST_F(MediaTest, MalformedCallsChangeNothingAndAreRecorded) {
  int64_t id = Export();
  struct Case {
    int64_t id;
    std::string event;
    std::string note;
    std::string reason;
  } cases[] = {
      {id, "lent", kOut, "invalid_request"},
      {id, "TAKEN_OUT", kOut, "invalid_request"},
      {id, "taken_out", "", "invalid_request"},
      {id, "taken_out", std::string(501, 'x'), "invalid_request"},
      {id, "taken_out", "貸出\n二行目", "invalid_request"},
      {id, "taken_out", std::string("bad\xff utf-8"), "invalid_request"},
      // What a resident code or an individual number looks like, however written.
      {id, "taken_out", "12345678901 の分", "invalid_request"},
      {id, "taken_out", "１２３４ ５６７８ ９０１２ の分", "invalid_request"},
      {0, "taken_out", kOut, "invalid_request"},
      {-3, "taken_out", kOut, "invalid_request"},
      // An "id" as long as an individual number is never written anywhere (review).
      {777777777712, "taken_out", kOut, "invalid_request"},
      {id + 1000, "taken_out", kOut, "not_found"},
  };
  for (const auto& c : cases) {
    auto r = desk_->RecordCustody(c.id, c.event, c.note, kAdmin);
    ASSERT_FALSE(r.ok()) << c.event << " " << c.note;
    EXPECT_EQ(r.status().reason(), c.reason) << c.event << " " << c.note;
    // The refusal never repeats the note.
    if (!c.note.empty()) {
      EXPECT_THAT(r.status().message(), Not(HasSubstr(c.note)));
    }
  }
  EXPECT_EQ(EventCount(), 0u);
  EXPECT_EQ(Get(id).custody, "stored");
  auto entries = LogEntries("media.custody");
  ASSERT_EQ(entries.size(), std::size(cases));
  // An event the desk does not know is not echoed into the log.
  EXPECT_EQ(entries[0].conditions, "media=" + std::to_string(id) + " event=(invalid)");
  EXPECT_EQ(entries[0].outcome, "refused:invalid_request");
  EXPECT_EQ(entries.back().outcome, "refused:not_found");
  std::string log = AllLogText();
  EXPECT_THAT(log, Not(HasSubstr("lent")));
  EXPECT_THAT(log, Not(HasSubstr("12345678901")));
  EXPECT_THAT(log, Not(HasSubstr("777777777712")));
  for (const auto& c : cases) {
    auto r = desk_->RecordCustody(c.id, c.event, c.note, kAdmin);
    EXPECT_THAT(r.status().message(), Not(HasSubstr("777777777712")));
  }
  // A well-formed medium can still be taken out afterwards.
  EXPECT_TRUE(desk_->RecordCustody(id, "taken_out", "12:00 監査室へ", kAdmin).ok());
}

}  // namespace
}  // namespace kakunin::registry
