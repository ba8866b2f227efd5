#include "process/process_setup.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <iostream>

#include "absl/flags/parse.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"

namespace gss::process {
namespace {

// What an exit while absl parses the flags means. absl exits with status 1
// both on a flag it cannot parse (the contract is 2) and after printing
// --help (which a person asked for: 0, as every command line tool does).
enum class Parsing { kNot, kFlags, kHelp };
Parsing parsing = Parsing::kNot;
void ExitWithTheContractsCode() {
  switch (parsing) {
    case Parsing::kNot:
      return;
    case Parsing::kFlags:
      std::_Exit(kExitBadFlags);
    case Parsing::kHelp:
      // _Exit skips stdio's own flush at exit.
      std::cout.flush();
      std::fflush(nullptr);
      std::_Exit(0);
  }
}

bool HasArgumentStartingWith(int argc, char** argv,
                             std::initializer_list<absl::string_view> starts) {
  for (int i = 1; i < argc; ++i) {
    for (absl::string_view start : starts) {
      if (absl::StartsWith(argv[i], start)) return true;
    }
  }
  return false;
}

// absl's --help lists only the flags of a file named after the program
// (gateway_main.cc for gateway); ours live in main.cc and friends, so every
// flag that is not absl's own is listed, under its path in the repository.
bool IsProjectFlagFile(absl::string_view filename) {
  return !absl::StrContains(filename, "absl/");
}

std::string RepositoryPath(absl::string_view filename) {
  for (absl::string_view top : {"/session_service/", "/gateway/", "/clients/",
                                "/tests/", "/process/", "/fuzz/", "/common/"}) {
    if (const size_t at = filename.rfind(top); at != absl::string_view::npos) {
      return std::string(filename.substr(at + 1));
    }
  }
  return std::string(filename);
}

}  // namespace

void SetUsageConfig() {
  absl::FlagsUsageConfig config;
  config.contains_help_flags = IsProjectFlagFile;
  config.contains_helpshort_flags = IsProjectFlagFile;
  config.normalize_filename = RepositoryPath;
  config.version_string = [] { return std::string(GSS_VERSION "\n"); };
  absl::SetFlagsUsageConfig(std::move(config));
}

void ParseFlagsOrExit(int argc, char** argv, absl::string_view program) {
  SetUsageConfig();
  std::atexit(ExitWithTheContractsCode);
  // absl's other usage flags (--version, --only_check_args) exit with
  // statuses of their own that are already right.
  if (HasArgumentStartingWith(argc, argv, {"--help", "-help"})) {
    parsing = Parsing::kHelp;
  } else if (!HasArgumentStartingWith(
                 argc, argv,
                 {"--version", "-version", "--only_check_args",
                  "-only_check_args"})) {
    parsing = Parsing::kFlags;
  }
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  parsing = Parsing::kNot;
  if (positional.size() > 1) {
    absl::FPrintF(stderr, "%s: unexpected argument \"%s\"\n", program,
                  positional[1]);
    std::exit(kExitBadFlags);
  }
}

absl::Status WritePortFile(
    const std::string& path,
    const std::vector<std::pair<std::string, int>>& ports) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [key, port] : ports) out << key << "=" << port << "\n";
    out.flush();
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace gss::process
