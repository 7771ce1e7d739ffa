#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "domain/local_gov_code.h"
#include "notify/config.h"
#include "notify/https_client.h"
#include "notify/journal.h"
#include "notify/sender.h"
#include "core/bytes.h"
#include "crypto/sha256.h"
#include "text/json.h"

namespace kakunin::notify {
namespace {

namespace fs = std::filesystem;

Notification Make(uint64_t seq) {
  Notification n;
  n.municipality_code = "192015";
  n.sequence = seq;
  n.kind = NotificationKind::kEntry;
  n.reason = ChangeReason::kBirth;
  n.change_date = Date::FromYmd(2026, 3, 1);
  n.resident_code = ResidentCode::FromTenDigits("24727059" + std::to_string(10 + seq));
  n.individual_number = IndividualNumber::FromElevenDigits("123456789" + std::to_string(10 + seq));
  n.name = "山田　花子";
  n.sex = Sex::kFemale;
  n.birth_date = Date::FromYmd(2026, 3, 1);
  n.address = LocalGovTable::Builtin().Find("192015")->FullName() + "1番地";
  return n;
}

// A client key as a CS holds one (PEM, a fresh P-256 key).
void WriteClientKey(const std::string& path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  BIO* bio = BIO_new_file(path.c_str(), "w");
  ASSERT_NE(bio, nullptr);
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  BIO_free(bio);
  EVP_PKEY_free(key);
}

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/kakunin-notify-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    WriteClientKey(Path("cs.key"));
    auto key = JournalKey(Path("cs.key"));
    ASSERT_TRUE(key.ok()) << key.status().message();
    key_ = *key;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Read(const std::string& name) const {
    std::ifstream f(Path(name));
    std::stringstream text;
    text << f.rdbuf();
    return text.str();
  }

  fs::path dir_;
  std::string key_;  // the journal key of cs.key
};

// A node that answers each batch by `answer` (given the request's notifications).
class FakeTransport : public Transport {
 public:
  std::function<Result<HttpsResponse>(const text::JsonValue& list)> answer;
  std::vector<std::vector<uint64_t>> batches;  // the sequences of each request

  Result<HttpsResponse> PostJson(std::string_view path, std::string_view body) override {
    EXPECT_EQ(path, "/v1/notifications");
    auto doc = text::ParseJson(body);
    EXPECT_TRUE(doc.ok());
    const text::JsonValue& list = *doc->Find("notifications");
    std::vector<uint64_t> seqs;
    for (const auto& n : list.items()) seqs.push_back(*n.Find("sequence")->AsInt64());
    batches.push_back(seqs);
    return answer(list);
  }
};

Result<HttpsResponse> AllOk(const text::JsonValue& list) {
  std::string body = "{\"results\":[";
  for (size_t i = 0; i < list.items().size(); ++i) {
    body += (i ? "," : "") + std::string("{\"index\":") + std::to_string(i) + ",\"ok\":true}";
  }
  return HttpsResponse{200, "application/json", body + "]}"};
}

std::string Lines(uint64_t from, uint64_t to) {
  std::string s;
  for (uint64_t q = from; q <= to; ++q) s += ToCanonicalJson(Make(q)) + "\n";
  return s;
}

SendOptions Options(int batch) {
  SendOptions o;
  o.batch_size = batch;
  o.retries = 3;
  o.check.today = Date::FromYmd(2026, 4, 1);
  o.sleep = [](std::chrono::milliseconds) {};
  o.jitter_seed = 1;
  return o;
}

TEST_F(NotifyTest, SendsInBatchesJournalsAndSkipsWhatWasAcknowledged) {
  auto journal = Journal::Open(Path("j"), key_);
  ASSERT_TRUE(journal.ok()) << journal.status().message();
  FakeTransport node;
  node.answer = AllOk;
  std::istringstream in(Lines(1, 5));
  std::ostringstream out;
  SendSummary summary;
  std::string error;
  EXPECT_EQ(SendNotifications(in, Options(2), node, *journal, out, &summary, &error), 0) << error;
  EXPECT_EQ(node.batches, (std::vector<std::vector<uint64_t>>{{1, 2}, {3, 4}, {5}}));
  EXPECT_EQ(out.str(),
            "{\"line\":1,\"ok\":true}\n{\"line\":2,\"ok\":true}\n{\"line\":3,\"ok\":true}\n"
            "{\"line\":4,\"ok\":true}\n{\"line\":5,\"ok\":true}\n");
  EXPECT_EQ(summary.applied, 5);

  // Reopened (another run): the five are not sent again; a sixth is.
  journal = Status::Internal("closed");
  auto again = Journal::Open(Path("j"), key_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), 5u);
  node.batches.clear();
  std::istringstream in2(Lines(1, 6));
  std::ostringstream out2;
  SendSummary s2;
  EXPECT_EQ(SendNotifications(in2, Options(2), node, *again, out2, &s2, &error), 0);
  EXPECT_EQ(node.batches, (std::vector<std::vector<uint64_t>>{{6}}));
  EXPECT_EQ(s2.from_journal, 5);
  EXPECT_NE(out2.str().find("{\"line\":3,\"ok\":true,\"duplicate\":true}"), std::string::npos);

