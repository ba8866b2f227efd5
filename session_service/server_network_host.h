// The session service's protocol engine: applies gateway link events (peer
// connected, game message, closed) to the MultiSessionManager it owns and
// turns the outcomes into commands (deliver, close) for the right gateway.
#ifndef SESSION_SERVICE_SERVER_NETWORK_HOST_H_
#define SESSION_SERVICE_SERVER_NETWORK_HOST_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/multi_session_manager.h"
#include "gss/game/v1/game.pb.h"
#include "gss/link/v1/link.pb.h"
#include "session_service/authenticator.h"
#include "session_service/gateway_registry.h"
#include "session_service/metrics.h"
#include "session_service/refusals.h"
#include "session_service/welcome_cache.h"

namespace gss {

struct HostOptions {
  // on_transition, if set, is called after the host's own bookkeeping.
  MultiSessionOptions sessions;
  std::string instance_id;  // Empty: 128 random bits, new on every start.
  std::string version = GSS_VERSION;
  // How often the runtime's timer calls AdvanceTime().
  absl::Duration advance_interval = absl::Milliseconds(20);

  absl::Status Validate() const;
};

struct GatewayAttachment {
  link::v1::HelloAck ack;
  uint64_t attachment = 0;  // Names this attachment for DetachGateway.
};

class ServerNetworkHost {
 public:
  // `clock` must outlive the host. `metrics` may be null.
  static absl::StatusOr<std::unique_ptr<ServerNetworkHost>> Create(
      HostOptions options, const Clock& clock,
      std::shared_ptr<const Authenticator> authenticator,
      std::shared_ptr<ServiceMetrics> metrics);
  ~ServerNetworkHost();

  ServerNetworkHost(const ServerNetworkHost&) = delete;
  ServerNetworkHost& operator=(const ServerNetworkHost&) = delete;

  MultiSessionManager& sessions() { return *sessions_; }
  const MultiSessionManager& sessions() const { return *sessions_; }
  const std::string& instance_id() const { return instance_id_; }
  const std::string& version() const { return version_; }
  absl::Time started_at() const { return started_at_; }
  game::v1::ServerInfo server_info() const;
  game::v1::WorldConfig world_config() const;

  // --- Gateway link ---------------------------------------------------------
  // Registers `sink` for hello.gateway_id (replacing an older attachment of
  // the same gateway) and resynchronises: sessions bound to the gateway whose
  // connection is not in the Hello lost their transport; Hello peers without
  // a session get a provisional one and Disconnect{session_unknown}. The
  // commands it produces are pushed to `sink` after the caller has sent the
  // returned HelloAck. Unavailable while draining or stopped.
  absl::StatusOr<GatewayAttachment> AttachGateway(
      const link::v1::Hello& hello, std::shared_ptr<CommandSink> sink);
  // Applies events in order, then the batch's liveness report (heartbeats the
  // gateway answered itself). Events of one gateway must come from one
  // thread at a time (they do: one stream, one reader).
  void HandleEvents(uint32_t gateway_id, const link::v1::EventBatch& batch);
  void HandleEvent(uint32_t gateway_id, const link::v1::PeerEvent& event);
  // The gateway's stream ended: unless a newer attachment took over, every
  // session bound to the gateway lost its transport (logged-in sessions wait
  // in Reconnecting for a resume).
  void DetachGateway(uint32_t gateway_id, uint64_t attachment);
  size_t gateways_attached() const;

  // --- Time -----------------------------------------------------------------
  // Fires due deadlines; sessions that leave their connection because of one
  // get Disconnect{timed_out} and are closed at the gateway. The caller owns
  // time: ServerRuntime calls it every advance_interval, tests when they
  // like.
  void AdvanceTime();

  // --- Host decisions -------------------------------------------------------
  // Closes the session (reason evicted) and its peer's connection with
  // Disconnect{evicted, detail: reason}. NotFound for an unknown session.
  absl::StatusOr<SessionTransition> Evict(SessionId session,
                                          absl::string_view reason);
  // Refuses logins and resumes from now on and tells every connected peer
  // Disconnect{draining}.
  void BeginDrain();
  bool draining() const { return draining_.load(); }
  // Waits (in real time) until no session is logged in and live, i.e. the
  // gateways have closed every player's connection, or until `deadline`.
  bool WaitForPlayersGone(absl::Time deadline);
  // Ignores link events and attaches from now on; for shutdown, so that
  // Clear() leaves nothing behind (the caller stops calling AdvanceTime()
  // first).
  void Quiesce();
  // Closes every session with server_shutdown; connected peers get
  // Disconnect{server_shutdown}. Returns how many sessions were closed.
  size_t Clear();

