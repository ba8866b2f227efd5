#include "clients/runtime/shared_network_runtime.h"

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/session_types.h"
#include "gss/game/v1/login_padding.h"

namespace gss::client {
namespace {

namespace asio = boost::asio;
using game::v1::ClientMessage;
using game::v1::ServerMessage;

constexpr std::array<absl::string_view, 16> kEventNames = {
    "session_started",
    "state_changed",
    "transport_lost",
    "reconnect_scheduled",
    "welcome",
    "server_restarted",
    "login_rejected",
    "resume_rejected",
    "pong",
    "move_result",
    "shoot_result",
    "hit_received",
    "input_rejected",
    "disconnect",
    "gave_up",
    "stopped"};

std::string FormatMillis(absl::Duration d) {
  return absl::StrFormat("%.3fms", absl::ToDoubleMilliseconds(d));
}

}  // namespace

absl::string_view RuntimeEventTypeName(RuntimeEventType type) {
  return kEventNames[static_cast<size_t>(type)];
}

std::string RuntimeEvent::ToString() const {
  std::string out(RuntimeEventTypeName(type));
  switch (type) {
    case RuntimeEventType::kStateChanged:
      absl::StrAppend(&out, " ", SessionStateName(from), "->",
                      SessionStateName(to), " on ", SessionEventName(cause));
      if (reason != CloseReason::kNone) {
        absl::StrAppend(&out, " reason=", CloseReasonName(reason));
      }
      break;
    case RuntimeEventType::kReconnectScheduled:
      absl::StrAppend(&out, " attempt=", attempt,
                      " in=", FormatMillis(scheduled_at - at));
      break;
    case RuntimeEventType::kWelcome: {
      const game::v1::Welcome& w = message.welcome();
      absl::StrAppend(&out, " session=", w.session_id(),
                      " player=", w.player_id(), " pos=(", w.position().x(),
                      ",", w.position().y(), ") health=", w.health(),
                      " resumed=", w.resumed() ? "true" : "false",
                      " instance=", w.server_info().instance_id(),
                      " version=", w.server_info().version(),
                      " grid=", w.world_config().grid_size(),
                      " tick_ms=", w.world_config().movement_tick_ms(),
                      " server_tick=", w.server_tick());
      break;
    }
    case RuntimeEventType::kServerRestarted:
      absl::StrAppend(&out, " instance=", instance_id,
                      " previous=", previous_instance_id);
      break;
    case RuntimeEventType::kLoginRejected:
      absl::StrAppend(&out, " reason=", message.login_rejected().reason(),
                      " detail=\"", message.login_rejected().detail(), "\"");
      break;
    case RuntimeEventType::kResumeRejected:
      absl::StrAppend(
          &out, " reason=", message.resume_rejected().reason(),
          " instance=", message.resume_rejected().server_info().instance_id());
      break;
    case RuntimeEventType::kPong:
      absl::StrAppend(&out, " rtt=", FormatMillis(rtt),
                      heartbeat ? " heartbeat" : " user");
      break;
    case RuntimeEventType::kMoveResult: {
      const game::v1::MoveResult& m = message.move_result();
      absl::StrAppend(&out, " tick=", m.tick(),
                      " accepted=", m.accepted() ? "true" : "false");
      if (!m.rejection().empty()) {
        absl::StrAppend(&out, " rejection=", m.rejection());
      }
      absl::StrAppend(&out, " pos=(", m.position().x(), ",", m.position().y(),
                      ")", m.clamped() ? " clamped" : "");
      break;
    }
    case RuntimeEventType::kShootResult: {
      const game::v1::ShootResult& s = message.shoot_result();
      absl::StrAppend(&out, " tick=", s.tick(),
                      " accepted=", s.accepted() ? "true" : "false");
      if (!s.rejection().empty()) {
        absl::StrAppend(&out, " rejection=", s.rejection());
      }
      absl::StrAppend(&out, " target=", s.target_session_id(),
                      " target_health=", s.target_health());
      break;
    }
    case RuntimeEventType::kHitReceived:
      absl::StrAppend(&out,
                      " shooter=", message.hit_received().shooter_session_id(),
                      " tick=", message.hit_received().tick(),
                      " health=", message.hit_received().health());
      break;
    case RuntimeEventType::kInputRejected:
      absl::StrAppend(&out, " reason=", message.input_rejected().reason());
      break;
    case RuntimeEventType::kDisconnect:
      absl::StrAppend(&out, " reason=", message.disconnect().reason());
      if (!message.disconnect().detail().empty()) {
        absl::StrAppend(&out, " detail=\"", message.disconnect().detail(),
                        "\"");
      }
      break;
    default:
      break;
  }
  if (!detail.empty() && type != RuntimeEventType::kServerRestarted) {
    absl::StrAppend(&out, " detail=\"", detail, "\"");
  }
  return out;
}

SharedNetworkRuntime::~SharedNetworkRuntime() {
  Stop();
  if (thread_.joinable()) thread_.join();
}

absl::Status SharedNetworkRuntime::Start(RuntimeOptions options) {
  if (thread_.joinable()) {
    return absl::FailedPreconditionError("the runtime was already started");
  }
  if (options.port <= 0 || options.port > 65535) {
    return absl::InvalidArgumentError("port must be in 1..65535");
  }
  if (options.credential.empty()) {
    return absl::InvalidArgumentError("a credential is required");
  }
  absl::StatusOr<SessionManager> manager =
      SessionManager::Create(options.policy, clock_);
  if (!manager.ok()) return manager.status();
  manager_.emplace(*std::move(manager));
  options_ = std::move(options);
  timer_ = std::make_unique<asio::steady_timer>(io_);
  repeat_timer_ = std::make_unique<asio::steady_timer>(io_);
  work_.emplace(io_.get_executor());
  asio::post(io_, [this] {
    manager_->Connect().IgnoreError();
    Pump();
  });
  thread_ = std::thread([this] { io_.run(); });
  return absl::OkStatus();
}

void SharedNetworkRuntime::Move(int32_t dx, int32_t dy) {
  if (!thread_.joinable()) return;
  asio::post(io_, [this, dx, dy] {
    if (!CanSendInput()) {
      RuntimeEvent event{.type = RuntimeEventType::kInputRejected};
      event.message.mutable_input_rejected()->set_reason("not_connected");
      return Emit(std::move(event));
    }
    // Moves must carry a tick later than the last one the server took.
    const int64_t tick = std::max(EstimatedTick(), last_input_tick_ + 1);
    last_input_tick_ = tick;
    ClientMessage message;
    message.mutable_move()->set_tick(tick);
    message.mutable_move()->set_dx(dx);
    message.mutable_move()->set_dy(dy);
    SendMessage(message);
  });
}

void SharedNetworkRuntime::Shoot(std::string target_session_id) {
  if (!thread_.joinable()) return;
  asio::post(io_, [this, target = std::move(target_session_id)] {
    if (!CanSendInput()) {
      RuntimeEvent event{.type = RuntimeEventType::kInputRejected};
      event.message.mutable_input_rejected()->set_reason("not_connected");
      return Emit(std::move(event));
    }
    ClientMessage message;
    message.mutable_shoot()->set_tick(EstimatedTick());
    message.mutable_shoot()->set_target_session_id(target);
    SendMessage(message);
  });
}

void SharedNetworkRuntime::Ping() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    if (!transport_up_) {
      RuntimeEvent event{.type = RuntimeEventType::kInputRejected};
      event.message.mutable_input_rejected()->set_reason("not_connected");
      return Emit(std::move(event));
    }
    ClientMessage message;
    message.mutable_ping()->set_client_time_us(
        absl::ToUnixMicros(clock_.Now()));
    SendMessage(message);
  });
}

