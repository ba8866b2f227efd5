#include "session_service/server_network_host.h"

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/round_trip.h"
#include "gmock/gmock.h"
#include "gss/game/v1/login_padding.h"
#include "gtest/gtest.h"
#include "session_service/test_jwt.h"

namespace gss {
namespace {

using game::v1::ClientMessage;
using game::v1::ServerMessage;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr uint32_t kGateway = 7;
constexpr char kJwtKey[] = "0123456789abcdef0123456789abcdef";
const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

// Records the commands the host sends to one gateway.
class FakeSink final : public CommandSink {
 public:
  void Push(link::v1::PeerCommand command) override {
    absl::MutexLock lock(&mu_);
    commands_.push_back(std::move(command));
  }
  std::vector<link::v1::PeerCommand> Take() {
    absl::MutexLock lock(&mu_);
    return std::exchange(commands_, {});
  }

 private:
  absl::Mutex mu_;
  std::vector<link::v1::PeerCommand> commands_ ABSL_GUARDED_BY(mu_);
};

// Grants set up by the test, so positions and permissions are chosen.
class FixedAuthenticator final : public Authenticator {
 public:
  absl::string_view name() const override { return "fixed"; }
  AuthResult Authenticate(absl::string_view credential,
                          absl::Time) const override {
    auto it = grants.find(std::string(credential));
    if (it == grants.end())
      return AuthResult::Refused(LoginRefusal::kBadCredential,
                                 "unknown test credential");
    return AuthResult::Granted(it->second);
  }
  std::map<std::string, PlayerGrant> grants;
};

// What one connection received: messages in order, and the close if any.
struct Received {
  std::vector<ServerMessage> messages;
  std::optional<std::string> close_reason;
};

class ServerNetworkHostTest : public ::testing::Test {
 protected:
  ServerNetworkHostTest() { MakeHost(std::make_shared<DevAuthenticator>()); }

  static HostOptions Options() {
    HostOptions options;
    options.instance_id = "instance-under-test";
    options.version = "9.9.9";
    return options;
  }

  void MakeHost(std::shared_ptr<const Authenticator> authenticator,
                HostOptions options = Options()) {
    host_.reset();
    sinks_.clear();
    received_.clear();
    metrics_ = std::make_shared<ServiceMetrics>();
    auto host = ServerNetworkHost::Create(std::move(options), clock_,
                                          std::move(authenticator), metrics_);
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = *std::move(host);
    Attach(kGateway);
  }

  link::v1::HelloAck Attach(uint32_t gateway,
                            const std::vector<uint64_t>& peers = {}) {
    link::v1::Hello hello;
    hello.set_gateway_id(gateway);
    hello.set_gateway_name("gw");
    for (uint64_t connection : peers) {
      link::v1::Peer* peer = hello.add_peers();
      peer->set_connection_id(connection);
      peer->set_address("10.1.2.3:4000");
      peer->set_transport(link::v1::TRANSPORT_UDP);
    }
    auto sink = std::make_shared<FakeSink>();
    auto attached = host_->AttachGateway(hello, sink);
    EXPECT_TRUE(attached.ok()) << attached.status();
    if (!attached.ok()) return {};
    sinks_[gateway] = sink;
    attachments_[gateway] = attached->attachment;
    return attached->ack;
  }

  void Detach(uint32_t gateway) {
    Collect();
    host_->DetachGateway(gateway, attachments_[gateway]);
  }

  void Event(uint32_t gateway, link::v1::PeerEvent event) {
    link::v1::EventBatch batch;
    *batch.add_events() = std::move(event);
    host_->HandleEvents(gateway, batch);
  }

  void Connect(uint64_t connection, uint32_t gateway = kGateway) {
    link::v1::PeerEvent event;
    event.set_connection_id(connection);
    event.mutable_connected()->mutable_peer()->set_connection_id(connection);
    event.mutable_connected()->mutable_peer()->set_address("192.0.2.1:5000");
    Event(gateway, std::move(event));
  }

  void SendRaw(uint64_t connection, std::string bytes,
               uint32_t gateway = kGateway) {
    link::v1::PeerEvent event;
    event.set_connection_id(connection);
    event.set_message(std::move(bytes));
    Event(gateway, std::move(event));
  }

  void Send(uint64_t connection, const ClientMessage& message,
            uint32_t gateway = kGateway) {
    SendRaw(connection, message.SerializeAsString(), gateway);
  }

  void Closed(uint64_t connection, bool orderly, uint32_t gateway = kGateway) {
    link::v1::PeerEvent event;
    event.set_connection_id(connection);
    event.mutable_closed()->set_orderly(orderly);
    Event(gateway, std::move(event));
  }

  // Moves every command sent so far into per-connection records.
  void Collect() {
    for (auto& [gateway, sink] : sinks_) {
      for (link::v1::PeerCommand& command : sink->Take()) {
        Received& r = received_[{gateway, command.connection_id()}];
        if (command.has_deliver()) {
          ServerMessage message;
          EXPECT_TRUE(message.ParseFromString(command.deliver()));
          r.messages.push_back(std::move(message));
        } else if (command.has_close()) {
          if (!command.close().final_message().empty()) {
            ServerMessage message;
            EXPECT_TRUE(
                message.ParseFromString(command.close().final_message()));
            r.messages.push_back(std::move(message));
          }
          r.close_reason = command.close().reason();
        }
      }
    }
  }

  // What `connection` received since the last call.
  Received Take(uint64_t connection, uint32_t gateway = kGateway) {
    Collect();
    return std::exchange(received_[{gateway, connection}], {});
  }

  ServerMessage One(uint64_t connection, uint32_t gateway = kGateway) {
    Received r = Take(connection, gateway);
    EXPECT_EQ(r.messages.size(), 1u);
    return r.messages.empty() ? ServerMessage() : r.messages.front();
  }

