#include "session_service/server_network_host.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/round_trip.h"
#include "session_service/random.h"

namespace gss {
namespace {

using game::v1::ClientMessage;
using game::v1::ServerMessage;

void AddPermissionNames(uint32_t bits,
                        google::protobuf::RepeatedPtrField<std::string>* out) {
  if (bits & kPermissionMove) out->Add("move");
  if (bits & kPermissionShoot) out->Add("shoot");
}

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

ServerNetworkHost::~ServerNetworkHost() { StopTimer(); }

game::v1::ServerInfo ServerNetworkHost::server_info() const {
  game::v1::ServerInfo info;
  info.set_instance_id(instance_id_);
  info.set_version(version_);
  return info;
}

game::v1::WorldConfig ServerNetworkHost::world_config() const {
  const WorldConfig& world = options_.sessions.rules.world;
  game::v1::WorldConfig config;
  config.set_grid_size(world.grid_size);
  config.set_movement_tick_ms(
      static_cast<int32_t>(absl::ToInt64Milliseconds(world.movement_tick)));
  config.set_movement_max_steps_per_tick(world.movement_max_steps_per_tick);
  return config;
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
    ForgetWelcome(*transition.remote);
    absl::string_view reason;
    std::string detail;
    // Deadlines are told by AdvanceTime() once the manager has woken its
    // observers, so a watcher usually hears of the transition before the
    // peer does.
    switch (t.cause) {
      case SessionEvent::kShutdown:
        reason = "server_shutdown";
        detail = "the server is stopping";
        break;
      case SessionEvent::kReplace:
        reason = "replaced";
        detail = "a newer login of the same player took over";
        break;
      default:
        break;
    }
    if (!reason.empty()) {
      CloseWithDisconnect(*transition.remote, reason, std::move(detail));
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
  absl::ReaderMutexLock lock(&gateways_mu_);
  auto it = gateways_.find(gateway_id);
  if (it == gateways_.end()) {
    if (metrics_) metrics_->CountDroppedCommand(false);
    return;
  }
  it->second.sink->Push(std::move(command));
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
                                            absl::string_view reason,
                                            std::string detail) {
  ServerMessage message;
  game::v1::Disconnect* disconnect = message.mutable_disconnect();
  disconnect->set_reason(std::string(reason));
  disconnect->set_detail(std::move(detail));
  Close(remote, reason, &message);
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
  size_t attached = 0;
  {
    absl::MutexLock lock(&gateways_mu_);
    result.attachment = next_attachment_++;
    gateways_[gateway_id] = Gateway{std::move(sink), result.attachment};
    attached = gateways_.size();
  }
  if (metrics_) {
    metrics_->CountAttach();
    metrics_->SetGatewaysAttached(attached);
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
      CloseWithDisconnect(remote, "server_full",
                          std::string(connected.status().message()));
      continue;
    }
    result.ack.add_unknown_connection_ids(peer.connection_id());
    ServerMessage message;
    message.mutable_disconnect()->set_reason("session_unknown");
    message.mutable_disconnect()->set_detail(
        "the service holds no session for this connection: resume or log in "
        "again");
    Deliver(remote, message);
  }
  return result;
}

template <typename Keep>
void ServerNetworkHost::LoseGatewaySessions(uint32_t gateway_id, Keep keep) {
  ListOptions list;
  list.gateway_id = gateway_id;
  list.page_size = 1000;
  for (;;) {
    const SessionPage page = sessions_->List(list);
    for (const SessionSnapshot& session : page.sessions) {
      if (session.remote && !keep(session.remote->connection_id)) {
        // NotFound: it closed meanwhile, which is what was wanted.
        sessions_->OnTransportClosed(*session.remote, /*orderly=*/false)
            .IgnoreError();
      }
    }
    if (!page.next_after) break;
    list.after = page.next_after;
  }
}

void ServerNetworkHost::DetachGateway(uint32_t gateway_id,
                                      uint64_t attachment) {
  absl::MutexLock link(&link_mu_);
  size_t attached = 0;
  {
    absl::MutexLock lock(&gateways_mu_);
    auto it = gateways_.find(gateway_id);
    // A newer stream of the same gateway took over; its Hello resynchronised.
    if (it == gateways_.end() || it->second.attachment != attachment) return;
    gateways_.erase(it);
    attached = gateways_.size();
  }
  if (metrics_) metrics_->SetGatewaysAttached(attached);
  LoseGatewaySessions(gateway_id, [](uint64_t) { return false; });
}

size_t ServerNetworkHost::gateways_attached() const {
  absl::ReaderMutexLock lock(&gateways_mu_);
  return gateways_.size();
}

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
                          ? "server_full"
                          : "server_error",
                      std::string(connected.status().message()));
}

