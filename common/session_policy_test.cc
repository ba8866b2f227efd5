#include "common/session_policy.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace gss {
namespace {

// Expects `status` to be InvalidArgument with a message that names `field`.
void ExpectInvalidNaming(const absl::Status& status, const std::string& field) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(std::string(status.message()).find(field), std::string::npos)
      << "message \"" << status.message() << "\" does not name " << field;
}

TEST(ServerSessionPolicyTest, DefaultsValidate) {
  EXPECT_TRUE(ServerSessionPolicy().Validate().ok());
}

TEST(ServerSessionPolicyTest, DefaultsMatchTheDocumentedNumbers) {
  const ServerSessionPolicy policy;
  EXPECT_EQ(policy.login_timeout, absl::Seconds(10));
  EXPECT_EQ(policy.suspect_after, absl::Seconds(15));
  EXPECT_EQ(policy.liveness_timeout, absl::Seconds(30));
  EXPECT_EQ(policy.reconnect_grace, absl::Seconds(30));
  EXPECT_EQ(policy.max_resume_attempts, 3);
}

struct ServerCase {
  std::string name;
  std::function<void(ServerSessionPolicy&)> mutate;
  std::string field;
};

TEST(ServerSessionPolicyTest, EachInvalidSettingNamesItsField) {
  const std::vector<ServerCase> cases = {
      {"zero login_timeout",
       [](ServerSessionPolicy& p) { p.login_timeout = absl::ZeroDuration(); },
       "login_timeout"},
      {"negative login_timeout",
       [](ServerSessionPolicy& p) { p.login_timeout = absl::Seconds(-1); },
       "login_timeout"},
      {"zero suspect_after",
       [](ServerSessionPolicy& p) { p.suspect_after = absl::ZeroDuration(); },
       "suspect_after"},
      {"negative suspect_after",
       [](ServerSessionPolicy& p) { p.suspect_after = absl::Seconds(-5); },
       "suspect_after"},
      {"zero liveness_timeout",
       [](ServerSessionPolicy& p) {
         p.liveness_timeout = absl::ZeroDuration();
       },
       "liveness_timeout"},
      {"liveness_timeout equal to suspect_after",
       [](ServerSessionPolicy& p) { p.liveness_timeout = p.suspect_after; },
       "liveness_timeout"},
      {"liveness_timeout shorter than suspect_after",
       [](ServerSessionPolicy& p) {
         p.suspect_after = absl::Seconds(20);
         p.liveness_timeout = absl::Seconds(19);
       },
       "suspect_after"},
      {"negative reconnect_grace",
       [](ServerSessionPolicy& p) {
         p.reconnect_grace = absl::Milliseconds(-1);
       },
       "reconnect_grace"},
      {"zero max_resume_attempts",
       [](ServerSessionPolicy& p) { p.max_resume_attempts = 0; },
       "max_resume_attempts"},
      {"negative max_resume_attempts",
       [](ServerSessionPolicy& p) { p.max_resume_attempts = -3; },
       "max_resume_attempts"},
      {"too many max_resume_attempts",
       [](ServerSessionPolicy& p) { p.max_resume_attempts = 101; },
       "max_resume_attempts"},
  };
  for (const ServerCase& c : cases) {
    SCOPED_TRACE(c.name);
    ServerSessionPolicy policy;
    c.mutate(policy);
    ExpectInvalidNaming(policy.Validate(), c.field);
  }
}

TEST(ServerSessionPolicyTest, BoundaryValuesValidate) {
  ServerSessionPolicy policy;
  policy.reconnect_grace = absl::ZeroDuration();  // Holding disabled.
  policy.max_resume_attempts = 1;
  policy.login_timeout = absl::Nanoseconds(1);
  policy.suspect_after = absl::Seconds(1);
  policy.liveness_timeout = absl::Seconds(1) + absl::Nanoseconds(1);
  EXPECT_TRUE(policy.Validate().ok()) << policy.Validate();
  policy.max_resume_attempts = 100;
  EXPECT_TRUE(policy.Validate().ok()) << policy.Validate();
}