  // Padded, as the project's clients send it.
  static ClientMessage LoginMessage(const std::string& credential) {
    ClientMessage message;
    message.mutable_login()->set_credential(credential);
    message.mutable_login()->set_client_version("test");
    game::v1::PadLogin(message);
    return message;
  }
  static ClientMessage MoveMessage(int64_t tick, int dx, int dy) {
    ClientMessage message;
    message.mutable_move()->set_tick(tick);
    message.mutable_move()->set_dx(dx);
    message.mutable_move()->set_dy(dy);
    return message;
  }
  static ClientMessage ShootMessage(int64_t tick, const std::string& target) {
    ClientMessage message;
    message.mutable_shoot()->set_tick(tick);
    message.mutable_shoot()->set_target_session_id(target);
    return message;
  }
  static ClientMessage ResumeMessage(const std::string& token) {
    ClientMessage message;
    message.mutable_resume()->set_resume_token(token);
    return message;
  }

  // Connects and logs in; returns the Welcome.
  game::v1::Welcome Login(uint64_t connection, const std::string& credential,
                          uint32_t gateway = kGateway) {
    Connect(connection, gateway);
    Send(connection, LoginMessage(credential), gateway);
    ServerMessage reply = One(connection, gateway);
    EXPECT_TRUE(reply.has_welcome()) << reply.DebugString();
    return reply.welcome();
  }

  SessionState StateOf(const std::string& session_id) {
    auto id = SessionId::Parse(session_id);
    if (!id.ok()) return SessionState::kClosed;
    auto snapshot = host_->sessions().FindBySession(*id);
    return snapshot ? snapshot->state : SessionState::kClosed;
  }

  RemoteIdentity Remote(uint64_t connection, uint32_t gateway = kGateway) {
    return RemoteIdentity{gateway, connection, {}};
  }

  // Advances the clock in steps no longer than the timer resolution and lets
  // the host fire what came due.
  void Advance(absl::Duration by) {
    const absl::Duration step = absl::Milliseconds(20);
    while (by > absl::ZeroDuration()) {
      const absl::Duration d = std::min(by, step);
      clock_.Advance(d);
      by -= d;
      host_->AdvanceTime();
    }
  }

