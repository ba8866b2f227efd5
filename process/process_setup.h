// Start-up chores shared by the project's executables: flags with the exit
// code contract (2 for any configuration error), the port file that tests
// and tools read to find OS-chosen ports, and synchronous signal handling.
#ifndef PROCESS_PROCESS_SETUP_H_
#define PROCESS_PROCESS_SETUP_H_

#include <signal.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace gss::process {

// Exit code for configuration errors, so supervisors can tell them from
// crashes and runtime failures (1).
inline constexpr int kExitBadFlags = 2;

// Parses the absl flags (with --flagfile). A flag that does not parse, or a
// positional argument, prints one line "<program>: <reason>" to stderr and
// exits with kExitBadFlags (absl alone would exit with 1). --help lists the
// program's own flags with their defaults (SetUsageConfig) and exits 0;
// --version prints the project's version.
void ParseFlagsOrExit(int argc, char** argv, absl::string_view program);

// What ParseFlagsOrExit sets up for the usage flags, for programs that parse
// their flags themselves.
void SetUsageConfig();

// Writes "key=value" lines to `path`.tmp, then renames it to `path`, so a
// reader polling for the file never sees half of it.
absl::Status WritePortFile(
    const std::string& path,
    const std::vector<std::pair<std::string, int>>& ports);

// Blocks SIGTERM and SIGINT in the calling thread, and so in every thread it
// starts afterwards, for the caller to sigwait on the returned set; ignores
// SIGPIPE so a peer resetting a connection cannot end the process.
sigset_t BlockTerminationSignals();

// Turns off absl::Mutex's lock-order (deadlock) checks. Debian builds Abseil
// without NDEBUG, so every lock also updates a process-wide lock graph under
// a global lock: about 40 ns more per lock, and a point where all threads
// meet. Tests keep the checks; the servers call this before any thread.
void DisableMutexDeadlockDetection();

}  // namespace gss::process

#endif  // PROCESS_PROCESS_SETUP_H_
