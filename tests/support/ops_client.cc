// The ops and health client for end-to-end tests: unary calls with a
// deadline, streams through StreamCollector, state polling helpers.
#include "tests/support/ops_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace gss::testing {

using ops::v1::SessionState;

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

OpsClient::OpsClient(const std::string& address, OpsClientOptions credentials,
                     absl::Duration timeout)
    : address_(address),
      credentials_(std::move(credentials)),
      timeout_(timeout) {
  grpc::ChannelArguments arguments;
  // Tests restart processes: reconnect quickly instead of backing off.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateOpsChannel(address, credentials_, arguments);
  // Only unreadable TLS files fail here; the calls then fail with the reason.
  channel_ = channel.ok()
                 ? *std::move(channel)
                 : grpc::CreateChannel("unix:/nonexistent",
                                       grpc::InsecureChannelCredentials());
  if (!channel.ok()) ADD_FAILURE() << channel.status();
  stub_ = ops::v1::SessionInspection::NewStub(channel_);
  health_stub_ = grpc::health::v1::Health::NewStub(channel_);
}

void OpsClient::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  AddOpsToken(context, credentials_.token);
}

absl::StatusOr<ops::v1::Session> OpsClient::Get(
    const ops::v1::GetSessionRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  ops::v1::Session session;
  absl::Status status =
      FromGrpc(stub_->GetSession(&context, request, &session));
  if (!status.ok()) return status;
  return session;
}

absl::StatusOr<ops::v1::Session> OpsClient::GetSession(
    const std::string& session_id) {
  ops::v1::GetSessionRequest request;
  request.set_session_id(session_id);
  return Get(request);
}

absl::StatusOr<ops::v1::Session> OpsClient::GetSessionByPlayer(
    const std::string& player_id) {
  ops::v1::GetSessionRequest request;
  request.set_player_id(player_id);
  return Get(request);
}

absl::StatusOr<ops::v1::ListSessionsResponse> OpsClient::ListSessions(
    const ops::v1::ListSessionsRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  ops::v1::ListSessionsResponse response;
  absl::Status status =
      FromGrpc(stub_->ListSessions(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<ops::v1::EvictSessionResponse> OpsClient::EvictSession(
    const std::string& session_id, const std::string& reason) {
  grpc::ClientContext context;
  Prepare(context);
  ops::v1::EvictSessionRequest request;
  request.set_session_id(session_id);
  request.set_reason(reason);
  ops::v1::EvictSessionResponse response;
  absl::Status status =
      FromGrpc(stub_->EvictSession(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<ops::v1::ServerInfo> OpsClient::GetServerInfo() {
  grpc::ClientContext context;
  Prepare(context);
  ops::v1::ServerInfo info;
  absl::Status status = FromGrpc(
      stub_->GetServerInfo(&context, ops::v1::GetServerInfoRequest(), &info));
  if (!status.ok()) return status;
  return info;
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
OpsClient::CheckHealth(const std::string& service) {
  grpc::ClientContext context;
  Prepare(context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  absl::Status status =
      FromGrpc(health_stub_->Check(&context, request, &response));
  if (!status.ok()) return status;
  return response.status();
}

std::unique_ptr<SessionWatch> OpsClient::Watch(
    const ops::v1::WatchSessionsRequest& request) {
  auto watch = std::make_unique<SessionWatch>();
  // Streams live as long as the test wants; only connecting is bounded.
  watch->context().set_wait_for_ready(true);
  AddOpsToken(watch->context(), credentials_.token);
  watch->Start(stub_->WatchSessions(&watch->context(), request));
  return watch;
}

std::unique_ptr<HealthWatch> OpsClient::WatchHealth(
    const std::string& service) {
  auto watch = std::make_unique<HealthWatch>();
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  AddOpsToken(watch->context(), credentials_.token);
  watch->Start(health_stub_->Watch(&watch->context(), request));
  return watch;
}

absl::StatusOr<std::unique_ptr<SessionWatch>> OpsClient::WatchSynced(
    const std::string& session_id, std::vector<ops::v1::Session>* snapshot) {
  ops::v1::WatchSessionsRequest request;
  request.set_session_id(session_id);
  request.set_include_snapshot(true);
  std::unique_ptr<SessionWatch> watch = Watch(request);
  const absl::Time deadline = absl::Now() + timeout_;
  while (true) {
    std::optional<ops::v1::WatchSessionsResponse> response =
        watch->Next(deadline - absl::Now());
    if (!response) {
      std::optional<grpc::Status> ended = watch->final_status();
      if (ended && !ended->ok()) return FromGrpc(*ended);
      if (ended) {
        return absl::InternalError("WatchSessions ended before snapshot_done");
      }
      return absl::DeadlineExceededError(
          "WatchSessions: no snapshot_done in time");
    }
    if (response->has_snapshot() && snapshot != nullptr) {
      snapshot->push_back(response->snapshot());
    }
    if (response->has_snapshot_done()) return watch;
  }
}

absl::StatusOr<SessionState> OpsClient::StateOf(const std::string& session_id) {
  absl::StatusOr<ops::v1::Session> session = GetSession(session_id);
  if (absl::IsNotFound(session.status())) {
    return ops::v1::SESSION_STATE_CLOSED;
  }
  if (!session.ok()) return session.status();
  return session->state();
}

absl::Status OpsClient::WaitForState(const std::string& session_id,
                                     SessionState state,
                                     absl::Duration timeout) {
  absl::StatusOr<SessionState> last = absl::UnknownError("never polled");
  const bool reached = WaitFor(
      [&] {
        last = StateOf(session_id);
        return last.ok() && *last == state;
      },
      timeout, absl::Milliseconds(10));
  if (reached) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(
      "session ", session_id, " not in ", ops::v1::SessionState_Name(state),
      " within ", absl::FormatDuration(timeout), "; last: ",
      last.ok() ? ops::v1::SessionState_Name(*last)
                : last.status().ToString()));
}

}  // namespace gss::testing
