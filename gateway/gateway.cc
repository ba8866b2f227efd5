#include "gateway/gateway.h"

#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <exception>
#include <iostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "gateway/address.h"
#include "gateway/tcp_endpoint.h"
#include "gateway/udp_endpoint.h"
#include "gss/game/v1/game.pb.h"
#include "process/metrics_endpoint.h"

namespace gss::gateway {

namespace asio = boost::asio;

namespace {

uint64_t RandomU64() {
  std::random_device device;
  return uint64_t{device()} << 32 | device();
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "gateway";
  return name;
}

absl::Status Invalid(absl::string_view flag, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", why));
}

}  // namespace

absl::Status ValidateOptions(const GatewayOptions& o) {
  if (auto parsed = ParseHostPort(o.game_address); !parsed.ok()) {
    return Invalid("game_address", parsed.status().message());
  }
  if (!o.metrics_address.empty()) {
    if (auto parsed = ParseHostPort(o.metrics_address); !parsed.ok()) {
      return Invalid("metrics_address", parsed.status().message());
    }
  }
  if (o.service_address.empty()) {
    return Invalid("service_address", "must not be empty");
  }
  if (o.gateway_id == 0) return Invalid("gateway_id", "must not be 0");
  if (o.io_threads < 1 || o.io_threads > 256) {
    return Invalid("io_threads", "must be in [1, 256]");
  }
  if (o.max_frame_size < 1 || o.max_frame_size > (64u << 20)) {
    return Invalid("max_frame_size", "must be in [1, 67108864]");
  }
  if (!(o.peer_rate > 0)) return Invalid("peer_rate", "must be > 0");
  if (!(o.peer_burst >= 1)) return Invalid("peer_burst", "must be >= 1");
  if (o.max_peers < 1) return Invalid("max_peers", "must be >= 1");
  if (o.udp_idle_timeout <= absl::ZeroDuration()) {
    return Invalid("udp_idle_timeout", "must be > 0");
  }
  if (o.cookie_lifetime < absl::Milliseconds(1)) {
    return Invalid("cookie_lifetime", "must be >= 1ms");
  }
  if (o.batch_max_events < 1) {
    return Invalid("batch_max_events", "must be >= 1");
  }
  if (o.batch_max_bytes < 1024) {
    return Invalid("batch_max_bytes", "must be >= 1024");
  }
  if (o.batch_max_delay < absl::ZeroDuration() ||
      o.batch_max_delay > absl::Seconds(1)) {
    return Invalid("batch_max_delay", "must be in [0, 1s]");
  }
  if (o.link_backoff_initial < absl::Milliseconds(1)) {
    return Invalid("link_backoff_initial", "must be >= 1ms");
  }
  if (o.link_backoff_max < o.link_backoff_initial) {
    return Invalid("link_backoff_max", "must be >= --link_backoff_initial");
  }
  if (o.link_keepalive < absl::Milliseconds(10)) {
    return Invalid("link_keepalive", "must be >= 10ms");
  }
  if (o.liveness_report_interval < absl::Milliseconds(1) ||
      o.liveness_report_interval > absl::Seconds(10)) {
    return Invalid("liveness_report_interval", "must be in [1ms, 10s]");
  }
  if (o.liveness_ack_timeout < absl::Milliseconds(1)) {
    return Invalid("liveness_ack_timeout", "must be >= 1ms");
  }
  if (o.link_queue_max_events < 1) {
    return Invalid("link_queue_max_events", "must be >= 1");
  }
  if (o.link_queue_max_bytes < o.max_frame_size) {
    return Invalid("link_queue_max_bytes",
                   "must hold at least one message of --max_frame_size");
  }
  if (o.tcp_max_pending_bytes < o.max_frame_size + wire::kTcpHeaderSize) {
    return Invalid("tcp_max_pending_bytes",
                   "must hold at least one frame of --max_frame_size");
  }
  return absl::OkStatus();
}

Gateway::Gateway(GatewayOptions options)
    : options_(std::move(options)),
      io_(options_.io_threads),
      udp_io_(1),
      incarnation_(RandomU64()),
      ids_(static_cast<uint32_t>(RandomU64())),
      cookies_(CookieAuthority::RandomSecret(),
               static_cast<uint64_t>(
                   absl::ToInt64Milliseconds(options_.cookie_lifetime))),
      peers_(options_.max_peers, [this](Transport transport, size_t count) {
        metrics_.SetPeers(transport, count);
      }) {
  ServiceLinkOptions link;
  link.target = options_.service_address;
  link.gateway_id = options_.gateway_id;
  link.gateway_name =
      options_.gateway_name.empty() ? HostName() : options_.gateway_name;
  link.incarnation = incarnation_;
  link.batch_max_events = options_.batch_max_events;
  link.batch_max_bytes = options_.batch_max_bytes;
  link.batch_max_delay = options_.batch_max_delay;
  link.backoff_initial = options_.link_backoff_initial;
  link.backoff_max = options_.link_backoff_max;
  link.keepalive = options_.link_keepalive;
  link.max_queued_events = options_.link_queue_max_events;
  link.answer_pings = options_.answer_pings;
  link.liveness_report_interval = options_.liveness_report_interval;
  link.liveness_ack_timeout = options_.liveness_ack_timeout;
  link.max_queued_bytes = options_.link_queue_max_bytes;
  link_ = std::make_unique<ServiceLink>(
      std::move(link), metrics_,
      [this](link::v1::PeerCommand& command) { OnCommand(command); },
      [this] { OnLinkLost(); });

  const EndpointContext context{
      .peers = peers_,
      .sink = *link_,
      .metrics = metrics_,
      .ids = ids_,
      .limits = PeerLimits{.max_frame_size = options_.max_frame_size,
                           .rate = options_.peer_rate,
                           .burst = options_.peer_burst},
  };
  udp_ = std::make_unique<UdpEndpoint>(udp_io_, context, cookies_,
                                       options_.udp_idle_timeout);
  tcp_ = std::make_unique<TcpEndpoint>(
      io_, context,
      TcpOptions{.max_pending_bytes = options_.tcp_max_pending_bytes});
}

Gateway::~Gateway() { Stop(); }

absl::Status Gateway::BindGamePort() {
  auto parsed = ParseHostPort(options_.game_address);
  if (!parsed.ok()) return parsed.status();
  const asio::ip::address address = parsed->address;
  if (parsed->port != 0) {
    if (absl::Status s = tcp_->Open({address, parsed->port}); !s.ok()) {
      return s;
    }
    return udp_->Open({address, parsed->port});
  }
  // Port 0: the OS picks a free TCP port; UDP must then get the same number,
  // which another program may hold, so try a few TCP ports.
  absl::Status last;
  for (int attempt = 0; attempt < 16; ++attempt) {
    if (absl::Status s = tcp_->Open({address, 0}); !s.ok()) return s;
    last = udp_->Open({address, tcp_->port()});
    if (last.ok()) return last;
  }
  return absl::UnavailableError(
      absl::StrCat("no port free for both TCP and UDP: ", last.message()));
}

absl::Status Gateway::Start() {
  if (started_) return absl::FailedPreconditionError("already started");
  if (absl::Status s = ValidateOptions(options_); !s.ok()) return s;
  if (absl::Status s = BindGamePort(); !s.ok()) return s;
  game_port_ = tcp_->port();

  if (!options_.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<process::MetricsEndpoint>> endpoint =
        process::MetricsEndpoint::Start(options_.metrics_address,
                                        /*threads=*/1);
    if (!endpoint.ok()) return endpoint.status();
    metrics_endpoint_ = *std::move(endpoint);
    metrics_endpoint_->Register(metrics_.registry());
    metrics_port_ = static_cast<uint16_t>(metrics_endpoint_->port());
  }

  started_ = true;
  work_.emplace(io_.get_executor());
  udp_work_.emplace(udp_io_.get_executor());
  for (int i = 0; i < options_.io_threads; ++i) {
    threads_.emplace_back([this] { io_.run(); });
  }
  threads_.emplace_back([this] { udp_io_.run(); });
  udp_->Start();
  tcp_->Start();
  link_->Start();
  return absl::OkStatus();
}

void Gateway::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // No new peers from here on; every accept or handshake in flight fails.
  peers_.StopAdmitting();
  tcp_->Close();
  // Tell every peer and the service. Each close runs on its peer's strand.
  const absl::Time deadline = absl::Now() + options_.shutdown_timeout;
  for (const auto& peer : peers_.Snapshot()) {
    peer->CloseByGateway(wire::DisconnectCode::kGatewayShutdown,
                         "gateway_shutdown");
  }
  if (!peers_.WaitUntilEmpty(deadline - absl::Now())) {
    std::cerr << "gateway: " << peers_.size()
              << " peers still open at shutdown\n";
  }
  link_->Stop(std::max(deadline - absl::Now(), absl::Milliseconds(100)));
  udp_->Close();
  work_.reset();
  udp_work_.reset();
  io_.stop();
  udp_io_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  metrics_endpoint_.reset();
}

void Gateway::OnCommand(link::v1::PeerCommand& command) {
  std::shared_ptr<Peer> peer = peers_.Find(command.connection_id());
  if (peer == nullptr) {
    metrics_.Drop(DropReason::kUnknownConnectionId);
    return;
  }
  switch (command.kind_case()) {
    case link::v1::PeerCommand::kDeliver:
      peer->Deliver(std::move(*command.mutable_deliver()));
      break;
    case link::v1::PeerCommand::kClose:
      peer->CloseByService(
          std::move(*command.mutable_close()->mutable_final_message()),
          std::move(*command.mutable_close()->mutable_reason()));
      break;
    case link::v1::PeerCommand::KIND_NOT_SET:
      break;
  }
}

void Gateway::OnLinkLost() {
  game::v1::ServerMessage notice;
  game::v1::Disconnect* disconnect = notice.mutable_disconnect();
  disconnect->set_reason("service_unavailable");
  disconnect->set_detail(
      "the session service is out of reach; the connection stays open: "
      "resume or log in again once it is back");
  const std::string bytes = notice.SerializeAsString();
  for (const auto& peer : peers_.Snapshot()) peer->Deliver(bytes);
}

}  // namespace gss::gateway
