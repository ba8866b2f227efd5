// End-to-end: login paths per peer: JWT claims and refusals, permissions
// enforced per packet, capacity, and the login timeout.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/test_macros.h"
#include "tests/support/transition_recorder.h"

namespace gss::testing {
namespace {

using game::v1::ServerMessage;
using game::v1::Welcome;

constexpr char kKey[] = "e2e-test-hs256-key-0123456789-abcdefghijklmnop";

std::string Base64Url(const std::string& bytes) {
  std::string encoded;
  absl::WebSafeBase64Escape(bytes, &encoded);  // Unpadded.
  return encoded;
}

// A compact JWS over `payload_json` with `header_json`, signed with HS256
// under `key` (the signature is computed as HS256 whatever the header says).
std::string SignToken(const std::string& header_json,
                      const std::string& payload_json, const std::string& key) {
  const std::string signing_input =
      absl::StrCat(Base64Url(header_json), ".", Base64Url(payload_json));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()),
       signing_input.size(), mac, &mac_size);
  return absl::StrCat(
      signing_input, ".",
      Base64Url(std::string(reinterpret_cast<char*>(mac), mac_size)));
}

constexpr char kHs256Header[] = R"({"alg":"HS256","typ":"JWT"})";

std::string Claims(const std::string& subject, const std::string& name,
                   const std::string& role, const std::string& permissions_json,
                   int64_t expires_in_s) {
  return absl::StrCat(R"({"sub":")", subject, R"(","name":")", name,
                      R"(","role":")", role, R"(","permissions":)",
                      permissions_json, R"(,"exp":)",
                      absl::ToUnixSeconds(absl::Now()) + expires_in_s, "}");
}

class JwtLoginTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    key_dir_ = MakeTestTempDir("jwt");
    const std::string key_file = absl::StrCat(key_dir_, "/jwt.key");
    std::ofstream(key_file) << kKey << "\n";
    ClusterOptions options;
    options.service_flags = {"--authenticator=jwt",
                             absl::StrCat("--jwt_key_file=", key_file),
                             "--fire_cooldown=10ms"};
    ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  }

  void TearDown() override {
    cluster_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(key_dir_, ignored);
  }

  absl::StatusOr<std::unique_ptr<GameTestClient>> Connect() {
    return GameTestClient::Connect(GetParam(), cluster_->game_port());
  }

  std::string key_dir_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_P(JwtLoginTest, ClaimsBecomeTheGrantAndPermissionsAreEnforced) {
  ASSERT_OK_AND_ASSIGN(auto scout, Connect());
  ASSERT_OK_AND_ASSIGN(auto soldier, Connect());
  ASSERT_OK_AND_ASSIGN(
      Welcome scout_welcome,
      scout->Login(SignToken(
          kHs256Header,
          Claims("player-17", "Scout Seventeen", "scout", R"(["move"])", 3600),
          kKey)));
  EXPECT_EQ(scout_welcome.player_id(), "player-17");
  EXPECT_EQ(scout_welcome.display_name(), "Scout Seventeen");
  EXPECT_EQ(scout_welcome.role(), "scout");
  EXPECT_EQ(std::vector<std::string>(scout_welcome.permissions().begin(),
                                     scout_welcome.permissions().end()),
            std::vector<std::string>{"move"});
  ASSERT_OK_AND_ASSIGN(
      Welcome soldier_welcome,
      soldier->Login(SignToken(kHs256Header,
                               Claims("player-18", "Soldier", "soldier",
                                      R"(["move","shoot","fly"])", 3600),
                               kKey)));
  EXPECT_EQ(soldier_welcome.permissions_size(), 2);

  // Each peer is checked against its own permissions.
  const int64_t t = soldier->EstimatedServerTick();
  ASSERT_OK_AND_ASSIGN(game::v1::ShootResult scout_shot,
                       scout->Shoot(t, soldier_welcome.session_id()));
  EXPECT_EQ(scout_shot.rejection(), "not_permitted");
  ASSERT_OK_AND_ASSIGN(game::v1::MoveResult scout_move,
                       scout->Move(t + 1, 1, 0));
  EXPECT_TRUE(scout_move.accepted()) << scout_move.ShortDebugString();
  ASSERT_OK_AND_ASSIGN(game::v1::ShootResult soldier_shot,
                       soldier->Shoot(t, scout_welcome.session_id()));
  EXPECT_NE(soldier_shot.rejection(), "not_permitted");

  ASSERT_OK_AND_ASSIGN(ops::v1::Session session,
                       cluster_->ops().GetSessionByPlayer("player-17"));
  EXPECT_EQ(session.role(), "scout");
  EXPECT_EQ(session.display_name(), "Scout Seventeen");
}