  ManualClock clock_{kStart};
  std::shared_ptr<ServiceMetrics> metrics_;
  std::unique_ptr<ServerNetworkHost> host_;
  std::map<uint32_t, std::shared_ptr<FakeSink>> sinks_;
  std::map<uint32_t, uint64_t> attachments_;
  std::map<std::pair<uint32_t, uint64_t>, Received> received_;
};

// --- Login
// --------------------------------------------------------------------

TEST_F(ServerNetworkHostTest, DevLoginWelcomesWithEverythingTheClientNeeds) {
  Advance(absl::Milliseconds(120));  // A couple of ticks into the world.
  const game::v1::Welcome welcome = Login(1, "alice");
  EXPECT_EQ(welcome.session_id().size(), 16u);
  EXPECT_EQ(welcome.resume_token().size(), 48u);
  EXPECT_EQ(welcome.resume_token().substr(0, 16), welcome.session_id());
  EXPECT_EQ(welcome.world_config().grid_size(), 64);
  EXPECT_EQ(welcome.world_config().movement_tick_ms(), 50);
  EXPECT_EQ(welcome.world_config().movement_max_steps_per_tick(), 1);
  EXPECT_EQ(welcome.server_info().instance_id(), "instance-under-test");
  EXPECT_EQ(welcome.server_info().version(), "9.9.9");
  EXPECT_GE(welcome.position().x(), 0);
  EXPECT_LT(welcome.position().x(), 64);
  EXPECT_GE(welcome.position().y(), 0);
  EXPECT_LT(welcome.position().y(), 64);
  EXPECT_EQ(welcome.health(), 100);
  EXPECT_EQ(welcome.player_id(), "alice");
  EXPECT_EQ(welcome.display_name(), "alice");
  EXPECT_EQ(welcome.role(), "player");
  EXPECT_THAT(welcome.permissions(), ElementsAre("move", "shoot"));
  EXPECT_EQ(welcome.server_tick(), host_->sessions().CurrentTick());
  EXPECT_EQ(welcome.last_move_tick(), welcome.server_tick());
  EXPECT_FALSE(welcome.resumed());
  EXPECT_EQ(StateOf(welcome.session_id()), SessionState::kActive);
  EXPECT_EQ(metrics_->LoginCount("accepted"), 1);
}

TEST_F(ServerNetworkHostTest, ResumeTokensDifferBetweenSessions) {
  const auto a = Login(1, "alice");
  const auto b = Login(2, "bob");
  EXPECT_NE(a.resume_token().substr(16), b.resume_token().substr(16));
}

TEST_F(ServerNetworkHostTest, RefusedLoginIsToldAndClosed) {
  Connect(1);
  Send(1, LoginMessage(""));
  Received r = Take(1);
  ASSERT_EQ(r.messages.size(), 1u);
  ASSERT_TRUE(r.messages[0].has_login_rejected());
  EXPECT_EQ(r.messages[0].login_rejected().reason(), "bad_credential");
  EXPECT_EQ(r.messages[0].login_rejected().server_info().instance_id(),
            "instance-under-test");
  EXPECT_EQ(r.close_reason, "login_failed");
  EXPECT_EQ(host_->sessions().size(), 0u);
  EXPECT_EQ(metrics_->ClosedCount(CloseReason::kLoginFailed), 1);
}

TEST_F(ServerNetworkHostTest, RefusalIsNeverLargerThanTheLogin) {
  // Bare logins of a few sizes: the detail goes first, then the server
  // info; the reason always stays.
  for (int size : {0, 40, 90}) {
    SCOPED_TRACE(size);
    const uint64_t connection = 100 + size;
    Connect(connection);
    ClientMessage login;
    login.mutable_login()->set_padding(std::string(size, 'x'));
    Send(connection, login);
    Received r = Take(connection);
    EXPECT_EQ(r.close_reason, "login_failed");
    if (size == 0) {
      // Two bytes: too small even for the reason.
      EXPECT_TRUE(r.messages.empty());
      continue;
    }
    ASSERT_EQ(r.messages.size(), 1u);
    const ServerMessage& refused = r.messages[0];
    EXPECT_EQ(refused.login_rejected().reason(), "bad_credential");
    EXPECT_LE(refused.ByteSizeLong(), login.ByteSizeLong());
    if (size == 40) {
      EXPECT_TRUE(refused.login_rejected().detail().empty());
    }
  }
  // Padded as the clients do: the whole refusal fits.
  Connect(1);
  ClientMessage padded = LoginMessage("");
  Send(1, padded);
  Received r = Take(1);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_FALSE(r.messages[0].login_rejected().detail().empty());
  EXPECT_TRUE(r.messages[0].login_rejected().has_server_info());
  EXPECT_LE(r.messages[0].ByteSizeLong(), padded.ByteSizeLong());
}

class JwtHostTest : public ServerNetworkHostTest {
 protected:
  JwtHostTest() {
    auto jwt = JwtAuthenticator::Create(kJwtKey);
    EXPECT_TRUE(jwt.ok());
    MakeHost(std::shared_ptr<const Authenticator>(std::move(*jwt)));
  }
  testing::TokenClaims Claims() {
    testing::TokenClaims claims;
    claims.sub = "p-1";
    claims.name = "Ada";
    claims.role = "moderator";
    claims.permissions = std::vector<std::string>{"move"};
    claims.exp = clock_.Now() + absl::Minutes(10);
    return claims;
  }
  // Logs in with `token` on a new connection; returns what it received.
  Received LoginWith(uint64_t connection, const std::string& token) {
    Connect(connection);
    Send(connection, LoginMessage(token));
    return Take(connection);
  }
};

TEST_F(JwtHostTest, GoodTokenCarriesItsClaimsIntoTheWelcome) {
  Received r =
      LoginWith(1, testing::MintToken(JWT_ALG_HS256, kJwtKey, Claims()));
  ASSERT_EQ(r.messages.size(), 1u);
  ASSERT_TRUE(r.messages[0].has_welcome()) << r.messages[0].DebugString();
  const auto& welcome = r.messages[0].welcome();
  EXPECT_EQ(welcome.player_id(), "p-1");
  EXPECT_EQ(welcome.display_name(), "Ada");
  EXPECT_EQ(welcome.role(), "moderator");
  EXPECT_THAT(welcome.permissions(), ElementsAre("move"));
  EXPECT_FALSE(r.close_reason.has_value());
}

TEST_F(JwtHostTest, BadTokensAreRefusedWithTheirReasonAndClosed) {
  testing::TokenClaims expired = Claims();
  expired.exp = clock_.Now() - absl::Seconds(1);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {testing::MintToken(JWT_ALG_HS256, kJwtKey, expired), "token_expired"},
      {testing::MintToken(JWT_ALG_HS256, "some-other-key-some-other-key-00",
                          Claims()),
       "bad_signature"},
      {testing::MintToken(JWT_ALG_NONE, "", Claims()), "bad_algorithm"},
      {testing::MintToken(JWT_ALG_HS512, kJwtKey, Claims()), "bad_algorithm"},
  };
  uint64_t connection = 10;
  for (const auto& [token, reason] : cases) {
    SCOPED_TRACE(reason);
    Received r = LoginWith(++connection, token);
    ASSERT_EQ(r.messages.size(), 1u);
    ASSERT_TRUE(r.messages[0].has_login_rejected());
    EXPECT_EQ(r.messages[0].login_rejected().reason(), reason);
    EXPECT_EQ(r.close_reason, "login_failed");
    EXPECT_EQ(metrics_->LoginCount(reason),
              reason == "bad_algorithm" && connection == 14 ? 2 : 1);
  }
  EXPECT_EQ(host_->sessions().size(), 0u);
}

TEST_F(JwtHostTest, TokenExpiresByTheHostsClock) {
  const std::string token =
      testing::MintToken(JWT_ALG_HS256, kJwtKey, Claims());
  clock_.Advance(absl::Minutes(11));
  Received r = LoginWith(1, token);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].login_rejected().reason(), "token_expired");
}

TEST_F(JwtHostTest, PermissionsAreCheckedPerMessage) {
  Received r =
      LoginWith(1, testing::MintToken(JWT_ALG_HS256, kJwtKey, Claims()));
  const auto& welcome = r.messages.at(0).welcome();
  testing::TokenClaims other = Claims();
  other.sub = "p-2";
  const auto target =
      LoginWith(2, testing::MintToken(JWT_ALG_HS256, kJwtKey, other))
          .messages.at(0)
          .welcome();
  Advance(absl::Milliseconds(50));
  const int64_t tick = host_->sessions().CurrentTick();
  Send(1, ShootMessage(tick, target.session_id()));
  ServerMessage shot = One(1);
  ASSERT_TRUE(shot.has_shoot_result());
  EXPECT_FALSE(shot.shoot_result().accepted());
  EXPECT_EQ(shot.shoot_result().rejection(), "not_permitted");
  Send(1, MoveMessage(tick, 0, 0));
  ServerMessage moved = One(1);
  ASSERT_TRUE(moved.has_move_result());
  EXPECT_TRUE(moved.move_result().accepted()) << moved.DebugString();
  EXPECT_EQ(moved.move_result().position().x(), welcome.position().x());
  EXPECT_EQ(
      metrics_->InputCount(InputKind::kShoot, InputRejection::kNotPermitted),
      1);
}