void SharedNetworkRuntime::Stop() {
  if (!thread_.joinable() || stopped_.exchange(true)) return;
  asio::post(io_, [this] {
    if (manager_->state() != SessionState::kClosed) {
      if (transport_up_) {
        ClientMessage goodbye;
        goodbye.mutable_goodbye();
        SendMessage(goodbye);
      }
      CloseTransport(/*orderly=*/true);
      manager_->Disconnect().IgnoreError();
      // The manager's close action finds no transport left; its notices
      // still go out.
      Pump();
    }
    timer_->cancel();
    StopHandshakeRepeat();
    Emit({.type = RuntimeEventType::kStopped});
    options_.on_event = nullptr;
    work_.reset();
  });
  // Called from an event callback the thread cannot join itself; the
  // destructor joins it then.
  if (std::this_thread::get_id() != thread_.get_id()) thread_.join();
}

void SharedNetworkRuntime::Emit(RuntimeEvent event) {
  event.at = clock_.Now();
  if (options_.on_event) options_.on_event(event);
}

void SharedNetworkRuntime::Pump() {
  for (std::vector<ClientAction> actions = manager_->TakeActions();
       !actions.empty(); actions = manager_->TakeActions()) {
    for (const ClientAction& action : actions) Execute(action);
  }
  ArmTimer();
}