TEST(ServerSessionPolicyTest, RulesHoldForResumeOnlyWithAGraceWindow) {
  ServerSessionPolicy policy;
  policy.max_resume_attempts = 7;
  LifecycleRules rules = policy.rules();
  EXPECT_TRUE(rules.hold_for_resume);
  EXPECT_EQ(rules.max_resume_attempts, 7);

  policy.reconnect_grace = absl::ZeroDuration();
  rules = policy.rules();
  EXPECT_FALSE(rules.hold_for_resume);
  EXPECT_EQ(rules.max_resume_attempts, 7);
}

TEST(ClientSessionPolicyTest, DefaultsValidate) {
  EXPECT_TRUE(ClientSessionPolicy().Validate().ok());
}

TEST(ClientSessionPolicyTest, DefaultsMatchTheSeedRuntimeFlow) {
  const ClientSessionPolicy policy;
  EXPECT_EQ(policy.heartbeat_interval, absl::Seconds(10));
  EXPECT_EQ(policy.reconnect_delay, absl::Seconds(5));
  EXPECT_EQ(policy.max_reconnect_attempts, 3);
}

struct ClientCase {
  std::string name;
  std::function<void(ClientSessionPolicy&)> mutate;
  std::string field;
};

TEST(ClientSessionPolicyTest, EachInvalidSettingNamesItsField) {
  const std::vector<ClientCase> cases = {
      {"zero heartbeat_interval",
       [](ClientSessionPolicy& p) {
         p.heartbeat_interval = absl::ZeroDuration();
       },
       "heartbeat_interval"},
      {"negative heartbeat_interval",
       [](ClientSessionPolicy& p) { p.heartbeat_interval = absl::Seconds(-1); },
       "heartbeat_interval"},
      {"zero pong_timeout",
       [](ClientSessionPolicy& p) { p.pong_timeout = absl::ZeroDuration(); },
       "pong_timeout"},
      {"negative pong_timeout",
       [](ClientSessionPolicy& p) { p.pong_timeout = absl::Seconds(-2); },
       "pong_timeout"},
      {"zero attempt_timeout",
       [](ClientSessionPolicy& p) { p.attempt_timeout = absl::ZeroDuration(); },
       "attempt_timeout"},
      {"negative reconnect_delay",
       [](ClientSessionPolicy& p) {
         p.reconnect_delay = absl::Milliseconds(-1);
       },
       "reconnect_delay"},
      {"zero max_reconnect_attempts",
       [](ClientSessionPolicy& p) { p.max_reconnect_attempts = 0; },
       "max_reconnect_attempts"},
      {"too many max_reconnect_attempts",
       [](ClientSessionPolicy& p) { p.max_reconnect_attempts = 1000; },
       "max_reconnect_attempts"},
  };
  for (const ClientCase& c : cases) {
    SCOPED_TRACE(c.name);
    ClientSessionPolicy policy;
    c.mutate(policy);
    ExpectInvalidNaming(policy.Validate(), c.field);
  }
}

TEST(ClientSessionPolicyTest, BoundaryValuesValidate) {
  ClientSessionPolicy policy;
  policy.reconnect_delay = absl::ZeroDuration();  // Retry at once.
  policy.max_reconnect_attempts = 1;
  EXPECT_TRUE(policy.Validate().ok()) << policy.Validate();
  policy.max_reconnect_attempts = 100;
  EXPECT_TRUE(policy.Validate().ok()) << policy.Validate();
}

TEST(ClientSessionPolicyTest, RulesAlwaysHoldAndUseTheReconnectBudget) {
  ClientSessionPolicy policy;
  policy.max_reconnect_attempts = 4;
  const LifecycleRules rules = policy.rules();
  EXPECT_TRUE(rules.hold_for_resume);
  EXPECT_EQ(rules.max_resume_attempts, 4);
}

}  // namespace
}  // namespace gss
