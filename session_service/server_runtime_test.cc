#include "session_service/server_runtime.h"

#include <arpa/inet.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gss/link/v1/link.grpc.pb.h"
#include "gss/ops/v1/ops.grpc.pb.h"
#include "gtest/gtest.h"
#include "session_service/ops_service.h"

namespace gss {
namespace {

using game::v1::ClientMessage;
using game::v1::ServerMessage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// Every blocking call in these tests carries this deadline, so a bug shows as
// a failure rather than a hang.
constexpr absl::Duration kCallDeadline = absl::Seconds(20);

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
}

std::shared_ptr<grpc::Channel> Channel(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureChannelCredentials());
}

// A gateway on the far side of one Attach stream.
class FakeGateway {
 public:
  FakeGateway(int port, uint32_t gateway_id,
              const std::vector<uint64_t>& peers = {})
      : stub_(link::v1::GatewayLink::NewStub(Channel(port))) {
    SetDeadline(&context_);
    stream_ = stub_->Attach(&context_);
    link::v1::GatewayMessage hello;
    hello.mutable_hello()->set_gateway_id(gateway_id);
    hello.mutable_hello()->set_gateway_name("fake");
    hello.mutable_hello()->set_incarnation(42);
    for (uint64_t connection : peers) {
      link::v1::Peer* peer = hello.mutable_hello()->add_peers();
      peer->set_connection_id(connection);
      peer->set_address("127.0.0.1:9999");
    }
    EXPECT_TRUE(stream_->Write(hello));
    link::v1::ServiceMessage reply;
    EXPECT_TRUE(stream_->Read(&reply));
    EXPECT_TRUE(reply.has_hello_ack());
    ack_ = reply.hello_ack();
  }

  const link::v1::HelloAck& ack() const { return ack_; }

  void Connect(uint64_t connection) {
    link::v1::GatewayMessage message;
    link::v1::PeerEvent* event = message.mutable_events()->add_events();
    event->set_connection_id(connection);
    event->mutable_connected()->mutable_peer()->set_connection_id(connection);
    event->mutable_connected()->mutable_peer()->set_address("127.0.0.1:9999");
    ASSERT_TRUE(stream_->Write(message));
  }

  void SendEvent(const link::v1::PeerEvent& event) {
    link::v1::GatewayMessage message;
    *message.mutable_events()->add_events() = event;
    ASSERT_TRUE(stream_->Write(message));
  }

  void Send(uint64_t connection, const ClientMessage& client_message) {
    link::v1::GatewayMessage message;
    link::v1::PeerEvent* event = message.mutable_events()->add_events();
    event->set_connection_id(connection);
    event->set_message(client_message.SerializeAsString());
    ASSERT_TRUE(stream_->Write(message));
  }

  // A liveness report alone: heartbeats of `connections` answered at the
  // gateway.
  void Report(uint64_t report_id, const std::vector<uint64_t>& connections) {
    link::v1::GatewayMessage message;
    link::v1::LivenessReport* report =
        message.mutable_events()->mutable_liveness();
    report->set_report_id(report_id);
    for (uint64_t connection : connections) {
      report->add_connection_ids(connection);
      report->add_rtt_us(-1);
    }
    ASSERT_TRUE(stream_->Write(message));
  }

  // Reads until a batch acknowledges a liveness report; its report id, or
  // nullopt when the stream ended first. Commands read on the way are kept.
  std::optional<uint64_t> NextLivenessApplied() {
    for (;;) {
      link::v1::ServiceMessage message;
      if (!ReadOne(message)) return std::nullopt;
      if (message.commands().liveness_applied() != 0) {
        return message.commands().liveness_applied();
      }
    }
  }

  // The next command for `connection`, reading the stream as needed; nullopt
  // when the stream ended first.
  std::optional<link::v1::PeerCommand> Next(uint64_t connection) {
    while (pending_[connection].empty()) {
      link::v1::ServiceMessage message;
      if (!ReadOne(message)) return std::nullopt;
    }
    link::v1::PeerCommand command = pending_[connection].front();
    pending_[connection].pop_front();
    return command;
  }