// --- Gameplay
// -----------------------------------------------------------------

class GameplayTest : public ServerNetworkHostTest {
 protected:
  GameplayTest() {
    auto fixed = std::make_shared<FixedAuthenticator>();
    fixed->grants["a"] = Grant("a", {10, 10}, kAllPermissions);
    fixed->grants["b"] = Grant("b", {13, 14}, kAllPermissions);  // 5 away.
    fixed->grants["c"] = Grant("c", {60, 60}, kAllPermissions);
    fixed->grants["mover"] = Grant("mover", {0, 0}, kPermissionMove);
    MakeHost(fixed);
  }
  static PlayerGrant Grant(std::string id, GridPosition at,
                           uint32_t permissions) {
    PlayerGrant grant;
    grant.player_id = id;
    grant.display_name = id;
    grant.role = "player";
    grant.permissions = permissions;
    grant.start_position = at;
    return grant;
  }
};

TEST_F(GameplayTest, MoveGetsTheAuthoritativeResult) {
  const auto a = Login(1, "a");
  Advance(absl::Milliseconds(100));  // Two ticks of step credit.
  const int64_t tick = host_->sessions().CurrentTick();
  Send(1, MoveMessage(tick, 1, 1));
  ServerMessage moved = One(1);
  ASSERT_TRUE(moved.has_move_result());
  EXPECT_TRUE(moved.move_result().accepted());
  EXPECT_EQ(moved.move_result().tick(), tick);
  EXPECT_EQ(moved.move_result().position().x(), 11);
  EXPECT_EQ(moved.move_result().position().y(), 11);
  EXPECT_FALSE(moved.move_result().clamped());

  // A replay of the same tick is refused; the position stays authoritative.
  Send(1, MoveMessage(tick, 1, 0));
  ServerMessage replay = One(1);
  EXPECT_FALSE(replay.move_result().accepted());
  EXPECT_EQ(replay.move_result().rejection(), "stale_tick");
  EXPECT_EQ(replay.move_result().position().x(), 11);
  EXPECT_EQ(metrics_->InputCount(InputKind::kMove, InputRejection::kNone), 1);
  EXPECT_EQ(metrics_->InputCount(InputKind::kMove, InputRejection::kStaleTick),
            1);
  auto snapshot =
      host_->sessions().FindBySession(*SessionId::Parse(a.session_id()));
  EXPECT_EQ(snapshot->position, (GridPosition{11, 11}));
}

TEST_F(GameplayTest, MoveIntoTheEdgeIsClamped) {
  Login(1, "mover");
  Advance(absl::Milliseconds(100));
  Send(1, MoveMessage(host_->sessions().CurrentTick(), -1, 0));
  ServerMessage moved = One(1);
  EXPECT_TRUE(moved.move_result().accepted());
  EXPECT_TRUE(moved.move_result().clamped());
  EXPECT_EQ(moved.move_result().position().x(), 0);
}

TEST_F(GameplayTest, HitIsReportedToShooterAndTarget) {
  const auto a = Login(1, "a");
  const auto b = Login(2, "b");
  Advance(absl::Milliseconds(50));
  const int64_t tick = host_->sessions().CurrentTick();
  Send(1, ShootMessage(tick, b.session_id()));
  ServerMessage shot = One(1);
  ASSERT_TRUE(shot.has_shoot_result()) << shot.DebugString();
  EXPECT_TRUE(shot.shoot_result().accepted()) << shot.DebugString();
  EXPECT_EQ(shot.shoot_result().tick(), tick);
  EXPECT_EQ(shot.shoot_result().target_session_id(), b.session_id());
  EXPECT_EQ(shot.shoot_result().target_health(), 80);
  ServerMessage hit = One(2);
  ASSERT_TRUE(hit.has_hit_received());
  EXPECT_EQ(hit.hit_received().shooter_session_id(), a.session_id());
  EXPECT_EQ(hit.hit_received().tick(), tick);
  EXPECT_EQ(hit.hit_received().health(), 80);
}

TEST_F(GameplayTest, MissesAreOnlyToldToTheShooter) {
  Login(1, "a");
  const auto c = Login(3, "c");
  Advance(absl::Milliseconds(50));
  const int64_t tick = host_->sessions().CurrentTick();
  Send(1, ShootMessage(tick, c.session_id()));
  EXPECT_EQ(One(1).shoot_result().rejection(), "target_out_of_range");
  Advance(absl::Milliseconds(250));
  Send(1, ShootMessage(host_->sessions().CurrentTick(), "not-hex"));
  EXPECT_EQ(One(1).shoot_result().rejection(), "unknown_target");
  EXPECT_THAT(Take(3).messages, IsEmpty());
}

TEST_F(GameplayTest, GameplayBeforeLoginIsRejectedWithAReason) {
  Connect(1);
  Send(1, MoveMessage(1, 1, 0));
  ServerMessage move = One(1);
  ASSERT_TRUE(move.has_input_rejected()) << move.DebugString();
  EXPECT_EQ(move.input_rejected().reason(), "not_logged_in");
  Send(1, ShootMessage(1, "0001000000000100"));
  ServerMessage shoot = One(1);
  ASSERT_TRUE(shoot.has_input_rejected());
  EXPECT_EQ(shoot.input_rejected().reason(), "not_logged_in");
  auto snapshot = host_->sessions().FindByRemote(Remote(1));
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->state, SessionState::kAuthenticating);
  EXPECT_EQ(
      metrics_->InputCount(InputKind::kMove, InputRejection::kNotLoggedIn), 1);
}

