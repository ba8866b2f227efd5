// End-to-end: the sessionctl binary against a real session service and
// gateway: every subcommand, its error paths and exit codes, mint-token, and
// the ops credentials (tokens and roles, TLS and mTLS).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "session_service/test_certs.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/process.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::string SessionctlBinary() {
  const char* binary = std::getenv("GSS_SESSIONCTL_BINARY");
  return binary != nullptr ? binary : GSS_SESSIONCTL_BINARY;
}

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const CliResult& result) {
  return os << "exit " << result.exit_code << "\nstdout:\n"
            << result.out << "stderr:\n"
            << result.err;
}

template <typename Message>
absl::Status ParseJson(const std::string& json, Message* message) {
  const auto status =
      google::protobuf::util::JsonStringToMessage(json, message);
  if (!status.ok()) return absl::InvalidArgumentError(status.ToString());
  return absl::OkStatus();
}

// A loopback port nothing listens on (bound, then released).
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t size = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

class SessionctlTest : public ::testing::Test {
 protected:
  void SetUp() override { log_dir_ = MakeTestTempDir("sessionctl"); }

  void StartCluster(std::vector<std::string> service_flags = {},
                    OpsClientOptions ops_tls = {}) {
    ClusterOptions options;
    options.service_flags = std::move(service_flags);
    options.ops_tls = std::move(ops_tls);
    absl::StatusOr<std::unique_ptr<Cluster>> cluster =
        Cluster::Start(std::move(options));
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
  }

  // sessionctl with `args` (--target added when a cluster runs and the
  // arguments name none; so is the admin token file unless the arguments
  // give a token or `with_token_` is off).
  absl::StatusOr<std::unique_ptr<Process>> Spawn(
      std::vector<std::string> args) {
    bool has_target = false;
    bool has_token = false;
    for (const std::string& arg : args) {
      has_target |= absl::StartsWith(arg, "--target");
      has_token |= absl::StartsWith(arg, "--token");
    }
    if (!has_target && cluster_ != nullptr) {
      args.insert(args.begin(), "--target=" + cluster_->ops_address());
    }
    if (!has_token && with_token_ && cluster_ != nullptr) {
      args.insert(args.begin(), "--token_file=" + cluster_->admin_token_file());
    }
    return Process::Start({SessionctlBinary(), std::move(args), log_dir_,
                           absl::StrCat("sessionctl_", ++runs_)});
  }

  CliResult Cli(std::vector<std::string> args,
                absl::Duration timeout = absl::Seconds(20)) {
    CliResult result;
    absl::StatusOr<std::unique_ptr<Process>> process = Spawn(std::move(args));
    if (!process.ok()) {
      ADD_FAILURE() << process.status();
      return result;
    }
    return Finish(**process, timeout);
  }

  static CliResult Finish(Process& process, absl::Duration timeout) {
    CliResult result;
    absl::StatusOr<ExitStatus> status = process.WaitForExit(timeout);
    if (!status.ok()) {
      ADD_FAILURE() << "sessionctl did not exit: " << status.status();
    } else if (!status->exited) {
      ADD_FAILURE() << "sessionctl died: " << status->ToString();
    } else {
      result.exit_code = status->code;
    }
    result.out = process.ReadStdout();
    result.err = process.ReadStderr();
    return result;
  }

  absl::StatusOr<std::unique_ptr<GameTestClient>> LoggedIn(
      const std::string& credential, game::v1::Welcome* welcome) {
    absl::StatusOr<std::unique_ptr<GameTestClient>> client =
        GameTestClient::Connect(Transport::kTcp, cluster_->game_port());
    if (!client.ok()) return client.status();
    absl::StatusOr<game::v1::Welcome> reply = (*client)->Login(credential);
    if (!reply.ok()) return reply.status();
    *welcome = *reply;
    return client;
  }

