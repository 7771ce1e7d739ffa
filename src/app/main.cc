// The kakunin binary: wiring only (DESIGN §3).

#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv, argv + argc);
  kakunin::cli::Io io{std::cin, std::cout, std::cerr};
  return kakunin::cli::Main(args, io);
}
