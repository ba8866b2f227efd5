// Unit tests of sessionctl's parsing, formatting, exit codes and tokens;
// no service involved (the end-to-end tests are sessionctl_e2e_test.cc).
#include <jwt.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "clients/sessionctl/cli.h"
#include "clients/sessionctl/commands.h"
#include "clients/sessionctl/format.h"
#include "clients/sessionctl/token.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace gss::sessionctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Command> Parse(std::vector<std::string> args) {
  return ParseCommandLine(args);
}

TEST(ParseTest, DefaultsAndGlobalFlagsAnywhere) {
  absl::StatusOr<Command> command = Parse({"info"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->subcommand, Subcommand::kInfo);
  EXPECT_EQ(command->target, "localhost:7781");
  EXPECT_EQ(command->deadline, absl::Seconds(5));
  EXPECT_FALSE(command->json);

  command = Parse({"--target", "h:1", "info", "--deadline=250ms", "--json"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->target, "h:1");
  EXPECT_EQ(command->deadline, absl::Milliseconds(250));
  EXPECT_TRUE(command->json);
}

TEST(ParseTest, ListFilters) {
  absl::StatusOr<Command> command =
      Parse({"list", "--state", "active,suspect", "--state=RECONNECTING",
             "--state", "SESSION_STATE_CLOSED", "--gateway", "7", "--page-size",
             "50", "--page_token", "0001000000000001"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_THAT(
      command->list.states,
      ElementsAre(ops::v1::SESSION_STATE_ACTIVE, ops::v1::SESSION_STATE_SUSPECT,
                  ops::v1::SESSION_STATE_RECONNECTING,
                  ops::v1::SESSION_STATE_CLOSED));
  EXPECT_EQ(command->list.gateway_id, 7u);
  EXPECT_EQ(command->list.page_size, 50);
  EXPECT_EQ(command->list.page_token, "0001000000000001");
  EXPECT_FALSE(command->list.all);

  command = Parse({"list", "--all"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_TRUE(command->list.all);
}

TEST(ParseTest, CredentialFlagsAreGlobal) {
  absl::StatusOr<Command> command =
      Parse({"--token_file", "/t", "evict", "0001000000000001", "--reason=x",
             "--tls-ca-file=/ca.pem", "--tls_cert_file", "/c.pem",
             "--tls_key_file=/c.key", "--tls_server_name", "ops.example"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->credentials.token_file, "/t");
  EXPECT_EQ(command->credentials.token, "");
  EXPECT_EQ(command->credentials.tls_ca_file, "/ca.pem");
  EXPECT_EQ(command->credentials.tls_cert_file, "/c.pem");
  EXPECT_EQ(command->credentials.tls_key_file, "/c.key");
  EXPECT_EQ(command->credentials.tls_server_name, "ops.example");
  command = Parse({"info", "--token=abc"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->credentials.token, "abc");

  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"info", "--token=a", "--token_file=/t"},
           {"info", "--tls_cert_file=/c.pem"},
           {"info", "--tls_key_file=/c.key"},
           {"info", "--token="},
       }) {
    absl::StatusOr<Command> refused = Parse(args);
    EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << args.back();
  }
}

TEST(ParseTest, GetKeys) {
  absl::StatusOr<Command> command = Parse({"get", "--session", "00ab"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->get.session_id(), "00ab");
  command = Parse({"get", "--player=alice"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->get.player_id(), "alice");
  command = Parse({"get", "--gateway", "2", "--connection", "99"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->get.remote().gateway_id(), 2u);
  EXPECT_EQ(command->get.remote().connection_id(), 99u);
}

TEST(ParseTest, WatchEvictHealthMintToken) {
  absl::StatusOr<Command> command =
      Parse({"watch", "--snapshot", "--count", "3", "--session", "00ff"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_TRUE(command->watch.snapshot);
  EXPECT_EQ(command->watch.count, 3);
  EXPECT_EQ(command->watch.session_id, "00ff");

  command = Parse({"evict", "00ff", "--reason", "ticket 12"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->evict.session_id, "00ff");
  EXPECT_EQ(command->evict.reason, "ticket 12");

  command = Parse({"health", "--service", "gss.ops.v1.SessionInspection"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->health.service, "gss.ops.v1.SessionInspection");

  command = Parse({"mint-token", "--key_file", "/k", "--player", "p1",
                   "--permissions", "move,shoot", "--ttl", "2h", "--role",
                   "admin", "--name", "Pat"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->subcommand, Subcommand::kMintToken);
  EXPECT_THAT(command->mint_token.permissions, ElementsAre("move", "shoot"));
  EXPECT_EQ(command->mint_token.ttl, absl::Hours(2));
  EXPECT_EQ(command->mint_token.role, "admin");
  EXPECT_EQ(command->mint_token.name, "Pat");
}

TEST(ParseTest, HelpWins) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--help"}, {"-h"}, {"help"}, {"list", "--all", "--help"}}) {
    absl::StatusOr<Command> command = Parse(args);
    ASSERT_TRUE(command.ok()) << command.status();
    EXPECT_EQ(command->subcommand, Subcommand::kHelp);
  }
  EXPECT_THAT(HelpText(), HasSubstr("Exit codes"));
}

TEST(ParseTest, UsageErrors) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"list", "--bogus"},
      {"list", "--state", "sleepy"},
      {"list", "--state", "active,,suspect"},
      {"list", "--page_size", "many"},
      {"list", "--gateway", "-1"},
      {"list", "--all", "--page_token", "x"},
      {"list", "extra"},
      {"info", "--session", "x"},
      {"get"},
      {"get", "--session", "a", "--player", "b"},
      {"get", "--gateway", "1"},
      {"watch", "--count", "0"},
      {"evict", "--reason", "r"},
      {"evict", "00ff"},
      {"evict", "00ff", "--reason", "r", "extra"},
      {"mint-token", "--player", "p"},
      {"mint-token", "--key_file", "k"},
      {"mint-token", "--key_file", "k", "--player", "p", "--ttl", "-1s"},
      {"info", "--deadline", "soon"},
      {"info", "--deadline", "0s"},
      {"info", "--target"},
      {"info", "--json=maybe"},
  };
  for (const auto& args : bad) {
    absl::StatusOr<Command> command = Parse(args);
    EXPECT_FALSE(command.ok())
        << "accepted: " << ::testing::PrintToString(args);
    if (!command.ok()) {
      EXPECT_EQ(command.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_FALSE(absl::StrContains(command.status().message(), "\n"));
    }
  }
}

TEST(ParseStateTest, AcceptsEveryForm) {
  EXPECT_EQ(ParseState("active"), ops::v1::SESSION_STATE_ACTIVE);
  EXPECT_EQ(ParseState("Suspect"), ops::v1::SESSION_STATE_SUSPECT);
  EXPECT_EQ(ParseState("SESSION_STATE_CLOSED"), ops::v1::SESSION_STATE_CLOSED);
  EXPECT_EQ(ParseState("unspecified"), std::nullopt);
  EXPECT_EQ(ParseState(""), std::nullopt);
  EXPECT_EQ(ParseState("nope"), std::nullopt);
}

TEST(ExitCodeTest, MapsStatusCodes) {
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::OK), 0);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::NOT_FOUND), 3);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::INVALID_ARGUMENT), 4);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::UNAVAILABLE), 5);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::DEADLINE_EXCEEDED), 5);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::PERMISSION_DENIED), 6);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::UNAUTHENTICATED), 7);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::INTERNAL), 1);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::FAILED_PRECONDITION), 1);
  EXPECT_EQ(kExitUsage, 2);
}

