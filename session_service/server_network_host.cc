#include "session_service/server_network_host.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/round_trip.h"
#include "gss/link/v1/close_reasons.h"
#include "session_service/random.h"
#include "session_service/replies.h"

namespace gss {
namespace {

using game::v1::ClientMessage;
using game::v1::ServerMessage;

RemoteIdentity RemoteOf(uint32_t gateway_id, const link::v1::Peer& peer) {
  RemoteIdentity remote{gateway_id, peer.connection_id(), {}};
  // The address is for inspection only; an unparsable one is kept unknown.
  if (absl::StatusOr<PeerAddress> address = PeerAddress::Parse(peer.address());
      address.ok()) {
    remote.address = *address;
  }
  return remote;
}

}  // namespace

absl::Status HostOptions::Validate() const {
  if (absl::Status status = sessions.Validate(); !status.ok()) return status;
  if (advance_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("advance_interval must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServerNetworkHost>> ServerNetworkHost::Create(
    HostOptions options, const Clock& clock,
    std::shared_ptr<const Authenticator> authenticator,
    std::shared_ptr<ServiceMetrics> metrics) {
  if (absl::Status status = options.Validate(); !status.ok()) return status;
  if (authenticator == nullptr) {
    return absl::InvalidArgumentError("an authenticator is required");
  }
  if (options.instance_id.empty()) {
    absl::StatusOr<std::string> id = NewInstanceId();
    if (!id.ok()) return id.status();
    options.instance_id = *std::move(id);
    // A new instance also gets its own stretch of session ids.
    uint64_t random = 0;
    if (absl::Status status =
            RandomBytes(reinterpret_cast<uint8_t*>(&random), sizeof(random));
        !status.ok()) {
      return status;
    }
    options.sessions.first_sequence =
        1 + random % (MultiSessionOptions::kMaxFirstSequence - 1);
  }
  std::unique_ptr<ServerNetworkHost> host(new ServerNetworkHost(
      options, clock, std::move(authenticator), std::move(metrics)));
  MultiSessionOptions session_options = options.sessions;
  ServerNetworkHost* self = host.get();
  session_options.on_transition = [self, user = options.sessions.on_transition](
                                      const SessionTransition& transition) {
    self->OnTransition(transition);
    if (user) user(transition);
  };
  absl::StatusOr<std::unique_ptr<MultiSessionManager>> sessions =
      MultiSessionManager::Create(session_options, clock);
  if (!sessions.ok()) return sessions.status();
  host->sessions_ = *std::move(sessions);
  return host;
}

ServerNetworkHost::ServerNetworkHost(
    HostOptions options, const Clock& clock,
    std::shared_ptr<const Authenticator> authenticator,
    std::shared_ptr<ServiceMetrics> metrics)
    : options_(std::move(options)),
      clock_(clock),
      authenticator_(std::move(authenticator)),
      metrics_(std::move(metrics)),
      instance_id_(options_.instance_id),
      version_(options_.version),
      started_at_(clock.Now()) {}

ServerNetworkHost::~ServerNetworkHost() = default;

game::v1::ServerInfo ServerNetworkHost::server_info() const {
  game::v1::ServerInfo info;
  info.set_instance_id(instance_id_);
  info.set_version(version_);
  return info;
}

game::v1::WorldConfig ServerNetworkHost::world_config() const {
  return WorldConfigMessage(options_.sessions.rules.world);
}

// --- Transitions
// --------------------------------------------------------------

void ServerNetworkHost::OnTransition(const SessionTransition& transition) {
  if (metrics_) metrics_->OnTransition(transition);
  const Transition& t = transition.transition;
  if (transition.remote &&
      (t.to == SessionState::kReconnecting || t.to == SessionState::kClosed)) {
    // The session left its connection. Tell the peer why and close it, unless
    // the peer closed it itself, the connection was handed to a resumed
    // session, or the caller tells the peer (login refusals and evictions,
    // whose messages carry more than a reason).
    welcomes_.Forget(*transition.remote);
    std::optional<DisconnectReason> reason;
    std::string detail;
    // Deadlines are told by AdvanceTime() once the manager has woken its
    // observers, so a watcher usually hears of the transition before the
    // peer does.
    switch (t.cause) {
      case SessionEvent::kShutdown:
        reason = DisconnectReason::kServerShutdown;
        detail = "the server is stopping";
        break;
      case SessionEvent::kReplace:
        reason = DisconnectReason::kReplaced;
        detail = "a newer login of the same player took over";
        break;
      default:
        break;
    }
    if (reason) {
      CloseWithDisconnect(*transition.remote, *reason, std::move(detail));
    }
  }
  if (draining_.load(std::memory_order_relaxed) && IsLive(t.from) &&
      !IsLive(t.to)) {
    drain_cv_.SignalAll();
  }
}

// --- Commands
// -----------------------------------------------------------------

void ServerNetworkHost::Send(uint32_t gateway_id,
                             link::v1::PeerCommand command) {
  if (!gateways_.Send(gateway_id, std::move(command)) && metrics_) {
    metrics_->CountDroppedCommand(false);
  }
}

void ServerNetworkHost::Deliver(const RemoteIdentity& remote,
                                const ServerMessage& message) {
  link::v1::PeerCommand command;
  command.set_connection_id(remote.connection_id);
  message.SerializeToString(command.mutable_deliver());
  Send(remote.gateway_id, std::move(command));
}

void ServerNetworkHost::Close(const RemoteIdentity& remote,
                              absl::string_view reason,
                              const ServerMessage* final_message) {
  link::v1::PeerCommand command;
  command.set_connection_id(remote.connection_id);
  link::v1::ClosePeer* close = command.mutable_close();
  close->set_reason(std::string(reason));
  if (final_message != nullptr) {
    final_message->SerializeToString(close->mutable_final_message());
  }
  Send(remote.gateway_id, std::move(command));
}

void ServerNetworkHost::CloseWithDisconnect(const RemoteIdentity& remote,
                                            DisconnectReason reason,
                                            std::string detail) {
  const ServerMessage message = DisconnectMessage(reason, std::move(detail));
  Close(remote, DisconnectReasonName(reason), &message);
}

// --- Gateway link
// ---------------------------------------------------------------

absl::StatusOr<GatewayAttachment> ServerNetworkHost::AttachGateway(
    const link::v1::Hello& hello, std::shared_ptr<CommandSink> sink) {
  if (sink == nullptr) return absl::InvalidArgumentError("no command sink");
  absl::ReaderMutexLock events(&events_mu_);
  if (!accepting_) return absl::UnavailableError("the service is stopping");
  if (draining_.load()) {
    return absl::UnavailableError("the service is draining");
  }
  const uint32_t gateway_id = hello.gateway_id();
  absl::MutexLock link(&link_mu_);
  GatewayAttachment result;
  const GatewayRegistry::Attached attached =
      gateways_.Attach(gateway_id, std::move(sink));
  result.attachment = attached.attachment;
  if (metrics_) {
    metrics_->CountAttach();
    metrics_->SetGatewaysAttached(attached.gateways);
  }

  absl::flat_hash_set<uint64_t> listed;
  for (const link::v1::Peer& peer : hello.peers()) {
    listed.insert(peer.connection_id());
  }
  // Connections the gateway no longer holds went away while the link was
  // down (or the gateway restarted).
  LoseGatewaySessions(gateway_id, [&listed](uint64_t connection_id) {
    return listed.contains(connection_id);
  });

  result.ack.set_instance_id(instance_id_);
  result.ack.set_version(version_);
  for (const link::v1::Peer& peer : hello.peers()) {
    const RemoteIdentity remote = RemoteOf(gateway_id, peer);
    if (sessions_->FindByRemote(remote)) continue;
    absl::StatusOr<ConnectOutcome> connected =
        sessions_->OnTransportConnected(remote);
    if (!connected.ok()) {
      CloseWithDisconnect(remote, DisconnectReason::kServerFull,
                          std::string(connected.status().message()));
      continue;
    }
    result.ack.add_unknown_connection_ids(peer.connection_id());
    Deliver(remote, DisconnectMessage(DisconnectReason::kSessionUnknown,
                                      "the service holds no session for this "
                                      "connection: resume or log in again"));
  }
  return result;
}

void ServerNetworkHost::LoseGatewaySessions(
    uint32_t gateway_id, absl::FunctionRef<bool(uint64_t)> keep) {
  sessions_->ForEach(
      {.gateway_id = gateway_id}, [&](const SessionSnapshot& session) {
        if (session.remote && !keep(session.remote->connection_id)) {
          // NotFound: it closed meanwhile, which is what was wanted.
          sessions_->OnTransportClosed(*session.remote, /*orderly=*/false)
              .IgnoreError();
        }
      });
}

void ServerNetworkHost::DetachGateway(uint32_t gateway_id,
                                      uint64_t attachment) {
  absl::MutexLock link(&link_mu_);
  const std::optional<size_t> attached =
      gateways_.Detach(gateway_id, attachment);
  // A newer stream of the same gateway took over; its Hello resynchronised.
  if (!attached) return;
  if (metrics_) metrics_->SetGatewaysAttached(*attached);
  LoseGatewaySessions(gateway_id, [](uint64_t) { return false; });
}

size_t ServerNetworkHost::gateways_attached() const { return gateways_.size(); }

void ServerNetworkHost::HandleEvents(uint32_t gateway_id,
                                     const link::v1::EventBatch& batch) {
  absl::ReaderMutexLock lock(&events_mu_);
  if (!accepting_) return;
  if (metrics_) metrics_->ObserveEventBatch(batch.events_size());
  // Pings and moves go to the manager's batch path: a run of them is applied
  // in one ApplyInputs call, whose look-ups overlap in memory. Any other
  // event applies the run first, so each peer's events keep their order.
  std::vector<PendingInput> run;
  for (const link::v1::PeerEvent& event : batch.events()) {
    const RemoteIdentity remote{gateway_id, event.connection_id(), {}};
    if (event.kind_case() == link::v1::PeerEvent::kMessage) {
      game::v1::ClientMessage message;
      if (!ParseMessage(remote, event.message(), message)) continue;
      if (message.body_case() == ClientMessage::kPing ||
          message.body_case() == ClientMessage::kMove) {
        run.push_back({remote, std::move(message)});
        continue;
      }
      FlushInputs(run);
      OnMessage(remote, message);
      continue;
    }
    FlushInputs(run);
    switch (event.kind_case()) {
      case link::v1::PeerEvent::kConnected:
        OnConnected(RemoteOf(gateway_id, event.connected().peer()));
        break;
      case link::v1::PeerEvent::kClosed:
        OnClosed(remote, event.closed().orderly());
        break;
      case link::v1::PeerEvent::kMessage:
        break;
      case link::v1::PeerEvent::KIND_NOT_SET:
        if (metrics_) metrics_->CountDroppedEvent();
        break;
    }
  }
  FlushInputs(run);
  ApplyLiveness(gateway_id, batch.liveness());
}

void ServerNetworkHost::ApplyLiveness(uint32_t gateway_id,
                                      const link::v1::LivenessReport& report) {
  const int count = report.connection_ids_size();
  if (count == 0) return;
  std::vector<PeerInput> inputs(count);
  for (int i = 0; i < count; ++i) {
    inputs[i].remote = RemoteIdentity{gateway_id, report.connection_ids(i), {}};
    inputs[i].kind = PeerInput::Kind::kHeartbeat;
    // A gateway's figure is bounded like a measured one: a report from a
    // confused or hostile gateway must not poison the histogram.
    if (i < report.rtt_us_size() && report.rtt_us(i) >= 0 &&
        report.rtt_us(i) <= absl::ToInt64Microseconds(kMaxPlausibleRtt)) {
      inputs[i].rtt = absl::Microseconds(report.rtt_us(i));
    }
  }
  std::vector<PeerInputResult> results(count);
  sessions_->ApplyInputs(inputs, absl::MakeSpan(results));
  if (!metrics_) return;
  for (int i = 0; i < count; ++i) {
    if (!results[i].status.ok()) {
      metrics_->CountDroppedEvent();
      continue;
    }
    metrics_->CountHeartbeat(/*answered_by_gateway=*/true);
    if (inputs[i].rtt) metrics_->ObserveRtt(*inputs[i].rtt);
  }
}

void ServerNetworkHost::FlushInputs(std::vector<PendingInput>& run) {
  if (run.empty()) return;
  std::vector<PeerInput> inputs(run.size());
  for (size_t i = 0; i < run.size(); ++i) {
    inputs[i].remote = run[i].remote;
    if (run[i].message.has_move()) {
      const game::v1::MoveInput& move = run[i].message.move();
      inputs[i].kind = PeerInput::Kind::kMove;
      inputs[i].move = MoveInput{move.tick(), move.dx(), move.dy()};
    }
  }
  std::vector<PeerInputResult> results(run.size());
  sessions_->ApplyInputs(inputs, absl::MakeSpan(results));
  for (size_t i = 0; i < run.size(); ++i) {
    if (run[i].message.has_move()) {
      OnMove(run[i].remote, run[i].message.move(),
             results[i].status.ok()
                 ? absl::StatusOr<MoveResult>(results[i].move)
                 : absl::StatusOr<MoveResult>(results[i].status));
    } else {
      OnPing(run[i].remote, run[i].message.ping(), results[i].status);
    }
  }
  run.clear();
}

void ServerNetworkHost::HandleEvent(uint32_t gateway_id,
                                    const link::v1::PeerEvent& event) {
  link::v1::EventBatch batch;
  *batch.add_events() = event;
  HandleEvents(gateway_id, batch);
}

// --- Events
// -------------------------------------------------------------------

void ServerNetworkHost::OnConnected(const RemoteIdentity& remote) {
  absl::StatusOr<ConnectOutcome> connected =
      sessions_->OnTransportConnected(remote);
  if (connected.ok()) return;
  CloseWithDisconnect(remote,
                      absl::IsResourceExhausted(connected.status())
                          ? DisconnectReason::kServerFull
                          : DisconnectReason::kServerError,
                      std::string(connected.status().message()));
}

void ServerNetworkHost::OnClosed(const RemoteIdentity& remote, bool orderly) {
  // NotFound is normal: the service closed the session first.
  sessions_->OnTransportClosed(remote, orderly).IgnoreError();
  welcomes_.Forget(remote);
}

bool ServerNetworkHost::RepeatWelcome(const RemoteIdentity& remote,
                                      absl::string_view request) {
  std::optional<std::string> welcome = welcomes_.Find(remote, request);
  if (!welcome) return false;
  link::v1::PeerCommand command;
  command.set_connection_id(remote.connection_id);
  command.set_deliver(*std::move(welcome));
  Send(remote.gateway_id, std::move(command));
  return true;
}

void ServerNetworkHost::SendWelcome(const RemoteIdentity& remote,
                                    absl::string_view request,
                                    const ServerMessage& welcome) {
  Deliver(remote, welcome);
  welcomes_.Remember(remote, request, welcome.SerializeAsString());
}

bool ServerNetworkHost::ParseMessage(const RemoteIdentity& remote,
                                     const std::string& bytes,
                                     ClientMessage& message) {
  if (message.ParseFromString(bytes) &&
      message.body_case() != ClientMessage::BODY_NOT_SET) {
    return true;
  }
  // Counted and answered, but not liveness: the session stays untouched.
  if (metrics_) metrics_->CountMalformed();
  RejectInput(
      remote, "malformed",
      message.body_case() == ClientMessage::BODY_NOT_SET && !bytes.empty()
          ? "the message has no body this server knows"
          : "the message is not a gss.game.v1.ClientMessage");
  return false;
}

void ServerNetworkHost::OnMessage(const RemoteIdentity& remote,
                                  const ClientMessage& message) {
  switch (message.body_case()) {
    case ClientMessage::kLogin:
      OnLogin(remote, message.login(), message.ByteSizeLong());
      break;
    case ClientMessage::kResume:
      OnResume(remote, message.resume());
      break;
    case ClientMessage::kPing:
    case ClientMessage::kMove: {
      // HandleEvents batches these; one on its own is a run of one.
      std::vector<PendingInput> run;
      run.push_back({remote, message});
      FlushInputs(run);
      break;
    }
    case ClientMessage::kShoot:
      OnShoot(remote, message.shoot());
      break;
    case ClientMessage::kGoodbye:
      OnGoodbye(remote);
      break;
    case ClientMessage::BODY_NOT_SET:
      break;
  }
}

void ServerNetworkHost::RejectInput(const RemoteIdentity& remote,
                                    absl::string_view reason,
                                    std::string detail) {
  Deliver(remote, InputRejectedMessage(reason, std::move(detail)));
}

void ServerNetworkHost::OnLogin(const RemoteIdentity& remote,
                                const game::v1::Login& login,
                                size_t request_bytes) {
  if (!sessions_->OnInboundMessage(remote).ok()) {
    if (metrics_) metrics_->CountDroppedEvent();
    return;
  }
  if (RepeatWelcome(remote, login.credential())) return;
  if (draining_.load()) {
    RefuseLogin(remote, request_bytes, LoginRefusal::kDraining,
                "the server is shutting down");
    return;
  }
  AuthResult auth =
      authenticator_->Authenticate(login.credential(), clock_.Now());
  if (!auth.grant) {
    RefuseLogin(remote, request_bytes, auth.reason, std::move(auth.detail));
    return;
  }
  absl::StatusOr<ResumeSecret> secret = NewResumeSecret();
  if (!secret.ok()) {
    RefuseLogin(remote, request_bytes, LoginRefusal::kServerError,
                "no randomness for a resume token");
    return;
  }
  absl::StatusOr<LoginOutcome> outcome =
      sessions_->Login(remote, *auth.grant, *secret);
  if (!outcome.ok()) {
    const absl::Status& status = outcome.status();
    // Sized to the request like every login refusal.
    const std::optional<ServerMessage> reply = LoginRejectedMessage(
        LoginRefusal::kAlreadyLoggedIn, std::string(status.message()),
        server_info(), request_bytes);
    switch (status.code()) {
      case absl::StatusCode::kNotFound:
        return;
      case absl::StatusCode::kFailedPrecondition:
        // This connection is logged in already; its session carries on.
        if (metrics_) metrics_->CountLogin(LoginRefusal::kAlreadyLoggedIn);
        if (reply) Deliver(remote, *reply);
        return;
      case absl::StatusCode::kAlreadyExists:
        // Replacement is off; the manager closed this session (login_failed).
        if (metrics_) metrics_->CountLogin(LoginRefusal::kAlreadyLoggedIn);
        Close(remote, link::v1::kLoginFailedCloseReason,
              reply ? &*reply : nullptr);
        return;
      case absl::StatusCode::kResourceExhausted:
        RefuseLogin(remote, request_bytes, LoginRefusal::kServerFull,
                    std::string(status.message()));
        return;
      case absl::StatusCode::kInvalidArgument:
        RefuseLogin(remote, request_bytes, LoginRefusal::kBadCredential,
                    std::string(status.message()));
        return;
      default:
        RefuseLogin(remote, request_bytes, LoginRefusal::kServerError,
                    std::string(status.message()));
        return;
    }
  }
  if (metrics_) metrics_->CountLogin(std::nullopt);
  const PlayerGrant& grant = *auth.grant;
  const WelcomeFacts facts{
      .session = outcome->session,
      .resume_token = outcome->resume_token,
      .position = outcome->position,
      .health = options_.sessions.rules.combat.max_health,
      .player_id = grant.player_id,
      .display_name = grant.display_name,
      .role = grant.role,
      .permissions = grant.permissions,
      .server_tick = outcome->server_tick,
      // A spawn counts as a move at the login tick.
      .last_move_tick = outcome->server_tick,
      .resumed = false,
  };
  SendWelcome(remote, login.credential(),
              WelcomeMessage(facts, world_config(), server_info()));
}

void ServerNetworkHost::RefuseLogin(const RemoteIdentity& remote,
                                    size_t request_bytes, LoginRefusal reason,
                                    std::string detail) {
  if (metrics_) metrics_->CountLogin(reason);
  // A login too small even for the reason gets no message (its connection
  // is closed all the same); the project's clients pad theirs.
  const std::optional<ServerMessage> reply = LoginRejectedMessage(
      reason, std::move(detail), server_info(), request_bytes);
  absl::StatusOr<SessionTransition> failed = sessions_->FailLogin(remote);
  if (failed.ok()) {
    Close(remote, link::v1::kLoginFailedCloseReason, reply ? &*reply : nullptr);
  } else if (absl::IsFailedPrecondition(failed.status()) && reply) {
    // Already logged in on this connection: refuse the new login only.
    Deliver(remote, *reply);
  }
}

void ServerNetworkHost::OnResume(const RemoteIdentity& remote,
                                 const game::v1::Resume& resume) {
  if (!sessions_->OnInboundMessage(remote).ok()) {
    if (metrics_) metrics_->CountDroppedEvent();
    return;
  }
  if (RepeatWelcome(remote, resume.resume_token())) return;
  if (draining_.load()) {
    RefuseResume(remote, ResumeRefusal::kDraining);
    return;
  }
  // A malformed token and a wrong one get the same answer: a stranger learns
  // nothing about which sessions exist.
  absl::StatusOr<ResumeToken> token = ResumeToken::Parse(resume.resume_token());
  if (!token.ok()) {
    RefuseResume(remote, ResumeRefusal::kUnknownToken);
    return;
  }
  absl::StatusOr<ResumeSecret> secret = NewResumeSecret();
  if (!secret.ok()) {
    RefuseResume(remote, ResumeRefusal::kServerError);
    return;
  }
  absl::StatusOr<ResumeOutcome> outcome =
      sessions_->Resume(remote, *token, *secret);
  if (!outcome.ok()) {
    switch (outcome.status().code()) {
      case absl::StatusCode::kPermissionDenied:
        RefuseResume(remote, ResumeRefusal::kUnknownToken);
        return;
      case absl::StatusCode::kFailedPrecondition:
        RefuseResume(remote, ResumeRefusal::kAlreadyLoggedIn);
        return;
      default:
        RefuseResume(remote, ResumeRefusal::kServerError);
        return;
    }
  }
  if (metrics_) metrics_->CountResume(std::nullopt);
  WelcomeFacts facts{
      .session = outcome->session,
      .resume_token = outcome->resume_token,
      .position = outcome->position,
      .server_tick = outcome->server_tick,
      .last_move_tick = outcome->last_move_tick,
      .resumed = true,
  };
  if (std::optional<SessionSnapshot> snapshot =
          sessions_->FindBySession(outcome->session)) {
    facts.health = snapshot->health;
    facts.player_id = snapshot->player_id;
    facts.display_name = snapshot->display_name;
    facts.role = snapshot->role;
    facts.permissions = snapshot->permissions;
  }
  SendWelcome(remote, resume.resume_token(),
              WelcomeMessage(facts, world_config(), server_info()));
  if (outcome->displaced_remote) {
    welcomes_.Forget(*outcome->displaced_remote);
    CloseWithDisconnect(*outcome->displaced_remote, DisconnectReason::kReplaced,
                        "the session was resumed on another connection");
  }
}

void ServerNetworkHost::RefuseResume(const RemoteIdentity& remote,
                                     ResumeRefusal reason) {
  if (metrics_) metrics_->CountResume(reason);
  // The connection stays open so the client can log in on it.
  Deliver(remote, ResumeRejectedMessage(reason, server_info()));
}

void ServerNetworkHost::OnPing(const RemoteIdentity& remote,
                               const game::v1::Ping& ping,
                               const absl::Status& liveness) {
  if (!liveness.ok()) {
    if (metrics_) metrics_->CountDroppedEvent();
    return;
  }
  const int64_t now_us = absl::ToUnixMicros(clock_.Now());
  if (metrics_) metrics_->CountHeartbeat(/*answered_by_gateway=*/false);
  if (std::optional<absl::Duration> rtt = RoundTripFromEcho(
          now_us, ping.echo_server_time_us(), ping.echo_hold_us());
      rtt && sessions_->RecordRtt(remote, *rtt).ok() && metrics_) {
    metrics_->ObserveRtt(*rtt);
  }
  Deliver(remote, PongMessage(ping.client_time_us(), now_us));
}

void ServerNetworkHost::OnMove(const RemoteIdentity& remote,
                               const game::v1::MoveInput& move,
                               const absl::StatusOr<MoveResult>& outcome) {
  if (!outcome.ok()) {
    if (metrics_) metrics_->CountDroppedEvent();
    return;
  }
  const MoveResult& result = *outcome;
  if (metrics_) metrics_->CountInput(InputKind::kMove, result.rejection);
  if (result.rejection == InputRejection::kNotLoggedIn) {
    RejectInput(remote, InputRejectionName(result.rejection),
                "log in before sending MoveInput");
    return;
  }
  Deliver(remote, MoveResultMessage(move, result));
}

void ServerNetworkHost::OnShoot(const RemoteIdentity& remote,
                                const game::v1::ShootInput& shoot) {
  // An id that does not parse names no session: unknown_target, decided by
  // the rules after the login and permission checks.
  SessionId target;
  if (absl::StatusOr<SessionId> parsed =
          SessionId::Parse(shoot.target_session_id());
      parsed.ok()) {
    target = *parsed;
  }
  absl::StatusOr<ShootOutcome> outcome =
      sessions_->ApplyShoot(remote, shoot.tick(), target);
  if (!outcome.ok()) {
    if (metrics_) metrics_->CountDroppedEvent();
    return;
  }
  const ShootResult& result = outcome->result;
  if (metrics_) metrics_->CountInput(InputKind::kShoot, result.rejection);
  if (result.rejection == InputRejection::kNotLoggedIn) {
    RejectInput(remote, InputRejectionName(result.rejection),
                "log in before sending ShootInput");
    return;
  }
  Deliver(remote, ShootResultMessage(shoot, result));
  if (result.accepted() && outcome->target_remote) {
    Deliver(*outcome->target_remote,
            HitReceivedMessage(outcome->session, shoot.tick(),
                               result.target_health));
  }
}

void ServerNetworkHost::OnGoodbye(const RemoteIdentity& remote) {
  if (!sessions_->OnTransportClosed(remote, /*orderly=*/true).ok()) {
    if (metrics_) metrics_->CountDroppedEvent();
    return;
  }
  // The client is leaving; closing here keeps a client that lingers from
  // holding a connection without a session.
  Close(remote, link::v1::kGoodbyeCloseReason, nullptr);
}

// --- Time and host decisions
// --------------------------------------------------

void ServerNetworkHost::AdvanceTime() {
  for (const SessionTransition& fired : sessions_->AdvanceTime()) {
    const SessionState to = fired.transition.to;
    if (!fired.remote ||
        (to != SessionState::kReconnecting && to != SessionState::kClosed)) {
      continue;
    }
    if (fired.transition.cause == SessionEvent::kLivenessLost) {
      CloseWithDisconnect(
          *fired.remote, DisconnectReason::kTimedOut,
          "no traffic from the client within the liveness timeout");
    } else if (fired.transition.cause == SessionEvent::kDeadlinePassed) {
      CloseWithDisconnect(*fired.remote, DisconnectReason::kTimedOut,
                          "no login or resume within the login timeout");
    }
  }
}

absl::StatusOr<SessionTransition> ServerNetworkHost::Evict(
    SessionId session, absl::string_view reason) {
  absl::StatusOr<SessionTransition> transition = sessions_->Evict(session);
  if (transition.ok() && transition->remote) {
    CloseWithDisconnect(*transition->remote, DisconnectReason::kEvicted,
                        std::string(reason));
  }
  return transition;
}

void ServerNetworkHost::BeginDrain() {
  if (draining_.exchange(true)) return;
  if (metrics_) metrics_->SetDraining(true);
  sessions_->ForEach({}, [this](const SessionSnapshot& session) {
    if (!session.remote) return;
    CloseWithDisconnect(*session.remote, DisconnectReason::kDraining,
                        "the server is shutting down");
    // The gateway does not report closes the service asked for, so the
    // session leaves its connection here: logged-in players wait in
    // Reconnecting (resumable elsewhere) until Stop() clears them.
    (void)sessions_->OnTransportClosed(*session.remote, /*orderly=*/false);
  });
}

bool ServerNetworkHost::WaitForPlayersGone(absl::Time deadline) {
  absl::MutexLock lock(&drain_mu_);
  for (;;) {
    const StateCounts counts = sessions_->Counts();
    if (counts.by_state[static_cast<int>(SessionState::kActive)] +
            counts.by_state[static_cast<int>(SessionState::kSuspect)] ==
        0) {
      return true;
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    // Signalled by OnTransition; the bound covers a signal that raced ahead.
    drain_cv_.WaitWithDeadline(
        &drain_mu_, std::min(deadline, now + absl::Milliseconds(50)));
  }
}

void ServerNetworkHost::Quiesce() {
  absl::MutexLock lock(&events_mu_);
  accepting_ = false;
}

size_t ServerNetworkHost::Clear() { return sessions_->Clear(); }

}  // namespace gss
