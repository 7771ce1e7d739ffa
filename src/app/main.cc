// The kakunin binary: wiring only (DESIGN §3). The commands (cli/) reach nodes through the
// NodeAccess built here, over the store.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <iostream>
#include <string>
#include <vector>

#include "app/node.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  // Every command holds the field keys, and a node decrypted numbers in memory: no core file is
  // written, and no other process of the same user reads this one's memory (found in review: a
  // core of a node held the keys and numbers in clear). Before anything is opened.
  const rlimit no_core{0, 0};
  (void)setrlimit(RLIMIT_CORE, &no_core);
  (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // A file-size limit (ulimit -f) makes a write fail with EFBIG, which every command reports
  // and recovers from, instead of killing the process (found in review: SIGXFSZ, half-made).
  (void)signal(SIGXFSZ, SIG_IGN);
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv, argv + argc);
  const kakunin::app::NodeAccess nodes;
  kakunin::cli::Io io{std::cin, std::cout, std::cerr, &nodes};
  return kakunin::cli::Main(args, io);
}