void ServerNetworkHost::OnClosed(const RemoteIdentity& remote, bool orderly) {
  // NotFound is normal: the service closed the session first.
  sessions_->OnTransportClosed(remote, orderly).IgnoreError();
  ForgetWelcome(remote);
}

bool ServerNetworkHost::RepeatWelcome(const RemoteIdentity& remote,
                                      absl::string_view request) {
  std::string welcome;
  {
    absl::MutexLock lock(&welcomes_mu_);
    auto it =
        welcomes_.find(std::pair(remote.gateway_id, remote.connection_id));
    if (it == welcomes_.end() ||
        it->second.request_hash != absl::HashOf(request)) {
      return false;
    }
    welcome = it->second.welcome;
  }
  link::v1::PeerCommand command;
  command.set_connection_id(remote.connection_id);
  command.set_deliver(std::move(welcome));
  Send(remote.gateway_id, std::move(command));
  return true;
}

void ServerNetworkHost::RememberWelcome(const RemoteIdentity& remote,
                                        absl::string_view request,
                                        const ServerMessage& welcome) {
  SentWelcome sent{absl::HashOf(request), welcome.SerializeAsString()};
  absl::MutexLock lock(&welcomes_mu_);
  welcomes_[std::pair(remote.gateway_id, remote.connection_id)] =
      std::move(sent);
}

void ServerNetworkHost::ForgetWelcome(const RemoteIdentity& remote) {
  absl::MutexLock lock(&welcomes_mu_);
  welcomes_.erase(std::pair(remote.gateway_id, remote.connection_id));
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
  ServerMessage reply;
  reply.mutable_input_rejected()->set_reason(std::string(reason));
  reply.mutable_input_rejected()->set_detail(std::move(detail));
  Deliver(remote, reply);
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
    RefuseLogin(remote, request_bytes, "draining",
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
    RefuseLogin(remote, request_bytes, "server_error",
                "no randomness for a resume token");
    return;
  }
  absl::StatusOr<LoginOutcome> outcome =
      sessions_->Login(remote, *auth.grant, *secret);
  if (!outcome.ok()) {
    const absl::Status& status = outcome.status();
    ServerMessage reply;
    game::v1::LoginRejected* rejected = reply.mutable_login_rejected();
    *rejected->mutable_server_info() = server_info();
    rejected->set_reason("already_logged_in");
    rejected->set_detail(std::string(status.message()));
    switch (status.code()) {
      case absl::StatusCode::kNotFound:
        return;
      case absl::StatusCode::kFailedPrecondition:
        // This connection is logged in already; its session carries on.
        if (metrics_) metrics_->CountLogin("already_logged_in");
        Deliver(remote, reply);
        return;
      case absl::StatusCode::kAlreadyExists:
        // Replacement is off; the manager closed this session (login_failed).
        if (metrics_) metrics_->CountLogin("already_logged_in");
        Close(remote, "login_failed", &reply);
        return;
      case absl::StatusCode::kResourceExhausted:
        RefuseLogin(remote, request_bytes, "server_full",
                    std::string(status.message()));
        return;
      case absl::StatusCode::kInvalidArgument:
        RefuseLogin(remote, request_bytes, kRejectBadCredential,
                    std::string(status.message()));
        return;
      default:
        RefuseLogin(remote, request_bytes, "server_error",
                    std::string(status.message()));
        return;
    }
  }
  if (metrics_) metrics_->CountLogin("accepted");
  const PlayerGrant& grant = *auth.grant;
  ServerMessage reply;
  game::v1::Welcome* welcome = reply.mutable_welcome();
  welcome->set_session_id(outcome->session.ToString());
  welcome->set_resume_token(outcome->resume_token.Encode());
  *welcome->mutable_world_config() = world_config();
  *welcome->mutable_server_info() = server_info();
  welcome->mutable_position()->set_x(outcome->position.x);
  welcome->mutable_position()->set_y(outcome->position.y);
  welcome->set_health(options_.sessions.rules.combat.max_health);
  welcome->set_player_id(grant.player_id);
  welcome->set_display_name(grant.display_name);
  welcome->set_role(grant.role);
  AddPermissionNames(grant.permissions, welcome->mutable_permissions());
  welcome->set_server_tick(outcome->server_tick);
  // A spawn counts as a move at the login tick.
  welcome->set_last_move_tick(outcome->server_tick);
  welcome->set_resumed(false);
  Deliver(remote, reply);
  RememberWelcome(remote, login.credential(), reply);
}