  // Reads one message, keeping its commands for Next().
  bool ReadOne(link::v1::ServiceMessage& message) {
    if (!stream_->Read(&message)) return false;
    for (const link::v1::PeerCommand& command : message.commands().commands()) {
      pending_[command.connection_id()].push_back(command);
    }
    return true;
  }

  // The message a command carries (deliver, or a close's final message).
  ServerMessage NextMessage(uint64_t connection) {
    std::optional<link::v1::PeerCommand> command = Next(connection);
    EXPECT_TRUE(command.has_value()) << "the link ended";
    ServerMessage message;
    if (!command) return message;
    EXPECT_TRUE(message.ParseFromString(
        command->has_deliver() ? command->deliver()
                               : command->close().final_message()));
    return message;
  }

  // A ping answered: every event sent before it on this stream is applied.
  void RoundTrip(uint64_t connection) {
    ClientMessage ping;
    ping.mutable_ping()->set_client_time_us(1);
    Send(connection, ping);
    EXPECT_TRUE(NextMessage(connection).has_pong());
  }

  game::v1::Welcome Login(uint64_t connection, const std::string& name) {
    Connect(connection);
    ClientMessage login;
    login.mutable_login()->set_credential(name);
    Send(connection, login);
    ServerMessage reply = NextMessage(connection);
    EXPECT_TRUE(reply.has_welcome()) << reply.DebugString();
    return reply.welcome();
  }

  // Reads to the end of the stream; returns its status.
  grpc::Status Finish() {
    link::v1::ServiceMessage message;
    while (stream_->Read(&message)) {
    }
    return stream_->Finish();
  }

  void Cancel() { context_.TryCancel(); }

 private:
  std::unique_ptr<link::v1::GatewayLink::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<link::v1::GatewayMessage,
                                           link::v1::ServiceMessage>>
      stream_;
  link::v1::HelloAck ack_;
  std::map<uint64_t, std::deque<link::v1::PeerCommand>> pending_;
};

class ServerRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(/*metrics=*/false); }

  void Start(bool metrics) {
    RuntimeOptions options;
    options.link_address = "127.0.0.1:0";
    options.ops_address = "127.0.0.1:0";
    options.metrics_address = metrics ? "127.0.0.1:0" : "";
    auto runtime = ServerRuntime::Create(options);
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    runtime_ = *std::move(runtime);
    ASSERT_TRUE(runtime_->Start().ok());
    ASSERT_NE(runtime_->link_port(), 0);
    ASSERT_NE(runtime_->ops_port(), 0);
    ops_ = ops::v1::SessionInspection::NewStub(Channel(runtime_->ops_port()));
  }

  grpc::Status GetSession(const ops::v1::GetSessionRequest& request,
                          ops::v1::Session* session) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return ops_->GetSession(&context, request, session);
  }

  grpc::Status List(const ops::v1::ListSessionsRequest& request,
                    ops::v1::ListSessionsResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return ops_->ListSessions(&context, request, response);
  }

  grpc::Status Evict(const std::string& session_id,
                     ops::v1::EvictSessionResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    ops::v1::EvictSessionRequest request;
    request.set_session_id(session_id);
    request.set_reason("test eviction");
    return ops_->EvictSession(&context, request, response);
  }

  grpc::health::v1::HealthCheckResponse::ServingStatus Health(
      int port, const std::string& service) {
    auto stub = grpc::health::v1::Health::NewStub(Channel(port));
    grpc::ClientContext context;
    SetDeadline(&context);
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  }

  std::unique_ptr<ServerRuntime> runtime_;
  std::unique_ptr<ops::v1::SessionInspection::Stub> ops_;
};

