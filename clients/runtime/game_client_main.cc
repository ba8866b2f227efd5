// game-client: connects to a gateway, logs in, then plays from stdin (move,
// shoot, ping, quit) and prints one line per runtime event.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "clients/runtime/shared_network_runtime.h"
#include "process/process_setup.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Gateway host.");
ABSL_FLAG(int, port, 7777, "Gateway game port.");
ABSL_FLAG(std::string, transport, "tcp", "tcp or udp.");
ABSL_FLAG(std::string, name, "", "Player name (dev authenticator).");
ABSL_FLAG(std::string, token, "",
          "A JWT (jwt authenticator); wins over --name.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(10),
          "Time between heartbeat pings.");
ABSL_FLAG(absl::Duration, pong_timeout, absl::Seconds(10),
          "A heartbeat unanswered this long starts the reconnect flow.");
ABSL_FLAG(absl::Duration, reconnect_delay, absl::Seconds(5),
          "Wait before each reconnect attempt.");
ABSL_FLAG(int, max_reconnect_attempts, 3,
          "Reconnect attempts before giving up.");
ABSL_FLAG(absl::Duration, attempt_timeout, absl::Seconds(5),
          "One connect/login attempt that takes longer has failed.");
ABSL_FLAG(absl::Duration, reply_wait, absl::Seconds(2),
          "When stdin ends (not on quit): how long to wait at most for the "
          "replies to the commands sent before exiting.");

namespace {

using gss::client::RuntimeEvent;
using gss::client::RuntimeEventType;

constexpr char kHelp[] =
    "commands: move DX DY | shoot SESSION_ID | ping | quit";

// The answer to a command from stdin (a move, a shot or a user ping).
bool AnswersACommand(const RuntimeEvent& event) {
  switch (event.type) {
    case RuntimeEventType::kMoveResult:
    case RuntimeEventType::kShootResult:
    case RuntimeEventType::kInputRejected:
      return true;
    case RuntimeEventType::kPong:
      return !event.heartbeat;
    default:
      return false;
  }
}

// The session ended for good: the tool exits too.
bool IsTerminal(const RuntimeEvent& event) {
  return event.type == RuntimeEventType::kGaveUp ||
         (event.type == RuntimeEventType::kStateChanged &&
          event.to == gss::SessionState::kClosed);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Plays the game by hand: game-client --port=PORT --name=NAME, then type "
      "commands on stdin.");
  gss::process::ParseFlagsOrExit(argc, argv, "game-client");

  gss::client::RuntimeOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  const std::string transport = absl::GetFlag(FLAGS_transport);
  if (transport == "tcp") {
    options.transport = gss::client::TransportKind::kTcp;
  } else if (transport == "udp") {
    options.transport = gss::client::TransportKind::kUdp;
  } else {
    std::cerr << "--transport must be tcp or udp\n";
    return 2;
  }
  options.credential = absl::GetFlag(FLAGS_token).empty()
                           ? absl::GetFlag(FLAGS_name)
                           : absl::GetFlag(FLAGS_token);
  options.policy.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.policy.pong_timeout = absl::GetFlag(FLAGS_pong_timeout);
  options.policy.reconnect_delay = absl::GetFlag(FLAGS_reconnect_delay);
  options.policy.max_reconnect_attempts =
      absl::GetFlag(FLAGS_max_reconnect_attempts);
  options.policy.attempt_timeout = absl::GetFlag(FLAGS_attempt_timeout);

  std::mutex mu;
  std::condition_variable cv;
  bool ended = false;
  bool welcomed = false;
  int commands_sent = 0;
  int commands_answered = 0;
  options.on_event = [&](const RuntimeEvent& event) {
    std::lock_guard<std::mutex> lock(mu);
    std::cout << "event " << event.ToString() << std::endl;
    if (AnswersACommand(event)) {
      ++commands_answered;
      cv.notify_all();
    }
    if (event.type == RuntimeEventType::kWelcome) {
      welcomed = true;
      cv.notify_all();
    }
    if (IsTerminal(event)) {
      ended = true;
      cv.notify_all();
    }
  };

  gss::client::SharedNetworkRuntime runtime;
  if (absl::Status status = runtime.Start(options); !status.ok()) {
    std::cerr << "game-client: " << status << "\n";
    return 2;
  }

  // stdin is read on its own thread so that a session that ends for good
  // ends the tool even while nobody types.
  bool quit = false;
  bool input_ended = false;  // At end of input, rather than on quit.
  std::thread reader([&] {
    std::string line;
    bool first = true;
    while (std::getline(std::cin, line)) {
      if (first) {
        // Commands piped in before the login completes wait for it, so a
        // script behaves as a person who waits for the welcome would.
        first = false;
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return welcomed || ended; });
      }
      std::vector<std::string> words =
          absl::StrSplit(line, ' ', absl::SkipWhitespace());
      if (words.empty()) continue;
      int32_t dx = 0, dy = 0;
      if (words[0] == "quit" && words.size() == 1) {
        std::lock_guard<std::mutex> lock(mu);
        quit = true;
        cv.notify_all();
        return;
      }
      const bool move = words[0] == "move" && words.size() == 3 &&
                        absl::SimpleAtoi(words[1], &dx) &&
                        absl::SimpleAtoi(words[2], &dy);
      const bool shoot = words[0] == "shoot" && words.size() == 2;
      const bool ping = words[0] == "ping" && words.size() == 1;
      if (!move && !shoot && !ping) {
        std::lock_guard<std::mutex> lock(mu);
        std::cout << "error unknown command \"" << line << "\"; " << kHelp
                  << std::endl;
        continue;
      }
      {
        // Counted first: the answer may arrive before the call returns.
        std::lock_guard<std::mutex> lock(mu);
        ++commands_sent;
      }
      if (move) runtime.Move(dx, dy);
      if (shoot) runtime.Shoot(words[1]);
      if (ping) runtime.Ping();
    }
    std::lock_guard<std::mutex> lock(mu);
    input_ended = true;
    cv.notify_all();
  });
  reader.detach();  // getline cannot be interrupted; exit ends it.

  bool gave_up = false;
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ended || quit || input_ended; });
    if (input_ended && !ended) {
      // A script's last commands get their replies printed before the exit.
      cv.wait_for(lock,
                  absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_reply_wait)),
                  [&] { return ended || commands_answered >= commands_sent; });
    }
    gave_up = ended && !quit && !input_ended;
  }
  runtime.Stop();
  std::cout.flush();
  // Exit without destructors: the detached reader may still block in getline.
  std::_Exit(gave_up ? 1 : 0);
}