  // Waits for a line of the service's stderr that has every one of `parts`.
  bool ServiceLogHas(const std::vector<std::string>& parts) {
    return WaitFor(
        [&] {
          for (absl::string_view line :
               absl::StrSplit(cluster_->service()->ReadStderr(), '\n')) {
            if (std::all_of(parts.begin(), parts.end(),
                            [&](const std::string& part) {
                              return absl::StrContains(line, part);
                            })) {
              return true;
            }
          }
          return false;
        },
        absl::Seconds(10), absl::Milliseconds(20));
  }

  std::string log_dir_;
  int runs_ = 0;
  bool with_token_ = true;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(SessionctlTest, UsageErrorsNeedNoService) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"frobnicate"},
                                             {"list", "--no_such_flag"},
                                             {"list", "--state", "sleepy"},
                                             {"get"},
                                             {"evict", "0001000000000001"},
                                             {"info", "--deadline", "soon"}}) {
    const CliResult result = Cli(args);
    EXPECT_EQ(result.exit_code, 2) << result;
    EXPECT_TRUE(absl::StartsWith(result.err, "sessionctl: ")) << result;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1)
        << result;
    EXPECT_TRUE(result.out.empty()) << result;
  }
  const CliResult help = Cli({"--help"});
  EXPECT_EQ(help.exit_code, 0) << help;
  EXPECT_THAT(help.out, HasSubstr("Exit codes:"));
}

TEST_F(SessionctlTest, UnreachableTargetIsExit5) {
  const std::string target = absl::StrCat("127.0.0.1:", ClosedPort());
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"info"},
                                             {"list"},
                                             {"health"},
                                             {"get", "--player", "x"},
                                             {"watch", "--deadline=500ms"}}) {
    std::vector<std::string> full = args;
    full.push_back("--target=" + target);
    const CliResult result = Cli(full);
    EXPECT_EQ(result.exit_code, 5) << result;
    EXPECT_THAT(result.err, HasSubstr("cannot reach " + target));
    EXPECT_THAT(result.err, HasSubstr("(UNAVAILABLE)\n"));
  }
}

TEST_F(SessionctlTest, InfoAndHealth) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_OK_AND_ASSIGN(ops::v1::ServerInfo info,
                       cluster_->ops().GetServerInfo());

  CliResult result = Cli({"info"});
  EXPECT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, HasSubstr("instance:  " + info.instance_id()));
  EXPECT_THAT(result.out, HasSubstr("gateways:  1"));

  result = Cli({"info", "--json"});
  EXPECT_EQ(result.exit_code, 0) << result;
  ops::v1::ServerInfo parsed;
  ASSERT_OK(ParseJson(result.out, &parsed));
  EXPECT_EQ(parsed.instance_id(), info.instance_id());
  EXPECT_EQ(parsed.gateways_attached(), 1u);

  result = Cli({"health"});
  EXPECT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out, "SERVING\n");
  result = Cli({"health", "--service", "gss.ops.v1.SessionInspection"});
  EXPECT_EQ(result.exit_code, 0) << result;
  result = Cli({"health", "--service", "no.such.Service"});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("(NOT_FOUND)"));

  // Draining: health turns NOT_SERVING, a non-zero exit.
  ASSERT_OK(cluster_->service()->Signal(SIGTERM));
  EXPECT_TRUE(WaitFor(
      [&] {
        const CliResult health = Cli({"health", "--deadline=1s"});
        return health.exit_code != 0;
      },
      absl::Seconds(10), absl::Milliseconds(50)));
}

