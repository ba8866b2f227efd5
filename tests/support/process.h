// Child processes for end-to-end tests: start a binary in its own process
// group with its output in files, signal it, wait for it with a deadline.
#ifndef TESTS_SUPPORT_PROCESS_H_
#define TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gss::testing {

// Polls `condition` every `poll_interval` until it holds or `timeout` passes.
// Returns whether it held. This is how tests wait: never a fixed sleep.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration poll_interval = absl::Milliseconds(5));

// Makes a fresh directory under the GoogleTest temp dir whose name includes
// the running test's name. Fails the process on error.
std::string MakeTestTempDir(absl::string_view label);

// Reads a text file; NotFound when it does not exist.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Parses a port file (lines `name=PORT`).
absl::StatusOr<std::map<std::string, int>> ParsePortFile(
    absl::string_view text);

// Raises the soft RLIMIT_NOFILE to at least `wanted` (capped at the hard
// limit); returns the new soft limit.
absl::StatusOr<uint64_t> RaiseFileLimit(uint64_t wanted);

// The resident set size of process `pid` (VmRSS), in bytes.
absl::StatusOr<uint64_t> ResidentBytes(pid_t pid);

// True when the tests (and so the processes of the same build tree) run
// under AddressSanitizer, whose quarantine of freed memory makes resident
// set sizes say nothing about leaks or bounds: tests skip those checks.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kResidentMemoryIsMeaningful = false;
#else
inline constexpr bool kResidentMemoryIsMeaningful = true;
#endif

struct ExitStatus {
  bool exited = false;  // Normal exit: `code` is valid.
  int code = 0;         // Exit code when `exited`.
  int signal = 0;       // Terminating signal otherwise.
  std::string ToString() const;
};

class Process {
 public:
  struct Options {
    std::string binary;
    std::vector<std::string> args;  // Without argv[0].
    std::string log_dir;            // stdout/stderr go to <log_dir>/<name>.*.
    std::string name;
  };

  // Forks and execs `options.binary` in a new process group; the child gets
  // SIGKILL if the test process dies.
  static absl::StatusOr<std::unique_ptr<Process>> Start(Options options);

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Kills the whole process group (SIGKILL) and reaps the child if it is
  // still running.
  ~Process();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return options_.name; }
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }

  // Sends `signal` to the child's process group.
  absl::Status Signal(int signal);
  // Reaps the child if it has exited; true while it runs.
  bool Running();
  // Waits for the child to exit; DeadlineExceeded when it did not in time.
  absl::StatusOr<ExitStatus> WaitForExit(absl::Duration timeout);
  // The exit status once the child has been reaped.
  std::optional<ExitStatus> exit_status() const { return exit_status_; }
  // SIGKILL and reap.
  void Kill();

  std::string ReadStdout() const;
  std::string ReadStderr() const;
  // The last `max_bytes` of stdout and stderr, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  explicit Process(Options options) : options_(std::move(options)) {}
  bool TryReap();

  Options options_;
  std::string stdout_path_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> exit_status_;
};

}  // namespace gss::testing

#endif  // TESTS_SUPPORT_PROCESS_H_
