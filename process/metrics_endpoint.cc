#include "process/metrics_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "prometheus/exposer.h"

namespace gss::process {
namespace {

// The host to connect to for reaching a listener bound to `address`: a
// wildcard bind is reached on loopback.
std::string WakeHost(absl::string_view address) {
  const size_t colon = address.rfind(':');
  absl::string_view host =
      colon == absl::string_view::npos ? address : address.substr(0, colon);
  host = absl::StripPrefix(absl::StripSuffix(host, "]"), "[");
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return std::string(host);
}

// Opens and at once closes a TCP connection to host:port; failures do not
// matter (the stop then takes its two seconds).
void Knock(const std::string& host, int port) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v6);
  } else {
    return;  // A host name: not worth a resolver call on the way out.
  }
  const int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)connect(fd, reinterpret_cast<const sockaddr*>(&storage), length);
  close(fd);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& address, int threads) {
  std::unique_ptr<prometheus::Exposer> exposer;
  // prometheus-cpp reports a bind failure by throwing; it stops here.
  try {
    exposer = std::make_unique<prometheus::Exposer>(address, threads);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty() || ports.front() == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address));
  }
  return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(
      std::move(exposer), WakeHost(address), ports.front()));
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer,
                                 std::string wake_host, int port)
    : exposer_(std::move(exposer)),
      wake_host_(std::move(wake_host)),
      port_(port) {}

MetricsEndpoint::~MetricsEndpoint() { Stop(); }

void MetricsEndpoint::Register(
    const std::weak_ptr<prometheus::Collectable>& collectable) {
  exposer_->RegisterCollectable(collectable);
}

void MetricsEndpoint::Stop() {
  if (exposer_ == nullptr) return;
  std::atomic<bool> stopped = false;
  std::thread stopper([this, &stopped] {
    exposer_.reset();
    stopped = true;
  });
  // A knock that lands before civetweb sets its stop flag is served and
  // the loop polls again, so knock until the stop is done.
  while (!stopped) {
    Knock(wake_host_, port_);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stopper.join();
}

}  // namespace gss::process
