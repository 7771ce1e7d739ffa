// Fuzzes the request path without the network: the server's HTTP parser and limits
// (http::ParseRequest), then the API — routing, query and JSON parsing, the use cases — over a
// real node on tmpfs with registered clients. The first input byte picks who is calling (a
// municipal CS, an agency, the national node, an unregistered certificate). Whatever the bytes:
// no crash, a status in 200..599, and every error a problem document with a code from the table.

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "api/errors.h"
#include "api/metrics.h"
#include "api/service.h"
#include "app/node.h"
#include "cli/generate.h"
#include "domain/notification.h"
#include "http/server.h"
#include "text/json.h"

namespace {

using namespace kakunin;

struct Fixture {
  std::string dir;
  std::unique_ptr<app::Node> node;
  api::Metrics metrics;
  std::unique_ptr<api::Service> service;
  std::string spki[4];
};
Fixture* f = nullptr;

void RemoveDir() {
  std::error_code ec;
  if (f != nullptr) std::filesystem::remove_all(f->dir, ec);
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "api_request_fuzzer: %s\n", what);
    std::abort();
  }
}

void SetUp() {
  f = new Fixture();
  // tmpfs where there is one: every audited request commits durably.
  std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string tmpl = base + "/kakunin-fuzz-XXXXXX";
  Check(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
  f->dir = tmpl;
  std::atexit(RemoveDir);
  Check(app::InitNode(f->dir, 19, "").ok(), "init");
  auto node = app::OpenNode(f->dir);
  Check(node.ok(), "open");
  f->node = std::move(*node);
  auto g = NotificationGenerator::Create(GenerateOptions{});
  Check(g.ok(), "generator");
  std::vector<registry::PreparedNotification> batch;
  const CheckOptions options = f->node->registry->check_options();
  for (int i = 0; i < 200; ++i) {
    batch.push_back(f->node->registry->Prepare(
        CheckJsonNotification(ToCanonicalJson((*g)->Next()), options)));
  }
  Check(f->node->registry->Apply(batch, f->node->actor).ok(), "apply");
  const char* hex[3] = {"a", "b", "c"};
  for (int i = 0; i < 3; ++i) f->spki[i] = std::string(64, hex[i][0]);
  f->spki[3] = std::string(64, 'd');  // not registered
  using K = registry::ClientKind;
  registry::Client cs{f->spki[0], K::kMunicipalCs, "CS", "192015", "", {}, 0, 0};
  registry::Client boe{f->spki[1],       K::kAgency, "BOE", "", "agency:yamanashi-board-of-education",
                       {"board.school_aid"}, 0,         0};
  registry::Client national{f->spki[2], K::kNational, "national", "", "", {}, 0, 0};
  for (const auto& c : {cs, boe, national}) {
    Check(f->node->gateway->Register(c, f->node->actor).ok(), "register");
  }
  f->node->gateway->UseStore(f->node->store.get());
  f->service = std::make_unique<api::Service>(f->node->gateway.get(), &f->metrics, nullptr);
  f->service->UseDisclosures(f->node->disclosures.get());  // the correction routes
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (f == nullptr) SetUp();
  if (size == 0) return 0;
  http::Limits limits;
  limits.max_header_bytes = 4096;
  limits.max_body_bytes = 64 * 1024;
  auto request = http::ParseRequest(
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), limits);
  if (!request.ok()) {
    Check(request.status().code() == StatusCode::kInvalidArgument ||
              request.status().code() == StatusCode::kResourceExhausted,
          "unexpected parse error code");
    return 0;
  }
  request->client_spki_sha256 = f->spki[data[0] % 4];
  request->remote_address = "127.0.0.1";
  http::Response r = f->service->Handle(*request);
  Check(r.status >= 200 && r.status <= 599, "status out of range");
  if (r.status >= 400) {
    Check(r.content_type == "application/problem+json", "error without a problem document");
    auto doc = text::ParseJson(r.body);
    Check(doc.ok() && doc->is_object() && doc->Find("code") != nullptr, "problem without code");
    bool known = false;
    for (const auto& row : api::ApiErrorTable()) {
      known = known || (row.code == doc->Find("code")->text() && row.http_status == r.status);
    }
    Check(known, "problem code not in the table, or with another status");
  } else if (r.content_type == "application/json") {
    Check(text::ParseJson(r.body).ok(), "a 2xx JSON answer that is not JSON");
  }
  return 0;
}