TEST_P(JwtLoginTest, BadCredentialsAreRefusedAndOnlyThatConnectionCloses) {
  ASSERT_OK_AND_ASSIGN(auto member, Connect());
  ASSERT_OK(member->Login(SignToken(
      kHs256Header, Claims("member", "Member", "player", R"(["move"])", 3600),
      kKey)));
  const std::string good_claims =
      Claims("intruder", "Intruder", "player", R"(["move","shoot"])", 3600);
  struct Case {
    std::string credential;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {SignToken(kHs256Header, good_claims,
                 "another-key-of-enough-length-0123456789"),
       "bad_signature"},
      {SignToken(kHs256Header,
                 Claims("intruder", "Intruder", "player", "[]", -120), kKey),
       "token_expired"},
      {absl::StrCat(Base64Url(R"({"alg":"none","typ":"JWT"})"), ".",
                    Base64Url(good_claims), "."),
       "bad_algorithm"},
      {SignToken(R"({"alg":"HS512","typ":"JWT"})", good_claims, kKey),
       "bad_algorithm"},
      {"intruder", "bad_credential"},
      {SignToken(kHs256Header, R"({"name":"no subject","exp":99999999999})",
                 kKey),
       "bad_credential"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason + " " + c.credential);
    ASSERT_OK_AND_ASSIGN(auto intruder, Connect());
    ASSERT_OK_AND_ASSIGN(ServerMessage reply,
                         intruder->LoginReply(c.credential));
    ASSERT_TRUE(reply.has_login_rejected()) << Describe(reply);
    EXPECT_EQ(reply.login_rejected().reason(), c.reason);
    EXPECT_EQ(reply.login_rejected().detail().find(kKey), std::string::npos);
    // "Failure: LoginRejected{reason} and the server closes the connection."
    EXPECT_OK(intruder->WaitForTransportClose(absl::Seconds(5)));
  }
  EXPECT_TRUE(absl::IsNotFound(
      cluster_->ops().GetSessionByPlayer("intruder").status()));
  // The refused connections' sessions are closed, not left to time out.
  ASSERT_OK_AND_ASSIGN(ops::v1::ListSessionsResponse all,
                       cluster_->ops().ListSessions({}));
  EXPECT_EQ(all.sessions_size(), 1) << all.ShortDebugString();
  ASSERT_OK(member->Ping());
  EXPECT_FALSE(member->InboxHas(ServerMessage::kDisconnect));
}

class DevLoginTest : public ::testing::TestWithParam<Transport> {
 protected:
  absl::StatusOr<std::unique_ptr<GameTestClient>> Connect() {
    return GameTestClient::Connect(GetParam(), cluster_->game_port());
  }
  std::unique_ptr<Cluster> cluster_;
};

TEST_P(DevLoginTest, LoginsBeyondMaxSessionsAreRefused) {
  ClusterOptions options;
  options.service_flags = {"--max_sessions=2"};
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  ASSERT_OK_AND_ASSIGN(auto first, Connect());
  ASSERT_OK_AND_ASSIGN(auto second, Connect());
  ASSERT_OK_AND_ASSIGN(auto third, Connect());
  ASSERT_OK(first->Login("first"));
  ASSERT_OK(second->Login("second"));
  ASSERT_OK_AND_ASSIGN(ServerMessage refused, third->LoginReply("third"));
  ASSERT_TRUE(refused.has_login_rejected()) << Describe(refused);
  EXPECT_EQ(refused.login_rejected().reason(), "server_full");
  // A place frees up; a newcomer gets it; the others are unaffected.
  ASSERT_OK(first->Goodbye());
  ASSERT_OK_AND_ASSIGN(auto fourth, Connect());
  EXPECT_TRUE(WaitFor([&] { return fourth->Login("fourth").ok(); },
                      absl::Seconds(5), absl::Milliseconds(50)));
  ASSERT_OK(second->Ping());
  EXPECT_FALSE(second->InboxHas(ServerMessage::kDisconnect));
}

TEST_P(DevLoginTest, ConnectionThatNeverLogsInTimesOutAlone) {
  ClusterOptions options;
  options.service_flags = {"--login_timeout=300ms", "--advance_interval=10ms"};
  options.gateway_flags = {"--udp_idle_timeout=30s"};
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SessionWatch> watch,
                       cluster_->ops().WatchSynced());
  TransitionRecorder recorder(std::move(watch));
  ASSERT_OK_AND_ASSIGN(auto member, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome member_welcome, member->Login("member"));
  ASSERT_OK_AND_ASSIGN(auto lurker, Connect());

  ASSERT_OK_AND_ASSIGN(
      ServerMessage told,
      lurker->ReceiveBody(ServerMessage::kDisconnect, absl::Seconds(5)));
  EXPECT_EQ(told.disconnect().reason(), "timed_out");
  EXPECT_OK(lurker->WaitForTransportClose(absl::Seconds(5)));
  // The watch reports the close too (it may trail the peer's Disconnect).
  auto any_closed = [&] {
    for (const ops::v1::Transition& t : recorder.all()) {
      if (t.to() == ops::v1::SESSION_STATE_CLOSED) return true;
    }
    return false;
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        recorder.Pump(absl::Milliseconds(20));
        return any_closed();
      },
      absl::Seconds(5), absl::ZeroDuration()))
      << Describe(recorder.all());
  int timed_out = 0;
  for (const ops::v1::Transition& t : recorder.all()) {
    if (t.to() == ops::v1::SESSION_STATE_CLOSED) {
      EXPECT_NE(t.session_id(), member_welcome.session_id());
      EXPECT_EQ(t.close_reason(), "timed_out");
      EXPECT_EQ(t.cause(), "deadline_passed");
      ++timed_out;
    }
  }
  EXPECT_EQ(timed_out, 1) << Describe(recorder.all());
  // The member logged in in time and is still there, past the timeout.
  ASSERT_OK(member->Ping());
  ASSERT_OK_AND_ASSIGN(ops::v1::Session session,
                       cluster_->ops().GetSession(member_welcome.session_id()));
  EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);
}