TEST(FormatCallErrorTest, OneLineWithCode) {
  EXPECT_EQ(
      FormatCallError(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                   "no session matches the key"),
                      "session 00a1000000000001", "h:1", absl::Seconds(5)),
      "sessionctl: session 00a1000000000001 not found (NOT_FOUND)");
  EXPECT_EQ(FormatCallError(
                grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad\nid"),
                "session x", "h:1", absl::Seconds(5)),
            "sessionctl: bad id (INVALID_ARGUMENT)");
  EXPECT_EQ(FormatCallError(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                         "failed to connect"),
                            "", "h:1", absl::Seconds(5)),
            "sessionctl: cannot reach h:1: failed to connect (UNAVAILABLE)");
  EXPECT_EQ(
      FormatCallError(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "late"),
                      "", "h:1", absl::Milliseconds(500)),
      "sessionctl: h:1 did not answer within 500ms (DEADLINE_EXCEEDED)");
  EXPECT_EQ(FormatCallError(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                         "unknown ops token"),
                            "", "h:1", absl::Seconds(5)),
            "sessionctl: not authenticated: unknown ops token; give a token "
            "with --token_file, --token or GSS_OPS_TOKEN (UNAUTHENTICATED)");
  EXPECT_EQ(FormatCallError(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                         "\"bob\" has the reader role"),
                            "session x", "h:1", absl::Seconds(5)),
            "sessionctl: permission denied: \"bob\" has the reader role "
            "(PERMISSION_DENIED)");
}

TEST(DescribeKeyTest, NamesTheKey) {
  ops::v1::GetSessionRequest request;
  request.set_player_id("alice");
  EXPECT_EQ(DescribeKey(request), "session of player alice");
  request.mutable_remote()->set_gateway_id(1);
  request.mutable_remote()->set_connection_id(42);
  EXPECT_EQ(DescribeKey(request), "session on gateway 1 connection 42");
  request.set_session_id("00ff");
  EXPECT_EQ(DescribeKey(request), "session 00ff");
}

