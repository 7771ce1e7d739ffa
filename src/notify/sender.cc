#include "notify/sender.h"

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "domain/errors.h"
#include "text/json.h"

namespace kakunin::notify {
namespace {

constexpr std::string_view kPath = "/v1/notifications";

// One input record on its way: its verdict is known here (field errors, or already in the
// journal) or comes from the node.
struct Pending {
  size_t line = 0;
  std::optional<Notification> notification;  // set iff it is to be sent
  std::string hash;
  std::string result;  // the printed line, once final
};

bool IsCodeWord(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

std::string OkLine(size_t line, bool duplicate) {
  std::string o = "{\"line\":" + std::to_string(line) + ",\"ok\":true";
  if (duplicate) o += ",\"duplicate\":true";
  return o + "}\n";
}

std::string LocalErrorLine(size_t line, const FieldErrors& errors) {
  std::string o = "{\"line\":" + std::to_string(line) + ",\"ok\":false,\"errors\":[";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) o += ",";
    o += "{\"field\":";
    text::AppendJsonString(errors[i].field, &o);
    o += ",\"code\":\"" + std::string(ErrorCodeName(errors[i].code)) + "\"";
    AppendSuccessorsJson(errors[i], &o);
    o += "}";
  }
  return o + "]}\n";
}

// The node's errors for one record, re-written with the line; strict about their shape.
Result<std::string> NodeErrorLine(size_t line, const text::JsonValue& errors) {
  if (!errors.is_array() || errors.items().empty()) {
    return Status::Unavailable("a rejected result without errors");
  }
  std::string o = "{\"line\":" + std::to_string(line) + ",\"ok\":false,\"errors\":[";
  bool first = true;
  for (const auto& e : errors.items()) {
    const text::JsonValue* field = e.is_object() ? e.Find("field") : nullptr;
    const text::JsonValue* code = e.is_object() ? e.Find("code") : nullptr;
    if (field == nullptr || !field->is_string() || code == nullptr || !code->is_string() ||
        !IsCodeWord(code->text()) || field->text().size() > 64) {
      return Status::Unavailable("an error without field and code");
    }
    if (!first) o += ",";
    first = false;
    o += "{\"field\":";
    text::AppendJsonString(field->text(), &o);
    o += ",\"code\":\"" + code->text() + "\"";
    if (const text::JsonValue* s = e.Find("successors"); s != nullptr) {
      if (!s->is_array()) return Status::Unavailable("successors is not an array");
      o += ",\"successors\":[";
      for (size_t i = 0; i < s->items().size(); ++i) {
        const auto& c = s->items()[i];
        if (!c.is_string() || c.text().size() != 6 ||
            !std::all_of(c.text().begin(), c.text().end(),
                         [](char ch) { return ch >= '0' && ch <= '9'; })) {
          return Status::Unavailable("a successor is not a municipality code");
        }
        if (i > 0) o += ",";
        o += "\"" + c.text() + "\"";
      }
      o += "]";
    }
    o += "}";
  }
  return o + "]}\n";
}

// "status 403 (client_not_registered)": the problem document's code, never its detail.
std::string DescribeRefusal(const HttpsResponse& r) {
  std::string o = "status " + std::to_string(r.status);
  auto doc = text::ParseJson(r.body);
  if (doc.ok() && doc->is_object()) {
    const text::JsonValue* code = doc->Find("code");
    if (code != nullptr && code->is_string() && IsCodeWord(code->text())) {
      o += " (" + code->text() + ")";
    }
  }
  return o;
}

bool Retryable(int status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

class BatchSender {
 public:
  BatchSender(const SendOptions& options, Transport& transport, Journal& journal, std::ostream& out,
              SendSummary* summary)
      : options_(options),
        transport_(transport),
        journal_(journal),
        out_(out),
        summary_(summary),
        rng_(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}()) {}

  // Sends the batch's notifications, journals and prints every result. Err: stop (exit 2).
  Status Flush(std::vector<Pending>* batch) {
    std::vector<Pending*> to_send;
    for (auto& p : *batch) {
      if (p.notification) to_send.push_back(&p);
    }
    if (!to_send.empty()) KAKUNIN_RETURN_IF_ERROR(Send(to_send));
    std::string text;
    for (const auto& p : *batch) text += p.result;
    out_ << text;
    out_.flush();
    batch->clear();
    return Status::Ok();
  }

 private:
  Status Send(const std::vector<Pending*>& to_send) {
    std::string body = "{\"notifications\":[";
    for (size_t i = 0; i < to_send.size(); ++i) {
      if (i > 0) body += ",";
      body += ToCanonicalJson(*to_send[i]->notification);
    }
    body += "]}";
    std::chrono::milliseconds delay(200);
    Result<HttpsResponse> response = Status::Unavailable("not sent");
    for (int attempt = 1;; ++attempt) {
      ++summary_->requests;
      response = transport_.PostJson(kPath, body);
      std::string why;
      if (!response.ok()) {
        why = response.status().message();
      } else if (Retryable(response->status)) {
        why = "the node answered " + DescribeRefusal(*response);
      } else {
        break;
      }
      if (attempt >= options_.retries) {
        return Status::Unavailable("gave up after " + std::to_string(attempt) +
                                   " attempts: " + why);
      }
      ++summary_->retried;
      // Full jitter over the upper half, so that many CSs restarted together spread out.
      std::uniform_int_distribution<int64_t> jitter(delay.count() / 2, delay.count());
      std::chrono::milliseconds wait(jitter(rng_));
      if (options_.sleep) {
        options_.sleep(wait);
      } else {
        std::this_thread::sleep_for(wait);
      }
      delay = std::min(delay * 2, std::chrono::milliseconds(10000));
    }
    if (response->status != 200) {
      return Status::FailedPrecondition("the node refused the request: " +
                                        DescribeRefusal(*response));
    }
    auto doc = text::ParseJson(response->body, {.max_bytes = 16 << 20, .max_depth = 8});
    const text::JsonValue* results = nullptr;
    if (doc.ok() && doc->is_object()) results = doc->Find("results");
    if (results == nullptr || !results->is_array() || results->items().size() != to_send.size()) {
      return Status::FailedPrecondition(
          "the node's answer does not have one result per "
          "notification");
    }
    std::vector<JournalEntry> acked;
    for (size_t i = 0; i < to_send.size(); ++i) {
      const text::JsonValue& r = results->items()[i];
      const text::JsonValue* index = r.is_object() ? r.Find("index") : nullptr;
      const text::JsonValue* ok = r.is_object() ? r.Find("ok") : nullptr;
      if (index == nullptr || !index->is_number() || index->AsInt64() != static_cast<int64_t>(i) ||
          ok == nullptr || ok->type() != text::JsonValue::Type::kBool) {
        return Status::FailedPrecondition("the node's answer has a malformed result");
      }
      Pending& p = *to_send[i];
      if (ok->bool_value()) {
        const text::JsonValue* dup = r.Find("duplicate");
        const bool duplicate =
            dup != nullptr && dup->type() == text::JsonValue::Type::kBool && dup->bool_value();
        p.result = OkLine(p.line, duplicate);
        ++(duplicate ? summary_->duplicates : summary_->applied);
        // A resend's acknowledgement the journal already holds is not written twice.
        if (!journal_.Acknowledged(p.notification->municipality_code, p.notification->sequence,
                                   p.hash)) {
          acked.push_back(
              {p.line, p.notification->municipality_code, p.notification->sequence, p.hash});
        }
      } else {
        const text::JsonValue* errors = r.Find("errors");
        if (errors == nullptr) return Status::FailedPrecondition("a rejection without errors");
        auto line = NodeErrorLine(p.line, *errors);
        if (!line.ok()) {
          return Status::FailedPrecondition("the node's answer: " + line.status().message());
        }
        p.result = *line;
        ++summary_->rejected;
      }
    }
    // Durable before anything is printed: a printed acknowledgement is never sent again.
    return journal_.Append(acked);
  }

  const SendOptions& options_;
  Transport& transport_;
  Journal& journal_;
  std::ostream& out_;
  SendSummary* summary_;
  std::mt19937_64 rng_;
};

}  // namespace

