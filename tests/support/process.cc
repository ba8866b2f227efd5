// Child processes for end-to-end tests: fork/exec in a new process group,
// output to files, signals, and deadline-bounded waits.
#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

namespace gss::testing {

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration poll_interval) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(
        std::min(poll_interval, deadline - absl::Now())));
  }
}

std::string MakeTestTempDir(absl::string_view label) {
  std::string test_name = "no_test";
  if (const auto* info =
          ::testing::UnitTest::GetInstance()->current_test_info()) {
    test_name = absl::StrCat(info->test_suite_name(), ".", info->name());
  }
  for (char& c : test_name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      c = '_';
    }
  }
  std::string base = ::testing::TempDir();
  if (base.empty() || base.back() != '/') base += '/';
  std::string pattern =
      absl::StrCat(base, "gss_e2e_", test_name, "_", label, "_XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << pattern << "): " << std::strerror(errno);
    abort();
  }
  return std::string(buffer.data());
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::StatusOr<std::map<std::string, int>> ParsePortFile(
    absl::string_view text) {
  std::map<std::string, int> ports;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    int port = 0;
    if (!absl::SimpleAtoi(kv.second, &port) || port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad port file line: ", line));
    }
    ports[std::string(kv.first)] = port;
  }
  return ports;
}

absl::StatusOr<uint64_t> RaiseFileLimit(uint64_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit: ", strerror(errno)));
  }
  if (limit.rlim_cur >= wanted) return limit.rlim_cur;
  limit.rlim_cur = std::min<rlim_t>(wanted, limit.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("setrlimit: ", strerror(errno)));
  }
  return limit.rlim_cur;
}

absl::StatusOr<uint64_t> ResidentBytes(pid_t pid) {
  absl::StatusOr<std::string> status =
      ReadFileToString(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return status.status();
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    line = absl::StripAsciiWhitespace(line);
    uint64_t kib = 0;
    if (absl::ConsumeSuffix(&line, " kB") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) {
      return kib * 1024;
    }
    return absl::InternalError(absl::StrCat("unreadable VmRSS line: ", line));
  }
  return absl::NotFoundError(absl::StrCat("no VmRSS for pid ", pid));
}

std::string ExitStatus::ToString() const {
  if (exited) return absl::StrCat("exit code ", code);
  return absl::StrCat("killed by signal ", signal, " (", strsignal(signal),
                      ")");
}

absl::StatusOr<std::unique_ptr<Process>> Process::Start(Options options) {
  if (access(options.binary.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("not an executable: ", options.binary,
                     " (build it first, or set its environment override)"));
  }
  auto process = std::unique_ptr<Process>(new Process(std::move(options)));
  const Options& opts = process->options_;
  process->stdout_path_ = absl::StrCat(opts.log_dir, "/", opts.name, ".stdout");
  process->stderr_path_ = absl::StrCat(opts.log_dir, "/", opts.name, ".stderr");

  // Everything the child touches is prepared before fork(): between fork and
  // exec only async-signal-safe calls are allowed (the parent has threads).
  std::vector<std::string> argv_storage;
  argv_storage.push_back(opts.binary);
  argv_storage.insert(argv_storage.end(), opts.args.begin(), opts.args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const char* out_path = process->stdout_path_.c_str();
  const char* err_path = process->stderr_path_.c_str();
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    // Undo signal state a test framework or gRPC may have set.
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    signal(SIGPIPE, SIG_DFL);
    const int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0) _exit(125);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    // Do not leak the test's sockets (possibly thousands) into the child.
    syscall(SYS_close_range, 3u, ~0u, 0u);
    execv(argv[0], argv.data());
    _exit(127);
  }
  // Set the group from the parent too, so signalling the group cannot race
  // the child's own setpgid.
  setpgid(pid, pid);
  process->pid_ = pid;
  return process;
}

Process::~Process() { Kill(); }

absl::Status Process::Signal(int signal) {
  if (pid_ <= 0 || exit_status_.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(options_.name, " is not running"));
  }
  if (kill(-pid_, signal) != 0 && kill(pid_, signal) != 0) {
    return absl::InternalError(
        absl::StrCat("kill(", options_.name, "): ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool Process::TryReap() {
  if (exit_status_.has_value()) return true;
  if (pid_ <= 0) return true;
  int status = 0;
  const pid_t result = waitpid(pid_, &status, WNOHANG);
  if (result == 0) return false;
  ExitStatus exit;
  if (result < 0) {
    exit.exited = true;
    exit.code = -1;
  } else if (WIFEXITED(status)) {
    exit.exited = true;
    exit.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
  }
  exit_status_ = exit;
  return true;
}

bool Process::Running() { return !TryReap(); }

absl::StatusOr<ExitStatus> Process::WaitForExit(absl::Duration timeout) {
  if (!WaitFor([this] { return TryReap(); }, timeout, absl::Milliseconds(2))) {
    return absl::DeadlineExceededError(absl::StrCat(
        options_.name, " still running after ", absl::FormatDuration(timeout)));
  }
  return *exit_status_;
}

void Process::Kill() {
  if (pid_ <= 0 || exit_status_.has_value()) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  ExitStatus exit;
  if (WIFEXITED(status)) {
    exit.exited = true;
    exit.code = WEXITSTATUS(status);
  } else {
    exit.signal = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  }
  exit_status_ = exit;
}

std::string Process::ReadStdout() const {
  return ReadFileToString(stdout_path_).value_or("");
}

std::string Process::ReadStderr() const {
  return ReadFileToString(stderr_path_).value_or("");
}

std::string Process::LogTail(size_t max_bytes) const {
  auto tail = [max_bytes](std::string text) {
    if (text.size() > max_bytes) {
      text = absl::StrCat("...", text.substr(text.size() - max_bytes));
    }
    return text;
  };
  return absl::StrCat("----- ", options_.name, " stdout (", stdout_path_, ")\n",
                      tail(ReadStdout()), "\n----- ", options_.name,
                      " stderr (", stderr_path_, ")\n", tail(ReadStderr()),
                      "\n");
}

}  // namespace gss::testing
