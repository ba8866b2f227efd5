// Tests of the peer registry (capacity, exactly-once removal, shutdown,
// counts) and of connection id generation.
#include "gateway/peer_table.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace gss::gateway {
namespace {

class FakePeer : public Peer {
 public:
  FakePeer(uint64_t id, Transport transport)
      : Peer(PeerIdentity{id, transport, "127.0.0.1:1"}) {}
  void Deliver(std::string) override {}
  void CloseByService(std::string, std::string) override {}
  void CloseByGateway(wire::DisconnectCode, std::string) override {}
};

std::shared_ptr<Peer> Make(uint64_t id, Transport t = Transport::kUdp) {
  return std::make_shared<FakePeer>(id, t);
}

TEST(PeerTableTest, InsertFindRemove) {
  PeerTable table(10);
  ASSERT_TRUE(table.Insert(Make(1)).ok());
  ASSERT_TRUE(table.Insert(Make(2, Transport::kTcp)).ok());
  EXPECT_EQ(table.size(), 2u);
  ASSERT_NE(table.Find(1), nullptr);
  EXPECT_EQ(table.Find(1)->connection_id(), 1u);
  EXPECT_EQ(table.Find(3), nullptr);
  EXPECT_TRUE(table.Remove(1));
  EXPECT_FALSE(table.Remove(1));  // Exactly one remover wins.
  EXPECT_EQ(table.Find(1), nullptr);
  EXPECT_EQ(table.size(), 1u);
}

TEST(PeerTableTest, RefusesBeyondCapacityAndDuplicates) {
  PeerTable table(2);
  ASSERT_TRUE(table.Insert(Make(1)).ok());
  EXPECT_EQ(table.Insert(Make(1)).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(table.Insert(Make(2)).ok());
  EXPECT_EQ(table.Insert(Make(3)).code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(table.Remove(2));
  EXPECT_TRUE(table.Insert(Make(3)).ok());
}

TEST(PeerTableTest, StopAdmittingRefusesNewPeers) {
  PeerTable table(10);
  ASSERT_TRUE(table.Insert(Make(1)).ok());
  table.StopAdmitting();
  EXPECT_EQ(table.Insert(Make(2)).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(table.Remove(1));
}

TEST(PeerTableTest, CountsByTransportAndReportsThem) {
  std::vector<std::pair<Transport, size_t>> reports;
  PeerTable table(10, [&](Transport t, size_t n) {
    reports.push_back({t, n});
  });
  ASSERT_TRUE(table.Insert(Make(1, Transport::kUdp)).ok());
  ASSERT_TRUE(table.Insert(Make(2, Transport::kTcp)).ok());
  ASSERT_TRUE(table.Insert(Make(3, Transport::kUdp)).ok());
  EXPECT_EQ(table.count(Transport::kUdp), 2u);
  EXPECT_EQ(table.count(Transport::kTcp), 1u);
  ASSERT_TRUE(table.Remove(1));
  EXPECT_EQ(table.count(Transport::kUdp), 1u);
  const std::vector<std::pair<Transport, size_t>> expected = {
      {Transport::kUdp, 1},
      {Transport::kTcp, 1},
      {Transport::kUdp, 2},
      {Transport::kUdp, 1}};
  EXPECT_EQ(reports, expected);
}

TEST(PeerTableTest, SnapshotHoldsEveryPeer) {
  PeerTable table(10);
  for (uint64_t id = 1; id <= 5; ++id) ASSERT_TRUE(table.Insert(Make(id)).ok());
  absl::flat_hash_set<uint64_t> ids;
  for (const auto& peer : table.Snapshot()) ids.insert(peer->connection_id());
  EXPECT_EQ(ids, (absl::flat_hash_set<uint64_t>{1, 2, 3, 4, 5}));
}

TEST(PeerTableTest, WaitUntilEmpty) {
  PeerTable table(10);
  EXPECT_TRUE(table.WaitUntilEmpty(absl::ZeroDuration()));
  ASSERT_TRUE(table.Insert(Make(1)).ok());
  EXPECT_FALSE(table.WaitUntilEmpty(absl::Milliseconds(1)));
  std::thread remover([&] { table.Remove(1); });
  EXPECT_TRUE(table.WaitUntilEmpty(absl::Seconds(30)));
  remover.join();
}

TEST(PeerTableTest, ConcurrentRemoversAgreeOnOneWinner) {
  PeerTable table(1000);
  for (uint64_t id = 1; id <= 500; ++id)
    ASSERT_TRUE(table.Insert(Make(id)).ok());
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (uint64_t id = 1; id <= 500; ++id) wins += table.Remove(id);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wins.load(), 500);
  EXPECT_EQ(table.size(), 0u);
}

TEST(ConnectionIdGeneratorTest, RandomHighBitsThenCounter) {
  ConnectionIdGenerator ids(0xabcdef01);
  EXPECT_EQ(ids.Next(), 0xabcdef0100000001u);
  EXPECT_EQ(ids.Next(), 0xabcdef0100000002u);
}

TEST(ConnectionIdGeneratorTest, UniqueAcrossThreads) {
  ConnectionIdGenerator ids(7);
  std::vector<std::vector<uint64_t>> made(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) made[t].push_back(ids.Next());
    });
  }
  for (auto& thread : threads) thread.join();
  absl::flat_hash_set<uint64_t> all;
  for (const auto& v : made) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 40000u);
}

}  // namespace
}  // namespace gss::gateway