int SendNotifications(std::istream& in, const SendOptions& options, Transport& transport,
                      Journal& journal, std::ostream& out, SendSummary* summary,
                      std::string* error) {
  NotificationStream stream(in, options.format, options.encoding, options.check);
  BatchSender sender(options, transport, journal, out, summary);
  std::vector<Pending> batch;
  int to_send = 0;
  StreamItem item;
  while (stream.Next(&item)) {
    ++summary->records;
    Pending p;
    p.line = item.line;
    if (!item.result.ok()) {
      p.result = LocalErrorLine(item.line, item.result.errors);
      ++summary->rejected;
    } else {
      const Notification& n = *item.result.notification;
      p.hash = journal.Hash(n);
      const bool acknowledged = journal.Acknowledged(n.municipality_code, n.sequence, p.hash);
      if (acknowledged && !options.resend) {
        p.result = OkLine(item.line, /*duplicate=*/true);
        ++summary->from_journal;
      } else {
        if (acknowledged) ++summary->resent;
        p.notification = n;
        ++to_send;
      }
    }
    batch.push_back(std::move(p));
    // Local verdicts wait for the batch they sit in, so results stay in input order; a long run
    // of them is flushed anyway.
    if (to_send >= options.batch_size || batch.size() >= 4096) {
      if (Status st = sender.Flush(&batch); !st.ok()) {
        *error = st.message();
        return 2;
      }
      to_send = 0;
    }
  }
  if (Status st = sender.Flush(&batch); !st.ok()) {
    *error = st.message();
    return 2;
  }
  if (!stream.status().ok()) {
    *error = stream.status().message();
    return 2;
  }
  return summary->rejected > 0 ? 1 : 0;
}

}  // namespace kakunin::notify
