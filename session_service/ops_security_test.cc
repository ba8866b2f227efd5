// The ops API's credentials end to end in one process: a real ServerRuntime
// on port 0 with a tokens table, plaintext, TLS and mTLS listeners, and real
// gRPC clients calling every method with and without the right credentials.
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "clients/ops_channel/ops_channel.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gss/link/v1/link.grpc.pb.h"
#include "gss/ops/v1/ops.grpc.pb.h"
#include "gtest/gtest.h"
#include "session_service/ops_auth.h"
#include "session_service/server_runtime.h"
#include "session_service/test_certs.h"

namespace gss {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr absl::Duration kCallDeadline = absl::Seconds(10);
constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
constexpr char kReaderToken[] = "reader-token-0123456789abcdef";
constexpr char kWrongToken[] = "wrong-token-0123456789abcdef";
constexpr char kSecondAdminToken[] = "second-admin-0123456789abcdef";

using StatusCode = grpc::StatusCode;
using HealthStatus = grpc::health::v1::HealthCheckResponse;

OpsTokenTable Tokens() {
  absl::StatusOr<OpsTokenTable> table = OpsTokenTable::Parse(
      absl::StrCat("admin alice ", kAdminToken, "\nreader bob ", kReaderToken,
                   "\nadmin zed ", kSecondAdminToken, "\n"));
  EXPECT_TRUE(table.ok()) << table.status();
  return *std::move(table);
}

// Collects audit lines from the runtime's threads.
class AuditRecorder {
 public:
  AuditLog Sink() {
    return [this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    };
  }
  std::vector<std::string> Lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// Logs one player in over the gateway link, as a gateway would.
class LinkPlayer {
 public:
  LinkPlayer(int link_port, const std::string& name)
      : stub_(link::v1::GatewayLink::NewStub(
            grpc::CreateChannel(absl::StrCat("127.0.0.1:", link_port),
                                grpc::InsecureChannelCredentials()))) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    stream_ = stub_->Attach(&context_);
    link::v1::GatewayMessage hello;
    hello.mutable_hello()->set_gateway_id(7);
    hello.mutable_hello()->set_gateway_name("test");
    EXPECT_TRUE(stream_->Write(hello));
    link::v1::ServiceMessage reply;
    EXPECT_TRUE(stream_->Read(&reply));

    link::v1::GatewayMessage connect;
    link::v1::PeerEvent* event = connect.mutable_events()->add_events();
    event->set_connection_id(1);
    event->mutable_connected()->mutable_peer()->set_connection_id(1);
    event->mutable_connected()->mutable_peer()->set_address("127.0.0.1:9");
    EXPECT_TRUE(stream_->Write(connect));
    game::v1::ClientMessage login;
    login.mutable_login()->set_credential(name);
    link::v1::GatewayMessage message;
    link::v1::PeerEvent* login_event = message.mutable_events()->add_events();
    login_event->set_connection_id(1);
    login_event->set_message(login.SerializeAsString());
    EXPECT_TRUE(stream_->Write(message));
    while (session_id_.empty() && stream_->Read(&reply)) {
      for (const link::v1::PeerCommand& command : reply.commands().commands()) {
        game::v1::ServerMessage server_message;
        if (command.has_deliver() &&
            server_message.ParseFromString(command.deliver()) &&
            server_message.has_welcome()) {
          session_id_ = server_message.welcome().session_id();
        }
      }
    }
    EXPECT_FALSE(session_id_.empty());
  }
  ~LinkPlayer() { context_.TryCancel(); }

  const std::string& session_id() const { return session_id_; }

 private:
  std::unique_ptr<link::v1::GatewayLink::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<link::v1::GatewayMessage,
                                           link::v1::ServiceMessage>>
      stream_;
  std::string session_id_;
};

// One client of the ops listener with fixed credentials.
class Caller {
 public:
  Caller(int port, OpsClientOptions options)
      : token_(options.token),
        channel_(*CreateOpsChannel(absl::StrCat("127.0.0.1:", port), options)),
        ops_(ops::v1::SessionInspection::NewStub(channel_)),
        health_(grpc::health::v1::Health::NewStub(channel_)) {}

