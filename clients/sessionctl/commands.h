// sessionctl's subcommands: each one's gRPC calls against the ops API (or,
// for mint-token, the key file), printing through format.h.
#ifndef CLIENTS_SESSIONCTL_COMMANDS_H_
#define CLIENTS_SESSIONCTL_COMMANDS_H_

#include <functional>
#include <ostream>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "clients/sessionctl/cli.h"

namespace gss::sessionctl {

// Lets another thread (a signal handler's) stop a running watch. Thread-safe.
class CancelHook {
 public:
  // Installs what Cancel() does; nullptr removes it. When Cancel() came
  // first, `cancel` runs at once.
  void Set(std::function<void()> cancel);
  void Cancel();
  bool cancelled() const;

 private:
  mutable absl::Mutex mutex_;
  std::function<void()> cancel_ ABSL_GUARDED_BY(mutex_);
  bool cancelled_ ABSL_GUARDED_BY(mutex_) = false;
};

// Runs `command`: results to `out`, one-line errors to `err`. Returns the
// process exit code (cli.h). `cancel` (optional) can stop a watch.
int Run(const Command& command, std::ostream& out, std::ostream& err,
        CancelHook* cancel = nullptr);

}  // namespace gss::sessionctl

#endif  // CLIENTS_SESSIONCTL_COMMANDS_H_
