#include "session_service/ops_service.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "session_service/grpc_status.h"

namespace gss {
namespace {

constexpr int kMaxPageSize = 1000;
constexpr int kDefaultPageSize = 100;
constexpr size_t kMaxEvictReasonBytes = 256;
// Transitions taken from the subscription per write round.
constexpr size_t kWatchBatch = 256;

grpc::Status InvalidArgument(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(time);
  int64_t seconds = nanos / 1000000000;
  int64_t rest = nanos % 1000000000;
  if (rest < 0) {
    rest += 1000000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rest));
}

void SetDuration(absl::Duration duration, google::protobuf::Duration* out) {
  const int64_t nanos = absl::ToInt64Nanoseconds(duration);
  out->set_seconds(nanos / 1000000000);
  out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

void SetRemote(const RemoteIdentity& remote, ops::v1::RemoteIdentity* out) {
  out->set_gateway_id(remote.gateway_id);
  out->set_connection_id(remote.connection_id);
  out->set_address(remote.address.ToString());
}

absl::StatusOr<SessionId> ParseSessionId(absl::string_view text) {
  absl::StatusOr<SessionId> id = SessionId::Parse(text);
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed session id \"", absl::CHexEscape(text),
                     "\": expected 16 hex digits"));
  }
  return id;
}

// Wakes a WatchSessions handler when its subscription has something.
struct WatchWake {
  absl::Mutex mu;
  bool ready ABSL_GUARDED_BY(mu) = false;
};

}  // namespace

ops::v1::SessionState ToProto(SessionState state) {
  switch (state) {
    case SessionState::kConnecting:
      return ops::v1::SESSION_STATE_CONNECTING;
    case SessionState::kAuthenticating:
      return ops::v1::SESSION_STATE_AUTHENTICATING;
    case SessionState::kActive:
      return ops::v1::SESSION_STATE_ACTIVE;
    case SessionState::kSuspect:
      return ops::v1::SESSION_STATE_SUSPECT;
    case SessionState::kReconnecting:
      return ops::v1::SESSION_STATE_RECONNECTING;
    case SessionState::kClosed:
      return ops::v1::SESSION_STATE_CLOSED;
  }
  return ops::v1::SESSION_STATE_UNSPECIFIED;
}

std::optional<SessionState> FromProto(int state) {
  switch (state) {
    case ops::v1::SESSION_STATE_CONNECTING:
      return SessionState::kConnecting;
    case ops::v1::SESSION_STATE_AUTHENTICATING:
      return SessionState::kAuthenticating;
    case ops::v1::SESSION_STATE_ACTIVE:
      return SessionState::kActive;
    case ops::v1::SESSION_STATE_SUSPECT:
      return SessionState::kSuspect;
    case ops::v1::SESSION_STATE_RECONNECTING:
      return SessionState::kReconnecting;
    case ops::v1::SESSION_STATE_CLOSED:
      return SessionState::kClosed;
    default:
      return std::nullopt;  // UNSPECIFIED, or a value this build lacks.
  }
}

ops::v1::Session ToProto(const SessionSnapshot& snapshot) {
  ops::v1::Session session;
  session.set_session_id(snapshot.id.ToString());
  session.set_state(ToProto(snapshot.state));
  if (snapshot.remote) SetRemote(*snapshot.remote, session.mutable_remote());
  session.set_player_id(snapshot.player_id);
  session.set_display_name(snapshot.display_name);
  session.set_role(snapshot.role);
  if (snapshot.permissions & kPermissionMove) session.add_permissions("move");
  if (snapshot.permissions & kPermissionShoot) session.add_permissions("shoot");
  SetTimestamp(snapshot.created_at, session.mutable_created_at());
  SetTimestamp(snapshot.state_since, session.mutable_state_since());
  SetTimestamp(snapshot.last_seen, session.mutable_last_seen());
  if (snapshot.rtt) SetDuration(*snapshot.rtt, session.mutable_rtt());
  session.mutable_position()->set_x(snapshot.position.x);
  session.mutable_position()->set_y(snapshot.position.y);
  session.set_health(snapshot.health);
  session.set_last_move_tick(snapshot.last_move_tick);
  session.set_last_shot_tick(snapshot.last_shot_tick);
  session.set_resumes(snapshot.resumes);
  session.set_transitions(snapshot.transitions);
  return session;
}

