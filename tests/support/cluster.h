// One session_service and one gateway on loopback with OS-chosen ports, the
// gateway wired to the service's link port; either can be restarted. The
// service's ops API checks tokens from a file the cluster writes.
#ifndef TESTS_SUPPORT_CLUSTER_H_
#define TESTS_SUPPORT_CLUSTER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/ops_client.h"
#include "tests/support/process.h"

namespace gss::testing {

// Where the binaries are: the build tree's, unless the environment variables
// GSS_SESSION_SERVICE_BINARY / GSS_GATEWAY_BINARY say otherwise.
std::string SessionServiceBinary();
std::string GatewayBinary();

// Session policy flags that make liveness run out within a second or two:
// suspect after 300 ms, reconnecting after 600 ms, closed 600 ms later.
inline std::vector<std::string> FastLivenessFlags() {
  return {"--suspect_after=300ms", "--liveness_timeout=600ms",
          "--reconnect_grace=600ms", "--advance_interval=10ms"};
}

struct ClusterOptions {
  // Extra flags, e.g. "--suspect_after=300ms". A flag given here replaces
  // the cluster's default for the same flag.
  std::vector<std::string> service_flags;
  std::vector<std::string> gateway_flags;
  bool start_gateway = true;
  // Each process must write its port file within this time.
  absl::Duration startup_timeout = absl::Seconds(20);
  // After starting, wait until the service reports the gateway attached.
  bool wait_for_attach = true;
  // TLS files for the cluster's own ops client, when the service flags turn
  // TLS on (the token is always the cluster's admin token).
  OpsClientOptions ops_tls;
};

// The principals of the tokens file every cluster writes.
inline constexpr char kClusterAdmin[] = "e2e-admin";
inline constexpr char kClusterReader[] = "e2e-reader";

class Cluster {
 public:
  static absl::StatusOr<std::unique_ptr<Cluster>> Start(ClusterOptions options);

  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;
  // Kills both processes. When the current test has failed, prints the tail
  // of every process's output first.
  ~Cluster();

  const std::string& dir() const { return dir_; }
  Process* service() { return service_.get(); }
  Process* gateway() { return gateway_.get(); }

  int link_port() const { return link_port_; }
  int ops_port() const { return ops_port_; }
  int service_metrics_port() const { return service_metrics_port_; }
  int game_port() const { return game_port_; }
  int gateway_metrics_port() const { return gateway_metrics_port_; }
  std::string ops_address() const;
  // A client for the current service instance (recreated on restart), with
  // the admin token.
  OpsClient& ops() { return *ops_; }

  // The ops tokens file passed as --ops_tokens_file (unless a test gives
  // --ops_auth=none), its two tokens, and files holding one token each (for
  // sessionctl --token_file).
  const std::string& ops_tokens_file() const { return ops_tokens_file_; }
  const std::string& admin_token() const { return admin_token_; }
  const std::string& reader_token() const { return reader_token_; }
  std::string admin_token_file() const { return dir_ + "/admin.token"; }
  std::string reader_token_file() const { return dir_ + "/reader.token"; }

  // Starts a service (after a stop) on the same link port, so the gateway
  // finds it again; ops and metrics ports are chosen anew. `extra_flags`
  // are added to the options' service flags for this start only.
  absl::Status StartService(const std::vector<std::string>& extra_flags = {});
  absl::Status StartGateway(const std::vector<std::string>& extra_flags = {});
  // SIGTERM and wait for the exit; the exit status is returned.
  absl::StatusOr<ExitStatus> StopService(
      absl::Duration timeout = absl::Seconds(15));
  absl::StatusOr<ExitStatus> StopGateway(
      absl::Duration timeout = absl::Seconds(15));
  void KillService();
  void KillGateway();
  // Waits until GetServerInfo reports at least `count` attached gateways.
  absl::Status WaitForGatewayAttached(absl::Duration timeout,
                                      uint32_t count = 1);

  // Every process's log tail (current and earlier instances).
  std::string LogTails() const;

 private:
  explicit Cluster(ClusterOptions options);
  absl::Status WriteOpsTokens();
  absl::StatusOr<std::map<std::string, int>> AwaitPortFile(
      Process& process, const std::string& path);

  ClusterOptions options_;
  std::string dir_;
  std::string ops_tokens_file_;
  std::string admin_token_;
  std::string reader_token_;
  int service_starts_ = 0;
  int gateway_starts_ = 0;
  std::unique_ptr<Process> service_;
  std::unique_ptr<Process> gateway_;
  // Stopped instances, kept for their logs.
  std::vector<std::unique_ptr<Process>> retired_;
  std::unique_ptr<OpsClient> ops_;
  int link_port_ = 0;
  int ops_port_ = 0;
  int service_metrics_port_ = 0;
  int game_port_ = 0;
  int gateway_metrics_port_ = 0;
};

}  // namespace gss::testing

#endif  // TESTS_SUPPORT_CLUSTER_H_
