// The session service process: flags to options, start, then wait for SIGTERM
// (drain, then stop) or SIGINT (stop); SIGHUP re-reads the ops tokens file.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/gameplay_rules.h"
#include "common/multi_session_manager.h"
#include "common/session_policy.h"
#include "process/process_setup.h"
#include "session_service/authenticator.h"
#include "session_service/ops_auth.h"
#include "session_service/ops_credentials.h"
#include "session_service/server_runtime.h"

namespace {

const gss::ServerSessionPolicy kPolicy;
const gss::GameplayRules kRules;
const gss::MultiSessionOptions kSessions;

}  // namespace

// Listeners and process.
ABSL_FLAG(std::string, link_address, "127.0.0.1:7780",
          "Gateway link gRPC server (host:port; port 0 lets the OS choose). "
          "Loopback by default: only the sidecar gateway may attach.");
ABSL_FLAG(std::string, ops_address, "0.0.0.0:7781",
          "Ops gRPC server: SessionInspection, health and reflection.");
ABSL_FLAG(std::string, metrics_address, "0.0.0.0:9464",
          "Prometheus endpoint (path /metrics); empty disables it.");
ABSL_FLAG(std::string, port_file, "",
          "When set, write link=PORT, ops=PORT and metrics=PORT lines to "
          "PATH.tmp once every listener is bound, then rename it to PATH.");
ABSL_FLAG(std::string, health_address, "",
          "When set, a plaintext gRPC server with only grpc.health.v1 "
          "(for probes that cannot speak TLS to the ops address).");
ABSL_FLAG(std::string, ops_auth, "tokens",
          "Who may call the ops API: tokens (bearer tokens from "
          "--ops_tokens_file, with roles reader and admin) or none (anyone "
          "who reaches --ops_address; development only).");
ABSL_FLAG(std::string, ops_tokens_file, "",
          "Ops API tokens: lines \"<role> <principal> <token>\" (role reader "
          "or admin). Required with --ops_auth=tokens.");
ABSL_FLAG(absl::Duration, ops_tokens_reload_interval, absl::Seconds(10),
          "How often the tokens file is checked for changes (rotation); 0 "
          "checks only on SIGHUP.");
ABSL_FLAG(std::string, ops_tls_cert_file, "",
          "PEM certificate chain of the ops listener; with "
          "--ops_tls_key_file it serves TLS.");
ABSL_FLAG(std::string, ops_tls_key_file, "",
          "PEM private key of --ops_tls_cert_file (unencrypted).");
ABSL_FLAG(std::string, ops_tls_client_ca_file, "",
          "PEM CA certificates; when set, ops clients must present a "
          "certificate it signed (mTLS). Needs the TLS cert and key.");
ABSL_FLAG(std::string, authenticator, "dev",
          "Login credential check: dev (the credential is the player name) "
          "or jwt (HS256 tokens signed with --jwt_key_file).");
ABSL_FLAG(std::string, jwt_key_file, "",
          "File holding the HS256 secret (at least 32 bytes; trailing "
          "whitespace is ignored). Required with --authenticator=jwt.");
ABSL_FLAG(absl::Duration, drain_deadline, absl::Seconds(10),
          "After SIGTERM the process exits within this time.");
ABSL_FLAG(absl::Duration, advance_interval, absl::Milliseconds(20),
          "How often session deadlines are evaluated.");
ABSL_FLAG(absl::Duration, link_write_stall_timeout,
          gss::LinkOptions().max_write_stall,
          "A write to a gateway still not done after this long cancels its "
          "link stream (the gateway reconnects and resynchronises).");
ABSL_FLAG(uint64_t, link_max_queued_commands, gss::LinkOptions().max_queued,
          "Commands queued for one gateway at most; past this its link "
          "stream is cancelled.");

// MultiSessionOptions.
ABSL_FLAG(int32_t, instance_tag, kSessions.instance_tag,
          "Written into every session id (1..65535) so another instance can "
          "route a resume to its owner.");
ABSL_FLAG(int64_t, max_sessions, kSessions.max_sessions,
          "Logged-in sessions held at most; 0 means no limit.");
ABSL_FLAG(bool, replace_existing_login, kSessions.replace_existing_login,
          "A second login of the same player replaces the older session "
          "(reason replaced); false refuses it (already_logged_in).");
ABSL_FLAG(int32_t, shard_count, kSessions.shard_count,
          "Independent session locks; a power of two up to 256.");
ABSL_FLAG(absl::Duration, timer_resolution, kSessions.timer_resolution,
          "Deadlines fire at most this much late.");