ops::v1::Transition ToProto(const SessionTransition& transition) {
  ops::v1::Transition out;
  out.set_session_id(transition.session.ToString());
  out.set_from(ToProto(transition.transition.from));
  out.set_to(ToProto(transition.transition.to));
  out.set_cause(std::string(SessionEventName(transition.transition.cause)));
  if (transition.transition.to == SessionState::kClosed) {
    out.set_close_reason(
        std::string(CloseReasonName(transition.transition.reason)));
  }
  if (transition.remote) SetRemote(*transition.remote, out.mutable_remote());
  out.set_player_id(transition.player_id);
  SetTimestamp(transition.at, out.mutable_at());
  out.set_sequence(transition.sequence);
  return out;
}

absl::StatusOr<SessionId> ParsePageToken(absl::string_view token) {
  absl::StatusOr<SessionId> id = SessionId::Parse(token);
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        "malformed page_token: pass next_page_token from the previous "
        "response unchanged");
  }
  return id;
}

SessionInspectionService::SessionInspectionService(
    ServerNetworkHost& host, std::shared_ptr<const OpsAuthorizer> authorizer,
    AuditLog audit)
    : host_(host),
      authorizer_(std::move(authorizer)),
      audit_(std::move(audit)) {}

grpc::Status SessionInspectionService::GetSession(
    grpc::ServerContext*, const ops::v1::GetSessionRequest* request,
    ops::v1::Session* response) {
  std::optional<SessionSnapshot> snapshot;
  switch (request->key_case()) {
    case ops::v1::GetSessionRequest::kSessionId: {
      absl::StatusOr<SessionId> id = ParseSessionId(request->session_id());
      if (!id.ok()) return ToGrpc(id.status());
      snapshot = host_.sessions().FindBySession(*id);
      break;
    }
    case ops::v1::GetSessionRequest::kPlayerId:
      if (request->player_id().empty()) {
        return InvalidArgument("player_id must not be empty");
      }
      snapshot = host_.sessions().FindByPlayer(request->player_id());
      break;
    case ops::v1::GetSessionRequest::kRemote:
      snapshot = host_.sessions().FindByRemote(
          RemoteIdentity{request->remote().gateway_id(),
                         request->remote().connection_id(),
                         {}});
      break;
    case ops::v1::GetSessionRequest::KEY_NOT_SET:
      return InvalidArgument(
          "set one key: session_id, player_id or remote (gateway_id and "
          "connection_id)");
  }
  if (!snapshot) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "no session matches the key");
  }
  *response = ToProto(*snapshot);
  return grpc::Status::OK;
}

grpc::Status SessionInspectionService::ListSessions(
    grpc::ServerContext*, const ops::v1::ListSessionsRequest* request,
    ops::v1::ListSessionsResponse* response) {
  ListOptions options;
  for (int value : request->states()) {
    const std::optional<SessionState> state = FromProto(value);
    if (!state) {
      return InvalidArgument(
          absl::StrCat("states: ", value, " is not a session state"));
    }
    options.state_mask |= ListOptions::StateBit(*state);
  }
  if (request->has_gateway_id()) options.gateway_id = request->gateway_id();
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return InvalidArgument(absl::StrCat("page_size must be in [0, ",
                                        kMaxPageSize, "], got ",
                                        request->page_size()));
  }
  options.page_size =
      request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  if (!request->page_token().empty()) {
    absl::StatusOr<SessionId> after = ParsePageToken(request->page_token());
    if (!after.ok()) return ToGrpc(after.status());
    options.after = *after;
  }
  const SessionPage page = host_.sessions().List(options);
  for (const SessionSnapshot& snapshot : page.sessions) {
    *response->add_sessions() = ToProto(snapshot);
  }
  if (page.next_after) {
    response->set_next_page_token(page.next_after->ToString());
  }
  return grpc::Status::OK;
}

