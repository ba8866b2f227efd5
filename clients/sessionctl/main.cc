// sessionctl: the operators' command-line client of the session service's
// ops API (see README.md and `sessionctl --help`).
#include <signal.h>

#include <atomic>
#include <ctime>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "clients/sessionctl/cli.h"
#include "clients/sessionctl/commands.h"

namespace {

// Until `done`, turns SIGINT/SIGTERM into `hook.Cancel()`. The signals must
// be blocked in every thread (done in main before any thread starts).
void WaitForSignals(const sigset_t& signals, std::atomic<bool>& done,
                    gss::sessionctl::CancelHook& hook) {
  const timespec poll = {0, 100'000'000};  // 100 ms.
  while (!done.load()) {
    if (sigtimedwait(&signals, nullptr, &poll) > 0) {
      hook.Cancel();
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using gss::sessionctl::Command;
  using gss::sessionctl::Subcommand;
  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<Command> command = gss::sessionctl::ParseCommandLine(args);
  if (!command.ok()) {
    std::cerr << "sessionctl: " << command.status().message() << "\n";
    return gss::sessionctl::kExitUsage;
  }
  if (command->subcommand != Subcommand::kWatch) {
    return gss::sessionctl::Run(*command, std::cout, std::cerr);
  }

  // A watch runs until interrupted: Ctrl-C cancels the call and exits 0.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  gss::sessionctl::CancelHook hook;
  std::atomic<bool> done{false};
  std::thread waiter([&] { WaitForSignals(signals, done, hook); });
  const int code = gss::sessionctl::Run(*command, std::cout, std::cerr, &hook);
  done.store(true);
  waiter.join();
  return code;
}
