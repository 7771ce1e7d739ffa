// The kakunin binary: wiring only (DESIGN §3). The commands (cli/) reach nodes through the
// NodeAccess built here, over the store.

#include <iostream>
#include <string>
#include <vector>

#include "app/node.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv, argv + argc);
  const kakunin::app::NodeAccess nodes;
  kakunin::cli::Io io{std::cin, std::cout, std::cerr, &nodes};
  return kakunin::cli::Main(args, io);
}
