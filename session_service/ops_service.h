// The operators' session inspection API (gss.ops.v1.SessionInspection): look
// up, list, watch and evict the sessions of this instance over gRPC.
#ifndef SESSION_SERVICE_OPS_SERVICE_H_
#define SESSION_SERVICE_OPS_SERVICE_H_

#include <atomic>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gss/ops/v1/ops.grpc.pb.h"
#include "session_service/ops_auth.h"
#include "session_service/ops_credentials.h"
#include "session_service/server_network_host.h"

namespace gss {

// Conversions between the core's types and gss.ops.v1, exposed for tests.
ops::v1::SessionState ToProto(SessionState state);
// A SessionState value of the proto (an int: proto3 enums are open); nullopt
// for UNSPECIFIED or a value this build does not know.
std::optional<SessionState> FromProto(int state);
ops::v1::Session ToProto(const SessionSnapshot& snapshot);
ops::v1::Transition ToProto(const SessionTransition& transition);
// Parses a page token (the hex session id of the last session returned).
absl::StatusOr<SessionId> ParsePageToken(absl::string_view token);

class SessionInspectionService final
    : public ops::v1::SessionInspection::Service {
 public:
  // Every EvictSession writes one line to `audit`: who (the caller, as
  // `authorizer` names them), what, why and the outcome.
  SessionInspectionService(ServerNetworkHost& host,
                           std::shared_ptr<const OpsAuthorizer> authorizer,
                           AuditLog audit);

  grpc::Status GetSession(grpc::ServerContext* context,
                          const ops::v1::GetSessionRequest* request,
                          ops::v1::Session* response) override;
  grpc::Status ListSessions(grpc::ServerContext* context,
                            const ops::v1::ListSessionsRequest* request,
                            ops::v1::ListSessionsResponse* response) override;
  grpc::Status WatchSessions(
      grpc::ServerContext* context,
      const ops::v1::WatchSessionsRequest* request,
      grpc::ServerWriter<ops::v1::WatchSessionsResponse>* writer) override;
  grpc::Status EvictSession(grpc::ServerContext* context,
                            const ops::v1::EvictSessionRequest* request,
                            ops::v1::EvictSessionResponse* response) override;
  grpc::Status GetServerInfo(grpc::ServerContext* context,
                             const ops::v1::GetServerInfoRequest* request,
                             ops::v1::ServerInfo* response) override;

  // Ends open WatchSessions streams (within one poll interval).
  void Shutdown() { shutting_down_.store(true); }

  // How often a watch with nothing to send checks for cancellation.
  static constexpr absl::Duration kWatchPoll = absl::Milliseconds(100);

 private:
  ServerNetworkHost& host_;
  const std::shared_ptr<const OpsAuthorizer> authorizer_;
  const AuditLog audit_;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace gss

#endif  // SESSION_SERVICE_OPS_SERVICE_H_