// The runtime owns the timer: a deadline fires with nobody calling
// AdvanceTime, as soon as the clock has passed it.
TEST(ServerRuntimeTimerTest, DeadlinesFireOnTheirOwn) {
  ManualClock clock(absl::Now());
  RuntimeOptions options;
  options.link_address = "127.0.0.1:0";
  options.ops_address = "127.0.0.1:0";
  options.metrics_address = "";
  options.clock = &clock;
  options.host.sessions.policy.login_timeout = absl::Milliseconds(100);
  options.host.advance_interval = absl::Milliseconds(5);
  absl::StatusOr<std::unique_ptr<ServerRuntime>> runtime =
      ServerRuntime::Create(options);
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  ASSERT_TRUE((*runtime)->Start().ok());
  FakeGateway gateway((*runtime)->link_port(), 1);
  gateway.Connect(1);
  // The login deadline counts from the connect: advance only once it is in.
  MultiSessionManager& sessions = (*runtime)->host().sessions();
  const absl::Time give_up = absl::Now() + kCallDeadline;
  while (sessions.size() != 1 && absl::Now() < give_up) {
    // Nothing signals this mutex: each wait re-checks after 5 ms.
    absl::Mutex mu;
    absl::MutexLock lock(&mu);
    mu.AwaitWithTimeout(
        absl::Condition(
            +[](MultiSessionManager* manager) { return manager->size() == 1; },
            &sessions),
        absl::Milliseconds(5));
  }
  ASSERT_EQ(sessions.size(), 1u);
  clock.Advance(absl::Seconds(1));
  std::optional<link::v1::PeerCommand> close = gateway.Next(1);
  ASSERT_TRUE(close.has_value());
  ASSERT_TRUE(close->has_close()) << close->ShortDebugString();
  EXPECT_EQ(close->close().reason(), "timed_out");
  EXPECT_EQ(sessions.size(), 0u);
}

TEST(OpsStateConversionTest, EveryStateRoundTripsAndOthersAreRefused) {
  for (int s = 0; s < kSessionStateCount; ++s) {
    const auto state = static_cast<SessionState>(s);
    const ops::v1::SessionState proto = ToProto(state);
    EXPECT_NE(proto, ops::v1::SESSION_STATE_UNSPECIFIED);
    EXPECT_EQ(ops::v1::SessionState_Name(proto),
              absl::StrCat("SESSION_STATE_",
                           absl::AsciiStrToUpper(SessionStateName(state))));
    EXPECT_EQ(FromProto(proto), state);
  }
  EXPECT_EQ(FromProto(ops::v1::SESSION_STATE_UNSPECIFIED), std::nullopt);
  EXPECT_EQ(FromProto(ops::v1::SessionState_MAX + 1), std::nullopt);
  EXPECT_EQ(FromProto(-1), std::nullopt);
}

TEST_F(ServerRuntimeTest, StartExposesTheHostAndItsManager) {
  EXPECT_EQ(runtime_->host().sessions().size(), 0u);
  EXPECT_EQ(runtime_->instance_id().size(), 32u);
  grpc::ClientContext context;
  SetDeadline(&context);
  ops::v1::ServerInfo info;
  ASSERT_TRUE(
      ops_->GetServerInfo(&context, ops::v1::GetServerInfoRequest(), &info)
          .ok());
  EXPECT_EQ(info.instance_id(), runtime_->instance_id());
  EXPECT_EQ(info.version(), GSS_VERSION);
  EXPECT_FALSE(info.draining());
  EXPECT_EQ(info.gateways_attached(), 0u);
  EXPECT_EQ(info.sessions_by_state().at("active"), 0);
  EXPECT_GT(info.started_at().seconds(), 0);
  EXPECT_FALSE(runtime_->Start().ok());  // Once only.
}

TEST_F(ServerRuntimeTest, InstanceIdChangesOnEveryStart) {
  const std::string first = runtime_->instance_id();
  Start(false);
  EXPECT_NE(runtime_->instance_id(), first);
}

