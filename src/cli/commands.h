#pragma once

// The subcommands of `kakunin`. Each takes its arguments (after the command name) and
// an Io, and returns the process exit status. They translate and call into the modules
// below; they hold no logic of their own (DESIGN §3).

#include <string>
#include <vector>

#include "cli/args.h"

namespace kakunin::cli {

struct Command {
  const char* name;
  const char* summary_ja;
  const char* summary_en;
  int (*run)(const std::vector<std::string>& args, Io& io);
};

// All commands, in the order `kakunin --help` lists them.
const std::vector<Command>& Commands();

int RunValidate(const std::vector<std::string>& args, Io& io);
int RunGenerate(const std::vector<std::string>& args, Io& io);
int RunInitCommand(const std::vector<std::string>& args, Io& io);
int RunIngestCommand(const std::vector<std::string>& args, Io& io);
int RunShowCommand(const std::vector<std::string>& args, Io& io);
int RunSearchCommand(const std::vector<std::string>& args, Io& io);
int RunHistoryCommand(const std::vector<std::string>& args, Io& io);
int RunStatsCommand(const std::vector<std::string>& args, Io& io);
int RunPurgeCommand(const std::vector<std::string>& args, Io& io);
int RunAuditCommand(const std::vector<std::string>& args, Io& io);
int RunProvideCommand(const std::vector<std::string>& args, Io& io);
int RunProvisionsCommand(const std::vector<std::string>& args, Io& io);
int RunPkiCommand(const std::vector<std::string>& args, Io& io);
int RunServeCommand(const std::vector<std::string>& args, Io& io);
int RunHaltCommand(const std::vector<std::string>& args, Io& io);
int RunResumeCommand(const std::vector<std::string>& args, Io& io);
int RunClientsCommand(const std::vector<std::string>& args, Io& io);
int RunDemoCommand(const std::vector<std::string>& args, Io& io);
int RunOperatorCommand(const std::vector<std::string>& args, Io& io);

// The top level: dispatches argv[1] to a command; prints help for none, --help or an
// unknown command.
int Main(const std::vector<std::string>& argv, Io& io);

}  // namespace kakunin::cli