TEST_F(GameplayTest, MalformedMessagesAreRejectedAndTouchNothing) {
  const auto a = Login(1, "a");
  const auto b = Login(2, "b");
  const auto before_a = host_->sessions().FindByRemote(Remote(1));
  const auto before_b = host_->sessions().FindByRemote(Remote(2));
  clock_.Advance(absl::Seconds(1));
  for (const std::string& bytes :
       {std::string("\xff\xff\xff", 3), std::string(),
        std::string("\x0a\x05", 2) /* truncated Login */}) {
    SendRaw(1, bytes);
    ServerMessage reply = One(1);
    ASSERT_TRUE(reply.has_input_rejected());
    EXPECT_EQ(reply.input_rejected().reason(), "malformed");
  }
  EXPECT_EQ(metrics_->MalformedCount(), 3);
  const auto after_a = host_->sessions().FindByRemote(Remote(1));
  const auto after_b = host_->sessions().FindByRemote(Remote(2));
  EXPECT_EQ(after_a->last_seen, before_a->last_seen);
  EXPECT_EQ(after_a->state, SessionState::kActive);
  EXPECT_EQ(after_a->transitions, before_a->transitions);
  EXPECT_EQ(after_b->last_seen, before_b->last_seen);
  EXPECT_EQ(after_b->health, before_b->health);
  EXPECT_THAT(Take(2).messages, IsEmpty());
}

// --- Heartbeat
// ----------------------------------------------------------------

