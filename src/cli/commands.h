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

// All commands, in the order `kakunin --help` lists them. None prints resident data: that is
// read through the console or the API by a nominated operator (DESIGN §5). A command added here
// needs a row in app/side_door_test.cc, which runs it against a node and looks for resident data.
const std::vector<Command>& Commands();

// Commands that once printed resident data on the host (show, search, history, provide,
// provisions). Running one prints where resident data is read now and exits 2.
const std::vector<std::string>& RemovedCommands();

int RunValidate(const std::vector<std::string>& args, Io& io);
int RunGenerate(const std::vector<std::string>& args, Io& io);
int RunInitCommand(const std::vector<std::string>& args, Io& io);
int RunIngestCommand(const std::vector<std::string>& args, Io& io);
int RunImportCommand(const std::vector<std::string>& args, Io& io);
int RunStatsCommand(const std::vector<std::string>& args, Io& io);
int RunPurposesCommand(const std::vector<std::string>& args, Io& io);
int RunPurgeCommand(const std::vector<std::string>& args, Io& io);
int RunAuditCommand(const std::vector<std::string>& args, Io& io);
int RunPkiCommand(const std::vector<std::string>& args, Io& io);
int RunServeCommand(const std::vector<std::string>& args, Io& io);
int RunHaltCommand(const std::vector<std::string>& args, Io& io);
int RunResumeCommand(const std::vector<std::string>& args, Io& io);
int RunClientsCommand(const std::vector<std::string>& args, Io& io);
int RunDemoCommand(const std::vector<std::string>& args, Io& io);
int RunOperatorCommand(const std::vector<std::string>& args, Io& io);
int RunGaijiCommand(const std::vector<std::string>& args, Io& io);
int RunNotifyCommand(const std::vector<std::string>& args, Io& io);
int RunBackupCommand(const std::vector<std::string>& args, Io& io);
int RunRestoreCommand(const std::vector<std::string>& args, Io& io);
int RunMediaCommand(const std::vector<std::string>& args, Io& io);
int RunLinkCommand(const std::vector<std::string>& args, Io& io);
int RunMigrateStoreCommand(const std::vector<std::string>& args, Io& io);
int RunConfigCommand(const std::vector<std::string>& args, Io& io);

// The program's version: CMake's project version, and `git describe` when the build was
// configured in a git checkout (kakunin --version).
const char* Version();
int RunKeysCommand(const std::vector<std::string>& args, Io& io);

// The top level: dispatches argv[1] to a command; prints help for none, --help or an
// unknown command.
int Main(const std::vector<std::string>& argv, Io& io);

}  // namespace kakunin::cli