  // An edited notification under an acknowledged sequence is not skipped: the node decides.
  Notification edited = Make(2);
  edited.name = "山田　華子";
  std::istringstream in3(ToCanonicalJson(edited) + "\n");
  std::ostringstream out3;
  SendSummary s3;
  node.batches.clear();
  EXPECT_EQ(SendNotifications(in3, Options(2), node, *again, out3, &s3, &error), 0);
  EXPECT_EQ(node.batches.size(), 1u);

  // The journal holds no personal data.
  const std::string text = Read("j");
  EXPECT_EQ(text.find("山田"), std::string::npos);
  EXPECT_EQ(text.find(Make(1).resident_code.str()), std::string::npos);
  EXPECT_EQ(text.find(Make(1).individual_number.str()), std::string::npos);
}

// A node that keeps the sequences it applied, answers those again as duplicates, and refuses
// one past the next expected as sequence_gap (the contract's rule for one sender).
struct RememberingNode {
  std::set<uint64_t> held;
  Result<HttpsResponse> operator()(const text::JsonValue& list) {
    std::string body = "{\"results\":[";
    for (size_t i = 0; i < list.items().size(); ++i) {
      const uint64_t seq = static_cast<uint64_t>(*list.items()[i].Find("sequence")->AsInt64());
      body += (i ? "," : "") + std::string("{\"index\":") + std::to_string(i);
      if (held.count(seq)) {
        body += ",\"ok\":true,\"duplicate\":true}";
      } else if (seq != held.size() + 1) {
        body += ",\"ok\":false,\"errors\":[{\"field\":\"record\",\"code\":\"sequence_gap\"}]}";
      } else {
        held.insert(seq);
        body += ",\"ok\":true}";
      }
    }
    return HttpsResponse{200, "application/json", body + "]}"};
  }
};