TEST_F(SessionctlTest, ListGetAndEvict) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  game::v1::Welcome alice_welcome, bob_welcome;
  ASSERT_OK_AND_ASSIGN(auto alice, LoggedIn("alice", &alice_welcome));
  ASSERT_OK_AND_ASSIGN(auto bob, LoggedIn("bob", &bob_welcome));
  const std::string alice_id = alice_welcome.session_id();
  const std::string bob_id = bob_welcome.session_id();

  // One JSON document with both sessions.
  CliResult result = Cli({"list", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  ops::v1::ListSessionsResponse listed;
  ASSERT_OK(ParseJson(result.out, &listed));
  std::vector<std::string> players;
  for (const ops::v1::Session& session : listed.sessions()) {
    players.push_back(session.player_id());
    EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);
  }
  EXPECT_THAT(players, UnorderedElementsAre("alice", "bob"));
  EXPECT_TRUE(listed.next_page_token().empty());

  // The table, filtered by state and gateway.
  result = Cli({"list", "--state", "active,suspect"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, HasSubstr("SESSION"));
  EXPECT_THAT(result.out, HasSubstr(alice_id));
  EXPECT_THAT(result.out, HasSubstr(bob_id));
  result = Cli({"list", "--state", "reconnecting"});
  EXPECT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out, "(no sessions)\n");
  const uint32_t gateway = listed.sessions(0).remote().gateway_id();
  result = Cli({"list", "--gateway", absl::StrCat(gateway + 1)});
  EXPECT_EQ(result.out, "(no sessions)\n") << result;

  // Paging: one page of one, or every page with --all.
  result = Cli({"list", "--page_size=1"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, HasSubstr("more: --page_token "));
  result = Cli({"list", "--page_size=1", "--all", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  ops::v1::ListSessionsResponse walked;
  ASSERT_OK(ParseJson(result.out, &walked));
  EXPECT_EQ(walked.sessions_size(), 2);
  result = Cli({"list", "--page_size=5000"});
  EXPECT_EQ(result.exit_code, 4) << result;
  EXPECT_THAT(result.err, HasSubstr("(INVALID_ARGUMENT)"));

  // get by each key.
  result = Cli({"get", "--session", alice_id});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, HasSubstr("player:          alice\n"));
  EXPECT_THAT(result.out, HasSubstr("state:           active\n"));
  result = Cli({"get", "--player", "bob", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  ops::v1::Session bob_session;
  ASSERT_OK(ParseJson(result.out, &bob_session));
  EXPECT_EQ(bob_session.session_id(), bob_id);
  result =
      Cli({"get", "--gateway", absl::StrCat(bob_session.remote().gateway_id()),
           "--connection", absl::StrCat(bob_session.remote().connection_id())});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, HasSubstr(bob_id));

  // Errors: unknown and malformed ids.
  result = Cli({"get", "--session", "00a1000000000abc"});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_EQ(result.err,
            "sessionctl: session 00a1000000000abc not found (NOT_FOUND)\n");
  result = Cli({"get", "--player", "nobody"});
  EXPECT_EQ(result.exit_code, 3) << result;
  result = Cli({"get", "--session", "not-an-id"});
  EXPECT_EQ(result.exit_code, 4) << result;
  EXPECT_THAT(result.err, HasSubstr("malformed session id"));
  EXPECT_THAT(result.err, HasSubstr("(INVALID_ARGUMENT)\n"));
  result = Cli({"evict", "00a1000000000abc", "--reason", "x"});
  EXPECT_EQ(result.exit_code, 3) << result;
  result = Cli({"evict", "zz", "--reason", "x"});
  EXPECT_EQ(result.exit_code, 4) << result;

  // Evict alice: she is told, bob carries on.
  result = Cli({"evict", alice_id, "--reason", "ticket 12", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  ops::v1::EvictSessionResponse evicted;
  ASSERT_OK(ParseJson(result.out, &evicted));
  EXPECT_EQ(evicted.transition().session_id(), alice_id);
  EXPECT_EQ(evicted.transition().to(), ops::v1::SESSION_STATE_CLOSED);
  EXPECT_EQ(evicted.transition().close_reason(), "evicted");
  ASSERT_OK_AND_ASSIGN(game::v1::ServerMessage told,
                       alice->ReceiveBody(game::v1::ServerMessage::kDisconnect,
                                          absl::Seconds(5)));
  EXPECT_EQ(told.disconnect().detail(), "ticket 12");
  ASSERT_OK(bob->Ping());
}

TEST_F(SessionctlTest, WatchCountPrintsTransitionsInOrder) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  // A reference watch in place before anything happens.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SessionWatch> reference,
                       cluster_->ops().WatchSynced());

  constexpr int kCount = 5;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Process> watch,
                       Spawn({"watch", "--snapshot", "--json",
                              absl::StrCat("--count=", kCount)}));
  // The snapshot's end says the CLI's watch is in place.
  ASSERT_TRUE(WaitFor(
      [&] { return absl::StrContains(watch->ReadStdout(), "snapshot_done"); },
      absl::Seconds(10)))
      << watch->LogTail();

  // Logins and a goodbye make more than kCount transitions.
  std::vector<std::unique_ptr<GameTestClient>> clients;
  for (const char* name : {"w1", "w2", "w3"}) {
    game::v1::Welcome welcome;
    ASSERT_OK_AND_ASSIGN(auto client, LoggedIn(name, &welcome));
    clients.push_back(std::move(client));
  }
  ASSERT_OK(clients[0]->Goodbye());

  const CliResult result = Finish(*watch, absl::Seconds(10));
  ASSERT_EQ(result.exit_code, 0) << result;
  std::vector<ops::v1::Transition> printed;
  for (absl::string_view line : absl::StrSplit(result.out, '\n')) {
    if (line.empty()) continue;
    ops::v1::WatchSessionsResponse event;
    ASSERT_OK(ParseJson(std::string(line), &event));
    if (event.has_transition()) printed.push_back(event.transition());
  }
  ASSERT_EQ(printed.size(), static_cast<size_t>(kCount)) << result;

  // The same transitions, in the same order, as the reference watch saw.
  std::vector<ops::v1::Transition> expected;
  while (expected.size() < static_cast<size_t>(kCount)) {
    std::optional<ops::v1::WatchSessionsResponse> event =
        reference->Next(absl::Seconds(5));
    ASSERT_TRUE(event.has_value());
    if (event->has_transition()) expected.push_back(event->transition());
  }
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(printed[i].session_id(), expected[i].session_id()) << i;
    EXPECT_EQ(printed[i].sequence(), expected[i].sequence()) << i;
    EXPECT_EQ(printed[i].to(), expected[i].to()) << i;
  }

  // Without --count, a watch runs until interrupted and then exits 0.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Process> open_watch,
                       Spawn({"watch", "--snapshot"}));
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(open_watch->ReadStdout(), "snapshot done");
      },
      absl::Seconds(10)))
      << open_watch->LogTail();
  EXPECT_THAT(open_watch->ReadStdout(), HasSubstr("snapshot  "));
  ASSERT_OK(open_watch->Signal(SIGINT));
  const CliResult interrupted = Finish(*open_watch, absl::Seconds(10));
  EXPECT_EQ(interrupted.exit_code, 0) << interrupted;

  // Watching an unknown session is NOT_FOUND.
  const CliResult unknown = Cli({"watch", "--session", "00a1000000000abc"});
  EXPECT_EQ(unknown.exit_code, 3) << unknown;
}