  // Later calls carry `token` (on the same channel and connection).
  void set_token(std::string token) { token_ = std::move(token); }

  grpc::Status GetSession(const std::string& session_id) {
    grpc::ClientContext context;
    Prepare(context);
    ops::v1::GetSessionRequest request;
    request.set_session_id(session_id);
    ops::v1::Session session;
    return ops_->GetSession(&context, request, &session);
  }
  grpc::Status ListSessions(int* count = nullptr) {
    grpc::ClientContext context;
    Prepare(context);
    ops::v1::ListSessionsResponse response;
    grpc::Status status =
        ops_->ListSessions(&context, ops::v1::ListSessionsRequest(), &response);
    if (count != nullptr) *count = response.sessions_size();
    return status;
  }
  // Opens a watch with a snapshot and reads until snapshot_done; the status
  // is the stream's when it ends first, else OK.
  grpc::Status WatchSessions() {
    grpc::ClientContext context;
    Prepare(context);
    ops::v1::WatchSessionsRequest request;
    request.set_include_snapshot(true);
    auto reader = ops_->WatchSessions(&context, request);
    ops::v1::WatchSessionsResponse response;
    while (reader->Read(&response)) {
      if (response.snapshot_done()) {
        context.TryCancel();
        reader->Finish();
        return grpc::Status::OK;
      }
    }
    return reader->Finish();
  }
  grpc::Status GetServerInfo() {
    grpc::ClientContext context;
    Prepare(context);
    ops::v1::ServerInfo info;
    return ops_->GetServerInfo(&context, ops::v1::GetServerInfoRequest(),
                               &info);
  }
  grpc::Status EvictSession(const std::string& session_id,
                            const std::string& reason = "test eviction") {
    grpc::ClientContext context;
    Prepare(context);
    ops::v1::EvictSessionRequest request;
    request.set_session_id(session_id);
    request.set_reason(reason);
    ops::v1::EvictSessionResponse response;
    return ops_->EvictSession(&context, request, &response);
  }
  // Health without the token, as a probe calls it.
  grpc::Status CheckHealth(HealthStatus::ServingStatus* serving = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = health_->Check(
        &context, grpc::health::v1::HealthCheckRequest(), &response);
    if (serving != nullptr) *serving = response.status();
    return status;
  }
  grpc::Status WatchHealth(HealthStatus::ServingStatus* first) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    auto reader =
        health_->Watch(&context, grpc::health::v1::HealthCheckRequest());
    grpc::health::v1::HealthCheckResponse response;
    if (reader->Read(&response)) {
      *first = response.status();
      context.TryCancel();
      reader->Finish();
      return grpc::Status::OK;
    }
    return reader->Finish();
  }
  // list_services over grpc.reflection.`version` (v1alpha or v1, whose
  // messages are the same on the wire); the listed names go to `names`.
  grpc::Status ListServicesByReflection(std::string* names,
                                        absl::string_view version = "v1alpha") {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    Prepare(context);
    grpc::CompletionQueue queue;
    auto call =
        stub.PrepareCall(&context,
                         absl::StrCat("/grpc.reflection.", version,
                                      ".ServerReflection/ServerReflectionInfo"),
                         &queue);
    void* tag = nullptr;
    bool ok = false;
    auto step = [&] { return queue.Next(&tag, &ok) && ok; };
    call->StartCall(nullptr);
    if (step()) {
      // ServerReflectionRequest{list_services: ""}: field 7, length 0.
      const std::string request("\x3a\x00", 2);
      grpc::Slice slice(request);
      grpc::ByteBuffer buffer(&slice, 1);
      call->Write(buffer, nullptr);
      if (step()) {
        grpc::ByteBuffer response;
        call->Read(&response, nullptr);
        if (step()) {
          std::vector<grpc::Slice> slices;
          (void)response.Dump(&slices);
          for (const grpc::Slice& s : slices) {
            names->append(reinterpret_cast<const char*>(s.begin()), s.size());
          }
        }
      }
      call->WritesDone(nullptr);
      step();
    }
    grpc::Status status;
    call->Finish(&status, nullptr);
    queue.Next(&tag, &ok);
    queue.Shutdown();
    while (queue.Next(&tag, &ok)) {
    }
    return status;
  }