TEST_F(ServerRuntimeTest, GatewayLinkCarriesLoginAndGameplay) {
  FakeGateway gateway(runtime_->link_port(), 3);
  EXPECT_EQ(gateway.ack().instance_id(), runtime_->instance_id());
  EXPECT_EQ(gateway.ack().version(), GSS_VERSION);
  const auto welcome = gateway.Login(1, "alice");
  EXPECT_EQ(welcome.server_info().instance_id(), runtime_->instance_id());
  ClientMessage ping;
  ping.mutable_ping()->set_client_time_us(77);
  gateway.Send(1, ping);
  EXPECT_EQ(gateway.NextMessage(1).pong().client_time_us(), 77);
  ClientMessage move;
  move.mutable_move()->set_tick(welcome.server_tick() + 1);
  move.mutable_move()->set_dx(0);
  gateway.Send(1, move);
  EXPECT_TRUE(gateway.NextMessage(1).has_move_result());
  gateway.Send(1, ClientMessage());  // No body: malformed.
  EXPECT_EQ(gateway.NextMessage(1).input_rejected().reason(), "malformed");
  EXPECT_EQ(runtime_->host().gateways_attached(), 1u);
}

TEST_F(ServerRuntimeTest, LivenessReportsAreAppliedAndAcknowledged) {
  FakeGateway gateway(runtime_->link_port(), 3);
  const auto welcome = gateway.Login(1, "alice");
  // Id 0 names no report: applied, but there is nothing to acknowledge.
  gateway.Report(0, {1});
  gateway.Report(1, {1});
  gateway.Report(2, {1, 99});
  std::optional<uint64_t> applied = gateway.NextLivenessApplied();
  ASSERT_TRUE(applied.has_value());
  EXPECT_GE(*applied, 1u);
  if (*applied == 1) EXPECT_EQ(gateway.NextLivenessApplied(), 2u);
  // The stream carries on as before.
  gateway.RoundTrip(1);
  EXPECT_EQ(runtime_->metrics().HeartbeatCount(/*answered_by_gateway=*/true),
            3);
}