TEST_F(SessionctlTest, MintedTokenLogsIn) {
  const std::string key_file = log_dir_ + "/jwt.key";
  std::ofstream(key_file) << "sessionctl-e2e-hs256-key-0123456789-abcdef\n";
  const std::string short_key_file = log_dir_ + "/short.key";
  std::ofstream(short_key_file) << "short\n";

  CliResult minted = Cli({"mint-token", "--key_file", key_file, "--player",
                          "carol", "--name", "Carol", "--role", "scout",
                          "--permissions", "move", "--ttl", "10m"});
  ASSERT_EQ(minted.exit_code, 0) << minted;
  const std::string token(absl::StripTrailingAsciiWhitespace(minted.out));
  const CliResult refused =
      Cli({"mint-token", "--key_file", short_key_file, "--player", "carol"});
  EXPECT_EQ(refused.exit_code, 1) << refused;
  EXPECT_THAT(refused.err, HasSubstr("at least 32"));

  ASSERT_NO_FATAL_FAILURE(
      StartCluster({"--authenticator=jwt", "--jwt_key_file=" + key_file}));
  game::v1::Welcome welcome;
  ASSERT_OK_AND_ASSIGN(auto carol, LoggedIn(token, &welcome));
  EXPECT_EQ(welcome.player_id(), "carol");
  EXPECT_EQ(welcome.display_name(), "Carol");
  EXPECT_EQ(welcome.role(), "scout");
  EXPECT_THAT(welcome.permissions(), ::testing::ElementsAre("move"));

  // A token signed with another key is refused.
  const std::string other_key_file = log_dir_ + "/other.key";
  std::ofstream(other_key_file)
      << "another-key-that-is-long-enough-0123456789\n";
  minted =
      Cli({"mint-token", "--key_file", other_key_file, "--player", "dave"});
  ASSERT_EQ(minted.exit_code, 0) << minted;
  ASSERT_OK_AND_ASSIGN(auto dave, GameTestClient::Connect(
                                      Transport::kTcp, cluster_->game_port()));
  EXPECT_FALSE(
      dave->Login(std::string(absl::StripTrailingAsciiWhitespace(minted.out)))
          .ok());

  // The service lists the minted player.
  const CliResult listed = Cli({"list", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed;
  ops::v1::ListSessionsResponse response;
  ASSERT_OK(ParseJson(listed.out, &response));
  ASSERT_EQ(response.sessions_size(), 1) << listed;
  EXPECT_EQ(response.sessions(0).player_id(), "carol");
  EXPECT_EQ(response.sessions(0).role(), "scout");
}

}  // namespace
}  // namespace gss::testing

