// The gateway binary: flags (also from --flagfile) to GatewayOptions, start,
// announce the ports, run until SIGTERM/SIGINT, then stop cleanly.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gateway/gateway.h"
#include "process/process_setup.h"

namespace {
const gss::gateway::GatewayOptions kDefaults;
}  // namespace

ABSL_FLAG(std::string, game_address, kDefaults.game_address,
          "TCP and UDP listening address (same port number); port 0: any "
          "port free for both");
ABSL_FLAG(std::string, service_address, kDefaults.service_address,
          "gRPC address of the session service's GatewayLink");
ABSL_FLAG(uint32_t, gateway_id, kDefaults.gateway_id,
          "this gateway's id among the gateways of one service (not 0)");
ABSL_FLAG(std::string, gateway_name, "",
          "name for people (Hello.gateway_name); default: the host name");
ABSL_FLAG(int32_t, io_threads, kDefaults.io_threads,
          "threads for the TCP connections (UDP has a thread of its own)");
ABSL_FLAG(uint32_t, max_frame_size, kDefaults.max_frame_size,
          "largest game message in bytes; a larger one drops the peer");
ABSL_FLAG(double, peer_rate, kDefaults.peer_rate,
          "messages per second a peer may send, sustained");
ABSL_FLAG(double, peer_burst, kDefaults.peer_burst,
          "messages a peer may send in a burst");
ABSL_FLAG(uint64_t, max_peers, kDefaults.max_peers,
          "peers held at most; more are refused (UDP: Disconnect code 7)");
ABSL_FLAG(absl::Duration, udp_idle_timeout, kDefaults.udp_idle_timeout,
          "a UDP peer silent this long is dropped");
ABSL_FLAG(absl::Duration, cookie_lifetime, kDefaults.cookie_lifetime,
          "how long a UDP challenge cookie is accepted");
ABSL_FLAG(uint32_t, batch_max_events, kDefaults.batch_max_events,
          "events per EventBatch at most; a full batch is sent at once");
ABSL_FLAG(uint32_t, batch_max_bytes, kDefaults.batch_max_bytes,
          "payload bytes per EventBatch at most");
ABSL_FLAG(absl::Duration, batch_max_delay, kDefaults.batch_max_delay,
          "least time between two batch writes unless a batch fills; an "
          "event after a quiet spell goes out at once");
ABSL_FLAG(absl::Duration, link_backoff_initial, kDefaults.link_backoff_initial,
          "first reconnect delay of the service link");
ABSL_FLAG(absl::Duration, link_backoff_max, kDefaults.link_backoff_max,
          "longest reconnect delay of the service link");
ABSL_FLAG(absl::Duration, link_keepalive, kDefaults.link_keepalive,
          "gRPC keepalive time (and timeout) on the service link");
ABSL_FLAG(bool, answer_pings, kDefaults.answer_pings,
          "answer peers' Pings here and report them to the service in bulk; "
          "false: every Ping goes to the service");
ABSL_FLAG(absl::Duration, liveness_report_interval,
          kDefaults.liveness_report_interval,
          "most time between a Ping answered here and its report to the "
          "service");
ABSL_FLAG(absl::Duration, liveness_ack_timeout, kDefaults.liveness_ack_timeout,
          "a report unacknowledged this long sends Pings to the service "
          "again, so clients notice a stalled service");
ABSL_FLAG(uint64_t, link_queue_max_events, kDefaults.link_queue_max_events,
          "peer messages queued for the service at most; more are dropped");
ABSL_FLAG(uint64_t, link_queue_max_bytes, kDefaults.link_queue_max_bytes,
          "bytes of peer messages queued for the service at most");
ABSL_FLAG(uint64_t, tcp_max_pending_bytes, kDefaults.tcp_max_pending_bytes,
          "output queued for one TCP peer at most; more drops the peer");
ABSL_FLAG(std::string, metrics_address, kDefaults.metrics_address,
          "Prometheus /metrics HTTP address; empty: none");
ABSL_FLAG(std::string, port_file, "",
          "when set: write game=PORT and metrics=PORT lines here (atomically)");

namespace {

[[noreturn]] void Usage(absl::string_view reason) {
  std::cerr << "gateway: " << reason << "\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken synchronously by this thread (sigwait); every thread
  // started later inherits the mask and never sees them.
  sigset_t signals = gss::process::BlockTerminationSignals();

  absl::SetProgramUsageMessage(
      "Game transport gateway: UDP/TCP game port to the session service. "
      "Flags are listed in docs/configuration.md.");
  gss::process::ParseFlagsOrExit(argc, argv, "gateway");
  gss::process::DisableMutexDeadlockDetection();

  gss::gateway::GatewayOptions options;
  options.game_address = absl::GetFlag(FLAGS_game_address);
  options.service_address = absl::GetFlag(FLAGS_service_address);
  options.gateway_id = absl::GetFlag(FLAGS_gateway_id);
  options.gateway_name = absl::GetFlag(FLAGS_gateway_name);
  options.io_threads = absl::GetFlag(FLAGS_io_threads);
  options.max_frame_size = absl::GetFlag(FLAGS_max_frame_size);
  options.peer_rate = absl::GetFlag(FLAGS_peer_rate);
  options.peer_burst = absl::GetFlag(FLAGS_peer_burst);
  options.max_peers = absl::GetFlag(FLAGS_max_peers);
  options.udp_idle_timeout = absl::GetFlag(FLAGS_udp_idle_timeout);
  options.cookie_lifetime = absl::GetFlag(FLAGS_cookie_lifetime);
  options.batch_max_events = absl::GetFlag(FLAGS_batch_max_events);
  options.batch_max_bytes = absl::GetFlag(FLAGS_batch_max_bytes);
  options.batch_max_delay = absl::GetFlag(FLAGS_batch_max_delay);
  options.link_backoff_initial = absl::GetFlag(FLAGS_link_backoff_initial);
  options.link_backoff_max = absl::GetFlag(FLAGS_link_backoff_max);
  options.link_keepalive = absl::GetFlag(FLAGS_link_keepalive);
  options.answer_pings = absl::GetFlag(FLAGS_answer_pings);
  options.liveness_report_interval =
      absl::GetFlag(FLAGS_liveness_report_interval);
  options.liveness_ack_timeout = absl::GetFlag(FLAGS_liveness_ack_timeout);
  options.link_queue_max_events = absl::GetFlag(FLAGS_link_queue_max_events);
  options.link_queue_max_bytes = absl::GetFlag(FLAGS_link_queue_max_bytes);
  options.tcp_max_pending_bytes = absl::GetFlag(FLAGS_tcp_max_pending_bytes);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (absl::Status valid = gss::gateway::ValidateOptions(options);
      !valid.ok()) {
    Usage(valid.message());
  }

  gss::gateway::Gateway gateway(options);
  if (absl::Status started = gateway.Start(); !started.ok()) {
    std::cerr << "gateway: " << started.message() << "\n";
    return 1;
  }
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file);
      !port_file.empty()) {
    if (absl::Status written = gss::process::WritePortFile(
            port_file, {{"game", gateway.game_port()},
                        {"metrics", gateway.metrics_port()}});
        !written.ok()) {
      std::cerr << "gateway: " << written.message() << "\n";
      gateway.Stop();
      return 1;
    }
  }
  std::cout << "gateway ready game=" << gateway.game_port()
            << " metrics=" << gateway.metrics_port() << std::endl;

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::cerr << "gateway: signal " << signal_number << ", stopping\n";
  gateway.Stop();
  return 0;
}