 private:
  void Prepare(grpc::ClientContext& context) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    AddOpsToken(context, token_);
  }

  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ops::v1::SessionInspection::Stub> ops_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

class OpsSecurityTest : public ::testing::Test {
 protected:
  void Start(std::shared_ptr<const OpsAuthorizer> authorizer,
             OpsTlsOptions tls = {}) {
    RuntimeOptions options;
    options.link_address = "127.0.0.1:0";
    options.ops_address = "127.0.0.1:0";
    options.metrics_address = "";
    options.ops_authorizer = std::move(authorizer);
    options.ops_tls = std::move(tls);
    options.audit_log = audit_.Sink();
    absl::StatusOr<std::unique_ptr<ServerRuntime>> runtime =
        ServerRuntime::Create(std::move(options));
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    runtime_ = *std::move(runtime);
    ASSERT_TRUE(runtime_->Start().ok());
  }

  Caller Plain(const std::string& token) {
    return Caller(runtime_->ops_port(), OpsClientOptions{.token = token});
  }

  // Every ops method (evicting `session_id`) with the same caller.
  std::vector<StatusCode> CallEveryMethod(Caller& caller,
                                          const std::string& session_id) {
    return {caller.GetSession(session_id).error_code(),
            caller.ListSessions().error_code(),
            caller.WatchSessions().error_code(),
            caller.GetServerInfo().error_code(),
            caller.EvictSession(session_id).error_code()};
  }

  AuditRecorder audit_;
  std::unique_ptr<ServerRuntime> runtime_;
};

TEST_F(OpsSecurityTest, NoCredentialsAreUnauthenticatedOnEveryMethod) {
  Start(OpsAuthorizer::WithTokens(Tokens()));
  LinkPlayer player(runtime_->link_port(), "alice");
  Caller caller = Plain("");
  const StatusCode unauthenticated = StatusCode::UNAUTHENTICATED;
  EXPECT_THAT(CallEveryMethod(caller, player.session_id()),
              ElementsAre(unauthenticated, unauthenticated, unauthenticated,
                          unauthenticated, unauthenticated));
  const grpc::Status status = caller.GetServerInfo();
  EXPECT_THAT(status.error_message(), HasSubstr("authorization: Bearer"));
  EXPECT_EQ(runtime_->host().sessions().size(), 1u);  // Not evicted.
  EXPECT_THAT(audit_.Lines(), IsEmpty());
}

TEST_F(OpsSecurityTest, AWrongTokenIsUnauthenticatedOnEveryMethod) {
  Start(OpsAuthorizer::WithTokens(Tokens()));
  LinkPlayer player(runtime_->link_port(), "alice");
  Caller caller = Plain(kWrongToken);
  const StatusCode unauthenticated = StatusCode::UNAUTHENTICATED;
  EXPECT_THAT(CallEveryMethod(caller, player.session_id()),
              ElementsAre(unauthenticated, unauthenticated, unauthenticated,
                          unauthenticated, unauthenticated));
  EXPECT_EQ(caller.GetServerInfo().error_message(), "unknown ops token");
  EXPECT_EQ(runtime_->host().sessions().size(), 1u);
}