ops::v1::Session SampleSession(absl::Time now) {
  ops::v1::Session session;
  session.set_session_id("0001000000000007");
  session.set_state(ops::v1::SESSION_STATE_ACTIVE);
  session.set_player_id("alice");
  session.set_display_name("Alice");
  session.set_role("player");
  session.add_permissions("move");
  session.add_permissions("shoot");
  session.mutable_remote()->set_gateway_id(1);
  session.mutable_remote()->set_connection_id(42);
  session.mutable_remote()->set_address("127.0.0.1:5000");
  session.mutable_state_since()->set_seconds(absl::ToUnixSeconds(now) - 75);
  session.mutable_rtt()->set_nanos(12'300'000);
  session.mutable_position()->set_x(3);
  session.mutable_position()->set_y(-4);
  session.set_health(100);
  return session;
}

TEST(FormatTest, StateNamesAndAges) {
  EXPECT_EQ(StateName(ops::v1::SESSION_STATE_RECONNECTING), "reconnecting");
  EXPECT_EQ(StateName(ops::v1::SESSION_STATE_UNSPECIFIED), "unspecified");
  EXPECT_EQ(FormatAge(absl::Milliseconds(850)), "850ms");
  EXPECT_EQ(FormatAge(absl::Seconds(42)), "42s");
  EXPECT_EQ(FormatAge(absl::Seconds(187)), "3m07s");
  EXPECT_EQ(FormatAge(absl::Minutes(125)), "2h05m");
  EXPECT_EQ(FormatAge(absl::Hours(76)), "3d04h");
  EXPECT_EQ(FormatAge(-absl::Seconds(3)), "0ms");
}

TEST(FormatTest, SessionTableAlignsColumns) {
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  google::protobuf::RepeatedPtrField<ops::v1::Session> sessions;
  *sessions.Add() = SampleSession(now);
  ops::v1::Session reconnecting;
  reconnecting.set_session_id("0001000000000008");
  reconnecting.set_state(ops::v1::SESSION_STATE_RECONNECTING);
  reconnecting.set_player_id("bob");
  *sessions.Add() = reconnecting;
  const std::string table = FormatSessionTable(sessions, now);
  std::vector<std::string> lines;
  std::istringstream in(table);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u) << table;
  EXPECT_TRUE(absl::StartsWith(lines[0], "SESSION           STATE"))
      << lines[0];
  EXPECT_EQ(lines[1],
            "0001000000000007  active        1m15s  alice   Alice  player  "
            "1/42     127.0.0.1:5000  12.3ms  3,-4  100");
  EXPECT_EQ(lines[2],
            "0001000000000008  reconnecting  -      bob     -      -       "
            "-        -               -       0,0   0");
  EXPECT_EQ(FormatSessionTable({}, now), "(no sessions)\n");
}

TEST(FormatTest, SessionDetailAndInfo) {
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  const std::string detail = FormatSessionDetail(SampleSession(now), now);
  EXPECT_THAT(detail, HasSubstr("session:         0001000000000007\n"));
  EXPECT_THAT(detail, HasSubstr("permissions:     move,shoot\n"));
  EXPECT_THAT(detail, HasSubstr("state since:     2023-11-14T22:12:05.000Z "
                                "(1m15s ago)\n"));
  EXPECT_THAT(detail, HasSubstr("rtt:             12.3ms\n"));

  ops::v1::ServerInfo info;
  info.set_instance_id("abc");
  info.set_version("0.1.0");
  (*info.mutable_sessions_by_state())["suspect"] = 1;
  (*info.mutable_sessions_by_state())["active"] = 12;
  info.set_gateways_attached(1);
  const std::string text = FormatServerInfo(info, now);
  EXPECT_THAT(text, HasSubstr("sessions:  active=12 suspect=1\n"));
  EXPECT_THAT(text, HasSubstr("draining:  no\n"));
}

