#include "session_service/server_runtime.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "process/metrics_endpoint.h"
#include "process/system_clock.h"
#include "session_service/gateway_link_service.h"
#include "session_service/ops_service.h"

namespace gss {
namespace {

constexpr const char* kLinkServiceName = "gss.link.v1.GatewayLink";
constexpr const char* kOpsServiceName = "gss.ops.v1.SessionInspection";
constexpr int kMaxLinkMessageBytes = 64 << 20;
constexpr absl::Duration kOpsShutdownGrace = absl::Milliseconds(500);

// Keeps the process-wide reflection plugin off one server: the health-only
// listener is open to anyone, and reflection belongs behind the ops check.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    std::erase_if(*plugins, [](const auto& plugin) {
      return plugin->name() == "proto_server_reflection";
    });
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<ServerRuntime>> ServerRuntime::Create(
    RuntimeOptions options) {
  if (absl::Status status = options.host.Validate(); !status.ok()) {
    return status;
  }
  if (options.link_address.empty() || options.ops_address.empty()) {
    return absl::InvalidArgumentError(
        "link_address and ops_address must not be empty");
  }
  // The ops credentials (TLS files) are checked before anything is built.
  AuditLog audit = options.audit_log ? options.audit_log : StderrAuditLog();
  std::shared_ptr<const OpsAuthorizer> authorizer = options.ops_authorizer;
  if (authorizer == nullptr) authorizer = OpsAuthorizer::AllowAll();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeOpsServerCredentials(authorizer, options.ops_tls, audit);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<ServerRuntime> runtime(new ServerRuntime(std::move(options)));
  runtime->ops_credentials_ = *std::move(credentials);
  const RuntimeOptions& opts = runtime->options_;
  const Clock* clock = opts.clock;
  if (clock == nullptr) {
    runtime->owned_clock_ = std::make_unique<process::SystemClock>();
    clock = runtime->owned_clock_.get();
  }
  runtime->metrics_ = std::make_shared<ServiceMetrics>();
  std::shared_ptr<const Authenticator> authenticator = opts.authenticator;
  if (authenticator == nullptr) {
    authenticator = std::make_shared<DevAuthenticator>();
  }
  absl::StatusOr<std::unique_ptr<ServerNetworkHost>> host =
      ServerNetworkHost::Create(opts.host, *clock, std::move(authenticator),
                                runtime->metrics_);
  if (!host.ok()) return host.status();
  runtime->host_ = *std::move(host);
  ServerNetworkHost* host_ptr = runtime->host_.get();
  runtime->session_gauge_ = std::make_shared<SessionStateCollector>(
      [host_ptr] { return host_ptr->sessions().Counts(); });
  runtime->link_service_ = std::make_unique<GatewayLinkService>(
      *host_ptr, runtime->metrics_, opts.link);
  runtime->ops_service_ = std::make_unique<SessionInspectionService>(
      *host_ptr, std::move(authorizer), std::move(audit));
  return runtime;
}

ServerRuntime::ServerRuntime(RuntimeOptions options)
    : options_(std::move(options)) {}

ServerRuntime::~ServerRuntime() { Stop(); }