TEST_F(OpsSecurityTest, AReaderMayLookButEvictingIsDenied) {
  Start(OpsAuthorizer::WithTokens(Tokens()));
  LinkPlayer player(runtime_->link_port(), "alice");
  Caller reader = Plain(kReaderToken);
  EXPECT_TRUE(reader.GetSession(player.session_id()).ok());
  int listed = 0;
  EXPECT_TRUE(reader.ListSessions(&listed).ok());
  EXPECT_EQ(listed, 1);
  EXPECT_TRUE(reader.WatchSessions().ok());
  EXPECT_TRUE(reader.GetServerInfo().ok());

  const grpc::Status evict = reader.EvictSession(player.session_id());
  EXPECT_EQ(evict.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(evict.error_message(),
              AllOf(HasSubstr("\"bob\" has the reader role"),
                    HasSubstr("needs admin")));
  EXPECT_EQ(runtime_->host().sessions().size(), 1u);
  // The refusal is audited; no eviction line.
  const std::vector<std::string> lines = audit_.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], AllOf(HasSubstr("audit: denied"),
                              HasSubstr("EvictSession"), HasSubstr("bob")));
}

TEST_F(OpsSecurityTest, AnAdminMayCallEveryMethodAndTheAuditNamesThem) {
  Start(OpsAuthorizer::WithTokens(Tokens()));
  LinkPlayer player(runtime_->link_port(), "carol");
  Caller admin = Plain(kAdminToken);
  EXPECT_THAT(CallEveryMethod(admin, player.session_id()),
              ElementsAre(StatusCode::OK, StatusCode::OK, StatusCode::OK,
                          StatusCode::OK, StatusCode::OK));
  EXPECT_EQ(runtime_->host().sessions().size(), 0u);
  const std::vector<std::string> lines = audit_.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(
      lines[0],
      AllOf(
          HasSubstr(absl::StrCat("audit: evict session=", player.session_id())),
          HasSubstr("player=\"carol\""), HasSubstr("by=\"alice\""),
          HasSubstr("role=admin"), HasSubstr("peer=127.0.0.1:"),
          HasSubstr("reason=\"test eviction\""), HasSubstr("result=evicted")));
  EXPECT_THAT(lines[0], Not(HasSubstr(kAdminToken)));
}

TEST_F(OpsSecurityTest, EachCallIsJudgedByItsOwnTokenOnASharedConnection) {
  Start(OpsAuthorizer::WithTokens(Tokens()));
  LinkPlayer first(runtime_->link_port(), "gina");
  LinkPlayer second(runtime_->link_port(), "hank");
  Caller caller = Plain(kSecondAdminToken);
  ASSERT_TRUE(caller.EvictSession(first.session_id()).ok());
  caller.set_token(kReaderToken);
  EXPECT_EQ(caller.EvictSession(second.session_id()).error_code(),
            StatusCode::PERMISSION_DENIED);
  caller.set_token("");
  EXPECT_EQ(caller.GetServerInfo().error_code(), StatusCode::UNAUTHENTICATED);
  caller.set_token(kAdminToken);
  ASSERT_TRUE(caller.EvictSession(second.session_id()).ok());
  std::vector<std::string> evictions;
  for (const std::string& line : audit_.Lines()) {
    if (absl::StartsWith(line, "audit: evict")) evictions.push_back(line);
  }
  ASSERT_EQ(evictions.size(), 2u);
  EXPECT_THAT(evictions[0],
              AllOf(HasSubstr("player=\"gina\""), HasSubstr("by=\"zed\"")));
  EXPECT_THAT(evictions[1],
              AllOf(HasSubstr("player=\"hank\""), HasSubstr("by=\"alice\"")));
}

TEST_F(OpsSecurityTest, HealthIsOpenWithoutCredentials) {
  Start(OpsAuthorizer::WithTokens(Tokens()));
  Caller probe = Plain("");
  HealthStatus::ServingStatus serving = HealthStatus::UNKNOWN;
  ASSERT_TRUE(probe.CheckHealth(&serving).ok());
  EXPECT_EQ(serving, HealthStatus::SERVING);
  serving = HealthStatus::UNKNOWN;
  ASSERT_TRUE(probe.WatchHealth(&serving).ok());
  EXPECT_EQ(serving, HealthStatus::SERVING);
}

