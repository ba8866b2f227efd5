// End-to-end: the session_service process and its ops credentials: what it
// refuses at start (exit 2 with a reason), and tokens rotated while it runs
// (SIGHUP, or the file's contents changing).
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/ops_client.h"
#include "tests/support/process.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kNewAdminToken[] = "rotated-admin-0123456789abcdef0123";

absl::Status WriteAtomically(const std::string& path,
                             const std::string& contents) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary, std::ios::trunc);
    file << contents;
    if (!file) return absl::InternalError("cannot write " + temporary);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InternalError("cannot rename to " + path);
  }
  return absl::OkStatus();
}

class OpsAuthStartTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTestTempDir("ops_auth"); }

  // Runs the service with `flags` and expects it to refuse to start: exit
  // 2 with one line on stderr, returned.
  std::string Refused(std::vector<std::string> flags) {
    flags.insert(flags.end(),
                 {"--link_address=127.0.0.1:0", "--ops_address=127.0.0.1:0",
                  "--metrics_address="});
    absl::StatusOr<std::unique_ptr<Process>> process =
        Process::Start({SessionServiceBinary(), flags, dir_,
                        absl::StrCat("session_service_", ++runs_)});
    if (!process.ok()) {
      ADD_FAILURE() << process.status();
      return "";
    }
    absl::StatusOr<ExitStatus> exit =
        (*process)->WaitForExit(absl::Seconds(20));
    if (!exit.ok()) {
      ADD_FAILURE() << exit.status();
      return "";
    }
    EXPECT_TRUE(exit->exited && exit->code == 2) << exit->ToString() << "\n"
                                                 << (*process)->LogTail();
    return (*process)->ReadStderr();
  }

  std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = absl::StrCat(dir_, "/", name);
    EXPECT_OK(WriteAtomically(path, contents));
    return path;
  }

  std::string dir_;
  int runs_ = 0;
};

TEST_F(OpsAuthStartTest, RefusesToStartWithoutOpsCredentials) {
  const std::string err = Refused({});
  EXPECT_THAT(err, HasSubstr("the ops API needs credentials"));
  EXPECT_THAT(err, HasSubstr("--ops_tokens_file"));
  EXPECT_THAT(err, HasSubstr("--ops_auth=none"));
}

TEST_F(OpsAuthStartTest, RefusesBadTokensFilesAndFlags) {
  EXPECT_THAT(Refused({"--ops_tokens_file=" + dir_ + "/missing"}),
              HasSubstr("cannot read ops tokens file"));
  const std::string bad = Write("bad.tokens", "admin alice short\n");
  const std::string err = Refused({"--ops_tokens_file=" + bad});
  EXPECT_THAT(err, HasSubstr("line 1"));
  EXPECT_THAT(err, Not(HasSubstr("short\n")));
  EXPECT_THAT(Refused({"--ops_auth=maybe"}),
              HasSubstr("--ops_auth must be tokens or none"));
  const std::string good =
      Write("good.tokens", "admin alice admin-token-0123456789abcdef0123\n");
  EXPECT_THAT(Refused({"--ops_auth=none", "--ops_tokens_file=" + good}),
              HasSubstr("drop one of them"));
  EXPECT_THAT(Refused({"--ops_tokens_file=" + good,
                       "--ops_tls_cert_file=" + dir_ + "/none.pem",
                       "--ops_tls_key_file=" + dir_ + "/none.key"}),
              HasSubstr("ops_tls_cert_file: cannot read"));
  EXPECT_THAT(
      Refused({"--ops_tokens_file=" + good, "--ops_tls_key_file=" + good}),
      HasSubstr("go together"));
}

class OpsTokenRotationTest : public ::testing::Test {
 protected:
  void StartCluster(const std::string& reload_interval) {
    ClusterOptions options;
    options.start_gateway = false;
    options.service_flags = {"--ops_tokens_reload_interval=" + reload_interval};
    ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(std::move(options)));
  }

  // Replaces the tokens file: the old admin token gives way to a new one.
  void Rotate() {
    ASSERT_OK(WriteAtomically(
        cluster_->ops_tokens_file(),
        absl::StrCat("admin ", kClusterAdmin, " ", kNewAdminToken, "\n")));
  }

  // Waits until the old admin token is refused and the new one works.
  bool Rotated() {
    OpsClient old_token(cluster_->ops_address(),
                        OpsClientOptions{.token = cluster_->admin_token()});
    OpsClient new_token(cluster_->ops_address(),
                        OpsClientOptions{.token = kNewAdminToken});
    return WaitFor(
        [&] {
          return absl::IsUnauthenticated(old_token.GetServerInfo().status()) &&
                 new_token.GetServerInfo().ok();
        },
        absl::Seconds(10), absl::Milliseconds(20));
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_F(OpsTokenRotationTest, SighupRereadsTheTokensFile) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("0"));
  ASSERT_NO_FATAL_FAILURE(Rotate());
  // Without polling nothing changes until the signal.
  ASSERT_OK(cluster_->ops().GetServerInfo());
  ASSERT_OK(cluster_->service()->Signal(SIGHUP));
  EXPECT_TRUE(Rotated()) << cluster_->LogTails();
}

TEST_F(OpsTokenRotationTest, AChangedFileIsPickedUpAndABadOneIgnored) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("50ms"));
  ASSERT_OK(WriteAtomically(cluster_->ops_tokens_file(), "admin x short\n"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(cluster_->service()->ReadStderr(),
                                 "ops tokens not reloaded");
      },
      absl::Seconds(10), absl::Milliseconds(20)))
      << cluster_->LogTails();
  EXPECT_OK(cluster_->ops().GetServerInfo());  // The old tokens stay.
  ASSERT_NO_FATAL_FAILURE(Rotate());
  EXPECT_TRUE(Rotated()) << cluster_->LogTails();
}

TEST_F(OpsTokenRotationTest, OpsAuthNoneLeavesTheApiOpen) {
  ClusterOptions options;
  options.start_gateway = false;
  options.service_flags = {"--ops_auth=none"};
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(std::move(options)));
  OpsClient anyone(cluster_->ops_address());
  EXPECT_OK(anyone.GetServerInfo());
  EXPECT_THAT(cluster_->service()->ReadStderr(),
              HasSubstr("warning: --ops_auth=none"));
}

}  // namespace
}  // namespace gss::testing