TEST_F(ServerRuntimeTest, LinkMustStartWithHello) {
  auto stub = link::v1::GatewayLink::NewStub(Channel(runtime_->link_port()));
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = stub->Attach(&context);
  link::v1::GatewayMessage events;
  events.mutable_events();
  ASSERT_TRUE(stream->Write(events));
  stream->WritesDone();
  link::v1::ServiceMessage reply;
  EXPECT_FALSE(stream->Read(&reply));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerRuntimeTest, GetSessionByEveryKeyAndItsErrors) {
  FakeGateway gateway(runtime_->link_port(), 3);
  const auto alice = gateway.Login(1, "alice");
  ops::v1::Session session;
  ops::v1::GetSessionRequest request;

  request.set_session_id(alice.session_id());
  ASSERT_TRUE(GetSession(request, &session).ok());
  EXPECT_EQ(session.player_id(), "alice");
  EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);
  EXPECT_EQ(session.remote().gateway_id(), 3u);
  EXPECT_EQ(session.remote().connection_id(), 1u);
  EXPECT_EQ(session.remote().address(), "127.0.0.1:9999");
  EXPECT_EQ(session.health(), 100);
  EXPECT_THAT(session.permissions(), SizeIs(2));

  request.set_player_id("alice");
  ASSERT_TRUE(GetSession(request, &session).ok());
  EXPECT_EQ(session.session_id(), alice.session_id());

  request.mutable_remote()->set_gateway_id(3);
  request.mutable_remote()->set_connection_id(1);
  ASSERT_TRUE(GetSession(request, &session).ok());
  EXPECT_EQ(session.session_id(), alice.session_id());

  request.set_player_id("nobody");
  EXPECT_EQ(GetSession(request, &session).error_code(),
            grpc::StatusCode::NOT_FOUND);
  request.set_session_id("0001000000000fff");
  EXPECT_EQ(GetSession(request, &session).error_code(),
            grpc::StatusCode::NOT_FOUND);
  request.set_session_id("xyz");
  EXPECT_EQ(GetSession(request, &session).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetSession(ops::v1::GetSessionRequest(), &session).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerRuntimeTest, ListSessionsPagesAndFilters) {
  FakeGateway gateway(runtime_->link_port(), 3);
  gateway.Login(1, "alice");
  gateway.Login(2, "bob");
  gateway.Connect(3);  // Authenticating.
  gateway.RoundTrip(3);

  ops::v1::ListSessionsRequest request;
  request.set_page_size(2);
  ops::v1::ListSessionsResponse page;
  ASSERT_TRUE(List(request, &page).ok());
  ASSERT_EQ(page.sessions_size(), 2);
  ASSERT_FALSE(page.next_page_token().empty());
  request.set_page_token(page.next_page_token());
  ops::v1::ListSessionsResponse second;
  ASSERT_TRUE(List(request, &second).ok());
  ASSERT_EQ(second.sessions_size(), 1);
  EXPECT_TRUE(second.next_page_token().empty());
  EXPECT_LT(page.sessions(1).session_id(), second.sessions(0).session_id());

  ops::v1::ListSessionsRequest active;
  active.add_states(ops::v1::SESSION_STATE_ACTIVE);
  ops::v1::ListSessionsResponse actives;
  ASSERT_TRUE(List(active, &actives).ok());
  EXPECT_EQ(actives.sessions_size(), 2);

  ops::v1::ListSessionsRequest other_gateway;
  other_gateway.set_gateway_id(4);
  ops::v1::ListSessionsResponse none;
  ASSERT_TRUE(List(other_gateway, &none).ok());
  EXPECT_EQ(none.sessions_size(), 0);

  ops::v1::ListSessionsRequest bad;
  bad.set_page_token("not-a-token");
  EXPECT_EQ(List(bad, &none).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bad.Clear();
  bad.set_page_size(1001);
  EXPECT_EQ(List(bad, &none).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bad.Clear();
  bad.add_states(ops::v1::SESSION_STATE_UNSPECIFIED);
  EXPECT_EQ(List(bad, &none).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerRuntimeTest, WatchStartsWithASnapshotThenFollowsTransitions) {
  FakeGateway gateway(runtime_->link_port(), 3);
  const auto alice = gateway.Login(1, "alice");
  const auto bob = gateway.Login(2, "bob");

  grpc::ClientContext context;
  SetDeadline(&context);
  ops::v1::WatchSessionsRequest request;
  request.set_include_snapshot(true);
  auto watch = ops_->WatchSessions(&context, request);
  ops::v1::WatchSessionsResponse event;
  std::vector<std::string> snapshot;
  while (watch->Read(&event) && event.has_snapshot()) {
    snapshot.push_back(event.snapshot().session_id());
  }
  EXPECT_THAT(snapshot, ::testing::UnorderedElementsAre(alice.session_id(),
                                                        bob.session_id()));
  ASSERT_TRUE(event.snapshot_done());

  ops::v1::EvictSessionResponse evicted;
  ASSERT_TRUE(Evict(bob.session_id(), &evicted).ok());
  EXPECT_EQ(evicted.transition().to(), ops::v1::SESSION_STATE_CLOSED);
  EXPECT_EQ(evicted.transition().close_reason(), "evicted");
  ASSERT_TRUE(watch->Read(&event));
  ASSERT_TRUE(event.has_transition()) << event.DebugString();
  EXPECT_EQ(event.transition().session_id(), bob.session_id());
  EXPECT_EQ(event.transition().from(), ops::v1::SESSION_STATE_ACTIVE);
  EXPECT_EQ(event.transition().to(), ops::v1::SESSION_STATE_CLOSED);
  EXPECT_EQ(event.transition().cause(), "evict");
  EXPECT_EQ(event.transition().close_reason(), "evicted");
  EXPECT_EQ(event.transition().player_id(), "bob");

  // The evicted peer is told and closed.
  std::optional<link::v1::PeerCommand> close = gateway.Next(2);
  ASSERT_TRUE(close.has_value());
  ASSERT_TRUE(close->has_close());
  EXPECT_EQ(close->close().reason(), "evicted");
  ServerMessage disconnect;
  ASSERT_TRUE(disconnect.ParseFromString(close->close().final_message()));
  EXPECT_EQ(disconnect.disconnect().reason(), "evicted");
  EXPECT_EQ(disconnect.disconnect().detail(), "test eviction");

  context.TryCancel();
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(ServerRuntimeTest, WatchOneSessionEndsWhenItCloses) {
  FakeGateway gateway(runtime_->link_port(), 3);
  const auto alice = gateway.Login(1, "alice");
  const auto bob = gateway.Login(2, "bob");
  grpc::ClientContext context;
  SetDeadline(&context);
  ops::v1::WatchSessionsRequest request;
  request.set_session_id(alice.session_id());
  request.set_include_snapshot(true);
  auto watch = ops_->WatchSessions(&context, request);
  ops::v1::WatchSessionsResponse event;
  // The snapshot arrives after the subscription exists, so nothing that
  // follows can be missed.
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(event.snapshot().session_id(), alice.session_id());
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_TRUE(event.snapshot_done());

  ops::v1::EvictSessionResponse evicted;
  ASSERT_TRUE(Evict(bob.session_id(), &evicted).ok());  // Not watched.
  ASSERT_TRUE(Evict(alice.session_id(), &evicted).ok());
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(event.transition().session_id(), alice.session_id());
  EXPECT_EQ(event.transition().close_reason(), "evicted");
  EXPECT_FALSE(watch->Read(&event));
  EXPECT_TRUE(watch->Finish().ok());
}

TEST_F(ServerRuntimeTest, WatchAndEvictRejectBadIds) {
  grpc::ClientContext context;
  SetDeadline(&context);
  ops::v1::WatchSessionsRequest request;
  request.set_session_id("nope");
  auto watch = ops_->WatchSessions(&context, request);
  ops::v1::WatchSessionsResponse event;
  EXPECT_FALSE(watch->Read(&event));
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext unknown_context;
  SetDeadline(&unknown_context);
  request.set_session_id("0001000000000fff");
  auto unknown = ops_->WatchSessions(&unknown_context, request);
  EXPECT_FALSE(unknown->Read(&event));
  EXPECT_EQ(unknown->Finish().error_code(), grpc::StatusCode::NOT_FOUND);

  ops::v1::EvictSessionResponse response;
  EXPECT_EQ(Evict("0001000000000fff", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Evict("zz", &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerRuntimeTest, HealthServesUntilDrainAndPeersAreTold) {
  using Status = grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(Health(runtime_->ops_port(), ""), Status::SERVING);
  EXPECT_EQ(Health(runtime_->ops_port(), "gss.ops.v1.SessionInspection"),
            Status::SERVING);
  EXPECT_EQ(Health(runtime_->link_port(), "gss.link.v1.GatewayLink"),
            Status::SERVING);
  FakeGateway gateway(runtime_->link_port(), 3);
  gateway.Login(1, "alice");

  runtime_->BeginDrain();
  EXPECT_EQ(Health(runtime_->ops_port(), ""), Status::NOT_SERVING);
  EXPECT_EQ(Health(runtime_->ops_port(), "gss.ops.v1.SessionInspection"),
            Status::NOT_SERVING);
  EXPECT_EQ(Health(runtime_->link_port(), ""), Status::NOT_SERVING);
  ServerMessage told = gateway.NextMessage(1);
  EXPECT_EQ(told.disconnect().reason(), "draining");

  grpc::ClientContext context;
  SetDeadline(&context);
  ops::v1::ServerInfo info;
  ASSERT_TRUE(ops_->GetServerInfo(&context, {}, &info).ok());
  EXPECT_TRUE(info.draining());
}

// The reflection service, spoken in raw protobuf bytes: the tests cannot
// link their own copy of reflection.proto next to gRPC's.
std::string ListServicesByReflection(int port) {
  grpc::GenericStub stub(Channel(port));
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::CompletionQueue queue;
  auto call = stub.PrepareCall(
      &context,
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](intptr_t expected) {
    EXPECT_TRUE(queue.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), expected);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  std::string result;
  if (step(1)) {
    // ServerReflectionRequest{list_services: ""}: field 7, length 0.
    const std::string request("\x3a\x00", 2);
    grpc::Slice slice(request);
    grpc::ByteBuffer buffer(&slice, 1);
    call->Write(buffer, reinterpret_cast<void*>(2));
    step(2);
    grpc::ByteBuffer response;
    call->Read(&response, reinterpret_cast<void*>(3));
    if (step(3)) {
      std::vector<grpc::Slice> slices;
      EXPECT_TRUE(response.Dump(&slices).ok());
      for (const grpc::Slice& s : slices) {
        result.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    call->WritesDone(reinterpret_cast<void*>(4));
    step(4);
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  EXPECT_TRUE(status.ok()) << status.error_message();
  return result;
}

TEST_F(ServerRuntimeTest, ReflectionListsTheServices) {
  const std::string ops = ListServicesByReflection(runtime_->ops_port());
  EXPECT_THAT(ops, HasSubstr("gss.ops.v1.SessionInspection"));
  EXPECT_THAT(ops, HasSubstr("grpc.health.v1.Health"));
  const std::string link = ListServicesByReflection(runtime_->link_port());
  EXPECT_THAT(link, HasSubstr("gss.link.v1.GatewayLink"));
}

TEST_F(ServerRuntimeTest, LostLinkHoldsSessionsForResumeAfterHello) {
  auto gateway = std::make_unique<FakeGateway>(runtime_->link_port(), 3);
  const auto alice = gateway->Login(1, "alice");

  grpc::ClientContext context;
  SetDeadline(&context);
  ops::v1::WatchSessionsRequest request;
  request.set_session_id(alice.session_id());
  request.set_include_snapshot(true);
  auto watch = ops_->WatchSessions(&context, request);
  ops::v1::WatchSessionsResponse event;
  ASSERT_TRUE(watch->Read(&event));  // Snapshot.
  ASSERT_TRUE(watch->Read(&event));  // Done.

  gateway->Cancel();
  gateway->Finish();
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(event.transition().to(), ops::v1::SESSION_STATE_RECONNECTING);
  EXPECT_EQ(event.transition().cause(), "transport_lost");
  auto snapshot = runtime_->host().sessions().FindBySession(
      *SessionId::Parse(alice.session_id()));
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_FALSE(snapshot->remote.has_value());

  // The gateway comes back still holding connection 1: the service no longer
  // has a session bound to it, says so, and the client resumes on it.
  FakeGateway again(runtime_->link_port(), 3, {1});
  EXPECT_THAT(again.ack().unknown_connection_ids(), ElementsAre(1u));
  EXPECT_EQ(again.NextMessage(1).disconnect().reason(), "session_unknown");
  ClientMessage resume;
  resume.mutable_resume()->set_resume_token(alice.resume_token());
  again.Send(1, resume);
  ServerMessage welcome = again.NextMessage(1);
  ASSERT_TRUE(welcome.has_welcome()) << welcome.DebugString();
  EXPECT_TRUE(welcome.welcome().resumed());
  EXPECT_EQ(welcome.welcome().session_id(), alice.session_id());
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(event.transition().to(), ops::v1::SESSION_STATE_ACTIVE);
  context.TryCancel();
  watch->Finish();
}

TEST_F(ServerRuntimeTest, StopClearsEverySessionAndTellsThePeers) {
  FakeGateway gateway(runtime_->link_port(), 3);
  gateway.Login(1, "alice");
  gateway.Login(2, "bob");
  ASSERT_EQ(runtime_->host().sessions().size(), 2u);
  runtime_->Stop();
  EXPECT_EQ(runtime_->host().sessions().size(), 0u);
  for (uint64_t connection : {1, 2}) {
    std::optional<link::v1::PeerCommand> command = gateway.Next(connection);
    ASSERT_TRUE(command.has_value());
    ASSERT_TRUE(command->has_close());
    EXPECT_EQ(command->close().reason(), "server_shutdown");
    ServerMessage message;
    ASSERT_TRUE(message.ParseFromString(command->close().final_message()));
    EXPECT_EQ(message.disconnect().reason(), "server_shutdown");
  }
  EXPECT_FALSE(gateway.Finish().ok());
  runtime_->Stop();  // Idempotent.
}

// The gateway does not report closes the service asked for, so the drain
// takes each session off its connection itself and ends at once.
TEST_F(ServerRuntimeTest, DrainClosesThePlayersAndEndsWithoutWaiting) {
  FakeGateway gateway(runtime_->link_port(), 3);
  gateway.Login(1, "alice");
  const absl::Duration deadline = absl::Seconds(20);
  const absl::Time start = absl::Now();
  std::thread drain([&] { runtime_->Drain(deadline); });
  std::optional<link::v1::PeerCommand> close = gateway.Next(1);
  ASSERT_TRUE(close.has_value());
  EXPECT_EQ(close->close().reason(), "draining");
  EXPECT_FALSE(gateway.Finish().ok());  // The service ends the stream.
  drain.join();
  // Well before the half-deadline wait for players would have run out.
  EXPECT_LT(absl::Now() - start, deadline / 2);
  EXPECT_EQ(runtime_->host().sessions().size(), 0u);
}

std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
      0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: localhost\r\n\r\n");
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0)
        response.append(buffer, n);
    }
  }
  close(fd);
  return response;
}

TEST_F(ServerRuntimeTest, MetricsAreScrapedOverHttp) {
  Start(/*metrics=*/true);
  ASSERT_NE(runtime_->metrics_port(), 0);
  FakeGateway gateway(runtime_->link_port(), 3);
  gateway.Login(1, "alice");
  const std::string body = HttpGet(runtime_->metrics_port(), "/metrics");
  EXPECT_THAT(body, HasSubstr("gss_sessions{state=\"active\"} 1"));
  EXPECT_THAT(body, HasSubstr("gss_logins_total{outcome=\"accepted\"} 1"));
  EXPECT_THAT(body, HasSubstr("gss_link_attaches_total 1"));
  EXPECT_THAT(body, HasSubstr("gss_heartbeat_rtt_seconds_bucket"));
  EXPECT_THAT(
      body, HasSubstr("gss_session_transitions_total{cause=\"login_succeeded\""
                      ",from=\"authenticating\",to=\"active\"} 1"));
  EXPECT_THAT(body, ::testing::Not(HasSubstr("alice")));
}

TEST(ServerRuntimeCreateTest, RefusesInvalidOptions) {
  RuntimeOptions options;
  options.host.sessions.policy.liveness_timeout = absl::Seconds(1);
  EXPECT_FALSE(ServerRuntime::Create(options).ok());
  RuntimeOptions no_address;
  no_address.link_address = "";
  EXPECT_FALSE(ServerRuntime::Create(no_address).ok());
}

TEST(ServerRuntimeCreateTest, StartFailsOnAnAddressInUse) {
  RuntimeOptions options;
  options.link_address = "127.0.0.1:0";
  options.ops_address = "127.0.0.1:0";
  options.metrics_address = "";
  auto first = ServerRuntime::Create(options);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->Start().ok());
  options.link_address = absl::StrCat("127.0.0.1:", (*first)->link_port());
  auto second = ServerRuntime::Create(options);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE((*second)->Start().ok());
}

}  // namespace
}  // namespace gss