TEST_F(ServerNetworkHostTest, PongEchoesAndTheServerMeasuresRtt) {
  Login(1, "alice");
  ClientMessage ping;
  ping.mutable_ping()->set_client_time_us(123);
  Send(1, ping);
  ServerMessage pong = One(1);
  ASSERT_TRUE(pong.has_pong());
  EXPECT_EQ(pong.pong().client_time_us(), 123);
  EXPECT_EQ(pong.pong().server_time_us(), absl::ToUnixMicros(clock_.Now()));

  // The client held the pong 10 ms; the network took 20 ms in all.
  clock_.Advance(absl::Milliseconds(30));
  ping.mutable_ping()->set_client_time_us(456);
  ping.mutable_ping()->set_echo_server_time_us(pong.pong().server_time_us());
  ping.mutable_ping()->set_echo_hold_us(10'000);
  Send(1, ping);
  EXPECT_EQ(One(1).pong().client_time_us(), 456);
  auto snapshot = host_->sessions().FindByRemote(Remote(1));
  ASSERT_TRUE(snapshot->rtt.has_value());
  EXPECT_EQ(*snapshot->rtt, absl::Milliseconds(20));
  EXPECT_EQ(metrics_->RttSamples(), 1u);
  EXPECT_EQ(metrics_->HeartbeatCount(/*answered_by_gateway=*/false), 2);

  // Nonsense echoes are ignored, not trusted.
  ping.mutable_ping()->set_echo_hold_us(int64_t{1} << 62);
  Send(1, ping);
  EXPECT_TRUE(One(1).has_pong());
  EXPECT_EQ(metrics_->RttSamples(), 1u);
}

// Heartbeats a gateway answered itself arrive in bulk, after the batch's
// events, and keep sessions alive exactly as Pings would, without a reply.
TEST_F(ServerNetworkHostTest, LivenessReportsKeepSessionsAliveAndRecordRtt) {
  const auto alice = Login(1, "alice");
  const auto bob = Login(2, "bob");
  Advance(absl::Seconds(16));  // Past suspect_after.
  ASSERT_EQ(StateOf(alice.session_id()), SessionState::kSuspect);
  ASSERT_EQ(StateOf(bob.session_id()), SessionState::kSuspect);

  // A peer connecting in the same batch is known by the time the report is
  // applied; a connection without a session is counted and ignored.
  link::v1::EventBatch batch;
  link::v1::PeerEvent* connected = batch.add_events();
  connected->set_connection_id(3);
  connected->mutable_connected()->mutable_peer()->set_connection_id(3);
  connected->mutable_connected()->mutable_peer()->set_address("192.0.2.1:7");
  link::v1::LivenessReport* report = batch.mutable_liveness();
  report->set_report_id(1);
  for (auto [connection, rtt_us] :
       {std::pair<uint64_t, int64_t>{1, 4'500}, {3, -1}, {99, 1'000}}) {
    report->add_connection_ids(connection);
    report->add_rtt_us(rtt_us);
  }
  host_->HandleEvents(kGateway, batch);

  EXPECT_EQ(StateOf(alice.session_id()), SessionState::kActive);
  EXPECT_EQ(StateOf(bob.session_id()), SessionState::kSuspect);
  EXPECT_EQ(host_->sessions().FindByRemote(Remote(1))->rtt,
            absl::Microseconds(4'500));
  EXPECT_EQ(host_->sessions().FindByRemote(Remote(3))->rtt, std::nullopt);
  EXPECT_EQ(metrics_->RttSamples(), 1u);
  EXPECT_EQ(metrics_->HeartbeatCount(/*answered_by_gateway=*/true), 2);
  EXPECT_EQ(metrics_->HeartbeatCount(/*answered_by_gateway=*/false), 0);
  // Nothing to say to anyone: the gateway has already answered.
  EXPECT_THAT(Take(1).messages, IsEmpty());
  EXPECT_THAT(Take(3).messages, IsEmpty());
  EXPECT_THAT(Take(99).messages, IsEmpty());

  // Bob, never reported, times out; Alice, reported, is held alive.
  Advance(absl::Milliseconds(15'500));
  EXPECT_EQ(Take(2).close_reason, "timed_out");
  EXPECT_EQ(StateOf(alice.session_id()), SessionState::kSuspect);

  // A round trip no client could have is not recorded.
  link::v1::EventBatch implausible;
  implausible.mutable_liveness()->set_report_id(2);
  implausible.mutable_liveness()->add_connection_ids(1);
  implausible.mutable_liveness()->add_rtt_us(
      absl::ToInt64Microseconds(kMaxPlausibleRtt) + 1);
  host_->HandleEvents(kGateway, implausible);
  EXPECT_EQ(StateOf(alice.session_id()), SessionState::kActive);
  EXPECT_EQ(host_->sessions().FindByRemote(Remote(1))->rtt,
            absl::Microseconds(4'500));
  EXPECT_EQ(metrics_->RttSamples(), 1u);
}

TEST_F(ServerNetworkHostTest, AnyMessageCountsAsLiveness) {
  const auto welcome = Login(1, "alice");
  Advance(absl::Seconds(16));  // Past suspect_after.
  EXPECT_EQ(StateOf(welcome.session_id()), SessionState::kSuspect);
  Send(1, MoveMessage(host_->sessions().CurrentTick(), 0, 0));
  EXPECT_EQ(StateOf(welcome.session_id()), SessionState::kActive);
}

// --- Timeouts and the link
// ------------------------------------------------------

TEST_F(ServerNetworkHostTest, SilenceClosesThePeerWithTimedOut) {
  const auto welcome = Login(1, "alice");
  Advance(absl::Seconds(31));  // Past liveness_timeout.
  Received r = Take(1);
  ASSERT_EQ(r.messages.size(), 1u);
  ASSERT_TRUE(r.messages[0].has_disconnect());
  EXPECT_EQ(r.messages[0].disconnect().reason(), "timed_out");
  EXPECT_EQ(r.close_reason, "timed_out");
  EXPECT_EQ(StateOf(welcome.session_id()), SessionState::kReconnecting);

  Advance(absl::Seconds(31));  // Past reconnect_grace: nothing more to tell.
  EXPECT_EQ(host_->sessions().size(), 0u);
  EXPECT_THAT(Take(1).messages, IsEmpty());
  EXPECT_EQ(metrics_->ClosedCount(CloseReason::kGraceExpired), 1);
}

TEST_F(ServerNetworkHostTest, NoLoginWithinTheLoginTimeoutClosesThePeer) {
  Connect(1);
  Advance(absl::Seconds(11));
  Received r = Take(1);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].disconnect().reason(), "timed_out");
  EXPECT_EQ(r.close_reason, "timed_out");
  EXPECT_EQ(host_->sessions().size(), 0u);
}

TEST_F(ServerNetworkHostTest, LostGatewayStreamPutsItsSessionsInReconnecting) {
  const auto a = Login(1, "alice");
  const auto b = Login(2, "bob");
  Connect(3);  // Not logged in: nothing to hold.
  Attach(9);
  const auto other = Login(1, "carol", /*gateway=*/9);  // Same connection id.
  Detach(kGateway);
  EXPECT_EQ(StateOf(a.session_id()), SessionState::kReconnecting);
  EXPECT_EQ(StateOf(b.session_id()), SessionState::kReconnecting);
  EXPECT_FALSE(host_->sessions().FindByRemote(Remote(3)).has_value());
  EXPECT_EQ(StateOf(other.session_id()), SessionState::kActive);
  EXPECT_EQ(host_->gateways_attached(), 1u);
}

TEST_F(ServerNetworkHostTest, EventsFromConnectionsWithoutSessionsAreDropped) {
  Send(99, LoginMessage("ghost"));
  Send(99, MoveMessage(1, 1, 0));
  Closed(99, false);
  EXPECT_THAT(Take(99).messages, IsEmpty());
  EXPECT_EQ(host_->sessions().size(), 0u);
}

TEST_F(ServerNetworkHostTest, HelloAfterLossResyncsWithSessionUnknown) {
  const auto a = Login(1, "alice");
  Connect(2);
  Detach(kGateway);
  ASSERT_EQ(StateOf(a.session_id()), SessionState::kReconnecting);

  // The gateway comes back still holding connections 1 and 2, plus 3 that
  // connected while the link was down.
  const link::v1::HelloAck ack = Attach(kGateway, {1, 2, 3});
  EXPECT_EQ(ack.instance_id(), "instance-under-test");
  EXPECT_EQ(ack.version(), "9.9.9");
  EXPECT_THAT(ack.unknown_connection_ids(), UnorderedElementsAre(1, 2, 3));
  for (uint64_t connection : {1, 2, 3}) {
    Received r = Take(connection);
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].disconnect().reason(), "session_unknown");
    EXPECT_FALSE(r.close_reason.has_value());  // Stays open to resume.
  }
  // Connection 1 resumes the held session on the same connection id.
  Send(1, ResumeMessage(a.resume_token()));
  ServerMessage resumed = One(1);
  ASSERT_TRUE(resumed.has_welcome()) << resumed.DebugString();
  EXPECT_TRUE(resumed.welcome().resumed());
  EXPECT_EQ(resumed.welcome().session_id(), a.session_id());
}

TEST_F(ServerNetworkHostTest, HelloWhileAttachedKeepsListedPeers) {
  const auto a = Login(1, "alice");
  const auto b = Login(2, "bob");
  // A new stream of the same gateway before the old one was noticed dead.
  const uint64_t old_attachment = attachments_[kGateway];
  const link::v1::HelloAck ack = Attach(kGateway, {1});
  EXPECT_THAT(ack.unknown_connection_ids(), IsEmpty());
  EXPECT_EQ(StateOf(a.session_id()), SessionState::kActive);
  EXPECT_EQ(StateOf(b.session_id()), SessionState::kReconnecting);
  // The old stream ending later changes nothing.
  host_->DetachGateway(kGateway, old_attachment);
  EXPECT_EQ(StateOf(a.session_id()), SessionState::kActive);
  EXPECT_EQ(host_->gateways_attached(), 1u);
}

// --- Resume
// -------------------------------------------------------------------

TEST_F(ServerNetworkHostTest, ResumeWithinGraceOnANewConnection) {
  Advance(absl::Milliseconds(500));
  const auto a = Login(1, "alice");
  Advance(absl::Milliseconds(100));
  Send(1, MoveMessage(host_->sessions().CurrentTick(), 0, 1));
  const ServerMessage moved = One(1);
  Closed(1, /*orderly=*/false);
  ASSERT_EQ(StateOf(a.session_id()), SessionState::kReconnecting);

  Advance(absl::Seconds(10));
  Connect(2);
  Send(2, ResumeMessage(a.resume_token()));
  ServerMessage reply = One(2);
  ASSERT_TRUE(reply.has_welcome()) << reply.DebugString();
  const auto& welcome = reply.welcome();
  EXPECT_TRUE(welcome.resumed());
  EXPECT_EQ(welcome.session_id(), a.session_id());
  EXPECT_NE(welcome.resume_token(), a.resume_token());
  EXPECT_EQ(welcome.position().x(), moved.move_result().position().x());
  EXPECT_EQ(welcome.position().y(), moved.move_result().position().y());
  EXPECT_EQ(welcome.last_move_tick(), moved.move_result().tick());
  EXPECT_EQ(welcome.player_id(), "alice");
  EXPECT_EQ(welcome.health(), 100);
  EXPECT_THAT(welcome.permissions(), ElementsAre("move", "shoot"));
  EXPECT_EQ(welcome.server_info().instance_id(), "instance-under-test");
  auto snapshot = host_->sessions().FindByRemote(Remote(2));
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->id.ToString(), a.session_id());
  EXPECT_EQ(snapshot->state, SessionState::kActive);

  // The spent token is refused, and the connection stays open for a login.
  Connect(3);
  Send(3, ResumeMessage(a.resume_token()));
  Received refused = Take(3);
  ASSERT_EQ(refused.messages.size(), 1u);
  ASSERT_TRUE(refused.messages[0].has_resume_rejected());
  EXPECT_EQ(refused.messages[0].resume_rejected().reason(), "unknown_token");
  EXPECT_EQ(refused.messages[0].resume_rejected().server_info().instance_id(),
            "instance-under-test");
  EXPECT_FALSE(refused.close_reason.has_value());
  Send(3, LoginMessage("bob"));
  EXPECT_TRUE(One(3).has_welcome());
}

TEST_F(ServerNetworkHostTest, ResumeAfterGraceIsRefused) {
  const auto a = Login(1, "alice");
  Closed(1, false);
  Advance(absl::Seconds(31));
  Connect(2);
  Send(2, ResumeMessage(a.resume_token()));
  EXPECT_EQ(One(2).resume_rejected().reason(), "unknown_token");
  Send(2, ResumeMessage("garbage"));
  EXPECT_EQ(One(2).resume_rejected().reason(), "unknown_token");
}

TEST_F(ServerNetworkHostTest, ResumeOverAStillOpenConnectionClosesTheOldOne) {
  const auto a = Login(1, "alice");
  Connect(2);
  Send(2, ResumeMessage(a.resume_token()));
  EXPECT_TRUE(One(2).welcome().resumed());
  Received old = Take(1);
  ASSERT_EQ(old.messages.size(), 1u);
  EXPECT_EQ(old.messages[0].disconnect().reason(), "replaced");
  EXPECT_TRUE(old.close_reason.has_value());
}

// --- Host decisions
// -------------------------------------------------------------

TEST_F(ServerNetworkHostTest, SecondLoginReplacesTheOlderSession) {
  const auto first = Login(1, "alice");
  const auto second = Login(2, "alice");
  EXPECT_NE(first.session_id(), second.session_id());
  Received r = Take(1);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].disconnect().reason(), "replaced");
  EXPECT_EQ(r.close_reason, "replaced");
  EXPECT_EQ(StateOf(first.session_id()), SessionState::kClosed);
  EXPECT_EQ(metrics_->ClosedCount(CloseReason::kReplaced), 1);
}

