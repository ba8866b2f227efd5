// Tests of the end-to-end support code that need no game processes:
// child process control, WaitFor, port files and flag merging.
#include "tests/support/process.h"

#include <signal.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

// Each test's output directory, removed when the test process exits.
const std::string& LogDir() {
  static const std::string* const dir = [] {
    auto* path = new std::string(MakeTestTempDir("process"));
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(LogDir(), ignored);
    });
    return path;
  }();
  return *dir;
}

Process::Options Shell(const std::string& script, const std::string& name) {
  return {.binary = "/bin/sh",
          .args = {"-c", script},
          .log_dir = LogDir(),
          .name = name};
}

TEST(WaitForTest, ReturnsOnceTheConditionHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor([&] { return ++calls == 3; }, absl::Seconds(5),
                      absl::Milliseconds(1)));
  EXPECT_EQ(calls, 3);
}

TEST(WaitForTest, GivesUpAtTheDeadline) {
  const absl::Time start = absl::Now();
  EXPECT_FALSE(WaitFor([] { return false; }, absl::Milliseconds(50)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
}

TEST(PortFileTest, ParsesNamedPorts) {
  ASSERT_OK_AND_ASSIGN(auto ports,
                       ParsePortFile("link=7780\nops=7781\n metrics=9464 \n"));
  EXPECT_EQ(ports.at("link"), 7780);
  EXPECT_EQ(ports.at("ops"), 7781);
  EXPECT_EQ(ports.at("metrics"), 9464);
  EXPECT_FALSE(ParsePortFile("link=0\n").ok());
  EXPECT_FALSE(ParsePortFile("link=x\n").ok());
}

TEST(ProcessTest, CapturesOutputAndExitCode) {
  ASSERT_OK_AND_ASSIGN(
      auto process,
      Process::Start(Shell("echo out; echo err >&2; exit 3", "echo")));
  ASSERT_OK_AND_ASSIGN(ExitStatus exit, process->WaitForExit(absl::Seconds(5)));
  EXPECT_TRUE(exit.exited);
  EXPECT_EQ(exit.code, 3);
  EXPECT_EQ(process->ReadStdout(), "out\n");
  EXPECT_EQ(process->ReadStderr(), "err\n");
  EXPECT_FALSE(process->Running());
}

TEST(ProcessTest, SignalsReachTheProcessGroup) {
  ASSERT_OK_AND_ASSIGN(
      auto process,
      Process::Start(Shell("trap 'echo term; exit 0' TERM; echo ready; "
                           "while :; do sleep 0.01; done",
                           "trap")));
  ASSERT_TRUE(WaitFor([&] { return process->ReadStdout() == "ready\n"; },
                      absl::Seconds(5)));
  ASSERT_OK(process->Signal(SIGSTOP));
  ASSERT_OK(process->Signal(SIGCONT));
  EXPECT_TRUE(process->Running());
  ASSERT_OK(process->Signal(SIGTERM));
  ASSERT_OK_AND_ASSIGN(ExitStatus exit, process->WaitForExit(absl::Seconds(5)));
  EXPECT_TRUE(exit.exited) << exit.ToString();
  EXPECT_EQ(exit.code, 0);
  EXPECT_FALSE(process->Signal(SIGTERM).ok());
}

TEST(ProcessTest, WaitForExitTimesOutAndDestructorKills) {
  ASSERT_OK_AND_ASSIGN(auto process,
                       Process::Start(Shell("exec sleep 60", "sleeper")));
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      process->WaitForExit(absl::Milliseconds(50)).status()));
  const pid_t pid = process->pid();
  process.reset();
  // Reaped: the pid no longer names our child.
  EXPECT_NE(kill(pid, 0), 0);
}

TEST(ProcessTest, KillReportsTheSignal) {
  ASSERT_OK_AND_ASSIGN(auto process,
                       Process::Start(Shell("exec sleep 60", "sleeper")));
  process->Kill();
  ASSERT_TRUE(process->exit_status().has_value());
  EXPECT_FALSE(process->exit_status()->exited);
  EXPECT_EQ(process->exit_status()->signal, SIGKILL);
}

TEST(ProcessTest, MissingBinaryIsAnError) {
  Process::Options options = Shell("", "missing");
  options.binary = "/nonexistent/binary";
  EXPECT_TRUE(absl::IsFailedPrecondition(Process::Start(options).status()));
}

TEST(FileLimitTest, RaisesTheSoftLimit) {
  ASSERT_OK_AND_ASSIGN(uint64_t limit, RaiseFileLimit(1024));
  EXPECT_GE(limit, 1024u);
}

}  // namespace
}  // namespace gss::testing
