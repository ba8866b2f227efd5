#include "gateway/edge_heartbeat.h"

#include <string>

#include "gss/game/v1/game.pb.h"
#include "gtest/gtest.h"

namespace gss::gateway {
namespace {

using game::v1::ClientMessage;
using game::v1::ServerMessage;

constexpr int64_t kNowUs = 1'700'000'000'000'000;

std::string Ping(int64_t client_time_us, int64_t echo_server_time_us = 0,
                 int64_t echo_hold_us = 0) {
  ClientMessage message;
  message.mutable_ping()->set_client_time_us(client_time_us);
  message.mutable_ping()->set_echo_server_time_us(echo_server_time_us);
  message.mutable_ping()->set_echo_hold_us(echo_hold_us);
  return message.SerializeAsString();
}

std::string Move() {
  ClientMessage message;
  message.mutable_move()->set_tick(5);
  message.mutable_move()->set_dx(1);
  return message.SerializeAsString();
}

TEST(AnswerPingTest, APingGetsThePongTheServiceWouldSend) {
  std::optional<EdgePong> answer = AnswerPing(Ping(-42), kNowUs);
  ASSERT_TRUE(answer.has_value());
  ServerMessage pong;
  ASSERT_TRUE(pong.ParseFromString(answer->pong));
  ASSERT_TRUE(pong.has_pong());
  EXPECT_EQ(pong.pong().client_time_us(), -42);
  EXPECT_EQ(pong.pong().server_time_us(), kNowUs);
  EXPECT_EQ(answer->rtt, std::nullopt);  // A first Ping echoes nothing.
}

TEST(AnswerPingTest, TheEchoOfAnEarlierPongGivesTheRoundTrip) {
  std::optional<EdgePong> answer =
      AnswerPing(Ping(7, kNowUs - 30'000, 10'000), kNowUs);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->rtt, absl::Milliseconds(20));
  // Impossible echoes still get their Pong, without a figure.
  answer = AnswerPing(Ping(7, kNowUs + 1, 0), kNowUs);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->rtt, std::nullopt);
}

TEST(AnswerPingTest, AnythingElseIsLeftToTheService) {
  EXPECT_EQ(AnswerPing(Move(), kNowUs), std::nullopt);
  EXPECT_EQ(AnswerPing("", kNowUs), std::nullopt);
  // The Ping's tag, then bytes that do not parse.
  EXPECT_EQ(AnswerPing(std::string("\x1a\x05\x08", 3), kNowUs), std::nullopt);
  // A Ping followed by a Move: the last member of the oneof wins, so the
  // message is a Move, as the service would read it.
  EXPECT_EQ(AnswerPing(Ping(1) + Move(), kNowUs), std::nullopt);
  // A Ping with an empty body is still a Ping.
  ClientMessage empty;
  empty.mutable_ping();
  EXPECT_TRUE(AnswerPing(empty.SerializeAsString(), kNowUs).has_value());
}

}  // namespace
}  // namespace gss::gateway