void SharedNetworkRuntime::Execute(const ClientAction& action) {
  switch (action.type) {
    case ClientActionType::kOpenTransport:
      OpenTransport();
      break;
    case ClientActionType::kCloseTransport:
      CloseTransport(/*orderly=*/false);
      break;
    case ClientActionType::kSendLogin: {
      ClientMessage message;
      message.mutable_login()->set_credential(options_.credential);
      message.mutable_login()->set_client_version(options_.client_version);
      game::v1::PadLogin(message);
      SendHandshake(message);
      break;
    }
    case ClientActionType::kSendResume: {
      ClientMessage message;
      message.mutable_resume()->set_resume_token(action.token.Encode());
      SendHandshake(message);
      break;
    }
    case ClientActionType::kSendPing: {
      ClientMessage message;
      game::v1::Ping* ping = message.mutable_ping();
      ping->set_client_time_us(absl::ToUnixMicros(action.ping_sent_at));
      // Echo the previous pong so the server can measure the round trip.
      if (last_pong_server_time_us_ != 0) {
        ping->set_echo_server_time_us(last_pong_server_time_us_);
        ping->set_echo_hold_us(
            absl::ToInt64Microseconds(action.ping_sent_at - last_pong_at_));
      }
      SendMessage(message);
      break;
    }
    case ClientActionType::kNotify: {
      RuntimeEvent event;
      event.detail = action.detail;
      switch (action.notice) {
        case ClientNotice::kSessionStarted:
          event.type = RuntimeEventType::kSessionStarted;
          break;
        case ClientNotice::kStateChanged:
          event.type = RuntimeEventType::kStateChanged;
          event.from = action.transition.from;
          event.to = action.transition.to;
          event.cause = action.transition.cause;
          event.reason = action.transition.reason;
          break;
        case ClientNotice::kReconnectScheduled:
          event.type = RuntimeEventType::kReconnectScheduled;
          event.attempt = action.attempt;
          event.scheduled_at = action.at;
          break;
        case ClientNotice::kServerRestarted:
          event.type = RuntimeEventType::kServerRestarted;
          event.previous_instance_id = action.detail;
          event.instance_id = manager_->instance_id();
          break;
        case ClientNotice::kGaveUp:
          event.type = RuntimeEventType::kGaveUp;
          break;
        case ClientNotice::kNone:
          return;
      }
      Emit(std::move(event));
      break;
    }
  }
}

