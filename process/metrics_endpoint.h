// The Prometheus /metrics endpoint both processes serve: prometheus-cpp's
// Exposer, with a start that reports a bind failure as a status and a stop
// that takes milliseconds instead of the two seconds civetweb's accept loop
// would otherwise sleep through.
#ifndef PROCESS_METRICS_ENDPOINT_H_
#define PROCESS_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace prometheus {
class Collectable;
class Exposer;
}  // namespace prometheus

namespace gss::process {

class MetricsEndpoint {
 public:
  // Listens on `address` ("host:port"; port 0 lets the OS choose) with
  // `threads` HTTP threads.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& address, int threads);
  // Stops serving; see Stop().
  ~MetricsEndpoint();

  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  void Register(const std::weak_ptr<prometheus::Collectable>& collectable);
  int port() const { return port_; }

  // Stops serving and returns once civetweb's threads are gone. Its accept
  // loop polls with a 2 s timeout before it looks at the stop flag, so
  // while the stop runs the endpoint is sent empty connections to wake it.
  // Idempotent.
  void Stop();

 private:
  MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer,
                  std::string wake_host, int port);

  std::unique_ptr<prometheus::Exposer> exposer_;
  const std::string wake_host_;  // Where a connection reaches the listener.
  const int port_;
};

}  // namespace gss::process

#endif  // PROCESS_METRICS_ENDPOINT_H_