absl::Status ServerRuntime::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopped_) {
    return absl::FailedPreconditionError("a runtime starts once");
  }
  // Process-wide switches that the builders below read.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  auto fail = [this](absl::Status status) {
    for (std::unique_ptr<grpc::Server>* server :
         {&link_server_, &ops_server_, &health_server_}) {
      if (*server) (*server)->Shutdown();
      server->reset();
    }
    metrics_endpoint_.reset();
    return status;
  };

  {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(options_.link_address,
                             grpc::InsecureServerCredentials(), &link_port_);
    builder.RegisterService(link_service_.get());
    // gRPC sets SO_REUSEPORT by default, which would let a second instance
    // share the port silently instead of failing to start.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    // A dead gateway link is noticed within seconds, so its sessions move to
    // Reconnecting; and the gateway may keep the link alive with its own
    // pings without being told off.
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(
        GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
    // A Hello lists every peer of a gateway (about 30 bytes each), which can
    // exceed gRPC's 4 MiB default with many peers.
    builder.SetMaxReceiveMessageSize(kMaxLinkMessageBytes);
    link_server_ = builder.BuildAndStart();
    if (link_server_ == nullptr || link_port_ == 0) {
      return fail(absl::UnavailableError(absl::StrCat(
          "cannot listen on link address ", options_.link_address)));
    }
  }
  {
    grpc::ServerBuilder builder;
    // Every call passes the ops credentials' check before any service.
    builder.AddListeningPort(options_.ops_address, ops_credentials_,
                             &ops_port_);
    builder.RegisterService(ops_service_.get());
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    ops_server_ = builder.BuildAndStart();
    if (ops_server_ == nullptr || ops_port_ == 0) {
      return fail(absl::UnavailableError(
          absl::StrCat("cannot listen on ops address ", options_.ops_address)));
    }
  }
  if (!options_.health_address.empty()) {
    // Only the default health service, which every server adds at start;
    // the fallback answers every other method UNIMPLEMENTED (and gives the
    // builder the polled queue it insists on).
    grpc::ServerBuilder builder;
    health_fallback_ = std::make_unique<grpc::CallbackGenericService>();
    builder.RegisterCallbackGenericService(health_fallback_.get());
    builder.AddListeningPort(options_.health_address,
                             grpc::InsecureServerCredentials(), &health_port_);
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.SetOption(std::make_unique<WithoutReflection>());
    health_server_ = builder.BuildAndStart();
    if (health_server_ == nullptr || health_port_ == 0) {
      return fail(absl::UnavailableError(absl::StrCat(
          "cannot listen on health address ", options_.health_address)));
    }
  }
  if (!options_.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<process::MetricsEndpoint>> endpoint =
        process::MetricsEndpoint::Start(options_.metrics_address, 2);
    if (!endpoint.ok()) return fail(endpoint.status());
    metrics_endpoint_ = *std::move(endpoint);
    metrics_endpoint_->Register(metrics_->registry());
    metrics_endpoint_->Register(session_gauge_);
    metrics_port_ = metrics_endpoint_->port();
  }
  SetServing(true);
  StartTimer();
  started_ = true;
  return absl::OkStatus();
}

void ServerRuntime::SetServing(bool serving) {
  if (link_server_ && link_server_->GetHealthCheckService()) {
    grpc::HealthCheckServiceInterface* health =
        link_server_->GetHealthCheckService();
    health->SetServingStatus("", serving);
    health->SetServingStatus(kLinkServiceName, serving);
  }
  // The health-only server answers for the ops service as the ops server
  // does.
  for (grpc::Server* server : {ops_server_.get(), health_server_.get()}) {
    if (server == nullptr || server->GetHealthCheckService() == nullptr) {
      continue;
    }
    grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
    health->SetServingStatus("", serving);
    health->SetServingStatus(kOpsServiceName, serving);
  }
}

void ServerRuntime::StartTimer() {
  timer_ = std::thread([this] {
    const absl::Duration interval = options_.host.advance_interval;
    for (;;) {
      {
        absl::MutexLock lock(&timer_mu_);
        if (timer_mu_.AwaitWithTimeout(absl::Condition(&timer_stop_),
                                       interval)) {
          return;
        }
      }
      host_->AdvanceTime();
    }
  });
}

void ServerRuntime::StopTimer() {
  {
    absl::MutexLock lock(&timer_mu_);
    timer_stop_ = true;
  }
  if (timer_.joinable()) timer_.join();
}

void ServerRuntime::BeginDrain() {
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || stopped_) return;
    SetServing(false);
  }
  host_->BeginDrain();
}

void ServerRuntime::Drain(absl::Duration deadline) {
  const absl::Time start = absl::Now();
  BeginDrain();
  host_->WaitForPlayersGone(start + deadline / 2);
  Stop(start + deadline);
}

void ServerRuntime::Stop(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  stopped_ = true;
  // Create failed part-way: nothing was started.
  if (ops_service_ == nullptr) return;
  SetServing(false);
  // No deadline or event may create or change a session after the Clear
  // below.
  StopTimer();
  host_->Quiesce();
  ops_service_->Shutdown();
  host_->Clear();
  if (started_) {
    // The Disconnect{server_shutdown} commands queued by Clear go out before
    // the streams end.
    link_service_->Shutdown(deadline);
    link_server_->Shutdown(absl::ToChronoTime(deadline));
    // Ops calls are short and their watches ended above: one still open
    // now (a poll racing the stop) is cancelled after a moment rather than
    // holding the exit until its own deadline.
    const absl::Time ops_deadline =
        std::min(deadline, absl::Now() + kOpsShutdownGrace);
    ops_server_->Shutdown(absl::ToChronoTime(ops_deadline));
    if (health_server_) {
      health_server_->Shutdown(absl::ToChronoTime(ops_deadline));
    }
    // Last, so that a scrape during the whole drain (however long a gateway
    // keeps the link's shutdown waiting) sees gss_draining 1 and the
    // sessions leaving.
    if (metrics_endpoint_) metrics_endpoint_->Stop();
  }
}

}  // namespace gss