void SharedNetworkRuntime::OpenTransport() {
  CloseTransport(/*orderly=*/false);
  const uint64_t generation = ++generation_;
  TransportCallbacks callbacks;
  callbacks.on_connected = [this, generation] {
    if (generation != generation_) return;
    transport_up_ = true;
    manager_->OnTransportConnected().IgnoreError();
    Pump();
  };
  callbacks.on_message = [this, generation](const std::string& payload) {
    OnMessage(generation, payload);
  };
  callbacks.on_closed = [this, generation](const std::string& why) {
    OnClosed(generation, why);
  };
  transport_ = MakeTransport(
      options_.transport, io_,
      {.host = options_.host,
       .port = options_.port,
       .udp_retransmit_interval = options_.udp_retransmit_interval},
      std::move(callbacks));
  transport_->Open();
}

void SharedNetworkRuntime::CloseTransport(bool orderly) {
  transport_up_ = false;
  StopHandshakeRepeat();
  if (transport_ == nullptr) return;
  ++generation_;  // Silences whatever the old transport still reports.
  transport_->Close(orderly);
  transport_.reset();
}

void SharedNetworkRuntime::SendMessage(const ClientMessage& message) {
  if (transport_ == nullptr) return;
  transport_->Send(message.SerializeAsString());
}

void SharedNetworkRuntime::OnClosed(uint64_t generation,
                                    const std::string& why) {
  if (generation != generation_) return;
  transport_.reset();
  transport_up_ = false;
  StopHandshakeRepeat();
  Emit({.type = RuntimeEventType::kTransportLost, .detail = why});
  manager_->OnTransportLost().IgnoreError();
  Pump();
}

void SharedNetworkRuntime::OnMessage(uint64_t generation,
                                     const std::string& payload) {
  if (generation != generation_) return;
  ServerMessage message;
  if (!message.ParseFromString(payload)) return;  // Not ours to judge.
  RuntimeEvent event{.message = message};
  // Any answer to the Login or Resume ends its repetition; a ResumeRejected
  // is followed by a Login that starts its own.
  if (message.has_welcome() || message.has_login_rejected() ||
      message.has_resume_rejected() || message.has_disconnect()) {
    StopHandshakeRepeat();
  }
  switch (message.body_case()) {
    case ServerMessage::kWelcome:
      HandleWelcome(message);
      break;
    case ServerMessage::kPong:
      HandlePong(message);
      break;
    case ServerMessage::kLoginRejected:
      event.type = RuntimeEventType::kLoginRejected;
      Emit(std::move(event));
      manager_->OnLoginRejected(message.login_rejected().reason())
          .IgnoreError();
      break;
    case ServerMessage::kResumeRejected:
      event.type = RuntimeEventType::kResumeRejected;
      Emit(std::move(event));
      // The manager logs in afresh on the same transport.
      manager_->OnResumeRejected().IgnoreError();
      break;
    case ServerMessage::kDisconnect:
      HandleDisconnect(message);
      break;
    default:
      manager_->OnInboundMessage().IgnoreError();
      if (message.has_move_result()) {
        event.type = RuntimeEventType::kMoveResult;
      } else if (message.has_shoot_result()) {
        event.type = RuntimeEventType::kShootResult;
      } else if (message.has_hit_received()) {
        event.type = RuntimeEventType::kHitReceived;
      } else if (message.has_input_rejected()) {
        event.type = RuntimeEventType::kInputRejected;
      } else {
        break;  // An empty or newer body: liveness only.
      }
      Emit(std::move(event));
      break;
  }
  Pump();
}

void SharedNetworkRuntime::HandleWelcome(const ServerMessage& message) {
  const game::v1::Welcome& welcome = message.welcome();
  WelcomeInfo info{.instance_id = welcome.server_info().instance_id(),
                   .server_version = welcome.server_info().version()};
  if (absl::StatusOr<ResumeToken> token =
          ResumeToken::Parse(welcome.resume_token());
      token.ok()) {
    info.resume_token = *token;
  }
  // A repeated welcome (the server answers a repeated login the same way)
  // is refused by the manager and raises nothing.
  if (!manager_->OnWelcome(info, welcome.resumed()).ok()) return;
  welcome_ = welcome;
  welcome_at_ = clock_.Now();
  last_input_tick_ = welcome.last_move_tick();
  Emit({.type = RuntimeEventType::kWelcome, .message = message});
}