TEST_F(ServerNetworkHostTest, SecondLoginIsRefusedWhenReplacementIsOff) {
  HostOptions options = Options();
  options.sessions.replace_existing_login = false;
  MakeHost(std::make_shared<DevAuthenticator>(), options);
  const auto first = Login(1, "alice");
  Connect(2);
  Send(2, LoginMessage("alice"));
  Received r = Take(2);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].login_rejected().reason(), "already_logged_in");
  EXPECT_EQ(r.close_reason, "login_failed");
  EXPECT_EQ(StateOf(first.session_id()), SessionState::kActive);
}

TEST_F(ServerNetworkHostTest, LoginOnALoggedInConnectionIsRefusedOnly) {
  const auto first = Login(1, "alice");
  Send(1, LoginMessage("bob"));
  Received r = Take(1);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].login_rejected().reason(), "already_logged_in");
  EXPECT_FALSE(r.close_reason.has_value());
  EXPECT_EQ(StateOf(first.session_id()), SessionState::kActive);
}

TEST_F(ServerNetworkHostTest, RepeatedLoginGetsTheSameWelcomeAgain) {
  const auto first = Login(1, "alice");
  Send(1, LoginMessage("alice"));  // The first Welcome was lost on UDP.
  Received r = Take(1);
  ASSERT_EQ(r.messages.size(), 1u);
  ASSERT_TRUE(r.messages[0].has_welcome()) << r.messages[0].DebugString();
  EXPECT_EQ(r.messages[0].welcome().session_id(), first.session_id());
  EXPECT_EQ(r.messages[0].welcome().resume_token(), first.resume_token());
  EXPECT_FALSE(r.close_reason.has_value());
  EXPECT_EQ(host_->sessions().size(), 1u);
  EXPECT_EQ(metrics_->LoginCount("accepted"), 1);
}

