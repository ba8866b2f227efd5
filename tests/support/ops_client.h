// A thin, deadline-bounded wrapper over the gss.ops.v1.SessionInspection
// stub and grpc.health.v1, with streams collected on a background thread.
#ifndef TESTS_SUPPORT_OPS_CLIENT_H_
#define TESTS_SUPPORT_OPS_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clients/ops_channel/ops_channel.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gss/ops/v1/ops.grpc.pb.h"

namespace gss::testing {

// gRPC status to absl::Status (the codes are numerically the same).
absl::Status FromGrpc(const grpc::Status& status);

// Reads a server stream on its own thread; the test takes responses with a
// deadline. Destruction cancels the call and joins the thread.
template <typename Response>
class StreamCollector {
 public:
  StreamCollector() = default;
  StreamCollector(const StreamCollector&) = delete;
  StreamCollector& operator=(const StreamCollector&) = delete;
  ~StreamCollector() {
    context_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }

  grpc::ClientContext& context() { return context_; }

  // Starts reading from `reader` (created on context()).
  void Start(std::unique_ptr<grpc::ClientReader<Response>> reader) {
    reader_ = std::move(reader);
    thread_ = std::thread([this] {
      Response response;
      while (reader_->Read(&response)) {
        absl::MutexLock lock(&mutex_);
        queue_.push_back(response);
        ++received_;
      }
      grpc::Status status = reader_->Finish();
      absl::MutexLock lock(&mutex_);
      final_status_ = status;
    });
  }

  // The next response; std::nullopt on timeout or once the stream ended and
  // everything was taken.
  std::optional<Response> Next(absl::Duration timeout) {
    absl::MutexLock lock(&mutex_);
    auto ready = [this] {
      mutex_.AssertHeld();
      return !queue_.empty() || final_status_.has_value();
    };
    mutex_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    if (queue_.empty()) return std::nullopt;
    Response response = std::move(queue_.front());
    queue_.pop_front();
    return response;
  }

  // Takes responses until one satisfies `match` (returned) or the timeout;
  // every response taken, the match included, is appended to `seen`.
  std::optional<Response> NextMatching(
      const std::function<bool(const Response&)>& match, absl::Duration timeout,
      std::vector<Response>* seen = nullptr) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      std::optional<Response> response = Next(deadline - absl::Now());
      if (!response) return std::nullopt;
      if (seen != nullptr) seen->push_back(*response);
      if (match(*response)) return response;
    }
  }

  // Set once the stream has ended.
  std::optional<grpc::Status> final_status() {
    absl::MutexLock lock(&mutex_);
    return final_status_;
  }
  bool WaitForEnd(absl::Duration timeout) {
    absl::MutexLock lock(&mutex_);
    auto ended = [this] {
      mutex_.AssertHeld();
      return final_status_.has_value();
    };
    return mutex_.AwaitWithTimeout(absl::Condition(&ended), timeout);
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<Response>> reader_;
  std::thread thread_;
  absl::Mutex mutex_;
  std::deque<Response> queue_ ABSL_GUARDED_BY(mutex_);
  uint64_t received_ ABSL_GUARDED_BY(mutex_) = 0;
  std::optional<grpc::Status> final_status_ ABSL_GUARDED_BY(mutex_);
};

using SessionWatch = StreamCollector<ops::v1::WatchSessionsResponse>;
using HealthWatch = StreamCollector<grpc::health::v1::HealthCheckResponse>;

class OpsClient {
 public:
  // `address` is host:port of the service's ops listener; every call carries
  // the credentials of `credentials` (token, TLS files).
  explicit OpsClient(const std::string& address,
                     OpsClientOptions credentials = {},
                     absl::Duration timeout = absl::Seconds(5));

  const std::string& address() const { return address_; }
  ops::v1::SessionInspection::Stub& stub() { return *stub_; }

  absl::StatusOr<ops::v1::Session> GetSession(const std::string& session_id);
  absl::StatusOr<ops::v1::Session> GetSessionByPlayer(
      const std::string& player_id);
  absl::StatusOr<ops::v1::Session> Get(
      const ops::v1::GetSessionRequest& request);
  absl::StatusOr<ops::v1::ListSessionsResponse> ListSessions(
      const ops::v1::ListSessionsRequest& request);
  absl::StatusOr<ops::v1::EvictSessionResponse> EvictSession(
      const std::string& session_id, const std::string& reason);
  absl::StatusOr<ops::v1::ServerInfo> GetServerInfo();
  // grpc.health.v1.Health/Check for `service` ("" is the whole server).
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
  CheckHealth(const std::string& service = "");

  // Opens WatchSessions; responses are collected in the background. Returns
  // once the call has started (its first response may still be pending).
  std::unique_ptr<SessionWatch> Watch(
      const ops::v1::WatchSessionsRequest& request);
  std::unique_ptr<HealthWatch> WatchHealth(const std::string& service = "");
  // Watch with include_snapshot, waiting until the snapshot is done, so the
  // watch is known to be in place on the server before the test acts. The
  // snapshot's sessions go to `snapshot` when given.
  absl::StatusOr<std::unique_ptr<SessionWatch>> WatchSynced(
      const std::string& session_id = "",
      std::vector<ops::v1::Session>* snapshot = nullptr);

  // The state of `session_id`, or CLOSED when the service no longer knows
  // it (NOT_FOUND); other errors are returned.
  absl::StatusOr<ops::v1::SessionState> StateOf(const std::string& session_id);
  // Polls GetSession until the session is in `state` (CLOSED also matches a
  // NOT_FOUND answer). Returns the last observed state on timeout as an
  // error message.
  absl::Status WaitForState(const std::string& session_id,
                            ops::v1::SessionState state,
                            absl::Duration timeout);

 private:
  // Deadline and token.
  void Prepare(grpc::ClientContext& context) const;

  std::string address_;
  OpsClientOptions credentials_;
  absl::Duration timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ops::v1::SessionInspection::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_stub_;
};

}  // namespace gss::testing

#endif  // TESTS_SUPPORT_OPS_CLIENT_H_