namespace gss::testing {
namespace {

TEST_F(SessionctlTest, TokensAndRolesDecideWhatItMayDo) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  game::v1::Welcome welcome;
  ASSERT_OK_AND_ASSIGN(auto player, LoggedIn("mallory", &welcome));
  const std::string reader = "--token_file=" + cluster_->reader_token_file();

  with_token_ = false;
  CliResult result = Cli({"info"});
  EXPECT_EQ(result.exit_code, 7) << result;
  EXPECT_THAT(result.err, HasSubstr("sessionctl: not authenticated: "));
  EXPECT_THAT(result.err, HasSubstr("(UNAUTHENTICATED)"));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1)
      << result;
  result = Cli({"list", "--token=not-a-token-the-service-knows"});
  EXPECT_EQ(result.exit_code, 7) << result;
  EXPECT_THAT(result.err, HasSubstr("unknown ops token"));
  // Health stays open for probes.
  result = Cli({"health"});
  EXPECT_EQ(result.exit_code, 0) << result;
  // The environment variable, when no flag gives a token.
  ASSERT_EQ(setenv("GSS_OPS_TOKEN", cluster_->reader_token().c_str(), 1), 0);
  result = Cli({"info"});
  unsetenv("GSS_OPS_TOKEN");
  EXPECT_EQ(result.exit_code, 0) << result;
  result = Cli({"info", "--token_file=/nonexistent/token"});
  EXPECT_EQ(result.exit_code, 1) << result;
  EXPECT_THAT(result.err, HasSubstr("cannot read token file"));

