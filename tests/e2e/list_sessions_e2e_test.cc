// End-to-end: ListSessions pages through 10,000 real sessions in id order,
// without duplicates or gaps, while other sessions come and go mid-walk.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

using game::v1::ServerMessage;

constexpr int kStableSessions = 10000;
// Interleaved with the stable ones at creation, removed during the walk.
constexpr int kChurnSessions = 1000;
constexpr int kBatch = 250;
constexpr int kPageSize = 200;

// Connects one TCP client per name and logs it in, a batch at a time (all
// logins of a batch in flight together).
absl::Status ConnectMany(int port, const std::vector<std::string>& names,
                         std::vector<std::unique_ptr<GameTestClient>>& clients,
                         std::vector<std::string>& session_ids) {
  const int count = static_cast<int>(names.size());
  for (int start = 0; start < count; start += kBatch) {
    const int end = std::min(count, start + kBatch);
    std::vector<std::unique_ptr<GameTestClient>> batch;
    for (int i = start; i < end; ++i) {
      auto client = GameTestClient::Connect(Transport::kTcp, port);
      if (!client.ok()) return client.status();
      game::v1::ClientMessage login;
      login.mutable_login()->set_credential(names[i]);
      absl::Status sent = (*client)->Send(login);
      if (!sent.ok()) return sent;
      batch.push_back(*std::move(client));
    }
    for (auto& client : batch) {
      auto reply = client->ReceiveMatching(
          [](const ServerMessage& m) {
            return m.has_welcome() || m.has_login_rejected() ||
                   m.has_disconnect();
          },
          absl::Seconds(20));
      if (!reply.ok()) return reply.status();
      if (!reply->has_welcome()) {
        return absl::FailedPreconditionError(
            absl::StrCat("login refused: ", Describe(*reply)));
      }
      session_ids.push_back(reply->welcome().session_id());
      clients.push_back(std::move(client));
    }
  }
  return absl::OkStatus();
}