ABSL_FLAG(int32_t, timer_slots, kSessions.timer_slots,
          "Slots per shard's timing wheel; a power of two.");

// ServerSessionPolicy.
ABSL_FLAG(absl::Duration, login_timeout, kPolicy.login_timeout,
          "A connection that has not logged in or resumed by then closes.");
ABSL_FLAG(absl::Duration, suspect_after, kPolicy.suspect_after,
          "An active session silent this long becomes suspect.");
ABSL_FLAG(absl::Duration, liveness_timeout, kPolicy.liveness_timeout,
          "A session silent this long loses its connection (reconnecting).");
ABSL_FLAG(absl::Duration, reconnect_grace, kPolicy.reconnect_grace,
          "How long a session whose connection is gone is held for resume; "
          "0 closes it at once.");
ABSL_FLAG(int32_t, max_resume_attempts, kPolicy.max_resume_attempts,
          "Failed resume attempts before a held session closes.");

// GameplayRules.
ABSL_FLAG(int32_t, grid_size, kRules.world.grid_size,
          "Positions are [0, grid_size) on both axes.");
ABSL_FLAG(absl::Duration, movement_tick, kRules.world.movement_tick,
          "One server tick.");
ABSL_FLAG(int32_t, movement_max_steps_per_tick,
          kRules.world.movement_max_steps_per_tick,
          "Manhattan steps allowed per elapsed tick.");
ABSL_FLAG(int32_t, max_ticks_ahead, kRules.world.max_ticks_ahead,
          "How far a client's tick may run ahead of the server's.");
ABSL_FLAG(int32_t, max_step_credit_ticks, kRules.world.max_step_credit_ticks,
          "Idle ticks a peer may bank for one move.");
ABSL_FLAG(absl::Duration, max_rewind, kRules.combat.max_rewind,
          "Lag compensation: how old a shot's tick may be.");
ABSL_FLAG(absl::Duration, fire_cooldown, kRules.combat.fire_cooldown,
          "Server time between two shots of one peer.");
ABSL_FLAG(int32_t, shot_range, kRules.combat.range,
          "Euclidean reach of a shot, in cells.");
ABSL_FLAG(int32_t, shot_damage, kRules.combat.damage, "Health a hit takes.");
ABSL_FLAG(int32_t, max_health, kRules.combat.max_health, "Health at spawn.");

namespace gss {
namespace {

using ::gss::process::kExitBadFlags;

// The ops API's credentials from the flags. With tokens, `tokens_file` is
// set (main re-reads it to rotate tokens).
absl::Status OpsAuthFromFlags(RuntimeOptions& options,
                              std::unique_ptr<OpsTokensFile>& tokens_file) {
  const std::string mode = absl::GetFlag(FLAGS_ops_auth);
  const std::string path = absl::GetFlag(FLAGS_ops_tokens_file);
  if (mode == "none") {
    if (!path.empty()) {
      return absl::InvalidArgumentError(
          "--ops_tokens_file is set but --ops_auth=none; drop one of them");
    }
    options.ops_authorizer = OpsAuthorizer::AllowAll();
  } else if (mode == "tokens") {
    if (path.empty()) {
      return absl::InvalidArgumentError(
          "the ops API needs credentials: set --ops_tokens_file=PATH (lines "
          "\"<role> <principal> <token>\", see docs/operations.md), or "
          "--ops_auth=none to leave it open (development only)");
    }
    absl::StatusOr<std::unique_ptr<OpsTokensFile>> loaded =
        OpsTokensFile::Load(path);
    if (!loaded.ok()) return loaded.status();
    tokens_file = *std::move(loaded);
    options.ops_authorizer = tokens_file->authorizer();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--ops_auth must be tokens or none, got \"", mode, "\""));
  }
  if (absl::GetFlag(FLAGS_ops_tokens_reload_interval) < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--ops_tokens_reload_interval must not be negative");
  }
  options.ops_tls.cert_file = absl::GetFlag(FLAGS_ops_tls_cert_file);
  options.ops_tls.key_file = absl::GetFlag(FLAGS_ops_tls_key_file);
  options.ops_tls.client_ca_file = absl::GetFlag(FLAGS_ops_tls_client_ca_file);
  return absl::OkStatus();
}