TEST_F(ServerNetworkHostTest, RepeatedResumeGetsTheSameWelcomeAgain) {
  const auto a = Login(1, "alice");
  Closed(1, false);
  Connect(2);
  Send(2, ResumeMessage(a.resume_token()));
  const ServerMessage resumed = One(2);
  ASSERT_TRUE(resumed.welcome().resumed());
  Send(2, ResumeMessage(a.resume_token()));  // Spent, but a repeat.
  const ServerMessage again = One(2);
  ASSERT_TRUE(again.has_welcome()) << again.DebugString();
  EXPECT_EQ(again.welcome().resume_token(), resumed.welcome().resume_token());
  // The token it carries still works once the connection is lost again.
  Closed(2, false);
  Connect(3);
  Send(3, ResumeMessage(again.welcome().resume_token()));
  EXPECT_TRUE(One(3).welcome().resumed());
}

TEST_F(ServerNetworkHostTest, FullServerRefusesLogins) {
  HostOptions options = Options();
  options.sessions.max_sessions = 1;
  MakeHost(std::make_shared<DevAuthenticator>(), options);
  Login(1, "alice");
  Connect(2);
  Send(2, LoginMessage("bob"));
  Received r = Take(2);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].login_rejected().reason(), "server_full");
  EXPECT_EQ(r.close_reason, "login_failed");
}

TEST_F(ServerNetworkHostTest, EvictClosesThePeerWithEvicted) {
  const auto a = Login(1, "alice");
  auto evicted =
      host_->Evict(*SessionId::Parse(a.session_id()), "cheating, ticket 12");
  ASSERT_TRUE(evicted.ok()) << evicted.status();
  EXPECT_EQ(evicted->transition.reason, CloseReason::kEvicted);
  Received r = Take(1);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].disconnect().reason(), "evicted");
  EXPECT_EQ(r.messages[0].disconnect().detail(), "cheating, ticket 12");
  EXPECT_EQ(r.close_reason, "evicted");
  EXPECT_TRUE(absl::IsNotFound(
      host_->Evict(*SessionId::Parse(a.session_id()), "again").status()));
}

TEST_F(ServerNetworkHostTest, GoodbyeClosesTheSession) {
  const auto a = Login(1, "alice");
  ClientMessage goodbye;
  goodbye.mutable_goodbye();
  Send(1, goodbye);
  EXPECT_EQ(StateOf(a.session_id()), SessionState::kClosed);
  Received r = Take(1);
  EXPECT_THAT(r.messages, IsEmpty());
  EXPECT_EQ(r.close_reason, "goodbye");
  EXPECT_EQ(metrics_->ClosedCount(CloseReason::kTransportClosed), 1);
}

TEST_F(ServerNetworkHostTest, DrainTellsPeersAndRefusesLoginsAndLinks) {
  Login(1, "alice");
  Connect(2);
  host_->BeginDrain();
  EXPECT_TRUE(host_->draining());
  for (uint64_t connection : {1, 2}) {
    Received r = Take(connection);
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].disconnect().reason(), "draining");
    EXPECT_EQ(r.close_reason, "draining");
  }
  Connect(3);
  Send(3, LoginMessage("bob"));
  Received r = Take(3);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].login_rejected().reason(), "draining");
  EXPECT_EQ(r.close_reason, "login_failed");

  link::v1::Hello hello;
  hello.set_gateway_id(99);
  EXPECT_TRUE(absl::IsUnavailable(
      host_->AttachGateway(hello, std::make_shared<FakeSink>()).status()));

  // The gateway does not report closes the service asked for: the drain
  // itself takes the sessions off their connections, so no player is left
  // live and alice is held for a resume until the runtime stops.
  EXPECT_TRUE(host_->WaitForPlayersGone(absl::Now()));
  const std::optional<SessionSnapshot> alice =
      host_->sessions().FindByPlayer("alice");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->state, SessionState::kReconnecting);
  EXPECT_FALSE(alice->remote.has_value());
}

TEST_F(ServerNetworkHostTest, ClearClosesEverySessionAndTellsThePeers) {
  Login(1, "alice");
  Login(2, "bob");
  Connect(3);
  Login(4, "carol");
  Closed(4, false);  // Reconnecting: no connection to tell.
  EXPECT_EQ(host_->Clear(), 4u);
  EXPECT_EQ(host_->sessions().size(), 0u);
  for (uint64_t connection : {1, 2, 3}) {
    Received r = Take(connection);
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].disconnect().reason(), "server_shutdown");
    EXPECT_EQ(r.close_reason, "server_shutdown");
  }
  EXPECT_THAT(Take(4).messages, IsEmpty());
  EXPECT_EQ(metrics_->ClosedCount(CloseReason::kServerShutdown), 4);
}

TEST_F(ServerNetworkHostTest, QuiescedHostIgnoresEvents) {
  host_->Quiesce();
  Connect(1);
  EXPECT_EQ(host_->sessions().size(), 0u);
  link::v1::Hello hello;
  hello.set_gateway_id(5);
  EXPECT_TRUE(absl::IsUnavailable(
      host_->AttachGateway(hello, std::make_shared<FakeSink>()).status()));
}

TEST_F(ServerNetworkHostTest, DetachingTheOnlyGatewayHoldsItsSessions) {
  Login(1, "alice");
  Detach(kGateway);
  EXPECT_EQ(host_->gateways_attached(), 0u);
  const auto lost = host_->sessions().List({});
  ASSERT_EQ(lost.sessions.size(), 1u);
  EXPECT_EQ(lost.sessions[0].state, SessionState::kReconnecting);
}

}  // namespace
}  // namespace gss