void ServerNetworkHost::RefuseLogin(const RemoteIdentity& remote,
                                    size_t request_bytes,
                                    absl::string_view reason,
                                    std::string detail) {
  if (metrics_) metrics_->CountLogin(reason);
  ServerMessage reply;
  game::v1::LoginRejected* rejected = reply.mutable_login_rejected();
  rejected->set_reason(std::string(reason));
  rejected->set_detail(std::move(detail));
  *rejected->mutable_server_info() = server_info();
  // Never more bytes back than came in, so that logins cannot amplify a
  // flood (at capacity every login is refused): the detail goes first, then
  // the server info. A login too small even for the reason gets none (its
  // connection is closed all the same); the project's clients pad theirs.
  if (reply.ByteSizeLong() > request_bytes) rejected->clear_detail();
  if (reply.ByteSizeLong() > request_bytes) rejected->clear_server_info();
  const bool fits = reply.ByteSizeLong() <= request_bytes;
  absl::StatusOr<SessionTransition> failed = sessions_->FailLogin(remote);
  if (failed.ok()) {
    Close(remote, "login_failed", fits ? &reply : nullptr);
  } else if (absl::IsFailedPrecondition(failed.status()) && fits) {
    // Already logged in on this connection: refuse the new login only.
    Deliver(remote, reply);
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
    RefuseResume(remote, "draining");
    return;
  }
  // A malformed token and a wrong one get the same answer: a stranger learns
  // nothing about which sessions exist.
  absl::StatusOr<ResumeToken> token = ResumeToken::Parse(resume.resume_token());
  if (!token.ok()) {
    RefuseResume(remote, "unknown_token");
    return;
  }
  absl::StatusOr<ResumeSecret> secret = NewResumeSecret();
  if (!secret.ok()) {
    RefuseResume(remote, "server_error");
    return;
  }
  absl::StatusOr<ResumeOutcome> outcome =
      sessions_->Resume(remote, *token, *secret);
  if (!outcome.ok()) {
    switch (outcome.status().code()) {
      case absl::StatusCode::kPermissionDenied:
        RefuseResume(remote, "unknown_token");
        return;
      case absl::StatusCode::kFailedPrecondition:
        RefuseResume(remote, "already_logged_in");
        return;
      default:
        RefuseResume(remote, "server_error");
        return;
    }
  }
  if (metrics_) metrics_->CountResume("accepted");
  ServerMessage reply;
  game::v1::Welcome* welcome = reply.mutable_welcome();
  welcome->set_session_id(outcome->session.ToString());
  welcome->set_resume_token(outcome->resume_token.Encode());
  *welcome->mutable_world_config() = world_config();
  *welcome->mutable_server_info() = server_info();
  welcome->mutable_position()->set_x(outcome->position.x);
  welcome->mutable_position()->set_y(outcome->position.y);
  if (std::optional<SessionSnapshot> snapshot =
          sessions_->FindBySession(outcome->session)) {
    welcome->set_health(snapshot->health);
    welcome->set_player_id(snapshot->player_id);
    welcome->set_display_name(snapshot->display_name);
    welcome->set_role(snapshot->role);
    AddPermissionNames(snapshot->permissions, welcome->mutable_permissions());
  }
  welcome->set_server_tick(outcome->server_tick);
  welcome->set_last_move_tick(outcome->last_move_tick);
  welcome->set_resumed(true);
  Deliver(remote, reply);
  RememberWelcome(remote, resume.resume_token(), reply);
  if (outcome->displaced_remote) {
    ForgetWelcome(*outcome->displaced_remote);
    CloseWithDisconnect(*outcome->displaced_remote, "replaced",
                        "the session was resumed on another connection");
  }
}