 private:
  ServerNetworkHost(HostOptions options, const Clock& clock,
                    std::shared_ptr<const Authenticator> authenticator,
                    std::shared_ptr<ServiceMetrics> metrics);

  void OnTransition(const SessionTransition& transition);

  // Event handlers.
  void OnConnected(const RemoteIdentity& remote);
  // A ping or move waiting in a run of a batch (see HandleEvents).
  struct PendingInput {
    RemoteIdentity remote;
    game::v1::ClientMessage message;
  };
  void FlushInputs(std::vector<PendingInput>& run);
  void ApplyLiveness(uint32_t gateway_id,
                     const link::v1::LivenessReport& report);
  // Parses one game message; false (counted and answered) when malformed.
  bool ParseMessage(const RemoteIdentity& remote, const std::string& bytes,
                    game::v1::ClientMessage& message);
  void OnMessage(const RemoteIdentity& remote,
                 const game::v1::ClientMessage& message);
  void OnClosed(const RemoteIdentity& remote, bool orderly);
  // `request_bytes`: the size of the ClientMessage that carried the Login,
  // the most a refusal may take.
  void OnLogin(const RemoteIdentity& remote, const game::v1::Login& login,
               size_t request_bytes);
  void RefuseLogin(const RemoteIdentity& remote, size_t request_bytes,
                   LoginRefusal reason, std::string detail);
  void OnResume(const RemoteIdentity& remote, const game::v1::Resume& resume);
  void RefuseResume(const RemoteIdentity& remote, ResumeRefusal reason);
  // `liveness` is the manager's answer to the ping's heartbeat.
  void OnPing(const RemoteIdentity& remote, const game::v1::Ping& ping,
              const absl::Status& liveness);
  void OnMove(const RemoteIdentity& remote, const game::v1::MoveInput& move,
              const absl::StatusOr<MoveResult>& result);
  void OnShoot(const RemoteIdentity& remote, const game::v1::ShootInput& shoot);
  void OnGoodbye(const RemoteIdentity& remote);
  // Login and Resume are safe to repeat (a UDP client repeats them until
  // answered): a repeat of the request that logged a connection in gets the
  // same Welcome again. Returns true when it was such a repeat.
  bool RepeatWelcome(const RemoteIdentity& remote, absl::string_view request);
  // Sends `welcome` and remembers it for repeats of `request`.
  void SendWelcome(const RemoteIdentity& remote, absl::string_view request,
                   const game::v1::ServerMessage& welcome);
  void RejectInput(const RemoteIdentity& remote, absl::string_view reason,
                   std::string detail);
  // Every session bound to `gateway_id` whose connection `keep` rejects lost
  // its transport.
  void LoseGatewaySessions(uint32_t gateway_id,
                           absl::FunctionRef<bool(uint64_t)> keep);

  // Commands.
  void Deliver(const RemoteIdentity& remote,
               const game::v1::ServerMessage& message);
  void Close(const RemoteIdentity& remote, absl::string_view reason,
             const game::v1::ServerMessage* final_message);
  void CloseWithDisconnect(const RemoteIdentity& remote,
                           DisconnectReason reason, std::string detail);
  void Send(uint32_t gateway_id, link::v1::PeerCommand command);

  const HostOptions options_;
  const Clock& clock_;
  const std::shared_ptr<const Authenticator> authenticator_;
  const std::shared_ptr<ServiceMetrics> metrics_;
  std::string instance_id_;
  const std::string version_;
  const absl::Time started_at_;
  std::unique_ptr<MultiSessionManager> sessions_;
  std::atomic<bool> draining_{false};

  // Held shared while events or attaches are applied, exclusively to stop
  // them (Quiesce).
  absl::Mutex events_mu_;
  bool accepting_ ABSL_GUARDED_BY(events_mu_) = true;

  // Serialises attach and detach resynchronisation. Taken before any session
  // lock; never taken under one.
  absl::Mutex link_mu_;
  GatewayRegistry gateways_;
  WelcomeCache welcomes_;

  absl::Mutex drain_mu_;
  absl::CondVar drain_cv_;
};

}  // namespace gss

#endif  // SESSION_SERVICE_SERVER_NETWORK_HOST_H_