TEST_P(DevLoginTest, RepeatedLoginAndResumeAreSafe) {
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(ClusterOptions()));
  ASSERT_OK_AND_ASSIGN(auto client, Connect());
  // A client that did not see the answer repeats its Login (UDP does this
  // by design): the same session, not a replacement or a refusal.
  game::v1::ClientMessage login;
  login.mutable_login()->set_credential("repeater");
  ASSERT_OK(client->Send(login));
  ASSERT_OK(client->Send(login));
  auto is_login_answer = [](const ServerMessage& m) {
    return m.has_welcome() || m.has_login_rejected() || m.has_disconnect();
  };
  ASSERT_OK_AND_ASSIGN(
      ServerMessage first,
      client->ReceiveMatching(is_login_answer, absl::Seconds(5)));
  ASSERT_TRUE(first.has_welcome()) << Describe(first);
  absl::StatusOr<ServerMessage> second =
      client->ReceiveMatching(is_login_answer, absl::Seconds(2));
  if (second.ok()) {
    ASSERT_TRUE(second->has_welcome()) << Describe(*second);
    EXPECT_EQ(second->welcome().session_id(), first.welcome().session_id());
  }
  ASSERT_OK(client->Ping());
  EXPECT_FALSE(client->transport_closed());
  ASSERT_OK_AND_ASSIGN(
      ops::v1::Session session,
      cluster_->ops().GetSession(first.welcome().session_id()));
  EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);

  // The same for a repeated Resume on a new connection.
  client->CloseAbruptly();
  ASSERT_OK_AND_ASSIGN(auto again, Connect());
  game::v1::ClientMessage resume;
  resume.mutable_resume()->set_resume_token(first.welcome().resume_token());
  ASSERT_OK(again->Send(resume));
  ASSERT_OK(again->Send(resume));
  auto is_resume_answer = [](const ServerMessage& m) {
    return m.has_welcome() || m.has_resume_rejected() || m.has_disconnect();
  };
  ASSERT_OK_AND_ASSIGN(
      ServerMessage resumed,
      again->ReceiveMatching(is_resume_answer, absl::Seconds(5)));
  ASSERT_TRUE(resumed.has_welcome()) << Describe(resumed);
  EXPECT_EQ(resumed.welcome().session_id(), first.welcome().session_id());
  absl::StatusOr<ServerMessage> resumed_again =
      again->ReceiveMatching(is_resume_answer, absl::Seconds(2));
  if (resumed_again.ok()) {
    ASSERT_TRUE(resumed_again->has_welcome()) << Describe(*resumed_again);
    EXPECT_EQ(resumed_again->welcome().resume_token(),
              resumed.welcome().resume_token());
  }
  ASSERT_OK(again->Ping());
  ASSERT_OK_AND_ASSIGN(
      ops::v1::Session after,
      cluster_->ops().GetSession(first.welcome().session_id()));
  EXPECT_EQ(after.state(), ops::v1::SESSION_STATE_ACTIVE);
  EXPECT_EQ(after.resumes(), 1u);
}

TEST_P(DevLoginTest, ADifferentLoginOnALoggedInConnectionIsRefusedAlone) {
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(ClusterOptions()));
  ASSERT_OK_AND_ASSIGN(auto client, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome welcome, client->Login("first-name"));
  ASSERT_OK_AND_ASSIGN(ServerMessage reply, client->LoginReply("second-name"));
  EXPECT_FALSE(reply.has_welcome()) << Describe(reply);
  ASSERT_OK(client->Ping());
  ASSERT_OK_AND_ASSIGN(ops::v1::Session session,
                       cluster_->ops().GetSession(welcome.session_id()));
  EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);
  EXPECT_EQ(session.player_id(), "first-name");
  EXPECT_TRUE(absl::IsNotFound(
      cluster_->ops().GetSessionByPlayer("second-name").status()));
}

const auto kTransports = ::testing::Values(Transport::kTcp, Transport::kUdp);
std::string TransportParamName(
    const ::testing::TestParamInfo<Transport>& info) {
  return TransportName(info.param);
}
INSTANTIATE_TEST_SUITE_P(Transports, JwtLoginTest, kTransports,
                         TransportParamName);
INSTANTIATE_TEST_SUITE_P(Transports, DevLoginTest, kTransports,
                         TransportParamName);

}  // namespace
}  // namespace gss::testing