void ServerNetworkHost::RefuseResume(const RemoteIdentity& remote,
                                     absl::string_view reason) {
  if (metrics_) metrics_->CountResume(reason);
  ServerMessage reply;
  reply.mutable_resume_rejected()->set_reason(std::string(reason));
  *reply.mutable_resume_rejected()->mutable_server_info() = server_info();
  // The connection stays open so the client can log in on it.
  Deliver(remote, reply);
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
  ServerMessage reply;
  reply.mutable_pong()->set_client_time_us(ping.client_time_us());
  reply.mutable_pong()->set_server_time_us(now_us);
  Deliver(remote, reply);
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
  ServerMessage reply;
  game::v1::MoveResult* out = reply.mutable_move_result();
  out->set_tick(move.tick());
  out->set_accepted(result.accepted());
  if (!result.accepted()) {
    out->set_rejection(std::string(InputRejectionName(result.rejection)));
  }
  out->mutable_position()->set_x(result.position.x);
  out->mutable_position()->set_y(result.position.y);
  out->set_clamped(result.clamped);
  Deliver(remote, reply);
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
  ServerMessage reply;
  game::v1::ShootResult* out = reply.mutable_shoot_result();
  out->set_tick(shoot.tick());
  out->set_accepted(result.accepted());
  if (!result.accepted()) {
    out->set_rejection(std::string(InputRejectionName(result.rejection)));
  }
  out->set_target_session_id(shoot.target_session_id());
  out->set_target_health(result.target_health);
  Deliver(remote, reply);
  if (result.accepted() && outcome->target_remote) {
    ServerMessage hit;
    game::v1::HitReceived* received = hit.mutable_hit_received();
    received->set_shooter_session_id(outcome->session.ToString());
    received->set_tick(shoot.tick());
    received->set_health(result.target_health);
    Deliver(*outcome->target_remote, hit);
  }
}

void ServerNetworkHost::OnGoodbye(const RemoteIdentity& remote) {
  if (!sessions_->OnTransportClosed(remote, /*orderly=*/true).ok()) {
    if (metrics_) metrics_->CountDroppedEvent();
    return;
  }
  // The client is leaving; closing here keeps a client that lingers from
  // holding a connection without a session.
  Close(remote, "goodbye", nullptr);
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
          *fired.remote, "timed_out",
          "no traffic from the client within the liveness timeout");
    } else if (fired.transition.cause == SessionEvent::kDeadlinePassed) {
      CloseWithDisconnect(*fired.remote, "timed_out",
                          "no login or resume within the login timeout");
    }
  }
}

void ServerNetworkHost::StartTimer() {
  absl::MutexLock lock(&timer_mu_);
  if (timer_.joinable()) return;
  timer_stop_ = false;
  timer_ = std::thread([this] { TimerLoop(); });
}

void ServerNetworkHost::StopTimer() {
  std::thread timer;
  {
    absl::MutexLock lock(&timer_mu_);
    timer_stop_ = true;
    timer = std::move(timer_);
  }
  if (timer.joinable()) timer.join();
}

void ServerNetworkHost::TimerLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&timer_mu_);
      if (timer_mu_.AwaitWithTimeout(absl::Condition(&timer_stop_),
                                     options_.advance_interval)) {
        return;
      }
    }
    AdvanceTime();
  }
}

absl::StatusOr<SessionTransition> ServerNetworkHost::Evict(
    SessionId session, absl::string_view reason) {
  absl::StatusOr<SessionTransition> transition = sessions_->Evict(session);
  if (transition.ok() && transition->remote) {
    CloseWithDisconnect(*transition->remote, "evicted", std::string(reason));
  }
  return transition;
}

void ServerNetworkHost::BeginDrain() {
  if (draining_.exchange(true)) return;
  if (metrics_) metrics_->SetDraining(true);
  ListOptions list;
  list.page_size = 1000;
  for (;;) {
    const SessionPage page = sessions_->List(list);
    for (const SessionSnapshot& session : page.sessions) {
      if (session.remote) {
        CloseWithDisconnect(*session.remote, "draining",
                            "the server is shutting down");
        // The gateway does not report closes the service asked for, so the
        // session leaves its connection here: logged-in players wait in
        // Reconnecting (resumable elsewhere) until Stop() clears them.
        (void)sessions_->OnTransportClosed(*session.remote, /*orderly=*/false);
      }
    }
    if (!page.next_after) break;
    list.after = page.next_after;
  }
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
  StopTimer();
  absl::MutexLock lock(&events_mu_);
  accepting_ = false;
}

size_t ServerNetworkHost::Clear() { return sessions_->Clear(); }

}  // namespace gss
