#include "cli/stats_digest.h"

#include <ostream>
#include <string>

namespace kakunin::cli {

int PrintStatsDigest(Node& node, bool json, Io& io) {
  auto digests = node.reports->Digests();
  if (!digests.ok()) {
    io.err << "kakunin stats: " << digests.status().message() << "\n";
    return kExitUsage;
  }
  std::string out;
  if (json) {
    out = "{\"prefectures\":[";
    for (size_t i = 0; i < digests->size(); ++i) {
      const auto& d = (*digests)[i];
      if (i > 0) out += ",";
      out += "{\"prefecture\":" + std::to_string(d.prefecture) +
             ",\"residents\":" + std::to_string(d.residents) +
             ",\"digest\":" + (d.digest_hex ? "\"" + *d.digest_hex + "\"" : std::string("null")) +
             "}";
    }
    out += "]}\n";
  } else {
    for (const auto& d : *digests) {
      out += "prefecture " + std::to_string(d.prefecture) + " residents " +
             std::to_string(d.residents) + " digest " + d.digest_hex.value_or("withheld") + "\n";
    }
  }
  io.out << out;
  return kExitOk;
}

}  // namespace kakunin::cli