TEST(ListSessionsScaleTest, PagesThroughTenThousandWhileOthersComeAndGo) {
  const absl::Time test_start = absl::Now();
  // Every session is one TCP connection: one descriptor here and one in the
  // gateway, which inherits this limit.
  ASSERT_OK_AND_ASSIGN(uint64_t fd_limit, RaiseFileLimit(1 << 16));
  const uint64_t fds_needed = kStableSessions + kChurnSessions + 2000;
  if (fd_limit < fds_needed) {
    GTEST_FAIL() << "RLIMIT_NOFILE hard limit " << fd_limit << " < "
                 << fds_needed << " needed for this test";
  }
  ClusterOptions options;
  options.service_flags = {"--login_timeout=300s"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  const int port = cluster->game_port();

  // 11,000 sessions; every eleventh is a churn session, so the removals hit
  // ids on both sides of the walk's cursor.
  std::vector<std::string> names;
  constexpr int kGroup = kStableSessions / kChurnSessions + 1;
  for (int i = 0; i < kStableSessions + kChurnSessions; ++i) {
    names.push_back(
        absl::StrCat(i % kGroup == kGroup - 1 ? "churn-" : "stable-", i));
  }
  std::vector<std::unique_ptr<GameTestClient>> all_clients;
  std::vector<std::string> all_ids;
  ASSERT_OK(ConnectMany(port, names, all_clients, all_ids));
  std::vector<std::unique_ptr<GameTestClient>> stable_clients;
  std::vector<std::string> stable_ids;
  std::vector<std::unique_ptr<GameTestClient>> churn_clients;
  std::vector<std::string> churn_ids;
  for (size_t i = 0; i < names.size(); ++i) {
    const bool churn = names[i].starts_with("churn-");
    (churn ? churn_clients : stable_clients)
        .push_back(std::move(all_clients[i]));
    (churn ? churn_ids : stable_ids).push_back(all_ids[i]);
  }
  const absl::Duration setup_time = absl::Now() - test_start;
  ASSERT_EQ(stable_ids.size(), size_t{kStableSessions});
  std::cerr << "set up " << stable_ids.size() + churn_ids.size()
            << " sessions in " << setup_time << "\n";

  // Churn: remove the churn sessions one by one (orderly goodbye, so they
  // close at once) in random order, and add new sessions, until told to stop.
  absl::Mutex mutex;
  absl::flat_hash_set<std::string> removed_ids;  // Guarded by mutex.
  absl::flat_hash_set<std::string> added_ids;    // Guarded by mutex.
  std::atomic<int> churn_steps{0};
  std::atomic<bool> stop{false};
  std::string churn_error;  // Written by the churn thread only.
  std::vector<size_t> order(churn_clients.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(20240601));
  std::vector<std::unique_ptr<GameTestClient>> added_clients;
  std::thread churn([&] {
    size_t next = 0;
    int added = 0;
    while (!stop.load()) {
      if (next < order.size()) {
        GameTestClient& leaving = *churn_clients[order[next]];
        absl::Status bye = leaving.Goodbye();
        if (!bye.ok()) {
          churn_error = absl::StrCat("goodbye: ", bye.ToString());
          return;
        }
        absl::MutexLock lock(&mutex);
        removed_ids.insert(churn_ids[order[next]]);
        ++next;
      }
      std::vector<std::string> ids;
      absl::Status added_ok = ConnectMany(
          port, {absl::StrCat("added-", added++)}, added_clients, ids);
      if (!added_ok.ok()) {
        churn_error = absl::StrCat("add: ", added_ok.ToString());
        return;
      }
      {
        absl::MutexLock lock(&mutex);
        added_ids.insert(ids.begin(), ids.end());
      }
      churn_steps.fetch_add(1);
    }
  });

  // The walk. Before each page the churn thread has made progress, so every
  // page boundary sees sessions added and removed.
  std::vector<std::string> listed;
  ops::v1::ListSessionsRequest request;
  request.set_page_size(kPageSize);
  int pages = 0;
  const int steps_at_start = churn_steps.load();
  const absl::Time walk_start = absl::Now();
  bool walk_failed = false;
  while (true) {
    const int steps = churn_steps.load();
    if (!WaitFor([&] { return churn_steps.load() > steps || stop.load(); },
                 absl::Seconds(10))) {
      ADD_FAILURE() << "churn thread stalled: " << churn_error;
      walk_failed = true;
      break;
    }
    absl::StatusOr<ops::v1::ListSessionsResponse> page =
        cluster->ops().ListSessions(request);
    if (!page.ok()) {
      ADD_FAILURE() << "page " << pages << ": " << page.status();
      walk_failed = true;
      break;
    }
    ++pages;
    EXPECT_LE(page->sessions_size(), kPageSize);
    for (const ops::v1::Session& session : page->sessions()) {
      listed.push_back(session.session_id());
    }
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
    if (pages > 1000) {
      ADD_FAILURE() << "the walk does not end";
      walk_failed = true;
      break;
    }
  }
  const absl::Duration walk_time = absl::Now() - walk_start;
  stop.store(true);
  churn.join();
  ASSERT_FALSE(walk_failed);
  EXPECT_TRUE(churn_error.empty()) << churn_error;
  const int churn_during_walk = churn_steps.load() - steps_at_start;
  std::cerr << "walked " << listed.size() << " sessions in " << pages
            << " pages in " << walk_time << " with " << churn_during_walk
            << " churn steps\n";
  EXPECT_GE(churn_during_walk, pages - 1);

  // Ascending throughout, hence no duplicates.
  for (size_t i = 1; i < listed.size(); ++i) {
    if (!(listed[i - 1] < listed[i])) {
      ADD_FAILURE() << "not ascending at " << i << ": " << listed[i - 1]
                    << " then " << listed[i];
      break;
    }
  }
  std::set<std::string> listed_set(listed.begin(), listed.end());
  EXPECT_EQ(listed_set.size(), listed.size()) << "duplicates in the walk";

  // No gaps: every session present for the whole walk was listed.
  int missing_stable = 0;
  for (const std::string& id : stable_ids) {
    if (!listed_set.contains(id)) ++missing_stable;
  }
  EXPECT_EQ(missing_stable, 0) << "stable sessions missing from the walk";
  absl::MutexLock lock(&mutex);
  int missing_churn = 0;
  for (const std::string& id : churn_ids) {
    if (!removed_ids.contains(id) && !listed_set.contains(id)) ++missing_churn;
  }
  EXPECT_EQ(missing_churn, 0) << "unremoved churn sessions missing";
  // Nothing listed that the test did not create.
  std::set<std::string> known(stable_ids.begin(), stable_ids.end());
  known.insert(churn_ids.begin(), churn_ids.end());
  known.insert(added_ids.begin(), added_ids.end());
  int unknown = 0;
  for (const std::string& id : listed) {
    if (!known.contains(id)) ++unknown;
  }
  EXPECT_EQ(unknown, 0) << "sessions listed that nobody created";
  EXPECT_FALSE(removed_ids.empty());
  EXPECT_FALSE(added_ids.empty());
  EXPECT_TRUE(cluster->service()->Running());
  EXPECT_TRUE(cluster->gateway()->Running());
  // Not asserted (sanitizer builds are slower), but reported: the optimised
  // build takes a few seconds.
  std::cerr << "whole test: " << absl::Now() - test_start << "\n";
}

}  // namespace
}  // namespace gss::testing