TEST(FormatTest, WatchEvents) {
  ops::v1::WatchSessionsResponse event;
  ops::v1::Transition* transition = event.mutable_transition();
  transition->set_session_id("0001000000000007");
  transition->set_from(ops::v1::SESSION_STATE_ACTIVE);
  transition->set_to(ops::v1::SESSION_STATE_CLOSED);
  transition->set_cause("evict");
  transition->set_close_reason("evicted");
  transition->set_player_id("alice");
  transition->mutable_at()->set_seconds(1'700'000'000);
  transition->set_sequence(4);
  EXPECT_EQ(FormatWatchEvent(event),
            "2023-11-14T22:13:20.000Z  0001000000000007  active -> closed  "
            "cause=evict reason=evicted player=alice seq=4");
  event.set_snapshot_done(true);
  EXPECT_EQ(FormatWatchEvent(event), "snapshot done");
  event.set_lost(3);
  EXPECT_THAT(FormatWatchEvent(event), HasSubstr("lost  3"));
  *event.mutable_snapshot() = SampleSession(absl::Now());
  EXPECT_EQ(FormatWatchEvent(event),
            "snapshot  0001000000000007  active  player=alice");
}

TEST(FormatTest, JsonRoundTripsWithProtoFieldNames) {
  ops::v1::ListSessionsResponse response;
  *response.add_sessions() = SampleSession(absl::Now());
  for (bool pretty : {true, false}) {
    absl::StatusOr<std::string> json = ToJson(response, pretty);
    ASSERT_TRUE(json.ok()) << json.status();
    EXPECT_THAT(*json, HasSubstr("\"session_id\""));
    EXPECT_THAT(*json, HasSubstr("\"SESSION_STATE_ACTIVE\""));
    EXPECT_THAT(*json, HasSubstr("\"next_page_token\""));  // Always printed.
    EXPECT_EQ(absl::StrContains(*json, "\n"), pretty);
    ops::v1::ListSessionsResponse parsed;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(*json, &parsed).ok());
    EXPECT_EQ(parsed.SerializeAsString(), response.SerializeAsString());
  }
}

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("sessionctl_token_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::filesystem::path dir_;
};

constexpr char kKey[] = "unit-test-hs256-key-0123456789-abcdefghijkl";

TEST_F(TokenTest, KeyFileRulesMatchTheService) {
  absl::StatusOr<std::string> key =
      ReadKeyFile(WriteFile("good", std::string(kKey) + "\n  \n"));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, kKey);
  EXPECT_FALSE(ReadKeyFile(WriteFile("short", "too-short-key\n")).ok());
  EXPECT_FALSE(ReadKeyFile((dir_ / "missing").string()).ok());
}

TEST_F(TokenTest, MintedTokenVerifiesWithTheClaims) {
  TokenClaims claims;
  claims.player = "p-\"1\"";
  claims.name = "Pat";
  claims.role = "scout";
  claims.permissions = {"move", "shoot"};
  claims.issued = absl::FromUnixSeconds(1'700'000'000);
  claims.expires = claims.issued + absl::Hours(1);
  absl::StatusOr<std::string> token = MintToken(claims, kKey);
  ASSERT_TRUE(token.ok()) << token.status();

  jwt_t* jwt = nullptr;
  ASSERT_EQ(jwt_decode(&jwt, token->c_str(),
                       reinterpret_cast<const unsigned char*>(kKey),
                       sizeof(kKey) - 1),
            0);
  EXPECT_EQ(jwt_get_alg(jwt), JWT_ALG_HS256);
  EXPECT_STREQ(jwt_get_grant(jwt, "sub"), "p-\"1\"");
  EXPECT_STREQ(jwt_get_grant(jwt, "name"), "Pat");
  EXPECT_STREQ(jwt_get_grant(jwt, "role"), "scout");
  EXPECT_EQ(jwt_get_grant_int(jwt, "exp"), 1'700'003'600);
  char* permissions = jwt_get_grants_json(jwt, "permissions");
  ASSERT_NE(permissions, nullptr);
  EXPECT_STREQ(permissions, R"(["move","shoot"])");
  free(permissions);
  jwt_free(jwt);

  // Another key does not verify it.
  jwt = nullptr;
  const std::string other = "another-key-of-enough-length-0123456789";
  EXPECT_NE(jwt_decode(&jwt, token->c_str(),
                       reinterpret_cast<const unsigned char*>(other.data()),
                       static_cast<int>(other.size())),
            0);
  jwt_free(jwt);
}

TEST_F(TokenTest, MintTokenCommandPrintsOneToken) {
  Command command;
  command.subcommand = Subcommand::kMintToken;
  command.mint_token.key_file = WriteFile("key", kKey);
  command.mint_token.player = "alice";
  std::ostringstream out, err;
  EXPECT_EQ(sessionctl::Run(command, out, err), kExitOk) << err.str();
  const std::string token = out.str();
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2) << token;
  EXPECT_EQ(std::count(token.begin(), token.end(), '\n'), 1) << token;
  EXPECT_TRUE(err.str().empty());

  command.mint_token.key_file = WriteFile("short", "short");
  std::ostringstream out2, err2;
  EXPECT_EQ(sessionctl::Run(command, out2, err2), kExitError);
  EXPECT_THAT(err2.str(), HasSubstr("at least 32"));
}

TEST(CancelHookTest, CancelBeforeSetRunsOnSet) {
  CancelHook hook;
  int calls = 0;
  hook.Cancel();
  EXPECT_TRUE(hook.cancelled());
  hook.Set([&] { ++calls; });
  EXPECT_EQ(calls, 1);
  hook.Set(nullptr);
  hook.Cancel();
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace gss::sessionctl