absl::StatusOr<RuntimeOptions> OptionsFromFlags(
    std::unique_ptr<OpsTokensFile>& tokens_file) {
  RuntimeOptions options;
  options.link_address = absl::GetFlag(FLAGS_link_address);
  options.ops_address = absl::GetFlag(FLAGS_ops_address);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  options.health_address = absl::GetFlag(FLAGS_health_address);
  if (options.link_address.empty() || options.ops_address.empty()) {
    return absl::InvalidArgumentError(
        "--link_address and --ops_address must not be empty");
  }

  HostOptions& host = options.host;
  host.advance_interval = absl::GetFlag(FLAGS_advance_interval);
  options.link.max_write_stall = absl::GetFlag(FLAGS_link_write_stall_timeout);
  options.link.max_queued = absl::GetFlag(FLAGS_link_max_queued_commands);
  if (options.link.max_write_stall <= absl::ZeroDuration() ||
      options.link.max_queued == 0) {
    return absl::InvalidArgumentError(
        "--link_write_stall_timeout and --link_max_queued_commands must be "
        "positive");
  }
  MultiSessionOptions& sessions = host.sessions;
  const int32_t tag = absl::GetFlag(FLAGS_instance_tag);
  if (tag < 1 || tag > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--instance_tag must be in [1, 65535], got ", tag));
  }
  sessions.instance_tag = static_cast<uint16_t>(tag);
  sessions.max_sessions = absl::GetFlag(FLAGS_max_sessions);
  sessions.replace_existing_login = absl::GetFlag(FLAGS_replace_existing_login);
  sessions.shard_count = absl::GetFlag(FLAGS_shard_count);
  sessions.timer_resolution = absl::GetFlag(FLAGS_timer_resolution);
  sessions.timer_slots = absl::GetFlag(FLAGS_timer_slots);

  ServerSessionPolicy& policy = sessions.policy;
  policy.login_timeout = absl::GetFlag(FLAGS_login_timeout);
  policy.suspect_after = absl::GetFlag(FLAGS_suspect_after);
  policy.liveness_timeout = absl::GetFlag(FLAGS_liveness_timeout);
  policy.reconnect_grace = absl::GetFlag(FLAGS_reconnect_grace);
  policy.max_resume_attempts = absl::GetFlag(FLAGS_max_resume_attempts);

  GameplayRules& rules = sessions.rules;
  rules.world.grid_size = absl::GetFlag(FLAGS_grid_size);
  rules.world.movement_tick = absl::GetFlag(FLAGS_movement_tick);
  rules.world.movement_max_steps_per_tick =
      absl::GetFlag(FLAGS_movement_max_steps_per_tick);
  rules.world.max_ticks_ahead = absl::GetFlag(FLAGS_max_ticks_ahead);
  rules.world.max_step_credit_ticks =
      absl::GetFlag(FLAGS_max_step_credit_ticks);
  rules.combat.max_rewind = absl::GetFlag(FLAGS_max_rewind);
  rules.combat.fire_cooldown = absl::GetFlag(FLAGS_fire_cooldown);
  rules.combat.range = absl::GetFlag(FLAGS_shot_range);
  rules.combat.damage = absl::GetFlag(FLAGS_shot_damage);
  rules.combat.max_health = absl::GetFlag(FLAGS_max_health);

  if (absl::Status status = host.Validate(); !status.ok()) return status;
  if (absl::GetFlag(FLAGS_drain_deadline) <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--drain_deadline must be positive");
  }

  absl::StatusOr<std::unique_ptr<Authenticator>> authenticator =
      MakeAuthenticator(absl::GetFlag(FLAGS_authenticator),
                        absl::GetFlag(FLAGS_jwt_key_file));
  if (!authenticator.ok()) return authenticator.status();
  options.authenticator = std::move(*authenticator);
  if (absl::Status status = OpsAuthFromFlags(options, tokens_file);
      !status.ok()) {
    return status;
  }
  return options;
}

// Ends the process if a drain overruns its deadline, whatever is stuck.
class Watchdog {
 public:
  explicit Watchdog(absl::Time deadline)
      : thread_([this, deadline] {
          absl::MutexLock lock(&mu_);
          if (!mu_.AwaitWithDeadline(absl::Condition(&done_), deadline)) {
            absl::FPrintF(stderr,
                          "session_service: drain deadline passed; exiting\n");
            std::_Exit(0);
          }
        }) {}
  ~Watchdog() {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    thread_.join();
  }