  // A reader looks; evicting is refused and leaves the session.
  EXPECT_EQ(Cli({"list", reader}).exit_code, 0);
  EXPECT_EQ(Cli({"get", "--player", "mallory", reader}).exit_code, 0);
  result = Cli({"evict", welcome.session_id(), "--reason", "griefing", reader});
  EXPECT_EQ(result.exit_code, 6) << result;
  EXPECT_THAT(result.err, HasSubstr("sessionctl: permission denied: "));
  EXPECT_THAT(result.err, HasSubstr("\"e2e-reader\" has the reader role"));
  ASSERT_OK_AND_ASSIGN(ops::v1::Session still,
                       cluster_->ops().GetSession(welcome.session_id()));
  EXPECT_EQ(still.state(), ops::v1::SESSION_STATE_ACTIVE);

  // An admin evicts; the audit line names the principal.
  with_token_ = true;
  result = Cli({"evict", welcome.session_id(), "--reason", "griefing"});
  EXPECT_EQ(result.exit_code, 0) << result;
  EXPECT_TRUE(
      ServiceLogHas({"audit: evict session=" + welcome.session_id(),
                     "player=\"mallory\"", "by=\"e2e-admin\"", "role=admin",
                     "reason=\"griefing\"", "result=evicted"}))
      << cluster_->LogTails();
  EXPECT_TRUE(ServiceLogHas({"audit: denied", "EvictSession", "e2e-reader"}));
}

TEST_F(SessionctlTest, TlsAndClientCertificates) {
  ASSERT_OK_AND_ASSIGN(TestCa server_ca, TestCa::Create("server-ca"));
  ASSERT_OK_AND_ASSIGN(TestCa client_ca, TestCa::Create("client-ca"));
  ASSERT_OK_AND_ASSIGN(CertAndKey server, server_ca.Issue("ops-server"));
  ASSERT_OK_AND_ASSIGN(CertAndKey client, client_ca.Issue("ops-cli"));
  const auto path = [&](const std::string& name) {
    return absl::StrCat(log_dir_, "/", name);
  };
  for (const auto& [name, contents] :
       std::vector<std::pair<std::string, std::string>>{
           {"server-ca.pem", server_ca.cert_pem()},
           {"client-ca.pem", client_ca.cert_pem()},
           {"server.pem", server.cert_pem},
           {"server.key", server.key_pem},
           {"client.pem", client.cert_pem},
           {"client.key", client.key_pem}}) {
    ASSERT_OK(WriteTestFile(path(name), contents));
  }
  ASSERT_NO_FATAL_FAILURE(
      StartCluster({"--ops_tls_cert_file=" + path("server.pem"),
                    "--ops_tls_key_file=" + path("server.key"),
                    "--ops_tls_client_ca_file=" + path("client-ca.pem")},
                   OpsClientOptions{.tls_ca_file = path("server-ca.pem"),
                                    .tls_cert_file = path("client.pem"),
                                    .tls_key_file = path("client.key")}));
  const std::string ca = "--tls_ca_file=" + path("server-ca.pem");
  const std::string cert = "--tls_cert_file=" + path("client.pem");
  const std::string key = "--tls_key_file=" + path("client.key");

  CliResult result = Cli({"info", "--deadline=2s"});  // Plaintext.
  EXPECT_EQ(result.exit_code, 5) << result;
  result = Cli({"info", "--deadline=2s", ca});  // No client certificate.
  EXPECT_EQ(result.exit_code, 5) << result;
  result = Cli({"info", ca, cert, key});
  EXPECT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, HasSubstr("gateways:  1"));
  result = Cli({"info", "--tls_server_name=localhost", ca, cert, key});
  EXPECT_EQ(result.exit_code, 0) << result;

  game::v1::Welcome welcome;
  ASSERT_OK_AND_ASSIGN(auto player, LoggedIn("trent", &welcome));
  result = Cli({"evict", welcome.session_id(), "--reason=tls", ca, cert, key});
  EXPECT_EQ(result.exit_code, 0) << result;
  EXPECT_TRUE(ServiceLogHas(
      {"audit: evict", "by=\"e2e-admin\"", "CN=ops-cli", "reason=\"tls\""}))
      << cluster_->LogTails();
}

}  // namespace
}  // namespace gss::testing