TEST_F(OpsSecurityTest, ReflectionNeedsAReader) {
  Start(OpsAuthorizer::WithTokens(Tokens()));
  std::string names;
  EXPECT_EQ(Plain("").ListServicesByReflection(&names).error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(names, IsEmpty());
  EXPECT_TRUE(Plain(kReaderToken).ListServicesByReflection(&names).ok());
  EXPECT_THAT(names, HasSubstr("gss.ops.v1.SessionInspection"));
}

TEST(PeerAddressFromGrpcTest, WritesAddressesAsSessionsDo) {
  EXPECT_EQ(PeerAddressFromGrpc("ipv4:127.0.0.1:5000"), "127.0.0.1:5000");
  EXPECT_EQ(PeerAddressFromGrpc("ipv6:[::1]:5000"), "[::1]:5000");
  EXPECT_EQ(PeerAddressFromGrpc("unix:/run/gss.sock"), "unix:/run/gss.sock");
  EXPECT_EQ(PeerAddressFromGrpc(""), "");
}

// What grpcurl and most reflection clients do: ask grpc.reflection.v1, and
// on UNIMPLEMENTED fall back to v1alpha. Every role must get that far.
TEST_F(OpsSecurityTest, AReflectionClientFallsBackFromV1ToV1alphaInEveryRole) {
  Start(OpsAuthorizer::WithTokens(Tokens()));
  for (absl::string_view token : {kReaderToken, kAdminToken}) {
    Caller caller = Plain(std::string(token));
    std::string names;
    const grpc::Status v1 = caller.ListServicesByReflection(&names, "v1");
    EXPECT_EQ(v1.error_code(), StatusCode::UNIMPLEMENTED)
        << token << ": " << v1.error_message();
    names.clear();
    const grpc::Status v1alpha =
        caller.ListServicesByReflection(&names, "v1alpha");
    EXPECT_TRUE(v1alpha.ok()) << token << ": " << v1alpha.error_message();
    EXPECT_THAT(names, HasSubstr("gss.ops.v1.SessionInspection")) << token;
  }
  // Nobody was denied anything.
  EXPECT_THAT(audit_.Lines(), IsEmpty());
  // Without credentials a method the server lacks is still UNAUTHENTICATED:
  // a stranger learns nothing about what is served.
  std::string names;
  EXPECT_EQ(Plain("").ListServicesByReflection(&names, "v1").error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      Plain(kWrongToken).ListServicesByReflection(&names, "v1").error_code(),
      StatusCode::UNAUTHENTICATED);
}

TEST_F(OpsSecurityTest, WithoutCheckingEveryoneMayCallAndIsAnonymous) {
  Start(OpsAuthorizer::AllowAll());
  LinkPlayer player(runtime_->link_port(), "dave");
  Caller anyone = Plain("");
  EXPECT_THAT(CallEveryMethod(anyone, player.session_id()),
              ElementsAre(StatusCode::OK, StatusCode::OK, StatusCode::OK,
                          StatusCode::OK, StatusCode::OK));
  const std::vector<std::string> lines = audit_.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("by=\"anonymous\""));
  EXPECT_THAT(lines[0], Not(HasSubstr("role=")));
}

TEST_F(OpsSecurityTest, RotatedTokensApplyToTheRunningServer) {
  std::shared_ptr<OpsAuthorizer> authorizer =
      OpsAuthorizer::WithTokens(Tokens());
  Start(authorizer);
  const std::string rotated = "rotated-admin-0123456789abcdef";
  authorizer->ReplaceTokens(
      *OpsTokenTable::Parse(absl::StrCat("admin alice ", rotated)));
  EXPECT_EQ(Plain(kAdminToken).GetServerInfo().error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Plain(rotated).GetServerInfo().ok());
}