 private:
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Re-reads the tokens file; a bad one is reported and the old tokens stay.
void ReloadTokens(OpsTokensFile& tokens_file) {
  absl::StatusOr<bool> reloaded = tokens_file.Reload();
  if (!reloaded.ok()) {
    absl::FPrintF(stderr,
                  "session_service: ops tokens not reloaded, the previous "
                  "ones stay: %s\n",
                  reloaded.status().message());
  } else if (*reloaded) {
    absl::FPrintF(stderr,
                  "session_service: ops tokens reloaded from %s (%d tokens)\n",
                  tokens_file.path(), tokens_file.authorizer()->token_count());
  }
}

// Waits for SIGTERM or SIGINT (returned). Meanwhile SIGHUP, and every
// `reload_interval` when positive, re-read the tokens file if there is one.
int WaitForTermination(const sigset_t& signals, OpsTokensFile* tokens_file,
                       absl::Duration reload_interval) {
  const bool poll =
      tokens_file != nullptr && reload_interval > absl::ZeroDuration();
  const timespec interval = absl::ToTimespec(reload_interval);
  for (;;) {
    const int signal_number = poll ? sigtimedwait(&signals, nullptr, &interval)
                                   : sigwaitinfo(&signals, nullptr);
    if (signal_number == SIGTERM || signal_number == SIGINT) {
      return signal_number;
    }
    // SIGHUP, the interval passed (EAGAIN), or an interruption (EINTR).
    if (tokens_file != nullptr && (signal_number == SIGHUP || poll)) {
      ReloadTokens(*tokens_file);
    }
  }
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The game session service: gateway link, ops API, health, metrics.\n"
      "Usage: session_service [--flagfile=FILE] [--flag=value...]");
  process::ParseFlagsOrExit(argc, argv, "session_service");
  process::DisableMutexDeadlockDetection();
  std::unique_ptr<OpsTokensFile> tokens_file;
  absl::StatusOr<RuntimeOptions> options = OptionsFromFlags(tokens_file);
  if (!options.ok()) {
    absl::FPrintF(stderr, "session_service: %s\n", options.status().message());
    return kExitBadFlags;
  }

  // Signals are taken synchronously by sigwait below; every thread started
  // from here on inherits the mask.
  sigset_t signals = process::BlockTerminationSignals();
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<ServerRuntime>> runtime =
      ServerRuntime::Create(*std::move(options));
  if (!runtime.ok()) {
    absl::FPrintF(stderr, "session_service: %s\n", runtime.status().message());
    return kExitBadFlags;
  }
  if (tokens_file == nullptr) {
    absl::FPrintF(stderr,
                  "session_service: warning: --ops_auth=none: anyone who "
                  "reaches %s may call the ops API, EvictSession included\n",
                  absl::GetFlag(FLAGS_ops_address));
  }
  if (absl::Status status = (*runtime)->Start(); !status.ok()) {
    absl::FPrintF(stderr, "session_service: %s\n", status.message());
    return 1;
  }
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file);
      !port_file.empty()) {
    std::vector<std::pair<std::string, int>> ports = {
        {"link", (*runtime)->link_port()},
        {"ops", (*runtime)->ops_port()},
        {"metrics", (*runtime)->metrics_port()}};
    if ((*runtime)->health_port() != 0) {
      ports.emplace_back("health", (*runtime)->health_port());
    }
    if (absl::Status status = process::WritePortFile(port_file, ports);
        !status.ok()) {
      absl::FPrintF(stderr, "session_service: %s\n", status.message());
      (*runtime)->Stop();
      return 1;
    }
  }
  absl::PrintF("session_service ready instance=%s link=%d ops=%d metrics=%d\n",
               (*runtime)->instance_id(), (*runtime)->link_port(),
               (*runtime)->ops_port(), (*runtime)->metrics_port());
  std::fflush(stdout);

  const int signal_number =
      WaitForTermination(signals, tokens_file.get(),
                         absl::GetFlag(FLAGS_ops_tokens_reload_interval));
  const absl::Duration deadline = absl::GetFlag(FLAGS_drain_deadline);
  const absl::Time hard_deadline = absl::Now() + deadline;
  Watchdog watchdog(hard_deadline);
  // A margin for the process to tear down after the servers have stopped.
  const absl::Duration budget =
      deadline - std::min(deadline / 10, absl::Seconds(1));
  if (signal_number == SIGTERM) {
    absl::FPrintF(stderr, "session_service: SIGTERM, draining within %s\n",
                  absl::FormatDuration(deadline));
    (*runtime)->Drain(budget);
  } else {
    (*runtime)->Stop(absl::Now() + budget);
  }
  runtime->reset();
  return 0;
}

}  // namespace
}  // namespace gss

int main(int argc, char** argv) { return gss::Main(argc, argv); }
