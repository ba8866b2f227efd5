#include "process/process_setup.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"

namespace gss::process {
namespace {

// absl::ParseCommandLine exits with status 1 on a flag it cannot parse; the
// contract is 2, so that exit is intercepted while flags are being parsed.
bool parsing_flags = false;
void ExitBadFlagsDuringParsing() {
  if (parsing_flags) std::_Exit(kExitBadFlags);
}

// absl's usage flags exit on their own with their own status.
bool AsksForUsage(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    for (absl::string_view usage :
         {"--help", "-help", "--version", "-version", "--only_check_args"}) {
      if (arg.substr(0, usage.size()) == usage) return true;
    }
  }
  return false;
}

}  // namespace

void ParseFlagsOrExit(int argc, char** argv, absl::string_view program) {
  std::atexit(ExitBadFlagsDuringParsing);
  parsing_flags = !AsksForUsage(argc, argv);
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  parsing_flags = false;
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