// TLS and mTLS with a CA made for the test; the files live in a temporary
// directory.
class OpsTlsTest : public OpsSecurityTest {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(
        ::testing::TempDir(), "ops_tls_", getpid(), "_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    absl::StatusOr<testing::TestCa> server_ca =
        testing::TestCa::Create("server-ca");
    absl::StatusOr<testing::TestCa> client_ca =
        testing::TestCa::Create("client-ca");
    absl::StatusOr<testing::TestCa> other_ca =
        testing::TestCa::Create("other-ca");
    ASSERT_TRUE(server_ca.ok() && client_ca.ok() && other_ca.ok());
    absl::StatusOr<testing::CertAndKey> server = server_ca->Issue("ops-server");
    absl::StatusOr<testing::CertAndKey> client = client_ca->Issue("ops-client");
    absl::StatusOr<testing::CertAndKey> stranger =
        other_ca->Issue("ops-stranger");
    ASSERT_TRUE(server.ok() && client.ok() && stranger.ok());
    Write("server-ca.pem", server_ca->cert_pem());
    Write("client-ca.pem", client_ca->cert_pem());
    Write("other-ca.pem", other_ca->cert_pem());
    Write("server.pem", server->cert_pem);
    Write("server.key", server->key_pem);
    Write("client.pem", client->cert_pem);
    Write("client.key", client->key_pem);
    Write("stranger.pem", stranger->cert_pem);
    Write("stranger.key", stranger->key_pem);
  }
  void TearDown() override {
    runtime_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }
  void Write(const std::string& name, const std::string& contents) {
    ASSERT_TRUE(testing::WriteTestFile(Path(name), contents).ok());
  }

  OpsTlsOptions ServerTls(bool mtls) const {
    return OpsTlsOptions{.cert_file = Path("server.pem"),
                         .key_file = Path("server.key"),
                         .client_ca_file = mtls ? Path("client-ca.pem") : ""};
  }
  Caller Tls(const std::string& token, const std::string& ca = "server-ca.pem",
             const std::string& cert = "", const std::string& key = "") {
    OpsClientOptions options{.token = token, .tls_ca_file = Path(ca)};
    if (!cert.empty()) {
      options.tls_cert_file = Path(cert);
      options.tls_key_file = Path(key);
    }
    return Caller(runtime_->ops_port(), options);
  }

  std::string dir_;
};

TEST_F(OpsTlsTest, TlsClientsWithTheRightCaGetInAndPlaintextOnesDoNot) {
  Start(OpsAuthorizer::WithTokens(Tokens()), ServerTls(/*mtls=*/false));
  EXPECT_EQ(Plain(kAdminToken).GetServerInfo().error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_EQ(Tls(kAdminToken, "other-ca.pem").GetServerInfo().error_code(),
            StatusCode::UNAVAILABLE);
  Caller admin = Tls(kAdminToken);
  EXPECT_TRUE(admin.GetServerInfo().ok());
  // Tokens are checked over TLS too, and health stays open.
  EXPECT_EQ(Tls("").GetServerInfo().error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Tls(kReaderToken).EvictSession("0001000000000fff").error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Tls("").CheckHealth().ok());
}

TEST_F(OpsTlsTest, MtlsRefusesClientsWithoutACertificateFromTheCa) {
  Start(OpsAuthorizer::WithTokens(Tokens()), ServerTls(/*mtls=*/true));
  EXPECT_EQ(Tls(kAdminToken).GetServerInfo().error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_EQ(Tls(kAdminToken, "server-ca.pem", "stranger.pem", "stranger.key")
                .GetServerInfo()
                .error_code(),
            StatusCode::UNAVAILABLE);
  Caller admin = Tls(kAdminToken, "server-ca.pem", "client.pem", "client.key");
  EXPECT_TRUE(admin.GetServerInfo().ok());
  // A certificate does not replace the token.
  EXPECT_EQ(Tls("", "server-ca.pem", "client.pem", "client.key")
                .GetServerInfo()
                .error_code(),
            StatusCode::UNAUTHENTICATED);

  LinkPlayer player(runtime_->link_port(), "erin");
  ASSERT_TRUE(admin.EvictSession(player.session_id(), "cheating").ok());
  const std::vector<std::string> lines = audit_.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], AllOf(HasSubstr("by=\"alice\""), HasSubstr("cert=\""),
                              HasSubstr("CN=ops-client"),
                              HasSubstr("reason=\"cheating\"")));
}