TEST_F(NotifyTest, AfterARollbackResendSendsWhatTheJournalListsAndThePlainRunSkips) {
  RememberingNode state;
  FakeTransport node;
  node.answer = [&](const text::JsonValue& list) { return state(list); };
  std::string error;
  {
    auto journal = Journal::Open(Path("j"), key_);
    ASSERT_TRUE(journal.ok());
    std::istringstream in(Lines(1, 4));
    std::ostringstream out;
    SendSummary s;
    ASSERT_EQ(SendNotifications(in, Options(10), node, *journal, out, &s, &error), 0) << error;
    ASSERT_EQ(s.applied, 4);
  }
  // The node is restored from a backup taken after sequence 2: it lost 3 and 4.
  state.held = {1, 2};

  // A plain run trusts the journal: nothing is sent, the node still lacks 3 and 4, and the
  // next new record is refused as sequence_gap.
  auto journal = Journal::Open(Path("j"), key_);
  ASSERT_TRUE(journal.ok());
  node.batches.clear();
  std::istringstream in(Lines(1, 4));
  std::ostringstream out;
  SendSummary plain;
  EXPECT_EQ(SendNotifications(in, Options(10), node, *journal, out, &plain, &error), 0);
  EXPECT_TRUE(node.batches.empty());
  EXPECT_EQ(plain.from_journal, 4);
  EXPECT_EQ(state.held, (std::set<uint64_t>{1, 2}));
  std::istringstream next(Lines(5, 5));
  std::ostringstream next_out;
  SendSummary gap;
  EXPECT_EQ(SendNotifications(next, Options(10), node, *journal, next_out, &gap, &error), 1);
  EXPECT_NE(next_out.str().find("sequence_gap"), std::string::npos);

  // --resend sends them all: 1 and 2 come back as duplicates, 3 and 4 are applied again, and
  // then the new one goes through.
  node.batches.clear();
  SendOptions resend = Options(10);
  resend.resend = true;
  std::istringstream in2(Lines(1, 5));
  std::ostringstream out2;
  SendSummary s2;
  EXPECT_EQ(SendNotifications(in2, resend, node, *journal, out2, &s2, &error), 0) << error;
  EXPECT_EQ(node.batches, (std::vector<std::vector<uint64_t>>{{1, 2, 3, 4, 5}}));
  EXPECT_EQ(state.held, (std::set<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(s2.resent, 4);
  EXPECT_EQ(s2.from_journal, 0);
  EXPECT_EQ(s2.duplicates, 2);  // what the node already held
  EXPECT_EQ(s2.applied, 3);
  EXPECT_EQ(out2.str(),
            "{\"line\":1,\"ok\":true,\"duplicate\":true}\n"
            "{\"line\":2,\"ok\":true,\"duplicate\":true}\n{\"line\":3,\"ok\":true}\n"
            "{\"line\":4,\"ok\":true}\n{\"line\":5,\"ok\":true}\n");
  // The new acknowledgement is journaled, the ones already there are not written twice.
  journal = Status::Internal("closed");
  auto reopened = Journal::Open(Path("j"), key_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  EXPECT_EQ(reopened->size(), 5u);
  const std::string text = Read("j");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + 5);
}

TEST_F(NotifyTest, RejectionsAreReportedWithTheirLineAndStopNothing) {
  auto journal = Journal::Open(Path("j"), key_);
  ASSERT_TRUE(journal.ok());
  FakeTransport node;
  node.answer = [](const text::JsonValue& list) -> Result<HttpsResponse> {
    std::string body = "{\"results\":[";
    for (size_t i = 0; i < list.items().size(); ++i) {
      body += i ? "," : "";
      if (*list.items()[i].Find("sequence")->AsInt64() == 2) {
        body += "{\"index\":" + std::to_string(i) +
                ",\"ok\":false,\"errors\":[{\"field\":\"record\",\"code\":\"sequence_conflict\"}]}";
      } else {
        body += "{\"index\":" + std::to_string(i) + ",\"ok\":true,\"duplicate\":true}";
      }
    }
    return HttpsResponse{200, "application/json", body + "]}"};
  };
  // Line 2 fails the field checks here (never sent); line 3 is refused by the node.
  Notification bad = Make(9);
  std::string text =
      ToCanonicalJson(Make(1)) + "\n" +
      ToCanonicalJson(bad).replace(ToCanonicalJson(bad).find("\"female\""), 8, "\"other\"") + "\n" +
      Lines(2, 3);
  std::istringstream in(text);
  std::ostringstream out;
  SendSummary summary;
  std::string error;
  EXPECT_EQ(SendNotifications(in, Options(10), node, *journal, out, &summary, &error), 1);
  EXPECT_EQ(
      out.str(),
      "{\"line\":1,\"ok\":true,\"duplicate\":true}\n"
      "{\"line\":2,\"ok\":false,\"errors\":[{\"field\":\"sex\",\"code\":\"unknown_value\"}]}\n"
      "{\"line\":3,\"ok\":false,\"errors\":[{\"field\":\"record\",\"code\":\"sequence_conflict\"}]}"
      "\n"
      "{\"line\":4,\"ok\":true,\"duplicate\":true}\n");
  EXPECT_EQ(node.batches, (std::vector<std::vector<uint64_t>>{{1, 2, 3}}));
  EXPECT_EQ(journal->size(), 2u);  // the refused one is not acknowledged
  EXPECT_FALSE(journal->Acknowledged("192015", 2, NotificationHash(Make(2), key_)));
}

TEST_F(NotifyTest, TransportFailuresAreRetriedThenGiveUpWithExitTwo) {
  auto journal = Journal::Open(Path("j"), key_);
  ASSERT_TRUE(journal.ok());
  FakeTransport node;
  int calls = 0;
  node.answer = [&](const text::JsonValue& list) -> Result<HttpsResponse> {
    ++calls;
    if (calls == 1) return Status::Unavailable("reset");
    if (calls == 2) return HttpsResponse{503, "application/problem+json", "{\"code\":\"halted\"}"};
    return AllOk(list);
  };
  std::vector<std::chrono::milliseconds> waits;
  SendOptions o = Options(10);
  o.sleep = [&](std::chrono::milliseconds w) { waits.push_back(w); };
  std::istringstream in(Lines(1, 2));
  std::ostringstream out;
  SendSummary summary;
  std::string error;
  EXPECT_EQ(SendNotifications(in, o, node, *journal, out, &summary, &error), 0) << error;
  ASSERT_EQ(waits.size(), 2u);
  EXPECT_GE(waits[0].count(), 100);
  EXPECT_LE(waits[0].count(), 200);
  EXPECT_GE(waits[1].count(), 200);
  EXPECT_LE(waits[1].count(), 400);
  EXPECT_EQ(summary.retried, 2);

  // Never reachable: exit 2 after `retries` attempts, nothing printed or journaled.
  node.answer = [](const text::JsonValue&) -> Result<HttpsResponse> {
    return Status::Unavailable("refused");
  };
  std::istringstream in2(Lines(3, 4));
  std::ostringstream out2;
  SendSummary s2;
  EXPECT_EQ(SendNotifications(in2, Options(10), node, *journal, out2, &s2, &error), 2);
  EXPECT_NE(error.find("gave up after 3 attempts"), std::string::npos) << error;
  EXPECT_EQ(out2.str(), "");
  EXPECT_EQ(journal->size(), 2u);
}

TEST_F(NotifyTest, ARequestRefusedAsAWholeOrAMalformedAnswerStopsWithExitTwo) {
  auto journal = Journal::Open(Path("j"), key_);
  ASSERT_TRUE(journal.ok());
  FakeTransport node;
  std::string error;
  const std::vector<std::pair<int, std::string>> answers = {
      {403, "{\"code\":\"client_not_registered\",\"detail\":\"x\"}"},
      {200, "{\"results\":[{\"index\":0,\"ok\":true}]}"},  // one result for two
      {200, "{\"results\":[{\"index\":1,\"ok\":true},{\"index\":0,\"ok\":true}]}"},
      {200, "{\"results\":[{\"index\":0,\"ok\":false},{\"index\":1,\"ok\":true}]}"},
      {200, "not json"},
  };
  for (const auto& [status, body] : answers) {
    node.answer = [&](const text::JsonValue&) -> Result<HttpsResponse> {
      return HttpsResponse{status, "application/json", body};
    };
    std::istringstream in(Lines(1, 2));
    std::ostringstream out;
    SendSummary s;
    EXPECT_EQ(SendNotifications(in, Options(10), node, *journal, out, &s, &error), 2) << body;
    EXPECT_EQ(journal->size(), 0u) << body;
    if (status == 403) {  // the problem's code, never its detail
      EXPECT_NE(error.find("403 (client_not_registered)"), std::string::npos) << error;
    }
    EXPECT_EQ(error.find("\"x\""), std::string::npos) << error;
  }
  EXPECT_NE(error.find("one result per notification"), std::string::npos) << error;
}

TEST_F(NotifyTest, TheJournalIsStrictButForgivesATornLastLine) {
  const std::string h(64, 'a');
  std::string header;
  {
    auto fresh = Journal::Open(Path("fresh"), key_);
    ASSERT_TRUE(fresh.ok()) << fresh.status().message();
    header = Read("fresh");
  }
  ASSERT_EQ(header.rfind("kakunin-notify-journal 2 ", 0), 0u) << header;
  {
    std::ofstream f(Path("torn"));
    f << header << "ack 1 192015 1 " << h << "\nack 2 192015 2 " << h.substr(0, 10);
  }
  auto torn = Journal::Open(Path("torn"), key_);
  ASSERT_TRUE(torn.ok()) << torn.status().message();
  EXPECT_EQ(torn->size(), 1u);
  ASSERT_TRUE(torn->Append({{2, "192015", 2, h}}).ok());
  torn = Status::Internal("closed");
  auto reread = Journal::Open(Path("torn"), key_);
  ASSERT_TRUE(reread.ok()) << reread.status().message();
  EXPECT_EQ(reread->size(), 2u);

  const std::vector<std::string> damaged = {
      "not a journal\n",
      header.substr(0, header.size() - 1),
      header + "ack 1 192015 1 " + h + " extra\n",
      header + "ack 0 192015 1 " + h + "\n",
      header + "ack 1 19201 1 " + h + "\n",
      header + "ack 1 192015 01 " + h + "\n",
      header + "ack 1 192015 1 " + std::string(64, 'A') + "\n",
      header + "ack 1 192015 1 " + h + "\nack 2 192015 1 " + std::string(64, 'b') + "\n",
      header + "\nack 1 192015 1 " + h + "\n",
  };
  for (const auto& text : damaged) {
    {
      std::ofstream f(Path("bad"), std::ios::trunc);
      f << text;
    }
    EXPECT_FALSE(Journal::Open(Path("bad"), key_).ok()) << text;
  }
}

// Found in review: each ack line held SHA-256 over a fixed prefix and the canonical JSON, 個人番号
// included; with a record's other fields (a registry's clear columns) the number was found by
// trying them all. The hash is now keyed by the client key: it is not the unkeyed one, differs
// under another key, and resending still recognises what was acknowledged (above).
TEST_F(NotifyTest, TheJournalsHashIsKeyedByTheClientKey) {
  auto journal = Journal::Open(Path("j"), key_);
  ASSERT_TRUE(journal.ok());
  FakeTransport node;
  node.answer = AllOk;
  std::istringstream in(Lines(1, 2));
  std::ostringstream out;
  SendSummary summary;
  std::string error;
  ASSERT_EQ(SendNotifications(in, Options(2), node, *journal, out, &summary, &error), 0) << error;

  const std::string text = Read("j");
  for (uint64_t q : {1, 2}) {
    const std::string unkeyed =
        HexEncode(crypto::Sha256("kakunin.notify.journal.v1\n" + ToCanonicalJson(Make(q))));
    EXPECT_EQ(text.find(unkeyed), std::string::npos) << q;
    EXPECT_NE(text.find(NotificationHash(Make(q), key_)), std::string::npos) << q;
  }
  // The key is the client key's: the same file gives the same key, another key another hash.
  auto same = JournalKey(Path("cs.key"));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, key_);
  WriteClientKey(Path("other.key"));
  auto other = JournalKey(Path("other.key"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(NotificationHash(Make(1), *other), NotificationHash(Make(1), key_));
  EXPECT_FALSE(JournalKey(Path("missing.key")).ok());

  // A journal written under another key cannot be checked: refused, saying what to do.
  journal = Status::Internal("closed");
  auto elsewhere = Journal::Open(Path("j"), *other);
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_NE(elsewhere.status().message().find("another client key"), std::string::npos)
      << elsewhere.status().message();
}

// A version 1 journal (unkeyed hashes) is refused, not read: its hashes cannot be re-keyed
// without the notifications, and a journal that kept working would keep them on disk. Resending
// is safe (the node answers duplicates), so the message says to destroy it and run again.
TEST_F(NotifyTest, AnUnkeyedVersionOneJournalIsRefusedWithWhatToDo) {
  {
    std::ofstream f(Path("old"));
    f << "kakunin-notify-journal 1\nack 1 192015 1 " << std::string(64, 'a') << "\n";
  }
  auto old = Journal::Open(Path("old"), key_);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("older kakunin notify"), std::string::npos)
      << old.status().message();
  EXPECT_NE(old.status().message().find("run the same command again"), std::string::npos);
}

TEST_F(NotifyTest, OneJournalServesOneClientAtATime) {
  auto first = Journal::Open(Path("j"), key_);
  ASSERT_TRUE(first.ok());
  auto second = Journal::Open(Path("j"), key_);
  EXPECT_FALSE(second.ok());
}

TEST_F(NotifyTest, TheConfigurationIsStrict) {
  const std::string ok =
      "url = \"https://node.example:8443\"\nca_file = \"ca.pem\"\ncert_file = \"/etc/cs.pem\"\n"
      "key_file = \"cs.key\"\njournal = \"j\"\n";
  auto c = ParseNotifyConfig(ok + "format = \"csv\"\nencoding = \"cp932\"\nbatch_size = 1000\n",
                             "/base");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->url.host, "node.example");
  EXPECT_EQ(c->url.port, 8443);
  EXPECT_EQ(c->ca_file, "/base/ca.pem");
  EXPECT_EQ(c->cert_file, "/etc/cs.pem");
  EXPECT_EQ(c->batch_size, 1000);
  EXPECT_EQ(c->encoding, InputEncoding::kCp932);
  EXPECT_EQ(c->resident_code_check, ResidentCodeCheck::kFull);
  EXPECT_EQ(ParseNotifyConfig(ok + "resident_code_check = \"format\"\n", "")->resident_code_check,
            ResidentCodeCheck::kFormatOnly);
  for (const std::string extra :
       {"batch_size = 1001\n", "batch_size = 0\n", "batch_size = \"5\"\n", "format = \"xml\"\n",
        "encoding = \"sjis\"\n", "encoding = \"cp932\"\n", "retries = 0\n", "other = 1\n",
        "timeout_seconds = 601\n", "resident_code_check = \"none\"\n"}) {
    EXPECT_FALSE(ParseNotifyConfig(ok + extra, "/base").ok()) << extra;
  }
  EXPECT_FALSE(ParseNotifyConfig("url = \"https://x\"\n", "").ok());  // files missing
  for (const char* url :
       {"http://node", "https://", "https://node/path", "https://u@node", "https://node:0",
        "https://node:65536", "https://node:", "https://no de", "https://::1"}) {
    EXPECT_FALSE(ParseHttpsUrl(url).ok()) << url;
  }
  EXPECT_EQ(ParseHttpsUrl("https://[::1]:9/")->host, "::1");
  EXPECT_EQ(ParseHttpsUrl("https://127.0.0.1")->port, 443);
}

}  // namespace
}  // namespace kakunin::notify
