// The session service's runtime entry point: owns the ServerNetworkHost (and
// through it the MultiSessionManager), the gateway link and ops gRPC servers
// (the latter behind the ops credentials), health, reflection and the
// Prometheus endpoint; starts, drains and stops.
#ifndef SESSION_SERVICE_SERVER_RUNTIME_H_
#define SESSION_SERVICE_SERVER_RUNTIME_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "session_service/authenticator.h"
#include "session_service/gateway_link_service.h"
#include "session_service/metrics.h"
#include "session_service/ops_auth.h"
#include "session_service/ops_credentials.h"
#include "session_service/server_network_host.h"

namespace grpc {
class CallbackGenericService;
class Server;
class ServerCredentials;
}  // namespace grpc

namespace gss::process {
class MetricsEndpoint;
}  // namespace gss::process

namespace gss {

class GatewayLinkService;
class SessionInspectionService;
class SessionStateCollector;

struct RuntimeOptions {
  // Port 0 in any address lets the OS choose; the chosen ports are reported
  // by link_port() and friends.
  std::string link_address = "127.0.0.1:7780";  // Only the sidecar attaches.
  std::string ops_address = "0.0.0.0:7781";
  std::string metrics_address = "0.0.0.0:9464";  // Empty: no endpoint.
  // A plaintext gRPC server with only grpc.health.v1, for probes that cannot
  // speak TLS when the ops listener does. Empty: none.
  std::string health_address;
  // Who may call what on the ops listener; null allows every call (what
  // --ops_auth=none asks for).
  std::shared_ptr<const OpsAuthorizer> ops_authorizer;
  // TLS (and mTLS) on the ops listener when its files are set.
  OpsTlsOptions ops_tls;
  // Eviction audit lines and refused admin calls; null: stderr.
  AuditLog audit_log;
  HostOptions host;
  LinkOptions link;
  // Null: the dev authenticator.
  std::shared_ptr<const Authenticator> authenticator;
  // Null: the system clock. Must outlive the runtime.
  const Clock* clock = nullptr;
};

class ServerRuntime {
 public:
  static absl::StatusOr<std::unique_ptr<ServerRuntime>> Create(
      RuntimeOptions options);
  // Stops if still running.
  ~ServerRuntime();

  ServerRuntime(const ServerRuntime&) = delete;
  ServerRuntime& operator=(const ServerRuntime&) = delete;

  // Binds every listener and starts serving; health reports SERVING.
  absl::Status Start();
  // Health NOT_SERVING, logins and new gateway links refused, every
  // connected peer told Disconnect{draining}.
  void BeginDrain();
  // BeginDrain, wait (at most half the time) for the gateways to close the
  // players' connections, then Stop with what remains of `deadline`.
  void Drain(absl::Duration deadline);
  // Ends the link streams after sending what is queued, closes every session
  // (server_shutdown; connected peers are told), and shuts the servers down,
  // cancelling calls still open at `deadline`. Idempotent.
  void Stop(absl::Time deadline);
  void Stop() { Stop(absl::Now() + absl::Seconds(5)); }

  ServerNetworkHost& host() { return *host_; }
  ServiceMetrics& metrics() { return *metrics_; }
  const std::string& instance_id() const { return host_->instance_id(); }
  int link_port() const { return link_port_; }
  int ops_port() const { return ops_port_; }
  int metrics_port() const { return metrics_port_; }  // 0 when disabled.
  int health_port() const { return health_port_; }    // 0 when disabled.

 private:
  explicit ServerRuntime(RuntimeOptions options);
  void SetServing(bool serving);
  // The thread that calls host_->AdvanceTime() every advance_interval: the
  // core's deadlines fire only when told the time.
  void StartTimer();
  void StopTimer();

  const RuntimeOptions options_;
  std::unique_ptr<Clock> owned_clock_;
  std::shared_ptr<ServiceMetrics> metrics_;
  std::shared_ptr<SessionStateCollector> session_gauge_;
  std::unique_ptr<ServerNetworkHost> host_;
  std::unique_ptr<GatewayLinkService> link_service_;
  std::unique_ptr<SessionInspectionService> ops_service_;
  std::unique_ptr<grpc::Server> link_server_;
  std::unique_ptr<grpc::Server> ops_server_;
  std::unique_ptr<grpc::Server> health_server_;
  std::unique_ptr<grpc::CallbackGenericService> health_fallback_;
  std::shared_ptr<grpc::ServerCredentials> ops_credentials_;
  std::unique_ptr<process::MetricsEndpoint> metrics_endpoint_;
  int link_port_ = 0;
  int ops_port_ = 0;
  int metrics_port_ = 0;
  int health_port_ = 0;

  absl::Mutex timer_mu_;
  bool timer_stop_ ABSL_GUARDED_BY(timer_mu_) = false;
  std::thread timer_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gss

#endif  // SESSION_SERVICE_SERVER_RUNTIME_H_