void SharedNetworkRuntime::HandlePong(const ServerMessage& message) {
  const absl::Time now = clock_.Now();
  const absl::Time sent_at =
      absl::FromUnixMicros(message.pong().client_time_us());
  last_pong_server_time_us_ = message.pong().server_time_us();
  last_pong_at_ = now;
  RuntimeEvent event{.type = RuntimeEventType::kPong, .message = message};
  // The manager knows its heartbeat by the send time; anything else answers
  // a user ping.
  if (manager_->OnPong(sent_at).ok()) {
    event.heartbeat = true;
    event.rtt = manager_->last_rtt().value_or(now - sent_at);
  } else {
    manager_->OnInboundMessage().IgnoreError();
    event.rtt = now - sent_at;
  }
  Emit(std::move(event));
}

void SharedNetworkRuntime::HandleDisconnect(const ServerMessage& message) {
  Emit({.type = RuntimeEventType::kDisconnect, .message = message});
  const std::string& reason = message.disconnect().reason();
  if (reason == "session_unknown" || reason == "service_unavailable") {
    // The server lost the session, or the gateway lost the session service,
    // and the connection stays open. The reconnect flow (resume, else a
    // fresh login) recovers it; a new transport keeps the manager's flow the
    // one it always takes.
    CloseTransport(/*orderly=*/false);
    manager_->OnTransportLost().IgnoreError();
  } else if (reason == "replaced" || reason == "evicted") {
    // Another login took over, or an operator removed us: coming back on
    // our own would undo that.
    manager_->Disconnect().IgnoreError();
  } else {
    // The server closes the transport next; losing it starts the reconnect
    // flow (the session may be held for resume).
    manager_->OnInboundMessage().IgnoreError();
  }
}

void SharedNetworkRuntime::ArmTimer() {
  const absl::Time wakeup = manager_->next_wakeup();
  if (wakeup == absl::InfiniteFuture()) {
    timer_->cancel();
    return;
  }
  const absl::Duration delay =
      std::max(absl::ZeroDuration(), wakeup - clock_.Now());
  timer_->expires_after(
      std::chrono::microseconds(absl::ToInt64Microseconds(delay) + 1));
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // Rearmed or cancelled.
    manager_->Advance();
    Pump();
  });
}

void SharedNetworkRuntime::SendHandshake(const ClientMessage& message) {
  SendMessage(message);
  if (options_.transport != TransportKind::kUdp) return;
  pending_handshake_ = message.SerializeAsString();
  repeat_timer_->expires_after(std::chrono::microseconds(
      absl::ToInt64Microseconds(options_.udp_retransmit_interval)));
  repeat_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || pending_handshake_.empty() || transport_ == nullptr) return;
    ClientMessage again;
    if (again.ParseFromString(pending_handshake_)) SendHandshake(again);
  });
}

void SharedNetworkRuntime::StopHandshakeRepeat() {
  pending_handshake_.clear();
  if (repeat_timer_ != nullptr) repeat_timer_->cancel();
}

int64_t SharedNetworkRuntime::EstimatedTick() const {
  if (!welcome_.has_value()) return 0;
  const int tick_ms = std::max(1, welcome_->world_config().movement_tick_ms());
  return welcome_->server_tick() +
         (clock_.Now() - welcome_at_) / absl::Milliseconds(tick_ms);
}

bool SharedNetworkRuntime::CanSendInput() const {
  const SessionState state = manager_->state();
  return transport_up_ &&
         (state == SessionState::kActive || state == SessionState::kSuspect);
}

}  // namespace gss::client