grpc::Status SessionInspectionService::WatchSessions(
    grpc::ServerContext* context, const ops::v1::WatchSessionsRequest* request,
    grpc::ServerWriter<ops::v1::WatchSessionsResponse>* writer) {
  std::optional<SessionId> only;
  if (!request->session_id().empty()) {
    absl::StatusOr<SessionId> id = ParseSessionId(request->session_id());
    if (!id.ok()) return ToGrpc(id.status());
    only = *id;
  }
  auto wake = std::make_shared<WatchWake>();
  SubscribeOptions subscribe;
  subscribe.session = only;
  subscribe.on_ready = [wake] {
    absl::MutexLock lock(&wake->mu);
    wake->ready = true;
  };
  // Subscribed before the snapshot is taken, so nothing falls between the
  // two; a transition may show in both.
  absl::StatusOr<std::shared_ptr<TransitionSubscription>> subscription =
      host_.sessions().Subscribe(std::move(subscribe));
  if (!subscription.ok()) return ToGrpc(subscription.status());

  ops::v1::WatchSessionsResponse response;
  if (request->include_snapshot()) {
    if (only) {
      if (std::optional<SessionSnapshot> snapshot =
              host_.sessions().FindBySession(*only)) {
        *response.mutable_snapshot() = ToProto(*snapshot);
        if (!writer->Write(response)) return grpc::Status::OK;
      }
    } else {
      ListOptions list;
      list.page_size = 1000;
      for (;;) {
        const SessionPage page = host_.sessions().List(list);
        for (const SessionSnapshot& snapshot : page.sessions) {
          *response.mutable_snapshot() = ToProto(snapshot);
          if (!writer->Write(response)) return grpc::Status::OK;
        }
        if (!page.next_after) break;
        list.after = page.next_after;
      }
    }
    response.set_snapshot_done(true);
    if (!writer->Write(response)) return grpc::Status::OK;
  }

  for (;;) {
    if (context->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the watcher left");
    }
    if (shutting_down_.load()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the session service is stopping");
    }
    {
      absl::MutexLock lock(&wake->mu);
      wake->ready = false;
    }
    TransitionSubscription::Delivery delivery =
        (*subscription)->Take(kWatchBatch);
    if (delivery.lost > 0) {
      response.set_lost(delivery.lost);
      if (!writer->Write(response)) return grpc::Status::OK;
    }
    for (const SessionTransition& transition : delivery.transitions) {
      *response.mutable_transition() = ToProto(transition);
      if (!writer->Write(response)) return grpc::Status::OK;
    }
    if (delivery.ended) return grpc::Status::OK;  // The watched session closed.
    if (delivery.transitions.empty() && delivery.lost == 0) {
      absl::MutexLock lock(&wake->mu);
      wake->mu.AwaitWithTimeout(absl::Condition(&wake->ready), kWatchPoll);
    }
  }
}

grpc::Status SessionInspectionService::EvictSession(
    grpc::ServerContext* context, const ops::v1::EvictSessionRequest* request,
    ops::v1::EvictSessionResponse* response) {
  absl::StatusOr<SessionId> id = ParseSessionId(request->session_id());
  if (!id.ok()) return ToGrpc(id.status());
  if (request->reason().size() > kMaxEvictReasonBytes) {
    return InvalidArgument(absl::StrCat("reason must be at most ",
                                        kMaxEvictReasonBytes, " bytes"));
  }
  absl::StatusOr<SessionTransition> transition =
      host_.Evict(*id, request->reason());
  // The audit trail: who (the principal of the caller's token, or its
  // certificate), from where, what, why and the outcome.
  const OpsCaller caller = IdentifyOpsCaller(*context, *authorizer_);
  audit_(absl::StrFormat(
      "audit: evict session=%s player=\"%s\" by=\"%s\"%s%s peer=%s "
      "reason=\"%s\" result=%s",
      id->ToString(),
      transition.ok() ? absl::CHexEscape(transition->player_id) : "",
      absl::CHexEscape(caller.principal),
      caller.role.empty() ? "" : absl::StrCat(" role=", caller.role),
      caller.cert_subject.empty()
          ? ""
          : absl::StrCat(" cert=\"", absl::CHexEscape(caller.cert_subject),
                         "\""),
      caller.address, absl::CHexEscape(request->reason()),
      transition.ok() ? "evicted"
                      : absl::StatusCodeToString(transition.status().code())));
  if (!transition.ok()) return ToGrpc(transition.status());
  *response->mutable_transition() = ToProto(*transition);
  return grpc::Status::OK;
}

grpc::Status SessionInspectionService::GetServerInfo(
    grpc::ServerContext*, const ops::v1::GetServerInfoRequest*,
    ops::v1::ServerInfo* response) {
  response->set_instance_id(host_.instance_id());
  response->set_version(host_.version());
  SetTimestamp(host_.started_at(), response->mutable_started_at());
  const StateCounts counts = host_.sessions().Counts();
  auto& by_state = *response->mutable_sessions_by_state();
  for (int s = 0; s < kSessionStateCount; ++s) {
    const auto state = static_cast<SessionState>(s);
    if (state == SessionState::kClosed) continue;  // Removed at once.
    by_state[std::string(SessionStateName(state))] = counts.by_state[s];
  }
  response->set_draining(host_.draining());
  response->set_gateways_attached(
      static_cast<uint32_t>(host_.gateways_attached()));
  return grpc::Status::OK;
}

}  // namespace gss