TEST_F(OpsTlsTest, WithoutTokensTheCertificateNamesTheCaller) {
  Start(OpsAuthorizer::AllowAll(), ServerTls(/*mtls=*/true));
  LinkPlayer player(runtime_->link_port(), "frank");
  Caller client = Tls("", "server-ca.pem", "client.pem", "client.key");
  ASSERT_TRUE(client.EvictSession(player.session_id()).ok());
  const std::vector<std::string> lines = audit_.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("by=\"O=gss-test,CN=ops-client\""));
}

TEST_F(OpsTlsTest, BadTlsFilesAreRefusedAtCreate) {
  const auto create = [&](OpsTlsOptions tls) {
    RuntimeOptions options;
    options.link_address = "127.0.0.1:0";
    options.ops_address = "127.0.0.1:0";
    options.metrics_address = "";
    options.ops_tls = std::move(tls);
    return ServerRuntime::Create(std::move(options)).status();
  };
  struct Case {
    OpsTlsOptions tls;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{.cert_file = Path("server.pem")}, "go together"},
      {{.key_file = Path("server.key")}, "go together"},
      {{.client_ca_file = Path("client-ca.pem")}, "needs ops_tls_cert_file"},
      {{.cert_file = Path("missing.pem"), .key_file = Path("server.key")},
       "cannot read"},
      {{.cert_file = Path("server.key"), .key_file = Path("server.key")},
       "no PEM certificate"},
      {{.cert_file = Path("server.pem"), .key_file = Path("server.pem")},
       "no unencrypted PEM private key"},
      {{.cert_file = Path("server.pem"), .key_file = Path("client.key")},
       "is not the key of the certificate"},
      {{.cert_file = Path("server.pem"),
        .key_file = Path("server.key"),
        .client_ca_file = Path("server.key")},
       "ops_tls_client_ca_file: no PEM certificate"},
  };
  for (const Case& c : cases) {
    const absl::Status status = create(c.tls);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    EXPECT_THAT(status.message(), HasSubstr(c.message));
  }
}

TEST_F(OpsSecurityTest, TheHealthOnlyListenerServesHealthAndNothingElse) {
  RuntimeOptions options;
  options.link_address = "127.0.0.1:0";
  options.ops_address = "127.0.0.1:0";
  options.metrics_address = "";
  options.health_address = "127.0.0.1:0";
  options.ops_authorizer = OpsAuthorizer::WithTokens(Tokens());
  absl::StatusOr<std::unique_ptr<ServerRuntime>> runtime =
      ServerRuntime::Create(std::move(options));
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  runtime_ = *std::move(runtime);
  const absl::Status started = runtime_->Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_NE(runtime_->health_port(), 0);
  Caller probe(runtime_->health_port(), OpsClientOptions{.token = kAdminToken});
  HealthStatus::ServingStatus serving = HealthStatus::UNKNOWN;
  ASSERT_TRUE(probe.CheckHealth(&serving).ok());
  EXPECT_EQ(serving, HealthStatus::SERVING);
  EXPECT_EQ(probe.GetServerInfo().error_code(), StatusCode::UNIMPLEMENTED);
  std::string names;
  EXPECT_EQ(probe.ListServicesByReflection(&names).error_code(),
            StatusCode::UNIMPLEMENTED);
  runtime_->BeginDrain();
  ASSERT_TRUE(probe.CheckHealth(&serving).ok());
  EXPECT_EQ(serving, HealthStatus::NOT_SERVING);
}

}  // namespace
}  // namespace gss
